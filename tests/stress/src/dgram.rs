//! The datagram group scenario.
//!
//! One group, its owner reading SEND_TO_PEER copies, and:
//! - senders 1–4: 1 `sendto` blocking with a short SO_SNDTIMEO, 2
//!   `connect`+`send` blocking with a long one, 3 `MSG_DONTWAIT` + poll, 4 a
//!   member itself (SEND_TO_PEER, no LOOPBACK); 1 and 2 get signals;
//! - whole-run members: two blocking (one fast, one stalling so senders wait
//!   and time out), two DROP_WHEN_FULL with SO_RXQ_OVFL (slow, small
//!   buffers), sender 4's own socket;
//! - ring members (`ring`): three whole-run members reading receive rings
//!   (blocking, blocking with a small ring that stalls, DROP_WHEN_FULL) and
//!   a churn thread whose ring members leave, rejoin, shut down reading and
//!   close, each new socket with a new ring;
//! - a forked child as uid nobody with a whole-run member and sender 9;
//! - churn threads: members that join (blocking or DROP_WHEN_FULL), read,
//!   stall, and end by LEAVE, SHUT_RD, close, or LEAVE and join again;
//! - an owner-churn thread on a second group: a sender blocked on a full
//!   member must wake with ECONNREFUSED when the owner closes.
//!
//! The run ends with a sentinel message from sender 15 once every sender
//! has stopped and the DROP_WHEN_FULL members are empty.

use crate::check::{End, Mode, PeerCopies, Rx, Segment, SendLog};
use crate::ring::{self, RingMember};
use crate::msg::{Kind, CLOCK};
use test_support::rng::Rng;
use crate::run::{self, classify, drain_now, read_member, sender, sleep_ms, Ctl, Dest, Got, Pace, Phase, SendHow, RECV_CAP};
use crate::sys::{self, Errno, Fd, SockAddr};
use mcast_unix::{MCAST_UNIX_DROP_WHEN_FULL as DWF, MCAST_UNIX_SEND_TO_PEER as TO_PEER};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const GROUP: u8 = 0;
const G2: u8 = 2;
const SENTINEL: u16 = 15;
const CHILD_SENDER: u16 = 9;

/// Everything the checks need from one group.
#[derive(Default)]
pub struct Outcome {
    pub logs: Vec<SendLog>,
    pub segments: Vec<Segment>,
    pub copies: Vec<PeerCopies>,
    /// Damaged or unexpected messages.
    pub bad: Vec<String>,
    /// Of those, the ones read from receive rings.
    pub ring_bad: Vec<String>,
    /// Problems of the forked child (could not run, did not report).
    pub child: Vec<String>,
    pub child_ran: bool,
    /// Owner close with a blocked sender: problems, and cycles done.
    pub owner_close: Vec<String>,
    pub owner_close_cycles: u64,
    /// SEND_TO_PEER with a full owner: problems, and cycles done.
    pub peer_full: Vec<String>,
    pub peer_full_cycles: u64,
    /// (seq) A member's connect() while the owner closes: problems, cycles.
    pub connect_close: Vec<String>,
    pub connect_close_cycles: u64,
}

fn dgram(af: i32) -> Fd {
    sys::socket(af, libc::SOCK_DGRAM).expect("socket(SOCK_DGRAM)")
}

/// A whole-run member, joined before anything is sent.
struct Member {
    fd: Arc<Fd>,
    seg: Segment,
    pace: Pace,
}

fn member(af: i32, addr: &SockAddr, name: &str, flags: u32, rcvbuf: Option<i32>, pace: Pace) -> Member {
    let fd = dgram(af);
    sys::set_timeouts(&fd, 500).expect("timeouts");
    if let Some(b) = rcvbuf {
        sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, b).expect("SO_RCVBUF");
    }
    let mode = if flags & DWF != 0 { Mode::DropWhenFull } else { Mode::Blocking };
    if mode == Mode::DropWhenFull {
        sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1).expect("SO_RXQ_OVFL");
    }
    sys::join(&fd, addr, flags).expect("join");
    Member { fd: Arc::new(fd), seg: Segment::new(name, mode, true, true), pace }
}

/// The forked child: its pipes and pid.
struct Child {
    pid: libc::pid_t,
    /// From the child: 'R' once joined, 'S' once its sender stopped, then
    /// its results (see `child_main`).
    from: Fd,
    /// To the child: 'G' to start sending, 'T' to stop.
    to: Fd,
    buf: Vec<u8>,
}

