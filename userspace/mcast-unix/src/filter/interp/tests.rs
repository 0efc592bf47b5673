//! The interpreter against Rust reference semantics, the checker against
//! the kernel's rules, and both against the host kernel.

use super::*;
use crate::testutil::{HostFilter, Rng};
use crate::Program;

fn stmt(code: u16, k: u32) -> Insn {
    Insn::stmt(code, k)
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn::jump(code, k, jt, jf)
}

/// An opcode and what it computes.
type Reference<T> = (u16, fn(u32, u32) -> T);

const RET_A: Insn = Insn::stmt(BPF_RET | BPF_A, 0);

/// Every opcode the kernel takes.
fn allowed_codes() -> Vec<u16> {
    (0..=0xffu16).filter(|&c| allowed(c)).collect()
}

#[test]
fn the_allowed_opcodes_are_the_kernels() {
    // chk_code_allowed(): 21 ALU, 13 load, 2 store, 2 misc, 2 return and
    // 9 jump opcodes.
    assert_eq!(allowed_codes().len(), 49);
    assert!(allowed(BPF_LD | BPF_IMM) && !allowed(BPF_LD | BPF_H | BPF_IMM));
    assert!(allowed(BPF_RET | BPF_A) && !allowed(BPF_RET | BPF_X));
    assert!(allowed(BPF_ALU | BPF_NEG) && !allowed(BPF_ALU | BPF_NEG | BPF_X));
    assert!(!allowed(BPF_JMP | BPF_JA | BPF_X) && !allowed(0x100 | BPF_RET));
}

#[test]
fn alu_matches_reference() {
    let ops: [Reference<Option<u32>>; 10] = [
        (BPF_ADD, |a, b| Some(a.wrapping_add(b))),
        (BPF_SUB, |a, b| Some(a.wrapping_sub(b))),
        (BPF_MUL, |a, b| Some(a.wrapping_mul(b))),
        (BPF_DIV, |a, b| a.checked_div(b)),
        (BPF_MOD, |a, b| a.checked_rem(b)),
        (BPF_OR, |a, b| Some(a | b)),
        (BPF_AND, |a, b| Some(a & b)),
        (BPF_XOR, |a, b| Some(a ^ b)),
        (BPF_LSH, |a, b| Some(a << (b % 32))),
        (BPF_RSH, |a, b| Some(a >> (b % 32))),
    ];
    let mut rng = Rng::new(1);
    for round in 0..2000 {
        let a = rng.u32();
        // Small operands too, to reach 0 divisors and in-range shifts.
        let b = if round % 2 == 0 { rng.u32() } else { rng.u32() % 40 };
        for (op, reference) in ops {
            let expect = reference(a, b).unwrap_or(0);
            let by_x = [stmt(BPF_LD | BPF_IMM, a), stmt(BPF_LDX | BPF_IMM, b), stmt(BPF_ALU | op | BPF_X, 0), RET_A];
            assert_eq!(run(&by_x, &[]), Ok(expect), "op {op:#x} a {a} x {b}");
            let by_k = [stmt(BPF_LD | BPF_IMM, a), stmt(BPF_ALU | op | BPF_K, b), RET_A];
            match check(&by_k) {
                Ok(()) => assert_eq!(run(&by_k, &[]), Ok(expect), "op {op:#x} a {a} k {b}"),
                Err(e) => assert!(
                    (b == 0 && matches!(op, BPF_DIV | BPF_MOD)) || (b >= 32 && matches!(op, BPF_LSH | BPF_RSH)),
                    "{e} for op {op:#x} k {b}"
                ),
            }
        }
        let neg = [stmt(BPF_LD | BPF_IMM, a), stmt(BPF_ALU | BPF_NEG, 0), RET_A];
        assert_eq!(run(&neg, &[]), Ok(a.wrapping_neg()));
    }
}

/// `load`, then: 1 if A is `expect`, 2 if not; 0 if the load ended it.
fn probe(load: &[Insn], expect: u32) -> Vec<Insn> {
    let mut p = load.to_vec();
    p.extend([jump(BPF_JMP | BPF_JEQ | BPF_K, expect, 0, 1), stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 2)]);
    p
}

/// The big-endian value of `msg[off..off + size]`, if inside.
fn reference_load(msg: &[u8], off: usize, size: usize) -> Option<u32> {
    msg.get(off..off + size).map(|b| b.iter().fold(0, |acc, &x| acc << 8 | u32::from(x)))
}

