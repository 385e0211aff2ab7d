//! A mutator: one thread's handle on a shared [`Heap`] (design note threads.md §1), in the
//! spirit of mmtk-core's `Mutator<VM>`. It owns what that thread alone touches on its fast
//! paths — its TLAB, its write-barrier buffer and a copy of the cycle's flags — and a slot in
//! the heap's safepoint coordinator. `Send` (a host may move it between calls), not `Sync`.
//!
//! Every slow path (TLAB refill, collection, safepoint, native call) first *stops* this thread
//! in the coordinator's sense: it lends its local state and its roots through its slot and
//! counts as stopped, so that whichever thread runs a pause meanwhile — this one, holding the
//! collector lock, or another — can visit its roots and retire its TLAB; then it waits for the
//! collector lock. It runs again only when no pause is in force.

use crate::address::{Address, WORD};
use crate::binding::{ObjectModel, RootSet};
use crate::config::HeapConfig;
use crate::heap::{Heap, HeapError, HeapShared, OutOfMemory};
use crate::safepoint::{MutatorSlot, MutatorState, RootsPtr};
use crate::stats::GcStats;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A mutator's slot in the safepoint coordinator.
pub(crate) type Slot = MutatorSlot<MutatorLocal>;

/// What the collector may touch of a mutator while it is stopped: its TLAB, its barrier
/// buffer, and its copy of the cycle's flags (written in pauses).
pub(crate) struct MutatorLocal {
    /// `[tlab_cursor, tlab_limit)` is free.
    pub tlab_cursor: Address,
    pub tlab_limit: Address,
    /// The deletion barrier is on (a concurrent cycle is marking).
    pub marking: bool,
    /// Allocation is black (object starts are recorded).
    pub black_alloc: bool,
    /// The black boundary of the cycle being marked.
    pub black_begin: Address,
    /// Objects the barrier shaded, not yet handed to the markers.
    pub satb: Vec<Address>,
}

impl MutatorLocal {
    /// Whether the TLAB has room for `bytes`.
    pub(crate) fn has_room(&self, bytes: usize) -> bool {
        self.tlab_cursor.as_usize() + bytes <= self.tlab_limit.as_usize()
    }

    /// Bump allocation in the TLAB.
    #[inline(always)]
    pub(crate) fn try_alloc(&mut self, bytes: usize, hs: &HeapShared) -> Option<Address> {
        let new = self.tlab_cursor.as_usize() + bytes;
        if new <= self.tlab_limit.as_usize() {
            let at = self.tlab_cursor;
            self.tlab_cursor = Address(new);
            if self.black_alloc {
                // Black allocation (design note §2.1): compaction walks black objects by
                // their start bits.
                hs.meta.starts.view().set(at);
            }
            Some(at)
        } else {
            None
        }
    }
}

/// One thread's handle on a heap (see the module comment). Dropping it detaches the thread.
pub struct Mutator<M: ObjectModel> {
    pub(crate) local: MutatorLocal,
    /// The coordinator's poll flag (inside `heap`, which this mutator keeps alive).
    flag: *const AtomicBool,
    heap: Arc<Heap<M>>,
    pub(crate) slot: Arc<Slot>,
}

// SAFETY: `flag` points into the heap this mutator holds an `Arc` to; everything else is Send.
// A mutator moves between threads only between calls (it is not Sync: one thread at a time).
unsafe impl<M: ObjectModel> Send for Mutator<M> {}

/// Lends `roots` to the collector as a raw pointer (valid while the lender is stopped).
fn lend(roots: Option<&mut dyn RootSet>) -> Option<RootsPtr> {
    roots.map(|r| {
        let p: *mut dyn RootSet = r;
        // SAFETY: only the lifetime changes; the pointer is used only while its lender is
        // stopped inside the call that lent it (slot rule 1), which outlives every use.
        unsafe { std::mem::transmute::<*mut dyn RootSet, RootsPtr>(p) }
    })
}

