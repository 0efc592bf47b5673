//! The bus (mcast_unix::bus and the mcast-bus daemon) end to end: Hello and
//! unique names, the admission policy, names and their queues, method
//! calls and replies, signals routed by match rules in the kernel, fd
//! passing, and the client's checks against forged senders and hash
//! collisions. Each case runs its own daemon (in a thread of this process)
//! on a fresh abstract address.

use crate::harness::{expect_eq, Case};
use crate::sys::{Child, Errno, NOBODY};
use crate::testbus::{bus_call, dbus_err, me, raw_record, recv_raw, s, wait_for, TestBus, WAIT};
use crate::{case, ensure};
use mcast_bus::{Limits, Policy};
use mcast_unix::bus::names::errors;
use mcast_unix::bus::{header, name_hash, Bus, BusMessage, ReleaseNameReply, RequestNameFlags as F, RequestNameReply as R, RoutingHeader};
use mcast_unix::{Addr, McastSeqpacket};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};
use zbus::message::Type;

/// Fails unless nothing at all is queued at `b`'s socket (not even
/// something the library would drop): the kernel delivered nothing.
fn nothing_queued(what: &str, b: &Bus) -> Result<(), String> {
    match raw_record(b, libc::MSG_PEEK).map_err(|e| format!("{what}: peek: {e}"))? {
        None => Ok(()),
        Some(desc) => Err(format!("{what}: a record is queued: {desc}")),
    }
}

/// Fails if the library had to drop anything at `b`: what the kernel
/// delivered was exactly what `b`'s names and rules ask for.
fn kernel_routed(what: &str, b: &Bus) -> Result<(), String> {
    let st = b.stats();
    expect_eq(&format!("{what}: records the library dropped (collisions, forged, malformed)"), (st.collisions, st.forged, st.malformed), (0, 0, 0))
}

/// What is queued now, through the library's checks.
fn queued(b: &mut Bus) -> Result<Vec<BusMessage>, String> {
    let mut v = Vec::new();
    while let Some(m) = s(b.recv_timeout(Some(Duration::ZERO)))? {
        v.push(m);
    }
    Ok(v)
}

/// The members of the signals queued at `b`.
fn queued_members(b: &mut Bus) -> Result<Vec<String>, String> {
    Ok(queued(b)?.iter().map(|m| m.member().unwrap_or("").to_owned()).collect())
}

fn owner_changed(b: &mut Bus, name: &str) -> Result<(String, String, String), String> {
    let m = wait_for(b, &format!("NameOwnerChanged for {name}"), |m| {
        m.member() == Some("NameOwnerChanged") && m.body::<(String, String, String)>().is_ok_and(|(n, _, _)| n == name)
    })?;
    s(m.body())
}

/// Waits for NameOwnerChanged(name, old, new) exactly.
fn owner_change(b: &mut Bus, name: &str, old: &str, new: &str) -> Result<(), String> {
    wait_for(b, &format!("NameOwnerChanged({name}, {old:?}, {new:?})"), |m| {
        m.member() == Some("NameOwnerChanged")
            && m.body::<(String, String, String)>().is_ok_and(|t| t == (name.into(), old.into(), new.into()))
    })
    .map(|_| ())
}

fn signal_named(b: &mut Bus, member: &str, name: &str) -> Result<(), String> {
    wait_for(b, &format!("{member}({name})"), |m| {
        m.member() == Some(member) && m.sender() == Some("org.freedesktop.DBus") && m.arg0_str().as_deref() == Some(name)
    })
    .map(|_| ())
}

const NOC: &str = "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'";

/// A service that answers one call: `Echo(s)` returns its argument,
/// anything else the error org.example.Error.Nope.
fn serve_one(service: &mut Bus) -> Result<BusMessage, String> {
    let call = wait_for(service, "a method call", |m| m.msg_type() == Type::MethodCall)?;
    if call.member() == Some("Echo") {
        let (text,): (String,) = s(call.body())?;
        s(service.reply(&call, &(text,)))?;
    } else {
        s(service.reply_error(&call, "org.example.Error.Nope", "no such thing"))?;
    }
    Ok(call)
}

/// Two well-known names with the same routing hash (found by a birthday
/// search over a fixed list, so the same pair every run).
fn colliding_names() -> (String, String) {
    let mut seen: HashMap<u32, String> = HashMap::new();
    for i in 0u32.. {
        let n = format!("org.example.C{i}");
        if let Some(other) = seen.insert(name_hash(&n), n.clone()) {
            return (other, n);
        }
    }
    unreachable!("a 32-bit hash collides within 2^32 + 1 names")
}

/// A counter of the daemon's `GetStats` (the call itself is counted in
/// `BusMessages`).
fn bus_stat(b: &mut Bus, key: &str) -> Result<u64, String> {
    let (st,): (HashMap<String, zbus::OwnedVariant>,) =
        s(s(b.call("org.freedesktop.DBus", "/org/freedesktop/DBus", Some("org.freedesktop.DBus.Debug.Stats"), "GetStats", &()))?.body())?;
    st.get(key).and_then(|v| u64::try_from(v).ok()).ok_or_else(|| format!("GetStats has no {key}: {st:?}"))
}

/// A call of the daemon's GetId from `b`, to send without waiting.
fn get_id_call(b: &Bus) -> Result<zbus::Message, String> {
    s(zbus::Message::method_call("/org/freedesktop/DBus", "GetId")
        .destination("org.freedesktop.DBus")
        .interface("org.freedesktop.DBus")
        .sender(b.unique_name())
        .build(&()))
}

