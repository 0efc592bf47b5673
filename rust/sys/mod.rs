// SPDX-License-Identifier: GPL-2.0

//! The FFI boundary: everything that touches raw kernel pointers.
//!
//! Layout:
//! - [`bindings`]: the module's own bindgen output over
//!   `include/mcast_unix_kernel.h` (networking types the `kernel` crate of 6.12
//!   does not bind) plus the C helpers of `rust/helpers.c`. All networking
//!   types come from this one set.
//! - safe wrappers, each knowing nothing of the family's domain (the layer
//!   graph is one-way: crate root → entry → domain → sys → kernel):
//!   [`sock`] (socks generic over their state), [`skb`] (messages generic over
//!   their tag), [`msg`] (msghdr, ancillary data, option values), [`wait`]
//!   (wait queues, the POLLOUT relay), [`rcu`], [`filter`] (classic BPF),
//!   [`path`] (socket inodes), [`ring`] (receive-ring memory), [`global`] (values installed at init),
//!   [`params`] (module parameters), [`errno`], [`sched`], [`vec`], [`once`] (a value set once).
//!
//! Every `unsafe` block here carries a `// SAFETY:` comment; code outside this
//! module and the entry layer is safe Rust.

pub(crate) mod bindings;
pub(crate) mod errno;
pub(crate) mod filter;
pub(crate) mod global;
pub(crate) mod msg;
pub(crate) mod once;
pub(crate) mod params;
pub(crate) mod path;
pub(crate) mod rcu;
pub(crate) mod ring;
pub(crate) mod sched;
pub(crate) mod skb;
pub(crate) mod sock;
pub(crate) mod vec;
pub(crate) mod wait;

/// A random number (autobind's starting point).
pub(crate) fn random_u32() -> u32 {
    // SAFETY: no preconditions.
    unsafe { bindings::get_random_u32() }
}
