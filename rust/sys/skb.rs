// SPDX-License-Identifier: GPL-2.0

//! Messages: owned `sk_buff`s and who is charged for them.
//!
//! A message skb carries, in `skb->cb` (`struct mcast_skb_cb`), the sender's
//! credentials and a counted reference to its address. Whoever holds the skb
//! has a destructor installed that releases both, so they are released
//! exactly once whatever path the skb takes:
//! - while the sender builds it: charged to the sender's SO_SNDBUF
//!   ([`send_destructor`]: `sock_wfree` + release);
//! - a clone not yet queued ([`clone_destructor`]: release);
//! - queued at a receiver: charged to the receiver's SO_RCVBUF
//!   ([`recv_destructor`]: `sock_rfree` + release + wake the senders waiting
//!   for room in that receiver).

use super::bindings as b;
use super::errno::{Errno, KResult};
use super::msg::{Creds, Msg};
use super::sock::{Sock, Socket};
use crate::address::Address;
use core::ptr::{self, NonNull};
use kernel::sync::Arc;

/// Poll bits (uapi `eventpoll.h` values; bindgen cannot read the
/// `__poll_t`-cast macros).
pub(crate) mod pollbits {
    pub(crate) const EPOLLIN: u32 = 0x0001;
    pub(crate) const EPOLLOUT: u32 = 0x0004;
    pub(crate) const EPOLLERR: u32 = 0x0008;
    pub(crate) const EPOLLHUP: u32 = 0x0010;
    pub(crate) const EPOLLRDNORM: u32 = 0x0040;
    pub(crate) const EPOLLWRNORM: u32 = 0x0100;
    pub(crate) const EPOLLWRBAND: u32 = 0x0200;
    pub(crate) const EPOLLRDHUP: u32 = 0x2000;
}

/// Poll bits that tell a blocked sender to try again.
pub(crate) const POLL_WRITE: u32 = pollbits::EPOLLOUT | pollbits::EPOLLWRNORM | pollbits::EPOLLWRBAND;

/// An owned message buffer.
pub(crate) struct Skb(NonNull<b::sk_buff>);

// SAFETY: an skb not on any queue is owned by whoever holds this value; the
// kernel hands skbs between CPUs freely.
unsafe impl Send for Skb {}

fn cb(skb: *mut b::sk_buff) -> *mut b::mcast_skb_cb {
    // SAFETY: returns a pointer into skb->cb of a live skb (BUILD_BUG_ON in
    // the helper checks the size).
    unsafe { b::mcast_skb_cb(skb) }
}

/// Releases what the cb holds: the pid reference and the address reference.
///
/// # Safety
///
/// `skb` is live and its cb was filled by this module (or is all zero).
unsafe fn release_cb(skb: *mut b::sk_buff) {
    let cb = cb(skb);
    // SAFETY: the cb's pid reference is owned by the skb; put once here.
    unsafe { b::mcast_skb_put_creds(skb) };
    // SAFETY: `addr` is NULL or came from `Arc::into_raw` for this skb.
    let addr = unsafe { ptr::replace(ptr::addr_of_mut!((*cb).addr), ptr::null()) };
    if !addr.is_null() {
        // SAFETY: see above; this gives the reference back exactly once.
        drop(unsafe { Arc::<Address>::from_raw(addr.cast()) });
    }
}

/// The sender's skb is freed.
///
/// # Safety
///
/// Called once by the skb layer, with an skb this module allocated.
unsafe extern "C" fn send_destructor(skb: *mut b::sk_buff) {
    // SAFETY: called once by the skb layer when the sender's skb is freed.
    unsafe {
        b::sock_wfree(skb);
        release_cb(skb);
    }
}

/// An unqueued clone is freed.
///
/// # Safety
///
/// Called once by the skb layer, with a clone made by [`Skb::share`].
unsafe extern "C" fn clone_destructor(skb: *mut b::sk_buff) {
    // SAFETY: called once by the skb layer when an unqueued clone is freed.
    unsafe { release_cb(skb) };
}

/// A queued message is freed (read, purged or dropped).
///
/// # Safety
///
/// Called once by the skb layer, with an skb queued by [`Skb::deliver`].
unsafe extern "C" fn recv_destructor(skb: *mut b::sk_buff) {
    // SAFETY: called once when a queued skb is freed; `skb->sk` is the
    // receiver, alive because its queue (or a reader of it) held the skb.
    unsafe {
        let rx = b::mcast_skb_sk(skb);
        b::sock_rfree(skb);
        release_cb(skb);
        Sock::from_raw(rx).peer_wait().wake(POLL_WRITE);
    }
}