impl Child {
    /// Waits until `n` bytes arrived from the child (or `ms` passed).
    fn fill(&mut self, n: usize, ms: u64) -> bool {
        let deadline = sys::now_ms() + ms;
        while self.buf.len() < n {
            let left = deadline.saturating_sub(sys::now_ms());
            if left == 0 {
                return false;
            }
            match sys::read_timeout(&self.from, 65536, left.min(1000) as i32) {
                Ok(b) if b.is_empty() => return false,
                Ok(b) => self.buf.extend_from_slice(&b),
                Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Reads to end of file (or until `ms` passed).
    fn read_all(&mut self, ms: u64) -> bool {
        let deadline = sys::now_ms() + ms;
        loop {
            let left = deadline.saturating_sub(sys::now_ms());
            if left == 0 {
                return false;
            }
            match sys::read_timeout(&self.from, 65536, left.min(1000) as i32) {
                Ok(b) if b.is_empty() => return true,
                Ok(b) => self.buf.extend_from_slice(&b),
                Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => {}
                Err(_) => return false,
            }
        }
    }

    /// Reaps the child, killing it if it has not exited within `ms`.
    fn reap(&self, ms: u64) -> Option<i32> {
        let deadline = sys::now_ms() + ms;
        loop {
            let mut status = 0;
            // SAFETY: pid is our child; status is valid.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                return Some(status);
            }
            if sys::now_ms() > deadline {
                // SAFETY: pid is our unreaped child.
                unsafe {
                    libc::kill(self.pid, libc::SIGKILL);
                    libc::waitpid(self.pid, std::ptr::null_mut(), 0);
                }
                return None;
            }
            sleep_ms(20);
        }
    }
}

/// The scenario before any thread exists (it forks).
pub struct Prepared {
    af: i32,
    owner: Arc<Fd>,
    addr: SockAddr,
    members: Vec<Member>,
    /// The whole-run members reading receive rings.
    rings: Vec<RingMember>,
    /// Seeds the ring members' generators (apart from the others', so that
    /// a seed's other choices are those it made before there were rings).
    ring_seed: u64,
    /// Sender 4's socket, also a member (SEND_TO_PEER).
    s4: Arc<Fd>,
    child: Option<Child>,
    child_problem: Option<String>,
}

/// Creates the group and the whole-run members, and forks the child. Must
/// run while the process has one thread (fork). Without `send_to_peer`,
/// sender 4 joins without SEND_TO_PEER (`--skip send-to-peer`).
pub fn prepare(af: i32, with_child: bool, send_to_peer: bool, seed: u64) -> Prepared {
    let owner = dgram(af);
    sys::set_timeouts(&owner, 500).expect("timeouts");
    // A small queue for the SEND_TO_PEER copies, so the owner's stalls make
    // sender 4 wait.
    sys::setopt_int(&owner, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).expect("SO_RCVBUF");
    // SAFETY: plain call.
    let addr = SockAddr::abstract_(af, &format!("mcast-stress-dgram-{}", unsafe { libc::getpid() }));
    sys::create_group(&owner, &addr).expect("create group");
    let members = vec![
        member(af, &addr, "dgram B0 (blocking)", 0, None, Pace { one_in: 500, max_ms: 20 }),
        member(af, &addr, "dgram B1 (blocking, stalls)", 0, Some(8192), Pace { one_in: 100, max_ms: 150 }),
        member(af, &addr, "dgram W0 (DROP_WHEN_FULL, tiny buffer)", DWF, Some(1), Pace { one_in: 20, max_ms: 10 }),
        member(af, &addr, "dgram W1 (DROP_WHEN_FULL)", DWF, Some(16384), Pace { one_in: 5, max_ms: 5 }),
    ];
    let s4 = dgram(af);
    sys::set_timeouts(&s4, 500).expect("timeouts");
    sys::join(&s4, &addr, if send_to_peer { TO_PEER } else { 0 }).expect("join");
    let mut p = Prepared {
        af,
        owner: Arc::new(owner),
        addr,
        members,
        rings: Vec::new(),
        ring_seed: seed ^ 0x7269_6e67,
        s4: Arc::new(s4),
        child: None,
        child_problem: None,
    };
    if with_child {
        match fork_child(af, &p.addr, seed) {
            Ok(c) => p.child = Some(c),
            Err(e) => p.child_problem = Some(e),
        }
    }
    // After the fork, so that the child holds neither their descriptors nor
    // their mappings.
    p.rings = vec![
        ring::member(af, &p.addr, "dgram R0 (ring, blocking)", 0, 64, Pace { one_in: 500, max_ms: 20 }),
        ring::member(af, &p.addr, "dgram R1 (ring of 4 frames, blocking, stalls)", 0, 4, Pace { one_in: 100, max_ms: 150 }),
        ring::member(af, &p.addr, "dgram RW (ring of 2 frames, DROP_WHEN_FULL)", DWF, 2, Pace { one_in: 20, max_ms: 10 }),
    ];
    p
}

fn fork_child(af: i32, addr: &SockAddr, seed: u64) -> Result<Child, String> {
    let (from_r, from_w) = sys::pipe().map_err(|e| format!("pipe: {e:?}"))?;
    let (to_r, to_w) = sys::pipe().map_err(|e| format!("pipe: {e:?}"))?;
    // SAFETY: the process has one thread (prepare's contract), so the child
    // may allocate and start threads; it leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err("fork failed".into());
    }
    if pid == 0 {
        // Keep only our pipe ends: the parent's sockets must not stay open
        // (and members) through us.
        for fd in 3..1024 {
            if fd != from_w.0 && fd != to_r.0 {
                // SAFETY: closing descriptors this process inherited and
                // does not use; the Fd values for them are never dropped
                // here (we leave with _exit).
                unsafe { libc::close(fd) };
            }
        }
        let code = child_main(af, addr, &from_w, Arc::new(to_r), seed);
        // SAFETY: leaves without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    drop(from_w);
    drop(to_r);
    let mut c = Child { pid, from: from_r, to: to_w, buf: Vec::new() };
    if !c.fill(1, 20_000) || c.buf[0] != b'R' {
        let _ = c.reap(0);
        return Err("the child did not join the group".into());
    }
    c.buf.remove(0);
    Ok(c)
}

/// The child (uid nobody): a whole-run blocking member and sender 9. Writes
/// 'R' once joined, waits for 'G', sends until 'T', writes 'S', reads to the
/// sentinel, then writes its results and exits.
fn child_main(af: i32, addr: &SockAddr, out: &Fd, ctl_in: Arc<Fd>, seed: u64) -> i32 {
    if sys::become_nobody().is_err() {
        return 3;
    }
    let ctl = Arc::new(Ctl::new(af, Vec::new()));
    let m = member(af, addr, "child member (uid nobody)", 0, None, Pace { one_in: 300, max_ms: 20 });
    let tx = dgram(af);
    sys::set_timeouts(&tx, 300).expect("timeouts");
    if sys::write_all(out, b"R").is_err() {
        return 4;
    }
    let mut rng = Rng::new(seed ^ 0xc41d);
    let reader = {
        let (ctl, fd, seg, rng) = (ctl.clone(), m.fd.clone(), m.seg, rng.fork(1));
        std::thread::spawn(move || read_member(ctl, fd, seg, GROUP, m.pace, rng))
    };
    // 'G' starts, 'T' (or the parent gone) stops; 30 s without either is
    // the parent failing.
    let wait_byte = |want: u8, ms: i32| -> bool { matches!(sys::read_timeout(&ctl_in, 1, ms), Ok(b) if b.first() == Some(&want)) };
    let log = if wait_byte(b'G', 30_000) {
        let watcher = {
            let ctl = ctl.clone();
            // The byte may take the whole run: poll in slices until it comes.
            let ctl_in = ctl_in.clone();
            std::thread::spawn(move || {
                while let Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) = sys::read_timeout(&ctl_in, 1, 1000) {}
                ctl.set_phase(Phase::Stopping);
            })
        };
        let tx = Arc::new(tx);
        let log = sender(ctl.clone(), "child sender 9".into(), tx, Dest::To(*addr), SendHow::Blocking, GROUP, CHILD_SENDER, false, &[], rng.fork(2));
        let _ = watcher.join();
        log
    } else {
        SendLog::new(CHILD_SENDER)
    };
    ctl.set_phase(Phase::Draining);
    if sys::write_all(out, b"S").is_err() {
        return 5;
    }
    let (seg, mut bad) = reader.join().unwrap_or_else(|_| (Segment::new("child member", Mode::Blocking, true, true), vec!["reader panicked".into()]));
    bad.extend(ctl.unexpected_errors());
    let blob = encode_results(&log, &seg, &bad);
    if sys::write_all(out, &blob).is_err() {
        return 6;
    }
    0
}

fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_ne_bytes());
}

