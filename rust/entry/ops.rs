// SPDX-License-Identifier: GPL-2.0

//! The `proto_ops` shims: one per operation, generic over the socket type
//! where the operation differs ([`SocketType`]). Each is three steps: turn
//! the raw pointers into safe values (under its `// SAFETY:`), call one
//! domain function, map the result to the return value.

use crate::socket::ops::{self as domain, SocketType};
use crate::socket::{close, poll, NewSocket, Socket};
use crate::socket::bind;
use crate::sys::bindings as b;
use crate::sys::errno::ErrnoResult;
use crate::sys::msg::{Msg, OptOut, OptVal};
use core::mem::size_of;
use core::ptr;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong};

/// Fills the `proto_ops` table of socket type `T`.
pub(super) fn fill<T: SocketType>(ops: &mut b::proto_ops, family: c_int, owner: *mut b::module) {
    ops.family = family;
    ops.owner = owner;
    ops.release = Some(release);
    ops.bind = Some(bind);
    ops.connect = Some(connect::<T>);
    ops.socketpair = Some(socketpair);
    ops.accept = Some(accept::<T>);
    ops.getname = Some(getname);
    ops.poll = Some(poll);
    ops.ioctl = Some(ioctl);
    ops.listen = Some(listen::<T>);
    ops.shutdown = Some(shutdown);
    ops.setsockopt = Some(setsockopt);
    ops.getsockopt = Some(getsockopt);
    ops.sendmsg = Some(sendmsg::<T>);
    ops.recvmsg = Some(recvmsg::<T>);
    ops.mmap = Some(mmap);
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
pub(super) fn ret(r: ErrnoResult<()>) -> c_int {
    r.map_or_else(|e| e.to_ret(), |()| 0)
}

fn ret_len(r: ErrnoResult<usize>) -> c_int {
    r.map_or_else(|e| e.to_ret(), |n| n as c_int)
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

fn nonblock(flags: c_int) -> bool {
    flags & b::O_NONBLOCK as c_int != 0
}

/// `close(2)` of the last file reference.
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
    close::release(unsafe { crate::socket::Sock::from_raw(sk) });
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
    ret(bind::bind(&sock, raw))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`, `addr` a kernel copy of `len` bytes.
unsafe extern "C" fn connect<T: SocketType>(sock: *mut b::socket, addr: *mut b::sockaddr, len: c_int, flags: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, raw) = unsafe { (socket(sock), addr_bytes(addr, len)) };
    ret(T::connect(&sock, raw, nonblock(flags)))
}

/// # Safety
///
/// Socket-layer entry point: two valid new sockets of the same type.
unsafe extern "C" fn socketpair(a: *mut b::socket, bb: *mut b::socket) -> c_int {
    // SAFETY: the entry point's contract.
    let (a, bb) = unsafe { (socket(a), socket(bb)) };
    ret(domain::socketpair(&a, &bb))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`, `vma` the area being mapped.
unsafe extern "C" fn mmap(_file: *mut b::file, sock: *mut b::socket, vma: *mut b::vm_area_struct) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, vma) = unsafe { (socket(sock), crate::sys::ring::Vma::from_raw(vma)) };
    let Some(vma) = vma else { return crate::sys::errno::Errno::EINVAL.to_ret() };
    ret(crate::ring::mmap(sock.sk(), &vma))
}

/// # Safety
///
/// Socket-layer entry point: valid listening `sock`, a new `newsock`, `arg`.
unsafe extern "C" fn accept<T: SocketType>(sock: *mut b::socket, newsock: *mut b::socket, arg: *mut b::proto_accept_arg) -> c_int {
    // SAFETY: the entry point's contract; `newsock` has no sk until grafted.
    let (sock, newsock, flags) = unsafe { (socket(sock), NewSocket::from_raw(newsock), (*arg).flags) };
    ret(T::accept(&sock, newsock, nonblock(flags)))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`.
unsafe extern "C" fn listen<T: SocketType>(sock: *mut b::socket, backlog: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let sock = unsafe { socket(sock) };
    ret(T::listen(sock.sk(), backlog))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`; `addr` a kernel sockaddr_storage.
unsafe extern "C" fn getname(sock: *mut b::socket, addr: *mut b::sockaddr, peer: c_int) -> c_int {
    // SAFETY: the entry point's contract: the buffer holds 128 bytes.
    let (sock, out) = unsafe {
        (socket(sock), core::slice::from_raw_parts_mut(addr.cast::<u8>(), size_of::<b::__kernel_sockaddr_storage>()))
    };
    ret_len(bind::getname(sock.sk(), peer != 0, out))
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
    poll::poll_mask(sock.sk(), want_write)
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`; `arg` a user pointer for our commands.
unsafe extern "C" fn ioctl(sock: *mut b::socket, cmd: c_uint, arg: c_ulong) -> c_int {
    // SAFETY: the entry point's contract.
    let sock = unsafe { socket(sock) };
    match domain::ioctl(sock.sk(), cmd) {
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
    ret(close::shutdown(sock.sk(), how))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`; `val` a user or kernel pointer
/// of `len` bytes.
unsafe extern "C" fn setsockopt(sock: *mut b::socket, level: c_int, name: c_int, val: b::sockptr_t, len: c_uint) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, val) = unsafe { (socket(sock), OptVal::from_raw(val, len)) };
    ret(domain::setsockopt(&sock, level, name, &val))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock`; `val` and `len` user pointers.
unsafe extern "C" fn getsockopt(sock: *mut b::socket, level: c_int, name: c_int, val: *mut c_char, len: *mut c_int) -> c_int {
    // SAFETY: the entry point's contract: `val` and `len` are the call's
    // user pointers.
    let (sock, out) = unsafe { (socket(sock), OptOut::from_raw(val, len)) };
    ret(domain::getsockopt(sock.sk(), level, name, &out))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock` and `msg` of a sendmsg call.
unsafe extern "C" fn sendmsg<T: SocketType>(sock: *mut b::socket, msg: *mut b::msghdr, len: usize) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, mut msg) = unsafe { (socket(sock), Msg::from_raw(msg)) };
    ret_len(T::sendmsg(&sock, &mut msg, len))
}

/// # Safety
///
/// Socket-layer entry point: valid `sock` and `msg` of a recvmsg call.
unsafe extern "C" fn recvmsg<T: SocketType>(sock: *mut b::socket, msg: *mut b::msghdr, size: usize, flags: c_int) -> c_int {
    // SAFETY: the entry point's contract.
    let (sock, mut msg) = unsafe { (socket(sock), Msg::from_raw(msg)) };
    ret_len(T::recvmsg(&sock, &mut msg, size, flags as u32))
}
