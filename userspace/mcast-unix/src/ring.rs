//! The mapped receive ring (`MCAST_UNIX_RX_RING`): messages read from
//! shared memory the kernel fills, without a system call per message.
//!
//! A socket given a ring receives every message (group copies, unicast,
//! `SEND_TO_PEER` copies) into the frames of a buffer mapped into the
//! program instead of into its receive queue. [`RxRing::new`] sets the
//! option and maps the buffer; [`RxRing::try_next`] gives the next message
//! as a [`Frame`], which borrows its bytes from the mapping and hands the
//! frame back to the kernel when dropped; [`RxRing::wait`] sleeps in
//! `poll(2)` until the kernel has filled the next frame.
//!
//! The protocol, as `include/uapi/linux/mcast_unix.h` describes it: the
//! kernel fills frames in order, each only while its status is
//! [`MCAST_UNIX_FRAME_KERNEL`], and publishes it with a release store of
//! [`MCAST_UNIX_FRAME_USER`]; the reader takes frames in the same order (an
//! acquire load of the status), reads them and gives each back with a
//! release store of `KERNEL`, then, if the header's `writers_waiting` is
//! set, calls `poll()` on the socket to wake the senders waiting for room.
//! This module does all of that: a frame is only ever read while its status
//! is `USER`, frames marked [`MCAST_UNIX_FRAME_EMPTY`] (a send given up) are
//! given back without being shown, and once the ring is set `recvmsg()` on
//! the socket fails with `EOPNOTSUPP`.
//!
//! The ring's bytes ([`ring_size`]) count against the socket's
//! `SO_RCVBUF`: set that first if the ring is to be larger (or use
//! [`RxRing::sized_for`], which fills what `SO_RCVBUF` allows).
//!
//! One reader per ring: an [`RxRing`] is the only thing that may read or
//! give back the ring's frames. A second mapping of the same socket (by
//! hand, or in a child after `fork()`, which inherits the mapping) that
//! gives frames back would let the kernel overwrite a frame this one is
//! reading.
//!
//! ```no_run
//! use mcast_unix::{Addr, McastDatagram, MembershipFlags, RxRing};
//! use std::time::Duration;
//!
//! # fn main() -> std::io::Result<()> {
//! let group = Addr::abstract_("ticks")?;
//! let _owner = McastDatagram::create_group(&group)?;
//! let member = McastDatagram::unbound()?;
//! member.join_group(&group, MembershipFlags::empty())?;
//! // 1 KiB messages, as many frames as the socket's SO_RCVBUF holds.
//! let mut ring = RxRing::sized_for(&member, 1024)?;
//!
//! McastDatagram::unbound()?.send_to(b"tick", &group)?;
//! while ring.wait(Some(Duration::from_secs(1)))? {
//!     while let Some(frame) = ring.try_next() {
//!         println!("{} bytes from {}", frame.len(), frame.sender_addr());
//!         // Dropping the frame gives it back to the kernel.
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use crate::addr::Addr;
use crate::{
    MCAST_UNIX_FRAME_CREDS, MCAST_UNIX_FRAME_CTRUNC, MCAST_UNIX_FRAME_DATA, MCAST_UNIX_FRAME_EMPTY,
    MCAST_UNIX_FRAME_KERNEL, MCAST_UNIX_FRAME_TRUNC, MCAST_UNIX_FRAME_USER, MCAST_UNIX_RING_HDRLEN,
    MCAST_UNIX_RING_VERSION, MCAST_UNIX_RX_RING, SOL_MCAST_UNIX,
};
use std::fmt;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Smallest frame the kernel accepts (`mcast_unix_ring_req.frame_size`).
pub const MIN_FRAME_SIZE: u32 = 256;
/// Largest frame the kernel accepts.
pub const MAX_FRAME_SIZE: u32 = 65536;
/// Frame sizes are multiples of this.
pub const FRAME_ALIGN: u32 = 64;
/// Most frames in a ring.
pub const MAX_FRAME_COUNT: u32 = 65536;

/// `struct mcast_unix_ring_req`: the value of `MCAST_UNIX_RX_RING`.
///
/// ```
/// use mcast_unix::ring::{ring_size, McastUnixRingReq};
/// let req = McastUnixRingReq { frame_size: 2048, frame_count: 64 };
/// assert_eq!(ring_size(req.frame_size, req.frame_count), 64 + 2048 * 64);
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct McastUnixRingReq {
    /// Bytes per frame: a multiple of [`FRAME_ALIGN`], [`MIN_FRAME_SIZE`]
    /// to [`MAX_FRAME_SIZE`].
    pub frame_size: u32,
    /// Frames in the ring: 1 to [`MAX_FRAME_COUNT`].
    pub frame_count: u32,
}

/// `struct mcast_unix_ring_hdr`: the start of the mapping.
///
/// ```
/// use mcast_unix::ring::McastUnixRingHdr;
/// assert_eq!(std::mem::size_of::<McastUnixRingHdr>(), mcast_unix::MCAST_UNIX_RING_HDRLEN);
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct McastUnixRingHdr {
    /// [`MCAST_UNIX_RING_VERSION`].
    pub version: u32,
    /// As requested.
    pub frame_size: u32,
    /// As requested.
    pub frame_count: u32,
    /// Offset of frame 0 from the start of the mapping.
    pub frames_offset: u32,
    /// Set by the kernel while a sender waits for a frame to be given back.
    pub writers_waiting: u32,
    /// Zero.
    pub reserved: [u32; 11],
}

