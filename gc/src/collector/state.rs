//! The collector's state, behind the heap's collector lock: the concurrent machinery, the
//! statistics, the trigger and limit policies, the cycle being marked, step mode, the list of
//! attached mutators and the shared roots. Its methods are the decisions a mutator's slow path
//! asks for — collect now? carve a TLAB? serve a request? — and attaching and detaching.
//!
//! Every method runs with the lock held by a thread that is not a running mutator (a mutator
//! takes it from a stopped state: `mutator.rs`), so a pause begun here (`pause.rs`) can stop
//! every attached mutator, the caller's own slot included.

use super::concurrent::cycle::Concurrent;
use super::concurrent::gc_thread::Compactor;
use super::concurrent::phases::MarkingCycle;
use super::concurrent::scratch::ScratchSource;
use super::limit::LimitPolicy;
use super::pause::SendRoots;
use crate::address::{Address, WORD};
use crate::binding::ObjectModel;
use crate::heap::{Heap, HeapShared, OutOfMemory, TLAB_BYTES};
use crate::mutator::{Mutator, MutatorLocal, Slot};
use crate::os::clock::monotonic_ns;
use crate::stats::GcStats;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The collector's mutable state (see the module comment).
pub(crate) struct Collector<M: ObjectModel> {
    pub(crate) hs: Arc<HeapShared>,
    /// Collect when `top - base` would pass this.
    pub(crate) next_trigger: usize,
    /// Allocations since the last stress collection.
    stress_count: u64,
    /// The mark stack, kept between cycles for its capacity.
    pub(crate) mark_stack: Vec<Address>,
    pub(crate) stats: GcStats,
    /// Concurrent mode's machinery; `None` in stop-the-world mode and after a fallback.
    pub(crate) conc: Option<Concurrent>,
    /// Step mode (tests): the next cycle is driven page by page through `step_*`.
    pub(crate) step_mode: bool,
    pub(crate) step: Option<Box<Compactor<M>>>,
    pub(crate) step_scratch: Option<ScratchSource>,
    /// Monotonic time of the request that started the collection now running, if it was
    /// requested by another thread (the first pause is measured from it).
    pub(crate) pause_origin: Option<u64>,
    /// The deletion barrier is on: a concurrent cycle is marking (initial pause to remark).
    pub(crate) marking: bool,
    /// Allocation is black: object starts are recorded (initial pause to flip).
    pub(crate) black_alloc: bool,
    /// The black boundary of the cycle being marked.
    pub(crate) black_begin: Address,
    /// The concurrent cycle between its initial pause and its flip, if any.
    pub(crate) marking_cycle: Option<MarkingCycle>,
    /// When an allocation at the heap limit fails instead of collecting again.
    pub(crate) limit: LimitPolicy,
    /// The attached mutators.
    pub(crate) threads: Vec<Arc<Slot>>,
    /// Roots every mutator shares (`Heap::set_shared_roots`).
    pub(crate) shared_roots: Option<SendRoots>,
    /// A pause is in force (every mutator stopped by `stop_world`).
    pub(crate) stopped: bool,
    _model: PhantomData<M>,
}

// SAFETY: the collector state moves between threads only inside the heap's mutex. The fields
// that are not Send by themselves are the step-mode compactor (used only by the thread holding
// the lock) and the shared roots' raw pointer, whose users follow `Heap::set_shared_roots`'s
// rules.
unsafe impl<M: ObjectModel> Send for Collector<M> {}

