//! An off-heap table of per-object data for heap objects that cannot hold it themselves:
//! objects move and hold only words, so a Lock's or Thread's OS-level state (mutexes, join
//! handles, condition variables) lives here, and the object holds its entry's index. Each
//! entry names its owner weakly (a weak root, updated when the owner moves); when the owner
//! dies, the collector's weak sweep drops the entry and recycles its index, as the code table
//! does for bytecode. An entry may be *pinned* by its data (a thread still running): then it
//! outlives its owner until a later sweep finds it unpinned.

use crate::value::Value;
use gc::Address;

struct Entry<T> {
    /// The owning object (a weak root), or nil once it died while the entry was pinned.
    owner: Value,
    data: T,
}

/// Entries indexed by the number their owner holds.
pub struct SideTable<T> {
    entries: Vec<Option<Entry<T>>>,
    free: Vec<u32>,
}

impl<T> Default for SideTable<T> {
    fn default() -> Self {
        SideTable {
            entries: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> SideTable<T> {
    /// Stores `data` for `owner`, returning its index.
    pub fn add(&mut self, owner: Value, data: T) -> u32 {
        let e = Some(Entry { owner, data });
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

    /// The data of entry `i`, if it is in use.
    pub fn get(&self, i: u32) -> Option<&T> {
        self.entries.get(i as usize)?.as_ref().map(|e| &e.data)
    }

    pub fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        self.entries
            .get_mut(i as usize)?
            .as_mut()
            .map(|e| &mut e.data)
    }

    /// Entries in use.
    pub fn live_count(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// The data of every entry in use (the strong roots some entries hold).
    pub fn data_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().flatten().map(|e| &mut e.data)
    }

    /// Visits every owner slot (the weak roots).
    pub fn visit_owners(&mut self, v: &mut dyn FnMut(&mut Value)) {
        for e in self.entries.iter_mut().flatten() {
            if e.owner.is_object() {
                v(&mut e.owner);
            }
        }
    }

    /// Drops every entry whose owner died (or died earlier), unless `pinned` says its data
    /// must stay: then it stays, with its owner forgotten.
    pub fn sweep(&mut self, is_live: &dyn Fn(Address) -> bool, pinned: impl Fn(&T) -> bool) {
        for (i, slot) in self.entries.iter_mut().enumerate() {
            let Some(e) = slot else { continue };
            if e.owner.is_object() && is_live(e.owner.as_address()) {
                continue;
            }
            if pinned(&e.data) {
                e.owner = Value::NIL;
            } else {
                *slot = None;
                self.free.push(i as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_owners_drop_their_entries_unless_pinned() {
        let mut t: SideTable<(&str, bool)> = SideTable::default();
        let a = Value::object(Address(0x1000));
        let b = Value::object(Address(0x2000));
        let c = Value::object(Address(0x3000));
        assert_eq!(t.add(a, ("a", false)), 0);
        assert_eq!(t.add(b, ("b", true)), 1);
        assert_eq!(t.add(c, ("c", false)), 2);
        // Only `c` lives; `b` is pinned.
        t.sweep(&|x| x == Address(0x3000), |d| d.1);
        assert_eq!(t.live_count(), 2);
        assert!(t.get(0).is_none());
        assert_eq!(t.get(1), Some(&("b", true)));
        let mut owners = Vec::new();
        t.visit_owners(&mut |o| owners.push(*o));
        assert_eq!(owners, vec![c], "the pinned entry's owner is forgotten");
        // Unpinned, the orphan goes at the next sweep, whatever is live.
        t.get_mut(1).unwrap().1 = false;
        t.sweep(&|_| true, |d| d.1);
        assert!(t.get(1).is_none());
        assert_eq!(t.live_count(), 1);
        // Freed indices are reused.
        let reused = t.add(a, ("d", false));
        assert!(reused < 2);
        assert_eq!(t.data_mut().count(), 2);
    }
}