/// The child's results: its send log, its segment, its problems.
fn encode_results(log: &SendLog, seg: &Segment, bad: &[String]) -> Vec<u8> {
    let mut v = Vec::new();
    put_u32(&mut v, log.outcomes.len() as u32);
    for o in &log.outcomes {
        v.extend_from_slice(&o.err().unwrap_or(0).to_ne_bytes());
    }
    put_u32(&mut v, seg.during.len() as u32);
    for r in &seg.during {
        v.extend_from_slice(&r.id.0.to_ne_bytes());
        put_u32(&mut v, r.id.1);
        v.extend_from_slice(&r.stamp.to_ne_bytes());
        put_u32(&mut v, r.ovfl.map_or(0, |o| o + 1));
    }
    put_u32(&mut v, bad.len() as u32);
    for b in bad {
        put_u32(&mut v, b.len() as u32);
        v.extend_from_slice(b.as_bytes());
    }
    v
}

fn decode_results(b: &[u8]) -> Option<(SendLog, Segment, Vec<String>)> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = b.get(at..at + n)?;
        at += n;
        Some(s)
    };
    let u32_ = |s: &[u8]| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]);
    let mut log = SendLog::new(CHILD_SENDER);
    let n = u32_(take(4)?);
    for _ in 0..n {
        let e = u32_(take(4)?) as i32;
        log.record(if e == 0 { Ok(()) } else { Err(e) });
    }
    let mut seg = Segment::new("child member (uid nobody)", Mode::Blocking, true, true);
    let n = u32_(take(4)?);
    for _ in 0..n {
        let s = take(2)?;
        let sender = u16::from_ne_bytes([s[0], s[1]]);
        let seq = u32_(take(4)?);
        let st = take(8)?;
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(st);
        let o = u32_(take(4)?);
        seg.during.push(Rx { id: (sender, seq), stamp: u64::from_ne_bytes(stamp), ovfl: o.checked_sub(1) });
    }
    let n = u32_(take(4)?);
    let mut bad = Vec::new();
    for _ in 0..n {
        let len = u32_(take(4)?) as usize;
        bad.push(format!("child: {}", String::from_utf8_lossy(take(len)?)));
    }
    Some((log, seg, bad))
}

/// The running scenario's threads.
pub struct Running {
    prepared: Prepared,
    readers: Vec<JoinHandle<(Segment, Vec<String>)>>,
    ring_readers: Vec<JoinHandle<(Segment, Vec<String>)>>,
    owner_reader: Option<JoinHandle<(PeerCopies, Vec<String>)>>,
    senders: Vec<JoinHandle<SendLog>>,
    churn: Vec<JoinHandle<(Vec<Segment>, Vec<String>)>>,
    ring_churn: Vec<JoinHandle<(Vec<Segment>, Vec<String>)>>,
    owner_churn: Option<JoinHandle<(Vec<String>, u64)>>,
    peer_full: Option<JoinHandle<(Vec<String>, u64)>>,
}

