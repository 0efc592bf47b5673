//! A datagram group whose three members read through receive rings
//! ([`RxRing`]) instead of recv calls, and one sender.
//!
//! - `a`: 64 frames of 512 bytes, blocking membership, with sender ids and
//!   credentials: every message, whole, from the right sender;
//! - `b`: 4 frames of 256 bytes, blocking: the sender waits for it whenever
//!   its 4 frames are full (and is woken as `b` gives frames back); the
//!   first message, 300 bytes, is truncated to the 96 bytes a frame holds;
//! - `c`: 8 frames of 256 bytes, `DROP_WHEN_FULL`, and a slow reader: what
//!   did not fit is dropped and counted in the frames' drop counter.
//!
//! Each member's thread takes every frame its ring has ready, then sleeps
//! in poll until the next one is filled. The sender sends `COUNT` messages
//! (`[seq u32][kind u32]`, then filler) and an END to the group, then an
//! END to `c` alone (a unicast, not dropped), since `c` may have lost the
//! group's. At the end, per member: messages received, gaps in the
//! sequence, drops, truncated frames and times giving frames back woke the
//! sender. Exits non-zero unless `a` and `b` got every message in order,
//! `c` got in order what it did not drop (received + dropped = sent), and
//! the sender id, credentials, address and truncation are as sent.
//!
//! Needs the module loaded: `ring-demo [COUNT [FAMILY]]` (default 2000
//! messages; the family defaults to the one the module reports).

use mcast_unix::{Addr, Frame, McastDatagram, MembershipFlags, RxRing};
use std::io;
use std::thread;
use std::time::{Duration, Instant};

const DATA: u32 = 0;
const END: u32 = 1;
/// Bytes of every message but the first.
const SIZE: usize = 64;
/// Bytes of the first message (more than a 256-byte frame holds).
const FIRST: usize = 300;

fn message(seq: u32, kind: u32, len: usize) -> Vec<u8> {
    let mut m = vec![(seq % 251) as u8; len];
    m[..4].copy_from_slice(&seq.to_ne_bytes());
    m[4..8].copy_from_slice(&kind.to_ne_bytes());
    m
}

/// What a member saw.
#[derive(Default, Debug)]
struct Tally {
    received: u64,
    gaps: u64,
    /// Frames that were out of order, of the wrong length or content, or
    /// from someone else.
    bad: u64,
    truncated: u64,
    /// The drop counter of the last frame read.
    drops: u32,
    wakes: u64,
}

struct Member {
    name: &'static str,
    what: &'static str,
    frame_size: u32,
    frame_count: u32,
    flags: MembershipFlags,
    /// Sleep this long every 16 frames (a slow reader).
    slow: Option<Duration>,
}

/// Reads `ring` until an END: the group's (blocking members) or the
/// unicast one (`c`, which may have dropped the group's).
fn read(mut ring: RxRing, m: &Member, sender: (u64, Addr), until_unicast: bool) -> io::Result<Tally> {
    let mut t = Tally::default();
    let mut next = 0u32;
    loop {
        // Every frame ready (a let-else, so that the frame's borrow of the
        // ring ends with it).
        loop {
            let Some(f) = ring.try_next() else { break };
            let end = take(&f, m, &sender, &mut t, &mut next, until_unicast);
            drop(f); // given back
            if end {
                t.wakes = ring.wakes();
                return Ok(t);
            }
            if let Some(d) = m.slow.filter(|_| t.received % 16 == 0) {
                thread::sleep(d);
            }
        }
        if !ring.wait(Some(Duration::from_secs(20)))? {
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{}: no END within 20 s", m.name)));
        }
    }
}

