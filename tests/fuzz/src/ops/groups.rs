//! Sequences that build and use groups, so that a good share of the calls
//! run in deep states: groups with owners (created again after their owner
//! is closed), members joined with every flag combination, seqpacket members
//! connected, accepted and admitted (with peer filters), and traffic to all
//! of them, drained often enough that queues do not stay full.
//!
//! Groups are the known addresses of `addr::NGROUPS`, shared by every thread
//! and both processes (abstract names are per network namespace, not per
//! process), so one process's members join the other's groups.

use super::msg::{self, RECEIVERS};
use super::opts::{self, membership_flags, put_group_mreq, MREQ_SIZE};
use super::{layout, sock, Ctx};
use crate::addr::{group_path, SockAddr, NGROUPS};
use crate::pool::Kind;
use crate::rng::Args;
use crate::shared::Call;
use crate::sys::{self, UPtr};
use mcast_unix::{
    MCAST_UNIX_ADMIT_MEMBER, MCAST_UNIX_CREATE_GROUP, MCAST_UNIX_JOIN_GROUP, MCAST_UNIX_LEAVE_GROUP,
    MCAST_UNIX_PEER_FILTER, SOL_MCAST_UNIX,
};

const DGRAM_SENDERS: [Kind; 3] = [Kind::Dgram, Kind::Member, Kind::DgramOwner];

/// Creates group `g` of the given type on a fresh socket; its slot on
/// success. A pathname group's old inode is often removed first (it stays
/// after the owner closes, like AF_UNIX), and the new one opened to the
/// other user.
pub fn create_group(c: &mut Ctx, seq: bool, g: usize) -> Option<usize> {
    let path = group_path(g);
    if let Some(p) = &path {
        if c.rng.chance(50) {
            let r = std::fs::remove_file(p).map(|_| 0).map_err(|e| e.raw_os_error().unwrap_or(0));
            c.rec(Call::Fs, r).ok();
        }
    }
    let fd = c.new_socket(if seq { libc::SOCK_SEQPACKET } else { libc::SOCK_DGRAM })?;
    let flags = if c.rng.chance(95) { 0 } else { membership_flags(&mut c.rng) };
    let mreq = put_group_mreq(c, g, flags);
    let len = if c.rng.chance(95) { MREQ_SIZE } else { c.rng.len_around(MREQ_SIZE) };
    let r = c.rec(Call::Create, sys::setsockopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_CREATE_GROUP, mreq, len));
    if r.is_err() {
        if c.rng.chance(50) {
            let _ = sys::close(fd);
        } else {
            let kind = if seq { Kind::Seq } else { Kind::Dgram };
            c.pool.install(&mut c.rng, fd, kind, g);
        }
        return None;
    }
    if let Some(p) = &path {
        if c.rng.chance(70) {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777));
        }
    }
    if seq {
        let backlog = c.rng.pick(&[1, 2, 8, 32, 128]);
        c.rec(Call::GroupListen, sys::listen(fd, backlog)).ok();
    } else if c.rng.chance(50) {
        // A small owner buffer fills with SEND_TO_PEER copies.
        let size = c.rng.pick(&[0, 2304, 4096]);
        opts::set_int(c, fd, libc::SO_RCVBUF, size);
    }
    let kind = if seq { Kind::SeqOwner } else { Kind::DgramOwner };
    let slot = c.pool.install(&mut c.rng, fd, kind, g);
    c.pool.set_owner(seq, g, slot);
    Some(slot)
}

pub fn create(c: &mut Ctx) {
    let seq = c.rng.chance(40);
    let g = c.rng.index(NGROUPS);
    create_group(c, seq, g);
}

