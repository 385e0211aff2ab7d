//! Lox threads: `Thread(fn)` makes a Thread object and starts `fn()` on a new OS thread;
//! `thread.join()` waits for it and returns what `fn` returned (every join, the same value),
//! or raises `Joined thread ended with a runtime error.` if it failed (its own error and trace
//! were reported when it failed).
//!
//! A Thread object holds the index of its entry in the shared side table (`SharedRoots::
//! threads`, sidetable.rs). The entry keeps, as strong roots of the shared roots, the function
//! until the new thread has moved it onto its own stack (`start`: between the spawn and the new
//! thread's attaching to the heap, nothing else roots it), and the returned value from the
//! moment the thread ends (`result`: the thread's stack dies with it; a joiner reads the value
//! from the entry, for as long as the Thread object lives). The thread's state, which joiners
//! wait on in the native state, is in an `Arc` beside it (`ThreadState`). An entry whose
//! Thread object died stays while the thread runs (the sweep sees it pinned), since the thread
//! still writes its result there.
//!
//! The program waits for every thread it started, joined or not (`Shared::wait_for_threads`).

use crate::object::{field, header, tag, words, Obj};
use crate::shared::Shared;
use crate::value::Value;
use crate::vm::{RuntimeError, VmCore};
use gc::OutOfMemory;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};

pub const THREAD_EXPECTS: &[u8] = b"Thread expects a function of no arguments.";
pub const JOINED_FAILED: &[u8] = b"Joined thread ended with a runtime error.";

/// How a thread ended, so far.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Outcome {
    Running = 0,
    Returned = 1,
    Failed = 2,
}

/// What joiners wait on: the outcome, published when the thread ends.
#[derive(Default)]
pub struct ThreadState {
    outcome: AtomicU8,
    /// A join has seen the failure (it no longer counts against the exit status).
    failure_joined: AtomicBool,
    ended: Mutex<()>,
    changed: Condvar,
}

impl ThreadState {
    pub fn outcome(&self) -> Outcome {
        match self.outcome.load(Ordering::Acquire) {
            1 => Outcome::Returned,
            2 => Outcome::Failed,
            _ => Outcome::Running,
        }
    }

    /// Publishes the outcome (its result stored before) and wakes every joiner.
    fn end(&self, outcome: Outcome) {
        let g = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        self.outcome.store(outcome as u8, Ordering::Release);
        drop(g);
        self.changed.notify_all();
    }