/// Starts every thread of the scenario.
pub fn start(ctl: &Arc<Ctl>, mut p: Prepared, rng: &mut Rng) -> Running {
    let af = p.af;
    let mut readers = Vec::new();
    for m in std::mem::take(&mut p.members) {
        let (ctl, r) = (ctl.clone(), rng.fork(readers.len() as u64));
        readers.push(std::thread::spawn(move || read_member(ctl, m.fd, m.seg, GROUP, m.pace, r)));
    }
    {
        // Sender 4's socket is a member too: whole-run, blocking, without
        // its own messages (no LOOPBACK).
        let mut seg = Segment::new("dgram S4 socket (member, SEND_TO_PEER)", Mode::Blocking, true, true);
        seg.excluded = vec![4];
        let (ctl, fd, r) = (ctl.clone(), p.s4.clone(), rng.fork(50));
        readers.push(std::thread::spawn(move || read_member(ctl, fd, seg, GROUP, Pace { one_in: 300, max_ms: 30 }, r)));
    }
    let mut ring_rng = Rng::new(p.ring_seed);
    let mut ring_readers = Vec::new();
    for m in std::mem::take(&mut p.rings) {
        let (ctl, r) = (ctl.clone(), ring_rng.fork(ring_readers.len() as u64));
        ring_readers.push(std::thread::spawn(move || ring::read_ring_member(ctl, m, GROUP, r)));
    }
    let owner_reader = {
        let (ctl, fd, r) = (ctl.clone(), p.owner.clone(), rng.fork(60));
        Some(std::thread::spawn(move || read_copies(ctl, fd, r)))
    };

    let mut senders = Vec::new();
    let mut spawn_sender = |name: &str, fd: Arc<Fd>, dest: Dest, how, id, signalled, rng: Rng| {
        let (ctl, name) = (ctl.clone(), name.to_string());
        senders.push(std::thread::spawn(move || sender(ctl, name, fd, dest, how, GROUP, id, signalled, &[], rng)));
    };
    let s1 = dgram(af);
    sys::set_timeout(&s1, libc::SO_SNDTIMEO, 20).expect("SO_SNDTIMEO");
    spawn_sender("dgram 1 (sendto, SO_SNDTIMEO 20 ms)", Arc::new(s1), Dest::To(p.addr), SendHow::Blocking, 1, true, rng.fork(101));
    let s2 = dgram(af);
    sys::set_timeout(&s2, libc::SO_SNDTIMEO, 2000).expect("SO_SNDTIMEO");
    sys::connect(&s2, &p.addr).expect("connect(group)");
    spawn_sender("dgram 2 (connected, SO_SNDTIMEO 2 s)", Arc::new(s2), Dest::Connected, SendHow::Blocking, 2, true, rng.fork(102));
    let s3 = dgram(af);
    sys::connect(&s3, &p.addr).expect("connect(group)");
    spawn_sender("dgram 3 (MSG_DONTWAIT)", Arc::new(s3), Dest::Connected, SendHow::DontWait, 3, false, rng.fork(103));
    // Not signalled, so its sends can wait for the slow owner long enough
    // to tell sleeping from spinning.
    spawn_sender("dgram 4 (member, SEND_TO_PEER)", p.s4.clone(), Dest::To(p.addr), SendHow::Blocking, 4, false, rng.fork(104));

    if let Some(c) = &p.child {
        if sys::write_all(&c.to, b"G").is_err() {
            p.child_problem = Some("could not start the child".into());
        }
    }

    let mut churn = Vec::new();
    if !ctl.skipped("churn") {
        for k in 0..2 {
            let (ctl, addr, r) = (ctl.clone(), p.addr, rng.fork(200 + k));
            churn.push(std::thread::spawn(move || churn_members(ctl, addr, k, r)));
        }
    }
    let mut ring_churn = Vec::new();
    if !ctl.skipped("churn") {
        let (ctl, addr, r) = (ctl.clone(), p.addr, ring_rng.fork(200));
        ring_churn.push(std::thread::spawn(move || ring::churn(ctl, addr, GROUP, 0, r)));
    }
    let owner_churn = if ctl.skipped("owner-close") {
        None
    } else {
        let (ctl, r) = (ctl.clone(), rng.fork(300));
        Some(std::thread::spawn(move || owner_close_cycles(ctl, r)))
    };
    let peer_full = if ctl.skipped("send-to-peer") {
        None
    } else {
        let ctl = ctl.clone();
        Some(std::thread::spawn(move || peer_full_cycles(ctl)))
    };
    Running { prepared: p, readers, ring_readers, owner_reader, senders, churn, ring_churn, owner_churn, peer_full }
}

/// The owner's reader: the SEND_TO_PEER copies of sender 4's messages.
fn read_copies(ctl: Arc<Ctl>, fd: Arc<Fd>, mut rng: Rng) -> (PeerCopies, Vec<String>) {
    let beat = ctl.beat("dgram owner (SEND_TO_PEER copies)");
    let mut c = PeerCopies { name: "dgram owner socket (copies of sender 4)".into(), sender: 4, copies: Vec::new() };
    let mut bad = Vec::new();
    let pace = Pace { one_in: 200, max_ms: 300 };
    loop {
        beat.tick();
        let phase = ctl.phase();
        beat.doing("recvmsg");
        // Once every member is done no copy can come: empty the queue and go.
        let flags = if phase == Phase::Done { libc::MSG_DONTWAIT } else { 0 };
        match sys::recvmsg(&fd, RECV_CAP, flags) {
            Ok(r) => match classify(&r, GROUP, &mut bad, &c.name) {
                Some(Got::Data(rx)) => c.copies.push(rx),
                Some(_) => bad.push(format!("{}: unexpected message", c.name)),
                None => {}
            },
            Err(Errno(libc::EAGAIN)) if phase == Phase::Done => break,
            Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => continue,
            Err(e) => {
                ctl.unexpected(format!("{}: recvmsg: {e:?}", c.name));
                sleep_ms(10);
            }
        }
        if phase == Phase::Running {
            pace.pause(&mut rng);
        }
    }
    beat.finished.store(true, Ordering::SeqCst);
    (c, bad)
}

