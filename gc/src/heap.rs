//! The heap as the embedder sees it: one moving space with bump allocation, and the entry point
//! of a collection. What a cycle does lives in `collector/`; this file owns allocation and the
//! decision of when to collect.

use crate::address::{align_up, Address, WORD};
use crate::binding::{ObjectModel, RootSet};
use crate::config::HeapConfig;
use crate::metadata::Metadata;
use crate::os::clock::{monotonic_ns, peak_rss_bytes};
use crate::os::reservation::Reservation;
use crate::stats::GcStats;
use std::marker::PhantomData;

/// Reservations are made in whole GiB, 1 GiB-aligned (design note §1): `mremap` then moves whole
/// page-table pages.
pub const RESERVATION_ALIGN: usize = 1 << 30;

/// Size of the thread-local allocation buffer carved from the shared top.
pub const TLAB_BYTES: usize = 32 << 10;

/// The allocation failed even after a full collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// A heap could not be created.
#[derive(Debug)]
pub enum HeapError {
    Reserve(std::io::Error),
    /// The side metadata could not be reserved.
    Metadata(std::io::Error),
}

impl std::fmt::Display for HeapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeapError::Reserve(e) => write!(f, "cannot reserve the heap: {e}"),
            HeapError::Metadata(e) => write!(f, "cannot reserve the collector's metadata: {e}"),
        }
    }
}

/// A garbage-collected heap for objects described by `M`.
pub struct Heap<M: ObjectModel> {
    /// The moving space: objects live in `[space.base(), top)`.
    pub(crate) space: Reservation,
    /// Where the pages of the moving space go during compaction (same size).
    pub(crate) from_space: Reservation,
    /// End of the allocated part of the space (shared bump pointer).
    pub(crate) top: Address,
    /// The mutator's allocation buffer: `[tlab_cursor, tlab_limit)` is free.
    tlab_cursor: Address,
    tlab_limit: Address,
    /// Collect when `top - base` would pass this.
    pub(crate) next_trigger: usize,
    /// Allocations since the last stress collection.
    stress_count: u64,
    pub(crate) config: HeapConfig,
    /// Side tables: bitmaps, chunk vector, page tables.
    pub(crate) meta: Metadata,
    /// The mark stack, kept between cycles for its capacity.
    pub(crate) mark_stack: Vec<Address>,
    pub(crate) stats: GcStats,
    /// Monotonic time of creation: the origin of pause start times and log lines.
    pub(crate) created_ns: u64,
    _model: PhantomData<M>,
}

impl<M: ObjectModel> Heap<M> {
    pub fn new(config: HeapConfig) -> Result<Self, HeapError> {
        let len = align_up(config.max_bytes.max(1), RESERVATION_ALIGN);
        let space = Reservation::new(len, RESERVATION_ALIGN).map_err(HeapError::Reserve)?;
        let from_space = Reservation::new(len, RESERVATION_ALIGN).map_err(HeapError::Reserve)?;
        let base = space.base();
        let covered = config.max_bytes.min(space.len());
        let meta = Metadata::new(base, covered).map_err(HeapError::Metadata)?;
        let stats = GcStats::new(config.mode.name());
        let mut heap = Heap {
            space,
            from_space,
            top: base,
            tlab_cursor: base,
            tlab_limit: base,
            next_trigger: config.min_trigger_bytes,
            stress_count: 0,
            config,
            meta,
            mark_stack: Vec::new(),
            stats,
            created_ns: monotonic_ns(),
            _model: PhantomData,
        };
        heap.next_trigger = heap.config.min_trigger_bytes.min(heap.config.max_bytes);
        Ok(heap)
    }

    pub fn config(&self) -> &HeapConfig {
        &self.config
    }

    /// Start of the moving space.
    #[inline]
    pub fn base(&self) -> Address {
        self.space.base()
    }

    /// True if `a` lies in the allocated part of the heap.
    #[inline]
    pub fn contains(&self, a: Address) -> bool {
        a >= self.space.base() && a < self.top
    }

    /// Bytes handed out so far (including the unused part of the current TLAB).
    pub fn used_bytes(&self) -> usize {
        self.top.offset_from(self.space.base())
    }

    /// Fast path: `bytes` (a multiple of 8) from the TLAB, or `None` when the caller must take
    /// [`Heap::alloc_slow`]. The memory is uninitialised; the caller writes a well-formed object
    /// there before its next allocation or safepoint.
    #[inline(always)]
    pub fn try_alloc(&mut self, bytes: usize) -> Option<Address> {
        debug_assert!(bytes >= WORD && bytes.is_multiple_of(WORD));
        let new = self.tlab_cursor.as_usize() + bytes;
        if new <= self.tlab_limit.as_usize() {
            let at = self.tlab_cursor;
            self.tlab_cursor = Address(new);
            Some(at)
        } else {
            None
        }
    }

