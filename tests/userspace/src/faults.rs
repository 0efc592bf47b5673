//! Fault injection: each operation of the family is repeated with its 1st,
//! 2nd, 3rd … memory allocation failing (`/proc/thread-self/fail-nth`,
//! Documentation/fault-injection/fault-injection.rst of the kernel) until it
//! runs to the end without reaching the armed allocation. Every attempt must
//! be clean:
//!
//! - a failed call returns an allocation errno (the operation's list below),
//!   never success with part of its state missing;
//! - a failed call changed nothing: no half-made socket in
//!   /proc/net/mcast_unix, no inode left by a failed bind, no half-joined
//!   member (a send to the group does not reach it and a new JOIN succeeds),
//!   no message delivered by a failed group send (all or nothing);
//! - a call that succeeded although a fault was injected (the failed
//!   allocation had a fallback) did all of its work;
//! - close always completes and leaves no trace of the socket in its groups.
//!
//! At the end every socket is closed and the module must unload (the VM's
//! init scans for leaks with kmemleak afterwards).
//!
//! Needs a kernel with CONFIG_FAULT_INJECTION, FAILSLAB, FAIL_PAGE_ALLOC and
//! FAULT_INJECTION_DEBUG_FS (the test kernel) and debugfs mounted (the VM's
//! init does). Nothing between arming and disarming allocates in this
//! process, so the armed fault lands in the call under test.

use crate::harness::{Case, CaseResult};
use mcast_unix::Socket;
use std::os::fd::AsRawFd;
use crate::mcast::{self, drain, fresh, proc_group, proc_lines, proc_sock};
use crate::seqgroups::{Bus, Conn};
use crate::client;
use crate::sys::{self, IntoSys, Errno, SysResult};
use mcast_unix::Addr;
use crate::{case, ensure};
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

type R<T> = Result<T, String>;

const D: i32 = libc::SOCK_DGRAM;
const S: i32 = libc::SOCK_SEQPACKET;

/// Give up on an operation that still fails after this many fault points.
const CAP: u32 = 200;

/// What a failed allocation may turn into.
const ALLOC: &[i32] = &[libc::ENOMEM, libc::ENOBUFS];
/// Allocation errnos of socket(): ENFILE when the socket inode or file cannot be made.
const ALLOC_SOCKET: &[i32] = &[libc::ENOMEM, libc::ENOBUFS, libc::ENFILE];
/// Of a pathname bind: tmpfs reports a failed inode allocation as ENOSPC.
const ALLOC_MKNOD: &[i32] = &[libc::ENOMEM, libc::ENOBUFS, libc::ENOSPC];
/// Of sends and connects, which may also report the failure as a full queue.
const ALLOC_SEND: &[i32] = &[libc::ENOMEM, libc::ENOBUFS, libc::EAGAIN];
/// close() never fails.
const NONE: &[i32] = &[];

/// The fault-injection knobs: slab and page allocations that may sleep fail
/// too, highmem allocations too, no messages or stack dumps, every task.
const KNOBS: &[(&str, &str)] = &[
    ("/sys/kernel/debug/failslab/ignore-gfp-wait", "N"),
    ("/sys/kernel/debug/failslab/verbose", "0"),
    ("/sys/kernel/debug/failslab/task-filter", "N"),
    ("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N"),
    ("/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N"),
    ("/sys/kernel/debug/fail_page_alloc/verbose", "0"),
    ("/sys/kernel/debug/fail_page_alloc/task-filter", "N"),
];

/// The socket lines of /proc/net/mcast_unix before the first fault case (not ours).
static BASELINE: OnceLock<Vec<String>> = OnceLock::new();

/// The socket lines of /proc/net/mcast_unix (without the header).
fn socket_lines() -> Vec<String> {
    proc_lines().into_iter().filter(|l| l.starts_with("S ") && !l.starts_with("S inode ")).collect()
}

/// Sets the knobs (once) and records the baseline.
fn configure() -> R<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    BASELINE.get_or_init(socket_lines);
    DONE.get_or_init(|| {
        for (path, value) in KNOBS {
            std::fs::write(path, value).map_err(|e| format!("{path}: {e} (a kernel with fault injection and debugfs?)"))?;
        }
        Ok(())
    })
    .clone()
}

/// This thread's /proc/thread-self/fail-nth.
struct FailNth(std::fs::File);

