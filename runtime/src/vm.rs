//! The virtual machine: its state (`VmCore`), the dispatch loop and calls.
//!
//! Moving objects shape this file. The loop keeps hot state in locals — `ip` into the
//! off-heap bytecode, `sp` and `slots` into the off-heap value stack, and `closure`/`consts`
//! into the heap — and treats every operation that may allocate as a safepoint: before it,
//! `save!` writes `sp` and the instruction offset back to the VM; after it, `reload!` (same
//! frame) or `load_frame!` (after a call or return) re-reads the heap pointers from the
//! frame's closure, which the collector updated. Operands never stay in locals across a
//! safepoint; they are re-read from the stack. Loop back-edges and calls also poll the
//! collector's flag (`poll!`), so that a program that stops allocating still reaches a
//! safepoint promptly; native functions and blocking output run in the native state.
//!
//! While a concurrent compaction runs, reading the heap may fault and be resolved on this
//! thread (design note §2.6); that is transparent here. What is not: a system call given a
//! heap address fails, so everything that leaves the process (print output, error messages,
//! host values) is first copied into an off-heap buffer.
//!
//! Bounds checks are absent from the loop because the loader verified the bytecode (verify.rs):
//! operands are in range, and a frame never grows past its `max_stack`, which `call_closure`
//! checks against the stack size.

use crate::heapops::TableRef;
use crate::object::{self, field, tag, LoxModel, Obj, UPVALUE_CLOSED};
use crate::print::{print_string, print_value};
use crate::roots::{Frame, ThreadRoots, FRAMES_MAX, STACK_SLOTS};
use crate::shared::Shared;
use crate::table;
use crate::upvalues::in_stack;
use crate::value::Value;
use gc::{Mutator, OutOfMemory};
use std::io::Write;
use std::sync::Arc;

/// Print output is written out (its complete lines) when the buffer passes this size.
pub const FLUSH_AT: usize = 1 << 16;
/// A runtime error's trace shows this many innermost and outermost frames, and elides the rest.
const TRACE_END_FRAMES: usize = 32;
/// Slots kept free above every frame's verified maximum.
const STACK_SLACK: usize = 4;

/// A runtime error that has already been reported (message and trace on the error sink).
#[derive(Debug)]
pub struct RuntimeError;

/// Opcode byte values, for `match`.
mod op {
    use crate::chunk::Op;
    pub const CONSTANT: u8 = Op::Constant as u8;
    pub const NIL: u8 = Op::Nil as u8;
    pub const TRUE: u8 = Op::True as u8;
    pub const FALSE: u8 = Op::False as u8;
    pub const POP: u8 = Op::Pop as u8;
    pub const GET_LOCAL: u8 = Op::GetLocal as u8;
    pub const SET_LOCAL: u8 = Op::SetLocal as u8;
    pub const GET_GLOBAL: u8 = Op::GetGlobal as u8;
    pub const DEFINE_GLOBAL: u8 = Op::DefineGlobal as u8;
    pub const SET_GLOBAL: u8 = Op::SetGlobal as u8;
    pub const GET_UPVALUE: u8 = Op::GetUpvalue as u8;
    pub const SET_UPVALUE: u8 = Op::SetUpvalue as u8;
    pub const GET_PROPERTY: u8 = Op::GetProperty as u8;
    pub const SET_PROPERTY: u8 = Op::SetProperty as u8;
    pub const GET_SUPER: u8 = Op::GetSuper as u8;
    pub const EQUAL: u8 = Op::Equal as u8;
    pub const GREATER: u8 = Op::Greater as u8;
    pub const LESS: u8 = Op::Less as u8;
    pub const ADD: u8 = Op::Add as u8;
    pub const SUBTRACT: u8 = Op::Subtract as u8;
    pub const MULTIPLY: u8 = Op::Multiply as u8;
    pub const DIVIDE: u8 = Op::Divide as u8;
    pub const NOT: u8 = Op::Not as u8;
    pub const NEGATE: u8 = Op::Negate as u8;
    pub const PRINT: u8 = Op::Print as u8;
    pub const JUMP: u8 = Op::Jump as u8;
    pub const JUMP_IF_FALSE: u8 = Op::JumpIfFalse as u8;
    pub const LOOP: u8 = Op::Loop as u8;
    pub const CALL: u8 = Op::Call as u8;
    pub const INVOKE: u8 = Op::Invoke as u8;
    pub const SUPER_INVOKE: u8 = Op::SuperInvoke as u8;
    pub const CLOSURE: u8 = Op::Closure as u8;
    pub const CLOSE_UPVALUE: u8 = Op::CloseUpvalue as u8;
    pub const RETURN: u8 = Op::Return as u8;
    pub const CLASS: u8 = Op::Class as u8;
    pub const INHERIT: u8 = Op::Inherit as u8;
    pub const METHOD: u8 = Op::Method as u8;
}

