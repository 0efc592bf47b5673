//! Receive rings (`MCAST_UNIX_RX_RING`): giving sockets rings of random
//! shapes (members of groups too, so group traffic lands in frames), mapping
//! them with random lengths, offsets, flags and protections, unmapping all
//! or part and trying to remap, scribbling on status words and header
//! fields, and reading frames as a reader does (taking them in order,
//! giving them back, polling when writers wait).
//!
//! Mappings belong to the thread that made them (`Ctx::rings`, see
//! `mapping.rs`); the descriptors they were made from stay in the shared
//! pool, where any thread may close or reuse them.

use super::opts::{self, membership_flags, put_group_mreq, MREQ_SIZE};
use super::{layout, Ctx};
use crate::addr::{SockAddr, NGROUPS};
use crate::mapping::Mapping;
use crate::pool::{Kind, SLOTS};
use crate::rng::Args;
use crate::shared::Call;
use crate::sys::{self, PollFd, PAGE};
use mcast_unix::{MCAST_UNIX_JOIN_GROUP, SOL_MCAST_UNIX};

/// The option.
pub const RX_RING: i32 = 8;
/// `MCAST_UNIX_RING_HDRLEN`, `MCAST_UNIX_FRAME_DATA`.
const HDRLEN: u64 = 64;
const FRAME_DATA: usize = 160;
/// Header words: frame_size, frame_count, frames_offset, writers_waiting.
const H_FRAMES_OFFSET: usize = 12;
const H_WRITERS_WAITING: usize = 16;
/// Frame words: status, flags, len, snaplen.
const F_SNAPLEN: usize = 12;
const KERNEL: u32 = 0;
const USER: u32 = 1;
const EMPTY: u32 = 1 << 3;
/// Mappings one thread keeps at most.
const MAX_MAPPINGS: usize = 8;
/// Ring sockets one thread remembers.
const MAX_RING_FDS: usize = 8;

/// Sockets that may take a ring (and the listening owner, which must refuse).
const TARGETS: [Kind; 7] =
    [Kind::Member, Kind::Dgram, Kind::Seq, Kind::SeqClient, Kind::Accepted, Kind::DgramOwner, Kind::SeqOwner];

/// A ring's shape: mostly valid and small, sometimes at or past the limits.
fn shape(c: &mut Ctx) -> (u32, u32) {
    if c.rng.chance(85) {
        let fs = c.rng.pick(&[256, 256, 320, 512, 1024, 2048, 4096, 16384, 65536]);
        let fc = c.rng.pick(&[1, 2, 3, 4, 8, 16, 64]);
        (fs, if fs >= 16384 { fc.min(3) } else { fc })
    } else if c.rng.chance(99) {
        let fs = c.rng.pick_or(&[0, 64, 192, 255, 257, 300, 65537, 65600, 131072, u32::MAX], |r| {
            r.range(0, 70000) as u32 & !r.pick(&[0u32, 63])
        });
        let fc = c.rng.pick_or(&[0, 1, 65536, 65537, u32::MAX], |r| r.range(0, 4096) as u32);
        (fs, fc)
    } else {
        // Huge: past SO_RCVBUF unless a fuzzed SO_RCVBUFFORCE raised it.
        (65536, c.rng.pick(&[65536, 4096, 1024]))
    }
}

/// The ring a socket has, by getsockopt: (frame_size, frame_count).
fn get_ring(c: &mut Ctx, fd: i32) -> Option<(u32, u32)> {
    c.b.misc.put(layout::LEN, 8u32);
    let (val, lenp) = (c.b.opt.at(0), c.b.misc.at(layout::LEN));
    c.rec(Call::RingGet, sys::getsockopt(fd, SOL_MCAST_UNIX, RX_RING, val, lenp)).ok()?;
    let v: [u32; 2] = c.b.opt.get(0);
    Some((v[0], v[1]))
}

fn remember(c: &mut Ctx, fd: i32, group: Option<usize>) {
    c.ring_fds.retain(|&(f, _)| f != fd);
    if c.ring_fds.len() >= MAX_RING_FDS {
        let k = c.rng.index(c.ring_fds.len());
        c.ring_fds.swap_remove(k);
    }
    c.ring_fds.push((fd, group));
}

