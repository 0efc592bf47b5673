// SPDX-License-Identifier: GPL-2.0

//! Sending and receiving one message, for both socket types (af_unix.c also
//! runs seqpacket data through its datagram paths).
//!
//! Memory: a message is charged to the sender's SO_SNDBUF while it is built
//! (sock_alloc_send_pskb waits there, like AF_UNIX), then to the receiver's
//! SO_RCVBUF once queued. A receiver at or over SO_RCVBUF makes senders wait
//! (SO_SNDTIMEO, then `EAGAIN`; a signal gives `EINTR`) — AF_UNIX instead
//! counts datagrams against net.unix.max_dgram_qlen and keeps them charged to
//! the sender.

use crate::address::Address;
use crate::defs;
use crate::group::Group;
use crate::names::Names;
use crate::socket::bind::{find_other, parse_dest, remember_dest, sender_address, Target};
use crate::socket::poll::set_peer;
use crate::socket::{Sock, SockRef, SockState, SockType, Socket};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::msg::{Ancillary, Msg};
use crate::sys::skb::POLL_WRITE;
use kernel::alloc::flags::GFP_KERNEL;
use kernel::sync::Arc;

/// A message of the family: its cb carries the sender's address.
pub(crate) type Skb = crate::sys::skb::Skb<Address>;
/// A message taken from a socket of the family.
type Received<'a> = crate::sys::skb::Received<'a, SockState>;

/// Where a message goes.
pub(crate) enum Dest {
    /// The connected peer.
    Peer(SockRef),
    /// A destination address (datagram sendto).
    Addr(Target),
    /// A sendto's destination the sender found there before, with no bind
    /// or unbind since ([`crate::socket::bind::LastDest`]); looked up
    /// afresh from `msg_name` if it turns out closed.
    Known(SockRef),
    /// The group a seqpacket member was admitted to.
    Group(Arc<Group>),
}

/// Checks common to both types before a destination is chosen, in
/// AF_UNIX's order: the ancillary data (the kernel's parser: `EINVAL` for a
/// malformed header, `EPERM` for forged credentials; SCM_RIGHTS: `EINVAL`
/// beyond 253 descriptors, `EBADF` for a closed one, `EOPNOTSUPP` for a
/// socket or an io_uring instance), then MSG_OOB. Returns the explicit
/// credentials and the descriptors the sender passed, if any (released if
/// the send fails).
pub(crate) fn check_send(sock: &Socket, msg: &mut Msg<'_>, flags: u32) -> ErrnoResult<Ancillary> {
    let anc = msg.parse_cmsgs(sock)?;
    if flags & defs::MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(anc)
}

/// What a delivery attempt found at the receiver.
enum Verdict {
    /// Nothing to queue (a filter dropped it).
    Delivered,
    /// Queued at the receiver.
    Queued,
    Dead,
    Full,
    /// The address is a group's: the message goes to its members.
    Group(Arc<Group>),
}

/// Builds the message and queues it at `dest`; returns `len`. `own` is the
/// sender's address as the caller read it (with the destination, under one
/// lock), which the message carries.
pub(crate) fn send(
    sock: &Socket,
    msg: &mut Msg<'_>,
    len: usize,
    flags: u32,
    anc: Ancillary,
    mut dest: Dest,
    own: Option<Arc<Address>>,
) -> ErrnoResult<usize> {
    let sk = sock.sk();
    // Autobound first if SO_PASSCRED asks for an address (as AF_UNIX does).
    let tag = sender_address(sock, own)?;
    if len as i64 > sk.sndbuf() as i64 - 32 {
        return Err(Errno::EMSGSIZE);
    }
    let nonblock = flags & defs::MSG_DONTWAIT != 0;
    // One list of descriptors for every copy of the message, released with
    // the last of them (or here, if the send fails).
    let fds = anc.fds.map(|f| Arc::new(f, GFP_KERNEL)).transpose()?;
    let mut skb = Skb::alloc(sk, len, nonblock)?;
    skb.fill(msg)?;
    skb.set_creds(anc.creds);
    skb.set_fds(fds);
    skb.set_tag(tag);
    skb.set_sender_id(sk.cookie());
    let mut timeo = sk.sndtimeo(nonblock);

    let mut skb = Some(skb);
    loop {
        let found;
        let other: &Sock = match &dest {
            Dest::Peer(p) | Dest::Known(p) => p,
            Dest::Addr(a) => {
                let generation = Names::get().generation();
                found = find_other(sk, a)?;
                remember_dest(sk, generation, a, &found);
                &found
            }
            Dest::Group(g) => return send_to_group(g, sk, skb, &mut timeo, len),
        };
        let verdict = {
            let inner = other.inner();
            if let Some(g) = inner.owned_group() {
                Verdict::Group(g.clone())
            } else if !skb.as_mut().is_some_and(|s| s.passes_filter(other)) {
                // The receiver's own filter, in the sender's context: a
                // rejected message is dropped without an error, as AF_UNIX does.
                Verdict::Delivered
            } else if inner.is_dead() || other.is_dead() {
                Verdict::Dead
            } else if inner.connected_elsewhere(sk) {
                // The receiver is connected to someone else.
                return Err(Errno::EPERM);
            } else if other.shutdown_bits() & defs::RCV_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            } else if let Some(ring) = other.ring() {
                // Into the receiver's ring (itself too: bounded the same way).
                if !ring.reserve() {
                    Verdict::Full
                } else {
                    if let Some(mut s) = skb.take() {
                        let creds = other.wants_creds();
                        if sock.passcred() || creds {
                            s.add_own_creds();
                        }
                        if !crate::ring::fill(other, ring, &s, s.len(), creds) {
                            other.count_drop();
                        }
                    }
                    Verdict::Queued
                }
            } else if other.rx_full() {
                // Sending to itself too: the queue is bounded either way.
                Verdict::Full
            } else {
                if let Some(mut s) = skb.take() {
                    // Credentials go along when either end asked for them.
                    if sock.passcred() || other.wants_creds() {
                        s.add_own_creds();
                    }
                    s.deliver(other);
                }
                Verdict::Queued
            }
        };
        match verdict {
            Verdict::Delivered => return Ok(len),
            // Readers are told once the receiver's lock is released (as
            // af_unix does), so a woken reader does not find it held.
            Verdict::Queued => {
                other.data_ready();
                return Ok(len);
            }
            // A datagram sent to a group's address goes to its members.
            Verdict::Group(g) => return send_to_group(&g, sk, skb, &mut timeo, len),
            Verdict::Full => {
                if timeo == 0 {
                    return Err(Errno::EAGAIN);
                }
                other.peer_wait().wait_until(&mut timeo, || Ok(!other.is_full()))?;
            }
            Verdict::Dead => {
                if sk.ty() == SockType::Seqpacket {
                    return Err(Errno::EPIPE);
                }
                if disconnect_if_peer(sk, other) {
                    return Err(Errno::ECONNREFUSED);
                }
                // A sendto() raced with the receiver's close: look the name
                // up again (it is gone now: ECONNREFUSED or another socket).
                match dest {
                    Dest::Peer(_) => return Err(Errno::ECONNREFUSED),
                    Dest::Known(_) => dest = Dest::Addr(parse_dest(sk, msg.dest().unwrap_or_default())?),
                    _ => {}
                }
            }
        }
    }
}

