//! How Lox objects are laid out in the collected heap, and the collector's view of them
//! (`LoxModel`, the `ObjectModel` implementation).
//!
//! Every object is a run of 8-byte words. Word 0 is the header: `size_in_words << 8 | tag`,
//! plus bit 63, the lock bit of a table's writers (locks.rs), which every reading of the size
//! masks out (`header_words`).
//! The fields that follow are either raw integers (lengths, indices, hashes) or value words
//! (NaN-boxed, see value.rs); `for_each_slot` reports exactly the value words. Layouts, by word:
//!
//! | type          | 1                         | 2              | 3              | 4…            |
//! |---------------|---------------------------|----------------|----------------|---------------|
//! | String        | len (u32) \| hash << 32   | bytes…         |                |               |
//! | Function      | arity \| upvals<<8 \| max_stack<<16 \| code<<32 | name (value) | constants (value) | 4: code pointer |
//! | Native        | index into the VM's natives |              |                |               |
//! | Closure       | function (value)          | upvalue 0 (value) …             |               |
//! | Upvalue       | stack slot address, or CLOSED | closed value | next open upvalue (value)   |
//! | Class         | name (value)              | methods count  | methods entries (value)        |
//! | Instance      | class (value)             | fields count   | fields entries (value)         |
//! | BoundMethod   | receiver (value)          | method (value) |                |               |
//! | ValueArray    | value 0 …                 |                |                |               |
//! | TableEntries  | key 0, value 0, key 1, value 1 … (all strong)                  |               |
//! | WeakEntries   | the same, but keys are weak (the string intern table)          |               |
//! | Filler        | (dead space, any size)    |                |                |               |
//! | Lock, Thread  | index into a side table of `SharedRoots` (sidetable.rs)    |               |
//!
//! `Obj` is a raw object pointer for use strictly between two safepoints; this module never
//! allocates.

use crate::barrier::Barrier;
use crate::locks::{HeaderLock, LOCK_BIT};
use crate::value::Value;
use gc::{Address, ObjectModel, SlotKind, WORD};
use std::sync::atomic::{AtomicU64, Ordering};

/// Object type tags (header bits 0..8). Zero is never a tag, so zeroed memory is not an object.
pub mod tag {
    pub const STRING: u32 = 1;
    pub const FUNCTION: u32 = 2;
    pub const NATIVE: u32 = 3;
    pub const CLOSURE: u32 = 4;
    pub const UPVALUE: u32 = 5;
    pub const CLASS: u32 = 6;
    pub const INSTANCE: u32 = 7;
    pub const BOUND_METHOD: u32 = 8;
    pub const VALUE_ARRAY: u32 = 9;
    pub const TABLE_ENTRIES: u32 = 10;
    pub const WEAK_ENTRIES: u32 = 11;
    pub const FILLER: u32 = 12;
    pub const LOCK: u32 = 13;
    pub const THREAD: u32 = 14;
}

/// Word indices of fields, by type.
pub mod field {
    pub const STRING_META: usize = 1;
    pub const STRING_BYTES: usize = 2;
    pub const FUNCTION_META: usize = 1;
    pub const FUNCTION_NAME: usize = 2;
    pub const FUNCTION_CONSTANTS: usize = 3;
    /// Raw address of the function's bytecode in the code table (off-heap, never moves; not a
    /// slot). Lets a call find the code without a table lookup.
    pub const FUNCTION_CODE: usize = 4;
    pub const NATIVE_INDEX: usize = 1;
    pub const CLOSURE_FUNCTION: usize = 1;
    pub const CLOSURE_UPVALUES: usize = 2;
    /// Address of the variable's stack slot while the upvalue is open (a raw word: the owner
    /// thread's stack is off-heap), or `UPVALUE_CLOSED` (upvalues.rs).
    pub const UPVALUE_SLOT: usize = 1;
    pub const UPVALUE_CLOSED: usize = 2;
    pub const UPVALUE_NEXT: usize = 3;
    /// Class and Instance share the table layout: the owner's name/class, then count, entries.
    pub const CLASS_NAME: usize = 1;
    pub const INSTANCE_CLASS: usize = 1;
    pub const TABLE_COUNT: usize = 2;
    pub const TABLE_ENTRIES: usize = 3;
    pub const BOUND_RECEIVER: usize = 1;
    pub const BOUND_METHOD: usize = 2;
    pub const ARRAY_VALUES: usize = 1;
    pub const ENTRIES_START: usize = 1;
    /// Lock and Thread: the index of the object's side-table entry (a raw word).
    pub const SIDE_INDEX: usize = 1;
}

