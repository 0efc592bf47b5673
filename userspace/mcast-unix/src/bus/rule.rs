//! Match rules: the D-Bus match-rule syntax (`type='signal',
//! interface='org.example.Foo',member='Changed'`), parsed by zbus, and
//! what of a rule the kernel checks.
//!
//! A rule compiles to one alternative of a member's peer filter
//! ([`Rule::alternative`]): a broadcast signal (type 4, no destination)
//! whose sender, interface, member and path hashes are the rule's. The
//! other keys (`path_namespace`, `arg0`…`arg63`, `arg0path`…, `arg0namespace`,
//! `destination`) are not compiled: the filter lets through what matches the
//! compiled keys, and the client library checks the whole rule
//! ([`Rule::matches`]) on what arrives. `eavesdrop='true'` is refused
//! (monitors see everything instead, see the bus documentation).

use super::header::{name_hash, OFF_DESTINATION, OFF_INTERFACE, OFF_MEMBER, OFF_PATH, OFF_SENDER, OFF_TYPE};
use super::message::BusMessage;
use super::names::{unique_name_id, BUS_NAME};
use crate::{ByteOrder, FilterBuilder};
use std::fmt;
use zbus::match_rule::PathSpec;
use zbus::message::Type;
use zbus::names::BusName;
use zbus::MatchRule;

/// A rule that cannot be used: D-Bus error `MatchRuleInvalid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError(pub String);

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid match rule: {}", self.0)
    }
}

impl std::error::Error for RuleError {}

/// A parsed match rule.
///
/// ```
/// use mcast_unix::bus::Rule;
///
/// let rule = Rule::parse("type='signal',interface='org.example.Clock',member='Tick'").unwrap();
/// let tick = zbus::Message::signal("/clock", "org.example.Clock", "Tick")
///     .sender(":1.9")
///     .build(&())
///     .unwrap();
/// assert!(rule.matches(&mcast_unix::bus::BusMessage::from_message(tick)));
/// assert!(Rule::parse("type='nonsense'").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    rule: MatchRule<'static>,
}

