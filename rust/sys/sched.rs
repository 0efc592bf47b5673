// SPDX-License-Identifier: GPL-2.0

//! Scheduling points for long loops.

use super::bindings as b;

/// Lets other tasks run if this one has used its share (a loop whose
/// length a user chooses must not hold the CPU).
pub(crate) fn cond_resched() {
    // SAFETY: called from process context without spinlocks held.
    unsafe { b::mcast_cond_resched() };
}
