//! The verifier (`--gc-verify`, design note §7). Before a collection it parses the heap and
//! fingerprints the reachable graph; after it, it parses the compacted heap, checks that every
//! reference (roots, weak roots and every slot of every object) points at an object start
//! inside `[base, top)`, and fingerprints the graph again. An object moved to the wrong address
//! changes the fingerprint even when the heap still looks well-formed.
//!
//! The fingerprint is a canonical depth-first traversal (explicit stack) from the roots in
//! visit order: each object is numbered when first reached, and its type tag, size and words
//! are hashed with every strong reference replaced by its target's number. Weak slots are
//! neither hashed nor followed (only checked).

use crate::address::{Address, WORD};
use crate::binding::{ObjectModel, RootSet, SlotKind};
use std::collections::HashMap;
use std::fmt;

/// A failed check, with enough context to find the culprit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError(pub String);

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The object starts found by parsing `[base, top)` object by object.
pub struct ObjectStarts {
    base: Address,
    top: Address,
    bits: Vec<u64>,
    /// Object starts in address order.
    pub objects: Vec<Address>,
}

impl ObjectStarts {
    pub fn contains(&self, a: Address) -> bool {
        if a < self.base || a >= self.top || !a.is_aligned(WORD) {
            return false;
        }
        let i = a.offset_from(self.base) / WORD;
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Parses the heap `[base, top)`: objects (and fillers) back to back.
///
/// # Safety
/// 1. `[base, top)` is readable heap memory whose objects the mutator does not change during
///    the call.
pub unsafe fn walk_heap<M: ObjectModel>(
    base: Address,
    top: Address,
) -> Result<ObjectStarts, VerifyError> {
    let words = top.offset_from(base) / WORD;
    let mut s = ObjectStarts {
        base,
        top,
        bits: vec![0; words.div_ceil(64)],
        objects: Vec::new(),
    };
    let mut a = base;
    while a < top {
        // SAFETY: rule 1; `a` is where the previous object ended, so (in a parseable heap) an
        // object header. A corrupt header is caught by the checks below.
        let size = unsafe { M::size_bytes(a) };
        if size < WORD || size % WORD != 0 || size > top.offset_from(a) {
            return Err(VerifyError(format!(
                "heap not parseable: object at {a} (type {}) has size {size}, top {top}",
                // SAFETY: as above.
                unsafe { M::type_tag(a) }
            )));
        }
        let i = a.offset_from(base) / WORD;
        s.bits[i / 64] |= 1 << (i % 64);
        s.objects.push(a);
        a = a.add(size);
    }
    Ok(s)
}

/// Checks one reference word: none, or an object start in `starts`.
fn check_word<M: ObjectModel>(
    starts: &ObjectStarts,
    word: u64,
    what: &dyn Fn() -> String,
) -> Result<(), VerifyError> {
    match M::decode(word) {
        Some(t) if !starts.contains(t) => Err(VerifyError(format!(
            "{} refers to {t}, which is not an object start in [{}, {})",
            what(),
            starts.base,
            starts.top
        ))),
        _ => Ok(()),
    }
}

/// Checks every strong and weak root against `starts`.
pub fn check_roots<M: ObjectModel>(
    starts: &ObjectStarts,
    roots: &mut dyn RootSet,
) -> Result<(), VerifyError> {
    let mut err = Ok(());
    let mut i = 0usize;
    roots.visit_roots(&mut |slot| {
        if err.is_ok() {
            err = check_word::<M>(starts, *slot, &|| format!("root {i} ({:#x})", *slot));
        }
        i += 1;
    });
    let mut i = 0usize;
    roots.visit_weak_roots(&mut |slot| {
        if err.is_ok() {
            err = check_word::<M>(starts, *slot, &|| format!("weak root {i} ({:#x})", *slot));
        }
        i += 1;
    });
    err
}

/// Checks every strong slot of every object in `starts`, live or floating garbage (a dead
/// object the cycle kept: reachable at the snapshot, or allocated black; its slots were only
/// ever written with objects marking reached). Weak slots are checked only in reachable
/// objects, by [`fingerprint`]: the binding sweeps the weak slots of what it can reach, and a
/// dead table may keep a weak slot to an object that died with it (say a detached thread's).
///
/// # Safety
/// 1. As for [`walk_heap`], and `starts` came from walking the same unchanged heap.
pub unsafe fn check_object_slots<M: ObjectModel>(starts: &ObjectStarts) -> Result<(), VerifyError> {
    for &obj in &starts.objects {
        let mut err = Ok(());
        // SAFETY: rule 1: `obj` is an object start of the parsed heap.
        unsafe {
            M::for_each_slot(obj, &mut |i, kind| {
                if err.is_ok() && kind == SlotKind::Strong {
                    let word = obj.add(i * WORD).as_ptr::<u64>().read();
                    err = check_word::<M>(starts, word, &|| {
                        format!(
                            "{kind:?} slot {i} of object {obj} (type {})",
                            M::type_tag(obj)
                        )
                    });
                }
            })
        };
        err?;
    }
    Ok(())
}

/// A hash of the reachable graph's shape and contents.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: u64,
    pub objects: u64,
    pub bytes: u64,
}

/// An order-sensitive 64-bit mixer (not cryptographic; it only has to notice changes).
struct Mix(u64);

impl Mix {
    fn add(&mut self, x: u64) {
        let mut z = (self.0 ^ x).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = z ^ (z >> 31);
    }
}

const TAG_REF: u64 = 0x5245_4600;
const TAG_RAW: u64 = 0x5241_5700;

/// Fingerprints the graph reachable from `roots`; every strong reference must be an object
/// start in `starts`.
///
/// # Safety
/// 1. As for [`walk_heap`], and `starts` came from walking the same unchanged heap.
pub unsafe fn fingerprint<M: ObjectModel>(
    starts: &ObjectStarts,
    roots: &mut dyn RootSet,
) -> Result<Fingerprint, VerifyError> {
    let mut numbers: HashMap<Address, u64> = HashMap::new();
    let mut stack: Vec<Address> = Vec::new();
    let mut h = Mix(0x6a09_e667_f3bc_c908);
    let mut err = Ok(());
    // Numbers `t` on first sight and queues it; returns its number.
    let number = |t: Address, numbers: &mut HashMap<Address, u64>, stack: &mut Vec<Address>| {
        let next = numbers.len() as u64;
        *numbers.entry(t).or_insert_with(|| {
            stack.push(t);
            next
        })
    };
    let mut r = 0usize;
    roots.visit_roots(&mut |slot| {
        let word = *slot;
        match M::decode(word) {
            Some(t) if starts.contains(t) => {
                h.add(TAG_REF);
                h.add(number(t, &mut numbers, &mut stack));
            }
            Some(t) => {
                if err.is_ok() {
                    err = Err(VerifyError(format!(
                        "root {r} ({word:#x}) refers to {t}, not an object start"
                    )));
                }
            }
            None => {
                h.add(TAG_RAW);
                h.add(word);
            }
        }
        r += 1;
    });
    err?;
    // Roots were numbered in visit order; traverse depth-first from the first root.
    stack.reverse();
    let mut bytes = 0u64;
    let mut slots: Vec<(usize, SlotKind)> = Vec::new();
    while let Some(obj) = stack.pop() {
        // SAFETY: rule 1: `obj` is an object start of the parsed heap (checked when numbered).
        let (size, tag) = unsafe { (M::size_bytes(obj), M::type_tag(obj)) };
        bytes += size as u64;
        h.add(u64::from(tag));
        h.add(size as u64);
        slots.clear();
        // SAFETY: as above.
        unsafe { M::for_each_slot(obj, &mut |i, k| slots.push((i, k))) };
        let mut next_slot = 0usize;
        let mut children: Vec<Address> = Vec::new();
        for i in 0..size / WORD {
            // SAFETY: word `i` lies inside the object (i < size / WORD).
            let word = unsafe { obj.add(i * WORD).as_ptr::<u64>().read() };
            let kind = if next_slot < slots.len() && slots[next_slot].0 == i {
                next_slot += 1;
                Some(slots[next_slot - 1].1)
            } else {
                None
            };
            match kind {
                Some(SlotKind::Weak) => match M::decode(word) {
                    Some(t) if !starts.contains(t) => {
                        // SAFETY: as above.
                        let tag = unsafe { M::type_tag(obj) };
                        return Err(VerifyError(format!(
                            "weak slot {i} of reachable object {obj} (type {tag}) refers to \
                             {t}, not an object start (sweep_weak missed it)"
                        )));
                    }
                    _ => {}
                },
                Some(SlotKind::Strong) => match M::decode(word) {
                    Some(t) if starts.contains(t) => {
                        let n = number(t, &mut numbers, &mut children);
                        h.add(TAG_REF);
                        h.add(n);
                    }
                    Some(t) => {
                        // SAFETY: as above.
                        let tag = unsafe { M::type_tag(obj) };
                        return Err(VerifyError(format!(
                            "slot {i} of object {obj} (type {tag}) refers to {t}, not an object start"
                        )));
                    }
                    None => {
                        h.add(TAG_RAW);
                        h.add(word);
                    }
                },
                None => {
                    h.add(TAG_RAW);
                    h.add(word);
                }
            }
        }
        // Visit children in slot order: push them reversed.
        stack.extend(children.into_iter().rev());
    }
    Ok(Fingerprint {
        hash: h.0,
        objects: numbers.len() as u64,
        bytes,
    })
}

/// Every object reachable from `roots` below `black_begin` has its start bit in `marked`: a
/// concurrent marking that lost an object (a missing barrier, a shade forgotten) fails here,
/// before compaction turns the loss into a wrong forwarding.
///
/// # Safety
/// 1. As for [`fingerprint`].
pub unsafe fn check_marked<M: ObjectModel>(
    starts: &ObjectStarts,
    roots: &mut dyn RootSet,
    marked: crate::metadata::bitmap::BitmapView<'_>,
    black_begin: Address,
) -> Result<(), VerifyError> {
    let mut seen: std::collections::HashSet<Address> = std::collections::HashSet::new();
    let mut stack: Vec<(Address, Option<Address>)> = Vec::new();
    roots.visit_roots(&mut |slot| {
        if let Some(t) = M::decode(*slot) {
            if starts.contains(t) && seen.insert(t) {
                stack.push((t, None));
            }
        }
    });
    while let Some((obj, from)) = stack.pop() {
        if obj < black_begin && !marked.test(obj) {
            // SAFETY: rule 1: `obj` is an object start of the parsed heap.
            let tag = unsafe { M::type_tag(obj) };
            let via = from.map_or("a root".to_string(), |f| format!("object {f}"));
            return Err(VerifyError(format!(
                "object {obj} (type {tag}), reachable from {via}, was not marked (lost by concurrent marking)"
            )));
        }
        // SAFETY: as above.
        unsafe {
            M::for_each_slot(obj, &mut |i, kind| {
                if kind == SlotKind::Strong {
                    let word = obj.add(i * WORD).as_ptr::<u64>().read();
                    if let Some(t) = M::decode(word) {
                        if starts.contains(t) && seen.insert(t) {
                            stack.push((t, Some(obj)));
                        }
                    }
                }
            })
        };
    }
    Ok(())
}

/// At the flip of a concurrently marked cycle: the heap parses, roots point at objects, every
/// reachable object is marked or black; returns the fingerprint of the graph.
///
/// # Safety
/// 1. As for [`walk_heap`] over `[base, top)`.
pub unsafe fn at_flip_or_abort<M: ObjectModel>(
    cycle: u64,
    base: Address,
    top: Address,
    roots: &mut dyn RootSet,
    marked: crate::metadata::bitmap::BitmapView<'_>,
    black_begin: Address,
) -> Fingerprint {
    // SAFETY: rule 1.
    let starts = unsafe { before_marking_or_abort::<M>(cycle, base, top, roots) };
    // SAFETY: rule 1; `starts` is from this heap.
    unsafe { check_marked::<M>(&starts, roots, marked, black_begin) }
        .unwrap_or_else(|e| fail(cycle, "before", e));
    // SAFETY: as above.
    unsafe { fingerprint_or_abort::<M>(cycle, "before", &starts, roots) }
}

/// Reports a failed check and aborts. Written straight to stderr with write(2) rather than
/// with `eprintln!`, which a test harness captures and an abort would then swallow.
fn fail(cycle: u64, when: &str, e: VerifyError) -> ! {
    crate::fatal::die_fmt(format_args!(
        "gc verify: cycle {cycle}, {when} compaction: {e}"
    ))
}

/// Before marking: the heap parses and every root points at an object start. Returns the
/// starts for [`fingerprint_or_abort`].
///
/// # Safety
/// 1. As for [`walk_heap`] over `[base, top)`.
pub unsafe fn before_marking_or_abort<M: ObjectModel>(
    cycle: u64,
    base: Address,
    top: Address,
    roots: &mut dyn RootSet,
) -> ObjectStarts {
    // SAFETY: rule 1.
    let starts = unsafe { walk_heap::<M>(base, top) }.unwrap_or_else(|e| fail(cycle, "before", e));
    check_roots::<M>(&starts, roots).unwrap_or_else(|e| fail(cycle, "before", e));
    starts
}

/// Fingerprint, or abort with a message naming the cycle.
///
/// # Safety
/// 1. As for [`fingerprint`].
pub unsafe fn fingerprint_or_abort<M: ObjectModel>(
    cycle: u64,
    when: &str,
    starts: &ObjectStarts,
    roots: &mut dyn RootSet,
) -> Fingerprint {
    // SAFETY: rule 1.
    unsafe { fingerprint::<M>(starts, roots) }.unwrap_or_else(|e| fail(cycle, when, e))
}

/// After compaction: the heap parses, every reference is an object start, and the reachable
/// graph has the fingerprint it had before.
///
/// # Safety
/// 1. As for [`walk_heap`] over `[base, top)`.
pub unsafe fn after_compaction_or_abort<M: ObjectModel>(
    cycle: u64,
    base: Address,
    top: Address,
    roots: &mut dyn RootSet,
    before: Fingerprint,
) {
    // SAFETY: rule 1 for all three.
    let starts = unsafe { walk_heap::<M>(base, top) }.unwrap_or_else(|e| fail(cycle, "after", e));
    check_roots::<M>(&starts, roots).unwrap_or_else(|e| fail(cycle, "after", e));
    // SAFETY: as above; `starts` is from this heap.
    unsafe { check_object_slots::<M>(&starts) }.unwrap_or_else(|e| fail(cycle, "after", e));
    // SAFETY: as above.
    let after = unsafe { fingerprint_or_abort::<M>(cycle, "after", &starts, roots) };
    if after != before {
        fail(
            cycle,
            "after",
            VerifyError(format!(
                "the reachable graph changed: before {before:?}, after {after:?}"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::PAGE;
    use crate::collector::test_model::{header, reference, TestModel};
    use crate::os::reservation::Reservation;

    struct Roots(Vec<u64>);
    impl RootSet for Roots {
        fn visit_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
            self.0.iter_mut().for_each(v);
        }
    }

    /// Lays out objects A (refs B, C), B (ref A), C (two plain words) in `order` from the
    /// reservation's base; returns the top and the addresses of A, B, C.
    fn build(r: &Reservation, order: [usize; 3]) -> (Address, [Address; 3]) {
        let sizes = [3usize, 2, 3];
        let mut at = [Address::ZERO; 3];
        let mut next = r.base();
        for &o in &order {
            at[o] = next;
            next = next.add(sizes[o] * WORD);
        }
        let words: [Vec<u64>; 3] = [
            vec![header(3, 2), reference(at[1]), reference(at[2])],
            vec![header(2, 1), reference(at[0])],
            vec![header(3, 0), 0x100, 0x200],
        ];
        for o in 0..3 {
            for (k, &w) in words[o].iter().enumerate() {
                // SAFETY: inside the fresh reservation.
                unsafe { at[o].add(k * WORD).as_mut_ptr::<u64>().write(w) };
            }
        }
        (next, at)
    }

    fn fp(r: &Reservation, top: Address, roots: &mut Roots) -> Result<Fingerprint, VerifyError> {
        // SAFETY: [base, top) was just built and nothing else touches it.
        unsafe {
            let starts = walk_heap::<TestModel>(r.base(), top)?;
            check_roots::<TestModel>(&starts, roots)?;
            check_object_slots::<TestModel>(&starts)?;
            fingerprint::<TestModel>(&starts, roots)
        }
    }

    #[test]
    fn fingerprint_ignores_layout_but_sees_contents_and_shape() {
        let r1 = Reservation::new(1 << 16, PAGE).unwrap();
        let r2 = Reservation::new(1 << 16, PAGE).unwrap();
        let (top1, a1) = build(&r1, [0, 1, 2]);
        let (top2, a2) = build(&r2, [2, 0, 1]);
        let f1 = fp(&r1, top1, &mut Roots(vec![reference(a1[0]), 0x80])).unwrap();
        let f2 = fp(&r2, top2, &mut Roots(vec![reference(a2[0]), 0x80])).unwrap();
        assert_eq!(f1, f2);
        assert_eq!((f1.objects, f1.bytes), (3, 64));
        // A different root value, a changed payload word, a redirected reference: all differ.
        let f = fp(&r1, top1, &mut Roots(vec![reference(a1[0]), 0x88])).unwrap();
        assert_ne!(f, f1);
        // SAFETY: word 1 of C, inside r1.
        unsafe { a1[2].add(WORD).as_mut_ptr::<u64>().write(0x108) };
        assert_ne!(
            fp(&r1, top1, &mut Roots(vec![reference(a1[0]), 0x80])).unwrap(),
            f1
        );
        let (top1, a1) = build(&r1, [0, 1, 2]);
        // SAFETY: slot 2 of A, inside r1: C becomes unreachable, A refers to B twice.
        unsafe {
            a1[0]
                .add(2 * WORD)
                .as_mut_ptr::<u64>()
                .write(reference(a1[1]))
        };
        let f = fp(&r1, top1, &mut Roots(vec![reference(a1[0]), 0x80])).unwrap();
        assert_ne!(f, f1);
        assert_eq!(f.objects, 2);
    }

    #[test]
    fn references_to_non_starts_and_bad_headers_are_reported() {
        let r = Reservation::new(1 << 16, PAGE).unwrap();
        let (top, a) = build(&r, [0, 1, 2]);
        let e = fp(&r, top, &mut Roots(vec![reference(a[0].add(WORD))])).unwrap_err();
        assert!(e.0.contains("root 0"), "{e}");
        // SAFETY: slot 1 of B, inside r.
        unsafe {
            a[1].add(WORD)
                .as_mut_ptr::<u64>()
                .write(reference(a[2].add(WORD)))
        };
        let e = fp(&r, top, &mut Roots(vec![reference(a[0])])).unwrap_err();
        assert!(e.0.contains(&format!("slot 1 of object {}", a[1])), "{e}");
        // SAFETY: C's header, inside r.
        unsafe { a[2].as_mut_ptr::<u64>().write(header(0, 0)) };
        let e = fp(&r, top, &mut Roots(vec![])).unwrap_err();
        assert!(e.0.contains("not parseable"), "{e}");
    }
}
