//! [`Bus`]: a blocking bus client.
//!
//! A connection is a seqpacket connection to the bus address; once the
//! daemon admitted it (it checks `SO_PEERCRED`) every message it sends goes
//! to the whole group, and the peer filter the daemon keeps on it decides
//! what it receives. The client turns on the kernel's sender ids and
//! checks, for every record it receives:
//!
//! 1. the record decodes and its routing header is the one of the D-Bus
//!    message it carries ([`BusMessage::decode`]), else it is dropped and
//!    counted as [`ClientStats::malformed`];
//! 2. the SENDER field is the unique name of the socket the kernel says
//!    sent it (`:1.<id>`), or `org.freedesktop.DBus` for what comes from
//!    the daemon's end of the connection; else it is dropped as
//!    [`ClientStats::forged`];
//! 3. a message with a destination is addressed to this connection's
//!    unique name or a name it asked for, and one without (a broadcast
//!    signal) matches one of its rules in full; else it came through the
//!    filter on a hash collision (or a key the filter does not check, such
//!    as `arg0`) and is dropped as [`ClientStats::collisions`].
//!
//! Monitors ([`Bus::become_monitor`]) skip check 3, and so do messages from
//! the daemon: they come on this connection alone (unicast), for it.
//!
//! [`Bus::connect`] says Hello and takes the `NameAcquired` signal of the
//! unique name that follows the reply; the `NameAcquired`/`NameLost`
//! signals of well-known names are delivered like any message.

use super::error::{Error, Result};
use super::header::LEN;
use super::message::BusMessage;
use super::names::{
    errors, unique_name, unique_name_id, ReleaseNameReply, RequestNameFlags, RequestNameReply, BUS_INTERFACE,
    BUS_NAME, BUS_PATH,
};
use super::rule::Rule;
use crate::{Addr, McastSeqpacket};
use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};
use zbus::message::Type;
use zbus::wire::DynamicType;

/// Receive buffer: the largest record a connection takes. Larger records
/// are dropped (counted as malformed): the kernel caps a record at the
/// sender's send buffer, which is smaller by default.
pub const MAX_RECORD: usize = 1 << 20;

/// The default timeout of a method call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(25);

/// What a connection dropped (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Records accepted and handed to the caller (or kept for it).
    pub received: u64,
    /// Records that did not decode, or whose routing header did not match
    /// their D-Bus header.
    pub malformed: u64,
    /// Messages whose SENDER is not the socket the kernel stamped.
    pub forged: u64,
    /// Messages that passed the filter on a hash but are not for us.
    pub collisions: u64,
    /// Messages the kernel dropped because our receive queue was full (on
    /// a bus whose members are admitted with `DROP_WHEN_FULL`), as of the
    /// last message received (`SO_RXQ_OVFL`).
    pub kernel_drops: u64,
}

/// A bus connection.
///
/// ```no_run
/// use mcast_unix::bus::Bus;
/// use mcast_unix::Addr;
///
/// # fn main() -> mcast_unix::bus::Result<()> {
/// let mut bus = Bus::connect(&Addr::abstract_("bus")?)?;
/// println!("I am {}", bus.unique_name());
/// bus.add_match("type='signal',interface='org.example.Clock'")?;
/// bus.emit("/org/example/Clock", "org.example.Clock", "Tick", &(1u32,))?;
/// let owner = bus.get_name_owner("org.freedesktop.DBus")?;
/// # let _ = owner;
/// let msg = bus.recv()?;
/// println!("{:?} from {:?}", msg.member(), msg.sender());
/// # Ok(())
/// # }
/// ```
pub struct Bus {
    sock: McastSeqpacket,
    unique: String,
    daemon_id: u64,
    names: BTreeSet<String>,
    rules: Vec<Rule>,
    monitor: bool,
    backlog: VecDeque<BusMessage>,
    buf: Vec<u8>,
    stats: ClientStats,
    timeout: Duration,
    /// The socket's SO_RCVTIMEO as last set (`None`: not set yet).
    rcvtimeo: Option<Option<Duration>>,
}

