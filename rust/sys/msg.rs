// SPDX-License-Identifier: GPL-2.0

//! The `struct msghdr` of a sendmsg/recvmsg call.

use super::bindings as b;
use super::errno::{to_result, Errno, ErrnoResult};
use super::sock::Socket;
use core::mem::size_of;
use core::ptr::{self, NonNull};
use kernel::ffi::{c_char, c_int};

/// The message header of the current call; lives as long as the call.
pub(crate) struct Msg<'a>(&'a mut b::msghdr);

impl<'a> Msg<'a> {
    /// # Safety
    ///
    /// `msg` is the valid header of the current sendmsg/recvmsg call, whose
    /// `msg_name` (if not NULL) points to a kernel `sockaddr_storage`.
    pub(crate) unsafe fn from_raw(msg: *mut b::msghdr) -> Msg<'a> {
        // SAFETY: guaranteed by the caller.
        Msg(unsafe { &mut *msg })
    }

    pub(crate) fn raw(&mut self) -> *mut b::msghdr {
        self.0
    }

    pub(crate) fn iter(&mut self) -> *mut b::iov_iter {
        &mut self.0.msg_iter
    }

    /// msg_flags of a sendmsg call (MSG_DONTWAIT set for non-blocking files).
    pub(crate) fn flags(&self) -> u32 {
        self.0.msg_flags
    }

    /// Destination given to sendmsg (`msg_name`), as raw sockaddr bytes.
    pub(crate) fn dest(&self) -> Option<&[u8]> {
        if self.0.msg_name.is_null() {
            return None;
        }
        let len = (self.0.msg_namelen.max(0) as usize).min(size_of::<b::__kernel_sockaddr_storage>());
        // SAFETY: in sendmsg the socket layer copied the address into a
        // kernel sockaddr_storage (128 bytes) and msg_namelen <= 128.
        Some(unsafe { core::slice::from_raw_parts(self.0.msg_name.cast::<u8>(), len) })
    }

    /// Reports the sender's address to recvmsg as raw sockaddr bytes
    /// (nothing for an unnamed sender; at most a `sockaddr_storage`).
    pub(crate) fn set_source(&mut self, addr: Option<&[u8]>) {
        if self.0.msg_name.is_null() {
            return;
        }
        let bytes = addr.unwrap_or(&[]);
        let n = bytes.len().min(size_of::<b::__kernel_sockaddr_storage>());
        // SAFETY: in recvmsg msg_name points to a kernel sockaddr_storage
        // and at most its size is copied.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.0.msg_name.cast::<u8>(), n) };
        self.0.msg_namelen = n as i32;
    }

    pub(crate) fn add_flags(&mut self, flags: u32) {
        self.0.msg_flags |= flags;
    }

    /// Adds ancillary data for recvmsg (`level`, `ty`, `data`); without
    /// room the kernel sets MSG_CTRUNC, as for any other control message.
    pub(crate) fn put_cmsg(&mut self, level: i32, ty: i32, data: &[u8]) {
        // SAFETY: the header of the current recvmsg call; put_cmsg copies
        // `data.len()` bytes from our buffer to the user's control buffer.
        unsafe { b::put_cmsg(self.0, level, ty, data.len() as i32, data.as_ptr() as *mut _) };
    }

    /// Parses the ancillary data of a sendmsg call, header by header with
    /// the kernel's own parser (`EINVAL` on a malformed header, `EPERM` for
    /// credentials the caller may not claim) but for SCM_RIGHTS, which the
    /// helper takes itself (`EINVAL` beyond 253 descriptors, `EBADF` for one
    /// not open, `EOPNOTSUPP` for a socket or an io_uring instance): the
    /// explicit SCM_CREDENTIALS and the descriptors, if any.
    pub(crate) fn parse_cmsgs<S>(&mut self, sock: &Socket<S>) -> ErrnoResult<Ancillary> {
        if self.0.msg_controllen == 0 {
            // Nothing to parse: what the helper returns for no control data,
            // without the call (this is every plain send).
            return Ok(Ancillary { creds: Creds::none(), fds: None });
        }
        let mut creds = Creds::none();
        let mut fds = ptr::null_mut();
        // SAFETY: socket and message of the current sendmsg call; the helper
        // leaves a pid reference (or NULL) in `creds`, which `Creds` owns, and
        // on success a list of file references (or NULL) in `fds`, which
        // `Fds` owns; on error it has released both.
        let err = unsafe { b::mcast_scm_parse(sock.raw(), self.0, &mut creds.0, &mut fds) };
        to_result(err)?;
        Ok(Ancillary { creds, fds: NonNull::new(fds).map(Fds) })
    }
}

/// What the ancillary data of a sendmsg call passes.
pub(crate) struct Ancillary {
    pub(crate) creds: Creds,
    pub(crate) fds: Option<Fds>,
}

/// Explicit credentials a sender passed (SCM_CREDENTIALS), checked by the
/// kernel; empty when it passed none. Owns a pid reference.
pub(crate) struct Creds(pub(super) b::mcast_creds);

