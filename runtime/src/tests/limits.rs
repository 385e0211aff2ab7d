//! The limits the loader and the VM enforce on their own, seen through the embedding API: a
//! hand-built function that needs too many stack slots (the compiler never produces one: it
//! reports the line instead), and the longest string, whose check needs 7 GB of memory and
//! runs only on request (`cargo test --release -p lox --lib -- --ignored longest_string`).

use super::harness;
use crate::api::InterpretError;
use crate::chunk::{Op, Proto};
use crate::verify::MAX_STACK;
use gc::HeapConfig;

#[test]
fn a_hand_built_function_over_the_stack_limit_is_refused_at_load() {
    // 32,767 `Nil`s on top of slot 0 make 32,768 values; then `Return`.
    let nils = MAX_STACK as usize;
    let mut code = vec![Op::Nil as u8; nils];
    code.push(Op::Return as u8);
    let script = Proto {
        lines: vec![1; code.len()],
        code,
        ..Proto::default()
    };
    let mut h = harness(HeapConfig::default());
    assert_eq!(h.vm.interpret_proto(&script), Err(InterpretError::Compile));
    assert_eq!(
        h.err.text(),
        format!(
            "Invalid bytecode: bad bytecode at {}: function needs more than 32767 stack slots\n",
            nils - 1
        )
    );
    // One `Nil` fewer fits, and runs.
    let mut code = vec![Op::Nil as u8; nils - 1];
    code.push(Op::Return as u8);
    let script = Proto {
        lines: vec![1; code.len()],
        code,
        ..Proto::default()
    };
    h.err.take();
    assert_eq!(h.vm.interpret_proto(&script), Ok(()));
    assert_eq!(h.err.text(), "");
}

/// Builds a string of 2 GiB by doubling, then doubles it once more: 4 GiB is one byte past the
/// longest string. A heap of 8 GB that never collects (a collection would move the 2 GiB string
/// several times); about 7 GB of memory and half a minute.
#[test]
#[ignore = "needs about 7 GB of memory"]
fn longest_string() {
    let mut h = harness(HeapConfig {
        max_bytes: 8 << 30,
        min_trigger_bytes: 8 << 30,
        ..HeapConfig::default()
    });
    let src = "var s = \"x\";\n\
               for (var i = 0; i < 31; i = i + 1) s = s + s;\n\
               print \"2 GiB\";\n\
               var t = s + s;\n\
               print \"not printed\";\n";
    assert_eq!(h.run(src), Err(InterpretError::Runtime));
    assert_eq!(h.take_out(), "2 GiB\n");
    assert_eq!(h.err.text(), "String too long.\n[line 4] in script\n");
}
