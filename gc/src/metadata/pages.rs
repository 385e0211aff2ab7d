//! Per to-space page tables: where in the old (pre-compaction) heap the page's contents come
//! from, and the page's state word (design note §3).
//!
//! Addresses stored here are *heap* addresses of the pre-compaction layout; the from-space copy
//! of an address `a` is at `a + (from_base - heap_base)`.

use super::side::SideArray;
use crate::fatal::signal_safe_debug_assert;
use std::io;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Compaction state of one to-space page. Transitions: `Unprocessed → Processing → (Ready →)
/// Mapped`; only the thread that won the `Unprocessed → Processing` CAS writes the page.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PageState {
    /// Nobody has started this page (the all-zero state: a reset table is all `Unprocessed`).
    Unprocessed = 0,
    /// Claimed; being compacted into a scratch page (or in place, in STW mode).
    Processing = 1,
    /// Compacted into a scratch page, not yet installed.
    Ready = 2,
    /// Installed: readers may use it.
    Mapped = 3,
    /// Claimed by a faulting mutator, which compacts and installs it itself (kept apart from
    /// `Processing` for the statistics and the step-mode tests).
    MutatorProcessing = 4,
}

impl PageState {
    fn from_u8(v: u8) -> PageState {
        match v {
            0 => PageState::Unprocessed,
            1 => PageState::Processing,
            2 => PageState::Ready,
            4 => PageState::MutatorProcessing,
            _ => PageState::Mapped,
        }
    }
}

pub struct PageTable {
    /// Pre-compaction address of the object holding the page's first word (it may start on an
    /// earlier page).
    first_obj: SideArray<AtomicUsize>,
    /// Pre-compaction address of the live word that lands at the page's first byte.
    first_live: SideArray<AtomicUsize>,
    state: SideArray<AtomicU8>,
    /// Concurrent mode: where a `Ready` page's compacted contents wait to be installed
    /// (written before the release store of `Ready`).
    scratch: SideArray<AtomicUsize>,
}

impl PageTable {
    pub fn new(pages: usize) -> io::Result<Self> {
        Ok(PageTable {
            first_obj: SideArray::new(pages)?,
            first_live: SideArray::new(pages)?,
            state: SideArray::new(pages)?,
            scratch: SideArray::new(pages)?,
        })
    }

    pub fn view(&self) -> PagesView<'_> {
        PagesView {
            first_obj: self.first_obj.as_slice(),
            first_live: self.first_live.as_slice(),
            state: self.state.as_slice(),
            scratch: self.scratch.as_slice(),
        }
    }

    /// Resets the entries of pages `[0, n)`.
    /// Clears the entries of the first `n` pages.
    ///
    /// # Safety
    /// 1. No other thread uses those entries during the call.
    pub unsafe fn reset(&self, n: usize) {
        // SAFETY: rule 1, for each table.
        unsafe {
            self.first_obj.reset_prefix(n);
            self.first_live.reset_prefix(n);
            self.state.reset_prefix(n);
            self.scratch.reset_prefix(n);
        }
    }
}

#[derive(Copy, Clone)]
pub struct PagesView<'a> {
    pub first_obj: &'a [AtomicUsize],
    pub first_live: &'a [AtomicUsize],
    state: &'a [AtomicU8],
    scratch: &'a [AtomicUsize],
}

impl PagesView<'_> {
    /// Pre-compaction address of the object holding page `page`'s first word (0 past the end;
    /// total so that compaction has no panic path).
    #[inline]
    pub fn first_obj(&self, page: usize) -> usize {
        signal_safe_debug_assert!(page < self.first_obj.len(), "first_obj: page out of range");
        self.first_obj
            .get(page)
            .map_or(0, |x| x.load(Ordering::Relaxed))
    }

    /// Pre-compaction address of the live word landing at page `page`'s first byte.
    #[inline]
    pub fn first_live(&self, page: usize) -> usize {
        signal_safe_debug_assert!(
            page < self.first_live.len(),
            "first_live: page out of range"
        );
        self.first_live
            .get(page)
            .map_or(0, |x| x.load(Ordering::Relaxed))
    }

    /// The state of `page` (`Mapped` past the end, so a stray caller waits for nothing).
    #[inline]
    pub fn state(&self, page: usize) -> PageState {
        signal_safe_debug_assert!(page < self.state.len(), "page state: page out of range");
        self.state.get(page).map_or(PageState::Mapped, |s| {
            PageState::from_u8(s.load(Ordering::Acquire))
        })
    }

    /// Claims `page` (`Unprocessed → Processing`); true if this caller won.
    #[inline]
    pub fn claim(&self, page: usize) -> bool {
        self.claim_as(page, PageState::Processing)
    }

    /// Claims `page` (`Unprocessed → as_state`, a processing state); true if this caller won.
    #[inline]
    pub fn claim_as(&self, page: usize, as_state: PageState) -> bool {
        signal_safe_debug_assert!(page < self.state.len(), "page state: page out of range");
        self.state.get(page).is_some_and(|s| {
            s.compare_exchange(
                PageState::Unprocessed as u8,
                as_state as u8,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
        })
    }

    /// Records where `page`'s compacted contents wait (before publishing `Ready`).
    #[inline]
    pub fn set_scratch(&self, page: usize, at: usize) {
        if let Some(w) = self.scratch.get(page) {
            w.store(at, Ordering::Relaxed);
        }
    }

    /// Where a `Ready` page's contents wait (read after an acquire load of `Ready`).
    #[inline]
    pub fn scratch(&self, page: usize) -> usize {
        self.scratch
            .get(page)
            .map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// Number of pages the table covers.
    #[inline]
    pub fn len(&self) -> usize {
        self.state.len()
    }

    /// True if the table covers no page.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// Publishes a new state of a page this caller owns (release: the page's contents first).
    #[inline]
    pub fn publish(&self, page: usize, s: PageState) {
        signal_safe_debug_assert!(page < self.state.len(), "page state: page out of range");
        if let Some(w) = self.state.get(page) {
            w.store(s as u8, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_exclusive_and_reset_restores_unprocessed() {
        let t = PageTable::new(16).unwrap();
        {
            let v = t.view();
            assert_eq!(v.state(3), PageState::Unprocessed);
            assert!(v.claim(3));
            assert!(!v.claim(3));
            v.publish(3, PageState::Mapped);
            assert_eq!(v.state(3), PageState::Mapped);
        }
        // SAFETY: the test's table, on this thread alone.
        unsafe { t.reset(16) };
        assert_eq!(t.view().state(3), PageState::Unprocessed);
    }
}
