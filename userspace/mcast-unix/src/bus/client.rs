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
//!
//! The daemon numbers what it sends on each connection (serials 1, 2, 3,
//! …, one per message it tried to send): a gap means it could not queue
//! something for us (our queue was full), counted as
//! [`ClientStats::daemon_losses`]; its `MessagesLost` signal, which says
//! so once the queue has room again, is taken by the library.
//!
//! # The owner cache
//!
//! A call to a well-known name takes its reply only from the name's owner.
//! The client keeps the owners of the names it called in an
//! [`OwnerCache`] (at most [`DEFAULT_CAPACITY`] names, see
//! [`Bus::set_owner_cache_capacity`]), each subscribed to the name's
//! `NameOwnerChanged` with its own match rule ([`OwnerCache::rule`]), so
//! that only the first call to a name asks the daemon (`AddMatch` and
//! `GetNameOwner`, in one round trip). Before a call to a well-known name
//! the client reads what is queued at its socket (so the cache has every
//! change the daemon sent before the call), then:
//!
//! - a cached owner is used as it is;
//! - an unknown one (first call, the name had no owner, or the cache was
//!   flushed) is asked for (`GetNameOwner`; `NameHasNoOwner` if none);
//! - a gap in the daemon's serials (a signal may be lost) flushes the
//!   cache: every owner is asked for again, and a call waiting for its
//!   reply asks for its name's owner at once.
//!
//! The reply is taken from the owner the call was sent to, or from an
//! owner the bus names (`NameOwnerChanged`, `GetNameOwner`) while the
//! call waits (the call may have been routed to it), and from nobody else.
//! A call whose owner leaves or never answers waits for its timeout
//! ([`Error::Timeout`]); the cache has the change by then, so the next
//! call goes to the new owner. The library's own `NameOwnerChanged` signals
//! are not handed to the application unless one of its rules asks for
//! them. Should the application's `AddMatch` hit the daemon's limit of
//! rules, the least recently used cached name gives its rule up and the
//! rule is tried once more.

use super::error::{Error, Result};
use super::header::LEN;
use super::message::BusMessage;
use super::message::next_serial;
use super::names::{
    errors, unique_name, unique_name_id, ReleaseNameReply, RequestNameFlags, RequestNameReply, BUS_EXT_INTERFACE,
    BUS_INTERFACE, BUS_NAME, BUS_PATH, MESSAGES_LOST,
};
use super::owners::OwnerCache;
pub use super::owners::DEFAULT_CAPACITY;
use super::rule::Rule;
use crate::{Addr, McastSeqpacket};
use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};
use zbus::message::{Flags, Type};
use zbus::wire::DynamicType;

/// Receive buffer: the largest record a connection takes. Larger records
/// are dropped (counted as malformed): the kernel caps a record at the
/// sender's send buffer, which is smaller by default.
pub const MAX_RECORD: usize = 1 << 20;

/// The default timeout of a method call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(25);

/// How many queued records a call to a well-known name reads before it
/// trusts the owner cache; past that (a flood) it asks the daemon.
const CATCH_UP: usize = 1024;

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
    /// Messages the daemon could not queue for us (gaps in the serials of
    /// its messages); each gap flushed the owner cache.
    pub daemon_losses: u64,
    /// Owners of well-known names asked of the daemon (`GetNameOwner`) for
    /// calls.
    pub owner_lookups: u64,
    /// Calls to well-known names sent to a cached owner, without asking.
    pub owner_cache_hits: u64,
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
    /// The serial of the daemon's last message to us.
    daemon_serial: u32,
    owners: OwnerCache,
    /// The call to a well-known name waiting for its reply.
    waiting: Option<Waiting>,
    /// Our `GetNameOwner` calls made while a call waited, by serial: their
    /// replies feed the cache whenever they come.
    lookups: VecDeque<(u32, String)>,
}

/// A call to a well-known name waiting for its reply: who may send it.
struct Waiting {
    name: String,
    /// The owner it was sent to, then every owner the bus named since.
    owners: Vec<String>,
    /// An owner was added since the held replies were last looked at.
    grown: bool,
    /// The daemon lost a message to us since the call was sent: the
    /// owner is to be asked for.
    stale: bool,
    /// A `GetNameOwner` of the name is under way.
    asking: bool,
}

/// At most this many `GetNameOwner` calls of waiting calls are followed.
const MAX_LOOKUPS: usize = 16;

/// What one received record was.
enum Got {
    /// A message for the application.
    Message(BusMessage),
    /// Taken by the library, or dropped (and counted).
    Taken,
    /// Nothing came in time.
    Nothing,
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
            daemon_serial: 0,
            owners: OwnerCache::default(),
            waiting: None,
            lookups: VecDeque::new(),
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

