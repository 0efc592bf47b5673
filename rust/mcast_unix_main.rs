// SPDX-License-Identifier: GPL-2.0

//! mcast_unix: multicast Unix-domain sockets.
//!
//! The crate root is a switchboard: it declares the module, lists the
//! concepts (one file each) and hands module init/exit to the registration.
//!
//! - [`sys`]: the FFI boundary. Generated bindings, the C helpers, the
//!   `proto_ops` tables and the `extern "C"` shims that turn raw pointers
//!   into safe values. The only place with `unsafe`.
//! - [`address`]: parsing and storing `sockaddr_un`-style addresses.
//! - [`names`]: which socket is bound to which address.
//! - [`socket`]: what both socket types share (state, bind, names, shutdown,
//!   release, poll, ioctl).
//! - [`message`]: sending and receiving one message.
//! - [`dgram`], [`seqpacket`]: what is particular to each type.
//! - [`membership`]: a group's member list and who gets a copy.
//! - [`group`]: multicast groups: options and ordered, all-or-nothing fan-out.
//! - [`proc`]: the listing in `/proc/net/mcast_unix`.
//! - [`vec`]: taking an element out of a `KVec` without allocating.
//! - [`kunit`]: the KUnit case table and its assertion macros.

#![deny(unsafe_op_in_unsafe_fn)]
// Domain code is safe Rust; only the FFI boundary may opt out.
#![deny(unsafe_code)]

use kernel::prelude::*;

#[allow(unsafe_code)]
mod sys;

mod address;
mod dgram;
mod group;
mod membership;
mod message;
mod names;
mod proc;
mod seqpacket;
mod socket;
mod vec;

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
    _family: sys::family::Registration,
}

impl kernel::Module for McastUnix {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let family = sys::family::Registration::new()?;
        Ok(McastUnix { _family: family })
    }
}
