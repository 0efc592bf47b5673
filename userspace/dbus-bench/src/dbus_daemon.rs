//! dbus-daemon, the reference bus, started on a minimal configuration: one
//! unix socket, EXTERNAL authentication, everything allowed (as a bus whose
//! policy never denies; the benchmark measures delivery, not policy).

use crate::daemon::{die_with_parent, wait_for_socket, Daemon};
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

/// The configuration file for a bus listening on `socket`.
pub fn config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

/// Starts `binary` (dbus-daemon) with its configuration and socket in
/// `dir`; returns once the socket accepts connections.
pub fn start(binary: &str, dir: &Path) -> io::Result<Daemon> {
    let socket = dir.join("dbus-daemon.sock");
    let conf = dir.join("dbus-daemon.conf");
    std::fs::write(&conf, config(&socket))?;
    let _ = std::fs::remove_file(&socket);
    let mut cmd = Command::new(binary);
    cmd.arg(format!("--config-file={}", conf.display()))
        .args(["--nofork", "--nopidfile", "--nosyslog"])
        .stdin(Stdio::null());
    let child = die_with_parent(&mut cmd)
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("{binary}: {e}")))?;
    let mut d = Daemon::new("dbus-daemon", child, format!("unix:path={}", socket.display()));
    wait_for_socket(&mut d, &socket)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn config_names_the_socket() {
        let c = super::config(std::path::Path::new("/run/x.sock"));
        assert!(c.contains("<listen>unix:path=/run/x.sock</listen>"));
        assert!(c.contains("<auth>EXTERNAL</auth>"));
    }
}
