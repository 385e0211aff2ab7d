//! The mutator's side of concurrent marking (design note §2.1-§2.3): the initial pause (retire
//! the TLAB, put the black boundary on a page boundary, grey the roots, turn the barrier and
//! black allocation on), the remark pause (take the barrier buffer, finish marking within a
//! budget or hand the rest back, clear dead weak references), driving a cycle to its flip when
//! the program must wait for it (marking beside the GC thread meanwhile), cancelling one, the
//! write barrier itself, and pacing.
//!
//! A cycle's life: initial pause → GC thread marks (`Command::Mark`) → asks for the remark →
//! remark pause (again and again while the work left is more than a pause may do) → GC thread
//! plans (`Command::Plan`) → asks for the flip → flip pause (`cycle.rs`) → concurrent
//! compaction. Every pause runs on the mutator, at a safepoint, when the GC thread asks.

use super::marking::{drain, Budget, MarkParams, Tracer};
use super::shared::Command;
use crate::address::{Address, PAGE};
use crate::binding::{ObjectModel, RootSet};

use crate::collector::state::Collector;
use crate::collector::verify;
use crate::metadata::Metadata;
use crate::os::clock::{monotonic_ns, thread_cpu_ns};
use crate::stats::Pause;
use std::sync::atomic::Ordering;

/// The budget of one remark pause's marking work; past it the work goes back to the GC
/// thread and the pause ends. (At 150 µs the pause benchmark's remark work p99 grew from
/// 0.03 ms at 16 MB live to 0.17 ms at 1 GB: larger heaps leave whole white subtrees in the
/// barrier buffer, and the budget was the bound.)
const REMARK_BUDGET_NS: u64 = 60_000;

/// Remark pauses with a budget before one finishes the marking regardless.
const BUDGETED_REMARKS: u32 = 8;

/// `--gc-stress`: stress points a cycle's marking overlaps before the next one drives it to
/// its flip. (Over the conformance corpus, letting cycles finish only at the GC thread's pace
/// completed 221 cycles, 192 of the 246 programs none: short programs ended first.)
const STRESS_OVERLAP: u32 = 4;

/// A concurrent cycle between its initial pause and its flip.
pub struct MarkingCycle {
    /// The cycle's number.
    pub cycle: u64,
    /// Monotonic time the initial pause began.
    pub start_ns: u64,
    /// Remark pauses taken so far.
    pub remarks: u32,
    /// Marking is complete (the last remark pause ended at `remarked_ns`); planning or the
    /// flip is next.
    pub remarked: bool,
    pub remarked_ns: u64,
    /// `--gc-stress` points passed since the initial pause.
    pub stress_points: u32,
}

impl<M: ObjectModel> Collector<M> {
    /// Whether a concurrent cycle is between its initial pause and its flip.
    pub(crate) fn marking_in_progress(&self) -> bool {
        self.marking_cycle.is_some()
    }

