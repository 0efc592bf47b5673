// SPDX-License-Identifier: GPL-2.0

//! The state rules of listen, connect and shutdown, as af_unix.c applies
//! them: pure functions, so KUnit checks them on their own.

use crate::defs::{RCV_SHUTDOWN, SEND_SHUTDOWN, TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN};
use crate::sys::errno::{Errno, ErrnoResult};

/// listen(): a bound socket that is not connected (listening again only
/// changes the backlog).
pub(crate) fn may_listen(bound: bool, state: u8) -> ErrnoResult<()> {
    if !bound || (state != TCP_CLOSE && state != TCP_LISTEN) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// connect() of a seqpacket socket, once the listener was found.
pub(crate) fn may_connect(state: u8) -> ErrnoResult<()> {
    match state {
        TCP_CLOSE => Ok(()),
        TCP_ESTABLISHED => Err(Errno::EISCONN),
        _ => Err(Errno::EINVAL),
    }
}

/// shutdown(how): the bits for this socket and the mirror image for a
/// seqpacket peer (our SHUT_WR is its end of file).
pub(crate) fn shutdown_bits(how: i32) -> ErrnoResult<(u8, u8)> {
    // SHUT_RD 0 -> RCV_SHUTDOWN, SHUT_WR 1 -> SEND_SHUTDOWN, SHUT_RDWR 2 -> both.
    let mode = match how {
        0..=2 => (how + 1) as u8,
        _ => return Err(Errno::EINVAL),
    };
    let mut peer = 0;
    if mode & RCV_SHUTDOWN != 0 {
        peer |= SEND_SHUTDOWN;
    }
    if mode & SEND_SHUTDOWN != 0 {
        peer |= RCV_SHUTDOWN;
    }
    Ok((mode, peer))
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::kcheck_eq;

    pub(crate) fn rules_listen_and_connect() -> CaseResult {
        kcheck_eq!(may_listen(false, TCP_CLOSE), Err(Errno::EINVAL));
        kcheck_eq!(may_listen(true, TCP_CLOSE), Ok(()));
        kcheck_eq!(may_listen(true, TCP_LISTEN), Ok(()));
        kcheck_eq!(may_listen(true, TCP_ESTABLISHED), Err(Errno::EINVAL));
        kcheck_eq!(may_connect(TCP_CLOSE), Ok(()));
        kcheck_eq!(may_connect(TCP_ESTABLISHED), Err(Errno::EISCONN));
        kcheck_eq!(may_connect(TCP_LISTEN), Err(Errno::EINVAL));
        Ok(())
    }

    pub(crate) fn rules_shutdown_mirror() -> CaseResult {
        let (r, w) = (RCV_SHUTDOWN, SEND_SHUTDOWN);
        kcheck_eq!(shutdown_bits(0), Ok((r, w)));
        kcheck_eq!(shutdown_bits(1), Ok((w, r)));
        kcheck_eq!(shutdown_bits(2), Ok((r | w, r | w)));
        kcheck_eq!(shutdown_bits(3), Err(Errno::EINVAL));
        kcheck_eq!(shutdown_bits(-1), Err(Errno::EINVAL));
        Ok(())
    }

    crate::kunit_cases![
        rules_listen_and_connect,
        rules_shutdown_mirror,
    ];
}
