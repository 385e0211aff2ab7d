//! Command-line arguments of the `lox` binary and their translation into a heap configuration.
//!
//! Owns the flag surface (clap derive) and every check of a flag's value; it never runs Lox.
//! A bad value is reported as a usage error (exit 64) by the caller.

use std::path::PathBuf;

use clap::Parser;
use gc::{FaultMode, GcMode, HeapConfig};

/// `--gc-stress` without a count: a collection at every allocation in stop-the-world mode; in
/// concurrent mode a cycle starts at every allocation when none is marking, its marking
/// overlaps the next few allocations, and then it is driven to its flip (the collector's
/// `STRESS_OVERLAP`), so the program's next instructions race the GC thread through the fault
/// path. Over the conformance corpus an interval of 1 completes 895 concurrent cycles, every
/// program at least one, with 448 pages compacted by the program's own faults, in under a
/// second for the whole corpus.
const STRESS_DEFAULT: &str = "1";

/// The collector `--gc` names.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Collector {
    Stw,
    Concurrent,
}

/// Run a Lox script, or start an interactive session when no script is given.
#[derive(Parser, Debug)]
#[command(name = "lox", version, about, long_about = None)]
pub struct Args {
    /// Script to run; without it, lox reads statements interactively (a REPL).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Collector: `concurrent` (compacts while the program runs, using userfaultfd; falls
    /// back to `stw` when the kernel does not allow it, and says so on stderr if this flag or
    /// --gc-log was given) or `stw` (stop-the-world mark-compact) [default: concurrent]
    // No clap default: whether the mode was asked for explicitly decides if a fallback is
    // announced on stderr.
    #[arg(long = "gc", value_name = "MODE", value_parser = parse_mode)]
    pub gc: Option<Collector>,

    /// How a concurrent collection resolves the program's access to a page not compacted
    /// yet: `sigbus` (the program's thread compacts it in a signal handler) or `thread` (a
    /// handler thread does) [default: sigbus]
    #[arg(long = "gc-fault", value_name = "MODE", value_parser = parse_fault)]
    pub gc_fault: Option<FaultMode>,

    /// Collect every N allocations (default 1) to shake out missing roots. Testing aid.
    #[arg(
        long = "gc-stress",
        value_name = "N",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = STRESS_DEFAULT,
        value_parser = parse_positive_u64
    )]
    pub gc_stress: Option<u64>,

    /// Check the reachable graph before and after every collection (slow; testing aid); with
    /// N, only every Nth collection (the first, then 1 + N, 1 + 2N, ...).
    #[arg(
        long = "gc-verify",
        value_name = "N",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1",
        value_parser = parse_positive_u64
    )]
    pub gc_verify: Option<u64>,

    /// Print one line per collection cycle on stderr.
    #[arg(long = "gc-log")]
    pub gc_log: bool,

    /// Write collector statistics as JSON to PATH when lox exits (also after an error).
    #[arg(long = "gc-stats", value_name = "PATH")]
    pub gc_stats: Option<PathBuf>,

    /// Largest heap after a full collection, e.g. 512M or 2G [default: a quarter of RAM].
    #[arg(long = "heap-max", value_name = "SIZE", value_parser = parse_size)]
    pub heap_max: Option<usize>,

    /// No collection is started by heap growth below this size, e.g. 4M.
    #[arg(long = "gc-min-heap", value_name = "SIZE", value_parser = parse_size)]
    pub gc_min_heap: Option<usize>,

    /// After a cycle, the next one starts when the heap reaches live bytes times F (F > 1).
    #[arg(long = "gc-growth", value_name = "F", value_parser = parse_growth)]
    pub gc_growth: Option<f64>,

    /// Threads that mark a concurrent cycle (N >= 1) [default: 1 on up to 2 CPUs, else half
    /// the CPUs, at most 8]
    #[arg(long = "gc-threads", value_name = "N", value_parser = parse_threads)]
    pub gc_threads: Option<usize>,
}

