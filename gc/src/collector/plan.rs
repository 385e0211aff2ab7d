//! Planning (design note §2.3), from the bitmaps alone: chunk sums and their prefix sum, the
//! post-compaction live end, and for each to-space page the pre-compaction address of its first
//! live word and of the object holding that word.

use crate::address::{Address, PAGE, WORD};
use crate::metadata::bitmap::{select_bit, BITS};
use crate::metadata::chunks::{exclusive_scan, fill_chunk_sums, CHUNK_BYTES};
use crate::metadata::Metadata;
use std::sync::atomic::Ordering::Relaxed;

/// The outcome of planning one cycle.
#[derive(Copy, Clone, Debug)]
pub struct Plan {
    /// Pre-compaction end of the allocated heap.
    pub old_top: Address,
    /// Live bytes; after compaction the heap ends at `base + live_bytes`.
    pub live_bytes: usize,
    /// To-space pages holding live data: `ceil(live_bytes / PAGE)`.
    pub to_pages: usize,
}

/// Plans the compaction of `[base, old_top)` whose marking is complete in `meta`.
pub fn plan(meta: &Metadata, base: Address, old_top: Address) -> Plan {
    let used = old_top.offset_from(base);
    let n_chunks = used.div_ceil(CHUNK_BYTES);
    let live = meta.live.view();
    let starts = meta.starts.view();
    let chunks = meta.chunks.as_slice();
    fill_chunk_sums(live, chunks, n_chunks);
    let live_bytes = exclusive_scan(chunks, n_chunks);
    let to_pages = live_bytes.div_ceil(PAGE);
    let pages = meta.pages.view();

    // Walk pages and chunks together: page p starts at live byte p * PAGE, which lies in the
    // chunk c with prefix[c] <= p * PAGE < prefix[c + 1].
    let mut c = 0usize;
    // The previous page's first live word and the object holding it (bit indices).
    let mut prev: Option<(usize, usize)> = None;
    for p in 0..to_pages {
        let target = (p * PAGE) as u64;
        while chunks[c + 1].load(Relaxed) <= target {
            c += 1;
        }
        let nth = ((target - chunks[c].load(Relaxed)) as usize / WORD) as u32;
        let bit = c * BITS + select_bit(live.word(c), nth) as usize;
        // The object holding a live word is the nearest object start at or below it. Only
        // the stretch since the previous page's first live word is searched: with no start
        // there, the word belongs to the object that held that one. (Searching down to the
        // object's start from every page made a large object cost its pages times its
        // size: 4.8 s of planning for one 128 MB string.)
        let obj = match prev {
            Some((prev_bit, prev_obj)) => starts
                .find_set_at_or_below(bit, prev_bit + 1)
                .unwrap_or(prev_obj),
            None => starts
                .find_set_at_or_below(bit, 0)
                .expect("a live word without an object start below it"),
        };
        prev = Some((bit, obj));
        pages.first_live[p].store(live.address_of(bit).as_usize(), Relaxed);
        pages.first_obj[p].store(starts.address_of(obj).as_usize(), Relaxed);
    }
    Plan {
        old_top,
        live_bytes,
        to_pages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_objects_and_live_words_per_page() {
        let base = Address(1 << 40);
        let meta = Metadata::new(base, 1 << 20).unwrap();
        let (s, l) = (meta.starts.view(), meta.live.view());
        // Live objects (word offset, words): a 700-word object straddles to-pages 0 and 1.
        let objs = [(3usize, 10usize), (40, 700), (1000, 2), (1500, 400)];
        for &(w, n) in &objs {
            s.set(base.add(w * WORD));
            l.set_range(base.add(w * WORD), n);
        }
        let p = plan(&meta, base, base.add(2000 * WORD));
        assert_eq!(p.live_bytes, (10 + 700 + 2 + 400) * WORD);
        assert_eq!(p.to_pages, 3);
        let pv = meta.pages.view();
        let get = |t: &[std::sync::atomic::AtomicUsize], i: usize| Address(t[i].load(Relaxed));
        // Page 0: first live word is object (3,10).
        assert_eq!(get(pv.first_obj, 0), base.add(3 * WORD));
        assert_eq!(get(pv.first_live, 0), base.add(3 * WORD));
        // Page 1 starts at live word 512: 10 words of the first object, then word 502 of the
        // 700-word object, at 40 + 502.
        assert_eq!(get(pv.first_obj, 1), base.add(40 * WORD));
        assert_eq!(get(pv.first_live, 1), base.add(542 * WORD));
        // Page 2 starts at live word 1024: 10 + 700 + 2 = 712, so word 312 of the last object.
        assert_eq!(get(pv.first_obj, 2), base.add(1500 * WORD));
        assert_eq!(get(pv.first_live, 2), base.add(1812 * WORD));
    }

    #[test]
    fn pages_inside_one_large_object_all_name_its_start() {
        let base = Address(1 << 40);
        let meta = Metadata::new(base, 4 << 20).unwrap();
        let (s, l) = (meta.starts.view(), meta.live.view());
        // A small object, a 300-page object, a small object after it.
        let big = 300 * PAGE / WORD;
        let objs = [(0usize, 5usize), (5, big), (5 + big, 7)];
        for &(w, n) in &objs {
            s.set(base.add(w * WORD));
            l.set_range(base.add(w * WORD), n);
        }
        let p = plan(&meta, base, base.add((12 + big) * WORD));
        assert_eq!(p.to_pages, 301);
        let pv = meta.pages.view();
        for page in 1..=299 {
            assert_eq!(
                pv.first_obj(page),
                base.add(5 * WORD).as_usize(),
                "page {page}"
            );
        }
        // The last page starts inside the big object too (5 words of the small one before).
        assert_eq!(pv.first_obj(300), base.add(5 * WORD).as_usize());
        assert_eq!(pv.first_obj(0), base.as_usize());
    }
}
