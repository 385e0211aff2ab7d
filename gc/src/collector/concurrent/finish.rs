//! The end of a concurrent cycle (design note §2.7), once every compacted page is `Mapped`:
//! ART's two-counter protocol retires in-flight fault handlers around `UFFDIO_UNREGISTER`, then
//! from-space is given back.
//!
//! 1. Close counter 0 and drain it: no handler is resolving a compacted page any more (all are
//!    mapped anyway); new handlers go to counter 1, where only fresh pages can be missing.
//! 2. Unregister the whole heap range: missing pages are ordinary zero-fill again, and threads
//!    blocked in the kernel (handler-thread mode) are woken to retry.
//! 3. Close counter 1 and drain it: no handler touches the heap's shared state any more.
//! 4. `MADV_DONTNEED` the used part of from-space.
//!
//! The side metadata is reset by the mutator when it reaps the cycle (it owns it mutably).

use super::shared::{CycleParams, Shared};
use crate::address::PAGE;
use crate::uffd::PageRange;
use std::sync::atomic::Ordering;

/// Runs steps 1-4 for the cycle `p` of `sh`, then marks the cycle as not running.
pub fn finish_cycle(sh: &Shared, p: &CycleParams) {
    let slot = sh.slot();
    slot.close_and_drain(0);
    if let Err(e) = sh.uffd.unregister(PageRange::new(sh.base, sh.len)) {
        crate::fatal::fatal!("UFFDIO_UNREGISTER of the heap failed: {e}");
    }
    slot.close_and_drain(1);
    let used = p.old_top.offset_from(sh.base).next_multiple_of(PAGE);
    if used > 0 {
        // SAFETY: `[from_base, from_base + used)` is the heap's own from-space reservation;
        // every to-space page is installed and no handler is left, so nobody reads it again.
        let rc = unsafe { libc::madvise(sh.from_base.as_mut_ptr(), used, libc::MADV_DONTNEED) };
        debug_assert_eq!(rc, 0, "madvise(DONTNEED) of from-space failed");
    }
    sh.running.store(false, Ordering::Release);
}
