//! Registration and the filling ioctls other than MOVE: `UFFDIO_REGISTER` (MISSING mode),
//! `UFFDIO_UNREGISTER`, `UFFDIO_WAKE`, `UFFDIO_COPY`, `UFFDIO_ZEROPAGE`.
//!
//! Owns: the range type, the argument checks, and COPY/ZEROPAGE's outcomes through the resume
//! loop of `fill`: callers see either "all done" or "stopped at this page because it is already
//! mapped" (EEXIST: someone else installed it — treat as done). Must never be given an address
//! inside a Rust object: the ranges are raw address space that the caller's protocol governs.

use super::error::Errno;
use super::fd::Uffd;
use super::fill::{fill_loop, FillResult, FillStop, RawFill};
use super::inject::{Injection, Op};
use super::sys;
use crate::address::{Address, PAGE};
use std::os::fd::AsRawFd;

/// A page-aligned, non-empty range of address space.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PageRange {
    pub start: Address,
    pub len: usize,
}

impl PageRange {
    pub fn new(start: Address, len: usize) -> PageRange {
        PageRange { start, len }
    }
    pub fn end(self) -> Address {
        self.start.add(self.len)
    }
    /// Page-aligned, non-empty and not wrapping: what every range ioctl demands.
    pub fn is_valid(self) -> bool {
        self.start.is_aligned(PAGE)
            && self.len.is_multiple_of(PAGE)
            && self.len > 0
            && self.start.as_usize().checked_add(self.len).is_some()
    }
    fn raw(self) -> sys::UffdioRange {
        sys::UffdioRange {
            start: self.start.as_usize() as u64,
            len: self.len as u64,
        }
    }
}

/// The range ioctls the kernel allows on a registered range (its answer to `UFFDIO_REGISTER`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RangeIoctls(pub u64);

impl RangeIoctls {
    fn has(self, nr: u32) -> bool {
        self.0 & (1 << nr) != 0
    }
    pub fn copy(self) -> bool {
        self.has(sys::NR_COPY)
    }
    pub fn zeropage(self) -> bool {
        self.has(sys::NR_ZEROPAGE)
    }
    pub fn wake(self) -> bool {
        self.has(sys::NR_WAKE)
    }
    /// `UFFDIO_MOVE` on this range. The kernel lists it whenever it knows the ioctl, whether or
    /// not MOVE was negotiated; [`Uffd::has_move`] is the one to ask.
    pub fn move_pages(self) -> bool {
        self.has(sys::NR_MOVE)
    }
}

/// Whether a filling ioctl wakes threads blocked on the filled range (handler-thread mode).
/// In SIGBUS mode nothing ever waits, so `DontWake` skips the wake-up walk.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Wake {
    Wake,
    DontWake,
}

impl Uffd {
    /// Registers `range` for MISSING faults and returns the ioctls the kernel allows on it.
    ///
    /// # Safety
    /// 1. `range` is a whole private anonymous mapping (or the whole of several) owned by the
    ///    caller: registering part of a mapping splits its VMA (design note §4.6).
    /// 2. No Rust object and nothing outside the caller's protocol lives in `range`: from now on
    ///    every touch of a missing page blocks (handler-thread mode) or raises SIGBUS (SIGBUS
    ///    mode) until the caller installs it, and a kernel access to it fails with EFAULT.
    pub unsafe fn register_missing(&self, range: PageRange) -> Result<RangeIoctls, Errno> {
        if !range.is_valid() {
            return Err(Errno::EINVAL);
        }
        let mut reg = sys::UffdioRegister {
            range: range.raw(),
            mode: sys::UFFDIO_REGISTER_MODE_MISSING,
            ioctls: 0,
        };
        // SAFETY: `reg` is a valid, writable uffdio_register for the duration of the call; the
        // kernel reads only the range (rules 1-2 make registering it the caller's decision).
        let rc = unsafe { libc::ioctl(self.as_raw_fd(), sys::UFFDIO_REGISTER, &mut reg) };
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(RangeIoctls(reg.ioctls))
    }

