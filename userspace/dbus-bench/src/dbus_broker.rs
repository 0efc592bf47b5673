//! dbus-broker without systemd: the broker itself is only the message
//! mediator and takes every resource from a controller over a D-Bus
//! peer-to-peer connection on an inherited socket (`--controller FD`). Its
//! own launcher, dbus-broker-launch, is such a controller but expects
//! systemd (socket activation and a systemd manager on the bus); this
//! module is a minimal one instead, written with zbus: it binds the bus
//! socket and hands it over with `org.bus1.DBus.Broker.AddListener`, with a
//! policy that allows everything.

use crate::daemon::{die_with_parent, wait_for_socket, Daemon};
use crate::dbus::io_err;
use serde::Serialize;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use zbus::wire::{Fd, ObjectPath, Type};

/// A send or receive rule of the broker's policy:
/// (deny?, priority, name, path, interface, member, message type,
/// broadcast, min fds, max fds); empty strings and 0 match anything.
type Xmit = (bool, u64, String, String, String, String, u32, u32, u64, u64);

/// The rules for one uid: (connect allowed, priority), own rules
/// (allowed, priority, prefix, name), send rules, receive rules.
type Batch = (bool, u64, Vec<(bool, u64, bool, String)>, Vec<Xmit>, Vec<Xmit>);

/// The policy AddListener takes (signature
/// `(a(u(bta(btbs)a(btssssuutt)a(btssssuutt)))a(buu(…))a(ss)bs)`):
/// per-uid batches, per-gid and uid-range batches, SELinux names,
/// AppArmor on, and the bus type.
#[derive(Serialize, Type)]
struct Policy {
    uids: Vec<(u32, Batch)>,
    ranges: Vec<(bool, u32, u32, Batch)>,
    selinux: Vec<(String, String)>,
    apparmor: bool,
    bus_type: String,
}

/// Everything allowed for every uid (the fallback uid, `u32::MAX`).
fn allow_all() -> Policy {
    let any = || (true, 1u64, String::new(), String::new(), String::new(), String::new(), 0u32, 0u32, 0u64, u64::MAX);
    let batch: Batch = (true, 1, vec![(true, 1, true, String::new())], vec![any()], vec![any()]);
    Policy { uids: vec![(u32::MAX, batch)], ranges: Vec::new(), selinux: Vec::new(), apparmor: false, bus_type: "session".into() }
}

/// The machine id to advertise: /etc/machine-id, or a fixed one.
fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "6d636173745f756e69785f62656e6368".into())
}

/// A running broker and the controller connection that keeps it alive
/// (the broker exits when its controller goes away).
pub struct Broker {
    /// The broker's process and bus address.
    pub daemon: Daemon,
    _controller: zbus::Connection,
}

/// Starts `binary` (dbus-broker) with its bus socket in `dir`; returns once
/// the socket accepts connections.
pub async fn start(binary: &str, dir: &Path) -> io::Result<Broker> {
    let socket = dir.join("dbus-broker.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)?;
    // The broker accepts until EAGAIN: a blocking listener would stall it.
    listener.set_nonblocking(true)?;
    let (ours, theirs) = UnixStream::pair()?;
    let fd = theirs.as_raw_fd();
    let mut cmd = Command::new(binary);
    cmd.args(["--controller", "3", "--machine-id", &machine_id()]).stdin(Stdio::null());
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls dup2 (which clears FD_CLOEXEC), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || if libc::dup2(fd, 3) < 0 { Err(io::Error::last_os_error()) } else { Ok(()) });
    }
    let child = die_with_parent(&mut cmd).spawn().map_err(|e| io::Error::new(e.kind(), format!("{binary}: {e}")))?;
    drop(theirs);
    let mut daemon = Daemon::new("dbus-broker", child, format!("unix:path={}", socket.display()));
    let controller = zbus::connection::Builder::unix_stream(ours).p2p().build().await.map_err(io_err)?;
    let path = ObjectPath::try_from("/org/bus1/DBus/Listener/0").map_err(io_err)?;
    let policy = allow_all();
    controller
        .call_method(
            None::<&str>,
            "/org/bus1/DBus/Broker",
            Some("org.bus1.DBus.Broker"),
            "AddListener",
            &(path, Fd::from(&listener), zbus::as_variant::Serialize(&policy)),
        )
        .await
        .map_err(|e| io::Error::other(format!("dbus-broker AddListener: {e}")))?;
    // The broker holds its own copy of the listening socket now.
    drop(listener);
    wait_for_socket(&mut daemon, &socket)?;
    Ok(Broker { daemon, _controller: controller })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_signature_is_the_brokers() {
        assert_eq!(
            Policy::SIGNATURE.to_string(),
            "(a(u(bta(btbs)a(btssssuutt)a(btssssuutt)))a(buu(bta(btbs)a(btssssuutt)a(btssssuutt)))a(ss)bs)"
        );
    }

    #[test]
    fn machine_id_is_32_hex_digits() {
        let id = machine_id();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
