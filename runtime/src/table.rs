//! Open-addressing hash tables whose entry arrays live in the heap (`TableEntries` or, for the
//! intern table, `WeakEntries` objects: key/value word pairs). Keys are interned strings compared
//! by identity and probed by their cached content hash; nothing here depends on an address's
//! numeric value, so tables stay valid when the collector moves their keys.
//!
//! An empty pair is (nil, nil); a tombstone is (nil, true). `count` (kept by the owner) counts
//! live entries and tombstones, so probing always finds an empty pair. The functions here never
//! allocate: growing a table is the allocator's job (heapops.rs), using `rehash`.

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

/// Sets `key` to `value` in `e`, which has room (`!needs_grow`). Returns true if the key was new
/// and the owner's count must grow (it does not when a tombstone is reused).
#[inline(always)]
pub fn insert(e: Obj, key: Value, hash: u32, value: Value) -> (bool, bool) {
    let i = find_pair(e, key, hash);
    let old_key = key_at(e, i);
    let is_new = old_key != key;
    let count_grows = is_new && value_at(e, i).is_nil();
    e.set(key_word(i), key);
    e.set(key_word(i) + 1, value);
    (is_new, count_grows)
}

/// Fills `e` with empty pairs (a freshly allocated array).
pub fn clear(e: Obj) {
    for w in field::ENTRIES_START..e.size_words() {
        e.set(w, Value::NIL);
    }
}

/// Copies the live pairs of `old` (nil for none) into the empty array `new`, returning how many.
/// Key hashes are read from the key strings.
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
            insert(new, k, hash, value_at(o, i));
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
///
/// # Safety
/// 1. `entries` is nil or a live entries array.
#[inline(always)]
pub unsafe fn set_existing(entries: Value, key: Value, hash: u32, value: Value) -> bool {
    if !entries.is_object() {
        return false;
    }
    // SAFETY: rule 1.
    let e = unsafe { Obj::from_value(entries) };
    let i = find_pair(e, key, hash);
    if key_at(e, i) != key {
        return false;
    }
    e.set(key_word(i) + 1, value);
    true
}
