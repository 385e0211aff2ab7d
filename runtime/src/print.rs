//! How values look when printed (`print`, error messages), as clox prints them. Appends to an
//! off-heap byte buffer: heap bytes are copied out, never handed to a system call. No recursion:
//! printing any object reads at most a fixed chain (bound method → closure → function → name).

use crate::numfmt::format_g;
use crate::object::{field, tag, Obj};
use crate::value::Value;

/// Appends `v` as Lox prints it.
///
/// # Safety
/// 1. If `v` is an object it is live and current (read from a root since the last safepoint).
pub unsafe fn print_value(out: &mut Vec<u8>, v: Value) {
    if v.is_number() {
        format_g(out, v.as_number());
    } else if v.is_nil() {
        out.extend_from_slice(b"nil");
    } else if v.is_bool() {
        out.extend_from_slice(if v.as_bool() { b"true" } else { b"false" });
    } else {
        // SAFETY: rule 1.
        unsafe { print_object(out, Obj::from_value(v)) }
    }
}

/// # Safety
/// 1. `o` is live and current, as are the objects it refers to.
unsafe fn print_object(out: &mut Vec<u8>, o: Obj) {
    // SAFETY: for every `from_value` below, rule 1 — fields of a live object refer to live
    // objects of the types the layout says.
    unsafe {
        match o.tag() {
            tag::STRING => out.extend_from_slice(o.string_bytes()),
            tag::FUNCTION => print_function(out, o),
            tag::CLOSURE => print_function(out, Obj::from_value(o.get(field::CLOSURE_FUNCTION))),
            tag::BOUND_METHOD => {
                let closure = Obj::from_value(o.get(field::BOUND_METHOD));
                print_function(out, Obj::from_value(closure.get(field::CLOSURE_FUNCTION)))
            }
            tag::NATIVE => out.extend_from_slice(b"<native fn>"),
            tag::CLASS => print_string(out, o.get(field::CLASS_NAME)),
            tag::INSTANCE => {
                let class = Obj::from_value(o.get(field::INSTANCE_CLASS));
                print_string(out, class.get(field::CLASS_NAME));
                out.extend_from_slice(b" instance");
            }
            tag::UPVALUE => out.extend_from_slice(b"upvalue"),
            tag::LOCK => out.extend_from_slice(b"<lock>"),
            tag::THREAD => out.extend_from_slice(b"<thread>"),
            _ => out.extend_from_slice(b"<internal>"),
        }
    }
}

/// # Safety
/// 1. `f` is a live Function.
unsafe fn print_function(out: &mut Vec<u8>, f: Obj) {
    let name = f.get(field::FUNCTION_NAME);
    if name.is_nil() {
        out.extend_from_slice(b"<script>");
    } else {
        out.extend_from_slice(b"<fn ");
        // SAFETY: rule 1: a live function's name is a live string.
        unsafe { print_string(out, name) };
        out.push(b'>');
    }
}

/// # Safety
/// 1. `s` is a live string.
pub unsafe fn print_string(out: &mut Vec<u8>, s: Value) {
    // SAFETY: rule 1.
    out.extend_from_slice(unsafe { Obj::from_value(s) }.string_bytes());
}
