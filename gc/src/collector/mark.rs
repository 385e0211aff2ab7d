//! Marking (design note §2.1): from the roots, with an explicit mark stack (never recursion),
//! set the object-start bit of every reachable object and the live-words bits of all its words.
//! Weak slots are not traced.

use crate::address::{Address, WORD};
use crate::binding::{ObjectModel, RootSet, SlotKind};
use crate::metadata::bitmap::BitmapView;
use crate::metadata::Metadata;

/// What marking found.
#[derive(Copy, Clone, Debug, Default)]
pub struct MarkResult {
    pub objects: usize,
    pub bytes: usize,
}

struct Marker<'a> {
    base: Address,
    top: Address,
    starts: BitmapView<'a>,
    live: BitmapView<'a>,
    stack: &'a mut Vec<Address>,
    result: MarkResult,
}

impl Marker<'_> {
    /// Marks the object a slot word designates, if any, and queues it for scanning.
    ///
    /// # Safety
    /// 1. If `M::decode(word)` yields an address inside `[base, top)`, it is the start of a
    ///    well-formed object there.
    #[inline]
    unsafe fn mark_word<M: ObjectModel>(&mut self, word: u64) {
        let Some(a) = M::decode(word) else { return };
        // References outside the moving space (none in practice) are not ours to manage.
        if a < self.base || a >= self.top {
            return;
        }
        debug_assert!(a.is_aligned(WORD), "misaligned reference {a}");
        if self.starts.set(a) {
            // SAFETY: rule 1: `a` is a well-formed object start in the heap.
            let size = unsafe { M::size_bytes(a) };
            debug_assert!(
                size >= WORD && a.add(size) <= self.top,
                "bad object size at {a}"
            );
            self.live.set_range(a, size / WORD);
            self.result.objects += 1;
            self.result.bytes += size;
            self.stack.push(a);
        }
    }
}

/// Marks everything reachable from `roots` in the heap range `[base, top)`. `stack` is an empty
/// mark stack whose capacity the caller keeps between cycles.
///
/// # Safety
/// 1. Every slot word reachable from the roots (root slots and strong object slots) that
///    decodes to an address in `[base, top)` designates the start of a well-formed object.
/// 2. `meta` covers `[base, top)` and its bitmaps are clear.
/// 3. Nobody mutates the heap during the call.
pub unsafe fn mark<M: ObjectModel>(
    meta: &Metadata,
    base: Address,
    top: Address,
    roots: &mut dyn RootSet,
    stack: &mut Vec<Address>,
) -> MarkResult {
    debug_assert!(stack.is_empty());
    let mut m = Marker {
        base,
        top,
        starts: meta.starts.view(),
        live: meta.live.view(),
        stack,
        result: MarkResult::default(),
    };
    roots.visit_roots(&mut |slot| {
        // SAFETY: rule 1 covers root slots.
        unsafe { m.mark_word::<M>(*slot) }
    });
    while let Some(obj) = m.stack.pop() {
        // SAFETY: only marked object starts are pushed (rule 1 for the object; rule 3: it is
        // unchanged since).
        unsafe {
            M::for_each_slot(obj, &mut |i, kind| {
                if kind == SlotKind::Strong {
                    let word = obj.add(i * WORD).as_ptr::<u64>().read();
                    m.mark_word::<M>(word);
                }
            })
        };
    }
    m.result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::test_model::{header, reference, TestModel};
    use crate::os::reservation::Reservation;

    struct Roots(Vec<u64>);
    impl RootSet for Roots {
        fn visit_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
            self.0.iter_mut().for_each(v);
        }
    }

    /// A ring of 2000 objects (deep enough that recursion would be a risk elsewhere), garbage
    /// between them, a self-loop and a reference out of the heap: exactly the ring is marked,
    /// with a start bit per object and a live bit per word.
    #[test]
    fn marks_exactly_the_reachable_objects() {
        let r = Reservation::new(1 << 20, crate::address::PAGE).unwrap();
        let base = r.base();
        let meta = Metadata::new(base, 1 << 20).unwrap();
        let write = |a: Address, k: usize, v: u64| {
            // SAFETY: inside the fresh 1 MiB reservation.
            unsafe { a.add(k * WORD).as_mut_ptr::<u64>().write(v) }
        };
        // Ring node i at word 6i (3 words: header, next, plain), garbage of 3 words after it
        // pointing back at the ring.
        let n = 2000;
        let node = |i: usize| base.add(6 * i * WORD);
        for i in 0..n {
            write(node(i), 0, header(3, 1));
            write(node(i), 1, reference(node((i + 1) % n)));
            write(node(i), 2, 0x1230);
            let g = node(i).add(3 * WORD);
            write(g, 0, header(3, 2));
            write(g, 1, reference(node(i)));
            write(g, 2, reference(g));
        }
        let top = node(n);
        let outside = reference(Address(base.as_usize() - 4096));
        let mut roots = Roots(vec![reference(node(17)), 0x40, outside]);
        let mut stack = Vec::new();
        // SAFETY: every reference decodes to an object start or lies outside [base, top);
        // the bitmaps are fresh; nothing else touches the heap.
        let res = unsafe { mark::<TestModel>(&meta, base, top, &mut roots, &mut stack) };
        assert_eq!(res.objects, n);
        assert_eq!(res.bytes, n * 3 * WORD);
        let (s, l) = (meta.starts.view(), meta.live.view());
        for i in 0..n {
            for k in 0..6 {
                let a = node(i).add(k * WORD);
                assert_eq!(s.test(a), k == 0, "start bit, node {i} word {k}");
                assert_eq!(l.test(a), k < 3, "live bit, node {i} word {k}");
            }
        }
        assert!(stack.is_empty());
    }
}
