//! Lox on a managed, compacting heap.

pub mod chunk;
