//! Open-addressing hash tables whose entry arrays live in the heap (`TableEntries` or, for the
//! intern table, `WeakEntries` objects: key/value word pairs). Keys are interned strings compared
//! by identity and probed by their cached content hash; nothing here depends on an address's
//! numeric value, so tables stay valid when the collector moves their keys.
//!
//! An empty pair is (nil, nil); a tombstone is (nil, true). `count` (kept by the owner) counts
//! live entries and tombstones, so probing always finds an empty pair. The functions here never
//! allocate: growing a table is the allocator's job (heapops.rs), using `rehash`.

use crate::barrier::{Barrier, Fresh};
use crate::object::{field, Obj};
use crate::value::Value;

/// Smallest non-empty capacity; capacities are powers of two.
pub const MIN_CAPACITY: usize = 8;

/// Whether a table with `count` used pairs out of `capacity` must grow before one more insert
/// (load factor 3/4).
#[inline(always)]
pub fn needs_grow(count: usize, capacity: usize) -> bool {
    (count + 1) * 4 > capacity * 3
}

#[inline]
pub fn grown_capacity(capacity: usize) -> usize {
    if capacity < MIN_CAPACITY {
        MIN_CAPACITY
    } else {
        capacity * 2
    }
}

/// Capacity for a table rebuilt around `live` keys: at most half full, so that at least a
/// quarter of it fills before the next rebuild. A table full of live keys doubles, as growing
/// always did; one of mostly tombstones (the intern table after its strings died) is rebuilt
/// at its own size or smaller.
pub fn rebuilt_capacity(live: usize) -> usize {
    (2 * live).next_power_of_two().max(MIN_CAPACITY)
}

/// Tables smaller than this many pairs are never shrunk (64 KiB of entries).
const SHRINK_FLOOR: usize = 4096;

/// Whether a table of `capacity` pairs holding `live` keys should be rebuilt smaller: when
/// the rebuild would at least halve it twice over. A weak table whose keys died (the intern
/// table after the program dropped its strings) is otherwise only rebuilt once tombstones
/// fill it, and its array stays live, and resident, until then.
pub fn should_shrink(live: usize, capacity: usize) -> bool {
    capacity >= SHRINK_FLOOR && rebuilt_capacity(live) * 4 <= capacity
}

/// Capacity of a possibly absent (nil) entries array.
///
/// # Safety
/// 1. `entries` is nil or a live entries array (an `Obj` invariant holds for it).
#[inline(always)]
pub unsafe fn capacity_of(entries: Value) -> usize {
    if entries.is_object() {
        // SAFETY: rule 1.
        unsafe { Obj::from_value(entries) }.entries_capacity()
    } else {
        0
    }
}

#[inline(always)]
fn key_word(pair: usize) -> usize {
    field::ENTRIES_START + 2 * pair
}

/// Key of pair `i`.
#[inline(always)]
pub fn key_at(e: Obj, i: usize) -> Value {
    e.get(key_word(i))
}

/// Keys present in a possibly absent entries array: neither empty pairs nor tombstones.
///
/// # Safety
/// 1. `entries` is nil or a live entries array (an `Obj` invariant holds for it).
pub unsafe fn live_keys(entries: Value) -> usize {
    if !entries.is_object() {
        return 0;
    }
    // SAFETY: rule 1.
    let e = unsafe { Obj::from_value(entries) };
    (0..e.entries_capacity())
        .filter(|&i| key_at(e, i).is_object())
        .count()
}

/// Value of pair `i`.
#[inline(always)]
pub fn value_at(e: Obj, i: usize) -> Value {
    e.get(key_word(i) + 1)
}

/// The pair holding `key`, or the pair where it would be inserted (the first tombstone on its
/// probe sequence, else the empty pair ending it).
#[inline(always)]
pub fn find_pair(e: Obj, key: Value, hash: u32) -> usize {
    let mask = e.entries_capacity() - 1;
    let mut i = hash as usize & mask;
    let mut tombstone = None;
    loop {
        let k = key_at(e, i);
        if k == key {
            return i;
        }
        if k.is_nil() {
            if value_at(e, i).is_nil() {
                return tombstone.unwrap_or(i);
            }
            tombstone.get_or_insert(i);
        }
        i = (i + 1) & mask;
    }
}

/// Looks `key` (an interned string with hash `hash`) up in a possibly absent entries array.
///
/// # Safety
/// 1. `entries` is nil or a live entries array.
#[inline(always)]
pub unsafe fn get(entries: Value, key: Value, hash: u32) -> Option<Value> {
    if !entries.is_object() {
        return None;
    }
    // SAFETY: rule 1.
    let e = unsafe { Obj::from_value(entries) };
    let mask = e.entries_capacity() - 1;
    let mut i = hash as usize & mask;
    loop {
        let k = key_at(e, i);
        if k == key {
            return Some(value_at(e, i));
        }
        if k.is_nil() && value_at(e, i).is_nil() {
            return None;
        }
        i = (i + 1) & mask;
    }
}

