//! A minimal object model for the collector's unit tests (the integration tests have a richer
//! one in `tests/mock`). Header word: `words | nrefs << 32`; reference slots are words
//! `1..=nrefs`; a reference is the target address with its low bit set, anything else in a slot
//! (low bits `000`) is a plain value.

use crate::address::Address;
use crate::binding::{ObjectModel, SlotKind};

pub struct TestModel;

pub fn header(words: usize, nrefs: usize) -> u64 {
    words as u64 | (nrefs as u64) << 32
}

pub fn reference(a: Address) -> u64 {
    a.as_usize() as u64 | 1
}

impl ObjectModel for TestModel {
    unsafe fn size_bytes(obj: Address) -> usize {
        // SAFETY: the trait's rule 1: a readable header.
        (unsafe { obj.as_ptr::<u64>().read() } & 0xffff_ffff) as usize * 8
    }
    unsafe fn for_each_slot(obj: Address, f: &mut dyn FnMut(usize, SlotKind)) {
        // SAFETY: as above.
        let n = (unsafe { obj.as_ptr::<u64>().read() } >> 32) as usize;
        for i in 1..=n {
            f(i, SlotKind::Strong);
        }
    }
    fn decode(word: u64) -> Option<Address> {
        (word & 7 == 1).then_some(Address(word as usize & !7))
    }
    fn encode(_word: u64, target: Address) -> u64 {
        reference(target)
    }
    unsafe fn write_filler(at: Address, bytes: usize) {
        // SAFETY: the trait's rule 1: writable.
        unsafe { at.as_mut_ptr::<u64>().write(header(bytes / 8, 0)) };
    }
    unsafe fn type_tag(obj: Address) -> u32 {
        // SAFETY: as for size_bytes.
        (unsafe { obj.as_ptr::<u64>().read() } >> 32) as u32
    }
}
