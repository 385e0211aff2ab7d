//! What every thread of one Lox program shares, off the heap: the shared half of the roots
//! (`SharedRoots`: globals, the string intern table, the code table, the "init" string, the
//! side tables of Lock and Thread objects), the natives, the output sinks (output.rs) and the
//! flag saying whether more than one mutator thread is attached (`multi`), which decides
//! whether table writers take their locks.
//!
//! `Shared` lives in an `Arc` that each thread's VM holds. It is `Sync` by the rules below,
//! which every access cites ("shared rule N"). Nothing here allocates on the heap or polls.
//!
//! # The rules
//! 1. **Pauses.** The collector reads and rewrites the root slots of `SharedRoots` only inside
//!    a pause, while every mutator is stopped at a safepoint or in the native state. So no
//!    mutator keeps a Rust reference into `SharedRoots` across anything that may allocate or
//!    poll (it re-reads through [`Shared::roots`] afterwards), and a thread in the native state
//!    does not touch `SharedRoots` at all.
//! 2. **Writers.** Outside pauses a field of `SharedRoots` is written only by a mutator that
//!    holds the lock covering it (`globals`: the globals lock; `strings` and
//!    `strings_swept_live`: the intern lock; `code`: the code lock; `threads` and `locks`: the
//!    side lock), or by the only mutator while `multi` is off. `init_string` is written once,
//!    before a second thread exists.
//! 3. **Readers.** The globals' entries array and `init_string` are read without a lock:
//!    each is one aligned word written with one store, so a racing reader gets the old or the
//!    new word, and an entries array is complete before it is published (heapops.rs). Every
//!    other field is read under its lock, or by the only mutator while `multi` is off.
//! 4. **Locks and pauses.** A thread waiting for one of these locks polls the safepoint flag
//!    while it spins (sync.rs), so a lock held across a safepoint (the intern lock is, while
//!    the new string is allocated) never keeps a pause waiting. No thread waits for a lock
//!    while holding another.

use crate::code::CodeTable;
use crate::locks::SpinLock;
use crate::lox_lock::LockState;
use crate::natives::NativeEntry;
use crate::object::LoxModel;
use crate::object::Obj;
use crate::output::Output;
use crate::sidetable::SideTable;
use crate::table;
use crate::threads::ThreadEntry;
use crate::value::Value;
use gc::{Address, Heap, RootSet};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

/// Count and entry array of a table that lives outside any object.
#[derive(Copy, Clone, Debug)]
pub struct TableMeta {
    /// Live entries plus tombstones.
    pub count: usize,
    /// A `TableEntries`/`WeakEntries` object, or nil while empty.
    pub entries: Value,
}

impl TableMeta {
    pub const EMPTY: TableMeta = TableMeta {
        count: 0,
        entries: Value::NIL,
    };
}

/// The roots every thread of the program shares.
pub struct SharedRoots {
    pub globals: TableMeta,
    /// The intern table: the entries array is a strong root, its keys are weak slots.
    pub strings: TableMeta,
    /// Keys the intern table kept at the last weak sweep, until the next interning decides
    /// whether to shrink it (`None`: no sweep since).
    pub strings_swept_live: Option<usize>,
    pub init_string: Value,
    /// Off-heap bytecode, with weak links to the owning functions.
    pub code: CodeTable,
    /// Lox threads (threads.rs): weak links to the Thread objects; each entry's function and
    /// result are strong roots.
    pub threads: SideTable<ThreadEntry>,
    /// Lox locks (lox_lock.rs), with weak links to the Lock objects.
    pub locks: SideTable<Arc<LockState>>,
}

impl SharedRoots {
    fn new() -> SharedRoots {
        SharedRoots {
            globals: TableMeta::EMPTY,
            strings: TableMeta::EMPTY,
            strings_swept_live: None,
            init_string: Value::NIL,
            code: CodeTable::new(),
            threads: SideTable::default(),
            locks: SideTable::default(),
        }
    }
}

