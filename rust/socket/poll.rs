// SPDX-License-Identifier: GPL-2.0

//! poll(2), and the POLLOUT relay: a socket whose sends would wait for a
//! full receiver hooks an entry on that receiver's `peer_wait`, so its
//! pollers wake when the receiver drains (af_unix's peer_wake scheme).

use super::{Inner, Sock, SockRef, SockType};
use crate::defs;
use crate::sys::skb::pollbits::*;
use crate::sys::skb::POLL_WRITE;

/// Poll bits, as af_unix's unix_dgram_poll computes them for both types.
const IN: u32 = EPOLLIN | EPOLLRDNORM;
const OUT: u32 = POLL_WRITE;
const ERR: u32 = EPOLLERR;
const HUP: u32 = EPOLLHUP;
const RDHUP: u32 = EPOLLRDHUP;

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
    let hooked = sk.relay().hook(target.peer_wait());
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
    sk.relay().unhook(target.peer_wait());
    Some(target)
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
        mask |= ERR;
    }
    if shut & defs::RCV_SHUTDOWN != 0 {
        mask |= RDHUP | IN;
    }
    if shut == defs::SHUTDOWN_MASK {
        mask |= HUP;
    }
    let listening_ready = !sk.inner().accept_queue.is_empty();
    if sk.next_len().is_some() || listening_ready || sk.ring().is_some_and(|r| crate::ring::poll_in(sk, r)) {
        mask |= IN;
    }
    if sk.ty() == SockType::Seqpacket && sk.sk_state() == defs::TCP_CLOSE {
        mask |= HUP;
    }
    if !want_write {
        return mask;
    }
    let mut writable = sk.sk_state() != defs::TCP_LISTEN && sk.writable();
    if writable {
        writable = match sk.send_group() {
            Some(g) => g.writable(sk),
            None => peer_writable(sk),
        };
    }
    if writable {
        mask |= OUT;
    }
    mask
}

/// Whether the connected peer takes a message now; if not, `sk`'s relay is
/// hooked on the peer so pollers wake when it drains. Done under `sk`'s lock,
/// so a concurrent connect cannot leave the relay on a peer we no longer hold
/// (as af_unix's unix_dgram_poll).
fn peer_writable(sk: &Sock) -> bool {
    let mut inner = sk.inner();
    let Some(peer) = inner.peer.clone().filter(|p| !p.is(sk)) else {
        return true;
    };
    if !peer.is_full() {
        return true;
    }
    let (hooked, old) = hook_relay(sk, &mut inner, peer.clone());
    // Re-check after hooking: a drain in between would be missed.
    let full = peer.is_full();
    if !full && hooked {
        sk.relay().unhook(peer.peer_wait());
    }
    drop(inner);
    drop(old);
    !full
}