    /// Blocks until the thread has ended. Touches no heap: callable in the native state.
    fn wait(&self) {
        let mut g = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        while self.outcome() == Outcome::Running {
            g = self.changed.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A Lox thread's side-table entry.
pub struct ThreadEntry {
    /// The function to run, until the new thread takes it (a strong root; then nil).
    pub start: Value,
    /// What the function returned, once it has (a strong root, kept for every join).
    pub result: Value,
    pub state: Arc<ThreadState>,
}

impl ThreadEntry {
    /// The strong roots of the entry (`SharedRoots::visit_roots`).
    pub fn roots(&mut self) -> [&mut Value; 2] {
        [&mut self.start, &mut self.result]
    }

    /// Whether the entry must outlive its Thread object (the thread still writes to it).
    pub fn pinned(&self) -> bool {
        self.state.outcome() == Outcome::Running
    }
}

/// The side-table index a Lock or Thread object holds.
///
/// # Safety
/// 1. `o` is a live Lock or Thread object, read since the last safepoint.
pub unsafe fn side_index(o: Value) -> u32 {
    // SAFETY: rule 1.
    unsafe { Obj::from_value(o) }.word(field::SIDE_INDEX) as u32
}

/// Whether `f` can start a thread: a closure or bound method taking no arguments.
///
/// # Safety
/// 1. If `f` is an object it is live and current.
unsafe fn runnable(f: Value) -> bool {
    if !f.is_object() {
        return false;
    }
    // SAFETY: rule 1; a bound method's method is a closure, a closure's function a function.
    unsafe {
        let o = Obj::from_value(f);
        let closure = match o.tag() {
            tag::CLOSURE => o,
            tag::BOUND_METHOD => Obj::from_value(o.get(field::BOUND_METHOD)),
            _ => return false,
        };
        Obj::from_value(closure.get(field::CLOSURE_FUNCTION)).function_arity() == 0
    }
}

impl VmCore {
    /// The `Thread(fn)` native, with `fn` on top of the stack: returns the started thread.
    pub(crate) fn native_thread(&mut self) -> Result<Value, RuntimeError> {
        let f = self.roots.stack.peek(0);
        // SAFETY: read from the stack just now.
        if !unsafe { runnable(f) } {
            return Err(self.runtime_error(THREAD_EXPECTS));
        }
        // What this thread printed so far comes before anything the new one prints. Writing
        // is the native state, where another thread's pause may move `f`: re-read it.
        self.flush_out();
        let f = self.roots.stack.peek(0);
        let t = match self.new_thread(f) {
            Ok(t) => t,
            Err(OutOfMemory) => return Err(self.runtime_error(b"Out of memory.")),
        };
        self.roots.temps.push(t);
        // SAFETY: `t` was just made (kept in the temp roots from here on).
        let r = self.spawn(unsafe { side_index(t) });
        let t = self.roots.temps.pop().unwrap_or(Value::NIL);
        r.map(|()| t)
    }

    /// A Thread object for `f`, with its entry (`start` = `f`), not yet started. A safepoint.
    pub(crate) fn new_thread(&mut self, f: Value) -> Result<Value, OutOfMemory> {
        let (o, [f]) = self.alloc_keep(words::SIDE_OBJECT, [f])?;
        o.set_word(0, header(tag::THREAD, words::SIDE_OBJECT));
        o.set_word(field::SIDE_INDEX, u64::from(u32::MAX));
        let (locked, [t, f]) = self.lock_side([o.value(), f]);
        let entry = ThreadEntry {
            start: f,
            result: Value::NIL,
            state: Arc::new(ThreadState::default()),
        };
        // SAFETY: shared rule 2: the side tables are written under the side lock, or by the only
        // mutator. `t` is current (re-read if waiting was a safepoint).
        unsafe {
            let index = (*self.shared.roots()).threads.add(t, entry);
            Obj::from_value(t).set_word(field::SIDE_INDEX, u64::from(index));
        }
        self.unlock_side(locked);
        Ok(t)
    }

    /// Starts the OS thread of entry `index`: it attaches to the heap as a mutator of its own
    /// and runs the entry's function on a VM of its own (`thread_main`).
    fn spawn(&mut self, index: u32) -> Result<(), RuntimeError> {
        // Table writers lock from now on, this thread's too: raised before the new thread
        // exists (see `Shared::set_multi`). It stays raised for the program's life.
        self.shared.set_multi(true);
        let shared = Arc::clone(&self.shared);
        let started = std::thread::Builder::new()
            .name("lox-thread".into())
            .spawn(move || thread_main(shared, index));
        match started {
            Ok(handle) => {
                self.shared.add_os_thread(handle);
                Ok(())
            }
            Err(_) => {
                self.end_unstarted(index);
                Err(self.runtime_error(b"Cannot start a thread."))
            }
        }
    }

    /// Ends entry `index` whose thread never started: nothing will run or be joined.
    fn end_unstarted(&mut self, index: u32) {
        let (locked, []) = self.lock_side([]);
        // SAFETY: shared rule 2, as in `new_thread`.
        if let Some(e) = unsafe { (*self.shared.roots()).threads.get_mut(index) } {
            e.start = Value::NIL;
            e.state.failure_joined.store(true, Ordering::Relaxed);
            e.state.end(Outcome::Failed);
        }
        self.unlock_side(locked);
    }

    /// The body of a Lox thread, on its own VM (an attached mutator with an empty stack): takes
    /// the function from entry `index`, runs it, and publishes its result or its failure (whose
    /// message and trace it reports like any runtime error).
    pub(crate) fn run_thread(&mut self, index: u32) {
        let (locked, []) = self.lock_side([]);
        // SAFETY: shared rule 2, as in `new_thread`; the function moves from the entry (a root)
        // to this thread's stack (a root) with no safepoint in between.
        let (f, state) = match unsafe { (*self.shared.roots()).threads.get_mut(index) } {
            Some(e) => (std::mem::replace(&mut e.start, Value::NIL), e.state.clone()),
            None => (Value::NIL, Arc::new(ThreadState::default())),
        };
        self.unlock_side(locked);
        let depth = self.roots.frames.len();
        self.roots.stack.push(f);
        // A closure or a bound method (`runnable`): a call pushes its frame, and `run` returns
        // when that frame does, its result on the stack.
        let ran = self.call_value(f, 0).and_then(|()| self.run());
        debug_assert!(ran.is_err() || self.roots.frames.len() == depth);
        // Everything the thread printed goes out before it counts as ended (a joiner's output
        // comes after it), while its result is still rooted on the stack.
        self.flush_out();
        match ran {
            Ok(()) => {
                let result = self.roots.stack.pop();
                let (locked, [result]) = self.lock_side([result]);
                // SAFETY: as above; `result` is current (re-read if waiting was a safepoint).
                if let Some(e) = unsafe { (*self.shared.roots()).threads.get_mut(index) } {
                    e.result = result;
                }
                self.unlock_side(locked);
                state.end(Outcome::Returned);
            }
            Err(RuntimeError) => {
                self.shared.note_thread_failure();
                state.end(Outcome::Failed);
            }
        }
    }

    /// `thread.join()`, the receiver on top of the stack: replaces it with the thread's result.
    pub(crate) fn thread_join(&mut self) -> Result<(), RuntimeError> {
        // SAFETY: the receiver is a live Thread object on the stack.
        let index = unsafe { side_index(self.roots.stack.peek(0)) };
        let (locked, []) = self.lock_side([]);
        // SAFETY: shared rule 2, as in `new_thread`.
        let state = unsafe { (*self.shared.roots()).threads.get(index) }.map(|e| e.state.clone());
        self.unlock_side(locked);
        let Some(state) = state else {
            return Err(self.runtime_error(JOINED_FAILED));
        };
        if state.outcome() == Outcome::Running {
            self.flush_out();
            self.heap.in_native(&mut self.roots, || state.wait());
        }
        if state.outcome() == Outcome::Failed {
            if !state.failure_joined.swap(true, Ordering::AcqRel) {
                self.shared.note_failure_joined();
            }
            return Err(self.runtime_error(JOINED_FAILED));
        }
        let (locked, []) = self.lock_side([]);
        // SAFETY: shared rule 2, as in `new_thread`; the Thread object (the receiver) keeps its
        // entry, and the result it holds, alive.
        let result =
            unsafe { (*self.shared.roots()).threads.get(index) }.map_or(Value::NIL, |e| e.result);
        self.unlock_side(locked);
        let top = self.roots.stack.top;
        self.roots.stack.set(top - 1, result);
        Ok(())
    }
}

/// What a new OS thread runs: attaches to the program's heap (until then the entry's function
/// is rooted by the entry alone), runs the Lox thread of entry `index` on a VM of its own, and
/// detaches when that VM is dropped.
fn thread_main(shared: Arc<Shared>, index: u32) {
    let mutator = shared.heap().attach();
    let mut vm = VmCore::new(mutator, shared);
    vm.run_thread(index);
}
