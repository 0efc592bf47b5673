// SPDX-License-Identifier: GPL-2.0

//! What a socket of the family is, and what both types share: creation
//! rules, the per-socket state, bind, names, shutdown, release, poll, ioctl.
//!
//! Only datagram and seqpacket sockets exist (multicast on a byte stream has
//! no message boundaries to deliver whole). Unlike AF_UNIX, which accepts
//! `protocol == PF_UNIX` and turns SOCK_RAW into SOCK_DGRAM, the family takes
//! protocol 0 only and refuses every other type.
//!
//! Locking: `inner` (a spinlock, like af_unix's unix_state_lock) guards the
//! peer, the address, the accept queue and the memberships; at most one
//! socket's `inner` is held at a time, so there is no lock order between
//! sockets. The mutexes serialise one socket's own calls and are never taken
//! on a close, release or hang-up path, so no socket's close can wait for
//! another user: `bind_lock` serialises bind/autobind (which may sleep in the
//! filesystem), `join_lock` the socket's joins, leaves and admissions (never
//! held across a wait), `owner_lock` the group owner's options on an accepted
//! connection. A seqpacket connect holds no lock while it waits for room in
//! the listener's backlog (`Inner::connecting` keeps a second one out).

use crate::address::{Address, Kind, Request};
use crate::group::{self, Group, Memberships};
use crate::names::{NameKey, Names};
use crate::sys::errno::{Errno, KResult};
use crate::sys::family::{family, names, random_u32};
use crate::sys::filter::PeerFilter;
use crate::sys::path::HeldPath;
use crate::sys::sock::{self, Sock, SockRef, Socket};
use crate::sys::wait::{Relay, WaitQueue};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex, SpinLock};

/// `SOCK_DGRAM` from `linux/net.h`.
pub(crate) const SOCK_DGRAM: i32 = 2;
/// `SOCK_SEQPACKET` from `linux/net.h`.
pub(crate) const SOCK_SEQPACKET: i32 = 5;

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
    pub(crate) fn for_create(ty: i32, protocol: i32) -> KResult<SockType> {
        if protocol != 0 {
            return Err(Errno::EPROTONOSUPPORT);
        }
        match ty {
            SOCK_DGRAM => Ok(SockType::Dgram),
            SOCK_SEQPACKET => Ok(SockType::Seqpacket),
            _ => Err(Errno::ESOCKTNOSUPPORT),
        }
    }
}

/// The family's per-socket state, kept next to the `struct sock`.
#[pin_data]
pub(crate) struct SockState {
    /// Fixed at creation.
    pub(crate) ty: SockType,
    #[pin]
    pub(crate) inner: SpinLock<Inner>,
    /// Serialises bind and autobind of this socket.
    #[pin]
    pub(crate) bind_lock: Mutex<()>,
    /// Serialises this socket's joins, leaves and admissions.
    #[pin]
    pub(crate) join_lock: Mutex<()>,
    /// Serialises the group owner's options on an accepted connection
    /// (ADMIT_MEMBER, PEER_FILTER); taken before the client's `join_lock`.
    #[pin]
    pub(crate) owner_lock: Mutex<()>,
    /// Senders waiting for room in this socket's receive queue (and
    /// connectors waiting for room in a listener's accept queue).
    #[pin]
    pub(crate) peer_wait: WaitQueue,
    /// Hooked on a full peer's `peer_wait` while this socket's pollers wait
    /// for POLLOUT (changed under `inner`).
    #[pin]
    pub(crate) relay: Relay,
}

