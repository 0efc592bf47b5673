//! The two workloads, the same for every [`System`]:
//!
//! - **signals** ([`Fanout`]): one publisher emits the benchmark's signal;
//!   N subscribers added a match rule for its interface (and one for an
//!   interface nobody emits on), and a few quiet subscribers have only that
//!   other rule, so the bus must evaluate rules to deliver. A throughput
//!   phase emits for a time budget with at most [`WINDOW`] messages not yet
//!   delivered to every subscriber (a daemon queues without bound or drops
//!   otherwise), then waits for every delivery; a latency phase emits one
//!   signal at a time and takes, per signal, the time from the send to its
//!   arrival at the last subscriber. Every subscriber checks the sequence
//!   numbers (a gap is a loss, a step back a duplicate or reordering) and a
//!   quiet subscriber must get nothing.
//! - **method calls** ([`Rpc`]): a client calls a method on a server
//!   connection (by its well-known name) and waits for the reply, one call
//!   at a time.
//!
//! The publisher and the client run on the calling thread (a
//! current-thread runtime), so that their CPU time is that thread's; the
//! subscribers and the server run on a multi-threaded runtime. Total CPU is
//! this process's plus the daemon's.

use crate::system::{Body, Kind, Received, Rule, System, DECOY_INTERFACE, INTERFACE};
use bench_support::clock::{self, ProcessClocks};
use bench_support::stats::{median, percentile, spread};
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Most signals emitted and not yet delivered to every subscriber.
pub const WINDOW: u64 = 32;
/// Quiet subscribers (only a rule that matches nothing) per measurement.
pub const QUIET: usize = 4;
/// A phase whose deliveries do not complete within this time fails.
const STALL: Duration = Duration::from_secs(20);

/// The two runtimes: the publisher's (driven by the calling thread) and the
/// subscribers' and servers'.
pub struct Runtimes {
    /// Current-thread runtime of the publisher and the client.
    pub publisher: Runtime,
    /// Multi-threaded runtime of subscribers, servers and controllers.
    pub subscribers: Runtime,
}

impl Runtimes {
    /// The two runtimes, the subscribers' with `workers` threads.
    pub fn new(workers: usize) -> io::Result<Runtimes> {
        Ok(Runtimes {
            publisher: tokio::runtime::Builder::new_current_thread().enable_all().build()?,
            subscribers: tokio::runtime::Builder::new_multi_thread().worker_threads(workers.max(1)).enable_all().build()?,
        })
    }
}

/// One measurement.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// Phases measured (throughput: the median is reported).
    pub reps: usize,
    /// (max - min) / median of the phases' rates.
    pub spread: f64,
    /// Signals emitted (or calls made).
    pub sent: u64,
    /// Deliveries to subscribers (or replies received).
    pub delivered: u64,
    /// Deliveries missing at the end, or sequence gaps.
    pub lost: u64,
    /// Malformed, duplicated or reordered messages, or wrong replies.
    pub bad: u64,
    /// Signals that reached a quiet subscriber.
    pub leaked: u64,
    /// Wall time of the throughput phase.
    pub seconds: f64,
    /// Deliveries (or round trips) per second.
    pub per_s: f64,
    /// CPU of the publisher (or client) per message sent.
    pub sender_cpu_ns: f64,
    /// CPU of the daemon per message sent.
    pub daemon_cpu_ns: f64,
    /// CPU of every process per message sent: publisher, subscribers and
    /// daemon (or client, server and daemon).
    pub total_cpu_ns: f64,
    /// Latency samples taken.
    pub lat_samples: usize,
    /// Median latency: send to the last subscriber (or round trip).
    pub p50_ns: f64,
    /// 99th percentile of the same.
    pub p99_ns: f64,
}

