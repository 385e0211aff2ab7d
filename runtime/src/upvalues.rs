//! Open upvalues, and how a closure reaches one that another thread's stack holds.
//!
//! An open upvalue names its variable by the **address** of the stack slot (`UPVALUE_SLOT`, a
//! raw word the collector never reads), which also says whose it is: the thread whose stack
//! contains the address, its *owner*. Each thread's open list holds only its own upvalues,
//! sorted by slot, highest first; closing copies the slot's value into the upvalue and marks
//! it closed (`UPVALUE_CLOSED`).
//!
//! A closure handed to `Thread(fn)` may use an upvalue that is still open in the thread that
//! made it (racy, but sane):
//! - The **owner** reads and writes the slot directly, as ever: the dispatch loop's check that
//!   the address lies in its own stack is its only cost.
//! - **Another thread** reads or writes it under the upvalue's header lock (locks.rs): with
//!   the lock held, an upvalue that is still open cannot be closed, so its slot belongs to a
//!   live frame of the owner, whose stack stays mapped. (A stack is unmapped only when its
//!   thread's VM is dropped, and every upvalue into it is closed before: a frame's upvalues
//!   are closed when it returns, and all of them when a runtime error unwinds the stack.)
//! - The owner **closes** an upvalue under the same lock while `Shared::multi` is set, so the
//!   other thread sees it either open, slot valid, or closed with the value moved in.
//! - A write from another thread into the owner's slot needs no barrier: stack slots are
//!   roots, which the snapshot-at-the-beginning marking scans in the initial pause, like the
//!   owner's own `SET_LOCAL`.
//!
//! The owner's wait for the lock when closing does not poll the safepoint: it runs in the
//! middle of a return, with the frame already popped, and the other thread holds the lock for
//! a handful of instructions, never across a safepoint, so the wait is bounded like any
//! instruction. Another thread's wait does poll (sync.rs), with the upvalue kept as a root.

use crate::object::{field, header, tag, words, Obj, UPVALUE_CLOSED};
use crate::roots::STACK_BYTES;
use crate::value::Value;
use crate::vm::VmCore;
use gc::OutOfMemory;

/// Whether stack slot address `slot` lies in the stack starting at `base`.
#[inline(always)]
pub fn in_stack(slot: u64, base: *const Value) -> bool {
    (slot as usize).wrapping_sub(base as usize) < STACK_BYTES
}

impl VmCore {
    /// Address of this thread's stack slot `index`.
    #[inline(always)]
    fn slot_address(&self, index: usize) -> u64 {
        self.roots.stack.base_ptr().wrapping_add(index) as usize as u64
    }

    /// The open upvalue for this thread's stack slot `index`, creating and linking it if
    /// needed (the open list is sorted by slot, highest first).
    pub(crate) fn capture_upvalue(&mut self, index: usize) -> Result<Value, OutOfMemory> {
        let slot = self.slot_address(index);
        let mut cur = self.roots.open_upvalues;
        while cur.is_object() {
            // SAFETY: the open list hangs off a root; no safepoint during the walk.
            let u = unsafe { Obj::from_value(cur) };
            let us = u.word(field::UPVALUE_SLOT);
            if us == slot {
                return Ok(cur);
            }
            if us < slot {
                break;
            }
            cur = u.get(field::UPVALUE_NEXT);
        }
        let (u, []) = self.alloc_keep(words::UPVALUE, [])?;
        u.set_word(0, header(tag::UPVALUE, words::UPVALUE));
        u.set_word(field::UPVALUE_SLOT, slot);
        u.set(field::UPVALUE_CLOSED, Value::NIL);
        // The list may have moved: walk it again to find the insertion point.
        let mut prev: Option<Obj> = None;
        let mut cur = self.roots.open_upvalues;
        while cur.is_object() {
            // SAFETY: as above, after the allocation.
            let o = unsafe { Obj::from_value(cur) };
            if o.word(field::UPVALUE_SLOT) < slot {
                break;
            }
            prev = Some(o);
            cur = o.get(field::UPVALUE_NEXT);
        }
        u.set(field::UPVALUE_NEXT, cur);
        match prev {
            None => self.roots.open_upvalues = u.value(),
            // `p` is an existing upvalue: its old successor is now reachable only through the
            // new (black, untraced) upvalue, so the barrier must see it.
            Some(p) => p.store(&mut self.heap, field::UPVALUE_NEXT, u.value()),
        }
        Ok(u.value())
    }

