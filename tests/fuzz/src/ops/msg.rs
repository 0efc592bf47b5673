//! Sending and receiving: sendto, sendmsg, sendmmsg, recvmsg, recvmmsg, read
//! and write, with random iovec arrays and ancillary data.

use super::{layout, Ctx};
use crate::addr::{self, SockAddr, NGROUPS};
use crate::pool::Kind;
use crate::rng::Args;
use crate::shared::Call;
use crate::sys::{self, cmsg_align, CmsgHdr, Iovec, MsgHdr, Region, UPtr, Ucred, CMSGHDR_SIZE, MMSGHDR_SIZE};

/// Kinds that usually have something queued.
pub const RECEIVERS: [Kind; 6] =
    [Kind::Member, Kind::SeqClient, Kind::Accepted, Kind::DgramOwner, Kind::Dgram, Kind::Seq];

/// An iovec array written at entry `first` of `iov` (room for `cap`
/// entries), pointing into `data` (send) or `rbuf` (receive). Bases and
/// lengths stay in the buffer or run into its guard page, so a receive never
/// writes outside the buffer. Returns the array pointer and the count.
pub fn build_iov(c: &mut Ctx, send: bool, first: usize, cap: usize) -> (UPtr, u64) {
    let blen = if send { c.b.data.len() } else { c.b.rbuf.len() };
    let at = |c: &Ctx, off: usize| if send { c.b.data.at(off) } else { c.b.rbuf.at(off) };
    // A base for `len` bytes that fit the buffer.
    let span = |c: &mut Ctx, len: usize| {
        let len = len.min(blen);
        let off = c.rng.index(blen - len + 1);
        if send {
            c.put_topic(off);
        }
        at(c, off).addr()
    };
    let mut v: Vec<Iovec> = Vec::new();
    let mut array = c.b.iov.at(first * 16);
    match c.rng.weighted(&[45, 4, 4, 20, 8, 2, 8, 9]) {
        0 => {
            let len = c.msg_size();
            v.push(Iovec { base: span(c, len), len: len as u64 });
        }
        1 => return (if c.rng.chance(50) { UPtr::NULL } else { array }, 0),
        2 => v.push(Iovec { base: span(c, 0), len: 0 }),
        3 => {
            for _ in 0..c.rng.range(2, 8) {
                let len = c.rng.below(513) as usize;
                v.push(Iovec { base: span(c, len), len: len as u64 });
            }
        }
        4 => {
            for _ in 0..c.rng.range(9, 1024.min(cap as u64).max(9)) {
                let len = c.rng.below(65) as usize;
                v.push(Iovec { base: span(c, len), len: len as u64 });
            }
        }
        // More than UIO_MAXIOV (1024): EMSGSIZE.
        5 => {
            for _ in 0..c.rng.range(1025, 2048).min(cap as u64) {
                v.push(Iovec { base: span(c, 8), len: 8 });
            }
        }
        6 => {
            for _ in 0..c.rng.range(1, 4) {
                let len = c.rng.range(1, 16384) as usize;
                v.push(Iovec { base: span(c, len), len: len as u64 });
            }
        }
        _ => match c.rng.below(6) {
            0 => v.push(Iovec { base: 0, len: c.rng.range(1, 100) }),
            1 => {
                let g = if send { c.b.data.guard() } else { c.b.rbuf.guard() };
                v.push(Iovec { base: g.addr(), len: c.rng.range(1, 100) });
            }
            // From the buffer into its guard page.
            2 => v.push(Iovec { base: at(c, blen - 10).addr(), len: 100 }),
            3 => {
                let len = c.rng.pick(&[u64::MAX, 1 << 62, i64::MAX as u64 + 1, 0x7fff_f000]);
                v.push(Iovec { base: span(c, 0), len });
            }
            4 => return (c.bad_ptr(), c.rng.range(1, 4)),
            // The array itself runs into the guard page of `iov`.
            _ => {
                let off = c.b.iov.len() - 16;
                let base = span(c, 16);
                c.b.iov.put(off, Iovec { base, len: 16 });
                return (c.b.iov.at(off), 2);
            }
        },
    }
    let n = v.len().min(cap);
    for (k, e) in v.iter().take(n).enumerate() {
        c.b.iov.put((first + k) * 16, *e);
    }
    if n == 0 {
        array = UPtr::NULL;
    }
    (array, n as u64)
}

