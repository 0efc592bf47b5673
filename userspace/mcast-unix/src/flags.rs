//! [`MembershipFlags`]: the `MCAST_UNIX_*` membership flags as a
//! [`bitflags`] type, taken by
//! [`McastDatagram::join_group`](crate::McastDatagram::join_group) and
//! [`McastAccepted::admit_member`](crate::McastAccepted::admit_member).
//!
//! The raw `u32` constants ([`MCAST_UNIX_LOOPBACK`] and the others) stay for [`Socket`] users;
//! [`MembershipFlags::bits`] and [`MembershipFlags::from_bits`] convert.

#[cfg(doc)]
use crate::Socket;
use crate::{MCAST_UNIX_DROP_WHEN_FULL, MCAST_UNIX_LOOPBACK, MCAST_UNIX_SEND_TO_PEER};

bitflags::bitflags! {
    /// How a member takes part in a group (`mreq.flags` of
    /// `MCAST_UNIX_JOIN_GROUP`, the `__u32` of `MCAST_UNIX_ADMIT_MEMBER`).
    ///
    /// [`MembershipFlags::empty()`] is a plain member: it does not receive
    /// its own messages, the owner gets no copies, and a full receive queue
    /// holds senders back.
    ///
    /// ```
    /// use mcast_unix::MembershipFlags;
    ///
    /// let flags = MembershipFlags::LOOPBACK | MembershipFlags::DROP_WHEN_FULL;
    /// assert_eq!(flags.bits(), mcast_unix::MCAST_UNIX_LOOPBACK | mcast_unix::MCAST_UNIX_DROP_WHEN_FULL);
    /// assert_eq!(MembershipFlags::from_bits(1 << 31), None, "unknown bits are refused");
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MembershipFlags: u32 {
        /// `MCAST_UNIX_LOOPBACK`: the member also receives its own group
        /// messages.
        const LOOPBACK = MCAST_UNIX_LOOPBACK;
        /// `MCAST_UNIX_SEND_TO_PEER`: the owner gets a copy of every group
        /// message this member sends (on the member's accepted connection
        /// for seqpacket, on the owner socket for datagram). The copy is
        /// never dropped.
        const SEND_TO_PEER = MCAST_UNIX_SEND_TO_PEER;
        /// `MCAST_UNIX_DROP_WHEN_FULL`: when this member's receive queue is
        /// full its copy is dropped (and counted, see
        /// [`RecvMeta::dropped`](crate::RecvMeta::dropped)) instead of
        /// holding the sender back.
        const DROP_WHEN_FULL = MCAST_UNIX_DROP_WHEN_FULL;
    }
}

impl From<MembershipFlags> for u32 {
    fn from(flags: MembershipFlags) -> u32 {
        flags.bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_matches_the_raw_constant() {
        assert_eq!(MembershipFlags::all().bits(), crate::MCAST_UNIX_FLAGS_ALL);
        assert_eq!(u32::from(MembershipFlags::empty()), 0);
        assert_eq!(MembershipFlags::from_bits_truncate(u32::MAX), MembershipFlags::all());
    }
}
