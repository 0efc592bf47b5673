// SPDX-License-Identifier: GPL-2.0

//! Registration of the family with the socket layer, and the entry points it
//! calls (three-step shims: raw pointers in, one safe call, errno out).
//!
//! The `proto`, `net_proto_family` and `proto_ops` tables live in one static
//! ([`TABLES`]) that module init fills in before `sock_register()` publishes
//! it; from then on it is only read.

use super::bindings;
use crate::socket::{SockState, SockType};
use core::cell::UnsafeCell;
use core::mem::{size_of, MaybeUninit};
use core::ptr;
use kernel::error::{code, Error, Result};
use kernel::ffi::{c_char, c_int};
use kernel::prelude::*;

/// A socket of the family as `sk_alloc()` lays it out: the generic
/// `struct sock` first (all the socket layer sees), then the family's state.
#[repr(C)]
struct SockObj {
    sk: bindings::sock,
    state: SockState,
}

struct Tables {
    proto: bindings::proto,
    family: bindings::net_proto_family,
    dgram_ops: bindings::proto_ops,
    seqpacket_ops: bindings::proto_ops,
}

struct TablesCell(UnsafeCell<Tables>);

// SAFETY: the tables are written only by `Registration::new()` during module
// init, before `sock_register()` makes them reachable by any other thread, and
// are read-only from then until `Registration::drop()` has unregistered them.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(
    // SAFETY: the tables are plain C structs of integers, raw pointers, arrays
    // and `Option<fn>`, for all of which all-zero bytes are a valid value (the
    // same value a C `static` of these types starts with).
    unsafe { MaybeUninit::zeroed().assume_init() },
));

fn tables() -> &'static Tables {
    // SAFETY: after init the tables are never written (see `TablesCell`), and
    // the shims that call this run only while the family is registered.
    unsafe { &*TABLES.0.get() }
}

/// The family's registration with the socket layer; dropping it unregisters.
pub(crate) struct Registration {
    family: c_int,
}

impl Registration {
    /// Fills in the tables and registers `proto` and the family number given
    /// by the `family` module parameter.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain getter of a module parameter, set before init runs.
        let family = unsafe { bindings::mcast_param_family() };
        if family <= 0 || family >= bindings::AF_MAX as c_int {
            pr_err!("family={} is outside 1..{}\n", family, bindings::AF_MAX);
            return Err(code::EINVAL);
        }
        // SAFETY: module init runs once and alone; nothing can reach TABLES
        // before sock_register() below (see `TablesCell`).
        let t = unsafe { &mut *TABLES.0.get() };
        fill_tables(t, family);

