//! The GC thread's side of concurrent compaction (design note §2.5): walk the to-space pages
//! highest first; per page claim it (`Unprocessed → Processing`), compact it into a scratch
//! page, mark it `Ready` (its scratch address recorded, so a faulting mutator can install it
//! itself); install runs of ready pages with one MOVE and publish them `Mapped`. Then wait for
//! pages that mutators claimed, and run the finish protocol.
//!
//! The same [`Compactor`] serves the step-mode tests, which drive it page by page.

use super::finish::finish_cycle;
use super::install::install_run;
use super::marking::mark_round;
use super::scratch::{ScratchSource, RUN_PAGES};
use super::shared::{Command, Counters, CycleParams, Shared};
use crate::address::{Address, PAGE};
use crate::binding::ObjectModel;
use crate::collector::compact_page::compact_page;
use crate::collector::plan::plan;
use crate::metadata::pages::PageState;
use crate::os::clock::{monotonic_ns, thread_cpu_ns};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The current run: ready pages `[lo, lo + len)` whose scratch pages are contiguous from
/// `scratch_lo`.
#[derive(Copy, Clone)]
struct Run {
    lo: usize,
    len: usize,
    scratch_lo: Address,
}

/// Compacts the pages of one cycle and installs them in runs.
pub struct Compactor<M: ObjectModel> {
    sh: Arc<Shared>,
    p: CycleParams,
    scratch: ScratchSource,
    run: Option<Run>,
    /// Every page from `m` up is `Mapped`.
    m: usize,
    _model: PhantomData<M>,
}

impl<M: ObjectModel> Compactor<M> {
    /// A compactor for the cycle whose parameters are `p`, reusing `scratch`.
    pub fn new(sh: Arc<Shared>, p: CycleParams, mut scratch: ScratchSource) -> Self {
        let old_bytes = p.old_top.offset_from(sh.base);
        scratch.begin_cycle(sh.from_base, old_bytes);
        // Before any black page is compacted or its read bound taken here.
        p.src.record_black_first_objects();
        let mut c = Compactor {
            sh,
            p,
            scratch,
            run: None,
            m: p.to_pages,
            _model: PhantomData,
        };
        c.update_bound();
        c
    }

    /// Gives the scratch source back for the next cycle (counting the recycled pages).
    pub fn into_scratch(self) -> ScratchSource {
        Counters::add(&self.sh.counters.pages_recycled, self.scratch.recycled);
        self.scratch
    }

    pub fn params(&self) -> &CycleParams {
        &self.p
    }

    /// From-space pages recycled so far.
    pub fn recycled(&self) -> u64 {
        self.scratch.recycled
    }

    /// Claims page `page` for the GC (`Unprocessed → Processing`).
    pub fn claim(&self, page: usize) -> bool {
        self.p.src.pages.claim(page)
    }

    /// Compacts the claimed page `page` into a scratch page and marks it `Ready`, growing the
    /// current run or, if it cannot, installing that run first.
    pub fn compact_claimed(&mut self, page: usize) {
        let dest = match self.run {
            Some(r) if r.lo == page + 1 && r.len < RUN_PAGES => {
                match self.scratch.next_below(r.scratch_lo) {
                    Some(d) => d,
                    None => {
                        self.install();
                        self.scratch.start_run()
                    }
                }
            }
            Some(_) => {
                self.install();
                self.scratch.start_run()
            }
            None => self.scratch.start_run(),
        };
        // SAFETY: the plan is complete and from-space unwritten during the cycle (rules 1-3,
        // kept by the flip); `dest` is a scratch page only this compactor writes, either its
        // dedicated buffer or a from-space page above the recycling bound that no unfinished
        // page reads (rule 4 and design note §2.5).
        unsafe { compact_page::<M, true>(&self.p.src, page, dest.as_mut_ptr()) };
        let pages = self.p.src.pages;
        pages.set_scratch(page, dest.as_usize());
        pages.publish(page, PageState::Ready);
        // A mutator waiting for this page may install it now rather than wait for the run.
        self.sh.notify_mapped();
        self.sh.counters.pages_by_gc.fetch_add(1, Ordering::Relaxed);
        self.run = Some(match self.run {
            Some(r) if r.lo == page + 1 && r.scratch_lo == dest.add(PAGE) => Run {
                lo: page,
                len: r.len + 1,
                scratch_lo: dest,
            },
            _ => Run {
                lo: page,
                len: 1,
                scratch_lo: dest,
            },
        });
    }

    /// Whether `page` can join run `r` (adjacent below it, room left, contiguous scratch).
    fn run_can_take(&self, r: Run, page: usize) -> bool {
        r.lo == page + 1 && r.len < RUN_PAGES && self.scratch.can_extend(r.scratch_lo)
    }

