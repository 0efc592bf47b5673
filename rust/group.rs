// SPDX-License-Identifier: GPL-2.0

//! Multicast groups: membership and ordered, all-or-nothing fan-out.
//!
//! # How delivery works
//!
//! A group belongs to the socket that created it (its owner, bound to the
//! group's address). Its member list is published through RCU
//! ([`RcuBox`]): senders read it without any lock; joins, leaves and
//! admissions copy it, change the copy and publish it under the list's own
//! writer mutex (per group), waiting a grace period before freeing the old one.
//!
//! One message, sent by `S`:
//! 1. `order` (a per-group mutex) is taken: deliveries of one group happen
//!    one message at a time, so every member sees the group's messages in the
//!    same order. Senders of different groups never wait for each other.
//! 2. Under `rcu_read_lock()` the recipients are walked in list order:
//!    (a) each recipient's filters (the owner's peer filter, the member's own
//!    socket filter) run on the shared message and say how much of it the
//!    recipient keeps — a rejecting recipient costs only the filter run; if a
//!    recipient that keeps it and did not ask for DROP_WHEN_FULL is full, the
//!    sender waits for it (SO_SNDTIMEO; `EAGAIN` when non-blocking; `EINTR`
//!    on a signal) outside every lock and starts again at 1; (b) each
//!    accepting recipient but the last gets a clone (the payload is shared),
//!    the last the message itself, each cut to what its filters keep — the
//!    per-recipient state sits in an on-stack array for up to [`INLINE`]
//!    recipients; (c) every copy is queued, except at full DROP_WHEN_FULL
//!    members, whose copy is dropped and counted.
//!
//! So a message reaches every eligible recipient or none, and a sender waits
//! outside every lock. A member that leaves or closes is removed from the
//! list before it stops taking messages, and wakes anyone waiting on it.

use crate::address::Address;
use crate::membership::{Handle, Member, MemberList, FLAGS_ALL};
use crate::socket::{self, hang_up, peer_is_full, SockType};
use crate::sys::errno::{Errno, KResult};
use crate::sys::family::{max_groups, max_members};
use crate::sys::filter::PeerFilter;
use crate::sys::rcu::RcuBox;
use crate::sys::skb::{Skb, POLL_WRITE};
use crate::sys::sock::{Sock, SockRef};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::alloc::flags::GFP_ATOMIC;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// Recipients whose copies fit in the on-stack array.
pub(crate) const INLINE: usize = 16;

/// The member list of a group in the module.
type Members = MemberList<SockRef, Arc<PeerFilter>>;

impl Handle for SockRef {
    fn same(&self, other: &SockRef) -> bool {
        self.is(other)
    }
}

