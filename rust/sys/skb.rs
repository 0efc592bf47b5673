// SPDX-License-Identifier: GPL-2.0

//! Messages: owned `sk_buff`s and who is charged for them.
//!
//! A message skb carries, in `skb->cb` (`struct mcast_skb_cb`), the sender's
//! credentials, a counted reference to a tag `A` (the family uses the
//! sender's address; this module only counts it) and a counted reference to
//! the descriptors the message passes ([`Fds`], shared by every copy).
//! Whoever holds the skb has a destructor installed that releases them, so
//! they are released exactly once whatever path the skb takes:
//! - while the sender builds it: charged to the sender's SO_SNDBUF
//!   ([`send_destructor`]: `sock_wfree` + release);
//! - a clone not yet queued ([`clone_destructor`]: release);
//! - queued at a receiver: charged to the receiver's SO_RCVBUF
//!   ([`recv_destructor`]: `sock_rfree` + release + wake the senders waiting
//!   for room in that receiver).

use super::bindings as b;
use super::errno::{to_result, Errno, ErrnoResult};
use super::msg::{Creds, Fds, Msg};
use super::sock::{wake_peer_waiters, Sock, Socket};
use core::marker::PhantomData;
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

/// What a message may carry as its tag: shared, immutable, dropped anywhere.
pub(crate) trait Tag: Send + Sync + 'static {}
impl<T: Send + Sync + 'static> Tag for T {}

/// An owned message buffer whose cb carries a counted `Arc<A>` (or none).
pub(crate) struct Skb<A: Tag>(NonNull<b::sk_buff>, PhantomData<Arc<A>>);

// SAFETY: an skb not on any queue is owned by whoever holds this value; the
// kernel hands skbs between CPUs freely, and the tag is `Send + Sync`.
unsafe impl<A: Tag> Send for Skb<A> {}

/// The family's control block of a live skb.
///
/// # Safety
///
/// `skb` is live; the result is valid while it is and may be used only by
/// whoever owns or holds the skb.
unsafe fn cb(skb: *mut b::sk_buff) -> *mut b::mcast_skb_cb {
    // SAFETY: the caller passes a live skb; this only computes the address
    // of its `cb` (the cast fits: see CB_FITS).
    unsafe { ptr::addr_of_mut!((*skb).cb).cast() }
}

/// The family's cb fits in `skb->cb` (the helper's BUILD_BUG_ON says the
/// same on the C side) and needs no more alignment than `cb` has (an skb is
/// allocated 8-aligned and `cb` sits at offset 40).
const CB_FITS: () = {
    assert!(core::mem::size_of::<b::mcast_skb_cb>() <= 48);
    assert!(core::mem::align_of::<b::mcast_skb_cb>() <= 8);
    assert!(core::mem::offset_of!(b::sk_buff, cb) % 8 == 0);
};
#[allow(clippy::let_unit_value)]
const _: () = CB_FITS;

/// Releases what the cb holds: the pid, tag and descriptor references.
///
/// # Safety
///
/// `skb` is live and its cb was filled by this module with tag type `A`
/// (or is all zero).
unsafe fn release_cb<A: Tag>(skb: *mut b::sk_buff) {
    // SAFETY: the caller's contract.
    let cb = unsafe { cb(skb) };
    // SAFETY: the cb's pid reference is owned by the skb; put once here.
    unsafe { b::mcast_skb_put_creds(skb) };
    // SAFETY: `addr` is NULL or came from `Arc::<A>::into_raw` for this skb.
    let tag = unsafe { ptr::replace(ptr::addr_of_mut!((*cb).addr), ptr::null()) };
    if !tag.is_null() {
        // SAFETY: see above; this gives the reference back exactly once.
        drop(unsafe { Arc::<A>::from_raw(tag.cast()) });
    }
    // SAFETY: `fds` is NULL or came from `Arc::<Fds>::into_raw` for this skb.
    let fds = unsafe { ptr::replace(ptr::addr_of_mut!((*cb).fds), ptr::null()) };
    if !fds.is_null() {
        // SAFETY: see above; this gives the reference back exactly once (the
        // last one closes the files in flight).
        drop(unsafe { Arc::<Fds>::from_raw(fds.cast()) });
    }
}

