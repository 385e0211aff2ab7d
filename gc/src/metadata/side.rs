//! A typed array in its own `MAP_NORESERVE` reservation, off the heap: the storage of every side
//! table. Only the touched prefix costs memory, and resetting gives that prefix back.

use crate::address::PAGE;
use crate::os::reservation::Reservation;
use std::io;
use std::marker::PhantomData;

/// Element types that are valid when all-zero and can be shared between threads (atomics).
///
/// # Safety
/// 1. The all-zero bit pattern is a valid value of the type, and the type has no drop glue.
pub unsafe trait ZeroValid: Sync {}
// SAFETY: atomics of integers are valid at zero and trivially dropped.
unsafe impl ZeroValid for std::sync::atomic::AtomicU64 {}
// SAFETY: as above.
unsafe impl ZeroValid for std::sync::atomic::AtomicUsize {}
// SAFETY: as above.
unsafe impl ZeroValid for std::sync::atomic::AtomicU8 {}

/// Below this many bytes a reset writes zeroes; above it, `MADV_DONTNEED` is cheaper than
/// touching the memory (and returns it to the OS).
const MADVISE_THRESHOLD: usize = 64 << 10;

/// `len` zero-initialised elements of `T` in a private reservation.
pub struct SideArray<T: ZeroValid> {
    mem: Reservation,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: ZeroValid> SideArray<T> {
    pub fn new(len: usize) -> io::Result<Self> {
        let bytes = (len.max(1) * std::mem::size_of::<T>()).next_multiple_of(PAGE);
        let mem = Reservation::new(bytes, PAGE)?;
        Ok(SideArray {
            mem,
            len,
            _t: PhantomData,
        })
    }

    #[inline(always)]
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the reservation is mapped read-write for at least `len * size_of::<T>()`
        // bytes, page-aligned (so aligned for T), zero-filled on first touch, and zero is a
        // valid T (ZeroValid rule 1); it lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.mem.base().as_ptr::<T>(), self.len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Zeroes elements `[0, n)`. `&mut self` proves that no slice of the array is alive.
    /// Zeroes the first `n` entries (or gives their pages back).
    ///
    /// # Safety
    /// 1. No other thread reads or writes the prefix during the call.
    pub unsafe fn reset_prefix(&self, n: usize) {
        let n = n.min(self.len);
        let bytes = n * std::mem::size_of::<T>();
        if bytes == 0 {
            return;
        }
        if bytes < MADVISE_THRESHOLD {
            // SAFETY: `[base, base + bytes)` lies in our mapping; nobody accesses it meanwhile
            // (rule 1); zero is a valid T (ZeroValid rule 1).
            unsafe { std::ptr::write_bytes(self.mem.base().as_mut_ptr::<u8>(), 0, bytes) };
        } else {
            self.mem
                .discard(self.mem.base(), bytes.next_multiple_of(PAGE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    #[test]
    fn reset_zeroes_small_and_large_prefixes() {
        let a: SideArray<AtomicU64> = SideArray::new(1 << 20).unwrap();
        for n in [10usize, 100_000] {
            for i in 0..n {
                a.as_slice()[i].store(i as u64 + 1, Relaxed);
            }
            // SAFETY: the test's table, on this thread alone.
            unsafe { a.reset_prefix(n) };
            assert!(a.as_slice()[..n].iter().all(|x| x.load(Relaxed) == 0));
        }
    }
}
