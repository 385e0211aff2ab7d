//! Judging one run against a file's annotations, with the shared runner's rules.
//!
//! Returns the list of reasons a run failed (empty: it passed); stdout mismatches come with a
//! line diff so a failure report can be read without rerunning.

use crate::diff;
use crate::expect::{self, Expectations};
use crate::process::{lines, Exit, Outcome};

/// Diff lines shown per failing test.
const DIFF_LINES: usize = 40;
/// Unexpected stderr lines shown per failing test.
const UNEXPECTED_LINES: usize = 8;

/// Why `outcome` does not meet `exp`; empty when it does.
pub fn judge(exp: &Expectations, outcome: &Outcome) -> Vec<String> {
    let mut fails = Vec::new();
    let out = lines(&outcome.stdout);
    let err = lines(&outcome.stderr);

    match outcome.exit {
        Exit::TimedOut => {
            fails.push(format!(
                "timed out after {:.1} s",
                outcome.elapsed.as_secs_f64()
            ));
            return fails;
        }
        Exit::Signal(s) => fails.push(format!("killed by signal {s}; stderr: {:?}", head(&err))),
        Exit::Code(c) if c != exp.exit_code => fails.push(format!(
            "exit code {c}, expected {}; stderr: {:?}",
            exp.exit_code,
            head(&err)
        )),
        Exit::Code(_) => {}
    }

    if !exp.runtime_errors.is_empty() {
        check_runtime_errors(&exp.runtime_errors, &err, &mut fails);
    } else {
        check_compile_errors(exp, &err, &mut fails);
    }

    let expected: Vec<String> = exp.output.iter().map(|o| o.text.clone()).collect();
    if expected != out {
        fails.push(format!(
            "stdout differs ({} lines expected, {} printed); - expected, + actual:",
            expected.len(),
            out.len()
        ));
        fails.extend(diff::render(&diff::diff(&expected, &out), DIFF_LINES));
    }
    fails
}

/// Each expected error in order: its message (the first stderr line, then the first line after
/// the previous error's trace), then a trace whose first line names the annotated line. Another
/// message after the last trace is an error nobody expected (say, a second thread's).
fn check_runtime_errors(expected: &[(usize, String)], err: &[String], fails: &mut Vec<String>) {
    let mut at = 0;
    for (k, (line, text)) in expected.iter().enumerate() {
        let Some(msg) = err.get(at) else {
            fails.push(format!(
                "expected runtime error '{text}' and got {:?}",
                head(&err[at.min(err.len())..])
            ));
            return;
        };
        if msg != text {
            let which = if k == 0 { "" } else { " next" };
            fails.push(format!(
                "expected{which} runtime error '{text}', got '{msg}'"
            ));
        }
        let trace_len = err[at + 1..]
            .iter()
            .take_while(|l| expect::is_trace(l))
            .count();
        let trace = &err[at + 1..at + 1 + trace_len];
        match trace.iter().find_map(|l| expect::trace_line(l)) {
            None => fails.push(format!(
                "expected a '[line N]' stack trace after '{msg}', got {:?}",
                head(&err[at + 1..])
            )),
            Some(n) if n != *line => fails.push(format!(
                "runtime error '{text}' reported on line {n}, expected {line}"
            )),
            Some(_) => {}
        }
        at += 1 + trace_len;
    }
    let rest: Vec<&String> = err[at.min(err.len())..]
        .iter()
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(first) = rest.first() {
        fails.push(format!(
            "unexpected stderr after the expected runtime error{}: '{first}' ({} lines)",
            if expected.len() == 1 { "" } else { "s" },
            rest.len()
        ));
    }
}

fn check_compile_errors(exp: &Expectations, err: &[String], fails: &mut Vec<String>) {
    let mut found = std::collections::BTreeSet::new();
    let mut unexpected = Vec::new();
    for l in err {
        match expect::reported_compile_error(l) {
            Some(e) if exp.compile_errors.contains(&e) => {
                found.insert(e);
            }
            Some(_) => unexpected.push(format!("unexpected error: {l}")),
            None if !l.is_empty() => unexpected.push(format!("unexpected stderr: {l}")),
            None => {}
        }
    }
    // A stack trace thousands of frames deep is one problem, not thousands.
    let shown = unexpected.len().min(UNEXPECTED_LINES);
    let more = unexpected.len() - shown;
    fails.extend(unexpected.into_iter().take(shown));
    if more > 0 {
        fails.push(format!("... and {more} more unexpected stderr lines"));
    }
    for e in exp.compile_errors.difference(&found) {
        fails.push(format!("missing expected error: {e}"));
    }
}

