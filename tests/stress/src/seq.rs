//! The seqpacket group scenario: admission by a listening owner.
//!
//! A client connects and, while the connection is still plain unicast,
//! tells the owner which flags it wants and whether it wants to be kicked
//! (closed by the owner) after some milliseconds. The owner accepts, admits
//! it with those flags and answers with an "admitted" token on the accepted
//! socket; the client counts from there.
//!
//! - whole-run members, each with a reader thread and (but M3, M4) a sender
//!   thread on the same socket: M4 no flags, sends nothing (the reference),
//!   M0 LOOPBACK (blocking sends, signals), M1 LOOPBACK|SEND_TO_PEER (blocking; the owner reads
//!   its copies, sometimes slowly; no signals), M2 no flags (MSG_DONTWAIT sends), M3
//!   DROP_WHEN_FULL with SO_RXQ_OVFL (reads only);
//! - churn threads: clients that join with no flags, DROP_WHEN_FULL or
//!   DROP_WHEN_FULL|LOOPBACK, read, stall, send a few non-blocking messages
//!   of their own (a fresh sender id each), and end by close, SHUT_RD, or
//!   being kicked by the owner.
//!
//! The sentinel goes out from a member of its own once everyone stopped
//! sending. A LOOPBACK sender's own copies may be dropped (and counted)
//! when its queue is full: the contract lets a sender's own copy never hold
//! it back.

use crate::check::{End, Mode, PeerCopies, Segment, SendLog};
use crate::msg::{self, Header, Kind, CLOCK};
use test_support::rng::Rng;
use crate::run::{self, classify, drain_now, read_member, sender, sleep_ms, Ctl, Dest, Got, Pace, Phase, SendHow, RECV_CAP};
use crate::sys::{self, Errno, Fd, SockAddr};
use mcast_unix::{MCAST_UNIX_DROP_WHEN_FULL as DWF, MCAST_UNIX_LOOPBACK as LOOP, MCAST_UNIX_SEND_TO_PEER as TO_PEER};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const GROUP: u8 = 1;
const SENTINEL: u16 = 31;
/// The DROP_WHEN_FULL whole-run readers of this scenario (M3).
pub const DWF_READERS: u64 = 1;

/// Clock tickets of kicks, by the kicked member's sender id: taken right
/// after the owner's close of the accepted socket returned.
type Kicks = Arc<Mutex<HashMap<u16, u64>>>;

fn seqpacket(af: i32) -> Fd {
    sys::socket(af, libc::SOCK_SEQPACKET).expect("socket(SOCK_SEQPACKET)")
}

/// What a client asks the owner for: its sender id, the membership flags,
/// and a kick after `kick_ms` milliseconds (0: none).
#[derive(Clone, Copy)]
struct Ask {
    id: u16,
    flags: u32,
    kick_ms: u32,
}

