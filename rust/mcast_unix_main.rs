// SPDX-License-Identifier: GPL-2.0

//! mcast_unix: multicast Unix-domain sockets.
//!
//! The crate root is a switchboard: it declares the module, lists the
//! layers and concepts (one file or folder each) and hands module init/exit
//! to the registration.
//!
//! # Layers
//!
//! Every arrow points down; nothing below names anything above it.
//!
//! 1. This crate root.
//! 2. [`entry`]: registration, the `proto_ops` tables and the `extern "C"`
//!    shims (raw pointers → safe values → one domain call → errno), the
//!    KUnit bridge. May use `unsafe`.
//! 3. The domain, safe Rust only:
//!    - [`socket`]: what a socket is (types, state, locks: the lock order is
//!      written in its module doc) and what both types share (bind, poll,
//!      close, the per-type operations trait);
//!    - [`dgram`], [`seqpacket`]: the two socket types;
//!    - [`message`]: sending and receiving one message;
//!    - [`group`]: multicast groups (fan-out, memberships, options);
//!    - [`membership`]: a group's member list and who gets a copy;
//!    - [`ring`]: receive rings (messages into frames a reader maps);
//!    - [`address`], [`names`]: addresses and the table of bound names;
//!    - [`proc`]: the socket registry and `/proc/net/mcast_unix`;
//!    - [`defs`]: the ABI constants and layouts, from the bindings;
//!    - [`util`]: small generic helpers;
//!    - [`kunit`]: the KUnit case registry and assertion macros.
//! 4. [`sys`]: the FFI boundary: generated bindings, C helper wrappers, and
//!    safe types generic over what the domain keeps in them. May use
//!    `unsafe`.
//! 5. The kernel (`kernel` crate, C).

#![deny(unsafe_op_in_unsafe_fn)]
// Domain code is safe Rust; only the FFI boundary and the entry layer may opt out.
#![deny(unsafe_code)]

use kernel::prelude::*;

#[allow(unsafe_code)]
mod entry;
#[allow(unsafe_code)]
mod sys;

mod address;
mod defs;
mod dgram;
mod group;
mod membership;
mod message;
mod names;
mod proc;
mod ring;
mod seqpacket;
mod socket;
mod util;

#[cfg(CONFIG_KUNIT)]
mod kunit;

module! {
    type: McastUnix,
    name: "mcast_unix",
    author: "mcast_unix developers",
    description: "Multicast Unix-domain sockets",
    license: "GPL",
}

struct McastUnix {
    _family: entry::Registration,
}

impl kernel::Module for McastUnix {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(McastUnix { _family: entry::Registration::new()? })
    }
}
