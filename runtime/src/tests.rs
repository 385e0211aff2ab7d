//! Whole-VM tests through the embedding API, with captured output: programs, runtime errors
//! and traces, the REPL's persistent globals, natives, out-of-memory, and the same programs
//! under a collection at every allocation (with the collector's verifier on) so that any value
//! read through a stale pointer after an object moved shows up as wrong output or a failed
//! verification.

mod barrier;
mod limits;
mod locking;
mod output;
mod threads;
mod upvalues;

use crate::api::{HostValue, InterpretError, Vm, VmOptions};
use crate::captured::Captured;
use crate::object::Obj;
use crate::table;
use gc::{FaultMode, GcMode, HeapConfig, MutatorState};

struct Harness {
    vm: Vm,
    out: Captured,
    err: Captured,
}

fn harness(heap: HeapConfig) -> Harness {
    let mut vm = Vm::new(VmOptions { heap }).expect("vm");
    let out = Captured::default();
    let err = Captured::default();
    vm.set_output(Box::new(out.clone()));
    vm.set_error_output(Box::new(err.clone()));
    Harness { vm, out, err }
}

fn stress() -> HeapConfig {
    HeapConfig {
        stress_every: Some(1),
        verify: true,
        ..HeapConfig::default()
    }
}

/// A collection at every allocation with compaction running concurrently, in `fault` mode: the
/// program's next instructions race the GC thread through the fault path.
fn concurrent_stress(fault: FaultMode) -> HeapConfig {
    HeapConfig {
        mode: GcMode::Concurrent { fault },
        ..stress()
    }
}

/// Every heap configuration the programs below run in.
fn configs() -> [HeapConfig; 4] {
    [
        HeapConfig::default(),
        stress(),
        concurrent_stress(FaultMode::Sigbus),
        concurrent_stress(FaultMode::Thread),
    ]
}

/// A short label of a configuration for assertion messages.
fn label(cfg: &HeapConfig) -> String {
    format!("{:?}, stress {:?}", cfg.mode, cfg.stress_every)
}

impl Harness {
    fn run(&mut self, src: &str) -> Result<(), InterpretError> {
        let r = self.vm.interpret(src.as_bytes());
        self.vm.flush_output();
        r
    }
    fn take_out(&self) -> String {
        self.out.take()
    }
}

/// Every configuration of `configs`, with table locks off (one thread) and on (as when
/// several threads run: every table write takes its lock, uncontended here).
fn configs_and_locking() -> impl Iterator<Item = (HeapConfig, bool)> {
    configs()
        .into_iter()
        .flat_map(|cfg| [(cfg.clone(), false), (cfg, true)])
}

/// A harness for `cfg`, with the table locks taken if `locking`.
fn locking_harness(cfg: HeapConfig, locking: bool) -> Harness {
    let h = harness(cfg);
    h.vm.core().shared.set_multi(locking);
    h
}

/// No lock of the shared tables is left held.
fn assert_unlocked(h: &Harness, what: &str) {
    let s = &h.vm.core().shared;
    assert!(
        !s.globals_lock.is_locked() && !s.intern_lock.is_locked() && !s.code_lock.is_locked(),
        "a lock left held ({what})"
    );
}

/// Runs `src` normally and under stress, with and without table locks; all must print
/// `expected`.
fn check_program(src: &str, expected: &str) {
    for (cfg, locking) in configs_and_locking() {
        let what = format!("{}, locking {locking}", label(&cfg));
        let mut h = locking_harness(cfg, locking);
        let r = h.run(src);
        assert_eq!(h.err.text(), "", "stderr ({what})");
        assert_eq!(r, Ok(()));
        assert_eq!(h.take_out(), expected, "{what}");
        assert_unlocked(&h, &what);
    }
}

