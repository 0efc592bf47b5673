// SPDX-License-Identifier: GPL-2.0

//! Seqpacket sockets: listen, connect, accept, socketpair, and the checks
//! their send/receive paths add to the shared ones in [`crate::message`].
//!
//! A connect() creates the server side of the connection at once (an
//! "embryo" sock, as af_unix.c does), links the two and puts the embryo on
//! the listener's accept queue; accept() hands it a `struct socket`. The
//! accept queue holds at most `backlog + 1` pending connections; connectors
//! beyond that wait (SO_SNDTIMEO) or get `EAGAIN`.

use crate::message::{self, Dest};
use crate::socket::{self, find_other, parse_dest};
use crate::sys::errno::{Errno, KResult};
use crate::sys::family::new_embryo;
use crate::sys::msg::Msg;
use crate::sys::sock::{self, Sock, Socket};
use kernel::alloc::flags::GFP_ATOMIC;

/// listen(2): needs a bound socket (`EINVAL`), not a connected one (`EINVAL`).
pub(crate) fn listen(sk: &Sock, backlog: i32) -> KResult<()> {
    let inner = sk.state().inner.lock();
    socket::rules::may_listen(inner.addr.is_some(), sk.sk_state())?;
    let backlog = backlog.max(0) as u32;
    let grew = backlog > sk.max_backlog();
    sk.set_max_backlog(backlog);
    sk.set_sk_state(sock::TCP_LISTEN);
    drop(inner);
    if grew {
        sk.peer_wait().wake(crate::sys::skb::POLL_WRITE);
    }
    // Connectors read the listener's credentials (SO_PEERCRED) from here.
    sk.set_peercred_current();
    Ok(())
}

/// What connect found at the listener.
enum Attempt {
    Queued,
    Retry,
    Full,
}

/// connect(2) to a listening socket.
pub(crate) fn connect(sock: &Socket, raw: &[u8], nonblock: bool) -> KResult<()> {
    let sk = sock.sk();
    let addr = parse_dest(raw)?;
    socket::autobind_for_passcred(sock)?;
    // One connect at a time per socket, without holding a lock while it
    // waits for the listener (a close elsewhere must never wait for it): a
    // second one fails with EALREADY meanwhile.
    {
        let mut inner = sk.state().inner.lock();
        if inner.connecting {
            return Err(Errno::EALREADY);
        }
        inner.connecting = true;
    }
    let result = new_embryo(sk).and_then(|embryo| {
        // Listed before anyone can accept it; unlisted again if it never queues.
        let registry = crate::sys::family::registry();
        registry.add(&embryo)?;
        let result = connect_to(sock, &addr, embryo.clone(), sk.sndtimeo(nonblock));
        if result.is_err() {
            registry.remove(&embryo);
        }
        result
    });
    sk.state().inner.lock().connecting = false;
    result
}

/// The rest of connect: queue `embryo` at the listener bound to `addr`.
fn connect_to(sock: &Socket, addr: &crate::address::Address, embryo: crate::sys::sock::SockRef, mut timeo: i64) -> KResult<()> {
    let sk = sock.sk();
    loop {
        let other = find_other(sk, addr)?;
        // The embryo is the server side: connected to us, bound to the
        // listener's address (fixed once bound), with our credentials as its
        // peer's. It is private until it is on the accept queue.
        let listener_addr = socket::address_of(&other);
        let listener_group = socket::owned_group(&other);
        {
            let mut e = embryo.state().inner.lock();
            e.peer = Some(sk.get());
            e.addr = listener_addr;
            e.from_group = listener_group;
        }
        embryo.set_sk_state(sock::TCP_ESTABLISHED);
        embryo.set_peercred_current();
        let attempt = {
            let mut inner = other.state().inner.lock();
            if inner.dead || other.is_dead() {
                Attempt::Retry
            } else if other.sk_state() != sock::TCP_LISTEN || other.shutdown_bits() & sock::RCV_SHUTDOWN != 0 {
                return Err(Errno::ECONNREFUSED);
            } else if inner.accept_queue.len() as u32 > other.max_backlog() {
                Attempt::Full
            } else {
                // As AF_UNIX: our own state is checked once the listener is found.
                socket::rules::may_connect(sk.sk_state())?;
                inner.accept_queue.push(embryo.clone(), GFP_ATOMIC)?;
                Attempt::Queued
            }
        };
        match attempt {
            Attempt::Retry => continue,
            Attempt::Full => {
                if timeo == 0 {
                    return Err(Errno::EAGAIN);
                }
                other.peer_wait().wait_until(&mut timeo, || {
                    let inner = other.state().inner.lock();
                    Ok(inner.dead || (inner.accept_queue.len() as u32) <= other.max_backlog())
                })?;
            }
            Attempt::Queued => {
                {
                    let mut inner = sk.state().inner.lock();
                    sk.copy_peercred(&other);
                    sk.set_sk_state(sock::TCP_ESTABLISHED);
                    drop(socket::set_peer(sk, &mut inner, Some(embryo)));
                }
                sock.set_connected(true);
                other.data_ready();
                return Ok(());
            }
        }
    }
}

