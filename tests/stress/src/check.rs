//! The conservation checks: pure functions over what the senders logged and
//! what the members received, so they are tested on the host too.
//!
//! Vocabulary:
//! - a **send log** has one outcome per sequence number of one sender (every
//!   attempt takes the next number, failed or not);
//! - a **segment** is what one socket received during one membership: from
//!   the join (or admission) to the leave, SHUT_RD, kick, close or the end of
//!   the run. `during` was read before the membership ended, `after` after
//!   the leave/SHUT_RD returned;
//! - the **reference** is the sequence of a whole-run blocking member that
//!   sends nothing: it must hold every successful send, so every other
//!   member's sequence is compared with it;
//! - a member's **policy** for a sender says what it may do with that
//!   sender's messages: get every one (`Must`), get none (`Never`: its own
//!   messages without LOOPBACK), or miss some, each counted in its drop
//!   counter (`MayDrop`: everything at a DROP_WHEN_FULL member, and its own
//!   messages with LOOPBACK: the contract lets a sender's own copy be dropped
//!   and counted when its queue is full, rather than make it wait for
//!   itself).

use std::collections::{HashMap, HashSet};

/// (sender, sequence number).
pub type Id = (u16, u32);

/// One sender's outcomes, indexed by sequence number: Ok or the errno.
#[derive(Clone, Debug, Default)]
pub struct SendLog {
    pub sender: u16,
    pub outcomes: Vec<Result<(), i32>>,
}

impl SendLog {
    pub fn new(sender: u16) -> SendLog {
        SendLog { sender, outcomes: Vec::new() }
    }

    /// The sequence number for the next attempt.
    pub fn next_seq(&self) -> u32 {
        self.outcomes.len() as u32
    }

    pub fn record(&mut self, r: Result<(), i32>) {
        self.outcomes.push(r);
    }

    pub fn successes(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_ok()).count()
    }
}

/// One received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rx {
    pub id: Id,
    /// The sender's clock ticket, taken just before its send call.
    pub stamp: u64,
    /// The SO_RXQ_OVFL value attached to it (the kernel attaches none while
    /// the counter is 0, so None means 0).
    pub ovfl: Option<u32>,
}

/// See the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Must,
    Never,
    MayDrop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Holds senders back when full: must receive everything while a member.
    Blocking,
    /// MCAST_UNIX_DROP_WHEN_FULL: may miss messages, each one counted.
    DropWhenFull,
}

/// How a membership ended, with the clock ticket taken right after the call
/// that ended it returned (for those after which nothing new may arrive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Still a member when the run ended (read up to the sentinel).
    Stayed,
    /// Closed (nothing can be read afterwards).
    Close,
    Leave(u64),
    ShutRd(u64),
    /// The seqpacket owner closed the member's accepted socket.
    Kicked(u64),
}

