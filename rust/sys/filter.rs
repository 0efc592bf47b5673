// SPDX-License-Identifier: GPL-2.0

//! Peer filters: classic BPF programs the group owner attaches to an
//! accepted seqpacket connection (MCAST_UNIX_PEER_FILTER). Built and run by
//! the kernel's own BPF machinery, like SO_ATTACH_FILTER programs.

use super::bindings as b;
use super::errno::{to_result, Errno, ErrnoResult};
use super::msg::OptVal;
use super::skb::{Skb, Tag};
use core::ptr::{self, NonNull};

/// A checked, ready-to-run classic BPF program.
pub(crate) struct PeerFilter(NonNull<b::bpf_prog>);

// SAFETY: a bpf_prog is immutable once created and may run on any CPU.
unsafe impl Send for PeerFilter {}
// SAFETY: as for `Send`.
unsafe impl Sync for PeerFilter {}

impl PeerFilter {
    /// Builds the program the option value (a `struct sock_fprog`)
    /// describes: `EINVAL` if malformed, `EFAULT` for a bad pointer.
    pub(crate) fn from_user(val: &OptVal) -> ErrnoResult<PeerFilter> {
        let mut prog = val.fprog()?;
        let mut out = ptr::null_mut();
        // SAFETY: the instructions are copied from the user pointer and
        // checked by the kernel; on success we own the program.
        let err = unsafe { b::bpf_prog_create_from_user(&mut out, &mut prog, None, false) };
        to_result(err)?;
        NonNull::new(out).map(PeerFilter).ok_or(Errno::EINVAL)
    }

    /// How many bytes of the message the program keeps (0: it rejects it).
    /// The message itself is not changed.
    pub(crate) fn keeps<A: Tag>(&self, skb: &mut Skb<A>) -> u32 {
        // SAFETY: the program is live while we hold `self`; the skb is ours
        // and the run restores the cb it may use.
        unsafe { b::mcast_prog_keep(self.0.as_ptr(), skb.raw()) }
    }
}

impl Drop for PeerFilter {
    fn drop(&mut self) {
        // SAFETY: we own the program; readers that ran it did so under RCU
        // and the member list holding it was freed after a grace period.
        unsafe { b::bpf_prog_destroy(self.0.as_ptr()) }
    }
}
