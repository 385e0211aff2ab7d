//! The whole SIGBUS path of concurrent compaction (design note §2.6, §4.2, §4.3), in one file:
//! the process-wide handler → find the heap → enter its cycle → find the page → claim it →
//! compact it into a scratch page → install it with `UFFDIO_COPY` → publish `Mapped`, or wait
//! for the thread that claimed it, or install a `Ready` page ourselves. The handler thread of
//! `FaultMode::Thread` resolves its faults with the same [`handle_fault`].
//!
//! Everything reachable from `on_sigbus` is async-signal-safe: no allocation, no lock, no
//! logging, no panic (a failure that cannot be recovered writes a fixed message with write(2)
//! and aborts), no lazily initialised thread-local; waiting is spinning, `sched_yield` and a raw
//! futex. It reads only from-space and side metadata, and writes only its scratch page, page
//! states and preallocated counters.

use super::pool;
use super::registry::{self, Phase, Slot};
use crate::address::{Address, PAGE};
use crate::collector::concurrent::shared::{CycleParams, Shared};
use crate::fatal::die;
use crate::metadata::pages::PageState;
use crate::os::clock::monotonic_ns;
use crate::uffd::{Errno, FillStop, PageRange, Wake};
use std::cell::UnsafeCell;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// The disposition of SIGBUS before ours, for chaining. Written once, under `INSTALL`, before
/// our handler is installed (so before any call of the handler can read it).
struct PrevAction(UnsafeCell<Option<libc::sigaction>>);
// SAFETY: written once before the handler that reads it is installed (the sigaction system
// call orders the write before any delivery); read-only afterwards.
unsafe impl Sync for PrevAction {}
static PREV: PrevAction = PrevAction(UnsafeCell::new(None));
static INSTALL: Mutex<bool> = Mutex::new(false);

/// Installs the process-wide SIGBUS handler, once (later calls do nothing). Not itself
/// async-signal-safe; call it when a heap is created.
pub fn install() -> std::io::Result<()> {
    let mut installed = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return Ok(());
    }
    // SAFETY: an all-zero sigaction is a valid value of this plain C struct.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reading the current disposition into a valid struct.
    if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: our handler is not installed yet, so nothing reads PREV; INSTALL serialises
    // writers.
    unsafe { *PREV.0.get() = Some(old) };
    // SAFETY: as above, zero is valid; we fill handler, mask and flags.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = on_sigbus as *const () as usize;
    // No SA_ONSTACK (design note §4.2): compaction must not run on std's small alternate
    // stack. No SA_NODEFER: a SIGBUS inside the handler would be a bug; the kernel then kills.
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: `sa` is valid; replacing the process's SIGBUS disposition is this function's job.
    let rc = unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    *installed = true;
    Ok(())
}

/// The SIGBUS handler. The interrupted code's `errno` is saved first and restored on return:
/// the handler's ioctls and futex calls set it (EEXIST is routine), and the interrupted code
/// may be between a failing call and its read of `errno`.
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    let _errno = SavedErrno::save();
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if code == libc::BUS_ADRERR {
        if let Some(slot) = registry::find(addr) {
            handle_fault(slot, Address(addr), Wake::DontWake);
            return;
        }
    }
    // SAFETY: forwarding the arguments the kernel gave us.
    unsafe { chain(sig, info, uctx) }
}

/// The calling thread's `errno`, put back when dropped. Async-signal-safe: errno lives in the
/// thread's static TLS, set up before the thread ran any code of ours.
pub(crate) struct SavedErrno(libc::c_int);

impl SavedErrno {
    pub(crate) fn save() -> SavedErrno {
        // SAFETY: __errno_location returns this thread's errno slot, valid for its lifetime.
        SavedErrno(unsafe { *libc::__errno_location() })
    }
}

impl Drop for SavedErrno {
    fn drop(&mut self) {
        // SAFETY: as in `save`: this thread's own errno slot.
        unsafe { *libc::__errno_location() = self.0 };
    }
}

