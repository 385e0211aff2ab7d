//! A generator of valid, deterministic, terminating and GC-heavy Lox programs, for differential
//! fuzzing against the reference clox (`lox-fuzz`) and for the cargo-fuzz `program` target.
//!
//! The generator is grammar-based and typed ([`types`]): it knows the type of every variable,
//! field and result, so the programs it writes fail at run time only where it plants an error on
//! purpose ([`errors`]). Every callable carries a cost contract (work, allocations, call depth):
//! a body is written within its contract and every call is charged the callee's, which bounds
//! the run time, keeps call chains inside clox's 64 frames, and rules out recursion except in the
//! shapes that recurse on purpose. It also keeps each function inside clox's other limits (256
//! constants, which clox does not share between equal names, and 256 locals). Numbers stay
//! bounded (wider intermediates pass through the prelude's `wrap`), strings stay short except in
//! the string shapes.
//!
//! One idea per file: [`choices`] (where decisions come from), [`code`] (text), [`expr`]
//! (expressions by type), [`stmt`] (statements and function bodies), [`classes`] (hierarchies,
//! `init`, `super`, bound methods in fields), [`shapes`] (the GC-heavy parts: lists, trees,
//! graphs with cycles, strings, closures, instances as maps, heap growth and shrink) and
//! [`errors`] (deliberate runtime errors).

pub mod choices;
mod classes;
mod code;
mod errors;
mod expr;
mod shapes;
mod stmt;
pub mod types;

use choices::Choices;
use code::Code;
use types::{Class, Cost, Sig, Ty, Var};

/// Most constants the generator lets one function's chunk use before it stops adding statements
/// (clox's limit is 256; one statement adds at most a few dozen).
const CONSTANTS_SOFT_LIMIT: u32 = 180;
/// Most locals in scope in one function (clox's limit is 256).
const LOCALS_LIMIT: usize = 150;
/// Deepest call chain below `main` (clox has 64 frames: the script, `main`, and a margin).
const MAIN_DEPTH: u32 = 48;

/// A generated program and how to run it.
#[derive(Clone, Debug)]
pub struct Program {
    pub source: String,
    /// Collect every this many allocations in the stress modes: 1 to 13 for small programs,
    /// larger where a collection per allocation would take minutes.
    pub stress_interval: u64,
    /// Estimated allocations and work (rough VM instructions) of one run.
    pub allocs: u64,
    pub work: u64,
    /// A runtime error was planted (the run should exit with 70, as clox does).
    pub planted_error: bool,
}

/// How big a program to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A few thousand allocations: collected at every allocation in the stress modes.
    Small,
    /// Hundreds of thousands of allocations and megabytes of live data.
    Large,
}

/// Writes one program.
pub fn program(ch: &mut Choices, size: Size) -> Program {
    let budget = match size {
        Size::Small => Cost::new(400_000, 6_000),
        Size::Large => Cost::new(20_000_000, 2_000_000),
    };
    let mut g = Gen::new(ch, budget);
    let (spent, planted_error) = g.whole_program(budget);
    // In concurrent mode the interval also decides how far the program runs between a cycle's
    // start, its flip and the next start: varied, so races meet different interleavings.
    let stress_interval = match size {
        Size::Small if g.ch.chance(1, 2) => g.ch.range(2, 13),
        Size::Small => 1,
        Size::Large => (spent.allocs / 400).max(1),
    };
    Program {
        source: g.code.finish(),
        stress_interval,
        allocs: spent.allocs,
        work: spent.work,
        planted_error,
    }
}

/// A function being written: its scope and what its chunk has used up.
struct Frame {
    /// `vars.len()` at the start of each open block.
    scopes: Vec<usize>,
    constants: u32,
    /// The class whose method this is, and whether it is `init` (whose fields are not set yet).
    this_class: Option<usize>,
    in_init: bool,
    /// The return type (None for the script and `init`).
    ret: Option<Ty>,
    /// What is left of the body's budget; `depth` is the deepest call it may still make.
    left: Cost,
    /// What the body costs at most: every call charged its callee's contract. This bounds the
    /// program; `est` (calls charged what their callee is expected to cost) sizes the runs.
    spent: Cost,
    est: Cost,
    /// Loops around the current point (caps nesting).
    loops: u32,
}

