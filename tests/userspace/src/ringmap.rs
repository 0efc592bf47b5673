//! The receive ring (`MCAST_UNIX_RX_RING`, include/uapi/linux/mcast_unix.h)
//! seen from raw memory, for the ring cases (ring.rs): the option, the
//! mapping ([`Map`]: `mmap`, `mremap`, `munmap` by hand) and a reader
//! ([`Ring`]) that takes frames in order, gives them back and wakes waiting
//! writers as the header says. Nothing here uses the client library's ring
//! API: the cases check the kernel's side of the ABI byte by byte.
//!
//! The mapping is memory the kernel writes while this process reads it, so
//! every access goes through atomics (status words with acquire loads and
//! release stores, everything else relaxed); no Rust reference into it is
//! ever made.

#![allow(dead_code)]

use crate::sys::{check, Errno, SysResult};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// The option (level SOL_MCAST_UNIX).
pub const RX_RING: i32 = 8;
/// `MCAST_UNIX_RING_VERSION`.
pub const VERSION: u32 = 1;
/// `MCAST_UNIX_RING_HDRLEN`: the header at the start of the mapping.
pub const HDRLEN: usize = 64;
/// `MCAST_UNIX_FRAME_DATA`: where a frame's message bytes start.
pub const FRAME_DATA: usize = 160;
/// Frame status: the kernel may fill it.
pub const KERNEL: u32 = 0;
/// Frame status: filled, the reader's until it gives it back.
pub const USER: u32 = 1;
/// Frame flags.
pub const TRUNC: u32 = 1 << 0;
pub const CTRUNC: u32 = 1 << 1;
pub const CREDS: u32 = 1 << 2;
pub const EMPTY: u32 = 1 << 3;

/// Offsets of the header's fields (`struct mcast_unix_ring_hdr`).
pub mod hdr {
    pub const VERSION: usize = 0;
    pub const FRAME_SIZE: usize = 4;
    pub const FRAME_COUNT: usize = 8;
    pub const FRAMES_OFFSET: usize = 12;
    pub const WRITERS_WAITING: usize = 16;
}

/// Offsets of a frame's fields (`struct mcast_unix_frame`).
pub mod frame {
    pub const STATUS: usize = 0;
    pub const FLAGS: usize = 4;
    pub const LEN: usize = 8;
    pub const SNAPLEN: usize = 12;
    pub const SENDER_ID: usize = 16;
    pub const DROPS: usize = 24;
    pub const PID: usize = 28;
    pub const UID: usize = 32;
    pub const GID: usize = 36;
    pub const ADDR_LEN: usize = 40;
    pub const ADDR: usize = 48;
    /// `sizeof(struct sockaddr_un)`.
    pub const ADDR_SIZE: usize = 110;
}

/// The page size.
pub fn page() -> usize {
    // SAFETY: plain call.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// `MCAST_UNIX_RING_SIZE` of a request.
pub fn ring_size(fs: u32, fc: u32) -> usize {
    HDRLEN + fs as usize * fc as usize
}

/// The length a mapping of the ring must have: the ring's size rounded up
/// to the page size.
pub fn map_len(fs: u32, fc: u32) -> usize {
    ring_size(fs, fc).div_ceil(page()) * page()
}

/// setsockopt(MCAST_UNIX_RX_RING) with `bytes` as the value, any length.
pub fn set_ring_raw(fd: &impl AsRawFd, bytes: &[u8]) -> SysResult<()> {
    // SAFETY: bytes is valid for its length.
    check(unsafe {
        libc::setsockopt(fd.as_raw_fd(), mcast_unix::SOL_MCAST_UNIX, RX_RING, bytes.as_ptr().cast(), bytes.len() as _)
    } as _)
    .map(|_| ())
}

/// The request's bytes: frame_size, frame_count.
pub fn req_bytes(fs: u32, fc: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&fs.to_ne_bytes());
    b[4..].copy_from_slice(&fc.to_ne_bytes());
    b
}

/// Gives the socket a ring of `fc` frames of `fs` bytes.
pub fn set_ring(fd: &impl AsRawFd, fs: u32, fc: u32) -> SysResult<()> {
    set_ring_raw(fd, &req_bytes(fs, fc))
}