/// `struct mcast_unix_frame`: the header of one frame; the message's first
/// `snaplen` bytes follow at [`MCAST_UNIX_FRAME_DATA`].
///
/// ```
/// use mcast_unix::ring::McastUnixFrame;
/// assert_eq!(std::mem::size_of::<McastUnixFrame>(), mcast_unix::MCAST_UNIX_FRAME_DATA);
/// ```
#[repr(C)]
#[derive(Clone, Copy)]
pub struct McastUnixFrame {
    /// [`MCAST_UNIX_FRAME_KERNEL`] or [`MCAST_UNIX_FRAME_USER`].
    pub status: u32,
    /// `MCAST_UNIX_FRAME_*` flags.
    pub flags: u32,
    /// The message's length (what recv would return with `MSG_TRUNC`).
    pub len: u32,
    /// Bytes of it in the frame.
    pub snaplen: u32,
    /// The sender's id with `MCAST_UNIX_PASS_SENDER_ID`, else 0.
    pub sender_id: u64,
    /// The socket's drop count so far (as `SO_RXQ_OVFL`).
    pub drops: u32,
    /// With [`MCAST_UNIX_FRAME_CREDS`]: the sender's pid.
    pub pid: i32,
    /// With [`MCAST_UNIX_FRAME_CREDS`]: the sender's uid.
    pub uid: u32,
    /// With [`MCAST_UNIX_FRAME_CREDS`]: the sender's gid.
    pub gid: u32,
    /// Bytes of `addr` (0: an unbound sender).
    pub addr_len: u32,
    /// Zero.
    pub reserved: u32,
    /// The sender's address.
    pub addr: libc::sockaddr_un,
}

/// `MCAST_UNIX_RING_SIZE`: the bytes of a ring of `frame_count` frames of
/// `frame_size` bytes, header included (what counts against `SO_RCVBUF`;
/// the mapping is this rounded up to the page size).
///
/// ```
/// assert_eq!(mcast_unix::ring::ring_size(256, 4), 64 + 1024);
/// ```
pub fn ring_size(frame_size: u32, frame_count: u32) -> u64 {
    MCAST_UNIX_RING_HDRLEN as u64 + u64::from(frame_size) * u64::from(frame_count)
}

/// The smallest valid frame size that holds a message of `message` bytes
/// whole (its header, [`MCAST_UNIX_FRAME_DATA`] bytes, included); `None`
/// if it is more than [`MAX_FRAME_SIZE`].
///
/// ```
/// use mcast_unix::ring::frame_size_for;
/// assert_eq!(frame_size_for(64), Some(256), "at least MIN_FRAME_SIZE");
/// assert_eq!(frame_size_for(1024), Some(1216), "160 + 1024, a multiple of 64");
/// assert_eq!(frame_size_for(65536), None);
/// ```
pub fn frame_size_for(message: usize) -> Option<u32> {
    let need = message.checked_add(MCAST_UNIX_FRAME_DATA)?;
    let rounded = need.checked_next_multiple_of(FRAME_ALIGN as usize)?;
    let size = u32::try_from(rounded).ok()?.max(MIN_FRAME_SIZE);
    (size <= MAX_FRAME_SIZE).then_some(size)
}

/// The most frames of `frame_size` bytes whose ring ([`ring_size`]) fits in
/// `bytes` (at most [`MAX_FRAME_COUNT`]; 0 if not even one fits).
///
/// ```
/// use mcast_unix::ring::frames_within;
/// assert_eq!(frames_within(64 + 3 * 256, 256), 3);
/// assert_eq!(frames_within(64 + 3 * 256 - 1, 256), 2);
/// assert_eq!(frames_within(100, 256), 0);
/// ```
pub fn frames_within(bytes: usize, frame_size: u32) -> u32 {
    if frame_size == 0 {
        return 0;
    }
    let room = (bytes as u64).saturating_sub(MCAST_UNIX_RING_HDRLEN as u64);
    (room / u64::from(frame_size)).min(u64::from(MAX_FRAME_COUNT)) as u32
}

fn page_size() -> usize {
    // SAFETY: plain libc call without pointers.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p.is_power_of_two()).unwrap_or(4096)
}

