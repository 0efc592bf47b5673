//! [`BusMessage`]: one bus record, the [routing header](super::header)
//! and the D-Bus message it routes, encoded and decoded.
//!
//! The D-Bus message is built and parsed by zbus ([`zbus::Message`]), in
//! the D-Bus wire format; descriptors it carries (`UNIX_FD`, signature
//! `h`) travel as `SCM_RIGHTS` ancillary data of the record, in the order
//! of their indexes.

use super::header::{HeaderError, RoutingHeader, LEN};
use std::fmt;
use std::num::NonZeroU32;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use zbus::message::Type;
use zbus::wire::serialized::{Context, Data};
use zbus::wire::Endian;

/// The D-Bus type code of a zbus message type.
pub fn type_code(t: Type) -> u8 {
    match t {
        Type::MethodCall => 1,
        Type::MethodReturn => 2,
        Type::Error => 3,
        Type::Signal => 4,
    }
}

/// The serial that follows `serial` in a numbering that skips 0 (no
/// D-Bus message has serial 0): 1 after 0 and after `u32::MAX`.
///
/// ```
/// use mcast_unix::bus::next_serial;
/// assert_eq!(next_serial(0).get(), 1);
/// assert_eq!(next_serial(41).get(), 42);
/// assert_eq!(next_serial(u32::MAX).get(), 1);
/// ```
pub fn next_serial(serial: u32) -> NonZeroU32 {
    NonZeroU32::new(serial.wrapping_add(1)).unwrap_or(NonZeroU32::MIN)
}

/// Where a record holds its D-Bus message's serial: after the routing
/// header, the D-Bus primary header's endianness mark, type, flags,
/// version and body length.
const SERIAL_AT: usize = LEN + 8;

