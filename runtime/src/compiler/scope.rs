//! Functions under compilation and the names they see: block scopes, local slots, upvalue
//! capture across enclosing functions, and the variable declare/define protocol (globals by
//! name constant, locals by stack slot).

use super::{Compiler, StringTable};
use crate::chunk::{Op, Proto};

/// At most this many locals live in one function's frame (slot indices are one byte).
const MAX_LOCALS: usize = u8::MAX as usize + 1;
/// At most this many upvalues per function (upvalue indices are one byte).
const MAX_UPVALUES: usize = u8::MAX as usize + 1;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum FnKind {
    Function,
    Initializer,
    Method,
    Script,
}

/// A local variable slot. `depth` is the scope depth it belongs to, or -1 while it is
/// declared but its initializer is still being compiled.
struct Local<'s> {
    name: &'s [u8],
    depth: i32,
    captured: bool,
}

/// Where a closure's upvalue comes from: a local slot of the enclosing function, or one of the
/// enclosing function's own upvalues.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct Upvalue {
    pub is_local: bool,
    pub index: u8,
}

/// One function being compiled.
pub(super) struct FnState<'s> {
    pub proto: Proto,
    pub kind: FnKind,
    locals: Vec<Local<'s>>,
    pub upvalues: Vec<Upvalue>,
    scope_depth: i32,
    /// Parameter count; may pass 255 while reporting the error.
    pub arity: u32,
    pub strings: StringTable<'s>,
}

impl<'s> FnState<'s> {
    pub fn new(kind: FnKind, name: Option<&'s [u8]>) -> Self {
        // Slot 0 holds the callee; in methods (and, as in clox, the script) it is named `this`
        // so that `this` resolves to it. An empty name can never be looked up.
        let slot0: &'static [u8] = if kind == FnKind::Function {
            b""
        } else {
            b"this"
        };
        FnState {
            proto: Proto {
                name: name.map(Into::into),
                ..Proto::default()
            },
            kind,
            locals: vec![Local {
                name: slot0,
                depth: 0,
                captured: false,
            }],
            upvalues: Vec::new(),
            scope_depth: 0,
            arity: 0,
            strings: StringTable::default(),
        }
    }
}

