// SPDX-License-Identifier: GPL-2.0

//! The FFI boundary: everything that touches raw kernel pointers.
//!
//! Layout:
//! - [`bindings`]: the module's own bindgen output over
//!   `include/mcast_unix_kernel.h` (networking types the `kernel` crate of 6.12
//!   does not bind) plus the C helpers of `rust/helpers.c`. All networking
//!   types come from this one set.
//! - [`family`]: `proto`/`net_proto_family`/`proto_ops` tables, registration
//!   and the entry points the socket layer calls.
//! - [`kunit`]: the bridge from C KUnit cases to the Rust case table.
//!
//! Every `unsafe` block here carries a `// SAFETY:` comment; code outside this
//! module is safe Rust.

pub(crate) mod bindings;
pub(crate) mod errno;
pub(crate) mod family;
pub(crate) mod filter;
pub(crate) mod msg;
pub(crate) mod path;
pub(crate) mod rcu;
pub(crate) mod sched;
pub(crate) mod skb;
pub(crate) mod sock;
pub(crate) mod vec;
pub(crate) mod wait;
#[cfg(CONFIG_KUNIT)]
pub(crate) mod kunit;
