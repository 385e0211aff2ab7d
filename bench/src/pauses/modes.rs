//! The collector modes measured, as data: adding a mode to `lox` means adding a line here. A
//! mode the binary refuses (exit 64, "not available") is reported as such, not as a failure.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::child;

/// A way of running a Lox program.
#[derive(Clone, Debug, PartialEq)]
pub enum Engine {
    /// Our `lox` with these flags; its `--gc-stats` file gives every pause.
    Lox(&'static [&'static str]),
    /// The reference C VM: its stop-the-world mark-sweep pauses are invisible from outside.
    Clox,
}

#[derive(Clone, Debug)]
pub struct Mode {
    pub label: &'static str,
    pub engine: Engine,
}

/// Our collector modes, in report order. The first is the baseline of throughput ratios.
pub const LOX_MODES: [Mode; 3] = [
    Mode {
        label: "stw",
        engine: Engine::Lox(&["--gc", "stw"]),
    },
    Mode {
        label: "concurrent-sigbus",
        engine: Engine::Lox(&["--gc", "concurrent", "--gc-fault", "sigbus"]),
    },
    Mode {
        label: "concurrent-thread",
        engine: Engine::Lox(&["--gc", "concurrent", "--gc-fault", "thread"]),
    },
];

pub const CLOX: Mode = Mode {
    label: "clox",
    engine: Engine::Clox,
};

/// Whether `lox` accepts `flags`: runs a one-line program. `Err` carries the binary's reason
/// (its first line of stderr) when it refuses the mode or fails on it.
pub fn probe(lox: &Path, flags: &[&str], scratch: &Path) -> Result<(), String> {
    let prog = scratch.join("probe.lox");
    std::fs::write(&prog, "print 1 + 1;\n").map_err(|e| format!("cannot write probe: {e}"))?;
    let mut cmd = Command::new(lox);
    cmd.args(flags).arg(&prog);
    let o = child::run(&mut cmd, &scratch.join("probe"), Duration::from_secs(30))?;
    if o.success() && o.stdout.trim() == "2" {
        Ok(())
    } else {
        Err(refusal(&o.stderr, &o.failure()))
    }
}

/// The reason to print for a refused mode: the error line of a usage error (clap prints
/// `error: ...` first), else the generic failure.
fn refusal(stderr: &str, failure: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| failure.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_and_stw_is_first() {
        assert_eq!(LOX_MODES[0].label, "stw");
        let mut l: Vec<_> = LOX_MODES.iter().map(|m| m.label).collect();
        l.push(CLOX.label);
        let n = l.len();
        l.sort_unstable();
        l.dedup();
        assert_eq!(l.len(), n);
    }

    #[test]
    fn refusal_text_comes_from_the_usage_error() {
        let err =
            "error: invalid value 'concurrent' for '--gc <MODE>': not available yet\n\nFor more";
        assert_eq!(
            refusal(err, "exit 64"),
            "invalid value 'concurrent' for '--gc <MODE>': not available yet"
        );
        assert_eq!(refusal("boom\n", "exit 70: boom"), "exit 70: boom");
    }

    #[test]
    fn a_program_that_is_not_lox_is_refused() {
        let dir = std::env::temp_dir().join(format!("bench-probe-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // `false` ignores its arguments and exits 1.
        let r = probe(Path::new("false"), &["--gc", "stw"], &dir);
        assert!(r.unwrap_err().contains("exit 1"));
    }
}
