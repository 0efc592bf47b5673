//! A bus daemon (mcast-bus) served from a thread of this process on a fresh
//! abstract address, for the bus cases (bus.rs, bus_hostile.rs), and what
//! those cases share to talk to it: connections that have said Hello or
//! not, records read raw, waits bounded by [`WAIT`], and errors as text.

use crate::mcast::fresh;
use mcast_bus::{Config, Daemon, Limits, Policy, Stats};
use mcast_unix::bus::{Bus, BusMessage, BUS_NAME};
use mcast_unix::{Addr, McastSeqpacket};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a case waits for something the daemon sends.
pub const WAIT: Duration = Duration::from_secs(10);

/// A daemon serving a fresh address from a thread.
pub struct TestBus {
    af: i32,
    /// The address the daemon's group is bound to.
    pub addr: Addr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Stats>>,
    daemon: Option<Daemon>,
}

/// This process's uid (the daemon's, in [`Policy::for_daemon`]).
pub fn me() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

impl TestBus {
    /// Creates the group; the daemon does not serve until [`TestBus::serve`]
    /// (so a case may fork first, while the process has one thread).
    pub fn create(af: i32, policy: Policy, limits: Limits) -> Result<TestBus, String> {
        let addr = fresh("dbus");
        let daemon = Daemon::new(Config { family: af, address: addr.clone(), policy, limits, drop_when_full: true }).map_err(|e| format!("daemon: {e}"))?;
        Ok(TestBus { af, addr, stop: Arc::new(AtomicBool::new(false)), thread: None, daemon: Some(daemon) })
    }

    /// Recreates the (not yet serving) daemon with `drop_when_full`.
    pub fn drop_when_full(&mut self, on: bool) -> Result<(), String> {
        drop(self.daemon.take());
        let policy = Policy::for_daemon(me());
        let config = Config { family: self.af, address: self.addr.clone(), policy, limits: Limits::default(), drop_when_full: on };
        self.daemon = Some(Daemon::new(config).map_err(|e| format!("daemon: {e}"))?);
        Ok(())
    }

    /// Starts serving from a thread (once; later calls do nothing).
    pub fn serve(&mut self) {
        let Some(mut d) = self.daemon.take() else { return };
        let stop = self.stop.clone();
        self.thread = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = d.step(20) {
                    eprintln!("daemon: {e}");
                    break;
                }
            }
            d.stats()
        }));
    }

    /// A daemon for this uid with the default limits, serving.
    pub fn start(af: i32) -> Result<TestBus, String> {
        TestBus::start_with(af, Limits::default())
    }

    /// A daemon for this uid with `limits`, serving.
    pub fn start_with(af: i32, limits: Limits) -> Result<TestBus, String> {
        let mut b = TestBus::create(af, Policy::for_daemon(me()), limits)?;
        b.serve();
        Ok(b)
    }

    /// A client that has said Hello, its calls bounded by [`WAIT`].
    pub fn client(&self) -> Result<Bus, String> {
        let mut b = Bus::connect_in(self.af, &self.addr).map_err(|e| format!("connect: {e}; the daemon: {}", self.stats_now()))?;
        b.set_timeout(WAIT);
        Ok(b)
    }

    /// A connection that has not said Hello, passing sender ids.
    pub fn raw(&self) -> Result<McastSeqpacket, String> {
        let r = s(McastSeqpacket::connect_in(self.af, &self.addr))?;
        s(r.set_pass_sender_id(true))?;
        Ok(r)
    }

    /// The daemon's counters as GetStats reports them (for a failure's
    /// message).
    fn stats_now(&self) -> String {
        let r = Bus::connect_in(self.af, &self.addr).and_then(|mut b| {
            b.call("org.freedesktop.DBus", "/org/freedesktop/DBus", Some("org.freedesktop.DBus.Debug.Stats"), "GetStats", &())
        });
        match r {
            Ok(m) => m.body::<(HashMap<String, zbus::OwnedVariant>,)>().map_or_else(|e| e.to_string(), |(st,)| format!("{st:?}")),
            Err(e) => format!("GetStats failed: {e}"),
        }
    }

    /// Stops the daemon and returns its counters.
    pub fn stop(mut self) -> Stats {
        self.halt()
    }

    fn halt(&mut self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        self.halt();
    }
}

/// `r` with its error as text.
pub fn s<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// The D-Bus error name of a failed call.
pub fn dbus_err<T: std::fmt::Debug>(r: mcast_unix::bus::Result<T>) -> Result<String, String> {
    match r {
        Err(e) => e.dbus_name().map(str::to_owned).ok_or_else(|| format!("not a D-Bus error: {e}")),
        Ok(v) => Err(format!("succeeded with {v:?}, expected an error")),
    }
}

/// Waits for a message satisfying `want`; others are dropped.
pub fn wait_for(b: &mut Bus, what: &str, want: impl Fn(&BusMessage) -> bool) -> Result<BusMessage, String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match s(b.recv_timeout(Some(left)))? {
            Some(m) if want(&m) => return Ok(m),
            Some(_) => continue,
            None => return Err(format!("no {what} within {WAIT:?}")),
        }
    }
}

/// A call of `member` (no arguments) on the daemon's interface, with no
/// sender: what a connection sends before or as its Hello.
pub fn bus_call(member: &str) -> Result<zbus::Message, String> {
    s(zbus::Message::method_call("/org/freedesktop/DBus", member)
        .destination(BUS_NAME)
        .interface("org.freedesktop.DBus")
        .build(&()))
}

/// The next record at a connection that has not said Hello, decoded,
/// waited for at most [`WAIT`].
pub fn recv_raw(raw: &McastSeqpacket) -> Result<BusMessage, String> {
    s(raw.set_read_timeout(Some(WAIT)))?;
    let mut buf = vec![0u8; 4096];
    let m = s(raw.recv_msg(&mut buf))?;
    s(BusMessage::decode(&buf[..m.len], m.fds, m.sender_id))
}

/// The record queued at `b`'s socket, read raw past the library (with
/// `flags` beside MSG_DONTWAIT: MSG_PEEK leaves it queued) and described;
/// `None` if nothing is queued.
pub fn raw_record(b: &Bus, flags: i32) -> Result<Option<String>, String> {
    let mut buf = vec![0u8; 64 * 1024];
    match b.socket().recv_msg_with_flags(&mut buf, libc::MSG_DONTWAIT | flags) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e.to_string()),
        Ok(m) => Ok(Some(
            BusMessage::decode(&buf[..m.len], m.fds, m.sender_id)
                .map(|b| format!("{:?} {:?}.{:?} from {:?} to {:?}", b.msg_type(), b.interface(), b.member(), b.sender(), b.destination()))
                .unwrap_or_else(|e| format!("undecodable: {e}")),
        )),
    }
}
