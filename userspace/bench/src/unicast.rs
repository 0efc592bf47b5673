//! Unicast: the family against AF_UNIX, the same code with the family as a
//! parameter.
//!
//! - round trip: one thread sends on one end of a connected pair, receives
//!   on the other, and back (two sends, two receives; no scheduling);
//! - throughput: a sender thread and a receiver thread on a connected pair,
//!   both blocking, with the default buffer sizes.

use crate::measure::{compare, fmt_ns, fmt_rate, Config, Ratio};
use crate::{addr, invalid, set_rcvtimeo};
use bench_support::stats::median;
use mcast_unix::{SockType, Socket};
use std::io;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Message sizes measured.
const SIZES: [usize; 2] = [64, 4096];

/// A connected pair of one family and type.
struct Pair {
    a: Socket,
    b: Socket,
    /// The seqpacket listener (kept open like a server would).
    _listener: Option<Socket>,
}

impl Pair {
    /// Datagram: two bound sockets connected to each other. Seqpacket: a
    /// client connected to a bound listener, and the accepted connection.
    fn new(family: i32, ty: SockType) -> io::Result<Pair> {
        let pair = match ty {
            SockType::Dgram => {
                let (a, b) = (Socket::dgram_in(family)?, Socket::dgram_in(family)?);
                let (na, nb) = (addr("uni-a")?, addr("uni-b")?);
                a.bind(&na)?;
                b.bind(&nb)?;
                a.connect(&nb)?;
                b.connect(&na)?;
                Pair { a, b, _listener: None }
            }
            SockType::Seqpacket => {
                let l = Socket::seqpacket_in(family)?;
                let nl = addr("uni-listen")?;
                l.bind(&nl)?;
                l.listen(1)?;
                let a = Socket::seqpacket_in(family)?;
                a.connect(&nl)?;
                let (b, _) = l.accept()?;
                Pair { a, b, _listener: Some(l) }
            }
        };
        // A lost message would otherwise hang the run.
        set_rcvtimeo(&pair.a, Duration::from_secs(20))?;
        set_rcvtimeo(&pair.b, Duration::from_secs(20))?;
        Ok(pair)
    }

    /// `n` round trips of `size`-byte messages: a → b, b → a.
    fn round_trips(&self, n: u64, size: usize) -> io::Result<Duration> {
        let msg = vec![0xa5u8; size];
        let mut buf = vec![0u8; size + 1];
        let t0 = Instant::now();
        for _ in 0..n {
            self.a.send(&msg)?;
            expect_len(self.b.recv(&mut buf)?, size)?;
            self.b.send(&msg)?;
            expect_len(self.a.recv(&mut buf)?, size)?;
        }
        Ok(t0.elapsed())
    }

    /// `n` messages of `size` bytes from a sender thread (a) to a receiver
    /// thread (b): the time from the start signal to the last message read.
    fn stream(&self, n: u64, size: usize) -> io::Result<Duration> {
        let start = Barrier::new(2);
        std::thread::scope(|s| {
            let receiver = s.spawn(|| -> io::Result<Instant> {
                let mut buf = vec![0u8; size + 1];
                start.wait();
                for _ in 0..n {
                    expect_len(self.b.recv(&mut buf)?, size)?;
                }
                Ok(Instant::now())
            });
            let msg = vec![0x5au8; size];
            start.wait();
            let t0 = Instant::now();
            let sent = (0..n).try_for_each(|_| self.a.send(&msg).and_then(|k| expect_len(k, size)));
            let end = receiver.join().map_err(|_| invalid("receiver thread panicked"))?;
            sent?;
            Ok(end? - t0)
        })
    }
}

fn expect_len(got: usize, want: usize) -> io::Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(invalid(&format!("message of {got} bytes, expected {want}")))
    }
}

fn type_name(ty: SockType) -> &'static str {
    match ty {
        SockType::Dgram => "dgram",
        SockType::Seqpacket => "seqpacket",
    }
}

/// Every unicast comparison of `ours` against AF_UNIX.
pub fn run(cfg: &Config, ours: i32, out: &mut Vec<Ratio>) -> io::Result<()> {
    println!("\n== unicast: ours vs AF_UNIX (time ratio ours/AF_UNIX: > 1 is slower)");
    for ty in [SockType::Dgram, SockType::Seqpacket] {
        let t = type_name(ty);
        let (po, pu) = (Pair::new(ours, ty)?, Pair::new(libc::AF_UNIX, ty)?);
        for size in SIZES {
            let s = compare(cfg, 1.0, &mut |n| po.round_trips(n, size), &mut |n| pu.round_trips(n, size))?;
            let r = Ratio::of(format!("unicast-{t}-rtt-{size}"), &s);
            println!(
                "{t:9} round trip {size:4} B: ours {:>10}  AF_UNIX {:>10}  ratio {:.2}",
                fmt_ns(median(&s.a)),
                fmt_ns(median(&s.b)),
                r.ratio
            );
            out.push(r);
        }
        for size in SIZES {
            let s = compare(cfg, 1.0, &mut |n| po.stream(n, size), &mut |n| pu.stream(n, size))?;
            let r = Ratio::of(format!("unicast-{t}-tput-{size}"), &s);
            println!(
                "{t:9} one-way    {size:4} B: ours {:>10}  AF_UNIX {:>10}  ratio {:.2}",
                fmt_rate(median(&s.a)),
                fmt_rate(median(&s.b)),
                r.ratio
            );
            out.push(r);
        }
    }
    Ok(())
}
