//! Hostile and faulty conditions: one case per defect a local user could
//! trigger (malformed ancillary data, busy-looping or unkillable waits,
//! unbounded queues, close paths waiting on other users, teardown under
//! injected allocation failures). Each case fails on the module before its
//! fix: by its assertion, or by wedging the VM (the runner then fails the
//! run: timeout, hung-task or RCU-stall report).

use crate::case;
use mcast_unix::Socket;
use std::os::fd::{AsRawFd, FromRawFd};
use crate::ensure;
use crate::harness::{expect_eq, Case, CaseResult};
use crate::mcast::*;
use crate::seqgroups::Bus;
use crate::client;
use crate::sys::{self, IntoSys, Errno};
use mcast_unix::Addr;
use mcast_unix::{MCAST_UNIX_DROP_WHEN_FULL as DROP, MCAST_UNIX_LOOPBACK as LOOP, MCAST_UNIX_SEND_TO_PEER as TO_PEER};
use std::time::{Duration, Instant};

const D: i32 = libc::SOCK_DGRAM;
const S: i32 = libc::SOCK_SEQPACKET;
const DONTWAIT: i32 = libc::MSG_DONTWAIT;

/// sendmsg() of one byte with `control` as the raw ancillary data.
fn send_raw_control(fd: &Socket, to: Option<&Addr>, control: &mut [u64], controllen: usize) -> Result<usize, Errno> {
    let data = [0x41u8];
    let name = to.map(|a| a.to_raw(fd.family() as libc::sa_family_t));
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: 1 };
    // SAFETY: all-zero is a valid msghdr; every pointer is valid for the
    // length given with it (controllen <= the buffer's size).
    unsafe {
        let mut m: libc::msghdr = std::mem::zeroed();
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        if let Some((raw, len)) = &name {
            m.msg_name = (raw as *const libc::sockaddr_un) as *mut _;
            m.msg_namelen = *len;
        }
        m.msg_control = control.as_mut_ptr().cast();
        m.msg_controllen = controllen as _;
        sys::check(libc::sendmsg(fd.as_raw_fd(), &m, DONTWAIT) as _).map(|n| n as usize)
    }
}

/// A bound datagram receiver of family `af` and a sender.
fn pair(af: i32) -> (Socket, Socket, Addr) {
    let rx = sock(af, D);
    let a = fresh("hx");
    rx.bind(&a).sys().expect("bind");
    (rx, sock(af, D), a)
}

/// Malformed control buffers, each on AF_UNIX and on the family: the same
/// errno, and the call returns.
fn malformed_cmsgs(af: i32) -> CaseResult {
    let hdr = std::mem::size_of::<libc::cmsghdr>();
    // (what, cmsg_len, controllen)
    let cases: [(&str, usize, usize); 4] = [
        ("zeroed 32 bytes (cmsg_len 0)", 0, 32),
        ("cmsg_len shorter than the header", hdr - 1, 32),
        ("cmsg_len beyond msg_controllen", 64, 32),
        ("cmsg_len 0 after a valid header", usize::MAX, 64),
    ];
    for (what, len, controllen) in cases {
        for fam in [libc::AF_UNIX, af] {
            let (rx, tx, a) = if fam == libc::AF_UNIX {
                let rx = sys::socket(libc::AF_UNIX, D, 0).expect("socket");
                let a = fresh("hx-unix");
                rx.bind(&a).sys().expect("bind AF_UNIX");
                (rx, sys::socket(libc::AF_UNIX, D, 0).expect("socket"), a)
            } else {
                pair(af)
            };
            let mut buf = [0u64; 16];
            if len == usize::MAX {
                // A well-formed empty SOL_SOCKET header (credentials of the
                // caller), then a zeroed one.
                // SAFETY: writing the first header inside `buf`.
                unsafe {
                    let c = buf.as_mut_ptr().cast::<libc::cmsghdr>();
                    (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::ucred>() as _) as _;
                    (*c).cmsg_level = libc::SOL_SOCKET;
                    (*c).cmsg_type = libc::SCM_CREDENTIALS;
                    let u = libc::ucred { pid: libc::getpid(), uid: libc::getuid(), gid: libc::getgid() };
                    std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::ucred>(), u);
                }
            } else {
                // SAFETY: writing the first header inside `buf`.
                unsafe { (*buf.as_mut_ptr().cast::<libc::cmsghdr>()).cmsg_len = len as _ };
            }
            let r = send_raw_control(&tx, Some(&a), &mut buf, controllen);
            expect_eq(&format!("{what} on family {fam}"), r, Err(Errno(libc::EINVAL)))?;
            expect_eq(&format!("{what}: nothing queued on family {fam}"), client::recv(&rx, 8, DONTWAIT).err(), Some(Errno(libc::EAGAIN)))?;
        }
    }
    Ok(())
}

