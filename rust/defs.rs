// SPDX-License-Identifier: GPL-2.0

//! The ABI in one place: every constant and layout the family shares with
//! userspace and the socket layer, taken from the generated bindings of
//! `include/uapi/linux/mcast_unix.h` and the kernel headers (never copied by
//! hand), converted once to the types the domain code compares them with.

use crate::sys::bindings as b;
use core::mem::{offset_of, size_of};

/// The option level of the family (`SOL_MCAST_UNIX`).
pub(crate) const SOL_MCAST_UNIX: i32 = b::SOL_MCAST_UNIX as i32;

/// The options of level [`SOL_MCAST_UNIX`].
pub(crate) mod opt {
    use super::b;
    pub(crate) const CREATE_GROUP: i32 = b::MCAST_UNIX_CREATE_GROUP as i32;
    pub(crate) const JOIN_GROUP: i32 = b::MCAST_UNIX_JOIN_GROUP as i32;
    pub(crate) const LEAVE_GROUP: i32 = b::MCAST_UNIX_LEAVE_GROUP as i32;
    pub(crate) const ADMIT_MEMBER: i32 = b::MCAST_UNIX_ADMIT_MEMBER as i32;
    pub(crate) const PEER_FILTER: i32 = b::MCAST_UNIX_PEER_FILTER as i32;
    pub(crate) const PASS_SENDER_ID: i32 = b::MCAST_UNIX_PASS_SENDER_ID as i32;
    pub(crate) const PEER_ID: i32 = b::MCAST_UNIX_PEER_ID as i32;
    pub(crate) const RX_RING: i32 = b::MCAST_UNIX_RX_RING as i32;
}

/// Ancillary data of level [`SOL_MCAST_UNIX`] on receive.
pub(crate) mod cmsg {
    use super::b;
    /// The sending socket's id (`__u64`).
    pub(crate) const SENDER_ID: i32 = b::MCAST_UNIX_SENDER_ID as i32;
}

/// Membership flags (`mcast_unix_mreq.flags`, ADMIT_MEMBER's value).
pub(crate) mod flags {
    use super::b;
    pub(crate) const LOOPBACK: u32 = b::MCAST_UNIX_LOOPBACK;
    pub(crate) const SEND_TO_PEER: u32 = b::MCAST_UNIX_SEND_TO_PEER;
    pub(crate) const DROP_WHEN_FULL: u32 = b::MCAST_UNIX_DROP_WHEN_FULL;
    pub(crate) const ALL: u32 = b::MCAST_UNIX_FLAGS_ALL;
}

/// `struct mcast_unix_mreq`: its size and the offsets of its fields.
pub(crate) mod mreq {
    use super::*;
    pub(crate) const SIZE: usize = size_of::<b::mcast_unix_mreq>();
    pub(crate) const ADDRESS_LEN: usize = offset_of!(b::mcast_unix_mreq, address_len);
    pub(crate) const FLAGS: usize = offset_of!(b::mcast_unix_mreq, flags);
    /// The address field (a `struct sockaddr_un`).
    pub(crate) const ADDRESS_MAX: usize = size_of::<b::sockaddr_un>();
}

/// Socket types (`linux/net.h`).
pub(crate) const SOCK_DGRAM: i32 = b::sock_type_SOCK_DGRAM as i32;
pub(crate) const SOCK_SEQPACKET: i32 = b::sock_type_SOCK_SEQPACKET as i32;

/// connect() with this family dissolves a datagram connection.
pub(crate) const AF_UNSPEC: u16 = b::AF_UNSPEC as u16;

/// The ioctls the family answers.
pub(crate) const SIOCINQ: u32 = b::MCAST_SIOCINQ;
pub(crate) const SIOCOUTQ: u32 = b::MCAST_SIOCOUTQ;

/// Message flags the family looks at.
pub(crate) const MSG_OOB: u32 = b::MSG_OOB;
pub(crate) const MSG_TRUNC: u32 = b::MSG_TRUNC;
pub(crate) const MSG_DONTWAIT: u32 = b::MSG_DONTWAIT;

/// `sk->sk_state` values, as af_unix.c uses them.
pub(crate) const TCP_ESTABLISHED: u8 = b::TCP_ESTABLISHED as u8;
pub(crate) const TCP_CLOSE: u8 = b::TCP_CLOSE as u8;
pub(crate) const TCP_LISTEN: u8 = b::TCP_LISTEN as u8;

/// `sk->sk_shutdown` bits.
pub(crate) const RCV_SHUTDOWN: u8 = b::RCV_SHUTDOWN as u8;
pub(crate) const SEND_SHUTDOWN: u8 = b::SEND_SHUTDOWN as u8;
pub(crate) const SHUTDOWN_MASK: u8 = b::SHUTDOWN_MASK as u8;
