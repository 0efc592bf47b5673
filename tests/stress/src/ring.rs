//! Ring members of the datagram group: sockets that read through a receive
//! ring (`MCAST_UNIX_RX_RING`, the client library's [`RxRing`]) alongside
//! the queued members, judged by the same checks against the same queued
//! reference member.
//!
//! - whole-run: R0 blocking (64 frames, a fast reader), R1 blocking with 4
//!   frames and a reader that stalls (senders wait for a frame: the
//!   `writers_waiting` wake), RW DROP_WHEN_FULL with 2 frames (drops counted
//!   in the frames' `drops`, as SO_RXQ_OVFL counts them for a queue);
//! - churn: a thread that makes a socket and its ring (2, 8 or 64 frames),
//!   joins (blocking or DROP_WHEN_FULL), reads, stalls, and ends the
//!   membership by LEAVE, LEAVE and join again (the same ring), SHUT_RD or
//!   close (the ring unmapped before or after the socket's descriptor is
//!   closed), then starts over on a new socket with a new ring.
//!
//! A ring holds whole messages (frames for [`msg::MAX_LEN`] bytes): a
//! truncated frame, an empty one or one with `CTRUNC` is a damaged message.

use crate::check::{End, Mode, Segment};
use crate::dgram::{end_membership, HowEnd};
use crate::msg;
use crate::run::{classify, sleep_ms, Ctl, Got, Pace, Phase};
use crate::sys::{self, Errno, Fd, SockAddr};
use mcast_unix::ring::{frame_size_for, ring_size, Frame};
use mcast_unix::{RxRing, MCAST_UNIX_DROP_WHEN_FULL as DWF};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::rng::Rng;

/// The frame size: room for the longest message the stress sends.
fn frame_size() -> u32 {
    frame_size_for(msg::MAX_LEN).expect("MAX_LEN fits a frame")
}

/// A datagram socket (SO_RCVTIMEO/SO_SNDTIMEO `timeout_ms`) with a mapped
/// ring of `frames` frames; its SO_RCVBUF is made room for the ring.
pub fn ring_socket(af: i32, frames: u32, timeout_ms: u64) -> Result<(Fd, RxRing), String> {
    let fd = sys::socket(af, libc::SOCK_DGRAM).map_err(|e| format!("socket: {e:?}"))?;
    sys::set_timeouts(&fd, timeout_ms).map_err(|e| format!("timeouts: {e:?}"))?;
    let bytes = ring_size(frame_size(), frames);
    sys::setopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes as i32).map_err(|e| format!("SO_RCVBUF: {e:?}"))?;
    let ring = RxRing::new(&fd, frame_size(), frames).map_err(|e| format!("RxRing::new({} x {frames}): {e}", frame_size()))?;
    Ok((fd, ring))
}

/// A whole-run ring member, joined before anything is sent.
pub struct RingMember {
    /// Kept open for the run (the ring has its own descriptor too).
    pub fd: Fd,
    pub ring: RxRing,
    pub seg: Segment,
    pub pace: Pace,
}

/// Makes a whole-run ring member of `addr` (the ring set before the join,
/// while nothing can be queued yet).
pub fn member(af: i32, addr: &SockAddr, name: &str, flags: u32, frames: u32, pace: Pace) -> RingMember {
    let (fd, ring) = ring_socket(af, frames, 500).expect("ring member");
    sys::join(&fd, addr, flags).expect("join");
    let mode = if flags & DWF != 0 { Mode::DropWhenFull } else { Mode::Blocking };
    let mut seg = Segment::new(name, mode, true, true);
    seg.ring = true;
    RingMember { fd, ring, seg, pace }
}

