// SPDX-License-Identifier: GPL-2.0

//! Receive rings (MCAST_UNIX_RX_RING): a socket whose messages go into
//! frames of memory its owner maps, so reading one takes no system call.
//!
//! A ring replaces the socket's receive queue for everything it receives
//! (group copies, unicast, SEND_TO_PEER copies): every place that would
//! queue an skb at a ring socket copies the message into the next frame
//! instead, under the same lock and after the same checks, and frees the
//! skb (which releases what it holds: descriptors are closed, so a frame
//! says CTRUNC).
//!
//! # Which frame
//!
//! The kernel never trusts the ring's memory but for one question, "is this
//! frame's status KERNEL". Its own state is a [`Cursor`]: the next frame to
//! fill (`head`) and how many frames senders have *reserved*. A sender that
//! must not lose the message reserves a frame before it commits to the send
//! (a group send does it for every ring member while it walks the members,
//! so the send stays all-or-nothing: a member without room makes it wait,
//! and the reservations made so far are given back), and fills one when it
//! delivers. Reservations count frames, they name none: a reservation may
//! be made only while the frame `head + reserved` is free, so at any time
//! the frames `head .. head + reserved` were free when reserved, and a fill
//! takes `head`. The reader gives frames back in order, which keeps them
//! free; one given back out of order may make a fill find `head` still the
//! reader's, and that message is lost to it (counted as a drop).
//!
//! # Waking
//!
//! A fill hands the frame over with a release store, then the socket's
//! readers are woken as for a queued message (poll says POLLIN while the
//! frame filled last is the reader's). A sender about to wait for room
//! sets the ring's `writers_waiting` word; the reader, after giving frames
//! back, sees it and calls poll(), which clears it and wakes the senders.

use crate::defs;
use crate::message::Skb;
use crate::socket::{Inner, Sock, SockRef};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::msg::{OptOut, OptVal};
use crate::sys::ring::{ring_bytes, FrameInfo, RingMem, Vma};
use crate::sys::skb::POLL_WRITE;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::alloc::flags::GFP_KERNEL;
use kernel::alloc::KBox;

/// Frame sizes: a multiple of this, within the bounds below.
const FRAME_ALIGN: u32 = 64;
const MIN_FRAME: u32 = 256;
const MAX_FRAME: u32 = 65536;
const MAX_FRAMES: u32 = 65536;

/// A socket's ring: its memory and where the kernel stands in it.
pub(crate) struct Ring {
    mem: RingMem,
    cursor: Cursor,
    frame_size: u32,
}

/// `head` (the next frame to fill) and the number of reserved frames, in one
/// word so both change together.
pub(crate) struct Cursor {
    word: AtomicU64,
    count: u32,
}

impl Cursor {
    pub(crate) fn new(count: u32) -> Cursor {
        Cursor { word: AtomicU64::new(0), count }
    }

    fn split(w: u64) -> (u32, u32) {
        (w as u32, (w >> 32) as u32)
    }

    fn join(head: u32, reserved: u32) -> u64 {
        u64::from(head) | (u64::from(reserved) << 32)
    }

    /// Frame `head + n` (`head` below the count, `n` at most the count): the
    /// index wrapped without a division.
    fn at(&self, head: u32, n: u32) -> u32 {
        let i = head.wrapping_add(n);
        if i >= self.count {
            i.wrapping_sub(self.count)
        } else {
            i
        }
    }

    /// Whether a frame could be reserved now (`free(i)`: frame `i` is free).
    pub(crate) fn has_room(&self, free: impl Fn(u32) -> bool) -> bool {
        let (head, reserved) = Self::split(self.word.load(Ordering::Acquire));
        reserved < self.count && free(self.at(head, reserved))
    }

    /// Reserves a frame if `head + reserved` is free.
    pub(crate) fn reserve(&self, free: impl Fn(u32) -> bool) -> bool {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            let (head, reserved) = Self::split(w);
            if reserved >= self.count || !free(self.at(head, reserved)) {
                return false;
            }
            match self.word.compare_exchange_weak(w, Self::join(head, reserved.wrapping_add(1)), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => w = now,
            }
        }
    }

    /// Gives a reservation back unused.
    pub(crate) fn unreserve(&self) {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            let (head, reserved) = Self::split(w);
            match self.word.compare_exchange_weak(w, Self::join(head, reserved.saturating_sub(1)), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(now) => w = now,
            }
        }
    }

    /// Turns a reservation into the frame to fill: `head`, which moves on.
    pub(crate) fn take(&self) -> u32 {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            let (head, reserved) = Self::split(w);
            let next = Self::join(self.at(head, 1), reserved.saturating_sub(1));
            match self.word.compare_exchange_weak(w, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return head,
                Err(now) => w = now,
            }
        }
    }

    /// The frame filled last (or about to be).
    pub(crate) fn last(&self) -> u32 {
        let (head, _) = Self::split(self.word.load(Ordering::Acquire));
        self.at(head, self.count.wrapping_sub(1))
    }
}

