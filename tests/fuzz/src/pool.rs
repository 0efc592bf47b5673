//! The descriptor pool of one process: 64 slots that every thread calls on,
//! closes, replaces and `dup2`s onto, so that close and reuse race every
//! other call. A slot holds whatever number was last put there, even after
//! another thread closed it or the number was reused: calling on stale
//! numbers is part of the point.
//!
//! Each slot also carries a hint of what was put there (datagram socket,
//! group owner, admitted member, ...) and the group it belongs to. Hints are
//! not kept in step with the descriptor (that would need a lock around every
//! call); they only make operations that need, say, a listening group owner
//! find one much more often than by chance.

use std::sync::atomic::{AtomicI32, AtomicU8, Ordering::Relaxed};

use crate::addr::NGROUPS;
use crate::rng::Rng;
use crate::sys;

pub const SLOTS: usize = 64;

/// What a slot was filled with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Kind {
    Empty,
    /// A datagram socket of the family.
    Dgram,
    /// A seqpacket socket of the family.
    Seq,
    /// The owner of a datagram group.
    DgramOwner,
    /// The (listening) owner of a seqpacket group.
    SeqOwner,
    /// A datagram socket that joined a group.
    Member,
    /// A seqpacket client connected to a group (admitted or not yet).
    SeqClient,
    /// An accepted connection of a seqpacket group's owner.
    Accepted,
    /// Something else: an AF_UNIX or AF_INET socket, a pipe, an eventfd.
    Other,
}

impl Kind {
    fn from_u8(v: u8) -> Kind {
        use Kind::*;
        [Empty, Dgram, Seq, DgramOwner, SeqOwner, Member, SeqClient, Accepted, Other]
            .get(v as usize)
            .copied()
            .unwrap_or(Empty)
    }

    pub fn is_owner(self) -> bool {
        matches!(self, Kind::DgramOwner | Kind::SeqOwner)
    }
}

pub struct Pool {
    fds: [AtomicI32; SLOTS],
    kinds: [AtomicU8; SLOTS],
    groups: [AtomicU8; SLOTS],
    /// Slot of the owner of each group this process created, per type
    /// (datagram groups first).
    owners: [AtomicI32; 2 * NGROUPS],
}

/// The one pool of this process (each worker process has its own: descriptor
/// tables are per process).
pub static POOL: Pool = Pool::new();

impl Pool {
    const fn new() -> Pool {
        Pool {
            fds: [const { AtomicI32::new(-1) }; SLOTS],
            kinds: [const { AtomicU8::new(0) }; SLOTS],
            groups: [const { AtomicU8::new(0) }; SLOTS],
            owners: [const { AtomicI32::new(-1) }; 2 * NGROUPS],
        }
    }

    pub fn fd(&self, slot: usize) -> i32 {
        self.fds[slot].load(Relaxed)
    }

    pub fn kind(&self, slot: usize) -> Kind {
        Kind::from_u8(self.kinds[slot].load(Relaxed))
    }

    pub fn group(&self, slot: usize) -> usize {
        self.groups[slot].load(Relaxed) as usize % NGROUPS
    }

    /// A slot whose hint is one of `want`, found by a few random probes;
    /// otherwise any slot (a wrong kind is a test case too).
    pub fn pick(&self, rng: &mut Rng, want: &[Kind]) -> usize {
        for _ in 0..12 {
            let s = rng.index(SLOTS);
            if want.contains(&self.kind(s)) {
                return s;
            }
        }
        rng.index(SLOTS)
    }

    /// Puts `fd` into a slot, closing what was there (possibly a number that
    /// meanwhile names someone else's descriptor). Owners are evicted less
    /// often than other sockets, so groups live long enough to be used.
    pub fn install(&self, rng: &mut Rng, fd: i32, kind: Kind, group: usize) -> usize {
        let mut slot = rng.index(SLOTS);
        for _ in 0..3 {
            if !self.kind(slot).is_owner() || rng.chance(15) {
                break;
            }
            slot = rng.index(SLOTS);
        }
        self.kinds[slot].store(kind as u8, Relaxed);
        self.groups[slot].store(group as u8, Relaxed);
        let old = self.fds[slot].swap(fd, Relaxed);
        if old >= 0 {
            let _ = sys::close(old);
        }
        slot
    }

    /// Updates a slot's hint (after a `dup2` onto its number).
    pub fn retag(&self, slot: usize, kind: Kind, group: usize) {
        self.kinds[slot].store(kind as u8, Relaxed);
        self.groups[slot].store(group as u8, Relaxed);
    }

    /// Empties a slot; returns the number it held.
    pub fn take(&self, slot: usize) -> i32 {
        self.kinds[slot].store(Kind::Empty as u8, Relaxed);
        self.fds[slot].swap(-1, Relaxed)
    }

    pub fn set_owner(&self, seq: bool, group: usize, slot: usize) {
        self.owners[seq as usize * NGROUPS + group].store(slot as i32, Relaxed);
    }

    /// A group this process owns (a few random probes), if any.
    pub fn live_group(&self, rng: &mut Rng, seq: bool) -> Option<usize> {
        (0..4).map(|_| rng.index(NGROUPS)).find(|&g| self.owner(seq, g).is_some())
    }

    /// The owner of `group` that this process created, if its slot still
    /// looks like one.
    pub fn owner(&self, seq: bool, group: usize) -> Option<usize> {
        let slot = self.owners[seq as usize * NGROUPS + group].load(Relaxed);
        let want = if seq { Kind::SeqOwner } else { Kind::DgramOwner };
        (slot >= 0 && self.kind(slot as usize) == want && self.group(slot as usize) == group).then_some(slot as usize)
    }
}
