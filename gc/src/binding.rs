//! The boundary between the collector and a language (design note §5), in the spirit of
//! mmtk-core's `VMBinding`. The collector never names a language type: it learns object sizes,
//! reference slots and root slots only through these traits.
//!
//! A *slot* is one 8-byte word that may hold a reference. Its encoding is the language's own
//! (Lox NaN-boxes its values); the collector asks the object model to decode a slot word into an
//! [`Address`] and to re-encode it with a new target after the object moved.

use crate::address::Address;

/// Whether a reference slot keeps its target alive.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SlotKind {
    /// Traced by marking.
    Strong,
    /// Not traced (an intern table's keys); cleared by [`RootSet::sweep_weak`] when the target
    /// dies, and updated like any slot when it lives.
    Weak,
}

/// How the collector reads the language's objects. All functions are called on object starts
/// (the header word) inside the heap or inside the from-space copy during compaction; they must
/// read only the object's own words and must not allocate, lock or panic (compaction will call
/// them from a signal handler in the concurrent collector).
///
/// Concurrent marking reads objects while the program runs, so the binding promises that an
/// object's size and the set of its reference slots never change once it is initialised (only
/// the values in its slots do, and every such store of a reference is preceded by
/// `Heap::write_barrier` with the old value).
pub trait ObjectModel: 'static {
    /// Size in bytes of the object starting at `obj` (a multiple of 8, at least 8), from its
    /// header.
    ///
    /// # Safety
    /// 1. `obj` is the start of a well-formed object (header initialised) in readable memory.
    unsafe fn size_bytes(obj: Address) -> usize;

    /// Calls `f(word_index, kind)` for every word of the object at `obj` that may hold a
    /// reference, in increasing `word_index` order (word 0 is the header).
    ///
    /// # Safety
    /// 1. As for [`ObjectModel::size_bytes`]; the words reported lie within the object.
    unsafe fn for_each_slot(obj: Address, f: &mut dyn FnMut(usize, SlotKind));

    /// As [`ObjectModel::for_each_slot`], restricted to slots whose `word_index` lies in
    /// `words`. Compaction calls it for the part of an object that lands on one page; an object
    /// model with large arrays should override it to skip straight to `words.start`.
    ///
    /// # Safety
    /// 1. As for [`ObjectModel::for_each_slot`].
    unsafe fn for_each_slot_in(
        obj: Address,
        words: std::ops::Range<usize>,
        f: &mut dyn FnMut(usize, SlotKind),
    ) {
        // SAFETY: rule 1 is the same contract as for_each_slot's.
        unsafe {
            Self::for_each_slot(obj, &mut |i, kind| {
                if words.contains(&i) {
                    f(i, kind)
                }
            })
        }
    }

    /// The heap object a slot word refers to, if it is a reference (and not, say, a number).
    fn decode(word: u64) -> Option<Address>;

    /// The slot word `word` re-encoded to refer to `target` instead.
    fn encode(word: u64, target: Address) -> u64;

    /// Writes a dead "filler" object covering exactly `bytes` bytes at `at` (a multiple of 8,
    /// at least 8), so that the heap stays parseable object by object.
    ///
    /// # Safety
    /// 1. `[at, at + bytes)` is writable heap memory owned by the caller.
    unsafe fn write_filler(at: Address, bytes: usize);

    /// A small number naming the object's type, for the verifier and statistics.
    ///
    /// # Safety
    /// 1. As for [`ObjectModel::size_bytes`].
    unsafe fn type_tag(obj: Address) -> u32;
}

/// Root slots: one mutator thread's (its stack, frames, handles; passed to the mutator's
/// calls), or those every thread shares (globals, intern tables; registered with
/// `Heap::set_shared_roots`). The collector calls these only inside pauses, while every
/// mutator is stopped.
pub trait RootSet {
    /// Calls `v` on every strong root slot (an encoded word, as in object slots). `v` may
    /// rewrite the slot. Each slot must be visited **exactly once** per call: the collector
    /// rewrites every visited slot to its target's new address, and a slot visited twice would
    /// be forwarded twice. The collector calls this several times per cycle (marking, root
    /// update, and twice more with verification on); every call must visit the same slots in
    /// the same order.
    fn visit_roots(&mut self, v: &mut dyn FnMut(&mut u64));

    /// Calls `v` on every weak root slot (a side table's link to its heap owner). Weak roots are
    /// not traced; after marking the collector calls [`RootSet::sweep_weak`], then updates the
    /// survivors through this visitor.
    fn visit_weak_roots(&mut self, _v: &mut dyn FnMut(&mut u64)) {}

    /// After marking, before anything moves: forget every weak reference whose target is dead
    /// (intern table entries, off-heap data owned by dead objects). `is_live` answers for any
    /// heap address; addresses outside the heap count as live.
    fn sweep_weak(&mut self, _is_live: &dyn Fn(Address) -> bool) {}
}