/// CPU time the calling thread used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: plain call with a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A blocking send that must give up with `want` after about `timeout`:
/// returns (result, wall time, CPU time of the sending thread).
fn timed_send(fd: &Socket, data: &[u8]) -> (Result<usize, Errno>, Duration, Duration) {
    let (t0, c0) = (Instant::now(), thread_cpu());
    let r = fd.send_with_flags(data, 0).sys();
    (r, t0.elapsed(), thread_cpu() - c0)
}

/// Runs `f` on a thread with a second handle on `s`'s descriptor (kept
/// open by the caller; not a dup, so the caller's close() closes it).
fn on_thread<T: Send + 'static>(s: &Socket, f: impl FnOnce(&Socket) -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    let (fd, af) = (s.as_raw_fd(), s.family());
    std::thread::spawn(move || {
        // SAFETY: the caller keeps the descriptor open while the thread uses
        // it; ManuallyDrop never closes it here.
        let s = std::mem::ManuallyDrop::new(Socket::from_fd(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }, af).unwrap());
        f(&s)
    })
}

fn set_rcvbuf(fd: &Socket, n: i32) {
    fd.set_recv_buffer_size(n as usize).sys().expect("SO_RCVBUF");
}

/// Fails the calling thread's `n`th allocation (fail-nth); true if the
/// kernel supports it.
fn fail_nth(n: u32) -> bool {
    std::fs::write("/proc/thread-self/fail-nth", n.to_string()).is_ok()
}

/// Whether the armed fault was not reached (the call finished before its
/// `n`th allocation), and disarms it.
fn fault_unused() -> bool {
    let left = std::fs::read_to_string("/proc/thread-self/fail-nth").unwrap_or_default();
    let _ = std::fs::write("/proc/thread-self/fail-nth", "0");
    left.trim() != "0"
}

/// Makes failslab/fail_page_alloc fail sleeping allocations too, silently.
fn setup_faults() -> bool {
    let mut ok = true;
    for (f, v) in [
        ("failslab/ignore-gfp-wait", "N"),
        ("fail_page_alloc/ignore-gfp-wait", "N"),
        ("fail_page_alloc/ignore-gfp-highmem", "N"),
        ("failslab/verbose", "0"),
        ("fail_page_alloc/verbose", "0"),
    ] {
        ok &= std::fs::write(format!("/sys/kernel/debug/{f}"), v).is_ok();
    }
    ok
}

/// The member count of the group at `a` in /proc/net/mcast_unix.
fn proc_members(a: &Addr) -> Option<usize> {
    proc_group(a).and_then(|f| f.get(3).and_then(|n| n.parse().ok()))
}

