//! The `lox` command line: parse flags, build the VM, run a script or a REPL, report, exit.
//!
//! Owns process-level policy (exit statuses, the interpreter thread's stack, the statistics
//! file); the language itself lives in the `lox` library.

mod args;
mod exit;
mod repl;
mod script;

use std::path::Path;
use std::thread;

use clap::error::ErrorKind;
use clap::Parser;
use lox::{Vm, VmOptions};

use args::Args;

/// Stack of the interpreter thread. The VM bounds its own frames and nesting, so this is defense
/// in depth: a deep recursion in Rust (the compiler on nested expressions, a native) hits the
/// VM's limits long before it could hit this.
const INTERPRETER_STACK: usize = 256 << 20;

/// Runs the command and returns the process exit status.
pub fn main() -> i32 {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // clap routes --help and --version through its error path; those succeed.
            let status = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => exit::OK,
                _ => exit::USAGE,
            };
            let _ = e.print();
            return status;
        }
    };
    let spawned = thread::Builder::new()
        .name("lox".into())
        .stack_size(INTERPRETER_STACK)
        .spawn(move || session(&args));
    match spawned {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            eprintln!("lox: internal error: the interpreter panicked");
            exit::RUNTIME_ERROR
        }),
        Err(e) => {
            eprintln!("lox: cannot start the interpreter thread: {e}");
            exit::OS_ERROR
        }
    }
}

/// Everything that runs on the interpreter thread.
fn session(args: &Args) -> i32 {
    let heap = match args.heap_config() {
        Ok(h) => h,
        Err(msg) => {
            eprintln!("lox: {msg}");
            return exit::USAGE;
        }
    };
    // Read the script before reserving a heap, so a typo in the path fails fast and cheaply.
    let source = match &args.file {
        Some(path) => match script::read(path) {
            Ok(bytes) => Some(bytes),
            Err(msg) => {
                eprintln!("{msg}");
                return exit::IO_ERROR;
            }
        },
        None => None,
    };
    // `..default()` so that options the VM adds later keep their defaults without a change here.
    #[allow(clippy::needless_update)]
    let options = VmOptions {
        heap,
        ..VmOptions::default()
    };
    let mut vm = match Vm::new(options) {
        Ok(vm) => vm,
        Err(msg) => {
            eprintln!("lox: cannot create the VM: {msg}");
            return exit::OS_ERROR;
        }
    };
    if args.announce_fallback() {
        if let Some(reason) = vm.gc_fallback_notice() {
            eprintln!("lox: concurrent collector: {reason}");
        }
    }
    let status = match &source {
        Some(bytes) => script::run(&mut vm, bytes),
        None => repl::run(&mut vm),
    };
    // The REPL's threads too: the session ends when they have.
    vm.wait_for_threads();
    // Final figures: waits for a compaction that may still run.
    vm.finish_gc();
    match &args.gc_stats {
        Some(path) => write_stats(&mut vm, path, status),
        None => status,
    }
}

/// Writes the collector statistics; a failure to write turns success into an I/O error but never
/// hides the script's own failure status.
fn write_stats(vm: &mut Vm, path: &Path, status: i32) -> i32 {
    match std::fs::write(path, vm.gc_stats_json()) {
        Ok(()) => status,
        Err(e) => {
            eprintln!(
                "lox: cannot write GC statistics to '{}': {e}",
                path.display()
            );
            if status == exit::OK {
                exit::IO_ERROR
            } else {
                status
            }
        }
    }
}
