// SPDX-License-Identifier: GPL-2.0

//! Safe views of the family's sockets.
//!
//! - [`Sock`]: one of our `struct sock`s with the family's state after it
//!   (`proto.obj_size` covers both). Borrowed as `&Sock` while the caller
//!   holds a reference.
//! - [`SockRef`]: a counted reference (`sock_hold`/`sock_put`).
//! - [`Socket`]: the `struct socket` an entry point was called with.
//!
//! Field accesses use `READ_ONCE`-style volatile reads where the socket layer
//! changes the field without our locks (buffer sizes, memory counters).

use super::bindings as b;
use super::errno::{Errno, KResult};
use super::wait::{self, WaitQueue};
use crate::socket::{SockState, SockType};
use super::rcu::RcuGuard;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::types::Opaque;

/// `sk->sk_state` values, as af_unix.c uses them.
pub(crate) const TCP_ESTABLISHED: u8 = b::TCP_ESTABLISHED as u8;
pub(crate) const TCP_CLOSE: u8 = b::TCP_CLOSE as u8;
pub(crate) const TCP_LISTEN: u8 = b::TCP_LISTEN as u8;
/// `sk->sk_shutdown` bits.
pub(crate) const RCV_SHUTDOWN: u8 = b::RCV_SHUTDOWN as u8;
pub(crate) const SEND_SHUTDOWN: u8 = b::SEND_SHUTDOWN as u8;
pub(crate) const SHUTDOWN_MASK: u8 = b::SHUTDOWN_MASK as u8;

/// A socket of the family: the generic `struct sock` (all the socket layer
/// sees), then the family's state.
#[repr(C)]
pub(crate) struct Sock {
    sk: Opaque<b::sock>,
    state: SockState,
}

// SAFETY: `struct sock` is shared between CPUs by design; the fields we touch
// are either read/written with volatile accesses the kernel also uses
// lock-free (READ_ONCE/WRITE_ONCE), or protected by the socket's locks, and
// `SockState` is itself `Sync` (its mutable parts sit behind locks).
unsafe impl Send for Sock {}
// SAFETY: as for `Send`.
unsafe impl Sync for Sock {}

macro_rules! read_once {
    ($self:ident . $($field:ident).+) => {
        // SAFETY: `$self` is a live sock (we hold a reference); the field is
        // read atomically the way the kernel's READ_ONCE does.
        unsafe { ptr::read_volatile(ptr::addr_of!((*$self.raw()).$($field).+)) }
    };
}
macro_rules! write_once {
    ($self:ident . $($field:ident).+, $value:expr) => {
        // SAFETY: `$self` is a live sock (we hold a reference); the field is
        // written atomically the way the kernel's WRITE_ONCE does, and the
        // callers hold the family's state lock where af_unix.c holds its own.
        unsafe { ptr::write_volatile(ptr::addr_of_mut!((*$self.raw()).$($field).+), $value) }
    };
}

impl Sock {
    pub(crate) fn raw(&self) -> *mut b::sock {
        self.sk.get()
    }

    /// # Safety
    ///
    /// `sk` must be a live sock of this family (created by our `create`,
    /// state initialised) and stay live for `'a`.
    pub(crate) unsafe fn from_raw<'a>(sk: *mut b::sock) -> &'a Sock {
        // SAFETY: the caller guarantees `sk` is one of our socks, which
        // `proto.obj_size` lays out as a `Sock`.
        unsafe { &*sk.cast::<Sock>() }
    }

    /// Address of the family state inside a freshly allocated sock.
    pub(crate) fn state_slot(sk: *mut b::sock) -> *mut SockState {
        // SAFETY: only computes a field address inside the allocation.
        unsafe { ptr::addr_of_mut!((*sk.cast::<Sock>()).state) }
    }

    pub(crate) fn state(&self) -> &SockState {
        &self.state
    }

    pub(crate) fn ty(&self) -> SockType {
        self.state.ty
    }

    /// A new counted reference.
    pub(crate) fn get(&self) -> SockRef {
        // SAFETY: we are live, so taking another reference is allowed.
        unsafe { b::mcast_sock_hold(self.raw()) };
        SockRef(NonNull::from(self))
    }

    /// A new counted reference unless the last one is already gone (a sock
    /// found under RCU may be between its last `sock_put` and its deferred
    /// free: taking a reference then would resurrect it).
    pub(crate) fn try_get(&self) -> Option<SockRef> {
        // SAFETY: we are live (or within the grace period of our free),
        // and refcount_inc_not_zero never revives a zero count.
        unsafe { b::mcast_sock_hold_not_zero(self.raw()) }.then(|| SockRef(NonNull::from(self)))
    }

