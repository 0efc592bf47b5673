//! The comparison: mcast_unix against the other ways of delivering one
//! message to N local receivers (see [`systems`]), for every N, payload
//! size and receive call, side by side in one run. Each measurement is a
//! throughput phase and a latency phase ([`run`](mod@run)); the records
//! are printed as they come and, at the end, as a JSON array between the
//! lines [`JSON_BEGIN`] and [`JSON_END`] for the host (scripts/bench).

mod run;
mod sys;
mod systems;

use bench_support::report::{json_block, json_number, us};
use run::{Measured, Receivers};
use std::io;
use std::time::{Duration, Instant};
use systems::{Setup, SYSTEMS};

pub const JSON_BEGIN: &str = "mcast-bench: results json begin";
pub const JSON_END: &str = "mcast-bench: results json end";

/// What to measure and for how long.
pub struct Plan {
    pub receivers: Vec<usize>,
    pub sizes: Vec<usize>,
    /// Sending time of one throughput phase (then the receivers drain)...
    pub budget: Duration,
    /// ...unless the messages sent reach this many deliveries first (so
    /// that large N do not take forever to drain; at least 8 messages).
    pub max_deliveries: u64,
    /// Wall time of one latency phase...
    pub lat_budget: Duration,
    /// ...unless it takes longer to get this many samples.
    pub min_lat: usize,
    /// Throughput phases per measurement (the systems take turns; the
    /// median is reported).
    pub reps: usize,
}

impl Plan {
    pub fn full() -> Plan {
        Plan {
            receivers: vec![1, 4, 16, 64, 256, 1024],
            sizes: vec![64, 1024, 16384],
            budget: Duration::from_millis(300),
            max_deliveries: 12288,
            lat_budget: Duration::from_millis(500),
            min_lat: 15,
            reps: 3,
        }
    }

    pub fn quick() -> Plan {
        Plan {
            receivers: vec![1, 64],
            sizes: vec![64, 16384],
            budget: Duration::from_millis(100),
            max_deliveries: 4096,
            lat_budget: Duration::from_millis(50),
            min_lat: 5,
            reps: 1,
        }
    }
}

struct Record {
    system: &'static str,
    receivers: usize,
    size: usize,
    recv_mode: &'static str,
    m: Measured,
}

impl Record {
    fn json(&self) -> String {
        let m = &self.m;
        format!(
            concat!(
                "{{\"system\": \"{}\", \"receivers\": {}, \"size\": {}, \"recv_mode\": \"{}\", ",
                "\"delivered_per_s\": {}, \"sender_cpu_ns_per_msg\": {}, \"p50_ns\": {}, \"p99_ns\": {}, ",
                "\"total_cpu_ns_per_msg\": {}, \"relay_cpu_ns_per_msg\": {}, \"sent\": {}, \"delivered\": {}, ",
                "\"lost\": {}, \"bad\": {}, \"timeouts\": {}, \"seconds\": {:.3}, \"latency_samples\": {}, ",
                "\"latency_lost\": {}, \"reps\": {}, \"delivered_per_s_spread\": {:.3}}}"
            ),
            self.system,
            self.receivers,
            self.size,
            self.recv_mode,
            json_number(m.delivered_per_s),
            json_number(m.sender_cpu_ns_per_msg),
            json_number(m.p50_ns),
            json_number(m.p99_ns),
            json_number(m.total_cpu_ns_per_msg),
            m.relay_cpu_ns_per_msg.map_or("null".into(), json_number),
            m.sent,
            m.delivered,
            m.lost,
            m.bad,
            m.timeouts,
            m.seconds,
            m.lat_samples,
            m.lat_lost,
            m.reps,
            m.spread
        )
    }
}

