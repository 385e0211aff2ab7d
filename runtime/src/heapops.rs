//! Allocation on behalf of the VM: the fast path into the heap, the slow path with the VM's
//! roots, and the operations built on it that must survive objects moving under them —
//! interning strings, growing tables, creating objects from values held in Rust locals.
//!
//! The rule this file enforces: a value in a Rust local is stale after any allocation. Values
//! the caller needs afterwards travel through `alloc_keep`, which parks them in the temp roots
//! only when the slow path (and so a possible collection) is taken. And a second one, for
//! concurrent marking: a reference slot of an object that existed at the last safepoint is
//! overwritten only through `Obj::store` with the heap as barrier (barrier.rs); the plain
//! `set` here initialises objects allocated since the last safepoint.

use crate::object::{self, field, header, tag, words, Obj, MAX_OBJECT_WORDS};
use crate::shared::TableMeta;
use crate::sync::TableLock;
use crate::table;
use crate::value::Value;
use crate::vm::VmCore;
use gc::{Address, OutOfMemory, WORD};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a table's count and entries live.
#[derive(Copy, Clone)]
pub enum TableRef {
    Globals,
    /// A Class (methods) or Instance (fields): both keep count and entries at the same words.
    Object(Value),
}

/// Empties the weak key slots of an intern-table array the table no longer uses. A concurrent
/// cycle that started before the table grew has marked that array (it was a root then), so it
/// survives the cycle as floating garbage; but only the table's current array has its dead
/// keys cleared by the weak sweep, and a dangling weak key left in the old one would point at
/// a freed string after compaction. No barrier: weak slots are not part of the marking
/// snapshot, and the values (nil or true) are no references.
fn clear_weak_keys(old: Obj) {
    debug_assert_eq!(old.tag(), tag::WEAK_ENTRIES);
    for i in 0..old.entries_capacity() {
        old.set(field::ENTRIES_START + 2 * i, Value::NIL);
        old.set(field::ENTRIES_START + 2 * i + 1, Value::TRUE);
    }
}

impl VmCore {
    /// Allocates an object of `words` words and returns it with `keep` re-read after any
    /// collection. The memory is uninitialised: the caller writes the header and every slot
    /// before its next allocation.
    #[inline(always)]
    pub(crate) fn alloc_keep<const N: usize>(
        &mut self,
        words: usize,
        mut keep: [Value; N],
    ) -> Result<(Obj, [Value; N]), OutOfMemory> {
        if words >= MAX_OBJECT_WORDS {
            return Err(OutOfMemory);
        }
        let a = match self.heap.try_alloc(words * WORD) {
            Some(a) => a,
            None => self.alloc_slow(words * WORD, &mut keep)?,
        };
        // SAFETY: `a` was just allocated for us; the caller initialises it before any other use
        // and before the next safepoint (rule 1 of `from_address`, the "being initialised" case).
        Ok((unsafe { Obj::from_address(a) }, keep))
    }

    #[inline(never)]
    fn alloc_slow(&mut self, bytes: usize, keep: &mut [Value]) -> Result<Address, OutOfMemory> {
        let base = self.roots.temps.len();
        self.roots.temps.extend_from_slice(keep);
        let r = self.heap.alloc_slow(bytes, &mut self.roots);
        keep.copy_from_slice(&self.roots.temps[base..]);
        self.roots.temps.truncate(base);
        r
    }

    /// The interned string with these contents, creating it if needed. `bytes` must not point
    /// into the heap (it would move under us): copy heap strings to a scratch buffer first.
    /// While other threads run, the lookup and the insert are one step under the intern lock,
    /// so equal strings made by two threads end as one string.
    #[inline]
    pub(crate) fn intern(&mut self, bytes: &[u8]) -> Result<Value, OutOfMemory> {
        if !self.shared.multi() {
            return self.intern_exclusive(bytes);
        }
        self.lock_intern();
        let r = self.intern_exclusive(bytes);
        self.shared.intern_lock.unlock();
        r
    }