impl Ring {
    /// Reserves a frame for a message (false: the ring is full).
    pub(crate) fn reserve(&self) -> bool {
        self.cursor.reserve(|i| self.mem.is_free(i))
    }

    pub(crate) fn unreserve(&self) {
        self.cursor.unreserve()
    }

    /// Room for one more message; if none, the reader is asked to wake
    /// senders once it gives frames back (then looked at again, so a frame
    /// given back meanwhile is not missed).
    #[inline(never)]
    pub(crate) fn has_room(&self) -> bool {
        if self.cursor.has_room(|i| self.mem.is_free(i)) {
            return true;
        }
        self.mem.ask_for_wake();
        self.cursor.has_room(|i| self.mem.is_free(i))
    }

    /// A message waits for the reader.
    pub(crate) fn readable(&self) -> bool {
        self.mem.is_ready(self.cursor.last())
    }
}

/// A frame reserved at a ring socket for a message about to be sent (a
/// group send reserves one at every ring recipient before it commits).
/// Dropped unused, it is given back.
pub(crate) struct Reservation {
    sk: SockRef,
    used: bool,
}

impl Ring {
    /// Reserves a frame for `member` (this ring's socket); gives the
    /// reference back if the ring is full.
    pub(crate) fn reserve_for(&self, member: SockRef) -> Result<Reservation, SockRef> {
        if self.reserve() {
            Ok(Reservation { sk: member, used: false })
        } else {
            Err(member)
        }
    }
}

impl Reservation {
    /// Fills the frame with `keep` bytes of `skb` if `receives` (asked under
    /// the socket's `inner`) says the socket still takes the message, then
    /// wakes its readers. False if the message was lost (the frame was
    /// given back out of order: counted as a drop at the socket).
    pub(crate) fn fill(mut self, skb: &Skb, keep: u32, creds: bool, receives: impl FnOnce(&Sock, &Inner) -> bool) -> bool {
        let sk: &Sock = &self.sk;
        let Some(ring) = sk.ring() else { return true };
        let inner = sk.inner();
        if !receives(sk, &inner) {
            return true;
        }
        self.used = true;
        let filled = fill(sk, ring, skb, keep, creds);
        drop(inner);
        if filled {
            sk.data_ready();
        } else {
            sk.count_drop();
        }
        filled
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.used {
            if let Some(ring) = self.sk.ring() {
                ring.unreserve();
            }
        }
    }
}

/// Delivers `skb` (`len` bytes of it: what the receiver's filters keep) into
/// `sk`'s ring, using a reservation the caller made. The caller holds `sk`'s
/// `inner` and checked that `sk` still receives (then wakes its readers).
/// False if the frame was not the kernel's (given back out of order): the
/// caller counts a drop.
pub(crate) fn fill(sk: &Sock, ring: &Ring, skb: &Skb, len: u32, creds: bool) -> bool {
    let i = ring.cursor.take();
    if !ring.mem.is_free(i) {
        return false;
    }
    let info = FrameInfo {
        len: len.min(skb.len()),
        creds,
        sender_id: if sk.passes_sender_id() { skb.sender_id() } else { 0 },
        drops: sk.drops(),
        addr: skb.tag().map_or(&[], |a| a.as_bytes()),
    };
    ring.mem.fill(i, skb, &info);
    true
}

/// MCAST_UNIX_RX_RING: gives `sk` a ring of `frame_count` frames of
/// `frame_size` bytes (`struct mcast_unix_ring_req`). `EINVAL` for other
/// sizes, a short value or a listening socket; `ENOBUFS` beyond SO_RCVBUF;
/// `EBUSY` if it has a ring or queued messages.
pub(crate) fn set_up(sk: &Sock, val: &OptVal) -> ErrnoResult<()> {
    let mut buf = [0u8; 8];
    let v = val.read(&mut buf)?;
    if v.len() < 8 {
        return Err(Errno::EINVAL);
    }
    let frame_size = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
    let frame_count = u32::from_ne_bytes([v[4], v[5], v[6], v[7]]);
    if frame_size % FRAME_ALIGN != 0
        || !(MIN_FRAME..=MAX_FRAME).contains(&frame_size)
        || !(1..=MAX_FRAMES).contains(&frame_count)
        || sk.sk_state() == defs::TCP_LISTEN
    {
        return Err(Errno::EINVAL);
    }
    if ring_bytes(frame_size, frame_count) > sk.rcvbuf().max(0) as u64 {
        return Err(Errno::ENOBUFS);
    }
    if sk.ring().is_some() {
        return Err(Errno::EBUSY);
    }
    let ring = KBox::new(
        Ring { mem: RingMem::new(frame_size, frame_count)?, cursor: Cursor::new(frame_count), frame_size },
        GFP_KERNEL,
    )?;
    // Under the lock every delivery takes: no message is queued once the
    // ring is there, and none was before. A ring not installed is freed
    // after the lock is released (vfree may sleep).
    let refused = {
        let inner = sk.inner();
        if inner.is_dead() || sk.next_len().is_some() {
            Some(ring)
        } else {
            sk.set_ring(ring).err()
        }
    };
    match refused {
        None => Ok(()),
        Some(ring) => {
            drop(ring);
            Err(Errno::EBUSY)
        }
    }
}

