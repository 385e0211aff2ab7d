//! The loader: turns a prototype tree from the compiler into heap objects — interned strings,
//! constant arrays, Function objects with their bytecode registered in the off-heap code table —
//! and wraps the top-level function in a closure.
//!
//! Everything built so far stays in the temp roots while the next object is allocated, since
//! any allocation may move all of it. Each object is filled right after its own allocation,
//! before the next safepoint: initialising stores, which need no write barrier (barrier.rs). The walk over nested functions is iterative (an explicit
//! stack), so deeply nested source cannot overflow the Rust stack here.

use crate::chunk::{Constant, Proto};
use crate::object::{field, header, tag, words, Obj};
use crate::value::Value;
use crate::verify;
use crate::vm::VmCore;
use gc::OutOfMemory;

/// Why a prototype could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    OutOfMemory,
    /// The bytecode failed verification (a compiler bug, or a hand-built prototype).
    Invalid(String),
}

impl From<OutOfMemory> for LoadError {
    fn from(_: OutOfMemory) -> Self {
        LoadError::OutOfMemory
    }
}

/// A prototype whose constants are being loaded.
struct Pending<'p> {
    proto: &'p Proto,
    /// Next constant to load.
    next: usize,
    /// Index in the temp roots where this prototype's loaded constants start.
    base: usize,
    max_stack: u32,
}

impl VmCore {
    /// Loads `script` and returns its closure (not yet on the stack; the caller roots it
    /// before the next allocation).
    pub(crate) fn load(&mut self, script: &Proto) -> Result<Value, LoadError> {
        let temps_base = self.roots.temps.len();
        let r = self.load_function(script).and_then(|f| {
            self.roots.temps.push(f);
            let c = self.new_closure(f)?;
            Ok(c)
        });
        self.roots.temps.truncate(temps_base);
        r
    }

    fn load_function(&mut self, script: &Proto) -> Result<Value, LoadError> {
        let mut pending = vec![Pending {
            proto: script,
            next: 0,
            base: self.roots.temps.len(),
            max_stack: verify::check(script).map_err(|e| LoadError::Invalid(e.to_string()))?,
        }];
        loop {
            let Some(top) = pending.last_mut() else {
                return Err(LoadError::Invalid("empty prototype stack".into()));
            };
            if let Some(c) = top.proto.constants.get(top.next) {
                top.next += 1;
                match c {
                    Constant::Number(n) => self.roots.temps.push(Value::number(*n)),
                    Constant::String(s) => {
                        let v = self.intern(s)?;
                        self.roots.temps.push(v);
                    }
                    Constant::Function(child) => {
                        let max_stack =
                            verify::check(child).map_err(|e| LoadError::Invalid(e.to_string()))?;
                        let base = self.roots.temps.len();
                        pending.push(Pending {
                            proto: child,
                            next: 0,
                            base,
                            max_stack,
                        });
                    }
                }
                continue;
            }
            let Some(done) = pending.pop() else {
                unreachable!()
            };
            let f = self.build_function(&done)?;
            self.roots.temps.truncate(done.base);
            if pending.is_empty() {
                return Ok(f);
            }
            self.roots.temps.push(f);
        }
    }

    /// Allocates the constant array and the Function for `p`, whose loaded constants are the
    /// temp roots from `p.base` on.
    fn build_function(&mut self, p: &Pending<'_>) -> Result<Value, LoadError> {
        let n = p.proto.constants.len();
        let (arr, []) = self.alloc_keep(1 + n, [])?;
        arr.set_word(0, header(tag::VALUE_ARRAY, 1 + n));
        for i in 0..n {
            arr.set(field::ARRAY_VALUES + i, self.roots.temps[p.base + i]);
        }
        self.roots.temps.truncate(p.base);
        self.roots.temps.push(arr.value());
        let name = match &p.proto.name {
            Some(s) => self.intern(s)?,
            None => Value::NIL,
        };
        let (f, [name]) = self.alloc_keep(words::FUNCTION, [name])?;
        let consts = self.roots.temps[p.base];
        let meta = u64::from(p.proto.arity)
            | (u64::from(p.proto.upvalue_count) << 8)
            | (u64::from(p.max_stack) << 17);
        f.set_word(0, header(tag::FUNCTION, words::FUNCTION));
        // Complete but for its code, so that it can wait for the code table's lock as a root.
        f.set_word(field::FUNCTION_META, meta);
        f.set(field::FUNCTION_NAME, name);
        f.set(field::FUNCTION_CONSTANTS, consts);
        f.set_word(field::FUNCTION_CODE, 0);
        let multi = self.shared.multi();
        let [fv] = if multi {
            self.lock_code([f.value()])
        } else {
            [f.value()]
        };
        // The boxed code keeps its address when moved into the table.
        let code: Box<[u8]> = p.proto.code.clone().into_boxed_slice();
        let code_ptr = code.as_ptr() as usize as u64;
        let lines = p.proto.lines.clone().into_boxed_slice();
        // SAFETY: shared rule 2: the code table is written under its lock, or by the only
        // mutator; the reference dies at once.
        let index = unsafe { (*self.shared.roots()).code.add(fv, code, lines) };
        // SAFETY: `fv` is current (re-read if waiting for the lock was a safepoint). The words
        // set now are no references: no barrier, whether or not `f` is still fresh.
        let f = unsafe { Obj::from_value(fv) };
        f.set_word(field::FUNCTION_META, meta | (u64::from(index) << 32));
        f.set_word(field::FUNCTION_CODE, code_ptr);
        if multi {
            self.shared.code_lock.unlock();
        }
        Ok(f.value())
    }
}
