// SPDX-License-Identifier: GPL-2.0

//! Ending: shutdown(2), the last close (release), and what a seqpacket
//! socket's peer and a listener's pending connections see then. Nothing
//! here allocates or takes a sleeping lock (see the lock table in
//! [`super`]).

use super::poll::set_peer;
use super::{rules, Sock, SockType};
use crate::defs;
use crate::group::leave_all;
use crate::names::{NameKey, Names};
use crate::proc::Registry;
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::skb::POLL_WRITE;

/// shutdown(2). Seqpacket: the peer sees the mirror image (our SHUT_WR is
/// its end of file).
pub(crate) fn shutdown(sk: &Sock, how: i32) -> ErrnoResult<()> {
    let (mode, peer_mode) = rules::shutdown_bits(how)?;
    let other = {
        let inner = sk.inner();
        sk.add_shutdown(mode);
        inner.peer.clone()
    };
    sk.state_change();
    if mode & defs::RCV_SHUTDOWN != 0 {
        leave_all(sk);
    }
    // Pollers waiting for room here must look again (a shut reader takes no more).
    sk.peer_wait().wake(POLL_WRITE);
    if let Some(other) = other {
        if sk.ty() == SockType::Seqpacket {
            {
                let _inner = other.inner();
                other.add_shutdown(peer_mode);
            }
            other.state_change();
            if peer_mode == defs::SHUTDOWN_MASK {
                other.wake_async_hup();
            }
        }
    }
    Ok(())
}

/// The last close: unbind, disconnect, tell the peer, drop queued messages.
pub(crate) fn release(sk: &Sock) {
    Registry::get().remove(sk);
    // Unbind first, so lookups stop finding the socket: no sender or joiner
    // reaches a group it owns while the group ends (the table's reference is
    // dropped outside any lock).
    let (addr, path_key) = {
        let inner = sk.inner();
        (inner.addr.clone(), inner.path.as_ref().map(|p| p.key()))
    };
    if let Some(addr) = &addr {
        let key = match path_key {
            Some(k) => NameKey::Path(k),
            None => NameKey::abstract_for(sk, addr),
        };
        drop(Names::get().remove(&key, sk));
    }
    // Closed from here on: nothing is queued here any more. A group this
    // socket owns ends; then it leaves every group it is a member of.
    let owned = {
        let mut inner = sk.inner();
        inner.dead = true;
        inner.owned_group.take()
    };
    // Nothing is filled into a ring once `dead` is set (under the lock
    // every fill takes).
    if let Some(r) = sk.ring() {
        r.closed();
    }
    if let Some(g) = owned {
        g.close();
    }
    leave_all(sk);
    let (path, peer, pending, last_dest) = {
        let mut inner = sk.inner();
        sk.add_shutdown(defs::SHUTDOWN_MASK);
        sk.set_sk_state(defs::TCP_CLOSE);
        let peer = set_peer(sk, &mut inner, None);
        (inner.path.take(), peer, core::mem::take(&mut inner.accept_queue), inner.last_dest.take())
    };
    // The last sendto's destination is let go (two sockets that sent to
    // each other would otherwise keep each other).
    drop(last_dest);
    sk.peer_wait().wake(POLL_WRITE);
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
    leave_all(peer);
    {
        let _inner = peer.inner();
        peer.add_shutdown(defs::SHUTDOWN_MASK);
        if unread {
            peer.set_err(Errno::ECONNRESET);
        }
    }
    peer.state_change();
    peer.wake_async_hup();
    peer.peer_wait().wake(POLL_WRITE);
}

/// A pending connection of a closing listener: its client is reset.
fn release_embryo(embryo: &Sock) {
    Registry::get().remove(embryo);
    embryo.set_dead();
    let peer = {
        let mut inner = embryo.inner();
        inner.dead = true;
        embryo.add_shutdown(defs::SHUTDOWN_MASK);
        embryo.set_sk_state(defs::TCP_CLOSE);
        set_peer(embryo, &mut inner, None)
    };
    if let Some(peer) = peer {
        {
            let _inner = peer.inner();
            peer.add_shutdown(defs::SHUTDOWN_MASK);
            peer.set_err(Errno::ECONNRESET);
        }
        peer.state_change();
        peer.wake_async_hup();
    }
    embryo.purge_receive_queue();
}