impl Rule {
    /// Parses `text` (D-Bus match-rule syntax). Refused: syntax errors,
    /// unknown keys, invalid names or paths, `eavesdrop='true'`.
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let rule = MatchRule::try_from(text).map_err(|e| RuleError(e.to_string()))?.into_owned();
        if rule.eavesdrop() {
            return Err(RuleError("eavesdrop='true' is not supported (use a monitor)".into()));
        }
        Ok(Rule { rule })
    }

    /// The zbus rule.
    pub fn as_match_rule(&self) -> &MatchRule<'static> {
        &self.rule
    }

    /// The sender key, if any.
    pub fn sender(&self) -> Option<&str> {
        self.rule.sender().map(|s| s.as_str())
    }

    /// Whether the sender key names a well-known name (the daemon then
    /// compiles its current owner's unique name).
    pub fn sender_is_well_known(&self) -> bool {
        matches!(self.rule.sender(), Some(BusName::WellKnown(_)))
    }

    /// Whether `msg` matches every key of the rule, but for a well-known
    /// `sender` (a message's sender is always a unique name; the daemon's
    /// filter checked the owner).
    pub fn matches(&self, msg: &BusMessage) -> bool {
        self.rule.matches(msg.message()).unwrap_or(false)
    }

    /// The peer-filter alternative for broadcast signals this rule wants,
    /// `None` if it matches no broadcast signal that travels through the
    /// group: a type other than signal, a `destination` key (unicast
    /// signals reach their destination anyway), a sender that is the bus
    /// itself (the daemon sends its signals straight to each subscriber),
    /// or a well-known sender nobody owns. `owner_of` resolves a well-known
    /// sender to its owner's unique name.
    pub fn alternative(&self, owner_of: impl Fn(&str) -> Option<String>) -> Option<FilterBuilder> {
        if self.rule.msg_type().is_some_and(|t| t != Type::Signal) || self.rule.destination().is_some() {
            return None;
        }
        let mut f = FilterBuilder::new()
            .u8_in(OFF_TYPE, [4])
            .u32_in(OFF_DESTINATION, ByteOrder::Big, [0]);
        if let Some(sender) = self.rule.sender() {
            let sender = sender.as_str();
            if sender == BUS_NAME {
                return None;
            }
            let unique = if unique_name_id(sender).is_some() || sender.starts_with(':') {
                sender.to_owned()
            } else {
                owner_of(sender)?
            };
            f = f.u32_in(OFF_SENDER, ByteOrder::Big, [name_hash(&unique)]);
        }
        if let Some(i) = self.rule.interface() {
            f = f.u32_in(OFF_INTERFACE, ByteOrder::Big, [name_hash(i.as_str())]);
        }
        if let Some(m) = self.rule.member() {
            f = f.u32_in(OFF_MEMBER, ByteOrder::Big, [name_hash(m.as_str())]);
        }
        if let Some(PathSpec::Path(p)) = self.rule.path_spec() {
            f = f.u32_in(OFF_PATH, ByteOrder::Big, [name_hash(p.as_str())]);
        }
        Some(f)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(sender: &str, path: &str, iface: &str, member: &str, arg0: &str) -> BusMessage {
        let m = zbus::Message::signal(path, iface, member).sender(sender).build(&(arg0,)).unwrap();
        BusMessage::from_message(m)
    }

    #[test]
    fn parses_dbus_syntax_and_refuses_bad_rules() {
        let r = Rule::parse("type='signal',sender=':1.5',interface='a.b',member='M',path='/x',arg0='v'").unwrap();
        assert_eq!(r.sender(), Some(":1.5"));
        assert!(!r.sender_is_well_known());
        assert!(Rule::parse("sender='org.example.Name'").unwrap().sender_is_well_known());
        assert!(Rule::parse("").is_ok(), "the empty rule matches everything");
        for bad in ["type='sig'", "interface='no dots'", "path='rel'", "bogus='1'", "member='a", "eavesdrop='true'"] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
        // The same rule written twice parses to equal rules (RemoveMatch).
        assert_eq!(Rule::parse("member='M',interface='a.b'").unwrap(), Rule::parse("interface='a.b',member='M'").unwrap());
    }

    #[test]
    fn client_side_matching_checks_every_key() {
        let r = Rule::parse("type='signal',interface='a.b',member='M',path_namespace='/x',arg0='v'").unwrap();
        assert!(r.matches(&signal(":1.1", "/x/y", "a.b", "M", "v")));
        assert!(!r.matches(&signal(":1.1", "/x/y", "a.b", "M", "w")), "arg0");
        assert!(!r.matches(&signal(":1.1", "/z", "a.b", "M", "v")), "path_namespace");
        assert!(!r.matches(&signal(":1.1", "/x", "a.c", "M", "v")), "interface");
        assert!(!r.matches(&signal(":1.1", "/x", "a.b", "N", "v")), "member");
        let s = Rule::parse("sender=':1.2'").unwrap();
        assert!(s.matches(&signal(":1.2", "/", "a.b", "M", "")));
        assert!(!s.matches(&signal(":1.3", "/", "a.b", "M", "")));
    }

    #[test]
    fn alternative_compiles_header_keys_and_leaves_the_rest() {
        use crate::bus::BusMessage;
        let enc = |m: &BusMessage| BusMessage::encode(m.message()).unwrap();
        let r = Rule::parse("type='signal',interface='a.b',member='M',path='/p',arg0='only-in-userspace'").unwrap();
        let prog = crate::AnyOf::new().or(r.alternative(|_| None).unwrap()).build().unwrap();
        // arg0 is not compiled: both pass the filter; the library checks it.
        assert!(prog.deliver(&enc(&signal(":1.1", "/p", "a.b", "M", "other"))).unwrap().is_some());
        assert!(prog.deliver(&enc(&signal(":1.1", "/q", "a.b", "M", "other"))).unwrap().is_none());
        assert!(prog.deliver(&enc(&signal(":1.1", "/p", "a.c", "M", "other"))).unwrap().is_none());
        assert!(prog.deliver(&enc(&signal(":1.1", "/p", "a.b", "N", "other"))).unwrap().is_none());
        // A well-known sender compiles to its owner.
        let w = Rule::parse("sender='org.example.Owner'").unwrap();
        assert!(w.alternative(|_| None).is_none(), "nobody owns it");
        let prog = crate::AnyOf::new().or(w.alternative(|_| Some(":1.7".into())).unwrap()).build().unwrap();
        assert!(prog.deliver(&enc(&signal(":1.7", "/", "a.b", "M", ""))).unwrap().is_some());
        assert!(prog.deliver(&enc(&signal(":1.8", "/", "a.b", "M", ""))).unwrap().is_none());
        // Not compiled to any alternative.
        for none in ["type='method_call'", "destination=':1.4'", "sender='org.freedesktop.DBus'"] {
            assert!(Rule::parse(none).unwrap().alternative(|_| Some(":1.1".into())).is_none(), "{none}");
        }
        // A method call never passes a signal rule.
        let call = zbus::Message::method_call("/p", "M").interface("a.b").sender(":1.1").build(&()).unwrap();
        let prog = crate::AnyOf::new().or(Rule::parse("").unwrap().alternative(|_| None).unwrap()).build().unwrap();
        assert!(prog.deliver(&BusMessage::encode(&call).unwrap()).unwrap().is_none());
    }
}
