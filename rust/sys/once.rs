// SPDX-License-Identifier: GPL-2.0

//! A boxed value set at most once and then read without a lock.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;

/// Empty, or a value that stays until the holder is dropped.
pub(crate) struct OnceBox<T>(AtomicPtr<T>);

impl<T> OnceBox<T> {
    pub(crate) const fn new() -> Self {
        OnceBox(AtomicPtr::new(ptr::null_mut()))
    }

    /// The value, if set.
    pub(crate) fn get(&self) -> Option<&T> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from `KBox::into_raw` in `set` and
        // is freed only by `Drop`, which needs `&mut self`: it outlives `&self`.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Sets the value; gives it back if one was set already.
    pub(crate) fn set(&self, value: KBox<T>) -> Result<(), KBox<T>> {
        let p = KBox::into_raw(value);
        match self.0.compare_exchange(ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(()),
            // SAFETY: `p` was not published; it is ours again.
            Err(_) => Err(unsafe { KBox::from_raw(p) }),
        }
    }
}

impl<T> Drop for OnceBox<T> {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            // SAFETY: from `KBox::into_raw` in `set`, freed once here.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

// SAFETY: shares `&T` across threads (needs `Sync`) and moves `T` to whoever
// drops the holder (needs `Send`).
unsafe impl<T: Send + Sync> Sync for OnceBox<T> {}
// SAFETY: see above.
unsafe impl<T: Send> Send for OnceBox<T> {}
