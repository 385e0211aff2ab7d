//! The measurements of one run (a workload under a mode) and the figures derived from them:
//! pause distributions by kind, MMU, stalls. Everything the report, results.json and the plots
//! show comes from here, so they cannot disagree.

use super::gcstats::{GcStats, Pause};
use super::hist::{Durations, Summary};
use super::mmu::Timeline;

/// One run that happened.
#[derive(Clone, Debug)]
pub struct Measured {
    pub wall_ns: u64,
    pub user_ns: u64,
    pub sys_ns: u64,
    pub max_rss_bytes: u64,
    /// The collector's own record (`lox --gc-stats`, or rebuilt from a JVM's logs); `None` for
    /// clox, whose collector reports nothing.
    pub stats: Option<GcStats>,
    /// Oversleeps of the hiccup meter during the run, in ns.
    pub hiccups: Vec<u64>,
    /// Where the collector's GC CPU time and stalls are not known (JVM): `false`.
    pub has_gc_cpu: bool,
    /// Allocation stalls as `(start_ns, ns)` where the collector reports each one (`lox
    /// --gc-stats` lists them, up to a cap; ZGC's logs do).
    pub stalls: Vec<(u64, u64)>,
}

#[derive(Clone, Debug)]
pub enum Outcome {
    /// The binary refused the mode (not built in, not supported by the kernel, ...).
    NotAvailable(String),
    Failed(String),
    Done(Box<Measured>),
}

/// A workload under a mode.
#[derive(Clone, Debug)]
pub struct Cell {
    pub workload: String,
    pub mode: String,
    pub outcome: Outcome,
}

impl Cell {
    pub fn measured(&self) -> Option<&Measured> {
        match &self.outcome {
            Outcome::Done(m) => Some(m),
            _ => None,
        }
    }
}

/// Whether a pause of `kind` is selected by `want` (`None`: every kind).
fn matches_kind(kind: &str, want: Option<&str>) -> bool {
    match want {
        Some(w) => kind == w,
        None => true,
    }
}

impl Measured {
    /// One figure of every pause of one kind (or all, `None`).
    fn pause_figures(&self, kind: Option<&str>, figure: fn(&Pause) -> u64) -> Durations {
        let Some(s) = &self.stats else {
            return Durations::new();
        };
        Durations::from_values(
            s.pauses
                .iter()
                .filter(|p| matches_kind(&p.kind, kind))
                .map(figure),
        )
    }

    /// Pause durations, all kinds (`None`) or one.
    pub fn pauses(&self, kind: Option<&str>) -> Durations {
        self.pause_figures(kind, |p| p.ns)
    }

    /// Time-to-safepoint parts of the pauses of one kind or all.
    pub fn ttsp(&self, kind: Option<&str>) -> Durations {
        self.pause_figures(kind, |p| p.ttsp_ns)
    }

    /// Work parts of the pauses of one kind or all: the pause minus its time to safepoint.
    pub fn work(&self, kind: Option<&str>) -> Durations {
        self.pause_figures(kind, |p| p.ns.saturating_sub(p.ttsp_ns))
    }

    /// Pause kinds in order of first appearance.
    pub fn kinds(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(s) = &self.stats {
            for p in &s.pauses {
                if !out.contains(&p.kind) {
                    out.push(p.kind.clone());
                }
            }
        }
        out
    }

    pub fn pause_summary(&self) -> Summary {
        let mut s = self.pauses(None).summary();
        // The stats keep at most 100,000 records; their totals cover every pause.
        if let Some(st) = &self.stats {
            if st.pauses_dropped > 0 {
                s.count += st.pauses_dropped;
                s.total_ns = s.total_ns.max(st.pause_total_ns);
                s.max_ns = s.max_ns.max(Some(st.pause_max_ns));
            }
        }
        s
    }

    pub fn timeline(&self) -> Option<Timeline> {
        let s = self.stats.as_ref()?;
        Some(Timeline::new(
            s.pauses.iter().map(|p| (p.start_ns, p.ns)),
            self.wall_ns,
        ))
    }

