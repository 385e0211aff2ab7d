//! Command-line arguments of the `lox` binary and their translation into a heap configuration.
//!
//! Owns the flag surface (clap derive) and every check of a flag's value; it never runs Lox.
//! A bad value is reported as a usage error (exit 64) by the caller.

use std::path::PathBuf;

use clap::Parser;
use gc::{GcMode, HeapConfig};

/// Run a Lox script, or start an interactive session when no script is given.
#[derive(Parser, Debug)]
#[command(name = "lox", version, about, long_about = None)]
pub struct Args {
    /// Script to run; without it, lox reads statements interactively (a REPL).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Collector: `stw` (stop-the-world mark-compact). `concurrent` is not available yet.
    #[arg(long = "gc", value_name = "MODE", default_value = "stw", value_parser = parse_mode)]
    pub gc: GcMode,

    /// Collect every N allocations (default 1) to shake out missing roots. Testing aid.
    #[arg(
        long = "gc-stress",
        value_name = "N",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1",
        value_parser = parse_positive_u64
    )]
    pub gc_stress: Option<u64>,

    /// Check the reachable graph before and after every collection (slow; testing aid).
    #[arg(long = "gc-verify")]
    pub gc_verify: bool,

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
}

impl Args {
    /// The heap settings these flags ask for, starting from the collector's defaults.
    pub fn heap_config(&self) -> Result<HeapConfig, String> {
        let mut cfg = HeapConfig {
            mode: self.gc,
            stress_every: self.gc_stress,
            verify: self.gc_verify,
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
}

fn parse_mode(s: &str) -> Result<GcMode, String> {
    match s {
        "stw" => Ok(GcMode::StopTheWorld),
        "concurrent" => Err("the concurrent collector is not available yet; use 'stw'".into()),
        _ => Err(format!("unknown collector '{s}' (expected 'stw')")),
    }
}

fn parse_positive_u64(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{s}' is not a positive whole number")),
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
    fn stress_takes_an_optional_count() {
        assert_eq!(parse(&["--gc-stress", "f"]).unwrap().gc_stress, Some(1));
        let a = parse(&["--gc-stress", "f"]).unwrap();
        assert_eq!(a.file.as_deref(), Some(std::path::Path::new("f")));
        assert_eq!(parse(&["--gc-stress=7", "f"]).unwrap().gc_stress, Some(7));
        assert!(parse(&["--gc-stress=0", "f"]).is_err());
        assert!(parse(&["--gc-stress=x", "f"]).is_err());
    }

    #[test]
    fn mode_accepts_only_stw() {
        assert_eq!(parse(&["--gc", "stw"]).unwrap().gc, GcMode::StopTheWorld);
        let e = parse(&["--gc", "concurrent"]).unwrap_err().to_string();
        assert!(e.contains("not available yet"), "{e}");
        assert!(parse(&["--gc", "fast"]).is_err());
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
    fn extra_operands_are_usage_errors() {
        assert!(parse(&["a.lox", "b.lox"]).is_err());
        assert!(parse(&["--no-such-flag"]).is_err());
    }
}
