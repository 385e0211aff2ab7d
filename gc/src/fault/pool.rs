//! Scratch pages for fault handlers: one process-wide mapping prepared in advance (before any
//! heap is registered), from which a handler claims a page with an atomic bit operation and
//! gives it back when it returns (design note §4.2: no allocation in the handler). A page is
//! only ever a COPY source, never MOVEd, so it stays populated and warm; the lowest free page
//! is taken first, so the same few pages are reused.

use crate::address::{Address, PAGE};
use crate::os::reservation::Reservation;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Pages in the pool: at most this many threads can compact a page in a handler at once; a
/// handler that finds none free waits for the GC thread to install its page instead.
pub const POOL_PAGES: usize = 256;
/// Pages populated when the pool is made, so the first handlers do not take a page fault.
const PREPOPULATED: usize = 16;

static POOL: OnceLock<Reservation> = OnceLock::new();
static BASE: AtomicUsize = AtomicUsize::new(0);
static TAKEN: [AtomicU64; POOL_PAGES / 64] = [const { AtomicU64::new(0) }; POOL_PAGES / 64];

/// Makes the pool (once per process). Not async-signal-safe: call before registering a heap.
pub fn prepare() -> std::io::Result<()> {
    if POOL.get().is_some() {
        return Ok(());
    }
    let r = Reservation::new(POOL_PAGES * PAGE, PAGE)?;
    r.populate(r.base(), PREPOPULATED * PAGE);
    let base = r.base().as_usize();
    if POOL.set(r).is_ok() {
        BASE.store(base, Ordering::Release);
    }
    Ok(())
}

/// A claimed scratch page, returned to the pool on drop.
pub struct ScratchPage {
    index: usize,
}

impl ScratchPage {
    pub fn addr(&self) -> Address {
        Address(BASE.load(Ordering::Acquire) + self.index * PAGE)
    }
}

impl Drop for ScratchPage {
    fn drop(&mut self) {
        TAKEN[self.index / 64].fetch_and(!(1 << (self.index % 64)), Ordering::Release);
    }
}

/// Claims the lowest free page; `None` if the pool is not made or every page is in use.
/// Async-signal-safe.
pub fn claim() -> Option<ScratchPage> {
    if BASE.load(Ordering::Acquire) == 0 {
        return None;
    }
    for (w, word) in TAKEN.iter().enumerate() {
        let mut cur = word.load(Ordering::Relaxed);
        while cur != u64::MAX {
            let bit = (!cur).trailing_zeros() as usize;
            match word.compare_exchange_weak(
                cur,
                cur | (1 << bit),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(ScratchPage {
                        index: w * 64 + bit,
                    })
                }
                Err(now) => cur = now,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_distinct_and_returned() {
        prepare().unwrap();
        let a = claim().unwrap();
        let b = claim().unwrap();
        assert_ne!(a.addr(), b.addr());
        let (ia, addr_a) = (a.index, a.addr());
        drop(a);
        // The lowest free page is taken first (other tests may hold some concurrently).
        let c = claim().unwrap();
        assert!(c.index <= ia || c.addr() != addr_a);
        // SAFETY: a claimed page of the pool is ours to write.
        unsafe { c.addr().as_mut_ptr::<u64>().write(7) };
    }
}
