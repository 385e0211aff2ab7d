//! The runtime's side of the collector's write barrier (design note §2.2). Marking runs
//! concurrently with the program and traces the graph as it was when the cycle began
//! (snapshot at the beginning), so every store that overwrites a reference slot of an object
//! that already exists must first report the slot's old word to the collector. Stores go
//! through [`crate::object::Obj::store`] with a [`Barrier`]: the heap for an existing object,
//! [`Fresh`] for an object being initialised since its allocation (no safepoint in between),
//! whose old words are not references the snapshot could hold. Naming the choice at each call
//! site keeps the initialising stores visibly distinct from the overwrites.

use crate::object::LoxModel;
use gc::Mutator;

/// Something told about a reference slot's old word before the slot is overwritten.
pub trait Barrier {
    fn overwriting(&mut self, old: u64);
}

impl Barrier for Mutator<LoxModel> {
    /// One flag test unless a cycle is marking; then the old target is shaded.
    #[inline(always)]
    fn overwriting(&mut self, old: u64) {
        self.write_barrier(old);
    }
}

/// The barrier of an initialising store: the object was allocated after the last safepoint,
/// so no marking cycle can have seen it with other contents (and black allocation keeps it).
pub struct Fresh;

impl Barrier for Fresh {
    #[inline(always)]
    fn overwriting(&mut self, _old: u64) {}
}
