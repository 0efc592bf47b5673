//! Bad input: one table of invalid calls across every call of the family,
//! each with the errno it must return (contract: the "Bad input" section of
//! Documentation/mcast_unix.md, which is this table as `mcast-tests
//! --print-matrix` prints it; a host test checks that the two are identical).
//!
//! A row is a setup, one call and the errno that call must give; the call
//! succeeding, or failing with another errno, fails the row. Where the family
//! promises AF_UNIX's behaviour the row also runs on AF_UNIX and checks the
//! AF_UNIX column: "same", another errno or "succeeds" for a documented
//! difference, "—" for rows only the family can run (its options and groups).
//!
//! The calls under test go to the kernel with `syscall(2)`, not through the C
//! library: musl's `sendmsg` copies and walks the control buffer itself (and
//! refuses more than 1024 bytes), and its `socket` retries without flags.
//!
//! Rows marked `wedge` send a control buffer whose first `cmsg_len` is 0;
//! `MATRIX_SKIP_WEDGE=1` skips them (a module whose cmsg walk does not
//! advance over such a header spins in the kernel).

use crate::harness::{self, Case, CaseResult};
use mcast_unix::Socket;
use std::os::fd::{AsFd, AsRawFd};
use crate::mcast;
use crate::seqgroups::Bus;
use crate::client;
use crate::sys::{self, AddrOp, IntoSys, Child, Creds, Errno, SockAddr, SysResult};
use mcast_unix::Addr;
use mcast_unix::{
    MCAST_UNIX_ADMIT_MEMBER as ADMIT, MCAST_UNIX_CREATE_GROUP as CREATE, MCAST_UNIX_JOIN_GROUP as JOIN,
    MCAST_UNIX_LEAVE_GROUP as LEAVE, MCAST_UNIX_LOOPBACK, MCAST_UNIX_PEER_FILTER as PEER_FILTER,
    SOL_MCAST_UNIX as SOL,
};
use std::sync::atomic::{AtomicUsize, Ordering};

type R<T> = Result<T, String>;
/// What a row's call returned: only success or the errno is compared.
type Out = SysResult<()>;

const D: i32 = libc::SOCK_DGRAM;
const S: i32 = libc::SOCK_SEQPACKET;
/// A family that is wrong for both AF_UNIX and the module.
const WRONG_AF: i32 = libc::AF_INET;

/// What AF_UNIX answers to a row's call.
#[derive(Clone, Copy)]
pub enum Unix {
    /// The same errno (the row runs on AF_UNIX too).
    Same,
    /// Another errno: a documented difference (checked on AF_UNIX).
    Gives(i32),
    /// The call succeeds on AF_UNIX: a documented difference (checked).
    Succeeds,
    /// Not run on AF_UNIX (the family's own options and groups).
    NotRun,
}

const SAME: Unix = Unix::Same;
const OK: Unix = Unix::Succeeds;
const NA: Unix = Unix::NotRun;

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Row {
    /// The system call (or option) under test.
    pub call: &'static str,
    /// What is wrong with it (markdown).
    pub input: &'static str,
    /// The state it is made in (markdown).
    pub setup: &'static str,
    /// The errno it must return.
    pub expect: i32,
    pub unix: Unix,
    /// Sends a control buffer whose first cmsg_len is 0 (see the module doc).
    pub wedge: bool,
    run: fn(&Env) -> R<Out>,
}

/// Pushes a row: `row!(v, "call", "input", "setup", ERRNO, UNIX, |e| { ... })`.
macro_rules! row {
    ($v:ident, $call:literal, $input:literal, $setup:literal, $errno:ident, $unix:expr, |$e:ident| $body:block) => {
        $v.push(Row {
            call: $call,
            input: $input,
            setup: $setup,
            expect: libc::$errno,
            unix: $unix,
            wedge: false,
            run: |$e: &Env| -> R<Out> { $body },
        });
    };
}

/// Where a row runs: a family, a fresh directory and abstract-name prefix.
pub struct Env {
    pub af: i32,
    dir: String,
    tag: String,
}

impl Env {
    fn new(af: i32) -> R<Env> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tag = format!("bad{}-{}-{n}", if af == libc::AF_UNIX { "u" } else { "m" }, std::process::id());
        let dir = format!("/tmp/{tag}");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {dir}: {e}"))?;
        // Searchable but not writable for the rows that run as nobody.
        set_mode(&dir, 0o755)?;
        Ok(Env { af, dir, tag })
    }

    fn sock(&self, ty: i32) -> R<Socket> {
        sys::socket(self.af, ty, 0).map_err(|e| format!("socket: {e:?}"))
    }

    /// `DIR/name`.
    fn path(&self, name: &str) -> Addr {
        Addr::path(self.fs(name)).expect("short path")
    }

    /// `\0TAG-name`.
    fn abs(&self, name: &str) -> Addr {
        Addr::abstract_(format!("{}-{name}", self.tag)).expect("short name")
    }

    /// `a` as a raw address of the family, for the rows that spoil it.
    fn raw(&self, a: &Addr) -> SockAddr {
        SockAddr::of(self.af, a)
    }

    fn fs(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// An unterminated 108-byte path `DIR/prefix` padded with 'a'.
    fn long_path(&self, prefix: &str) -> Addr {
        let mut p = self.fs(prefix);
        while p.len() < 108 {
            p.push('a');
        }
        Addr::path(p).expect("108 bytes")
    }

    fn bound(&self, ty: i32, a: &Addr) -> R<Socket> {
        let s = self.sock(ty)?;
        s.bind(a).map_err(|e| format!("bind {a}: {e:?}"))?;
        Ok(s)
    }

    /// A seqpacket listener at `\0TAG-l` (backlog 8).
    fn listener(&self) -> R<(Socket, Addr)> {
        let a = self.abs("l");
        let l = self.bound(S, &a)?;
        ctx(l.listen(8).sys(), "listen")?;
        Ok((l, a))
    }

    /// A seqpacket client connected through a listener, and the accepted socket.
    fn seq_pair(&self) -> R<(Socket, Socket)> {
        let (l, a) = self.listener()?;
        let c = self.sock(S)?;
        ctx(c.connect(&a).sys(), "connect")?;
        let (acc, _) = ctx(l.accept().sys(), "accept")?;
        Ok((c, acc))
    }

    /// A datagram receiver bound at `\0TAG-rx` and a sender connected to it.
    fn dgram_pair(&self) -> R<(Socket, Socket)> {
        let rx = self.bound(D, &self.abs("rx"))?;
        let tx = self.sock(D)?;
        ctx(tx.connect(&self.abs("rx")).sys(), "connect")?;
        Ok((tx, rx))
    }

    /// socketpair() of type `ty`.
    fn pair(&self, ty: i32) -> R<(Socket, Socket)> {
        ctx(Socket::pair(self.af, sys::kind(ty)).sys(), "socketpair")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ctx<T>(r: SysResult<T>, what: &str) -> R<T> {
    r.map_err(|e| format!("{what}: {e:?}"))
}

fn set_mode(path: &str, mode: u32) -> R<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("chmod {path}: {e}"))
}

/// An int argument as a syscall argument (sign-extended, as the C ABI passes it).
fn i(x: i32) -> usize {
    x as isize as usize
}

/// A pointer as a syscall argument.
fn p<T>(x: *const T) -> usize {
    x as usize
}

/// A pointer the kernel writes through, as a syscall argument.
fn pm<T>(x: *mut T) -> usize {
    x as usize
}

/// The address of a page that is mapped with no access: the kernel's user
/// copies from or to it fail (EFAULT).
fn unmapped() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: a new anonymous mapping; nothing in this process touches it.
        let m = unsafe {
            libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        assert!(m != libc::MAP_FAILED, "mmap PROT_NONE");
        m as usize
    })
}

/// A system call with up to six arguments, straight to the kernel.
fn sc(nr: libc::c_long, args: &[usize]) -> SysResult<i64> {
    let a = |k: usize| args.get(k).copied().unwrap_or(0);
    // SAFETY: the rows pass pointers that are valid for what they describe,
    // NULL, or the unmapped page: the kernel checks every user pointer and
    // fails with EFAULT; it writes only through valid pointers.
    let r = unsafe { libc::syscall(nr, a(0), a(1), a(2), a(3), a(4), a(5)) };
    sys::check(r)
}

fn out(r: SysResult<i64>) -> R<Out> {
    Ok(r.map(|_| ()))
}

/// A call that may create a descriptor: closed again if it did.
fn out_fd(r: SysResult<i64>) -> R<Out> {
    Ok(r.map(|fd| drop(sys::owned(fd))))
}

fn socket_call(af: i32, ty: i32, proto: i32) -> R<Out> {
    out_fd(sc(libc::SYS_socket, &[i(af), i(ty), i(proto)]))
}

fn socketpair_call(af: i32, ty: i32, proto: i32) -> R<Out> {
    let mut sv = [-1i32; 2];
    let r = sc(libc::SYS_socketpair, &[i(af), i(ty), i(proto), pm(&mut sv)]);
    if r.is_ok() {
        drop((sys::owned(sv[0] as _), sys::owned(sv[1] as _)));
    }
    out(r)
}

/// `op` (sendto: one byte, MSG_DONTWAIT) with an address pointer and length.
fn addr_at(op: AddrOp, fd: &Socket, addr: usize, len: usize) -> R<Out> {
    out(match op {
        AddrOp::Bind => sc(libc::SYS_bind, &[i(fd.as_raw_fd()), addr, len]),
        AddrOp::Connect => sc(libc::SYS_connect, &[i(fd.as_raw_fd()), addr, len]),
        AddrOp::SendTo => sc(libc::SYS_sendto, &[i(fd.as_raw_fd()), p(b"x".as_ptr()), 1, i(libc::MSG_DONTWAIT), addr, len]),
    })
}

/// `op` with the bytes of `a` but the length `len` (which may exceed the
/// struct: the bytes after it are zero; lengths over 128 are refused before
/// anything is read).
fn addr_len(op: AddrOp, fd: &Socket, a: &SockAddr, len: i64) -> R<Out> {
    let buf = a.padded();
    addr_at(op, fd, p(buf.as_ptr()), len as usize)
}

/// `a` with `af` in `sun_family`.
fn with_family(a: &Addr, af: i32) -> SockAddr {
    SockAddr::of(af, a)
}

/// What a sendmsg()/recvmsg() row passes: a one-iovec message whose fields
/// the row then spoils.
struct Hdr {
    data: Vec<u8>,
    iov: libc::iovec,
    ctl: Vec<u64>,
    name: [u64; 32],
    m: libc::msghdr,
}

impl Hdr {
    fn new(len: usize) -> Box<Hdr> {
        // SAFETY: all-zero is a valid msghdr and iovec.
        let mut h = Box::new(Hdr {
            data: vec![b'x'; len],
            iov: unsafe { std::mem::zeroed() },
            ctl: Vec::new(),
            name: [0; 32],
            m: unsafe { std::mem::zeroed() },
        });
        h.iov = libc::iovec { iov_base: h.data.as_mut_ptr().cast(), iov_len: len };
        h.m.msg_iov = &mut h.iov;
        h.m.msg_iovlen = 1;
        h
    }

