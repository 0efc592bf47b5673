//! Descriptor passing (SCM_RIGHTS): each recipient of a message, unicast or
//! group, gets descriptors of its own when it reads it; the descriptors of
//! a message nobody reads are released on every path (close, drop, filter
//! reject, failed send); sockets (of any family) are refused, so nothing in
//! flight can hold the family's sockets (see
//! Documentation/design-fd-passing.md).
//!
//! Whether the kernel still holds a pipe's read end is seen from its write
//! end: a write gives EPIPE once no read end is left anywhere (the test
//! binary ignores SIGPIPE, as every Rust program does).

use crate::harness::{expect_eq, Case, CaseResult};
use crate::mcast::*;
use crate::seqgroups::Bus;
use crate::sys::{self, Errno, IntoSys, RecvOpts};
use crate::{case, ensure};
use mcast_unix::{Socket, MCAST_UNIX_DROP_WHEN_FULL as DROPS, MCAST_UNIX_LOOPBACK as LOOP, MCAST_UNIX_SEND_TO_PEER as TO_PEER};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

type R<T> = Result<T, String>;

const D: i32 = libc::SOCK_DGRAM;
const S: i32 = libc::SOCK_SEQPACKET;
const DONTWAIT: i32 = libc::MSG_DONTWAIT;
/// SCM_MAX_FD of the kernel.
const MAX_FD: usize = 253;

fn pipe() -> (OwnedFd, OwnedFd) {
    sys::pipe().expect("pipe")
}

/// True if no read end of the pipe whose write end is `w` is left.
fn readers_gone(w: &OwnedFd) -> bool {
    sys::write(w, b"x") == Err(Errno(libc::EPIPE))
}

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// A bound datagram receiver and a sender connected to it.
fn dgram_pair(af: i32) -> (Socket, Socket) {
    let rx = sock(af, D);
    let a = fresh("fds");
    rx.bind(&a).sys().expect("bind");
    let tx = sock(af, D);
    tx.connect(&a).sys().expect("connect");
    (tx, rx)
}

/// A connected seqpacket pair: the client and the accepted socket.
fn seq_pair(af: i32) -> (Socket, Socket) {
    let l = sock(af, S);
    let a = fresh("fds-l");
    l.bind(&a).sys().expect("bind");
    l.listen(4).sys().expect("listen");
    let c = sock(af, S);
    c.connect(&a).sys().expect("connect");
    let (acc, _) = l.accept().sys().expect("accept");
    (c, acc)
}

