// SPDX-License-Identifier: GPL-2.0

//! A group's member list: who is in it, and who gets a copy of a message.
//!
//! Readers (senders, poll) walk a published list under RCU; writers hold
//! the list's writer lock (see [`crate::sys::rcu::RcuBox`]). A list is never
//! resized in place: a join publishes a new, compacted copy that was
//! allocated beforehand. But a member is *unlinked in place*: its slots are
//! emptied (their references dropped at once, which RCU readers tolerate:
//! see [`crate::sys::sock::SockSlot`]) and readers skip it. So leaving,
//! closing and hanging up never allocate and cannot fail; the empty entry is
//! dropped by the next compaction.
//!
//! The list is generic over the slot type `S` (a socket slot in the module,
//! plain numbers in the KUnit tests) and the peer-filter type `F`, so the
//! rules below are tested on their own:
//!
//! - a member does not get its own messages unless it joined with LOOPBACK;
//! - a sender that is a member with SEND_TO_PEER also sends a copy to its
//!   peer: the owner's accepted socket (seqpacket) or the owner (datagram);
//!   that copy never drops;
//! - DROP_WHEN_FULL members never hold a sender back.

use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::rcu::RcuGuard;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::alloc::flags::GFP_ATOMIC;
use kernel::prelude::*;

use crate::defs::flags::{DROP_WHEN_FULL, LOOPBACK, SEND_TO_PEER};

/// A slot holding a member's handle (a counted reference), or nothing once
/// unlinked.
pub(crate) trait Slot: Sized {
    /// What readers see.
    type Sk: ?Sized;
    /// What unlinking hands back (the reference the slot held).
    type Owned;
    fn get<'g>(&'g self, guard: &'g RcuGuard) -> Option<&'g Self::Sk>;
    fn holds(&self, sk: &Self::Sk) -> bool;
    fn take(&self) -> Option<Self::Owned>;
    /// Another slot with its own reference (empty if this one is).
    fn dup(&self, guard: &RcuGuard) -> Self;
}

/// One member.
pub(crate) struct Member<S, F> {
    pub(crate) sk: S,
    pub(crate) flags: u32,
    /// Seqpacket: the owner's accepted socket of this member (else empty).
    pub(crate) peer: S,
    /// Seqpacket: the owner's filter on what this member receives.
    pub(crate) filter: Option<F>,
}

/// A published membership.
pub(crate) struct MemberList<S, F> {
    /// Datagram groups: the owner (SEND_TO_PEER copies go there).
    owner: S,
    members: KVec<Member<S, F>>,
    /// Members not unlinked.
    live: AtomicUsize,
    /// The owner closed: no members, no messages.
    closed: AtomicBool,
}

/// One recipient of a message.
pub(crate) struct Recipient<'a, T: ?Sized, F> {
    pub(crate) sk: &'a T,
    /// DROP_WHEN_FULL: never holds the sender back.
    pub(crate) drops: bool,
    /// The owner's peer filter for this recipient.
    pub(crate) filter: Option<&'a F>,
    /// The sender's peer (a SEND_TO_PEER copy), not a member.
    pub(crate) to_peer: bool,
    /// Where the recipient sits in the list ([`MemberList::resolve`]).
    pub(crate) pos: Pos,
}

/// The recipients of one message ([`MemberList::recipients`]): members
/// but the sender (unless it joined with LOOPBACK), and the sender's peer if
/// it joined with SEND_TO_PEER.
pub(crate) struct Recipients<'g, S: Slot, F, P> {
    list: &'g MemberList<S, F>,
    g: &'g RcuGuard,
    is_sender: P,
    /// The next entry to look at, and the end of the walk.
    next: usize,
    end: usize,
    /// The sender's own LOOPBACK copy, due right after its peer's.
    loopback: Option<Recipient<'g, S::Sk, F>>,
}

