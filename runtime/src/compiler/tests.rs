//! Compiler tests: the shared conformance corpus (error parity with clox), constant
//! de-duplication and limits, the nesting guard, byte-level input, and bytecode shape.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{compile, CompileError, MAX_NESTING};
use crate::chunk::{Constant, Op, Proto};

fn shared_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/lox")
        .join(rel)
}

fn errors_of(src: &[u8]) -> Vec<String> {
    match compile(src) {
        Ok(_) => Vec::new(),
        Err(CompileError { errors }) => errors,
    }
}

fn lox_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            lox_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "lox") {
            out.push(path);
        }
    }
}

/// The compile errors a conformance file expects, as `[N] Error...`, read the way the shared
/// runner reads them: `// Error...` names its own line, `// [line N] Error...` and
/// `// [c line N] Error...` name line N, `// [java line N]` is for the other implementation.
/// `None` for files marked `// nontest`.
fn expected_errors(text: &str) -> Option<BTreeSet<String>> {
    let mut want = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.contains("// nontest") {
            return None;
        }
        if let Some(at) = line.find("// Error") {
            want.insert(format!("[{}] {}", i + 1, &line[at + 3..]));
        }
        if let Some(at) = line.find("// [") {
            let rest = &line[at + 4..];
            let rest = rest.strip_prefix("c ").unwrap_or(rest);
            if let Some(rest) = rest.strip_prefix("line ") {
                if let Some((num, msg)) = rest.split_once("] ") {
                    if msg.starts_with("Error") && num.bytes().all(|b| b.is_ascii_digit()) {
                        want.insert(format!("[{num}] {msg}"));
                    }
                }
            }
        }
    }
    Some(want)
}

/// `[line N] Error...` as `[N] Error...`.
fn normalise(error: &str) -> String {
    error.replacen("[line ", "[", 1)
}

