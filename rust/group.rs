// SPDX-License-Identifier: GPL-2.0

//! Multicast groups: membership and ordered, all-or-nothing fan-out.
//!
//! # How delivery works
//!
//! A group belongs to the socket that created it (its owner, bound to the
//! group's address). Its member list is published through RCU
//! ([`RcuBox`]): senders read it without any lock. A join publishes a
//! compacted copy allocated beforehand; a leave, close or hang-up unlinks the
//! member in place (see [`crate::membership`]). Nothing waits for a grace
//! period: replaced lists are freed by `call_rcu`.
//!
//! One message, sent by `S`:
//! 1. `order` (a per-group mutex) is taken: deliveries of one group happen
//!    one message at a time, so every member sees the group's messages in the
//!    same order. Senders of different groups never wait for each other. The
//!    mutex also guards the per-recipient scratch array, grown here (before
//!    the RCU section) to the member count, so a send allocates nothing per
//!    recipient.
//! 2. Under `rcu_read_lock()` the recipients are walked in list order:
//!    (a) each recipient's filters (the owner's peer filter, the member's own
//!    socket filter) run on the shared message and say how much of it the
//!    recipient keeps — a rejecting recipient costs only the filter run; a
//!    recipient that keeps it but is full is skipped and counted if it asked
//!    for DROP_WHEN_FULL; any other full recipient (the sender itself too,
//!    for its LOOPBACK copy, as a unicast send to itself) makes the sender wait
//!    (SO_SNDTIMEO; `EAGAIN` when non-blocking; `EINTR` on a signal) outside
//!    every lock until it has room or the member list changes, and start
//!    again at 1; (b) each accepting recipient but the last gets a clone (the
//!    payload is shared), the last the message itself, each cut to what its
//!    filters keep; (c) every copy is queued under the recipient's lock,
//!    unless it left or closed meanwhile (then it is no longer a recipient),
//!    or is a DROP_WHEN_FULL member that filled up meanwhile (dropped and
//!    counted). A blocking member that filled up between (a) and (c) still
//!    gets its copy: its queue may exceed SO_RCVBUF by one message per
//!    concurrent sender.
//!
//! So a message reaches every eligible recipient or none, and a sender waits
//! outside every lock. A member that leaves or closes first drops the group
//! from its own list (so nothing is queued to it after that), then is
//! unlinked, and wakes anyone waiting on it.

use crate::address::Address;
use crate::membership::{Member, MemberList, Pos, Slot as MemberSlot, FLAGS_ALL};
use crate::socket::{self, hang_up, peer_is_full, SockType};
use crate::sys::errno::{Errno, KResult};
use crate::sys::family::{max_groups, max_members};
use crate::sys::filter::PeerFilter;
use crate::sys::rcu::{RcuBox, RcuGuard, Spare};
use crate::sys::skb::{Skb, POLL_WRITE};
use crate::sys::sock::{Sock, SockRef, SockSlot};
use core::ops::Deref;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::alloc::flags::{GFP_ATOMIC, GFP_KERNEL};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// The member list of a group in the module.
type Members = MemberList<SockSlot, Arc<PeerFilter>>;

impl MemberSlot for SockSlot {
    type Sk = Sock;
    type Owned = SockRef;
    fn get<'g>(&'g self, guard: &'g RcuGuard) -> Option<&'g Sock> {
        SockSlot::get(self, guard)
    }
    fn holds(&self, sk: &Sock) -> bool {
        SockSlot::holds(self, sk)
    }
    fn take(&self) -> Option<SockRef> {
        SockSlot::take(self)
    }
    fn dup(&self, guard: &RcuGuard) -> SockSlot {
        self.get_ref(guard).map_or_else(SockSlot::empty, SockSlot::new)
    }
}

/// What one recipient of a message gets.
struct Slot {
    /// Where it is in the list walked (the queueing step finds it there
    /// again: walking the list twice would shift every recipient after one
    /// that was unlinked in between).
    pos: Pos,
    to_peer: bool,
    drops: bool,
    /// Bytes its filters keep (0: none).
    keep: u32,
    fate: Fate,
    copy: Option<Skb>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Its filters reject the message.
    Skip,
    /// Full, and it asked to lose messages rather than hold senders back.
    Drop,
    Queue,
}

