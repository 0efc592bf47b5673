//! Socket options: the family's five group options (level SOL_MCAST_UNIX)
//! with every value shape, the SOL_SOCKET options the family has to cope
//! with (buffer sizes, credentials, filters, timeouts, ...), other levels,
//! and the classic BPF programs the filter options take.

use super::{layout, Ctx, TOPICS};
use crate::addr::{self, SockAddr, NGROUPS};
use crate::pool::Kind;
use crate::rng::{Args, Rng};
use crate::shared::Call;
use crate::sys::{self, BpfInsn, Region, SockFilter, SockFprog, Timeval, UPtr};
use mcast_unix::{
    MCAST_UNIX_ADMIT_MEMBER, MCAST_UNIX_CREATE_GROUP, MCAST_UNIX_DROP_WHEN_FULL, MCAST_UNIX_JOIN_GROUP,
    MCAST_UNIX_LEAVE_GROUP, MCAST_UNIX_LOOPBACK, MCAST_UNIX_PASS_SENDER_ID, MCAST_UNIX_PEER_FILTER, MCAST_UNIX_PEER_ID,
    MCAST_UNIX_SEND_TO_PEER, SOL_MCAST_UNIX,
};

/// Offsets in `Bufs::opt`: the value at 0, an int at `INT`, filter
/// programs from `PROG` (room for 4097 instructions).
const INT: usize = 8192;
const PROG: usize = 16 << 10;
pub const MREQ_SIZE: u32 = 120;
const FPROG_SIZE: u32 = std::mem::size_of::<SockFprog>() as u32;

/// `struct mcast_unix_mreq` bytes.
pub fn mreq_bytes(a: &SockAddr, address_len: u32, flags: u32) -> [u8; 120] {
    let mut m = [0u8; 120];
    m[..110].copy_from_slice(&a.bytes[..110]);
    m[112..116].copy_from_slice(&address_len.to_ne_bytes());
    m[116..120].copy_from_slice(&flags.to_ne_bytes());
    m
}

/// The mreq of group `g` at the start of `opt`.
pub fn put_group_mreq(c: &mut Ctx, g: usize, flags: u32) -> UPtr {
    let a = SockAddr::group(c.env.family, g);
    c.b.opt.write(0, &mreq_bytes(&a, a.len, flags));
    c.b.opt.at(0)
}

/// Membership flags: valid combinations, now and then unknown bits.
pub fn membership_flags(rng: &mut Rng) -> u32 {
    if rng.chance(95) {
        let mut f = 0;
        if rng.chance(50) {
            f |= MCAST_UNIX_DROP_WHEN_FULL;
        }
        if rng.chance(25) {
            f |= MCAST_UNIX_LOOPBACK;
        }
        if rng.chance(25) {
            f |= MCAST_UNIX_SEND_TO_PEER;
        }
        f
    } else {
        rng.pick_or(&[8, 0xff, u32::MAX, 1 << 31], |r| r.u32())
    }
}

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

// Classic BPF encoding (linux/filter.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const MSH: u16 = 0xa0;
const JEQ: u16 = 0x10;
const JGT: u16 = 0x20;
const JSET: u16 = 0x40;
const X: u16 = 0x08;
const RET_A: u16 = 0x10;
/// SKF_AD_OFF, SKF_NET_OFF, SKF_LL_OFF as u32.
const AD_OFF: u32 = 0xffff_f000;
const NET_OFF: u32 = 0xfff0_0000;
const LL_OFF: u32 = 0xffe0_0000;