    /// Whether two references name the same socket.
    pub(crate) fn is(&self, other: &Sock) -> bool {
        ptr::eq(self, other)
    }

    /// Identifies the network namespace (for comparisons only).
    pub(crate) fn net_key(&self) -> usize {
        // SAFETY: we are live; sock_net reads a field set at creation.
        unsafe { b::mcast_sock_net(self.raw()) as usize }
    }

    /// The socket is closed (`release` ran).
    pub(crate) fn is_dead(&self) -> bool {
        // SAFETY: we are live; flag bits are read atomically.
        unsafe { b::mcast_sock_flag(self.raw(), b::sock_flags_SOCK_DEAD as i32) }
    }

    pub(crate) fn rcvbuf(&self) -> i32 {
        read_once!(self.sk_rcvbuf)
    }

    pub(crate) fn sndbuf(&self) -> i32 {
        read_once!(self.sk_sndbuf)
    }

    /// Bytes charged to the receive queue.
    pub(crate) fn rmem(&self) -> u32 {
        // SAFETY: we are live; an atomic read.
        unsafe { b::mcast_rmem_alloc(self.raw()) }
    }

    /// The receive queue is at or over SO_RCVBUF: a new message must wait.
    pub(crate) fn rx_full(&self) -> bool {
        self.rmem() as i64 >= self.rcvbuf() as i64
    }

    /// Bytes charged to the send buffer (SIOCOUTQ).
    pub(crate) fn wmem(&self) -> u32 {
        // SAFETY: we are live; an atomic read.
        unsafe { b::mcast_wmem_alloc(self.raw()) }
    }

    /// The socket inode number (as /proc/net/unix shows it).
    pub(crate) fn inode(&self) -> u64 {
        // SAFETY: we are live; sock_i_ino reads under sk_callback_lock.
        unsafe { b::sock_i_ino(self.raw()) as u64 }
    }

    /// The receiver asked for credentials (SO_PASSCRED), or has no socket
    /// yet (a connection not accepted: it may ask later).
    pub(crate) fn wants_creds(&self) -> bool {
        // SAFETY: we are live; reads the socket pointer and a flag bit.
        unsafe { b::mcast_sk_wants_creds(self.raw()) }
    }

    /// One more message lost to a full queue (SO_RXQ_OVFL, /proc).
    pub(crate) fn count_drop(&self) {
        // SAFETY: we are live; an atomic increment.
        unsafe { b::mcast_sk_drops_inc(self.raw()) }
    }

    /// Messages lost to a full queue.
    pub(crate) fn drops(&self) -> u32 {
        // SAFETY: we are live; an atomic read.
        unsafe { b::mcast_sk_drops(self.raw()) }
    }

    /// A pending error or error-queue entry (POLLERR).
    pub(crate) fn has_error(&self) -> bool {
        // SAFETY: we are live; lock-free reads as in datagram_poll.
        unsafe { b::mcast_sock_has_error(self.raw()) }
    }

    /// Marks a sock that never had a `struct socket` (an unaccepted
    /// connection) closed, as sock_orphan() does for the others.
    pub(crate) fn set_dead(&self) {
        // SAFETY: we are live; an atomic bit operation.
        unsafe { b::mcast_sock_set_flag(self.raw(), b::sock_flags_SOCK_DEAD as i32) }
    }

    /// Own send buffer has room (as sock_writeable()).
    pub(crate) fn writable(&self) -> bool {
        // SAFETY: we are live.
        unsafe { b::mcast_sock_writeable(self.raw()) }
    }

    pub(crate) fn shutdown_bits(&self) -> u8 {
        read_once!(self.sk_shutdown)
    }

    pub(crate) fn add_shutdown(&self, bits: u8) {
        let old = self.shutdown_bits();
        write_once!(self.sk_shutdown, old | bits);
    }

    pub(crate) fn sk_state(&self) -> u8 {
        read_once!(self.__sk_common.skc_state)
    }

    pub(crate) fn set_sk_state(&self, state: u8) {
        write_once!(self.__sk_common.skc_state, state);
    }

    pub(crate) fn set_err(&self, errno: Errno) {
        write_once!(self.sk_err, errno.value());
    }

    /// Takes the pending socket error (SO_ERROR semantics).
    pub(crate) fn take_err(&self) -> Option<Errno> {
        // SAFETY: we are live; sock_error() exchanges sk_err atomically.
        Errno::from_ret(unsafe { b::mcast_sock_error(self.raw()) })
    }