#[inline(always)]
pub(crate) fn visit_value(v: &mut dyn FnMut(&mut u64), slot: &mut Value) {
    if slot.is_object() {
        v(&mut slot.0);
    }
}

impl RootSet for SharedRoots {
    fn visit_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
        visit_value(v, &mut self.globals.entries);
        visit_value(v, &mut self.strings.entries);
        visit_value(v, &mut self.init_string);
        for t in self.threads.data_mut() {
            for slot in t.roots() {
                visit_value(v, slot);
            }
        }
    }

    fn visit_weak_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
        self.code.visit_owners(&mut |slot| visit_value(v, slot));
        self.threads.visit_owners(&mut |slot| visit_value(v, slot));
        self.locks.visit_owners(&mut |slot| visit_value(v, slot));
    }

    fn sweep_weak(&mut self, is_live: &dyn Fn(Address) -> bool) {
        // Intern table: a dead key becomes a tombstone (count unchanged: it still counts).
        // Plain stores, no write barrier: this runs inside a pause after marking ended, and
        // the key it drops is dead by definition.
        if self.strings.entries.is_object() {
            // SAFETY: the entries array is reachable from a strong root and the collector has not
            // moved anything yet (sweep_weak runs after marking, before compaction).
            let e = unsafe { Obj::from_value(self.strings.entries) };
            let mut kept = 0;
            for i in 0..e.entries_capacity() {
                let k = table::key_at(e, i);
                if k.is_object() && !is_live(k.as_address()) {
                    e.set(crate::object::field::ENTRIES_START + 2 * i, Value::NIL);
                    e.set(crate::object::field::ENTRIES_START + 2 * i + 1, Value::TRUE);
                } else if k.is_object() {
                    kept += 1;
                }
            }
            self.strings_swept_live = Some(kept);
        }
        self.code.sweep(is_live);
        self.threads.sweep(is_live, ThreadEntry::pinned);
        // A lock that died while held (or waited for) has no one left to wait for it: a waiter
        // holds the Lock object on its stack.
        self.locks.sweep(is_live, |_| false);
    }
}

/// State shared by every thread of one program. See the module comment for its rules.
pub struct Shared {
    roots: UnsafeCell<SharedRoots>,
    /// The heap every thread of the program allocates in (its shared roots are `roots`).
    heap: Arc<Heap<LoxModel>>,
    /// More than one mutator thread is attached: table writers take their locks.
    multi: AtomicBool,
    /// Writers of `globals` (shared rule 2).
    pub(crate) globals_lock: SpinLock,
    /// Readers and writers of `strings` and `strings_swept_live`: a lookup and the insert
    /// that follows it are one step, so equal strings made by two threads are one string.
    pub(crate) intern_lock: SpinLock,
    /// Readers and writers of `code`.
    pub(crate) code_lock: SpinLock,
    /// Readers and writers of `threads` and `locks`.
    pub(crate) side_lock: SpinLock,
    /// Functions implemented in Rust, by the index a Native object holds. Appended to only.
    pub(crate) natives: RwLock<Vec<NativeEntry>>,
    /// When the program started (`clock()` counts from here, in every thread).
    pub(crate) start: Instant,
    next_thread_id: AtomicU64,
    /// Threads that ended with a runtime error no `join` has seen (exit status 70).
    unjoined_failures: AtomicUsize,
    /// The OS threads of the program's Lox threads, until the program waits for them.
    os_threads: Mutex<Vec<JoinHandle<()>>>,
    /// The output and error sinks, behind the output lock.
    pub output: Output,
}

// SAFETY: `roots` is the only field without its own synchronisation; the shared rules say who
// may touch it when (pauses, locks, the only mutator), and its lock-free reads are of single
// aligned words (rule 3). Everything else is atomic or behind a lock.
unsafe impl Sync for Shared {}

