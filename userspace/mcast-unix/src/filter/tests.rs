//! The builder's programs run through the interpreter (and the host
//! kernel) against a direct model of what they should accept.

use super::*;
use crate::testutil::{HostFilter, Rng};

const ORDERS: [ByteOrder; 3] = [ByteOrder::Big, ByteOrder::Little, ByteOrder::Native];

/// One field condition, as the test states it.
#[derive(Clone, Debug)]
struct Spec {
    offset: u32,
    width: Width,
    order: ByteOrder,
    values: Vec<u32>,
}

impl Spec {
    fn add_to(&self, b: FilterBuilder) -> FilterBuilder {
        let v = self.values.iter().copied();
        match self.width {
            Width::U8 => b.u8_in(self.offset, v.map(|x| x as u8)),
            Width::U16 => b.u16_in(self.offset, self.order, v.map(|x| x as u16)),
            Width::U32 => b.u32_in(self.offset, self.order, v),
        }
    }

    /// The field's bytes for `value`, as a sender writes them.
    fn encode(&self, value: u32) -> Vec<u8> {
        match (self.width, self.order) {
            (Width::U8, _) => vec![value as u8],
            (Width::U16, ByteOrder::Big) => (value as u16).to_be_bytes().to_vec(),
            (Width::U16, ByteOrder::Little) => (value as u16).to_le_bytes().to_vec(),
            (Width::U16, ByteOrder::Native) => (value as u16).to_ne_bytes().to_vec(),
            (Width::U32, ByteOrder::Big) => value.to_be_bytes().to_vec(),
            (Width::U32, ByteOrder::Little) => value.to_le_bytes().to_vec(),
            (Width::U32, ByteOrder::Native) => value.to_ne_bytes().to_vec(),
        }
    }

    /// Whether `msg` holds the field with one of the values.
    fn holds(&self, msg: &[u8]) -> bool {
        let off = self.offset as usize;
        let Some(bytes) = msg.get(off..off + self.width.bytes() as usize) else {
            return false;
        };
        self.values.iter().any(|&v| self.encode(v) == bytes)
    }

    fn plant(&self, msg: &mut [u8], value: u32) {
        let off = self.offset as usize;
        let bytes = self.encode(value);
        if let Some(dst) = msg.get_mut(off..off + bytes.len()) {
            dst.copy_from_slice(&bytes);
        }
    }
}

fn build(specs: &[Spec], truncate: Option<u32>) -> Program {
    let mut b = specs.iter().fold(FilterBuilder::new(), |b, s| s.add_to(b));
    if let Some(k) = truncate {
        b = b.truncate(k);
    }
    let prog = b.build().unwrap();
    prog.check().unwrap();
    prog
}

/// What the model says the kernel queues.
fn expected(specs: &[Spec], truncate: Option<u32>, msg: &[u8]) -> Option<usize> {
    let keep = truncate.unwrap_or(u32::MAX);
    (specs.iter().all(|s| s.holds(msg)) && keep != 0).then(|| msg.len().min(keep as usize))
}

fn random_spec(rng: &mut Rng) -> Spec {
    let width = rng.pick(&[Width::U8, Width::U16, Width::U32]);
    let mask = match width {
        Width::U8 => 0xff,
        Width::U16 => 0xffff,
        Width::U32 => u32::MAX,
    };
    // Mostly small sets; sometimes empty; sometimes long enough for
    // several runs of jumps.
    let n = match rng.below(20) {
        0 => 0,
        1 => 256 + rng.below(600),
        _ => 1 + rng.below(6),
    };
    // Values from a small range, so planted and random bytes both hit.
    let small = rng.one_in(2);
    let values = (0..n).map(|_| if small { rng.u32() % 4 } else { rng.u32() } & mask).collect();
    Spec { offset: rng.below(10) as u32, width, order: rng.pick(&ORDERS), values }
}

/// A message of random length with, for each spec, maybe one of its values
/// planted (later specs may overwrite earlier ones).
fn random_message(rng: &mut Rng, specs: &[Spec]) -> Vec<u8> {
    let max = if rng.one_in(2) { 3 } else { 255 };
    let mut msg = rng.bytes(18, max);
    for s in specs {
        if !s.values.is_empty() && !rng.one_in(4) {
            let v = s.values[rng.below(s.values.len())];
            s.plant(&mut msg, v);
        }
    }
    msg
}

fn random_case(rng: &mut Rng) -> (Vec<Spec>, Option<u32>) {
    let specs: Vec<Spec> = (0..rng.below(4)).map(|_| random_spec(rng)).collect();
    let truncate = if rng.one_in(3) { Some(rng.below(12) as u32) } else { None };
    (specs, truncate)
}