    pub(crate) fn state_change(&self) {
        // SAFETY: we are live; sk_state_change is set by sock_init_data.
        unsafe { b::mcast_sk_state_change(self.raw()) }
    }

    pub(crate) fn data_ready(&self) {
        // SAFETY: we are live; sk_data_ready is set by sock_init_data.
        unsafe { b::mcast_sk_data_ready(self.raw()) }
    }

    pub(crate) fn error_report(&self) {
        // SAFETY: we are live.
        unsafe { b::mcast_sk_error_report(self.raw()) }
    }

    /// SIGIO/POLL_HUP to an owner that asked for async notification.
    pub(crate) fn wake_async_hup(&self) {
        // SAFETY: we are live.
        unsafe { b::mcast_sk_wake_async_hup(self.raw()) }
    }

    pub(crate) fn max_backlog(&self) -> u32 {
        read_once!(self.sk_max_ack_backlog)
    }

    pub(crate) fn set_max_backlog(&self, n: u32) {
        write_once!(self.sk_max_ack_backlog, n);
    }

    /// SO_PEERCRED of this socket: the calling task.
    pub(crate) fn set_peercred_current(&self) {
        // SAFETY: we are live; takes sk_peer_lock itself.
        unsafe { b::mcast_init_peercred(self.raw()) }
    }

    /// SO_PEERCRED of this socket: a copy of `from`'s.
    pub(crate) fn copy_peercred(&self, from: &Sock) {
        // SAFETY: both are live; takes our sk_peer_lock itself.
        unsafe { b::mcast_copy_peercred(self.raw(), from.raw()) }
    }

    /// Receive timeout in jiffies (0 for non-blocking).
    pub(crate) fn rcvtimeo(&self, nonblock: bool) -> i64 {
        // SAFETY: we are live.
        unsafe { b::mcast_sock_rcvtimeo(self.raw(), nonblock) as i64 }
    }

    /// Send timeout in jiffies (0 for non-blocking).
    pub(crate) fn sndtimeo(&self, nonblock: bool) -> i64 {
        // SAFETY: we are live.
        unsafe { b::mcast_sock_sndtimeo(self.raw(), nonblock) as i64 }
    }

    /// Length of the next message, if any (SIOCINQ of a datagram socket).
    pub(crate) fn next_len(&self) -> Option<u32> {
        // SAFETY: the helper takes the queue lock itself.
        let len = unsafe { b::mcast_skb_queue_next_len(self.receive_queue()) };
        (len >= 0).then_some(len as u32)
    }

    /// Bytes of all queued messages (SIOCINQ of a seqpacket socket).
    pub(crate) fn queued_bytes(&self) -> u32 {
        // SAFETY: the helper takes the queue lock itself.
        unsafe { b::mcast_skb_queue_bytes(self.receive_queue()) }
    }

    pub(crate) fn receive_queue(&self) -> *mut b::sk_buff_head {
        // SAFETY: only computes a field address of a live sock.
        unsafe { ptr::addr_of_mut!((*self.raw()).sk_receive_queue) }
    }

    /// Drops every queued message.
    pub(crate) fn purge_receive_queue(&self) {
        // SAFETY: skb_queue_purge locks the queue itself.
        unsafe { b::mcast_skb_queue_purge(self.receive_queue()) }
    }

    /// Sleeps on the socket's own wait queue (the one poll and the generic
    /// receive path use) until `ready()`; see [`WaitQueue::wait_until`].
    pub(crate) fn wait_on_socket(&self, timeo: &mut i64, ready: impl FnMut() -> KResult<bool>) -> KResult<()> {
        // SAFETY: we are live and attached to a `struct socket` (only entry
        // points of an open socket call this), so sk_sleep is valid.
        let wq = unsafe { b::mcast_sk_sleep(self.raw()) };
        wait::wait_raw(wq, timeo, ready)
    }

    /// The queue senders sleep on while this socket's receive queue is full.
    pub(crate) fn peer_wait(&self) -> &WaitQueue {
        &self.state.peer_wait
    }
}

/// A counted reference to one of our socks.
pub(crate) struct SockRef(NonNull<Sock>);

// SAFETY: the reference count is atomic and `Sock` is `Sync`.
unsafe impl Send for SockRef {}
// SAFETY: as for `Send`.
unsafe impl Sync for SockRef {}

