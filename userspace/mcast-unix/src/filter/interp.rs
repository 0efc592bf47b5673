//! A reference checker and interpreter for classic BPF socket filters.
//!
//! [`check`] applies the rules of the kernel's `bpf_check_classic()` (6.12):
//! 1 to 4096 instructions, only the classic opcodes the kernel knows, no
//! division by a constant 0, no constant shift by 32 or more, scratch
//! memory slots below 16 and never read before written on every path, jumps
//! inside the program, ancillary loads only of known `SKF_AD_*` offsets, and
//! a `RET` last.
//!
//! [`run`] executes a checked program on one message the way the kernel
//! runs a socket filter: A, X and the scratch memory start at 0; loads read
//! big-endian; a load outside the message, and a division or modulo by an X
//! of 0, end the program with 0; a shift by X uses X's low five bits.
//! Negative load offsets (the `SKF_NET_OFF`/`SKF_LL_OFF` areas) are treated
//! as outside the message, and ancillary loads are
//! [unsupported](FilterError::Unsupported).

use super::code::*;
use super::Insn;
use std::fmt;
use std::io;

/// Why a program is refused.
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// assert_eq!(Program::new(vec![]).check(), Err(FilterError::Empty));
/// let err: std::io::Error = FilterError::NoFinalRet.into();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterError {
    /// No instructions.
    Empty,
    /// More than [`BPF_MAXINSNS`] instructions.
    TooLong(usize),
    /// An opcode the kernel does not take.
    BadCode {
        /// The instruction's index.
        pc: usize,
        /// Its opcode.
        code: u16,
    },
    /// Division or modulo by a constant 0.
    DivideByZero {
        /// The instruction's index.
        pc: usize,
    },
    /// A constant shift by 32 or more.
    BadShift {
        /// The instruction's index.
        pc: usize,
    },
    /// A scratch-memory slot of 16 or more.
    BadSlot {
        /// The instruction's index.
        pc: usize,
    },
    /// A jump past the last instruction.
    JumpOutOfRange {
        /// The instruction's index.
        pc: usize,
    },
    /// A load in the ancillary area at an offset the kernel does not know.
    BadAncillary {
        /// The instruction's index.
        pc: usize,
    },
    /// The last instruction is not `RET K` or `RET A`.
    NoFinalRet,
    /// A scratch-memory slot read before written on some path.
    UninitializedRead {
        /// The instruction's index.
        pc: usize,
    },
    /// Valid for the kernel, but this interpreter cannot run it (an
    /// ancillary-data load).
    Unsupported {
        /// The instruction's index.
        pc: usize,
    },
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Empty => write!(f, "empty program"),
            FilterError::TooLong(n) => write!(f, "{n} instructions (at most {BPF_MAXINSNS})"),
            FilterError::BadCode { pc, code } => write!(f, "insn {pc}: unknown opcode {code:#06x}"),
            FilterError::DivideByZero { pc } => write!(f, "insn {pc}: division by constant 0"),
            FilterError::BadShift { pc } => write!(f, "insn {pc}: shift by 32 or more"),
            FilterError::BadSlot { pc } => write!(f, "insn {pc}: scratch slot out of range"),
            FilterError::JumpOutOfRange { pc } => write!(f, "insn {pc}: jump out of the program"),
            FilterError::BadAncillary { pc } => write!(f, "insn {pc}: unknown ancillary load"),
            FilterError::NoFinalRet => write!(f, "the last instruction is not a return"),
            FilterError::UninitializedRead { pc } => write!(f, "insn {pc}: scratch slot read before written"),
            FilterError::Unsupported { pc } => write!(f, "insn {pc}: ancillary loads are not interpreted"),
        }
    }
}

impl std::error::Error for FilterError {}

