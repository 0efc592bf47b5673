//! mcast-fuzz: a multi-threaded system-call fuzzer for the mcast_unix socket
//! family, run inside the test VM. It prints TAP (one case) for the test
//! harness; the kernel side (splats, hangs, stalls in the console) is judged
//! by the VM runner. The program itself must only finish and report.
//!
//! Usage: mcast-fuzz [--seed N] [--ops N] [--duration SECS] [--threads N]
//!                   [--skip-known[=cmsg,blocking-send]] [--family AF]
//!
//! `--family 1` fuzzes AF_UNIX instead (the group options then all fail):
//! a way to try the fuzzer itself on the host, without the module.
//!
//! Layout of a run:
//! - the supervisor (this process) prints the seed first, forks two worker
//!   processes and watches them: one runs as root, the other as nobody
//!   (uid 65534); thread i of the run (global index) uses seed + i, odd
//!   counts give the extra thread to root;
//! - each worker runs its threads on a shared pool of 64 descriptor slots
//!   (`pool.rs`), picking weighted operations (`ops/`);
//! - every process counts into one shared mapping (`shared.rs`): the
//!   operation budget, per-call results, per-thread progress.
//!
//! A worker thread stuck in one call for `STUCK_MS` despite the watchdog's
//! signals is a kernel hang: the supervisor reports it and exits without
//! waiting for the worker, so the test run goes on (the VM runner sees the
//! kernel's own hang reports in the console). From `PAUSE_MS` on, the other
//! threads wait, so that one call spinning in the kernel does not take every
//! CPU of the VM with it.
//!
//! `--skip-known` leaves out what hangs the current module (so the rest can
//! be fuzzed until it is fixed): ancillary data whose `cmsg_len` stops the
//! module's header walk (zeroed buffers, wrapping lengths: `cmsg`) and
//! blocking sends (`blocking-send`); a list selects some of them.

mod addr;
mod mapping;
mod ops;
mod pool;
mod rng;
mod shared;
mod sys;
mod worker;

use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use ops::OPS;
use shared::{Call, Shared, NERRNO, T_DONE, T_PANICKED};
use worker::{WorkerCfg, NOBODY};

/// A call running this long (after repeated interruptions) is a hang. Long
/// enough for the kernel's own detectors (RCU stall 10 s, soft lockup 20 s,
/// hung task 15 s) to report it while the VM still runs.
const STUCK_MS: u64 = 30_000;
/// While a call has run this long, the other threads pause (`Shared::pause`).
const PAUSE_MS: u64 = 1_000;
/// ... or sooner, once it has spent most of `SPIN_MS` on a CPU: a call
/// spinning in the kernel, unlike one that sleeps (a grace period, a timeout).
const SPIN_MS: u64 = 200;
/// A call running this long is mentioned in the output.
const NOTICE_MS: u64 = 5_000;
/// How long threads get to finish their last operation after the stop.
const GRACE_MS: u64 = 60_000;
const PROGRESS_MS: u64 = 60_000;

struct Args {
    seed: Option<u64>,
    ops: u64,
    duration: u64,
    threads: usize,
    skip: ops::Skip,
    family: Option<i32>,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "mcast-fuzz: {msg}\nusage: mcast-fuzz [--seed N] [--ops N] [--duration SECS] [--threads N] [--skip-known[=cmsg,blocking-send]] [--family AF]"
    );
    std::process::exit(2);
}

fn number(opt: &str, v: Option<String>) -> u64 {
    v.and_then(|v| v.parse().ok()).unwrap_or_else(|| usage(&format!("{opt} takes a number")))
}

fn parse_args() -> Args {
    let mut a = Args { seed: None, ops: 100_000, duration: 600, threads: 4, skip: ops::Skip::default(), family: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seed" => a.seed = Some(number("--seed", it.next())),
            "--ops" => a.ops = number("--ops", it.next()),
            "--duration" => a.duration = number("--duration", it.next()),
            "--threads" => a.threads = number("--threads", it.next()) as usize,
            "--skip-known" => a.skip = ops::Skip::parse(None).unwrap_or_default(),
            s if s.starts_with("--skip-known=") => {
                a.skip = ops::Skip::parse(Some(&s["--skip-known=".len()..]))
                    .unwrap_or_else(|| usage("--skip-known= takes a list of cmsg, blocking-send"));
            }
            "--family" => a.family = Some(number("--family", it.next()) as i32),
            "-h" | "--help" => usage("help"),
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    if a.threads == 0 || a.threads > shared::MAX_THREADS {
        usage(&format!("--threads must be 1..{}", shared::MAX_THREADS));
    }
    a
}

fn time_seed() -> u64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() * 1_000_003 + d.subsec_micros() as u64 + std::process::id() as u64) % 10_000_000_000
}

