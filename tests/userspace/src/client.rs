//! Conveniences over the client library (`mcast_unix`) for the cases: each
//! is one library call, with the result as a [`SysResult`] so cases compare
//! errnos, and received data as a `Vec`.

use crate::sys::{IntoSys, SysResult};
use mcast_unix::Socket;

/// recv() with `flags` into a buffer of `cap` bytes: the bytes received.
pub fn recv(s: &Socket, cap: usize, flags: i32) -> SysResult<Vec<u8>> {
    let mut buf = vec![0u8; cap];
    let n = s.recv_with_flags(&mut buf, flags).sys()?;
    buf.truncate(n.min(cap));
    Ok(buf)
}
