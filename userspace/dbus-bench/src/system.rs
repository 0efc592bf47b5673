//! What the benchmark needs of a bus: the trait every system under test
//! implements, and the traffic they all carry (the same interface, match
//! rules and zbus-marshalled bodies for every system).

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io;

/// Object path of the publisher's signals and of the server's method.
pub const PATH: &str = "/org/mcast/Bench";
/// The publisher's interface: what the subscribers' match rules select.
pub const INTERFACE: &str = "org.mcast.Bench";
/// The signal the publisher emits.
pub const SIGNAL: &str = "Tick";
/// An interface nobody emits on: the rules that must not match.
pub const DECOY_INTERFACE: &str = "org.mcast.Bench.Decoy";
/// The well-known name the method-call server owns.
pub const SERVER_NAME: &str = "org.mcast.Bench.Server";
/// The method the server answers (its reply carries the call's body back).
pub const METHOD: &str = "Echo";

/// What a message of the benchmark is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    /// A message of a throughput phase.
    Data = 0,
    /// A message of a latency phase (one in flight at a time).
    Latency = 1,
    /// A method call or its reply.
    Call = 2,
}

impl Kind {
    /// The kind a body's field says, if it is one.
    pub fn from_u64(v: u64) -> Option<Kind> {
        [Kind::Data, Kind::Latency, Kind::Call].into_iter().find(|k| *k as u64 == v)
    }
}

/// The body of every signal, call and reply, D-Bus signature `(tttay)`
/// marshalled by zbus: sequence number, send time (CLOCK_MONOTONIC ns),
/// [`Kind`] (a `t` so that the padding array starts 8-aligned and the body
/// has exactly the size asked for), then padding bytes.
#[derive(Serialize, Deserialize, zbus::wire::Type, Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// Sequence number: per publisher, one more for every message.
    pub seq: u64,
    /// CLOCK_MONOTONIC nanoseconds at the send.
    pub sent_ns: u64,
    /// A [`Kind`] as a number.
    pub kind: u64,
    /// Filler up to the body size.
    pub pad: serde_bytes::ByteBuf,
}

/// Bytes of a [`Body`] before the padding's elements: three `t` and the
/// array's length.
pub const BODY_FIXED: usize = 8 + 8 + 8 + 4;

impl Body {
    /// A body of exactly `size` bytes on the wire (at least [`BODY_FIXED`]).
    pub fn new(size: usize, kind: Kind) -> Body {
        Body { seq: 0, sent_ns: 0, kind: kind as u64, pad: serde_bytes::ByteBuf::from(vec![0x5a; size.saturating_sub(BODY_FIXED)]) }
    }
}

/// A match rule, given as its parts so that each system can express it its
/// own way (D-Bus: the rule string of AddMatch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The interface the signals must have.
    pub interface: &'static str,
}

impl Rule {
    /// The rule as a D-Bus match rule string.
    pub fn dbus_string(&self) -> String {
        format!("type='signal',interface='{}'", self.interface)
    }
}

/// A message a connection received.
#[derive(Debug)]
pub enum Received {
    /// A signal of the benchmark's interface and member, with its body.
    Signal(Body),
    /// A signal of the benchmark's interface whose body did not decode, or
    /// whose member was not [`SIGNAL`].
    Malformed,
    /// Anything else (say, the bus's NameAcquired): not counted.
    Other,
}

/// One bus to measure. A system connects clients; a client subscribes with
/// match rules, emits signals, calls methods and serves them. The futures
/// are `Send` so that clients run on a multi-threaded runtime.
pub trait System: Send + Sync + 'static {
    /// A client's connection.
    type Conn: Send + Sync + 'static;
    /// What a subscriber reads its messages from.
    type Inbox: Send + 'static;

    /// The system's name in the results.
    fn name(&self) -> &'static str;

    /// Processes of the system itself (the daemon), whose CPU time counts
    /// towards the total.
    fn daemon_pids(&self) -> Vec<libc::pid_t>;

    /// A new client connection, ready to send (the bus's Hello done).
    fn connect(&self) -> impl Future<Output = io::Result<Self::Conn>> + Send;

    /// Starts reading `conn`'s messages: what arrives from now on.
    fn inbox(&self, conn: &Self::Conn) -> Self::Inbox;

    /// The next message of an inbox.
    fn next(inbox: &mut Self::Inbox) -> impl Future<Output = io::Result<Received>> + Send;

    /// Asks the bus to deliver to `conn` the signals `rule` selects (it
    /// returns once the bus applies the rule).
    fn add_match(&self, conn: &Self::Conn, rule: &Rule) -> impl Future<Output = io::Result<()>> + Send;

    /// Emits the benchmark's signal on [`PATH`], [`INTERFACE`] with `body`.
    fn emit(conn: &Self::Conn, body: &Body) -> impl Future<Output = io::Result<()>> + Send;

    /// Calls [`METHOD`] at [`SERVER_NAME`] with `body` and waits for the
    /// reply's body.
    fn call(conn: &Self::Conn, body: &Body) -> impl Future<Output = io::Result<Body>> + Send;

    /// Owns [`SERVER_NAME`] on `conn`; returns once the name is owned.
    fn own_name(&self, conn: &Self::Conn) -> impl Future<Output = io::Result<()>> + Send;

    /// Answers every [`METHOD`] call arriving in `inbox` with the call's
    /// body, until the connection ends or an error.
    fn serve(conn: &Self::Conn, inbox: &mut Self::Inbox) -> impl Future<Output = io::Result<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::wire::{serialized::Context, to_bytes, LE};

    #[test]
    fn body_has_the_size_asked_for() {
        for size in [64usize, 1024] {
            let b = Body::new(size, Kind::Data);
            let bytes = to_bytes(Context::new(LE, 0), &b).unwrap();
            assert_eq!(bytes.len(), size);
        }
    }

    #[test]
    fn body_round_trips() {
        let mut b = Body::new(64, Kind::Latency);
        b.seq = 7;
        b.sent_ns = 123;
        let bytes = to_bytes(Context::new(LE, 0), &b).unwrap();
        let (d, _): (Body, _) = bytes.deserialize().unwrap();
        assert_eq!(d, b);
        assert_eq!(Kind::from_u64(d.kind), Some(Kind::Latency));
    }

    #[test]
    fn rule_string() {
        assert_eq!(Rule { interface: INTERFACE }.dbus_string(), "type='signal',interface='org.mcast.Bench'");
    }
}