/// The generator's state.
struct Gen<'c> {
    ch: &'c mut Choices,
    code: Code,
    classes: Vec<Class>,
    sigs: Vec<Sig>,
    vars: Vec<Var>,
    frames: Vec<Frame>,
    next_name: u32,
    /// The whole program's budget: contracts of functions and methods are shares of it.
    scale: Cost,
}

impl<'c> Gen<'c> {
    fn new(ch: &'c mut Choices, scale: Cost) -> Gen<'c> {
        let script = Frame {
            scopes: vec![0],
            constants: 0,
            this_class: None,
            in_init: false,
            ret: None,
            left: Cost {
                work: scale.work / 10,
                allocs: scale.allocs / 10,
                depth: MAIN_DEPTH,
            },
            spent: Cost::default(),
            est: Cost::default(),
            loops: 0,
        };
        Gen {
            ch,
            code: Code::default(),
            classes: Vec::new(),
            sigs: Vec::new(),
            vars: Vec::new(),
            frames: vec![script],
            next_name: 0,
            scale,
        }
    }

    /// A fresh identifier starting with `prefix`.
    fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{prefix}{}", self.next_name)
    }

    fn frame(&mut self) -> &mut Frame {
        self.frames
            .last_mut()
            .expect("the script frame is never popped")
    }

    fn level(&self) -> usize {
        self.frames.len() - 1
    }

    /// Records `n` constants in the current chunk.
    fn constants(&mut self, n: u32) {
        self.frame().constants += n;
    }

    /// Charges `c` to the current function: its budget shrinks, its spending grows.
    fn charge(&mut self, c: Cost) {
        self.charge_call(c, c);
    }

    /// Charges a call: its contract `cap` to the budget, `est` to the estimate.
    fn charge_call(&mut self, cap: Cost, est: Cost) {
        let f = self.frame();
        f.spent = f.spent.then(cap);
        f.est = f.est.then(est);
        f.left.work = f.left.work.saturating_sub(cap.work);
        f.left.allocs = f.left.allocs.saturating_sub(cap.allocs);
    }

    /// Whether `c` still fits the current budget (depth included).
    fn affords(&self, c: Cost) -> bool {
        let f = self.frames.last().expect("script frame");
        c.work <= f.left.work && c.allocs <= f.left.allocs && c.depth <= f.left.depth
    }

    /// Whether the current function may take another statement.
    fn room(&self) -> bool {
        let f = self.frames.last().expect("script frame");
        let locals = self.vars.iter().filter(|v| v.level == self.level()).count();
        f.constants < CONSTANTS_SOFT_LIMIT && locals < LOCALS_LIMIT && f.left.work > 20
    }

    fn open_scope(&mut self) {
        let n = self.vars.len();
        self.frame().scopes.push(n);
    }

    fn close_scope(&mut self) {
        let n = self.frame().scopes.pop().unwrap_or(0);
        self.vars.truncate(n);
    }

    /// Declares a variable in the current scope (a global at the top level).
    fn declare(&mut self, name: &str, ty: Ty, assignable: bool) {
        let level = self.level();
        self.vars.push(Var {
            name: name.to_string(),
            ty,
            level,
            assignable,
            est: None,
        });
    }

    /// Declares a function just written, with what its calls are expected to cost.
    fn declare_function(&mut self, name: &str, sig: usize, est: Cost) {
        self.declare(name, Ty::Fun(sig), false);
        if let Some(v) = self.vars.last_mut() {
            v.est = Some(est);
        }
    }

    /// Visible variables satisfying `want`, innermost last.
    fn visible(&self, want: impl Fn(&Var) -> bool) -> Vec<usize> {
        (0..self.vars.len())
            .filter(|&i| want(&self.vars[i]))
            .collect()
    }

    /// How a variable is named in the current function: a global costs a constant.
    fn use_var(&mut self, i: usize) -> String {
        if self.vars[i].level == 0 {
            self.constants(1);
        }
        self.vars[i].name.clone()
    }