impl Bus {
    /// Connects to the bus at `addr` (the loaded module's family) and says
    /// Hello. A connection the policy refuses gets
    /// `org.freedesktop.DBus.Error.AccessDenied`.
    pub fn connect(addr: &Addr) -> Result<Bus> {
        Bus::connect_in(crate::family()?, addr)
    }

    /// As [`connect`](Bus::connect), with the family given.
    pub fn connect_in(family: i32, addr: &Addr) -> Result<Bus> {
        let sock = McastSeqpacket::connect_in(family, addr)?;
        sock.set_pass_sender_id(true)?;
        sock.set_recv_overflow(true)?;
        let daemon_id = sock.peer_id()?;
        let mut bus = Bus {
            sock,
            unique: String::new(),
            daemon_id,
            names: BTreeSet::new(),
            rules: Vec::new(),
            monitor: false,
            backlog: VecDeque::new(),
            buf: vec![0; MAX_RECORD],
            stats: ClientStats::default(),
            timeout: DEFAULT_TIMEOUT,
            rcvtimeo: None,
        };
        let reply = bus.call_bus("Hello", &())?;
        let (name,): (String,) = reply.body()?;
        let mine = unique_name(bus.sock.id()?);
        if name != mine {
            return Err(Error::Protocol(format!("Hello gave {name}, our socket's name is {mine}")));
        }
        bus.names.insert(name.clone());
        bus.unique = name;
        // The daemon follows its reply with NameAcquired for the unique
        // name; it belongs to Hello, so it is taken here.
        let deadline = Instant::now() + bus.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(m) = bus.recv_checked(Some(left))? else {
                return Err(Error::Protocol("no NameAcquired after Hello".into()));
            };
            let is_it = m.sender_id() == Some(bus.daemon_id)
                && m.member() == Some("NameAcquired")
                && m.arg0_str().as_deref() == Some(bus.unique.as_str());
            if is_it {
                return Ok(bus);
            }
            bus.backlog.push_back(m);
        }
    }

    /// Our unique name (`:1.<id>`).
    pub fn unique_name(&self) -> &str {
        &self.unique
    }

    /// The socket (to poll it, or to send raw records).
    pub fn socket(&self) -> &McastSeqpacket {
        &self.sock
    }

    /// The kernel id of the daemon's end of our connection: the sender id
    /// of everything the daemon sends us.
    pub fn daemon_id(&self) -> u64 {
        self.daemon_id
    }

    /// What the connection dropped so far.
    pub fn stats(&self) -> ClientStats {
        self.stats
    }

    /// Sets the timeout of method calls (default [`DEFAULT_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends `msg` as it is (its SENDER field should be
    /// [`unique_name`](Bus::unique_name): receivers drop it otherwise),
    /// with the descriptors it carries. Returns its serial.
    pub fn send_message(&self, msg: &zbus::Message) -> Result<u32> {
        let record = BusMessage::encode(msg)?;
        let fds: Vec<BorrowedFd<'_>> = BusMessage::fds_of(msg);
        self.sock.send_with_fds(&record, &fds)?;
        Ok(msg.primary_header().serial_num().get())
    }

    /// Emits a broadcast signal: it reaches the members whose match rules
    /// want it.
    ///
    /// ```no_run
    /// # fn main() -> mcast_unix::bus::Result<()> {
    /// # let bus = mcast_unix::bus::Bus::connect(&mcast_unix::Addr::abstract_("bus")?)?;
    /// bus.emit("/org/example/Clock", "org.example.Clock", "Tick", &(7u32, "seven"))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit<B>(&self, path: &str, interface: &str, member: &str, body: &B) -> Result<()>
    where
        B: serde::Serialize + DynamicType,
    {
        let msg = zbus::Message::signal(path, interface, member).sender(self.unique.as_str()).build(body)?;
        self.send_message(&msg).map(|_| ())
    }

    /// Emits a signal to one destination (a unicast signal).
    pub fn emit_to<B>(&self, destination: &str, path: &str, interface: &str, member: &str, body: &B) -> Result<()>
    where
        B: serde::Serialize + DynamicType,
    {
        let msg = zbus::Message::signal(path, interface, member)
            .sender(self.unique.as_str())
            .destination(destination)
            .build(body)?;
        self.send_message(&msg).map(|_| ())
    }

    /// Calls a method and waits for its reply (at most the
    /// [timeout](Bus::set_timeout)). An error reply is
    /// [`Error::Dbus`]. Messages that arrive meanwhile are kept for
    /// [`recv`](Bus::recv). Descriptors go in the body as [`zbus::Fd`]
    /// values (signature `h`).
    ///
    /// ```no_run
    /// # fn main() -> mcast_unix::bus::Result<()> {
    /// # let mut bus = mcast_unix::bus::Bus::connect(&mcast_unix::Addr::abstract_("bus")?)?;
    /// let reply = bus.call("org.example.Echo", "/org/example/Echo", Some("org.example.Echo"), "Echo", &("hi",))?;
    /// let (text,): (String,) = reply.body()?;
    /// # let _ = text;
    /// # Ok(())
    /// # }
    /// ```
    pub fn call<B>(
        &mut self,
        destination: &str,
        path: &str,
        interface: Option<&str>,
        member: &str,
        body: &B,
    ) -> Result<BusMessage>
    where
        B: serde::Serialize + DynamicType,
    {
        let mut b = zbus::Message::method_call(path, member).destination(destination);
        if let Some(i) = interface {
            b = b.interface(i);
        }
        if !self.unique.is_empty() {
            b = b.sender(self.unique.as_str());
        }
        let msg = b.build(body)?;
        self.call_message(&msg)
    }

    /// Sends the method call `msg` and waits for its reply, as
    /// [`call`](Bus::call).
    ///
    /// The bus has no daemon on the data path to pair replies with calls,
    /// so the library does: a reply counts only if its REPLY_SERIAL is the
    /// call's and, for a call to a unique name, its sender is that name
    /// (for `org.freedesktop.DBus`, the daemon's end of our connection). A
    /// call to a well-known name first asks the daemon for the name's owner
    /// (`GetNameOwner`; its error if the name has none) and takes the reply
    /// from that owner only, so no other connection can answer in its
    /// place (a reply from an owner that took the name over after the
    /// lookup is not taken either: the call times out).
    pub fn call_message(&mut self, msg: &zbus::Message) -> Result<BusMessage> {
        let expected_sender = match msg.header().destination().map(|d| d.as_str().to_owned()) {
            Some(d) if !d.starts_with(':') && d != BUS_NAME => Some(self.get_name_owner(&d)?),
            d => d,
        };
        let serial = self.send_message(msg)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            let Some(m) = self.recv_checked(Some(left))? else { return Err(Error::Timeout) };
            let is_reply = matches!(m.msg_type(), Type::MethodReturn | Type::Error)
                && m.reply_serial() == Some(serial)
                && expected_sender.as_deref().is_none_or(|e| m.sender() == Some(e));
            if !is_reply {
                self.backlog.push_back(m);
                continue;
            }
            if m.msg_type() == Type::Error {
                return Err(Error::Dbus {
                    name: m.error_name().unwrap_or(errors::FAILED).to_owned(),
                    message: m.arg0_str().unwrap_or_default(),
                });
            }
            return Ok(m);
        }
    }

    /// Calls a method of the daemon (`org.freedesktop.DBus`).
    pub fn call_bus<B>(&mut self, member: &str, body: &B) -> Result<BusMessage>
    where
        B: serde::Serialize + DynamicType,
    {
        self.call(BUS_NAME, BUS_PATH, Some(BUS_INTERFACE), member, body)
    }

    /// Replies to the method call `call` with `body`.
    pub fn reply<B>(&self, call: &BusMessage, body: &B) -> Result<()>
    where
        B: serde::Serialize + DynamicType,
    {
        let msg = zbus::Message::method_return(&call.message().header()).sender(self.unique.as_str()).build(body)?;
        self.send_message(&msg).map(|_| ())
    }

    /// Replies to `call` with the D-Bus error `name` and the text `message`.
    pub fn reply_error(&self, call: &BusMessage, name: &str, message: &str) -> Result<()> {
        let msg = zbus::Message::error(&call.message().header(), name).sender(self.unique.as_str()).build(&(message,))?;
        self.send_message(&msg).map(|_| ())
    }

    /// Subscribes to the broadcast signals `rule` (D-Bus match-rule syntax)
    /// matches. `MatchRuleInvalid` if it does not parse,
    /// `LimitsExceeded` if the connection has too many.
    pub fn add_match(&mut self, rule: &str) -> Result<()> {
        let parsed = Rule::parse(rule).map_err(|e| Error::Dbus { name: errors::MATCH_RULE_INVALID.into(), message: e.0 })?;
        self.call_bus("AddMatch", &(rule,))?;
        self.rules.push(parsed);
        Ok(())
    }

    /// Removes a rule added with [`add_match`](Bus::add_match) (the same
    /// rule, however written). `MatchRuleNotFound` if there is none.
    pub fn remove_match(&mut self, rule: &str) -> Result<()> {
        self.call_bus("RemoveMatch", &(rule,))?;
        if let Ok(parsed) = Rule::parse(rule) {
            if let Some(i) = self.rules.iter().position(|r| *r == parsed) {
                self.rules.remove(i);
            }
        }
        Ok(())
    }

    /// Asks for the well-known name `name` (`RequestName`).
    pub fn request_name(&mut self, name: &str, flags: RequestNameFlags) -> Result<RequestNameReply> {
        // Accepted as a destination from now on: calls to it may arrive
        // before the reply does (the daemon routes them first).
        let had = !self.names.insert(name.to_owned());
        let reply = self.call_bus("RequestName", &(name, flags.bits()));
        let code = match reply {
            Ok(r) => r.body::<(u32,)>().map(|(c,)| c).map_err(Error::from),
            Err(e) => Err(e),
        };
        let result = code.and_then(|c| {
            RequestNameReply::from_code(c).ok_or_else(|| Error::Protocol(format!("RequestName reply {c}")))
        });
        if !had && !matches!(result, Ok(RequestNameReply::PrimaryOwner | RequestNameReply::InQueue | RequestNameReply::AlreadyOwner)) {
            self.names.remove(name);
        }
        result
    }

    /// Gives up `name` or leaves its queue (`ReleaseName`).
    pub fn release_name(&mut self, name: &str) -> Result<ReleaseNameReply> {
        let (c,): (u32,) = self.call_bus("ReleaseName", &(name,))?.body()?;
        let r = ReleaseNameReply::from_code(c).ok_or_else(|| Error::Protocol(format!("ReleaseName reply {c}")))?;
        if r == ReleaseNameReply::Released {
            self.names.remove(name);
        }
        Ok(r)
    }

    /// The unique name owning `name`; `NameHasNoOwner` if none.
    pub fn get_name_owner(&mut self, name: &str) -> Result<String> {
        Ok(self.call_bus("GetNameOwner", &(name,))?.body::<(String,)>()?.0)
    }

    /// Whether `name` has an owner.
    pub fn name_has_owner(&mut self, name: &str) -> Result<bool> {
        Ok(self.call_bus("NameHasOwner", &(name,))?.body::<(bool,)>()?.0)
    }

    /// Every name on the bus (the bus's own, unique and well-known names).
    pub fn list_names(&mut self) -> Result<Vec<String>> {
        Ok(self.call_bus("ListNames", &())?.body::<(Vec<String>,)>()?.0)
    }

    /// The bus's id (32 hex digits, new for each daemon run).
    pub fn get_id(&mut self) -> Result<String> {
        Ok(self.call_bus("GetId", &())?.body::<(String,)>()?.0)
    }

    /// Turns this connection into a monitor: its filter then accepts every
    /// group message, and the daemon copies what it sends to others to it
    /// (`org.freedesktop.DBus.Monitoring.BecomeMonitor`; the policy allows
    /// it to root and the daemon's user only).
    pub fn become_monitor(&mut self) -> Result<()> {
        let msg = zbus::Message::method_call(BUS_PATH, "BecomeMonitor")
            .destination(BUS_NAME)
            .interface("org.freedesktop.DBus.Monitoring")
            .sender(self.unique.as_str())
            .build(&(Vec::<String>::new(), 0u32))?;
        self.call_message(&msg)?;
        self.monitor = true;
        Ok(())
    }

    /// The next message for us, waiting as long as it takes. A hang-up of
    /// the bus is `Io(UnexpectedEof)`.
    pub fn recv(&mut self) -> Result<BusMessage> {
        loop {
            if let Some(m) = self.recv_timeout(None)? {
                return Ok(m);
            }
        }
    }

    /// The next message for us, waiting at most `timeout` (`None`: no
    /// limit; zero: only what is queued). `Ok(None)` when the time is up.
    pub fn recv_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<BusMessage>> {
        if let Some(m) = self.backlog.pop_front() {
            return Ok(Some(m));
        }
        self.recv_checked(timeout)
    }

    /// An iterator over incoming messages ([`recv`](Bus::recv) until it
    /// fails).
    pub fn messages(&mut self) -> Messages<'_> {
        Messages { bus: self, done: false }
    }

    /// Receives records until one passes the checks, or the time is up.
    fn recv_checked(&mut self, timeout: Option<Duration>) -> Result<Option<BusMessage>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let flags = match deadline {
                None => {
                    self.set_rcvtimeo(None)?;
                    0
                }
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        libc::MSG_DONTWAIT
                    } else {
                        self.set_rcvtimeo(Some(left))?;
                        0
                    }
                }
            };
            let meta = match self.sock.recv_msg_with_flags(&mut self.buf, flags | libc::MSG_CMSG_CLOEXEC) {
                Ok(m) => m,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if deadline.is_none_or(|d| Instant::now() < d) && flags == 0 {
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if meta.len == 0 {
                return Err(Error::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "the bus hung up")));
            }
            if let Some(d) = meta.dropped {
                self.stats.kernel_drops = u64::from(d);
            }
            if meta.flags & libc::MSG_TRUNC != 0 || meta.len < LEN {
                self.stats.malformed += 1;
                continue;
            }
            let msg = match BusMessage::decode(&self.buf[..meta.len], meta.fds, meta.sender_id) {
                Ok(m) => m,
                Err(_) => {
                    self.stats.malformed += 1;
                    continue;
                }
            };
            match self.verdict(&msg) {
                Verdict::Accept => {
                    self.stats.received += 1;
                    return Ok(Some(msg));
                }
                Verdict::Forged => self.stats.forged += 1,
                Verdict::Collision => self.stats.collisions += 1,
            }
        }
    }

    /// SO_RCVTIMEO, with no system call when it is already that.
    fn set_rcvtimeo(&mut self, t: Option<Duration>) -> io::Result<()> {
        if self.rcvtimeo != Some(t) {
            self.sock.set_read_timeout(t)?;
            self.rcvtimeo = Some(t);
        }
        Ok(())
    }

    fn verdict(&self, msg: &BusMessage) -> Verdict {
        let Some(id) = msg.sender_id() else { return Verdict::Forged };
        let sender_ok = if id == self.daemon_id {
            msg.sender() == Some(BUS_NAME)
        } else {
            msg.sender().and_then(unique_name_id) == Some(id)
        };
        if !sender_ok {
            return Verdict::Forged;
        }
        // What the daemon sends comes on our own connection, for us.
        if self.monitor || id == self.daemon_id {
            return Verdict::Accept;
        }
        let ours = match msg.destination() {
            Some(d) => self.names.contains(d),
            None => msg.msg_type() == Type::Signal && self.rules.iter().any(|r| r.matches(msg)),
        };
        if ours {
            Verdict::Accept
        } else {
            Verdict::Collision
        }
    }
}

enum Verdict {
    Accept,
    Forged,
    Collision,
}

impl AsFd for Bus {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for Bus {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

/// Incoming messages of a [`Bus`] ([`Bus::messages`]): each item is a
/// [`Bus::recv`]; the iterator ends after the first error (a hang-up).
pub struct Messages<'a> {
    bus: &'a mut Bus,
    done: bool,
}

impl Iterator for Messages<'_> {
    type Item = Result<BusMessage>;

    fn next(&mut self) -> Option<Result<BusMessage>> {
        if self.done {
            return None;
        }
        let r = self.bus.recv();
        self.done = r.is_err();
        Some(r)
    }
}
