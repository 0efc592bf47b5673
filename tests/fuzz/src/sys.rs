//! The raw system-call layer.
//!
//! The fuzzer hands the kernel pointers to buffers it fills at random, to
//! guard pages and to nothing at all, and lets the kernel write through them.
//! To keep that sound, every pointer the kernel gets is a [`UPtr`], which can
//! only name:
//! - memory of a [`Region`]: an anonymous mapping that Rust only reads and
//!   writes by copying (no reference into it outlives a method call), so
//!   whatever the kernel writes there cannot alias a Rust object;
//! - the inaccessible guard page behind each region, or a reserved
//!   inaccessible area (the kernel gets `EFAULT`);
//! - null and small integers below `mmap_min_addr` (never mapped).
//!
//! The calls go through `syscall(2)` rather than the C library's wrappers:
//! musl's `sendmsg` copies the control buffer (at most 1024 bytes) and walks
//! it itself, which would hide the very headers the kernel should see.

use std::io;
use std::ptr;

/// A call's outcome: its return value, or the errno.
pub type SysResult = Result<i64, i32>;

pub const PAGE: usize = 4096;

pub fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// An address the kernel may read and write through (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UPtr(usize);

impl UPtr {
    pub const NULL: UPtr = UPtr(0);

    /// A small integer used as a pointer: below `mmap_min_addr` (4096 on
    /// x86-64), so never mapped.
    pub fn low(v: u16) -> UPtr {
        UPtr((v as usize) % PAGE)
    }

    pub fn addr(self) -> u64 {
        self.0 as u64
    }
}

/// Plain data: any bit pattern is a valid value, so it can be read back from
/// memory the kernel wrote.
///
/// # Safety
/// Implementors must be `repr(C)` (or primitive) types made only of integers,
/// without padding whose contents matter.
pub unsafe trait Pod: Copy {}

// SAFETY: integers: every bit pattern is valid.
unsafe impl Pod for u8 {}
// SAFETY: as above.
unsafe impl Pod for u16 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for i32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for i64 {}
// SAFETY: an array of integers.
unsafe impl Pod for [i32; 2] {}
// SAFETY: an array of integers.
unsafe impl Pod for [u32; 2] {}

/// Declares `repr(C)` kernel structures made only of integer fields (pointers
/// are `u64` user addresses) and marks them [`Pod`].
macro_rules! kernel_structs {
    ($($(#[$m:meta])* pub struct $name:ident { $(pub $f:ident: $t:ty),* $(,)? })*) => {$(
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Default, Debug)]
        pub struct $name { $(pub $f: $t),* }
        // SAFETY: repr(C) and, for every struct declared with this macro,
        // integer fields only without implicit padding: any bytes are valid.
        unsafe impl Pod for $name {}
    )*};
}

kernel_structs! {
    /// `struct user_msghdr` (64-bit lengths, unlike musl's `struct msghdr`).
    pub struct MsgHdr {
        pub name: u64,
        pub namelen: i32,
        pub pad0: i32,
        pub iov: u64,
        pub iovlen: u64,
        pub control: u64,
        pub controllen: u64,
        pub flags: u32,
        pub pad1: u32,
    }
    /// `struct mmsghdr`.
    pub struct MMsgHdr {
        pub hdr: MsgHdr,
        pub len: u32,
        pub pad: u32,
    }
    /// `struct iovec`.
    pub struct Iovec {
        pub base: u64,
        pub len: u64,
    }
    /// `struct cmsghdr` as the kernel lays it out (64-bit `cmsg_len`).
    pub struct CmsgHdr {
        pub len: u64,
        pub level: i32,
        pub kind: i32,
    }
    /// `struct pollfd`.
    pub struct PollFd {
        pub fd: i32,
        pub events: i16,
        pub revents: i16,
    }
    /// `struct sock_filter`: one classic BPF instruction.
    pub struct SockFilter {
        pub code: u16,
        pub jt: u8,
        pub jf: u8,
        pub k: u32,
    }
    /// `struct sock_fprog`.
    pub struct SockFprog {
        pub len: u16,
        pub pad0: u16,
        pub pad1: u32,
        pub filter: u64,
    }
    /// `struct ucred`.
    pub struct Ucred {
        pub pid: i32,
        pub uid: u32,
        pub gid: u32,
    }
    /// `struct timeval` (and `__kernel_sock_timeval`) on x86-64.
    pub struct Timeval {
        pub sec: i64,
        pub usec: i64,
    }
    /// `struct timespec`.
    pub struct Timespec {
        pub sec: i64,
        pub nsec: i64,
    }
    /// `struct bpf_insn`: one eBPF instruction (`regs` = src << 4 | dst).
    pub struct BpfInsn {
        pub code: u8,
        pub regs: u8,
        pub off: i16,
        pub imm: i32,
    }
}