    /// The initial pause of a concurrent cycle: waits for the previous cycle's compaction
    /// (an allocation stall if it was still running), retires the TLAB, puts the black
    /// boundary on the next page boundary, greys the roots, turns the barrier and black
    /// allocation on and hands marking to the GC thread.
    pub(crate) fn start_cycle(&mut self) {
        if self.marking_cycle.is_some() {
            return;
        }
        self.finish_running_cycle(true);
        let (requested, entry) = self.stop_world();
        let roots = &mut self.all_roots();
        let start = self.pause_origin.take().unwrap_or(requested);
        let cpu_start = thread_cpu_ns();
        self.retire_tlabs();
        let base = self.base();
        let top = self.top();
        let aligned = top.align_up(PAGE).min(self.hs.space.end());
        if aligned > top {
            // SAFETY: [top, aligned) is allocated-to-be heap memory of ours, mapped (no
            // compaction runs) and handed to nobody; it becomes one filler.
            unsafe { M::write_filler(top, aligned.offset_from(top)) };
            self.set_top(aligned);
            self.retire_tlabs();
        }
        let black_begin = self.top();
        let cycle = self.stats.cycles + 1;
        self.stats.note_heap_bytes(black_begin.offset_from(base));
        if self.hs.config.verifies(cycle) {
            // SAFETY: the heap [base, black_begin) is parseable (TLAB retired), unchanging
            // while we run, and fully installed (no compaction runs).
            unsafe { verify::before_marking_or_abort::<M>(cycle, base, black_begin, roots) };
        }
        let sh = self.conc.as_ref().expect("concurrent heap").sh.clone();
        let ms = &sh.mark;
        ms.abort.store(false, Ordering::SeqCst);
        ms.objects.store(0, Ordering::Relaxed);
        ms.bytes.store(0, Ordering::Relaxed);
        let mut tracer = Tracer::new(&self.hs.meta, base, black_begin);
        roots.visit_roots(&mut |slot| {
            // SAFETY: the binding contract: root words designate object starts or nothing.
            if let Some(a) = unsafe { tracer.shade::<M>(*slot) } {
                ms.queue.push(a);
            }
        });
        ms.objects.fetch_add(tracer.objects, Ordering::Relaxed);
        ms.bytes.fetch_add(tracer.bytes, Ordering::Relaxed);
        // SAFETY: the metadata is boxed (its address stays when the heap value moves), lives as
        // long as the heap, and is neither reset nor dropped before this cycle flips or is
        // cancelled (both wait for the GC thread to be idle): the 'static lifetime is never
        // observed to end.
        let meta: &'static Metadata = unsafe { &*(&*self.hs.meta as *const Metadata) };
        let params = MarkParams {
            meta,
            base,
            black_begin,
            threads: self.hs.config.gc_threads.max(1),
        };
        // SAFETY: no marking round or planning runs: the GC thread finished the last cycle.
        unsafe { ms.set_params(Some(params)) };
        self.black_begin = black_begin;
        self.marking = true;
        self.black_alloc = true;
        self.sync_thread_flags();
        self.marking_cycle = Some(MarkingCycle {
            cycle,
            start_ns: start,
            remarks: 0,
            remarked: false,
            remarked_ns: 0,
            stress_points: 0,
        });
        if !self.step_mode {
            sh.send_phase(Command::Mark);
        }
        // In step mode the test marks with `step_mark`; the remark finishes the rest.
        self.resume_world();
        let end = monotonic_ns();
        self.stats.record_pause(
            cycle,
            Pause {
                kind: "initial",
                start_ns: start.saturating_sub(self.hs.created_ns),
                ns: end - start,
                ttsp_ns: entry - start,
            },
        );
        self.stats.gc_cpu_ns += thread_cpu_ns().saturating_sub(cpu_start);
    }

    /// The GC thread asked for the cycle's next pause: the remark, or the flip.
    pub(crate) fn advance_cycle(&mut self) {
        let Some(mc) = self.marking_cycle.as_ref() else {
            return;
        };
        let sh = self.conc.as_ref().expect("concurrent heap").sh.clone();
        if sh.busy.load(Ordering::SeqCst) {
            return;
        }
        let requested = sh.safepoints.advance_at.load(Ordering::SeqCst);
        if mc.remarked {
            self.flip(requested);
        } else {
            let budget = mc.remarks < BUDGETED_REMARKS;
            self.remark(requested, budget);
        }
    }

