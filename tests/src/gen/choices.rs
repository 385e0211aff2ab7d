//! Where the generator's decisions come from: a seeded PRNG (the differential runner and CI) or
//! the bytes of a fuzzer's input (the cargo-fuzz `program` target), behind one interface.
//!
//! Byte-driven choices read as few bytes as the range needs and answer 0 once the input is used
//! up, and every "maybe" is false at 0, so a short input means a short program and the fuzzer's
//! mutations of a byte change one decision.

/// A stream of decisions.
pub struct Choices {
    source: Source,
}

enum Source {
    /// splitmix64 state.
    Seeded(u64),
    Bytes {
        data: Vec<u8>,
        pos: usize,
    },
}

impl Choices {
    /// Decisions from a PRNG: the same seed gives the same program.
    pub fn from_seed(seed: u64) -> Choices {
        Choices {
            source: Source::Seeded(seed),
        }
    }

    /// Decisions read from `data` (a fuzzer's input).
    pub fn from_bytes(data: &[u8]) -> Choices {
        Choices {
            source: Source::Bytes {
                data: data.to_vec(),
                pos: 0,
            },
        }
    }

    /// Up to `bytes` bytes of raw decision.
    fn raw(&mut self, bytes: usize) -> u64 {
        match &mut self.source {
            Source::Seeded(state) => {
                *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = *state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            }
            Source::Bytes { data, pos } => {
                let mut v = 0u64;
                for _ in 0..bytes {
                    let b = data.get(*pos).copied().unwrap_or(0);
                    *pos += 1;
                    v = (v << 8) | u64::from(b);
                }
                v
            }
        }
    }

    /// A number in `0..n` (0 when `n` is 0 or 1).
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let bytes = (64 - (n - 1).leading_zeros()).div_ceil(8) as usize;
        self.raw(bytes) % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `num / den`; false when the input is used up.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) >= den.saturating_sub(num)
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index weighted by `weights` (a weight of 0 is never picked unless all are 0).
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut r = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_choices_repeat_and_stay_in_range() {
        let mut a = Choices::from_seed(7);
        let mut b = Choices::from_seed(7);
        for n in 1..500 {
            let x = a.below(n);
            assert_eq!(x, b.below(n));
            assert!(x < n);
        }
    }

    #[test]
    fn exhausted_bytes_choose_zero_and_no() {
        let mut c = Choices::from_bytes(&[5]);
        assert_eq!(c.below(10), 5);
        assert_eq!(c.below(1000), 0);
        assert!(!c.chance(9, 10));
        assert_eq!(c.weighted(&[0, 3, 1]), 1);
    }
}
