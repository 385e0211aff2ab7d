//! `lox-corpus LOX [FILTER...]`: runs the corpus against the interpreter at LOX.
//!
//! For checking a binary other than the one `cargo test` builds (an older build, a `dist`
//! profile build). `cargo test --release --workspace` runs the same corpus through
//! `runtime/tests/corpus.rs`.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(lox) = args.next().filter(|a| !a.starts_with('-')) else {
        eprintln!("usage: lox-corpus LOX [FILTER...]   (LOX: path to the lox binary)");
        std::process::exit(64);
    };
    std::process::exit(lox_tests::main_with(lox, args));
}