/// A group.
#[pin_data]
pub(crate) struct Group {
    pub(crate) ty: SockType,
    pub(crate) addr: Arc<Address>,
    #[pin]
    list: RcuBox<Members>,
    #[pin]
    order: Mutex<()>,
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// Where one send stands.
enum Step {
    Sent,
    WaitFor(SockRef),
}

impl Group {
    /// A new group owned by `owner` at `addr`.
    pub(crate) fn new(owner: &Sock, addr: Arc<Address>) -> KResult<Arc<Group>> {
        let list = KBox::new(Members::new((owner.ty() == SockType::Dgram).then(|| owner.get())), GFP_KERNEL)?;
        Ok(Arc::pin_init(
            pin_init!(Group {
                ty: owner.ty(),
                addr,
                list <- RcuBox::new(list),
                order <- kernel::new_mutex!((), "mcast_unix_group_order"),
                sent: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )?)
    }

    /// Adds `sk` with `flags` (`peer`: the seqpacket owner-side socket).
    /// `EADDRINUSE` if it is a member, `ENOBUFS` at max_members,
    /// `ECONNREFUSED` if the group is gone.
    pub(crate) fn add(&self, sk: &Sock, flags: u32, peer: Option<SockRef>, filter: Option<Arc<PeerFilter>>) -> KResult<()> {
        self.list.update(|cur| {
            let new = cur.with(Member { sk: sk.get(), flags, peer, filter }, max_members() as usize)?;
            Ok((KBox::new(new, GFP_KERNEL)?, ()))
        })
    }

    /// Removes `sk`; `EADDRNOTAVAIL` if it is not a member. Senders waiting
    /// for room in `sk` look again.
    pub(crate) fn remove(&self, sk: &Sock) -> KResult<()> {
        let me = sk.get();
        self.list.update(|cur| Ok((KBox::new(cur.without(&me)?, GFP_KERNEL)?, ())))?;
        sk.peer_wait().wake(POLL_WRITE);
        Ok(())
    }

    /// The owner closed: the group ends. Returns the members it had.
    pub(crate) fn close(&self) -> KVec<SockRef> {
        let taken = self.list.update(|cur| {
            let mut old = KVec::with_capacity(cur.len(), GFP_KERNEL)?;
            for m in cur.members() {
                old.push(m.sk.clone(), GFP_KERNEL)?;
            }
            Ok((KBox::new(Members::closed(), GFP_KERNEL)?, old))
        });
        taken.unwrap_or_default()
    }

    /// Sets the peer filter of the member whose owner-side socket is `peer`.
    fn set_filter(&self, peer: &Sock, filter: Option<Arc<PeerFilter>>) -> KResult<()> {
        let peer = peer.get();
        self.list.update(|cur| Ok((KBox::new(cur.with_filter(&peer, filter)?, GFP_KERNEL)?, ())))
    }

    pub(crate) fn is_member(&self, sk: &SockRef) -> bool {
        self.list.read(|l| l.find(sk).is_some())
    }

    pub(crate) fn member_count(&self) -> usize {
        self.list.read(|l| l.len())
    }

    pub(crate) fn counters(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.dropped.load(Ordering::Relaxed))
    }

    /// Sends one message from `sender` to the group (see the module doc).
    pub(crate) fn send(&self, sender: &Sock, skb: Skb, timeo: &mut i64) -> KResult<()> {
        let mut msg = Some(skb);
        loop {
            let step = {
                let _order = self.order.lock();
                self.list.read(|list| self.try_deliver(list, sender, &mut msg))?
            };
            match step {
                Step::Sent => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Step::WaitFor(member) => {
                    if *timeo == 0 {
                        return Err(Errno::EAGAIN);
                    }
                    member
                        .peer_wait()
                        .wait_until(timeo, || Ok(!peer_is_full(&member) || !self.is_member(&member)))?;
                }
            }
        }
    }

    /// Steps 2a–2c of the module doc, inside the RCU read-side section. The
    /// message is taken (by the last recipient) only once nothing can fail.
    fn try_deliver(&self, list: &Members, sender: &Sock, msg: &mut Option<Skb>) -> KResult<Step> {
        let is_sender = |s: &SockRef| s.is(sender);
        if list.is_closed() {
            return Err(Errno::ECONNREFUSED);
        }
        let m = msg.as_mut().ok_or(Errno::EINVAL)?;
        // a) Every recipient's filters, on the shared message; a full
        //    recipient that would take it makes the sender wait.
        let mut slots = Slots::new();
        let mut last = None;
        for (i, r) in list.recipients(is_sender).enumerate() {
            let keep = r.filter.map_or(u32::MAX, |f| f.keeps(m)).min(m.kept_by(r.sk));
            if keep > 0 {
                if !r.drops && peer_is_full(r.sk) {
                    return Ok(Step::WaitFor(r.sk.get()));
                }
                last = Some(i);
            }
            slots.push(Slot { keep, copy: None })?;
        }
        // b) A clone for each accepting recipient but the last, which gets
        //    the message itself; each cut to what its filters keep.
        for (i, s) in slots.iter_mut().enumerate() {
            if s.keep > 0 && Some(i) != last {
                let mut c = m.share()?;
                c.trim(s.keep)?;
                s.copy = Some(c);
            }
        }
        if let Some(i) = last {
            if let (Some(s), Some(mut m)) = (slots.iter_mut().nth(i), msg.take()) {
                m.trim(s.keep)?;
                s.copy = Some(m);
            }
        }
        // c) Queue them (full DROP_WHEN_FULL members lose theirs).
        let mut dropped = 0;
        for (r, s) in list.recipients(is_sender).zip(slots.drain()) {
            let Some(copy) = s.copy else { continue };
            if r.drops && r.sk.rx_full() {
                r.sk.count_drop();
                dropped += 1;
                continue;
            }
            socket::deliver_if_open(r.sk, copy);
        }
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        Ok(Step::Sent)
    }

    /// POLLOUT for a socket whose sends go to this group: true if a send
    /// would not wait. Otherwise `sk`'s relay is hooked on the full member,
    /// so pollers wake when it drains.
    pub(crate) fn writable(&self, sk: &Sock) -> bool {
        let (writable, old) = self.list.read(|list| {
            let mut old = None;
            for r in list.recipients(|s: &SockRef| s.is(sk)) {
                if !r.drops && peer_is_full(r.sk) {
                    let mut inner = sk.state().inner.lock();
                    let (hooked, prev) = socket::hook_relay(sk, &mut inner, r.sk);
                    old = old.or(prev);
                    // Re-check after hooking: a drain in between would be missed.
                    if peer_is_full(r.sk) {
                        return (false, old);
                    }
                    if hooked {
                        sk.state().relay.unhook(r.sk.peer_wait());
                    }
                }
            }
            (true, old)
        });
        // A previous relay target's reference goes outside every lock.
        drop(old);
        writable
    }
}

/// What one recipient of a message gets: how many bytes its filters keep
/// (0: none) and, once made, its copy.
struct Slot {
    keep: u32,
    copy: Option<Skb>,
}

/// One entry per recipient, in order: on the stack for up to [`INLINE`]
/// recipients, on the heap beyond.
enum Slots<T> {
    Inline([Option<T>; INLINE], usize),
    Heap(KVec<Option<T>>),
}

impl<T> Slots<T> {
    fn new() -> Self {
        Slots::Inline([const { None }; INLINE], 0)
    }

