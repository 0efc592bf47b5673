//! [`Error`]: what a bus call can fail with.

use std::fmt;
use std::io;

/// A failed bus operation.
#[derive(Debug)]
pub enum Error {
    /// A system call failed (the connection, a send, a receive), or the
    /// bus hung up (`UnexpectedEof`).
    Io(io::Error),
    /// The peer answered with a D-Bus error.
    Dbus {
        /// The error name, e.g. `org.freedesktop.DBus.Error.NameHasNoOwner`.
        name: String,
        /// The error's message (its first string argument), if any.
        message: String,
    },
    /// Building or reading a D-Bus message failed.
    Zbus(zbus::Error),
    /// No reply came within the call's timeout.
    Timeout,
    /// The peer's answer is not what the protocol says (a reply of the
    /// wrong type, a unique name that is not ours).
    Protocol(String),
}

impl Error {
    /// The D-Bus error name, for [`Error::Dbus`]
    /// (`org.freedesktop.DBus.Error.NoReply` for [`Error::Timeout`]).
    ///
    /// ```
    /// use mcast_unix::bus::Error;
    /// let e = Error::Dbus { name: "org.example.Error.Nope".into(), message: "no".into() };
    /// assert_eq!(e.dbus_name(), Some("org.example.Error.Nope"));
    /// assert_eq!(Error::Timeout.dbus_name(), Some("org.freedesktop.DBus.Error.NoReply"));
    /// ```
    pub fn dbus_name(&self) -> Option<&str> {
        match self {
            Error::Dbus { name, .. } => Some(name),
            Error::Timeout => Some(super::names::errors::NO_REPLY),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Dbus { name, message } if message.is_empty() => write!(f, "{name}"),
            Error::Dbus { name, message } => write!(f, "{name}: {message}"),
            Error::Zbus(e) => write!(f, "D-Bus message: {e}"),
            Error::Timeout => write!(f, "no reply in time"),
            Error::Protocol(what) => write!(f, "protocol error: {what}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<zbus::Error> for Error {
    fn from(e: zbus::Error) -> Error {
        Error::Zbus(e)
    }
}

/// A bus result.
pub type Result<T> = std::result::Result<T, Error>;
