//! The stop-the-world cycle (design note §2.8) behind `Heap::collect`: mark, sweep weak
//! references, plan, update roots, move every heap page to from-space with one `mremap`, build
//! each to-space page with [`compact_page`] directly into the (now empty) heap page, release
//! from-space and reset the side tables.

use super::compact_page::{compact_page, CompactSource};
use super::prologue::Marked;
use super::verify;
use crate::address::PAGE;
use crate::binding::ObjectModel;
use crate::collector::state::Collector;
use crate::metadata::pages::PageState;
use crate::os::clock::{monotonic_ns, thread_cpu_ns};
use crate::stats::{CycleRecord, Pause};

/// Phase times of one cycle, for the log line.
#[derive(Default, Debug, Clone, Copy)]
pub struct CycleTimes {
    pub mark_ns: u64,
    pub plan_ns: u64,
    /// The mremap into from-space and populating the destination pages.
    pub flip_ns: u64,
    pub compact_ns: u64,
}

impl<M: ObjectModel> Collector<M> {
    /// One whole stop-the-world cycle. The caller (the only mutator) is stopped by definition.
    pub(crate) fn collect_stw(&mut self) {
        let (requested, entry) = self.stop_world();
        let roots = &mut self.all_roots();
        // A requested collection's pause starts at the request (design note §4.5).
        let start = self.pause_origin.take().unwrap_or(requested);
        let cpu_start = thread_cpu_ns();

        // 1. Mark, sweep weak references, plan.
        let Marked {
            cycle,
            used,
            mark: marked,
            plan,
            fingerprint,
            marked_at_ns: t_mark,
        } = self.mark_and_plan(roots);
        let t_planned = monotonic_ns();
        let base = self.base();

        // 2. Update every root and weak root to its new address.
        self.update_roots(roots, plan.old_top);
        let t_plan = monotonic_ns();

        // 3. Flip: the heap range keeps its mapping and loses its pages to from-space.
        self.move_heap_to_from_space(used);

        // 4. Compact every to-space page in place, in address order. The destination pages
        //    are populated in one call first: faulting them in one by one costs more than the
        //    copying.
        self.hs.space.populate(base, plan.to_pages * PAGE);
        let t_flip = monotonic_ns();
        let mut copied = 0usize;
        {
            let src = CompactSource::new(&self.hs.meta, &plan, base, self.hs.from_space.base());
            for p in 0..plan.to_pages {
                let claimed = src.pages.claim(p);
                debug_assert!(claimed);
                // SAFETY: the plan is complete (rule 1); from-space holds the old heap and is
                // not written (rule 2); marked objects are well-formed (rule 3, binding
                // contract); the destination is heap page `p`, page-aligned, mapped and empty
                // after the flip, distinct from from-space and metadata (rule 4).
                copied +=
                    unsafe { compact_page::<M, true>(&src, p, base.add(p * PAGE).as_mut_ptr()) };
                src.pages.publish(p, PageState::Mapped);
            }
        }
        debug_assert_eq!(copied, plan.live_bytes);
        let t_compact = monotonic_ns();

        // 5. Release from-space and the side tables; allocation resumes at the live end.
        self.hs
            .from_space
            .discard(self.hs.from_space.base(), used.next_multiple_of(PAGE));
        // SAFETY: every mutator is stopped and this cycle is done with the tables.
        unsafe { self.hs.meta.reset(used) };
        self.set_top(base.add(plan.live_bytes));
        if let Some(before) = fingerprint {
            // SAFETY: [base, top) is the compacted heap, parseable and unchanging.
            unsafe {
                verify::after_compaction_or_abort::<M>(cycle, base, self.top(), roots, before)
            };
        }
        self.set_next_trigger(plan.live_bytes);
        let live_end = self.top();
        self.for_each_local(|l| {
            l.tlab_cursor = live_end;
            l.tlab_limit = live_end;
        });
        // Published before the mutators run: one that looks at the count when it resumes
        // knows that a cycle ran over the roots it lent.
        self.hs.publish_cycle(cycle, plan.live_bytes as u64);
        self.resume_world();

        let end = monotonic_ns();
        let times = CycleTimes {
            mark_ns: t_mark - start,
            plan_ns: t_plan - t_mark,
            flip_ns: t_flip - t_plan,
            compact_ns: t_compact - t_flip,
        };
        let s = &mut self.stats;
        s.cycles = cycle;
        s.last_live_bytes = plan.live_bytes as u64;
        s.bytes_moved += plan.live_bytes as u64;
        s.pages_compacted_by_gc += plan.to_pages as u64;
        s.gc_cpu_ns += thread_cpu_ns().saturating_sub(cpu_start);
        let start_ns = start.saturating_sub(self.hs.created_ns);
        s.record_pause(
            cycle,
            Pause {
                kind: "stw",
                start_ns,
                ns: end - start,
                ttsp_ns: entry - start,
            },
        );
        s.record_cycle(CycleRecord {
            cycle,
            start_ns,
            mark_ns: t_planned - start,
            flip_ns: t_flip - t_planned,
            compaction_end_ns: Some(start_ns + (end - start)),
            live_bytes: plan.live_bytes as u64,
            bytes_moved: plan.live_bytes as u64,
            pages_by_gc: plan.to_pages as u64,
            pages_by_mutator: 0,
        });
        if self.hs.config.log {
            let line = log_line(
                cycle,
                start.saturating_sub(self.hs.created_ns),
                used,
                plan.live_bytes,
                marked.objects,
                end - start,
                times,
            );
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }
}

/// One line per cycle in the spirit of `GODEBUG=gctrace=1` (MB are MiB, as there).
fn log_line(
    cycle: u64,
    at_ns: u64,
    used: usize,
    live: usize,
    objects: usize,
    pause_ns: u64,
    t: CycleTimes,
) -> String {
    let mb = |b: usize| b as f64 / (1 << 20) as f64;
    let ms = |ns: u64| ns as f64 / 1e6;
    format!(
        "gc {cycle} @{:.3}s stw: {:.1} MB -> {:.1} MB, {objects} objects, moved {:.1} MB, pause \
         {:.2} ms (mark {:.2}, plan {:.2}, flip {:.2}, compact {:.2})",
        at_ns as f64 / 1e9,
        mb(used),
        mb(live),
        mb(live),
        ms(pause_ns),
        ms(t.mark_ns),
        ms(t.plan_ns),
        ms(t.flip_ns),
        ms(t.compact_ns),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_reads_like_gctrace() {
        let t = CycleTimes {
            mark_ns: 500_000,
            plan_ns: 100_000,
            flip_ns: 30_000,
            compact_ns: 600_000,
        };
        let l = log_line(3, 512_000_000, 12 << 20, 4 << 20, 77, 1_234_000, t);
        assert_eq!(
            l,
            "gc 3 @0.512s stw: 12.0 MB -> 4.0 MB, 77 objects, moved 4.0 MB, pause 1.23 ms \
             (mark 0.50, plan 0.10, flip 0.03, compact 0.60)"
        );
    }
}
