//! Fuzz target `compile`: the scanner and compiler on arbitrary bytes. They must never panic
//! (or overflow the stack, or hang): every input either compiles or yields compile errors in
//! clox's format, which the `lox` command turns into exit status 65. What compiles must also
//! disassemble (every instruction decodes, every operand is in range).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match lox::compiler::compile(data) {
        Ok(proto) => {
            let _ = lox::disasm::disassemble(&proto);
        }
        Err(e) => {
            assert!(
                !e.errors.is_empty(),
                "a failed compilation reports an error"
            );
            for line in &e.errors {
                assert!(
                    line.starts_with("[line "),
                    "unexpected error format: {line}"
                );
            }
        }
    }
});
