// SPDX-License-Identifier: GPL-2.0

//! Registration of the family with the socket layer, and the entry points it
//! calls. Each entry point is a three-step shim: turn the raw pointers into
//! safe values, call one function of the socket type's module, map the
//! result to a return value.
//!
//! The `proto`, `net_proto_family` and `proto_ops` tables and the name table
//! live in one static ([`GLOBALS`]) that module init fills in before
//! `sock_register()` publishes it; from then on it is only read.

use super::bindings as b;
use super::errno::{Errno, KResult};
use super::msg::{Msg, OptVal};
use super::sock::{Sock, SockRef, Socket};
use crate::names::Names;
use crate::proc::Registry;
use crate::socket::{SockState, SockType};
use crate::{dgram, group, message, seqpacket, socket};
use core::cell::UnsafeCell;
use core::mem::{size_of, MaybeUninit};
use core::ptr::{self, NonNull};
use kernel::ffi::{c_char, c_int, c_uint, c_ulong};
use kernel::init::PinInit;
use kernel::prelude::*;

struct Globals {
    proto: b::proto,
    family: b::net_proto_family,
    dgram_ops: b::proto_ops,
    seqpacket_ops: b::proto_ops,
    names: *const Names,
    registry: *const Registry,
}

struct GlobalsCell(UnsafeCell<Globals>);

// SAFETY: the globals are written only by `Registration::new()` during
// module init, before `sock_register()` makes them reachable by any other
// thread, and are read-only from then until `Registration::drop()` has
// unregistered them (module exit, when no socket exists any more).
unsafe impl Sync for GlobalsCell {}

static GLOBALS: GlobalsCell = GlobalsCell(UnsafeCell::new(
    // SAFETY: plain C structs of integers, raw pointers, arrays and
    // `Option<fn>` plus a raw pointer: all-zero bytes are a valid value (the
    // value a C `static` of these types starts with).
    unsafe { MaybeUninit::zeroed().assume_init() },
));

fn globals() -> &'static Globals {
    // SAFETY: after init the globals are never written (see `GlobalsCell`);
    // everything that calls this runs while the family is registered.
    unsafe { &*GLOBALS.0.get() }
}

/// The registered family number.
pub(crate) fn family() -> u16 {
    globals().family.family as u16
}

/// The table of bound names.
pub(crate) fn names() -> &'static Names {
    // SAFETY: set in `Registration::new` before registration to a pinned
    // allocation the registration owns until after unregistration.
    unsafe { &*globals().names }
}

/// `max_groups` module parameter: groups one socket may join.
pub(crate) fn max_groups() -> u32 {
    // SAFETY: plain getter of a read-only module parameter.
    unsafe { b::mcast_param_max_groups() }
}

/// `max_members` module parameter: members one group may have.
pub(crate) fn max_members() -> u32 {
    // SAFETY: plain getter of a read-only module parameter.
    unsafe { b::mcast_param_max_members() }
}

/// Every open socket (for /proc/net/mcast_unix).
pub(crate) fn registry() -> &'static Registry {
    // SAFETY: as for `names`.
    unsafe { &*globals().registry }
}

pub(crate) fn random_u32() -> u32 {
    // SAFETY: no preconditions.
    unsafe { b::get_random_u32() }
}

/// The family's registration with the socket layer; dropping it unregisters.
pub(crate) struct Registration {
    family: c_int,
    _names: Pin<KBox<Names>>,
    _registry: Pin<KBox<Registry>>,
}

impl Registration {
    /// Fills in the tables and registers `proto` and the family number given
    /// by the `family` module parameter.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain getter of a module parameter, set before init runs.
        let family = unsafe { b::mcast_param_family() };
        if family <= 0 || family >= b::AF_MAX as c_int {
            pr_err!("family={} is outside 1..{}\n", family, b::AF_MAX);
            return Err(EINVAL);
        }
        let names = KBox::pin_init(Names::new(), GFP_KERNEL)?;
        let registry = KBox::pin_init(Registry::new(), GFP_KERNEL)?;
        // SAFETY: module init runs once and alone; nothing can reach GLOBALS
        // before sock_register() below (see `GlobalsCell`).
        let g = unsafe { &mut *GLOBALS.0.get() };
        fill_tables(g, family);
        g.names = &*names;
        g.registry = &*registry;

