//! The routing header in front of every bus message.
//!
//! Every message on the bus is one seqpacket record: this fixed 40-byte
//! header, then a complete D-Bus message in the D-Bus wire format. The
//! header repeats, as 32-bit hashes, the D-Bus header fields that decide
//! who receives the message, at fixed offsets, so that the classic BPF peer
//! filters the daemon installs can route on them (a D-Bus header's fields
//! have no fixed place). Every multi-byte field is **big-endian** (network
//! order), the order in which classic BPF loads read message bytes, so a
//! filter compares a load with the hash as is.
//!
//! | offset | size | field | value |
//! |-------:|-----:|-------|-------|
//! | 0  | 4 | magic | [`MAGIC`] (`"mbus"`) |
//! | 4  | 1 | version | [`VERSION`] |
//! | 5  | 1 | type | the D-Bus message type: 1 method call, 2 method return, 3 error, 4 signal |
//! | 6  | 1 | flags | [`FLAG_DESTINATION`] if the message has a destination; other bits 0 |
//! | 7  | 1 | reserved | 0 |
//! | 8  | 4 | destination | [`name_hash`] of the DESTINATION field, 0 if none |
//! | 12 | 4 | sender | hash of the SENDER field, 0 if none |
//! | 16 | 4 | interface | hash of the INTERFACE field, 0 if none |
//! | 20 | 4 | member | hash of the MEMBER field, 0 if none |
//! | 24 | 4 | path | hash of the PATH field, 0 if none |
//! | 28 | 4 | body offset | where the D-Bus message starts: [`LEN`] |
//! | 32 | 4 | body length | the D-Bus message's length in bytes |
//! | 36 | 4 | reserved | 0 (so the D-Bus message starts 8-byte aligned) |
//!
//! The hashes only route: a receiver using this library checks the full
//! D-Bus header (see [`BusMessage`](crate::bus::BusMessage)), so for it a
//! collision costs a wake-up. Against receivers that read their socket raw,
//! the daemon keeps the hashes of live names unique (Documentation/bus.md,
//! "Filters").

use std::fmt;

/// Header length in bytes (and the body offset of every message sent).
pub const LEN: usize = 40;
/// The first four bytes: `"mbus"` read big-endian.
pub const MAGIC: u32 = u32::from_be_bytes(*b"mbus");
/// The header version this library writes and accepts.
pub const VERSION: u8 = 1;
/// Flag bit: the message has a destination (unicast).
pub const FLAG_DESTINATION: u8 = 1 << 0;

/// Offset of the type byte.
pub const OFF_TYPE: u32 = 5;
/// Offset of the destination hash.
pub const OFF_DESTINATION: u32 = 8;
/// Offset of the sender hash.
pub const OFF_SENDER: u32 = 12;
/// Offset of the interface hash.
pub const OFF_INTERFACE: u32 = 16;
/// Offset of the member hash.
pub const OFF_MEMBER: u32 = 20;
/// Offset of the path hash.
pub const OFF_PATH: u32 = 24;

/// The routing hash of a bus name, interface, member or path: FNV-1a
/// 32-bit ([`fnv1a32`](crate::fnv1a32)) of its UTF-8 bytes, except that a
/// result of 0 becomes 1, since 0 stands for "no such field".
///
/// ```
/// use mcast_unix::bus::name_hash;
/// assert_eq!(name_hash(""), 0x811c_9dc5, "FNV-1a's offset basis");
/// assert_eq!(name_hash("org.freedesktop.DBus"), mcast_unix::fnv1a32(b"org.freedesktop.DBus"));
/// ```
pub const fn name_hash(name: &str) -> u32 {
    match crate::filter::fnv1a32(name.as_bytes()) {
        0 => 1,
        h => h,
    }
}

/// The hash of an optional field: 0 if absent.
pub fn opt_hash(name: Option<&str>) -> u32 {
    name.map_or(0, name_hash)
}

/// A decoded routing header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RoutingHeader {
    /// The D-Bus message type code (1 to 4).
    pub msg_type: u8,
    /// [`FLAG_DESTINATION`] or 0.
    pub flags: u8,
    /// Hash of the destination (0: none, a broadcast signal).
    pub destination: u32,
    /// Hash of the sender.
    pub sender: u32,
    /// Hash of the interface.
    pub interface: u32,
    /// Hash of the member.
    pub member: u32,
    /// Hash of the object path.
    pub path: u32,
    /// Length of the D-Bus message that follows the header.
    pub body_len: u32,
}

/// Why bytes are not a valid routing header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than [`LEN`] bytes.
    Short,
    /// Not [`MAGIC`].
    Magic,
    /// Another header version.
    Version(u8),
    /// Unknown flag bits or non-zero reserved fields.
    Reserved,
    /// The body offset is not [`LEN`], or the body does not fit the message.
    Body,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Short => write!(f, "shorter than the {LEN}-byte routing header"),
            HeaderError::Magic => write!(f, "not a bus message (bad magic)"),
            HeaderError::Version(v) => write!(f, "routing header version {v}, expected {VERSION}"),
            HeaderError::Reserved => write!(f, "unknown flags or non-zero reserved fields"),
            HeaderError::Body => write!(f, "body offset or length out of the message"),
        }
    }
}

