//! The D-Bus benchmark, run inside the VM after the comparison
//! (tests/vm/bench.sh): the same zbus-marshalled traffic through each bus
//! in one boot — signals of each body size to N subscribers with match
//! rules, and method-call round trips — with delivered messages/s,
//! latency p50/p99 and CPU per message (publisher, subscribers and daemon).
//! The systems take turns phase by phase, so that a slow spell of the host
//! is shared. It ends with the records as JSON between [`JSON_BEGIN`] and
//! [`JSON_END`] for the host (scripts/bench-report).
//!
//! Usage: mcast-dbus-bench [--quick] [--systems NAME,NAME..] [--receivers N,N..]
//!                         [--sizes B,B..] [--budget-ms MS] [--reps N]
//!                         [--dbus-daemon PATH] [--dbus-broker PATH] [--mcastctl PATH]
//!   --systems     which buses (default: mcast-bus,dbus-daemon,dbus-broker;
//!                 mcast-bus, the project's bus, needs the module loaded)
//!   --receivers   subscriber counts (default 1,16,64)
//!   --sizes       body sizes in bytes, at least 28 (default 64,1024)
//!   --budget-ms   time of one throughput phase (default 400)
//!   --reps        throughput phases per measurement, the median is
//!                 reported (default 3)
//!   --dbus-daemon, --dbus-broker
//!                 the daemons' programs (default: found in PATH)
//!   --mcastctl    the program whose `bus` subcommand is the project's bus
//!                 daemon (default: found in PATH)

mod daemon;
mod dbus;
mod dbus_broker;
mod dbus_daemon;
mod mcast_bus;
mod system;
mod workload;

use bench_support::report::{json_block, json_number, us};
use bench_support::stats::percentile;
use dbus::DbusSystem;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::{Calls, Fanout, Measure, Measured, Rpc, Runtimes};

/// The line before the JSON records.
pub const JSON_BEGIN: &str = "mcast-dbus-bench: results json begin";
/// The line after them.
pub const JSON_END: &str = "mcast-dbus-bench: results json end";

/// The buses this program knows.
const SYSTEM_NAMES: [&str; 3] = ["mcast-bus", "dbus-daemon", "dbus-broker"];

/// What to measure and for how long.
struct Plan {
    systems: Vec<String>,
    receivers: Vec<usize>,
    sizes: Vec<usize>,
    budget: Duration,
    /// Time of each phase of the first pass ([`warm_up`]).
    warm_up: Duration,
    /// Deliveries at which a throughput phase stops sending early.
    max_deliveries: u64,
    lat_budget: Duration,
    min_lat: usize,
    reps: usize,
    dbus_daemon: Option<String>,
    dbus_broker: Option<String>,
    mcastctl: Option<String>,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            systems: SYSTEM_NAMES.iter().map(|s| s.to_string()).collect(),
            receivers: vec![1, 16, 64],
            sizes: vec![64, 1024],
            budget: Duration::from_millis(400),
            warm_up: Duration::from_millis(600),
            max_deliveries: 40000,
            lat_budget: Duration::from_millis(300),
            min_lat: 20,
            reps: 3,
            dbus_daemon: None,
            dbus_broker: None,
            mcastctl: None,
        }
    }

    fn quick(self) -> Plan {
        Plan {
            receivers: vec![1, 16],
            sizes: vec![64],
            budget: Duration::from_millis(100),
            warm_up: Duration::from_millis(200),
            max_deliveries: 4000,
            lat_budget: Duration::from_millis(50),
            min_lat: 5,
            reps: 1,
            ..self
        }
    }
}

/// A started bus.
enum Bus {
    Dbus(Arc<DbusSystem>),
    Mcast(Arc<mcast_bus::McastBus>),
}

impl Bus {
    fn fanout(&self, rt: &Runtimes, n: usize) -> io::Result<Box<dyn Measure>> {
        match self {
            Bus::Dbus(s) => Ok(Box::new(Fanout::new(rt, s.clone(), n)?)),
            Bus::Mcast(s) => Ok(Box::new(Fanout::new(rt, s.clone(), n)?)),
        }
    }

