//! Raw system calls the cases need beyond the client library
//! (`mcast_unix`), each returning `Result<_, Errno>` so cases compare errnos
//! directly. Sockets are the library's [`Socket`] and well-formed addresses
//! its `Addr` (`mcast::fresh`, `Fam::path`/`abstract_`, badinput's `Env`);
//! cases bind, connect, send to, accept, disconnect, send with credentials or
//! descriptors and use every option, group call and filter through the
//! library (see client.rs and mcast.rs). What stays here, and why it is raw:
//!
//! - [`SockAddr`] ([`SockAddr::of`] an `Addr` in any family number, then
//!   spoiled) with [`addr_op`] / [`addr_op_len`]: foreign or bare families in
//!   `sun_family`, a path followed by junk, explicit address lengths.
//! - [`getsockname`], [`getpeername`], [`recvfrom`], [`accept`], [`recvmsg`]:
//!   the exact addrlen and `sun_family` the kernel reports (0 or 2 for an
//!   unnamed sender, the NUL counted or not), which the differential cases
//!   compare with AF_UNIX and `Addr` normalises away; [`accept`] also takes
//!   any `accept4()` flags.
//! - [`socket`]: any type, protocol and `SOCK_*` flags, including the ones
//!   the family must refuse; [`send`]: flags exactly as given (the library
//!   adds `MSG_NOSIGNAL`), for the bad-input rows; [`shutdown`]: invalid modes.
//! - [`getsockopt_int`] / [`setsockopt_int`], `fcntl_*`, [`ioctl_int`]:
//!   options and requests the library has no method for (`SO_TYPE`,
//!   `SO_ERROR`, `SO_ATTACH_BPF`, `FIONREAD`, ...) and arbitrary values.
//! - [`send_null`] / [`recv_null`]: bad buffer pointers.
//! - [`sendmsg`] / [`recvmsg`] with [`RecvOpts`], [`sendmmsg`], [`recvmmsg`]:
//!   several or no iovecs, no name buffer, short control buffers and
//!   batches, which the library's one-buffer `send_msg`/`recv_msg` do not
//!   offer.
//! - Module load and unload, [`Child`] (fork, setuid), [`SignalHandler`] and
//!   thread signals, [`Epoll`], [`pipe`], [`read()`] / [`write()`],
//!   [`shutdown_raw`] and [`close`] on descriptors owned elsewhere: test
//!   plumbing outside the socket API.
//!
//! [`Errno`] and [`check`] are the ones every test program shares
//! (`tests/support`).

#![allow(dead_code)]

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use mcast_unix::{Addr, SockType, Socket};

pub use test_support::errno::{check, Errno, SysResult};

/// The library's `io::Result` as a `SysResult`, so cases compare errnos.
pub trait IntoSys<T> {
    fn sys(self) -> SysResult<T>;
}

impl<T> IntoSys<T> for std::io::Result<T> {
    fn sys(self) -> SysResult<T> {
        self.map_err(Errno::from)
    }
}

/// The library's socket type for a `SOCK_*` value the tests use.
pub fn kind(ty: i32) -> SockType {
    match ty {
        libc::SOCK_DGRAM => SockType::Dgram,
        libc::SOCK_SEQPACKET => SockType::Seqpacket,
        _ => panic!("no library socket type for {ty}"),
    }
}

/// An owned descriptor from a raw call's return value.
pub fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the call just returned this descriptor and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

pub fn socket(family: i32, ty: i32, protocol: i32) -> SysResult<Socket> {
    // SAFETY: plain syscall.
    let fd = check(unsafe { libc::socket(family, ty, protocol) } as _)?;
    Ok(Socket::from_fd(owned(fd), family).expect("family in range"))
}

pub fn close(fd: impl Into<OwnedFd>) -> SysResult<()> {
    let raw = fd.into().into_raw_fd();
    // SAFETY: we owned the descriptor and give it up here.
    check(unsafe { libc::close(raw) } as _).map(|_| ())
}

pub fn getsockopt_int(fd: &impl AsRawFd, level: i32, opt: i32) -> SysResult<i32> {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: v and len are valid for the call.
    check(unsafe { libc::getsockopt(fd.as_raw_fd(), level, opt, (&mut v as *mut i32).cast(), &mut len) } as _)?;
    Ok(v)
}

