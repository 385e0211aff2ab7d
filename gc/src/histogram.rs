//! A fixed-size, lock-free latency histogram for fault stalls: preallocated atomics, so a
//! signal handler can record into it (design note §4.2: no allocation in the handler).
//!
//! Buckets are log-linear: a power of two split into 8 sub-buckets, so a reported percentile
//! is the upper bound of its bucket, at most 12.5% above the true value. The maximum is exact.
//!
//! Recording is the only part a handler runs; reading ([`StallHistogram::summary`],
//! [`StallHistogram::buckets`]) allocates and is done outside it, for the statistics.

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

/// The largest value that falls in bucket `b` (`u64::MAX` for the buckets past the last
/// exponent, which no value reaches).
fn upper(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let e = (b / SUB) as u32 + SUB_BITS - 1;
    if e > 63 {
        return u64::MAX;
    }
    let sub = (b % SUB) as u64;
    let lo = (1u64 << e) | (sub << (e - SUB_BITS));
    lo + ((1u64 << (e - SUB_BITS)) - 1)
}

/// Percentiles and extremes of the recorded values.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub total: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
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
        // `per_mille`: 500 is the median, 999 the 99.9th percentile.
        let pct = |per_mille: u64| -> u64 {
            if n == 0 {
                return 0;
            }
            let rank = (n * per_mille).div_ceil(1000).max(1);
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
            p50: pct(500),
            p90: pct(900),
            p99: pct(990),
            p999: pct(999),
            max,
        }
    }

    /// The non-empty buckets as `(upper bound in ns, count)`, in increasing order: enough for
    /// a reader to rebuild the distribution (to the bucket precision). Not for a handler: it
    /// allocates.
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        self.buckets
            .iter()
            .enumerate()
            .filter_map(|(b, c)| {
                let c = c.load(Relaxed);
                (c > 0).then(|| (upper(b), c))
            })
            .collect()
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
        assert!((99_900..=100_000).contains(&s.p999), "{s:?}");
        assert_eq!(s.total, 100 * 500_500);
    }

    #[test]
    fn p999_sees_a_rare_tail_that_p99_does_not() {
        let h = StallHistogram::new();
        for _ in 0..998 {
            h.record(1_000);
        }
        h.record(1_000_000);
        h.record(2_000_000);
        let s = h.summary();
        assert!(s.p99 <= 1_125, "{s:?}");
        assert!((1_000_000..=1_125_000).contains(&s.p999), "{s:?}");
        assert_eq!(s.max, 2_000_000);
    }

    #[test]
    fn exported_buckets_rebuild_the_distribution() {
        let h = StallHistogram::new();
        assert!(h.buckets().is_empty());
        let values = [0u64, 3, 3, 9, 100, 5_000, 5_001, 1 << 40, u64::MAX];
        for &v in &values {
            h.record(v);
        }
        let b = h.buckets();
        // Every count is there once, in increasing bucket order.
        assert_eq!(b.iter().map(|&(_, c)| c).sum::<u64>(), values.len() as u64);
        assert!(b.windows(2).all(|w| w[0].0 < w[1].0), "{b:?}");
        // Each value lies in the first bucket whose upper bound is at least the value.
        for &v in &values {
            let (u, _) = *b.iter().find(|&&(u, _)| u >= v).expect("a bucket holds it");
            assert!(u - v <= v / 8, "{v} reported as {u}");
        }
        assert_eq!(b[0], (0, 1));
        assert_eq!(b[1], (3, 2));
        assert_eq!(b.last().unwrap().0, u64::MAX);
    }

    #[test]
    fn upper_bounds_of_every_bucket_are_defined() {
        let all: Vec<u64> = (0..BUCKETS).map(upper).collect();
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(upper(bucket(u64::MAX)), u64::MAX);
    }
}