/// Gives a socket a ring: a fresh datagram socket that then joins a group
/// (a ring member), or any socket of the pool.
pub fn set_ring(c: &mut Ctx) {
    let fresh = c.rng.chance(40);
    let (fd, mut group) = if fresh {
        let Some(fd) = c.new_socket(libc::SOCK_DGRAM) else { return };
        (fd, None)
    } else {
        let (slot, fd) = c.of(&TARGETS);
        (fd, (c.pool.kind(slot) == Kind::Member).then(|| c.pool.group(slot)))
    };
    if c.rng.chance(10) {
        let size = c.rng.pick(&[0, 2304, 8192, 65536, 1 << 20]);
        opts::set_int(c, fd, libc::SO_RCVBUF, size);
    }
    let (fs, fc) = shape(c);
    c.b.opt.put(0, [fs, fc]);
    let len = if c.rng.chance(90) { 8 } else { c.rng.len_around(8) };
    let val = if c.rng.chance(97) { c.b.opt.at(0) } else { c.bad_ptr() };
    let r = c.rec(Call::RingSet, sys::setsockopt(fd, SOL_MCAST_UNIX, RX_RING, val, len));
    if fresh {
        let g = c.rng.index(NGROUPS);
        let flags = membership_flags(&mut c.rng);
        let mreq = put_group_mreq(c, g, flags);
        let j = c.rec(Call::Join, sys::setsockopt(fd, SOL_MCAST_UNIX, MCAST_UNIX_JOIN_GROUP, mreq, MREQ_SIZE));
        let kind = if j.is_ok() { Kind::Member } else { Kind::Dgram };
        group = j.is_ok().then_some(g);
        c.pool.install(&mut c.rng, fd, kind, g);
    }
    if r.is_ok() {
        remember(c, fd, group);
        if c.rng.chance(60) {
            map_fd(c, fd, group);
        }
    }
}

/// A socket this thread gave a ring (if it still has one: up to three
/// tries, forgetting those without), and the group it joined; sometimes
/// any socket of the pool.
fn ring_fd(c: &mut Ctx) -> (i32, Option<usize>) {
    for _ in 0..3 {
        if c.ring_fds.is_empty() || c.rng.chance(15) {
            break;
        }
        let k = c.rng.index(c.ring_fds.len());
        let (fd, group) = c.ring_fds[k];
        if get_ring(c, fd).is_some_and(|(fs, _)| fs > 0) {
            return (fd, group);
        }
        c.ring_fds.swap_remove(k);
    }
    (c.of(&TARGETS).1, None)
}

/// Maps `fd`: mostly the right way, else a wrong length, offset, flag or
/// protection.
fn map_fd(c: &mut Ctx, fd: i32, group: Option<usize>) {
    if c.rings.len() >= MAX_MAPPINGS {
        let k = c.rng.index(c.rings.len());
        drop(c.rings.swap_remove(k));
    }
    let (fs, fc) = get_ring(c, fd).unwrap_or((0, 0));
    let size = HDRLEN + fs as u64 * fc as u64;
    let exact = size.div_ceil(PAGE as u64).max(1) * PAGE as u64;
    let len = match c.rng.weighted(&[70, 8, 6, 6, 5, 5]) {
        0 => exact,
        1 => size.max(1),
        2 => exact + PAGE as u64,
        3 => exact.saturating_sub(PAGE as u64),
        4 => c.rng.range(1, 16) * PAGE as u64,
        _ => c.rng.pick(&[1 << 30, 1 << 40, u64::MAX]),
    };
    let offset = match c.rng.weighted(&[90, 5, 5]) {
        0 => 0,
        1 => PAGE as i64 * c.rng.range(1, 4) as i64,
        _ => c.rng.pick(&[1, -4096, i64::MAX & !4095]),
    };
    let flags = match c.rng.weighted(&[80, 8, 5, 4, 3]) {
        0 => libc::MAP_SHARED,
        1 => libc::MAP_PRIVATE,
        2 => libc::MAP_SHARED | libc::MAP_POPULATE,
        3 => libc::MAP_SHARED_VALIDATE | c.rng.pick(&[0, libc::MAP_SYNC, 1 << 26]),
        _ => libc::MAP_SHARED | libc::MAP_NORESERVE,
    };
    let prot = match c.rng.weighted(&[90, 5, 3, 2]) {
        0 => libc::PROT_READ | libc::PROT_WRITE,
        1 => libc::PROT_READ,
        2 => libc::PROT_NONE,
        _ => libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
    };
    match Mapping::map(fd, len, prot, flags, offset) {
        Ok(mut m) => {
            c.rec(Call::Mmap, Ok(0)).ok();
            m.frame_size = fs;
            m.frame_count = fc;
            m.frames_offset = m.load(H_FRAMES_OFFSET).unwrap_or(HDRLEN as u32) as usize;
            m.group = group;
            c.rings.push(m);
        }
        Err(e) => {
            c.rec(Call::Mmap, Err(e)).ok();
        }
    }
}

pub fn mmap(c: &mut Ctx) {
    let (fd, group) = ring_fd(c);
    map_fd(c, fd, group);
}

