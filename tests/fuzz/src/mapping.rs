//! Mappings of sockets' receive rings (`MCAST_UNIX_RX_RING`), each owned by
//! the one fuzzing thread that made it.
//!
//! This is the only memory the fuzzer maps outside `sys::Region`, and the
//! only place that changes the memory map while threads run. It stays sound
//! because:
//! - a mapping is made with `mmap(NULL, ...)` (never `MAP_FIXED`), so no
//!   existing memory changes; `munmap` and `mremap` (never `MREMAP_FIXED`)
//!   are only given a range inside a live mapping of this type, which no
//!   other thread knows about;
//! - the memory is only touched through atomics, at offsets checked against
//!   the range that is still mapped (never against what the ring's header
//!   says: any thread or process with another mapping of the same ring
//!   scribbles on it), and only with the protection it was mapped with;
//! - no pointer into it is ever handed to the kernel.
//!
//! Offsets are from where the mapping started ([`Mapping::origin`]); a head
//! or tail unmapped, or a move by `mremap`, keeps them meaning the same
//! bytes of the ring.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::sys::{errno, SysResult, PAGE};

pub struct Mapping {
    /// Address of offset 0 (where the mapping started, even if that page
    /// has been unmapped since).
    origin: usize,
    /// The range still mapped: `lo..hi`.
    lo: usize,
    hi: usize,
    readable: bool,
    writable: bool,
    /// The ring's shape as `getsockopt` gave it when the mapping was made
    /// (0 if it gave none), and the frames' offset the header said then.
    pub frame_size: u32,
    pub frame_count: u32,
    pub frames_offset: usize,
    /// The next frame this thread's reader takes.
    pub next: u32,
    /// The descriptor number mapped (it may name something else by now).
    pub fd: i32,
    /// The group the ring's socket joined, if known (for traffic).
    pub group: Option<usize>,
}

