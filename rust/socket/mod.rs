// SPDX-License-Identifier: GPL-2.0

//! What a socket of the family is: its two types, the per-socket state and
//! the locks that guard it. What both types do is in the files of this
//! folder, one concept each:
//!
//! - [`ops`]: the operations a socket type provides (the trait the entry
//!   shims are generic over) and the option and ioctl decoding both share;
//! - [`bind`]: bind, autobind, name lookups and getsockname/getpeername;
//! - [`poll`]: poll and the POLLOUT relay;
//! - [`close`]: shutdown, release and hang-up;
//! - [`rules`]: the pure state rules of listen, connect and shutdown.
//!
//! Only datagram and seqpacket sockets exist (multicast on a byte stream has
//! no message boundaries to deliver whole). Unlike AF_UNIX, which accepts
//! `protocol == PF_UNIX` and turns SOCK_RAW into SOCK_DGRAM, the family takes
//! protocol 0 only and refuses every other type.
//!
//! # Locks, in the order they may be taken
//!
//! | lock | kind | guards | taken by |
//! |------|------|--------|----------|
//! | `SockState::owner` | mutex | [`Admission`] of an accepted connection | ADMIT_MEMBER, PEER_FILTER on it |
//! | `SockState::join_lock` | mutex | nothing: orders one socket's joins, leaves, admissions | those calls |
//! | `SockState::bind_lock` | mutex | nothing: orders one socket's bind and autobind | bind, autobind |
//! | `Group::order` | mutex | a group's delivery order and per-send scratch | send to a group, owner close |
//! | `RcuBox` writer lock of a member list | spinlock | the published list | join, leave, unlink |
//! | `SockState::inner` | spinlock | [`Inner`] | short sections everywhere |
//! | name table, registry | spinlock | their trees | bind, lookup, release, /proc |
//!
//! At most one socket's `inner` is held at a time (no order between
//! sockets); the name table and registry locks are innermost. The three
//! socket mutexes serialise calls of the socket's own user and are never
//! taken on a close, release or hang-up path, so no close waits for another
//! user; none is held across a wait for another socket. `bind_lock` and
//! `join_lock` guard no data of their own: what they order (the address,
//! the membership table) is read and emptied by close paths, which may only
//! take `inner`. The POLLOUT relay is changed under `inner`, and inside the
//! helpers under the lock of the wait queue it hooks. Sending to a group
//! takes `order`, then (under RCU) each recipient's `inner` in turn.

pub(crate) mod bind;
pub(crate) mod close;
pub(crate) mod ops;
pub(crate) mod poll;
pub(crate) mod rules;

use crate::address::Address;
use crate::defs;
use crate::group::{Group, Memberships};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::filter::PeerFilter;
use crate::sys::path::HeldPath;
use crate::ring::Ring;
use crate::sys::once::OnceBox;
use crate::sys::skb::Queued;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::alloc::flags::GFP_ATOMIC;
use kernel::prelude::*;
use kernel::sync::lock::{mutex::MutexBackend, spinlock::SpinLockBackend, Guard};
use kernel::sync::{Arc, Mutex, SpinLock};

type SpinGuard<'a, T> = Guard<'a, T, SpinLockBackend>;
type MutexGuard<'a, T> = Guard<'a, T, MutexBackend>;

/// One of the family's socks (the generic sock wrapper with this state).
pub(crate) type Sock = crate::sys::sock::Sock<SockState>;
/// A counted reference to a sock.
pub(crate) type SockRef = crate::sys::sock::SockRef<SockState>;
/// The `struct socket` of an entry point.
pub(crate) type Socket = crate::sys::sock::Socket<SockState>;
/// The new socket of an accept call.
pub(crate) type NewSocket = crate::sys::sock::NewSocket<SockState>;

/// The two socket types of the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SockType {
    Dgram,
    Seqpacket,
}

impl SockType {
    /// Checks a `socket(2)` request: `ty` is the type without SOCK_NONBLOCK
    /// and SOCK_CLOEXEC (the socket layer strips them), `protocol` as passed.
    ///
    /// The protocol is checked first, like AF_UNIX does.
    pub(crate) fn for_create(ty: i32, protocol: i32) -> ErrnoResult<SockType> {
        if protocol != 0 {
            return Err(Errno::EPROTONOSUPPORT);
        }
        match ty {
            defs::SOCK_DGRAM => Ok(SockType::Dgram),
            defs::SOCK_SEQPACKET => Ok(SockType::Seqpacket),
            _ => Err(Errno::ESOCKTNOSUPPORT),
        }
    }