/// A classic BPF program the kernel would accept, mostly.
fn plausible(rng: &mut Rng) -> Vec<SockFilter> {
    let n = rng.range(1, 16) as usize;
    let mut p = Vec::with_capacity(n + 1);
    for i in 0..n {
        let left = (n - i) as u64;
        let k_small = rng.below(64) as u32;
        let insn = match rng.below(12) {
            0 => stmt(
                LD | rng.pick(&[W, H, B]) | ABS,
                if rng.chance(80) {
                    k_small
                } else {
                    rng.pick_or(&[NET_OFF, LL_OFF, u32::MAX], |r| AD_OFF + 4 * r.below(16) as u32)
                },
            ),
            1 => stmt(LD | rng.pick(&[W, H, B]) | IND, k_small),
            2 => stmt(rng.pick(&[LD | W | LEN, LDX | W | LEN, LDX | B | MSH]), k_small),
            3 => stmt(rng.pick(&[LD | IMM, LDX | IMM]), rng.u32()),
            4 => stmt(rng.pick(&[ST, STX]), rng.below(16) as u32),
            5 => stmt(rng.pick(&[LD | MEM, LDX | MEM]), rng.below(16) as u32),
            6 | 7 => stmt(
                ALU | (rng.below(11) as u16) << 4 | rng.pick(&[0, X]),
                rng.pick_or(&[0, 1, 2, 31, 32], |r| r.u32()),
            ),
            8 | 9 => jump(
                JMP | rng.pick(&[0x00, JEQ, JGT, 0x30, JSET]) | rng.pick(&[0, X]),
                rng.u32() % 256,
                rng.below(left) as u8,
                rng.below(left) as u8,
            ),
            10 => stmt(MISC | rng.pick(&[0x00, 0x80]), 0),
            _ => stmt(RET | rng.pick(&[0, RET_A]), rng.pick(&[0, 1, 4, 0xffff, u32::MAX])),
        };
        p.push(insn);
    }
    if rng.chance(85) {
        p.push(stmt(RET | rng.pick(&[0, RET_A]), rng.pick(&[0, 8, 0xffff, u32::MAX])));
    }
    p
}

/// A program: useful filters (topic match, keep all, drop all, truncate)
/// most of the time, else random, garbage, ancillary loads, huge ones.
pub fn program(rng: &mut Rng) -> Vec<SockFilter> {
    match rng.weighted(&[25, 10, 8, 8, 25, 10, 8, 5, 1]) {
        0 => {
            // Topics are in native byte order; classic BPF loads big-endian.
            let t = u32::from_be_bytes(rng.pick(&TOPICS).to_ne_bytes());
            let op = rng.pick(&[JEQ, JEQ, JGT, JSET]);
            vec![stmt(LD | W | ABS, 0), jump(JMP | op, t, 0, 1), stmt(RET, rng.pick(&[0xffff, 16, 4])), stmt(RET, 0)]
        }
        1 => vec![stmt(RET, rng.pick(&[u32::MAX, 0xffff, 0x40000]))],
        2 => vec![stmt(RET, 0)],
        3 => vec![stmt(RET, rng.range(1, 64) as u32)],
        4 => plausible(rng),
        5 => (0..rng.range(1, 8))
            .map(|_| SockFilter { code: rng.u32() as u16, jt: rng.u32() as u8, jf: rng.u32() as u8, k: rng.u32() })
            .collect(),
        6 => {
            let ad = AD_OFF + 4 * rng.below(16) as u32;
            vec![stmt(LD | W | ABS, ad), jump(JMP | JEQ, 0, 0, 1), stmt(RET, 0xffff), stmt(RET | RET_A, 0)]
        }
        7 => {
            let n = rng.range(500, 4095) as usize;
            let mut p: Vec<SockFilter> = (0..n).map(|i| stmt(ALU | (i as u16 % 8) << 4, 1 + i as u32)).collect();
            p.push(stmt(RET | RET_A, 0));
            p
        }
        _ => vec![stmt(RET, 0xffff); 4097], // BPF_MAXINSNS + 1
    }
}

/// Writes `prog` and a `struct sock_fprog` for it (at the start of `opt`);
/// the length and pointer are sometimes wrong.
pub fn put_fprog(c: &mut Ctx, prog: &[SockFilter]) -> UPtr {
    for (i, insn) in prog.iter().enumerate() {
        c.b.opt.put(PROG + 8 * i, *insn);
    }
    let n = prog.len() as u16;
    let len =
        if c.rng.chance(90) { n } else { c.rng.pick(&[0, n.wrapping_add(1), n.wrapping_add(100), 4097, u16::MAX]) };
    let filter = if c.rng.chance(95) { c.b.opt.at(PROG) } else { c.bad_ptr() };
    c.b.opt.put(0, SockFprog { len, filter: filter.addr(), ..Default::default() });
    c.b.opt.at(0)
}

pub fn set_int(c: &mut Ctx, fd: i32, name: i32, v: i32) {
    c.b.opt.put(INT, v);
    let p = c.b.opt.at(INT);
    c.rec(Call::SetSol, sys::setsockopt(fd, libc::SOL_SOCKET, name, p, 4)).ok();
}