    /// Closes every open upvalue for a stack slot at or above index `last`: the value moves
    /// into the upvalue and the upvalue leaves the open list. Never allocates, never polls.
    /// Kept out of the dispatch loop: inlined there (with its barriers) it slowed calls that
    /// close nothing.
    #[inline(never)]
    pub(crate) fn close_upvalues(&mut self, last: usize) {
        let last = self.slot_address(last);
        let multi = self.shared.multi();
        while self.roots.open_upvalues.is_object() {
            // SAFETY: the open list hangs off a root; no safepoint in this loop.
            let u = unsafe { Obj::from_value(self.roots.open_upvalues) };
            let slot = u.word(field::UPVALUE_SLOT);
            if slot < last {
                break;
            }
            if multi {
                // Another thread may be using it (module comment: why no poll here).
                let mut spins = 0;
                while !u.try_lock() {
                    crate::locks::back_off(&mut spins);
                }
            }
            // SAFETY: an open upvalue of this thread names a slot of its stack below the top.
            let value = unsafe { *(slot as usize as *const Value) };
            // An open upvalue's closed slot holds nil, but it is an overwrite of an existing
            // object all the same; unlinking drops the reference to the next open upvalue,
            // which the barrier must see (the list head, a root, is not re-scanned).
            u.store(&mut self.heap, field::UPVALUE_CLOSED, value);
            u.set_word(field::UPVALUE_SLOT, UPVALUE_CLOSED);
            if multi {
                u.unlock();
            }
            self.roots.open_upvalues = u.get(field::UPVALUE_NEXT);
            u.store(&mut self.heap, field::UPVALUE_NEXT, Value::NIL);
        }
    }

    /// The current frame's upvalue `i`.
    fn frame_upvalue(&self, i: usize) -> Value {
        let f = self.roots.frames.last().map_or(Value::NIL, |f| f.closure);
        // SAFETY: the running frame's closure is a root, current; verified code names only
        // upvalues the closure has.
        unsafe { Obj::from_value(f) }.get(field::CLOSURE_UPVALUES + i)
    }

    /// `GET_UPVALUE` of an upvalue open in another thread's stack (module comment). A
    /// safepoint: the caller saved its state.
    #[cold]
    #[inline(never)]
    pub(crate) fn get_foreign_upvalue(&mut self, i: usize) -> Value {
        let [u] = self.lock_upvalue([self.frame_upvalue(i)]);
        // SAFETY: `u` is current (re-read after any safepoint) and locked by us.
        let u = unsafe { Obj::from_value(u) };
        let slot = u.word(field::UPVALUE_SLOT);
        let v = if slot == UPVALUE_CLOSED {
            u.get(field::UPVALUE_CLOSED)
        } else {
            // SAFETY: open while we hold its lock, so the slot is in a live frame of its
            // owner, whose stack stays mapped (module comment); one aligned word.
            unsafe { *(slot as usize as *const Value) }
        };
        u.unlock();
        v
    }

    /// `SET_UPVALUE` of an upvalue open in another thread's stack. A safepoint: the caller
    /// saved its state (and `value` is re-read if it is an object).
    #[cold]
    #[inline(never)]
    pub(crate) fn set_foreign_upvalue(&mut self, i: usize, value: Value) {
        let [u, value] = self.lock_upvalue([self.frame_upvalue(i), value]);
        // SAFETY: as in `get_foreign_upvalue`.
        let u = unsafe { Obj::from_value(u) };
        let slot = u.word(field::UPVALUE_SLOT);
        if slot == UPVALUE_CLOSED {
            u.store(&mut self.heap, field::UPVALUE_CLOSED, value);
        } else {
            // SAFETY: as in `get_foreign_upvalue`. No barrier: the slot is a root of its
            // owner (module comment).
            unsafe { *(slot as usize as *mut Value) = value };
        }
        u.unlock();
    }

    /// Takes the header lock of the upvalue `keep[0]`, polling while it waits.
    fn lock_upvalue<const N: usize>(&mut self, keep: [Value; N]) -> [Value; N] {
        let try_take = |_: &crate::shared::Shared, keep: &[Value; N]| {
            // SAFETY: keep[0] is a live upvalue, re-read after any safepoint.
            unsafe { Obj::from_value(keep[0]) }.try_lock()
        };
        if try_take(&self.shared, &keep) {
            keep
        } else {
            self.wait_for(keep, try_take)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_belongs_to_the_stack_it_lies_in() {
        let base = 0x7000_0000_0000usize as *const Value;
        let b = base as u64;
        assert!(in_stack(b, base));
        assert!(in_stack(b + 8, base));
        assert!(in_stack(b + STACK_BYTES as u64 - 8, base));
        assert!(!in_stack(b + STACK_BYTES as u64, base));
        assert!(
            !in_stack(b - 8, base),
            "below the base wraps to a huge offset"
        );
        assert!(!in_stack(UPVALUE_CLOSED, base));
    }
}