impl Skb {
    /// A buffer for `len` bytes charged to `sk`'s send buffer; waits for room
    /// there unless `nonblock` (then `EAGAIN`), bounded by SO_SNDTIMEO.
    pub(crate) fn alloc(sk: &Sock, len: usize, nonblock: bool) -> KResult<Skb> {
        let mut err = 0;
        // SAFETY: `sk` is live; sock_alloc_send_pskb handles waiting, signals
        // and the sender's shutdown/error state.
        let skb = unsafe { b::sock_alloc_send_pskb(sk.raw(), len as _, 0, nonblock as _, &mut err, 0) };
        let Some(skb) = NonNull::new(skb) else {
            return Err(Errno::from_ret(err).unwrap_or(Errno::ENOMEM));
        };
        // SAFETY: a fresh skb we own: its cb is zeroed by the allocator, its
        // destructor is sock_wfree, which `send_destructor` calls.
        unsafe {
            b::mcast_skb_set_destructor(skb.as_ptr(), Some(send_destructor));
            b::skb_put(skb.as_ptr(), len as u32);
        }
        Ok(Skb(skb))
    }

    pub(crate) fn raw(&self) -> *mut b::sk_buff {
        self.0.as_ptr()
    }

    pub(crate) fn len(&self) -> u32 {
        // SAFETY: we own a live skb.
        unsafe { b::mcast_skb_len(self.raw()) }
    }

    /// Copies the message payload from the sender's iterator.
    pub(crate) fn fill(&mut self, msg: &mut Msg<'_>) -> KResult<()> {
        let len = self.len() as i32;
        // SAFETY: the skb has `len` bytes of linear room (skb_put in alloc);
        // the iterator belongs to the current sendmsg call.
        let err = unsafe { b::skb_copy_datagram_from_iter(self.raw(), 0, msg.iter(), len) };
        Errno::from_ret(err).map_or(Ok(()), Err)
    }

    /// Attaches the caller's credentials unless the message already carries
    /// explicit ones (af_unix's unix_maybe_add_creds).
    pub(crate) fn add_own_creds(&mut self) {
        // SAFETY: the cb is ours; the helper takes a pid reference that our
        // destructors release.
        unsafe { b::mcast_skb_add_creds(self.raw()) }
    }

    /// Records explicit SCM_CREDENTIALS the sender passed (see
    /// [`Msg::parse_cmsgs`]); without them the message has none yet.
    pub(crate) fn set_creds(&mut self, mut creds: Creds) {
        // SAFETY: the cb is ours; the helper moves the pid reference from
        // `creds` (leaving NULL there) into the cb, released by our destructors.
        unsafe { b::mcast_skb_set_creds(self.raw(), &mut creds.0) };
    }

    /// Records the sender's address for the receiver's msg_name.
    pub(crate) fn set_sender(&mut self, addr: Option<Arc<Address>>) {
        let cb = cb(self.raw());
        let new = addr.map_or(ptr::null(), |a| Arc::into_raw(a).cast());
        // SAFETY: the cb is ours; a previous reference (if any) is released.
        let old = unsafe { ptr::replace(ptr::addr_of_mut!((*cb).addr), new) };
        if !old.is_null() {
            // SAFETY: `old` came from `Arc::into_raw` for this skb.
            drop(unsafe { Arc::<Address>::from_raw(old.cast()) });
        }
    }

    /// Another skb sharing this one's payload, with its own references to the
    /// credentials and address.
    /// Does not sleep (GFP_ATOMIC): group fan-out runs under RCU.
    pub(crate) fn share(&self) -> KResult<Skb> {
        // SAFETY: we own a live skb; skb_clone shares the data and copies cb.
        let clone = unsafe { b::skb_clone(self.raw(), kernel::bindings::GFP_ATOMIC) };
        let clone = NonNull::new(clone).ok_or(Errno::ENOMEM)?;
        let c = clone.as_ptr();
        // SAFETY: the clone has no owner and no destructor yet; take its own
        // references for the copied cb before anything can free it.
        unsafe {
            b::mcast_skb_copy_creds(c, self.raw());
            let addr = (*cb(c)).addr;
            if !addr.is_null() {
                // Another reference for the clone's copy of the pointer.
                let shared = core::mem::ManuallyDrop::new(Arc::<Address>::from_raw(addr.cast()));
                core::mem::forget(Arc::clone(&shared));
            }
            b::mcast_skb_set_destructor(c, Some(clone_destructor));
        }
        Ok(Skb(clone))
    }

    /// Queues the message at `rx`, charging rx's receive buffer, and tells
    /// its readers.
    pub(crate) fn deliver(self, rx: &Sock) {
        let skb = self.raw();
        core::mem::forget(self);
        // SAFETY: we own the skb. Its current owner is uncharged first (the
        // sender's wmem via sock_wfree), without releasing the cb, which moves
        // with the skb; then rx owns it and `recv_destructor` will release.
        unsafe { b::mcast_skb_deliver(skb, rx.raw(), Some(send_destructor), Some(recv_destructor)) };
        rx.data_ready();
    }
}