/// Decodes one frame as `run::classify` decodes a received datagram: the
/// frame's drop count stands for SO_RXQ_OVFL (None while 0, as the kernel
/// attaches nothing then). Damage goes to `bad`.
fn classify_frame(f: &Frame<'_>, group: u8, bad: &mut Vec<String>, who: &str) -> Option<Got> {
    if f.is_empty() {
        bad.push(format!("{who}: empty frame (no message is empty)"));
        return None;
    }
    if f.ctrunc() {
        bad.push(format!("{who}: frame with CTRUNC (no message carries descriptors)"));
    }
    let r = sys::Received {
        data: f.data().to_vec(),
        ret: f.len(),
        flags: if f.truncated() { libc::MSG_TRUNC } else { 0 },
        ovfl: (f.drops() != 0).then_some(f.drops()),
    };
    classify(&r, group, bad, who)
}

/// Takes every frame ready now (after a LEAVE or SHUT_RD) into `out`.
fn drain_ring(ring: &mut RxRing, group: u8, who: &str, out: &mut Vec<crate::check::Rx>, bad: &mut Vec<String>) {
    // Bounded by the frames in the ring: nothing new may come.
    for _ in 0..=ring.frame_count() {
        let Some(f) = ring.try_next() else { return };
        match classify_frame(&f, group, bad, who) {
            Some(Got::Data(rx)) | Some(Got::Sentinel(rx)) => out.push(rx),
            Some(Got::Other(h)) => bad.push(format!("{who}: unexpected {:?} message", h.kind)),
            Some(Got::Eof) | None => {}
        }
    }
}