impl<M: ObjectModel> Mutator<M> {
    pub(crate) fn new(heap: Arc<Heap<M>>, slot: Arc<Slot>, local: MutatorLocal) -> Self {
        let flag: *const AtomicBool = heap.hs.safepoints.flag_word();
        Mutator {
            local,
            flag,
            heap,
            slot,
        }
    }

    /// A new heap with the calling thread attached: the single-threaded way in.
    pub fn new_heap(config: HeapConfig) -> Result<Self, HeapError> {
        Ok(Heap::new(config)?.attach())
    }

    /// The heap this mutator allocates in.
    pub fn heap(&self) -> &Arc<Heap<M>> {
        &self.heap
    }

    /// Stops this thread (lending its state and `roots`), runs `f` with the collector locked,
    /// and runs again once no pause is in force.
    pub(crate) fn with_collector<R>(
        &mut self,
        roots: Option<&mut dyn RootSet>,
        f: impl FnOnce(&mut crate::collector::state::Collector<M>, &Slot) -> R,
    ) -> R {
        self.slot.publish(&mut self.local, lend(roots));
        let sp = &self.heap.hs.safepoints;
        sp.enter_stopped(&self.slot, MutatorState::Parked);
        let r = {
            let mut c = self.heap.lock();
            f(&mut c, &self.slot)
        };
        sp.leave_stopped(&self.slot);
        r
    }

    /// Fast path: `bytes` (a multiple of 8) from the TLAB, or `None` when the caller must take
    /// [`Mutator::alloc_slow`]. The memory is uninitialised; the caller writes a well-formed
    /// object there before its next allocation or safepoint.
    #[inline(always)]
    pub fn try_alloc(&mut self, bytes: usize) -> Option<Address> {
        debug_assert!(bytes >= WORD && bytes.is_multiple_of(WORD));
        self.local.try_alloc(bytes, &self.heap.hs)
    }

    /// Allocates `bytes`, collecting first when the heap has grown past its trigger (or stress
    /// mode says so). `roots` must describe every live reference of this thread. Fails when
    /// the heap limit leaves no room even after collecting (`collector/limit.rs` says when).
    #[inline(never)]
    pub fn alloc_slow(
        &mut self,
        bytes: usize,
        roots: &mut dyn RootSet,
    ) -> Result<Address, OutOfMemory> {
        loop {
            self.with_collector(Some(&mut *roots), |c, me| c.alloc_slow(me, bytes))?;
            // Running again: no pause can come between this bump and the caller's header
            // write. If one came before it, it retired the new TLAB: refill.
            if let Some(a) = self.try_alloc(bytes) {
                return Ok(a);
            }
        }
    }

    /// Allocates through the fast path or, failing that, the slow path.
    #[inline(always)]
    pub fn alloc(&mut self, bytes: usize, roots: &mut dyn RootSet) -> Result<Address, OutOfMemory> {
        match self.try_alloc(bytes) {
            Some(a) => Ok(a),
            None => self.alloc_slow(bytes, roots),
        }
    }

    /// Runs a full collection now. `roots` must describe every live reference of this thread;
    /// every address held outside the roots of the heap's mutators and its shared roots is
    /// stale afterwards.
    pub fn collect(&mut self, roots: &mut dyn RootSet) {
        self.with_collector(Some(roots), |c, _| c.collect());
    }

    /// Starts a concurrent cycle now (its initial pause) and returns; the GC thread marks
    /// (unless step mode is on) and asks for the later pauses at safepoints.
    pub fn start_concurrent_cycle(&mut self, roots: &mut dyn RootSet) {
        self.with_collector(Some(roots), |c, _| {
            if c.conc.is_some() {
                c.start_cycle();
            }
        });
    }

    /// Whether this thread should call [`Mutator::safepoint`] now: a pause waits for it, or
    /// a request is pending. One relaxed load: poll it at allocation slow paths, calls and
    /// loop back-edges.
    #[inline(always)]
    pub fn should_yield(&self) -> bool {
        // SAFETY: `flag` points into the coordinator the heap owns, alive while `self.heap` is.
        unsafe { (*self.flag).load(Ordering::Relaxed) }
    }