fn flush() {
    let _ = std::io::stdout().flush();
}

extern "C" fn on_kick(_: libc::c_int) {}

/// SIGPIPE, SIGIO and SIGURG ignored (sends to closed peers, O_ASYNC
/// sockets); SIGUSR1, the watchdog's signal, caught without SA_RESTART.
/// Inherited by the workers.
fn setup_signals() {
    // SAFETY: installs dispositions with a zeroed, then filled, sigaction;
    // the handler does nothing, so it is async-signal-safe.
    unsafe {
        for sig in [libc::SIGPIPE, libc::SIGIO, libc::SIGURG] {
            libc::signal(sig, libc::SIG_IGN);
        }
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_kick as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
}

/// Files the odd addresses of `addr.rs` point at.
fn setup_files() {
    let _ = std::fs::write("/tmp/fz-file", b"not a socket\n");
    let _ = std::fs::create_dir("/tmp/fz-dir");
}

struct Worker {
    pid: i32,
    uid: u32,
    first: usize,
    count: usize,
    exited: bool,
}

fn main() {
    let args = parse_args();
    let seed = args.seed.unwrap_or_else(time_seed);
    println!("# seed {seed}");
    println!("1..1");
    flush();
    let ok = run(&args, seed);
    flush();
    std::process::exit(if ok { 0 } else { 1 });
}

fn run(args: &Args, seed: u64) -> bool {
    let family = match args.family.map_or_else(mcast_unix::family, Ok) {
        Ok(f) => f,
        Err(e) => {
            println!("not ok 1 - fuzz: the module is not loaded ({}: {e}) (seed {seed})", mcast_unix::FAMILY_PARAM);
            return false;
        }
    };
    setup_signals();
    setup_files();
    let root = sys::getuid() == 0;
    let bpf_progs = if root { ops::load_bpf_programs() } else { Vec::new() };
    let shared = Shared::map();
    shared.target.store(args.ops, Relaxed);
    let unpriv = if root { args.threads / 2 } else { 0 };
    let privileged = args.threads - unpriv;
    println!(
        "# mcast-fuzz: family {family}, {} threads ({privileged} as uid {}, {unpriv} as uid {NOBODY}), \
         ops {}, duration {} s, {} ops in the table{}",
        args.threads,
        sys::getuid(),
        args.ops,
        args.duration,
        OPS.len(),
        match args.skip.describe() {
            s if s.is_empty() => String::new(),
            s => format!(", --skip-known={s}"),
        }
    );
    flush();
    let start = sys::now_ms();
    let mut workers = Vec::new();
    for (first, count, privileged) in [(0, privileged, true), (privileged, unpriv, false)] {
        if count == 0 {
            continue;
        }
        let cfg = WorkerCfg {
            family,
            skip: args.skip,
            privileged,
            seed,
            first,
            count,
            bpf_progs: bpf_progs.clone(),
        };
        // SAFETY: the supervisor never starts a thread, so the child is a
        // copy of a single-threaded process and may run any code; it leaves
        // with _exit, never returning into main.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            println!("not ok 1 - fuzz: fork: {} (seed {seed})", std::io::Error::last_os_error());
            return false;
        }
        if pid == 0 {
            let code = worker::run(shared, cfg);
            // SAFETY: ends the child without running the parent's exit code.
            unsafe { libc::_exit(code) };
        }
        let uid = if privileged { sys::getuid() } else { NOBODY };
        workers.push(Worker { pid, uid, first, count, exited: false });
    }
    let mut pauses = 0;
    let mut problems = supervise(shared, &mut workers, args, start, &mut pauses);
    let elapsed = sys::now_ms().saturating_sub(start).max(1);
    // Stuck workers cannot be waited for; the kill takes effect if and when
    // their call returns.
    for w in workers.iter().filter(|w| !w.exited) {
        // SAFETY: signals a child of ours.
        unsafe { libc::kill(w.pid, libc::SIGKILL) };
    }
    let done: u64 = (0..args.threads).map(|i| shared.threads[i].ops.load(Relaxed)).sum();
    if done < args.ops {
        problems.push(format!("only {done} of {} operations within {} s", args.ops, args.duration));
    }
    if problems.is_empty() {
        report(shared, args.threads, done, elapsed, pauses);
        println!("ok 1 - fuzz: {done} operations (seed {seed})");
        return true;
    }
    // The verdict first: with a CPU spinning in the kernel, console output
    // may stop flowing at any point (tty work queued on that CPU).
    println!("not ok 1 - fuzz: {} (seed {seed})", problems.join("; "));
    flush();
    for p in &problems {
        println!("# {p}");
    }
    report(shared, args.threads, done, elapsed, pauses);
    false
}

