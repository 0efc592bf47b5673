//! Receiver threads and the two phases of one measurement.
//!
//! Every receiver is a thread blocked in `recv` (or `recvmmsg` with
//! MSG_WAITFORONE) on its own socket. Messages carry a header
//! `[seq u64][send time u64 (CLOCK_MONOTONIC ns)][kind | phase number << 8]`;
//! a receiver ignores messages of an earlier phase (repeated ENDs, see
//! below):
//!
//! - throughput: the sender sends as fast as its blocking sends let it for
//!   a time budget, the last message marked END. Each receiver counts what
//!   it got and checks the sequence (a gap is a loss, a step back a
//!   duplicate or reordering). Delivered/s is the sum over receivers over
//!   the time from the first send to the last receiver's END. A system that
//!   can lose messages (UDP) gets the END again every 100 ms until every
//!   receiver has seen one.
//! - latency: one message at a time; the sender waits until every receiver
//!   has it, then sends the next. Each receiver records receive time minus
//!   the send time in the payload; the latency of a message is its maximum
//!   over receivers (send → last receiver).

use super::sys;
use super::systems::Setup;
use bench_support::clock;
use bench_support::stats::{median, percentile, spread};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

const HDR: usize = 24;
const DATA: u64 = 0;
const END: u64 = 1;
const LAT: u64 = 2;
/// Most latency samples per measurement.
pub const MAX_LAT: usize = 4000;
/// Bytes of recvmmsg buffer per receiver: room for up to 32 messages.
const MMSG_BYTES: usize = 64 << 10;
/// A receiver that waits this long for a message gives up on the phase.
const RX_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Throughput,
    Latency,
    Quit,
}

#[derive(Clone, Copy)]
struct Cmd {
    phase: Phase,
    number: u64,
    size: usize,
    mmsg: bool,
}

struct Shared {
    n: usize,
    /// The phase's number: a receiver that has ended a phase parks until
    /// it changes (a barrier's mutex would have all N woken receivers
    /// fight over it at every phase).
    gen: AtomicU64,
    cmd: Mutex<Cmd>,
    delivered: AtomicU64,
    lost: AtomicU64,
    bad: AtomicU64,
    timeouts: AtomicU64,
    last_ns: AtomicU64,
    lat: Vec<AtomicU64>,
    remaining: AtomicUsize,
    /// Receivers that have ended the phase.
    done: AtomicUsize,
    sender: Thread,
}

/// Results of a throughput phase (or the median of several) and a
/// latency phase.
#[derive(Clone)]
pub struct Measured {
    /// Throughput phases measured (the rates and CPU times are their
    /// medians, the counts their sums).
    pub reps: usize,
    /// (max - min) / median of the phases' delivered/s.
    pub spread: f64,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    /// Duplicated, reordered or wrongly sized messages.
    pub bad: u64,
    pub timeouts: u64,
    pub seconds: f64,
    pub delivered_per_s: f64,
    pub sender_cpu_ns_per_msg: f64,
    pub total_cpu_ns_per_msg: f64,
    pub relay_cpu_ns_per_msg: Option<f64>,
    pub lat_samples: usize,
    pub lat_lost: u64,
    pub p50_ns: f64,
    pub p99_ns: f64,
}

