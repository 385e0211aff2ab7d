//! The object model the collector micro-benchmarks share: a header word holding the size in
//! words and the number of reference slots, then the slots, then plain words.
#![allow(dead_code)]

use gc::{Address, ObjectModel, RootSet, SlotKind, WORD};

/// Header word: `words | nrefs << 32`; slots `1..=nrefs` hold references (the target address
/// with its low bit set); the remaining words are plain values (low bits `000`).
pub struct Synthetic;

pub fn header(words: usize, nrefs: usize) -> u64 {
    words as u64 | (nrefs as u64) << 32
}

impl ObjectModel for Synthetic {
    unsafe fn size_bytes(obj: Address) -> usize {
        // SAFETY: rule 1 of `size_bytes`: `obj` starts a well-formed object in readable memory.
        (unsafe { obj.as_ptr::<u64>().read() } & 0xffff_ffff) as usize * WORD
    }

    unsafe fn for_each_slot(obj: Address, f: &mut dyn FnMut(usize, SlotKind)) {
        // SAFETY: as for `size_bytes`.
        let n = (unsafe { obj.as_ptr::<u64>().read() } >> 32) as usize;
        for i in 1..=n {
            f(i, SlotKind::Strong);
        }
    }

    fn decode(word: u64) -> Option<Address> {
        (word & 7 == 1).then_some(Address(word as usize & !7))
    }

    fn encode(_word: u64, target: Address) -> u64 {
        target.as_usize() as u64 | 1
    }

    unsafe fn write_filler(at: Address, bytes: usize) {
        // SAFETY: rule 1 of `write_filler`: `[at, at + bytes)` is writable, `bytes >= 8`.
        unsafe { at.as_mut_ptr::<u64>().write(header(bytes / WORD, 0)) };
    }

    unsafe fn type_tag(obj: Address) -> u32 {
        // SAFETY: as for `size_bytes`.
        (unsafe { obj.as_ptr::<u64>().read() } >> 32) as u32
    }
}

/// A reference word to the object at `a`.
pub fn reference(a: Address) -> u64 {
    a.as_usize() as u64 | 1
}

/// Root slots held in a vector.
pub struct VecRoots(pub Vec<u64>);

impl RootSet for VecRoots {
    fn visit_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
        self.0.iter_mut().for_each(v);
    }
}