    fn push(&mut self, item: T) -> KResult<()> {
        match self {
            Slots::Inline(slots, n) if *n < INLINE => {
                slots[*n] = Some(item);
                *n += 1;
                Ok(())
            }
            Slots::Inline(slots, n) => {
                let mut v = KVec::with_capacity(*n * 2, GFP_ATOMIC)?;
                for s in slots.iter_mut().take(*n) {
                    v.push(s.take(), GFP_ATOMIC)?;
                }
                v.push(Some(item), GFP_ATOMIC)?;
                *self = Slots::Heap(v);
                Ok(())
            }
            Slots::Heap(v) => Ok(v.push(Some(item), GFP_ATOMIC)?),
        }
    }

    fn as_mut_slice(&mut self) -> &mut [Option<T>] {
        match self {
            Slots::Inline(slots, n) => &mut slots[..*n],
            Slots::Heap(v) => v,
        }
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.as_mut_slice().iter_mut().flatten()
    }

    /// Takes the entries out in order.
    fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.as_mut_slice().iter_mut().filter_map(Option::take)
    }
}

/// Closes the group `owner` owns: members lose the membership; seqpacket
/// members are hung up (end of file, POLLHUP).
pub(crate) fn close_owned(group: &Group) {
    for member in group.close() {
        forget_membership(&member, group);
        if group.ty == SockType::Seqpacket {
            hang_up(&member, false);
        }
    }
}

/// Drops `group` from `sk`'s list of memberships.
fn forget_membership(sk: &Sock, group: &Group) {
    let state = sk.state();
    let _serial = state.bind_lock.lock();
    let gone = {
        let mut inner = state.inner.lock();
        let at = inner.groups.iter().position(|g| core::ptr::eq(&**g, group));
        at.and_then(|i| crate::vec::remove_at(&mut inner.groups, i, GFP_ATOMIC))
    };
    // The reference is dropped outside the lock.
    drop(gone);
}

/// Leaves every group `sk` is a member of (close, SHUT_RD, hang-up).
pub(crate) fn leave_all(sk: &Sock) {
    let groups = {
        let _serial = sk.state().bind_lock.lock();
        core::mem::take(&mut sk.state().inner.lock().groups)
    };
    for g in groups.iter() {
        let _ = g.remove(sk);
    }
}

/// setsockopt(SOL_MCAST_UNIX, `name`, `val`).
pub(crate) fn setsockopt(sock: &crate::sys::sock::Socket, name: i32, val: &[u8]) -> KResult<()> {
    let sk = sock.sk();
    match name {
        opt::CREATE_GROUP => create(sock, Mreq::parse(val)?),
        opt::JOIN_GROUP => join(sk, Mreq::parse(val)?),
        opt::LEAVE_GROUP => leave(sk, Mreq::parse(val)?),
        opt::PEER_FILTER => set_peer_filter(sk, val),
        opt::ADMIT_MEMBER => {
            let flags = val.get(..4).ok_or(Errno::EINVAL)?;
            admit(sk, u32::from_ne_bytes([flags[0], flags[1], flags[2], flags[3]]))
        }
        _ => Err(Errno::ENOPROTOOPT),
    }
}

/// MCAST_UNIX_CREATE_GROUP: binds the unbound socket to the address and
/// makes it the group's owner.
fn create(sock: &crate::sys::sock::Socket, mreq: Mreq<'_>) -> KResult<()> {
    let sk = sock.sk();
    if mreq.flags != 0 {
        return Err(Errno::EINVAL);
    }
    if mreq.address.len() <= crate::address::PATH_OFFSET {
        // No autobind for a group.
        return Err(Errno::EINVAL);
    }
    let mut created = false;
    let result = socket::bind_then(sock, mreq.address, |addr| {
        let group = Group::new(sk, addr.clone())?;
        sk.state().inner.lock().owned_group = Some(group);
        created = true;
        Ok(())
    });
    if result.is_err() && created {
        // The name was taken after all: no group.
        let group = sk.state().inner.lock().owned_group.take();
        if let Some(g) = group {
            close_owned(&g);
        }
    }
    result
}

/// MCAST_UNIX_JOIN_GROUP (datagram sockets).
fn join(sk: &Sock, mreq: Mreq<'_>) -> KResult<()> {
    if sk.ty() == SockType::Seqpacket {
        return Err(Errno::EOPNOTSUPP);
    }
    if mreq.flags & !FLAGS_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let addr = socket::parse_dest(mreq.address)?;
    let owner = socket::find_other(sk, &addr)?;
    let group = socket::owned_group(&owner).ok_or(Errno::EINVAL)?;
    add_membership(sk, &group, mreq.flags, None, None)
}

/// Records a membership on both sides: the socket's list (max_groups) and
/// the group's (max_members). A socket's list changes only under its
/// `bind_lock`, so it can be copied outside the spinlock.
fn add_membership(
    sk: &Sock,
    group: &Arc<Group>,
    flags: u32,
    peer: Option<SockRef>,
    filter: Option<Arc<PeerFilter>>,
) -> KResult<()> {
    let state = sk.state();
    let _serial = state.bind_lock.lock();
    let n = {
        let inner = state.inner.lock();
        if inner.groups.iter().any(|g| Arc::ptr_eq(g, group)) {
            return Err(Errno::EADDRINUSE);
        }
        if inner.groups.len() >= max_groups() as usize {
            return Err(Errno::ENOBUFS);
        }
        inner.groups.len()
    };
    let mut groups = KVec::with_capacity(n + 1, GFP_KERNEL)?;
    for g in state.inner.lock().groups.iter() {
        // Within the capacity reserved above: no allocation here.
        groups.push(g.clone(), GFP_ATOMIC)?;
    }
    groups.push(group.clone(), GFP_ATOMIC)?;
    group.add(sk, flags, peer, filter)?;
    let old = core::mem::replace(&mut state.inner.lock().groups, groups);
    drop(old);
    Ok(())
}

/// MCAST_UNIX_LEAVE_GROUP (datagram sockets).
fn leave(sk: &Sock, mreq: Mreq<'_>) -> KResult<()> {
    if sk.ty() == SockType::Seqpacket {
        return Err(Errno::EOPNOTSUPP);
    }
    let addr = socket::parse_dest(mreq.address)?;
    let group = socket::find_other(sk, &addr)
        .ok()
        .and_then(|owner| socket::owned_group(&owner))
        .ok_or(Errno::EADDRNOTAVAIL)?;
    forget_membership(sk, &group);
    group.remove(sk)
}

/// MCAST_UNIX_ADMIT_MEMBER on an accepted connection of a seqpacket group's
/// listening owner: the client at the other end becomes a member.
fn admit(accepted: &Sock, flags: u32) -> KResult<()> {
    let _serial = accepted.state().owner_lock.lock();
    let (group, client, filter) = {
        let inner = accepted.state().inner.lock();
        let group = inner.from_group.clone().ok_or(Errno::EINVAL)?;
        if inner.admitted {
            return Err(Errno::EALREADY);
        }
        (group, inner.peer.clone().ok_or(Errno::ENOTCONN)?, inner.peer_filter.clone())
    };
    if flags & !FLAGS_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if client.is_dead() {
        return Err(Errno::ECONNRESET);
    }
    add_membership(&client, &group, flags, Some(accepted.get()), filter).map_err(|e| {
        if e == Errno::EADDRINUSE {
            Errno::EALREADY
        } else {
            e
        }
    })?;
    accepted.state().inner.lock().admitted = true;
    Ok(())
}

/// MCAST_UNIX_PEER_FILTER on an accepted connection of a seqpacket group's
/// listening owner: what its client receives from the group must pass this
/// classic BPF program too. An empty value detaches it. `EPERM` on any other
/// socket (so a member cannot touch its own).
fn set_peer_filter(accepted: &Sock, val: &[u8]) -> KResult<()> {
    let _serial = accepted.state().owner_lock.lock();
    let (group, admitted) = {
        let inner = accepted.state().inner.lock();
        (inner.from_group.clone().ok_or(Errno::EPERM)?, inner.admitted)
    };
    let filter = match val.len() {
        0 => None,
        _ => Some(Arc::new(PeerFilter::from_user(val)?, GFP_KERNEL)?),
    };
    accepted.state().inner.lock().peer_filter = filter.clone();
    if admitted {
        group.set_filter(accepted, filter)?;
    }
    Ok(())
}

/// The options of level SOL_MCAST_UNIX.
pub(crate) mod opt {
    pub(crate) const CREATE_GROUP: i32 = 1;
    pub(crate) const JOIN_GROUP: i32 = 2;
    pub(crate) const LEAVE_GROUP: i32 = 3;
    pub(crate) const ADMIT_MEMBER: i32 = 4;
    pub(crate) const PEER_FILTER: i32 = 5;
}

/// `struct mcast_unix_mreq`: 110 bytes of address, then `address_len` and
/// `flags` (`__u32`, at offsets 112 and 116).
pub(crate) struct Mreq<'a> {
    pub(crate) address: &'a [u8],
    pub(crate) flags: u32,
}

