//! Lox locks: `Lock()` makes one; `lock.acquire()` waits until no other thread holds it and
//! takes it (`Lock is already held by this thread.` if this thread does: locks are not
//! reentrant); `lock.release()` lets it go (`Cannot release a lock this thread does not
//! hold.` otherwise). A Lock object holds the index of its entry in the shared side table
//! (`SharedRoots::locks`), whose `LockState` is what threads wait on, in the native state, so
//! a thread blocked in `acquire` never delays a pause.
//!
//! Output order: a thread flushes its `print` buffer before it releases a lock and before it
//! blocks in `acquire`, so lines printed while holding a lock come out in the order the lock
//! was held.

use crate::object::{field, header, tag, words, Obj};
use crate::threads::side_index;
use crate::value::Value;
use crate::vm::{RuntimeError, VmCore};
use gc::OutOfMemory;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

pub const ALREADY_HELD: &[u8] = b"Lock is already held by this thread.";
pub const NOT_HELD: &[u8] = b"Cannot release a lock this thread does not hold.";

/// Who holds a lock (a thread id, 0 for nobody), and the waiters' wake-up.
#[derive(Default)]
pub struct LockState {
    holder: Mutex<u64>,
    released: Condvar,
}

impl LockState {
    fn holder(&self) -> MutexGuard<'_, u64> {
        self.holder.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the lock for `me` if nobody holds it. `Err(())` if `me` holds it already.
    fn try_acquire(&self, me: u64) -> Result<bool, ()> {
        let mut h = self.holder();
        match *h {
            0 => {
                *h = me;
                Ok(true)
            }
            x if x == me => Err(()),
            _ => Ok(false),
        }
    }

    /// Blocks until the lock is free, then takes it for `me`. Touches no heap: callable in
    /// the native state.
    fn acquire_blocking(&self, me: u64) {
        let mut h = self.holder();
        while *h != 0 {
            h = self.released.wait(h).unwrap_or_else(|e| e.into_inner());
        }
        *h = me;
    }

    /// Releases the lock if `me` holds it; false otherwise.
    fn release(&self, me: u64) -> bool {
        let mut h = self.holder();
        if *h != me {
            return false;
        }
        *h = 0;
        drop(h);
        self.released.notify_one();
        true
    }
}

impl VmCore {
    /// The `Lock()` native: a new, free lock. A safepoint.
    pub(crate) fn new_lock(&mut self) -> Result<Value, OutOfMemory> {
        let (o, []) = self.alloc_keep(words::SIDE_OBJECT, [])?;
        o.set_word(0, header(tag::LOCK, words::SIDE_OBJECT));
        o.set_word(field::SIDE_INDEX, u64::from(u32::MAX));
        let (locked, [l]) = self.lock_side([o.value()]);
        // SAFETY: shared rule 2: the side tables are written under the side lock, or by the only
        // mutator. `l` is current (re-read if waiting was a safepoint).
        unsafe {
            let index = (*self.shared.roots())
                .locks
                .add(l, Arc::new(LockState::default()));
            Obj::from_value(l).set_word(field::SIDE_INDEX, u64::from(index));
        }
        self.unlock_side(locked);
        Ok(l)
    }

    /// The state of the Lock object on top of the stack.
    fn lock_state(&mut self) -> Option<Arc<LockState>> {
        // SAFETY: the receiver is a live Lock object on the stack.
        let index = unsafe { side_index(self.roots.stack.peek(0)) };
        let (locked, []) = self.lock_side([]);
        // SAFETY: shared rule 2, as in `new_lock`.
        let state = unsafe { (*self.shared.roots()).locks.get(index) }.cloned();
        self.unlock_side(locked);
        state
    }

    /// `lock.acquire()`, the receiver on top of the stack: replaces it with nil.
    pub(crate) fn lock_acquire(&mut self) -> Result<(), RuntimeError> {
        let Some(state) = self.lock_state() else {
            return Err(self.runtime_error(NOT_HELD));
        };
        let me = self.thread_id;
        match state.try_acquire(me) {
            Ok(true) => {}
            Ok(false) => {
                self.flush_out();
                self.heap
                    .in_native(&mut self.roots, || state.acquire_blocking(me));
            }
            Err(()) => return Err(self.runtime_error(ALREADY_HELD)),
        }
        let top = self.roots.stack.top;
        self.roots.stack.set(top - 1, Value::NIL);
        Ok(())
    }

    /// `lock.release()`, the receiver on top of the stack: replaces it with nil.
    pub(crate) fn lock_release(&mut self) -> Result<(), RuntimeError> {
        let Some(state) = self.lock_state() else {
            return Err(self.runtime_error(NOT_HELD));
        };
        if !self.out.is_empty() {
            self.flush_out();
        }
        if !state.release(self.thread_id) {
            return Err(self.runtime_error(NOT_HELD));
        }
        let top = self.roots.stack.top;
        self.roots.stack.set(top - 1, Value::NIL);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_excludes_other_threads_and_refuses_reentry() {
        let state = Arc::new(LockState::default());
        assert_eq!(state.try_acquire(1), Ok(true));
        assert_eq!(state.try_acquire(1), Err(()));
        assert_eq!(state.try_acquire(2), Ok(false));
        assert!(!state.release(2), "only the holder releases");
        let waiter = {
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                state.acquire_blocking(2);
                state.release(2)
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(state.release(1));
        assert!(
            waiter.join().unwrap(),
            "the waiter got the lock once it was released"
        );
        assert_eq!(*state.holder(), 0);
    }
}
