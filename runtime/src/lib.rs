//! Lox on a managed, compacting heap.
//!
//! The compiler (`scanner`, `compiler`) produces off-heap prototypes (`chunk`); the loader
//! (`load`) turns them into heap objects; the VM (`vm`) runs them. Values are NaN-boxed words
//! (`value`), objects are laid out for the collector (`object`), stores into existing objects go
//! through the write barrier (`barrier`), and everything that refers into the heap from outside
//! is a root: a thread's own (`roots`) or shared by all threads of a program (`shared`), whose
//! tables stay whole under races (`locks`, `sync`). Lox threads and locks are `threads` and
//! `lox_lock`; output leaves through `output`. The public face is `api`.

pub mod api;
pub mod barrier;
pub mod captured;
pub mod chunk;
pub mod code;
pub mod compiler;
pub mod disasm;
mod heapops;
mod load;
mod locks;
mod lox_lock;
mod natives;
pub mod numfmt;
pub mod object;
mod output;
mod print;
pub mod roots;
pub mod scanner;
pub mod shared;
mod sidetable;
mod sync;
pub mod table;
#[cfg(test)]
mod tests;
mod threads;
mod upvalues;
pub mod value;
pub mod verify;
pub mod vm;

pub use api::{HostFn, HostValue, InterpretError, Vm, VmOptions};
pub use captured::Captured;