    /// Installs the current run (if any) with one MOVE and publishes its pages `Mapped`.
    pub fn install(&mut self) {
        let Some(r) = self.run.take() else { return };
        // SAFETY: the run's pages are `Ready` and ours; their scratch pages hold their contents
        // and are not read by us again (rules 1-2).
        unsafe { install_run(&self.sh, self.sh.base.add(r.lo * PAGE), r.scratch_lo, r.len) };
        let pages = self.p.src.pages;
        for page in r.lo..r.lo + r.len {
            pages.publish(page, PageState::Mapped);
        }
        self.sh.notify_mapped();
        self.scratch.run_installed();
        self.update_bound();
    }

    /// Lowers `m` over the pages mapped now and tells the scratch source what it may recycle.
    fn update_bound(&mut self) {
        let pages = self.p.src.pages;
        while self.m > 0 && pages.state(self.m - 1) == PageState::Mapped {
            self.m -= 1;
        }
        // SAFETY: the plan is complete and from-space below the current bound is unrecycled
        // (the bound only rises as pages below it are finished); objects are well-formed.
        let bound = unsafe { self.p.src.read_bound::<M>(self.m, self.p.to_pages) };
        self.scratch.set_bound(bound.next_multiple_of(PAGE));
    }

    /// Compacts every page still unclaimed, highest first, installs them, then waits until
    /// the pages mutators claimed are mapped too.
    pub fn run_all(&mut self) {
        for page in (0..self.p.to_pages).rev() {
            if self.run.is_some_and(|r| !self.run_can_take(r, page)) {
                // Install the run before claiming the next page, not after: a mutator faulting
                // on a page we hold in `Processing` would otherwise wait for the whole MOVE.
                self.install();
            }
            if self.claim(page) {
                self.compact_claimed(page);
            } else if self.run.is_some_and(|r| r.lo == page + 1) {
                // A mutator has this page: the run cannot grow past it.
                self.install();
            }
        }
        self.install();
        self.wait_all_mapped();
    }

    /// Waits until every page is `Mapped` (mutators finishing pages they claimed).
    pub fn wait_all_mapped(&mut self) {
        loop {
            let seen = self.sh.mapped_gen.load(Ordering::SeqCst);
            self.update_bound();
            if self.m == 0 {
                return;
            }
            if self.p.src.pages.state(self.m - 1) == PageState::Ready {
                // Step mode can leave a page compacted but not installed.
                self.install();
                continue;
            }
            self.sh.wait_mapped(seen);
        }
    }
}

/// Nice value of the GC thread relative to the default.
const GC_NICE: libc::c_int = 5;

/// The GC thread: waits for a cycle, compacts it, finishes it; exits on `Command::Exit`.
pub fn gc_thread_main<M: ObjectModel>(sh: Arc<Shared>) {
    // Below the mutator's priority (as ART runs compaction): waking this thread at the end
    // of the flip pause should not preempt the mutator on a busy machine.
    // SAFETY: setpriority on this thread's own id changes only its scheduling priority.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, GC_NICE) };
    let mut scratch = match ScratchSource::new() {
        Ok(s) => Some(s),
        Err(e) => crate::fatal::fatal!("no GC scratch buffer: {e}"),
    };
    loop {
        match sh.wait_command() {
            Command::Exit => return,
            c @ (Command::Mark | Command::Plan) => {
                let cpu0 = thread_cpu_ns();
                run_marking_phase::<M>(&sh, c);
                Counters::add(&sh.counters.gc_cpu_ns, thread_cpu_ns().saturating_sub(cpu0));
                sh.phase_done(!sh.mark.abort.load(Ordering::SeqCst));
                continue;
            }
            _ => {}
        }
        let cpu0 = thread_cpu_ns();
        // SAFETY: the GC thread runs the cycle it was told to; the mutator set the parameters
        // before sending `Compact` and does not change them until the cycle is finished.
        let p = unsafe { sh.params() }.copied();
        if let Some(p) = p {
            let mut c = Compactor::<M>::new(sh.clone(), p, scratch.take().expect("scratch"));
            c.run_all();
            scratch = Some(c.into_scratch());
            finish_cycle(&sh, &p);
            sh.finished_at_ns.store(monotonic_ns(), Ordering::Relaxed);
        }
        Counters::add(&sh.counters.gc_cpu_ns, thread_cpu_ns().saturating_sub(cpu0));
        let ctl = sh.control.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = p {
            sh.finished_epoch.store(p.epoch, Ordering::Release);
            sh.safepoints.reap.store(true, Ordering::Release);
            sh.safepoints.raise();
        }
        drop(ctl);
        sh.wakeup.notify_all();
    }
}

/// A marking-phase command: a marking round, or planning the marked heap (design note §2.3).
fn run_marking_phase<M: ObjectModel>(sh: &Shared, c: Command) {
    // SAFETY: the mutator set the marking parameters in the initial pause, before sending
    // this command, and changes them only after `phase_done`.
    let Some(mp) = (unsafe { sh.mark.params() }) else {
        return;
    };
    if c == Command::Mark {
        // SAFETY: the parameters describe the current cycle; the metadata is neither reset
        // nor dropped before the mutator has seen this round done (cancel waits for it).
        unsafe { mark_round::<M>(&sh.mark, mp) };
    } else {
        let p = plan(mp.meta, mp.base, mp.black_begin);
        *sh.mark.plan.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
    }
}
