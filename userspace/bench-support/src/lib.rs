//! What the benchmark programs of mcast_unix (`userspace/bench`,
//! `userspace/dbus-bench`) share, so each is written once:
//!
//! - [`clock`]: monotonic time and CPU time (of this thread, this process,
//!   another thread of it, or other processes) in nanoseconds;
//! - [`stats`]: [`median`](stats::median), [`spread`](stats::spread) and
//!   [`percentile`](stats::percentile) of repeated measurements;
//! - [`report`]: the JSON records printed between marker lines for the
//!   host, and the numbers in them and in the tables.

#![warn(missing_docs)]

pub mod clock;
pub mod report;
pub mod stats;