    fn rpc(&self, rt: &Runtimes) -> io::Result<Box<dyn Calls>> {
        match self {
            Bus::Dbus(s) => Ok(Box::new(Rpc::new(rt, s.clone())?)),
            Bus::Mcast(s) => Ok(Box::new(Rpc::new(rt, s.clone())?)),
        }
    }
}

/// What keeps the started daemons running (dropped: they are stopped).
enum Running {
    Daemon(daemon::Daemon),
    Broker(dbus_broker::Broker),
}

impl Running {
    /// An error if the daemon has exited.
    fn check_alive(&mut self) -> io::Result<()> {
        match self {
            Running::Daemon(d) => d.check_alive(),
            Running::Broker(b) => b.daemon.check_alive(),
        }
    }
}

/// `name` in PATH, or `name` itself.
fn in_path(name: &str) -> String {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()))
        .map_or_else(|| name.to_string(), |f| f.display().to_string())
}

fn start(plan: &Plan, rt: &Runtimes, dir: &std::path::Path) -> io::Result<(Vec<Bus>, Vec<Running>)> {
    let (mut buses, mut running) = (Vec::new(), Vec::new());
    for name in &plan.systems {
        match name.as_str() {
            "mcast-bus" => {
                let bin = plan.mcastctl.clone().unwrap_or_else(|| in_path("mcastctl"));
                let family = mcast_unix::family().map_err(|e| with(e, "mcast-bus: the module's family"))?;
                let (d, bus) = mcast_bus::start(&bin, family)?;
                buses.push(Bus::Mcast(Arc::new(bus)));
                running.push(Running::Daemon(d));
            }
            "dbus-daemon" => {
                let bin = plan.dbus_daemon.clone().unwrap_or_else(|| in_path("dbus-daemon"));
                let d = dbus_daemon::start(&bin, dir)?;
                buses.push(Bus::Dbus(Arc::new(DbusSystem::new("dbus_daemon", d.address.clone(), vec![d.pid()]))));
                running.push(Running::Daemon(d));
            }
            "dbus-broker" => {
                let bin = plan.dbus_broker.clone().unwrap_or_else(|| in_path("dbus-broker"));
                let b = rt.subscribers.block_on(dbus_broker::start(&bin, dir))?;
                buses.push(Bus::Dbus(Arc::new(DbusSystem::new("dbus_broker", b.daemon.address.clone(), vec![b.daemon.pid()]))));
                running.push(Running::Broker(b));
            }
            other => return Err(io::Error::other(format!("unknown system {other}"))),
        }
    }
    Ok((buses, running))
}

/// One result line and JSON record.
struct Record {
    system: &'static str,
    test: &'static str,
    receivers: usize,
    size: usize,
    m: Measured,
}

impl Record {
    fn json(&self) -> String {
        let m = &self.m;
        format!(
            concat!(
                "{{\"bench\": \"dbus\", \"test\": \"{}\", \"system\": \"{}\", \"receivers\": {}, \"size\": {}, ",
                "\"delivered_per_s\": {}, \"sender_cpu_ns_per_msg\": {}, \"p50_ns\": {}, \"p99_ns\": {}, ",
                "\"total_cpu_ns_per_msg\": {}, \"daemon_cpu_ns_per_msg\": {}, \"sent\": {}, \"delivered\": {}, ",
                "\"lost\": {}, \"bad\": {}, \"leaked\": {}, \"seconds\": {:.3}, \"latency_samples\": {}, ",
                "\"reps\": {}, \"delivered_per_s_spread\": {:.3}}}"
            ),
            self.test,
            self.system,
            self.receivers,
            self.size,
            json_number(m.per_s),
            json_number(m.sender_cpu_ns),
            json_number(m.p50_ns),
            json_number(m.p99_ns),
            json_number(m.total_cpu_ns),
            json_number(m.daemon_cpu_ns),
            m.sent,
            m.delivered,
            m.lost,
            m.bad,
            m.leaked,
            m.seconds,
            m.lat_samples,
            m.reps,
            m.spread
        )
    }

