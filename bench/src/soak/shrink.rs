//! `bench rss`: memory given back to the OS. The soak program holds a large live set (200 MB
//! by default) and churns it, then drops it and churns a small one (4 MB); the resident set is
//! sampled throughout, in each collector mode. It should fall back near the small live heap
//! plus the fixed overhead of a `lox` process (measured by running an empty program).
//!
//! **Bound.** After the drop the resident set must come below
//! `overhead + 4 × max(small, 4 MiB) + 16 MiB`, with `small` the live size asked for after
//! the drop: the heap grows to twice the live bytes before a cycle starts (the default growth
//! factor), and a concurrent cycle keeps from-space resident beside to-space while it
//! compacts; 4 MiB is the default least heap before a collection (`--gc-min-heap`), 16 MiB
//! room for side tables and the allocator's slack. The figure compared is the highest sample
//! of the last second of the run. (The collector's own live figure is printed beside it; in
//! concurrent mode it counts every object allocated while the cycle marked and planned.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::pauses::child;
use crate::pauses::gcstats::GcStats;
use crate::pauses::workloads::{Calibration, MB};

use super::program::{self, Params};
use super::rss::{self, Sample};

/// What the user asked for.
pub struct Options {
    /// Live bytes before the drop, and after it.
    pub live: u64,
    pub small: u64,
    /// Seconds from the start to the drop (the build included), and after it.
    pub hold_seconds: f64,
    pub after_seconds: f64,
    pub modes: Vec<String>,
    pub lox: PathBuf,
    pub out: PathBuf,
}

/// The default least heap of `lox` (`--gc-min-heap`).
const MIN_HEAP: u64 = 4 << 20;

/// Room for side tables and the allocator above the heap and the fixed overhead.
const SLACK: u64 = 16 << 20;

/// The resident set allowed once the program holds `live` bytes (module header).
pub fn bound(overhead: u64, live: u64) -> u64 {
    overhead + 4 * live.max(MIN_HEAP) + SLACK
}

/// One mode's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Shrink {
    pub before: u64,
    pub live_before: Option<u64>,
    pub after: u64,
    pub live_after: Option<u64>,
    pub bound: u64,
    /// Seconds from the drop to the first sample under the bound.
    pub fell_after_s: Option<f64>,
}

impl Shrink {
    pub fn returned(&self) -> bool {
        self.after <= self.bound
    }
}

/// Live bytes of the last cycle that started before `until_ns` (ns from the heap's creation,
/// about the process start).
fn live_before(stats: &GcStats, until_ns: u64) -> Option<u64> {
    stats
        .cycles_detail
        .iter()
        .rfind(|c| c.start_ns < until_ns)
        .map(|c| c.live_bytes)
}

/// The figures of one run, from its samples and the program's phase times (ms after the
/// start; the samples are ns after the spawn, a few ms earlier: close enough at 100 ms);
/// `small` is the live size asked for after the drop.
pub fn measure(
    samples: &[Sample],
    stats: Option<&GcStats>,
    (shrunk_ms, end_ms): (u64, u64),
    small: u64,
    overhead: u64,
) -> Option<Shrink> {
    let second = 1_000_000_000;
    let (drop_ns, end_ns) = (shrunk_ms * 1_000_000, end_ms * 1_000_000);
    let before = rss::highest_in(samples, drop_ns.saturating_sub(second), drop_ns)?;
    let after = rss::highest_in(samples, end_ns.saturating_sub(second), end_ns)?;
    let live_after = stats.and_then(|s| live_before(s, end_ns));
    let bound = bound(overhead, small);
    let fell_after_s = samples
        .iter()
        .find(|s| s.t_ns > drop_ns && s.bytes <= bound)
        .map(|s| (s.t_ns - drop_ns) as f64 / 1e9);
    Some(Shrink {
        before,
        live_before: stats.and_then(|s| live_before(s, drop_ns)),
        after,
        live_after,
        bound,
        fell_after_s,
    })
}

/// Resident set of a `lox` that runs an empty program (its peak: binary, allocator, VM).
fn overhead(lox: &Path, mode: &str, dir: &Path) -> Result<u64, String> {
    let prog = dir.join("empty.lox");
    std::fs::write(&prog, "print 0;\n").map_err(|e| format!("cannot write probe: {e}"))?;
    let mut cmd = Command::new(lox);
    cmd.args(["--gc", mode]).arg(&prog);
    let o = child::run(&mut cmd, &dir.join("empty"), Duration::from_secs(30))?;
    if !o.success() {
        return Err(format!("lox --gc {mode} cannot run: {}", o.failure()));
    }
    Ok(o.max_rss_bytes)
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / MB as f64)
}

fn opt_mb(b: Option<u64>) -> String {
    b.map_or_else(|| "?".into(), mb)
}

