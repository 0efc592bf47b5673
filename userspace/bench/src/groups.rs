//! Groups: fan-out against a loop of unicast sends, and filtered delivery.
//!
//! The sender's calls are timed (for filters, also the receivers' reads).
//! The sender is non-blocking and every round sends [`BATCH`] messages, few
//! enough to fit in every member's default receive buffer; the members are
//! drained after each round and must have received exactly what was
//! expected. So the sender never waits: a full member would show up as
//! `EAGAIN` and stop the run.

use crate::measure::{compare, compare_k, fmt_ns, Config, Ratio};
use crate::{addr, invalid};
use bench_support::stats::median;
use mcast_unix::{topic_hash, Addr, ByteOrder, FilterBuilder, Program, Socket};
use std::io;
use std::time::{Duration, Instant};

/// Messages per round, per member.
const BATCH: usize = 32;
/// Message size.
const SIZE: usize = 64;
/// Group sizes of the fan-out comparison.
const FANOUT: [usize; 5] = [1, 4, 16, 64, 256];
/// Members of the filter comparison.
const FILTERED: usize = 256;
/// The topic every message carries.
const HIT: &str = "bench.hit";
/// The topic the rejecting members ask for.
const MISS: &str = "bench.miss";

/// A datagram group with bound, non-blocking members.
struct Group {
    _owner: Socket,
    addr: Addr,
    members: Vec<Socket>,
    /// The members' own addresses, for the unicast loop.
    names: Vec<Addr>,
}

