//! A bytecode disassembler for debugging and tests. Its listing follows the layout of clox's
//! `DEBUG_PRINT_CODE` output (offset, line or `|`, opcode, operands, constant value; numbers
//! printed like C's `%g`), so listings of the two implementations can be compared line by line.
//! It never panics, even on malformed code: missing operands and constants show as `?`.

use std::fmt::Write;

use crate::chunk::{Constant, Op, Proto};

/// Disassembles `proto` and every function nested in its constants, innermost first (the
/// order in which clox prints them as it finishes compiling each function).
pub fn disassemble(proto: &Proto) -> String {
    let mut out = String::new();
    disassemble_into(proto, &mut out);
    out
}

fn disassemble_into(proto: &Proto, out: &mut String) {
    for constant in &proto.constants {
        if let Constant::Function(inner) = constant {
            disassemble_into(inner, out);
        }
    }
    let name = match &proto.name {
        Some(name) => String::from_utf8_lossy(name).into_owned(),
        None => "<script>".to_owned(),
    };
    let _ = writeln!(out, "== {name} ==");
    let mut offset = 0;
    while offset < proto.code.len() {
        offset = disassemble_instruction(proto, offset, out);
    }
}

/// Appends one instruction's line to `out`; returns the offset of the next instruction.
pub fn disassemble_instruction(proto: &Proto, offset: usize, out: &mut String) -> usize {
    let _ = write!(out, "{offset:04} ");
    let line = proto.lines.get(offset);
    if offset > 0 && line.is_some() && line == proto.lines.get(offset - 1) {
        out.push_str("   | ");
    } else {
        match line {
            Some(l) => {
                let _ = write!(out, "{l:4} ");
            }
            None => out.push_str("   ? "),
        }
    }

    let byte = proto.code[offset];
    let Some(op) = Op::from_byte(byte) else {
        let _ = writeln!(out, "Unknown opcode {byte}");
        return offset + 1;
    };
    let operand = |i: usize| proto.code.get(offset + i).copied();
    let name = op_name(op);
    match op {
        Op::Constant
        | Op::GetGlobal
        | Op::DefineGlobal
        | Op::SetGlobal
        | Op::GetProperty
        | Op::SetProperty
        | Op::GetSuper
        | Op::Class
        | Op::Method => {
            let _ = writeln!(
                out,
                "{name:<16} {} '{}'",
                fmt_operand(operand(1)),
                constant_text(proto, operand(1))
            );
            offset + 2
        }
        Op::GetLocal | Op::SetLocal | Op::GetUpvalue | Op::SetUpvalue | Op::Call => {
            let _ = writeln!(out, "{name:<16} {}", fmt_operand(operand(1)));
            offset + 2
        }
        Op::Invoke | Op::SuperInvoke => {
            let argc = operand(2).map_or_else(|| "?".to_owned(), |a| a.to_string());
            let _ = writeln!(
                out,
                "{name:<16} ({argc} args) {} '{}'",
                fmt_operand(operand(1)),
                constant_text(proto, operand(1))
            );
            offset + 3
        }
        Op::Jump | Op::JumpIfFalse | Op::Loop => {
            let target = match (operand(1), operand(2)) {
                (Some(hi), Some(lo)) => {
                    let jump = (usize::from(hi) << 8) | usize::from(lo);
                    if op == Op::Loop {
                        // Negative for a malformed jump before the start of the code.
                        offset as i64 + 3 - jump as i64
                    } else {
                        (offset + 3 + jump) as i64
                    }
                }
                _ => -1,
            };
            let _ = writeln!(out, "{name:<16} {offset:4} -> {target}");
            offset + 3
        }
        Op::Closure => {
            let index = operand(1);
            let _ = writeln!(
                out,
                "{name:<16} {} {}",
                fmt_operand(index),
                constant_text(proto, index)
            );
            let upvalues = match index.and_then(|i| proto.constants.get(usize::from(i))) {
                Some(Constant::Function(f)) => usize::from(f.upvalue_count),
                _ => 0,
            };
            let mut at = offset + 2;
            for _ in 0..upvalues {
                let kind = match proto.code.get(at) {
                    Some(0) => "upvalue",
                    Some(_) => "local",
                    None => "?",
                };
                let index = fmt_operand(proto.code.get(at + 1).copied());
                let _ = writeln!(
                    out,
                    "{at:04}      |                     {kind} {}",
                    index.trim()
                );
                at += 2;
            }
            at
        }
        Op::Nil
        | Op::True
        | Op::False
        | Op::Pop
        | Op::Equal
        | Op::Greater
        | Op::Less
        | Op::Add
        | Op::Subtract
        | Op::Multiply
        | Op::Divide
        | Op::Not
        | Op::Negate
        | Op::Print
        | Op::CloseUpvalue
        | Op::Return
        | Op::Inherit => {
            let _ = writeln!(out, "{name}");
            offset + 1
        }
    }
}

fn fmt_operand(byte: Option<u8>) -> String {
    match byte {
        Some(b) => format!("{b:4}"),
        None => "   ?".to_owned(),
    }
}

/// How clox's `printValue` shows a constant.
fn constant_text(proto: &Proto, index: Option<u8>) -> String {
    match index.and_then(|i| proto.constants.get(usize::from(i))) {
        Some(Constant::Number(n)) => format_g(*n),
        Some(Constant::String(s)) => String::from_utf8_lossy(s).into_owned(),
        Some(Constant::Function(f)) => match &f.name {
            Some(name) => format!("<fn {}>", String::from_utf8_lossy(name)),
            None => "<script>".to_owned(),
        },
        None => "?".to_owned(),
    }
}

