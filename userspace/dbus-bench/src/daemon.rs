//! A bus daemon the benchmark started: its process (killed when dropped)
//! and the address clients connect to.

use std::io;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a daemon may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A started daemon process.
pub struct Daemon {
    /// Its name, for messages.
    pub name: &'static str,
    child: Child,
    /// The D-Bus address of its socket.
    pub address: String,
}

impl Daemon {
    /// Wraps a spawned `child` whose socket is `address`.
    pub fn new(name: &'static str, child: Child, address: String) -> Daemon {
        Daemon { name, child, address }
    }

    /// Its process id.
    pub fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// An error if the process has exited.
    pub fn check_alive(&mut self) -> io::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(st) => Err(io::Error::other(format!("{} exited ({st})", self.name))),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `socket` accepts a connection (or the daemon dies, or
/// [`START_TIMEOUT`]).
pub fn wait_for_socket(d: &mut Daemon, socket: &Path) -> io::Result<()> {
    let t0 = Instant::now();
    loop {
        d.check_alive()?;
        if UnixStream::connect(socket).is_ok() {
            return Ok(());
        }
        if t0.elapsed() > START_TIMEOUT {
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("{} did not listen on {}", d.name, socket.display())));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Makes the process `cmd` starts get SIGKILL when the thread that starts
/// it ends (this program's main thread): a daemon must not outlive a
/// benchmark that was killed (dbus-broker does not exit on SIGTERM).
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls prctl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
