// SPDX-License-Identifier: GPL-2.0

//! Pathname sockets: the socket inode in the filesystem.

use super::bindings as b;
use super::errno::{to_result, ErrnoResult};
use super::sock::Socket;
use core::mem::MaybeUninit;

/// A held `struct path` (mount and dentry references); released on drop.
pub(crate) struct HeldPath(b::path);

// SAFETY: a struct path is two counted references, usable from any thread.
unsafe impl Send for HeldPath {}
// SAFETY: shared access only reads the pointers.
unsafe impl Sync for HeldPath {}

impl HeldPath {
    /// Creates the socket inode `name` (NUL-terminated) for `sock`, as bind()
    /// does: `EADDRINUSE` if it exists, VFS errors (ENOENT, EACCES, …) as is,
    /// and `EINVAL` (creating nothing) if the socket is `bound` already.
    pub(crate) fn mknod<S>(name: &[u8], sock: &Socket<S>, bound: bool) -> ErrnoResult<HeldPath> {
        debug_assert_eq!(name.last(), Some(&0));
        let mut path = MaybeUninit::<b::path>::zeroed();
        // SAFETY: `name` is NUL-terminated; on success the helper fills `path`
        // with counted references that this value now owns.
        let err = unsafe { b::mcast_path_mknod(name.as_ptr().cast(), sock.raw(), bound, path.as_mut_ptr()) };
        to_result(err)?;
        // SAFETY: filled in by the helper on success.
        Ok(HeldPath(unsafe { path.assume_init() }))
    }

    /// Looks up the socket inode `name` for connect/sendto: needs write
    /// permission (`EACCES`), `ENOENT` if missing, `ECONNREFUSED` if it is not
    /// a socket. Returns the held path and the inode's key.
    pub(crate) fn lookup(name: &[u8]) -> ErrnoResult<(HeldPath, usize)> {
        debug_assert_eq!(name.last(), Some(&0));
        let mut path = MaybeUninit::<b::path>::zeroed();
        let mut key = 0;
        // SAFETY: as in `mknod`.
        let err = unsafe { b::mcast_path_lookup(name.as_ptr().cast(), path.as_mut_ptr(), &mut key) };
        to_result(err)?;
        // SAFETY: filled in by the helper on success.
        Ok((HeldPath(unsafe { path.assume_init() }), key))
    }

    /// Identifies the inode (the key of the pathname table).
    pub(crate) fn key(&self) -> usize {
        // SAFETY: we hold the dentry, so its inode is live.
        unsafe { b::mcast_path_key(&self.0) as usize }
    }
}

impl Drop for HeldPath {
    fn drop(&mut self) {
        // SAFETY: we own the references.
        unsafe { b::path_put(&self.0) };
    }
}
