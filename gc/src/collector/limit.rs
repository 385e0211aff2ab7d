//! The heap limit (`HeapConfig::max_bytes`) and when an allocation fails instead of collecting
//! again. The limit is a promise: the allocated heap never grows past it. When an allocation
//! would pass it, the heap collects — and gives up with [`OutOfMemory`] when either rule says
//! that more collecting will not help:
//!
//! 1. **No room after a full collection.** A full collection that leaves less room than the
//!    request plus one TLAB fails the request. (Without the TLAB's worth, a program whose live
//!    data only grows would get one more small object per collection: hundreds of full
//!    collections before the error.) In concurrent mode a cycle that was already marking when
//!    the limit was reached may keep the program's allocations of its marking time as floating
//!    garbage, so it is followed by one more cycle, started while the program waits, before
//!    the verdict.
//! 2. **Collecting most of the time, recovering little** (HotSpot's GC overhead limit, with our
//!    own figures): [`OVERHEAD_CYCLES`] collections in a row at the limit, each leaving less
//!    than [`OVERHEAD_FREE_PERCENT`]% of the limit free, while the program spent at least
//!    [`OVERHEAD_TIME_PERCENT`]% of the wall time since the collection before them waiting for
//!    the collector (pauses and allocation stalls). Such a program would run on at a tenth of
//!    its speed or less, collecting back to back: out of memory is the honest answer.
//!
//! After an out-of-memory answer the heap is intact and usable. Normal allocation stops a
//! reserve (one TLAB, at most 1/16 of the limit) below the limit; after rule 1 fails a request,
//! the room the collection left and the reserve are handed out without collecting again, so
//! that the program can unwind and an embedder can run the code that drops data. An allocation
//! that does not fit then collects again; rule 2 starts counting afresh after its verdict.

use crate::binding::ObjectModel;
use crate::collector::state::Collector;
use crate::heap::{OutOfMemory, TLAB_BYTES};
use crate::os::clock::monotonic_ns;

/// Rule 2: collections in a row at the limit that recover little.
pub const OVERHEAD_CYCLES: u32 = 5;
/// Rule 2: a collection "recovers little" when it leaves less than this share of the limit free.
pub const OVERHEAD_FREE_PERCENT: usize = 10;
/// Rule 2: the share of wall time spent waiting for the collector over those collections.
pub const OVERHEAD_TIME_PERCENT: u64 = 90;

/// Rule 2's bookkeeping: the program's time in the collector and the current run of
/// collections at the limit that recovered little.
#[derive(Debug)]
pub(crate) struct LimitPolicy {
    /// Wall time the program has spent in the collector's slow paths (collections, pauses,
    /// allocation stalls), ns.
    waited_ns: u64,
    /// Collections at the limit in a row that left less than the free threshold.
    streak: u32,
    /// `(time, waited_ns)` at the start of the run and at the end of each collection in it,
    /// a ring indexed by `streak`: the window of the last [`OVERHEAD_CYCLES`] collections
    /// starts at `marks[(streak - OVERHEAD_CYCLES) % len]`.
    marks: [(u64, u64); OVERHEAD_CYCLES as usize + 1],
    /// Rule 1 failed a request since the last collection that made room: what is left is
    /// handed out without collecting.
    pub(crate) exhausted: bool,
}

impl LimitPolicy {
    pub(crate) fn new(now: u64) -> Self {
        let mut p = LimitPolicy {
            waited_ns: 0,
            streak: 0,
            marks: [(0, 0); OVERHEAD_CYCLES as usize + 1],
            exhausted: false,
        };
        p.restart(now);
        p
    }

    /// The program spent `ns` waiting for the collector.
    pub(crate) fn note_wait(&mut self, ns: u64) {
        self.waited_ns += ns;
    }

    /// A collection at the limit ended at `now` leaving `free` of `limit` bytes. True when
    /// rule 2 says to give up.
    pub(crate) fn collected_at_limit(&mut self, now: u64, free: usize, limit: usize) -> bool {
        if free.saturating_mul(100) >= limit.saturating_mul(OVERHEAD_FREE_PERCENT) {
            self.restart(now);
            return false;
        }
        self.streak += 1;
        let len = self.marks.len() as u32;
        self.marks[(self.streak % len) as usize] = (now, self.waited_ns);
        if self.streak < OVERHEAD_CYCLES {
            return false;
        }
        let (t0, w0) = self.marks[((self.streak - OVERHEAD_CYCLES) % len) as usize];
        let wall = now.saturating_sub(t0).max(1);
        let waited = self.waited_ns.saturating_sub(w0);
        if waited.saturating_mul(100) >= wall.saturating_mul(OVERHEAD_TIME_PERCENT) {
            self.restart(now);
            return true;
        }
        false
    }

    /// Starts a new run: nothing counted so far counts against the program.
    pub(crate) fn restart(&mut self, now: u64) {
        self.streak = 0;
        self.marks[0] = (now, self.waited_ns);
    }
}

