//! The client library's async sockets (`mcast_unix::tokio`, on tokio's
//! `AsyncFd`) on the module's family: what the library's host tests can
//! only show on AF_UNIX — waking on group messages, back-pressure from full
//! members through `POLLOUT`, admission, drops, descriptors, end of file —
//! end to end, on a current-thread runtime.
//!
//! Nothing here sleeps to synchronise. A future that must wait is polled
//! once by hand and seen `Pending` before the event that should wake it;
//! the reactor is then given its turn (`settle`) and the future awaited
//! with a bound ([`WAKE`]), so a wake-up that never comes fails the case
//! instead of hanging it; every case as a whole is bounded too
//! ([`CASE_LIMIT`]); the case with many tasks fails once none of them has
//! moved for [`STALL`], and then says where each one stopped. The sockets'
//! kernel state is checked directly with poll() where the contract speaks
//! of it (`POLLOUT`, `POLLHUP`).

use crate::harness::{expect_eq, Case, CaseResult};
use crate::mcast::{fresh, proc_group};
use crate::sys::{self, Errno};
use crate::{case, ensure};
use mcast_unix::tokio::{AsyncDatagram, AsyncGroupListener, AsyncSeqpacket};
use mcast_unix::{Addr, McastDatagram, McastGroupListener, McastSeqpacket, MembershipFlags};
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::time::timeout;

/// No case may take longer (a lost wake-up fails, not hangs); generous, as
/// a host busy with other work slows the emulated VM many times over.
const CASE_LIMIT: Duration = Duration::from_secs(300);
/// How long an awaited call whose event has happened may take.
const WAKE: Duration = Duration::from_secs(10);
/// How long the many-task case may go without any task moving.
const STALL: Duration = Duration::from_secs(20);
/// A receive buffer that a few messages fill.
const SMALL_RCVBUF: usize = 4096;

type R<T> = Result<T, String>;

/// The error of an I/O call, with what was being done.
trait Ctx<T> {
    fn ctx(self, what: &str) -> R<T>;
}

impl<T> Ctx<T> for io::Result<T> {
    fn ctx(self, what: &str) -> R<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// Runs a case's body on a fresh current-thread runtime (I/O and timers),
/// bounded by [`CASE_LIMIT`].
fn run(body: impl Future<Output = CaseResult>) -> CaseResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async {
        timeout(CASE_LIMIT, body)
            .await
            .unwrap_or_else(|_| Err(format!("the case did not finish within {CASE_LIMIT:?}")))
    })
}

/// Polls `f` once: its output, or `Pending` (the future stays usable).
async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
}

/// Lets the runtime poll its reactor, so events the kernel has reported
/// reach the futures waiting for them.
async fn settle() {
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
}

/// Awaits `f`, which must finish within [`WAKE`].
async fn within<F: Future>(what: &str, f: F) -> R<F::Output> {
    timeout(WAKE, f).await.map_err(|_| format!("{what}: not done {WAKE:?} after its event (no wake-up?)"))
}

/// Fails unless `f`, polled once, is still waiting.
async fn still_pending<F: Future + Unpin>(what: &str, f: &mut F) -> CaseResult
where
    F::Output: std::fmt::Debug,
{
    match poll_once(f).await {
        Poll::Pending => Ok(()),
        Poll::Ready(out) => Err(format!("{what}: finished early with {out:?}")),
    }
}

/// Message `i` of sender `tag`: 8 bytes, the tag first.
fn msg(tag: u8, i: u32) -> [u8; 8] {
    let mut m = [tag; 8];
    m[4..].copy_from_slice(&i.to_ne_bytes());
    m
}

/// The (tag, number) of a message made by [`msg`].
fn parse(m: &[u8]) -> R<(u8, u32)> {
    ensure!(m.len() == 8, "a message of {} bytes", m.len());
    Ok((m[0], u32::from_ne_bytes(m[4..8].try_into().expect("4 bytes"))))
}

/// Everything queued at `s` now (it is nonblocking or registered).
fn drain_nb<S: AsRawFd>(s: &S) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Ok(d) = crate::sys::recvfrom(s, 65536, libc::MSG_DONTWAIT) {
        if d.0 == 0 {
            break;
        }
        out.push(d.1);
    }
    out
}

