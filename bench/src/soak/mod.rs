//! `bench soak`: one long run of a mixed workload held at a given live size while it churns
//! (`bench/lox/soak.lox`), checked three ways: the program re-walks its structures against
//! their checksums, the collector's verifier fingerprints the heap graph every few cycles
//! (`lox --gc-verify=N`), and the harness samples the resident set for a leak (rss.rs). It
//! ends with one line of figures and fails on any verification failure, crash or leak.
//!
//! `bench rss` (shrink.rs) runs the same program large, then small, and reports whether the
//! resident set came back down.

pub mod program;
pub mod rss;
pub mod shrink;
pub mod summary;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::pauses::workloads::{size_arg, MB};
use crate::pauses::{child, gcstats};
use program::Params;

/// What the user asked for.
pub struct Options {
    pub seconds: u64,
    pub live: u64,
    /// `stw` or `concurrent`.
    pub mode: String,
    /// Verify every Nth cycle (0: never).
    pub verify_every: u64,
    pub lox: PathBuf,
    pub out: PathBuf,
}

/// Why `--threads N` with N > 1 is refused.
pub const NO_THREADS: &str =
    "the soak program runs on one Lox thread (a threaded soak is not written yet): only --threads 1 can run";

/// `lox --gc MODE`, `--heap-max` three times the live size (as `bench pauses`), verification
/// and statistics.
pub fn lox_command(lox: &Path, mode: &str, live: u64, verify_every: u64, stats: &Path) -> Command {
    let mut cmd = Command::new(lox);
    cmd.args(["--gc", mode, "--heap-max"])
        .arg(size_arg(3 * live));
    if verify_every > 0 {
        cmd.arg(format!("--gc-verify={verify_every}"));
        // The verifier's tables (about the heap's size) are freed to mimalloc, which gives
        // memory back only at its next arena operation after a delay, and the Lox program
        // seldom makes one: without this, one verifier's worth of memory stays resident from
        // the first large verified cycle on, which the leak rule would read as growth.
        cmd.env("MIMALLOC_PURGE_DELAY", "0");
    }
    cmd.arg("--gc-stats").arg(stats);
    cmd
}

/// Reads the statistics file, if the run wrote one.
pub fn read_stats(path: &Path) -> Option<gcstats::GcStats> {
    let text = std::fs::read_to_string(path).ok()?;
    match gcstats::parse(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("bench: {}: {e}", path.display());
            None
        }
    }
}

pub fn create_dir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("cannot create {}: {e}", p.display()))
}

/// Runs the soak. `Ok(false)` when it failed (a verification failure, a crash, a leak).
pub fn execute(opts: &Options) -> Result<bool, String> {
    create_dir(&opts.out)?;
    eprintln!("bench: calibrating the soak program (bytes per unit)");
    let cal = program::calibrate(&opts.lox, &opts.out)?;
    let units = program::units_for(&cal, opts.live);
    eprintln!(
        "bench: {:.0} bytes per unit + {:.1} MB: {units} units for {} MB",
        cal.per_unit,
        cal.base / MB as f64,
        opts.live / MB
    );
    let name = format!("soak-{}-{}mb", opts.mode, opts.live / MB);
    let stem = opts.out.join(&name);
    let prog = stem.with_extension("lox");
    let stats_path = stem.with_extension("stats.json");
    let _ = std::fs::remove_file(&stats_path);
    let params = Params::soak(units, opts.seconds as f64);
    std::fs::write(&prog, program::text(&params))
        .map_err(|e| format!("cannot write {}: {e}", prog.display()))?;
    let mut cmd = lox_command(
        &opts.lox,
        &opts.mode,
        opts.live,
        opts.verify_every,
        &stats_path,
    );
    cmd.arg(&prog);
    eprintln!(
        "bench: running {} for {} s (--gc {}, verifying every {} cycles)",
        prog.display(),
        opts.seconds,
        opts.mode,
        opts.verify_every
    );
    // Room for building the live set and the closing check of every unit.
    let limit = Duration::from_secs(opts.seconds * 2 + 300);
    let (outcome, samples) = child::run_watched(&mut cmd, &stem, limit, rss::sample)?;
    let csv = stem.with_extension("rss.csv");
    std::fs::write(&csv, rss::csv(&samples))
        .map_err(|e| format!("cannot write {}: {e}", csv.display()))?;

    let report = program::parse(&outcome.stdout);
    let verifier = outcome
        .stderr
        .lines()
        .filter(|l| l.starts_with(summary::VERIFIER_PREFIX));
    for line in report
        .fail_lines
        .iter()
        .map(String::as_str)
        .chain(verifier)
        .take(20)
    {
        eprintln!("bench: {line}");
    }
    let leak = match (report.built_ms, report.end_ms) {
        (Some(b), Some(e)) => rss::judge(&samples, b * 1_000_000, e * 1_000_000),
        _ => rss::Verdict::TooShort,
    };
    let stats = read_stats(&stats_path);
    let f = summary::figures(
        &outcome,
        &report,
        stats.as_ref(),
        opts.verify_every,
        leak,
        &opts.mode,
    );
    if let Some(b) = report.built_ms {
        eprintln!(
            "bench: built in {:.1} s; {} rounds of churn; output in {}.*",
            b as f64 / 1e3,
            report.rounds.unwrap_or(0),
            stem.display()
        );
    }
    for p in &f.problems {
        eprintln!("bench: FAILED: {p}");
    }
    println!(
        "{}",
        summary::final_line(&f, &opts.mode, opts.seconds, opts.live)
    );
    Ok(f.passed())
}
