//! Embedding Lox in a Rust program: run source in a VM, give Lox functions written in Rust,
//! capture what Lox prints, read its globals back, and handle its errors.
//!
//! Run with: `cargo run --release --example embed`

use lox::{Captured, HostValue, InterpretError, Vm, VmOptions};

/// `sqrt(x)`: a Lox native written in Rust. An `Err` becomes a Lox runtime error.
fn sqrt(args: &[HostValue]) -> Result<HostValue, String> {
    match args {
        [HostValue::Number(x)] if *x >= 0.0 => Ok(HostValue::Number(x.sqrt())),
        _ => Err("sqrt() takes a non-negative number.".to_string()),
    }
}

/// `shout(s)`: strings cross the boundary as Rust `String`s.
fn shout(args: &[HostValue]) -> Result<HostValue, String> {
    match args {
        [HostValue::String(s)] => Ok(HostValue::String(s.to_uppercase())),
        _ => Err("shout() takes a string.".to_string()),
    }
}

fn main() -> Result<(), String> {
    // A heap of up to a quarter of RAM, compacted concurrently (userfaultfd); where the kernel
    // forbids userfaultfd the collector falls back to stop-the-world by itself.
    let mut options = VmOptions::default();
    options.heap.mode = gc::GcMode::CONCURRENT;
    let mut vm = Vm::new(options)?;
    if let Some(notice) = vm.gc_fallback_notice() {
        eprintln!("{notice}");
    }
    vm.define_native("sqrt", Some(1), sqrt)?;
    vm.define_native("shout", Some(1), shout)?;

    // Capture what Lox prints instead of letting it reach stdout.
    let out = Captured::default();
    vm.set_output(Box::new(out.clone()));
    vm.interpret(
        br#"
        class Point {
          init(x, y) { this.x = x; this.y = y; }
          norm() { return sqrt(this.x * this.x + this.y * this.y); }
        }
        var p = Point(3, 4);
        print p.norm();
        print shout("hello from lox");
        "#,
    )
    .map_err(|e| format!("script failed: {e:?}"))?;
    vm.flush_output();
    print!("Lox printed:\n{}", out.take());

    // Globals persist between calls, as in a REPL; the host can read them back.
    vm.interpret(b"var answer = p.norm() * 8 + 2;")
        .map_err(|e| format!("{e:?}"))?;
    let answer = vm.get_global("answer");
    println!("answer = {answer:?}");
    assert_eq!(answer, Some(HostValue::Number(42.0)));

    // Errors: the VM reports them on its error output (stderr unless redirected) and returns
    // which kind of error it was.
    let errors = Captured::default();
    vm.set_error_output(Box::new(errors.clone()));
    let runtime = vm.interpret(b"sqrt(-1);");
    assert_eq!(runtime, Err(InterpretError::Runtime));
    let compile = vm.interpret(b"print 1 +;");
    assert_eq!(compile, Err(InterpretError::Compile));
    print!("Errors reported:\n{}", errors.take());

    // The VM is still usable after errors.
    vm.interpret(b"print \"still running\";")
        .map_err(|e| format!("{e:?}"))?;
    vm.flush_output();
    print!("{}", out.take());
    // Wait for any compaction still running, so the figures are final.
    vm.finish_gc();
    println!("collector statistics: {}", vm.gc_stats_json());
    Ok(())
}
