//! A D-Bus-style bus on a seqpacket group: the wire format, the routing
//! filters and a blocking client ([`Bus`]).
//!
//! Every bus message is one record: a fixed [routing header](header) with
//! hashes of the fields that route it, then a complete D-Bus message in the
//! D-Bus wire format, built and parsed by zbus. The bus daemon
//! (`mcast-bus`, or `mcastctl bus`) owns the group, admits connections after
//! checking `SO_PEERCRED`, and keeps on each member a classic BPF peer
//! filter compiled from the member's names and match rules ([`route`]): the
//! kernel delivers a message only to the members it is for, and the daemon
//! only sees messages addressed to `org.freedesktop.DBus`.
//!
//! - [`header`]: the routing header layout and [`name_hash`];
//! - [`BusMessage`]: a record, encoded and decoded, with its checks;
//! - [`Rule`]: match rules and what of them the kernel checks;
//! - [`route`]: the filters the daemon installs;
//! - [`names`]: unique names (`:1.<socket id>`), RequestName flags and
//!   replies, the bus's error names;
//! - [`OwnerCache`]: the owners of well-known names a client calls, kept
//!   current by the bus's `NameOwnerChanged`;
//! - [`Bus`]: connect, Hello, call, emit, serve methods, match rules, names.
//!
//! # Example: a service and a caller
//!
//! ```no_run
//! use mcast_unix::bus::{Bus, RequestNameFlags};
//! use mcast_unix::Addr;
//!
//! # fn main() -> mcast_unix::bus::Result<()> {
//! let addr = Addr::abstract_("bus")?;
//! let mut service = Bus::connect(&addr)?;
//! service.request_name("org.example.Echo", RequestNameFlags::DO_NOT_QUEUE)?;
//!
//! let mut caller = Bus::connect(&addr)?;
//! let call = zbus::Message::method_call("/org/example/Echo", "Echo")
//!     .destination("org.example.Echo")
//!     .sender(caller.unique_name())
//!     .build(&("hi",))?;
//! caller.send_message(&call)?;
//!
//! let incoming = service.recv()?;
//! let (text,): (String,) = incoming.body()?;
//! service.reply(&incoming, &(text,))?;
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod error;
pub mod header;
pub mod message;
pub mod names;
pub mod owners;
pub mod route;
pub mod rule;

pub use client::{Bus, ClientStats, Messages};
pub use error::{Error, Result};
pub use header::{name_hash, RoutingHeader};
pub use message::{next_serial, BusMessage, DecodeError};
pub use names::{
    is_well_known_name, unique_name, unique_name_id, ReleaseNameReply, RequestNameFlags, RequestNameReply, BUS_EXT_INTERFACE,
    BUS_INTERFACE, BUS_NAME, BUS_PATH, MESSAGES_LOST,
};
pub use owners::OwnerCache;
pub use route::{bus_filter, member_filter, monitor_filter};
pub use rule::{Rule, RuleError};
