//! Concurrent marking (design note §2.1-§2.2): tracing the heap on the GC thread (and helper
//! threads stealing work from each other) while the mutator runs, under a
//! snapshot-at-the-beginning write barrier.
//!
//! The rules that make it correct:
//! - Everything reachable when the initial pause took the roots is marked by the end: the
//!   roots are greyed in that pause, and every reference the mutator overwrites in a heap
//!   object while marking runs is shaded first (the deletion barrier, `Heap::write_barrier`),
//!   as is every string a weak-table lookup hands out (`Heap::shade`).
//! - Objects allocated from the initial pause on lie at or above the page-aligned
//!   `black_begin`: live for this cycle, never traced.
//! - Shading an object sets its start bit and all its live-word bits at once and queues it;
//!   the atomic start bit decides who queues it, so any number of threads may shade.
//! - Markers read reference slots with atomic loads: the mutator may store into an object
//!   while it is scanned. The binding promises an object's size and slot layout never change
//!   once it is published (binding.rs), so only slot values race, and the barrier covers them.
//!
//! Owns: [`MarkShared`] (the grey queue shared by the mutator and the markers, the round's
//! parameters, the figures), [`Tracer`] (shade and scan), and a marking round with
//! termination detection across threads.

use crate::address::{Address, WORD};
use crate::binding::{ObjectModel, SlotKind};
use crate::collector::plan::Plan;
use crate::metadata::bitmap::BitmapView;
use crate::metadata::Metadata;
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::Backoff;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// What one marking cycle's threads share with the mutator.
pub struct MarkShared {
    /// Grey objects for the markers: the roots greyed at the initial pause, the mutator's
    /// flushed barrier buffers, work handed back by an interrupted remark.
    pub queue: Injector<Address>,
    params: UnsafeCell<Option<MarkParams>>,
    /// Set to make a running round return early (the heap is going away).
    pub abort: AtomicBool,
    /// Objects and bytes shaded this cycle, by anyone.
    pub objects: AtomicU64,
    pub bytes: AtomicU64,
    /// CPU time of the helper marking threads, all cycles (the GC thread counts its own).
    pub helper_cpu_ns: AtomicU64,
    /// The non-black plan the GC thread made after the remark, for the flip pause.
    pub plan: Mutex<Option<Plan>>,
}

// SAFETY: `params` is written only while no marking round or planning runs (the mutator sets it
// in the initial pause, before it sends the GC thread any marking command, and clears it after
// the GC thread reported the last one done); every other field is Sync.
unsafe impl Sync for MarkShared {}
// SAFETY: as above; the addresses are plain numbers.
unsafe impl Send for MarkShared {}

/// One cycle's marking parameters.
#[derive(Copy, Clone)]
pub struct MarkParams {
    /// The heap's metadata. `'static` is a promise kept by the protocol: the heap finishes or
    /// cancels its cycle before it resets or drops the metadata.
    pub meta: &'static Metadata,
    pub base: Address,
    /// Objects at or above this page-aligned address are black.
    pub black_begin: Address,
    /// Marking threads (the GC thread included).
    pub threads: usize,
}

impl Default for MarkShared {
    fn default() -> Self {
        MarkShared {
            queue: Injector::new(),
            params: UnsafeCell::new(None),
            abort: AtomicBool::new(false),
            objects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            helper_cpu_ns: AtomicU64::new(0),
            plan: Mutex::new(None),
        }
    }
}

impl MarkShared {
    /// The current cycle's marking parameters.
    ///
    /// # Safety
    /// 1. The caller runs a marking round or the planning the mutator commanded, or is the
    ///    mutator between its initial pause and the flip.
    pub unsafe fn params(&self) -> Option<MarkParams> {
        // SAFETY: rule 1: no writer exists meanwhile.
        unsafe { *self.params.get() }
    }

    /// Sets or clears the marking parameters.
    ///
    /// # Safety
    /// 1. No marking round or planning runs or is commanded.
    pub unsafe fn set_params(&self, p: Option<MarkParams>) {
        // SAFETY: rule 1: nobody reads it now.
        unsafe { *self.params.get() = p };
    }

    /// Empties the grey queue (after a cancelled cycle).
    pub fn clear_queue(&self) {
        while !matches!(self.queue.steal(), Steal::Empty) {}
    }
}

/// Shades and scans objects of one marking cycle.
pub struct Tracer<'a> {
    base: Address,
    black_begin: Address,
    starts: BitmapView<'a>,
    live: BitmapView<'a>,
    pub objects: u64,
    pub bytes: u64,
}