    /// A control buffer of `len` bytes (zeroed), 8-byte aligned.
    fn control(&mut self, len: usize) -> &mut Self {
        self.ctl = vec![0u64; len.div_ceil(8).max(1)];
        self.m.msg_control = self.ctl.as_mut_ptr().cast();
        self.m.msg_controllen = len as _;
        self
    }

    /// Writes a cmsghdr (64-bit cmsg_len, level, type) and `data` at byte `off`.
    fn cmsg(&mut self, off: usize, cmsg_len: u64, level: i32, ty: i32, data: &[u8]) -> &mut Self {
        let bytes = self.ctl.len() * 8;
        assert!(off + 16 + data.len() <= bytes, "cmsg beyond the control buffer");
        // SAFETY: within the control buffer (checked above).
        unsafe {
            let b = self.ctl.as_mut_ptr().cast::<u8>().add(off);
            std::ptr::copy_nonoverlapping(cmsg_len.to_ne_bytes().as_ptr(), b, 8);
            std::ptr::copy_nonoverlapping(level.to_ne_bytes().as_ptr(), b.add(8), 4);
            std::ptr::copy_nonoverlapping(ty.to_ne_bytes().as_ptr(), b.add(12), 4);
            std::ptr::copy_nonoverlapping(data.as_ptr(), b.add(16), data.len());
        }
        self
    }

    /// msg_name: the bytes of `a` (in a 256-byte buffer), with `len`.
    fn name(&mut self, a: &SockAddr, len: u32) -> &mut Self {
        // SAFETY: the buffer is 256 bytes, larger than a sockaddr_un.
        unsafe {
            std::ptr::copy_nonoverlapping(
                a.as_ptr().cast::<u8>(),
                self.name.as_mut_ptr().cast::<u8>(),
                std::mem::size_of::<libc::sockaddr_un>(),
            )
        };
        self.m.msg_name = self.name.as_mut_ptr().cast();
        self.m.msg_namelen = len;
        self
    }

    fn sendmsg(&mut self, fd: &Socket, flags: i32) -> R<Out> {
        out(sc(libc::SYS_sendmsg, &[i(fd.as_raw_fd()), p(&self.m), i(flags)]))
    }

    fn recvmsg(&mut self, fd: &Socket, flags: i32) -> R<Out> {
        out(sc(libc::SYS_recvmsg, &[i(fd.as_raw_fd()), pm(&mut self.m), i(flags)]))
    }
}

/// A `struct ucred` as cmsg data.
fn ucred(pid: i32, uid: u32, gid: u32) -> Vec<u8> {
    [pid.to_ne_bytes(), uid.to_ne_bytes(), gid.to_ne_bytes()].concat()
}

/// sendmsg() of one byte with explicit SCM_CREDENTIALS.
fn send_creds(fd: &Socket, c: Creds) -> Out {
    fd.send_msg(b"x", None, Some(c.ucred()), &[], libc::MSG_DONTWAIT).sys().map(|_| ())
}

/// Runs `f` in a child as nobody; the child's errno is the row's result.
fn as_nobody(f: impl FnOnce() -> Out) -> R<Out> {
    Child::spawn(true, f).map_err(|e| format!("fork: {e:?}"))?.wait()
}

fn setopt(fd: &Socket, level: i32, name: i32, val: &[u8]) -> R<Out> {
    out(sc(libc::SYS_setsockopt, &[i(fd.as_raw_fd()), i(level), i(name), p(val.as_ptr()), val.len()]))
}

fn setopt_ptr(fd: &Socket, level: i32, name: i32, val: usize, len: i64) -> R<Out> {
    out(sc(libc::SYS_setsockopt, &[i(fd.as_raw_fd()), i(level), i(name), val, len as usize]))
}

fn getopt(fd: &Socket, level: i32, name: i32) -> R<Out> {
    let mut v = [0u8; 128];
    let mut len: u32 = 128;
    out(sc(libc::SYS_getsockopt, &[i(fd.as_raw_fd()), i(level), i(name), pm(v.as_mut_ptr()), pm(&mut len)]))
}

/// The bytes of a `struct mcast_unix_mreq` for `a`, with `address_len` and `flags`.
fn mreq(a: &SockAddr, address_len: u32, flags: u32) -> [u8; 120] {
    let m = mcast_unix::McastUnixMreq { address: a.sun, address_len, flags };
    let mut b = [0u8; 120];
    // SAFETY: McastUnixMreq is the 120-byte uapi struct (checked by the library's test).
    unsafe { std::ptr::copy_nonoverlapping((&m as *const mcast_unix::McastUnixMreq).cast::<u8>(), b.as_mut_ptr(), 120) };
    b
}

fn mreq_opt(fd: &Socket, name: i32, a: &Addr, flags: u32) -> R<Out> {
    Ok(mcast::mreq_opt(fd, name, a, flags))
}

/// A `struct sock_fprog` of `len` instructions at `insns`, as bytes.
fn fprog_bytes(len: u16, insns: usize) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..2].copy_from_slice(&len.to_ne_bytes());
    b[8..].copy_from_slice(&insns.to_ne_bytes());
    b
}

fn insn(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

/// PEER_FILTER with the program `insns` on the accepted socket `fd`.
fn peer_filter(fd: &Socket, insns: &[libc::sock_filter]) -> R<Out> {
    setopt(fd, SOL, PEER_FILTER, &fprog_bytes(insns.len() as u16, p(insns.as_ptr())))
}

fn admit_opt(fd: &Socket, flags: u32) -> R<Out> {
    setopt(fd, SOL, ADMIT, &flags.to_ne_bytes())
}

fn ioctl(fd: &Socket, cmd: libc::Ioctl, arg: usize) -> R<Out> {
    out(sc(libc::SYS_ioctl, &[i(fd.as_raw_fd()), cmd as usize, arg]))
}

fn unwrap_setup(r: R<Out>, what: &str) -> R<()> {
    r?.map_err(|e| format!("{what}: {e:?}"))
}

/// Every row, in table order.
pub fn rows() -> Vec<Row> {
    let mut v = Vec::new();
    socket_rows(&mut v);
    bind_rows(&mut v);
    connect_rows(&mut v);
    send_rows(&mut v);
    sendmsg_rows(&mut v);
    cmsg_rows(&mut v);
    recv_rows(&mut v);
    listen_accept_rows(&mut v);
    misc_rows(&mut v);
    option_rows(&mut v);
    group_rows(&mut v);
    admit_rows(&mut v);
    filter_rows(&mut v);
    v
}

fn socket_rows(v: &mut Vec<Row>) {
    row!(v, "socket", "type `SOCK_STREAM`", "—", ESOCKTNOSUPPORT, OK, |e| { socket_call(e.af, libc::SOCK_STREAM, 0) });
    row!(v, "socket", "type `SOCK_RAW`", "—", ESOCKTNOSUPPORT, OK, |e| { socket_call(e.af, libc::SOCK_RAW, 0) });
    row!(v, "socket", "type `SOCK_RDM`", "—", ESOCKTNOSUPPORT, SAME, |e| { socket_call(e.af, libc::SOCK_RDM, 0) });
    row!(v, "socket", "type `SOCK_PACKET` (10)", "—", ESOCKTNOSUPPORT, SAME, |e| { socket_call(e.af, 10, 0) });
    row!(v, "socket", "type 0", "—", ESOCKTNOSUPPORT, SAME, |e| { socket_call(e.af, 0, 0) });
    row!(v, "socket", "type 11 (`SOCK_MAX`)", "—", EINVAL, SAME, |e| { socket_call(e.af, 11, 0) });
    row!(v, "socket", "unknown type flag 0x100", "—", EINVAL, SAME, |e| { socket_call(e.af, D | 0x100, 0) });
    row!(v, "socket", "protocol 1 (`PF_UNIX`)", "—", EPROTONOSUPPORT, OK, |e| { socket_call(e.af, D, 1) });
    row!(v, "socket", "protocol 2", "—", EPROTONOSUPPORT, SAME, |e| { socket_call(e.af, D, 2) });
    row!(v, "socket", "protocol −1, `SOCK_SEQPACKET`", "—", EPROTONOSUPPORT, SAME, |e| { socket_call(e.af, S, -1) });
    row!(v, "socket", "protocol 7 and type `SOCK_STREAM` (the protocol is checked first)", "—", EPROTONOSUPPORT, SAME, |e| {
        socket_call(e.af, libc::SOCK_STREAM, 7)
    });
    row!(v, "socketpair", "type `SOCK_STREAM`", "—", ESOCKTNOSUPPORT, OK, |e| { socketpair_call(e.af, libc::SOCK_STREAM, 0) });
    row!(v, "socketpair", "protocol 2", "—", EPROTONOSUPPORT, SAME, |e| { socketpair_call(e.af, D, 2) });
    row!(v, "socketpair", "`sv` unmapped", "—", EFAULT, SAME, |e| {
        out(sc(libc::SYS_socketpair, &[i(e.af), i(S), 0, unmapped()]))
    });
}

fn bind_rows(v: &mut Vec<Row>) {
    row!(v, "bind", "addrlen 0", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::Bind, &e.sock(D)?, &e.raw(&e.path("s")), 0) });
    row!(v, "bind", "addrlen 1", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::Bind, &e.sock(D)?, &e.raw(&e.path("s")), 1) });
    row!(v, "bind", "addrlen 2, `sun_family` `AF_INET`", "unbound dgram socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::Bind, &e.sock(D)?, &with_family(&e.path("s"), WRONG_AF), 2)
    });
    row!(v, "bind", "addrlen 2, `sun_family` `AF_UNSPEC`", "unbound seqpacket socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::Bind, &e.sock(S)?, &with_family(&e.path("s"), libc::AF_UNSPEC), 2)
    });
    row!(v, "bind", "addrlen 3 (path `x`), `sun_family` `AF_INET`", "unbound dgram socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::Bind, &e.sock(D)?, &with_family(&Addr::path("x").unwrap(), WRONG_AF), 3)
    });
    row!(v, "bind", "addrlen 110, `sun_family` `AF_INET`", "unbound dgram socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::Bind, &e.sock(D)?, &with_family(&e.path("s"), WRONG_AF), 110)
    });
    row!(v, "bind", "addrlen 111", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::Bind, &e.sock(D)?, &e.raw(&e.path("s")), 111) });
    row!(v, "bind", "addrlen 128", "unbound seqpacket socket", EINVAL, SAME, |e| { addr_len(AddrOp::Bind, &e.sock(S)?, &e.raw(&e.path("s")), 128) });
    row!(v, "bind", "addrlen 129", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::Bind, &e.sock(D)?, &e.raw(&e.path("s")), 129) });
    row!(v, "bind", "addrlen −1", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::Bind, &e.sock(D)?, &e.raw(&e.path("s")), 0xffff_ffff) });
    row!(v, "bind", "addrlen 0x7fffffff", "unbound dgram socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::Bind, &e.sock(D)?, &e.raw(&e.path("s")), 0x7fff_ffff)
    });
    row!(v, "bind", "address NULL, addrlen 16", "unbound dgram socket", EFAULT, SAME, |e| { addr_at(AddrOp::Bind, &e.sock(D)?, 0, 16) });
    row!(v, "bind", "address unmapped, addrlen 110", "unbound seqpacket socket", EFAULT, SAME, |e| {
        addr_at(AddrOp::Bind, &e.sock(S)?, unmapped(), 110)
    });
    row!(v, "bind", "path in a missing directory", "unbound dgram socket", ENOENT, SAME, |e| {
        Ok(e.sock(D)?.bind(&e.path("missing/s")).sys())
    });
    row!(v, "bind", "path under a regular file", "unbound seqpacket socket", ENOTDIR, SAME, |e| {
        std::fs::write(e.fs("file"), b"x").map_err(|x| x.to_string())?;
        Ok(e.sock(S)?.bind(&e.path("file/s")).sys())
    });
    row!(v, "bind", "path where a regular file exists", "unbound dgram socket", EADDRINUSE, SAME, |e| {
        std::fs::write(e.fs("file"), b"x").map_err(|x| x.to_string())?;
        Ok(e.sock(D)?.bind(&e.path("file")).sys())
    });
    row!(v, "bind", "path where a directory exists", "unbound seqpacket socket", EADDRINUSE, SAME, |e| {
        std::fs::create_dir(e.fs("dir")).map_err(|x| x.to_string())?;
        Ok(e.sock(S)?.bind(&e.path("dir")).sys())
    });
    row!(v, "bind", "path of a bound socket", "unbound dgram socket; another bound to the path", EADDRINUSE, SAME, |e| {
        let _other = e.bound(D, &e.path("s"))?;
        Ok(e.sock(D)?.bind(&e.path("s")).sys())
    });
    row!(v, "bind", "unterminated 108-byte path in a missing directory", "unbound dgram socket", ENOENT, SAME, |e| {
        Ok(e.sock(D)?.bind(&e.long_path("missing/")).sys())
    });
    row!(v, "bind", "unterminated 108-byte path, bound by another socket", "unbound dgram socket; another bound to the path", EADDRINUSE, SAME, |e| {
        let _other = e.bound(D, &e.long_path("x"))?;
        Ok(e.sock(D)?.bind(&e.long_path("x")).sys())
    });
    row!(v, "bind", "abstract name taken", "unbound dgram socket; another dgram socket holds the name", EADDRINUSE, SAME, |e| {
        let _other = e.bound(D, &e.abs("n"))?;
        Ok(e.sock(D)?.bind(&e.abs("n")).sys())
    });
    row!(v, "bind", "abstract name taken", "unbound seqpacket socket; another seqpacket socket holds the name", EADDRINUSE, SAME, |e| {
        let _other = e.bound(S, &e.abs("n"))?;
        Ok(e.sock(S)?.bind(&e.abs("n")).sys())
    });
    row!(v, "bind", "a second path", "dgram socket bound to a path", EINVAL, SAME, |e| {
        Ok(e.bound(D, &e.path("first"))?.bind(&e.path("second")).sys())
    });
    row!(v, "bind", "a second abstract name", "seqpacket socket bound to an abstract name", EINVAL, SAME, |e| {
        Ok(e.bound(S, &e.abs("first"))?.bind(&e.abs("second")).sys())
    });
    row!(v, "bind", "a path that exists", "dgram socket bound to an abstract name", EADDRINUSE, SAME, |e| {
        std::fs::write(e.fs("file"), b"x").map_err(|x| x.to_string())?;
        Ok(e.bound(D, &e.abs("first"))?.bind(&e.path("file")).sys())
    });
    row!(v, "bind", "a free path", "listening seqpacket socket", EINVAL, SAME, |e| {
        let (l, _) = e.listener()?;
        Ok(l.bind(&e.path("s")).sys())
    });
    row!(v, "bind", "a free abstract name", "accepted seqpacket socket (it has the listener's address)", EINVAL, SAME, |e| {
        let (_c, acc) = e.seq_pair()?;
        Ok(acc.bind(&e.abs("free")).sys())
    });
    row!(v, "bind", "a free path", "owner of a datagram group", EINVAL, NA, |e| {
        let (owner, _) = mcast::dgram_group(e.af);
        Ok(owner.bind(&e.path("s")).sys())
    });
    row!(v, "bind", "path in a directory the caller cannot write", "unbound dgram socket, run as nobody", EACCES, SAME, |e| {
        let (af, a) = (e.af, e.path("s"));
        as_nobody(move || sys::socket(af, D, 0)?.bind(&a).sys())
    });
}

