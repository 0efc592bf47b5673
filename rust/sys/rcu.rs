// SPDX-License-Identifier: GPL-2.0

//! RCU (6.12's `kernel` crate has no RCU abstraction).
//!
//! - [`RcuGuard`]: a read-side critical section; what it protects may be
//!   borrowed for its lifetime. Nothing may sleep while one is held.
//! - [`RcuBox`]: a value readers see without taking a lock. Writers,
//!   serialised by the box's own spinlock, publish a replacement that was
//!   allocated beforehand ([`Spare`]) and never wait: the old value is freed
//!   by `call_rcu` after a grace period. So no path that replaces a value
//!   allocates under the lock, and none waits for readers.
//!
//! Freed values are dropped in the RCU callback (softirq context): their
//! `Drop` must not sleep. Module exit waits for pending callbacks
//! ([`barrier`]) before the code they run goes away.

use super::bindings as b;
use super::errno::ErrnoResult;
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::{Flags, KBox};
use kernel::prelude::*;
use kernel::sync::SpinLock;

/// An RCU read-side critical section (`rcu_read_lock()` until dropped).
/// Not `Send`: it must end on the CPU context that began it.
pub(crate) struct RcuGuard(PhantomData<*mut ()>);

impl RcuGuard {
    pub(crate) fn new() -> RcuGuard {
        // SAFETY: always allowed; paired with the unlock in `drop`.
        unsafe { b::mcast_rcu_read_lock() };
        RcuGuard(PhantomData)
    }
}

impl Drop for RcuGuard {
    fn drop(&mut self) {
        // SAFETY: paired with the lock taken in `new` in this context.
        unsafe { b::mcast_rcu_read_unlock() };
    }
}

/// Waits for every RCU callback queued so far to finish (module exit: the
/// callbacks run this module's code).
pub(crate) fn barrier() {
    // SAFETY: may sleep; called from module exit only.
    unsafe { b::rcu_barrier() };
}

/// A value with the RCU head its deferred free needs.
#[repr(C)]
struct Node<T> {
    head: b::callback_head,
    value: T,
}

/// A value allocated ahead of publishing it, so that publishing (under a
/// spinlock) cannot fail.
pub(crate) struct Spare<T>(KBox<Node<T>>);

impl<T> Spare<T> {
    pub(crate) fn new(value: T, flags: Flags) -> ErrnoResult<Spare<T>> {
        // SAFETY: an all-zero callback_head is its unqueued state.
        let head = unsafe { core::mem::zeroed() };
        Ok(Spare(KBox::new(Node { head, value }, flags)?))
    }

    pub(crate) fn value_mut(&mut self) -> &mut T {
        &mut self.0.value
    }
}

/// The `call_rcu` callback: drops a replaced value.
///
/// # Safety
///
/// `head` is the head of a `Node<T>` that came from `KBox::into_raw` and
/// that no reader can reach any more (a grace period has passed).
unsafe extern "C" fn free_node<T>(head: *mut b::callback_head) {
    // `head` is the first field of the `repr(C)` node.
    let node = head.cast::<Node<T>>();
    // SAFETY: see the function's contract: we are the node's last user.
    drop(unsafe { KBox::from_raw(node) });
}

/// An RCU-published value.
#[pin_data(PinnedDrop)]
pub(crate) struct RcuBox<T: Send + Sync> {
    ptr: AtomicPtr<Node<T>>,
    #[pin]
    writer: SpinLock<()>,
}

// SAFETY: readers only get `&T` (needs `T: Sync`); values move between
// threads as a whole when replaced and freed (needs `T: Send`).
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}

impl<T: Send + Sync> RcuBox<T> {
    pub(crate) fn new(first: Spare<T>) -> impl PinInit<Self> {
        pin_init!(RcuBox {
            ptr: AtomicPtr::new(KBox::into_raw(first.0)),
            writer <- kernel::new_spinlock!((), "mcast_unix_rcu_writer"),
        })
    }

    /// The current value, for as long as the read-side section lasts.
    pub(crate) fn get<'g>(&'g self, _guard: &'g RcuGuard) -> &'g T {
        // SAFETY: the pointer is always a live node: a replaced one is freed
        // only after a grace period, which cannot end while `_guard` lives.
        unsafe { &(*self.ptr.load(Ordering::Acquire)).value }
    }

