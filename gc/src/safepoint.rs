//! Safepoints for any number of mutator threads (design note §4.5, threads.md §2): how a pause
//! stops every attached mutator, how long that takes, and how the threads that are not running
//! VM code (blocked in the native state) count as stopped.
//!
//! Each attached mutator has a [`MutatorSlot`]: its state word and, while it is stopped, a
//! pointer to its thread-local collector state and its roots, published by the thread itself
//! just before it stops. Every mutator polls one shared flag (a relaxed load) at allocation
//! slow paths, calls and loop back-edges. A pause is a handshake: the stopper raises the flag
//! and the `stopping` word, then waits until every slot is out of the `Running` state. A mutator
//! that polls publishes itself and parks; one that is in the native state already counts as
//! stopped, and if it wants to run again while a stop is in force it goes back and waits (its
//! store of `Running` and its check of `stopping` are ordered against the stopper's store of
//! `stopping` and its scan of the states, both sequentially consistent: one of the two sees
//! the other). Time to safepoint is the wait for the last thread.
//!
//! Who stops: a mutator that runs a pause (it holds the collector lock, and is itself in the
//! native state while it does: so its own slot is published like every other, and a second
//! would-be stopper can never wait for it), or any other thread through [`Safepoints::stop`]
//! (tests, hosts). One stop is in force at a time.
//!
//! Requests that any mutator may serve at its next poll: a collection requested by another
//! thread, the GC thread's "advance the cycle" (remark or flip) and "reap the finished cycle".

use crate::binding::RootSet;
use crate::os::clock::monotonic_ns;
use crate::stats::Pause;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// What a mutator is doing, as the collector sees it.
#[repr(u8)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MutatorState {
    /// Running VM code; stops only at a safepoint.
    Running = 0,
    /// Blocked outside the VM (reading input, joining a thread, in a native function that does
    /// not touch the heap): counts as stopped.
    Native = 1,
    /// Parked at a safepoint (or serving the collector there).
    Parked = 2,
}

impl MutatorState {
    fn from_u8(v: u8) -> MutatorState {
        match v {
            1 => MutatorState::Native,
            2 => MutatorState::Parked,
            _ => MutatorState::Running,
        }
    }
}

