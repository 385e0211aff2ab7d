//! Declarations and statements: variables, functions, classes, control flow, and the
//! panic-mode resynchronisation that lets one compile report several errors.

use super::scope::FnKind;
use super::{ClassState, Compiler};
use crate::chunk::{Constant, Op};
use crate::scanner::TokenKind as K;

impl<'s> Compiler<'s> {
    pub(super) fn declaration(&mut self) {
        if self.matches(K::Class) {
            self.class_declaration();
        } else if self.matches(K::Fun) {
            self.fun_declaration();
        } else if self.matches(K::Var) {
            self.var_declaration();
        } else {
            self.statement();
        }
        if self.panic_mode {
            self.synchronize();
        }
    }

    /// Skips tokens until a likely statement boundary, leaving panic mode.
    fn synchronize(&mut self) {
        self.panic_mode = false;
        while self.current.kind != K::Eof {
            if self.previous.kind == K::Semicolon {
                return;
            }
            match self.current.kind {
                K::Class | K::Fun | K::Var | K::For | K::If | K::While | K::Print | K::Return => {
                    return
                }
                _ => self.advance(),
            }
        }
    }

    fn statement(&mut self) {
        if !self.enter(self.current) {
            return;
        }
        if self.matches(K::Print) {
            self.expression();
            self.consume(K::Semicolon, "Expect ';' after value.");
            self.emit_op(Op::Print);
        } else if self.matches(K::For) {
            self.for_statement();
        } else if self.matches(K::If) {
            self.if_statement();
        } else if self.matches(K::Return) {
            self.return_statement();
        } else if self.matches(K::While) {
            self.while_statement();
        } else if self.matches(K::LeftBrace) {
            self.begin_scope();
            self.block();
            self.end_scope();
        } else {
            self.expression_statement();
        }
        self.leave();
    }

    fn expression_statement(&mut self) {
        self.expression();
        self.consume(K::Semicolon, "Expect ';' after expression.");
        self.emit_op(Op::Pop);
    }

    /// The declarations of a block, after its `{`.
    fn block(&mut self) {
        while !self.check(K::RightBrace) && !self.check(K::Eof) {
            self.declaration();
        }
        self.consume(K::RightBrace, "Expect '}' after block.");
    }

    fn var_declaration(&mut self) {
        let global = self.parse_variable("Expect variable name.");
        if self.matches(K::Equal) {
            self.expression();
        } else {
            self.emit_op(Op::Nil);
        }
        self.consume(K::Semicolon, "Expect ';' after variable declaration.");
        self.define_variable(global);
    }

    fn fun_declaration(&mut self) {
        let global = self.parse_variable("Expect function name.");
        // A function may refer to itself: its name is usable inside its body.
        self.mark_initialized();
        self.function(FnKind::Function);
        self.define_variable(global);
    }

    /// Compiles parameters and body of a function named by the previous token, then emits the
    /// `Closure` instruction that creates it in the enclosing function.
    fn function(&mut self, kind: FnKind) {
        // Blamed on the function's name.
        if !self.enter(self.previous) {
            return;
        }
        self.begin_function(kind);
        // Never closed: the function's frame is discarded wholesale on return.
        self.begin_scope();
        self.consume(K::LeftParen, "Expect '(' after function name.");
        if !self.check(K::RightParen) {
            loop {
                self.cur.arity += 1;
                if self.cur.arity > 255 {
                    self.error_at_current("Can't have more than 255 parameters.");
                }
                let constant = self.parse_variable("Expect parameter name.");
                self.define_variable(constant);
                if !self.matches(K::Comma) {
                    break;
                }
            }
        }
        self.consume(K::RightParen, "Expect ')' after parameters.");
        self.consume(K::LeftBrace, "Expect '{' before function body.");
        self.block();

        let (proto, upvalues) = self.end_function();
        let constant = self.make_constant(Constant::Function(Box::new(proto)));
        self.emit_op_arg(Op::Closure, constant);
        for upvalue in upvalues {
            self.emit(upvalue.is_local as u8);
            self.emit(upvalue.index);
        }
        self.leave();
    }

