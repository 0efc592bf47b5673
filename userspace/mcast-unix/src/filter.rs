//! Classic BPF socket filters.
//!
//! A [`Program`] is a list of classic BPF instructions ([`Insn`], the layout
//! of `struct sock_filter`), attached with
//! [`Socket::attach_filter`](crate::Socket::attach_filter) (the receiver's
//! own filter) or [`Socket::set_peer_filter`](crate::Socket::set_peer_filter)
//! (the group owner's filter on a member). The kernel runs it on each message
//! before queuing it: a result of 0 drops the message, k > 0 keeps its first
//! k bytes (the whole message if k is at least its length).
//!
//! [`FilterBuilder`] writes the usual routing filters over fixed-offset
//! header fields (an AND of ORs); [`AnyOf`] accepts what any of several
//! builders accepts (an OR of them); [`interp`] checks programs as the kernel does and runs them
//! on messages, so filters can be tested without the module.
//!
//! # Byte order
//!
//! Classic BPF loads (`BPF_LD|BPF_W|BPF_ABS` and the 16-bit form) read the
//! message's bytes as a **big-endian** number, whatever the machine. The
//! builder therefore takes the byte order in which the *sender* writes each
//! field ([`ByteOrder`]) and compares the load against the number those bytes
//! make when read big-endian ([`ByteOrder::key32`]). A sender that writes
//! `topic.to_ne_bytes()` into its header matches a filter built with
//! [`ByteOrder::Native`]; one that writes network order matches
//! [`ByteOrder::Big`].

use std::io;
use std::marker::PhantomData;

pub mod any;
pub mod interp;

pub use any::AnyOf;
pub use interp::FilterError;

/// Instruction classes, sizes, modes and operations (`<linux/filter.h>`,
/// `<linux/bpf_common.h>`), to write programs by hand with [`Insn::stmt`]
/// and [`Insn::jump`].
pub mod code {
    /// Class: load into A.
    pub const BPF_LD: u16 = 0x00;
    /// Class: load into X.
    pub const BPF_LDX: u16 = 0x01;
    /// Class: store A in a scratch slot.
    pub const BPF_ST: u16 = 0x02;
    /// Class: store X in a scratch slot.
    pub const BPF_STX: u16 = 0x03;
    /// Class: arithmetic on A.
    pub const BPF_ALU: u16 = 0x04;
    /// Class: jumps.
    pub const BPF_JMP: u16 = 0x05;
    /// Class: return (the accept length).
    pub const BPF_RET: u16 = 0x06;
    /// Class: register moves.
    pub const BPF_MISC: u16 = 0x07;
    /// Load size: 32-bit word.
    pub const BPF_W: u16 = 0x00;
    /// Load size: 16-bit half-word.
    pub const BPF_H: u16 = 0x08;
    /// Load size: byte.
    pub const BPF_B: u16 = 0x10;
    /// Load mode: the constant k.
    pub const BPF_IMM: u16 = 0x00;
    /// Load mode: message bytes at offset k (big-endian).
    pub const BPF_ABS: u16 = 0x20;
    /// Load mode: message bytes at offset X + k (big-endian).
    pub const BPF_IND: u16 = 0x40;
    /// Load mode: scratch slot k.
    pub const BPF_MEM: u16 = 0x60;
    /// Load mode: the message length.
    pub const BPF_LEN: u16 = 0x80;
    /// Load mode (X only): 4 * (low nibble of the byte at k).
    pub const BPF_MSH: u16 = 0xa0;
    /// ALU: A + src.
    pub const BPF_ADD: u16 = 0x00;
    /// ALU: A - src.
    pub const BPF_SUB: u16 = 0x10;
    /// ALU: A * src.
    pub const BPF_MUL: u16 = 0x20;
    /// ALU: A / src (an X of 0 ends the program with 0).
    pub const BPF_DIV: u16 = 0x30;
    /// ALU: A | src.
    pub const BPF_OR: u16 = 0x40;
    /// ALU: A & src.
    pub const BPF_AND: u16 = 0x50;
    /// ALU: A << src.
    pub const BPF_LSH: u16 = 0x60;
    /// ALU: A >> src.
    pub const BPF_RSH: u16 = 0x70;
    /// ALU: -A.
    pub const BPF_NEG: u16 = 0x80;
    /// ALU: A % src (an X of 0 ends the program with 0).
    pub const BPF_MOD: u16 = 0x90;
    /// ALU: A ^ src.
    pub const BPF_XOR: u16 = 0xa0;
    /// Jump: always, k instructions forward.
    pub const BPF_JA: u16 = 0x00;
    /// Jump: jt if A == src, else jf.
    pub const BPF_JEQ: u16 = 0x10;
    /// Jump: jt if A > src, else jf.
    pub const BPF_JGT: u16 = 0x20;
    /// Jump: jt if A >= src, else jf.
    pub const BPF_JGE: u16 = 0x30;
    /// Jump: jt if A & src != 0, else jf.
    pub const BPF_JSET: u16 = 0x40;
    /// Source operand: the constant k.
    pub const BPF_K: u16 = 0x00;
    /// Source operand: X.
    pub const BPF_X: u16 = 0x08;
    /// Return value: A.
    pub const BPF_A: u16 = 0x10;
    /// Misc: X = A.
    pub const BPF_TAX: u16 = 0x00;
    /// Misc: A = X.
    pub const BPF_TXA: u16 = 0x80;
    /// Scratch memory words.
    pub const BPF_MEMWORDS: usize = 16;
    /// Longest program the kernel takes.
    pub const BPF_MAXINSNS: usize = 4096;
    /// Base of the ancillary-data load offsets (`SKF_AD_OFF`, -0x1000).
    pub const SKF_AD_OFF: u32 = 0xffff_f000;
    /// End of the ancillary-data offsets (`SKF_AD_MAX`).
    pub const SKF_AD_MAX: u32 = 64;
}