/// The sender's skb is freed.
///
/// # Safety
///
/// Called once by the skb layer, with an skb this module allocated.
unsafe extern "C" fn send_destructor<A: Tag>(skb: *mut b::sk_buff) {
    // SAFETY: called once by the skb layer when the sender's skb is freed.
    unsafe {
        b::sock_wfree(skb);
        release_cb::<A>(skb);
    }
}

/// An unqueued clone is freed.
///
/// # Safety
///
/// Called once by the skb layer, with a clone made by [`Skb::share`].
unsafe extern "C" fn clone_destructor<A: Tag>(skb: *mut b::sk_buff) {
    // SAFETY: called once by the skb layer when an unqueued clone is freed.
    unsafe { release_cb::<A>(skb) };
}

/// A queued message is freed (read, purged or dropped).
///
/// # Safety
///
/// Called once by the skb layer, with an skb queued by [`Skb::deliver`].
unsafe extern "C" fn recv_destructor<A: Tag>(skb: *mut b::sk_buff) {
    // SAFETY: called once when a queued skb is freed; `skb->sk` is the
    // receiver (a sock of the family), alive because its queue (or a
    // reader of it) held the skb.
    unsafe {
        let rx = b::mcast_skb_sk(skb);
        b::sock_rfree(skb);
        release_cb::<A>(skb);
        wake_peer_waiters(rx, POLL_WRITE);
    }
}

impl<A: Tag> Skb<A> {
    /// A buffer for `len` bytes charged to `sk`'s send buffer; waits for room
    /// there unless `nonblock` (then `EAGAIN`), bounded by SO_SNDTIMEO.
    pub(crate) fn alloc<S>(sk: &Sock<S>, len: usize, nonblock: bool) -> ErrnoResult<Skb<A>> {
        let mut err = 0;
        // SAFETY: `sk` is live; sock_alloc_send_pskb handles waiting, signals
        // and the sender's shutdown/error state.
        let skb = unsafe { b::sock_alloc_send_pskb(sk.raw(), len as _, 0, nonblock as _, &mut err, 0) };
        let Some(skb) = NonNull::new(skb) else {
            return Err(to_result(err).err().unwrap_or(Errno::ENOMEM));
        };
        // SAFETY: a fresh skb we own: its cb is zeroed by the allocator, its
        // destructor is sock_wfree, which `send_destructor` calls.
        unsafe {
            b::mcast_skb_set_destructor(skb.as_ptr(), Some(send_destructor::<A>));
            b::skb_put(skb.as_ptr(), len as u32);
        }
        Ok(Skb(skb, PhantomData))
    }

    pub(crate) fn raw(&self) -> *mut b::sk_buff {
        self.0.as_ptr()
    }

    pub(crate) fn len(&self) -> u32 {
        // SAFETY: we own a live skb; skb->len, inline.
        unsafe { (*self.raw()).len }
    }

    /// Copies the message payload from the sender's iterator.
    pub(crate) fn fill(&mut self, msg: &mut Msg<'_>) -> ErrnoResult<()> {
        let len = self.len() as i32;
        // SAFETY: the skb has `len` bytes of linear room (skb_put in alloc);
        // the iterator belongs to the current sendmsg call.
        to_result(unsafe { b::skb_copy_datagram_from_iter(self.raw(), 0, msg.iter(), len) })
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
        // SAFETY: the cb is ours.
        let cb = unsafe { &mut *cb(self.raw()) };
        if !cb.pid.is_null() {
            // SAFETY: the cb's own pid reference, put once (replaced below).
            unsafe { b::mcast_put_pid(cb.pid) };
        }
        // The pid reference moves from `creds` (NULL there now) into the cb,
        // released by our destructors.
        cb.pid = core::mem::take(&mut creds.0.pid);
        cb.uid = creds.0.uid;
        cb.gid = creds.0.gid;
    }

    /// Records the message's tag (the family: the sender's address, for the
    /// receiver's msg_name).
    pub(crate) fn set_tag(&mut self, tag: Option<Arc<A>>) {
        let new = tag.map_or(ptr::null(), |a| Arc::into_raw(a).cast());
        // SAFETY: the skb and its cb are ours; a previous reference (if any)
        // is released.
        let old = unsafe { ptr::replace(ptr::addr_of_mut!((*cb(self.raw())).addr), new) };
        if !old.is_null() {
            // SAFETY: `old` came from `Arc::<A>::into_raw` for this skb.
            drop(unsafe { Arc::<A>::from_raw(old.cast()) });
        }
    }

