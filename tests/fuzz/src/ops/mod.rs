//! The operations a fuzzing thread picks from, and what they share.
//!
//! An operation is either one system call with random and boundary arguments
//! on whatever descriptor a random pool slot holds (`sock`, `msg`, `opts`,
//! `misc`), or a short sequence that builds the states plain random calls
//! hardly reach: a group with an owner, joined members, an admitted seqpacket
//! member, traffic to all of them (`groups`); receive rings set, mapped,
//! unmapped, scribbled on and read (`ring`).
//!
//! Nothing here may block for long: sends and receives mostly carry
//! `MSG_DONTWAIT`, every socket the fuzzer creates gets `SO_RCVTIMEO` and
//! `SO_SNDTIMEO` of a few milliseconds before anything else, and poll and
//! epoll use timeouts of 0-2 ms. The watchdog (`worker.rs`) interrupts
//! whatever still waits (a timeout set to "forever" by a fuzzed setsockopt,
//! a socket created by another thread before its timeouts were set).

mod groups;
mod misc;
mod msg;
mod opts;
mod ring;
mod sock;

pub use opts::load_bpf_programs;

use crate::addr::SockAddr;
use crate::mapping::Mapping;
use crate::pool::{Kind, Pool, POOL, SLOTS};
use crate::rng::Rng;
use crate::shared::{Call, Shared};
use crate::sys::{self, Region, SysResult, Timeval, UPtr};

/// What the threads of one worker process share and never change.
pub struct Env {
    pub family: i32,
    /// What to leave out because it is known to hang the current module.
    pub skip: Skip,
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// eBPF socket-filter programs for SO_ATTACH_BPF (loaded while root,
    /// inherited by the unprivileged process).
    pub bpf_progs: Vec<i32>,
    /// Inaccessible memory: pointers into it fault.
    pub unmapped: UPtr,
}

/// Known hangs of the current module that `--skip-known` leaves out.
#[derive(Clone, Copy, Default, Debug)]
pub struct Skip {
    /// Ancillary data whose `cmsg_len` does not move the module's header
    /// walk forward (zeroed buffers, lengths that wrap): the walk spins.
    pub cmsg: bool,
    /// Sends that may block: a blocking group send can spin instead of
    /// waiting (full SEND_TO_PEER owners).
    pub blocking_send: bool,
}

impl Skip {
    /// Parses `--skip-known[=cmsg,blocking-send]` (no list: both).
    pub fn parse(list: Option<&str>) -> Option<Skip> {
        let Some(list) = list else { return Some(Skip { cmsg: true, blocking_send: true }) };
        let mut s = Skip::default();
        for item in list.split(',') {
            match item {
                "cmsg" => s.cmsg = true,
                "blocking-send" => s.blocking_send = true,
                _ => return None,
            }
        }
        Some(s)
    }

    pub fn describe(self) -> String {
        let mut v = Vec::new();
        if self.cmsg {
            v.push("cmsg");
        }
        if self.blocking_send {
            v.push("blocking-send");
        }
        v.join(",")
    }
}

/// One thread's buffers (see `sys::Region`): the kernel reads and writes them
/// during calls; each has a guard page behind it.
pub struct Bufs {
    /// Payloads: random bytes.
    pub data: Region,
    /// Receive buffers.
    pub rbuf: Region,
    /// iovec arrays (up to 2048 entries).
    pub iov: Region,
    /// Ancillary data.
    pub ctl: Region,
    /// Message headers, addresses, lengths, pollfds, epoll events.
    pub misc: Region,
    /// Option values, ioctl arguments, filter programs.
    pub opt: Region,
}