/// Runs `plan` with the module's `family`; prints a line per measurement
/// and the JSON at the end.
pub fn run(plan: &Plan, family: i32) -> io::Result<()> {
    println!(
        "\n== comparison: {} receivers x {} B payloads x recv/recvmmsg; throughput: median of {}, each {} ms or {} deliveries; latency: {} ms (>= {} samples)",
        plan.receivers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("/"),
        plan.sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("/"),
        plan.reps,
        plan.budget.as_millis(),
        plan.max_deliveries,
        plan.lat_budget.as_millis(),
        plan.min_lat
    );
    println!(
        "{:<14} {:>5} {:>6} {:>8} {:>12} {:>7} {:>11} {:>10} {:>10} {:>8} {:>7}",
        "system", "N", "size", "recv", "delivered/s", "spread", "send_cpu_us", "p50_us", "p99_us", "lost", "secs"
    );
    let mut records = Vec::new();
    for &n in &plan.receivers {
        let t0 = Instant::now();
        // Every system's receivers at once, so that the systems take turns
        // measurement by measurement (a slow spell of the host is shared).
        let mut all = Vec::new();
        // With AF_UNIX as "the module's family" (no module loaded), the
        // others only.
        for kind in SYSTEMS.into_iter().filter(|&k| family != libc::AF_UNIX || k != systems::Kind::McastUnix) {
            let s = Setup::new(kind, n, family).map_err(|e| with(e, &format!("{} with {n} receivers", kind.name())))?;
            let r = Receivers::start(&s)?;
            all.push((r, s));
        }
        // A short throughput phase each, not reported: the first sends of
        // a new set of sockets (and of the boot) fill caches and slabs.
        for (r, s) in &all {
            r.throughput(s, plan.sizes[0], false, plan.budget / 4, (plan.max_deliveries / 4 / n as u64).max(4))?;
        }
        println!("(N = {n}: set up and warmed up in {:.1} s)", t0.elapsed().as_secs_f64());
        for &size in &plan.sizes {
            for mmsg in [false, true] {
                let max_msgs = (plan.max_deliveries / n as u64).max(8);
                let mut tput: Vec<Vec<Measured>> = vec![Vec::new(); all.len()];
                for rep in 0..plan.reps {
                    // Each repetition starts with another system.
                    for k in 0..all.len() {
                        let j = (k + rep) % all.len();
                        let (r, s) = &all[j];
                        let m = r
                            .throughput(s, size, mmsg, plan.budget, max_msgs)
                            .map_err(|e| with(e, &format!("{} N={n} size={size}", s.kind.name())))?;
                        tput[j].push(m);
                    }
                }
                for ((r, s), t) in all.iter().zip(&tput) {
                    let mut m = Measured::combine(t);
                    r.latency(s, size, mmsg, plan.lat_budget, plan.min_lat, &mut m)
                        .map_err(|e| with(e, &format!("{} N={n} size={size} (latency)", s.kind.name())))?;
                    let rec = Record {
                        system: s.kind.name(),
                        receivers: n,
                        size,
                        recv_mode: if mmsg { "recvmmsg" } else { "recv" },
                        m,
                    };
                    let m = &rec.m;
                    println!(
                        "{:<14} {:>5} {:>6} {:>8} {:>12.0} {:>6.0}% {:>11} {:>10} {:>10} {:>8} {:>7.2}{}",
                        rec.system,
                        n,
                        size,
                        rec.recv_mode,
                        m.delivered_per_s,
                        m.spread * 100.0,
                        us(m.sender_cpu_ns_per_msg),
                        us(m.p50_ns),
                        us(m.p99_ns),
                        m.lost,
                        m.seconds,
                        if m.bad + m.timeouts + m.lat_lost > 0 {
                            format!("  (bad {}, timeouts {}, latency lost {})", m.bad, m.timeouts, m.lat_lost)
                        } else {
                            String::new()
                        }
                    );
                    records.push(rec);
                }
            }
        }
        let t1 = Instant::now();
        drop(all);
        println!("(N = {n}: {:.1} s in all, {:.1} s to tear down)", t0.elapsed().as_secs_f64(), t1.elapsed().as_secs_f64());
    }
    let body: Vec<String> = records.iter().map(Record::json).collect();
    println!("{}", json_block(JSON_BEGIN, JSON_END, &body));
    Ok(())
}

fn with(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}