/// What `inner` guards.
pub(crate) struct Inner {
    /// The bound address (shared with queued messages as their sender).
    pub(crate) addr: Option<Arc<Address>>,
    /// The socket inode of a pathname socket.
    pub(crate) path: Option<HeldPath>,
    /// Datagram: the connected destination. Seqpacket: the other end.
    /// Change it with [`set_peer`] so the POLLOUT relay follows.
    pub(crate) peer: Option<SockRef>,
    /// A listening seqpacket socket's pending connections (their server-side
    /// socks), oldest first.
    pub(crate) accept_queue: KVec<SockRef>,
    /// `release` ran: nothing may be queued here any more.
    pub(crate) dead: bool,
    /// The group this socket created (it is the owner).
    pub(crate) owned_group: Option<Arc<Group>>,
    /// The groups this socket is a member of.
    pub(crate) groups: Memberships,
    /// A seqpacket connect is in progress (waiting for the listener).
    pub(crate) connecting: bool,
    /// An accepted connection of a seqpacket group's listener: the group its
    /// client may be admitted to, and whether it was.
    pub(crate) from_group: Option<Arc<Group>>,
    pub(crate) admitted: bool,
    /// The owner's filter for what the client of this accepted connection
    /// receives from the group (MCAST_UNIX_PEER_FILTER).
    pub(crate) peer_filter: Option<Arc<PeerFilter>>,
    /// The socket whose `peer_wait` the POLLOUT relay may be hooked on; the
    /// reference keeps that queue alive while the relay may be on it.
    pub(crate) relay_target: Option<SockRef>,
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
                    admitted: false,
                    peer_filter: None,
                    relay_target: None,
                },
                "mcast_unix_sock"
            ),
            bind_lock <- kernel::new_mutex!((), "mcast_unix_bind"),
            join_lock <- kernel::new_mutex!((), "mcast_unix_join"),
            owner_lock <- kernel::new_mutex!((), "mcast_unix_owner"),
            peer_wait <- WaitQueue::new(),
            relay <- Relay::new(),
        })
    }
}

/// Replaces `sk`'s peer (caller holds `sk`'s `inner`), unhooking the POLLOUT
/// relay; returns the old peer, to be dropped unlocked.
pub(crate) fn set_peer(sk: &Sock, inner: &mut Inner, peer: Option<SockRef>) -> Option<SockRef> {
    drop(unhook_relay(sk, inner));
    core::mem::replace(&mut inner.peer, peer)
}

/// Hooks `sk`'s POLLOUT relay on `target`'s `peer_wait` (caller holds
/// `sk`'s `inner`): true if this call hooked it. A reference to a previous,
/// different target is returned, to be dropped unlocked.
pub(crate) fn hook_relay(sk: &Sock, inner: &mut Inner, target: SockRef) -> (bool, Option<SockRef>) {
    let old = match &inner.relay_target {
        Some(t) if !t.is(&target) => unhook_relay(sk, inner),
        _ => None,
    };
    let hooked = sk.state().relay.hook(target.peer_wait());
    if inner.relay_target.is_none() {
        inner.relay_target = Some(target);
    } else {
        // Already held (same target): this reference goes with the old one.
        return (hooked, old.or(Some(target)));
    }
    (hooked, old)
}

/// Unhooks `sk`'s relay (caller holds `sk`'s `inner`); returns the target's
/// reference, to be dropped unlocked.
pub(crate) fn unhook_relay(sk: &Sock, inner: &mut Inner) -> Option<SockRef> {
    let target = inner.relay_target.take()?;
    sk.state().relay.unhook(target.peer_wait());
    Some(target)
}

/// The address `sk` is bound to.
pub(crate) fn address_of(sk: &Sock) -> Option<Arc<Address>> {
    sk.state().inner.lock().addr.clone()
}

/// The group `sk` owns, if it created one.
pub(crate) fn owned_group(sk: &Sock) -> Option<Arc<Group>> {
    sk.state().inner.lock().owned_group.clone()
}

/// The group a seqpacket socket was admitted to (its sends go there).
pub(crate) fn admitted_group(sk: &Sock) -> Option<Arc<Group>> {
    if sk.ty() != SockType::Seqpacket {
        return None;
    }
    sk.state().inner.lock().groups.first().cloned()
}