/// Connects to the group, sends the request, and waits for the owner's
/// token. Group messages that arrive before the token (the admission
/// precedes it) go to `seg`.
fn join_bus(ctl: &Ctl, fd: &Fd, addr: &SockAddr, ask: Ask, seg: &mut Segment, bad: &mut Vec<String>) -> Result<(), Errno> {
    sys::connect(fd, addr)?;
    let h = Header { group: GROUP, kind: Kind::Request, sender: ask.id, seq: ask.kick_ms, stamp: 0, arg: ask.flags as u16 };
    let req = msg::encode(&h, msg::HEADER);
    sys::send(fd, &req, 0)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match sys::recvmsg(fd, RECV_CAP, 0) {
            Ok(r) => match classify(&r, GROUP, bad, &seg.name) {
                Some(Got::Other(h)) if h.kind == Kind::Admitted => return Ok(()),
                Some(Got::Data(rx)) => seg.during.push(rx),
                Some(Got::Eof) => return Err(Errno(libc::ECONNRESET)),
                _ => bad.push(format!("{}: unexpected message before admission", seg.name)),
            },
            Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
    ctl.unexpected(format!("{}: no admission within 10 s", seg.name));
    Err(Errno(libc::ETIMEDOUT))
}

/// One accepted connection at the owner.
struct Conn {
    fd: Fd,
    member: u16,
    kick_at: Option<Instant>,
    copies: Option<PeerCopies>,
}

/// The owner: accepts and admits, reads SEND_TO_PEER copies (sometimes
/// slowly), kicks who asked for it, closes connections whose client left.
fn owner_loop(ctl: Arc<Ctl>, listener: Arc<Fd>, kicks: Kicks, mut rng: Rng) -> (Vec<PeerCopies>, Vec<String>) {
    let beat = ctl.beat("seq owner");
    let mut conns: Vec<Conn> = Vec::new();
    let mut done: Vec<PeerCopies> = Vec::new();
    let mut bad = Vec::new();
    loop {
        beat.tick();
        let phase = ctl.phase();
        beat.doing("poll");
        let mut fds: Vec<&Fd> = vec![&listener];
        fds.extend(conns.iter().map(|c| &c.fd));
        let revents = match sys::poll(&fds, libc::POLLIN, 20) {
            Ok(r) => r,
            Err(Errno(libc::EINTR)) => continue,
            Err(e) => {
                ctl.unexpected(format!("seq owner: poll: {e:?}"));
                sleep_ms(10);
                continue;
            }
        };
        if revents[0] & libc::POLLIN != 0 {
            beat.doing("accept + admit");
            match sys::accept(&listener, 0) {
                Ok(fd) => {
                    if let Some(c) = admit_one(&ctl, fd, &mut bad) {
                        conns.push(c);
                    }
                }
                Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => {}
                Err(e) => ctl.unexpected(format!("seq owner: accept: {e:?}")),
            }
        }
        // Read what the connections have; drop those whose client is gone.
        let mut gone = Vec::new();
        for (i, c) in conns.iter_mut().enumerate() {
            if revents.get(i + 1).copied().unwrap_or(0) == 0 && phase != Phase::Done {
                continue;
            }
            beat.doing("reading a connection");
            loop {
                match sys::recvmsg(&c.fd, RECV_CAP, libc::MSG_DONTWAIT) {
                    Ok(r) => match classify(&r, GROUP, &mut bad, "seq owner") {
                        Some(Got::Data(rx)) => match &mut c.copies {
                            Some(p) => p.copies.push(rx),
                            None => bad.push(format!("seq owner: a group message from member {} on its accepted socket without SEND_TO_PEER", c.member)),
                        },
                        Some(Got::Eof) => {
                            gone.push(i);
                            break;
                        }
                        Some(_) => bad.push("seq owner: unexpected message".into()),
                        None => {}
                    },
                    Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => break,
                    Err(Errno(libc::ECONNRESET)) | Err(Errno(libc::EPIPE)) => {
                        gone.push(i);
                        break;
                    }
                    Err(e) => {
                        ctl.unexpected(format!("seq owner: recvmsg: {e:?}"));
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        for (i, c) in conns.iter().enumerate() {
            if c.kick_at.is_some_and(|t| t <= now) && !gone.contains(&i) {
                gone.push(i);
            }
        }
        gone.sort_unstable();
        for i in gone.into_iter().rev() {
            let c = conns.swap_remove(i);
            let kicked = c.kick_at.is_some_and(|t| t <= now);
            if let Some(p) = c.copies {
                done.push(p);
            }
            beat.doing("closing a connection");
            match sys::close(c.fd) {
                Ok(()) if kicked => {
                    kicks.lock().unwrap().insert(c.member, CLOCK.tick());
                    ctl.counters.add("seq kicks", 1);
                }
                Ok(()) => {}
                Err(e) => ctl.unexpected(format!("seq owner: close: {e:?}")),
            }
        }
        if phase == Phase::Done {
            break;
        }
        if phase == Phase::Running && rng.one_in(300) {
            // A slow owner: SEND_TO_PEER senders must wait (not spin, not drop).
            beat.doing("stalling");
            sleep_ms(rng.range(20, 300));
        }
    }
    done.extend(conns.into_iter().filter_map(|c| c.copies));
    beat.finished.store(true, Ordering::SeqCst);
    (done, bad)
}

/// Reads the client's request on a fresh accepted socket, admits it and
/// sends the token.
fn admit_one(ctl: &Ctl, fd: Fd, bad: &mut Vec<String>) -> Option<Conn> {
    sys::set_timeouts(&fd, 1000).expect("timeouts");
    let req = match sys::recvmsg(&fd, RECV_CAP, 0) {
        Ok(r) => match classify(&r, GROUP, bad, "seq owner") {
            Some(Got::Other(h)) if h.kind == Kind::Request => h,
            Some(Got::Eof) => return None,
            _ => {
                bad.push("seq owner: the first message was not a request".into());
                return None;
            }
        },
        Err(e) => {
            ctl.unexpected(format!("seq owner: reading a request: {e:?}"));
            return None;
        }
    };
    let flags = req.arg as u32;
    if let Err(e) = sys::admit(&fd, flags) {
        ctl.unexpected(format!("seq owner: ADMIT_MEMBER for {}: {e:?}", req.sender));
        return None;
    }
    ctl.counters.add("seq admissions", 1);
    let token = msg::encode(&Header { group: GROUP, kind: Kind::Admitted, sender: 0, seq: 0, stamp: 0, arg: 0 }, msg::HEADER);
    if let Err(e) = sys::send(&fd, &token, 0) {
        ctl.unexpected(format!("seq owner: token to {}: {e:?}", req.sender));
        return None;
    }
    if flags & TO_PEER != 0 {
        // A small queue, so the owner's stalls make the member wait.
        sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).expect("SO_RCVBUF");
    }
    let copies = (flags & TO_PEER != 0).then(|| PeerCopies {
        name: format!("seq owner's accepted socket of member {} (SEND_TO_PEER copies)", req.sender),
        sender: req.sender,
        copies: Vec::new(),
    });
    let kick_at = (req.seq > 0).then(|| Instant::now() + Duration::from_millis(req.seq as u64));
    Some(Conn { fd, member: req.sender, kick_at, copies })
}

/// A whole-run member: its socket, segment and how its reader paces.
struct Stable {
    fd: Arc<Fd>,
    seg: Segment,
    pace: Pace,
}

pub struct Running {
    addr: SockAddr,
    _listener: Arc<Fd>,
    last_word: Arc<Fd>,
    owner: Option<JoinHandle<(Vec<PeerCopies>, Vec<String>)>>,
    readers: Vec<JoinHandle<(Segment, Vec<String>)>>,
    senders: Vec<JoinHandle<SendLog>>,
    churn: Vec<JoinHandle<ChurnOut>>,
    /// Joined churn threads' results, until the owner (who records kicks)
    /// is done.
    churned: Vec<ChurnOut>,
    kicks: Kicks,
    bad: Vec<String>,
    connect_close: Option<JoinHandle<(Vec<String>, u64)>>,
}

/// Creates the group, admits the whole-run members and starts every thread.
pub fn start(ctl: &Arc<Ctl>, rng: &mut Rng) -> Running {
    let af = ctl.af;
    let listener = seqpacket(af);
    // SAFETY: plain call.
    let addr = SockAddr::abstract_(af, &format!("mcast-stress-seq-{}", unsafe { libc::getpid() }));
    sys::create_group(&listener, &addr).expect("create group");
    sys::listen(&listener, 4).expect("listen");
    let listener = Arc::new(listener);
    let kicks: Kicks = Arc::default();
    let owner = {
        let (ctl, l, k, r) = (ctl.clone(), listener.clone(), kicks.clone(), rng.fork(1));
        Some(std::thread::spawn(move || owner_loop(ctl, l, k, r)))
    };
    let mut bad = Vec::new();
    let to_peer = if ctl.skipped("send-to-peer") { 0 } else { TO_PEER };
    // (name, sender id, flags, SO_RCVBUF, pace); M3 and M4 read only, M4
    // is the reference (a blocking member that sends nothing).
    let plan: [(&str, u16, u32, Option<i32>, Pace); 5] = [
        ("seq M4 (no flags, sends nothing)", 25, 0, Some(16384), Pace { one_in: 300, max_ms: 30 }),
        ("seq M0 (LOOPBACK)", 21, LOOP, None, Pace { one_in: 500, max_ms: 20 }),
        ("seq M1 (LOOPBACK|SEND_TO_PEER)", 22, LOOP | to_peer, Some(16384), Pace { one_in: 200, max_ms: 50 }),
        ("seq M2 (no flags)", 23, 0, Some(8192), Pace { one_in: 100, max_ms: 100 }),
        ("seq M3 (DROP_WHEN_FULL)", 24, DWF, Some(4096), Pace { one_in: 10, max_ms: 10 }),
    ];
    let reads_only = |id: u16| id == 24 || id == 25;
    let mut stable = Vec::new();
    for (name, id, flags, rcvbuf, pace) in plan {
        let fd = seqpacket(af);
        sys::set_timeouts(&fd, 500).expect("timeouts");
        if let Some(b) = rcvbuf {
            sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, b).expect("SO_RCVBUF");
        }
        let mode = if flags & DWF != 0 { Mode::DropWhenFull } else { Mode::Blocking };
        // Drop counts: of a DROP_WHEN_FULL member, and of a LOOPBACK sender
        // (its own copy is dropped and counted when its queue is full).
        if mode == Mode::DropWhenFull || flags & LOOP != 0 {
            sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1).expect("SO_RXQ_OVFL");
        }
        let mut seg = Segment::new(name, mode, true, true);
        if !reads_only(id) {
            if flags & LOOP == 0 {
                seg.excluded = vec![id];
            } else {
                seg.counted = vec![id];
            }
        }
        join_bus(ctl, &fd, &addr, Ask { id, flags, kick_ms: 0 }, &mut seg, &mut bad).expect("a whole-run seqpacket member joins");
        stable.push((Stable { fd: Arc::new(fd), seg, pace }, id));
    }
    // The sentinel's sender: a member that reads nothing (DROP_WHEN_FULL, so
    // it holds nobody back) and sends only the sentinel, which every reader
    // must get.
    let last_word = seqpacket(af);
    sys::set_timeouts(&last_word, 10_000).expect("timeouts");
    let mut unused = Segment::new("seq sentinel sender", Mode::DropWhenFull, false, true);
    join_bus(ctl, &last_word, &addr, Ask { id: SENTINEL, flags: DWF, kick_ms: 0 }, &mut unused, &mut bad)
        .expect("the sentinel's sender joins");
    let last_word = Arc::new(last_word);
    let mut readers = Vec::new();
    let mut senders = Vec::new();
    for (i, (m, id)) in stable.into_iter().enumerate() {
        if !reads_only(id) {
            let how = if id == 23 { SendHow::DontWait } else { SendHow::Blocking };
            // M0 times out often, M1 rarely.
            if id == 21 {
                sys::set_timeout(&m.fd, libc::SO_SNDTIMEO, 300).expect("SO_SNDTIMEO");
            } else if id == 22 {
                sys::set_timeout(&m.fd, libc::SO_SNDTIMEO, 1000).expect("SO_SNDTIMEO");
            }
            let (ctl, fd, name, r) = (ctl.clone(), m.fd.clone(), m.seg.name.clone(), rng.fork(10 + i as u64));
            // M1 is not signalled, so its sends can wait for the slow owner
            // long enough to tell sleeping from spinning.
            let signalled = how == SendHow::Blocking && id != 22;
            senders.push(std::thread::spawn(move || sender(ctl, name, fd, Dest::Connected, how, GROUP, id, signalled, &[], r)));
        }
        let (ctl, r) = (ctl.clone(), rng.fork(20 + i as u64));
        readers.push(std::thread::spawn(move || read_member(ctl, m.fd, m.seg, GROUP, m.pace, r)));
    }
    let mut churn = Vec::new();
    if !ctl.skipped("churn") {
        let next_id = Arc::new(AtomicU16::new(100));
        for k in 0..2 {
            let (ctl, ids, r) = (ctl.clone(), next_id.clone(), rng.fork(30 + k));
            churn.push(std::thread::spawn(move || churn_members(ctl, addr, k, ids, r)));
        }
    }
    let connect_close = if ctl.skipped("connect-close") {
        None
    } else {
        let ctl = ctl.clone();
        Some(std::thread::spawn(move || connect_close_cycles(ctl)))
    };
    Running { addr, _listener: listener, last_word, owner, readers, senders, churn, churned: Vec::new(), kicks, bad, connect_close }
}

/// What a churn thread hands back: segments (with the kicked ones' ids to
/// look up), the churn senders' logs, damaged messages.
struct ChurnOut {
    segs: Vec<Segment>,
    kicked: Vec<(usize, u16)>,
    logs: Vec<SendLog>,
    bad: Vec<String>,
}

fn churn_members(ctl: Arc<Ctl>, addr: SockAddr, k: u64, ids: Arc<AtomicU16>, mut rng: Rng) -> ChurnOut {
    let beat = ctl.beat(format!("seq churn {k}"));
    let mut out = ChurnOut { segs: Vec::new(), kicked: Vec::new(), logs: Vec::new(), bad: Vec::new() };
    while ctl.running() {
        beat.tick();
        let id = ids.fetch_add(1, Ordering::SeqCst);
        let flags = match rng.range(0, 2) {
            0 => 0,
            1 => DWF,
            _ => DWF | LOOP,
        };
        let kick_ms = if rng.one_in(3) { rng.range(30, 300) as u32 } else { 0 };
        let fd = seqpacket(ctl.af);
        sys::set_timeouts(&fd, 1000).expect("timeouts");
        if rng.one_in(2) {
            sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).expect("SO_RCVBUF");
        }
        let mode = if flags & DWF != 0 { Mode::DropWhenFull } else { Mode::Blocking };
        if mode == Mode::DropWhenFull {
            sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1).expect("SO_RXQ_OVFL");
        }
        let name = format!("seq churn{k} member {id} (flags {flags:#x}{})", if kick_ms > 0 { ", kicked" } else { "" });
        let mut seg = Segment::new(name, mode, false, true);
        if flags & LOOP == 0 {
            seg.excluded = vec![id];
        }
        beat.doing("connect + admission");
        match join_bus(&ctl, &fd, &addr, Ask { id, flags, kick_ms }, &mut seg, &mut out.bad) {
            Ok(()) => {}
            // The backlog was full for a whole SO_SNDTIMEO: try again.
            Err(Errno(libc::EAGAIN)) => {
                ctl.counters.add("seq connects EAGAIN (backlog full)", 1);
                continue;
            }
            Err(Errno(libc::ETIMEDOUT)) => continue,
            Err(e) => {
                ctl.unexpected(format!("{}: joining: {e:?}", seg.name));
                sleep_ms(20);
                continue;
            }
        }
        let mut log = SendLog::new(id);
        let until = Instant::now() + Duration::from_millis(rng.range(50, 400));
        let mut eof = false;
        while Instant::now() < until && ctl.running() && !eof {
            beat.doing("reading");
            match sys::poll(&[&fd], libc::POLLIN, 20) {
                Ok(_) | Err(Errno(libc::EINTR)) => {}
                Err(e) => ctl.unexpected(format!("{}: poll: {e:?}", seg.name)),
            }
            let mut tail = Vec::new();
            eof = read_available(&ctl, &fd, &seg.name, &mut tail, &mut out.bad);
            seg.during.extend(tail);
            if rng.one_in(10) && !eof {
                beat.doing("sending");
                let len = run::msg_len(&mut rng);
                match run::send_one(&fd, &Dest::Connected, SendHow::DontWait, GROUP, Kind::Data, &mut log, len) {
                    Ok(()) => ctl.counters.add("seq churn sends ok", 1),
                    Err(Errno(libc::EAGAIN)) => {}
                    // Kicked under our feet.
                    Err(Errno(libc::EPIPE)) | Err(Errno(libc::ECONNRESET)) if kick_ms > 0 => {}
                    Err(e) => ctl.unexpected(format!("{}: send: {e:?}", seg.name)),
                }
            }
            if mode == Mode::Blocking && rng.one_in(40) {
                beat.doing("stalling");
                sleep_ms(rng.range(10, 80));
            }
        }
        beat.doing("ending the membership");
        if kick_ms > 0 {
            // Wait for the owner's close: end of file after what was queued.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !eof && Instant::now() < deadline {
                let _ = sys::poll(&[&fd], libc::POLLIN, 50);
                let mut tail = Vec::new();
                eof = read_available(&ctl, &fd, &seg.name, &mut tail, &mut out.bad);
                seg.during.extend(tail);
            }
            if !eof {
                ctl.unexpected(format!("{}: no end of file within 10 s of asking to be kicked", seg.name));
                seg.end = End::Close;
            } else {
                out.kicked.push((out.segs.len(), id));
                seg.end = End::Kicked(0);
            }
        } else if eof {
            ctl.unexpected(format!("{}: end of file without a kick", seg.name));
            seg.end = End::Close;
        } else if rng.one_in(2) {
            match sys::shutdown(&fd, libc::SHUT_RD) {
                Ok(()) => {
                    seg.end = End::ShutRd(CLOCK.tick());
                    ctl.counters.add("seq SHUT_RD", 1);
                    let name = seg.name.clone();
                    drain_now(&ctl, &fd, GROUP, &name, &mut seg.after, &mut out.bad);
                    sleep_ms(rng.range(5, 30));
                    drain_now(&ctl, &fd, GROUP, &name, &mut seg.after, &mut out.bad);
                }
                Err(e) => ctl.unexpected(format!("{}: shutdown: {e:?}", seg.name)),
            }
        } else {
            seg.end = End::Close;
            ctl.counters.add("seq closes", 1);
        }
        out.segs.push(seg);
        out.logs.push(log);
        drop(fd);
    }
    beat.finished.store(true, Ordering::SeqCst);
    out
}