/// Ends a mapping: all of it, a part, or a remap (growing must fail).
pub fn munmap(c: &mut Ctx) {
    if c.rings.is_empty() {
        return;
    }
    let k = c.rng.index(c.rings.len());
    let pages = c.rng.range(1, 4) as usize;
    match c.rng.weighted(&[50, 15, 15, 15, 5]) {
        0 => {
            drop(c.rings.swap_remove(k));
            c.rec(Call::Munmap, Ok(0)).ok();
        }
        1 | 2 => {
            let head = c.rng.chance(50);
            let r = c.rings[k].unmap_part(pages, head);
            c.rec(Call::Munmap, r).ok();
        }
        3 => {
            let len = c.rings[k].len() as u64;
            let new = c.rng.pick(&[len + PAGE as u64, len * 2, len.saturating_sub(PAGE as u64), 1 << 30]);
            let flags = c.rng.pick(&[0, libc::MREMAP_MAYMOVE]);
            let r = c.rings[k].remap(new, flags);
            c.rec(Call::Mremap, r).ok();
        }
        _ => {
            // The descriptor the mapping was made from closed (if it is
            // still in the pool), the mapping kept.
            let fd = c.rings[k].fd;
            if let Some(s) = (0..SLOTS).find(|&s| c.pool.fd(s) == fd) {
                let fd = c.pool.take(s);
                if fd >= 0 {
                    c.rec(Call::Close, sys::close(fd)).ok();
                }
            }
        }
    }
}

/// Random values on status words, header fields and frame headers of one
/// mapping.
pub fn scribble(c: &mut Ctx) {
    if c.rings.is_empty() {
        return;
    }
    let k = c.rng.index(c.rings.len());
    for _ in 0..c.rng.range(1, 32) {
        let m = &c.rings[k];
        let (fs, fc, fo) = (m.frame_size as usize, m.frame_count as u64, m.frames_offset);
        let off = match c.rng.weighted(&[40, 30, 20, 10]) {
            0 if fs > 0 && fc > 0 => fo + c.rng.below(fc) as usize * fs,
            1 => 4 * c.rng.below(16) as usize,
            2 if fs > 0 && fc > 0 => fo + c.rng.below(fc) as usize * fs + 4 * c.rng.below(FRAME_DATA as u64 / 4) as usize,
            _ => 4 * c.rng.below((m.len() / 4).max(1) as u64) as usize,
        };
        let v = c.rng.pick_or(&[KERNEL, KERNEL, USER, 2, EMPTY, u32::MAX, 0x8000_0000, 65536], |r| r.u32());
        c.rings[k].store(off, v);
    }
    c.rec(Call::RingScribble, Ok(0)).ok();
    if c.rng.chance(30) {
        let fd = c.rings[k].fd;
        poll_one(c, fd);
    }
}

fn poll_one(c: &mut Ctx, fd: i32) {
    let events = c.rng.pick(&[libc::POLLIN, libc::POLLOUT, libc::POLLIN | libc::POLLOUT]);
    c.b.misc.put(layout::POLL, PollFd { fd, events, revents: 0 });
    let timeout = c.rng.pick(&[0, 0, 1]);
    let r = sys::poll(c.b.misc.at(layout::POLL), 1, timeout);
    c.rec(Call::RingPoll, r).ok();
}

/// Reads frames as a reader does: in order from where this mapping's reader
/// stopped, each given back (now and then kept), then a poll if writers
/// wait.
pub fn consume(c: &mut Ctx) {
    if c.rings.is_empty() {
        let (fd, _) = ring_fd(c);
        poll_one(c, fd);
        return;
    }
    let k = c.rng.index(c.rings.len());
    let (fs, fc, fo, group) = {
        let m = &c.rings[k];
        (m.frame_size as usize, m.frame_count, m.frames_offset, m.group)
    };
    // Traffic for the ring first, now and then.
    if let Some(g) = group.filter(|_| c.rng.chance(40)) {
        let (_, tx) = c.of(&[Kind::Dgram, Kind::Member, Kind::DgramOwner]);
        let a = SockAddr::group(c.env.family, g);
        let (buf, len) = c.payload();
        c.b.misc.write(layout::NAME, &a.bytes);
        let to = c.b.misc.at(layout::NAME);
        c.rec(Call::GroupSend, sys::sendto(tx, buf, len, libc::MSG_DONTWAIT, to, a.len)).ok();
    }
    if fs < FRAME_DATA || fc == 0 {
        return;
    }
    let mut taken = 0u64;
    for _ in 0..c.rng.range(1, 16) {
        let m = &c.rings[k];
        let at = fo + (m.next % fc) as usize * fs;
        if m.load(at) != Some(USER) {
            break;
        }
        // The frame's bytes, as far as they are said to go (and mapped).
        let snap = (m.load(at + F_SNAPLEN).unwrap_or(0) as usize).min(fs - FRAME_DATA);
        let mut sum = 0u32;
        for w in (0..snap.div_ceil(4)).step_by(16) {
            sum = sum.wrapping_add(m.load(at + FRAME_DATA + 4 * w).unwrap_or(0));
        }
        std::hint::black_box(sum);
        let keep = c.rng.chance(5);
        let m = &mut c.rings[k];
        if !keep {
            m.store(at, KERNEL);
        }
        m.next = m.next.wrapping_add(1);
        taken += 1;
    }
    c.shared.frames.fetch_add(taken, std::sync::atomic::Ordering::Relaxed);
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    let m = &c.rings[k];
    let fd = m.fd;
    if m.load(H_WRITERS_WAITING).is_some_and(|w| w != 0) || c.rng.chance(20) {
        poll_one(c, fd);
    }
    c.rec(Call::RingConsume, Ok(taken as i64)).ok();
}
