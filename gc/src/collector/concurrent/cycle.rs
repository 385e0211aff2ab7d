//! The mutator's side of a concurrent cycle (design note §2.1-§2.4, §2.7): the marking pause
//! (stop-the-world marking and planning in this issue), the flip pause (update roots, empty
//! the heap into from-space with one `mremap`, then register the whole range, resume
//! allocation at the live end), zero pages for fresh TLABs while the range is registered,
//! waiting for a running cycle (an allocation stall), reaping a finished one, and the
//! test-only step mode.
//!
//! Owns: the per-heap [`Concurrent`] state (userfaultfd, shared state, GC and handler
//! threads, registry slot) and its set-up, which is where the fallback decision is made
//! (design note §4.4).

use super::gc_thread::{gc_thread_main, Compactor};
use super::install::install_fresh_range;
use super::scratch::ScratchSource;
use super::shared::{Command, CompactFn, Counters, CycleParams, Shared};
use crate::address::{Address, PAGE};
use crate::binding::ObjectModel;
use crate::collector::compact_page::{compact_page, CompactSource};
use crate::collector::plan::Plan;
use crate::collector::state::Collector;
use crate::collector::verify;
use crate::config::FaultMode;
use crate::fault::handler_thread::HandlerThread;
use crate::fault::{pool, registry, sigbus};
use crate::metadata::pages::PageState;
use crate::os::clock::{monotonic_ns, thread_cpu_ns};
use crate::os::reservation::Reservation;
use crate::safepoint::Safepoints;
use crate::stats::{CycleRecord, GcStats, Pause};
use crate::uffd::{Features, OpenOptions, PageRange};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

/// One heap's concurrent-compaction machinery.
pub struct Concurrent {
    pub sh: Arc<Shared>,
    gc_thread: Option<JoinHandle<()>>,
    handler: Option<HandlerThread>,
    /// A cycle was started and not reaped yet.
    pub active: bool,
    /// Fresh pages `[to_pages * PAGE, fresh_end)` of the active cycle are installed.
    pub fresh_end: Address,
    pub epoch: u64,
    /// Heap bytes in use when the active cycle started (what the metadata reset covers).
    cycle_used: usize,
    /// Set when MOVE is missing and pages are COPYed instead (recorded as fallback reason).
    pub copy_only: bool,
}

/// Why concurrent mode could not be set up; the heap then runs stop-the-world.
pub type FallbackReason = String;

impl Concurrent {
    /// Opens a userfaultfd for `fault` mode, prepares the fault path and starts the GC thread
    /// (and the handler thread in thread mode) for the heap `space` with `from_space`.
    pub fn new<M: ObjectModel>(
        space: &Reservation,
        from_space: &Reservation,
        fault: FaultMode,
        safepoints: Arc<Safepoints>,
        mask: Option<Features>,
    ) -> Result<Concurrent, FallbackReason> {
        let mut options = match fault {
            FaultMode::Sigbus => OpenOptions::SIGBUS_MODE,
            FaultMode::Thread => OpenOptions::THREAD_MODE,
        };
        if let Some(mask) = mask {
            options.request = options.request & mask;
        }
        let uffd = options
            .open()
            .map_err(|e| format!("{e}; running stop-the-world"))?;
        if fault == FaultMode::Sigbus && !uffd.features().contains(Features::SIGBUS) {
            return Err("userfaultfd lacks SIGBUS mode; running stop-the-world".into());
        }
        let copy_only = !uffd.has_move();
        pool::prepare()
            .map_err(|e| format!("no fault scratch pool ({e}); running stop-the-world"))?;
        if fault == FaultMode::Sigbus {
            sigbus::install().map_err(|e| {
                format!("cannot install the SIGBUS handler ({e}); running stop-the-world")
            })?;
        }
        let compact: CompactFn = compact_page::<M, false>;
        let sh = Arc::new(Shared::new(
            space.base(),
            space.len(),
            from_space.base(),
            uffd,
            fault,
            compact,
            safepoints,
        ));
        // SAFETY: registry rule 1: `sh` is kept alive by this heap until `Drop` releases the
        // slot, and both counters stay closed until a flip has made the cycle's state ready.
        let slot = unsafe {
            registry::claim(
                space.base().as_usize(),
                space.end().as_usize(),
                Arc::as_ptr(&sh).cast::<()>(),
            )
        }
        .ok_or_else(|| {
            "too many concurrent heaps in this process; running stop-the-world".to_string()
        })?;
        let _ = sh.slot.set(slot);
        let gc_sh = sh.clone();
        let gc_thread = std::thread::Builder::new()
            .name("gc-compact".into())
            .spawn(move || gc_thread_main::<M>(gc_sh));
        let gc_thread = match gc_thread {
            Ok(j) => j,
            Err(e) => {
                registry::release(slot);
                return Err(format!(
                    "cannot start the GC thread ({e}); running stop-the-world"
                ));
            }
        };
        let mut c = Concurrent {
            sh: sh.clone(),
            gc_thread: Some(gc_thread),
            handler: None,
            active: false,
            fresh_end: space.base(),
            epoch: 0,
            cycle_used: 0,
            copy_only,
        };
        if fault == FaultMode::Thread {
            match HandlerThread::spawn(sh) {
                Ok(h) => c.handler = Some(h),
                Err(e) => {
                    return Err(format!(
                        "cannot start the fault handler thread ({e}); running stop-the-world"
                    ))
                }
            }
        }
        Ok(c)
    }