    /// Attaches the descriptors the message passes (SCM_RIGHTS); every copy
    /// made by [`Skb::share`] shares them.
    pub(crate) fn set_fds(&mut self, fds: Option<Arc<Fds>>) {
        let new = fds.map_or(ptr::null(), |f| Arc::into_raw(f).cast());
        // SAFETY: the skb and its cb are ours; a previous reference (if any)
        // is released.
        let old = unsafe { ptr::replace(ptr::addr_of_mut!((*cb(self.raw())).fds), new) };
        if !old.is_null() {
            // SAFETY: `old` came from `Arc::<Fds>::into_raw` for this skb.
            drop(unsafe { Arc::<Fds>::from_raw(old.cast()) });
        }
    }

    /// Bytes the descriptors the message passes keep alive in flight.
    fn pinned(&self) -> u32 {
        // SAFETY: the cb lives as long as the skb, which we own; `fds` is
        // NULL or a reference the skb holds.
        let fds = unsafe { (*cb(self.raw())).fds };
        if fds.is_null() {
            return 0;
        }
        // SAFETY: see above; the list is immutable.
        let n = unsafe { &*fds.cast::<Fds>() }.count();
        (n * Fds::PINNED_PER_FD) as u32
    }

    /// The tag recorded by [`Skb::set_tag`].
    pub(crate) fn tag(&self) -> Option<&A> {
        // SAFETY: the cb's tag reference lives as long as the skb, which we
        // own; it was made from an `Arc<A>` and is immutable.
        unsafe {
            let tag = (*cb(self.raw())).addr;
            (!tag.is_null()).then(|| &*tag.cast::<A>())
        }
    }

    /// The id of the sending socket ([`Skb::set_sender_id`]).
    pub(crate) fn sender_id(&self) -> u64 {
        // SAFETY: the skb and its cb are ours.
        unsafe { (*cb(self.raw())).sender_id }
    }

    /// The first `n` bytes of the message if they are in its linear part.
    pub(crate) fn linear(&self, n: u32) -> Option<&[u8]> {
        let skb = self.raw();
        // SAFETY: we own the skb; skb->len, skb->data_len and skb->data are
        // plain fields (skb_headlen() = len - data_len); the head holds
        // `headlen` bytes from `data`, immutable while the skb is held (its
        // clones share it read-only).
        unsafe {
            let headlen = (*skb).len - (*skb).data_len;
            (n <= headlen).then(|| core::slice::from_raw_parts((*skb).data, n as usize))
        }
    }

    /// Whether the message passes descriptors.
    pub(crate) fn has_fds(&self) -> bool {
        // SAFETY: the skb and its cb are ours.
        !unsafe { (*cb(self.raw())).fds }.is_null()
    }

    /// Stamps the message with the id of the socket that sends it.
    pub(crate) fn set_sender_id(&mut self, id: u64) {
        // SAFETY: the skb and its cb are ours; a plain value (clones copy it).
        unsafe { (*cb(self.raw())).sender_id = id };
    }

    /// Drops the credentials the message carries (for a receiver that did
    /// not ask for them).
    pub(crate) fn drop_creds(&mut self) {
        // SAFETY: the skb and its cb are ours.
        if unsafe { (*cb(self.raw())).pid }.is_null() {
            return;
        }
        // SAFETY: the skb and its cb are ours; the pid reference is put once
        // and the field cleared.
        unsafe { b::mcast_skb_put_creds(self.raw()) };
    }