/// getsockopt(MCAST_UNIX_RX_RING): (frame_size, frame_count) and the length
/// the kernel returned.
pub fn get_ring(fd: &impl AsRawFd) -> SysResult<(u32, u32, usize)> {
    let mut b = [0xa5u8; 8];
    let mut len = b.len() as libc::socklen_t;
    // SAFETY: b and len are valid for the call.
    check(unsafe {
        libc::getsockopt(fd.as_raw_fd(), mcast_unix::SOL_MCAST_UNIX, RX_RING, b.as_mut_ptr().cast(), &mut len)
    } as _)?;
    let fs = u32::from_ne_bytes(b[..4].try_into().unwrap());
    let fc = u32::from_ne_bytes(b[4..].try_into().unwrap());
    Ok((fs, fc, len as usize))
}

/// One mapping (of a ring, normally), unmapped on drop.
pub struct Map {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is process memory every thread may use; Map only
// touches it through atomics.
unsafe impl Send for Map {}
// SAFETY: as above.
unsafe impl Sync for Map {}

impl Map {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, offset)`.
    pub fn new(fd: &impl AsRawFd, len: usize, flags: i32, offset: i64) -> SysResult<Map> {
        Self::with_prot(fd.as_raw_fd(), len, libc::PROT_READ | libc::PROT_WRITE, flags, offset)
    }

    /// `mmap` with any protection, of a descriptor number.
    pub fn with_prot(fd: RawFd, len: usize, prot: i32, flags: i32, offset: i64) -> SysResult<Map> {
        // SAFETY: a new mapping at an address the kernel chooses (no
        // MAP_FIXED): no existing memory changes.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, offset) };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(Map { ptr: NonNull::new(p.cast()).expect("mmap returned NULL"), len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    fn word(&self, off: usize) -> &AtomicU32 {
        assert!(off.is_multiple_of(4) && off + 4 <= self.len, "word at {off} outside a mapping of {}", self.len);
        // SAFETY: in bounds and aligned (checked; the mapping is page
        // aligned); the memory lives as long as self, and is only ever
        // accessed atomically by this process.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(off).cast()) }
    }

    fn byte(&self, off: usize) -> &AtomicU8 {
        assert!(off < self.len, "byte at {off} outside a mapping of {}", self.len);
        // SAFETY: in bounds (checked); as in `word`.
        unsafe { AtomicU8::from_ptr(self.ptr.as_ptr().add(off)) }
    }

    /// The u32 at `off`, an acquire load.
    pub fn load(&self, off: usize) -> u32 {
        self.word(off).load(Ordering::Acquire)
    }

    /// Stores `v` at `off`, a release store.
    pub fn store(&self, off: usize, v: u32) {
        self.word(off).store(v, Ordering::Release)
    }

    /// The u64 at `off` (8-aligned), from two loads.
    pub fn load64(&self, off: usize) -> u64 {
        let lo = self.word(off).load(Ordering::Relaxed) as u64;
        let hi = self.word(off + 4).load(Ordering::Relaxed) as u64;
        if cfg!(target_endian = "little") {
            lo | hi << 32
        } else {
            hi | lo << 32
        }
    }

    /// `n` bytes from `off`.
    pub fn read(&self, off: usize, n: usize) -> Vec<u8> {
        (off..off + n).map(|o| self.byte(o).load(Ordering::Relaxed)).collect()
    }

    /// Writes `data` at `off`.
    pub fn write(&self, off: usize, data: &[u8]) {
        for (i, &b) in data.iter().enumerate() {
            self.byte(off + i).store(b, Ordering::Relaxed);
        }
    }

    /// Reads every byte (the mapping must be readable throughout): their sum.
    pub fn touch_all(&self) -> u64 {
        let mut sum = 0u64;
        for off in (0..self.len).step_by(4) {
            sum = sum.wrapping_add(self.word(off).load(Ordering::Relaxed) as u64);
        }
        sum
    }

    /// `mremap(addr, len, new_len, flags)`; on success the mapping is the
    /// new one.
    pub fn mremap(&mut self, new_len: usize, flags: i32) -> SysResult<()> {
        // SAFETY: remaps this mapping only (no MREMAP_FIXED), which nothing
        // else in the process refers to by address.
        let p = unsafe { libc::mremap(self.ptr.as_ptr().cast(), self.len, new_len, flags) };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        self.ptr = NonNull::new(p.cast()).expect("mremap returned NULL");
        self.len = new_len;
        Ok(())
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly this mapping, which nothing uses after self.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A frame as the reader found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Its index in the ring.
    pub index: u32,
    pub status: u32,
    pub flags: u32,
    pub len: u32,
    pub snaplen: u32,
    pub sender_id: u64,
    pub drops: u32,
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    pub addr_len: u32,
    /// The first `addr_len` bytes of `addr` (at most sizeof(sockaddr_un)).
    pub addr: Vec<u8>,
    /// The first `snaplen` bytes of the message (at most what the frame holds).
    pub data: Vec<u8>,
}

impl Frame {
    /// What the ABI promises of every filled frame of a ring with frames of
    /// `fs` bytes, or what is wrong with it.
    pub fn check(&self, fs: u32) -> Result<(), String> {
        let room = fs - FRAME_DATA as u32;
        let bad = |what: &str| Err(format!("frame {}: {what}: {self:?}", self.index));
        if self.snaplen > room {
            return bad("snaplen beyond the frame");
        }
        if self.snaplen > self.len {
            return bad("snaplen beyond len");
        }
        if (self.flags & TRUNC != 0) != (self.snaplen < self.len) {
            return bad("TRUNC and snaplen < len disagree");
        }
        if self.snaplen < self.len && self.snaplen != room {
            return bad("truncated short of the frame's room");
        }
        if self.flags & !(TRUNC | CTRUNC | CREDS | EMPTY) != 0 {
            return bad("unknown flags");
        }
        if self.addr_len as usize > frame::ADDR_SIZE {
            return bad("addr_len beyond sockaddr_un");
        }
        Ok(())
    }

    /// The sender's address as `sys::SockAddr::bytes` shows one (the bytes
    /// after `sun_family`), and its family.
    pub fn addr_parts(&self) -> (Option<u16>, Vec<u8>) {
        if self.addr.len() < 2 {
            return (None, Vec::new());
        }
        (Some(u16::from_ne_bytes([self.addr[0], self.addr[1]])), self.addr[2..].to_vec())
    }
}

/// A reader of a socket's ring through one mapping of it. It takes frames
/// in order from frame 0, skips EMPTY ones, gives each back as it takes
/// it, and wakes waiting writers with `poll` when the header asks.
pub struct Ring {
    pub map: Map,
    fd: RawFd,
    pub fs: u32,
    pub fc: u32,
    pub frames_offset: usize,
    /// The next frame to take.
    pub next: u32,
}

impl Ring {
    /// Maps the ring `fd` has (its sizes from getsockopt). The descriptor
    /// must stay open while the reader polls it.
    pub fn map(fd: &impl AsRawFd) -> Result<Ring, String> {
        let (fs, fc, _) = get_ring(fd).map_err(|e| format!("getsockopt(MCAST_UNIX_RX_RING): {e:?}"))?;
        if fs == 0 {
            return Err("the socket has no ring".into());
        }
        let map = Map::new(fd, map_len(fs, fc), libc::MAP_SHARED, 0).map_err(|e| format!("mmap of the ring: {e:?}"))?;
        let frames_offset = map.load(hdr::FRAMES_OFFSET) as usize;
        if frames_offset < HDRLEN || frames_offset + fs as usize * fc as usize > map.len() {
            return Err(format!("frames_offset {frames_offset} does not fit a mapping of {} bytes", map.len()));
        }
        Ok(Ring { map, fd: fd.as_raw_fd(), fs, fc, frames_offset, next: 0 })
    }

    /// Sets a ring of `fc` frames of `fs` bytes on `fd` and maps it.
    pub fn new(fd: &impl AsRawFd, fs: u32, fc: u32) -> Result<Ring, String> {
        set_ring(fd, fs, fc).map_err(|e| format!("setsockopt(MCAST_UNIX_RX_RING, {fs}, {fc}): {e:?}"))?;
        Ring::map(fd)
    }

    /// Where frame `i` starts in the mapping.
    pub fn off(&self, i: u32) -> usize {
        self.frames_offset + (i % self.fc) as usize * self.fs as usize
    }

    pub fn status(&self, i: u32) -> u32 {
        self.map.load(self.off(i) + frame::STATUS)
    }

    pub fn set_status(&self, i: u32, v: u32) {
        self.map.store(self.off(i) + frame::STATUS, v)
    }

    pub fn writers_waiting(&self) -> u32 {
        self.map.load(hdr::WRITERS_WAITING)
    }

    /// Frame `i` as it is now (read after an acquire load of its status).
    pub fn peek(&self, i: u32) -> Frame {
        let o = self.off(i);
        let m = &self.map;
        let status = m.load(o + frame::STATUS);
        let snaplen = m.load(o + frame::SNAPLEN);
        let addr_len = m.load(o + frame::ADDR_LEN);
        let room = self.fs as usize - FRAME_DATA;
        Frame {
            index: i % self.fc,
            status,
            flags: m.load(o + frame::FLAGS),
            len: m.load(o + frame::LEN),
            snaplen,
            sender_id: m.load64(o + frame::SENDER_ID),
            drops: m.load(o + frame::DROPS),
            pid: m.load(o + frame::PID) as i32,
            uid: m.load(o + frame::UID),
            gid: m.load(o + frame::GID),
            addr_len,
            addr: m.read(o + frame::ADDR, (addr_len as usize).min(frame::ADDR_SIZE)),
            data: m.read(o + FRAME_DATA, (snaplen as usize).min(room)),
        }
    }

    /// Polls the socket with timeout 0, as a reader that gave frames back
    /// and found `writers_waiting` set does.
    pub fn kick(&self) {
        let mut p = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, 0) };
    }

    /// After giving frames back: wakes waiting writers if the header says
    /// there are any (the fence orders the status stores before the load).
    pub fn wake(&self) {
        fence(Ordering::SeqCst);
        if self.writers_waiting() != 0 {
            self.kick();
        }
    }

    /// Gives frame `i` back to the kernel.
    pub fn give_back(&self, i: u32) {
        self.set_status(i, KERNEL);
    }

    /// The next filled frame, if there is one: taken and given back (EMPTY
    /// frames are given back and skipped), waiting writers woken.
    pub fn try_next(&mut self) -> Option<Frame> {
        loop {
            if self.status(self.next) != USER {
                return None;
            }
            let f = self.peek(self.next);
            self.give_back(self.next);
            self.next = (self.next + 1) % self.fc;
            self.wake();
            if f.flags & EMPTY == 0 {
                return Some(f);
            }
        }
    }

    /// The next filled frame without giving it back (EMPTY frames before it
    /// are given back and skipped); `next` moves past it.
    pub fn take_keep(&mut self) -> Option<Frame> {
        loop {
            if self.status(self.next) != USER {
                return None;
            }
            let f = self.peek(self.next);
            self.next = (self.next + 1) % self.fc;
            if f.flags & EMPTY == 0 {
                return Some(f);
            }
            self.give_back(f.index);
            self.wake();
        }
    }

    /// The next filled frame, waiting in poll(POLLIN) up to `timeout`.
    pub fn next_within(&mut self, timeout: Duration) -> Result<Frame, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.try_next() {
                return Ok(f);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no frame at {} within {timeout:?}", self.next));
            }
            let mut p = libc::pollfd { fd: self.fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, left.as_millis().clamp(1, 1000) as i32) };
            if r < 0 && Errno::last() != Errno(libc::EINTR) {
                return Err(format!("poll: {:?}", Errno::last()));
            }
        }
    }

    /// Every frame filled now, in order, each given back.
    pub fn drain(&mut self) -> Vec<Frame> {
        std::iter::from_fn(|| self.try_next()).collect()
    }
}