// SAFETY: a pid reference may be dropped on any thread.
unsafe impl Send for Creds {}

impl Creds {
    /// No explicit credentials: no pid, and the invalid ids scm_send()
    /// leaves (a receiver that turns SO_PASSCRED on later reads the overflow
    /// ids).
    fn none() -> Creds {
        Creds(b::mcast_creds {
            pid: ptr::null_mut(),
            uid: b::kuid_t { val: u32::MAX },
            gid: b::kgid_t { val: u32::MAX },
        })
    }
}

impl Drop for Creds {
    fn drop(&mut self) {
        if !self.0.pid.is_null() {
            // SAFETY: a reference this value owns (the skb takes it over by
            // setting the field to NULL).
            unsafe { b::mcast_put_pid(self.0.pid) };
        }
    }
}

/// Descriptors a sender passed (SCM_RIGHTS): a `struct scm_fp_list` holding
/// one reference to each file (1 to 253 of them), freed with it. Never
/// changed once made: readers install copies of their own.
pub(crate) struct Fds(NonNull<b::scm_fp_list>);

// SAFETY: the list is immutable; file references may be dropped on any
// thread and in atomic context (fput defers the final release), as may the
// list's user reference (free_uid).
unsafe impl Send for Fds {}
// SAFETY: shared access only reads the list.
unsafe impl Sync for Fds {}

impl Fds {
    /// How many descriptors the list holds.
    pub(crate) fn count(&self) -> usize {
        // SAFETY: we own a live list; `count` is not changed after parsing.
        unsafe { (*self.0.as_ptr()).count as usize }
    }

    /// Memory each passed descriptor keeps alive while it is in flight (its
    /// `struct file` and the list's pointer to it), charged to receivers.
    pub(crate) const PINNED_PER_FD: usize = size_of::<b::file>() + size_of::<*mut b::file>();

    pub(super) fn raw(&self) -> *mut b::scm_fp_list {
        self.0.as_ptr()
    }
}

impl Drop for Fds {
    fn drop(&mut self) {
        // SAFETY: we own the list and every reference in it; freed once.
        unsafe { b::mcast_fds_free(self.0.as_ptr()) };
    }
}

/// The value of a setsockopt call: a user (or kernel) pointer and a length.
pub(crate) struct OptVal {
    ptr: b::sockptr_t,
    len: u32,
}

impl OptVal {
    /// # Safety
    ///
    /// `ptr`/`len` are the value arguments of the current setsockopt call.
    pub(crate) unsafe fn from_raw(ptr: b::sockptr_t, len: u32) -> OptVal {
        OptVal { ptr, len }
    }

    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Copies up to `buf.len()` bytes of the value (fewer if it is shorter)
    /// into `buf`: the bytes copied, `EFAULT` for a bad pointer.
    pub(crate) fn read<'b>(&self, buf: &'b mut [u8]) -> ErrnoResult<&'b [u8]> {
        let n = self.len().min(buf.len());
        // SAFETY: copy_from_sockptr checks a user pointer itself and copies
        // at most `n` bytes into our buffer.
        if unsafe { b::mcast_copy_from_sockptr(buf.as_mut_ptr().cast(), self.ptr, n) } != 0 {
            return Err(Errno::EFAULT);
        }
        Ok(&buf[..n])
    }

    /// The `struct sock_fprog` the value holds, in the caller's ABI (the
    /// kernel's `copy_bpf_fprog_from_user` reads the 32-bit layout for
    /// compat callers): `EINVAL` if too short, `EFAULT` for a bad pointer.
    pub(crate) fn fprog(&self) -> ErrnoResult<b::sock_fprog> {
        // SAFETY: all-zero is a valid sock_fprog.
        let mut prog: b::sock_fprog = unsafe { core::mem::zeroed() };
        // SAFETY: the helper checks the length and the user pointer itself.
        let err = unsafe { b::copy_bpf_fprog_from_user(&mut prog, self.ptr, self.len as i32) };
        to_result(err).map(|()| prog)
    }
}

/// Where a getsockopt call wants its value: a user buffer and its length.
pub(crate) struct OptOut {
    val: *mut c_char,
    len: *mut c_int,
}

impl OptOut {
    /// # Safety
    ///
    /// `val`/`len` are the user pointers of the current getsockopt call.
    pub(crate) unsafe fn from_raw(val: *mut c_char, len: *mut c_int) -> OptOut {
        OptOut { val, len }
    }

    /// Copies the value out as getsockopt does for SOL_SOCKET: `EINVAL` for
    /// a negative length, at most the caller's length, which is set to what
    /// was copied; `EFAULT` for a bad pointer.
    pub(crate) fn put(&self, value: &[u8]) -> ErrnoResult<()> {
        // SAFETY: the helper checks both user pointers itself and reads
        // `value.len()` bytes of our buffer.
        to_result(unsafe { b::mcast_getsockopt_put(self.val, self.len, value.as_ptr().cast(), value.len() as c_int) })
    }
}