impl<'a> Tracer<'a> {
    pub fn new(meta: &'a Metadata, base: Address, black_begin: Address) -> Self {
        Tracer {
            base,
            black_begin,
            starts: meta.starts.view(),
            live: meta.live.view(),
            objects: 0,
            bytes: 0,
        }
    }

    /// Whether `a` is a reference this cycle traces: below the black boundary, in the heap.
    #[inline(always)]
    pub fn traced(&self, a: Address) -> bool {
        a >= self.base && a < self.black_begin
    }

    /// Shades the object `word` designates, if it is a white object of this cycle: sets its
    /// start bit and live-word bits and returns it for queueing.
    ///
    /// # Safety
    /// 1. If `M::decode(word)` yields an address below the black boundary in the heap, it is
    ///    the start of a well-formed object there (the binding contract).
    #[inline(always)]
    pub unsafe fn shade<M: ObjectModel>(&mut self, word: u64) -> Option<Address> {
        let a = M::decode(word)?;
        if !self.traced(a) {
            return None;
        }
        debug_assert!(a.is_aligned(WORD), "misaligned reference {a}");
        if !self.starts.set(a) {
            return None;
        }
        // SAFETY: rule 1: a well-formed object start; its header never changes.
        let size = unsafe { M::size_bytes(a) };
        debug_assert!(size >= WORD && a.add(size) <= self.black_begin);
        self.live.set_range(a, size / WORD);
        self.objects += 1;
        self.bytes += size as u64;
        Some(a)
    }

    /// Shades every object `obj`'s strong slots refer to, handing each newly grey one to
    /// `push`. Slot words are read atomically: the mutator may be storing into `obj`.
    ///
    /// # Safety
    /// 1. `obj` is a shaded (marked) object of this cycle, and rule 1 of [`Tracer::shade`]
    ///    holds for every slot word it may hold.
    #[inline]
    pub unsafe fn scan<M: ObjectModel>(&mut self, obj: Address, push: &mut impl FnMut(Address)) {
        // SAFETY: rule 1: a marked object, well-formed, whose layout does not change.
        unsafe {
            M::for_each_slot(obj, &mut |i, kind| {
                if kind == SlotKind::Strong {
                    let slot = obj.add(i * WORD).as_ptr::<AtomicU64>();
                    // SAFETY: the slot is an aligned word inside the object; the mutator writes
                    // it only with whole-word stores.
                    let word = (*slot).load(Ordering::Relaxed);
                    if let Some(a) = self.shade::<M>(word) {
                        push(a);
                    }
                }
            })
        };
    }
}

/// Runs one marking round with `params.threads` threads (the caller and scoped helpers):
/// drains the grey queue and everything reachable from it, until every thread finds no work,
/// or `ms.abort` is set. Returns when all threads have stopped.
///
/// # Safety
/// 1. `params` describes the current cycle: its metadata covers the heap below the black
///    boundary, and every object there reachable from the queue is well-formed (binding
///    contract); nobody resets the metadata meanwhile.
pub unsafe fn mark_round<M: ObjectModel>(ms: &MarkShared, params: MarkParams) {
    let threads = params.threads.max(1);
    let workers: Vec<Worker<Address>> = (0..threads).map(|_| Worker::new_lifo()).collect();
    let stealers: Vec<Stealer<Address>> = workers.iter().map(Worker::stealer).collect();
    let idle = AtomicUsize::new(0);
    let mut workers = workers.into_iter();
    let first = workers.next().expect("at least one worker");
    std::thread::scope(|scope| {
        for (k, w) in workers.enumerate() {
            let (stealers, idle) = (&stealers, &idle);
            let spawned = std::thread::Builder::new()
                .name(format!("gc-mark-{}", k + 1))
                .spawn_scoped(scope, move || {
                    let cpu0 = crate::os::clock::thread_cpu_ns();
                    // SAFETY: rule 1, passed on.
                    unsafe { worker_loop::<M>(ms, params, w, stealers, idle, threads) };
                    let cpu = crate::os::clock::thread_cpu_ns().saturating_sub(cpu0);
                    ms.helper_cpu_ns.fetch_add(cpu, Ordering::Relaxed);
                });
            if spawned.is_err() {
                // No helper thread: its share of the idle count is taken at once so the
                // others still terminate; they do its work.
                idle.fetch_add(1, Ordering::SeqCst);
            }
        }
        // SAFETY: rule 1.
        unsafe { worker_loop::<M>(ms, params, first, &stealers, &idle, threads) };
    });
}

