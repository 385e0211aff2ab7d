//! Minimum mutator utilization (Cheng & Blelloch): for a window length w, the smallest fraction
//! of any w-long stretch of the run during which the mutator was not paused. Computed from the
//! pause list (start and duration) exactly, not by sampling.

/// Window lengths of the MMU curve: 1 ms to 1 s, three per decade.
pub const WINDOWS_NS: [u64; 10] = [
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
];

/// Pauses of one run as sorted, disjoint `[start, end)` intervals clipped to `[0, run_ns)`.
pub struct Timeline {
    starts: Vec<u64>,
    ends: Vec<u64>,
    /// `before[k]`: total pause time of the first k intervals.
    before: Vec<u64>,
    run_ns: u64,
}

impl Timeline {
    /// `pauses` as `(start_ns, duration_ns)` in any order; overlapping ones are merged. `run_ns`
    /// is the length of the run; it is stretched to cover the last pause.
    pub fn new(pauses: impl IntoIterator<Item = (u64, u64)>, run_ns: u64) -> Self {
        let mut iv: Vec<(u64, u64)> = pauses
            .into_iter()
            .filter(|&(_, d)| d > 0)
            .map(|(s, d)| (s, s.saturating_add(d)))
            .collect();
        iv.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(iv.len());
        for (s, e) in iv {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let run_ns = merged.last().map_or(run_ns, |l| run_ns.max(l.1));
        let mut before = Vec::with_capacity(merged.len() + 1);
        before.push(0);
        for &(s, e) in &merged {
            before.push(before[before.len() - 1] + (e - s));
        }
        Timeline {
            starts: merged.iter().map(|p| p.0).collect(),
            ends: merged.iter().map(|p| p.1).collect(),
            before,
            run_ns,
        }
    }

    /// Pause time in `[0, x)`.
    fn paused_before(&self, x: u64) -> u64 {
        // Intervals starting before x count whole, less the part of the last one past x.
        let k = self.starts.partition_point(|&s| s < x);
        if k == 0 {
            return 0;
        }
        self.before[k] - self.ends[k - 1].saturating_sub(x)
    }

    pub fn total_paused(&self) -> u64 {
        self.before[self.before.len() - 1]
    }

    /// MMU for windows of `w` ns, in 0..=1. A window longer than the run is the whole run.
    pub fn mmu(&self, w: u64) -> f64 {
        if self.run_ns == 0 {
            return 1.0;
        }
        if w == 0 {
            return if self.starts.is_empty() { 1.0 } else { 0.0 };
        }
        if w >= self.run_ns {
            return 1.0 - self.total_paused() as f64 / self.run_ns as f64;
        }
        // The pause time inside [t, t + w) is piecewise linear in t, so its maximum is where a
        // window starts at a pause start or ends at a pause end (or at the run's edges).
        let last = self.run_ns - w;
        let candidates = self
            .starts
            .iter()
            .copied()
            .chain(self.ends.iter().map(|&e| e.saturating_sub(w)))
            .chain([0, last])
            .map(|t| t.min(last));
        let worst = candidates
            .map(|t| self.paused_before(t + w) - self.paused_before(t))
            .max()
            .unwrap_or(0);
        1.0 - worst as f64 / w as f64
    }

    /// `(window_ns, mmu)` for every window in [`WINDOWS_NS`].
    pub fn curve(&self) -> Vec<(u64, f64)> {
        WINDOWS_NS.iter().map(|&w| (w, self.mmu(w))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn one_pause() {
        // A 10 ms pause at 500 ms in a 1 s run.
        let t = Timeline::new([(500 * MS, 10 * MS)], 1000 * MS);
        assert!(close(t.mmu(MS), 0.0));
        assert!(close(t.mmu(10 * MS), 0.0));
        assert!(close(t.mmu(20 * MS), 0.5));
        assert!(close(t.mmu(100 * MS), 0.9));
        assert!(close(t.mmu(1000 * MS), 0.99));
        assert!(close(t.mmu(5000 * MS), 0.99));
    }

    #[test]
    fn clustered_pauses_are_worse_than_spread_ones() {
        // Two 5 ms pauses 5 ms apart: a 15 ms window holds both.
        let t = Timeline::new([(100 * MS, 5 * MS), (110 * MS, 5 * MS)], 1000 * MS);
        assert!(close(t.mmu(15 * MS), 1.0 / 3.0));
        // The same pauses 500 ms apart: a 15 ms window holds one.
        let u = Timeline::new([(100 * MS, 5 * MS), (600 * MS, 5 * MS)], 1000 * MS);
        assert!(close(u.mmu(15 * MS), 2.0 / 3.0));
    }

    #[test]
    fn pauses_at_the_edges_and_overlaps() {
        // A pause at time 0 and one that runs past the stated end (which is stretched).
        let t = Timeline::new([(0, 4 * MS), (8 * MS, 4 * MS)], 10 * MS);
        assert_eq!(t.total_paused(), 8 * MS);
        assert!(close(t.mmu(12 * MS), 1.0 - 8.0 / 12.0));
        assert!(close(t.mmu(4 * MS), 0.0));
        // Overlapping records are merged, not double-counted.
        let o = Timeline::new([(0, 6 * MS), (4 * MS, 4 * MS)], 100 * MS);
        assert_eq!(o.total_paused(), 8 * MS);
        assert!(close(o.mmu(16 * MS), 0.5));
    }

    #[test]
    fn no_pauses_and_curve_shape() {
        let t = Timeline::new([], 1000 * MS);
        assert!(t.curve().iter().all(|&(_, m)| close(m, 1.0)));
        let busy = Timeline::new((0..100).map(|i| (i * 10 * MS, 2 * MS)), 1000 * MS);
        let c = busy.curve();
        assert_eq!(c.len(), WINDOWS_NS.len());
        // MMU never decreases as the window grows past the longest pause here.
        assert!(c.windows(2).all(|w| w[1].1 + 1e-12 >= w[0].1));
        assert!(close(busy.mmu(1000 * MS), 0.8));
    }
}
