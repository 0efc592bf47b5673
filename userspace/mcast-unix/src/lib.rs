//! Client library for multicast Unix-domain sockets (the `mcast_unix` kernel
//! module).
//!
//! The module registers its own address family; its number is a module
//! parameter, so programs ask [`family()`] rather than hard-coding
//! [`AF_MCAST_UNIX`]. Constants mirror `include/uapi/linux/mcast_unix.h`.
//!
//! - Typed sockets, in the shape of std's `UnixDatagram`/`UnixListener`/
//!   `UnixStream` (see [`typed`] for how they map to the socket calls):
//!   [`McastDatagram`] (unicast, joining groups, owning a datagram group),
//!   [`McastListener`] and [`McastSeqpacket`] (seqpacket listening and
//!   connections), [`McastGroupListener`] (a seqpacket group's owner) and
//!   [`McastAccepted`] (its end of a client's connection, which it admits);
//! - [`MembershipFlags`]: the membership flags as a `bitflags` type;
//! - [`RecvMeta`]: what `recv_msg` reports besides the data: credentials,
//!   drop count, the kernel-stamped sender id and passed descriptors;
//! - [`Socket`]: the untyped socket (datagram or seqpacket) with every call
//!   and the raw `u32` flags;
//! - [`Addr`]: a pathname, abstract or unnamed address;
//! - [`filter`]: classic BPF programs ([`Program`]), a builder for routing
//!   filters over fixed header fields ([`FilterBuilder`], and [`AnyOf`] for
//!   an OR of them) and a reference
//!   interpreter and checker for them;
//! - [`ring`]: the mapped receive ring ([`RxRing`], `MCAST_UNIX_RX_RING`):
//!   messages read from frames the kernel fills, a [`Frame`] at a time,
//!   without a system call per message;
//! - [`bus`]: a D-Bus-style bus on a seqpacket group: the routing header,
//!   D-Bus messages in the D-Bus wire format (by zbus), match rules compiled
//!   to peer filters, and a blocking client ([`bus::Bus`]);
//! - `tokio` (cargo feature `tokio`, off by default): async versions of the
//!   typed sockets on tokio's `AsyncFd`.
//!
//! Calls are one system call each; errors are the kernel's errno as an
//! [`io::Error`]. The examples that need the module are `no_run`; the others
//! run on `AF_UNIX`, which shares the address layout.
//!
//! # Example: a datagram group with a topic filter
//!
//! ```no_run
//! use mcast_unix::{topic_hash, Addr, ByteOrder, FilterBuilder, McastDatagram, MembershipFlags};
//!
//! # fn main() -> std::io::Result<()> {
//! let group = Addr::abstract_("bus")?;
//! // The owner holds the address; it is not a member.
//! let _owner = McastDatagram::create_group(&group)?;
//!
//! // A subscriber that only wants "weather" messages: the first four bytes
//! // of every message are the topic hash, written in native byte order.
//! let sub = McastDatagram::unbound()?;
//! sub.attach_filter(&FilterBuilder::new().topic_in(0, ByteOrder::Native, ["weather"]).build()?)?;
//! sub.join_group(&group, MembershipFlags::DROP_WHEN_FULL)?;
//!
//! let publisher = McastDatagram::unbound()?;
//! let mut msg = topic_hash("weather").to_ne_bytes().to_vec();
//! msg.extend_from_slice(b"sunny");
//! publisher.send_to(&msg, &group)?;
//!
//! let mut buf = [0u8; 64];
//! let (n, from) = sub.recv_from(&mut buf)?;
//! println!("{n} bytes from {from}");
//! # Ok(())
//! # }
//! ```
//!
//! # Example: admitting a seqpacket member with a peer filter
//!
//! ```no_run
//! use mcast_unix::{Addr, FilterBuilder, McastGroupListener, McastSeqpacket, MembershipFlags};
//!
//! # fn main() -> std::io::Result<()> {
//! let group = Addr::abstract_("room")?;
//! let owner = McastGroupListener::create(&group)?;
//!
//! let member = McastSeqpacket::connect(&group)?;
//!
//! let (conn, _) = owner.accept()?;
//! // The owner decides from SO_PEERCRED who may join.
//! let allowed_uid = 1000;
//! if conn.peer_cred()?.uid == allowed_uid {
//!     // The member only gets messages whose first byte is 1 or 2.
//!     conn.set_peer_filter(&FilterBuilder::new().u8_in(0, [1, 2]).build()?)?;
//!     conn.admit_member(MembershipFlags::LOOPBACK)?;
//! }
//! member.send(&[1, 0, 0, 0])?;
//! # Ok(())
//! # }
//! ```
//!
//! # Example: sender identity and a passed descriptor
//!
//! ```
//! use mcast_unix::McastSeqpacket;
//! use std::os::fd::AsFd;
//!
//! # fn main() -> std::io::Result<()> {
//! let (a, b) = McastSeqpacket::pair_in(libc::AF_UNIX)?;
//! b.set_passcred(true)?;
//! // With the module, `b.set_pass_sender_id(true)` also stamps `a.id()`.
//! let file = std::fs::File::open("/dev/null")?;
//! a.send_with_fds(b"take this", &[file.as_fd()])?;
//!
//! let mut buf = [0u8; 32];
//! let meta = b.recv_msg(&mut buf)?;
//! assert_eq!(&buf[..meta.len], b"take this");
//! assert_eq!(meta.cred.map(|c| c.pid as u32), Some(std::process::id()));
//! let passed: std::fs::File = meta.fds.into_iter().next().unwrap().into();
//! # let _ = passed;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