/// A group.
#[pin_data]
pub(crate) struct Group {
    pub(crate) ty: SockType,
    pub(crate) addr: Arc<Address>,
    #[pin]
    list: RcuBox<Members>,
    /// Serialises deliveries; the per-recipient scratch space of a send.
    #[pin]
    order: Mutex<KVec<Slot>>,
    /// Bumped by every change of the member list: a sender waiting for a
    /// full member looks again when it changes.
    generation: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// Where one send stands.
enum Step {
    Sent,
    /// A member is full: wait until it has room or the list changes.
    WaitFor(SockRef, u64),
}

impl Group {
    /// A new group owned by `owner` at `addr`.
    pub(crate) fn new(owner: &Sock, addr: Arc<Address>) -> KResult<Arc<Group>> {
        let owner_slot = match owner.ty() {
            SockType::Dgram => SockSlot::new(owner.get()),
            SockType::Seqpacket => SockSlot::empty(),
        };
        let first = Spare::new(Members::new(owner_slot), GFP_KERNEL)?;
        Ok(Arc::pin_init(
            pin_init!(Group {
                ty: owner.ty(),
                addr,
                list <- RcuBox::new(first),
                order <- kernel::new_mutex!(KVec::new(), "mcast_unix_group_order"),
                generation: AtomicU64::new(0),
                sent: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )?)
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Publishes a compacted copy of the list with `add` appended and/or a
    /// new peer filter (see [`MemberList::compacted`]); `check` runs on the
    /// current list under the writer lock first. The memory is allocated
    /// before the lock is taken (again if the list grew meanwhile).
    fn republish(
        &self,
        mut add: Option<Member<SockSlot, Arc<PeerFilter>>>,
        filter: Option<(&Sock, Option<Arc<PeerFilter>>)>,
        check: impl Fn(&Members) -> KResult<()>,
    ) -> KResult<()> {
        loop {
            let need = self.list.read(|l, _| l.capacity_needed());
            let space = Members::reserve(need, GFP_KERNEL)?;
            let mut spare = Spare::new(Members::new(SockSlot::empty()), GFP_KERNEL)?;
            let done: KResult<bool> = self.list.write(|w| {
                let g = RcuGuard::new();
                let cur = w.current();
                check(cur)?;
                if !cur.fits(&space) {
                    return Ok(false);
                }
                *spare.value_mut() = cur.compacted(space, add.take(), filter.as_ref().map(|(p, f)| (*p, f.clone())), &g);
                drop(g);
                w.publish(spare);
                Ok(true)
            });
            if done? {
                self.changed();
                return Ok(());
            }
        }
    }

    /// Adds `sk` with `flags` (`peer`: the seqpacket owner-side socket).
    /// `EADDRINUSE` if it is a member, `ENOBUFS` at max_members,
    /// `ECONNREFUSED` if the group is gone.
    pub(crate) fn add(&self, sk: &Sock, flags: u32, peer: Option<SockRef>, filter: Option<Arc<PeerFilter>>) -> KResult<()> {
        let member = Member { sk: SockSlot::new(sk.get()), flags, peer: peer.map_or_else(SockSlot::empty, SockSlot::new), filter };
        let max = max_members() as usize;
        self.republish(Some(member), None, |cur| cur.may_add(sk, max))
    }

    /// Unlinks `sk` (no allocation, cannot fail but for `EADDRNOTAVAIL` if
    /// it is not a member). Senders waiting for room in `sk` or in its peer
    /// look again.
    pub(crate) fn remove(&self, sk: &Sock) -> KResult<()> {
        let (me, peer) = self.list.write(|w| w.current().unlink(sk)).ok_or(Errno::EADDRNOTAVAIL)?;
        self.changed();
        me.peer_wait().wake(POLL_WRITE);
        if let Some(p) = &peer {
            p.peer_wait().wake(POLL_WRITE);
        }
        Ok(())
    }

    /// Sets the peer filter of the member whose owner-side socket is `peer`.
    fn set_filter(&self, peer: &Sock, filter: Option<Arc<PeerFilter>>) -> KResult<()> {
        self.republish(None, Some((peer, filter)), |_| Ok(()))?;
        // A sender waiting for that member looks again (it may no longer
        // be a recipient).
        let member = self.list.read(|l, g| l.member_of_peer(peer, g).and_then(Sock::try_get));
        if let Some(m) = member {
            m.peer_wait().wake(POLL_WRITE);
        }
        Ok(())
    }

    pub(crate) fn member_count(&self) -> usize {
        self.list.read(|l, _| l.len())
    }

    pub(crate) fn counters(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.dropped.load(Ordering::Relaxed))
    }

    /// Sends one message from `sender` to the group (see the module doc).
    pub(crate) fn send(&self, sender: &Sock, skb: Skb, timeo: &mut i64) -> KResult<()> {
        let mut msg = Some(skb);
        loop {
            let step = {
                let mut slots = self.order.lock();
                // Room for every recipient (members and a SEND_TO_PEER
                // copy), so the walk under RCU allocates nothing.
                let need = self.member_count() + 1;
                if slots.capacity() < need {
                    slots.reserve(need, GFP_KERNEL)?;
                }
                // Read before the list: a change published after this read
                // (even one the walk below does not see) ends the wait.
                let gen = self.generation();
                let g = RcuGuard::new();
                let step = self.try_deliver(self.list.get(&g), &g, gen, sender, &mut msg, &mut slots);
                drop(g);
                // Copies not queued (an error part way) are freed here.
                crate::sys::vec::clear(&mut slots);
                step?
            };
            match step {
                Step::Sent => {
                    self.sent.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Step::WaitFor(member, gen) => {
                    if *timeo == 0 {
                        return Err(Errno::EAGAIN);
                    }
                    member
                        .peer_wait()
                        .wait_until(timeo, || Ok(!peer_is_full(&member) || self.generation() != gen))?;
                }
            }
        }
    }

    /// Steps 2a–2c of the module doc, inside the RCU read-side section. The
    /// message is taken (by the last recipient) only once nothing can fail.
    fn try_deliver(
        &self,
        list: &Members,
        g: &RcuGuard,
        gen: u64,
        sender: &Sock,
        msg: &mut Option<Skb>,
        slots: &mut KVec<Slot>,
    ) -> KResult<Step> {
        let is_sender = |s: &Sock| s.is(sender);
        if list.is_closed() {
            return Err(Errno::ECONNREFUSED);
        }
        let m = msg.as_mut().ok_or(Errno::EINVAL)?;
        // a) Every recipient's filters, on the shared message; a full
        //    recipient that would take it drops it or makes the sender wait.
        let mut last = None;
        for (i, r) in list.recipients(g, is_sender).enumerate() {
            let keep = r.filter.map_or(u32::MAX, |f| f.keeps(m)).min(m.kept_by(r.sk));
            let fate = if keep == 0 {
                Fate::Skip
            } else if !peer_is_full(r.sk) {
                last = Some(i);
                Fate::Queue
            } else if r.drops {
                Fate::Drop
            } else if let Some(member) = r.sk.try_get() {
                return Ok(Step::WaitFor(member, gen));
            } else {
                // Closing right now (its last reference is gone): it takes
                // nothing any more.
                Fate::Skip
            };
            // Within the capacity reserved by `send` (GFP_ATOMIC only if the
            // list grew in between).
            slots.push(Slot { pos: r.pos, to_peer: r.to_peer, drops: r.drops, keep, fate, copy: None }, GFP_ATOMIC)?;
        }
        // b) A clone for each accepting recipient but the last, which gets
        //    the message itself; each cut to what its filters keep.
        for (i, s) in slots.iter_mut().enumerate() {
            if s.fate == Fate::Queue && Some(i) != last {
                let mut c = m.share()?;
                c.trim(s.keep)?;
                s.copy = Some(c);
            }
        }
        if let Some(i) = last {
            if let (Some(s), Some(mut m)) = (slots.get_mut(i), msg.take()) {
                m.trim(s.keep)?;
                s.copy = Some(m);
            }
        }
        // c) Queue them (full DROP_WHEN_FULL members lose theirs), each at
        //    the place step a) found it (skipped if unlinked since).
        let mut dropped = 0;
        for s in slots.iter_mut() {
            let Some(sk) = list.resolve(s.pos, g) else { continue };
            let queued = match (s.fate, s.copy.take()) {
                (Fate::Drop, _) => false,
                (_, Some(copy)) if s.to_peer => {
                    socket::deliver_if_open(sk, copy);
                    true
                }
                (_, Some(copy)) => socket::deliver_to_member(sk, self, copy, s.drops),
                _ => true,
            };
            if !queued {
                sk.count_drop();
                dropped += 1;
            }
        }
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        Ok(Step::Sent)
    }

    /// POLLOUT for a socket whose sends go to this group: true if no member
    /// that would hold a sender back is full (whatever its filters say: a
    /// send may still go through then, if every full member's filters reject
    /// the message). Otherwise `sk`'s relay is hooked on the full member, so
    /// pollers wake when it drains.
    pub(crate) fn writable(&self, sk: &Sock) -> bool {
        let (writable, old) = self.list.read(|list, g| {
            let mut old = None;
            for r in list.recipients(g, |s: &Sock| s.is(sk)) {
                if !r.drops && peer_is_full(r.sk) {
                    // A member whose last reference is gone is closing: it
                    // holds nobody back.
                    let Some(full) = r.sk.try_get() else { continue };
                    let mut inner = sk.state().inner.lock();
                    let (hooked, prev) = socket::hook_relay(sk, &mut inner, full);
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

/// The groups a socket is a member of: a table of `max_groups` slots,
/// allocated at the first join, so leaving (close, SHUT_RD, hang-up) only
/// empties a slot and never allocates. Changed under the socket's `inner`.
/// Generic over the group handle so KUnit checks it on its own.
pub(crate) struct Memberships<T: Deref = Arc<Group>>(KVec<Option<T>>);

impl<T: Deref + Clone> Memberships<T> {
    pub(crate) const fn new() -> Self {
        Memberships(KVec::new())
    }

    /// A table with `n` empty slots (allocated outside any lock).
    fn with_slots(n: usize) -> KResult<Self> {
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            v.push(None, GFP_KERNEL)?;
        }
        Ok(Memberships(v))
    }

    fn is_allocated(&self) -> bool {
        !self.0.is_empty()
    }

    pub(crate) fn count(&self) -> usize {
        self.0.iter().flatten().count()
    }

    pub(crate) fn first(&self) -> Option<&T> {
        self.0.iter().flatten().next()
    }

    pub(crate) fn contains(&self, group: &T::Target) -> bool {
        self.0.iter().flatten().any(|g| core::ptr::eq(&**g, group))
    }

    /// Records `group` in a free slot: `EADDRINUSE` if it is there already,
    /// `ENOBUFS` if every slot is taken.
    fn insert(&mut self, group: &T) -> KResult<()> {
        if self.contains(group) {
            return Err(Errno::EADDRINUSE);
        }
        let free = self.0.iter_mut().find(|s| s.is_none()).ok_or(Errno::ENOBUFS)?;
        *free = Some(group.clone());
        Ok(())
    }

    /// Empties `group`'s slot; the reference goes to the caller.
    fn take(&mut self, group: &T::Target) -> Option<T> {
        self.0.iter_mut().find(|s| s.as_ref().is_some_and(|g| core::ptr::eq(&**g, group)))?.take()
    }

    /// Empties some slot.
    fn take_any(&mut self) -> Option<T> {
        self.0.iter_mut().find_map(Option::take)
    }
}

/// Closes the group its owner owned: nothing is delivered any more, members
/// lose the membership one by one (no allocation), senders waiting for a
/// member give up (`ECONNREFUSED`); seqpacket members are hung up (end of
/// file, POLLHUP).
pub(crate) fn close_owned(group: &Group) {
    // Marked closed between two deliveries (under `order`, held by senders
    // only for the non-blocking fan-out): a send that is under way reaches
    // every member before any is unlinked, and a send after it gets
    // ECONNREFUSED, so no send succeeds while reaching only part of the group.
    let owner = {
        let _order = group.order.lock();
        group.list.write(|w| w.current().close())
    };
    group.changed();
    drop(owner);
    while let Some((member, peer)) = group.list.write(|w| w.current().unlink_first()) {
        group.changed();
        forget_membership(&member, group);
        member.peer_wait().wake(POLL_WRITE);
        if let Some(p) = &peer {
            p.peer_wait().wake(POLL_WRITE);
        }
        if group.ty == SockType::Seqpacket {
            hang_up(&member, false);
        }
    }
}

/// Drops `group` from `sk`'s memberships (its slot is emptied).
fn forget_membership(sk: &Sock, group: &Group) {
    let gone = sk.state().inner.lock().groups.take(group);
    // The reference is dropped outside the lock.
    drop(gone);
}

/// Leaves every group `sk` is a member of (close, SHUT_RD, hang-up): no
/// allocation, no sleeping lock, one slot per step.
pub(crate) fn leave_all(sk: &Sock) {
    loop {
        let group = sk.state().inner.lock().groups.take_any();
        let Some(group) = group else { break };
        let _ = group.remove(sk);
    }
}

/// setsockopt(SOL_MCAST_UNIX, `name`, `val`).
pub(crate) fn setsockopt(sock: &crate::sys::sock::Socket, name: i32, val: &crate::sys::msg::OptVal) -> KResult<()> {
    let sk = sock.sk();
    let mut buf = [0u8; MREQ_SIZE];
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
fn create(sock: &crate::sys::sock::Socket, mreq: Mreq<'_>) -> KResult<()> {
    let sk = sock.sk();
    if mreq.flags != 0 {
        return Err(Errno::EINVAL);
    }
    if mreq.address.len() <= crate::address::PATH_OFFSET {
        // No autobind for a group.
        return Err(Errno::EINVAL);
    }
    // Made before the name exists, so nothing can fail once it does; the
    // group is installed before the name is published, so the address never
    // names a socket that is not yet its owner.
    socket::bind_then(sock, mreq.address, |addr| Group::new(sk, addr.clone()), |group| {
        sk.state().inner.lock().owned_group = Some(group);
    })
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

/// Records a membership on both sides: the socket's table (max_groups) and
/// the group's list (max_members). Joins, leaves and admissions of one socket
/// are serialised by its `join_lock` (never held across a wait). Teardown
/// (close, hang-up, owner close) does not take it: it may empty the slot
/// while the group is being joined, and the join then undoes itself.
fn add_membership(
    sk: &Sock,
    group: &Arc<Group>,
    flags: u32,
    peer: Option<SockRef>,
    filter: Option<Arc<PeerFilter>>,
) -> KResult<()> {
    let state = sk.state();
    let _serial = state.join_lock.lock();
    if !state.inner.lock().groups.is_allocated() {
        let table = Memberships::with_slots(max_groups() as usize)?;
        let old = core::mem::replace(&mut state.inner.lock().groups, table);
        drop(old);
    }
    {
        let mut inner = state.inner.lock();
        if inner.dead {
            return Err(Errno::ECONNRESET);
        }
        inner.groups.insert(group)?;
    }
    if let Err(e) = group.add(sk, flags, peer, filter) {
        forget_membership(sk, group);
        return Err(e);
    }
    // A close or hang-up in between emptied the slot before we were in the
    // list (so it could not unlink us): leave again.
    if !state.inner.lock().groups.contains(group) {
        let _ = group.remove(sk);
        return Err(Errno::ECONNRESET);
    }
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
    let _serial = sk.state().join_lock.lock();
    let slot = sk.state().inner.lock().groups.take(&group).ok_or(Errno::EADDRNOTAVAIL)?;
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
fn set_peer_filter(accepted: &Sock, val: &crate::sys::msg::OptVal) -> KResult<()> {
    let _serial = accepted.state().owner_lock.lock();
    let (group, admitted) = {
        let inner = accepted.state().inner.lock();
        (inner.from_group.clone().ok_or(Errno::EPERM)?, inner.admitted)
    };
    let filter = match val.len() {
        0 => None,
        _ => Some(Arc::new(PeerFilter::from_user(val)?, GFP_KERNEL)?),
    };
    let old = core::mem::replace(&mut accepted.state().inner.lock().peer_filter, filter.clone());
    drop(old);
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

    pub(crate) fn memberships_slots_without_allocation() -> CaseResult {
        let one = Arc::new(1u32, GFP_KERNEL).map_err(|_| fail())?;
        let two = Arc::new(2u32, GFP_KERNEL).map_err(|_| fail())?;
        let three = Arc::new(3u32, GFP_KERNEL).map_err(|_| fail())?;
        let mut m = Memberships::<Arc<u32>>::with_slots(2).map_err(|_| fail())?;
        kcheck!(m.insert(&one).is_ok());
        kcheck!(m.insert(&one).err() == Some(Errno::EADDRINUSE));
        kcheck!(m.insert(&two).is_ok());
        kcheck!(m.insert(&three).err() == Some(Errno::ENOBUFS));
        kcheck_eq!(m.count(), 2);
        kcheck!(m.contains(&*two));
        // Emptying slots never changes the table's size: leaving cannot
        // fail or allocate, and a later join reuses the slot.
        kcheck!(m.take(&*one).is_some_and(|g| Arc::ptr_eq(&g, &one)));
        kcheck!(m.take(&*one).is_none());
        kcheck_eq!(m.0.len(), 2);
        kcheck!(m.first().is_some_and(|g| Arc::ptr_eq(g, &two)));
        kcheck!(m.insert(&three).is_ok());
        kcheck!(m.take_any().is_some());
        kcheck!(m.take_any().is_some());
        kcheck!(m.take_any().is_none());
        kcheck_eq!(m.count(), 0);
        Ok(())
    }

    fn fail() -> crate::kunit::Failure {
        crate::kunit::Failure { file: file!(), line: line!(), what: "unexpected error" }
    }
}