/// Writes one `cmsghdr` with `data` at `off` in `ctl`; returns the offset
/// of the next header (CMSG_SPACE later).
fn put_cmsg(c: &mut Ctx, off: usize, len: u64, level: i32, kind: i32, data: &[u8]) -> usize {
    if off + CMSGHDR_SIZE + data.len() > c.b.ctl.len() {
        return off;
    }
    c.b.ctl.put(off, CmsgHdr { len, level, kind });
    c.b.ctl.write(off + CMSGHDR_SIZE, data);
    let next = off + cmsg_align((CMSGHDR_SIZE + data.len()) as u64) as usize;
    c.b.ctl.zero(off + CMSGHDR_SIZE + data.len(), next - off - CMSGHDR_SIZE - data.len());
    next
}

fn creds(c: &mut Ctx) -> Vec<u8> {
    let pid = if c.rng.chance(60) {
        c.env.pid
    } else {
        c.rng.pick_or(&[0, 1, sys::getppid(), 99999, -1], |r| r.u32() as i32)
    };
    let uid = if c.rng.chance(70) { c.env.uid } else { c.rng.pick_or(&[0, 65534, 1000, u32::MAX], |r| r.u32()) };
    let gid = if c.rng.chance(70) { c.env.gid } else { c.rng.pick_or(&[0, 65534, 1000, u32::MAX], |r| r.u32()) };
    let u = Ucred { pid, uid, gid };
    let mut b = Vec::with_capacity(12);
    b.extend_from_slice(&u.pid.to_ne_bytes());
    b.extend_from_slice(&u.uid.to_ne_bytes());
    b.extend_from_slice(&u.gid.to_ne_bytes());
    b
}

fn rights(c: &mut Ctx) -> Vec<u8> {
    let n = match c.rng.weighted(&[40, 30, 5, 5, 5]) {
        0 => 1,
        1 => c.rng.range(2, 8),
        2 => 0,
        3 => 253, // SCM_MAX_FD
        _ => c.rng.range(254, 300),
    };
    let mut b = Vec::new();
    for _ in 0..n {
        // Sockets of any family are refused (EOPNOTSUPP): pass pipes and
        // eventfds (Kind::Other) often enough that descriptors travel.
        let fd = match c.rng.weighted(&[45, 40, 15]) {
            0 => c.any(),
            1 => c.of(&[Kind::Other]).1,
            _ => c.rng.pick(&[-1, 1023, 999_999, i32::MIN]),
        };
        b.extend_from_slice(&fd.to_ne_bytes());
    }
    b
}

/// One well-formed-looking entry of a random kind at `off`; returns the
/// offset after it.
fn entry(c: &mut Ctx, off: usize) -> usize {
    match c.rng.weighted(&[35, 30, 15, 10, 10]) {
        0 => {
            let d = creds(c);
            put_cmsg(c, off, (CMSGHDR_SIZE + d.len()) as u64, libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &d)
        }
        1 => {
            let d = rights(c);
            put_cmsg(c, off, (CMSGHDR_SIZE + d.len()) as u64, libc::SOL_SOCKET, libc::SCM_RIGHTS, &d)
        }
        // Unknown levels are skipped by scm_send; unknown SOL_SOCKET types
        // are EINVAL.
        2 => {
            let level = c.rng.pick_or(&[0, 290, -1, 6, 17], |r| r.u32() as i32);
            let mut d = vec![0u8; c.rng.below(33) as usize];
            c.rng.fill(&mut d);
            let kind = c.rng.int();
            put_cmsg(c, off, (CMSGHDR_SIZE + d.len()) as u64, level, kind, &d)
        }
        3 => {
            let kind = c.rng.pick_or(&[0, 3, 29, 36, 37, 61, 78], |r| r.int());
            let d = [0u8; 8];
            put_cmsg(c, off, 24, libc::SOL_SOCKET, kind, &d)
        }
        // cmsg_len below the header size, but not 0.
        _ => {
            let d = creds(c);
            let len = c.rng.range(1, 15);
            put_cmsg(c, off, len, libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &d)
        }
    }
}