impl Measured {
    /// Throughput phases combined: medians of the rates and CPU times, sums
    /// of the counts.
    pub fn combine(all: &[Measured]) -> Measured {
        let med = |f: &dyn Fn(&Measured) -> f64| median(&all.iter().map(f).collect::<Vec<_>>());
        Measured {
            reps: all.len(),
            spread: spread(&all.iter().map(|m| m.per_s).collect::<Vec<_>>()),
            sent: all.iter().map(|m| m.sent).sum(),
            delivered: all.iter().map(|m| m.delivered).sum(),
            lost: all.iter().map(|m| m.lost).sum(),
            bad: all.iter().map(|m| m.bad).sum(),
            leaked: all.iter().map(|m| m.leaked).sum(),
            seconds: all.iter().map(|m| m.seconds).sum(),
            per_s: med(&|m| m.per_s),
            sender_cpu_ns: med(&|m| m.sender_cpu_ns),
            daemon_cpu_ns: med(&|m| m.daemon_cpu_ns),
            total_cpu_ns: med(&|m| m.total_cpu_ns),
            lat_samples: 0,
            p50_ns: f64::NAN,
            p99_ns: f64::NAN,
        }
    }
}

/// What the subscribers of one system share with its publisher.
#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    /// Sequence gaps seen.
    gaps: AtomicU64,
    bad: AtomicU64,
    /// Signals at quiet subscribers.
    leaked: AtomicU64,
    /// Latest arrival (CLOCK_MONOTONIC ns).
    last_ns: AtomicU64,
    /// Latest send-to-arrival time of the latency signal in flight.
    lat_max: AtomicU64,
    /// The publisher waits until `delivered` reaches this (u64::MAX: not
    /// waiting); the subscriber that reaches it wakes the publisher.
    want: AtomicU64,
    notify: Notify,
}

impl Counters {
    fn new() -> Arc<Counters> {
        Arc::new(Counters { want: AtomicU64::new(u64::MAX), ..Default::default() })
    }

    /// One delivery of `b` at `now`.
    fn deliver(&self, b: &Body, now: u64, next_seq: &mut u64) {
        if b.seq > *next_seq {
            self.gaps.fetch_add(b.seq - *next_seq, SeqCst);
        } else if b.seq < *next_seq {
            self.bad.fetch_add(1, SeqCst);
        }
        *next_seq = b.seq + 1;
        if Kind::from_u64(b.kind) == Some(Kind::Latency) {
            self.lat_max.fetch_max(now.saturating_sub(b.sent_ns), SeqCst);
        }
        self.last_ns.fetch_max(now, SeqCst);
        let d = self.delivered.fetch_add(1, SeqCst) + 1;
        if d >= self.want.load(SeqCst) {
            self.notify.notify_one();
        }
    }

    /// Waits until `target` deliveries (false after [`STALL`]).
    async fn wait_for(&self, target: u64) -> bool {
        let deadline = tokio::time::Instant::now() + STALL;
        loop {
            if self.delivered.load(SeqCst) >= target {
                return true;
            }
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            self.want.store(target, SeqCst);
            if self.delivered.load(SeqCst) >= target {
                self.want.store(u64::MAX, SeqCst);
                return true;
            }
            let woke = tokio::time::timeout_at(deadline, notified).await.is_ok();
            self.want.store(u64::MAX, SeqCst);
            if !woke {
                return self.delivered.load(SeqCst) >= target;
            }
        }
    }
}

/// A subscriber: reads its inbox until the connection ends.
async fn subscribe<S: System>(mut inbox: S::Inbox, c: Arc<Counters>, quiet: bool) {
    let mut next_seq = 0u64;
    loop {
        match S::next(&mut inbox).await {
            Ok(Received::Signal(b)) => {
                let now = clock::mono_ns();
                if quiet {
                    c.leaked.fetch_add(1, SeqCst);
                } else {
                    c.deliver(&b, now, &mut next_seq);
                }
            }
            Ok(Received::Malformed) => {
                c.bad.fetch_add(1, SeqCst);
            }
            Ok(Received::Other) => {}
            Err(_) => return,
        }
    }
}