impl FailNth {
    fn open() -> R<FailNth> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/thread-self/fail-nth")
            .map_err(|e| format!("/proc/thread-self/fail-nth: {e}"))?;
        Ok(FailNth(f))
    }

    /// The `n`th allocation of this thread from now on fails.
    fn arm(&self, n: u32) -> R<()> {
        let text = n.to_string();
        self.0.write_at(text.as_bytes(), 0).map(|_| ()).map_err(|e| format!("arm fail-nth: {e}"))
    }

    /// Whether the armed fault was injected; disarms it.
    fn disarm(&self) -> R<bool> {
        let mut buf = [0u8; 16];
        let n = self.0.read_at(&mut buf, 0).map_err(|e| format!("read fail-nth: {e}"))?;
        self.0.write_at(b"0", 0).map_err(|e| format!("disarm fail-nth: {e}"))?;
        let left: u32 = std::str::from_utf8(&buf[..n])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("fail-nth read {:?}", &buf[..n]))?;
        Ok(left == 0)
    }
}

fn errno_list(v: &[i32]) -> String {
    v.iter().map(|&e| format!("{:?}", Errno(e))).collect::<Vec<_>>().join("/")
}

/// Fails the 1st, 2nd, … allocation of `call` (made on a fresh `setup` each
/// time) until a run does not reach the armed allocation; `check` verifies
/// the state after every run against what the call returned. Every fault
/// point is tried even after a bad one; the case fails with all of them.
fn sweep<St, T>(
    op: &str,
    allowed: &[i32],
    mut setup: impl FnMut() -> R<St>,
    mut call: impl FnMut(&mut St) -> SysResult<T>,
    mut check: impl FnMut(&mut St, &SysResult<T>) -> R<()>,
) -> CaseResult {
    configure()?;
    let fail = FailNth::open()?;
    let mut errnos: BTreeMap<String, u32> = BTreeMap::new();
    let mut absorbed = 0;
    let mut bad = Vec::new();
    for n in 1..=CAP {
        let mut st = setup().map_err(|m| format!("{op}: setup for fault {n}: {m}"))?;
        fail.arm(n)?;
        let r = call(&mut st);
        let injected = fail.disarm()?;
        let seen = match &r {
            Ok(_) => "success".to_string(),
            Err(e) => format!("{e:?}"),
        };
        match (&r, injected) {
            (Err(e), true) if !allowed.contains(&e.0) => {
                bad.push(format!("fault {n}: returned {e:?}, not {}", errno_list(allowed)));
            }
            (Err(e), true) => *errnos.entry(format!("{e:?}")).or_default() += 1,
            (Ok(_), true) => absorbed += 1,
            (Err(e), false) => bad.push(format!("run {n} (no fault injected): returned {e:?}")),
            (Ok(_), false) => {}
        }
        if let Err(m) = check(&mut st, &r) {
            let what = if injected { format!("fault {n}") } else { format!("run {n} (no fault injected)") };
            bad.push(format!("{what}: returned {seen}, but {m}"));
        }
        drop(r);
        drop(st);
        if !injected {
            let failed: u32 = errnos.values().sum();
            let by_errno: Vec<String> = errnos.iter().map(|(e, c)| format!("{c} {e}")).collect();
            println!(
                "# faults: {op}: {} fault points: {failed} failed ({}), {absorbed} absorbed (success anyway); {} bad",
                n - 1,
                if by_errno.is_empty() { "-".to_string() } else { by_errno.join(", ") },
                bad.len()
            );
            if bad.is_empty() {
                return Ok(());
            }
            return Err(format!("{op}: {} of {} fault points not clean:\n{}", bad.len(), n - 1, bad.join("\n")));
        }
    }
    bad.push(format!("still reaching fault points after {CAP} runs"));
    Err(format!("{op}:\n{}", bad.join("\n")))
}

fn inode(fd: &Socket) -> String {
    // SAFETY: all-zero is a valid struct stat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is valid for fstat.
    unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    st.st_ino.to_string()
}

/// The socket line with inode `ino`, split.
fn sock_line(ino: &str) -> Option<Vec<String>> {
    socket_lines()
        .into_iter()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|f| f.get(1).map(String::as_str) == Some(ino))
}

/// The member count of the group at `a` (its G line), or None without one.
fn members_of(a: &Addr) -> Option<usize> {
    proc_group(a).and_then(|g| g.get(3).and_then(|m| m.parse().ok()))
}