/// Ancillary data for a send, written at the start of `ctl`: none, the
/// real kinds (own and forged credentials, descriptors), unknown ones and
/// every malformation of the header walk. Returns pointer and length.
pub fn build_control(c: &mut Ctx) -> (UPtr, u64) {
    let known = !c.env.skip.cmsg;
    let ctl = c.b.ctl.at(0);
    // The two known hangs (zeroed, wrapping) are rare: each hit costs a
    // CPU of the VM for the rest of the run, and a second thread hitting
    // one before the others pause would take the other CPU too.
    let (p, len) = match c.rng.weighted(&[400, 140, 100, 60, 5, 40, 40, 60, 3, 40, 20, 20]) {
        0 => (if c.rng.chance(80) { UPtr::NULL } else { ctl }, 0),
        1 => {
            let d = creds(c);
            (ctl, put_cmsg(c, 0, 28, libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &d) as u64)
        }
        2 => {
            let d = rights(c);
            (ctl, put_cmsg(c, 0, (CMSGHDR_SIZE + d.len()) as u64, libc::SOL_SOCKET, libc::SCM_RIGHTS, &d) as u64)
        }
        3 => (ctl, entry(c, 0) as u64),
        // A zeroed control buffer: cmsg_len 0. The current module's header
        // walk never advances on it (a known hang).
        4 if known => {
            let n = c.rng.pick(&[16, 24, 32, 48, 64, 128]);
            c.b.ctl.zero(0, n);
            (ctl, n as u64)
        }
        // Shorter than one header.
        5 => {
            let n = c.rng.range(1, 15) as usize;
            c.b.ctl.fill_random(0, n, &mut c.rng);
            (ctl, n as u64)
        }
        // cmsg_len beyond msg_controllen.
        6 => {
            let d = creds(c);
            let len = c.rng.pick(&[29, 32, 1000, 1 << 20]);
            let end = put_cmsg(c, 0, len, libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &d);
            (ctl, c.rng.pick(&[20, 28, end as u64]))
        }
        7 => {
            let mut off = 0;
            for _ in 0..c.rng.range(2, 4) {
                off = entry(c, off);
            }
            (ctl, off as u64)
        }
        // A cmsg_len whose CMSG_ALIGN wraps to 0 or goes backwards (known:
        // the walk loops or reads before the buffer).
        8 if known => {
            let len = c.rng.pick(&[u64::MAX, u64::MAX - 6, u64::MAX - 15, u64::MAX - 31, 1 << 63]);
            let d = creds(c);
            let mut off = 0;
            if c.rng.chance(50) {
                off = entry(c, 0);
            }
            let end = put_cmsg(c, off, len, libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &d);
            (ctl, end as u64 + c.rng.pick(&[0, 16, 32]))
        }
        9 => {
            let n = c.rng.range(16, 512) as usize;
            c.b.ctl.fill_random(0, n, &mut c.rng);
            (ctl, n as u64)
        }
        // Beyond INT_MAX (ENOBUFS), beyond optmem_max, beyond the buffer.
        10 => {
            let _ = entry(c, 0);
            (ctl, c.rng.pick(&[1 << 31, 1 << 40, 20481, 65536, 0x7fff_ffff, u64::MAX]))
        }
        11 => (c.bad_ptr(), c.rng.range(16, 64)),
        _ => (UPtr::NULL, 0),
    };
    if c.env.skip.cmsg && p == ctl {
        sanitize(&mut c.b.ctl, len);
    }
    (p, len)
}

/// With `--skip-known`: walks the headers at the start of `ctl` as the
/// kernel's `for_each_cmsghdr` does (with its wrapping arithmetic) and
/// rewrites any `cmsg_len` that would not move the walk forward inside the
/// buffer; returns how many it rewrote.
fn sanitize(ctl: &mut Region, size: u64) -> usize {
    if size < CMSGHDR_SIZE as u64 || size > ctl.len() as u64 {
        return 0; // no walk: no first header, or the copy faults first
    }
    let mut off = 0u64;
    let mut fixed = 0;
    loop {
        let len: u64 = ctl.get(off as usize);
        let next = off.wrapping_add(cmsg_align(len));
        if next.wrapping_add(CMSGHDR_SIZE as u64) > size {
            return fixed; // __cmsg_nxthdr returns NULL: the walk ends
        }
        if next <= off || next >= size {
            ctl.put(off as usize, CMSGHDR_SIZE as u64);
            fixed += 1;
            continue;
        }
        off = next;
    }
}

/// Installs descriptors a receive passed in SCM_RIGHTS (the family's and
/// AF_UNIX sockets in the pool carry them) so they are used and eventually
/// closed.
fn take_rights(c: &mut Ctx, hdr_off: usize, ctl: UPtr) {
    let h: MsgHdr = c.b.misc.get(hdr_off);
    if h.control != ctl.addr() {
        return;
    }
    let size = (h.controllen as usize).min(c.b.ctl.len());
    let mut off = 0usize;
    while off + CMSGHDR_SIZE <= size {
        let m: CmsgHdr = c.b.ctl.get(off);
        if m.len < CMSGHDR_SIZE as u64 || m.len as usize > size - off {
            break;
        }
        if m.level == libc::SOL_SOCKET && m.kind == libc::SCM_RIGHTS {
            for k in 0..(m.len as usize - CMSGHDR_SIZE) / 4 {
                let fd: i32 = c.b.ctl.get(off + CMSGHDR_SIZE + 4 * k);
                if fd >= 0 {
                    c.pool.install(&mut c.rng, fd, Kind::Other, 0);
                }
            }
        }
        off += cmsg_align(m.len) as usize;
    }
}

