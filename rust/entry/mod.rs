// SPDX-License-Identifier: GPL-2.0

//! The entry layer: registration of the family with the socket layer, the
//! tables it calls through, and the shims ([`ops`]) those tables point to.
//!
//! Registration fills the `proto`, the `net_proto_family` and one
//! `proto_ops` table per socket type (each built from that type's
//! [`SocketType`] implementation) in one static ([`TABLES`]) before
//! `sock_register()` publishes them; from then on they are only read. It
//! installs the module-wide values (the name table, the socket registry)
//! first and removes them last.

mod ops;
#[cfg(CONFIG_KUNIT)]
mod kunit;

use crate::dgram::Dgram;
use crate::names::Names;
use crate::proc::Registry;
use crate::seqpacket::Seqpacket;
use crate::socket::{Sock, SockState, SockType};
use crate::sys::bindings as b;
use crate::sys::global::Installed;
use crate::sys::params;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr;
use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;

struct Tables {
    proto: b::proto,
    family: b::net_proto_family,
    dgram_ops: b::proto_ops,
    seqpacket_ops: b::proto_ops,
}

struct TablesCell(UnsafeCell<Tables>);

// SAFETY: the tables are written only by `Registration::new()` during
// module init, before `sock_register()` makes them reachable by any other
// thread, and are read-only from then until `Registration::drop()` has
// unregistered them (module exit, when no socket exists any more).
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(
    // SAFETY: plain C structs of integers, raw pointers, arrays and
    // `Option<fn>`: all-zero bytes are a valid value (the value a C `static`
    // of these types starts with).
    unsafe { MaybeUninit::zeroed().assume_init() },
));

fn tables() -> &'static Tables {
    // SAFETY: after init the tables are never written (see `TablesCell`);
    // everything that calls this runs while the family is registered.
    unsafe { &*TABLES.0.get() }
}

/// The family's registration with the socket layer; dropping it unregisters.
pub(crate) struct Registration {
    family: c_int,
    _names: Installed<Names>,
    _registry: Installed<Registry>,
}

