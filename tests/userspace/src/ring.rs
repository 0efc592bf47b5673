//! The mapped receive ring, `MCAST_UNIX_RX_RING` (the "Receive ring"
//! comment of include/uapi/linux/mcast_unix.h): the option and its errors,
//! the mapping and its errors, what lands in frames (group copies of
//! datagram and seqpacket groups, unicast, SEND_TO_PEER copies; truncation,
//! filters, credentials, sender ids and addresses, descriptors closed),
//! full rings (drops counted, senders held back and woken through
//! `writers_waiting`), poll, recv refused, a hostile reader, and the mapping
//! outliving the socket (close, munmap, fork). Frames are read through raw
//! memory (ringmap.rs).

use crate::harness::{expect_eq, Case, CaseResult};
use crate::mcast::*;
use crate::ringmap::{self, frame, hdr, Frame, Map, Ring, CREDS, CTRUNC, EMPTY, FRAME_DATA, KERNEL, TRUNC, USER};
use crate::seqgroups::Bus;
use crate::sys::{self, Errno, IntoSys};
use crate::{case, ensure};
use mcast_unix::{Addr, Socket, MCAST_UNIX_DROP_WHEN_FULL as DROP, MCAST_UNIX_SEND_TO_PEER as TO_PEER};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type R<T> = Result<T, String>;

const D: i32 = libc::SOCK_DGRAM;
const S: i32 = libc::SOCK_SEQPACKET;
const DONTWAIT: i32 = libc::MSG_DONTWAIT;

/// A datagram socket bound to a fresh abstract address.
fn bound(af: i32) -> (Socket, Addr) {
    let s = sock(af, D);
    let a = fresh("ring");
    s.bind(&a).sys().expect("bind");
    (s, a)
}

/// A datagram member of the group at `a`.
fn member(af: i32, a: &Addr, flags: u32) -> Socket {
    let m = sock(af, D);
    join(&m, a, flags).expect("join");
    m
}

/// getsockopt(SO_RCVBUF).
fn rcvbuf(s: &Socket) -> usize {
    sys::getsockopt_int(s, libc::SOL_SOCKET, libc::SO_RCVBUF).expect("SO_RCVBUF") as usize
}

/// SO_RCVBUFFORCE of `n` bytes (root).
fn force_rcvbuf(s: &Socket, n: i32) {
    setopt(s, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &n.to_ne_bytes()).expect("SO_RCVBUFFORCE");
}

/// The module's reference count.
fn refcnt() -> R<u64> {
    let s = std::fs::read_to_string("/sys/module/mcast_unix/refcnt").map_err(|e| format!("refcnt: {e}"))?;
    s.trim().parse().map_err(|e| format!("refcnt {s:?}: {e}"))
}

/// Waits (5 s at most) for the module's reference count to come back to
/// `before` or below (socks are freed an RCU grace period after their
/// close; socks of earlier cases may go meanwhile).
fn refcnt_back(before: u64, what: &str) -> CaseResult {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = refcnt()?;
        if now <= before {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "{what}: module refcount {now}, {before} before");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// The drop count of `s` in /proc/net/mcast_unix.
fn proc_drops(s: &Socket) -> Option<u64> {
    proc_sock(s).and_then(|l| l.get(8).and_then(|d| d.parse().ok()))
}

/// The dropped count of the group at `a` in /proc/net/mcast_unix.
fn proc_group_drops(a: &Addr) -> Option<u64> {
    proc_group(a).and_then(|g| g.get(5).and_then(|d| d.parse().ok()))
}

/// A message of sender `s`, number `i`: both, then `len - 5` bytes that
/// follow from them (len at least 5).
fn tagged(s: u8, i: u32, len: usize) -> Vec<u8> {
    let mut m = vec![s];
    m.extend_from_slice(&i.to_ne_bytes());
    m.extend((5..len).map(|k| (k as u32).wrapping_mul(31).wrapping_add(i).wrapping_add(s as u32 * 7) as u8));
    m
}

/// POLLIN of `s` now.
fn pollin(s: &Socket) -> R<bool> {
    sys::poll(s, libc::POLLIN, 0).map(|r| r & libc::POLLIN != 0).map_err(|e| format!("poll: {e:?}"))
}

/// POLLOUT of `s` now.
fn pollout(s: &Socket) -> R<bool> {
    sys::poll(s, libc::POLLOUT, 0).map(|r| r & libc::POLLOUT != 0).map_err(|e| format!("poll: {e:?}"))
}

/// Waits (5 s at most) until `cond` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> CaseResult {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        ensure!(Instant::now() < deadline, "{what}: not within 5 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Every frame filled now, each given back; fails on a frame that breaks
/// the ABI's promises.
fn drain_checked(r: &mut Ring) -> R<Vec<Frame>> {
    let fs = r.fs;
    let frames = r.drain();
    for f in &frames {
        f.check(fs)?;
    }
    Ok(frames)
}

/// The data of every frame filled now.
fn drain_data(r: &mut Ring) -> R<Vec<Vec<u8>>> {
    Ok(drain_checked(r)?.into_iter().map(|f| f.data).collect())
}

/// A read of a pipe's nonblocking read end: true at end of file (no write
/// end left anywhere), false while one is held (EAGAIN).
fn write_end_gone(r: &OwnedFd) -> R<bool> {
    match sys::read(r, 64) {
        Ok(d) if d.is_empty() => Ok(true),
        Ok(_) => Ok(false),
        Err(Errno(libc::EAGAIN)) => Ok(false),
        Err(e) => Err(format!("read of the pipe: {e:?}")),
    }
}

/// A pipe whose read end is nonblocking.
fn pipe_nb() -> (OwnedFd, OwnedFd) {
    let (r, w) = sys::pipe().expect("pipe");
    // SAFETY: F_SETFL on a descriptor we own.
    unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    (r, w)
}

/// Runs `f` on a thread with a second handle on `s`'s descriptor (the
/// caller keeps `s` open until the thread is joined).
fn on_thread<T: Send + 'static>(s: &Socket, f: impl FnOnce(&Socket) -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    use std::os::fd::FromRawFd;
    let (fd, af) = (s.as_raw_fd(), s.family());
    std::thread::spawn(move || {
        // SAFETY: the caller keeps the descriptor open while the thread uses
        // it; ManuallyDrop never closes it here.
        let s = std::mem::ManuallyDrop::new(Socket::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }, af).unwrap());
        f(&s)
    })
}

fn option_einval(af: i32) -> CaseResult {
    let s = sock(af, D);
    // Room for every size below, so that only the request's shape decides.
    force_rcvbuf(&s, 64 << 20);
    for fs in [0u32, 64, 192, 255, 257, 300, 1000, 65537, 65600, 131072, !63u32, u32::MAX] {
        expect_eq(&format!("frame_size {fs}"), ringmap::set_ring(&s, fs, 1), Err(Errno(libc::EINVAL)))?;
    }
    for fc in [0u32, 65537, 1 << 20, u32::MAX] {
        expect_eq(&format!("frame_count {fc}"), ringmap::set_ring(&s, 256, fc), Err(Errno(libc::EINVAL)))?;
    }
    let req = ringmap::req_bytes(256, 1);
    for len in 0..8 {
        expect_eq(&format!("optlen {len}"), ringmap::set_ring_raw(&s, &req[..len]), Err(Errno(libc::EINVAL)))?;
    }
    expect_eq("no ring after the refusals", ringmap::get_ring(&s).map(|(fs, fc, _)| (fs, fc)), Ok((0, 0)))?;
    // The boundaries are accepted, and a longer optlen.
    for (fs, fc) in [(256u32, 1u32), (65536, 1), (256, 65536), (320, 3)] {
        let t = sock(af, D);
        force_rcvbuf(&t, 64 << 20);
        expect_eq(&format!("frame_size {fs}, frame_count {fc}"), ringmap::set_ring(&t, fs, fc), Ok(()))?;
    }
    let t = sock(af, D);
    let mut long = ringmap::req_bytes(512, 2).to_vec();
    long.extend_from_slice(&[0u8; 8]);
    expect_eq("optlen 16", ringmap::set_ring_raw(&t, &long), Ok(()))?;
    expect_eq("its ring", ringmap::get_ring(&t).map(|(fs, fc, _)| (fs, fc)), Ok((512, 2)))
}