fn invalid_data(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// A socket's receive ring, mapped: the reader of its frames.
///
/// The ring holds its own duplicate of the socket's descriptor (for
/// `poll()`), so it stays usable whatever becomes of the handle it was made
/// from; the socket is closed when both are. Dropping the ring unmaps it
/// (the socket keeps its ring, and no other can be set on it).
///
/// `RxRing` is `Send` and `Sync`: taking frames needs `&mut self`, so one
/// thread reads at a time; [`wait`](RxRing::wait) and
/// [`is_ready`](RxRing::is_ready) only look.
///
/// ```no_run
/// use mcast_unix::{McastDatagram, RxRing};
///
/// # fn main() -> std::io::Result<()> {
/// let sock = McastDatagram::bind(&mcast_unix::Addr::abstract_("inbox")?)?;
/// // 16 frames of 2 KiB: 64 + 32 KiB of the socket's SO_RCVBUF.
/// let mut ring = RxRing::new(&sock, 2048, 16)?;
/// let mut buf = [0u8; 2048 - 160];
/// let n = ring.recv_into(&mut buf, None)?;
/// println!("{:?}", &buf[..n]);
/// # Ok(())
/// # }
/// ```
pub struct RxRing {
    fd: OwnedFd,
    /// The mapping: `map_len` bytes, starting with the ring header.
    base: NonNull<u8>,
    map_len: usize,
    /// Frame 0 (`base + frames_offset`).
    frames: NonNull<u8>,
    frame_size: u32,
    frame_count: u32,
    /// The frame to read next.
    next: u32,
    /// Times giving a frame back found `writers_waiting` set.
    wakes: u64,
}

// SAFETY: the mapping belongs to the ring (unmapped once, in Drop) and is
// only touched through atomics or, for frames the reader owns, through
// reads that `&mut self` serialises; nothing is tied to the creating thread.
unsafe impl Send for RxRing {}
// SAFETY: the `&self` methods only load statuses atomically and call poll().
unsafe impl Sync for RxRing {}

impl RxRing {
    /// Sets `MCAST_UNIX_RX_RING` on `sock` (`frame_count` frames of
    /// `frame_size` bytes) and maps the ring.
    ///
    /// Errors: the kernel's for the option — `EINVAL` for sizes out of
    /// range, `ENOBUFS` if [`ring_size`] is more than `SO_RCVBUF`, `EBUSY`
    /// if the socket already has a ring or messages queued,
    /// `ENOPROTOOPT`/`EOPNOTSUPP` on a socket of another family — or
    /// mmap()'s; `InvalidData` if the mapped header does not describe the
    /// ring asked for. Once the option is set it stays set, even if
    /// mapping then fails.
    ///
    /// ```no_run
    /// use mcast_unix::{McastDatagram, RxRing};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let sock = McastDatagram::unbound()?;
    /// let ring = RxRing::new(&sock, 256, 64)?;
    /// assert_eq!((ring.frame_size(), ring.frame_count()), (256, 64));
    /// // Set once: a second ring is refused.
    /// assert_eq!(RxRing::new(&sock, 256, 64).unwrap_err().raw_os_error(), Some(libc::EBUSY));
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(sock: impl AsFd, frame_size: u32, frame_count: u32) -> io::Result<RxRing> {
        let fd = sock.as_fd().try_clone_to_owned()?;
        let req = McastUnixRingReq { frame_size, frame_count };
        // SAFETY: `req` is valid for reads of the length given.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                SOL_MCAST_UNIX,
                MCAST_UNIX_RX_RING,
                (&req as *const McastUnixRingReq).cast(),
                size_of::<McastUnixRingReq>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let page = page_size();
        let map_len = usize::try_from(ring_size(frame_size, frame_count))
            .ok()
            .and_then(|n| n.checked_next_multiple_of(page))
            .ok_or_else(|| invalid_data("ring larger than the address space"))?;
        // SAFETY: a new shared mapping of the socket's ring at an address
        // the kernel chooses; nothing else is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(|| invalid_data("mmap gave a null address"))?;
        // SAFETY: `base` is a fresh page-aligned mapping of `map_len` bytes
        // that nothing else uses; on error it is unmapped here.
        unsafe { RxRing::from_mapping(fd, base, map_len, req) }
    }

    /// [`new`](RxRing::new) with frames for messages of up to `max_message`
    /// bytes ([`frame_size_for`]) and as many of them as the socket's
    /// current `SO_RCVBUF` allows ([`frames_within`]). `InvalidInput` if
    /// such a frame is larger than [`MAX_FRAME_SIZE`] or not even one fits.
    ///
    /// ```no_run
    /// use mcast_unix::{McastDatagram, RxRing};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let sock = McastDatagram::unbound()?;
    /// sock.set_recv_buffer_size(1 << 20)?;
    /// let ring = RxRing::sized_for(&sock, 64)?;
    /// assert_eq!(ring.frame_size(), 256);
    /// println!("{} frames", ring.frame_count());
    /// # Ok(())
    /// # }
    /// ```
    pub fn sized_for(sock: impl AsFd, max_message: usize) -> io::Result<RxRing> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
        let frame_size = frame_size_for(max_message).ok_or_else(|| bad("message too large for a ring frame"))?;
        let fd = sock.as_fd();
        let mut rcvbuf: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `rcvbuf` and `len` describe a writable int.
        let r = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut rcvbuf as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let count = frames_within(usize::try_from(rcvbuf).unwrap_or(0), frame_size);
        if count == 0 {
            return Err(bad("SO_RCVBUF holds no frame of this size"));
        }
        RxRing::new(fd, frame_size, count)
    }

    /// Checks the header of a fresh mapping and makes the ring of it.
    ///
    /// # Safety
    ///
    /// `base` is a page-aligned, readable and writable shared mapping of
    /// `map_len` bytes owned by the caller and used by nothing else; it is
    /// handed to the ring (unmapped here on error).
    unsafe fn from_mapping(
        fd: OwnedFd,
        base: NonNull<u8>,
        map_len: usize,
        req: McastUnixRingReq,
    ) -> io::Result<RxRing> {
        let unmap = |e: io::Error| {
            // SAFETY: the caller's mapping, not used after this.
            unsafe { libc::munmap(base.as_ptr().cast(), map_len) };
            Err(e)
        };
        if map_len < MCAST_UNIX_RING_HDRLEN {
            return unmap(invalid_data("ring mapping smaller than its header"));
        }
        // SAFETY: the header is within the mapping (checked above) and
        // page-aligned; the kernel wrote it before setsockopt() returned
        // and does not change these fields.
        let hdr = unsafe { std::ptr::read_volatile(base.as_ptr().cast::<McastUnixRingHdr>()) };
        let end = u64::from(hdr.frames_offset) + u64::from(hdr.frame_size) * u64::from(hdr.frame_count);
        if hdr.version != MCAST_UNIX_RING_VERSION
            || hdr.frame_size != req.frame_size
            || hdr.frame_count != req.frame_count
            || hdr.frame_count == 0
            || (hdr.frame_size as usize) < MCAST_UNIX_FRAME_DATA
            || hdr.frame_size % 8 != 0
            || (hdr.frames_offset as usize) < MCAST_UNIX_RING_HDRLEN
            || hdr.frames_offset % 8 != 0
            || end > map_len as u64
        {
            return unmap(invalid_data("ring header does not describe the ring asked for"));
        }
        // SAFETY: frames_offset < map_len (checked above), within the mapping.
        let frames = unsafe { base.add(hdr.frames_offset as usize) };
        Ok(RxRing {
            fd,
            base,
            map_len,
            frames,
            frame_size: hdr.frame_size,
            frame_count: hdr.frame_count,
            next: 0,
            wakes: 0,
        })
    }

    /// Bytes per frame.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let ring = mcast_unix::RxRing::new(&mcast_unix::McastDatagram::unbound()?, 512, 8)?;
    /// assert_eq!(ring.frame_size(), 512);
    /// # Ok(())
    /// # }
    /// ```
    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// Frames in the ring.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let ring = mcast_unix::RxRing::new(&mcast_unix::McastDatagram::unbound()?, 512, 8)?;
    /// assert_eq!(ring.frame_count(), 8);
    /// # Ok(())
    /// # }
    /// ```
    pub fn frame_count(&self) -> u32 {
        self.frame_count
    }

    /// The most message bytes a frame holds ([`frame_size`](RxRing::frame_size)
    /// less the frame header): longer messages arrive truncated
    /// ([`Frame::truncated`]).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let ring = mcast_unix::RxRing::new(&mcast_unix::McastDatagram::unbound()?, 512, 8)?;
    /// assert_eq!(ring.max_message(), 512 - 160);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_message(&self) -> usize {
        self.frame_size as usize - MCAST_UNIX_FRAME_DATA
    }

    /// How many times giving a frame back found senders waiting (and woke
    /// them with `poll()`).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let ring = mcast_unix::RxRing::new(&mcast_unix::McastDatagram::unbound()?, 512, 8)?;
    /// assert_eq!(ring.wakes(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn wakes(&self) -> u64 {
        self.wakes
    }

    /// The status word of frame `i`.
    fn status(&self, i: u32) -> &AtomicU32 {
        debug_assert!(i < self.frame_count);
        // SAFETY: frame `i` (i < frame_count) lies within the mapping
        // (checked in from_mapping) and starts 8-aligned; AtomicU32 has
        // u32's layout; the kernel only accesses the status atomically, and
        // the reference cannot outlive the mapping, which `self` owns.
        unsafe { &*self.frame_ptr(i).as_ptr().cast::<AtomicU32>() }
    }

    /// The header's `writers_waiting`.
    fn writers_waiting(&self) -> &AtomicU32 {
        // SAFETY: within the mapping's first 64 bytes, 4-aligned; the
        // kernel only accesses it atomically; the mapping outlives `&self`.
        unsafe { &*self.base.as_ptr().add(offset_of!(McastUnixRingHdr, writers_waiting)).cast::<AtomicU32>() }
    }

    fn frame_ptr(&self, i: u32) -> NonNull<u8> {
        // SAFETY: i < frame_count, so the offset is within the frames,
        // which lie within the mapping.
        unsafe { self.frames.add(i as usize * self.frame_size as usize) }
    }

    /// Whether the next frame is the reader's (filled by the kernel):
    /// [`try_next`](RxRing::try_next) then gives it, unless it is an empty
    /// frame, which it gives back instead.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let ring = mcast_unix::RxRing::new(&mcast_unix::McastDatagram::unbound()?, 512, 8)?;
    /// assert!(!ring.is_ready(), "nothing sent");
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_ready(&self) -> bool {
        self.status(self.next).load(Ordering::Acquire) == MCAST_UNIX_FRAME_USER
    }

    /// Hands frame `i` (the reader's) back to the kernel, then wakes the
    /// senders waiting for room if there are any.
    fn give_back(&mut self, i: u32) {
        self.status(i).store(MCAST_UNIX_FRAME_KERNEL, Ordering::Release);
        // The status store before the load of writers_waiting: the kernel
        // sets writers_waiting before it looks at the status again, so one
        // of the two sides sees the other's store.
        fence(Ordering::SeqCst);
        if self.writers_waiting().load(Ordering::Relaxed) != 0 {
            self.wakes += 1;
            let mut p = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd; timeout 0. Its result does not
            // matter: the call itself wakes the waiting senders.
            unsafe { libc::poll(&mut p, 1, 0) };
        }
        self.next = if i + 1 == self.frame_count { 0 } else { i + 1 };
    }

    /// Gives back empty frames at the front; whether a message is next.
    fn skip_empty(&mut self) -> bool {
        loop {
            if !self.is_ready() {
                return false;
            }
            // SAFETY: the frame's status read USER with acquire above: the
            // kernel completed it and does not touch it until it is given
            // back; `flags` is within the frame's header.
            let flags = unsafe {
                let p = self.frame_ptr(self.next).as_ptr().add(offset_of!(McastUnixFrame, flags));
                std::ptr::read_volatile(p.cast::<u32>())
            };
            if flags & MCAST_UNIX_FRAME_EMPTY == 0 {
                return true;
            }
            self.give_back(self.next);
        }
    }

    /// The next message, if the kernel has filled its frame: a [`Frame`]
    /// that gives the frame back when dropped (and the next call moves on
    /// to the following one). Empty frames are given back on the way.
    /// Never blocks; [`wait`](RxRing::wait) sleeps until a frame is ready.
    ///
    /// In edition 2021 a `while let Some(frame) = ring.try_next()` loop
    /// keeps the ring borrowed for its whole body; to call the ring's own
    /// methods there, take frames with `let Some(frame) = ring.try_next()
    /// else { break };` in a `loop`.
    ///
    /// ```no_run
    /// use mcast_unix::{McastDatagram, RxRing};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = McastDatagram::pair()?;
    /// let mut ring = RxRing::new(&b, 256, 16)?;
    /// a.send(b"one")?;
    /// a.send(b"two")?;
    /// let mut got = Vec::new();
    /// while let Some(frame) = ring.try_next() {
    ///     got.push(frame.data().to_vec());
    /// }
    /// assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_next(&mut self) -> Option<Frame<'_>> {
        if !self.skip_empty() {
            return None;
        }
        let index = self.next;
        let ptr = self.frame_ptr(index);
        // SAFETY: the frame is the reader's (its status read USER with
        // acquire in skip_empty, and only this ring gives it back): the
        // kernel finished writing it and leaves it alone until then. The
        // header is 8-aligned within the frame.
        let hdr = unsafe { std::ptr::read_volatile(ptr.as_ptr().cast::<McastUnixFrame>()) };
        Some(Frame { ring: self, index, ptr, hdr })
    }

    /// Sleeps in `poll(2)` until the next frame is the reader's
    /// ([`is_ready`](RxRing::is_ready)) or `timeout` passes (`None`: no
    /// timeout). `Ok(true)` at once if a frame is ready, `Ok(false)` on
    /// timeout. An error if poll() fails or reports one (`SO_ERROR`), and
    /// `UnexpectedEof` if the socket is shut down for reading (or a
    /// seqpacket peer hung up) with no frame left.
    ///
    /// ```no_run
    /// use mcast_unix::{McastDatagram, RxRing};
    /// use std::time::Duration;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = McastDatagram::pair()?;
    /// let mut ring = RxRing::new(&b, 256, 16)?;
    /// assert!(!ring.wait(Some(Duration::from_millis(10)))?, "nothing sent yet");
    /// a.send(b"ping")?;
    /// assert!(ring.wait(None)?);
    /// assert_eq!(ring.try_next().unwrap().data(), b"ping");
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        // A deadline past what Instant holds is no deadline.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if self.is_ready() {
                return Ok(true);
            }
            let ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    // Rounded up, so that poll() does not return early.
                    left.as_nanos().div_ceil(1_000_000).min(libc::c_int::MAX as u128) as libc::c_int
                }
            };
            let mut p = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN | libc::POLLRDHUP, revents: 0 };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if self.is_ready() {
                return Ok(true);
            }
            if r == 0 {
                // Timed out (poll() returns 0 only with a deadline).
                if ms == 0 || deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                continue;
            }
            if p.revents & libc::POLLERR != 0 {
                return Err(self.socket_error());
            }
            if p.revents & (libc::POLLHUP | libc::POLLRDHUP | libc::POLLNVAL) != 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "ring socket shut down for reading"));
            }
            // POLLIN for a frame given back as empty meanwhile, or a
            // frame published between poll()'s check and ours: look again.
        }
    }

    /// The socket's pending error (`SO_ERROR`), or a generic one.
    fn socket_error(&self) -> io::Error {
        let mut err: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` describe a writable int.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r == 0 && err != 0 {
            io::Error::from_raw_os_error(err)
        } else {
            io::Error::other("poll() reported an error on the ring socket")
        }
    }

    /// Waits up to `timeout` (`None`: for good) for the next message and
    /// copies it into `buf`, like `recv(2)`: the bytes copied, cut to
    /// `buf` (the rest is lost, as is what did not fit in the frame).
    /// `WouldBlock` on timeout, as `recv` with `SO_RCVTIMEO`; the errors
    /// of [`wait`](RxRing::wait).
    ///
    /// ```no_run
    /// use mcast_unix::{McastDatagram, RxRing};
    /// use std::time::Duration;
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = McastDatagram::pair()?;
    /// let mut ring = RxRing::new(&b, 256, 16)?;
    /// a.send(b"hello")?;
    /// let mut buf = [0u8; 16];
    /// let n = ring.recv_into(&mut buf, Some(Duration::from_secs(1)))?;
    /// assert_eq!(&buf[..n], b"hello");
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_into(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if self.skip_empty() {
                let frame = self.try_next().expect("the next frame is ready");
                let data = frame.data();
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                return Ok(n);
            }
            let left = match (timeout, deadline) {
                (None, _) | (Some(_), None) => None,
                (Some(_), Some(d)) => Some(d.saturating_duration_since(Instant::now())),
            };
            if !self.wait(left)? {
                return Err(io::Error::from(io::ErrorKind::WouldBlock));
            }
        }
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: the ring's own mapping; no Frame borrows it any more.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.map_len) };
    }
}

