//! The heap as the embedder sees it: one moving space with bump allocation, and the entry point
//! of a collection. What a cycle does lives in `collector/`; this file owns allocation and the
//! decision of when to collect.
//!
//! Embedding in concurrent mode (`GcMode::Concurrent`): allocation and `collect` are used as in
//! stop-the-world mode — a collection's pauses run inside `alloc_slow`/`collect`, and compaction
//! continues on the GC thread after they return. Besides that the embedder
//! - polls [`Heap::should_yield`] at calls and loop back-edges and calls [`Heap::safepoint`]
//!   when it is set (requests from other threads, reaping a finished cycle);
//! - brackets blocking work outside the VM with [`Heap::enter_native`] /
//!   [`Heap::leave_native`];
//! - never hands a heap address to a system call while [`Heap::compaction_running`] (copy to
//!   an off-heap buffer, or call [`Heap::ensure_installed`] first: the kernel's own access to a
//!   page not yet installed fails with EFAULT), and does not `fork` then;
//! - calls [`Heap::finish`] before reading final statistics (it waits for compaction), and
//!   prints [`Heap::fallback_notice`] once when concurrent mode was asked for explicitly.

use crate::address::{align_up, Address, WORD};
use crate::binding::{ObjectModel, RootSet};
use crate::collector::concurrent::cycle::Concurrent;
use crate::collector::concurrent::gc_thread::Compactor;
use crate::collector::concurrent::scratch::ScratchSource;
use crate::collector::limit::LimitPolicy;
use crate::config::HeapConfig;
use crate::metadata::Metadata;
use crate::os::clock::{monotonic_ns, peak_rss_bytes};
use crate::os::reservation::Reservation;
use crate::safepoint::{MutatorState, Safepoints};
use crate::stats::GcStats;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

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
    /// Side tables: bitmaps, chunk vector, page tables. Boxed: the marking threads hold a
    /// reference to it while the heap value itself may move.
    pub(crate) meta: Box<Metadata>,
    /// The mark stack, kept between cycles for its capacity.
    pub(crate) mark_stack: Vec<Address>,
    pub(crate) stats: GcStats,
    /// Monotonic time of creation: the origin of pause start times and log lines.
    pub(crate) created_ns: u64,
    /// Concurrent mode's machinery; `None` in stop-the-world mode and after a fallback.
    pub(crate) conc: Option<Concurrent>,
    /// Step mode (tests): the next cycle is driven page by page through `step_*`.
    pub(crate) step_mode: bool,
    pub(crate) step: Option<Box<Compactor<M>>>,
    pub(crate) step_scratch: Option<ScratchSource>,
    /// The mutator's safepoint flag and the requests of other threads.
    pub(crate) safepoints: Arc<Safepoints>,
    /// Monotonic time of the request that started the collection now running, if it was
    /// requested by another thread (the first pause is measured from it).
    pub(crate) pause_origin: Option<u64>,
    /// The deletion barrier is on: a concurrent cycle is marking (initial pause to remark).
    pub(crate) marking: bool,
    /// Allocation is black: object starts are recorded (initial pause to flip).
    pub(crate) black_alloc: bool,
    /// The black boundary of the cycle being marked.
    pub(crate) black_begin: Address,
    /// The mutator's barrier buffer: objects it shaded, not yet handed to the markers.
    pub(crate) satb: Vec<Address>,
    /// The concurrent cycle between its initial pause and its flip, if any.
    pub(crate) marking_cycle: Option<crate::collector::concurrent::phases::MarkingCycle>,
    /// When an allocation at the heap limit fails instead of collecting again.
    pub(crate) limit: LimitPolicy,
    _model: PhantomData<M>,
}

impl<M: ObjectModel> Heap<M> {
    pub fn new(config: HeapConfig) -> Result<Self, HeapError> {
        Self::with_features(config, None)
    }

