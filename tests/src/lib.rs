//! The project's own Lox test corpus (`tests/lox/`) and the runner that checks it.
//!
//! Each corpus file carries its expectations in comments, as the shared conformance suite does
//! (see [`expect`]). The runner runs every file with the `lox` binary in every GC mode
//! ([`suite::MODES`]) and judges stdout, stderr and the exit status. It is driven by the `lox`
//! crate's integration test `runtime/tests/corpus.rs`, which cargo gives the binary of the same
//! build profile, and by the `lox-corpus` binary of this crate for any other interpreter. The
//! same run also checks the command line itself ([`cli`]).

pub mod check;
pub mod cli;
pub mod diff;
pub mod differential;
pub mod expect;
pub mod gen;
pub mod generated;
pub mod process;
pub mod suite;

use std::path::PathBuf;

/// Entry point of a corpus run with the interpreter at `lox`: arguments not starting with `-`
/// filter tests by name. Returns the process exit status (0: all passed).
pub fn main_with(lox: impl Into<PathBuf>, args: impl IntoIterator<Item = String>) -> i32 {
    let mut opts = suite::Options::new(lox.into());
    // Flags (such as those libtest-style callers pass) are not ours: ignore them.
    opts.filters = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    match suite::run(&opts) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(msg) => {
            eprintln!("corpus: {msg}");
            1
        }
    }
}
