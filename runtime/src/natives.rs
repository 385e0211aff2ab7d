//! Native functions — the built-ins `clock`, `Lock` and `Thread`, and functions the embedder
//! registers from Rust — and the methods of the built-in objects (`acquire`, `release`,
//! `join`). The natives table is off-heap, shared by every thread (`Shared::natives`); a
//! Native object in the heap holds only an index into it.

use crate::api::{HostFn, HostValue};
use crate::heapops::TableRef;
use crate::object::{tag, Obj};
use crate::value::Value;
use crate::vm::{RuntimeError, VmCore};
use gc::OutOfMemory;

#[derive(Copy, Clone)]
pub enum NativeKind {
    /// Monotonic wall-clock seconds since the program started (not CPU time: a collector
    /// thread would inflate that).
    Clock,
    /// `Lock()`: a new lock (lox_lock.rs).
    Lock,
    /// `Thread(fn)`: starts `fn()` on a new thread (threads.rs).
    Thread,
    Host(HostFn),
}

/// The built-in natives every VM defines.
pub fn builtins() -> [NativeEntry; 3] {
    let entry = |name: &str, arity, kind| NativeEntry {
        name: name.into(),
        arity,
        kind,
    };
    [
        entry("clock", None, NativeKind::Clock),
        entry("Lock", Some(0), NativeKind::Lock),
        entry("Thread", Some(1), NativeKind::Thread),
    ]
}

#[derive(Clone)]
pub struct NativeEntry {
    pub name: String,
    /// `None`: any number of arguments.
    pub arity: Option<u8>,
    pub kind: NativeKind,
}

impl VmCore {
    /// Registers a native function as the global `name`.
    pub(crate) fn define_native(&mut self, entry: NativeEntry) -> Result<(), OutOfMemory> {
        let name = entry.name.clone();
        let index = {
            let mut natives = self.natives_mut();
            natives.push(entry);
            natives.len() - 1
        };
        let key = self.intern(name.as_bytes())?;
        self.roots.temps.push(key);
        let native = self.new_native(index);
        let key = self.roots.temps.pop().unwrap_or(Value::NIL);
        self.table_set(TableRef::Globals, key, native?)?;
        Ok(())
    }

    /// Converts a host value into a Lox value (interning strings). A safepoint.
    pub(crate) fn host_to_value(&mut self, h: HostValue) -> Result<Value, OutOfMemory> {
        Ok(match h {
            HostValue::Nil => Value::NIL,
            HostValue::Bool(b) => Value::bool(b),
            HostValue::Number(n) => Value::number(n),
            HostValue::String(s) | HostValue::Other(s) => self.intern(s.as_bytes())?,
        })
    }

    fn natives_mut(&self) -> std::sync::RwLockWriteGuard<'_, Vec<NativeEntry>> {
        // A panic elsewhere cannot leave the list half-changed: pushes are whole.
        self.shared
            .natives
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Calls native `index` with `argc` arguments above it on the stack, replacing them and
    /// the callee with its result. A safepoint.
    pub(crate) fn call_native(&mut self, index: usize, argc: usize) -> Result<(), RuntimeError> {
        let entry = {
            let natives = self
                .shared
                .natives
                .read()
                .unwrap_or_else(|e| e.into_inner());
            natives.get(index).map(|e| (e.arity, e.kind))
        };
        let Some((arity, kind)) = entry else {
            return Err(self.runtime_error(b"Can only call functions and classes."));
        };
        if let Some(a) = arity {
            if usize::from(a) != argc {
                return Err(self.arity_error(usize::from(a), argc));
            }
        }
        let result = match kind {
            NativeKind::Clock => Value::number(self.shared.start.elapsed().as_secs_f64()),
            NativeKind::Lock => match self.new_lock() {
                Ok(l) => l,
                Err(OutOfMemory) => return Err(self.out_of_memory()),
            },
            NativeKind::Thread => self.native_thread()?,
            NativeKind::Host(f) => {
                let top = self.roots.stack.top;
                let args: Vec<_> = (top - argc..top)
                    // SAFETY: stack values are live and current.
                    .map(|i| unsafe { HostValue::from_value(self.roots.stack.get(i)) })
                    .collect();
                // The host function runs outside the VM (it sees only copies): a pause does
                // not wait for it. A collection requested meanwhile runs right after, before
                // its result is interned.
                let r = self.heap.in_native(&mut self.roots, || f(&args));
                match r {
                    Ok(h) => match self.host_to_value(h) {
                        Ok(v) => v,
                        Err(OutOfMemory) => return Err(self.out_of_memory()),
                    },
                    Err(msg) => return Err(self.runtime_error(msg.as_bytes())),
                }
            }
        };
        self.roots.stack.top -= argc + 1;
        self.roots.stack.push(result);
        Ok(())
    }

    /// `receiver.name(args)` for a Lock or Thread receiver (`Ok(false)`: not one of those).
    /// Their methods take no arguments and leave their result in the receiver's place.
    pub(crate) fn invoke_builtin(
        &mut self,
        name: Value,
        argc: usize,
    ) -> Result<bool, RuntimeError> {
        let receiver = self.roots.stack.peek(argc);
        if !receiver.is_object() {
            return Ok(false);
        }
        // SAFETY: the receiver and the name (a constant) were read since the last safepoint.
        let (t, method) = unsafe {
            (
                Obj::from_value(receiver).tag(),
                Obj::from_value(name).string_bytes(),
            )
        };
        let call: fn(&mut VmCore) -> Result<(), RuntimeError> = match (t, method) {
            (tag::LOCK, b"acquire") => VmCore::lock_acquire,
            (tag::LOCK, b"release") => VmCore::lock_release,
            (tag::THREAD, b"join") => VmCore::thread_join,
            (tag::LOCK | tag::THREAD, _) => {
                return Err(self.undefined_property(name));
            }
            _ => return Ok(false),
        };
        if argc != 0 {
            return Err(self.arity_error(0, argc));
        }
        call(self).map(|()| true)
    }
}
