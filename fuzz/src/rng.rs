// SPDX-License-Identifier: GPL-2.0

//! A small deterministic PRNG (xorshift64*, seeded through splitmix64): the
//! same seed and case number give the same input on every machine.

/// The generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

/// splitmix64's mixing step: spreads any seed over the state space.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for case `case` of a run seeded with `seed`.
    pub fn for_case(seed: u64, case: u64) -> Self {
        Rng(mix(seed ^ mix(case)) | 1)
    }

    /// 64 random bits.
    pub fn bits(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            // Multiply-shift: no modulo bias worth caring about here.
            ((u128::from(self.bits()) * u128::from(n)) >> 64) as u64
        }
    }

    /// An index into something of `len` elements (0 when empty).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// How many mutations to stack: 1, 2 half as often, 3 a quarter...
    pub fn count(&mut self, max: u32) -> u32 {
        let mut n = 1;
        while n < max && self.one_in(2) {
            n += 1;
        }
        n
    }
}
