//! Compiled code as the compiler hands it to the VM: a tree of function prototypes, entirely
//! off-heap. The compiler never touches the managed heap; the loader (`load.rs`) turns a
//! prototype tree into heap objects (functions with their constant arrays, interned strings),
//! so no collection can ever run in the middle of compilation.

/// One instruction's opcode. Operands follow inline; the comment gives their layout.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `const: u8` — push constant.
    Constant,
    Nil,
    True,
    False,
    Pop,
    /// `slot: u8`
    GetLocal,
    /// `slot: u8`
    SetLocal,
    /// `name: u8` (string constant)
    GetGlobal,
    /// `name: u8`
    DefineGlobal,
    /// `name: u8`
    SetGlobal,
    /// `index: u8`
    GetUpvalue,
    /// `index: u8`
    SetUpvalue,
    /// `name: u8`
    GetProperty,
    /// `name: u8`
    SetProperty,
    /// `name: u8` — pops the superclass, replaces the receiver with the bound method.
    GetSuper,
    Equal,
    Greater,
    Less,
    Add,
    Subtract,
    Multiply,
    Divide,
    Not,
    Negate,
    Print,
    /// `offset: u16` big-endian, forward from the end of the operand.
    Jump,
    /// `offset: u16` — jumps if the top of stack is falsey; does not pop.
    JumpIfFalse,
    /// `offset: u16` — backward from the end of the operand.
    Loop,
    /// `argc: u8`
    Call,
    /// `name: u8, argc: u8`
    Invoke,
    /// `name: u8, argc: u8` — the superclass is on top of the arguments.
    SuperInvoke,
    /// `const: u8` (a function constant), then `upvalue_count` pairs `is_local: u8, index: u8`.
    Closure,
    CloseUpvalue,
    Return,
    /// `name: u8`
    Class,
    Inherit,
    /// `name: u8`
    Method,
}

impl Op {
    /// Every opcode, indexed by its byte value.
    pub const ALL: [Op; 37] = [
        Op::Constant,
        Op::Nil,
        Op::True,
        Op::False,
        Op::Pop,
        Op::GetLocal,
        Op::SetLocal,
        Op::GetGlobal,
        Op::DefineGlobal,
        Op::SetGlobal,
        Op::GetUpvalue,
        Op::SetUpvalue,
        Op::GetProperty,
        Op::SetProperty,
        Op::GetSuper,
        Op::Equal,
        Op::Greater,
        Op::Less,
        Op::Add,
        Op::Subtract,
        Op::Multiply,
        Op::Divide,
        Op::Not,
        Op::Negate,
        Op::Print,
        Op::Jump,
        Op::JumpIfFalse,
        Op::Loop,
        Op::Call,
        Op::Invoke,
        Op::SuperInvoke,
        Op::Closure,
        Op::CloseUpvalue,
        Op::Return,
        Op::Class,
        Op::Inherit,
        Op::Method,
    ];

    #[inline]
    pub fn from_byte(b: u8) -> Option<Op> {
        Op::ALL.get(b as usize).copied()
    }
}

/// A constant of a prototype. Strings are raw bytes: Lox source need not be UTF-8.
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    Number(f64),
    String(Box<[u8]>),
    Function(Box<Proto>),
}

/// A compiled function: bytecode and line table off-heap, constants still off-heap until loaded.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Proto {
    /// `None` for the top-level script.
    pub name: Option<Box<[u8]>>,
    pub arity: u8,
    /// Up to 256 (clox's limit), so wider than a byte.
    pub upvalue_count: u16,
    pub code: Vec<u8>,
    /// Source line of each byte of `code`.
    pub lines: Vec<u32>,
    /// At most 256; string constants are de-duplicated by content.
    pub constants: Vec<Constant>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_table_matches_discriminants() {
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(*op as u8 as usize, i);
            assert_eq!(Op::from_byte(i as u8), Some(*op));
        }
        assert_eq!(Op::from_byte(Op::ALL.len() as u8), None);
    }
}