    /// Allocates `bytes`, collecting first when the heap has grown past its trigger (or stress
    /// mode says so). `roots` must describe every live reference of the mutator.
    #[inline(never)]
    pub fn alloc_slow(
        &mut self,
        bytes: usize,
        roots: &mut dyn RootSet,
    ) -> Result<Address, OutOfMemory> {
        debug_assert!(bytes >= WORD && bytes.is_multiple_of(WORD));
        if let Some(n) = self.config.stress_every {
            self.stress_count += 1;
            if self.stress_count >= n {
                self.stress_count = 0;
                self.collect(roots);
            }
        }
        if let Some(a) = self.try_alloc(bytes) {
            return Ok(a);
        }
        let want = bytes.max(TLAB_BYTES);
        if self.used_bytes() + want > self.next_trigger {
            self.collect(roots);
        }
        self.carve(bytes).ok_or(OutOfMemory)
    }

    /// Allocates through the fast path or, failing that, the slow path.
    #[inline(always)]
    pub fn alloc(&mut self, bytes: usize, roots: &mut dyn RootSet) -> Result<Address, OutOfMemory> {
        match self.try_alloc(bytes) {
            Some(a) => Ok(a),
            None => self.alloc_slow(bytes, roots),
        }
    }

    /// Takes a new TLAB (or, for a large object, exactly its size) from the shared top.
    fn carve(&mut self, bytes: usize) -> Option<Address> {
        self.retire_tlab();
        let base = self.space.base();
        let max_end = base.add(self.config.max_bytes.min(self.space.len()));
        let want = if bytes >= TLAB_BYTES / 2 {
            bytes
        } else {
            TLAB_BYTES
        };
        let start = self.top;
        let fit = |n: usize| {
            start
                .as_usize()
                .checked_add(n)
                .filter(|&e| e <= max_end.as_usize())
        };
        // A small object near the limit takes a short TLAB rather than failing.
        let end = fit(want).or_else(|| fit(bytes))?;
        self.top = Address(end);
        self.stats.note_heap_bytes(end - base.as_usize());
        if want == bytes || end - start.as_usize() == bytes {
            // Exactly-sized: nothing left over to bump from.
            self.tlab_cursor = self.top;
            self.tlab_limit = self.top;
            return Some(start);
        }
        self.tlab_cursor = start.add(bytes);
        self.tlab_limit = self.top;
        if self.config.stress_every.is_some() {
            // Every allocation takes the slow path so that stress counting sees it.
            self.tlab_limit = self.tlab_cursor;
            self.top = self.tlab_cursor;
        }
        Some(start)
    }

    /// Turns the TLAB's unused tail into a filler object so the heap stays parseable.
    pub(crate) fn retire_tlab(&mut self) {
        let (cur, lim) = (self.tlab_cursor, self.tlab_limit);
        if lim > cur {
            // SAFETY: [cur, lim) is the unused part of our own TLAB: allocated, owned by this
            // heap, handed to nobody.
            unsafe { M::write_filler(cur, lim.offset_from(cur)) };
        }
        self.tlab_cursor = self.top;
        self.tlab_limit = self.top;
    }

    /// After compaction: allocation resumes at the live end, with no TLAB.
    pub(crate) fn set_top_after_compaction(&mut self, top: Address) {
        self.top = top;
        self.tlab_cursor = top;
        self.tlab_limit = top;
    }

    /// Runs a full collection now. `roots` must describe every live reference of the mutator;
    /// every address held outside those roots is stale afterwards.
    pub fn collect(&mut self, roots: &mut dyn RootSet) {
        self.collect_stw(roots);
    }

    /// The statistics so far (peak RSS is filled in by [`Heap::stats_json`] and
    /// [`Heap::finish`]).
    pub fn stats(&self) -> &GcStats {
        &self.stats
    }

    /// Completed collections.
    pub fn cycles(&self) -> u64 {
        self.stats.cycles
    }

    /// The statistics as JSON (`--gc-stats`), with the current peak RSS and heap size.
    pub fn stats_json(&self) -> String {
        let mut s = self.stats.clone();
        s.peak_rss_bytes = peak_rss_bytes();
        s.peak_heap_bytes = s.peak_heap_bytes.max(self.used_bytes() as u64);
        s.to_json()
    }

    /// Ends the heap's life for statistics: records the final peaks and returns the figures.
    pub fn finish(&mut self) -> &GcStats {
        self.stats.peak_rss_bytes = peak_rss_bytes();
        self.stats.note_heap_bytes(self.used_bytes());
        &self.stats
    }
}
