//! The process-wide table of heap ranges that the SIGBUS handler consults (design note §4.3): a
//! fixed-size array of slots in static memory, lock-free, never freed, so that a signal handler
//! can read it at any moment. Several heaps may live in one process (cargo test runs many in
//! parallel); each concurrent heap owns one slot for its lifetime.
//!
//! Each slot also carries the two in-flight counters of ART's termination protocol (design
//! note §2.7): a fault handler enters a heap's cycle by incrementing a counter of the heap's
//! slot — static memory, safe to touch even for a heap that is being dropped — and only if
//! that counter is open may it look at the heap's shared state.
//!
//! A slot holds that state as an opaque pointer (the registry never looks at it), under rules
//! its users cite as "registry rule N":
//! 1. Whoever claims a slot passes a pointer that stays valid until it releases the slot, and
//!    until then keeps both counters closed whenever the pointee is not ready to be read.
//! 2. A reader dereferences [`Slot::shared`] only between a successful [`Slot::enter`] and its
//!    [`Slot::leave`], and only as the type the claimer stored (the concurrent collector's
//!    `Shared`: it is the only claimer).

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// How many concurrent heaps may exist at once in one process.
pub const SLOTS: usize = 64;

/// The "closed" bit of an in-flight counter; the low bits count handlers inside.
pub const DONE: u64 = 1 << 63;

/// Which counter a fault handler entered (see [`Slot::enter`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Counter 0: compaction is running; any missing page may be resolved.
    Compacting,
    /// Counter 1: compaction is done but the range is still registered; only fresh pages can
    /// still be missing.
    Finishing,
}

/// One heap's entry.
pub struct Slot {
    used: AtomicBool,
    start: AtomicUsize,
    end: AtomicUsize,
    /// The heap's shared state, opaque here (module rules).
    shared: AtomicPtr<()>,
    counters: [AtomicU64; 2],
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            used: AtomicBool::new(false),
            start: AtomicUsize::new(usize::MAX),
            end: AtomicUsize::new(0),
            shared: AtomicPtr::new(std::ptr::null_mut()),
            counters: [AtomicU64::new(DONE), AtomicU64::new(DONE)],
        }
    }

    /// True if `addr` lies in this slot's heap range. Async-signal-safe.
    #[inline]
    pub fn contains(&self, addr: usize) -> bool {
        addr >= self.start.load(Ordering::Acquire) && addr < self.end.load(Ordering::Acquire)
    }

    /// Enters the current cycle of this slot's heap: increments counter 0, or if it is closed
    /// counter 1; `None` if both are closed (no cycle runs: the faulting access just retries).
    /// A `Some` must be paired with [`Slot::leave`]. Async-signal-safe.
    #[inline]
    pub fn enter(&self) -> Option<Phase> {
        for (i, phase) in [(0, Phase::Compacting), (1, Phase::Finishing)] {
            let old = self.counters[i].fetch_add(1, Ordering::AcqRel);
            if old & DONE == 0 {
                return Some(phase);
            }
            self.counters[i].fetch_sub(1, Ordering::Release);
        }
        None
    }

    /// Leaves the counter entered by [`Slot::enter`]. Async-signal-safe.
    #[inline]
    pub fn leave(&self, phase: Phase) {
        let i = match phase {
            Phase::Compacting => 0,
            Phase::Finishing => 1,
        };
        self.counters[i].fetch_sub(1, Ordering::Release);
    }

    /// The heap's shared state, as the claimer passed it: readable under registry rule 2 only
    /// (the heap publishes it before opening a counter and keeps it alive until both are
    /// drained).
    #[inline]
    pub fn shared(&self) -> *const () {
        self.shared.load(Ordering::Acquire)
    }

    /// Opens both counters for a new cycle (the shared state must be ready). Clearing only
    /// the closed bit keeps the count of stale handlers that are just passing through exact.
    pub fn open(&self) {
        self.counters[1].fetch_and(!DONE, Ordering::AcqRel);
        self.counters[0].fetch_and(!DONE, Ordering::AcqRel);
    }

    /// Closes counter `i` and waits until no handler is inside it.
    pub fn close_and_drain(&self, i: usize) {
        self.counters[i].fetch_or(DONE, Ordering::AcqRel);
        let mut spins = 0u32;
        while self.counters[i].load(Ordering::Acquire) & !DONE != 0 {
            spins += 1;
            if spins < 100 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Handlers currently inside counter `i` (tests).
    pub fn inside(&self, i: usize) -> u64 {
        self.counters[i].load(Ordering::Acquire) & !DONE
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];

/// Claims a free slot for the heap range `[start, end)` whose shared state is `shared`.
/// `None` if every slot is taken.
///
/// # Safety
/// 1. Registry rule 1 holds for `shared` (valid until [`release`], counters closed while it is
///    not ready).
pub unsafe fn claim(start: usize, end: usize, shared: *const ()) -> Option<&'static Slot> {
    for slot in &TABLE {
        if slot
            .used
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            // An empty range (start past end) at every moment until both are set.
            slot.shared.store(shared.cast_mut(), Ordering::Release);
            slot.start.store(start, Ordering::Release);
            slot.end.store(end, Ordering::Release);
            return Some(slot);
        }
    }
    None
}

/// Gives a slot back. Both counters must be closed (no cycle running).
pub fn release(slot: &'static Slot) {
    slot.close_and_drain(0);
    slot.close_and_drain(1);
    slot.end.store(0, Ordering::Release);
    slot.start.store(usize::MAX, Ordering::Release);
    slot.shared.store(std::ptr::null_mut(), Ordering::Release);
    slot.used.store(false, Ordering::Release);
}

/// The slot whose heap range holds `addr`, if any. Async-signal-safe: plain atomic loads.
#[inline]
pub fn find(addr: usize) -> Option<&'static Slot> {
    TABLE.iter().find(|s| s.contains(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_open_close_and_count() {
        let s = Slot::new();
        assert_eq!(s.enter(), None, "closed at rest");
        s.open();
        assert_eq!(s.enter(), Some(Phase::Compacting));
        assert_eq!(s.inside(0), 1);
        s.leave(Phase::Compacting);
        s.close_and_drain(0);
        assert_eq!(s.enter(), Some(Phase::Finishing));
        s.leave(Phase::Finishing);
        s.close_and_drain(1);
        assert_eq!(s.enter(), None);
        assert_eq!((s.inside(0), s.inside(1)), (0, 0));
    }
}
