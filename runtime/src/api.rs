//! The embedding API: create a VM, run Lox source in it (globals persist across calls, as a
//! REPL needs), capture its output, register Rust functions as Lox natives and read globals.
//!
//! ```
//! use lox::{HostValue, Vm, VmOptions};
//! let mut vm = Vm::new(VmOptions::default()).unwrap();
//! vm.define_native("twice", Some(1), |args| match args {
//!     [HostValue::Number(n)] => Ok(HostValue::Number(2.0 * n)),
//!     _ => Err("twice() takes a number.".to_string()),
//! })
//! .unwrap();
//! vm.interpret(b"var x = twice(21); print x;").unwrap();
//! assert_eq!(vm.get_global("x"), Some(HostValue::Number(42.0)));
//! ```

use crate::chunk::Proto;
use crate::load::LoadError;
use crate::natives::{NativeEntry, NativeKind};
use crate::object::{tag, LoxModel, Obj};
use crate::print::print_value;
use crate::shared::Shared;
use crate::table;
use crate::value::Value;
use crate::vm::VmCore;
use gc::{Heap, HeapConfig};
use std::io::Write;

/// Settings of a VM.
#[derive(Clone, Debug, Default)]
pub struct VmOptions {
    /// The collected heap's settings (size limit, stress and verification modes, logging).
    pub heap: HeapConfig,
}

/// Why `interpret` failed. The VM has already printed the details to its error output, as
/// clox does (compile errors, or the runtime error message and stack trace).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InterpretError {
    Compile,
    Runtime,
}

/// A Lox value outside the heap, for natives and `get_global`.
#[derive(Clone, Debug, PartialEq)]
pub enum HostValue {
    Nil,
    Bool(bool),
    Number(f64),
    /// A Lox string (bytes that are not UTF-8 are replaced).
    String(String),
    /// Any other object (function, class, instance…), as Lox would print it. A native that
    /// returns one gives Lox that text as a string.
    Other(String),
}

/// Prints the value as Lox's `print` would.
impl std::fmt::Display for HostValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostValue::Nil => f.write_str("nil"),
            HostValue::Bool(b) => write!(f, "{b}"),
            HostValue::Number(n) => {
                let mut buf = Vec::new();
                crate::numfmt::format_g(&mut buf, *n);
                f.write_str(&String::from_utf8_lossy(&buf))
            }
            HostValue::String(s) | HostValue::Other(s) => f.write_str(s),
        }
    }
}

/// A native function implemented in Rust. `Err(message)` becomes a Lox runtime error.
pub type HostFn = fn(&[HostValue]) -> Result<HostValue, String>;

impl HostValue {
    /// Copies `v` out of the heap.
    ///
    /// # Safety
    /// 1. If `v` is an object it is live and current.
    pub(crate) unsafe fn from_value(v: Value) -> HostValue {
        if v.is_number() {
            return HostValue::Number(v.as_number());
        }
        if v.is_nil() {
            return HostValue::Nil;
        }
        if v.is_bool() {
            return HostValue::Bool(v.as_bool());
        }
        let mut text = Vec::new();
        // SAFETY: rule 1.
        unsafe { print_value(&mut text, v) };
        let text = String::from_utf8_lossy(&text).into_owned();
        // SAFETY: rule 1.
        if unsafe { Obj::from_value(v) }.tag() == tag::STRING {
            HostValue::String(text)
        } else {
            HostValue::Other(text)
        }
    }
}

/// A Lox virtual machine with its own heap.
pub struct Vm {
    core: VmCore,
}

impl Vm {
    /// Creates a VM (reserving its heap) with the `clock` native defined.
    pub fn new(options: VmOptions) -> Result<Vm, String> {
        let heap = Heap::<LoxModel>::new(options.heap).map_err(|e| e.to_string())?;
        let shared = Shared::new(heap.clone());
        let mut core = VmCore::new(heap.attach(), shared);
        let init = core
            .intern(b"init")
            .map_err(|_| "out of memory creating the VM".to_string())?;
        // SAFETY: shared rule 2: written once, before any other thread exists.
        unsafe { (*core.shared.roots()).init_string = init };
        for entry in crate::natives::builtins() {
            core.define_native(entry)
                .map_err(|_| "out of memory creating the VM".to_string())?;
        }
        Ok(Vm { core })
    }

