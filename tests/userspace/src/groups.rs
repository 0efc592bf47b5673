//! Datagram groups (contract: "Groups", "Delivery guarantees", "poll /
//! epoll", "Leaving and closing", "Observability", "Namespaces").

use crate::{case, ensure};
use mcast_unix::Socket;
use std::os::fd::AsRawFd;
use crate::harness::{expect_eq, Case, CaseResult};
use crate::mcast::*;
use crate::client;
use crate::sys::{self, IntoSys, Errno};
use mcast_unix::Addr;
use mcast_unix::{MCAST_UNIX_DROP_WHEN_FULL as DROP, MCAST_UNIX_LOOPBACK as LOOP, MCAST_UNIX_SEND_TO_PEER as TO_PEER};
use std::time::Duration;

const D: i32 = libc::SOCK_DGRAM;

/// A group with a `slow` member whose queue a sender `tx` filled and a
/// `fast` member that was drained: the next blocking send must wait.
fn stuck_group(af: i32) -> (Socket, Addr, Socket, Socket, Socket, usize) {
    let (owner, a) = dgram_group(af);
    let slow = members(af, &a, 1, 0).remove(0);
    let fast = members(af, &a, 1, 0).remove(0);
    let tx = sock(af, D);
    let n = fill(&tx, Some(&a), 1024).expect("fill");
    drain(&fast);
    (owner, a, slow, fast, tx, n)
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "group", "repeated sendto to a group's name follows it: closed -> ECONNREFUSED, re-created -> the new members", |af| {
        let a = fresh("again");
        let s = sock(af, D);
        let owner = sock(af, D);
        create_group(&owner, &a).map_err(|e| format!("create: {e:?}"))?;
        let m1 = members(af, &a, 1, 0);
        for _ in 0..3 {
            s.send_to(b"old", &a).sys().map_err(|e| format!("send to the first group: {e:?}"))?;
        }
        expect_eq("first member", drain(&m1[0]).len(), 3)?;
        drop(owner);
        expect_eq("owner closed", err(s.send_to(b"x", &a).sys()), Some(Errno(libc::ECONNREFUSED)))?;
        expect_eq("and again", err(s.send_to(b"x", &a).sys()), Some(Errno(libc::ECONNREFUSED)))?;
        let owner2 = sock(af, D);
        create_group(&owner2, &a).map_err(|e| format!("create again: {e:?}"))?;
        let m2 = members(af, &a, 2, 0);
        for _ in 0..3 {
            s.send_to(b"new", &a).sys().map_err(|e| format!("send to the second group: {e:?}"))?;
        }
        expect_eq("the old member gets nothing more", drain(&m1[0]).len(), 0)?;
        expect_eq("new member 1", drain(&m2[0]), vec![b"new".to_vec(); 3])?;
        expect_eq("new member 2", drain(&m2[1]).len(), 3)?;
        // Two sockets that sent to each other (each remembers where its
        // last sendto went) close: neither keeps the other alive, so the
        // module's reference count comes back (each sock holds one until it
        // is freed, an RCU grace period after its close).
        // (Socks of earlier cases may still be waiting for their grace
        // period and go meanwhile: the count must come back to the baseline
        // or below.)
        let refcnt = || -> i64 {
            std::fs::read_to_string("/sys/module/mcast_unix/refcnt").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(-1)
        };
        let before = refcnt();
        let (x, y) = (sock(af, D), sock(af, D));
        let (ax, ay) = (fresh("x"), fresh("y"));
        x.bind(&ax).sys().map_err(|e| format!("{e:?}"))?;
        y.bind(&ay).sys().map_err(|e| format!("{e:?}"))?;
        x.send_to(b"to y", &ay).sys().map_err(|e| format!("{e:?}"))?;
        y.send_to(b"to x", &ax).sys().map_err(|e| format!("{e:?}"))?;
        ensure!(before >= 0 && refcnt() > before);
        drop((x, y));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while refcnt() > before && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = refcnt();
        ensure!(after <= before, "module refcnt {after} after both closed, {before} before they were made");
        Ok(())
    });
    case!(v, "group", "create binds the owner to the address", |af| {
        let (owner, a) = dgram_group(af);
        expect_eq("getsockname", owner.local_addr().sys(), Ok(a))
    });
    case!(v, "group", "create with flags != 0 -> EINVAL", |af| {
        let s = sock(af, D);
        expect_eq("flags", err(mreq_opt(&s, mcast_unix::MCAST_UNIX_CREATE_GROUP, &fresh("f"), LOOP)), Some(Errno(libc::EINVAL)))
    });
    case!(v, "group", "options with optlen < sizeof(mreq) -> EINVAL", |af| {
        let s = sock(af, D);
        let a = fresh("short");
        let m = mreq(af, &a, 0);
        // SAFETY: viewing the struct's bytes.
        let bytes = unsafe { std::slice::from_raw_parts(&m as *const _ as *const u8, 119) };
        for opt in [mcast_unix::MCAST_UNIX_CREATE_GROUP, mcast_unix::MCAST_UNIX_JOIN_GROUP, mcast_unix::MCAST_UNIX_LEAVE_GROUP] {
            expect_eq("short", err(setopt(&s, mcast_unix::SOL_MCAST_UNIX, opt, bytes)), Some(Errno(libc::EINVAL)))?;
        }
        Ok(())
    });
    case!(v, "group", "create on a bound socket -> EINVAL", |af| {
        let s = sock(af, D);
        s.bind(&fresh("b")).sys().unwrap();
        expect_eq("bound", err(create_group(&s, &fresh("g"))), Some(Errno(libc::EINVAL)))
    });
    case!(v, "group", "create on a taken address -> EADDRINUSE", |af| {
        let (_owner, a) = dgram_group(af);
        let plain = sock(af, D);
        let b = fresh("plain");
        plain.bind(&b).sys().unwrap();
        expect_eq("group address", err(create_group(&sock(af, D), &a)), Some(Errno(libc::EADDRINUSE)))?;
        expect_eq("plain address", err(create_group(&sock(af, D), &b)), Some(Errno(libc::EADDRINUSE)))
    });
    case!(v, "group", "a pathname group creates a socket inode", |af| {
        let path = format!("/tmp/grp-{}", std::process::id());
        let _ = std::fs::remove_file(&path);
        let owner = sock(af, D);
        create_group(&owner, &Addr::path(&path).unwrap()).map_err(|e| format!("{e:?}"))?;
        let meta = std::fs::metadata(&path).map_err(|e| e.to_string())?;
        use std::os::unix::fs::FileTypeExt;
        ensure!(meta.file_type().is_socket());
        let m = sock(af, D);
        join(&m, &Addr::path(&path).unwrap(), 0).map_err(|e| format!("join: {e:?}"))?;
        sock(af, D).send_to(b"p", &Addr::path(&path).unwrap()).sys().map_err(|e| format!("{e:?}"))?;
        let got = client::recv(&m, 16, libc::MSG_DONTWAIT);
        let _ = std::fs::remove_file(&path);
        expect_eq("member got", got, Ok(b"p".to_vec()))
    });
    case!(v, "group", "wrong level or unknown option -> ENOPROTOOPT", |af| {
        let s = sock(af, D);
        let m = mreq(af, &fresh("x"), 0);
        // SAFETY: viewing the struct's bytes.
        let bytes = unsafe { std::slice::from_raw_parts(&m as *const _ as *const u8, std::mem::size_of_val(&m)) };
        expect_eq("level", err(setopt(&s, mcast_unix::SOL_MCAST_UNIX + 1, 1, bytes)), Some(Errno(libc::ENOPROTOOPT)))?;
        expect_eq("option", err(setopt(&s, mcast_unix::SOL_MCAST_UNIX, 99, bytes)), Some(Errno(libc::ENOPROTOOPT)))
    });
    case!(v, "group", "join twice -> EADDRINUSE", |af| {
        let (_o, a) = dgram_group(af);
        let m = sock(af, D);
        join(&m, &a, 0).unwrap();
        expect_eq("again", err(join(&m, &a, 0)), Some(Errno(libc::EADDRINUSE)))
    });
    case!(v, "group", "join with unknown flag bits -> EINVAL", |af| {
        let (_o, a) = dgram_group(af);
        expect_eq("flags", err(join(&sock(af, D), &a, 1 << 7)), Some(Errno(libc::EINVAL)))
    });
    case!(v, "group", "join a missing group -> ECONNREFUSED (abstract) / ENOENT (path)", |af| {
        let m = sock(af, D);
        expect_eq("abstract", err(join(&m, &fresh("none"), 0)), Some(Errno(libc::ECONNREFUSED)))?;
        expect_eq("path", err(join(&m, &Addr::path("/nonexistent-dir/group").unwrap(), 0)), Some(Errno(libc::ENOENT)))
    });
    case!(v, "group", "join a plain bound socket -> EINVAL", |af| {
        let plain = sock(af, D);
        let a = fresh("plain");
        plain.bind(&a).sys().unwrap();
        expect_eq("plain", err(join(&sock(af, D), &a, 0)), Some(Errno(libc::EINVAL)))
    });
    case!(v, "group", "join/leave on a seqpacket socket -> EOPNOTSUPP", |af| {
        let (_o, a) = dgram_group(af);
        let s = sock(af, libc::SOCK_SEQPACKET);
        expect_eq("join", err(join(&s, &a, 0)), Some(Errno(libc::EOPNOTSUPP)))?;
        expect_eq("leave", err(leave(&s, &a)), Some(Errno(libc::EOPNOTSUPP)))
    });
    case!(v, "group", "leave when not a member -> EADDRNOTAVAIL", |af| {
        let (_o, a) = dgram_group(af);
        let m = sock(af, D);
        expect_eq("never joined", err(leave(&m, &a)), Some(Errno(libc::EADDRNOTAVAIL)))?;
        join(&m, &a, 0).unwrap();
        leave(&m, &a).unwrap();
        expect_eq("left", err(leave(&m, &a)), Some(Errno(libc::EADDRNOTAVAIL)))
    });
    case!(v, "group", "a member that left receives nothing more", |af| {
        let (_o, a) = dgram_group(af);
        let ms = members(af, &a, 2, 0);
        let tx = sock(af, D);
        tx.send_to(b"1", &a).sys().unwrap();
        leave(&ms[0], &a).unwrap();
        tx.send_to(b"2", &a).sys().unwrap();
        expect_eq("left", drain(&ms[0]), vec![b"1".to_vec()])?;
        expect_eq("stayed", drain(&ms[1]), vec![b"1".to_vec(), b"2".to_vec()])
    });
    case!(v, "group", "8 members each receive every message exactly once, in order", |af| {
        let (_o, a) = dgram_group(af);
        let ms = members(af, &a, 8, 0);
        let tx = sock(af, D);
        for i in 0..100u32 {
            tx.send_to(&i.to_ne_bytes(), &a).sys().unwrap();
        }
        let want: Vec<Vec<u8>> = (0..100u32).map(|i| i.to_ne_bytes().to_vec()).collect();
        for m in &ms {
            expect_eq("messages", drain(m), want.clone())?;
        }
        Ok(())
    });
    case!(v, "group", "members see the original sender's address", |af| {
        let (_o, a) = dgram_group(af);
        let ms = members(af, &a, 2, 0);
        let tx = sock(af, D);
        let me = fresh("sender");
        tx.bind(&me).sys().unwrap();
        tx.send_to(b"x", &a).sys().unwrap();
        for m in &ms {
            let msg = recvmsg(m, 8, libc::MSG_DONTWAIT).map_err(|e| format!("{e:?}"))?;
            expect_eq("from", &msg.from, &me)?;
        }
        // An unbound sender shows no address.
        sock(af, D).send_to(b"y", &a).sys().unwrap();
        let (_, _, from) = sys::recvfrom(&ms[0], 8, libc::MSG_DONTWAIT).map_err(|e| format!("{e:?}"))?;
        expect_eq("unnamed", from.len, 0)
    });
    case!(v, "group", "connect(group) + send reaches the members", |af| {
        let (_o, a) = dgram_group(af);
        let ms = members(af, &a, 3, 0);
        let tx = sock(af, D);
        tx.connect(&a).sys().unwrap();
        expect_eq("send", tx.send_with_flags(b"hi", 0).sys(), Ok(2))?;
        for m in &ms {
            expect_eq("got", drain(m), vec![b"hi".to_vec()])?;
        }
        Ok(())
    });
    case!(v, "group", "the owner is not a member unless it joins", |af| {
        let (owner, a) = dgram_group(af);
        let _ms = members(af, &a, 1, 0);
        sock(af, D).send_to(b"x", &a).sys().unwrap();
        expect_eq("owner", drain(&owner).len(), 0)?;
        join(&owner, &a, 0).map_err(|e| format!("owner join: {e:?}"))?;
        sock(af, D).send_to(b"y", &a).sys().unwrap();
        expect_eq("owner joined", drain(&owner), vec![b"y".to_vec()])
    });
    case!(v, "group", "a member does not get its own messages without LOOPBACK", |af| {
        let (_o, a) = dgram_group(af);
        let m = members(af, &a, 1, 0).remove(0);
        let other = members(af, &a, 1, 0).remove(0);
        m.send_to(b"me", &a).sys().unwrap();
        expect_eq("self", drain(&m).len(), 0)?;
        expect_eq("other", drain(&other).len(), 1)
    });
    case!(v, "group", "LOOPBACK: a member gets its own messages", |af| {
        let (_o, a) = dgram_group(af);
        let m = members(af, &a, 1, LOOP).remove(0);
        m.send_to(b"me", &a).sys().unwrap();
        expect_eq("self", drain(&m), vec![b"me".to_vec()])
    });
    case!(v, "group", "SEND_TO_PEER: the owner gets a copy of that member's messages", |af| {
        let (owner, a) = dgram_group(af);
        let m = members(af, &a, 1, TO_PEER).remove(0);
        let plain_member = members(af, &a, 1, 0).remove(0);
        m.send_to(b"up", &a).sys().unwrap();
        plain_member.send_to(b"no", &a).sys().unwrap();
        expect_eq("owner", drain(&owner), vec![b"up".to_vec()])
    });
    case!(v, "group", "SO_PASSCRED members get the sender's credentials", |af| {
        let (_o, a) = dgram_group(af);
        let m = members(af, &a, 1, 0).remove(0);
        m.set_passcred(true).sys().unwrap();
        sock(af, D).send_to(b"c", &a).sys().unwrap();
        let msg = recvmsg(&m, 8, libc::MSG_DONTWAIT).map_err(|e| format!("{e:?}"))?;
        let c = msg.creds().ok_or("no SCM_CREDENTIALS")?;
        // SAFETY: plain getters.
        let (pid, uid, gid) = unsafe { (libc::getpid(), libc::getuid(), libc::getgid()) };
        expect_eq("creds", (c.pid, c.uid, c.gid), (pid, uid, gid))
    });
    case!(v, "group", "an empty group accepts a send (no recipients)", |af| {
        let (_o, a) = dgram_group(af);
        expect_eq("send", sock(af, D).send_to(b"x", &a).sys(), Ok(1))
    });
    case!(v, "group", "a message larger than SO_SNDBUF -> EMSGSIZE", |af| {
        let (_o, a) = dgram_group(af);
        let _m = members(af, &a, 1, 0);
        let tx = sock(af, D);
        tx.set_send_buffer_size(4096).sys().unwrap();
        expect_eq("big", err(tx.send_to(&vec![0u8; 16384], &a).sys()), Some(Errno(libc::EMSGSIZE)))
    });
    case!(v, "group", "MSG_TRUNC at a member", |af| {
        let (_o, a) = dgram_group(af);
        let m = members(af, &a, 1, 0).remove(0);
        sock(af, D).send_to(b"0123456789", &a).sys().unwrap();
        let msg = recvmsg(&m, 4, libc::MSG_DONTWAIT | libc::MSG_TRUNC).map_err(|e| format!("{e:?}"))?;
        expect_eq("len", msg.len, 10)?;
        expect_eq("data", msg.data, b"0123".to_vec())?;
        ensure!(msg.flags & libc::MSG_TRUNC != 0);
        Ok(())
    });
    case!(v, "group", "members also receive unicast messages", |af| {
        let (_o, a) = dgram_group(af);
        let m = members(af, &a, 1, 0).remove(0);
        let ma = fresh("m");
        m.bind(&ma).sys().unwrap();
        let tx = sock(af, D);
        tx.send_to(b"g", &a).sys().unwrap();
        tx.send_to(b"u", &ma).sys().unwrap();
        expect_eq("both", drain(&m), vec![b"g".to_vec(), b"u".to_vec()])
    });
    case!(v, "group", "each member is charged for its copy", |af| {
        let (_o, a) = dgram_group(af);
        let ms = members(af, &a, 4, 0);
        sock(af, D).send_to(&[1u8; 1000], &a).sys().unwrap();
        for m in &ms {
            let line = proc_sock(m).ok_or("no /proc line")?;
            let rmem: u64 = line[7].parse().map_err(|_| "rmem")?;
            ensure!(rmem >= 1000, "rmem {rmem}");
            expect_eq("SIOCINQ", inq(m), 1000)?;
        }
        Ok(())
    });

    // Back-pressure and drops.
    case!(v, "group", "non-blocking send to a full member: EAGAIN, nobody receives", |af| {
        let (_o, a) = dgram_group(af);
        let slow = members(af, &a, 1, 0).remove(0);
        let fast = members(af, &a, 2, 0);
        let n = fill(&sock(af, D), Some(&a), 1024).map_err(|e| format!("{e:?}"))?;
        ensure!(n > 0);
        for f in &fast {
            expect_eq("fast got all that slow got", drain(f).len(), n)?;
        }
        let before = inq(&slow);
        expect_eq("EAGAIN", err(sock(af, D).send_to_with_flags(b"x", &a, libc::MSG_DONTWAIT).sys()), Some(Errno(libc::EAGAIN)))?;
        for f in &fast {
            expect_eq("fast untouched", drain(f).len(), 0)?;
        }
        expect_eq("slow untouched", inq(&slow), before)
    });
    case!(v, "group", "blocking send bounded by SO_SNDTIMEO -> EAGAIN, nothing delivered", |af| {
        let (_o, a, _slow, fast, tx, _) = stuck_group(af);
        tx.set_write_timeout(Some(std::time::Duration::from_millis(100))).expect("SO_SNDTIMEO");
        expect_eq("timeout", err(tx.send_to(b"late", &a).sys()), Some(Errno(libc::EAGAIN)))?;
        expect_eq("fast", drain(&fast).len(), 0)
    });
    case!(v, "group", "a blocked sender resumes when the slow member drains", |af| {
        let (_o, a, slow, fast, tx, n) = stuck_group(af);
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            // Room for one more message.
            client::recv(&slow, 2048, 0).map(|_| slow)
        });
        let r = tx.send_to(b"after", &a).sys();
        let slow = reader.join().unwrap().map_err(|e| format!("{e:?}"))?;
        expect_eq("send", r, Ok(5))?;
        let rest = drain(&slow);
        expect_eq("slow has the rest and the new one", rest.len(), n)?;
        expect_eq("last", rest.last().cloned(), Some(b"after".to_vec()))?;
        expect_eq("fast", drain(&fast), vec![b"after".to_vec()])
    });
    case!(v, "group", "a signal interrupts a blocked sender: EINTR, nothing delivered", |af| {
        let (_o, a, _slow, fast, tx, _) = stuck_group(af);
        extern "C" fn nothing(_: i32) {}
        // SAFETY: installing a handler without SA_RESTART for SIGUSR1.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = nothing as *const () as usize;
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        }
        // SAFETY: pthread_self is always valid.
        let me = unsafe { libc::pthread_self() } as usize;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        // Signal until the send returns: a signal that lands before the
        // sender blocks must not leave it blocked forever.
        let t = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                // SAFETY: signalling a live thread of this process (it joins us).
                unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) };
            }
        });
        let r = tx.send_to(b"x", &a).sys();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        t.join().unwrap();
        expect_eq("EINTR", err(r), Some(Errno(libc::EINTR)))?;
        expect_eq("fast", drain(&fast).len(), 0)
    });
    case!(v, "group", "DROP_WHEN_FULL: the sender is not held back; drops counted exactly", |af| {
        let (_o, a) = dgram_group(af);
        let dropper = members(af, &a, 1, DROP).remove(0);
        let fast = members(af, &a, 1, 0).remove(0);
        dropper.set_recv_overflow(true).sys().unwrap();
        let tx = sock(af, D);
        let mut sent = 0;
        for _ in 0..400 {
            tx.send_to_with_flags(&[7u8; 1024], &a, libc::MSG_DONTWAIT).sys().map_err(|e| format!("send {sent}: {e:?}"))?;
            sent += 1;
            drain(&fast);
        }
        let kept = drain(&dropper).len();
        ensure!(kept < sent, "kept {kept} of {sent}");
        let drops = (sent - kept) as u64;
        let line = proc_sock(&dropper).ok_or("no /proc line")?;
        expect_eq("proc drops", line[8].parse::<u64>().ok(), Some(drops))?;
        let g = proc_group(&a).ok_or("no group line")?;
        expect_eq("group dropped", g[5].parse::<u64>().ok(), Some(drops))?;
        tx.send_to(b"next", &a).sys().unwrap();
        let msg = recvmsg(&dropper, 64, libc::MSG_DONTWAIT).map_err(|e| format!("{e:?}"))?;
        expect_eq("SO_RXQ_OVFL", msg.overflow(), Some(drops as u32))
    });
    case!(v, "group", "EAGAIN from a full blocking member: a full DROP_WHEN_FULL member loses nothing", |af| {
        let (_o, a) = dgram_group(af);
        let slow = members(af, &a, 1, 0).remove(0);
        let dropper = members(af, &a, 1, DROP).remove(0);
        let tx = sock(af, D);
        fill(&tx, Some(&a), 1024).unwrap();
        let before = proc_sock(&dropper).ok_or("proc")?[8].clone();
        expect_eq("EAGAIN", err(tx.send_to_with_flags(b"x", &a, libc::MSG_DONTWAIT).sys()), Some(Errno(libc::EAGAIN)))?;
        expect_eq("drops unchanged", proc_sock(&dropper).ok_or("proc")?[8].clone(), before)?;
        drop(slow);
        Ok(())
    });

    // poll / epoll.
    case!(v, "group", "POLLOUT reflects every blocking member's room", |af| {
        let (_o, a) = dgram_group(af);
        let slow = members(af, &a, 1, 0).remove(0);
        let _dropper = members(af, &a, 1, DROP);
        let tx = sock(af, D);
        tx.connect(&a).sys().unwrap();
        expect_eq("empty", sys::poll(&tx, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT), Ok(libc::POLLOUT))?;
        fill(&tx, None, 1024).unwrap();
        expect_eq("full", sys::poll(&tx, libc::POLLOUT, 0), Ok(0))?;
        drain(&slow);
        expect_eq("drained", sys::poll(&tx, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT), Ok(libc::POLLOUT))
    });
    case!(v, "group", "POLLOUT ignores full DROP_WHEN_FULL members", |af| {
        let (_o, a) = dgram_group(af);
        let _dropper = members(af, &a, 1, DROP);
        let tx = sock(af, D);
        tx.connect(&a).sys().unwrap();
        for _ in 0..400 {
            tx.send_with_flags(&[0u8; 1024], libc::MSG_DONTWAIT).sys().map_err(|e| format!("{e:?}"))?;
        }
        expect_eq("still writable", sys::poll(&tx, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT), Ok(libc::POLLOUT))
    });
    case!(v, "group", "epoll: EPOLLOUT arrives when the slow member drains", |af| {
        let (_o, a) = dgram_group(af);
        let slow = members(af, &a, 1, 0).remove(0);
        let tx = sock(af, D);
        tx.connect(&a).sys().unwrap();
        fill(&tx, None, 1024).unwrap();
        // SAFETY: epoll on our descriptors.
        let ep = sys::owned(unsafe { libc::epoll_create1(0) } as _);
        let mut ev = libc::epoll_event { events: (libc::EPOLLOUT | libc::EPOLLET) as u32, u64: 1 };
        // SAFETY: valid epoll fd, socket and event.
        unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, tx.as_raw_fd(), &mut ev) };
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: as above.
        let n0 = unsafe { libc::epoll_wait(ep.as_raw_fd(), out.as_mut_ptr(), 4, 0) };
        expect_eq("full: no event", n0, 0)?;
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            client::recv(&slow, 2048, 0).map(|d| d.len())
        });
        // SAFETY: as above.
        let n1 = unsafe { libc::epoll_wait(ep.as_raw_fd(), out.as_mut_ptr(), 4, 5000) };
        let _ = t.join();
        expect_eq("woken", n1, 1)?;
        ensure!(out[0].events & libc::EPOLLOUT as u32 != 0);
        Ok(())
    });

    // Ordering.
    case!(v, "group", "3 concurrent senders x 2000 messages: one order at 4 members", |af| {
        let (_o, a) = dgram_group(af);
        let ms = members(af, &a, 4, 0);
        for m in &ms {
            m.set_recv_buffer_size(1 << 20).sys().unwrap();
        }
        let per = 2000u32;
        let senders: Vec<_> = (0..3u32)
            .map(|s| {
                let a = a.clone();
                std::thread::spawn(move || {
                    let tx = sock(af, D);
                    for i in 0..per {
                        let mut msg = s.to_ne_bytes().to_vec();
                        msg.extend_from_slice(&i.to_ne_bytes());
                        tx.send_to(&msg, &a).sys().expect("send");
                    }
                })
            })
            .collect();
        // Read while they send (members would fill up otherwise).
        let readers: Vec<_> = ms
            .into_iter()
            .map(|m| {
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while got.len() < 3 * per as usize {
                        got.push(client::recv(&m, 16, 0).expect("recv"));
                    }
                    got
                })
            })
            .collect();
        for s in senders {
            s.join().map_err(|_| "sender panicked")?;
        }
        let orders: Vec<Vec<Vec<u8>>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        for o in &orders[1..] {
            ensure!(o == &orders[0], "members saw different orders");
        }
        // Each sender's own sequence is in order.
        for s in 0..3u32 {
            let seq: Vec<u32> = orders[0]
                .iter()
                .filter(|m| m[..4] == s.to_ne_bytes())
                .map(|m| u32::from_ne_bytes([m[4], m[5], m[6], m[7]]))
                .collect();
            expect_eq("per-sender order", seq, (0..per).collect::<Vec<_>>())?;
        }
        Ok(())
    });
    case!(v, "group", "leave and close racing a sender: no loss at the staying member", |af| {
        let (_o, a) = dgram_group(af);
        let stay = members(af, &a, 1, 0).remove(0);
        stay.set_recv_buffer_size(1 << 20).sys().unwrap();
        let total = 3000u32;
        let to = a.clone();
        let sender = std::thread::spawn(move || {
            let tx = sock(af, D);
            for i in 0..total {
                tx.send_to(&i.to_ne_bytes(), &to).sys().expect("send");
            }
        });
        let churn = std::thread::spawn(move || {
            for i in 0..150 {
                let m = sock(af, D);
                join(&m, &a, if i % 2 == 0 { 0 } else { DROP }).expect("join");
                if i % 3 == 0 {
                    leave(&m, &a).expect("leave");
                } else if i % 3 == 1 {
                    m.shutdown(std::net::Shutdown::Read).sys().expect("shutdown");
                }
                drain(&m);
                // close
            }
        });
        let mut got = Vec::new();
        while got.len() < total as usize {
            let d = client::recv(&stay, 16, 0).map_err(|e| format!("{e:?}"))?;
            got.push(u32::from_ne_bytes([d[0], d[1], d[2], d[3]]));
        }
        sender.join().map_err(|_| "sender")?;
        churn.join().map_err(|_| "churn")?;
        expect_eq("all, in order", got, (0..total).collect::<Vec<_>>())
    });

    // Leaving and closing.
    case!(v, "group", "shutdown(SHUT_RD) leaves every group", |af| {
        let (_o1, a1) = dgram_group(af);
        let (_o2, a2) = dgram_group(af);
        let m = sock(af, D);
        join(&m, &a1, 0).unwrap();
        join(&m, &a2, 0).unwrap();
        expect_eq("groups", proc_sock(&m).map(|l| l[6].clone()), Some("2".into()))?;
        m.shutdown(std::net::Shutdown::Read).sys().unwrap();
        expect_eq("groups after", proc_sock(&m).map(|l| l[6].clone()), Some("0".into()))?;
        sock(af, D).send_to(b"x", &a1).sys().unwrap();
        expect_eq("nothing queued", inq(&m), 0)?;
        expect_eq("leave", err(leave(&m, &a1)), Some(Errno(libc::EADDRNOTAVAIL)))?;
        expect_eq("members", proc_group(&a1).map(|g| g[3].clone()), Some("0".into()))
    });
    case!(v, "group", "close removes the member", |af| {
        let (_o, a) = dgram_group(af);
        let ms = members(af, &a, 3, 0);
        expect_eq("3", proc_group(&a).map(|g| g[3].clone()), Some("3".into()))?;
        drop(ms);
        expect_eq("0", proc_group(&a).map(|g| g[3].clone()), Some("0".into()))
    });
    case!(v, "group", "owner close: members lose the membership, sends -> ECONNREFUSED", |af| {
        let (owner, a) = dgram_group(af);
        let m = members(af, &a, 1, 0).remove(0);
        let connected = sock(af, D);
        connected.connect(&a).sys().unwrap();
        drop(owner);
        expect_eq("leave", err(leave(&m, &a)), Some(Errno(libc::EADDRNOTAVAIL)))?;
        expect_eq("sendto", err(sock(af, D).send_to(b"x", &a).sys()), Some(Errno(libc::ECONNREFUSED)))?;
        expect_eq("send", err(connected.send_with_flags(b"x", 0).sys()), Some(Errno(libc::ECONNREFUSED)))?;
        expect_eq("member groups", proc_sock(&m).map(|l| l[6].clone()), Some("0".into()))
    });
    case!(v, "group", "a group can be created again at a freed address", |af| {
        let (owner, a) = dgram_group(af);
        drop(owner);
        let owner2 = sock(af, D);
        create_group(&owner2, &a).map_err(|e| format!("{e:?}"))?;
        let m = members(af, &a, 1, 0).remove(0);
        sock(af, D).send_to(b"new", &a).sys().unwrap();
        expect_eq("got", drain(&m), vec![b"new".to_vec()])
    });

    // Observability.
    case!(v, "group", "/proc/net/mcast_unix lists roles, groups and counters", |af| {
        let (owner, a) = dgram_group(af);
        let m = members(af, &a, 2, 0);
        for _ in 0..5 {
            sock(af, D).send_to(b"x", &a).sys().unwrap();
        }
        let o = proc_sock(&owner).ok_or("owner line")?;
        expect_eq("owner role", (o[2].as_str(), o[4].as_str(), o[5].clone()), ("dgram", "owner", a.to_string()))?;
        let l = proc_sock(&m[0]).ok_or("member line")?;
        expect_eq("member role", (l[4].as_str(), l[6].as_str()), ("member", "1"))?;
        let g = proc_group(&a).ok_or("group line")?;
        expect_eq("group", (g[2].as_str(), g[3].as_str(), g[4].as_str(), g[5].as_str()), ("dgram", "2", "5", "0"))
    });

    // Limits.
    case!(v, "group", "max_groups (20): the 21st join -> ENOBUFS", |af| {
        let groups: Vec<(Socket, Addr)> = (0..21).map(|_| dgram_group(af)).collect();
        let m = sock(af, D);
        for (i, (_, a)) in groups.iter().enumerate().take(20) {
            join(&m, a, 0).map_err(|e| format!("join {i}: {e:?}"))?;
        }
        expect_eq("21st", err(join(&m, &groups[20].1, 0)), Some(Errno(libc::ENOBUFS)))
    });
    case!(v, "group", "max_members as a module parameter: one more -> ENOBUFS", |af| {
        // Reload with a small limit; the module must be idle (no sockets).
        expect_eq("rmmod", sys::unload_module("mcast_unix"), Ok(()))?;
        let loaded = sys::load_module("/mcast_unix.ko", "max_members=3 max_groups=2");
        let result = (|| -> CaseResult {
            loaded.map_err(|e| format!("insmod: {e:?}"))?;
            let (_o, a) = dgram_group(af);
            let _ms = members(af, &a, 3, 0);
            expect_eq("4th member", err(join(&sock(af, D), &a, 0)), Some(Errno(libc::ENOBUFS)))?;
            let (_o2, a2) = dgram_group(af);
            let (_o3, a3) = dgram_group(af);
            let m = sock(af, D);
            join(&m, &a2, 0).unwrap();
            join(&m, &a3, 0).unwrap();
            let (_o4, a4) = dgram_group(af);
            expect_eq("3rd group", err(join(&m, &a4, 0)), Some(Errno(libc::ENOBUFS)))
        })();
        let _ = sys::unload_module("mcast_unix");
        expect_eq("reload", sys::load_module("/mcast_unix.ko", ""), Ok(()))?;
        result
    });

    // Permissions and namespaces.
    case!(v, "group", "joining a pathname group needs write permission (EACCES)", |af| {
        let path = format!("/tmp/perm-{}", std::process::id());
        let _ = std::fs::remove_file(&path);
        let owner = sock(af, D);
        create_group(&owner, &Addr::path(&path).unwrap()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p2 = path.clone();
        let code = in_child(move || {
            // SAFETY: dropping privileges in the child.
            unsafe {
                libc::setgid(65534);
                libc::setuid(65534);
            }
            let m = sock(af, D);
            match join(&m, &Addr::path(&p2).unwrap(), 0) {
                Err(Errno(libc::EACCES)) => 0,
                _ => 1,
            }
        });
        let _ = std::fs::remove_file(&path);
        expect_eq("child saw EACCES", code, 0)
    });
    case!(v, "group", "abstract groups are per network namespace", |af| {
        let (_o, a) = dgram_group(af);
        let code = in_child(move || {
            // SAFETY: entering a new network namespace in the child.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return 2;
            }
            let s = sock(af, D);
            if join(&s, &a, 0) != Err(Errno(libc::ECONNREFUSED)) {
                return 3;
            }
            if s.send_to(b"x", &a).sys() != Err(Errno(libc::ECONNREFUSED)) {
                return 4;
            }
            // The same name is free here.
            if create_group(&sock(af, D), &a).is_err() {
                return 5;
            }
            // This namespace's listing does not show the other's group twice.
            let n = proc_lines().iter().filter(|l| l.starts_with("G ")).count();
            if n != 1 {
                return 6;
            }
            0
        });
        expect_eq("child", code, 0)
    });
    v
}
