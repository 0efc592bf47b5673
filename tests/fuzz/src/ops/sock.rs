//! Creating, naming, connecting and closing: socket, socketpair, close, dup,
//! bind, connect, listen, accept, shutdown.

use super::{layout, opts, Ctx};
use crate::addr::{self, SockAddr};
use crate::pool::Kind;
use crate::rng::Args;
use crate::shared::Call;
use crate::sys;

/// A socket type argument: both real types most of the time, with random
/// creation flags; sometimes one the family refuses.
fn sock_type(c: &mut Ctx) -> (i32, i32) {
    let base = match c.rng.weighted(&[45, 45, 10]) {
        0 => libc::SOCK_DGRAM,
        1 => libc::SOCK_SEQPACKET,
        _ => c.rng.pick(&[libc::SOCK_STREAM, libc::SOCK_RAW, libc::SOCK_RDM, 0, 7, 11, -1, 0xffff]),
    };
    let mut ty = base;
    if c.rng.chance(50) {
        ty |= libc::SOCK_NONBLOCK;
    }
    if c.rng.chance(30) {
        ty |= libc::SOCK_CLOEXEC;
    }
    if c.rng.chance(3) {
        ty |= 1 << c.rng.range(4, 30);
    }
    (base, ty)
}

fn kind_of(c: &Ctx, domain: i32, base: i32) -> Kind {
    match (domain == c.env.family, base) {
        (true, libc::SOCK_SEQPACKET) => Kind::Seq,
        (true, _) => Kind::Dgram,
        _ => Kind::Other,
    }
}

/// Options a fresh socket may get before it is shared, so that receivers
/// with small buffers, credentials and filters are common.
pub fn configure(c: &mut Ctx, fd: i32) {
    if c.rng.chance(25) {
        let size = c.rng.pick(&[0, 256, 1024, 2304, 4096, 8192]);
        opts::set_int(c, fd, libc::SO_RCVBUF, size);
    }
    if c.rng.chance(20) {
        opts::set_int(c, fd, libc::SO_PASSCRED, 1);
    }
    if c.rng.chance(15) {
        opts::set_int(c, fd, libc::SO_RXQ_OVFL, 1);
    }
    if c.rng.chance(20) {
        opts::attach_filter(c, fd);
    }
}

pub fn socket(c: &mut Ctx) {
    // Now and then something that is not a socket of the family: AF_UNIX
    // (whose SCM_RIGHTS can carry our sockets), UDP, a pipe, an eventfd.
    if c.rng.chance(3) {
        let r = if c.rng.chance(50) {
            let p = c.b.misc.at(layout::SV);
            sys::pipe2(p, libc::O_NONBLOCK).map(|_| {
                let fds: [i32; 2] = c.b.misc.get(layout::SV);
                let _ = sys::close(fds[1]);
                fds[0] as i64
            })
        } else {
            sys::eventfd2(0, libc::EFD_NONBLOCK)
        };
        if let Ok(fd) = c.rec(Call::Socket, r) {
            c.pool.install(&mut c.rng, fd as i32, Kind::Other, 0);
        }
        return;
    }
    let family = c.env.family;
    let domain = match c.rng.weighted(&[85, 7, 3, 5]) {
        0 => family,
        1 => libc::AF_UNIX,
        2 => libc::AF_INET,
        _ => c.rng.pick(&[-1, 0, family + 1, 46, 255]),
    };
    let (mut base, mut ty) = sock_type(c);
    if domain == libc::AF_INET {
        // UDP only: a TCP socket's getsockopt(TCP_ZEROCOPY_RECEIVE) with
        // random bytes could remap this process's memory.
        base = libc::SOCK_DGRAM;
        ty = libc::SOCK_DGRAM | libc::SOCK_NONBLOCK;
    }
    let proto = if c.rng.chance(92) { 0 } else { c.rng.pick(&[1, -1, 17, 255, i32::MAX]) };
    if let Ok(fd) = c.rec(Call::Socket, sys::socket(domain, ty, if domain == libc::AF_INET { 0 } else { proto })) {
        let fd = fd as i32;
        c.set_timeouts(fd);
        configure(c, fd);
        let kind = kind_of(c, domain, base);
        c.pool.install(&mut c.rng, fd, kind, 0);
    }
}

pub fn socketpair(c: &mut Ctx) {
    let family = c.env.family;
    let domain = match c.rng.weighted(&[85, 10, 5]) {
        0 => family,
        1 => libc::AF_UNIX,
        _ => c.rng.pick(&[-1, 0, libc::AF_INET]),
    };
    let (base, ty) = sock_type(c);
    let proto = if c.rng.chance(95) { 0 } else { c.rng.pick(&[1, -1]) };
    let sv = if c.rng.chance(95) { c.b.misc.at(layout::SV) } else { c.bad_ptr() };
    if c.rec(Call::Socketpair, sys::socketpair(domain, ty, proto, sv)).is_ok() {
        let fds: [i32; 2] = c.b.misc.get(layout::SV);
        let kind = kind_of(c, domain, base);
        for fd in fds {
            c.set_timeouts(fd);
            if c.rng.chance(30) {
                configure(c, fd);
            }
            c.pool.install(&mut c.rng, fd, kind, 0);
        }
    }
}

