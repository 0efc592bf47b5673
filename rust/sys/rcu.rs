// SPDX-License-Identifier: GPL-2.0

//! A minimal RCU-protected box (6.12's `kernel` crate has no RCU
//! abstraction): readers see a consistent value without taking a lock;
//! writers, serialised by the box's own mutex, publish a new value and free
//! the old one after a grace period.
//!
//! Readers run inside `rcu_read_lock()`: the closure given to [`RcuBox::read`]
//! must not sleep (no blocking allocation, no mutex, no waiting).

use super::bindings as b;
use super::errno::KResult;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;
use kernel::prelude::*;
use kernel::sync::Mutex;

/// An RCU-published `KBox<T>`.
#[pin_data(PinnedDrop)]
pub(crate) struct RcuBox<T> {
    ptr: AtomicPtr<T>,
    #[pin]
    writer: Mutex<()>,
}

// SAFETY: readers only get `&T` (needs `T: Sync`); the value moves between
// threads as a whole when replaced (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}

impl<T> RcuBox<T> {
    pub(crate) fn new(value: KBox<T>) -> impl PinInit<Self> {
        pin_init!(RcuBox {
            ptr: AtomicPtr::new(KBox::into_raw(value)),
            writer <- kernel::new_mutex!((), "mcast_unix_rcu_writer"),
        })
    }

    /// Runs `f` on the current value inside an RCU read-side section.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        // SAFETY: the pointer is always a live `KBox` allocation: a replaced
        // one is freed only after `synchronize_rcu()`, which waits for this
        // read-side section to end.
        unsafe {
            b::mcast_rcu_read_lock();
            let r = f(&*self.ptr.load(Ordering::Acquire));
            b::mcast_rcu_read_unlock();
            r
        }
    }

    /// Computes a new value from the current one (`f` may sleep), publishes
    /// it, waits for readers of the old one and drops it. Sleeps.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&T) -> KResult<(KBox<T>, R)>) -> KResult<R> {
        let _writer = self.writer.lock();
        // SAFETY: only a writer replaces the value, and writers hold
        // `writer`, so the current value stays live while `f` reads it.
        let (new, r) = f(unsafe { &*self.ptr.load(Ordering::Acquire) })?;
        let old = self.ptr.swap(KBox::into_raw(new), Ordering::AcqRel);
        // SAFETY: waits for every reader that may still see `old`; after
        // that we are its only owner.
        drop(unsafe {
            b::synchronize_rcu();
            KBox::from_raw(old)
        });
        Ok(r)
    }
}

#[pinned_drop]
impl<T> PinnedDrop for RcuBox<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: we are the last user of the box (readers hold a reference
        // to its owner while they read), and `ptr` is not structurally pinned.
        drop(unsafe { KBox::from_raw(self.ptr.load(Ordering::Acquire)) });
    }
}
