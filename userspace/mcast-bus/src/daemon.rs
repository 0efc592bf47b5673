//! [`Daemon`]: the bus daemon's event loop and its `org.freedesktop.DBus`
//! methods.
//!
//! The daemon owns the seqpacket group. For each connection it accepts it
//! checks `SO_PEERCRED` against the [`Policy`]; a refused connection gets
//! `AccessDenied` in reply to its first message and is closed. An allowed
//! one gets on the daemon's end (the accepted socket) the socket filter
//! [`bus_filter`]: only records addressed to `org.freedesktop.DBus` are
//! queued there, so the daemon is woken for bus calls only. Its Hello
//! (sent unicast, before admission) then makes it a member, with
//! (before admission, while the client waits for the reply):
//! - the peer filter compiled from its names and rules ([`member_filter`]),
//!   replaced at every `RequestName`, `ReleaseName`, `AddMatch`,
//!   `RemoveMatch` and change of a name it owns or a rule's sender owns;
//! - admission with `SEND_TO_PEER` (and `DROP_WHEN_FULL` unless the
//!   configuration says otherwise, [`Config::drop_when_full`]), so its bus calls reach the daemon's end
//!   (through that end's filter) while its other messages go to the
//!   members whose filters take them.
//!
//! The daemon answers and signals each connection by sending on its
//! accepted socket (unicast, never through the group), without blocking: a
//! connection whose queue is full loses the message and the loss is
//! counted ([`Stats::send_failures`]). So that a client can tell, the
//! messages the daemon sends on a connection carry the serials 1, 2, 3, …
//! (one per message it tried to send there: a lost one leaves a gap), and
//! once the connection's queue has room again the daemon sends it
//! `MessagesLost` ([`MESSAGES_LOST`]) with the count.

use crate::hashes::RouteHashes;
use crate::policy::Policy;
use crate::registry::{ConnId, OwnerChange, Registry};
use mcast_unix::bus::names::errors;
use mcast_unix::bus::{
    bus_filter, is_well_known_name, member_filter, monitor_filter, next_serial, unique_name, unique_name_id, BusMessage,
    RequestNameFlags, Rule, BUS_EXT_INTERFACE, BUS_INTERFACE, BUS_NAME, BUS_PATH, MESSAGES_LOST,
};
use mcast_unix::{Addr, McastAccepted, McastGroupListener, MembershipFlags};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use zbus::message::{Flags, Type};

/// Limits per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Well-known names a connection may own or wait for.
    pub names: usize,
    /// Match rules per connection.
    pub matches: usize,
    /// Connections at once (beyond it a new connection is closed at once).
    pub connections: usize,
    /// Connections of one uid at once, said Hello or not, admitted or
    /// not (beyond it a new connection is closed at once).
    pub per_uid: usize,
    /// How long a connection may stay without a successful Hello (and a
    /// refused one without sending anything) before it is closed.
    pub hello_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { names: 256, matches: 512, connections: 4096, per_uid: 256, hello_timeout: Duration::from_secs(5) }
    }
}

/// What the daemon configuration holds.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address family (the module's).
    pub family: i32,
    /// The bus address.
    pub address: Addr,
    /// Who may connect.
    pub policy: Policy,
    /// Per-connection limits.
    pub limits: Limits,
    /// Admit members with `MCAST_UNIX_DROP_WHEN_FULL` (the default of
    /// `mcastctl bus`): a client whose receive queue is full loses (and
    /// counts, `SO_RXQ_OVFL`) what is sent to it instead of holding every
    /// sender back, so no client can stall the bus by not reading. Without
    /// it, delivery is lossless and senders wait for the slowest receiver.
    pub drop_when_full: bool,
}

/// The daemon's counters (`org.freedesktop.DBus.Debug.Stats.GetStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted (admitted or not).
    pub accepted: u64,
    /// Connections the policy refused.
    pub refused: u64,
    /// Records received that were addressed to the bus.
    pub bus_messages: u64,
    /// Records received that were **not** for the bus: every wake-up for
    /// data. The filters make it 0.
    pub data_messages: u64,
    /// Records that did not decode.
    pub malformed: u64,
    /// Messages the daemon could not queue at a full connection.
    pub send_failures: u64,
    /// Connections now.
    pub connections: u64,
    /// Connections closed because they had no successful Hello within
    /// [`Limits::hello_timeout`].
    pub hello_timeouts: u64,
}

