// SPDX-License-Identifier: GPL-2.0

//! Observability: `/proc/net/mcast_unix`, and the registry of open sockets it
//! lists.
//!
//! One line per socket of the reader's network namespace:
//! `S inode type state role address groups rmem drops`, then one line per
//! group: `G address type members sent dropped`. `role` is `owner`, `member`
//! or `plain`; `state` is `unconnected`, `connected` or `listening`; an
//! abstract address is shown with a leading `@`, an unbound socket as `-`.

use crate::address::{Address, Kind};
use crate::defs;
use crate::socket::{Sock, SockRef, SockType};
use crate::sys::errno::ErrnoResult;
use crate::sys::global::Global;
use core::fmt::{self, Write};
use kernel::alloc::flags::GFP_KERNEL;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use kernel::sync::SpinLock;

/// A reserved registry entry (see [`Registry::reserve`]).
pub(crate) struct RegistrySlot(RBTreeNodeReservation<usize, SockRef>);

/// Every open socket of the family (a counted reference each, dropped at
/// release), keyed by address for a stable listing order.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    socks: SpinLock<RBTree<usize, SockRef>>,
}

/// The module's registry, installed by the entry layer at init.
pub(crate) static REGISTRY: Global<Registry> = Global::new();

impl Registry {
    /// The registry.
    pub(crate) fn get() -> &'static Registry {
        REGISTRY.get()
    }

    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Registry { socks <- kernel::new_spinlock!(RBTree::new(), "mcast_unix_registry") })
    }

    /// Memory for one entry, allocated before the socket exists so that
    /// listing it cannot fail afterwards (`create` has nothing to undo).
    pub(crate) fn reserve() -> ErrnoResult<RegistrySlot> {
        Ok(RegistrySlot(RBTreeNodeReservation::new(GFP_KERNEL)?))
    }

    pub(crate) fn add_reserved(&self, sk: &Sock, slot: RegistrySlot) {
        let node = slot.0.into_node(sk as *const Sock as usize, sk.get());
        let old = self.socks.lock().insert(node);
        drop(old);
    }

    pub(crate) fn add(&self, sk: &Sock) -> ErrnoResult<()> {
        self.add_reserved(sk, Self::reserve()?);
        Ok(())
    }

    /// Forgets `sk`; the reference is dropped after the lock.
    pub(crate) fn remove(&self, sk: &Sock) {
        let old = self.socks.lock().remove(&(sk as *const Sock as usize));
        drop(old);
    }

    /// References to the sockets of namespace `net`.
    fn snapshot(&self, net: usize) -> ErrnoResult<KVec<SockRef>> {
        loop {
            let n = self.socks.lock().values().count();
            let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
            let socks = self.socks.lock();
            if socks.values().count() > n {
                continue;
            }
            for s in socks.values().filter(|s| s.net_key() == net) {
                // Within the capacity: no allocation under the lock.
                out.push(s.clone(), kernel::alloc::flags::GFP_ATOMIC)?;
            }
            return Ok(out);
        }
    }
}

/// Prints an address as the listing shows it.
struct ShowAddr<'a>(Option<&'a Address>);

impl fmt::Display for ShowAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(a) = self.0 else { return f.write_str("-") };
        let (prefix, bytes) = match a.kind() {
            Kind::Abstract => ("@", &a.name()[1..]),
            Kind::Path => ("", a.path_cstr().split_last().map_or(&[][..], |(_, p)| p)),
        };
        f.write_str(prefix)?;
        for &c in bytes {
            // Unprintable bytes (abstract names may hold any) as \xNN.
            if c.is_ascii_graphic() && c != b'\\' {
                f.write_char(c as char)?;
            } else {
                write!(f, "\\x{:02x}", c)?;
            }
        }
        Ok(())
    }
}

fn type_name(ty: SockType) -> &'static str {
    match ty {
        SockType::Dgram => "dgram",
        SockType::Seqpacket => "seqpacket",
    }
}

/// Writes the listing for namespace `net`.
pub(crate) fn show(registry: &Registry, net: usize, out: &mut impl Write) -> ErrnoResult<()> {
    let socks = registry.snapshot(net)?;
    let _ = writeln!(out, "S inode type state role address groups rmem drops");
    for s in socks.iter() {
        let (addr, role, groups) = {
            let inner = s.inner();
            let role = if inner.owned_group().is_some() {
                "owner"
            } else if inner.memberships().count() > 0 {
                "member"
            } else {
                "plain"
            };
            (inner.address().cloned(), role, inner.memberships().count())
        };
        let state = match s.sk_state() {
            defs::TCP_LISTEN => "listening",
            defs::TCP_ESTABLISHED => "connected",
            _ => "unconnected",
        };
        let _ = writeln!(
            out,
            "S {} {} {} {} {} {} {} {}",
            s.inode(),
            type_name(s.ty()),
            state,
            role,
            ShowAddr(addr.as_deref()),
            groups,
            s.rmem(),
            s.drops()
        );
    }
    let _ = writeln!(out, "G address type members sent dropped");
    for s in socks.iter() {
        let Some(g) = s.owned_group() else { continue };
        let (sent, dropped) = g.counters();
        let _ = writeln!(
            out,
            "G {} {} {} {} {}",
            ShowAddr(Some(&g.addr)),
            type_name(g.ty),
            g.member_count(),
            sent,
            dropped
        );
    }
    Ok(())
}
