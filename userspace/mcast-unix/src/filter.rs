//! Classic BPF socket filters.
//!
//! A [`Program`] is a list of classic BPF instructions ([`Insn`], the layout
//! of `struct sock_filter`) for `SO_ATTACH_FILTER` (the receiver's own
//! filter) or `MCAST_UNIX_PEER_FILTER` (the group owner's filter on a
//! member). The kernel runs it on each message before queuing it: a result
//! of 0 drops the message, k > 0 keeps its first k bytes (the whole message
//! if k is at least its length).
//!
//! [`interp`] checks programs as the kernel does and runs them on messages,
//! so filters can be tested without the module.

use std::marker::PhantomData;

pub mod interp;

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