fn send_fds(tx: &Socket, fds: &[BorrowedFd<'_>]) -> Result<usize, Errno> {
    tx.send_msg(b"fd", None, None, fds, DONTWAIT).sys()
}

/// The next message at `rx`: its bytes and the descriptors it passed.
fn recv_fds(rx: &Socket, flags: i32) -> R<(Vec<u8>, Vec<OwnedFd>, i32)> {
    let mut buf = [0u8; 64];
    let m = rx.recv_msg(&mut buf, flags | DONTWAIT).map_err(|e| format!("recvmsg: {e}"))?;
    Ok((buf[..m.len].to_vec(), m.fds, m.flags))
}

/// Reads one message through `fd` (a received pipe read end) after writing
/// `what` to the write end: the passed descriptor is the pipe.
fn works(fd: &OwnedFd, w: &OwnedFd, what: &[u8]) -> R<()> {
    sys::write(w, what).map_err(|e| format!("write: {e:?}"))?;
    expect_eq("read through the received descriptor", sys::read(fd, 64), Ok(what.to_vec()))
}


/// Files put in flight whose release the case can see from outside once
/// its own descriptors for them are closed (the kernel's `fput()` of the
/// last reference):
/// - a pipe's read end: the kept write end then gets `EPIPE`;
/// - a pipe's write end: the kept read end (nonblocking) then reads end of
///   file instead of `EAGAIN`;
/// - an eventfd, readable, in a kept epoll set: releasing a file removes it
///   from every epoll set, so the set stops reporting it;
/// - a memfd holding an open-file-description lock (`F_OFD_SETLK`), seen
///   from a second open of the same memfd (`F_OFD_GETLK`): the lock goes
///   when its file is released, not when one descriptor of it closes.
struct InFlight {
    /// The four files, until [`close_own`](Self::close_own).
    own: Vec<OwnedFd>,
    pipe_a_w: OwnedFd,
    pipe_b_r: OwnedFd,
    epoll: sys::Epoll,
    memfd_again: OwnedFd,
}

/// A `struct flock` of type `ty` over a whole file, for the OFD calls.
fn whole_file(ty: libc::c_int) -> libc::flock {
    // SAFETY: all-zero is a valid struct flock (l_pid must be 0 for OFD locks).
    let mut l: libc::flock = unsafe { std::mem::zeroed() };
    l.l_type = ty as _;
    l.l_whence = libc::SEEK_SET as _;
    l
}

/// The names of [`InFlight`]'s files, in the order of its descriptors.
const KINDS: [&str; 4] = ["pipe read end", "pipe write end", "eventfd", "memfd"];

fn raw(r: libc::c_int, what: &str) -> R<OwnedFd> {
    sys::check(r as _).map(sys::owned).map_err(|e| format!("{what}: {e:?}"))
}

impl InFlight {
    fn new() -> R<InFlight> {
        let (a_r, pipe_a_w) = pipe();
        let (pipe_b_r, b_w) = pipe();
        // SAFETY: F_SETFL on a descriptor we own.
        sys::check(unsafe { libc::fcntl(pipe_b_r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } as _).map_err(|e| format!("O_NONBLOCK: {e:?}"))?;
        // SAFETY: plain syscalls creating new descriptors.
        let efd = raw(unsafe { libc::eventfd(1, libc::EFD_CLOEXEC) }, "eventfd")?;
        let memfd = raw(unsafe { libc::memfd_create(c"mcast-inflight".as_ptr(), libc::MFD_CLOEXEC) }, "memfd_create")?;
        let mut lock = whole_file(libc::F_WRLCK);
        // SAFETY: F_OFD_SETLK with a valid struct flock.
        sys::check(unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) } as _).map_err(|e| format!("F_OFD_SETLK: {e:?}"))?;
        let path = std::ffi::CString::new(format!("/proc/self/fd/{}", memfd.as_raw_fd())).expect("no NUL");
        // SAFETY: a valid C string; opening the memfd again makes a second file.
        let memfd_again = raw(unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) }, "open the memfd again")?;
        let epoll = sys::Epoll::new().map_err(|e| format!("epoll: {e:?}"))?;
        epoll.add(&efd, libc::EPOLLIN as u32).map_err(|e| format!("epoll add: {e:?}"))?;
        Ok(InFlight { own: vec![a_r, b_w, efd, memfd], pipe_a_w, pipe_b_r, epoll, memfd_again })
    }

    /// The four files, to send.
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.own.iter().map(|f| f.as_fd()).collect()
    }

    /// Closes this process's descriptors for the four files.
    fn close_own(&mut self) {
        self.own.clear();
    }

    /// The kinds of [`KINDS`] still held somewhere.
    fn held(&self) -> R<Vec<&'static str>> {
        let mut held = Vec::new();
        if !readers_gone(&self.pipe_a_w) {
            held.push(KINDS[0]);
        }
        match sys::read(&self.pipe_b_r, 16) {
            Ok(d) if d.is_empty() => {}
            Err(Errno(libc::EAGAIN)) => held.push(KINDS[1]),
            other => return Err(format!("read of the pipe whose write end is in flight: {other:?}")),
        }
        if !self.epoll.wait(0).map_err(|e| format!("epoll_wait: {e:?}"))?.is_empty() {
            held.push(KINDS[2]);
        }
        let mut probe = whole_file(libc::F_WRLCK);
        // SAFETY: F_OFD_GETLK with a valid struct flock.
        sys::check(unsafe { libc::fcntl(self.memfd_again.as_raw_fd(), libc::F_OFD_GETLK, &mut probe) } as _).map_err(|e| format!("F_OFD_GETLK: {e:?}"))?;
        if i32::from(probe.l_type) != libc::F_UNLCK {
            held.push(KINDS[3]);
        }
        Ok(held)
    }

    /// Waits (bounded) until every file is released. A socket's queue may
    /// be purged after its close returns (its last reference can go with
    /// an RCU callback, whose `fput()` is deferred), so this polls.
    fn wait_released(&self, what: &str) -> CaseResult {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let held = self.held()?;
            if held.is_empty() {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "{what}: still held 5 s after every socket closed: {held:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The module's reference count (`/sys/module/mcast_unix/refcnt`): one
/// for each socket of the family, among others.
fn refcnt() -> R<u64> {
    let s = std::fs::read_to_string("/sys/module/mcast_unix/refcnt").map_err(|e| format!("refcnt: {e}"))?;
    s.trim().parse().map_err(|e| format!("refcnt {s:?}: {e}"))
}

/// The scm_rights-style reclaim check: `setup` builds sockets and queues
/// [`InFlight`]'s files at them (every socket it returns, in the order
/// they are closed); nobody reads. After this process closes its own
/// descriptors the files must still be held (they are in flight) and the
/// module must be busy (rmmod refused); after the sockets close, every file
/// is released, the module's refcount is back at its baseline and this
/// process has as many descriptors open as before.
fn reclaim(setup: impl FnOnce(&InFlight) -> R<Vec<Socket>>) -> CaseResult {
    let fds_before = open_fds();
    let ref_before = refcnt()?;
    let mut f = InFlight::new()?;
    let socks = setup(&f)?;
    f.close_own();
    expect_eq("held while in flight", f.held()?, KINDS.to_vec())?;
    let busy = refcnt()?;
    ensure!(busy > ref_before, "module refcount {busy} with {} sockets open (baseline {ref_before})", socks.len());
    let rmmod = sys::delete_module("mcast_unix");
    ensure!(matches!(rmmod, Err(Errno(libc::EAGAIN | libc::EBUSY))), "rmmod with descriptors in flight: {rmmod:?}");
    drop(socks);
    f.wait_released("the in-flight files")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while refcnt()? > ref_before && Instant::now() < deadline {
        // Freed member lists drop their socket references after an RCU grace period.
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = refcnt()?;
    ensure!(after <= ref_before, "module refcount {after} after every socket closed (baseline {ref_before})");
    drop(f);
    expect_eq("descriptors open in this process", open_fds(), fds_before)
}

/// Sends the in-flight files through `tx` (to `to`, or its peer): all four
/// in one message, then each in one of its own.
fn queue(tx: &Socket, to: Option<&mcast_unix::Addr>, f: &InFlight) -> R<()> {
    let fds = f.fds();
    let mut sets: Vec<&[BorrowedFd<'_>]> = vec![&fds];
    sets.extend(fds.chunks(1));
    for set in sets {
        tx.send_msg(b"in flight", to, None, set, DONTWAIT).map_err(|e| format!("send {} descriptors: {e}", set.len()))?;
    }
    Ok(())
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    for (ty, name) in [(D, "dgram"), (S, "seqpacket")] {
        let title = format!("fds: {name}: a pipe end passed unicast is read through the received descriptor");
        v.push(Case::new(title, move || {
            let (tx, rx) = if ty == D { dgram_pair(af) } else { seq_pair(af) };
            let (r, w) = pipe();
            expect_eq("send", send_fds(&tx, &[r.as_fd()]), Ok(2))?;
            drop(r);
            ensure!(!readers_gone(&w), "the read end in flight is not held");
            let (data, fds, flags) = recv_fds(&rx, 0)?;
            expect_eq("data", data, b"fd".to_vec())?;
            expect_eq("flags", flags & libc::MSG_CTRUNC, 0)?;
            expect_eq("descriptors", fds.len(), 1)?;
            // Drain what readers_gone wrote.
            sys::read(&fds[0], 64).map_err(|e| format!("read: {e:?}"))?;
            works(&fds[0], &w, b"hello")?;
            drop(fds);
            ensure!(readers_gone(&w), "the read end is still held after the received one was closed");
            Ok(())
        }));
    }

    case!(v, "fds", "group: each of 3 members gets a working descriptor of its own", |af| {
        let (_owner, a) = dgram_group(af);
        let ms = members(af, &a, 3, 0);
        let tx = sock(af, D);
        let (r, w) = pipe();
        expect_eq("send", tx.send_msg(b"fd", Some(&a), None, &[w.as_fd()], DONTWAIT).sys(), Ok(2))?;
        drop(w);
        let mut got = Vec::new();
        for (i, m) in ms.iter().enumerate() {
            let (_, mut fds, _) = recv_fds(m, 0)?;
            ensure!(fds.len() == 1, "member {i}: {} descriptors", fds.len());
            got.push(fds.remove(0));
        }
        let nums: Vec<i32> = got.iter().map(|f| f.as_raw_fd()).collect();
        ensure!(nums[0] != nums[1] && nums[1] != nums[2] && nums[0] != nums[2], "descriptors {nums:?}");
        // Each writes through its own; closing one leaves the others working.
        for (i, fd) in got.iter().enumerate() {
            sys::write(fd, &[b'0' + i as u8]).map_err(|e| format!("write {i}: {e:?}"))?;
        }
        expect_eq("the pipe got all three", sys::read(&r, 16), Ok(b"012".to_vec()))?;
        drop(got.remove(0));
        sys::write(&got[0], b"a").map_err(|e| format!("write after a close: {e:?}"))?;
        expect_eq("still one pipe", sys::read(&r, 16), Ok(b"a".to_vec()))
    });

    case!(v, "fds", "group: a member that closes without reading releases its copy; one that reads keeps its own", |af| {
        let (_owner, a) = dgram_group(af);
        let mut ms = members(af, &a, 2, 0);
        let tx = sock(af, D);
        let (r, w) = pipe();
        tx.send_msg(b"fd", Some(&a), None, &[r.as_fd()], DONTWAIT).sys().expect("send");
        drop(r);
        let (_, fds, _) = recv_fds(&ms[0], 0)?;
        expect_eq("reader's descriptors", fds.len(), 1)?;
        drop(fds);
        ensure!(!readers_gone(&w), "the unread copy at the second member is not held");
        drop(ms.pop());
        ensure!(readers_gone(&w), "the closed member's queued descriptor was not released");
        Ok(())
    });

    case!(v, "fds", "seqpacket group: a member that closes without reading releases it", |af| {
        let bus = Bus::new(af);
        let a = bus.member(0);
        let b = bus.member(0);
        let (r, w) = pipe();
        expect_eq("send", send_fds(&a.client, &[r.as_fd()]), Ok(2))?;
        drop(r);
        ensure!(!readers_gone(&w), "not in flight");
        drop(b);
        // The sender's own copy (if any: no LOOPBACK) and the owner's side.
        let _ = recv_fds(&a.client, 0);
        let _ = recv_fds(&a.accepted, 0);
        let _ = recv_fds(&bus.owner, 0);
        ensure!(readers_gone(&w), "the closed member's descriptor was not released");
        Ok(())
    });

    case!(v, "fds", "group: a member whose filter rejects the message never gets the descriptor", |af| {
        let (_owner, a) = dgram_group(af);
        let ms = members(af, &a, 2, 0);
        attach_filter(&ms[1], &ret_prog(0)).expect("filter");
        let tx = sock(af, D);
        let (r, w) = pipe();
        tx.send_msg(b"fd", Some(&a), None, &[r.as_fd()], DONTWAIT).sys().expect("send");
        drop(r);
        expect_eq("rejecting member's queue", drain(&ms[1]).len(), 0)?;
        let (_, fds, _) = recv_fds(&ms[0], 0)?;
        expect_eq("accepting member's descriptors", fds.len(), 1)?;
        drop(fds);
        ensure!(readers_gone(&w), "a reference survives the accepting member's read");
        Ok(())
    });

    case!(v, "fds", "group: a DROP_WHEN_FULL member that is full loses the message and its descriptors", |af| {
        let (_owner, a) = dgram_group(af);
        let ms = members(af, &a, 1, DROPS);
        ms[0].set_recv_buffer_size(2048).sys().expect("SO_RCVBUF");
        let tx = sock(af, D);
        // Full (DROP_WHEN_FULL sends never wait).
        for _ in 0..200 {
            tx.send_to_with_flags(&[0u8; 512], &a, DONTWAIT).sys().expect("fill");
        }
        let (r, w) = pipe();
        tx.send_msg(b"fd", Some(&a), None, &[r.as_fd()], DONTWAIT).sys().expect("send");
        drop(r);
        ensure!(readers_gone(&w), "the dropped copy's descriptor was not released");
        Ok(())
    });

    case!(v, "fds", "MSG_PEEK twice installs two descriptors, the read a third", |af| {
        let (tx, rx) = dgram_pair(af);
        let (r, w) = pipe();
        send_fds(&tx, &[r.as_fd()]).expect("send");
        drop(r);
        let (_, p1, _) = recv_fds(&rx, libc::MSG_PEEK)?;
        let (_, p2, _) = recv_fds(&rx, libc::MSG_PEEK)?;
        let (_, got, _) = recv_fds(&rx, 0)?;
        ensure!(p1.len() == 1 && p2.len() == 1 && got.len() == 1, "{} {} {}", p1.len(), p2.len(), got.len());
        ensure!(p1[0].as_raw_fd() != p2[0].as_raw_fd(), "the same descriptor twice");
        works(&p1[0], &w, b"1")?;
        works(&p2[0], &w, b"2")?;
        works(&got[0], &w, b"3")?;
        expect_eq("queue empty", drain(&rx).len(), 0)?;
        drop((p1, p2, got));
        ensure!(readers_gone(&w), "a reference survives");
        Ok(())
    });

    case!(v, "fds", "a control buffer too small: MSG_CTRUNC, what fits is installed, the rest released", |af| {
        let (tx, rx) = dgram_pair(af);
        let (r, w) = pipe();
        // SAFETY: CMSG_SPACE only computes a size. Room for a header and two
        // descriptors (the kernel fills cmsg_len, not CMSG_SPACE).
        let two = unsafe { libc::CMSG_SPACE(4) } as usize;
        for control in [0, two] {
            send_fds(&tx, &[r.as_fd(), r.as_fd(), r.as_fd()]).expect("send");
            let before = open_fds();
            let m = sys::recvmsg(&rx, &RecvOpts { iov: &[8], name: false, control }, DONTWAIT).map_err(|e| format!("recvmsg: {e:?}"))?;
            ensure!(m.flags & libc::MSG_CTRUNC != 0, "control {control}: no MSG_CTRUNC ({:#x})", m.flags);
            let want = if control == 0 { 0 } else { 2 };
            expect_eq("descriptors installed", m.fds.len(), want)?;
            expect_eq("descriptors open", open_fds(), before + want)?;
        }
        drop(r);
        ensure!(readers_gone(&w), "truncated descriptors were not released");
        Ok(())
    });

    case!(v, "fds", "MSG_CMSG_CLOEXEC sets close-on-exec on the installed descriptors", |af| {
        let (tx, rx) = dgram_pair(af);
        let (r, _w) = pipe();
        for (flags, want) in [(0, 0), (libc::MSG_CMSG_CLOEXEC, libc::FD_CLOEXEC)] {
            send_fds(&tx, &[r.as_fd()]).expect("send");
            let (_, fds, _) = recv_fds(&rx, flags)?;
            ensure!(fds.len() == 1, "no descriptor");
            // SAFETY: F_GETFD on a descriptor we own.
            let got = unsafe { libc::fcntl(fds[0].as_raw_fd(), libc::F_GETFD) };
            expect_eq("FD_CLOEXEC", got & libc::FD_CLOEXEC, want)?;
        }
        Ok(())
    });

    case!(v, "fds", "253 descriptors pass, 254 are EINVAL (as AF_UNIX)", |af| {
        let (tx, rx) = dgram_pair(af);
        let (r, w) = pipe();
        let many: Vec<BorrowedFd<'_>> = (0..MAX_FD + 1).map(|_| r.as_fd()).collect();
        expect_eq("254", send_fds(&tx, &many), Err(Errno(libc::EINVAL)))?;
        expect_eq("253", send_fds(&tx, &many[..MAX_FD]), Ok(2))?;
        let (_, fds, flags) = recv_fds(&rx, 0)?;
        expect_eq("received", (fds.len(), flags & libc::MSG_CTRUNC), (MAX_FD, 0))?;
        expect_eq("nothing else queued", drain(&rx).len(), 0)?;
        drop((fds, r));
        ensure!(readers_gone(&w), "a reference survives");
        Ok(())
    });

    case!(v, "fds", "sockets are refused with EOPNOTSUPP: the family's, AF_UNIX's, the sending socket itself", |af| {
        let (tx, rx) = dgram_pair(af);
        let ours = sock(af, D);
        let (u1, _u2) = std::os::unix::net::UnixDatagram::pair().expect("socketpair");
        let (r, w) = pipe();
        for (what, fd) in [("ours", ours.as_fd()), ("AF_UNIX", u1.as_fd()), ("itself", tx.as_fd()), ("receiver", rx.as_fd())] {
            // A pipe end first: taken, then released when the socket is refused.
            expect_eq(what, send_fds(&tx, &[r.as_fd(), fd]), Err(Errno(libc::EOPNOTSUPP)))?;
        }
        let (s1, _s2) = seq_pair(af);
        expect_eq("seqpacket itself", send_fds(&s1, &[s1.as_fd()]), Err(Errno(libc::EOPNOTSUPP)))?;
        expect_eq("nothing queued", drain(&rx).len(), 0)?;
        drop(r);
        ensure!(readers_gone(&w), "a refused message kept a reference");
        Ok(())
    });

    case!(v, "fds", "a closed or negative descriptor is EBADF (as AF_UNIX), nothing held", |af| {
        let (tx, rx) = dgram_pair(af);
        let (r, w) = pipe();
        let closed = {
            let (a, _b) = pipe();
            a.as_raw_fd()
        };
        // (-1 cannot be a BorrowedFd; any negative number is EBADF.)
        for bad in [closed, -2] {
            // SAFETY: the descriptor is only passed to the kernel as a number.
            let b = unsafe { BorrowedFd::borrow_raw(bad) };
            expect_eq("bad", send_fds(&tx, &[r.as_fd(), b]), Err(Errno(libc::EBADF)))?;
        }
        expect_eq("nothing queued", drain(&rx).len(), 0)?;
        drop(r);
        ensure!(readers_gone(&w), "a failed send kept a reference");
        Ok(())
    });

    case!(v, "fds", "a receiver that never reads is bounded: descriptor sends stop with EAGAIN, and a refused send holds nothing", |af| {
        let (tx, rx) = dgram_pair(af);
        let (r, w) = pipe();
        let many: Vec<BorrowedFd<'_>> = (0..MAX_FD).map(|_| r.as_fd()).collect();
        let mut n = 0;
        let last = loop {
            match send_fds(&tx, &many) {
                Ok(_) if n < 10_000 => n += 1,
                other => break other,
            }
        };
        expect_eq("the send that does not fit", last, Err(Errno(libc::EAGAIN)))?;
        // A plain message of the same size fits far more often.
        let plain = {
            let (tx2, _rx2) = dgram_pair(af);
            fill(&tx2, None, 2).expect("fill")
        };
        ensure!(n >= 1 && n * 4 < plain, "{n} messages of {MAX_FD} descriptors queued ({plain} plain ones fit)");
        drop(r);
        ensure!(!readers_gone(&w), "queued descriptors not held");
        drop(rx);
        ensure!(readers_gone(&w), "the closed receiver's queue was not released ({n} messages)");
        Ok(())
    });

    case!(v, "fds", "a send to a closed receiver (ECONNREFUSED) releases the descriptors", |af| {
        let (tx, rx) = dgram_pair(af);
        drop(rx);
        let (r, w) = pipe();
        expect_eq("send", send_fds(&tx, &[r.as_fd()]), Err(Errno(libc::ECONNREFUSED)))?;
        drop(r);
        ensure!(readers_gone(&w), "a failed send kept a reference");
        Ok(())
    });

    // The ideas of the kernel selftest net/af_unix/scm_rights.c (a socket
    // sent through itself, rings of sockets sent through each other, then
    // close and check that everything was reclaimed): here no socket can be
    // put in flight at all, so no cycle can form; files of other kinds
    // queued at sockets that close unread are released on every path.

    case!(v, "fds", "scm_rights-style: no socket can be put in flight: a seqpacket end sending its peer or its listener, a ring of three pairs (the selftest's triangle)", |af| {
        let l = sock(af, S);
        let a = fresh("fds-ring-l");
        l.bind(&a).sys().expect("bind");
        l.listen(4).sys().expect("listen");
        let c = sock(af, S);
        c.connect(&a).sys().expect("connect");
        let (acc, _) = l.accept().sys().expect("accept");
        let (r, w) = pipe();
        for (what, tx, fd) in [("client sends its peer", &c, acc.as_fd()), ("accepted sends its peer", &acc, c.as_fd()), ("client sends the listener", &c, l.as_fd()), ("accepted sends itself", &acc, acc.as_fd())] {
            expect_eq(what, send_fds(tx, &[r.as_fd(), fd]), Err(Errno(libc::EOPNOTSUPP)))?;
        }
        let pairs: Vec<(Socket, Socket)> = (0..3).map(|_| Socket::pair(af, mcast_unix::SockType::Seqpacket).sys().expect("socketpair")).collect();
        for i in 0..3 {
            let next = &pairs[(i + 1) % 3].1;
            expect_eq(&format!("pair {i} sends pair {}'s end", (i + 1) % 3), send_fds(&pairs[i].0, &[next.as_fd()]), Err(Errno(libc::EOPNOTSUPP)))?;
        }
        for (what, s) in [("client", &c), ("accepted", &acc)] {
            expect_eq(&format!("{what}'s queue"), drain(s).len(), 0)?;
        }
        for (i, p) in pairs.iter().enumerate() {
            expect_eq(&format!("pair {i}'s queue"), drain(&p.1).len(), 0)?;
        }
        drop(r);
        ensure!(readers_gone(&w), "a refused message kept the pipe end sent with the socket");
        Ok(())
    });

    case!(v, "fds", "scm_rights-style: a group member cannot send the group's own sockets to the group: the owner, itself, another member (datagram and seqpacket)", |af| {
        let (owner, a) = dgram_group(af);
        let ms = members(af, &a, 2, LOOP);
        let (r, w) = pipe();
        for (what, fd) in [("the owner", owner.as_fd()), ("itself", ms[0].as_fd()), ("another member", ms[1].as_fd())] {
            let got = ms[0].send_msg(b"fd", Some(&a), None, &[r.as_fd(), fd], DONTWAIT).sys();
            expect_eq(&format!("datagram member sends {what}"), got, Err(Errno(libc::EOPNOTSUPP)))?;
        }
        for (i, m) in ms.iter().enumerate() {
            expect_eq(&format!("datagram member {i}'s queue"), drain(m).len(), 0)?;
        }
        let bus = Bus::new(af);
        let x = bus.member(LOOP | TO_PEER);
        let y = bus.member(0);
        for (what, fd) in [("the owner", bus.owner.as_fd()), ("itself", x.client.as_fd()), ("its accepted socket", x.accepted.as_fd()), ("another member", y.client.as_fd())] {
            expect_eq(&format!("seqpacket member sends {what}"), send_fds(&x.client, &[r.as_fd(), fd]), Err(Errno(libc::EOPNOTSUPP)))?;
        }
        expect_eq("the owner sends its listener on an accepted socket", send_fds(&y.accepted, &[r.as_fd(), bus.owner.as_fd()]), Err(Errno(libc::EOPNOTSUPP)))?;
        for (what, s) in [("x", &x.client), ("x's accepted", &x.accepted), ("y", &y.client), ("y's accepted", &y.accepted)] {
            expect_eq(&format!("{what}'s queue"), drain(s).len(), 0)?;
        }
        drop(r);
        ensure!(readers_gone(&w), "a refused message kept the pipe end sent with the socket");
        Ok(())
    });

    case!(v, "fds", "scm_rights-style reclaim: unicast: pipe ends, an eventfd and a memfd queued both ways at a datagram pair and a bound receiver, closed unread: all released, module refcount back", |af| {
        reclaim(|f| {
            let (tx, rx) = dgram_pair(af);
            queue(&tx, None, f)?;
            let (p, q) = Socket::pair(af, mcast_unix::SockType::Dgram).map_err(|e| e.to_string())?;
            queue(&p, None, f)?;
            queue(&q, None, f)?;
            // Sent by a socket to its own bound address.
            let me = sock(af, D);
            let at = fresh("fds-self");
            me.bind(&at).sys().expect("bind");
            queue(&me, Some(&at), f)?;
            Ok(vec![rx, tx, p, q, me])
        })
    });

    case!(v, "fds", "scm_rights-style reclaim: seqpacket: files queued at both ends of a connection and at a connection never accepted, closed unread: all released, module refcount back", |af| {
        reclaim(|f| {
            let l = sock(af, S);
            let a = fresh("fds-reclaim-l");
            l.bind(&a).sys().expect("bind");
            l.listen(4).sys().expect("listen");
            let c = sock(af, S);
            c.connect(&a).sys().expect("connect");
            let (acc, _) = l.accept().sys().expect("accept");
            queue(&c, None, f)?;
            queue(&acc, None, f)?;
            // Queued before accept: held by the listener's pending connection.
            let pending = sock(af, S);
            pending.connect(&a).sys().expect("connect");
            queue(&pending, None, f)?;
            Ok(vec![l, acc, c, pending])
        })
    });

    case!(v, "fds", "scm_rights-style reclaim: datagram group: copies at plain, LOOPBACK (sent to itself), DROP_WHEN_FULL members and at the owner (SEND_TO_PEER), closed unread, owner first: all released, module refcount back", |af| {
        reclaim(|f| {
            let (owner, a) = dgram_group(af);
            let plain = members(af, &a, 2, 0);
            let looped = members(af, &a, 1, LOOP | TO_PEER);
            let drops = members(af, &a, 1, DROPS);
            queue(&looped[0], Some(&a), f)?;
            queue(&plain[0], Some(&a), f)?;
            ensure!(inq(&looped[0]) > 0, "the LOOPBACK member's own copies are not queued at it");
            ensure!(inq(&owner) > 0, "the SEND_TO_PEER copies are not queued at the owner");
            Ok([vec![owner], plain, looped, drops].into_iter().flatten().collect())
        })
    });

    case!(v, "fds", "scm_rights-style reclaim: seqpacket group: copies at members, at a LOOPBACK member that sent them, at accepted sockets (SEND_TO_PEER, unicast to the owner and from it), closed unread, owner first: all released, module refcount back", |af| {
        reclaim(|f| {
            let bus = Bus::new(af);
            let looped = bus.member(LOOP | TO_PEER);
            let plain = bus.member(0);
            let outsider = bus.connect();
            queue(&looped.client, None, f)?;
            queue(&plain.client, None, f)?;
            queue(&outsider.client, None, f)?;
            queue(&plain.accepted, None, f)?;
            ensure!(inq(&looped.client) > 0, "the LOOPBACK member's own copies are not queued at it");
            ensure!(inq(&looped.accepted) > 0, "the SEND_TO_PEER copies are not queued at the accepted socket");
            let Bus { owner, .. } = bus;
            Ok(vec![owner, looped.accepted, plain.accepted, outsider.accepted, looped.client, plain.client, outsider.client])
        })
    });

    case!(v, "fds", "scm_rights-style reclaim: the only member of a group queued the files to itself (LOOPBACK) and closes first, then the owner (datagram and seqpacket)", |af| {
        reclaim(|f| {
            let (owner, a) = dgram_group(af);
            let me = members(af, &a, 1, LOOP);
            queue(&me[0], Some(&a), f)?;
            ensure!(inq(&me[0]) > 0, "the datagram member's own copies are not queued at it");
            let bus = Bus::new(af);
            let m = bus.member(LOOP);
            queue(&m.client, None, f)?;
            ensure!(inq(&m.client) > 0, "the seqpacket member's own copies are not queued at it");
            let Bus { owner: sowner, .. } = bus;
            Ok(me.into_iter().chain([m.client, m.accepted, owner, sowner]).collect())
        })
    });

    v
}
