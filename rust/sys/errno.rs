// SPDX-License-Identifier: GPL-2.0

//! Errno values for the family's domain code.
//!
//! The 6.12 `kernel::error::code` module lacks the networking errnos, so the
//! family uses its own small error type: a positive errno taken from the
//! generated bindings, convertible from `kernel::error::Error` (allocation
//! failures) and into the negative return value of an entry point.

use super::bindings as b;
use kernel::ffi::c_int;

/// A positive errno value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Errno(i32);

/// Result of the family's operations: a value or a positive errno (not the
/// kernel crate's `Result`, whose error is `kernel::error::Error`).
pub(crate) type ErrnoResult<T> = core::result::Result<T, Errno>;

/// A kernel return value (0 or `-errno`) as a result.
pub(crate) fn to_result(ret: c_int) -> ErrnoResult<()> {
    if ret < 0 {
        Err(Errno(-ret))
    } else {
        Ok(())
    }
}

macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        #[allow(dead_code)] // the full set, whether or not used yet
        impl Errno {
            $(pub(crate) const $name: Errno = Errno(b::$name as i32);)*
        }
    };
}

errnos!(
    EPERM, ENOENT, ESRCH, EINTR, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST, ENOTDIR, EINVAL,
    ENOSPC, EPIPE, ENAMETOOLONG, ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTOTYPE, ENOPROTOOPT,
    EPROTONOSUPPORT, ESOCKTNOSUPPORT, EOPNOTSUPP, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENOBUFS,
    EISCONN, ENOTCONN, ECONNREFUSED, ECONNRESET, EALREADY, ERESTARTSYS, ENOIOCTLCMD, ELOOP,
);

impl Errno {
    /// The value an entry point returns: `-errno`.
    pub(crate) fn to_ret(self) -> c_int {
        -self.0
    }

    /// The positive errno.
    pub(crate) fn value(self) -> i32 {
        self.0
    }

}

impl From<kernel::error::Error> for Errno {
    fn from(e: kernel::error::Error) -> Errno {
        Errno(-e.to_errno())
    }
}

impl From<kernel::alloc::AllocError> for Errno {
    fn from(_: kernel::alloc::AllocError) -> Errno {
        Errno::ENOMEM
    }
}
