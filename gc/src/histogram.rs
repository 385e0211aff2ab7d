//! A fixed-size, lock-free latency histogram for fault stalls: preallocated atomics, so a
//! signal handler can record into it (design note §4.2: no allocation in the handler).
//!
//! Buckets are log-linear: a power of two split into 8 sub-buckets, so a reported percentile
//! is the upper bound of its bucket, at most 12.5% above the true value. The maximum is exact.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = 64 * SUB;

pub struct StallHistogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    total: AtomicU64,
    max: AtomicU64,
}

impl Default for StallHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Bucket of value `v`: values below 8 have their own bucket; above, the exponent and the
/// three bits after the leading one.
fn bucket(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (e - SUB_BITS)) as usize & (SUB - 1);
    ((e - SUB_BITS + 1) as usize) * SUB + sub
}

/// The largest value that falls in bucket `b`.
fn upper(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let e = (b / SUB) as u32 + SUB_BITS - 1;
    let sub = (b % SUB) as u64;
    let lo = (1u64 << e) | (sub << (e - SUB_BITS));
    lo + (1u64 << (e - SUB_BITS)) - 1
}

/// Percentiles and extremes of the recorded values.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub total: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl StallHistogram {
    pub const fn new() -> Self {
        StallHistogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
            count: AtomicU64::new(0),
            total: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Records one value. Async-signal-safe (relaxed atomics only).
    #[inline]
    pub fn record(&self, ns: u64) {
        self.buckets[bucket(ns).min(BUCKETS - 1)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.total.fetch_add(ns, Relaxed);
        self.max.fetch_max(ns, Relaxed);
    }

    pub fn summary(&self) -> Summary {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let n: u64 = counts.iter().sum();
        let max = self.max.load(Relaxed);
        let pct = |p: u64| -> u64 {
            if n == 0 {
                return 0;
            }
            let rank = (n * p).div_ceil(100).max(1);
            let mut seen = 0;
            for (b, &c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return upper(b).min(max);
                }
            }
            max
        };
        Summary {
            count: n,
            total: self.total.load(Relaxed),
            p50: pct(50),
            p90: pct(90),
            p99: pct(99),
            max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_bounded() {
        let mut last = 0;
        for v in (0..100_000u64).chain([1 << 40, u64::MAX / 2]) {
            let b = bucket(v);
            assert!(b >= last, "bucket order at {v}");
            last = b;
            assert!(upper(b) >= v, "upper bound of {v}");
            if v >= 8 {
                assert!(upper(b) - v <= v / 8, "precision at {v}");
            }
        }
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let h = StallHistogram::new();
        for v in 1..=1000u64 {
            h.record(v * 100);
        }
        let s = h.summary();
        assert_eq!((s.count, s.max), (1000, 100_000));
        assert!((50_000..=56_250).contains(&s.p50), "{s:?}");
        assert!((99_000..=100_000).contains(&s.p99), "{s:?}");
        assert_eq!(s.total, 100 * 500_500);
    }
}