fn option_enobufs(af: i32) -> CaseResult {
    let probe = sock(af, D);
    probe.set_recv_buffer_size(8192).sys().map_err(|e| format!("SO_RCVBUF: {e:?}"))?;
    let rb = rcvbuf(&probe);
    ensure!(rb > 64 + 256, "SO_RCVBUF {rb}");
    let max = ((rb - 64) / 256) as u32;
    let small = |fs: u32, fc: u32| {
        let s = sock(af, D);
        s.set_recv_buffer_size(8192).sys().expect("SO_RCVBUF");
        (ringmap::set_ring(&s, fs, fc), s)
    };
    expect_eq(&format!("64 + 256 x {max} <= SO_RCVBUF {rb}"), small(256, max).0, Ok(()))?;
    expect_eq(&format!("64 + 256 x {} > SO_RCVBUF {rb}", max + 1), small(256, max + 1).0, Err(Errno(libc::ENOBUFS)))?;
    expect_eq("65536 x 1", small(65536, 1).0, Err(Errno(libc::ENOBUFS)))?;
    let (r, s) = small(65536, 65536);
    expect_eq("65536 x 65536", r, Err(Errno(libc::ENOBUFS)))?;
    expect_eq("no ring after ENOBUFS", ringmap::get_ring(&s).map(|(fs, fc, _)| (fs, fc)), Ok((0, 0)))?;
    // The default buffer: the largest ring of 64 KiB frames that fits.
    let d = sock(af, D);
    let n = ((rcvbuf(&d) - 64) / 65536) as u32;
    ensure!(n >= 1, "default SO_RCVBUF {}", rcvbuf(&d));
    expect_eq(&format!("65536 x {n} in the default SO_RCVBUF"), ringmap::set_ring(&d, 65536, n), Ok(()))?;
    let e = sock(af, D);
    expect_eq(&format!("65536 x {} in the default SO_RCVBUF", n + 1), ringmap::set_ring(&e, 65536, n + 1), Err(Errno(libc::ENOBUFS)))
}

fn mmap_errors(af: i32) -> CaseResult {
    let page = ringmap::page();
    let none = sock(af, D);
    expect_eq("mmap without a ring", Map::new(&none, page, libc::MAP_SHARED, 0).err(), Some(Errno(libc::EINVAL)))?;
    for (fs, fc) in [(256u32, 4u32), (4096, 3), (2048, 2)] {
        let s = sock(af, D);
        ringmap::set_ring(&s, fs, fc).map_err(|e| format!("ring {fs} x {fc}: {e:?}"))?;
        let len = ringmap::map_len(fs, fc);
        let mut wrong = vec![len + page, len + 16 * page, 1 << 30];
        if len > page {
            wrong.push(len - page);
            wrong.push(page);
        }
        for l in wrong {
            expect_eq(&format!("{fs} x {fc}: length {l} (the ring's: {len})"), Map::new(&s, l, libc::MAP_SHARED, 0).err(), Some(Errno(libc::EINVAL)))?;
        }
        for off in [page as i64, 16 * page as i64] {
            expect_eq(&format!("{fs} x {fc}: offset {off}"), Map::new(&s, len, libc::MAP_SHARED, off).err(), Some(Errno(libc::EINVAL)))?;
        }
        Map::new(&s, len, libc::MAP_SHARED, 0).map_err(|e| format!("{fs} x {fc}: the right mapping: {e:?}"))?;
    }
    Ok(())
}

fn mmap_header(af: i32) -> CaseResult {
    for (fs, fc) in [(256u32, 1u32), (320, 7), (4096, 4), (65536, 2)] {
        let (s, a) = bound(af);
        ringmap::set_ring(&s, fs, fc).map_err(|e| format!("ring {fs} x {fc}: {e:?}"))?;
        let r = Ring::map(&s)?;
        let m = &r.map;
        expect_eq("version", m.load(hdr::VERSION), ringmap::VERSION)?;
        expect_eq("frame_size", m.load(hdr::FRAME_SIZE), fs)?;
        expect_eq("frame_count", m.load(hdr::FRAME_COUNT), fc)?;
        expect_eq("writers_waiting", r.writers_waiting(), 0)?;
        ensure!(r.frames_offset >= ringmap::HDRLEN && r.frames_offset % 8 == 0, "frames_offset {}", r.frames_offset);
        for i in 0..fc {
            expect_eq(&format!("{fs} x {fc}: status of frame {i}"), r.status(i), KERNEL)?;
        }
        // A second mapping is the same memory.
        let second = Ring::map(&s)?;
        ensure!(second.map.addr() != m.addr(), "the same address twice");
        sock(af, D).send_to(b"both", &a).sys().map_err(|e| format!("send: {e:?}"))?;
        wait_for("frame 0 filled", || r.status(0) == USER)?;
        expect_eq("seen through the second mapping", (second.status(0), second.peek(0).data), (USER, b"both".to_vec()))?;
        second.give_back(0);
        expect_eq("given back through the second", r.status(0), KERNEL)?;
    }
    Ok(())
}