        // /proc first: once the family is registered, sockets can exist, and
        // a failure after that point could not be undone cleanly.
        // SAFETY: registers pernet operations whose show callback reads the
        // registry, which lives until after `mcast_proc_unregister` in `drop`.
        let err = unsafe { b::mcast_proc_register() };
        if err != 0 {
            return Err(Error::from_errno(err));
        }
        // SAFETY: `g.proto` is static and stays registered until `drop`;
        // 1 asks for a slab cache of `obj_size` objects.
        let err = unsafe { b::proto_register(&mut g.proto, 1) };
        if err != 0 {
            // SAFETY: registered above; nothing uses it yet.
            unsafe { b::mcast_proc_unregister() };
            return Err(Error::from_errno(err));
        }
        // SAFETY: `g.family` is static and filled in; registered until `drop`.
        let err = unsafe { b::sock_register(&g.family) };
        if err != 0 {
            if err == -(b::EEXIST as c_int) {
                pr_err!("address family {} is already registered\n", family);
            }
            // SAFETY: registered above; no socket can exist (the family
            // never was registered).
            unsafe {
                b::proto_unregister(&mut g.proto);
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
            super::rcu::barrier();
            b::proto_unregister(&mut (*GLOBALS.0.get()).proto);
            b::mcast_proc_unregister();
        }
    }
}

fn fill_tables(g: &mut Globals, family: c_int) {
    // SAFETY: plain getter of THIS_MODULE.
    let owner = unsafe { b::mcast_this_module() };
    for (dst, src) in g.proto.name.iter_mut().zip(b"MCAST_UNIX\0".iter()) {
        *dst = *src as c_char;
    }
    g.proto.owner = owner;
    g.proto.obj_size = size_of::<Sock>() as u32;

    g.family.family = family;
    g.family.create = Some(create);
    g.family.owner = owner;

    for (ops, ty) in [(&mut g.dgram_ops, SockType::Dgram), (&mut g.seqpacket_ops, SockType::Seqpacket)] {
        ops.family = family;
        ops.owner = owner;
        ops.release = Some(release);
        ops.bind = Some(bind);
        ops.socketpair = Some(socketpair);
        ops.getname = Some(getname);
        ops.poll = Some(poll);
        ops.ioctl = Some(ioctl);
        ops.shutdown = Some(shutdown);
        ops.setsockopt = Some(setsockopt);
        ops.getsockopt = Some(getsockopt);
        ops.mmap = Some(b::sock_no_mmap);
        match ty {
            SockType::Dgram => {
                ops.connect = Some(dgram_connect);
                ops.accept = Some(b::sock_no_accept);
                ops.listen = Some(b::sock_no_listen);
                ops.sendmsg = Some(dgram_sendmsg);
                ops.recvmsg = Some(dgram_recvmsg);
            }
            SockType::Seqpacket => {
                ops.connect = Some(seqpacket_connect);
                ops.accept = Some(seqpacket_accept);
                ops.listen = Some(seqpacket_listen);
                ops.sendmsg = Some(seqpacket_sendmsg);
                ops.recvmsg = Some(seqpacket_recvmsg);
            }
        }
    }
}

fn ops_for(ty: SockType) -> *const b::proto_ops {
    match ty {
        SockType::Dgram => &globals().dgram_ops,
        SockType::Seqpacket => &globals().seqpacket_ops,
    }
}

