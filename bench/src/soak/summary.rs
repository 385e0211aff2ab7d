//! The soak's verdict and final line, from what the run left: the collector's statistics, the
//! program's own report, the resident-set samples and how the process ended.
//!
//! Pauses and allocation stalls are counted over the cycles the collector did **not** verify:
//! a verified cycle walks and fingerprints the whole heap inside its pauses, which measures the
//! verifier, not the collector, and a program that runs out of room meanwhile stalls for as
//! long (a stall counts for the cycle whose span, from its start to the end of its compaction,
//! holds the stall's start). Fault stalls come from the collector's totals over every cycle
//! (the verifier's walk after a concurrent flip takes ordinary faults).

use crate::pauses::child::{Exit, Outcome};
use crate::pauses::gcstats::GcStats;
use crate::pauses::hist::Durations;
use crate::pauses::table::fmt_ms;
use crate::pauses::workloads::MB;

use super::program::Report;
use super::rss::Verdict;

/// What `lox` prints before aborting on a failed collector check (gc/src/collector/verify.rs).
pub const VERIFIER_PREFIX: &str = "gc verify:";

/// Whether cycle `cycle` was verified under `lox --gc-verify=every` (the same rule as
/// `gc::HeapConfig::verifies`: cycles 1, 1 + every, ...); `every == 0`: verification off.
pub fn verified(cycle: u64, every: u64) -> bool {
    every > 0 && cycle >= 1 && (cycle - 1).is_multiple_of(every)
}

/// Spans `[start, end)` of the verified cycles, ns from the heap's creation (a cycle still
/// compacting at exit runs to the end).
fn verified_spans(stats: &GcStats, every: u64) -> Vec<(u64, u64)> {
    stats
        .cycles_detail
        .iter()
        .filter(|c| verified(c.cycle, every))
        .map(|c| (c.start_ns, c.compaction_end_ns.unwrap_or(u64::MAX)))
        .collect()
}

/// Allocation stalls outside verified cycles: count (with those the collector counted but did
/// not list) and total ns.
fn unverified_alloc_stalls(stats: &GcStats, every: u64) -> (u64, u64) {
    let spans = verified_spans(stats, every);
    let kept: Vec<u64> = stats
        .allocation_stalls
        .list
        .iter()
        .filter(|st| !spans.iter().any(|&(a, b)| (a..b).contains(&st.start_ns)))
        .map(|st| st.ns)
        .collect();
    (
        kept.len() as u64 + stats.allocation_stalls.dropped,
        kept.iter().sum(),
    )
}

/// The figures of one soak run.
#[derive(Clone, Debug)]
pub struct Figures {
    pub cycles: u64,
    pub verified_cycles: u64,
    /// Live bytes of the last cycle.
    pub live_bytes: Option<u64>,
    pub pause_p99_ns: Option<u64>,
    pub pause_max_ns: Option<u64>,
    pub fault_stall_p99_ns: Option<u64>,
    pub alloc_stalls: u64,
    pub alloc_stall_total_ns: u64,
    pub peak_rss: u64,
    pub checks: u64,
    /// Self-check mismatches plus collector verifier failures.
    pub verification_failures: u64,
    pub leak: Verdict,
    /// Why the run failed, apart from verification failures (empty: it did not).
    pub problems: Vec<String>,
}

impl Figures {
    pub fn passed(&self) -> bool {
        self.verification_failures == 0 && self.problems.is_empty()
    }
}