/// Where `sk`'s sends without an address go, if that is a group: the group
/// of a datagram socket's connected owner, or a seqpacket member's group.
pub(crate) fn send_group(sk: &Sock) -> Option<Arc<Group>> {
    match sk.ty() {
        SockType::Dgram => peer_of(sk).and_then(|p| owned_group(&p)),
        SockType::Seqpacket => admitted_group(sk),
    }
}

/// Queues a SEND_TO_PEER copy at `sk` unless it closed or shut its receive
/// side meanwhile (then it is no longer a recipient).
pub(crate) fn deliver_if_open(sk: &Sock, skb: crate::sys::skb::Skb) {
    let inner = sk.state().inner.lock();
    if !inner.dead && sk.shutdown_bits() & sock::RCV_SHUTDOWN == 0 {
        skb.deliver(sk);
    }
}

/// Queues a group copy at the member `sk` unless it left the group, closed
/// or shut its receive side meanwhile (leaving empties the membership under
/// the same lock, so nothing arrives once LEAVE, SHUT_RD or close returned).
/// A DROP_WHEN_FULL member that is full now loses it: false (the caller
/// counts the drop).
pub(crate) fn deliver_to_member(sk: &Sock, group: &Group, skb: crate::sys::skb::Skb, drops: bool) -> bool {
    let inner = sk.state().inner.lock();
    if inner.dead || sk.shutdown_bits() & sock::RCV_SHUTDOWN != 0 || !inner.groups.contains(group) {
        return true;
    }
    if drops && sk.rx_full() {
        drop(inner);
        drop(skb);
        return false;
    }
    skb.deliver(sk);
    true
}

/// The connected peer of `sk`.
pub(crate) fn peer_of(sk: &Sock) -> Option<SockRef> {
    sk.state().inner.lock().peer.clone()
}

/// bind(2).
pub(crate) fn bind(sock: &Socket, raw: &[u8]) -> KResult<()> {
    bind_then(sock, raw, |_| Ok(()), |()| {})
}

/// bind(2), with `prepare` run once the address is parsed and before the
/// name is created (it may fail: nothing is undone then), and `install` run
/// with its result before other sockets can find the name (group creation
/// uses it so that a group's address never names a socket that is not yet
/// its owner). Everything that can fail happens before the socket inode of a
/// pathname address is created, so a failed bind leaves no inode behind.
pub(crate) fn bind_then<T>(
    sock: &Socket,
    raw: &[u8],
    prepare: impl FnOnce(&Arc<Address>) -> KResult<T>,
    install: impl FnOnce(T),
) -> KResult<()> {
    let sk = sock.sk();
    let (req, addr) = Address::parse(family(), raw, true)?;
    let addr = match (req, addr) {
        (Request::Autobind, _) => return autobind(sk),
        (_, Some(addr)) => addr,
        (_, None) => return Err(Errno::EINVAL),
    };
    let state = sk.state();
    let _bind = state.bind_lock.lock();
    let bound = state.inner.lock().addr.is_some();
    if bound && addr.kind() == Kind::Abstract {
        return Err(Errno::EINVAL);
    }
    let addr = Arc::new(addr, GFP_KERNEL)?;
    let prepared = prepare(&addr)?;
    let slot = Names::reserve()?;
    let (key, path) = match addr.kind() {
        Kind::Path => {
            // As AF_UNIX: an existing path is EADDRINUSE even when the socket
            // is already bound; only then is a second bind EINVAL.
            let path = HeldPath::mknod(addr.path_cstr(), sock, bound)?;
            (NameKey::Path(path.key()), Some(path))
        }
        Kind::Abstract => (NameKey::abstract_for(sk, &addr), None),
    };
    install(prepared);
    // A fresh inode cannot be taken, so this fails only for an abstract
    // name (EADDRINUSE), where nothing exists to undo.
    if let Err(e) = names().insert(key, sk, slot) {
        let prepared_group = state.inner.lock().owned_group.take();
        if let Some(g) = prepared_group {
            group::close_owned(&g);
        }
        return Err(e);
    }
    let mut inner = state.inner.lock();
    inner.addr = Some(addr);
    inner.path = path;
    Ok(())
}

