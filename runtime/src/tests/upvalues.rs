//! Reaching an upvalue that is open in another thread's stack (upvalues.rs): through the
//! upvalue's header lock, reading and writing the other stack's slot. No second Lox thread
//! exists yet, so the test plays the other thread: it points a closure's upvalue at a slot of
//! a buffer standing in for that thread's stack, and holds the lock for a while.

use super::harness;
use crate::object::{field, Obj, UPVALUE_CLOSED};
use crate::table;
use crate::value::Value;
use gc::HeapConfig;
use std::time::Duration;

/// The first upvalue of the closure in global `name`.
fn upvalue_of_global(h: &super::Harness, name: &str) -> Obj {
    let shared = h.vm.core().shared_roots_for_tests();
    let hash = crate::object::hash_bytes(name.as_bytes());
    // SAFETY: the test's VM is between runs: its tables and objects are current until it runs
    // again, and the global names a closure with one upvalue.
    unsafe {
        let key = table::find_string(shared.strings.entries, name.as_bytes(), hash).unwrap();
        let closure = table::get(shared.globals.entries, key, hash).unwrap();
        Obj::from_value(Obj::from_value(closure).get(field::CLOSURE_UPVALUES))
    }
}

#[test]
fn an_upvalue_open_in_another_stack_is_used_under_its_lock() {
    let mut h = harness(HeapConfig::default());
    h.vm.core().shared.set_multi(true);
    let src = "var get; var set;\n\
               fun f() { var x = 1; fun g() { return x; } fun s(v) { x = v; } get = g; set = s; }\n\
               f();";
    assert_eq!(h.run(src), Ok(()));
    // The other thread's stack, with the variable in slot 2.
    let mut foreign = vec![Value::NIL; 4].into_boxed_slice();
    foreign[2] = Value::number(41.0);
    let slot = &raw mut foreign[2] as usize as u64;
    // `get` and `set` share the upvalue: open it again, in the foreign stack.
    let u = upvalue_of_global(&h, "get");
    assert_eq!(u, upvalue_of_global(&h, "set"));
    assert_eq!(u.word(field::UPVALUE_SLOT), UPVALUE_CLOSED);
    u.set_word(field::UPVALUE_SLOT, slot);

    assert_eq!(h.run("print get(); set(42); print get();"), Ok(()));
    assert_eq!(h.take_out(), "41\n42\n");
    // SAFETY: the slot lies in `foreign`, which the VM wrote through the upvalue.
    let written = unsafe { *(slot as usize as *const Value) };
    assert_eq!(written, Value::number(42.0));

    // Held by "the other thread": the reader waits until it lets go.
    let u = upvalue_of_global(&h, "get");
    assert!(u.try_lock());
    let at = u.address().0;
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: nothing moves the upvalue meanwhile (a stop-the-world heap that the waiting
        // program does not allocate in), so `at` is still its header; the lock is ours.
        unsafe { Obj::from_address(gc::Address(at)) }.unlock();
    });
    let t0 = std::time::Instant::now();
    assert_eq!(h.run("set(43); print get();"), Ok(()));
    assert!(
        t0.elapsed() >= Duration::from_millis(90),
        "did not wait for the lock"
    );
    holder.join().unwrap();
    assert_eq!(h.take_out(), "43\n");

    // Closed by its owner: the value moves in, and the foreign slot is no longer used.
    let u = upvalue_of_global(&h, "get");
    u.store(
        &mut crate::barrier::Fresh,
        field::UPVALUE_CLOSED,
        foreign[2],
    );
    u.set_word(field::UPVALUE_SLOT, UPVALUE_CLOSED);
    foreign[2] = Value::NIL;
    assert_eq!(h.run("print get();"), Ok(()));
    assert_eq!(h.take_out(), "43\n");
}