/// How a churn membership ends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum HowEnd {
    Leave,
    LeaveRejoin,
    ShutRd,
    Close,
}

/// Ends a churn member's membership, queued or ring: LEAVE (maybe to
/// rejoin), SHUT_RD or close (close once the run is over), recorded in
/// `seg.end` and counted under `counters` (leaves, SHUT_RD, closes).
pub(crate) fn end_membership(ctl: &Ctl, fd: &Fd, addr: &SockAddr, seg: &mut Segment, rng: &mut Rng, counters: [&'static str; 3]) -> HowEnd {
    let [leaves, shut_rd, closes] = counters;
    let how = if !ctl.running() {
        HowEnd::Close
    } else {
        match rng.range(0, 3) {
            0 => HowEnd::Leave,
            1 => HowEnd::LeaveRejoin,
            2 => HowEnd::ShutRd,
            _ => HowEnd::Close,
        }
    };
    match how {
        HowEnd::Leave | HowEnd::LeaveRejoin => match sys::leave(fd, addr) {
            Ok(()) => {
                seg.end = End::Leave(CLOCK.tick());
                ctl.counters.add(leaves, 1);
            }
            Err(e) => ctl.unexpected(format!("{}: leave: {e:?}", seg.name)),
        },
        HowEnd::ShutRd => match sys::shutdown(fd, libc::SHUT_RD) {
            Ok(()) => {
                seg.end = End::ShutRd(CLOCK.tick());
                ctl.counters.add(shut_rd, 1);
            }
            Err(e) => ctl.unexpected(format!("{}: shutdown: {e:?}", seg.name)),
        },
        HowEnd::Close => {
            seg.end = End::Close;
            ctl.counters.add(closes, 1);
        }
    }
    how
}

/// Churn: members come and go while the traffic runs.
fn churn_members(ctl: Arc<Ctl>, addr: SockAddr, k: u64, mut rng: Rng) -> (Vec<Segment>, Vec<String>) {
    let beat = ctl.beat(format!("dgram churn {k}"));
    let mut segs = Vec::new();
    let mut bad = Vec::new();
    let mut cycle = 0u64;
    while ctl.running() {
        cycle += 1;
        beat.tick();
        beat.doing("socket + join");
        let fd = dgram(ctl.af);
        sys::set_timeouts(&fd, 200).expect("timeouts");
        match rng.range(0, 2) {
            0 => {}
            1 => sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 1).expect("SO_RCVBUF"),
            _ => sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 16384).expect("SO_RCVBUF"),
        }
        let dwf = rng.one_in(2);
        if dwf {
            sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1).expect("SO_RXQ_OVFL");
        }
        let mode = if dwf { Mode::DropWhenFull } else { Mode::Blocking };
        let mut fresh = true;
        let mut rejoins = 0;
        loop {
            if let Err(e) = sys::join(&fd, &addr, if dwf { DWF } else { 0 }) {
                ctl.unexpected(format!("dgram churn {k}: join: {e:?}"));
                break;
            }
            ctl.counters.add("dgram joins", 1);
            let name = format!("dgram churn{k}.{cycle}.{rejoins} ({})", if dwf { "DROP_WHEN_FULL" } else { "blocking" });
            let mut seg = Segment::new(name, mode, false, fresh);
            // Read for a while, sometimes stalling with a full queue.
            let until = Instant::now() + Duration::from_millis(rng.range(20, 400));
            while Instant::now() < until && ctl.running() {
                beat.doing("reading");
                match sys::recvmsg(&fd, RECV_CAP, 0) {
                    Ok(r) => match classify(&r, GROUP, &mut bad, &seg.name) {
                        Some(Got::Data(rx)) => seg.during.push(rx),
                        Some(_) => bad.push(format!("{}: unexpected message", seg.name)),
                        None => {}
                    },
                    Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => {}
                    Err(e) => ctl.unexpected(format!("{}: recvmsg: {e:?}", seg.name)),
                }
                if rng.one_in(40) {
                    beat.doing("stalling");
                    sleep_ms(rng.range(10, 80));
                }
            }
            beat.doing("ending the membership");
            let how = end_membership(&ctl, &fd, &addr, &mut seg, &mut rng, ["dgram leaves", "dgram SHUT_RD", "dgram closes"]);
            if matches!(seg.end, End::Leave(_) | End::ShutRd(_)) {
                // What was queued before may still be read; nothing sent
                // after the call returned may come. Look twice, the second
                // time after senders had a while to (wrongly) deliver.
                beat.doing("reading after the membership ended");
                let name = seg.name.clone();
                drain_now(&ctl, &fd, GROUP, &name, &mut seg.after, &mut bad);
                sleep_ms(rng.range(5, 30));
                drain_now(&ctl, &fd, GROUP, &name, &mut seg.after, &mut bad);
                if let End::ShutRd(_) = seg.end {
                    // SHUT_RD left every group: LEAVE has nothing to end.
                    let again = sys::leave(&fd, &addr);
                    if again != Err(Errno(libc::EADDRNOTAVAIL)) {
                        ctl.unexpected(format!("{}: LEAVE after SHUT_RD: {again:?}, want EADDRNOTAVAIL", seg.name));
                    }
                }
            }
            segs.push(seg);
            if let HowEnd::LeaveRejoin = how {
                fresh = false;
                rejoins += 1;
                ctl.counters.add("dgram rejoins", 1);
                continue;
            }
            break;
        }
        drop(fd);
    }
    beat.finished.store(true, Ordering::SeqCst);
    (segs, bad)
}