    /// Sets how many well-known names the [owner cache](self#the-owner-cache)
    /// holds (default [`DEFAULT_CAPACITY`]; 0: none, every call to a
    /// well-known name asks the daemon for its owner). The names past it
    /// give up their rules.
    pub fn set_owner_cache_capacity(&mut self, capacity: usize) -> Result<()> {
        for name in self.owners.set_capacity(capacity) {
            self.unsubscribe(&name)?;
        }
        Ok(())
    }

    /// The owner cache, as it is.
    pub fn owner_cache(&self) -> &OwnerCache {
        &self.owners
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
    /// call's and its sender is the call's destination: for a unique name,
    /// that name; for `org.freedesktop.DBus`, the daemon's end of our
    /// connection; for a well-known name, its owner, from the owner cache
    /// or asked of the daemon (`GetNameOwner`; its error if the name has
    /// none), or an owner the bus names while the call waits (see [the
    /// owner cache](self#the-owner-cache)). No other connection can answer
    /// in its place.
    pub fn call_message(&mut self, msg: &zbus::Message) -> Result<BusMessage> {
        let deadline = Instant::now() + self.timeout;
        match msg.header().destination().map(|d| d.as_str().to_owned()) {
            Some(d) if !d.starts_with(':') && d != BUS_NAME => self.call_well_known(msg, d, deadline),
            d => {
                let serial = self.send_message(msg)?;
                self.wait_reply(serial, d.as_deref(), deadline)
            }
        }
    }

    /// A call to the well-known name `name`: to its cached owner if the
    /// cache has it once read up to date, else to the owner the daemon
    /// names.
    fn call_well_known(&mut self, msg: &zbus::Message, name: String, deadline: Instant) -> Result<BusMessage> {
        let caching = !self.monitor && self.owners.capacity() > 0;
        // What is queued holds the changes the daemon sent before now.
        let cached = if caching && self.catch_up()? { self.owners.owner(&name).map(str::to_owned) } else { None };
        let owner = match cached {
            Some(o) => {
                self.stats.owner_cache_hits += 1;
                o
            }
            None => self.look_up_owner(&name, caching, deadline)?,
        };
        let serial = self.send_message(msg)?;
        self.waiting = Some(Waiting { name, owners: vec![owner], grown: false, stale: false, asking: false });
        let r = self.wait_owner_reply(serial, deadline);
        self.waiting = None;
        r
    }

    /// Reads what is queued at the socket (at most [`CATCH_UP`] records;
    /// the application's messages are kept for [`recv`](Bus::recv)), so
    /// that the owner cache has every change the daemon sent so far.
    /// Whether the queue was emptied.
    fn catch_up(&mut self) -> Result<bool> {
        for _ in 0..CATCH_UP {
            match self.recv_one(Some(Instant::now()))? {
                Got::Message(m) => self.backlog.push_back(m),
                Got::Taken => {}
                Got::Nothing => return Ok(true),
            }
        }
        Ok(false)
    }

    /// Asks the daemon for `name`'s owner (`GetNameOwner`). With
    /// `subscribe`, the cache first subscribes to the name's changes
    /// (`AddMatch`, sent with it: one round trip), unless it is already,
    /// and keeps the answer; a subscription the daemon refuses leaves the
    /// name uncached (`LimitsExceeded`: the least recently used name gives
    /// up its rule, for the next time).
    fn look_up_owner(&mut self, name: &str, subscribe: bool, deadline: Instant) -> Result<String> {
        self.stats.owner_lookups += 1;
        let add = if subscribe && !self.owners.contains(name) {
            if self.owners.len() >= self.owners.capacity() {
                if let Some(old) = self.owners.pop_oldest() {
                    self.unsubscribe(&old)?;
                }
            }
            Some(self.send_bus("AddMatch", &(OwnerCache::rule(name),), false)?)
        } else {
            None
        };
        // Sent after the AddMatch: a change after its answer is signalled.
        let get = self.send_bus("GetNameOwner", &(name,), false)?;
        if let Some(add) = add {
            match self.wait_reply(add, Some(BUS_NAME), deadline) {
                Ok(_) => {
                    if let Some(old) = self.owners.subscribe(name) {
                        self.unsubscribe(&old)?;
                    }
                }
                Err(Error::Dbus { name: e, .. }) => {
                    if e == errors::LIMITS_EXCEEDED {
                        if let Some(old) = self.owners.pop_oldest() {
                            self.unsubscribe(&old)?;
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let (owner,): (String,) = self.wait_reply(get, Some(BUS_NAME), deadline)?.body()?;
        // Newer than every signal before it; later ones follow it.
        self.owners.set_owner(name, Some(owner.clone()));
        Ok(owner)
    }

    /// Removes the cache's rule for `name` (no reply asked: nothing waits
    /// for it, and a refusal would change nothing).
    fn unsubscribe(&mut self, name: &str) -> Result<()> {
        self.send_bus("RemoveMatch", &(OwnerCache::rule(name),), true).map(|_| ())
    }

    /// Sends a call of the daemon's interface; its serial.
    fn send_bus<B>(&self, member: &str, body: &B, no_reply: bool) -> Result<u32>
    where
        B: serde::Serialize + DynamicType,
    {
        let mut b = zbus::Message::method_call(BUS_PATH, member).destination(BUS_NAME).interface(BUS_INTERFACE);
        if !self.unique.is_empty() {
            b = b.sender(self.unique.as_str());
        }
        if no_reply {
            b = b.with_flags(Flags::NO_REPLY_EXPECTED);
        }
        self.send_message(&b.build(body)?)
    }

    /// Waits for the reply to our call `serial` from `from` (`None`: from
    /// anyone); what else arrives is kept for [`recv`](Bus::recv).
    fn wait_reply(&mut self, serial: u32, from: Option<&str>, deadline: Instant) -> Result<BusMessage> {
        loop {
            if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
            match self.recv_one(Some(deadline))? {
                Got::Nothing => return Err(Error::Timeout),
                Got::Taken => {}
                Got::Message(m) => {
                    if is_reply_to(&m, serial) && from.is_none_or(|f| m.sender() == Some(f)) {
                        return reply_result(m);
                    }
                    self.backlog.push_back(m);
                }
            }
        }
    }

    /// Waits for the reply to our call `serial` to the well-known name of
    /// `self.waiting`, from one of its owners; replies from others are kept
    /// for [`recv`](Bus::recv) and taken after all should the bus name their
    /// sender an owner meanwhile. A loss (the cache flushed) asks for the
    /// owner at once.
    fn wait_owner_reply(&mut self, serial: u32, deadline: Instant) -> Result<BusMessage> {
        loop {
            if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
            let got = self.recv_one(Some(deadline))?;
            let w = self.waiting.as_mut().expect("a call to a well-known name waits");
            match got {
                Got::Nothing => return Err(Error::Timeout),
                Got::Taken => {}
                Got::Message(m) if is_reply_to(&m, serial) && m.sender().is_some_and(|s| w.owners.iter().any(|o| o == s)) => {
                    return reply_result(m);
                }
                Got::Message(m) => self.backlog.push_back(m),
            }
            if w.stale && !w.asking {
                w.stale = false;
                w.asking = true;
                let name = w.name.clone();
                self.stats.owner_lookups += 1;
                let l = self.send_bus("GetNameOwner", &(name.as_str(),), false)?;
                if self.lookups.len() >= MAX_LOOKUPS {
                    self.lookups.pop_front();
                }
                self.lookups.push_back((l, name));
            }
            let w = self.waiting.as_mut().expect("still waiting");
            if w.grown {
                w.grown = false;
                let owners = &w.owners;
                let held = self.backlog.iter().position(|m| is_reply_to(m, serial) && m.sender().is_some_and(|s| owners.iter().any(|o| o == s)));
                if let Some(m) = held.and_then(|i| self.backlog.remove(i)) {
                    return reply_result(m);
                }
            }
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
    /// `LimitsExceeded` if the connection has too many (after the owner
    /// cache's least recently used name gave up its rule, if it had one).
    pub fn add_match(&mut self, rule: &str) -> Result<()> {
        let parsed = Rule::parse(rule).map_err(|e| Error::Dbus { name: errors::MATCH_RULE_INVALID.into(), message: e.0 })?;
        match self.call_bus("AddMatch", &(rule,)) {
            Err(e) if e.dbus_name() == Some(errors::LIMITS_EXCEEDED) && !self.owners.is_empty() => {
                // The cache's rules give way to the application's.
                if let Some(old) = self.owners.pop_oldest() {
                    self.unsubscribe(&old)?;
                }
                self.call_bus("AddMatch", &(rule,))?;
            }
            r => {
                r?;
            }
        }
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
            } else {
                // The owner cache's rule went: the name is no longer
                // followed, so no longer cached.
                let theirs = self.owners.names().find(|n| Rule::parse(&OwnerCache::rule(n)).is_ok_and(|r| r == parsed)).map(str::to_owned);
                if let Some(name) = theirs {
                    self.owners.remove(&name);
                }
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
        // A monitor's calls ask for owners each time.
        self.owners.clear();
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

    /// Receives records until one is for the application, or the time is
    /// up.
    fn recv_checked(&mut self, timeout: Option<Duration>) -> Result<Option<BusMessage>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            match self.recv_one(deadline)? {
                Got::Message(m) => return Ok(Some(m)),
                Got::Taken => {}
                Got::Nothing => return Ok(None),
            }
        }
    }

    /// Receives one record, waiting until `deadline` (`None`: no limit; a
    /// deadline passed: only what is queued), and checks it.
    fn recv_one(&mut self, deadline: Option<Instant>) -> Result<Got> {
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
                    return Ok(Got::Nothing);
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
                return Ok(Got::Taken);
            }
            let msg = match BusMessage::decode(&self.buf[..meta.len], meta.fds, meta.sender_id) {
                Ok(m) => m,
                Err(_) => {
                    self.stats.malformed += 1;
                    return Ok(Got::Taken);
                }
            };
            match self.verdict(&msg) {
                Verdict::Accept => {}
                Verdict::Daemon => {
                    if !self.check_daemon_message(&msg) {
                        return Ok(Got::Taken);
                    }
                }
                Verdict::Forged => {
                    self.stats.forged += 1;
                    return Ok(Got::Taken);
                }
                Verdict::Collision => {
                    self.stats.collisions += 1;
                    return Ok(Got::Taken);
                }
            }
            self.stats.received += 1;
            return Ok(Got::Message(msg));
        }
    }

    /// A message of the daemon: a gap in its serials flushes the owner
    /// cache, a `NameOwnerChanged` updates it. Whether it is for the
    /// application (the bus's broadcast signals only if one of its rules
    /// asks for them; `MessagesLost` never).
    fn check_daemon_message(&mut self, msg: &BusMessage) -> bool {
        let expected = next_serial(self.daemon_serial).get();
        if msg.serial() != expected {
            // What it could not queue for us may have been a change of an
            // owner we cache.
            self.stats.daemon_losses += u64::from(msg.serial().wrapping_sub(expected)).max(1);
            self.owners.flush();
            if let Some(w) = self.waiting.as_mut() {
                w.stale = true;
            }
        }
        self.daemon_serial = msg.serial();
        if let Some(i) = msg.reply_serial().and_then(|r| self.lookups.iter().position(|(l, _)| *l == r)) {
            // A waiting call's GetNameOwner: newer than any loss before it.
            let (_, name) = self.lookups.remove(i).expect("found");
            let owner = match (msg.msg_type(), msg.body::<(String,)>()) {
                (Type::MethodReturn, Ok((owner,))) => Some(owner),
                _ => None,
            };
            self.owners.set_owner(&name, owner.clone());
            if let Some(w) = self.waiting.as_mut().filter(|w| w.name == name) {
                w.asking = false;
                w.stale = false;
                if let Some(o) = owner.filter(|o| !w.owners.contains(o)) {
                    w.owners.push(o);
                    w.grown = true;
                }
            }
            return false;
        }
        if self.monitor || msg.msg_type() != Type::Signal {
            return true;
        }
        match (msg.destination(), msg.interface(), msg.member()) {
            (None, Some(BUS_INTERFACE), Some("NameOwnerChanged")) => {
                if let Ok((name, _, new)) = msg.body::<(String, String, String)>() {
                    self.owners.owner_changed(&name, &new);
                    if let Some(w) = self.waiting.as_mut().filter(|w| w.name == name && !new.is_empty()) {
                        if !w.owners.contains(&new) {
                            w.owners.push(new);
                            w.grown = true;
                        }
                    }
                }
            }
            (Some(_), Some(BUS_EXT_INTERFACE), Some(MESSAGES_LOST)) => return false,
            _ => {}
        }
        msg.destination().is_some() || self.rules.iter().any(|r| r.matches(msg))
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
        // What the daemon sends comes on our own connection, for us.
        if id == self.daemon_id {
            return if msg.sender() == Some(BUS_NAME) { Verdict::Daemon } else { Verdict::Forged };
        }
        if msg.sender().and_then(unique_name_id) != Some(id) {
            return Verdict::Forged;
        }
        if self.monitor {
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
    /// From the daemon (checked further by `check_daemon_message`).
    Daemon,
    Forged,
    Collision,
}

/// Whether `m` is a reply (or error) to our call `serial`.
fn is_reply_to(m: &BusMessage, serial: u32) -> bool {
    matches!(m.msg_type(), Type::MethodReturn | Type::Error) && m.reply_serial() == Some(serial)
}

/// A reply as the call's result: an error reply is [`Error::Dbus`].
fn reply_result(m: BusMessage) -> Result<BusMessage> {
    if m.msg_type() == Type::Error {
        return Err(Error::Dbus {
            name: m.error_name().unwrap_or(errors::FAILED).to_owned(),
            message: m.arg0_str().unwrap_or_default(),
        });
    }
    Ok(m)
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
