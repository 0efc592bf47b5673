//! The peer filters the daemon installs: what each member receives from the
//! group, compiled from its names and match rules into one classic BPF
//! program over the [routing header](super::header).
//!
//! A member's filter accepts a record when
//! - its destination hash is the hash of one of the member's names (its
//!   unique name, the well-known names it owns or waits for): method calls,
//!   replies, errors and unicast signals addressed to it; or
//! - it is a broadcast signal matching one of its rules' compiled keys
//!   ([`Rule::alternative`]).
//!
//! The daemon's own end of each connection gets [`bus_filter`]: only records
//! addressed to `org.freedesktop.DBus` wake it.

use super::header::{name_hash, OFF_DESTINATION};
use super::names::BUS_NAME;
use super::rule::Rule;
use crate::{AnyOf, ByteOrder, FilterBuilder, Program};
use std::io;

/// The filter of a member owning (or queued for) `names` with `rules`;
/// `owner_of` resolves well-known senders of rules. `InvalidInput` if the
/// program would be longer than the kernel takes (the daemon reports
/// `LimitsExceeded`).
///
/// ```
/// use mcast_unix::bus::{member_filter, BusMessage, Rule};
///
/// let rules = [Rule::parse("type='signal',interface='org.example.Clock'").unwrap()];
/// let prog = member_filter([":1.5"], &rules, |_| None).unwrap();
/// let call = zbus::Message::method_call("/", "Ping").destination(":1.5").sender(":1.6").build(&()).unwrap();
/// assert!(prog.deliver(&BusMessage::encode(&call).unwrap()).unwrap().is_some());
/// let other = zbus::Message::method_call("/", "Ping").destination(":1.7").sender(":1.6").build(&()).unwrap();
/// assert!(prog.deliver(&BusMessage::encode(&other).unwrap()).unwrap().is_none());
/// ```
pub fn member_filter<'a>(
    names: impl IntoIterator<Item = &'a str>,
    rules: &[Rule],
    owner_of: impl Fn(&str) -> Option<String>,
) -> io::Result<Program> {
    let mut any = AnyOf::new().or(FilterBuilder::new().u32_in(
        OFF_DESTINATION,
        ByteOrder::Big,
        names.into_iter().map(name_hash),
    ));
    for r in rules {
        if let Some(alt) = r.alternative(&owner_of) {
            any.push(alt);
        }
    }
    any.build()
}

/// The filter on the daemon's end of every connection: records whose
/// destination hash is `org.freedesktop.DBus`'s.
pub fn bus_filter() -> Program {
    FilterBuilder::new()
        .u32_in(OFF_DESTINATION, ByteOrder::Big, [name_hash(BUS_NAME)])
        .build()
        .expect("a one-key filter is within every limit")
}

/// A monitor's filter: everything.
pub fn monitor_filter() -> Program {
    Program::accept_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::BusMessage;

    fn rec(m: zbus::Message) -> Vec<u8> {
        BusMessage::encode(&m).unwrap()
    }

    fn call(dest: &str) -> Vec<u8> {
        rec(zbus::Message::method_call("/o", "M").destination(dest).interface("a.b").sender(":1.1").build(&()).unwrap())
    }

    fn sig(sender: &str, iface: &str, member: &str, path: &str, dest: Option<&str>) -> Vec<u8> {
        let mut b = zbus::Message::signal(path, iface, member).sender(sender);
        if let Some(d) = dest {
            b = b.destination(d);
        }
        rec(b.build(&()).unwrap())
    }

    fn passes(p: &Program, m: &[u8]) -> bool {
        p.check().unwrap();
        p.deliver(m).unwrap().is_some()
    }

    #[test]
    fn names_route_calls_replies_and_unicast_signals() {
        let p = member_filter([":1.5", "org.example.A"], &[], |_| None).unwrap();
        assert!(passes(&p, &call(":1.5")));
        assert!(passes(&p, &call("org.example.A")));
        assert!(!passes(&p, &call("org.example.B")));
        assert!(!passes(&p, &call(BUS_NAME)));
        assert!(passes(&p, &sig(":1.2", "a.b", "M", "/", Some(":1.5"))));
        assert!(!passes(&p, &sig(":1.2", "a.b", "M", "/", None)), "no rules: no broadcasts");
        let reply = zbus::Message::method_call("/", "M").sender(":1.5").destination(":1.9").build(&()).unwrap();
        let ret = zbus::Message::method_return(&reply.header()).sender(":1.9").build(&()).unwrap();
        assert!(passes(&p, &rec(ret)), "a reply to :1.5");
    }

    #[test]
    fn rules_route_broadcast_signals_per_key() {
        let rules: Vec<Rule> = [
            "type='signal',interface='a.b'",
            "member='Only'",
            "path='/p'",
            "sender=':1.3'",
            "sender='org.example.Owned',member='Own'",
        ]
        .iter()
        .map(|r| Rule::parse(r).unwrap())
        .collect();
        let owner = |n: &str| (n == "org.example.Owned").then(|| ":1.4".to_string());
        let p = member_filter([":1.5"], &rules, owner).unwrap();
        assert!(passes(&p, &sig(":1.2", "a.b", "X", "/", None)), "interface");
        assert!(!passes(&p, &sig(":1.2", "a.c", "X", "/", None)));
        assert!(passes(&p, &sig(":1.2", "a.c", "Only", "/", None)), "member");
        assert!(passes(&p, &sig(":1.2", "a.c", "X", "/p", None)), "path");
        assert!(passes(&p, &sig(":1.3", "a.c", "X", "/", None)), "sender");
        assert!(passes(&p, &sig(":1.4", "a.c", "Own", "/", None)), "well-known sender, resolved");
        assert!(!passes(&p, &sig(":1.6", "a.c", "Own", "/", None)), "someone else sending Own");
        assert!(!passes(&p, &sig(":1.2", "a.b", "X", "/", Some(":1.6"))), "unicast to someone else");
        assert!(!passes(&p, &call(":1.6")));
    }

    #[test]
    fn bus_and_monitor_filters() {
        let b = bus_filter();
        assert!(passes(&b, &call(BUS_NAME)));
        assert!(!passes(&b, &call(":1.5")));
        assert!(!passes(&b, &sig(":1.2", "a.b", "X", "/", None)));
        assert!(passes(&monitor_filter(), &call(":1.5")));
    }

    #[test]
    fn too_many_rules_is_an_error_not_a_bad_program() {
        let rules: Vec<Rule> =
            (0..800).map(|i| Rule::parse(&format!("interface='a.b{i}',member='M{i}'")).unwrap()).collect();
        assert_eq!(member_filter([":1.1"], &rules, |_| None).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
