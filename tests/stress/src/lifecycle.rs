//! `--lifecycle N`: N cycles of insmod, sockets of every kind, rmmod.
//!
//! Each cycle loads the module (unless it is loaded: the VM's init loads it
//! before the first), creates
//! - an unbound datagram socket and one bound to an abstract name,
//! - a plain seqpacket socket,
//! - a listener with a pending connection nobody accepts,
//! - a listener with an accepted connection,
//! - a datagram group owner with two members and a message queued at each,
//! - a seqpacket group with an admitted member, a message queued at it,
//! - a datagram and a seqpacket socketpair with a message queued,
//!
//! then closes them one by one in a random order, asking for rmmod after
//! each close: refused (EWOULDBLOCK, or EBUSY) while any remains, accepted
//! after the last (the socket layer may finish a release a moment after
//! close returns, so a refusal right after the last close is retried for
//! up to 2 s and reported when it was needed). After rmmod a socket of the
//! family fails with EAFNOSUPPORT. The module is loaded again at the end for
//! whatever runs next; the VM's init scans kmemleak afterwards.

use test_support::rng::Rng;
use crate::sys::{self, Errno, Fd, SockAddr};
use mcast_unix::MCAST_UNIX_LOOPBACK;

const MODULE: &str = "/mcast_unix.ko";
const NAME: &str = "mcast_unix";

fn loaded() -> bool {
    std::fs::read_to_string("/proc/modules").is_ok_and(|m| m.lines().any(|l| l.starts_with("mcast_unix ")))
}

/// Every kind of socket, each as a name and its descriptor.
fn create_all(af: i32, cycle: u32) -> Result<Vec<(String, Fd)>, String> {
    fn e(what: &'static str) -> impl Fn(Errno) -> String {
        move |err| format!("{what}: {err:?}")
    }
    let mut v: Vec<(String, Fd)> = Vec::new();
    let name = |what: &str| SockAddr::abstract_(af, &format!("mcast-life-{}-{cycle}-{what}", std::process::id()));
    let dg = || sys::socket(af, libc::SOCK_DGRAM);
    let sq = || sys::socket(af, libc::SOCK_SEQPACKET);

    v.push(("datagram".into(), dg().map_err(e("socket dgram"))?));
    let bound = dg().map_err(e("socket dgram"))?;
    sys::bind(&bound, &name("bound")).map_err(e("bind"))?;
    v.push(("bound datagram".into(), bound));
    v.push(("seqpacket".into(), sq().map_err(e("socket seqpacket"))?));

    let listener = sq().map_err(e("socket"))?;
    let la = name("pending");
    sys::bind(&listener, &la).map_err(e("bind listener"))?;
    sys::listen(&listener, 4).map_err(e("listen"))?;
    let pending = sq().map_err(e("socket"))?;
    sys::connect(&pending, &la).map_err(e("connect (left pending)"))?;
    v.push(("listener with a pending connection".into(), listener));
    v.push(("client of the pending connection".into(), pending));

    let listener = sq().map_err(e("socket"))?;
    let la = name("accepted");
    sys::bind(&listener, &la).map_err(e("bind listener"))?;
    sys::listen(&listener, 4).map_err(e("listen"))?;
    let client = sq().map_err(e("socket"))?;
    sys::connect(&client, &la).map_err(e("connect"))?;
    let accepted = sys::accept(&listener, 0).map_err(e("accept"))?;
    sys::send(&client, b"queued", 0).map_err(e("send"))?;
    v.push(("listener".into(), listener));
    v.push(("connected client".into(), client));
    v.push(("accepted connection".into(), accepted));

    let owner = dg().map_err(e("socket"))?;
    let ga = name("dgroup");
    sys::create_group(&owner, &ga).map_err(e("create dgram group"))?;
    for i in 0..2 {
        let m = dg().map_err(e("socket"))?;
        sys::join(&m, &ga, 0).map_err(e("join"))?;
        v.push((format!("datagram member {i}"), m));
    }
    let tx = dg().map_err(e("socket"))?;
    sys::sendto(&tx, b"to the group", libc::MSG_DONTWAIT, &ga).map_err(e("send to group"))?;
    v.push(("datagram group owner".into(), owner));
    v.push(("datagram group sender".into(), tx));

    let bus = sq().map_err(e("socket"))?;
    let ba = name("sgroup");
    sys::create_group(&bus, &ba).map_err(e("create seqpacket group"))?;
    sys::listen(&bus, 4).map_err(e("listen"))?;
    let member = sq().map_err(e("socket"))?;
    sys::connect(&member, &ba).map_err(e("connect to the group"))?;
    let conn = sys::accept(&bus, 0).map_err(e("accept"))?;
    sys::admit(&conn, MCAST_UNIX_LOOPBACK).map_err(e("admit"))?;
    sys::send(&member, b"to the group", libc::MSG_DONTWAIT).map_err(e("send to seqpacket group"))?;
    v.push(("seqpacket group owner".into(), bus));
    v.push(("admitted member".into(), member));
    v.push(("member's accepted connection".into(), conn));

    for (ty, what) in [(libc::SOCK_DGRAM, "datagram"), (libc::SOCK_SEQPACKET, "seqpacket")] {
        let (a, b) = sys::socketpair(af, ty).map_err(e("socketpair"))?;
        sys::send(&a, b"pair", libc::MSG_DONTWAIT).map_err(e("send on a socketpair"))?;
        v.push((format!("{what} socketpair end a"), a));
        v.push((format!("{what} socketpair end b"), b));
    }
    Ok(v)
}