/// Waits (up to 2 s) until thread `tid` of this process sleeps in the
/// kernel, so a "blocked" send really is blocked before the owner closes.
fn wait_sleeping(tid: i32) -> bool {
    for _ in 0..400 {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) {
            // "tid (comm) S ...": the state follows the last ')'.
            if stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()) == Some("S") {
                return true;
            }
        }
        sleep_ms(5);
    }
    false
}

/// A fresh second group with one member (SO_RCVBUF `rcvbuf`) and a sender.
fn g2_group(af: i32, cycle: u64, rcvbuf: i32) -> Result<(Fd, SockAddr, Fd, Arc<Fd>), String> {
    // SAFETY: plain call.
    let addr = SockAddr::abstract_(af, &format!("mcast-stress-g2-{}-{cycle}", unsafe { libc::getpid() }));
    let owner = dgram(af);
    sys::create_group(&owner, &addr).map_err(|e| format!("create: {e:?}"))?;
    let m = dgram(af);
    sys::setopt_int(&m, libc::SOL_SOCKET, libc::SO_RCVBUF, rcvbuf).map_err(|e| format!("SO_RCVBUF: {e:?}"))?;
    sys::join(&m, &addr, 0).map_err(|e| format!("join: {e:?}"))?;
    let tx = dgram(af);
    // Long, so that a sender the close does not wake stands out from one
    // woken late in a loaded VM (the check allows 2 s).
    sys::set_timeout(&tx, libc::SO_SNDTIMEO, 10_000).map_err(|e| format!("SO_SNDTIMEO: {e:?}"))?;
    Ok((owner, addr, m, Arc::new(tx)))
}

/// The contract: closing the owner removes the group (sending to the
/// address gives ECONNREFUSED, LEAVE gives EADDRNOTAVAIL) and senders
/// waiting for a member look again. Two variants, alternating:
/// - blocked: a member that never reads is filled; a blocking send (SO_SNDTIMEO
///   10 s) waits on it; the owner closes: the send must return ECONNREFUSED
///   at once (within 2 s; not after its timeout, and not succeed);
/// - racing: a sender sends MSG_DONTWAIT in a loop while the owner closes:
///   every send that succeeded must be at the member (all or nothing: it
///   either went out before the group ended, to its member, or failed), and
///   every send started after close returned must fail with ECONNREFUSED.
fn owner_close_cycles(ctl: Arc<Ctl>, mut rng: Rng) -> (Vec<String>, u64) {
    let af = ctl.af;
    run::cycles(&ctl, "owner-close cycles", 6, |beat, cycles, problems| {
        let blocked_variant = cycles % 2 == 1;
        beat.doing("setting up a group");
        let (owner, addr, m, tx) = match g2_group(af, cycles, if blocked_variant { 1 } else { 1 << 20 }) {
            Ok(g) => g,
            Err(e) => {
                ctl.unexpected(format!("owner-close: {e}"));
                sleep_ms(100);
                return;
            }
        };
        let r = if blocked_variant {
            owner_close_blocked(&ctl, beat, owner, &addr, &m, &tx, &mut rng)
        } else {
            owner_close_racing(&ctl, beat, owner, &addr, &m, &tx, &mut rng)
        };
        if let Err(p) = r {
            problems.push(format!("cycle {cycles} ({}): {p}", if blocked_variant { "blocked sender" } else { "racing sender" }));
        }
        let left = sys::leave(&m, &addr);
        if left != Err(Errno(libc::EADDRNOTAVAIL)) {
            problems.push(format!("cycle {cycles}: LEAVE after the owner closed: {left:?}, want EADDRNOTAVAIL"));
        }
        let again = sys::sendto(&tx, b"x", libc::MSG_DONTWAIT, &addr);
        if again != Err(Errno(libc::ECONNREFUSED)) {
            problems.push(format!("cycle {cycles}: sendto after the owner closed: {again:?}, want ECONNREFUSED"));
        }
        sleep_ms(rng.range(20, 100));
    })
}

fn owner_close_blocked(ctl: &Ctl, beat: &run::Beat, owner: Fd, addr: &SockAddr, _m: &Fd, tx: &Arc<Fd>, rng: &mut Rng) -> Result<(), String> {
    let mut log = SendLog::new(1);
    let mut filled = false;
    for _ in 0..10_000 {
        match run::send_one(tx, &Dest::To(*addr), SendHow::DontWait, G2, Kind::Data, &mut log, 200) {
            Ok(()) => {}
            Err(Errno(libc::EAGAIN)) => {
                filled = true;
                break;
            }
            Err(e) => return Err(format!("filling the member: {e:?}")),
        }
    }
    if !filled {
        return Err("a member with the smallest buffer never filled up".into());
    }
    beat.doing("blocked send, then closing the owner");
    let tid = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let blocked = {
        let (tx, addr, tid) = (tx.clone(), *addr, tid.clone());
        std::thread::spawn(move || {
            // SAFETY: plain syscall.
            tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
            let mut log = SendLog::new(2);
            let r = run::send_one(&tx, &Dest::To(addr), SendHow::Blocking, G2, Kind::Data, &mut log, 200);
            (r, Instant::now())
        })
    };
    let asleep = wait_for_tid(&tid).is_some_and(wait_sleeping);
    if !asleep {
        ctl.counters.add("owner-close: sender not seen asleep", 1);
    }
    sleep_ms(rng.range(5, 30));
    let closed_at = Instant::now();
    drop(owner);
    let (r, returned_at) = blocked.join().map_err(|_| "the blocked sender panicked".to_string())?;
    let waited = returned_at.saturating_duration_since(closed_at);
    match r {
        Err(Errno(libc::ECONNREFUSED)) if waited < Duration::from_millis(2000) => Ok(()),
        other => Err(format!(
            "the send blocked on a full member returned {other:?} {} ms after close(owner) was called{}, want ECONNREFUSED at once",
            waited.as_millis(),
            if asleep { "" } else { " (it was not seen asleep before)" }
        )),
    }
}

