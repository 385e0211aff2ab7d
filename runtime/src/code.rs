//! The off-heap side table of bytecode. Each loaded function's code and line table live here,
//! indexed by the number stored in the Function object; each entry has a weak root word naming
//! its owner, so when the function dies the collector's weak sweep frees the code and recycles
//! the entry. The dispatch loop reads instructions straight from these boxed slices (through the
//! pointer each Function object caches), whose memory never moves while the entry lives.

use crate::value::Value;
use gc::Address;

/// One function's bytecode.
pub struct CodeEntry {
    /// The Function object owning this code (a weak root), or nil for a free entry.
    pub owner: Value,
    pub code: Box<[u8]>,
    /// Source line of each byte of `code`.
    pub lines: Box<[u32]>,
}

#[derive(Default)]
pub struct CodeTable {
    entries: Vec<CodeEntry>,
    free: Vec<u32>,
}

impl CodeTable {
    pub fn new() -> CodeTable {
        CodeTable::default()
    }

    /// Stores code for `owner`, returning its index.
    pub fn add(&mut self, owner: Value, code: Box<[u8]>, lines: Box<[u32]>) -> u32 {
        let e = CodeEntry { owner, code, lines };
        match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = e;
                i
            }
            None => {
                self.entries.push(e);
                (self.entries.len() - 1) as u32
            }
        }
    }

    #[inline(always)]
    pub fn get(&self, i: u32) -> &CodeEntry {
        &self.entries[i as usize]
    }

    /// Entries in use (for statistics and tests).
    pub fn live_count(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    pub(crate) fn visit_owners(&mut self, v: &mut dyn FnMut(&mut Value)) {
        for e in self.entries.iter_mut() {
            if e.owner.is_object() {
                v(&mut e.owner);
            }
        }
    }

    /// Frees the code of every function that died.
    pub(crate) fn sweep(&mut self, is_live: &dyn Fn(Address) -> bool) {
        for (i, e) in self.entries.iter_mut().enumerate() {
            if e.owner.is_object() && !is_live(e.owner.as_address()) {
                e.owner = Value::NIL;
                e.code = Box::default();
                e.lines = Box::default();
                self.free.push(i as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_owners_free_their_code_and_slots_are_reused() {
        let mut t = CodeTable::new();
        let a = Value::object(Address(0x1000));
        let b = Value::object(Address(0x2000));
        assert_eq!(t.add(a, vec![1, 2].into(), vec![1, 1].into()), 0);
        assert_eq!(t.add(b, vec![3].into(), vec![2].into()), 1);
        t.sweep(&|addr| addr == Address(0x2000));
        assert_eq!(t.live_count(), 1);
        assert!(t.get(0).code.is_empty() && t.get(0).owner.is_nil());
        assert_eq!(&*t.get(1).code, &[3]);
        assert_eq!(t.add(b, vec![4].into(), vec![5].into()), 0);
        let mut seen = 0;
        t.visit_owners(&mut |_| seen += 1);
        assert_eq!(seen, 2);
    }
}