    /// Runs `f` on the current value inside a read-side section.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&T, &RcuGuard) -> R) -> R {
        let guard = RcuGuard::new();
        f(self.get(&guard), &guard)
    }

    /// Runs `f` with the writer lock held (a spinlock: `f` must not sleep).
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut Writer<'_, T>) -> R) -> R {
        let _lock = self.writer.lock();
        f(&mut Writer { rcu: self, _locked: PhantomData })
    }
}

/// The writer's view of an [`RcuBox`] (its lock held).
pub(crate) struct Writer<'a, T: Send + Sync> {
    rcu: &'a RcuBox<T>,
    _locked: PhantomData<&'a mut ()>,
}

impl<T: Send + Sync> Writer<'_, T> {
    /// The current value; stable while the writer lock is held.
    pub(crate) fn current(&self) -> &T {
        // SAFETY: only writers replace the value and we hold the writer lock.
        unsafe { &(*self.rcu.ptr.load(Ordering::Acquire)).value }
    }

    /// Publishes `new`; the old value is dropped after a grace period.
    pub(crate) fn publish(&mut self, new: Spare<T>) {
        let old = self.rcu.ptr.swap(KBox::into_raw(new.0), Ordering::AcqRel);
        // SAFETY: `old` is a live node no new reader can find any more;
        // call_rcu runs `free_node` once every reader that may see it is
        // done, and module exit waits for that (`barrier`).
        unsafe { b::call_rcu(ptr::addr_of_mut!((*old).head), Some(free_node::<T>)) };
    }
}

#[pinned_drop]
impl<T: Send + Sync> PinnedDrop for RcuBox<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the box's owner is being dropped, so no reader holds a
        // reference to it (readers borrow it through a counted reference
        // to its owner); the node is not structurally pinned.
        drop(unsafe { KBox::from_raw(self.ptr.load(Ordering::Acquire)) });
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::kcheck_eq;
    use core::sync::atomic::AtomicUsize;
    use kernel::alloc::flags::GFP_KERNEL;

    static DROPPED: AtomicUsize = AtomicUsize::new(0);

    struct Counted(u32);

    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }


    pub(crate) fn rcu_box_frees_replaced_values_after_a_grace_period() -> CaseResult {
        let before = DROPPED.load(Ordering::Relaxed);
        let first = Spare::new(Counted(1), GFP_KERNEL).map_err(|_| crate::kfail!("allocation failed"))?;
        let b = KBox::pin_init(RcuBox::new(first), GFP_KERNEL).map_err(|_| crate::kfail!("allocation failed"))?;
        for i in 2..=5 {
            let next = Spare::new(Counted(i), GFP_KERNEL).map_err(|_| crate::kfail!("allocation failed"))?;
            // Publishing does not wait for readers.
            b.write(|w| w.publish(next));
        }
        kcheck_eq!(b.read(|v, _| v.0), 5);
        // Every replaced value is freed once the callbacks queued so far ran.
        barrier();
        kcheck_eq!(DROPPED.load(Ordering::Relaxed) - before, 4);
        // A writer never waits for readers: publishing inside a read-side
        // section (where waiting for a grace period would deadlock, and
        // lockdep would say so) returns, and the reader's value stays intact
        // until the section ends.
        let next = Spare::new(Counted(6), GFP_KERNEL).map_err(|_| crate::kfail!("allocation failed"))?;
        let guard = RcuGuard::new();
        let seen = b.get(&guard);
        b.write(|w| w.publish(next));
        kcheck_eq!(seen.0, 5);
        kcheck_eq!(DROPPED.load(Ordering::Relaxed) - before, 4);
        drop(guard);
        barrier();
        kcheck_eq!(DROPPED.load(Ordering::Relaxed) - before, 5);
        kcheck_eq!(b.read(|v, _| v.0), 6);
        drop(b);
        kcheck_eq!(DROPPED.load(Ordering::Relaxed) - before, 6);
        Ok(())
    }

    crate::kunit_cases![
        rcu_box_frees_replaced_values_after_a_grace_period,
    ];
}