struct Conn {
    sock: McastAccepted,
    cred: libc::ucred,
    /// Set by Hello.
    unique: Option<String>,
    rules: Vec<Rule>,
    monitor: bool,
    /// The error a refused connection gets for its first message (it is
    /// closed after that message, whatever it is).
    refused: Option<(&'static str, &'static str)>,
    /// When it was accepted (for [`Limits::hello_timeout`]).
    since: Instant,
    /// The serial of the last message sent (or tried) on it.
    serial: u32,
    /// Messages it could not queue since the last `MessagesLost` it got.
    lost: u32,
}

impl Conn {
    /// Whether the connection lost messages it has not been told of (only
    /// a connection that said Hello is told).
    fn owes_notice(&self) -> bool {
        self.lost > 0 && self.unique.is_some() && self.refused.is_none()
    }
}

/// The bus daemon.
pub struct Daemon {
    listener: McastGroupListener,
    conns: BTreeMap<ConnId, Conn>,
    registry: Registry,
    policy: Policy,
    limits: Limits,
    flags: MembershipFlags,
    stats: Stats,
    guid: String,
    buf: Vec<u8>,
    hashes: RouteHashes,
    /// Accepting paused (after a failing accept, e.g. no descriptors left)
    /// until then.
    accept_paused: Option<Instant>,
}

/// The longest match rule `AddMatch` takes, in bytes (longer:
/// `LimitsExceeded`).
pub const MAX_RULE_LEN: usize = 1024;

/// Records read from one connection per round of the loop, so a client that
/// keeps sending cannot starve the others (the rest wait for the next
/// round: poll reports the connection again).
const RECORDS_PER_ROUND: usize = 64;

