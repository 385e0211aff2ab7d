//! Inputs too large or too binary to keep as files: generated at run time, judged by code.
//!
//! Each case is about robustness: the VM must answer (a result or a compile error), never crash,
//! hang or overflow the native stack, whatever the bytes.

mod limits;

use crate::process::{lines, Exit, Outcome};

/// Nesting depth of the generated deep programs: far beyond any sane source, far beyond what a
/// recursive-descent compiler survives without a depth limit on a normal stack.
const DEPTH: usize = 100_000;

/// A generated test.
pub struct Generated {
    pub name: &'static str,
    pub source: Vec<u8>,
    pub judge: Judgement,
}

/// How a generated test is judged.
pub enum Judgement {
    /// By a function of the outcome.
    ByCode(fn(&Outcome) -> Vec<String>),
    /// By the corpus annotations in its own source, as a file under `tests/lox/` would be.
    Annotated,
}

/// Every generated case.
pub fn cases() -> Vec<Generated> {
    let mut deep_parens = b"print ".to_vec();
    deep_parens.extend(std::iter::repeat_n(b'(', DEPTH));
    deep_parens.push(b'1');
    deep_parens.extend(std::iter::repeat_n(b')', DEPTH));
    deep_parens.extend(b";\n");

    let mut deep_blocks = Vec::new();
    deep_blocks.extend(std::iter::repeat_n(b'{', DEPTH));
    deep_blocks.extend(b"print 1;");
    deep_blocks.extend(std::iter::repeat_n(b'}', DEPTH));
    deep_blocks.push(b'\n');

    let mut deep_not = b"print ".to_vec();
    deep_not.extend(std::iter::repeat_n(b'!', DEPTH));
    deep_not.extend(b"false;\n"); // an even count of '!' leaves false

    let mut deep_funs = Vec::new();
    for _ in 0..DEPTH / 10 {
        deep_funs.extend(b"fun f() {");
    }
    deep_funs.extend(b"print 1;");
    deep_funs.extend(std::iter::repeat_n(b'}', DEPTH / 10));
    deep_funs.push(b'\n');

    let mut deep_calls = b"fun f(x) { return x; }\nprint ".to_vec();
    for _ in 0..DEPTH {
        deep_calls.extend(b"f(");
    }
    deep_calls.push(b'1');
    deep_calls.extend(std::iter::repeat_n(b')', DEPTH));
    deep_calls.extend(b";\n");

    let mut big_literal = b"print \"".to_vec();
    big_literal.extend(std::iter::repeat_n(b"0123456789abcdef", 1 << 16).flatten());
    big_literal.extend(b"\";\n");

    // Moderate nesting that every implementation must accept, whatever its limit.
    const MODERATE: usize = 200;
    let mut moderate = b"print ".to_vec();
    moderate.extend(std::iter::repeat_n(b'(', MODERATE));
    moderate.push(b'1');
    moderate.extend(std::iter::repeat_n(b')', MODERATE));
    moderate.extend(b";\n");
    moderate.extend(std::iter::repeat_n(b'{', MODERATE));
    moderate.extend(b"print 2;");
    moderate.extend(std::iter::repeat_n(b'}', MODERATE));
    moderate.push(b'\n');
    for _ in 0..MODERATE / 4 {
        moderate.extend(b"fun f() { var x = 3; ");
    }
    moderate.extend(b"print x;");
    for _ in 0..MODERATE / 4 {
        moderate.extend(b" } f();");
    }
    moderate.push(b'\n');

    let by_code =
        |name: &'static str, source: Vec<u8>, judge: fn(&Outcome) -> Vec<String>| Generated {
            name,
            source,
            judge: Judgement::ByCode(judge),
        };
    let mut cases = vec![
        by_code("moderate_nesting.lox", moderate, |o| {
            expect_exact(o, 0, b"1\n2\n3\n")
        }),
        by_code("deep_parens.lox", deep_parens, result_or_compile_error_1),
        by_code("deep_blocks.lox", deep_blocks, result_or_compile_error_1),
        by_code("deep_not.lox", deep_not, result_or_compile_error_false),
        by_code(
            "deep_functions.lox",
            deep_funs,
            result_or_compile_error_empty,
        ),
        by_code("deep_calls.lox", deep_calls, nested_calls),
        by_code("big_literal.lox", big_literal, big_literal_printed),
        by_code(
            "non_utf8_string.lox",
            b"print \"\xff\xfe caf\xe9\";\nprint \"ok\";\n".to_vec(),
            raw_bytes_printed,
        ),
        by_code(
            "non_utf8_comment.lox",
            b"// caf\xe9 \xff\xfe\nprint 3; // \xc3\x28\n".to_vec(),
            |o| expect_exact(o, 0, b"3\n"),
        ),
        by_code(
            "non_utf8_code.lox",
            b"print 1;\n\xff\xfe\nprint 2;\n".to_vec(),
            unexpected_character_on_line_2,
        ),
    ];
    cases.extend(limits::cases());
    cases
}

