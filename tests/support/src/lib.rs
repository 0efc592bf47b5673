//! What the test programs of mcast_unix (`tests/userspace`, `tests/fuzz`,
//! `tests/stress`) share, so each is written once:
//!
//! - [`errno`]: [`Errno`](errno::Errno), an errno value that prints its
//!   name, and [`check`](errno::check), a raw call's return value as a
//!   result;
//! - [`rng`]: [`Rng`](rng::Rng), the seeded SplitMix64 generator the fuzzer
//!   and the stress draw their choices from.

#![warn(missing_docs)]

pub mod errno;
pub mod rng;
