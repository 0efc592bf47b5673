//! Groups: fan-out against a loop of unicast sends, and filtered delivery.
//!
//! Only the sender's calls are timed. The sender is non-blocking and every
//! round sends [`BATCH`] messages, few enough to fit in every member's
//! default receive buffer; the members are drained (untimed) after each
//! round and must have received exactly what was expected. So the sender
//! never waits: a full member would show up as `EAGAIN` and stop the run.

use crate::measure::{compare, fmt_ns, median, Config, Ratio};
use crate::{addr, invalid};
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
    /// messages.
    fn drain(&self, want: impl Fn(usize) -> usize) -> io::Result<()> {
        let mut buf = [0u8; SIZE + 1];
        for (i, m) in self.members.iter().enumerate() {
            let mut got = 0;
            loop {
                match m.recv(&mut buf) {
                    Ok(_) => got += 1,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if got != want(i) {
                return Err(invalid(&format!("member {i} received {got} messages, expected {}", want(i))));
            }
        }
        Ok(())
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

/// `rounds` rounds of [`BATCH`] group sends; the sends' time.
fn group_rounds(s: &Socket, g: &Group, rounds: u64, want: impl Fn(usize) -> usize) -> io::Result<Duration> {
    let msg = message();
    let mut t = Duration::ZERO;
    for _ in 0..rounds {
        let t0 = Instant::now();
        for _ in 0..BATCH {
            send_all(s, &msg, &g.addr)?;
        }
        t += t0.elapsed();
        g.drain(&want)?;
    }
    Ok(t)
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
            &mut |rounds| group_rounds(&s, &g, rounds, |_| BATCH),
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

/// 256 members of which one accepts, against 256 members without filters.
pub fn filters(cfg: &Config, ours: i32, out: &mut Vec<Ratio>) -> io::Result<()> {
    println!("\n== filters: group of {FILTERED}, sender's cost per message ({SIZE} B)");
    let hit = FilterBuilder::new().topic_in(0, ByteOrder::Native, [HIT]).build()?;
    let miss = FilterBuilder::new().topic_in(0, ByteOrder::Native, [MISS]).build()?;
    let s = sender(ours)?;
    let plain = Group::new(ours, FILTERED, |_| None)?;
    let mut none = |rounds| group_rounds(&s, &plain, rounds, |_| BATCH);

    let one = {
        let g = Group::new(ours, FILTERED, |i| Some(if i == 0 { hit.clone() } else { miss.clone() }))?;
        compare(cfg, BATCH as f64, &mut |rounds| group_rounds(&s, &g, rounds, |i| usize::from(i == 0) * BATCH), &mut none)?
    };
    let ratio = Ratio::of(format!("filter-1of{FILTERED}"), &one);
    println!(
        "1 of {FILTERED} accepts: {:>10}/message  no filters (all receive): {:>10}/message  ratio {:.2}",
        fmt_ns(median(&one.a)),
        fmt_ns(median(&one.b)),
        ratio.ratio
    );
    out.push(ratio);

    // What running the filters costs when nothing is rejected.
    let all = {
        let g = Group::new(ours, FILTERED, |_| Some(hit.clone()))?;
        compare(cfg, BATCH as f64, &mut |rounds| group_rounds(&s, &g, rounds, |_| BATCH), &mut none)?
    };
    let ratio = Ratio::of(format!("filter-allof{FILTERED}"), &all);
    println!(
        "all {FILTERED} accept:   {:>10}/message  no filters (all receive): {:>10}/message  ratio {:.2}",
        fmt_ns(median(&all.a)),
        fmt_ns(median(&all.b)),
        ratio.ratio
    );
    out.push(ratio);
    Ok(())
}