pub fn setsockopt_int(fd: &impl AsRawFd, level: i32, opt: i32, v: i32) -> SysResult<()> {
    // SAFETY: v is valid for the call.
    check(unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, opt, (&v as *const i32).cast(), std::mem::size_of::<i32>() as _)
    } as _)
    .map(|_| ())
}

pub fn fcntl_getfl(fd: &impl AsRawFd) -> SysResult<i32> {
    // SAFETY: plain syscall.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) } as _).map(|v| v as i32)
}

pub fn fcntl_getfd(fd: &impl AsRawFd) -> SysResult<i32> {
    // SAFETY: plain syscall.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) } as _).map(|v| v as i32)
}

/// `delete_module(name, O_NONBLOCK)` as busybox rmmod does.
pub fn delete_module(name: &str) -> SysResult<()> {
    let name = CString::new(name).unwrap();
    // SAFETY: name is a valid C string.
    check(unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) }).map(|_| ())
}

/// Unloads a module whose last user just went away: a closed socket of the
/// family is freed (and drops its module reference) one RCU grace period
/// after its close, so `delete_module` may say EAGAIN for a moment. Retries
/// for up to two seconds.
pub fn unload_module(name: &str) -> SysResult<()> {
    let start = std::time::Instant::now();
    loop {
        match delete_module(name) {
            Err(Errno(libc::EAGAIN)) if start.elapsed() < std::time::Duration::from_secs(2) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r,
        }
    }
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

    /// The library's well-formed address `a` with `af` in `sun_family` and
    /// the length the library passes, for cases that then spoil it.
    pub fn of(af: i32, a: &Addr) -> SockAddr {
        let (sun, len) = a.to_raw(af as libc::sa_family_t);
        SockAddr { sun, len }
    }

    pub fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.sun as *const libc::sockaddr_un).cast()
    }

    /// The struct's bytes at the start of a zeroed 512-byte buffer: room
    /// for an address length past `sizeof(struct sockaddr_un)`.
    pub fn padded(&self) -> [u64; 64] {
        let mut buf = [0u64; 64];
        // SAFETY: buf is larger than a sockaddr_un; the struct's bytes are
        // copied into it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.as_ptr().cast::<u8>(),
                buf.as_mut_ptr().cast::<u8>(),
                std::mem::size_of::<libc::sockaddr_un>(),
            )
        };
        buf
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

pub fn accept(l: &Socket, flags: i32) -> SysResult<(Socket, SockAddr)> {
    let mut a = SockAddr::raw(0, &[]);
    a.len = std::mem::size_of::<libc::sockaddr_un>() as _;
    // SAFETY: the buffer is a whole sockaddr_un and len says so.
    let fd = check(unsafe { libc::accept4(l.as_raw_fd(), (&mut a.sun as *mut libc::sockaddr_un).cast(), &mut a.len, flags) } as _)?;
    Ok((Socket::from_fd(owned(fd), l.family()).expect("family in range"), a))
}

fn name_call(fd: &impl AsRawFd, f: unsafe extern "C" fn(i32, *mut libc::sockaddr, *mut libc::socklen_t) -> i32) -> SysResult<SockAddr> {
    let mut a = SockAddr::raw(0, &[]);
    a.len = std::mem::size_of::<libc::sockaddr_un>() as _;
    // SAFETY: the buffer is a whole sockaddr_un and len says so.
    check(unsafe { f(fd.as_raw_fd(), (&mut a.sun as *mut libc::sockaddr_un).cast(), &mut a.len) } as _)?;
    Ok(a)
}

pub fn getsockname(fd: &impl AsRawFd) -> SysResult<SockAddr> {
    name_call(fd, libc::getsockname)
}

pub fn getpeername(fd: &impl AsRawFd) -> SysResult<SockAddr> {
    name_call(fd, libc::getpeername)
}

pub fn send(fd: &impl AsRawFd, data: &[u8], flags: i32) -> SysResult<usize> {
    // SAFETY: data is valid for its length.
    check(unsafe { libc::send(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), flags) } as _).map(|n| n as usize)
}

