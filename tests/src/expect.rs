//! What a corpus file says must happen, read from its comments.
//!
//! The annotations are those of the shared conformance runner (`shared/tools/lox-conformance`):
//! - `// expect: TEXT`: a line of stdout, in order;
//! - `// Error...`: a compile error on this line; `// [line N] Error...` (or `[c line N]`): on
//!   line N; either means exit status 65;
//! - `// expect runtime error: TEXT`: the first stderr line, with a `[line N]` trace naming this
//!   line; exit status 70. A file may have several (a thread's error, then the error its
//!   `join()` raises): they appear on stderr in source order, each message right after the
//!   trace of the one before;
//! - `// nontest`: not a test.
//!
//! Two additions of ours:
//! - `// gc-stress: N` runs the file with `--gc-stress=N` instead of a collection at every
//!   allocation in the stress mode, for the programs whose live heap is big enough that a full
//!   collection per allocation would take minutes;
//! - `// flags: FLAG...` adds flags to every run of the file, e.g. `--gc-min-heap=64K` so that a
//!   modest program still makes the growth policy (not only the stress mode) collect.

use std::collections::BTreeSet;

/// A line of expected stdout and the source line that asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    pub source_line: usize,
    pub text: String,
}

/// Everything a test file expects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    pub output: Vec<OutputLine>,
    /// Compile errors as `[N] Error...`.
    pub compile_errors: BTreeSet<String>,
    /// `(line, message)` of each expected runtime error, in source order (the order they must
    /// appear on stderr).
    pub runtime_errors: Vec<(usize, String)>,
    pub exit_code: i32,
    /// Collection interval to use in the stress mode instead of 1.
    pub stress_interval: Option<u64>,
    /// Extra interpreter flags for every run.
    pub flags: Vec<String>,
}

/// Reads the annotations of a file. `None` for a `// nontest` file.
pub fn parse(source: &[u8]) -> Option<Expectations> {
    let text = String::from_utf8_lossy(source);
    let mut exp = Expectations::default();
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let num = index + 1;
        if line.contains("// nontest") {
            return None;
        }
        if let Some(rest) = after(line, "// expect:") {
            let text = rest.strip_prefix(' ').unwrap_or(rest);
            exp.output.push(OutputLine {
                source_line: num,
                text: text.to_string(),
            });
        } else if let Some(rest) = after(line, "// Error") {
            exp.compile_errors.insert(format!("[{num}] Error{rest}"));
            exp.exit_code = 65;
        } else if let Some((dialect, n, msg)) = error_with_line(line) {
            if dialect.is_none() || dialect == Some("c") {
                exp.compile_errors.insert(format!("[{n}] {msg}"));
                exp.exit_code = 65;
            }
        } else if let Some(rest) = after(line, "// expect runtime error: ") {
            if !rest.is_empty() {
                exp.runtime_errors.push((num, rest.to_string()));
                exp.exit_code = 70;
            }
        } else if let Some(rest) = after(line, "// gc-stress: ") {
            exp.stress_interval = rest.trim().parse().ok().filter(|&n| n > 0);
        } else if let Some(rest) = after(line, "// flags: ") {
            exp.flags
                .extend(rest.split_whitespace().map(str::to_string));
        }
    }
    Some(exp)
}

/// The text after the first occurrence of `marker`.
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

/// `// [line N] Error...` or `// [java line N] ...` / `// [c line N] ...`:
/// (dialect, N, "Error...").
fn error_with_line(line: &str) -> Option<(Option<&str>, usize, &str)> {
    let mut search = line;
    while let Some(i) = search.find("// [") {
        let rest = &search[i + 4..];
        let (dialect, rest) = match rest.split_once(' ') {
            Some((d @ ("java" | "c"), r)) => (Some(d), r),
            _ => (None, rest),
        };
        if let Some(rest) = rest.strip_prefix("line ") {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 {
                if let Some(msg) = rest[digits..].strip_prefix("] ") {
                    if msg.starts_with("Error") {
                        return Some((dialect, rest[..digits].parse().ok()?, msg));
                    }
                }
            }
        }
        search = &search[i + 4..];
    }
    None
}

