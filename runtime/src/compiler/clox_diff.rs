//! Differential test against the reference clox (run with `--ignored`; needs gcc and the
//! shared reference sources). It builds a compile-only clox that prints its bytecode listing
//! (`DEBUG_PRINT_CODE`), then compiles the conformance corpus, the benchmarks and a few
//! thousand generated programs with both compilers and requires the same error lines and,
//! for programs without errors, the same listings up to constant indices (which differ
//! because this compiler shares string constants).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::compile;
use crate::disasm::disassemble;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/clox")
}

/// Builds the compile-only, listing-printing clox in `dir`; `None` if that is impossible here.
fn build_clox(dir: &Path) -> Option<PathBuf> {
    let src = reference_dir();
    let entries = std::fs::read_dir(&src).ok()?;
    std::fs::create_dir_all(dir).ok()?;
    let mut sources = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name()?.to_string_lossy().into_owned();
        if !(name.ends_with(".c") || name.ends_with(".h")) {
            continue;
        }
        let mut text = std::fs::read_to_string(&path).ok()?;
        if name == "common.h" {
            text = text.replace("#undef DEBUG_PRINT_CODE\n", "");
        }
        if name == "vm.c" {
            let stop = "if (function == NULL) return INTERPRET_COMPILE_ERROR;";
            assert!(text.contains(stop), "vm.c changed shape");
            text = text.replace(stop, &format!("{stop}\n  return INTERPRET_OK;"));
        }
        let out = dir.join(&name);
        std::fs::write(&out, text).ok()?;
        if name.ends_with(".c") {
            sources.push(out);
        }
    }
    let exe = dir.join("clox-listing");
    let status = Command::new("gcc")
        .args(["-O1", "-std=c99", "-w", "-o"])
        .arg(&exe)
        .args(&sources)
        .status()
        .ok()?;
    status.success().then_some(exe)
}

/// Drops the constant-index operand from a listing line, keeping the constant's text.
fn normalise_line(line: &str) -> String {
    const WITH_CONSTANT: &[&str] = &[
        "OP_CONSTANT",
        "OP_GET_GLOBAL",
        "OP_DEFINE_GLOBAL",
        "OP_SET_GLOBAL",
        "OP_GET_PROPERTY",
        "OP_SET_PROPERTY",
        "OP_GET_SUPER",
        "OP_CLASS",
        "OP_METHOD",
        "OP_CLOSURE",
        "OP_INVOKE",
        "OP_SUPER_INVOKE",
    ];
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some(op_at) = words.iter().position(|w| w.starts_with("OP_")) else {
        return words.join(" ");
    };
    if !WITH_CONSTANT.contains(&words[op_at]) {
        return words.join(" ");
    }
    // The index is the first all-digit word after the opcode and its `(N args)`.
    let mut out: Vec<&str> = words[..=op_at].to_vec();
    let mut dropped = false;
    for w in &words[op_at + 1..] {
        if !dropped && w.bytes().all(|b| b.is_ascii_digit()) {
            dropped = true;
            continue;
        }
        out.push(w);
    }
    out.join(" ")
}

fn normalise(listing: &str) -> Vec<String> {
    listing.lines().map(normalise_line).collect()
}