fn wait_for_tid(tid: &std::sync::atomic::AtomicI32) -> Option<i32> {
    for _ in 0..400 {
        match tid.load(Ordering::SeqCst) {
            0 => sleep_ms(5),
            t => return Some(t),
        }
    }
    None
}

fn owner_close_racing(ctl: &Ctl, beat: &run::Beat, owner: Fd, addr: &SockAddr, m: &Fd, tx: &Arc<Fd>, rng: &mut Rng) -> Result<(), String> {
    beat.doing("sends racing the owner's close");
    let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let (tx, addr, closed) = (tx.clone(), *addr, closed.clone());
        std::thread::spawn(move || {
            let mut log = SendLog::new(3);
            let mut refused_after_close = 0;
            let mut wrong_after_close = Vec::new();
            // Until ECONNREFUSED has been seen 20 times after close returned
            // (bounded: 5 s).
            let deadline = Instant::now() + Duration::from_secs(5);
            while refused_after_close < 20 && Instant::now() < deadline {
                // Read before the send: if set, close returned before this
                // send started.
                let after_close = closed.load(Ordering::SeqCst);
                let r = run::send_one(&tx, &Dest::To(addr), SendHow::DontWait, G2, Kind::Data, &mut log, 64);
                if after_close {
                    match r {
                        Err(Errno(libc::ECONNREFUSED)) => refused_after_close += 1,
                        other => wrong_after_close.push(other),
                    }
                }
            }
            (log, refused_after_close, wrong_after_close)
        })
    };
    sleep_ms(rng.range(2, 30));
    drop(owner);
    closed.store(true, Ordering::SeqCst);
    let (log, refused, wrong) = hammer.join().map_err(|_| "the racing sender panicked".to_string())?;
    let mut got = std::collections::HashSet::new();
    let mut bad = Vec::new();
    let mut rx = Vec::new();
    drain_now(ctl, m, G2, "owner-close member", &mut rx, &mut bad);
    for r in &rx {
        got.insert(r.id.1);
    }
    let ok: Vec<u32> = log.outcomes.iter().enumerate().filter(|(_, o)| o.is_ok()).map(|(s, _)| s as u32).collect();
    let lost: Vec<u32> = ok.iter().copied().filter(|s| !got.contains(s)).collect();
    let mut errs: std::collections::BTreeMap<i32, usize> = Default::default();
    for e in log.outcomes.iter().filter_map(|o| o.err()) {
        *errs.entry(e).or_default() += 1;
    }
    ctl.counters.add("owner-close: racing sends ok", ok.len() as u64);
    if !bad.is_empty() {
        return Err(bad.join("; "));
    }
    if !lost.is_empty() {
        return Err(format!(
            "{} of {} successful sends never reached the member (first: #{}; the member got {}; errnos {:?})",
            lost.len(),
            ok.len(),
            lost[0],
            rx.len(),
            errs
        ));
    }
    if !wrong.is_empty() {
        return Err(format!("{} sends started after close(owner) returned did not fail with ECONNREFUSED: first {:?}", wrong.len(), wrong[0]));
    }
    if refused < 20 {
        return Err(format!("the sender did not see ECONNREFUSED after close(owner) within 5 s (errnos {errs:?})"));
    }
    Ok(())
}

/// The contract: a SEND_TO_PEER copy "holds the sender back like a member
/// without DROP_WHEN_FULL", and a blocking sender waits bounded by
/// SO_SNDTIMEO. Each cycle: a group whose owner (SO_RCVBUF minimal) does not
/// read, a SEND_TO_PEER member fills it with MSG_DONTWAIT sends, then one
/// blocking send (SO_SNDTIMEO 200 ms) must fail with EAGAIN, asleep (little
/// kernel CPU), and not much later than its timeout (3 s allowed: timers
/// fire late in a loaded emulated VM; the bug this catches never returns);
/// after the owner reads one message, a blocking send must succeed.
fn peer_full_cycles(ctl: Arc<Ctl>) -> (Vec<String>, u64) {
    let af = ctl.af;
    run::cycles(&ctl, "peer-full cycles", 4, |beat, cycles, problems| {
        beat.doing("setting up");
        // SAFETY: plain call.
        let addr = SockAddr::abstract_(af, &format!("mcast-stress-g3-{}-{cycles}", unsafe { libc::getpid() }));
        let owner = dgram(af);
        sys::create_group(&owner, &addr).expect("create");
        sys::setopt_int(&owner, libc::SOL_SOCKET, libc::SO_RCVBUF, 1).expect("SO_RCVBUF");
        sys::set_timeouts(&owner, 500).expect("timeouts");
        let m = dgram(af);
        sys::join(&m, &addr, TO_PEER).expect("join");
        sys::set_timeout(&m, libc::SO_SNDTIMEO, 200).expect("SO_SNDTIMEO");
        let mut log = SendLog::new(1);
        let mut filled = false;
        for _ in 0..10_000 {
            match run::send_one(&m, &Dest::To(addr), SendHow::DontWait, G2, Kind::Data, &mut log, 200) {
                Ok(()) => {}
                Err(Errno(libc::EAGAIN)) => {
                    filled = true;
                    break;
                }
                Err(e) => {
                    problems.push(format!("cycle {cycles}: filling the owner: {e:?}"));
                    break;
                }
            }
        }
        if !filled {
            problems.push(format!("cycle {cycles}: the owner's queue never filled"));
            return;
        }
        beat.doing("blocking send to a full owner (SEND_TO_PEER)");
        let (r, t) = run::send_timed(&m, &Dest::To(addr), SendHow::Blocking, G2, Kind::Data, &mut log, 200, || {});
        if r != Err(Errno(libc::EAGAIN)) || t.wall > Duration::from_millis(3000) || t.sys * 2 > t.wall {
            problems.push(format!(
                "cycle {cycles}: blocking send with the owner full: {r:?} after {} ms, {} ms on the CPU in the kernel; want EAGAIN after ~200 ms, asleep",
                t.wall.as_millis(),
                t.sys.as_millis()
            ));
        }
        beat.doing("owner reads one, then a blocking send");
        if let Err(e) = sys::recvmsg(&owner, RECV_CAP, 0) {
            problems.push(format!("cycle {cycles}: the owner's recv: {e:?}"));
        }
        let (r, t) = run::send_timed(&m, &Dest::To(addr), SendHow::Blocking, G2, Kind::Data, &mut log, 200, || {});
        if r.is_err() {
            problems.push(format!("cycle {cycles}: blocking send after the owner made room: {r:?} after {} ms", t.wall.as_millis()));
        }
        sleep_ms(200);
    })
}

