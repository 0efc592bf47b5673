// SPDX-License-Identifier: GPL-2.0

//! The `struct msghdr` of a sendmsg/recvmsg call.

use super::bindings as b;
use crate::address::{Address, SOCKADDR_MAX};
use core::ptr;

/// Message flags the family looks at.
pub(crate) const MSG_OOB: u32 = b::MSG_OOB;
pub(crate) const MSG_TRUNC: u32 = b::MSG_TRUNC;
pub(crate) const MSG_DONTWAIT: u32 = b::MSG_DONTWAIT;

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
        let len = (self.0.msg_namelen.max(0) as usize).min(128);
        // SAFETY: in sendmsg the socket layer copied the address into a
        // kernel sockaddr_storage (128 bytes) and msg_namelen <= 128.
        Some(unsafe { core::slice::from_raw_parts(self.0.msg_name.cast::<u8>(), len) })
    }

    /// Reports the sender's address to recvmsg (nothing for an unnamed one).
    pub(crate) fn set_source(&mut self, addr: Option<&Address>) {
        if self.0.msg_name.is_null() {
            return;
        }
        match addr {
            Some(a) => {
                let bytes = a.as_bytes();
                debug_assert!(bytes.len() <= SOCKADDR_MAX + 1);
                // SAFETY: in recvmsg msg_name points to a kernel
                // sockaddr_storage of 128 bytes; the address is at most 111.
                unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.0.msg_name.cast::<u8>(), bytes.len()) };
                self.0.msg_namelen = bytes.len() as i32;
            }
            None => self.0.msg_namelen = 0,
        }
    }

    pub(crate) fn add_flags(&mut self, flags: u32) {
        self.0.msg_flags |= flags;
    }

    /// The message carries SCM_RIGHTS (file descriptors).
    pub(crate) fn has_rights(&mut self) -> bool {
        // SAFETY: the control buffer of sendmsg is a kernel copy, walked with
        // the kernel's own CMSG macros inside the helper.
        unsafe { b::mcast_msg_has_rights(self.0) }
    }
}