/// CPU time of one operation of one thread, sampled by the supervisor.
#[derive(Clone, Copy, Default)]
struct Spin {
    /// The operation sampled (its start time), when and the CPU time then.
    since: u64,
    at: u64,
    cpu_ms: u64,
    /// The operation last mentioned (its start time).
    noticed: u64,
}

impl Spin {
    /// True once the operation started at `since` has used more than 60% of
    /// a CPU over at least `SPIN_MS`.
    fn spinning(&mut self, since: u64, now: u64, tid: i32) -> bool {
        if since == 0 || now.saturating_sub(since) < SPIN_MS / 2 {
            return false;
        }
        let Some(cpu) = cpu_ms(tid) else { return false };
        if self.since != since {
            *self = Spin { since, at: now, cpu_ms: cpu, noticed: self.noticed };
            return false;
        }
        let wall = now - self.at;
        wall >= SPIN_MS && cpu.saturating_sub(self.cpu_ms) * 10 >= wall * 6
    }

    /// True the first time it is asked about the operation started at `since`.
    fn notice(&mut self, since: u64) -> bool {
        std::mem::replace(&mut self.noticed, since) != since
    }
}

/// User plus system time of thread `tid` in ms (/proc/TID/stat fields 14
/// and 15, in units of 10 ms).
fn cpu_ms(tid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{tid}/stat")).ok()?;
    let mut f = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let (utime, stime): (u64, u64) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
    Some((utime + stime) * 10)
}

/// Waits for the workers, stopping them at the deadline; returns problems.
fn supervise(shared: &Shared, workers: &mut [Worker], args: &Args, start: u64, pauses: &mut u64) -> Vec<String> {
    let mut problems = Vec::new();
    let deadline = start + args.duration * 1000;
    let mut next_progress = start + PROGRESS_MS;
    let mut stop_at: Option<u64> = None;
    let mut stuck = vec![false; args.threads];
    let mut spin = vec![Spin::default(); args.threads];
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = sys::now_ms();
        for w in workers.iter_mut().filter(|w| !w.exited) {
            let mut status = 0;
            // SAFETY: waits for a child of ours without blocking.
            let r = unsafe { libc::waitpid(w.pid, &mut status, libc::WNOHANG) };
            if r == w.pid {
                w.exited = true;
                if libc::WIFSIGNALED(status) {
                    problems.push(format!("worker (uid {}) killed by signal {}", w.uid, libc::WTERMSIG(status)));
                } else if libc::WEXITSTATUS(status) != 0 {
                    problems.push(format!("worker (uid {}) exited with {}", w.uid, libc::WEXITSTATUS(status)));
                }
                for i in w.first..w.first + w.count {
                    let st = &shared.threads[i];
                    if st.state.load(Relaxed) != T_DONE && st.state.load(Relaxed) != T_PANICKED {
                        st.state.store(T_PANICKED, Relaxed);
                    }
                }
            }
        }
        let mut slow = false;
        for (i, s) in stuck.iter_mut().enumerate() {
            let st = &shared.threads[i];
            let since = st.busy_since.load(Relaxed);
            slow |= since != 0 && now.saturating_sub(since) >= PAUSE_MS;
            slow |= spin[i].spinning(since, now, st.tid.load(Relaxed));
            if since != 0 && now.saturating_sub(since) >= NOTICE_MS && spin[i].notice(since) {
                let op = OPS.get(st.op.load(Relaxed) as usize).map_or("?", |o| o.name);
                println!(
                    "# thread {i} has been in '{op}' (its operation {}) for {} s",
                    st.ops.load(Relaxed) + 1,
                    NOTICE_MS / 1000
                );
                flush();
            }
            if !*s && since != 0 && now.saturating_sub(since) >= STUCK_MS {
                *s = true;
                let op = OPS.get(st.op.load(Relaxed) as usize).map_or("?", |o| o.name);
                problems.push(format!(
                    "thread {i} stuck in '{op}' (its operation {}) for {} s despite {} interruptions: kernel hang?",
                    st.ops.load(Relaxed) + 1,
                    STUCK_MS / 1000,
                    st.kicks.load(Relaxed)
                ));
                println!("# {}", problems.last().unwrap());
                flush();
                shared.stop.store(true, Relaxed);
                stop_at.get_or_insert(now);
            }
        }
        if slow && !shared.pause.swap(true, Relaxed) {
            *pauses += 1;
        } else if !slow {
            shared.pause.store(false, Relaxed);
        }
        if stop_at.is_none() && now >= deadline {
            println!("# duration of {} s reached", args.duration);
            shared.stop.store(true, Relaxed);
            stop_at = Some(now);
        }
        if workers.iter().all(|w| w.exited) {
            break;
        }
        let settled = (0..args.threads).all(|i| {
            let s = shared.threads[i].state.load(Relaxed);
            s == T_DONE || s == T_PANICKED || stuck[i]
        });
        if settled && stuck.iter().any(|&s| s) {
            break;
        }
        if stop_at.is_some_and(|t| now >= t + GRACE_MS) {
            problems.push(format!("threads did not stop within {} s of the stop", GRACE_MS / 1000));
            break;
        }
        if now >= next_progress {
            let ops: u64 = (0..args.threads).map(|i| shared.threads[i].ops.load(Relaxed)).sum();
            let secs = (now - start) / 1000;
            println!("# {secs} s: {ops} operations ({} per second)", ops / secs.max(1));
            flush();
            next_progress += PROGRESS_MS;
        }
    }
    for i in 0..args.threads {
        if shared.threads[i].state.load(Relaxed) == T_PANICKED {
            problems.push(format!("thread {i} panicked or died"));
        }
    }
    problems
}

