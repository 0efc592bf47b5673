// SPDX-License-Identifier: GPL-2.0

//! Safe views of the family's sockets, generic over the state a family keeps
//! in each (this module knows nothing of what that state is).
//!
//! - [`Sock<S>`]: one of our `struct sock`s, the wait queue senders sleep on
//!   while it is full, its POLLOUT relay, then the family's state `S`
//!   (`proto.obj_size` covers all of it: [`Sock::<S>::OBJ_SIZE`]). Borrowed
//!   as `&Sock<S>` while the caller holds a reference.
//! - [`SockRef<S>`]: a counted reference (`sock_hold`/`sock_put`), the
//!   kernel crate's `ARef`.
//! - [`SockSlot<S>`]: a counted reference RCU readers may follow.
//! - [`Socket<S>`]: the `struct socket` an entry point was called with;
//!   [`NewSocket<S>`]: accept's socket before a sock is grafted on it.
//!
//! Field accesses use `READ_ONCE`-style volatile reads where the socket layer
//! changes the field without our locks (buffer sizes, memory counters).

use super::bindings as b;
use super::errno::{to_result, Errno, ErrnoResult};
use super::rcu::RcuGuard;
use super::wait::{self, Relay, WaitQueue};
use core::marker::PhantomData;
use core::mem::size_of;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::ffi::c_int;
use kernel::init::PinInit;
use kernel::types::{ARef, AlwaysRefCounted, Opaque};


/// The part of every sock of the family that does not depend on the state
/// type (what the skb destructors reach from a bare `struct sock`).
#[repr(C)]
struct Head {
    sk: RawSock,
    /// Senders waiting for room in this socket's receive queue (and
    /// connectors waiting for room in a listener's accept queue).
    peer_wait: WaitQueue,
    /// Hooked on a full peer's `peer_wait` while this socket's pollers wait
    /// for POLLOUT.
    relay: Relay,
}

/// A socket of the family: the generic `struct sock` (all the socket layer
/// sees), the family's wait queues, then the family's state.
#[repr(C)]
pub(crate) struct Sock<S> {
    head: Head,
    state: S,
}

/// The `struct sock` itself. `Sock<S>` is `Send`/`Sync` exactly when its
/// state is (the other parts are).
#[repr(transparent)]
struct RawSock(Opaque<b::sock>);

// SAFETY: `struct sock` is shared between CPUs by design; the fields we touch
// are either read/written with volatile accesses the kernel also uses
// lock-free (READ_ONCE/WRITE_ONCE), or protected by the socket's locks.
unsafe impl Send for RawSock {}
// SAFETY: as for `Send`.
unsafe impl Sync for RawSock {}