/// The VM's state. The public face is `api::Vm`.
pub struct VmCore {
    /// This thread's handle on the program's heap.
    pub(crate) heap: Mutator<LoxModel>,
    /// This thread's roots.
    pub(crate) roots: ThreadRoots,
    /// What all threads share: the shared roots (reached through `Shared::roots` only).
    pub(crate) shared: Arc<Shared>,
    /// `print` output not yet written to the shared output (output.rs).
    pub(crate) out: Vec<u8>,
    /// This thread's id (the holder a Lox lock records).
    pub(crate) thread_id: u64,
    /// Off-heap scratch for building strings (concatenation) before interning.
    pub(crate) scratch: Vec<u8>,
}

/// True if `v` is an object with type tag `t`.
///
/// # Safety
/// 1. If `v` is an object it is live and current.
#[inline(always)]
unsafe fn is_obj_type(v: Value, t: u32) -> bool {
    // SAFETY: rule 1.
    v.is_object() && unsafe { Obj::from_value(v) }.tag() == t
}

impl VmCore {
    pub(crate) fn new(heap: Mutator<LoxModel>, shared: Arc<Shared>) -> VmCore {
        VmCore {
            heap,
            roots: ThreadRoots::new(),
            thread_id: shared.new_thread_id(),
            shared,
            out: Vec::with_capacity(FLUSH_AT + 1024),
            scratch: Vec::new(),
        }
    }

    /// The safepoint the dispatch loop takes when `should_yield` is set: another thread asked
    /// for a stop or a collection, or a concurrent cycle finished and is to be reaped. The
    /// caller saved its state first and reloads every heap pointer afterwards.
    #[cold]
    #[inline(never)]
    fn yield_to_collector(&mut self) {
        self.heap.safepoint(&mut self.roots);
    }

    /// Reports a runtime error: the message, then one line per active frame, innermost first;
    /// then resets the stack.
    #[cold]
    pub(crate) fn runtime_error(&mut self, msg: &[u8]) -> RuntimeError {
        // The code table's line numbers are read under its lock while other threads may load
        // code. Waiting for it may be a safepoint: everything below is read from the roots.
        let multi = self.shared.multi();
        if multi {
            self.lock_code([]);
        }
        let mut e = Vec::with_capacity(msg.len() + 64);
        e.extend_from_slice(msg);
        e.push(b'\n');
        let depth = self.roots.frames.len();
        for (i, f) in self.roots.frames.iter().rev().enumerate() {
            // A runaway recursion has thousands of identical frames: show both ends only.
            if depth > 2 * TRACE_END_FRAMES && i >= TRACE_END_FRAMES {
                if i == TRACE_END_FRAMES {
                    let omitted = depth - 2 * TRACE_END_FRAMES;
                    let _ = writeln!(e, "... {omitted} more frames ...");
                }
                if i < depth - TRACE_END_FRAMES {
                    continue;
                }
            }
            // SAFETY: frames' closures are roots; no safepoint while reporting.
            let func =
                unsafe { Obj::from_value(Obj::from_value(f.closure).get(field::CLOSURE_FUNCTION)) };
            // SAFETY: shared rule 2: the code table is read under its lock or by the only
            // mutator; the reference dies before the next safepoint (none while reporting).
            let code = unsafe { &(*self.shared.roots()).code };
            let entry = code.get(func.function_code_index() as u32);
            let at = (f.ip as usize).saturating_sub(1);
            let line = entry.lines.get(at).copied().unwrap_or(0);
            let _ = write!(e, "[line {line}] in ");
            let name = func.get(field::FUNCTION_NAME);
            if name.is_nil() {
                e.extend_from_slice(b"script\n");
            } else {
                // SAFETY: a live function's name is a live string.
                unsafe { print_string(&mut e, name) };
                e.extend_from_slice(b"()\n");
            }
        }
        if multi {
            self.shared.code_lock.unlock();
        }
        self.write_error(&e);
        self.reset_stack();
        RuntimeError
    }