impl Shared {
    /// The shared state of a program on `heap`, its roots registered with the heap (every
    /// pause visits them after the threads' own). Call it before any mutator attaches to
    /// `heap`, or from a thread that is not one of its mutators (registering waits for the
    /// collector lock).
    pub fn new(heap: Arc<Heap<LoxModel>>) -> Arc<Shared> {
        let shared = Arc::new(Shared {
            roots: UnsafeCell::new(SharedRoots::new()),
            heap,
            multi: AtomicBool::new(false),
            globals_lock: SpinLock::new(),
            intern_lock: SpinLock::new(),
            code_lock: SpinLock::new(),
            side_lock: SpinLock::new(),
            natives: RwLock::new(Vec::new()),
            start: Instant::now(),
            next_thread_id: AtomicU64::new(1),
            unjoined_failures: AtomicUsize::new(0),
            os_threads: Mutex::new(Vec::new()),
            output: Output::new(),
        });
        let roots: *mut dyn RootSet = shared.roots();
        // SAFETY: `set_shared_roots` rule 1: the roots live inside this `Arc`'s allocation,
        // which does not move, and `Drop` unregisters them before it is freed. Rule 2 is
        // shared rule 1, which every access to the shared roots follows.
        unsafe { shared.heap.set_shared_roots(Some(roots)) };
        shared
    }

    /// The program's heap (a new thread attaches to it).
    pub fn heap(&self) -> &Arc<Heap<LoxModel>> {
        &self.heap
    }

    /// The shared roots. The one way in: every dereference says which shared rule allows it,
    /// and no reference made from it outlives a safepoint (rule 1).
    #[inline(always)]
    pub fn roots(&self) -> *mut SharedRoots {
        self.roots.get()
    }

    /// Whether more than one mutator is attached, so table writers must lock. One load per
    /// table write; acquire, so that a thread that sees it lowered also sees the writes of
    /// the thread whose detaching lowered it.
    #[inline(always)]
    pub fn multi(&self) -> bool {
        self.multi.load(Ordering::Acquire)
    }

    /// Called when a second mutator attaches (`true`, before it can run Lox code) and when
    /// only one is left (`false`, after the others' last table writes). Raising it happens
    /// on the thread that spawns, before the new thread exists, so the spawner's own later
    /// writes lock too.
    pub fn set_multi(&self, on: bool) {
        self.multi.store(on, Ordering::Release);
    }

    /// A new thread's id (for lock ownership): 1 for the first VM, never 0.
    pub fn new_thread_id(&self) -> u64 {
        self.next_thread_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A thread ended with a runtime error.
    pub(crate) fn note_thread_failure(&self) {
        self.unjoined_failures.fetch_add(1, Ordering::AcqRel);
    }

    /// A join saw a failed thread for the first time.
    pub(crate) fn note_failure_joined(&self) {
        self.unjoined_failures.fetch_sub(1, Ordering::AcqRel);
    }

    /// Keeps a started thread's handle until the program waits for it.
    pub(crate) fn add_os_thread(&self, handle: JoinHandle<()>) {
        self.os_threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Blocks until every thread started so far, and every thread those start, has ended.
    /// Touches no heap: call it in the native state.
    pub fn wait_for_threads(&self) {
        loop {
            let next = self
                .os_threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let Some(handle) = next else { return };
            // A thread's body catches nothing: a Rust panic there is a bug, reported by the
            // panic hook when it happened; the program still ends.
            let _ = handle.join();
        }
    }

    /// Whether some thread ended with a runtime error that no join has seen.
    pub fn unjoined_failures(&self) -> usize {
        self.unjoined_failures.load(Ordering::Acquire)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last thread of the program left (each holds an `Arc`): no mutator that knows
        // these roots remains, and this thread is none (`VmCore` drops its mutator first).
        // SAFETY: unregistering has no precondition beyond the lock.
        unsafe { self.heap.set_shared_roots(None) };
    }
}