/// Offsets in `Bufs::misc`.
pub mod layout {
    /// Up to 8 `struct mmsghdr`.
    pub const MSG: usize = 0;
    /// Addresses sent with messages: 8 × 128 bytes.
    pub const NAME: usize = 1024;
    /// Address buffers the kernel fills: 8 × 256 bytes.
    pub const RNAME: usize = 2048;
    /// Length arguments the kernel reads and writes (`socklen_t *`).
    pub const LEN: usize = 4096;
    /// `int sv[2]`, `int pipefd[2]`.
    pub const SV: usize = 4160;
    /// A `struct timespec`.
    pub const TS: usize = 4200;
    /// Up to 64 `struct pollfd`.
    pub const POLL: usize = 4352;
    /// Up to 64 `struct epoll_event` (12 bytes each on x86-64).
    pub const EPOLL: usize = 8192;
}

pub struct Ctx<'a> {
    pub rng: Rng,
    pub env: &'a Env,
    pub pool: &'a Pool,
    pub shared: &'a Shared,
    pub b: Bufs,
    /// This thread's epoll instance (made before any pool descriptor, so no
    /// slot ever holds its number).
    pub epfd: i32,
    /// This thread's mappings of receive rings (only this thread touches
    /// or unmaps them).
    pub rings: Vec<Mapping>,
    /// Sockets this thread gave a ring (numbers, as in the pool), with the
    /// group each joined, if known.
    pub ring_fds: Vec<(i32, Option<usize>)>,
}

/// The first four bytes of most payloads: the "topics" the generated filters
/// test for, so filters both keep and reject traffic.
pub const TOPICS: [u32; 4] = [1, 2, 3, 0xdead_beef];

