//! [`OwnerCache`]: the owners of well-known names a client called, as the
//! bus last said, so that a call to a well-known name need not ask the
//! daemon (`GetNameOwner`) each time.
//!
//! An entry is a *subscription*: the client holds the match rule
//! [`OwnerCache::rule`] for the name (`NameOwnerChanged` from the bus with
//! `arg0` the name), so the daemon tells it every change of the name's
//! owner; the entry's owner is what the last `GetNameOwner` or
//! `NameOwnerChanged` said, or unknown (the name has no owner, or the
//! client may have missed a change: [`OwnerCache::flush`]). The cache holds
//! at most [`capacity`](OwnerCache::capacity) names; a new one takes the
//! place of the least recently used. The cache only keeps the entries: the
//! client ([`Bus`](crate::bus::Bus)) adds and removes the rules, feeds it
//! the signals and decides when it is current (Documentation/bus.md, "The
//! owner cache").

use super::names::{BUS_INTERFACE, BUS_NAME, BUS_PATH};
use std::collections::HashMap;

/// How many names a client's cache holds by default (a daemon allows 512
/// match rules per connection by default: half are left to the
/// application).
pub const DEFAULT_CAPACITY: usize = 256;

#[derive(Clone, Debug)]
struct Entry {
    owner: Option<String>,
    used: u64,
}

/// Well-known name → unique name of its owner, for the names subscribed.
///
/// ```
/// use mcast_unix::bus::OwnerCache;
///
/// let mut cache = OwnerCache::new(2);
/// assert_eq!(cache.subscribe("org.example.A"), None);
/// cache.set_owner("org.example.A", Some(":1.5".into()));
/// assert_eq!(cache.owner("org.example.A"), Some(":1.5"));
/// // NameOwnerChanged: the name moved.
/// cache.owner_changed("org.example.A", ":1.9");
/// assert_eq!(cache.owner("org.example.A"), Some(":1.9"));
/// // A message from the bus was lost: no owner is trusted any more.
/// cache.flush();
/// assert_eq!(cache.owner("org.example.A"), None);
/// assert!(cache.contains("org.example.A"), "still subscribed");
/// ```
#[derive(Clone, Debug)]
pub struct OwnerCache {
    entries: HashMap<String, Entry>,
    capacity: usize,
    tick: u64,
}

impl Default for OwnerCache {
    fn default() -> OwnerCache {
        OwnerCache::new(DEFAULT_CAPACITY)
    }
}

impl OwnerCache {
    /// An empty cache for at most `capacity` names (0: no caching).
    pub fn new(capacity: usize) -> OwnerCache {
        OwnerCache { entries: HashMap::new(), capacity, tick: 0 }
    }

    /// The match rule that subscribes to the changes of `name`'s owner.
    ///
    /// ```
    /// use mcast_unix::bus::{OwnerCache, Rule};
    /// assert!(Rule::parse(&OwnerCache::rule("org.example.A")).is_ok());
    /// ```
    pub fn rule(name: &str) -> String {
        format!("type='signal',sender='{BUS_NAME}',path='{BUS_PATH}',interface='{BUS_INTERFACE}',member='NameOwnerChanged',arg0='{name}'")
    }

    /// How many names it holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many names it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no name.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `name` is subscribed (its owner known or not).
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The names subscribed, in no order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// `name`'s owner, if known (and marks the name used).
    pub fn owner(&mut self, name: &str) -> Option<&str> {
        self.tick += 1;
        let tick = self.tick;
        let e = self.entries.get_mut(name)?;
        e.used = tick;
        e.owner.as_deref()
    }

    /// Adds `name`, its owner unknown, once its rule is in (nothing if it
    /// is there already or the capacity is 0). If the cache was full, the
    /// least recently used name gives way and is returned: its rule is to
    /// be removed.
    pub fn subscribe(&mut self, name: &str) -> Option<String> {
        if self.capacity == 0 || self.contains(name) {
            return None;
        }
        let evicted = if self.entries.len() >= self.capacity { self.pop_oldest() } else { None };
        self.tick += 1;
        self.entries.insert(name.to_owned(), Entry { owner: None, used: self.tick });
        evicted
    }

    /// Sets the owner of a subscribed name (`GetNameOwner`'s answer; `None`:
    /// unknown). Nothing if `name` is not subscribed.
    pub fn set_owner(&mut self, name: &str, owner: Option<String>) {
        if let Some(e) = self.entries.get_mut(name) {
            e.owner = owner;
        }
    }

    /// Applies `NameOwnerChanged(name, _, new_owner)` (`""`: no owner now).
    /// Whether `name` is subscribed.
    pub fn owner_changed(&mut self, name: &str, new_owner: &str) -> bool {
        match self.entries.get_mut(name) {
            Some(e) => {
                e.owner = (!new_owner.is_empty()).then(|| new_owner.to_owned());
                true
            }
            None => false,
        }
    }