/// The measurements a set of connections of one system offers, whatever
/// the system (so that the systems of a run sit side by side).
pub trait Measure {
    /// The system's name.
    fn name(&self) -> &'static str;
    /// A throughput phase of about `budget` (at most `max_msgs` signals).
    fn throughput(&mut self, rt: &Runtimes, size: usize, budget: Duration, max_msgs: u64) -> io::Result<Measured>;
    /// A latency phase of about `budget` (at least `min` samples unless
    /// they take 4 times the budget) into `m`.
    fn latency(&mut self, rt: &Runtimes, size: usize, budget: Duration, min: usize, m: &mut Measured) -> io::Result<()>;
}

/// A publisher and N subscribers (plus [`QUIET`] quiet ones) on one system.
pub struct Fanout<S: System> {
    sys: Arc<S>,
    publisher: S::Conn,
    n: u64,
    seq: u64,
    c: Arc<Counters>,
    clocks: ProcessClocks,
    tasks: Vec<JoinHandle<()>>,
    _subs: Vec<S::Conn>,
}

impl<S: System> Fanout<S> {
    /// Connects and subscribes `n` subscribers and the quiet ones, and the
    /// publisher.
    pub fn new(rt: &Runtimes, sys: Arc<S>, n: usize) -> io::Result<Fanout<S>> {
        let c = Counters::new();
        let mut subs = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..n + QUIET {
            let quiet = i >= n;
            let sys2 = sys.clone();
            let c2 = c.clone();
            // Built on the subscribers' runtime, so that the connection's
            // reader runs there.
            let (conn, task) = rt.subscribers.block_on(async move {
                let conn = tokio::spawn(async move {
                    let conn = sys2.connect().await?;
                    let inbox = sys2.inbox(&conn);
                    sys2.add_match(&conn, &Rule { interface: DECOY_INTERFACE }).await?;
                    if !quiet {
                        sys2.add_match(&conn, &Rule { interface: INTERFACE }).await?;
                    }
                    Ok::<_, io::Error>((conn, inbox))
                })
                .await
                .map_err(io::Error::other)??;
                let (conn, inbox) = conn;
                Ok::<_, io::Error>((conn, tokio::spawn(subscribe::<S>(inbox, c2, quiet))))
            })?;
            subs.push(conn);
            tasks.push(task);
        }
        let publisher = rt.publisher.block_on(sys.connect())?;
        let clocks = ProcessClocks::new(&sys.daemon_pids())?;
        Ok(Fanout { sys, publisher, n: n as u64, seq: 0, c, clocks, tasks, _subs: subs })
    }

    fn check(&self, what: &str, ok: bool, target: u64) -> io::Result<()> {
        if ok {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{} N={}: {what}: {} of {target} deliveries after {} s",
                self.sys.name(),
                self.n,
                self.c.delivered.load(SeqCst),
                STALL.as_secs()
            ),
        ))
    }
}