#[test]
fn loads_are_big_endian_and_bounded() {
    let mut rng = Rng::new(2);
    for _ in 0..500 {
        let msg = rng.bytes(12, 255);
        for (size_code, size) in [(BPF_B, 1), (BPF_H, 2), (BPF_W, 4)] {
            for off in 0..14usize {
                let want = reference_load(&msg, off, size);
                let expect = want.map_or(0, |_| 1);
                let abs = probe(&[stmt(BPF_LD | size_code | BPF_ABS, off as u32)], want.unwrap_or(0));
                assert_eq!(run(&abs, &msg), Ok(expect), "abs size {size} off {off} len {}", msg.len());
                // X + k, split either way.
                let x = rng.below(off + 1) as u32;
                let ind = [stmt(BPF_LDX | BPF_IMM, x), stmt(BPF_LD | size_code | BPF_IND, off as u32 - x)];
                assert_eq!(run(&probe(&ind, want.unwrap_or(0)), &msg), Ok(expect), "ind size {size} off {off}");
            }
        }
    }
}

#[test]
fn boundary_loads() {
    let msg = [0x12, 0x34, 0x56, 0x78, 0x9a];
    // The last word, half-word and byte are inside; one further is not.
    assert_eq!(run(&probe(&[stmt(BPF_LD | BPF_W | BPF_ABS, 1)], 0x3456_789a), &msg), Ok(1));
    assert_eq!(run(&probe(&[stmt(BPF_LD | BPF_W | BPF_ABS, 2)], 0), &msg), Ok(0));
    assert_eq!(run(&probe(&[stmt(BPF_LD | BPF_H | BPF_ABS, 3)], 0x789a), &msg), Ok(1));
    assert_eq!(run(&probe(&[stmt(BPF_LD | BPF_H | BPF_ABS, 4)], 0), &msg), Ok(0));
    assert_eq!(run(&probe(&[stmt(BPF_LD | BPF_B | BPF_ABS, 4)], 0x9a), &msg), Ok(1));
    assert_eq!(run(&probe(&[stmt(BPF_LD | BPF_B | BPF_ABS, 5)], 0), &msg), Ok(0));
    // Nothing is inside an empty message.
    assert_eq!(run(&probe(&[stmt(BPF_LD | BPF_B | BPF_ABS, 0)], 0), &[]), Ok(0));
    // Offsets the kernel reads as negative.
    assert_eq!(run(&probe(&[stmt(BPF_LD | BPF_B | BPF_ABS, 0x8000_0000)], 0), &msg), Ok(0));
    // X + k wraps at 32 bits: 0xffffffff + 2 is offset 1.
    let ind = [stmt(BPF_LDX | BPF_IMM, u32::MAX), stmt(BPF_LD | BPF_B | BPF_IND, 2)];
    assert_eq!(run(&probe(&ind, 0x34), &msg), Ok(1));
    let ind = [stmt(BPF_LDX | BPF_IMM, u32::MAX), stmt(BPF_LD | BPF_B | BPF_IND, 0)];
    assert_eq!(run(&probe(&ind, 0), &msg), Ok(0));
}

#[test]
fn len_msh_memory_and_moves() {
    let msg = [0x45, 0, 0, 0, 0, 0, 0];
    assert_eq!(run(&[stmt(BPF_LD | BPF_W | BPF_LEN, 0), RET_A], &msg), Ok(7));
    let ldx_len = [stmt(BPF_LDX | BPF_W | BPF_LEN, 0), stmt(BPF_MISC | BPF_TXA, 0), RET_A];
    assert_eq!(run(&ldx_len, &msg), Ok(7));
    // 4 * (0x45 & 0xf) = 20.
    let msh = [stmt(BPF_LDX | BPF_B | BPF_MSH, 0), stmt(BPF_MISC | BPF_TXA, 0), RET_A];
    assert_eq!(run(&msh, &msg), Ok(20));
    assert_eq!(run(&[stmt(BPF_LDX | BPF_B | BPF_MSH, 7), stmt(BPF_RET | BPF_K, 9)], &msg), Ok(0));
    let mem = [
        stmt(BPF_LD | BPF_IMM, 11),
        stmt(BPF_ST, 15),
        stmt(BPF_MISC | BPF_TAX, 0),
        stmt(BPF_STX, 3),
        stmt(BPF_LD | BPF_IMM, 0),
        stmt(BPF_LDX | BPF_MEM, 15),
        stmt(BPF_LD | BPF_MEM, 3),
        stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
        RET_A,
    ];
    assert_eq!(run(&mem, &msg), Ok(22));
}