/// Formats a number like C's `printf("%g")`: six significant digits, trailing zeros removed,
/// exponent form when the exponent is below -4 or at least 6.
pub fn format_g(value: f64) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .to_owned();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Round to six significant digits first: the exponent is that of the rounded value.
    let sci = format!("{value:.5e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let mantissa = strip_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        let decimals = (5 - exponent).max(0) as usize;
        strip_zeros(&format!("{value:.decimals$}")).to_owned()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// clox's name for an opcode.
pub fn op_name(op: Op) -> &'static str {
    match op {
        Op::Constant => "OP_CONSTANT",
        Op::Nil => "OP_NIL",
        Op::True => "OP_TRUE",
        Op::False => "OP_FALSE",
        Op::Pop => "OP_POP",
        Op::GetLocal => "OP_GET_LOCAL",
        Op::SetLocal => "OP_SET_LOCAL",
        Op::GetGlobal => "OP_GET_GLOBAL",
        Op::DefineGlobal => "OP_DEFINE_GLOBAL",
        Op::SetGlobal => "OP_SET_GLOBAL",
        Op::GetUpvalue => "OP_GET_UPVALUE",
        Op::SetUpvalue => "OP_SET_UPVALUE",
        Op::GetProperty => "OP_GET_PROPERTY",
        Op::SetProperty => "OP_SET_PROPERTY",
        Op::GetSuper => "OP_GET_SUPER",
        Op::Equal => "OP_EQUAL",
        Op::Greater => "OP_GREATER",
        Op::Less => "OP_LESS",
        Op::Add => "OP_ADD",
        Op::Subtract => "OP_SUBTRACT",
        Op::Multiply => "OP_MULTIPLY",
        Op::Divide => "OP_DIVIDE",
        Op::Not => "OP_NOT",
        Op::Negate => "OP_NEGATE",
        Op::Print => "OP_PRINT",
        Op::Jump => "OP_JUMP",
        Op::JumpIfFalse => "OP_JUMP_IF_FALSE",
        Op::Loop => "OP_LOOP",
        Op::Call => "OP_CALL",
        Op::Invoke => "OP_INVOKE",
        Op::SuperInvoke => "OP_SUPER_INVOKE",
        Op::Closure => "OP_CLOSURE",
        Op::CloseUpvalue => "OP_CLOSE_UPVALUE",
        Op::Return => "OP_RETURN",
        Op::Class => "OP_CLASS",
        Op::Inherit => "OP_INHERIT",
        Op::Method => "OP_METHOD",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::compile;

    #[test]
    fn format_g_matches_printf() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.6180339887, "1.61803"),
            (1234.5678, "1234.57"),
            (-2.5, "-2.5"),
            (999999.5, "1e+06"),
            (1e300, "1e+300"),
            (f64::INFINITY, "inf"),
            (100.0, "100"),
        ];
        for &(v, want) in cases {
            assert_eq!(format_g(v), want, "formatting {v}");
        }
    }

    #[test]
    fn small_program_listing() {
        let src = b"fun add(a, b) {\n  return a + b;\n}\nprint add(1, 2);\n";
        let proto = compile(src).expect("compiles");
        let text = disassemble(&proto);
        let want = "\
== add ==
0000    2 OP_GET_LOCAL        1
0002    | OP_GET_LOCAL        2
0004    | OP_ADD
0005    | OP_RETURN
0006    3 OP_NIL
0007    | OP_RETURN
== <script> ==
0000    3 OP_CLOSURE          1 <fn add>
0002    | OP_DEFINE_GLOBAL    0 'add'
0004    4 OP_GET_GLOBAL       0 'add'
0006    | OP_CONSTANT         2 '1'
0008    | OP_CONSTANT         3 '2'
0010    | OP_CALL             2
0012    | OP_PRINT
0013    5 OP_NIL
0014    | OP_RETURN
";
        assert_eq!(text, want);
    }

    #[test]
    fn closures_jumps_and_invokes() {
        let src =
            b"fun f() { var x = 1; fun g() { return x; } while (x < 3) x = x + 1; return g; }\n\
                    class A { m() { return this; } }\nA().m(7);";
        let proto = compile(src).expect("compiles");
        let text = disassemble(&proto);
        assert!(text.contains("OP_CLOSURE          1 <fn g>\n"), "{text}");
        assert!(text.contains("|                     local 1\n"), "{text}");
        assert!(text.contains("OP_GET_UPVALUE      0\n"), "{text}");
        assert!(text.contains("OP_JUMP_IF_FALSE"), "{text}");
        assert!(text.contains("OP_LOOP"), "{text}");
        assert!(
            text.contains("OP_INVOKE        (1 args)    3 'm'\n"),
            "{text}"
        );
    }

    #[test]
    fn malformed_code_does_not_panic() {
        let proto = Proto {
            code: vec![
                Op::Constant as u8,
                Op::Jump as u8,
                0xff,
                200,
                Op::Closure as u8,
            ],
            lines: vec![1],
            ..Proto::default()
        };
        let text = disassemble(&proto);
        assert!(text.contains("Unknown opcode 200"), "{text}");
        assert!(text.contains("OP_CLOSURE"), "{text}");
    }
}