fn connect_rows(v: &mut Vec<Row>) {
    row!(v, "connect", "addrlen 0", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::Connect, &e.sock(D)?, &e.raw(&e.abs("x")), 0) });
    row!(v, "connect", "addrlen 1", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::Connect, &e.sock(D)?, &e.raw(&e.abs("x")), 1) });
    row!(v, "connect", "addrlen 2 (the family only)", "unbound dgram socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::Connect, &e.sock(D)?, &e.raw(&Addr::unnamed()), 2)
    });
    row!(v, "connect", "addrlen 2 (the family only)", "unbound seqpacket socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::Connect, &e.sock(S)?, &e.raw(&Addr::unnamed()), 2)
    });
    row!(v, "connect", "`sun_family` `AF_UNSPEC`, addrlen 110", "seqpacket socket; a listener", EINVAL, SAME, |e| {
        let (_l, a) = e.listener()?;
        addr_len(AddrOp::Connect, &e.sock(S)?, &with_family(&a, libc::AF_UNSPEC), 110)
    });
    row!(v, "connect", "`sun_family` `AF_INET`, addrlen 110", "dgram socket; a bound receiver", EINVAL, SAME, |e| {
        let _rx = e.bound(D, &e.abs("rx"))?;
        addr_len(AddrOp::Connect, &e.sock(D)?, &with_family(&e.abs("rx"), WRONG_AF), 110)
    });
    row!(v, "connect", "addrlen 111", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::Connect, &e.sock(D)?, &e.raw(&e.abs("x")), 111) });
    row!(v, "connect", "addrlen 129", "unbound seqpacket socket", EINVAL, SAME, |e| { addr_len(AddrOp::Connect, &e.sock(S)?, &e.raw(&e.abs("x")), 129) });
    row!(v, "connect", "addrlen −1", "unbound seqpacket socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::Connect, &e.sock(S)?, &e.raw(&e.abs("x")), 0xffff_ffff)
    });
    row!(v, "connect", "address NULL, addrlen 110", "unbound dgram socket", EFAULT, SAME, |e| { addr_at(AddrOp::Connect, &e.sock(D)?, 0, 110) });
    row!(v, "connect", "address unmapped, addrlen 16", "unbound seqpacket socket", EFAULT, SAME, |e| {
        addr_at(AddrOp::Connect, &e.sock(S)?, unmapped(), 16)
    });
    row!(v, "connect", "missing path", "unbound dgram socket", ENOENT, SAME, |e| { Ok(e.sock(D)?.connect(&e.path("missing")).sys()) });
    row!(v, "connect", "path in a missing directory", "unbound seqpacket socket", ENOENT, SAME, |e| {
        Ok(e.sock(S)?.connect(&e.path("missing/s")).sys())
    });
    row!(v, "connect", "path of a regular file", "unbound dgram socket", ECONNREFUSED, SAME, |e| {
        std::fs::write(e.fs("file"), b"x").map_err(|x| x.to_string())?;
        Ok(e.sock(D)?.connect(&e.path("file")).sys())
    });
    row!(v, "connect", "abstract name nobody holds", "unbound dgram socket", ECONNREFUSED, SAME, |e| {
        Ok(e.sock(D)?.connect(&e.abs("nobody")).sys())
    });
    row!(v, "connect", "abstract name held only by a dgram socket", "unbound seqpacket socket", ECONNREFUSED, SAME, |e| {
        let _d = e.bound(D, &e.abs("n"))?;
        Ok(e.sock(S)?.connect(&e.abs("n")).sys())
    });
    row!(v, "connect", "path bound by a dgram socket", "unbound seqpacket socket", EPROTOTYPE, SAME, |e| {
        let _d = e.bound(D, &e.path("d"))?;
        Ok(e.sock(S)?.connect(&e.path("d")).sys())
    });
    row!(v, "connect", "path bound by a seqpacket socket", "unbound dgram socket", EPROTOTYPE, SAME, |e| {
        let _s = e.bound(S, &e.path("s"))?;
        Ok(e.sock(D)?.connect(&e.path("s")).sys())
    });
    row!(v, "connect", "bound socket that is not listening", "unbound seqpacket socket", ECONNREFUSED, SAME, |e| {
        let _s = e.bound(S, &e.abs("s"))?;
        Ok(e.sock(S)?.connect(&e.abs("s")).sys())
    });
    row!(v, "connect", "listener shut down for reading", "unbound seqpacket socket", ECONNREFUSED, SAME, |e| {
        let (l, a) = e.listener()?;
        ctx(l.shutdown(std::net::Shutdown::Read).sys(), "shutdown")?;
        Ok(e.sock(S)?.connect(&a).sys())
    });
    row!(v, "connect", "the listener again", "connected seqpacket client", EISCONN, SAME, |e| {
        let (l, a) = e.listener()?;
        let c = e.sock(S)?;
        ctx(c.connect(&a).sys(), "connect")?;
        let _acc = ctx(l.accept().sys(), "accept")?;
        Ok(c.connect(&a).sys())
    });
    row!(v, "connect", "another listener", "listening seqpacket socket", EINVAL, SAME, |e| {
        let (_l, a) = e.listener()?;
        let me = e.bound(S, &e.abs("me"))?;
        ctx(me.listen(1).sys(), "listen")?;
        Ok(me.connect(&a).sys())
    });
    row!(v, "connect", "dgram socket connected elsewhere", "unbound dgram socket", EPERM, SAME, |e| {
        let rx = e.bound(D, &e.abs("rx"))?;
        let _o = e.bound(D, &e.abs("o"))?;
        ctx(rx.connect(&e.abs("o")).sys(), "connect rx")?;
        Ok(e.sock(D)?.connect(&e.abs("rx")).sys())
    });
    row!(v, "connect", "socket inode without write permission", "seqpacket listener at a path (mode 0755); client runs as nobody", EACCES, SAME, |e| {
        let l = e.bound(S, &e.path("l"))?;
        ctx(l.listen(1).sys(), "listen")?;
        set_mode(&e.fs("l"), 0o755)?;
        let (af, a) = (e.af, e.path("l"));
        as_nobody(move || sys::socket(af, S, 0)?.connect(&a).sys())
    });
}

