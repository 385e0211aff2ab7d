//! The single-pass compiler: Lox source bytes in, an off-heap prototype tree (`chunk::Proto`)
//! out, with the reference clox's bytecode shape, error messages and panic-mode recovery.
//!
//! This file owns the parser plumbing shared by the submodules: token flow, error reporting,
//! byte emission, constants, jumps and the nesting-depth guard. `scope` owns functions, locals
//! and upvalues; `expr` the Pratt expression parser; `stmt` declarations and statements.
//!
//! Differences from clox, all deliberate:
//! - String constants (literals and identifier names) are de-duplicated by content within a
//!   chunk, so a chunk may use up to 256 *distinct* strings. Numbers are not de-duplicated.
//! - Nesting (expressions, statements, functions) deeper than [`MAX_NESTING`] stops
//!   compilation with `Too deeply nested.` instead of overflowing the native stack.
//! - While `Proto::upvalue_count` is a `u8`, a function with exactly 256 upvalues (clox's
//!   maximum) is rejected with `Too many closure variables in function.`.
//! - A function whose stack would need more than [`verify::MAX_STACK`] slots (clox has no such
//!   limit) is rejected with a line: the loader would refuse it anyway, without one.

#[cfg(test)]
mod clox_diff;
mod expr;
mod scope;
mod stmt;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::chunk::{Constant, Op, Proto};
use crate::scanner::{Scanner, Token, TokenKind};
use crate::verify;
use scope::{FnKind, FnState};

/// How many nested constructs (sub-expressions, statements, function bodies) the compiler
/// accepts before giving up. Each level costs a few native stack frames: measured at most
/// ~0.85 KiB per level in a debug build (nested class methods; ~0.1-0.3 KiB for expressions and
/// blocks), so the limit needs under 1 MiB of stack, well inside an 8 MiB main thread and even
/// a 2 MiB test thread (the `nesting_limit_*` tests run every nesting form there).
pub const MAX_NESTING: u32 = 1000;

/// A chunk refers to constants by a one-byte index.
const MAX_CONSTANTS: usize = u8::MAX as usize + 1;

/// Compilation failed. `errors` holds the diagnostics exactly as clox prints them to stderr,
/// one line each, e.g. `[line 3] Error at ';': Expect expression.`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    pub errors: Vec<String>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(line)?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileError {}

/// Compiles a whole Lox script into the prototype of its top-level function.
pub fn compile(source: &[u8]) -> Result<Proto, CompileError> {
    let mut c = Compiler::new(source);
    c.advance();
    while !c.matches(TokenKind::Eof) {
        c.declaration();
    }
    let (proto, _) = c.end_function();
    if c.had_error {
        Err(CompileError { errors: c.errors })
    } else {
        Ok(proto)
    }
}

/// Per-class state: whether `super` is usable inside its methods.
struct ClassState {
    has_superclass: bool,
}

/// The whole compiler state. Functions being compiled form a stack: `cur` is the innermost,
/// `outer` holds its enclosing functions, outermost (the script) first.
pub(crate) struct Compiler<'s> {
    scanner: Scanner<'s>,
    current: Token<'s>,
    previous: Token<'s>,
    had_error: bool,
    panic_mode: bool,
    /// Set when the nesting limit was hit: the rest of the input is skipped and no further
    /// errors are reported.
    abandoned: bool,
    errors: Vec<String>,
    cur: FnState<'s>,
    outer: Vec<FnState<'s>>,
    classes: Vec<ClassState>,
    nesting: u32,
}

impl<'s> Compiler<'s> {
    fn new(source: &'s [u8]) -> Self {
        let start = Token {
            kind: TokenKind::Eof,
            lexeme: b"",
            line: 1,
        };
        Compiler {
            scanner: Scanner::new(source),
            current: start,
            previous: start,
            had_error: false,
            panic_mode: false,
            abandoned: false,
            errors: Vec::new(),
            cur: FnState::new(FnKind::Script, None),
            outer: Vec::new(),
            classes: Vec::new(),
            nesting: 0,
        }
    }

    // ----- errors -----

    fn error_at(&mut self, token: Token<'s>, message: &str) {
        if self.panic_mode || self.abandoned {
            return;
        }
        self.panic_mode = true;
        self.report(token, message);
    }

    fn report(&mut self, token: Token<'s>, message: &str) {
        let line = match token.kind {
            TokenKind::Eof => format!("[line {}] Error at end: {}", token.line, message),
            TokenKind::Error => format!("[line {}] Error: {}", token.line, message),
            _ => format!(
                "[line {}] Error at '{}': {}",
                token.line,
                String::from_utf8_lossy(token.lexeme),
                message
            ),
        };
        self.errors.push(line);
        self.had_error = true;
    }

    /// Reports an error at the token just consumed.
    fn error(&mut self, message: &str) {
        self.error_at(self.previous, message);
    }

    /// Reports an error at the token about to be consumed.
    fn error_at_current(&mut self, message: &str) {
        self.error_at(self.current, message);
    }

    // ----- token flow -----

    fn advance(&mut self) {
        self.previous = self.current;
        loop {
            self.current = self.scanner.next_token();
            if self.current.kind != TokenKind::Error {
                break;
            }
            let message = String::from_utf8_lossy(self.current.lexeme).into_owned();
            self.error_at_current(&message);
        }
    }

