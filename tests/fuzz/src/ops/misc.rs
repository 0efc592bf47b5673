//! Everything else a socket descriptor meets: ioctl, poll, epoll,
//! getsockname/getpeername, fcntl, and the file system under pathname
//! addresses (unlink, chmod).

use super::{layout, Ctx};
use crate::addr;
use crate::pool::{Kind, SLOTS};
use crate::rng::Args;
use crate::shared::Call;
use crate::sys::{self, PollFd};

const SIOCINQ: u32 = 0x541b; // FIONREAD
const SIOCOUTQ: u32 = 0x5411; // TIOCOUTQ
const FIONBIO: u32 = 0x5421;
const SIOCGSKNS: u32 = 0x894c; // returns a new descriptor
const F_SETSIG: i32 = 10;

/// Socket and generic ioctls with a pointer to a zeroed argument; none of
/// them reads a pointer out of zeroes.
const KNOWN: [u32; 17] = [
    0x8905, // SIOCATMARK
    0x8906, // SIOCGSTAMP_OLD
    0x8907, // SIOCGSTAMPNS_OLD
    0x5452, // FIOASYNC (with 0: off)
    0x5451, // FIOCLEX
    0x5450, // FIONCLEX
    0x8901, // FIOSETOWN (with 0: nobody)
    0x8902, // SIOCSPGRP
    0x8903, // FIOGETOWN
    0x8904, // SIOCGPGRP
    0x8912, // SIOCGIFCONF
    0x8910, // SIOCGIFNAME
    0x8933, // SIOCGIFINDEX
    0x8913, // SIOCGIFFLAGS
    0x89e0, // SIOCPROTOPRIVATE (AF_UNIX: SIOCUNIXFILE)
    0x5460, // FIOQSIZE
    SIOCGSKNS,
];

pub fn ioctl(c: &mut Ctx) {
    let fd = c.any();
    let cmd = match c.rng.weighted(&[30, 25, 8, 15, 12, 10]) {
        0 => SIOCINQ,
        1 => SIOCOUTQ,
        2 => FIONBIO,
        3 => c.rng.pick(&KNOWN),
        4 => 0x8900 + c.rng.below(256) as u32,
        _ => c.rng.u32(),
    };
    let arg = if c.rng.chance(8) {
        c.bad_ptr()
    } else {
        // Zeroed, so random commands find null pointers and empty names in
        // their argument structs; FIONBIO gets a random on/off.
        c.b.opt.zero(0, 4096);
        if cmd == FIONBIO {
            c.b.opt.put(0, c.rng.pick(&[0i32, 1, 1, -1]));
        }
        c.b.opt.at(0)
    };
    let r = c.rec(Call::Ioctl, sys::ioctl(fd, cmd, arg));
    if cmd == SIOCGSKNS {
        if let Ok(ns) = r {
            c.pool.install(&mut c.rng, ns as i32, Kind::Other, 0);
        }
    }
}

fn events(c: &mut Ctx) -> u32 {
    let mut e = 0u32;
    for (bit, p) in [
        (libc::EPOLLIN, 60),
        (libc::EPOLLOUT, 50),
        (libc::EPOLLPRI, 10),
        (libc::EPOLLRDHUP, 20),
        (libc::EPOLLERR, 10),
        (libc::EPOLLHUP, 10),
        (libc::EPOLLET, 20),
        (libc::EPOLLONESHOT, 10),
        (libc::EPOLLEXCLUSIVE, 5),
        (libc::EPOLLWAKEUP, 3),
    ] {
        if c.rng.chance(p) {
            e |= bit as u32;
        }
    }
    if c.rng.chance(3) {
        e = c.rng.u32();
    }
    e
}

pub fn poll(c: &mut Ctx) {
    let n = if c.rng.chance(5) { 0 } else { c.rng.range(1, 8) as usize };
    for k in 0..n {
        let fd = match c.rng.below(20) {
            0 => -1,
            1 => 999_999,
            _ => c.any(),
        };
        let ev = events(c) as i16;
        c.b.misc.put(layout::POLL + 8 * k, PollFd { fd, events: ev, revents: 0 });
    }
    let fds = if c.rng.chance(97) { c.b.misc.at(layout::POLL) } else { c.bad_ptr() };
    let timeout = c.rng.pick(&[0, 0, 0, 1, 2]);
    c.rec(Call::Poll, sys::poll(fds, n as u64, timeout)).ok();
}