impl From<FilterError> for io::Error {
    fn from(e: FilterError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Whether the kernel's `chk_code_allowed()` takes `code`.
fn allowed(code: u16) -> bool {
    const ALU_OPS: [u16; 10] = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_AND, BPF_OR, BPF_XOR, BPF_LSH, BPF_RSH];
    const JMP_OPS: [u16; 4] = [BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET];
    const OTHERS: [u16; 20] = [
        BPF_ALU | BPF_NEG,
        BPF_LD | BPF_W | BPF_ABS,
        BPF_LD | BPF_H | BPF_ABS,
        BPF_LD | BPF_B | BPF_ABS,
        BPF_LD | BPF_W | BPF_LEN,
        BPF_LD | BPF_W | BPF_IND,
        BPF_LD | BPF_H | BPF_IND,
        BPF_LD | BPF_B | BPF_IND,
        BPF_LD | BPF_IMM,
        BPF_LD | BPF_MEM,
        BPF_LDX | BPF_W | BPF_LEN,
        BPF_LDX | BPF_B | BPF_MSH,
        BPF_LDX | BPF_IMM,
        BPF_LDX | BPF_MEM,
        BPF_ST,
        BPF_STX,
        BPF_MISC | BPF_TAX,
        BPF_MISC | BPF_TXA,
        BPF_RET | BPF_K,
        BPF_RET | BPF_A,
    ];
    // `class | op | BPF_K` or `class | op | BPF_X`.
    let with_src = |class: u16, ops: &[u16]| ops.iter().any(|&op| code & !BPF_X == class | op);
    with_src(BPF_ALU, &ALU_OPS) || with_src(BPF_JMP, &JMP_OPS) || code == BPF_JMP | BPF_JA || OTHERS.contains(&code)
}

fn is_conditional_jump(code: u16) -> bool {
    code & 0x07 == BPF_JMP && code != BPF_JMP | BPF_JA
}

fn is_abs_load(code: u16) -> bool {
    [BPF_W, BPF_H, BPF_B].iter().any(|&size| code == BPF_LD | size | BPF_ABS)
}

/// Whether an absolute load's offset is in the ancillary area.
fn is_ancillary(insn: &Insn) -> bool {
    is_abs_load(insn.code) && insn.k >= SKF_AD_OFF
}

/// The kernel's `bpf_check_classic()` (with `bpf_check_basics_ok()`).
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// use mcast_unix::filter::{code::*, interp};
/// let ok = [Insn::stmt(BPF_RET | BPF_K, 0)];
/// assert_eq!(interp::check(&ok), Ok(()));
/// let jumps_out = [Insn::jump(BPF_JMP | BPF_JA, 5, 0, 0), Insn::stmt(BPF_RET | BPF_K, 0)];
/// assert_eq!(interp::check(&jumps_out), Err(FilterError::JumpOutOfRange { pc: 0 }));
/// # Ok(())
/// # }
/// ```
pub fn check(prog: &[Insn]) -> Result<(), FilterError> {
    let flen = prog.len();
    if flen == 0 {
        return Err(FilterError::Empty);
    }
    if flen > BPF_MAXINSNS {
        return Err(FilterError::TooLong(flen));
    }
    for (pc, insn) in prog.iter().enumerate() {
        let (code, k) = (insn.code, insn.k);
        if !allowed(code) {
            return Err(FilterError::BadCode { pc, code });
        }
        let alu_k = |op: u16| code == BPF_ALU | op | BPF_K;
        if (alu_k(BPF_DIV) || alu_k(BPF_MOD)) && k == 0 {
            return Err(FilterError::DivideByZero { pc });
        }
        if (alu_k(BPF_LSH) || alu_k(BPF_RSH)) && k >= 32 {
            return Err(FilterError::BadShift { pc });
        }
        if uses_slot(code) && k as usize >= BPF_MEMWORDS {
            return Err(FilterError::BadSlot { pc });
        }
        let rest = flen - pc - 1;
        let jump_bad = if code == BPF_JMP | BPF_JA {
            k as usize >= rest
        } else {
            is_conditional_jump(code) && (usize::from(insn.jt) >= rest || usize::from(insn.jf) >= rest)
        };
        if jump_bad {
            return Err(FilterError::JumpOutOfRange { pc });
        }
        // Known ancillary offsets: SKF_AD_OFF + 0, 4, ... up to SKF_AD_MAX.
        let anc = k.wrapping_sub(SKF_AD_OFF);
        if is_ancillary(insn) && !(anc < SKF_AD_MAX && anc % 4 == 0) {
            return Err(FilterError::BadAncillary { pc });
        }
    }
    match prog[flen - 1].code {
        c if c == BPF_RET | BPF_K || c == BPF_RET | BPF_A => check_load_and_stores(prog),
        _ => Err(FilterError::NoFinalRet),
    }
}

/// Whether `code` names a scratch-memory slot in `k`.
fn uses_slot(code: u16) -> bool {
    code == BPF_LD | BPF_MEM || code == BPF_LDX | BPF_MEM || code == BPF_ST || code == BPF_STX
}

/// The kernel's `check_load_and_stores()`: no slot is read unless written
/// on every path to the read. One bit per slot; a jump's targets keep only
/// what is valid on every jump to them, and the instruction after a jump
/// starts from "all valid" (it is reached only by jumps).
fn check_load_and_stores(prog: &[Insn]) -> Result<(), FilterError> {
    let mut masks = vec![u16::MAX; prog.len()];
    let mut valid: u16 = 0;
    for (pc, insn) in prog.iter().enumerate() {
        valid &= masks[pc];
        let code = insn.code;
        if code == BPF_ST || code == BPF_STX {
            valid |= 1 << insn.k;
        } else if code == BPF_LD | BPF_MEM || code == BPF_LDX | BPF_MEM {
            if valid & (1 << insn.k) == 0 {
                return Err(FilterError::UninitializedRead { pc });
            }
        } else if code == BPF_JMP | BPF_JA {
            masks[pc + 1 + insn.k as usize] &= valid;
            valid = u16::MAX;
        } else if is_conditional_jump(code) {
            masks[pc + 1 + usize::from(insn.jt)] &= valid;
            masks[pc + 1 + usize::from(insn.jf)] &= valid;
            valid = u16::MAX;
        }
    }
    Ok(())
}

/// The registers and scratch memory of one run.
struct Machine<'m> {
    a: u32,
    x: u32,
    mem: [u32; BPF_MEMWORDS],
    msg: &'m [u8],
}

