// SPDX-License-Identifier: GPL-2.0

//! Module-wide values that need an allocation (a lock, a tree): 6.12 cannot
//! initialise such a `static` at compile time, so a [`Global`] is empty until
//! module init installs the value and stays installed until module exit.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;
use kernel::prelude::*;

/// A value installed at module init and read from then on.
pub(crate) struct Global<T>(AtomicPtr<T>);

// SAFETY: readers only get shared references; `T: Sync` makes sharing it
// between threads sound, `T: Send` its drop on the thread of module exit.
unsafe impl<T: Send + Sync> Sync for Global<T> {}

impl<T: Send + Sync> Global<T> {
    pub(crate) const fn new() -> Self {
        Global(AtomicPtr::new(ptr::null_mut()))
    }

    /// Installs `value`; [`Installed`] takes it out again when dropped.
    ///
    /// # Safety
    ///
    /// The returned guard is dropped only when nothing can call [`Global::get`]
    /// any more or still uses a reference it returned (module exit, after
    /// everything that reaches the value was unregistered).
    pub(crate) unsafe fn install(&'static self, value: Pin<KBox<T>>) -> Installed<T> {
        // SAFETY: the value stays at its address until `Installed` drops it
        // (it is never moved out of the box).
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(value) });
        self.0.store(raw, Ordering::Release);
        Installed(self)
    }

    /// The installed value. Called only while the module is registered
    /// (every caller is reached through the family), when it is installed.
    pub(crate) fn get(&self) -> &T {
        let p = self.0.load(Ordering::Acquire);
        assert!(!p.is_null(), "module global read before init");
        // SAFETY: installed and not yet removed (see `install`'s contract:
        // removal waits until no reader exists).
        unsafe { &*p }
    }
}

/// Owner of an installed value: dropping it frees the value.
pub(crate) struct Installed<T: Send + Sync + 'static>(&'static Global<T>);

impl<T: Send + Sync + 'static> Drop for Installed<T> {
    fn drop(&mut self) {
        let p = self.0 .0.swap(ptr::null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: `p` came from `KBox::into_raw` in `install`; no reader
            // remains (the contract of `install`).
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}
