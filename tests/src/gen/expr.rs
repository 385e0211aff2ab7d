//! Expressions by type. Every expression comes with what the generator knows of its value (the
//! largest magnitude of a number, the longest length of a string) and its precedence, so that
//! operands are parenthesised exactly where the grammar needs it and the bounds hold for the tree
//! the compiler will really parse.

use super::types::{Cost, Sig, Ty, EXPR_BOUND, NUM_BOUND, STR_BOUND};
use super::Gen;

/// Precedence levels, lowest first, as in clox's Pratt table.
pub(super) const OR: u8 = 0;
pub(super) const AND: u8 = 1;
pub(super) const EQUALITY: u8 = 2;
pub(super) const COMPARISON: u8 = 3;
pub(super) const TERM: u8 = 4;
pub(super) const FACTOR: u8 = 5;
pub(super) const UNARY: u8 = 6;
pub(super) const PRIMARY: u8 = 7;

/// What `wrap(x)` costs at most, and usually.
pub(super) const WRAP_COST: Cost = Cost {
    work: 600,
    allocs: 0,
    depth: 1,
};
const WRAP_EST: Cost = Cost {
    work: 40,
    allocs: 0,
    depth: 1,
};

/// Short strings for literals: empty, spaces, digits, non-ASCII UTF-8, a line break.
const WORDS: &[&str] = &[
    "", "a", "b", "ab", "node", "leaf", "x y", "42", "-", "Lox", "é", "∑", "left", "right", "nil",
    "tree", "key", "value", "a\nb", "0.5",
];

/// A generated expression.
pub(super) struct E {
    pub text: String,
    /// Largest magnitude (numbers).
    pub bound: f64,
    /// Longest length in bytes (strings).
    pub len: usize,
    pub prec: u8,
}

impl E {
    fn new(text: String, prec: u8) -> E {
        E {
            text,
            bound: 0.0,
            len: 0,
            prec,
        }
    }

    /// The text, parenthesised unless its precedence is at least `min`.
    pub fn at(&self, min: u8) -> String {
        if self.prec >= min {
            self.text.clone()
        } else {
            format!("({})", self.text)
        }
    }
}

/// Where a value can be read from without writing a new expression.
enum Source {
    Var(usize),
    This,
    /// A field of a variable (None: of `this`).
    Field(Option<usize>, String),
    /// A call of a variable holding a function.
    Call(usize, usize),
    /// A method called on a variable (None: on `this`), and what it is expected to cost.
    Invoke(Option<usize>, String, usize, Cost),
    /// A function stored in a field, called through the instance (clox's invoke looks at
    /// fields first).
    FieldCall(Option<usize>, String, usize),
    /// `super.name(...)`, charged what the superclass's implementation costs (at most and
    /// expected).
    Super(String, usize, Cost, Cost),
}