impl Args {
    /// The heap settings these flags ask for, starting from the collector's defaults.
    pub fn heap_config(&self) -> Result<HeapConfig, String> {
        let mode = match (self.gc.unwrap_or(Collector::Concurrent), self.gc_fault) {
            (Collector::Concurrent, fault) => GcMode::Concurrent {
                fault: fault.unwrap_or_default(),
            },
            (Collector::Stw, None) => GcMode::StopTheWorld,
            (Collector::Stw, Some(_)) => {
                return Err("--gc-fault applies only to --gc concurrent".into());
            }
        };
        let mut cfg = HeapConfig {
            mode,
            stress_every: self.gc_stress,
            verify: self.gc_verify.is_some(),
            verify_every: self.gc_verify.unwrap_or(1),
            log: self.gc_log,
            ..HeapConfig::default()
        };
        if let Some(max) = self.heap_max {
            cfg.max_bytes = max;
        }
        if let Some(min) = self.gc_min_heap {
            cfg.min_trigger_bytes = min;
        }
        if let Some(f) = self.gc_growth {
            cfg.growth_factor = f;
        }
        cfg.gc_threads = self
            .gc_threads
            .unwrap_or_else(gc::config::default_gc_threads);
        if cfg.min_trigger_bytes > cfg.max_bytes {
            // A trigger above the ceiling would never fire before the heap is full; clamp only
            // when the user did not ask for it explicitly, so an explicit contradiction is loud.
            if self.gc_min_heap.is_some() {
                return Err(format!(
                    "--gc-min-heap ({}) is larger than the heap maximum ({})",
                    self.gc_min_heap.unwrap_or_default(),
                    cfg.max_bytes
                ));
            }
            cfg.min_trigger_bytes = cfg.max_bytes;
        }
        Ok(cfg)
    }

    /// Whether a fallback from concurrent mode should be announced on stderr: only when the
    /// user asked for concurrent mode by name or for the collector's log (design note §4.4;
    /// any other stray stderr line would break test corpora that compare stderr).
    pub fn announce_fallback(&self) -> bool {
        self.gc == Some(Collector::Concurrent) || self.gc_log
    }
}

fn parse_mode(s: &str) -> Result<Collector, String> {
    match s {
        "stw" => Ok(Collector::Stw),
        "concurrent" => Ok(Collector::Concurrent),
        _ => Err(format!(
            "unknown collector '{s}' (expected 'concurrent' or 'stw')"
        )),
    }
}

fn parse_fault(s: &str) -> Result<FaultMode, String> {
    match s {
        "sigbus" => Ok(FaultMode::Sigbus),
        "thread" => Ok(FaultMode::Thread),
        _ => Err(format!(
            "unknown fault mode '{s}' (expected 'sigbus' or 'thread')"
        )),
    }
}

fn parse_positive_u64(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{s}' is not a positive whole number")),
    }
}

/// Most marking threads accepted: far beyond any useful count, low enough that a typo cannot
/// ask for thousands of threads.
const MAX_GC_THREADS: usize = 256;

fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_GC_THREADS).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{s}' is not a thread count (a whole number from 1 to {MAX_GC_THREADS})"
        )),
    }
}

fn parse_size(s: &str) -> Result<usize, String> {
    gc::parse_size(s)
}

