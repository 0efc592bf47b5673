// SPDX-License-Identifier: GPL-2.0

//! Socket addresses: the `struct sockaddr_un` layout with the family's number.
//!
//! Parsing follows AF_UNIX exactly (same lengths, same errnos):
//! - `addrlen == sizeof(sa_family_t)` with our family asks bind() to autobind;
//! - otherwise `addrlen` must be in `3..=110` and `sun_family` ours (`EINVAL`);
//! - `sun_path[0] != 0`: a pathname, cut at the first NUL (a full 108-byte
//!   path is accepted unterminated); its stored length is `strlen + 3`;
//! - `sun_path[0] == 0`: an abstract name, all `addrlen - 2` bytes of it.

use crate::sys::bindings as b;
use crate::sys::errno::{Errno, ErrnoResult};
use core::mem::{offset_of, size_of};

/// Offset of `sun_path` in `struct sockaddr_un`.
pub(crate) const PATH_OFFSET: usize = offset_of!(b::sockaddr_un, sun_path);
/// Size of `struct sockaddr_un` (`sun_path` is the rest).
pub(crate) const SOCKADDR_MAX: usize = size_of::<b::sockaddr_un>();

/// A bound address, as getsockname() and recvmsg() report it. Ordered by
/// length, then by its bytes (what the name table sorts by): only the first
/// `len` bytes are compared, the rest are always zero.
#[derive(Clone)]
pub(crate) struct Address {
    len: u8,
    /// The whole sockaddr: family, then the path or abstract name (for a
    /// pathname, NUL-terminated within `len` when it fits).
    raw: [u8; SOCKADDR_MAX + 1],
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Address {}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.len.cmp(&other.len).then_with(|| self.as_bytes().cmp(other.as_bytes()))
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// What a caller asked for with an address argument.
#[derive(PartialEq, Eq, Debug)]
pub(crate) enum Request {
    /// bind() with only the family: pick a free abstract name.
    Autobind,
    /// A pathname or abstract address.
    Named(Kind),
}

/// The two kinds of names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Path,
    Abstract,
}

impl Address {
    /// Parses the address argument of bind() (`autobind` allowed) or of
    /// connect()/sendto() (`autobind` false). `raw` is what the caller passed,
    /// `raw.len()` its addrlen (the socket layer caps it at 128).
    pub(crate) fn parse(family: u16, raw: &[u8], autobind: bool) -> ErrnoResult<(Request, Option<Address>)> {
        let len = raw.len();
        let fam = raw.get(..PATH_OFFSET).map(|b| u16::from_ne_bytes([b[0], b[1]]));
        if autobind && len == PATH_OFFSET && fam == Some(family) {
            return Ok((Request::Autobind, None));
        }
        if len <= PATH_OFFSET || len > SOCKADDR_MAX || fam != Some(family) {
            return Err(Errno::EINVAL);
        }
        let mut a = Address { len: len as u8, raw: [0; SOCKADDR_MAX + 1] };
        a.raw[..len].copy_from_slice(raw);
        if raw[PATH_OFFSET] == 0 {
            return Ok((Request::Named(Kind::Abstract), Some(a)));
        }
        // Pathname: cut at the first NUL; `raw[len]` is 0, so a full 108-byte
        // path still ends.
        let path_len = a.raw[PATH_OFFSET..=len].iter().position(|&c| c == 0).unwrap_or(len - PATH_OFFSET);
        a.len = (PATH_OFFSET + path_len + 1) as u8;
        a.raw[PATH_OFFSET + path_len..].fill(0);
        Ok((Request::Named(Kind::Path), Some(a)))
    }

    /// The autobind name `\0xxxxx` (five hex digits of `n`).
    pub(crate) fn autobind(family: u16, n: u32) -> Address {
        let mut a = Address { len: (PATH_OFFSET + 6) as u8, raw: [0; SOCKADDR_MAX + 1] };
        a.raw[..2].copy_from_slice(&family.to_ne_bytes());
        for i in 0..5 {
            let digit = ((n >> (4 * (4 - i))) & 0xf) as u8;
            a.raw[PATH_OFFSET + 1 + i] = if digit < 10 { b'0' + digit } else { b'a' + digit - 10 };
        }
        a
    }