    /// The `SOCK_*` value.
    pub(crate) fn raw(self) -> i32 {
        match self {
            SockType::Dgram => defs::SOCK_DGRAM,
            SockType::Seqpacket => defs::SOCK_SEQPACKET,
        }
    }
}

/// The family's per-socket state, kept in the sock after the generic parts.
#[pin_data]
pub(crate) struct SockState {
    /// Fixed at creation.
    ty: SockType,
    #[pin]
    inner: SpinLock<Inner>,
    /// Serialises bind and autobind of this socket.
    #[pin]
    bind_lock: Mutex<()>,
    /// Serialises this socket's joins, leaves and admissions.
    #[pin]
    join_lock: Mutex<()>,
    /// What the group owner set on an accepted connection; taken before the
    /// client's `join_lock`.
    #[pin]
    owner: Mutex<Admission>,
    /// MCAST_UNIX_PASS_SENDER_ID: received messages carry their sender's id.
    pass_sender_id: AtomicBool,
    /// MCAST_UNIX_RX_RING: where received messages go instead of the
    /// receive queue (set once, under `inner`; read without a lock).
    ring: OnceBox<Ring>,
}

/// Messages queued at a socket of the family carry the sender's address.
impl Queued for SockState {
    type Tag = Address;
}

/// What `inner` guards.
pub(crate) struct Inner {
    /// The bound address (shared with queued messages as their sender).
    pub(in crate::socket) addr: Option<Arc<Address>>,
    /// The socket inode of a pathname socket.
    pub(in crate::socket) path: Option<HeldPath>,
    /// Datagram: the connected destination. Seqpacket: the other end.
    /// Change it with [`poll::set_peer`] so the POLLOUT relay follows.
    pub(in crate::socket) peer: Option<SockRef>,
    /// A listening seqpacket socket's pending connections (their server-side
    /// socks), oldest first.
    pub(in crate::socket) accept_queue: KVec<SockRef>,
    /// `release` ran: nothing may be queued here any more.
    pub(in crate::socket) dead: bool,
    /// The group this socket created (it is the owner).
    pub(in crate::socket) owned_group: Option<Arc<Group>>,
    /// The groups this socket is a member of.
    pub(in crate::socket) groups: Memberships,
    /// A seqpacket connect is in progress (waiting for the listener).
    pub(in crate::socket) connecting: bool,
    /// An accepted connection of a seqpacket group's listener: the group its
    /// client may be admitted to (set before the connection is visible).
    pub(in crate::socket) from_group: Option<Arc<Group>>,
    /// The socket whose `peer_wait` the POLLOUT relay may be hooked on; the
    /// reference keeps that queue alive while the relay may be on it.
    pub(in crate::socket) relay_target: Option<SockRef>,
    /// Datagram: where the last sendto to an abstract name went.
    pub(in crate::socket) last_dest: Option<bind::LastDest>,
    /// Seqpacket: admitted, and in the group's list, so its sends go to the
    /// group (while its table has the group: a hang-up empties it).
    pub(in crate::socket) sends_to_group: bool,
}

/// What other modules may read and change under `inner` (the fields are
/// private to this folder; each method is one short step under the lock the
/// caller holds).
impl Inner {
    /// The bound address.
    pub(crate) fn address(&self) -> Option<&Arc<Address>> {
        self.addr.as_ref()
    }

    /// The connected peer.
    pub(crate) fn peer(&self) -> Option<&SockRef> {
        self.peer.as_ref()
    }

    /// Connected to some socket other than `sk`.
    pub(crate) fn connected_elsewhere(&self, sk: &Sock) -> bool {
        self.peer.as_ref().is_some_and(|p| !p.is(sk))
    }

    /// Connected to `sk`.
    pub(crate) fn connected_to(&self, sk: &Sock) -> bool {
        self.peer.as_ref().is_some_and(|p| p.is(sk))
    }

