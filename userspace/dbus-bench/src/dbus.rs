//! A D-Bus message bus daemon as a [`System`]: zbus clients on its unix
//! socket. The daemons differ only in how they are started
//! ([`crate::dbus_daemon`], [`crate::dbus_broker`]); the clients, the
//! messages and the match rules are the same.

use crate::system::{Body, Received, Rule, System, INTERFACE, METHOD, PATH, SERVER_NAME, SIGNAL};
use futures_util::StreamExt;
use std::io;
use zbus::message::Type as MsgType;
use zbus::{Connection, MessageStream};

const DBUS_NAME: &str = "org.freedesktop.DBus";
const DBUS_PATH: &str = "/org/freedesktop/DBus";

/// A running D-Bus daemon, reached at `address` by zbus clients.
pub struct DbusSystem {
    name: &'static str,
    address: String,
    pids: Vec<libc::pid_t>,
}

impl DbusSystem {
    /// The daemon `name`, listening on the D-Bus `address` (such as
    /// `unix:path=/tmp/x`), whose processes are `pids`.
    pub fn new(name: &'static str, address: String, pids: Vec<libc::pid_t>) -> DbusSystem {
        DbusSystem { name, address, pids }
    }
}

/// A zbus error as an I/O error.
pub fn io_err(e: zbus::Error) -> io::Error {
    match e {
        zbus::Error::InputOutput(e) => io::Error::new(e.kind(), e.to_string()),
        e => io::Error::other(e.to_string()),
    }
}

impl System for DbusSystem {
    type Conn = Connection;
    type Inbox = MessageStream;

    fn name(&self) -> &'static str {
        self.name
    }

    fn daemon_pids(&self) -> Vec<libc::pid_t> {
        self.pids.clone()
    }

    async fn connect(&self) -> io::Result<Connection> {
        zbus::connection::Builder::address(self.address.as_str()).build().await.map_err(io_err)
    }

    fn inbox(&self, conn: &Connection) -> MessageStream {
        MessageStream::from(conn)
    }

    async fn next(inbox: &mut MessageStream) -> io::Result<Received> {
        let msg = match inbox.next().await {
            None => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the bus closed the connection")),
            Some(m) => m.map_err(io_err)?,
        };
        let h = msg.header();
        if msg.message_type() != MsgType::Signal || h.interface().map(|i| i.as_str()) != Some(INTERFACE) {
            return Ok(Received::Other);
        }
        if h.member().map(|m| m.as_str()) != Some(SIGNAL) {
            return Ok(Received::Malformed);
        }
        Ok(match msg.body().deserialize::<Body>() {
            Ok(b) => Received::Signal(b),
            Err(_) => Received::Malformed,
        })
    }

    async fn add_match(&self, conn: &Connection, rule: &Rule) -> io::Result<()> {
        conn.call_method(Some(DBUS_NAME), DBUS_PATH, Some(DBUS_NAME), "AddMatch", &rule.dbus_string())
            .await
            .map_err(io_err)?;
        Ok(())
    }

    async fn emit(conn: &Connection, body: &Body) -> io::Result<()> {
        conn.emit_signal(None::<&str>, PATH, INTERFACE, SIGNAL, body).await.map_err(io_err)
    }

    async fn call(conn: &Connection, body: &Body) -> io::Result<Body> {
        let reply = conn.call_method(Some(SERVER_NAME), PATH, Some(INTERFACE), METHOD, body).await.map_err(io_err)?;
        reply.body().deserialize::<Body>().map_err(io_err)
    }

    async fn own_name(&self, conn: &Connection) -> io::Result<()> {
        // Flags 4: DBUS_NAME_FLAG_DO_NOT_QUEUE; reply 1: the primary owner.
        let reply = conn
            .call_method(Some(DBUS_NAME), DBUS_PATH, Some(DBUS_NAME), "RequestName", &(SERVER_NAME, 4u32))
            .await
            .map_err(io_err)?;
        match reply.body().deserialize::<u32>().map_err(io_err)? {
            1 => Ok(()),
            r => Err(io::Error::other(format!("RequestName {SERVER_NAME}: reply {r}, not the owner"))),
        }
    }

    async fn serve(conn: &Connection, inbox: &mut MessageStream) -> io::Result<()> {
        while let Some(msg) = inbox.next().await {
            let msg = msg.map_err(io_err)?;
            if msg.message_type() != MsgType::MethodCall {
                continue;
            }
            let h = msg.header();
            if h.member().map(|m| m.as_str()) != Some(METHOD) {
                continue;
            }
            let body: Body = msg.body().deserialize().map_err(io_err)?;
            conn.reply(&h, &body).await.map_err(io_err)?;
        }
        Ok(())
    }
}
