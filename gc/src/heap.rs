//! The heap as the embedder sees it: one moving space shared by every mutator thread
//! (`Sync`, used through an `Arc`), made with [`Heap::new`]; each thread that runs code on it
//! attaches a [`Mutator`](crate::Mutator) (its TLAB, barrier buffer and safepoint state). This
//! file owns creating the heap, the lock-free part every thread reads ([`HeapShared`]) and the
//! queries; allocation is in `mutator.rs`, the collector's decisions in `collector/state.rs`.
//!
//! Embedding in concurrent mode (`GcMode::Concurrent`): allocation and `collect` are used as in
//! stop-the-world mode — a collection's pauses run inside `alloc_slow`/`collect` of whichever
//! mutator needs them, and compaction continues on the GC thread after they return. Besides
//! that each mutator
//! - polls [`Mutator::should_yield`](crate::Mutator::should_yield) at calls and loop
//!   back-edges and calls [`Mutator::safepoint`](crate::Mutator::safepoint) when it is set
//!   (pauses of other threads, requests, reaping a finished cycle);
//! - runs blocking work outside the VM inside [`Mutator::in_native`](crate::Mutator::in_native);
//! - never hands a heap address to a system call while [`Heap::compaction_running`] (copy to
//!   an off-heap buffer, or call [`Heap::ensure_installed`] first: the kernel's own access to
//!   a page not yet installed fails with EFAULT), and does not `fork` then;
//! - calls [`Mutator::finish`](crate::Mutator::finish) before reading final statistics (it
//!   waits for compaction), and prints [`Heap::fallback_notice`] once when concurrent mode was
//!   asked for explicitly.
//!
//! The runtime's roots: each mutator passes its own thread's roots to its calls; roots every
//! thread shares (globals, intern tables) are registered once with
//! [`Heap::set_shared_roots`].

use crate::address::{align_up, Address};
use crate::binding::{ObjectModel, RootSet};
use crate::collector::concurrent::cycle::Concurrent;
use crate::collector::concurrent::shared::Shared;
use crate::collector::state::Collector;
use crate::config::HeapConfig;
use crate::metadata::Metadata;
use crate::mutator::Mutator;
use crate::os::clock::{monotonic_ns, peak_rss_bytes};
use crate::os::reservation::Reservation;
use crate::safepoint::{RootsPtr, Safepoints};
use crate::stats::GcStats;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// What every thread of a heap reads without taking the collector lock: the reservations, the
/// side metadata, the configuration, the safepoint coordinator, the shared allocation top and
/// the concurrent machinery's shared state. Immutable after creation except for the atomics.
pub(crate) struct HeapShared {
    /// The moving space: objects live in `[space.base(), top)`.
    pub space: Reservation,
    /// Where the pages of the moving space go during compaction (same size).
    pub from_space: Reservation,
    /// Side tables: bitmaps, chunk vector, page tables.
    pub meta: Box<Metadata>,
    pub config: HeapConfig,
    /// Monotonic time of creation: the origin of pause start times and log lines.
    pub created_ns: u64,
    pub safepoints: Arc<Safepoints>,
    /// End of the allocated part of the space (written under the collector lock).
    top: AtomicUsize,
    /// Concurrent mode's shared state (marking queue, compaction counters), if concurrent.
    pub conc: Option<Arc<Shared>>,
    /// Completed collections (a copy of the statistics' count, readable without the lock).
    pub cycles: AtomicU64,
    /// Bytes the last collection kept (a copy of the statistics' figure, lock-free).
    pub last_live_bytes: AtomicU64,
    /// Why concurrent mode fell back, decided at creation.
    pub fallback_reason: Option<String>,
}

impl HeapShared {
    #[inline]
    pub fn top(&self) -> Address {
        Address(self.top.load(Ordering::Acquire))
    }

    /// Publishes a completed cycle's number and live bytes for lock-free readers (in the
    /// cycle's last pause, before the mutators resume).
    pub fn publish_cycle(&self, cycle: u64, live_bytes: u64) {
        self.last_live_bytes.store(live_bytes, Ordering::Release);
        self.cycles.store(cycle, Ordering::Release);
    }

    /// Moves the shared top (collector lock held).
    pub fn set_top(&self, top: Address) {
        self.top.store(top.as_usize(), Ordering::Release);
    }

    #[inline]
    pub fn base(&self) -> Address {
        self.space.base()
    }

    pub fn used_bytes(&self) -> usize {
        self.top().offset_from(self.base())
    }
}

/// A garbage-collected heap for objects described by `M`, shared by its mutator threads.
pub struct Heap<M: ObjectModel> {
    pub(crate) hs: Arc<HeapShared>,
    collector: Mutex<Collector<M>>,
}

impl<M: ObjectModel> Heap<M> {
    /// Reserves a heap (and, in concurrent mode, sets up userfaultfd and the GC thread, or
    /// falls back to stop-the-world with the reason in [`Heap::fallback_notice`]). Attach a
    /// [`Mutator`] per thread to allocate.
    pub fn new(config: HeapConfig) -> Result<Arc<Self>, HeapError> {
        Self::with_features(config, None)
    }

    /// As [`Heap::new`], but a concurrent heap asks the kernel only for the userfaultfd
    /// features in `mask` (tests: `Features::SIGBUS` alone exercises the COPY-only fallback
    /// of a kernel without MOVE).
    #[doc(hidden)]
    pub fn with_features(
        config: HeapConfig,
        mask: Option<crate::uffd::Features>,
    ) -> Result<Arc<Self>, HeapError> {
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
        let min_trigger = config.min_trigger_bytes.min(config.max_bytes);
        let hs = Arc::new(HeapShared {
            space,
            from_space,
            meta,
            config,
            created_ns,
            safepoints,
            top: AtomicUsize::new(base.as_usize()),
            conc: conc.as_ref().map(|c: &Concurrent| c.sh.clone()),
            cycles: AtomicU64::new(0),
            last_live_bytes: AtomicU64::new(0),
            fallback_reason: stats.fallback_reason.clone(),
        });
        let collector = Collector::new(hs.clone(), stats, conc, min_trigger);
        Ok(Arc::new(Heap {
            hs,
            collector: Mutex::new(collector),
        }))
    }

