//! mcast-stress: concurrency stress of mcast_unix with conservation checks,
//! and a module lifecycle test. Runs inside the test VM; prints TAP.
//!
//! Usage:
//!   mcast-stress [--duration SECS] [--seed N] [--no-child] [--skip SCENARIO]...
//!   mcast-stress --lifecycle CYCLES [--seed N]
//!
//! The stress runs a datagram group (`dgram`) and a seqpacket group with
//! admission (`seq`) at once for SECS seconds, with senders of every kind,
//! blocking and DROP_WHEN_FULL members (queued, and reading receive rings),
//! churn, signals, and a forked unprivileged process; then it checks what every member received against
//! what every sender logged (see `check`). SCENARIO is one of `churn`,
//! `owner-close`, `send-to-peer`, `connect-close` (for developing around a
//! known bug; the checks that need a skipped scenario report "skip").
//!
//! Nothing may hang: every socket has SO_RCVTIMEO/SO_SNDTIMEO, and a
//! watchdog ends the process (failing every check, naming the threads that
//! did not finish) if the run overruns by more than a few minutes.

mod check;
mod dgram;
mod lifecycle;
mod msg;
mod ring;
mod run;
mod seq;
mod sys;

use check::{GroupRun, Verdict};
use run::{Ctl, Phase};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The checks, in TAP order.
const CHECKS: &[&str] = &[
    "dgram: every message intact (magic, length, checksum)",
    "dgram: no gaps at whole-run blocking members (each sender's successful sends, in order)",
    "dgram: no duplicates at any member",
    "dgram: one order (whole-run members identical, every member a subsequence)",
    "dgram: members that joined or left mid-run got an unbroken run",
    "dgram: DROP_WHEN_FULL gaps equal the SO_RXQ_OVFL deltas",
    "dgram: nothing sent after LEAVE/SHUT_RD returned arrived",
    "dgram: nothing from a failed send delivered",
    "dgram: SEND_TO_PEER copies at the owner are the member's successful sends",
    "dgram: the unprivileged child (uid nobody) ran and reported",
    "dgram: owner close wakes a sender blocked on a full member (ECONNREFUSED)",
    "dgram: SEND_TO_PEER to a full owner waits asleep and times out (EAGAIN)",
    "dgram ring: every message read from a ring intact (magic, length, checksum, not truncated)",
    "dgram ring: no gaps at whole-run blocking ring members (each sender's successful sends, in order)",
    "dgram ring: no duplicates in any ring",
    "dgram ring: one order (whole-run ring members identical to the queued reference, every ring member a subsequence)",
    "dgram ring: ring members that joined, left, rejoined or closed mid-run got an unbroken run",
    "dgram ring: DROP_WHEN_FULL ring gaps equal the frames' drop counts",
    "dgram ring: nothing sent after LEAVE/SHUT_RD returned arrived in a ring",
    "dgram ring: nothing from a failed send delivered to a ring",
    "dgram ring: every ring scenario happened (a sender waited for a frame, ring drops, LEAVE and rejoin, SHUT_RD, close and a new ring)",
    "seq: every message intact (magic, length, checksum)",
    "seq: no gaps at whole-run blocking members (each sender's successful sends, in order)",
    "seq: no duplicates at any member",
    "seq: one order (whole-run members identical, every member a subsequence)",
    "seq: members admitted or gone mid-run got an unbroken run",
    "seq: DROP_WHEN_FULL gaps equal the SO_RXQ_OVFL deltas",
    "seq: nothing sent after SHUT_RD or the owner's close (kick) returned arrived",
    "seq: nothing from a failed send delivered",
    "seq: SEND_TO_PEER copies at the owner's accepted socket are the member's successful sends",
    "seq: a member's connect() elsewhere gives EISCONN, and the owner's closes do not wait for it",
    BUSY_CHECK,
    "every scenario happened (EINTR, timeouts, drops, churn)",
    "no unexpected errors",
    "every thread finished in time",
];

