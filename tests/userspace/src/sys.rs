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

/// A `struct sockaddr_un` with its length, for any family number.
#[derive(Clone, Copy)]
pub struct SockAddr {
    pub sun: libc::sockaddr_un,
    pub len: libc::socklen_t,
}

impl SockAddr {
    const PATH_OFFSET: usize = std::mem::size_of::<libc::sa_family_t>();

    fn empty(af: i32) -> SockAddr {
        // SAFETY: all-zero bytes are a valid sockaddr_un.
        let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        sun.sun_family = af as libc::sa_family_t;
        SockAddr { sun, len: Self::PATH_OFFSET as _ }
    }

    /// Raw bytes after the family (path or abstract name), `len` = offset + bytes.
    pub fn raw(af: i32, bytes: &[u8]) -> SockAddr {
        let mut a = Self::empty(af);
        for (d, s) in a.sun.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        a.len = (Self::PATH_OFFSET + bytes.len().min(108)) as _;
        a
    }

    /// A pathname address, NUL-terminated as userspace usually passes it.
    pub fn path(af: i32, path: &str) -> SockAddr {
        let mut bytes = path.as_bytes().to_vec();
        bytes.push(0);
        Self::raw(af, &bytes)
    }

    /// An abstract address: a leading NUL, then `name`.
    pub fn abstract_(af: i32, name: &[u8]) -> SockAddr {
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(name);
        Self::raw(af, &bytes)
    }

    /// Only the family: autobind for bind(), disconnect for connect(AF_UNSPEC).
    pub fn family_only(af: i32) -> SockAddr {
        Self::empty(af)
    }

    pub fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.sun as *const libc::sockaddr_un).cast()
    }

    /// The bytes after the family, as returned by the kernel (`len` long).
    pub fn bytes(&self) -> Vec<u8> {
        let n = (self.len as usize).saturating_sub(Self::PATH_OFFSET).min(108);
        self.sun.sun_path[..n].iter().map(|&c| c as u8).collect()
    }

    /// A printable form for observations: family-independent.
    pub fn show(&self) -> String {
        let b = self.bytes();
        match b.first() {
            None => "unnamed".into(),
            Some(0) => format!("@{}", String::from_utf8_lossy(&b[1..])),
            Some(_) => String::from_utf8_lossy(&b).trim_end_matches('\0').to_string(),
        }
    }
}

impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(len {})", self.show(), self.len)
    }
}

pub fn bind(fd: &Fd, a: &SockAddr) -> SysResult<()> {
    // SAFETY: the address is valid for `len` bytes.
    check(unsafe { libc::bind(fd.0, a.as_ptr(), a.len) } as _).map(|_| ())
}

pub fn connect(fd: &Fd, a: &SockAddr) -> SysResult<()> {
    // SAFETY: the address is valid for `len` bytes.
    check(unsafe { libc::connect(fd.0, a.as_ptr(), a.len) } as _).map(|_| ())
}

pub fn listen(fd: &Fd, backlog: i32) -> SysResult<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::listen(fd.0, backlog) } as _).map(|_| ())
}

pub fn accept(fd: &Fd, flags: i32) -> SysResult<(Fd, SockAddr)> {
    let mut a = SockAddr::raw(0, &[]);
    a.len = std::mem::size_of::<libc::sockaddr_un>() as _;
    // SAFETY: the buffer is a whole sockaddr_un and len says so.
    let fd = check(unsafe { libc::accept4(fd.0, (&mut a.sun as *mut libc::sockaddr_un).cast(), &mut a.len, flags) } as _)?;
    Ok((Fd(fd as i32), a))
}

fn name_call(fd: &Fd, f: unsafe extern "C" fn(i32, *mut libc::sockaddr, *mut libc::socklen_t) -> i32) -> SysResult<SockAddr> {
    let mut a = SockAddr::raw(0, &[]);
    a.len = std::mem::size_of::<libc::sockaddr_un>() as _;
    // SAFETY: the buffer is a whole sockaddr_un and len says so.
    check(unsafe { f(fd.0, (&mut a.sun as *mut libc::sockaddr_un).cast(), &mut a.len) } as _)?;
    Ok(a)
}

pub fn getsockname(fd: &Fd) -> SysResult<SockAddr> {
    name_call(fd, libc::getsockname)
}

pub fn getpeername(fd: &Fd) -> SysResult<SockAddr> {
    name_call(fd, libc::getpeername)
}

pub fn send(fd: &Fd, data: &[u8], flags: i32) -> SysResult<usize> {
    // SAFETY: data is valid for its length.
    check(unsafe { libc::send(fd.0, data.as_ptr().cast(), data.len(), flags) } as _).map(|n| n as usize)
}

pub fn sendto(fd: &Fd, data: &[u8], flags: i32, a: &SockAddr) -> SysResult<usize> {
    // SAFETY: data and address are valid for their lengths.
    check(unsafe { libc::sendto(fd.0, data.as_ptr().cast(), data.len(), flags, a.as_ptr(), a.len) } as _)
        .map(|n| n as usize)
}

/// recv into a buffer of `cap` bytes: returns the bytes received.
pub fn recv(fd: &Fd, cap: usize, flags: i32) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; cap];
    // SAFETY: buf is valid for cap bytes.
    let n = check(unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), cap, flags) } as _)? as usize;
    buf.truncate(n.min(cap));
    Ok(buf)
}

/// Returned length (may exceed the data with MSG_TRUNC), data, sender.
pub fn recvfrom(fd: &Fd, cap: usize, flags: i32) -> SysResult<(usize, Vec<u8>, SockAddr)> {
    let mut buf = vec![0u8; cap];
    let mut a = SockAddr::raw(0, &[]);
    a.len = std::mem::size_of::<libc::sockaddr_un>() as _;
    // SAFETY: buffers are valid for their lengths.
    let n = check(unsafe {
        libc::recvfrom(fd.0, buf.as_mut_ptr().cast(), cap, flags, (&mut a.sun as *mut libc::sockaddr_un).cast(), &mut a.len)
    } as _)? as usize;
    buf.truncate(n.min(cap));
    Ok((n, buf, a))
}

pub fn shutdown(fd: &Fd, how: i32) -> SysResult<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::shutdown(fd.0, how) } as _).map(|_| ())
}

/// poll() one descriptor: returns revents.
pub fn poll(fd: &Fd, events: i16, timeout_ms: i32) -> SysResult<i16> {
    let mut p = libc::pollfd { fd: fd.0, events, revents: 0 };
    // SAFETY: one valid pollfd.
    check(unsafe { libc::poll(&mut p, 1, timeout_ms) } as _)?;
    Ok(p.revents)
}

pub fn ioctl_int(fd: &Fd, req: libc::c_ulong) -> SysResult<i32> {
    let mut v: i32 = 0;
    // SAFETY: v is valid for the call.
    check(unsafe { libc::ioctl(fd.0, req as _, &mut v) } as _)?;
    Ok(v)
}