impl<'g, S: Slot, F, P: Fn(&S::Sk) -> bool> Iterator for Recipients<'g, S, F, P> {
    type Item = Recipient<'g, S::Sk, F>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(r) = self.loopback.take() {
            return Some(r);
        }
        while self.next < self.end {
            let i = self.next;
            self.next += 1;
            let m = &self.list.members[i];
            let Some(sk) = m.sk.get(self.g) else { continue };
            let member = Recipient {
                sk,
                drops: m.flags & DROP_WHEN_FULL != 0,
                filter: m.filter.as_ref(),
                to_peer: false,
                pos: Pos::Member(i),
            };
            if !(self.is_sender)(sk) {
                return Some(member);
            }
            let own = (m.flags & LOOPBACK != 0).then_some(member);
            let peer = if m.flags & SEND_TO_PEER == 0 {
                None
            } else {
                match m.peer.get(self.g) {
                    Some(p) => Some((p, Pos::PeerOf(i))),
                    None => self.list.owner.get(self.g).map(|o| (o, Pos::Owner)),
                }
            };
            match peer {
                Some((sk, pos)) => {
                    self.loopback = own;
                    return Some(Recipient { sk, drops: false, filter: None, to_peer: true, pos });
                }
                None if own.is_some() => return own,
                None => {}
            }
        }
        None
    }
}

/// The place of a recipient in a published list. Entries never move and
/// an emptied slot is never filled again, so a place names the same socket
/// (or, once it was unlinked, none) for as long as the list is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pos {
    Member(usize),
    /// The seqpacket peer of member `usize` (its accepted socket).
    PeerOf(usize),
    /// The datagram group's owner.
    Owner,
}

/// What a join needs allocated before it takes the writer lock.
pub(crate) struct Reserved<S, F> {
    members: KVec<Member<S, F>>,
}