/// Per-call counts (successes and the commonest errnos), the deep-state
/// summary, the rate and the errno totals.
fn report(shared: &Shared, threads: usize, done: u64, elapsed_ms: u64, pauses: u64) {
    let mut totals = [0u64; NERRNO];
    for &call in Call::ALL {
        let total = shared.total(call);
        if total == 0 {
            continue;
        }
        let mut errs: Vec<(usize, u64)> =
            (1..NERRNO).map(|e| (e, shared.count(call, e))).filter(|&(_, n)| n > 0).collect();
        for &(e, n) in &errs {
            totals[e] += n;
        }
        totals[0] += shared.count(call, 0);
        errs.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        let top: Vec<String> = errs.iter().take(5).map(|&(e, n)| format!("{}={n}", errno_label(e))).collect();
        println!("# {:<22} {:>8} ok={:<8} {}", call.name(), total, shared.count(call, 0), top.join(" "));
    }
    let ok = |c: Call| shared.count(c, 0);
    println!(
        "# deep: groups created {}, joins {}, admissions {}, group sends {} of {}, member sends {} of {}, messages drained {}",
        ok(Call::Create),
        ok(Call::Join),
        ok(Call::Admit),
        ok(Call::GroupSend),
        shared.total(Call::GroupSend),
        ok(Call::MemberSend),
        shared.total(Call::MemberSend),
        ok(Call::Drain),
    );
    println!(
        "# rings: set {} of {}, mappings {} of {}, frames taken {}",
        ok(Call::RingSet),
        shared.total(Call::RingSet),
        ok(Call::Mmap),
        shared.total(Call::Mmap),
        shared.frames.load(Relaxed),
    );
    let kicks: u64 = (0..threads).map(|i| shared.threads[i].kicks.load(Relaxed)).sum();
    let mut by_op: Vec<(&str, u64)> =
        OPS.iter().zip(&shared.kicks_by_op).map(|(o, k)| (o.name, k.load(Relaxed))).filter(|&(_, k)| k > 0).collect();
    by_op.sort_by_key(|&(_, k)| std::cmp::Reverse(k));
    let by_op: Vec<String> = by_op.iter().take(6).map(|(n, k)| format!("{n} {k}")).collect();
    let calls: u64 = totals.iter().sum();
    println!(
        "# {done} operations ({calls} calls, {} succeeded) in {:.1} s: {} per second; \
         {kicks} calls interrupted by the watchdog{}; {pauses} pauses for long calls",
        totals[0],
        elapsed_ms as f64 / 1000.0,
        done * 1000 / elapsed_ms,
        if by_op.is_empty() { String::new() } else { format!(" ({})", by_op.join(", ")) }
    );
    let mut errs: Vec<(usize, u64)> = (1..NERRNO).map(|e| (e, totals[e])).filter(|&(_, n)| n > 0).collect();
    errs.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let list: Vec<String> = errs.iter().map(|&(e, n)| format!("{}:{n}", errno_label(e))).collect();
    println!("# ops={done} errnos={}", list.join(","));
}

fn errno_label(col: usize) -> String {
    if col == NERRNO - 1 {
        "E>133".to_string()
    } else {
        shared::errno_name(col)
    }
}
