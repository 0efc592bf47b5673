//! Addresses: the `struct sockaddr_un` layout, with the socket's family in
//! `sun_family`.
//!
//! An [`Addr`] does not carry a family: the [`Socket`](crate::Socket) that
//! uses it fills in its own, so the same value works for the module's family
//! and, in host tests, for `AF_UNIX`.

use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Size of `sun_path`: the longest pathname (stored without its NUL when it
/// fills the field).
pub const SUN_PATH_LEN: usize = 108;
/// Longest abstract name (`sun_path` less its leading NUL).
pub const ABSTRACT_MAX: usize = SUN_PATH_LEN - 1;
/// Offset of `sun_path` in `struct sockaddr_un`: an addrlen of just this
/// much is an unnamed address (bind() then autobinds).
pub const PATH_OFFSET: usize = std::mem::offset_of!(libc::sockaddr_un, sun_path);

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Name {
    Unnamed,
    Path(Box<[u8]>),
    Abstract(Box<[u8]>),
}

/// A socket address: a filesystem pathname, an abstract name (its own
/// namespace, per network namespace) or unnamed.
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// let p = Addr::path("/run/bus.sock")?;
/// let a = Addr::abstract_("bus")?;
/// assert_eq!((p.to_string(), a.to_string()), ("/run/bus.sock".to_string(), "@bus".to_string()));
/// assert!(Addr::unnamed().is_unnamed());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Addr(Name);

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

impl Addr {
    /// A pathname address: non-empty, at most [`SUN_PATH_LEN`] bytes, no NUL.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let a = Addr::path("/run/bus.sock")?;
    /// assert_eq!(a.as_path(), Some(std::path::Path::new("/run/bus.sock")));
    /// assert!(Addr::path("").is_err());
    /// assert!(Addr::path("x".repeat(109)).is_err(), "longer than sun_path");
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(path: impl AsRef<Path>) -> io::Result<Addr> {
        let bytes = path.as_ref().as_os_str().as_bytes();
        if bytes.is_empty() || bytes.len() > SUN_PATH_LEN || bytes.contains(&0) {
            return Err(invalid("a socket path must be 1 to 108 bytes without NUL"));
        }
        Ok(Addr(Name::Path(bytes.into())))
    }

    /// An abstract address named by `name` (any bytes, NULs included, at
    /// most [`ABSTRACT_MAX`]; `sun_path` is a NUL followed by `name`).
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let a = Addr::abstract_(b"bus\0with a NUL")?;
    /// assert_eq!(a.as_abstract(), Some(&b"bus\0with a NUL"[..]));
    /// assert!(Addr::abstract_([b'x'; 108]).is_err(), "longer than ABSTRACT_MAX");
    /// # Ok(())
    /// # }
    /// ```
    pub fn abstract_(name: impl AsRef<[u8]>) -> io::Result<Addr> {
        let name = name.as_ref();
        if name.len() > ABSTRACT_MAX {
            return Err(invalid("an abstract name must be at most 107 bytes"));
        }
        Ok(Addr(Name::Abstract(name.into())))
    }

    /// The unnamed address: what an unbound sender shows; given to
    /// [`Socket::bind`](crate::Socket::bind) it asks for autobind.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let s = Socket::dgram_in(libc::AF_UNIX)?;
    /// s.bind(&Addr::unnamed())?; // autobind
    /// assert!(!s.local_addr()?.is_unnamed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn unnamed() -> Addr {
        Addr(Name::Unnamed)
    }

    /// The pathname, if this is a pathname address.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// assert_eq!(Addr::path("/tmp/s")?.as_path(), Some(std::path::Path::new("/tmp/s")));
    /// assert_eq!(Addr::abstract_("s")?.as_path(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_path(&self) -> Option<&Path> {
        match &self.0 {
            Name::Path(p) => Some(Path::new(std::ffi::OsStr::from_bytes(p))),
            _ => None,
        }
    }

    /// The abstract name (without the leading NUL), if this is one.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// assert_eq!(Addr::abstract_("s")?.as_abstract(), Some(&b"s"[..]));
    /// assert_eq!(Addr::unnamed().as_abstract(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_abstract(&self) -> Option<&[u8]> {
        match &self.0 {
            Name::Abstract(n) => Some(n),
            _ => None,
        }
    }

    /// Whether this is the unnamed address.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// assert!(Addr::unnamed().is_unnamed());
    /// assert!(!Addr::abstract_("")?.is_unnamed(), "an empty abstract name is a name");
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_unnamed(&self) -> bool {
        self.0 == Name::Unnamed
    }

    /// The `sockaddr_un` for `family` and its length, as bind(), connect(),
    /// sendto() and `mcast_unix_mreq` take them. A pathname shorter than
    /// `sun_path` is NUL-terminated within the length.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let (raw, len) = Addr::abstract_("bus")?.to_raw(libc::AF_UNIX as libc::sa_family_t);
    /// assert_eq!(len as usize, addr::PATH_OFFSET + 1 + 3);
    /// assert_eq!(raw.sun_path[0], 0, "an abstract name starts with a NUL");
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_raw(&self, family: libc::sa_family_t) -> (libc::sockaddr_un, libc::socklen_t) {
        let mut raw = libc::sockaddr_un { sun_family: family, sun_path: [0; SUN_PATH_LEN] };
        let (start, bytes, nul) = match &self.0 {
            Name::Unnamed => (0, &[][..], 0),
            Name::Path(p) => (0, &p[..], usize::from(p.len() < SUN_PATH_LEN)),
            Name::Abstract(n) => (1, &n[..], 0),
        };
        for (dst, &src) in raw.sun_path[start..].iter_mut().zip(bytes) {
            *dst = src as libc::c_char;
        }
        let len = PATH_OFFSET + start + bytes.len() + nul;
        // At most sizeof(sockaddr_un), 110.
        (raw, len as libc::socklen_t)
    }

    /// The address a `sockaddr_un` of length `len` holds, as accept(),
    /// recvfrom(), getsockname() and getpeername() report it (the family is
    /// not checked). A pathname ends at its first NUL.
    ///
    /// ```
    /// # use mcast_unix::*;
    /// # use std::net::Shutdown;
    /// # use std::os::fd::AsFd;
    /// # use std::time::Duration;
    /// # fn main() -> std::io::Result<()> {
    /// let a = Addr::path("/tmp/s")?;
    /// let (raw, len) = a.to_raw(libc::AF_UNIX as libc::sa_family_t);
    /// assert_eq!(Addr::from_raw(&raw, len), a);
    /// assert!(Addr::from_raw(&raw, addr::PATH_OFFSET as libc::socklen_t).is_unnamed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_raw(raw: &libc::sockaddr_un, len: libc::socklen_t) -> Addr {
        let len = (len as usize).min(std::mem::size_of::<libc::sockaddr_un>());
        let Some(path_len) = len.checked_sub(PATH_OFFSET).filter(|&n| n > 0) else {
            return Addr::unnamed();
        };
        let bytes: Vec<u8> = raw.sun_path[..path_len].iter().map(|&c| c as u8).collect();
        match bytes.split_first() {
            Some((0, name)) => Addr(Name::Abstract(name.into())),
            _ => {
                let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
                Addr(Name::Path(bytes[..end].into()))
            }
        }
    }
}