impl End {
    fn ticket(self) -> Option<u64> {
        match self {
            End::Leave(t) | End::ShutRd(t) | End::Kicked(t) => Some(t),
            End::Stayed | End::Close => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Segment {
    pub name: String,
    pub mode: Mode,
    /// A member from before the first send until the sentinel.
    pub whole_run: bool,
    /// A new socket: its drop counter was 0 when it joined.
    pub fresh: bool,
    /// Its own sender ids, whose messages it does not get (no LOOPBACK).
    pub excluded: Vec<u16>,
    /// Its own sender ids with LOOPBACK: those copies may be dropped (and
    /// counted).
    pub counted: Vec<u16>,
    pub during: Vec<Rx>,
    pub after: Vec<Rx>,
    pub end: End,
    /// Read through a receive ring (`RxRing`) instead of recvmsg.
    pub ring: bool,
}

impl Segment {
    pub fn new(name: impl Into<String>, mode: Mode, whole_run: bool, fresh: bool) -> Segment {
        Segment {
            name: name.into(),
            mode,
            whole_run,
            fresh,
            excluded: Vec::new(),
            counted: Vec::new(),
            during: Vec::new(),
            after: Vec::new(),
            end: End::Stayed,
            ring: false,
        }
    }

    /// What this member may do with `sender`'s messages (module doc).
    pub fn policy(&self, sender: u16) -> Policy {
        if self.excluded.contains(&sender) {
            Policy::Never
        } else if self.mode == Mode::DropWhenFull || self.counted.contains(&sender) {
            Policy::MayDrop
        } else {
            Policy::Must
        }
    }

    /// Some messages may be missing here, each one counted.
    fn counts_drops(&self) -> bool {
        self.mode == Mode::DropWhenFull || !self.counted.is_empty()
    }

    pub fn all(&self) -> impl Iterator<Item = &Rx> {
        self.during.iter().chain(self.after.iter())
    }

    pub fn len(&self) -> usize {
        self.during.len() + self.after.len()
    }
}

/// What the owner side received of one SEND_TO_PEER member's messages.
#[derive(Clone, Debug)]
pub struct PeerCopies {
    pub name: String,
    pub sender: u16,
    pub copies: Vec<Rx>,
}

/// A check's verdict: problems found (empty: ok) and how many messages it
/// looked at.
#[derive(Debug, Default)]
pub struct Verdict {
    pub problems: Vec<String>,
    pub checked: usize,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, p: String) {
        // The first few say enough; a broken run would print thousands.
        if self.problems.len() < 8 {
            self.problems.push(p);
        } else if self.problems.len() == 8 {
            self.problems.push("(more problems not shown)".into());
        }
    }
}

/// Everything one group's checks need.
pub struct GroupRun<'a> {
    pub logs: &'a [SendLog],
    pub segments: &'a [Segment],
}

impl<'a> GroupRun<'a> {
    fn log(&self, sender: u16) -> Option<&SendLog> {
        self.logs.iter().find(|l| l.sender == sender)
    }

    fn outcome(&self, id: Id) -> Option<Result<(), i32>> {
        self.log(id.0).and_then(|l| l.outcomes.get(id.1 as usize).copied())
    }

    /// The successful sends of `sender`, in order.
    fn successes(&self, sender: u16) -> Vec<u32> {
        self.log(sender)
            .map(|l| l.outcomes.iter().enumerate().filter(|(_, o)| o.is_ok()).map(|(s, _)| s as u32).collect())
            .unwrap_or_default()
    }

    /// The reference segment (see the module doc), if there is one.
    pub fn reference(&self) -> Option<&'a Segment> {
        self.segments
            .iter()
            .find(|s| s.whole_run && s.mode == Mode::Blocking && s.excluded.is_empty() && s.counted.is_empty())
    }

    /// The reference and the segments `pick` selects, copied, the reference
    /// first: the checks run on them (as a [`GroupRun`] with the same logs)
    /// judge those segments alone, against the same reference, so a subset
    /// of the members (those reading a receive ring) gets verdicts of its
    /// own.
    pub fn with_reference(&self, pick: impl Fn(&Segment) -> bool) -> Vec<Segment> {
        let reference = self.reference();
        let picked = self.segments.iter().filter(|s| !reference.is_some_and(|r| std::ptr::eq(*s, r)) && pick(s));
        reference.into_iter().chain(picked).cloned().collect()
    }

