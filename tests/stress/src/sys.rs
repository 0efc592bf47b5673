//! Thin wrappers over the syscalls the stress uses. Every call returns
//! `Result<_, Errno>` so the callers can tell expected errnos (EAGAIN,
//! EINTR, ...) from unexpected ones ([`Errno`], shared with the other test
//! programs in `tests/support`).

use mcast_unix::{
    McastUnixMreq, MCAST_UNIX_ADMIT_MEMBER, MCAST_UNIX_CREATE_GROUP, MCAST_UNIX_JOIN_GROUP, MCAST_UNIX_LEAVE_GROUP,
    SOL_MCAST_UNIX,
};
use std::ffi::CString;

pub use test_support::errno::{check, Errno, SysResult};

/// An owned file descriptor, closed on drop.
#[derive(Debug)]
pub struct Fd(pub i32);

impl std::os::fd::AsFd for Fd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the descriptor is ours and stays open as long as `self`.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.0) }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor; nobody uses the number after this.
        unsafe { libc::close(self.0) };
    }
}

pub fn socket(family: i32, ty: i32) -> SysResult<Fd> {
    // SAFETY: plain syscall.
    check(unsafe { libc::socket(family, ty, 0) } as _).map(|fd| Fd(fd as i32))
}

pub fn socketpair(family: i32, ty: i32) -> SysResult<(Fd, Fd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds holds the two ints the call writes.
    check(unsafe { libc::socketpair(family, ty, 0, fds.as_mut_ptr()) } as _)?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// close() with its result (drop ignores it).
pub fn close(fd: Fd) -> SysResult<()> {
    let raw = fd.0;
    std::mem::forget(fd);
    // SAFETY: we owned the descriptor and give it up here.
    check(unsafe { libc::close(raw) } as _).map(|_| ())
}

pub fn setopt(fd: &Fd, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
    // SAFETY: val is valid for its length.
    check(unsafe { libc::setsockopt(fd.0, level, name, val.as_ptr().cast(), val.len() as _) } as _).map(|_| ())
}

pub fn setopt_int(fd: &Fd, level: i32, name: i32, v: i32) -> SysResult<()> {
    setopt(fd, level, name, &v.to_ne_bytes())
}

fn bytes_of<T>(v: &T) -> &[u8] {
    // SAFETY: viewing a plain C struct (no padding we care about) as bytes.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// SO_RCVTIMEO / SO_SNDTIMEO in milliseconds.
pub fn set_timeout(fd: &Fd, opt: i32, ms: u64) -> SysResult<()> {
    let tv = libc::timeval { tv_sec: (ms / 1000) as _, tv_usec: ((ms % 1000) * 1000) as _ };
    setopt(fd, libc::SOL_SOCKET, opt, bytes_of(&tv))
}

/// Both timeouts: every blocking call on the socket ends within `ms`.
pub fn set_timeouts(fd: &Fd, ms: u64) -> SysResult<()> {
    set_timeout(fd, libc::SO_RCVTIMEO, ms)?;
    set_timeout(fd, libc::SO_SNDTIMEO, ms)
}

/// A `struct sockaddr_un` with its length.
#[derive(Clone, Copy)]
pub struct SockAddr {
    pub sun: libc::sockaddr_un,
    pub len: libc::socklen_t,
}

impl SockAddr {
    /// An abstract address: a leading NUL, then `name`.
    pub fn abstract_(af: i32, name: &str) -> SockAddr {
        // SAFETY: all-zero bytes are a valid sockaddr_un.
        let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        sun.sun_family = af as libc::sa_family_t;
        let name = name.as_bytes();
        let n = name.len().min(107);
        for (d, s) in sun.sun_path[1..=n].iter_mut().zip(name) {
            *d = *s as libc::c_char;
        }
        SockAddr { sun, len: (std::mem::size_of::<libc::sa_family_t>() + 1 + n) as _ }
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.sun as *const libc::sockaddr_un).cast()
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

pub fn accept(fd: &Fd, flags: i32) -> SysResult<Fd> {
    // SAFETY: no address buffer is passed (NULL, NULL is allowed).
    check(unsafe { libc::accept4(fd.0, std::ptr::null_mut(), std::ptr::null_mut(), flags) } as _).map(|fd| Fd(fd as i32))
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

/// One received message: the bytes (at most the buffer), recvmsg's return
/// value, msg_flags, and the SO_RXQ_OVFL counter if the kernel attached it.
pub struct Received {
    pub data: Vec<u8>,
    pub ret: usize,
    pub flags: i32,
    pub ovfl: Option<u32>,
}

/// recvmsg() into a buffer of `cap` bytes, with room for ancillary data.
pub fn recvmsg(fd: &Fd, cap: usize, flags: i32) -> SysResult<Received> {
    let mut buf = vec![0u8; cap];
    let mut ctl = [0u64; 16];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: cap };
    // SAFETY: all-zero is a valid msghdr; every pointer set below is valid.
    let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.as_mut_ptr().cast();
    mh.msg_controllen = std::mem::size_of_val(&ctl) as _;
    // SAFETY: mh describes valid buffers.
    let n = check(unsafe { libc::recvmsg(fd.0, &mut mh, flags) } as _)? as usize;
    buf.truncate(n.min(cap));
    let mut ovfl = None;
    // SAFETY: walking the control buffer the kernel filled, with libc's macros,
    // which stay within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&mh);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_RXQ_OVFL {
                ovfl = Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<u32>()));
            }
            c = libc::CMSG_NXTHDR(&mh, c);
        }
    }
    Ok(Received { data: buf, ret: n, flags: mh.msg_flags, ovfl })
}

