//! Benchmark harness. `bench throughput` times the benchmark programs under our `lox` and,
//! optionally, the reference clox or a second `lox` build; `bench pauses` measures every GC
//! pause, stall and hiccup under each collector mode and writes a report with plots; `bench
//! soak` holds a mixed workload at a live size for a while, verifying it and watching for
//! leaks; `bench rss` checks that memory goes back to the OS when the live set shrinks.
//!
//! ```text
//! cargo run --release -p bench -- throughput [--clox PATH] [--lox PATH]... [--dir DIR] [--runs N]
//! cargo run --release -p bench -- pauses [--quick] [--clox PATH] [--jvm] [--threads LIST] [--out DIR]
//! cargo run --release -p bench -- soak --seconds S --live SIZE [--gc MODE] [--threads 1]
//! cargo run --release -p bench -- rss [--live SIZE] [--small SIZE] [--gc MODE]
//! ```

mod output;
mod pauses;
mod run;
mod soak;
mod stats;
mod throughput;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bench", about = "Benchmarks for the Lox runtime")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Median wall time of each benchmark program; ratios against clox or a second lox build.
    Throughput {
        /// The reference C VM (build it with shared/tools/build-clox OUT).
        #[arg(long, value_name = "PATH")]
        clox: Option<PathBuf>,
        /// Our interpreter [default: target/release/lox, built if missing]. Give it twice to
        /// compare two builds: the ratio is then second/first.
        #[arg(long, value_name = "PATH")]
        lox: Vec<PathBuf>,
        /// Extra flags for every lox run, e.g. "--gc stw --gc-min-heap 64M".
        #[arg(long, value_name = "FLAGS", allow_hyphen_values = true)]
        lox_flags: Option<String>,
        /// Folder of .lox programs [default: ../shared/lox/benchmark beside the workspace].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Runs of each program per interpreter.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        runs: u64,
        /// Runs of each fixed-time (`*_batch`) program per interpreter.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        batch_runs: u64,
        /// Only programs whose name contains this.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Every GC pause and stall of each workload under each collector mode: report.md,
    /// results.json and SVG plots.
    Pauses {
        /// Smaller set: GCBench at 16 and 64 MB live, the graph at 64 MB.
        #[arg(long)]
        quick: bool,
        /// The reference C VM, measured from outside (wall time, CPU, RSS).
        #[arg(long, value_name = "PATH")]
        clox: Option<PathBuf>,
        /// Also run bench/java/GCBench.java under each JVM collector (needs java and javac).
        #[arg(long)]
        jvm: bool,
        /// Output folder [default: target/bench].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Our interpreter [default: target/release/lox, built if missing].
        #[arg(long, value_name = "PATH")]
        lox: Option<PathBuf>,
        /// Folder of the shared benchmark programs [default: ../shared/lox/benchmark].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Only workloads whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// The threads axis: GCBench at 16 MB live split over these numbers of Lox threads,
        /// e.g. 1,2,4; `none` for no axis [default: 1,2,4; with --quick 1,2].
        #[arg(long, value_name = "LIST", value_parser = pauses::threads::parse_counts)]
        threads: Option<pauses::threads::Counts>,
    },
    /// A mixed workload (trees, lists, string tables, closures) held at SIZE live while it
    /// churns for S seconds, self-checked, verified by the collector every few cycles and
    /// watched for leaks; one final line of figures, non-zero exit on any failure.
    Soak {
        /// How long the program runs, its build included.
        #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..))]
        seconds: u64,
        /// Live heap to hold, e.g. 256M or 1G.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        live: u64,
        /// Collector mode: `concurrent` or `stw`.
        #[arg(long = "gc", value_name = "MODE", default_value = "concurrent", value_parser = ["concurrent", "stw"])]
        mode: String,
        /// Lox threads (only 1: the soak program is single-threaded).
        #[arg(long, value_name = "N", default_value_t = 1)]
        threads: u32,
        /// The collector verifies the heap graph every Nth cycle (`lox --gc-verify=N`; 0: never).
        #[arg(long, value_name = "N", default_value_t = 4)]
        verify_every: u64,
        /// Output folder [default: target/bench/soak].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Our interpreter [default: target/release/lox, built if missing].
        #[arg(long, value_name = "PATH")]
        lox: Option<PathBuf>,
    },
    /// Memory returned to the OS: the soak program holds SIZE live, drops it and runs small;
    /// the resident set before the drop and at the end, in each collector mode.
    Rss {
        /// Live heap before the drop.
        #[arg(long, value_name = "SIZE", default_value = "200M", value_parser = parse_size)]
        live: u64,
        /// Live heap after it.
        #[arg(long, value_name = "SIZE", default_value = "4M", value_parser = parse_size)]
        small: u64,
        /// Seconds from the start to the drop, the build included.
        #[arg(long, value_name = "S", default_value_t = 10.0, value_parser = parse_seconds)]
        hold_seconds: f64,
        /// Seconds of small churn after the drop.
        #[arg(long, value_name = "S", default_value_t = 10.0, value_parser = parse_seconds)]
        after_seconds: f64,
        /// One collector mode, `concurrent` or `stw` [default: both].
        #[arg(long = "gc", value_name = "MODE", value_parser = ["concurrent", "stw"])]
        mode: Option<String>,
        /// Output folder [default: target/bench/rss].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Our interpreter [default: target/release/lox, built if missing].
        #[arg(long, value_name = "PATH")]
        lox: Option<PathBuf>,
    },
}

