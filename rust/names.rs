// SPDX-License-Identifier: GPL-2.0

//! The name table: which socket is bound to which address.
//!
//! Two kinds of keys, as AF_UNIX has:
//! - a pathname socket is found by its inode (the path is looked up in the
//!   filesystem first, so visibility follows the filesystem);
//! - an abstract socket by (network namespace, socket type, name): the same
//!   abstract name may be bound once per type and per namespace.
//!
//! The table holds a counted reference to each bound socket; `release`
//! removes it. Lookups take the table's spinlock only for the search.

use crate::address::Address;
use crate::socket::{Sock, SockRef, SockType};
use crate::sys::errno::{Errno, ErrnoResult};
use crate::sys::global::Global;
use kernel::alloc::flags::GFP_KERNEL;
use kernel::prelude::*;
use kernel::rbtree::{RBTree, RBTreeNodeReservation};
use kernel::sync::SpinLock;

/// The key a bound socket is found by.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum NameKey {
    /// A pathname socket: its inode.
    Path(usize),
    /// An abstract socket.
    Abstract { net: usize, ty: SockType, addr: Address },
}

impl NameKey {
    pub(crate) fn abstract_for(sk: &Sock, addr: &Address) -> NameKey {
        Self::abstract_of(sk, addr.clone())
    }

    /// The key of the abstract name `addr` for sockets like `sk`.
    pub(crate) fn abstract_of(sk: &Sock, addr: Address) -> NameKey {
        NameKey::Abstract { net: sk.net_key(), ty: sk.ty(), addr }
    }
}

/// A reserved entry of the table (see [`Names::reserve`]).
pub(crate) struct NameSlot(RBTreeNodeReservation<NameKey, SockRef>);

#[pin_data]
pub(crate) struct Names {
    #[pin]
    table: SpinLock<RBTree<NameKey, SockRef>>,
}

/// The module's name table, installed by the entry layer at init.
pub(crate) static NAMES: Global<Names> = Global::new();

impl Names {
    /// The table.
    pub(crate) fn get() -> &'static Names {
        NAMES.get()
    }

    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Names { table <- kernel::new_spinlock!(RBTree::new(), "mcast_unix_names") })
    }

    /// Memory for one name, allocated before anything that must not be
    /// undone (a bind's mknod) so that publishing cannot fail for want of it.
    pub(crate) fn reserve() -> ErrnoResult<NameSlot> {
        Ok(NameSlot(RBTreeNodeReservation::new(GFP_KERNEL)?))
    }

    /// Binds `key` to `sk` in the reserved slot; `EADDRINUSE` if taken.
    pub(crate) fn insert(&self, key: NameKey, sk: &Sock, slot: NameSlot) -> ErrnoResult<()> {
        let mut table = self.table.lock();
        if table.get(&key).is_some() {
            drop(table);
            return Err(Errno::EADDRINUSE);
        }
        table.insert(slot.0.into_node(key, sk.get()));
        Ok(())
    }

    /// Unbinds `key` if `sk` holds it (an accepted socket shares its
    /// listener's address but does not own the name). The reference is
    /// returned so the caller drops it after the table lock is released.
    pub(crate) fn remove(&self, key: &NameKey, sk: &Sock) -> Option<SockRef> {
        let mut table = self.table.lock();
        if table.get(key).is_some_and(|owner| owner.is(sk)) {
            table.remove(key)
        } else {
            None
        }
    }

    pub(crate) fn find(&self, key: &NameKey) -> Option<SockRef> {
        self.table.lock().get(key).cloned()
    }

    /// Whether `key` is bound (for autobind's search).
    pub(crate) fn contains(&self, key: &NameKey) -> bool {
        self.table.lock().get(key).is_some()
    }
}

#[cfg(CONFIG_KUNIT)]
pub(crate) mod tests {
    use super::*;
    use crate::address::Address;
    use crate::kunit::{CaseResult, Failure};
    use crate::{kcheck, kcheck_eq};

    fn abstract_key(net: usize, ty: SockType, name: &[u8]) -> Result<NameKey, Failure> {
        let mut raw = [0u8; 16];
        raw[..2].copy_from_slice(&13u16.to_ne_bytes());
        raw[3..3 + name.len()].copy_from_slice(name);
        let (_, addr) = Address::parse(13, &raw[..3 + name.len()], false)
            .map_err(|_| crate::kfail!("parse"))?;
        let addr = addr.ok_or(crate::kfail!("no address"))?;
        Ok(NameKey::Abstract { net, ty, addr })
    }

    pub(crate) fn name_keys_per_namespace_and_type() -> CaseResult {
        let k = abstract_key(1, SockType::Dgram, b"bus")?;
        kcheck!(k == abstract_key(1, SockType::Dgram, b"bus")?);
        // The same abstract name is free in another namespace and for the
        // other socket type, as with AF_UNIX.
        kcheck!(k != abstract_key(2, SockType::Dgram, b"bus")?);
        kcheck!(k != abstract_key(1, SockType::Seqpacket, b"bus")?);
        kcheck!(k != abstract_key(1, SockType::Dgram, b"bux")?);
        // Pathname sockets are keyed by inode only, whatever their type.
        kcheck!(NameKey::Path(5) == NameKey::Path(5));
        kcheck!(NameKey::Path(5) != NameKey::Path(6));
        kcheck!(NameKey::Path(5) != k);
        // A total order, as the table needs.
        let b = abstract_key(1, SockType::Dgram, b"bux")?;
        kcheck_eq!(k.cmp(&b), b.cmp(&k).reverse());
        Ok(())
    }

    crate::kunit_cases![
        name_keys_per_namespace_and_type,
    ];
}
