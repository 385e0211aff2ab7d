//! Moving every page of the heap into from-space in one system call (design note §2.4 and §2.8):
//! `mremap(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)`. The source range keeps its mapping
//! (same flags, now empty, zero-fill on demand) and the destination reservation's old mapping is
//! replaced by the source's pages. Both ranges stay mapped, so no hole ever appears.

use super::reservation::Reservation;
use std::io;

/// Moves all pages of `src` to `dst`, leaving `src` mapped and empty.
///
/// # Safety
/// 1. `src` and `dst` have the same length and are distinct reservations owned by the caller.
/// 2. Nothing reads or writes either range during the call, and nobody holds a Rust reference
///    into either range: their contents change under the caller's feet (src reads as zeroes
///    afterwards, dst holds what src held).
pub unsafe fn move_all_pages(src: &Reservation, dst: &Reservation) -> io::Result<()> {
    debug_assert_eq!(src.len(), dst.len());
    // SAFETY: rule 1 gives two whole mappings of equal size that we own; MREMAP_FIXED replaces
    // only `dst`'s own mapping; rule 2 makes the change of contents unobservable.
    let rc = unsafe {
        libc::mremap(
            src.base().as_mut_ptr(),
            src.len(),
            dst.len(),
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | libc::MREMAP_DONTUNMAP,
            dst.base().as_mut_ptr::<libc::c_void>(),
        )
    };
    if rc == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    debug_assert_eq!(rc as usize, dst.base().as_usize());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_move_and_source_reads_zero() {
        let a = Reservation::new(1 << 30, 1 << 30).unwrap();
        let b = Reservation::new(1 << 30, 1 << 30).unwrap();
        let pa: *mut u64 = a.base().add(8192).as_mut_ptr();
        // SAFETY: a page inside our fresh read-write reservation.
        unsafe { pa.write(0xfeed) };
        // SAFETY: equal-sized distinct reservations; no references into them are held.
        unsafe { move_all_pages(&a, &b).unwrap() };
        let pb: *const u64 = b.base().add(8192).as_ptr();
        // SAFETY: both ranges are still mapped read-write after the move.
        unsafe {
            assert_eq!(pb.read(), 0xfeed);
            assert_eq!(pa.read(), 0);
        }
        // A second move works too (the heap does one per cycle).
        // SAFETY: as above.
        unsafe { move_all_pages(&a, &b).unwrap() };
        // SAFETY: as above.
        unsafe { assert_eq!(pb.read(), 0) };
    }
}
