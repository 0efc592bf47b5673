//! [`AnyOf`]: a filter that accepts a message when any of several
//! [`FilterBuilder`]s would (an OR of ANDs), as one program.

use super::code::*;
use super::{FilterBuilder, Insn, Program};
use std::io;

/// The OR of [`FilterBuilder`]s: a message is accepted (whole) when it
/// satisfies every condition of at least one alternative. The alternatives
/// are tried in order; a failed condition jumps to the next one, so each
/// alternative costs what its own builder's program costs. No
/// alternatives: reject everything. An alternative with no conditions
/// accepts everything; one with a condition of no values never matches.
/// Each alternative's [`truncate`](FilterBuilder::truncate) length is kept.
///
/// ```
/// use mcast_unix::{AnyOf, ByteOrder, FilterBuilder};
///
/// // Accept (byte 0 == 1 AND byte 1 == 2) OR byte 0 == 9.
/// let prog = AnyOf::new()
///     .or(FilterBuilder::new().u8_in(0, [1]).u8_in(1, [2]))
///     .or(FilterBuilder::new().u8_in(0, [9]))
///     .build()
///     .unwrap();
/// assert_eq!(prog.deliver(&[1, 2]).unwrap(), Some(2));
/// assert_eq!(prog.deliver(&[1, 3]).unwrap(), None);
/// assert_eq!(prog.deliver(&[9, 3]).unwrap(), Some(2));
/// ```
#[derive(Clone, Debug, Default)]
pub struct AnyOf {
    alternatives: Vec<FilterBuilder>,
}

impl AnyOf {
    /// No alternatives yet (the program would reject everything).
    pub fn new() -> AnyOf {
        AnyOf::default()
    }

    /// Adds an alternative.
    pub fn or(mut self, alternative: FilterBuilder) -> AnyOf {
        self.alternatives.push(alternative);
        self
    }

    /// Adds an alternative in place.
    pub fn push(&mut self, alternative: FilterBuilder) {
        self.alternatives.push(alternative);
    }

    /// The number of alternatives.
    pub fn len(&self) -> usize {
        self.alternatives.len()
    }

    /// Whether there are no alternatives.
    pub fn is_empty(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// The program. `InvalidInput` as [`FilterBuilder::build`], or if the
    /// whole program would exceed [`BPF_MAXINSNS`] instructions.
    pub fn build(&self) -> io::Result<Program> {
        let invalid = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
        // Alternatives that can never match are left out.
        let live: Vec<&FilterBuilder> =
            self.alternatives.iter().filter(|a| a.conditions.iter().all(|c| !c.keys.is_empty())).collect();
        for a in &live {
            // The builder's own checks (field offsets).
            a.build()?;
        }
        let alt_len = |a: &FilterBuilder| a.conditions.iter().map(|c| c.len()).sum::<usize>() + 1;
        let total = live.iter().map(|a| alt_len(a)).sum::<usize>() + 1;
        if total > BPF_MAXINSNS {
            return Err(invalid("the filter needs more than 4096 instructions"));
        }
        let mut insns: Vec<Insn> = Vec::with_capacity(total);
        for (i, a) in live.iter().enumerate() {
            let next = insns.len() + alt_len(a);
            // The last alternative's failures return 0 directly.
            let fail = (i + 1 < live.len()).then_some(next);
            for c in &a.conditions {
                c.emit_or_jump(&mut insns, fail);
            }
            insns.push(Insn::stmt(BPF_RET | BPF_K, a.accept_len));
        }
        insns.push(Insn::stmt(BPF_RET | BPF_K, 0));
        Ok(Program::new(insns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ByteOrder;

    fn msg(a: u8, b: u32) -> Vec<u8> {
        let mut m = vec![a];
        m.extend_from_slice(&b.to_be_bytes());
        m
    }

    #[test]
    fn or_of_ands_matches_a_reference() {
        // (a == 1 AND b in {10, 11}) OR (a in {2, 3}) OR (b == 99)
        let alts = [
            FilterBuilder::new().u8_in(0, [1]).u32_in(1, ByteOrder::Big, [10, 11]),
            FilterBuilder::new().u8_in(0, [2, 3]),
            FilterBuilder::new().u32_in(1, ByteOrder::Big, [99]),
        ];
        let prog = alts.iter().cloned().fold(AnyOf::new(), AnyOf::or).build().unwrap();
        prog.check().unwrap();
        for a in 0..5u8 {
            for b in [0u32, 10, 11, 12, 99] {
                let want = (a == 1 && (b == 10 || b == 11)) || a == 2 || a == 3 || b == 99;
                assert_eq!(prog.deliver(&msg(a, b)).unwrap().is_some(), want, "a={a} b={b}");
            }
        }
        // Too short for the field: rejected.
        assert_eq!(prog.deliver(&[1]).unwrap(), None);
    }

    #[test]
    fn empty_and_degenerate_alternatives() {
        assert_eq!(AnyOf::new().build().unwrap().deliver(&[1]).unwrap(), None);
        let all = AnyOf::new().or(FilterBuilder::new().u8_in(0, [7])).or(FilterBuilder::new()).build().unwrap();
        assert_eq!(all.deliver(&[1]).unwrap(), Some(1));
        let never = AnyOf::new().or(FilterBuilder::new().u8_in(0, [])).build().unwrap();
        assert_eq!(never.deliver(&[1]).unwrap(), None);
        let trunc = AnyOf::new().or(FilterBuilder::new().u8_in(0, [1]).truncate(1)).build().unwrap();
        assert_eq!(trunc.deliver(&[1, 2, 3]).unwrap(), Some(1));
    }

    #[test]
    fn long_alternatives_jump_over_runs_of_keys() {
        // More keys than one 8-bit jump reaches, in a non-last alternative.
        let keys: Vec<u32> = (0..600).collect();
        let prog = AnyOf::new()
            .or(FilterBuilder::new().u32_in(1, ByteOrder::Big, keys.clone()).u8_in(0, [5]))
            .or(FilterBuilder::new().u8_in(0, [6]))
            .build()
            .unwrap();
        prog.check().unwrap();
        assert!(prog.deliver(&msg(5, 599)).unwrap().is_some());
        assert!(prog.deliver(&msg(5, 0)).unwrap().is_some());
        assert!(prog.deliver(&msg(5, 600)).unwrap().is_none());
        assert!(prog.deliver(&msg(6, 600)).unwrap().is_some());
        assert!(prog.deliver(&msg(4, 1)).unwrap().is_none());
    }

    #[test]
    fn too_long_is_refused() {
        let mut any = AnyOf::new();
        for i in 0..1500u32 {
            any.push(FilterBuilder::new().u32_in(0, ByteOrder::Big, [i]));
        }
        assert_eq!(any.build().unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