/// Stops the senders and churn (the controller set `Stopping`).
pub fn stop_senders(ctl: &Ctl, r: &mut Running, out: &mut Outcome) {
    for h in r.senders.drain(..) {
        out.logs.extend(run::join(ctl, h, "a dgram sender"));
    }
    for h in r.churn.drain(..) {
        if let Some((segs, bad)) = run::join(ctl, h, "a dgram churn thread") {
            out.segments.extend(segs);
            out.bad.extend(bad);
        }
    }
    for h in r.ring_churn.drain(..) {
        if let Some((segs, bad)) = run::join(ctl, h, "the dgram ring churn thread") {
            out.segments.extend(segs);
            out.ring_bad.extend(bad);
        }
    }
    if let Some((p, n)) = r.owner_churn.take().and_then(|h| run::join(ctl, h, "the owner-close thread")) {
        out.owner_close = p;
        out.owner_close_cycles = n;
    }
    if let Some((p, n)) = r.peer_full.take().and_then(|h| run::join(ctl, h, "the peer-full thread")) {
        out.peer_full = p;
        out.peer_full_cycles = n;
    }
    if let Some(c) = &mut r.prepared.child {
        let _ = sys::write_all(&c.to, b"T");
        if !c.fill(1, 30_000) || c.buf[0] != b'S' {
            r.prepared.child_problem = Some("the child did not stop its sender".into());
        } else {
            c.buf.remove(0);
        }
    }
}

/// The DROP_WHEN_FULL whole-run readers of this scenario (two queued, one
/// ring).
pub const DWF_READERS: u64 = 3;

/// Sends the sentinel (all senders stopped and, as the controller checked,
/// the DROP_WHEN_FULL members are empty, so nobody drops it).
pub fn send_sentinel(ctl: &Ctl, r: &Running, out: &mut Outcome) {
    let tx = dgram(ctl.af);
    sys::set_timeout(&tx, libc::SO_SNDTIMEO, 10_000).expect("SO_SNDTIMEO");
    let mut log = SendLog::new(SENTINEL);
    if let Err(e) = run::send_one(&tx, &Dest::To(r.prepared.addr), SendHow::Blocking, GROUP, Kind::Sentinel, &mut log, 64) {
        ctl.unexpected(format!("dgram sentinel: {e:?}"));
    }
    out.logs.push(log);
}

/// Joins the readers (they end at the sentinel) and collects the child's
/// results.
pub fn finish_readers(ctl: &Ctl, r: &mut Running, out: &mut Outcome) {
    for h in r.readers.drain(..) {
        if let Some((seg, bad)) = run::join(ctl, h, "a dgram reader") {
            out.segments.push(seg);
            out.bad.extend(bad);
        }
    }
    for h in r.ring_readers.drain(..) {
        if let Some((seg, bad)) = run::join(ctl, h, "a dgram ring reader") {
            out.segments.push(seg);
            out.ring_bad.extend(bad);
        }
    }
    if let Some(c) = r.prepared.child.as_mut() {
        if !c.read_all(60_000) {
            out.child.push("the child did not report its results".into());
        }
        match decode_results(&c.buf) {
            Some((log, seg, bad)) => {
                out.logs.push(log);
                out.segments.push(seg);
                out.child.extend(bad);
                out.child_ran = true;
            }
            None if c.buf.is_empty() => {}
            None => out.child.push(format!("the child's results are malformed ({} bytes)", c.buf.len())),
        }
        match c.reap(10_000) {
            Some(s) if libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0 => {}
            Some(s) => out.child.push(format!("the child exited with status {s:#x}")),
            None => out.child.push("the child did not exit (killed)".into()),
        }
    }
    if let Some(p) = r.prepared.child_problem.take() {
        out.child.push(p);
    }
}

/// After `Done`: the owner's reader empties its queue and ends.
pub fn finish_owner(ctl: &Ctl, mut r: Running, out: &mut Outcome) {
    if let Some((c, bad)) = r.owner_reader.take().and_then(|h| run::join(ctl, h, "the dgram owner's reader")) {
        out.copies.push(c);
        out.bad.extend(bad);
    }
}