impl AsFd for RxRing {
    /// The ring's own descriptor of the socket.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for RxRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RxRing")
            .field("fd", &self.fd.as_raw_fd())
            .field("frame_size", &self.frame_size)
            .field("frame_count", &self.frame_count)
            .field("next", &self.next)
            .finish()
    }
}

/// One message in the ring, the reader's until dropped: dropping it gives
/// the frame back to the kernel (and wakes the senders waiting for room).
///
/// The header fields are copied out when the frame is taken; the data is
/// borrowed from the mapping.
///
/// ```no_run
/// use mcast_unix::{McastDatagram, RxRing};
///
/// # fn main() -> std::io::Result<()> {
/// let (a, b) = McastDatagram::pair()?;
/// b.set_passcred(true)?;
/// b.set_pass_sender_id(true)?;
/// let mut ring = RxRing::new(&b, 256, 16)?;
/// a.send(&[7u8; 200])?;
/// let frame = ring.try_next().expect("sent before");
/// assert_eq!(frame.len(), 200);
/// assert!(frame.truncated(), "a 256-byte frame holds 96 bytes of message");
/// assert_eq!(frame.data(), &[7u8; 96][..]);
/// assert_eq!(frame.sender_id(), Some(a.id()?));
/// assert_eq!(frame.creds().map(|c| c.pid as u32), Some(std::process::id()));
/// drop(frame); // given back
/// # Ok(())
/// # }
/// ```
pub struct Frame<'a> {
    ring: &'a mut RxRing,
    index: u32,
    ptr: NonNull<u8>,
    hdr: McastUnixFrame,
}

