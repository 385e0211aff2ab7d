//! Step mode (tests only, design note §5): a test drives a concurrent cycle's marking and the
//! compaction of its pages one step at a time from its single mutator, so that faults can be
//! taken on a page in each state deterministically. Enable with [`Mutator::set_step_mode`]
//! before `collect`; the GC thread then stays idle. These calls lend no roots: use them only
//! on a heap with one mutator.

use crate::address::Address;
use crate::binding::ObjectModel;
use crate::metadata::pages::PageState;
use crate::mutator::Mutator;

impl<M: ObjectModel> Mutator<M> {
    #[doc(hidden)]
    pub fn set_step_mode(&mut self, on: bool) {
        self.with_collector(None, |c, _| c.set_step_mode(on));
    }

    /// To-space pages of the active step-mode cycle (0 if none).
    #[doc(hidden)]
    pub fn step_pages(&mut self) -> usize {
        self.with_collector(None, |c, _| c.step_pages())
    }

    /// The state of page `page` of the active step-mode cycle.
    #[doc(hidden)]
    pub fn step_state(&mut self, page: usize) -> Option<PageState> {
        self.with_collector(None, |c, _| c.step_state(page))
    }

    /// Claims `page` for the GC (`Unprocessed → Processing`); false if someone has it.
    #[doc(hidden)]
    pub fn step_claim(&mut self, page: usize) -> bool {
        self.with_collector(None, |c, _| c.step_claim(page))
    }

    /// Compacts the claimed `page` into a GC scratch page: it becomes `Ready`.
    #[doc(hidden)]
    pub fn step_compact(&mut self, page: usize) {
        self.with_collector(None, |c, _| c.step_compact(page));
    }

    /// Installs the pages compacted so far (one MOVE per run): they become `Mapped`.
    #[doc(hidden)]
    pub fn step_install(&mut self) {
        self.with_collector(None, |c, _| c.step_install());
    }

    /// Compacts the rest, installs it and runs the finish protocol.
    #[doc(hidden)]
    pub fn step_finish(&mut self) {
        self.with_collector(None, |c, _| c.step_finish());
    }

    /// Scans up to `n` grey objects on this thread, oldest first; returns how many it
    /// scanned.
    #[doc(hidden)]
    pub fn step_mark(&mut self, n: usize) -> usize {
        self.with_collector(None, |c, _| c.step_mark(n))
    }

    /// The start of the black block of the cycle being marked.
    #[doc(hidden)]
    pub fn black_begin(&mut self) -> Option<Address> {
        self.with_collector(None, |c, _| c.black_begin())
    }
}
