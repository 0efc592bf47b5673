// SPDX-License-Identifier: GPL-2.0

//! What a socket of the family is: its type and the rules for creating it.
//!
//! Only datagram and seqpacket sockets exist (multicast on a byte stream has
//! no message boundaries to deliver whole). Unlike AF_UNIX, which accepts
//! `protocol == PF_UNIX` and turns SOCK_RAW into SOCK_DGRAM, the family takes
//! protocol 0 only and refuses every other type.

use crate::sys::errno::{Errno, KResult};

/// `SOCK_DGRAM` from `linux/net.h`.
pub(crate) const SOCK_DGRAM: i32 = 2;
/// `SOCK_SEQPACKET` from `linux/net.h`.
pub(crate) const SOCK_SEQPACKET: i32 = 5;

/// The two socket types of the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SockType {
    Dgram,
    Seqpacket,
}

impl SockType {
    /// Checks a `socket(2)` request: `ty` is the type without SOCK_NONBLOCK
    /// and SOCK_CLOEXEC (the socket layer strips them), `protocol` as passed.
    ///
    /// The protocol is checked first, like AF_UNIX does.
    pub(crate) fn for_create(ty: i32, protocol: i32) -> KResult<SockType> {
        if protocol != 0 {
            return Err(Errno::EPROTONOSUPPORT);
        }
        match ty {
            SOCK_DGRAM => Ok(SockType::Dgram),
            SOCK_SEQPACKET => Ok(SockType::Seqpacket),
            _ => Err(Errno::ESOCKTNOSUPPORT),
        }
    }
}

/// The family's per-socket state, kept next to the `struct sock`.
pub(crate) struct SockState {
    /// Fixed at creation.
    #[allow(dead_code)] // read once the type-specific operations land
    pub(crate) ty: SockType,
}

impl SockState {
    pub(crate) fn new(ty: SockType) -> Self {
        SockState { ty }
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::kcheck_eq;

    pub(crate) fn create_accepts_dgram_and_seqpacket() -> CaseResult {
        kcheck_eq!(SockType::for_create(SOCK_DGRAM, 0), Ok(SockType::Dgram));
        kcheck_eq!(SockType::for_create(SOCK_SEQPACKET, 0), Ok(SockType::Seqpacket));
        Ok(())
    }

    pub(crate) fn create_refuses_other_types() -> CaseResult {
        for ty in [1 /* STREAM */, 3 /* RAW */, 4 /* RDM */, 6 /* DCCP */, 10, -1] {
            kcheck_eq!(SockType::for_create(ty, 0), Err(Errno::ESOCKTNOSUPPORT));
        }
        Ok(())
    }

    pub(crate) fn create_refuses_protocols() -> CaseResult {
        // Protocol is checked before the type, as AF_UNIX does.
        kcheck_eq!(SockType::for_create(SOCK_DGRAM, 1), Err(Errno::EPROTONOSUPPORT));
        kcheck_eq!(SockType::for_create(1, 7), Err(Errno::EPROTONOSUPPORT));
        kcheck_eq!(SockType::for_create(SOCK_SEQPACKET, -1), Err(Errno::EPROTONOSUPPORT));
        Ok(())
    }
}