impl<S: System> Measure for Fanout<S> {
    fn name(&self) -> &'static str {
        self.sys.name()
    }

    fn throughput(&mut self, rt: &Runtimes, size: usize, budget: Duration, max_msgs: u64) -> io::Result<Measured> {
        let c = &*self.c;
        let n = self.n;
        let (base, gaps0, bad0, leaked0) =
            (c.delivered.load(SeqCst), c.gaps.load(SeqCst), c.bad.load(SeqCst), c.leaked.load(SeqCst));
        c.last_ns.store(0, SeqCst);
        let mut body = Body::new(size, Kind::Data);
        let (cpu0, proc0, daemon0) = (clock::thread_cpu_ns(), clock::process_cpu_ns(), self.clocks.sum_ns());
        let t0 = clock::mono_ns();
        let deadline = t0 + budget.as_nanos() as u64;
        let publisher = &self.publisher;
        let seq = &mut self.seq;
        let (sent, ok) = rt.publisher.block_on(async {
            let mut sent = 0u64;
            while sent < max_msgs && clock::mono_ns() < deadline {
                if sent >= WINDOW && !c.wait_for(base + (sent - WINDOW + 1) * n).await {
                    return Ok::<_, io::Error>((sent, false));
                }
                body.seq = *seq;
                body.sent_ns = clock::mono_ns();
                S::emit(publisher, &body).await?;
                *seq += 1;
                sent += 1;
            }
            Ok((sent, c.wait_for(base + sent * n).await))
        })?;
        self.check("throughput", ok, base + sent * n)?;
        let cpu = clock::thread_cpu_ns() - cpu0;
        let (proc, daemon) = (clock::process_cpu_ns() - proc0, self.clocks.sum_ns() - daemon0);
        let delivered = c.delivered.load(SeqCst) - base;
        let seconds = (c.last_ns.load(SeqCst).max(t0 + 1) - t0) as f64 / 1e9;
        let per = |x: u64| x as f64 / sent.max(1) as f64;
        Ok(Measured {
            reps: 1,
            spread: 0.0,
            sent,
            delivered,
            lost: (sent * n).saturating_sub(delivered).max(c.gaps.load(SeqCst) - gaps0),
            bad: c.bad.load(SeqCst) - bad0,
            leaked: c.leaked.load(SeqCst) - leaked0,
            seconds,
            per_s: delivered as f64 / seconds,
            sender_cpu_ns: per(cpu),
            daemon_cpu_ns: per(daemon),
            total_cpu_ns: per(proc + daemon),
            lat_samples: 0,
            p50_ns: f64::NAN,
            p99_ns: f64::NAN,
        })
    }

    fn latency(&mut self, rt: &Runtimes, size: usize, budget: Duration, min: usize, m: &mut Measured) -> io::Result<()> {
        let c = &*self.c;
        let n = self.n;
        let (gaps0, bad0, leaked0) = (c.gaps.load(SeqCst), c.bad.load(SeqCst), c.leaked.load(SeqCst));
        let mut body = Body::new(size, Kind::Latency);
        let t0 = clock::mono_ns();
        let (soft, hard) = (t0 + budget.as_nanos() as u64, t0 + 4 * budget.as_nanos() as u64);
        let publisher = &self.publisher;
        let seq = &mut self.seq;
        let mut target = 0;
        let (mut samples, ok) = rt.publisher.block_on(async {
            let mut samples = Vec::new();
            loop {
                let now = clock::mono_ns();
                if now >= hard || (now >= soft && samples.len() >= min) {
                    return Ok::<_, io::Error>((samples, true));
                }
                target = c.delivered.load(SeqCst) + n;
                c.lat_max.store(0, SeqCst);
                body.seq = *seq;
                body.sent_ns = clock::mono_ns();
                S::emit(publisher, &body).await?;
                *seq += 1;
                if !c.wait_for(target).await {
                    return Ok((samples, false));
                }
                samples.push(c.lat_max.load(SeqCst));
            }
        })?;
        self.check("latency", ok, target)?;
        samples.sort_unstable();
        m.lat_samples = samples.len();
        m.p50_ns = percentile(&samples, 0.50);
        m.p99_ns = percentile(&samples, 0.99);
        m.lost += c.gaps.load(SeqCst) - gaps0;
        m.bad += c.bad.load(SeqCst) - bad0;
        m.leaked += c.leaked.load(SeqCst) - leaked0;
        Ok(())
    }
}