/// A destination for a send: none, any address, or a group.
fn dest(c: &mut Ctx, off: usize) -> (UPtr, u32) {
    match c.rng.weighted(&[35, 50, 15]) {
        0 => (UPtr::NULL, if c.rng.chance(90) { 0 } else { c.rng.len_around(110) }),
        1 => {
            let a = addr::random(&mut c.rng, c.env.family);
            (c.addr_ptr(&a, off), a.len)
        }
        _ => {
            let a = SockAddr::group(c.env.family, c.rng.index(NGROUPS));
            (c.addr_ptr(&a, off), a.len)
        }
    }
}

pub fn sendto(c: &mut Ctx) {
    let fd = c.any();
    let (buf, len) = c.payload();
    let flags = c.send_flags();
    let (to, tolen) = dest(c, layout::NAME);
    c.rec(Call::Sendto, sys::sendto(fd, buf, len, flags, to, tolen)).ok();
}

/// A `struct msghdr` for a send at `hdr_off` in `misc`.
fn send_hdr(c: &mut Ctx, hdr_off: usize, name_off: usize, first: usize, cap: usize, control: bool) {
    let (name, namelen) = dest(c, name_off);
    let (iov, iovlen) = build_iov(c, true, first, cap);
    let (ctl, controllen) = if control { build_control(c) } else { (UPtr::NULL, 0) };
    let h = MsgHdr {
        name: name.addr(),
        namelen: namelen as i32,
        iov: iov.addr(),
        iovlen,
        control: ctl.addr(),
        controllen,
        flags: c.rng.u32(), // ignored on send
        ..Default::default()
    };
    c.b.misc.put(hdr_off, h);
}

/// `sendmsg` with everything random. Also used by the group operations with
/// a fixed destination.
pub fn sendmsg_to(c: &mut Ctx, fd: i32, to: Option<&SockAddr>, call: Call) -> sys::SysResult {
    send_hdr(c, layout::MSG, layout::NAME, 0, 2048, true);
    if let Some(a) = to {
        c.b.misc.write(layout::NAME, &a.bytes);
        let mut h: MsgHdr = c.b.misc.get(layout::MSG);
        h.name = c.b.misc.at(layout::NAME).addr();
        h.namelen = a.len as i32;
        c.b.misc.put(layout::MSG, h);
    }
    let msg = if c.rng.chance(98) { c.b.misc.at(layout::MSG) } else { c.bad_ptr() };
    let flags = c.send_flags();
    c.rec(call, sys::sendmsg(fd, msg, flags))
}

pub fn sendmsg(c: &mut Ctx) {
    let fd = c.any();
    sendmsg_to(c, fd, None, Call::Sendmsg).ok();
}

pub fn sendmmsg(c: &mut Ctx) {
    let fd = c.any();
    let vlen: u32 = match c.rng.weighted(&[90, 3, 4, 3]) {
        0 => c.rng.range(1, 4) as u32,
        1 => 0,
        2 => 8,
        // More than UIO_MAXIOV: the kernel caps it (and reads the garbage
        // after our 8 headers, which only costs it reads).
        _ => 1025,
    };
    for k in 0..vlen.min(8) as usize {
        send_hdr(c, layout::MSG + k * MMSGHDR_SIZE, layout::NAME + k * 128, k * 64, 64, k == 0);
    }
    let flags = c.send_flags();
    c.rec(Call::Sendmmsg, sys::sendmmsg(fd, c.b.misc.at(layout::MSG), vlen, flags)).ok();
}

/// A `struct msghdr` for a receive at `hdr_off`; control data (if any)
/// goes to the start of `ctl`, which is cleared so that nothing stale is
/// mistaken for passed descriptors.
fn recv_hdr(c: &mut Ctx, hdr_off: usize, name_off: usize, first: usize, cap: usize, control: bool) {
    let namelen = c.rng.len_around(110) as i32;
    let name = match c.rng.below(20) {
        0 => UPtr::NULL,
        1 => c.bad_ptr(),
        _ => c.b.misc.at(name_off),
    };
    let (iov, iovlen) = build_iov(c, false, first, cap);
    let (ctl, controllen) = if control && c.rng.chance(70) {
        let len = c.rng.pick(&[0, 1, 15, 16, 20, 24, 28, 32, 64, 256, 4096, 16384]);
        c.b.ctl.zero(0, 512);
        (if c.rng.chance(97) { c.b.ctl.at(0) } else { c.bad_ptr() }, len)
    } else {
        (UPtr::NULL, 0)
    };
    let h = MsgHdr {
        name: name.addr(),
        namelen,
        iov: iov.addr(),
        iovlen,
        control: ctl.addr(),
        controllen,
        flags: c.rng.u32(),
        ..Default::default()
    };
    c.b.misc.put(hdr_off, h);
}