    fn class_declaration(&mut self) {
        self.consume(K::Identifier, "Expect class name.");
        let class_name = self.previous.lexeme;
        let name_constant = self.identifier_constant(class_name);
        self.declare_variable();
        self.emit_op_arg(Op::Class, name_constant);
        self.define_variable(name_constant);

        self.classes.push(ClassState {
            has_superclass: false,
        });
        let mut has_superclass = false;
        if self.matches(K::Less) {
            self.consume(K::Identifier, "Expect superclass name.");
            self.named_variable(self.previous.lexeme, false);
            if class_name == self.previous.lexeme {
                self.error("A class can't inherit from itself.");
            }
            // `super` is a local of a scope wrapping the class body, so each class's methods
            // capture their own superclass.
            self.begin_scope();
            self.add_local(b"super");
            self.define_variable(0);
            self.named_variable(class_name, false);
            self.emit_op(Op::Inherit);
            has_superclass = true;
            if let Some(class) = self.classes.last_mut() {
                class.has_superclass = true;
            }
        }

        // The class stays on the stack while its methods are bound to it.
        self.named_variable(class_name, false);
        self.consume(K::LeftBrace, "Expect '{' before class body.");
        while !self.check(K::RightBrace) && !self.check(K::Eof) {
            self.method();
        }
        self.consume(K::RightBrace, "Expect '}' after class body.");
        self.emit_op(Op::Pop);
        if has_superclass {
            self.end_scope();
        }
        self.classes.pop();
    }

    fn method(&mut self) {
        self.consume(K::Identifier, "Expect method name.");
        let name = self.previous.lexeme;
        let constant = self.identifier_constant(name);
        let kind = if name == b"init" {
            FnKind::Initializer
        } else {
            FnKind::Method
        };
        self.function(kind);
        self.emit_op_arg(Op::Method, constant);
    }

    fn if_statement(&mut self) {
        self.consume(K::LeftParen, "Expect '(' after 'if'.");
        self.expression();
        self.consume(K::RightParen, "Expect ')' after condition.");

        let then_jump = self.emit_jump(Op::JumpIfFalse);
        self.emit_op(Op::Pop);
        self.statement();
        let else_jump = self.emit_jump(Op::Jump);
        self.patch_jump(then_jump);
        self.emit_op(Op::Pop);
        if self.matches(K::Else) {
            self.statement();
        }
        self.patch_jump(else_jump);
    }

    fn while_statement(&mut self) {
        let loop_start = self.cur.proto.code.len();
        self.consume(K::LeftParen, "Expect '(' after 'while'.");
        self.expression();
        self.consume(K::RightParen, "Expect ')' after condition.");

        let exit_jump = self.emit_jump(Op::JumpIfFalse);
        self.emit_op(Op::Pop);
        self.statement();
        self.emit_loop(loop_start);
        self.patch_jump(exit_jump);
        self.emit_op(Op::Pop);
    }

    fn for_statement(&mut self) {
        self.begin_scope();
        self.consume(K::LeftParen, "Expect '(' after 'for'.");
        if self.matches(K::Semicolon) {
            // No initializer.
        } else if self.matches(K::Var) {
            self.var_declaration();
        } else {
            self.expression_statement();
        }

        let mut loop_start = self.cur.proto.code.len();
        let mut exit_jump = None;
        if !self.matches(K::Semicolon) {
            self.expression();
            self.consume(K::Semicolon, "Expect ';' after loop condition.");
            exit_jump = Some(self.emit_jump(Op::JumpIfFalse));
            self.emit_op(Op::Pop);
        }

        if !self.matches(K::RightParen) {
            // The increment runs after the body: jump over it now, loop back to it later.
            let body_jump = self.emit_jump(Op::Jump);
            let increment_start = self.cur.proto.code.len();
            self.expression();
            self.emit_op(Op::Pop);
            self.consume(K::RightParen, "Expect ')' after for clauses.");
            self.emit_loop(loop_start);
            loop_start = increment_start;
            self.patch_jump(body_jump);
        }

        self.statement();
        self.emit_loop(loop_start);
        if let Some(exit_jump) = exit_jump {
            self.patch_jump(exit_jump);
            self.emit_op(Op::Pop);
        }
        self.end_scope();
    }

    fn return_statement(&mut self) {
        if self.cur.kind == FnKind::Script {
            self.error("Can't return from top-level code.");
        }
        if self.matches(K::Semicolon) {
            self.emit_return();
        } else {
            if self.cur.kind == FnKind::Initializer {
                self.error("Can't return a value from an initializer.");
            }
            self.expression();
            self.consume(K::Semicolon, "Expect ';' after return value.");
            self.emit_op(Op::Return);
        }
    }
}
