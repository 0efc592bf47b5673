// SPDX-License-Identifier: GPL-2.0

//! The operations of a socket, as the entry shims call them: [`SocketType`]
//! holds what differs per type (implemented by [`crate::dgram::Dgram`] and
//! [`crate::seqpacket::Seqpacket`]; the entry builds one `proto_ops` table
//! per implementation), the functions below what both types share. Every
//! argument is already a safe, typed value.

use super::{Sock, SockType, Socket, NewSocket};
use crate::defs;
use crate::sys::errno::{Errno, ErrnoResult};
use crate::defs::opt;
use crate::sys::msg::{Msg, OptOut, OptVal};

/// What differs between the socket types.
pub(crate) trait SocketType {
    /// connect(2); `addr` is the caller's sockaddr bytes.
    fn connect(sock: &Socket, addr: &[u8], nonblock: bool) -> ErrnoResult<()>;

    /// sendmsg(2); returns the bytes sent.
    fn sendmsg(sock: &Socket, msg: &mut Msg<'_>, len: usize) -> ErrnoResult<usize>;

    /// recvmsg(2); returns the bytes received (or the message length with
    /// MSG_TRUNC).
    fn recvmsg(sock: &Socket, msg: &mut Msg<'_>, size: usize, flags: u32) -> ErrnoResult<usize>;

    /// listen(2) (`EOPNOTSUPP` unless connection-oriented).
    fn listen(_sk: &Sock, _backlog: i32) -> ErrnoResult<()> {
        Err(Errno::EOPNOTSUPP)
    }

    /// accept(2) (`EOPNOTSUPP` unless connection-oriented).
    fn accept(_sock: &Socket, _newsock: NewSocket, _nonblock: bool) -> ErrnoResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
}

/// setsockopt(2) for levels other than SOL_SOCKET (which the socket layer
/// handles): SOL_MCAST_UNIX's options, `ENOPROTOOPT` for any other level.
pub(crate) fn setsockopt(sock: &Socket, level: i32, name: i32, val: &OptVal) -> ErrnoResult<()> {
    if level != defs::SOL_MCAST_UNIX {
        return Err(Errno::ENOPROTOOPT);
    }
    match name {
        opt::PASS_SENDER_ID => {
            sock.sk().set_pass_sender_id(read_int(val)? != 0);
            Ok(())
        }
        opt::RX_RING => crate::ring::set_up(sock.sk(), val),
        _ => crate::group::sockopt::set(sock, name, val),
    }
}

/// An `int` option value: `EINVAL` if shorter (longer is fine, as for
/// SOL_SOCKET's int options).
fn read_int(val: &OptVal) -> ErrnoResult<i32> {
    let mut buf = [0u8; 4];
    let bytes = val.read(&mut buf)?;
    if bytes.len() < buf.len() {
        return Err(Errno::EINVAL);
    }
    Ok(i32::from_ne_bytes(buf))
}

/// getsockopt(2) for levels other than SOL_SOCKET: of SOL_MCAST_UNIX,
/// MCAST_UNIX_PASS_SENDER_ID (`int`), MCAST_UNIX_PEER_ID (`__u64`, the
/// connected peer's id; `ENOTCONN` without a peer) and MCAST_UNIX_RX_RING
/// (the ring's `struct mcast_unix_ring_req`, zeros without one). The group options are
/// write-only (`ENOPROTOOPT`, as for any unknown option or level).
pub(crate) fn getsockopt(sk: &Sock, level: i32, name: i32, out: &OptOut) -> ErrnoResult<()> {
    if level != defs::SOL_MCAST_UNIX {
        return Err(Errno::ENOPROTOOPT);
    }
    match name {
        opt::PASS_SENDER_ID => out.put(&i32::from(sk.passes_sender_id()).to_ne_bytes()),
        opt::PEER_ID => {
            let peer = sk.peer().ok_or(Errno::ENOTCONN)?;
            out.put(&peer.cookie().to_ne_bytes())
        }
        opt::RX_RING => crate::ring::get(sk, out),
        _ => Err(Errno::ENOPROTOOPT),
    }
}

/// ioctl(2): SIOCINQ (bytes of the next message of a datagram socket, of
/// every queued message of a seqpacket socket; `EINVAL` while listening)
/// and SIOCOUTQ (bytes charged to the send buffer). `ENOIOCTLCMD` for any
/// other command, so the socket layer tries its generic ones.
pub(crate) fn ioctl(sk: &Sock, cmd: u32) -> ErrnoResult<i32> {
    match cmd {
        defs::SIOCINQ => {
            if sk.sk_state() == defs::TCP_LISTEN {
                return Err(Errno::EINVAL);
            }
            Ok(match sk.ty() {
                SockType::Dgram => sk.next_len().unwrap_or(0) as i32,
                SockType::Seqpacket => sk.queued_bytes() as i32,
            })
        }
        defs::SIOCOUTQ => Ok(sk.wmem() as i32),
        _ => Err(Errno::ENOIOCTLCMD),
    }
}

/// socketpair(2): two new sockets of the same type connected to each other.
pub(crate) fn socketpair(a: &Socket, b: &Socket) -> ErrnoResult<()> {
    let (ska, skb) = (a.sk(), b.sk());
    let seqpacket = ska.ty() == SockType::Seqpacket;
    for (x, y) in [(ska, skb), (skb, ska)] {
        let mut inner = x.inner();
        drop(super::poll::set_peer(x, &mut inner, Some(y.get())));
        if seqpacket {
            x.set_sk_state(defs::TCP_ESTABLISHED);
        }
        x.set_peercred_current();
    }
    if seqpacket {
        a.set_connected(true);
        b.set_connected(true);
    }
    Ok(())
}