const CLASSES: &str = r#"
class Node {
  init(left, right, v) { this.left = left; this.right = right; this.v = v; }
  sum() {
    var s = this.v;
    if (this.left != nil) s = s + this.left.sum();
    if (this.right != nil) s = s + this.right.sum();
    return s;
  }
}
fun tree(d) { if (d == 0) return nil; return Node(tree(d - 1), tree(d - 1), d); }
print tree(6).sum();
class A {
  init(n) { this.n = n; this.f1 = 1; this.f2 = 2; this.f3 = 3; this.f4 = 4; this.f5 = 5; this.f6 = 6; this.f7 = 7; }
  describe() { return "A" + this.name(); }
  name() { return "a"; }
}
class B < A {
  init(n) { super.init(n); this.b = "b" + "b"; }
  describe() { return "B/" + super.describe(); }
  name() { return "b"; }
}
var b = B(3);
print b.describe();
var m = b.describe;
print m();
print b.name;
print b.f1 + b.f2 + b.f3 + b.f4 + b.f5 + b.f6 + b.f7 + b.n;
print b.b;
print b;
print B;
print A == B;
b.describe = "field shadows method";
print b.describe;
"#;

#[test]
fn classes_methods_and_inheritance() {
    check_program(
        CLASSES,
        "120\nB/Ab\nB/Ab\n<fn name>\n31\nbb\nB instance\nB\nfalse\nfield shadows method\n",
    );
}

const CLOSURES: &str = r#"
fun makeCounter(name) {
  var count = 0;
  var label = name + ":";
  fun inc() { count = count + 1; return label + "x"; }
  fun get() { return count; }
  class Box { init() { this.inc = inc; this.get = get; } }
  return Box();
}
var total = 0;
for (var i = 0; i < 30; i = i + 1) {
  var c = makeCounter("c" + "n");
  c.inc(); c.inc();
  total = total + c.get();
}
print total;
fun outer() {
  var x = "o";
  fun middle() {
    var y = "m";
    fun inner() { x = x + y; y = y + x; return x + y; }
    return inner;
  }
  return middle();
}
var f = outer();
print f(); print f();
var s = "";
for (var j = 0; j < 20; j = j + 1) { s = s + "ab"; }
print s;
{
  var a = "a"; var bb = "b";
  fun ca() { return a + bb; }
  f = ca;
}
print f();
print f;
print clock() >= 0;
print clock;
"#;

#[test]
fn closures_upvalues_and_strings() {
    check_program(
        CLOSURES,
        "60\nommom\nommommomommom\nabababababababababababababababababababab\nab\n<fn ca>\ntrue\n<native fn>\n",
    );
}

#[test]
fn arithmetic_and_printing() {
    check_program(
        "print 1 + 2 * 3; print 10 / 4; print -(3 - 5); print 1 / 3; print 1000000000000000000000 * 1; \
         print 123456789 * 1; print 0.1 + 0.2; print -0 * 1; print !nil; print !0; \
         print 1 < 2 and 2 >= 2; print nil or \"x\"; print 1 == 1.0; print \"a\" == \"a\"; \
         print nil == false; print 1 / 0; print -1 / 0;",
        "7\n2.5\n2\n0.333333\n1e+21\n1.23457e+08\n0.3\n-0\ntrue\nfalse\ntrue\nx\ntrue\ntrue\nfalse\ninf\n-inf\n",
    );
}

fn expect_runtime_error(src: &str, expected_err: &str) {
    for (cfg, locking) in configs_and_locking() {
        let what = format!("{}, locking {locking}", label(&cfg));
        let mut h = locking_harness(cfg, locking);
        assert_eq!(h.run(src), Err(InterpretError::Runtime));
        assert_eq!(h.err.text(), expected_err, "{what}");
        assert_unlocked(&h, &what);
        // The VM stays usable after an error.
        h.err.take();
        h.take_out();
        assert_eq!(h.run("print \"after\";"), Ok(()));
        assert_eq!(h.take_out(), "after\n");
    }
}

