// SPDX-License-Identifier: GPL-2.0

//! Taking an element out of a `KVec` without allocating (6.12's `KVec` has
//! no `remove`): used for the accept queue and a socket's memberships, often
//! under a spinlock, where failing for want of memory is not an option.

use kernel::alloc::{Flags, KVec};

/// Removes and returns element `i`, keeping the others in order; `None` if
/// `i` is out of range. Never fails: the buffer is reused (`flags` only
/// governs an optional shrink).
pub(crate) fn remove_at<T>(v: &mut KVec<T>, i: usize, flags: Flags) -> Option<T> {
    if i >= v.len() {
        return None;
    }
    // Element i to the front; the ones before it move up one, still in order.
    v.as_mut_slice()[..=i].rotate_right(1);
    let mut rest = core::mem::take(v).into_iter();
    let taken = rest.next();
    *v = rest.collect(flags);
    taken
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::{kcheck, kcheck_eq};
    use kernel::alloc::flags::GFP_KERNEL;

    pub(crate) fn remove_at_keeps_order() -> CaseResult {
        let mut v = KVec::new();
        for i in 0..6u32 {
            v.push(i, GFP_KERNEL).map_err(|_| crate::kfail!("push"))?;
        }
        kcheck_eq!(remove_at(&mut v, 3, GFP_KERNEL), Some(3));
        kcheck_eq!(v.as_slice(), &[0, 1, 2, 4, 5][..]);
        kcheck_eq!(remove_at(&mut v, 0, GFP_KERNEL), Some(0));
        kcheck_eq!(remove_at(&mut v, 3, GFP_KERNEL), Some(5));
        kcheck_eq!(v.as_slice(), &[1, 2, 4][..]);
        kcheck!(remove_at(&mut v, 3, GFP_KERNEL).is_none());
        kcheck_eq!(v.len(), 3);
        Ok(())
    }

    crate::kunit_cases![
        remove_at_keeps_order,
    ];
}