impl<'a> Ctx<'a> {
    pub fn new(seed: u64, env: &'a Env, shared: &'a Shared, epfd: i32) -> Ctx<'a> {
        let mut rng = Rng::new(seed);
        let mut data = Region::new(128 << 10);
        let n = data.len();
        data.fill_random(0, n, &mut rng);
        let b = Bufs {
            data,
            rbuf: Region::new(64 << 10),
            iov: Region::new(32 << 10),
            ctl: Region::new(16 << 10),
            misc: Region::new(16 << 10),
            opt: Region::new(64 << 10),
        };
        Ctx { rng, env, pool: &POOL, shared, b, epfd, rings: Vec::new(), ring_fds: Vec::new() }
    }

    pub fn rec(&self, call: Call, r: SysResult) -> SysResult {
        self.shared.record(call, r);
        r
    }

    /// Whatever a random slot holds.
    pub fn any(&mut self) -> i32 {
        let s = self.rng.index(SLOTS);
        self.pool.fd(s)
    }

    /// A slot of one of these kinds (usually) and its descriptor.
    pub fn of(&mut self, kinds: &[Kind]) -> (usize, i32) {
        let s = self.pool.pick(&mut self.rng, kinds);
        (s, self.pool.fd(s))
    }

    /// A pointer the kernel must refuse: null, a low address, unmapped
    /// memory, a guard page.
    pub fn bad_ptr(&mut self) -> UPtr {
        match self.rng.below(4) {
            0 => UPtr::NULL,
            1 => UPtr::low(self.rng.u32() as u16),
            2 => self.env.unmapped,
            _ => self.b.misc.guard(),
        }
    }

    /// Writes `a` at `off` in `misc` and returns where the kernel should read
    /// it: usually there, sometimes a bad pointer or a copy whose tail runs
    /// into the guard page.
    pub fn addr_ptr(&mut self, a: &SockAddr, off: usize) -> UPtr {
        match self.rng.below(100) {
            0..=1 => UPtr::NULL,
            2..=3 => self.bad_ptr(),
            4..=5 => {
                let end = self.b.misc.len() - 8;
                self.b.misc.write(end, &a.bytes[..8]);
                self.b.misc.at(end)
            }
            _ => {
                self.b.misc.write(off, &a.bytes);
                self.b.misc.at(off)
            }
        }
    }

    /// Flags for a send: `MSG_DONTWAIT` most of the time (always with
    /// `--skip-known`: blocking group sends can spin in the current module);
    /// otherwise the socket's mode and its few-ms `SO_SNDTIMEO` decide.
    pub fn send_flags(&mut self) -> i32 {
        let mut f = 0;
        if self.rng.chance(80) {
            f |= libc::MSG_DONTWAIT;
        }
        for (bit, p) in [
            (libc::MSG_NOSIGNAL, 30),
            (libc::MSG_EOR, 4),
            (libc::MSG_OOB, 2),
            (libc::MSG_MORE, 4),
            (libc::MSG_CONFIRM, 2),
            (libc::MSG_TRUNC, 2),
            (libc::MSG_PEEK, 1),
        ] {
            if self.rng.chance(p) {
                f |= bit;
            }
        }
        if self.rng.chance(2) {
            f |= self.rng.u32() as i32;
        }
        if self.env.skip.blocking_send {
            f |= libc::MSG_DONTWAIT;
        }
        f
    }

    /// Flags for a receive: mostly non-blocking; a blocking one waits at
    /// most the socket's few-ms `SO_RCVTIMEO`.
    pub fn recv_flags(&mut self) -> i32 {
        let mut f = 0;
        for (bit, p) in [
            (libc::MSG_DONTWAIT, 85),
            (libc::MSG_PEEK, 10),
            (libc::MSG_TRUNC, 10),
            (libc::MSG_WAITALL, 4),
            (libc::MSG_CMSG_CLOEXEC, 10),
            (libc::MSG_ERRQUEUE, 2),
            (libc::MSG_OOB, 2),
        ] {
            if self.rng.chance(p) {
                f |= bit;
            }
        }
        if self.rng.chance(2) {
            f |= self.rng.u32() as i32;
        }
        f
    }

    /// Send flags for the group paths, where a blocking send meets
    /// back-pressure (waiting for full members, SO_SNDTIMEO, the watchdog's
    /// EINTR): without `MSG_DONTWAIT` half of the time.
    pub fn group_send_flags(&mut self) -> i32 {
        let f = self.send_flags();
        if self.rng.chance(50) && !self.env.skip.blocking_send {
            f & !libc::MSG_DONTWAIT
        } else {
            f
        }
    }

    /// A message size: mostly small, up to 64 KiB.
    pub fn msg_size(&mut self) -> usize {
        match self.rng.weighted(&[4, 26, 40, 20, 10]) {
            0 => 0,
            1 => self.rng.range(1, 16) as usize,
            2 => self.rng.range(17, 256) as usize,
            3 => self.rng.range(257, 4096) as usize,
            _ => self.rng.range(4097, 65536) as usize,
        }
    }

    /// A topic at `off` in `data`, most of the time.
    pub fn put_topic(&mut self, off: usize) {
        if off + 4 <= self.b.data.len() && self.rng.chance(75) {
            let t = self.rng.pick(&TOPICS);
            self.b.data.put(off, t);
        }
    }

    /// A payload in `data`: pointer and length; sometimes one the kernel
    /// must refuse or can only partly read.
    pub fn payload(&mut self) -> (UPtr, u64) {
        let len = self.msg_size();
        let max = self.b.data.len();
        match self.rng.below(100) {
            0..=1 => (UPtr::NULL, len as u64),
            2..=3 => (self.bad_ptr(), len.max(1) as u64),
            // Runs from the buffer into its guard page.
            4..=5 => (self.b.data.at(max - len / 2), len as u64),
            _ => {
                let off = self.rng.index(max - len + 1);
                self.put_topic(off);
                (self.b.data.at(off), len as u64)
            }
        }
    }

    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` of a few milliseconds, so that no
    /// wait of a blocking socket lasts (set before the socket is used).
    pub fn set_timeouts(&mut self, fd: i32) {
        for name in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
            let tv = Timeval { sec: 0, usec: self.rng.range(1000, 8000) as i64 };
            let off = self.b.opt.len() - 64;
            self.b.opt.put(off, tv);
            let p = self.b.opt.at(off);
            let _ = sys::setsockopt(fd, libc::SOL_SOCKET, name, p, std::mem::size_of::<Timeval>() as u32);
        }
    }

    /// A socket of the family with random creation flags and its timeouts.
    pub fn new_socket(&mut self, ty: i32) -> Option<i32> {
        let mut t = ty;
        if self.rng.chance(50) {
            t |= libc::SOCK_NONBLOCK;
        }
        if self.rng.chance(30) {
            t |= libc::SOCK_CLOEXEC;
        }
        let fd = self.rec(Call::Socket, sys::socket(self.env.family, t, 0)).ok()? as i32;
        self.set_timeouts(fd);
        Some(fd)
    }
}

pub struct Op {
    pub name: &'static str,
    pub weight: u32,
    pub run: fn(&mut Ctx),
}

/// The operation table. Weights favour the group sequences and the sends and
/// receives that keep traffic flowing, so deep states are common.
pub static OPS: &[Op] = &[
    Op { name: "socket", weight: 40, run: sock::socket },
    Op { name: "socketpair", weight: 12, run: sock::socketpair },
    Op { name: "close", weight: 25, run: sock::close },
    Op { name: "dup", weight: 15, run: sock::dup },
    Op { name: "fcntl", weight: 8, run: misc::fcntl },
    Op { name: "bind", weight: 25, run: sock::bind },
    Op { name: "connect", weight: 30, run: sock::connect },
    Op { name: "listen", weight: 12, run: sock::listen },
    Op { name: "accept", weight: 20, run: sock::accept },
    Op { name: "shutdown", weight: 10, run: sock::shutdown },
    Op { name: "sendto", weight: 35, run: msg::sendto },
    Op { name: "sendmsg", weight: 70, run: msg::sendmsg },
    Op { name: "sendmmsg", weight: 10, run: msg::sendmmsg },
    Op { name: "recvmsg", weight: 50, run: msg::recvmsg },
    Op { name: "recvmmsg", weight: 10, run: msg::recvmmsg },
    Op { name: "read/write", weight: 12, run: msg::read_write },
    Op { name: "setsockopt-mcast", weight: 45, run: opts::set_mcast },
    Op { name: "getsockopt-mcast", weight: 8, run: opts::get_mcast },
    Op { name: "setsockopt-socket", weight: 45, run: opts::set_sol },
    Op { name: "getsockopt-socket", weight: 25, run: opts::get_sol },
    Op { name: "sockopt-other-level", weight: 8, run: opts::other_level },
    Op { name: "ioctl", weight: 25, run: misc::ioctl },
    Op { name: "poll", weight: 20, run: misc::poll },
    Op { name: "epoll", weight: 20, run: misc::epoll },
    Op { name: "getname", weight: 15, run: misc::getname },
    Op { name: "fs", weight: 6, run: misc::fs },
    Op { name: "group-create", weight: 25, run: groups::create },
    Op { name: "group-join", weight: 45, run: groups::join },
    Op { name: "group-leave", weight: 12, run: groups::leave },
    Op { name: "group-admit", weight: 35, run: groups::admit },
    Op { name: "group-peer-filter", weight: 8, run: groups::peer_filter_op },
    Op { name: "group-send", weight: 130, run: groups::group_send },
    Op { name: "connected-send", weight: 30, run: groups::connected_send },
    Op { name: "member-send", weight: 50, run: groups::member_send },
    Op { name: "drain", weight: 110, run: groups::drain },
    Op { name: "ring-set", weight: 14, run: ring::set_ring },
    Op { name: "ring-mmap", weight: 10, run: ring::mmap },
    Op { name: "ring-munmap", weight: 6, run: ring::munmap },
    Op { name: "ring-scribble", weight: 8, run: ring::scribble },
    Op { name: "ring-consume", weight: 25, run: ring::consume },
];

pub fn weights() -> Vec<u32> {
    assert!(OPS.len() <= crate::shared::MAX_OPS);
    OPS.iter().map(|o| o.weight).collect()
}