/// `struct epoll_event` is packed on x86-64: u32 events, u64 data.
fn put_event(c: &mut Ctx, off: usize, events: u32, data: u64) {
    c.b.misc.put(off, events);
    c.b.misc.put(off + 4, data);
}

pub fn epoll(c: &mut Ctx) {
    let s = c.rng.index(SLOTS);
    let fd = if c.rng.chance(3) { c.epfd } else { c.pool.fd(s) };
    let op = match c.rng.weighted(&[40, 20, 20, 20]) {
        0 => libc::EPOLL_CTL_ADD,
        1 => libc::EPOLL_CTL_MOD,
        2 => libc::EPOLL_CTL_DEL,
        _ => 0,
    };
    if op != 0 {
        let ev = events(c);
        put_event(c, layout::EPOLL, ev, s as u64);
        let evp = if c.rng.chance(97) { c.b.misc.at(layout::EPOLL) } else { c.bad_ptr() };
        c.rec(Call::Epoll, sys::epoll_ctl(c.epfd, op, fd, evp)).ok();
    }
    if op == 0 || c.rng.chance(30) {
        let max = c.rng.pick(&[1, 4, 16, 64, 0, -1]);
        let timeout = c.rng.pick(&[0, 0, 1]);
        let evs = if c.rng.chance(97) { c.b.misc.at(layout::EPOLL) } else { c.bad_ptr() };
        c.rec(Call::Epoll, sys::epoll_wait(c.epfd, evs, max, timeout)).ok();
    }
}

pub fn getname(c: &mut Ctx) {
    let fd = c.any();
    let len = c.rng.len_around(110);
    c.b.misc.put(layout::LEN, len);
    let lenp = if c.rng.chance(95) { c.b.misc.at(layout::LEN) } else { c.bad_ptr() };
    let name = if c.rng.chance(96) { c.b.misc.at(layout::RNAME) } else { c.bad_ptr() };
    let r = if c.rng.chance(50) { sys::getsockname(fd, name, lenp) } else { sys::getpeername(fd, name, lenp) };
    c.rec(Call::Getname, r).ok();
}

pub fn fcntl(c: &mut Ctx) {
    let fd = c.any();
    let r = match c.rng.below(8) {
        0 => sys::fcntl_int(fd, libc::F_GETFL, 0),
        1 | 2 => {
            // Toggle O_NONBLOCK (blocking sockets keep their few-ms timeouts),
            // sometimes O_ASYNC (SIGIO is ignored).
            let mut fl = sys::fcntl_int(fd, libc::F_GETFL, 0).unwrap_or(0);
            fl ^= libc::O_NONBLOCK as i64;
            if c.rng.chance(20) {
                fl ^= libc::O_ASYNC as i64;
            }
            sys::fcntl_int(fd, libc::F_SETFL, fl)
        }
        3 => sys::fcntl_int(fd, libc::F_SETFD, c.rng.pick(&[0, libc::FD_CLOEXEC as i64])),
        // Signals go to this process only: SIGIO is ignored, SIGUSR1 is the
        // watchdog's no-op (it interrupts a call, which is a test too).
        4 => sys::fcntl_int(fd, libc::F_SETOWN, c.rng.pick(&[0, c.env.pid as i64])),
        5 => sys::fcntl_int(fd, F_SETSIG, c.rng.pick(&[0, libc::SIGUSR1 as i64, libc::SIGIO as i64])),
        6 => sys::fcntl_int(fd, libc::F_GETOWN, 0),
        _ => sys::fcntl_int(fd, libc::F_GETFD, 0),
    };
    c.rec(Call::Fcntl, r).ok();
}

/// unlink and chmod under the pathname addresses: lets paths be bound
/// again, and opens or closes them to the other user.
pub fn fs(c: &mut Ctx) {
    let path = addr::random_path(&mut c.rng);
    let r = if c.rng.chance(50) {
        std::fs::remove_file(&path)
    } else {
        use std::os::unix::fs::PermissionsExt;
        let mode = c.rng.pick(&[0o777, 0o777, 0o700, 0o000, 0o666, 0o755]);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
    };
    c.rec(Call::Fs, r.map(|_| 0).map_err(|e| e.raw_os_error().unwrap_or(0))).ok();
}
