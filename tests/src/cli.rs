//! Checks of the `lox` command line itself: exit statuses, flag errors, the statistics file and
//! the line-by-line session on a non-terminal stdin. They complement the corpus, which only ever
//! runs `lox FLAGS FILE` on good flags.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one invocation produced.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn lox(bin: &Path, args: &[&str], stdin: &[u8]) -> std::io::Result<Ran> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut input = child.stdin.take();
    if let Some(pipe) = input.as_mut() {
        // A binary that exits early closes the pipe: that is its answer, not a test error.
        let _ = pipe.write_all(stdin);
    }
    drop(input);
    let out = child.wait_with_output()?;
    Ok(Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// One check: a name and the reasons it failed (empty: passed).
type Check = (&'static str, Vec<String>);

fn expect_code(r: &Ran, code: i32, fails: &mut Vec<String>) {
    if r.code != Some(code) {
        fails.push(format!(
            "exit {:?}, expected {code}; stderr: {:?}",
            r.code,
            first_lines(&r.stderr)
        ));
    }
}

fn expect_contains(what: &str, text: &str, needle: &str, fails: &mut Vec<String>) {
    if !text.contains(needle) {
        fails.push(format!(
            "{what} does not contain {needle:?}: {:?}",
            first_lines(text)
        ));
    }
}

/// Concurrent mode asked for by name: stderr is empty, or holds the one fallback notice when
/// this host does not allow userfaultfd (then the run was stop-the-world, still correct).
fn expect_quiet_or_notice(r: &Ran, fails: &mut Vec<String>) {
    let quiet = r.stderr.is_empty();
    let notice =
        r.stderr.lines().count() == 1 && r.stderr.starts_with("lox: concurrent collector: ");
    if !quiet && !notice {
        fails.push(format!(
            "stderr {:?}, expected nothing or one fallback notice",
            first_lines(&r.stderr)
        ));
    }
}

fn first_lines(s: &str) -> String {
    s.lines().take(3).collect::<Vec<_>>().join(" | ")
}

/// Runs every check with the binary at `bin`, using `scratch` for files. Returns the checks.
pub fn checks(bin: &Path, scratch: &Path) -> Vec<Check> {
    let file = |name: &str, text: &str| -> PathBuf {
        let p = scratch.join(name);
        // A write failure shows up as the check's own failure to read the file.
        let _ = std::fs::write(&p, text);
        p
    };
    let ok_file = file("cli_ok.lox", "print \"ok\";\n");
    let rt_file = file("cli_runtime.lox", "print \"before\";\nnil();\n");
    // A 2 MiB literal: loading it into a 1 MiB heap fails before the script starts.
    let big_file = file(
        "cli_big_literal.lox",
        &format!("print \"before\";\nprint \"{}\";\n", "x".repeat(2 << 20)),
    );
    let ok = ok_file.to_string_lossy().into_owned();
    let rt = rt_file.to_string_lossy().into_owned();
    let big = big_file.to_string_lossy().into_owned();
    let stats_ok = scratch.join("stats_ok.json");
    let stats_rt = scratch.join("stats_rt.json");
    let stats_ok_s = stats_ok.to_string_lossy().into_owned();
    let stats_rt_s = stats_rt.to_string_lossy().into_owned();
    let missing = scratch
        .join("no_such_file.lox")
        .to_string_lossy()
        .into_owned();

    let mut out: Vec<Check> = Vec::new();
    let mut run = |name: &'static str,
                   args: &[&str],
                   stdin: &[u8],
                   judge: &dyn Fn(&Ran, &mut Vec<String>)| {
        let mut fails = Vec::new();
        match lox(bin, args, stdin) {
            Ok(r) => judge(&r, &mut fails),
            Err(e) => fails.push(format!("cannot run {}: {e}", bin.display())),
        }
        out.push((name, fails));
    };

    run("help", &["--help"], b"", &|r, f| {
        expect_code(r, 0, f);
        for flag in ["--gc-stress", "--gc-fault", "[default: concurrent]"] {
            expect_contains("--help output", &r.stdout, flag, f);
        }
    });
    run("version", &["--version"], b"", &|r, f| {
        expect_code(r, 0, f);
        expect_contains("--version output", &r.stdout, "lox", f);
    });
    run("runs a file", &["--gc", "stw", &ok], b"", &|r, f| {
        expect_code(r, 0, f);
        expect_contains("stdout", &r.stdout, "ok", f);
    });
    run(
        "unknown flag is a usage error",
        &["--no-such-flag", &ok],
        b"",
        &|r, f| expect_code(r, 64, f),
    );
    run("two files are a usage error", &[&ok, &ok], b"", &|r, f| {
        expect_code(r, 64, f)
    });
    run(
        "concurrent mode runs",
        &["--gc", "concurrent", &ok],
        b"",
        &|r, f| {
            expect_code(r, 0, f);
            expect_contains("stdout", &r.stdout, "ok", f);
            expect_quiet_or_notice(r, f);
        },
    );
    run(
        "concurrent mode with the fault thread runs",
        &[
            "--gc",
            "concurrent",
            "--gc-fault",
            "thread",
            "--gc-stress",
            &ok,
        ],
        b"",
        &|r, f| {
            expect_code(r, 0, f);
            expect_contains("stdout", &r.stdout, "ok", f);
            expect_quiet_or_notice(r, f);
        },
    );
    run(
        "the default collector prints nothing on stderr",
        &["--gc-stress", "--gc-verify", &ok],
        b"",
        &|r, f| {
            expect_code(r, 0, f);
            if !r.stderr.is_empty() {
                f.push(format!("stderr {:?}, expected nothing", r.stderr));
            }
        },
    );
    run(
        "a fault mode with stop-the-world is a usage error",
        &["--gc", "stw", "--gc-fault", "thread", &ok],
        b"",
        &|r, f| {
            expect_code(r, 64, f);
            expect_contains("stderr", &r.stderr, "--gc-fault", f);
        },
    );
    run(
        "unknown fault mode is refused",
        &["--gc-fault", "poll", &ok],
        b"",
        &|r, f| expect_code(r, 64, f),
    );
    run(
        "unknown mode is refused",
        &["--gc", "fast", &ok],
        b"",
        &|r, f| expect_code(r, 64, f),
    );
    run(
        "zero stress interval is refused",
        &["--gc-stress=0", &ok],
        b"",
        &|r, f| expect_code(r, 64, f),
    );
    run(
        "stress interval is accepted",
        &["--gc-stress=3", "--gc-verify", &ok],
        b"",
        &|r, f| {
            expect_code(r, 0, f);
            expect_contains("stdout", &r.stdout, "ok", f);
        },
    );
    run(
        "bad size is refused",
        &["--heap-max", "12Q", &ok],
        b"",
        &|r, f| expect_code(r, 64, f),
    );
    run(
        "growth must exceed 1",
        &["--gc-growth", "0.5", &ok],
        b"",
        &|r, f| expect_code(r, 64, f),
    );
    run(
        "size suffixes are accepted",
        &[
            "--heap-max",
            "256M",
            "--gc-min-heap",
            "64K",
            "--gc-growth",
            "1.5",
            &ok,
        ],
        b"",
        &|r, f| expect_code(r, 0, f),
    );
    run(
        "constants larger than the heap are refused at load, exit 70",
        &["--heap-max", "1M", &big],
        b"",
        &|r, f| {
            expect_code(r, 70, f);
            // Nothing ran, and there is no frame to name a line.
            if !r.stdout.is_empty() || r.stderr != "Out of memory.\n" {
                f.push(format!(
                    "stdout {:?}, stderr {:?}; expected nothing and \"Out of memory.\"",
                    first_lines(&r.stdout),
                    first_lines(&r.stderr)
                ));
            }
        },
    );
    run(
        "a heap too small to start the VM exits 71",
        &["--heap-max", "1K", &ok],
        b"",
        &|r, f| {
            expect_code(r, 71, f);
            expect_contains("stderr", &r.stderr, "out of memory creating the VM", f);
        },
    );
    run("missing file exits 74", &[&missing], b"", &|r, f| {
        expect_code(r, 74, f);
        expect_contains("stderr", &r.stderr, "no_such_file.lox", f);
    });
    run(
        "stats are written at exit",
        &["--gc-stats", &stats_ok_s, &ok],
        b"",
        &|r, f| {
            expect_code(r, 0, f);
            check_stats(&stats_ok, f);
        },
    );
    run(
        "stats are written after a runtime error",
        &["--gc-stats", &stats_rt_s, &rt],
        b"",
        &|r, f| {
            expect_code(r, 70, f);
            expect_contains("stdout", &r.stdout, "before", f);
            check_stats(&stats_rt, f);
        },
    );
    run(
        "session on a pipe keeps globals and survives errors",
        &[],
        b"var a = 1;\nprint a;\nprint nope;\nprint a +;\nprint a + 1;\nfun f() { return \"f\"; }\nprint f();\n",
        &|r, f| {
            expect_code(r, 0, f);
            if r.stdout != "1\n2\nf\n" {
                f.push(format!("stdout {:?}, expected \"1\\n2\\nf\\n\"", r.stdout));
            }
            expect_contains("stderr", &r.stderr, "Undefined variable 'nope'.", f);
            expect_contains("stderr", &r.stderr, "Error at ';'", f);
        },
    );
    run(
        "session ends at end of input",
        &["--gc", "stw"],
        b"",
        &|r, f| {
            expect_code(r, 0, f);
            if !r.stdout.is_empty() {
                f.push(format!("a session without input printed {:?}", r.stdout));
            }
        },
    );
    out
}

/// The statistics file is one JSON object that names its collector.
fn check_stats(path: &Path, fails: &mut Vec<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return fails.push(format!("statistics file {}: {e}", path.display())),
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v.get("collector").is_some_and(serde_json::Value::is_string) => {}
        Ok(_) => fails.push(format!(
            "statistics name no collector: {:?}",
            first_lines(&text)
        )),
        Err(e) => fails.push(format!(
            "statistics are not JSON ({e}): {:?}",
            first_lines(&text)
        )),
    }
}