    /// `release` ran: nothing may be queued here any more.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead
    }

    /// The group this socket owns.
    pub(crate) fn owned_group(&self) -> Option<&Arc<Group>> {
        self.owned_group.as_ref()
    }

    /// Makes this socket the owner of `group` (group creation, before the
    /// name is published).
    pub(crate) fn set_owned_group(&mut self, group: Arc<Group>) {
        self.owned_group = Some(group);
    }

    /// The groups this socket is a member of.
    pub(crate) fn memberships(&self) -> &Memberships {
        &self.groups
    }

    /// The membership table, to change (its own methods keep it consistent).
    pub(crate) fn memberships_mut(&mut self) -> &mut Memberships {
        &mut self.groups
    }

    /// The group an accepted connection's client may be admitted to.
    pub(crate) fn listener_group(&self) -> Option<&Arc<Group>> {
        self.from_group.as_ref()
    }

    /// Starts a seqpacket connect: `EALREADY` if one is under way.
    pub(crate) fn begin_connect(&mut self) -> ErrnoResult<()> {
        if self.connecting {
            return Err(Errno::EALREADY);
        }
        self.connecting = true;
        Ok(())
    }

    pub(crate) fn end_connect(&mut self) {
        self.connecting = false;
    }

    /// Sets up a connection's server side (private until queued): its
    /// peer, the listener's address and group.
    pub(crate) fn init_embryo(&mut self, peer: SockRef, addr: Option<Arc<Address>>, from_group: Option<Arc<Group>>) {
        self.peer = Some(peer);
        self.addr = addr;
        self.from_group = from_group;
    }

    /// Pending connections of a listener.
    pub(crate) fn pending(&self) -> usize {
        self.accept_queue.len()
    }

    /// Queues a pending connection (GFP_ATOMIC: the lock is held).
    pub(crate) fn push_pending(&mut self, embryo: SockRef) -> ErrnoResult<()> {
        Ok(self.accept_queue.push(embryo, GFP_ATOMIC)?)
    }

    /// The group a seqpacket member's sends go to: the one it was admitted
    /// to, once the group's list has it.
    pub(crate) fn sending_group(&self) -> Option<&Arc<Group>> {
        self.memberships().first().filter(|_| self.sends_to_group)
    }

    /// Its admission is complete (see [`Inner::sending_group`]).
    pub(crate) fn set_sends_to_group(&mut self) {
        self.sends_to_group = true;
    }

    /// The socket the last sendto found at `raw`, if that still holds at
    /// the name table's `generation` (see [`bind::LastDest`]).
    pub(crate) fn cached_dest(&self, raw: &[u8], generation: u64) -> Option<SockRef> {
        self.last_dest.as_ref()?.hit(raw, generation).cloned()
    }

    /// Remembers a sendto's destination; the one it replaces is returned,
    /// to be dropped unlocked.
    pub(crate) fn remember_dest(&mut self, dest: bind::LastDest) -> Option<bind::LastDest> {
        self.last_dest.replace(dest)
    }

    /// Takes the oldest pending connection (no allocation).
    pub(crate) fn take_pending(&mut self) -> Option<SockRef> {
        crate::util::vec::remove_at(&mut self.accept_queue, 0, GFP_ATOMIC)
    }
}

/// What the owner of a seqpacket group set on one accepted connection.
pub(crate) struct Admission {
    /// Its client was admitted (MCAST_UNIX_ADMIT_MEMBER).
    pub(crate) admitted: bool,
    /// The owner's filter for what the client receives from the group
    /// (MCAST_UNIX_PEER_FILTER).
    pub(crate) peer_filter: Option<Arc<PeerFilter>>,
}

impl SockState {
    pub(crate) fn new(ty: SockType) -> impl PinInit<Self> {
        pin_init!(SockState {
            ty,
            inner <- kernel::new_spinlock!(
                Inner {
                    addr: None,
                    path: None,
                    peer: None,
                    accept_queue: KVec::new(),
                    dead: false,
                    owned_group: None,
                    groups: Memberships::new(),
                    connecting: false,
                    from_group: None,
                    relay_target: None,
                    last_dest: None,
                    sends_to_group: false,
                },
                "mcast_unix_sock"
            ),
            bind_lock <- kernel::new_mutex!((), "mcast_unix_bind"),
            join_lock <- kernel::new_mutex!((), "mcast_unix_join"),
            owner <- kernel::new_mutex!(Admission { admitted: false, peer_filter: None }, "mcast_unix_owner"),
            pass_sender_id: AtomicBool::new(false),
            ring: OnceBox::new(),
        })
    }
}

/// What the domain reads and locks in a sock's state.
impl Sock {
    pub(crate) fn ty(&self) -> SockType {
        self.state().ty
    }