pub fn join(c: &mut Ctx) {
    let g = c.rng.index(NGROUPS);
    let fresh = c.rng.chance(60);
    let fd = if fresh {
        let Some(fd) = c.new_socket(libc::SOCK_DGRAM) else { return };
        sock::configure(c, fd);
        fd
    } else {
        c.of(&[Kind::Dgram, Kind::Member]).1
    };
    let flags = membership_flags(&mut c.rng);
    let mreq = put_group_mreq(c, g, flags);
    let mut r = c.rec(Call::Join, sys::setsockopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_JOIN_GROUP, mreq, MREQ_SIZE));
    if r == Err(libc::ECONNREFUSED) && c.rng.chance(60) && create_group(c, false, g).is_some() {
        let mreq = put_group_mreq(c, g, flags);
        r = c.rec(Call::Join, sys::setsockopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_JOIN_GROUP, mreq, MREQ_SIZE));
    }
    if fresh {
        let kind = if r.is_ok() { Kind::Member } else { Kind::Dgram };
        c.pool.install(&mut c.rng, fd, kind, g);
    }
}

pub fn leave(c: &mut Ctx) {
    let (slot, fd) = c.of(&[Kind::Member]);
    let g = if c.rng.chance(70) { c.pool.group(slot) } else { c.rng.index(NGROUPS) };
    let mreq = put_group_mreq(c, g, 0);
    c.rec(Call::Leave, sys::setsockopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_LEAVE_GROUP, mreq, MREQ_SIZE)).ok();
}

/// MCAST_UNIX_PEER_FILTER on an accepted connection: a program, or optlen 0
/// (detach).
fn peer_filter(c: &mut Ctx, fd: i32) {
    let (p, len) = if c.rng.chance(10) {
        (UPtr::NULL, 0)
    } else {
        let prog = opts::program(&mut c.rng);
        (opts::put_fprog(c, &prog), 16)
    };
    c.rec(Call::PeerFilter, sys::setsockopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_PEER_FILTER, p, len)).ok();
}

pub fn peer_filter_op(c: &mut Ctx) {
    let (_, fd) = c.of(&[Kind::Accepted]);
    peer_filter(c, fd);
}

/// A seqpacket member end to end: a client connects to group `g`, the
/// owner (this process's, created if needed) accepts the first pending
/// connection (maybe another thread's or the other process's client),
/// optionally filters it and admits it.
pub fn admit(c: &mut Ctx) {
    let g = c.rng.index(NGROUPS);
    let owner = match c.pool.owner(true, g) {
        Some(s) => Some(s),
        None => create_group(c, true, g),
    };
    let Some(client) = c.new_socket(libc::SOCK_SEQPACKET) else { return };
    if c.rng.chance(40) {
        sock::configure(c, client);
    }
    let a = SockAddr::group(c.env.family, g);
    c.b.misc.write(layout::NAME, &a.bytes);
    let r = c.rec(Call::ConnectGroup, sys::connect(client, c.b.misc.at(layout::NAME), a.len));
    let kind = if r.is_ok() { Kind::SeqClient } else { Kind::Seq };
    c.pool.install(&mut c.rng, client, kind, g);
    let Some(owner) = owner else { return };
    let ofd = c.pool.fd(owner);
    let flags =
        if c.rng.chance(50) { libc::SOCK_NONBLOCK } else { 0 } | if c.rng.chance(20) { libc::SOCK_CLOEXEC } else { 0 };
    let Ok(conn) = c.rec(Call::GroupAccept, sys::accept4(ofd, UPtr::NULL, UPtr::NULL, flags)) else { return };
    let conn = conn as i32;
    c.set_timeouts(conn);
    if c.rng.chance(30) {
        // The member's SEND_TO_PEER copies then fill it.
        let size = c.rng.pick(&[0, 2304, 4096]);
        opts::set_int(c, conn, libc::SO_RCVBUF, size);
    }
    if c.rng.chance(30) {
        peer_filter(c, conn);
    }
    for _ in 0..if c.rng.chance(5) { 2 } else { 1 } {
        let f = membership_flags(&mut c.rng);
        c.b.opt.put(0, f);
        let len = if c.rng.chance(95) { 4 } else { c.rng.len_around(4) };
        c.rec(Call::Admit, sys::setsockopt(conn, SOL_MCAST_UNIX, MCAST_UNIX_ADMIT_MEMBER, c.b.opt.at(0), len)).ok();
    }
    if c.rng.chance(30) {
        peer_filter(c, conn);
    }
    c.pool.install(&mut c.rng, conn, Kind::Accepted, g);
}