pub(crate) const MREQ_SIZE: usize = 120;

impl<'a> Mreq<'a> {
    /// Parses the option value: `EINVAL` if shorter than the struct or if
    /// `address_len` exceeds the address field.
    pub(crate) fn parse(val: &'a [u8]) -> KResult<Mreq<'a>> {
        if val.len() < MREQ_SIZE {
            return Err(Errno::EINVAL);
        }
        let word = |at: usize| u32::from_ne_bytes([val[at], val[at + 1], val[at + 2], val[at + 3]]);
        let len = word(112) as usize;
        if len > crate::address::SOCKADDR_MAX {
            return Err(Errno::EINVAL);
        }
        Ok(Mreq { address: &val[..len], flags: word(116) })
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::{kcheck, kcheck_eq};

    fn mreq(len: u32, flags: u32) -> [u8; MREQ_SIZE] {
        let mut v = [0u8; MREQ_SIZE];
        v[112..116].copy_from_slice(&len.to_ne_bytes());
        v[116..120].copy_from_slice(&flags.to_ne_bytes());
        v
    }

    pub(crate) fn mreq_parse_layout() -> CaseResult {
        let v = mreq(7, 5);
        let m = Mreq::parse(&v).map_err(|_| fail())?;
        kcheck_eq!(m.address.len(), 7);
        kcheck_eq!(m.flags, 5);
        Ok(())
    }

    pub(crate) fn mreq_parse_rejects_short_and_long() -> CaseResult {
        let v = mreq(7, 0);
        kcheck!(Mreq::parse(&v[..119]).err() == Some(Errno::EINVAL));
        kcheck!(Mreq::parse(&v[..0]).err() == Some(Errno::EINVAL));
        let long = mreq(111, 0);
        kcheck!(Mreq::parse(&long).err() == Some(Errno::EINVAL));
        // A longer buffer is fine (extra bytes ignored).
        let mut big = [0u8; 128];
        big[..MREQ_SIZE].copy_from_slice(&mreq(3, 1));
        kcheck!(Mreq::parse(&big).is_ok());
        Ok(())
    }

    pub(crate) fn copies_spill_to_heap_in_order() -> CaseResult {
        let mut c = Slots::new();
        for i in 0..INLINE {
            c.push(i).map_err(|_| fail())?;
        }
        kcheck!(matches!(c, Slots::Inline(..)));
        for i in INLINE..(INLINE * 2 + 3) {
            c.push(i).map_err(|_| fail())?;
        }
        kcheck!(matches!(c, Slots::Heap(_)));
        kcheck_eq!(c.iter_mut().count(), INLINE * 2 + 3);
        let mut expect = 0;
        for v in c.drain() {
            kcheck_eq!(v, expect);
            expect += 1;
        }
        kcheck_eq!(expect, INLINE * 2 + 3);
        kcheck_eq!(c.drain().count(), 0);
        Ok(())
    }

    fn fail() -> crate::kunit::Failure {
        crate::kunit::Failure { file: file!(), line: line!(), what: "unexpected error" }
    }
}
