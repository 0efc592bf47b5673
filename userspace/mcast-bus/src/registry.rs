//! [`Registry`]: who owns each well-known name and who waits for it, with
//! the `RequestName`/`ReleaseName` rules of the D-Bus specification.
//!
//! - A name nobody owns goes to the first to ask (`PrimaryOwner`).
//! - Asking for a name one owns updates its `ALLOW_REPLACEMENT` flag
//!   (`AlreadyOwner`).
//! - `REPLACE_EXISTING` takes a name from an owner that gave
//!   `ALLOW_REPLACEMENT`; the old owner goes to the head of the queue unless
//!   it asked with `DO_NOT_QUEUE`, in which case it loses the name.
//! - Otherwise `DO_NOT_QUEUE` gets `Exists` (and leaves the queue if it was
//!   in it); without it the caller waits in the queue (`InQueue`), in
//!   order.
//! - Releasing a name (or closing) passes it to the head of its queue.

use mcast_unix::bus::{ReleaseNameReply, RequestNameFlags, RequestNameReply};
use std::collections::{BTreeMap, VecDeque};

/// A connection, by its socket id.
pub type ConnId = u64;

/// A change of a name's owner (`None`: nobody).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerChange {
    /// The name.
    pub name: String,
    /// Its owner before.
    pub old: Option<ConnId>,
    /// Its owner now.
    pub new: Option<ConnId>,
}

#[derive(Debug)]
struct Entry {
    owner: ConnId,
    flags: RequestNameFlags,
    queue: VecDeque<(ConnId, RequestNameFlags)>,
}

/// The well-known names of the bus.
#[derive(Debug, Default)]
pub struct Registry {
    names: BTreeMap<String, Entry>,
}

impl Registry {
    /// No names.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The owner of `name`.
    pub fn owner(&self, name: &str) -> Option<ConnId> {
        self.names.get(name).map(|e| e.owner)
    }

    /// The owner, then the queue, of `name` (`ListQueuedOwners`).
    pub fn queued(&self, name: &str) -> Vec<ConnId> {
        self.names.get(name).map_or_else(Vec::new, |e| {
            std::iter::once(e.owner).chain(e.queue.iter().map(|(c, _)| *c)).collect()
        })
    }

    /// The names `conn` owns.
    pub fn owned_by(&self, conn: ConnId) -> Vec<String> {
        self.names.iter().filter(|(_, e)| e.owner == conn).map(|(n, _)| n.clone()).collect()
    }

    /// How many names `conn` owns or waits for.
    pub fn count_for(&self, conn: ConnId) -> usize {
        self.names.values().filter(|e| e.owner == conn || e.queue.iter().any(|(c, _)| *c == conn)).count()
    }

    /// Every owned name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// `RequestName(name, flags)` by `conn`.
    pub fn request(&mut self, name: &str, conn: ConnId, flags: RequestNameFlags) -> (RequestNameReply, Option<OwnerChange>) {
        let Some(e) = self.names.get_mut(name) else {
            self.names.insert(name.to_owned(), Entry { owner: conn, flags, queue: VecDeque::new() });
            return (RequestNameReply::PrimaryOwner, Some(OwnerChange { name: name.into(), old: None, new: Some(conn) }));
        };
        if e.owner == conn {
            e.flags = flags;
            return (RequestNameReply::AlreadyOwner, None);
        }
        let queued_at = e.queue.iter().position(|(c, _)| *c == conn);
        if flags.contains(RequestNameFlags::REPLACE_EXISTING) && e.flags.contains(RequestNameFlags::ALLOW_REPLACEMENT) {
            if let Some(i) = queued_at {
                e.queue.remove(i);
            }
            let (old, old_flags) = (e.owner, e.flags);
            if !old_flags.contains(RequestNameFlags::DO_NOT_QUEUE) {
                e.queue.push_front((old, old_flags));
            }
            e.owner = conn;
            e.flags = flags;
            return (RequestNameReply::PrimaryOwner, Some(OwnerChange { name: name.into(), old: Some(old), new: Some(conn) }));
        }
        if flags.contains(RequestNameFlags::DO_NOT_QUEUE) {
            if let Some(i) = queued_at {
                e.queue.remove(i);
            }
            return (RequestNameReply::Exists, None);
        }
        match queued_at {
            Some(i) => e.queue[i].1 = flags,
            None => e.queue.push_back((conn, flags)),
        }
        (RequestNameReply::InQueue, None)
    }

