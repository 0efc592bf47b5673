// SPDX-License-Identifier: GPL-2.0

//! Receive-ring memory: zeroed pages a socket's owner maps (`mmap`), a
//! header (`struct mcast_unix_ring_hdr`) then `frame_count` frames of
//! `frame_size` bytes, each a `struct mcast_unix_frame` and the message's
//! bytes (the layout is the uapi's).
//!
//! The memory is shared with user space, which may write any byte of it at
//! any time. So the kernel reads only one thing from it, a frame's status
//! word (with an atomic load, trusting nothing but "is it KERNEL"); every
//! other access is a write of plain bytes, and a frame is handed over by a
//! release store of its status. Which frame to fill is decided by the
//! caller from kernel-side state; this module only reads and writes frames.

use super::bindings as b;
use super::errno::{Errno, ErrnoResult};
use super::skb::{Skb, Tag};
use core::mem::size_of;
use core::ptr::{self, NonNull};
use core::sync::atomic::{fence, AtomicU32, Ordering};

/// The uapi layout, checked against the generated bindings.
const HDR_LEN: usize = b::MCAST_UNIX_RING_HDRLEN as usize;
const FRAME_DATA: usize = b::MCAST_UNIX_FRAME_DATA as usize;
const _: () = assert!(size_of::<b::mcast_unix_ring_hdr>() == HDR_LEN);
const _: () = assert!(size_of::<b::mcast_unix_frame>() == FRAME_DATA);
const _: () = assert!(core::mem::offset_of!(b::mcast_unix_frame, status) == 0);
const _: () = assert!(core::mem::offset_of!(b::mcast_unix_ring_hdr, writers_waiting) % 4 == 0);

/// Frame status values.
const KERNEL: u32 = b::MCAST_UNIX_FRAME_KERNEL;
const USER: u32 = b::MCAST_UNIX_FRAME_USER;

/// Frame flags.
pub(crate) mod frame_flags {
    use super::b;
    pub(crate) const TRUNC: u32 = b::MCAST_UNIX_FRAME_TRUNC;
    pub(crate) const CTRUNC: u32 = b::MCAST_UNIX_FRAME_CTRUNC;
    pub(crate) const CREDS: u32 = b::MCAST_UNIX_FRAME_CREDS;
}

/// The bytes of a frame header the kernel writes, status aside.
pub(crate) struct FrameInfo<'a> {
    /// The message's length (after its receiver's filters).
    pub(crate) len: u32,
    /// Pass the sender's credentials (SO_PASSCRED).
    pub(crate) creds: bool,
    /// The sender's id, or 0.
    pub(crate) sender_id: u64,
    /// The receiver's drop count.
    pub(crate) drops: u32,
    /// The sender's address, as recvfrom gives it.
    pub(crate) addr: &'a [u8],
}

/// A ring's memory.
pub(crate) struct RingMem {
    raw: NonNull<b::mcast_ring>,
    frame_size: u32,
    frame_count: u32,
}

// SAFETY: the memory is reached only through atomic status words and byte
// writes (see the module doc); the C object is freed once, by `Drop`, and
// its namespace references are guarded by its own lock.
unsafe impl Send for RingMem {}
// SAFETY: see above.
unsafe impl Sync for RingMem {}

/// The bytes a ring of these dimensions maps (before rounding to pages).
pub(crate) fn ring_bytes(frame_size: u32, frame_count: u32) -> u64 {
    HDR_LEN as u64 + u64::from(frame_size) * u64::from(frame_count)
}

/// A mapping being set up by `mmap(2)`.
pub(crate) struct Vma(NonNull<b::vm_area_struct>);

impl Vma {
    /// # Safety
    ///
    /// `vma` is the area of the current `mmap` call, valid for its duration.
    pub(crate) unsafe fn from_raw(vma: *mut b::vm_area_struct) -> Option<Vma> {
        NonNull::new(vma).map(Vma)
    }
}

impl RingMem {
    /// Zeroed memory for `frame_count` frames of `frame_size` bytes (the
    /// caller checked the dimensions: `frame_size` a multiple of 64 of at
    /// least 256, the total bounded), with its header written. The creator's
    /// pid and user namespaces are kept for the frames' credentials.
    pub(crate) fn new(frame_size: u32, frame_count: u32) -> ErrnoResult<RingMem> {
        let bytes = ring_bytes(frame_size, frame_count);
        // SAFETY: no preconditions; NULL on failure.
        let raw = NonNull::new(unsafe { b::mcast_ring_alloc(bytes as _) }).ok_or(Errno::ENOMEM)?;
        let ring = RingMem { raw, frame_size, frame_count };
        let hdr = b::mcast_unix_ring_hdr {
            version: b::MCAST_UNIX_RING_VERSION,
            frame_size,
            frame_count,
            frames_offset: HDR_LEN as u32,
            writers_waiting: 0,
            reserved: [0; 11],
        };
        // SAFETY: the memory is at least HDR_LEN bytes (page-rounded), ours,
        // and not mapped yet.
        unsafe { ptr::write_unaligned(ring.mem().cast::<b::mcast_unix_ring_hdr>(), hdr) };
        Ok(ring)
    }

    fn mem(&self) -> *mut u8 {
        // SAFETY: `raw` is live until `Drop`; `mem` is fixed at allocation.
        unsafe { (*self.raw.as_ptr()).mem.cast::<u8>() }
    }

    /// Frame `i`'s first byte (`i` below the frame count; callers reduce
    /// indices modulo it).
    fn frame(&self, i: u32) -> *mut u8 {
        let i = i % self.frame_count;
        // SAFETY: HDR_LEN + i * frame_size + frame_size <= the ring's bytes.
        unsafe { self.mem().add(HDR_LEN + i as usize * self.frame_size as usize) }
    }