    /// Empties the stack after an error. Open upvalues are closed first: a closure that
    /// escaped (into a global, or to another thread) keeps the value its variable had, and no
    /// upvalue is left naming a slot of a stack that is reused, or unmapped when the thread
    /// ends (upvalues.rs).
    pub(crate) fn reset_stack(&mut self) {
        self.close_upvalues(0);
        self.roots.stack.top = 0;
        self.roots.frames.clear();
        self.roots.open_upvalues = Value::NIL;
        self.roots.temps.clear();
    }

    #[cold]
    pub(crate) fn out_of_memory(&mut self) -> RuntimeError {
        self.runtime_error(b"Out of memory.")
    }

    /// `msg` with a string value spliced in: `prefix name suffix`.
    #[cold]
    fn error_with_name(&mut self, prefix: &[u8], name: Value, suffix: &[u8]) -> RuntimeError {
        let mut m = prefix.to_vec();
        // SAFETY: names come from constants (live strings) read since the last safepoint.
        unsafe { print_string(&mut m, name) };
        m.extend_from_slice(suffix);
        self.runtime_error(&m)
    }

    #[cold]
    pub(crate) fn undefined_variable(&mut self, name: Value) -> RuntimeError {
        self.error_with_name(b"Undefined variable '", name, b"'.")
    }

    #[cold]
    pub(crate) fn undefined_property(&mut self, name: Value) -> RuntimeError {
        self.error_with_name(b"Undefined property '", name, b"'.")
    }

    #[cold]
    pub(crate) fn arity_error(&mut self, expected: usize, got: usize) -> RuntimeError {
        let m = format!("Expected {expected} arguments but got {got}.");
        self.runtime_error(m.as_bytes())
    }

    /// Calls the script closure `closure` (already loaded) and runs it to completion.
    pub(crate) fn execute(&mut self, closure: Value) -> Result<(), RuntimeError> {
        self.roots.stack.push(closure);
        self.call_closure(closure, 0)?;
        self.run()?;
        // The script's result (nil).
        self.roots.stack.pop();
        Ok(())
    }

    /// Pushes a frame for `closure` with `argc` arguments on the stack above it.
    #[inline]
    fn call_closure(&mut self, closure: Value, argc: usize) -> Result<(), RuntimeError> {
        // SAFETY: the callee was read from the stack (a root) since the last safepoint.
        let func =
            unsafe { Obj::from_value(Obj::from_value(closure).get(field::CLOSURE_FUNCTION)) };
        let arity = usize::from(func.function_arity());
        if argc != arity {
            return Err(self.arity_error(arity, argc));
        }
        if self.roots.frames.len() >= FRAMES_MAX {
            return Err(self.runtime_error(b"Stack overflow."));
        }
        let base = self.roots.stack.top - argc - 1;
        if base + func.function_max_stack() + STACK_SLACK > STACK_SLOTS {
            return Err(self.runtime_error(b"Stack overflow."));
        }
        self.roots.frames.push(Frame {
            closure,
            ip: 0,
            base: base as u32,
            code: func.function_code(),
        });
        Ok(())
    }

    /// Calls whatever `callee` is, with `argc` arguments above it on the stack. A safepoint.
    pub(crate) fn call_value(&mut self, callee: Value, argc: usize) -> Result<(), RuntimeError> {
        if callee.is_object() {
            // SAFETY: read from the stack since the last safepoint.
            let o = unsafe { Obj::from_value(callee) };
            let slot = self.roots.stack.top - argc - 1;
            match o.tag() {
                tag::CLOSURE => return self.call_closure(callee, argc),
                tag::BOUND_METHOD => {
                    self.roots.stack.set(slot, o.get(field::BOUND_RECEIVER));
                    return self.call_closure(o.get(field::BOUND_METHOD), argc);
                }
                tag::CLASS => {
                    let inst = match self.new_instance(callee) {
                        Ok(i) => i,
                        Err(OutOfMemory) => return Err(self.out_of_memory()),
                    };
                    self.roots.stack.set(slot, inst);
                    // SAFETY: just allocated; its class field is current.
                    let class = unsafe {
                        Obj::from_value(Obj::from_value(inst).get(field::INSTANCE_CLASS))
                    };
                    // SAFETY: shared rule 3: one word, read without a lock.
                    let init = unsafe { (*self.shared.roots()).init_string };
                    // SAFETY: the init string is a root; class entries are current.
                    let found = unsafe {
                        table::get(
                            class.get(field::TABLE_ENTRIES),
                            init,
                            Obj::from_value(init).string_hash(),
                        )
                    };
                    return match found {
                        Some(m) => self.call_closure(m, argc),
                        None if argc != 0 => Err(self.arity_error(0, argc)),
                        None => Ok(()),
                    };
                }
                tag::NATIVE => return self.call_native(o.word(field::NATIVE_INDEX) as usize, argc),
                _ => {}
            }
        }
        Err(self.runtime_error(b"Can only call functions and classes."))
    }

