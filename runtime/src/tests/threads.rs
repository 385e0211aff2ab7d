//! Lox threads and locks in one thread. Starting an OS thread waits for the heap to take
//! several mutators (threads.rs, `spawn`), so the body a new thread would run (`run_thread`)
//! runs here on the main VM, between two scripts: what it publishes — the result, kept as a
//! root of the shared side table while collections move it, or the failure — is what `join`
//! then sees. Locks work in full.

use super::{configs, label, Harness};
use crate::api::InterpretError;
use crate::heapops::TableRef;
use crate::table;
use crate::threads::side_index;
use crate::value::Value;

/// The value of global `name`.
fn global(h: &Harness, name: &str) -> Value {
    let shared = h.vm.core().shared_roots_for_tests();
    let hash = crate::object::hash_bytes(name.as_bytes());
    // SAFETY: the VM is between runs: its tables are current.
    unsafe {
        let key = table::find_string(shared.strings.entries, name.as_bytes(), hash).unwrap();
        table::get(shared.globals.entries, key, hash).unwrap()
    }
}

/// Makes a Thread for global function `f`, binds it to global `t`, and runs its body here.
fn run_thread_here(h: &mut Harness, f: &str, t: &str) {
    let f = global(h, f);
    let core = h.vm.core_mut();
    let thread = core.new_thread(f).expect("memory");
    core.roots.temps.push(thread);
    let key = core.intern(t.as_bytes()).expect("memory");
    let thread = core.roots.temps.pop().unwrap();
    core.table_set(TableRef::Globals, key, thread)
        .expect("memory");
    // SAFETY: the global holds a Thread object, read just now.
    let index = unsafe { side_index(global(h, t)) };
    h.vm.core_mut().run_thread(index);
}

#[test]
fn join_returns_what_the_thread_returned_every_time() {
    let src = "class Box { init(v) { this.v = v; } }\n\
               fun work() { var b = Box(\"do\" + \"ne\"); for (var i = 0; i < 50; i = i + 1) Box(i); \
               return b; }";
    for cfg in configs() {
        let what = label(&cfg);
        let mut h = super::harness(cfg);
        assert_eq!(h.run(src), Ok(()), "{what}");
        run_thread_here(&mut h, "work", "t");
        assert_eq!(h.err.text(), "", "{what}");
        // Garbage, so collections move the result while only the side table holds it.
        let churn = "for (var i = 0; i < 200; i = i + 1) Box(i);";
        assert_eq!(h.run(churn), Ok(()), "{what}");
        h.vm.collect_garbage();
        assert_eq!(
            h.run("print t; print t.join().v; print t.join() == t.join();"),
            Ok(()),
            "{what}: {}",
            h.err.text()
        );
        assert_eq!(h.take_out(), "<thread>\ndone\ntrue\n", "{what}");
        assert_eq!(h.vm.core().shared.unjoined_failures(), 0);
    }
}

#[test]
fn a_failed_thread_reports_its_error_and_fails_its_joins() {
    let mut h = super::harness(gc::HeapConfig::default());
    let src = "fun inner() { return nil + 1; }\nfun bad() { print \"in bad\"; return inner(); }";
    assert_eq!(h.run(src), Ok(()));
    run_thread_here(&mut h, "bad", "t");
    // The thread's own trace: its frames only.
    assert_eq!(h.take_out(), "in bad\n");
    assert_eq!(
        h.err.take(),
        "Operands must be two numbers or two strings.\n[line 1] in inner()\n[line 2] in bad()\n"
    );
    assert_eq!(
        h.vm.core().shared.unjoined_failures(),
        1,
        "counts until joined"
    );
    for _ in 0..2 {
        assert_eq!(h.run("t.join();"), Err(InterpretError::Runtime));
        assert_eq!(
            h.err.take(),
            "Joined thread ended with a runtime error.\n[line 1] in script\n"
        );
        assert_eq!(h.vm.core().shared.unjoined_failures(), 0);
    }
}

#[test]
fn thread_arguments_are_checked() {
    let mut h = super::harness(gc::HeapConfig::default());
    for arg in ["nil", "1", "\"fn\"", "clock", "C", "f1", "Lock()"] {
        let src = format!("class C {{}} fun f1(a) {{}} Thread({arg});");
        assert_eq!(h.run(&src), Err(InterpretError::Runtime), "{arg}");
        assert_eq!(
            h.err.take(),
            "Thread expects a function of no arguments.\n[line 1] in script\n",
            "{arg}"
        );
    }
    assert_eq!(h.run("Thread();"), Err(InterpretError::Runtime));
    assert_eq!(
        h.err.take(),
        "Expected 1 arguments but got 0.\n[line 1] in script\n"
    );
}

#[test]
fn locks_in_one_thread() {
    let src = "var l = Lock(); print l; print l.acquire(); print l.release();\n\
               l.acquire(); l.release(); l.acquire(); print \"again\"; l.release();\n\
               class C { init(l) { this.l = l; } run() { this.l.acquire(); return this; } }\n\
               var c = C(Lock()); print c.run().l.release();";
    super::check_program(src, "<lock>\nnil\nnil\nagain\nnil\n");
    super::expect_runtime_error(
        "var l = Lock();\nl.acquire();\nl.acquire();",
        "Lock is already held by this thread.\n[line 3] in script\n",
    );
    super::expect_runtime_error(
        "var l = Lock();\nl.release();",
        "Cannot release a lock this thread does not hold.\n[line 2] in script\n",
    );
    super::expect_runtime_error(
        "var l = Lock();\nl.acquire();\nl.release();\nl.release();",
        "Cannot release a lock this thread does not hold.\n[line 4] in script\n",
    );
    super::expect_runtime_error(
        "Lock().wait();",
        "Undefined property 'wait'.\n[line 1] in script\n",
    );
    super::expect_runtime_error(
        "Lock().acquire(1);",
        "Expected 0 arguments but got 1.\n[line 1] in script\n",
    );
    super::expect_runtime_error(
        "Lock().x;",
        "Only instances have properties.\n[line 1] in script\n",
    );
}

#[test]
fn dead_locks_and_threads_free_their_entries() {
    let mut h = super::harness(gc::HeapConfig::default());
    let src = "fun f() { return 1; }\nfor (var i = 0; i < 100; i = i + 1) Lock();";
    assert_eq!(h.run(src), Ok(()));
    run_thread_here(&mut h, "f", "t");
    let counts = |h: &Harness| {
        let s = h.vm.core().shared_roots_for_tests();
        (s.locks.live_count(), s.threads.live_count())
    };
    assert_eq!(counts(&h), (100, 1));
    h.vm.collect_garbage();
    assert_eq!(counts(&h), (0, 1), "the thread is still referenced");
    assert_eq!(h.run("t = nil;"), Ok(()));
    h.vm.collect_garbage();
    assert_eq!(counts(&h), (0, 0));
}