    /// As [`Heap::new`], but a concurrent heap asks the kernel only for the userfaultfd
    /// features in `mask` (tests: `Features::SIGBUS` alone exercises the COPY-only fallback
    /// of a kernel without MOVE).
    #[doc(hidden)]
    pub fn with_features(
        config: HeapConfig,
        mask: Option<crate::uffd::Features>,
    ) -> Result<Self, HeapError> {
        let len = align_up(config.max_bytes.max(1), RESERVATION_ALIGN);
        let space = Reservation::new(len, RESERVATION_ALIGN).map_err(HeapError::Reserve)?;
        let from_space = Reservation::new(len, RESERVATION_ALIGN).map_err(HeapError::Reserve)?;
        let base = space.base();
        let covered = config.max_bytes.min(space.len());
        let meta = Box::new(Metadata::new(base, covered).map_err(HeapError::Metadata)?);
        let mut stats = GcStats::new(config.mode.name());
        let created_ns = monotonic_ns();
        let safepoints = Arc::new(Safepoints::new(created_ns));
        let mut conc = None;
        let mut config = config;
        if cfg!(feature = "no-write-barrier") {
            // Built without the barrier (a measurement build): concurrent marking would lose
            // objects, so this heap runs stop-the-world, and says so.
            if config.mode.fault_mode().is_some() {
                stats.fallback_reason = Some(
                    "built without the write barrier (no-write-barrier); running stop-the-world"
                        .into(),
                );
                stats.collector = "stw";
            }
            config.mode = crate::config::GcMode::StopTheWorld;
        }
        if let Some(fault) = config.mode.fault_mode() {
            stats.fault_mode = Some(fault.name());
            match Concurrent::new::<M>(&space, &from_space, fault, safepoints.clone(), mask) {
                Ok(c) => {
                    if c.copy_only {
                        stats.fallback_reason = Some(
                            "userfaultfd lacks UFFDIO_MOVE; installing pages with COPY".into(),
                        );
                    }
                    conc = Some(c);
                }
                Err(reason) => {
                    stats.collector = "stw";
                    stats.fault_mode = None;
                    stats.fallback_reason = Some(reason);
                }
            }
            if let Some(c) = conc.as_ref() {
                crate::collector::concurrent::cycle::fill_stats(&c.sh, &mut stats);
            }
            if config.print_fallback_notice {
                if let Some(r) = &stats.fallback_reason {
                    use std::io::Write;
                    let _ = writeln!(std::io::stderr(), "gc: concurrent collector: {r}");
                }
            }
        }
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
            created_ns,
            conc,
            step_mode: false,
            step: None,
            step_scratch: None,
            safepoints,
            pause_origin: None,
            marking: false,
            black_alloc: false,
            black_begin: base,
            satb: Vec::new(),
            marking_cycle: None,
            limit: LimitPolicy::new(created_ns),
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
            if self.black_alloc {
                // Black allocation (design note §2.1): compaction walks black objects by
                // their start bits.
                self.meta.starts.view().set(at);
            }
            Some(at)
        } else {
            None
        }
    }

    /// Allocates `bytes`, collecting first when the heap has grown past its trigger (or stress
    /// mode says so). `roots` must describe every live reference of the mutator. Fails when
    /// the heap limit leaves no room even after collecting (`collector/limit.rs` says when).
    #[inline(never)]
    pub fn alloc_slow(
        &mut self,
        bytes: usize,
        roots: &mut dyn RootSet,
    ) -> Result<Address, OutOfMemory> {
        debug_assert!(bytes >= WORD && bytes.is_multiple_of(WORD));
        let t0 = monotonic_ns();
        let result = self.alloc_slow_inner(bytes, roots);
        // Everything here but the carve is the collector's: its time counts against the
        // program for the overhead rule.
        self.limit.note_wait(monotonic_ns().saturating_sub(t0));
        result
    }

    fn alloc_slow_inner(
        &mut self,
        bytes: usize,
        roots: &mut dyn RootSet,
    ) -> Result<Address, OutOfMemory> {
        // The allocation slow path is a safepoint.
        if self.should_yield() {
            self.safepoint_inner(roots);
        }
        self.reap_if_finished();
        if let Some(n) = self.config.stress_every {
            self.stress_count += 1;
            if self.stress_count >= n {
                self.stress_count = 0;
                if self.conc.is_some() {
                    // Concurrent stress starts a cycle and lets its marking overlap the
                    // program; the next stress point finds it marking and lets it run.
                    self.stress_cycle(roots);
                } else {
                    self.collect(roots);
                }
            }
        }
        if let Some(a) = self.try_alloc(bytes) {
            return Ok(a);
        }
        let want = bytes.max(TLAB_BYTES);
        let used = self.used_bytes();
        if used.saturating_add(want) > self.usable_bytes() {
            // Collect until a TLAB's worth beyond the request fits, or fail.
            self.collect_at_limit(bytes, roots)?;
        } else if used + want > self.next_trigger {
            if self.conc.is_some() {
                // Marking overlaps the program, which allocates black meanwhile.
                self.start_cycle(roots);
            } else {
                self.collect(roots);
            }
        }
        let at = self.carve(bytes).ok_or(OutOfMemory)?;
        if self.black_alloc {
            self.meta.starts.view().set(at);
        }
        Ok(at)
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
        let max_end = base.add(self.usable_bytes());
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
        // While a concurrent cycle's range is registered, fresh pages are installed here,
        // not by fault (design note §2.6).
        self.prepare_fresh(Address(end));
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
        if self.conc.is_some() {
            self.collect_concurrent(roots);
        } else {
            self.collect_stw(roots);
        }
    }

    /// Whether the collector runs concurrently (concurrent mode asked for and available).
    pub fn is_concurrent(&self) -> bool {
        self.conc.is_some()
    }

    /// Whether compaction is running right now (a cycle flipped and has not finished).
    pub fn compaction_running(&self) -> bool {
        self.conc
            .as_ref()
            .is_some_and(|c| c.active && !c.finished())
    }

    /// Waits until a running concurrent compaction has finished and folds its figures into
    /// the statistics. Not counted as an allocation stall. No effect in stop-the-world mode.
    pub fn wait_for_compaction(&mut self) {
        self.finish_running_cycle(false);
    }

    /// Makes sure the heap pages of `[a, a + len)` are installed, by touching one word per
    /// page from user mode (a missing page faults and is resolved). Call it before giving a
    /// heap address to a system call while compaction may run (design note §4.1): the kernel's
    /// own access to a missing page would fail with EFAULT, and an installed page stays
    /// installed until the cycle ends. Cheap when no compaction runs (nothing is touched).
    pub fn ensure_installed(&self, a: Address, len: usize) {
        if !self.compaction_running() || len == 0 {
            return;
        }
        let lo = a.max(self.space.base()).align_down(crate::address::PAGE);
        let hi = a.add(len).min(self.top);
        let mut p = lo;
        while p < hi {
            // SAFETY: `p` is a page-aligned address inside the allocated heap: mapped (or
            // installed on this very access) and readable; a volatile read of one byte has
            // no other effect.
            unsafe { std::ptr::read_volatile(p.as_ptr::<u8>()) };
            p = p.add(crate::address::PAGE);
        }
    }

    /// The reason concurrent mode was not (fully) available, if it was asked for and fell
    /// back (design note §4.4): the embedder prints it once when concurrent mode was asked
    /// for explicitly or logging is on.
    pub fn fallback_notice(&self) -> Option<&str> {
        self.stats.fallback_reason.as_deref()
    }

    /// Whether the mutator should call [`Heap::safepoint`] now: another thread asked for a
    /// collection or a stop, or a concurrent cycle finished. One relaxed load: poll it at
    /// allocation slow paths, calls and loop back-edges.
    #[inline(always)]
    pub fn should_yield(&self) -> bool {
        self.safepoints.flag()
    }

    /// The safepoint: parks while another thread holds the mutator stopped, runs a requested
    /// collection (`roots` as for [`Heap::collect`]), and reaps a finished concurrent cycle.
    #[inline(never)]
    pub fn safepoint(&mut self, roots: &mut dyn RootSet) {
        let t0 = monotonic_ns();
        self.safepoint_inner(roots);
        self.limit.note_wait(monotonic_ns().saturating_sub(t0));
    }

    fn safepoint_inner(&mut self, roots: &mut dyn RootSet) {
        if self.safepoints.reap.swap(false, Ordering::AcqRel) {
            self.reap_if_finished();
        }
        let requested = self.safepoints.at_safepoint(MutatorState::Running);
        if self.safepoints.advance.swap(false, Ordering::SeqCst) {
            self.advance_cycle(roots);
        }
        if let Some(at) = requested.or(self.pause_origin) {
            self.pause_origin = Some(at);
            self.collect(roots);
        }
        self.sync_concurrent_stats();
    }

    /// The mutator is about to block outside the VM (reading input, a native call that does
    /// not touch the heap): until [`Heap::leave_native`] it counts as stopped, so no pause
    /// waits for it. It must not touch the heap meanwhile.
    pub fn enter_native(&self) {
        self.safepoints.enter_native();
    }

    /// Back from the native state: waits while a stop is in force. Returns true if the
    /// mutator should now call [`Heap::safepoint`].
    pub fn leave_native(&mut self) -> bool {
        if let Some(at) = self.safepoints.at_safepoint(MutatorState::Native) {
            // Keep the collection request for the safepoint the caller is told to take.
            self.pause_origin = Some(at);
            self.safepoints.raise();
        }
        self.should_yield() || self.pause_origin.is_some()
    }

    /// The handle other threads use to request a collection or stop the mutator.
    pub fn safepoints(&self) -> Arc<Safepoints> {
        self.safepoints.clone()
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

    /// The statistics so far, with the concurrent counters as they are right now (a cycle
    /// may still be running).
    pub fn live_stats(&self) -> GcStats {
        let mut s = self.stats.clone();
        if let Some(c) = self.conc.as_ref() {
            crate::collector::concurrent::cycle::fill_stats(&c.sh, &mut s);
        }
        s
    }

    /// The fault-injection seam of this heap's userfaultfd (tests only).
    #[doc(hidden)]
    pub fn uffd_injector(&self) -> Option<&crate::uffd::Injector> {
        self.conc.as_ref().map(|c| c.sh.uffd.inject())
    }

    /// The statistics as JSON (`--gc-stats`), with the current peak RSS and heap size.
    #[cfg(feature = "serde")]
    pub fn stats_json(&self) -> String {
        let mut s = self.live_stats();
        s.peak_rss_bytes = peak_rss_bytes();
        s.peak_heap_bytes = s.peak_heap_bytes.max(self.used_bytes() as u64);
        s.to_json()
    }

    /// Ends the heap's life for statistics: records the final peaks and returns the figures.
    pub fn finish(&mut self) -> &GcStats {
        self.cancel_marking();
        self.finish_running_cycle(false);
        self.sync_concurrent_stats();
        self.stats.peak_rss_bytes = peak_rss_bytes();
        self.stats.note_heap_bytes(self.used_bytes());
        &self.stats
    }
}

impl<M: ObjectModel> Drop for Heap<M> {
    fn drop(&mut self) {
        // A running cycle must finish (or, while marking, be cancelled) before the metadata
        // and reservations it uses go away.
        self.cancel_marking();
        self.finish_running_cycle(false);
        self.conc = None;
    }
}