    /// No gaps: every whole-run blocking member got every successful send of
    /// every `Must` sender, each sender's in sequence order; of a `MayDrop`
    /// sender an ordered subset (the drops are counted by `drops_counted`);
    /// of a `Never` sender nothing.
    pub fn no_gaps(&self) -> Verdict {
        let mut v = Verdict::default();
        let whole: Vec<&Segment> = self.segments.iter().filter(|s| s.whole_run && s.mode == Mode::Blocking).collect();
        if whole.is_empty() {
            v.problem("no whole-run blocking member to check".into());
        }
        for s in whole {
            v.checked += s.len();
            let mut got: HashMap<u16, Vec<u32>> = HashMap::new();
            for r in s.all() {
                got.entry(r.id.0).or_default().push(r.id.1);
            }
            for log in self.logs {
                let want = self.successes(log.sender);
                let have = got.remove(&log.sender).unwrap_or_default();
                match s.policy(log.sender) {
                    Policy::Must if have != want => {
                        v.problem(format!("{}: sender {}: {}", s.name, log.sender, first_difference(&have, &want)))
                    }
                    Policy::MayDrop if !is_subsequence(&have, &want) => v.problem(format!(
                        "{}: sender {}: {} received are not an ordered subset of the {} sent",
                        s.name,
                        log.sender,
                        have.len(),
                        want.len()
                    )),
                    Policy::Never if !have.is_empty() => {
                        v.problem(format!("{}: {} of its own messages without LOOPBACK", s.name, have.len()))
                    }
                    _ => {}
                }
            }
            for (sender, seqs) in got {
                v.problem(format!("{}: {} messages from unknown sender {sender}", s.name, seqs.len()));
            }
        }
        v
    }

    /// No member got one message twice.
    pub fn no_duplicates(&self) -> Verdict {
        let mut v = Verdict::default();
        for s in self.segments {
            let mut seen = HashSet::new();
            for r in s.all() {
                v.checked += 1;
                if !seen.insert(r.id) {
                    v.problem(format!("{}: ({}, {}) twice", s.name, r.id.0, r.id.1));
                }
            }
        }
        v
    }

    /// Nothing from a failed send (or a send nobody made) arrived anywhere.
    pub fn nothing_from_failed_sends(&self, copies: &[PeerCopies]) -> Verdict {
        let mut v = Verdict::default();
        let all = self.segments.iter().flat_map(|s| s.all().map(move |r| (s.name.as_str(), r)));
        let all = all.chain(copies.iter().flat_map(|c| c.copies.iter().map(move |r| (c.name.as_str(), r))));
        for (name, r) in all {
            v.checked += 1;
            match self.outcome(r.id) {
                Some(Ok(())) => {}
                Some(Err(e)) => v.problem(format!("{name}: ({}, {}) arrived but its send failed with errno {e}", r.id.0, r.id.1)),
                None => v.problem(format!("{name}: ({}, {}) arrived but was never sent", r.id.0, r.id.1)),
            }
        }
        v
    }

    /// One order: every whole-run blocking member that can drop nothing has
    /// the reference's sequence without the senders it excludes, and every
    /// other member's is a subsequence of it.
    pub fn one_order(&self) -> Verdict {
        let mut v = Verdict::default();
        let Some(reference) = self.reference() else {
            v.problem("no reference member".into());
            return v;
        };
        let pos = positions(reference);
        for s in self.segments {
            if std::ptr::eq(s, reference) {
                continue;
            }
            v.checked += s.len();
            if s.whole_run && !s.counts_drops() {
                let want: Vec<Id> = reference.all().map(|r| r.id).filter(|id| !s.excluded.contains(&id.0)).collect();
                let have: Vec<Id> = s.all().map(|r| r.id).collect();
                if have != want {
                    v.problem(format!("{} vs {}: {}", s.name, reference.name, first_difference(&have, &want)));
                }
                continue;
            }
            let mut last: Option<(usize, Id)> = None;
            for r in s.all() {
                let Some(&p) = pos.get(&r.id) else {
                    v.problem(format!("{}: ({}, {}) is not in the reference {}", s.name, r.id.0, r.id.1, reference.name));
                    continue;
                };
                if let Some((lp, lid)) = last {
                    if p <= lp {
                        v.problem(format!(
                            "{}: ({}, {}) after ({}, {}), the reference {} has them the other way round",
                            s.name, r.id.0, r.id.1, lid.0, lid.1, reference.name
                        ));
                    }
                }
                last = Some((p, r.id));
            }
        }
        v
    }

