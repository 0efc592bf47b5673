//! Thin wrappers over the socket syscalls used by the tests: every call

#![allow(dead_code)]
//! returns `Result<_, Errno>` so cases can compare errnos directly.

use std::ffi::CString;
use std::fmt;

/// An errno value, shown by name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::EINTR => "EINTR",
            libc::EBADF => "EBADF",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::ENOTDIR => "ENOTDIR",
            libc::EINVAL => "EINVAL",
            libc::ENOSPC => "ENOSPC",
            libc::EPIPE => "EPIPE",
            libc::ENAMETOOLONG => "ENAMETOOLONG",
            libc::ENOTSOCK => "ENOTSOCK",
            libc::EDESTADDRREQ => "EDESTADDRREQ",
            libc::EMSGSIZE => "EMSGSIZE",
            libc::EPROTOTYPE => "EPROTOTYPE",
            libc::ENOPROTOOPT => "ENOPROTOOPT",
            libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
            libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::EAFNOSUPPORT => "EAFNOSUPPORT",
            libc::EADDRINUSE => "EADDRINUSE",
            libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
            libc::ENOBUFS => "ENOBUFS",
            libc::EISCONN => "EISCONN",
            libc::ENOTCONN => "ENOTCONN",
            libc::ECONNREFUSED => "ECONNREFUSED",
            libc::ECONNRESET => "ECONNRESET",
            libc::EALREADY => "EALREADY",
            libc::EINPROGRESS => "EINPROGRESS",
            libc::ENOEXEC => "ENOEXEC",
            libc::ESRCH => "ESRCH",
            _ => return write!(f, "errno {}", self.0),
        };
        f.write_str(name)
    }
}

pub type SysResult<T> = Result<T, Errno>;

fn errno() -> Errno {
    Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Turns a libc return value into a result.
pub fn check(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

/// An owned file descriptor, closed on drop.
#[derive(Debug)]
pub struct Fd(pub i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

pub fn socket(family: i32, ty: i32, protocol: i32) -> SysResult<Fd> {
    // SAFETY: plain syscall.
    check(unsafe { libc::socket(family, ty, protocol) } as _).map(|fd| Fd(fd as i32))
}

pub fn close(fd: Fd) -> SysResult<()> {
    let raw = fd.0;
    std::mem::forget(fd);
    // SAFETY: we owned the descriptor and give it up here.
    check(unsafe { libc::close(raw) } as _).map(|_| ())
}

pub fn getsockopt_int(fd: &Fd, level: i32, opt: i32) -> SysResult<i32> {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: v and len are valid for the call.
    check(unsafe { libc::getsockopt(fd.0, level, opt, (&mut v as *mut i32).cast(), &mut len) } as _)?;
    Ok(v)
}

pub fn setsockopt_int(fd: &Fd, level: i32, opt: i32, v: i32) -> SysResult<()> {
    // SAFETY: v is valid for the call.
    check(unsafe {
        libc::setsockopt(fd.0, level, opt, (&v as *const i32).cast(), std::mem::size_of::<i32>() as _)
    } as _)
    .map(|_| ())
}

pub fn fcntl_getfl(fd: &Fd) -> SysResult<i32> {
    // SAFETY: plain syscall.
    check(unsafe { libc::fcntl(fd.0, libc::F_GETFL) } as _).map(|v| v as i32)
}

pub fn fcntl_getfd(fd: &Fd) -> SysResult<i32> {
    // SAFETY: plain syscall.
    check(unsafe { libc::fcntl(fd.0, libc::F_GETFD) } as _).map(|v| v as i32)
}

/// `delete_module(name, O_NONBLOCK)` as busybox rmmod does.
pub fn delete_module(name: &str) -> SysResult<()> {
    let name = CString::new(name).unwrap();
    // SAFETY: name is a valid C string.
    check(unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) }).map(|_| ())
}

/// `finit_module(path, params)`.
pub fn load_module(path: &str, params: &str) -> SysResult<()> {
    let file = std::fs::File::open(path).map_err(|e| Errno(e.raw_os_error().unwrap_or(0)))?;
    let params = CString::new(params).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: the fd and the C string are valid for the call.
    check(unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), params.as_ptr(), 0) })
        .map(|_| ())
}
