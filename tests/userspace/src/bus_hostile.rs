//! The bus against clients that do not play by the library: names crafted
//! to share a routing hash with another live name (the kernel routes by
//! hash alone, so such a name would read the other's traffic), forged
//! replies to calls made to a well-known name, connections that never say
//! Hello, refused clients that send garbage, and one uid opening too many
//! connections. Each case runs its own daemon in a thread of this process
//! on a fresh abstract address.

use crate::harness::{expect_eq, Case};
use crate::sys::{Child, Errno};
use crate::testbus::{bus_call, dbus_err, me, raw_record, recv_raw, s, wait_for, TestBus, WAIT};
use crate::{case, ensure};
use mcast_bus::{Limits, Policy};
use mcast_unix::bus::names::errors;
use mcast_unix::bus::{name_hash, Bus, BusMessage, RequestNameFlags as F, RequestNameReply as R, BUS_NAME};
use mcast_unix::McastSeqpacket;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};
use zbus::message::Type;

/// The FNV-1a prime's inverse modulo 2^32 (Newton's iteration).
fn fnv_prime_inverse() -> u32 {
    const P: u32 = 0x0100_0193;
    let mut x = P; // correct to 3 bits (P is odd); each step doubles them
    for _ in 0..5 {
        x = x.wrapping_mul(2u32.wrapping_sub(P.wrapping_mul(x)));
    }
    debug_assert_eq!(P.wrapping_mul(x), 1);
    x
}

/// A well-known name (`org.hostile.x` and letters and digits) whose
/// routing hash is `target`: a meet-in-the-middle search, forward over
/// three-character middles and backward (FNV-1a's steps are invertible)
/// over tails of three characters and more, about a second in the VM.
fn preimage(target: u32) -> String {
    const PREFIX: &str = "org.hostile.x";
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const P: u32 = 0x0100_0193;
    let word = |mut i: usize, len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                let c = ALPHABET[i % ALPHABET.len()];
                i /= ALPHABET.len();
                c
            })
            .collect()
    };
    let base = mcast_unix::fnv1a32(PREFIX.as_bytes());
    let n3 = ALPHABET.len().pow(3);
    let mut forward: HashMap<u32, u32> = HashMap::with_capacity(n3);
    for i in 0..n3 {
        let h = word(i, 3).iter().fold(base, |h, b| (h ^ u32::from(*b)).wrapping_mul(P));
        forward.insert(h, i as u32);
    }
    let inv = fnv_prime_inverse();
    for len in 3.. {
        for t in 0..ALPHABET.len().pow(len as u32) {
            let tail = word(t, len);
            let h = tail.iter().rev().fold(target, |h, b| h.wrapping_mul(inv) ^ u32::from(*b));
            if let Some(mid) = forward.get(&h) {
                let name = format!("{PREFIX}{}{}", String::from_utf8_lossy(&word(*mid as usize, 3)), String::from_utf8_lossy(&tail));
                if name_hash(&name) == target {
                    return name;
                }
            }
        }
    }
    unreachable!("the tails grow until one meets a middle")
}

/// Fails if any record is queued at `b`'s socket, read raw (as a client
/// skipping the library would).
fn raw_nothing(what: &str, b: &Bus) -> Result<(), String> {
    match raw_record(b, 0).map_err(|e| format!("{what}: read: {e}"))? {
        None => Ok(()),
        Some(desc) => Err(format!("{what}: the kernel delivered a record: {desc}")),
    }
}

