//! [`RouteHashes`]: the routing hashes of the live names, kept unique.
//!
//! The kernel routes a record by the 32-bit [`name_hash`] of its
//! destination (the [routing header](mcast_unix::bus::header)): every
//! member whose filter holds that hash receives it. The receiving library
//! drops a record whose full destination is not one of its names, but a
//! hostile client need not use the library: if it owned a name with the
//! hash of another live name it would read that name's calls, replies,
//! unicast signals and descriptors from its own socket. So the daemon
//! keeps one live name per hash: `org.freedesktop.DBus`, every unique name
//! of a connection that said Hello, and every owned well-known name (a
//! name's queue lives under its entry, so a waiter promoted to owner takes
//! a name whose hash is already reserved for it). A `RequestName` of a new
//! name, or a Hello whose unique name, hashes like another live name is
//! refused.

use mcast_unix::bus::{name_hash, BUS_NAME};
use std::collections::HashMap;

/// The live names by routing hash.
#[derive(Debug)]
pub struct RouteHashes {
    by_hash: HashMap<u32, String>,
}

impl Default for RouteHashes {
    fn default() -> RouteHashes {
        RouteHashes::new()
    }
}

impl RouteHashes {
    /// Only `org.freedesktop.DBus`.
    pub fn new() -> RouteHashes {
        RouteHashes { by_hash: HashMap::from([(name_hash(BUS_NAME), BUS_NAME.to_owned())]) }
    }

    /// The other live name with `name`'s hash, if any (`None` also when
    /// `name` itself holds the hash).
    pub fn conflict(&self, name: &str) -> Option<&str> {
        self.by_hash.get(&name_hash(name)).map(String::as_str).filter(|n| *n != name)
    }

    /// Whether `name` holds its hash.
    pub fn holds(&self, name: &str) -> bool {
        self.by_hash.get(&name_hash(name)).is_some_and(|n| n == name)
    }

    /// Reserves `name`'s hash. `Err` with the name holding it if another
    /// does (nothing changes then).
    pub fn insert(&mut self, name: &str) -> Result<(), String> {
        if let Some(other) = self.conflict(name) {
            return Err(other.to_owned());
        }
        self.by_hash.insert(name_hash(name), name.to_owned());
        Ok(())
    }

    /// Frees `name`'s hash (if `name` holds it; `org.freedesktop.DBus`
    /// keeps its own).
    pub fn remove(&mut self, name: &str) {
        if name != BUS_NAME && self.holds(name) {
            self.by_hash.remove(&name_hash(name));
        }
    }

    /// How many names hold a hash (`org.freedesktop.DBus` included).
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Never: `org.freedesktop.DBus` always holds its hash.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// Two distinct names with the same [`name_hash`]: `prefix` followed by
/// decimal suffixes, found by a birthday search (about 2^16 names, so a
/// fraction of a second). Deterministic for a given prefix.
///
/// ```
/// let (a, b) = mcast_bus::hashes::colliding_pair("org.example.H");
/// assert_ne!(a, b);
/// assert_eq!(mcast_unix::bus::name_hash(&a), mcast_unix::bus::name_hash(&b));
/// ```
pub fn colliding_pair(prefix: &str) -> (String, String) {
    let mut seen: HashMap<u32, u64> = HashMap::new();
    for i in 0u64.. {
        let n = format!("{prefix}{i}");
        if let Some(j) = seen.insert(name_hash(&n), i) {
            return (format!("{prefix}{j}"), n);
        }
    }
    unreachable!("a 32-bit hash collides within 2^32 + 1 names")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_per_hash() {
        let (a, b) = colliding_pair("org.example.T");
        let mut h = RouteHashes::new();
        assert_eq!(h.insert(&a), Ok(()));
        assert_eq!(h.insert(&a), Ok(()), "a name may re-reserve its own hash");
        assert_eq!(h.conflict(&b), Some(a.as_str()));
        assert_eq!(h.insert(&b), Err(a.clone()));
        assert!(h.holds(&a) && !h.holds(&b));
        h.remove(&b);
        assert!(h.holds(&a), "removing a name that does not hold the hash frees nothing");
        h.remove(&a);
        assert_eq!(h.insert(&b), Ok(()), "free once the first name is gone");
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn the_bus_name_is_always_reserved() {
        let mut h = RouteHashes::new();
        assert!(h.holds(BUS_NAME));
        h.remove(BUS_NAME);
        assert!(h.holds(BUS_NAME));
        assert!(!h.is_empty());
    }
}
