//! Safepoints and thread control (design note §4.5, §4.9, §5): how a thread other than the
//! mutator (the GC thread, a host thread, a test) gets the mutator to stop, and how long that
//! takes.
//!
//! The mutator polls one flag — [`Heap::should_yield`](crate::Heap::should_yield), a relaxed
//! load — at allocation slow paths, calls and loop back-edges, and calls
//! [`Heap::safepoint`](crate::Heap::safepoint) with its roots when it is set. Requests:
//! - **collection**: the mutator runs the cycle's pauses itself at the safepoint (it alone has
//!   the roots); the first pause's `ttsp_ns` is the time from the request to the safepoint.
//! - **stop**: the requester waits until the mutator is parked at a safepoint *or in the
//!   native state* (blocked outside the VM: it counts as stopped, so a pause never waits for a
//!   keystroke), does its work, and resumes it; the pause is measured from the request to the
//!   resume, split into time-to-safepoint and work.
//! - **reap**: the GC thread sets the flag when a concurrent cycle finishes, so the mutator
//!   folds it in promptly.
//!
//! Who triggers what: the allocation slow path notices the heap trigger and runs the pauses
//! right there (already at a safepoint: `ttsp_ns` 0); other threads request.

use crate::binding::ThreadControl;
use crate::os::clock::monotonic_ns;
use crate::stats::Pause;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// What the mutator is doing, as the collector sees it.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MutatorState {
    /// Running VM code; stops only at a safepoint.
    Running = 0,
    /// Blocked outside the VM (reading input, in a native function that does not touch the
    /// heap): counts as stopped.
    Native = 1,
    /// Parked at a safepoint for a stop request.
    Parked = 2,
}

