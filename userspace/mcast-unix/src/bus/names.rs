//! Bus names: unique names derived from the kernel's sender id, and the
//! `RequestName`/`ReleaseName` flags and replies of the D-Bus
//! specification.
//!
//! A connection's unique name is `:1.<id>`, `<id>` being the decimal
//! kernel id of its socket (its `SO_COOKIE`, the
//! [`sender_id`](crate::RecvMeta::sender_id) stamped on every message it
//! sends, which the daemon reads as `MCAST_UNIX_PEER_ID` of the accepted
//! connection). A receiver checks a message's SENDER field against the
//! stamped id without asking anyone.

/// The daemon's name, the destination of its methods and the sender of its
/// signals and replies.
pub const BUS_NAME: &str = "org.freedesktop.DBus";
/// The daemon's object path.
pub const BUS_PATH: &str = "/org/freedesktop/DBus";
/// The daemon's interface.
pub const BUS_INTERFACE: &str = "org.freedesktop.DBus";

/// The interface of the daemon's signals that are not D-Bus's own.
pub const BUS_EXT_INTERFACE: &str = "org.mcast_unix.Bus";
/// The daemon's unicast signal `MessagesLost(u)` (on [`BUS_PATH`],
/// interface [`BUS_EXT_INTERFACE`]): it could not queue that many messages
/// on this connection (its receive queue was full) since the last such
/// signal. It is sent as soon as the queue has room again; the serials of
/// the daemon's messages to a connection (1, 2, 3, ..., one per message
/// it tried to send) show the gap too.
pub const MESSAGES_LOST: &str = "MessagesLost";

/// The unique name of the connection whose socket id is `id`.
///
/// ```
/// use mcast_unix::bus::{unique_name, unique_name_id};
/// assert_eq!(unique_name(42), ":1.42");
/// assert_eq!(unique_name_id(":1.42"), Some(42));
/// assert_eq!(unique_name_id(":1.042"), None, "one spelling per id");
/// assert_eq!(unique_name_id("org.example"), None);
/// ```
pub fn unique_name(id: u64) -> String {
    format!(":1.{id}")
}

/// The socket id a unique name of the form [`unique_name`] writes, if it
/// is one (exactly that spelling: no leading zeros, no sign).
pub fn unique_name_id(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(":1.")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    digits.parse().ok()
}

/// Whether `name` is a valid well-known bus name (not a unique name).
///
/// ```
/// use mcast_unix::bus::is_well_known_name;
/// assert!(is_well_known_name("org.example.Echo"));
/// assert!(!is_well_known_name(":1.4"));
/// assert!(!is_well_known_name("noperiod"));
/// ```
pub fn is_well_known_name(name: &str) -> bool {
    zbus::names::WellKnownName::try_from(name).is_ok()
}

bitflags::bitflags! {
    /// `RequestName` flags (D-Bus specification).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct RequestNameFlags: u32 {
        /// Another connection asking with `REPLACE_EXISTING` may take the
        /// name from us.
        const ALLOW_REPLACEMENT = 1;
        /// Take the name from its owner if the owner allowed replacement.
        const REPLACE_EXISTING = 2;
        /// Do not wait in the name's queue: fail with `Exists` instead.
        const DO_NOT_QUEUE = 4;
    }
}

/// `RequestName`'s reply (D-Bus specification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestNameReply {
    /// 1: the caller owns the name now.
    PrimaryOwner,
    /// 2: the caller waits in the name's queue.
    InQueue,
    /// 3: the name has another owner and the caller did not queue.
    Exists,
    /// 4: the caller owned the name already.
    AlreadyOwner,
}

impl RequestNameReply {
    /// The wire value.
    pub fn code(self) -> u32 {
        match self {
            RequestNameReply::PrimaryOwner => 1,
            RequestNameReply::InQueue => 2,
            RequestNameReply::Exists => 3,
            RequestNameReply::AlreadyOwner => 4,
        }
    }

