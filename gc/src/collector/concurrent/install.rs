//! Installing compacted pages into the registered heap (design note §2.5): the GC thread's
//! batched MOVE of a run of ready pages, and the allocator's zero pages for fresh TLABs.
//!
//! A run is installed with one `UFFDIO_MOVE` through `Uffd::install_pages`, which already
//! resumes after partial progress (EAGAIN), COPYs a busy source page (EBUSY), and skips a
//! destination a mutator installed first (EEXIST). Without MOVE (an older kernel) the run is
//! COPYed (§4.4).

use super::shared::{Counters, Shared};
use crate::address::{Address, PAGE};
use crate::config::FaultMode;
use crate::uffd::{Errno, FillStop, InstallReport, MoveFlags, PageRange, Wake};

/// The MOVE/COPY wake mode for this heap: threads blocked in the kernel exist only in
/// handler-thread mode.
pub fn wake_mode(sh: &Shared) -> Wake {
    match sh.fault_mode {
        FaultMode::Sigbus => Wake::DontWake,
        FaultMode::Thread => Wake::Wake,
    }
}

/// Installs `pages` compacted pages from the contiguous scratch run at `src` to heap pages
/// from `dst`; retries a run that stays contended. Aborts the process if the kernel refuses
/// (the heap would be left with holes).
///
/// # Safety
/// 1. `[dst, dst + pages * PAGE)` is in the heap's registered range, its pages' states are
///    `Ready` (owned by the caller), and no Rust reference points into it.
/// 2. `[src, src + pages * PAGE)` holds their compacted contents, is private anonymous memory
///    owned by the caller and not read afterwards (MOVEd pages read back as zeroes).
pub unsafe fn install_run(sh: &Shared, dst: Address, src: Address, pages: usize) -> InstallReport {
    let flags = match wake_mode(sh) {
        Wake::DontWake => MoveFlags::DONTWAKE,
        Wake::Wake => MoveFlags::WAKE,
    };
    let mut total = InstallReport::default();
    let mut off = 0usize;
    let mut tries = 0u32;
    while off < pages * PAGE {
        // SAFETY: rules 1-2 for a suffix of the run.
        let r = unsafe {
            sh.uffd
                .install_pages(dst.add(off), src.add(off), pages * PAGE - off, flags)
        };
        match r {
            Ok(rep) => {
                add(&mut total, rep);
                break;
            }
            Err(e) if e == Errno::EAGAIN && tries < 1000 => {
                // A COPY that stayed contended: nothing more is known to be installed;
                // retry the whole rest (installed pages answer EEXIST).
                tries += 1;
                std::thread::yield_now();
                off = 0;
            }
            Err(e) => fatal_install(e),
        }
    }
    Counters::add(&sh.counters.move_pages, total.moved as u64);
    Counters::add(&sh.counters.copy_pages, total.copied as u64);
    Counters::add(&sh.counters.busy_pages, total.copied as u64);
    Counters::add(&sh.counters.zeropage_pages, total.zeroed as u64);
    total
}

fn add(t: &mut InstallReport, r: InstallReport) {
    t.moved += r.moved;
    t.copied += r.copied;
    t.zeroed += r.zeroed;
    t.existing += r.existing;
    t.resumed += r.resumed;
}

fn fatal_install(e: Errno) -> ! {
    crate::fatal::fatal!("installing compacted pages failed: {e}")
}

/// Installs zero pages over `[from, to)` (page-aligned) of fresh allocation space, before the
/// allocator hands it out. Pages already present (a fault got there first) are skipped; a
/// range unregistered meanwhile (the cycle just ended) needs nothing.
pub fn install_fresh_range(sh: &Shared, from: Address, to: Address) {
    let mut at = from;
    while at < to {
        // SAFETY: fresh pages of the registered heap above the live data; nothing lives there
        // and no Rust reference points into them.
        let r = unsafe {
            sh.uffd
                .zeropage(PageRange::new(at, to.offset_from(at)), Wake::DontWake)
        };
        match r {
            Ok(f) => {
                Counters::add(&sh.counters.zeropage_pages, (f.done / PAGE) as u64);
                match f.stop {
                    FillStop::Done => return,
                    FillStop::DstExists => at = at.add(f.done + PAGE),
                    FillStop::Again => {
                        at = at.add(f.done);
                        std::thread::yield_now();
                    }
                }
            }
            Err(e) if e == Errno::EINVAL || e == Errno::ENOENT => return,
            Err(e) => fatal_install(e),
        }
    }
}
