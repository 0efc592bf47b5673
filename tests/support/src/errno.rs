//! Errno values, shown by name, and raw calls' results.

use std::fmt;

/// An errno value; `{:?}` shows its name (`EAGAIN`), or `errno N` for one
/// [`name`] does not know.
///
/// ```
/// use test_support::errno::Errno;
///
/// assert_eq!(format!("{:?}", Errno(libc::EAGAIN)), "EAGAIN");
/// assert_eq!(format!("{:?}", Errno(4095)), "errno 4095");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

/// A raw call's result: its value or the errno.
pub type SysResult<T> = Result<T, Errno>;

impl Errno {
    /// The calling thread's errno now (after a call that failed).
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match name(self.0) {
            Some(n) => f.write_str(n),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl From<std::io::Error> for Errno {
    /// The error's errno (0 for an error that has none).
    fn from(e: std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(0))
    }
}

/// A raw call's return value as a result: `Err` with [`Errno::last`] if it
/// is negative.
///
/// ```
/// use test_support::errno::{check, Errno};
///
/// // SAFETY: close() of a descriptor number that is not open.
/// assert_eq!(check(unsafe { libc::close(-1) } as _), Err(Errno(libc::EBADF)));
/// ```
pub fn check(ret: libc::c_long) -> SysResult<libc::c_long> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// The name of errno `e` (`"ECONNREFUSED"`), for the errnos the family's
/// calls and the tests' other calls give.
pub fn name(e: i32) -> Option<&'static str> {
    Some(match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::EDOM => "EDOM",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENODATA => "ENODATA",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETOOMANYREFS => "ETOOMANYREFS",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ECONNRESET => "ECONNRESET",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::EBADFD => "EBADFD",
        libc::EUNATCH => "EUNATCH",
        libc::ENOTUNIQ => "ENOTUNIQ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_conversions() {
        assert_eq!(name(libc::EOPNOTSUPP), Some("EOPNOTSUPP"));
        assert_eq!(name(0), None);
        assert_eq!(format!("{:?}", Errno(libc::ECONNREFUSED)), "ECONNREFUSED");
        let e = std::io::Error::from_raw_os_error(libc::EPIPE);
        assert_eq!(Errno::from(e), Errno(libc::EPIPE));
        assert_eq!(Errno::from(std::io::Error::other("no errno")), Errno(0));
        assert_eq!(check(3), Ok(3));
    }
}