impl Frame<'_> {
    /// The message's bytes in the frame: all of it, or its first
    /// [`max_message`](RxRing::max_message) bytes if it was
    /// [`truncated`](Frame::truncated).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(b"abc")?;
    /// assert_eq!(ring.try_next().unwrap().data(), b"abc");
    /// # Ok(())
    /// # }
    /// ```
    pub fn data(&self) -> &[u8] {
        let snap = (self.hdr.snaplen as usize).min(self.ring.max_message());
        // SAFETY: `snap` bytes from MCAST_UNIX_FRAME_DATA lie within the
        // frame (snap <= frame_size - MCAST_UNIX_FRAME_DATA); the frame is
        // the reader's until this Frame is dropped, so the kernel does not
        // write them while the slice, which borrows `self`, lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(MCAST_UNIX_FRAME_DATA), snap) }
    }

    /// The message's length (longer than [`data`](Frame::data) if it was
    /// truncated): what `recv` with `MSG_TRUNC` would return.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(&[0u8; 1000])?;
    /// assert_eq!(ring.try_next().unwrap().len(), 1000);
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.hdr.len as usize
    }

    /// Whether the message was empty (zero bytes).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(b"")?;
    /// assert!(ring.try_next().unwrap().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.hdr.len == 0
    }

    /// `MCAST_UNIX_FRAME_TRUNC`: the message did not fit in the frame.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(&[0u8; 97])?;
    /// assert!(ring.try_next().unwrap().truncated());
    /// # Ok(())
    /// # }
    /// ```
    pub fn truncated(&self) -> bool {
        self.hdr.flags & MCAST_UNIX_FRAME_TRUNC != 0 || (self.hdr.snaplen as usize) < self.len()
    }

    /// `MCAST_UNIX_FRAME_CTRUNC`: descriptors the message carried were
    /// not passed (a ring passes none; they were closed).
    ///
    /// ```no_run
    /// # use std::os::fd::AsFd;
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// let file = std::fs::File::open("/dev/null")?;
    /// a.send_with_fds(b"fd", &[file.as_fd()])?;
    /// assert!(ring.try_next().unwrap().ctrunc());
    /// # Ok(())
    /// # }
    /// ```
    pub fn ctrunc(&self) -> bool {
        self.hdr.flags & MCAST_UNIX_FRAME_CTRUNC != 0
    }

    /// The raw `MCAST_UNIX_FRAME_*` flags.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(b"x")?;
    /// assert_eq!(ring.try_next().unwrap().flags() & mcast_unix::MCAST_UNIX_FRAME_TRUNC, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn flags(&self) -> u32 {
        self.hdr.flags
    }

    /// The id of the socket that sent the message, if the receiving socket
    /// set `MCAST_UNIX_PASS_SENDER_ID` (ids are never 0).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// b.set_pass_sender_id(true)?;
    /// let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(b"x")?;
    /// assert_eq!(ring.try_next().unwrap().sender_id(), Some(a.id()?));
    /// # Ok(())
    /// # }
    /// ```
    pub fn sender_id(&self) -> Option<u64> {
        Some(self.hdr.sender_id).filter(|&id| id != 0)
    }

    /// The socket's drop count when the message was received (as
    /// `SO_RXQ_OVFL`: messages a `DROP_WHEN_FULL` membership lost).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(b"x")?;
    /// println!("{} dropped so far", ring.try_next().unwrap().drops());
    /// # Ok(())
    /// # }
    /// ```
    pub fn drops(&self) -> u32 {
        self.hdr.drops
    }

    /// The sender's credentials, if the receiving socket set `SO_PASSCRED`
    /// (`MCAST_UNIX_FRAME_CREDS`): pid, uid and gid in the namespaces of
    /// the ring's creator.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// b.set_passcred(true)?;
    /// let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(b"x")?;
    /// let cred = ring.try_next().unwrap().creds().expect("SO_PASSCRED");
    /// // SAFETY: plain system call.
    /// assert_eq!(cred.uid, unsafe { libc::getuid() });
    /// # Ok(())
    /// # }
    /// ```
    pub fn creds(&self) -> Option<libc::ucred> {
        (self.hdr.flags & MCAST_UNIX_FRAME_CREDS != 0).then_some(libc::ucred {
            pid: self.hdr.pid,
            uid: self.hdr.uid,
            gid: self.hdr.gid,
        })
    }

    /// The sender's address (for a group message, the original sender's;
    /// unnamed if it was not bound), as `recvfrom` reports it.
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let b = mcast_unix::McastDatagram::bind(&mcast_unix::Addr::abstract_("rx")?)?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// let a = mcast_unix::McastDatagram::bind(&mcast_unix::Addr::abstract_("tx")?)?;
    /// a.send_to(b"x", &mcast_unix::Addr::abstract_("rx")?)?;
    /// assert_eq!(ring.try_next().unwrap().sender_addr(), mcast_unix::Addr::abstract_("tx")?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn sender_addr(&self) -> Addr {
        Addr::from_raw(&self.hdr.addr, self.hdr.addr_len as libc::socklen_t)
    }

    /// The frame's index in the ring (`0..frame_count`, in order, wrapping).
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// # let (a, b) = mcast_unix::McastDatagram::pair()?;
    /// # let mut ring = mcast_unix::RxRing::new(&b, 256, 16)?;
    /// a.send(b"x")?;
    /// assert_eq!(ring.try_next().unwrap().index(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        self.ring.give_back(self.index);
    }
}