/// The 1000-message run of the delivery case: `rings` ring members (frames
/// of `fs` bytes, `fc` of them) and one plain member of one group,
/// `senders` threads sending `per` messages each.
fn group_order(af: i32, fs: u32, fc: u32, senders: u8, per: u32) -> CaseResult {
    let (_owner, a) = dgram_group(af);
    let total = senders as usize * per as usize;
    let mut readers = Vec::new();
    for k in 0..3 {
        let m = member(af, &a, 0);
        let mut r = Ring::new(&m, fs, fc)?;
        readers.push(std::thread::spawn(move || -> R<Vec<Vec<u8>>> {
            let mut got = Vec::with_capacity(total);
            while got.len() < total {
                let f = r.next_within(Duration::from_secs(20)).map_err(|e| format!("ring member {k} after {} messages: {e}", got.len()))?;
                f.check(fs)?;
                ensure!(f.flags & TRUNC == 0 && f.len as usize == f.data.len(), "ring member {k}: {f:?}");
                got.push(f.data);
                // Now and then a slow reader, so that rings fill and senders wait.
                if got.len() % (50 + 20 * k) == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            drop(m);
            Ok(got)
        }));
    }
    let plain = member(af, &a, 0);
    plain.set_recv_buffer_size(1 << 20).sys().map_err(|e| format!("{e:?}"))?;
    plain.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| format!("{e}"))?;
    readers.push(std::thread::spawn(move || -> R<Vec<Vec<u8>>> {
        (0..total).map(|i| crate::client::recv(&plain, 1024, 0).map_err(|e| format!("plain member, message {i}: {e:?}"))).collect()
    }));
    let room = (fs as usize - FRAME_DATA).min(300);
    let threads: Vec<_> = (0..senders)
        .map(|s| {
            let a = a.clone();
            std::thread::spawn(move || -> R<()> {
                let tx = sock(af, D);
                tx.set_write_timeout(Some(Duration::from_secs(20))).map_err(|e| format!("{e}"))?;
                for i in 0..per {
                    let len = 5 + (i as usize * 7 + s as usize * 13) % (room - 5);
                    tx.send_to(&tagged(s, i, len), &a).sys().map_err(|e| format!("sender {s}, message {i}: {e:?}"))?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a sender panicked")??;
    }
    let seqs: Vec<Vec<Vec<u8>>> = readers.into_iter().map(|r| r.join().map_err(|_| "a reader panicked".to_string())?).collect::<R<_>>()?;
    for (k, seq) in seqs.iter().enumerate() {
        expect_eq(&format!("member {k}: messages"), seq.len(), total)?;
        if let Some(i) = (0..total).find(|&i| seq[i] != seqs[3][i]) {
            let head = |m: &Vec<u8>| m[..5.min(m.len())].to_vec();
            return Err(format!("member {k} differs from the plain member at message {i}: {:?} vs {:?}", head(&seq[i]), head(&seqs[3][i])));
        }
    }
    for s in 0..senders {
        let mine: Vec<&Vec<u8>> = seqs[3].iter().filter(|m| m[0] == s).collect();
        expect_eq(&format!("sender {s}: messages"), mine.len(), per as usize)?;
        for (i, m) in mine.iter().enumerate() {
            let len = 5 + (i * 7 + s as usize * 13) % (room - 5);
            ensure!(**m == tagged(s, i as u32, len), "sender {s}: message {i} out of order or changed");
        }
    }
    Ok(())
}

fn unicast(af: i32) -> CaseResult {
    // Datagrams: sendto from an unbound socket, send on a connected one.
    let (rx, a) = bound(af);
    let mut r = Ring::new(&rx, 256, 8)?;
    let tx = sock(af, D);
    tx.send_to(b"one", &a).sys().map_err(|e| format!("sendto: {e:?}"))?;
    let conn = sock(af, D);
    conn.connect(&a).sys().map_err(|e| format!("connect: {e:?}"))?;
    conn.send_with_flags(b"two", 0).sys().map_err(|e| format!("send: {e:?}"))?;
    conn.send_with_flags(b"", 0).sys().map_err(|e| format!("empty send: {e:?}"))?;
    let frames = drain_checked(&mut r)?;
    expect_eq("datagrams", frames.iter().map(|f| (f.len, f.data.clone())).collect::<Vec<_>>(), vec![(3, b"one".to_vec()), (3, b"two".to_vec()), (0, vec![])])?;
    // A seqpacket connection, both ways.
    let l = sock(af, S);
    let la = fresh("ring-l");
    l.bind(&la).sys().map_err(|e| format!("{e:?}"))?;
    l.listen(4).sys().map_err(|e| format!("{e:?}"))?;
    let c = sock(af, S);
    c.connect(&la).sys().map_err(|e| format!("{e:?}"))?;
    let (acc, _) = l.accept().sys().map_err(|e| format!("{e:?}"))?;
    let mut ra = Ring::new(&acc, 256, 4)?;
    let mut rc = Ring::new(&c, 256, 4)?;
    c.send_with_flags(b"up", 0).sys().map_err(|e| format!("{e:?}"))?;
    acc.send_with_flags(b"down", 0).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("accepted side", drain_data(&mut ra)?, vec![b"up".to_vec()])?;
    expect_eq("client side", drain_data(&mut rc)?, vec![b"down".to_vec()])?;
    // A datagram group's owner gets SEND_TO_PEER copies in its ring.
    let (owner, ga) = dgram_group(af);
    let mut ro = Ring::new(&owner, 256, 4)?;
    let m = member(af, &ga, TO_PEER);
    let other = member(af, &ga, 0);
    m.send_to(b"copy", &ga).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("the owner's copy", drain_data(&mut ro)?, vec![b"copy".to_vec()])?;
    expect_eq("the other member", drain(&other), vec![b"copy".to_vec()])
}

fn truncation(af: i32) -> CaseResult {
    for fs in [256u32, 320, 4096] {
        let room = fs as usize - FRAME_DATA;
        let (rx, a) = bound(af);
        let mut r = Ring::new(&rx, fs, 8)?;
        let tx = sock(af, D);
        let lens = [0, 1, room - 1, room, room + 1, 2 * room, 8000];
        for &len in &lens {
            tx.send_to(&tagged(9, len as u32, len.max(5))[..len], &a).sys().map_err(|e| format!("send {len}: {e:?}"))?;
        }
        let frames = drain_checked(&mut r)?;
        expect_eq("frames", frames.len(), lens.len())?;
        for (f, &len) in frames.iter().zip(&lens) {
            let want = tagged(9, len as u32, len.max(5));
            let snap = len.min(room);
            let what = format!("frame size {fs}, a message of {len} bytes");
            expect_eq(&format!("{what}: len, snaplen, TRUNC"), (f.len as usize, f.snaplen as usize, f.flags & TRUNC), (len, snap, if len > room { TRUNC } else { 0 }))?;
            expect_eq(&format!("{what}: data"), &f.data[..], &want[..snap])?;
        }
    }
    Ok(())
}

fn filters(af: i32) -> CaseResult {
    let (_o, a) = dgram_group(af);
    let m = member(af, &a, 0);
    let plain = member(af, &a, 0);
    let mut r = Ring::new(&m, 256, 4)?;
    let tx = sock(af, D);
    attach_filter(&m, &ret_prog(0)).map_err(|e| format!("filter: {e:?}"))?;
    tx.send_to(b"hello", &a).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("the plain member", drain(&plain), vec![b"hello".to_vec()])?;
    expect_eq("a rejecting filter: frame 0", r.status(0), KERNEL)?;
    expect_eq("no POLLIN", pollin(&m)?, false)?;
    attach_filter(&m, &ret_prog(3)).map_err(|e| format!("filter: {e:?}"))?;
    tx.send_to(b"0123456789", &a).sys().map_err(|e| format!("{e:?}"))?;
    let f = r.next_within(Duration::from_secs(2))?;
    expect_eq("trimmed to 3: index, len, snaplen, flags, data", (f.index, f.len, f.snaplen, f.flags, f.data), (0, 3, 3, 0, b"012".to_vec()))?;
    // Trimmed, then too long for the frame.
    attach_filter(&m, &ret_prog(200)).map_err(|e| format!("filter: {e:?}"))?;
    let long = tagged(1, 1, 300);
    tx.send_to(&long, &a).sys().map_err(|e| format!("{e:?}"))?;
    let f = r.next_within(Duration::from_secs(2))?;
    expect_eq("trimmed to 200 in 96 bytes of room", (f.len, f.snaplen, f.flags & TRUNC), (200, 96, TRUNC))?;
    expect_eq("its data", &f.data[..], &long[..96])?;
    expect_eq("the plain member got both whole", drain(&plain), vec![b"0123456789".to_vec(), long])
}

fn creds(af: i32) -> CaseResult {
    let (with, a) = bound(af);
    with.set_passcred(true).map_err(|e| format!("SO_PASSCRED: {e}"))?;
    let (without, b) = bound(af);
    let mut rw = Ring::new(&with, 256, 4)?;
    let mut ro = Ring::new(&without, 256, 4)?;
    let tx = sock(af, D);
    tx.send_to(b"mine", &a).sys().map_err(|e| format!("{e:?}"))?;
    tx.send_to(b"mine", &b).sys().map_err(|e| format!("{e:?}"))?;
    let me = sys::Creds::mine();
    let f = rw.next_within(Duration::from_secs(2))?;
    expect_eq("with SO_PASSCRED", (f.flags & CREDS, f.pid, f.uid, f.gid), (CREDS, me.pid, me.uid, me.gid))?;
    let f = ro.next_within(Duration::from_secs(2))?;
    expect_eq("without SO_PASSCRED: no CREDS", f.flags & CREDS, 0)?;
    // Another process, as nobody.
    let child = sys::Child::spawn(true, move || {
        let tx = sys::socket(af, D, 0)?;
        tx.send_to(b"nobody", &a).sys()?;
        Ok(())
    })
    .map_err(|e| format!("fork: {e:?}"))?;
    let pid = child.pid;
    expect_eq("child", child.wait()?, Ok(()))?;
    let f = rw.next_within(Duration::from_secs(2))?;
    expect_eq("the child's credentials", (f.flags & CREDS, f.pid, f.uid, f.gid, f.data), (CREDS, pid, sys::NOBODY, sys::NOBODY, b"nobody".to_vec()))
}

fn sender_id(af: i32) -> CaseResult {
    let (_o, ga) = dgram_group(af);
    let with = member(af, &ga, 0);
    with.set_pass_sender_id(true).map_err(|e| format!("PASS_SENDER_ID: {e}"))?;
    let without = member(af, &ga, 0);
    let mut rw = Ring::new(&with, 256, 4)?;
    let mut ro = Ring::new(&without, 256, 4)?;
    let (tx1, tx2) = (sock(af, D), sock(af, D));
    tx1.send_to(b"1", &ga).sys().map_err(|e| format!("{e:?}"))?;
    tx2.send_to(b"2", &ga).sys().map_err(|e| format!("{e:?}"))?;
    let ids = (tx1.id().map_err(|e| format!("{e}"))?, tx2.id().map_err(|e| format!("{e}"))?);
    ensure!(ids.0 != 0 && ids.0 != ids.1, "ids {ids:?}");
    let got: Vec<u64> = drain_checked(&mut rw)?.iter().map(|f| f.sender_id).collect();
    expect_eq("with PASS_SENDER_ID", got, vec![ids.0, ids.1])?;
    let got: Vec<u64> = drain_checked(&mut ro)?.iter().map(|f| f.sender_id).collect();
    expect_eq("without", got, vec![0, 0])?;
    // Unicast too.
    let (rx, a) = bound(af);
    rx.set_pass_sender_id(true).map_err(|e| format!("{e}"))?;
    let mut r = Ring::new(&rx, 256, 2)?;
    tx2.send_to(b"u", &a).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("unicast", r.next_within(Duration::from_secs(2))?.sender_id, ids.1)
}

fn sender_addr(af: i32) -> CaseResult {
    let (_o, ga) = dgram_group(af);
    let rm = member(af, &ga, 0);
    let plain = member(af, &ga, 0);
    let mut r = Ring::new(&rm, 256, 8)?;
    let path = format!("/tmp/ring-addr-{}", std::process::id());
    let _ = std::fs::remove_file(&path);
    let by_path = sock(af, D);
    by_path.bind(&Addr::path(&path).unwrap()).sys().map_err(|e| format!("bind {path}: {e:?}"))?;
    let abs_name = fresh("ring-from");
    let by_abs = sock(af, D);
    by_abs.bind(&abs_name).sys().map_err(|e| format!("{e:?}"))?;
    let unbound = sock(af, D);
    let senders = [("path", &by_path), ("abstract", &by_abs), ("unbound", &unbound)];
    let result = (|| -> CaseResult {
        for (what, tx) in senders {
            tx.send_to(what.as_bytes(), &ga).sys().map_err(|e| format!("{what}: {e:?}"))?;
            let (_, data, from) = sys::recvfrom(&plain, 64, DONTWAIT).map_err(|e| format!("{what}: plain recvfrom: {e:?}"))?;
            expect_eq(&format!("{what}: plain member"), data, what.as_bytes().to_vec())?;
            let f = r.next_within(Duration::from_secs(2))?;
            f.check(r.fs)?;
            let (fam, rest) = f.addr_parts();
            match what {
                "unbound" => expect_eq("unbound sender: addr_len", f.addr_len, 0)?,
                _ => {
                    expect_eq(&format!("{what}: addr_len as recvfrom's"), f.addr_len, from.len)?;
                    expect_eq(&format!("{what}: sun_family"), fam, Some(af as u16))?;
                    expect_eq(&format!("{what}: the address as recvfrom's"), rest.clone(), from.bytes())?;
                }
            }
            match what {
                "path" => ensure!(rest.starts_with(path.as_bytes()), "path address {rest:?}"),
                "abstract" => {
                    let want = abs_name.to_string();
                    ensure!(rest.first() == Some(&0) && format!("@{}", String::from_utf8_lossy(&rest[1..])) == want, "abstract address {rest:?}, want {want}");
                }
                _ => {}
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&path);
    result
}

fn rights(af: i32) -> CaseResult {
    // Unicast: one descriptor, then three in one message.
    let (rx, a) = bound(af);
    let mut r = Ring::new(&rx, 256, 4)?;
    let tx = sock(af, D);
    for n in [1usize, 3] {
        let (pr, pw) = pipe_nb();
        let before = open_fds();
        let fds: Vec<_> = (0..n).map(|_| pw.as_fd()).collect();
        expect_eq(&format!("send {n} descriptors"), tx.send_msg(b"fd", Some(&a), None, &fds, DONTWAIT).sys(), Ok(2))?;
        drop(fds);
        drop(pw);
        let f = r.next_within(Duration::from_secs(2))?;
        expect_eq(&format!("{n} descriptors: data, CTRUNC"), (f.data, f.flags & CTRUNC), (b"fd".to_vec(), CTRUNC))?;
        expect_eq("nothing installed", open_fds(), before - 1)?;
        wait_for(&format!("{n} descriptors: the passed write end released"), || write_end_gone(&pr).unwrap_or(false))?;
    }
    // A group: the plain member gets a working descriptor, the ring member
    // CTRUNC; once the plain member's closes, nothing holds the pipe.
    let (_o, ga) = dgram_group(af);
    let rm = member(af, &ga, 0);
    let plain = member(af, &ga, 0);
    let mut rr = Ring::new(&rm, 256, 4)?;
    let (pr, pw) = pipe_nb();
    tx.send_msg(b"group fd", Some(&ga), None, &[pw.as_fd()], DONTWAIT).sys().map_err(|e| format!("group send: {e:?}"))?;
    drop(pw);
    let f = rr.next_within(Duration::from_secs(2))?;
    expect_eq("ring member: CTRUNC", f.flags & CTRUNC, CTRUNC)?;
    let mut buf = [0u8; 64];
    let m = plain.recv_msg(&mut buf, DONTWAIT).map_err(|e| format!("plain recvmsg: {e}"))?;
    expect_eq("plain member: one descriptor, no MSG_CTRUNC", (m.fds.len(), m.flags & libc::MSG_CTRUNC), (1, 0))?;
    sys::write(&m.fds[0], b"via").map_err(|e| format!("write through it: {e:?}"))?;
    expect_eq("the pipe", sys::read(&pr, 16), Ok(b"via".to_vec()))?;
    ensure!(!write_end_gone(&pr)?, "the plain member's descriptor is not held");
    drop(m);
    wait_for("the write end released after the plain member closed its descriptor", || write_end_gone(&pr).unwrap_or(false))
}

fn drop_when_full(af: i32) -> CaseResult {
    let (_o, a) = dgram_group(af);
    let rd = member(af, &a, DROP);
    let plain = member(af, &a, 0);
    let mut r = Ring::new(&rd, 256, 4)?;
    let tx = sock(af, D);
    tx.set_write_timeout(Some(Duration::from_secs(3))).map_err(|e| format!("{e}"))?;
    let t0 = Instant::now();
    for i in 0..10u32 {
        tx.send_to(&tagged(0, i, 8), &a).sys().map_err(|e| format!("blocking send {i}: {e:?}"))?;
    }
    let took = t0.elapsed();
    ensure!(took < Duration::from_secs(2), "10 sends to a full DROP_WHEN_FULL ring member took {took:?}");
    expect_eq("plain member", drain(&plain).len(), 10)?;
    expect_eq("writers_waiting", r.writers_waiting(), 0)?;
    let frames = drain_checked(&mut r)?;
    expect_eq("kept: the first four, no drops yet", frames.iter().map(|f| (f.data.clone(), f.drops)).collect::<Vec<_>>(), (0..4).map(|i| (tagged(0, i, 8), 0)).collect::<Vec<_>>())?;
    expect_eq("/proc: the socket's drops", proc_drops(&rd), Some(6))?;
    expect_eq("/proc: the group's dropped", proc_group_drops(&a), Some(6))?;
    tx.send_to(&tagged(0, 10, 8), &a).sys().map_err(|e| format!("{e:?}"))?;
    let f = r.next_within(Duration::from_secs(2))?;
    expect_eq("the next frame: index, data, drops", (f.index, f.data, f.drops), (0, tagged(0, 10, 8), 6))
}

fn full_blocking(af: i32) -> CaseResult {
    let (_o, a) = dgram_group(af);
    let rb = member(af, &a, 0);
    let plain = member(af, &a, 0);
    let mut r = Ring::new(&rb, 256, 4)?;
    let tx = sock(af, D);
    for i in 0..4u32 {
        tx.send_to_with_flags(&tagged(0, i, 8), &a, DONTWAIT).sys().map_err(|e| format!("send {i}: {e:?}"))?;
    }
    expect_eq("MSG_DONTWAIT to a full ring", err(tx.send_to_with_flags(b"more", &a, DONTWAIT).sys()), Some(Errno(libc::EAGAIN)))?;
    let nb = sock(af, D);
    nb.set_nonblocking(true).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("O_NONBLOCK to a full ring", err(nb.send_to(b"more", &a).sys()), Some(Errno(libc::EAGAIN)))?;
    tx.set_write_timeout(Some(Duration::from_millis(300))).map_err(|e| format!("{e}"))?;
    let t0 = Instant::now();
    let res = tx.send_to(b"more", &a).sys();
    let waited = t0.elapsed();
    expect_eq("SO_SNDTIMEO 300 ms", err(res), Some(Errno(libc::EAGAIN)))?;
    ensure!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(3), "gave up after {waited:?}");
    expect_eq("all or nothing: the plain member got the four", drain(&plain).len(), 4)?;
    for i in 0..4 {
        expect_eq(&format!("frame {i}"), r.status(i), USER)?;
    }
    // One frame back: one more message fits, in frame 0.
    let f = r.try_next().ok_or("no frame 0")?;
    expect_eq("frame 0", f.data, tagged(0, 0, 8))?;
    tx.send_to_with_flags(b"fits", &a, DONTWAIT).sys().map_err(|e| format!("after one frame back: {e:?}"))?;
    expect_eq("then full again", err(tx.send_to_with_flags(b"more", &a, DONTWAIT).sys()), Some(Errno(libc::EAGAIN)))?;
    expect_eq("the plain member", drain(&plain), vec![b"fits".to_vec()])?;
    let rest: Vec<Vec<u8>> = drain_data(&mut r)?;
    expect_eq("the ring, in order", rest, vec![tagged(0, 1, 8), tagged(0, 2, 8), tagged(0, 3, 8), b"fits".to_vec()])?;
    expect_eq("frame 0 held it", r.next, 1)
}

fn writers_waiting(af: i32) -> CaseResult {
    for group in [true, false] {
        let what = if group { "group" } else { "unicast" };
        let (_o, ga) = dgram_group(af);
        let (rx, plain, to) = if group {
            (member(af, &ga, 0), Some(member(af, &ga, 0)), ga.clone())
        } else {
            let (s, a) = bound(af);
            (s, None, a)
        };
        let mut r = Ring::new(&rx, 256, 2)?;
        let tx = sock(af, D);
        for i in 0..2u32 {
            tx.send_to_with_flags(&tagged(1, i, 8), &to, DONTWAIT).sys().map_err(|e| format!("{what}: send {i}: {e:?}"))?;
        }
        tx.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| format!("{e}"))?;
        let to2 = to.clone();
        let sender = on_thread(&tx, move |tx| {
            let t0 = Instant::now();
            (tx.send_to(b"late", &to2).sys(), t0.elapsed())
        });
        let seen = wait_for(&format!("{what}: writers_waiting set by the blocked sender"), || r.writers_waiting() != 0);
        if seen.is_err() {
            // Let the sender go before failing.
            let _ = r.drain();
            r.kick();
            let _ = sender.join();
            return seen;
        }
        std::thread::sleep(Duration::from_millis(200));
        ensure!(!sender.is_finished(), "{what}: the sender did not wait for the full ring");
        let f = r.try_next().ok_or("frame 0 not filled")?;
        expect_eq(&format!("{what}: frame 0"), f.data, tagged(1, 0, 8))?;
        // try_next polled (writers_waiting was set): the sender goes on.
        let (res, waited) = sender.join().map_err(|_| "sender panicked")?;
        expect_eq(&format!("{what}: the woken send"), res, Ok(4))?;
        ensure!(waited < Duration::from_secs(8), "{what}: woken only after {waited:?}");
        expect_eq(&format!("{what}: the ring"), drain_data(&mut r)?, vec![tagged(1, 1, 8), b"late".to_vec()])?;
        if let Some(p) = plain {
            expect_eq(&format!("{what}: the plain member"), drain(&p).len(), 3)?;
        }
    }
    Ok(())
}

fn pollout_cases(af: i32) -> CaseResult {
    let (_o, a) = dgram_group(af);
    let rb = member(af, &a, 0);
    let rd = member(af, &a, DROP);
    let mut r = Ring::new(&rb, 256, 2)?;
    let _rdr = Ring::new(&rd, 256, 2)?;
    let tx = sock(af, D);
    tx.connect(&a).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("empty rings", pollout(&tx)?, true)?;
    tx.send_with_flags(b"1", DONTWAIT).sys().map_err(|e| format!("{e:?}"))?;
    tx.send_with_flags(b"2", DONTWAIT).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("a full blocking ring member", pollout(&tx)?, false)?;
    r.drain();
    expect_eq("once it gave its frames back", pollout(&tx)?, true)?;
    // The DROP_WHEN_FULL member is full now and stays so: no effect.
    tx.send_with_flags(b"3", DONTWAIT).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("a full DROP_WHEN_FULL ring member", pollout(&tx)?, true)
}

fn pollin_cases(af: i32) -> CaseResult {
    let (rx, a) = bound(af);
    let mut r = Ring::new(&rx, 256, 4)?;
    let tx = sock(af, D);
    expect_eq("empty", pollin(&rx)?, false)?;
    tx.send_to(b"a", &a).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("frame 0 filled", pollin(&rx)?, true)?;
    r.try_next().ok_or("frame 0")?;
    expect_eq("frame 0 given back", pollin(&rx)?, false)?;
    tx.send_to(b"b", &a).sys().map_err(|e| format!("{e:?}"))?;
    tx.send_to(b"c", &a).sys().map_err(|e| format!("{e:?}"))?;
    r.try_next().ok_or("frame 1")?;
    expect_eq("frame 1 back, frame 2 (the last filled) USER", pollin(&rx)?, true)?;
    r.try_next().ok_or("frame 2")?;
    expect_eq("frames 1 and 2 back", pollin(&rx)?, false)?;
    // Frames 3 and 0; the last (0) given back first.
    tx.send_to(b"d", &a).sys().map_err(|e| format!("{e:?}"))?;
    tx.send_to(b"e", &a).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("frames 3 and 0 USER", (r.status(3), r.status(0)), (USER, USER))?;
    r.give_back(0);
    expect_eq("the last filled frame given back, an earlier one still USER", pollin(&rx)?, false)?;
    r.give_back(3);
    // A poller is woken by a message.
    let poller = on_thread(&rx, |s| {
        let t0 = Instant::now();
        (sys::poll(s, libc::POLLIN, 5000), t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    tx.send_to(b"f", &a).sys().map_err(|e| format!("{e:?}"))?;
    let (p, took) = poller.join().map_err(|_| "poller panicked")?;
    ensure!(p.is_ok_and(|e| e & libc::POLLIN != 0) && took < Duration::from_secs(3), "poll: {p:?} after {took:?}");
    expect_eq("frame 1 holds it", (r.status(1), r.peek(1).data), (USER, b"f".to_vec()))
}

fn recv_refused(af: i32) -> CaseResult {
    let (rx, a) = bound(af);
    let _r = Ring::new(&rx, 256, 4)?;
    rx.set_read_timeout(Some(Duration::from_secs(3))).map_err(|e| format!("{e}"))?;
    let tx = sock(af, D);
    for filled in [false, true] {
        if filled {
            tx.send_to(b"x", &a).sys().map_err(|e| format!("{e:?}"))?;
            tx.send_to(b"y", &a).sys().map_err(|e| format!("{e:?}"))?;
        }
        let t0 = Instant::now();
        let eop = Some(Errno(libc::EOPNOTSUPP));
        expect_eq(&format!("filled {filled}: recv MSG_DONTWAIT"), err(crate::client::recv(&rx, 64, DONTWAIT)), eop)?;
        expect_eq(&format!("filled {filled}: recv"), err(crate::client::recv(&rx, 64, 0)), eop)?;
        expect_eq(&format!("filled {filled}: MSG_PEEK"), err(crate::client::recv(&rx, 64, libc::MSG_PEEK | DONTWAIT)), eop)?;
        expect_eq(&format!("filled {filled}: recvfrom"), err(sys::recvfrom(&rx, 64, 0)), eop)?;
        expect_eq(&format!("filled {filled}: recvmsg"), err(sys::recvmsg(&rx, &sys::RecvOpts::DEFAULT, 0)), eop)?;
        expect_eq(&format!("filled {filled}: recvmmsg"), err(sys::recvmmsg(&rx, 2, 64, 0, Some(500))), eop)?;
        expect_eq(&format!("filled {filled}: read"), err(sys::read(&rx, 64)), eop)?;
        ensure!(t0.elapsed() < Duration::from_secs(2), "filled {filled}: the refusals waited ({:?})", t0.elapsed());
        expect_eq(&format!("filled {filled}: SIOCINQ"), inq(&rx), 0)?;
    }
    Ok(())
}

/// Counts of one hostile sender.
#[derive(Default)]
struct Sent {
    group_ok: u64,
    unicast_ok: u64,
    eagain: u64,
    other: Vec<String>,
}

fn hostile(af: i32) -> CaseResult {
    let base = refcnt()?;
    let (owner, a) = dgram_group(af);
    let rb = member(af, &a, 0);
    let rd = member(af, &a, DROP);
    let plain = member(af, &a, 0);
    force_rcvbuf(&plain, 16 << 20);
    plain.set_read_timeout(Some(Duration::from_millis(50))).map_err(|e| format!("{e}"))?;
    let (ru, ua) = bound(af);
    ringmap::set_ring(&rb, 256, 8).map_err(|e| format!("{e:?}"))?;
    ringmap::set_ring(&rd, 320, 4).map_err(|e| format!("{e:?}"))?;
    ringmap::set_ring(&ru, 256, 4).map_err(|e| format!("{e:?}"))?;
    let rings = vec![Ring::map(&rb)?, Ring::map(&rd)?, Ring::map(&ru)?];
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..3u8)
        .map(|k| {
            let (a, ua, stop) = (a.clone(), ua.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut s = Sent::default();
                let tx = sock(af, D);
                tx.set_write_timeout(Some(Duration::from_millis(100))).expect("SO_SNDTIMEO");
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let unicast = i % 4 == 3;
                    let flags = if i.is_multiple_of(2) { DONTWAIT } else { 0 };
                    let len = 5 + (i as usize * 37 + k as usize) % 400;
                    let to = if unicast { &ua } else { &a };
                    match tx.send_to_with_flags(&tagged(k, i, len), to, flags).sys() {
                        Ok(_) if unicast => s.unicast_ok += 1,
                        Ok(_) => s.group_ok += 1,
                        Err(Errno(libc::EAGAIN)) => s.eagain += 1,
                        Err(e) => s.other.push(format!("sender {k}, message {i}: {e:?}")),
                    }
                    i += 1;
                }
                s
            })
        })
        .collect();
    // Counts the plain member's messages until every sender has returned.
    let senders_done = Arc::new(AtomicBool::new(false));
    let counter = {
        let done = senders_done.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            loop {
                match crate::client::recv(&plain, 1024, 0) {
                    Ok(_) => n += 1,
                    Err(_) if done.load(Ordering::Acquire) => break,
                    Err(_) => {}
                }
            }
            n + drain(&plain).len() as u64
        })
    };
    let scribbler = {
        let stop = stop.clone();
        let rbfd = rb.as_raw_fd();
        std::thread::spawn(move || -> u64 {
            let mut rng = test_support::rng::Rng::new(0x5c21b);
            let mut passes = 0u64;
            let mut extra: Option<Map> = None;
            while !stop.load(Ordering::Relaxed) {
                for r in &rings {
                    for w in 0..16 {
                        let v = rng.pick_or(&[0, 0, 1, 2, u32::MAX, 0x8000_0000, 65536], |r| r.u32());
                        r.map.store(4 * w, v);
                    }
                    for i in 0..r.fc {
                        let v = rng.pick_or(&[KERNEL, KERNEL, KERNEL, USER, 2, u32::MAX, EMPTY], |r| r.u32());
                        r.set_status(i, v);
                        if rng.chance(20) {
                            let off = r.off(i) + 4 * rng.range(1, (FRAME_DATA / 4) as u64) as usize;
                            r.map.store(off, rng.u32());
                        }
                        if rng.chance(10) {
                            let _ = r.peek(i);
                        }
                    }
                    if rng.chance(50) {
                        r.kick();
                    }
                }
                // A second mapping of the blocking member's ring comes and goes.
                if rng.chance(10) {
                    extra = match extra.take() {
                        Some(_) => None,
                        None => Map::with_prot(rbfd, ringmap::map_len(256, 8), libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, 0).ok(),
                    };
                }
                if let Some(m) = &extra {
                    m.store(ringmap::HDRLEN + frame::STATUS, rng.u32());
                }
                passes += 1;
                std::thread::yield_now();
            }
            // Everything back to the kernel, so that nothing waits at the end.
            for r in &rings {
                for i in 0..r.fc {
                    r.give_back(i);
                }
                r.kick();
            }
            passes
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    let sent: Vec<Sent> = senders.into_iter().map(|t| t.join().map_err(|_| "a sender panicked".to_string())).collect::<R<_>>()?;
    senders_done.store(true, Ordering::Release);
    let passes = scribbler.join().map_err(|_| "the scribbler panicked")?;
    let plain_got = counter.join().map_err(|_| "the counter panicked")?;
    for s in &sent {
        if let Some(e) = s.other.first() {
            return Err(format!("a send failed otherwise than EAGAIN: {e} ({} such)", s.other.len()));
        }
    }
    let group_ok: u64 = sent.iter().map(|s| s.group_ok).sum();
    let unicast_ok: u64 = sent.iter().map(|s| s.unicast_ok).sum();
    let eagain: u64 = sent.iter().map(|s| s.eagain).sum();
    ensure!(passes > 0 && group_ok > 0, "{passes} scribbling passes, {group_ok} group sends succeeded ({unicast_ok} unicast, {eagain} EAGAIN)");
    expect_eq(&format!("all or nothing: the plain member's messages ({unicast_ok} unicast sends, {eagain} EAGAIN)"), plain_got, group_ok)?;
    // The kernel kept its own view of the rings.
    for (s, want) in [(&rb, (256, 8)), (&rd, (320, 4)), (&ru, (256, 4))] {
        expect_eq("getsockopt after the scribbling", ringmap::get_ring(s).map(|(fs, fc, _)| (fs, fc)), Ok(want))?;
    }
    drop((owner, rb, rd, ru));
    refcnt_back(base, "after every socket and mapping went")
}

fn close_mapped(af: i32) -> CaseResult {
    let base = refcnt()?;
    let (rx, a) = bound(af);
    let r = Ring::new(&rx, 4096, 4)?;
    let tx = sock(af, D);
    tx.send_to(b"before close", &a).sys().map_err(|e| format!("{e:?}"))?;
    tx.send_to(&[7u8; 3000], &a).sys().map_err(|e| format!("{e:?}"))?;
    wait_for("frame 1 filled", || r.status(1) == USER)?;
    drop(rx);
    // Past the grace period of anything the close freed.
    std::thread::sleep(Duration::from_millis(100));
    let _ = r.map.touch_all();
    expect_eq("frame 0 after close", (r.status(0), r.peek(0).data), (USER, b"before close".to_vec()))?;
    expect_eq("frame 1 after close", r.peek(1).data, vec![7u8; 3000])?;
    // Still writable.
    r.map.write(r.off(3) + FRAME_DATA, b"scribble");
    expect_eq("written after close", r.map.read(r.off(3) + FRAME_DATA, 8), b"scribble".to_vec())?;
    r.give_back(0);
    r.kick();
    // The mapping holds the socket's file: once it goes, so does the socket.
    drop(r);
    wait_for("the address gone after munmap", || err(tx.send_to(b"x", &a).sys()) == Some(Errno(libc::ECONNREFUSED)))?;
    drop(tx);
    refcnt_back(base, "after the mapping went")
}

fn munmap_then_close(af: i32) -> CaseResult {
    let base = refcnt()?;
    let (rx, a) = bound(af);
    let r = Ring::new(&rx, 256, 4)?;
    drop(r);
    let tx = sock(af, D);
    tx.send_to(b"unmapped 1", &a).sys().map_err(|e| format!("send without a mapping: {e:?}"))?;
    tx.send_to(b"unmapped 2", &a).sys().map_err(|e| format!("{e:?}"))?;
    let mut again = Ring::map(&rx)?;
    expect_eq("filled while unmapped", drain_data(&mut again)?, vec![b"unmapped 1".to_vec(), b"unmapped 2".to_vec()])?;
    drop(again);
    drop((rx, tx));
    refcnt_back(base, "after munmap and close")
}

fn mremap_grow(af: i32) -> CaseResult {
    let (rx, a) = bound(af);
    let mut r = Ring::new(&rx, 256, 4)?;
    let len = r.map.len();
    let page = ringmap::page();
    expect_eq("grow in place", r.map.mremap(len + page, 0).is_err(), true)?;
    expect_eq("grow, may move", r.map.mremap(len + 16 * page, libc::MREMAP_MAYMOVE).is_err(), true)?;
    expect_eq("the mapping is unchanged", r.map.len(), len)?;
    sock(af, D).send_to(b"still", &a).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("and works", r.next_within(Duration::from_secs(2))?.data, b"still".to_vec())
}

fn map_private(af: i32) -> CaseResult {
    let s = sock(af, D);
    ringmap::set_ring(&s, 256, 4).map_err(|e| format!("{e:?}"))?;
    let len = ringmap::map_len(256, 4);
    expect_eq("MAP_PRIVATE", Map::new(&s, len, libc::MAP_PRIVATE, 0).err(), Some(Errno(libc::EINVAL)))?;
    expect_eq("MAP_SHARED", Map::new(&s, len, libc::MAP_SHARED, 0).is_ok(), true)
}

fn fork_child(af: i32) -> CaseResult {
    let base = refcnt()?;
    let (rx, a) = bound(af);
    let r = Ring::new(&rx, 256, 4)?;
    sock(af, D).send_to(b"for the child", &a).sys().map_err(|e| format!("{e:?}"))?;
    wait_for("frame 0 filled", || r.status(0) == USER)?;
    let (go_r, go_w) = sys::pipe().map_err(|e| format!("{e:?}"))?;
    let rx_fd = rx.as_raw_fd();
    // SAFETY: the test process has one thread here (cases run on the main
    // thread and join theirs); the child only reads memory and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // The child's copy of the socket goes first, so that the parent's
        // close is the last.
        // SAFETY: closes the child's inherited descriptor, which nothing in
        // the child uses again (it leaves with _exit).
        unsafe { libc::close(rx_fd) };
        let code = (|| {
            if sys::read(&go_r, 1) != Ok(b"g".to_vec()) {
                return 2;
            }
            if r.status(0) != USER || r.peek(0).data != b"for the child" {
                return 3;
            }
            let _ = r.map.touch_all();
            r.give_back(0);
            r.map.write(r.off(1) + FRAME_DATA, b"child");
            if r.map.read(r.off(1) + FRAME_DATA, 5) != b"child" {
                return 4;
            }
            0
        })();
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    ensure!(pid > 0, "fork: {:?}", Errno::last());
    // The parent closes the socket and unmaps, then lets the child read.
    drop(rx);
    drop(r);
    std::thread::sleep(Duration::from_millis(100));
    let w = sys::write(&go_w, b"g");
    let mut status = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    w.map_err(|e| format!("write: {e:?}"))?;
    ensure!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}");
    refcnt_back(base, "after the child exited")
}

fn seqpacket_group(af: i32) -> CaseResult {
    let bus = Bus::new(af);
    let m1 = bus.member(0);
    let mut r1 = Ring::new(&m1.client, 256, 4)?;
    let m2 = bus.member(0);
    // A ring set before admission.
    let c3 = bus.connect();
    let mut r3 = Ring::new(&c3.client, 512, 4)?;
    admit(&c3.accepted, 0).map_err(|e| format!("admit: {e:?}"))?;
    // A SEND_TO_PEER member whose owner-side socket has the ring.
    let m4 = bus.member(TO_PEER);
    let mut r4 = Ring::new(&m4.accepted, 256, 4)?;
    m2.client.send_with_flags(b"from m2", 0).sys().map_err(|e| format!("{e:?}"))?;
    m4.client.send_with_flags(b"from m4", 0).sys().map_err(|e| format!("{e:?}"))?;
    let want = vec![b"from m2".to_vec(), b"from m4".to_vec()];
    expect_eq("admitted member's ring", drain_data(&mut r1)?, want.clone())?;
    expect_eq("ring set before admission", drain_data(&mut r3)?, want)?;
    expect_eq("the SEND_TO_PEER copy at the owner's side", drain_data(&mut r4)?, vec![b"from m4".to_vec()])?;
    expect_eq("the plain member", drain(&m2.client), vec![b"from m4".to_vec()])?;
    // Unicast from the owner's side to a ring member.
    m1.accepted.send_with_flags(b"owner to m1", 0).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("unicast from the owner's side", drain_data(&mut r1)?, vec![b"owner to m1".to_vec()])
}

fn busy(af: i32) -> CaseResult {
    // A second ring.
    let s = sock(af, D);
    ringmap::set_ring(&s, 256, 4).map_err(|e| format!("{e:?}"))?;
    expect_eq("a second ring", ringmap::set_ring(&s, 512, 2), Err(Errno(libc::EBUSY)))?;
    expect_eq("the same again", ringmap::set_ring(&s, 256, 4), Err(Errno(libc::EBUSY)))?;
    expect_eq("the first kept", ringmap::get_ring(&s).map(|(fs, fc, _)| (fs, fc)), Ok((256, 4)))?;
    // A queued message, unicast then group.
    let (rx, a) = bound(af);
    sock(af, D).send_to(b"queued", &a).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("with a message queued", ringmap::set_ring(&rx, 256, 4), Err(Errno(libc::EBUSY)))?;
    expect_eq("the message", drain(&rx), vec![b"queued".to_vec()])?;
    ringmap::set_ring(&rx, 256, 4).map_err(|e| format!("once the queue is empty: {e:?}"))?;
    let (_o, ga) = dgram_group(af);
    let m = member(af, &ga, 0);
    sock(af, D).send_to(b"g", &ga).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("a member with a group message queued", ringmap::set_ring(&m, 256, 4), Err(Errno(libc::EBUSY)))?;
    expect_eq("the group message still there", drain(&m), vec![b"g".to_vec()])
}

fn listening(af: i32) -> CaseResult {
    let l = sock(af, S);
    l.bind(&fresh("ring-listen")).sys().map_err(|e| format!("{e:?}"))?;
    l.listen(4).sys().map_err(|e| format!("{e:?}"))?;
    expect_eq("a listening socket", ringmap::set_ring(&l, 256, 4), Err(Errno(libc::EINVAL)))?;
    let bus = Bus::new(af);
    expect_eq("a listening group owner", ringmap::set_ring(&bus.owner, 256, 4), Err(Errno(libc::EINVAL)))?;
    expect_eq("no ring", ringmap::get_ring(&l).map(|(fs, fc, _)| (fs, fc)), Ok((0, 0)))
}

fn getsockopt_case(af: i32) -> CaseResult {
    let s = sock(af, D);
    expect_eq("without a ring", ringmap::get_ring(&s), Ok((0, 0, 8)))?;
    ringmap::set_ring(&s, 1024, 5).map_err(|e| format!("{e:?}"))?;
    expect_eq("with one", ringmap::get_ring(&s), Ok((1024, 5, 8)))
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "ring", "option: frame_size not a multiple of 64 or outside 256..65536, frame_count outside 1..65536, optlen < 8 -> EINVAL; the boundaries and a longer optlen accepted", |af| {
        option_einval(af)
    });
    case!(v, "ring", "option: a listening socket -> EINVAL", |af| { listening(af) });
    case!(v, "ring", "option: a second ring, or a message queued (unicast or group) -> EBUSY; once the queue is read the ring is taken", |af| {
        busy(af)
    });
    case!(v, "ring", "option: 64 + frame_size x frame_count beyond SO_RCVBUF -> ENOBUFS, up to it accepted", |af| {
        option_enobufs(af)
    });
    case!(v, "ring", "getsockopt gives the request, zeros without a ring", |af| { getsockopt_case(af) });
    case!(v, "ring", "mmap: no ring, a length other than the ring's rounded to pages, an offset -> EINVAL", |af| {
        mmap_errors(af)
    });
    case!(v, "ring", "mmap: MAP_PRIVATE -> EINVAL", |af| { map_private(af) });
    case!(v, "ring", "mmap: the header (version, sizes, frames_offset), every frame KERNEL; a second mapping is the same memory", |af| {
        mmap_header(af)
    });
    case!(v, "ring", "mremap: growing the mapping fails, the mapping stays", |af| { mremap_grow(af) });
    case!(v, "ring", "group: 3 ring members (small rings) and a plain member get the same 1000 messages of 4 concurrent senders in one order", |af| {
        group_order(af, 512, 8, 4, 250)
    });
    case!(v, "ring", "unicast: sendto, a connected send, an empty message, a seqpacket connection both ways, a datagram owner's SEND_TO_PEER copy", |af| {
        unicast(af)
    });
    case!(v, "ring", "TRUNC: snaplen = frame_size - 160 and len the whole length beyond it; data the message's start", |af| {
        truncation(af)
    });
    case!(v, "ring", "filter: a rejecting member filter leaves no frame; a trimming one sets len to what it kept", |af| {
        filters(af)
    });
    case!(v, "ring", "creds: SO_PASSCRED sets CREDS with the sender's pid/uid/gid (another process as nobody too); none without", |af| {
        creds(af)
    });
    case!(v, "ring", "sender id: with PASS_SENDER_ID the sender's SO_COOKIE, else 0", |af| { sender_id(af) });
    case!(v, "ring", "sender address: pathname and abstract as recvfrom gives them, addr_len 0 for an unbound sender", |af| {
        sender_addr(af)
    });
    case!(v, "ring", "SCM_RIGHTS: CTRUNC, no descriptor installed, the files released; a plain member of the group still gets its own", |af| {
        rights(af)
    });
    case!(v, "ring", "DROP_WHEN_FULL: messages past a full ring are dropped and counted (drops field, /proc), no send waits", |af| {
        drop_when_full(af)
    });
    case!(v, "ring", "full ring: EAGAIN with MSG_DONTWAIT and O_NONBLOCK, SO_SNDTIMEO times out, all or nothing at the group; a frame given back takes one more", |af| {
        full_blocking(af)
    });
    case!(v, "ring", "full ring: a blocked sender sets writers_waiting; a frame given back and poll() wake it (group and unicast)", |af| {
        writers_waiting(af)
    });
    case!(v, "ring", "POLLOUT of a group sender: cleared by a full blocking ring member, back once it gives frames back; a full DROP_WHEN_FULL one does not count", |af| {
        pollout_cases(af)
    });
    case!(v, "ring", "POLLIN while the last filled frame is USER; a poller is woken by a message", |af| { pollin_cases(af) });
    case!(v, "ring", "recv, recvfrom, recvmsg, recvmmsg, read -> EOPNOTSUPP at once (empty ring or not); SIOCINQ 0", |af| {
        recv_refused(af)
    });
    case!(v, "ring", "hostile: a reader scribbling on every status word, header field and frame header while senders run: sends succeed or time out, all or nothing, every reference back", |af| {
        hostile(af)
    });
    case!(v, "ring", "close while mapped: the mapping stays readable and writable until munmap, then the socket and the module reference go", |af| {
        close_mapped(af)
    });
    case!(v, "ring", "munmap, then sends fill the ring; a new mapping sees them; close", |af| { munmap_then_close(af) });
    case!(v, "ring", "fork: the child reads and writes the mapping after the parent closed the socket and unmapped", |af| {
        fork_child(af)
    });
    case!(v, "ring", "seqpacket group: rings on admitted members (set before or after admission) and on an owner's SEND_TO_PEER side", |af| {
        seqpacket_group(af)
    });
    let _ = af;
    v
}
