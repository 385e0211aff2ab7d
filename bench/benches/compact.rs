//! Micro-benchmark: compacting to-space pages with the collector's own per-page routine
//! (`gc::collector::compact_page`, the one the GC thread and the SIGBUS handler run), reported
//! as GB/s of live data for one thread.
//!
//! The heap is synthetic but shaped like a language heap: 64 MiB of objects of 2–16 words
//! (a header word holding the size and the number of reference slots, then the slots, then
//! plain words), a given fraction of them live, every reference slot of a live object pointing
//! at another live object. Two shapes of graph: `near` targets lie within about a thousand
//! live objects of the referrer (allocation order keeps most of a program's references that
//! close: a tree's children, an object's fields), `random` targets anywhere in the heap (the
//! worst case: each forwarding reads the chunk vector and the live-words bitmap from a cold
//! cache line). The heap is
//! written straight into the from-space reservation and marked by setting the bitmaps; then
//! `plan` runs, and each iteration builds every to-space page, in the GC thread's order
//! (highest first), into one reused scratch page, as the GC thread does.

mod model;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gc::collector::compact_page::{compact_page, CompactSource};
use gc::collector::plan::{plan, Plan};
use gc::metadata::Metadata;
use gc::os::reservation::Reservation;
use gc::{PAGE, WORD};
use model::{header, Synthetic};
use std::hint::black_box;
use std::time::Duration;

const HEAP_BYTES: usize = 64 << 20;

/// A small deterministic generator (xorshift64*), so every run builds the same heap.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A planned synthetic heap: the reservations it lives in, its metadata and its plan.
struct PlannedHeap {
    heap: Reservation,
    from: Reservation,
    meta: Metadata,
    plan: Plan,
}

/// Lays out a heap whose objects are live with probability `live_percent` / 100, whose
/// references point at live objects at most `spread` live objects away (any, if `None`), marks
/// it and plans it.
fn planned_heap(live_percent: usize, spread: Option<usize>) -> std::io::Result<PlannedHeap> {
    let heap = Reservation::new(HEAP_BYTES, PAGE)?;
    let from = Reservation::new(HEAP_BYTES, PAGE)?;
    let meta = Metadata::new(heap.base(), HEAP_BYTES)?;
    let (base, fbase) = (heap.base(), from.base());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // (offset in words, words, reference slots) of every object; which are live.
    let mut objects = Vec::new();
    let mut live = Vec::new();
    let mut at = 0usize;
    let limit = HEAP_BYTES / WORD - 16;
    while at < limit {
        let words = 2 + rng.below(15);
        let nrefs = rng.below(words.min(5));
        objects.push((at, words, nrefs));
        if rng.below(100) < live_percent {
            live.push(objects.len() - 1);
        }
        at += words;
    }
    let old_top = base.add(at * WORD);
    let write = |w: usize, v: u64| {
        // SAFETY: `w < HEAP_BYTES / WORD`: a word of the from-space reservation, which nothing
        // else references.
        unsafe { fbase.add(w * WORD).as_mut_ptr::<u64>().write(v) }
    };
    for &(w, words, nrefs) in &objects {
        write(w, header(words, nrefs));
        for k in 1..words {
            write(w + k, ((w + k) as u64) << 3);
        }
    }
    let (starts, live_bits) = (meta.starts.view(), meta.live.view());
    for (n, &i) in live.iter().enumerate() {
        let (w, words, nrefs) = objects[i];
        starts.set(base.add(w * WORD));
        live_bits.set_range(base.add(w * WORD), words);
        for k in 1..=nrefs {
            let pick = match spread {
                None => rng.below(live.len()),
                Some(s) => (n + rng.below(2 * s)).saturating_sub(s).min(live.len() - 1),
            };
            let target = objects[live[pick]].0;
            write(w + k, base.add(target * WORD).as_usize() as u64 | 1);
        }
    }
    let plan = plan(&meta, base, old_top);
    Ok(PlannedHeap {
        heap,
        from,
        meta,
        plan,
    })
}

/// Builds every to-space page, highest first, into `scratch`; returns the live bytes copied.
fn compact_all(h: &PlannedHeap, scratch: &mut [u64]) -> usize {
    let src = CompactSource::new(&h.meta, &h.plan, h.heap.base(), h.from.base());
    let mut copied = 0;
    for page in (0..h.plan.to_pages).rev() {
        // SAFETY: rule 1: the plan is complete and `page < to_pages`; rule 2: from-space holds
        // the heap laid out by `planned_heap` and nothing writes it now; rule 3: every marked
        // object was written well-formed; rule 4: `scratch` is one page of u64s (8-byte
        // aligned), owned here, apart from from-space and the metadata.
        copied += unsafe {
            compact_page::<Synthetic, false>(&src, page, scratch.as_mut_ptr().cast::<u8>())
        };
        black_box(&scratch[..]);
    }
    copied
}

fn bench_compact(c: &mut Criterion) {
    let mut group = c.benchmark_group("compact_page");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let mut scratch = vec![0u64; PAGE / WORD];
    for (live_percent, spread, shape) in [
        (50usize, Some(1000), "near"),
        (90, Some(1000), "near"),
        (50, None, "random"),
        (90, None, "random"),
    ] {
        let h = match planned_heap(live_percent, spread) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("compact_page: skipped: cannot reserve the heap: {e}");
                return;
            }
        };
        // Sanity check outside the timer: every planned live byte is copied exactly once.
        let copied = compact_all(&h, &mut scratch);
        assert_eq!(
            copied, h.plan.live_bytes,
            "compaction copied a different amount"
        );
        group.throughput(Throughput::Bytes(h.plan.live_bytes as u64));
        group.bench_function(format!("{live_percent}pct_live_{shape}_refs_64MiB"), |b| {
            b.iter(|| compact_all(&h, &mut scratch))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_compact);
criterion_main!(benches);
