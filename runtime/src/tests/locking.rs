//! Waiting for a table lock (sync.rs) keeps the program stoppable: a thread spinning on a
//! lock that another thread holds polls the safepoint, so a stop reaches it and a collection
//! runs there, moving the values it waits to store. The lock is held by the test itself,
//! standing in for a second Lox thread.

use super::harness;
use crate::api::HostValue;
use gc::{HeapConfig, MutatorState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STARTED: AtomicBool = AtomicBool::new(false);
static FINISHED: AtomicBool = AtomicBool::new(false);

#[test]
fn a_thread_waiting_for_a_table_lock_reaches_safepoints() {
    // `make` leaves garbage below the object it returns, so that a compaction moves it; then
    // `var g = ...` waits for the globals' lock.
    let prelude = "class P {}\n\
                   fun make() { for (var i = 0; i < 1000; i = i + 1) P(); \
                   var o = P(); o.name = \"fresh\" + \"string\"; return o; }";
    let src = "started();\nvar g = make();\nfinished();\nprint g.name;";
    let mut h = harness(HeapConfig {
        verify: true,
        ..HeapConfig::default()
    });
    h.vm.define_native("started", Some(0), |_| {
        STARTED.store(true, Ordering::Release);
        Ok(HostValue::Nil)
    })
    .unwrap();
    h.vm.define_native("finished", Some(0), |_| {
        FINISHED.store(true, Ordering::Release);
        Ok(HostValue::Nil)
    })
    .unwrap();
    let shared = h.vm.core().shared.clone();
    shared.set_multi(true);
    assert_eq!(h.run(prelude), Ok(()));
    assert!(shared.globals_lock.try_lock());
    let control = h.vm.gc_control();
    let host = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !STARTED.load(Ordering::Acquire) {
            assert!(Instant::now() < deadline, "the program never started");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Time to run `make` and start waiting.
        std::thread::sleep(Duration::from_millis(50));
        let caught = control
            .stop("test", Duration::from_secs(10))
            .map(|_| (control.state(), FINISHED.load(Ordering::Acquire)));
        // A collection, run at the waiter's next poll, with the lock still held.
        control.request_collection();
        let deadline = Instant::now() + Duration::from_secs(30);
        while control.flag() {
            assert!(Instant::now() < deadline, "the collection was never run");
            std::thread::sleep(Duration::from_millis(1));
        }
        shared.globals_lock.unlock();
        caught
    });
    let r = h.run(src);
    let caught = host.join().expect("host thread");
    assert_eq!(r, Ok(()), "stderr: {}", h.err.text());
    assert_eq!(
        caught,
        Some((MutatorState::Parked, false)),
        "the stop did not find the program parked while it waited"
    );
    assert!(h.vm.gc_cycles() >= 1, "no collection ran while it waited");
    assert_eq!(h.take_out(), "freshstring\n");
}