/// One marking thread: pop local work, else steal (the shared queue, then the others), scan;
/// with no work anywhere, count itself idle and return once every thread is.
///
/// # Safety
/// 1. As for [`mark_round`].
unsafe fn worker_loop<M: ObjectModel>(
    ms: &MarkShared,
    params: MarkParams,
    local: Worker<Address>,
    stealers: &[Stealer<Address>],
    idle: &AtomicUsize,
    threads: usize,
) {
    let mut tracer = Tracer::new(params.meta, params.base, params.black_begin);
    let mut since_check = 0u32;
    loop {
        while let Some(obj) = local.pop().or_else(|| find_work(ms, &local, stealers)) {
            // SAFETY: rule 1: only shaded objects are queued.
            unsafe { tracer.scan::<M>(obj, &mut |a| local.push(a)) };
            since_check += 1;
            if since_check >= 4096 {
                since_check = 0;
                if ms.abort.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        if ms.abort.load(Ordering::Relaxed) {
            // Drop what is left: the cycle is being cancelled.
            while local.pop().is_some() {}
            idle.fetch_add(1, Ordering::SeqCst);
            break;
        }
        // Out of work: idle until all are (done) or work shows up somewhere (back to it).
        idle.fetch_add(1, Ordering::SeqCst);
        let backoff = Backoff::new();
        let resumed = loop {
            if idle.load(Ordering::SeqCst) >= threads || ms.abort.load(Ordering::Relaxed) {
                break false;
            }
            if !ms.queue.is_empty() || stealers.iter().any(|s| !s.is_empty()) {
                idle.fetch_sub(1, Ordering::SeqCst);
                break true;
            }
            backoff.snooze();
        };
        if !resumed {
            break;
        }
    }
    ms.objects.fetch_add(tracer.objects, Ordering::Relaxed);
    ms.bytes.fetch_add(tracer.bytes, Ordering::Relaxed);
}

/// Steals a batch from the shared queue, else from another thread's deque.
fn find_work(
    ms: &MarkShared,
    local: &Worker<Address>,
    stealers: &[Stealer<Address>],
) -> Option<Address> {
    loop {
        let mut retry = false;
        match ms.queue.steal_batch_and_pop(local) {
            Steal::Success(a) => return Some(a),
            Steal::Retry => retry = true,
            Steal::Empty => {}
        }
        for s in stealers {
            match s.steal() {
                Steal::Success(a) => return Some(a),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
        if !retry {
            return None;
        }
    }
}

/// How much marking one call of [`drain`] may do.
#[derive(Copy, Clone, Debug)]
pub enum Budget {
    /// Until everything reachable is marked.
    Unbounded,
    /// Until this monotonic time (checked every 256 objects).
    Until(u64),
    /// At most this many objects scanned.
    Objects(usize),
}

/// Marks, on the calling thread, everything reachable from `stack` and from the shared queue,
/// within `budget`; when the budget runs out the work left goes back to the shared queue.
/// Returns whether marking ran dry (nothing left) and how many objects were scanned. The
/// remark pause, a program waiting for memory and step-mode tests run this.
///
/// # Safety
/// 1. `tracer` and the queue belong to the cycle being marked, whose parameters are current
///    (a marking round may run beside: shading is atomic), and rule 1 of [`mark_round`] holds.
pub unsafe fn drain<M: ObjectModel>(
    ms: &MarkShared,
    tracer: &mut Tracer<'_>,
    mut stack: Vec<Address>,
    budget: Budget,
) -> (bool, usize) {
    let mut scanned = 0usize;
    loop {
        let out_of_budget = match budget {
            Budget::Unbounded => false,
            Budget::Objects(n) => scanned >= n,
            Budget::Until(d) => scanned % 256 == 255 && crate::os::clock::monotonic_ns() >= d,
        };
        if out_of_budget {
            for a in stack.drain(..) {
                ms.queue.push(a);
            }
            return (false, scanned);
        }
        let obj = match stack.pop() {
            Some(o) => o,
            None => loop {
                match ms.queue.steal() {
                    Steal::Success(a) => break a,
                    Steal::Retry => continue,
                    Steal::Empty => return (true, scanned),
                }
            },
        };
        // SAFETY: rule 1: only shaded objects are queued or stacked.
        unsafe { tracer.scan::<M>(obj, &mut |a| stack.push(a)) };
        scanned += 1;
    }
}