impl Group {
    /// `n` members; member i gets `filter(i)` if any.
    fn new(family: i32, n: usize, filter: impl Fn(usize) -> Option<Program>) -> io::Result<Group> {
        let owner = Socket::dgram_in(family)?;
        let addr = addr("group")?;
        owner.create_group(&addr)?;
        let (mut members, mut names) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let m = Socket::dgram_in(family)?;
            let name = addr_member(i)?;
            m.bind(&name)?;
            if let Some(prog) = filter(i) {
                m.attach_filter(&prog)?;
            }
            m.join_group(&addr, 0)?;
            m.set_nonblocking(true)?;
            members.push(m);
            names.push(name);
        }
        Ok(Group { _owner: owner, addr, members, names })
    }

    /// Reads every member's queue empty; member i must have had `want(i)`
    /// messages. Returns the time spent reading the members that were to
    /// receive something (a real receiver that gets nothing is not woken,
    /// so checking the others is not counted).
    fn drain(&self, want: impl Fn(usize) -> usize) -> io::Result<Duration> {
        let mut buf = [0u8; SIZE + 1];
        let mut t = Duration::ZERO;
        for (i, m) in self.members.iter().enumerate() {
            let mut got = 0;
            let t0 = Instant::now();
            loop {
                match m.recv(&mut buf) {
                    Ok(_) => got += 1,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if want(i) > 0 {
                t += t0.elapsed();
            }
            if got != want(i) {
                return Err(invalid(&format!("member {i} received {got} messages, expected {}", want(i))));
            }
        }
        Ok(t)
    }
}

fn addr_member(i: usize) -> io::Result<Addr> {
    addr(&format!("member-{i}"))
}

/// A non-blocking, unbound sender.
fn sender(family: i32) -> io::Result<Socket> {
    let s = Socket::dgram_in(family)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// A message whose first word is the topic hash of [`HIT`] (native order).
fn message() -> Vec<u8> {
    let mut msg = vec![0u8; SIZE];
    msg[..4].copy_from_slice(&topic_hash(HIT).to_ne_bytes());
    msg
}

fn send_all(s: &Socket, msg: &[u8], to: &Addr) -> io::Result<()> {
    let k = s.send_to(msg, to)?;
    if k == msg.len() {
        Ok(())
    } else {
        Err(invalid("short send"))
    }
}

/// `rounds` rounds of [`BATCH`] group sends: the sends' time, and the
/// sends' plus the receivers' reads.
fn group_rounds(s: &Socket, g: &Group, rounds: u64, want: impl Fn(usize) -> usize) -> io::Result<[Duration; 2]> {
    let msg = message();
    let (mut send, mut recv) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let t0 = Instant::now();
        for _ in 0..BATCH {
            send_all(s, &msg, &g.addr)?;
        }
        send += t0.elapsed();
        recv += g.drain(&want)?;
    }
    Ok([send, send + recv])
}

/// `rounds` rounds of [`BATCH`] messages, each sent to every member by
/// address; the sends' time.
fn unicast_rounds(s: &Socket, g: &Group, rounds: u64) -> io::Result<Duration> {
    let msg = message();
    let mut t = Duration::ZERO;
    for _ in 0..rounds {
        let t0 = Instant::now();
        for _ in 0..BATCH {
            for name in &g.names {
                send_all(s, &msg, name)?;
            }
        }
        t += t0.elapsed();
        g.drain(|_| BATCH)?;
    }
    Ok(t)
}

/// One group send to N members against N unicast sends to the same sockets.
pub fn fanout(cfg: &Config, ours: i32, out: &mut Vec<Ratio>) -> io::Result<()> {
    println!("\n== fan-out: one group sendto to N members vs N unicast sendto ({SIZE} B, cost per message per member)");
    let s = sender(ours)?;
    for n in FANOUT {
        let g = Group::new(ours, n, |_| None)?;
        let r = compare(
            cfg,
            (BATCH * n) as f64,
            &mut |rounds| Ok(group_rounds(&s, &g, rounds, |_| BATCH)?[0]),
            &mut |rounds| unicast_rounds(&s, &g, rounds),
        )?;
        let ratio = Ratio::of(format!("fanout-{n}"), &r);
        println!(
            "N = {n:3}: group {:>10}/member  unicast loop {:>10}/member  ratio {:.2}",
            fmt_ns(median(&r.a)),
            fmt_ns(median(&r.b)),
            ratio.ratio
        );
        out.push(ratio);
    }
    Ok(())
}

/// 256 members of which one accepts, against 256 members without filters:
/// the sender's cost per message, and the sender's plus the receivers'.
pub fn filters(cfg: &Config, ours: i32, out: &mut Vec<Ratio>) -> io::Result<()> {
    println!("\n== filters: group of {FILTERED}, cost per message ({SIZE} B); \"+reads\": the receivers' recv calls included");
    let hit = FilterBuilder::new().topic_in(0, ByteOrder::Native, [HIT]).build()?;
    let miss = FilterBuilder::new().topic_in(0, ByteOrder::Native, [MISS]).build()?;
    let s = sender(ours)?;
    let plain = Group::new(ours, FILTERED, |_| None)?;
    let mut none = |rounds| group_rounds(&s, &plain, rounds, |_| BATCH);

    let one = {
        let g = Group::new(ours, FILTERED, |i| Some(if i == 0 { hit.clone() } else { miss.clone() }))?;
        compare_k(cfg, BATCH as f64, &mut |rounds| group_rounds(&s, &g, rounds, |i| usize::from(i == 0) * BATCH), &mut none)?
    };
    // What running the filters costs when nothing is rejected.
    let all = {
        let g = Group::new(ours, FILTERED, |_| Some(hit.clone()))?;
        compare_k(cfg, BATCH as f64, &mut |rounds| group_rounds(&s, &g, rounds, |_| BATCH), &mut none)?
    };
    for (what, name, samples) in [("1 of", "1of", &one), ("all", "allof", &all)] {
        for (k, view) in [(0, "sender"), (1, "+reads")] {
            let r = &samples[k];
            let suffix = if k == 0 { "" } else { "-total" };
            let ratio = Ratio::of(format!("filter-{name}{FILTERED}{suffix}"), r);
            println!(
                "{what:4} {FILTERED} accept, {view:6}: {:>10}/message  no filters (all receive): {:>10}/message  ratio {:.2}",
                fmt_ns(median(&r.a)),
                fmt_ns(median(&r.b)),
                ratio.ratio
            );
            out.push(ratio);
        }
    }
    // The same question for plain unicast, in AF_UNIX too: what a rejected
    // message costs its sender against a delivered one, in this kernel.
    for (family, label) in [(ours, "ours"), (libc::AF_UNIX, "AF_UNIX")] {
        let r = reject_vs_deliver(cfg, family, &miss)?;
        let ratio = Ratio::of(format!("filter-unicast-reject-{}", label.to_lowercase().replace('_', "")), &r);
        println!(
            "unicast {label:7} sendto, rejected: {:>10}/message  delivered: {:>10}/message  ratio {:.2}",
            fmt_ns(median(&r.a)),
            fmt_ns(median(&r.b)),
            ratio.ratio
        );
        out.push(ratio);
    }
    Ok(())
}

/// Messages per round of [`reject_vs_deliver`]: an AF_UNIX datagram queue
/// holds 10 (net.unix.max_dgram_qlen).
const UNICAST_BATCH: usize = 8;

/// The sender's cost of a unicast sendto to a socket whose filter rejects
/// the message, against one without a filter.
fn reject_vs_deliver(cfg: &Config, family: i32, reject: &Program) -> io::Result<crate::measure::Samples> {
    let s = sender(family)?;
    let rx = |filter: Option<&Program>| -> io::Result<(Socket, Addr)> {
        let r = Socket::dgram_in(family)?;
        let name = addr("rx")?;
        r.bind(&name)?;
        if let Some(p) = filter {
            r.attach_filter(p)?;
        }
        r.set_nonblocking(true)?;
        Ok((r, name))
    };
    let (filtered, plain) = (rx(Some(reject))?, rx(None)?);
    let msg = message();
    let rounds = |(r, name): &(Socket, Addr), want: usize, n: u64| -> io::Result<Duration> {
        let mut buf = [0u8; SIZE + 1];
        let mut t = Duration::ZERO;
        for _ in 0..n {
            let t0 = Instant::now();
            for _ in 0..UNICAST_BATCH {
                send_all(&s, &msg, name)?;
            }
            t += t0.elapsed();
            let mut got = 0;
            while r.recv(&mut buf).is_ok() {
                got += 1;
            }
            if got != want {
                return Err(invalid(&format!("received {got} messages, expected {want}")));
            }
        }
        Ok(t)
    };
    compare(cfg, UNICAST_BATCH as f64, &mut |n| rounds(&filtered, 0, n), &mut |n| rounds(&plain, UNICAST_BATCH, n))
}
