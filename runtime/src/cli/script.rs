//! Running one script file: read it whole, hand its bytes to the VM, map the outcome to a status.
//!
//! The VM prints compile and runtime errors itself; this module only chooses the exit status.

use std::path::Path;

use lox::{InterpretError, Vm};

use super::exit;

/// Reads `path` whole. Lox source need not be UTF-8, so the bytes go to the VM untouched.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("lox: cannot read '{}': {}", path.display(), e))
}

/// Interprets `source` and returns the process exit status for its outcome.
pub fn run(vm: &mut Vm, source: &[u8]) -> i32 {
    let result = vm.interpret(source);
    // The program ends when its threads have, also after a runtime error in the script.
    vm.wait_for_threads();
    match result {
        Ok(()) if vm.thread_failed_unjoined() => exit::RUNTIME_ERROR,
        Ok(()) => exit::OK,
        Err(InterpretError::Compile) => exit::COMPILE_ERROR,
        Err(InterpretError::Runtime) => exit::RUNTIME_ERROR,
    }
}