/// Returned length (may exceed the data with MSG_TRUNC), data, sender.
pub fn recvfrom(fd: &impl AsRawFd, cap: usize, flags: i32) -> SysResult<(usize, Vec<u8>, SockAddr)> {
    let mut buf = vec![0u8; cap];
    let mut a = SockAddr::raw(0, &[]);
    a.len = std::mem::size_of::<libc::sockaddr_un>() as _;
    // SAFETY: buffers are valid for their lengths.
    let n = check(unsafe {
        libc::recvfrom(fd.as_raw_fd(), buf.as_mut_ptr().cast(), cap, flags, (&mut a.sun as *mut libc::sockaddr_un).cast(), &mut a.len)
    } as _)? as usize;
    buf.truncate(n.min(cap));
    Ok((n, buf, a))
}

pub fn shutdown(fd: &impl AsRawFd, how: i32) -> SysResult<()> {
    // SAFETY: plain syscall.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) } as _).map(|_| ())
}

/// poll() one descriptor: returns revents.
pub fn poll(fd: &impl AsRawFd, events: i16, timeout_ms: i32) -> SysResult<i16> {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
    // SAFETY: one valid pollfd.
    check(unsafe { libc::poll(&mut p, 1, timeout_ms) } as _)?;
    Ok(p.revents)
}

pub fn ioctl_int(fd: &impl AsRawFd, req: libc::Ioctl) -> SysResult<i32> {
    let mut v: i32 = 0;
    // SAFETY: v is valid for the call.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), req as _, &mut v) } as _)?;
    Ok(v)
}

/// Turns a `SysResult` into the case's error type with some context.
pub trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T> Ctx<T> for SysResult<T> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e:?}"))
    }
}

/// A call that takes an address.
#[derive(Clone, Copy, Debug)]
pub enum AddrOp {
    Bind,
    Connect,
    /// sendto() of one byte.
    SendTo,
}

/// `op` with the address `a` and its length.
pub fn addr_op(op: AddrOp, fd: &impl AsRawFd, a: &SockAddr) -> SysResult<()> {
    addr_op_len(op, fd, a, a.len)
}

/// `op` with the address `a` but an explicit address length, which may exceed
/// `sizeof(struct sockaddr_un)` (the bytes after the struct are zero).
pub fn addr_op_len(op: AddrOp, fd: &impl AsRawFd, a: &SockAddr, len: libc::socklen_t) -> SysResult<()> {
    let buf = a.padded();
    let len = len.min(std::mem::size_of_val(&buf) as _);
    let p = buf.as_ptr().cast::<libc::sockaddr>();
    // SAFETY: p is valid for `len` bytes (clamped to the buffer above).
    let ret = unsafe {
        match op {
            AddrOp::Bind => libc::bind(fd.as_raw_fd(), p, len) as libc::c_long,
            AddrOp::Connect => libc::connect(fd.as_raw_fd(), p, len) as libc::c_long,
            AddrOp::SendTo => libc::sendto(fd.as_raw_fd(), b"x".as_ptr().cast(), 1, libc::MSG_DONTWAIT, p, len) as libc::c_long,
        }
    };
    check(ret).map(|_| ())
}

/// send() from a NULL buffer of `len` bytes (the kernel must answer EFAULT).
pub fn send_null(fd: &impl AsRawFd, len: usize, flags: i32) -> SysResult<usize> {
    // SAFETY: the kernel checks user pointers; nothing is read in this process.
    check(unsafe { libc::send(fd.as_raw_fd(), std::ptr::null(), len, flags) } as _).map(|n| n as usize)
}

/// recv() into a NULL buffer of `len` bytes (the kernel must answer EFAULT).
pub fn recv_null(fd: &impl AsRawFd, len: usize, flags: i32) -> SysResult<usize> {
    // SAFETY: the kernel checks user pointers; nothing is written in this process.
    check(unsafe { libc::recv(fd.as_raw_fd(), std::ptr::null_mut(), len, flags) } as _).map(|n| n as usize)
}

/// Process credentials as in `struct ucred`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

impl Creds {
    /// The calling process's credentials.
    pub fn mine() -> Creds {
        // SAFETY: plain syscalls without arguments.
        unsafe { Creds { pid: libc::getpid(), uid: libc::getuid(), gid: libc::getgid() } }
    }

    fn from_ucred(u: &libc::ucred) -> Creds {
        Creds { pid: u.pid, uid: u.uid, gid: u.gid }
    }

    /// As the library passes them.
    pub fn ucred(self) -> libc::ucred {
        libc::ucred { pid: self.pid, uid: self.uid, gid: self.gid }
    }
}

impl From<libc::ucred> for Creds {
    fn from(u: libc::ucred) -> Creds {
        Creds::from_ucred(&u)
    }
}