#[test]
fn builder_matches_the_model() {
    let mut rng = Rng::new(10);
    let (mut hits, mut misses) = (0, 0);
    for _ in 0..1500 {
        let (specs, truncate) = random_case(&mut rng);
        let prog = build(&specs, truncate);
        for _ in 0..40 {
            let msg = random_message(&mut rng, &specs);
            let want = expected(&specs, truncate, &msg);
            assert_eq!(prog.deliver(&msg), Ok(want), "{specs:?} truncate {truncate:?} msg {msg:?}");
            if want.is_some() { hits += 1 } else { misses += 1 }
        }
    }
    assert!(hits > 10_000 && misses > 10_000, "hits {hits}, misses {misses}");
}

#[test]
fn builder_programs_agree_with_the_host_kernel() {
    let host = HostFilter::new();
    let mut rng = Rng::new(11);
    for _ in 0..300 {
        let (specs, truncate) = random_case(&mut rng);
        let prog = build(&specs, truncate);
        host.attach(&prog).unwrap();
        for _ in 0..8 {
            let msg = random_message(&mut rng, &specs);
            assert_eq!(host.deliver(&msg), expected(&specs, truncate, &msg), "{specs:?} {msg:?}");
        }
    }
}

#[test]
fn native_order_matches_a_native_writer() {
    let v: u32 = 0x1122_3344;
    let msg = [[0xaa].as_slice(), &v.to_ne_bytes()].concat();
    let native = FilterBuilder::new().u32_in(1, ByteOrder::Native, [v]).build().unwrap();
    assert_eq!(native.deliver(&msg), Ok(Some(5)));
    // The load reads big-endian: the raw constant matches only a
    // big-endian writer.
    let big = FilterBuilder::new().u32_in(1, ByteOrder::Big, [v]).build().unwrap();
    let big_hit = big.deliver(&msg).unwrap().is_some();
    assert_eq!(big_hit, cfg!(target_endian = "big"));
    assert_eq!(ByteOrder::Native.key32(v), u32::from_be_bytes(v.to_ne_bytes()));
    assert_eq!(ByteOrder::Native.key32(v), v.to_be());
    assert_eq!(ByteOrder::Little.key32(v), 0x4433_2211);
    assert_eq!(ByteOrder::Big.key32(v), v);
    assert_eq!(ByteOrder::Native.key16(0x1122), 0x1122u16.to_be());
    assert_eq!(ByteOrder::Little.key16(0x1122), 0x2211);
    // The program holds the load's view of the bytes.
    assert_eq!(native.insns()[1].k, v.to_be());
}

#[test]
fn fields_at_the_end_of_the_message() {
    for (spec, size) in [
        (FilterBuilder::new().u32_in(4, ByteOrder::Big, [0x0102_0304]), 4),
        (FilterBuilder::new().u16_in(6, ByteOrder::Big, [0x0304]), 2),
        (FilterBuilder::new().u8_in(7, [4]), 1),
    ] {
        let prog = spec.build().unwrap();
        let msg = [9, 9, 9, 9, 1, 2, 3, 4];
        assert_eq!(prog.deliver(&msg), Ok(Some(8)), "field of {size} ending the message");
        // One byte short of the field: rejected, whatever the bytes.
        assert_eq!(prog.deliver(&msg[..7]), Ok(None));
        assert_eq!(prog.deliver(&[]), Ok(None));
        // Longer messages still match.
        assert_eq!(prog.deliver(&[&msg[..], b"tail"].concat()), Ok(Some(12)));
    }
}

#[test]
fn values_or_fields_and() {
    let topics = ["a", "b", "c"];
    let prog = FilterBuilder::new()
        .topic_in(0, ByteOrder::Little, topics)
        .u8_in(4, [7, 9])
        .build()
        .unwrap();
    let msg = |topic: &str, kind: u8| [&topic_hash(topic).to_le_bytes()[..], &[kind, 0]].concat();
    for t in topics {
        assert_eq!(prog.deliver(&msg(t, 7)), Ok(Some(6)));
        assert_eq!(prog.deliver(&msg(t, 9)), Ok(Some(6)));
        assert_eq!(prog.deliver(&msg(t, 8)), Ok(None), "second field fails");
    }
    assert_eq!(prog.deliver(&msg("d", 7)), Ok(None), "first field fails");
    // Two conditions on one field: both must hold.
    let both = FilterBuilder::new().u8_in(0, [1, 2]).u8_in(0, [2, 3]).build().unwrap();
    let got: Vec<u8> = (0..5).filter(|&b| both.deliver(&[b]).unwrap().is_some()).collect();
    assert_eq!(got, [2]);
}