    /// Whether the active cycle's finish protocol has completed.
    pub fn finished(&self) -> bool {
        self.sh.finished_epoch.load(Ordering::Acquire) >= self.epoch
    }

    fn command(&self, c: Command) {
        self.sh.send(c);
    }

    /// Blocks until the active cycle has finished (it must be driven by the GC thread).
    fn wait_finished(&self) {
        let mut ctl = self.sh.control.lock().unwrap_or_else(|e| e.into_inner());
        while self.sh.finished_epoch.load(Ordering::Acquire) < self.epoch {
            ctl = self.sh.wakeup.wait(ctl).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Concurrent {
    fn drop(&mut self) {
        if self.active && !self.finished() {
            self.wait_finished();
        }
        self.command(Command::Exit);
        if let Some(j) = self.gc_thread.take() {
            let _ = j.join();
        }
        self.handler = None;
        registry::release(self.sh.slot());
    }
}

impl<M: ObjectModel> Collector<M> {
    /// The flip pause of a concurrently marked cycle (design note §2.4): the black block is
    /// what was allocated since the initial pause; update the roots, empty the heap into
    /// from-space with one `mremap`, register the whole range, resume allocation at the end of
    /// the slid black block. Nothing walks the heap (except `--gc-verify`). Compaction then
    /// runs on the GC thread while the caller continues. `requested_at`: when the GC thread
    /// asked for this pause (its time to safepoint starts there).
    pub(crate) fn flip(&mut self, requested_at: u64) {
        let (_, entry) = self.stop_world();
        let roots = &mut self.all_roots();
        let start = requested_at.min(entry);
        let cpu_start = thread_cpu_ns();
        let mc = self.marking_cycle.take().expect("a marked cycle to flip");
        let conc = self.conc.as_ref().expect("concurrent heap");
        let sh = conc.sh.clone();
        let nonblack = sh
            .mark
            .plan
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("the GC thread planned before asking for the flip");
        self.retire_tlabs();
        let base = self.base();
        let old_top = self.top();
        let used = old_top.offset_from(base);
        self.stats.note_heap_bytes(used);
        let black_begin = self.black_begin;
        let black_dest = base.add(nonblack.to_pages * PAGE);
        let black_bytes = old_top.offset_from(black_begin);
        let plan = Plan {
            old_top,
            live_bytes: nonblack.live_bytes,
            to_pages: nonblack.to_pages + black_bytes.div_ceil(PAGE),
        };
        let live_end = black_dest.add(black_bytes);
        let cycle = mc.cycle;
        let fingerprint = self.hs.config.verifies(cycle).then(|| {
            // SAFETY: the heap [base, old_top) is parseable (TLAB retired), unchanging while
            // the mutator is stopped (it is us), and fully installed (no compaction runs).
            unsafe {
                verify::at_flip_or_abort::<M>(
                    cycle,
                    base,
                    old_top,
                    roots,
                    self.hs.meta.starts.view(),
                    black_begin,
                )
            }
        });
        self.black_alloc = false;
        self.sync_thread_flags();
        // SAFETY: the GC thread is idle (it planned, then asked for this pause) and nobody
        // reads the marking parameters after the flip.
        unsafe { sh.mark.set_params(None) };

        self.update_roots_black(roots, old_top, black_begin, black_dest);
        let t_roots = monotonic_ns();
        self.move_heap_to_from_space(used);
        let t_remap = monotonic_ns();
        let conc = self.conc.as_mut().expect("concurrent heap");
        // Page counters before anything of this cycle is compacted: the GC thread may finish
        // before the flip pause does.
        let pages_before = (
            Counters::get(&sh.counters.pages_by_gc),
            Counters::get(&sh.counters.pages_by_mutator),
        );
        // SAFETY: the whole heap reservation is one mapping of ours with no Rust object in
        // it; every access from now on faults until its page is installed, which the fault
        // path and the GC thread guarantee.
        if let Err(e) = unsafe { sh.uffd.register_missing(PageRange::new(sh.base, sh.len)) } {
            fatal(&format!("UFFDIO_REGISTER of the heap failed: {e}"));
        }
        let t_register = monotonic_ns();
        conc.epoch += 1;
        let src = CompactSource::new(&self.hs.meta, &plan, base, self.hs.from_space.base())
            .with_black(black_begin, black_dest);
        // SAFETY: the borrowed metadata lives as long as the heap, and it is neither reset nor
        // dropped before this cycle is finished and reaped (reap and Drop wait for that): the
        // 'static lifetime is never observed to end.
        let src: CompactSource<'static> = unsafe { std::mem::transmute(src) };
        let params = CycleParams {
            src,
            to_pages: plan.to_pages,
            old_top,
            live_end,
            epoch: conc.epoch,
        };
        // SAFETY: no cycle runs: the last one was reaped, both counters are closed.
        unsafe { sh.set_params(Some(params)) };
        sh.running.store(true, Ordering::Release);
        sh.slot().open();
        conc.active = true;
        conc.cycle_used = used;
        conc.fresh_end = base.add(plan.to_pages * PAGE);
        let step = self.step_mode;
        if step {
            let scratch = match self.step_scratch.take() {
                Some(s) => s,
                None => ScratchSource::new().unwrap_or_else(|e| fatal(&format!("{e}"))),
            };
            self.step = Some(Box::new(Compactor::new(sh.clone(), params, scratch)));
        } else {
            conc.command(Command::Compact);
        }
        self.set_top(live_end);
        self.for_each_local(|l| {
            l.tlab_cursor = live_end;
            l.tlab_limit = live_end;
        });
        let t_flip = monotonic_ns();
        self.stats.record_pause(
            cycle,
            Pause {
                kind: "flip",
                start_ns: start.saturating_sub(self.hs.created_ns),
                ns: t_flip - start,
                ttsp_ns: entry - start,
            },
        );
        let moved = (plan.live_bytes + black_bytes) as u64;
        self.stats.open_cycle(
            CycleRecord {
                cycle,
                start_ns: mc.start_ns.saturating_sub(self.hs.created_ns),
                mark_ns: mc.remarked_ns.saturating_sub(mc.start_ns),
                flip_ns: t_flip - start,
                compaction_end_ns: None,
                live_bytes: moved,
                bytes_moved: moved,
                pages_by_gc: 0,
                pages_by_mutator: 0,
            },
            pages_before.0,
            pages_before.1,
        );

        // The "after" check is the mutator's first act after the flip: it races the GC thread
        // through the fault path.
        if let Some(before) = fingerprint {
            // SAFETY: [base, live_end) is the compacted heap (installed on access), parseable,
            // and nobody else mutates it.
            unsafe { verify::after_compaction_or_abort::<M>(cycle, base, live_end, roots, before) };
        }
        self.hs.publish_cycle(cycle, moved);
        self.resume_world();
        self.set_paced_trigger(live_end.offset_from(base), black_bytes);
        let s = &mut self.stats;
        s.cycles = cycle;
        s.last_live_bytes = moved;
        s.bytes_moved += moved;
        s.gc_cpu_ns += thread_cpu_ns().saturating_sub(cpu_start);
        if self.hs.config.log {
            use std::io::Write;
            let mb = |b: usize| b as f64 / (1 << 20) as f64;
            let _ = writeln!(
                std::io::stderr(),
                "gc {cycle} @{:.3}s concurrent: {:.1} MB -> {:.1} MB ({:.1} MB black), {} objects marked, \
                 marking {:.2} ms ({} remark pauses), flip {:.3} ms (ttsp {:.3}, roots {:.3}, mremap {:.3}, \
                 register {:.3})",
                mc.start_ns.saturating_sub(self.hs.created_ns) as f64 / 1e9,
                mb(used),
                mb(live_end.offset_from(base)),
                mb(black_bytes),
                sh.mark.objects.load(Ordering::Relaxed),
                mc.remarked_ns.saturating_sub(mc.start_ns) as f64 / 1e6,
                mc.remarks,
                (t_flip - start) as f64 / 1e6,
                (entry - start) as f64 / 1e6,
                (t_roots - entry) as f64 / 1e6,
                (t_remap - t_roots) as f64 / 1e6,
                (t_register - t_remap) as f64 / 1e6,
            );
        }
    }

    /// If a cycle is active: waits until it has finished (recorded as an allocation stall when
    /// `stall` and the wait was real), then reaps it. Step mode finishes the cycle here.
    pub(crate) fn finish_running_cycle(&mut self, stall: bool) {
        let Some(conc) = self.conc.as_ref() else {
            return;
        };
        if !conc.active {
            return;
        }
        if let Some(mut c) = self.step.take() {
            c.run_all();
            let p = *c.params();
            self.step_scratch = Some(c.into_scratch());
            super::finish::finish_cycle(&conc.sh, &p);
            conc.sh
                .finished_at_ns
                .store(monotonic_ns(), Ordering::Relaxed);
            conc.sh.finished_epoch.store(p.epoch, Ordering::Release);
        }
        if !conc.finished() {
            let t0 = monotonic_ns();
            conc.wait_finished();
            if stall {
                self.stats.allocation_stalls.record(
                    t0.saturating_sub(self.hs.created_ns),
                    monotonic_ns().saturating_sub(t0),
                );
            }
        }
        self.reap();
    }

    /// Reaps a finished cycle: resets the side tables and takes the figures.
    fn reap(&mut self) {
        let Some(conc) = self.conc.as_mut() else {
            return;
        };
        debug_assert!(conc.finished());
        // SAFETY: the cycle has finished: both counters are closed and drained and the GC
        // thread is done with it.
        unsafe { conc.sh.set_params(None) };
        conc.active = false;
        let used = conc.cycle_used;
        // SAFETY: the cycle has finished (no compactor or handler reads the tables) and
        // black allocation ended at its flip.
        unsafe { self.hs.meta.reset(used) };
        let c = &conc.sh.counters;
        let end = conc.sh.finished_at_ns.load(Ordering::Relaxed);
        self.stats.close_cycle(
            end.saturating_sub(self.hs.created_ns),
            Counters::get(&c.pages_by_gc),
            Counters::get(&c.pages_by_mutator),
        );
        self.sync_concurrent_stats();
    }

    /// Reaps the active cycle if it has finished; never waits.
    pub(crate) fn reap_if_finished(&mut self) {
        if self
            .conc
            .as_ref()
            .is_some_and(|c| c.active && self.step.is_none() && c.finished())
        {
            self.reap();
        }
    }

    /// Installs fresh pages up to `end` (exclusive, any alignment) before the allocator hands
    /// them out, while a cycle's range is registered.
    pub(crate) fn prepare_fresh(&mut self, end: Address) {
        let Some(conc) = self.conc.as_mut() else {
            return;
        };
        if !conc.active {
            return;
        }
        let end = end.align_up(PAGE);
        if end > conc.fresh_end {
            install_fresh_range(&conc.sh, conc.fresh_end, end);
            conc.fresh_end = end;
        }
    }

    /// Copies the cumulative concurrent counters into the statistics.
    pub(crate) fn sync_concurrent_stats(&mut self) {
        if let Some(conc) = self.conc.as_ref() {
            fill_stats(&conc.sh, &mut self.stats);
        }
        // Stops requested by other threads are no collection's pauses: cycle 0.
        for p in self.hs.safepoints.take_pauses() {
            self.stats.record_pause(0, p);
        }
    }
}

/// Writes the counters of `sh` into `s`.
pub(crate) fn fill_stats(sh: &Shared, s: &mut GcStats) {
    let c = &sh.counters;
    s.pages_compacted_by_gc = Counters::get(&c.pages_by_gc);
    s.pages_compacted_by_mutator = Counters::get(&c.pages_by_mutator);
    s.uffd_move_pages = Counters::get(&c.move_pages);
    s.uffd_copy_pages = Counters::get(&c.copy_pages);
    s.uffd_zeropage_pages = Counters::get(&c.zeropage_pages);
    s.fresh_page_faults = Counters::get(&c.fresh_page_faults);
    s.pages_recycled = Counters::get(&c.pages_recycled);
    s.fault_waits = Counters::get(&c.waits);
    s.spurious_faults = Counters::get(&c.spurious_faults);
    s.set_gc_thread_cpu_ns(
        Counters::get(&c.gc_cpu_ns) + sh.mark.helper_cpu_ns.load(Ordering::Relaxed),
    );
    s.update_open_cycle(s.pages_compacted_by_gc, s.pages_compacted_by_mutator);
    let h = c.stalls.summary();
    let f = &mut s.mutator_fault_stalls;
    f.count = h.count;
    f.p50_ns = h.p50;
    f.p90_ns = h.p90;
    f.p99_ns = h.p99;
    f.p999_ns = h.p999;
    f.max_ns = h.max;
    f.total_ns = h.total;
    f.buckets = c.stalls.buckets();
    f.timed_in = match sh.fault_mode {
        FaultMode::Sigbus => "faulting_thread",
        FaultMode::Thread => "handler_thread",
    };
}

fn fatal(msg: &str) -> ! {
    crate::fatal::fatal!("{msg}")
}

/// Step mode (tests only, design note §5): drive the compaction of the active cycle page by
/// page from the test, so that faults can be taken on a page in each state deterministically.
/// Enable with `Mutator::set_step_mode` (`step.rs`) before `collect`; the GC thread then stays idle.
impl<M: ObjectModel> Collector<M> {
    #[doc(hidden)]
    pub(crate) fn set_step_mode(&mut self, on: bool) {
        self.step_mode = on;
    }

    /// To-space pages of the active step-mode cycle (0 if none).
    #[doc(hidden)]
    pub(crate) fn step_pages(&self) -> usize {
        self.step.as_ref().map_or(0, |c| c.params().to_pages)
    }

    /// The state of page `page` of the active step-mode cycle.
    #[doc(hidden)]
    pub(crate) fn step_state(&self, page: usize) -> Option<PageState> {
        self.step.as_ref().map(|c| c.params().src.pages.state(page))
    }

    /// Claims `page` for the GC (`Unprocessed → Processing`); false if someone has it.
    #[doc(hidden)]
    pub(crate) fn step_claim(&mut self, page: usize) -> bool {
        self.step.as_ref().is_some_and(|c| c.claim(page))
    }

    /// Compacts the claimed `page` into a GC scratch page: it becomes `Ready`.
    #[doc(hidden)]
    pub(crate) fn step_compact(&mut self, page: usize) {
        if let Some(c) = self.step.as_mut() {
            c.compact_claimed(page);
        }
    }

    /// Installs the pages compacted so far (one MOVE per run): they become `Mapped`.
    #[doc(hidden)]
    pub(crate) fn step_install(&mut self) {
        if let Some(c) = self.step.as_mut() {
            c.install();
        }
    }

    /// Compacts the rest, installs it and runs the finish protocol.
    #[doc(hidden)]
    pub(crate) fn step_finish(&mut self) {
        self.finish_running_cycle(false);
    }
}