/// Passes a SIGBUS that is not ours to the handler installed before ours.
///
/// # Safety
/// 1. The arguments are those of a signal delivery to [`on_sigbus`].
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, uctx: *mut libc::c_void) {
    // SAFETY: PREV was written before our handler was installed (see PrevAction).
    let prev = unsafe { *PREV.0.get() };
    let Some(prev) = prev else {
        return reraise_default(sig);
    };
    let h = prev.sa_sigaction;
    if h == libc::SIG_IGN {
        // A sent signal may be ignored; a hardware fault cannot (it would retry forever).
        // SAFETY: rule 1: a valid siginfo.
        if unsafe { (*info).si_code } <= 0 {
            return;
        }
        return reraise_default(sig);
    }
    if h == libc::SIG_DFL {
        return reraise_default(sig);
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this type;
        // it gets the kernel's own arguments.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, uctx);
    } else {
        // SAFETY: a plain handler takes the signal number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}

/// Restores the default action and raises the signal again: it is blocked while we run, so it
/// is delivered (and kills) when the handler returns.
fn reraise_default(sig: libc::c_int) {
    // SAFETY: signal(2) and raise(3) are async-signal-safe and touch no memory of ours.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Resolves a fault at `addr` in the heap of `slot`: the SIGBUS handler's body, also called by
/// the handler thread (`wake` then wakes the blocked thread). Times the fault from entry to
/// return into the heap's stall histogram.
pub fn handle_fault(slot: &Slot, addr: Address, wake: Wake) {
    let t0 = monotonic_ns();
    let Some(phase) = slot.enter() else {
        // No cycle runs: the page was installed or the range unregistered; the access retries.
        return;
    };
    // SAFETY: registry rule 2: we hold an open counter (entered above, left below), and the
    // only claimer stores the concurrent collector's `Shared`; rule 1 keeps it alive meanwhile.
    let sh = unsafe { &*slot.shared().cast::<Shared>() };
    if addr >= sh.base && addr < sh.base.add(sh.len) {
        match phase {
            // SAFETY: counter 0 is held: we are inside the cycle (params rule 1).
            Phase::Compacting => match unsafe { sh.params() } {
                Some(p) => resolve(sh, p, addr, wake),
                None => install_fresh(sh, addr.align_down(PAGE), wake),
            },
            // Every compacted page is mapped by now: only a fresh page can be missing.
            Phase::Finishing => install_fresh(sh, addr.align_down(PAGE), wake),
        }
        sh.counters.stalls.record(monotonic_ns().saturating_sub(t0));
    }
    slot.leave(phase);
}

/// Makes heap page `page` of the current cycle present.
fn resolve(sh: &Shared, p: &CycleParams, addr: Address, wake: Wake) {
    let page_addr = addr.align_down(PAGE);
    let page = page_addr.offset_from(sh.base) / PAGE;
    if page >= p.to_pages {
        // Above the compacted data: fresh allocation space, normally installed by the
        // allocator before use. A fault here is counted apart and filled with zeroes.
        sh.counters
            .fresh_page_faults
            .fetch_add(1, Ordering::Relaxed);
        return install_fresh(sh, page_addr, wake);
    }
    let pages = p.src.pages;
    let mut waited = false;
    let mut spins = 0u32;
    loop {
        let seen = sh.mapped_gen.load(Ordering::SeqCst);
        match pages.state(page) {
            PageState::Mapped => {
                if !waited {
                    sh.counters.spurious_faults.fetch_add(1, Ordering::Relaxed);
                }
                if wake == Wake::Wake {
                    // Handler-thread mode: whoever installed it may not have woken us.
                    let _ = sh.uffd.wake(PageRange::new(page_addr, PAGE));
                }
                return;
            }
            PageState::Unprocessed => {
                let Some(scratch) = pool::claim() else {
                    // No scratch page free: let the GC thread do this page.
                    wait(sh, seen, &mut spins, &mut waited);
                    continue;
                };
                if !pages.claim_as(page, PageState::MutatorProcessing) {
                    continue;
                }
                let dest = scratch.addr();
                // SAFETY: the cycle's plan is complete and from-space holds the old heap,
                // unwritten during the cycle (compact_page rules 1-3, kept by the flip); the
                // scratch page is ours alone, page-aligned, outside from-space and metadata
                // (rule 4).
                unsafe { (sh.compact)(&p.src, page, dest.as_mut_ptr()) };
                install_copy(sh, page_addr, dest, wake);
                pages.publish(page, PageState::Mapped);
                sh.notify_mapped();
                sh.counters.pages_by_mutator.fetch_add(1, Ordering::Relaxed);
                return;
            }
            PageState::Ready => {
                // Compacted by the GC thread but not installed yet: install it ourselves (the
                // batch installer then meets EEXIST and skips it).
                let from = Address(pages.scratch(page));
                install_copy(sh, page_addr, from, wake);
                pages.publish(page, PageState::Mapped);
                sh.notify_mapped();
                return;
            }
            PageState::Processing | PageState::MutatorProcessing => {
                wait(sh, seen, &mut spins, &mut waited);
            }
        }
    }
}

/// Busy-wait rounds before yielding: the page another thread is compacting is usually ready
/// within a few microseconds, and a futex sleep and wake-up costs tens of them. (On the shared
/// 2-core test machine, 64 to 4000 rounds gave the same fault-stall p99 within noise; the
/// benchmark should tune this.)
const SPINS: u32 = 256;
/// `sched_yield` rounds before sleeping on the futex.
const YIELDS: u32 = 32;

/// Waits a little for another thread's page: spin, then yield, then sleep on the futex.
fn wait(sh: &Shared, seen: u32, spins: &mut u32, waited: &mut bool) {
    if !*waited {
        *waited = true;
        sh.counters.waits.fetch_add(1, Ordering::Relaxed);
    }
    *spins += 1;
    if *spins < SPINS {
        std::hint::spin_loop();
    } else if *spins < SPINS + YIELDS {
        // SAFETY: sched_yield has no preconditions and is async-signal-safe.
        unsafe { libc::sched_yield() };
    } else {
        sh.wait_mapped(seen);
    }
}

/// Installs one heap page by COPY from `from`. EEXIST means another thread installed it.
fn install_copy(sh: &Shared, page_addr: Address, from: Address, wake: Wake) {
    // SAFETY: `page_addr` is a page of the registered heap range with no Rust reference into
    // it; `from` is a scratch page (ours, or a Ready page's, which its owner does not rewrite
    // before the heap page is mapped — and COPY installs nothing once it is); page-aligned.
    match unsafe { sh.uffd.copy(page_addr, from, PAGE, wake) } {
        Ok(r) if r.stop == FillStop::Done => {
            sh.counters.copy_pages.fetch_add(1, Ordering::Relaxed);
        }
        Ok(r) if r.stop == FillStop::DstExists => {
            if wake == Wake::Wake {
                let _ = sh.uffd.wake(PageRange::new(page_addr, PAGE));
            }
        }
        _ => die(&[b"gc: fatal: UFFDIO_COPY of a compacted page failed in the fault handler\n"]),
    }
}

/// Installs a zero page at fresh allocation page `page_addr` (EEXIST: someone did already;
/// EINVAL/ENOENT: the range was just unregistered, and the page is ordinary zero-fill again).
pub fn install_fresh(sh: &Shared, page_addr: Address, wake: Wake) {
    // SAFETY: a page of the registered heap range above the live data, nothing in it yet.
    match unsafe { sh.uffd.zeropage(PageRange::new(page_addr, PAGE), wake) } {
        Ok(r) if r.stop == FillStop::Done => {
            sh.counters.zeropage_pages.fetch_add(1, Ordering::Relaxed);
        }
        Ok(_) => {
            if wake == Wake::Wake {
                // Installed by someone who did not wake (the allocator): wake the faulter.
                let _ = sh.uffd.wake(PageRange::new(page_addr, PAGE));
            }
        }
        Err(e) if e == Errno::EINVAL || e == Errno::ENOENT => {}
        Err(_) => die(&[b"gc: fatal: UFFDIO_ZEROPAGE failed in the fault handler\n"]),
    }
}