    /// `ReleaseName(name)` by `conn`.
    pub fn release(&mut self, name: &str, conn: ConnId) -> (ReleaseNameReply, Option<OwnerChange>) {
        let Some(e) = self.names.get_mut(name) else { return (ReleaseNameReply::NonExistent, None) };
        if e.owner != conn {
            return match e.queue.iter().position(|(c, _)| *c == conn) {
                Some(i) => {
                    e.queue.remove(i);
                    (ReleaseNameReply::Released, None)
                }
                None => (ReleaseNameReply::NotOwner, None),
            };
        }
        let change = match e.queue.pop_front() {
            Some((next, flags)) => {
                e.owner = next;
                e.flags = flags;
                OwnerChange { name: name.into(), old: Some(conn), new: Some(next) }
            }
            None => {
                self.names.remove(name);
                OwnerChange { name: name.into(), old: Some(conn), new: None }
            }
        };
        (ReleaseNameReply::Released, Some(change))
    }

    /// `conn` is gone: it leaves every queue and releases every name.
    pub fn drop_conn(&mut self, conn: ConnId) -> Vec<OwnerChange> {
        for e in self.names.values_mut() {
            e.queue.retain(|(c, _)| *c != conn);
        }
        let owned = self.owned_by(conn);
        owned.iter().filter_map(|n| self.release(n, conn).1).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestNameFlags as F;
    use RequestNameReply as R;

    const N: &str = "org.example.N";

    fn change(old: Option<ConnId>, new: Option<ConnId>) -> Option<OwnerChange> {
        Some(OwnerChange { name: N.into(), old, new })
    }

    #[test]
    fn first_owns_then_queue_in_order() {
        let mut r = Registry::new();
        assert_eq!(r.request(N, 1, F::empty()), (R::PrimaryOwner, change(None, Some(1))));
        assert_eq!(r.request(N, 1, F::empty()), (R::AlreadyOwner, None));
        assert_eq!(r.request(N, 2, F::empty()), (R::InQueue, None));
        assert_eq!(r.request(N, 3, F::empty()), (R::InQueue, None));
        assert_eq!(r.request(N, 4, F::DO_NOT_QUEUE), (R::Exists, None));
        assert_eq!(r.queued(N), vec![1, 2, 3]);
        assert_eq!(r.release(N, 1), (ReleaseNameReply::Released, change(Some(1), Some(2))));
        assert_eq!(r.release(N, 3), (ReleaseNameReply::Released, None), "leaves the queue");
        assert_eq!(r.release(N, 4), (ReleaseNameReply::NotOwner, None));
        assert_eq!(r.release(N, 2), (ReleaseNameReply::Released, change(Some(2), None)));
        assert_eq!(r.release(N, 2), (ReleaseNameReply::NonExistent, None));
        assert_eq!(r.owner(N), None);
    }

    #[test]
    fn replacement_needs_both_flags() {
        let mut r = Registry::new();
        r.request(N, 1, F::empty());
        assert_eq!(r.request(N, 2, F::REPLACE_EXISTING | F::DO_NOT_QUEUE), (R::Exists, None), "owner did not allow it");
        r.request(N, 1, F::ALLOW_REPLACEMENT);
        assert_eq!(r.request(N, 2, F::REPLACE_EXISTING), (R::PrimaryOwner, change(Some(1), Some(2))));
        assert_eq!(r.queued(N), vec![2, 1], "the old owner waits at the head");
        // An owner that asked with DO_NOT_QUEUE loses the name outright.
        let mut r = Registry::new();
        r.request(N, 1, F::ALLOW_REPLACEMENT | F::DO_NOT_QUEUE);
        assert_eq!(r.request(N, 2, F::REPLACE_EXISTING).0, R::PrimaryOwner);
        assert_eq!(r.queued(N), vec![2]);
    }

    #[test]
    fn closing_passes_names_on() {
        let mut r = Registry::new();
        r.request(N, 1, F::empty());
        r.request("org.example.M", 1, F::empty());
        r.request(N, 2, F::empty());
        r.request("org.example.M", 3, F::empty());
        r.request("org.example.M", 2, F::empty());
        let mut ch = r.drop_conn(1);
        ch.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            ch,
            vec![
                OwnerChange { name: "org.example.M".into(), old: Some(1), new: Some(3) },
                OwnerChange { name: N.into(), old: Some(1), new: Some(2) },
            ]
        );
        assert_eq!(r.drop_conn(2), vec![OwnerChange { name: N.into(), old: Some(2), new: None }]);
        assert_eq!(r.queued("org.example.M"), vec![3], "2 left M's queue");
        assert_eq!(r.count_for(3), 1);
    }
}
