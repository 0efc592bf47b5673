//! What the scenarios share: the run's phases, counters and unexpected
//! errors, the per-thread heartbeats the watchdog prints, threads that
//! check a clause in cycles and the joining of threads, the member reader,
//! the sender loop and the signal thread.

use crate::check::{Mode, Rx, Segment, SendLog};
use crate::msg::{self, Header, Kind, CLOCK};
use test_support::rng::Rng;
use crate::sys::{self, Errno, Fd, SockAddr};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where the run is. Readers pace themselves only while `Running`; DROP_WHEN_FULL
/// readers report an empty queue in `Draining`; owners' readers leave at `Done`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running = 0,
    /// Senders and churn finish their current step and leave.
    Stopping = 1,
    /// No sender is left: queues drain, then the sentinels go out.
    Draining = 2,
    /// Every member reader is done.
    Done = 3,
}

/// Named event counters, printed at the end (and some required non-zero).
#[derive(Default)]
pub struct Counters(Mutex<BTreeMap<&'static str, u64>>);

impl Counters {
    pub fn add(&self, name: &'static str, n: u64) {
        *self.0.lock().unwrap().entry(name).or_default() += n;
    }

    pub fn get(&self, name: &str) -> u64 {
        self.0.lock().unwrap().get(name).copied().unwrap_or(0)
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().unwrap().clone()
    }
}

/// One thread's heartbeat: a loop counter and what it is doing now.
pub struct Beat {
    pub name: String,
    pub count: AtomicU64,
    pub what: Mutex<&'static str>,
    pub finished: AtomicBool,
}

impl Beat {
    pub fn tick(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn doing(&self, what: &'static str) {
        *self.what.lock().unwrap() = what;
    }
}

/// The run's shared state.
pub struct Ctl {
    phase: AtomicU8,
    pub counters: Counters,
    unexpected: Mutex<Vec<String>>,
    busy: Mutex<Vec<String>>,
    /// Kernel stacks of sends seen running (state R) in the kernel for a
    /// while: evidence for the busy-wait check, not failures by themselves.
    samples: Mutex<Vec<String>>,
    /// Blocking sends in progress, by thread id, for the sampler.
    in_send: Mutex<HashMap<i32, InSend>>,
    beats: Mutex<Vec<Arc<Beat>>>,
    /// DROP_WHEN_FULL whole-run readers that found their queue empty once
    /// every sender had stopped.
    pub drained: AtomicU64,
    pub signals: Registry,
    pub started: Instant,
    pub af: i32,
    /// Scenarios turned off on the command line (see main).
    pub skip: Vec<String>,
}

impl Ctl {
    pub fn new(af: i32, skip: Vec<String>) -> Ctl {
        Ctl {
            phase: AtomicU8::new(Phase::Running as u8),
            counters: Counters::default(),
            unexpected: Mutex::new(Vec::new()),
            busy: Mutex::new(Vec::new()),
            samples: Mutex::new(Vec::new()),
            in_send: Mutex::new(HashMap::new()),
            beats: Mutex::new(Vec::new()),
            drained: AtomicU64::new(0),
            signals: Registry::default(),
            started: Instant::now(),
            af,
            skip,
        }
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::Running,
            1 => Phase::Stopping,
            2 => Phase::Draining,
            _ => Phase::Done,
        }
    }

    pub fn set_phase(&self, p: Phase) {
        self.phase.store(p as u8, Ordering::SeqCst);
    }

    pub fn running(&self) -> bool {
        self.phase() == Phase::Running
    }

    pub fn skipped(&self, scenario: &str) -> bool {
        self.skip.iter().any(|s| s == scenario)
    }

    /// A syscall failed in a way the contract does not allow here.
    pub fn unexpected(&self, what: String) {
        let mut u = self.unexpected.lock().unwrap();
        if u.len() < 100 {
            u.push(what);
        }
    }

    pub fn unexpected_errors(&self) -> Vec<String> {
        self.unexpected.lock().unwrap().clone()
    }

    /// A blocking send spent most of its wait on the CPU (spinning instead
    /// of sleeping).
    pub fn busy_wait(&self, what: String) {
        let mut b = self.busy.lock().unwrap();
        if b.len() < 20 {
            b.push(what);
        }
    }

    pub fn busy_waits(&self) -> Vec<String> {
        self.busy.lock().unwrap().clone()
    }

    pub fn sample(&self, what: String) {
        let mut s = self.samples.lock().unwrap();
        if s.len() < 20 {
            s.push(what);
        }
    }

    pub fn samples(&self) -> Vec<String> {
        self.samples.lock().unwrap().clone()
    }

    pub fn beat(&self, name: impl Into<String>) -> Arc<Beat> {
        let b = Arc::new(Beat {
            name: name.into(),
            count: AtomicU64::new(0),
            what: Mutex::new("starting"),
            finished: AtomicBool::new(false),
        });
        self.beats.lock().unwrap().push(b.clone());
        b
    }

    /// The threads that have not finished, with what they are doing.
    pub fn stuck_threads(&self) -> Vec<String> {
        self.beats
            .lock()
            .unwrap()
            .iter()
            .filter(|b| !b.finished.load(Ordering::SeqCst))
            .map(|b| format!("{}: {} (after {} steps)", b.name, b.what.lock().unwrap(), b.count.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// One sender thread's blocking send in progress.
struct InSend {
    name: Arc<str>,
    /// SO_SNDTIMEO of its socket, ms.
    limit_ms: u64,
    /// When the current send started (None: not in a send).
    since: Option<Instant>,
    /// This send was sampled already: running (R), past its timeout asleep.
    sampled: (bool, bool),
}

/// The sampler, for evidence of what a long blocking send does in the
/// kernel (read from /proc/self/task/TID: syscall, state, stack):
/// - a send running (state R) inside sendto/sendmsg 100 ms after it started
///   gets its stack recorded as a sample (a diagnostic: it may be
///   legitimately busy delivering, spinning, or waiting for a CPU);
/// - a send asleep in the kernel (state S or D) 1 s past its SO_SNDTIMEO is
///   a failure of the busy-wait check, with its stack: its wait was not
///   bounded by the timeout.
///
/// A thread found in userspace (preempted, on a futex) is not looked at.
pub fn sampler(ctl: Arc<Ctl>) {
    let beat = ctl.beat("sampler");
    beat.doing("sampling long sends");
    let (mut samples, mut overruns) = (0, 0);
    while ctl.phase() < Phase::Draining {
        std::thread::sleep(Duration::from_millis(50));
        beat.tick();
        // (tid, sender, SO_SNDTIMEO, ms in the send so far, sampled flags)
        type Due = (i32, Arc<str>, u64, u64, (bool, bool));
        let due: Vec<Due> = {
            let m = ctl.in_send.lock().unwrap();
            m.iter()
                .filter_map(|(tid, e)| Some((*tid, e.name.clone(), e.limit_ms, e.since?.elapsed().as_millis() as u64, e.sampled)))
                .filter(|(_, _, _, ms, _)| *ms > 100)
                .collect()
        };
        for (tid, name, limit, ms, (seen_running, seen_overrun)) in due {
            let late = ms > limit + 1000;
            if seen_overrun || (late && overruns >= 10) || (!late && (seen_running || samples >= 10)) {
                continue;
            }
            let syscall = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).unwrap_or_default();
            let nr = syscall.split_whitespace().next().and_then(|n| n.parse::<i64>().ok());
            if nr != Some(libc::SYS_sendto) && nr != Some(libc::SYS_sendmsg) {
                continue;
            }
            let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("?").to_string();
            let overrun = late && state != "R";
            if !overrun && (state != "R" || seen_running || samples >= 10) {
                continue;
            }
            let stack = std::fs::read_to_string(format!("/proc/self/task/{tid}/stack")).unwrap_or_default();
            let frames: Vec<&str> = stack.lines().filter_map(|l| l.split_whitespace().nth(1)).take(8).collect();
            if let Some(e) = ctl.in_send.lock().unwrap().get_mut(&tid) {
                if overrun {
                    e.sampled.1 = true;
                } else {
                    e.sampled.0 = true;
                }
            }
            let what = format!(
                "{name}: in the send syscall {ms} ms after it started (SO_SNDTIMEO {limit} ms), state {state}, kernel stack: {}",
                frames.join(" < ")
            );
            if overrun {
                overruns += 1;
                ctl.busy_wait(what);
            } else {
                samples += 1;
                ctl.sample(what);
            }
        }
    }
    beat.finished.store(true, Ordering::SeqCst);
}

/// A thread that checks one clause of the contract in cycles: runs `cycle`
/// (given its heartbeat, the cycle's number from 1 and the problems so
/// far) again and again while the run is on and no more than
/// `max_problems` problems were found; returns the problems and the number
/// of cycles run.
pub fn cycles(ctl: &Ctl, name: &str, max_problems: usize, mut cycle: impl FnMut(&Beat, u64, &mut Vec<String>)) -> (Vec<String>, u64) {
    let beat = ctl.beat(name);
    let mut problems = Vec::new();
    let mut n = 0u64;
    while ctl.running() && problems.len() <= max_problems {
        beat.tick();
        n += 1;
        cycle(&beat, n, &mut problems);
    }
    beat.finished.store(true, Ordering::SeqCst);
    (problems, n)
}

/// Joins a scenario's thread: what it returned, or `None` if it panicked
/// (an unexpected error, "`what` panicked").
pub fn join<T>(ctl: &Ctl, h: JoinHandle<T>, what: &str) -> Option<T> {
    match h.join() {
        Ok(v) => Some(v),
        Err(_) => {
            ctl.unexpected(format!("{what} panicked"));
            None
        }
    }
}

/// Sleeps `ms` milliseconds (signals do not cut it short: std resumes).
pub fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// The sender threads the signal thread may interrupt. A sender leaves the
/// registry (under its lock) before it exits, and the signal thread signals
/// under the same lock, so it never signals a thread that is gone.
#[derive(Default)]
// pthread_t is a pointer on musl: kept as a number so the registry is Send.
pub struct Registry(Mutex<Vec<(u64, usize)>>);

impl Registry {
    pub fn enter(&self, key: u64) {
        self.0.lock().unwrap().push((key, sys::this_thread() as usize));
    }

    pub fn leave(&self, key: u64) {
        self.0.lock().unwrap().retain(|(k, _)| *k != key);
    }

    /// Signals one of the registered threads (chosen by `pick`); false if
    /// none is registered.
    pub fn signal_one(&self, pick: u64, sig: i32) -> bool {
        let r = self.0.lock().unwrap();
        if r.is_empty() {
            return false;
        }
        let (_, t) = r[(pick % r.len() as u64) as usize];
        let _ = sys::signal_thread(t as libc::pthread_t, sig);
        true
    }
}

/// The signal thread: SIGUSR1 (a do-nothing handler without SA_RESTART) to
/// a random registered sender every 1–10 ms, so blocked sends return EINTR.
pub fn signaller(ctl: Arc<Ctl>, mut rng: Rng) {
    let beat = ctl.beat("signaller");
    beat.doing("signalling senders");
    while ctl.running() {
        std::thread::sleep(Duration::from_micros(rng.range(1000, 10_000)));
        if ctl.signals.signal_one(rng.next_u64(), libc::SIGUSR1) {
            ctl.counters.add("signals sent", 1);
        }
        beat.tick();
    }
    beat.finished.store(true, Ordering::SeqCst);
}

/// How a reader paces itself while the run is on: after a message, with
/// probability 1/`one_in`, it sleeps up to `max_ms` (so queues fill up,
/// blocking senders wait or time out, DROP_WHEN_FULL members drop).
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub one_in: u64,
    pub max_ms: u64,
}

impl Pace {
    pub fn pause(&self, rng: &mut Rng) {
        if self.max_ms > 0 && rng.one_in(self.one_in) {
            sleep_ms(rng.range(0, self.max_ms));
        }
    }
}

/// Receive buffer big enough to notice a message longer than any we send.
pub const RECV_CAP: usize = msg::MAX_LEN + 64;

/// What decoding one received datagram or record gave.
pub enum Got {
    Data(Rx),
    Sentinel(Rx),
    /// A unicast message for the caller (seqpacket admission token).
    Other(Header),
    /// End of file (seqpacket peer gone, or SHUT_RD with an empty queue).
    Eof,
}

/// Decodes what recvmsg returned; a damaged message is reported in `bad`.
pub fn classify(r: &sys::Received, group: u8, bad: &mut Vec<String>, who: &str) -> Option<Got> {
    if r.ret == 0 {
        return Some(Got::Eof);
    }
    if r.flags & libc::MSG_TRUNC != 0 || r.ret != r.data.len() {
        bad.push(format!("{who}: truncated message ({} bytes returned, {} read)", r.ret, r.data.len()));
        return None;
    }
    match msg::decode(&r.data) {
        Ok(h) if h.group != group => {
            bad.push(format!("{who}: message of group {} in group {group}", h.group));
            None
        }
        Ok(h) => {
            let rx = Rx { id: (h.sender, h.seq), stamp: h.stamp, ovfl: r.ovfl };
            Some(match h.kind {
                Kind::Data => Got::Data(rx),
                Kind::Sentinel => Got::Sentinel(rx),
                _ => Got::Other(h),
            })
        }
        Err(e) => {
            bad.push(format!("{who}: damaged message: {e}"));
            None
        }
    }
}

/// A whole-run member's reader: reads until the sentinel, pacing itself
/// while the run is on. A DROP_WHEN_FULL reader tells the controller when
/// its queue is empty after the senders stopped (so the sentinel, sent only
/// then, cannot be dropped). Returns its segment and damaged messages.
pub fn read_member(ctl: Arc<Ctl>, fd: Arc<Fd>, mut seg: Segment, group: u8, pace: Pace, mut rng: Rng) -> (Segment, Vec<String>) {
    let beat = ctl.beat(format!("reader {}", seg.name));
    let mut bad = Vec::new();
    let mut drained = false;
    let mut idle_since: Option<Instant> = None;
    loop {
        beat.tick();
        let phase = ctl.phase();
        let dwf_drain = seg.mode == Mode::DropWhenFull && phase >= Phase::Draining && !drained;
        beat.doing(if dwf_drain { "draining (non-blocking recv)" } else { "recvmsg (SO_RCVTIMEO)" });
        let r = sys::recvmsg(&fd, RECV_CAP, if dwf_drain { libc::MSG_DONTWAIT } else { 0 });
        match r {
            Ok(r) => {
                idle_since = None;
                match classify(&r, group, &mut bad, &seg.name) {
                    Some(Got::Data(rx)) => seg.during.push(rx),
                    Some(Got::Sentinel(rx)) => {
                        seg.during.push(rx);
                        break;
                    }
                    Some(Got::Other(h)) => bad.push(format!("{}: unexpected {:?} message", seg.name, h.kind)),
                    Some(Got::Eof) => {
                        bad.push(format!("{}: end of file before the sentinel", seg.name));
                        break;
                    }
                    None => {}
                }
                if phase == Phase::Running {
                    beat.doing("pausing");
                    pace.pause(&mut rng);
                }
            }
            Err(Errno(libc::EAGAIN)) => {
                if dwf_drain {
                    drained = true;
                    ctl.drained.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                // Nothing for a whole SO_RCVTIMEO: fine while others run;
                // once draining, the sentinel is late after 60 s.
                if phase >= Phase::Draining {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_secs(60) {
                        bad.push(format!("{}: the sentinel never arrived", seg.name));
                        break;
                    }
                }
            }
            Err(Errno(libc::EINTR)) => {}
            Err(e) => {
                ctl.unexpected(format!("{}: recvmsg: {e:?}", seg.name));
                sleep_ms(10);
            }
        }
    }
    beat.doing("done");
    beat.finished.store(true, Ordering::SeqCst);
    (seg, bad)
}

/// How a sender sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendHow {
    /// Blocking send (SO_SNDTIMEO set on the socket).
    Blocking,
    /// MSG_DONTWAIT; on EAGAIN wait for POLLOUT (up to 50 ms) and go on.
    DontWait,
}

/// Where a sender's messages go.
pub enum Dest {
    /// sendto(address).
    To(SockAddr),
    /// send() on a connected socket (datagram connect(group), or a
    /// seqpacket member).
    Connected,
}

/// A random message length: mostly small, sometimes up to MAX_LEN.
pub fn msg_len(rng: &mut Rng) -> usize {
    if rng.one_in(10) {
        rng.range(msg::HEADER as u64, msg::MAX_LEN as u64) as usize
    } else {
        rng.range(msg::HEADER as u64, 200) as usize
    }
}

/// Sends one message and records the outcome in `log`: the clock ticket is
/// taken just before the call. Returns the result.
pub fn send_one(fd: &Fd, dest: &Dest, how: SendHow, group: u8, kind: Kind, log: &mut SendLog, len: usize) -> Result<(), Errno> {
    send_timed(fd, dest, how, group, kind, log, len, || {}).0
}

/// How long the send syscall itself took, and the kernel CPU time it used.
pub struct Timing {
    pub wall: Duration,
    pub sys: Duration,
}

/// `send_one`, with `before` run just before the syscall, and the timing of
/// the syscall alone (the message is built before: allocation in a busy
/// process can wait on the allocator's lock, which is not the kernel's doing).
#[allow(clippy::too_many_arguments)]
pub fn send_timed(
    fd: &Fd,
    dest: &Dest,
    how: SendHow,
    group: u8,
    kind: Kind,
    log: &mut SendLog,
    len: usize,
    before: impl FnOnce(),
) -> (Result<(), Errno>, Timing) {
    let seq = log.next_seq();
    let flags = if how == SendHow::DontWait { libc::MSG_DONTWAIT } else { 0 };
    let mut m = msg::encode(&Header { group, kind, sender: log.sender, seq, stamp: 0, arg: 0 }, len);
    before();
    // The ticket goes in at the last moment; re-encoding the stamp and the
    // checksum does not allocate.
    msg::restamp(&mut m, CLOCK.tick());
    let (wall0, sys0) = (Instant::now(), sys::thread_sys_ns());
    let r = match dest {
        Dest::To(a) => sys::sendto(fd, &m, flags, a),
        Dest::Connected => sys::send(fd, &m, flags),
    };
    let t = Timing { wall: wall0.elapsed(), sys: Duration::from_nanos(sys::thread_sys_ns().saturating_sub(sys0)) };
    // A datagram or record goes out whole or not at all.
    let r = r.map(|_| ());
    log.record(r.map_err(|e| e.0));
    (r, t)
}

/// A sender thread's loop: sends until the run stops. EAGAIN (timeout or
/// non-blocking) and EINTR are expected; `also_ok` lists errnos that are
/// expected too for this sender. Registered for signals if `signalled`.
#[allow(clippy::too_many_arguments)]
pub fn sender(
    ctl: Arc<Ctl>,
    name: String,
    fd: Arc<Fd>,
    dest: Dest,
    how: SendHow,
    group: u8,
    id: u16,
    signalled: bool,
    also_ok: &[i32],
    mut rng: Rng,
) -> SendLog {
    let beat = ctl.beat(format!("sender {name}"));
    let mut log = SendLog::new(id);
    let key = id as u64 | (group as u64) << 16;
    if signalled {
        ctl.signals.enter(key);
    }
    let tid = sys::gettid();
    let limit_ms = sys::get_timeout(&fd, libc::SO_SNDTIMEO).unwrap_or(0);
    if how == SendHow::Blocking {
        let e = InSend { name: name.as_str().into(), limit_ms, since: None, sampled: (false, false) };
        ctl.in_send.lock().unwrap().insert(tid, e);
    }
    let mark = |start: bool| {
        if how == SendHow::Blocking {
            if let Some(e) = ctl.in_send.lock().unwrap().get_mut(&tid) {
                e.since = start.then(Instant::now);
                e.sampled = (false, false);
            }
        }
    };
    while ctl.running() {
        beat.tick();
        beat.doing(if how == SendHow::Blocking { "blocking send" } else { "send MSG_DONTWAIT" });
        let len = msg_len(&mut rng);
        // A send that waits must sleep: compare the kernel CPU time it used
        // with the time it took. Only long blocking sends count: a sender
        // may legitimately spin on the group's contended order mutex
        // (optimistic spinning; seen for a few hundred ms at a time in the
        // emulated VM, where the guest also charges a task for time its
        // vCPU was off the host CPU), so the bar is high: 80% of 500 ms or
        // more. A sender that loops instead of sleeping spins for its whole
        // wait.
        let (r, t) = send_timed(&fd, &dest, how, group, Kind::Data, &mut log, len, || mark(true));
        let (wall, cpu) = (t.wall, t.sys);
        mark(false);
        // Bounded by SO_SNDTIMEO (the contract). The time includes waiting
        // for a CPU once woken, which in a loaded emulated VM can be long:
        // only a diagnostic here; the sampler fails the check when it finds
        // the send asleep in the kernel past its timeout.
        if how == SendHow::Blocking && limit_ms > 0 && wall > Duration::from_millis(limit_ms + 1000) {
            ctl.counters.add("blocking sends that overran SO_SNDTIMEO by > 1 s", 1);
            ctl.sample(format!(
                "{name}: send #{} took {} ms with SO_SNDTIMEO {limit_ms} ms ({} ms on the CPU in the kernel, {r:?})",
                log.next_seq() - 1,
                wall.as_millis(),
                cpu.as_millis()
            ));
        }
        if how == SendHow::Blocking && wall >= Duration::from_millis(100) {
            ctl.counters.add("blocking sends that waited >= 100 ms", 1);
            if wall >= Duration::from_millis(500) && cpu * 5 >= wall * 4 {
                ctl.counters.add("blocking sends that busy-waited", 1);
                ctl.busy_wait(format!(
                    "{name}: send #{} took {} ms, {} ms of it on the CPU in the kernel ({r:?})",
                    log.next_seq() - 1,
                    wall.as_millis(),
                    cpu.as_millis()
                ));
            }
        }
        match r {
            Ok(()) => ctl.counters.add("sends ok", 1),
            Err(Errno(libc::EINTR)) => ctl.counters.add("sends EINTR", 1),
            Err(Errno(libc::EAGAIN)) if how == SendHow::Blocking => ctl.counters.add("sends EAGAIN (SO_SNDTIMEO)", 1),
            Err(Errno(libc::EAGAIN)) => {
                ctl.counters.add("sends EAGAIN (MSG_DONTWAIT)", 1);
                beat.doing("poll POLLOUT");
                match sys::poll(&[&fd], libc::POLLOUT, 50) {
                    Ok(_) | Err(Errno(libc::EINTR)) => {}
                    Err(e) => ctl.unexpected(format!("{name}: poll: {e:?}")),
                }
            }
            Err(Errno(e)) if also_ok.contains(&e) => ctl.counters.add("sends failed (other expected errno)", 1),
            Err(e) => {
                ctl.unexpected(format!("{name}: send #{}: {e:?}", log.next_seq() - 1));
                sleep_ms(10);
            }
        }
        if rng.one_in(50) {
            beat.doing("pausing");
            sleep_ms(rng.range(0, 3));
        }
    }
    if signalled {
        ctl.signals.leave(key);
    }
    ctl.in_send.lock().unwrap().remove(&tid);
    beat.doing("done");
    beat.finished.store(true, Ordering::SeqCst);
    log
}

/// Reads whatever is queued now without waiting: until EAGAIN or end of
/// file. Used after a LEAVE or SHUT_RD (each message lands in `out`).
pub fn drain_now(ctl: &Ctl, fd: &Fd, group: u8, who: &str, out: &mut Vec<Rx>, bad: &mut Vec<String>) {
    for _ in 0..100_000 {
        match sys::recvmsg(fd, RECV_CAP, libc::MSG_DONTWAIT) {
            Ok(r) => match classify(&r, group, bad, who) {
                Some(Got::Data(rx)) | Some(Got::Sentinel(rx)) => out.push(rx),
                Some(Got::Eof) => return,
                Some(Got::Other(h)) => bad.push(format!("{who}: unexpected {:?} message", h.kind)),
                None => {}
            },
            Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => return,
            // Reading a seqpacket socket whose owner hung up may report the
            // reset once; the data before it was read already.
            Err(Errno(libc::ECONNRESET)) => return,
            Err(e) => {
                ctl.unexpected(format!("{who}: recvmsg after the membership ended: {e:?}"));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_stop_past_the_problem_limit() {
        let ctl = Ctl::new(libc::AF_UNIX, Vec::new());
        let (problems, n) = cycles(&ctl, "test cycles", 2, |beat, n, problems| {
            beat.doing("cycling");
            if n % 2 == 0 {
                problems.push(format!("cycle {n}"));
            }
        });
        // Problems at cycles 2, 4, 6: the third is past the limit of 2.
        assert_eq!((problems, n), (vec!["cycle 2".to_string(), "cycle 4".into(), "cycle 6".into()], 6));
        assert!(ctl.stuck_threads().is_empty(), "the heartbeat is left unfinished");
    }

    #[test]
    fn cycles_stop_when_the_run_stops() {
        let ctl = Ctl::new(libc::AF_UNIX, Vec::new());
        let (problems, n) = cycles(&ctl, "test cycles", 4, |_, n, _| {
            if n == 3 {
                ctl.set_phase(Phase::Stopping);
            }
        });
        assert_eq!((problems.len(), n), (0, 3));
    }

    #[test]
    fn join_returns_the_result_or_reports_the_panic() {
        let ctl = Ctl::new(libc::AF_UNIX, Vec::new());
        assert_eq!(join(&ctl, std::thread::spawn(|| 7), "a thread"), Some(7));
        assert!(ctl.unexpected_errors().is_empty());
        let h = std::thread::spawn(|| -> u32 { panic!("on purpose") });
        assert_eq!(join(&ctl, h, "a failing thread"), None);
        assert_eq!(ctl.unexpected_errors(), vec!["a failing thread panicked".to_string()]);
    }
}