/// sendmsg() gathering `iov`, without a name or ancillary data.
pub fn sendmsg(fd: &impl AsRawFd, iov: &[&[u8]], flags: i32) -> SysResult<usize> {
    let mut iovecs: Vec<libc::iovec> =
        iov.iter().map(|b| libc::iovec { iov_base: b.as_ptr() as *mut _, iov_len: b.len() }).collect();
    // SAFETY: all-zero is a valid msghdr.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    m.msg_iov = iovecs.as_mut_ptr();
    m.msg_iovlen = iovecs.len() as _;
    // SAFETY: every pointer in m is valid for the length given with it.
    check(unsafe { libc::sendmsg(fd.as_raw_fd(), &m, flags) } as _).map(|n| n as usize)
}

/// What recvmsg() returned. Its Debug form leaves out credentials (they
/// differ between runs).
pub struct Received {
    /// The return value (the full length with MSG_TRUNC).
    pub ret: usize,
    /// The bytes received, all iovecs concatenated.
    pub data: Vec<u8>,
    /// The sender's address; `len` is the msg_namelen the kernel returned.
    pub from: SockAddr,
    pub flags: i32,
    pub creds: Vec<Creds>,
    /// Descriptors passed (SCM_RIGHTS), now owned here.
    pub fds: Vec<OwnedFd>,
}

impl fmt::Debug for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ret {} data {:?} from {:?} flags {:#x} creds {}",
            self.ret,
            String::from_utf8_lossy(&self.data),
            self.from,
            self.flags,
            self.creds.len()
        )
    }
}

/// How to call recvmsg().
pub struct RecvOpts<'a> {
    /// Sizes of the iovecs to scatter into.
    pub iov: &'a [usize],
    /// Whether to pass a msg_name buffer (if not, msg_namelen is preset to 77).
    pub name: bool,
    /// Size of the control buffer (0: msg_control NULL).
    pub control: usize,
}

impl RecvOpts<'static> {
    /// One 256-byte buffer, a name buffer and room for credentials and a few descriptors.
    pub const DEFAULT: RecvOpts<'static> = RecvOpts { iov: &[256], name: true, control: 256 };
}

fn parse_control(m: &libc::msghdr, out: &mut Received) {
    if m.msg_control.is_null() {
        return;
    }
    // SAFETY: the kernel filled msg_controllen bytes of the control buffer
    // with well-formed cmsghdrs; the CMSG_* macros stay within it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(m);
        while !c.is_null() {
            if ((*c).cmsg_level, (*c).cmsg_type) == (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) {
                let u: libc::ucred = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                out.creds.push(Creds::from_ucred(&u));
            }
            if ((*c).cmsg_level, (*c).cmsg_type) == (libc::SOL_SOCKET, libc::SCM_RIGHTS) {
                let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<i32>();
                let data = libc::CMSG_DATA(c).cast::<i32>();
                for i in 0..n {
                    // The kernel installed each descriptor for us.
                    out.fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(m, c);
        }
    }
}

pub fn recvmsg(fd: &impl AsRawFd, opts: &RecvOpts, flags: i32) -> SysResult<Received> {
    let total: usize = opts.iov.iter().sum();
    let mut buf = vec![0u8; total];
    let mut iovecs = Vec::new();
    let mut off = 0;
    for &n in opts.iov {
        // SAFETY: off + n <= total.
        iovecs.push(libc::iovec { iov_base: unsafe { buf.as_mut_ptr().add(off) }.cast(), iov_len: n });
        off += n;
    }
    let mut control = vec![0u64; opts.control.div_ceil(8)];
    let mut from = SockAddr::raw(0, &[]);
    // SAFETY: all-zero is a valid msghdr.
    let mut m: libc::msghdr = unsafe { std::mem::zeroed() };
    if opts.name {
        m.msg_name = (&mut from.sun as *mut libc::sockaddr_un).cast();
        m.msg_namelen = std::mem::size_of::<libc::sockaddr_un>() as _;
    } else {
        m.msg_namelen = 77;
    }
    m.msg_iov = iovecs.as_mut_ptr();
    m.msg_iovlen = iovecs.len() as _;
    if opts.control > 0 {
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = opts.control as _;
    }
    // SAFETY: every pointer in m is valid for the length given with it.
    let ret = check(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut m, flags) } as _)? as usize;
    buf.truncate(ret.min(total));
    from.len = m.msg_namelen;
    let mut out = Received { ret, data: buf, from, flags: m.msg_flags, creds: Vec::new(), fds: Vec::new() };
    parse_control(&m, &mut out);
    Ok(out)
}