    /// Another skb sharing this one's payload, with its own reference to the
    /// tag and to the descriptors, and to the credentials if `creds` (else it carries none).
    /// Does not sleep (GFP_ATOMIC): group fan-out runs under RCU.
    pub(crate) fn share(&self, creds: bool) -> ErrnoResult<Skb<A>> {
        // SAFETY: we own a live skb; skb_clone shares the data and copies cb.
        let clone = unsafe { b::skb_clone(self.raw(), kernel::bindings::GFP_ATOMIC) };
        let clone = NonNull::new(clone).ok_or(Errno::ENOMEM)?;
        let c = clone.as_ptr();
        // SAFETY: the clone has no owner and no destructor yet; take its own
        // references for the copied cb before anything can free it.
        unsafe {
            if creds {
                b::mcast_skb_copy_creds(c, self.raw());
            } else {
                (*cb(c)).pid = ptr::null_mut();
            }
            let tag = (*cb(c)).addr;
            if !tag.is_null() {
                // Another reference for the clone's copy of the pointer.
                let shared = core::mem::ManuallyDrop::new(Arc::<A>::from_raw(tag.cast()));
                core::mem::forget(Arc::clone(&shared));
            }
            let fds = (*cb(c)).fds;
            if !fds.is_null() {
                // Another reference to the shared descriptor list.
                let shared = core::mem::ManuallyDrop::new(Arc::<Fds>::from_raw(fds.cast()));
                core::mem::forget(Arc::clone(&shared));
            }
            b::mcast_skb_set_destructor(c, Some(clone_destructor::<A>));
        }
        Ok(Skb(clone, PhantomData))
    }

    /// Queues the message at `rx`, charging rx's receive buffer for the
    /// message and for the descriptors it passes (their memory stays pinned
    /// until rx reads or drops it). The caller
    /// tells rx's readers ([`Sock::data_ready`]) once it released its locks.
    pub(crate) fn deliver<S: Queued<Tag = A>>(self, rx: &Sock<S>) {
        let skb = self.raw();
        let extra = self.pinned();
        core::mem::forget(self);
        // SAFETY: we own the skb. Its current owner is uncharged first (the
        // sender's wmem via sock_wfree), without releasing the cb, which moves
        // with the skb; then rx owns it (charged with the grown truesize,
        // which sock_rfree uncharges) and `recv_destructor` will release.
        unsafe { b::mcast_skb_deliver(skb, rx.raw(), extra, Some(send_destructor::<A>), Some(recv_destructor::<A>)) };
    }
}

impl<A: Tag> Drop for Skb<A> {
    fn drop(&mut self) {
        // SAFETY: we own the skb; its destructor releases the cb references.
        unsafe { b::mcast_consume_skb(self.raw()) };
    }
}

/// A socket state type whose receive queues hold messages tagged with
/// [`Queued::Tag`] (so a reader knows what the cb of a message it takes
/// carries: [`Skb::deliver`] queues only those).
pub(crate) trait Queued {
    type Tag: Tag;
}

/// A message taken from (or, with MSG_PEEK, still on) a receive queue.
pub(crate) struct Received<'a, S: Queued> {
    skb: NonNull<b::sk_buff>,
    sk: &'a Sock<S>,
}

