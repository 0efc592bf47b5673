// SPDX-License-Identifier: GPL-2.0

//! The module parameters (declared in rust/helpers.c: 6.12's `module!`
//! macro has no parameters for Rust modules). All are read-only once the
//! module is loaded.

use super::bindings as b;

/// `family`: the address family number to register.
pub(crate) fn family() -> i32 {
    // SAFETY: plain getter of a read-only module parameter.
    unsafe { b::mcast_param_family() }
}

/// `max_groups`: groups one socket may join.
pub(crate) fn max_groups() -> u32 {
    // SAFETY: plain getter of a read-only module parameter.
    unsafe { b::mcast_param_max_groups() }
}

/// `max_members`: members one group may have.
pub(crate) fn max_members() -> u32 {
    // SAFETY: plain getter of a read-only module parameter.
    unsafe { b::mcast_param_max_members() }
}