    /// Looks `name` up in `class`'s methods and calls it with `argc` arguments.
    fn invoke_from_class(
        &mut self,
        class: Value,
        name: Value,
        argc: usize,
    ) -> Result<(), RuntimeError> {
        // SAFETY: class and name read from the stack / constants since the last safepoint.
        let found = unsafe {
            let c = Obj::from_value(class);
            table::get(
                c.get(field::TABLE_ENTRIES),
                name,
                Obj::from_value(name).string_hash(),
            )
        };
        match found {
            Some(m) => self.call_closure(m, argc),
            None => Err(self.error_with_name(b"Undefined property '", name, b"'.")),
        }
    }

    /// `receiver.name(args)` without creating a bound method.
    fn invoke(&mut self, name: Value, argc: usize) -> Result<(), RuntimeError> {
        let receiver = self.roots.stack.peek(argc);
        // SAFETY: from the stack, current.
        if !unsafe { is_obj_type(receiver, tag::INSTANCE) } {
            if self.invoke_builtin(name, argc)? {
                return Ok(());
            }
            return Err(self.runtime_error(b"Only instances have methods."));
        }
        // SAFETY: as above; name is a live constant.
        let (field_value, class) = unsafe {
            let inst = Obj::from_value(receiver);
            let hash = Obj::from_value(name).string_hash();
            (
                table::get(inst.get(field::TABLE_ENTRIES), name, hash),
                inst.get(field::INSTANCE_CLASS),
            )
        };
        if let Some(v) = field_value {
            let slot = self.roots.stack.top - argc - 1;
            self.roots.stack.set(slot, v);
            return self.call_value(v, argc);
        }
        self.invoke_from_class(class, name, argc)
    }

    /// Replaces the receiver on top of the stack with `class`'s method `name` bound to it.
    fn bind_method(&mut self, class: Value, name: Value) -> Result<(), RuntimeError> {
        // SAFETY: class and name current (read since the last safepoint).
        let found = unsafe {
            let c = Obj::from_value(class);
            table::get(
                c.get(field::TABLE_ENTRIES),
                name,
                Obj::from_value(name).string_hash(),
            )
        };
        let Some(method) = found else {
            return Err(self.error_with_name(b"Undefined property '", name, b"'."));
        };
        let receiver = self.roots.stack.peek(0);
        match self.new_bound_method(receiver, method) {
            Ok(b) => {
                let top = self.roots.stack.top;
                self.roots.stack.set(top - 1, b);
                Ok(())
            }
            Err(OutOfMemory) => Err(self.out_of_memory()),
        }
    }

    /// Copies the superclass's methods (below the top) into the subclass (on top).
    fn inherit(&mut self) -> Result<(), RuntimeError> {
        let mut i = 0;
        loop {
            // Re-read both classes every step: `table_set` may move everything.
            let sup = self.roots.stack.peek(1);
            // SAFETY: from the stack, current.
            let (k, v) = unsafe {
                let e = Obj::from_value(sup).get(field::TABLE_ENTRIES);
                if i >= table::capacity_of(e) {
                    return Ok(());
                }
                let e = Obj::from_value(e);
                (table::key_at(e, i), table::value_at(e, i))
            };
            i += 1;
            if k.is_object() {
                let sub = self.roots.stack.peek(0);
                if self.table_set(TableRef::Object(sub), k, v).is_err() {
                    return Err(self.out_of_memory());
                }
            }
        }
    }

    /// Pops two strings and pushes their concatenation. Past the longest string the error says
    /// so (not "Out of memory.", which the heap may not be); a result the off-heap buffer
    /// cannot hold is "Out of memory." rather than an abort.
    fn concatenate(&mut self) -> Result<(), RuntimeError> {
        // SAFETY: both operands are on the stack, current; no safepoint before they are copied.
        let (a, b) = unsafe {
            (
                Obj::from_value(self.roots.stack.peek(1)),
                Obj::from_value(self.roots.stack.peek(0)),
            )
        };
        let Some(len) = object::concatenated_len(a.string_len(), b.string_len()) else {
            return Err(self.runtime_error(b"String too long."));
        };
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        if buf.try_reserve(len).is_err() {
            self.scratch = buf;
            return Err(self.out_of_memory());
        }
        // Copied off-heap before allocating: the operands may move.
        buf.extend_from_slice(a.string_bytes());
        buf.extend_from_slice(b.string_bytes());
        let r = self.intern(&buf);
        self.scratch = buf;
        match r {
            Ok(s) => {
                self.roots.stack.top -= 2;
                self.roots.stack.push(s);
                Ok(())
            }
            Err(OutOfMemory) => Err(self.out_of_memory()),
        }
    }