    /// The reply of a wire value, if known.
    pub fn from_code(code: u32) -> Option<RequestNameReply> {
        Some(match code {
            1 => RequestNameReply::PrimaryOwner,
            2 => RequestNameReply::InQueue,
            3 => RequestNameReply::Exists,
            4 => RequestNameReply::AlreadyOwner,
            _ => return None,
        })
    }
}

/// `ReleaseName`'s reply (D-Bus specification).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReleaseNameReply {
    /// 1: the caller owned the name or was queued for it, and is no more.
    Released,
    /// 2: nobody owns the name.
    NonExistent,
    /// 3: someone else owns it and the caller was not queued.
    NotOwner,
}

impl ReleaseNameReply {
    /// The wire value.
    pub fn code(self) -> u32 {
        match self {
            ReleaseNameReply::Released => 1,
            ReleaseNameReply::NonExistent => 2,
            ReleaseNameReply::NotOwner => 3,
        }
    }

    /// The reply of a wire value, if known.
    pub fn from_code(code: u32) -> Option<ReleaseNameReply> {
        Some(match code {
            1 => ReleaseNameReply::Released,
            2 => ReleaseNameReply::NonExistent,
            3 => ReleaseNameReply::NotOwner,
            _ => return None,
        })
    }
}

/// The D-Bus error names the bus replies with.
pub mod errors {
    /// The named connection or name does not exist.
    pub const NAME_HAS_NO_OWNER: &str = "org.freedesktop.DBus.Error.NameHasNoOwner";
    /// A match rule could not be parsed or is not supported.
    pub const MATCH_RULE_INVALID: &str = "org.freedesktop.DBus.Error.MatchRuleInvalid";
    /// RemoveMatch of a rule that was never added.
    pub const MATCH_RULE_NOT_FOUND: &str = "org.freedesktop.DBus.Error.MatchRuleNotFound";
    /// A per-connection limit (names, match rules, filter size) is reached.
    pub const LIMITS_EXCEEDED: &str = "org.freedesktop.DBus.Error.LimitsExceeded";
    /// The policy refuses the connection or the call.
    pub const ACCESS_DENIED: &str = "org.freedesktop.DBus.Error.AccessDenied";
    /// Wrong arguments (an invalid name, a name the caller may not own).
    pub const INVALID_ARGS: &str = "org.freedesktop.DBus.Error.InvalidArgs";
    /// The daemon has no such method.
    pub const UNKNOWN_METHOD: &str = "org.freedesktop.DBus.Error.UnknownMethod";
    /// No reply came in time (reported by the client library).
    pub const NO_REPLY: &str = "org.freedesktop.DBus.Error.NoReply";
    /// A method was called before Hello.
    pub const NOT_REGISTERED: &str = "org.freedesktop.DBus.Error.AccessDenied";
    /// Generic failure.
    pub const FAILED: &str = "org.freedesktop.DBus.Error.Failed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_round_trip_and_reject_other_spellings() {
        for id in [0u64, 1, 9, 10, u64::MAX] {
            assert_eq!(unique_name_id(&unique_name(id)), Some(id));
        }
        for bad in [":1.", ":1.-1", ":1.+1", ":1.01", ":2.1", "1.1", ":1.1a", ":1.18446744073709551616"] {
            assert_eq!(unique_name_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn reply_codes_round_trip() {
        for r in [RequestNameReply::PrimaryOwner, RequestNameReply::InQueue, RequestNameReply::Exists, RequestNameReply::AlreadyOwner] {
            assert_eq!(RequestNameReply::from_code(r.code()), Some(r));
        }
        for r in [ReleaseNameReply::Released, ReleaseNameReply::NonExistent, ReleaseNameReply::NotOwner] {
            assert_eq!(ReleaseNameReply::from_code(r.code()), Some(r));
        }
        assert_eq!(RequestNameReply::from_code(0), None);
        assert_eq!(ReleaseNameReply::from_code(4), None);
    }
}