/// getsockopt(MCAST_UNIX_RX_RING): the ring's dimensions (zeros: none).
pub(crate) fn get(sk: &Sock, out: &OptOut) -> ErrnoResult<()> {
    let (size, count) = sk.ring().map_or((0, 0), |r| (r.frame_size, r.mem.frame_count()));
    let mut v = [0u8; 8];
    v[..4].copy_from_slice(&size.to_ne_bytes());
    v[4..].copy_from_slice(&count.to_ne_bytes());
    out.put(&v)
}

/// mmap(2) of a ring socket: the whole ring, shared (`EINVAL` without one).
pub(crate) fn mmap(sk: &Sock, vma: &Vma) -> ErrnoResult<()> {
    sk.ring().ok_or(Errno::EINVAL)?.mem.mmap(vma)
}

impl Ring {
    /// At close (after nothing more is filled): the creator's namespaces go.
    pub(crate) fn closed(&self) {
        self.mem.drop_namespaces();
    }
}

/// poll(2) on a ring socket: POLLIN if a message waits; senders that asked
/// to be woken when the reader gave frames back are woken.
pub(crate) fn poll_in(sk: &Sock, ring: &Ring) -> bool {
    if ring.mem.take_wake_request() {
        sk.peer_wait().wake(POLL_WRITE);
    }
    ring.readable()
}

/// recvmsg(2) reads nothing from a ring socket: `EOPNOTSUPP`.
pub(crate) fn refuse_recv(sk: &Sock) -> ErrnoResult<()> {
    match sk.ring() {
        Some(_) => Err(Errno::EOPNOTSUPP),
        None => Ok(()),
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::Cursor;
    use crate::kcheck_eq;
    use crate::kunit::CaseResult;
    use core::cell::Cell;

    /// Frames free or not, as a reader would leave them.
    struct Frames([Cell<bool>; 4]);

    impl Frames {
        fn new() -> Frames {
            Frames([Cell::new(true), Cell::new(true), Cell::new(true), Cell::new(true)])
        }
        fn free(&self, i: u32) -> bool {
            self.0[i as usize].get()
        }
        fn set(&self, i: u32, free: bool) {
            self.0[i as usize].set(free)
        }
    }

    pub(crate) fn ring_reserves_only_free_frames() -> CaseResult {
        let f = Frames::new();
        let c = Cursor::new(4);
        for _ in 0..4 {
            kcheck_eq!(c.reserve(|i| f.free(i)), true);
        }
        // Every frame is promised: a fifth is refused though all are free.
        kcheck_eq!(c.reserve(|i| f.free(i)), false);
        kcheck_eq!(c.has_room(|i| f.free(i)), false);
        c.unreserve();
        kcheck_eq!(c.has_room(|i| f.free(i)), true);
        Ok(())
    }

    pub(crate) fn ring_fills_in_order_and_waits_for_the_reader() -> CaseResult {
        let f = Frames::new();
        let c = Cursor::new(4);
        for want in 0..4 {
            kcheck_eq!(c.reserve(|i| f.free(i)), true);
            let i = c.take();
            kcheck_eq!(i, want);
            kcheck_eq!(c.last(), want);
            f.set(i, false);
        }
        // Full until the reader gives frame 0 back; then the fill wraps.
        kcheck_eq!(c.reserve(|i| f.free(i)), false);
        f.set(1, true);
        // Given back out of order: head (0) is still the reader's.
        kcheck_eq!(c.reserve(|i| f.free(i)), false);
        f.set(0, true);
        kcheck_eq!(c.reserve(|i| f.free(i)), true);
        kcheck_eq!(c.take(), 0);
        kcheck_eq!(c.last(), 0);
        Ok(())
    }

    pub(crate) fn ring_reservations_are_counts() -> CaseResult {
        let f = Frames::new();
        let c = Cursor::new(4);
        // Two senders reserve; the second fills first: it takes head.
        kcheck_eq!(c.reserve(|i| f.free(i)), true);
        kcheck_eq!(c.reserve(|i| f.free(i)), true);
        kcheck_eq!(c.take(), 0);
        kcheck_eq!(c.take(), 1);
        // A reservation given back leaves head where it was.
        kcheck_eq!(c.reserve(|i| f.free(i)), true);
        c.unreserve();
        kcheck_eq!(c.reserve(|i| f.free(i)), true);
        kcheck_eq!(c.take(), 2);
        Ok(())
    }

    crate::kunit_cases![
        ring_reserves_only_free_frames,
        ring_fills_in_order_and_waits_for_the_reader,
        ring_reservations_are_counts,
    ];
}
