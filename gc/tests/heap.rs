//! Heap-level behaviour on the mock object model: running out of memory (in both collectors:
//! quickly, within the limit, and with the heap usable afterwards), collecting empty and
//! all-garbage heaps, statistics, and a larger live heap.

mod mock;

use gc::{FaultMode, GcMode, HeapConfig};
use mock::{Rng, World};

/// Both collectors, the concurrent one in its default fault mode.
const MODES: [GcMode; 2] = [
    GcMode::StopTheWorld,
    GcMode::Concurrent {
        fault: FaultMode::Sigbus,
    },
];

fn small(max: usize, verify: bool) -> HeapConfig {
    HeapConfig {
        max_bytes: max,
        min_trigger_bytes: 1 << 20,
        growth_factor: 2.0,
        stress_every: None,
        verify,
        log: false,
        ..HeapConfig::default()
    }
}

#[test]
fn allocation_past_max_after_a_collection_is_out_of_memory() {
    let max = 4 << 20;
    let mut w = World::new(small(max, true), 4, 0);
    // A chain held by root 1: every node stays reachable.
    let mut n = 0;
    let err = loop {
        match w.alloc_node_from(2, &[1], 500) {
            Ok(()) => {
                w.roots.strong.swap(1, 2);
                w.shadow_roots.swap(1, 2);
                n += 1;
                assert!(n < 10_000, "never ran out of memory");
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err, gc::OutOfMemory);
    assert!(w.heap.used_bytes() <= max);
    assert!(
        w.heap.cycles() > 0,
        "out of memory without collecting first"
    );
    // Nearly all of max is live: the chain is ~4 KiB per node.
    assert!(n * 4 * 1000 > max * 9 / 10, "only {n} nodes fitted");
    w.check(true).unwrap();
    // Once the chain is garbage the same allocation succeeds.
    w.clear_root(1);
    w.clear_root(2);
    w.alloc_node_from(2, &[1], 500).unwrap();
    w.collect();
    w.check(true).unwrap();
    assert!(w.heap.used_bytes() < 64 << 10);
}

/// A world of 4 roots on a heap of `mode` limited to `max` bytes, without verification.
fn limited_world(mode: GcMode, max: usize) -> World {
    World::new(
        HeapConfig {
            mode,
            ..small(max, false)
        },
        4,
        0,
    )
}

/// Grows a chain held by root 1 until the heap says out of memory; returns the nodes made.
fn grow_until_out_of_memory(w: &mut World, node_words: usize) -> usize {
    let mut n = 0;
    loop {
        match w.alloc_node_from(2, &[1], node_words) {
            Ok(()) => {
                w.roots.strong.swap(1, 2);
                w.shadow_roots.swap(1, 2);
                n += 1;
                assert!(n < 1_000_000, "never ran out of memory");
            }
            Err(e) => {
                assert_eq!(e, gc::OutOfMemory);
                return n;
            }
        }
    }
}

#[test]
fn a_live_set_that_only_grows_fails_within_a_few_cycles_in_both_modes() {
    let max = 16 << 20;
    for mode in MODES {
        let mut w = limited_world(mode, max);
        // Small nodes (80 bytes): a collector that gives back one TLAB tail per cycle
        // would collect thousands of times before failing.
        grow_until_out_of_memory(&mut w, 7);
        let s = w.heap.stats(&mut w.roots);
        assert!(
            s.peak_heap_bytes <= max as u64,
            "{mode:?}: heap passed its limit"
        );
        assert_eq!(s.out_of_memory, 1, "{mode:?}");
        assert!((1..=3).contains(&s.limit_collections), "{mode:?}: {s:?}");
        // Triggers at 1, 2, 4, 8 MiB, then at the limit: one collection (two in concurrent
        // mode, whose first may hold floating garbage).
        assert!(
            s.cycles <= 8,
            "{mode:?}: {} cycles before out of memory",
            s.cycles
        );
        w.check(true).unwrap();
        // The heap is intact and usable: once the chain is garbage, allocation succeeds.
        w.clear_root(1);
        w.clear_root(2);
        w.alloc_node_from(2, &[], 7).unwrap();
        w.collect();
        w.check(true).unwrap();
        assert!(w.heap.used_bytes() < 1 << 20);
    }
}

#[test]
fn collecting_back_to_back_for_a_few_bytes_is_out_of_memory_in_both_modes() {
    let max = 16 << 20;
    for mode in MODES {
        let mut w = limited_world(mode, max);
        w.check_after_gc = false;
        // Live data to about 97% of the limit (nodes of 1 KiB), then pure garbage: each
        // collection recovers ~3% of the heap and the program does almost nothing between
        // them (the overhead rule, gc/src/collector/limit.rs).
        let mut n = 0;
        while n * 1024 < max / 100 * 97 {
            w.alloc_node_from(2, &[1], 125).unwrap();
            w.roots.strong.swap(1, 2);
            w.shadow_roots.swap(1, 2);
            n += 1;
        }
        let before = w.heap.cycles();
        let mut garbage = 0u64;
        let err = loop {
            match w.alloc_node_from(3, &[], 125) {
                Ok(()) => garbage += 1,
                Err(e) => break e,
            }
            assert!(
                w.heap.cycles() - before < 200,
                "{mode:?}: still collecting after 200 cycles"
            );
        };
        assert_eq!(err, gc::OutOfMemory);
        assert!(
            garbage > 0,
            "{mode:?}: the first garbage allocation already failed"
        );
        w.check(true).unwrap();
    }
}

#[test]
fn a_single_object_larger_than_max_is_out_of_memory() {
    let mut w = World::new(small(4 << 20, false), 4, 0);
    assert_eq!(
        w.alloc_node_from(1, &[], 1 << 20).err(),
        Some(gc::OutOfMemory)
    );
    w.alloc_node_from(1, &[], 100).unwrap();
    w.check(false).unwrap();
}

#[test]
fn empty_and_all_garbage_heaps_collect() {
    let mut w = World::new(small(16 << 20, true), 8, 2);
    w.collect();
    let table_only = w.heap.used_bytes();
    assert_eq!(table_only, (3 + mock::TABLE_ENTRIES) * 8);
    let mut rng = Rng::new(7);
    for i in 0..2000 {
        w.alloc_node(&mut rng, 1 + i % 7).unwrap();
    }
    for r in 1..8 {
        w.clear_root(r);
    }
    w.collect();
    w.check(true).unwrap();
    assert_eq!(w.heap.used_bytes(), table_only);
    // Collecting twice in a row changes nothing.
    w.collect();
    assert_eq!(w.heap.used_bytes(), table_only);
}

#[test]
fn statistics_count_cycles_pauses_and_moved_bytes() {
    let mut w = World::new(small(32 << 20, false), 16, 4);
    let mut rng = Rng::new(11);
    for _ in 0..5000 {
        w.random_op(&mut rng).unwrap();
    }
    w.collect();
    let cycles = w.heap.cycles();
    let s = w.heap.finish().clone();
    assert_eq!(s.collector, "stw");
    assert_eq!(s.pauses.len() as u64, cycles);
    assert!(s
        .pauses
        .iter()
        .all(|p| p.kind == "stw" && p.ttsp_ns == 0 && p.ns > 0));
    assert!(s.pauses.windows(2).all(|p| p[0].start_ns <= p[1].start_ns));
    assert!(s.bytes_moved > 0 && s.pages_compacted_by_gc > 0);
    assert!(s.gc_cpu_ns > 0 && s.peak_rss_bytes > 0);
    assert!(s.peak_heap_bytes >= w.heap.used_bytes() as u64);
    #[cfg(feature = "serde")]
    {
        let j = w.heap.stats_json(&mut w.roots);
        assert!(j.contains(&format!("\"cycles\":{cycles},")));
        assert!(j.contains("\"collector\":\"stw\""));
        assert!(j.contains("\"fault_mode\":null"));
        assert_eq!(j.matches("\"kind\":\"stw\"").count() as u64, cycles);
    }
}

/// A few tens of MiB live, many pages, big objects: prints pause figures for a rough idea.
#[test]
fn larger_live_heap() {
    let mut w = World::new(small(256 << 20, false), 64, 0);
    let mut rng = Rng::new(99);
    // Long chains of mid-sized nodes hanging off each root: ~40 MiB live.
    for i in 0..10_000 {
        let r = 1 + i % 63;
        w.alloc_node_from(r, &[r], 500).unwrap();
        if i % 97 == 0 {
            let r = 1 + rng.below(63);
            w.alloc_node(&mut rng, r).unwrap();
        }
    }
    for _ in 0..3 {
        w.collect();
    }
    w.check(true).unwrap();
    let s = w.heap.stats(&mut w.roots);
    let last = s.pauses.last().unwrap();
    eprintln!(
        "live {:.1} MiB: last pause {:.2} ms, {} cycles, total pause {:.1} ms",
        w.heap.used_bytes() as f64 / (1 << 20) as f64,
        last.ns as f64 / 1e6,
        s.cycles,
        s.pause_total_ns as f64 / 1e6
    );
    assert!(w.heap.used_bytes() > 20 << 20);
}