/// Puts the figures together. `stats` is `None` when the statistics file is missing (a run
/// that aborted writes none).
pub fn figures(
    outcome: &Outcome,
    report: &Report,
    stats: Option<&GcStats>,
    verify_every: u64,
    leak: Verdict,
    asked_mode: &str,
) -> Figures {
    let verifier_failures = outcome
        .stderr
        .lines()
        .filter(|l| l.starts_with(VERIFIER_PREFIX))
        .count() as u64;
    let mut problems = Vec::new();
    match &outcome.exit {
        Exit::Code(0) => {}
        // The verifier's abort is counted as a verification failure, not again here.
        Exit::Signal(libc::SIGABRT) if verifier_failures > 0 => {}
        Exit::TimedOut => problems.push("lox timed out".into()),
        _ => problems.push(format!("lox failed ({})", outcome.failure())),
    }
    if outcome.success() && !report.finished() {
        problems.push("the program did not print its closing lines".into());
    }
    if let Verdict::Leak { first, second } = leak {
        problems.push(format!(
            "RSS grew without bound: {:.0}-{:.0} MB in the first half, {:.0}-{:.0} MB in the second",
            first.low as f64 / MB as f64,
            first.high as f64 / MB as f64,
            second.low as f64 / MB as f64,
            second.high as f64 / MB as f64
        ));
    }
    match stats {
        None if outcome.success() => problems.push("no --gc-stats file".into()),
        Some(s) if s.collector != asked_mode => problems.push(format!(
            "asked for --gc {asked_mode}, ran {}: {}",
            s.collector,
            s.fallback_reason.as_deref().unwrap_or("no reason given")
        )),
        _ => {}
    }

    let pauses = Durations::from_values(stats.into_iter().flat_map(|s| {
        s.pauses
            .iter()
            .filter(|p| !verified(p.cycle, verify_every))
            .map(|p| p.ns)
    }));
    let cycles = stats.map_or(0, |s| s.cycles);
    let (alloc_stalls, alloc_stall_total_ns) =
        stats.map_or((0, 0), |s| unverified_alloc_stalls(s, verify_every));
    Figures {
        cycles,
        verified_cycles: (1..=cycles).filter(|&c| verified(c, verify_every)).count() as u64,
        live_bytes: stats.map(|s| s.last_live_bytes).filter(|&b| b > 0),
        pause_p99_ns: pauses.quantile(0.99),
        pause_max_ns: pauses.summary().max_ns,
        fault_stall_p99_ns: stats
            .filter(|s| s.mutator_fault_stalls.count > 0)
            .map(|s| s.mutator_fault_stalls.p99_ns),
        alloc_stalls,
        alloc_stall_total_ns,
        peak_rss: outcome.max_rss_bytes,
        checks: report.checks.unwrap_or(0),
        verification_failures: report.self_check_failures() + verifier_failures,
        leak,
        problems,
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / MB as f64)
}