#[test]
fn runtime_errors_print_a_trace() {
    expect_runtime_error(
        "fun a() { b(); }\nfun b() { c(); }\nfun c() { return 1 + nil; }\na();",
        "Operands must be two numbers or two strings.\n[line 3] in c()\n[line 2] in b()\n\
         [line 1] in a()\n[line 4] in script\n",
    );
    expect_runtime_error(
        "print -\"x\";",
        "Operand must be a number.\n[line 1] in script\n",
    );
    expect_runtime_error(
        "print 1 < \"x\";",
        "Operands must be numbers.\n[line 1] in script\n",
    );
    expect_runtime_error("print x;", "Undefined variable 'x'.\n[line 1] in script\n");
    expect_runtime_error("x = 1;", "Undefined variable 'x'.\n[line 1] in script\n");
    expect_runtime_error(
        "class A {}\nprint A().y;",
        "Undefined property 'y'.\n[line 2] in script\n",
    );
    expect_runtime_error(
        "var a = 1;\na.x = 2;",
        "Only instances have fields.\n[line 2] in script\n",
    );
    expect_runtime_error(
        "print 1.x;",
        "Only instances have properties.\n[line 1] in script\n",
    );
    expect_runtime_error(
        "1.x();",
        "Only instances have methods.\n[line 1] in script\n",
    );
    expect_runtime_error(
        "nil();",
        "Can only call functions and classes.\n[line 1] in script\n",
    );
    expect_runtime_error(
        "fun f(a) {}\nf(1, 2);",
        "Expected 1 arguments but got 2.\n[line 2] in script\n",
    );
    expect_runtime_error(
        "class A {}\nA(1);",
        "Expected 0 arguments but got 1.\n[line 2] in script\n",
    );
    expect_runtime_error(
        "var NotAClass = 1;\nclass B < NotAClass {}",
        "Superclass must be a class.\n[line 2] in script\n",
    );
}

/// A runtime error closes the open upvalues of the frames it unwinds: a closure that escaped
/// keeps its variable as it was at the error, not whatever later reuses the stack slot.
#[test]
fn an_error_closes_the_upvalues_of_the_frames_it_unwinds() {
    let first = "var get; var set;\n\
                 fun f() { var x = \"before\"; fun g() { return x; } fun s(v) { x = v; }\n\
                 get = g; set = s; x = \"at \" + \"error\"; nil(); }\nf();";
    let second = "var a = \"slot\"; var b = \"reused\";\n\
                  fun h(p, q, r) { return get(); }\nprint h(a, b, a);\n\
                  set(\"after\"); print get();";
    for (cfg, locking) in configs_and_locking() {
        let what = format!("{}, locking {locking}", label(&cfg));
        let mut h = locking_harness(cfg, locking);
        assert_eq!(h.run(first), Err(InterpretError::Runtime), "{what}");
        assert_eq!(
            h.err.take(),
            "Can only call functions and classes.\n[line 3] in f()\n[line 4] in script\n"
        );
        assert_eq!(h.run(second), Ok(()), "{what}: {}", h.err.text());
        assert_eq!(h.take_out(), "at error\nafter\n", "{what}");
    }
}

#[test]
fn deep_recursion_overflows_cleanly() {
    let mut h = harness(HeapConfig::default());
    assert_eq!(
        h.run("fun f(n) { return f(n + 1); }\nf(0);"),
        Err(InterpretError::Runtime)
    );
    let err = h.err.text();
    assert!(
        err.starts_with("Stack overflow.\n[line 1] in f()\n"),
        "{}",
        &err[..80]
    );
    // The message, 32 innermost frames, the elision line, 32 outermost frames.
    assert_eq!(err.lines().count(), 1 + 32 + 1 + 32);
    let omitted = format!("... {} more frames ...\n", crate::roots::FRAMES_MAX - 64);
    assert!(err.contains(&omitted), "{err}");
    assert!(err.ends_with("[line 2] in script\n"));
    // Recursion deeper than clox's 64 frames works.
    h.err.take();
    assert_eq!(
        h.run("fun d(n) { if (n == 0) return 0; return 1 + d(n - 1); }\nprint d(5000);"),
        Ok(())
    );
    assert_eq!(h.take_out(), "5000\n");
}

