//! Repetition, calibration and reporting.
//!
//! Timing under QEMU TCG is emulated and the host may be busy, so absolute
//! numbers mean little: every benchmark compares two variants measured in
//! the same run, interleaved repetition by repetition, and reports the
//! ratio of their medians.

use bench_support::stats::{median, spread};
use std::io;
use std::time::{Duration, Instant};

/// How long and how often to measure.
pub struct Config {
    /// Repetitions of each variant (the median is reported).
    pub reps: usize,
    /// Wall time one repetition of one variant should take.
    pub target: Duration,
}

/// A variant under test: runs `n` iterations and returns the time of the
/// measured part (setup and draining between rounds may be left out).
pub type Run<'a> = dyn FnMut(u64) -> io::Result<Duration> + 'a;

/// A variant measured in `K` ways at once (say, the sender's time and the
/// sender's plus the receivers'): one time per way.
pub type RunK<'a, const K: usize> = dyn FnMut(u64) -> io::Result<[Duration; K]> + 'a;

/// Iterations of `run` that take about `target` of wall time (the
/// unmeasured parts included, so the whole run stays within its budget).
/// Also warms the variant up.
fn iterations<const K: usize>(target: Duration, run: &mut RunK<'_, K>) -> io::Result<u64> {
    let mut n = 1u64;
    loop {
        let t0 = Instant::now();
        run(n)?;
        let wall = t0.elapsed();
        if wall >= target / 8 || n >= 1 << 24 {
            let scaled = n as f64 * target.as_secs_f64() / wall.as_secs_f64().max(1e-9);
            return Ok(scaled.ceil().max(1.0) as u64);
        }
        n *= 4;
    }
}

/// Per-operation nanoseconds of each repetition of two variants.
pub struct Samples {
    /// Variant A (ours).
    pub a: Vec<f64>,
    /// Variant B (the reference).
    pub b: Vec<f64>,
}

impl Samples {
    /// Median time of A over median time of B.
    pub fn ratio(&self) -> f64 {
        median(&self.a) / median(&self.b)
    }
}

/// Measures A and B with the same iteration count (the smaller of the two
/// calibrations), `cfg.reps` times each, alternating which goes first.
/// `ops` is the number of operations one iteration stands for.
pub fn compare(cfg: &Config, ops: f64, a: &mut Run<'_>, b: &mut Run<'_>) -> io::Result<Samples> {
    let [s] = compare_k(cfg, ops, &mut |n| Ok([a(n)?]), &mut |n| Ok([b(n)?]))?;
    Ok(s)
}

/// [`compare`] for variants measured in `K` ways: one [`Samples`] per way.
pub fn compare_k<const K: usize>(cfg: &Config, ops: f64, a: &mut RunK<'_, K>, b: &mut RunK<'_, K>) -> io::Result<[Samples; K]> {
    let n = iterations(cfg.target, a)?.min(iterations(cfg.target, b)?);
    let per_op = |d: Duration| d.as_secs_f64() * 1e9 / (n as f64 * ops);
    let mut s: [Samples; K] = std::array::from_fn(|_| Samples { a: Vec::new(), b: Vec::new() });
    for rep in 0..cfg.reps {
        let (ta, tb) = if rep % 2 == 0 {
            let ta = a(n)?;
            (ta, b(n)?)
        } else {
            let tb = b(n)?;
            (a(n)?, tb)
        };
        for (k, s) in s.iter_mut().enumerate() {
            s.a.push(per_op(ta[k]));
            s.b.push(per_op(tb[k]));
        }
    }
    Ok(s)
}

/// A time in nanoseconds, in a readable unit.
pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// A rate from a time per operation in nanoseconds.
pub fn fmt_rate(ns: f64) -> String {
    let per_s = 1e9 / ns;
    if per_s >= 1e6 {
        format!("{:.2} M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k/s", per_s / 1e3)
    } else {
        format!("{per_s:.0} /s")
    }
}

/// One line of the final summary.
pub struct Ratio {
    /// Short name without spaces.
    pub name: String,
    /// Time of ours (or of the new way) over time of the reference.
    pub ratio: f64,
    /// Spreads of the two variants, for the reader.
    pub spread: (f64, f64),
}

impl Ratio {
    /// The summary entry for `s`.
    pub fn of(name: String, s: &Samples) -> Ratio {
        Ratio { name, ratio: s.ratio(), spread: (spread(&s.a), spread(&s.b)) }
    }
}
