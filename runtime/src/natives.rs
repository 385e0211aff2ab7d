//! Native functions: the built-in `clock` and functions the embedder registers from Rust. The
//! natives table is off-heap; a Native object in the heap holds only an index into it.

use crate::api::{HostFn, HostValue};
use crate::heapops::TableRef;
use crate::value::Value;
use crate::vm::VmCore;
use gc::OutOfMemory;

#[derive(Copy, Clone)]
pub enum NativeKind {
    /// Monotonic wall-clock seconds since the VM started (not CPU time: a collector thread
    /// would inflate that).
    Clock,
    Host(HostFn),
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
        let index = self.natives.len();
        let name = entry.name.clone();
        self.natives.push(entry);
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
}