/// Reads what is queued without waiting; true at end of file.
fn read_available(ctl: &Ctl, fd: &Fd, who: &str, out: &mut Vec<crate::check::Rx>, bad: &mut Vec<String>) -> bool {
    loop {
        match sys::recvmsg(fd, RECV_CAP, libc::MSG_DONTWAIT) {
            Ok(r) => match classify(&r, GROUP, bad, who) {
                Some(Got::Data(rx)) => out.push(rx),
                Some(Got::Eof) => return true,
                _ => bad.push(format!("{who}: unexpected message")),
            },
            Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => return false,
            // The owner closed with messages of ours unread: reported once.
            Err(Errno(libc::ECONNRESET)) => continue,
            Err(e) => {
                ctl.unexpected(format!("{who}: recvmsg: {e:?}"));
                return false;
            }
        }
    }
}

/// The contract: a second connect of a seqpacket socket gives EISCONN, and
/// the owner's closes end a membership without waiting for the member.
/// Each cycle: a group with an admitted member M, and a plain listener
/// whose backlog is full; M (SO_SNDTIMEO 10 s) calls connect() on it from a
/// thread. That must fail (EISCONN once the listener has room, or EAGAIN at
/// the timeout, in AF_UNIX's order); and closing M's accepted socket and
/// the owner meanwhile must not wait for that connect: within 2 s (a loaded
/// emulated VM is slow, not 10 s slow).
fn connect_close_cycles(ctl: Arc<Ctl>) -> (Vec<String>, u64) {
    let af = ctl.af;
    run::cycles(&ctl, "connect-close cycles", 4, |beat, cycles, problems| {
        beat.doing("setting up");
        // SAFETY: plain call.
        let pid = unsafe { libc::getpid() };
        let ga = SockAddr::abstract_(af, &format!("mcast-stress-cc-bus-{pid}-{cycles}"));
        let la = SockAddr::abstract_(af, &format!("mcast-stress-cc-full-{pid}-{cycles}"));
        let owner = seqpacket(af);
        sys::create_group(&owner, &ga).expect("create");
        sys::listen(&owner, 4).expect("listen");
        let m = Arc::new(seqpacket(af));
        sys::set_timeouts(&m, 3_000).expect("timeouts");
        sys::connect(&m, &ga).expect("connect to the group");
        let acc = sys::accept(&owner, 0).expect("accept");
        sys::admit(&acc, 0).expect("admit");
        let full = seqpacket(af);
        sys::bind(&full, &la).expect("bind");
        // Backlog 0 admits one pending connection; the listener is then full.
        sys::listen(&full, 0).expect("listen");
        let pending = seqpacket(af);
        sys::connect(&pending, &la).expect("the pending connection");
        beat.doing("member connects to a full listener, the owner closes");
        let started = Arc::new(std::sync::atomic::AtomicI32::new(0));
        let connector = {
            let (m, started) = (m.clone(), started.clone());
            std::thread::spawn(move || {
                started.store(sys::gettid(), Ordering::SeqCst);
                let t0 = Instant::now();
                let r = sys::connect(&m, &la);
                (r, t0.elapsed())
            })
        };
        // Give the connect time to block (if it wrongly does).
        while started.load(Ordering::SeqCst) == 0 {
            sleep_ms(1);
        }
        sleep_ms(50);
        let t0 = Instant::now();
        drop(acc);
        drop(owner);
        let closed_in = t0.elapsed();
        let (r, took) = connector.join().expect("connector");
        // As AF_UNIX, the connecting socket's own state is checked once the
        // listener has room: EISCONN then, or EAGAIN when SO_SNDTIMEO ran
        // out first. Never success, and never a hang (the watchdog).
        if !matches!(r, Err(Errno(libc::EISCONN)) | Err(Errno(libc::EAGAIN))) {
            problems.push(format!(
                "cycle {cycles}: connect() of an admitted (connected) member to a full listener: {r:?} after {} ms, want EISCONN or EAGAIN (AF_UNIX order)",
                took.as_millis()
            ));
        }
        if closed_in > Duration::from_millis(2000) {
            problems.push(format!(
                "cycle {cycles}: closing the member's accepted socket and the owner took {} ms while the member was in connect()",
                closed_in.as_millis()
            ));
        }
        drop(pending);
        drop(full);
        sleep_ms(500);
    })
}