fn parse_growth(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        // Growth must leave headroom after a cycle, or every allocation would trigger one.
        Ok(f) if f.is_finite() && f > 1.0 && f <= 1000.0 => Ok(f),
        _ => Err(format!(
            "'{s}' is not a growth factor (a number above 1, e.g. 1.5)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("lox").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_leave_the_collector_defaults() {
        let a = parse(&["x.lox"]).unwrap();
        let cfg = a.heap_config().unwrap();
        let d = HeapConfig::default();
        assert_eq!(cfg.max_bytes, d.max_bytes);
        assert_eq!(cfg.stress_every, None);
        assert!(!cfg.verify && !cfg.log);
        assert_eq!(a.file.as_deref(), Some(std::path::Path::new("x.lox")));
    }

    #[test]
    fn concurrent_with_sigbus_is_the_default() {
        let a = parse(&["x.lox"]).unwrap();
        assert_eq!(a.heap_config().unwrap().mode, GcMode::CONCURRENT);
        assert!(
            !a.announce_fallback(),
            "the default mode is not an explicit request"
        );
        let a = parse(&["--gc-fault", "thread", "x.lox"]).unwrap();
        assert_eq!(
            a.heap_config().unwrap().mode,
            GcMode::Concurrent {
                fault: FaultMode::Thread
            }
        );
        assert!(!a.announce_fallback());
    }

    #[test]
    fn explicit_concurrent_or_log_announces_a_fallback() {
        assert!(parse(&["--gc", "concurrent"]).unwrap().announce_fallback());
        assert!(parse(&["--gc-log"]).unwrap().announce_fallback());
        assert!(parse(&["--gc", "stw", "--gc-log"])
            .unwrap()
            .announce_fallback());
        assert!(!parse(&["--gc", "stw"]).unwrap().announce_fallback());
    }

    #[test]
    fn stress_takes_an_optional_count() {
        let stress = |args: &[&str]| parse(args).unwrap().heap_config().unwrap().stress_every;
        for mode in ["stw", "concurrent"] {
            assert_eq!(
                stress(&["--gc", mode, "--gc-stress", "f"]),
                STRESS_DEFAULT.parse().ok()
            );
            assert_eq!(stress(&["--gc", mode, "--gc-stress=7", "f"]), Some(7));
        }
        let a = parse(&["--gc-stress", "f"]).unwrap();
        assert_eq!(a.file.as_deref(), Some(std::path::Path::new("f")));
        assert!(parse(&["--gc-stress=0", "f"]).is_err());
        assert!(parse(&["--gc-stress=x", "f"]).is_err());
    }

    #[test]
    fn verify_takes_an_optional_interval() {
        let cfg = |args: &[&str]| parse(args).unwrap().heap_config().unwrap();
        let every = cfg(&["--gc-verify", "f"]);
        assert!(every.verify && (1..5).all(|n| every.verifies(n)));
        let some = cfg(&["--gc-verify=3", "f"]);
        assert!(some.verify && some.verifies(1) && !some.verifies(2) && some.verifies(4));
        assert!(!cfg(&["f"]).verifies(1));
        assert!(parse(&["--gc-verify=0", "f"]).is_err());
        assert!(parse(&["--gc-verify=x", "f"]).is_err());
    }

    #[test]
    fn help_states_the_defaults() {
        use clap::CommandFactory;
        let help = Args::command().render_long_help().to_string();
        assert!(help.contains("[default: concurrent]"), "{help}");
        assert!(help.contains("[default: sigbus]"), "{help}");
        assert!(
            help.contains(&format!("(default {STRESS_DEFAULT})")),
            "{help}"
        );
    }

    #[test]
    fn modes_are_checked() {
        let mode = |args: &[&str]| parse(args).unwrap().heap_config().unwrap().mode;
        assert_eq!(mode(&["--gc", "stw"]), GcMode::StopTheWorld);
        assert_eq!(mode(&["--gc", "concurrent"]), GcMode::CONCURRENT);
        assert_eq!(
            mode(&["--gc", "concurrent", "--gc-fault", "sigbus"]),
            GcMode::CONCURRENT
        );
        assert!(parse(&["--gc", "fast"]).is_err());
        assert!(parse(&["--gc-fault", "poll"]).is_err());
        let e = parse(&["--gc", "stw", "--gc-fault", "thread"])
            .unwrap()
            .heap_config()
            .unwrap_err();
        assert!(e.contains("--gc-fault"), "{e}");
    }

    #[test]
    fn sizes_and_growth_are_checked() {
        let a = parse(&[
            "--heap-max",
            "64M",
            "--gc-min-heap",
            "1M",
            "--gc-growth",
            "1.5",
        ]);
        let cfg = a.unwrap().heap_config().unwrap();
        assert_eq!(cfg.max_bytes, 64 << 20);
        assert_eq!(cfg.min_trigger_bytes, 1 << 20);
        assert_eq!(cfg.growth_factor, 1.5);
        assert!(parse(&["--heap-max", "lots"]).is_err());
        assert!(parse(&["--gc-growth", "1"]).is_err());
        assert!(parse(&["--gc-growth", "NaN"]).is_err());
        let a = parse(&["--heap-max", "1M", "--gc-min-heap", "2M"]).unwrap();
        assert!(a.heap_config().is_err());
        // A small ceiling with the default trigger clamps the trigger instead of failing.
        let cfg = parse(&["--heap-max", "1M"]).unwrap().heap_config().unwrap();
        assert_eq!(cfg.min_trigger_bytes, 1 << 20);
    }

    #[test]
    fn marking_threads_are_checked() {
        let threads = |args: &[&str]| parse(args).unwrap().heap_config().unwrap().gc_threads;
        assert_eq!(threads(&["x.lox"]), gc::config::default_gc_threads());
        assert_eq!(threads(&["--gc-threads", "3", "x.lox"]), 3);
        assert_eq!(threads(&["--gc-threads=1", "x.lox"]), 1);
        assert_eq!(threads(&["--gc", "stw", "--gc-threads", "2"]), 2);
        for bad in ["0", "-1", "two", "", "1.5", "100000"] {
            assert!(parse(&["--gc-threads", bad, "x.lox"]).is_err(), "{bad:?}");
        }
        use clap::CommandFactory;
        let help = Args::command().render_long_help().to_string();
        assert!(help.contains("--gc-threads <N>"), "{help}");
    }

    #[test]
    fn extra_operands_are_usage_errors() {
        assert!(parse(&["a.lox", "b.lox"]).is_err());
        assert!(parse(&["--no-such-flag"]).is_err());
    }
}