    /// Builds the closure for a `Closure` instruction: pushes it, then captures its upvalues as
    /// the operand pairs at `operands` say. Returns the pointer past the operands.
    ///
    /// # Safety
    /// 1. `operands` points at the verified upvalue operand pairs of this instruction in the
    ///    current frame's code, as many as `function` has upvalues.
    unsafe fn make_closure(
        &mut self,
        function: Value,
        mut operands: *const u8,
    ) -> Result<*const u8, RuntimeError> {
        let c = match self.new_closure(function) {
            Ok(c) => c,
            Err(OutOfMemory) => return Err(self.out_of_memory()),
        };
        self.roots.stack.push(c);
        // SAFETY: just allocated, current.
        let n = unsafe { Obj::from_value(Obj::from_value(c).get(field::CLOSURE_FUNCTION)) }
            .function_upvalue_count();
        let Some(frame) = self.roots.frames.last().copied() else {
            return Ok(operands);
        };
        for i in 0..n {
            // SAFETY: rule 1.
            let (is_local, index) = unsafe { (*operands, usize::from(*operands.add(1))) };
            // SAFETY: rule 1: still inside this instruction's operands.
            operands = unsafe { operands.add(2) };
            let up = if is_local == 1 {
                match self.capture_upvalue(frame.base as usize + index) {
                    Ok(u) => u,
                    Err(OutOfMemory) => return Err(self.out_of_memory()),
                }
            } else {
                let cur = self
                    .roots
                    .frames
                    .last()
                    .map(|f| f.closure)
                    .unwrap_or(Value::NIL);
                // SAFETY: the frame's closure is a root, current.
                unsafe { Obj::from_value(cur) }.get(field::CLOSURE_UPVALUES + index)
            };
            // SAFETY: the new closure is on top of the stack, re-read after the capture.
            // A capture may have been a safepoint, so the closure is not fresh any more: the
            // store is barriered (its old word is the nil `new_closure` wrote).
            unsafe { Obj::from_value(self.roots.stack.peek(0)) }.store(
                &mut self.heap,
                field::CLOSURE_UPVALUES + i,
                up,
            );
        }
        Ok(operands)
    }

