//! The project's Lox corpus (`tests/lox/`) against this build's `lox` binary, in every GC mode.
//!
//! The runner lives in the `lox-tests` crate; this file exists here because only an integration
//! test of the crate that owns the binary gets `CARGO_BIN_EXE_lox`, the binary cargo built for the
//! same profile (so `cargo test --release` checks the release binary). `harness = false`: the
//! runner prints its own summary lines and sets the exit status.

fn main() {
    let status = lox_tests::main_with(env!("CARGO_BIN_EXE_lox"), std::env::args().skip(1));
    std::process::exit(status);
}
