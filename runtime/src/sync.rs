//! How a VM thread takes the locks that keep shared tables whole when several threads write
//! them (design note threads.md §5): the header lock of an instance or class (its fields or
//! methods), and the globals, intern and code locks in `Shared`. Locks are taken only while
//! `Shared::multi` is set; a program with one thread pays one load per table write.
//!
//! **Waiting polls.** A thread that finds a lock taken spins with back-off and, between tries,
//! polls the collector's safepoint flag and takes the safepoint when asked. Blocking in the
//! native state instead would also keep pauses going, but costs two state changes per wait,
//! and these locks are held for a few instructions (a probe and a store, a rehash), except the
//! intern lock, which is held across the new string's allocation: its holder may itself be
//! waiting in a pause for every other thread to stop, so a waiter that did not poll would
//! deadlock it. Values the waiter needs afterwards travel in `keep`, parked in the temp roots
//! across the safepoint (objects move), and are returned re-read.
//!
//! **Holding never spans a safepoint**, except the intern lock (above): a header lock is taken
//! after the table's owner is re-read and released before anything that may allocate, so no
//! header lock bit is set during a pause (the collector's header reads mask it anyway).

use crate::object::Obj;
use crate::shared::Shared;
use crate::table;
use crate::value::Value;
use crate::vm::{RuntimeError, VmCore};

/// Which table's writers' lock.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum TableLock {
    Globals,
    /// The header lock of the object in `keep[0]`.
    Owner,
}

impl VmCore {
    /// Tries `try_take` until it succeeds, polling the safepoint meanwhile (module comment).
    /// Returns `keep`, re-read after any safepoint.
    #[cold]
    #[inline(never)]
    pub(crate) fn wait_for<const N: usize>(
        &mut self,
        mut keep: [Value; N],
        try_take: impl Fn(&Shared, &[Value; N]) -> bool,
    ) -> [Value; N] {
        let mut spins = 0;
        loop {
            if try_take(&self.shared, &keep) {
                return keep;
            }
            if self.heap.should_yield() {
                let base = self.roots.temps.len();
                self.roots.temps.extend_from_slice(&keep);
                self.heap.safepoint(&mut self.roots);
                keep.copy_from_slice(&self.roots.temps[base..]);
                self.roots.temps.truncate(base);
            }
            crate::locks::back_off(&mut spins);
        }
    }

    /// Takes the writers' lock of a table: the globals' or, for `Owner`, the header lock of
    /// the object `keep[0]` (a Class or Instance). A safepoint when it has to wait: `keep`
    /// comes back re-read.
    #[inline(always)]
    pub(crate) fn lock_table<const N: usize>(
        &mut self,
        which: TableLock,
        keep: [Value; N],
    ) -> [Value; N] {
        let try_take = move |shared: &Shared, keep: &[Value; N]| match which {
            TableLock::Globals => shared.globals_lock.try_lock(),
            // SAFETY: keep[0] is the table's owner, live and current: the caller's, or re-read
            // from the temp roots after a safepoint.
            TableLock::Owner => unsafe { Obj::from_value(keep[0]) }.try_lock(),
        };
        if try_take(&self.shared, &keep) {
            keep
        } else {
            self.wait_for(keep, try_take)
        }
    }

    /// Releases what `lock_table` took; `owner` is `keep[0]` as it returned.
    #[inline(always)]
    pub(crate) fn unlock_table(&self, which: TableLock, owner: Value) {
        match which {
            TableLock::Globals => self.shared.globals_lock.unlock(),
            // SAFETY: the owner was re-read when its lock was taken and no safepoint has passed
            // since (a header lock is never held across one).
            TableLock::Owner => unsafe { Obj::from_value(owner) }.unlock(),
        }
    }

    /// Takes the intern lock. A safepoint when it has to wait (the caller holds no heap value
    /// in a local: interning is a safepoint anyway).
    pub(crate) fn lock_intern(&mut self) {
        if !self.shared.intern_lock.try_lock() {
            self.wait_for([], |shared, _| shared.intern_lock.try_lock());
        }
    }

    /// Takes the code table's lock. A safepoint when it has to wait: `keep` comes back re-read.
    pub(crate) fn lock_code<const N: usize>(&mut self, keep: [Value; N]) -> [Value; N] {
        if self.shared.code_lock.try_lock() {
            keep
        } else {
            self.wait_for(keep, |shared, _| shared.code_lock.try_lock())
        }
    }

    /// Takes the side tables' lock while other threads run; returns whether it did (the
    /// argument of `unlock_side`) and `keep`, re-read if waiting was a safepoint.
    pub(crate) fn lock_side<const N: usize>(&mut self, keep: [Value; N]) -> (bool, [Value; N]) {
        if !self.shared.multi() {
            return (false, keep);
        }
        if self.shared.side_lock.try_lock() {
            return (true, keep);
        }
        (
            true,
            self.wait_for(keep, |shared, _| shared.side_lock.try_lock()),
        )
    }

    /// Releases what `lock_side` took.
    pub(crate) fn unlock_side(&self, locked: bool) {
        if locked {
            self.shared.side_lock.unlock();
        }
    }

    /// `SET_GLOBAL` while other threads may write the globals: the store under the globals'
    /// lock, since a growth racing with it could copy the old value into the new array after
    /// the store and lose it. A safepoint. Reports the error for an undefined variable.
    #[cold]
    #[inline(never)]
    pub(crate) fn set_global_locked(
        &mut self,
        name: Value,
        value: Value,
    ) -> Result<(), RuntimeError> {
        let [name, value] = self.lock_table(TableLock::Globals, [name, value]);
        // SAFETY: `name` is a live string (re-read if a safepoint passed); the globals'
        // entries are read under their lock (shared rule 2) and stored into before the unlock.
        let found = unsafe {
            let hash = Obj::from_value(name).string_hash();
            let entries = (*self.shared.roots()).globals.entries;
            table::set_existing(entries, name, hash, value, &mut self.heap)
        };
        self.shared.globals_lock.unlock();
        if found {
            Ok(())
        } else {
            Err(self.undefined_variable(name))
        }
    }
}