#[derive(Default)]
struct Requests {
    /// Monotonic time of a pending collection request.
    collect_at: Option<u64>,
    /// Monotonic time of a pending stop request (and whether it is in force).
    stop_at: Option<u64>,
    stop_in_force: bool,
    /// The stop in force: its kind, request time and stop time.
    current: Option<(&'static str, u64, u64)>,
    /// Pauses recorded by stop requests, for the heap's statistics.
    pauses: Vec<Pause>,
}

/// The mutator's safepoint state, shared with the threads that make requests.
pub struct Safepoints {
    flag: AtomicBool,
    state: AtomicU8,
    origin_ns: u64,
    requests: Mutex<Requests>,
    changed: Condvar,
    /// Set by the GC thread when a concurrent cycle finished (the mutator should reap it).
    pub(crate) reap: AtomicBool,
    /// Set by the GC thread when a concurrent cycle needs its next pause (remark or flip);
    /// `advance_at` is the monotonic time of that request (the pause's time to safepoint
    /// starts there).
    pub(crate) advance: AtomicBool,
    pub(crate) advance_at: AtomicU64,
    pub(crate) stops: AtomicU64,
}

impl Safepoints {
    pub(crate) fn new(origin_ns: u64) -> Safepoints {
        Safepoints {
            flag: AtomicBool::new(false),
            state: AtomicU8::new(MutatorState::Running as u8),
            origin_ns,
            requests: Mutex::new(Requests::default()),
            changed: Condvar::new(),
            reap: AtomicBool::new(false),
            advance: AtomicBool::new(false),
            advance_at: AtomicU64::new(0),
            stops: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The flag the mutator polls.
    #[inline(always)]
    pub fn flag(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Raises the flag.
    pub(crate) fn raise(&self) {
        self.flag.store(true, Ordering::Release);
    }

    pub fn state(&self) -> MutatorState {
        match self.state.load(Ordering::Acquire) {
            1 => MutatorState::Native,
            2 => MutatorState::Parked,
            _ => MutatorState::Running,
        }
    }

    /// GC thread: asks the mutator to take the cycle's next pause at its next safepoint.
    pub(crate) fn request_advance(&self) {
        self.advance_at.store(monotonic_ns(), Ordering::SeqCst);
        self.advance.store(true, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Asks the mutator to run a collection at its next safepoint (from any thread).
    pub fn request_collection(&self) {
        let mut r = self.lock();
        r.collect_at.get_or_insert_with(monotonic_ns);
        drop(r);
        self.raise();
    }

    /// Stops the mutator: returns once it is parked at a safepoint or in the native state
    /// (then it cannot leave that state until the guard is dropped), or `None` after
    /// `timeout`. The pause, of kind `kind`, lasts until the guard is dropped.
    pub fn stop(&self, kind: &'static str, timeout: Duration) -> Option<StopGuard<'_>> {
        self.stop_mutators(kind, timeout)?;
        Some(StopGuard { sp: self })
    }

    /// Resumes a mutator stopped by [`ThreadControl::stop_mutators`] and records the pause.
    fn resume(&self) {
        let end = monotonic_ns();
        let mut r = self.lock();
        if let Some((kind, requested, stopped)) = r.current.take() {
            r.pauses.push(Pause {
                kind,
                start_ns: requested.saturating_sub(self.origin_ns),
                ns: end - requested,
                ttsp_ns: stopped - requested,
            });
        }
        r.stop_in_force = false;
        r.stop_at = None;
        drop(r);
        self.changed.notify_all();
    }

    fn stop_inner(&self, kind: &'static str, timeout: Duration) -> Option<u64> {
        let t0 = monotonic_ns();
        let mut r = self.lock();
        while r.stop_at.is_some() {
            // One stop at a time.
            r = self.changed.wait(r).unwrap_or_else(|e| e.into_inner());
        }
        r.stop_at = Some(t0);
        r.stop_in_force = true;
        drop(r);
        self.raise();
        let deadline = t0 + timeout.as_nanos() as u64;
        let mut r = self.lock();
        loop {
            if self.state() != MutatorState::Running {
                break;
            }
            let now = monotonic_ns();
            if now >= deadline {
                r.stop_at = None;
                r.stop_in_force = false;
                drop(r);
                self.changed.notify_all();
                return None;
            }
            r = self
                .changed
                .wait_timeout(r, Duration::from_nanos(deadline - now))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let stopped = monotonic_ns();
        r.current = Some((kind, t0, stopped));
        drop(r);
        self.stops.fetch_add(1, Ordering::Relaxed);
        Some(stopped - t0)
    }

    /// Mutator side: parks while a stop is in force (called at a safepoint or when leaving
    /// the native state). Returns the pending collection request's time, if any.
    pub(crate) fn at_safepoint(&self, from: MutatorState) -> Option<u64> {
        let mut r = self.lock();
        if r.stop_in_force {
            self.state
                .store(MutatorState::Parked as u8, Ordering::Release);
            self.changed.notify_all();
            while r.stop_in_force {
                r = self.changed.wait(r).unwrap_or_else(|e| e.into_inner());
            }
        }
        self.state
            .store(MutatorState::Running as u8, Ordering::Release);
        let _ = from;
        let collect = r.collect_at.take();
        if r.stop_at.is_none() {
            // Clear first, then look again: a reap or advance request raised in between keeps
            // the flag up (its requester stores the request before the flag).
            self.flag.store(false, Ordering::SeqCst);
            if self.reap.load(Ordering::SeqCst) || self.advance.load(Ordering::SeqCst) {
                self.flag.store(true, Ordering::SeqCst);
            }
        }
        collect
    }

    /// Mutator side: enters the native state.
    pub(crate) fn enter_native(&self) {
        let r = self.lock();
        self.state
            .store(MutatorState::Native as u8, Ordering::Release);
        drop(r);
        self.changed.notify_all();
    }

    /// Pauses recorded by stop requests since the last call.
    pub(crate) fn take_pauses(&self) -> Vec<Pause> {
        std::mem::take(&mut self.lock().pauses)
    }
}

impl ThreadControl for Safepoints {
    fn stop_mutators(&self, kind: &'static str, timeout: Duration) -> Option<u64> {
        self.stop_inner(kind, timeout)
    }
    fn resume_mutators(&self) {
        self.resume();
    }
    fn request_collection(&self) {
        Safepoints::request_collection(self);
    }
    fn mutator_state(&self) -> MutatorState {
        self.state()
    }
}

/// A stopped mutator; dropping it resumes the mutator and records the pause.
pub struct StopGuard<'a> {
    sp: &'a Safepoints,
}

impl StopGuard<'_> {
    /// Time from the request to the stop.
    pub fn ttsp_ns(&self) -> u64 {
        self.sp
            .lock()
            .current
            .map_or(0, |(_, requested, stopped)| stopped - requested)
    }
}

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.sp.resume();
    }
}