#[test]
fn conformance_corpus_errors_match_clox() {
    let root = shared_dir("conformance");
    let mut files = Vec::new();
    lox_files(&root, &mut files);
    if files.is_empty() {
        return; // The shared corpus is not available here.
    }
    files.sort();
    let mut failures = Vec::new();
    let mut with_errors = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("readable test file");
        let Some(want) = expected_errors(&String::from_utf8_lossy(&bytes)) else {
            continue;
        };
        if !want.is_empty() {
            with_errors += 1;
        }
        let got: BTreeSet<String> = errors_of(&bytes).iter().map(|e| normalise(e)).collect();
        if got != want {
            failures.push(format!(
                "{}:\n  want {want:?}\n  got  {got:?}",
                path.display()
            ));
        }
    }
    assert!(
        with_errors > 40,
        "only {with_errors} files expect compile errors"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_benchmark_compiles() {
    let mut files = Vec::new();
    lox_files(&shared_dir("benchmark"), &mut files);
    for path in files {
        let bytes = std::fs::read(&path).expect("readable benchmark");
        if let Err(e) = compile(&bytes) {
            panic!("{}: {e}", path.display());
        }
    }
}

/// Every prototype in the tree, depth first.
fn all_protos(proto: &Proto) -> Vec<&Proto> {
    let mut out = vec![proto];
    for c in &proto.constants {
        if let Constant::Function(inner) = c {
            out.extend(all_protos(inner));
        }
    }
    out
}

#[test]
fn string_constants_are_shared_by_content() {
    let path = shared_dir("benchmark/string_equality.lox");
    if let Ok(bytes) = std::fs::read(&path) {
        let proto = compile(&bytes).expect("string_equality.lox compiles with de-duplication");
        assert!(proto.constants.len() <= 256);
    }
    // 300 uses of 10 names and 10 literals fit easily once shared.
    let mut src = String::new();
    for i in 0..300 {
        src.push_str(&format!(
            "var v{} = \"s{}\"; print v{};\n",
            i % 10,
            i % 10,
            i % 10
        ));
    }
    let proto = compile(src.as_bytes()).expect("compiles");
    let strings = proto
        .constants
        .iter()
        .filter(|c| matches!(c, Constant::String(_)))
        .count();
    assert_eq!(strings, 20);
    // The same text as a name and as a literal is one constant.
    let proto = compile(b"var a = \"a\";").expect("compiles");
    assert_eq!(proto.constants, vec![Constant::String(b"a"[..].into())]);
}

#[test]
fn too_many_constants_is_reported() {
    // Numbers are not shared: 257 copies of one number overflow the chunk.
    let src = "1;\n".repeat(257);
    assert_eq!(
        errors_of(src.as_bytes()),
        vec!["[line 257] Error at '1': Too many constants in one chunk."]
    );
    // 257 distinct strings do too; 256 fit.
    let fits: String = (0..256).map(|i| format!("\"{i}\";")).collect();
    assert!(compile(fits.as_bytes()).is_ok());
    let over = format!("{fits}\n\"x\";");
    assert_eq!(
        errors_of(over.as_bytes()),
        vec!["[line 2] Error at '\"x\"': Too many constants in one chunk."]
    );
    // A string already present is still usable in a full chunk.
    let reuse = format!("{fits}\n\"7\";");
    assert!(compile(reuse.as_bytes()).is_ok());
}

#[test]
fn jump_and_loop_limits() {
    let body = "a = a;".repeat(22_000); // 5 bytes each: GetGlobal, SetGlobal, Pop.
    let errs = errors_of(format!("var a;\nif (a) {{\n{body}\n}}").as_bytes());
    assert_eq!(
        errs,
        vec!["[line 4] Error at '}': Too much code to jump over."]
    );
    let errs = errors_of(format!("var a;\nwhile (a) {{\n{body}\n}}").as_bytes());
    assert!(
        errs.contains(&"[line 4] Error at '}': Loop body too large.".to_owned()),
        "{errs:?}"
    );
}

#[test]
fn error_messages_and_recovery() {
    let cases: &[(&str, &[&str])] = &[
        (
            "print 1",
            &["[line 1] Error at end: Expect ';' after value."],
        ),
        (
            "1 + 2 = 3;",
            &["[line 1] Error at '=': Invalid assignment target."],
        ),
        (
            "{ var a = a; }",
            &["[line 1] Error at 'a': Can't read local variable in its own initializer."],
        ),
        (
            "{ var a; var a; }",
            &["[line 1] Error at 'a': Already a variable with this name in this scope."],
        ),
        (
            "return 1;",
            &["[line 1] Error at 'return': Can't return from top-level code."],
        ),
        (
            "class A { init() { return 1; } }",
            &["[line 1] Error at 'return': Can't return a value from an initializer."],
        ),
        (
            "this;",
            &["[line 1] Error at 'this': Can't use 'this' outside of a class."],
        ),
        (
            "super.x;",
            &["[line 1] Error at 'super': Can't use 'super' outside of a class."],
        ),
        (
            "class A { f() { super.f(); } }",
            &["[line 1] Error at 'super': Can't use 'super' in a class with no superclass."],
        ),
        (
            "class A < A {}",
            &["[line 1] Error at 'A': A class can't inherit from itself."],
        ),
        ("\"abc", &["[line 1] Error: Unterminated string."]),
        ("var x = @;", &["[line 1] Error: Unexpected character."]),
        // Panic mode: one error per statement, then resynchronise at the next one.
        (
            "print 1 print 2;\nvar = 3;\nfun f( {}\nprint 4;",
            &[
                "[line 1] Error at 'print': Expect ';' after value.",
                "[line 2] Error at '=': Expect variable name.",
                "[line 3] Error at '{': Expect parameter name.",
            ],
        ),
        ("(", &["[line 1] Error at end: Expect expression."]),
        (
            "a.;",
            &["[line 1] Error at ';': Expect property name after '.'."],
        ),
        ("{ 1;", &["[line 1] Error at end: Expect '}' after block."]),
    ];
    for (src, want) in cases {
        assert_eq!(errors_of(src.as_bytes()), *want, "source: {src}");
    }
}

#[test]
fn parameter_and_argument_limits() {
    let params: Vec<String> = (0..256).map(|i| format!("p{i}")).collect();
    let src = format!("fun f({}) {{}}", params.join(", "));
    assert_eq!(
        errors_of(src.as_bytes()),
        vec!["[line 1] Error at 'p255': Can't have more than 255 parameters."]
    );
    let ok = format!("fun f({}) {{}}", params[..255].join(", "));
    let proto = compile(ok.as_bytes()).expect("255 parameters are fine");
    let f = all_protos(&proto)[1];
    assert_eq!(f.arity, 255);

    let args = vec!["a"; 256].join(",");
    assert!(compile(format!("f({});", vec!["nil"; 255].join(",")).as_bytes()).is_ok());
    let errs = errors_of(format!("f({args});").as_bytes());
    assert_eq!(
        errs,
        vec!["[line 1] Error at 'a': Can't have more than 255 arguments."]
    );
}

#[test]
fn locals_and_upvalues_limits() {
    let mut src = String::from("fun f() {\n");
    for i in 1..256 {
        src.push_str(&format!("var v{i};\n"));
    }
    assert!(compile(format!("{src}}}").as_bytes()).is_ok());
    src.push_str("var oops;\n}");
    assert_eq!(
        errors_of(src.as_bytes()),
        vec!["[line 257] Error at 'oops': Too many local variables in function."]
    );
}

/// Nested calls holding `levels` pending calls of a 254-argument `f`, the innermost a call of
/// `g` with `last` arguments, each call on a line of its own, inside `fun outer()` when
/// `in_function`. The deepest stack: slot 0, 255 slots per level, `g` and its arguments.
fn deep_stack(levels: usize, last: usize, in_function: bool) -> String {
    let mut s = String::new();
    if in_function {
        s.push_str(
            "fun outer() {
",
        );
    }
    s.push_str(
        "print
",
    );
    for _ in 0..levels {
        s.push_str(&format!(
            "f({}
",
            "a, ".repeat(254)
        ));
    }
    s.push_str(&format!(
        "g({}){};
",
        vec!["a"; last].join(", "),
        ")".repeat(levels)
    ));
    if in_function {
        s.push_str("}\n");
    }
    s
}

#[test]
fn stack_slot_limit_is_reported_with_a_line() {
    // 1 + 128 * 255 + 1 + 125 = 32,767 slots: the most a function may use.
    for in_function in [false, true] {
        let ok = deep_stack(128, 125, in_function);
        assert!(compile(ok.as_bytes()).is_ok(), "in function: {in_function}");
        let over = deep_stack(128, 126, in_function);
        // The line of `g`'s call, the last of the calls: the 126th argument is one too many.
        let line = 128 + 2 + usize::from(in_function);
        assert_eq!(
            errors_of(over.as_bytes()),
            vec![format!(
                "[line {line}] Error: Function or expression needs more than 32767 stack slots."
            )],
            "in function: {in_function}"
        );
    }
    // Earlier errors come first and suppress the check: the code after them is incomplete.
    let over = format!("print ;\n{}", deep_stack(128, 126, false));
    assert_eq!(
        errors_of(over.as_bytes()),
        vec!["[line 1] Error at ';': Expect expression."]
    );
}

/// Whether a `Proto::upvalue_count`-typed field can hold 256.
fn holds_256<T: TryFrom<usize>>(_: &T) -> bool {
    T::try_from(256).is_ok()
}

#[test]
fn exactly_256_upvalues() {
    // Two enclosing functions of 128 locals each (slot 0 included); the innermost captures all.
    let mut src = String::from("fun f() {\n");
    let mut names = Vec::new();
    for i in 1..128 {
        src.push_str(&format!("var a{i};\n"));
        names.push(format!("a{i}"));
    }
    src.push_str("fun g() {\n");
    for i in 0..129 {
        src.push_str(&format!("var b{i};\n"));
        names.push(format!("b{i}"));
    }
    src.push_str("fun h() {\n");
    for n in &names {
        src.push_str(&format!("{n};\n"));
    }
    src.push_str("}\n}\n}\n");
    assert_eq!(names.len(), 256);
    match compile(src.as_bytes()) {
        Ok(proto) => {
            let protos = all_protos(&proto);
            let h = protos
                .iter()
                .find(|p| p.name.as_deref() == Some(&b"h"[..]))
                .expect("function h");
            assert!(holds_256(&h.upvalue_count));
            assert_eq!(h.upvalue_count.to_string(), "256");
        }
        Err(e) => {
            // clox accepts this; only a narrow `upvalue_count` forces an error.
            assert!(!holds_256(&Proto::default().upvalue_count));
            // Reported at the brace closing `h`, the third line from the end.
            let line = src.lines().count() - 2;
            assert_eq!(
                e.errors,
                vec![format!(
                    "[line {line}] Error at '}}': Too many closure variables in function."
                )]
            );
        }
    }
}

#[test]
fn initializers_return_this() {
    let proto = compile(b"class A { init() { return; } }").expect("compiles");
    let init = all_protos(&proto)[1];
    let get0_ret = [Op::GetLocal as u8, 0, Op::Return as u8];
    // Both the explicit `return;` and the implicit end return the receiver.
    assert_eq!(init.code, [get0_ret, get0_ret].concat());
    assert_eq!(init.name.as_deref(), Some(&b"init"[..]));
}

#[test]
fn lines_cover_every_byte() {
    let src = b"var a = 1;\nfun f(x) {\n  return x +\n    a;\n}\nclass B < A { m() { super.m(); } }\nprint f(2);";
    let proto = compile(src).expect("compiles");
    for p in all_protos(&proto) {
        assert_eq!(p.code.len(), p.lines.len());
        assert!(p.lines.iter().all(|&l| (1..=7).contains(&l)));
    }
    let f = all_protos(&proto)[1];
    // `a` (line 4) is read after `x` (line 3): GetLocal 1, GetGlobal a, Add.
    assert_eq!(f.lines[..5], [3, 3, 4, 4, 4]);
}

#[test]
fn empty_and_comment_only_input() {
    for src in [&b""[..], b"// nothing", b"\n\n\n", b"\0print 1"] {
        let proto = compile(src).expect("compiles");
        assert_eq!(proto.code, [Op::Nil as u8, Op::Return as u8]);
        assert_eq!(proto.name, None);
    }
}

#[test]
fn non_utf8_input() {
    let proto = compile(b"print \"\xff\xfe caf\xc3\xa9\";").expect("raw bytes in strings");
    assert_eq!(
        proto.constants,
        vec![Constant::String(b"\xff\xfe caf\xc3\xa9"[..].into())]
    );
    assert_eq!(
        errors_of(b"print \xe9t\xe9;"),
        vec!["[line 1] Error: Unexpected character."]
    );
    // A lexeme that is not UTF-8 is shown lossily.
    assert_eq!(
        errors_of(b"print 1 \"\xff\";"),
        vec!["[line 1] Error at '\"\u{fffd}\"': Expect ';' after value."]
    );
}

#[test]
fn huge_literals_and_identifiers() {
    let digits = "9".repeat(400);
    let proto = compile(format!("print {digits};").as_bytes()).expect("compiles");
    assert_eq!(proto.constants, vec![Constant::Number(f64::INFINITY)]);
    let name = "x".repeat(1_000_000);
    let proto = compile(format!("var {name} = 1; print {name};").as_bytes()).expect("compiles");
    assert_eq!(proto.constants.len(), 2);
    let text = "y".repeat(1_000_000);
    assert!(compile(format!("print \"{text}\";").as_bytes()).is_ok());
}

/// Runs `f` on a thread with a 2 MiB stack: a quarter of the 8 MiB main-thread stack the
/// compiler must be safe on.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic")
}