pub fn close(c: &mut Ctx) {
    let s = c.rng.index(crate::pool::SLOTS);
    // Half of the time the slot keeps the stale number, so later calls on
    // it hit EBADF or whatever reused the number.
    let fd = if c.rng.chance(50) { c.pool.take(s) } else { c.pool.fd(s) };
    c.rec(Call::Close, sys::close(fd)).ok();
}

pub fn dup(c: &mut Ctx) {
    let src_slot = c.rng.index(crate::pool::SLOTS);
    let src = c.pool.fd(src_slot);
    let (kind, group) = (c.pool.kind(src_slot), c.pool.group(src_slot));
    match c.rng.below(4) {
        // Onto another slot's number: whatever was there is closed under
        // whoever was using it.
        0 | 1 => {
            let dst_slot = c.rng.index(crate::pool::SLOTS);
            let dst = c.pool.fd(dst_slot);
            let r = if c.rng.chance(60) {
                sys::dup2(src, dst)
            } else {
                let flags = c.rng.pick(&[libc::O_CLOEXEC, libc::O_CLOEXEC, 0, 1, -1]);
                sys::dup3(src, dst, flags)
            };
            if c.rec(Call::Dup, r).is_ok() {
                c.pool.retag(dst_slot, kind, group);
            }
        }
        2 => {
            if let Ok(fd) = c.rec(Call::Dup, sys::dup(src)) {
                c.pool.install(&mut c.rng, fd as i32, kind, group);
            }
        }
        _ => {
            let cmd = c.rng.pick(&[libc::F_DUPFD, libc::F_DUPFD_CLOEXEC]);
            let min = c.rng.pick(&[0, 3, 100, 1023, 1024, -1]);
            if let Ok(fd) = c.rec(Call::Dup, sys::fcntl_int(src, cmd, min)) {
                c.pool.install(&mut c.rng, fd as i32, kind, group);
            }
        }
    }
}

pub fn bind(c: &mut Ctx) {
    let (_, fd) = c.of(&[Kind::Dgram, Kind::Seq]);
    let a = addr::random(&mut c.rng, c.env.family);
    let p = c.addr_ptr(&a, layout::NAME);
    c.rec(Call::Bind, sys::bind(fd, p, a.len)).ok();
}

pub fn connect(c: &mut Ctx) {
    let (_, fd) = c.of(&[Kind::Dgram, Kind::Seq, Kind::Member, Kind::Other]);
    let a = if c.rng.chance(15) {
        // AF_UNSPEC: a datagram socket's disconnect.
        let mut a = SockAddr::abstract_(0, b"");
        a.len = c.rng.pick(&[0, 2, 16, 110]);
        a
    } else {
        addr::random(&mut c.rng, c.env.family)
    };
    let p = c.addr_ptr(&a, layout::NAME);
    c.rec(Call::Connect, sys::connect(fd, p, a.len)).ok();
}

pub fn listen(c: &mut Ctx) {
    let (_, fd) = c.of(&[Kind::Seq, Kind::SeqOwner, Kind::SeqClient]);
    let backlog =
        if c.rng.chance(70) { c.rng.pick(&[-1, 0, 1, 2, 8, 128, 4096, i32::MAX, i32::MIN]) } else { c.rng.int() };
    c.rec(Call::Listen, sys::listen(fd, backlog)).ok();
}

pub fn accept(c: &mut Ctx) {
    let (slot, fd) = c.of(&[Kind::SeqOwner, Kind::Seq]);
    let group = c.pool.group(slot);
    let (name, lenp) = match c.rng.below(3) {
        0 => (sys::UPtr::NULL, sys::UPtr::NULL),
        _ => {
            let len = c.rng.len_around(110);
            c.b.misc.put(layout::LEN, len);
            let lenp = if c.rng.chance(95) { c.b.misc.at(layout::LEN) } else { c.bad_ptr() };
            let name = if c.rng.chance(95) { c.b.misc.at(layout::RNAME) } else { c.bad_ptr() };
            (name, lenp)
        }
    };
    let r = if c.rng.chance(30) {
        sys::accept(fd, name, lenp)
    } else {
        let mut flags = 0;
        if c.rng.chance(50) {
            flags |= libc::SOCK_NONBLOCK;
        }
        if c.rng.chance(30) {
            flags |= libc::SOCK_CLOEXEC;
        }
        if c.rng.chance(3) {
            flags |= c.rng.u32() as i32;
        }
        sys::accept4(fd, name, lenp, flags)
    };
    if let Ok(new) = c.rec(Call::Accept, r) {
        let new = new as i32;
        c.set_timeouts(new);
        c.pool.install(&mut c.rng, new, Kind::Accepted, group);
    }
}

pub fn shutdown(c: &mut Ctx) {
    let fd = c.any();
    let how = if c.rng.chance(85) { c.rng.pick(&[0, 1, 2]) } else { c.rng.pick(&[3, -1, 100, i32::MIN]) };
    c.rec(Call::Shutdown, sys::shutdown(fd, how)).ok();
}
