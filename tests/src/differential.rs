//! Differential runs: one program under the reference clox and under `lox` in every GC mode,
//! judged by what clox did. Owns the list of modes, the comparison rules and the byte mutations
//! that turn a valid program into compiler input.
//!
//! Rules: stdout must be the same bytes and the exit status the same. When both fail at run
//! time (70) the error message (first stderr line) must match, and the stack trace too unless
//! the error is a stack overflow (clox stops at 64 frames, lox much later). When both reject the
//! program (65) the compile errors must match line for line.

use crate::gen::choices::Choices;
use crate::gen::Program;
use crate::process::{lines, Exit, Outcome};

/// The `lox` flags of each mode a program runs in, for a program that asks for collections
/// every `stress` allocations in the stress modes.
pub fn modes(p: &Program) -> Vec<Vec<String>> {
    let stress = format!("--gc-stress={}", p.stress_interval);
    let small_heap = if p.allocs > 100_000 { "256K" } else { "64K" };
    let list: [&[&str]; 6] = [
        &["--gc", "stw"],
        &["--gc", "stw", &stress, "--gc-verify"],
        &["--gc", "concurrent", &stress, "--gc-verify"],
        &[
            "--gc",
            "concurrent",
            "--gc-fault",
            "thread",
            &stress,
            "--gc-verify",
        ],
        // No stress: collections come from growth past a small heap, as in a real run; two
        // marking threads stealing work from each other.
        &[
            "--gc",
            "concurrent",
            "--gc-min-heap",
            small_heap,
            "--gc-threads",
            "2",
            "--gc-verify",
        ],
        // The same without verification, whose pauses change the timing races depend on.
        &["--gc", "concurrent", "--gc-min-heap", small_heap],
    ];
    list.iter()
        .map(|m| m.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// Why `lox`'s run differs from `clox`'s; None when they agree.
pub fn compare(clox: &Outcome, lox: &Outcome) -> Option<String> {
    let code = |o: &Outcome| match o.exit {
        Exit::Code(c) => Ok(c),
        Exit::Signal(s) => Err(format!("killed by signal {s}")),
        Exit::TimedOut => Err(format!("timed out after {:.0} s", o.elapsed.as_secs_f64())),
    };
    let (want, got) = (code(clox), code(lox));
    let got = match got {
        Ok(c) => c,
        Err(why) => return Some(format!("lox {why}; first stderr line {:?}", first(lox))),
    };
    let want = want.unwrap_or(-1);
    if clox.stdout != lox.stdout {
        return Some(describe_stdout(&clox.stdout, &lox.stdout));
    }
    if want != got {
        return Some(format!(
            "exit status {got}, clox {want}; lox stderr {:?}",
            first(lox)
        ));
    }
    let (ce, le) = (lines(&clox.stderr), lines(&lox.stderr));
    match want {
        65 if ce != le => Some(format!("compile errors differ: clox {ce:?}, lox {le:?}")),
        70 if ce.first() != le.first() => Some(format!(
            "runtime error differs: clox {:?}, lox {:?}",
            ce.first(),
            le.first()
        )),
        70 if ce.first().is_some_and(|l| l != "Stack overflow.") && ce != le => {
            Some(format!("stack trace differs: clox {ce:?}, lox {le:?}"))
        }
        _ => None,
    }
}

fn first(o: &Outcome) -> String {
    lines(&o.stderr).into_iter().next().unwrap_or_default()
}

/// Where two outputs part, in a line.
fn describe_stdout(want: &[u8], got: &[u8]) -> String {
    let (w, g) = (lines(want), lines(got));
    let at = w.iter().zip(&g).take_while(|(a, b)| a == b).count();
    format!(
        "stdout differs at line {} (clox {} lines, lox {}): clox {:?}, lox {:?}",
        at + 1,
        w.len(),
        g.len(),
        w.get(at),
        g.get(at)
    )
}

/// Tokens a mutation may insert: a program's own vocabulary, so that mutants stay close to
/// something that parses and exercise the compiler's error paths deep inside it.
const TOKENS: &[&str] = &[
    "(", ")", "{", "}", ";", ",", ".", "+", "-", "*", "/", "!", "=", "==", "<", ">=", "\"", "and",
    "or", "class", "fun", "var", "for", "while", "if", "else", "return", "this", "super", "nil",
    "true", "print", "init", "1", "2.5", "x", "//", "\n", "\u{ff}",
];

/// A copy of `source` with a few byte-level changes: ranges deleted or duplicated, tokens and
/// raw bytes inserted. Never inserts NUL (clox reads the file as a C string and would stop
/// there, lox would not).
pub fn mutate(source: &[u8], ch: &mut Choices) -> Vec<u8> {
    let mut s = source.to_vec();
    for _ in 0..ch.range(1, 4) {
        let at = ch.below(s.len() as u64 + 1) as usize;
        match ch.below(5) {
            0 => {
                let end = (at + ch.range(1, 12) as usize).min(s.len());
                s.drain(at..end);
            }
            1 => {
                let end = (at + ch.range(1, 40) as usize).min(s.len());
                let piece = s[at..end].to_vec();
                let to = ch.below(s.len() as u64 + 1) as usize;
                s.splice(to..to, piece);
            }
            2 => {
                let t = ch.pick(TOKENS).as_bytes().to_vec();
                s.splice(at..at, t);
            }
            3 => {
                let b = ch.range(1, 255) as u8;
                if at < s.len() {
                    s[at] = b;
                } else {
                    s.push(b);
                }
            }
            _ => {
                let t = ch.pick(TOKENS).as_bytes().to_vec();
                let end = (at + t.len()).min(s.len());
                s.splice(at..end, t);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::tests::outcome;

    #[test]
    fn agreeing_runs_pass_and_differences_are_named() {
        let c = outcome("1\n2\n", "", 0);
        assert_eq!(compare(&c, &outcome("1\n2\n", "", 0)), None);
        assert!(compare(&c, &outcome("1\n3\n", "", 0))
            .unwrap()
            .contains("line 2"));
        assert!(compare(&c, &outcome("1\n2\n", "", 70))
            .unwrap()
            .contains("exit status 70"));
        let overflow = outcome("", "Stack overflow.\n[line 1] in f()\n", 70);
        let deeper = outcome(
            "",
            "Stack overflow.\n[line 1] in f()\n[line 1] in f()\n",
            70,
        );
        assert_eq!(compare(&overflow, &deeper), None);
        let trace = outcome("", "Bad.\n[line 2] in f()\n", 70);
        assert!(compare(&trace, &outcome("", "Bad.\n[line 3] in f()\n", 70)).is_some());
        let crash = Outcome {
            exit: Exit::Signal(11),
            ..outcome("", "", 0)
        };
        assert!(compare(&c, &crash).unwrap().contains("signal 11"));
    }

    #[test]
    fn mutants_differ_and_hold_no_nul() {
        let mut ch = Choices::from_seed(3);
        let src = b"print 1 + 2;\nvar x = \"s\";\n";
        let mut changed = 0;
        for _ in 0..200 {
            let m = mutate(src, &mut ch);
            assert!(!m.contains(&0));
            changed += usize::from(m != src);
        }
        assert!(changed > 150);
    }
}
