// SPDX-License-Identifier: GPL-2.0

//! Datagram sockets: connect/disconnect and the datagram send path.
//! (Receiving, binding, names, poll and shutdown are shared: see
//! [`crate::message`] and [`crate::socket`].)

use crate::defs::{self, AF_UNSPEC};
use crate::message::{self, Dest};
use crate::socket::bind::{autobind_for_passcred, find_other, parse_dest};
use crate::socket::ops::SocketType;
use crate::socket::poll::set_peer;
use crate::socket::Socket;
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::msg::Msg;

/// The datagram socket type.
pub(crate) struct Dgram;

impl SocketType for Dgram {
    fn connect(sock: &Socket, addr: &[u8], _nonblock: bool) -> ErrnoResult<()> {
        connect(sock, addr)
    }

    fn sendmsg(sock: &Socket, msg: &mut Msg<'_>, len: usize) -> ErrnoResult<usize> {
        let flags = msg.flags();
        sendmsg(sock, msg, len, flags)
    }

    fn recvmsg(sock: &Socket, msg: &mut Msg<'_>, size: usize, flags: u32) -> ErrnoResult<usize> {
        message::recv(sock, msg, size, flags)
    }
}

/// connect(2): sets the default destination. A socket connected to X takes
/// datagrams only from X (others get `EPERM`), so connecting to a socket that
/// is connected elsewhere fails with `EPERM` too. `AF_UNSPEC` disconnects.
fn connect(sock: &Socket, raw: &[u8]) -> ErrnoResult<()> {
    let sk = sock.sk();
    if raw.len() < 2 {
        return Err(Errno::EINVAL);
    }
    if u16::from_ne_bytes([raw[0], raw[1]]) == AF_UNSPEC {
        let old = {
            let mut inner = sk.inner();
            sk.set_sk_state(defs::TCP_CLOSE);
            set_peer(sk, &mut inner, None)
        };
        if let Some(old) = old {
            message::disconnected(sk, &old);
        }
        return Ok(());
    }
    let addr = parse_dest(sk, raw)?;
    autobind_for_passcred(sock)?;
    let other = find_other(sk, &addr)?;
    {
        let inner = other.inner();
        if inner.connected_elsewhere(sk) {
            return Err(Errno::EPERM);
        }
    }
    let old = {
        let mut inner = sk.inner();
        sk.set_sk_state(defs::TCP_ESTABLISHED);
        set_peer(sk, &mut inner, Some(other.clone()))
    };
    if let Some(old) = old {
        if !old.is(&other) {
            message::disconnected(sk, &old);
        }
    }
    Ok(())
}

/// sendmsg(2): to `msg_name` if given, else to the connected peer
/// (`ENOTCONN` without one).
fn sendmsg(sock: &Socket, msg: &mut Msg<'_>, len: usize, flags: u32) -> ErrnoResult<usize> {
    let sk = sock.sk();
    let anc = message::check_send(sock, msg, flags)?;
    // The destination, and the sender's own address the message carries.
    let (dest, own) = match msg.dest() {
        Some(raw) if !raw.is_empty() => (Dest::Addr(parse_dest(sk, raw)?), sk.address()),
        _ => {
            let inner = sk.inner();
            let peer = inner.peer().cloned().ok_or(Errno::ENOTCONN)?;
            (Dest::Peer(peer), inner.address().cloned())
        }
    };
    message::send(sock, msg, len, flags, anc, dest, own)
}