/// Allocates a sock of the family with its state initialised; `sock` is the
/// socket to attach it to, or NULL for a connection's server side.
fn alloc_sock(net: *mut b::net, sock: *mut b::socket, ty: SockType, kern: c_int) -> KResult<NonNull<b::sock>> {
    let g = globals();
    // SAFETY: `net` is live (the caller's namespace); `g.proto` is
    // registered; sk_alloc returns a zeroed object of `obj_size` bytes or NULL.
    let sk = unsafe { b::sk_alloc(net, g.family.family, kernel::bindings::GFP_KERNEL, ptr::from_ref(&g.proto).cast_mut(), kern) };
    let sk = NonNull::new(sk).ok_or(Errno::ENOMEM)?;
    let raw = sk.as_ptr();
    let slot = Sock::state_slot(raw);
    // SAFETY: a new `Sock`-sized object (obj_size) that nobody else sees yet;
    // `sock` is NULL or the caller's new socket. The state is initialised in
    // place (it is pinned inside the sock) before any entry point can read
    // it, and dropped in `destruct`; the relay is bound to its own sock.
    unsafe {
        b::sock_init_data(sock, raw);
        // Freed only after an RCU grace period, so group senders may use a
        // member found under RCU without a reference (see `SockSlot`).
        b::mcast_sock_set_flag(raw, b::sock_flags_SOCK_RCU_FREE as i32);
        (*raw).sk_type = match ty {
            SockType::Dgram => socket::SOCK_DGRAM,
            SockType::Seqpacket => socket::SOCK_SEQPACKET,
        } as u16;
        if SockState::new(ty).__pinned_init(slot).is_err() {
            (*raw).sk_destruct = None;
            if !sock.is_null() {
                (*sock).sk = ptr::null_mut();
            }
            b::sk_free(raw);
            return Err(Errno::ENOMEM);
        }
        (*slot).relay.bind(raw);
        (*raw).sk_destruct = Some(destruct);
    }
    Ok(sk)
}

/// The server side of a connection from `sk`, not yet accepted.
pub(crate) fn new_embryo(sk: &Sock) -> KResult<SockRef> {
    // SAFETY: `sk` is live, so its namespace is.
    let net = unsafe { b::mcast_sock_net(sk.raw()) };
    let raw = alloc_sock(net, ptr::null_mut(), sk.ty(), 0)?;
    // SAFETY: a fully initialised sock of ours; the reference sk_alloc gave
    // us becomes the `SockRef`'s (taken over by the socket on accept).
    Ok(unsafe { SockRef::from_new(raw) })
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
    let sk = match alloc_sock(net, sock, ty, kern) {
        Ok(sk) => sk,
        Err(e) => return e.to_ret(),
    };
    // SAFETY: `sock` is valid; its sk is now ours and fully initialised.
    unsafe {
        (*sock).ops = ops_for(ty);
        (*sock).state = b::socket_state_SS_UNCONNECTED;
    }
    // SAFETY: as above.
    let sk = unsafe { Sock::from_raw(sk.as_ptr()) };
    registry().add_reserved(sk, slot);
    0
}

/// `sk_destruct`: the last reference to the sock is gone.
///
/// # Safety
///
/// Called once by `__sk_destruct()` on a sock made by [`alloc_sock`].
unsafe extern "C" fn destruct(sk: *mut b::sock) {
    // SAFETY: nothing can reach the sock any more. Queued messages go first
    // (their destructors look at the state), then the state is dropped,
    // exactly once.
    unsafe {
        b::mcast_skb_queue_purge(ptr::addr_of_mut!((*sk).sk_receive_queue));
        ptr::drop_in_place(Sock::state_slot(sk));
    }
}

/// Step 1 of every shim: the socket the entry point was called for.
///
/// # Safety
///
/// `sock` is the valid socket of an entry point, with one of our socks.
unsafe fn socket(sock: *mut b::socket) -> Socket {
    // SAFETY: the caller's contract.
    unsafe { Socket::from_raw(sock) }
}

/// Step 3: a result to the entry point's return value.
fn ret(r: KResult<()>) -> c_int {
    r.map_or_else(Errno::to_ret, |()| 0)
}

fn ret_len(r: KResult<usize>) -> c_int {
    r.map_or_else(Errno::to_ret, |n| n as c_int)
}