/// The `sent` counter of the group at `a`.
fn sent_of(a: &Addr) -> Option<u64> {
    proc_group(a).and_then(|g| g.get(4).and_then(|m| m.parse().ok()))
}

/// `groups` and `role` of `fd`'s socket line.
fn groups_role(fd: &Socket) -> Option<(String, String)> {
    proc_sock(fd).map(|f| (f.get(6).cloned().unwrap_or_default(), f.get(4).cloned().unwrap_or_default()))
}

fn expect<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> R<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} is {got:?}, want {want:?}"))
    }
}

fn ok<T>(r: SysResult<T>, what: &str) -> R<T> {
    r.map_err(|e| format!("{what}: {e:?}"))
}

/// close() of a raw descriptor taken out of its `Socket`.
fn close_raw(fd: &mut Option<Socket>) -> SysResult<()> {
    let raw = fd.take().map(|f| {
        let raw = f.as_raw_fd();
        std::mem::forget(f);
        raw
    });
    // SAFETY: we owned the descriptor and give it up here.
    sys::check(unsafe { libc::close(raw.unwrap_or(-1)) } as _).map(|_| ())
}

/// A directory for the pathname cases.
fn dir() -> R<String> {
    let d = format!("/tmp/faults-{}", std::process::id());
    std::fs::create_dir_all(&d).map_err(|e| format!("mkdir {d}: {e}"))?;
    Ok(d)
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "faults", "fault injection is available: the knobs and fail-nth", |af| {
        configure()?;
        let f = FailNth::open()?;
        // An armed fault lands in the next allocation: here, a socket.
        f.arm(1)?;
        let r = sys::socket(af, D, 0);
        let injected = f.disarm()?;
        ensure!(injected, "fail-nth 1 did not fire in socket() (returned {r:?})");
        ensure!(r.is_err(), "socket() succeeded with its first allocation failing");
        Ok(())
    });

    for (ty, name) in [(D, "socket: create a datagram socket"), (S, "socket: create a seqpacket socket")] {
        v.push(Case::new(format!("faults: {name}"), move || {
            sweep(
                name,
                ALLOC_SOCKET,
                || Ok(socket_lines().len()),
                |_| sys::socket(af, ty, 0),
                |before, r| match r {
                    Ok(fd) => {
                        ensure!(proc_sock(fd).is_some(), "the new socket is not listed");
                        expect("socket lines", socket_lines().len(), *before + 1)?;
                        let a = fresh("fi-sock");
                        ok(fd.bind(&a).sys(), "bind the new socket")
                    }
                    Err(_) => expect("socket lines", socket_lines().len(), *before),
                },
            )
        }));
    }

    case!(v, "faults", "bind: an abstract name", |af| {
        struct St {
            s: Socket,
            a: Addr,
        }
        sweep(
            "bind: an abstract name",
            ALLOC,
            || Ok(St { s: mcast::sock(af, D), a: fresh("fi-bind") }),
            |st| st.s.bind(&st.a).sys(),
            |st, r| {
                let other = mcast::sock(af, D);
                if r.is_ok() {
                    expect("getsockname", ok(st.s.local_addr().sys(), "getsockname")?, st.a.clone())?;
                    expect("another bind of the name", other.bind(&st.a).sys(), Err(Errno(libc::EADDRINUSE)))?;
                    ok(other.send_to_with_flags(b"m", &st.a, libc::MSG_DONTWAIT).sys(), "sendto the name")?;
                    return expect("received", drain(&st.s), vec![b"m".to_vec()]);
                }
                expect("getsockname length", ok(sys::getsockname(&st.s), "getsockname")?.len, 2)?;
                expect("listed address", proc_sock(&st.s).and_then(|f| f.get(5).cloned()), Some("-".to_string()))?;
                ok(other.bind(&st.a).sys(), "the name is free: another socket binds it")?;
                drop(other);
                ok(st.s.bind(&st.a).sys(), "bind again")
            },
        )
    });

    case!(v, "faults", "bind: a path", |af| {
        let d = dir()?;
        let mut n = 0;
        struct St {
            s: Socket,
            a: Addr,
            path: String,
        }
        let r = sweep(
            "bind: a path",
            ALLOC_MKNOD,
            || {
                n += 1;
                let path = format!("{d}/b{n}");
                let _ = std::fs::remove_file(&path);
                Ok(St { s: mcast::sock(af, D), a: Addr::path(&path).unwrap(), path })
            },
            |st| st.s.bind(&st.a).sys(),
            |st, r| {
                let exists = std::fs::symlink_metadata(&st.path).is_ok();
                if r.is_ok() {
                    ensure!(exists, "no inode at {}", st.path);
                    let other = mcast::sock(af, D);
                    ok(other.send_to_with_flags(b"m", &st.a, libc::MSG_DONTWAIT).sys(), "sendto the path")?;
                    return expect("received", drain(&st.s), vec![b"m".to_vec()]);
                }
                ensure!(!exists, "the failed bind left an inode at {} (a new bind gives EADDRINUSE)", st.path);
                expect("getsockname length", ok(sys::getsockname(&st.s), "getsockname")?.len, 2)?;
                ok(st.s.bind(&st.a).sys(), "bind again")
            },
        );
        let _ = std::fs::remove_dir_all(&d);
        r
    });

    case!(v, "faults", "connect: a seqpacket client to a listener", |af| {
        struct St {
            l: Socket,
            a: Addr,
            c: Socket,
            before: usize,
        }
        sweep(
            "connect: seqpacket",
            ALLOC_SEND,
            || {
                let l = mcast::sock(af, S);
                let a = fresh("fi-listen");
                ok(l.bind(&a).sys(), "bind")?;
                ok(l.listen(8).sys(), "listen")?;
                ok(l.set_nonblocking(true).sys(), "O_NONBLOCK")?;
                let c = mcast::sock(af, S);
                Ok(St { l, a, c, before: socket_lines().len() })
            },
            |st| st.c.connect(&st.a).sys(),
            |st, r| {
                if r.is_err() {
                    expect("getpeername", st.c.peer_addr().sys().err(), Some(Errno(libc::ENOTCONN)))?;
                    expect("accept", st.l.accept().sys().err(), Some(Errno(libc::EAGAIN)))?;
                    expect("socket lines (no connection left listed)", socket_lines().len(), st.before)?;
                    ok(st.c.connect(&st.a).sys(), "connect again")?;
                }
                let (acc, _) = ok(st.l.accept().sys(), "accept")?;
                ok(st.c.send_with_flags(b"m", libc::MSG_DONTWAIT).sys(), "send")?;
                expect("received", drain(&acc), vec![b"m".to_vec()])
            },
        )
    });

    case!(v, "faults", "sendmsg with SCM_RIGHTS to a datagram group of three: a failed send holds no descriptor", |af| {
        struct St {
            _owner: Socket,
            ms: Vec<Socket>,
            tx: Socket,
            r: Option<std::os::fd::OwnedFd>,
            w: std::os::fd::OwnedFd,
            ctl: [u64; 4],
            name: (libc::sockaddr_un, libc::socklen_t),
        }
        sweep(
            "sendmsg SCM_RIGHTS",
            ALLOC_SEND,
            || {
                let (owner, a) = mcast::dgram_group(af);
                let ms = mcast::members(af, &a, 3, 0);
                let tx = mcast::sock(af, D);
                let (r, w) = sys::pipe().map_err(|e| format!("pipe: {e:?}"))?;
                let mut ctl = [0u64; 4];
                // SAFETY: one SCM_RIGHTS header with one descriptor, inside `ctl`.
                unsafe {
                    let c = ctl.as_mut_ptr().cast::<libc::cmsghdr>();
                    (*c).cmsg_len = libc::CMSG_LEN(4) as _;
                    (*c).cmsg_level = libc::SOL_SOCKET;
                    (*c).cmsg_type = libc::SCM_RIGHTS;
                    std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), r.as_raw_fd());
                }
                let name = a.to_raw(tx.family() as libc::sa_family_t);
                Ok(St { _owner: owner, ms, tx, r: Some(r), w, ctl, name })
            },
            // Nothing here allocates in userspace: the message is built in setup.
            |st| {
                let data = [b'm'];
                let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: 1 };
                // SAFETY: all-zero is a valid msghdr; every pointer set below
                // is valid for its length during the call.
                let r = unsafe {
                    let mut m: libc::msghdr = std::mem::zeroed();
                    m.msg_name = std::ptr::addr_of_mut!(st.name.0).cast();
                    m.msg_namelen = st.name.1;
                    m.msg_iov = &mut iov;
                    m.msg_iovlen = 1;
                    m.msg_control = st.ctl.as_mut_ptr().cast();
                    m.msg_controllen = libc::CMSG_SPACE(4) as _;
                    libc::sendmsg(st.tx.as_raw_fd(), &m, libc::MSG_DONTWAIT)
                };
                if r < 0 {
                    Err(Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)))
                } else {
                    Ok(r as usize)
                }
            },
            |st, r| {
                for (i, m) in st.ms.iter().enumerate() {
                    let mut buf = [0u8; 8];
                    let got = m.recv_msg(&mut buf, libc::MSG_DONTWAIT).map(|m| m.fds.len()).map_err(|e| e.raw_os_error());
                    let want = if r.is_ok() { Ok(1) } else { Err(Some(libc::EAGAIN)) };
                    expect(&format!("member {i} received (descriptors)"), got, want)?;
                }
                drop(st.r.take());
                // No read end left anywhere: nothing kept a reference.
                expect("write to the pipe", sys::write(&st.w, b"x").err(), Some(Errno(libc::EPIPE)))
            },
        )
    });

    case!(v, "faults", "JOIN_GROUP: a datagram group with two members", |af| {
        struct St {
            _owner: Socket,
            a: Addr,
            old: Vec<Socket>,
            new: Socket,
            tx: Socket,
        }
        sweep(
            "JOIN_GROUP",
            ALLOC,
            || {
                let (owner, a) = mcast::dgram_group(af);
                let old = mcast::members(af, &a, 2, 0);
                Ok(St { _owner: owner, a, old, new: mcast::sock(af, D), tx: mcast::sock(af, D) })
            },
            |st| mcast::join(&st.new, &st.a, 0),
            |st, r| {
                if r.is_err() {
                    expect("members", members_of(&st.a), Some(2))?;
                    expect("the joiner's groups and role", groups_role(&st.new), Some(("0".into(), "plain".into())))?;
                    ok(st.tx.send_to_with_flags(b"before", &st.a, libc::MSG_DONTWAIT).sys(), "send to the group")?;
                    expect("the joiner received", drain(&st.new).len(), 0)?;
                    for m in &st.old {
                        expect("a member received", drain(m), vec![b"before".to_vec()])?;
                    }
                    ok(mcast::join(&st.new, &st.a, 0), "join again")?;
                }
                expect("members", members_of(&st.a), Some(3))?;
                expect("the joiner's groups and role", groups_role(&st.new), Some(("1".into(), "member".into())))?;
                ok(st.tx.send_to_with_flags(b"after", &st.a, libc::MSG_DONTWAIT).sys(), "send to the group")?;
                expect("the joiner received", drain(&st.new), vec![b"after".to_vec()])?;
                for m in &st.old {
                    expect("a member received", drain(m), vec![b"after".to_vec()])?;
                }
                Ok(())
            },
        )
    });

    case!(v, "faults", "ADMIT_MEMBER: a seqpacket group with one member", |af| {
        struct St {
            bus: Bus,
            m0: Conn,
            c: Conn,
        }
        sweep(
            "ADMIT_MEMBER",
            ALLOC,
            || {
                let bus = Bus::new(af);
                let m0 = bus.member(0);
                let c = bus.connect();
                Ok(St { bus, m0, c })
            },
            |st| mcast::admit(&st.c.accepted, 0),
            |st, r| {
                if r.is_err() {
                    expect("members", members_of(&st.bus.addr), Some(1))?;
                    expect("the client's groups", groups_role(&st.c.client).map(|g| g.0), Some("0".into()))?;
                    ok(st.m0.client.send_with_flags(b"before", libc::MSG_DONTWAIT).sys(), "member sends")?;
                    expect("the client received", drain(&st.c.client).len(), 0)?;
                    ok(mcast::admit(&st.c.accepted, 0), "admit again")?;
                }
                expect("members", members_of(&st.bus.addr), Some(2))?;
                ok(st.m0.client.send_with_flags(b"after", libc::MSG_DONTWAIT).sys(), "member sends")?;
                expect("the client received", drain(&st.c.client), vec![b"after".to_vec()])
            },
        )
    });

    for admitted in [true, false] {
        let name = if admitted { "PEER_FILTER: on an admitted member" } else { "PEER_FILTER: before admission" };
        v.push(Case::new(format!("faults: {name}"), move || {
            struct St {
                _bus: Bus,
                m0: Conn,
                c: Conn,
            }
            let reject = mcast::ret_prog(0);
            sweep(
                name,
                ALLOC,
                || {
                    let bus = Bus::new(af);
                    let m0 = bus.member(0);
                    let c = if admitted { bus.member(0) } else { bus.connect() };
                    Ok(St { _bus: bus, m0, c })
                },
                |st| mcast::set_peer_filter(&st.c.accepted, Some(&reject)),
                |st, r| {
                    if !admitted {
                        ok(mcast::admit(&st.c.accepted, 0), "admit")?;
                    }
                    ok(st.m0.client.send_with_flags(b"m", libc::MSG_DONTWAIT).sys(), "member sends")?;
                    if r.is_err() {
                        expect("received without the filter", drain(&st.c.client), vec![b"m".to_vec()])?;
                        ok(mcast::set_peer_filter(&st.c.accepted, Some(&reject)), "set the filter again")?;
                        ok(st.m0.client.send_with_flags(b"m", libc::MSG_DONTWAIT).sys(), "member sends")?;
                    }
                    expect("received through the filter", drain(&st.c.client).len(), 0)
                },
            )
        }));
    }

    case!(v, "faults", "send: to a datagram group of 20 members", |af| {
        let (_owner, a) = mcast::dgram_group(af);
        let ms = mcast::members(af, &a, 20, 0);
        let tx = mcast::sock(af, D);
        ok(tx.set_write_timeout(Some(std::time::Duration::from_millis(2000))).sys(), "SO_SNDTIMEO")?;
        let mut n = 0u32;
        sweep(
            "send: datagram group of 20",
            ALLOC_SEND,
            || {
                n += 1;
                for m in &ms {
                    drain(m);
                }
                Ok((format!("message {n}").into_bytes(), sent_of(&a).ok_or_else(|| "no group line".to_string())?))
            },
            |st| tx.send_to(&st.0, &a).sys(),
            |st, r| {
                let got: Vec<Vec<Vec<u8>>> = ms.iter().map(drain).collect();
                let reached = got.iter().filter(|g| !g.is_empty()).count();
                if r.is_err() {
                    expect("members reached by the failed send", reached, 0)?;
                    return expect("sent counter", sent_of(&a), Some(st.1));
                }
                for g in &got {
                    expect("a member's messages", g, &vec![st.0.clone()])?;
                }
                expect("sent counter", sent_of(&a), Some(st.1 + 1))
            },
        )
    });

    case!(v, "faults", "close: a member of a datagram group", |af| {
        struct St {
            _owner: Socket,
            a: Addr,
            victim: Option<Socket>,
            ino: String,
            rest: Vec<Socket>,
            tx: Socket,
        }
        sweep(
            "close: dgram member",
            NONE,
            || {
                let (owner, a) = mcast::dgram_group(af);
                let mut ms = mcast::members(af, &a, 3, 0);
                let victim = ms.remove(0);
                Ok(St { _owner: owner, a, ino: inode(&victim), victim: Some(victim), rest: ms, tx: mcast::sock(af, D) })
            },
            |st| close_raw(&mut st.victim),
            |st, _| {
                ensure!(sock_line(&st.ino).is_none(), "the closed socket is still listed");
                expect("members (the closed one must be gone)", members_of(&st.a), Some(2))?;
                let t = Instant::now();
                ok(st.tx.send_to_with_flags(b"m", &st.a, libc::MSG_DONTWAIT).sys(), "send to the group")?;
                ensure!(t.elapsed() < Duration::from_secs(1), "the send took {:?}", t.elapsed());
                for m in &st.rest {
                    expect("a member received", drain(m), vec![b"m".to_vec()])?;
                }
                Ok(())
            },
        )
    });

    case!(v, "faults", "close: the owner of a datagram group with three members", |af| {
        struct St {
            owner: Option<Socket>,
            a: Addr,
            ino: String,
            ms: Vec<Socket>,
        }
        sweep(
            "close: dgram owner",
            NONE,
            || {
                let (owner, a) = mcast::dgram_group(af);
                let ms = mcast::members(af, &a, 3, 0);
                Ok(St { ino: inode(&owner), owner: Some(owner), a, ms })
            },
            |st| close_raw(&mut st.owner),
            |st, _| {
                ensure!(sock_line(&st.ino).is_none(), "the closed owner is still listed");
                ensure!(proc_group(&st.a).is_none(), "the group is still listed: {:?}", proc_group(&st.a));
                for m in &st.ms {
                    expect("a member's groups and role (the group is gone)", groups_role(m), Some(("0".into(), "plain".into())))?;
                    expect("LEAVE", mcast::leave(m, &st.a).err(), Some(Errno(libc::EADDRNOTAVAIL)))?;
                }
                let tx = mcast::sock(af, D);
                expect("send to the address", tx.send_to_with_flags(b"m", &st.a, libc::MSG_DONTWAIT).sys().err(), Some(Errno(libc::ECONNREFUSED)))?;
                ok(mcast::create_group(&mcast::sock(af, D), &st.a), "a new group at the address")
            },
        )
    });

    case!(v, "faults", "close: the owner of a seqpacket group with three members", |af| {
        struct St {
            bus: Bus,
            owner: Option<Socket>,
            ino: String,
            ms: Vec<Conn>,
        }
        sweep(
            "close: seqpacket owner",
            NONE,
            || {
                let mut bus = Bus::new(af);
                let ms: Vec<Conn> = (0..3).map(|_| bus.member(0)).collect();
                // The bus's owner field gets a stand-in descriptor (no socket, so
                // nothing is listed) while the case closes the real owner.
                let stand_in = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
                let owner = std::mem::replace(&mut bus.owner, Socket::from_fd(stand_in.into(), af).unwrap());
                Ok(St { bus, ino: inode(&owner), owner: Some(owner), ms })
            },
            |st| close_raw(&mut st.owner),
            |st, _| {
                ensure!(sock_line(&st.ino).is_none(), "the closed owner is still listed");
                ensure!(proc_group(&st.bus.addr).is_none(), "the group is still listed");
                for m in &st.ms {
                    expect("a member's groups (the group is gone)", groups_role(&m.client).map(|g| g.0), Some("0".into()))?;
                    expect("a member reads", client::recv(&m.client, 16, libc::MSG_DONTWAIT), Ok(Vec::new()))?;
                }
                Ok(())
            },
        )
    });

    case!(v, "faults", "close: an admitted member of a seqpacket group", |af| {
        struct St {
            bus: Bus,
            victim: Option<Socket>,
            ino: String,
            _accepted: Socket,
            rest: Vec<Conn>,
        }
        sweep(
            "close: seqpacket member",
            NONE,
            || {
                let bus = Bus::new(af);
                let mut ms: Vec<Conn> = (0..3).map(|_| bus.member(0)).collect();
                let Conn { client, accepted } = ms.remove(0);
                Ok(St { bus, ino: inode(&client), victim: Some(client), _accepted: accepted, rest: ms })
            },
            |st| close_raw(&mut st.victim),
            |st, _| {
                ensure!(sock_line(&st.ino).is_none(), "the closed member is still listed");
                expect("members (the closed one must be gone)", members_of(&st.bus.addr), Some(2))?;
                ok(st.rest[0].client.send_with_flags(b"m", libc::MSG_DONTWAIT).sys(), "another member sends")?;
                expect("the third member received", drain(&st.rest[1].client), vec![b"m".to_vec()])
            },
        )
    });

    v.push(Case::new("faults: afterwards: no socket of these cases is left and the module unloads", || -> CaseResult {
        let base = BASELINE.get().cloned().unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(5);
        let refcnt = || std::fs::read_to_string("/sys/module/mcast_unix/refcnt").map(|s| s.trim().to_string());
        // Freed member lists drop their socket references after an RCU grace period.
        while Instant::now() < deadline && (refcnt().ok().as_deref() != Some("0") || socket_lines() != base) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left: Vec<String> = socket_lines().into_iter().filter(|l| !base.contains(l)).collect();
        ensure!(left.is_empty(), "sockets still listed after every case closed its own:\n{}", left.join("\n"));
        ensure!(base.is_empty(), "sockets of earlier cases are listed (not these cases'):\n{}", base.join("\n"));
        let r = refcnt().map_err(|e| e.to_string())?;
        ensure!(
            r == "0",
            "module refcnt is {r} with none of our sockets listed: closed sockets are still referenced \
             (by a group's member list?), so rmmod would fail"
        );
        expect("rmmod", sys::unload_module("mcast_unix"), Ok(()))?;
        expect("insmod again", sys::load_module("/mcast_unix.ko", ""), Ok(()))
    }));

    v
}