/// sendmmsg() of `msgs` (data, optional destination): the number sent and each msg_len.
pub fn sendmmsg(fd: &Socket, msgs: &[(&[u8], Option<&Addr>)], flags: i32) -> SysResult<(usize, Vec<u32>)> {
    let names: Vec<_> = msgs.iter().map(|(_, to)| to.map(|a| a.to_raw(fd.family() as libc::sa_family_t))).collect();
    let mut iovecs: Vec<libc::iovec> =
        msgs.iter().map(|(d, _)| libc::iovec { iov_base: d.as_ptr() as *mut _, iov_len: d.len() }).collect();
    let mut hdrs: Vec<libc::mmsghdr> = Vec::new();
    for (i, to) in names.iter().enumerate() {
        // SAFETY: all-zero is a valid mmsghdr.
        let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
        if let Some((sun, len)) = to {
            h.msg_hdr.msg_name = (sun as *const libc::sockaddr_un).cast_mut().cast();
            h.msg_hdr.msg_namelen = *len;
        }
        h.msg_hdr.msg_iov = &mut iovecs[i];
        h.msg_hdr.msg_iovlen = 1;
        hdrs.push(h);
    }
    // SAFETY: each header points at one valid iovec and an optional valid address.
    let n = check(unsafe { libc::sendmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), hdrs.len() as _, flags as _) } as _)? as usize;
    Ok((n, hdrs.iter().map(|h| h.msg_len).collect()))
}

/// recvmmsg() of up to `n` messages of up to `cap` bytes each.
pub fn recvmmsg(fd: &impl AsRawFd, n: usize, cap: usize, flags: i32, timeout_ms: Option<i64>) -> SysResult<Vec<Received>> {
    let mut bufs = vec![vec![0u8; cap]; n];
    let mut names = vec![SockAddr::raw(0, &[]); n];
    let mut iovecs: Vec<libc::iovec> =
        bufs.iter_mut().map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: cap }).collect();
    let mut hdrs: Vec<libc::mmsghdr> = Vec::new();
    for (iov, name) in iovecs.iter_mut().zip(names.iter_mut()) {
        // SAFETY: all-zero is a valid mmsghdr.
        let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
        h.msg_hdr.msg_name = (&mut name.sun as *mut libc::sockaddr_un).cast();
        h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_un>() as _;
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
        hdrs.push(h);
    }
    let mut ts = timeout_ms.map(|ms| libc::timespec { tv_sec: ms / 1000, tv_nsec: (ms % 1000 * 1_000_000) as _ });
    let tsp = ts.as_mut().map_or(std::ptr::null_mut(), |t| t as *mut libc::timespec);
    // SAFETY: each header points at a valid buffer and name; tsp is NULL or valid.
    let got = check(unsafe { libc::recvmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), n as _, flags as _, tsp) } as _)? as usize;
    Ok(hdrs
        .iter()
        .zip(bufs)
        .zip(names)
        .take(got)
        .map(|((h, mut b), mut from)| {
            b.truncate((h.msg_len as usize).min(cap));
            from.len = h.msg_hdr.msg_namelen;
            Received { ret: h.msg_len as usize, data: b, from, flags: h.msg_hdr.msg_flags, creds: Vec::new(), fds: Vec::new() }
        })
        .collect())
}

/// An epoll instance.
pub struct Epoll(OwnedFd);

impl Epoll {
    pub fn new() -> SysResult<Epoll> {
        // SAFETY: plain syscall.
        check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) } as _).map(|fd| Epoll(owned(fd)))
    }

    pub fn add(&self, fd: &impl AsRawFd, events: u32) -> SysResult<()> {
        let mut ev = libc::epoll_event { events, u64: fd.as_raw_fd() as u64 };
        // SAFETY: ev is valid for the call.
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) } as _).map(|_| ())
    }

    /// The events of the ready descriptors (at most 8).
    pub fn wait(&self, timeout_ms: i32) -> SysResult<Vec<u32>> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: evs holds 8 entries.
        let n = check(unsafe { libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), 8, timeout_ms) } as _)? as usize;
        Ok(evs[..n].iter().map(|e| e.events).collect())
    }
}

