//! The safepoint protocol on the mock object model: another thread requests a collection and
//! the mutator runs it at its next poll (time-to-safepoint measured), stops the mutator and
//! resumes it (the pause recorded from request to resume), and a mutator in the native state
//! counts as stopped but cannot leave it while a stop is in force.

mod mock;

use gc::{FaultMode, GcMode, HeapConfig, MutatorState, ThreadControl};
use mock::{Rng, World};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(mode: GcMode) -> HeapConfig {
    HeapConfig {
        max_bytes: 32 << 20,
        min_trigger_bytes: 64 << 20,
        mode,
        verify: true,
        ..HeapConfig::default()
    }
}

/// The mutator's loop: random work with a poll per operation, until `done`.
fn mutate_until(w: &mut World, rng: &mut Rng, done: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "the request never completed");
        w.random_op(rng).unwrap();
        if w.heap.should_yield() {
            w.heap.safepoint(&mut w.roots);
        }
    }
}

fn requested_collection(mode: GcMode) {
    let mut w = World::new(config(mode), 16, 4);
    let mut rng = Rng::new(5);
    for _ in 0..2000 {
        w.random_op(&mut rng).unwrap();
    }
    let before = w.heap.cycles();
    let sp = w.heap.safepoints();
    let done = Arc::new(AtomicBool::new(false));
    let requester = {
        let done = done.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            sp.request_collection();
            done.store(true, Ordering::Release);
        })
    };
    mutate_until(&mut w, &mut rng, &done);
    requester.join().unwrap();
    // The request may have landed just as `done` was seen: one more poll.
    while w.heap.cycles() == before {
        w.random_op(&mut rng).unwrap();
        if w.heap.should_yield() {
            w.heap.safepoint(&mut w.roots);
        }
    }
    // The graph may have changed since the requested cycle: compare shapes, then collect and
    // check exactly.
    w.check(false).unwrap_or_else(|e| panic!("{e}"));
    w.collect();
    let s = w.heap.finish().clone();
    // Explicit collections (random_op) have no time-to-safepoint; the requested one has.
    let requested: Vec<_> = s
        .pauses
        .iter()
        .filter(|p| (p.kind == "initial" || p.kind == "stw") && p.ttsp_ns > 0)
        .collect();
    assert_eq!(requested.len(), 1, "{:?}", s.pauses);
    assert!(requested[0].ttsp_ns < requested[0].ns, "{:?}", requested[0]);
}

#[test]
fn requested_collection_runs_at_the_next_safepoint_stw() {
    requested_collection(GcMode::StopTheWorld);
}

#[test]
fn requested_collection_runs_at_the_next_safepoint_concurrent() {
    requested_collection(GcMode::Concurrent {
        fault: FaultMode::Sigbus,
    });
}

#[test]
fn stop_parks_the_mutator_and_records_the_pause() {
    let mut w = World::new(config(GcMode::CONCURRENT), 16, 4);
    let mut rng = Rng::new(6);
    let sp = w.heap.safepoints();
    let done = Arc::new(AtomicBool::new(false));
    let stopper = {
        let done = done.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            let g = sp
                .stop("test", Duration::from_secs(10))
                .expect("mutator stopped");
            assert_eq!(sp.state(), MutatorState::Parked);
            std::thread::sleep(Duration::from_millis(20));
            let ttsp = g.ttsp_ns();
            drop(g);
            done.store(true, Ordering::Release);
            ttsp
        })
    };
    mutate_until(&mut w, &mut rng, &done);
    let ttsp = stopper.join().unwrap();
    w.heap.safepoint(&mut w.roots);
    let s = w.heap.finish().clone();
    let p = s
        .pauses
        .iter()
        .find(|p| p.kind == "test")
        .expect("pause recorded");
    assert_eq!(p.ttsp_ns, ttsp);
    assert!(p.ns >= 20_000_000 && p.ttsp_ns < p.ns, "{p:?}");
}

#[test]
fn a_native_mutator_counts_as_stopped() {
    let mut w = World::new(config(GcMode::CONCURRENT), 16, 4);
    let sp = w.heap.safepoints();
    let stopped = Arc::new(AtomicBool::new(false));
    let stopper = {
        let stopped = stopped.clone();
        std::thread::spawn(move || {
            // Through the binding trait, as a GC thread would.
            let tc: &dyn ThreadControl = &*sp;
            while tc.mutator_state() != MutatorState::Native {
                std::thread::yield_now();
            }
            let t = Instant::now();
            let ttsp = tc
                .stop_mutators("native", Duration::from_secs(10))
                .expect("native counts as stopped");
            assert!(t.elapsed() < Duration::from_secs(1) && ttsp < 1_000_000_000);
            assert_eq!(tc.mutator_state(), MutatorState::Native);
            stopped.store(true, Ordering::Release);
            std::thread::sleep(Duration::from_millis(30));
            tc.resume_mutators();
        })
    };
    // The native call: waits until the stop is in force, then returns while it still is.
    let s2 = stopped.clone();
    let native_done = w.heap.in_native(&mut w.roots, || {
        while !s2.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        Instant::now()
    });
    assert!(
        native_done.elapsed() >= Duration::from_millis(10),
        "left native during a stop"
    );
    stopper.join().unwrap();
    assert_eq!(w.heap.safepoints().state(), MutatorState::Running);
    w.heap.safepoint(&mut w.roots);
    let s = w.heap.finish();
    let p = s
        .pauses
        .iter()
        .find(|p| p.kind == "native")
        .expect("pause recorded");
    assert!(p.ns >= 30_000_000, "{p:?}");
}