use std::io;

pub mod addr;
pub mod bus;
pub mod filter;
pub mod flags;
pub mod ring;
pub mod socket;
pub mod typed;
#[cfg(test)]
mod testutil;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use addr::Addr;
pub use flags::MembershipFlags;
pub use ring::{Frame, RxRing};
pub use filter::{fnv1a32, topic_hash, AnyOf, ByteOrder, FilterBuilder, FilterError, Insn, Program};
pub use socket::{RecvMeta, SockType, Socket};
pub use typed::{Incoming, McastAccepted, McastDatagram, McastGroupListener, McastListener, McastSeqpacket};

/// Default address family number (`AF_MCAST_UNIX` in the uapi header).
pub const AF_MCAST_UNIX: i32 = 13;
/// Socket-option level of the options below.
pub const SOL_MCAST_UNIX: i32 = 290;
/// Option: bind an unbound socket to an address and own the group there
/// (`struct mcast_unix_mreq`, flags 0).
pub const MCAST_UNIX_CREATE_GROUP: i32 = 1;
/// Option: join a datagram group (`struct mcast_unix_mreq`).
pub const MCAST_UNIX_JOIN_GROUP: i32 = 2;
/// Option: leave a datagram group (`struct mcast_unix_mreq`).
pub const MCAST_UNIX_LEAVE_GROUP: i32 = 3;
/// Option: admit the client of an accepted seqpacket connection (`__u32`
/// flags).
pub const MCAST_UNIX_ADMIT_MEMBER: i32 = 4;
/// Option: the owner's filter on what an accepted member receives (`struct
/// sock_fprog`; optlen 0 detaches).
pub const MCAST_UNIX_PEER_FILTER: i32 = 5;
/// Option (`int`, 0 or 1): received messages carry their sender's id as
/// ancillary data [`MCAST_UNIX_SENDER_ID`].
pub const MCAST_UNIX_PASS_SENDER_ID: i32 = 6;
/// getsockopt only (`__u64`): the connected peer's id.
pub const MCAST_UNIX_PEER_ID: i32 = 7;
/// Option (`struct mcast_unix_ring_req`, [`ring::McastUnixRingReq`]): receive
/// into a mapped ring ([`RxRing`]). Set once, while the receive queue is
/// empty.
pub const MCAST_UNIX_RX_RING: i32 = 8;
/// Ancillary data type (level [`SOL_MCAST_UNIX`], `__u64`): the id of the
/// socket that sent the message, stamped by the kernel: its `SO_COOKIE`.
pub const MCAST_UNIX_SENDER_ID: i32 = MCAST_UNIX_PASS_SENDER_ID;
/// Membership flag: the member also receives its own group messages.
pub const MCAST_UNIX_LOOPBACK: u32 = 1 << 0;
/// Membership flag: the owner's side (its accepted socket, or the owner of a
/// datagram group) gets a copy of what the member sends to the group.
pub const MCAST_UNIX_SEND_TO_PEER: u32 = 1 << 1;
/// Membership flag: drop (and count) this member's copy when its receive
/// queue is full instead of holding the sender back.
pub const MCAST_UNIX_DROP_WHEN_FULL: u32 = 1 << 2;
/// Every membership flag.
pub const MCAST_UNIX_FLAGS_ALL: u32 =
    MCAST_UNIX_LOOPBACK | MCAST_UNIX_SEND_TO_PEER | MCAST_UNIX_DROP_WHEN_FULL;