    /// Runs until the frame that was on top when `run` was entered returns, leaving its result
    /// in place of its callee on the stack.
    pub(crate) fn run(&mut self) -> Result<(), RuntimeError> {
        let stop_depth = self.roots.frames.len() - 1;
        let stack_base = self.roots.stack.base_ptr();
        let mut sp: *mut Value;
        let mut ip: *const u8;
        let mut code_base: *const u8;
        let mut slots: *mut Value;
        let mut closure: Obj;
        let mut consts: *const Value;

        // SAFETY: for the whole loop, the invariants that make these raw accesses valid are
        // (a) bytecode was verified at load (verify.rs): operands index existing constants of
        //     the right kind, locals below the frame's stack height, existing upvalues, and jump
        //     targets inside the code; no instruction underflows the stack;
        // (b) `call_closure` checked that this frame's verified `max_stack` fits in the stack
        //     allocation, so `sp` stays inside it;
        // (c) `closure` and `consts` point into the heap and are re-read from the frame (a root)
        //     after every safepoint (`reload!`/`load_frame!`); values read from the stack or
        //     constants are used only before the next safepoint;
        // (d) `ip` and `code_base` point into the frame's bytecode, a boxed slice that lives as
        //     long as its function, which the frame keeps alive;
        // (e) the shared roots are read through `Shared::roots` as single words (shared rule 3)
        //     and no reference into them is kept.
        unsafe {
            // Loads the top frame's state, except `sp`.
            macro_rules! enter_frame {
                () => {{
                    let f = *self.roots.frames.last().unwrap_unchecked();
                    code_base = f.code;
                    ip = code_base.add(f.ip as usize);
                    slots = stack_base.add(f.base as usize);
                    closure = Obj::from_value(f.closure);
                    let func = Obj::from_value(closure.get(field::CLOSURE_FUNCTION));
                    consts = Obj::from_value(func.get(field::FUNCTION_CONSTANTS))
                        .word_ptr(field::ARRAY_VALUES) as *const Value;
                }};
            }
            // After a safepoint that may have pushed or popped frames.
            macro_rules! load_frame {
                () => {{
                    enter_frame!();
                    sp = stack_base.add(self.roots.stack.top);
                }};
            }
            // The common call: a closure with the right arity and room for its frame. Pushes
            // the frame and switches to it without a safepoint; otherwise evaluates to false
            // and the caller takes the general path (which reports the error).
            macro_rules! enter_closure {
                ($callee:expr, $argc:expr) => {{
                    let callee: Value = $callee;
                    let func =
                        Obj::from_value(Obj::from_value(callee).get(field::CLOSURE_FUNCTION));
                    let base = sp.sub($argc + 1);
                    let base_index = base.offset_from(stack_base) as usize;
                    if usize::from(func.function_arity()) == $argc
                        && self.roots.frames.len() < FRAMES_MAX
                        && base_index + func.function_max_stack() + STACK_SLACK <= STACK_SLOTS
                    {
                        let n = self.roots.frames.len();
                        self.roots.frames.get_unchecked_mut(n - 1).ip =
                            ip.offset_from(code_base) as u32;
                        code_base = func.function_code();
                        self.roots.frames.push(Frame {
                            closure: callee,
                            ip: 0,
                            base: base_index as u32,
                            code: code_base,
                        });
                        ip = code_base;
                        slots = base;
                        closure = Obj::from_value(callee);
                        consts = Obj::from_value(func.get(field::FUNCTION_CONSTANTS))
                            .word_ptr(field::ARRAY_VALUES) as *const Value;
                        true
                    } else {
                        false
                    }
                }};
            }
            macro_rules! save {
                () => {{
                    self.roots.stack.top = sp.offset_from(stack_base) as usize;
                    let n = self.roots.frames.len();
                    self.roots.frames.get_unchecked_mut(n - 1).ip =
                        ip.offset_from(code_base) as u32;
                }};
            }
            macro_rules! reload {
                () => {{
                    sp = stack_base.add(self.roots.stack.top);
                    let f = self.roots.frames.last().unwrap_unchecked();
                    closure = Obj::from_value(f.closure);
                    let func = Obj::from_value(closure.get(field::CLOSURE_FUNCTION));
                    consts = Obj::from_value(func.get(field::FUNCTION_CONSTANTS))
                        .word_ptr(field::ARRAY_VALUES) as *const Value;
                }};
            }
            // A safepoint poll (loop back-edges and calls): one relaxed load when nothing is
            // asked of the mutator.
            macro_rules! poll {
                () => {{
                    if self.heap.should_yield() {
                        save!();
                        self.yield_to_collector();
                        reload!();
                    }
                }};
            }
            macro_rules! byte {
                () => {{
                    let b = *ip;
                    ip = ip.add(1);
                    b
                }};
            }
            macro_rules! short {
                () => {{
                    let s = (usize::from(*ip) << 8) | usize::from(*ip.add(1));
                    ip = ip.add(2);
                    s
                }};
            }
            macro_rules! constant {
                () => {
                    *consts.add(usize::from(byte!()))
                };
            }
            macro_rules! push {
                ($v:expr) => {{
                    *sp = $v;
                    sp = sp.add(1);
                }};
            }
            macro_rules! peek {
                ($d:expr) => {
                    *sp.sub(1 + $d)
                };
            }
            macro_rules! fail {
                ($e:expr) => {{
                    save!();
                    return Err($e);
                }};
            }
            macro_rules! oom {
                ($r:expr) => {
                    match $r {
                        Ok(v) => v,
                        Err(OutOfMemory) => return Err(self.out_of_memory()),
                    }
                };
            }
            macro_rules! numeric {
                ($wrap:expr, $op:tt) => {{
                    let b = peek!(0);
                    let a = peek!(1);
                    if a.is_number() && b.is_number() {
                        sp = sp.sub(1);
                        *sp.sub(1) = $wrap(a.as_number() $op b.as_number());
                    } else {
                        fail!(self.runtime_error(b"Operands must be numbers."));
                    }
                }};
            }

            load_frame!();
            loop {
                match byte!() {
                    op::CONSTANT => push!(constant!()),
                    op::NIL => push!(Value::NIL),
                    op::TRUE => push!(Value::TRUE),
                    op::FALSE => push!(Value::FALSE),
                    op::POP => sp = sp.sub(1),
                    op::GET_LOCAL => {
                        let s = usize::from(byte!());
                        push!(*slots.add(s));
                    }
                    op::SET_LOCAL => {
                        let s = usize::from(byte!());
                        *slots.add(s) = peek!(0);
                    }
                    op::GET_GLOBAL => {
                        let name = constant!();
                        let hash = Obj::from_value(name).string_hash();
                        let globals = (*self.shared.roots()).globals.entries;
                        match table::get(globals, name, hash) {
                            Some(v) => push!(v),
                            None => {
                                fail!(self.undefined_variable(name))
                            }
                        }
                    }
                    op::DEFINE_GLOBAL => {
                        let name = constant!();
                        save!();
                        oom!(self.table_set(TableRef::Globals, name, peek!(0)));
                        reload!();
                        sp = sp.sub(1);
                    }
                    op::SET_GLOBAL => {
                        let name = constant!();
                        let v = peek!(0);
                        if self.shared.multi() {
                            save!();
                            self.set_global_locked(name, v)?;
                            reload!();
                        } else {
                            let hash = Obj::from_value(name).string_hash();
                            let entries = (*self.shared.roots()).globals.entries;
                            if !table::set_existing(entries, name, hash, v, &mut self.heap) {
                                fail!(self.undefined_variable(name));
                            }
                        }
                    }
                    op::GET_UPVALUE => {
                        let i = usize::from(byte!());
                        let u = Obj::from_value(closure.get(field::CLOSURE_UPVALUES + i));
                        let slot = u.word(field::UPVALUE_SLOT);
                        let v = if slot == UPVALUE_CLOSED {
                            u.get(field::UPVALUE_CLOSED)
                        } else if in_stack(slot, stack_base) {
                            *(slot as usize as *const Value)
                        } else {
                            save!();
                            let v = self.get_foreign_upvalue(i);
                            reload!();
                            v
                        };
                        push!(v);
                    }
                    op::SET_UPVALUE => {
                        let i = usize::from(byte!());
                        let u = Obj::from_value(closure.get(field::CLOSURE_UPVALUES + i));
                        let slot = u.word(field::UPVALUE_SLOT);
                        if slot == UPVALUE_CLOSED {
                            u.store(&mut self.heap, field::UPVALUE_CLOSED, peek!(0));
                        } else if in_stack(slot, stack_base) {
                            *(slot as usize as *mut Value) = peek!(0);
                        } else {
                            save!();
                            self.set_foreign_upvalue(i, peek!(0));
                            reload!();
                        }
                    }
                    op::GET_PROPERTY => {
                        let receiver = peek!(0);
                        if !is_obj_type(receiver, tag::INSTANCE) {
                            fail!(self.runtime_error(b"Only instances have properties."));
                        }
                        let name = constant!();
                        let inst = Obj::from_value(receiver);
                        let hash = Obj::from_value(name).string_hash();
                        if let Some(v) = table::get(inst.get(field::TABLE_ENTRIES), name, hash) {
                            *sp.sub(1) = v;
                        } else {
                            save!();
                            self.bind_method(inst.get(field::INSTANCE_CLASS), name)?;
                            reload!();
                        }
                    }
                    op::SET_PROPERTY => {
                        let target = peek!(1);
                        if !is_obj_type(target, tag::INSTANCE) {
                            fail!(self.runtime_error(b"Only instances have fields."));
                        }
                        let name = constant!();
                        save!();
                        oom!(self.table_set(TableRef::Object(target), name, peek!(0)));
                        reload!();
                        let v = peek!(0);
                        sp = sp.sub(1);
                        *sp.sub(1) = v;
                    }
                    op::GET_SUPER => {
                        let name = constant!();
                        sp = sp.sub(1);
                        let superclass = *sp;
                        save!();
                        self.bind_method(superclass, name)?;
                        reload!();
                    }
                    op::EQUAL => {
                        let b = peek!(0);
                        let a = peek!(1);
                        sp = sp.sub(1);
                        *sp.sub(1) = Value::bool(a.lox_equals(b));
                    }
                    op::GREATER => numeric!(Value::bool, >),
                    op::LESS => numeric!(Value::bool, <),
                    op::ADD => {
                        let b = peek!(0);
                        let a = peek!(1);
                        if a.is_number() && b.is_number() {
                            sp = sp.sub(1);
                            *sp.sub(1) = Value::number(a.as_number() + b.as_number());
                        } else if is_obj_type(a, tag::STRING) && is_obj_type(b, tag::STRING) {
                            save!();
                            self.concatenate()?;
                            reload!();
                        } else {
                            fail!(
                                self.runtime_error(b"Operands must be two numbers or two strings.")
                            );
                        }
                    }
                    op::SUBTRACT => numeric!(Value::number, -),
                    op::MULTIPLY => numeric!(Value::number, *),
                    op::DIVIDE => numeric!(Value::number, /),
                    op::NOT => *sp.sub(1) = Value::bool(peek!(0).is_falsey()),
                    op::NEGATE => {
                        let v = peek!(0);
                        if !v.is_number() {
                            fail!(self.runtime_error(b"Operand must be a number."));
                        }
                        *sp.sub(1) = Value::number(-v.as_number());
                    }
                    op::PRINT => {
                        sp = sp.sub(1);
                        print_value(&mut self.out, *sp);
                        self.out.push(b'\n');
                        // With several threads each line goes out as it is printed (lines
                        // appear in the order the prints ran); alone, in large writes.
                        if self.out.len() >= FLUSH_AT || self.shared.multi() {
                            // The native state: another thread's pause may move objects
                            // meanwhile, so the roots are saved and every pointer reloaded.
                            save!();
                            self.flush_lines();
                            reload!();
                        }
                    }
                    op::JUMP => {
                        let off = short!();
                        ip = ip.add(off);
                    }
                    op::JUMP_IF_FALSE => {
                        let off = short!();
                        if peek!(0).is_falsey() {
                            ip = ip.add(off);
                        }
                    }
                    op::LOOP => {
                        let off = short!();
                        ip = ip.sub(off);
                        poll!();
                    }
                    op::CALL => {
                        poll!();
                        let argc = usize::from(byte!());
                        let callee = peek!(argc);
                        if is_obj_type(callee, tag::CLOSURE) && enter_closure!(callee, argc) {
                            continue;
                        }
                        save!();
                        self.call_value(callee, argc)?;
                        load_frame!();
                    }
                    op::INVOKE => {
                        poll!();
                        let name = constant!();
                        let argc = usize::from(byte!());
                        let receiver = peek!(argc);
                        if is_obj_type(receiver, tag::INSTANCE) {
                            let inst = Obj::from_value(receiver);
                            let hash = Obj::from_value(name).string_hash();
                            if table::get(inst.get(field::TABLE_ENTRIES), name, hash).is_none() {
                                let class = Obj::from_value(inst.get(field::INSTANCE_CLASS));
                                if let Some(m) =
                                    table::get(class.get(field::TABLE_ENTRIES), name, hash)
                                {
                                    if enter_closure!(m, argc) {
                                        continue;
                                    }
                                }
                            }
                        }
                        save!();
                        self.invoke(name, argc)?;
                        load_frame!();
                    }
                    op::SUPER_INVOKE => {
                        poll!();
                        let name = constant!();
                        let argc = usize::from(byte!());
                        sp = sp.sub(1);
                        let superclass = *sp;
                        save!();
                        self.invoke_from_class(superclass, name, argc)?;
                        load_frame!();
                    }
                    op::CLOSURE => {
                        let function = constant!();
                        save!();
                        ip = self.make_closure(function, ip)?;
                        reload!();
                    }
                    op::CLOSE_UPVALUE => {
                        self.close_upvalues(sp.offset_from(stack_base) as usize - 1);
                        sp = sp.sub(1);
                    }
                    op::RETURN => {
                        let result = peek!(0);
                        let f = self.roots.frames.pop().unwrap_unchecked();
                        if self.roots.open_upvalues.is_object() {
                            self.close_upvalues(f.base as usize);
                        }
                        if self.roots.frames.len() == stop_depth {
                            // The result replaces the callee, as for any call.
                            *stack_base.add(f.base as usize) = result;
                            self.roots.stack.top = f.base as usize + 1;
                            return Ok(());
                        }
                        sp = stack_base.add(f.base as usize);
                        push!(result);
                        enter_frame!();
                    }
                    op::CLASS => {
                        let name = constant!();
                        save!();
                        let c = oom!(self.new_class(name));
                        reload!();
                        push!(c);
                    }
                    op::INHERIT => {
                        if !is_obj_type(peek!(1), tag::CLASS) {
                            fail!(self.runtime_error(b"Superclass must be a class."));
                        }
                        save!();
                        self.inherit()?;
                        reload!();
                        sp = sp.sub(1);
                    }
                    op::METHOD => {
                        let name = constant!();
                        save!();
                        oom!(self.table_set(TableRef::Object(peek!(1)), name, peek!(0)));
                        reload!();
                        sp = sp.sub(1);
                    }
                    // Verified code holds only the opcodes above.
                    _ => std::hint::unreachable_unchecked(),
                }
            }
        }
    }
}