/// Binds `sk` to a free abstract name `\0xxxxx` unless it is bound already.
pub(crate) fn autobind(sk: &Sock) -> KResult<()> {
    let state = sk.state();
    let _bind = state.bind_lock.lock();
    if state.inner.lock().addr.is_some() {
        return Ok(());
    }
    let start = random_u32() & 0xfffff;
    let mut n = start;
    loop {
        n = (n + 1) & 0xfffff;
        let addr = Address::autobind(family(), n);
        let key = NameKey::abstract_for(sk, &addr);
        if !names().contains(&key) {
            let addr = Arc::new(addr, GFP_KERNEL)?;
            match names().insert(key, sk, Names::reserve()?) {
                Ok(()) => {
                    state.inner.lock().addr = Some(addr);
                    return Ok(());
                }
                Err(Errno::EADDRINUSE) => {}
                Err(e) => return Err(e),
            }
        }
        if n == start {
            return Err(Errno::ENOSPC);
        }
        // Up to 2^20 names to try: let others run.
        crate::sys::sched::cond_resched();
    }
}

/// Autobinds a socket that asked for credentials before it talks, as AF_UNIX
/// does (the receiver of its messages then sees an address).
pub(crate) fn autobind_for_passcred(sock: &Socket) -> KResult<()> {
    if sock.passcred() && address_of(sock.sk()).is_none() {
        autobind(sock.sk())?;
    }
    Ok(())
}

/// Finds the socket bound to `addr` for a connect/sendto from `sk`:
/// `ENOENT`/`EACCES` from the path lookup, `ECONNREFUSED` if nothing is bound
/// there, `EPROTOTYPE` if a socket of the other type is.
pub(crate) fn find_other(sk: &Sock, addr: &Address) -> KResult<SockRef> {
    match addr.kind() {
        Kind::Path => {
            let (_held, key) = HeldPath::lookup(addr.path_cstr())?;
            let other = names().find(&NameKey::Path(key)).ok_or(Errno::ECONNREFUSED)?;
            if other.ty() != sk.ty() {
                return Err(Errno::EPROTOTYPE);
            }
            Ok(other)
        }
        Kind::Abstract => names().find(&NameKey::abstract_for(sk, addr)).ok_or(Errno::ECONNREFUSED),
    }
}

/// Parses a destination argument (connect, sendto).
pub(crate) fn parse_dest(raw: &[u8]) -> KResult<Address> {
    match Address::parse(family(), raw, false)? {
        (_, Some(addr)) => Ok(addr),
        (_, None) => Err(Errno::EINVAL),
    }
}

/// getsockname(2)/getpeername(2): the sockaddr bytes into `out`; returns
/// the length.
pub(crate) fn getname(sk: &Sock, peer: bool, out: &mut [u8]) -> KResult<usize> {
    let addr = if peer {
        let other = peer_of(sk).ok_or(Errno::ENOTCONN)?;
        address_of(&other)
    } else {
        address_of(sk)
    };
    let fam = family().to_ne_bytes();
    match addr {
        Some(a) => {
            let bytes = a.as_bytes();
            out[..bytes.len()].copy_from_slice(bytes);
            out[..2].copy_from_slice(&fam);
            Ok(bytes.len())
        }
        None => {
            out[..2].copy_from_slice(&fam);
            out[2] = 0;
            Ok(2)
        }
    }
}