fn crashed(o: &Outcome) -> Option<String> {
    match o.exit {
        Exit::Signal(s) => Some(format!("killed by signal {s}")),
        Exit::TimedOut => Some("timed out".into()),
        Exit::Code(_) => None,
    }
}

/// Either the program ran and printed `want`, or it was rejected with compile errors only.
fn result_or_compile_error(o: &Outcome, want: &[&str]) -> Vec<String> {
    if let Some(c) = crashed(o) {
        return vec![c];
    }
    let out = lines(&o.stdout);
    let err = lines(&o.stderr);
    match o.exit {
        Exit::Code(0) if out == want && err.is_empty() => vec![],
        Exit::Code(65)
            if out.is_empty()
                && !err.is_empty()
                && err.iter().all(|l| crate::expect::reported_compile_error(l).is_some()) =>
        {
            vec![]
        }
        _ => vec![format!(
            "expected output {want:?} (exit 0) or compile errors only (exit 65); got exit {:?}, stdout {:?}, stderr {:?}",
            o.exit,
            &out[..out.len().min(3)],
            &err[..err.len().min(3)]
        )],
    }
}

fn result_or_compile_error_1(o: &Outcome) -> Vec<String> {
    result_or_compile_error(o, &["1"])
}

fn result_or_compile_error_false(o: &Outcome) -> Vec<String> {
    result_or_compile_error(o, &["false"])
}

fn result_or_compile_error_empty(o: &Outcome) -> Vec<String> {
    // The innermost function is never called: a successful run prints nothing.
    result_or_compile_error(o, &[])
}

fn nested_calls(o: &Outcome) -> Vec<String> {
    // Every pending callee waits on the value stack, so a VM may also refuse at run time.
    let err = lines(&o.stderr);
    if o.exit == Exit::Code(70)
        && o.stdout.is_empty()
        && err.first().is_some_and(|l| l == "Stack overflow.")
    {
        return vec![];
    }
    result_or_compile_error(o, &["1"])
}

fn expect_exact(o: &Outcome, code: i32, stdout: &[u8]) -> Vec<String> {
    let mut fails: Vec<String> = crashed(o).into_iter().collect();
    if o.exit != Exit::Code(code) {
        fails.push(format!(
            "exit {:?}, expected {code}; stderr {:?}",
            o.exit,
            lines(&o.stderr)
        ));
    }
    if o.stdout != stdout {
        fails.push(format!(
            "stdout bytes {:?}, expected {:?}",
            String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(200)]),
            String::from_utf8_lossy(stdout)
        ));
    }
    fails
}

fn raw_bytes_printed(o: &Outcome) -> Vec<String> {
    // Strings are bytes: they go to stdout exactly as written in the source.
    expect_exact(o, 0, b"\xff\xfe caf\xe9\nok\n")
}

fn big_literal_printed(o: &Outcome) -> Vec<String> {
    let mut want: Vec<u8> = std::iter::repeat_n(b"0123456789abcdef", 1 << 16)
        .flatten()
        .copied()
        .collect();
    want.push(b'\n');
    expect_exact(o, 0, &want)
}

fn unexpected_character_on_line_2(o: &Outcome) -> Vec<String> {
    let mut fails: Vec<String> = crashed(o).into_iter().collect();
    if o.exit != Exit::Code(65) {
        fails.push(format!("exit {:?}, expected 65", o.exit));
    }
    if !o.stdout.is_empty() {
        fails.push("a program with a compile error printed output".into());
    }
    let err = lines(&o.stderr);
    let ok = !err.is_empty()
        && err.iter().all(|l| {
            crate::expect::reported_compile_error(l)
                .is_some_and(|e| e.starts_with("[2] Error") && e.contains("Unexpected character"))
        });
    if !ok {
        fails.push(format!(
            "expected only '[line 2] Error: Unexpected character.' errors, got {err:?}"
        ));
    }
    fails
}