impl<'s> Compiler<'s> {
    /// The function at `level` of the compilation stack: 0 is the script, `outer.len()` is
    /// the current one.
    fn level(&mut self, level: usize) -> &mut FnState<'s> {
        if level < self.outer.len() {
            &mut self.outer[level]
        } else {
            &mut self.cur
        }
    }

    /// Starts compiling a nested function named by the previous token.
    pub(super) fn begin_function(&mut self, kind: FnKind) {
        let state = FnState::new(kind, Some(self.previous.lexeme));
        let enclosing = std::mem::replace(&mut self.cur, state);
        self.outer.push(enclosing);
    }

    /// Finishes the current function: emits its implicit return and hands back its prototype
    /// and the upvalue descriptors its `Closure` instruction needs. The enclosing function
    /// becomes current again (for the script, the state is left empty).
    pub(super) fn end_function(&mut self) -> (Proto, Vec<Upvalue>) {
        self.emit_return();
        let upvalue_count = match self.cur.upvalues.len().try_into() {
            Ok(n) => n,
            Err(_) => {
                // Unreachable while `Proto::upvalue_count` holds 256 (clox's limit, enforced
                // when each upvalue is added); kept so a narrower field fails cleanly. Reported
                // without entering panic mode: the function's closing brace is already consumed
                // and resynchronising would skip the rest of the enclosing code.
                if !self.had_error {
                    self.report(self.previous, "Too many closure variables in function.");
                }
                0
            }
        };
        let arity = self.cur.arity.min(u8::MAX as u32) as u8;
        let enclosing = self
            .outer
            .pop()
            .unwrap_or_else(|| FnState::new(FnKind::Script, None));
        let mut done = std::mem::replace(&mut self.cur, enclosing);
        done.proto.upvalue_count = upvalue_count;
        done.proto.arity = arity;
        self.check_stack_slots(&done.proto);
        (done.proto, done.upvalues)
    }

    pub(super) fn begin_scope(&mut self) {
        self.cur.scope_depth += 1;
    }

    /// Leaves a block scope, popping its locals (closing those that closures captured).
    pub(super) fn end_scope(&mut self) {
        self.cur.scope_depth -= 1;
        while let Some(local) = self.cur.locals.last() {
            if local.depth <= self.cur.scope_depth {
                break;
            }
            let op = if local.captured {
                Op::CloseUpvalue
            } else {
                Op::Pop
            };
            self.emit_op(op);
            self.cur.locals.pop();
        }
    }

    pub(super) fn identifier_constant(&mut self, name: &'s [u8]) -> u8 {
        self.string_constant(name)
    }

    /// The slot of the innermost local called `name` in the function at `level`.
    fn resolve_local(&mut self, level: usize, name: &[u8]) -> Option<usize> {
        let state = self.level(level);
        let slot = state.locals.iter().rposition(|l| l.name == name)?;
        if state.locals[slot].depth == -1 {
            self.error("Can't read local variable in its own initializer.");
        }
        Some(slot)
    }

    /// Adds (or finds) an upvalue of the function at `level`.
    fn add_upvalue(&mut self, level: usize, index: u8, is_local: bool) -> u8 {
        let state = self.level(level);
        let wanted = Upvalue { is_local, index };
        if let Some(i) = state.upvalues.iter().position(|u| *u == wanted) {
            return i as u8;
        }
        if state.upvalues.len() == MAX_UPVALUES {
            self.error("Too many closure variables in function.");
            return 0;
        }
        state.upvalues.push(wanted);
        (state.upvalues.len() - 1) as u8
    }

    /// Resolves `name` as an upvalue of the function at `level`: finds the nearest enclosing
    /// function declaring it as a local, then threads an upvalue through every function in
    /// between, outermost first (the same result as clox's recursion, without recursing).
    fn resolve_upvalue(&mut self, level: usize, name: &[u8]) -> Option<u8> {
        let mut owner = level;
        let slot = loop {
            if owner == 0 {
                return None;
            }
            owner -= 1;
            if let Some(slot) = self.resolve_local(owner, name) {
                break slot;
            }
        };
        self.level(owner).locals[slot].captured = true;
        let mut index = self.add_upvalue(owner + 1, slot as u8, true);
        for inner in owner + 2..=level {
            index = self.add_upvalue(inner, index, false);
        }
        Some(index)
    }

    /// Emits a read of `name`, or an assignment to it when `can_assign` and `=` follows.
    pub(super) fn named_variable(&mut self, name: &'s [u8], can_assign: bool) {
        let here = self.outer.len();
        let (get, set, arg) = if let Some(slot) = self.resolve_local(here, name) {
            (Op::GetLocal, Op::SetLocal, slot as u8)
        } else if let Some(index) = self.resolve_upvalue(here, name) {
            (Op::GetUpvalue, Op::SetUpvalue, index)
        } else {
            let index = self.identifier_constant(name);
            (Op::GetGlobal, Op::SetGlobal, index)
        };
        if can_assign && self.matches(crate::scanner::TokenKind::Equal) {
            self.expression();
            self.emit_op_arg(set, arg);
        } else {
            self.emit_op_arg(get, arg);
        }
    }

    pub(super) fn add_local(&mut self, name: &'s [u8]) {
        if self.cur.locals.len() == MAX_LOCALS {
            self.error("Too many local variables in function.");
            return;
        }
        self.cur.locals.push(Local {
            name,
            depth: -1,
            captured: false,
        });
    }

    /// Declares the variable named by the previous token in the current block scope (globals
    /// are late-bound and need no declaration).
    pub(super) fn declare_variable(&mut self) {
        if self.cur.scope_depth == 0 {
            return;
        }
        let name = self.previous.lexeme;
        let depth = self.cur.scope_depth;
        let duplicate = self
            .cur
            .locals
            .iter()
            .rev()
            .take_while(|l| l.depth == -1 || l.depth >= depth)
            .any(|l| l.name == name);
        if duplicate {
            self.error("Already a variable with this name in this scope.");
        }
        self.add_local(name);
    }

    /// Parses a variable name; returns its name constant for a global, 0 for a local.
    pub(super) fn parse_variable(&mut self, message: &str) -> u8 {
        self.consume(crate::scanner::TokenKind::Identifier, message);
        self.declare_variable();
        if self.cur.scope_depth > 0 {
            return 0;
        }
        self.identifier_constant(self.previous.lexeme)
    }

    pub(super) fn mark_initialized(&mut self) {
        if self.cur.scope_depth == 0 {
            return;
        }
        let depth = self.cur.scope_depth;
        if let Some(local) = self.cur.locals.last_mut() {
            local.depth = depth;
        }
    }

    pub(super) fn define_variable(&mut self, global: u8) {
        if self.cur.scope_depth > 0 {
            self.mark_initialized();
            return;
        }
        self.emit_op_arg(Op::DefineGlobal, global);
    }
}