    fn status(&self, i: u32) -> &AtomicU32 {
        // SAFETY: the status word is 4-aligned (frames start 64-aligned),
        // lives as long as `self`, and every access to it, ours and (by the
        // ABI) user space's, is a single aligned word access.
        unsafe { AtomicU32::from_ptr(self.frame(i).cast::<u32>()) }
    }

    fn writers_waiting(&self) -> &AtomicU32 {
        let off = core::mem::offset_of!(b::mcast_unix_ring_hdr, writers_waiting);
        // SAFETY: as `status`: an aligned word of the header.
        unsafe { AtomicU32::from_ptr(self.mem().add(off).cast::<u32>()) }
    }

    pub(crate) fn frame_count(&self) -> u32 {
        self.frame_count
    }

    /// Frame `i` belongs to the kernel (its reader gave it back).
    pub(crate) fn is_free(&self, i: u32) -> bool {
        self.status(i).load(Ordering::Acquire) == KERNEL
    }

    /// Frame `i` waits for its reader.
    pub(crate) fn is_ready(&self, i: u32) -> bool {
        self.status(i).load(Ordering::Acquire) == USER
    }

    /// A sender is about to wait for room: tell the reader to poll once it
    /// gave frames back. Ordered before the caller's next look at a status
    /// word (the reader stores the status, then reads this flag).
    pub(crate) fn ask_for_wake(&self) {
        self.writers_waiting().store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Whether a sender asked for a wake-up (the flag is cleared).
    pub(crate) fn take_wake_request(&self) -> bool {
        self.writers_waiting().swap(0, Ordering::AcqRel) != 0
    }

    /// Maps the whole ring into `vma` (`EINVAL` unless it is shared, at
    /// offset 0, of exactly the ring's page-rounded size).
    pub(crate) fn mmap(&self, vma: &Vma) -> ErrnoResult<()> {
        // SAFETY: `raw` is live; `vma` is the current mmap's area.
        super::errno::to_result(unsafe { b::mcast_ring_mmap(self.raw.as_ptr(), vma.0.as_ptr()) })
    }

    /// Lets the creator's namespaces go (at close: frames filled after it
    /// carry no pid and uid/gid -1).
    pub(crate) fn drop_namespaces(&self) {
        // SAFETY: `raw` is live; the helper swaps the pointers out under the
        // ring's lock and puts them (process context: close).
        unsafe { b::mcast_ring_drop_ns(self.raw.as_ptr()) }
    }

    /// Fills frame `i` with `skb`'s first bytes (as many as `info.len` and
    /// the frame allow) and hands it to the reader. The caller owns frame
    /// `i` (it was free and nobody else fills it).
    pub(crate) fn fill<A: Tag>(&self, i: u32, skb: &Skb<A>, info: &FrameInfo<'_>) {
        let room = self.frame_size - FRAME_DATA as u32;
        let snap = info.len.min(room).min(skb.len());
        let mut flags = 0;
        if snap < info.len {
            flags |= frame_flags::TRUNC;
        }
        if skb.has_fds() {
            flags |= frame_flags::CTRUNC;
        }
        let (mut pid, mut uid, mut gid) = (0, 0, 0);
        if info.creds {
            flags |= frame_flags::CREDS;
            // SAFETY: `raw` is live; the skb is held by the caller.
            unsafe { b::mcast_ring_creds(self.raw.as_ptr(), skb.raw(), &mut pid, &mut uid, &mut gid) };
        }
        let addr_len = info.addr.len().min(size_of::<b::sockaddr_un>());
        let f = self.frame(i).cast::<b::mcast_unix_frame>();
        // SAFETY: the frame is `frame_size` >= FRAME_DATA + snap bytes of
        // ring memory, 64-aligned, the caller's to fill; user space may write
        // it concurrently, which can only change what its reader sees (the
        // kernel never reads these bytes back). Fields are written one by one
        // through raw pointers (no reference to shared memory is made); the
        // payload comes from the skb's linear part when it is there, else
        // skb_copy_bits reads `snap` <= skb->len bytes of the held skb.
        unsafe {
            ptr::addr_of_mut!((*f).flags).write_volatile(flags);
            ptr::addr_of_mut!((*f).len).write_volatile(info.len);
            ptr::addr_of_mut!((*f).snaplen).write_volatile(snap);
            ptr::addr_of_mut!((*f).sender_id).write_volatile(info.sender_id);
            ptr::addr_of_mut!((*f).drops).write_volatile(info.drops);
            ptr::addr_of_mut!((*f).pid).write_volatile(pid);
            ptr::addr_of_mut!((*f).uid).write_volatile(uid);
            ptr::addr_of_mut!((*f).gid).write_volatile(gid);
            ptr::addr_of_mut!((*f).addr_len).write_volatile(addr_len as u32);
            ptr::copy_nonoverlapping(info.addr.as_ptr(), ptr::addr_of_mut!((*f).addr).cast::<u8>(), addr_len);
            let data = f.cast::<u8>().add(FRAME_DATA);
            match skb.linear(snap) {
                Some(bytes) => ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len()),
                None => {
                    b::skb_copy_bits(skb.raw(), 0, data.cast(), snap as i32);
                }
            }
        }
        self.status(i).store(USER, Ordering::Release);
    }
}

impl Drop for RingMem {
    fn drop(&mut self) {
        // SAFETY: allocated by mcast_ring_alloc, freed once here; nothing
        // maps it any more (a mapping holds the socket's file, so the sock
        // and this ring outlive it).
        unsafe { b::mcast_ring_free(self.raw.as_ptr()) }
    }
}
