//! The forwarding function (design note §1): where a live object of the pre-compaction heap ends
//! up, computed from the side tables alone, in O(1), writing nothing.
//!
//! `new(a) = base + prefix[chunk(a)] + 8 * popcount(live bits of chunk(a) below a)`
//!
//! Black objects (allocated while a concurrent cycle marked, live by definition, design note
//! §2.1) slide as one block: for `a >= black_begin`, `new(a) = a - (black_begin - black_dest)`.
//! A stop-the-world cycle has no black objects: its `black_begin` is the old top.

use crate::address::{Address, WORD};
use crate::fatal::signal_safe_debug_assert;
use crate::metadata::bitmap::{BitmapView, BITS};
use crate::metadata::Metadata;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Everything the forwarding function reads. Cheap to copy; valid while the metadata is.
#[derive(Copy, Clone)]
pub struct Forwarding<'a> {
    /// Start of the moving space.
    pub base: Address,
    /// End of the pre-compaction allocated range: addresses in `[base, old_top)` move.
    pub old_top: Address,
    live: BitmapView<'a>,
    starts: BitmapView<'a>,
    /// Exclusive prefix sums of live bytes per chunk (after planning).
    prefix: &'a [AtomicU64],
    /// Objects at or above this (page-aligned) address are black.
    pub black_begin: Address,
    /// `black_begin - black_dest`: how far the black block slides down.
    pub black_shift: usize,
}

impl<'a> Forwarding<'a> {
    /// The forwarding view of `meta`, whose chunk vector must already hold prefix sums.
    pub fn new(meta: &'a Metadata, base: Address, old_top: Address) -> Self {
        Forwarding {
            base,
            old_top,
            live: meta.live.view(),
            starts: meta.starts.view(),
            prefix: meta.chunks.as_slice(),
            black_begin: old_top,
            black_shift: 0,
        }
    }

    /// The same view for a cycle whose black objects `[black_begin, old_top)` slide down to
    /// `black_dest` (both page-aligned, `black_dest <= black_begin`).
    pub fn with_black(mut self, black_begin: Address, black_dest: Address) -> Self {
        debug_assert!(black_dest <= black_begin && black_begin <= self.old_top);
        self.black_begin = black_begin;
        self.black_shift = black_begin.offset_from(black_dest);
        self
    }

    /// True if `a` lies in the part of the heap that moves.
    #[inline(always)]
    pub fn moves(&self, a: Address) -> bool {
        a >= self.base && a < self.old_top
    }

    /// True if `a` is the start of a marked object.
    #[inline(always)]
    pub fn is_marked(&self, a: Address) -> bool {
        self.starts.test(a)
    }

    /// The post-compaction address of the live word at `a` (`moves(a)` holds). Debug builds
    /// check that `a` starts a marked object: forwarding a dead address would silently yield
    /// the next live object.
    #[inline(always)]
    pub fn new_address(&self, a: Address) -> Address {
        debug_assert!(self.moves(a), "forwarding {a} outside the moving range");
        debug_assert!(self.is_marked(a), "forwarding unmarked address {a}");
        self.new_address_of_word(a)
    }

    /// As [`Forwarding::new_address`] for any live word, not only object starts.
    #[inline(always)]
    pub fn new_address_of_word(&self, a: Address) -> Address {
        if a >= self.black_begin {
            return Address(a.as_usize() - self.black_shift);
        }
        let i = self.live.bit_index(a);
        let chunk = i / BITS;
        let below = self.live.word(chunk) & ((1u64 << (i % BITS)) - 1);
        // `get` rather than indexing: no panic path inside compaction (see compact_page.rs).
        signal_safe_debug_assert!(chunk < self.prefix.len(), "forwarding: chunk out of range");
        let before = self.prefix.get(chunk).map_or(0, |p| p.load(Relaxed)) as usize;
        let offset = before + below.count_ones() as usize * WORD;
        self.base.add(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::chunks::{exclusive_scan, fill_chunk_sums};

    /// Random live objects; forwarding must equal the naive "sum of live sizes below".
    #[test]
    fn forwarding_matches_naive_sliding() {
        let base = Address(1 << 40);
        let heap = 1 << 20;
        let meta = Metadata::new(base, heap).unwrap();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut objs = Vec::new();
        let mut at = 0usize;
        while at < heap / 2 {
            let words = 1 + (next() % 300) as usize;
            if next() % 3 != 0 {
                objs.push((base.add(at), words));
                meta.starts.view().set(base.add(at));
                meta.live.view().set_range(base.add(at), words);
            }
            at += words * WORD;
        }
        let n_chunks = at.div_ceil(512);
        fill_chunk_sums(meta.live.view(), meta.chunks.as_slice(), n_chunks);
        let total = exclusive_scan(meta.chunks.as_slice(), n_chunks);
        let f = Forwarding::new(&meta, base, base.add(at));
        let mut naive = 0usize;
        for &(a, words) in &objs {
            assert_eq!(f.new_address(a), base.add(naive), "object at {a}");
            naive += words * WORD;
        }
        assert_eq!(total, naive);
    }
}