impl Drop for Skb {
    fn drop(&mut self) {
        // SAFETY: we own the skb; its destructor releases the cb references.
        unsafe { b::mcast_consume_skb(self.raw()) };
    }
}

/// A message taken from (or, with MSG_PEEK, still on) a receive queue.
pub(crate) struct Received<'a> {
    skb: NonNull<b::sk_buff>,
    sk: &'a Sock,
}

impl<'a> Received<'a> {
    /// Waits for and takes the next message (the kernel's generic datagram
    /// receive: SO_RCVTIMEO, signals, MSG_PEEK, MSG_DONTWAIT, shutdown, errors).
    /// `Ok(None)`: end of file (receive side shut down, queue empty).
    pub(crate) fn next(sk: &'a Sock, flags: u32) -> KResult<Option<Received<'a>>> {
        let mut off = 0;
        let mut err = 0;
        // SAFETY: `sk` is live; the function handles waiting and returns a
        // referenced skb or NULL with `err` set (0 for end of file).
        let skb = unsafe { b::__skb_recv_datagram(sk.raw(), sk.receive_queue(), flags, &mut off, &mut err) };
        match NonNull::new(skb) {
            Some(skb) => Ok(Some(Received { skb, sk })),
            None => match Errno::from_ret(err) {
                Some(e) => Err(e),
                None => Ok(None),
            },
        }
    }

    fn raw(&self) -> *mut b::sk_buff {
        self.skb.as_ptr()
    }

    pub(crate) fn len(&self) -> u32 {
        // SAFETY: we hold a reference to the skb.
        unsafe { b::mcast_skb_len(self.raw()) }
    }

    /// The sender's address recorded at send time.
    pub(crate) fn sender(&self) -> Option<&Address> {
        // SAFETY: the cb's address reference lives as long as the skb, which
        // we hold; the address is immutable.
        unsafe {
            let addr = (*cb(self.raw())).addr;
            (!addr.is_null()).then(|| &*addr.cast::<Address>())
        }
    }

    /// Copies `len` bytes of the payload into the reader's iterator.
    pub(crate) fn copy_to(&self, msg: &mut Msg<'_>, len: u32) -> KResult<()> {
        // SAFETY: the skb holds at least `len` bytes (callers clamp to len());
        // the iterator belongs to the current recvmsg call.
        let err = unsafe { b::skb_copy_datagram_iter(self.raw(), 0, msg.iter(), len as i32) };
        Errno::from_ret(err).map_or(Ok(()), Err)
    }

    /// Ancillary data for the reader: SCM_CREDENTIALS with SO_PASSCRED,
    /// SO_RXQ_OVFL (drop count) and timestamps as the reader asked.
    pub(crate) fn put_cmsgs(&self, sock: &Socket, msg: &mut Msg<'_>, flags: u32) {
        // SAFETY: valid socket/message of the current recvmsg; the creds
        // helper takes its own pid reference for the cookie and puts it back;
        // sock_recv_cmsgs reads the skb we hold.
        unsafe {
            b::mcast_recv_cmsgs(msg.raw(), sock.sk().raw(), self.raw());
            b::mcast_scm_recv(sock.raw(), msg.raw(), self.raw(), flags as i32);
        }
    }
}

impl Drop for Received<'_> {
    fn drop(&mut self) {
        // SAFETY: we hold the reference __skb_recv_datagram gave us.
        unsafe { b::skb_free_datagram(self.sk.raw(), self.raw()) };
    }
}

impl Skb {
    /// How many bytes of the message `rx`'s own socket filter keeps (0: it
    /// rejects it; `u32::MAX`: no filter). The message is not changed, so
    /// a group message is filtered for each member before it is cloned.
    pub(crate) fn kept_by(&mut self, rx: &Sock) -> u32 {
        // SAFETY: `rx` is live and the skb ours; the helper points skb->sk at
        // rx for the run (as sk_filter_trim_cap does) and restores it.
        unsafe { b::mcast_sk_filter_keep(rx.raw(), self.raw()) }
    }

    /// Cuts the message to `len` bytes (a filter's verdict).
    pub(crate) fn trim(&mut self, len: u32) -> KResult<()> {
        if len >= self.len() {
            return Ok(());
        }
        // SAFETY: we own the skb; pskb_trim unshares cloned data first.
        let err = unsafe { b::mcast_skb_trim(self.raw(), len) };
        Errno::from_ret(err).map_or(Ok(()), Err)
    }

    /// Runs `rx`'s socket filter (SO_ATTACH_FILTER/SO_ATTACH_BPF) on the
    /// message in the sender's context: false if the filter rejects it (it
    /// may also trim the message to what the filter returned).
    pub(crate) fn passes_filter(&mut self, rx: &Sock) -> bool {
        // SAFETY: `rx` is live and the skb ours; sk_filter_trim_cap reads the
        // filter under RCU and may trim the skb.
        unsafe { b::sk_filter_trim_cap(rx.raw(), self.raw(), 1) == 0 }
    }
}
