// SPDX-License-Identifier: GPL-2.0

//! The options of level SOL_MCAST_UNIX: creating a group, joining and
//! leaving it, and what a seqpacket group's owner sets on an accepted
//! connection (admission, the peer filter). Values are decoded here, from
//! the layouts in [`crate::defs`].

use super::{memberships, Group};
use crate::address::PATH_OFFSET;
use crate::defs::{flags, mreq, opt};
use crate::socket::{bind, Sock, SockType, Socket};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::filter::PeerFilter;
use crate::sys::msg::OptVal;
use kernel::prelude::*;
use kernel::sync::Arc;

/// setsockopt(SOL_MCAST_UNIX, `name`, `val`).
pub(crate) fn set(sock: &Socket, name: i32, val: &OptVal) -> ErrnoResult<()> {
    let sk = sock.sk();
    let mut buf = [0u8; mreq::SIZE];
    match name {
        opt::CREATE_GROUP => create(sock, Mreq::parse(val.read(&mut buf)?)?),
        opt::JOIN_GROUP => join(sk, Mreq::parse(val.read(&mut buf)?)?),
        opt::LEAVE_GROUP => leave(sk, Mreq::parse(val.read(&mut buf)?)?),
        opt::PEER_FILTER => set_peer_filter(sk, val),
        opt::ADMIT_MEMBER => {
            let flags = val.read(&mut buf[..4])?;
            if flags.len() < 4 {
                return Err(Errno::EINVAL);
            }
            admit(sk, u32::from_ne_bytes([flags[0], flags[1], flags[2], flags[3]]))
        }
        _ => Err(Errno::ENOPROTOOPT),
    }
}

/// MCAST_UNIX_CREATE_GROUP: binds the unbound socket to the address and
/// makes it the group's owner.
fn create(sock: &Socket, mreq: Mreq<'_>) -> ErrnoResult<()> {
    let sk = sock.sk();
    if mreq.flags != 0 {
        return Err(Errno::EINVAL);
    }
    if mreq.address.len() <= PATH_OFFSET {
        // No autobind for a group.
        return Err(Errno::EINVAL);
    }
    // Made before the name exists, so nothing can fail once it does; the
    // group is installed before the name is published, so the address never
    // names a socket that is not yet its owner.
    bind::bind_then(sock, mreq.address, |addr| Group::new(sk, addr.clone()), |group| {
        sk.inner().set_owned_group(group);
    })
}

/// MCAST_UNIX_JOIN_GROUP (datagram sockets).
fn join(sk: &Sock, mreq: Mreq<'_>) -> ErrnoResult<()> {
    if sk.ty() == SockType::Seqpacket {
        return Err(Errno::EOPNOTSUPP);
    }
    if mreq.flags & !flags::ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let addr = bind::parse_dest(sk, mreq.address)?;
    let owner = bind::find_other(sk, &addr)?;
    let group = owner.owned_group().ok_or(Errno::EINVAL)?;
    memberships::add(sk, &group, mreq.flags, None, None)
}

/// MCAST_UNIX_LEAVE_GROUP (datagram sockets).
fn leave(sk: &Sock, mreq: Mreq<'_>) -> ErrnoResult<()> {
    if sk.ty() == SockType::Seqpacket {
        return Err(Errno::EOPNOTSUPP);
    }
    let addr = bind::parse_dest(sk, mreq.address)?;
    let group = bind::find_other(sk, &addr)
        .ok()
        .and_then(|owner| owner.owned_group())
        .ok_or(Errno::EADDRNOTAVAIL)?;
    let _serial = sk.join_serial();
    let slot = sk.inner().memberships_mut().take(&group).ok_or(Errno::EADDRNOTAVAIL)?;
    drop(slot);
    // Unlinked (if a close did not get there first); nothing is queued here
    // from the group once the slot is empty.
    let _ = group.remove(sk);
    Ok(())
}