#[test]
fn compile_errors_are_reported() {
    let mut h = harness(HeapConfig::default());
    assert_eq!(h.run("print ;"), Err(InterpretError::Compile));
    assert_eq!(h.err.text(), "[line 1] Error at ';': Expect expression.\n");
    assert_eq!(h.take_out(), "");
}

#[test]
fn globals_persist_across_interpret_calls() {
    for cfg in configs() {
        let mut h = harness(cfg);
        assert_eq!(
            h.run("var x = 40; fun add(a) { return x + a; } class K { m() { return \"k\"; } }"),
            Ok(())
        );
        // Garbage in between, and a collection, must not free `add`'s bytecode.
        assert_eq!(
            h.run("var s = \"\"; for (var i = 0; i < 50; i = i + 1) s = s + \"z\";"),
            Ok(())
        );
        h.vm.collect_garbage();
        assert_eq!(h.run("print add(2); print K().m();"), Ok(()));
        assert_eq!(h.take_out(), "42\nk\n");
    }
}

#[test]
fn natives_from_rust() {
    for cfg in configs() {
        let mut h = harness(cfg);
        h.vm.define_native("twice", Some(1), |args| match args {
            [HostValue::Number(n)] => Ok(HostValue::Number(2.0 * n)),
            _ => Err("twice() takes a number.".into()),
        })
        .unwrap();
        h.vm.define_native("greet", None, |args| {
            let names: Vec<String> = args
                .iter()
                .map(|a| match a {
                    HostValue::String(s) | HostValue::Other(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect();
            Ok(HostValue::String(format!("hi {}", names.join(","))))
        })
        .unwrap();
        assert_eq!(
            h.run("print twice(21); print greet(\"a\", \"b\" + \"c\", greet); print greet;"),
            Ok(())
        );
        assert_eq!(h.take_out(), "42\nhi a,bc,<native fn>\n<native fn>\n");
        assert_eq!(h.run("twice(\"x\");"), Err(InterpretError::Runtime));
        assert_eq!(
            h.err.text(),
            "twice() takes a number.\n[line 1] in script\n"
        );
        h.err.take();
        assert_eq!(h.run("twice();"), Err(InterpretError::Runtime));
        assert_eq!(
            h.err.text(),
            "Expected 1 arguments but got 0.\n[line 1] in script\n"
        );
    }
}

#[test]
fn reading_globals_from_rust() {
    let mut h = harness(HeapConfig::default());
    assert_eq!(
        h.run("var n = 1.5; var s = \"str\"; var b = true; var z = nil; class C {} var i = C();"),
        Ok(())
    );
    assert_eq!(h.vm.get_global("n"), Some(HostValue::Number(1.5)));
    assert_eq!(h.vm.get_global("s"), Some(HostValue::String("str".into())));
    assert_eq!(h.vm.get_global("b"), Some(HostValue::Bool(true)));
    assert_eq!(h.vm.get_global("z"), Some(HostValue::Nil));
    assert_eq!(h.vm.get_global("C"), Some(HostValue::Other("C".into())));
    assert_eq!(
        h.vm.get_global("i"),
        Some(HostValue::Other("C instance".into()))
    );
    assert_eq!(h.vm.get_global("missing"), None);
    assert_eq!(
        h.vm.get_global("clock"),
        Some(HostValue::Other("<native fn>".into()))
    );
}

#[test]
fn running_out_of_memory_is_a_runtime_error_and_the_vm_goes_on() {
    for mode in [GcMode::StopTheWorld, GcMode::CONCURRENT] {
        let max = 4 << 20;
        let cfg = HeapConfig {
            max_bytes: max,
            min_trigger_bytes: 1 << 20,
            mode,
            ..HeapConfig::default()
        };
        let mut h = harness(cfg);
        let src =
            "class L { init(n) { this.next = n; } }\nvar l = nil;\nwhile (true) { l = L(l); }";
        assert_eq!(h.run(src), Err(InterpretError::Runtime), "{mode:?}");
        let err = h.err.text();
        assert!(err.starts_with("Out of memory.\n"), "{mode:?}: {err}");
        assert!(err.contains("[line 3] in script"), "{mode:?}: {err}");
        let s = h.vm.core().heap.heap().stats();
        // Triggers at 1 and 2 MiB, then at the limit: a few cycles, not a thrash.
        assert!(s.cycles <= 6, "{mode:?}: {} cycles", s.cycles);
        assert!(s.peak_heap_bytes <= max as u64, "{mode:?}: past the limit");
        // The VM is usable: dropping the list makes room again.
        h.err.take();
        let r = h.run("l = nil; print \"ok\";");
        assert_eq!(r, Ok(()), "{mode:?}: {}", h.err.text());
        assert_eq!(h.take_out(), "ok\n");
        assert_eq!(
            h.run("var m = nil; for (var i = 0; i < 1000; i = i + 1) m = L(m); print \"again\";"),
            Ok(())
        );
        assert_eq!(h.take_out(), "again\n");
    }
}

impl crate::vm::VmCore {
    /// The shared roots, for reading between runs.
    fn shared_roots_for_tests(&self) -> &crate::shared::SharedRoots {
        // SAFETY: shared rule 2: the test's VM is the only mutator, and the test drops the
        // reference before running anything again.
        unsafe { &*self.shared.roots() }
    }
}

/// Live keys of the intern table.
fn interned_count(vm: &Vm) -> usize {
    let e = vm.core().shared_roots_for_tests().strings.entries;
    // SAFETY: read from a root; no safepoint while counting.
    unsafe {
        let cap = table::capacity_of(e);
        if cap == 0 {
            return 0;
        }
        let o = Obj::from_value(e);
        (0..cap)
            .filter(|&i| table::key_at(o, i).is_object())
            .count()
    }
}

/// The intern table's capacity.
fn intern_capacity(vm: &Vm) -> usize {
    // SAFETY: read from a root; no safepoint while reading.
    unsafe { table::capacity_of(vm.core().shared_roots_for_tests().strings.entries) }
}

#[test]
fn the_intern_table_shrinks_after_its_strings_die() {
    let concurrent = HeapConfig {
        mode: GcMode::CONCURRENT,
        ..HeapConfig::default()
    };
    for cfg in [HeapConfig::default(), concurrent] {
        let mut h = harness(cfg.clone());
        // 12^4 distinct four-letter strings, kept alive in a list.
        let make = "fun letter(i) { if (i < 6) { if (i < 3) { if (i == 0) return \"a\"; \
                    if (i == 1) return \"b\"; return \"c\"; } if (i == 3) return \"d\"; \
                    if (i == 4) return \"e\"; return \"f\"; } if (i < 9) { if (i == 6) return \"g\"; \
                    if (i == 7) return \"h\"; return \"i\"; } if (i == 9) return \"j\"; \
                    if (i == 10) return \"k\"; return \"l\"; }\n\
                    class Box { init(s, next) { this.s = s; this.next = next; } }\n\
                    var keep = nil;\n\
                    for (var a = 0; a < 12; a = a + 1) for (var b = 0; b < 12; b = b + 1)\n\
                    for (var c = 0; c < 12; c = c + 1) for (var d = 0; d < 12; d = d + 1)\n\
                    keep = Box(letter(a) + letter(b) + letter(c) + letter(d), keep);";
        assert_eq!(h.run(make), Ok(()), "{}", label(&cfg));
        let big = intern_capacity(&h.vm);
        assert!(big >= 32768, "{}: capacity {big}", label(&cfg));
        assert_eq!(h.run("keep = nil;"), Ok(()));
        // Twice: in concurrent mode the first may finish a cycle that began marking before
        // `keep = nil` (its snapshot keeps the strings); the second starts after it.
        h.vm.collect_garbage();
        h.vm.collect_garbage();
        // The next new string rebuilds the table around the few keys left.
        assert_eq!(h.run("print \"a fresh string\";"), Ok(()));
        let small = intern_capacity(&h.vm);
        assert!(small * 8 <= big, "{}: {big} -> {small}", label(&cfg));
        assert_eq!(h.take_out(), "a fresh string\n");
    }
}

#[test]
fn dead_strings_and_functions_are_swept() {
    let mut h = harness(HeapConfig::default());
    h.vm.collect_garbage();
    let strings_before = interned_count(&h.vm);
    let code_before = h.vm.core().shared_roots_for_tests().code.live_count();
    for _ in 0..20 {
        let src = "var s = \"\"; for (var i = 0; i < 100; i = i + 1) s = s + \"q\"; \
                   fun f() { return 1; } f(); s = nil; f = nil;";
        assert_eq!(h.run(src), Ok(()));
    }
    // Before collecting, the intern table holds the dead strings.
    assert!(interned_count(&h.vm) > strings_before + 100);
    h.vm.collect_garbage();
    // "s", "f", "i", "q" and the empty string may stay (globals, constants of nothing live):
    // at most a handful survive, not the 100 intermediate strings per run.
    assert!(
        interned_count(&h.vm) <= strings_before + 5,
        "{}",
        interned_count(&h.vm)
    );
    // Every script and every `f` died with its bytecode.
    assert_eq!(
        h.vm.core().shared_roots_for_tests().code.live_count(),
        code_before
    );
    // And the VM still works, reusing freed code slots.
    assert_eq!(h.run("fun g() { return \"g\"; } print g();"), Ok(()));
    assert_eq!(h.take_out(), "g\n");
}

#[test]
fn many_fields_and_globals_grow_tables() {
    let mut src = String::from("class O {}\nvar o = O();\n");
    for i in 0..40 {
        src.push_str(&format!("o.f{i} = {i}; var g{i} = {i};\n"));
    }
    src.push_str("var t = 0;\n");
    for i in 0..40 {
        src.push_str(&format!("t = t + o.f{i} + g{i};\n"));
    }
    src.push_str("print t;\n");
    check_program(&src, "1560\n");
}

#[test]
fn inheriting_many_methods_and_binding_super() {
    let mut src = String::from("class A {\n");
    for i in 0..20 {
        src.push_str(&format!("  m{i}() {{ return \"a{i}\"; }}\n"));
    }
    src.push_str(
        "}\nclass B < A {\n  m3() { var s = super.m3; return \"b\" + s(); }\n}\n\
         var b = B();\nvar out = \"\";\n",
    );
    for i in 0..20 {
        src.push_str(&format!("out = out + b.m{i}();\n"));
    }
    src.push_str("print out;\nvar bound = b.m19;\nprint bound;\nprint bound();\n");
    let expected: String = (0..20)
        .map(|i| {
            if i == 3 {
                "ba3".to_string()
            } else {
                format!("a{i}")
            }
        })
        .collect();
    check_program(&src, &format!("{expected}\n<fn m19>\na19\n"));
}

#[test]
fn setting_globals_from_rust() {
    for cfg in configs() {
        let mut h = harness(cfg);
        h.vm.set_global("n", HostValue::Number(2.5)).unwrap();
        h.vm.set_global("s", HostValue::String("text".into()))
            .unwrap();
        h.vm.set_global("b", HostValue::Bool(false)).unwrap();
        h.vm.set_global("z", HostValue::Nil).unwrap();
        assert_eq!(
            h.run("print n * 2; print s + \"!\"; print b; print z;"),
            Ok(())
        );
        assert_eq!(h.take_out(), "5\ntext!\nfalse\nnil\n");
        h.vm.set_global("n", HostValue::Number(1.0)).unwrap();
        assert_eq!(h.vm.get_global("n"), Some(HostValue::Number(1.0)));
    }
}

#[test]
fn host_values_display_like_lox() {
    assert_eq!(HostValue::Number(123456789.0).to_string(), "1.23457e+08");
    assert_eq!(HostValue::Number(-0.0).to_string(), "-0");
    assert_eq!(HostValue::Bool(true).to_string(), "true");
    assert_eq!(HostValue::Nil.to_string(), "nil");
    assert_eq!(HostValue::String("x y".into()).to_string(), "x y");
}

#[test]
fn empty_strings_are_interned_once() {
    check_program(
        "var e = \"\"; fun f() { return \"\"; } print e == f(); print \"\" + \"\" == e; \
         print (\"a\" + \"\") == \"a\";",
        "true\ntrue\ntrue\n",
    );
}

/// Host-side flags for the safepoint tests (one set per test: they run in parallel).
mod flags {
    use std::sync::atomic::AtomicBool;
    pub static LOOP_STARTED: AtomicBool = AtomicBool::new(false);
    pub static LOOP_FINISHED: AtomicBool = AtomicBool::new(false);
    pub static CALLS_STARTED: AtomicBool = AtomicBool::new(false);
    pub static CALLS_FINISHED: AtomicBool = AtomicBool::new(false);
    pub static NATIVE_ENTERED: AtomicBool = AtomicBool::new(false);
}

/// Runs `src` in a concurrent VM, with the natives `define` adds, while `host` runs on another
/// thread with the VM's control handle.
fn run_with_host<T: Send + 'static>(
    src: &str,
    define: impl FnOnce(&mut Vm),
    host: impl FnOnce(std::sync::Arc<gc::Safepoints>) -> T + Send + 'static,
) -> (Harness, T) {
    let mut h = harness(HeapConfig {
        mode: GcMode::CONCURRENT,
        // No collection from growth: only the host's request may start one.
        min_trigger_bytes: 256 << 20,
        ..HeapConfig::default()
    });
    define(&mut h.vm);
    let control = h.vm.gc_control();
    let t = std::thread::spawn(move || host(control));
    let r = h.run(src);
    let out = t.join().expect("host thread");
    assert_eq!(r, Ok(()), "stderr: {}", h.err.text());
    (h, out)
}

type Native = fn(&[HostValue]) -> Result<HostValue, String>;

/// Defines `started()` and `finished()`, natives that set the test's flags.
fn define_markers(vm: &mut Vm, started: Native, finished: Native) {
    vm.define_native("started", Some(0), started).unwrap();
    vm.define_native("finished", Some(0), finished).unwrap();
}

/// How the host caught the program in one stop: its state, and whether it had already called
/// `finished()`. `None`: the stop timed out.
type Caught = Option<(MutatorState, bool)>;

/// Waits for `started`, then stops the program five times, a few milliseconds apart.
fn stop_five_times(
    control: &gc::Safepoints,
    started: &std::sync::atomic::AtomicBool,
    finished: &std::sync::atomic::AtomicBool,
) -> Vec<Caught> {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "the program never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(5));
    (0..5)
        .map(|_| {
            let guard = control.stop("test", Duration::from_secs(10));
            let caught = guard.map(|_| (control.state(), finished.load(Ordering::Acquire)));
            std::thread::sleep(Duration::from_millis(3));
            caught
        })
        .collect()
}

// The busy parts of the programs below (hundreds of milliseconds) allocate nothing and call no
// native, so only the loop or call polls can stop them there: every stop must find the program
// parked before it finished. Without those polls the first stop would wait for the call of
// `finished()` and the later ones would time out.

#[test]
fn a_loop_that_never_allocates_reaches_a_safepoint() {
    use flags::{LOOP_FINISHED, LOOP_STARTED};
    use std::sync::atomic::Ordering;
    let src = "var n = 0;\nstarted();\n\
               for (var i = 0; i < 30000000; i = i + 1) n = n + 1;\n\
               finished();\nprint n == 30000000;";
    let (mut h, caught) = run_with_host(
        src,
        |vm| {
            define_markers(
                vm,
                |_| {
                    LOOP_STARTED.store(true, Ordering::Release);
                    Ok(HostValue::Nil)
                },
                |_| {
                    LOOP_FINISHED.store(true, Ordering::Release);
                    Ok(HostValue::Nil)
                },
            )
        },
        |control| {
            let caught = stop_five_times(&control, &LOOP_STARTED, &LOOP_FINISHED);
            // A collection: the program runs it at its next safepoint.
            control.request_collection();
            caught
        },
    );
    assert!(
        caught
            .iter()
            .all(|c| *c == Some((MutatorState::Parked, false))),
        "not every stop found the program parked in its loop: {caught:?}"
    );
    assert_eq!(h.take_out(), "true\n");
    h.vm.finish_gc();
    assert!(h.vm.gc_cycles() >= 1, "the requested collection never ran");
}

#[test]
fn recursion_without_loops_reaches_a_safepoint() {
    use flags::{CALLS_FINISHED, CALLS_STARTED};
    use std::sync::atomic::Ordering;
    // No back-edge inside `fib`: only the call polls can stop it.
    let src = "fun fib(n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2); }\n\
               started();\nvar r = fib(32);\nfinished();\nprint r == 2178309;";
    let (h, caught) = run_with_host(
        src,
        |vm| {
            define_markers(
                vm,
                |_| {
                    CALLS_STARTED.store(true, Ordering::Release);
                    Ok(HostValue::Nil)
                },
                |_| {
                    CALLS_FINISHED.store(true, Ordering::Release);
                    Ok(HostValue::Nil)
                },
            )
        },
        |control| stop_five_times(&control, &CALLS_STARTED, &CALLS_FINISHED),
    );
    assert!(
        caught
            .iter()
            .all(|c| *c == Some((MutatorState::Parked, false))),
        "not every stop found the program parked in its calls: {caught:?}"
    );
    assert_eq!(h.take_out(), "true\n");
}

#[test]
fn a_blocked_native_counts_as_stopped() {
    use flags::NATIVE_ENTERED;
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    const NATIVE_SLEEP: Duration = Duration::from_millis(600);
    let (mut h, caught) = run_with_host(
        "print slow(\"a\") + \"!\";",
        |vm| {
            vm.define_native("slow", Some(1), |args| {
                NATIVE_ENTERED.store(true, Ordering::Release);
                std::thread::sleep(NATIVE_SLEEP);
                Ok(HostValue::String(format!("slow {}", args[0])))
            })
            .unwrap();
        },
        |control| {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while !NATIVE_ENTERED.load(Ordering::Acquire) {
                assert!(std::time::Instant::now() < deadline, "never entered");
                std::thread::sleep(Duration::from_millis(1));
            }
            let guard = control.stop("test", Duration::from_secs(20));
            let caught = guard.as_ref().map(|g| (g.ttsp_ns(), control.state()));
            // Ask for a collection while the native still runs: it happens when the native
            // returns, before its result is interned.
            control.request_collection();
            drop(guard);
            caught
        },
    );
    let (ttsp, state) = caught.expect("the stop request timed out");
    assert_eq!(state, MutatorState::Native);
    assert!(
        ttsp < NATIVE_SLEEP.as_nanos() as u64 / 2,
        "the stop waited for the native: {ttsp} ns"
    );
    assert_eq!(h.take_out(), "slow a!\n");
    h.vm.finish_gc();
    assert!(h.vm.gc_cycles() >= 1, "the requested collection never ran");
}

#[test]
fn statistics_after_finishing_are_final() {
    let mut h = harness(concurrent_stress(FaultMode::Sigbus));
    assert_eq!(
        h.run("class C {} var l = nil; for (var i = 0; i < 300; i = i + 1) l = C();"),
        Ok(())
    );
    // With concurrent marking, stress points only start cycles that then overlap the
    // program, so how many complete during a short run depends on scheduling: drive one to
    // its end explicitly.
    h.vm.collect_garbage();
    h.vm.finish_gc();
    let json = h.vm.gc_stats_json();
    assert!(json.contains("\"collector\":\"concurrent\""), "{json}");
    assert!(json.contains("\"fallback_reason\":null"), "{json}");
    assert!(h.vm.gc_is_concurrent());
    assert_eq!(h.vm.gc_fallback_notice(), None);
    let cycles = h.vm.gc_cycles();
    assert!(cycles >= 1, "{cycles}");
    assert!(json.contains(&format!("\"cycles\":{cycles},")), "{json}");
}
