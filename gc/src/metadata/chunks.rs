//! The chunk vector: for each 64-word chunk of the heap (one live-bitmap word), first its live
//! bytes, then, after [`exclusive_scan`], the live bytes of every chunk below it — the
//! post-compaction offset of the chunk's first live word. One extra entry past the last chunk
//! holds the total.

use super::bitmap::BitmapView;
use crate::address::WORD;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes covered by one chunk.
pub const CHUNK_BYTES: usize = 64 * WORD;

/// Stores the live bytes of chunks `[0, n)` from the live-words bitmap (popcount of its word).
pub fn fill_chunk_sums(live: BitmapView<'_>, chunks: &[AtomicU64], n: usize) {
    for (c, slot) in chunks[..n].iter().enumerate() {
        slot.store(u64::from(live.word(c).count_ones()) * WORD as u64, Relaxed);
    }
}

/// Turns chunk sums `[0, n)` into their exclusive prefix sum in place, stores the total at index
/// `n` and returns it.
pub fn exclusive_scan(chunks: &[AtomicU64], n: usize) -> usize {
    let mut running = 0u64;
    for slot in &chunks[..n] {
        let here = slot.load(Relaxed);
        slot.store(running, Relaxed);
        running += here;
    }
    chunks[n].store(running, Relaxed);
    running as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::bitmap::Bitmap;
    use crate::metadata::side::SideArray;
    use crate::Address;

    #[test]
    fn prefix_sums_count_live_bytes_below_each_chunk() {
        let base = Address(1 << 40);
        let b = Bitmap::new(base, 1 << 20).unwrap();
        let v = b.view();
        v.set_range(base.add(8 * 10), 5); // chunk 0: 5 words
        v.set_range(base.add(8 * 120), 20); // chunk 1: 8 words (120..128), chunk 2: 12 words
        v.set_range(base.add(8 * 64 * 4), 64); // chunk 4: full
        let chunks: SideArray<AtomicU64> = SideArray::new(9).unwrap();
        let c = chunks.as_slice();
        fill_chunk_sums(v, c, 8);
        let sums: Vec<u64> = c[..8].iter().map(|x| x.load(Relaxed)).collect();
        assert_eq!(sums, [40, 64, 96, 0, 512, 0, 0, 0]);
        assert_eq!(exclusive_scan(c, 8), 712);
        let pre: Vec<u64> = c[..9].iter().map(|x| x.load(Relaxed)).collect();
        assert_eq!(pre, [0, 40, 104, 200, 200, 712, 712, 712, 712]);
    }
}
