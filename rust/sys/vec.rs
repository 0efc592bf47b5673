// SPDX-License-Identifier: GPL-2.0

//! What 6.12's `KVec` lacks and the family needs without allocating.

use core::ptr;
use kernel::alloc::KVec;

/// Drops every element and keeps the buffer (6.12's `KVec` has no `clear`).
pub(crate) fn clear<T>(v: &mut KVec<T>) {
    let len = v.len();
    // SAFETY: the length is set to 0 first, so the elements are no longer
    // reachable through `v` (a panicking drop cannot lead to a double drop);
    // then the `len` initialised elements are dropped in place, once.
    unsafe {
        v.set_len(0);
        ptr::drop_in_place(ptr::slice_from_raw_parts_mut(v.as_mut_ptr(), len));
    }
}

/// Appends `value` if `v` has room for it without growing, else hands it
/// back (6.12's `KVec` has no `push_within_capacity`; its `push` goes
/// through `reserve` every time).
pub(crate) fn push_within_capacity<T>(v: &mut KVec<T>, value: T) -> Result<(), T> {
    let Some(slot) = v.spare_capacity_mut().first_mut() else {
        return Err(value);
    };
    slot.write(value);
    let len = v.len();
    // SAFETY: the element at `len` was just initialised, within capacity.
    unsafe { v.set_len(len + 1) };
    Ok(())
}
