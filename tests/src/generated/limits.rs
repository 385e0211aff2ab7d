//! The compiler's code-size limits, at their exact edges: inputs of 64 KiB of bytecode and more,
//! too large to keep as corpus files. Each source carries corpus annotations (`// expect: ...`,
//! `// Error ...`) and is judged by them, like a file under `tests/lox/limits/`.
//!
//! The edges are counted in bytes of bytecode, so these inputs are built from statements of
//! known size: `nil;` is 2 bytes (`Nil`, `Pop`), `!nil;` 3 (`Nil`, `Not`, `Pop`).

use super::{Generated, Judgement};

/// Largest forward jump and backward loop, in bytes of bytecode (a 16-bit operand).
const MAX_JUMP: usize = u16::MAX as usize;
/// Most stack slots one function may use (the loader packs the height into 15 bits).
const MAX_STACK: usize = 0x7fff;

/// Statements that compile to exactly `bytes` bytes (at least 2), one per line.
fn statements_of(bytes: usize) -> String {
    let mut s = String::new();
    let mut left = bytes;
    if left % 2 == 1 {
        s.push_str("!nil;\n");
        left -= 3;
    }
    s.push_str(&"nil;\n".repeat(left / 2));
    s
}

/// `if (true) { BODY }`, the then-jump passing over BODY plus 4 bytes (the `Pop` of the
/// condition and the 3-byte jump over the else branch): at most [`MAX_JUMP`].
fn if_source(body: usize, over: bool) -> Vec<u8> {
    let mut s =
        String::from("// generated: an if whose then-branch is at the largest jump\nif (true) {\n");
    s.push_str(&statements_of(body));
    if over {
        s.push_str("} // Error at '}': Too much code to jump over.\n");
    } else {
        s.push_str("}\nprint \"jumped\"; // expect: jumped\n");
    }
    s.into_bytes()
}

/// `while (go) { BODY go = false; }`: the loop jumps back over the condition (`GetGlobal`, 2
/// bytes), its exit jump (3), `Pop` (1), BODY, `go = false;` (4) and its own 3 bytes.
fn while_source(body: usize, over: bool) -> Vec<u8> {
    let mut s = String::from(
        "// generated: a while loop whose body is at the largest loop\nvar go = true;\nwhile (go) {\n",
    );
    s.push_str(&statements_of(body));
    s.push_str("go = false;\n");
    if over {
        s.push_str("} // Error at '}': Loop body too large.\n");
    } else {
        s.push_str("}\nprint \"looped\"; // expect: looped\n");
    }
    s.into_bytes()
}

/// The script's stack at its deepest: slot 0, then 128 pending calls of `f` (the callee and 254
/// arguments each), then a call of `g` with `last_args` arguments. Each pending call is on a
/// line of its own; the call of `g` is on the last.
fn stack_source(last_args: usize) -> Vec<u8> {
    const LEVELS: usize = 128;
    let params = |n: usize| -> String {
        (1..=n)
            .map(|i| format!("p{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s =
        String::from("// generated: nested calls holding many values on the stack at once\n");
    s.push_str(&format!("fun f({}) {{ return p255; }}\n", params(255)));
    s.push_str(&format!("fun g({}) {{ return p1; }}\n", params(last_args)));
    s.push_str("var a = \"deep\";\nprint\n");
    for _ in 0..LEVELS {
        s.push_str("f(");
        s.push_str(&"a, ".repeat(253));
        s.push_str("a,\n");
    }
    s.push_str("g(");
    s.push_str(&vec!["a"; last_args].join(", "));
    s.push(')');
    s.push_str(&")".repeat(LEVELS));
    s.push(';');
    let height = 1 + LEVELS * 255 + 1 + last_args;
    if height > MAX_STACK {
        s.push_str(" // Error: Function or expression needs more than 32767 stack slots.\n");
    } else {
        s.push_str(" // expect: deep\n");
    }
    s.into_bytes()
}

/// Every generated limit case: each limit at its largest accepted size and one past it.
pub fn cases() -> Vec<Generated> {
    // The stack's deepest point: slot 0 and 128 pending calls hold 32,641 slots, so `g` may
    // take 125 arguments (its callee and arguments make 32,767).
    let g_args = MAX_STACK - 1 - 128 * 255 - 1;
    let annotated = |name: &'static str, source: Vec<u8>| Generated {
        name,
        source,
        judge: Judgement::Annotated,
    };
    vec![
        annotated("limit_jump.lox", if_source(MAX_JUMP - 4, false)),
        annotated("limit_jump_over.lox", if_source(MAX_JUMP - 3, true)),
        annotated("limit_loop.lox", while_source(MAX_JUMP - 13, false)),
        annotated("limit_loop_over.lox", while_source(MAX_JUMP - 12, true)),
        annotated("limit_stack_slots.lox", stack_source(g_args)),
        annotated("limit_stack_slots_over.lox", stack_source(g_args + 1)),
    ]
}