/// Sets `key` to `value` in `e`, which has room (`!needs_grow`). Returns whether the key was
/// new, and whether the owner's count must grow (not when the key reuses a tombstone).
/// `barrier` sees the pair's old key and value (the heap for an existing array, `Fresh` for
/// one being filled since its allocation).
#[inline(always)]
pub fn insert<B: Barrier>(
    e: Obj,
    key: Value,
    hash: u32,
    value: Value,
    barrier: &mut B,
) -> (bool, bool) {
    let i = find_pair(e, key, hash);
    let old_key = key_at(e, i);
    let is_new = old_key != key;
    let count_grows = is_new && value_at(e, i).is_nil();
    // The value first, then the key with a release store: a reader racing without the
    // writers' lock that finds the key finds this value with it, never the pair's old one.
    e.store(barrier, key_word(i) + 1, value);
    // The key slot changes only when it held nil (empty or tombstone): the barrier's old word
    // is then no reference and costs nothing more than the flag test.
    if is_new {
        e.publish(barrier, key_word(i), key);
    }
    (is_new, count_grows)
}

/// Fills `e` with empty pairs (a freshly allocated array: initialising stores, no barrier).
pub fn clear(e: Obj) {
    for w in field::ENTRIES_START..e.size_words() {
        e.set(w, Value::NIL);
    }
}

/// Copies the live pairs of `old` (nil for none) into the empty array `new`, returning how many.
/// Key hashes are read from the key strings. `new` must have been allocated since the last
/// safepoint: filling it is initialising, so no barrier runs (`old` itself is not changed, and
/// whatever it refers to stays in the marking snapshot through it).
///
/// # Safety
/// 1. `old` is nil or a live entries array whose keys are live strings.
pub unsafe fn rehash(old: Value, new: Obj) -> usize {
    if !old.is_object() {
        return 0;
    }
    // SAFETY: rule 1.
    let o = unsafe { Obj::from_value(old) };
    let mut n = 0;
    for i in 0..o.entries_capacity() {
        let k = key_at(o, i);
        if k.is_object() {
            // SAFETY: rule 1: keys are live strings.
            let hash = unsafe { Obj::from_value(k) }.string_hash();
            insert(new, k, hash, value_at(o, i), &mut Fresh);
            n += 1;
        }
    }
    n
}

/// Finds the interned string with these contents (the intern table's lookup by content).
///
/// # Safety
/// 1. `entries` is nil or a live entries array whose keys are live strings.
pub unsafe fn find_string(entries: Value, bytes: &[u8], hash: u32) -> Option<Value> {
    if !entries.is_object() {
        return None;
    }
    // SAFETY: rule 1.
    let e = unsafe { Obj::from_value(entries) };
    let mask = e.entries_capacity() - 1;
    let mut i = hash as usize & mask;
    loop {
        let k = key_at(e, i);
        if k.is_nil() {
            if value_at(e, i).is_nil() {
                return None;
            }
        } else {
            // SAFETY: rule 1.
            let s = unsafe { Obj::from_value(k) };
            if s.string_hash() == hash && s.string_bytes() == bytes {
                return Some(k);
            }
        }
        i = (i + 1) & mask;
    }
}

