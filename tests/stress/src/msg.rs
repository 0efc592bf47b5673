//! The stress messages.
//!
//! Every message names its sender and sequence number, carries the logical
//! clock value its sender took just before calling send (see [`Clock`]), and
//! a checksum over everything else, so a receiver can tell a torn, truncated
//! or foreign message from a real one.
//!
//! Layout (native byte order):
//! ```text
//! 0  magic  u32      4  group u8   5  kind u8   6  sender u16
//! 8  seq    u32     12  len  u16  14  reserved u16
//! 16 stamp  u64     24  checksum u32 (FNV-1a of bytes 0..24 and 28..len)
//! 28 payload: byte i is a function of (sender, seq, i)
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

pub const MAGIC: u32 = 0x4d43_5354;
pub const HEADER: usize = 28;
pub const MAX_LEN: usize = 1024;

/// What a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Traffic: counted by every check.
    Data = 0,
    /// The last message of a run (see `dgram`/`seq`): readers stop there.
    Sentinel = 1,
    /// Unicast from a seqpacket owner to a client: "you are admitted".
    Admitted = 2,
    /// Unicast from a seqpacket client to the owner, before admission: the
    /// flags it asks for and how it wants to end (see `seq`).
    Request = 3,
}

/// A decoded message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub group: u8,
    pub kind: Kind,
    pub sender: u16,
    pub seq: u32,
    pub stamp: u64,
    /// For a Request: the requested flags; for others 0.
    pub arg: u16,
}

fn fnv(h: &mut u32, bytes: &[u8]) {
    for &b in bytes {
        *h ^= b as u32;
        *h = h.wrapping_mul(0x0100_0193);
    }
}

fn payload_byte(sender: u16, seq: u32, i: usize) -> u8 {
    (sender as u32).wrapping_mul(31).wrapping_add(seq.wrapping_mul(7)).wrapping_add(i as u32 * 13) as u8
}

/// Builds a message of `len` bytes (at least [`HEADER`]).
pub fn encode(h: &Header, len: usize) -> Vec<u8> {
    let len = len.clamp(HEADER, MAX_LEN);
    let mut m = vec![0u8; len];
    m[0..4].copy_from_slice(&MAGIC.to_ne_bytes());
    m[4] = h.group;
    m[5] = h.kind as u8;
    m[6..8].copy_from_slice(&h.sender.to_ne_bytes());
    m[8..12].copy_from_slice(&h.seq.to_ne_bytes());
    m[12..14].copy_from_slice(&(len as u16).to_ne_bytes());
    m[14..16].copy_from_slice(&h.arg.to_ne_bytes());
    m[16..24].copy_from_slice(&h.stamp.to_ne_bytes());
    for (i, b) in m[HEADER..].iter_mut().enumerate() {
        *b = payload_byte(h.sender, h.seq, i);
    }
    let sum = checksum(&m);
    m[24..28].copy_from_slice(&sum.to_ne_bytes());
    m
}

/// Sets the stamp of an encoded message (and its checksum) in place.
pub fn restamp(m: &mut [u8], stamp: u64) {
    m[16..24].copy_from_slice(&stamp.to_ne_bytes());
    let sum = checksum(m);
    m[24..28].copy_from_slice(&sum.to_ne_bytes());
}

fn checksum(m: &[u8]) -> u32 {
    let mut h = 0x811c_9dc5;
    fnv(&mut h, &m[..24]);
    fnv(&mut h, &m[HEADER..]);
    h
}

/// Decodes and verifies a received message; the error says what is wrong.
pub fn decode(m: &[u8]) -> Result<Header, String> {
    if m.len() < HEADER {
        return Err(format!("{} bytes, shorter than the header", m.len()));
    }
    let u16_at = |at: usize| u16::from_ne_bytes([m[at], m[at + 1]]);
    let u32_at = |at: usize| u32::from_ne_bytes([m[at], m[at + 1], m[at + 2], m[at + 3]]);
    if u32_at(0) != MAGIC {
        return Err(format!("bad magic {:#x}", u32_at(0)));
    }
    let len = u16_at(12) as usize;
    if len != m.len() {
        return Err(format!("length field {len}, received {}", m.len()));
    }
    if checksum(m) != u32_at(24) {
        return Err("checksum mismatch".into());
    }
    let (sender, seq) = (u16_at(6), u32_at(8));
    if let Some(i) = m[HEADER..].iter().enumerate().position(|(i, &b)| b != payload_byte(sender, seq, i)) {
        return Err(format!("payload byte {i} wrong"));
    }
    let kind = match m[5] {
        0 => Kind::Data,
        1 => Kind::Sentinel,
        2 => Kind::Admitted,
        3 => Kind::Request,
        k => return Err(format!("unknown kind {k}")),
    };
    let mut stamp = [0u8; 8];
    stamp.copy_from_slice(&m[16..24]);
    Ok(Header { group: m[4], kind, sender, seq, stamp: u64::from_ne_bytes(stamp), arg: u16_at(14) })
}

/// The logical clock that orders "a send started" against "a leave
/// returned" across threads: both take a ticket with one SeqCst
/// fetch_add, so if the leaver's ticket is L, a sender whose ticket is above
/// L took it after the leave returned, and so called send after it.
pub struct Clock(AtomicU64);

impl Clock {
    pub const fn new() -> Clock {
        Clock(AtomicU64::new(1))
    }

    pub fn tick(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

pub static CLOCK: Clock = Clock::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let h = Header { group: 1, kind: Kind::Data, sender: 7, seq: 12345, stamp: 99, arg: 0 };
        for len in [HEADER, 29, 200, MAX_LEN] {
            let m = encode(&h, len);
            assert_eq!(m.len(), len);
            assert_eq!(decode(&m), Ok(h));
            for at in [0, 6, 9, 17, 25, len - 1] {
                let mut bad = m.clone();
                bad[at] ^= 0x40;
                assert!(decode(&bad).is_err(), "flip at {at} of {len}");
            }
            if len > HEADER {
                assert!(decode(&m[..len - 1]).is_err());
            }
            let mut r = m.clone();
            restamp(&mut r, 12);
            assert_eq!(decode(&r), Ok(Header { stamp: 12, ..h }));
        }
    }
}