    /// Compiles and runs `source`. Errors are reported on the error output (stderr unless
    /// redirected) before this returns.
    pub fn interpret(&mut self, source: &[u8]) -> Result<(), InterpretError> {
        let proto = match crate::compiler::compile(source) {
            Ok(p) => p,
            Err(e) => {
                let mut text = Vec::new();
                for line in &e.errors {
                    text.extend_from_slice(line.as_bytes());
                    text.push(b'\n');
                }
                self.core.write_error(&text);
                return Err(InterpretError::Compile);
            }
        };
        self.interpret_proto(&proto)
    }

    /// Runs an already compiled script (tests, tools that build bytecode themselves).
    pub fn interpret_proto(&mut self, script: &Proto) -> Result<(), InterpretError> {
        let closure = match self.core.load(script) {
            Ok(c) => c,
            Err(LoadError::OutOfMemory) => {
                self.report(b"Out of memory.");
                return Err(InterpretError::Runtime);
            }
            Err(LoadError::Invalid(why)) => {
                self.report(format!("Invalid bytecode: {why}").as_bytes());
                return Err(InterpretError::Compile);
            }
        };
        let r = self
            .core
            .execute(closure)
            .map_err(|_| InterpretError::Runtime);
        if self.core.out.len() >= crate::vm::FLUSH_AT {
            self.core.flush_lines();
        }
        r
    }

    fn report(&mut self, msg: &[u8]) {
        let mut text = msg.to_vec();
        text.push(b'\n');
        self.core.write_error(&text);
    }

    /// Writes buffered `print` output to the output sink. Call before reading interactive
    /// input; it also happens on errors, when the buffer is large and when the VM is dropped.
    pub fn flush_output(&mut self) {
        self.core.flush_out();
    }

    /// Sends `print` output to `w` instead of stdout (after flushing what is buffered). The
    /// sink is shared by every thread of the program, hence `Send`.
    pub fn set_output(&mut self, w: Box<dyn Write + Send>) {
        self.core.flush_out();
        self.core.shared.output.set_out(w);
    }

    /// Sends error messages and stack traces to `w` instead of stderr.
    pub fn set_error_output(&mut self, w: Box<dyn Write + Send>) {
        self.core.shared.output.set_err(w);
    }

    /// The collector's statistics as JSON. A concurrent compaction may still be running: call
    /// [`Vm::finish_gc`] first for final figures.
    pub fn gc_stats_json(&mut self) -> String {
        let core = &mut self.core;
        core.heap.stats_json(&mut core.roots)
    }

    /// Waits for a running concurrent compaction to finish and records the final figures
    /// (peak heap and RSS). Call before reading statistics at exit.
    pub fn finish_gc(&mut self) {
        self.core.heap.finish();
    }

    /// Why the concurrent collector is not (fully) in use although it was asked for, if so:
    /// userfaultfd denied or missing a feature (the heap then collects stop-the-world or
    /// installs pages by COPY). The embedder decides whether to show it.
    pub fn gc_fallback_notice(&self) -> Option<&str> {
        self.core.heap.fallback_notice()
    }

    /// Whether the collector compacts concurrently with the program.
    pub fn gc_is_concurrent(&self) -> bool {
        self.core.heap.is_concurrent()
    }

    /// The handle another thread uses to ask this VM's program for a collection or to stop it
    /// for a while (`gc::ThreadControl`). The program notices at its next loop back-edge,
    /// call or allocation; a program inside a native function or blocked on output counts as
    /// stopped already.
    pub fn gc_control(&self) -> std::sync::Arc<gc::Safepoints> {
        self.core.heap.safepoints()
    }

    /// Completed collections so far.
    pub fn gc_cycles(&self) -> u64 {
        self.core.heap.cycles()
    }