/// SO_ATTACH_FILTER with one of the useful programs.
pub fn attach_filter(c: &mut Ctx, fd: i32) {
    let prog = program(&mut c.rng);
    let p = put_fprog(c, &prog);
    c.rec(Call::SetSol, sys::setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, p, FPROG_SIZE)).ok();
}

/// Descriptors the family's options are meant for.
const OPT_TARGETS: [Kind; 6] = [Kind::Accepted, Kind::SeqOwner, Kind::DgramOwner, Kind::Member, Kind::Dgram, Kind::Seq];

pub fn set_mcast(c: &mut Ctx) {
    let (_, fd) = c.of(&OPT_TARGETS);
    let name = if c.rng.chance(85) {
        c.rng.pick(&[
            MCAST_UNIX_CREATE_GROUP,
            MCAST_UNIX_JOIN_GROUP,
            MCAST_UNIX_LEAVE_GROUP,
            MCAST_UNIX_ADMIT_MEMBER,
            MCAST_UNIX_PEER_FILTER,
            MCAST_UNIX_PASS_SENDER_ID,
        ])
    } else {
        c.rng.pick_or(&[0, MCAST_UNIX_PEER_ID, 8, -1, i32::MAX, i32::MIN, 290], |r| r.int())
    };
    let (val, exact) = match c.rng.weighted(&[30, 15, 20, 15, 15, 5]) {
        0 => {
            let g = c.rng.index(NGROUPS);
            let flags =
                if name == MCAST_UNIX_CREATE_GROUP && c.rng.chance(80) { 0 } else { membership_flags(&mut c.rng) };
            let a = SockAddr::group(c.env.family, g);
            let alen = if c.rng.chance(90) { a.len } else { c.rng.len_around(a.len) };
            c.b.opt.write(0, &mreq_bytes(&a, alen, flags));
            (c.b.opt.at(0), MREQ_SIZE)
        }
        1 => {
            let a = addr::random(&mut c.rng, c.env.family);
            let flags = membership_flags(&mut c.rng);
            c.b.opt.write(0, &mreq_bytes(&a, a.len, flags));
            (c.b.opt.at(0), MREQ_SIZE)
        }
        2 => {
            let f = membership_flags(&mut c.rng);
            c.b.opt.put(0, f);
            (c.b.opt.at(0), 4)
        }
        3 => {
            let prog = program(&mut c.rng);
            (put_fprog(c, &prog), FPROG_SIZE)
        }
        4 => {
            let n = c.rng.below(201) as usize;
            c.b.opt.fill_random(0, n, &mut c.rng);
            (c.b.opt.at(0), n as u32)
        }
        _ => (c.bad_ptr(), MREQ_SIZE),
    };
    let len = c.rng.len_around(exact);
    c.rec(Call::SetMcast, sys::setsockopt(fd, SOL_MCAST_UNIX, name, val, len)).ok();
}

pub fn get_mcast(c: &mut Ctx) {
    let (_, fd) = c.of(&OPT_TARGETS);
    // Every option (PASS_SENDER_ID and PEER_ID are readable) and a few beyond.
    let name = if c.rng.chance(70) { c.rng.range(0, 8) as i32 } else { c.rng.int() };
    let len = c.rng.len_around(MREQ_SIZE);
    c.b.misc.put(layout::LEN, len);
    let lenp = if c.rng.chance(95) { c.b.misc.at(layout::LEN) } else { c.bad_ptr() };
    let val = if c.rng.chance(95) { c.b.opt.at(0) } else { c.bad_ptr() };
    c.rec(Call::GetMcast, sys::getsockopt(fd, SOL_MCAST_UNIX, name, val, lenp)).ok();
}

/// A timeout: a few ms usually; "forever" (0), negative and out-of-range
/// values sometimes (the watchdog interrupts what then waits too long).
fn timeval(rng: &mut Rng) -> Timeval {
    if rng.chance(85) {
        Timeval { sec: 0, usec: rng.range(1, 20_000) as i64 }
    } else {
        rng.pick(&[
            Timeval { sec: 0, usec: 0 },
            Timeval { sec: -1, usec: 0 },
            Timeval { sec: 0, usec: -1 },
            Timeval { sec: 0, usec: 1_000_000 },
            Timeval { sec: i64::MAX, usec: 0 },
            Timeval { sec: 1, usec: 999_999 },
        ])
    }
}