impl<S: Slot, F: Clone> MemberList<S, F> {
    /// An empty list; `owner` receives SEND_TO_PEER copies (datagram groups).
    pub(crate) fn new(owner: S) -> Self {
        MemberList { owner, members: KVec::new(), live: AtomicUsize::new(0), closed: AtomicBool::new(false) }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Members not unlinked.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Entries including unlinked ones (what a compacted copy needs at most).
    pub(crate) fn capacity_needed(&self) -> usize {
        self.members.len() + 1
    }

    fn live_members<'g>(&'g self, g: &'g RcuGuard) -> impl Iterator<Item = (&'g S::Sk, &'g Member<S, F>)> + 'g {
        self.live_at(g).map(|(_, sk, m)| (sk, m))
    }

    fn live_at<'g>(&'g self, g: &'g RcuGuard) -> impl Iterator<Item = (usize, &'g S::Sk, &'g Member<S, F>)> + 'g {
        self.members.iter().enumerate().filter_map(move |(i, m)| m.sk.get(g).map(|sk| (i, sk, m)))
    }

    /// The socket at `pos`, unless it was unlinked since (a walk that goes
    /// over the recipients twice must not walk the list twice: a member
    /// unlinked in between would shift every later one).
    pub(crate) fn resolve<'g>(&'g self, pos: Pos, g: &'g RcuGuard) -> Option<&'g S::Sk> {
        match pos {
            Pos::Member(i) => self.members.get(i)?.sk.get(g),
            Pos::PeerOf(i) => self.members.get(i)?.peer.get(g),
            Pos::Owner => self.owner.get(g),
        }
    }

    /// The live member `sk` (unlinked entries hold nothing).
    pub(crate) fn find(&self, sk: &S::Sk) -> Option<&Member<S, F>> {
        self.members.iter().find(|m| m.sk.holds(sk))
    }

    /// The recipients of a message from the sender `is_sender` recognises
    /// (it need not be a member), in list order, in one pass over the list;
    /// nothing once closed. A sender's SEND_TO_PEER copy comes where the
    /// sender's own entry is.
    pub(crate) fn recipients<'g, P: Fn(&S::Sk) -> bool>(&'g self, g: &'g RcuGuard, is_sender: P) -> Recipients<'g, S, F, P> {
        let end = if self.is_closed() { 0 } else { self.members.len() };
        Recipients { list: self, g, is_sender, next: 0, end, loopback: None }
    }

    /// Memory for a compacted copy of `n` entries ([`MemberList::capacity_needed`]),
    /// allocated with neither the writer lock nor an RCU read lock held
    /// ([`MemberList::fits`] says if it is still enough once locked).
    pub(crate) fn reserve(n: usize, flags: kernel::alloc::Flags) -> ErrnoResult<Reserved<S, F>> {
        Ok(Reserved { members: KVec::with_capacity(n, flags)? })
    }

    /// Checks that `member` may join: `ECONNREFUSED` if closed, `EADDRINUSE`
    /// if it is a member already, `ENOBUFS` at `max` members.
    pub(crate) fn may_add(&self, sk: &S::Sk, max: usize) -> ErrnoResult<()> {
        if self.is_closed() {
            return Err(Errno::ECONNREFUSED);
        }
        if self.find(sk).is_some() {
            return Err(Errno::EADDRINUSE);
        }
        if self.len() >= max {
            return Err(Errno::ENOBUFS);
        }
        Ok(())
    }

    /// Whether `space` holds a compacted copy of this list plus one member
    /// (it may not if the list grew since it was reserved).
    pub(crate) fn fits(&self, space: &Reserved<S, F>) -> bool {
        space.members.capacity() >= self.capacity_needed()
    }

    /// A compacted copy (unlinked entries dropped) with `add` appended and
    /// the member whose peer is `filter.0` given filter `filter.1`, built in
    /// `space` — without allocating when [`MemberList::fits`] says so. Caller
    /// holds the writer lock.
    pub(crate) fn compacted(
        &self,
        mut space: Reserved<S, F>,
        add: Option<Member<S, F>>,
        filter: Option<(&S::Sk, Option<F>)>,
        g: &RcuGuard,
    ) -> Self {
        let mut live = 0;
        for (_, m) in self.live_members(g) {
            let f = match &filter {
                Some((peer, f)) if m.peer.holds(peer) => f.clone(),
                _ => m.filter.clone(),
            };
            let copy = Member { sk: m.sk.dup(g), flags: m.flags, peer: m.peer.dup(g), filter: f };
            // Within the reserved capacity: no allocation, cannot fail.
            if space.members.push(copy, GFP_ATOMIC).is_ok() {
                live += 1;
            }
        }
        if let Some(m) = add {
            if space.members.push(m, GFP_ATOMIC).is_ok() {
                live += 1;
            }
        }
        MemberList {
            owner: self.owner.dup(g),
            members: space.members,
            live: AtomicUsize::new(live),
            closed: AtomicBool::new(self.is_closed()),
        }
    }

    /// Unlinks `sk` in place (no allocation): its references are handed
    /// back (`sk`'s, then its peer's) to be dropped by the caller. `None`
    /// if it is not a member. Caller holds the writer lock.
    pub(crate) fn unlink(&self, sk: &S::Sk) -> Option<(S::Owned, Option<S::Owned>)> {
        let m = self.members.iter().find(|m| m.sk.holds(sk))?;
        let me = m.sk.take()?;
        self.live.fetch_sub(1, Ordering::Relaxed);
        Some((me, m.peer.take()))
    }

    /// The owner closed: marks the list closed (readers stop at once) and
    /// takes the owner's reference. Members are unlinked one by one with
    /// [`MemberList::unlink_first`]. Caller holds the writer lock.
    pub(crate) fn close(&self) -> Option<S::Owned> {
        self.closed.store(true, Ordering::Release);
        self.owner.take()
    }

    /// Unlinks the first remaining member (closing a group without
    /// allocating). Caller holds the writer lock.
    pub(crate) fn unlink_first(&self) -> Option<(S::Owned, Option<S::Owned>)> {
        for m in self.members.iter() {
            if let Some(me) = m.sk.take() {
                self.live.fetch_sub(1, Ordering::Relaxed);
                return Some((me, m.peer.take()));
            }
        }
        None
    }

    /// The member whose peer is `peer` (seqpacket), by its own handle.
    pub(crate) fn member_of_peer<'g>(&'g self, peer: &S::Sk, g: &'g RcuGuard) -> Option<&'g S::Sk> {
        self.live_members(g).find(|(_, m)| m.peer.holds(peer)).map(|(sk, _)| sk)
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::{CaseResult, Failure};
    use crate::{kcheck, kcheck_eq};
    use core::sync::atomic::AtomicU32;
    use kernel::alloc::flags::GFP_KERNEL;

    /// A test handle: a number, 0 for empty.
    pub(crate) struct N(AtomicU32);

    impl Slot for N {
        type Sk = u32;
        type Owned = u32;
        fn get<'g>(&'g self, _g: &'g RcuGuard) -> Option<&'g u32> {
            // Handles index a static table, so a reference can be handed out.
            let v = self.0.load(Ordering::Relaxed);
            NUMS.get(v as usize).filter(|_| v != 0)
        }
        fn holds(&self, sk: &u32) -> bool {
            self.0.load(Ordering::Relaxed) == *sk
        }
        fn take(&self) -> Option<u32> {
            let v = self.0.swap(0, Ordering::Relaxed);
            (v != 0).then_some(v)
        }
        fn dup(&self, _g: &RcuGuard) -> N {
            N(AtomicU32::new(self.0.load(Ordering::Relaxed)))
        }
    }

    impl N {
        fn empty() -> N {
            N(AtomicU32::new(0))
        }
    }

    /// Handles are indices into this table, so `get` can return a reference.
    static NUMS: [u32; 32] = {
        let mut t = [0u32; 32];
        let mut i = 0;
        while i < 32 {
            t[i] = i as u32;
            i += 1;
        }
        t
    };

    type List = MemberList<N, u32>;

    fn n(v: u32) -> N {
        N(AtomicU32::new(v))
    }

    fn m(sk: u32, flags: u32) -> Member<N, u32> {
        Member { sk: n(sk), flags, peer: N::empty(), filter: None }
    }


    fn add(l: List, x: Member<N, u32>) -> Result<List, Failure> {
        l.may_add(&x.sk.0.load(Ordering::Relaxed), 100).map_err(|_| crate::kfail!("unexpected error"))?;
        let space = List::reserve(l.capacity_needed(), GFP_KERNEL).map_err(|_| crate::kfail!("unexpected error"))?;
        kcheck!(l.fits(&space));
        let g = RcuGuard::new();
        Ok(l.compacted(space, Some(x), None, &g))
    }

    fn build(owner: u32, members: KVec<Member<N, u32>>) -> Result<List, Failure> {
        let mut l = List::new(n(owner));
        for x in members {
            l = add(l, x)?;
        }
        Ok(l)
    }

    fn list(items: &[(u32, u32, u32)]) -> Result<KVec<Member<N, u32>>, Failure> {
        let mut v = KVec::new();
        for &(sk, flags, peer) in items {
            let mut x = m(sk, flags);
            x.peer = n(peer);
            v.push(x, GFP_KERNEL).map_err(|_| crate::kfail!("unexpected error"))?;
        }
        Ok(v)
    }

    /// (recipient, drops) pairs, in order.
    fn who(l: &List, sender: u32) -> KVec<(u32, bool)> {
        let g = RcuGuard::new();
        let mut v = KVec::new();
        for r in l.recipients(&g, move |s: &u32| *s == sender) {
            // Inside the read-side section: no sleeping allocation.
            let _ = v.push((*r.sk, r.drops), GFP_ATOMIC);
        }
        v
    }

    pub(crate) fn membership_sender_skipped_unless_loopback() -> CaseResult {
        let l = build(0, list(&[(1, 0, 0), (2, LOOPBACK, 0), (3, 0, 0)])?)?;
        kcheck_eq!(who(&l, 1).as_slice(), &[(2, false), (3, false)][..]);
        kcheck_eq!(who(&l, 2).as_slice(), &[(1, false), (2, false), (3, false)][..]);
        // A non-member sender reaches everyone.
        kcheck_eq!(who(&l, 9).as_slice(), &[(1, false), (2, false), (3, false)][..]);
        Ok(())
    }

    pub(crate) fn membership_drop_flag_marks_recipient() -> CaseResult {
        let l = build(0, list(&[(1, DROP_WHEN_FULL, 0), (2, 0, 0)])?)?;
        kcheck_eq!(who(&l, 9).as_slice(), &[(1, true), (2, false)][..]);
        Ok(())
    }

    pub(crate) fn membership_send_to_peer_copies() -> CaseResult {
        // Datagram: the owner (7) gets the copy of member 1's messages only,
        // at member 1's place in the walk.
        let l = build(7, list(&[(1, SEND_TO_PEER, 0), (2, 0, 0)])?)?;
        kcheck_eq!(who(&l, 1).as_slice(), &[(7, false), (2, false)][..]);
        kcheck_eq!(who(&l, 2).as_slice(), &[(1, false)][..]);
        // Seqpacket: the member's own peer (its accepted socket) gets it,
        // even with DROP_WHEN_FULL on the member, and it never drops.
        let l = build(0, list(&[(1, SEND_TO_PEER | DROP_WHEN_FULL, 11), (2, 0, 0)])?)?;
        kcheck_eq!(who(&l, 1).as_slice(), &[(11, false), (2, false)][..]);
        // With LOOPBACK too: the peer's copy, then the sender's own.
        let l = build(0, list(&[(3, 0, 0), (1, SEND_TO_PEER | LOOPBACK, 11), (2, 0, 0)])?)?;
        kcheck_eq!(who(&l, 1).as_slice(), &[(3, false), (11, false), (1, false), (2, false)][..]);
        // A closed list has no recipients.
        let _owner = l.close();
        kcheck_eq!(who(&l, 1).len(), 0);
        Ok(())
    }

    pub(crate) fn membership_add_remove_errors() -> CaseResult {
        let l = build(0, list(&[(1, 0, 0), (2, 0, 0)])?)?;
        kcheck!(l.may_add(&1, 100).err() == Some(Errno::EADDRINUSE));
        kcheck!(l.may_add(&3, 2).err() == Some(Errno::ENOBUFS));
        kcheck!(l.unlink(&5).is_none());
        // Unlinking is in place: the entry stays, empty, and readers skip it.
        kcheck_eq!(l.unlink(&1).map(|(a, _)| a), Some(1));
        kcheck!(l.unlink(&1).is_none());
        kcheck_eq!(l.len(), 1);
        kcheck!(l.find(&1).is_none());
        kcheck!(l.find(&2).is_some());
        kcheck_eq!(who(&l, 9).as_slice(), &[(2, false)][..]);
        // A place keeps naming the same member, or none once it is unlinked.
        {
            let g = RcuGuard::new();
            kcheck_eq!(l.resolve(Pos::Member(0), &g).copied(), None);
            kcheck_eq!(l.resolve(Pos::Member(1), &g).copied(), Some(2));
            kcheck_eq!(l.resolve(Pos::Member(7), &g).copied(), None);
        }
        // The next copy drops the empty entry.
        let l = add(l, m(3, 0))?;
        kcheck_eq!(l.members.len(), 2);
        kcheck_eq!(who(&l, 9).as_slice(), &[(2, false), (3, false)][..]);
        // A reservation made before the list grew does not fit.
        let small = List::reserve(1, GFP_KERNEL).map_err(|_| crate::kfail!("unexpected error"))?;
        kcheck!(!l.fits(&small));
        // Closing: readers see nothing, joins are refused, members come out
        // one by one without allocating.
        kcheck_eq!(l.close(), None);
        kcheck!(l.may_add(&4, 100).err() == Some(Errno::ECONNREFUSED));
        kcheck_eq!(who(&l, 9).len(), 0);
        kcheck_eq!(l.unlink_first().map(|(a, _)| a), Some(2));
        kcheck_eq!(l.unlink_first().map(|(a, _)| a), Some(3));
        kcheck!(l.unlink_first().is_none());
        Ok(())
    }

    pub(crate) fn membership_peer_filter_follows_the_peer() -> CaseResult {
        let l = build(0, list(&[(1, 0, 11), (2, 0, 12)])?)?;
        let space = List::reserve(l.capacity_needed(), GFP_KERNEL).map_err(|_| crate::kfail!("unexpected error"))?;
        let g = RcuGuard::new();
        let l = l.compacted(space, None, Some((&12, Some(99))), &g);
        let mut filters = KVec::new();
        for r in l.recipients(&g, |s: &u32| *s == 9) {
            filters.push(r.filter.copied(), GFP_ATOMIC).map_err(|_| crate::kfail!("unexpected error"))?;
        }
        kcheck_eq!(filters.as_slice(), &[None, Some(99)][..]);
        kcheck_eq!(l.member_of_peer(&12, &g).copied(), Some(2));
        drop(g);
        let space = List::reserve(l.capacity_needed(), GFP_KERNEL).map_err(|_| crate::kfail!("unexpected error"))?;
        let g = RcuGuard::new();
        let l = l.compacted(space, None, Some((&12, None)), &g);
        kcheck!(l.recipients(&g, |s: &u32| *s == 9).all(|r| r.filter.is_none()));
        Ok(())
    }

    crate::kunit_cases![
        membership_sender_skipped_unless_loopback,
        membership_drop_flag_marks_recipient,
        membership_send_to_peer_copies,
        membership_add_remove_errors,
        membership_peer_filter_follows_the_peer,
    ];
}