/// The final line: `soak concurrent 60 s, 256 MB live: ...`.
pub fn final_line(f: &Figures, mode: &str, seconds: u64, live_target: u64) -> String {
    let live = f
        .live_bytes
        .map_or_else(String::new, |b| format!(" (last cycle {})", mb(b)));
    let rss = match f.leak {
        Verdict::TooShort => "leak check: run too short".to_string(),
        Verdict::Steady { first, second } | Verdict::Leak { first, second } => format!(
            "halves {}-{} / {}-{}",
            mb(first.low),
            mb(first.high),
            mb(second.low),
            mb(second.high)
        ),
    };
    format!(
        "soak {mode} {seconds} s, {} live{live}: {} cycles ({} verified), \
         pauses p99 {} ms max {} ms, fault stalls p99 {} ms, allocation stalls {} ({} ms), \
         peak RSS {} ({rss}), {} checks, {} verification failures",
        mb(live_target),
        f.cycles,
        f.verified_cycles,
        fmt_ms(f.pause_p99_ns),
        fmt_ms(f.pause_max_ns),
        fmt_ms(f.fault_stall_p99_ns),
        f.alloc_stalls,
        fmt_ms(Some(f.alloc_stall_total_ns)),
        mb(f.peak_rss),
        f.checks,
        f.verification_failures
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pauses::gcstats::Pause;
    use crate::soak::rss::Range;

    fn outcome(exit: Exit, stderr: &str) -> Outcome {
        Outcome {
            exit,
            wall_ns: 1,
            user_ns: 1,
            sys_ns: 0,
            max_rss_bytes: 300 * MB,
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    fn finished(failures: u64) -> Report {
        Report {
            built_ms: Some(1),
            end_ms: Some(2),
            checks: Some(10),
            failures: Some(failures),
            ..Report::default()
        }
    }

    fn pause(cycle: u64, ms: u64) -> Pause {
        Pause {
            kind: "flip".into(),
            start_ns: 0,
            ns: ms * 1_000_000,
            ttsp_ns: 0,
            cycle,
        }
    }

    fn stats() -> GcStats {
        let mut s = GcStats::default();
        s.collector = "concurrent".into();
        s.cycles = 5;
        s.last_live_bytes = 256 * MB;
        // Cycles 1 and 5 verified (every 4): their 900 ms pauses are left out.
        s.pauses = vec![
            pause(1, 900),
            pause(2, 1),
            pause(3, 2),
            pause(4, 3),
            pause(5, 900),
        ];
        s
    }

    #[test]
    fn allocation_stalls_of_verified_cycles_are_left_out() {
        use crate::pauses::gcstats::{Stall, StallSummary};
        use gc::stats::CycleRecord;
        let cycle = |n: u64, start_ns: u64, end: Option<u64>| CycleRecord {
            cycle: n,
            start_ns,
            compaction_end_ns: end,
            ..CycleRecord::default()
        };
        let stall = |start_ns: u64, ns: u64| Stall { start_ns, ns };
        let mut s = GcStats::default();
        s.cycles_detail = vec![
            cycle(1, 0, Some(100)),
            cycle(2, 200, Some(300)),
            cycle(3, 400, None),
        ];
        s.allocation_stalls = StallSummary {
            list: vec![stall(50, 7), stall(250, 5), stall(350, 3), stall(500, 1000)],
            dropped: 2,
            ..StallSummary::default()
        };
        // Every other cycle verified: 1 and 3 (still compacting at exit: to the end).
        assert_eq!(unverified_alloc_stalls(&s, 2), (2 + 2, 8));
        assert_eq!(unverified_alloc_stalls(&s, 0), (4 + 2, 1015));
    }

    const STEADY: Verdict = Verdict::Steady {
        first: Range { low: 1, high: 2 },
        second: Range { low: 1, high: 2 },
    };

    #[test]
    fn verified_cycles_follow_the_collector_rule() {
        let v: Vec<u64> = (1..=9).filter(|&c| verified(c, 4)).collect();
        assert_eq!(v, [1, 5, 9]);
        assert!(
            !verified(0, 4),
            "pauses outside a cycle are never verified ones"
        );
        assert!(!verified(3, 0));
    }

    #[test]
    fn a_clean_run_passes_without_its_verified_pauses() {
        let s = stats();
        let f = figures(
            &outcome(Exit::Code(0), ""),
            &finished(0),
            Some(&s),
            4,
            STEADY,
            "concurrent",
        );
        assert!(f.passed(), "{:?}", f.problems);
        assert_eq!((f.cycles, f.verified_cycles), (5, 2));
        // Within the histogram's 0.1%, and without the verified cycles' 900 ms.
        let max = f.pause_max_ns.unwrap();
        assert!((3_000_000..3_003_000).contains(&max), "{max}");
        let line = final_line(&f, "concurrent", 60, 256 * MB);
        assert!(
            line.starts_with(
                "soak concurrent 60 s, 256 MB live (last cycle 256 MB): 5 cycles (2 verified)"
            ),
            "{line}"
        );
        assert!(
            line.contains("max 3.00 ms") && line.contains("peak RSS 300 MB"),
            "{line}"
        );
        assert!(
            line.ends_with("10 checks, 0 verification failures"),
            "{line}"
        );
    }

    #[test]
    fn failures_of_every_kind_fail_the_run() {
        let s = stats();
        // A self-check mismatch.
        let f = figures(
            &outcome(Exit::Code(0), ""),
            &finished(2),
            Some(&s),
            4,
            STEADY,
            "concurrent",
        );
        assert_eq!(f.verification_failures, 2);
        assert!(!f.passed() && f.problems.is_empty());
        // The collector's verifier aborting: a verification failure, no stats file.
        let abort = outcome(
            Exit::Signal(libc::SIGABRT),
            "gc verify: cycle 9, after compaction: the reachable graph changed\n",
        );
        let f = figures(&abort, &Report::default(), None, 4, STEADY, "concurrent");
        assert_eq!(f.verification_failures, 1);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        assert!(final_line(&f, "concurrent", 60, MB).ends_with("1 verification failures"));
        // A crash, a leak, a fallback, a cut-short program.
        let crash = figures(
            &outcome(Exit::Signal(11), ""),
            &finished(0),
            Some(&s),
            4,
            STEADY,
            "concurrent",
        );
        assert!(crash.problems[0].contains("signal 11"));
        let leak = Verdict::Leak {
            first: Range {
                low: 300 * MB,
                high: 800 * MB,
            },
            second: Range {
                low: 500 * MB,
                high: 1000 * MB,
            },
        };
        let f = figures(
            &outcome(Exit::Code(0), ""),
            &finished(0),
            Some(&s),
            4,
            leak,
            "concurrent",
        );
        assert!(f.problems[0].contains("without bound"), "{:?}", f.problems);
        let f = figures(
            &outcome(Exit::Code(0), ""),
            &finished(0),
            Some(&s),
            4,
            STEADY,
            "stw",
        );
        assert!(
            f.problems[0].contains("asked for --gc stw"),
            "{:?}",
            f.problems
        );
        let f = figures(
            &outcome(Exit::Code(0), ""),
            &Report::default(),
            Some(&s),
            4,
            STEADY,
            "concurrent",
        );
        assert!(!f.passed());
    }
}