    /// The sockaddr bytes to report (family included).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.raw[..self.len as usize]
    }

    pub(crate) fn kind(&self) -> Kind {
        if self.raw[PATH_OFFSET] == 0 {
            Kind::Abstract
        } else {
            Kind::Path
        }
    }

    /// The pathname, NUL-terminated (for the VFS); only for `Kind::Path`.
    pub(crate) fn path_cstr(&self) -> &[u8] {
        let end = self.raw[PATH_OFFSET..].iter().position(|&c| c == 0).unwrap_or(SOCKADDR_MAX - PATH_OFFSET);
        &self.raw[PATH_OFFSET..=PATH_OFFSET + end]
    }

    /// The abstract name or path bytes (without the family), for display.
    pub(crate) fn name(&self) -> &[u8] {
        &self.raw[PATH_OFFSET..self.len as usize]
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::kunit::CaseResult;
    use crate::{kcheck, kcheck_eq};

    const FAM: u16 = 13;

    fn sockaddr(family: u16, path: &[u8]) -> ([u8; 111], usize) {
        let mut raw = [0u8; 111];
        raw[..2].copy_from_slice(&family.to_ne_bytes());
        raw[2..2 + path.len()].copy_from_slice(path);
        (raw, 2 + path.len())
    }

    pub(crate) fn address_lengths_and_family() -> CaseResult {
        let (raw, _) = sockaddr(FAM, b"/x\0");
        kcheck!(Address::parse(FAM, &raw[..0], true).is_err());
        kcheck!(Address::parse(FAM, &raw[..1], false) == Err(Errno::EINVAL));
        // Only bind() autobinds; connect() with just the family is EINVAL.
        kcheck!(matches!(Address::parse(FAM, &raw[..2], true), Ok((Request::Autobind, None))));
        kcheck!(Address::parse(FAM, &raw[..2], false).err() == Some(Errno::EINVAL));
        kcheck!(Address::parse(FAM, &raw[..111], false).err() == Some(Errno::EINVAL));
        let (other, n) = sockaddr(1, b"/x\0");
        kcheck!(Address::parse(FAM, &other[..n], false).err() == Some(Errno::EINVAL));
        kcheck!(Address::parse(FAM, &other[..2], true).err() == Some(Errno::EINVAL));
        Ok(())
    }

    pub(crate) fn address_pathname_is_cut_at_nul() -> CaseResult {
        let (raw, _) = sockaddr(FAM, b"/tmp/s\0garbage");
        let (req, a) = Address::parse(FAM, &raw[..20], false).map_err(|_| crate::kfail!("parse failed"))?;
        kcheck_eq!(req, Request::Named(Kind::Path));
        let a = a.ok_or(crate::kfail!("parse failed"))?;
        kcheck_eq!(a.as_bytes().len(), 2 + 6 + 1);
        kcheck_eq!(a.path_cstr(), b"/tmp/s\0");
        kcheck_eq!(a.kind(), Kind::Path);
        Ok(())
    }

    pub(crate) fn address_full_length_path_unterminated() -> CaseResult {
        let (raw, _) = sockaddr(FAM, &[b'a'; 108]);
        let (_, a) = Address::parse(FAM, &raw[..110], false).map_err(|_| crate::kfail!("parse failed"))?;
        let a = a.ok_or(crate::kfail!("parse failed"))?;
        kcheck_eq!(a.as_bytes().len(), 111);
        kcheck_eq!(a.path_cstr().len(), 109);
        Ok(())
    }

    pub(crate) fn address_abstract_keeps_every_byte() -> CaseResult {
        let (raw, n) = sockaddr(FAM, b"\0a\0b");
        let (req, a) = Address::parse(FAM, &raw[..n], false).map_err(|_| crate::kfail!("parse failed"))?;
        kcheck_eq!(req, Request::Named(Kind::Abstract));
        let a = a.ok_or(crate::kfail!("parse failed"))?;
        kcheck_eq!(a.as_bytes().len(), 6);
        kcheck_eq!(a.name(), b"\0a\0b");
        // Names differing only after a NUL are different addresses.
        let (raw2, n2) = sockaddr(FAM, b"\0a\0c");
        let (_, b) = Address::parse(FAM, &raw2[..n2], false).map_err(|_| crate::kfail!("parse failed"))?;
        kcheck!(Some(a) != b);
        Ok(())
    }

    pub(crate) fn address_autobind_name() -> CaseResult {
        let a = Address::autobind(FAM, 0xabc12);
        kcheck_eq!(a.as_bytes().len(), 8);
        kcheck_eq!(a.name(), b"\0abc12");
        kcheck_eq!(a.kind(), Kind::Abstract);
        kcheck_eq!(Address::autobind(FAM, 7).name(), b"\x0000007");
        Ok(())
    }

    crate::kunit_cases![
        address_lengths_and_family,
        address_pathname_is_cut_at_nul,
        address_full_length_path_unterminated,
        address_abstract_keeps_every_byte,
        address_autobind_name,
    ];
}