/// Thread control (design note §5): how the collector, or any thread acting for it, stops and
/// resumes the mutators. A mutator stops only at a safepoint; one in the native state counts
/// as stopped and cannot leave that state while a stop is in force. [`Safepoints`] implements
/// it over a heap's attached mutators.
pub trait ThreadControl: Send + Sync {
    /// Asks every mutator to stop and waits until each is parked at a safepoint or in the
    /// native state. Returns the time to safepoint in ns, or `None` after `timeout` (then
    /// nothing is stopped). The pause is recorded with `kind` when it ends.
    fn stop_mutators(&self, kind: &'static str, timeout: Duration) -> Option<u64>;
    /// Resumes the mutators stopped by [`ThreadControl::stop_mutators`]; the pause is measured
    /// from the request to this call.
    fn resume_mutators(&self);
    /// Asks the mutators to run a collection at the next safepoint any of them reaches.
    fn request_collection(&self);
    /// What the mutators are doing now (see [`Safepoints::state`]).
    fn mutator_state(&self) -> MutatorState;
}

/// A raw pointer to a thread's roots, published while the thread is stopped.
pub(crate) type RootsPtr = *mut (dyn RootSet + 'static);

/// What a stopped thread lends the collector: its collector-side state (`T`, the mutator's
/// TLAB, barrier buffer and flags) and its roots.
pub(crate) struct Published<T> {
    pub local: *mut T,
    pub roots: Option<RootsPtr>,
}

/// One attached mutator's handshake state.
///
/// # Safety
/// The published pointers are written only by the owning thread while its state is
/// `Running`, immediately before it stores a stopped state; they are read (and what they point
/// to is used) only by a thread that holds a stop in force, or by the owner itself. Rules for
/// the owner (cited as "slot rule N"):
/// 1. The pointers stay valid until the owner's state is `Running` again.
/// 2. The owner does not touch what they point to while it is stopped.
pub(crate) struct MutatorSlot<T> {
    state: AtomicU8,
    published: UnsafeCell<Published<T>>,
}

// SAFETY: the UnsafeCell is accessed by one thread at a time, handed over by the state word's
// SeqCst stores and loads (and the coordinator's mutex): see the struct's rules.
unsafe impl<T> Sync for MutatorSlot<T> {}
// SAFETY: as above; the raw pointers are only dereferenced under those rules.
unsafe impl<T> Send for MutatorSlot<T> {}

impl<T> MutatorSlot<T> {
    pub(crate) fn new() -> MutatorSlot<T> {
        MutatorSlot {
            state: AtomicU8::new(MutatorState::Running as u8),
            published: UnsafeCell::new(Published {
                local: std::ptr::null_mut(),
                roots: None,
            }),
        }
    }

    pub(crate) fn state(&self) -> MutatorState {
        MutatorState::from_u8(self.state.load(Ordering::SeqCst))
    }

    /// Owner: lends `local` and `roots` to the collector (call while running, right before
    /// stopping).
    pub(crate) fn publish(&self, local: *mut T, roots: Option<RootsPtr>) {
        // SAFETY: the owner is running, so no stopper reads the cell (struct rules).
        unsafe { *self.published.get() = Published { local, roots } };
    }

    /// What the stopped owner lent.
    ///
    /// # Safety
    /// 1. The caller holds a stop in force (or the collector lock while the owner is stopped
    ///    in its own slow path), so the owner is stopped and will not run until it ends.
    pub(crate) unsafe fn published(&self) -> &Published<T> {
        // SAFETY: rule 1: the owner is stopped and wrote the cell before stopping (SeqCst
        // state store, read by our SeqCst load that saw it stopped).
        unsafe { &*self.published.get() }
    }
}

#[derive(Default)]
struct Requests {
    /// Monotonic time of a pending collection request.
    collect_at: Option<u64>,
    /// A stop is in force (requested, or every mutator stopped).
    stop_in_force: bool,
    /// The stop in force: its kind, request time and stop time (external stops only).
    current: Option<(&'static str, u64, u64)>,
    /// Pauses recorded by external stops, for the heap's statistics.
    pauses: Vec<Pause>,
}

/// The heap's safepoint coordinator, shared with every thread that makes requests.
pub struct Safepoints {
    flag: AtomicBool,
    /// A stop is requested or in force (see the module comment for its ordering).
    stopping: AtomicBool,
    origin_ns: u64,
    requests: Mutex<Requests>,
    changed: Condvar,
    /// The attached mutators' state words, in attach order.
    states: Mutex<Vec<Arc<dyn StateWord>>>,
    /// Set by the GC thread when a concurrent cycle finished (a mutator should reap it).
    pub(crate) reap: AtomicBool,
    /// Set by the GC thread when a concurrent cycle needs its next pause (remark or flip);
    /// `advance_at` is the monotonic time of that request (the pause's time to safepoint
    /// starts there).
    pub(crate) advance: AtomicBool,
    pub(crate) advance_at: AtomicU64,
    pub(crate) stops: AtomicU64,
}

/// A slot's state word, whatever its published type.
pub(crate) trait StateWord: Send + Sync {
    fn state(&self) -> MutatorState;
}

impl<T> StateWord for MutatorSlot<T> {
    fn state(&self) -> MutatorState {
        MutatorSlot::state(self)
    }
}

impl Safepoints {
    pub(crate) fn new(origin_ns: u64) -> Safepoints {
        Safepoints {
            flag: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            origin_ns,
            requests: Mutex::new(Requests::default()),
            changed: Condvar::new(),
            states: Mutex::new(Vec::new()),
            reap: AtomicBool::new(false),
            advance: AtomicBool::new(false),
            advance_at: AtomicU64::new(0),
            stops: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn states(&self) -> MutexGuard<'_, Vec<Arc<dyn StateWord>>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The flag every mutator polls.
    #[inline(always)]
    pub fn flag(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Where the flag lives (a mutator caches it for its poll).
    pub(crate) fn flag_word(&self) -> &AtomicBool {
        &self.flag
    }

    /// Raises the flag.
    pub(crate) fn raise(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Lowers the flag unless something is still pending. Clear first, then look again: a
    /// request raised in between keeps the flag up (requesters store the request before the
    /// flag).
    fn refresh_flag(&self, r: &Requests) {
        self.flag.store(false, Ordering::SeqCst);
        if r.stop_in_force
            || r.collect_at.is_some()
            || self.reap.load(Ordering::SeqCst)
            || self.advance.load(Ordering::SeqCst)
        {
            self.flag.store(true, Ordering::SeqCst);
        }
    }

    /// The mutators' combined state: `Running` if any runs, else `Parked` if any is parked,
    /// else `Native` (also with no mutator attached). With one mutator, its state.
    pub fn state(&self) -> MutatorState {
        let mut combined = MutatorState::Native;
        for s in self.states().iter() {
            match s.state() {
                MutatorState::Running => return MutatorState::Running,
                MutatorState::Parked => combined = MutatorState::Parked,
                MutatorState::Native => {}
            }
        }
        combined
    }

    /// Attached mutators.
    pub fn mutator_count(&self) -> usize {
        self.states().len()
    }

    pub(crate) fn add(&self, slot: Arc<dyn StateWord>) {
        self.states().push(slot);
    }

    pub(crate) fn remove(&self, slot: &Arc<dyn StateWord>) {
        let mut v = self.states();
        if let Some(i) = v.iter().position(|s| Arc::ptr_eq(s, slot)) {
            v.swap_remove(i);
        }
        drop(v);
        // A stopper may be waiting for exactly this slot.
        let _r = self.lock();
        self.changed.notify_all();
    }

    /// GC thread: asks the mutators to take the cycle's next pause at the next safepoint.
    pub(crate) fn request_advance(&self) {
        self.advance_at.store(monotonic_ns(), Ordering::SeqCst);
        self.advance.store(true, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Asks the mutators to run a collection at the next safepoint one of them reaches (from
    /// any thread).
    pub fn request_collection(&self) {
        let mut r = self.lock();
        r.collect_at.get_or_insert_with(monotonic_ns);
        drop(r);
        self.raise();
    }

    /// Takes a pending collection request's time.
    pub(crate) fn take_collection_request(&self) -> Option<u64> {
        let mut r = self.lock();
        let at = r.collect_at.take();
        self.refresh_flag(&r);
        at
    }

    /// Whether a request any mutator may serve is pending (collection, advance, reap).
    pub(crate) fn has_requests(&self) -> bool {
        self.reap.load(Ordering::SeqCst)
            || self.advance.load(Ordering::SeqCst)
            || self.lock().collect_at.is_some()
    }

    /// Stops every attached mutator (another thread's external stop): returns once each is
    /// parked at a safepoint or in the native state (then none can run until the guard is
    /// dropped), or `None` after `timeout`. The pause, of kind `kind`, lasts until the guard
    /// is dropped.
    pub fn stop(&self, kind: &'static str, timeout: Duration) -> Option<StopGuard<'_>> {
        self.stop_mutators(kind, timeout)?;
        Some(StopGuard { sp: self })
    }

    /// The handshake: waits for any other stop to end, puts this one in force and waits until
    /// no attached mutator runs, or until `deadline` (then withdraws and returns `None`).
    /// Returns the monotonic time every mutator was stopped: `t0` itself if none had to be
    /// waited for (a lone mutator's own pause has no time to safepoint). A caller that is
    /// itself a mutator must be in a stopped state (its slot published) while it calls this.
    pub(crate) fn stop_all(&self, t0: u64, deadline: Option<u64>) -> Option<u64> {
        let mut r = self.lock();
        let mut waited = false;
        while r.stop_in_force {
            // One stop at a time.
            r = self.changed.wait(r).unwrap_or_else(|e| e.into_inner());
        }
        r.stop_in_force = true;
        self.stopping.store(true, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
        loop {
            if self
                .states()
                .iter()
                .all(|s| s.state() != MutatorState::Running)
            {
                break;
            }
            waited = true;
            match deadline {
                None => {
                    r = self
                        .changed
                        .wait_timeout(r, Duration::from_millis(10))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                Some(d) => {
                    let now = monotonic_ns();
                    if now >= d {
                        self.end_stop(r);
                        return None;
                    }
                    r = self
                        .changed
                        .wait_timeout(r, Duration::from_nanos((d - now).min(10_000_000)))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        drop(r);
        self.stops.fetch_add(1, Ordering::Relaxed);
        Some(if waited { monotonic_ns() } else { t0 })
    }

    /// Ends the stop in force: the mutators may run again.
    pub(crate) fn resume_all(&self) {
        let r = self.lock();
        self.end_stop(r);
    }

    fn end_stop(&self, mut r: MutexGuard<'_, Requests>) {
        r.stop_in_force = false;
        self.stopping.store(false, Ordering::SeqCst);
        self.refresh_flag(&r);
        drop(r);
        self.changed.notify_all();
    }

    /// Mutator side: the thread of `slot` stops (`Parked` or `Native`); its slot is published.
    pub(crate) fn enter_stopped<T>(&self, slot: &MutatorSlot<T>, state: MutatorState) {
        slot.state.store(state as u8, Ordering::SeqCst);
        if self.stopping.load(Ordering::SeqCst) {
            // A stopper may be waiting for this thread.
            let _r = self.lock();
            self.changed.notify_all();
        }
    }

    /// Mutator side: the thread of `slot` wants to run again; waits while a stop is in force.
    pub(crate) fn leave_stopped<T>(&self, slot: &MutatorSlot<T>) {
        let stopped = slot.state.load(Ordering::Relaxed);
        loop {
            slot.state
                .store(MutatorState::Running as u8, Ordering::SeqCst);
            if !self.stopping.load(Ordering::SeqCst) {
                return;
            }
            // A stop is requested or in force: it may have counted us stopped already.
            let mut r = self.lock();
            slot.state.store(stopped, Ordering::SeqCst);
            self.changed.notify_all();
            while r.stop_in_force {
                r = self.changed.wait(r).unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    /// The stop in force ends (external stops): records the pause.
    fn resume_external(&self) {
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
        self.end_stop(r);
    }

    /// Pauses recorded by external stops since the last call.
    pub(crate) fn take_pauses(&self) -> Vec<Pause> {
        std::mem::take(&mut self.lock().pauses)
    }
}

impl ThreadControl for Safepoints {
    fn stop_mutators(&self, kind: &'static str, timeout: Duration) -> Option<u64> {
        let t0 = monotonic_ns();
        let stopped = self.stop_all(t0, Some(t0 + timeout.as_nanos() as u64))?;
        self.lock().current = Some((kind, t0, stopped));
        Some(stopped - t0)
    }
    fn resume_mutators(&self) {
        self.resume_external();
    }
    fn request_collection(&self) {
        Safepoints::request_collection(self);
    }
    fn mutator_state(&self) -> MutatorState {
        self.state()
    }
}

/// Stopped mutators; dropping the guard resumes them and records the pause.
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
        self.sp.resume_external();
    }
}