/// Words of the fixed-size objects.
pub mod words {
    pub const FUNCTION: usize = 5;
    pub const NATIVE: usize = 2;
    pub const UPVALUE: usize = 4;
    pub const CLASS: usize = 4;
    pub const INSTANCE: usize = 4;
    pub const BOUND_METHOD: usize = 3;
    /// Lock and Thread.
    pub const SIDE_OBJECT: usize = 2;
}

/// `UPVALUE_SLOT` of a closed upvalue.
pub const UPVALUE_CLOSED: u64 = u64::MAX;

/// Largest object, in words, the header can describe (and far beyond any heap).
pub const MAX_OBJECT_WORDS: usize = 1 << 48;

#[inline(always)]
pub fn header(tag: u32, words: usize) -> u64 {
    debug_assert!((1..MAX_OBJECT_WORDS).contains(&words));
    ((words as u64) << 8) | u64::from(tag)
}

/// The size in words a header word gives, whether or not its lock bit is set.
#[inline(always)]
pub fn header_words(h: u64) -> usize {
    ((h & !LOCK_BIT) >> 8) as usize
}

/// Longest string, in bytes: a string keeps its length in 32 bits of its meta word.
pub const MAX_STRING_BYTES: usize = u32::MAX as usize;

/// The length of `a` bytes followed by `b` bytes, if a string can be that long.
#[inline]
pub fn concatenated_len(a: usize, b: usize) -> Option<usize> {
    a.checked_add(b).filter(|&n| n <= MAX_STRING_BYTES)
}

/// Words of a string with `len` bytes.
#[inline(always)]
pub fn string_words(len: usize) -> usize {
    field::STRING_BYTES + len.div_ceil(WORD)
}

/// Words of an entries array with `capacity` key/value pairs.
#[inline(always)]
pub fn entries_words(capacity: usize) -> usize {
    field::ENTRIES_START + 2 * capacity
}

/// A raw pointer to an object's header, valid only until the next safepoint (anything that may
/// allocate): after that the object may have moved and the pointer is stale. Invariant, set up by
/// the unsafe constructors: it points at a live, well-formed object.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct Obj(*mut u64);

impl Obj {
    /// # Safety
    /// 1. `v` is an object reference to a live, well-formed object (e.g. read from a root or
    ///    from a live object's slot since the last safepoint).
    /// 2. The `Obj` is not used after the next safepoint.
    #[inline(always)]
    pub unsafe fn from_value(v: Value) -> Obj {
        debug_assert!(v.is_object());
        Obj(v.as_address().as_mut_ptr())
    }

    /// # Safety
    /// 1. `a` is the start of a live, well-formed object (or one being initialised by the
    ///    caller, whose header is written before any other use).
    /// 2. As rule 2 of [`Obj::from_value`].
    #[inline(always)]
    pub unsafe fn from_address(a: Address) -> Obj {
        Obj(a.as_mut_ptr())
    }

    #[inline(always)]
    pub fn address(self) -> Address {
        Address::from_ptr(self.0)
    }

    #[inline(always)]
    pub fn value(self) -> Value {
        Value::object(self.address())
    }

    #[inline(always)]
    pub fn header(self) -> u64 {
        // SAFETY: the type invariant: self points at a live object, whose word 0 is readable.
        unsafe { *self.0 }
    }

    #[inline(always)]
    pub fn tag(self) -> u32 {
        (self.header() & 0xff) as u32
    }

    #[inline(always)]
    pub fn size_words(self) -> usize {
        header_words(self.header())
    }

    /// The header word as an atomic, for its lock bit.
    #[inline(always)]
    fn header_atomic<'a>(self) -> &'a AtomicU64 {
        // SAFETY: the type invariant: word 0 of a live object, aligned to 8 bytes. Writers of
        // the header only ever set or clear the lock bit, atomically (locks.rs); the
        // collector's concurrent reads of it use only the size and tag bits, which no writer
        // changes. The reference is used before the next safepoint (rule 2 of the constructors).
        unsafe { AtomicU64::from_ptr(self.0) }
    }

    /// Takes the object's header lock if it is free (the writers' lock of its table).
    #[inline(always)]
    pub fn try_lock(self) -> bool {
        HeaderLock::try_lock(self.header_atomic())
    }