impl Mapping {
    /// `mmap(NULL, len, prot, flags, fd, offset)`; `flags` must not hold
    /// `MAP_FIXED` or `MAP_FIXED_NOREPLACE` (checked).
    pub fn map(fd: i32, len: u64, prot: i32, flags: i32, offset: i64) -> Result<Mapping, i32> {
        assert!(flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) == 0, "no fixed mappings");
        // SAFETY: a new mapping at an address the kernel chooses: no
        // existing memory of the process changes.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len as usize, prot, flags, fd, offset) };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        let lo = p as usize;
        // The kernel maps whole pages (a length it accepted rounds up).
        let len = (len as usize).checked_next_multiple_of(PAGE).expect("a mapping beyond the address space");
        Ok(Mapping {
            origin: lo,
            lo,
            hi: lo + len,
            readable: prot & libc::PROT_READ != 0,
            writable: prot & libc::PROT_WRITE != 0,
            frame_size: 0,
            frame_count: 0,
            frames_offset: 0,
            next: 0,
            fd,
            group: None,
        })
    }

    /// Bytes still mapped.
    pub fn len(&self) -> usize {
        self.hi - self.lo
    }

    /// The word at offset `off`, if it is mapped, aligned and accessible.
    fn word(&self, off: usize, write: bool) -> Option<&AtomicU32> {
        let a = self.origin.checked_add(off)?;
        if !a.is_multiple_of(4) || a < self.lo || a.checked_add(4)? > self.hi || !self.readable || (write && !self.writable) {
            return None;
        }
        // SAFETY: mapped, aligned and accessible (checked); the mapping
        // outlives the reference (it ends with self), and this process
        // touches it only atomically.
        Some(unsafe { AtomicU32::from_ptr(a as *mut u32) })
    }

    /// An acquire load of the word at `off`, if it can be read.
    pub fn load(&self, off: usize) -> Option<u32> {
        self.word(off, false).map(|w| w.load(Ordering::Acquire))
    }

    /// A release store of `v` at `off`, if it can be written; true if done.
    pub fn store(&self, off: usize, v: u32) -> bool {
        self.word(off, true).map(|w| w.store(v, Ordering::Release)).is_some()
    }

    /// Unmaps `pages` pages at the head (`head`) or tail of the range still
    /// mapped, at most all but one.
    pub fn unmap_part(&mut self, pages: usize, head: bool) -> SysResult {
        let n = pages.min(self.len() / PAGE - 1) * PAGE;
        if n == 0 {
            return Ok(0);
        }
        let start = if head { self.lo } else { self.hi - n };
        // SAFETY: a page-aligned range inside this mapping, which no other
        // code refers to.
        if unsafe { libc::munmap(start as *mut libc::c_void, n) } != 0 {
            return Err(errno());
        }
        if head {
            self.lo += n;
        } else {
            self.hi -= n;
        }
        Ok(0)
    }

    /// `mremap` of the range still mapped to `new_len` bytes (`flags`: 0 or
    /// `MREMAP_MAYMOVE`); on success the mapping is the remapped range.
    pub fn remap(&mut self, new_len: u64, flags: i32) -> SysResult {
        assert!(flags & !libc::MREMAP_MAYMOVE == 0, "no fixed or other remaps");
        // SAFETY: remaps this mapping's range only, without MREMAP_FIXED: no
        // other memory of the process changes.
        let p = unsafe { libc::mremap(self.lo as *mut libc::c_void, self.len(), new_len as usize, flags) };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        let new_lo = p as usize;
        self.origin = new_lo.wrapping_sub(self.lo - self.origin);
        self.lo = new_lo;
        self.hi = new_lo + (new_len as usize).checked_next_multiple_of(PAGE).expect("a mapping beyond the address space");
        Ok(0)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps what is left of this mapping, which nothing uses
        // after self.
        unsafe { libc::munmap(self.lo as *mut libc::c_void, self.hi - self.lo) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memfd of `pages` pages, standing in for a ring socket.
    fn memfd(pages: usize) -> i32 {
        // SAFETY: plain calls creating and sizing a new descriptor.
        unsafe {
            let fd = libc::memfd_create(c"fz-mapping".as_ptr(), libc::MFD_CLOEXEC);
            assert!(fd >= 0);
            assert_eq!(libc::ftruncate(fd, (pages * PAGE) as i64), 0);
            fd
        }
    }

    #[test]
    fn offsets_keep_their_bytes_through_partial_unmaps_and_moves() {
        let fd = memfd(4);
        let mut m = Mapping::map(fd, 4 * PAGE as u64, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, 0).unwrap();
        assert_eq!(m.len(), 4 * PAGE);
        for p in 0..4 {
            assert!(m.store(p * PAGE, p as u32 + 10));
        }
        assert_eq!(m.load(4 * PAGE), None, "past the end");
        assert_eq!(m.load(2), None, "unaligned");
        m.unmap_part(1, true).unwrap();
        assert_eq!(m.load(0), None, "the unmapped head");
        assert_eq!(m.load(PAGE), Some(11));
        m.unmap_part(1, false).unwrap();
        assert_eq!(m.load(3 * PAGE), None, "the unmapped tail");
        assert_eq!(m.len(), 2 * PAGE);
        // Never the last page.
        m.unmap_part(8, true).unwrap();
        assert_eq!((m.len(), m.load(2 * PAGE)), (PAGE, Some(12)));
        // A move keeps offset 2 * PAGE on the same byte.
        m.remap(2 * PAGE as u64, libc::MREMAP_MAYMOVE).unwrap();
        assert_eq!(m.load(2 * PAGE), Some(12));
        // SAFETY: closes the memfd made above.
        unsafe { libc::close(fd) };
    }

    #[test]
    fn protections_are_honoured() {
        let fd = memfd(1);
        let ro = Mapping::map(fd, PAGE as u64, libc::PROT_READ, libc::MAP_SHARED, 0).unwrap();
        assert_eq!(ro.load(0), Some(0));
        assert!(!ro.store(0, 1), "read-only");
        let none = Mapping::map(fd, PAGE as u64, libc::PROT_NONE, libc::MAP_SHARED, 0).unwrap();
        assert_eq!(none.load(0), None);
        assert_eq!(Mapping::map(-1, PAGE as u64, libc::PROT_READ, libc::MAP_SHARED, 0).err(), Some(libc::EBADF));
        // SAFETY: closes the memfd made above.
        unsafe { libc::close(fd) };
    }
}