/// Generated programs: token soup (error recovery) and small well-formed programs.
fn generated_programs() -> Vec<Vec<u8>> {
    let soup: &[&str] = &[
        "(", ")", "{", "}", ";", ",", ".", "-", "+", "/", "*", "!", "!=", "=", "==", "<", "<=",
        ">", ">=", "a", "b", "\"s\"", "1", "2.5", "and", "class", "else", "false", "for", "fun",
        "if", "nil", "or", "print", "return", "super", "this", "true", "var", "while", "init",
        "\n", "@",
    ];
    let shapes: &[&str] = &[
        "var a = 1; { var b = a; fun f(x) { return b + x; } print f(2); }",
        "fun outer() { var x = 1; fun mid() { fun inner() { x = x + 1; return x; } return inner; } return mid; }",
        "class A { init(x) { this.x = x; } get() { return this.x; } } class B < A { init() { super.init(3); } get() { return super.get() * 2; } } print B().get();",
        "for (var i = 0; i < 3; i = i + 1) { var j = i; fun g() { return j; } print g(); }",
        "var s = \"x\"; while (s != \"xxx\") s = s + \"x\"; if (s == \"xxx\" and !false or nil) print s; else print 0;",
        "fun f() { var a; var b; { var c = a; { var d = c; fun g() { return d + a; } } } return; }",
        "class C { m() { fun h() { return this; } return h; } } print C().m()().m;",
        "var a; a = 1; a.b = 2; a.b.c = 3; print a.b(1, 2).c; print -(-a) <= 3 >= 4 == 5;",
        "class D < C { n() { var s = super.m; return s; } }",
        "fun r(n) { if (n < 2) return n; return r(n - 1) + r(n - 2); } print r(10);",
    ];
    let mut out: Vec<Vec<u8>> = shapes.iter().map(|s| s.as_bytes().to_vec()).collect();
    // Jumps just over the 16-bit limit, with locals so that clox's unshared constants do not
    // run out first.
    let body = "a = a;".repeat(14_000);
    out.push(format!("fun f() {{\nvar a;\nif (a) {{\n{body}\n}}\n}}").into_bytes());
    out.push(format!("fun f() {{\nvar a;\nif (a) a; else {{\n{body}\n}}\n}}").into_bytes());
    out.push(format!("fun f() {{\nvar a;\nwhile (a) {{\n{body}\n}}\n}}").into_bytes());
    out.push(format!("fun f() {{\nfor (var a; a; a = a) {{\n{body}\n}}\n}}").into_bytes());
    let sum = "a + ".repeat(30_000);
    out.push(format!("fun f() {{\nvar a;\na and ({sum}a);\na or ({sum}a);\n}}").into_bytes());
    let small = "a = a;".repeat(13_000);
    out.push(format!("fun f() {{\nvar a;\nwhile (a) {{\n{small}\n}}\n}}").into_bytes());
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // LOX_DIFF_CASES=N runs N of each kind instead of 1500.
    let cases: usize = std::env::var("LOX_DIFF_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1500);
    for _ in 0..cases {
        let len = (next() % 40) as usize;
        let mut src = Vec::new();
        for _ in 0..len {
            src.extend_from_slice(soup[(next() % soup.len() as u64) as usize].as_bytes());
            src.push(b' ');
        }
        out.push(src);
    }
    // Mutations of the well-formed shapes: drop or duplicate one token-ish byte range.
    for _ in 0..cases {
        let base = shapes[(next() % shapes.len() as u64) as usize].as_bytes();
        let at = (next() % base.len() as u64) as usize;
        let len = 1 + (next() % 4) as usize;
        let mut src = base[..at].to_vec();
        if next() % 2 == 0 {
            src.extend_from_slice(&base[(at + len).min(base.len())..]);
        } else {
            src.extend_from_slice(&base[at..(at + len).min(base.len())]);
            src.extend_from_slice(&base[at..]);
        }
        out.push(src);
    }
    let mut gen = ProgramGen {
        seed: 0x9e37_79b9_7f4a_7c15,
        in_function: 0,
        in_class: 0,
    };
    for _ in 0..cases {
        let n = 1 + gen.next() % 6;
        let program: Vec<String> = (0..n).map(|_| gen.stmt(0)).collect();
        out.push(program.join("\n").into_bytes());
    }
    out
}

/// A random generator of mostly well-formed programs: nested scopes, shadowing, closures,
/// classes with `this`/`super`, loops and returns, over a small pool of names so that locals,
/// upvalues and globals collide often.
struct ProgramGen {
    seed: u64,
    /// Nesting of functions and of classes around the code being generated: `return`,
    /// `this` and `super` mostly appear where they are valid.
    in_function: u32,
    in_class: u32,
}

impl ProgramGen {
    fn next(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn name(&mut self) -> &'static str {
        self.pick(&["a", "b", "c", "x", "y", "init", "m", "A", "B"])
    }

    fn args(&mut self, depth: u32) -> String {
        let n = self.next() % 4;
        (0..n)
            .map(|_| self.expr(depth + 1))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn expr(&mut self, depth: u32) -> String {
        let leaf = depth > 3 || self.next().is_multiple_of(3);
        if leaf {
            return match self.next() % 9 {
                0 => format!("{}", self.next() % 100),
                1 => format!("{}.5", self.next() % 10),
                2 => format!("\"s{}\"", self.next() % 5),
                3 => self.pick(&["nil", "true", "false"]).to_owned(),
                4 if self.valid_or_rarely(self.in_class) => "this".to_owned(),
                5 if self.valid_or_rarely(self.in_class) => format!("super.{}", self.name()),
                _ => self.name().to_owned(),
            };
        }
        let d = depth + 1;
        match self.next() % 12 {
            0 => format!("({})", self.expr(d)),
            1 => format!("{}{}", self.pick(&["-", "!"]), self.expr(d)),
            2 | 3 => {
                let op = self.pick(&[
                    "+", "-", "*", "/", "==", "!=", "<", "<=", ">", ">=", "and", "or",
                ]);
                format!("{} {op} {}", self.expr(d), self.expr(d))
            }
            4 => format!("{} = {}", self.name(), self.expr(d)),
            5 => format!("{}({})", self.expr(d), self.args(d)),
            6 => format!("{}.{}", self.expr(d), self.name()),
            7 => format!("{}.{} = {}", self.expr(d), self.name(), self.expr(d)),
            8 => format!("{}.{}({})", self.expr(d), self.name(), self.args(d)),
            9 if self.valid_or_rarely(self.in_class) => {
                format!("super.{}({})", self.name(), self.args(d))
            }
            _ => self.name().to_owned(),
        }
    }

    fn block(&mut self, depth: u32) -> String {
        let n = self.next() % 4;
        let body: Vec<String> = (0..n).map(|_| self.stmt(depth + 1)).collect();
        format!("{{ {} }}", body.join(" "))
    }

    /// True where the construct is valid (`context` > 0), else once in 50 tries.
    fn valid_or_rarely(&mut self, context: u32) -> bool {
        context > 0 || self.next().is_multiple_of(50)
    }

    fn function(&mut self, depth: u32) -> String {
        let params: Vec<&str> = (0..self.next() % 3).map(|_| self.name()).collect();
        self.in_function += 1;
        let text = format!(
            "{}({}) {}",
            self.name(),
            params.join(", "),
            self.block(depth)
        );
        self.in_function -= 1;
        text
    }

    fn stmt(&mut self, depth: u32) -> String {
        let d = depth + 1;
        if depth > 4 {
            return format!("print {};", self.expr(d));
        }
        match self.next() % 13 {
            0 => format!("print {};", self.expr(d)),
            1 => format!("{};", self.expr(d)),
            2 => format!("var {} = {};", self.name(), self.expr(d)),
            3 => format!("var {};", self.name()),
            4 => self.block(d),
            5 => format!(
                "if ({}) {} else {}",
                self.expr(d),
                self.stmt(d),
                self.stmt(d)
            ),
            6 => format!("if ({}) {}", self.expr(d), self.stmt(d)),
            7 => format!("while ({}) {}", self.expr(d), self.stmt(d)),
            8 => {
                let init = match self.next() % 3 {
                    0 => ";".to_owned(),
                    1 => format!("var {} = {};", self.name(), self.expr(d)),
                    _ => format!("{};", self.expr(d)),
                };
                let cond = if self.next().is_multiple_of(2) {
                    self.expr(d)
                } else {
                    String::new()
                };
                let inc = if self.next().is_multiple_of(2) {
                    self.expr(d)
                } else {
                    String::new()
                };
                format!("for ({init} {cond}; {inc}) {}", self.stmt(d))
            }
            9 => format!("fun {}", self.function(d)),
            10 => {
                let sup = if self.next().is_multiple_of(2) {
                    format!(" < {}", self.name())
                } else {
                    String::new()
                };
                self.in_class += 1;
                let methods: Vec<String> = (0..self.next() % 3).map(|_| self.function(d)).collect();
                self.in_class -= 1;
                format!("class {}{sup} {{ {} }}", self.name(), methods.join(" "))
            }
            11 if self.valid_or_rarely(self.in_function) => format!("return {};", self.expr(d)),
            12 if self.valid_or_rarely(self.in_function) => "return;".to_owned(),
            _ => format!("print {};", self.expr(d)),
        }
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

#[test]
#[ignore = "builds the reference clox with gcc; run with --ignored"]
fn same_errors_and_bytecode_as_clox() {
    let work = std::env::temp_dir().join(format!("lox-clox-diff-{}", std::process::id()));
    let Some(clox) = build_clox(&work) else {
        eprintln!("skipped: cannot build the reference clox here");
        return;
    };
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut files = Vec::new();
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lox");
    lox_files(&shared.join("conformance"), &mut files);
    lox_files(&shared.join("benchmark"), &mut files);
    files.sort();
    for f in files {
        if let Ok(bytes) = std::fs::read(&f) {
            inputs.push((f.display().to_string(), bytes));
        }
    }
    for (i, p) in generated_programs().into_iter().enumerate() {
        inputs.push((format!("generated #{i}"), p));
    }

    let file = work.join("input.lox");
    let mut failures = Vec::new();
    let mut compared_listings = 0;
    for (name, bytes) in &inputs {
        std::fs::write(&file, bytes).expect("write input");
        let run = Command::new(&clox).arg(&file).output().expect("run clox");
        let want_errors: Vec<String> = String::from_utf8_lossy(&run.stderr)
            .lines()
            .map(str::to_owned)
            .collect();
        let (got_errors, listing) = match compile(bytes) {
            Ok(proto) => (Vec::new(), Some(disassemble(&proto))),
            Err(e) => (e.errors, None),
        };
        // Sharing string constants is a deliberate difference: clox may run out where we do not.
        if want_errors
            .iter()
            .any(|e| e.ends_with("Too many constants in one chunk."))
        {
            continue;
        }
        if got_errors != want_errors {
            failures.push(format!(
                "{name}: errors differ\n want {want_errors:?}\n got  {got_errors:?}"
            ));
            continue;
        }
        if let Some(listing) = listing {
            let want = normalise(&String::from_utf8_lossy(&run.stdout));
            let got = normalise(&listing);
            if want != got {
                let at = want.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(0);
                failures.push(format!(
                    "{name}: listings differ at line {at}\n want {:?}\n got  {:?}",
                    want.get(at),
                    got.get(at)
                ));
            }
            compared_listings += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    eprintln!(
        "{} inputs, {compared_listings} listings compared",
        inputs.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