impl Gen<'_> {
    /// An expression of type `ty`; None when the generator finds no way to make one here (an
    /// instance or function type with nothing in scope).
    pub(super) fn expr(&mut self, ty: Ty, depth: u32) -> Option<E> {
        match ty {
            Ty::Num => Some(self.num(depth)),
            Ty::Str => Some(self.string(depth)),
            Ty::Bool => Some(self.boolean(depth)),
            Ty::Inst(c) => self.instance(c, depth),
            Ty::Fun(s) => self.function_value(s, depth),
        }
    }

    /// An expression fit to be stored in a variable, field, argument or result of type `ty`:
    /// numbers within [`NUM_BOUND`] (wrapped when wider), strings within [`STR_BOUND`].
    pub(super) fn stored(&mut self, ty: Ty, depth: u32) -> Option<E> {
        let e = self.expr(ty, depth)?;
        if ty == Ty::Num && e.bound > NUM_BOUND {
            return Some(self.wrapped(e));
        }
        Some(e)
    }

    /// `wrap(e)`, or a small literal where the budget cannot take the call.
    pub(super) fn wrapped(&mut self, e: E) -> E {
        if !self.affords(WRAP_COST) {
            return self.num_literal();
        }
        self.charge_call(WRAP_COST, WRAP_EST);
        self.constants(1);
        let mut w = E::new(format!("wrap({})", e.text), PRIMARY);
        w.bound = NUM_BOUND;
        w
    }

    pub(super) fn num_literal(&mut self) -> E {
        self.constants(1);
        let (text, v) = match self.ch.below(10) {
            0 => ("0.5".to_string(), 0.5),
            1 => ("2.25".to_string(), 2.25),
            2 => ("1000".to_string(), 1000.0),
            3 => ("12.75".to_string(), 12.75),
            _ => {
                let n = self.ch.below(100);
                (n.to_string(), n as f64)
            }
        };
        let mut e = E::new(text, PRIMARY);
        e.bound = v;
        e
    }

    fn num(&mut self, depth: u32) -> E {
        if depth == 0 || self.ch.chance(1, 4) {
            return self.num_leaf(depth);
        }
        let d = depth - 1;
        match self.ch.below(9) {
            0 | 1 => {
                let (a, b) = (self.num(d), self.num(d));
                let op = if self.ch.chance(1, 2) { "+" } else { "-" };
                let mut e = E::new(format!("{} {op} {}", a.at(TERM), b.at(TERM + 1)), TERM);
                e.bound = a.bound + b.bound;
                e
            }
            2 | 3 => {
                let (a, b) = (self.num(d), self.num(d));
                if a.bound * b.bound > EXPR_BOUND {
                    return a;
                }
                let mut e = E::new(format!("{} * {}", a.at(FACTOR), b.at(FACTOR + 1)), FACTOR);
                e.bound = a.bound * b.bound;
                e
            }
            4 => {
                let a = self.num(d);
                let k = *self.ch.pick(&[2u32, 3, 4, 5, 7, 8, 10]);
                self.constants(1);
                let mut e = E::new(format!("{} / {k}", a.at(FACTOR)), FACTOR);
                e.bound = a.bound / f64::from(k);
                e
            }
            5 => {
                let a = self.num(d);
                let mut e = E::new(format!("-{}", a.at(UNARY)), UNARY);
                e.bound = a.bound;
                e
            }
            6 => {
                // `or` and `and` on numbers: every number is truthy, so these pick a side.
                let (a, b) = (self.num(d), self.num(d));
                if self.ch.chance(1, 2) {
                    let mut e = E::new(format!("{} or {}", a.at(OR), b.at(AND)), OR);
                    e.bound = a.bound;
                    e
                } else {
                    let mut e = E::new(format!("{} and {}", a.at(AND), b.at(EQUALITY)), AND);
                    e.bound = b.bound;
                    e
                }
            }
            _ => self.num_leaf(depth),
        }
    }

    fn num_leaf(&mut self, depth: u32) -> E {
        if self.ch.chance(2, 3) {
            if let Some(e) = self.read_in_scope(Ty::Num, depth) {
                return e;
            }
        }
        self.num_literal()
    }

    fn string(&mut self, depth: u32) -> E {
        if depth > 0 && self.ch.chance(1, 3) {
            let (a, b) = (self.string(depth - 1), self.string(depth - 1));
            if a.len + b.len <= STR_BOUND {
                self.charge(Cost::new(3, 1));
                let mut e = E::new(format!("{} + {}", a.at(TERM), b.at(TERM + 1)), TERM);
                e.len = a.len + b.len;
                return e;
            }
            return a;
        }
        if self.ch.chance(1, 2) {
            if let Some(e) = self.read_in_scope(Ty::Str, depth) {
                return e;
            }
        }
        self.string_literal()
    }

    pub(super) fn string_literal(&mut self) -> E {
        self.constants(1);
        let w = *self.ch.pick(WORDS);
        let mut e = E::new(format!("\"{w}\""), PRIMARY);
        e.len = w.len();
        e
    }

    fn boolean(&mut self, depth: u32) -> E {
        if depth == 0 {
            if let Some(e) = self.read_in_scope(Ty::Bool, 0) {
                return e;
            }
            let t = if self.ch.chance(1, 2) {
                "true"
            } else {
                "false"
            };
            return E::new(t.to_string(), PRIMARY);
        }
        let d = depth - 1;
        match self.ch.below(10) {
            0..=2 => {
                let (a, b) = (self.num(d), self.num(d));
                let op = *self.ch.pick(&["<", "<=", ">", ">="]);
                E::new(
                    format!("{} {op} {}", a.at(COMPARISON), b.at(COMPARISON + 1)),
                    COMPARISON,
                )
            }
            3 => {
                let (a, b) = (self.num(d), self.num(d));
                let op = if self.ch.chance(1, 2) { "==" } else { "!=" };
                E::new(
                    format!("{} {op} {}", a.at(EQUALITY), b.at(EQUALITY + 1)),
                    EQUALITY,
                )
            }
            4 => {
                // String equality: interned strings compare by identity, so this checks the
                // intern table after objects moved.
                let (a, b) = (self.string(d), self.string(d));
                E::new(
                    format!("{} == {}", a.at(EQUALITY), b.at(EQUALITY + 1)),
                    EQUALITY,
                )
            }
            5 => {
                // Identity (or mixed-type) equality of any two values.
                let ta = self.any_type();
                let tb = if self.ch.chance(1, 2) {
                    ta
                } else {
                    self.any_type()
                };
                match (self.expr(ta, d), self.expr(tb, d)) {
                    (Some(a), Some(b)) => E::new(
                        format!("{} == {}", a.at(EQUALITY), b.at(EQUALITY + 1)),
                        EQUALITY,
                    ),
                    _ => self.boolean(0),
                }
            }
            6 => {
                let a = self.boolean(d);
                E::new(format!("!{}", a.at(UNARY)), UNARY)
            }
            7 => {
                let (a, b) = (self.boolean(d), self.boolean(d));
                if self.ch.chance(1, 2) {
                    E::new(format!("{} and {}", a.at(AND), b.at(AND + 1)), AND)
                } else {
                    E::new(format!("{} or {}", a.at(OR), b.at(OR + 1)), OR)
                }
            }
            _ => self
                .read_in_scope(Ty::Bool, d)
                .unwrap_or_else(|| self.boolean(0)),
        }
    }

    /// A type with a value likely in scope: a basic type, or the type of a visible variable.
    pub(super) fn any_type(&mut self) -> Ty {
        if self.ch.chance(1, 2) {
            let vars = self.visible(|_| true);
            if !vars.is_empty() {
                let i = *self.ch.pick(&vars);
                return self.vars[i].ty;
            }
        }
        *self.ch.pick(&[Ty::Num, Ty::Str, Ty::Bool])
    }

    fn instance(&mut self, class: usize, depth: u32) -> Option<E> {
        if self.ch.chance(2, 3) || depth == 0 {
            if let Some(e) = self.read_in_scope(Ty::Inst(class), depth) {
                return Some(e);
            }
        }
        if depth == 0 {
            return None;
        }
        // A new instance of the class or of one of its subclasses.
        let subs: Vec<usize> = (0..self.classes.len())
            .filter(|&k| self.is_subclass(k, class))
            .collect();
        let k = *self.ch.pick(&subs);
        self.construct(k, depth - 1)
    }

    /// `Class(args)`, when its `init` fits the budget.
    pub(super) fn construct(&mut self, class: usize, depth: u32) -> Option<E> {
        let c = &self.classes[class];
        let cost = c.init_cost.then(Cost::new(5, 1));
        let est = c.init_est.then(Cost::new(5, 1));
        if !self.affords(cost) {
            return None;
        }
        let (name, params) = (c.name.clone(), c.init_params.clone());
        // Charged before the arguments are written, so that they fit in what is left.
        self.charge_call(cost, est);
        let args = self.arguments(&params, depth)?;
        self.constants(1);
        Some(E::new(format!("{name}({args})"), PRIMARY))
    }

    fn function_value(&mut self, sig: usize, depth: u32) -> Option<E> {
        if let Some(e) = self.read_in_scope(Ty::Fun(sig), depth) {
            return Some(e);
        }
        // A bound method with this signature, taken from an instance in scope.
        let recvs = self.receivers();
        let mut options = Vec::new();
        for (recv, class) in recvs {
            for m in &self.classes[class].methods {
                if m.sig == sig {
                    options.push((recv, m.name.clone()));
                }
            }
        }
        if options.is_empty() {
            return None;
        }
        let (recv, name) = self.ch.pick(&options).clone();
        let r = self.receiver_text(recv);
        self.charge(Cost::new(3, 1));
        self.constants(1);
        Some(E::new(format!("{r}.{name}"), PRIMARY))
    }

    /// Instances in scope to read fields from or call methods on: (variable or `this`, class).
    fn receivers(&self) -> Vec<(Option<usize>, usize)> {
        let mut out = Vec::new();
        for i in self.visible(|v| matches!(v.ty, Ty::Inst(_))) {
            if let Ty::Inst(c) = self.vars[i].ty {
                out.push((Some(i), c));
            }
        }
        let f = self.frames.last().expect("script frame");
        if let (Some(c), false) = (f.this_class, f.in_init) {
            out.push((None, c));
        }
        out
    }

    fn receiver_text(&mut self, recv: Option<usize>) -> String {
        match recv {
            Some(i) => self.use_var(i),
            None => "this".to_string(),
        }
    }

    /// What a call of a callable with signature `sig` is charged.
    fn call_cost(&self, sig: usize) -> Cost {
        let cap = self.sigs[sig].cap;
        Cost {
            work: cap.work + 4,
            allocs: cap.allocs,
            depth: cap.depth,
        }
    }

    /// Reads a value of type `ty` from something in scope, if anything fits.
    fn read_in_scope(&mut self, ty: Ty, depth: u32) -> Option<E> {
        let mut options = Vec::new();
        for i in self.visible(|v| self.fits(v.ty, ty)) {
            options.push(Source::Var(i));
            // Recent variables are likelier: a second entry for those of the current function.
            if self.vars[i].level == self.level() {
                options.push(Source::Var(i));
            }
        }
        let f = self.frames.last().expect("script frame");
        let in_method = f.this_class.filter(|_| !f.in_init);
        if let Some(c) = in_method {
            if self.fits(Ty::Inst(c), ty) {
                options.push(Source::This);
            }
        }
        for (recv, class) in self.receivers() {
            for (name, fty) in &self.classes[class].fields {
                if self.fits(*fty, ty) {
                    options.push(Source::Field(recv, name.clone()));
                }
            }
            if depth > 0 {
                for (name, fty) in &self.classes[class].fields {
                    if let Ty::Fun(s) = *fty {
                        if self.fits(self.sigs[s].ret, ty) && self.affords(self.call_cost(s)) {
                            options.push(Source::FieldCall(recv, name.clone(), s));
                        }
                    }
                }
                for m in &self.classes[class].methods {
                    let sig = &self.sigs[m.sig];
                    if self.fits(sig.ret, ty) && self.affords(self.call_cost(m.sig)) {
                        options.push(Source::Invoke(recv, m.name.clone(), m.sig, m.est));
                    }
                }
            }
        }
        if depth > 0 {
            for i in self.visible(|v| matches!(v.ty, Ty::Fun(_))) {
                if let Ty::Fun(s) = self.vars[i].ty {
                    if self.fits(self.sigs[s].ret, ty) && self.affords(self.call_cost(s)) {
                        options.push(Source::Call(i, s));
                    }
                }
            }
            if let Some(c) = in_method {
                if let Some(sup) = self.classes[c].superclass {
                    for m in &self.classes[sup].methods {
                        let sig: &Sig = &self.sigs[m.sig];
                        if self.fits(sig.ret, ty) && self.affords(m.actual) {
                            options.push(Source::Super(m.name.clone(), m.sig, m.actual, m.est));
                        }
                    }
                }
            }
        }
        if options.is_empty() {
            return None;
        }
        let pick = self.ch.below(options.len() as u64) as usize;
        let source = options.swap_remove(pick);
        self.read_source(source, ty, depth)
    }

    fn read_source(&mut self, source: Source, ty: Ty, depth: u32) -> Option<E> {
        let d = depth.saturating_sub(1);
        let mut e = match source {
            Source::Var(i) => E::new(self.use_var(i), PRIMARY),
            Source::This => E::new("this".to_string(), PRIMARY),
            Source::Field(recv, name) => {
                let r = self.receiver_text(recv);
                self.constants(1);
                self.charge(Cost::new(2, 0));
                E::new(format!("{r}.{name}"), PRIMARY)
            }
            // Calls are charged before their arguments are written, so that the arguments fit
            // in what is left and the function stays within its contract.
            Source::Call(i, sig) => {
                let cap = self.call_cost(sig);
                let est = self.vars[i].est.map_or(cap, |e| e.then(Cost::new(4, 0)));
                self.charge_call(cap, est);
                let params = self.sigs[sig].params.clone();
                let args = self.arguments(&params, d)?;
                let f = self.use_var(i);
                E::new(format!("{f}({args})"), PRIMARY)
            }
            Source::Invoke(recv, name, sig, est) => {
                self.charge_call(self.call_cost(sig), est.then(Cost::new(4, 0)));
                self.invoke(recv, &name, sig, d)?
            }
            Source::FieldCall(recv, name, sig) => {
                self.charge(self.call_cost(sig));
                self.invoke(recv, &name, sig, d)?
            }
            Source::Super(name, sig, actual, est) => {
                self.charge_call(actual.then(Cost::new(4, 0)), est.then(Cost::new(4, 0)));
                let params = self.sigs[sig].params.clone();
                let args = self.arguments(&params, d)?;
                self.constants(1);
                E::new(format!("super.{name}({args})"), PRIMARY)
            }
        };
        e.bound = NUM_BOUND;
        if ty == Ty::Str {
            e.len = STR_BOUND;
        }
        Some(e)
    }

    /// `receiver.name(args)` (not yet charged).
    fn invoke(&mut self, recv: Option<usize>, name: &str, sig: usize, depth: u32) -> Option<E> {
        let params = self.sigs[sig].params.clone();
        let args = self.arguments(&params, depth)?;
        let r = self.receiver_text(recv);
        self.constants(1);
        Some(E::new(format!("{r}.{name}({args})"), PRIMARY))
    }

    /// Comma-separated arguments for `params`, each fit to be stored.
    pub(super) fn arguments(&mut self, params: &[Ty], depth: u32) -> Option<String> {
        let mut args = Vec::with_capacity(params.len());
        for p in params {
            args.push(self.stored(*p, depth)?.text);
        }
        Some(args.join(", "))
    }
}