#[test]
fn jumps_match_reference() {
    let conds: [Reference<bool>; 4] = [
        (BPF_JEQ, |a, b| a == b),
        (BPF_JGT, |a, b| a > b),
        (BPF_JGE, |a, b| a >= b),
        (BPF_JSET, |a, b| a & b != 0),
    ];
    let mut rng = Rng::new(3);
    for _ in 0..3000 {
        let a = rng.u32() % 8;
        let b = if rng.one_in(4) { a } else { rng.u32() % 8 };
        for (op, reference) in conds {
            let expect = if reference(a, b) { 10 } else { 20 };
            // jt skips two instructions, jf one.
            let tail = [stmt(BPF_RET | BPF_K, 30), stmt(BPF_RET | BPF_K, 20), stmt(BPF_RET | BPF_K, 10)];
            let mut by_k = vec![stmt(BPF_LD | BPF_IMM, a), jump(BPF_JMP | op | BPF_K, b, 2, 1)];
            by_k.extend(tail);
            assert_eq!(run(&by_k, &[]), Ok(expect), "op {op:#x} {a} {b}");
            let mut by_x = vec![stmt(BPF_LD | BPF_IMM, a), stmt(BPF_LDX | BPF_IMM, b), jump(BPF_JMP | op | BPF_X, 0, 2, 1)];
            by_x.extend(tail);
            assert_eq!(run(&by_x, &[]), Ok(expect), "op {op:#x}|X {a} {b}");
        }
    }
    let ja = [stmt(BPF_JMP | BPF_JA, 1), stmt(BPF_RET | BPF_K, 1), stmt(BPF_RET | BPF_K, 2)];
    assert_eq!(run(&ja, &[]), Ok(2));
}

#[test]
fn deliver_is_the_kept_prefix() {
    let ret = |k| vec![stmt(BPF_RET | BPF_K, k)];
    assert_eq!(deliver(&ret(0), b"abc"), Ok(None));
    assert_eq!(deliver(&ret(2), b"abc"), Ok(Some(2)));
    assert_eq!(deliver(&ret(3), b"abc"), Ok(Some(3)));
    assert_eq!(deliver(&ret(u32::MAX), b"abc"), Ok(Some(3)));
    assert_eq!(deliver(&ret(1), b""), Ok(Some(0)));
}

#[test]
fn checker_refuses_what_the_kernel_refuses() {
    let ret0 = stmt(BPF_RET | BPF_K, 0);
    let cases: Vec<(Vec<Insn>, FilterError)> = vec![
        (vec![], FilterError::Empty),
        (vec![ret0; BPF_MAXINSNS + 1], FilterError::TooLong(BPF_MAXINSNS + 1)),
        (vec![stmt(BPF_RET | BPF_X, 0)], FilterError::BadCode { pc: 0, code: BPF_RET | BPF_X }),
        (vec![stmt(0xffff, 0), ret0], FilterError::BadCode { pc: 0, code: 0xffff }),
        (vec![stmt(BPF_ALU | BPF_DIV | BPF_K, 0), ret0], FilterError::DivideByZero { pc: 0 }),
        (vec![stmt(BPF_ALU | BPF_MOD | BPF_K, 0), ret0], FilterError::DivideByZero { pc: 0 }),
        (vec![stmt(BPF_ALU | BPF_LSH | BPF_K, 32), ret0], FilterError::BadShift { pc: 0 }),
        (vec![stmt(BPF_ALU | BPF_RSH | BPF_K, 99), ret0], FilterError::BadShift { pc: 0 }),
        (vec![stmt(BPF_ST, 16), ret0], FilterError::BadSlot { pc: 0 }),
        (vec![stmt(BPF_LDX | BPF_MEM, 16), ret0], FilterError::BadSlot { pc: 0 }),
        (vec![stmt(BPF_JMP | BPF_JA, 1), ret0], FilterError::JumpOutOfRange { pc: 0 }),
        (vec![jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), ret0], FilterError::JumpOutOfRange { pc: 0 }),
        (vec![jump(BPF_JMP | BPF_JGT | BPF_X, 0, 0, 1), ret0], FilterError::JumpOutOfRange { pc: 0 }),
        (vec![stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_MAX), ret0], FilterError::BadAncillary { pc: 0 }),
        (vec![stmt(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + 2), ret0], FilterError::BadAncillary { pc: 0 }),
        (vec![stmt(BPF_LD | BPF_IMM, 0)], FilterError::NoFinalRet),
        (vec![ret0, stmt(BPF_JMP | BPF_JA, 0)], FilterError::JumpOutOfRange { pc: 1 }),
        (vec![stmt(BPF_LD | BPF_MEM, 0), ret0], FilterError::UninitializedRead { pc: 0 }),
        // Written on one path only.
        (
            vec![
                jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
                stmt(BPF_ST, 4),
                stmt(BPF_LDX | BPF_MEM, 4),
                ret0,
            ],
            FilterError::UninitializedRead { pc: 2 },
        ),
    ];
    for (prog, err) in cases {
        assert_eq!(check(&prog), Err(err), "{prog:?}");
        assert_eq!(run(&prog, b"msg"), Err(err));
    }
}

