//! Running the interpreter on one file: captured output, exit status, and a time limit.
//!
//! Owns child-process plumbing only; it knows nothing about annotations.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Killed by a signal (a crash: SIGSEGV, SIGABRT, ...).
    Signal(i32),
    TimedOut,
}

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit: Exit,
    pub elapsed: Duration,
}

/// Runs `program args... file` with no stdin, killing it after `limit`.
pub fn run(
    program: &Path,
    args: &[String],
    file: &Path,
    limit: Duration,
) -> std::io::Result<Outcome> {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drain both pipes on their own threads so a chatty child never blocks on a full pipe.
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let exit = loop {
        if let Some(status) = child.try_wait()? {
            break classify(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break Exit::TimedOut;
        }
        thread::sleep(Duration::from_millis(5));
    };
    Ok(Outcome {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        exit,
        elapsed: start.elapsed(),
    })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

fn classify(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        (None, None) => Exit::Code(-1),
    }
}

/// Splits output into lines the way the shared runner does (`splitlines`, one trailing empty
/// line dropped), decoding lossily: Lox strings are bytes and need not be UTF-8.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<String> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_drop_one_trailing_newline() {
        assert_eq!(lines(b"a\nb\n"), vec!["a", "b"]);
        assert_eq!(lines(b"a\n\n"), vec!["a", ""]);
        assert!(lines(b"").is_empty());
        assert_eq!(lines(b"x\r\ny"), vec!["x", "y"]);
    }

    #[test]
    fn runs_and_times_out() {
        let sh = Path::new("/bin/sh");
        let dir = std::env::temp_dir();
        let script = dir.join(format!("lox-tests-proc-{}.sh", std::process::id()));
        std::fs::write(&script, "echo out; echo err >&2; exit 3\n").unwrap();
        let o = run(sh, &[], &script, Duration::from_secs(10)).unwrap();
        assert_eq!(o.exit, Exit::Code(3));
        assert_eq!(o.stdout, b"out\n");
        assert_eq!(o.stderr, b"err\n");
        std::fs::write(&script, "exec sleep 5\n").unwrap();
        let o = run(sh, &[], &script, Duration::from_millis(100)).unwrap();
        assert_eq!(o.exit, Exit::TimedOut);
        std::fs::write(&script, "kill -SEGV $$\n").unwrap();
        let o = run(sh, &[], &script, Duration::from_secs(10)).unwrap();
        assert_eq!(o.exit, Exit::Signal(11));
        let _ = std::fs::remove_file(&script);
    }
}