    /// Releases the header lock, which the caller holds.
    #[inline(always)]
    pub fn unlock(self) {
        HeaderLock::unlock(self.header_atomic())
    }

    /// Whether some thread holds the header lock.
    pub fn is_locked(self) -> bool {
        HeaderLock::is_locked(self.header_atomic())
    }

    #[inline(always)]
    pub fn word(self, i: usize) -> u64 {
        debug_assert!(i < self.size_words());
        // SAFETY: the type invariant, and callers index fields of the object's own layout.
        unsafe { *self.0.add(i) }
    }

    #[inline(always)]
    pub fn set_word(self, i: usize, w: u64) {
        debug_assert!(i < self.size_words() || i == 0);
        // SAFETY: as for `word`.
        unsafe { *self.0.add(i) = w }
    }

    #[inline(always)]
    pub fn get(self, i: usize) -> Value {
        Value(self.word(i))
    }

    /// An initialising store (or a non-reference word): no barrier. Overwriting a reference
    /// slot of an object that existed at the last safepoint must use [`Obj::store`].
    #[inline(always)]
    pub fn set(self, i: usize, v: Value) {
        self.set_word(i, v.0)
    }

    /// Overwrites reference slot `i` with `v`, telling `barrier` the slot's old word first
    /// (see barrier.rs): the heap for an existing object, `Fresh` for one being initialised.
    #[inline(always)]
    pub fn store<B: Barrier>(self, barrier: &mut B, i: usize, v: Value) {
        barrier.overwriting(self.word(i));
        self.set_word(i, v.0)
    }

    /// As [`Obj::store`], with a release store: a thread that reads the new word (without a
    /// lock) sees every write made before it, e.g. a table entries array filled before being
    /// published, or a table pair's value before its key.
    #[inline(always)]
    pub fn publish<B: Barrier>(self, barrier: &mut B, i: usize, v: Value) {
        barrier.overwriting(self.word(i));
        debug_assert!(i > 0 && i < self.size_words());
        // SAFETY: word `i` of a live object (the type invariant), aligned; other threads read it
        // as one word (shared rule 3).
        unsafe { AtomicU64::from_ptr(self.0.add(i)) }.store(v.0, Ordering::Release);
    }

    /// Pointer to word `i` (for reading runs of values or bytes).
    #[inline(always)]
    pub fn word_ptr(self, i: usize) -> *mut u64 {
        // SAFETY: stays within (or one past) the object by the callers' layout arithmetic.
        unsafe { self.0.add(i) }
    }

    // ---- strings ----

    #[inline(always)]
    pub fn string_len(self) -> usize {
        (self.word(field::STRING_META) & 0xffff_ffff) as usize
    }

    #[inline(always)]
    pub fn string_hash(self) -> u32 {
        (self.word(field::STRING_META) >> 32) as u32
    }

    /// The bytes of a string object. The slice must be dropped before the next safepoint, and
    /// must never reach a system call (design note §4.1): copy it into an off-heap buffer.
    #[inline(always)]
    pub fn string_bytes<'a>(self) -> &'a [u8] {
        debug_assert_eq!(self.tag(), tag::STRING);
        // SAFETY: a string's `len` bytes follow its meta word inside the object.
        unsafe {
            std::slice::from_raw_parts(
                self.word_ptr(field::STRING_BYTES) as *const u8,
                self.string_len(),
            )
        }
    }

    // ---- functions ----
    // FUNCTION_META packs: arity in bits 0..8, upvalue count (≤ 256) in 8..17, the verified
    // maximum stack height (≤ verify::MAX_STACK) in 17..32, the code-table index in 32..64.

    #[inline(always)]
    pub fn function_arity(self) -> u8 {
        (self.word(field::FUNCTION_META) & 0xff) as u8
    }

    #[inline(always)]
    pub fn function_upvalue_count(self) -> usize {
        ((self.word(field::FUNCTION_META) >> 8) & 0x1ff) as usize
    }

    /// Most stack slots a call uses above its frame base (verified at load time).
    #[inline(always)]
    pub fn function_max_stack(self) -> usize {
        ((self.word(field::FUNCTION_META) >> 17) & 0x7fff) as usize
    }

    #[inline(always)]
    pub fn function_code(self) -> *const u8 {
        self.word(field::FUNCTION_CODE) as usize as *const u8
    }

    #[inline(always)]
    pub fn function_code_index(self) -> usize {
        (self.word(field::FUNCTION_META) >> 32) as usize
    }

