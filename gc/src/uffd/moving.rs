//! `UFFDIO_MOVE` (Linux 6.8): remap whole pages from a source range into missing pages of a
//! registered range, without copying. The GC thread installs batches of compacted pages this
//! way (design note §2.5).
//!
//! Owns: the MOVE contract, path by path. The kernel stops a MOVE at the first page it cannot
//! move; if pages before it moved, the ioctl fails with EAGAIN and the `move` field holds the
//! bytes moved, else it fails with the page's own error. [`Uffd::move_pages`] resumes after
//! partial progress itself and stops at the first page that needs the caller:
//! - EEXIST → [`MoveStop::DstExists`]: the destination page is already mapped (a faulting
//!   mutator installed it first). Treat it as done; its source page was not consumed.
//! - ENOENT → [`MoveStop::SrcHole`]: the source page is not populated (it reads as zeroes).
//!   With [`MoveFlags::ALLOW_SRC_HOLES`] the kernel skips such pages silently instead, leaving
//!   the destination page missing; that is right only when a missing destination is acceptable
//!   (the range is about to be unregistered, or someone else installs that page). A heap page
//!   that must be present after the call must not be moved with it.
//! - EBUSY → [`MoveStop::SrcBusy`]: the source page is shared (fork, KSM) or pinned; it cannot
//!   be moved, only copied.
//! - EAGAIN without progress, repeatedly → [`MoveStop::Again`].
//!
//! [`Uffd::install_pages`] is the batch installer's policy on top: skip existing pages, COPY
//! busy (and contended) ones, ZEROPAGE holes. Must never be given a source that a Rust
//! reference points into: a moved-away page reads back as zeroes (design note §4.7).

use super::error::Errno;
use super::fd::Uffd;
use super::fill::{fill_loop, FillStop, RawFill};
use super::inject::{Injection, Op};
use super::ops::{PageRange, Wake};
use super::sys;
use crate::address::{Address, PAGE};
use std::ops::BitOr;
use std::os::fd::AsRawFd;

/// Mode bits of `UFFDIO_MOVE`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct MoveFlags(pub u64);

impl MoveFlags {
    /// Wake threads blocked on the destination (handler-thread mode).
    pub const WAKE: MoveFlags = MoveFlags(0);
    /// Do not wake blocked threads (SIGBUS mode: nobody waits).
    pub const DONTWAKE: MoveFlags = MoveFlags(sys::UFFDIO_MOVE_MODE_DONTWAKE);
    /// Skip unpopulated source pages instead of failing with ENOENT; their destination pages
    /// stay missing.
    pub const ALLOW_SRC_HOLES: MoveFlags = MoveFlags(sys::UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES);

    pub fn contains(self, other: MoveFlags) -> bool {
        self.0 & other.0 == other.0
    }
    fn wake(self) -> Wake {
        if self.contains(MoveFlags::DONTWAKE) {
            Wake::DontWake
        } else {
            Wake::Wake
        }
    }
}

impl BitOr for MoveFlags {
    type Output = MoveFlags;
    fn bitor(self, rhs: MoveFlags) -> MoveFlags {
        MoveFlags(self.0 | rhs.0)
    }
}

/// How a MOVE ended: `moved` bytes from the start were moved (source holes skipped under
/// ALLOW_SRC_HOLES count as moved), after resuming `resumed` times from partial progress; the
/// page at offset `moved` is the one `stop` is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MoveResult {
    pub moved: usize,
    pub resumed: u32,
    pub stop: MoveStop,
}

/// Why a MOVE stopped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MoveStop {
    /// All of the range moved.
    Done,
    /// EEXIST: the destination page is already mapped; treat as installed, skip it.
    DstExists,
    /// ENOENT: the source page is a hole (only without ALLOW_SRC_HOLES).
    SrcHole,
    /// EBUSY: the source page is shared or pinned; COPY it instead.
    SrcBusy,
    /// EAGAIN with no progress, repeatedly; COPY the page or try again later.
    Again,
}