impl<M: ObjectModel> Collector<M> {
    pub(crate) fn new(
        hs: Arc<HeapShared>,
        stats: GcStats,
        conc: Option<Concurrent>,
        min_trigger: usize,
    ) -> Self {
        let base = hs.base();
        let created_ns = hs.created_ns;
        Collector {
            hs,
            next_trigger: min_trigger,
            stress_count: 0,
            mark_stack: Vec::new(),
            stats,
            conc,
            step_mode: false,
            step: None,
            step_scratch: None,
            pause_origin: None,
            marking: false,
            black_alloc: false,
            black_begin: base,
            marking_cycle: None,
            limit: LimitPolicy::new(created_ns),
            threads: Vec::new(),
            shared_roots: None,
            stopped: false,
            _model: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn base(&self) -> Address {
        self.hs.base()
    }

    #[inline]
    pub(crate) fn top(&self) -> Address {
        self.hs.top()
    }

    pub(crate) fn set_top(&self, top: Address) {
        self.hs.set_top(top);
    }

    pub(crate) fn used_bytes(&self) -> usize {
        self.hs.used_bytes()
    }

    /// A new mutator for the calling thread: its flags are the cycle's (black allocation and
    /// the barrier on while marking runs), its TLAB empty.
    pub(crate) fn attach(&mut self, heap: Arc<Heap<M>>) -> Mutator<M> {
        let slot: Arc<Slot> = Arc::new(Slot::new());
        self.threads.push(slot.clone());
        self.hs.safepoints.add(slot.clone());
        let top = self.top();
        let local = MutatorLocal {
            tlab_cursor: top,
            tlab_limit: top,
            marking: self.marking,
            black_alloc: self.black_alloc,
            black_begin: self.black_begin,
            satb: Vec::new(),
        };
        Mutator::new(heap, slot, local)
    }

    /// The mutator of `slot` leaves (it is stopped and published): its TLAB is retired, its
    /// barrier buffer goes to the markers, and it leaves the thread list.
    pub(crate) fn detach(&mut self, slot: &Arc<Slot>) {
        // SAFETY: the owner is stopped in its own detach with the slot published (slot rules),
        // and we hold the collector lock.
        let local = unsafe { &mut *slot.published().local };
        self.retire_local(local);
        let satb = std::mem::take(&mut local.satb);
        self.hand_to_markers(satb);
        self.threads.retain(|s| !Arc::ptr_eq(s, slot));
        let word: Arc<dyn crate::safepoint::StateWord> = slot.clone();
        self.hs.safepoints.remove(&word);
    }

    /// Objects a mutator's barrier shaded go to the markers' shared queue.
    pub(crate) fn hand_to_markers(&self, objects: Vec<Address>) {
        if let Some(c) = self.conc.as_ref() {
            for a in objects {
                c.sh.mark.queue.push(a);
            }
        }
    }

    /// The allocation slow path of the mutator of `me` (stopped and published: its TLAB is
    /// reached through the slot): collects when the heap has grown past its trigger (or stress
    /// mode says so), then gives it a TLAB with room for `bytes`. The object itself is bumped
    /// from that TLAB by the mutator once it runs again: until then it is free space, which a
    /// pause in between retires as a filler (an object handed out here would be a hole
    /// without a header in the next pause's heap). Fails when the heap limit leaves no room
    /// even after collecting (`limit.rs` says when).
    pub(crate) fn alloc_slow(&mut self, me: &Slot, bytes: usize) -> Result<(), OutOfMemory> {
        debug_assert!(bytes >= WORD && bytes.is_multiple_of(WORD));
        let t0 = monotonic_ns();
        let result = self.alloc_slow_inner(me, bytes);
        // Everything here but the carve is the collector's: its time counts against the
        // program for the overhead rule.
        self.limit.note_wait(monotonic_ns().saturating_sub(t0));
        result
    }

    fn alloc_slow_inner(&mut self, me: &Slot, bytes: usize) -> Result<(), OutOfMemory> {
        self.serve_requests();
        if let Some(n) = self.hs.config.stress_every {
            self.stress_count += 1;
            if self.stress_count >= n {
                self.stress_count = 0;
                if self.conc.is_some() {
                    // Concurrent stress starts a cycle and lets its marking overlap the
                    // program; the next stress point finds it marking and lets it run.
                    self.stress_cycle();
                } else {
                    self.collect();
                }
            }
        }
        // SAFETY: `me` is the caller's slot, stopped and published (slot rules); nothing else
        // holds its local state while we hold the lock and no pause is in force.
        if unsafe { Self::local_of(me) }.has_room(bytes) {
            return Ok(());
        }
        let want = bytes.max(TLAB_BYTES);
        let used = self.used_bytes();
        if used.saturating_add(want) > self.usable_bytes() {
            // Collect until a TLAB's worth beyond the request fits, or fail.
            self.collect_at_limit(bytes)?;
        } else if used + want > self.next_trigger {
            if self.conc.is_some() {
                // Marking overlaps the program, which allocates black meanwhile.
                self.start_cycle();
            } else {
                self.collect();
            }
        }
        // SAFETY: as above.
        let local = unsafe { Self::local_of(me) };
        self.carve(local, bytes).ok_or(OutOfMemory)
    }

    /// The local state of a stopped, published mutator.
    ///
    /// # Safety
    /// 1. `slot`'s owner is stopped with its slot published, and the caller holds the
    ///    collector lock; no other reference to its local state is live.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn local_of(slot: &Slot) -> &mut MutatorLocal {
        // SAFETY: rule 1 (slot rules 1-2: the pointer is valid and unused by its owner).
        unsafe { &mut *slot.published().local }
    }

    /// Serves the requests any mutator may serve: reap a finished cycle, take the next pause
    /// the GC thread asked for, run a collection another thread asked for.
    pub(crate) fn serve_requests(&mut self) {
        let sp = self.hs.safepoints.clone();
        if sp.reap.swap(false, Ordering::AcqRel) {
            self.reap_if_finished();
        }
        self.reap_if_finished();
        if sp.advance.swap(false, Ordering::SeqCst) {
            self.advance_cycle();
        }
        if let Some(at) = sp.take_collection_request() {
            self.pause_origin = Some(at);
            self.collect();
        }
        self.sync_concurrent_stats();
    }

    /// Takes a new TLAB for `local` from the shared top, with room for `bytes` (for a large
    /// object, exactly its size).
    fn carve(&mut self, local: &mut MutatorLocal, bytes: usize) -> Option<()> {
        self.retire_local(local);
        let base = self.base();
        let max_end = base.add(self.usable_bytes());
        let want = if bytes >= TLAB_BYTES / 2 {
            bytes
        } else {
            TLAB_BYTES
        };
        let start = self.top();
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
        self.set_top(Address(end));
        self.stats.note_heap_bytes(end - base.as_usize());
        local.tlab_cursor = start;
        local.tlab_limit = Address(end);
        if self.hs.config.stress_every.is_some() {
            // Every allocation takes the slow path so that stress counting sees it: room for
            // this one object, and the tail goes back (we hold the lock: nobody carved after
            // us).
            local.tlab_limit = start.add(bytes);
            self.set_top(local.tlab_limit);
        }
        Some(())
    }

    /// Turns a TLAB's unused tail into a filler object so the heap stays parseable.
    pub(crate) fn retire_local(&self, local: &mut MutatorLocal) {
        let (cur, lim) = (local.tlab_cursor, local.tlab_limit);
        if lim > cur {
            // SAFETY: [cur, lim) is the unused part of a TLAB this heap handed out: allocated,
            // handed to nobody, and its owner is stopped (or is the caller).
            unsafe { M::write_filler(cur, lim.offset_from(cur)) };
        }
        local.tlab_cursor = cur;
        local.tlab_limit = cur;
    }

    /// Runs a full collection now (every mutator is stopped for its pauses).
    pub(crate) fn collect(&mut self) {
        if self.conc.is_some() {
            self.collect_concurrent();
        } else {
            self.collect_stw();
        }
    }

    /// The statistics so far, with the concurrent counters as they are right now.
    pub(crate) fn live_stats(&self) -> GcStats {
        let mut s = self.stats.clone();
        if let Some(c) = self.conc.as_ref() {
            crate::collector::concurrent::cycle::fill_stats(&c.sh, &mut s);
        }
        s
    }

    /// Ends the heap's life for statistics: abandons a cycle being marked and waits for a
    /// running compaction.
    pub(crate) fn finish(&mut self) {
        self.cancel_marking();
        self.finish_running_cycle(false);
        self.sync_concurrent_stats();
    }
}

impl<M: ObjectModel> Drop for Collector<M> {
    fn drop(&mut self) {
        // A running cycle must finish (or, while marking, be cancelled) before the metadata
        // and reservations it uses go away. No mutator is attached any more (each holds the
        // heap alive).
        self.cancel_marking();
        self.finish_running_cycle(false);
        self.conc = None;
    }
}