fn send_rows(v: &mut Vec<Row>) {
    row!(v, "sendto", "addrlen 1", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::SendTo, &e.sock(D)?, &e.raw(&e.abs("x")), 1) });
    row!(v, "sendto", "addrlen 2 (the family only)", "unbound dgram socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::SendTo, &e.sock(D)?, &e.raw(&Addr::unnamed()), 2)
    });
    row!(v, "sendto", "addrlen 111", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::SendTo, &e.sock(D)?, &e.raw(&e.abs("x")), 111) });
    row!(v, "sendto", "addrlen 129", "unbound dgram socket", EINVAL, SAME, |e| { addr_len(AddrOp::SendTo, &e.sock(D)?, &e.raw(&e.abs("x")), 129) });
    row!(v, "sendto", "addrlen −1", "unbound dgram socket", EINVAL, SAME, |e| {
        addr_len(AddrOp::SendTo, &e.sock(D)?, &e.raw(&e.abs("x")), 0xffff_ffff)
    });
    row!(v, "sendto", "`sun_family` `AF_INET`", "unbound dgram socket; a bound receiver", EINVAL, SAME, |e| {
        let _rx = e.bound(D, &e.abs("rx"))?;
        let a = e.abs("rx");
        addr_len(AddrOp::SendTo, &e.sock(D)?, &with_family(&a, WRONG_AF), e.raw(&a).len as i64)
    });
    row!(v, "sendto", "address unmapped, addrlen 110", "unbound dgram socket", EFAULT, SAME, |e| {
        addr_at(AddrOp::SendTo, &e.sock(D)?, unmapped(), 110)
    });
    row!(v, "sendto", "abstract name nobody holds", "unbound dgram socket", ECONNREFUSED, SAME, |e| {
        Ok(e.sock(D)?.send_to(b"x", &e.abs("nobody")).sys().map(|_| ()))
    });
    row!(v, "sendto", "missing path", "unbound dgram socket", ENOENT, SAME, |e| {
        Ok(e.sock(D)?.send_to(b"x", &e.path("missing")).sys().map(|_| ()))
    });
    row!(v, "sendto", "address given, addrlen 0", "unconnected dgram socket", ENOTCONN, SAME, |e| {
        addr_len(AddrOp::SendTo, &e.sock(D)?, &e.raw(&e.abs("x")), 0)
    });
    row!(v, "sendto", "a receiver connected elsewhere", "unbound dgram socket", EPERM, SAME, |e| {
        let rx = e.bound(D, &e.abs("rx"))?;
        let _o = e.bound(D, &e.abs("o"))?;
        ctx(rx.connect(&e.abs("o")).sys(), "connect rx")?;
        Ok(e.sock(D)?.send_to_with_flags(b"x", &e.abs("rx"), libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "sendto", "a receiver that shut down reading", "unbound dgram socket", EPIPE, SAME, |e| {
        let rx = e.bound(D, &e.abs("rx"))?;
        ctx(rx.shutdown(std::net::Shutdown::Read).sys(), "shutdown")?;
        Ok(e.sock(D)?.send_to_with_flags(b"x", &e.abs("rx"), libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "sendto", "an address", "unconnected seqpacket socket; a listener", ENOTCONN, SAME, |e| {
        let (_l, a) = e.listener()?;
        Ok(e.sock(S)?.send_to_with_flags(b"x", &a, libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "send", "no destination", "unconnected dgram socket", ENOTCONN, SAME, |e| {
        Ok(sys::send(&e.sock(D)?, b"x", libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "no connection", "unconnected seqpacket socket", ENOTCONN, SAME, |e| {
        Ok(sys::send(&e.sock(S)?, b"x", libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "no connection", "listening seqpacket socket", ENOTCONN, SAME, |e| {
        Ok(sys::send(&e.listener()?.0, b"x", libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "after `SHUT_WR`", "connected dgram socket", EPIPE, SAME, |e| {
        let (tx, _rx) = e.dgram_pair()?;
        ctx(tx.shutdown(std::net::Shutdown::Write).sys(), "shutdown")?;
        Ok(sys::send(&tx, b"x", libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL).map(|_| ()))
    });
    row!(v, "send", "after `SHUT_WR`", "connected seqpacket socket", EPIPE, SAME, |e| {
        let (c, _acc) = e.seq_pair()?;
        ctx(c.shutdown(std::net::Shutdown::Write).sys(), "shutdown")?;
        Ok(sys::send(&c, b"x", libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL).map(|_| ()))
    });
    row!(v, "send", "the other end closed", "connected seqpacket socket", EPIPE, SAME, |e| {
        let (c, acc) = e.seq_pair()?;
        drop(acc);
        Ok(sys::send(&c, b"x", libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL).map(|_| ()))
    });
    row!(v, "send", "the other end closed with unread messages", "connected seqpacket socket", ECONNRESET, SAME, |e| {
        let (c, acc) = e.seq_pair()?;
        ctx(sys::send(&c, b"unread", 0), "send")?;
        drop(acc);
        Ok(sys::send(&c, b"x", libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL).map(|_| ()))
    });
    row!(v, "send", "flag `MSG_OOB`", "connected dgram socket", EOPNOTSUPP, SAME, |e| {
        Ok(sys::send(&e.dgram_pair()?.0, b"x", libc::MSG_OOB | libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "flag `MSG_OOB`", "connected seqpacket socket", EOPNOTSUPP, SAME, |e| {
        Ok(sys::send(&e.seq_pair()?.0, b"x", libc::MSG_OOB | libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "larger than `SO_SNDBUF` − 32", "connected dgram socket", EMSGSIZE, SAME, |e| {
        let (tx, _rx) = e.dgram_pair()?;
        let sndbuf = ctx(tx.send_buffer_size().sys(), "SO_SNDBUF")? as usize;
        Ok(sys::send(&tx, &vec![0u8; sndbuf - 31], libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "buffer NULL, length 10", "connected dgram socket", EFAULT, SAME, |e| {
        Ok(sys::send_null(&e.dgram_pair()?.0, 10, libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "buffer unmapped, length 10", "connected seqpacket socket", EFAULT, SAME, |e| {
        let (c, _acc) = e.seq_pair()?;
        out(sc(libc::SYS_sendto, &[i(c.as_raw_fd()), unmapped(), 10, i(libc::MSG_DONTWAIT), 0, 0]))
    });
}

fn sendmsg_rows(v: &mut Vec<Row>) {
    row!(v, "sendmsg", "`iov_base` unmapped", "connected dgram socket", EFAULT, SAME, |e| {
        let mut h = Hdr::new(8);
        h.iov.iov_base = unmapped() as *mut _;
        h.sendmsg(&e.dgram_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`msg_iov` NULL, `msg_iovlen` 1", "connected seqpacket socket", EFAULT, SAME, |e| {
        let mut h = Hdr::new(8);
        h.m.msg_iov = std::ptr::null_mut();
        h.sendmsg(&e.seq_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`msg_iovlen` 1025 (> `UIO_MAXIOV`)", "connected dgram socket", EMSGSIZE, SAME, |e| {
        let mut h = Hdr::new(8);
        h.m.msg_iovlen = 1025;
        h.sendmsg(&e.dgram_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`msg_name` unmapped, `msg_namelen` 110", "unbound dgram socket", EFAULT, SAME, |e| {
        let mut h = Hdr::new(1);
        h.m.msg_name = unmapped() as *mut _;
        h.m.msg_namelen = 110;
        h.sendmsg(&e.sock(D)?, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`msg_namelen` 200 (the kernel reads 128)", "unbound dgram socket; a bound receiver", EINVAL, SAME, |e| {
        let _rx = e.bound(D, &e.abs("rx"))?;
        let mut h = Hdr::new(1);
        h.name(&e.raw(&e.abs("rx")), 200);
        h.sendmsg(&e.sock(D)?, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`msg_namelen` −1", "unbound dgram socket", EINVAL, SAME, |e| {
        let mut h = Hdr::new(1);
        h.name(&e.raw(&e.abs("rx")), u32::MAX);
        h.sendmsg(&e.sock(D)?, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`msg_control` NULL, `msg_controllen` 32", "connected dgram socket", EFAULT, SAME, |e| {
        let mut h = Hdr::new(1);
        h.control(32);
        h.m.msg_control = std::ptr::null_mut();
        h.sendmsg(&e.dgram_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`msg_control` unmapped, `msg_controllen` 64", "connected seqpacket socket", EFAULT, SAME, |e| {
        let mut h = Hdr::new(1);
        h.control(64);
        h.m.msg_control = unmapped() as *mut _;
        h.sendmsg(&e.seq_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`msg_controllen` 0x80000000 (> `INT_MAX`)", "connected dgram socket", ENOBUFS, SAME, |e| {
        let mut h = Hdr::new(1);
        h.control(16);
        h.m.msg_controllen = 0x8000_0000;
        h.sendmsg(&e.dgram_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmmsg", "`msgvec` unmapped", "connected dgram socket", EFAULT, SAME, |e| {
        out(sc(libc::SYS_sendmmsg, &[i(e.dgram_pair()?.0 .as_raw_fd()), unmapped(), 1, 0]))
    });
}

/// A control buffer of 32 zero bytes: its first cmsg_len is 0.
fn zeroed_control(fd: &Socket) -> R<Out> {
    Hdr::new(1).control(32).sendmsg(fd, libc::MSG_DONTWAIT)
}

fn cmsg_rows(v: &mut Vec<Row>) {
    row!(v, "sendmsg", "control buffer of 32 zero bytes (`cmsg_len` 0)", "connected dgram socket", EINVAL, SAME, |e| {
        zeroed_control(&e.dgram_pair()?.0)
    });
    v.last_mut().expect("row").wedge = true;
    row!(v, "sendmsg", "control buffer of 32 zero bytes (`cmsg_len` 0)", "connected seqpacket socket", EINVAL, SAME, |e| {
        zeroed_control(&e.seq_pair()?.0)
    });
    v.last_mut().expect("row").wedge = true;
    row!(v, "sendmsg", "`cmsg_len` 12 (< `sizeof(struct cmsghdr)`), `msg_controllen` 16", "connected dgram socket", EINVAL, SAME, |e| {
        Hdr::new(1).control(16).cmsg(0, 12, libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[]).sendmsg(&e.dgram_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`cmsg_len` 64 > `msg_controllen` 24", "connected seqpacket socket", EINVAL, SAME, |e| {
        Hdr::new(1).control(24).cmsg(0, 64, libc::SOL_SOCKET, 99, &[]).sendmsg(&e.seq_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "unknown `SOL_SOCKET` cmsg type 99", "connected dgram socket", EINVAL, SAME, |e| {
        Hdr::new(1).control(24).cmsg(0, 20, libc::SOL_SOCKET, 99, &[0; 4]).sendmsg(&e.dgram_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "unknown `SOL_SOCKET` cmsg type 99", "connected seqpacket socket", EINVAL, SAME, |e| {
        Hdr::new(1).control(24).cmsg(0, 20, libc::SOL_SOCKET, 99, &[0; 4]).sendmsg(&e.seq_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "unknown `SOL_SOCKET` cmsg type 99 and no destination (ancillary data is checked first)", "unconnected dgram socket", EINVAL, SAME, |e| {
        Hdr::new(1).control(24).cmsg(0, 20, libc::SOL_SOCKET, 99, &[0; 4]).sendmsg(&e.sock(D)?, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`SCM_RIGHTS` passing a socket of the family", "connected dgram socket", EOPNOTSUPP, OK, |e| {
        let (tx, _rx) = e.dgram_pair()?;
        let other = e.sock(D)?;
        Ok(tx.send_msg(b"x", None, None, &[other.as_fd()], libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "sendmsg", "`SCM_RIGHTS` passing the sending socket itself", "connected seqpacket socket", EOPNOTSUPP, OK, |e| {
        let (c, _acc) = e.seq_pair()?;
        Ok(c.send_msg(b"x", None, None, &[c.as_fd()], libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "sendmsg", "`SCM_RIGHTS` passing an AF_UNIX socket", "connected dgram socket", EOPNOTSUPP, OK, |e| {
        let (tx, _rx) = e.dgram_pair()?;
        let (u, _u2) = ctx(std::os::unix::net::UnixDatagram::pair().sys(), "socketpair")?;
        Ok(tx.send_msg(b"x", None, None, &[u.as_fd()], libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "sendmsg", "`SCM_RIGHTS` with 254 descriptors (> `SCM_MAX_FD`)", "connected dgram socket", EINVAL, SAME, |e| {
        let (tx, _rx) = e.dgram_pair()?;
        let (r, _w) = ctx(sys::pipe(), "pipe")?;
        let fds: Vec<_> = (0..254).map(|_| r.as_fd()).collect();
        Ok(tx.send_msg(b"x", None, None, &fds, libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "sendmsg", "`SCM_RIGHTS` with descriptor −2", "connected seqpacket socket", EBADF, SAME, |e| {
        let (c, _acc) = e.seq_pair()?;
        // SAFETY: the number is only passed to the kernel (−1 cannot be a
        // BorrowedFd).
        let bad = unsafe { std::os::fd::BorrowedFd::borrow_raw(-2) };
        Ok(c.send_msg(b"x", None, None, &[bad], libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "sendmsg", "`SCM_CREDENTIALS` with `cmsg_len` `CMSG_LEN(8)`", "connected dgram socket", EINVAL, SAME, |e| {
        let me = Creds::mine();
        Hdr::new(1).control(24).cmsg(0, 24, libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &ucred(me.pid, me.uid, 0)[..8])
            .sendmsg(&e.dgram_pair()?.0, libc::MSG_DONTWAIT)
    });
    row!(v, "sendmsg", "`SCM_CREDENTIALS` with pid 1 (not the sender's)", "socketpair (dgram); sender runs as nobody", EPERM, SAME, |e| {
        let (a, _b) = e.pair(D)?;
        as_nobody(move || send_creds(&a, Creds { pid: 1, ..Creds::mine() }))
    });
    row!(v, "sendmsg", "`SCM_CREDENTIALS` with uid 0", "socketpair (seqpacket); sender runs as nobody", EPERM, SAME, |e| {
        let (a, _b) = e.pair(S)?;
        as_nobody(move || send_creds(&a, Creds { uid: 0, ..Creds::mine() }))
    });
    row!(v, "sendmsg", "`SCM_CREDENTIALS` with gid 0", "socketpair (dgram); sender runs as nobody", EPERM, SAME, |e| {
        let (a, _b) = e.pair(D)?;
        as_nobody(move || send_creds(&a, Creds { gid: 0, ..Creds::mine() }))
    });
    row!(v, "sendmsg", "`SCM_CREDENTIALS` with a pid that does not exist", "connected dgram socket (root)", ESRCH, SAME, |e| {
        Ok(send_creds(&e.dgram_pair()?.0, Creds { pid: i32::MAX, ..Creds::mine() }))
    });
    row!(v, "sendmsg", "`SCM_CREDENTIALS` with uid −1", "connected seqpacket socket (root)", EINVAL, SAME, |e| {
        Ok(send_creds(&e.seq_pair()?.0, Creds { uid: u32::MAX, ..Creds::mine() }))
    });
    row!(v, "sendmsg", "`SCM_CREDENTIALS` with pid 1 (not the sender's), to a datagram group", "sender runs as nobody; a group with one member", EPERM, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        let _m = mcast::members(e.af, &a, 1, 0);
        let af = e.af;
        as_nobody(move || {
            let s = sys::socket(af, D, 0)?;
            s.connect(&a).sys()?;
            send_creds(&s, Creds { pid: 1, ..Creds::mine() })
        })
    });
}

fn recv_rows(v: &mut Vec<Row>) {
    row!(v, "recv", "flag `MSG_OOB`", "dgram socket", EOPNOTSUPP, SAME, |e| {
        Ok(client::recv(&e.sock(D)?, 8, libc::MSG_OOB | libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "recv", "flag `MSG_OOB`", "connected seqpacket socket", EOPNOTSUPP, SAME, |e| {
        Ok(client::recv(&e.seq_pair()?.0, 8, libc::MSG_OOB | libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "recv", "no connection", "unconnected seqpacket socket", ENOTCONN, SAME, |e| {
        Ok(client::recv(&e.sock(S)?, 8, libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "recv", "no connection", "listening seqpacket socket", ENOTCONN, SAME, |e| {
        Ok(client::recv(&e.listener()?.0, 8, libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "recv", "`MSG_DONTWAIT`, nothing queued", "bound dgram socket", EAGAIN, SAME, |e| {
        Ok(client::recv(&e.bound(D, &e.abs("rx"))?, 8, libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "recv", "the other end closed with unread messages", "connected seqpacket socket", ECONNRESET, SAME, |e| {
        let (c, acc) = e.seq_pair()?;
        ctx(sys::send(&c, b"unread", 0), "send")?;
        drop(acc);
        Ok(client::recv(&c, 8, libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "recv", "buffer NULL, length 10", "dgram socket with a message queued", EFAULT, SAME, |e| {
        let (tx, rx) = e.dgram_pair()?;
        ctx(sys::send(&tx, b"queued", 0), "send")?;
        Ok(sys::recv_null(&rx, 10, libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "recvmsg", "`iov_base` unmapped", "seqpacket socket with a message queued", EFAULT, SAME, |e| {
        let (c, acc) = e.seq_pair()?;
        ctx(sys::send(&acc, b"queued", 0), "send")?;
        let mut h = Hdr::new(8);
        h.iov.iov_base = unmapped() as *mut _;
        h.recvmsg(&c, libc::MSG_DONTWAIT)
    });
    row!(v, "recvmsg", "`msg_name` unmapped, `msg_namelen` 110", "dgram socket with a message from a bound sender", EFAULT, SAME, |e| {
        let (tx, rx) = e.dgram_pair()?;
        ctx(tx.bind(&e.abs("tx")).sys(), "bind tx")?;
        ctx(sys::send(&tx, b"queued", 0), "send")?;
        let mut h = Hdr::new(8);
        h.m.msg_name = unmapped() as *mut _;
        h.m.msg_namelen = 110;
        h.recvmsg(&rx, libc::MSG_DONTWAIT)
    });
    row!(v, "recvmsg", "`msg_namelen` −1", "dgram socket with a message queued", EINVAL, SAME, |e| {
        let (tx, rx) = e.dgram_pair()?;
        ctx(sys::send(&tx, b"queued", 0), "send")?;
        let mut h = Hdr::new(8);
        h.name(&e.raw(&e.abs("x")), u32::MAX);
        h.recvmsg(&rx, libc::MSG_DONTWAIT)
    });
    row!(v, "recvmmsg", "timeout unmapped", "dgram socket with a message queued", EFAULT, SAME, |e| {
        let (tx, rx) = e.dgram_pair()?;
        ctx(sys::send(&tx, b"queued", 0), "send")?;
        let h = Hdr::new(8);
        // SAFETY: all-zero is a valid mmsghdr; its msghdr points at h's buffers.
        let mut mm: libc::mmsghdr = unsafe { std::mem::zeroed() };
        mm.msg_hdr = h.m;
        out(sc(libc::SYS_recvmmsg, &[i(rx.as_raw_fd()), pm(&mut mm), 1, i(libc::MSG_DONTWAIT), unmapped()]))
    });
}

fn listen_accept_rows(v: &mut Vec<Row>) {
    row!(v, "listen", "not bound", "unbound seqpacket socket", EINVAL, SAME, |e| {
        out(sc(libc::SYS_listen, &[i(e.sock(S)?.as_raw_fd()), 8]))
    });
    row!(v, "listen", "connected", "bound, connected seqpacket client", EINVAL, SAME, |e| {
        let (l, a) = e.listener()?;
        let c = e.bound(S, &e.abs("c"))?;
        ctx(c.connect(&a).sys(), "connect")?;
        let _acc = ctx(l.accept().sys(), "accept")?;
        out(sc(libc::SYS_listen, &[i(c.as_raw_fd()), 8]))
    });
    row!(v, "listen", "connected", "accepted seqpacket socket", EINVAL, SAME, |e| {
        let (_c, acc) = e.seq_pair()?;
        out(sc(libc::SYS_listen, &[i(acc.as_raw_fd()), 8]))
    });
    row!(v, "listen", "a datagram socket", "bound dgram socket", EOPNOTSUPP, SAME, |e| {
        out(sc(libc::SYS_listen, &[i(e.bound(D, &e.abs("d"))?.as_raw_fd()), 8]))
    });
    row!(v, "accept", "a datagram socket", "bound dgram socket", EOPNOTSUPP, SAME, |e| {
        out_fd(sc(libc::SYS_accept4, &[i(e.bound(D, &e.abs("d"))?.as_raw_fd()), 0, 0, 0]))
    });
    row!(v, "accept", "not listening", "bound seqpacket socket", EINVAL, SAME, |e| {
        out_fd(sc(libc::SYS_accept4, &[i(e.bound(S, &e.abs("s"))?.as_raw_fd()), 0, 0, 0]))
    });
    row!(v, "accept", "not listening", "connected seqpacket client", EINVAL, SAME, |e| {
        out_fd(sc(libc::SYS_accept4, &[i(e.seq_pair()?.0 .as_raw_fd()), 0, 0, 0]))
    });
    row!(v, "accept", "no pending connection", "non-blocking listening seqpacket socket", EAGAIN, SAME, |e| {
        let (l, _) = e.listener()?;
        ctx(l.set_nonblocking(true).sys(), "O_NONBLOCK")?;
        out_fd(sc(libc::SYS_accept4, &[i(l.as_raw_fd()), 0, 0, 0]))
    });
    row!(v, "accept", "listener shut down for reading", "listening seqpacket socket (`SO_RCVTIMEO` 1 s)", EINVAL, SAME, |e| {
        let (l, _) = e.listener()?;
        ctx(l.set_read_timeout(Some(std::time::Duration::from_millis(1000))).sys(), "SO_RCVTIMEO")?;
        ctx(l.shutdown(std::net::Shutdown::Read).sys(), "shutdown")?;
        out_fd(sc(libc::SYS_accept4, &[i(l.as_raw_fd()), 0, 0, 0]))
    });
    row!(v, "accept4", "unknown flag 1", "listening seqpacket socket with a pending connection", EINVAL, SAME, |e| {
        let (l, a) = e.listener()?;
        let c = e.sock(S)?;
        ctx(c.connect(&a).sys(), "connect")?;
        out_fd(sc(libc::SYS_accept4, &[i(l.as_raw_fd()), 0, 0, 1]))
    });
    row!(v, "accept", "address unmapped", "listening seqpacket socket with a pending connection", EFAULT, SAME, |e| {
        let (l, a) = e.listener()?;
        let c = e.sock(S)?;
        ctx(c.connect(&a).sys(), "connect")?;
        let mut len: u32 = 110;
        out_fd(sc(libc::SYS_accept4, &[i(l.as_raw_fd()), unmapped(), pm(&mut len), 0]))
    });
}

fn misc_rows(v: &mut Vec<Row>) {
    row!(v, "shutdown", "how 3", "connected dgram socket", EINVAL, SAME, |e| {
        out(sc(libc::SYS_shutdown, &[i(e.dgram_pair()?.0 .as_raw_fd()), 3]))
    });
    row!(v, "shutdown", "how −1", "connected seqpacket socket", EINVAL, SAME, |e| {
        out(sc(libc::SYS_shutdown, &[i(e.seq_pair()?.0 .as_raw_fd()), i(-1)]))
    });
    row!(v, "shutdown", "how 0x7fffffff", "unbound dgram socket", EINVAL, SAME, |e| {
        out(sc(libc::SYS_shutdown, &[i(e.sock(D)?.as_raw_fd()), 0x7fff_ffff]))
    });
    row!(v, "getpeername", "not connected", "unconnected dgram socket", ENOTCONN, SAME, |e| {
        Ok(e.sock(D)?.peer_addr().sys().map(|_| ()))
    });
    row!(v, "getpeername", "not connected", "unconnected seqpacket socket", ENOTCONN, SAME, |e| {
        Ok(e.sock(S)?.peer_addr().sys().map(|_| ()))
    });
    row!(v, "getpeername", "not connected", "listening seqpacket socket", ENOTCONN, SAME, |e| {
        Ok((e.listener()?.0).peer_addr().sys().map(|_| ()))
    });
    row!(v, "getpeername", "address unmapped", "connected seqpacket client", EFAULT, SAME, |e| {
        let mut len: u32 = 110;
        out(sc(libc::SYS_getpeername, &[i(e.seq_pair()?.0 .as_raw_fd()), unmapped(), pm(&mut len)]))
    });
    row!(v, "getsockname", "`addrlen` pointer unmapped", "bound dgram socket", EFAULT, SAME, |e| {
        let mut buf = [0u8; 128];
        out(sc(libc::SYS_getsockname, &[i(e.bound(D, &e.abs("d"))?.as_raw_fd()), pm(buf.as_mut_ptr()), unmapped()]))
    });
    row!(v, "getsockname", "`*addrlen` −1", "bound seqpacket socket", EINVAL, SAME, |e| {
        let mut buf = [0u8; 128];
        let mut len: i32 = -1;
        out(sc(libc::SYS_getsockname, &[i(e.bound(S, &e.abs("s"))?.as_raw_fd()), pm(buf.as_mut_ptr()), pm(&mut len)]))
    });
    row!(v, "ioctl", "unknown command 0x1234", "dgram socket", ENOTTY, SAME, |e| { ioctl(&e.sock(D)?, 0x1234, 0) });
    row!(v, "ioctl", "`SIOCGSTAMP` (no timestamps: `ENOIOCTLCMD` inside the kernel)", "seqpacket socket", ENOTTY, SAME, |e| {
        let mut tv = [0u64; 2];
        ioctl(&e.sock(S)?, 0x8906, pm(&mut tv))
    });
    row!(v, "ioctl", "`SIOCINQ` on a listener", "listening seqpacket socket", EINVAL, SAME, |e| {
        let mut n = 0i32;
        ioctl(&e.listener()?.0, libc::FIONREAD, pm(&mut n))
    });
    row!(v, "ioctl", "`SIOCINQ`, argument unmapped", "dgram socket", EFAULT, SAME, |e| {
        ioctl(&e.sock(D)?, libc::FIONREAD, unmapped())
    });
    row!(v, "ioctl", "`SIOCINQ`, argument unmapped", "connected seqpacket socket", EFAULT, SAME, |e| {
        ioctl(&e.seq_pair()?.0, libc::FIONREAD, unmapped())
    });
    row!(v, "ioctl", "`SIOCOUTQ`, argument NULL", "dgram socket", EFAULT, SAME, |e| { ioctl(&e.sock(D)?, libc::TIOCOUTQ, 0) });
    row!(v, "setsockopt", "`optlen` −1", "dgram socket, `SOL_SOCKET` `SO_RCVBUF`", EINVAL, SAME, |e| {
        let x = 4096i32;
        setopt_ptr(&e.sock(D)?, libc::SOL_SOCKET, libc::SO_RCVBUF, p(&x), -1)
    });
    row!(v, "setsockopt", "level `SOL_IP` (neither `SOL_SOCKET` nor the family's)", "dgram socket", ENOPROTOOPT, Unix::Gives(libc::EOPNOTSUPP), |e| {
        setopt(&e.sock(D)?, libc::SOL_IP, libc::IP_TOS, &1i32.to_ne_bytes())
    });
    row!(v, "getsockopt", "level `SOL_IP` (neither `SOL_SOCKET` nor the family's)", "seqpacket socket", ENOPROTOOPT, Unix::Gives(libc::EOPNOTSUPP), |e| {
        getopt(&e.sock(S)?, libc::SOL_IP, libc::IP_TOS)
    });
}

fn option_rows(v: &mut Vec<Row>) {
    row!(v, "setsockopt", "`SOL_MCAST_UNIX` option 0", "dgram socket", ENOPROTOOPT, NA, |e| { setopt(&e.sock(D)?, SOL, 0, &[0; 120]) });
    row!(v, "setsockopt", "`SOL_MCAST_UNIX` option 8", "seqpacket socket", ENOPROTOOPT, NA, |e| { setopt(&e.sock(S)?, SOL, 8, &[0; 4]) });
    row!(v, "setsockopt", "`SOL_MCAST_UNIX` option −1", "dgram socket", ENOPROTOOPT, NA, |e| { setopt(&e.sock(D)?, SOL, -1, &[]) });
    row!(v, "getsockopt", "`SOL_MCAST_UNIX` `CREATE_GROUP`", "owner of a datagram group", ENOPROTOOPT, NA, |e| {
        let (owner, _) = mcast::dgram_group(e.af);
        getopt(&owner, SOL, CREATE)
    });
    row!(v, "getsockopt", "`SOL_MCAST_UNIX` option 99", "seqpacket socket", ENOPROTOOPT, NA, |e| { getopt(&e.sock(S)?, SOL, 99) });
    row!(v, "PASS_SENDER_ID", "`optlen` 2", "dgram socket", EINVAL, NA, |e| {
        setopt(&e.sock(D)?, SOL, mcast_unix::MCAST_UNIX_PASS_SENDER_ID, &[1, 0])
    });
    row!(v, "PEER_ID", "`setsockopt` (read-only)", "dgram socket", ENOPROTOOPT, NA, |e| {
        setopt(&e.sock(D)?, SOL, mcast_unix::MCAST_UNIX_PEER_ID, &[0; 8])
    });
    row!(v, "PEER_ID", "`getsockopt` without a peer", "unconnected seqpacket socket", ENOTCONN, NA, |e| {
        getopt(&e.sock(S)?, SOL, mcast_unix::MCAST_UNIX_PEER_ID)
    });
    row!(v, "CREATE_GROUP", "`optlen` 0", "unbound dgram socket", EINVAL, NA, |e| { setopt(&e.sock(D)?, SOL, CREATE, &[]) });
    row!(v, "CREATE_GROUP", "`optlen` 119", "unbound dgram socket", EINVAL, NA, |e| {
        setopt(&e.sock(D)?, SOL, CREATE, &mreq(&e.raw(&e.abs("g")), e.raw(&e.abs("g")).len, 0)[..119])
    });
    row!(v, "CREATE_GROUP", "`optval` NULL, `optlen` 120", "unbound seqpacket socket", EFAULT, NA, |e| {
        setopt_ptr(&e.sock(S)?, SOL, CREATE, 0, 120)
    });
    row!(v, "CREATE_GROUP", "`address_len` 111", "unbound dgram socket", EINVAL, NA, |e| {
        setopt(&e.sock(D)?, SOL, CREATE, &mreq(&e.raw(&e.abs("g")), 111, 0))
    });
    row!(v, "CREATE_GROUP", "`address_len` 0xffffffff", "unbound dgram socket", EINVAL, NA, |e| {
        setopt(&e.sock(D)?, SOL, CREATE, &mreq(&e.raw(&e.abs("g")), u32::MAX, 0))
    });
    row!(v, "CREATE_GROUP", "`address_len` 2 (no autobind for groups)", "unbound dgram socket", EINVAL, NA, |e| {
        setopt(&e.sock(D)?, SOL, CREATE, &mreq(&e.raw(&e.abs("g")), 2, 0))
    });
    row!(v, "CREATE_GROUP", "`address_len` 0", "unbound seqpacket socket", EINVAL, NA, |e| {
        setopt(&e.sock(S)?, SOL, CREATE, &mreq(&e.raw(&e.abs("g")), 0, 0))
    });
    row!(v, "CREATE_GROUP", "`sun_family` `AF_INET`", "unbound dgram socket", EINVAL, NA, |e| {
        let a = e.abs("g");
        setopt(&e.sock(D)?, SOL, CREATE, &mreq(&with_family(&a, WRONG_AF), e.raw(&a).len, 0))
    });
    row!(v, "CREATE_GROUP", "flags `LOOPBACK`", "unbound dgram socket", EINVAL, NA, |e| {
        mreq_opt(&e.sock(D)?, CREATE, &e.abs("g"), MCAST_UNIX_LOOPBACK)
    });
    row!(v, "CREATE_GROUP", "a free address", "dgram socket bound to an abstract name", EINVAL, NA, |e| {
        mreq_opt(&e.bound(D, &e.abs("b"))?, CREATE, &e.abs("g"), 0)
    });
    row!(v, "CREATE_GROUP", "a free path", "seqpacket socket bound to a path", EINVAL, NA, |e| {
        mreq_opt(&e.bound(S, &e.path("b"))?, CREATE, &e.path("g"), 0)
    });
    row!(v, "CREATE_GROUP", "a second group", "owner of a datagram group", EINVAL, NA, |e| {
        let (owner, _) = mcast::dgram_group(e.af);
        mreq_opt(&owner, CREATE, &e.abs("second"), 0)
    });
    row!(v, "CREATE_GROUP", "abstract name taken", "unbound dgram socket; another dgram socket holds the name", EADDRINUSE, NA, |e| {
        let _other = e.bound(D, &e.abs("g"))?;
        mreq_opt(&e.sock(D)?, CREATE, &e.abs("g"), 0)
    });
    row!(v, "CREATE_GROUP", "path where a regular file exists", "unbound seqpacket socket", EADDRINUSE, NA, |e| {
        std::fs::write(e.fs("file"), b"x").map_err(|x| x.to_string())?;
        mreq_opt(&e.sock(S)?, CREATE, &e.path("file"), 0)
    });
    row!(v, "CREATE_GROUP", "path in a missing directory", "unbound dgram socket", ENOENT, NA, |e| {
        mreq_opt(&e.sock(D)?, CREATE, &e.path("missing/g"), 0)
    });
}

/// The `max_groups` module parameter (20 if unreadable).
fn max_groups() -> usize {
    std::fs::read_to_string("/sys/module/mcast_unix/parameters/max_groups")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(20)
}

fn group_rows(v: &mut Vec<Row>) {
    row!(v, "JOIN_GROUP", "`optlen` 119", "dgram socket; a datagram group", EINVAL, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        setopt(&e.sock(D)?, SOL, JOIN, &mreq(&e.raw(&a), e.raw(&a).len, 0)[..119])
    });
    row!(v, "JOIN_GROUP", "`address_len` 111", "dgram socket; a datagram group", EINVAL, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        setopt(&e.sock(D)?, SOL, JOIN, &mreq(&e.raw(&a), 111, 0))
    });
    row!(v, "JOIN_GROUP", "`address_len` 2", "dgram socket", EINVAL, NA, |e| {
        setopt(&e.sock(D)?, SOL, JOIN, &mreq(&e.raw(&e.abs("g")), 2, 0))
    });
    row!(v, "JOIN_GROUP", "flags 8 (unknown bit)", "dgram socket; a datagram group", EINVAL, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        mreq_opt(&e.sock(D)?, JOIN, &a, 8)
    });
    row!(v, "JOIN_GROUP", "flags 0x80000000", "dgram socket; a datagram group", EINVAL, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        mreq_opt(&e.sock(D)?, JOIN, &a, 0x8000_0000)
    });
    row!(v, "JOIN_GROUP", "a seqpacket socket", "seqpacket socket; a seqpacket group", EOPNOTSUPP, NA, |e| {
        let bus = Bus::new(e.af);
        mreq_opt(&e.sock(S)?, JOIN, &bus.addr, 0)
    });
    row!(v, "JOIN_GROUP", "the same group again", "member of a datagram group", EADDRINUSE, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        let m = mcast::members(e.af, &a, 1, 0);
        mreq_opt(&m[0], JOIN, &a, 0)
    });
    row!(v, "JOIN_GROUP", "a bound socket that is not a group", "dgram socket", EINVAL, NA, |e| {
        let _plain = e.bound(D, &e.abs("plain"))?;
        mreq_opt(&e.sock(D)?, JOIN, &e.abs("plain"), 0)
    });
    row!(v, "JOIN_GROUP", "abstract name nobody holds", "dgram socket", ECONNREFUSED, NA, |e| {
        mreq_opt(&e.sock(D)?, JOIN, &e.abs("nobody"), 0)
    });
    row!(v, "JOIN_GROUP", "missing path", "dgram socket", ENOENT, NA, |e| { mreq_opt(&e.sock(D)?, JOIN, &e.path("missing"), 0) });
    row!(v, "JOIN_GROUP", "path of a seqpacket group", "dgram socket", EPROTOTYPE, NA, |e| {
        let owner = e.sock(S)?;
        unwrap_setup(mreq_opt(&owner, CREATE, &e.path("bus"), 0), "create")?;
        ctx(owner.listen(1).sys(), "listen")?;
        mreq_opt(&e.sock(D)?, JOIN, &e.path("bus"), 0)
    });
    row!(v, "JOIN_GROUP", "group inode without write permission", "datagram group at a path (mode 0755); joiner runs as nobody", EACCES, NA, |e| {
        let owner = e.sock(D)?;
        unwrap_setup(mreq_opt(&owner, CREATE, &e.path("g"), 0), "create")?;
        set_mode(&e.fs("g"), 0o755)?;
        let (af, a) = (e.af, e.path("g"));
        as_nobody(move || sys::socket(af, D, 0).and_then(|s| mcast::join(&s, &a, 0)))
    });
    row!(v, "JOIN_GROUP", "one group more than `max_groups`", "member of `max_groups` datagram groups", ENOBUFS, NA, |e| {
        let s = e.sock(D)?;
        let mut owners = Vec::new();
        for _ in 0..max_groups() {
            let (owner, a) = mcast::dgram_group(e.af);
            ctx(mcast::join(&s, &a, 0), "join")?;
            owners.push(owner);
        }
        let (_last, a) = mcast::dgram_group(e.af);
        mreq_opt(&s, JOIN, &a, 0)
    });
    row!(v, "JOIN_GROUP", "a group whose owner closed", "dgram socket", ECONNREFUSED, NA, |e| {
        let (owner, a) = mcast::dgram_group(e.af);
        drop(owner);
        mreq_opt(&e.sock(D)?, JOIN, &a, 0)
    });
    row!(v, "LEAVE_GROUP", "`optlen` 4", "member of a datagram group", EINVAL, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        let m = mcast::members(e.af, &a, 1, 0);
        setopt(&m[0], SOL, LEAVE, &[0; 4])
    });
    row!(v, "LEAVE_GROUP", "`address_len` 111", "member of a datagram group", EINVAL, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        let m = mcast::members(e.af, &a, 1, 0);
        setopt(&m[0], SOL, LEAVE, &mreq(&e.raw(&a), 111, 0))
    });
    row!(v, "LEAVE_GROUP", "a seqpacket socket", "admitted member of a seqpacket group", EOPNOTSUPP, NA, |e| {
        let bus = Bus::new(e.af);
        let m = bus.member(0);
        mreq_opt(&m.client, LEAVE, &bus.addr, 0)
    });
    row!(v, "LEAVE_GROUP", "a group it did not join", "dgram socket; a datagram group", EADDRNOTAVAIL, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        mreq_opt(&e.sock(D)?, LEAVE, &a, 0)
    });
    row!(v, "LEAVE_GROUP", "abstract name nobody holds", "dgram socket", EADDRNOTAVAIL, NA, |e| {
        mreq_opt(&e.sock(D)?, LEAVE, &e.abs("nobody"), 0)
    });
    row!(v, "LEAVE_GROUP", "a bound socket that is not a group", "dgram socket", EADDRNOTAVAIL, NA, |e| {
        let _plain = e.bound(D, &e.abs("plain"))?;
        mreq_opt(&e.sock(D)?, LEAVE, &e.abs("plain"), 0)
    });
    row!(v, "LEAVE_GROUP", "the group again", "former member of a datagram group", EADDRNOTAVAIL, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        let m = mcast::members(e.af, &a, 1, 0);
        ctx(mcast::leave(&m[0], &a), "leave")?;
        mreq_opt(&m[0], LEAVE, &a, 0)
    });
    row!(v, "LEAVE_GROUP", "a group whose owner closed", "member of the group", EADDRNOTAVAIL, NA, |e| {
        let (owner, a) = mcast::dgram_group(e.af);
        let m = mcast::members(e.af, &a, 1, 0);
        drop(owner);
        mreq_opt(&m[0], LEAVE, &a, 0)
    });
    row!(v, "sendto", "flag `MSG_OOB`, to a datagram group", "dgram socket; a group with one member", EOPNOTSUPP, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        let _m = mcast::members(e.af, &a, 1, 0);
        Ok(e.sock(D)?.send_to_with_flags(b"x", &a, libc::MSG_OOB | libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "sendto", "larger than `SO_SNDBUF` − 32, to a datagram group", "dgram socket; a group with one member", EMSGSIZE, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        let _m = mcast::members(e.af, &a, 1, 0);
        let s = e.sock(D)?;
        let sndbuf = ctx(s.send_buffer_size().sys(), "SO_SNDBUF")? as usize;
        Ok(s.send_to_with_flags(&vec![0u8; sndbuf - 31], &a, libc::MSG_DONTWAIT).sys().map(|_| ()))
    });
    row!(v, "send", "the group's owner closed", "dgram socket connected to a datagram group", ECONNREFUSED, NA, |e| {
        let (owner, a) = mcast::dgram_group(e.af);
        let s = e.sock(D)?;
        ctx(s.connect(&a).sys(), "connect")?;
        drop(owner);
        Ok(sys::send(&s, b"x", libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "flag `MSG_OOB`", "admitted member of a seqpacket group", EOPNOTSUPP, NA, |e| {
        let bus = Bus::new(e.af);
        let m = bus.member(0);
        let _other = bus.member(0);
        Ok(sys::send(&m.client, b"x", libc::MSG_OOB | libc::MSG_DONTWAIT).map(|_| ()))
    });
    row!(v, "send", "the group's owner closed", "admitted member of a seqpacket group", EPIPE, NA, |e| {
        let bus = Bus::new(e.af);
        let m = bus.member(0);
        drop(bus);
        Ok(sys::send(&m.client, b"x", libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL).map(|_| ()))
    });
}

fn admit_rows(v: &mut Vec<Row>) {
    row!(v, "ADMIT_MEMBER", "a datagram socket", "dgram socket", EINVAL, NA, |e| { admit_opt(&e.sock(D)?, 0) });
    row!(v, "ADMIT_MEMBER", "not an accepted socket", "unconnected seqpacket socket", EINVAL, NA, |e| { admit_opt(&e.sock(S)?, 0) });
    row!(v, "ADMIT_MEMBER", "the client's side", "seqpacket client connected to a group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        admit_opt(&bus.connect().client, 0)
    });
    row!(v, "ADMIT_MEMBER", "the owner itself", "listening owner of a seqpacket group", EINVAL, NA, |e| {
        admit_opt(&Bus::new(e.af).owner, 0)
    });
    row!(v, "ADMIT_MEMBER", "accepted by a listener that is no group", "accepted seqpacket socket", EINVAL, NA, |e| {
        admit_opt(&e.seq_pair()?.1, 0)
    });
    row!(v, "ADMIT_MEMBER", "`optlen` 3", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        setopt(&bus.connect().accepted, SOL, ADMIT, &[0; 3])
    });
    row!(v, "ADMIT_MEMBER", "`optlen` 0", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        setopt(&bus.connect().accepted, SOL, ADMIT, &[])
    });
    row!(v, "ADMIT_MEMBER", "`optval` NULL, `optlen` 4", "accepted socket of a seqpacket group's owner", EFAULT, NA, |e| {
        let bus = Bus::new(e.af);
        setopt_ptr(&bus.connect().accepted, SOL, ADMIT, 0, 4)
    });
    row!(v, "ADMIT_MEMBER", "flags 8 (unknown bit)", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        admit_opt(&bus.connect().accepted, 8)
    });
    row!(v, "ADMIT_MEMBER", "admitted already", "accepted socket of an admitted member", EALREADY, NA, |e| {
        let bus = Bus::new(e.af);
        admit_opt(&bus.member(0).accepted, 0)
    });
    row!(v, "ADMIT_MEMBER", "the client closed (after accept)", "accepted socket of a seqpacket group's owner", ECONNRESET, NA, |e| {
        let bus = Bus::new(e.af);
        let c = bus.connect();
        drop(c.client);
        admit_opt(&c.accepted, 0)
    });
    row!(v, "ADMIT_MEMBER", "the client closed (before accept)", "accepted socket of a seqpacket group's owner", ECONNRESET, NA, |e| {
        let bus = Bus::new(e.af);
        let client = e.sock(S)?;
        ctx(client.connect(&bus.addr).sys(), "connect")?;
        drop(client);
        let (acc, _) = ctx(bus.owner.accept().sys(), "accept")?;
        admit_opt(&acc, 0)
    });
    row!(v, "ADMIT_MEMBER", "the group's owner closed", "accepted socket of the former owner", ECONNREFUSED, NA, |e| {
        let bus = Bus::new(e.af);
        let c = bus.connect();
        drop(bus);
        admit_opt(&c.accepted, 0)
    });
}

/// A classic BPF return-constant instruction.
fn ret(k: u32) -> libc::sock_filter {
    insn(libc::BPF_RET | libc::BPF_K, 0, 0, k)
}

fn filter_rows(v: &mut Vec<Row>) {
    row!(v, "PEER_FILTER", "a datagram socket", "member of a datagram group", EPERM, NA, |e| {
        let (_owner, a) = mcast::dgram_group(e.af);
        peer_filter(&mcast::members(e.af, &a, 1, 0)[0], &[ret(0)])
    });
    row!(v, "PEER_FILTER", "the member's side", "admitted member of a seqpacket group", EPERM, NA, |e| {
        let bus = Bus::new(e.af);
        peer_filter(&bus.member(0).client, &[ret(0)])
    });
    row!(v, "PEER_FILTER", "the owner itself", "listening owner of a seqpacket group", EPERM, NA, |e| {
        peer_filter(&Bus::new(e.af).owner, &[ret(0)])
    });
    row!(v, "PEER_FILTER", "accepted by a listener that is no group", "accepted seqpacket socket", EPERM, NA, |e| {
        peer_filter(&e.seq_pair()?.1, &[ret(0)])
    });
    row!(v, "PEER_FILTER", "`optlen` 8 (< `sizeof(struct sock_fprog)`)", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        let insns = [ret(0)];
        setopt(&bus.connect().accepted, SOL, PEER_FILTER, &fprog_bytes(1, p(insns.as_ptr()))[..8])
    });
    row!(v, "PEER_FILTER", "`optval` unmapped, `optlen` 16", "accepted socket of a seqpacket group's owner", EFAULT, NA, |e| {
        let bus = Bus::new(e.af);
        setopt_ptr(&bus.connect().accepted, SOL, PEER_FILTER, unmapped(), 16)
    });
    row!(v, "PEER_FILTER", "program of length 0", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        let insns = [ret(0)];
        setopt(&bus.connect().accepted, SOL, PEER_FILTER, &fprog_bytes(0, p(insns.as_ptr())))
    });
    row!(v, "PEER_FILTER", "program of 4097 instructions (> `BPF_MAXINSNS`)", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        let insns = vec![ret(0); 4097];
        peer_filter(&bus.connect().accepted, &insns)
    });
    row!(v, "PEER_FILTER", "instructions NULL, length 1", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        setopt(&bus.connect().accepted, SOL, PEER_FILTER, &fprog_bytes(1, 0))
    });
    row!(v, "PEER_FILTER", "instructions unmapped, length 2", "admitted member's accepted socket", EFAULT, NA, |e| {
        let bus = Bus::new(e.af);
        setopt(&bus.member(0).accepted, SOL, PEER_FILTER, &fprog_bytes(2, unmapped()))
    });
    row!(v, "PEER_FILTER", "jump past the end", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        peer_filter(&bus.connect().accepted, &[insn(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 5, 0, 1), ret(0)])
    });
    row!(v, "PEER_FILTER", "no return at the end", "admitted member's accepted socket", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        peer_filter(&bus.member(0).accepted, &[insn(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0)])
    });
    row!(v, "PEER_FILTER", "unknown opcode 0xffff", "accepted socket of a seqpacket group's owner", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        peer_filter(&bus.connect().accepted, &[insn(0xffff, 0, 0, 0), ret(0)])
    });
    row!(v, "PEER_FILTER", "division by the constant 0", "admitted member's accepted socket", EINVAL, NA, |e| {
        let bus = Bus::new(e.af);
        peer_filter(&bus.member(0).accepted, &[insn(libc::BPF_ALU | libc::BPF_DIV | libc::BPF_K, 0, 0, 0), ret(0)])
    });
}

fn errno_name(e: i32) -> String {
    format!("{:?}", Errno(e))
}

fn unix_column(u: Unix) -> String {
    match u {
        Unix::Same => "same".into(),
        Unix::Gives(e) => format!("`{}`", errno_name(e)),
        Unix::Succeeds => "succeeds".into(),
        Unix::NotRun => "—".into(),
    }
}

/// The table as markdown (the documentation's copy must be identical).
pub fn markdown() -> String {
    let mut s = String::from("| # | call | bad input | setup | errno | AF_UNIX |\n|---:|---|---|---|---|---|\n");
    for (n, r) in rows().iter().enumerate() {
        s += &format!(
            "| {} | `{}` | {} | {} | `{}` | {} |\n",
            n + 1,
            r.call,
            r.input,
            r.setup,
            errno_name(r.expect),
            unix_column(r.unix)
        );
    }
    s
}

fn skip_wedge() -> bool {
    std::env::var("MATRIX_SKIP_WEDGE").is_ok_and(|v| v == "1")
}

/// Runs `row` on family `af`: its call must give `want` (an errno, or success for `None`).
fn check_on(af: i32, row: &Row, want: Option<i32>) -> CaseResult {
    let side = if af == libc::AF_UNIX { "AF_UNIX" } else { "family" };
    let env = Env::new(af)?;
    let got = (row.run)(&env).map_err(|m| format!("[{side}] setup failed: {m}"))?;
    match (got, want) {
        (Err(Errno(e)), Some(w)) if e == w => Ok(()),
        (Ok(()), None) => Ok(()),
        (got, Some(w)) => Err(format!("[{side}] got {got:?}, want {}", errno_name(w))),
        (got, None) => Err(format!("[{side}] got {got:?}, want success")),
    }
}

fn case_name(prefix: &str, n: usize, r: &Row) -> String {
    format!("{prefix}: {:03} {}: {} [{}]", n + 1, r.call, r.input.replace('`', ""), r.setup.replace('`', ""))
}

/// The rows as cases: each on the family, then on AF_UNIX where it applies.
pub fn cases(af: i32) -> Vec<Case> {
    rows()
        .into_iter()
        .enumerate()
        .map(|(n, row)| {
            Case::new(case_name("badinput", n, &row), move || {
                if row.wedge && skip_wedge() {
                    return harness::skip("MATRIX_SKIP_WEDGE=1 (cmsg_len 0 may spin in the kernel)");
                }
                check_on(af, &row, Some(row.expect))?;
                match row.unix {
                    Unix::Same => check_on(libc::AF_UNIX, &row, Some(row.expect)),
                    Unix::Gives(e) => check_on(libc::AF_UNIX, &row, Some(e)),
                    Unix::Succeeds => check_on(libc::AF_UNIX, &row, None),
                    Unix::NotRun => Ok(()),
                }
            })
        })
        .collect()
}

/// `--oracle`: the AF_UNIX column alone (no module needed).
pub fn oracle_cases() -> Vec<Case> {
    rows()
        .into_iter()
        .enumerate()
        .filter(|(_, r)| !matches!(r.unix, Unix::NotRun))
        .map(|(n, row)| {
            Case::new(case_name("badinput-oracle", n, &row), move || match row.unix {
                Unix::Same => check_on(libc::AF_UNIX, &row, Some(row.expect)),
                Unix::Gives(e) => check_on(libc::AF_UNIX, &row, Some(e)),
                _ => check_on(libc::AF_UNIX, &row, None),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The markers around the table in Documentation/mcast_unix.md.
    const DOC_BEGIN: &str = "<!-- badinput matrix: begin (generated by `mcast-tests --print-matrix`; do not edit) -->";
    const DOC_END: &str = "<!-- badinput matrix: end -->";

    /// The table as the documentation holds it, between the markers.
    fn doc_table(doc: &str) -> Option<&str> {
        let start = doc.find(DOC_BEGIN)? + DOC_BEGIN.len();
        let end = start + doc[start..].find(DOC_END)?;
        Some(doc[start..end].trim_matches('\n'))
    }

    #[test]
    fn documentation_holds_the_test_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Documentation/mcast_unix.md");
        let doc = std::fs::read_to_string(path).expect("read Documentation/mcast_unix.md");
        let table = doc_table(&doc).expect("the badinput matrix markers in Documentation/mcast_unix.md");
        let want = markdown();
        let want = want.trim_matches('\n');
        if table != want {
            let line = table.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(table.lines().count().min(want.lines().count()));
            panic!(
                "Documentation/mcast_unix.md's bad-input table differs from the test table at line {} \
                 (doc: {:?}, test: {:?}); regenerate it with scripts/update-matrix",
                line + 1,
                table.lines().nth(line),
                want.lines().nth(line)
            );
        }
    }

    #[test]
    fn enough_rows_with_distinct_names() {
        let rows = rows();
        assert!(rows.len() >= 80, "{} rows", rows.len());
        let mut names: Vec<String> = rows.iter().map(|r| format!("{} {} {}", r.call, r.input, r.setup)).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "two rows with the same call, input and setup");
        for r in &rows {
            assert!(!r.input.contains('|') && !r.setup.contains('|'), "a '|' breaks the markdown table: {}", r.input);
            assert!(!errno_name(r.expect).starts_with("errno"), "no name for errno {}", r.expect);
        }
    }
}