impl fmt::Display for Addr {
    /// A pathname as is, an abstract name as `@name` with non-printable
    /// bytes escaped (like `ss`), the unnamed address as `(unnamed)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Name::Unnamed => f.write_str("(unnamed)"),
            Name::Path(p) => write!(f, "{}", Path::new(std::ffi::OsStr::from_bytes(p)).display()),
            Name::Abstract(n) => write!(f, "@{}", n.escape_ascii()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAM: libc::sa_family_t = 13;

    fn round_trip(a: &Addr) -> Addr {
        let (raw, len) = a.to_raw(FAM);
        assert_eq!(raw.sun_family, FAM);
        Addr::from_raw(&raw, len)
    }

    #[test]
    fn pathname_lengths() {
        let a = Addr::path("/tmp/s").unwrap();
        let (raw, len) = a.to_raw(FAM);
        assert_eq!(len as usize, PATH_OFFSET + 6 + 1, "NUL-terminated within the length");
        assert_eq!(raw.sun_path[6], 0);
        assert_eq!(round_trip(&a), a);
        assert_eq!(a.as_path(), Some(Path::new("/tmp/s")));
        assert_eq!(a.to_string(), "/tmp/s");

        let full = Addr::path("a".repeat(SUN_PATH_LEN)).unwrap();
        let (_, len) = full.to_raw(FAM);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_un>(), "a full path is unterminated");
        assert_eq!(round_trip(&full), full);
    }

    #[test]
    fn bad_pathnames_are_refused() {
        for bad in ["", "a\0b"] {
            assert_eq!(Addr::path(bad).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        assert!(Addr::path("a".repeat(SUN_PATH_LEN + 1)).is_err());
    }

    #[test]
    fn abstract_names_keep_every_byte() {
        let a = Addr::abstract_(b"a\0b").unwrap();
        let (raw, len) = a.to_raw(FAM);
        assert_eq!(len as usize, PATH_OFFSET + 1 + 3);
        assert_eq!(raw.sun_path[..4].iter().map(|&c| c as u8).collect::<Vec<_>>(), b"\0a\0b");
        assert_eq!(round_trip(&a), a);
        assert_eq!(a.as_abstract(), Some(&b"a\0b"[..]));
        assert_eq!(a.to_string(), "@a\\x00b");

        let empty = Addr::abstract_("").unwrap();
        assert_eq!(empty.to_raw(FAM).1 as usize, PATH_OFFSET + 1);
        assert_eq!(round_trip(&empty), empty);

        let longest = Addr::abstract_([7u8; ABSTRACT_MAX]).unwrap();
        assert_eq!(round_trip(&longest), longest);
        assert!(Addr::abstract_([7u8; ABSTRACT_MAX + 1]).is_err());
    }

    #[test]
    fn unnamed_is_just_the_family() {
        let a = Addr::unnamed();
        assert_eq!(a.to_raw(FAM).1 as usize, PATH_OFFSET);
        assert!(round_trip(&a).is_unnamed());
        let (raw, _) = Addr::path("/x").unwrap().to_raw(FAM);
        assert!(Addr::from_raw(&raw, 0).is_unnamed());
        assert_eq!(a.to_string(), "(unnamed)");
    }

    #[test]
    fn reported_pathname_stops_at_nul() {
        let (raw, _) = Addr::path("/tmp/s").unwrap().to_raw(FAM);
        // A kernel may report the whole sockaddr.
        let a = Addr::from_raw(&raw, std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t);
        assert_eq!(a.as_path(), Some(Path::new("/tmp/s")));
        // An oversized length is capped.
        assert_eq!(Addr::from_raw(&raw, 4096), a);
    }
}