    fn print(&self) {
        let m = &self.m;
        println!(
            "{:<12} {:<6} {:>4} {:>6} {:>10.0} {:>5.0}% {:>9} {:>9} {:>9} {:>9} {:>9} {:>5}{}",
            self.system,
            self.test,
            self.receivers,
            self.size,
            m.per_s,
            m.spread * 100.0,
            us(m.sender_cpu_ns),
            us(m.total_cpu_ns),
            us(m.daemon_cpu_ns),
            us(m.p50_ns),
            us(m.p99_ns),
            m.lost,
            if m.bad + m.leaked > 0 { format!("  (bad {}, leaked {})", m.bad, m.leaked) } else { String::new() }
        );
    }
}

fn with(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A first pass over every system, not reported: under emulation (QEMU
/// TCG) the first runs of a program's code paths pay for translating them,
/// and the first measurements of a boot came out many times slower.
fn warm_up(plan: &Plan, rt: &Runtimes, buses: &[Bus]) -> io::Result<()> {
    let t0 = Instant::now();
    for b in buses {
        let mut f = b.fanout(rt, 4)?;
        for &size in &plan.sizes {
            f.throughput(rt, size, plan.warm_up, plan.max_deliveries).map_err(|e| with(e, "warm-up"))?;
            let mut m = Measured::default();
            f.latency(rt, size, plan.lat_budget, plan.min_lat, &mut m).map_err(|e| with(e, "warm-up"))?;
        }
        drop(f);
        let mut c = b.rpc(rt)?;
        for &size in &plan.sizes {
            c.calls(rt, size, plan.warm_up, plan.max_deliveries).map_err(|e| with(e, "warm-up"))?;
        }
    }
    println!("(warmed up in {:.1} s)", t0.elapsed().as_secs_f64());
    Ok(())
}

fn signals(plan: &Plan, rt: &Runtimes, buses: &[Bus], out: &mut Vec<Record>) -> io::Result<()> {
    for &n in &plan.receivers {
        let t0 = Instant::now();
        let mut all = Vec::new();
        for b in buses {
            all.push(b.fanout(rt, n)?);
        }
        let max_msgs = (plan.max_deliveries / n as u64).max(8);
        for f in all.iter_mut() {
            f.throughput(rt, plan.sizes[0], plan.budget / 4, max_msgs / 4).map_err(|e| with(e, "warm-up"))?;
        }
        println!("(N = {n}: connected, subscribed and warmed up in {:.1} s)", t0.elapsed().as_secs_f64());
        for &size in &plan.sizes {
            let mut tput: Vec<Vec<Measured>> = vec![Vec::new(); all.len()];
            for rep in 0..plan.reps {
                for k in 0..all.len() {
                    let j = (k + rep) % all.len();
                    let f = &mut all[j];
                    let m = f.throughput(rt, size, plan.budget, max_msgs).map_err(|e| with(e, &format!("size {size}")))?;
                    tput[j].push(m);
                }
            }
            for (f, t) in all.iter_mut().zip(&tput) {
                let mut m = Measured::combine(t);
                f.latency(rt, size, plan.lat_budget, plan.min_lat, &mut m).map_err(|e| with(e, &format!("size {size}")))?;
                let r = Record { system: f.name(), test: "signal", receivers: n, size, m };
                r.print();
                out.push(r);
            }
        }
        drop(all);
        println!("(N = {n}: {:.1} s in all)", t0.elapsed().as_secs_f64());
    }
    Ok(())
}

fn calls(plan: &Plan, rt: &Runtimes, buses: &[Bus], out: &mut Vec<Record>) -> io::Result<()> {
    let t0 = Instant::now();
    let mut all = Vec::new();
    for b in buses {
        all.push(b.rpc(rt)?);
    }
    let max_calls = plan.max_deliveries;
    for c in all.iter_mut() {
        c.calls(rt, plan.sizes[0], plan.budget / 4, max_calls / 4).map_err(|e| with(e, "calls warm-up"))?;
    }
    for &size in &plan.sizes {
        let mut ms: Vec<Vec<Measured>> = vec![Vec::new(); all.len()];
        let mut rtts: Vec<Vec<u64>> = vec![Vec::new(); all.len()];
        for rep in 0..plan.reps {
            for k in 0..all.len() {
                let j = (k + rep) % all.len();
                let (m, r) = all[j].calls(rt, size, plan.budget, max_calls).map_err(|e| with(e, &format!("calls size {size}")))?;
                ms[j].push(m);
                rtts[j].extend(r);
            }
        }
        for ((c, m), r) in all.iter().zip(&ms).zip(rtts.iter_mut()) {
            let mut m = Measured::combine(m);
            r.sort_unstable();
            m.lat_samples = r.len();
            m.p50_ns = percentile(r, 0.50);
            m.p99_ns = percentile(r, 0.99);
            let rec = Record { system: c.name(), test: "call", receivers: 1, size, m };
            rec.print();
            out.push(rec);
        }
    }
    println!("(method calls: {:.1} s in all)", t0.elapsed().as_secs_f64());
    Ok(())
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "mcast-dbus-bench: {msg}\nusage: mcast-dbus-bench [--quick] [--systems NAME,NAME..] [--receivers N,N..] [--sizes B,B..]\n                        [--budget-ms MS] [--reps N] [--dbus-daemon PATH] [--dbus-broker PATH]\n                        [--mcastctl PATH]"
    );
    std::process::exit(2);
}

fn list(opt: &str, v: Option<String>) -> Vec<usize> {
    let v = v.unwrap_or_default();
    let l: Option<Vec<usize>> = v.split(',').map(|x| x.parse().ok().filter(|&x| x > 0)).collect();
    l.filter(|l| !l.is_empty()).unwrap_or_else(|| usage(&format!("{opt} takes numbers separated by commas")))
}

fn parse() -> Plan {
    let mut plan = Plan::full();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => plan = plan.quick(),
            "--systems" => {
                let v = args.next().unwrap_or_default();
                plan.systems = v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
                if plan.systems.is_empty() || plan.systems.iter().any(|s| !SYSTEM_NAMES.contains(&s.as_str())) {
                    usage(&format!("--systems takes some of {}", SYSTEM_NAMES.join(",")));
                }
            }
            "--receivers" => plan.receivers = list("--receivers", args.next()),
            "--sizes" => {
                plan.sizes = list("--sizes", args.next());
                if plan.sizes.iter().any(|&s| s < system::BODY_FIXED) {
                    usage(&format!("--sizes: at least {} bytes", system::BODY_FIXED));
                }
            }
            "--budget-ms" => {
                plan.budget = Duration::from_millis(list("--budget-ms", args.next())[0] as u64);
            }
            "--reps" => plan.reps = list("--reps", args.next())[0],
            "--dbus-daemon" => plan.dbus_daemon = Some(args.next().unwrap_or_else(|| usage("--dbus-daemon takes a path"))),
            "--dbus-broker" => plan.dbus_broker = Some(args.next().unwrap_or_else(|| usage("--dbus-broker takes a path"))),
            "--mcastctl" => plan.mcastctl = Some(args.next().unwrap_or_else(|| usage("--mcastctl takes a path"))),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    plan
}

fn run(plan: &Plan) -> io::Result<Vec<Record>> {
    let rt = Runtimes::new(2)?;
    let dir = std::env::temp_dir().join(format!("mcast-dbus-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (buses, mut running) = start(plan, &rt, &dir).map_err(|e| with(e, "starting the daemons"))?;
    println!(
        "\n== D-Bus: {} subscribers (+{} quiet) x {} B bodies, and method calls; throughput: median of {}, each {} ms or {} deliveries (at most {} signals in flight); latency: {} ms (>= {} samples)",
        plan.receivers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("/"),
        workload::QUIET,
        plan.sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("/"),
        plan.reps,
        plan.budget.as_millis(),
        plan.max_deliveries,
        workload::WINDOW,
        plan.lat_budget.as_millis(),
        plan.min_lat
    );
    println!(
        "{:<12} {:<6} {:>4} {:>6} {:>10} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5}",
        "system", "test", "N", "size", "msgs/s", "spread", "send_cpu", "total_cpu", "daem_cpu", "p50_us", "p99_us", "lost"
    );
    println!("(CPU in us per message sent; msgs/s: deliveries summed over subscribers, or round trips)");
    let mut out = Vec::new();
    let mut res = warm_up(plan, &rt, &buses)
        .and_then(|()| signals(plan, &rt, &buses, &mut out)).and_then(|()| calls(plan, &rt, &buses, &mut out));
    drop(buses);
    for r in running.iter_mut() {
        res = res.and_then(|()| r.check_alive());
    }
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
    res.map(|()| out)
}

fn main() {
    let plan = parse();
    let lim = libc::rlimit { rlim_cur: 8192, rlim_max: 8192 };
    // SAFETY: plain system call with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    let t0 = Instant::now();
    match run(&plan) {
        Ok(records) => {
            let lossy = records.iter().filter(|r| r.m.lost + r.m.bad + r.m.leaked > 0).count();
            let body: Vec<String> = records.iter().map(Record::json).collect();
            println!("{}", json_block(JSON_BEGIN, JSON_END, &body));
            println!("mcast-dbus-bench: {:.0} s", t0.elapsed().as_secs_f64());
            // As the comparison does: the records say it (and
            // scripts/bench-report counts them), the run goes on.
            if lossy > 0 {
                println!("mcast-dbus-bench: WARNING: {lossy} measurements lost, duplicated or misdelivered messages");
            }
        }
        Err(e) => {
            eprintln!("mcast-dbus-bench: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short run through each D-Bus daemon installed on this machine
    /// (skipped for one that is not): every signal reaches every
    /// subscriber once, none reaches a quiet one, calls come back with
    /// their body.
    #[test]
    fn daemons_deliver_everything_to_the_matching_subscribers_only() {
        let found: Vec<String> = ["dbus-daemon", "dbus-broker"]
            .into_iter()
            .filter(|n| std::path::Path::new(&in_path(n)).is_file())
            .map(str::to_string)
            .collect();
        if found.is_empty() {
            eprintln!("no dbus-daemon or dbus-broker here: skipped");
            return;
        }
        let plan = Plan { systems: found.clone(), ..Plan::full().quick() };
        let rt = Runtimes::new(2).unwrap();
        let dir = std::env::temp_dir().join(format!("mcast-dbus-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (buses, mut running) = start(&plan, &rt, &dir).unwrap();
        assert_eq!(buses.len(), found.len());
        for b in &buses {
            let mut f = b.fanout(&rt, 3).unwrap();
            let m = f.throughput(&rt, 64, Duration::from_millis(50), 200).unwrap();
            assert!(m.sent > 0);
            assert_eq!(m.delivered, 3 * m.sent, "{}", f.name());
            assert_eq!((m.lost, m.bad, m.leaked), (0, 0, 0), "{}", f.name());
            let mut m = Measured::default();
            f.latency(&rt, 1024, Duration::from_millis(500), 3, &mut m).unwrap();
            assert!(m.lat_samples >= 3 && m.p50_ns > 0.0 && m.p99_ns >= m.p50_ns);
            assert_eq!((m.lost, m.bad, m.leaked), (0, 0, 0), "{}", f.name());
            let mut c = b.rpc(&rt).unwrap();
            let (m, rtts) = c.calls(&rt, 1024, Duration::from_millis(20), 50).unwrap();
            assert!(m.sent > 0 && rtts.len() as u64 == m.sent);
            assert_eq!(m.bad, 0);
        }
        drop(buses);
        for r in running.iter_mut() {
            r.check_alive().unwrap();
        }
        drop(running);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
