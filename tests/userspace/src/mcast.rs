//! Helpers for the group and filter tests: the SOL_MCAST_UNIX options,
//! recvmsg with ancillary data, /proc/net/mcast_unix, socket timeouts.

use crate::client;
use crate::sys::{self, IntoSys, check, Errno, SysResult};
use mcast_unix::Socket;
use std::os::fd::AsRawFd;
use mcast_unix::{
    Addr, Insn, Program,
    McastUnixMreq,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh abstract address (unique within this run).
pub fn fresh(what: &str) -> Addr {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    Addr::abstract_(format!("g{}-{what}-{n}", std::process::id())).expect("short name")
}

pub fn setopt(fd: &Socket, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
    // SAFETY: val is valid for its length.
    check(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, val.as_ptr().cast(), val.len() as _) } as _).map(|_| ())
}

/// The `struct mcast_unix_mreq` for `a` in family `af`.
pub fn mreq(af: i32, a: &Addr, flags: u32) -> McastUnixMreq {
    let (address, address_len) = a.to_raw(af as libc::sa_family_t);
    McastUnixMreq { address, address_len, flags }
}

fn bytes_of<T>(v: &T) -> &[u8] {
    // SAFETY: viewing a plain C struct as bytes.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// A `struct mcast_unix_mreq` option with any flags: raw, as the library
/// sends CREATE_GROUP with flags 0 only.
pub fn mreq_opt(fd: &Socket, name: i32, a: &Addr, flags: u32) -> SysResult<()> {
    setopt(fd, mcast_unix::SOL_MCAST_UNIX, name, bytes_of(&mreq(fd.family(), a, flags)))
}

pub fn create_group(fd: &Socket, a: &Addr) -> SysResult<()> {
    fd.create_group(a).sys()
}

pub fn join(fd: &Socket, a: &Addr, flags: u32) -> SysResult<()> {
    fd.join_group(a, flags).sys()
}

pub fn leave(fd: &Socket, a: &Addr) -> SysResult<()> {
    fd.leave_group(a).sys()
}

pub fn admit(fd: &Socket, flags: u32) -> SysResult<()> {
    fd.admit_member(flags).sys()
}

/// A classic BPF program that returns `k` for every message (0 rejects).
pub fn ret_prog(k: u32) -> Vec<libc::sock_filter> {
    vec![libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k }]
}

/// The library's form of a program written as `sock_filter`s.
pub fn program(insns: &[libc::sock_filter]) -> Program {
    Program::new(insns.iter().map(|i| Insn { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect())
}

pub fn set_peer_filter(fd: &Socket, insns: Option<&[libc::sock_filter]>) -> SysResult<()> {
    match insns {
        Some(i) => fd.set_peer_filter(&program(i)).sys(),
        None => fd.clear_peer_filter().sys(),
    }
}

pub fn attach_filter(fd: &Socket, insns: &[libc::sock_filter]) -> SysResult<()> {
    fd.attach_filter(&program(insns)).sys()
}

/// A datagram or seqpacket socket of the family.
pub fn sock(af: i32, ty: i32) -> Socket {
    sys::socket(af, ty, 0).expect("socket")
}

/// What recvmsg returned.
#[derive(Debug)]
pub struct Msg {
    pub len: usize,
    pub data: Vec<u8>,
    pub flags: i32,
    pub from: Addr,
    pub cred: Option<libc::ucred>,
    pub dropped: Option<u32>,
}

impl Msg {
    pub fn creds(&self) -> Option<libc::ucred> {
        self.cred
    }

    pub fn overflow(&self) -> Option<u32> {
        self.dropped
    }
}

pub fn recvmsg(fd: &Socket, cap: usize, flags: i32) -> SysResult<Msg> {
    let mut buf = vec![0u8; cap];
    let m = fd.recv_msg(&mut buf, flags).sys()?;
    buf.truncate(m.len.min(cap));
    Ok(Msg { len: m.len, data: buf, flags: m.flags, from: m.from, cred: m.cred, dropped: m.dropped })
}

/// Everything queued at `fd` now: non-blocking reads until EAGAIN, or until
/// an empty read (end of file of a seqpacket socket; the tests send no
/// empty messages to drained sockets).
pub fn drain(fd: &Socket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Ok(d) = client::recv(fd, 65536, libc::MSG_DONTWAIT) {
        if d.is_empty() {
            break;
        }
        out.push(d);
    }
    out
}

pub fn inq(fd: &Socket) -> i32 {
    sys::ioctl_int(fd, libc::FIONREAD).expect("SIOCINQ")
}

/// Fills a receiver through `tx` (non-blocking sends to `dest`, or the
/// connected destination) until EAGAIN; returns how many fitted.
pub fn fill(tx: &Socket, dest: Option<&Addr>, size: usize) -> SysResult<usize> {
    let payload = vec![0x5au8; size];
    for n in 0..100_000 {
        let r = match dest {
            Some(d) => tx.send_to_with_flags(&payload, d, libc::MSG_DONTWAIT).sys(),
            None => tx.send_with_flags(&payload, libc::MSG_DONTWAIT).sys(),
        };
        match r {
            Ok(_) => {}
            Err(Errno(libc::EAGAIN)) => return Ok(n),
            Err(e) => return Err(e),
        }
    }
    Ok(100_000)
}

/// The lines of /proc/net/mcast_unix.
pub fn proc_lines() -> Vec<String> {
    std::fs::read_to_string("/proc/net/mcast_unix").unwrap_or_default().lines().map(String::from).collect()
}

/// The group line for `a` (`G address type members sent dropped`), split.
pub fn proc_group(a: &Addr) -> Option<Vec<String>> {
    let name = a.to_string();
    proc_lines()
        .into_iter()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|f| f.first().map(String::as_str) == Some("G") && f.get(1) == Some(&name))
}

/// The socket line of `fd` (by inode), split.
pub fn proc_sock(fd: &Socket) -> Option<Vec<String>> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is valid for fstat.
    unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    let ino = st.st_ino.to_string();
    proc_lines()
        .into_iter()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|f| f.first().map(String::as_str) == Some("S") && f.get(1) == Some(&ino))
}

/// Runs `f` in a forked child; returns its exit status (0 = success).
pub fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: fork in a test process; the child only runs `f` and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = f();
        // SAFETY: leaving the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    }
}

/// A datagram group at a fresh abstract address, with its owner.
pub fn dgram_group(af: i32) -> (Socket, Addr) {
    let owner = sock(af, libc::SOCK_DGRAM);
    let a = fresh("dg");
    create_group(&owner, &a).expect("create");
    (owner, a)
}

/// `n` datagram members of the group at `a`, joined with `flags`.
pub fn members(af: i32, a: &Addr, n: usize, flags: u32) -> Vec<Socket> {
    (0..n)
        .map(|_| {
            let m = sock(af, libc::SOCK_DGRAM);
            join(&m, a, flags).expect("join");
            m
        })
        .collect()
}

/// The error of a result, for comparisons.
pub fn err<T>(r: Result<T, Errno>) -> Option<Errno> {
    r.err()
}