/// What [`Uffd::install_pages`] did, in pages.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct InstallReport {
    /// Installed by MOVE (including source holes skipped under ALLOW_SRC_HOLES).
    pub moved: usize,
    /// Installed by COPY because MOVE could not take the source page (EBUSY, or contended).
    pub copied: usize,
    /// Installed by ZEROPAGE because the source page was a hole.
    pub zeroed: usize,
    /// Already mapped by someone else (EEXIST); their source pages were not consumed.
    pub existing: usize,
    /// Times a MOVE was resumed after partial progress.
    pub resumed: u32,
}

impl Uffd {
    /// Moves `len` bytes of pages from `src` to the missing pages at `dst`, resuming after
    /// partial progress, stopping at the first page that needs the caller (see the module
    /// documentation). Allocation-free.
    ///
    /// # Safety
    /// 1. `[dst, dst + len)` lies in a range registered with this uffd, and no Rust reference
    ///    points into it.
    /// 2. `[src, src + len)` is private anonymous memory of this process owned by the caller,
    ///    not written during the call, and no Rust reference points into it: every page moved
    ///    away reads back as zeroes afterwards.
    /// 3. The two ranges do not overlap; both are page-aligned and `len` is a non-zero multiple
    ///    of the page size (else EINVAL, no harm done).
    ///
    /// Fails with EOPNOTSUPP, moving nothing, if MOVE was not negotiated on this uffd (the kernel
    /// itself does not check: 6.18 moves pages for a uffd that never asked for the feature, so
    /// only the handshake tells whether the ioctl exists).
    pub unsafe fn move_pages(
        &self,
        dst: Address,
        src: Address,
        len: usize,
        flags: MoveFlags,
    ) -> Result<MoveResult, Errno> {
        if !self.has_move() {
            return Err(Errno::EOPNOTSUPP);
        }
        if !PageRange::new(dst, len).is_valid() || !PageRange::new(src, len).is_valid() {
            return Err(Errno::EINVAL);
        }
        let (moved, resumed, stop) = fill_loop(
            len,
            // SAFETY: rules 1-3 hold for every suffix of the ranges the loop passes on.
            |off, rest| unsafe { self.move_once(dst.add(off), src.add(off), rest, flags.0) },
            |e| match e.0 {
                libc::EEXIST => Some(MoveStop::DstExists),
                libc::ENOENT => Some(MoveStop::SrcHole),
                libc::EBUSY => Some(MoveStop::SrcBusy),
                _ => None,
            },
            MoveStop::Again,
        )?;
        Ok(MoveResult {
            moved,
            resumed,
            stop: stop.unwrap_or(MoveStop::Done),
        })
    }

    /// Installs `len` bytes of ready pages from `src` at `dst`, MOVE first, and every page MOVE
    /// cannot take by other means: an already mapped destination is skipped (EEXIST: a mutator
    /// won the race), a busy or contended source page is COPYed, a source hole becomes a
    /// ZEROPAGE (the hole's contents are zeroes) unless `flags` has ALLOW_SRC_HOLES. Without
    /// MOVE negotiated, the whole run is COPYed (design note §4.4). After `Ok` every
    /// destination page is mapped, except holes skipped under ALLOW_SRC_HOLES. Allocation-free.
    ///
    /// # Safety
    /// The rules of [`Uffd::move_pages`]. Source pages of skipped (existing) destinations keep
    /// their contents; every other source page reads as zeroes afterwards or is unchanged
    /// (copied), so the caller must not rely on either.
    pub unsafe fn install_pages(
        &self,
        dst: Address,
        src: Address,
        len: usize,
        flags: MoveFlags,
    ) -> Result<InstallReport, Errno> {
        let mut report = InstallReport::default();
        if !self.has_move() {
            // SAFETY: the caller's rules; COPY only reads the source.
            unsafe { self.copy_run(dst, src, len, flags.wake(), &mut report)? };
            return Ok(report);
        }
        let mut off = 0;
        while off < len {
            // SAFETY: the caller's rules, for a suffix of its ranges.
            let r = unsafe { self.move_pages(dst.add(off), src.add(off), len - off, flags)? };
            report.moved += r.moved / PAGE;
            report.resumed += r.resumed;
            off += r.moved;
            let (page_dst, page_src) = (dst.add(off), src.add(off));
            let filled = match r.stop {
                MoveStop::Done => break,
                MoveStop::DstExists => {
                    report.existing += 1;
                    off += PAGE;
                    continue;
                }
                MoveStop::SrcBusy | MoveStop::Again => {
                    // SAFETY: one page of the caller's ranges; COPY only reads the source.
                    let c = unsafe { self.copy(page_dst, page_src, PAGE, flags.wake())? };
                    (c, &mut report.copied)
                }
                MoveStop::SrcHole => {
                    // SAFETY: one page of the caller's registered destination range.
                    let z = unsafe { self.zeropage(PageRange::new(page_dst, PAGE), flags.wake())? };
                    (z, &mut report.zeroed)
                }
            };
            match filled.0.stop {
                FillStop::Done => *filled.1 += 1,
                FillStop::DstExists => report.existing += 1,
                FillStop::Again => return Err(Errno::EAGAIN),
            }
            off += PAGE;
        }
        Ok(report)
    }

