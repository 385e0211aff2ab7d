//! Generated inputs on stable, without cargo-fuzz: the compiler on a few thousand mutated and
//! random byte strings (the `compile` fuzz target's property), and a dozen generated programs
//! run in this process in every GC mode (the `program` target's property). The full
//! differential run against clox is `fuzz/run-differential` (see README, "Fuzzing").

#[path = "support/in_process.rs"]
mod in_process;

use lox_tests::differential::mutate;
use lox_tests::gen::{self, choices::Choices, Size};

/// Compiles `source`: it must not panic, and it either compiles (and disassembles) or reports
/// errors in clox's format.
fn compiles_or_reports(source: &[u8]) -> bool {
    match lox::compiler::compile(source) {
        Ok(proto) => {
            let _ = lox::disasm::disassemble(&proto);
            true
        }
        Err(e) => {
            assert!(!e.errors.is_empty());
            for line in &e.errors {
                assert!(line.starts_with("[line "), "error format: {line}");
            }
            false
        }
    }
}

#[test]
fn compiler_survives_mutated_and_random_bytes() {
    let mut ch = Choices::from_seed(42);
    let (mut compiled, mut rejected) = (0, 0);
    for seed in 0..300 {
        let size = if seed % 4 == 3 {
            Size::Large
        } else {
            Size::Small
        };
        let program = gen::program(&mut Choices::from_seed(seed), size);
        // The generator's programs are valid (within clox's limits, which lox's compiler
        // shares except for equal strings)...
        assert!(
            compiles_or_reports(program.source.as_bytes()),
            "seed {seed}"
        );
        if seed >= 40 {
            continue;
        }
        // ...and their mutants exercise the error paths deep inside real code.
        for _ in 0..60 {
            let m = mutate(program.source.as_bytes(), &mut ch);
            if compiles_or_reports(&m) {
                compiled += 1;
            } else {
                rejected += 1;
            }
        }
    }
    for len in 0..600u64 {
        let bytes: Vec<u8> = (0..len % 300).map(|_| ch.below(256) as u8).collect();
        compiles_or_reports(&bytes);
    }
    // Both outcomes must be common, or the mutations are not doing their job.
    assert!(
        compiled > 100 && rejected > 100,
        "{compiled} compiled, {rejected} rejected"
    );
}

#[test]
fn generated_programs_agree_in_every_gc_mode() {
    for seed in 0..12 {
        let program = gen::program(&mut Choices::from_seed(seed), Size::Small);
        let mut first: Option<in_process::Run> = None;
        for (name, heap) in in_process::modes(program.stress_interval) {
            let run = in_process::run(program.source.as_bytes(), heap).expect("a heap");
            let expected = if program.planted_error { 70 } else { 0 };
            assert_eq!(
                run.status,
                expected,
                "seed {seed} [{name}]: {}",
                String::from_utf8_lossy(&run.stderr)
            );
            match &first {
                None => first = Some(run),
                Some(f) => assert!(*f == run, "seed {seed}: [{name}] differs from [stw]"),
            }
        }
    }
}