    /// The safepoint: parks while another thread's pause is in force, and serves what any
    /// mutator may serve (a requested collection, the concurrent cycle's next pause, reaping
    /// a finished cycle). `roots` as for [`Mutator::collect`].
    #[inline(never)]
    pub fn safepoint(&mut self, roots: &mut dyn RootSet) {
        let sp = self.heap.hs.safepoints.clone();
        if sp.has_requests() {
            self.with_collector(Some(roots), |c, _| c.serve_requests());
        } else {
            self.slot.publish(&mut self.local, lend(Some(roots)));
            sp.enter_stopped(&self.slot, MutatorState::Parked);
            sp.leave_stopped(&self.slot);
        }
    }

    /// Runs `f` in the native state: the thread counts as stopped (a pause visits `roots`
    /// meanwhile, and never waits for it), so `f` may block — reading input, joining a thread,
    /// waiting for a lock, writing output. `f` must not touch the heap. Returns once `f` has
    /// and no pause is in force, after serving a request made meanwhile (a collection asked
    /// for while this thread could not run one): so this is a safepoint for the caller.
    pub fn in_native<R>(&mut self, roots: &mut dyn RootSet, f: impl FnOnce() -> R) -> R {
        self.slot.publish(&mut self.local, lend(Some(&mut *roots)));
        let sp = &self.heap.hs.safepoints;
        sp.enter_stopped(&self.slot, MutatorState::Native);
        let r = f();
        sp.leave_stopped(&self.slot);
        if self.should_yield() {
            self.safepoint(roots);
        }
        r
    }

    /// Waits until a running concurrent compaction has finished and folds its figures into
    /// the statistics. Not counted as an allocation stall. No effect in stop-the-world mode.
    pub fn wait_for_compaction(&mut self, roots: &mut dyn RootSet) {
        self.with_collector(Some(roots), |c, _| c.finish_running_cycle(false));
    }

    /// Ends the heap's life for statistics: abandons a cycle being marked, waits for a running
    /// compaction, records the final peaks and returns the figures. Call it when no other
    /// mutator of the heap runs (this thread lends no roots meanwhile).
    pub fn finish(&mut self) -> GcStats {
        self.slot.publish(&mut self.local, None);
        let sp = self.heap.hs.safepoints.clone();
        sp.enter_stopped(&self.slot, MutatorState::Parked);
        let s = self.heap.finish_stats();
        sp.leave_stopped(&self.slot);
        s
    }

    /// The statistics so far, with the concurrent counters as they are right now. `roots` as
    /// for [`Mutator::collect`] (a pause may run while this thread waits for the figures).
    pub fn stats(&mut self, roots: &mut dyn RootSet) -> GcStats {
        self.with_collector(Some(roots), |c, _| c.live_stats())
    }

    /// The statistics as JSON (`--gc-stats`), with the current peak RSS and heap size.
    #[cfg(feature = "serde")]
    pub fn stats_json(&mut self, roots: &mut dyn RootSet) -> String {
        let s = self.stats(roots);
        self.heap.stats_json_of(s)
    }

    /// Whether a concurrent cycle is between its initial pause and its flip.
    pub fn marking_in_progress(&self) -> bool {
        self.local.black_alloc
    }
}

impl<M: ObjectModel> std::ops::Deref for Mutator<M> {
    type Target = Heap<M>;
    fn deref(&self) -> &Heap<M> {
        &self.heap
    }
}

impl<M: ObjectModel> Drop for Mutator<M> {
    fn drop(&mut self) {
        // Detach: lend the local state (no roots: this thread has none left), count as
        // stopped, and leave the thread list under the lock.
        self.slot.publish(&mut self.local, None);
        let sp = self.heap.hs.safepoints.clone();
        sp.enter_stopped(&self.slot, MutatorState::Native);
        let mut c = self.heap.lock();
        c.detach(&self.slot);
    }
}