    /// MMU at a window; `None` without a pause record.
    pub fn mmu(&self, window_ns: u64) -> Option<f64> {
        self.timeline().map(|t| t.mmu(window_ns))
    }

    /// The time the (single) mutator could not run: pauses and allocation stalls (while it
    /// waits for memory it runs no more than in a pause). `None` when some stalls' times are
    /// not known (not listed, or past the collector's cap): the MMU would be too kind.
    pub fn blocked_timeline(&self) -> Option<Timeline> {
        let s = self.stats.as_ref()?;
        if (self.stalls.len() as u64) < s.allocation_stalls.count {
            return None;
        }
        Some(Timeline::new(
            s.pauses
                .iter()
                .map(|p| (p.start_ns, p.ns))
                .chain(self.stalls.iter().copied()),
            self.wall_ns,
        ))
    }

    /// MMU counting allocation stalls as time lost too.
    pub fn mmu_with_stalls(&self, window_ns: u64) -> Option<f64> {
        self.blocked_timeline().map(|t| t.mmu(window_ns))
    }

    /// Allocation stalls whose durations are known.
    pub fn alloc_stalls(&self) -> Durations {
        Durations::from_values(self.stalls.iter().map(|s| s.1))
    }

    /// Mutator fault stalls rebuilt from the collector's bucketed histogram (each bucket's
    /// count at its upper bound, capped at the exact max). Empty when there are none or the
    /// collector exported no buckets.
    pub fn fault_stalls(&self) -> Durations {
        self.stats.as_ref().map_or_else(Durations::new, |s| {
            Durations::from_buckets(
                &s.mutator_fault_stalls.buckets,
                s.mutator_fault_stalls.max_ns,
            )
        })
    }

    /// [`Measured::fault_stalls`] summarised, with the collector's exact max and total: the HDR
    /// histogram rounds its values up (0.1%), which must not put a percentile above the max.
    pub fn fault_stall_summary(&self) -> Summary {
        let mut s = self.fault_stalls().summary();
        if let (Some(st), true) = (&self.stats, s.count > 0) {
            let max = st.mutator_fault_stalls.max_ns;
            let cap = |v: Option<u64>| v.map(|v| v.min(max));
            s.p50_ns = cap(s.p50_ns);
            s.p99_ns = cap(s.p99_ns);
            s.p999_ns = cap(s.p999_ns);
            s.max_ns = Some(max);
            // The collector's exact total, where it gives one (the rebuilt one is a bound).
            if st.mutator_fault_stalls.total_ns > 0 {
                s.total_ns = st.mutator_fault_stalls.total_ns;
            }
        }
        s
    }