/// A message to a group address from a datagram socket: `sendto`, or
/// `sendmsg` with random ancillary data (credentials reach members with
/// SO_PASSCRED).
pub fn group_send(c: &mut Ctx) {
    let (fd, g) = if c.rng.chance(35) {
        // A member to its own group: LOOPBACK and SEND_TO_PEER copies.
        let (slot, fd) = c.of(&[Kind::Member]);
        (fd, c.pool.group(slot))
    } else {
        // Mostly a group that exists (one this process owns; the other
        // process's groups are reached by chance).
        let live = if c.rng.chance(60) { c.pool.live_group(&mut c.rng, false) } else { None };
        let g = live.unwrap_or_else(|| c.rng.index(NGROUPS));
        (if c.rng.chance(85) { c.of(&DGRAM_SENDERS).1 } else { c.any() }, g)
    };
    let a = SockAddr::group(c.env.family, g);
    if c.rng.chance(75) {
        let (buf, len) = c.payload();
        let flags = c.group_send_flags();
        c.b.misc.write(layout::NAME, &a.bytes);
        let to = c.b.misc.at(layout::NAME);
        c.rec(Call::GroupSend, sys::sendto(fd, buf, len, flags, to, a.len)).ok();
    } else {
        msg::sendmsg_to(c, fd, Some(&a), Call::GroupSend).ok();
    }
}

/// A datagram socket connected to a group: connect (sometimes), then sends
/// without an address; POLLOUT of such sockets follows the group's members.
pub fn connected_send(c: &mut Ctx) {
    let (_, fd) = c.of(&[Kind::Dgram, Kind::Member]);
    if c.rng.chance(40) {
        let g = c.pool.live_group(&mut c.rng, false).unwrap_or_else(|| c.rng.index(NGROUPS));
        let a = SockAddr::group(c.env.family, g);
        c.b.misc.write(layout::NAME, &a.bytes);
        c.rec(Call::ConnectGroup, sys::connect(fd, c.b.misc.at(layout::NAME), a.len)).ok();
    }
    let (buf, len) = c.payload();
    let flags = c.group_send_flags();
    c.rec(Call::ConnSend, sys::sendto(fd, buf, len, flags, UPtr::NULL, 0)).ok();
}

/// A send on a seqpacket member (to its group once admitted) or on an
/// owner's accepted connection (unicast to that member).
pub fn member_send(c: &mut Ctx) {
    let (_, fd) = c.of(&[Kind::SeqClient, Kind::Accepted]);
    if c.rng.chance(80) {
        let (buf, len) = c.payload();
        let flags = c.group_send_flags();
        c.rec(Call::MemberSend, sys::sendto(fd, buf, len, flags, UPtr::NULL, 0)).ok();
    } else {
        msg::sendmsg_to(c, fd, None, Call::MemberSend).ok();
    }
}

/// Reads what is queued at a receiver, a few messages at a time.
pub fn drain(c: &mut Ctx) {
    let (_, fd) = c.of(&RECEIVERS);
    for _ in 0..c.rng.range(1, 8) {
        let mut flags = libc::MSG_DONTWAIT;
        if c.rng.chance(10) {
            flags |= libc::MSG_TRUNC;
        }
        let r = if c.rng.chance(75) {
            let len = c.rng.pick(&[65536, 65536, 4096, 16, 0]);
            c.b.misc.put(layout::LEN, 128u32);
            let (buf, from, fromlen) = (c.b.rbuf.at(0), c.b.misc.at(layout::RNAME), c.b.misc.at(layout::LEN));
            c.rec(Call::Drain, sys::recvfrom(fd, buf, len, flags, from, fromlen))
        } else {
            // With control data: credentials, the SO_RXQ_OVFL drop count.
            msg::recvmsg_on(c, fd, flags, Call::Drain)
        };
        if r.is_err() {
            break;
        }
    }
}
