//! Micro-benchmark: the snapshot-at-the-beginning write barrier (`Mutator::write_barrier`) in
//! front of a reference store, per store:
//! - `plain_store`: the store alone (no barrier), the baseline;
//! - `barrier_off`: no cycle marks, so the barrier is one flag test;
//! - `barrier_on_marked`: a cycle marks (step mode: the GC thread does not run) and the
//!   overwritten references point at objects already marked (the common case late in
//!   marking): the slow path's bitmap test;
//! - `barrier_on_white`: the overwritten references point at white objects, so each store
//!   shades one (start and live bits, the barrier buffer, flushing it to the markers).
//!
//! The heap holds 64 Ki objects of 4 words (header, two reference slots, one plain word); each
//! store overwrites slot 1 of one object with a reference to its neighbour, walking the
//! objects in order.

mod model;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gc::{Address, FaultMode, GcMode, HeapConfig, Mutator, WORD};
use model::{header, reference, Synthetic, VecRoots};
use std::hint::black_box;
use std::time::{Duration, Instant};

const OBJECTS: usize = 64 << 10;
const OBJECT_WORDS: usize = 4;

/// A concurrent heap in step mode holding `OBJECTS` objects, each slot 1 referring to the next
/// object and slot 2 to itself; the roots hold every object.
fn world() -> Option<(Mutator<Synthetic>, VecRoots)> {
    let config = HeapConfig {
        max_bytes: 256 << 20,
        min_trigger_bytes: 256 << 20,
        mode: GcMode::Concurrent {
            fault: FaultMode::Sigbus,
        },
        ..HeapConfig::default()
    };
    let mut heap = Mutator::<Synthetic>::new_heap(config).ok()?;
    if !heap.is_concurrent() {
        eprintln!("barrier: concurrent mode unavailable here; the 'on' cases are skipped");
    }
    let mut roots = VecRoots(Vec::with_capacity(OBJECTS));
    for _ in 0..OBJECTS {
        let a = heap.alloc(OBJECT_WORDS * WORD, &mut roots).ok()?;
        // SAFETY: `alloc` handed us 4 words of writable heap memory; they are all written
        // before the next allocation.
        unsafe {
            let w = a.as_mut_ptr::<u64>();
            w.write(header(OBJECT_WORDS, 2));
            w.add(1).write(reference(a));
            w.add(2).write(reference(a));
            w.add(3).write(0);
        }
        roots.0.push(reference(a));
    }
    Some((heap, roots))
}

fn object(roots: &VecRoots, i: usize) -> Address {
    Address(roots.0[i % OBJECTS] as usize & !7)
}

/// `n` stores into slot 1, starting at object `from`, each behind the barrier if `barrier`.
fn stores(heap: &mut Mutator<Synthetic>, roots: &VecRoots, from: usize, n: usize, barrier: bool) {
    for k in from..from + n {
        let a = object(roots, k);
        let slot = a.add(WORD).as_mut_ptr::<u64>();
        let new = reference(object(roots, k + 1));
        // SAFETY: slot 1 of a live object of the heap; no cycle moves it meanwhile (compaction
        // happens only at the cycle's flip, which these loops never reach).
        unsafe {
            if barrier {
                heap.write_barrier(slot.read());
            }
            slot.write(black_box(new));
        }
    }
}

/// Times `stores` walking the objects round and round, `iters` stores per sample.
fn timed_stores(
    b: &mut criterion::Bencher<'_>,
    heap: &mut Mutator<Synthetic>,
    roots: &VecRoots,
    barrier: bool,
) {
    let mut at = 0;
    b.iter_custom(|iters| {
        let t = Instant::now();
        stores(heap, roots, at, iters as usize, barrier);
        at = (at + iters as usize) % OBJECTS;
        t.elapsed()
    })
}

fn bench_barrier(c: &mut Criterion) {
    let Some((mut heap, mut roots)) = world() else {
        eprintln!("barrier: skipped: cannot create a heap");
        return;
    };
    let mut group = c.benchmark_group("write_barrier");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    for (name, barrier) in [("plain_store", false), ("barrier_off", true)] {
        group.bench_function(name, |b| timed_stores(b, &mut heap, &roots, barrier));
    }
    if heap.is_concurrent() {
        heap.set_step_mode(true);
        // White: a fresh cycle per batch (its initial pause and the batch's end are untimed);
        // every object starts white except what the roots grey, so mark only from one root.
        group.bench_function("barrier_on_white", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let n = left.min(OBJECTS - 1);
                    let mut one = VecRoots(vec![roots.0[OBJECTS - 1]]);
                    heap.start_concurrent_cycle(&mut one);
                    let t = Instant::now();
                    stores(&mut heap, &roots, 0, n, true);
                    total += t.elapsed();
                    // Ends the cycle without moving anything the benchmark holds.
                    heap.finish();
                    left -= n;
                }
                total
            })
        });
        // Marked: one cycle whose roots grey every object; marking (step mode, this thread)
        // finishes before timing.
        heap.start_concurrent_cycle(&mut roots);
        while heap.step_mark(1 << 16) > 0 {}
        group.bench_function("barrier_on_marked", |b| {
            timed_stores(b, &mut heap, &roots, true)
        });
        heap.finish();
    }
    group.finish();
}

criterion_group!(benches, bench_barrier);
criterion_main!(benches);