/// N receiver threads on a [`Setup`]'s sockets.
pub struct Receivers {
    sh: std::sync::Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Receivers {
    pub fn start(setup: &Setup) -> io::Result<Receivers> {
        let fds = setup.rx_fds();
        for &fd in &fds {
            let tv = libc::timeval { tv_sec: RX_TIMEOUT.as_secs() as _, tv_usec: 0 };
            sys::setopt(fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
        }
        // A send blocked for good (a receiver that stopped reading) fails
        // the run with EAGAIN instead of hanging it.
        let tv = libc::timeval { tv_sec: 4 * RX_TIMEOUT.as_secs() as libc::time_t, tv_usec: 0 };
        sys::setopt(setup.sender_fd(), libc::SOL_SOCKET, libc::SO_SNDTIMEO, &tv)?;
        let sh = std::sync::Arc::new(Shared {
            n: fds.len(),
            gen: AtomicU64::new(0),
            cmd: Mutex::new(Cmd { phase: Phase::Quit, number: 0, size: 0, mmsg: false }),
            delivered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            bad: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            lat: (0..MAX_LAT).map(|_| AtomicU64::new(0)).collect(),
            remaining: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            sender: thread::current(),
        });
        let mut threads = Vec::with_capacity(fds.len());
        for fd in fds {
            let sh = sh.clone();
            let t = thread::Builder::new().stack_size(128 << 10).spawn(move || receiver(fd, &sh));
            // On an error the threads started stay parked for good; the
            // program stops on it anyway.
            threads.push(t?);
        }
        Ok(Receivers { sh, threads })
    }

    /// Starts a phase; returns its number.
    fn begin(&self, phase: Phase, size: usize, mmsg: bool) -> u64 {
        let number = {
            let mut c = self.sh.cmd.lock().unwrap();
            *c = Cmd { phase, number: c.number + 1, size, mmsg };
            c.number
        };
        for a in [&self.sh.delivered, &self.sh.lost, &self.sh.bad, &self.sh.timeouts, &self.sh.last_ns] {
            a.store(0, SeqCst);
        }
        self.sh.done.store(0, SeqCst);
        self.sh.gen.store(number, SeqCst);
        for t in &self.threads {
            t.thread().unpark();
        }
        number
    }

    /// Sends END of phase `number` (again every 100 ms if the system
    /// can lose it) and waits for every receiver to end the phase.
    fn end(&self, setup: &Setup, msg: &mut [u8], seq: u64, number: u64) -> io::Result<()> {
        header(msg, seq, clock::mono_ns(), END, number);
        setup.send(msg)?;
        let mut last = clock::mono_ns();
        // Receivers give up on a phase after RX_TIMEOUT without a message:
        // not ending long after that is a hang, reported rather than waited on.
        let give_up = last + 4 * RX_TIMEOUT.as_nanos() as u64;
        while self.sh.done.load(SeqCst) < self.sh.n {
            if clock::mono_ns() > give_up {
                let done = self.sh.done.load(SeqCst);
                return Err(crate::invalid(&format!("only {done} of {} receivers ended the phase", self.sh.n)));
            }
            thread::park_timeout(Duration::from_millis(20));
            if setup.lossy() && clock::mono_ns() - last > 100_000_000 {
                setup.send(msg)?;
                last = clock::mono_ns();
            }
        }
        Ok(())
    }

    /// A throughput phase of about `budget` of sending (at most `max_msgs`
    /// messages); the latency fields are left empty.
    pub fn throughput(&self, setup: &Setup, size: usize, mmsg: bool, budget: Duration, max_msgs: u64) -> io::Result<Measured> {
        let sh = &*self.sh;
        let n = sh.n as u64;
        let mut msg = vec![0x5au8; size];
        let relay_clock = setup.relay_thread().map(clock::thread_clock).transpose()?;

        // Throughput.
        let number = self.begin(Phase::Throughput, size, mmsg);
        let (cpu0, proc0, relay0) = (clock::thread_cpu_ns(), clock::process_cpu_ns(), relay_clock.map(clock::clock_of));
        let t0 = clock::mono_ns();
        let deadline = t0 + budget.as_nanos() as u64;
        let mut seq = 0u64;
        let res = loop {
            let now = clock::mono_ns();
            if seq + 1 >= max_msgs || now >= deadline {
                break Ok(());
            }
            header(&mut msg, seq, now, DATA, number);
            if let Err(e) = setup.send(&msg) {
                break Err(e);
            }
            seq += 1;
        };
        // A failed send leaves the receivers waiting: they time out.
        res.and_then(|()| self.end(setup, &mut msg, seq, number))?;
        seq += 1;
        let cpu = clock::thread_cpu_ns() - cpu0;
        let (proc1, relay1) = (clock::process_cpu_ns(), relay_clock.map(clock::clock_of));
        let seconds = (sh.last_ns.load(SeqCst).max(t0 + 1) - t0) as f64 / 1e9;
        let delivered = sh.delivered.load(SeqCst);
        let sent = seq;
        Ok(Measured {
            reps: 1,
            spread: 0.0,
            sent,
            delivered,
            lost: (sent * n).saturating_sub(delivered).max(sh.lost.load(SeqCst)),
            bad: sh.bad.load(SeqCst),
            timeouts: sh.timeouts.load(SeqCst),
            seconds,
            delivered_per_s: delivered as f64 / seconds,
            sender_cpu_ns_per_msg: cpu as f64 / sent as f64,
            total_cpu_ns_per_msg: (proc1 - proc0) as f64 / sent as f64,
            relay_cpu_ns_per_msg: relay0.zip(relay1).map(|(a, b)| (b - a) as f64 / sent as f64),
            lat_samples: 0,
            lat_lost: 0,
            p50_ns: f64::NAN,
            p99_ns: f64::NAN,
        })
    }

    /// A latency phase of about `lat_budget` (at least `min_lat` samples
    /// unless they take more than 3 s), into `m`.
    pub fn latency(
        &self,
        setup: &Setup,
        size: usize,
        mmsg: bool,
        lat_budget: Duration,
        min_lat: usize,
        m: &mut Measured,
    ) -> io::Result<()> {
        let sh = &*self.sh;
        let mut msg = vec![0x5au8; size];
        for l in &sh.lat {
            l.store(0, SeqCst);
        }
        let number = self.begin(Phase::Latency, size, mmsg);
        let t0 = clock::mono_ns();
        let deadline = t0 + lat_budget.as_nanos() as u64;
        let mut i = 0;
        let mut res: io::Result<()> = Ok(());
        // At least min_lat samples, unless that takes more than 3 s.
        let hard = t0 + 3_000_000_000;
        while i < MAX_LAT && {
            let now = clock::mono_ns();
            now < deadline || (i < min_lat && now < hard)
        } {
            sh.remaining.store(sh.n, SeqCst);
            let now = clock::mono_ns();
            header(&mut msg, i as u64, now, LAT, number);
            if let Err(e) = setup.send(&msg) {
                res = Err(e);
                break;
            }
            let give_up = now + 2_000_000_000;
            while sh.remaining.load(SeqCst) != 0 {
                thread::park_timeout(Duration::from_millis(100));
                if clock::mono_ns() > give_up {
                    m.lat_lost += 1;
                    break;
                }
            }
            i += 1;
        }
        res.and_then(|()| self.end(setup, &mut msg, i as u64, number))?;
        let mut v: Vec<u64> = sh.lat[..i].iter().map(|a| a.load(SeqCst)).filter(|&x| x > 0).collect();
        v.sort_unstable();
        m.lat_samples = v.len();
        if !v.is_empty() {
            m.p50_ns = percentile(&v, 0.50);
            m.p99_ns = percentile(&v, 0.99);
        }
        m.timeouts += sh.timeouts.load(SeqCst);
        m.bad += sh.bad.load(SeqCst);
        Ok(())
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        self.begin(Phase::Quit, 0, false);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn header(msg: &mut [u8], seq: u64, ts: u64, kind: u64, phase: u64) {
    msg[..8].copy_from_slice(&seq.to_ne_bytes());
    msg[8..16].copy_from_slice(&ts.to_ne_bytes());
    msg[16..HDR].copy_from_slice(&(kind | phase << 8).to_ne_bytes());
}

fn word(m: &[u8], i: usize) -> u64 {
    u64::from_ne_bytes(m[i * 8..i * 8 + 8].try_into().unwrap())
}

fn receiver(fd: RawFd, sh: &Shared) {
    let mut seen = 0;
    loop {
        while sh.gen.load(SeqCst) == seen {
            thread::park();
        }
        seen = sh.gen.load(SeqCst);
        let cmd = *sh.cmd.lock().unwrap();
        if cmd.phase == Phase::Quit {
            return;
        }
        // recvmmsg: as many slots of the message size as fit in MMSG_BYTES
        // (at most 32); recv: one message (plus a byte, to see a long one).
        let slot = cmd.size + 1;
        let vlen = if cmd.mmsg { (MMSG_BYTES / slot).clamp(1, 32) } else { 1 };
        let mut buf = vec![0u8; slot * vlen];
        let mut lens = vec![0usize; vlen];
        let (mut got, mut next, mut lost, mut bad, mut last) = (0u64, 0u64, 0u64, 0u64, 0u64);
        'phase: loop {
            let k = if cmd.mmsg {
                sys::recvmmsg(fd, &mut buf, slot, &mut lens)
            } else {
                sys::recv(fd, &mut buf).map(|l| {
                    lens[0] = l;
                    1
                })
            };
            let k = match k {
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Timed out (a lost END) or failed: end the phase.
                    sh.timeouts.fetch_add(1, SeqCst);
                    break;
                }
            };
            let now = clock::mono_ns();
            last = now;
            for j in 0..k {
                let m = &buf[j * slot..j * slot + lens[j]];
                if m.len() < HDR {
                    bad += 1;
                    continue;
                }
                let (seq, ts, kind) = (word(m, 0), word(m, 1), word(m, 2));
                if kind >> 8 != cmd.number {
                    continue; // an earlier phase's (a repeated END), maybe of another size
                }
                if m.len() != cmd.size {
                    bad += 1;
                    continue;
                }
                let kind = kind & 0xff;
                match (cmd.phase, kind) {
                    (Phase::Throughput, DATA | END) => {
                        got += 1;
                        if seq > next {
                            lost += seq - next;
                        } else if seq < next {
                            bad += 1;
                        }
                        next = seq + 1;
                        if kind == END {
                            break 'phase;
                        }
                    }
                    (Phase::Latency, LAT) => {
                        if let Some(l) = sh.lat.get(seq as usize) {
                            l.fetch_max(now.saturating_sub(ts).max(1), SeqCst);
                        }
                        if sh.remaining.fetch_sub(1, SeqCst) == 1 {
                            sh.sender.unpark();
                        }
                    }
                    (Phase::Latency, END) => break 'phase,
                    _ => bad += 1,
                }
            }
        }
        sh.delivered.fetch_add(got, SeqCst);
        sh.lost.fetch_add(lost, SeqCst);
        sh.bad.fetch_add(bad, SeqCst);
        sh.last_ns.fetch_max(last, SeqCst);
        drop(buf);
        if sh.done.fetch_add(1, SeqCst) + 1 == sh.n {
            sh.sender.unpark();
        }
    }
}

impl Measured {
    /// The median of several throughput phases of one system (not empty).
    pub fn combine(v: &[Measured]) -> Measured {
        let med = |f: fn(&Measured) -> f64| median(&v.iter().map(f).collect::<Vec<_>>());
        let mut m = v[0].clone();
        m.reps = v.len();
        m.delivered_per_s = med(|m| m.delivered_per_s);
        m.spread = spread(&v.iter().map(|m| m.delivered_per_s).collect::<Vec<_>>());
        m.sender_cpu_ns_per_msg = med(|m| m.sender_cpu_ns_per_msg);
        m.total_cpu_ns_per_msg = med(|m| m.total_cpu_ns_per_msg);
        m.relay_cpu_ns_per_msg = m.relay_cpu_ns_per_msg.map(|_| med(|m| m.relay_cpu_ns_per_msg.unwrap_or(f64::NAN)));
        m.sent = v.iter().map(|m| m.sent).sum();
        m.delivered = v.iter().map(|m| m.delivered).sum();
        m.lost = v.iter().map(|m| m.lost).sum();
        m.bad = v.iter().map(|m| m.bad).sum();
        m.timeouts = v.iter().map(|m| m.timeouts).sum();
        m.seconds = v.iter().map(|m| m.seconds).sum();
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(rate: f64, relay: Option<f64>) -> Measured {
        Measured {
            reps: 1,
            spread: 0.0,
            sent: 10,
            delivered: 20,
            lost: 1,
            bad: 2,
            timeouts: 3,
            seconds: 0.5,
            delivered_per_s: rate,
            sender_cpu_ns_per_msg: 2.0 * rate,
            total_cpu_ns_per_msg: 3.0 * rate,
            relay_cpu_ns_per_msg: relay,
            lat_samples: 0,
            lat_lost: 0,
            p50_ns: f64::NAN,
            p99_ns: f64::NAN,
        }
    }

    #[test]
    fn combine_takes_medians_of_rates_and_sums_of_counts() {
        let c = Measured::combine(&[phase(1.0, None), phase(3.0, None), phase(2.0, None)]);
        assert_eq!(c.reps, 3);
        assert_eq!((c.delivered_per_s, c.sender_cpu_ns_per_msg, c.total_cpu_ns_per_msg), (2.0, 4.0, 6.0));
        assert_eq!(c.spread, 1.0);
        assert_eq!((c.sent, c.delivered, c.lost, c.bad, c.timeouts), (30, 60, 3, 6, 9));
        assert_eq!(c.seconds, 1.5);
        assert!(c.relay_cpu_ns_per_msg.is_none());
    }

    #[test]
    fn combine_takes_the_relays_median_when_there_is_one() {
        let c = Measured::combine(&[phase(1.0, Some(5.0)), phase(2.0, Some(7.0))]);
        assert_eq!(c.relay_cpu_ns_per_msg, Some(6.0));
        assert_eq!(c.delivered_per_s, 1.5);
        assert_eq!(c.spread, 1.0 / 1.5);
    }
}