use code::*;

/// One classic BPF instruction, laid out as `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    /// Opcode: class | size/operation | mode/source.
    pub code: u16,
    /// Conditional jumps: forward offset when true.
    pub jt: u8,
    /// Conditional jumps: forward offset when false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

impl Insn {
    /// `BPF_STMT(code, k)`.
    pub const fn stmt(code: u16, k: u32) -> Insn {
        Insn { code, jt: 0, jf: 0, k }
    }

    /// `BPF_JUMP(code, k, jt, jf)`.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code, jt, jf, k }
    }
}

/// A classic BPF program (not necessarily valid: see [`Program::check`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Program(Vec<Insn>);

/// A `struct sock_fprog` pointing at a [`Program`]'s instructions, for
/// `setsockopt()`; it borrows the program.
pub struct Fprog<'a> {
    raw: libc::sock_fprog,
    _insns: PhantomData<&'a [Insn]>,
}

impl Fprog<'_> {
    /// The `struct sock_fprog` (the kernel only reads the instructions).
    pub fn as_raw(&self) -> &libc::sock_fprog {
        &self.raw
    }
}

impl Program {
    /// The program made of `insns`.
    pub fn new(insns: Vec<Insn>) -> Program {
        Program(insns)
    }

    /// Accepts every message whole (`ret #0xffffffff`).
    pub fn accept_all() -> Program {
        Program(vec![Insn::stmt(BPF_RET | BPF_K, u32::MAX)])
    }

    /// Rejects every message (`ret #0`).
    pub fn reject_all() -> Program {
        Program(vec![Insn::stmt(BPF_RET | BPF_K, 0)])
    }

    /// The instructions.
    pub fn insns(&self) -> &[Insn] {
        &self.0
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no instructions (the kernel refuses that).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `struct sock_fprog` to pass to the kernel. A program of more than
    /// `u16::MAX` instructions reports `u16::MAX`, which the kernel refuses
    /// like any program over [`BPF_MAXINSNS`].
    pub fn as_fprog(&self) -> Fprog<'_> {
        let len = u16::try_from(self.0.len()).unwrap_or(u16::MAX);
        let filter = self.0.as_ptr().cast::<libc::sock_filter>().cast_mut();
        Fprog { raw: libc::sock_fprog { len, filter }, _insns: PhantomData }
    }

    /// The kernel's checks on a classic program ([`interp::check`]).
    pub fn check(&self) -> Result<(), FilterError> {
        interp::check(&self.0)
    }

    /// What the program returns for `msg` ([`interp::run`]).
    pub fn run(&self, msg: &[u8]) -> Result<u32, FilterError> {
        interp::run(&self.0, msg)
    }

    /// What the kernel would queue for `msg`: `None` if the program rejects
    /// it, else how many of its bytes ([`interp::deliver`]).
    pub fn deliver(&self, msg: &[u8]) -> Result<Option<usize>, FilterError> {
        interp::deliver(&self.0, msg)
    }
}

impl From<Vec<Insn>> for Program {
    fn from(insns: Vec<Insn>) -> Program {
        Program(insns)
    }
}