/// Runs the cycles and prints TAP; returns the exit status.
pub fn run(cycles: u32, seed: u64) -> i32 {
    let checks = [
        "insmod succeeds every cycle",
        "sockets of every kind are created every cycle",
        "rmmod is refused while any socket exists",
        "rmmod succeeds after the last close",
        "no socket of the family after rmmod (EAFNOSUPPORT)",
        "the module is loaded again at the end",
    ];
    println!("1..{}", checks.len());
    let mut problems: Vec<Vec<String>> = vec![Vec::new(); checks.len()];
    let mut note = |i: usize, p: String| {
        if problems[i].len() < 8 {
            problems[i].push(p);
        }
    };
    let mut rng = Rng::new(seed);
    let mut refusals = 0u64;
    let mut retried = 0u64;
    let mut sockets = 0u64;
    let start = std::time::Instant::now();
    let mut af = mcast_unix::family().unwrap_or(mcast_unix::AF_MCAST_UNIX);
    for cycle in 1..=cycles {
        if !loaded() {
            if let Err(e) = sys::load_module(MODULE, "") {
                note(0, format!("cycle {cycle}: insmod: {e:?}"));
                break;
            }
        }
        af = mcast_unix::family().unwrap_or(af);
        let mut socks = match create_all(af, cycle) {
            Ok(s) => s,
            Err(e) => {
                note(1, format!("cycle {cycle}: {e}"));
                // Whatever was created is closed by the error path's drops.
                let _ = sys::delete_module(NAME);
                continue;
            }
        };
        sockets += socks.len() as u64;
        // Close in a random order; rmmod after each close but the last must
        // be refused.
        while !socks.is_empty() {
            let i = rng.range(0, socks.len() as u64 - 1) as usize;
            let (name, fd) = socks.swap_remove(i);
            if let Err(e) = sys::close(fd) {
                note(2, format!("cycle {cycle}: close({name}): {e:?}"));
            }
            if socks.is_empty() {
                break;
            }
            match sys::delete_module(NAME) {
                Err(Errno(libc::EWOULDBLOCK)) | Err(Errno(libc::EBUSY)) => refusals += 1,
                other => {
                    note(2, format!("cycle {cycle}: rmmod with {} sockets left (last closed: {name}): {other:?}", socks.len()));
                    // The module went away under open sockets: nothing more
                    // this cycle means anything; load it again.
                    drop(socks);
                    let _ = sys::load_module(MODULE, "");
                    break;
                }
            }
        }
        let mut unloaded = false;
        for attempt in 0..100 {
            match sys::delete_module(NAME) {
                Ok(()) => {
                    if attempt > 0 {
                        retried += 1;
                    }
                    unloaded = true;
                    break;
                }
                Err(Errno(libc::EWOULDBLOCK)) | Err(Errno(libc::EBUSY)) => std::thread::sleep(std::time::Duration::from_millis(20)),
                Err(e) => {
                    note(3, format!("cycle {cycle}: rmmod: {e:?}"));
                    break;
                }
            }
        }
        if !unloaded {
            note(3, format!("cycle {cycle}: rmmod still refused 2 s after the last close"));
            continue;
        }
        for ty in [libc::SOCK_DGRAM, libc::SOCK_SEQPACKET] {
            let r = sys::socket(af, ty).map(|_| ());
            if r != Err(Errno(libc::EAFNOSUPPORT)) {
                note(4, format!("cycle {cycle}: socket() after rmmod: {r:?}"));
            }
        }
    }
    if !loaded() {
        if let Err(e) = sys::load_module(MODULE, "") {
            note(5, format!("insmod at the end: {e:?}"));
        }
    }
    let mut failed = 0;
    for (i, name) in checks.iter().enumerate() {
        let ok = problems[i].is_empty();
        failed += !ok as i32;
        println!("{} {} - lifecycle: {name}", if ok { "ok" } else { "not ok" }, i + 1);
        for p in &problems[i] {
            println!("#   {p}");
        }
    }
    println!(
        "# {cycles} cycles, {sockets} sockets, {refusals} refused rmmods, {retried} cycles needed rmmod retried after the last close, {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if failed == 0 {
        0
    } else {
        1
    }
}
