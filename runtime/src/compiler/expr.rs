//! Expressions: a Pratt parser with clox's precedence table, emitting code as it parses.

use super::Compiler;
use crate::chunk::{Constant, Op};
use crate::scanner::TokenKind as K;

/// Binding power, weakest first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Prec {
    None,
    Assignment,
    Or,
    And,
    Equality,
    Comparison,
    Term,
    Factor,
    Unary,
    Call,
    Primary,
}

impl Prec {
    /// The next tighter level (left-associative binary operators parse their right operand
    /// at this level).
    fn tighter(self) -> Prec {
        match self {
            Prec::None => Prec::Assignment,
            Prec::Assignment => Prec::Or,
            Prec::Or => Prec::And,
            Prec::And => Prec::Equality,
            Prec::Equality => Prec::Comparison,
            Prec::Comparison => Prec::Term,
            Prec::Term => Prec::Factor,
            Prec::Factor => Prec::Unary,
            Prec::Unary => Prec::Call,
            Prec::Call | Prec::Primary => Prec::Primary,
        }
    }
}

/// How tightly `kind` binds as an infix operator (`None` if it is not one).
fn infix_precedence(kind: K) -> Prec {
    match kind {
        K::LeftParen | K::Dot => Prec::Call,
        K::Minus | K::Plus => Prec::Term,
        K::Slash | K::Star => Prec::Factor,
        K::BangEqual | K::EqualEqual => Prec::Equality,
        K::Greater | K::GreaterEqual | K::Less | K::LessEqual => Prec::Comparison,
        K::And => Prec::And,
        K::Or => Prec::Or,
        _ => Prec::None,
    }
}

impl<'s> Compiler<'s> {
    pub(super) fn expression(&mut self) {
        self.parse_precedence(Prec::Assignment);
    }

    /// Parses an expression whose operators bind at least as tightly as `prec`.
    pub(super) fn parse_precedence(&mut self, prec: Prec) {
        if !self.enter(self.current) {
            return;
        }
        self.advance();
        let can_assign = prec <= Prec::Assignment;
        if self.prefix(self.previous.kind, can_assign) {
            while prec <= infix_precedence(self.current.kind) {
                self.advance();
                self.infix(self.previous.kind, can_assign);
            }
            if can_assign && self.matches(K::Equal) {
                self.error("Invalid assignment target.");
            }
        } else {
            self.error("Expect expression.");
        }
        self.leave();
    }

    /// Compiles the prefix form starting with the token just consumed; false if there is none.
    fn prefix(&mut self, kind: K, can_assign: bool) -> bool {
        match kind {
            K::LeftParen => self.grouping(),
            K::Minus | K::Bang => self.unary(kind),
            K::Number => self.number(),
            K::String => self.string(),
            K::Identifier => self.named_variable(self.previous.lexeme, can_assign),
            K::False => self.emit_op(Op::False),
            K::True => self.emit_op(Op::True),
            K::Nil => self.emit_op(Op::Nil),
            K::Super => self.super_(),
            K::This => self.this_(),
            _ => return false,
        }
        true
    }

    /// Compiles the infix form whose operator was just consumed.
    fn infix(&mut self, kind: K, can_assign: bool) {
        match kind {
            K::LeftParen => {
                let argc = self.argument_list();
                self.emit_op_arg(Op::Call, argc);
            }
            K::Dot => self.dot(can_assign),
            K::And => self.and_(),
            K::Or => self.or_(),
            _ => self.binary(kind),
        }
    }

    fn grouping(&mut self) {
        self.expression();
        self.consume(K::RightParen, "Expect ')' after expression.");
    }

    fn unary(&mut self, op: K) {
        self.parse_precedence(Prec::Unary);
        self.emit_op(if op == K::Bang { Op::Not } else { Op::Negate });
    }

