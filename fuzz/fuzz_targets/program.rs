//! Fuzz target `program`: the input bytes drive the program generator (`lox_tests::gen`), whose
//! program then runs in this process in every GC mode, with collections at every allocation and
//! verification (a broken heap aborts). All modes must print the same output and end the same
//! way, and a program without a planted error must succeed. The generator's decisions are the
//! input's bytes, so libFuzzer's coverage feedback steers which shapes and statements appear.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lox_tests::gen::{self, choices::Choices, Size};

#[path = "../../runtime/tests/support/in_process.rs"]
mod in_process;

fuzz_target!(|data: &[u8]| {
    let program = gen::program(&mut Choices::from_bytes(data), Size::Small);
    let mut first: Option<(&str, in_process::Run)> = None;
    for (name, heap) in in_process::modes(program.stress_interval) {
        let run = match in_process::run(program.source.as_bytes(), heap) {
            Ok(r) => r,
            // The heap could not be reserved: nothing to compare.
            Err(_) => return,
        };
        let expected = if program.planted_error { 70 } else { 0 };
        assert_eq!(
            run.status,
            expected,
            "{name}: status {}, stderr {}\n{}",
            run.status,
            String::from_utf8_lossy(&run.stderr),
            program.source
        );
        match &first {
            None => first = Some((name, run)),
            Some((first_name, f)) => assert!(
                f == &run,
                "{name} differs from {first_name}:\n{}\n--- {first_name} stdout:\n{}\n--- {name} stdout:\n{}",
                program.source,
                String::from_utf8_lossy(&f.stdout),
                String::from_utf8_lossy(&run.stdout)
            ),
        }
    }
});