pub fn set_sol(c: &mut Ctx) {
    let fd = if c.rng.chance(70) { c.of(&OPT_TARGETS).1 } else { c.any() };
    // (name, value writer); the writer returns the exact length.
    let name = c.rng.pick(&[
        libc::SO_RCVBUF,
        libc::SO_RCVBUF,
        libc::SO_SNDBUF,
        libc::SO_RCVBUFFORCE,
        libc::SO_SNDBUFFORCE,
        libc::SO_PASSCRED,
        libc::SO_PASSCRED,
        libc::SO_RXQ_OVFL,
        libc::SO_ATTACH_FILTER,
        libc::SO_ATTACH_FILTER,
        libc::SO_DETACH_FILTER,
        libc::SO_LOCK_FILTER,
        libc::SO_ATTACH_BPF,
        libc::SO_RCVTIMEO,
        libc::SO_SNDTIMEO,
        66, // SO_RCVTIMEO_NEW
        67, // SO_SNDTIMEO_NEW
        libc::SO_PEEK_OFF,
        libc::SO_RCVLOWAT,
        libc::SO_SNDLOWAT,
        libc::SO_TIMESTAMP,
        libc::SO_TIMESTAMPNS,
        libc::SO_TIMESTAMPING,
        libc::SO_LINGER,
        libc::SO_PRIORITY,
        libc::SO_MARK,
        libc::SO_BINDTODEVICE,
        libc::SO_PASSSEC,
        76, // SO_PASSPIDFD
        libc::SO_REUSEADDR,
        libc::SO_KEEPALIVE,
        libc::SO_OOBINLINE,
        libc::SO_BUSY_POLL,
        libc::SO_ZEROCOPY,
        73, // SO_RESERVE_MEM
        72, // SO_BUF_LOCK
        libc::SO_TXTIME,
        libc::SO_INCOMING_CPU,
        -1,
    ]);
    let name = if name == -1 { c.rng.pick_or(&[0, 80, 1000], |r| r.int()) } else { name };
    let exact: u32 = match name {
        libc::SO_ATTACH_FILTER => {
            let prog = program(&mut c.rng);
            put_fprog(c, &prog);
            FPROG_SIZE
        }
        libc::SO_RCVTIMEO | libc::SO_SNDTIMEO | 66 | 67 => {
            let tv = timeval(&mut c.rng);
            c.b.opt.put(0, tv);
            16
        }
        libc::SO_LINGER => {
            c.b.opt.put(0, [c.rng.pick(&[0, 1]), c.rng.pick(&[0, 1, 100, -1])]);
            8
        }
        libc::SO_ATTACH_BPF => {
            let fd = if !c.env.bpf_progs.is_empty() && c.rng.chance(70) {
                c.rng.pick(&c.env.bpf_progs)
            } else {
                let any = c.any();
                c.rng.pick(&[any, -1, 0])
            };
            c.b.opt.put(0, fd);
            4
        }
        libc::SO_BINDTODEVICE => {
            let names: [&[u8]; 4] = [b"lo\0", b"\0", b"fz-none\0", b"0123456789abcdefgh"];
            let n = c.rng.pick(&names);
            c.b.opt.write(0, n);
            n.len() as u32
        }
        libc::SO_TXTIME => {
            c.b.opt.put(0, [c.rng.pick(&[0u32, 1, 7, 11, u32::MAX]), c.rng.u32() & 7]);
            8
        }
        _ => {
            let v = match name {
                libc::SO_RCVBUF | libc::SO_SNDBUF | libc::SO_RCVBUFFORCE | libc::SO_SNDBUFFORCE => {
                    c.rng.pick_or(&[0, 1, 100, 256, 1024, 2048, 2304, 4096, 8192, 65536, 212_992, -1, i32::MAX], |r| {
                        r.int()
                    })
                }
                libc::SO_PASSCRED | libc::SO_RXQ_OVFL | libc::SO_LOCK_FILTER => c.rng.pick(&[0, 1, 1, 2, -1]),
                _ => c.rng.int(),
            };
            c.b.opt.put(0, v);
            4
        }
    };
    let len = c.rng.len_around(exact);
    let val = if c.rng.chance(96) { c.b.opt.at(0) } else { c.bad_ptr() };
    c.rec(Call::SetSol, sys::setsockopt(fd, libc::SOL_SOCKET, name, val, len)).ok();
}