    /// Number of key/value pairs an entries array holds. An entries array is never locked
    /// (only the table's owner is), so its size is read without masking the lock bit: this is
    /// on the path of every table lookup.
    #[inline(always)]
    pub fn entries_capacity(self) -> usize {
        debug_assert!(!self.is_locked());
        ((self.header() >> 8) as usize - field::ENTRIES_START) / 2
    }
}

/// The collector's view of Lox objects. A zero-sized type: everything is in the headers.
pub struct LoxModel;

impl ObjectModel for LoxModel {
    #[inline]
    unsafe fn size_bytes(obj: Address) -> usize {
        // SAFETY: rule 1 of this function: `obj` starts a well-formed object.
        let h = unsafe { *obj.as_ptr::<u64>() };
        header_words(h) * WORD
    }

    unsafe fn for_each_slot(obj: Address, f: &mut dyn FnMut(usize, SlotKind)) {
        // SAFETY: rule 1: the header is readable.
        let h = unsafe { *obj.as_ptr::<u64>() };
        let size = header_words(h);
        let strong = SlotKind::Strong;
        match (h & 0xff) as u32 {
            tag::FUNCTION => {
                f(field::FUNCTION_NAME, strong);
                f(field::FUNCTION_CONSTANTS, strong);
            }
            tag::CLOSURE | tag::VALUE_ARRAY | tag::TABLE_ENTRIES => {
                for i in 1..size {
                    f(i, strong);
                }
            }
            tag::UPVALUE => {
                f(field::UPVALUE_CLOSED, strong);
                f(field::UPVALUE_NEXT, strong);
            }
            tag::CLASS | tag::INSTANCE => {
                f(1, strong);
                f(field::TABLE_ENTRIES, strong);
            }
            tag::BOUND_METHOD => {
                f(field::BOUND_RECEIVER, strong);
                f(field::BOUND_METHOD, strong);
            }
            tag::WEAK_ENTRIES => {
                let mut i = field::ENTRIES_START;
                while i + 1 < size {
                    f(i, SlotKind::Weak);
                    f(i + 1, strong);
                    i += 2;
                }
            }
            // Strings, natives, fillers, locks and threads hold no references.
            _ => {}
        }
    }

    /// Arrays visit only the slots in `words`: compaction asks once per page an object
    /// straddles, so filtering every slot of a multi-page array (the intern table's entries
    /// reach megabytes) would cost the array's length per page, quadratic in its size.
    unsafe fn for_each_slot_in(
        obj: Address,
        words: std::ops::Range<usize>,
        f: &mut dyn FnMut(usize, SlotKind),
    ) {
        // SAFETY: rule 1: the header is readable.
        let h = unsafe { *obj.as_ptr::<u64>() };
        let size = header_words(h);
        let (lo, hi) = (words.start.max(1), words.end.min(size));
        match (h & 0xff) as u32 {
            tag::CLOSURE | tag::VALUE_ARRAY | tag::TABLE_ENTRIES => {
                for i in lo..hi {
                    f(i, SlotKind::Strong);
                }
            }
            tag::WEAK_ENTRIES => {
                // Key/value pairs from ENTRIES_START: the key (weak) at an even offset from it.
                for i in lo.max(field::ENTRIES_START)..hi {
                    let kind = if (i - field::ENTRIES_START).is_multiple_of(2) {
                        SlotKind::Weak
                    } else {
                        SlotKind::Strong
                    };
                    // A trailing key without its value is not a slot (as in for_each_slot).
                    if kind == SlotKind::Weak && i + 1 >= size {
                        break;
                    }
                    f(i, kind);
                }
            }
            // A few fixed slots: filtering them is cheap.
            _ => {
                // SAFETY: rule 1, passed on.
                unsafe {
                    Self::for_each_slot(obj, &mut |i, kind| {
                        if words.contains(&i) {
                            f(i, kind)
                        }
                    })
                }
            }
        }
    }

    #[inline]
    fn decode(word: u64) -> Option<Address> {
        Value(word).to_address()
    }

    #[inline]
    fn encode(_word: u64, target: Address) -> u64 {
        Value::object(target).0
    }

    unsafe fn write_filler(at: Address, bytes: usize) {
        debug_assert!(bytes >= WORD && bytes.is_multiple_of(WORD));
        // SAFETY: rule 1: the range is writable and ours; a filler needs only its header.
        unsafe { *at.as_mut_ptr::<u64>() = header(tag::FILLER, bytes / WORD) };
    }