fn send_to_group(g: &Group, sk: &Sock, skb: Option<Skb>, timeo: &mut i64, len: usize) -> ErrnoResult<usize> {
    let skb = skb.ok_or(Errno::EINVAL)?;
    g.send(sk, skb, timeo)?;
    Ok(len)
}

/// A datagram socket whose connected peer died drops the connection (the
/// next send reports ECONNREFUSED once, as AF_UNIX). True if it was the peer.
fn disconnect_if_peer(sk: &Sock, other: &Sock) -> bool {
    let old = {
        let mut inner = sk.inner();
        if !inner.connected_to(other) {
            return false;
        }
        sk.set_sk_state(defs::TCP_CLOSE);
        set_peer(sk, &mut inner, None)
    };
    if let Some(old) = old {
        disconnected(sk, &old);
    }
    true
}

/// After a datagram socket drops its connection to `other` (reconnect,
/// AF_UNSPEC or peer death): messages still queued here are discarded and, if
/// `other` was connected back to us, it gets ECONNRESET (af_unix's
/// unix_dgram_disconnected).
pub(crate) fn disconnected(sk: &Sock, other: &Sock) {
    if sk.next_len().is_none() {
        return;
    }
    sk.purge_receive_queue();
    sk.peer_wait().wake(POLL_WRITE);
    let connected_back = {
        let inner = other.inner();
        !inner.is_dead() && inner.connected_to(sk)
    };
    if connected_back {
        other.set_err(Errno::ECONNRESET);
        other.error_report();
    }
}

/// Receives one message into `msg` (at most `size` bytes); returns the bytes
/// copied, or the whole message length with MSG_TRUNC in `flags`.
pub(crate) fn recv(sock: &Socket, msg: &mut Msg<'_>, size: usize, flags: u32) -> ErrnoResult<usize> {
    let sk = sock.sk();
    if flags & defs::MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    crate::ring::refuse_recv(sk)?;
    let rx = match Received::next(sk, flags) {
        Ok(Some(rx)) => rx,
        Ok(None) => return Ok(0),
        // End of file on a disconnected non-blocking seqpacket socket.
        Err(Errno::EAGAIN)
            if sk.ty() == SockType::Seqpacket && sk.shutdown_bits() & defs::RCV_SHUTDOWN != 0 =>
        {
            return Ok(0)
        }
        Err(e) => return Err(e),
    };
    msg.set_source(rx.tag().map(Address::as_bytes));
    let full = rx.len() as usize;
    let n = size.min(full);
    if n < full {
        msg.add_flags(defs::MSG_TRUNC);
    }
    rx.copy_to(msg, n as u32)?;
    rx.put_cmsgs(sock, msg, flags);
    if sk.passes_sender_id() {
        msg.put_cmsg(defs::SOL_MCAST_UNIX, defs::cmsg::SENDER_ID, &rx.sender_id().to_ne_bytes());
    }
    Ok(if flags & defs::MSG_TRUNC != 0 { full } else { n })
}