/// `mcast_unix_ring_hdr.version` of the ring layout described here.
pub const MCAST_UNIX_RING_VERSION: u32 = 1;
/// Size of the ring header (`struct mcast_unix_ring_hdr`) at the start of
/// the mapping.
pub const MCAST_UNIX_RING_HDRLEN: usize = 64;
/// Offset of a message's bytes in its frame (the size of `struct
/// mcast_unix_frame`).
pub const MCAST_UNIX_FRAME_DATA: usize = 160;
/// Frame status: the kernel's to fill.
pub const MCAST_UNIX_FRAME_KERNEL: u32 = 0;
/// Frame status: filled, the reader's until it stores
/// [`MCAST_UNIX_FRAME_KERNEL`].
pub const MCAST_UNIX_FRAME_USER: u32 = 1;
/// Frame flag: the message did not fit (`snaplen < len`).
pub const MCAST_UNIX_FRAME_TRUNC: u32 = 1 << 0;
/// Frame flag: descriptors the message carried were not passed (closed).
pub const MCAST_UNIX_FRAME_CTRUNC: u32 = 1 << 1;
/// Frame flag: the frame's pid, uid and gid are set (`SO_PASSCRED`).
pub const MCAST_UNIX_FRAME_CREDS: u32 = 1 << 2;
/// Frame flag: no message; the reader gives it back (reserved: the kernel
/// does not set it yet).
pub const MCAST_UNIX_FRAME_EMPTY: u32 = 1 << 3;

/// Where the loaded module publishes the family number it registered.
pub const FAMILY_PARAM: &str = "/sys/module/mcast_unix/parameters/family";

/// The address family the loaded module registered.
///
/// ```no_run
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// let af = family()?;
/// let s = Socket::dgram_in(af)?; // what Socket::dgram() does
/// # let _ = s;
/// # Ok(())
/// # }
/// ```
pub fn family() -> io::Result<i32> {
    let text = std::fs::read_to_string(FAMILY_PARAM)?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad family parameter"))
}

/// `struct mcast_unix_mreq`.
///
/// ```no_run
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// // What Socket::join_group passes to the kernel, by hand.
/// let (address, address_len) = Addr::abstract_("signals")?.to_raw(family()? as libc::sa_family_t);
/// let mreq = McastUnixMreq { address, address_len, flags: MCAST_UNIX_LOOPBACK };
/// # let _ = mreq;
/// # Ok(())
/// # }
/// ```
#[repr(C)]
#[derive(Clone, Copy)]
pub struct McastUnixMreq {
    /// The group's address (`sun_family` is the module's family).
    pub address: libc::sockaddr_un,
    /// The length of `address`, as the addrlen of bind()/connect().
    pub address_len: u32,
    /// `MCAST_UNIX_*` membership flags.
    pub flags: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mreq_layout_matches_uapi() {
        // sockaddr_un (110 bytes) + two __u32, 4-byte aligned.
        assert_eq!(std::mem::size_of::<libc::sockaddr_un>(), 110);
        assert_eq!(std::mem::size_of::<McastUnixMreq>(), 120);
        assert_eq!(std::mem::offset_of!(McastUnixMreq, address_len), 112);
        assert_eq!(std::mem::offset_of!(McastUnixMreq, flags), 116);
    }
}