    /// Unregisters `range`: its missing pages become ordinary zero-fill-on-demand again, and
    /// threads blocked on faults in it are woken (they retry and see a zero page). Unregistering
    /// a range that is not registered is not an error.
    pub fn unregister(&self, range: PageRange) -> Result<(), Errno> {
        if !range.is_valid() {
            return Err(Errno::EINVAL);
        }
        let mut raw = range.raw();
        // SAFETY: `raw` is a valid uffdio_range the kernel only reads; unregistering changes no
        // memory contents.
        let rc = unsafe { libc::ioctl(self.as_raw_fd(), sys::UFFDIO_UNREGISTER, &mut raw) };
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// Wakes threads blocked on faults in `range` (after a fill with [`Wake::DontWake`]). They
    /// retry their access; a page still missing blocks them again.
    pub fn wake(&self, range: PageRange) -> Result<(), Errno> {
        if !range.is_valid() {
            return Err(Errno::EINVAL);
        }
        let mut raw = range.raw();
        // SAFETY: `raw` is a valid uffdio_range the kernel only reads; waking touches no memory.
        let rc = unsafe { libc::ioctl(self.as_raw_fd(), sys::UFFDIO_WAKE, &mut raw) };
        if rc < 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// Copies `len` bytes from `src` into the missing pages at `dst` (`UFFDIO_COPY`), resuming
    /// after partial progress. Stops at the first destination page already mapped.
    ///
    /// # Safety
    /// 1. `[dst, dst + len)` lies in a range registered with this uffd, and no Rust reference
    ///    points into it (its contents appear under the caller's feet).
    /// 2. `[src, src + len)` is mapped readable and is not written during the call (the kernel
    ///    would copy a torn page); it may be anything else, including a heap's from-space.
    /// 3. Both ranges are page-aligned and `len` is a non-zero multiple of the page size (else
    ///    EINVAL, no harm done).
    pub unsafe fn copy(
        &self,
        dst: Address,
        src: Address,
        len: usize,
        wake: Wake,
    ) -> Result<FillResult, Errno> {
        if !PageRange::new(dst, len).is_valid() || !PageRange::new(src, len).is_valid() {
            return Err(Errno::EINVAL);
        }
        let mode = match wake {
            Wake::Wake => 0,
            Wake::DontWake => sys::UFFDIO_COPY_MODE_DONTWAKE,
        };
        let (done, resumed, stop) = fill_loop(
            len,
            // SAFETY: rules 1-3 hold for every suffix of the ranges the loop passes on.
            |off, rest| unsafe { self.copy_once(dst.add(off), src.add(off), rest, mode) },
            |e| (e == Errno::EEXIST).then_some(FillStop::DstExists),
            FillStop::Again,
        )?;
        Ok(FillResult {
            done,
            resumed,
            stop: stop.unwrap_or(FillStop::Done),
        })
    }

    /// One `UFFDIO_COPY`, through the injection seam.
    ///
    /// # Safety
    /// The rules of [`Uffd::copy`] for this range.
    unsafe fn copy_once(&self, dst: Address, src: Address, len: usize, mode: u64) -> RawFill {
        if let Some(Injection::CopyAgain { after }) = self.inject().take(Op::Copy) {
            if after < len {
                self.inject().note_fired();
                if after == 0 {
                    return Err((Errno::EAGAIN, -(libc::EAGAIN as i64)));
                }
                // SAFETY: a prefix of a range the caller vouched for.
                unsafe { self.copy_raw(dst, src, after, mode)? };
                return Err((Errno::EAGAIN, after as i64));
            }
        }
        // SAFETY: the caller's rules, unchanged.
        unsafe { self.copy_raw(dst, src, len, mode) }
    }

    /// The `UFFDIO_COPY` system call itself.
    ///
    /// # Safety
    /// The rules of [`Uffd::copy`] for this range.
    unsafe fn copy_raw(&self, dst: Address, src: Address, len: usize, mode: u64) -> RawFill {
        let mut arg = sys::UffdioCopy {
            dst: dst.as_usize() as u64,
            src: src.as_usize() as u64,
            len: len as u64,
            mode,
            copy: 0,
        };
        // SAFETY: `arg` is a valid, writable uffdio_copy for the call; the kernel reads the
        // source and fills the destination under the caller's rules 1-2.
        let rc = unsafe { libc::ioctl(self.as_raw_fd(), sys::UFFDIO_COPY, &mut arg) };
        if rc < 0 {
            return Err((Errno::last(), arg.copy));
        }
        Ok(())
    }

    /// Maps the shared zero page at the missing pages of `range` (`UFFDIO_ZEROPAGE`), resuming
    /// after partial progress. A later write to such a page takes an ordinary copy-on-write
    /// fault, not a userfault. Stops at the first page already mapped.
    ///
    /// # Safety
    /// 1. `range` lies in a range registered with this uffd, and no Rust reference points into
    ///    it.
    pub unsafe fn zeropage(&self, range: PageRange, wake: Wake) -> Result<FillResult, Errno> {
        if !range.is_valid() {
            return Err(Errno::EINVAL);
        }
        let mode = match wake {
            Wake::Wake => 0,
            Wake::DontWake => sys::UFFDIO_ZEROPAGE_MODE_DONTWAKE,
        };
        let fd = self.as_raw_fd();
        let (done, resumed, stop) = fill_loop(
            range.len,
            |off, rest| {
                let mut arg = sys::UffdioZeropage {
                    range: PageRange::new(range.start.add(off), rest).raw(),
                    mode,
                    zeropage: 0,
                };
                // SAFETY: `arg` is a valid, writable uffdio_zeropage for the call; the range is
                // a suffix of the caller's, covered by rule 1.
                let rc = unsafe { libc::ioctl(fd, sys::UFFDIO_ZEROPAGE, &mut arg) };
                if rc < 0 {
                    return Err((Errno::last(), arg.zeropage));
                }
                Ok(())
            },
            |e| (e == Errno::EEXIST).then_some(FillStop::DstExists),
            FillStop::Again,
        )?;
        Ok(FillResult {
            done,
            resumed,
            stop: stop.unwrap_or(FillStop::Done),
        })
    }
}