fn parse_size(arg: &str) -> Result<u64, String> {
    let s = arg.trim();
    let (digits, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&b| b >= 1 << 20)
        .ok_or_else(|| format!("'{arg}' is not a size of at least 1M (e.g. 256M, 1G)"))
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..=1e6).contains(&x) => Ok(x),
        _ => Err(format!("'{s}' is not a number of seconds")),
    }
}

fn lox_or_default(lox: Option<PathBuf>) -> Result<PathBuf, String> {
    match lox {
        Some(p) => existing(p, "lox"),
        None => default_lox(),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Builds `target/release/lox` when it is missing.
fn default_lox() -> Result<PathBuf, String> {
    let root = workspace_root();
    let path = root.join("target/release/lox");
    if !path.exists() {
        eprintln!(
            "bench: {} is missing; building it (cargo build --release -p lox)",
            path.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "lox"])
            .current_dir(&root)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() || !path.exists() {
            return Err("building lox failed".into());
        }
    }
    Ok(path)
}

fn existing(path: PathBuf, what: &str) -> Result<PathBuf, String> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{what} '{}' does not exist", path.display()))
    }
}

fn throughput(
    clox: Option<PathBuf>,
    lox: Vec<PathBuf>,
    lox_flags: Option<String>,
    dir: Option<PathBuf>,
    runs: u64,
    batch_runs: u64,
    filter: Option<String>,
) -> Result<bool, String> {
    let flags: Vec<String> = lox_flags
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let loxes = match lox.len() {
        0 => vec![default_lox()?],
        1 | 2 => lox
            .into_iter()
            .map(|p| existing(p, "lox"))
            .collect::<Result<_, _>>()?,
        _ => return Err("give --lox at most twice".into()),
    };
    let mut interps = Vec::new();
    let ratios;
    if loxes.len() == 2 {
        for (label, path) in ["A", "B"].iter().zip(loxes) {
            eprintln!("bench: {label} = {}", path.display());
            interps.push(throughput::Interp {
                label: label.to_string(),
                path,
                args: flags.clone(),
            });
        }
        if let Some(c) = clox {
            interps.push(throughput::Interp {
                label: "clox".into(),
                path: existing(c, "clox")?,
                args: vec![],
            });
        }
        ratios = true;
    } else {
        if let Some(c) = clox {
            interps.push(throughput::Interp {
                label: "clox".into(),
                path: existing(c, "clox")?,
                args: vec![],
            });
        }
        ratios = !interps.is_empty();
        let path = loxes.into_iter().next().ok_or("no lox binary")?;
        interps.push(throughput::Interp {
            label: "lox".into(),
            path,
            args: flags,
        });
    }
    let dir = dir.unwrap_or_else(|| workspace_root().join("../shared/lox/benchmark"));
    let mut programs = throughput::programs_in(&dir)?;
    if let Some(f) = &filter {
        programs.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(f.as_str()))
        });
    }
    let plan = throughput::Plan {
        programs,
        interps,
        ratios,
        runs: runs as usize,
        batch_runs: batch_runs as usize,
    };
    Ok(throughput::execute(&plan))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Throughput {
            clox,
            lox,
            lox_flags,
            dir,
            runs,
            batch_runs,
            filter,
        } => throughput(clox, lox, lox_flags, dir, runs, batch_runs, filter),
        Cmd::Pauses {
            quick,
            clox,
            jvm,
            out,
            lox,
            dir,
            filter,
            threads,
        } => (|| {
            let lox = match lox {
                Some(p) => existing(p, "lox")?,
                None => default_lox()?,
            };
            let root = workspace_root();
            pauses::execute(&pauses::Options {
                quick,
                lox,
                clox,
                jvm,
                out: out.unwrap_or_else(|| root.join("target/bench")),
                shared_dir: dir.unwrap_or_else(|| root.join("../shared/lox/benchmark")),
                filter,
                threads: threads.map_or_else(|| pauses::threads::default_counts(quick), |c| c.0),
            })
        })(),
        Cmd::Soak {
            seconds,
            live,
            mode,
            threads,
            verify_every,
            out,
            lox,
        } => (|| {
            if threads != 1 {
                return Err(format!("--threads {threads}: {}", soak::NO_THREADS));
            }
            soak::execute(&soak::Options {
                seconds,
                live,
                mode,
                verify_every,
                lox: lox_or_default(lox)?,
                out: out.unwrap_or_else(|| workspace_root().join("target/bench/soak")),
            })
        })(),
        Cmd::Rss {
            live,
            small,
            hold_seconds,
            after_seconds,
            mode,
            out,
            lox,
        } => (|| {
            if small >= live {
                return Err("--small must be below --live".into());
            }
            soak::shrink::execute(&soak::shrink::Options {
                live,
                small,
                hold_seconds,
                after_seconds,
                modes: mode.map_or_else(|| vec!["stw".into(), "concurrent".into()], |m| vec![m]),
                lox: lox_or_default(lox)?,
                out: out.unwrap_or_else(|| workspace_root().join("target/bench/rss")),
            })
        })(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(msg) => {
            eprintln!("bench: {msg}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_seconds_parse_without_panicking() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size(" 1g "), Ok(1 << 30));
        assert_eq!(parse_size("\u{3000}1G"), Ok(1 << 30));
        assert_eq!(parse_size("2048K"), Ok(2 << 20));
        for bad in ["", "M", "12X", "1K", "1.5G", "1é", "99999999999G", "-1M"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_seconds("2.5"), Ok(2.5));
        assert!(parse_seconds("NaN").is_err() && parse_seconds("-1").is_err());
    }
}