    /// A blocking member that joined or left mid-run got one unbroken run of
    /// the reference (skipping only its own messages, and missing only
    /// counted ones): the membership list a send sees only grows or only
    /// shrinks between sends, and a blocking member is never skipped while
    /// on it.
    pub fn contiguous(&self) -> Verdict {
        let mut v = Verdict::default();
        let Some(reference) = self.reference() else {
            v.problem("no reference member".into());
            return v;
        };
        let ids: Vec<Id> = reference.all().map(|r| r.id).collect();
        let pos = positions(reference);
        for s in self.segments.iter().filter(|s| !s.whole_run && s.mode == Mode::Blocking) {
            v.checked += s.len();
            let mut last: Option<usize> = None;
            for r in s.all() {
                let Some(&p) = pos.get(&r.id) else { continue }; // reported by one_order
                if let Some(lp) = last {
                    if p > lp {
                        if let Some(missed) = ids[lp + 1..p].iter().find(|id| s.policy(id.0) == Policy::Must) {
                            v.problem(format!(
                                "{}: missed ({}, {}) between ({}, {}) and ({}, {})",
                                s.name, missed.0, missed.1, ids[lp].0, ids[lp].1, r.id.0, r.id.1
                            ));
                        }
                    }
                }
                last = Some(p);
            }
        }
        v
    }

    /// Counted drops: between two messages a member received, the reference
    /// messages it missed that it was allowed to miss (`MayDrop`) are
    /// exactly the growth of its drop counter (and, for a whole-run fresh
    /// member, the misses before its first message are the counter on that
    /// message). Misses it was not allowed are gaps, reported by `no_gaps`
    /// and `contiguous`.
    pub fn drops_counted(&self) -> Verdict {
        let mut v = Verdict::default();
        let Some(reference) = self.reference() else {
            v.problem("no reference member".into());
            return v;
        };
        let pos = positions(reference);
        let ref_ids: Vec<Id> = reference.all().map(|r| r.id).collect();
        for s in self.segments.iter().filter(|s| s.counts_drops()) {
            v.checked += s.len();
            // Position in the reference counting only what this member may
            // miss, so a gap is a count of its drops.
            let mut eligible = Vec::with_capacity(reference.len());
            let mut n = 0usize;
            for r in reference.all() {
                eligible.push(n);
                if s.policy(r.id.0) == Policy::MayDrop {
                    n += 1;
                }
            }
            let mut last: Option<(usize, u32)> = None;
            for r in s.all() {
                let Some(&p) = pos.get(&r.id) else { continue }; // reported by one_order
                let ovfl = r.ovfl.unwrap_or(0);
                // The previous received message does not count as missed.
                let prev = |lp: usize| (s.policy(ref_ids[lp].0) == Policy::MayDrop) as i64;
                let (missed, grew) = match last {
                    Some((lp, lo)) => (eligible[p] as i64 - eligible[lp] as i64 - prev(lp), ovfl as i64 - lo as i64),
                    None if s.fresh && s.whole_run => (eligible[p] as i64, ovfl as i64),
                    None => {
                        last = Some((p, ovfl));
                        continue;
                    }
                };
                if missed != grew {
                    v.problem(format!(
                        "{}: {missed} messages missed before ({}, {}) but the drop counter grew by {grew} (to {ovfl})",
                        s.name, r.id.0, r.id.1
                    ));
                }
                last = Some((p, ovfl));
            }
            if s.whole_run && s.end == End::Stayed {
                let got_last = s.all().last().map(|r| r.id) == reference.all().last().map(|r| r.id);
                if !got_last {
                    v.problem(format!("{}: did not receive the last message (the sentinel), so late drops are unchecked", s.name));
                }
            }
        }
        v
    }