impl<M: ObjectModel> Collector<M> {
    /// Bytes the allocated heap may span: the configured limit, within the reservation.
    pub(crate) fn limit_bytes(&self) -> usize {
        self.hs.config.max_bytes.min(self.hs.space.len())
    }

    /// The reserve kept below the limit for the code that runs after an out-of-memory answer:
    /// one TLAB, at most a sixteenth of the limit.
    fn reserve_bytes(&self) -> usize {
        TLAB_BYTES.min(self.limit_bytes() / 16)
    }

    /// Bytes the allocated heap may span now: below the reserve, unless rule 1 has failed a
    /// request since the last collection that made room (then the reserve is handed out).
    pub(crate) fn usable_bytes(&self) -> usize {
        if self.limit.exhausted {
            self.limit_bytes()
        } else {
            self.limit_bytes() - self.reserve_bytes()
        }
    }

    /// The allocation of `bytes` would pass the heap limit (a TLAB's worth included): collect,
    /// then either there is room for `bytes` plus a TLAB, or the allocation fails (module
    /// comment, rules 1 and 2).
    pub(crate) fn collect_at_limit(&mut self, bytes: usize) -> Result<(), OutOfMemory> {
        let r = self.make_room(bytes);
        if r.is_err() {
            self.stats.out_of_memory += 1;
        }
        r
    }

    fn make_room(&mut self, bytes: usize) -> Result<(), OutOfMemory> {
        let limit = self.limit_bytes();
        // Normal allocation stays below the reserve.
        let usable = limit - self.reserve_bytes();
        let need = bytes.saturating_add(TLAB_BYTES);
        if need > usable {
            // No collection can make room for it.
            return Err(OutOfMemory);
        }
        if self.limit.exhausted && limit.saturating_sub(self.used_bytes()) >= bytes {
            // The room kept back after an out-of-memory answer, the reserve included.
            return Ok(());
        }
        loop {
            // A full collection: one whose cycle began while the program was waiting here,
            // so that it holds no floating garbage of the program's.
            self.stats.limit_collections += 1;
            let full = if self.conc.is_some() {
                // A running compaction's wait is its own allocation stall.
                self.finish_running_cycle(true);
                let full = !self.marking_in_progress();
                if full {
                    self.start_cycle();
                }
                self.drive_to_flip(true);
                full
            } else {
                self.collect();
                true
            };
            let free = usable.saturating_sub(self.used_bytes());
            if free < need {
                if full {
                    self.limit.exhausted = true;
                    return Err(OutOfMemory);
                }
                continue;
            }
            self.limit.exhausted = false;
            if self.limit.collected_at_limit(monotonic_ns(), free, limit) {
                return Err(OutOfMemory);
            }
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: usize = 1 << 20;

    #[test]
    fn a_collection_that_recovers_enough_restarts_the_count() {
        let mut p = LimitPolicy::new(0);
        for i in 1..=20u64 {
            // Waiting the whole time, but 10% of the limit free each time.
            p.note_wait(1_000);
            assert!(!p.collected_at_limit(i * 1_000, 10 * MB, 100 * MB));
        }
    }

    #[test]
    fn gives_up_after_the_streak_when_waiting_most_of_the_time() {
        let mut p = LimitPolicy::new(0);
        let mut verdicts = Vec::new();
        for i in 1..=OVERHEAD_CYCLES as u64 {
            // 95 of every 100 ns spent in the collector, 1% free.
            p.note_wait(95);
            verdicts.push(p.collected_at_limit(i * 100, MB, 100 * MB));
        }
        assert_eq!(verdicts.iter().filter(|&&v| v).count(), 1);
        assert!(verdicts[OVERHEAD_CYCLES as usize - 1]);
        // The verdict starts a new window: the next collection alone does not fail.
        p.note_wait(95);
        assert!(!p.collected_at_limit(600, MB, 100 * MB));
    }

    #[test]
    fn the_window_slides_over_the_last_collections() {
        let mut p = LimitPolicy::new(0);
        let mut t = 0;
        // A long run of slow-but-working collections, then thrashing: the verdict comes
        // within OVERHEAD_CYCLES collections of the change, not diluted by the long run.
        for _ in 0..100 {
            t += 100;
            p.note_wait(50);
            assert!(!p.collected_at_limit(t, MB, 100 * MB));
        }
        let mut failed_after = None;
        for i in 1..=OVERHEAD_CYCLES {
            t += 100;
            p.note_wait(99);
            if p.collected_at_limit(t, MB, 100 * MB) {
                failed_after = Some(i);
                break;
            }
        }
        assert_eq!(failed_after, Some(OVERHEAD_CYCLES));
    }

    #[test]
    fn little_recovered_but_the_program_mostly_runs_is_not_thrashing() {
        let mut p = LimitPolicy::new(0);
        for i in 1..=20u64 {
            // Half the time in the collector: slow, but the program gets work done.
            p.note_wait(50);
            assert!(!p.collected_at_limit(i * 100, MB, 100 * MB));
        }
    }
}
