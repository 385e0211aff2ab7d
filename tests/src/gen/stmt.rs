//! Statements, blocks and function bodies: declarations, assignments (to locals, upvalues,
//! globals and fields), prints, conditionals, bounded loops, local closures and calls. Loops
//! divide what is left of the budget among their iterations before their body is written.

use super::expr::{E, FACTOR, PRIMARY};
use super::types::{Cost, Sig, Ty};
use super::{Frame, Gen};

/// Deepest loop nesting inside one function.
const MAX_LOOPS: u32 = 3;
/// Deepest nesting of function declarations (global functions are level 1).
const MAX_FUNCTION_LEVEL: usize = 4;
/// Depth of generated expressions.
pub(super) const EXPR_DEPTH: u32 = 3;

impl Gen<'_> {
    /// One statement in the current function.
    pub(super) fn statement(&mut self) {
        let f = self.frames.last().expect("script frame");
        let can_loop = f.loops < MAX_LOOPS && f.left.work > 200;
        let can_nest = self.level() < MAX_FUNCTION_LEVEL && f.left.work > 300;
        let weights = [
            4, // var
            4, // assignment
            3, // field store
            4, // print
            2, // if
            if can_loop { 3 } else { 0 },
            if can_loop { 1 } else { 0 }, // while
            if can_nest { 2 } else { 0 }, // local function
            2,                            // expression statement
            1,                            // block
            1,                            // early return
        ];
        match self.ch.weighted(&weights) {
            0 => self.var_statement(),
            1 => self.assignment(),
            2 => self.field_store(),
            3 => self.print_statement(),
            4 => self.if_statement(),
            5 => self.for_loop(),
            6 => self.while_loop(),
            7 => self.local_function(),
            8 => self.expression_statement(),
            9 => {
                self.code.open("");
                self.open_scope();
                self.statements(3);
                self.close_scope();
                self.code.close();
            }
            _ => self.early_return(),
        }
    }

    /// Up to `most` statements while the function has room; at least one.
    pub(super) fn statements(&mut self, most: u64) {
        let n = self.ch.range(1, most);
        for i in 0..n {
            if i > 0 && !self.room() {
                break;
            }
            self.statement();
        }
    }

    fn var_statement(&mut self) {
        let ty = self.any_type();
        let Some(e) = self.stored(ty, EXPR_DEPTH) else {
            return self.print_statement();
        };
        let name = self.fresh("v");
        if self.level() == 0 {
            self.constants(1);
        }
        self.code.line(format!("var {name} = {};", e.text));
        self.declare(&name, ty, true);
    }

    fn assignment(&mut self) {
        let targets = self.visible(|v| v.assignable);
        if targets.is_empty() {
            return self.var_statement();
        }
        let i = *self.ch.pick(&targets);
        let ty = self.vars[i].ty;
        let Some(e) = self.stored(ty, EXPR_DEPTH) else {
            return self.print_statement();
        };
        let name = self.use_var(i);
        self.charge(Cost::new(2, 0));
        self.code.line(format!("{name} = {};", e.text));
    }

    /// `receiver.field = value;`: a store into an existing object (the write barrier's case).
    fn field_store(&mut self) {
        let mut options = Vec::new();
        for i in self.visible(|v| matches!(v.ty, Ty::Inst(_))) {
            if let Ty::Inst(c) = self.vars[i].ty {
                for (name, ty) in &self.classes[c].fields {
                    options.push((Some(i), name.clone(), *ty));
                }
            }
        }
        let f = self.frames.last().expect("script frame");
        if let (Some(c), false) = (f.this_class, f.in_init) {
            for (name, ty) in &self.classes[c].fields {
                options.push((None, name.clone(), *ty));
            }
        }
        if options.is_empty() {
            return self.assignment();
        }
        let (recv, field, ty) = self.ch.pick(&options).clone();
        let Some(e) = self.stored(ty, EXPR_DEPTH) else {
            return self.print_statement();
        };
        let r = match recv {
            Some(i) => self.use_var(i),
            None => "this".to_string(),
        };
        self.constants(1);
        self.charge(Cost::new(3, 0));
        self.code.line(format!("{r}.{field} = {};", e.text));
    }

    fn print_statement(&mut self) {
        self.charge(Cost::new(3, 0));
        if self.ch.chance(1, 12) {
            // A quotient that may be infinite or NaN: both VMs print these as C's %g does.
            let a = self.expr(Ty::Num, 1).expect("numbers always");
            let b = self.expr(Ty::Num, 1).expect("numbers always");
            self.code
                .line(format!("print {} / {};", a.at(FACTOR), b.at(FACTOR + 1)));
            return;
        }
        let ty = self.any_type();
        let e = self
            .expr(ty, EXPR_DEPTH)
            .unwrap_or_else(|| self.string_literal());
        self.code.line(format!("print {};", e.text));
    }

    fn expression_statement(&mut self) {
        let ty = self.any_type();
        match self.expr(ty, EXPR_DEPTH) {
            Some(e) => self.code.line(format!("{};", e.text)),
            None => self.print_statement(),
        }
    }

    fn if_statement(&mut self) {
        let cond = self.expr(Ty::Bool, EXPR_DEPTH).expect("booleans always");
        if self.ch.chance(1, 4) {
            // A body without braces: one statement that declares nothing.
            let ty = self.any_type();
            let e = self.expr(ty, 1).unwrap_or_else(|| self.string_literal());
            self.code
                .line(format!("if ({}) print {};", cond.text, e.text));
            return;
        }
        self.code.open(format!("if ({})", cond.text));
        self.open_scope();
        self.statements(3);
        self.close_scope();
        if self.ch.chance(1, 2) {
            self.code.close_with("else");
            self.open_scope();
            self.statements(3);
            self.close_scope();
        }
        self.code.close();
    }

    /// Runs `body` as the body of a loop of `n` iterations: the budget is split before, the
    /// spending multiplied after.
    pub(super) fn in_loop(&mut self, n: u64, body: impl FnOnce(&mut Self)) {
        let f = self.frame();
        let (saved_left, saved_spent, saved_est) = (f.left, f.spent, f.est);
        f.left = Cost {
            work: (saved_left.work / n.max(1)).saturating_sub(4),
            allocs: saved_left.allocs / n.max(1),
            depth: saved_left.depth,
        };
        f.spent = Cost::default();
        f.est = Cost::default();
        f.loops += 1;
        body(self);
        let f = self.frame();
        f.loops -= 1;
        let one = f.spent.then(Cost::new(4, 0));
        let all = one.times(n);
        f.spent = saved_spent.then(all);
        f.est = saved_est.then(f.est.then(Cost::new(4, 0)).times(n));
        f.left = Cost {
            work: saved_left.work.saturating_sub(all.work),
            allocs: saved_left.allocs.saturating_sub(all.allocs),
            depth: saved_left.depth,
        };
    }

    /// An iteration count the budget allows (at least 1).
    fn iterations(&mut self) -> u64 {
        let left = self.frames.last().expect("script frame").left.work;
        let most = (left / 60).clamp(1, 3000);
        match self.ch.below(4) {
            0 => self.ch.range(1, most.min(4)),
            1 | 2 => self.ch.range(1, most.min(40)),
            _ => self.ch.range(1, most),
        }
    }

    fn for_loop(&mut self) {
        let n = self.iterations();
        let i = self.fresh("i");
        self.constants(3);
        let header = if self.ch.chance(1, 3) {
            format!("for (var {i} = {n}; {i} > 0; {i} = {i} - 1)")
        } else {
            format!("for (var {i} = 0; {i} < {n}; {i} = {i} + 1)")
        };
        self.in_loop(n, |g| {
            g.open_scope();
            g.declare(&i, Ty::Num, false);
            g.code.open(header);
            g.statements(4);
            g.code.close();
            g.close_scope();
        });
    }

    fn while_loop(&mut self) {
        let n = self.iterations();
        let w = self.fresh("w");
        if self.level() == 0 {
            self.constants(1);
        }
        self.constants(3);
        self.code.line(format!("var {w} = 0;"));
        self.declare(&w, Ty::Num, false);
        self.in_loop(n, |g| {
            g.code.open(format!("while ({w} < {n})"));
            g.open_scope();
            g.statements(4);
            g.close_scope();
            g.code.line(format!("{w} = {w} + 1;"));
            g.code.close();
        });
    }

    fn early_return(&mut self) {
        let Some(ret) = self.frames.last().expect("script frame").ret else {
            return self.print_statement();
        };
        let cond = self.expr(Ty::Bool, 1).expect("booleans always");
        let Some(value) = self.stored(ret, 2) else {
            return self.print_statement();
        };
        self.code
            .line(format!("if ({}) return {};", cond.text, value.text));
    }

    /// A parameter or result type: basic, or an instance of a declared class.
    pub(super) fn value_type(&mut self) -> Ty {
        if !self.classes.is_empty() && self.ch.chance(1, 4) {
            return Ty::Inst(self.ch.below(self.classes.len() as u64) as usize);
        }
        *self.ch.pick(&[Ty::Num, Ty::Num, Ty::Str, Ty::Bool])
    }

    /// A new signature whose cap is a share of what the current function has left.
    fn new_sig(&mut self, share: u64) -> Option<Sig> {
        let left = self.frames.last().expect("script frame").left;
        if left.depth < 2 || left.work < 100 {
            return None;
        }
        let nparams = self.ch.below(4) as usize;
        let params = (0..nparams).map(|_| self.value_type()).collect();
        let ret = self.value_type();
        let cap = Cost {
            work: self.ch.range(50, (left.work / share).max(50)),
            allocs: self.ch.range(2, (left.allocs / share).max(2)),
            depth: self.ch.range(2, u64::from(left.depth.min(8))) as u32,
        };
        Some(Sig { params, ret, cap })
    }

    /// Writes `fun name(params) { ... return ...; }` with `sig`; returns its finished frame
    /// (what it costs at most and is expected to cost).
    pub(super) fn function(&mut self, name: &str, sig: &Sig) -> Frame {
        let this_class = self.frames.last().and_then(|f| f.this_class);
        let in_init = self.frames.last().is_some_and(|f| f.in_init);
        let params: Vec<String> = sig.params.iter().map(|_| self.fresh("p")).collect();
        self.code.open(format!("fun {name}({})", params.join(", ")));
        self.push_frame(this_class, in_init, Some(sig.ret), sig.cap);
        self.open_scope();
        for (p, ty) in params.iter().zip(&sig.params) {
            self.declare(p, *ty, true);
        }
        self.body_and_return(sig.ret);
        self.close_scope();
        let f = self.pop_frame();
        self.code.close();
        f
    }

    /// Statements, then `return value;` of type `ret`.
    pub(super) fn body_and_return(&mut self, ret: Ty) {
        self.statements(8);
        let value = match self.stored(ret, 2) {
            Some(e) => e,
            None => self.forced(ret),
        };
        self.code.line(format!("return {};", value.text));
    }

    /// A local function (a closure over the enclosing locals), declared as a variable.
    fn local_function(&mut self) {
        // Sometimes reuse a signature of a method, so the closure can be stored in a field
        // whose type is that method's.
        let reuse: Vec<usize> = (0..self.sigs.len())
            .filter(|&s| self.affords(self.sigs[s].cap) && self.makeable(self.sigs[s].ret))
            .collect();
        let sig_index = if !reuse.is_empty() && self.ch.chance(1, 3) {
            *self.ch.pick(&reuse)
        } else {
            match self.new_sig(4) {
                Some(sig) if self.makeable(sig.ret) => self.add_sig(sig),
                _ => return self.print_statement(),
            }
        };
        let sig = self.sigs[sig_index].clone();
        let name = self.fresh("g");
        self.constants(1);
        self.charge(Cost::new(4, 1));
        let f = self.function(&name, &sig);
        self.declare_function(&name, sig_index, f.est);
    }

    /// Whether a value of `ty` can always be made in a fresh function (basic types, and
    /// instances of classes whose construction needs only basic values).
    pub(super) fn makeable(&self, ty: Ty) -> bool {
        match ty {
            Ty::Num | Ty::Str | Ty::Bool => true,
            Ty::Inst(c) => self.classes[c]
                .init_params
                .iter()
                .all(|p| matches!(p, Ty::Num | Ty::Str | Ty::Bool)),
            Ty::Fun(_) => false,
        }
    }

    /// A value of a [`Gen::makeable`] type whatever the budget says: a literal, or a
    /// construction with literal arguments (a small overrun of the estimate, never a nil).
    pub(super) fn forced(&mut self, ty: Ty) -> E {
        match ty {
            Ty::Num => self.num_literal(),
            Ty::Str => self.string_literal(),
            Ty::Inst(c) if self.makeable(ty) => {
                let params = self.classes[c].init_params.clone();
                let args: Vec<String> = params.iter().map(|p| self.forced(*p).text).collect();
                let (init, est) = (self.classes[c].init_cost, self.classes[c].init_est);
                self.charge_call(init.then(Cost::new(5, 1)), est.then(Cost::new(5, 1)));
                self.constants(1);
                E::new_text(&format!("{}({})", self.classes[c].name, args.join(", ")))
            }
            _ => E::new_text("true"),
        }
    }

    /// A global function (callable from everything written after it).
    pub(super) fn global_function(&mut self, budget: Cost) {
        let nparams = self.ch.below(4) as usize;
        let params = (0..nparams).map(|_| self.value_type()).collect();
        let mut ret = self.value_type();
        if !self.makeable(ret) {
            ret = Ty::Num;
        }
        let cap = Cost {
            work: self.ch.range(100, (budget.work / 20).max(100)),
            allocs: self.ch.range(5, (budget.allocs / 20).max(5)),
            depth: self.ch.range(2, 14) as u32,
        };
        let sig = Sig { params, ret, cap };
        let name = self.fresh("f");
        self.constants(2);
        let f = self.function(&name, &sig);
        let s = self.add_sig(sig);
        self.declare_function(&name, s, f.est);
    }

    /// A global variable: long-lived state every later function may read and change.
    pub(super) fn global_var(&mut self) {
        let ty = self.value_type();
        let Some(e) = self.stored(ty, 2) else { return };
        let name = self.fresh("gv");
        self.constants(1);
        self.code.line(format!("var {name} = {};", e.text));
        self.declare(&name, ty, true);
    }
}

impl E {
    pub(super) fn new_text(text: &str) -> E {
        E {
            text: text.to_string(),
            bound: 0.0,
            len: 0,
            prec: PRIMARY,
        }
    }
}