const BUSY_CHECK: &str = "a blocking send sleeps while it waits and ends within its SO_SNDTIMEO";

/// Serialises TAP output between the controller and the watchdog, and
/// says whether the results were printed.
static OUT: Mutex<bool> = Mutex::new(false);

struct Args {
    duration: u64,
    seed: u64,
    child: bool,
    skip: Vec<String>,
    lifecycle: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { duration: 60, seed: 0, child: true, skip: Vec::new(), lifecycle: None };
    let mut seeded = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--duration" => a.duration = value("--duration")?.parse().map_err(|e| format!("--duration: {e}"))?,
            "--seed" => {
                a.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?;
                seeded = true;
            }
            "--no-child" => a.child = false,
            "--skip" => {
                let s = value("--skip")?;
                if !["churn", "owner-close", "send-to-peer", "connect-close"].contains(&s.as_str()) {
                    return Err(format!("--skip: unknown scenario {s}"));
                }
                a.skip.push(s);
            }
            "--lifecycle" => a.lifecycle = Some(value("--lifecycle")?.parse().map_err(|e| format!("--lifecycle: {e}"))?),
            "-h" | "--help" => return Err("usage".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !seeded {
        // A fresh seed each run unless given; printed so a run can be repeated.
        a.seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
    }
    Ok(a)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mcast-stress: {e}\nusage: mcast-stress [--duration SECS] [--seed N] [--no-child] [--skip churn|owner-close|send-to-peer|connect-close]...\n       mcast-stress --lifecycle CYCLES [--seed N]");
            std::process::exit(2);
        }
    };
    // Room for the sockets of both scenarios.
    let lim = libc::rlimit { rlim_cur: 4096, rlim_max: 4096 };
    // SAFETY: plain syscall with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    println!("TAP version 13");
    if let Some(cycles) = args.lifecycle {
        println!("# mcast-stress --lifecycle {cycles} --seed {}", args.seed);
        std::process::exit(lifecycle::run(cycles, args.seed));
    }
    let af = match mcast_unix::family() {
        Ok(af) => af,
        Err(e) => {
            println!("1..1\nnot ok 1 - the module is loaded\n# {}: {e}", mcast_unix::FAMILY_PARAM);
            std::process::exit(1);
        }
    };
    println!("1..{}", CHECKS.len());
    println!("# mcast-stress --duration {} --seed {} (family {af})", args.duration, args.seed);
    std::process::exit(stress(af, args));
}

fn tap_line(n: usize, ok: bool, name: &str, directive: &str) -> String {
    format!("{} {} - {name}{directive}", if ok { "ok" } else { "not ok" }, n + 1)
}

/// The watchdog: if the run is not over `limit` after the start, print
/// every check as failed, naming the threads still running, and exit.
fn watchdog(ctl: Arc<Ctl>, limit: Duration, over: Arc<AtomicBool>) {
    let start = Instant::now();
    while start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(200));
        if over.load(Ordering::SeqCst) {
            return;
        }
    }
    let printed = OUT.lock().unwrap_or_else(|e| e.into_inner());
    if *printed {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "# watchdog: the run did not finish within {} s (phase {:?}); threads still running:", limit.as_secs(), ctl.phase());
    for t in ctl.stuck_threads() {
        let _ = writeln!(out, "#   {t}");
    }
    for (i, name) in CHECKS.iter().enumerate() {
        let _ = writeln!(out, "{}", tap_line(i, false, name, ""));
    }
    let _ = out.flush();
    // SAFETY: leaving at once, without unwinding the stuck threads.
    unsafe { libc::_exit(3) };
}

/// A kernel soft lockup (a task spinning in the kernel for 20 s) means a
/// livelock the run cannot recover from on two CPUs: panic at once
/// (the VM runs with panic=-1 and -no-reboot, so it ends there, with the
/// report on the console) instead of waiting for the runner's timeout.
fn panic_on_soft_lockup() {
    if std::fs::write("/proc/sys/kernel/softlockup_panic", "1").is_ok() {
        println!("# kernel.softlockup_panic=1: a soft lockup ends the VM");
    }
}