pub fn shutdown(fd: &Fd, how: i32) -> SysResult<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::shutdown(fd.0, how) } as _).map(|_| ())
}

/// poll() several descriptors for `events`: the revents of each.
pub fn poll(fds: &[&Fd], events: i16, timeout_ms: i32) -> SysResult<Vec<i16>> {
    let mut p: Vec<libc::pollfd> = fds.iter().map(|f| libc::pollfd { fd: f.0, events, revents: 0 }).collect();
    // SAFETY: p holds p.len() valid pollfds.
    check(unsafe { libc::poll(p.as_mut_ptr(), p.len() as _, timeout_ms) } as _)?;
    Ok(p.iter().map(|p| p.revents).collect())
}

fn mreq_opt(fd: &Fd, name: i32, a: &SockAddr, flags: u32) -> SysResult<()> {
    let m = McastUnixMreq { address: a.sun, address_len: a.len, flags };
    setopt(fd, SOL_MCAST_UNIX, name, bytes_of(&m))
}

pub fn create_group(fd: &Fd, a: &SockAddr) -> SysResult<()> {
    mreq_opt(fd, MCAST_UNIX_CREATE_GROUP, a, 0)
}

pub fn join(fd: &Fd, a: &SockAddr, flags: u32) -> SysResult<()> {
    mreq_opt(fd, MCAST_UNIX_JOIN_GROUP, a, flags)
}

pub fn leave(fd: &Fd, a: &SockAddr) -> SysResult<()> {
    mreq_opt(fd, MCAST_UNIX_LEAVE_GROUP, a, 0)
}

pub fn admit(fd: &Fd, flags: u32) -> SysResult<()> {
    setopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_ADMIT_MEMBER, &flags.to_ne_bytes())
}

/// `delete_module(name, O_NONBLOCK)`, as busybox rmmod does.
pub fn delete_module(name: &str) -> SysResult<()> {
    let name = CString::new(name).expect("module name");
    // SAFETY: name is a valid C string.
    check(unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) }).map(|_| ())
}

/// `finit_module(path, params)`.
pub fn load_module(path: &str, params: &str) -> SysResult<()> {
    let file = std::fs::File::open(path).map_err(|e| Errno(e.raw_os_error().unwrap_or(0)))?;
    let params = CString::new(params).expect("module parameters");
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor and the C string are valid for the call.
    check(unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), params.as_ptr(), 0) }).map(|_| ())
}