#[test]
fn truncation_keeps_a_prefix() {
    let prog = FilterBuilder::new().u8_in(0, [1]).truncate(3).build().unwrap();
    assert_eq!(prog.deliver(&[1, 2, 3, 4, 5]), Ok(Some(3)));
    assert_eq!(prog.deliver(&[1, 2]), Ok(Some(2)));
    assert_eq!(prog.deliver(&[0, 2, 3, 4]), Ok(None));
    assert_eq!(prog.run(&[1, 2, 3, 4]), Ok(3));
    let all = FilterBuilder::new().truncate(1).build().unwrap();
    assert_eq!(all.deliver(b"xyz"), Ok(Some(1)));
    let none = FilterBuilder::new().u8_in(0, [1]).truncate(0).build().unwrap();
    assert_eq!(none.deliver(&[1]), Ok(None));
}

#[test]
fn accept_all_and_reject_all() {
    let mut rng = Rng::new(12);
    let empty_set = FilterBuilder::new().u8_in(0, []).u32_in(0, ByteOrder::Big, [1]).build().unwrap();
    assert_eq!(empty_set, Program::reject_all());
    assert_eq!(FilterBuilder::new().build().unwrap(), Program::accept_all());
    for _ in 0..200 {
        let msg = rng.bytes(40, 255);
        assert_eq!(Program::accept_all().deliver(&msg), Ok(Some(msg.len())));
        assert_eq!(Program::reject_all().deliver(&msg), Ok(None));
        assert_eq!(empty_set.deliver(&msg), Ok(None));
    }
}

#[test]
fn large_value_sets_use_long_jumps() {
    // 1000 values: four runs of jumps, joined by `ja`.
    let values: Vec<u32> = (0..1000u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
    let prog = FilterBuilder::new().u32_in(2, ByteOrder::Native, values.iter().copied()).u8_in(0, [5]).build().unwrap();
    prog.check().unwrap();
    let ja = prog.insns().iter().filter(|i| i.code == BPF_JMP | BPF_JA).count();
    assert_eq!(ja, 3);
    let msg = |v: u32| [&[5, 0][..], &v.to_ne_bytes()].concat();
    for &v in &values {
        assert_eq!(prog.deliver(&msg(v)), Ok(Some(6)), "value {v:#x}");
        assert_eq!(prog.deliver(&msg(v ^ 1)), Ok(None), "value {:#x}", v ^ 1);
    }
    // Duplicates cost nothing.
    let dup = FilterBuilder::new().u8_in(0, [1, 1, 1]).build().unwrap();
    assert_eq!(dup.len(), FilterBuilder::new().u8_in(0, [1]).build().unwrap().len());
}

#[test]
fn build_limits() {
    let too_many = FilterBuilder::new().u32_in(0, ByteOrder::Big, 0..5000).build();
    assert_eq!(too_many.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    // The largest set that fits: load, keys, `ja`s, `ret #0`, final `ret`.
    let n = 4096 - 2 - 16;
    let fits = FilterBuilder::new().u32_in(0, ByteOrder::Big, 0..n).build().unwrap();
    assert_eq!(fits.len(), 4096);
    assert_eq!(fits.check(), Ok(()));
    assert!(FilterBuilder::new().u32_in(0, ByteOrder::Big, 0..=n).build().is_err());
    for off in [i32::MAX as u32, i32::MAX as u32 - 1, u32::MAX] {
        assert!(FilterBuilder::new().u16_in(off, ByteOrder::Big, [1]).build().is_err());
    }
    assert!(FilterBuilder::new().u16_in(i32::MAX as u32 - 2, ByteOrder::Big, [1]).build().is_ok());
    assert_eq!(Program::default().check(), Err(FilterError::Empty));
}

#[test]
fn fnv1a_known_values() {
    assert_eq!(fnv1a32(b""), 0x811c_9dc5);
    assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    const WEATHER: u32 = topic_hash("weather");
    assert_eq!(WEATHER, fnv1a32(b"weather"));
}

#[test]
fn insn_and_fprog_layout() {
    assert_eq!(std::mem::size_of::<Insn>(), std::mem::size_of::<libc::sock_filter>());
    assert_eq!(std::mem::offset_of!(Insn, code), std::mem::offset_of!(libc::sock_filter, code));
    assert_eq!(std::mem::offset_of!(Insn, jt), std::mem::offset_of!(libc::sock_filter, jt));
    assert_eq!(std::mem::offset_of!(Insn, jf), std::mem::offset_of!(libc::sock_filter, jf));
    assert_eq!(std::mem::offset_of!(Insn, k), std::mem::offset_of!(libc::sock_filter, k));
    let prog = FilterBuilder::new().u8_in(3, [1, 2]).build().unwrap();
    let fprog = prog.as_fprog();
    assert_eq!(usize::from(fprog.as_raw().len), prog.len());
    assert_eq!(fprog.as_raw().filter.cast_const().cast::<Insn>(), prog.insns().as_ptr());
}
