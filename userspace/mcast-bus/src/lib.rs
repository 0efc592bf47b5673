//! The bus daemon: a D-Bus-style message bus on a mcast_unix seqpacket
//! group.
//!
//! The daemon owns the group, admits connections after checking their
//! `SO_PEERCRED` ([`Policy`]), names them (`:1.<socket id>`), keeps the
//! well-known names ([`Registry`]) and, for each member, a classic BPF peer
//! filter compiled from its names and match rules, so the kernel delivers
//! each message to the members it is for and the daemon is not woken for
//! data. The wire format, the filters and the client are in
//! [`mcast_unix::bus`]; Documentation/bus.md describes the whole bus.
//!
//! ```no_run
//! use mcast_bus::{Config, Daemon, Limits, Policy};
//!
//! # fn main() -> std::io::Result<()> {
//! let config = Config {
//!     family: mcast_unix::family()?,
//!     address: mcast_unix::Addr::abstract_("bus")?,
//!     policy: Policy::for_daemon(unsafe { libc::getuid() }),
//!     limits: Limits::default(),
//!     drop_when_full: true,
//! };
//! let mut daemon = Daemon::new(config)?;
//! mcast_bus::stop_on_signals()?;
//! daemon.run()?;
//! eprintln!("{:?}", daemon.stats());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod daemon;
pub mod hashes;
pub mod policy;
pub mod registry;

pub use daemon::{stop_on_signals, Config, Daemon, Limits, Stats};
pub use policy::Policy;
pub use registry::{ConnId, OwnerChange, Registry};