    pub fn hiccup_summary(&self) -> Summary {
        Durations::from_values(self.hiccups.iter().copied()).summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pauses::gcstats::Pause;

    fn sample() -> Measured {
        let p = |kind: &str, start_ns, ns, ttsp_ns| Pause {
            kind: kind.into(),
            start_ns,
            ns,
            ttsp_ns,
            cycle: 0,
        };
        // Field by field: the collector's type keeps private bookkeeping.
        let mut stats = GcStats::default();
        stats.pauses = vec![
            p("mark", 100_000_000, 8_000_000, 10_000),
            p("flip", 200_000_000, 1_000_000, 20_000),
            p("mark", 600_000_000, 6_000_000, 30_000),
        ];
        Measured {
            wall_ns: 1_000_000_000,
            user_ns: 0,
            sys_ns: 0,
            max_rss_bytes: 0,
            stats: Some(stats),
            hiccups: vec![],
            has_gc_cpu: true,
            stalls: vec![],
        }
    }

    #[test]
    fn pauses_split_by_kind() {
        let m = sample();
        assert_eq!(m.kinds(), vec!["mark".to_string(), "flip".to_string()]);
        assert_eq!(m.pauses(Some("mark")).count(), 2);
        assert_eq!(m.pauses(Some("flip")).count(), 1);
        assert_eq!(m.pauses(None).count(), 3);
        assert_eq!(m.pauses(Some("nope")).count(), 0);
        let s = m.pause_summary();
        assert_eq!(s.total_ns, 15_000_000);
        assert!(
            m.ttsp(Some("flip"))
                .summary()
                .max_ns
                .unwrap()
                .abs_diff(20_000)
                <= 20
        );
        // The worst 10 ms window holds the 8 ms pause.
        assert!((m.mmu(10_000_000).unwrap() - 0.2).abs() < 1e-9);
        assert_eq!(m.mmu_with_stalls(10_000_000), m.mmu(10_000_000));
    }

    #[test]
    fn stalls_count_against_utilization_when_their_times_are_known() {
        let mut m = sample();
        if let Some(s) = &mut m.stats {
            s.allocation_stalls.count = 1;
            s.allocation_stalls.total_ns = 5_000_000;
        }
        assert_eq!(m.mmu_with_stalls(10_000_000), None, "count without times");
        // A 5 ms stall right after the 8 ms pause: a 13 ms window is fully blocked.
        m.stalls = vec![(108_000_000, 5_000_000)];
        assert_eq!(m.mmu_with_stalls(13_000_000), Some(0.0));
        assert!(m.mmu(13_000_000).unwrap() > 0.3);
        assert_eq!(m.alloc_stalls().summary().count, 1);
        // A stall the collector counted but did not list (past its cap): MMU unknown again.
        if let Some(s) = &mut m.stats {
            s.allocation_stalls.count = 2;
            s.allocation_stalls.dropped = 1;
        }
        assert_eq!(m.mmu_with_stalls(13_000_000), None);
    }

    #[test]
    fn a_stall_inside_a_long_window_lowers_its_utilization() {
        // Pauses alone leave the worst 100 ms window with 92 ms; a 30 ms stall at 620 ms
        // (next to the 6 ms mark pause at 600 ms) makes a window with 36 ms lost.
        let mut m = sample();
        m.stalls = vec![(620_000_000, 30_000_000)];
        if let Some(s) = &mut m.stats {
            s.allocation_stalls.count = 1;
        }
        let plain = m.mmu(100_000_000).unwrap();
        let with = m.mmu_with_stalls(100_000_000).unwrap();
        assert!((plain - 0.92).abs() < 1e-9, "{plain}");
        assert!((with - 0.64).abs() < 1e-9, "{with}");
    }

    #[test]
    fn fault_stalls_come_from_the_buckets() {
        let mut m = sample();
        assert_eq!(m.fault_stalls().count(), 0);
        if let Some(s) = &mut m.stats {
            s.mutator_fault_stalls.count = 1000;
            s.mutator_fault_stalls.max_ns = 90_000;
            s.mutator_fault_stalls.buckets = vec![(2_047, 990), (12_287, 9), (98_303, 1)];
        }
        let f = m.fault_stalls().summary();
        assert_eq!(f.count, 1000);
        assert!(f.p50_ns.unwrap().abs_diff(2_047) <= 2);
        assert!(f.p999_ns.unwrap().abs_diff(12_287) <= 12);
        assert!(f.max_ns.unwrap().abs_diff(90_000) <= 90);
        // Reported, no percentile exceeds the exact max.
        let r = m.fault_stall_summary();
        assert_eq!(r.max_ns, Some(90_000));
        assert_eq!(r.p999_ns, f.p999_ns);
        if let Some(s) = &mut m.stats {
            s.mutator_fault_stalls.max_ns = 12_000;
            s.mutator_fault_stalls.buckets = vec![(2_047, 990), (12_287, 10)];
        }
        let r = m.fault_stall_summary();
        assert_eq!((r.p999_ns, r.max_ns), (Some(12_000), Some(12_000)));
    }

    #[test]
    fn dropped_pauses_still_count() {
        let mut m = sample();
        if let Some(s) = &mut m.stats {
            s.pauses_dropped = 5;
            s.pause_total_ns = 40_000_000;
            s.pause_max_ns = 9_000_000;
        }
        let s = m.pause_summary();
        assert_eq!(s.count, 8);
        assert_eq!(s.total_ns, 40_000_000);
        assert_eq!(s.max_ns, Some(9_000_000));
        let none = Measured {
            stats: None,
            ..sample()
        };
        assert_eq!(none.pause_summary().count, 0);
        assert!(none.mmu(1).is_none());
    }
}