pub fn get_sol(c: &mut Ctx) {
    let fd = if c.rng.chance(70) { c.of(&OPT_TARGETS).1 } else { c.any() };
    let (name, exact) = c.rng.pick_or(
        &[
            (libc::SO_PEERCRED, 12),
            (libc::SO_PEERCRED, 12),
            (libc::SO_ERROR, 4),
            (libc::SO_TYPE, 4),
            (libc::SO_DOMAIN, 4),
            (libc::SO_PROTOCOL, 4),
            (libc::SO_ACCEPTCONN, 4),
            (libc::SO_RCVBUF, 4),
            (libc::SO_SNDBUF, 4),
            (libc::SO_PASSCRED, 4),
            (libc::SO_RXQ_OVFL, 4),
            (libc::SO_PEERNAME, 128),
            (libc::SO_PEERGROUPS, 64),
            (libc::SO_PEERSEC, 64),
            (libc::SO_GET_FILTER, 64), // in instructions
            (libc::SO_MEMINFO, 36),
            (libc::SO_COOKIE, 8),
            (libc::SO_RCVTIMEO, 16),
            (67, 16), // SO_SNDTIMEO_NEW
            (libc::SO_LINGER, 8),
            (libc::SO_PEEK_OFF, 4),
            (libc::SO_RCVLOWAT, 4),
            (77, 4), // SO_PEERPIDFD: a new descriptor on success
            (libc::SO_BINDTODEVICE, 16),
            (71, 8), // SO_NETNS_COOKIE
        ],
        |r| (r.int(), 4),
    );
    let len = c.rng.len_around(exact);
    c.b.misc.put(layout::LEN, len);
    let lenp = if c.rng.chance(95) { c.b.misc.at(layout::LEN) } else { c.bad_ptr() };
    let val = if c.rng.chance(95) { c.b.opt.at(0) } else { c.bad_ptr() };
    let r = c.rec(Call::GetSol, sys::getsockopt(fd, libc::SOL_SOCKET, name, val, lenp));
    if name == 77 && r.is_ok() && val == c.b.opt.at(0) {
        let pidfd: i32 = c.b.opt.get(0);
        if pidfd >= 0 {
            c.pool.install(&mut c.rng, pidfd, Kind::Other, 0);
        }
    }
}

/// Levels the family does not implement: the socket layer or the module
/// must refuse them cleanly. Get values start zeroed, so no level can read
/// a pointer out of them.
pub fn other_level(c: &mut Ctx) {
    let fd = c.any();
    let level = c.rng.pick_or(&[0, 6, 17, 41, 263, 270, 289, 291, i32::MAX, -1], |r| r.int());
    let name = if c.rng.chance(70) { c.rng.below(80) as i32 } else { c.rng.int() };
    let len = c.rng.len_around(4);
    let r = if c.rng.chance(60) {
        c.b.opt.fill_random(0, 256, &mut c.rng);
        sys::setsockopt(fd, level, name, c.b.opt.at(0), len)
    } else {
        c.b.opt.zero(0, 4096);
        c.b.misc.put(layout::LEN, len);
        sys::getsockopt(fd, level, name, c.b.opt.at(0), c.b.misc.at(layout::LEN))
    };
    c.rec(Call::SetOther, r).ok();
}

/// Loads eBPF socket-filter programs (keep all, drop all, keep 8 bytes) for
/// SO_ATTACH_BPF. Needs privilege; an empty list otherwise.
pub fn load_bpf_programs() -> Vec<i32> {
    let mut r = Region::new(4096);
    let mut fds = Vec::new();
    r.write(64, b"GPL\0");
    for k in [0xffff, 0, 8] {
        // r0 = k; exit
        r.put(0, BpfInsn { code: 0xb7, regs: 0, off: 0, imm: k });
        r.put(8, BpfInsn { code: 0x95, regs: 0, off: 0, imm: 0 });
        r.zero(128, 128);
        r.put(128, 1u32); // BPF_PROG_TYPE_SOCKET_FILTER
        r.put(132, 2u32); // insn_cnt
        r.put(136, r.at(0).addr()); // insns
        r.put(144, r.at(64).addr()); // license
        if let Ok(fd) = sys::bpf(5, r.at(128), 128) {
            // BPF_PROG_LOAD
            fds.push(fd as i32);
        }
    }
    fds
}