/// Whether a stderr line belongs to a stack trace: a `[line N] in ...` frame, or the line that
/// stands for the frames left out of a deep one (`... 9936 more frames ...`).
pub fn is_trace(line: &str) -> bool {
    trace_line(line).is_some() || (line.starts_with("... ") && line.ends_with(" ..."))
}

/// A compile error as the VM prints it (`[line N] Error...`), as `[N] Error...`.
pub fn reported_compile_error(line: &str) -> Option<String> {
    // Same as the shared runner's `\[.*line (\d+)\] (Error.+)`: after the first '[', the last
    // "line N] Error" with something after "Error".
    let open = line.find('[')?;
    let mut found = None;
    let mut from = open;
    while let Some(i) = line[from..].find("line ") {
        let at = from + i + 5;
        let digits = line[at..].chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            let tail = &line[at + digits..];
            if let Some(msg) = tail.strip_prefix("] ") {
                if msg.starts_with("Error") && msg.len() > 5 {
                    found = Some(format!("[{}] {}", &line[at..at + digits], msg));
                }
            }
        }
        from = at;
    }
    found
}

/// The line number of a `[line N]` stack-trace entry.
pub fn trace_line(line: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = line[from..].find("[line ") {
        let at = from + i + 6;
        let digits = line[at..].chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && line[at + digits..].starts_with(']') {
            return line[at..at + digits].parse().ok();
        }
        from = at;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_annotation_kind() {
        let src = b"print 1; // expect: 1\n\
            print \"\"; // expect:\n\
            var x = ; // Error at ';': Expect expression.\n\
            // [line 7] Error at end: Expect '}' after block.\n\
            // [java line 9] Error: ignored\n\
            // [c line 10] Error: kept\n\
            x(); // expect runtime error: Undefined variable 'x'.\n\
            // gc-stress: 64\n\
            // flags: --gc-min-heap=64K --gc-log\n";
        let e = parse(src).unwrap();
        assert_eq!(e.output.len(), 2);
        assert_eq!(
            e.output[0],
            OutputLine {
                source_line: 1,
                text: "1".into()
            }
        );
        assert_eq!(e.output[1].text, "");
        let errs: Vec<_> = e.compile_errors.iter().cloned().collect();
        assert_eq!(
            errs,
            vec![
                "[10] Error: kept".to_string(),
                "[3] Error at ';': Expect expression.".to_string(),
                "[7] Error at end: Expect '}' after block.".to_string(),
            ]
        );
        assert_eq!(
            e.runtime_errors,
            vec![(7, "Undefined variable 'x'.".to_string())]
        );
        assert_eq!(e.exit_code, 70);
        assert_eq!(e.stress_interval, Some(64));
        assert_eq!(
            e.flags,
            vec!["--gc-min-heap=64K".to_string(), "--gc-log".to_string()]
        );
    }

    #[test]
    fn nontest_files_are_skipped() {
        assert!(parse(b"// nontest\nprint 1;").is_none());
        assert_eq!(parse(b"").unwrap(), Expectations::default());
    }

    #[test]
    fn non_utf8_sources_still_parse() {
        let e = parse(b"print \"\xff\"; // expect: \xff\n").unwrap();
        assert_eq!(e.output[0].text, "\u{fffd}");
    }

    #[test]
    fn recognises_reported_errors_and_traces() {
        assert_eq!(
            reported_compile_error("[line 3] Error at 'x': Bad."),
            Some("[3] Error at 'x': Bad.".into())
        );
        assert_eq!(reported_compile_error("[line 3] Error"), None);
        assert_eq!(reported_compile_error("line 3] Error: x"), None);
        assert_eq!(trace_line("[line 12] in script"), Some(12));
        assert_eq!(trace_line("  [line 4] in foo()"), Some(4));
        assert_eq!(trace_line("[line x] in foo()"), None);
    }
}