// SAFETY: `sock_hold`/`sock_put` are the sock's reference count; a sock is
// freed only when it drops to zero (and then after an RCU grace period).
unsafe impl<S> AlwaysRefCounted for Sock<S> {
    fn inc_ref(&self) {
        // SAFETY: we are live, so taking another reference is allowed.
        unsafe { b::mcast_sock_hold(self.raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: the caller owns a reference and gives it back.
        unsafe { b::mcast_sock_put(obj.cast::<b::sock>().as_ptr()) }
    }
}

/// A counted reference to one of our socks.
pub(crate) type SockRef<S> = ARef<Sock<S>>;

/// Wakes the senders waiting for room in `sk`, whatever its state type.
///
/// # Safety
///
/// `sk` is a live sock of the family (allocated by [`Sock::alloc`]).
pub(crate) unsafe fn wake_peer_waiters(sk: *mut b::sock, mask: u32) {
    // SAFETY: every sock of the family starts with a `Head` (`repr(C)`,
    // first field), and `sk` is live (caller's contract).
    unsafe { (*sk.cast::<Head>()).peer_wait.wake(mask) }
}

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

impl<S> Sock<S> {
    /// What `proto.obj_size` must be for socks of this state type.
    pub(crate) const OBJ_SIZE: usize = size_of::<Self>();

    /// Allocates a sock with its state initialised by `init` and attaches it
    /// to `sock` (NULL: a connection's server side, attached at accept).
    ///
    /// # Safety
    ///
    /// `net` is live; `proto` is registered with `obj_size` [`Self::OBJ_SIZE`]
    /// and stays registered while socks made from it exist; `family` is the
    /// family it was registered for; `sock` is NULL or the caller's new
    /// `struct socket` without a sock.
    pub(crate) unsafe fn alloc<E>(
        net: *mut b::net,
        sock: *mut b::socket,
        proto: *mut b::proto,
        family: c_int,
        sk_type: u16,
        kern: c_int,
        init: impl PinInit<S, E>,
    ) -> ErrnoResult<SockRef<S>> {
        // SAFETY: the caller's contract; sk_alloc returns a zeroed object of
        // `obj_size` bytes or NULL.
        let raw = unsafe { b::sk_alloc(net, family, kernel::bindings::GFP_KERNEL, proto, kern) };
        if raw.is_null() {
            return Err(Errno::ENOMEM);
        }
        let this = raw.cast::<Self>();
        // SAFETY: a new `Sock<S>`-sized object (obj_size) that nobody else
        // sees yet; `sock` is NULL or the caller's new socket. The wait
        // queues and the state are initialised in place (they are pinned
        // inside the sock) before any entry point can read them, and dropped
        // in `destruct`; the relay is bound to its own sock.
        unsafe {
            b::sock_init_data(sock, raw);
            // Freed only after an RCU grace period, so RCU readers may use a
            // sock they found without a reference (see `SockSlot`).
            b::mcast_sock_set_flag(raw, b::sock_flags_SOCK_RCU_FREE as i32);
            (*raw).sk_type = sk_type;
            let head = ptr::addr_of_mut!((*this).head);
            let inits = (
                WaitQueue::new().__pinned_init(ptr::addr_of_mut!((*head).peer_wait)),
                Relay::new().__pinned_init(ptr::addr_of_mut!((*head).relay)),
            );
            if inits.0.is_err() || inits.1.is_err() || init.__pinned_init(ptr::addr_of_mut!((*this).state)).is_err() {
                (*raw).sk_destruct = None;
                if !sock.is_null() {
                    (*sock).sk = ptr::null_mut();
                }
                b::sk_free(raw);
                return Err(Errno::ENOMEM);
            }
            (*head).relay.bind(raw);
            (*raw).sk_destruct = Some(destruct::<S>);
            // The reference sk_alloc gave us becomes the `SockRef`'s.
            Ok(ARef::from_raw(NonNull::new_unchecked(this)))
        }
    }

    /// A new sock like this one (same namespace, family, protocol and type)
    /// with no `struct socket`: the server side of a connection.
    pub(crate) fn new_sibling<E>(&self, init: impl PinInit<S, E>) -> ErrnoResult<SockRef<S>> {
        let raw = self.raw();
        // SAFETY: we are live and were made by `alloc`, so our proto (with
        // the right obj_size, registered while we exist), family and
        // namespace satisfy its contract; NULL asks for no socket.
        unsafe {
            let (net, proto, family, ty) = (b::mcast_sock_net(raw), (*raw).__sk_common.skc_prot, (*raw).__sk_common.skc_family, (*raw).sk_type);
            Self::alloc(net, ptr::null_mut(), proto, family as c_int, ty, 0, init)
        }
    }

    pub(crate) fn raw(&self) -> *mut b::sock {
        self.head.sk.0.get()
    }

    /// # Safety
    ///
    /// `sk` must be a live sock made by [`Sock::alloc`] for this state type
    /// and stay live for `'a`.
    pub(crate) unsafe fn from_raw<'a>(sk: *mut b::sock) -> &'a Sock<S> {
        // SAFETY: the caller guarantees `sk` is one of our socks, which
        // `proto.obj_size` lays out as a `Sock<S>`.
        unsafe { &*sk.cast::<Sock<S>>() }
    }

    /// The family's state.
    pub(crate) fn state(&self) -> &S {
        &self.state
    }

    /// A new counted reference.
    pub(crate) fn get(&self) -> SockRef<S> {
        ARef::from(self)
    }

    /// A new counted reference unless the last one is already gone (a sock
    /// found under RCU may be between its last `sock_put` and its deferred
    /// free: taking a reference then would resurrect it).
    pub(crate) fn try_get(&self) -> Option<SockRef<S>> {
        // SAFETY: we are live (or within the grace period of our free),
        // and refcount_inc_not_zero never revives a zero count; on success
        // the new reference is the `ARef`'s.
        unsafe { b::mcast_sock_hold_not_zero(self.raw()).then(|| ARef::from_raw(NonNull::from(self))) }
    }

    /// Whether two references name the same socket.
    pub(crate) fn is(&self, other: &Sock<S>) -> bool {
        ptr::eq(self, other)
    }

    /// The socket cookie (what SO_COOKIE reports): an id unique for the boot.
    pub(crate) fn cookie(&self) -> u64 {
        // Once made it never changes: atomic64_read(&sk->sk_cookie), inline.
        let made = read_once!(self.__sk_common.skc_cookie.counter);
        if made != 0 {
            return made as u64;
        }
        // SAFETY: we are live; the helper makes the cookie on first use,
        // atomically.
        unsafe { b::mcast_sock_cookie(self.raw()) }
    }

    /// The address family (for the addresses it reports).
    pub(crate) fn family(&self) -> u16 {
        read_once!(self.__sk_common.skc_family)
    }

    /// Identifies the network namespace (for comparisons only).
    pub(crate) fn net_key(&self) -> usize {
        // SAFETY: we are live; sock_net reads a field set at creation.
        unsafe { b::mcast_sock_net(self.raw()) as usize }
    }

    /// The socket is closed (`release` ran).
    pub(crate) fn is_dead(&self) -> bool {
        // sock_flag(): a test_bit of `sk_flags`, inline.
        read_once!(self.__sk_common.__bindgen_anon_5.skc_flags) & (1 << b::sock_flags_SOCK_DEAD) != 0
    }

    pub(crate) fn rcvbuf(&self) -> i32 {
        read_once!(self.sk_rcvbuf)
    }

    pub(crate) fn sndbuf(&self) -> i32 {
        read_once!(self.sk_sndbuf)
    }

    /// Bytes charged to the receive queue.
    pub(crate) fn rmem(&self) -> u32 {
        // atomic_read(&sk->sk_rmem_alloc), inline.
        read_once!(self.sk_backlog.rmem_alloc.counter) as u32
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
        // mcast_sk_wants_creds(), inline: READ_ONCE(sk->sk_socket), then
        // test_bit(SOCK_PASSCRED) on it.
        let sock = read_once!(self.sk_socket);
        if sock.is_null() {
            return true;
        }
        // SAFETY: callers ask while the sock can still receive: under the
        // receiver's lock before its release marked it dead, or under RCU
        // in a fan-out; a `struct socket` lives until its sock is orphaned
        // and is freed only after an RCU grace period (sockfs frees inodes
        // through RCU). The flag word is read atomically as test_bit does.
        let flags = unsafe { ptr::read_volatile(ptr::addr_of!((*sock).flags)) };
        flags & (1 << b::SOCK_PASSCRED) != 0
    }

    /// One more message lost to a full queue (SO_RXQ_OVFL, /proc).
    pub(crate) fn count_drop(&self) {
        // SAFETY: we are live; an atomic increment.
        unsafe { b::mcast_sk_drops_inc(self.raw()) }
    }

    /// Messages lost to a full queue.
    pub(crate) fn drops(&self) -> u32 {
        // atomic_read(&sk->sk_drops), inline.
        read_once!(self.sk_drops.counter) as u32
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
        to_result(unsafe { b::mcast_sock_error(self.raw()) }).err()
    }

    pub(crate) fn state_change(&self) {
        // SAFETY: we are live; sk_state_change is set by sock_init_data.
        unsafe { b::mcast_sk_state_change(self.raw()) }
    }

    pub(crate) fn data_ready(&self) {
        // sk->sk_data_ready(sk), called from here (no helper in between).
        if let Some(ready) = read_once!(self.sk_data_ready) {
            // SAFETY: we are live; sock_init_data set the callback, which
            // takes the sock it belongs to.
            unsafe { ready(self.raw()) }
        }
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
    pub(crate) fn copy_peercred(&self, from: &Sock<S>) {
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
        // sock_sndtimeo(), inline.
        if nonblock {
            0
        } else {
            read_once!(self.sk_sndtimeo) as i64
        }
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
    pub(crate) fn wait_on_socket(&self, timeo: &mut i64, ready: impl FnMut() -> ErrnoResult<bool>) -> ErrnoResult<()> {
        // We are live and attached to a `struct socket` (only entry points of
        // an open socket call this), so sk_sleep is valid.
        // SAFETY: sk_sleep of a live socket is a live wait queue head.
        unsafe { wait::wait_raw(b::mcast_sk_sleep(self.raw()), timeo, ready) }
    }

    /// The queue senders sleep on while this socket's receive queue is full.
    pub(crate) fn peer_wait(&self) -> &WaitQueue {
        &self.head.peer_wait
    }

    /// The entry that relays wake-ups of a full peer to this socket's pollers.
    pub(crate) fn relay(&self) -> &Relay {
        &self.head.relay
    }
}

/// `sk_destruct` of the family's socks: the last reference is gone.
///
/// # Safety
///
/// Called once by `__sk_destruct()` on a sock made by [`Sock::alloc`].
unsafe extern "C" fn destruct<S>(sk: *mut b::sock) {
    let this = sk.cast::<Sock<S>>();
    // SAFETY: nothing can reach the sock any more. Queued messages go first
    // (their destructors use the wait queues), then the state and the
    // wait queues are dropped, exactly once.
    unsafe {
        b::mcast_skb_queue_purge(ptr::addr_of_mut!((*sk).sk_receive_queue));
        ptr::drop_in_place(ptr::addr_of_mut!((*this).state));
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
pub(crate) struct SockSlot<S>(AtomicPtr<Sock<S>>);

impl<S> SockSlot<S> {
    pub(crate) fn new(sk: SockRef<S>) -> SockSlot<S> {
        SockSlot(AtomicPtr::new(ARef::into_raw(sk).as_ptr()))
    }

    pub(crate) fn empty() -> SockSlot<S> {
        SockSlot(AtomicPtr::new(ptr::null_mut()))
    }

    /// The sock, for the read-side section `_guard` (None: emptied).
    pub(crate) fn get<'g>(&'g self, _guard: &'g RcuGuard) -> Option<&'g Sock<S>> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: a non-null pointer was a counted reference when loaded;
        // the sock is freed only after a grace period (SOCK_RCU_FREE), which
        // cannot end while `_guard` is held (see the type's doc).
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Whether the slot holds `sk` (compares addresses only).
    pub(crate) fn holds(&self, sk: &Sock<S>) -> bool {
        ptr::eq(self.0.load(Ordering::Acquire), sk)
    }

    /// Another counted reference to the sock, if the slot holds one.
    pub(crate) fn get_ref(&self, guard: &RcuGuard) -> Option<SockRef<S>> {
        self.get(guard).and_then(Sock::try_get)
    }

    /// Empties the slot; its reference goes to the caller (None if empty
    /// already: at most one caller gets it).
    pub(crate) fn take(&self) -> Option<SockRef<S>> {
        let p = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: a non-null pointer is the counted reference the slot owned
        // (from `ARef::into_raw`); the swap hands it to exactly one caller.
        NonNull::new(p).map(|p| unsafe { ARef::from_raw(p) })
    }
}

impl<S> Drop for SockSlot<S> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// The `struct socket` an entry point was called with.
pub(crate) struct Socket<S>(*mut b::socket, PhantomData<S>);

impl<S> Socket<S> {
    /// # Safety
    ///
    /// `sock` must be valid for the duration of the entry point, with `sk`
    /// one of our socks of state type `S`.
    pub(crate) unsafe fn from_raw(sock: *mut b::socket) -> Socket<S> {
        Socket(sock, PhantomData)
    }

    pub(crate) fn raw(&self) -> *mut b::socket {
        self.0
    }

    pub(crate) fn sk(&self) -> &Sock<S> {
        // SAFETY: an open socket's `sk` is one of our live socks (type invariant).
        unsafe { Sock::from_raw((*self.0).sk) }
    }

    /// `sock->state` (SS_CONNECTED etc., reported by the socket layer).
    pub(crate) fn set_connected(&self, connected: bool) {
        set_connected(self.0, connected);
    }

    /// SO_PASSCRED is set.
    pub(crate) fn passcred(&self) -> bool {
        // SAFETY: the socket is valid for the call we serve; test_bit() of
        // its flags, read atomically as test_bit does.
        let flags = unsafe { ptr::read_volatile(ptr::addr_of!((*self.0).flags)) };
        flags & (1 << b::SOCK_PASSCRED) != 0
    }
}

fn set_connected(sock: *mut b::socket, connected: bool) {
    let state = if connected { b::socket_state_SS_CONNECTED } else { b::socket_state_SS_UNCONNECTED };
    // SAFETY: callers pass a socket valid for their entry point; the state is
    // only read by the socket layer.
    unsafe { ptr::write_volatile(ptr::addr_of_mut!((*sock).state), state) };
}

/// The new `struct socket` of an accept call, before a sock is grafted on
/// it: all it offers is [`NewSocket::graft`].
pub(crate) struct NewSocket<S>(*mut b::socket, PhantomData<S>);

impl<S> NewSocket<S> {
    /// # Safety
    ///
    /// `sock` is the new socket of the current accept call (valid for the
    /// call, no sock attached yet).
    pub(crate) unsafe fn from_raw(sock: *mut b::socket) -> NewSocket<S> {
        NewSocket(sock, PhantomData)
    }

    /// Attaches an accepted sock, which the socket takes over (it is put in
    /// `release`), marks it connected, and inherits flags like SO_PASSCRED
    /// from `listener`.
    pub(crate) fn graft(self, sk: SockRef<S>, listener: &Socket<S>) {
        let raw = ARef::into_raw(sk).cast::<b::sock>().as_ptr();
        // SAFETY: `self` is the new socket accept() is filling in and `sk` an
        // unattached (embryo) sock whose reference the socket now owns.
        unsafe {
            b::mcast_sock_graft(raw, self.0);
            b::mcast_inherit_flags(listener.0, self.0);
        }
        set_connected(self.0, true);
    }
}