/// Waits until `cond` holds or `ms` pass; true if it held.
fn wait_for(ms: u64, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

fn stress(af: i32, args: Args) -> i32 {
    let mut rng = test_support::rng::Rng::new(args.seed);
    // Forks: before any thread exists.
    let send_to_peer = !args.skip.iter().any(|s| s == "send-to-peer");
    let prepared = dgram::prepare(af, args.child, send_to_peer, rng.next_u64());
    panic_on_soft_lockup();
    sys::install_eintr_handler(libc::SIGUSR1).expect("SIGUSR1 handler");
    let ctl = Arc::new(Ctl::new(af, args.skip.clone()));
    let over = Arc::new(AtomicBool::new(false));
    // The whole run: the traffic, up to ~40 s of stopping and draining
    // steps, generous room for a slow (KCSAN, TCG) VM.
    let limit = Duration::from_secs(args.duration + 180);
    let wd = {
        let (ctl, over) = (ctl.clone(), over.clone());
        std::thread::spawn(move || watchdog(ctl, limit, over))
    };

    let mut d = dgram::start(&ctl, prepared, &mut rng);
    let mut q = seq::start(&ctl, &mut rng);
    let sig = {
        let (ctl, r) = (ctl.clone(), rng.fork(999));
        std::thread::spawn(move || run::signaller(ctl, r))
    };
    let sampler = {
        let ctl = ctl.clone();
        std::thread::spawn(move || run::sampler(ctl))
    };

    let mut next = 10;
    while ctl.elapsed_ms() < args.duration * 1000 {
        std::thread::sleep(Duration::from_millis(100));
        if ctl.elapsed_ms() >= next * 1000 {
            let c = ctl.counters.snapshot();
            println!("# {next} s: {} sends ok, {} EINTR, {} signals", c.get("sends ok").unwrap_or(&0), c.get("sends EINTR").unwrap_or(&0), c.get("signals sent").unwrap_or(&0));
            next += 10;
        }
    }
    let run_ms = ctl.elapsed_ms();
    ctl.set_phase(Phase::Stopping);
    let _ = sig.join();
    let mut dout = dgram::Outcome::default();
    let mut qout = dgram::Outcome::default();
    dgram::stop_senders(&ctl, &mut d, &mut dout);
    seq::stop_senders(&ctl, &mut q, &mut qout);
    ctl.set_phase(Phase::Draining);
    let _ = sampler.join();
    // The sentinels go out once every DROP_WHEN_FULL member is empty: then
    // none of them can drop it, and its drop counter is final.
    let want = dgram::DWF_READERS + seq::DWF_READERS;
    if !wait_for(30_000, || ctl.drained.load(Ordering::SeqCst) >= want) {
        ctl.unexpected(format!("only {} of {want} DROP_WHEN_FULL members drained within 30 s", ctl.drained.load(Ordering::SeqCst)));
    }
    dgram::send_sentinel(&ctl, &d, &mut dout);
    seq::send_sentinel(&ctl, &q, &mut qout);
    dgram::finish_readers(&ctl, &mut d, &mut dout);
    seq::finish_readers(&ctl, &mut q, &mut qout);
    ctl.set_phase(Phase::Done);
    dgram::finish_owner(&ctl, d, &mut dout);
    seq::finish_owner(&ctl, q, &mut qout);
    over.store(true, Ordering::SeqCst);
    let _ = wd.join();
    let total_ms = ctl.elapsed_ms();

    let mut printed = OUT.lock().unwrap_or_else(|e| e.into_inner());
    let (failed, checked) = report(&ctl, &args, &dout, &qout);
    *printed = true;
    println!("# messages checked: {checked}");
    println!("# run {:.1} s of traffic, {:.1} s in all", run_ms as f64 / 1000.0, total_ms as f64 / 1000.0);
    let _ = std::io::stdout().flush();
    if failed == 0 {
        0
    } else {
        1
    }
}

/// The datagram group's checks again, on its ring members alone (with the
/// queued reference they are compared with), and the ring coverage.
fn ring_verdicts(ctl: &Ctl, g: &GroupRun, o: &dgram::Outcome) -> Vec<(Verdict, &'static str)> {
    let skip = |what: &str| if ctl.skipped(what) { " # SKIP scenario skipped (--skip)" } else { "" };
    let rings = g.with_reference(|s| s.ring);
    let rg = GroupRun { logs: g.logs, segments: &rings };
    let ring_segs: Vec<&check::Segment> = o.segments.iter().filter(|s| s.ring).collect();
    let mut intact = Verdict { problems: o.ring_bad.iter().take(8).cloned().collect(), checked: ring_segs.iter().map(|s| s.len()).sum() };
    if ring_segs.is_empty() {
        intact.problems.push("no ring member reported".into());
    }
    let c = &ctl.counters;
    let drops: u64 = ring_segs.iter().filter_map(|s| s.all().filter_map(|r| r.ovfl).max()).map(u64::from).sum();
    let mut coverage = Verdict::default();
    let mut need = |what: &str, ok: bool| {
        if !ok {
            coverage.problems.push(format!("no {what}"));
        }
    };
    need("sender woken by a ring reader giving a frame back (writers_waiting)", c.get("dgram ring wakes (senders waiting for a frame)") > 0);
    need("DROP_WHEN_FULL drop at a ring member", drops > 0);
    if !ctl.skipped("churn") {
        need("ring member LEAVE and rejoin", c.get("dgram ring rejoins") > 0);
        need("ring member SHUT_RD", c.get("dgram ring SHUT_RD") > 0);
        need("ring member closed and a new socket with a new ring", c.get("dgram ring closes") > 0 && c.get("dgram ring sockets made (churn)") >= 2);
    }
    vec![
        (intact, ""),
        (rg.no_gaps(), ""),
        (rg.no_duplicates(), ""),
        (rg.one_order(), ""),
        (rg.contiguous(), skip("churn")),
        (rg.drops_counted(), ""),
        (rg.nothing_after_leave(), skip("churn")),
        (rg.nothing_from_failed_sends(&[]), ""),
        (coverage, ""),
    ]
}

/// Runs the checks and prints the TAP lines: (failed, messages checked).
fn report(ctl: &Ctl, args: &Args, d: &dgram::Outcome, q: &dgram::Outcome) -> (usize, usize) {
    let mut verdicts: Vec<(Verdict, &str)> = Vec::new();
    let mut checked = 0usize;
    let skip = |what: &str| if ctl.skipped(what) { " # SKIP scenario skipped (--skip)" } else { "" };
    for (o, is_seq) in [(d, false), (q, true)] {
        let g = GroupRun { logs: &o.logs, segments: &o.segments };
        let intact = Verdict { problems: o.bad.iter().chain(&o.ring_bad).take(8).cloned().collect(), checked: o.segments.iter().map(|s| s.len()).sum() };
        checked += intact.checked;
        verdicts.push((intact, ""));
        verdicts.push((g.no_gaps(), ""));
        verdicts.push((g.no_duplicates(), ""));
        verdicts.push((g.one_order(), ""));
        verdicts.push((g.contiguous(), skip("churn")));
        verdicts.push((g.drops_counted(), ""));
        verdicts.push((g.nothing_after_leave(), skip("churn")));
        verdicts.push((g.nothing_from_failed_sends(&o.copies), ""));
        verdicts.push((g.peer_copies(&o.copies), skip("send-to-peer")));
        checked += o.copies.iter().map(|c| c.copies.len()).sum::<usize>();
        if is_seq {
            let mut cc = Verdict { problems: o.connect_close.clone(), checked: 0 };
            if o.connect_close_cycles == 0 && !ctl.skipped("connect-close") {
                cc.problems.push("no connect-close cycle completed".into());
            }
            verdicts.push((cc, skip("connect-close")));
        } else {
            let mut child = Verdict { problems: o.child.clone(), checked: 0 };
            if args.child && !o.child_ran && child.problems.is_empty() {
                child.problems.push("the child reported nothing".into());
            }
            verdicts.push((child, if args.child { "" } else { " # SKIP --no-child" }));
            let mut oc = Verdict { problems: o.owner_close.clone(), checked: 0 };
            if o.owner_close_cycles == 0 && !ctl.skipped("owner-close") {
                oc.problems.push("no owner-close cycle completed".into());
            }
            let directive = skip("owner-close");
            verdicts.push((oc, directive));
            let mut pf = Verdict { problems: o.peer_full.clone(), checked: 0 };
            if o.peer_full_cycles == 0 && !ctl.skipped("send-to-peer") {
                pf.problems.push("no peer-full cycle completed".into());
            }
            verdicts.push((pf, skip("send-to-peer")));
            verdicts.extend(ring_verdicts(ctl, &g, o));
        }
    }
    // Coverage: a run where nothing was interrupted, timed out or dropped
    // checked less than it claims.
    let c = &ctl.counters;
    let drops: u64 = d.segments.iter().chain(q.segments.iter()).filter_map(|s| s.all().filter_map(|r| r.ovfl).max()).map(|m| m as u64).sum();
    let mut coverage = Verdict::default();
    let mut need = |what: &str, n: u64| {
        if n == 0 {
            coverage.problems.push(format!("no {what}"));
        }
    };
    need("send interrupted by a signal (EINTR)", c.get("sends EINTR"));
    need("blocking send timed out (SO_SNDTIMEO)", c.get("sends EAGAIN (SO_SNDTIMEO)"));
    need("MSG_DONTWAIT send refused (EAGAIN)", c.get("sends EAGAIN (MSG_DONTWAIT)"));
    need("DROP_WHEN_FULL drop", drops);
    need("blocking send that waited 100 ms or more", c.get("blocking sends that waited >= 100 ms"));
    if !ctl.skipped("churn") {
        need("datagram LEAVE", c.get("dgram leaves"));
        need("datagram SHUT_RD", c.get("dgram SHUT_RD"));
        need("seqpacket kick", c.get("seq kicks"));
        need("seqpacket SHUT_RD", c.get("seq SHUT_RD"));
    }
    verdicts.push((Verdict { problems: ctl.busy_waits(), checked: 0 }, ""));
    verdicts.push((coverage, ""));
    let unexpected = ctl.unexpected_errors();
    verdicts.push((Verdict { problems: unexpected, checked: 0 }, ""));
    verdicts.push((Verdict { problems: ctl.stuck_threads(), checked: 0 }, ""));
    assert_eq!(verdicts.len(), CHECKS.len());

    let mut failed = 0;
    for (i, ((v, directive), name)) in verdicts.iter().zip(CHECKS).enumerate() {
        let skipped = !directive.is_empty();
        if !v.ok() && !skipped {
            failed += 1;
        }
        println!("{}", tap_line(i, v.ok() || skipped, name, if skipped { directive } else { "" }));
        if v.checked > 0 {
            println!("#   {} messages", v.checked);
        }
        for p in &v.problems {
            println!("#   {p}");
        }
        if *name == BUSY_CHECK {
            for s in ctl.samples() {
                println!("#   (sample) {s}");
            }
        }
    }
    // What happened, for the record.
    let sends: usize = d.logs.iter().chain(q.logs.iter()).map(|l| l.successes()).sum();
    let attempts: usize = d.logs.iter().chain(q.logs.iter()).map(|l| l.outcomes.len()).sum();
    println!("# sends: {sends} succeeded of {attempts}; DROP_WHEN_FULL drops seen: {drops}");
    println!("# segments: dgram {}, seq {}", d.segments.len(), q.segments.len());
    for (k, v) in c.snapshot() {
        println!("# {k}: {v}");
    }
    (failed, checked)
}