/// A whole-run ring member's reader, as `run::read_member` for a queue:
/// reads until the sentinel, pacing itself while the run is on (a frame is
/// given back before the pause, so the kernel may fill the others); a
/// DROP_WHEN_FULL reader tells the controller when its ring is empty after
/// the senders stopped. Returns its segment and damaged messages.
pub fn read_ring_member(ctl: Arc<Ctl>, m: RingMember, group: u8, mut rng: Rng) -> (Segment, Vec<String>) {
    let RingMember { fd, mut ring, mut seg, pace } = m;
    let beat = ctl.beat(format!("reader {}", seg.name));
    let mut bad = Vec::new();
    let mut drained = false;
    let mut idle_since: Option<Instant> = None;
    loop {
        beat.tick();
        let phase = ctl.phase();
        let dwf_drain = seg.mode == Mode::DropWhenFull && phase >= Phase::Draining && !drained;
        beat.doing("taking a frame");
        // The frame is given back at the end of this statement.
        let got = ring.try_next().map(|f| classify_frame(&f, group, &mut bad, &seg.name));
        match got {
            Some(g) => {
                idle_since = None;
                match g {
                    Some(Got::Data(rx)) => seg.during.push(rx),
                    Some(Got::Sentinel(rx)) => {
                        seg.during.push(rx);
                        break;
                    }
                    Some(Got::Other(h)) => bad.push(format!("{}: unexpected {:?} message", seg.name, h.kind)),
                    Some(Got::Eof) | None => {}
                }
                if phase == Phase::Running {
                    beat.doing("pausing");
                    pace.pause(&mut rng);
                }
            }
            None if dwf_drain => {
                drained = true;
                ctl.drained.fetch_add(1, Ordering::SeqCst);
            }
            None => {
                beat.doing("poll (RxRing::wait, 500 ms)");
                match ring.wait(Some(Duration::from_millis(500))) {
                    Ok(true) => {}
                    Ok(false) => {
                        // As a queued reader: once draining, the sentinel is
                        // late after 60 s.
                        if phase >= Phase::Draining {
                            let since = *idle_since.get_or_insert_with(Instant::now);
                            if since.elapsed() > Duration::from_secs(60) {
                                bad.push(format!("{}: the sentinel never arrived", seg.name));
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        ctl.unexpected(format!("{}: RxRing::wait: {e}", seg.name));
                        sleep_ms(10);
                    }
                }
            }
        }
    }
    ctl.counters.add("dgram ring wakes (senders waiting for a frame)", ring.wakes());
    drop(ring);
    drop(fd);
    beat.doing("done");
    beat.finished.store(true, Ordering::SeqCst);
    (seg, bad)
}

/// Ring churn (see the module doc): members with rings come and go while
/// the traffic runs.
pub fn churn(ctl: Arc<Ctl>, addr: SockAddr, group: u8, k: u64, mut rng: Rng) -> (Vec<Segment>, Vec<String>) {
    let beat = ctl.beat(format!("dgram ring churn {k}"));
    let mut segs = Vec::new();
    let mut bad = Vec::new();
    let mut cycle = 0u64;
    while ctl.running() {
        cycle += 1;
        beat.tick();
        beat.doing("socket + ring + join");
        let frames = rng.pick(&[2u32, 8, 64]);
        let (fd, mut ring) = match ring_socket(ctl.af, frames, 200) {
            Ok(s) => s,
            Err(e) => {
                ctl.unexpected(format!("dgram ring churn {k}: {e}"));
                sleep_ms(100);
                continue;
            }
        };
        ctl.counters.add("dgram ring sockets made (churn)", 1);
        let dwf = rng.one_in(2);
        let mode = if dwf { Mode::DropWhenFull } else { Mode::Blocking };
        let mut fresh = true;
        let mut rejoins = 0;
        loop {
            if let Err(e) = sys::join(&fd, &addr, if dwf { DWF } else { 0 }) {
                ctl.unexpected(format!("dgram ring churn {k}: join: {e:?}"));
                break;
            }
            ctl.counters.add("dgram ring joins", 1);
            let name = format!("dgram ringchurn{k}.{cycle}.{rejoins} ({frames} frames, {})", if dwf { "DROP_WHEN_FULL" } else { "blocking" });
            let mut seg = Segment::new(name, mode, false, fresh);
            seg.ring = true;
            // Read for a while, sometimes stalling with a full ring.
            let until = Instant::now() + Duration::from_millis(rng.range(20, 400));
            while Instant::now() < until && ctl.running() {
                beat.doing("reading the ring");
                let got = ring.try_next().map(|f| classify_frame(&f, group, &mut bad, &seg.name));
                match got {
                    Some(Some(Got::Data(rx))) => seg.during.push(rx),
                    Some(Some(_)) => bad.push(format!("{}: unexpected message", seg.name)),
                    Some(None) => {}
                    None => match ring.wait(Some(Duration::from_millis(20))) {
                        Ok(_) => {}
                        Err(e) => ctl.unexpected(format!("{}: RxRing::wait: {e}", seg.name)),
                    },
                }
                if rng.one_in(40) {
                    beat.doing("stalling");
                    sleep_ms(rng.range(10, 80));
                }
            }
            beat.doing("ending the membership");
            let how = end_membership(&ctl, &fd, &addr, &mut seg, &mut rng, ["dgram ring leaves", "dgram ring SHUT_RD", "dgram ring closes"]);
            if matches!(seg.end, End::Leave(_) | End::ShutRd(_)) {
                // What the ring held before may still be read; nothing sent
                // after the call returned may come. Look twice, the second
                // time after senders had a while to (wrongly) deliver.
                beat.doing("reading the ring after the membership ended");
                let name = seg.name.clone();
                drain_ring(&mut ring, group, &name, &mut seg.after, &mut bad);
                sleep_ms(rng.range(5, 30));
                drain_ring(&mut ring, group, &name, &mut seg.after, &mut bad);
                if let End::ShutRd(_) = seg.end {
                    let again = sys::leave(&fd, &addr);
                    if again != Err(Errno(libc::EADDRNOTAVAIL)) {
                        ctl.unexpected(format!("{}: LEAVE after SHUT_RD: {again:?}, want EADDRNOTAVAIL", seg.name));
                    }
                }
            }
            segs.push(seg);
            if let HowEnd::LeaveRejoin = how {
                fresh = false;
                rejoins += 1;
                ctl.counters.add("dgram ring rejoins", 1);
                continue;
            }
            break;
        }
        ctl.counters.add("dgram ring wakes (senders waiting for a frame)", ring.wakes());
        // The socket goes once both its descriptor and the mapping are gone:
        // in either order.
        beat.doing("closing the socket and its ring");
        if rng.one_in(2) {
            drop(ring);
            drop(fd);
        } else {
            drop(fd);
            drop(ring);
        }
    }
    beat.finished.store(true, Ordering::SeqCst);
    (segs, bad)
}
