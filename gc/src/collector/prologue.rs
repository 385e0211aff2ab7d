//! The steps every cycle shares, whatever compacts afterwards: retire the TLAB, mark, forget
//! dead weak references, plan, rewrite the roots, and move the heap's pages to from-space. The
//! stop-the-world cycle (`stw.rs`) then compacts inside the pause; the concurrent one
//! (`concurrent/cycle.rs`) registers the emptied range and lets the GC thread compact.

use super::forward::Forwarding;
use super::mark::{mark, MarkResult};
use super::plan::{plan, Plan};
use super::verify::{self, Fingerprint};
use crate::address::Address;
use crate::binding::{ObjectModel, RootSet};
use crate::collector::state::Collector;
use crate::os::clock::monotonic_ns;
use crate::os::remap::move_all_pages;

/// What marking and planning found.
pub(crate) struct Marked {
    /// The number of this cycle (1 for the first).
    pub cycle: u64,
    /// Bytes allocated before the cycle: `[base, base + used)` is the pre-compaction heap.
    pub used: usize,
    pub mark: MarkResult,
    pub plan: Plan,
    /// With `--gc-verify`: the reachable graph's fingerprint before anything moved.
    pub fingerprint: Option<Fingerprint>,
    /// Monotonic time when marking (and the weak sweep) ended, planning excluded.
    pub marked_at_ns: u64,
}

/// Rewrites a root slot to its target's post-compaction address.
#[inline]
pub(crate) fn update_slot<M: ObjectModel>(fwd: &Forwarding<'_>, slot: &mut u64, weak: bool) {
    let Some(t) = M::decode(*slot) else { return };
    if !fwd.moves(t) {
        return;
    }
    if weak && !fwd.is_marked(t) {
        debug_assert!(false, "weak root to dead object {t} survived sweep_weak");
        return;
    }
    *slot = M::encode(*slot, fwd.new_address(t));
}

impl<M: ObjectModel> Collector<M> {
    /// Retires the TLAB, marks from `roots`, lets the binding sweep its weak references and
    /// plans the compaction. The caller is the only mutator and is stopped by definition.
    pub(crate) fn mark_and_plan(&mut self, roots: &mut dyn RootSet) -> Marked {
        self.retire_tlabs();
        let base = self.base();
        let old_top = self.top();
        let used = old_top.offset_from(base);
        self.stats.note_heap_bytes(used);
        let cycle = self.stats.cycles + 1;
        let parsed = self.hs.config.verifies(cycle).then(|| {
            // SAFETY: the heap [base, old_top) is parseable (TLAB retired), unchanging, and
            // fully installed (no cycle is running).
            unsafe { verify::before_marking_or_abort::<M>(cycle, base, old_top, roots) }
        });
        // SAFETY: the binding contract (ObjectModel/RootSet) makes every reference decode to an
        // object start; the side tables were reset at the end of the last cycle; the mutator is
        // stopped (it called us).
        let mark = unsafe { mark::<M>(&self.hs.meta, base, old_top, roots, &mut self.mark_stack) };
        {
            let starts = self.hs.meta.starts.view();
            let in_heap = |a: Address| a >= base && a < old_top;
            roots.sweep_weak(&|a| !in_heap(a) || (a.is_aligned(8) && starts.test(a)));
        }
        let marked_at_ns = monotonic_ns();
        // Taken after the weak sweep: the sweep may legitimately rewrite strong words (a
        // table's tombstones); the fingerprint checks that compaction preserves the graph.
        let fingerprint = parsed.map(|starts| {
            // SAFETY: `starts` parsed this very heap, unchanged since (marking writes only side
            // tables; the weak sweep rewrites slot words, not layouts).
            unsafe { verify::fingerprint_or_abort::<M>(cycle, "before", &starts, roots) }
        });
        let plan = plan(&self.hs.meta, base, old_top);
        Marked {
            cycle,
            used,
            mark,
            plan,
            fingerprint,
            marked_at_ns,
        }
    }

    /// Rewrites every root and weak root to its target's post-compaction address.
    pub(crate) fn update_roots(&self, roots: &mut dyn RootSet, old_top: Address) {
        self.update_roots_black(roots, old_top, old_top, old_top);
    }

    /// As [`Heap::update_roots`] for a cycle whose black block `[black_begin, old_top)` slides
    /// down to `black_dest`.
    pub(crate) fn update_roots_black(
        &self,
        roots: &mut dyn RootSet,
        old_top: Address,
        black_begin: Address,
        black_dest: Address,
    ) {
        let fwd = Forwarding::new(&self.hs.meta, self.base(), old_top)
            .with_black(black_begin, black_dest);
        roots.visit_roots(&mut |slot| update_slot::<M>(&fwd, slot, false));
        roots.visit_weak_roots(&mut |slot| update_slot::<M>(&fwd, slot, true));
    }

    /// Moves every page of the heap to from-space with one `mremap(MREMAP_DONTUNMAP)`: the
    /// heap range keeps its mapping and is left empty. Aborts if the kernel refuses.
    pub(crate) fn move_heap_to_from_space(&self, used: usize) {
        if used == 0 {
            return;
        }
        // SAFETY: two distinct reservations of equal size owned by this heap; the mutator is
        // stopped, nothing holds a Rust reference into either range, and the heap is not
        // registered with userfaultfd (the last cycle unregistered it), so the move is a
        // page-table move.
        if let Err(e) = unsafe { move_all_pages(&self.hs.space, &self.hs.from_space) } {
            crate::fatal::fatal!(
                "mremap(MREMAP_DONTUNMAP) of the heap into from-space failed: {e}"
            );
        }
    }

    /// The next cycle starts when the heap reaches `live * growth_factor`, within the floor and
    /// the limit.
    pub(crate) fn set_next_trigger(&mut self, live_bytes: usize) {
        self.next_trigger = ((live_bytes as f64 * self.hs.config.growth_factor) as usize)
            .max(self.hs.config.min_trigger_bytes)
            .min(self.hs.config.max_bytes);
    }
}