        // SAFETY: `t.proto` is static and stays registered until `drop`;
        // 1 asks for a slab cache of `obj_size` objects.
        let err = unsafe { bindings::proto_register(&mut t.proto, 1) };
        if err != 0 {
            return Err(Error::from_errno(err));
        }
        // SAFETY: `t.family` is static and filled in; it stays registered until `drop`.
        let err = unsafe { bindings::sock_register(&t.family) };
        if err != 0 {
            if err == -(bindings::EEXIST as c_int) {
                pr_err!("address family {} is already registered\n", family);
            }
            // SAFETY: registered above, and no socket can exist yet.
            unsafe { bindings::proto_unregister(&mut t.proto) };
            return Err(Error::from_errno(err));
        }
        pr_info!("registered address family {}\n", family);
        Ok(Registration { family })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`. sock_unregister() waits for concurrent
        // socket() calls; module exit only runs once every socket is gone
        // (each holds a module reference), so the proto is unused.
        unsafe {
            bindings::sock_unregister(self.family);
            bindings::proto_unregister(&mut (*TABLES.0.get()).proto);
        }
    }
}

fn fill_tables(t: &mut Tables, family: c_int) {
    // SAFETY: plain getter of THIS_MODULE.
    let owner = unsafe { bindings::mcast_this_module() };
    let name = b"MCAST_UNIX\0";
    for (dst, src) in t.proto.name.iter_mut().zip(name.iter()) {
        *dst = *src as c_char;
    }
    t.proto.owner = owner;
    t.proto.obj_size = size_of::<SockObj>() as u32;

    t.family.family = family;
    t.family.create = Some(create);
    t.family.owner = owner;

    for ops in [&mut t.dgram_ops, &mut t.seqpacket_ops] {
        ops.family = family;
        ops.owner = owner;
        ops.release = Some(release);
        ops.bind = Some(bindings::sock_no_bind);
        ops.connect = Some(bindings::sock_no_connect);
        ops.socketpair = Some(bindings::sock_no_socketpair);
        ops.accept = Some(bindings::sock_no_accept);
        ops.getname = Some(bindings::sock_no_getname);
        ops.poll = Some(bindings::datagram_poll);
        ops.ioctl = Some(bindings::sock_no_ioctl);
        ops.listen = Some(bindings::sock_no_listen);
        ops.shutdown = Some(bindings::sock_no_shutdown);
        ops.sendmsg = Some(bindings::sock_no_sendmsg);
        ops.recvmsg = Some(bindings::sock_no_recvmsg);
        ops.mmap = Some(bindings::sock_no_mmap);
    }
}

fn ops_for(ty: SockType) -> *const bindings::proto_ops {
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
unsafe extern "C" fn create(
    net: *mut bindings::net,
    sock: *mut bindings::socket,
    protocol: c_int,
    kern: c_int,
) -> c_int {
    // SAFETY: `sock` is valid for the call (caller's contract).
    let ty = unsafe { (*sock).type_ } as i32;
    let ty = match SockType::for_create(ty, protocol) {
        Ok(ty) => ty,
        Err(e) => return e.to_ret(),
    };
    let t = tables();
    // SAFETY: `net` is valid; `t.proto` is registered; sk_alloc() returns a
    // zeroed object of `obj_size` bytes or NULL.
    let sk = unsafe {
        bindings::sk_alloc(net, t.family.family, kernel::bindings::GFP_KERNEL, ptr::from_ref(&t.proto).cast_mut(), kern)
    };
    if sk.is_null() {
        return code::ENOMEM.to_errno();
    }
    let obj = sk.cast::<SockObj>();
    // SAFETY: `sk` is a new `SockObj`-sized object (obj_size) that nobody else
    // sees yet; `sock` is valid. The state is written before any entry point
    // can read it, and dropped in `destruct`.
    unsafe {
        bindings::sock_init_data(sock, sk);
        ptr::write(ptr::addr_of_mut!((*obj).state), SockState::new(ty));
        (*sk).sk_destruct = Some(destruct);
        (*sock).ops = ops_for(ty);
        (*sock).state = bindings::socket_state_SS_UNCONNECTED;
    }
    0
}

/// `sk_destruct`: the last reference to the sock is gone.
///
/// # Safety
///
/// Called once by `__sk_destruct()` on a sock created by [`create`].
unsafe extern "C" fn destruct(sk: *mut bindings::sock) {
    let obj = sk.cast::<SockObj>();
    // SAFETY: the state was written in `create` and nothing can reach the sock
    // any more, so it is dropped exactly once, here. The queues are purged so
    // no skb keeps charging the (about to be freed) sock.
    unsafe {
        bindings::mcast_skb_queue_purge(&mut (*sk).sk_receive_queue);
        ptr::drop_in_place(ptr::addr_of_mut!((*obj).state));
    }
}

/// `proto_ops::release`: `close(2)` of the last file reference.
///
/// # Safety
///
/// Called by the socket layer with a valid `socket`.
unsafe extern "C" fn release(sock: *mut bindings::socket) -> c_int {
    // SAFETY: `sock` is valid (caller's contract); `sk` is ours or NULL.
    unsafe {
        let sk = (*sock).sk;
        if sk.is_null() {
            return 0;
        }
        bindings::mcast_sock_orphan(sk);
        (*sock).sk = ptr::null_mut();
        bindings::mcast_sock_put(sk);
    }
    0
}