impl<'a, S: Queued> Received<'a, S> {
    /// Waits for and takes the next message (the kernel's generic datagram
    /// receive: SO_RCVTIMEO, signals, MSG_PEEK, MSG_DONTWAIT, shutdown, errors).
    /// `Ok(None)`: end of file (receive side shut down, queue empty).
    pub(crate) fn next(sk: &'a Sock<S>, flags: u32) -> ErrnoResult<Option<Received<'a, S>>> {
        let mut off = 0;
        let mut err = 0;
        // SAFETY: `sk` is live; the function handles waiting and returns a
        // referenced skb or NULL with `err` set (0 for end of file).
        let skb = unsafe { b::__skb_recv_datagram(sk.raw(), sk.receive_queue(), flags, &mut off, &mut err) };
        match NonNull::new(skb) {
            Some(skb) => Ok(Some(Received { skb, sk })),
            None => to_result(err).map(|()| None),
        }
    }

    fn raw(&self) -> *mut b::sk_buff {
        self.skb.as_ptr()
    }

    pub(crate) fn len(&self) -> u32 {
        // SAFETY: we hold a reference to the skb; skb->len, inline.
        unsafe { (*self.raw()).len }
    }

    /// The tag recorded at send time (see [`Skb::set_tag`]).
    pub(crate) fn tag(&self) -> Option<&S::Tag> {
        // SAFETY: the cb's tag reference lives as long as the skb, which we
        // hold; every skb on a `Sock<S>`'s queue was queued by `deliver`,
        // which takes only `Skb<S::Tag>`; the tag is immutable.
        unsafe {
            let tag = (*cb(self.raw())).addr;
            (!tag.is_null()).then(|| &*tag.cast::<S::Tag>())
        }
    }

    /// The id of the socket that sent the message ([`Skb::set_sender_id`]).
    pub(crate) fn sender_id(&self) -> u64 {
        // SAFETY: the cb lives as long as the skb, which we hold.
        unsafe { (*cb(self.raw())).sender_id }
    }

    /// Copies `len` bytes of the payload into the reader's iterator.
    pub(crate) fn copy_to(&self, msg: &mut Msg<'_>, len: u32) -> ErrnoResult<()> {
        // SAFETY: the skb holds at least `len` bytes (callers clamp to len());
        // the iterator belongs to the current recvmsg call.
        to_result(unsafe { b::skb_copy_datagram_iter(self.raw(), 0, msg.iter(), len as i32) })
    }

    /// Ancillary data for the reader: SCM_CREDENTIALS with SO_PASSCRED,
    /// SO_RXQ_OVFL (drop count) and timestamps as the reader asked, and the
    /// descriptors the message passes, installed as new descriptors of the
    /// reader (a fresh set on every read, MSG_PEEK included).
    pub(crate) fn put_cmsgs(&self, sock: &Socket<S>, msg: &mut Msg<'_>, flags: u32) {
        // SAFETY: the cb lives as long as the skb, which we hold; `fds` is
        // NULL or a reference the skb holds.
        let fds = unsafe { (*cb(self.raw())).fds };
        // SAFETY: see above; the list is immutable.
        let fds = (!fds.is_null()).then(|| unsafe { &*fds.cast::<Fds>() });
        // SAFETY: valid socket/message of the current recvmsg; the creds
        // helper takes its own pid reference for the cookie and puts it back,
        // and installs a copy of the descriptor list (its own file
        // references), leaving the message's list as it is; sock_recv_cmsgs
        // reads the skb we hold.
        unsafe {
            b::mcast_recv_cmsgs(msg.raw(), sock.sk().raw(), self.raw());
            b::mcast_scm_recv(sock.raw(), msg.raw(), self.raw(), flags as i32, fds.map_or(ptr::null_mut(), Fds::raw));
        }
    }
}

impl<S: Queued> Drop for Received<'_, S> {
    fn drop(&mut self) {
        // SAFETY: we hold the reference __skb_recv_datagram gave us.
        unsafe { b::skb_free_datagram(self.sk.raw(), self.raw()) };
    }
}

impl<A: Tag> Skb<A> {
    /// How many bytes of the message `rx`'s own socket filter keeps (0: it
    /// rejects it; `u32::MAX`: no filter). The message is not changed, so
    /// a group message is filtered for each member before it is cloned.
    pub(crate) fn kept_by<S>(&mut self, rx: &Sock<S>) -> u32 {
        // SAFETY: `rx` is live and the skb ours; the helper points skb->sk at
        // rx for the run (as sk_filter_trim_cap does) and restores it.
        unsafe { b::mcast_sk_filter_keep(rx.raw(), self.raw()) }
    }

    /// Cuts the message to `len` bytes (a filter's verdict).
    pub(crate) fn trim(&mut self, len: u32) -> ErrnoResult<()> {
        if len >= self.len() {
            return Ok(());
        }
        // SAFETY: we own the skb; pskb_trim unshares cloned data first.
        to_result(unsafe { b::mcast_skb_trim(self.raw(), len) })
    }

    /// Runs `rx`'s socket filter (SO_ATTACH_FILTER/SO_ATTACH_BPF) on the
    /// message in the sender's context: false if the filter rejects it (it
    /// may also trim the message to what the filter returned).
    pub(crate) fn passes_filter<S>(&mut self, rx: &Sock<S>) -> bool {
        // SAFETY: `rx` is live and the skb ours; sk_filter_trim_cap reads the
        // filter under RCU and may trim the skb.
        unsafe { b::sk_filter_trim_cap(rx.raw(), self.raw(), 1) == 0 }
    }
}