/// Checks and counts one frame; whether it is the END the reader waits for.
fn take(f: &Frame<'_>, m: &Member, sender: &(u64, Addr), t: &mut Tally, next: &mut u32, until_unicast: bool) -> bool {
    let d = f.data();
    t.drops = f.drops();
    if d.len() < 8 {
        t.bad += 1;
        return false;
    }
    let seq = u32::from_ne_bytes(d[..4].try_into().unwrap());
    let kind = u32::from_ne_bytes(d[4..8].try_into().unwrap());
    if f.sender_addr() != sender.1 {
        t.bad += 1;
    }
    let pid = std::process::id() as i32;
    if m.name == "a" && (f.sender_id() != Some(sender.0) || f.creds().map(|c| c.pid) != Some(pid)) {
        t.bad += 1;
    }
    if kind == END && seq == u32::MAX {
        // The unicast END (to c only).
        return true;
    }
    t.received += 1;
    t.truncated += u64::from(f.truncated());
    let want = if seq == 0 { FIRST } else { SIZE };
    let room = m.frame_size as usize - mcast_unix::MCAST_UNIX_FRAME_DATA;
    if f.len() != want || d.len() != want.min(room) || d[8..].iter().any(|&b| b != (seq % 251) as u8) {
        t.bad += 1;
    }
    if seq < *next {
        t.bad += 1;
    } else {
        t.gaps += u64::from(seq - *next);
        *next = seq + 1;
    }
    kind == END && !until_unicast
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: u32 = match args.next() {
        Some(a) => a.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "COUNT: a number"))?,
        None => 2000,
    };
    let family = match args.next() {
        Some(a) => a.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "FAMILY: a number"))?,
        None => mcast_unix::family().map_err(|e| io::Error::new(e.kind(), format!("is the module loaded? {e}")))?,
    };
    let tag = std::process::id();
    let group = Addr::abstract_(format!("ring-demo-{tag}"))?;
    let _owner = McastDatagram::create_group_in(family, &group)?;
    let sender_addr = Addr::abstract_(format!("ring-demo-{tag}-sender"))?;
    let sender = McastDatagram::bind_in(family, &sender_addr)?;
    sender.set_write_timeout(Some(Duration::from_secs(30)))?;

    let members = [
        Member {
            name: "a",
            what: "blocking, ids+creds",
            frame_size: 512,
            frame_count: 64,
            flags: MembershipFlags::empty(),
            slow: None,
        },
        Member {
            name: "b",
            what: "blocking",
            frame_size: 256,
            frame_count: 4,
            flags: MembershipFlags::empty(),
            slow: None,
        },
        Member {
            name: "c",
            what: "DROP_WHEN_FULL, slow",
            frame_size: 256,
            frame_count: 8,
            flags: MembershipFlags::DROP_WHEN_FULL,
            slow: Some(Duration::from_millis(2)),
        },
    ];
    let c_addr = Addr::abstract_(format!("ring-demo-{tag}-c"))?;
    let mut socks = Vec::new();
    let mut rings = Vec::new();
    for m in &members {
        let s =
            if m.name == "c" { McastDatagram::bind_in(family, &c_addr)? } else { McastDatagram::unbound_in(family)? };
        if m.name == "a" {
            s.set_pass_sender_id(true)?;
            s.set_passcred(true)?;
        }
        // The ring first, while nothing is queued; then the membership.
        rings.push(RxRing::new(&s, m.frame_size, m.frame_count)?);
        s.join_group(&group, m.flags)?;
        socks.push(s);
    }
    let id = sender.id()?;
    let t0 = Instant::now();
    let mut sent_at = Duration::ZERO;
    let tallies = thread::scope(|scope| -> io::Result<Vec<io::Result<Tally>>> {
        let readers: Vec<_> = rings
            .into_iter()
            .zip(&members)
            .map(|(ring, m)| {
                let from = (id, sender_addr.clone());
                scope.spawn(move || read(ring, m, from, m.name == "c"))
            })
            .collect();
        for seq in 0..count {
            sender.send_to(&message(seq, DATA, if seq == 0 { FIRST } else { SIZE }), &group)?;
        }
        sender.send_to(&message(count, END, SIZE), &group)?;
        sent_at = t0.elapsed();
        sender.send_to(&message(u32::MAX, END, SIZE), &c_addr)?;
        Ok(readers.into_iter().map(|h| h.join().expect("reader thread")).collect())
    })?;
    let secs = t0.elapsed().as_secs_f64();

    println!(
        "ring-demo: {count} messages + END to a group of 3 ring members: sent in {:.2} s (held back by b), \
         c done reading at {secs:.2} s",
        sent_at.as_secs_f64()
    );
    println!(
        "{:<6} {:<22} {:>10} {:>9} {:>6} {:>6} {:>9} {:>6} {:>4}",
        "member", "membership", "ring", "received", "gaps", "drops", "truncated", "wakes", "bad"
    );
    let mut ok = true;
    let sent = u64::from(count) + 1;
    for (m, t) in members.iter().zip(tallies) {
        let t = t?;
        println!(
            "{:<6} {:<22} {:>10} {:>9} {:>6} {:>6} {:>9} {:>6} {:>4}",
            m.name,
            m.what,
            format!("{}x{}", m.frame_count, m.frame_size),
            t.received,
            t.gaps,
            t.drops,
            t.truncated,
            t.wakes,
            t.bad
        );
        let good = match m.name {
            "a" => t.received == sent && t.gaps == 0 && t.drops == 0 && t.truncated == 0,
            "b" => t.received == sent && t.gaps == 0 && t.drops == 0 && t.truncated == 1,
            // What c did not receive it dropped: every gap is a drop (and the
            // group's END may be one too).
            _ => t.received + u64::from(t.drops) == sent && t.gaps <= u64::from(t.drops) && t.truncated == 1,
        };
        if !good || t.bad != 0 {
            println!("ring-demo: member {} is off: {t:?}", m.name);
            ok = false;
        }
    }
    drop(socks);
    if !ok {
        std::process::exit(1);
    }
    println!("ring-demo: ok");
    Ok(())
}
