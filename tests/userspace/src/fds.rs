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

use crate::harness::{expect_eq, Case};
use crate::mcast::*;
use crate::seqgroups::Bus;
use crate::sys::{self, Errno, IntoSys, RecvOpts};
use crate::{case, ensure};
use mcast_unix::{Socket, MCAST_UNIX_DROP_WHEN_FULL as DROPS};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

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

    v
}
