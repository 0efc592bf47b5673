//! Unicast behaviour, differential against AF_UNIX (contract: "Sockets and
//! addresses"). Each case runs on AF_UNIX and on the family; see diff.rs.

use crate::diff::{case, Mode};
use crate::ensure;
use crate::harness::Case;
use crate::sys;

pub fn cases(mode: Mode) -> Vec<Case> {
    vec![case(mode, "dgram: sendto a bound socket, recvfrom reports the sender", |f, o| {
        let a = f.socket(libc::SOCK_DGRAM).map_err(|e| format!("{e:?}"))?;
        let b = f.socket(libc::SOCK_DGRAM).map_err(|e| format!("{e:?}"))?;
        o.note("bind a", sys::bind(&a, &f.path("a")));
        o.note("bind b", sys::bind(&b, &f.abstract_("b")));
        o.note("sendto", sys::sendto(&b, b"hello", 0, &f.path("a")));
        let got = sys::recvfrom(&a, 64, 0);
        ensure!(matches!(&got, Ok((5, d, _)) if d == b"hello"), "recvfrom: {got:?}");
        o.note("recvfrom", got);
        Ok(())
    })]
}
