//! Load-time check of a prototype's bytecode, so the dispatch loop can run without bounds
//! checks: every operand is in range (constants of the right kind, local slots below the stack
//! height, upvalue indices, jump targets), the stack never underflows, execution cannot run off
//! the end of the code, and the largest stack height of a frame is known (`max_stack`). The
//! loader stores it in the Function object, and the VM checks `frame base + max_stack` against
//! the stack size once per call.
//!
//! The compiler emits structured code where each instruction has one stack height; this is a
//! worklist data-flow pass over that; two paths reaching one offset with different heights is an
//! error.

use std::fmt;

use crate::chunk::{Constant, Op, Proto};

/// Why a prototype failed the check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The instruction at `pc` would raise the stack height past [`MAX_STACK`]. The only
    /// failure the compiler can produce from well-formed source: it reports it with a line.
    TooManySlots { pc: usize },
    /// Anything else: a compiler bug, or a prototype built by hand.
    Malformed(String),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::TooManySlots { pc } => write!(
                f,
                "bad bytecode at {pc}: function needs more than {MAX_STACK} stack slots"
            ),
            Invalid::Malformed(why) => f.write_str(why),
        }
    }
}

/// Checks `p` (not its nested functions) and returns its maximum stack height, counted from
/// the frame base (slot 0 is the callee).
pub fn check(p: &Proto) -> Result<u32, Invalid> {
    check_code(p).map_err(|e| match e {
        Walk::TooManySlots(pc) => Invalid::TooManySlots { pc },
        Walk::Malformed(why) => Invalid::Malformed(why),
    })
}

/// How the walk stopped early; `String` errors from the operand helpers convert into it.
enum Walk {
    TooManySlots(usize),
    Malformed(String),
}

impl From<String> for Walk {
    fn from(why: String) -> Self {
        Walk::Malformed(why)
    }
}

fn check_code(p: &Proto) -> Result<u32, Walk> {
    let code = &p.code;
    if code.len() != p.lines.len() {
        return Err(String::from("line table length differs from code length").into());
    }
    if code.len() > u32::MAX as usize / 2 {
        return Err(String::from("function too large").into());
    }
    // Stack height on entry to each offset; -1 = not reached yet.
    let mut height: Vec<i32> = vec![-1; code.len()];
    let mut work: Vec<(usize, i32)> = vec![(0, i32::from(p.arity) + 1)];
    let mut max = i32::from(p.arity) + 1;
    let err = |pc: usize, what: &str| Err(Walk::Malformed(format!("bad bytecode at {pc}: {what}")));

    while let Some((pc, h)) = work.pop() {
        if pc >= code.len() {
            return err(pc, "execution runs past the end of the code");
        }
        if height[pc] == h {
            continue;
        }
        if height[pc] >= 0 {
            return err(pc, "inconsistent stack height");
        }
        height[pc] = h;
        let Some(op) = Op::from_byte(code[pc]) else {
            return err(pc, "unknown opcode");
        };
        let operand = |i: usize| -> Result<u8, String> {
            code.get(pc + i)
                .copied()
                .ok_or_else(|| format!("bad bytecode at {pc}: truncated"))
        };
        let constant = |i: usize| -> Result<&Constant, String> {
            let c = operand(i)? as usize;
            p.constants
                .get(c)
                .ok_or_else(|| format!("bad bytecode at {pc}: constant {c} out of range"))
        };
        let string_constant = |i: usize| -> Result<(), String> {
            match constant(i)? {
                Constant::String(_) => Ok(()),
                _ => Err(format!(
                    "bad bytecode at {pc}: name operand is not a string"
                )),
            }
        };
        // (pops required, net effect, instruction length)
        let (need, effect, len): (i32, i32, usize) = match op {
            Op::Constant => {
                constant(1)?;
                (0, 1, 2)
            }
            Op::Nil | Op::True | Op::False => (0, 1, 1),
            Op::Pop | Op::Print | Op::CloseUpvalue => (1, -1, 1),
            Op::GetLocal | Op::SetLocal => {
                let slot = i32::from(operand(1)?);
                if slot >= h {
                    return err(pc, "local slot above the stack top");
                }
                if op == Op::GetLocal {
                    (0, 1, 2)
                } else {
                    (1, 0, 2)
                }
            }
            Op::GetGlobal => {
                string_constant(1)?;
                (0, 1, 2)
            }
            Op::DefineGlobal => {
                string_constant(1)?;
                (1, -1, 2)
            }
            Op::SetGlobal | Op::GetProperty => {
                string_constant(1)?;
                (1, 0, 2)
            }
            Op::GetUpvalue | Op::SetUpvalue => {
                if u16::from(operand(1)?) >= p.upvalue_count {
                    return err(pc, "upvalue index out of range");
                }
                if op == Op::GetUpvalue {
                    (0, 1, 2)
                } else {
                    (1, 0, 2)
                }
            }
            Op::SetProperty | Op::GetSuper | Op::Method => {
                string_constant(1)?;
                (2, -1, 2)
            }
            Op::Equal
            | Op::Greater
            | Op::Less
            | Op::Add
            | Op::Subtract
            | Op::Multiply
            | Op::Divide
            | Op::Inherit => (2, -1, 1),
            Op::Not | Op::Negate => (1, 0, 1),
            Op::Jump | Op::JumpIfFalse | Op::Loop => {
                let off = (usize::from(operand(1)?) << 8) | usize::from(operand(2)?);
                let next = pc + 3;
                let target = if op == Op::Loop {
                    next.checked_sub(off)
                        .ok_or_else(|| format!("bad bytecode at {pc}: loop before start"))?
                } else {
                    next + off
                };
                let need = i32::from(op == Op::JumpIfFalse);
                if h < need {
                    return err(pc, "stack underflow");
                }
                work.push((target, h));
                if op == Op::JumpIfFalse {
                    work.push((next, h));
                }
                continue;
            }
            Op::Call => {
                let argc = i32::from(operand(1)?);
                (argc + 1, -argc, 2)
            }
            Op::Invoke => {
                string_constant(1)?;
                let argc = i32::from(operand(2)?);
                (argc + 1, -argc, 3)
            }
            Op::SuperInvoke => {
                string_constant(1)?;
                let argc = i32::from(operand(2)?);
                (argc + 2, -argc - 1, 3)
            }
            Op::Closure => {
                let Constant::Function(f) = constant(1)? else {
                    return err(pc, "closure operand is not a function");
                };
                for u in 0..usize::from(f.upvalue_count) {
                    let is_local = operand(2 + 2 * u)?;
                    let index = operand(3 + 2 * u)?;
                    // The new closure is pushed before capturing, so a local function may
                    // capture its own slot (index == h).
                    let ok = match is_local {
                        1 => i32::from(index) <= h,
                        0 => u16::from(index) < p.upvalue_count,
                        _ => false,
                    };
                    if !ok {
                        return err(pc, "bad upvalue capture");
                    }
                }
                (0, 1, 2 + 2 * usize::from(f.upvalue_count))
            }
            Op::Return => {
                if h < 1 {
                    return err(pc, "stack underflow");
                }
                continue;
            }
            Op::Class => {
                string_constant(1)?;
                (0, 1, 2)
            }
        };
        if h < need {
            return err(pc, "stack underflow");
        }
        let nh = h + effect;
        if nh > MAX_STACK as i32 {
            return Err(Walk::TooManySlots(pc));
        }
        max = max.max(nh);
        work.push((pc + len, nh));
    }
    Ok(max as u32)
}

