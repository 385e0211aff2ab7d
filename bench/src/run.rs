//! Running one interpreter on one program and timing it (wall clock, from spawn to exit).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// One run's result.
#[derive(Clone, Debug)]
pub struct Run {
    pub seconds: f64,
    pub stdout: String,
    /// `Err(description)` when the interpreter failed (non-zero exit or a signal).
    pub status: Result<(), String>,
}

/// Runs `program args... file`, stdin closed, output captured.
pub fn run(program: &Path, args: &[String], file: &Path) -> Run {
    let start = Instant::now();
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .stdin(Stdio::null())
        .output();
    let seconds = start.elapsed().as_secs_f64();
    match out {
        Err(e) => Run {
            seconds,
            stdout: String::new(),
            status: Err(format!("cannot run {}: {e}", program.display())),
        },
        Ok(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            let first = stderr.lines().next().unwrap_or("").to_string();
            let status = if o.status.success() {
                Ok(())
            } else {
                Err(match o.status.code() {
                    Some(c) => format!("exit {c}: {first}"),
                    None => format!("killed by a signal: {first}"),
                })
            };
            Run {
                seconds,
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                status,
            }
        }
    }
}
