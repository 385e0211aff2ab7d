//! A VM thread's calls into the collector that pass roots or change the thread's state: the
//! allocation slow path, the safepoint, a full collection and the native state. The fast
//! paths (`try_alloc`, `should_yield`, the write barrier, `shade`) stay at their call sites.
//!
//! Today the heap has one mutator and takes all roots in every call, so these functions hand
//! it `VmRoots` (this thread's roots, then the shared ones). When each thread gets its own
//! `gc::Mutator`, this file is where that changes: the calls take `&mut ThreadRoots` only, and
//! the shared roots are registered with the heap once (`Heap::set_shared_roots`).

use crate::object::LoxModel;
use crate::roots::{ThreadRoots, VmRoots};
use crate::shared::Shared;
use gc::{Address, Heap, OutOfMemory};

/// Both halves of the roots for one call into the heap.
#[inline(always)]
fn vm_roots<'a>(thread: &'a mut ThreadRoots, shared: &'a Shared) -> VmRoots<'a> {
    // SAFETY: shared rule 1: the heap visits and rewrites the shared roots only inside a pause,
    // and today it runs every pause on its one mutator, this thread, inside the call this
    // view is made for; the reference dies with the call, before this thread reads the
    // shared roots again. TODO(lead, issue 11): with `gc::Mutator`, the pause runs on any
    // thread: register `shared.roots()` with `Heap::set_shared_roots` instead.
    let shared = unsafe { &mut *shared.roots() };
    VmRoots { thread, shared }
}

/// The allocation slow path (a safepoint: may collect).
#[inline(never)]
pub(crate) fn alloc_slow(
    heap: &mut Heap<LoxModel>,
    roots: &mut ThreadRoots,
    shared: &Shared,
    bytes: usize,
) -> Result<Address, OutOfMemory> {
    heap.alloc_slow(bytes, &mut vm_roots(roots, shared))
}

/// The safepoint: parks while another thread holds the program stopped, runs a requested
/// collection, reaps a finished concurrent cycle. The caller saved its state first and
/// re-reads every heap pointer afterwards.
#[cold]
#[inline(never)]
pub(crate) fn safepoint(heap: &mut Heap<LoxModel>, roots: &mut ThreadRoots, shared: &Shared) {
    heap.safepoint(&mut vm_roots(roots, shared));
}

/// A full collection now.
pub(crate) fn collect(heap: &mut Heap<LoxModel>, roots: &mut ThreadRoots, shared: &Shared) {
    heap.collect(&mut vm_roots(roots, shared));
}

/// Runs `f`, which must not touch the heap or the shared roots, in the native state: the
/// thread counts as stopped, so no pause waits for it (blocking I/O, a host function, a wait
/// for another thread). A collection requested meanwhile runs right after, so `roots` must
/// be complete (the dispatch loop saved its state). TODO(lead, issue 11): becomes
/// `mutator.in_native(roots, f)`, where a pause visits `roots` while `f` runs.
pub(crate) fn in_native<R>(
    heap: &mut Heap<LoxModel>,
    roots: &mut ThreadRoots,
    shared: &Shared,
    f: impl FnOnce() -> R,
) -> R {
    heap.enter_native();
    let r = f();
    if heap.leave_native() {
        safepoint(heap, roots, shared);
    }
    r
}

/// As [`in_native`], but a safepoint wanted afterwards is left to the next poll (the flag stays
/// raised), so it may run in the middle of an instruction. `roots` must still be complete:
/// once pauses are handshakes they visit a native thread's roots while `f` runs.
pub(crate) fn in_native_deferred<R>(
    heap: &mut Heap<LoxModel>,
    _roots: &mut ThreadRoots,
    f: impl FnOnce() -> R,
) -> R {
    heap.enter_native();
    let r = f();
    // A `true` here (safepoint wanted) is honoured by the next poll: see above.
    let _ = heap.leave_native();
    r
}
