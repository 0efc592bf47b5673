//! Benchmarks of mcast_unix, run inside the VM (tests/vm/bench.sh).
//!
//! Timing under QEMU TCG is emulated, so only ratios between variants
//! measured in the same run mean anything. Two parts:
//!
//! - the comparison (`compare`): mcast_unix (its receivers calling recv,
//!   or reading a mapped receive ring: mcast_ring) against an AF_UNIX send
//!   loop, AF_UNIX sendmmsg, a relay daemon and UDP multicast on loopback,
//!   for N receivers and several payload sizes; it ends with the records as
//!   JSON, which scripts/bench turns into bench/results/;
//! - the ratios (`ratios`): unicast against AF_UNIX, a group send against
//!   a unicast loop, filters; each benchmark prints both variants and their
//!   ratio, and the part ends with a summary of lines `bench: NAME
//!   ratio=X.XX` for scripts.
//!
//! Usage: mcast-bench [--quick] [--only compare|ratios] [--receivers N,N..]
//!                    [--sizes B,B..] [--budget-ms MS] [--reps N]
//!                    [--target-ms MS] [--family AF]
//!   --quick        everything, short (a smoke run)
//!   --only PART    one part only
//!   --receivers, --sizes, --budget-ms
//!                  the comparison's receiver counts, payload sizes and
//!                  throughput time per measurement (default: 1,4,16,64,
//!                  256,1024; 64,1024,16384; 300)
//!   --reps N       ratios: repetitions per variant, the median is reported
//!                  (default 5)
//!   --target-ms    ratios: wall time of one repetition of one variant
//!                  (default 400)
//!   --family AF    the family to measure (default: the loaded module's);
//!                  with AF_UNIX (1) the comparison leaves mcast_unix and
//!                  mcast_ring out and only the unicast ratios run,
//!                  AF_UNIX against itself, to try the benchmark without
//!                  the module

mod compare;
mod groups;
mod measure;
mod unicast;

use mcast_unix::{Addr, Socket};
use measure::{Config, Ratio};
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// An `InvalidData` error saying `what`.
pub fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// A fresh abstract address: the same name rules for both families.
pub fn addr(what: &str) -> io::Result<Addr> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Addr::abstract_(format!("mcast-bench-{}-{n}-{what}", std::process::id()))
}

/// `SO_RCVTIMEO` (not in the client library).
pub fn set_rcvtimeo(s: &Socket, d: Duration) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let tv = libc::timeval { tv_sec: d.as_secs() as _, tv_usec: d.subsec_micros() as _ };
    // SAFETY: `tv` is a valid timeval for the length given.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "mcast-bench: {msg}\nusage: mcast-bench [--quick] [--only compare|ratios] [--receivers N,N..] [--sizes B,B..]\n                   [--budget-ms MS] [--reps N] [--target-ms MS] [--family AF]"
    );
    std::process::exit(2);
}

fn number<T: std::str::FromStr>(opt: &str, v: Option<String>) -> T {
    v.and_then(|v| v.parse().ok()).unwrap_or_else(|| usage(&format!("{opt} takes a number")))
}

fn list(opt: &str, v: Option<String>) -> Vec<usize> {
    let v = v.unwrap_or_default();
    let l: Option<Vec<usize>> = v.split(',').map(|x| x.parse().ok().filter(|&x| x > 0)).collect();
    l.filter(|l| !l.is_empty()).unwrap_or_else(|| usage(&format!("{opt} takes numbers separated by commas")))
}

fn main() {
    let mut cfg = Config { reps: 5, target: Duration::from_millis(400) };
    let mut plan = compare::Plan::full();
    let (mut receivers, mut sizes, mut budget) = (None, None, None);
    let (mut do_compare, mut do_ratios) = (true, true);
    let mut family = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => {
                cfg = Config { reps: 1, target: Duration::from_millis(10) };
                plan = compare::Plan::quick();
            }
            "--only" => match args.next().as_deref() {
                Some("compare") => do_ratios = false,
                Some("ratios") => do_compare = false,
                _ => usage("--only takes compare or ratios"),
            },
            "--receivers" => receivers = Some(list("--receivers", args.next())),
            "--sizes" => sizes = Some(list("--sizes", args.next())),
            "--budget-ms" => budget = Some(Duration::from_millis(number("--budget-ms", args.next()))),
            "--reps" => cfg.reps = number::<usize>("--reps", args.next()).max(1),
            "--target-ms" => cfg.target = Duration::from_millis(number("--target-ms", args.next())),
            "--family" => family = Some(number::<i32>("--family", args.next())),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    if let Some(r) = receivers {
        plan.receivers = r;
    }
    if let Some(s) = sizes {
        if s.iter().any(|&s| s < 64) {
            usage("--sizes: at least 64 bytes");
        }
        plan.sizes = s;
    }
    if let Some(b) = budget {
        plan.budget = b;
    }
    let family = match family.map_or_else(mcast_unix::family, Ok) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mcast-bench: {}: {e} (is the module loaded?)", mcast_unix::FAMILY_PARAM);
            std::process::exit(1);
        }
    };
    // Room for the groups' sockets: the comparison holds six systems of up
    // to 1024 receivers open at once (a ring holds a second descriptor of
    // its socket).
    let lim = libc::rlimit { rlim_cur: 16384, rlim_max: 16384 };
    // SAFETY: plain system call with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };

    let t0 = Instant::now();
    println!("mcast-bench: family {family}");
    if do_compare {
        if let Err(e) = compare::run(&plan, family) {
            eprintln!("mcast-bench: comparison: {e}");
            std::process::exit(1);
        }
        println!("mcast-bench: comparison done at {:.0} s", t0.elapsed().as_secs_f64());
    }
    if do_ratios {
        println!("\n== ratios: {} repetitions of ~{} ms per variant, medians", cfg.reps, cfg.target.as_millis());
        let mut out = Vec::new();
        if let Err(e) = run(&cfg, family, &mut out) {
            eprintln!("mcast-bench: {e}");
            std::process::exit(1);
        }
        summary(&out);
    }
    println!("mcast-bench: {:.0} s", t0.elapsed().as_secs_f64());
}

fn run(cfg: &Config, family: i32, out: &mut Vec<Ratio>) -> io::Result<()> {
    unicast::run(cfg, family, out)?;
    if family == libc::AF_UNIX {
        println!("\n(AF_UNIX has no groups: fan-out and filters skipped)");
        return Ok(());
    }
    groups::fanout(cfg, family, out)?;
    groups::filters(cfg, family, out)
}

fn summary(out: &[Ratio]) {
    println!("\n== summary: time ratios (unicast: ours/AF_UNIX; fan-out: group/unicast loop;");
    println!("   filter: filtered/unfiltered, filter-unicast-reject: rejected/delivered);");
    println!("   spread = (max-min)/median of the repetitions (ours/reference)");
    for r in out {
        println!(
            "bench: {} ratio={:.2} spread={:.0}%/{:.0}%",
            r.name,
            r.ratio,
            r.spread.0 * 100.0,
            r.spread.1 * 100.0
        );
    }
}
