//! Micro-benchmark: the allocation fast path, `Mutator::try_alloc` (a TLAB bump), allocating
//! 32-byte objects and writing their header, with a tiny object model (one header word holding
//! the size in words, no reference slots).
//!
//! Only the fast path is timed: when the TLAB runs out the timer stops, `alloc_slow` takes a
//! new TLAB (collecting with an empty root set when the heap passes its trigger, which frees
//! everything), and the timer restarts.
//!
//! Two variants: `try_alloc_32B` writes each object's header as a mutator would (so it pays
//! for first touching each fresh heap page), `bump_only_32B` times the bump alone and, before
//! the heap is next looked at (the untimed refill), covers the whole run of objects with one
//! filler, which keeps the heap parseable for the collector.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gc::{Address, HeapConfig, Mutator, ObjectModel, RootSet, SlotKind, WORD};
use std::hint::black_box;
use std::time::{Duration, Instant};

const OBJECT_BYTES: usize = 32;

/// Objects are a header word (size in words) followed by payload words that hold no
/// references.
struct Tiny;

impl ObjectModel for Tiny {
    unsafe fn size_bytes(obj: Address) -> usize {
        // SAFETY: rule 1 of `size_bytes`: `obj` starts a well-formed object in readable memory,
        // whose first word is its header.
        let words = unsafe { obj.as_ptr::<u64>().read() };
        words as usize * WORD
    }

    unsafe fn for_each_slot(_obj: Address, _f: &mut dyn FnMut(usize, SlotKind)) {}

    fn decode(_word: u64) -> Option<Address> {
        None
    }

    fn encode(word: u64, _target: Address) -> u64 {
        word
    }

    unsafe fn write_filler(at: Address, bytes: usize) {
        // SAFETY: rule 1 of `write_filler`: `[at, at + bytes)` is writable heap memory of the
        // caller, and `bytes >= 8`, so the header word fits.
        unsafe { at.as_mut_ptr::<u64>().write((bytes / WORD) as u64) };
    }

    unsafe fn type_tag(_obj: Address) -> u32 {
        0
    }
}

/// No roots: every collection frees the whole heap.
struct NoRoots;

impl RootSet for NoRoots {
    fn visit_roots(&mut self, _v: &mut dyn FnMut(&mut u64)) {}
}

/// Allocates `iters` objects, timing only the fast-path allocations (and, if `headers`, each
/// object's header write).
fn timed_allocs(heap: &mut Mutator<Tiny>, iters: u64, headers: bool) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let mut run: Option<(Address, usize)> = None;
        let start = Instant::now();
        while left > 0 {
            let Some(at) = heap.try_alloc(OBJECT_BYTES) else {
                break;
            };
            if headers {
                // SAFETY: rule 1 of `write_filler`: `try_alloc` just handed us these 32 bytes
                // of writable heap memory, so the header goes there before the next allocation.
                unsafe { Tiny::write_filler(black_box(at), OBJECT_BYTES) };
            } else {
                let first = run.map_or(black_box(at), |(a, _)| a);
                run = Some((first, run.map_or(0, |(_, n)| n) + 1));
            }
            left -= 1;
        }
        total += start.elapsed();
        if let Some((first, n)) = run {
            // SAFETY: rule 1 of `write_filler`: the run `[first, first + n * 32)` is the
            // contiguous TLAB memory `try_alloc` handed out since the last refill, writable and
            // ours; one filler makes it parseable before the collector can see it.
            unsafe { Tiny::write_filler(black_box(first), n * OBJECT_BYTES) };
        }
        if left > 0 {
            // Refill outside the timer; the object it returns counts as one allocation.
            let at = heap.alloc_slow(OBJECT_BYTES, &mut NoRoots).ok()?;
            // SAFETY: as above, for the memory `alloc_slow` returned.
            unsafe { Tiny::write_filler(at, OBJECT_BYTES) };
            left -= 1;
        }
    }
    Some(total)
}

fn bench_alloc(c: &mut Criterion) {
    let config = HeapConfig {
        max_bytes: 64 << 20,
        min_trigger_bytes: 8 << 20,
        ..HeapConfig::default()
    };
    let mut heap = match Mutator::<Tiny>::new_heap(config) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("alloc: skipped: cannot create a heap: {e:?}");
            return;
        }
    };
    let mut group = c.benchmark_group("alloc");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    for (name, headers) in [("try_alloc_32B", true), ("bump_only_32B", false)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| match timed_allocs(&mut heap, iters, headers) {
                Some(t) => t,
                None => {
                    // Out of memory cannot happen with an empty root set; report it rather
                    // than panic inside criterion.
                    eprintln!("alloc: out of memory");
                    Duration::ZERO
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_alloc);
criterion_main!(benches);