/// Runs every mode; `Ok(false)` when one failed or kept its memory.
pub fn execute(opts: &Options) -> Result<bool, String> {
    super::create_dir(&opts.out)?;
    eprintln!("bench: calibrating the soak program (bytes per unit)");
    let cal = program::calibrate(&opts.lox, &opts.out)?;
    let mut ok = true;
    let mut lines = Vec::new();
    for mode in &opts.modes {
        match run_mode(opts, &cal, mode) {
            Ok(line) => lines.push(line),
            Err(e) => {
                ok = false;
                lines.push(format!("rss {mode}: FAILED: {e}"));
            }
        }
    }
    for l in &lines {
        println!("{l}");
    }
    Ok(ok && lines.iter().all(|l| l.contains(": returned")))
}

fn run_mode(opts: &Options, cal: &Calibration, mode: &str) -> Result<String, String> {
    let overhead = overhead(&opts.lox, mode, &opts.out)?;
    let params = Params {
        shrink_units: program::units_for(cal, opts.small),
        shrink_seconds: opts.after_seconds,
        ..Params::soak(program::units_for(cal, opts.live), opts.hold_seconds)
    };
    let stem = opts.out.join(format!("rss-{mode}"));
    let prog = stem.with_extension("lox");
    let stats_path = stem.with_extension("stats.json");
    let _ = std::fs::remove_file(&stats_path);
    std::fs::write(&prog, program::text(&params))
        .map_err(|e| format!("cannot write {}: {e}", prog.display()))?;
    let mut cmd = super::lox_command(&opts.lox, mode, opts.live, 0, &stats_path);
    cmd.arg(&prog);
    eprintln!(
        "bench: rss {mode}: {} units ({} MB), then {} units ({} MB)",
        params.units,
        opts.live / MB,
        params.shrink_units,
        opts.small / MB
    );
    let limit = Duration::from_secs_f64(opts.hold_seconds + opts.after_seconds + 300.0);
    let (outcome, samples) = child::run_watched(&mut cmd, &stem, limit, rss::sample)?;
    let csv = stem.with_extension("rss.csv");
    std::fs::write(&csv, rss::csv(&samples))
        .map_err(|e| format!("cannot write {}: {e}", csv.display()))?;
    if !outcome.success() {
        return Err(format!("lox failed: {}", outcome.failure()));
    }
    let report = program::parse(&outcome.stdout);
    if report.self_check_failures() > 0 {
        return Err(format!(
            "{} verification failures",
            report.self_check_failures()
        ));
    }
    let (Some(shrunk), Some(end)) = (report.shrunk_ms, report.end_ms) else {
        return Err("the program did not report its phases".into());
    };
    let stats = super::read_stats(&stats_path);
    let s = measure(
        &samples,
        stats.as_ref(),
        (shrunk, end),
        opts.small,
        overhead,
    )
    .ok_or("no RSS samples around the drop or the end")?;
    Ok(format!(
        "rss {mode}: before the drop {} (live {}), at the end {} (live {}); fixed overhead {}, \
         bound {}: {}{}",
        mb(s.before),
        opt_mb(s.live_before),
        mb(s.after),
        opt_mb(s.live_after),
        mb(overhead),
        mb(s.bound),
        if s.returned() {
            "returned"
        } else {
            "NOT returned"
        },
        s.fell_after_s.map_or_else(String::new, |t| format!(
            ", under the bound {t:.1} s after the drop"
        ))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gc::stats::CycleRecord as CycleDetail;

    fn samples(points: &[(u64, u64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(ms, mb)| Sample {
                t_ns: ms * 1_000_000,
                bytes: mb * MB,
            })
            .collect()
    }

    fn cycle(start_ms: u64, live_mb: u64) -> CycleDetail {
        CycleDetail {
            cycle: 1,
            start_ns: start_ms * 1_000_000,
            live_bytes: live_mb * MB,
            ..CycleDetail::default()
        }
    }

    #[test]
    fn the_bound_follows_the_live_heap() {
        assert_eq!(bound(12 * MB, 0), 12 * MB + 16 * MB + 16 * MB);
        assert_eq!(bound(12 * MB, 10 * MB), 12 * MB + 40 * MB + 16 * MB);
    }

    #[test]
    fn before_and_after_come_from_the_last_second_of_each_phase() {
        let s = samples(&[
            (100, 50),
            (4000, 500),
            (4600, 620),
            (5100, 600),
            (6000, 300),
            (7000, 30),
            (9500, 25),
            (9900, 22),
        ]);
        let mut stats = GcStats::default();
        stats.cycles_detail = vec![cycle(3000, 200), cycle(6500, 5)];
        let m = measure(&s, Some(&stats), (5000, 10_000), 4 * MB, 12 * MB).unwrap();
        assert_eq!(m.before, 620 * MB);
        assert_eq!(m.after, 25 * MB);
        assert_eq!(m.live_before, Some(200 * MB));
        assert_eq!(m.live_after, Some(5 * MB));
        assert_eq!(m.bound, bound(12 * MB, 4 * MB));
        assert!(m.returned());
        assert_eq!(m.fell_after_s, Some(2.0));
        // Memory kept: the end stays high.
        let kept = samples(&[(4500, 600), (9500, 580)]);
        let m = measure(&kept, Some(&stats), (5000, 10_000), 4 * MB, 12 * MB).unwrap();
        assert!(!m.returned() && m.fell_after_s.is_none());
        assert!(measure(&kept, None, (1000, 2000), MB, 0).is_none());
    }
}