/// Joins the senders and churn threads (the controller set `Stopping`).
pub fn stop_senders(ctl: &Ctl, r: &mut Running, out: &mut crate::dgram::Outcome) {
    if let Some((p, n)) = r.connect_close.take().and_then(|h| run::join(ctl, h, "the connect-close thread")) {
        out.connect_close = p;
        out.connect_close_cycles = n;
    }
    for h in r.senders.drain(..) {
        out.logs.extend(run::join(ctl, h, "a seq sender"));
    }
    for h in r.churn.drain(..) {
        r.churned.extend(run::join(ctl, h, "a seq churn thread"));
    }
    out.bad.append(&mut r.bad);
}

/// The sentinel, from its own member socket.
pub fn send_sentinel(ctl: &Ctl, r: &Running, out: &mut crate::dgram::Outcome) {
    let mut log = SendLog::new(SENTINEL);
    if let Err(e) = run::send_one(&r.last_word, &Dest::Connected, SendHow::Blocking, GROUP, Kind::Sentinel, &mut log, 64) {
        ctl.unexpected(format!("seq sentinel: {e:?}"));
    }
    out.logs.push(log);
    let _ = r.addr;
}

pub fn finish_readers(ctl: &Ctl, r: &mut Running, out: &mut crate::dgram::Outcome) {
    for h in r.readers.drain(..) {
        if let Some((seg, bad)) = run::join(ctl, h, "a seq reader") {
            out.segments.push(seg);
            out.bad.extend(bad);
        }
    }
}

/// After `Done`: the owner empties its connections and ends.
pub fn finish_owner(ctl: &Ctl, mut r: Running, out: &mut crate::dgram::Outcome) {
    if let Some((copies, bad)) = r.owner.take().and_then(|h| run::join(ctl, h, "the seq owner")) {
        out.copies.extend(copies);
        out.bad.extend(bad);
    }
    // A kick's ticket is recorded right after the owner's close returns,
    // which may be after the kicked member saw end of file: look them up
    // only now that the owner is done.
    let kicks = r.kicks.lock().unwrap().clone();
    for mut c in r.churned.drain(..) {
        for (i, id) in c.kicked {
            match kicks.get(&id) {
                Some(&t) => c.segs[i].end = End::Kicked(t),
                None => {
                    ctl.unexpected(format!("{}: end of file but the owner has no record of kicking it", c.segs[i].name));
                    c.segs[i].end = End::Close;
                }
            }
        }
        out.segments.extend(c.segs);
        out.logs.extend(c.logs);
        out.bad.extend(c.bad);
    }
}