impl FromIterator<Insn> for Program {
    fn from_iter<I: IntoIterator<Item = Insn>>(iter: I) -> Program {
        Program(iter.into_iter().collect())
    }
}

/// The FNV-1a 32-bit hash of `bytes`: stable across machines and releases,
/// for topic or destination names carried in a header field.
pub const fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

/// The 32-bit hash of a topic name ([`fnv1a32`] of its UTF-8 bytes).
pub const fn topic_hash(name: &str) -> u32 {
    fnv1a32(name.as_bytes())
}

/// The byte order in which a sender writes a header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Network order (`to_be_bytes`): compared as is.
    Big,
    /// `to_le_bytes`.
    Little,
    /// This machine's order (`to_ne_bytes`, or a `#[repr(C)]` header
    /// struct's `u32` field).
    Native,
}

impl ByteOrder {
    /// The number a classic BPF word load yields for a 32-bit field holding
    /// `value` written in this order: its bytes read big-endian.
    pub fn key32(self, value: u32) -> u32 {
        u32::from_be_bytes(match self {
            ByteOrder::Big => value.to_be_bytes(),
            ByteOrder::Little => value.to_le_bytes(),
            ByteOrder::Native => value.to_ne_bytes(),
        })
    }

    /// As [`key32`](ByteOrder::key32), for a 16-bit field and a half-word
    /// load.
    pub fn key16(self, value: u16) -> u16 {
        u16::from_be_bytes(match self {
            ByteOrder::Big => value.to_be_bytes(),
            ByteOrder::Little => value.to_le_bytes(),
            ByteOrder::Native => value.to_ne_bytes(),
        })
    }
}

/// The width of a header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Width {
    U8,
    U16,
    U32,
}

impl Width {
    fn bytes(self) -> u32 {
        match self {
            Width::U8 => 1,
            Width::U16 => 2,
            Width::U32 => 4,
        }
    }

    fn load(self) -> u16 {
        let size = match self {
            Width::U8 => BPF_B,
            Width::U16 => BPF_H,
            Width::U32 => BPF_W,
        };
        BPF_LD | size | BPF_ABS
    }
}

/// "The field of `width` at `offset` is one of `keys`" (keys as the load
/// yields them).
#[derive(Clone, Debug)]
struct Condition {
    offset: u32,
    width: Width,
    keys: Vec<u32>,
}

/// The most keys one run of `jeq`s can skip with its 8-bit `jt`.
const RUN: usize = u8::MAX as usize;

impl Condition {
    /// Instructions [`emit`](Condition::emit) writes.
    fn len(&self) -> usize {
        // Load, the keys, a `ja` after every run but the last, `ret #0`.
        1 + self.keys.len() + self.keys.len().div_ceil(RUN).saturating_sub(1) + 1
    }

    /// Appends: load the field; if it equals a key go on past this block,
    /// else `ret #0`. Keys come in runs of at most [`RUN`] `jeq`s: a hit in
    /// the last run jumps straight past the `ret #0`, a hit in another run
    /// lands on the `ja` closing it, which jumps there (its offset is 32-bit).
    fn emit(&self, out: &mut Vec<Insn>) {
        self.emit_or_jump(out, None);
    }

    /// As [`emit`](Condition::emit), but with `Some(target)` a failed
    /// condition jumps to the instruction at index `target` (forward, past
    /// this block) instead of returning 0: [`any::AnyOf`] goes on with its
    /// next alternative there.
    fn emit_or_jump(&self, out: &mut Vec<Insn>, fail: Option<usize>) {
        let end = out.len() + self.len();
        out.push(Insn::stmt(self.width.load(), self.offset));
        let runs = self.keys.chunks(RUN);
        let last = runs.len() - 1;
        for (r, run) in runs.enumerate() {
            let m = run.len();
            for (j, &key) in run.iter().enumerate() {
                // Offsets below `RUN`, so the casts are exact.
                let insn = if r == last {
                    Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, key, (m - j) as u8, 0)
                } else {
                    Insn::jump(BPF_JMP | BPF_JEQ | BPF_K, key, (m - 1 - j) as u8, u8::from(j == m - 1))
                };
                out.push(insn);
            }
            if r != last {
                let after = out.len() + 1;
                out.push(Insn::stmt(BPF_JMP | BPF_JA, (end - after) as u32));
            }
        }
        match fail {
            None => out.push(Insn::stmt(BPF_RET | BPF_K, 0)),
            Some(target) => {
                let after = out.len() + 1;
                out.push(Insn::stmt(BPF_JMP | BPF_JA, (target - after) as u32));
            }
        }
    }
}

