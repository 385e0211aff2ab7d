//! Side metadata of one heap, off-heap and indexed by address (design note §1): the object-start
//! and live-words bitmaps, the chunk vector and the per to-space page tables. Each lives in its
//! own `MAP_NORESERVE` reservation sized for the heap limit; a cycle touches only the part
//! covering the used heap and gives exactly that back when it resets.

pub mod bitmap;
pub mod chunks;
pub mod pages;
pub mod side;

use crate::address::{Address, PAGE};
use bitmap::Bitmap;
use chunks::CHUNK_BYTES;
use pages::PageTable;
use side::SideArray;
use std::io;
use std::sync::atomic::AtomicU64;

pub struct Metadata {
    /// Bytes of heap covered (a multiple of the chunk size and of the page size).
    pub covered: usize,
    /// A bit at the first word of every marked object.
    pub starts: Bitmap,
    /// A bit for every word of every marked object.
    pub live: Bitmap,
    /// Live bytes per chunk, then their exclusive prefix sum (one extra entry: the total).
    pub chunks: SideArray<AtomicU64>,
    pub pages: PageTable,
}

impl Metadata {
    /// Side tables for a heap of up to `heap_bytes` bytes starting at `base`.
    pub fn new(base: Address, heap_bytes: usize) -> io::Result<Self> {
        let covered = heap_bytes.next_multiple_of(CHUNK_BYTES.max(PAGE));
        Ok(Metadata {
            covered,
            starts: Bitmap::new(base, covered)?,
            live: Bitmap::new(base, covered)?,
            chunks: SideArray::new(covered / CHUNK_BYTES + 1)?,
            pages: PageTable::new(covered / PAGE)?,
        })
    }

    /// Clears everything a cycle over the heap prefix of `used` bytes may have written.
    ///
    /// # Safety
    /// 1. No cycle runs (no marker, compactor or fault handler reads the tables) and no
    ///    mutator allocates black (the only writer outside a cycle).
    pub unsafe fn reset(&self, used: usize) {
        let used = used.min(self.covered);
        // SAFETY: rule 1: nobody else uses the tables during the call.
        unsafe {
            self.starts.reset(used);
            self.live.reset(used);
            self.chunks.reset_prefix(used.div_ceil(CHUNK_BYTES) + 1);
            self.pages.reset(used.div_ceil(PAGE));
        }
    }
}
