//! The fuzzer's generator: [`Rng`] (SplitMix64, shared with the other test
//! programs) and the argument values it picks ([`Args`]). Each thread has
//! its own generator seeded with `seed + thread index`, so the choices one
//! thread makes (not their outcomes, which depend on the other threads)
//! replay from the seed.

pub use test_support::rng::Rng;

/// Argument values for system calls: boundaries far more often than chance
/// would pick them.
pub trait Args {
    /// An int argument: a boundary value half of the time, else random
    /// (small values more often than large ones).
    fn int(&mut self) -> i32;

    /// A length argument (`socklen_t`): boundary values around `exact`, the
    /// exact value, small ones and huge ones.
    fn len_around(&mut self, exact: u32) -> u32;
}

impl Args for Rng {
    fn int(&mut self) -> i32 {
        const EDGES: [i32; 14] = [0, 1, -1, 2, 3, 7, 8, 255, 4096, 0x7fff, 0xffff, i32::MAX, i32::MIN, i32::MAX - 1];
        match self.below(4) {
            0 | 1 => self.pick(&EDGES),
            2 => self.below(256) as i32,
            _ => self.u32() as i32,
        }
    }

    fn len_around(&mut self, exact: u32) -> u32 {
        match self.below(10) {
            0..=4 => exact,
            5 => exact.wrapping_sub(1),
            6 => exact.wrapping_add(self.range(1, 16) as u32),
            7 => self.below(201) as u32,
            8 => self.pick(&[0, 1, 2, 3, 4, 8, 16, 108, 110, 111, 128, 129, 256, 4096]),
            _ => self.pick(&[0x7fff_ffff, 0x8000_0000, u32::MAX, 0x10000]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_replay_and_hit_the_boundaries() {
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        let ints: Vec<i32> = (0..200).map(|_| a.int()).collect();
        assert_eq!(ints, (0..200).map(|_| b.int()).collect::<Vec<_>>());
        assert!(ints.contains(&0) && ints.contains(&i32::MAX), "boundaries come up often");
        assert!((0..200).map(|_| a.len_around(110)).any(|l| l == 110));
    }
}