/// Overwrites the value of an existing `key`; returns false (changing nothing) if absent.
/// `barrier` sees the old value.
///
/// # Safety
/// 1. `entries` is nil or a live entries array.
#[inline(always)]
pub unsafe fn set_existing<B: Barrier>(
    entries: Value,
    key: Value,
    hash: u32,
    value: Value,
    barrier: &mut B,
) -> bool {
    if !entries.is_object() {
        return false;
    }
    // SAFETY: rule 1.
    let e = unsafe { Obj::from_value(entries) };
    let i = find_pair(e, key, hash);
    if key_at(e, i) != key {
        return false;
    }
    e.store(barrier, key_word(i) + 1, value);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{entries_words, hash_bytes, header, string_words, tag};
    use gc::Address;

    /// String objects and entry arrays built in ordinary memory (never collected).
    struct Arena {
        objects: Vec<Box<[u64]>>,
    }

    impl Arena {
        fn string(&mut self, s: &str) -> Value {
            let n = string_words(s.len());
            let mut w = vec![0u64; n].into_boxed_slice();
            w[0] = header(tag::STRING, n);
            w[1] = s.len() as u64 | (u64::from(hash_bytes(s.as_bytes())) << 32);
            // SAFETY: the buffer has room for the bytes after the two header words.
            unsafe {
                std::ptr::copy_nonoverlapping(s.as_ptr(), w.as_mut_ptr().add(2) as *mut u8, s.len())
            };
            let v = Value::object(Address::from_ptr(w.as_ptr()));
            self.objects.push(w);
            v
        }

        fn entries(&mut self, capacity: usize) -> Obj {
            let n = entries_words(capacity);
            let mut w = vec![0u64; n].into_boxed_slice();
            w[0] = header(tag::TABLE_ENTRIES, n);
            // SAFETY: a well-formed entries object in memory this arena keeps alive.
            let e = unsafe { Obj::from_address(Address::from_ptr(w.as_ptr())) };
            self.objects.push(w);
            clear(e);
            e
        }
    }

    fn hash(v: Value) -> u32 {
        // SAFETY: the arena's strings outlive the tests.
        unsafe { Obj::from_value(v) }.string_hash()
    }

    #[test]
    fn rebuilt_tables_are_sized_by_their_live_keys() {
        assert_eq!(rebuilt_capacity(0), MIN_CAPACITY);
        assert_eq!(rebuilt_capacity(3), 8);
        // A full table doubles, as growing always did.
        assert_eq!(rebuilt_capacity(6), 16);
        assert!(needs_grow(768, 1024));
        assert_eq!(rebuilt_capacity(768), 2048);
        // Mostly tombstones: the same size, or smaller.
        assert_eq!(rebuilt_capacity(100), 256);
        // Shrinking: only large tables, and only by a factor of four or more.
        assert!(!should_shrink(0, SHRINK_FLOOR / 2));
        assert!(should_shrink(0, SHRINK_FLOOR));
        assert!(should_shrink(1000, 8192) && !should_shrink(1025, 8192));
        // At most half full: room for a quarter of the capacity before the next rebuild.
        for live in 0..5000 {
            let c = rebuilt_capacity(live);
            assert!(2 * live <= c && !needs_grow(live + c / 4 - 1, c), "{live}");
        }
        let mut a = Arena {
            objects: Vec::new(),
        };
        let e = a.entries(8);
        // SAFETY: `e` lives in the arena; nil has no keys.
        assert_eq!(unsafe { live_keys(Value::NIL) }, 0);
        let keys: Vec<Value> = (0..5).map(|i| a.string(&format!("k{i}"))).collect();
        for &k in &keys {
            insert(e, k, hash(k), Value::NIL, &mut Fresh);
        }
        // SAFETY: as above.
        assert_eq!(unsafe { live_keys(e.value()) }, 5);
    }

    #[test]
    fn insert_get_overwrite_and_rehash() {
        let mut a = Arena {
            objects: Vec::new(),
        };
        let keys: Vec<Value> = (0..6).map(|i| a.string(&format!("key{i}"))).collect();
        let e = a.entries(8);
        let mut count = 0;
        for (i, &k) in keys.iter().enumerate() {
            assert!(!needs_grow(count, 8));
            let (is_new, grows) = insert(e, k, hash(k), Value::number(i as f64), &mut Fresh);
            assert!(is_new && grows);
            count += 1;
        }
        assert!(needs_grow(count, 8), "6 of 8 is the 3/4 limit");
        let ev = e.value();
        for (i, &k) in keys.iter().enumerate() {
            // SAFETY: `e` lives in the arena.
            let found = unsafe { get(ev, k, hash(k)) };
            assert_eq!(found, Some(Value::number(i as f64)));
        }
        let (is_new, grows) = insert(e, keys[2], hash(keys[2]), Value::TRUE, &mut Fresh);
        assert!(!is_new && !grows);
        // SAFETY: as above.
        unsafe {
            assert_eq!(get(ev, keys[2], hash(keys[2])), Some(Value::TRUE));
            assert!(set_existing(
                ev,
                keys[3],
                hash(keys[3]),
                Value::NIL,
                &mut Fresh
            ));
            assert_eq!(get(ev, keys[3], hash(keys[3])), Some(Value::NIL));
        }
        let other = a.string("absent");
        // SAFETY: as above.
        unsafe {
            assert_eq!(get(ev, other, hash(other)), None);
            assert!(!set_existing(
                ev,
                other,
                hash(other),
                Value::NIL,
                &mut Fresh
            ));
            assert_eq!(get(Value::NIL, other, hash(other)), None);
        }
        let bigger = a.entries(grown_capacity(8));
        // SAFETY: every key of `ev` is a live arena string.
        assert_eq!(unsafe { rehash(ev, bigger) }, 6);
        for &k in &keys {
            // SAFETY: as above.
            assert!(unsafe { get(bigger.value(), k, hash(k)) }.is_some());
        }
    }

    #[test]
    fn tombstones_keep_probe_chains_and_are_reused() {
        let mut a = Arena {
            objects: Vec::new(),
        };
        let keys: Vec<Value> = (0..5).map(|i| a.string(&format!("t{i}"))).collect();
        let e = a.entries(8);
        for &k in &keys {
            insert(e, k, hash(k), Value::TRUE, &mut Fresh);
        }
        // Tombstone the first key the way the intern table's sweep does.
        let i = find_pair(e, keys[0], hash(keys[0]));
        e.set(field::ENTRIES_START + 2 * i, Value::NIL);
        e.set(field::ENTRIES_START + 2 * i + 1, Value::TRUE);
        for &k in &keys[1..] {
            // SAFETY: arena memory.
            assert!(unsafe { get(e.value(), k, hash(k)) }.is_some());
        }
        // SAFETY: arena memory.
        assert_eq!(unsafe { get(e.value(), keys[0], hash(keys[0])) }, None);
        // Re-inserting lands on a tombstone or an empty pair; only the latter counts.
        let (is_new, _) = insert(e, keys[0], hash(keys[0]), Value::FALSE, &mut Fresh);
        assert!(is_new);
        // A rehash drops tombstones: tombstone the key again, wherever it went.
        let fresh = a.entries(8);
        let i = find_pair(e, keys[0], hash(keys[0]));
        e.set(field::ENTRIES_START + 2 * i, Value::NIL);
        e.set(field::ENTRIES_START + 2 * i + 1, Value::TRUE);
        // SAFETY: arena memory.
        assert_eq!(unsafe { rehash(e.value(), fresh) }, 4);
    }

    /// Records the old words a barrier is told about.
    struct Record(Vec<u64>);

    impl Barrier for Record {
        fn overwriting(&mut self, old: u64) {
            self.0.push(old);
        }
    }

    /// Sees, at each slot write, whether the pair's value was already in place.
    struct ValueFirst {
        e: Obj,
        value: Value,
        /// (old word, whether the value slot held `value` at that moment), per write.
        seen: Vec<(u64, bool)>,
    }

    impl Barrier for ValueFirst {
        fn overwriting(&mut self, old: u64) {
            let placed = (0..self.e.entries_capacity()).any(|i| value_at(self.e, i) == self.value);
            self.seen.push((old, placed));
        }
    }

    /// A new pair is written value first, key last: a reader without the writers' lock that
    /// finds the key finds the value too.
    #[test]
    fn a_new_key_is_published_after_its_value() {
        let mut a = Arena {
            objects: Vec::new(),
        };
        let k = a.string("k");
        let v = a.string("v");
        let e = a.entries(8);
        let mut b = ValueFirst {
            e,
            value: v,
            seen: Vec::new(),
        };
        insert(e, k, hash(k), v, &mut b);
        // First the value slot (old word nil, value not there yet), then the key slot, by
        // which time the value is in place.
        assert_eq!(b.seen, vec![(Value::NIL.0, false), (Value::NIL.0, true)]);
        // SAFETY: arena memory.
        assert_eq!(unsafe { get(e.value(), k, hash(k)) }, Some(v));
    }

    #[test]
    fn overwrites_report_the_old_words_to_the_barrier() {
        let mut a = Arena {
            objects: Vec::new(),
        };
        let k = a.string("k");
        let v1 = a.string("v1");
        let v2 = a.string("v2");
        let e = a.entries(8);
        let mut r = Record(Vec::new());
        // A new key lands on an empty pair: both old words are nil.
        insert(e, k, hash(k), v1, &mut r);
        assert_eq!(r.0, vec![Value::NIL.0, Value::NIL.0]);
        // Overwriting the value reports the value it replaces; the key slot is not written.
        r.0.clear();
        insert(e, k, hash(k), v2, &mut r);
        assert_eq!(r.0, vec![v1.0]);
        r.0.clear();
        // SAFETY: arena memory.
        assert!(unsafe { set_existing(e.value(), k, hash(k), Value::TRUE, &mut r) });
        assert_eq!(r.0, vec![v2.0]);
        // A miss changes nothing and reports nothing.
        r.0.clear();
        // SAFETY: arena memory.
        assert!(!unsafe { set_existing(e.value(), v1, hash(v1), Value::NIL, &mut r) });
        assert!(r.0.is_empty());
    }

    #[test]
    fn strings_are_found_by_content() {
        let mut a = Arena {
            objects: Vec::new(),
        };
        let e = a.entries(8);
        let s = a.string("hello");
        insert(e, s, hash(s), Value::NIL, &mut Fresh);
        // SAFETY: arena memory.
        unsafe {
            assert_eq!(
                find_string(e.value(), b"hello", hash_bytes(b"hello")),
                Some(s)
            );
            assert_eq!(find_string(e.value(), b"hellp", hash_bytes(b"hellp")), None);
            assert_eq!(
                find_string(Value::NIL, b"hello", hash_bytes(b"hello")),
                None
            );
        }
    }
}