    fn consume(&mut self, kind: TokenKind, message: &str) {
        if self.current.kind == kind {
            self.advance();
        } else {
            self.error_at_current(message);
        }
    }

    #[inline]
    fn check(&self, kind: TokenKind) -> bool {
        self.current.kind == kind
    }

    fn matches(&mut self, kind: TokenKind) -> bool {
        if self.check(kind) {
            self.advance();
            true
        } else {
            false
        }
    }

    // ----- nesting guard -----

    /// Enters one nesting level for the construct starting at `at`. Returns false, after
    /// reporting `Too deeply nested.` there and abandoning the compilation, if that would exceed
    /// [`MAX_NESTING`]; the caller must then return without recursing (and without calling
    /// [`Compiler::leave`]).
    fn enter(&mut self, at: Token<'s>) -> bool {
        if self.nesting >= MAX_NESTING {
            if !self.abandoned {
                // Reported even in panic mode: it is fatal and explains why nothing follows.
                self.report(at, "Too deeply nested.");
                self.abandoned = true;
            }
            // Make every parse loop see the end of input so that the recursion unwinds.
            self.scanner.skip_to_end();
            self.current = Token {
                kind: TokenKind::Eof,
                lexeme: b"",
                line: self.current.line,
            };
            return false;
        }
        self.nesting += 1;
        true
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    // ----- emission -----

    fn emit(&mut self, byte: u8) {
        let line = self.previous.line;
        let proto = &mut self.cur.proto;
        proto.code.push(byte);
        proto.lines.push(line);
    }

    fn emit_op(&mut self, op: Op) {
        self.emit(op as u8);
    }

    fn emit_op_arg(&mut self, op: Op, arg: u8) {
        self.emit(op as u8);
        self.emit(arg);
    }

    /// The implicit return at the end of a function body or a bare `return;`.
    fn emit_return(&mut self) {
        if self.cur.kind == FnKind::Initializer {
            self.emit_op_arg(Op::GetLocal, 0);
        } else {
            self.emit_op(Op::Nil);
        }
        self.emit_op(Op::Return);
    }

    /// Emits a forward jump with a placeholder offset; returns where the offset lives.
    fn emit_jump(&mut self, op: Op) -> usize {
        self.emit_op(op);
        self.emit(0xff);
        self.emit(0xff);
        self.cur.proto.code.len() - 2
    }

    /// Points the jump whose offset lives at `at` to the current end of the code.
    fn patch_jump(&mut self, at: usize) {
        let jump = self.cur.proto.code.len() - at - 2;
        if jump > u16::MAX as usize {
            self.error("Too much code to jump over.");
        }
        let code = &mut self.cur.proto.code;
        code[at] = (jump >> 8) as u8;
        code[at + 1] = jump as u8;
    }

    /// Emits a backward jump to `start`.
    fn emit_loop(&mut self, start: usize) {
        self.emit_op(Op::Loop);
        let offset = self.cur.proto.code.len() - start + 2;
        if offset > u16::MAX as usize {
            self.error("Loop body too large.");
        }
        self.emit((offset >> 8) as u8);
        self.emit(offset as u8);
    }

    /// Reports a finished function whose stack would pass [`verify::MAX_STACK`] slots (say
    /// nested calls with hundreds of arguments each), at the line of the first instruction
    /// that passes it. Each instruction pushes at most one value, so a function with fewer
    /// bytes of code than the limit cannot reach it: most functions skip the walk. Reported
    /// without panic mode: the function's closing brace is already consumed.
    fn check_stack_slots(&mut self, proto: &Proto) {
        let bound = proto.code.len() + usize::from(proto.arity) + 1;
        if self.had_error || bound <= verify::MAX_STACK as usize {
            return;
        }
        // Any other failure is the loader's to report: it is no fault of the source.
        if let Err(verify::Invalid::TooManySlots { pc }) = verify::check(proto) {
            let line = proto.lines.get(pc).copied().unwrap_or(self.previous.line);
            self.errors.push(format!(
                "[line {line}] Error: Function or expression needs more than {} stack slots.",
                verify::MAX_STACK
            ));
            self.had_error = true;
        }
    }

    // ----- constants -----

    /// Adds a constant to the current chunk, or reports that the chunk is full and returns 0.
    fn make_constant(&mut self, value: Constant) -> u8 {
        let constants = &mut self.cur.proto.constants;
        if constants.len() >= MAX_CONSTANTS {
            self.error("Too many constants in one chunk.");
            return 0;
        }
        constants.push(value);
        (constants.len() - 1) as u8
    }

    /// The index of a string constant with these bytes, shared with any earlier one.
    fn string_constant(&mut self, bytes: &'s [u8]) -> u8 {
        if let Some(&index) = self.cur.strings.get(bytes) {
            return index;
        }
        let full = self.cur.proto.constants.len() >= MAX_CONSTANTS;
        let index = self.make_constant(Constant::String(bytes.into()));
        if !full {
            self.cur.strings.insert(bytes, index);
        }
        index
    }

    fn emit_constant(&mut self, value: Constant) {
        let index = self.make_constant(value);
        self.emit_op_arg(Op::Constant, index);
    }
}

/// String constants already in a chunk, by content. A table never holds more than 256 keys, so
/// hash flooding cannot hurt and a fast unkeyed hash beats the default SipHash.
type StringTable<'s> = HashMap<&'s [u8], u8, BuildHasherDefault<FnvHasher>>;

/// 64-bit FNV-1a.
struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FnvHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