/// Nested forms: `pre`, then `open` N times, `core`, `close` N times, `post`.
type Form = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const NESTED_FORMS: &[Form] = &[
    ("print ", "(", "a", ")", ";"),
    ("print ", "-", "a", "", ";"),
    ("print ", "!", "a", "", ";"),
    ("", "a = ", "a", "", ";"),
    ("print ", "a or ", "a", "", ";"),
    ("print ", "a and ", "a", "", ";"),
    ("print ", "f(", "a", ")", ";"),
    ("print ", "a.b(", "a", ")", ";"),
    ("", "{", "", "}", ""),
    ("", "if (a) ", "print a;", "", ""),
    ("", "if (a) a; else ", "print a;", "", ""),
    ("", "while (a) ", "print a;", "", ""),
    ("", "for (;;) ", "print a;", "", ""),
    ("", "fun f() {", "", "}", ""),
    ("", "class A { m() {", "", "} }", ""),
    ("class A < B { m() { return ", "super.m(", "a", ")", "; } }"),
];

fn nested(form: Form, depth: usize) -> String {
    let (pre, open, core, close, post) = form;
    let mut s = String::with_capacity(depth * (open.len() + close.len()) + 64);
    s.push_str(pre);
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str(core);
    for _ in 0..depth {
        s.push_str(close);
    }
    s.push_str(post);
    s
}

