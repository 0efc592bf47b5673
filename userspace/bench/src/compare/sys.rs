//! The few system calls of the comparison that the client library does not
//! wrap: integer socket options, sendmmsg/recvmmsg, raw sockets of other
//! families (the clocks are bench_support's).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// An AF_UNIX address as sendto takes it: the sockaddr_un and its length.
pub type UnixAddr = (libc::sockaddr_un, libc::socklen_t);

/// A libc return value as a result.
pub fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A new socket.
pub fn socket(family: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain system call.
    let fd = cvt(unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// setsockopt with a value of any plain type.
pub fn setopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` is valid for reads of size_of::<T>() bytes.
    cvt(unsafe {
        libc::setsockopt(fd, level, name, (v as *const T).cast(), std::mem::size_of::<T>() as libc::socklen_t)
    })
    .map(drop)
}

/// setsockopt with an int value.
pub fn setopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    setopt(fd, level, name, &v)
}

/// sendto with a raw address of type `A` (a sockaddr_*), all bytes or an error.
pub fn send_to<A>(fd: RawFd, buf: &[u8], addr: &A, len: libc::socklen_t) -> io::Result<()> {
    // SAFETY: `buf` is valid for reads of its length, `addr` for `len` bytes
    // (len is at most size_of::<A>(), checked by the callers' construction).
    let r = unsafe {
        libc::sendto(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL, (addr as *const A).cast(), len)
    };
    short(r, buf.len())
}

/// send on a connected socket, all bytes or an error.
pub fn send(fd: RawFd, buf: &[u8]) -> io::Result<()> {
    // SAFETY: `buf` is valid for reads of its length.
    let r = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    short(r, buf.len())
}

fn short(r: libc::ssize_t, want: usize) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else if r as usize != want {
        Err(crate::invalid("short send"))
    } else {
        Ok(())
    }
}

/// recv into `buf`: the message's length (cut to the buffer).
pub fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length.
    let r = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    usize::try_from(r).map_err(|_| io::Error::last_os_error())
}

/// recvmmsg with MSG_WAITFORONE: blocks for the first message, then takes
/// whatever else is queued, at most `lens.len()` messages of `slot` bytes
/// each into `buf`. Fills `lens` and returns how many were received.
pub fn recvmmsg(fd: RawFd, buf: &mut [u8], slot: usize, lens: &mut [usize]) -> io::Result<usize> {
    let vlen = lens.len().min(buf.len() / slot);
    let mut iov: Vec<libc::iovec> = buf
        .chunks_exact_mut(slot)
        .take(vlen)
        .map(|c| libc::iovec { iov_base: c.as_mut_ptr().cast(), iov_len: slot })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|v| {
            // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    // SAFETY: `hdrs` holds `vlen` headers whose iovecs point into `buf`,
    // which outlives the call; no address or control buffers are given.
    let r = unsafe {
        libc::recvmmsg(fd, hdrs.as_mut_ptr(), hdrs.len() as _, libc::MSG_WAITFORONE as _, std::ptr::null_mut())
    };
    let n = cvt(r)? as usize;
    for (l, h) in lens.iter_mut().zip(&hdrs[..n]) {
        *l = h.msg_len as usize;
    }
    Ok(n)
}

/// sendmmsg of one buffer to every address of `to`; retries the rest after
/// a partial send. All or an error.
pub fn sendmmsg_all(fd: RawFd, buf: &[u8], to: &[UnixAddr]) -> io::Result<()> {
    let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let mut hdrs: Vec<libc::mmsghdr> = to
        .iter()
        .map(|(a, len)| {
            // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_name = (a as *const libc::sockaddr_un as *mut libc::sockaddr_un).cast();
            h.msg_hdr.msg_namelen = *len;
            h.msg_hdr.msg_iov = &mut iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    let mut done = 0;
    while done < hdrs.len() {
        let rest = &mut hdrs[done..];
        // SAFETY: every header points at an address of `to` and at `iov`,
        // which points at `buf`; all outlive the call, and the kernel only
        // reads through them (and writes msg_len).
        let r = unsafe { libc::sendmmsg(fd, rest.as_mut_ptr(), rest.len() as _, libc::MSG_NOSIGNAL as _) };
        match cvt(r) {
            Ok(k) => done += k as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// if_nametoindex.
pub fn ifindex(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(|_| crate::invalid("interface name"))?;
    // SAFETY: `c` is a NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

/// The "used" memory of the system in bytes: MemTotal - MemFree.
#[allow(dead_code)]
pub fn mem_used() -> io::Result<u64> {
    let s = std::fs::read_to_string("/proc/meminfo")?;
    let field = |name: &str| -> io::Result<u64> {
        s.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
            .ok_or_else(|| crate::invalid("/proc/meminfo"))
    };
    Ok((field("MemTotal:")? - field("MemFree:")?) * 1024)
}