    /// The remark pause: marks what the barrier buffer and the shared queue still hold; if
    /// that takes more than the budget, hands the rest back to the GC thread and ends the
    /// pause (the GC thread asks again). Otherwise marking is complete: the barrier goes off,
    /// dead weak references are cleared, and the GC thread plans.
    fn remark(&mut self, requested_at: u64, budget: bool) {
        let (_, entry) = self.stop_world();
        let roots = &mut self.all_roots();
        let start = requested_at.min(entry);
        let cpu_start = thread_cpu_ns();
        let sh = self.conc.as_ref().expect("concurrent heap").sh.clone();
        let base = self.base();
        let black_begin = self.black_begin;
        let stack = self.take_satb();
        let mut tracer = Tracer::new(&self.hs.meta, base, black_begin);
        let budget = if budget {
            Budget::Until(entry + REMARK_BUDGET_NS)
        } else {
            Budget::Unbounded
        };
        // SAFETY: the GC thread is idle (it asked for this pause, and no command is out), the
        // marking parameters are this cycle's, and the binding contract holds.
        let (done, _) = unsafe { drain::<M>(&sh.mark, &mut tracer, stack, budget) };
        sh.mark.objects.fetch_add(tracer.objects, Ordering::Relaxed);
        sh.mark.bytes.fetch_add(tracer.bytes, Ordering::Relaxed);
        let mc = self.marking_cycle.as_mut().expect("a cycle being marked");
        mc.remarks += 1;
        let cycle = mc.cycle;
        if done {
            self.marking = false;
            self.sync_thread_flags();
            let top = self.top();
            let starts = self.hs.meta.starts.view();
            roots.sweep_weak(&|a| {
                a < base || a >= top || a >= black_begin || (a.is_aligned(8) && starts.test(a))
            });
            let mc = self.marking_cycle.as_mut().expect("a cycle being marked");
            mc.remarked = true;
            mc.remarked_ns = monotonic_ns();
            sh.send_phase(Command::Plan);
        } else {
            sh.send_phase(Command::Mark);
        }
        self.resume_world();
        let end = monotonic_ns();
        self.stats.record_pause(
            cycle,
            Pause {
                kind: "remark",
                start_ns: start.saturating_sub(self.hs.created_ns),
                ns: end - start,
                ttsp_ns: entry - start,
            },
        );
        self.stats.gc_cpu_ns += thread_cpu_ns().saturating_sub(cpu_start);
    }

    /// Runs the cycle being marked up to and including its flip, on this thread, waiting for
    /// the GC thread where it works. `stall`: the program is waiting for memory (the whole
    /// wait is recorded as an allocation stall).
    pub(crate) fn drive_to_flip(&mut self, stall: bool) {
        let t0 = monotonic_ns();
        let Some(sh) = self.conc.as_ref().map(|c| c.sh.clone()) else {
            return;
        };
        while let Some(mc) = self.marking_cycle.as_ref() {
            let remarked = mc.remarked;
            if !remarked && self.marking {
                // The program waits anyway: it marks beside the GC thread meanwhile.
                self.help_mark();
            }
            sh.wait_phase_idle();
            sh.safepoints.advance.store(false, Ordering::SeqCst);
            let now = monotonic_ns();
            if remarked {
                self.flip(now);
            } else {
                // The program waits anyway: finish marking in this pause.
                self.remark(now, false);
            }
        }
        if stall {
            self.stats.allocation_stalls.record(
                t0.saturating_sub(self.hs.created_ns),
                monotonic_ns().saturating_sub(t0),
            );
        }
    }

    /// Marks on this thread from the shared grey queue until it is empty (the GC thread may
    /// be marking too: shading is atomic, and the remark drains whatever is left).
    fn help_mark(&mut self) {
        let Some(sh) = self.conc.as_ref().map(|c| c.sh.clone()) else {
            return;
        };
        let mut tracer = Tracer::new(&self.hs.meta, self.base(), self.black_begin);
        // SAFETY: the cycle is marking (its parameters are current); the binding contract
        // holds.
        unsafe { drain::<M>(&sh.mark, &mut tracer, Vec::new(), Budget::Unbounded) };
        sh.mark.objects.fetch_add(tracer.objects, Ordering::Relaxed);
        sh.mark.bytes.fetch_add(tracer.bytes, Ordering::Relaxed);
    }

    /// A full concurrent collection now (an explicit request): start a cycle unless one is
    /// being marked, and drive it to its flip; compaction goes on concurrently.
    pub(crate) fn collect_concurrent(&mut self) {
        self.start_cycle();
        self.drive_to_flip(false);
    }