/// shutdown(2). Seqpacket: the peer sees the mirror image (our SHUT_WR is
/// its end of file).
pub(crate) fn shutdown(sk: &Sock, how: i32) -> KResult<()> {
    let (mode, peer_mode) = rules::shutdown_bits(how)?;
    let other = {
        let inner = sk.state().inner.lock();
        sk.add_shutdown(mode);
        inner.peer.clone()
    };
    sk.state_change();
    if mode & sock::RCV_SHUTDOWN != 0 {
        group::leave_all(sk);
    }
    // Pollers waiting for room here must look again (a shut reader takes no more).
    sk.peer_wait().wake(crate::sys::skb::POLL_WRITE);
    if let Some(other) = other {
        if sk.ty() == SockType::Seqpacket {
            {
                let _inner = other.state().inner.lock();
                other.add_shutdown(peer_mode);
            }
            other.state_change();
            if peer_mode == sock::SHUTDOWN_MASK {
                other.wake_async_hup();
            }
        }
    }
    Ok(())
}

/// The last close: unbind, disconnect, tell the peer, drop queued messages.
pub(crate) fn release(sk: &Sock) {
    let state = sk.state();
    crate::sys::family::registry().remove(sk);
    // Unbind first, so lookups stop finding the socket: no sender or joiner
    // reaches a group it owns while the group ends (the table's reference is
    // dropped outside any lock).
    let (addr, path_key) = {
        let inner = state.inner.lock();
        (inner.addr.clone(), inner.path.as_ref().map(|p| p.key()))
    };
    if let Some(addr) = &addr {
        let key = match path_key {
            Some(k) => NameKey::Path(k),
            None => NameKey::abstract_for(sk, addr),
        };
        drop(names().remove(&key, sk));
    }
    // Closed from here on: nothing is queued here any more. A group this
    // socket owns ends; then it leaves every group it is a member of.
    let owned = {
        let mut inner = state.inner.lock();
        inner.dead = true;
        inner.owned_group.take()
    };
    if let Some(g) = owned {
        group::close_owned(&g);
    }
    group::leave_all(sk);
    let (path, peer, pending) = {
        let mut inner = state.inner.lock();
        sk.add_shutdown(sock::SHUTDOWN_MASK);
        sk.set_sk_state(sock::TCP_CLOSE);
        let peer = set_peer(sk, &mut inner, None);
        (inner.path.take(), peer, core::mem::take(&mut inner.accept_queue))
    };
    state.peer_wait.wake(crate::sys::skb::POLL_WRITE);
    if let Some(peer) = peer {
        if sk.ty() == SockType::Seqpacket {
            hang_up(&peer, sk.next_len().is_some());
        }
    }
    // Connections never accepted die with the listener: their clients see a
    // reset.
    for embryo in pending {
        release_embryo(&embryo);
    }
    sk.purge_receive_queue();
    drop(path);
}

/// Tells a seqpacket peer that its other end is gone (an admitted member
/// also leaves its group).
pub(crate) fn hang_up(peer: &Sock, unread: bool) {
    group::leave_all(peer);
    {
        let _inner = peer.state().inner.lock();
        peer.add_shutdown(sock::SHUTDOWN_MASK);
        if unread {
            peer.set_err(Errno::ECONNRESET);
        }
    }
    peer.state_change();
    peer.wake_async_hup();
    peer.peer_wait().wake(crate::sys::skb::POLL_WRITE);
}

/// A pending connection of a closing listener: its client is reset.
fn release_embryo(embryo: &Sock) {
    crate::sys::family::registry().remove(embryo);
    embryo.set_dead();
    let peer = {
        let mut inner = embryo.state().inner.lock();
        inner.dead = true;
        embryo.add_shutdown(sock::SHUTDOWN_MASK);
        embryo.set_sk_state(sock::TCP_CLOSE);
        set_peer(embryo, &mut inner, None)
    };
    if let Some(peer) = peer {
        {
            let _inner = peer.state().inner.lock();
            peer.add_shutdown(sock::SHUTDOWN_MASK);
            peer.set_err(Errno::ECONNRESET);
        }
        peer.state_change();
        peer.wake_async_hup();
    }
    embryo.purge_receive_queue();
}

/// The state rules of listen, connect and shutdown (pure, so KUnit checks
/// them on their own), as af_unix.c applies them.
pub(crate) mod rules {
    use crate::sys::errno::{Errno, KResult};
    use crate::sys::sock::{RCV_SHUTDOWN, SEND_SHUTDOWN, TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN};