/// A pipe: (read end, write end), close-on-exec.
pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds holds two ints.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as _)?;
    Ok((owned(fds[0] as _), owned(fds[1] as _)))
}

/// uid and gid of the unprivileged user the permission cases switch to.
pub const NOBODY: u32 = 65534;

/// A forked child process, killed and reaped on drop unless waited for.
pub struct Child {
    pub pid: libc::pid_t,
    reaped: bool,
}

impl Child {
    /// Forks; the child switches to uid/gid NOBODY (with no supplementary
    /// groups) if `unprivileged`, runs `f` and exits with 0 or the errno `f`
    /// returned (254 if switching failed, 255 if `f` panicked). Only call this
    /// while the process has one thread.
    pub fn spawn(unprivileged: bool, f: impl FnOnce() -> SysResult<()>) -> SysResult<Child> {
        // SAFETY: the caller guarantees the process is single-threaded, so the
        // child may allocate; it leaves with _exit and never returns.
        let pid = check(unsafe { libc::fork() } as _)? as libc::pid_t;
        if pid == 0 {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: plain syscalls.
                if unprivileged
                    && unsafe { libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(NOBODY) != 0 || libc::setuid(NOBODY) != 0 }
                {
                    return 254;
                }
                match f() {
                    Ok(()) => 0,
                    Err(Errno(e)) => e,
                }
            }))
            .unwrap_or(255);
            // SAFETY: leaves the child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        Ok(Child { pid, reaped: false })
    }

    /// Waits for the child: the result its closure returned, or a description
    /// of how it failed otherwise.
    pub fn wait(mut self) -> Result<SysResult<()>, String> {
        let mut status = 0;
        // SAFETY: status is valid; pid is our child.
        let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        self.reaped = true;
        if r != self.pid || !libc::WIFEXITED(status) {
            return Err(format!("child did not exit normally (status {status:#x})"));
        }
        match libc::WEXITSTATUS(status) {
            0 => Ok(Ok(())),
            254 => Err("child could not switch to nobody".into()),
            255 => Err("child panicked".into()),
            e => Ok(Err(Errno(e))),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: pid is our unreaped child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// A do-nothing handler for a signal, so that it interrupts blocking calls;
/// the previous disposition comes back on drop.
pub struct SignalHandler {
    sig: i32,
    old: libc::sigaction,
}

impl SignalHandler {
    /// With `restart`, SA_RESTART is set (interrupted calls restart where the kernel allows).
    pub fn install(sig: i32, restart: bool) -> SysResult<SignalHandler> {
        // SAFETY: all-zero is a valid sigaction; the handler is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = if restart { libc::SA_RESTART } else { 0 };
            let mut old: libc::sigaction = std::mem::zeroed();
            check(libc::sigaction(sig, &sa, &mut old) as _)?;
            Ok(SignalHandler { sig, old })
        }
    }
}

impl Drop for SignalHandler {
    fn drop(&mut self) {
        // SAFETY: restores the disposition saved at install.
        unsafe { libc::sigaction(self.sig, &self.old, std::ptr::null_mut()) };
    }
}

/// The calling thread, as a number another thread can signal.
pub fn this_thread() -> usize {
    // SAFETY: plain call.
    unsafe { libc::pthread_self() as usize }
}

/// pthread_kill() a thread obtained with `this_thread` (which must still run).
pub fn signal_thread(thread: usize, sig: i32) -> SysResult<()> {
    // SAFETY: the caller keeps the thread alive.
    match unsafe { libc::pthread_kill(thread as _, sig) } {
        0 => Ok(()),
        e => Err(Errno(e)),
    }
}

/// shutdown() of a descriptor number owned elsewhere (for watchdog threads).
pub fn shutdown_raw(fd: i32, how: i32) -> SysResult<()> {
    // SAFETY: plain syscall; the caller keeps the descriptor open.
    check(unsafe { libc::shutdown(fd, how) } as _).map(|_| ())
}

pub fn write(fd: &impl AsRawFd, data: &[u8]) -> SysResult<usize> {
    // SAFETY: data is valid for its length.
    check(unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) } as _).map(|n| n as usize)
}

pub fn read(fd: &impl AsRawFd, cap: usize) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; cap];
    // SAFETY: buf is valid for cap bytes.
    let n = check(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), cap) } as _)? as usize;
    buf.truncate(n);
    Ok(buf)
}