/// Most stack slots one frame may use: the loader packs it into 15 bits of a function's header.
pub const MAX_STACK: u32 = 0x7fff;

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(code: Vec<u8>, constants: Vec<Constant>) -> Proto {
        let lines = vec![1; code.len()];
        Proto {
            name: None,
            arity: 0,
            upvalue_count: 0,
            code,
            lines,
            constants,
        }
    }

    #[test]
    fn straight_line_height() {
        // 1 + 2; print; nil; return
        let p = proto(
            vec![
                Op::Constant as u8,
                0,
                Op::Constant as u8,
                0,
                Op::Add as u8,
                Op::Print as u8,
                Op::Nil as u8,
                Op::Return as u8,
            ],
            vec![Constant::Number(1.0)],
        );
        assert_eq!(check(&p), Ok(3));
    }

    #[test]
    fn branches_merge() {
        // true; jump-if-false +4; pop; nil; jump +1; pop; nil; return
        let p = proto(
            vec![
                Op::True as u8,
                Op::JumpIfFalse as u8,
                0,
                5,
                Op::Pop as u8,
                Op::Nil as u8,
                Op::Jump as u8,
                0,
                2,
                Op::Pop as u8,
                Op::Nil as u8,
                Op::Return as u8,
            ],
            vec![],
        );
        assert_eq!(check(&p), Ok(2));
    }

    #[test]
    fn rejects_bad_code() {
        // Slot 0 (the callee) may be popped, but not more.
        let underflow = proto(
            vec![
                Op::Pop as u8,
                Op::Pop as u8,
                Op::Nil as u8,
                Op::Return as u8,
            ],
            vec![],
        );
        assert!(check(&underflow)
            .unwrap_err()
            .to_string()
            .contains("underflow"));
        let falls_off = proto(vec![Op::Nil as u8], vec![]);
        assert!(check(&falls_off).is_err());
        let bad_local = proto(vec![Op::GetLocal as u8, 3, Op::Return as u8], vec![]);
        assert!(check(&bad_local).is_err());
        let mismatch = proto(
            vec![
                Op::True as u8,
                Op::JumpIfFalse as u8,
                0,
                1,
                Op::Nil as u8,
                Op::Nil as u8,
                Op::Return as u8,
            ],
            vec![],
        );
        assert!(check(&mismatch)
            .unwrap_err()
            .to_string()
            .contains("inconsistent"));
        let bad_const = proto(vec![Op::Constant as u8, 0, Op::Return as u8], vec![]);
        assert!(check(&bad_const).is_err());
        let bad_name = proto(
            vec![Op::GetGlobal as u8, 0, Op::Return as u8],
            vec![Constant::Number(1.0)],
        );
        assert!(check(&bad_name).is_err());
        let bad_op = proto(vec![200], vec![]);
        assert!(check(&bad_op).is_err());
        let bad_loop = proto(vec![Op::Loop as u8, 0, 9], vec![]);
        assert!(check(&bad_loop).is_err());
    }
}