pub const MMSGHDR_SIZE: usize = std::mem::size_of::<MMsgHdr>();
pub const CMSGHDR_SIZE: usize = std::mem::size_of::<CmsgHdr>();

/// `CMSG_ALIGN` with the kernel's (wrapping) arithmetic.
pub fn cmsg_align(len: u64) -> u64 {
    len.wrapping_add(7) & !7
}

/// Anonymous read-write memory followed by an inaccessible guard page, owned
/// by one thread. The kernel may write anywhere in it during a call; Rust
/// only copies in and out (see the module doc).
pub struct Region {
    base: *mut u8,
    len: usize,
}

impl Region {
    pub fn new(len: usize) -> Region {
        let len = len.div_ceil(PAGE) * PAGE;
        // SAFETY: a new private anonymous mapping; no existing memory changes.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len + PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(p != libc::MAP_FAILED, "mmap: {}", io::Error::last_os_error());
        // SAFETY: the last page belongs to the mapping just made.
        let r = unsafe { libc::mprotect(p.cast::<u8>().add(len).cast(), PAGE, libc::PROT_NONE) };
        assert_eq!(r, 0, "mprotect: {}", io::Error::last_os_error());
        Region { base: p.cast(), len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// A user pointer `off` bytes in; anywhere up to the end of the guard
    /// page, so accesses may run from the region into the guard.
    pub fn at(&self, off: usize) -> UPtr {
        assert!(off < self.len + PAGE, "offset {off} outside the region");
        UPtr(self.base as usize + off)
    }

    /// The guard page: any access faults.
    pub fn guard(&self) -> UPtr {
        self.at(self.len)
    }

    fn check(&self, off: usize, n: usize) {
        assert!(off.checked_add(n).is_some_and(|end| end <= self.len), "{off}+{n} outside the region");
    }

    pub fn put<T: Pod>(&mut self, off: usize, v: T) {
        self.check(off, std::mem::size_of::<T>());
        // SAFETY: in bounds (checked); unaligned write of plain data.
        unsafe { ptr::write_unaligned(self.base.add(off).cast::<T>(), v) }
    }

    pub fn get<T: Pod>(&self, off: usize) -> T {
        self.check(off, std::mem::size_of::<T>());
        // SAFETY: in bounds (checked); T is Pod, so any bytes are a valid T.
        unsafe { ptr::read_unaligned(self.base.add(off).cast::<T>()) }
    }

    pub fn write(&mut self, off: usize, bytes: &[u8]) {
        self.check(off, bytes.len());
        // SAFETY: in bounds (checked); `bytes` is Rust memory, not the region.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(off), bytes.len()) }
    }

    pub fn zero(&mut self, off: usize, n: usize) {
        self.check(off, n);
        // SAFETY: in bounds (checked).
        unsafe { ptr::write_bytes(self.base.add(off), 0, n) }
    }

    pub fn fill_random(&mut self, off: usize, n: usize, rng: &mut crate::rng::Rng) {
        self.check(off, n);
        // SAFETY: in bounds (checked); the slice lives only inside this call,
        // during which no system call runs.
        let s = unsafe { std::slice::from_raw_parts_mut(self.base.add(off), n) };
        rng.fill(s);
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no UPtr into it is
        // used after the region's owner (one thread's buffers) is dropped.
        unsafe { libc::munmap(self.base.cast(), self.len + PAGE) };
    }
}

/// An inaccessible area that stays reserved for the life of the process, so
/// pointers into it fault rather than hit something mapped later.
pub fn reserve_unmapped(len: usize) -> UPtr {
    // SAFETY: a new anonymous PROT_NONE mapping; never unmapped.
    let p =
        unsafe { libc::mmap(ptr::null_mut(), len, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
    assert!(p != libc::MAP_FAILED, "mmap: {}", io::Error::last_os_error());
    UPtr(p as usize)
}

/// Issues a system call whose arguments are integers and [`UPtr`]s.
fn raw(nr: libc::c_long, a: [u64; 6]) -> SysResult {
    // SAFETY: callers below pass only integers and UPtr addresses. The kernel
    // validates user pointers, and a UPtr names only region memory (which no
    // Rust reference covers while the call runs), guard pages, reserved
    // inaccessible memory or unmapped low addresses. None of the calls made
    // through here changes the memory map or the control flow of the process.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as i64)
    }
}

fn i(v: i32) -> u64 {
    v as i64 as u64
}

pub fn socket(domain: i32, ty: i32, proto: i32) -> SysResult {
    raw(libc::SYS_socket, [i(domain), i(ty), i(proto), 0, 0, 0])
}
pub fn socketpair(domain: i32, ty: i32, proto: i32, sv: UPtr) -> SysResult {
    raw(libc::SYS_socketpair, [i(domain), i(ty), i(proto), sv.addr(), 0, 0])
}
pub fn close(fd: i32) -> SysResult {
    raw(libc::SYS_close, [i(fd), 0, 0, 0, 0, 0])
}
pub fn dup(fd: i32) -> SysResult {
    raw(libc::SYS_dup, [i(fd), 0, 0, 0, 0, 0])
}
pub fn dup2(old: i32, new: i32) -> SysResult {
    raw(libc::SYS_dup2, [i(old), i(new), 0, 0, 0, 0])
}
pub fn dup3(old: i32, new: i32, flags: i32) -> SysResult {
    raw(libc::SYS_dup3, [i(old), i(new), i(flags), 0, 0, 0])
}
/// `fcntl` with an integer argument (only commands that take one are used).
pub fn fcntl_int(fd: i32, cmd: i32, arg: i64) -> SysResult {
    raw(libc::SYS_fcntl, [i(fd), i(cmd), arg as u64, 0, 0, 0])
}
pub fn bind(fd: i32, addr: UPtr, len: u32) -> SysResult {
    raw(libc::SYS_bind, [i(fd), addr.addr(), len as u64, 0, 0, 0])
}
pub fn connect(fd: i32, addr: UPtr, len: u32) -> SysResult {
    raw(libc::SYS_connect, [i(fd), addr.addr(), len as u64, 0, 0, 0])
}
pub fn listen(fd: i32, backlog: i32) -> SysResult {
    raw(libc::SYS_listen, [i(fd), i(backlog), 0, 0, 0, 0])
}
pub fn accept(fd: i32, addr: UPtr, lenp: UPtr) -> SysResult {
    raw(libc::SYS_accept, [i(fd), addr.addr(), lenp.addr(), 0, 0, 0])
}
pub fn accept4(fd: i32, addr: UPtr, lenp: UPtr, flags: i32) -> SysResult {
    raw(libc::SYS_accept4, [i(fd), addr.addr(), lenp.addr(), i(flags), 0, 0])
}
pub fn shutdown(fd: i32, how: i32) -> SysResult {
    raw(libc::SYS_shutdown, [i(fd), i(how), 0, 0, 0, 0])
}
pub fn sendto(fd: i32, buf: UPtr, len: u64, flags: i32, addr: UPtr, alen: u32) -> SysResult {
    raw(libc::SYS_sendto, [i(fd), buf.addr(), len, i(flags), addr.addr(), alen as u64])
}
pub fn recvfrom(fd: i32, buf: UPtr, len: u64, flags: i32, addr: UPtr, alenp: UPtr) -> SysResult {
    raw(libc::SYS_recvfrom, [i(fd), buf.addr(), len, i(flags), addr.addr(), alenp.addr()])
}
pub fn sendmsg(fd: i32, msg: UPtr, flags: i32) -> SysResult {
    raw(libc::SYS_sendmsg, [i(fd), msg.addr(), i(flags), 0, 0, 0])
}
pub fn recvmsg(fd: i32, msg: UPtr, flags: i32) -> SysResult {
    raw(libc::SYS_recvmsg, [i(fd), msg.addr(), i(flags), 0, 0, 0])
}
pub fn sendmmsg(fd: i32, msgs: UPtr, vlen: u32, flags: i32) -> SysResult {
    raw(libc::SYS_sendmmsg, [i(fd), msgs.addr(), vlen as u64, i(flags), 0, 0])
}
pub fn recvmmsg(fd: i32, msgs: UPtr, vlen: u32, flags: i32, timeout: UPtr) -> SysResult {
    raw(libc::SYS_recvmmsg, [i(fd), msgs.addr(), vlen as u64, i(flags), timeout.addr(), 0])
}
pub fn write(fd: i32, buf: UPtr, len: u64) -> SysResult {
    raw(libc::SYS_write, [i(fd), buf.addr(), len, 0, 0, 0])
}
pub fn read(fd: i32, buf: UPtr, len: u64) -> SysResult {
    raw(libc::SYS_read, [i(fd), buf.addr(), len, 0, 0, 0])
}
pub fn setsockopt(fd: i32, level: i32, name: i32, val: UPtr, len: u32) -> SysResult {
    raw(libc::SYS_setsockopt, [i(fd), i(level), i(name), val.addr(), len as u64, 0])
}
pub fn getsockopt(fd: i32, level: i32, name: i32, val: UPtr, lenp: UPtr) -> SysResult {
    raw(libc::SYS_getsockopt, [i(fd), i(level), i(name), val.addr(), lenp.addr(), 0])
}
pub fn ioctl(fd: i32, cmd: u32, arg: UPtr) -> SysResult {
    raw(libc::SYS_ioctl, [i(fd), cmd as u64, arg.addr(), 0, 0, 0])
}
pub fn poll(fds: UPtr, n: u64, timeout_ms: i32) -> SysResult {
    raw(libc::SYS_poll, [fds.addr(), n, i(timeout_ms), 0, 0, 0])
}
pub fn epoll_create1(flags: i32) -> SysResult {
    raw(libc::SYS_epoll_create1, [i(flags), 0, 0, 0, 0, 0])
}
pub fn epoll_ctl(ep: i32, op: i32, fd: i32, ev: UPtr) -> SysResult {
    raw(libc::SYS_epoll_ctl, [i(ep), i(op), i(fd), ev.addr(), 0, 0])
}
pub fn epoll_wait(ep: i32, evs: UPtr, max: i32, timeout_ms: i32) -> SysResult {
    raw(libc::SYS_epoll_wait, [i(ep), evs.addr(), i(max), i(timeout_ms), 0, 0])
}
pub fn getsockname(fd: i32, addr: UPtr, lenp: UPtr) -> SysResult {
    raw(libc::SYS_getsockname, [i(fd), addr.addr(), lenp.addr(), 0, 0, 0])
}
pub fn getpeername(fd: i32, addr: UPtr, lenp: UPtr) -> SysResult {
    raw(libc::SYS_getpeername, [i(fd), addr.addr(), lenp.addr(), 0, 0, 0])
}
pub fn pipe2(fds: UPtr, flags: i32) -> SysResult {
    raw(libc::SYS_pipe2, [fds.addr(), i(flags), 0, 0, 0, 0])
}
pub fn eventfd2(initval: u32, flags: i32) -> SysResult {
    raw(libc::SYS_eventfd2, [initval as u64, i(flags), 0, 0, 0, 0])
}
/// `bpf(cmd, attr, size)`.
pub fn bpf(cmd: i32, attr: UPtr, size: u32) -> SysResult {
    raw(libc::SYS_bpf, [i(cmd), attr.addr(), size as u64, 0, 0, 0])
}
pub fn gettid() -> i32 {
    raw(libc::SYS_gettid, [0; 6]).unwrap_or(0) as i32
}
pub fn getpid() -> i32 {
    raw(libc::SYS_getpid, [0; 6]).unwrap_or(0) as i32
}
pub fn getppid() -> i32 {
    raw(libc::SYS_getppid, [0; 6]).unwrap_or(0) as i32
}
pub fn getuid() -> u32 {
    raw(libc::SYS_getuid, [0; 6]).unwrap_or(0) as u32
}
pub fn getgid() -> u32 {
    raw(libc::SYS_getgid, [0; 6]).unwrap_or(0) as u32
}
/// Sends `sig` to thread `tid` of process `tgid`.
pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> SysResult {
    raw(libc::SYS_tgkill, [i(tgid), i(tid), i(sig), 0, 0, 0])
}

/// CLOCK_MONOTONIC in milliseconds: one clock for every process of the run.
pub fn now_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn kernel_layouts() {
        assert_eq!(size_of::<MsgHdr>(), 56);
        assert_eq!(MMSGHDR_SIZE, 64);
        assert_eq!(CMSGHDR_SIZE, 16);
        assert_eq!(size_of::<SockFprog>(), 16);
        assert_eq!(size_of::<SockFilter>(), 8);
        assert_eq!(size_of::<PollFd>(), 8);
        assert_eq!(size_of::<BpfInsn>(), 8);
    }

    #[test]
    fn cmsg_align_wraps_like_the_kernel() {
        assert_eq!(cmsg_align(0), 0);
        assert_eq!(cmsg_align(1), 8);
        assert_eq!(cmsg_align(16), 16);
        assert_eq!(cmsg_align(u64::MAX), 0);
        assert_eq!(cmsg_align(u64::MAX - 15), u64::MAX - 15);
    }

    #[test]
    fn region_guard_faults_for_the_kernel() {
        let mut r = Region::new(100);
        assert_eq!(r.len(), PAGE);
        r.put(0, 42u32);
        assert_eq!(r.get::<u32>(0), 42);
        // A read(2) into the guard page fails with EFAULT instead of writing
        // (a pipe keeps the data when the copy fails).
        pipe2(r.at(64), libc::O_NONBLOCK).unwrap();
        let [rd, wr]: [i32; 2] = r.get(64);
        r.put(0, 5u64);
        assert_eq!(write(wr, r.at(0), 8), Ok(8));
        assert_eq!(read(rd, r.guard(), 8), Err(libc::EFAULT));
        r.put(0, 0u64);
        assert_eq!(read(rd, r.at(0), 8), Ok(8));
        assert_eq!(r.get::<u64>(0), 5);
        close(rd).unwrap();
        close(wr).unwrap();
    }
}