    /// Forgets every owner (a change may have been missed); the names stay
    /// subscribed, so the next `GetNameOwner` of each makes it current
    /// again.
    pub fn flush(&mut self) {
        for e in self.entries.values_mut() {
            e.owner = None;
        }
    }

    /// Removes `name` (its rule is gone or to be removed). Whether it was
    /// there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.entries.remove(name).is_some()
    }

    /// Removes and returns the least recently used name.
    pub fn pop_oldest(&mut self) -> Option<String> {
        let oldest = self.entries.iter().min_by_key(|(_, e)| e.used).map(|(n, _)| n.clone())?;
        self.entries.remove(&oldest);
        Some(oldest)
    }

    /// Changes the capacity; returns the names that no longer fit (least
    /// recently used first), whose rules are to be removed.
    pub fn set_capacity(&mut self, capacity: usize) -> Vec<String> {
        self.capacity = capacity;
        let mut out = Vec::new();
        while self.entries.len() > capacity {
            out.extend(self.pop_oldest());
        }
        out
    }

    /// Removes every name; returns them (their rules are to be removed).
    pub fn clear(&mut self) -> Vec<String> {
        self.entries.drain().map(|(n, _)| n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{BusMessage, Rule};

    fn noc(name: &str, old: &str, new: &str) -> BusMessage {
        let m = zbus::Message::signal(BUS_PATH, BUS_INTERFACE, "NameOwnerChanged").sender(BUS_NAME).build(&(name, old, new)).unwrap();
        BusMessage::from_message(m)
    }

    #[test]
    fn the_rule_takes_the_bus_signal_for_that_name_only() {
        let r = Rule::parse(&OwnerCache::rule("org.example.A")).unwrap();
        assert!(r.matches(&noc("org.example.A", ":1.1", ":1.2")));
        assert!(!r.matches(&noc("org.example.B", ":1.1", ":1.2")), "another name");
        assert!(!r.matches(&noc("org.example.AB", "", ":1.2")), "arg0 is matched whole");
        let forged = zbus::Message::signal(BUS_PATH, BUS_INTERFACE, "NameOwnerChanged").sender(":1.7").build(&("org.example.A", "", ":1.7")).unwrap();
        assert!(!r.matches(&BusMessage::from_message(forged)), "a client's signal of that name");
        assert!(r.alternative(|_| None).is_none(), "no filter instructions: the daemon sends it");
    }

    #[test]
    fn least_recently_used_gives_way() {
        let mut c = OwnerCache::new(2);
        assert_eq!(c.subscribe("a.A"), None);
        assert_eq!(c.subscribe("a.B"), None);
        assert_eq!(c.subscribe("a.A"), None, "already there");
        let _ = c.owner("a.A");
        assert_eq!(c.subscribe("a.C"), Some("a.B".into()), "a.A was used since");
        assert_eq!(c.len(), 2);
        assert!(c.contains("a.A") && c.contains("a.C"));
        assert_eq!(c.subscribe("a.D"), Some("a.A".into()));
    }

    #[test]
    fn owners_follow_signals_and_flush_keeps_subscriptions() {
        let mut c = OwnerCache::new(4);
        c.set_owner("a.A", Some(":1.1".into()));
        assert_eq!(c.owner("a.A"), None, "not subscribed: nothing kept");
        c.subscribe("a.A");
        assert_eq!(c.owner("a.A"), None);
        c.set_owner("a.A", Some(":1.1".into()));
        assert_eq!(c.owner("a.A"), Some(":1.1"));
        assert!(c.owner_changed("a.A", ""));
        assert_eq!(c.owner("a.A"), None, "no owner: unknown, asked again");
        assert!(c.owner_changed("a.A", ":1.3"));
        assert_eq!(c.owner("a.A"), Some(":1.3"));
        assert!(!c.owner_changed("a.B", ":1.3"));
        assert!(!c.contains("a.B"));
        c.flush();
        assert_eq!(c.owner("a.A"), None);
        assert_eq!(c.len(), 1);
        assert!(c.remove("a.A"));
        assert!(c.is_empty());
    }

    #[test]
    fn capacity_zero_caches_nothing_and_shrinking_evicts() {
        let mut c = OwnerCache::new(0);
        assert_eq!(c.subscribe("a.A"), None);
        assert!(c.is_empty());
        let mut c = OwnerCache::new(3);
        for n in ["a.A", "a.B", "a.C"] {
            c.subscribe(n);
        }
        let _ = c.owner("a.A");
        assert_eq!(c.set_capacity(1), vec!["a.B".to_string(), "a.C".to_string()]);
        assert_eq!(c.names().collect::<Vec<_>>(), vec!["a.A"]);
        let mut all = c.clear();
        all.sort();
        assert_eq!(all, vec!["a.A".to_string()]);
    }
}