#[test]
fn nesting_limit_accepts_deep_programs_on_a_small_stack() {
    // Just below the limit every form compiles (each repetition costs one level, plus a few
    // for the surrounding statement), using at most a 2 MiB stack even in debug builds.
    on_small_stack(|| {
        for &form in NESTED_FORMS {
            let depth = MAX_NESTING as usize - 4;
            let src = nested(form, depth);
            if let Err(e) = compile(src.as_bytes()) {
                panic!("{form:?} at depth {depth}: {e}");
            }
        }
    });
}

#[test]
fn nesting_limit_rejects_too_deep_programs() {
    on_small_stack(|| {
        for &form in NESTED_FORMS {
            for depth in [MAX_NESTING as usize + 1, 1_000_000] {
                let src = nested(form, depth);
                let errs = errors_of(src.as_bytes());
                assert_eq!(errs.len(), 1, "{form:?} at {depth}: {errs:?}");
                assert!(
                    errs[0].ends_with(": Too deeply nested."),
                    "{form:?}: {errs:?}"
                );
            }
        }
    });
    assert_eq!(
        errors_of("(".repeat(1_000_000).as_bytes()),
        vec!["[line 1] Error at '(': Too deeply nested."]
    );
    // Blame falls on the construct that would go one level too deep: a statement's first
    // token, an expression's first token, a function's name.
    assert_eq!(
        errors_of("{\n".repeat(1_000_000).as_bytes()),
        vec![format!(
            "[line {}] Error at '{{': Too deeply nested.",
            MAX_NESTING + 1
        )]
    );
    assert_eq!(
        errors_of(
            "fun f() {\nfun g() {\n"
                .repeat(MAX_NESTING as usize)
                .as_bytes()
        ),
        vec![format!(
            "[line {}] Error at 'f': Too deeply nested.",
            MAX_NESTING + 1
        )]
    );
}