/// What one instruction does to the program counter.
enum Step {
    Next,
    Skip(usize),
    Return(u32),
}

impl Machine<'_> {
    /// `size` bytes at `offset` (a signed int to the kernel), big-endian;
    /// `None` outside the message.
    fn load(&self, offset: u32, size: usize) -> Option<u32> {
        let start = usize::try_from(offset as i32).ok()?;
        let bytes = self.msg.get(start..start.checked_add(size)?)?;
        Some(bytes.iter().fold(0, |acc, &b| acc << 8 | u32::from(b)))
    }

    fn slot(&mut self, k: u32) -> &mut u32 {
        // `check` keeps k below BPF_MEMWORDS.
        &mut self.mem[k as usize % BPF_MEMWORDS]
    }

    /// The value a load instruction (class LD or LDX) yields; `None` ends
    /// the program with 0.
    fn load_value(&mut self, code: u16, k: u32) -> Option<u32> {
        let size = match code & 0x18 {
            BPF_B => 1,
            BPF_H => 2,
            _ => 4,
        };
        Some(match code & 0xe0 {
            BPF_IMM => k,
            BPF_MEM => *self.slot(k),
            BPF_LEN => self.msg.len() as u32,
            BPF_ABS => self.load(k, size)?,
            BPF_IND => self.load(self.x.wrapping_add(k), size)?,
            // BPF_MSH: 4 * (low nibble of the byte at k).
            _ => (self.load(k, 1)? & 0xf) << 2,
        })
    }

    /// `A op src`; `None` (division by 0) ends the program with 0.
    fn alu(&self, op: u16, src: u32) -> Option<u32> {
        let a = self.a;
        Some(match op {
            BPF_ADD => a.wrapping_add(src),
            BPF_SUB => a.wrapping_sub(src),
            BPF_MUL => a.wrapping_mul(src),
            BPF_DIV => a.checked_div(src)?,
            BPF_MOD => a.checked_rem(src)?,
            BPF_OR => a | src,
            BPF_AND => a & src,
            BPF_XOR => a ^ src,
            BPF_LSH => a << (src & 31),
            BPF_RSH => a >> (src & 31),
            // BPF_NEG
            _ => a.wrapping_neg(),
        })
    }

    fn step(&mut self, insn: &Insn) -> Step {
        let (code, k) = (insn.code, insn.k);
        let src = if code & BPF_X != 0 { self.x } else { k };
        match code & 0x07 {
            BPF_LD | BPF_LDX => match self.load_value(code, k) {
                Some(v) if code & 0x07 == BPF_LD => self.a = v,
                Some(v) => self.x = v,
                None => return Step::Return(0),
            },
            BPF_ST => *self.slot(k) = self.a,
            BPF_STX => *self.slot(k) = self.x,
            BPF_ALU => match self.alu(code & 0xf0, src) {
                Some(v) => self.a = v,
                None => return Step::Return(0),
            },
            BPF_JMP => {
                let taken = match code & 0xf0 {
                    BPF_JA => return Step::Skip(k as usize),
                    BPF_JEQ => self.a == src,
                    BPF_JGT => self.a > src,
                    BPF_JGE => self.a >= src,
                    // BPF_JSET
                    _ => self.a & src != 0,
                };
                return Step::Skip(usize::from(if taken { insn.jt } else { insn.jf }));
            }
            BPF_RET => return Step::Return(if code & 0x18 == BPF_A { self.a } else { k }),
            // BPF_MISC
            _ => {
                if code & 0xf8 == BPF_TAX {
                    self.x = self.a;
                } else {
                    self.a = self.x;
                }
            }
        }
        Step::Next
    }
}

