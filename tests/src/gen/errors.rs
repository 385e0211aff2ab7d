//! Deliberate runtime errors, planted once in some programs: a type error, an undefined name or
//! property, a bad call, a stack overflow. Each happens after output was printed, sometimes deep
//! in a call chain or inside a loop, so the exit status (70), the message and the stack trace
//! can all be compared with clox's.

use super::types::{Cost, Ty};
use super::Gen;

impl Gen<'_> {
    /// Writes one statement (or a few) that must fail at run time.
    pub(super) fn planted_error(&mut self) {
        self.charge(Cost::new(50, 5));
        self.constants(12);
        let failing = match self.ch.below(12) {
            0 => "print 1 + \"one\";".to_string(),
            1 => "print -\"minus\";".to_string(),
            2 => "print \"a\" < 1;".to_string(),
            3 => format!("print {};", self.fresh("undefined")),
            4 => {
                let v = self.fresh("n");
                format!("var {v} = 3; {v}();")
            }
            5 => {
                let v = self.fresh("s");
                format!("var {v} = \"text\"; {v}.method();")
            }
            6 => {
                let v = self.fresh("n");
                format!("var {v} = 1; {v}.field = 2;")
            }
            7 => self.on_instance("missing"),
            8 => self.wrong_arity(),
            9 => {
                // Recursion that never ends: clox stops at 64 frames, lox at its own limit;
                // both say "Stack overflow.".
                let f = self.fresh("deep");
                format!("fun {f}(n) {{ return {f}(n + 1) + 1; }} {f}(0);")
            }
            10 => {
                let c = self.fresh("NotAClass");
                let k = self.fresh("Bad");
                format!("var {c} = \"class\"; class {k} < {c} {{}}")
            }
            _ => {
                // A type error some frames down, after the frames printed something.
                let f = self.fresh("down");
                format!(
                    "fun {f}(d) {{ print d; if (d > 0) return {f}(d - 1) + 1; return nil + 1; }} {f}({});",
                    self.ch.range(0, 20)
                )
            }
        };
        if self.ch.chance(1, 2) {
            // Inside a loop, after a few iterations.
            let i = self.fresh("e");
            let n = self.ch.range(1, 5);
            self.code
                .open(format!("for (var {i} = 0; {i} < 10; {i} = {i} + 1)"));
            self.code.line(format!("print {i};"));
            self.code.line(format!("if ({i} == {n}) {{ {failing} }}"));
            self.code.close();
        } else {
            self.code.line(failing);
        }
    }

    /// A property or method that the instance does not have.
    fn on_instance(&mut self, what: &str) -> String {
        let vars = self.visible(|v| matches!(v.ty, Ty::Inst(_)));
        let recv = match vars.last() {
            Some(&i) => self.use_var(i),
            None => {
                if self.classes.is_empty() {
                    return "print nil.field;".to_string();
                }
                let c = self.ch.below(self.classes.len() as u64) as usize;
                self.forced(Ty::Inst(c)).text
            }
        };
        if self.ch.chance(1, 2) {
            format!("print {recv}.{what};")
        } else {
            format!("{recv}.{what}();")
        }
    }

    /// A call with one argument too many or too few.
    fn wrong_arity(&mut self) -> String {
        let funs = self.visible(|v| matches!(v.ty, Ty::Fun(_)));
        let Some(&i) = funs.last() else {
            return "fun two(a, b) {} two(1);".to_string();
        };
        let Ty::Fun(s) = self.vars[i].ty else {
            unreachable!("filtered on functions")
        };
        let n = self.sigs[s].params.len();
        let args = if n > 0 && self.ch.chance(1, 2) {
            n - 1
        } else {
            n + 1
        };
        let f = self.use_var(i);
        let list: Vec<String> = (0..args).map(|k| k.to_string()).collect();
        format!("{f}({});", list.join(", "))
    }
}