    /// Nothing whose send started after a LEAVE, SHUT_RD or kick returned
    /// arrived at that member.
    pub fn nothing_after_leave(&self) -> Verdict {
        let mut v = Verdict::default();
        for s in self.segments {
            let Some(t) = s.end.ticket() else { continue };
            for r in s.all() {
                v.checked += 1;
                if r.stamp > t {
                    v.problem(format!(
                        "{}: ({}, {}) sent at tick {} arrived, but the membership ended ({:?}) at tick {t}",
                        s.name, r.id.0, r.id.1, r.stamp, s.end
                    ));
                }
            }
        }
        v
    }

    /// SEND_TO_PEER: the owner side got a copy of each of the member's
    /// successful sends, in order, and nothing else.
    pub fn peer_copies(&self, copies: &[PeerCopies]) -> Verdict {
        let mut v = Verdict::default();
        if copies.is_empty() {
            v.problem("no SEND_TO_PEER member".into());
        }
        for c in copies {
            v.checked += c.copies.len();
            let want = self.successes(c.sender);
            let have: Vec<u32> = c.copies.iter().filter(|r| r.id.0 == c.sender).map(|r| r.id.1).collect();
            if have != want {
                v.problem(format!("{}: {}", c.name, first_difference(&have, &want)));
            }
            let others = c.copies.iter().filter(|r| r.id.0 != c.sender).count();
            if others > 0 {
                v.problem(format!("{}: {others} copies of other senders' messages", c.name));
            }
        }
        v
    }
}

/// `have` is `want` with some elements left out (order kept).
fn is_subsequence<T: PartialEq>(have: &[T], want: &[T]) -> bool {
    let mut it = want.iter();
    have.iter().all(|h| it.any(|w| w == h))
}

/// Where each message sits in a segment's sequence.
fn positions(s: &Segment) -> HashMap<Id, usize> {
    s.all().enumerate().map(|(i, r)| (r.id, i)).collect()
}