/// Checks `prog` and runs it on `msg`: the value it returns (0: drop).
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// use mcast_unix::filter::{code::*, interp};
/// // Return the first byte of the message.
/// let prog = [Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 0), Insn::stmt(BPF_RET | BPF_A, 0)];
/// assert_eq!(interp::run(&prog, &[9, 1, 2]), Ok(9));
/// assert_eq!(interp::run(&prog, &[]), Ok(0), "a load past the end returns 0");
/// # Ok(())
/// # }
/// ```
pub fn run(prog: &[Insn], msg: &[u8]) -> Result<u32, FilterError> {
    check(prog)?;
    if let Some(pc) = prog.iter().position(is_ancillary) {
        return Err(FilterError::Unsupported { pc });
    }
    let mut m = Machine { a: 0, x: 0, mem: [0; BPF_MEMWORDS], msg };
    let mut pc = 0;
    // Jumps only go forward and `check` keeps them inside, so this ends at
    // a RET; running off the end cannot happen and would read as a drop.
    while let Some(insn) = prog.get(pc) {
        pc += 1;
        match m.step(insn) {
            Step::Next => {}
            Step::Skip(n) => pc += n,
            Step::Return(v) => return Ok(v),
        }
    }
    Ok(0)
}

/// What the kernel queues for `msg` after running `prog`: `None` if it
/// returns 0, else `Some` of the bytes kept (its result, at most the
/// message's length).
///
/// ```
/// # use mcast_unix::*;
/// # use std::net::Shutdown;
/// # use std::os::fd::AsFd;
/// # use std::time::Duration;
/// # fn main() -> std::io::Result<()> {
/// use mcast_unix::filter::{code::*, interp};
/// let keep_two = [Insn::stmt(BPF_RET | BPF_K, 2)];
/// assert_eq!(interp::deliver(&keep_two, b"abc"), Ok(Some(2)));
/// assert_eq!(interp::deliver(&keep_two, b"a"), Ok(Some(1)));
/// assert_eq!(interp::deliver(Program::reject_all().insns(), b"abc"), Ok(None));
/// # Ok(())
/// # }
/// ```
pub fn deliver(prog: &[Insn], msg: &[u8]) -> Result<Option<usize>, FilterError> {
    let ret = run(prog, msg)?;
    Ok((ret != 0).then(|| msg.len().min(ret as usize)))
}

#[cfg(test)]
mod tests;