    /// listen(): a bound socket that is not connected (listening again only
    /// changes the backlog).
    pub(crate) fn may_listen(bound: bool, state: u8) -> KResult<()> {
        if !bound || (state != TCP_CLOSE && state != TCP_LISTEN) {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// connect() of a seqpacket socket, once the listener was found.
    pub(crate) fn may_connect(state: u8) -> KResult<()> {
        match state {
            TCP_CLOSE => Ok(()),
            TCP_ESTABLISHED => Err(Errno::EISCONN),
            _ => Err(Errno::EINVAL),
        }
    }

    /// shutdown(how): the bits for this socket and the mirror image for a
    /// seqpacket peer (our SHUT_WR is its end of file).
    pub(crate) fn shutdown_bits(how: i32) -> KResult<(u8, u8)> {
        // SHUT_RD 0 -> RCV_SHUTDOWN, SHUT_WR 1 -> SEND_SHUTDOWN, SHUT_RDWR 2 -> both.
        let mode = match how {
            0..=2 => (how + 1) as u8,
            _ => return Err(Errno::EINVAL),
        };
        let mut peer = 0;
        if mode & RCV_SHUTDOWN != 0 {
            peer |= SEND_SHUTDOWN;
        }
        if mode & SEND_SHUTDOWN != 0 {
            peer |= RCV_SHUTDOWN;
        }
        Ok((mode, peer))
    }
}

/// Poll bits, as af_unix's unix_dgram_poll computes them for both types.
pub(crate) mod poll {
    use crate::sys::skb::pollbits::*;
    pub(crate) const IN: u32 = EPOLLIN | EPOLLRDNORM;
    pub(crate) const OUT: u32 = crate::sys::skb::POLL_WRITE;
    pub(crate) const ERR: u32 = EPOLLERR;
    pub(crate) const HUP: u32 = EPOLLHUP;
    pub(crate) const RDHUP: u32 = EPOLLRDHUP;
}

/// What poll reports, given whether the caller asked about writing.
///
/// Writable means: own send buffer has room, not listening, and — the
/// family's difference from AF_UNIX, since receivers are charged for what
/// they queue — the connected peer has room in its receive queue. When the
/// peer is full, `on_full_peer` registers the caller to be woken when it
/// drains.
pub(crate) fn poll_mask(sk: &Sock, want_write: bool) -> u32 {
    let mut mask = 0;
    let shut = sk.shutdown_bits();
    if sk.has_error() {
        mask |= poll::ERR;
    }
    if shut & sock::RCV_SHUTDOWN != 0 {
        mask |= poll::RDHUP | poll::IN;
    }
    if shut == sock::SHUTDOWN_MASK {
        mask |= poll::HUP;
    }
    let listening_ready = !sk.state().inner.lock().accept_queue.is_empty();
    if sk.next_len().is_some() || listening_ready {
        mask |= poll::IN;
    }
    if sk.ty() == SockType::Seqpacket && sk.sk_state() == sock::TCP_CLOSE {
        mask |= poll::HUP;
    }
    if !want_write {
        return mask;
    }
    let mut writable = sk.sk_state() != sock::TCP_LISTEN && sk.writable();
    if writable {
        writable = match send_group(sk) {
            Some(g) => g.writable(sk),
            None => peer_writable(sk),
        };
    }
    if writable {
        mask |= poll::OUT;
    }
    mask
}

/// Whether the connected peer takes a message now; if not, `sk`'s relay is
/// hooked on the peer so pollers wake when it drains. Done under `sk`'s lock,
/// so a concurrent connect cannot leave the relay on a peer we no longer hold
/// (as af_unix's unix_dgram_poll).
fn peer_writable(sk: &Sock) -> bool {
    let mut inner = sk.state().inner.lock();
    let Some(peer) = inner.peer.clone().filter(|p| !p.is(sk)) else {
        return true;
    };
    if !peer_is_full(&peer) {
        return true;
    }
    let (hooked, old) = hook_relay(sk, &mut inner, peer.clone());
    // Re-check after hooking: a drain in between would be missed.
    let full = peer_is_full(&peer);
    if !full && hooked {
        sk.state().relay.unhook(peer.peer_wait());
    }
    drop(inner);
    drop(old);
    !full
}

/// A receiver that would make a sender wait.
pub(crate) fn peer_is_full(peer: &Sock) -> bool {
    !peer.is_dead() && peer.shutdown_bits() & sock::RCV_SHUTDOWN == 0 && peer.rx_full()
}

/// ioctl(2): SIOCINQ and SIOCOUTQ.
pub(crate) fn ioctl_value(sk: &Sock, inq: bool) -> KResult<i32> {
    if inq {
        if sk.sk_state() == sock::TCP_LISTEN {
            return Err(Errno::EINVAL);
        }
        Ok(match sk.ty() {
            SockType::Dgram => sk.next_len().unwrap_or(0) as i32,
            SockType::Seqpacket => sk.queued_bytes() as i32,
        })
    } else {
        Ok(sk.wmem() as i32)
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::kcheck_eq;

    pub(crate) fn create_accepts_dgram_and_seqpacket() -> CaseResult {
        kcheck_eq!(SockType::for_create(SOCK_DGRAM, 0), Ok(SockType::Dgram));
        kcheck_eq!(SockType::for_create(SOCK_SEQPACKET, 0), Ok(SockType::Seqpacket));
        Ok(())
    }

    pub(crate) fn create_refuses_other_types() -> CaseResult {
        for ty in [1 /* STREAM */, 3 /* RAW */, 4 /* RDM */, 6 /* DCCP */, 10, -1] {
            kcheck_eq!(SockType::for_create(ty, 0), Err(Errno::ESOCKTNOSUPPORT));
        }
        Ok(())
    }

    pub(crate) fn rules_listen_and_connect() -> CaseResult {
        use crate::sys::sock::{TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN};
        kcheck_eq!(rules::may_listen(false, TCP_CLOSE), Err(Errno::EINVAL));
        kcheck_eq!(rules::may_listen(true, TCP_CLOSE), Ok(()));
        kcheck_eq!(rules::may_listen(true, TCP_LISTEN), Ok(()));
        kcheck_eq!(rules::may_listen(true, TCP_ESTABLISHED), Err(Errno::EINVAL));
        kcheck_eq!(rules::may_connect(TCP_CLOSE), Ok(()));
        kcheck_eq!(rules::may_connect(TCP_ESTABLISHED), Err(Errno::EISCONN));
        kcheck_eq!(rules::may_connect(TCP_LISTEN), Err(Errno::EINVAL));
        Ok(())
    }

    pub(crate) fn rules_shutdown_mirror() -> CaseResult {
        use crate::sys::sock::{RCV_SHUTDOWN as R, SEND_SHUTDOWN as S};
        kcheck_eq!(rules::shutdown_bits(0), Ok((R, S)));
        kcheck_eq!(rules::shutdown_bits(1), Ok((S, R)));
        kcheck_eq!(rules::shutdown_bits(2), Ok((R | S, R | S)));
        kcheck_eq!(rules::shutdown_bits(3), Err(Errno::EINVAL));
        kcheck_eq!(rules::shutdown_bits(-1), Err(Errno::EINVAL));
        Ok(())
    }

    pub(crate) fn create_refuses_protocols() -> CaseResult {
        // Protocol is checked before the type, as AF_UNIX does.
        kcheck_eq!(SockType::for_create(SOCK_DGRAM, 1), Err(Errno::EPROTONOSUPPORT));
        kcheck_eq!(SockType::for_create(1, 7), Err(Errno::EPROTONOSUPPORT));
        kcheck_eq!(SockType::for_create(SOCK_SEQPACKET, -1), Err(Errno::EPROTONOSUPPORT));
        Ok(())
    }
}