impl SockRef {
    /// Takes over the reference a fresh allocation holds.
    ///
    /// # Safety
    ///
    /// `sk` is a fully initialised sock of ours and the caller owns one
    /// reference to it, which this value now owns.
    pub(crate) unsafe fn from_new(sk: NonNull<b::sock>) -> SockRef {
        SockRef(sk.cast())
    }
}

impl core::ops::Deref for SockRef {
    type Target = Sock;
    fn deref(&self) -> &Sock {
        // SAFETY: we hold a reference, so the sock is live.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for SockRef {
    fn clone(&self) -> SockRef {
        self.get()
    }
}

impl Drop for SockRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference and give it back.
        unsafe { b::mcast_sock_put(self.0.as_ref().raw()) }
    }
}

/// A slot holding a counted reference to a sock (or nothing) that RCU
/// readers may follow without taking a reference of their own.
///
/// Sound because every sock of the family is freed only after an RCU grace
/// period (`SOCK_RCU_FREE`, set at allocation): a reader that found the
/// pointer while the slot still owned its reference may use the sock until
/// its read-side section ends, even if the slot is emptied (and the
/// reference dropped) meanwhile.
pub(crate) struct SockSlot(AtomicPtr<Sock>);

impl SockSlot {
    pub(crate) fn new(sk: SockRef) -> SockSlot {
        let raw = sk.0.as_ptr();
        core::mem::forget(sk);
        SockSlot(AtomicPtr::new(raw))
    }

    pub(crate) fn empty() -> SockSlot {
        SockSlot(AtomicPtr::new(ptr::null_mut()))
    }

    /// The sock, for the read-side section `_guard` (None: emptied).
    pub(crate) fn get<'g>(&'g self, _guard: &'g RcuGuard) -> Option<&'g Sock> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: a non-null pointer was a counted reference when loaded;
        // the sock is freed only after a grace period (SOCK_RCU_FREE), which
        // cannot end while `_guard` is held (see the type's doc).
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Whether the slot holds `sk` (compares addresses only).
    pub(crate) fn holds(&self, sk: &Sock) -> bool {
        ptr::eq(self.0.load(Ordering::Acquire), sk)
    }

    /// Another counted reference to the sock, if the slot holds one.
    pub(crate) fn get_ref(&self, guard: &RcuGuard) -> Option<SockRef> {
        self.get(guard).and_then(Sock::try_get)
    }

    /// Empties the slot; its reference goes to the caller (None if empty
    /// already: at most one caller gets it).
    pub(crate) fn take(&self) -> Option<SockRef> {
        let p = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        NonNull::new(p).map(SockRef)
    }
}

impl Drop for SockSlot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// The `struct socket` an entry point was called with.
pub(crate) struct Socket(*mut b::socket);

impl Socket {
    /// # Safety
    ///
    /// `sock` must be valid for the duration of the entry point, with `sk`
    /// one of our socks.
    pub(crate) unsafe fn from_raw(sock: *mut b::socket) -> Socket {
        Socket(sock)
    }

    pub(crate) fn raw(&self) -> *mut b::socket {
        self.0
    }

    pub(crate) fn sk(&self) -> &Sock {
        // SAFETY: an open socket's `sk` is one of our live socks (type invariant).
        unsafe { Sock::from_raw((*self.0).sk) }
    }

    /// `sock->state` (SS_CONNECTED etc., reported by the socket layer).
    pub(crate) fn set_connected(&self, connected: bool) {
        let state = if connected { b::socket_state_SS_CONNECTED } else { b::socket_state_SS_UNCONNECTED };
        // SAFETY: the socket is valid; the state is only read by the socket layer.
        unsafe { ptr::write_volatile(ptr::addr_of_mut!((*self.0).state), state) };
    }

    /// SO_PASSCRED is set.
    pub(crate) fn passcred(&self) -> bool {
        // SAFETY: the socket is valid; a bit test.
        unsafe { b::mcast_passcred(self.0) }
    }

    /// Attaches an accepted sock to this (new) socket, which takes over the
    /// reference; flags like SO_PASSCRED are inherited from `listener`.
    pub(crate) fn graft(&self, sk: SockRef, listener: &Socket) {
        let raw = sk.raw();
        core::mem::forget(sk);
        // SAFETY: `self` is the new socket accept() is filling in and `sk` an
        // unattached (embryo) sock whose reference the socket now owns (it
        // is put in `release`).
        unsafe {
            b::mcast_sock_graft(raw, self.0);
            b::mcast_inherit_flags(listener.0, self.0);
        }
    }
}