/// The first place where `have` and `want` differ, described.
fn first_difference<T: PartialEq + std::fmt::Debug>(have: &[T], want: &[T]) -> String {
    let at = have.iter().zip(want).position(|(a, b)| a != b).unwrap_or(have.len().min(want.len()));
    format!(
        "{} received, {} expected; first difference at #{at}: got {:?}, expected {:?}",
        have.len(),
        want.len(),
        have.get(at),
        want.get(at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx(s: u16, q: u32) -> Rx {
        Rx { id: (s, q), stamp: q as u64, ovfl: None }
    }

    fn log(sender: u16, outcomes: &[bool]) -> SendLog {
        SendLog { sender, outcomes: outcomes.iter().map(|&ok| if ok { Ok(()) } else { Err(libc::EAGAIN) }).collect() }
    }

    fn seg(name: &str, mode: Mode, whole: bool, msgs: &[Rx]) -> Segment {
        let mut s = Segment::new(name, mode, whole, true);
        s.during = msgs.to_vec();
        s
    }

    #[test]
    fn a_clean_run_passes_everything() {
        let logs = [log(1, &[true, false, true]), log(2, &[true, true])];
        let order = [rx(1, 0), rx(2, 0), rx(1, 2), rx(2, 1)];
        let mut dwf = seg("w", Mode::DropWhenFull, true, &[order[0], order[3]]);
        dwf.during[1].ovfl = Some(2);
        let mut left = seg("c", Mode::Blocking, false, &order[1..3]);
        left.end = End::Leave(10);
        let segs = [seg("a", Mode::Blocking, true, &order), seg("b", Mode::Blocking, true, &order), dwf, left];
        let g = GroupRun { logs: &logs, segments: &segs };
        for v in [g.no_gaps(), g.no_duplicates(), g.nothing_from_failed_sends(&[]), g.one_order(), g.contiguous(), g.drops_counted(), g.nothing_after_leave()] {
            assert!(v.ok(), "{:?}", v.problems);
        }
    }

    #[test]
    fn each_violation_is_found() {
        let logs = [log(1, &[true, false, true]), log(2, &[true, true])];
        let order = [rx(1, 0), rx(2, 0), rx(1, 2), rx(2, 1)];
        let reference = seg("a", Mode::Blocking, true, &order);

        // A gap at a whole-run member.
        let segs = [reference.clone(), seg("b", Mode::Blocking, true, &[order[0], order[1], order[3]])];
        assert!(!GroupRun { logs: &logs, segments: &segs }.no_gaps().ok());
        // Another order.
        let segs = [reference.clone(), seg("b", Mode::Blocking, true, &[order[1], order[0], order[2], order[3]])];
        let g = GroupRun { logs: &logs, segments: &segs };
        assert!(g.no_gaps().ok(), "per-sender order is still right");
        assert!(!g.one_order().ok());
        // Another order at a partial member.
        let segs = [reference.clone(), seg("c", Mode::DropWhenFull, false, &[order[2], order[1]])];
        assert!(!GroupRun { logs: &logs, segments: &segs }.one_order().ok());
        // A duplicate.
        let segs = [reference.clone(), seg("c", Mode::Blocking, false, &[order[1], order[1]])];
        assert!(!GroupRun { logs: &logs, segments: &segs }.no_duplicates().ok());
        // A failed send delivered.
        let segs = [reference.clone(), seg("c", Mode::Blocking, false, &[rx(1, 1)])];
        assert!(!GroupRun { logs: &logs, segments: &segs }.nothing_from_failed_sends(&[]).ok());
        // A hole in a partial blocking member.
        let segs = [reference.clone(), seg("c", Mode::Blocking, false, &[order[0], order[2]])];
        assert!(!GroupRun { logs: &logs, segments: &segs }.contiguous().ok());
        // Drops not counted, counted twice, or counted before the first message.
        let mut w = seg("w", Mode::DropWhenFull, true, &[order[0], order[3]]);
        w.during[1].ovfl = Some(1);
        let segs = [reference.clone(), w.clone()];
        assert!(!GroupRun { logs: &logs, segments: &segs }.drops_counted().ok());
        w.during[1].ovfl = Some(2);
        w.during[0].ovfl = Some(1);
        let segs = [reference.clone(), w];
        assert!(!GroupRun { logs: &logs, segments: &segs }.drops_counted().ok());
        // A missed last message (sentinel) at a whole-run DROP_WHEN_FULL member.
        let segs = [reference.clone(), seg("w", Mode::DropWhenFull, true, &order[..3])];
        assert!(!GroupRun { logs: &logs, segments: &segs }.drops_counted().ok());
        // A message sent after the leave returned.
        let mut late = seg("c", Mode::Blocking, false, &[order[3]]);
        late.end = End::ShutRd(0);
        let segs = [reference.clone(), late];
        assert!(!GroupRun { logs: &logs, segments: &segs }.nothing_after_leave().ok());
    }

    #[test]
    fn excluded_senders_are_not_gaps() {
        let logs = [log(1, &[true, true]), log(2, &[true])];
        let order = [rx(1, 0), rx(2, 0), rx(1, 1)];
        let mut own = seg("m2", Mode::Blocking, true, &[order[0], order[2]]);
        own.excluded = vec![2];
        let mut partial = seg("c", Mode::Blocking, false, &[order[0], order[2]]);
        partial.excluded = vec![2];
        let mut dwf = seg("w", Mode::DropWhenFull, true, &[order[0], order[2]]);
        dwf.excluded = vec![2];
        let segs = [seg("m0", Mode::Blocking, true, &order), own, partial, dwf];
        let g = GroupRun { logs: &logs, segments: &segs };
        for v in [g.no_gaps(), g.one_order(), g.contiguous(), g.drops_counted()] {
            assert!(v.ok(), "{:?}", v.problems);
        }
    }

    #[test]
    fn a_loopback_sender_may_drop_its_own_copies_if_counted() {
        let logs = [log(1, &[true, true, true]), log(2, &[true])];
        let order = [rx(1, 0), rx(2, 0), rx(1, 1), rx(1, 2)];
        // Member 1 sends with LOOPBACK and missed its own (1, 1).
        let mut own = seg("m1", Mode::Blocking, true, &[order[0], order[1], order[3]]);
        own.counted = vec![1];
        own.during[2].ovfl = Some(1);
        let segs = [seg("ref", Mode::Blocking, true, &order), own.clone()];
        let g = GroupRun { logs: &logs, segments: &segs };
        for v in [g.no_gaps(), g.one_order(), g.contiguous(), g.drops_counted()] {
            assert!(v.ok(), "{:?}", v.problems);
        }
        // Not counted: a violation.
        own.during[2].ovfl = None;
        let segs = [seg("ref", Mode::Blocking, true, &order), own.clone()];
        assert!(!GroupRun { logs: &logs, segments: &segs }.drops_counted().ok());
        // Missing another sender's message is a gap even if counted.
        let mut other = seg("m1", Mode::Blocking, true, &[order[0], order[2], order[3]]);
        other.counted = vec![1];
        other.during[1].ovfl = Some(1);
        let segs = [seg("ref", Mode::Blocking, true, &order), other];
        assert!(!GroupRun { logs: &logs, segments: &segs }.no_gaps().ok());
    }

    #[test]
    fn a_subset_is_judged_against_the_same_reference() {
        let logs = [log(1, &[true, true, false]), log(2, &[true])];
        let order = [rx(1, 0), rx(2, 0), rx(1, 1)];
        // A whole-run ring member in another order than the queued
        // reference: the subset keeps the reference first, so the ring
        // member is the one found out of order.
        let mut ring = seg("r", Mode::Blocking, true, &[order[1], order[0], order[2]]);
        ring.ring = true;
        let mut late = seg("rc", Mode::Blocking, false, &[order[2], rx(1, 2)]);
        late.ring = true;
        let segs = [seg("ref", Mode::Blocking, true, &order), seg("q", Mode::Blocking, false, &[rx(9, 0)]), ring];
        let g = GroupRun { logs: &logs, segments: &segs };
        let sub = g.with_reference(|s| s.ring);
        assert_eq!(sub.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["ref", "r"]);
        let sg = GroupRun { logs: &logs, segments: &sub };
        assert_eq!(sg.reference().map(|s| s.name.as_str()), Some("ref"));
        assert!(sg.no_gaps().ok(), "per-sender order is right");
        assert!(!sg.one_order().ok());
        assert!(sg.nothing_from_failed_sends(&[]).ok(), "the queued member's foreign message is not in the subset");
        // A failed send delivered to a ring member is found in the subset.
        let segs = [seg("ref", Mode::Blocking, true, &order), late];
        let sub = GroupRun { logs: &logs, segments: &segs }.with_reference(|s| s.ring);
        assert_eq!(sub.len(), 2);
        assert!(!GroupRun { logs: &logs, segments: &sub }.nothing_from_failed_sends(&[]).ok());
        // Nothing picked: the reference alone, which passes.
        let sub = GroupRun { logs: &logs, segments: &segs }.with_reference(|_| false);
        assert_eq!(sub.len(), 1);
    }

    #[test]
    fn peer_copies_must_match_the_successful_sends() {
        let logs = [log(1, &[true, false, true])];
        let segs = [seg("a", Mode::Blocking, true, &[rx(1, 0), rx(1, 2)])];
        let g = GroupRun { logs: &logs, segments: &segs };
        let good = [PeerCopies { name: "p".into(), sender: 1, copies: vec![rx(1, 0), rx(1, 2)] }];
        assert!(g.peer_copies(&good).ok());
        let short = [PeerCopies { name: "p".into(), sender: 1, copies: vec![rx(1, 2)] }];
        assert!(!g.peer_copies(&short).ok());
    }
}
