// SPDX-License-Identifier: GPL-2.0

//! Seqpacket sockets: listen, connect, accept, and the checks
//! their send/receive paths add to the shared ones in [`crate::message`].
//!
//! A connect() creates the server side of the connection at once (an
//! "embryo" sock, as af_unix.c does), links the two and puts the embryo on
//! the listener's accept queue; accept() hands it a `struct socket`. The
//! accept queue holds at most `backlog + 1` pending connections; connectors
//! beyond that wait (SO_SNDTIMEO) or get `EAGAIN`.

use crate::defs;
use crate::message::{self, Dest};
use crate::proc::Registry;
use crate::socket::bind::{autobind_for_passcred, find_other, parse_dest, Target};
use crate::socket::ops::SocketType;
use crate::socket::poll::set_peer;
use crate::socket::{rules, NewSocket, Sock, SockRef, SockState, SockType, Socket};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::msg::Msg;

/// The seqpacket socket type.
pub(crate) struct Seqpacket;

impl SocketType for Seqpacket {
    fn connect(sock: &Socket, addr: &[u8], nonblock: bool) -> ErrnoResult<()> {
        connect(sock, addr, nonblock)
    }

    fn sendmsg(sock: &Socket, msg: &mut Msg<'_>, len: usize) -> ErrnoResult<usize> {
        let flags = msg.flags();
        sendmsg(sock, msg, len, flags)
    }

    /// `ENOTCONN` unless connected.
    fn recvmsg(sock: &Socket, msg: &mut Msg<'_>, size: usize, flags: u32) -> ErrnoResult<usize> {
        if sock.sk().sk_state() != defs::TCP_ESTABLISHED {
            return Err(Errno::ENOTCONN);
        }
        message::recv(sock, msg, size, flags)
    }

    fn listen(sk: &Sock, backlog: i32) -> ErrnoResult<()> {
        listen(sk, backlog)
    }

    fn accept(sock: &Socket, newsock: NewSocket, nonblock: bool) -> ErrnoResult<()> {
        accept(sock, newsock, nonblock)
    }
}

/// listen(2): needs a bound socket (`EINVAL`), not a connected one (`EINVAL`).
fn listen(sk: &Sock, backlog: i32) -> ErrnoResult<()> {
    let inner = sk.inner();
    rules::may_listen(inner.address().is_some(), sk.sk_state())?;
    let backlog = backlog.max(0) as u32;
    let grew = backlog > sk.max_backlog();
    sk.set_max_backlog(backlog);
    sk.set_sk_state(defs::TCP_LISTEN);
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
fn connect(sock: &Socket, raw: &[u8], nonblock: bool) -> ErrnoResult<()> {
    let sk = sock.sk();
    let addr = parse_dest(sk, raw)?;
    autobind_for_passcred(sock)?;
    // One connect at a time per socket, without holding a lock while it
    // waits for the listener (a close elsewhere must never wait for it): a
    // second one fails with EALREADY meanwhile.
    {
        sk.inner().begin_connect()?;
    }
    let result = sk.new_sibling(SockState::new(SockType::Seqpacket)).and_then(|embryo| {
        // Listed before anyone can accept it; unlisted again if it never queues.
        let registry = Registry::get();
        registry.add(&embryo)?;
        let result = connect_to(sock, &addr, embryo.clone(), sk.sndtimeo(nonblock));
        if result.is_err() {
            registry.remove(&embryo);
        }
        result
    });
    sk.inner().end_connect();
    result
}

/// The rest of connect: queue `embryo` at the listener bound to `addr`.
fn connect_to(sock: &Socket, addr: &Target, embryo: SockRef, mut timeo: i64) -> ErrnoResult<()> {
    let sk = sock.sk();
    loop {
        let other = find_other(sk, addr)?;
        // The embryo is the server side: connected to us, bound to the
        // listener's address (fixed once bound), with our credentials as its
        // peer's. It is private until it is on the accept queue.
        let listener_addr = other.address();
        let listener_group = other.owned_group();
        {
            embryo.inner().init_embryo(sk.get(), listener_addr, listener_group);
        }
        embryo.set_sk_state(defs::TCP_ESTABLISHED);
        embryo.set_peercred_current();
        let attempt = {
            let mut inner = other.inner();
            if inner.is_dead() || other.is_dead() {
                Attempt::Retry
            } else if other.sk_state() != defs::TCP_LISTEN || other.shutdown_bits() & defs::RCV_SHUTDOWN != 0 {
                return Err(Errno::ECONNREFUSED);
            } else if inner.pending() as u32 > other.max_backlog() {
                Attempt::Full
            } else {
                // As AF_UNIX: our own state is checked once the listener is found.
                rules::may_connect(sk.sk_state())?;
                inner.push_pending(embryo.clone())?;
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
                    let inner = other.inner();
                    Ok(inner.is_dead() || (inner.pending() as u32) <= other.max_backlog())
                })?;
            }
            Attempt::Queued => {
                {
                    let mut inner = sk.inner();
                    sk.copy_peercred(&other);
                    sk.set_sk_state(defs::TCP_ESTABLISHED);
                    drop(set_peer(sk, &mut inner, Some(embryo)));
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
fn accept(sock: &Socket, newsock: NewSocket, nonblock: bool) -> ErrnoResult<()> {
    let sk = sock.sk();
    if sk.sk_state() != defs::TCP_LISTEN {
        return Err(Errno::EINVAL);
    }
    let mut timeo = sk.rcvtimeo(nonblock);
    let mut taken = None;
    sk.wait_on_socket(&mut timeo, || {
        let mut inner = sk.inner();
        // Oldest first.
        if let Some(embryo) = inner.take_pending() {
            taken = Some(embryo);
            return Ok(true);
        }
        // Closed, no longer listening, or shut for reading: as AF_UNIX.
        if inner.is_dead() || sk.sk_state() != defs::TCP_LISTEN || sk.shutdown_bits() & defs::RCV_SHUTDOWN != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(false)
    })?;
    let embryo = taken.ok_or(Errno::EINVAL)?;
    sk.peer_wait().wake(crate::sys::skb::POLL_WRITE);
    newsock.graft(embryo, sock);
    Ok(())
}

/// sendmsg(2) on a seqpacket socket: to the other end only (`msg_name` is
/// ignored); `ENOTCONN` unless connected, a pending error first.
fn sendmsg(sock: &Socket, msg: &mut Msg<'_>, len: usize, flags: u32) -> ErrnoResult<usize> {
    let sk = sock.sk();
    if let Some(err) = sk.take_err() {
        return Err(err);
    }
    if sk.sk_state() != defs::TCP_ESTABLISHED {
        return Err(Errno::ENOTCONN);
    }
    let anc = message::check_send(sock, msg, flags)?;
    // An admitted member's messages go to its group, others to the peer.
    let (dest, own) = {
        let inner = sk.inner();
        let dest = match (inner.memberships().first(), inner.peer()) {
            (Some(g), _) => Dest::Group(g.clone()),
            (None, Some(p)) => Dest::Peer(p.clone()),
            (None, None) => return Err(Errno::EPIPE),
        };
        (dest, inner.address().cloned())
    };
    message::send(sock, msg, len, flags, anc, dest, own)
}
