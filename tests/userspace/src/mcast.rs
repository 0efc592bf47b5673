//! Helpers for the group and filter tests: the SOL_MCAST_UNIX options,
//! recvmsg with ancillary data, /proc/net/mcast_unix, socket timeouts.

use crate::sys::{self, check, Errno, SockAddr, SysResult};
use mcast_unix::Socket;
use std::os::fd::AsRawFd;
use mcast_unix::{
    McastUnixMreq, MCAST_UNIX_ADMIT_MEMBER, MCAST_UNIX_CREATE_GROUP, MCAST_UNIX_JOIN_GROUP,
    MCAST_UNIX_LEAVE_GROUP, MCAST_UNIX_PEER_FILTER, SOL_MCAST_UNIX,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh abstract address (unique within this run).
pub fn fresh(af: i32, what: &str) -> SockAddr {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    SockAddr::abstract_(af, format!("g{}-{what}-{n}", std::process::id()).as_bytes())
}

pub fn setopt(fd: &Socket, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
    // SAFETY: val is valid for its length.
    check(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, val.as_ptr().cast(), val.len() as _) } as _).map(|_| ())
}

pub fn mreq(a: &SockAddr, flags: u32) -> McastUnixMreq {
    McastUnixMreq { address: a.sun, address_len: a.len, flags }
}

fn bytes_of<T>(v: &T) -> &[u8] {
    // SAFETY: viewing a plain C struct as bytes.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

pub fn mreq_opt(fd: &Socket, name: i32, a: &SockAddr, flags: u32) -> SysResult<()> {
    setopt(fd, SOL_MCAST_UNIX, name, bytes_of(&mreq(a, flags)))
}

pub fn create_group(fd: &Socket, a: &SockAddr) -> SysResult<()> {
    mreq_opt(fd, MCAST_UNIX_CREATE_GROUP, a, 0)
}

pub fn join(fd: &Socket, a: &SockAddr, flags: u32) -> SysResult<()> {
    mreq_opt(fd, MCAST_UNIX_JOIN_GROUP, a, flags)
}

pub fn leave(fd: &Socket, a: &SockAddr) -> SysResult<()> {
    mreq_opt(fd, MCAST_UNIX_LEAVE_GROUP, a, 0)
}

pub fn admit(fd: &Socket, flags: u32) -> SysResult<()> {
    setopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_ADMIT_MEMBER, &flags.to_ne_bytes())
}

/// A classic BPF program that returns `k` for every message (0 rejects).
pub fn ret_prog(k: u32) -> Vec<libc::sock_filter> {
    vec![libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k }]
}

pub fn fprog(insns: &[libc::sock_filter]) -> libc::sock_fprog {
    libc::sock_fprog { len: insns.len() as u16, filter: insns.as_ptr() as *mut _ }
}

pub fn set_peer_filter(fd: &Socket, insns: Option<&[libc::sock_filter]>) -> SysResult<()> {
    match insns {
        Some(i) => setopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_PEER_FILTER, bytes_of(&fprog(i))),
        None => setopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_PEER_FILTER, &[]),
    }
}

pub fn attach_filter(fd: &Socket, insns: &[libc::sock_filter]) -> SysResult<()> {
    setopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, bytes_of(&fprog(insns)))
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
    pub from: SockAddr,
    /// (level, type, payload)
    pub cmsgs: Vec<(i32, i32, Vec<u8>)>,
}

impl Msg {
    pub fn creds(&self) -> Option<libc::ucred> {
        self.cmsg(libc::SOL_SOCKET, libc::SCM_CREDENTIALS).map(|d| {
            // SAFETY: SCM_CREDENTIALS carries a struct ucred.
            unsafe { std::ptr::read_unaligned(d.as_ptr().cast::<libc::ucred>()) }
        })
    }

    pub fn overflow(&self) -> Option<u32> {
        self.cmsg(libc::SOL_SOCKET, libc::SO_RXQ_OVFL)
            .map(|d| u32::from_ne_bytes([d[0], d[1], d[2], d[3]]))
    }

    fn cmsg(&self, level: i32, ty: i32) -> Option<&[u8]> {
        self.cmsgs.iter().find(|(l, t, _)| *l == level && *t == ty).map(|(_, _, d)| d.as_slice())
    }
}

pub fn recvmsg(fd: &Socket, cap: usize, flags: i32) -> SysResult<Msg> {
    let mut buf = vec![0u8; cap];
    let mut ctl = [0u64; 64];
    let mut from = SockAddr::raw(0, &[]);
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: cap };
    // SAFETY: all-zero is a valid msghdr; every pointer set below is valid.
    let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
    mh.msg_name = (&mut from.sun as *mut libc::sockaddr_un).cast();
    mh.msg_namelen = std::mem::size_of::<libc::sockaddr_un>() as _;
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.as_mut_ptr().cast();
    mh.msg_controllen = std::mem::size_of_val(&ctl) as _;
    // SAFETY: mh describes valid buffers.
    let n = check(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut mh, flags) } as _)? as usize;
    from.len = mh.msg_namelen;
    buf.truncate(n.min(cap));
    let mut cmsgs = Vec::new();
    // SAFETY: walking the control buffer the kernel filled, with libc's macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&mh);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            let len = (*c).cmsg_len as usize - (data as usize - c as usize);
            cmsgs.push(((*c).cmsg_level, (*c).cmsg_type, std::slice::from_raw_parts(data, len).to_vec()));
            c = libc::CMSG_NXTHDR(&mh, c);
        }
    }
    Ok(Msg { len: n, data: buf, flags: mh.msg_flags, from, cmsgs })
}

/// Everything queued at `fd` now: non-blocking reads until EAGAIN, or until
/// an empty read (end of file of a seqpacket socket; the tests send no
/// empty messages to drained sockets).
pub fn drain(fd: &Socket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Ok(d) = sys::recv(fd, 65536, libc::MSG_DONTWAIT) {
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

pub fn set_timeout(fd: &Socket, opt: i32, ms: i64) {
    let tv = libc::timeval { tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000 };
    setopt(fd, libc::SOL_SOCKET, opt, bytes_of(&tv)).expect("timeout");
}

/// Fills a receiver through `tx` (non-blocking sends to `dest`, or the
/// connected destination) until EAGAIN; returns how many fitted.
pub fn fill(tx: &Socket, dest: Option<&SockAddr>, size: usize) -> SysResult<usize> {
    let payload = vec![0x5au8; size];
    for n in 0..100_000 {
        let r = match dest {
            Some(d) => sys::sendto(tx, &payload, libc::MSG_DONTWAIT, d),
            None => sys::send(tx, &payload, libc::MSG_DONTWAIT),
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
pub fn proc_group(a: &SockAddr) -> Option<Vec<String>> {
    let name = a.show();
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
pub fn dgram_group(af: i32) -> (Socket, SockAddr) {
    let owner = sock(af, libc::SOCK_DGRAM);
    let a = fresh(af, "dg");
    create_group(&owner, &a).expect("create");
    (owner, a)
}

/// `n` datagram members of the group at `a`, joined with `flags`.
pub fn members(af: i32, a: &SockAddr, n: usize, flags: u32) -> Vec<Socket> {
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