#[test]
fn checker_takes_what_the_kernel_takes() {
    let ret0 = stmt(BPF_RET | BPF_K, 0);
    let ok: Vec<Vec<Insn>> = vec![
        vec![ret0],
        vec![RET_A],
        vec![ret0; BPF_MAXINSNS],
        // The furthest jumps.
        vec![stmt(BPF_JMP | BPF_JA, 1), ret0, ret0],
        vec![jump(BPF_JMP | BPF_JSET | BPF_K, 1, 1, 0), ret0, ret0],
        // Written on both paths, read after they meet.
        vec![
            jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
            stmt(BPF_ST, 4),
            stmt(BPF_JMP | BPF_JA, 1),
            stmt(BPF_STX, 4),
            stmt(BPF_LD | BPF_MEM, 4),
            RET_A,
        ],
        vec![stmt(BPF_ALU | BPF_LSH | BPF_K, 31), stmt(BPF_ALU | BPF_DIV | BPF_K, 1), ret0],
        // Known ancillary loads.
        vec![stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF), ret0],
        vec![stmt(BPF_LD | BPF_H | BPF_ABS, SKF_AD_OFF + SKF_AD_MAX - 4), ret0],
        // Unreachable code is not an error.
        vec![ret0, stmt(BPF_LD | BPF_IMM, 0), ret0],
    ];
    for prog in ok {
        assert_eq!(check(&prog), Ok(()), "{prog:?}");
    }
    let anc = [stmt(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + 4), RET_A];
    assert_eq!(run(&anc, &[]), Err(FilterError::Unsupported { pc: 0 }));
    assert_eq!(io::Error::from(FilterError::Empty).kind(), io::ErrorKind::InvalidInput);
}

/// A random program: mostly opcodes the kernel takes, with operands near
/// their limits, ending in a return most of the time.
fn random_program(rng: &mut Rng, codes: &[u16]) -> Vec<Insn> {
    let len = 1 + rng.below(10);
    let mut prog: Vec<Insn> = (0..len)
        .map(|pc| {
            let code = if rng.one_in(30) { rng.below(0x100) as u16 } else { rng.pick(codes) };
            let rest = (len - pc) as u32;
            let k = match code & 0x07 {
                _ if uses_slot(code) => rng.below(BPF_MEMWORDS + 1) as u32,
                BPF_LD | BPF_LDX if code & 0xe0 != BPF_IMM => rng.below(20) as u32,
                BPF_JMP => rng.u32() % (rest + 1),
                BPF_ALU if matches!(code & 0xf0, BPF_LSH | BPF_RSH | BPF_DIV | BPF_MOD) => rng.below(34) as u32,
                BPF_RET if rng.one_in(3) => u32::MAX,
                // Immediates: sometimes huge (shift counts over 31, offsets
                // that wrap with X + k).
                _ if rng.one_in(4) => u32::MAX - rng.below(40) as u32,
                _ => rng.below(40) as u32,
            };
            let jt = rng.below(rest as usize + 1) as u8;
            let jf = rng.below(rest as usize + 1) as u8;
            Insn::jump(code, k, jt, jf)
        })
        .collect();
    if !rng.one_in(10) {
        let k = rng.pick(&[0, 1, 3, 8, u32::MAX]);
        prog.push(if rng.one_in(3) { RET_A } else { stmt(BPF_RET | BPF_K, k) });
    }
    prog
}

#[test]
fn checker_and_interpreter_agree_with_the_host_kernel() {
    let host = HostFilter::new();
    let codes = allowed_codes();
    let mut rng = Rng::new(4);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let prog = random_program(&mut rng, &codes);
        let ours = check(&prog);
        let theirs = host.attach(&Program::new(prog.clone()));
        match (&ours, &theirs) {
            (Ok(()), Ok(())) => accepted += 1,
            (Err(_), Err(e)) if e.raw_os_error() == Some(libc::EINVAL) => {
                refused += 1;
                continue;
            }
            _ => panic!("checker {ours:?}, kernel {theirs:?}: {prog:?}"),
        }
        for _ in 0..6 {
            let max = rng.pick(&[7, 255]);
            let msg = rng.bytes(16, max);
            assert_eq!(deliver(&prog, &msg), Ok(host.deliver(&msg)), "{prog:?} on {msg:?}");
        }
    }
    // Both verdicts well represented.
    assert!(accepted > 5000 && refused > 5000, "accepted {accepted}, refused {refused}");
}