/// poll() revents of `s` for `events`, without waiting.
fn revents<S: AsRawFd>(s: &S, events: i16) -> R<i16> {
    sys::poll(s, events, 0).map_err(|e| format!("poll: {e:?}"))
}

/// Sends [`msg`]`(tag, 0..)` through the registered `tx` (connected to a
/// group) until the kernel says `EAGAIN`; returns how many went.
fn fill(tx: &AsyncDatagram, tag: u8) -> R<u32> {
    for i in 0..100_000 {
        match tx.get_ref().send(&msg(tag, i)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(i),
            Err(e) => return Err(format!("fill: {e}")),
        }
    }
    Err("fill: the group never became full".into())
}

/// A datagram group: its owner, address, and `n` members joined with
/// `flags`, each with a receive buffer of `rcvbuf` bytes (0: the default).
fn group(af: i32, what: &str, n: usize, flags: MembershipFlags, rcvbuf: usize) -> R<(McastDatagram, Addr, Vec<McastDatagram>)> {
    let a = fresh(what);
    let owner = McastDatagram::create_group_in(af, &a).ctx("create_group")?;
    let mut ms = Vec::new();
    for _ in 0..n {
        let m = McastDatagram::unbound_in(af).ctx("socket")?;
        if rcvbuf > 0 {
            m.set_recv_buffer_size(rcvbuf).ctx("SO_RCVBUF")?;
        }
        m.join_group(&a, flags).ctx("join")?;
        ms.push(m);
    }
    Ok((owner, a, ms))
}

/// An async sender connected to the group at `a` (so its `POLLOUT`
/// follows the members').
fn connected_sender(af: i32, a: &Addr) -> R<AsyncDatagram> {
    let tx = McastDatagram::unbound_in(af).ctx("socket")?;
    tx.connect(a).ctx("connect to the group")?;
    AsyncDatagram::new(tx).ctx("register")
}

/// A seqpacket group's owner and its address.
fn seq_group(af: i32, what: &str) -> R<(McastGroupListener, Addr)> {
    let a = fresh(what);
    Ok((McastGroupListener::create_in(af, &a).ctx("create seqpacket group")?, a))
}