/// MCAST_UNIX_ADMIT_MEMBER on an accepted connection of a seqpacket group's
/// listening owner: the client at the other end becomes a member. `EINVAL`
/// on another socket, `EALREADY` if admitted before, `ENOTCONN` if the
/// client hung up and the connection is gone, `ECONNRESET` if the client
/// closed (before or during the call).
fn admit(accepted: &Sock, flags: u32) -> ErrnoResult<()> {
    let mut admission = accepted.admission();
    let (group, client) = {
        let inner = accepted.inner();
        let group = inner.listener_group().cloned().ok_or(Errno::EINVAL)?;
        if admission.admitted {
            return Err(Errno::EALREADY);
        }
        (group, inner.peer().cloned().ok_or(Errno::ENOTCONN)?)
    };
    let filter = admission.peer_filter.clone();
    if flags & !flags::ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if client.is_dead() {
        return Err(Errno::ECONNRESET);
    }
    memberships::add(&client, &group, flags, Some(accepted.get()), filter).map_err(|e| {
        if e == Errno::EADDRINUSE {
            Errno::EALREADY
        } else {
            e
        }
    })?;
    admission.admitted = true;
    Ok(())
}

/// MCAST_UNIX_PEER_FILTER on an accepted connection of a seqpacket group's
/// listening owner: what its client receives from the group must pass this
/// classic BPF program too. An empty value detaches it. `EPERM` on any other
/// socket (so a member cannot touch its own).
fn set_peer_filter(accepted: &Sock, val: &OptVal) -> ErrnoResult<()> {
    let mut admission = accepted.admission();
    let group = accepted.inner().listener_group().cloned().ok_or(Errno::EPERM)?;
    let filter = match val.len() {
        0 => None,
        _ => Some(Arc::new(PeerFilter::from_user(val)?, GFP_KERNEL)?),
    };
    let old = core::mem::replace(&mut admission.peer_filter, filter.clone());
    drop(old);
    if admission.admitted {
        group.set_filter(accepted, filter)?;
    }
    Ok(())
}

/// A parsed `struct mcast_unix_mreq` (layout from the bindings: see
/// [`crate::defs::mreq`]).
pub(crate) struct Mreq<'a> {
    pub(crate) address: &'a [u8],
    pub(crate) flags: u32,
}

impl<'a> Mreq<'a> {
    /// Parses the option value: `EINVAL` if shorter than the struct or if
    /// `address_len` exceeds the address field.
    pub(crate) fn parse(val: &'a [u8]) -> ErrnoResult<Mreq<'a>> {
        if val.len() < mreq::SIZE {
            return Err(Errno::EINVAL);
        }
        let word = |at: usize| u32::from_ne_bytes([val[at], val[at + 1], val[at + 2], val[at + 3]]);
        let len = word(mreq::ADDRESS_LEN) as usize;
        if len > mreq::ADDRESS_MAX {
            return Err(Errno::EINVAL);
        }
        Ok(Mreq { address: &val[..len], flags: word(mreq::FLAGS) })
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::{kcheck, kcheck_eq};

    fn mreq_bytes(len: u32, flags: u32) -> [u8; mreq::SIZE] {
        let mut v = [0u8; mreq::SIZE];
        v[mreq::ADDRESS_LEN..mreq::ADDRESS_LEN + 4].copy_from_slice(&len.to_ne_bytes());
        v[mreq::FLAGS..mreq::FLAGS + 4].copy_from_slice(&flags.to_ne_bytes());
        v
    }

    pub(crate) fn mreq_parse_layout() -> CaseResult {
        // The uapi layout: 110 bytes of sockaddr_un, then two __u32 at 112 and 116.
        kcheck_eq!((mreq::SIZE, mreq::ADDRESS_LEN, mreq::FLAGS, mreq::ADDRESS_MAX), (120, 112, 116, 110));
        let v = mreq_bytes(7, 5);
        let m = Mreq::parse(&v).map_err(|_| crate::kfail!("parse"))?;
        kcheck_eq!(m.address.len(), 7);
        kcheck_eq!(m.flags, 5);
        Ok(())
    }

    pub(crate) fn mreq_parse_rejects_short_and_long() -> CaseResult {
        let v = mreq_bytes(7, 0);
        kcheck!(Mreq::parse(&v[..mreq::SIZE - 1]).err() == Some(Errno::EINVAL));
        kcheck!(Mreq::parse(&v[..0]).err() == Some(Errno::EINVAL));
        let long = mreq_bytes(mreq::ADDRESS_MAX as u32 + 1, 0);
        kcheck!(Mreq::parse(&long).err() == Some(Errno::EINVAL));
        // A longer buffer is fine (extra bytes ignored).
        let mut big = [0u8; 128];
        big[..mreq::SIZE].copy_from_slice(&mreq_bytes(3, 1));
        kcheck!(Mreq::parse(&big).is_ok());
        Ok(())
    }

    crate::kunit_cases![
        mreq_parse_layout,
        mreq_parse_rejects_short_and_long,
    ];
}