    fn binary(&mut self, op: K) {
        self.parse_precedence(infix_precedence(op).tighter());
        match op {
            K::BangEqual => {
                self.emit_op(Op::Equal);
                self.emit_op(Op::Not);
            }
            K::EqualEqual => self.emit_op(Op::Equal),
            K::Greater => self.emit_op(Op::Greater),
            K::GreaterEqual => {
                self.emit_op(Op::Less);
                self.emit_op(Op::Not);
            }
            K::Less => self.emit_op(Op::Less),
            K::LessEqual => {
                self.emit_op(Op::Greater);
                self.emit_op(Op::Not);
            }
            K::Plus => self.emit_op(Op::Add),
            K::Minus => self.emit_op(Op::Subtract),
            K::Star => self.emit_op(Op::Multiply),
            K::Slash => self.emit_op(Op::Divide),
            // `infix` only dispatches binary operators here.
            _ => {}
        }
    }

    fn number(&mut self) {
        // The scanner guarantees ASCII digits with an optional fraction; Rust's parser rounds
        // correctly like strtod and yields infinity for out-of-range literals.
        let value = std::str::from_utf8(self.previous.lexeme)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
        self.emit_constant(Constant::Number(value));
    }

    fn string(&mut self) {
        let lexeme = self.previous.lexeme;
        // Strip the quotes; the scanner only makes String tokens with both present.
        let body = &lexeme[1..lexeme.len() - 1];
        let index = self.string_constant(body);
        self.emit_op_arg(Op::Constant, index);
    }

    /// `left and right`: skip the right operand when the left one is falsey.
    fn and_(&mut self) {
        let end = self.emit_jump(Op::JumpIfFalse);
        self.emit_op(Op::Pop);
        self.parse_precedence(Prec::And);
        self.patch_jump(end);
    }

    /// `left or right`: skip the right operand when the left one is truthy.
    fn or_(&mut self) {
        let else_jump = self.emit_jump(Op::JumpIfFalse);
        let end = self.emit_jump(Op::Jump);
        self.patch_jump(else_jump);
        self.emit_op(Op::Pop);
        self.parse_precedence(Prec::Or);
        self.patch_jump(end);
    }

    /// A parenthesised argument list after `(`; returns the argument count.
    fn argument_list(&mut self) -> u8 {
        let mut count: u32 = 0;
        if !self.check(K::RightParen) {
            loop {
                self.expression();
                if count == 255 {
                    self.error("Can't have more than 255 arguments.");
                }
                count += 1;
                if !self.matches(K::Comma) {
                    break;
                }
            }
        }
        self.consume(K::RightParen, "Expect ')' after arguments.");
        count as u8
    }

    /// `.name`, `.name = value` or the `.name(args)` invoke fast path.
    fn dot(&mut self, can_assign: bool) {
        self.consume(K::Identifier, "Expect property name after '.'.");
        let name = self.identifier_constant(self.previous.lexeme);
        if can_assign && self.matches(K::Equal) {
            self.expression();
            self.emit_op_arg(Op::SetProperty, name);
        } else if self.matches(K::LeftParen) {
            let argc = self.argument_list();
            self.emit_op_arg(Op::Invoke, name);
            self.emit(argc);
        } else {
            self.emit_op_arg(Op::GetProperty, name);
        }
    }

    fn this_(&mut self) {
        if self.classes.is_empty() {
            self.error("Can't use 'this' outside of a class.");
            return;
        }
        self.named_variable(b"this", false);
    }

    /// `super.name` or the `super.name(args)` invoke fast path.
    fn super_(&mut self) {
        match self.classes.last() {
            None => self.error("Can't use 'super' outside of a class."),
            Some(class) if !class.has_superclass => {
                self.error("Can't use 'super' in a class with no superclass.")
            }
            Some(_) => {}
        }
        self.consume(K::Dot, "Expect '.' after 'super'.");
        self.consume(K::Identifier, "Expect superclass method name.");
        let name = self.identifier_constant(self.previous.lexeme);
        self.named_variable(b"this", false);
        if self.matches(K::LeftParen) {
            let argc = self.argument_list();
            self.named_variable(b"super", false);
            self.emit_op_arg(Op::SuperInvoke, name);
            self.emit(argc);
        } else {
            self.named_variable(b"super", false);
            self.emit_op_arg(Op::GetSuper, name);
        }
    }
}
