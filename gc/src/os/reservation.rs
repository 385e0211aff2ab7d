//! Virtual memory reservations: reserved once, aligned, never `munmap`ed piecewise
//! (design note §1: a hole could be taken by another mapping and break the next `mremap`).

use crate::address::Address;
use std::io;

/// A private anonymous mapping of `len` bytes starting at an `align`-aligned address. Pages are
/// populated on first touch and returned with [`Reservation::discard`]. Unmapped on drop.
pub struct Reservation {
    base: Address,
    len: usize,
}

// SAFETY: a Reservation is only a range of address space; access to its memory is governed by
// whoever hands out the addresses, not by this handle.
unsafe impl Send for Reservation {}
// SAFETY: as above; `&Reservation` only exposes the range and madvise calls.
unsafe impl Sync for Reservation {}

impl Reservation {
    /// Reserves `len` bytes (a multiple of the page size) aligned to `align` (a power of two, at
    /// least a page), read-write, `MAP_NORESERVE`, without transparent huge pages and not
    /// inherited by `fork`.
    pub fn new(len: usize, align: usize) -> io::Result<Reservation> {
        assert!(align.is_power_of_two() && len > 0);
        let over = len
            .checked_add(align)
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        // SAFETY: a fresh anonymous mapping at an address the kernel chooses touches no existing
        // memory.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                over,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let raw = raw as usize;
        let base = (raw + align - 1) & !(align - 1);
        // Trim the over-allocation on both sides so that only the aligned range stays mapped.
        // This is the only munmap outside Drop, and it happens before anyone sees the range.
        if base > raw {
            // SAFETY: [raw, base) is part of the mapping just made and nobody else knows it.
            unsafe { libc::munmap(raw as *mut libc::c_void, base - raw) };
        }
        let end = base + len;
        if raw + over > end {
            // SAFETY: [end, raw + over) is the unused tail of the same fresh mapping.
            unsafe { libc::munmap(end as *mut libc::c_void, raw + over - end) };
        }
        let r = Reservation {
            base: Address(base),
            len,
        };
        // Advice failures are not fatal: they only cost performance.
        // SAFETY: the range is our own fresh mapping.
        unsafe {
            libc::madvise(base as *mut libc::c_void, len, libc::MADV_NOHUGEPAGE);
            libc::madvise(base as *mut libc::c_void, len, libc::MADV_DONTFORK);
        }
        Ok(r)
    }

    #[inline]
    pub fn base(&self) -> Address {
        self.base
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn end(&self) -> Address {
        self.base.add(self.len)
    }
    #[inline]
    pub fn contains(&self, a: Address) -> bool {
        a >= self.base && a < self.end()
    }

    /// Returns the pages of `[start, start + len)` to the OS; they read back as zeroes.
    /// Page-aligned bounds inside this reservation; the range stays mapped.
    pub fn discard(&self, start: Address, len: usize) {
        if len == 0 {
            return;
        }
        assert!(start >= self.base && start.add(len) <= self.end());
        assert!(start.is_aligned(crate::address::PAGE) && len.is_multiple_of(crate::address::PAGE));
        // SAFETY: the range lies inside our own mapping (checked above); MADV_DONTNEED on a
        // private anonymous mapping only drops contents, which the caller has given up.
        let rc = unsafe { libc::madvise(start.as_mut_ptr(), len, libc::MADV_DONTNEED) };
        debug_assert_eq!(rc, 0, "madvise(DONTNEED) failed");
    }

    /// Populates the pages of `[start, start + len)` writable in one call
    /// (`MADV_POPULATE_WRITE`), so that filling them does not take one page fault per page.
    /// Only an optimisation: an error (an old kernel) leaves the pages to fault in on demand.
    /// Page-aligned bounds inside this reservation.
    pub fn populate(&self, start: Address, len: usize) {
        if len == 0 {
            return;
        }
        assert!(start >= self.base && start.add(len) <= self.end());
        assert!(start.is_aligned(crate::address::PAGE) && len.is_multiple_of(crate::address::PAGE));
        // SAFETY: the range lies inside our own read-write private mapping; populating only
        // allocates zeroed pages where none are present and never changes present contents.
        unsafe { libc::madvise(start.as_mut_ptr(), len, libc::MADV_POPULATE_WRITE) };
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: we own the whole mapping; whoever handed out addresses in it is gone (the heap
        // owning this reservation is being dropped).
        unsafe { libc::munmap(self.base.as_mut_ptr(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_is_aligned_and_zeroed_after_discard() {
        let r = Reservation::new(1 << 30, 1 << 30).unwrap();
        assert!(r.base().is_aligned(1 << 30));
        let p: *mut u64 = r.base().as_mut_ptr();
        // SAFETY: the first page of our fresh read-write reservation.
        unsafe {
            p.write(42);
            assert_eq!(p.read(), 42);
        }
        r.discard(r.base(), 4096);
        // SAFETY: as above; the page is still mapped, now zero.
        unsafe { assert_eq!(p.read(), 0) };
    }
}