#[test]
fn nesting_limit_at_the_edge() {
    // `print` + N parentheses: each parenthesis costs one level, plus the statement and the
    // outermost expression.
    let ok = MAX_NESTING as usize - 2;
    let src = format!("print {}1{};", "(".repeat(ok), ")".repeat(ok));
    assert!(compile(src.as_bytes()).is_ok());
    let src = format!("print {}1{};", "(".repeat(ok + 1), ")".repeat(ok + 1));
    assert_eq!(
        errors_of(src.as_bytes()),
        vec!["[line 1] Error at '1': Too deeply nested."]
    );
}

#[test]
fn errors_before_the_limit_are_kept() {
    let src = format!("print this;\nprint {};", "(".repeat(1_000_000));
    assert_eq!(
        errors_of(src.as_bytes()),
        vec![
            "[line 1] Error at 'this': Can't use 'this' outside of a class.",
            "[line 2] Error at '(': Too deeply nested."
        ]
    );
}

#[test]
fn long_flat_programs_do_not_nest() {
    // Left-associative chains and statement sequences are iterative, not recursive.
    let chain = vec!["a"; 100_000].join(" + ");
    assert!(compile(format!("print {chain};").as_bytes()).is_ok());
    let calls = "f".to_owned() + &"()".repeat(100_000) + ";";
    assert!(compile(calls.as_bytes()).is_ok());
    let props = "a".to_owned() + &".b".repeat(100_000) + ";";
    assert!(compile(props.as_bytes()).is_ok());
    let stmts = "print a;\n".repeat(100_000);
    assert!(compile(stmts.as_bytes()).is_ok());
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A small deterministic fuzz: random token soup and random bytes.
    let pieces: &[&str] = &[
        "(", ")", "{", "}", ";", ",", ".", "-", "+", "/", "*", "!", "!=", "=", "==", "<", "<=",
        ">", ">=", "a", "b", "\"s\"", "1", "2.5", "and", "class", "else", "false", "for", "fun",
        "if", "nil", "or", "print", "return", "super", "this", "true", "var", "while", "init",
        "\n", "\"", "@", "\u{e9}",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let len = (next() % 60) as usize;
        let mut src = Vec::new();
        for _ in 0..len {
            if next() % 10 == 0 {
                src.push((next() % 256) as u8);
            } else {
                src.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize].as_bytes());
                src.push(b' ');
            }
        }
        match compile(&src) {
            Ok(proto) => {
                for p in all_protos(&proto) {
                    assert_eq!(p.code.len(), p.lines.len());
                    assert!(p.constants.len() <= 256);
                }
            }
            Err(e) => assert!(!e.errors.is_empty()),
        }
    }
}
