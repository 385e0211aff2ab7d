//! What the generator knows about the program it is writing: the static types of values, the
//! signatures of functions and methods with their cost contracts, and the classes declared so
//! far. Types keep every generated program free of unintended runtime errors; costs keep it
//! terminating within a budget and inside clox's call-depth limit.

/// The static type of a generated expression. Instances and functions are never nil.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A number. Variables, fields, parameters and results stay within [`NUM_BOUND`].
    Num,
    /// A string of at most [`STR_BOUND`] bytes.
    Str,
    Bool,
    /// An instance of the class with this index (or of a subclass).
    Inst(usize),
    /// A function, closure or bound method with the signature of this index.
    Fun(usize),
}

/// Largest magnitude of a number kept in a variable, field, parameter or result. Wider
/// intermediate values pass through the prelude's `wrap` before they are stored.
pub const NUM_BOUND: f64 = 1e6;
/// Largest magnitude an expression may reach (`wrap` brings it back in a few dozen steps).
pub const EXPR_BOUND: f64 = 1e15;
/// Longest string kept in a variable or field; longer ones appear only in the string shapes.
pub const STR_BOUND: usize = 64;

/// Work done at run time: `work` in rough VM instructions, `allocs` in heap objects,
/// `depth` the deepest chain of calls (frames) below this point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub work: u64,
    pub allocs: u64,
    pub depth: u32,
}

impl Cost {
    pub const fn new(work: u64, allocs: u64) -> Cost {
        Cost {
            work,
            allocs,
            depth: 0,
        }
    }

    /// This, then `o`.
    pub fn then(self, o: Cost) -> Cost {
        Cost {
            work: self.work.saturating_add(o.work),
            allocs: self.allocs.saturating_add(o.allocs),
            depth: self.depth.max(o.depth),
        }
    }

    /// This, `n` times.
    pub fn times(self, n: u64) -> Cost {
        Cost {
            work: self.work.saturating_mul(n),
            allocs: self.allocs.saturating_mul(n),
            depth: self.depth,
        }
    }

    /// Fits within `cap` (work and allocations; depth is checked where calls are made).
    pub fn within(self, cap: Cost) -> bool {
        self.work <= cap.work && self.allocs <= cap.allocs && self.depth <= cap.depth
    }
}

/// A callable's contract: what it takes and returns, and the most it may cost per call.
#[derive(Clone, Debug)]
pub struct Sig {
    pub params: Vec<Ty>,
    pub ret: Ty,
    pub cap: Cost,
}

/// One method as a class sees it (its own or inherited).
#[derive(Clone, Debug)]
pub struct Method {
    pub name: String,
    pub sig: usize,
    /// What the implementation this class runs costs at most (a `super.` call is charged this).
    pub actual: Cost,
    /// What it is expected to cost (for the estimates only).
    pub est: Cost,
}

/// A declared class.
#[derive(Clone, Debug)]
pub struct Class {
    pub name: String,
    pub superclass: Option<usize>,
    /// Every field an instance has after `init`, inherited ones first.
    pub fields: Vec<(String, Ty)>,
    /// Every method, inherited ones first (an override keeps its place and signature).
    pub methods: Vec<Method>,
    /// Parameters of `init` and what constructing one costs.
    pub init_params: Vec<Ty>,
    pub init_cost: Cost,
    pub init_est: Cost,
}

/// A variable in scope.
#[derive(Clone, Debug)]
pub struct Var {
    pub name: String,
    pub ty: Ty,
    /// Index of the function frame that declared it (0: a global).
    pub level: usize,
    /// False for loop counters and `this`: the generator never assigns them.
    pub assignable: bool,
    /// For a declared function: what a call is expected to cost (for the estimates only).
    pub est: Option<Cost>,
}
