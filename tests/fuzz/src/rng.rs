//! SplitMix64: small, fast and good enough to drive a fuzzer. Each thread has
//! its own generator seeded with `seed + thread index`, so the choices one
//! thread makes (not their outcomes, which depend on the other threads) replay
//! from the seed.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform index into a collection of `n` items.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with the given probability in percent.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as u64
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// One of `items` or, as one more choice, a random value from `extra`.
    pub fn pick_or<T: Copy>(&mut self, items: &[T], extra: impl FnOnce(&mut Rng) -> T) -> T {
        let i = self.index(items.len() + 1);
        if i == items.len() {
            extra(self)
        } else {
            items[i]
        }
    }

    /// An index chosen with the given relative weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w as u64 {
                return i;
            }
            x -= w as u64;
        }
        weights.len() - 1
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_ne_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// An int argument: a boundary value half of the time, else random
    /// (small values more often than large ones).
    pub fn int(&mut self) -> i32 {
        const EDGES: [i32; 14] = [0, 1, -1, 2, 3, 7, 8, 255, 4096, 0x7fff, 0xffff, i32::MAX, i32::MIN, i32::MAX - 1];
        match self.below(4) {
            0 | 1 => self.pick(&EDGES),
            2 => self.below(256) as i32,
            _ => self.u32() as i32,
        }
    }

    /// A length argument (`socklen_t`): boundary values around `exact`, the
    /// exact value, small ones and huge ones.
    pub fn len_around(&mut self, exact: u32) -> u32 {
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
    fn replays_from_the_seed() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn below_and_weighted_stay_in_range() {
        let mut r = Rng::new(7);
        for n in 1..50 {
            assert!(r.below(n) < n);
        }
        assert_eq!(r.below(0), 0);
        for _ in 0..1000 {
            assert!(r.weighted(&[1, 0, 3]) != 1);
        }
    }
}