    /// Locks the collector. Only a thread that is not a running mutator may wait for this
    /// lock (a mutator waits in a stopped state, see `mutator.rs`): the holder may stop every
    /// mutator, and would wait for ever for one blocked here.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Collector<M>> {
        self.collector.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Attaches the calling thread as a mutator of this heap. Call it from a thread that is not
    /// a running mutator of this heap (it may wait for a pause to end): typically first thing
    /// in a new thread. While a concurrent cycle marks, the new mutator allocates black and has
    /// its barrier on from the start.
    pub fn attach(self: &Arc<Self>) -> Mutator<M> {
        let mut c = self.lock();
        c.attach(self.clone())
    }

    pub fn config(&self) -> &HeapConfig {
        &self.hs.config
    }

    /// Start of the moving space.
    #[inline]
    pub fn base(&self) -> Address {
        self.hs.base()
    }

    /// True if `a` lies in the allocated part of the heap.
    #[inline]
    pub fn contains(&self, a: Address) -> bool {
        a >= self.hs.base() && a < self.hs.top()
    }

    /// Bytes handed out so far (including the unused parts of the mutators' TLABs).
    pub fn used_bytes(&self) -> usize {
        self.hs.used_bytes()
    }

    /// Attached mutators.
    pub fn mutator_count(&self) -> usize {
        self.hs.safepoints.mutator_count()
    }

    /// Registers the roots every mutator shares (globals, intern tables, handles of the host):
    /// every pause visits them after the mutators' own roots, and calls their
    /// `visit_weak_roots` and `sweep_weak`. `None` unregisters them.
    ///
    /// # Safety
    /// 1. `roots` stays valid until it is unregistered or the heap is dropped.
    /// 2. No thread holds a Rust reference into what `roots` points to across a safepoint, an
    ///    allocation's slow path, or a call to `collect`/`finish` of any mutator of this heap:
    ///    the collector reads and rewrites it inside pauses, while every mutator is stopped.
    pub unsafe fn set_shared_roots(&self, roots: Option<*mut dyn RootSet>) {
        // SAFETY: the caller's rules 1-2 are the contract the collector relies on when it
        // dereferences the pointer (inside pauses only); extending the trait object's lifetime
        // to 'static is what rule 1 promises.
        let roots = roots.map(|p| unsafe { std::mem::transmute::<*mut dyn RootSet, RootsPtr>(p) });
        self.lock().shared_roots = roots.map(crate::collector::pause::SendRoots);
    }

    /// Whether the collector runs concurrently (concurrent mode asked for and available).
    pub fn is_concurrent(&self) -> bool {
        self.hs.conc.is_some()
    }

    /// Whether compaction is running right now (a cycle flipped and its finish protocol has
    /// not completed).
    pub fn compaction_running(&self) -> bool {
        self.hs
            .conc
            .as_ref()
            .is_some_and(|c| c.running.load(Ordering::Acquire))
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
        let lo = a.max(self.hs.base()).align_down(crate::address::PAGE);
        let hi = a.add(len).min(self.hs.top());
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
        self.hs.fallback_reason.as_deref()
    }

    /// The handle other threads use to request a collection or stop the mutators.
    pub fn safepoints(&self) -> Arc<Safepoints> {
        self.hs.safepoints.clone()
    }

    /// Completed collections.
    pub fn cycles(&self) -> u64 {
        self.hs.cycles.load(Ordering::Acquire)
    }

    /// Bytes the last completed collection kept (0 before the first), without the lock.
    pub fn last_live_bytes(&self) -> u64 {
        self.hs.last_live_bytes.load(Ordering::Acquire)
    }

    /// The statistics so far, with the concurrent counters as they are right now (a cycle
    /// may still be running). For threads that are not mutators of this heap (it waits for
    /// the collector lock, which a pause holds until every mutator stopped): a mutator calls
    /// [`Mutator::stats`] instead.
    pub fn stats(&self) -> GcStats {
        self.lock().live_stats()
    }

    /// The fault-injection seam of this heap's userfaultfd (tests only).
    #[doc(hidden)]
    pub fn uffd_injector(&self) -> Option<&crate::uffd::Injector> {
        self.hs.conc.as_ref().map(|c| c.uffd.inject())
    }

    /// The statistics as JSON (`--gc-stats`), with the current peak RSS and heap size (for
    /// threads that are not mutators, as [`Heap::stats`]).
    #[cfg(feature = "serde")]
    pub fn stats_json(&self) -> String {
        self.stats_json_of(self.stats())
    }

    #[cfg(feature = "serde")]
    pub(crate) fn stats_json_of(&self, mut s: GcStats) -> String {
        s.peak_rss_bytes = peak_rss_bytes();
        s.peak_heap_bytes = s.peak_heap_bytes.max(self.used_bytes() as u64);
        s.to_json()
    }

    /// Records the final peaks and returns the figures (waits for a running compaction and
    /// abandons a cycle being marked).
    pub(crate) fn finish_stats(&self) -> GcStats {
        let mut c = self.lock();
        c.finish();
        c.stats.peak_rss_bytes = peak_rss_bytes();
        let used = self.used_bytes();
        c.stats.note_heap_bytes(used);
        c.stats.clone()
    }
}
