//! Latency distributions: durations in ns recorded into an HDR histogram (3 significant digits,
//! so a percentile is within 0.1% of the true value) and summarised as the report prints them.

use hdrhistogram::Histogram;

/// Largest duration recorded: one hour. Longer values are clamped (a run is killed long before).
const MAX_NS: u64 = 3_600_000_000_000;

/// A histogram of durations in ns.
pub struct Durations {
    h: Histogram<u64>,
    total_ns: u128,
}

impl Default for Durations {
    fn default() -> Self {
        Self::new()
    }
}

impl Durations {
    pub fn new() -> Self {
        Durations {
            // Bounds and precision are constants known to be valid for hdrhistogram.
            h: Histogram::new_with_bounds(1, MAX_NS, 3).unwrap_or_else(|_| {
                Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures is valid"))
            }),
            total_ns: 0,
        }
    }

    pub fn record(&mut self, ns: u64) {
        let v = ns.min(MAX_NS);
        // `v` is within the bounds given at construction, so recording cannot fail.
        let _ = self.h.record(v);
        self.total_ns += u128::from(ns);
    }

    /// Records `count` occurrences of `ns`.
    pub fn record_n(&mut self, ns: u64, count: u64) {
        if count == 0 {
            return;
        }
        // Within the bounds given at construction, so recording cannot fail.
        let _ = self.h.record_n(ns.min(MAX_NS), count);
        self.total_ns += u128::from(ns) * u128::from(count);
    }

    /// A distribution rebuilt from a bucketed histogram: each bucket's count recorded at the
    /// bucket's upper bound, capped at the exact maximum `max_ns` (a bucket's bound may lie
    /// above every value in it). Percentiles are then upper bounds, as wide as the buckets;
    /// the total is an upper bound too.
    pub fn from_buckets(buckets: &[(u64, u64)], max_ns: u64) -> Self {
        let mut d = Self::new();
        for &(upper, count) in buckets {
            d.record_n(upper.min(max_ns), count);
        }
        d
    }

    pub fn from_values(values: impl IntoIterator<Item = u64>) -> Self {
        let mut d = Self::new();
        for v in values {
            d.record(v);
        }
        d
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// The value at quantile `q` (0..=1); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        (self.count() > 0).then(|| self.h.value_at_quantile(q.clamp(0.0, 1.0)))
    }

    pub fn summary(&self) -> Summary {
        let n = self.count();
        Summary {
            count: n,
            p50_ns: self.quantile(0.5),
            p99_ns: self.quantile(0.99),
            p999_ns: self.quantile(0.999),
            max_ns: (n > 0).then(|| self.h.max()),
            total_ns: self.total_ns.min(u128::from(u64::MAX)) as u64,
        }
    }

    /// Points `(percentile, ns)` for a percentile curve: 0, 50, 90, 99, 99.9, ... up to the
    /// resolution the count supports, then 100 (the max).
    pub fn percentile_curve(&self) -> Vec<(f64, u64)> {
        let n = self.count();
        if n == 0 {
            return Vec::new();
        }
        let mut pts = Vec::new();
        // Decade d covers [100 - 100/10^d, 100 - 100/10^(d+1)) in tenths: 0, 10 .. 90, 91 .. 99,
        // 99.1 ..; a point is kept while at least one value lies above it.
        'decades: for d in 0..12 {
            let tail = 100.0 / 10f64.powi(d);
            for j in 0..9 {
                let p = 100.0 - tail + tail * f64::from(j) / 10.0;
                if (100.0 - p) * n as f64 / 100.0 < 1.0 - 1e-9 {
                    break 'decades;
                }
                pts.push((p, self.h.value_at_quantile(p / 100.0)));
            }
        }
        pts.push((100.0, self.h.max()));
        pts
    }
}

/// The figures of a distribution that the report shows; `None` where there is no value.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub p999_ns: Option<u64>,
    pub max_ns: Option<u64>,
    pub total_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        // 1..=1000 µs: p50 = 500 µs, p99 = 990 µs, p99.9 = 999 µs, max 1000 µs.
        let d = Durations::from_values((1..=1000).map(|us| us * 1000));
        let s = d.summary();
        assert_eq!(s.count, 1000);
        let near = |got: Option<u64>, want: u64| {
            let g = got.unwrap() as f64;
            assert!(
                (g - want as f64).abs() <= want as f64 * 0.001,
                "{g} vs {want}"
            );
        };
        near(s.p50_ns, 500_000);
        near(s.p99_ns, 990_000);
        near(s.p999_ns, 999_000);
        near(s.max_ns, 1_000_000);
        assert_eq!(s.total_ns, 500_500_000);
    }

    #[test]
    fn rebuilt_from_buckets() {
        // 90 values in a bucket up to 1_023 ns, 9 up to 10_239, 1 up to 1_048_575 (max 700_000).
        let d = Durations::from_buckets(&[(1_023, 90), (10_239, 9), (1_048_575, 1)], 700_000);
        let s = d.summary();
        assert_eq!(s.count, 100);
        let near = |got: Option<u64>, want: u64| {
            let g = got.unwrap();
            assert!(g.abs_diff(want) <= want / 1000, "{g} vs {want}");
        };
        near(s.p50_ns, 1_023);
        near(s.p99_ns, 10_239);
        // The top bucket is recorded at the exact max, not its bound.
        near(s.max_ns, 700_000);
        assert_eq!(s.total_ns, 90 * 1_023 + 9 * 10_239 + 700_000);
        let mut e = Durations::new();
        e.record_n(5, 0);
        assert_eq!(e.count(), 0);
        assert_eq!(Durations::from_buckets(&[], 0).count(), 0);
    }

    #[test]
    fn empty_and_extreme_values() {
        let s = Durations::new().summary();
        assert_eq!(s.count, 0);
        assert_eq!(s.max_ns, None);
        assert!(Durations::new().percentile_curve().is_empty());
        let mut d = Durations::new();
        d.record(0);
        assert_eq!(d.summary().max_ns, Some(0), "a zero stays zero");
        d.record(u64::MAX);
        assert_eq!(d.count(), 2);
        assert!(d.summary().max_ns.unwrap() >= MAX_NS);
    }

    #[test]
    fn curve_is_monotonic_and_ends_at_the_max() {
        let d = Durations::from_values((1..=10_000).map(|v| v * 7));
        let c = d.percentile_curve();
        assert!(c.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(c.last().unwrap().0, 100.0);
        assert_eq!(c.last().unwrap().1, d.summary().max_ns.unwrap());
        // 10,000 values resolve down to p99.99 but not p99.999.
        assert!(c.iter().any(|&(p, _)| (p - 99.99).abs() < 1e-6));
        assert!(!c.iter().any(|&(p, _)| p > 99.995 && p < 100.0));
    }
}
