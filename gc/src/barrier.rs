//! The write barrier (design note §2.2): a deletion, snapshot-at-the-beginning barrier. While
//! a concurrent cycle marks, the object a reference slot designated before a store is shaded
//! and kept in the mutator's own buffer, handed to the markers when the buffer fills (or at the
//! remark, or when the thread detaches). When no cycle marks, it costs one test of a flag in
//! the mutator itself.

use crate::binding::ObjectModel;
use crate::collector::concurrent::marking::Tracer;
use crate::mutator::Mutator;
use std::sync::atomic::Ordering;

/// Objects a mutator's barrier buffer holds before it is handed to the markers.
const SATB_BUFFER: usize = 1024;

impl<M: ObjectModel> Mutator<M> {
    /// The deletion write barrier: call it with the word a heap object's (or heap table's)
    /// reference slot holds **before** overwriting it. While a concurrent cycle marks, the
    /// object it designates is shaded, so that the snapshot of the graph taken at the initial
    /// pause is marked whole. Stores into an object allocated since this thread's last
    /// safepoint (fresh objects) need no barrier.
    #[inline(always)]
    pub fn write_barrier(&mut self, old: u64) {
        if cfg!(not(feature = "no-write-barrier")) && self.local.marking {
            self.shade_slow(old);
        }
    }

    /// Shades the object `word` designates while marking runs: what a weak table's lookup
    /// returns must be shaded (design note §2.2), or the program could hold an interned string
    /// that marking never saw. Same cost as [`Mutator::write_barrier`] otherwise.
    #[inline(always)]
    pub fn shade(&mut self, word: u64) {
        if cfg!(not(feature = "no-write-barrier")) && self.local.marking {
            self.shade_slow(word);
        }
    }

    // Cold: kept out of line and its call placed off the hot path, so that a barrier in
    // the interpreter's dispatch loop costs the flag test and nothing else when off.
    #[cold]
    #[inline(never)]
    fn shade_slow(&mut self, word: u64) {
        let hs = self.heap().hs.clone();
        let mut t = Tracer::new(&hs.meta, hs.base(), self.local.black_begin);
        // SAFETY: the binding contract: a reference slot's word designates a well-formed
        // object start (or nothing); objects below the black boundary are readable.
        let Some(a) = (unsafe { t.shade::<M>(word) }) else {
            return;
        };
        let Some(sh) = hs.conc.as_ref() else {
            return;
        };
        sh.mark.objects.fetch_add(t.objects, Ordering::Relaxed);
        sh.mark.bytes.fetch_add(t.bytes, Ordering::Relaxed);
        self.local.satb.push(a);
        if self.local.satb.len() >= SATB_BUFFER {
            for a in self.local.satb.drain(..) {
                sh.mark.queue.push(a);
            }
        }
    }
}