    /// COPYs a run, skipping pages already mapped.
    ///
    /// # Safety
    /// The rules of [`Uffd::copy`] for this run.
    unsafe fn copy_run(
        &self,
        dst: Address,
        src: Address,
        len: usize,
        wake: Wake,
        report: &mut InstallReport,
    ) -> Result<(), Errno> {
        let mut off = 0;
        while off < len {
            // SAFETY: a suffix of the caller's run.
            let c = unsafe { self.copy(dst.add(off), src.add(off), len - off, wake)? };
            report.copied += c.done / PAGE;
            off += c.done;
            match c.stop {
                FillStop::Done => {}
                FillStop::DstExists => {
                    report.existing += 1;
                    off += PAGE;
                }
                FillStop::Again => return Err(Errno::EAGAIN),
            }
        }
        Ok(())
    }

    /// One `UFFDIO_MOVE`, through the injection seam.
    ///
    /// # Safety
    /// The rules of [`Uffd::move_pages`] for this range.
    unsafe fn move_once(&self, dst: Address, src: Address, len: usize, mode: u64) -> RawFill {
        let injected = match self.inject().take(Op::Move) {
            Some(Injection::MoveAgain { after }) => Some((after, Errno::EAGAIN)),
            Some(Injection::MoveBusy { after }) => Some((after, Errno::EBUSY)),
            Some(Injection::CopyAgain { .. }) | None => None,
        };
        if let Some((after, error)) = injected {
            if after < len {
                self.inject().note_fired();
                if after == 0 {
                    return Err((error, -(error.0 as i64)));
                }
                // SAFETY: a prefix of a range the caller vouched for.
                unsafe { self.move_raw(dst, src, after, mode)? };
                if error == Errno::EBUSY {
                    // The busy page is now first in line: the resumed call must meet it.
                    self.inject().arm(Injection::MoveBusy { after: 0 });
                }
                return Err((Errno::EAGAIN, after as i64));
            }
        }
        // SAFETY: the caller's rules, unchanged.
        unsafe { self.move_raw(dst, src, len, mode) }
    }

    /// The `UFFDIO_MOVE` system call itself.
    ///
    /// # Safety
    /// The rules of [`Uffd::move_pages`] for this range.
    unsafe fn move_raw(&self, dst: Address, src: Address, len: usize, mode: u64) -> RawFill {
        let mut arg = sys::UffdioMove {
            dst: dst.as_usize() as u64,
            src: src.as_usize() as u64,
            len: len as u64,
            mode,
            moved: 0,
        };
        // SAFETY: `arg` is a valid, writable uffdio_move for the call; the kernel remaps pages
        // of the source into the destination under the caller's rules 1-3.
        let rc = unsafe { libc::ioctl(self.as_raw_fd(), sys::UFFDIO_MOVE, &mut arg) };
        if rc < 0 {
            return Err((Errno::last(), arg.moved));
        }
        Ok(())
    }
}