impl fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("index", &self.index)
            .field("len", &self.hdr.len)
            .field("snaplen", &self.hdr.snaplen)
            .field("flags", &self.hdr.flags)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    //! The reader's side of the protocol on a ring in anonymous shared
    //! memory, with a thread in the kernel's role; the option itself is
    //! refused on AF_UNIX (the in-VM tests exercise the real ring).

    use super::*;
    use crate::{SockType, Socket};
    use std::sync::Arc;

    /// A ring in anonymous shared memory: the kernel's view of it.
    struct FakeKernel {
        base: usize,
        frame_size: u32,
        frame_count: u32,
        frames_offset: u32,
    }

    impl FakeKernel {
        fn frame(&self, i: u32) -> *mut u8 {
            (self.base + self.frames_offset as usize + (i * self.frame_size) as usize) as *mut u8
        }

        fn status(&self, i: u32) -> &AtomicU32 {
            // SAFETY: within the test's mapping, aligned; atomic access only.
            unsafe { &*self.frame(i).cast::<AtomicU32>() }
        }

        fn writers_waiting(&self) -> &AtomicU32 {
            // SAFETY: as above, in the header.
            unsafe { &*((self.base + 16) as *const AtomicU32) }
        }

        /// Fills frame `i` (which must be KERNEL) like the kernel would.
        fn fill(&self, i: u32, msg: &[u8], flags: u32, sender_id: u64) {
            assert_eq!(self.status(i).load(Ordering::Acquire), MCAST_UNIX_FRAME_KERNEL);
            let room = self.frame_size as usize - MCAST_UNIX_FRAME_DATA;
            let snap = msg.len().min(room);
            let (addr, addr_len) = Addr::abstract_("sender").unwrap().to_raw(libc::AF_UNIX as libc::sa_family_t);
            let hdr = McastUnixFrame {
                status: MCAST_UNIX_FRAME_KERNEL,
                flags: flags | if snap < msg.len() { MCAST_UNIX_FRAME_TRUNC } else { 0 },
                len: msg.len() as u32,
                snaplen: snap as u32,
                sender_id,
                drops: 3,
                pid: 11,
                uid: 22,
                gid: 33,
                addr_len,
                reserved: 0,
                addr,
            };
            // SAFETY: the frame is the kernel's (status KERNEL), within the
            // mapping; the header's status word is left to the atomic store.
            unsafe {
                let p = self.frame(i);
                std::ptr::copy_nonoverlapping((&hdr as *const McastUnixFrame).cast::<u8>().add(4), p.add(4), 156);
                std::ptr::copy_nonoverlapping(msg.as_ptr(), p.add(MCAST_UNIX_FRAME_DATA), snap);
            }
            self.status(i).store(MCAST_UNIX_FRAME_USER, Ordering::Release);
        }
    }

    /// A new anonymous shared mapping of `len` bytes starting with `hdr`.
    fn anon(len: usize, hdr: McastUnixRingHdr) -> *mut libc::c_void {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a new anonymous shared mapping.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0) };
        assert_ne!(p, libc::MAP_FAILED);
        // SAFETY: the header fits in the fresh mapping (len >= 64).
        unsafe { std::ptr::write(p.cast::<McastUnixRingHdr>(), hdr) };
        p
    }

    /// A ring of `count` frames of `size` bytes in anonymous memory, read
    /// by an RxRing whose descriptor is one end of a socketpair (returned,
    /// with the other end).
    fn fake(size: u32, count: u32, frames_offset: u32) -> (RxRing, FakeKernel, Socket) {
        let len = (frames_offset as usize + (size * count) as usize).next_multiple_of(page_size());
        let hdr =
            McastUnixRingHdr { version: 1, frame_size: size, frame_count: count, frames_offset, ..Default::default() };
        let p = anon(len, hdr);
        let (a, b) = Socket::pair(libc::AF_UNIX, SockType::Dgram).unwrap();
        let fd = OwnedFd::from(a);
        let req = McastUnixRingReq { frame_size: size, frame_count: count };
        // SAFETY: the mapping was made above for this ring.
        let ring = unsafe { RxRing::from_mapping(fd, NonNull::new(p.cast()).unwrap(), len, req) }.unwrap();
        let k = FakeKernel { base: p as usize, frame_size: size, frame_count: count, frames_offset };
        (ring, k, b)
    }

    #[test]
    fn layouts_match_the_uapi_header() {
        assert_eq!(size_of::<McastUnixRingReq>(), 8);
        assert_eq!(size_of::<McastUnixRingHdr>(), MCAST_UNIX_RING_HDRLEN);
        assert_eq!(offset_of!(McastUnixRingHdr, writers_waiting), 16);
        assert_eq!(size_of::<McastUnixFrame>(), MCAST_UNIX_FRAME_DATA);
        assert_eq!(offset_of!(McastUnixFrame, sender_id), 16);
        assert_eq!(offset_of!(McastUnixFrame, drops), 24);
        assert_eq!(offset_of!(McastUnixFrame, pid), 28);
        assert_eq!(offset_of!(McastUnixFrame, addr_len), 40);
        assert_eq!(offset_of!(McastUnixFrame, addr), 48);
    }

    #[test]
    fn sizes() {
        assert_eq!(frame_size_for(0), Some(256));
        assert_eq!(frame_size_for(96), Some(256));
        assert_eq!(frame_size_for(97), Some(320));
        assert_eq!(frame_size_for(16384), Some(16576));
        assert_eq!(frame_size_for(65536 - 160), Some(65536));
        assert_eq!(frame_size_for(65536 - 159), None);
        assert_eq!(frame_size_for(usize::MAX), None);
        assert_eq!(frames_within(212_992, 256), 831);
        assert_eq!(frames_within(usize::MAX, 256), MAX_FRAME_COUNT);
        assert_eq!(frames_within(1000, 0), 0);
        assert_eq!(ring_size(65536, 65536), 64 + (1 << 32));
    }

    #[test]
    fn the_option_reaches_the_kernel() {
        // AF_UNIX has no SOL_MCAST_UNIX options.
        let (a, _b) = Socket::pair(libc::AF_UNIX, SockType::Dgram).unwrap();
        assert!(RxRing::new(&a, 256, 4).is_err());
        assert!(RxRing::sized_for(&a, 64).is_err());
        let err = RxRing::sized_for(&a, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "no frame that large");
    }

    #[test]
    fn frames_in_order_with_their_header_and_empty_ones_skipped() {
        let (mut ring, k, _peer) = fake(256, 4, 64);
        assert!(!ring.is_ready());
        assert!(ring.try_next().is_none());
        k.fill(0, b"first", MCAST_UNIX_FRAME_CREDS, 77);
        k.fill(1, b"", MCAST_UNIX_FRAME_EMPTY, 0);
        k.fill(2, &[9u8; 100], 0, 0);
        assert!(ring.is_ready());
        {
            let f = ring.try_next().unwrap();
            assert_eq!((f.index(), f.data(), f.len(), f.truncated()), (0, &b"first"[..], 5, false));
            assert_eq!(f.sender_id(), Some(77));
            assert_eq!(f.creds().map(|c| (c.pid, c.uid, c.gid)), Some((11, 22, 33)));
            assert_eq!(f.drops(), 3);
            assert_eq!(f.sender_addr(), Addr::abstract_("sender").unwrap());
            assert!(!f.ctrunc());
        }
        assert_eq!(k.status(0).load(Ordering::Acquire), MCAST_UNIX_FRAME_KERNEL, "given back on drop");
        {
            let f = ring.try_next().unwrap();
            assert_eq!(f.index(), 2, "the empty frame skipped");
            assert_eq!((f.len(), f.data(), f.truncated()), (100, &[9u8; 96][..], true));
            assert_eq!((f.sender_id(), f.creds().map(|c| c.pid)), (None, None));
        }
        assert_eq!(k.status(1).load(Ordering::Acquire), MCAST_UNIX_FRAME_KERNEL, "the empty frame given back");
        assert!(ring.try_next().is_none());
        // Wraps around.
        k.fill(3, b"d", 0, 0);
        k.fill(0, b"e", 0, 0);
        assert_eq!(ring.try_next().unwrap().data(), b"d");
        assert_eq!(ring.try_next().unwrap().index(), 0);
        assert_eq!(ring.wakes(), 0);
    }

    #[test]
    fn a_forgotten_frame_is_given_again() {
        let (mut ring, k, _peer) = fake(256, 2, 64);
        k.fill(0, b"kept", 0, 0);
        std::mem::forget(ring.try_next().unwrap());
        assert_eq!(ring.try_next().unwrap().data(), b"kept");
        assert!(ring.try_next().is_none());
    }

    #[test]
    fn waiting_writers_are_counted_and_woken() {
        let (mut ring, k, _peer) = fake(256, 2, 128);
        k.writers_waiting().store(1, Ordering::SeqCst);
        k.fill(0, b"a", 0, 0);
        k.fill(1, b"b", MCAST_UNIX_FRAME_EMPTY, 0);
        drop(ring.try_next().unwrap());
        assert_eq!(ring.wakes(), 1);
        assert!(ring.try_next().is_none());
        assert_eq!(ring.wakes(), 2, "an empty frame given back wakes them too");
        k.writers_waiting().store(0, Ordering::SeqCst);
        k.fill(0, b"c", 0, 0);
        drop(ring.try_next().unwrap());
        assert_eq!(ring.wakes(), 2);
    }

    #[test]
    fn wait_times_out_and_sees_a_filled_frame() {
        let (mut ring, k, peer) = fake(256, 2, 64);
        let t0 = Instant::now();
        assert!(!ring.wait(Some(Duration::from_millis(30))).unwrap());
        assert!(t0.elapsed() >= Duration::from_millis(30));
        assert!(!ring.wait(Some(Duration::ZERO)).unwrap());
        k.fill(0, b"x", 0, 0);
        assert!(ring.wait(None).unwrap(), "ready without polling");
        drop(ring.try_next());
        // A frame filled while the reader sleeps; the fake wakes poll()
        // with a byte on the socket, as the kernel's wakeup would.
        let k = Arc::new(k);
        let k2 = k.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            k2.fill(1, b"late", 0, 0);
            peer.send(b"!").unwrap();
            peer
        });
        assert!(ring.wait(Some(Duration::from_secs(10))).unwrap());
        assert_eq!(ring.try_next().unwrap().data(), b"late");
        let _peer = t.join().unwrap();
    }

    #[test]
    fn recv_into_copies_and_times_out() {
        let (mut ring, k, _peer) = fake(320, 2, 64);
        k.fill(0, b"", MCAST_UNIX_FRAME_EMPTY, 0);
        k.fill(1, b"hello", 0, 0);
        let mut buf = [0u8; 3];
        assert_eq!(ring.recv_into(&mut buf, None).unwrap(), 3);
        assert_eq!(&buf, b"hel");
        let err = ring.recv_into(&mut buf, Some(Duration::from_millis(5))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let len = page_size();
        for bad in [
            McastUnixRingHdr { version: 2, frame_size: 256, frame_count: 4, frames_offset: 64, ..Default::default() },
            McastUnixRingHdr { version: 1, frame_size: 256, frame_count: 5, frames_offset: 64, ..Default::default() },
            McastUnixRingHdr { version: 1, frame_size: 256, frame_count: 4, frames_offset: 8, ..Default::default() },
            McastUnixRingHdr { version: 1, frame_size: 256, frame_count: 4, frames_offset: 3136, ..Default::default() },
        ] {
            let p = NonNull::new(anon(len, bad).cast()).unwrap();
            let (a, _b) = Socket::pair(libc::AF_UNIX, SockType::Dgram).unwrap();
            let req = McastUnixRingReq { frame_size: 256, frame_count: 4 };
            // SAFETY: the mapping was made above; from_mapping unmaps it on error.
            let err = unsafe { RxRing::from_mapping(OwnedFd::from(a), p, len, req) }.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        }
    }

    #[test]
    fn a_concurrent_writer_and_reader_agree() {
        // The fake kernel fills frames in order as they come back; the
        // reader sees every message once, in order, whole.
        let (mut ring, k, _peer) = fake(256, 4, 64);
        let k = Arc::new(k);
        let k2 = k.clone();
        const N: u64 = 20_000;
        let writer = std::thread::spawn(move || {
            for seq in 0..N {
                let i = (seq % u64::from(k2.frame_count)) as u32;
                while k2.status(i).load(Ordering::Acquire) != MCAST_UNIX_FRAME_KERNEL {
                    std::hint::spin_loop();
                }
                let len = 8 + (seq % 80) as usize;
                let mut msg = vec![(seq % 251) as u8; len];
                msg[..8].copy_from_slice(&seq.to_ne_bytes());
                let flags = if seq % 7 == 3 { MCAST_UNIX_FRAME_EMPTY } else { 0 };
                k2.fill(i, &msg, flags, seq + 1);
            }
        });
        let mut next = 0u64;
        while next < N {
            let Some(f) = ring.try_next() else {
                std::hint::spin_loop();
                continue;
            };
            while next % 7 == 3 {
                next += 1;
            }
            let d = f.data();
            assert_eq!(u64::from_ne_bytes(d[..8].try_into().unwrap()), next);
            assert_eq!(d.len(), 8 + (next % 80) as usize);
            assert!(d[8..].iter().all(|&b| b == (next % 251) as u8));
            assert_eq!(f.sender_id(), Some(next + 1));
            next += 1;
            while next < N && next % 7 == 3 {
                next += 1;
            }
        }
        writer.join().unwrap();
        assert!(ring.try_next().is_none());
    }
}