/// The address argument of bind/connect: a kernel copy of at most 128 bytes.
///
/// # Safety
///
/// `addr` points to the socket layer's kernel `sockaddr_storage`.
unsafe fn addr_bytes<'a>(addr: *const b::sockaddr, len: c_int) -> &'a [u8] {
    let len = (len.max(0) as usize).min(size_of::<b::__kernel_sockaddr_storage>());
    // SAFETY: move_addr_to_kernel copied `len` (<= 128) bytes there.
    unsafe { core::slice::from_raw_parts(addr.cast::<u8>(), len) }
}

/// `proto_ops::release`: `close(2)` of the last file reference.
///
/// # Safety
///
/// Called by the socket layer with a valid `socket`.
unsafe extern "C" fn release(sock: *mut b::socket) -> c_int {
    // SAFETY: `sock` is valid; `sk` is ours or NULL.
    let sk = unsafe { (*sock).sk };
    if sk.is_null() {
        return 0;
    }
    // SAFETY: ours and live until the sock_put below.
    socket::release(unsafe { Sock::from_raw(sk) });
    // SAFETY: detach and drop the socket's reference (taken by sk_alloc or
    // handed over by accept).
    unsafe {
        b::mcast_sock_orphan(sk);
        (*sock).sk = ptr::null_mut();
        b::mcast_sock_put(sk);
    }
    0
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`, `addr` a kernel copy of `len` bytes.
unsafe extern "C" fn bind(sock: *mut b::socket, addr: *mut b::sockaddr, len: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, raw) = unsafe { (socket(sock), addr_bytes(addr, len)) };
    ret(socket::bind(&sock, raw))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`, `addr` a kernel copy of `len` bytes.
unsafe extern "C" fn dgram_connect(sock: *mut b::socket, addr: *mut b::sockaddr, len: c_int, _flags: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, raw) = unsafe { (socket(sock), addr_bytes(addr, len)) };
    ret(dgram::connect(&sock, raw))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`, `addr` a kernel copy of `len` bytes.
unsafe extern "C" fn seqpacket_connect(sock: *mut b::socket, addr: *mut b::sockaddr, len: c_int, flags: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, raw) = unsafe { (socket(sock), addr_bytes(addr, len)) };
    ret(seqpacket::connect(&sock, raw, flags & b::O_NONBLOCK as c_int != 0))
}

/// # Safety
///
/// Socket-layer entry point: two valid new sockets of the same type.
unsafe extern "C" fn socketpair(a: *mut b::socket, bb: *mut b::socket) -> c_int {
    // SAFETY: the entry point's contract.
    let (a, bb) = unsafe { (socket(a), socket(bb)) };
    ret(seqpacket::socketpair(&a, &bb))
}

/// # Safety
///
/// Socket-layer entry point: valid listening `sock`, a new `newsock`, `arg`.
unsafe extern "C" fn seqpacket_accept(sock: *mut b::socket, newsock: *mut b::socket, arg: *mut b::proto_accept_arg) -> c_int {
    // SAFETY: the entry point's contract; `newsock` has no sk until grafted.
    let (sock, newsock, flags) = unsafe { (socket(sock), Socket::from_raw(newsock), (*arg).flags) };
    ret(seqpacket::accept(&sock, &newsock, flags & b::O_NONBLOCK as c_int != 0))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`.
unsafe extern "C" fn seqpacket_listen(sock: *mut b::socket, backlog: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let sock = unsafe { socket(sock) };
    ret(seqpacket::listen(sock.sk(), backlog))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`; `addr` a kernel sockaddr_storage.
unsafe extern "C" fn getname(sock: *mut b::socket, addr: *mut b::sockaddr, peer: c_int) -> c_int {
    // SAFETY: the entry point's contract: the buffer holds 128 bytes.
    let (sock, out) = unsafe {
        (socket(sock), core::slice::from_raw_parts_mut(addr.cast::<u8>(), size_of::<b::__kernel_sockaddr_storage>()))
    };
    ret_len(socket::getname(sock.sk(), peer != 0, out))
}

/// # Safety
///
/// Socket-layer entry point: valid `file` and `sock`; `wait` may be NULL.
unsafe extern "C" fn poll(file: *mut b::file, sock: *mut b::socket, wait: *mut b::poll_table_struct) -> c_uint {
    // SAFETY: the entry point's contract; registering on the socket's own
    // wait queue is what every socket family does first.
    let (sock, want_write) = unsafe {
        b::mcast_sock_poll_wait(file, sock, wait);
        (socket(sock), b::mcast_poll_wants_write(wait))
    };
    socket::poll_mask(sock.sk(), want_write)
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`; `arg` a user pointer for our commands.
unsafe extern "C" fn ioctl(sock: *mut b::socket, cmd: c_uint, arg: c_ulong) -> c_int {
    // SAFETY: the entry point's contract.
    let sock = unsafe { socket(sock) };
    let inq = match cmd {
        b::MCAST_SIOCINQ => true,
        b::MCAST_SIOCOUTQ => false,
        _ => return Errno::ENOIOCTLCMD.to_ret(),
    };
    match socket::ioctl_value(sock.sk(), inq) {
        // SAFETY: put_user checks the user pointer itself.
        Ok(v) => unsafe { b::mcast_put_user_int(arg, v) },
        Err(e) => e.to_ret(),
    }
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`.
unsafe extern "C" fn shutdown(sock: *mut b::socket, how: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let sock = unsafe { socket(sock) };
    ret(socket::shutdown(sock.sk(), how))
}

/// Options of levels other than SOL_SOCKET (which the socket layer handles).
///
/// # Safety
///
/// Socket-layer entry point: valid `sock`; `val` a user or kernel pointer
/// of `len` bytes.
unsafe extern "C" fn setsockopt(sock: *mut b::socket, level: c_int, name: c_int, val: b::sockptr_t, len: c_uint) -> c_int {
    if level != b::SOL_MCAST_UNIX as c_int {
        return Errno::ENOPROTOOPT.to_ret();
    }
    // SAFETY: the entry point's contract.
    let (sock, val) = unsafe { (socket(sock), OptVal::from_raw(val, len)) };
    ret(group::setsockopt(&sock, name, &val))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`.
unsafe extern "C" fn getsockopt(_sock: *mut b::socket, _level: c_int, _name: c_int, _val: *mut c_char, _len: *mut c_int) -> c_int {
    Errno::ENOPROTOOPT.to_ret()
}

/// # Safety
///
/// Socket-layer entry point: valid `sock` and `msg` of a sendmsg call.
unsafe extern "C" fn dgram_sendmsg(sock: *mut b::socket, msg: *mut b::msghdr, len: usize) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, mut msg) = unsafe { (socket(sock), Msg::from_raw(msg)) };
    let flags = msg.flags();
    ret_len(dgram::sendmsg(&sock, &mut msg, len, flags))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock` and `msg` of a sendmsg call.
unsafe extern "C" fn seqpacket_sendmsg(sock: *mut b::socket, msg: *mut b::msghdr, len: usize) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, mut msg) = unsafe { (socket(sock), Msg::from_raw(msg)) };
    let flags = msg.flags();
    ret_len(seqpacket::sendmsg(&sock, &mut msg, len, flags))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock` and `msg` of a recvmsg call.
unsafe extern "C" fn dgram_recvmsg(sock: *mut b::socket, msg: *mut b::msghdr, size: usize, flags: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, mut msg) = unsafe { (socket(sock), Msg::from_raw(msg)) };
    ret_len(message::recv(&sock, &mut msg, size, flags as u32))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock` and `msg` of a recvmsg call.
unsafe extern "C" fn seqpacket_recvmsg(sock: *mut b::socket, msg: *mut b::msghdr, size: usize, flags: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, mut msg) = unsafe { (socket(sock), Msg::from_raw(msg)) };
    ret_len(seqpacket::recvmsg(&sock, &mut msg, size, flags as u32))
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
    ret(crate::proc::show(registry(), net as usize, &mut SeqWriter(m)))
}