/// `recvmsg` with everything random on `fd`, counted as `call`.
pub fn recvmsg_on(c: &mut Ctx, fd: i32, flags: i32, call: Call) -> sys::SysResult {
    recv_hdr(c, layout::MSG, layout::RNAME, 0, 2048, true);
    let r = c.rec(call, sys::recvmsg(fd, c.b.misc.at(layout::MSG), flags));
    if r.is_ok() {
        let ctl = c.b.ctl.at(0);
        take_rights(c, layout::MSG, ctl);
    }
    r
}

pub fn recvmsg(c: &mut Ctx) {
    let fd = if c.rng.chance(50) { c.any() } else { c.of(&RECEIVERS).1 };
    let flags = c.recv_flags();
    recvmsg_on(c, fd, flags, Call::Recvmsg).ok();
}

pub fn recvmmsg(c: &mut Ctx) {
    let fd = if c.rng.chance(50) { c.any() } else { c.of(&RECEIVERS).1 };
    // Never more headers than written: the kernel writes through each one.
    let vlen = if c.rng.chance(5) { 0 } else { c.rng.range(1, 4) as usize };
    for k in 0..vlen {
        recv_hdr(c, layout::MSG + k * MMSGHDR_SIZE, layout::RNAME + k * 256, k * 64, 64, k == 0);
    }
    let timeout = match c.rng.below(20) {
        0..=11 => UPtr::NULL,
        12..=17 => {
            c.b.misc.put(layout::TS, sys::Timespec { sec: 0, nsec: 1_000_000 });
            c.b.misc.at(layout::TS)
        }
        18 => {
            c.b.misc.put(layout::TS, sys::Timespec { sec: -1, nsec: 0 });
            c.b.misc.at(layout::TS)
        }
        _ => c.bad_ptr(),
    };
    let flags = c.recv_flags();
    let r = c.rec(Call::Recvmmsg, sys::recvmmsg(fd, c.b.misc.at(layout::MSG), vlen as u32, flags, timeout));
    if r.is_ok_and(|n| n > 0) {
        let ctl = c.b.ctl.at(0);
        take_rights(c, layout::MSG, ctl);
    }
}

pub fn read_write(c: &mut Ctx) {
    // write() takes no MSG_DONTWAIT: on a blocking socket it is a blocking
    // send, which --skip-known leaves out.
    if c.rng.chance(50) && !c.env.skip.blocking_send {
        let fd = c.any();
        let (buf, len) = c.payload();
        c.rec(Call::Write, sys::write(fd, buf, len)).ok();
    } else {
        let fd = c.of(&RECEIVERS).1;
        let len = c.msg_size();
        let off = c.rng.index(c.b.rbuf.len() - len + 1);
        let p = if c.rng.chance(97) { c.b.rbuf.at(off) } else { c.bad_ptr() };
        c.rec(Call::Read, sys::read(fd, p, len as u64)).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_leaves_a_walk_that_ends() {
        let mut r = Region::new(4096);
        // Zeroed: every header the walk reaches is rewritten to 16 bytes.
        r.zero(0, 64);
        assert_eq!(sanitize(&mut r, 64), 4);
        // A well-formed header followed by the end: untouched.
        r.zero(0, 64);
        r.put(0, CmsgHdr { len: 28, level: 1, kind: 2 });
        assert_eq!(sanitize(&mut r, 32), 0);
        // Lengths that wrap to 0 or step back before the buffer.
        for len in [u64::MAX, u64::MAX - 6, u64::MAX - 15, u64::MAX - 31] {
            r.zero(0, 64);
            r.put(0, CmsgHdr { len: 32, level: 1, kind: 2 });
            r.put(32, CmsgHdr { len, level: 1, kind: 2 });
            assert!(sanitize(&mut r, 64) >= 1, "len {len:#x}");
            assert!(r.get::<u64>(32) == 16, "len {len:#x}");
        }
        // Too short for a header, or larger than the buffer: no walk.
        assert_eq!(sanitize(&mut r, 15), 0);
        assert_eq!(sanitize(&mut r, 1 << 20), 0);
    }
}
