// SPDX-License-Identifier: GPL-2.0

//! The socket side of membership: the table of groups a socket is in, and
//! joining and leaving, which change it and a group's member list together.

use super::Group;
use crate::socket::{Sock, SockRef};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::filter::PeerFilter;
use crate::sys::params::max_groups;
use core::ops::Deref;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The groups a socket is a member of: a table of `max_groups` slots,
/// allocated at the first join, so leaving (close, SHUT_RD, hang-up) only
/// empties a slot and never allocates. Changed under the socket's `inner`.
/// The taken slots come first (a leave moves the last one into the hole), so
/// a look-up (every group message checks its recipient is still a member)
/// reads only the groups joined, not the whole table.
/// Generic over the group handle so KUnit checks it on its own.
pub(crate) struct Memberships<T: Deref = Arc<Group>>(KVec<Option<T>>);

impl<T: Deref + Clone> Memberships<T> {
    pub(crate) const fn new() -> Self {
        Memberships(KVec::new())
    }

    /// A table with `n` empty slots (allocated outside any lock).
    pub(super) fn with_slots(n: usize) -> ErrnoResult<Self> {
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            v.push(None, GFP_KERNEL)?;
        }
        Ok(Memberships(v))
    }

    pub(super) fn is_allocated(&self) -> bool {
        !self.0.is_empty()
    }

    /// The groups, in the table's front part.
    fn joined(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map_while(Option::as_ref)
    }

    pub(crate) fn count(&self) -> usize {
        self.joined().count()
    }

    pub(crate) fn first(&self) -> Option<&T> {
        self.joined().next()
    }

    pub(crate) fn contains(&self, group: &T::Target) -> bool {
        self.joined().any(|g| core::ptr::eq(&**g, group))
    }

    /// Records `group` in a free slot: `EADDRINUSE` if it is there already,
    /// `ENOBUFS` if every slot is taken.
    pub(super) fn insert(&mut self, group: &T) -> ErrnoResult<()> {
        if self.contains(group) {
            return Err(Errno::EADDRINUSE);
        }
        let n = self.count();
        let free = self.0.get_mut(n).ok_or(Errno::ENOBUFS)?;
        *free = Some(group.clone());
        Ok(())
    }

    /// Empties `group`'s slot; the reference goes to the caller.
    pub(super) fn take(&mut self, group: &T::Target) -> Option<T> {
        let at = self.joined().position(|g| core::ptr::eq(&**g, group))?;
        let last = self.count() - 1;
        // The last taken slot fills the hole (an emptied slot is never
        // followed by a taken one).
        self.0.swap(at, last);
        self.0[last].take()
    }

    /// Empties some slot (the last taken one).
    pub(super) fn take_any(&mut self) -> Option<T> {
        let last = self.count().checked_sub(1)?;
        self.0[last].take()
    }
}

/// Drops `group` from `sk`'s memberships (its slot is emptied).
pub(super) fn forget(sk: &Sock, group: &Group) {
    let gone = sk.inner().memberships_mut().take(group);
    // The reference is dropped outside the lock.
    drop(gone);
}

/// Leaves every group `sk` is a member of (close, SHUT_RD, hang-up): no
/// allocation, no sleeping lock, one slot per step.
pub(crate) fn leave_all(sk: &Sock) {
    loop {
        let group = sk.inner().memberships_mut().take_any();
        let Some(group) = group else { break };
        let _ = group.remove(sk);
    }
}

/// Records a membership on both sides: the socket's table (max_groups) and
/// the group's list (max_members). Joins, leaves and admissions of one socket
/// are serialised by its `join_lock` (never held across a wait). Teardown
/// (close, hang-up, owner close) does not take it: it may empty the slot
/// while the group is being joined, and the join then undoes itself.
pub(super) fn add(
    sk: &Sock,
    group: &Arc<Group>,
    flags: u32,
    peer: Option<SockRef>,
    filter: Option<Arc<PeerFilter>>,
) -> ErrnoResult<()> {
    let _serial = sk.join_serial();
    if !sk.inner().memberships().is_allocated() {
        let table = Memberships::with_slots(max_groups() as usize)?;
        let old = core::mem::replace(sk.inner().memberships_mut(), table);
        drop(old);
    }
    {
        let mut inner = sk.inner();
        if inner.is_dead() {
            return Err(Errno::ECONNRESET);
        }
        inner.memberships_mut().insert(group)?;
    }
    if let Err(e) = group.add(sk, flags, peer, filter) {
        forget(sk, group);
        return Err(e);
    }
    // A close or hang-up in between emptied the slot before we were in the
    // list (so it could not unlink us): leave again.
    if !sk.inner().memberships().contains(group) {
        let _ = group.remove(sk);
        return Err(Errno::ECONNRESET);
    }
    Ok(())
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::{kcheck, kcheck_eq};

    pub(crate) fn memberships_slots_without_allocation() -> CaseResult {
        let one = Arc::new(1u32, GFP_KERNEL).map_err(|_| crate::kfail!("allocation"))?;
        let two = Arc::new(2u32, GFP_KERNEL).map_err(|_| crate::kfail!("allocation"))?;
        let three = Arc::new(3u32, GFP_KERNEL).map_err(|_| crate::kfail!("allocation"))?;
        let mut m = Memberships::<Arc<u32>>::with_slots(2).map_err(|_| crate::kfail!("allocation"))?;
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

    pub(crate) fn memberships_taken_slots_first() -> CaseResult {
        let g: [Arc<u32>; 3] = [
            Arc::new(1u32, GFP_KERNEL).map_err(|_| crate::kfail!("allocation"))?,
            Arc::new(2u32, GFP_KERNEL).map_err(|_| crate::kfail!("allocation"))?,
            Arc::new(3u32, GFP_KERNEL).map_err(|_| crate::kfail!("allocation"))?,
        ];
        let mut m = Memberships::<Arc<u32>>::with_slots(3).map_err(|_| crate::kfail!("allocation"))?;
        for x in &g {
            kcheck!(m.insert(x).is_ok());
        }
        // Leaving the middle group moves the last one into its slot: the
        // others are still found, and the free slot is at the end.
        kcheck!(m.take(&*g[1]).is_some_and(|x| Arc::ptr_eq(&x, &g[1])));
        kcheck!(m.contains(&*g[0]) && m.contains(&*g[2]) && !m.contains(&*g[1]));
        kcheck_eq!(m.count(), 2);
        kcheck!(m.0[2].is_none());
        kcheck!(m.insert(&g[1]).is_ok());
        kcheck!(m.contains(&*g[1]));
        kcheck!(m.take(&*g[0]).is_some() && m.take(&*g[1]).is_some());
        kcheck!(m.first().is_some_and(|x| Arc::ptr_eq(x, &g[2])));
        Ok(())
    }

    crate::kunit_cases![
        memberships_slots_without_allocation,
        memberships_taken_slots_first,
    ];
}