impl<S: System> Drop for Fanout<S> {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A client and a server connection on one system.
pub struct Rpc<S: System> {
    sys: Arc<S>,
    client: S::Conn,
    seq: u64,
    clocks: ProcessClocks,
    server: JoinHandle<io::Result<()>>,
    _server_conn: Arc<S::Conn>,
}

impl<S: System> Rpc<S> {
    /// Connects the server (owning the server name, answering on the
    /// subscribers' runtime) and the client.
    pub fn new(rt: &Runtimes, sys: Arc<S>) -> io::Result<Rpc<S>> {
        let sys2 = sys.clone();
        let (conn, server) = rt.subscribers.block_on(async move {
            let (conn, inbox) = tokio::spawn(async move {
                let conn = Arc::new(sys2.connect().await?);
                let inbox = sys2.inbox(&conn);
                sys2.own_name(&conn).await?;
                Ok::<_, io::Error>((conn, inbox))
            })
            .await
            .map_err(io::Error::other)??;
            let c2 = conn.clone();
            let server = tokio::spawn(async move {
                let mut inbox = inbox;
                S::serve(&c2, &mut inbox).await
            });
            Ok::<_, io::Error>((conn, server))
        })?;
        let client = rt.publisher.block_on(sys.connect())?;
        let clocks = ProcessClocks::new(&sys.daemon_pids())?;
        Ok(Rpc { sys, client, seq: 0, clocks, server, _server_conn: conn })
    }
}

/// Method calls on a system, whatever the system.
pub trait Calls {
    /// The system's name.
    fn name(&self) -> &'static str;
    /// Calls one at a time for about `budget` (at most `max_calls`), every
    /// round trip timed (nanoseconds, in call order).
    fn calls(&mut self, rt: &Runtimes, size: usize, budget: Duration, max_calls: u64) -> io::Result<(Measured, Vec<u64>)>;
}

impl<S: System> Calls for Rpc<S> {
    fn name(&self) -> &'static str {
        self.sys.name()
    }

    fn calls(&mut self, rt: &Runtimes, size: usize, budget: Duration, max_calls: u64) -> io::Result<(Measured, Vec<u64>)> {
        if self.server.is_finished() {
            return Err(io::Error::other(format!("{}: the server stopped", self.sys.name())));
        }
        let mut body = Body::new(size, Kind::Call);
        let (cpu0, proc0, daemon0) = (clock::thread_cpu_ns(), clock::process_cpu_ns(), self.clocks.sum_ns());
        let t0 = clock::mono_ns();
        let deadline = t0 + budget.as_nanos() as u64;
        let client = &self.client;
        let seq = &mut self.seq;
        let (rtts, bad) = rt.publisher.block_on(async {
            let mut rtts = Vec::new();
            let mut bad = 0u64;
            while (rtts.len() as u64) < max_calls && clock::mono_ns() < deadline {
                body.seq = *seq;
                body.sent_ns = clock::mono_ns();
                let reply = tokio::time::timeout(STALL, S::call(client, &body))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply"))??;
                rtts.push(clock::mono_ns() - body.sent_ns);
                if reply != body {
                    bad += 1;
                }
                *seq += 1;
            }
            Ok::<_, io::Error>((rtts, bad))
        })?;
        let t1 = clock::mono_ns();
        let cpu = clock::thread_cpu_ns() - cpu0;
        let (proc, daemon) = (clock::process_cpu_ns() - proc0, self.clocks.sum_ns() - daemon0);
        let sent = rtts.len() as u64;
        let seconds = (t1 - t0) as f64 / 1e9;
        let per = |x: u64| x as f64 / sent.max(1) as f64;
        let m = Measured {
            reps: 1,
            sent,
            delivered: sent,
            bad,
            seconds,
            per_s: sent as f64 / seconds,
            sender_cpu_ns: per(cpu),
            daemon_cpu_ns: per(daemon),
            total_cpu_ns: per(proc + daemon),
            ..Default::default()
        };
        Ok((m, rtts))
    }
}

impl<S: System> Drop for Rpc<S> {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_count_gaps_and_steps_back() {
        let c = Counters::new();
        let mut next = 0;
        let mut b = Body::new(64, Kind::Data);
        for seq in [0, 1, 3, 2] {
            b.seq = seq;
            c.deliver(&b, 10, &mut next);
        }
        assert_eq!(c.delivered.load(SeqCst), 4);
        assert_eq!(c.gaps.load(SeqCst), 1);
        assert_eq!(c.bad.load(SeqCst), 1);
    }

    #[test]
    fn combine_takes_medians_and_sums() {
        let m = |r: f64| Measured { per_s: r, sent: 10, delivered: 10, ..Default::default() };
        let c = Measured::combine(&[m(1.0), m(3.0), m(2.0)]);
        assert_eq!(c.per_s, 2.0);
        assert_eq!(c.sent, 30);
        assert_eq!(c.spread, 1.0);
    }
}