/// Waits until the daemon failed to queue at least one message (`b`
/// asks).
fn wait_send_failure(b: &mut Bus) -> Result<u64, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let n = bus_stat(b, "SendFailures")?;
        if n > 0 {
            return Ok(n);
        }
        ensure!(Instant::now() < deadline, "the daemon failed no send within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the daemon read `n` bus messages, besides `probe`'s own
/// GetStats calls, since `probe` read `BusMessages` as `base`; returns the
/// count then.
fn wait_bus_messages(probe: &mut Bus, base: u64, n: u64) -> Result<u64, String> {
    let deadline = Instant::now() + WAIT;
    let mut asked = 0;
    loop {
        let now = bus_stat(probe, "BusMessages")?;
        asked += 1;
        if now.saturating_sub(base + asked) >= n {
            return Ok(now);
        }
        ensure!(Instant::now() < deadline, "the daemon read {} of {n} bus messages within {WAIT:?}", now.saturating_sub(base + asked));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads `b`'s messages until the library has seen the daemon lose
/// messages to it (the MessagesLost that comes once there is room, taken
/// by the library); returns what the application got meanwhile.
fn read_until_loss_seen(b: &mut Bus) -> Result<Vec<BusMessage>, String> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while b.stats().daemon_losses == 0 {
        ensure!(Instant::now() < deadline, "no loss seen within {WAIT:?}: {:?}", b.stats());
        got.extend(s(b.recv_timeout(Some(Duration::from_millis(20))))?);
    }
    Ok(got)
}

/// Sends raw bytes from a connection (a forged or corrupted record).
fn send_raw(b: &Bus, rec: &[u8]) -> Result<(), String> {
    s(b.socket().send(rec)).map(|_| ())
}

pub fn cases(af: i32) -> Vec<Case> {
    let mut v = Vec::new();

    case!(v, "bus", "Hello: each client's unique name is :1.<its socket id>, which GetNameOwner and ListNames report", |af| {
        let bus = TestBus::start(af)?;
        let mut a = bus.client()?;
        let b = bus.client()?;
        expect_eq("a's name", a.unique_name().to_owned(), format!(":1.{}", s(a.socket().id())?))?;
        ensure!(a.unique_name() != b.unique_name(), "two clients named alike");
        expect_eq("GetNameOwner of b's unique name", s(a.get_name_owner(b.unique_name()))?, b.unique_name().to_owned())?;
        let names = s(a.list_names())?;
        for n in ["org.freedesktop.DBus", a.unique_name(), b.unique_name()] {
            ensure!(names.iter().any(|x| x == n), "ListNames {names:?} lacks {n}");
        }
        expect_eq("a second Hello", dbus_err(a.call_bus("Hello", &())), Ok(errors::FAILED.to_owned()))
    });
    case!(v, "bus", "a call before Hello gets AccessDenied", |af| {
        let bus = TestBus::start(af)?;
        let raw = bus.raw()?;
        let call = bus_call("GetId")?;
        s(raw.send(&s(BusMessage::encode(&call))?))?;
        let reply = recv_raw(&raw)?;
        expect_eq("reply", (reply.msg_type(), reply.error_name()), (Type::Error, Some(errors::ACCESS_DENIED)))?;
        expect_eq("it answers our call", reply.reply_serial(), Some(call.primary_header().serial_num().get()))
    });
    case!(v, "bus", "policy: a client of another uid (nobody) is refused by SO_PEERCRED with AccessDenied and hung up", |af| {
        let mut bus = TestBus::create(af, Policy::for_daemon(me()), Limits::default())?;
        let addr = bus.addr.clone();
        // Forked before the daemon's thread starts (the process has one thread).
        let child = Child::spawn(true, move || {
            let raw = McastSeqpacket::connect_in(af, &addr).map_err(|_| Errno(3))?;
            let _ = raw.set_read_timeout(Some(WAIT));
            let hello = bus_call("Hello").map_err(|_| Errno(4))?;
            raw.send(&BusMessage::encode(&hello).map_err(|_| Errno(4))?).map_err(|_| Errno(5))?;
            let mut buf = vec![0u8; 4096];
            let n = raw.recv(&mut buf).map_err(|_| Errno(6))?;
            let reply = BusMessage::decode(&buf[..n], Vec::new(), None).map_err(|_| Errno(7))?;
            if reply.error_name() != Some(errors::ACCESS_DENIED) {
                return Err(Errno(1));
            }
            // Then the daemon hangs up: end of file.
            match raw.recv(&mut buf) {
                Ok(0) => Ok(()),
                _ => Err(Errno(2)),
            }
        })
        .map_err(|e| format!("fork: {e:?}"))?;
        bus.serve();
        let r = child.wait()?;
        let ok = bus.client().map(|_| ());
        let stats = bus.stop();
        expect_eq("the nobody client (0: AccessDenied then end of file; 1: another reply; 2: no hang-up)", r, Ok(()))?;
        expect_eq("root still admitted", ok, Ok(()))?;
        expect_eq("refused connections", stats.refused, 1)
    });
    case!(v, "bus", "policy: --allow-uid admits nobody, who may still not become a monitor", |af| {
        let policy = Policy { daemon_uid: me(), allow_uids: vec![NOBODY], allow_gids: vec![] };
        let mut bus = TestBus::create(af, policy, Limits::default())?;
        let addr = bus.addr.clone();
        let child = Child::spawn(true, move || match Bus::connect_in(af, &addr) {
            Ok(mut b) => match b.become_monitor() {
                Err(e) if e.dbus_name() == Some(errors::ACCESS_DENIED) => Ok(()),
                Err(_) => Err(Errno(3)),
                Ok(()) => Err(Errno(4)),
            },
            Err(_) => Err(Errno(1)),
        })
        .map_err(|e| format!("fork: {e:?}"))?;
        bus.serve();
        let r = child.wait()?;
        let stats = bus.stop();
        expect_eq("nobody (0: admitted, monitor refused; 1: not admitted; 4: monitor allowed)", r, Ok(()))?;
        expect_eq("refused connections", stats.refused, 0)
    });
    case!(v, "bus", "RequestName: PrimaryOwner, AlreadyOwner, InQueue, Exists with DO_NOT_QUEUE; GetNameOwner and ListQueuedOwners follow", |af| {
        let bus = TestBus::start(af)?;
        let (mut a, mut b, mut c) = (bus.client()?, bus.client()?, bus.client()?);
        let n = "org.example.Queue";
        expect_eq("a", s(a.request_name(n, F::empty()))?, R::PrimaryOwner)?;
        expect_eq("a again", s(a.request_name(n, F::empty()))?, R::AlreadyOwner)?;
        expect_eq("b", s(b.request_name(n, F::empty()))?, R::InQueue)?;
        expect_eq("c, DO_NOT_QUEUE", s(c.request_name(n, F::DO_NOT_QUEUE))?, R::Exists)?;
        expect_eq("owner", s(c.get_name_owner(n))?, a.unique_name().to_owned())?;
        let (q,): (Vec<String>,) = s(s(c.call_bus("ListQueuedOwners", &(n,)))?.body())?;
        expect_eq("queue", q, vec![a.unique_name().to_owned(), b.unique_name().to_owned()])
    });
    case!(v, "bus", "ReleaseName passes the name to the head of its queue: NameOwnerChanged, NameLost, NameAcquired", |af| {
        let bus = TestBus::start(af)?;
        let (mut a, mut b, mut watcher) = (bus.client()?, bus.client()?, bus.client()?);
        s(watcher.add_match(NOC))?;
        let n = "org.example.Handover";
        s(a.request_name(n, F::empty()))?;
        expect_eq("first owner", owner_changed(&mut watcher, n)?, (n.into(), String::new(), a.unique_name().into()))?;
        expect_eq("b queues", s(b.request_name(n, F::empty()))?, R::InQueue)?;
        expect_eq("release", s(a.release_name(n))?, ReleaseNameReply::Released)?;
        expect_eq("handover", owner_changed(&mut watcher, n)?, (n.into(), a.unique_name().into(), b.unique_name().into()))?;
        signal_named(&mut a, "NameLost", n)?;
        signal_named(&mut b, "NameAcquired", n)?;
        expect_eq("owner now", s(watcher.get_name_owner(n))?, b.unique_name().to_owned())?;
        expect_eq("release by a non-owner", s(a.release_name(n))?, ReleaseNameReply::NotOwner)?;
        expect_eq("release of an unknown name", s(a.release_name("org.example.Nobody"))?, ReleaseNameReply::NonExistent)
    });
    case!(v, "bus", "REPLACE_EXISTING takes a name only from an owner that allowed replacement; the old owner waits in the queue", |af| {
        let bus = TestBus::start(af)?;
        let (mut a, mut b) = (bus.client()?, bus.client()?);
        let n = "org.example.Replace";
        s(a.request_name(n, F::empty()))?;
        expect_eq("not allowed", s(b.request_name(n, F::REPLACE_EXISTING | F::DO_NOT_QUEUE))?, R::Exists)?;
        expect_eq("a allows it", s(a.request_name(n, F::ALLOW_REPLACEMENT))?, R::AlreadyOwner)?;
        expect_eq("b replaces", s(b.request_name(n, F::REPLACE_EXISTING))?, R::PrimaryOwner)?;
        signal_named(&mut a, "NameLost", n)?;
        expect_eq("owner", s(a.get_name_owner(n))?, b.unique_name().to_owned())?;
        let (q,): (Vec<String>,) = s(s(a.call_bus("ListQueuedOwners", &(n,)))?.body())?;
        expect_eq("queue", q, vec![b.unique_name().to_owned(), a.unique_name().to_owned()])
    });
    case!(v, "bus", "RequestName refuses unique names, the bus's name, invalid names and unknown flags (InvalidArgs)", |af| {
        let bus = TestBus::start(af)?;
        let mut a = bus.client()?;
        for bad in [":1.5", "org.freedesktop.DBus", "noperiod", "org..x"] {
            expect_eq(bad, dbus_err(a.call_bus("RequestName", &(bad, 0u32))), Ok(errors::INVALID_ARGS.to_owned()))?;
        }
        expect_eq("flags 8", dbus_err(a.call_bus("RequestName", &("org.example.F", 8u32))), Ok(errors::INVALID_ARGS.to_owned()))?;
        expect_eq("wrong argument types", dbus_err(a.call_bus("RequestName", &(5u32,))), Ok(errors::INVALID_ARGS.to_owned()))
    });
    case!(v, "bus", "GetNameOwner of an unowned name: NameHasNoOwner; NameHasOwner, GetId, unknown methods", |af| {
        let bus = TestBus::start(af)?;
        let (mut a, mut b) = (bus.client()?, bus.client()?);
        expect_eq("GetNameOwner", dbus_err(a.get_name_owner("org.example.Missing")), Ok(errors::NAME_HAS_NO_OWNER.to_owned()))?;
        expect_eq("gone unique name", dbus_err(a.get_name_owner(":1.1")), Ok(errors::NAME_HAS_NO_OWNER.to_owned()))?;
        expect_eq("NameHasOwner before", s(a.name_has_owner("org.example.Has"))?, false)?;
        s(b.request_name("org.example.Has", F::empty()))?;
        expect_eq("NameHasOwner after", s(a.name_has_owner("org.example.Has"))?, true)?;
        let id = s(a.get_id())?;
        ensure!(id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()), "GetId {id:?}");
        expect_eq("same id for b", s(b.get_id())?, id)?;
        expect_eq("unknown method", dbus_err(a.call_bus("Frobnicate", &())), Ok(errors::UNKNOWN_METHOD.to_owned()))
    });
    case!(v, "bus", "a method call reaches the name's owner, whose reply reaches the caller", |af| {
        let bus = TestBus::start(af)?;
        let (mut service, mut caller) = (bus.client()?, bus.client()?);
        s(service.request_name("org.example.Echo", F::DO_NOT_QUEUE))?;
        let t = std::thread::spawn(move || serve_one(&mut service).map(|c| (c.sender().map(str::to_owned), service)));
        let reply = s(caller.call("org.example.Echo", "/org/example/Echo", Some("org.example.Echo"), "Echo", &("ping",)))?;
        let (from, service) = t.join().map_err(|_| "service panicked".to_string())??;
        expect_eq("reply body", s(reply.body::<(String,)>())?, ("ping".to_string(),))?;
        expect_eq("the call's sender", from, Some(caller.unique_name().to_owned()))?;
        expect_eq("the reply's sender", reply.sender(), Some(service.unique_name()))
    });
    case!(v, "bus", "a call to a unique name takes its reply only from that name: a third client's reply with the right serial is not it", |af| {
        let bus = TestBus::start(af)?;
        let (mut service, mut caller, intruder) = (bus.client()?, bus.client()?, bus.client()?);
        let call = s(zbus::Message::method_call("/o", "Echo")
            .destination(service.unique_name())
            .interface("org.example.Echo")
            .sender(caller.unique_name())
            .build(&("real",)))?;
        // Queued at the caller before the call is even sent.
        let fake = s(zbus::Message::method_return(&call.header()).sender(intruder.unique_name()).build(&("fake",)))?;
        s(intruder.send_message(&fake))?;
        let t = std::thread::spawn(move || serve_one(&mut service).map(|_| service));
        let reply = s(caller.call_message(&call))?;
        let service = t.join().map_err(|_| "service panicked".to_string())??;
        expect_eq("the reply taken", (reply.sender(), s(reply.body::<(String,)>())?.0), (Some(service.unique_name()), "real".to_string()))?;
        let kept = queued(&mut caller)?;
        expect_eq("the intruder's reply, kept for recv", kept.iter().map(|m| m.sender().map(str::to_owned)).collect::<Vec<_>>(), vec![Some(intruder.unique_name().to_owned())])
    });
    case!(v, "bus", "an error reply reaches the caller as the D-Bus error with its message", |af| {
        let bus = TestBus::start(af)?;
        let (mut service, mut caller) = (bus.client()?, bus.client()?);
        s(service.request_name("org.example.Echo", F::empty()))?;
        let t = std::thread::spawn(move || serve_one(&mut service).map(|_| ()));
        let r = caller.call("org.example.Echo", "/org/example/Echo", Some("org.example.Echo"), "Missing", &());
        t.join().map_err(|_| "service panicked".to_string())??;
        match r {
            Err(mcast_unix::bus::Error::Dbus { name, message }) => {
                expect_eq("error", (name.as_str(), message.as_str()), ("org.example.Error.Nope", "no such thing"))
            }
            other => Err(format!("got {other:?}")),
        }
    });
    case!(v, "bus", "calls and replies reach only their destination: a third client with every signal rule has nothing queued", |af| {
        let bus = TestBus::start(af)?;
        let (mut service, mut caller, mut third) = (bus.client()?, bus.client()?, bus.client()?);
        s(third.add_match(""))?;
        s(third.add_match("type='signal'"))?;
        s(service.request_name("org.example.Echo", F::empty()))?;
        // The NameOwnerChanged of the name (sent by the daemon to the rule
        // holders) is all `third` may get.
        owner_changed(&mut third, "org.example.Echo")?;
        let t = std::thread::spawn(move || {
            for _ in 0..3 {
                serve_one(&mut service)?;
            }
            Ok::<_, String>(service)
        });
        for i in 0..3 {
            s(caller.call("org.example.Echo", "/o", Some("org.example.Echo"), "Echo", &(format!("{i}"),)))?;
        }
        // Kept open: its closing would (rightly) signal NameOwnerChanged.
        let _service = t.join().map_err(|_| "service panicked".to_string())??;
        nothing_queued("the third client", &third)
    });
    case!(v, "bus", "signals by interface: only the subscriber whose rule names the interface gets them", |af| {
        let bus = TestBus::start(af)?;
        let (pubr, mut sub, mut other) = (bus.client()?, bus.client()?, bus.client()?);
        s(sub.add_match("type='signal',interface='org.example.A'"))?;
        s(other.add_match("type='signal',interface='org.example.B'"))?;
        s(pubr.emit("/x", "org.example.A", "One", &()))?;
        s(pubr.emit("/x", "org.example.C", "Two", &()))?;
        s(pubr.emit("/x", "org.example.A", "Three", &()))?;
        expect_eq("sub", queued_members(&mut sub)?, vec!["One".to_string(), "Three".into()])?;
        kernel_routed("sub", &sub)?;
        nothing_queued("other", &other)
    });
    case!(v, "bus", "signals by member and by path: each rule key routes on its own", |af| {
        let bus = TestBus::start(af)?;
        let (pubr, mut by_member, mut by_path) = (bus.client()?, bus.client()?, bus.client()?);
        s(by_member.add_match("member='Tick'"))?;
        s(by_path.add_match("path='/clock/1'"))?;
        s(pubr.emit("/clock/1", "org.example.Clock", "Tick", &(1u32,)))?;
        s(pubr.emit("/clock/2", "org.example.Clock", "Tick", &(2u32,)))?;
        s(pubr.emit("/clock/1", "org.example.Clock", "Tock", &(3u32,)))?;
        s(pubr.emit("/clock/2", "org.example.Clock", "Tock", &(4u32,)))?;
        let args = |v: Vec<BusMessage>| v.iter().map(|m| m.body::<(u32,)>().map(|b| b.0).unwrap_or(0)).collect::<Vec<_>>();
        expect_eq("member='Tick'", args(queued(&mut by_member)?), vec![1, 2])?;
        expect_eq("path='/clock/1'", args(queued(&mut by_path)?), vec![1, 3])?;
        kernel_routed("by member", &by_member)?;
        kernel_routed("by path", &by_path)
    });
    case!(v, "bus", "signals by sender: a unique-name rule takes one publisher's signals, not another's", |af| {
        let bus = TestBus::start(af)?;
        let (p1, p2, mut sub) = (bus.client()?, bus.client()?, bus.client()?);
        s(sub.add_match(&format!("sender='{}'", p1.unique_name())))?;
        s(p1.emit("/x", "org.example.S", "FromOne", &()))?;
        s(p2.emit("/x", "org.example.S", "FromTwo", &()))?;
        expect_eq("sub", queued_members(&mut sub)?, vec!["FromOne".to_string()])?;
        kernel_routed("sub", &sub)?;
        nothing_queued("sub after", &sub)
    });
    case!(v, "bus", "signals by well-known sender: the rule follows the name to its new owner", |af| {
        let bus = TestBus::start(af)?;
        let (mut p1, mut p2, mut sub) = (bus.client()?, bus.client()?, bus.client()?);
        let n = "org.example.Source";
        s(p1.request_name(n, F::empty()))?;
        s(sub.add_match(&format!("sender='{n}',member='Beat'")))?;
        s(p1.emit("/", "org.example.S", "Beat", &(1u32,)))?;
        s(p2.emit("/", "org.example.S", "Beat", &(2u32,)))?;
        expect_eq("while p1 owns it", queued(&mut sub)?.iter().map(|m| m.sender().unwrap_or("").to_owned()).collect::<Vec<_>>(), vec![p1.unique_name().to_owned()])?;
        s(p2.request_name(n, F::empty()))?;
        s(p1.release_name(n))?;
        signal_named(&mut p2, "NameAcquired", n)?;
        // The filters change before NameAcquired is sent.
        s(p1.emit("/", "org.example.S", "Beat", &(3u32,)))?;
        s(p2.emit("/", "org.example.S", "Beat", &(4u32,)))?;
        expect_eq("after the handover", queued(&mut sub)?.iter().map(|m| m.body::<(u32,)>().map(|b| b.0).unwrap_or(0)).collect::<Vec<_>>(), vec![4])?;
        kernel_routed("sub", &sub)
    });
    case!(v, "bus", "signals by type: type='signal' takes signals but no method calls; no rule, no signals", |af| {
        let bus = TestBus::start(af)?;
        let (mut caller, mut typed, none) = (bus.client()?, bus.client()?, bus.client()?);
        s(typed.add_match("type='signal'"))?;
        s(caller.emit("/", "org.example.T", "Sig", &()))?;
        // A call to a name nobody owns: the owner lookup fails, it reaches nobody.
        caller.set_timeout(Duration::from_millis(200));
        let r = caller.call("org.example.NoOne", "/", Some("org.example.T"), "Call", &());
        expect_eq("a call to nobody", dbus_err(r), Ok(errors::NAME_HAS_NO_OWNER.to_owned()))?;
        expect_eq("typed", queued_members(&mut typed)?, vec!["Sig".to_string()])?;
        kernel_routed("typed", &typed)?;
        nothing_queued("typed, after", &typed)?;
        nothing_queued("no rules", &none)
    });
    case!(v, "bus", "RemoveMatch stops delivery; an unknown rule is MatchRuleNotFound, a bad one MatchRuleInvalid", |af| {
        let bus = TestBus::start(af)?;
        let (pubr, mut sub) = (bus.client()?, bus.client()?);
        let rule = "type='signal',interface='org.example.R'";
        s(sub.add_match(rule))?;
        s(pubr.emit("/", "org.example.R", "Before", &()))?;
        s(sub.remove_match("interface='org.example.R',type='signal'"))?;
        s(pubr.emit("/", "org.example.R", "After", &()))?;
        expect_eq("received", queued_members(&mut sub)?, vec!["Before".to_string()])?;
        kernel_routed("sub", &sub)?;
        nothing_queued("after RemoveMatch", &sub)?;
        expect_eq("again", dbus_err(sub.call_bus("RemoveMatch", &(rule,))), Ok(errors::MATCH_RULE_NOT_FOUND.to_owned()))?;
        expect_eq("bad rule", dbus_err(sub.call_bus("AddMatch", &("type='nonsense'",))), Ok(errors::MATCH_RULE_INVALID.to_owned()))?;
        expect_eq("eavesdrop", dbus_err(sub.call_bus("AddMatch", &("eavesdrop='true'",))), Ok(errors::MATCH_RULE_INVALID.to_owned()))
    });
    case!(v, "bus", "arg0 is checked by the client: the filter lets other arg0 values through, the library drops them", |af| {
        let bus = TestBus::start(af)?;
        let (pubr, mut sub) = (bus.client()?, bus.client()?);
        s(sub.add_match("member='Changed',arg0='wanted'"))?;
        s(pubr.emit("/", "org.example.P", "Changed", &("other",)))?;
        s(pubr.emit("/", "org.example.P", "Changed", &("wanted",)))?;
        let got = queued(&mut sub)?;
        expect_eq("delivered", got.iter().map(|m| m.arg0_str()).collect::<Vec<_>>(), vec![Some("wanted".to_string())])?;
        expect_eq("dropped by the library", sub.stats().collisions, 1)
    });
    case!(v, "bus", "a client that closes releases its names: NameOwnerChanged to the next owner and for its unique name", |af| {
        let bus = TestBus::start(af)?;
        let (mut a, mut b, mut watcher) = (bus.client()?, bus.client()?, bus.client()?);
        s(watcher.add_match(NOC))?;
        s(a.request_name("org.example.Mine", F::empty()))?;
        s(a.request_name("org.example.Shared", F::empty()))?;
        s(b.request_name("org.example.Shared", F::empty()))?;
        let a_name = a.unique_name().to_owned();
        owner_change(&mut watcher, "org.example.Shared", "", &a_name)?;
        drop(a);
        owner_change(&mut watcher, "org.example.Mine", &a_name, "")?;
        owner_change(&mut watcher, "org.example.Shared", &a_name, b.unique_name())?;
        owner_change(&mut watcher, &a_name, &a_name, "")?;
        expect_eq("Mine now", dbus_err(watcher.get_name_owner("org.example.Mine")), Ok(errors::NAME_HAS_NO_OWNER.to_owned()))?;
        signal_named(&mut b, "NameAcquired", "org.example.Shared")
    });
    case!(v, "bus", "a unicast signal (with a destination) reaches its destination only, without a match rule", |af| {
        let bus = TestBus::start(af)?;
        let (pubr, mut to, other) = (bus.client()?, bus.client()?, bus.client()?);
        s(pubr.emit_to(to.unique_name(), "/", "org.example.U", "ForYou", &()))?;
        expect_eq("to", queued_members(&mut to)?, vec!["ForYou".to_string()])?;
        nothing_queued("other", &other)
    });
    case!(v, "bus", "UNIX_FD: a pipe's write end passed in a method call reaches the service, which writes through it", |af| {
        let bus = TestBus::start(af)?;
        let (mut service, mut caller) = (bus.client()?, bus.client()?);
        s(service.request_name("org.example.Fd", F::empty()))?;
        let (mut rd, wr) = s(std::io::pipe())?;
        let t = std::thread::spawn(move || {
            let call = wait_for(&mut service, "the call", |m| m.member() == Some("Take"))?;
            let fds = s(call.fds())?;
            ensure!(fds.len() == 1 && call.signature() == "h", "{} descriptors, signature {}", fds.len(), call.signature());
            let mut f = std::fs::File::from(fds.into_iter().next().expect("one"));
            s(f.write_all(b"through the bus"))?;
            s(service.reply(&call, &()))
        });
        s(caller.call("org.example.Fd", "/", Some("org.example.Fd"), "Take", &(zbus::Fd::from(wr.as_fd()),)))?;
        t.join().map_err(|_| "service panicked".to_string())??;
        drop(wr);
        let mut got = String::new();
        s(rd.read_to_string(&mut got))?;
        expect_eq("read from the pipe", got.as_str(), "through the bus")
    });
    case!(v, "bus", "UNIX_FD in a broadcast signal: each subscriber gets its own descriptor", |af| {
        let bus = TestBus::start(af)?;
        let (pubr, mut s1, mut s2) = (bus.client()?, bus.client()?, bus.client()?);
        for sub in [&mut s1, &mut s2] {
            s(sub.add_match("member='File'"))?;
        }
        let file = s(std::fs::File::open("/proc/self/exe"))?;
        s(pubr.emit("/", "org.example.F", "File", &(zbus::Fd::from(file.as_fd()),)))?;
        let mut ids = Vec::new();
        for (i, sub) in [&mut s1, &mut s2].into_iter().enumerate() {
            let m = queued(sub)?;
            ensure!(m.len() == 1, "subscriber {i}: {} messages", m.len());
            let fds = s(m[0].fds())?;
            ensure!(fds.len() == 1, "subscriber {i}: {} descriptors", fds.len());
            let st = s(std::fs::File::from(fds.into_iter().next().expect("one")).metadata())?;
            ids.push(std::os::unix::fs::MetadataExt::ino(&st));
        }
        let want = std::os::unix::fs::MetadataExt::ino(&s(file.metadata())?);
        expect_eq("both see the same file", ids, vec![want, want])
    });
    case!(v, "bus", "a forged sender field is dropped: the kernel's sender id is not the claimed name's", |af| {
        let bus = TestBus::start(af)?;
        let (forger, victim, mut sub) = (bus.client()?, bus.client()?, bus.client()?);
        s(sub.add_match(&format!("sender='{}'", victim.unique_name())))?;
        s(sub.add_match("member='FromBus'"))?;
        let fake = s(zbus::Message::signal("/", "org.example.X", "Forged").sender(victim.unique_name()).build(&()))?;
        s(forger.send_message(&fake))?;
        let fake_bus = s(zbus::Message::signal("/", "org.example.X", "FromBus").sender("org.freedesktop.DBus").build(&()))?;
        s(forger.send_message(&fake_bus))?;
        s(victim.emit("/", "org.example.X", "Genuine", &()))?;
        expect_eq("accepted", queued_members(&mut sub)?, vec!["Genuine".to_string()])?;
        expect_eq("dropped as forged", sub.stats().forged, 2)
    });
    case!(v, "bus", "a hash collision is discarded by the client: a call to a name whose hash equals an owned name's", |af| {
        let (owned, twin) = colliding_names();
        ensure!(owned != twin && name_hash(&owned) == name_hash(&twin));
        let bus = TestBus::start(af)?;
        let (mut service, caller) = (bus.client()?, bus.client()?);
        s(service.request_name(&owned, F::empty()))?;
        signal_named(&mut service, "NameAcquired", &owned)?;
        let call = s(zbus::Message::method_call("/", "Hit").destination(twin.as_str()).sender(caller.unique_name()).build(&()))?;
        s(caller.send_message(&call))?;
        // The kernel let it through on the hash...
        let peek = raw_record(&service, libc::MSG_PEEK);
        ensure!(matches!(peek, Ok(Some(_))), "the colliding call was not delivered on its hash: {peek:?}");
        // ...the library drops it.
        expect_eq("what the service gets", queued(&mut service)?.len(), 0)?;
        expect_eq("collisions", service.stats().collisions, 1)
    });
    case!(v, "bus", "a routing header that lies about the D-Bus header is dropped (and never reaches the daemon)", |af| {
        let bus = TestBus::start(af)?;
        let (liar, mut target) = (bus.client()?, bus.client()?);
        // The D-Bus message is for someone else; the header says `target`.
        let m = s(zbus::Message::method_call("/", "Sneak").destination(":1.1").sender(liar.unique_name()).build(&()))?;
        let mut rec = s(BusMessage::encode(&m))?;
        let off = header::OFF_DESTINATION as usize;
        rec[off..off + 4].copy_from_slice(&name_hash(target.unique_name()).to_be_bytes());
        send_raw(&liar, &rec)?;
        // And garbage after a valid-looking header.
        let h = RoutingHeader { msg_type: 1, flags: header::FLAG_DESTINATION, destination: name_hash(target.unique_name()), body_len: 8, ..Default::default() };
        let mut junk = h.encode().to_vec();
        junk.extend_from_slice(b"notdbus!");
        send_raw(&liar, &junk)?;
        expect_eq("accepted", queued(&mut target)?.len(), 0)?;
        expect_eq("malformed", target.stats().malformed, 2)?;
        let stats = bus.stop();
        expect_eq("daemon data messages", stats.data_messages, 0)
    });
    case!(v, "bus", "the daemon is not woken for data: a burst of signals and calls leaves its data count at 0, and GetStats reports it", |af| {
        let bus = TestBus::start(af)?;
        let (mut service, mut caller, mut sub) = (bus.client()?, bus.client()?, bus.client()?);
        s(sub.add_match("interface='org.example.Burst'"))?;
        s(service.request_name("org.example.Echo", F::empty()))?;
        const SIGNALS: usize = 2000;
        const CALLS: usize = 100;
        let mut got = 0;
        for i in 0..SIGNALS {
            s(caller.emit("/", "org.example.Burst", "B", &(i as u32,)))?;
            if i % 64 == 63 {
                got += queued(&mut sub)?.len();
            }
        }
        got += queued(&mut sub)?.len();
        // The service starts after the burst (its waits are bounded).
        let t = std::thread::spawn(move || {
            for _ in 0..CALLS {
                serve_one(&mut service)?;
            }
            Ok::<_, String>(())
        });
        for i in 0..CALLS {
            s(caller.call("org.example.Echo", "/", None, "Echo", &(format!("{i}"),)))?;
        }
        t.join().map_err(|_| "service panicked".to_string())??;
        expect_eq("signals received", got, SIGNALS)?;
        let (stats,): (HashMap<String, zbus::OwnedVariant>,) =
            s(s(caller.call("org.freedesktop.DBus", "/org/freedesktop/DBus", Some("org.freedesktop.DBus.Debug.Stats"), "GetStats", &()))?.body())?;
        let data = stats.get("DataMessages").and_then(|v| u64::try_from(v).ok());
        expect_eq("GetStats DataMessages", data, Some(0))?;
        let st = bus.stop();
        expect_eq("data messages at the daemon", st.data_messages, 0)?;
        // Hello x3, AddMatch, RequestName, GetStats, and for the first call
        // to the well-known name only, the caller's owner cache subscribing
        // (AddMatch) and asking (GetNameOwner): the only records it read.
        expect_eq("bus messages at the daemon", st.bus_messages, 8)
    });
    case!(v, "bus", "owner cache: calls to a well-known name after the first ask the daemon nothing (its BusMessages count stays), each reply from the owner", |af| {
        let bus = TestBus::start(af)?;
        let (mut service, mut caller) = (bus.client()?, bus.client()?);
        let n = "org.example.Cached";
        s(service.request_name(n, F::DO_NOT_QUEUE))?;
        const CALLS: usize = 50;
        let t = std::thread::spawn(move || {
            for _ in 0..=CALLS {
                serve_one(&mut service)?;
            }
            Ok::<_, String>(service)
        });
        s(caller.call(n, "/", Some("org.example.Cached"), "Echo", &("first",)))?;
        let before = bus_stat(&mut caller, "BusMessages")?;
        let mut froms = Vec::new();
        for i in 0..CALLS {
            let r = s(caller.call(n, "/", Some("org.example.Cached"), "Echo", &(format!("{i}"),)))?;
            expect_eq("reply", s(r.body::<(String,)>())?.0, format!("{i}"))?;
            froms.push(r.sender().map(str::to_owned));
        }
        let after = bus_stat(&mut caller, "BusMessages")?;
        let service = t.join().map_err(|_| "service panicked".to_string())??;
        ensure!(froms.iter().all(|f| f.as_deref() == Some(service.unique_name())), "replies from {froms:?}");
        expect_eq(&format!("bus messages the daemon read for {CALLS} cached calls (the second GetStats only)"), after - before, 1)?;
        let st = caller.stats();
        expect_eq("owner lookups, cache hits", (st.owner_lookups, st.owner_cache_hits), (1, CALLS as u64))?;
        expect_eq("names cached", caller.owner_cache().len(), 1)?;
        // The cache's subscription is the library's: nothing for the application.
        expect_eq("queued for the application", queued_members(&mut caller)?, Vec::<String>::new())
    });
    case!(v, "bus", "owner cache: a name that moves (ReleaseName then RequestName, or REPLACE_EXISTING) takes the next call to its new owner without asking, and the old owner's reply is not taken", |af| {
        for replace in [false, true] {
            let how = if replace { "REPLACE_EXISTING" } else { "ReleaseName + RequestName" };
            let bus = TestBus::start(af)?;
            let (mut old, mut new, mut caller) = (bus.client()?, bus.client()?, bus.client()?);
            let n = "org.example.Moving";
            s(old.request_name(n, if replace { F::ALLOW_REPLACEMENT } else { F::empty() }))?;
            let t = std::thread::spawn(move || serve_one(&mut old).map(|_| old));
            let first = s(caller.call(n, "/", None, "Echo", &("one",)))?;
            let mut old = t.join().map_err(|_| "service panicked".to_string())??;
            expect_eq(&format!("{how}: first reply from"), first.sender(), Some(old.unique_name()))?;
            if replace {
                expect_eq(&format!("{how}: the new owner"), s(new.request_name(n, F::REPLACE_EXISTING))?, R::PrimaryOwner)?;
            } else {
                expect_eq(&format!("{how}: release"), s(old.release_name(n))?, ReleaseNameReply::Released)?;
                expect_eq(&format!("{how}: the new owner"), s(new.request_name(n, F::empty()))?, R::PrimaryOwner)?;
            }
            let before = bus_stat(&mut caller, "BusMessages")?;
            // The new owner gets the call; the old owner answers it first,
            // with the right serial.
            let t = std::thread::spawn(move || {
                let call = wait_for(&mut new, "the call", |m| m.msg_type() == Type::MethodCall)?;
                let forged = s(zbus::Message::method_return(&call.message().header()).sender(old.unique_name()).build(&("old",)))?;
                s(old.send_message(&forged))?;
                s(new.reply(&call, &("new",)))?;
                Ok::<_, String>((old, new))
            });
            let second = caller.call(n, "/", None, "Echo", &("two",));
            let (mut old, new) = t.join().map_err(|_| "service panicked".to_string())??;
            let second = s(second)?;
            expect_eq(&format!("{how}: the reply taken"), (second.sender(), s(second.body::<(String,)>())?.0), (Some(new.unique_name()), "new".to_string()))?;
            let after = bus_stat(&mut caller, "BusMessages")?;
            expect_eq(&format!("{how}: bus messages for the call after the move (the second GetStats only)"), after - before, 1)?;
            let kept = queued(&mut caller)?;
            let from_old: Vec<_> = kept.iter().filter(|m| m.body::<(String,)>().is_ok_and(|(t,)| t == "old")).collect();
            expect_eq(&format!("{how}: the old owner's reply, kept as an ordinary message"), from_old.len(), 1)?;
            ensure!(!kept.iter().any(|m| m.member() == Some("NameOwnerChanged")), "{how}: the cache's signals reached the application");
            let calls_at_old = queued(&mut old)?.iter().filter(|m| m.msg_type() == Type::MethodCall).count();
            expect_eq(&format!("{how}: calls the old owner got after the move"), calls_at_old, 0)?;
            expect_eq(&format!("{how}: owner lookups"), caller.stats().owner_lookups, 1)?;
        }
        Ok(())
    });
    case!(v, "bus", "owner cache: a NameOwnerChanged the daemon could not queue (the caller's queue full) shows as a gap in its serials, flushes the cache, and the next call asks and reaches the new owner", |af| {
        // `settle`: the caller reads until it sees the gap, so the call
        // asks before it goes out; else the call may go out to the stale owner and ask
        // while it waits (when MessagesLost comes), taking the new owner's
        // reply then.
        for settle in [true, false] {
            let bus = TestBus::start(af)?;
            let (mut a, mut b, mut caller, mut probe) = (bus.client()?, bus.client()?, bus.client()?, bus.client()?);
            let n = "org.example.Lossy";
            s(a.request_name(n, F::empty()))?;
            let t = std::thread::spawn(move || serve_one(&mut a).map(|_| a));
            s(caller.call(n, "/", None, "Echo", &("one",)))?;
            let mut a = t.join().map_err(|_| "service panicked".to_string())??;
            // Replies the caller does not read fill its queue.
            s(caller.socket().set_recv_buffer_size(4096))?;
            let base = bus_stat(&mut probe, "BusMessages")?;
            for _ in 0..100 {
                s(caller.send_message(&get_id_call(&caller)?))?;
            }
            wait_bus_messages(&mut probe, base, 100)?;
            wait_send_failure(&mut probe)?;
            // The name moves while the caller's queue is full: its
            // NameOwnerChanged signals are lost.
            s(a.release_name(n))?;
            expect_eq("the new owner", s(b.request_name(n, F::empty()))?, R::PrimaryOwner)?;
            if settle {
                read_until_loss_seen(&mut caller)?;
            }
            let before = bus_stat(&mut probe, "BusMessages")?;
            let t = std::thread::spawn(move || serve_one(&mut b).map(|_| b));
            let r = caller.call(n, "/", None, "Echo", &("two",));
            let b = t.join().map_err(|_| "service panicked".to_string())??;
            let r = s(r)?;
            expect_eq(&format!("settle {settle}: the reply taken"), r.sender(), Some(b.unique_name()))?;
            let after = bus_stat(&mut probe, "BusMessages")?;
            expect_eq(&format!("settle {settle}: bus messages for the call after the loss (its GetNameOwner, the second GetStats)"), after - before, 2)?;
            let failures = bus_stat(&mut probe, "SendFailures")?;
            let st = caller.stats();
            expect_eq(&format!("settle {settle}: the caller's daemon losses (serial gaps) against the daemon's send failures"), st.daemon_losses, failures)?;
            expect_eq(&format!("settle {settle}: owner lookups"), st.owner_lookups, 2)?;
            if settle {
                expect_eq("settle: calls sent to a cached owner", st.owner_cache_hits, 0)?;
            } else {
                ensure!(st.owner_cache_hits <= 1, "{} calls sent to a cached owner", st.owner_cache_hits);
            }
            expect_eq(&format!("settle {settle}: calls a got after the move"), queued(&mut a)?.iter().filter(|m| m.msg_type() == Type::MethodCall).count(), 0)?;
        }
        Ok(())
    });
    case!(v, "bus", "the daemon numbers its messages to a connection 1, 2, 3, ...; those it could not queue leave a gap, and MessagesLost (taken by the library) counts them", |af| {
        let bus = TestBus::start(af)?;
        let (c, mut probe) = (bus.client()?, bus.client()?);
        let mut buf = vec![0u8; 64 * 1024];
        let daemon = c.daemon_id();
        let mut read = |what: &str| -> Result<BusMessage, String> {
            s(c.socket().set_read_timeout(Some(WAIT)))?;
            let m = c.socket().recv_msg(&mut buf).map_err(|e| format!("{what}: {e}"))?;
            let msg = s(BusMessage::decode(&buf[..m.len], m.fds, m.sender_id))?;
            ensure!(msg.sender_id() == Some(daemon), "{what}: from {:?}", msg.sender_id());
            Ok(msg)
        };
        // Hello's reply and NameAcquired were 1 and 2.
        for _ in 0..3 {
            s(c.send_message(&get_id_call(&c)?))?;
        }
        let serials = (0..3).map(|i| read(&format!("reply {i}")).map(|m| m.serial())).collect::<Result<Vec<_>, _>>()?;
        expect_eq("serials of the daemon's replies", serials, vec![3, 4, 5])?;
        s(c.socket().set_recv_buffer_size(4096))?;
        for _ in 0..100 {
            s(c.send_message(&get_id_call(&c)?))?;
        }
        wait_send_failure(&mut probe)?;
        let (mut expected, mut gaps, mut replies) = (6u32, 0u32, 0);
        let lost = loop {
            let m = read("after the flood")?;
            ensure!(m.serial() >= expected, "serial {} after {}", m.serial(), expected - 1);
            gaps += m.serial() - expected;
            expected = m.serial() + 1;
            if m.member() == Some(mcast_unix::bus::MESSAGES_LOST) {
                expect_eq("MessagesLost's interface and destination", (m.interface(), m.destination()), (Some(mcast_unix::bus::BUS_EXT_INTERFACE), Some(c.unique_name())))?;
                break s(m.body::<(u32,)>())?.0;
            }
            expect_eq("a reply", m.msg_type(), Type::MethodReturn)?;
            replies += 1;
        };
        ensure!(lost >= 1 && replies >= 1, "{lost} lost, {replies} replies queued");
        expect_eq("MessagesLost's count against the gaps in the serials", lost, gaps)?;
        let failures = bus_stat(&mut probe, "SendFailures")?;
        ensure!(failures >= u64::from(lost), "the daemon counts {failures} send failures, MessagesLost {lost}");
        // Through the library, the notice is taken and the gaps counted.
        let mut lib = bus.client()?;
        s(lib.socket().set_recv_buffer_size(4096))?;
        let before = bus_stat(&mut probe, "SendFailures")?;
        let base = bus_stat(&mut probe, "BusMessages")?;
        for _ in 0..100 {
            s(lib.send_message(&get_id_call(&lib)?))?;
        }
        // All answered (no reply is left to fill the queue again).
        wait_bus_messages(&mut probe, base, 100)?;
        ensure!(bus_stat(&mut probe, "SendFailures")? > before, "no send failure at the second client");
        let mut got = read_until_loss_seen(&mut lib)?;
        while let Some(m) = s(lib.recv_timeout(Some(Duration::from_millis(200))))? {
            got.push(m);
        }
        ensure!(!got.iter().any(|m| m.member() == Some(mcast_unix::bus::MESSAGES_LOST)), "MessagesLost reached the application");
        expect_eq("what the application got: the other replies", got.iter().filter(|m| m.msg_type() != Type::MethodReturn).count(), 0)?;
        let failures = bus_stat(&mut probe, "SendFailures")?;
        expect_eq("the library's daemon losses against the daemon's send failures to it", lib.stats().daemon_losses, failures - before)
    });
    case!(v, "bus", "owner cache and the rule limit: past it a name is called uncached (asking) and the oldest cached name gives up its rule for next time; the application's AddMatch takes cached names' rules first", |af| {
        let mut bus = TestBus::create(af, Policy::for_daemon(me()), Limits { matches: 2, ..Limits::default() })?;
        bus.serve();
        let (mut service, mut caller) = (bus.client()?, bus.client()?);
        for name in ["org.example.L1", "org.example.L2", "org.example.L3"] {
            s(service.request_name(name, F::empty()))?;
        }
        let t = std::thread::spawn(move || {
            for _ in 0..6 {
                serve_one(&mut service)?;
            }
            Ok::<_, String>(service)
        });
        let call = |c: &mut Bus, name: &str| s(c.call(name, "/", None, "Echo", &(name,))).map(|_| ());
        let state = |c: &Bus| {
            let mut names: Vec<String> = c.owner_cache().names().map(str::to_owned).collect();
            names.sort();
            (names, c.stats().owner_lookups, c.stats().owner_cache_hits)
        };
        let l = |v: &[&str]| v.iter().map(|n| format!("org.example.{n}")).collect::<Vec<_>>();
        call(&mut caller, "org.example.L1")?;
        call(&mut caller, "org.example.L2")?;
        expect_eq("two names, two rules", state(&caller), (l(&["L1", "L2"]), 2, 0))?;
        call(&mut caller, "org.example.L3")?;
        expect_eq("a third: not cached, L1 gave way", state(&caller), (l(&["L2"]), 3, 0))?;
        call(&mut caller, "org.example.L3")?;
        call(&mut caller, "org.example.L3")?;
        expect_eq("L3 again, then from the cache", state(&caller), (l(&["L2", "L3"]), 4, 1))?;
        s(caller.add_match("member='First'"))?;
        s(caller.add_match("member='Second'"))?;
        expect_eq("after two rules of the application", state(&caller), (vec![], 4, 1))?;
        expect_eq("a third rule, nothing cached to give way", dbus_err(caller.add_match("member='Third'")), Ok(errors::LIMITS_EXCEEDED.to_owned()))?;
        call(&mut caller, "org.example.L1")?;
        expect_eq("a call with every rule taken: asked, not cached", state(&caller), (vec![], 5, 1))?;
        t.join().map_err(|_| "service panicked".to_string())??;
        Ok(())
    });
    case!(v, "bus", "64 clients, each with its own member rule, each get exactly their signal", |af| {
        let bus = TestBus::start(af)?;
        let mut subs = Vec::new();
        for i in 0..64 {
            let mut c = bus.client()?;
            s(c.add_match(&format!("type='signal',interface='org.example.Many',member='M{i}'")))?;
            subs.push(c);
        }
        let mut pubr = bus.client()?;
        let names = s(pubr.list_names())?;
        ensure!(names.iter().filter(|n| n.starts_with(":1.")).count() == 65, "{} unique names listed", names.len());
        for i in 0..64 {
            s(pubr.emit("/", "org.example.Many", &format!("M{i}"), &(i as u32,)))?;
        }
        for (i, sub) in subs.iter_mut().enumerate() {
            expect_eq(&format!("client {i}"), queued_members(sub)?, vec![format!("M{i}")])?;
            kernel_routed(&format!("client {i}"), sub)?;
            nothing_queued(&format!("client {i} after"), sub)?;
        }
        let st = bus.stop();
        expect_eq("data messages at the daemon", st.data_messages, 0)
    });
    case!(v, "bus", "a monitor sees calls between others, their signals and the daemon's replies", |af| {
        let bus = TestBus::start(af)?;
        let (mut mon, mut a, b) = (bus.client()?, bus.client()?, bus.client()?);
        s(mon.become_monitor())?;
        s(b.emit("/", "org.example.M", "Seen", &()))?;
        a.set_timeout(Duration::from_millis(100));
        let _ = a.call(b.unique_name(), "/", Some("org.example.M"), "Unanswered", &());
        let _ = s(a.get_id())?;
        // The daemon copies its reply to the monitor after sending it to
        // `a`: wait for it.
        let mut kinds: Vec<(Type, Option<String>)> = Vec::new();
        let wanted = [(Type::Signal, Some("Seen".to_string())), (Type::MethodCall, Some("Unanswered".into())), (Type::MethodCall, Some("GetId".into())), (Type::MethodReturn, None)];
        let deadline = Instant::now() + WAIT;
        while !wanted.iter().all(|w| kinds.contains(w)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match s(mon.recv_timeout(Some(left)))? {
                Some(m) => kinds.push((m.msg_type(), m.member().map(str::to_owned))),
                None => return Err(format!("the monitor saw only {kinds:?}")),
            }
        }
        Ok(())
    });
    case!(v, "bus", "AddMatch past the connection's limit is LimitsExceeded, and the rules before it still work", |af| {
        let mut bus = TestBus::create(af, Policy::for_daemon(me()), Limits { matches: 3, ..Limits::default() })?;
        bus.serve();
        let (pubr, mut sub) = (bus.client()?, bus.client()?);
        for i in 0..3 {
            s(sub.add_match(&format!("member='L{i}'")))?;
        }
        expect_eq("fourth", dbus_err(sub.add_match("member='L3'")), Ok(errors::LIMITS_EXCEEDED.to_owned()))?;
        s(pubr.emit("/", "org.example.L", "L2", &()))?;
        s(pubr.emit("/", "org.example.L", "L3", &()))?;
        expect_eq("received", queued_members(&mut sub)?, vec!["L2".to_string()])?;
        kernel_routed("sub", &sub)
    });
    case!(v, "bus", "a client that does not read loses what overflows its queue (counted) and holds no sender back", |af| {
        let bus = TestBus::start(af)?;
        let (pubr, mut slow) = (bus.client()?, bus.client()?);
        s(slow.add_match("member='Flood'"))?;
        s(slow.socket().set_recv_buffer_size(4096))?;
        s(pubr.socket().set_write_timeout(Some(Duration::from_secs(2))))?;
        for i in 0..300u32 {
            s(pubr.emit("/", "org.example.F", "Flood", &(i,)))?;
        }
        let got = queued(&mut slow)?.len() as u64;
        ensure!(got > 0 && got < 300, "{got} of 300 queued at a 4 KiB receive buffer");
        s(pubr.emit("/", "org.example.F", "Flood", &(300u32,)))?;
        expect_eq("after", queued(&mut slow)?.len(), 1)?;
        expect_eq("kernel drops", slow.stats().kernel_drops, 300 - got)
    });
    case!(v, "bus", "with drop_when_full off, a full client holds the sender back (its send times out)", |af| {
        let mut bus = TestBus::create(af, Policy::for_daemon(me()), Limits::default())?;
        bus.drop_when_full(false)?;
        bus.serve();
        let (pubr, mut slow) = (bus.client()?, bus.client()?);
        s(slow.add_match("member='Flood'"))?;
        s(slow.socket().set_recv_buffer_size(4096))?;
        s(pubr.socket().set_write_timeout(Some(Duration::from_millis(200))))?;
        let mut sent = 0u32;
        let err = loop {
            match pubr.emit("/", "org.example.F", "Flood", &(sent,)) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            ensure!(sent < 10_000, "10000 sends into a 4 KiB queue went through");
        };
        ensure!(matches!(&err, mcast_unix::bus::Error::Io(e) if e.kind() == std::io::ErrorKind::WouldBlock), "{err}");
        expect_eq("all that was sent arrived", queued(&mut slow)?.len() as u32, sent)?;
        expect_eq("kernel drops", slow.stats().kernel_drops, 0)
    });
    case!(v, "bus", "mcastctl bus, call, emit and monitor work together, and the daemon reports 0 data messages", |af| {
        let ctl = "/mcastctl";
        if !std::path::Path::new(ctl).exists() {
            return crate::harness::skip("no /mcastctl in this VM");
        }
        let _ = af;
        let name = format!("mcastctl-bus-{}", std::process::id());
        let at = format!("@{name}");
        let run = |args: &[&str]| std::process::Command::new(ctl).args(args).output().map_err(|e| format!("{ctl}: {e}"));
        let daemon = s(std::process::Command::new(ctl)
            .args(["bus", "--quiet", "--duration", "120", &at])
            .stdout(std::process::Stdio::piped())
            .spawn())?;
        // The group exists once connecting works.
        let addr = s(Addr::abstract_(name.as_bytes()))?;
        let deadline = Instant::now() + WAIT;
        while McastSeqpacket::connect_in(af, &addr).is_err() {
            ensure!(Instant::now() < deadline, "the bus never came up");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut monitor = s(std::process::Command::new(ctl)
            .args(["monitor", "--bus", &at, "-n", "1", "type='signal',member='Tick'"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn())?;
        // Until the monitor is in, a Tick may go unseen: emit until it
        // has printed one and exited.
        let mut ticks = 0;
        while s(monitor.try_wait())?.is_none() {
            if ticks == 40 {
                let _ = monitor.kill();
                return Err("the monitor saw no Tick in 40 tries".into());
            }
            let e = run(&["emit", "-q", "--bus", &at, "/org/example/Clock", "org.example.Clock", "Tick", "u:7"])?;
            ensure!(e.status.success(), "emit: {}", String::from_utf8_lossy(&e.stderr));
            ticks += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        let mon_out = s(monitor.wait_with_output())?;
        let line = String::from_utf8_lossy(&mon_out.stdout).to_string();
        ensure!(line.contains("signal") && line.contains("member=Tick") && line.contains("uint32 7"), "monitor printed {line:?}");
        let c = run(&["call", "--bus", &at, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"])?;
        let out = String::from_utf8_lossy(&c.stdout).to_string();
        ensure!(c.status.success() && out.starts_with("return") && out.contains("\"org.freedesktop.DBus\""), "call ListNames: {out:?}");
        let e = run(&["call", "--bus", &at, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner", "s:org.example.None"])?;
        let err = String::from_utf8_lossy(&e.stderr).to_string();
        ensure!(!e.status.success() && err.contains(errors::NAME_HAS_NO_OWNER), "call GetNameOwner: {err:?}");
        // SIGTERM: it stops and prints its counters.
        // SAFETY: kill() on our own child.
        unsafe { libc::kill(daemon.id() as libc::pid_t, libc::SIGTERM) };
        let d = s(daemon.wait_with_output())?;
        let stats = String::from_utf8_lossy(&d.stdout).to_string();
        ensure!(d.status.success() && stats.contains("data messages received by the daemon 0;"), "bus printed {stats:?}");
        Ok(())
    });
    case!(v, "bus", "the demo's scenario (bus-demo): each subscriber gets what its rule asks for, each client is woken only for its messages, the daemon never for data", |af| {
        let prog = "/bus-demo";
        if !std::path::Path::new(prog).exists() {
            return crate::harness::skip("no /bus-demo in this VM");
        }
        let bus = TestBus::start(af)?;
        let name = String::from_utf8_lossy(bus.addr.as_abstract().ok_or("an abstract address")?).into_owned();
        let out = s(std::process::Command::new(prog).args(["--counts", &format!("@{name}")]).output())?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        ensure!(out.status.success(), "bus-demo: {}; stdout {text:?}; stderr {:?}", out.status, String::from_utf8_lossy(&out.stderr));
        // Each line: key=value fields; clients by their client= field.
        let fields = |line: &str| -> HashMap<String, String> {
            line.split_whitespace().filter_map(|f| f.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
        };
        let lines: Vec<HashMap<String, String>> = text.lines().map(fields).collect();
        let client = |who: &str| lines.iter().find(|l| l.get("client").map(String::as_str) == Some(who)).cloned().unwrap_or_default();
        let num = |l: &HashMap<String, String>, k: &str| l.get(k).and_then(|v| v.parse::<u64>().ok());
        // (client, Weather, Stocks, calls, replies, reads the forecast):
        // the scenario's nine signals (bus-demo's list) through each rule.
        let want = [
            ("publisher", 0, 0, 0, 0, false),
            ("station", 0, 0, 0, 0, false),
            ("weather", 5, 0, 0, 0, true),
            ("stocks", 0, 4, 0, 0, false),
            ("prices", 0, 3, 0, 0, false),
            ("paris", 3, 0, 0, 0, true),
            ("from-publisher", 4, 3, 0, 0, true),
            ("calculator", 0, 0, 1, 0, false),
            ("caller", 0, 0, 0, 1, false),
        ];
        for (who, w, st, calls, replies, forecast) in want {
            let l = client(who);
            let got = ["weather", "stocks", "calls", "replies", "other", "dropped"].map(|k| num(&l, k));
            expect_eq(who, got, [w, st, calls, replies, 0, 0].map(Some))?;
            expect_eq(&format!("{who} read the forecast"), l.get("forecast").map(String::as_str), Some(if forecast { "true" } else { "false" }))?;
            let total = w + st + calls + replies;
            let woken = num(&l, "woken").ok_or(format!("{who}: no woken= in {text:?}"))?;
            ensure!(woken <= total && (total == 0) == (woken == 0), "{who}: woken {woken} times for {total} messages");
        }
        let tail = fields(&text.lines().filter(|l| l.starts_with("sum=")).collect::<String>());
        expect_eq("Add(19, 23)", tail.get("sum").map(String::as_str), Some("42"))?;
        expect_eq("served by the calculator", tail.get("served_by_calculator").map(String::as_str), Some("true"))?;
        ensure!(text.lines().any(|l| l == "daemon data=0" || l.starts_with("daemon data=0 ")), "{text:?}");
        ensure!(text.lines().any(|l| l == "ok=true"), "{text:?}");
        expect_eq("data messages the daemon read", bus.stop().data_messages, 0)
    });
    let _ = af;
    v
}
