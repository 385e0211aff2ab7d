//! The two lock primitives of shared tables, and how a waiter backs off. Both are try-locks
//! only: a VM thread that has to wait spins in its own loop and polls the collector's
//! safepoint flag between tries (sync.rs), so that waiting for a lock never keeps a pause
//! waiting.
//!
//! - [`HeaderLock`]: one bit of an object's header word, so the lock moves with the object
//!   (an address-keyed lock table would not survive compaction). The other header bits (size
//!   and tag) never change while the object lives, and the collector's reading of them masks
//!   the bit out (object.rs).
//! - [`SpinLock`]: a lock of its own, for tables that live outside any object (the globals,
//!   the intern and code tables in `Shared`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The header bit a [`HeaderLock`] uses: above the size (bits 8..56) and the tag (0..8).
pub const LOCK_BIT: u64 = 1 << 63;

/// Operations on the lock bit of a header word.
pub struct HeaderLock;

impl HeaderLock {
    /// Sets the lock bit if it is clear; true if this call set it. Acquire: what the previous
    /// holder wrote before unlocking is visible after.
    #[inline(always)]
    pub fn try_lock(header: &AtomicU64) -> bool {
        let h = header.load(Ordering::Relaxed);
        h & LOCK_BIT == 0
            && header
                .compare_exchange_weak(h, h | LOCK_BIT, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Clears the lock bit, which the caller set. A plain release store: nobody else changes
    /// the word while the bit is set (the other bits are constant, and other lockers' CAS
    /// fails), so there is nothing to merge.
    #[inline(always)]
    pub fn unlock(header: &AtomicU64) {
        let h = header.load(Ordering::Relaxed);
        debug_assert!(h & LOCK_BIT != 0, "unlocking a header lock not held");
        header.store(h & !LOCK_BIT, Ordering::Release);
    }

    /// Whether the bit is set (for assertions and tests).
    pub fn is_locked(header: &AtomicU64) -> bool {
        header.load(Ordering::Relaxed) & LOCK_BIT != 0
    }
}

/// A test-and-test-and-set lock word.
#[derive(Default)]
pub struct SpinLock(AtomicBool);

impl SpinLock {
    pub const fn new() -> SpinLock {
        SpinLock(AtomicBool::new(false))
    }

    /// Takes the lock if it is free; true if this call took it.
    #[inline(always)]
    pub fn try_lock(&self) -> bool {
        !self.0.load(Ordering::Relaxed)
            && self
                .0
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Releases the lock, which the caller holds.
    #[inline(always)]
    pub fn unlock(&self) {
        debug_assert!(
            self.0.load(Ordering::Relaxed),
            "unlocking a spin lock not held"
        );
        self.0.store(false, Ordering::Release);
    }

    /// Whether some thread holds it (for tests).
    #[cfg(test)]
    pub fn is_locked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// One step of a waiter's back-off after its `spins`-th failed try: a CPU pause at first, then
/// giving the core away. With more runnable threads than cores (two cores here) the holder may
/// be descheduled, and spinning on would only burn its time slice.
#[inline]
pub fn back_off(spins: &mut u32) {
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
    *spins = spins.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{header, tag};
    use std::cell::UnsafeCell;
    use std::sync::Arc;

    /// A counter only ever touched under a lock of the test.
    struct Guarded(UnsafeCell<u64>);
    // SAFETY: every access in these tests is made while holding the lock under test; that the
    // lock excludes is what the tests check.
    unsafe impl Sync for Guarded {}

    impl Guarded {
        /// # Safety
        /// 1. The caller holds the lock under test.
        unsafe fn bump(&self) {
            // SAFETY: rule 1: no other thread touches the counter meanwhile.
            unsafe { *self.0.get() += 1 };
        }
    }

    const ROUNDS: u64 = 200_000;

    /// Two threads increment a plain counter under the lock, taking it by spinning with back-off:
    /// no increment is lost, so the lock excluded them.
    fn hammer(take: impl Fn(&mut u32) + Sync, release: impl Fn() + Sync) -> u64 {
        let counter = Guarded(UnsafeCell::new(0));
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..ROUNDS {
                        let mut spins = 0;
                        take(&mut spins);
                        // SAFETY: rule 1: `take` returned holding the lock.
                        unsafe { counter.bump() };
                        release();
                    }
                });
            }
        });
        counter.0.into_inner()
    }

    #[test]
    fn a_header_lock_bit_excludes_and_keeps_the_header() {
        let h = header(tag::INSTANCE, 4);
        let word = Arc::new(AtomicU64::new(h));
        let total = hammer(
            |spins| {
                while !HeaderLock::try_lock(&word) {
                    back_off(spins);
                }
            },
            || HeaderLock::unlock(&word),
        );
        assert_eq!(total, 2 * ROUNDS);
        assert_eq!(word.load(Ordering::Relaxed), h, "size and tag survive");
        assert!(!HeaderLock::is_locked(&word));
        assert!(HeaderLock::try_lock(&word));
        assert!(!HeaderLock::try_lock(&word), "held");
        assert_eq!(word.load(Ordering::Relaxed), h | LOCK_BIT);
        HeaderLock::unlock(&word);
        assert_eq!(word.load(Ordering::Relaxed), h);
    }

    #[test]
    fn a_spin_lock_excludes() {
        let lock = SpinLock::new();
        let total = hammer(
            |spins| {
                while !lock.try_lock() {
                    back_off(spins);
                }
            },
            || lock.unlock(),
        );
        assert_eq!(total, 2 * ROUNDS);
        assert!(!lock.is_locked());
        assert!(lock.try_lock() && !lock.try_lock());
        lock.unlock();
    }
}