impl Registration {
    /// Fills in the tables and registers `proto` and the family number given
    /// by the `family` module parameter.
    pub(crate) fn new() -> Result<Self> {
        let family = params::family();
        if family <= 0 || family >= b::AF_MAX as c_int {
            pr_err!("family={} is outside 1..{}\n", family, b::AF_MAX);
            return Err(EINVAL);
        }
        // SAFETY: both are dropped only in `drop` below (or on an error
        // return before anything was registered), after the family is
        // unregistered and every socket is gone: nothing reads them then.
        let (names, registry) = unsafe {
            (
                crate::names::NAMES.install(KBox::pin_init(Names::new(), GFP_KERNEL)?),
                crate::proc::REGISTRY.install(KBox::pin_init(Registry::new(), GFP_KERNEL)?),
            )
        };
        // SAFETY: module init runs once and alone; nothing can reach TABLES
        // before sock_register() below (see `TablesCell`).
        let t = unsafe { &mut *TABLES.0.get() };
        fill_tables(t, family);

        // /proc first: once the family is registered, sockets can exist, and
        // a failure after that point could not be undone cleanly.
        // SAFETY: registers pernet operations whose show callback reads the
        // registry, which lives until after `mcast_proc_unregister` in `drop`.
        let err = unsafe { b::mcast_proc_register() };
        if err != 0 {
            return Err(Error::from_errno(err));
        }
        // SAFETY: `t.proto` is static and stays registered until `drop`;
        // 1 asks for a slab cache of `obj_size` objects.
        let err = unsafe { b::proto_register(&mut t.proto, 1) };
        if err != 0 {
            // SAFETY: registered above; nothing uses it yet.
            unsafe { b::mcast_proc_unregister() };
            return Err(Error::from_errno(err));
        }
        // SAFETY: `t.family` is static and filled in; registered until `drop`.
        let err = unsafe { b::sock_register(&t.family) };
        if err != 0 {
            if err == -(b::EEXIST as c_int) {
                pr_err!("address family {} is already registered\n", family);
            }
            // SAFETY: registered above; no socket can exist (the family
            // never was registered).
            unsafe {
                b::proto_unregister(&mut t.proto);
                b::mcast_proc_unregister();
            }
            return Err(Error::from_errno(err));
        }
        pr_info!("registered address family {}\n", family);
        Ok(Registration { family, _names: names, _registry: registry })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`. sock_unregister() waits for concurrent
        // socket() calls; module exit only runs once every socket is gone
        // (each holds a module reference until its deferred free is done),
        // so the proto is unused. Member lists replaced by the last sockets
        // may still wait for a grace period in call_rcu, with a callback in
        // this module: the barrier waits for them before the code goes.
        unsafe {
            b::sock_unregister(self.family);
            crate::sys::rcu::barrier();
            b::proto_unregister(&mut (*TABLES.0.get()).proto);
            b::mcast_proc_unregister();
        }
        // Then the name table and the registry go (the fields' drops).
    }
}

fn fill_tables(t: &mut Tables, family: c_int) {
    // SAFETY: plain getter of THIS_MODULE.
    let owner = unsafe { b::mcast_this_module() };
    for (dst, src) in t.proto.name.iter_mut().zip(b"MCAST_UNIX\0".iter()) {
        *dst = *src as c_char;
    }
    t.proto.owner = owner;
    t.proto.obj_size = Sock::OBJ_SIZE as u32;

    t.family.family = family;
    t.family.create = Some(create);
    t.family.owner = owner;

    ops::fill::<Dgram>(&mut t.dgram_ops, family, owner);
    ops::fill::<Seqpacket>(&mut t.seqpacket_ops, family, owner);
}

fn ops_for(ty: SockType) -> *const b::proto_ops {
    match ty {
        SockType::Dgram => &tables().dgram_ops,
        SockType::Seqpacket => &tables().seqpacket_ops,
    }
}

/// `net_proto_family::create`: `socket(2)` for our family.
///
/// # Safety
///
/// Called by the socket layer with a valid, freshly allocated `sock` and `net`.
unsafe extern "C" fn create(net: *mut b::net, sock: *mut b::socket, protocol: c_int, kern: c_int) -> c_int {
    // SAFETY: `sock` is valid for the call (caller's contract).
    let ty = unsafe { (*sock).type_ } as i32;
    let ty = match SockType::for_create(ty, protocol) {
        Ok(ty) => ty,
        Err(e) => return e.to_ret(),
    };
    // Everything that can fail comes before the sock is attached: after a
    // failed create the socket layer clears `sock->ops` and never calls our
    // release, so an attached sock would leak (and pin the module).
    let slot = match Registry::reserve() {
        Ok(slot) => slot,
        Err(e) => return e.to_ret(),
    };
    let t = tables();
    // SAFETY: `net` and the new `sock` come from the socket layer; the
    // proto is registered with `Sock::OBJ_SIZE` for the family number
    // `t.family.family` and stays so while socks exist (module exit waits).
    let sk = unsafe {
        Sock::alloc(
            net,
            sock,
            ptr::from_ref(&t.proto).cast_mut(),
            t.family.family,
            ty.raw() as u16,
            kern,
            SockState::new(ty),
        )
    };
    let sk = match sk {
        Ok(sk) => sk,
        Err(e) => return e.to_ret(),
    };
    // SAFETY: `sock` is valid; its sk is now ours and fully initialised. The
    // socket owns the reference `sk` holds from here on (put in `release`).
    unsafe {
        (*sock).ops = ops_for(ty);
        (*sock).state = b::socket_state_SS_UNCONNECTED;
    }
    Registry::get().add_reserved(&sk, slot);
    core::mem::forget(sk);
    0
}

/// The listing of /proc/net/mcast_unix for the reader's namespace.
///
/// # Safety
///
/// Called by the seq_file show callback in rust/helpers.c with a valid
/// seq_file and its namespace, while the family is registered.
#[no_mangle]
pub(crate) unsafe extern "C" fn mcast_proc_show(m: *mut b::seq_file, net: *mut b::net) -> c_int {
    struct SeqWriter(*mut b::seq_file);
    impl core::fmt::Write for SeqWriter {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            // SAFETY: the seq_file is valid for the show call; seq_write
            // copies the bytes (and records an overflow itself).
            unsafe { b::seq_write(self.0, s.as_ptr().cast(), s.len()) };
            Ok(())
        }
    }
    ops::ret(crate::proc::show(Registry::get(), net as usize, &mut SeqWriter(m)))
}