impl std::error::Error for HeaderError {}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl RoutingHeader {
    /// The 40 header bytes.
    ///
    /// ```
    /// use mcast_unix::bus::{header, RoutingHeader};
    /// let h = RoutingHeader { msg_type: 4, sender: 7, body_len: 16, ..Default::default() };
    /// let bytes = h.encode();
    /// assert_eq!(&bytes[..4], b"mbus");
    /// assert_eq!(&bytes[12..16], &7u32.to_be_bytes());
    /// let mut msg = bytes.to_vec();
    /// msg.extend_from_slice(&[0; 16]);
    /// assert_eq!(RoutingHeader::decode(&msg), Ok(h));
    /// ```
    pub fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        b[4] = VERSION;
        b[5] = self.msg_type;
        b[6] = self.flags;
        for (off, v) in [
            (8, self.destination),
            (12, self.sender),
            (16, self.interface),
            (20, self.member),
            (24, self.path),
            (28, LEN as u32),
            (32, self.body_len),
        ] {
            b[off..off + 4].copy_from_slice(&v.to_be_bytes());
        }
        b
    }

    /// Decodes the header at the start of `msg` (a whole received message):
    /// checks the magic, version, reserved bits and that the body lies
    /// within `msg`.
    pub fn decode(msg: &[u8]) -> Result<RoutingHeader, HeaderError> {
        if msg.len() < LEN {
            return Err(HeaderError::Short);
        }
        if be32(msg, 0) != MAGIC {
            return Err(HeaderError::Magic);
        }
        if msg[4] != VERSION {
            return Err(HeaderError::Version(msg[4]));
        }
        if msg[6] & !FLAG_DESTINATION != 0 || msg[7] != 0 || be32(msg, 36) != 0 {
            return Err(HeaderError::Reserved);
        }
        let body_len = be32(msg, 32);
        if be32(msg, 28) as usize != LEN || (body_len as usize) > msg.len() - LEN {
            return Err(HeaderError::Body);
        }
        Ok(RoutingHeader {
            msg_type: msg[5],
            flags: msg[6],
            destination: be32(msg, 8),
            sender: be32(msg, 12),
            interface: be32(msg, 16),
            member: be32(msg, 20),
            path: be32(msg, 24),
            body_len,
        })
    }

    /// The header that belongs to a D-Bus message with these fields.
    pub fn for_fields(
        msg_type: u8,
        destination: Option<&str>,
        sender: Option<&str>,
        interface: Option<&str>,
        member: Option<&str>,
        path: Option<&str>,
        body_len: u32,
    ) -> RoutingHeader {
        RoutingHeader {
            msg_type,
            flags: if destination.is_some() { FLAG_DESTINATION } else { 0 },
            destination: opt_hash(destination),
            sender: opt_hash(sender),
            interface: opt_hash(interface),
            member: opt_hash(member),
            path: opt_hash(path),
            body_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_fixed_and_big_endian() {
        let h = RoutingHeader {
            msg_type: 1,
            flags: FLAG_DESTINATION,
            destination: 0x0102_0304,
            sender: 0x0506_0708,
            interface: 0x090a_0b0c,
            member: 0x0d0e_0f10,
            path: 0x1112_1314,
            body_len: 0,
        };
        let b = h.encode();
        assert_eq!(&b[..8], &[b'm', b'b', b'u', b's', 1, 1, 1, 0]);
        assert_eq!(&b[8..28], &(1u8..=20).collect::<Vec<_>>()[..]);
        assert_eq!(&b[28..32], &40u32.to_be_bytes());
        assert_eq!(&b[32..40], &[0; 8]);
        assert_eq!(OFF_DESTINATION, 8);
        assert_eq!(OFF_PATH as usize + 4, 28);
    }

    #[test]
    fn decode_refuses_what_is_not_a_header() {
        let good = RoutingHeader { msg_type: 4, body_len: 3, ..Default::default() };
        let mut msg = good.encode().to_vec();
        msg.extend_from_slice(b"abc");
        assert_eq!(RoutingHeader::decode(&msg), Ok(good));
        assert_eq!(RoutingHeader::decode(&msg[..39]), Err(HeaderError::Short));
        assert_eq!(RoutingHeader::decode(&msg[..42]), Err(HeaderError::Body), "body longer than the message");
        let mut bad = msg.clone();
        bad[0] = b'M';
        assert_eq!(RoutingHeader::decode(&bad), Err(HeaderError::Magic));
        let mut bad = msg.clone();
        bad[4] = 2;
        assert_eq!(RoutingHeader::decode(&bad), Err(HeaderError::Version(2)));
        let mut bad = msg.clone();
        bad[6] = 2;
        assert_eq!(RoutingHeader::decode(&bad), Err(HeaderError::Reserved));
        let mut bad = msg.clone();
        bad[39] = 1;
        assert_eq!(RoutingHeader::decode(&bad), Err(HeaderError::Reserved));
        let mut bad = msg;
        bad[31] = 48;
        assert_eq!(RoutingHeader::decode(&bad), Err(HeaderError::Body));
    }

    #[test]
    fn hashes_are_fnv1a_and_never_zero() {
        // Published FNV-1a 32 test vectors.
        assert_eq!(name_hash("a"), 0xe40c_292c);
        assert_eq!(name_hash("foobar"), 0xbf9c_f968);
        assert_eq!(opt_hash(None), 0);
        assert_ne!(opt_hash(Some("")), 0);
        let h = RoutingHeader::for_fields(4, None, Some(":1.5"), Some("a.b"), Some("M"), Some("/"), 9);
        assert_eq!(h.flags, 0);
        assert_eq!(h.destination, 0);
        assert_eq!(h.sender, name_hash(":1.5"));
        let h = RoutingHeader::for_fields(1, Some("x.y"), None, None, None, None, 0);
        assert_eq!((h.flags, h.destination), (FLAG_DESTINATION, name_hash("x.y")));
    }
}