/// A pipe: (read end, write end), close-on-exec.
pub fn pipe() -> SysResult<(Fd, Fd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds holds two ints.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as _)?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// Writes all of `data` (pipes may take it in pieces).
pub fn write_all(fd: &Fd, mut data: &[u8]) -> SysResult<()> {
    while !data.is_empty() {
        // SAFETY: data is valid for its length.
        match check(unsafe { libc::write(fd.0, data.as_ptr().cast(), data.len()) } as _) {
            Ok(n) => data = &data[n as usize..],
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads up to `cap` bytes, waiting at most `timeout_ms` for the first.
/// Ok(empty) at end of file; EAGAIN on timeout.
pub fn read_timeout(fd: &Fd, cap: usize, timeout_ms: i32) -> SysResult<Vec<u8>> {
    if poll(&[fd], libc::POLLIN, timeout_ms)?[0] == 0 {
        return Err(Errno(libc::EAGAIN));
    }
    let mut buf = vec![0u8; cap];
    // SAFETY: buf is valid for cap bytes.
    let n = check(unsafe { libc::read(fd.0, buf.as_mut_ptr().cast(), cap) } as _)? as usize;
    buf.truncate(n);
    Ok(buf)
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Installs a do-nothing handler for `sig` without SA_RESTART, so that the
/// signal interrupts blocking calls with EINTR instead of restarting them.
pub fn install_eintr_handler(sig: i32) -> SysResult<()> {
    // SAFETY: all-zero is a valid sigaction; the handler is async-signal-safe
    // (it does nothing).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        check(libc::sigaction(sig, &sa, std::ptr::null_mut()) as _).map(|_| ())
    }
}

/// The calling thread, as a number another thread can signal.
pub fn this_thread() -> libc::pthread_t {
    // SAFETY: plain call.
    unsafe { libc::pthread_self() }
}

/// pthread_kill(); the caller guarantees the thread has not exited.
pub fn signal_thread(thread: libc::pthread_t, sig: i32) -> SysResult<()> {
    // SAFETY: the caller keeps the thread alive (see signals::Registry).
    match unsafe { libc::pthread_kill(thread, sig) } {
        0 => Ok(()),
        e => Err(Errno(e)),
    }
}

/// uid and gid of the unprivileged user the forked part switches to.
pub const NOBODY: u32 = 65534;

/// Drops to uid/gid NOBODY without supplementary groups.
pub fn become_nobody() -> SysResult<()> {
    // SAFETY: plain syscalls; the order (groups, gid, uid) keeps the right to
    // change the later ones.
    unsafe {
        check(libc::setgroups(0, std::ptr::null()) as _)?;
        check(libc::setgid(NOBODY) as _)?;
        check(libc::setuid(NOBODY) as _)?;
    }
    Ok(())
}

/// CLOCK_MONOTONIC in milliseconds (for deadlines; Instant would do too,
/// but this one is usable in the forked child without any setup).
pub fn now_ms() -> u64 {
    // SAFETY: all-zero is a valid timespec, filled by the call.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: ts is valid for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Kernel-mode CPU time the calling thread has used, in nanoseconds
/// (getrusage RUSAGE_THREAD): what a task spinning inside a syscall adds
/// to, and a sleeping one does not.
pub fn thread_sys_ns() -> u64 {
    // SAFETY: all-zero is a valid rusage, filled by the call.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is valid for the call.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    ru.ru_stime.tv_sec as u64 * 1_000_000_000 + ru.ru_stime.tv_usec as u64 * 1000
}

/// SO_SNDTIMEO / SO_RCVTIMEO read back, in milliseconds (0: none).
pub fn get_timeout(fd: &Fd, opt: i32) -> SysResult<u64> {
    // SAFETY: all-zero is a valid timeval.
    let mut tv: libc::timeval = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of_val(&tv) as libc::socklen_t;
    // SAFETY: tv and len are valid for the call.
    check(unsafe { libc::getsockopt(fd.0, libc::SOL_SOCKET, opt, (&mut tv as *mut libc::timeval).cast(), &mut len) } as _)?;
    Ok(tv.tv_sec as u64 * 1000 + tv.tv_usec as u64 / 1000)
}

/// The calling thread's id (for /proc/self/task/TID).
pub fn gettid() -> i32 {
    // SAFETY: plain syscall.
    unsafe { libc::gettid() }
}