/// Reads `raw` until end of file (Ok) or `within` passes (Err), skipping
/// records.
fn eof_within(raw: &McastSeqpacket, within: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    s(raw.set_read_timeout(Some(within)))?;
    let mut buf = vec![0u8; 4096];
    loop {
        match raw.recv(&mut buf) {
            Ok(0) => return Ok(start.elapsed()),
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(start.elapsed()),
            Ok(_) => continue,
            Err(e) if start.elapsed() >= within => return Err(format!("no end of file within {within:?}: {e}")),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "bus-hostile", "a name hashing like a victim's unique name is refused (AccessDenied) and a raw reader gets none of the victim's calls, signals or descriptors", |af| {
        let bus = TestBus::start(af)?;
        let mut victim = bus.client()?;
        let mut attacker = bus.client()?;
        let caller = bus.client()?;
        let evil = preimage(name_hash(victim.unique_name()));
        ensure!(name_hash(&evil) == name_hash(victim.unique_name()) && evil != victim.unique_name());
        let r = attacker.request_name(&evil, F::empty());
        expect_eq(&format!("RequestName({evil}), the hash of {}", victim.unique_name()), dbus_err(r), Ok(errors::ACCESS_DENIED.to_owned()))?;
        expect_eq("the name has no owner", s(attacker.name_has_owner(&evil))?, false)?;
        // The victim's traffic: a call carrying a descriptor, a unicast signal.
        let (rd, _wr) = s(std::io::pipe())?;
        let call = s(zbus::Message::method_call("/v", "Take")
            .destination(victim.unique_name())
            .sender(caller.unique_name())
            .build(&(zbus::Fd::from(rd.as_fd()),)))?;
        s(caller.send_message(&call))?;
        s(caller.emit_to(victim.unique_name(), "/v", "org.example.V", "Poke", &()))?;
        let got = wait_for(&mut victim, "the call", |m| m.member() == Some("Take"))?;
        let fds = s(got.fds())?;
        ensure!(fds.len() == 1, "the victim got {} descriptors", fds.len());
        wait_for(&mut victim, "the signal", |m| m.member() == Some("Poke"))?;
        raw_nothing("the attacker", &attacker)
    });
    case!(v, "bus-hostile", "names hashing like org.freedesktop.DBus or another owned well-known name are refused, queueing included", |af| {
        let bus = TestBus::start(af)?;
        let mut owner = bus.client()?;
        let mut attacker = bus.client()?;
        let dbus_twin = preimage(name_hash(BUS_NAME));
        expect_eq(&format!("RequestName({dbus_twin})"), dbus_err(attacker.request_name(&dbus_twin, F::empty())), Ok(errors::ACCESS_DENIED.to_owned()))?;
        let a = "org.example.Twin".to_owned();
        let b = preimage(name_hash(&a));
        expect_eq(&format!("RequestName({a})"), s(owner.request_name(&a, F::empty()))?, R::PrimaryOwner)?;
        for flags in [F::empty(), F::DO_NOT_QUEUE, F::REPLACE_EXISTING] {
            expect_eq(&format!("RequestName({b}, {flags:?})"), dbus_err(attacker.request_name(&b, flags)), Ok(errors::ACCESS_DENIED.to_owned()))?;
        }
        expect_eq("queued owners of the twin", dbus_err(attacker.call_bus("ListQueuedOwners", &(b.as_str(),))), Ok(errors::NAME_HAS_NO_OWNER.to_owned()))?;
        // Calls to the owned name and to the bus reach their owners only.
        let caller = bus.client()?;
        let call = s(zbus::Message::method_call("/a", "Hit").destination(a.as_str()).sender(caller.unique_name()).build(&()))?;
        s(caller.send_message(&call))?;
        wait_for(&mut owner, "the call to the owned name", |m| m.member() == Some("Hit"))?;
        s(owner.get_id())?;
        raw_nothing("the attacker", &attacker)?;
        // Once the first name is gone, the twin is free.
        s(owner.release_name(&a))?;
        expect_eq(&format!("RequestName({b}) after {a} was released"), s(attacker.request_name(&b, F::empty()))?, R::PrimaryOwner)?;
        expect_eq(&format!("RequestName({a}) now"), dbus_err(owner.request_name(&a, F::empty())), Ok(errors::ACCESS_DENIED.to_owned()))
    });
    case!(v, "bus-hostile", "a Hello whose unique name hashes like an owned well-known name is refused and the connection closed", |af| {
        // A deadline past the case's waits: the refused Hello itself must close it.
        let bus = TestBus::start_with(af, Limits { hello_timeout: Duration::from_secs(60), ..Limits::default() })?;
        let mut squatter = bus.client()?;
        let raw = bus.raw()?;
        let future = format!(":1.{}", s(raw.id())?);
        let twin = preimage(name_hash(&future));
        expect_eq(&format!("RequestName({twin}) before {future} says Hello"), s(squatter.request_name(&twin, F::empty()))?, R::PrimaryOwner)?;
        s(raw.send(&s(BusMessage::encode(&bus_call("Hello")?))?))?;
        let reply = recv_raw(&raw)?;
        expect_eq("the Hello's reply", (reply.msg_type(), reply.error_name()), (Type::Error, Some(errors::ACCESS_DENIED)))?;
        eof_within(&raw, WAIT)?;
        expect_eq(&format!("NameHasOwner({future})"), s(squatter.name_has_owner(&future))?, false)
    });
    case!(v, "bus-hostile", "a forged reply to a call to a well-known name (right serial, another sender) is not taken; the owner's is", |af| {
        let bus = TestBus::start(af)?;
        let mut service = bus.client()?;
        s(service.request_name("org.example.Real", F::DO_NOT_QUEUE))?;
        let mut caller = bus.client()?;
        let forger = bus.client()?;
        let call = s(zbus::Message::method_call("/org/example/Real", "Echo")
            .destination("org.example.Real")
            .interface("org.example.Real")
            .sender(caller.unique_name())
            .build(&("real",)))?;
        // The forged replies are queued at the caller before the call goes out.
        let forged = s(zbus::Message::method_return(&call.header()).sender(forger.unique_name()).build(&("forged",)))?;
        let spoofed = s(zbus::Message::method_return(&call.header()).sender(service.unique_name()).build(&("spoofed",)))?;
        for m in [&forged, &spoofed, &forged] {
            s(forger.send_message(m))?;
        }
        let server = std::thread::spawn(move || -> Result<(), String> {
            let c = wait_for(&mut service, "the call", |m| m.msg_type() == Type::MethodCall && m.member() == Some("Echo"))?;
            let (t,): (String,) = s(c.body())?;
            s(service.reply(&c, &(t,)))
        });
        let r = s(caller.call_message(&call));
        let served = server.join().map_err(|_| "the service panicked".to_string())?;
        served?;
        let (text,): (String,) = s(r?.body())?;
        expect_eq("the reply taken", text.as_str(), "real")?;
        // The forged replies did arrive (kept as ordinary messages): the
        // case would see them if the library took them.
        let mut kept = 0;
        while let Some(m) = s(caller.recv_timeout(Some(Duration::ZERO)))? {
            if m.body::<(String,)>().is_ok_and(|(t,)| t == "forged") {
                kept += 1;
            }
        }
        expect_eq("forged replies delivered and not taken", kept, 2)?;
        expect_eq("the spoofed-sender reply dropped as forged", caller.stats().forged, 1)
    });
    case!(v, "bus-hostile", "a forged reply to a call served from the owner cache (sent while the call waits, right serial; from the forger, or spoofing the owner) is not taken; the owner's is", |af| {
        let bus = TestBus::start(af)?;
        let mut service = bus.client()?;
        let n = "org.example.Real";
        s(service.request_name(n, F::DO_NOT_QUEUE))?;
        let (mut caller, forger) = (bus.client()?, bus.client()?);
        let server = std::thread::spawn(move || -> Result<Bus, String> {
            for round in 0..2 {
                let c = wait_for(&mut service, "the call", |m| m.msg_type() == Type::MethodCall && m.member() == Some("Echo"))?;
                if round == 1 {
                    // Queued at the caller before the owner's reply.
                    let header = c.message().header();
                    let forged = s(zbus::Message::method_return(&header).sender(forger.unique_name()).build(&("forged",)))?;
                    let spoofed = s(zbus::Message::method_return(&header).sender(service.unique_name()).build(&("spoofed",)))?;
                    s(forger.send_message(&forged))?;
                    s(forger.send_message(&spoofed))?;
                }
                let (t,): (String,) = s(c.body())?;
                s(service.reply(&c, &(t,)))?;
            }
            Ok(service)
        });
        let call = |c: &mut Bus, text: &str| s(c.call(n, "/org/example/Real", Some("org.example.Real"), "Echo", &(text,)));
        let first = call(&mut caller, "first");
        let second = call(&mut caller, "real");
        server.join().map_err(|_| "the service panicked".to_string())??;
        expect_eq("the first reply", s(first?.body::<(String,)>())?.0, "first".to_string())?;
        expect_eq("the reply taken", s(second?.body::<(String,)>())?.0, "real".to_string())?;
        expect_eq("calls sent to the cached owner", caller.stats().owner_cache_hits, 1)?;
        let mut kept = 0;
        while let Some(m) = s(caller.recv_timeout(Some(Duration::ZERO)))? {
            if m.body::<(String,)>().is_ok_and(|(t,)| t == "forged") {
                kept += 1;
            }
        }
        expect_eq("the forged reply, delivered and not taken", kept, 1)?;
        expect_eq("the spoofed-sender reply dropped as forged", caller.stats().forged, 1)
    });
    case!(v, "bus-hostile", "a connection that never says Hello is closed at the Hello deadline; one that did stays", |af| {
        let bus = TestBus::start_with(af, Limits { hello_timeout: Duration::from_secs(1), ..Limits::default() })?;
        let mut member = bus.client()?;
        let idle = bus.raw()?;
        let took = eof_within(&idle, WAIT)?;
        ensure!(took >= Duration::from_millis(900), "closed after {took:?}, before the deadline");
        std::thread::sleep(Duration::from_millis(1200));
        s(member.get_id())?;
        let st = bus.stop();
        expect_eq("hello timeouts", st.hello_timeouts, 1)
    });
    case!(v, "bus-hostile", "a refused client (nobody) sending garbage is closed at its first record and raises no data count", |af| {
        let mut bus = TestBus::create(af, Policy::for_daemon(me()), Limits::default())?;
        let addr = bus.addr.clone();
        // Forked before the daemon's thread starts (the process has one thread).
        let child = Child::spawn(true, move || {
            let raw = McastSeqpacket::connect_in(af, &addr).map_err(|_| Errno(3))?;
            let _ = raw.set_read_timeout(Some(WAIT));
            // A signal to someone else, then bytes that are no bus message.
            let sig = zbus::Message::signal("/x", "org.example.X", "Spam").destination(":1.1").build(&()).map_err(|_| Errno(4))?;
            raw.send(&BusMessage::encode(&sig).map_err(|_| Errno(4))?).map_err(|_| Errno(5))?;
            let _ = raw.send(&[0xa5; 100]);
            let mut buf = vec![0u8; 4096];
            // End of file, or a reset (the record after the first was
            // never read).
            match raw.recv(&mut buf) {
                Ok(0) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => Ok(()),
                Ok(_) => Err(Errno(1)),
                Err(_) => Err(Errno(2)),
            }
        })
        .map_err(|e| format!("fork: {e:?}"))?;
        bus.serve();
        let r = child.wait()?;
        let st = bus.stop();
        expect_eq("the nobody client (0: end of file or reset; 1: a reply; 2: no hang-up)", r, Ok(()))?;
        expect_eq("refused, data messages", (st.refused, st.data_messages), (1, 0))
    });
    case!(v, "bus-hostile", "a uid's connections beyond the per-uid cap are closed at once", |af| {
        let bus = TestBus::start_with(af, Limits { per_uid: 3, ..Limits::default() })?;
        let mut kept = Vec::new();
        for _ in 0..3 {
            kept.push(bus.client()?);
        }
        let extra = bus.raw()?;
        eof_within(&extra, WAIT)?;
        drop(kept.pop());
        // The daemon sees the close; then there is room again.
        let deadline = Instant::now() + WAIT;
        loop {
            match Bus::connect_in(af, &bus.addr) {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => return Err(format!("no room after a close: {e}")),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        let st = bus.stop();
        ensure!(st.refused >= 1, "refused {}", st.refused);
        Ok(())
    });
    case!(v, "bus-hostile", "AddMatch of a rule longer than 1024 bytes gets LimitsExceeded; 1024 bytes are taken", |af| {
        let bus = TestBus::start(af)?;
        let mut c = bus.client()?;
        let rule = |len: usize| format!("type='signal',arg0='{}'", "y".repeat(len - "type='signal',arg0=''".len()));
        let max = mcast_bus::daemon::MAX_RULE_LEN;
        let (fits, long) = (rule(max), rule(max + 1));
        expect_eq("rule lengths", (fits.len(), long.len()), (1024, 1025))?;
        expect_eq("AddMatch of 1025 bytes", dbus_err(c.add_match(&long)), Ok(errors::LIMITS_EXCEEDED.to_owned()))?;
        s(c.add_match(&fits))
    });
    case!(v, "bus-hostile", "names taken when the rules fill the filter: the filter falls back to the names, so calls to a new name reach it", |af| {
        let bus = TestBus::start_with(af, Limits { matches: 4096, ..Limits::default() })?;
        let mut full = bus.client()?;
        let mut rules = 0;
        loop {
            match full.add_match(&format!("type='signal',interface='org.example.R{rules}',member='M{rules}'")) {
                Ok(()) => rules += 1,
                Err(e) if e.dbus_name() == Some(errors::LIMITS_EXCEEDED) => break,
                Err(e) => return Err(format!("AddMatch {rules}: {e}")),
            }
            ensure!(rules < 4096, "4096 rules fit one filter");
        }
        // About 9 names fit beside a full rule set; 16 go past.
        for i in 0..16 {
            expect_eq(&format!("RequestName F{i}"), s(full.request_name(&format!("org.example.F{i}"), F::empty()))?, R::PrimaryOwner)?;
        }
        let caller = bus.client()?;
        let call = s(zbus::Message::method_call("/f", "Hit").destination("org.example.F15").sender(caller.unique_name()).build(&()))?;
        s(caller.send_message(&call))?;
        wait_for(&mut full, &format!("the call to org.example.F15 (after {rules} rules)"), |m| m.member() == Some("Hit"))?;
        Ok(())
    });

    let _ = af;
    v
}