    /// The state spinlock (see the lock table in the module doc).
    pub(crate) fn inner(&self) -> SpinGuard<'_, Inner> {
        self.state().inner.lock()
    }

    /// Orders this socket's bind and autobind.
    pub(crate) fn bind_serial(&self) -> MutexGuard<'_, ()> {
        self.state().bind_lock.lock()
    }

    /// Orders this socket's joins, leaves and admissions.
    pub(crate) fn join_serial(&self) -> MutexGuard<'_, ()> {
        self.state().join_lock.lock()
    }

    /// The owner's settings of an accepted connection, locked.
    pub(crate) fn admission(&self) -> MutexGuard<'_, Admission> {
        self.state().owner.lock()
    }

    /// Received messages carry their sender's id (MCAST_UNIX_PASS_SENDER_ID).
    pub(crate) fn passes_sender_id(&self) -> bool {
        self.state().pass_sender_id.load(Ordering::Relaxed)
    }

    pub(crate) fn set_pass_sender_id(&self, on: bool) {
        self.state().pass_sender_id.store(on, Ordering::Relaxed);
    }

    /// The address this socket is bound to.
    pub(crate) fn address(&self) -> Option<Arc<Address>> {
        self.inner().addr.clone()
    }

    /// The group this socket owns, if it created one.
    pub(crate) fn owned_group(&self) -> Option<Arc<Group>> {
        self.inner().owned_group.clone()
    }

    /// The connected peer.
    pub(crate) fn peer(&self) -> Option<SockRef> {
        self.inner().peer.clone()
    }

    /// The group a seqpacket socket was admitted to (its sends go there).
    pub(crate) fn admitted_group(&self) -> Option<Arc<Group>> {
        if self.ty() != SockType::Seqpacket {
            return None;
        }
        self.inner().sending_group().cloned()
    }

    /// Where this socket's sends without an address go, if that is a group:
    /// the group of a datagram socket's connected owner, or a seqpacket
    /// member's group.
    pub(crate) fn send_group(&self) -> Option<Arc<Group>> {
        match self.ty() {
            SockType::Dgram => self.peer().and_then(|p| p.owned_group()),
            SockType::Seqpacket => self.admitted_group(),
        }
    }

    /// A receiver that would make a sender wait (a ring without room asks
    /// its reader to wake the senders).
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        !self.is_dead()
            && self.shutdown_bits() & defs::RCV_SHUTDOWN == 0
            && match self.ring() {
                None => self.rx_full(),
                Some(r) => !r.has_room(),
            }
    }

    /// The receive ring, if it has one.
    pub(crate) fn ring(&self) -> Option<&Ring> {
        self.state().ring.get()
    }

    /// Installs the receive ring (caller holds `inner`); gives it back if
    /// there is one.
    pub(crate) fn set_ring(&self, ring: KBox<Ring>) -> Result<(), KBox<Ring>> {
        self.state().ring.set(ring)
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::kcheck_eq;

    pub(crate) fn create_accepts_dgram_and_seqpacket() -> CaseResult {
        kcheck_eq!(SockType::for_create(defs::SOCK_DGRAM, 0), Ok(SockType::Dgram));
        kcheck_eq!(SockType::for_create(defs::SOCK_SEQPACKET, 0), Ok(SockType::Seqpacket));
        Ok(())
    }

    pub(crate) fn create_refuses_other_types() -> CaseResult {
        for ty in [1 /* STREAM */, 3 /* RAW */, 4 /* RDM */, 6 /* DCCP */, 10, -1] {
            kcheck_eq!(SockType::for_create(ty, 0), Err(Errno::ESOCKTNOSUPPORT));
        }
        Ok(())
    }

    pub(crate) fn create_refuses_protocols() -> CaseResult {
        // Protocol is checked before the type, as AF_UNIX does.
        kcheck_eq!(SockType::for_create(defs::SOCK_DGRAM, 1), Err(Errno::EPROTONOSUPPORT));
        kcheck_eq!(SockType::for_create(1, 7), Err(Errno::EPROTONOSUPPORT));
        kcheck_eq!(SockType::for_create(defs::SOCK_SEQPACKET, -1), Err(Errno::EPROTONOSUPPORT));
        Ok(())
    }

    crate::kunit_cases![
        create_accepts_dgram_and_seqpacket,
        create_refuses_other_types,
        create_refuses_protocols,
    ];
}