fn head(lines: &[String]) -> &[String] {
    &lines[..lines.len().min(5)]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// A finished run with this output and exit code (also used by differential.rs's tests).
    pub(crate) fn outcome(stdout: &str, stderr: &str, code: i32) -> Outcome {
        Outcome {
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            exit: Exit::Code(code),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn output_must_match_in_order() {
        let exp = expect::parse(b"print 1; // expect: 1\nprint 2; // expect: 2\n").unwrap();
        assert!(judge(&exp, &outcome("1\n2\n", "", 0)).is_empty());
        assert!(!judge(&exp, &outcome("2\n1\n", "", 0)).is_empty());
        assert!(!judge(&exp, &outcome("1\n", "", 0)).is_empty());
        assert!(!judge(&exp, &outcome("1\n2\n3\n", "", 0)).is_empty());
        assert!(!judge(&exp, &outcome("1\n2\n", "", 1)).is_empty());
        assert!(!judge(&exp, &outcome("1\n2\n", "noise\n", 0)).is_empty());
    }

    #[test]
    fn runtime_errors_need_message_trace_and_status() {
        let exp = expect::parse(
            b"\nnil(); // expect runtime error: Can only call functions and classes.\n",
        )
        .unwrap();
        let good = "Can only call functions and classes.\n[line 2] in script\n";
        assert!(judge(&exp, &outcome("", good, 70)).is_empty());
        assert!(!judge(&exp, &outcome("", good, 65)).is_empty());
        let wrong_line = "Can only call functions and classes.\n[line 1] in script\n";
        assert!(!judge(&exp, &outcome("", wrong_line, 70)).is_empty());
        assert!(!judge(
            &exp,
            &outcome("", "Can only call functions and classes.\n", 70)
        )
        .is_empty());
    }

    #[test]
    fn several_runtime_errors_appear_in_source_order() {
        // A thread's error (line 2), then the error its join raises in the script (line 4).
        let exp = expect::parse(
            b"fun f() {\n  nil(); // expect runtime error: Can only call functions and classes.\n}\n\
              Thread(f).join(); // expect runtime error: Joined thread ended with a runtime error.\n",
        )
        .unwrap();
        assert_eq!(exp.exit_code, 70);
        let thread = "Can only call functions and classes.\n[line 2] in f()\n";
        let join = "Joined thread ended with a runtime error.\n[line 4] in script\n";
        assert!(judge(&exp, &outcome("", &format!("{thread}{join}"), 70)).is_empty());
        // Swapped, one missing, the second on the wrong line, one more than expected.
        assert!(!judge(&exp, &outcome("", &format!("{join}{thread}"), 70)).is_empty());
        assert!(!judge(&exp, &outcome("", thread, 70)).is_empty());
        let wrong = join.replace("line 4", "line 3");
        assert!(!judge(&exp, &outcome("", &format!("{thread}{wrong}"), 70)).is_empty());
        let extra = format!("{thread}{join}Stack overflow.\n[line 9] in g()\n");
        assert!(!judge(&exp, &outcome("", &extra, 70)).is_empty());
    }

    #[test]
    fn a_deep_trace_with_frames_left_out_is_one_error() {
        let exp = expect::parse(b"\nf(); // expect runtime error: Stack overflow.\n").unwrap();
        let deep =
            "Stack overflow.\n[line 2] in f()\n... 9936 more frames ...\n[line 2] in script\n";
        assert!(judge(&exp, &outcome("", deep, 70)).is_empty());
        let more = format!("{deep}Out of memory.\n");
        assert!(!judge(&exp, &outcome("", &more, 70)).is_empty());
    }

    #[test]
    fn compile_errors_must_all_appear_and_nothing_else() {
        let exp = expect::parse(b"var = 1; // Error at '=': Expect variable name.\n").unwrap();
        let good = "[line 1] Error at '=': Expect variable name.\n";
        assert!(judge(&exp, &outcome("", good, 65)).is_empty());
        assert!(!judge(&exp, &outcome("", "", 65)).is_empty());
        let extra = format!("{good}[line 2] Error at end: Expect ';'.\n");
        assert!(!judge(&exp, &outcome("", &extra, 65)).is_empty());
    }

    #[test]
    fn crashes_and_timeouts_fail() {
        let exp = expect::parse(b"").unwrap();
        let mut o = outcome("", "", 0);
        assert!(judge(&exp, &o).is_empty());
        o.exit = Exit::Signal(11);
        assert!(!judge(&exp, &o).is_empty());
        o.exit = Exit::TimedOut;
        assert!(!judge(&exp, &o).is_empty());
    }
}