/// accept(2): takes the oldest pending connection (waiting for one unless
/// non-blocking: `EAGAIN`); `EINVAL` if not listening.
pub(crate) fn accept(sock: &Socket, newsock: &Socket, nonblock: bool) -> KResult<()> {
    let sk = sock.sk();
    if sk.sk_state() != sock::TCP_LISTEN {
        return Err(Errno::EINVAL);
    }
    let mut timeo = sk.rcvtimeo(nonblock);
    let mut taken = None;
    sk.wait_on_socket(&mut timeo, || {
        let mut inner = sk.state().inner.lock();
        // Oldest first.
        if let Some(embryo) = crate::vec::remove_at(&mut inner.accept_queue, 0, GFP_ATOMIC) {
            taken = Some(embryo);
            return Ok(true);
        }
        // Closed, no longer listening, or shut for reading: as AF_UNIX.
        if inner.dead || sk.sk_state() != sock::TCP_LISTEN || sk.shutdown_bits() & sock::RCV_SHUTDOWN != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(false)
    })?;
    let embryo = taken.ok_or(Errno::EINVAL)?;
    sk.peer_wait().wake(crate::sys::skb::POLL_WRITE);
    newsock.graft(embryo, sock);
    newsock.set_connected(true);
    Ok(())
}

/// socketpair(2): two sockets connected to each other (both types).
pub(crate) fn socketpair(a: &Socket, b: &Socket) -> KResult<()> {
    let (ska, skb) = (a.sk(), b.sk());
    let seqpacket = ska.ty() == socket::SockType::Seqpacket;
    for (x, y) in [(ska, skb), (skb, ska)] {
        let mut inner = x.state().inner.lock();
        drop(socket::set_peer(x, &mut inner, Some(y.get())));
        if seqpacket {
            x.set_sk_state(sock::TCP_ESTABLISHED);
        }
        x.set_peercred_current();
    }
    if seqpacket {
        a.set_connected(true);
        b.set_connected(true);
    }
    Ok(())
}

/// sendmsg(2) on a seqpacket socket: to the other end only (`msg_name` is
/// ignored); `ENOTCONN` unless connected, a pending error first.
pub(crate) fn sendmsg(sock: &Socket, msg: &mut Msg<'_>, len: usize, flags: u32) -> KResult<usize> {
    let sk = sock.sk();
    if let Some(err) = sk.take_err() {
        return Err(err);
    }
    if sk.sk_state() != sock::TCP_ESTABLISHED {
        return Err(Errno::ENOTCONN);
    }
    let creds = message::check_send(sock, msg, flags)?;
    // An admitted member's messages go to its group, others to the peer.
    let dest = {
        let inner = sk.state().inner.lock();
        match (inner.groups.first(), &inner.peer) {
            (Some(g), _) => Dest::Group(g.clone()),
            (None, Some(p)) => Dest::Peer(p.clone()),
            (None, None) => return Err(Errno::EPIPE),
        }
    };
    message::send(sock, msg, len, flags, creds, dest)
}

/// recvmsg(2) on a seqpacket socket: `ENOTCONN` unless connected.
pub(crate) fn recvmsg(sock: &Socket, msg: &mut Msg<'_>, size: usize, flags: u32) -> KResult<usize> {
    if sock.sk().sk_state() != sock::TCP_ESTABLISHED {
        return Err(Errno::ENOTCONN);
    }
    message::recv(sock, msg, size, flags)
}
