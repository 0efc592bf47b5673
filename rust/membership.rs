// SPDX-License-Identifier: GPL-2.0

//! A group's member list: who is in it, and who gets a copy of a message.
//!
//! The list is immutable once published (see [`crate::group`]): a change
//! builds a new list. It is generic over the member handle `S` (a counted
//! socket reference in the module, plain numbers in the KUnit tests) and the
//! peer-filter type `F`, so the rules below are tested on their own:
//!
//! - a member does not get its own messages unless it joined with LOOPBACK;
//! - a sender that is a member with SEND_TO_PEER also sends a copy to its
//!   peer: the owner's accepted socket (seqpacket) or the owner (datagram);
//!   that copy never drops;
//! - DROP_WHEN_FULL members never hold a sender back.

use crate::sys::errno::{Errno, KResult};
use kernel::alloc::flags::GFP_KERNEL;
use kernel::prelude::*;

/// Membership flags (uapi `MCAST_UNIX_*`).
pub(crate) const LOOPBACK: u32 = 1 << 0;
pub(crate) const SEND_TO_PEER: u32 = 1 << 1;
pub(crate) const DROP_WHEN_FULL: u32 = 1 << 2;
pub(crate) const FLAGS_ALL: u32 = LOOPBACK | SEND_TO_PEER | DROP_WHEN_FULL;

/// What identifies a member.
pub(crate) trait Handle: Clone {
    fn same(&self, other: &Self) -> bool;
}

/// One member.
pub(crate) struct Member<S, F> {
    pub(crate) sk: S,
    pub(crate) flags: u32,
    /// Seqpacket: the owner's accepted socket of this member.
    pub(crate) peer: Option<S>,
    /// Seqpacket: the owner's filter on what this member receives.
    pub(crate) filter: Option<F>,
}

/// A published membership.
pub(crate) struct MemberList<S, F> {
    /// Datagram groups: the owner (SEND_TO_PEER copies go there).
    owner: Option<S>,
    members: KVec<Member<S, F>>,
    /// The owner closed: no members, no messages.
    closed: bool,
}

/// One recipient of a message.
pub(crate) struct Recipient<'a, S, F> {
    pub(crate) sk: &'a S,
    /// DROP_WHEN_FULL: never holds the sender back.
    pub(crate) drops: bool,
    /// The owner's peer filter for this recipient.
    pub(crate) filter: Option<&'a F>,
}

impl<S: Handle, F: Clone> MemberList<S, F> {
    /// An empty list; `owner` receives SEND_TO_PEER copies (datagram groups).
    pub(crate) fn new(owner: Option<S>) -> Self {
        MemberList { owner, members: KVec::new(), closed: false }
    }

    /// The list of a group whose owner closed.
    pub(crate) fn closed() -> Self {
        MemberList { owner: None, members: KVec::new(), closed: true }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn members(&self) -> impl Iterator<Item = &Member<S, F>> {
        self.members.iter()
    }

    pub(crate) fn find(&self, sk: &S) -> Option<&Member<S, F>> {
        self.members.iter().find(|m| m.sk.same(sk))
    }

    /// The recipients of a message from the sender `is_sender` recognises
    /// (it need not be a member), in list order.
    pub(crate) fn recipients<'a>(
        &'a self,
        is_sender: impl Fn(&S) -> bool + Copy + 'a,
    ) -> impl Iterator<Item = Recipient<'a, S, F>> + 'a {
        let to_peer = self
            .members
            .iter()
            .find(|m| is_sender(&m.sk))
            .filter(|m| m.flags & SEND_TO_PEER != 0)
            .and_then(|m| m.peer.as_ref().or(self.owner.as_ref()))
            .map(|sk| Recipient { sk, drops: false, filter: None });
        let members = self
            .members
            .iter()
            .filter(move |m| !is_sender(&m.sk) || m.flags & LOOPBACK != 0)
            .map(|m| Recipient { sk: &m.sk, drops: m.flags & DROP_WHEN_FULL != 0, filter: m.filter.as_ref() });
        Iterator::chain(members, to_peer)
    }

    /// A copy with `member` added: `ECONNREFUSED` if closed, `EADDRINUSE`
    /// if it is a member already, `ENOBUFS` at `max` members.
    pub(crate) fn with(&self, member: Member<S, F>, max: usize) -> KResult<Self> {
        if self.closed {
            return Err(Errno::ECONNREFUSED);
        }
        if self.find(&member.sk).is_some() {
            return Err(Errno::EADDRINUSE);
        }
        if self.members.len() >= max {
            return Err(Errno::ENOBUFS);
        }
        self.edited(|_| true, Some(member), None)
    }

    /// A copy without `sk`: `EADDRNOTAVAIL` if it is not a member.
    pub(crate) fn without(&self, sk: &S) -> KResult<Self> {
        if self.find(sk).is_none() {
            return Err(Errno::EADDRNOTAVAIL);
        }
        self.edited(|m| !m.sk.same(sk), None, None)
    }

    /// A copy where the member whose peer is `peer` has peer filter `filter`.
    pub(crate) fn with_filter(&self, peer: &S, filter: Option<F>) -> KResult<Self> {
        self.edited(|_| true, None, Some((peer, filter)))
    }

