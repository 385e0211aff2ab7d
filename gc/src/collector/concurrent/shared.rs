//! What one heap shares, during concurrent compaction, between the mutator, its GC thread, the
//! fault handlers (SIGBUS handlers on any thread, or the handler thread) and step-mode tests:
//! where the heap and from-space are, the userfaultfd, the cycle's compaction parameters, the
//! counters the statistics are made of, and the futex word that waiters for a page sleep on.
//!
//! Owns: the rule for the cycle parameters. They are written only while no cycle runs (both
//! in-flight counters of the heap's registry slot closed, the GC thread idle) and read only
//! inside a cycle, so they need no lock.

use super::marking::MarkShared;
use crate::address::Address;
use crate::collector::compact_page::CompactSource;
use crate::config::FaultMode;
use crate::fault::registry::Slot;
use crate::histogram::StallHistogram;
use crate::safepoint::Safepoints;
use crate::uffd::Uffd;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// The per-page compaction routine, monomorphised for the heap's object model, so that the
/// fault handler (which cannot be generic) can call it.
pub type CompactFn = unsafe fn(&CompactSource<'static>, usize, *mut u8) -> usize;

/// One cycle's compaction parameters.
#[derive(Copy, Clone)]
pub struct CycleParams {
    /// The cycle's bitmaps, page tables and from-space. `'static` is a promise kept by the
    /// protocol: the metadata it borrows outlives every cycle (the heap finishes its cycle
    /// before it resets or drops the metadata).
    pub src: CompactSource<'static>,
    /// Pages of compacted data: `[base, base + to_pages * PAGE)`.
    pub to_pages: usize,
    /// The pre-compaction end of the heap.
    pub old_top: Address,
    /// The post-compaction end of the live data (where allocation resumed).
    pub live_end: Address,
    pub epoch: u64,
}

/// Counters of the cycles so far (relaxed atomics: figures, not synchronisation).
#[derive(Default)]
pub struct Counters {
    pub pages_by_gc: AtomicU64,
    pub pages_by_mutator: AtomicU64,
    pub move_pages: AtomicU64,
    pub copy_pages: AtomicU64,
    pub zeropage_pages: AtomicU64,
    pub fresh_page_faults: AtomicU64,
    pub pages_recycled: AtomicU64,
    /// Faults that found their page already installed (a late or racing fault).
    pub spurious_faults: AtomicU64,
    /// MOVE source pages that were busy and got COPYed instead.
    pub busy_pages: AtomicU64,
    /// Faults that had to wait for another thread's page.
    pub waits: AtomicU64,
    pub gc_cpu_ns: AtomicU64,
    pub stalls: StallHistogram,
}

impl Counters {
    pub fn add(c: &AtomicU64, n: u64) {
        if n > 0 {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Commands for the GC thread.
#[repr(u32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Nothing to do: wait.
    Idle = 0,
    /// Compact the current cycle, then finish it.
    Compact = 1,
    /// Leave the heap: exit the thread.
    Exit = 2,
    /// Run a marking round of the current cycle, then ask the mutator for the remark pause.
    Mark = 3,
    /// Plan the compaction of the marked (non-black) heap, then ask for the flip pause.
    Plan = 4,
}

pub struct Shared {
    pub base: Address,
    /// Length of the registered range: the whole heap reservation.
    pub len: usize,
    pub from_base: Address,
    pub uffd: Uffd,
    pub fault_mode: FaultMode,
    pub compact: CompactFn,
    params: UnsafeCell<Option<CycleParams>>,
    pub counters: Counters,
    /// The heap's registry slot (set once, right after the slot is claimed).
    pub slot: OnceLock<&'static Slot>,
    /// Bumped after every page becomes `Mapped`; waiters sleep on it (raw futex).
    pub mapped_gen: AtomicU32,
    pub waiters: AtomicU32,
    /// A cycle is running (from the flip until the finish protocol is done).
    pub running: AtomicBool,
    /// Epoch of the last cycle whose finish protocol is complete (stored under `control`, so
    /// a waiter that checks it under the lock cannot miss the wake-up).
    pub finished_epoch: AtomicU64,
    /// Monotonic ns when the last cycle's finish protocol completed (for its statistics;
    /// written before `finished_epoch`, read after seeing it).
    pub finished_at_ns: AtomicU64,
    /// The GC thread's command word (a [`Command`]); it sleeps on it with a raw futex, so the
    /// flip pause hands work over without taking a lock the low-priority GC thread may hold.
    command: AtomicU32,
    /// Taken only to wait for (and announce) the end of a cycle, never inside a pause.
    pub control: Mutex<()>,
    pub wakeup: Condvar,
    /// The mutator's safepoint flag: raised when a cycle finishes, so it is reaped promptly.
    pub safepoints: Arc<Safepoints>,
    /// Concurrent marking's shared state.
    pub mark: MarkShared,
    /// A `Mark` or `Plan` command was sent and its work is not done yet (cleared under
    /// `control`, with `wakeup` notified).
    pub busy: AtomicBool,
}

// SAFETY: every field is Sync except `params`, whose accesses follow the protocol above
// (written only while no other thread may read it).
unsafe impl Sync for Shared {}
// SAFETY: as above; the raw addresses are plain numbers.
unsafe impl Send for Shared {}

impl Shared {
    pub fn new(
        base: Address,
        len: usize,
        from_base: Address,
        uffd: Uffd,
        fault_mode: FaultMode,
        compact: CompactFn,
        safepoints: Arc<Safepoints>,
    ) -> Shared {
        Shared {
            base,
            len,
            from_base,
            uffd,
            fault_mode,
            compact,
            params: UnsafeCell::new(None),
            counters: Counters::default(),
            slot: OnceLock::new(),
            mapped_gen: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            running: AtomicBool::new(false),
            finished_epoch: AtomicU64::new(0),
            finished_at_ns: AtomicU64::new(0),
            command: AtomicU32::new(Command::Idle as u32),
            control: Mutex::new(()),
            wakeup: Condvar::new(),
            safepoints,
            mark: MarkShared::default(),
            busy: AtomicBool::new(false),
        }
    }

    /// Mutator: hands the GC thread a marking-phase command (`Mark` or `Plan`).
    pub fn send_phase(&self, c: Command) {
        self.busy.store(true, Ordering::SeqCst);
        self.send(c);
    }

    /// GC thread: the marking-phase command is done; asks the mutator to take the next pause
    /// (unless `advance` is false: a cancelled round).
    pub fn phase_done(&self, advance: bool) {
        let ctl = self.control.lock().unwrap_or_else(|e| e.into_inner());
        self.busy.store(false, Ordering::SeqCst);
        if advance {
            self.safepoints.request_advance();
        }
        drop(ctl);
        self.wakeup.notify_all();
    }

    /// Mutator: blocks until no marking-phase command is outstanding.
    pub fn wait_phase_idle(&self) {
        let mut ctl = self.control.lock().unwrap_or_else(|e| e.into_inner());
        while self.busy.load(Ordering::SeqCst) {
            ctl = self.wakeup.wait(ctl).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The registry slot. Present from construction on (see `Concurrent::new`).
    pub fn slot(&self) -> &'static Slot {
        self.slot.get().expect("registry slot set at creation")
    }

    /// The current cycle's parameters.
    ///
    /// # Safety
    /// 1. The caller is inside the cycle: it holds an open in-flight counter of the heap's
    ///    slot, or it is the thread running the cycle's compaction or finish protocol.
    #[inline]
    pub unsafe fn params(&self) -> Option<&CycleParams> {
        // SAFETY: rule 1: no writer exists while a cycle runs.
        unsafe { (*self.params.get()).as_ref() }
    }

    /// Sets (or clears) the cycle parameters.
    ///
    /// # Safety
    /// 1. No cycle runs: both in-flight counters are closed and drained, and no GC-thread or
    ///    step-mode compaction is in progress.
    pub unsafe fn set_params(&self, p: Option<CycleParams>) {
        // SAFETY: rule 1: nobody reads it now.
        unsafe { *self.params.get() = p };
    }

    /// Gives the GC thread a command and wakes it (lock-free).
    pub fn send(&self, c: Command) {
        self.command.store(c as u32, Ordering::SeqCst);
        futex_wake_all(&self.command);
    }

    /// GC thread: waits until the command is not `Idle`, returns it (and resets it to `Idle`
    /// unless it is `Exit`).
    pub fn wait_command(&self) -> Command {
        loop {
            let c = self.command.load(Ordering::SeqCst);
            let command = match c {
                0 => {
                    futex_wait(&self.command, 0, 100_000_000);
                    continue;
                }
                1 => Command::Compact,
                3 => Command::Mark,
                4 => Command::Plan,
                _ => return Command::Exit,
            };
            let _ = self.command.compare_exchange(
                c,
                Command::Idle as u32,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            return command;
        }
    }

    /// Tells waiters that some page became `Mapped`. Async-signal-safe.
    #[inline]
    pub fn notify_mapped(&self) {
        self.mapped_gen.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            futex_wake_all(&self.mapped_gen);
        }
    }

    /// Sleeps until [`Shared::notify_mapped`] runs after `seen` was read from `mapped_gen`,
    /// or a millisecond passes. Async-signal-safe (a raw futex).
    #[inline]
    pub fn wait_mapped(&self, seen: u32) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        futex_wait(&self.mapped_gen, seen, 1_000_000);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `FUTEX_WAIT_PRIVATE` on `word` while it holds `expected`, for at most `timeout_ns`.
fn futex_wait(word: &AtomicU32, expected: u32, timeout_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned 32-bit atomic; `ts` outlives the call; futex(2) is a
    // plain system call, async-signal-safe.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

/// `FUTEX_WAKE_PRIVATE` of every waiter on `word`.
fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: as for futex_wait; waking touches no memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}
