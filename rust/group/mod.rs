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
//!
//! The other files: [`memberships`] (the socket side: which groups a socket
//! is in, joining and leaving), [`sockopt`] (the SOL_MCAST_UNIX options).

pub(crate) mod memberships;
pub(crate) mod sockopt;

pub(crate) use memberships::{leave_all, Memberships};

use crate::address::Address;
use crate::membership::{Member, MemberList, Pos, Slot as MemberSlot};
use crate::message::Skb;
use crate::ring::Reservation;
use crate::socket::close::hang_up;
use crate::socket::poll::hook_relay;
use crate::socket::{Inner, Sock, SockRef, SockState, SockType};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::filter::PeerFilter;
use crate::sys::params::max_members;
use crate::sys::rcu::{RcuBox, RcuGuard, Spare};
use crate::sys::skb::POLL_WRITE;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::alloc::flags::{GFP_ATOMIC, GFP_KERNEL};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// A member list slot: a socket reference RCU readers may follow.
type SockSlot = crate::sys::sock::SockSlot<SockState>;

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
    /// It asked for credentials (SO_PASSCRED).
    creds: bool,
    /// Bytes its filters keep (0: none).
    keep: u32,
    fate: Fate,
    copy: Option<Skb>,
}

/// The scratch space of a send (kept between sends, so a send allocates
/// nothing per recipient).
struct Scratch {
    slots: KVec<Slot>,
    /// The frames reserved in step a) at ring recipients, in their order
    /// (given back if the send does not happen).
    frames: KVec<Option<Reservation>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Its filters reject the message.
    Skip,
    /// Full, and it asked to lose messages rather than hold senders back.
    Drop,
    Queue,
    /// Into its receive ring, in the frame reserved for it.
    Ring,
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
    order: Mutex<Scratch>,
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
    pub(crate) fn new(owner: &Sock, addr: Arc<Address>) -> ErrnoResult<Arc<Group>> {
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
                order <- kernel::new_mutex!(Scratch { slots: KVec::new(), frames: KVec::new() }, "mcast_unix_group_order"),
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
        check: impl Fn(&Members) -> ErrnoResult<()>,
    ) -> ErrnoResult<()> {
        loop {
            let need = self.list.read(|l, _| l.capacity_needed());
            let space = Members::reserve(need, GFP_KERNEL)?;
            let mut spare = Spare::new(Members::new(SockSlot::empty()), GFP_KERNEL)?;
            let done: ErrnoResult<bool> = self.list.write(|w| {
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
    pub(crate) fn add(&self, sk: &Sock, flags: u32, peer: Option<SockRef>, filter: Option<Arc<PeerFilter>>) -> ErrnoResult<()> {
        let member = Member { sk: SockSlot::new(sk.get()), flags, peer: peer.map_or_else(SockSlot::empty, SockSlot::new), filter };
        let max = max_members() as usize;
        self.republish(Some(member), None, |cur| cur.may_add(sk, max))
    }

    /// Unlinks `sk` (no allocation, cannot fail but for `EADDRNOTAVAIL` if
    /// it is not a member). Senders waiting for room in `sk` or in its peer
    /// look again.
    pub(crate) fn remove(&self, sk: &Sock) -> ErrnoResult<()> {
        let (me, peer) = self.list.write(|w| w.current().unlink(sk)).ok_or(Errno::EADDRNOTAVAIL)?;
        self.changed();
        me.peer_wait().wake(POLL_WRITE);
        if let Some(p) = &peer {
            p.peer_wait().wake(POLL_WRITE);
        }
        Ok(())
    }

    /// Sets the peer filter of the member whose owner-side socket is `peer`.
    fn set_filter(&self, peer: &Sock, filter: Option<Arc<PeerFilter>>) -> ErrnoResult<()> {
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
    pub(crate) fn send(&self, sender: &Sock, skb: Skb, timeo: &mut i64) -> ErrnoResult<()> {
        let mut msg = Some(skb);
        loop {
            let step = {
                let mut scratch = self.order.lock();
                let scratch = &mut *scratch;
                // Room for every recipient (members and a SEND_TO_PEER
                // copy), so the walk under RCU allocates nothing.
                let need = self.member_count() + 1;
                if scratch.slots.capacity() < need {
                    scratch.slots.reserve(need, GFP_KERNEL)?;
                }
                // Read before the list: a change published after this read
                // (even one the walk below does not see) ends the wait.
                let gen = self.generation();
                let g = RcuGuard::new();
                let step = self.try_deliver(self.list.get(&g), &g, gen, sender, &mut msg, scratch);
                drop(g);
                // Copies not queued (an error part way) are freed here.
                crate::sys::vec::clear(&mut scratch.slots);
                // Reservations not used are given back.
                crate::sys::vec::clear(&mut scratch.frames);
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
                        .wait_until(timeo, || Ok(!member.is_full() || self.generation() != gen))?;
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
        scratch: &mut Scratch,
    ) -> ErrnoResult<Step> {
        let Scratch { slots, frames } = scratch;
        let is_sender = |s: &Sock| s.is(sender);
        if list.is_closed() {
            return Err(Errno::ECONNREFUSED);
        }
        let m = msg.as_mut().ok_or(Errno::EINVAL)?;
        // a) Every recipient's filters, on the shared message; a full
        //    recipient that would take it drops it or makes the sender wait.
        // b) In the same pass, a clone for each accepting recipient but the
        //    last, which gets the message itself; each cut to what its
        //    filters keep. The clone of a recipient is made once the next
        //    accepting one is found (so the last is known when the walk ends);
        //    a wait found later frees the clones made so far.
        let mut last: Option<usize> = None;
        let mut with_creds = false;
        // Ring recipients copy from the message itself, so it stays here
        // (the last queue recipient gets a clone too).
        let mut any_ring = false;
        for (i, r) in list.recipients(g, is_sender).enumerate() {
            let keep = r.filter.map_or(u32::MAX, |f| f.keeps(m)).min(m.kept_by(r.sk));
            let fate = if keep == 0 {
                Fate::Skip
            } else if let Some(ring) = r.sk.ring() {
                match r.sk.try_get().map(|member| ring.reserve_for(member)) {
                    // Closing right now: it takes nothing any more.
                    None => Fate::Skip,
                    Some(Ok(f)) => {
                        if let Err(f) = crate::sys::vec::push_within_capacity(frames, Some(f)) {
                            frames.push(f, GFP_ATOMIC)?;
                        }
                        Fate::Ring
                    }
                    Some(Err(member)) => {
                        if member.is_dead() || member.shutdown_bits() & crate::defs::RCV_SHUTDOWN != 0 {
                            Fate::Skip
                        } else if r.drops {
                            Fate::Drop
                        } else {
                            return Ok(Step::WaitFor(member, gen));
                        }
                    }
                }
            } else if !r.sk.is_full() {
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
            let creds = matches!(fate, Fate::Queue | Fate::Ring) && r.sk.wants_creds();
            // Credentials only travel to recipients that asked for them (each
            // copy would otherwise take and drop a reference to the sender's
            // pid): added once, before the first copy that carries them.
            if creds && !with_creds {
                m.add_own_creds();
                with_creds = true;
            }
            any_ring |= fate == Fate::Ring;
            if fate == Fate::Queue {
                if let Some(prev) = last.and_then(|p| slots.get_mut(p)) {
                    let mut c = m.share(prev.creds)?;
                    c.trim(prev.keep)?;
                    prev.copy = Some(c);
                }
                last = Some(i);
            }
            let slot = Slot { pos: r.pos, to_peer: r.to_peer, drops: r.drops, creds, keep, fate, copy: None };
            // Within the capacity reserved by `send` (GFP_ATOMIC only if the
            // list grew in between).
            if let Err(slot) = crate::sys::vec::push_within_capacity(slots, slot) {
                slots.push(slot, GFP_ATOMIC)?;
            }
        }
        if let Some(s) = last.and_then(|i| slots.get_mut(i)) {
            if any_ring {
                let mut c = m.share(s.creds)?;
                c.trim(s.keep)?;
                s.copy = Some(c);
            } else if let Some(mut m) = msg.take() {
                if !s.creds {
                    m.drop_creds();
                }
                m.trim(s.keep)?;
                s.copy = Some(m);
            }
        }
        // c) Queue them (full DROP_WHEN_FULL members lose theirs), each at
        //    the place step a) found it (skipped if unlinked since); ring
        //    recipients get a copy of the message in their frame.
        let mut dropped = 0;
        let mut next_frame = 0;
        for s in slots.iter_mut() {
            if s.fate == Fate::Ring {
                let to_peer = s.to_peer;
                let receives = |sk: &Sock, inner: &Inner| still_receives(sk, inner, self, to_peer);
                let frame = frames.get_mut(next_frame).and_then(Option::take);
                next_frame += 1;
                if let (Some(frame), Some(m)) = (frame, msg.as_ref()) {
                    if !frame.fill(m, s.keep, s.creds, receives) {
                        dropped += 1;
                    }
                }
                continue;
            }
            let Some(sk) = list.resolve(s.pos, g) else { continue };
            let queued = match (s.fate, s.copy.take()) {
                (Fate::Drop, _) => false,
                (_, Some(copy)) if s.to_peer => deliver_if_open(sk, copy, s.creds),
                (_, Some(copy)) => deliver_to_member(sk, self, copy, s.drops, s.creds),
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

    /// Closes the group its owner owned: nothing is delivered any more, members
    /// lose the membership one by one (no allocation), senders waiting for a
    /// member give up (`ECONNREFUSED`); seqpacket members are hung up (end of
    /// file, POLLHUP).
    pub(crate) fn close(&self) {
        // Marked closed between two deliveries (under `order`, held by senders
        // only for the non-blocking fan-out): a send that is under way reaches
        // every member before any is unlinked, and a send after it gets
        // ECONNREFUSED, so no send succeeds while reaching only part of the group.
        let owner = {
            let _order = self.order.lock();
            self.list.write(|w| w.current().close())
        };
        self.changed();
        drop(owner);
        while let Some((member, peer)) = self.list.write(|w| w.current().unlink_first()) {
            self.changed();
            memberships::forget(&member, self);
            member.peer_wait().wake(POLL_WRITE);
            if let Some(p) = &peer {
                p.peer_wait().wake(POLL_WRITE);
            }
            if self.ty == SockType::Seqpacket {
                hang_up(&member, false);
            }
        }
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
                if !r.drops && r.sk.is_full() {
                    // A member whose last reference is gone is closing: it
                    // holds nobody back.
                    let Some(full) = r.sk.try_get() else { continue };
                    let mut inner = sk.inner();
                    let (hooked, prev) = hook_relay(sk, &mut inner, full);
                    old = old.or(prev);
                    // Re-check after hooking: a drain in between would be missed.
                    if r.sk.is_full() {
                        return (false, old);
                    }
                    if hooked {
                        sk.relay().unhook(r.sk.peer_wait());
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

/// Queues a SEND_TO_PEER copy at `sk` unless it closed or shut its receive
/// side meanwhile (then it is no longer a recipient). False if it was lost
/// (a ring set up meanwhile had no room: the caller counts the drop).
fn deliver_if_open(sk: &Sock, skb: Skb, creds: bool) -> bool {
    let inner = sk.inner();
    if inner.is_dead() || sk.shutdown_bits() & crate::defs::RCV_SHUTDOWN != 0 {
        return true;
    }
    let queued = queue_or_fill(sk, skb, creds);
    drop(inner);
    sk.data_ready();
    queued
}

/// Queues a group copy at the member `sk` unless it left the group, closed
/// or shut its receive side meanwhile (leaving empties the membership under
/// the same lock, so nothing arrives once LEAVE, SHUT_RD or close returned).
/// A DROP_WHEN_FULL member that is full now loses it: false (the caller
/// counts the drop).
fn deliver_to_member(sk: &Sock, group: &Group, skb: Skb, drops: bool, creds: bool) -> bool {
    let inner = sk.inner();
    if inner.is_dead() || sk.shutdown_bits() & crate::defs::RCV_SHUTDOWN != 0 || !inner.memberships().contains(group) {
        return true;
    }
    if drops && sk.rx_full() {
        drop(inner);
        drop(skb);
        return false;
    }
    let queued = queue_or_fill(sk, skb, creds);
    // Readers are told once the lock is released.
    drop(inner);
    sk.data_ready();
    queued
}

/// Queues `skb` at `sk` (caller holds its `inner`), or, if `sk` set up a
/// ring since the walk saw it, copies it into a frame: false if there was
/// none free.
#[inline]
fn queue_or_fill(sk: &Sock, skb: Skb, creds: bool) -> bool {
    match sk.ring() {
        None => {
            skb.deliver(sk);
            true
        }
        Some(ring) => fill_late(sk, ring, skb, creds),
    }
}

/// The rare case of [`queue_or_fill`]: a ring set up during the send.
#[inline(never)]
fn fill_late(sk: &Sock, ring: &crate::ring::Ring, skb: Skb, creds: bool) -> bool {
    ring.reserve() && crate::ring::fill(sk, ring, &skb, skb.len(), creds)
}

/// Whether a ring recipient still takes group messages (caller holds its
/// `inner`): as [`deliver_to_member`] and [`deliver_if_open`] check.
fn still_receives(sk: &Sock, inner: &Inner, group: &Group, to_peer: bool) -> bool {
    !inner.is_dead()
        && sk.shutdown_bits() & crate::defs::RCV_SHUTDOWN == 0
        && (to_peer || inner.memberships().contains(group))
}