/// Builds routing filters over fixed-offset header fields: a message is
/// accepted when **every** field condition holds (AND) and a condition holds
/// when the field equals **any** of its values (OR). A message too short to
/// hold a field is rejected (the kernel ends a program whose load falls
/// outside the message with 0). No conditions: accept everything; a
/// condition with no values: reject everything.
///
/// ```
/// use mcast_unix::{ByteOrder, FilterBuilder, topic_hash};
///
/// // Header: u32 topic hash (native order) at 0, u8 kind at 4.
/// let prog = FilterBuilder::new()
///     .topic_in(0, ByteOrder::Native, ["weather", "news"])
///     .u8_in(4, [1, 2])
///     .build()
///     .unwrap();
/// let mut msg = topic_hash("news").to_ne_bytes().to_vec();
/// msg.extend_from_slice(&[2, b'!']);
/// assert_eq!(prog.deliver(&msg).unwrap(), Some(6));
/// msg[4] = 3;
/// assert_eq!(prog.deliver(&msg).unwrap(), None);
/// ```
#[derive(Clone, Debug)]
pub struct FilterBuilder {
    conditions: Vec<Condition>,
    accept_len: u32,
}

impl Default for FilterBuilder {
    fn default() -> Self {
        FilterBuilder { conditions: Vec::new(), accept_len: u32::MAX }
    }
}

impl FilterBuilder {
    /// No conditions; accepted messages are kept whole.
    pub fn new() -> FilterBuilder {
        FilterBuilder::default()
    }

    fn field(mut self, offset: u32, width: Width, keys: impl IntoIterator<Item = u32>) -> FilterBuilder {
        let mut keys: Vec<u32> = keys.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        self.conditions.push(Condition { offset, width, keys });
        self
    }

    /// The byte at `offset` is one of `values`.
    pub fn u8_in(self, offset: u32, values: impl IntoIterator<Item = u8>) -> FilterBuilder {
        self.field(offset, Width::U8, values.into_iter().map(u32::from))
    }

    /// The 16-bit field at `offset`, written in `order`, is one of `values`.
    pub fn u16_in(self, offset: u32, order: ByteOrder, values: impl IntoIterator<Item = u16>) -> FilterBuilder {
        self.field(offset, Width::U16, values.into_iter().map(|v| u32::from(order.key16(v))))
    }

    /// The 32-bit field at `offset`, written in `order`, is one of `values`.
    pub fn u32_in(self, offset: u32, order: ByteOrder, values: impl IntoIterator<Item = u32>) -> FilterBuilder {
        self.field(offset, Width::U32, values.into_iter().map(|v| order.key32(v)))
    }

    /// The 32-bit field at `offset`, written in `order`, is the
    /// [`topic_hash`] of one of `names`.
    pub fn topic_in<S: AsRef<str>>(self, offset: u32, order: ByteOrder, names: impl IntoIterator<Item = S>) -> FilterBuilder {
        self.u32_in(offset, order, names.into_iter().map(|n| topic_hash(n.as_ref())))
    }

    /// Keep only the first `len` bytes of an accepted message (0 would
    /// reject everything: the kernel reads a 0 result as "drop").
    pub fn truncate(mut self, len: u32) -> FilterBuilder {
        self.accept_len = len;
        self
    }

    /// The program. `InvalidInput` if a field lies past offset 2^31 - 1
    /// (the kernel reads such load offsets as negative, special areas) or
    /// the program would exceed [`BPF_MAXINSNS`] instructions.
    pub fn build(&self) -> io::Result<Program> {
        let invalid = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
        if self.conditions.iter().any(|c| c.offset.checked_add(c.width.bytes()).is_none_or(|end| end > i32::MAX as u32)) {
            return Err(invalid("a field offset beyond 2^31 - 1"));
        }
        if self.conditions.iter().any(|c| c.keys.is_empty()) {
            return Ok(Program::reject_all());
        }
        let len = 1 + self.conditions.iter().map(Condition::len).sum::<usize>();
        if len > BPF_MAXINSNS {
            return Err(invalid("the filter needs more than 4096 instructions"));
        }
        let mut insns = Vec::with_capacity(len);
        for c in &self.conditions {
            c.emit(&mut insns);
        }
        insns.push(Insn::stmt(BPF_RET | BPF_K, self.accept_len));
        Ok(Program(insns))
    }
}

#[cfg(test)]
mod tests;
