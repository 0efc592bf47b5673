// SPDX-License-Identifier: GPL-2.0

//! Datagram sockets: connect/disconnect and the datagram send path.
//! (Receiving, binding, names, poll and shutdown are shared: see
//! [`crate::message`] and [`crate::socket`].)

use crate::message::{self, Dest};
use crate::socket::{self, find_other, parse_dest};
use crate::sys::errno::{Errno, KResult};
use crate::sys::msg::Msg;
use crate::sys::sock::{self, Socket};

/// `AF_UNSPEC`: connect() with it dissolves the connection.
const AF_UNSPEC: u16 = 0;

/// connect(2): sets the default destination. A socket connected to X takes
/// datagrams only from X (others get `EPERM`), so connecting to a socket that
/// is connected elsewhere fails with `EPERM` too. `AF_UNSPEC` disconnects.
pub(crate) fn connect(sock: &Socket, raw: &[u8]) -> KResult<()> {
    let sk = sock.sk();
    if raw.len() < 2 {
        return Err(Errno::EINVAL);
    }
    if u16::from_ne_bytes([raw[0], raw[1]]) == AF_UNSPEC {
        let old = {
            let mut inner = sk.state().inner.lock();
            sk.set_sk_state(sock::TCP_CLOSE);
            socket::set_peer(sk, &mut inner, None)
        };
        if let Some(old) = old {
            message::disconnected(sk, &old);
        }
        return Ok(());
    }
    let addr = parse_dest(raw)?;
    socket::autobind_for_passcred(sock)?;
    let other = find_other(sk, &addr)?;
    {
        let inner = other.state().inner.lock();
        if inner.peer.as_ref().is_some_and(|p| !p.is(sk)) {
            return Err(Errno::EPERM);
        }
    }
    let old = {
        let mut inner = sk.state().inner.lock();
        sk.set_sk_state(sock::TCP_ESTABLISHED);
        socket::set_peer(sk, &mut inner, Some(other.clone()))
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
pub(crate) fn sendmsg(sock: &Socket, msg: &mut Msg<'_>, len: usize, flags: u32) -> KResult<usize> {
    let creds = message::check_send(sock, msg, flags)?;
    let dest = match msg.dest() {
        Some(raw) if !raw.is_empty() => Dest::Addr(parse_dest(raw)?),
        _ => Dest::Peer(socket::peer_of(sock.sk()).ok_or(Errno::ENOTCONN)?),
    };
    message::send(sock, msg, len, flags, creds, dest)
}
