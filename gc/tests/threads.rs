//! Several mutator threads on one heap (threads.md): each thread mutates a random graph of
//! its own (the mock world, checked against its shadow after every cycle), while the cycles —
//! started by whichever thread needs one — stop all of them, mark, and compact, in both fault
//! modes and stop-the-world; `verify` checks the whole heap in every pause. Threads also attach
//! and detach while cycles run.

mod mock;

use gc::{FaultMode, GcMode, Heap, HeapConfig};
use mock::{Rng, World};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(mode: GcMode, stress: Option<u64>) -> HeapConfig {
    HeapConfig {
        max_bytes: 256 << 20,
        min_trigger_bytes: 512 << 10,
        growth_factor: 1.5,
        stress_every: stress,
        verify: true,
        mode,
        ..HeapConfig::default()
    }
}

const MODES: [GcMode; 3] = [
    GcMode::StopTheWorld,
    GcMode::Concurrent {
        fault: FaultMode::Sigbus,
    },
    GcMode::Concurrent {
        fault: FaultMode::Thread,
    },
];

/// One thread's life: attach, `ops` random operations with a poll after each, a final check,
/// detach. Returns the checks its world made.
fn mutator(heap: Arc<Heap<mock::Mock>>, seed: u64, ops: usize) -> u64 {
    let mut w = World::with_heap(heap, 24, 4);
    let mut rng = Rng::new(seed);
    for _ in 0..ops {
        w.random_op(&mut rng).expect("the heap has room");
        w.poll();
    }
    w.check(false)
        .unwrap_or_else(|e| panic!("thread {seed}: {e}"));
    w.checks
}

fn threads_mutate(mode: GcMode, threads: usize, ops: usize, stress: Option<u64>) {
    eprintln!("{mode:?} x{threads}, stress {stress:?}");
    let heap = Heap::<mock::Mock>::new(config(mode, stress)).expect("heap");
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let heap = heap.clone();
            std::thread::spawn(move || mutator(heap, 100 + t as u64, ops))
        })
        .collect();
    let checks: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(heap.mutator_count(), 0);
    let s = heap.stats();
    assert!(
        s.cycles >= 2,
        "{mode:?} x{threads}: only {} cycles",
        s.cycles
    );
    assert!(checks >= threads as u64);
    if threads > 1 {
        // Some pause had to wait for another thread to reach its poll.
        assert!(
            s.pauses.iter().any(|p| p.ttsp_ns > 0),
            "{mode:?} x{threads}: no pause waited for a thread"
        );
    }
}

#[test]
fn one_two_four_and_eight_threads_share_a_heap_in_every_mode() {
    for mode in MODES {
        for threads in [1, 2, 4, 8] {
            threads_mutate(mode, threads, 6000, None);
        }
    }
}

#[test]
fn threads_under_stress_collections() {
    for mode in MODES {
        threads_mutate(mode, 4, 1500, Some(50));
    }
}

/// Threads attach and detach over and over while two long-lived threads keep the cycles
/// going: a thread may attach while a cycle marks (it must allocate black and have its
/// barrier on) or compacts, and leave with a TLAB and a barrier buffer in use.
fn attach_and_detach(mode: GcMode) {
    let heap = Heap::<mock::Mock>::new(config(mode, Some(200))).expect("heap");
    let done = Arc::new(AtomicBool::new(false));
    let steady: Vec<_> = (0..2)
        .map(|t| {
            let (heap, done) = (heap.clone(), done.clone());
            std::thread::spawn(move || {
                let mut w = World::with_heap(heap, 24, 4);
                let mut rng = Rng::new(7 + t);
                let deadline = Instant::now() + Duration::from_secs(60);
                while !done.load(Ordering::Acquire) {
                    assert!(Instant::now() < deadline, "churn never ended");
                    w.random_op(&mut rng).unwrap();
                    w.poll();
                }
                w.check(false).unwrap_or_else(|e| panic!("steady {t}: {e}"));
            })
        })
        .collect();
    let mut rng = Rng::new(99);
    for round in 0..60 {
        let ops = 50 + rng.below(400);
        let heap = heap.clone();
        std::thread::spawn(move || mutator(heap, 1000 + round, ops))
            .join()
            .unwrap();
    }
    done.store(true, Ordering::Release);
    for h in steady {
        h.join().unwrap();
    }
    assert_eq!(heap.mutator_count(), 0);
    assert!(heap.cycles() >= 2, "{mode:?}: {} cycles", heap.cycles());
}

#[test]
fn threads_attach_and_detach_during_cycles() {
    for mode in MODES {
        attach_and_detach(mode);
    }
}