/// One sender (by address, or connected) against the owner's close, twenty
/// rounds: the name is unpublished before the group ends, and the group is
/// marked closed under its send order, so no send succeeds while reaching
/// only part of the group, and none succeeds once close() has returned.
fn owner_close_race(af: i32) -> CaseResult {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    for round in 0..20 {
        let (owner, a) = dgram_group(af);
        let ms = members(af, &a, 3, 0);
        for m in &ms {
            // Room for every message the sender can send in the window.
            let big = 16i32 << 20;
            setopt(m, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &big.to_ne_bytes()).expect("SO_RCVBUFFORCE");
        }
        let tx = sock(af, D);
        let connected = round % 2 == 1;
        if connected {
            tx.connect(&a).sys().expect("connect");
        }
        let closed = Arc::new(AtomicBool::new(false));
        let seen = closed.clone();
        let a2 = a.clone();
        let sender = on_thread(&tx, move |fd| {
            let mut ok = 0u32;
            loop {
                let after_close = seen.load(Ordering::Acquire);
                let msg = ok.to_ne_bytes();
                let r = if connected { fd.send_with_flags(&msg, DONTWAIT).sys() } else { fd.send_to_with_flags(&msg, &a2, DONTWAIT).sys() };
                match r {
                    Ok(_) if after_close => return Err(format!("send {ok} succeeded after close() returned")),
                    Ok(_) => ok += 1,
                    Err(Errno(libc::ECONNREFUSED)) => return Ok(ok),
                    Err(e) => return Err(format!("send {ok}: {e:?}")),
                }
                if ok >= 10_000 {
                    return Err("the owner's close never took effect".into());
                }
            }
        });
        std::thread::sleep(Duration::from_millis(5 + round as u64));
        drop(owner);
        closed.store(true, Ordering::Release);
        let sent = sender.join().expect("sender")?;
        for (i, m) in ms.iter().enumerate() {
            let got = drain(m);
            expect_eq(&format!("round {round}: messages at member {i}"), got.len(), sent as usize)?;
            for (n, g) in got.iter().enumerate() {
                ensure!(g.as_slice() == (n as u32).to_ne_bytes(), "round {round}: member {i} message {n} out of order");
            }
        }
    }
    Ok(())
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "hostile", "malformed ancillary data -> EINVAL as AF_UNIX (a zero cmsg_len used to wedge the CPU)", |af| {
        malformed_cmsgs(af)
    });
    case!(v, "hostile", "SCM_RIGHTS then a malformed header -> EINVAL as AF_UNIX, the descriptor taken is released", |af| {
        for fam in [libc::AF_UNIX, af] {
            let (rx, tx, a) = if fam == libc::AF_UNIX {
                let rx = sys::socket(libc::AF_UNIX, D, 0).expect("socket");
                let a = fresh("hr-unix");
                rx.bind(&a).sys().expect("bind AF_UNIX");
                (rx, sys::socket(libc::AF_UNIX, D, 0).expect("socket"), a)
            } else {
                pair(af)
            };
            let (r, w) = sys::pipe().expect("pipe");
            let mut buf = [0u64; 8];
            // SAFETY: CMSG_* on a buffer of 64 bytes: one SCM_RIGHTS header
            // with one descriptor (24 bytes with padding), then a header
            // whose cmsg_len is 0 (the rest of the buffer is zero).
            let controllen = unsafe {
                let c = buf.as_mut_ptr().cast::<libc::cmsghdr>();
                (*c).cmsg_len = libc::CMSG_LEN(4) as _;
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), r.as_raw_fd());
                libc::CMSG_SPACE(4) as usize + std::mem::size_of::<libc::cmsghdr>()
            };
            let res = send_raw_control(&tx, Some(&a), &mut buf, controllen);
            expect_eq(&format!("family {fam}"), res, Err(Errno(libc::EINVAL)))?;
            expect_eq(&format!("nothing queued on family {fam}"), client::recv(&rx, 8, DONTWAIT).err(), Some(Errno(libc::EAGAIN)))?;
            drop(r);
            expect_eq(&format!("read end released on family {fam}"), sys::write(&w, b"x"), Err(Errno(libc::EPIPE)))?;
        }
        Ok(())
    });
    case!(v, "hostile", "forged SCM_CREDENTIALS as nobody -> EPERM", |af| {
        let status = in_child(move || {
            let (rx, tx, a) = pair(af);
            // SAFETY: dropping privileges in the child.
            if unsafe { libc::setgid(sys::NOBODY) != 0 || libc::setuid(sys::NOBODY) != 0 } {
                return 2;
            }
            let forged = libc::ucred { pid: 1, uid: 0, gid: 0 };
            let r = tx.send_msg(b"x", Some(&a), Some(forged), &[], DONTWAIT).sys();
            if r != Err(Errno(libc::EPERM)) {
                return 3;
            }
            if client::recv(&rx, 8, DONTWAIT).is_ok() {
                return 4;
            }
            0
        });
        expect_eq("child", status, 0)
    });
    case!(v, "hostile", "SEND_TO_PEER member: a blocking send to a full owner-side socket honours SO_SNDTIMEO", |af| {
        let bus = Bus::new(af);
        let m = bus.member(TO_PEER);
        set_rcvbuf(&m.accepted, 2048);
        let n = fill(&m.client, None, 200).expect("fill");
        ensure!(n > 0 && n < 1000, "filled with {n} messages");
        m.client.set_write_timeout(Some(std::time::Duration::from_millis(300))).expect("SO_SNDTIMEO");
        let (r, wall, cpu) = timed_send(&m.client, b"one more");
        expect_eq("blocking send", r, Err(Errno(libc::EAGAIN)))?;
        ensure!(wall >= Duration::from_millis(250) && wall < Duration::from_secs(3), "returned after {wall:?}");
        // Sleeping, not spinning: far less CPU than wall time.
        ensure!(cpu < wall / 2, "used {cpu:?} of CPU in {wall:?}");
        Ok(())
    });
    case!(v, "hostile", "datagram SEND_TO_PEER member: a blocking send to a full owner honours SO_SNDTIMEO", |af| {
        let (owner, a) = dgram_group(af);
        set_rcvbuf(&owner, 2048);
        let m = sock(af, D);
        join(&m, &a, TO_PEER).expect("join");
        m.connect(&a).sys().expect("connect");
        let n = fill(&m, None, 200).expect("fill");
        ensure!(n > 0, "filled with {n}");
        m.set_write_timeout(Some(std::time::Duration::from_millis(300))).expect("SO_SNDTIMEO");
        let (r, wall, cpu) = timed_send(&m, b"x");
        expect_eq("blocking send", r, Err(Errno(libc::EAGAIN)))?;
        ensure!(cpu < wall / 2 && wall < Duration::from_secs(3), "wall {wall:?}, cpu {cpu:?}");
        Ok(())
    });
    case!(v, "hostile", "closing a datagram group's owner wakes a blocked sender (ECONNREFUSED) and a POLLOUT poller", |af| {
        let (owner, a) = dgram_group(af);
        let slow = members(af, &a, 1, 0).remove(0);
        let tx = sock(af, D);
        tx.connect(&a).sys().expect("connect");
        ensure!(fill(&tx, None, 1024).expect("fill") > 0, "filled");
        tx.set_write_timeout(Some(std::time::Duration::from_millis(8000))).expect("SO_SNDTIMEO");
        let poller = sock(af, D);
        poller.connect(&a).sys().expect("connect poller");
        let sender = on_thread(&tx, |fd| {
            let t0 = Instant::now();
            (fd.send_with_flags(b"blocked", 0).sys(), t0.elapsed())
        });
        let polling = on_thread(&poller, |fd| {
            let t0 = Instant::now();
            (sys::poll(fd, libc::POLLOUT, 8000), t0.elapsed())
        });
        std::thread::sleep(Duration::from_millis(300));
        drop(owner);
        let (r, wall) = sender.join().expect("sender");
        expect_eq("blocked send", r, Err(Errno(libc::ECONNREFUSED)))?;
        ensure!(wall < Duration::from_secs(4), "the send returned only after {wall:?}");
        let (p, pwall) = polling.join().expect("poller");
        ensure!(p.is_ok_and(|ev| ev != 0) && pwall < Duration::from_secs(4), "poll: {p:?} after {pwall:?}");
        drop(slow);
        Ok(())
    });
    case!(v, "hostile", "sends racing the owner's close: each success reached every member in order; after close() returns, ECONNREFUSED", |af| {
        owner_close_race(af)
    });
    case!(v, "hostile", "an owner's close() does not wait for its member's blocking connect elsewhere", |af| {
        let bus = Bus::new(af);
        let m = bus.member(0);
        // A listener whose backlog is full: one pending connection, backlog 0.
        let other = sock(af, S);
        let oa = fresh("full");
        other.bind(&oa).sys().expect("bind");
        other.listen(0).sys().expect("listen");
        let pending = sock(af, S);
        pending.connect(&oa).sys().expect("first connect");
        m.client.set_write_timeout(Some(std::time::Duration::from_millis(4000))).expect("SO_SNDTIMEO");
        let oa2 = oa.clone();
        let blocked = on_thread(&m.client, move |fd| fd.connect(&oa2).sys());
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        drop(m.accepted);
        let took = t0.elapsed();
        let r = blocked.join().expect("connect thread");
        ensure!(took < Duration::from_secs(2), "close of the accepted socket took {took:?}");
        // The connected client cannot connect again (once the listener had room, or at timeout).
        ensure!(r.is_err(), "second connect: {r:?}");
        drop((pending, other, m.client));
        Ok(())
    });
    case!(v, "hostile", "a second connect on a socket that is connecting -> EALREADY", |af| {
        let other = sock(af, S);
        let oa = fresh("full2");
        other.bind(&oa).sys().expect("bind");
        other.listen(0).sys().expect("listen");
        let pending = sock(af, S);
        pending.connect(&oa).sys().expect("first connect");
        let c = sock(af, S);
        c.set_write_timeout(Some(std::time::Duration::from_millis(1500))).expect("SO_SNDTIMEO");
        let oa2 = oa.clone();
        let blocked = on_thread(&c, move |fd| fd.connect(&oa2).sys());
        std::thread::sleep(Duration::from_millis(300));
        let second = c.connect(&oa).sys();
        let first = blocked.join().expect("thread");
        expect_eq("second connect", second.err(), Some(Errno(libc::EALREADY)))?;
        expect_eq("first connect at its timeout", first.err(), Some(Errno(libc::EAGAIN)))?;
        drop((pending, other));
        Ok(())
    });
    case!(v, "hostile", "sends to itself are bounded: EAGAIN once the queue is full (4000 x 1000 bytes)", |af| {
        let s = sock(af, D);
        let a = fresh("self");
        s.bind(&a).sys().expect("bind");
        let payload = vec![7u8; 1000];
        let mut n = 0;
        let mut last = Ok(0);
        for _ in 0..4000 {
            last = s.send_to_with_flags(&payload, &a, DONTWAIT).sys();
            if last.is_err() {
                break;
            }
            n += 1;
        }
        expect_eq("the send that stopped it", last.err(), Some(Errno(libc::EAGAIN)))?;
        ensure!(n > 0 && n < 1000, "{n} self-sends queued");
        expect_eq("all readable", drain(&s).len(), n)
    });
    case!(v, "hostile", "a LOOPBACK sender with a full queue: waits (SO_SNDTIMEO) or EAGAIN, all or nothing; with DROP_WHEN_FULL its copy is dropped and counted", |af| {
        let (_owner, a) = dgram_group(af);
        for own in [LOOP, LOOP | DROP] {
            let me = members(af, &a, 1, own).remove(0);
            let other = members(af, &a, 1, 0).remove(0);
            set_rcvbuf(&me, 2048);
            // Fill my own queue through the group (the other member drains).
            let mut sent = 0;
            while sent < 200 && me.send_to_with_flags(&[1u8; 200], &a, DONTWAIT).sys().is_ok() {
                sent += 1;
                let _ = drain(&other);
            }
            let _ = drain(&other);
            me.set_write_timeout(Some(std::time::Duration::from_millis(300))).expect("SO_SNDTIMEO");
            let t0 = Instant::now();
            let r = me.send_to(b"again", &a).sys();
            let waited = t0.elapsed();
            if own & DROP == 0 {
                ensure!(sent < 200, "my own full queue never stopped a non-blocking send ({sent} sent)");
                expect_eq("blocking send, my own queue full", r, Err(Errno(libc::EAGAIN)))?;
                ensure!(waited >= Duration::from_millis(250), "gave up after {waited:?}, before its SO_SNDTIMEO");
                expect_eq("all or nothing: the other member got nothing", drain(&other).len(), 0)?;
            } else {
                expect_eq("blocking send, own copy dropped", r, Ok(5))?;
                expect_eq("the other member got it", drain(&other).last().cloned(), Some(b"again".to_vec()))?;
                let drops = proc_sock(&me).and_then(|f| f.get(8).and_then(|d| d.parse::<u32>().ok()));
                ensure!(drops.is_some_and(|d| d >= 1), "drops counted in /proc: {drops:?}");
            }
        }
        Ok(())
    });
    case!(v, "hostile", "SO_PEERCRED while the listener re-listens: no use after free (KASAN)", |af| {
        let l = sock(af, S);
        let la = fresh("peercred");
        l.bind(&la).sys().expect("bind");
        l.listen(128).sys().expect("listen");
        l.set_nonblocking(true).sys().expect("O_NONBLOCK");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let relisten = on_thread(&l, move |fd| {
            let mut n = 0u32;
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = fd.listen(128).sys();
                n += 1;
            }
            n
        });
        let t0 = Instant::now();
        let mut ok = 0;
        while t0.elapsed() < Duration::from_millis(1500) {
            let c = sock(af, S);
            if c.connect(&la).sys().is_ok() {
                ensure!(c.peer_cred().sys().map(sys::Creds::from).is_ok_and(|p| p.pid > 0), "peercred");
                ok += 1;
            }
            while l.accept().sys().is_ok() {}
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let n = relisten.join().expect("listen thread");
        ensure!(ok > 10 && n > 10, "{ok} connects against {n} listens");
        Ok(())
    });
    case!(v, "hostile", "ADMIT after the client closed -> ECONNRESET; ADMIT racing the client's close leaves no member", |af| {
        let bus = Bus::new(af);
        let c = bus.connect();
        drop(c.client);
        expect_eq("admit after close", admit(&c.accepted, 0).err(), Some(Errno(libc::ECONNRESET)))?;
        for _ in 0..100 {
            let c = bus.connect();
            let cn = c.client.as_raw_fd();
            std::mem::forget(c.client);
            let closer = std::thread::spawn(move || sys::close(sys::owned(cn as _)));
            let r = admit(&c.accepted, 0);
            closer.join().expect("closer").expect("close");
            ensure!(matches!(r, Ok(()) | Err(Errno(libc::ECONNRESET))), "admit: {r:?}");
        }
        expect_eq("members after every client closed", proc_members(&bus.addr), Some(0))
    });
    case!(v, "hostile", "POLLOUT with filters: clear while a blocking member is full; a message its filter rejects still goes", |af| {
        let (_owner, a) = dgram_group(af);
        let full = members(af, &a, 1, 0).remove(0);
        // Accepts only messages starting with 'A'.
        let only_a = [
            libc::sock_filter { code: 0x30, jt: 0, jf: 0, k: 0 },  // ldb [0]
            libc::sock_filter { code: 0x15, jt: 0, jf: 1, k: b'A' as u32 }, // jeq 'A'
            libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0xffff }, // ret all
            libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0 },    // ret 0
        ];
        attach_filter(&full, &only_a).expect("filter");
        let tx = sock(af, D);
        tx.connect(&a).sys().expect("connect");
        let payload = vec![b'A'; 1000];
        while tx.send_with_flags(&payload, DONTWAIT).sys().is_ok() {}
        expect_eq("POLLOUT while the member is full", sys::poll(&tx, libc::POLLOUT, 0).map(|e| e & libc::POLLOUT), Ok(0))?;
        expect_eq("a message the full member's filter rejects", tx.send_with_flags(b"B-topic", DONTWAIT).sys(), Ok(7))?;
        expect_eq("a message it accepts", tx.send_with_flags(b"A-topic", DONTWAIT).sys().err(), Some(Errno(libc::EAGAIN)))?;
        drain(&full);
        expect_eq("POLLOUT once it drained", sys::poll(&tx, libc::POLLOUT, 1000).map(|e| e & libc::POLLOUT), Ok(libc::POLLOUT))
    });
    case!(v, "hostile", "close under injected allocation failures always completes and leaves the group", |af| {
        if !setup_faults() {
            return Err("fault injection is not available (CONFIG_FAULT_INJECTION_DEBUG_FS)".into());
        }
        let (_owner, a) = dgram_group(af);
        // Before the fix, leaving allocated a new member list and ignored a
        // failure (the closed socket stayed a member); now close allocates
        // nothing, so the first armed fault is not even reached.
        for nth in 1..=30 {
            let m = members(af, &a, 1, DROP).remove(0);
            let before = proc_members(&a).unwrap_or(0);
            ensure!(fail_nth(nth), "fail-nth");
            let r = sys::close(m);
            let unused = fault_unused();
            expect_eq("close", r, Ok(()))?;
            expect_eq(&format!("members after close with allocation {nth} failing"), proc_members(&a), Some(before - 1))?;
            if unused {
                break;
            }
        }
        Ok(())
    });
    case!(v, "hostile", "socket() and bind() under injected allocation failures: an errno, no leak, no inode left", |af| {
        if !setup_faults() {
            return Err("fault injection is not available".into());
        }
        let mut failures = 0;
        for nth in 1..=60 {
            ensure!(fail_nth(nth), "fail-nth");
            let r = sys::socket(af, D, 0);
            let unused = fault_unused();
            match r {
                Ok(_) => {}
                Err(e) => {
                    ensure!(matches!(e.0, libc::ENOMEM | libc::ENOBUFS | libc::ENFILE), "socket: {e:?}");
                    failures += 1;
                }
            }
            if unused {
                break;
            }
        }
        ensure!(failures > 0, "no allocation of socket() failed");
        let dir = format!("/tmp/hx-bind-{}", std::process::id());
        let _ = std::fs::create_dir(&dir);
        for nth in 1..=60 {
            let s = sock(af, D);
            let path = format!("{dir}/s{nth}");
            let a = Addr::path(&path).unwrap();
            ensure!(fail_nth(nth), "fail-nth");
            let r = s.bind(&a).sys();
            let unused = fault_unused();
            let exists = std::path::Path::new(&path).exists();
            match r {
                Ok(()) => ensure!(exists, "bound without an inode"),
                Err(e) => {
                    ensure!(!exists, "failed bind ({e:?}) left {path}");
                }
            }
            if unused {
                break;
            }
        }
        Ok(())
    });
    v
}
