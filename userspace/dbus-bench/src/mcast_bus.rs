//! The project's bus as a [`System`]: the bus daemon (`mcastctl bus`, a
//! process of its own like the D-Bus daemons, in its lossless mode
//! `--hold-senders`) owns a seqpacket group of the module's family, and the
//! clients are [`mcast_unix::bus::Bus`] connections, whose messages are
//! D-Bus messages marshalled by zbus behind a routing header; match rules
//! become the peer filters the kernel runs, so the daemon is not woken for
//! data. Subscribers and the server wait for their socket on tokio's
//! reactor ([`AsyncFd`]) and read with `MSG_DONTWAIT`, as the zbus clients
//! of the D-Bus daemons do on theirs.

use crate::daemon::{die_with_parent, Daemon};
use crate::system::{Body, Received, Rule, System, INTERFACE, METHOD, PATH, SERVER_NAME, SIGNAL};
use mcast_unix::bus::{Bus, BusMessage, RequestNameFlags, RequestNameReply};
use mcast_unix::Addr;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use zbus::message::Type as MsgType;

/// How long the daemon may take to accept its first client.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A bus error as an I/O error.
fn io_err(e: mcast_unix::bus::Error) -> io::Error {
    match e {
        mcast_unix::bus::Error::Io(e) => e,
        e => io::Error::other(e.to_string()),
    }
}

/// The project's bus at `addr` in `family`.
pub struct McastBus {
    family: i32,
    addr: Addr,
    pids: Vec<libc::pid_t>,
}

/// Starts the bus daemon `mcastctl bus` (the program at `mcastctl`) on a
/// fresh abstract address in `family`; returns once a client can connect.
pub fn start(mcastctl: &str, family: i32) -> io::Result<(Daemon, McastBus)> {
    let name = format!("mcast-dbus-bench-{}", std::process::id());
    let addr = Addr::abstract_(&name)?;
    let mut cmd = Command::new(mcastctl);
    cmd.args(["bus", "--hold-senders", "--quiet", &format!("@{name}")]).stdin(Stdio::null());
    let child = die_with_parent(&mut cmd).spawn().map_err(|e| io::Error::new(e.kind(), format!("{mcastctl}: {e}")))?;
    let mut d = Daemon::new("mcast-bus", child, format!("@{name}"));
    let t0 = Instant::now();
    loop {
        d.check_alive()?;
        match Bus::connect_in(family, &addr) {
            Ok(_) => break,
            Err(e) if t0.elapsed() > START_TIMEOUT => {
                return Err(io::Error::other(format!("the bus daemon did not admit a client: {e}")));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let pids = vec![d.pid()];
    Ok((d, McastBus { family, addr, pids }))
}

/// A client connection (shared by its inbox and the workload).
pub type Conn = Arc<Mutex<Bus>>;

fn lock(c: &Conn) -> MutexGuard<'_, Bus> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// A descriptor for [`AsyncFd`] (the [`Bus`] owns the socket).
struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A connection's incoming messages, read as its socket becomes readable.
pub struct Inbox {
    // Declared first: deregistered before the socket can close.
    ready: Option<AsyncFd<Fd>>,
    bus: Conn,
}

impl Inbox {
    /// The next message (with the client library's checks passed).
    async fn recv(&mut self) -> io::Result<BusMessage> {
        if self.ready.is_none() {
            // Registered from the task that reads, on its runtime.
            let fd = Fd(lock(&self.bus).as_raw_fd());
            // SAFETY: the descriptor is the socket of the Bus this inbox
            // holds (an Arc), which stays open while `ready` lives: `ready`
            // is dropped first, and a Bus never changes its socket.
            self.ready = Some(unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?);
        }
        let ready = self.ready.as_ref().expect("registered above");
        loop {
            let mut guard = ready.readable().await?;
            let got = guard.try_io(|_| match lock(&self.bus).recv_timeout(Some(Duration::ZERO)) {
                Ok(Some(m)) => Ok(Ok(m)),
                Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                Err(e) => Ok(Err(e)),
            });
            match got {
                Ok(Ok(Ok(m))) => return Ok(m),
                Ok(Ok(Err(e))) => return Err(io_err(e)),
                Ok(Err(e)) => return Err(e),
                // Nothing queued: readiness cleared, wait again.
                Err(_) => continue,
            }
        }
    }
}

/// `f` on the bus, off the runtime's threads (it waits for the daemon).
async fn blocking<R: Send + 'static>(
    c: &Conn,
    f: impl FnOnce(&mut Bus) -> mcast_unix::bus::Result<R> + Send + 'static,
) -> io::Result<R> {
    let c = c.clone();
    tokio::task::spawn_blocking(move || f(&mut lock(&c))).await.map_err(io::Error::other)?.map_err(io_err)
}

impl System for McastBus {
    type Conn = Conn;
    type Inbox = Inbox;

    fn name(&self) -> &'static str {
        "mcast_bus"
    }

    fn daemon_pids(&self) -> Vec<libc::pid_t> {
        self.pids.clone()
    }

    async fn connect(&self) -> io::Result<Conn> {
        let (family, addr) = (self.family, self.addr.clone());
        let bus = tokio::task::spawn_blocking(move || Bus::connect_in(family, &addr)).await.map_err(io::Error::other)?;
        Ok(Arc::new(Mutex::new(bus.map_err(io_err)?)))
    }

    fn inbox(&self, conn: &Conn) -> Inbox {
        Inbox { ready: None, bus: conn.clone() }
    }

    async fn next(inbox: &mut Inbox) -> io::Result<Received> {
        let m = inbox.recv().await?;
        if m.msg_type() != MsgType::Signal || m.interface() != Some(INTERFACE) {
            return Ok(Received::Other);
        }
        if m.member() != Some(SIGNAL) {
            return Ok(Received::Malformed);
        }
        Ok(match m.body::<Body>() {
            Ok(b) => Received::Signal(b),
            Err(_) => Received::Malformed,
        })
    }

    async fn add_match(&self, conn: &Conn, rule: &Rule) -> io::Result<()> {
        let rule = rule.dbus_string();
        blocking(conn, move |b| b.add_match(&rule)).await
    }

    async fn emit(conn: &Conn, body: &Body) -> io::Result<()> {
        lock(conn).emit(PATH, INTERFACE, SIGNAL, body).map_err(io_err)
    }

    async fn call(conn: &Conn, body: &Body) -> io::Result<Body> {
        let reply = lock(conn).call(SERVER_NAME, PATH, Some(INTERFACE), METHOD, body).map_err(io_err)?;
        reply.body::<Body>().map_err(|e| io::Error::other(e.to_string()))
    }

    async fn own_name(&self, conn: &Conn) -> io::Result<()> {
        match blocking(conn, |b| b.request_name(SERVER_NAME, RequestNameFlags::DO_NOT_QUEUE)).await? {
            RequestNameReply::PrimaryOwner => Ok(()),
            r => Err(io::Error::other(format!("RequestName {SERVER_NAME}: {r:?}, not the owner"))),
        }
    }

    async fn serve(conn: &Conn, inbox: &mut Inbox) -> io::Result<()> {
        loop {
            let m = inbox.recv().await?;
            if m.msg_type() != MsgType::MethodCall || m.member() != Some(METHOD) {
                continue;
            }
            let body: Body = m.body().map_err(|e| io::Error::other(e.to_string()))?;
            lock(conn).reply(&m, &body).map_err(io_err)?;
        }
    }
}
