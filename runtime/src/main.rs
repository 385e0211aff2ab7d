//! The `lox` binary: a thin shell over the `lox` library (see `cli/`).

mod cli;

// mimalloc for the runtime's off-heap data (bytecode, tables, the compiler's trees): the managed
// heap itself is the collector's own mapping and never goes through the global allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let status = cli::main();
    // The VM flushed its own buffer; std's stdout may still hold clap's or a native's output.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(status);
}
