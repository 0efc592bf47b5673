// SPDX-License-Identifier: GPL-2.0

//! Names: bind and autobind, finding the socket bound to an address, and
//! getsockname/getpeername. The table itself is [`crate::names`].

use super::{Sock, SockRef, Socket};
use crate::address::{Address, Kind, Request};
use crate::names::{NameKey, Names};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::path::HeldPath;
use kernel::prelude::*;
use kernel::sync::Arc;

/// bind(2).
pub(crate) fn bind(sock: &Socket, raw: &[u8]) -> ErrnoResult<()> {
    bind_then(sock, raw, |_| Ok(()), |()| {})
}

/// bind(2), with `prepare` run once the address is parsed and before the
/// name is created (it may fail: nothing is undone then), and `install` run
/// with its result before other sockets can find the name (group creation
/// uses it so that a group's address never names a socket that is not yet
/// its owner). Everything that can fail happens before the socket inode of a
/// pathname address is created, so a failed bind leaves no inode behind.
pub(crate) fn bind_then<T>(
    sock: &Socket,
    raw: &[u8],
    prepare: impl FnOnce(&Arc<Address>) -> ErrnoResult<T>,
    install: impl FnOnce(T),
) -> ErrnoResult<()> {
    let sk = sock.sk();
    let (req, addr) = Address::parse(sk.family(), raw, true)?;
    let addr = match (req, addr) {
        (Request::Autobind, _) => return autobind(sk),
        (_, Some(addr)) => addr,
        (_, None) => return Err(Errno::EINVAL),
    };
    let _bind = sk.bind_serial();
    let bound = sk.inner().addr.is_some();
    if bound && addr.kind() == Kind::Abstract {
        return Err(Errno::EINVAL);
    }
    let addr = Arc::new(addr, GFP_KERNEL)?;
    let prepared = prepare(&addr)?;
    let slot = Names::reserve()?;
    let (key, path) = match addr.kind() {
        Kind::Path => {
            // As AF_UNIX: an existing path is EADDRINUSE even when the socket
            // is already bound; only then is a second bind EINVAL.
            let path = HeldPath::mknod(addr.path_cstr(), sock, bound)?;
            (NameKey::Path(path.key()), Some(path))
        }
        Kind::Abstract => (NameKey::abstract_for(sk, &addr), None),
    };
    install(prepared);
    // A fresh inode cannot be taken, so this fails only for an abstract
    // name (EADDRINUSE), where nothing exists to undo.
    if let Err(e) = Names::get().insert(key, sk, slot) {
        let prepared_group = sk.inner().owned_group.take();
        if let Some(g) = prepared_group {
            g.close();
        }
        return Err(e);
    }
    let mut inner = sk.inner();
    inner.addr = Some(addr);
    inner.path = path;
    Ok(())
}

/// Binds `sk` to a free abstract name `\0xxxxx` unless it is bound already.
pub(crate) fn autobind(sk: &Sock) -> ErrnoResult<()> {
    let _bind = sk.bind_serial();
    if sk.inner().addr.is_some() {
        return Ok(());
    }
    let start = crate::sys::random_u32() & 0xfffff;
    let mut n = start;
    loop {
        n = (n + 1) & 0xfffff;
        let addr = Address::autobind(sk.family(), n);
        let key = NameKey::abstract_for(sk, &addr);
        if !Names::get().contains(&key) {
            let addr = Arc::new(addr, GFP_KERNEL)?;
            match Names::get().insert(key, sk, Names::reserve()?) {
                Ok(()) => {
                    sk.inner().addr = Some(addr);
                    return Ok(());
                }
                Err(Errno::EADDRINUSE) => {}
                Err(e) => return Err(e),
            }
        }
        if n == start {
            return Err(Errno::ENOSPC);
        }
        // Up to 2^20 names to try: let others run.
        crate::sys::sched::cond_resched();
    }
}

/// Autobinds a socket that asked for credentials before it talks, as AF_UNIX
/// does (the receiver of its messages then sees an address).
pub(crate) fn autobind_for_passcred(sock: &Socket) -> ErrnoResult<()> {
    if sock.passcred() && sock.sk().address().is_none() {
        autobind(sock.sk())?;
    }
    Ok(())
}

/// The address a message from `sock` carries: `own` (its address as the
/// caller read it), or the one it is autobound to now if it had none and
/// SO_PASSCRED is on.
pub(crate) fn sender_address(sock: &Socket, own: Option<Arc<Address>>) -> ErrnoResult<Option<Arc<Address>>> {
    match own {
        None if sock.passcred() => {
            autobind(sock.sk())?;
            Ok(sock.sk().address())
        }
        own => Ok(own),
    }
}

/// A destination address (connect, sendto, JOIN/LEAVE), parsed once: a
/// pathname, looked up in the filesystem at each [`find_other`], or an
/// abstract name as its table key (made once, so a retry looks up the same
/// key again and nothing is copied per send).
pub(crate) enum Target {
    Path(Address),
    Abstract(NameKey),
}

/// Finds the socket bound to `to` for a connect/sendto from `sk`:
/// `ENOENT`/`EACCES` from the path lookup, `ECONNREFUSED` if nothing is bound
/// there, `EPROTOTYPE` if a socket of the other type is.
pub(crate) fn find_other(sk: &Sock, to: &Target) -> ErrnoResult<SockRef> {
    match to {
        Target::Path(addr) => {
            let (_held, key) = HeldPath::lookup(addr.path_cstr())?;
            let other = Names::get().find(&NameKey::Path(key)).ok_or(Errno::ECONNREFUSED)?;
            if other.ty() != sk.ty() {
                return Err(Errno::EPROTOTYPE);
            }
            Ok(other)
        }
        Target::Abstract(key) => Names::get().find(key).ok_or(Errno::ECONNREFUSED),
    }
}

/// Parses a destination argument (connect, sendto).
pub(crate) fn parse_dest(sk: &Sock, raw: &[u8]) -> ErrnoResult<Target> {
    match Address::parse(sk.family(), raw, false)? {
        (_, Some(addr)) if addr.kind() == Kind::Path => Ok(Target::Path(addr)),
        (_, Some(addr)) => Ok(Target::Abstract(NameKey::abstract_of(sk, addr))),
        (_, None) => Err(Errno::EINVAL),
    }
}

/// getsockname(2)/getpeername(2): the sockaddr bytes into `out`; returns
/// the length.
pub(crate) fn getname(sk: &Sock, peer: bool, out: &mut [u8]) -> ErrnoResult<usize> {
    let addr = if peer {
        sk.peer().ok_or(Errno::ENOTCONN)?.address()
    } else {
        sk.address()
    };
    let fam = sk.family().to_ne_bytes();
    match addr {
        Some(a) => {
            let bytes = a.as_bytes();
            out[..bytes.len()].copy_from_slice(bytes);
            out[..2].copy_from_slice(&fam);
            Ok(bytes.len())
        }
        None => {
            out[..2].copy_from_slice(&fam);
            out[2] = 0;
            Ok(2)
        }
    }
}
