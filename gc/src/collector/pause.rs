//! Pauses with several mutators (threads.md §2): stop every attached mutator, lend the
//! collector their roots and thread-local state, and resume them. A pause's work sees all
//! roots as one [`AllRoots`]: every mutator's own, then the shared roots.

use super::state::Collector;
use crate::address::Address;
use crate::binding::{ObjectModel, RootSet};
use crate::mutator::MutatorLocal;
use crate::os::clock::monotonic_ns;
use crate::safepoint::RootsPtr;

/// A root set pointer that may sit in the collector state (see `Heap::set_shared_roots`).
#[derive(Copy, Clone)]
pub(crate) struct SendRoots(pub RootsPtr);

// SAFETY: the pointer is dereferenced only inside pauses, by the thread holding the collector
// lock, under the rules of `Heap::set_shared_roots`.
unsafe impl Send for SendRoots {}

/// Every root of every stopped mutator, then the shared roots, as one root set. Holds raw
/// pointers lent by stopped threads: valid until the pause ends.
pub(crate) struct AllRoots {
    sets: Vec<RootsPtr>,
}

impl RootSet for AllRoots {
    fn visit_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
        for &r in &self.sets {
            // SAFETY: lent by a stopped thread (slot rules 1-2) or registered as shared roots
            // (set_shared_roots rules 1-2); the pause is in force while this set exists.
            unsafe { (*r).visit_roots(v) };
        }
    }

    fn visit_weak_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
        for &r in &self.sets {
            // SAFETY: as in visit_roots.
            unsafe { (*r).visit_weak_roots(v) };
        }
    }

    fn sweep_weak(&mut self, is_live: &dyn Fn(Address) -> bool) {
        for &r in &self.sets {
            // SAFETY: as in visit_roots.
            unsafe { (*r).sweep_weak(is_live) };
        }
    }
}

impl<M: ObjectModel> Collector<M> {
    /// Stops every attached mutator (the caller's own slot is already stopped: it holds the
    /// lock from a stopped state). Returns when the stop was asked for and when all were
    /// stopped (the same time if no mutator had to be waited for).
    pub(crate) fn stop_world(&mut self) -> (u64, u64) {
        debug_assert!(!self.stopped, "nested pause");
        let requested = monotonic_ns();
        let at = self
            .hs
            .safepoints
            .stop_all(requested, None)
            .expect("a stop without deadline ends stopped");
        self.stopped = true;
        (requested, at)
    }

    /// Resumes the mutators stopped by [`Collector::stop_world`].
    pub(crate) fn resume_world(&mut self) {
        debug_assert!(self.stopped);
        self.stopped = false;
        self.hs.safepoints.resume_all();
    }

    /// The roots of the pause in force.
    pub(crate) fn all_roots(&self) -> AllRoots {
        debug_assert!(self.stopped);
        let mut sets = Vec::with_capacity(self.threads.len() + 1);
        for s in &self.threads {
            // SAFETY: a pause is in force: every mutator is stopped with its slot published.
            if let Some(r) = unsafe { s.published() }.roots {
                sets.push(r);
            }
        }
        if let Some(SendRoots(r)) = self.shared_roots {
            sets.push(r);
        }
        AllRoots { sets }
    }

    /// Calls `f` on every stopped mutator's local state.
    pub(crate) fn for_each_local(&self, mut f: impl FnMut(&mut MutatorLocal)) {
        debug_assert!(self.stopped);
        for s in &self.threads {
            // SAFETY: a pause is in force (every owner stopped and published, slot rules),
            // and we hold the collector lock: one reference at a time.
            f(unsafe { Self::local_of(s) });
        }
    }

    /// Retires every mutator's TLAB (in a pause: the heap must be parseable).
    pub(crate) fn retire_tlabs(&self) {
        self.for_each_local(|l| self.retire_local(l));
    }

    /// Takes every mutator's barrier buffer.
    pub(crate) fn take_satb(&self) -> Vec<Address> {
        let mut all = Vec::new();
        self.for_each_local(|l| all.append(&mut l.satb));
        all
    }

    /// Copies the cycle's flags (barrier on, black allocation, black boundary) into every
    /// mutator, so their fast paths test a field of their own.
    pub(crate) fn sync_thread_flags(&self) {
        let (marking, black_alloc, black_begin) =
            (self.marking, self.black_alloc, self.black_begin);
        self.for_each_local(|l| {
            l.marking = marking;
            l.black_alloc = black_alloc;
            l.black_begin = black_begin;
        });
    }
}