    /// Runs `f`, which must not use this VM, in the collector's native state: the program
    /// counts as stopped meanwhile, so a pause never waits for `f` (reading a line from a
    /// terminal, say). A collection requested meanwhile runs before this returns.
    pub fn outside_vm<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let core = &mut self.core;
        core.heap.in_native(&mut core.roots, f)
    }

    /// Runs a full collection now.
    pub fn collect_garbage(&mut self) {
        let core = &mut self.core;
        core.heap.collect(&mut core.roots);
    }

    /// Defines the global `name` as a native function. `arity: None` accepts any number of
    /// arguments; otherwise a call with another count is a runtime error, as for Lox functions.
    pub fn define_native(
        &mut self,
        name: &str,
        arity: Option<u8>,
        f: HostFn,
    ) -> Result<(), String> {
        self.core
            .define_native(NativeEntry {
                name: name.to_string(),
                arity,
                kind: NativeKind::Host(f),
            })
            .map_err(|_| "out of memory".to_string())
    }

    /// The value of the global `name`, if defined.
    pub fn get_global(&mut self, name: &str) -> Option<HostValue> {
        let bytes = name.as_bytes();
        let hash = crate::object::hash_bytes(bytes);
        let core = &mut self.core;
        let multi = core.shared.multi();
        if multi {
            core.lock_intern();
        }
        // SAFETY: the intern table is read under its lock or by the only mutator (shared rule
        // 2). A weak lookup, but the key is only compared by identity and dropped before the
        // next safepoint: it never becomes a strong reference, so it needs no shading.
        let key =
            unsafe { table::find_string((*core.shared.roots()).strings.entries, bytes, hash) };
        if multi {
            core.shared.intern_lock.unlock();
        }
        // SAFETY: the globals' entries are one word read without a lock (shared rule 3); no
        // safepoint until the value is copied out.
        unsafe {
            let v = table::get((*core.shared.roots()).globals.entries, key?, hash)?;
            Some(HostValue::from_value(v))
        }
    }

    /// Defines (or overwrites) the global `name` with `value`. `HostValue::Other` text becomes
    /// a Lox string.
    pub fn set_global(&mut self, name: &str, value: HostValue) -> Result<(), String> {
        let oom = |_| "out of memory".to_string();
        let core = &mut self.core;
        let key = core.intern(name.as_bytes()).map_err(oom)?;
        // The key must survive the value's allocation.
        core.roots.temps.push(key);
        let v = core.host_to_value(value);
        let key = core.roots.temps.pop().unwrap_or(Value::NIL);
        let v = v.map_err(oom)?;
        core.table_set(crate::heapops::TableRef::Globals, key, v)
            .map_err(oom)?;
        Ok(())
    }

    /// Waits until every Lox thread the program started (and every thread those started) has
    /// ended, joined or not: the program's end. The `lox` command calls it after the script;
    /// a host that drops the VM without it leaves the threads running to their end (each
    /// holds what it needs of the program).
    pub fn wait_for_threads(&mut self) {
        let core = &mut self.core;
        core.flush_out();
        let shared = core.shared.clone();
        core.heap
            .in_native(&mut core.roots, || shared.wait_for_threads());
        if core.heap.should_yield() {
            core.heap.safepoint(&mut core.roots);
        }
    }

    /// Whether a Lox thread the program started ended with a runtime error that no `join` saw
    /// (its message and trace were reported when it failed); the `lox` command then exits
    /// with status 70 although the main script succeeded.
    pub fn thread_failed_unjoined(&self) -> bool {
        self.core.shared.unjoined_failures() > 0
    }

    /// Bytes of heap in use (allocated since the last collection, plus survivors).
    pub fn heap_used_bytes(&self) -> usize {
        self.core.heap.used_bytes()
    }
}

#[cfg(test)]
impl Vm {
    pub(crate) fn core(&self) -> &VmCore {
        &self.core
    }

    pub(crate) fn core_mut(&mut self) -> &mut VmCore {
        &mut self.core
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.core.flush_out();
    }
}