    unsafe fn type_tag(obj: Address) -> u32 {
        // SAFETY: rule 1: the header is readable.
        (unsafe { *obj.as_ptr::<u64>() } & 0xff) as u32
    }
}

/// Human-readable name of a type tag (statistics, debugging).
pub fn tag_name(t: u32) -> &'static str {
    match t {
        tag::STRING => "string",
        tag::FUNCTION => "function",
        tag::NATIVE => "native",
        tag::CLOSURE => "closure",
        tag::UPVALUE => "upvalue",
        tag::CLASS => "class",
        tag::INSTANCE => "instance",
        tag::BOUND_METHOD => "bound_method",
        tag::VALUE_ARRAY => "value_array",
        tag::TABLE_ENTRIES => "table_entries",
        tag::WEAK_ENTRIES => "weak_entries",
        tag::FILLER => "filler",
        tag::LOCK => "lock",
        tag::THREAD => "thread",
        _ => "unknown",
    }
}

/// FNV-1a over the bytes, the hash every string caches.
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(16_777_619);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an object in a local word buffer and lists the slots the model reports.
    fn slots_of(words: &mut [u64]) -> Vec<(usize, SlotKind)> {
        let mut out = Vec::new();
        let a = Address::from_ptr(words.as_ptr());
        // SAFETY: `words` holds a well-formed object whose header says its own length.
        unsafe { LoxModel::for_each_slot(a, &mut |i, k| out.push((i, k))) };
        // SAFETY: as above.
        assert_eq!(unsafe { LoxModel::size_bytes(a) }, words.len() * WORD);
        out
    }

    fn strong(ix: &[usize]) -> Vec<(usize, SlotKind)> {
        ix.iter().map(|&i| (i, SlotKind::Strong)).collect()
    }

    #[test]
    fn slot_reporting_is_exact() {
        let mut s = vec![header(tag::STRING, 3), 5, 0];
        assert!(slots_of(&mut s).is_empty());
        let mut f = vec![header(tag::FUNCTION, 5), 0, 0, 0, 0];
        assert_eq!(slots_of(&mut f), strong(&[2, 3]));
        let mut n = vec![header(tag::NATIVE, 2), 0];
        assert!(slots_of(&mut n).is_empty());
        let mut l = vec![header(tag::LOCK, 2), 0];
        assert!(slots_of(&mut l).is_empty());
        let mut t = vec![header(tag::THREAD, 2), 0];
        assert!(slots_of(&mut t).is_empty());
        let mut c = vec![header(tag::CLOSURE, 4), 0, 0, 0];
        assert_eq!(slots_of(&mut c), strong(&[1, 2, 3]));
        let mut u = vec![header(tag::UPVALUE, 4), 0, 0, 0];
        assert_eq!(slots_of(&mut u), strong(&[2, 3]));
        let mut k = vec![header(tag::CLASS, 4), 0, 0, 0];
        assert_eq!(slots_of(&mut k), strong(&[1, 3]));
        let mut i = vec![header(tag::INSTANCE, 4), 0, 0, 0];
        assert_eq!(slots_of(&mut i), strong(&[1, 3]));
        let mut b = vec![header(tag::BOUND_METHOD, 3), 0, 0];
        assert_eq!(slots_of(&mut b), strong(&[1, 2]));
        let mut arr = vec![header(tag::VALUE_ARRAY, 3), 0, 0];
        assert_eq!(slots_of(&mut arr), strong(&[1, 2]));
        let mut empty = vec![header(tag::VALUE_ARRAY, 1)];
        assert!(slots_of(&mut empty).is_empty());
        let mut e = vec![header(tag::TABLE_ENTRIES, 5), 0, 0, 0, 0];
        assert_eq!(slots_of(&mut e), strong(&[1, 2, 3, 4]));
        let mut w = vec![header(tag::WEAK_ENTRIES, 5), 0, 0, 0, 0];
        assert_eq!(
            slots_of(&mut w),
            vec![
                (1, SlotKind::Weak),
                (2, SlotKind::Strong),
                (3, SlotKind::Weak),
                (4, SlotKind::Strong)
            ]
        );
    }

    /// The range walk compaction uses reports exactly the slots of the full walk that fall in
    /// the range, for every type and every range (including ones past the object's end).
    #[test]
    fn slot_ranges_match_the_full_walk() {
        let types = [
            tag::STRING,
            tag::FUNCTION,
            tag::CLOSURE,
            tag::UPVALUE,
            tag::CLASS,
            tag::INSTANCE,
            tag::BOUND_METHOD,
            tag::VALUE_ARRAY,
            tag::TABLE_ENTRIES,
            tag::WEAK_ENTRIES,
            tag::LOCK,
            tag::THREAD,
        ];
        for t in types {
            for words in 1..12usize {
                let mut buf = vec![0u64; words];
                buf[0] = header(t, words);
                let all = slots_of(&mut buf);
                let a = Address::from_ptr(buf.as_ptr());
                for lo in 0..=words + 1 {
                    for hi in lo..=words + 2 {
                        let mut got = Vec::new();
                        // SAFETY: `buf` holds an object whose header says its own length.
                        unsafe {
                            LoxModel::for_each_slot_in(a, lo..hi, &mut |i, k| got.push((i, k)))
                        };
                        let want: Vec<_> = all
                            .iter()
                            .copied()
                            .filter(|(i, _)| (lo..hi).contains(i))
                            .collect();
                        assert_eq!(got, want, "type {t}, {words} words, range {lo}..{hi}");
                    }
                }
            }
        }
    }

    /// A header whose lock bit is set reads as the same object to the collector.
    #[test]
    fn the_lock_bit_is_invisible_to_the_collector() {
        for (t, words) in [(tag::INSTANCE, 4), (tag::CLASS, 4), (tag::UPVALUE, 4)] {
            let mut plain = vec![0u64; words];
            plain[0] = header(t, words);
            let mut locked = plain.clone();
            locked[0] |= LOCK_BIT;
            assert_eq!(slots_of(&mut locked), slots_of(&mut plain));
            let a = Address::from_ptr(locked.as_ptr());
            // SAFETY: `locked` holds a well-formed object.
            assert_eq!(unsafe { LoxModel::type_tag(a) }, t);
            // SAFETY: as above.
            let o = unsafe { Obj::from_address(a) };
            assert_eq!((o.size_words(), o.tag()), (words, t));
            assert!(o.is_locked());
            o.unlock();
            assert!(!o.is_locked() && o.try_lock() && !o.try_lock());
            assert_eq!(o.header(), plain[0] | LOCK_BIT);
        }
    }

    #[test]
    fn fillers_cover_any_size() {
        for words in 1..10 {
            let mut buf = vec![0u64; words];
            let a = Address::from_ptr(buf.as_mut_ptr());
            // SAFETY: `buf` is ours and `words * 8` bytes long.
            unsafe { LoxModel::write_filler(a, words * WORD) };
            assert!(slots_of(&mut buf).is_empty());
            // SAFETY: the filler's header was just written.
            assert_eq!(unsafe { LoxModel::type_tag(a) }, tag::FILLER);
        }
    }

    #[test]
    fn decode_encode_round_trip() {
        let a = Address(0x10_0000_0040);
        let w = Value::object(a).0;
        assert_eq!(LoxModel::decode(w), Some(a));
        let b = Address(0x10_0000_0008);
        assert_eq!(LoxModel::decode(LoxModel::encode(w, b)), Some(b));
        assert_eq!(LoxModel::decode(Value::number(2.5).0), None);
        assert_eq!(LoxModel::decode(Value::NIL.0), None);
        assert_eq!(LoxModel::decode(Value::TRUE.0), None);
    }

    #[test]
    fn string_sizes() {
        assert_eq!(string_words(0), 2);
        assert_eq!(string_words(1), 3);
        assert_eq!(string_words(8), 3);
        assert_eq!(string_words(9), 4);
    }

    #[test]
    fn strings_stop_at_four_gib() {
        assert_eq!(MAX_STRING_BYTES, (1 << 32) - 1);
        assert_eq!(
            concatenated_len(MAX_STRING_BYTES - 1, 1),
            Some(MAX_STRING_BYTES)
        );
        assert_eq!(concatenated_len(MAX_STRING_BYTES, 1), None);
        assert_eq!(concatenated_len(1 << 31, 1 << 31), None);
        assert_eq!(concatenated_len(usize::MAX, 1), None);
    }

    #[test]
    fn fnv_hash_known_values() {
        assert_eq!(hash_bytes(b""), 2_166_136_261);
        assert_eq!(hash_bytes(b"a"), 0xe40c_292c);
    }
}