/// How long accepting pauses after a failing accept.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Whether SIGINT or SIGTERM came (after [`stop_on_signals`]).
pub fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Makes SIGINT and SIGTERM end [`Daemon::run`] (it returns after the
/// signal, so the caller can print the counters).
pub fn stop_on_signals() -> io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores an
        // atomic is async-signal-safe; no SA_RESTART, so poll() returns.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

fn random_guid() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    if b == [0; 16] {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        b = (t ^ u128::from(std::process::id())).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A method's outcome: the reply to send (`None`: already sent, with the
/// signals that follow it), or a D-Bus error name and text.
type Reply = Result<Option<zbus::Message>, (String, String)>;

fn err(name: &str, text: impl Into<String>) -> Reply {
    Err((name.to_owned(), text.into()))
}

impl Daemon {
    /// Creates the group at the configured address.
    pub fn new(config: Config) -> io::Result<Daemon> {
        let listener = McastGroupListener::create_in(config.family, &config.address)?;
        listener.set_nonblocking(true)?;
        Ok(Daemon {
            listener,
            conns: BTreeMap::new(),
            registry: Registry::new(),
            policy: config.policy,
            limits: config.limits,
            flags: if config.drop_when_full {
                MembershipFlags::SEND_TO_PEER | MembershipFlags::DROP_WHEN_FULL
            } else {
                MembershipFlags::SEND_TO_PEER
            },
            stats: Stats::default(),
            guid: random_guid(),
            buf: vec![0; mcast_unix::bus::client::MAX_RECORD],
            hashes: RouteHashes::new(),
            accept_paused: None,
        })
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        Stats { connections: self.conns.len() as u64, ..self.stats }
    }

    /// Serves until a signal ([`stop_on_signals`]) or an error of
    /// poll(); a failing accept (no descriptors left) is reported and
    /// retried.
    pub fn run(&mut self) -> io::Result<()> {
        while !STOP.load(Ordering::Relaxed) {
            self.step(-1)?;
        }
        Ok(())
    }

    /// One round: waits at most `timeout_ms` (-1: no limit) for the
    /// listener or a connection, and serves what is ready.
    pub fn step(&mut self, timeout_ms: i32) -> io::Result<()> {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        let mut fds = Vec::with_capacity(ids.len() + 1);
        let now = Instant::now();
        self.accept_paused = self.accept_paused.filter(|t| *t > now);
        // A paused listener is left out of the poll (fd -1).
        let listen_fd = if self.accept_paused.is_some() { -1 } else { self.listener.as_raw_fd() };
        fds.push(libc::pollfd { fd: listen_fd, events: libc::POLLIN, revents: 0 });
        let timeout_ms = self.wake_within(now, timeout_ms);
        for id in &ids {
            let c = &self.conns[id];
            // A connection owed a MessagesLost: woken when it has room.
            let events = if c.owes_notice() { libc::POLLIN | libc::POLLOUT } else { libc::POLLIN };
            fds.push(libc::pollfd { fd: c.sock.as_raw_fd(), events, revents: 0 });
        }
        // SAFETY: `fds` is a valid array of that many pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(e) };
        }
        if fds[0].revents != 0 {
            self.accept_all()?;
        }
        for (i, id) in ids.iter().enumerate() {
            let rev = fds[i + 1].revents;
            if rev & libc::POLLIN != 0 {
                self.drain(*id);
            } else if rev & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                self.drop_conn(*id);
            }
            if rev & libc::POLLOUT != 0 {
                self.notify_lost(*id);
            }
        }
        self.expire_pre_hello(Instant::now());
        Ok(())
    }

    /// `timeout_ms` shortened to the next Hello deadline or the end of an
    /// accept pause.
    fn wake_within(&self, now: Instant, timeout_ms: i32) -> i32 {
        let next = self
            .conns
            .values()
            .filter(|c| c.unique.is_none())
            .map(|c| c.since + self.limits.hello_timeout)
            .chain(self.accept_paused)
            .min();
        let Some(next) = next else { return timeout_ms };
        let ms = i32::try_from(next.saturating_duration_since(now).as_millis() + 1).unwrap_or(i32::MAX);
        if timeout_ms < 0 { ms } else { timeout_ms.min(ms) }
    }

    /// Closes the connections without a successful Hello past their
    /// deadline.
    fn expire_pre_hello(&mut self, now: Instant) {
        let late: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.unique.is_none() && now >= c.since + self.limits.hello_timeout)
            .map(|(i, _)| *i)
            .collect();
        for id in late {
            self.stats.hello_timeouts += 1;
            self.drop_conn(id);
        }
    }

    fn accept_all(&mut self) -> io::Result<()> {
        loop {
            let (sock, _) = match self.listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EINTR)) => continue,
                Err(e) => {
                    // Out of descriptors or memory: keep serving the
                    // connections there are; the backlog waits, the
                    // listener out of the poll for a moment (so a lasting
                    // shortage neither spins nor stalls the loop).
                    if self.accept_paused.is_none() {
                        eprintln!("mcast-bus: accept: {e}");
                    }
                    self.accept_paused = Some(Instant::now() + ACCEPT_PAUSE);
                    return Ok(());
                }
            };
            self.stats.accepted += 1;
            if let Err(e) = self.admit(sock) {
                eprintln!("mcast-bus: a connection failed at admission: {e}");
            }
        }
    }

    fn admit(&mut self, sock: McastAccepted) -> io::Result<()> {
        sock.set_nonblocking(true)?;
        let cred = sock.peer_cred()?;
        let id = sock.peer_id()?;
        let of_uid = self.conns.values().filter(|c| c.cred.uid == cred.uid).count();
        if self.conns.len() >= self.limits.connections || of_uid >= self.limits.per_uid {
            // Closed at once (dropping `sock`): no room to wait for a call
            // to answer.
            self.stats.refused += 1;
            return Ok(());
        }
        let refused = (!self.policy.admits(&cred)).then_some((errors::ACCESS_DENIED, "the bus policy does not admit this user"));
        if refused.is_some() {
            self.stats.refused += 1;
        } else {
            // Admission waits for Hello (see `hello`).
            sock.attach_filter(&bus_filter())?;
        }
        let conn = Conn { sock, cred, unique: None, rules: Vec::new(), monitor: false, refused, since: Instant::now(), serial: 0, lost: 0 };
        self.conns.insert(id, conn);
        Ok(())
    }

    fn drain(&mut self, id: ConnId) {
        for _ in 0..RECORDS_PER_ROUND {
            let Some(conn) = self.conns.get(&id) else { return };
            let meta = match conn.sock.recv_msg_with_flags(&mut self.buf, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.drop_conn(id);
                    return;
                }
            };
            if meta.len == 0 {
                self.drop_conn(id);
                return;
            }
            let record = &self.buf[..meta.len];
            if let Some(why) = conn.refused {
                // A refused connection's first record, whatever it is,
                // ends it (an answer first if it is a call).
                if let Ok(msg) = BusMessage::decode(record, meta.fds, Some(id)) {
                    if msg.msg_type() == Type::MethodCall {
                        self.reply(id, &msg, err(why.0, why.1));
                    }
                }
                self.drop_conn(id);
                return;
            }
            let msg = match BusMessage::decode(record, meta.fds, Some(id)) {
                Ok(m) => m,
                Err(_) => {
                    self.stats.malformed += 1;
                    self.stats.data_messages += 1;
                    continue;
                }
            };
            if msg.destination() != Some(BUS_NAME) {
                self.stats.data_messages += 1;
                continue;
            }
            self.stats.bus_messages += 1;
            self.handle(id, &msg);
        }
    }

    /// One message for the bus from `id`.
    fn handle(&mut self, id: ConnId, msg: &BusMessage) {
        let Some(conn) = self.conns.get(&id) else { return };
        if msg.msg_type() != Type::MethodCall {
            return;
        }
        // The sender field must be the connection's own name (the kernel
        // stamped the id; Hello comes before there is a name).
        let registered = conn.unique.is_some();
        if registered && msg.sender() != conn.unique.as_deref() {
            let r = err(errors::ACCESS_DENIED, "the sender field is not this connection's unique name");
            self.reply(id, msg, r);
            return;
        }
        let member = msg.member().unwrap_or("");
        let iface = msg.interface().unwrap_or(BUS_INTERFACE);
        let reply = if !registered && (iface, member) != (BUS_INTERFACE, "Hello") {
            err(errors::ACCESS_DENIED, "Hello must be the first call")
        } else {
            self.method(id, iface, member, msg)
        };
        let failed_hello = (iface, member) == (BUS_INTERFACE, "Hello") && reply.is_err() && !registered;
        self.reply(id, msg, reply);
        if failed_hello {
            // Not admitted (a refused unique name, a failed admission).
            self.drop_conn(id);
        }
    }

    fn reply(&mut self, id: ConnId, call: &BusMessage, reply: Reply) {
        if call.message().primary_header().flags().contains(Flags::NO_REPLY_EXPECTED) {
            return;
        }
        let header = call.message().header();
        let dest = self.conns.get(&id).and_then(|c| c.unique.clone()).or_else(|| call.sender().map(str::to_owned));
        let built = match reply {
            Ok(None) => return,
            Ok(Some(m)) => Ok(m),
            Err((name, text)) => {
                let mut b = zbus::Message::error(&header, name.as_str()).sender(BUS_NAME);
                if let Some(d) = &dest {
                    b = b.destination(d.as_str());
                }
                b.build(&(text,))
            }
        };
        match built {
            Ok(m) => self.send(id, &m),
            Err(e) => eprintln!("mcast-bus: cannot build a reply: {e}"),
        }
    }

    fn ret<B>(&self, id: ConnId, call: &BusMessage, body: &B) -> Reply
    where
        B: serde::Serialize + zbus::wire::DynamicType,
    {
        let mut b = zbus::Message::method_return(&call.message().header()).sender(BUS_NAME);
        if let Some(u) = self.conns.get(&id).and_then(|c| c.unique.as_deref()) {
            b = b.destination(u);
        }
        b.build(body).map(Some).map_err(|e| (errors::FAILED.to_owned(), e.to_string()))
    }

    fn args<T>(msg: &BusMessage) -> Result<T, (String, String)>
    where
        T: for<'d> zbus::wire::DynamicDeserialize<'d>,
    {
        msg.body().map_err(|e| (errors::INVALID_ARGS.to_owned(), format!("arguments of {}: {e}", msg.signature())))
    }

    fn method(&mut self, id: ConnId, iface: &str, member: &str, msg: &BusMessage) -> Reply {
        match (iface, member) {
            (BUS_INTERFACE, "Hello") => self.hello(id, msg),
            (BUS_INTERFACE, "RequestName") => {
                let (name, flags): (String, u32) = Self::args(msg)?;
                self.request_name(id, msg, &name, flags)
            }
            (BUS_INTERFACE, "ReleaseName") => {
                let (name,): (String,) = Self::args(msg)?;
                self.release_name(id, msg, &name)
            }
            (BUS_INTERFACE, "AddMatch") => {
                let (rule,): (String,) = Self::args(msg)?;
                self.add_match(id, msg, &rule)
            }
            (BUS_INTERFACE, "RemoveMatch") => {
                let (rule,): (String,) = Self::args(msg)?;
                self.remove_match(id, msg, &rule)
            }
            (BUS_INTERFACE, "GetNameOwner") => {
                let (name,): (String,) = Self::args(msg)?;
                match self.resolve(&name) {
                    Some(owner) => self.ret(id, msg, &(owner,)),
                    None => err(errors::NAME_HAS_NO_OWNER, format!("could not get the owner of name '{name}': no such name")),
                }
            }
            (BUS_INTERFACE, "NameHasOwner") => {
                let (name,): (String,) = Self::args(msg)?;
                let has = self.resolve(&name).is_some();
                self.ret(id, msg, &(has,))
            }
            (BUS_INTERFACE, "ListNames") => {
                let mut names = vec![BUS_NAME.to_owned()];
                names.extend(self.conns.values().filter_map(|c| c.unique.clone()));
                names.extend(self.registry.names().map(str::to_owned));
                self.ret(id, msg, &(names,))
            }
            (BUS_INTERFACE, "ListActivatableNames") => self.ret(id, msg, &(vec![BUS_NAME.to_owned()],)),
            (BUS_INTERFACE, "ListQueuedOwners") => {
                let (name,): (String,) = Self::args(msg)?;
                let q = self.registry.queued(&name);
                if q.is_empty() {
                    return err(errors::NAME_HAS_NO_OWNER, format!("could not get the owners of name '{name}': no such name"));
                }
                let owners: Vec<String> = q.into_iter().map(unique_name).collect();
                self.ret(id, msg, &(owners,))
            }
            (BUS_INTERFACE, "GetId") => {
                let guid = self.guid.clone();
                self.ret(id, msg, &(guid,))
            }
            (BUS_INTERFACE, "GetConnectionUnixUser") | (BUS_INTERFACE, "GetConnectionUnixProcessID") => {
                let (name,): (String,) = Self::args(msg)?;
                let Some(cred) = self.resolve(&name).and_then(|u| unique_name_id(&u)).and_then(|c| self.conns.get(&c)).map(|c| c.cred)
                else {
                    return err(errors::NAME_HAS_NO_OWNER, format!("no connection owns '{name}'"));
                };
                let v = if member == "GetConnectionUnixUser" { cred.uid } else { cred.pid as u32 };
                self.ret(id, msg, &(v,))
            }
            ("org.freedesktop.DBus.Peer", "Ping") => self.ret(id, msg, &()),
            ("org.freedesktop.DBus.Monitoring", "BecomeMonitor") => {
                let cred = self.conns[&id].cred;
                if !self.policy.may_monitor(&cred) {
                    return err(errors::ACCESS_DENIED, "only root and the bus's user may monitor");
                }
                let conn = self.conns.get_mut(&id).expect("the caller is connected");
                if let Err(e) = conn.sock.set_peer_filter(&monitor_filter()) {
                    return err(errors::FAILED, format!("cannot install the monitor filter: {e}"));
                }
                // Only once the filter is in place (a monitor's filter is
                // never recompiled).
                conn.monitor = true;
                self.ret(id, msg, &())
            }
            ("org.freedesktop.DBus.Debug.Stats", "GetStats") => {
                let s = self.stats();
                let stats: HashMap<&str, zbus::Variant<'_>> = [
                    ("AcceptedConnections", s.accepted),
                    ("RefusedConnections", s.refused),
                    ("BusMessages", s.bus_messages),
                    ("DataMessages", s.data_messages),
                    ("MalformedMessages", s.malformed),
                    ("SendFailures", s.send_failures),
                    ("Connections", s.connections),
                    ("HelloTimeouts", s.hello_timeouts),
                ]
                .into_iter()
                .map(|(k, v)| (k, zbus::Variant::from(v)))
                .collect();
                self.ret(id, msg, &(stats,))
            }
            _ => err(errors::UNKNOWN_METHOD, format!("no method {member} on interface {iface} of the bus")),
        }
    }

    /// The unique name behind `name` (a unique name that is connected, the
    /// bus itself, or an owned well-known name).
    fn resolve(&self, name: &str) -> Option<String> {
        if name == BUS_NAME {
            return Some(BUS_NAME.to_owned());
        }
        if let Some(id) = unique_name_id(name) {
            return self.conns.get(&id).and_then(|c| c.unique.clone());
        }
        self.registry.owner(name).map(unique_name)
    }

    fn hello(&mut self, id: ConnId, msg: &BusMessage) -> Reply {
        let name = unique_name(id);
        if self.conns[&id].unique.is_none() {
            if let Some(other) = self.hashes.conflict(&name) {
                // Not admitted; closed after this reply (`handle`). A
                // new connection gets another id.
                return err(errors::ACCESS_DENIED, format!("the routing hash of {name} is that of the live name '{other}'; connect again"));
            }
        }
        let conn = self.conns.get_mut(&id).expect("the caller is connected");
        if conn.unique.is_some() {
            return err(errors::FAILED, "already handled an Hello message");
        }
        // Admitted only now, while the client waits for this reply: a
        // message a client sends while it is being admitted may go to the
        // group before the group's list has the client, so without the
        // SEND_TO_PEER copy (the kernel records the membership on the
        // client before it publishes the member), and a Hello sent then
        // would be lost. Before admission its Hello came unicast, here.
        let admitted = member_filter([name.as_str()], &[], |_| None)
            .and_then(|f| conn.sock.set_peer_filter(&f))
            .and_then(|()| conn.sock.admit_member(self.flags));
        if let Err(e) = admitted {
            return err(errors::FAILED, format!("admission failed: {e}"));
        }
        conn.unique = Some(name.clone());
        self.hashes.insert(&name).ok();
        let reply = self.ret(id, msg, &(name.as_str(),));
        // The reply goes first, then the signals.
        if let Ok(Some(r)) = &reply {
            self.send(id, r);
        }
        self.signal_to(id, "NameAcquired", &name);
        self.owner_changed(&name, None, Some(&name));
        reply.map(|_| None)
    }

    fn request_name(&mut self, id: ConnId, msg: &BusMessage, name: &str, flags: u32) -> Reply {
        let Some(flags) = RequestNameFlags::from_bits(flags) else {
            return err(errors::INVALID_ARGS, format!("unknown RequestName flags {flags:#x}"));
        };
        if name == BUS_NAME {
            return err(errors::INVALID_ARGS, "the bus's own name belongs to the bus");
        }
        if !is_well_known_name(name) {
            return err(errors::INVALID_ARGS, format!("'{name}' is not a well-known bus name"));
        }
        if self.registry.count_for(id) >= self.limits.names && self.registry.owner(name) != Some(id) {
            return err(errors::LIMITS_EXCEEDED, "this connection owns or waits for too many names");
        }
        // A name that exists holds its hash already (see `RouteHashes`).
        if self.registry.owner(name).is_none() {
            if let Some(other) = self.hashes.conflict(name) {
                return err(
                    errors::ACCESS_DENIED,
                    format!("the routing hash of '{name}' is that of the live name '{other}': the bus keeps one live name per hash"),
                );
            }
        }
        let (r, change) = self.registry.request(name, id, flags);
        let reply = self.ret(id, msg, &(r.code(),));
        self.apply(change, Some((id, reply)))
    }

    fn release_name(&mut self, id: ConnId, msg: &BusMessage, name: &str) -> Reply {
        if name == BUS_NAME || !is_well_known_name(name) {
            return err(errors::INVALID_ARGS, format!("'{name}' is not a name one can release"));
        }
        let (r, change) = self.registry.release(name, id);
        let reply = self.ret(id, msg, &(r.code(),));
        self.apply(change, Some((id, reply)))
    }

    /// Applies an owner change: filters first (so messages to the name go
    /// to its new owner from now on), then the signals, then the caller's
    /// reply. The signals go first so that once the caller has its reply
    /// (and may tell others the name moved), every subscriber has the
    /// `NameOwnerChanged` queued, or a gap in its serials: a client's owner
    /// cache read up to date is never behind what the caller knows.
    fn apply(&mut self, change: Option<OwnerChange>, reply: Option<(ConnId, Reply)>) -> Reply {
        let Some(ch) = change else {
            return reply.map_or(Ok(None), |(_, r)| r);
        };
        self.rehash(&ch);
        self.refilter_for(&ch);
        let old = ch.old.map(unique_name);
        let new = ch.new.map(unique_name);
        if let Some(o) = ch.old {
            self.signal_to(o, "NameLost", &ch.name);
        }
        if let Some(n) = ch.new {
            self.signal_to(n, "NameAcquired", &ch.name);
        }
        self.owner_changed(&ch.name, old.as_deref(), new.as_deref());
        if let Some((id, Ok(Some(r)))) = &reply {
            self.send(*id, r);
        }
        match reply {
            Some((_, Err(e))) => Err(e),
            _ => Ok(None),
        }
    }

    /// Keeps [`RouteHashes`] in step with an owner change: a new name
    /// takes its hash, a name nobody owns frees it, and a name passing to
    /// another owner (a waiter promoted, a replacement) must still hold it.
    fn rehash(&mut self, ch: &OwnerChange) {
        match (ch.old, ch.new) {
            (_, None) => self.hashes.remove(&ch.name),
            (None, Some(_)) | (Some(_), Some(_)) => {
                if let Err(other) = self.hashes.insert(&ch.name) {
                    // `request_name` checked: not reached. Were it, the
                    // name's traffic would also reach `other`.
                    eprintln!("mcast-bus: '{}' shares its routing hash with the live name '{other}'", ch.name);
                }
            }
        }
    }

    /// New filters for the old and new owners of a name, and for every
    /// connection with a rule whose sender is that name.
    fn refilter_for(&mut self, ch: &OwnerChange) {
        let mut ids: Vec<ConnId> = ch.old.into_iter().chain(ch.new).collect();
        ids.extend(self.conns.iter().filter(|(_, c)| c.rules.iter().any(|r| r.sender() == Some(&ch.name))).map(|(i, _)| *i));
        ids.sort_unstable();
        ids.dedup();
        for i in ids {
            if let Err(e) = self.refilter(i) {
                eprintln!("mcast-bus: cannot update the filter of {}: {e}", unique_name(i));
            }
        }
    }

    fn filter_of(&self, id: ConnId, rules: &[Rule]) -> io::Result<mcast_unix::Program> {
        let unique = unique_name(id);
        let owned = self.registry.owned_by(id);
        let names = std::iter::once(unique.as_str()).chain(owned.iter().map(String::as_str));
        member_filter(names, rules, |n| self.registry.owner(n).map(unique_name))
    }

    fn refilter(&mut self, id: ConnId) -> io::Result<()> {
        let Some(conn) = self.conns.get(&id) else { return Ok(()) };
        if conn.monitor || conn.refused.is_some() {
            return Ok(());
        }
        match self.filter_of(id, &conn.rules) {
            Ok(prog) => conn.sock.set_peer_filter(&prog),
            Err(e) => {
                // The rules no longer fit with the names: the names alone,
                // so the stale filter does not keep routing a name the
                // connection lost to it. Its broadcast rules are lost (the
                // error says so).
                // Nothing at all if even that does not fit.
                let (fallback, what) = match self.filter_of(id, &[]) {
                    Ok(p) => (p, "only its names"),
                    Err(_) => (mcast_unix::Program::reject_all(), "nothing"),
                };
                conn.sock.set_peer_filter(&fallback)?;
                Err(io::Error::new(e.kind(), format!("{e}; its filter now takes {what}")))
            }
        }
    }

    fn add_match(&mut self, id: ConnId, msg: &BusMessage, text: &str) -> Reply {
        if text.len() > MAX_RULE_LEN {
            return err(errors::LIMITS_EXCEEDED, format!("a match rule is at most {MAX_RULE_LEN} bytes"));
        }
        let rule = match Rule::parse(text) {
            Ok(r) => r,
            Err(e) => return err(errors::MATCH_RULE_INVALID, e.0),
        };
        let conn = &self.conns[&id];
        if conn.rules.len() >= self.limits.matches {
            return err(errors::LIMITS_EXCEEDED, "this connection has too many match rules");
        }
        let mut rules = conn.rules.clone();
        rules.push(rule);
        let prog = match self.filter_of(id, &rules) {
            Ok(p) => p,
            Err(_) => return err(errors::LIMITS_EXCEEDED, "the match rules no longer fit one filter"),
        };
        let conn = self.conns.get_mut(&id).expect("the caller is connected");
        if !conn.monitor {
            if let Err(e) = conn.sock.set_peer_filter(&prog) {
                return err(errors::FAILED, format!("cannot install the filter: {e}"));
            }
        }
        conn.rules = rules;
        self.ret(id, msg, &())
    }

    fn remove_match(&mut self, id: ConnId, msg: &BusMessage, text: &str) -> Reply {
        let rule = match Rule::parse(text) {
            Ok(r) => r,
            Err(e) => return err(errors::MATCH_RULE_INVALID, e.0),
        };
        let conn = self.conns.get_mut(&id).expect("the caller is connected");
        let Some(i) = conn.rules.iter().position(|r| *r == rule) else {
            return err(errors::MATCH_RULE_NOT_FOUND, "the connection has no such match rule");
        };
        conn.rules.remove(i);
        if let Err(e) = self.refilter(id) {
            return err(errors::FAILED, format!("cannot install the filter: {e}"));
        }
        self.ret(id, msg, &())
    }

    /// Sends `msg` to connection `id` (and a copy to each monitor), without
    /// blocking.
    fn send(&mut self, id: ConnId, msg: &zbus::Message) {
        let mut record = match BusMessage::encode(msg) {
            Ok(r) => r,
            Err(_) => return,
        };
        let monitors: Vec<ConnId> = self.conns.iter().filter(|(i, c)| c.monitor && **i != id).map(|(i, _)| *i).collect();
        for target in std::iter::once(id).chain(monitors) {
            self.send_record(target, &mut record);
        }
    }

    /// Sends `record` on connection `id` without blocking, numbered with
    /// the connection's next serial; a message it cannot queue is counted
    /// (and owed a `MessagesLost`). Whether it was queued.
    fn send_record(&mut self, id: ConnId, record: &mut [u8]) -> bool {
        let Some(conn) = self.conns.get_mut(&id) else { return false };
        let serial = next_serial(conn.serial);
        conn.serial = serial.get();
        BusMessage::set_record_serial(record, serial);
        let sent = conn.sock.send_with_flags(record, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL).is_ok();
        if !sent {
            self.stats.send_failures += 1;
            conn.lost = conn.lost.saturating_add(1);
        }
        sent
    }

    /// Sends `MessagesLost` to a connection that lost messages, now that
    /// its queue has room (poll said so); if it does not fit either, it is
    /// tried again at the next room.
    fn notify_lost(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        if !conn.owes_notice() {
            return;
        }
        let (lost, dest) = (conn.lost, conn.unique.clone().unwrap_or_default());
        let m = zbus::Message::signal(BUS_PATH, BUS_EXT_INTERFACE, MESSAGES_LOST).sender(BUS_NAME).destination(dest.as_str()).build(&(lost,));
        let Ok(mut record) = m.map_err(io::Error::other).and_then(|m| BusMessage::encode(&m)) else { return };
        conn.lost = 0;
        if !self.send_record(id, &mut record) {
            // The notice itself counts, with the losses it was to report.
            if let Some(c) = self.conns.get_mut(&id) {
                c.lost = lost.saturating_add(1);
            }
        }
    }

    /// A unicast signal of the bus to `id` (NameAcquired, NameLost).
    fn signal_to(&mut self, id: ConnId, member: &str, name: &str) {
        let Some(dest) = self.conns.get(&id).and_then(|c| c.unique.clone()) else { return };
        let m = zbus::Message::signal(BUS_PATH, BUS_INTERFACE, member).sender(BUS_NAME).destination(dest.as_str()).build(&(name,));
        if let Ok(m) = m {
            self.send(id, &m);
        }
    }

    /// NameOwnerChanged, to every connection with a rule that matches it.
    fn owner_changed(&mut self, name: &str, old: Option<&str>, new: Option<&str>) {
        let m = zbus::Message::signal(BUS_PATH, BUS_INTERFACE, "NameOwnerChanged")
            .sender(BUS_NAME)
            .build(&(name, old.unwrap_or(""), new.unwrap_or("")));
        let Ok(m) = m else { return };
        let Ok(mut record) = BusMessage::encode(&m) else { return };
        let bm = BusMessage::from_message(m);
        let targets: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.unique.is_some() && (c.monitor || c.rules.iter().any(|r| r.matches(&bm))))
            .map(|(i, _)| *i)
            .collect();
        for t in targets {
            self.send_record(t, &mut record);
        }
    }

    /// A connection is gone: its names pass on, its unique name goes.
    fn drop_conn(&mut self, id: ConnId) {
        let Some(conn) = self.conns.remove(&id) else { return };
        let Some(unique) = conn.unique else { return };
        drop(conn.sock);
        self.hashes.remove(&unique);
        for ch in self.registry.drop_conn(id) {
            self.apply(Some(ch), None).ok();
        }
        self.owner_changed(&unique, Some(&unique), None);
    }
}