    fn edited(&self, keep: impl Fn(&Member<S, F>) -> bool, add: Option<Member<S, F>>, filter: Option<(&S, Option<F>)>) -> KResult<Self> {
        let mut members = KVec::with_capacity(self.members.len() + 1, GFP_KERNEL)?;
        for m in self.members.iter().filter(|m| keep(m)) {
            let f = match &filter {
                Some((peer, f)) if m.peer.as_ref().is_some_and(|p| p.same(peer)) => f.clone(),
                _ => m.filter.clone(),
            };
            members.push(Member { sk: m.sk.clone(), flags: m.flags, peer: m.peer.clone(), filter: f }, GFP_KERNEL)?;
        }
        if let Some(m) = add {
            members.push(m, GFP_KERNEL)?;
        }
        Ok(MemberList { owner: self.owner.clone(), members, closed: self.closed })
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::{CaseResult, Failure};
    use crate::{kcheck, kcheck_eq};

    impl Handle for u32 {
        fn same(&self, other: &u32) -> bool {
            self == other
        }
    }

    type List = MemberList<u32, u32>;

    fn m(sk: u32, flags: u32) -> Member<u32, u32> {
        Member { sk, flags, peer: None, filter: None }
    }

    fn fail() -> Failure {
        Failure { file: file!(), line: line!(), what: "unexpected error" }
    }

    fn build(owner: Option<u32>, members: &[Member<u32, u32>]) -> Result<List, Failure> {
        let mut l = List::new(owner);
        for x in members {
            l = l.with(Member { sk: x.sk, flags: x.flags, peer: x.peer, filter: x.filter }, 100).map_err(|_| fail())?;
        }
        Ok(l)
    }

    /// (recipient, drops) pairs, in order.
    fn who(l: &List, sender: u32) -> KVec<(u32, bool)> {
        let mut v = KVec::new();
        for r in l.recipients(move |s: &u32| *s == sender) {
            let _ = v.push((*r.sk, r.drops), GFP_KERNEL);
        }
        v
    }

    pub(crate) fn membership_sender_skipped_unless_loopback() -> CaseResult {
        let l = build(None, &[m(1, 0), m(2, LOOPBACK), m(3, 0)])?;
        kcheck_eq!(who(&l, 1).as_slice(), &[(2, false), (3, false)][..]);
        kcheck_eq!(who(&l, 2).as_slice(), &[(1, false), (2, false), (3, false)][..]);
        // A non-member sender reaches everyone.
        kcheck_eq!(who(&l, 9).as_slice(), &[(1, false), (2, false), (3, false)][..]);
        Ok(())
    }

    pub(crate) fn membership_drop_flag_marks_recipient() -> CaseResult {
        let l = build(None, &[m(1, DROP_WHEN_FULL), m(2, 0)])?;
        kcheck_eq!(who(&l, 9).as_slice(), &[(1, true), (2, false)][..]);
        Ok(())
    }

    pub(crate) fn membership_send_to_peer_copies() -> CaseResult {
        // Datagram: the owner (7) gets the copy of member 1's messages only.
        let l = build(Some(7), &[m(1, SEND_TO_PEER), m(2, 0)])?;
        kcheck_eq!(who(&l, 1).as_slice(), &[(2, false), (7, false)][..]);
        kcheck_eq!(who(&l, 2).as_slice(), &[(1, false)][..]);
        // Seqpacket: the member's own peer (its accepted socket) gets it,
        // even with DROP_WHEN_FULL on the member, and it never drops.
        let mut a = m(1, SEND_TO_PEER | DROP_WHEN_FULL);
        a.peer = Some(11);
        let l = build(None, &[a, m(2, 0)])?;
        kcheck_eq!(who(&l, 1).as_slice(), &[(2, false), (11, false)][..]);
        Ok(())
    }

    pub(crate) fn membership_add_remove_errors() -> CaseResult {
        let l = build(None, &[m(1, 0), m(2, 0)])?;
        kcheck!(l.with(m(1, 0), 100).err() == Some(Errno::EADDRINUSE));
        kcheck!(l.with(m(3, 0), 2).err() == Some(Errno::ENOBUFS));
        kcheck!(l.without(&5).err() == Some(Errno::EADDRNOTAVAIL));
        let l2 = l.without(&1).map_err(|_| fail())?;
        kcheck_eq!(l2.len(), 1);
        kcheck!(l2.find(&1).is_none());
        kcheck!(l2.find(&2).is_some());
        // The original list is unchanged (readers may still see it).
        kcheck_eq!(l.len(), 2);
        kcheck!(List::closed().with(m(1, 0), 100).err() == Some(Errno::ECONNREFUSED));
        Ok(())
    }

    pub(crate) fn membership_peer_filter_follows_the_peer() -> CaseResult {
        let mut a = m(1, 0);
        a.peer = Some(11);
        let mut b = m(2, 0);
        b.peer = Some(12);
        let l = build(None, &[a, b])?;
        let l = l.with_filter(&12, Some(99)).map_err(|_| fail())?;
        let filters: KVec<Option<u32>> = {
            let mut v = KVec::new();
            for r in l.recipients(|s: &u32| *s == 9) {
                let _ = v.push(r.filter.copied(), GFP_KERNEL);
            }
            v
        };
        kcheck_eq!(filters.as_slice(), &[None, Some(99)][..]);
        let l = l.with_filter(&12, None).map_err(|_| fail())?;
        kcheck!(l.recipients(|s: &u32| *s == 9).all(|r| r.filter.is_none()));
        Ok(())
    }
}