/// A client of the seqpacket group at `a`, admitted by `owner` with
/// `flags`: the client and the owner's accepted socket.
fn admitted(af: i32, owner: &McastGroupListener, a: &Addr, flags: MembershipFlags) -> R<(McastSeqpacket, mcast_unix::McastAccepted)> {
    let c = McastSeqpacket::connect_in(af, a).ctx("connect")?;
    let (acc, _) = owner.accept().ctx("accept")?;
    acc.admit_member(flags).ctx("admit")?;
    Ok((c, acc))
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "async", "recv waits, then wakes when a group message arrives (datagram and seqpacket member)", |af| {
        run(async move {
            let (_owner, a, mut ms) = group(af, "async-wake", 1, MembershipFlags::empty(), 0)?;
            let rx = AsyncDatagram::new(ms.remove(0)).ctx("register")?;
            let mut buf = [0u8; 64];
            let mut recv = Box::pin(rx.recv_from(&mut buf));
            still_pending("recv before any message", &mut recv).await?;
            settle().await;
            still_pending("recv after the reactor's turn, nothing sent", &mut recv).await?;
            let tx = McastDatagram::bind_in(af, &fresh("async-wake-tx")).ctx("bind sender")?;
            tx.send_to(b"to the group", &a).ctx("send")?;
            let (n, from) = within("datagram member's recv", recv).await?.ctx("recv")?;
            expect_eq("datagram member got", (&buf[..n], from), (&b"to the group"[..], tx.local_addr().ctx("name")?))?;

            let (owner, sa) = seq_group(af, "async-wake-seq")?;
            let (c1, _acc1) = admitted(af, &owner, &sa, MembershipFlags::empty())?;
            let (c2, _acc2) = admitted(af, &owner, &sa, MembershipFlags::empty())?;
            let c2 = AsyncSeqpacket::new(c2).ctx("register")?;
            let mut buf = [0u8; 64];
            let mut recv = Box::pin(c2.recv(&mut buf));
            still_pending("seqpacket member's recv before any message", &mut recv).await?;
            c1.send(b"from a member").ctx("member send")?;
            let n = within("seqpacket member's recv", recv).await?.ctx("recv")?;
            expect_eq("seqpacket member got", &buf[..n], &b"from a member"[..])
        })
    });

    case!(v, "async", "a sender blocked by full members waits until every one has drained (POLLOUT over all members), then each gets the message once", |af| {
        run(async move {
            let (_owner, a, small) = group(af, "async-pollout", 3, MembershipFlags::empty(), SMALL_RCVBUF)?;
            let roomy = McastDatagram::unbound_in(af).ctx("socket")?;
            roomy.join_group(&a, MembershipFlags::empty()).ctx("join")?;
            let tx = connected_sender(af, &a)?;
            let n = fill(&tx, 1)?;
            ensure!(n > 0, "nothing fitted");
            ensure!(revents(&tx, libc::POLLOUT)? & libc::POLLOUT == 0, "POLLOUT with every small member full");
            let last = msg(1, n);
            let mut send = Box::pin(tx.send(&last));
            still_pending("send to full members", &mut send).await?;
            for (i, m) in small.iter().enumerate() {
                expect_eq(&format!("small member {i}'s queue"), drain_nb(m).len(), n as usize)?;
                settle().await;
                if i + 1 < small.len() {
                    ensure!(revents(&tx, libc::POLLOUT)? & libc::POLLOUT == 0, "POLLOUT with {} small members still full", small.len() - i - 1);
                    still_pending(&format!("send with {} members still full", small.len() - i - 1), &mut send).await?;
                }
            }
            expect_eq("the send, once all drained", within("send", send).await?.ctx("send")?, 8)?;
            for (i, m) in small.iter().enumerate() {
                expect_eq(&format!("small member {i} afterwards"), drain_nb(m), vec![last.to_vec()])?;
            }
            let got = drain_nb(&roomy);
            expect_eq("the roomy member's count", got.len(), n as usize + 1)?;
            expect_eq("its last message", got.last().cloned(), Some(last.to_vec()))?;
            ensure!(revents(&tx, libc::POLLOUT)? & libc::POLLOUT != 0, "no POLLOUT with every member empty");
            Ok(())
        })
    });

    case!(v, "async", "a sender blocked by a full member is woken when that member leaves, and when it closes", |af| {
        run(async move {
            for how in ["leave", "close"] {
                let (_owner, a, mut ms) = group(af, "async-gone", 2, MembershipFlags::empty(), SMALL_RCVBUF)?;
                ms[1].set_recv_buffer_size(1 << 20).ctx("SO_RCVBUF")?;
                let tx = connected_sender(af, &a)?;
                let n = fill(&tx, 2)?;
                let mut send = Box::pin(tx.send(b"after it went"));
                still_pending(&format!("{how}: send to a full member"), &mut send).await?;
                let full = ms.remove(0);
                if how == "leave" {
                    full.leave_group(&a).ctx("leave")?;
                    expect_eq("the leaver's queue (nothing after leaving)", drain_nb(&full).len(), n as usize)?;
                } else {
                    drop(full);
                }
                expect_eq(how, within(&format!("send after the full member's {how}"), send).await?.ctx("send")?, 13)?;
                let got = drain_nb(&ms[0]);
                expect_eq(&format!("{how}: the other member's count"), got.len(), n as usize + 1)?;
                expect_eq(&format!("{how}: its last"), got.last().map(Vec::as_slice), Some(&b"after it went"[..]))?;
            }
            Ok(())
        })
    });

    case!(v, "async", "32 async receivers on one current-thread runtime each get every message of 3 async senders, in one order", |af| {
        const SENDERS: u8 = 3;
        const EACH: u32 = 150;
        const TOTAL: usize = SENDERS as usize * EACH as usize;
        run(async move {
            let (_owner, a, ms) = group(af, "async-many", 32, MembershipFlags::empty(), 0)?;
            // What each task has done so far, and its socket, to say where
            // a run that does not finish stopped.
            let done: Arc<Vec<AtomicUsize>> = Arc::new((0..ms.len() + SENDERS as usize).map(|_| AtomicUsize::new(0)).collect());
            let mut fds = Vec::new();
            let mut receivers = Vec::new();
            for (i, m) in ms.into_iter().enumerate() {
                // Some small queues, so the senders wait on them.
                if i % 4 == 0 {
                    m.set_recv_buffer_size(SMALL_RCVBUF).ctx("SO_RCVBUF")?;
                }
                let m = AsyncDatagram::new(m).ctx("register")?;
                fds.push(m.as_raw_fd());
                let done = done.clone();
                receivers.push(tokio::spawn(async move {
                    let mut got = Vec::with_capacity(TOTAL);
                    let mut buf = [0u8; 16];
                    while got.len() < TOTAL {
                        let n = m.recv(&mut buf).await.ctx("recv")?;
                        got.push(parse(&buf[..n])?);
                        done[i].store(got.len(), Ordering::Relaxed);
                    }
                    R::Ok(got)
                }));
            }
            let mut senders = Vec::new();
            for s in 0..SENDERS {
                let tx = connected_sender(af, &a)?;
                fds.push(tx.as_raw_fd());
                let (done, at) = (done.clone(), receivers.len() + s as usize);
                senders.push(tokio::spawn(async move {
                    for i in 0..EACH {
                        tx.send(&msg(s, i)).await.ctx("send")?;
                        done[at].store(i as usize + 1, Ordering::Relaxed);
                        if i % 16 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    R::Ok(())
                }));
            }
            let nrecv = receivers.len();
            let all = async move {
                for (s, t) in senders.into_iter().enumerate() {
                    t.await.map_err(|e| format!("sender {s}: {e}"))??;
                }
                let mut first: Option<Vec<(u8, u32)>> = None;
                for (i, t) in receivers.into_iter().enumerate() {
                    let got = t.await.map_err(|e| format!("receiver {i}: {e}"))??;
                    for s in 0..SENDERS {
                        let own: Vec<u32> = got.iter().filter(|m| m.0 == s).map(|m| m.1).collect();
                        ensure!(own == (0..EACH).collect::<Vec<_>>(), "receiver {i}: sender {s}'s messages out of order or missing");
                    }
                    match &first {
                        None => first = Some(got),
                        Some(f) => ensure!(*f == got, "receiver {i} got the messages in another order than receiver 0"),
                    }
                }
                Ok(())
            };
            // A slow host only slows this down; a lost wake-up stops it: fail
            // when no task has moved for STALL.
            let mut all = Box::pin(all);
            let (mut last, mut still) = (usize::MAX, Instant::now());
            loop {
                if let Ok(r) = timeout(Duration::from_millis(500), &mut all).await {
                    return r;
                }
                let now: usize = done.iter().map(|d| d.load(Ordering::Relaxed)).sum();
                if now != last {
                    (last, still) = (now, Instant::now());
                    continue;
                }
                if still.elapsed() < STALL {
                    continue;
                }
                let mut state = Vec::new();
                for (i, fd) in fds.iter().enumerate() {
                    // SAFETY: the tasks still own these sockets (the runtime has not been dropped).
                    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
                    let (who, ev) = if i < nrecv { (format!("receiver {i}"), libc::POLLIN) } else { (format!("sender {}", i - nrecv), libc::POLLOUT) };
                    let queued = sys::ioctl_int(&fd, libc::FIONREAD).unwrap_or(-1);
                    state.push(format!("{who}: {} done, poll {:#x}, FIONREAD {queued}", done[i].load(Ordering::Relaxed), revents(&fd, ev)?));
                }
                return Err(format!("no task moved for {STALL:?}:\n{}", state.join("\n")));
            }
        })
    });

    case!(v, "async", "seqpacket group: async accept wakes on a connect; the owner checks SO_PEERCRED and admits; members and SEND_TO_PEER copies arrive async", |af| {
        run(async move {
            let a = fresh("async-accept");
            let owner = AsyncGroupListener::new(McastGroupListener::create_in(af, &a).ctx("create")?).ctx("register")?;
            let mut accept = Box::pin(owner.accept());
            still_pending("accept with no client", &mut accept).await?;
            let c1 = McastSeqpacket::connect_in(af, &a).ctx("connect")?;
            let (acc1, _) = within("accept", accept).await?.ctx("accept")?;
            let cred = acc1.get_ref().peer_cred().ctx("SO_PEERCRED")?;
            expect_eq("the client's pid", cred.pid as u32, std::process::id())?;
            expect_eq("the client's id", acc1.get_ref().peer_id().ok(), c1.id().ok())?;
            // SAFETY: getuid has no preconditions.
            ensure!(cred.uid == unsafe { libc::getuid() }, "uid {}", cred.uid);
            acc1.get_ref().admit_member(MembershipFlags::SEND_TO_PEER).ctx("admit")?;

            let c2 = McastSeqpacket::connect_in(af, &a).ctx("connect")?;
            let (acc2, _) = within("accept", owner.accept()).await?.ctx("accept")?;
            acc2.get_ref().admit_member(MembershipFlags::empty()).ctx("admit")?;
            let outsider = McastSeqpacket::connect_in(af, &a).ctx("connect")?;
            let (acc3, _) = within("accept", owner.accept()).await?.ctx("accept")?;

            let c2 = AsyncSeqpacket::new(c2).ctx("register")?;
            let (mut b2, mut b1) = ([0u8; 32], [0u8; 32]);
            let mut r2 = Box::pin(c2.recv(&mut b2));
            let mut r1 = Box::pin(acc1.recv(&mut b1));
            still_pending("member's recv", &mut r2).await?;
            still_pending("the owner's recv on the sender's connection", &mut r1).await?;
            c1.send(b"hello room").ctx("send")?;
            let n2 = within("the other member", r2).await?.ctx("recv")?;
            let n1 = within("the SEND_TO_PEER copy", r1).await?.ctx("recv")?;
            expect_eq("member", &b2[..n2], &b"hello room"[..])?;
            expect_eq("owner's copy", &b1[..n1], &b"hello room"[..])?;
            expect_eq("the outsider (not admitted)", drain_nb(&outsider).len(), 0)?;
            expect_eq("the non-member's accepted socket", drain_nb(acc3.get_ref()).len(), 0)?;
            expect_eq("the member without SEND_TO_PEER's accepted socket", drain_nb(acc2.get_ref()).len(), 0)
        })
    });

    case!(v, "async", "a dropped recv future loses no message: dropped while waiting, after its wake-up, beside a second one, by a timeout", |af| {
        run(async move {
            let (_owner, a, mut ms) = group(af, "async-cancel", 1, MembershipFlags::empty(), 0)?;
            let rx = AsyncDatagram::new(ms.remove(0)).ctx("register")?;
            let tx = McastDatagram::unbound_in(af).ctx("socket")?;
            let mut buf = [0u8; 64];
            {
                // Waiting, then woken by the message, then dropped unpolled.
                let mut f = Box::pin(rx.recv(&mut buf));
                still_pending("recv", &mut f).await?;
                tx.send_to(b"one", &a).ctx("send")?;
                settle().await;
            }
            let n = within("recv after a dropped one", rx.recv(&mut buf)).await?.ctx("recv")?;
            expect_eq("first", &buf[..n], &b"one"[..])?;
            // Two waiting on the same socket; one message completes one of
            // them; the other is dropped.
            let (mut ba, mut bb) = ([0u8; 64], [0u8; 64]);
            let mut fa = Box::pin(rx.recv(&mut ba));
            let mut fb = Box::pin(rx.recv(&mut bb));
            still_pending("recv a", &mut fa).await?;
            still_pending("recv b", &mut fb).await?;
            tx.send_to(b"two", &a).ctx("send")?;
            settle().await;
            let done = match (poll_once(&mut fa).await, poll_once(&mut fb).await) {
                (Poll::Ready(r), Poll::Pending) => (0, r.ctx("recv a")?),
                (Poll::Pending, Poll::Ready(r)) => (1, r.ctx("recv b")?),
                (a, b) => return Err(format!("two waiting recvs and one message: {a:?}, {b:?}")),
            };
            drop((fa, fb));
            let got = if done.0 == 0 { &ba[..done.1] } else { &bb[..done.1] };
            expect_eq("second", got, &b"two"[..])?;
            expect_eq("a timed-out recv", timeout(Duration::from_millis(50), rx.recv(&mut buf)).await.is_err(), true)?;
            tx.send_to(b"three", &a).ctx("send")?;
            tx.send_to(b"four", &a).ctx("send")?;
            let mut rest = Vec::new();
            for _ in 0..2 {
                let n = within("recv", rx.recv(&mut buf)).await?.ctx("recv")?;
                rest.push(buf[..n].to_vec());
            }
            expect_eq("after the timeout", rest, vec![b"three".to_vec(), b"four".to_vec()])?;
            expect_eq("nothing else queued", drain_nb(&rx).len(), 0)
        })
    });

    case!(v, "async", "tokio::time timeouts: a recv times out and the socket still works; a timed-out group send reaches no member (all or nothing)", |af| {
        run(async move {
            let (_owner, a, mut ms) = group(af, "async-timeout", 2, MembershipFlags::empty(), SMALL_RCVBUF)?;
            ms[1].set_recv_buffer_size(1 << 20).ctx("SO_RCVBUF")?;
            let roomy = ms.pop().expect("two members");
            let full = AsyncDatagram::new(ms.pop().expect("two members")).ctx("register")?;
            let mut buf = [0u8; 64];
            let wait = Duration::from_millis(200);
            let t0 = Instant::now();
            expect_eq("recv on an empty queue", timeout(wait, full.recv(&mut buf)).await.is_err(), true)?;
            let took = t0.elapsed();
            ensure!(took >= wait && took < WAKE, "the timeout fired after {took:?} (asked {wait:?})");

            let tx = connected_sender(af, &a)?;
            let n = fill(&tx, 3)?;
            expect_eq("a blocked send under a timeout", timeout(wait, tx.send(b"never")).await.is_err(), true)?;
            let queued = drain_nb(full.get_ref());
            expect_eq("the full member's queue", queued.len(), n as usize)?;
            ensure!(queued.iter().all(|m| m.as_slice() != b"never"), "the timed-out message reached the full member");
            let other = drain_nb(&roomy);
            expect_eq("the roomy member's queue", other.len(), n as usize)?;
            ensure!(other.iter().all(|m| m.as_slice() != b"never"), "the timed-out message reached the roomy member");
            within("a send after the drain", tx.send(b"now")).await?.ctx("send")?;
            let n = within("recv", full.recv(&mut buf)).await?.ctx("recv")?;
            expect_eq("the full member, drained", &buf[..n], &b"now"[..])
        })
    });

    case!(v, "async", "an async flood past a DROP_WHEN_FULL member: the sender never waits for it, it reports the drops (SO_RXQ_OVFL and /proc), the blocking member gets all in order", |af| {
        const N: u32 = 300;
        run(async move {
            let (_owner, a, _) = group(af, "async-drop", 0, MembershipFlags::empty(), 0)?;
            let slow = McastDatagram::unbound_in(af).ctx("socket")?;
            slow.set_recv_buffer_size(SMALL_RCVBUF).ctx("SO_RCVBUF")?;
            slow.set_recv_overflow(true).ctx("SO_RXQ_OVFL")?;
            slow.join_group(&a, MembershipFlags::DROP_WHEN_FULL).ctx("join")?;
            let slow = AsyncDatagram::new(slow).ctx("register")?;
            let fast = McastDatagram::unbound_in(af).ctx("socket")?;
            fast.set_recv_buffer_size(SMALL_RCVBUF).ctx("SO_RCVBUF")?;
            fast.join_group(&a, MembershipFlags::empty()).ctx("join")?;
            let fast = AsyncDatagram::new(fast).ctx("register")?;
            let reader = tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 16];
                while got.len() < N as usize {
                    let n = fast.recv(&mut buf).await.ctx("fast recv")?;
                    got.push(parse(&buf[..n])?.1);
                }
                // Still a member, for the count below.
                R::Ok((got, fast))
            });
            let tx = connected_sender(af, &a)?;
            for i in 0..N {
                tx.send(&msg(4, i)).await.ctx("send")?;
            }
            let (got, _fast) = reader.await.map_err(|e| format!("reader: {e}"))??;
            ensure!(got == (0..N).collect::<Vec<_>>(), "the blocking member's messages are not 0..{N} in order");
            let mut queued = Vec::new();
            let mut buf = [0u8; 16];
            while let Ok(n) = slow.get_ref().recv(&mut buf) {
                queued.push(parse(&buf[..n])?.1);
            }
            let q = queued.len() as u32;
            ensure!(q > 0 && q < N, "{q} of {N} queued at the DROP_WHEN_FULL member");
            ensure!(queued == (0..q).collect::<Vec<_>>(), "its queue is not the first {q} messages: {queued:?}");
            tx.send(&msg(4, N)).await.ctx("send")?;
            let meta = within("the slow member's recv_msg", slow.recv_msg(&mut buf)).await?.ctx("recv_msg")?;
            expect_eq("the message after the drops", parse(&buf[..meta.len])?.1, N)?;
            expect_eq("drop count (SO_RXQ_OVFL)", meta.dropped, Some(N - q))?;
            let line = proc_group(&a).ok_or("no /proc/net/mcast_unix line for the group")?;
            expect_eq("/proc: members, sent, dropped", (line[3].as_str(), line[4].as_str(), line[5].parse::<u32>().ok()), ("2", &*(N + 1).to_string(), Some(N - q)))
        })
    });

    case!(v, "async", "async recv_msg of a group message and of a seqpacket message carries the passed descriptors (SCM_RIGHTS), credentials and the sender id", |af| {
        run(async move {
            let (_owner, a, mut ms) = group(af, "async-fds", 1, MembershipFlags::empty(), 0)?;
            let m = ms.remove(0);
            m.set_pass_sender_id(true).ctx("PASS_SENDER_ID")?;
            m.set_passcred(true).ctx("SO_PASSCRED")?;
            let m = AsyncDatagram::new(m).ctx("register")?;
            let tx = McastDatagram::unbound_in(af).ctx("socket")?;
            let (r, w) = sys::pipe().map_err(|e| format!("pipe: {e:?}"))?;
            let mut buf = [0u8; 64];
            let mut f = Box::pin(m.recv_msg(&mut buf));
            still_pending("recv_msg", &mut f).await?;
            tx.send_msg_to(b"a pipe", &a, None, &[r.as_fd()]).ctx("send with a descriptor")?;
            drop(r);
            let meta = within("recv_msg", f).await?.ctx("recv_msg")?;
            expect_eq("sender id", meta.sender_id, tx.id().ok())?;
            expect_eq("credentials' pid", meta.cred.map(|c| c.pid as u32), Some(std::process::id()))?;
            expect_eq("descriptors", meta.fds.len(), 1)?;
            expect_eq("data", &buf[..meta.len], &b"a pipe"[..])?;
            sys::write(&w, b"through").map_err(|e| format!("write: {e:?}"))?;
            expect_eq("read through the received descriptor", sys::read(&meta.fds[0], 16), Ok(b"through".to_vec()))?;
            drop(meta);
            expect_eq("the pipe's readers after the received end closed", sys::write(&w, b"x"), Err(Errno(libc::EPIPE)))?;

            let (c, d) = McastSeqpacket::pair_in(af).ctx("socketpair")?;
            d.set_pass_sender_id(true).ctx("PASS_SENDER_ID")?;
            let (c, d) = (AsyncSeqpacket::new(c).ctx("register")?, AsyncSeqpacket::new(d).ctx("register")?);
            let (r, w) = sys::pipe().map_err(|e| format!("pipe: {e:?}"))?;
            let mut buf = [0u8; 64];
            let mut f = Box::pin(d.recv_msg(&mut buf));
            still_pending("seqpacket recv_msg", &mut f).await?;
            within("send_with_fds", c.send_with_fds(b"two ends", &[r.as_fd(), w.as_fd()])).await?.ctx("send")?;
            let meta = within("seqpacket recv_msg", f).await?.ctx("recv_msg")?;
            expect_eq("seqpacket: sender id, descriptors", (meta.sender_id, meta.fds.len()), (c.get_ref().id().ok(), 2))?;
            sys::write(&meta.fds[1], b"loop").map_err(|e| format!("write: {e:?}"))?;
            expect_eq("through both received ends", sys::read(&meta.fds[0], 16), Ok(b"loop".to_vec()))?;
            drop((r, meta));
            expect_eq("readers gone", sys::write(&w, b"x"), Err(Errno(libc::EPIPE)))
        })
    });

    case!(v, "async", "the owner closes: a waiting seqpacket member's recv returns end of file (POLLHUP), not a hang; its send fails", |af| {
        run(async move {
            let (owner, a) = seq_group(af, "async-eof")?;
            let (c, acc) = admitted(af, &owner, &a, MembershipFlags::empty())?;
            let (c2, acc2) = admitted(af, &owner, &a, MembershipFlags::empty())?;
            let c = AsyncSeqpacket::new(c).ctx("register")?;
            let mut buf = [0u8; 16];
            let mut f = Box::pin(c.recv(&mut buf));
            still_pending("recv", &mut f).await?;
            ensure!(revents(&c, libc::POLLIN)? & libc::POLLHUP == 0, "POLLHUP before the owner closed");
            drop((owner, acc, acc2));
            expect_eq("recv after the owner closed (end of file)", within("recv", f).await?.ctx("recv")?, 0)?;
            ensure!(revents(&c, libc::POLLIN)? & libc::POLLHUP != 0, "no POLLHUP after the owner closed");
            expect_eq("a second recv", within("recv", c.recv(&mut buf)).await?.ctx("recv")?, 0)?;
            let e = within("send", c.send(b"anyone?")).await?.err().and_then(|e| e.raw_os_error());
            expect_eq("send after the owner closed", e, Some(libc::EPIPE))?;
            expect_eq("the other member's recv", within("recv", AsyncSeqpacket::new(c2).ctx("register")?.recv(&mut buf)).await?.ctx("recv")?, 0)
        })
    });

    case!(v, "async", "the owner closes a datagram group: a sender blocked on a full member returns ECONNREFUSED at once, not a hang", |af| {
        run(async move {
            let (owner, a, ms) = group(af, "async-refused", 1, MembershipFlags::empty(), SMALL_RCVBUF)?;
            let tx = connected_sender(af, &a)?;
            let n = fill(&tx, 5)?;
            let mut send = Box::pin(tx.send(b"blocked"));
            still_pending("send to a full member", &mut send).await?;
            drop(owner);
            let r = within("the blocked send after the owner closed", send).await?;
            expect_eq("its result", r.map_err(|e| e.raw_os_error()), Err(Some(libc::ECONNREFUSED)))?;
            expect_eq("the member kept what was queued before", drain_nb(&ms[0]).len(), n as usize)?;
            expect_eq("leave after the group ended", ms[0].leave_group(&a).map_err(|e| e.raw_os_error()), Err(Some(libc::EADDRNOTAVAIL)))
        })
    });

    case!(v, "async", "seqpacket group: a member's async send blocked by a full member is woken when it drains", |af| {
        run(async move {
            let (owner, a) = seq_group(af, "async-seq-full")?;
            let (tx, _acc) = admitted(af, &owner, &a, MembershipFlags::empty())?;
            let (slow, _acc2) = admitted(af, &owner, &a, MembershipFlags::empty())?;
            slow.set_recv_buffer_size(SMALL_RCVBUF).ctx("SO_RCVBUF")?;
            let tx = AsyncSeqpacket::new(tx).ctx("register")?;
            let mut n = 0u32;
            loop {
                match tx.get_ref().send(&msg(6, n)) {
                    Ok(_) => n += 1,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(format!("fill: {e}")),
                }
                ensure!(n < 100_000, "the member never became full");
            }
            ensure!(n > 0, "nothing fitted");
            ensure!(revents(&tx, libc::POLLOUT)? & libc::POLLOUT == 0, "POLLOUT with the other member full");
            let mut send = Box::pin(tx.send(b"last"));
            still_pending("send to a full member", &mut send).await?;
            let queued = drain_nb(&slow);
            expect_eq("queued", queued.len(), n as usize)?;
            expect_eq("the send after the drain", within("send", send).await?.ctx("send")?, 4)?;
            expect_eq("the member then", drain_nb(&slow), vec![b"last".to_vec()])
        })
    });

    v
}
