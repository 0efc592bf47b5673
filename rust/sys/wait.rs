// SPDX-License-Identifier: GPL-2.0

//! Wait queues: sleeping until a condition holds (bounded by a socket
//! timeout, interruptible by signals) and waking sleepers and pollers.

use super::bindings as b;
use super::errno::{to_result, Errno, ErrnoResult};
use kernel::init::PinInit;
use kernel::types::Opaque;

/// A `wait_queue_head_t` embedded in a pinned structure.
#[repr(transparent)]
pub(crate) struct WaitQueue(Opaque<b::wait_queue_head>);

// SAFETY: a wait queue head is designed for concurrent use from any thread;
// all access goes through the kernel's wait-queue functions, which lock it.
unsafe impl Send for WaitQueue {}
// SAFETY: as for `Send`.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    pub(crate) fn new() -> impl PinInit<Self> {
        // SAFETY: `init_waitqueue_head` fully initialises the head in place;
        // `Opaque::ffi_init` gives it the final (pinned) address.
        let init = Opaque::ffi_init(|p: *mut b::wait_queue_head| unsafe { b::mcast_init_waitqueue_head(p) });
        // SAFETY: `WaitQueue` is a transparent wrapper of the `Opaque`, so
        // initialising the field initialises the whole value at the same address.
        unsafe { kernel::init::pin_init_from_closure(move |slot: *mut Self| init.__pinned_init(slot.cast())) }
    }

    pub(crate) fn raw(&self) -> *mut b::wait_queue_head {
        self.0.get()
    }

    /// Wakes sleepers and pollers with `mask` (`EPOLLOUT` etc.), if any wait.
    pub(crate) fn wake(&self, mask: u32) {
        // SAFETY: our own head, initialised and live while `self` is.
        unsafe { wake_raw(self.raw(), mask) };
    }

    /// Sleeps until `ready()` returns true, or fails: `EAGAIN` when `*timeo`
    /// (jiffies, as `sock_sndtimeo()` gives) runs out or was 0, `EINTR` or a
    /// restart code on a signal, or `ready()`'s own error. `*timeo` is left
    /// with the time remaining.
    pub(crate) fn wait_until(&self, timeo: &mut i64, ready: impl FnMut() -> ErrnoResult<bool>) -> ErrnoResult<()> {
        // SAFETY: our own head, initialised and live while `self` is.
        unsafe { wait_raw(self.raw(), timeo, ready) }
    }
}

/// Wakes the sleepers and pollers of `wq` with `mask`, if any wait.
///
/// # Safety
///
/// `wq` is a live, initialised wait queue head.
unsafe fn wake_raw(wq: *mut b::wait_queue_head, mask: u32) {
    // SAFETY: the caller's contract; the functions lock the queue themselves.
    unsafe {
        if b::mcast_wq_has_sleeper(wq) {
            b::mcast_wake_up_poll(wq, mask);
        }
    }
}

/// The wait loop of [`WaitQueue::wait_until`] on any wait queue head.
///
/// # Safety
///
/// `wq` is a live, initialised wait queue head for the whole call.
pub(crate) unsafe fn wait_raw(
    wq: *mut b::wait_queue_head,
    timeo: &mut i64,
    mut ready: impl FnMut() -> ErrnoResult<bool>,
) -> ErrnoResult<()> {
    let entry = Opaque::<b::wait_queue_entry>::uninit();
    let e = entry.get();
    // SAFETY: `e` points to stack memory that stays in place until this
    // function returns; it is initialised here and removed from the queue by
    // `finish_wait` before it goes out of scope. `wq` is live for the whole
    // call (the caller's contract).
    unsafe { b::mcast_init_wait(e) };
    let result = loop {
        // SAFETY: see above; TASK_INTERRUPTIBLE is a valid task state.
        unsafe { b::prepare_to_wait(wq, e, b::TASK_INTERRUPTIBLE as i32) };
        match ready() {
            Ok(true) => break Ok(()),
            Err(err) => break Err(err),
            Ok(false) => {}
        }
        if *timeo == 0 {
            break Err(Errno::EAGAIN);
        }
        // SAFETY: reads the current task's signal state.
        if unsafe { b::mcast_signal_pending() } {
            // SAFETY: pure function of its argument.
            let ret = unsafe { b::mcast_sock_intr_errno(*timeo as _) };
            break Err(to_result(ret).err().unwrap_or(Errno::EINTR));
        }
        // SAFETY: the task state was set by prepare_to_wait; sleeping is
        // allowed here (callers hold no spinlock while waiting).
        *timeo = unsafe { b::schedule_timeout(*timeo as _) } as i64;
    };
    // SAFETY: `e` was queued on `wq` by prepare_to_wait (or not at all).
    unsafe { b::finish_wait(wq, e) };
    result
}

/// A socket's POLLOUT relay entry (see `mcast_relay_*` in rust/helpers.c).
#[repr(transparent)]
pub(crate) struct Relay(Opaque<b::mcast_relay>);

// SAFETY: the relay is only changed under the lock of the wait queue it is
// hooked on (inside the helpers), and read by the wake-up callback under it.
unsafe impl Send for Relay {}
// SAFETY: as for `Send`.
unsafe impl Sync for Relay {}

impl Relay {
    /// An unhooked relay; [`Relay::bind`] names its socket before first use.
    pub(crate) fn new() -> impl PinInit<Self> {
        // SAFETY: all-zero is a valid unhooked relay (other_wq NULL); it is
        // fully initialised by `bind` before it can be hooked.
        unsafe { kernel::init::pin_init_from_closure(|slot: *mut Self| {
            core::ptr::write_bytes(slot, 0, 1);
            Ok(())
        }) }
    }

    /// Names the socket whose pollers the relay wakes.
    ///
    /// # Safety
    ///
    /// `sk` is the sock this relay is embedded in; called once at creation.
    pub(crate) unsafe fn bind(&self, sk: *mut b::sock) {
        // SAFETY: the relay is not hooked yet; see the function's contract.
        unsafe { b::mcast_relay_init(self.0.get(), sk) }
    }

    /// Hooks the relay on `other` (a full peer's queue) unless it is hooked
    /// already; true if this call hooked it.
    pub(crate) fn hook(&self, other: &WaitQueue) -> bool {
        // SAFETY: `other` is live (the caller holds its socket); the helper
        // changes the relay under `other`'s lock.
        unsafe { b::mcast_relay_connect(self.0.get(), other.raw()) }
    }

    /// Unhooks the relay from `other` if it is hooked there.
    pub(crate) fn unhook(&self, other: &WaitQueue) {
        // SAFETY: `other` is live (the caller holds its socket); the helper
        // changes the relay under `other`'s lock.
        unsafe { b::mcast_relay_disconnect(self.0.get(), other.raw()) }
    }
}
