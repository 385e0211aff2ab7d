//! Benchmark harness. `bench throughput` times the benchmark programs under our `lox` and,
//! optionally, the reference clox or a second `lox` build; `bench pauses` measures every GC
//! pause, stall and hiccup under each collector mode and writes a report with plots.
//!
//! ```text
//! cargo run --release -p bench -- throughput [--clox PATH] [--lox PATH]... [--dir DIR] [--runs N]
//! cargo run --release -p bench -- pauses [--quick] [--clox PATH] [--jvm] [--out DIR]
//! ```

mod output;
mod pauses;
mod run;
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
    },
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