/// Why a received record is not a bus message this library accepts.
#[derive(Debug)]
pub enum DecodeError {
    /// The routing header is malformed.
    Header(HeaderError),
    /// The D-Bus message does not parse.
    Dbus(zbus::Error),
    /// The routing header does not describe the D-Bus message that
    /// follows it (a forged or corrupted header).
    Mismatch,
    /// More descriptors came than the message declares, or fewer.
    Fds {
        /// `UNIX_FDS` of the D-Bus header.
        declared: u32,
        /// Descriptors received.
        received: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Header(e) => write!(f, "routing header: {e}"),
            DecodeError::Dbus(e) => write!(f, "D-Bus message: {e}"),
            DecodeError::Mismatch => write!(f, "the routing header does not match the D-Bus header"),
            DecodeError::Fds { declared, received } => {
                write!(f, "{received} descriptors received, the message declares {declared}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// A bus message: the D-Bus message, its routing header and, once
/// received, the kernel-stamped id of the socket that sent it.
///
/// ```
/// use mcast_unix::bus::BusMessage;
///
/// let call = zbus::Message::method_call("/org/example/Echo", "Ping")
///     .destination("org.example.Echo")
///     .interface("org.example.Echo")
///     .sender(":1.7")
///     .build(&("hello",))
///     .unwrap();
/// let bytes = BusMessage::encode(&call).unwrap();
/// let back = BusMessage::decode(&bytes, Vec::new(), Some(7)).unwrap();
/// assert_eq!(back.member(), Some("Ping"));
/// assert_eq!(back.destination(), Some("org.example.Echo"));
/// let (text,): (String,) = back.body().unwrap();
/// assert_eq!(text, "hello");
/// ```
#[derive(Clone, Debug)]
pub struct BusMessage {
    header: RoutingHeader,
    msg: zbus::Message,
    sender_id: Option<u64>,
    fields: Fields,
}

/// The header fields a receiver looks at, copied once.
#[derive(Clone, Debug, Default)]
struct Fields {
    sender: Option<String>,
    destination: Option<String>,
    path: Option<String>,
    interface: Option<String>,
    member: Option<String>,
    error_name: Option<String>,
}

impl Fields {
    fn of(msg: &zbus::Message) -> Fields {
        let h = msg.header();
        Fields {
            sender: h.sender().map(|s| s.as_str().to_owned()),
            destination: h.destination().map(|s| s.as_str().to_owned()),
            path: h.path().map(|s| s.as_str().to_owned()),
            interface: h.interface().map(|s| s.as_str().to_owned()),
            member: h.member().map(|s| s.as_str().to_owned()),
            error_name: h.error_name().map(|s| s.as_str().to_owned()),
        }
    }
}

impl BusMessage {
    /// The routing header that belongs to `msg`.
    pub fn header_of(msg: &zbus::Message) -> RoutingHeader {
        let h = msg.header();
        RoutingHeader::for_fields(
            type_code(h.message_type()),
            h.destination().map(|d| d.as_str()),
            h.sender().map(|s| s.as_str()),
            h.interface().map(|i| i.as_str()),
            h.member().map(|m| m.as_str()),
            h.path().map(|p| p.as_str()),
            msg.data().bytes().len() as u32,
        )
    }

    /// The record to send for `msg`: routing header, then the D-Bus
    /// message's bytes. Its descriptors are [`fds_of`](BusMessage::fds_of).
    /// `InvalidInput` if the D-Bus message is larger than a 32-bit length.
    pub fn encode(msg: &zbus::Message) -> std::io::Result<Vec<u8>> {
        let bytes = msg.data().bytes();
        if u32::try_from(bytes.len()).is_err() {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "message too large"));
        }
        let mut out = Vec::with_capacity(LEN + bytes.len());
        out.extend_from_slice(&BusMessage::header_of(msg).encode());
        out.extend_from_slice(bytes);
        Ok(out)
    }

    /// Rewrites the serial of the D-Bus message in the encoded `record`
    /// (the daemon numbers what it sends on each connection: see
    /// [`Bus`](crate::bus::Bus)). The routing header does not cover the
    /// serial, so the record stays valid. `false`, and the record is left
    /// as it is, if it is too short or its D-Bus message has no valid
    /// endianness mark.
    ///
    /// ```
    /// use mcast_unix::bus::BusMessage;
    /// use std::num::NonZeroU32;
    ///
    /// let m = zbus::Message::signal("/", "a.b", "M").sender(":1.1").build(&()).unwrap();
    /// let mut rec = BusMessage::encode(&m).unwrap();
    /// assert!(BusMessage::set_record_serial(&mut rec, NonZeroU32::new(7).unwrap()));
    /// assert_eq!(BusMessage::decode(&rec, Vec::new(), None).unwrap().serial(), 7);
    /// ```
    pub fn set_record_serial(record: &mut [u8], serial: NonZeroU32) -> bool {
        if record.len() < SERIAL_AT + 4 {
            return false;
        }
        let bytes = match record[LEN] {
            b'l' => serial.get().to_le_bytes(),
            b'B' => serial.get().to_be_bytes(),
            _ => return false,
        };
        record[SERIAL_AT..SERIAL_AT + 4].copy_from_slice(&bytes);
        true
    }

    /// The descriptors `msg` carries, to pass with its record.
    pub fn fds_of(msg: &zbus::Message) -> Vec<BorrowedFd<'_>> {
        msg.data().fds().iter().map(|f| f.as_fd()).collect()
    }

    /// Decodes a received record (`fds`: the descriptors that came with
    /// it) and checks that the routing header is the one the D-Bus message
    /// has: a record whose hashes were forged or collide with other names
    /// still has to carry a D-Bus header whose fields hash to them, so what
    /// a receiver reads is always what the D-Bus header says.
    pub fn decode(record: &[u8], fds: Vec<OwnedFd>, sender_id: Option<u64>) -> Result<BusMessage, DecodeError> {
        let header = RoutingHeader::decode(record).map_err(DecodeError::Header)?;
        let body = &record[LEN..LEN + header.body_len as usize];
        let endian = match body.first() {
            Some(b'l') => Endian::Little,
            Some(b'B') => Endian::Big,
            _ => return Err(DecodeError::Dbus(zbus::Error::IncorrectEndian)),
        };
        // zbus checks the header; the body's length is checked here: the
        // record must hold exactly the header, its padding and BODY_LENGTH
        // bytes (a cut body would otherwise parse).
        if body.len() < 16 {
            return Err(DecodeError::Dbus(zbus::Error::InvalidField));
        }
        let word = |off: usize| {
            let w = [body[off], body[off + 1], body[off + 2], body[off + 3]];
            match endian {
                Endian::Little => u32::from_le_bytes(w),
                Endian::Big => u32::from_be_bytes(w),
            }
        };
        let (body_len, fields_len) = (word(4) as usize, word(12) as usize);
        let expected = (16usize + fields_len).div_ceil(8) * 8 + body_len;
        if expected != body.len() {
            return Err(DecodeError::Dbus(zbus::Error::InvalidField));
        }
        let received = fds.len();
        let data = Data::new_fds(body.to_vec(), Context::new(endian, 0), fds);
        // SAFETY: from_bytes parses and checks the whole header and the
        // body's framing before building the message (its "unsafe" is for
        // bytes that were not checked; these are checked here and by the
        // parser, and the body is only read through zbus's checked
        // deserializer).
        let msg = unsafe { zbus::Message::from_bytes(data) }.map_err(DecodeError::Dbus)?;
        let declared = msg.header().unix_fds().unwrap_or(0);
        if declared as usize != received {
            return Err(DecodeError::Fds { declared, received });
        }
        if BusMessage::header_of(&msg) != header {
            return Err(DecodeError::Mismatch);
        }
        Ok(BusMessage { header, fields: Fields::of(&msg), msg, sender_id })
    }

    /// A message built here (not received): no sender id.
    pub fn from_message(msg: zbus::Message) -> BusMessage {
        BusMessage { header: BusMessage::header_of(&msg), fields: Fields::of(&msg), msg, sender_id: None }
    }

    /// The routing header.
    pub fn routing(&self) -> &RoutingHeader {
        &self.header
    }

    /// The D-Bus message.
    pub fn message(&self) -> &zbus::Message {
        &self.msg
    }

    /// The id of the socket that sent it, as the kernel stamped it.
    pub fn sender_id(&self) -> Option<u64> {
        self.sender_id
    }

    /// The message type.
    pub fn msg_type(&self) -> Type {
        self.msg.message_type()
    }

    /// The SENDER field.
    pub fn sender(&self) -> Option<&str> {
        self.fields.sender.as_deref()
    }

    /// The DESTINATION field.
    pub fn destination(&self) -> Option<&str> {
        self.fields.destination.as_deref()
    }

    /// The PATH field.
    pub fn path(&self) -> Option<&str> {
        self.fields.path.as_deref()
    }

    /// The INTERFACE field.
    pub fn interface(&self) -> Option<&str> {
        self.fields.interface.as_deref()
    }

    /// The MEMBER field.
    pub fn member(&self) -> Option<&str> {
        self.fields.member.as_deref()
    }

    /// The ERROR_NAME field (error replies).
    pub fn error_name(&self) -> Option<&str> {
        self.fields.error_name.as_deref()
    }

    /// The message's serial.
    pub fn serial(&self) -> u32 {
        self.msg.primary_header().serial_num().get()
    }

    /// The REPLY_SERIAL field (replies and errors).
    pub fn reply_serial(&self) -> Option<u32> {
        self.msg.header().reply_serial().map(|s| s.get())
    }

    /// The body's D-Bus signature, as text.
    pub fn signature(&self) -> String {
        self.msg.body().signature().to_string_no_parens()
    }

    /// The body, deserialized (`(T1, T2, ...)` for several arguments).
    pub fn body<T>(&self) -> zbus::Result<T>
    where
        T: for<'d> zbus::wire::DynamicDeserialize<'d>,
    {
        let body = self.msg.body();
        let value = body.deserialize()?;
        Ok(value)
    }

    /// The first argument, if it is a string (match rules' `arg0`, error
    /// messages).
    pub fn arg0_str(&self) -> Option<String> {
        let sig = self.signature();
        if sig.starts_with('s') || sig.starts_with('o') {
            let body = self.msg.body();
            let (s, _): (String, usize) = body.data().deserialize_for_signature("s").ok()?;
            return Some(s);
        }
        None
    }

    /// Copies of the descriptors the message carries (`UNIX_FD`), in
    /// index order.
    pub fn fds(&self) -> std::io::Result<Vec<OwnedFd>> {
        self.msg.data().fds().iter().map(|f| f.as_fd().try_clone_to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::header::{name_hash, OFF_DESTINATION};

    fn call() -> zbus::Message {
        zbus::Message::method_call("/o", "Echo")
            .destination("org.example.Echo")
            .interface("org.example.Echo")
            .sender(":1.3")
            .build(&("text", 7u32))
            .unwrap()
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let m = call();
        let rec = BusMessage::encode(&m).unwrap();
        assert_eq!(rec.len(), LEN + m.data().bytes().len());
        let b = BusMessage::decode(&rec, Vec::new(), Some(3)).unwrap();
        assert_eq!(b.msg_type(), Type::MethodCall);
        assert_eq!(
            (b.sender(), b.destination(), b.path(), b.interface(), b.member()),
            (Some(":1.3"), Some("org.example.Echo"), Some("/o"), Some("org.example.Echo"), Some("Echo"))
        );
        assert_eq!(b.serial(), m.primary_header().serial_num().get());
        assert_eq!(b.sender_id(), Some(3));
        assert_eq!(b.signature(), "su");
        assert_eq!(b.arg0_str().as_deref(), Some("text"));
        assert_eq!(b.body::<(String, u32)>().unwrap(), ("text".to_string(), 7));
        assert_eq!(b.routing().destination, name_hash("org.example.Echo"));
    }

    #[test]
    fn a_header_that_lies_is_refused() {
        let mut rec = BusMessage::encode(&call()).unwrap();
        // Claim another destination in the routing header only.
        let off = OFF_DESTINATION as usize;
        rec[off..off + 4].copy_from_slice(&name_hash("org.example.Other").to_be_bytes());
        assert!(matches!(BusMessage::decode(&rec, Vec::new(), None), Err(DecodeError::Mismatch)));
    }

    #[test]
    fn descriptors_must_be_the_declared_ones() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let m = zbus::Message::signal("/o", "a.b", "Fd").sender(":1.1").build(&(zbus::Fd::from(&file),)).unwrap();
        let rec = BusMessage::encode(&m).unwrap();
        assert_eq!(BusMessage::fds_of(&m).len(), 1);
        // Missing descriptors (zbus finds them missing), or too many.
        assert!(BusMessage::decode(&rec, Vec::new(), None).is_err());
        let two = vec![file.as_fd().try_clone_to_owned().unwrap(), file.as_fd().try_clone_to_owned().unwrap()];
        let r = BusMessage::decode(&rec, two, None);
        assert!(matches!(r, Err(DecodeError::Fds { declared: 1, received: 2 })), "{r:?}");
        let dup = file.as_fd().try_clone_to_owned().unwrap();
        let b = BusMessage::decode(&rec, vec![dup], None).unwrap();
        assert_eq!(b.fds().unwrap().len(), 1);
        let body = b.message().body();
        let (fd,): (zbus::Fd<'_>,) = body.deserialize().unwrap();
        assert!(fd.as_fd().try_clone_to_owned().is_ok());
    }

    #[test]
    fn the_serial_is_rewritten_in_either_byte_order() {
        for endian in [Endian::Little, Endian::Big] {
            let m = zbus::Message::signal("/o", "a.b", "M").sender(":1.2").endian(endian).build(&("x", 5u32)).unwrap();
            let mut rec = BusMessage::encode(&m).unwrap();
            for serial in [1, 0x0102_0304, u32::MAX] {
                assert!(BusMessage::set_record_serial(&mut rec, NonZeroU32::new(serial).unwrap()));
                let b = BusMessage::decode(&rec, Vec::new(), None).unwrap();
                assert_eq!(b.serial(), serial, "{endian:?}");
                assert_eq!(b.body::<(String, u32)>().unwrap(), ("x".to_string(), 5));
            }
        }
        let mut short = vec![0u8; LEN + 11];
        assert!(!BusMessage::set_record_serial(&mut short, NonZeroU32::MIN));
        let mut bad = BusMessage::encode(&call()).unwrap();
        bad[LEN] = b'x';
        let before = bad.clone();
        assert!(!BusMessage::set_record_serial(&mut bad, NonZeroU32::MIN));
        assert_eq!(bad, before);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let rec = BusMessage::encode(&call()).unwrap();
        // Every truncation, and every single-byte corruption of the D-Bus part.
        for n in 0..rec.len() {
            let mut cut = rec[..n].to_vec();
            if n >= LEN {
                let body = (n - LEN) as u32;
                cut[32..36].copy_from_slice(&body.to_be_bytes());
            }
            let r = BusMessage::decode(&cut, Vec::new(), None);
            assert!(r.is_err(), "cut at {n} of {}: {:?}", rec.len(), r.map(|m| m.message().data().bytes().to_vec()));
        }
        for i in LEN..rec.len() {
            for v in [0u8, 0xff, b'l', b'B', 1] {
                let mut bad = rec.clone();
                bad[i] = v;
                let _ = BusMessage::decode(&bad, Vec::new(), None);
            }
        }
    }
}