    /// `--gc-stress` in concurrent mode: start a cycle when none is being marked (waiting for
    /// a running compaction first, not counted as a stall); at the stress points that follow,
    /// let marking overlap the program, and at the `STRESS_OVERLAP`th drive the cycle to its
    /// flip, so that cycles complete (and are verified) even in short programs.
    pub(crate) fn stress_cycle(&mut self) {
        match self.marking_cycle.as_mut() {
            None => {
                self.finish_running_cycle(false);
                self.start_cycle();
            }
            Some(mc) => {
                mc.stress_points += 1;
                if mc.stress_points >= STRESS_OVERLAP {
                    self.drive_to_flip(false);
                }
            }
        }
    }

    /// Abandons the cycle being marked, if any (the heap is finishing or going away): stops
    /// the GC thread's work on it and clears the marks. Nothing moved, so the heap stays as
    /// it was.
    pub(crate) fn cancel_marking(&mut self) {
        if self.marking_cycle.take().is_none() {
            return;
        }
        let Some(sh) = self.conc.as_ref().map(|c| c.sh.clone()) else {
            return;
        };
        sh.mark.abort.store(true, Ordering::SeqCst);
        sh.wait_phase_idle();
        sh.mark.clear_queue();
        sh.mark
            .plan
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        // SAFETY: the GC thread is idle and no command is out.
        unsafe { sh.mark.set_params(None) };
        sh.safepoints.advance.store(false, Ordering::SeqCst);
        self.marking = false;
        self.black_alloc = false;
        if !self.threads.is_empty() {
            // Every mutator's flags go off and its barrier buffer is dropped (nothing will be
            // marked), while all are stopped.
            self.stop_world();
            self.sync_thread_flags();
            self.for_each_local(|l| l.satb.clear());
            self.resume_world();
        }
        let used = self.used_bytes();
        // SAFETY: the GC thread is idle and every mutator's black allocation is off.
        unsafe { self.hs.meta.reset(used) };
        sh.mark.abort.store(false, Ordering::SeqCst);
    }

    /// Pacing: the next cycle starts early enough that the program, allocating as fast as it
    /// did during this cycle's marking, reaches the goal (`live * growth_factor`) only when
    /// that cycle is about to flip; it never starts before half the way from live to goal.
    pub(crate) fn set_paced_trigger(&mut self, live_bytes: usize, allocated_while_marking: usize) {
        let limit = self.limit_bytes();
        let goal = ((live_bytes as f64 * self.hs.config.growth_factor) as usize)
            .max(self.hs.config.min_trigger_bytes)
            .min(limit);
        let headroom = allocated_while_marking.saturating_mul(3) / 2;
        let floor = live_bytes + goal.saturating_sub(live_bytes) / 2;
        self.next_trigger = goal.saturating_sub(headroom).max(floor).min(goal);
    }

    /// Step mode (tests): scans up to `n` grey objects on this thread, oldest first; returns
    /// how many it scanned.
    #[doc(hidden)]
    pub(crate) fn step_mark(&mut self, n: usize) -> usize {
        if !self.marking {
            return 0;
        }
        let Some(sh) = self.conc.as_ref().map(|c| c.sh.clone()) else {
            return 0;
        };
        let mut tracer = Tracer::new(&self.hs.meta, self.base(), self.black_begin);
        // SAFETY: step mode: the cycle is marking (no round runs: the GC thread got no
        // `Mark`); the binding contract holds.
        let (_, scanned) =
            unsafe { drain::<M>(&sh.mark, &mut tracer, Vec::new(), Budget::Objects(n)) };
        sh.mark.objects.fetch_add(tracer.objects, Ordering::Relaxed);
        sh.mark.bytes.fetch_add(tracer.bytes, Ordering::Relaxed);
        scanned
    }

    /// The start of the black block of the cycle being marked (tests).
    #[doc(hidden)]
    pub(crate) fn black_begin(&self) -> Option<Address> {
        self.marking_cycle.as_ref().map(|_| self.black_begin)
    }
}