    /// `intern` with the intern table to itself: the intern lock held (across the string's
    /// allocation, a safepoint: shared rule 4), or the only mutator.
    fn intern_exclusive(&mut self, bytes: &[u8]) -> Result<Value, OutOfMemory> {
        let hash = object::hash_bytes(bytes);
        let shared = self.shared.roots();
        // SAFETY: shared rule 2: the intern table is read under the intern lock or by the only
        // mutator (each read of it below is by copy, re-read after every allocation); its
        // entries come from a root and no safepoint intervenes before the lookup's result is
        // used.
        if let Some(s) = unsafe { table::find_string((*shared).strings.entries, bytes, hash) } {
            // The intern table holds its keys weakly: while a cycle marks, a string reachable
            // only from it may be unmarked, and would be swept from the table and freed while
            // the program holds it. Handing it out makes it strong, so it joins the snapshot.
            self.heap.shade(s.0);
            return Ok(s);
        }
        // Only a literal of 4 GiB can get here: concatenation checks the length first.
        if bytes.len() > object::MAX_STRING_BYTES {
            return Err(OutOfMemory);
        }
        // Make room first: a collection during the string's own allocation only turns dead
        // entries into tombstones, which does not change the count.
        // SAFETY: as above (entries from a root, current).
        let (meta, swept_live) =
            unsafe { ((*shared).strings, (*shared).strings_swept_live.take()) };
        // SAFETY: as above.
        let cap = unsafe { table::capacity_of(meta.entries) };
        // After a collection swept most of its keys, the table is rebuilt smaller (its array
        // is live heap, and would stay resident) rather than waiting for tombstones to fill it.
        let shrink = swept_live.is_some_and(|live| table::should_shrink(live, cap));
        if shrink || table::needs_grow(meta.count, cap) {
            // The count includes the tombstones of strings that died: size the new array by
            // the live keys, or a program that keeps making short-lived strings would double
            // the table at every rebuild, for ever.
            // SAFETY: as above.
            let live = unsafe { table::live_keys(meta.entries) };
            self.resize_strings(table::rebuilt_capacity(live))?;
        }
        let n = object::string_words(bytes.len());
        let (s, []) = self.alloc_keep(n, [])?;
        s.set_word(0, header(tag::STRING, n));
        s.set_word(
            field::STRING_META,
            bytes.len() as u64 | (u64::from(hash) << 32),
        );
        // Zero the last byte word so padding bytes are deterministic (an empty string has no
        // byte words: its last word is the meta word), then copy the contents.
        if n > field::STRING_BYTES {
            s.set_word(n - 1, 0);
        }
        // SAFETY: the object has room for `bytes.len()` bytes after its meta word, and `bytes`
        // is off-heap, so the ranges do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                s.word_ptr(field::STRING_BYTES) as *mut u8,
                bytes.len(),
            )
        };
        let sv = s.value();
        // SAFETY: as above; the entries array is re-read after the allocation.
        let strings = unsafe { &mut (*self.shared.roots()).strings };
        // SAFETY: entries array from a root, allocated above or before; no safepoint since.
        let e = unsafe { Obj::from_value(strings.entries) };
        // An existing array: the pair's old words (nil, or a tombstone's `true`) go through the
        // barrier like any overwrite.
        let (_, grows) = table::insert(e, sv, hash, Value::NIL, &mut self.heap);
        if grows {
            strings.count += 1;
        }
        Ok(sv)
    }

    /// Replaces the intern table's entries with a weak array of `capacity` pairs holding its
    /// live entries.
    #[inline(never)]
    fn resize_strings(&mut self, capacity: usize) -> Result<(), OutOfMemory> {
        let (e, []) = self.alloc_keep(object::entries_words(capacity), [])?;
        e.set_word(
            0,
            header(tag::WEAK_ENTRIES, object::entries_words(capacity)),
        );
        table::clear(e);
        // SAFETY: shared rule 2, as in `intern`; the reference dies before the next safepoint.
        let meta: &mut TableMeta = unsafe { &mut (*self.shared.roots()).strings };
        // SAFETY: the old entries are re-read from the root after the allocation. Their keys
        // are intact strings: a collection tombstones dead keys before it frees anything, so a
        // key still present is live or dead-but-not-yet-collected (memory untouched).
        let n = unsafe { table::rehash(meta.entries, e) };
        let old = std::mem::replace(&mut meta.entries, e.value());
        meta.count = n;
        if old.is_object() {
            // SAFETY: `old` was the table's array until just now (read from the root after
            // the allocation); it is live and current.
            clear_weak_keys(unsafe { Obj::from_value(old) });
        }
        Ok(())
    }

    /// Sets `key` (an interned string) to `value` in the table `t`. Returns whether the key was
    /// new. A safepoint: every `Obj` and value local of the caller is stale afterwards.
    #[inline]
    pub(crate) fn table_set(
        &mut self,
        t: TableRef,
        key: Value,
        value: Value,
    ) -> Result<bool, OutOfMemory> {
        if self.shared.multi() {
            return self.table_set_locked(t, key, value);
        }
        let (count, entries) = self.table_meta(t);
        // SAFETY: entries read from a root or a live object just now.
        let cap = unsafe { table::capacity_of(entries) };
        let (t, key, value) = if table::needs_grow(count, cap) {
            self.grow_table(t, key, value, table::grown_capacity(cap))?
        } else {
            (t, key, value)
        };
        Ok(self.insert_with_room(t, key, value))
    }

    /// `table_set` while other threads may write the same table: writers serialise on the
    /// table's lock (sync.rs). A growth allocates the new array with the lock released (the
    /// allocation may be a safepoint, which no header lock spans), then, under the lock again,
    /// fills and publishes it if the table still has the capacity it was sized for (another
    /// writer may have grown it meanwhile: then the array is dropped and the check repeats).
    #[inline(never)]
    fn table_set_locked(
        &mut self,
        t: TableRef,
        key: Value,
        value: Value,
    ) -> Result<bool, OutOfMemory> {
        let (which, owner) = match t {
            TableRef::Globals => (TableLock::Globals, Value::NIL),
            TableRef::Object(o) => (TableLock::Owner, o),
        };
        // The owner, the pair, and a grown array made outside the lock (nil until then).
        let mut keep = [owner, key, value, Value::NIL];
        loop {
            keep = self.lock_table(which, keep);
            let [owner, key, value, spare] = keep;
            let t = match which {
                TableLock::Globals => TableRef::Globals,
                TableLock::Owner => TableRef::Object(owner),
            };
            let (count, entries) = self.table_meta(t);
            // SAFETY: entries read from a root or a live object under the table's lock.
            let cap = unsafe { table::capacity_of(entries) };
            if table::needs_grow(count, cap) {
                let capacity = table::grown_capacity(cap);
                // SAFETY: `spare` is nil or an entries array (kept in the temp roots while
                // waiting for the lock).
                if unsafe { table::capacity_of(spare) } == capacity {
                    // SAFETY: as above; the old array's keys are live strings (a strong table).
                    // Filling `spare` needs no barrier although a safepoint may have passed
                    // since its allocation: every word it overwrites is nil.
                    let live = unsafe { table::rehash(entries, Obj::from_value(spare)) };
                    self.set_table_meta(t, live, spare);
                } else {
                    self.unlock_table(which, owner);
                    let n = object::entries_words(capacity);
                    let (e, [owner, key, value]) = self.alloc_keep(n, [owner, key, value])?;
                    e.set_word(0, header(tag::TABLE_ENTRIES, n));
                    table::clear(e);
                    keep = [owner, key, value, e.value()];
                    continue;
                }
            }
            let is_new = self.insert_with_room(t, key, value);
            self.unlock_table(which, owner);
            return Ok(is_new);
        }
    }

    /// The insert of `table_set`, into a table with room for one more key.
    #[inline(always)]
    fn insert_with_room(&mut self, t: TableRef, key: Value, value: Value) -> bool {
        let (_, entries) = self.table_meta(t);
        // SAFETY: `key` is an interned string, live (the caller holds it in a root or it was
        // re-read after the growth).
        let hash = unsafe { Obj::from_value(key) }.string_hash();
        // SAFETY: entries non-nil (capacity was ensured) and current.
        let e = unsafe { Obj::from_value(entries) };
        // The array may predate the last safepoint (or a cycle's start): a barriered store.
        let (is_new, grows) = table::insert(e, key, hash, value, &mut self.heap);
        if grows {
            self.add_to_count(t, 1);
        }
        is_new
    }

    #[inline(never)]
    fn grow_table(
        &mut self,
        t: TableRef,
        key: Value,
        value: Value,
        capacity: usize,
    ) -> Result<(TableRef, Value, Value), OutOfMemory> {
        let owner = match t {
            TableRef::Object(o) => o,
            TableRef::Globals => Value::NIL,
        };
        let n = object::entries_words(capacity);
        let (e, [owner, key, value]) = self.alloc_keep(n, [owner, key, value])?;
        e.set_word(0, header(tag::TABLE_ENTRIES, n));
        table::clear(e);
        let t = match t {
            TableRef::Object(_) => TableRef::Object(owner),
            TableRef::Globals => TableRef::Globals,
        };
        let (_, old) = self.table_meta(t);
        // SAFETY: `old` re-read after the allocation; its keys are live strings (strong table).
        let live = unsafe { table::rehash(old, e) };
        self.set_table_meta(t, live, e.value());
        Ok((t, key, value))
    }

    #[inline(always)]
    fn table_meta(&self, t: TableRef) -> (usize, Value) {
        match t {
            TableRef::Globals => {
                // SAFETY: shared rule 2: the globals' writer reads their count (by copy).
                let g = unsafe { (*self.shared.roots()).globals };
                (g.count, g.entries)
            }
            TableRef::Object(o) => {
                // SAFETY: the owner is live and current (callers pass values from roots, or
                // re-read after allocation).
                let o = unsafe { Obj::from_value(o) };
                (
                    o.word(field::TABLE_COUNT) as usize,
                    o.get(field::TABLE_ENTRIES),
                )
            }
        }
    }

    fn set_table_meta(&mut self, t: TableRef, count: usize, entries: Value) {
        match t {
            TableRef::Globals => {
                let globals = self.shared.roots();
                // SAFETY: shared rule 2: the globals' writer. The entries word is published with
                // a release store, after the array was filled, for the readers of rule 3.
                unsafe {
                    (*globals).globals.count = count;
                    AtomicU64::from_ptr(&raw mut (*globals).globals.entries.0)
                        .store(entries.0, Ordering::Release);
                }
            }
            TableRef::Object(o) => {
                // SAFETY: as in `table_meta`.
                let o = unsafe { Obj::from_value(o) };
                o.set_word(field::TABLE_COUNT, count as u64);
                // The new array is black (allocated during marking, never traced): the old
                // one must be shaded, or the entries only it still shows marking would miss.
                // Published after it was filled, for readers without the lock.
                o.publish(&mut self.heap, field::TABLE_ENTRIES, entries);
            }
        }
    }

    #[inline(always)]
    fn add_to_count(&mut self, t: TableRef, n: usize) {
        match t {
            // SAFETY: shared rule 2, as in `set_table_meta`.
            TableRef::Globals => unsafe { (*self.shared.roots()).globals.count += n },
            TableRef::Object(o) => {
                // SAFETY: as in `table_meta`.
                let o = unsafe { Obj::from_value(o) };
                o.set_word(field::TABLE_COUNT, o.word(field::TABLE_COUNT) + n as u64);
            }
        }
    }

    /// A new class named `name` (a string), with no methods.
    pub(crate) fn new_class(&mut self, name: Value) -> Result<Value, OutOfMemory> {
        let (c, [name]) = self.alloc_keep(words::CLASS, [name])?;
        c.set_word(0, header(tag::CLASS, words::CLASS));
        c.set(field::CLASS_NAME, name);
        c.set_word(field::TABLE_COUNT, 0);
        c.set(field::TABLE_ENTRIES, Value::NIL);
        Ok(c.value())
    }

    /// A new instance of `class`, with no fields.
    #[inline]
    pub(crate) fn new_instance(&mut self, class: Value) -> Result<Value, OutOfMemory> {
        let (i, [class]) = self.alloc_keep(words::INSTANCE, [class])?;
        i.set_word(0, header(tag::INSTANCE, words::INSTANCE));
        i.set(field::INSTANCE_CLASS, class);
        i.set_word(field::TABLE_COUNT, 0);
        i.set(field::TABLE_ENTRIES, Value::NIL);
        Ok(i.value())
    }

    /// A new bound method.
    #[inline]
    pub(crate) fn new_bound_method(
        &mut self,
        receiver: Value,
        method: Value,
    ) -> Result<Value, OutOfMemory> {
        let (b, [receiver, method]) = self.alloc_keep(words::BOUND_METHOD, [receiver, method])?;
        b.set_word(0, header(tag::BOUND_METHOD, words::BOUND_METHOD));
        b.set(field::BOUND_RECEIVER, receiver);
        b.set(field::BOUND_METHOD, method);
        Ok(b.value())
    }

    /// A new closure over `function` with all upvalues nil (the caller fills them in).
    #[inline]
    pub(crate) fn new_closure(&mut self, function: Value) -> Result<Value, OutOfMemory> {
        // SAFETY: `function` is live: the caller read it from a root just now.
        let n = unsafe { Obj::from_value(function) }.function_upvalue_count();
        let size = field::CLOSURE_UPVALUES + n;
        let (c, [function]) = self.alloc_keep(size, [function])?;
        c.set_word(0, header(tag::CLOSURE, size));
        c.set(field::CLOSURE_FUNCTION, function);
        for i in 0..n {
            c.set(field::CLOSURE_UPVALUES + i, Value::NIL);
        }
        Ok(c.value())
    }

    /// A new native function object for entry `index` of the natives table.
    pub(crate) fn new_native(&mut self, index: usize) -> Result<Value, OutOfMemory> {
        let (n, []) = self.alloc_keep(words::NATIVE, [])?;
        n.set_word(0, header(tag::NATIVE, words::NATIVE));
        n.set_word(field::NATIVE_INDEX, index as u64);
        Ok(n.value())
    }
}
