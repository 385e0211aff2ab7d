//! Where the GC thread builds compacted pages (design note §2.5): recycled from-space pages
//! when that is safe, else a dedicated buffer of its own.
//!
//! A from-space page may be recycled only when no unfinished to-space page still reads it. The
//! compactor tracks the lowest to-space page `m` such that every page from `m` up is `Mapped`
//! and tells us the recycling bound: the end of the furthest object any page below `m` reads
//! (the object straddling into page `m`, or for `m` = all pages, the last live object). Only
//! from-space pages wholly at or above the bound are handed out, highest first, each once: a
//! recycled page is MOVEd into the heap and reads back as zeroes afterwards (§4.7), so its old
//! contents are never read again — compaction overwrites the whole page.
//!
//! Scratch pages of one run are contiguous and descending (the compactor walks to-space pages
//! highest first), so a run is installed with one MOVE.

use crate::address::{Address, PAGE};
use crate::os::reservation::Reservation;
use std::io;

/// Pages in the dedicated buffer, and the longest run installed by one MOVE.
pub const RUN_PAGES: usize = 64;

pub struct ScratchSource {
    buffer: Reservation,
    /// Lowest dedicated slot handed out to the current run (`RUN_PAGES`: none).
    buf_low: usize,
    from_base: Address,
    /// From-space pages `[0, recycle_top)` (in page indices from `from_base`) were not
    /// recycled yet; they are handed out downwards.
    recycle_top: usize,
    /// Byte offset from `from_base` at and above which from-space pages may be recycled.
    bound: usize,
    /// Pages recycled this cycle.
    pub recycled: u64,
}

impl ScratchSource {
    pub fn new() -> io::Result<ScratchSource> {
        let buffer = Reservation::new(RUN_PAGES * PAGE, PAGE)?;
        Ok(ScratchSource {
            buffer,
            buf_low: RUN_PAGES,
            from_base: Address::ZERO,
            recycle_top: 0,
            bound: usize::MAX,
            recycled: 0,
        })
    }

    /// Starts a cycle whose from-space starts at `from_base` and holds `old_bytes` of heap.
    pub fn begin_cycle(&mut self, from_base: Address, old_bytes: usize) {
        self.from_base = from_base;
        self.recycle_top = old_bytes / PAGE; // a partial last page is never recycled
        self.bound = usize::MAX;
        self.buf_low = RUN_PAGES;
        self.recycled = 0;
    }

    /// From-space bytes at and above offset `bound` are no longer read by anyone.
    pub fn set_bound(&mut self, bound: usize) {
        self.bound = self.bound.min(bound);
    }

    fn recyclable(&self) -> bool {
        self.recycle_top > 0 && (self.recycle_top - 1) * PAGE >= self.bound
    }

    /// The first scratch page of a new run (the previous run must have been installed).
    pub fn start_run(&mut self) -> Address {
        if self.recyclable() {
            self.recycle_top -= 1;
            self.recycled += 1;
            return self.from_base.add(self.recycle_top * PAGE);
        }
        self.buf_low = RUN_PAGES - 1;
        self.buffer.base().add(self.buf_low * PAGE)
    }

    /// Whether the scratch page directly below `lowest` (the current run's lowest scratch page)
    /// is free, so that the run can grow by one page.
    pub fn can_extend(&self, lowest: Address) -> bool {
        if self.buffer.contains(lowest) {
            return lowest == self.buffer.base().add(self.buf_low * PAGE) && self.buf_low > 0;
        }
        self.recyclable() && self.from_base.add(self.recycle_top * PAGE) == lowest
    }

    /// The scratch page directly below `lowest`, the current run's lowest scratch page, if one
    /// is free: the run then grows by one page.
    pub fn next_below(&mut self, lowest: Address) -> Option<Address> {
        if !self.can_extend(lowest) {
            return None;
        }
        if self.buffer.contains(lowest) {
            self.buf_low -= 1;
            return Some(self.buffer.base().add(self.buf_low * PAGE));
        }
        self.recycle_top -= 1;
        self.recycled += 1;
        Some(lowest.sub(PAGE))
    }

    /// The current run was installed: the dedicated buffer is free again. (Its MOVEd pages are
    /// holes now; writing them faults fresh zero pages in.)
    pub fn run_installed(&mut self) {
        self.buf_low = RUN_PAGES;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycles_only_above_the_bound_and_keeps_runs_contiguous() {
        let from = Reservation::new(64 * PAGE, PAGE).unwrap();
        let mut s = ScratchSource::new().unwrap();
        s.begin_cycle(from.base(), 10 * PAGE + 100);
        // Nothing recyclable yet: the dedicated buffer, descending.
        let a = s.start_run();
        assert!(!from.contains(a));
        let b = s.next_below(a).unwrap();
        assert_eq!(b, a.sub(PAGE));
        s.run_installed();
        // Pages wholly at or above offset 7 * PAGE + 8 are free: pages 8 and 9.
        s.set_bound(7 * PAGE + 8);
        s.set_bound(9 * PAGE); // a bound never moves back up
        let r = s.start_run();
        assert_eq!(r, from.base().add(9 * PAGE));
        assert_eq!(s.next_below(r), Some(from.base().add(8 * PAGE)));
        assert_eq!(s.next_below(from.base().add(8 * PAGE)), None);
        assert_eq!(s.recycled, 2);
        // The next run falls back to the buffer.
        assert!(!from.contains(s.start_run()));
    }
}
