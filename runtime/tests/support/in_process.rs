//! Running Lox source in this process in a given GC mode, with its output captured: shared by
//! the stable test `runtime/tests/generated.rs` and the cargo-fuzz target `fuzz/program`
//! (which includes this file by path).

use gc::{FaultMode, GcMode, HeapConfig};
use lox::{Captured, InterpretError, Vm, VmOptions};

/// What a run printed and how it ended: the `lox` command's exit status (0, 65 or 70).
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: i32,
}

/// The GC modes of the corpus, as heap settings: collections every `stress` allocations,
/// verification on, except in the first (plain stop-the-world) mode.
pub fn modes(stress: u64) -> Vec<(&'static str, HeapConfig)> {
    let base = HeapConfig {
        max_bytes: 512 << 20,
        ..HeapConfig::default()
    };
    let stressed = |mode| HeapConfig {
        mode,
        stress_every: Some(stress),
        verify: true,
        ..base.clone()
    };
    vec![
        ("stw", base.clone()),
        ("stw stress verify", stressed(GcMode::StopTheWorld)),
        ("concurrent stress verify", stressed(GcMode::CONCURRENT)),
        (
            "concurrent fault-thread stress verify",
            stressed(GcMode::Concurrent {
                fault: FaultMode::Thread,
            }),
        ),
    ]
}

/// Runs `source` in a fresh VM with `heap`.
pub fn run(source: &[u8], heap: HeapConfig) -> Result<Run, String> {
    let mut vm = Vm::new(VmOptions { heap })?;
    let (out, err) = (Captured::default(), Captured::default());
    vm.set_output(Box::new(out.clone()));
    vm.set_error_output(Box::new(err.clone()));
    let status = match vm.interpret(source) {
        Ok(()) => 0,
        Err(InterpretError::Compile) => 65,
        Err(InterpretError::Runtime) => 70,
    };
    vm.flush_output();
    vm.finish_gc();
    drop(vm);
    Ok(Run {
        stdout: out.take_bytes(),
        stderr: err.take_bytes(),
        status,
    })
}