    fn add_sig(&mut self, sig: Sig) -> usize {
        self.sigs.push(sig);
        self.sigs.len() - 1
    }

    /// Whether a value of class `sub` is an instance of class `sup`.
    fn is_subclass(&self, sub: usize, sup: usize) -> bool {
        let mut c = Some(sub);
        while let Some(k) = c {
            if k == sup {
                return true;
            }
            c = self.classes[k].superclass;
        }
        false
    }

    /// Whether a value of type `have` may stand where `want` is expected.
    fn fits(&self, have: Ty, want: Ty) -> bool {
        match (have, want) {
            (Ty::Inst(a), Ty::Inst(b)) => self.is_subclass(a, b),
            _ => have == want,
        }
    }

    /// Writes the prelude, declarations, shapes and `main`, and calls it. Returns what the run
    /// is expected to cost and whether an error was planted.
    fn whole_program(&mut self, budget: Cost) -> (Cost, bool) {
        self.prelude();
        let items = self.ch.range(2, 9);
        for _ in 0..items {
            if self.frames[0].constants > 150 {
                break;
            }
            match self.ch.weighted(&[3, 3, 1, 3]) {
                0 => self.class_decl(),
                1 => self.global_function(budget),
                2 => self.global_var(),
                _ => self.shape(budget),
            }
        }
        let (main, planted) = self.main_function(budget);
        (self.frames[0].est.then(main), planted)
    }

    /// `wrap(x)`: brings a finite number back within [`types::NUM_BOUND`] by subtracting powers
    /// of two times a million (at most about 60 steps for any number the programs make).
    fn prelude(&mut self) {
        for line in [
            "fun wrap(x) {",
            "  var s = 1;",
            "  if (x < 0) { s = -1; x = -x; }",
            "  var m = 1000000;",
            "  var n = 0;",
            "  while (m * 2 <= x and n < 80) { m = m * 2; n = n + 1; }",
            "  while (x >= 1000000 and n >= 0) { if (x >= m) x = x - m; m = m / 2; n = n - 1; }",
            "  return s * x;",
            "}",
        ] {
            self.code.line(line);
        }
        self.constants(2);
    }

    /// `fun main() { ... }` and its call; returns its expected cost and whether an error was
    /// planted.
    fn main_function(&mut self, budget: Cost) -> (Cost, bool) {
        let mut cap = budget;
        cap.depth = MAIN_DEPTH;
        let planted = self.ch.chance(1, 8);
        self.code.open("fun main()");
        self.push_frame(None, false, None, cap);
        self.open_scope();
        let error_at = if planted { self.ch.range(0, 6) } else { 99 };
        let shapes: Vec<usize> = self.visible(|v| v.name.starts_with("shape"));
        let mut step = 0;
        // Every shape is called at least once; general statements in between.
        for s in shapes {
            if step == error_at {
                self.planted_error();
            }
            step += 1;
            self.call_shape(s);
            if self.ch.chance(1, 2) {
                self.statement();
            }
        }
        while self.room() && self.ch.chance(7, 8) {
            if step == error_at {
                self.planted_error();
            }
            step += 1;
            self.statement();
        }
        if planted && step <= error_at {
            self.planted_error();
        }
        self.close_scope();
        let frame = self.pop_frame();
        self.code.close();
        self.code.line("main();");
        self.constants(3);
        (frame.est, planted)
    }

    fn push_frame(&mut self, this_class: Option<usize>, in_init: bool, ret: Option<Ty>, cap: Cost) {
        let mut left = cap;
        left.depth = cap.depth.saturating_sub(1);
        self.frames.push(Frame {
            scopes: Vec::new(),
            constants: 0,
            this_class,
            in_init,
            ret,
            left,
            spent: Cost::default(),
            est: Cost::default(),
            loops: 0,
        });
    }

    /// Ends the current function; its `spent.depth` becomes the frames it really needs.
    fn pop_frame(&mut self) -> Frame {
        let mut f = self.frames.pop().expect("a function frame");
        for c in [&mut f.spent, &mut f.est] {
            c.depth += 1;
            c.work += 2;
        }
        f
    }
}

#[cfg(test)]
mod tests;
