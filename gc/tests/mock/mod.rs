//! A mock object model and root set for the collector's integration tests, with a shadow copy
//! of the object graph kept in ordinary Rust data so that every collection can be checked
//! object by object.
//!
//! Object layout (words):
//! - 0: header `MAGIC << 48 | tag << 40 | size_in_words`
//! - node (tag 1): 1 = unique id, 2 = `nrefs | stride << 32`; reference slots at
//!   `3 + i * stride` for `i < nrefs`, every other word is payload derived from the id
//! - weak table (tag 2): 1 = id, 2 = entry count; entries (weak slots) from word 3
//! - filler (tag 0): header only, covering `size_in_words`
//!
//! Slot words are tagged so that decoding is not the identity: a reference is
//! `(addr >> 3) << 4 | 0xA`, nil is `0x2`, an integer `x` is `x << 4 | 0x1`.
#![allow(dead_code)]

use gc::{Address, Heap, HeapConfig, Mutator, ObjectModel, RootSet, SlotKind};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub const MAGIC: u64 = 0xC0DE;
pub const TAG_FILLER: u64 = 0;
pub const TAG_NODE: u64 = 1;
pub const TAG_TABLE: u64 = 2;
pub const NIL: u64 = 0x2;

pub fn header(tag: u64, words: usize) -> u64 {
    (MAGIC << 48) | (tag << 40) | words as u64
}
pub fn int(x: u64) -> u64 {
    (x << 4) | 0x1
}
pub fn reference(a: Address) -> u64 {
    ((a.as_usize() as u64 >> 3) << 4) | 0xA
}

/// Payload word `k` of node `id`: arbitrary bits, some of which look like references (they
/// are not slots, so the collector must leave them alone).
pub fn payload(id: u64, k: usize) -> u64 {
    let mut z =
        id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (k as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z ^= z >> 29;
    z = z.wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 32)
}

/// Reads word `i` of the object at `a`.
///
/// # Safety
/// 1. `a + 8 * i` is readable.
pub unsafe fn word(a: Address, i: usize) -> u64 {
    // SAFETY: rule 1.
    unsafe { a.add(i * 8).as_ptr::<u64>().read() }
}

/// # Safety
/// 1. `a + 8 * i` is writable memory owned by the caller.
pub unsafe fn set_word(a: Address, i: usize, v: u64) {
    // SAFETY: rule 1.
    unsafe { a.add(i * 8).as_mut_ptr::<u64>().write(v) }
}

pub struct Mock;

impl Mock {
    /// True if `w` encodes a reference.
    pub fn decode_ok(w: u64) -> bool {
        w & 0xf == 0xA
    }
}

impl ObjectModel for Mock {
    unsafe fn size_bytes(obj: Address) -> usize {
        // SAFETY: the trait's rule 1: a well-formed object header.
        let h = unsafe { word(obj, 0) };
        ((h & 0xff_ffff_ffff) as usize) * 8
    }

    unsafe fn for_each_slot(obj: Address, f: &mut dyn FnMut(usize, SlotKind)) {
        // SAFETY: the trait's rule 1: a well-formed object.
        let (h, w2) = unsafe { (word(obj, 0), word(obj, 2)) };
        match (h >> 40) & 0xff {
            TAG_NODE => {
                let (n, stride) = ((w2 & 0xffff_ffff) as usize, (w2 >> 32) as usize);
                for i in 0..n {
                    f(3 + i * stride, SlotKind::Strong);
                }
            }
            TAG_TABLE => {
                for i in 0..w2 as usize {
                    f(3 + i, SlotKind::Weak);
                }
            }
            _ => {}
        }
    }

    unsafe fn for_each_slot_in(
        obj: Address,
        words: std::ops::Range<usize>,
        f: &mut dyn FnMut(usize, SlotKind),
    ) {
        // Jumps to the first slot in range, as a language with large arrays would.
        // SAFETY: the trait's rule 1: a well-formed object.
        let (h, w2) = unsafe { (word(obj, 0), word(obj, 2)) };
        if (h >> 40) & 0xff != TAG_NODE {
            // SAFETY: as above.
            return unsafe {
                Self::for_each_slot(obj, &mut |i, k| {
                    if words.contains(&i) {
                        f(i, k)
                    }
                })
            };
        }
        let (n, stride) = ((w2 & 0xffff_ffff) as usize, (w2 >> 32) as usize);
        let first = words.start.saturating_sub(3).div_ceil(stride.max(1));
        for i in first..n {
            let at = 3 + i * stride;
            if at >= words.end {
                break;
            }
            if at >= words.start {
                f(at, SlotKind::Strong);
            }
        }
    }

    fn decode(w: u64) -> Option<Address> {
        (w & 0xf == 0xA).then_some(Address(((w >> 4) << 3) as usize))
    }

    fn encode(w: u64, target: Address) -> u64 {
        debug_assert_eq!(w & 0xf, 0xA);
        reference(target)
    }

    unsafe fn write_filler(at: Address, bytes: usize) {
        // SAFETY: the trait's rule 1: writable memory of at least one word.
        unsafe { set_word(at, 0, header(TAG_FILLER, bytes / 8)) };
    }

    unsafe fn type_tag(obj: Address) -> u32 {
        // SAFETY: the trait's rule 1.
        (unsafe { word(obj, 0) } >> 40) as u32 & 0xff
    }
}

/// Root set: strong root words (root 0 always holds the weak table), off-heap weak roots.
pub struct Roots {
    pub strong: Vec<u64>,
    pub weak: Vec<u64>,
}

impl RootSet for Roots {
    fn visit_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
        self.strong.iter_mut().for_each(v);
    }
    fn visit_weak_roots(&mut self, v: &mut dyn FnMut(&mut u64)) {
        self.weak.iter_mut().for_each(v);
    }
    fn sweep_weak(&mut self, is_live: &dyn Fn(Address) -> bool) {
        for w in &mut self.weak {
            if Mock::decode(*w).is_some_and(|a| !is_live(a)) {
                *w = NIL;
            }
        }
        let Some(table) = self.strong.first().copied().and_then(Mock::decode) else {
            return;
        };
        // SAFETY: root 0 is the live weak table (not moved yet: sweeping runs before
        // compaction).
        unsafe {
            let n = word(table, 2) as usize;
            for i in 0..n {
                let e = word(table, 3 + i);
                if Mock::decode(e).is_some_and(|a| !is_live(a)) {
                    set_word(table, 3 + i, NIL);
                }
            }
        }
    }
}

/// A slot value in the shadow graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    Nil,
    Int(u64),
    Ref(u64),
}

#[derive(Clone, Debug)]
pub struct ShadowNode {
    pub words: usize,
    pub stride: usize,
    pub refs: Vec<Val>,
}

/// A small xorshift PRNG: deterministic per seed, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A heap, its roots, and the shadow graph they must always agree with.
pub struct World {
    pub heap: Mutator<Mock>,
    pub roots: Roots,
    pub nodes: HashMap<u64, ShadowNode>,
    pub shadow_roots: Vec<Val>,
    pub table_id: u64,
    pub table: Vec<Option<u64>>,
    pub shadow_weak: Vec<Option<u64>>,
    next_id: u64,
    seen_cycles: u64,
    /// Whether other worlds may share the heap: then a cycle's live bytes include theirs.
    shared_heap: bool,
    pub checks: u64,
    /// Check the whole graph after every cycle (the default). Off for tests that time the
    /// collector against the program: the check is the program's time, and a slow one.
    pub check_after_gc: bool,
}

pub const TABLE_ENTRIES: usize = 32;

impl World {
    pub fn new(config: HeapConfig, n_roots: usize, n_weak: usize) -> World {
        let mut w = World::with_heap(Heap::<Mock>::new(config).expect("heap"), n_roots, n_weak);
        w.shared_heap = false;
        w
    }

    /// A world around an already made heap, which other worlds (threads) may share.
    pub fn with_heap(heap: Arc<Heap<Mock>>, n_roots: usize, n_weak: usize) -> World {
        let mut w = World {
            heap: heap.attach(),
            roots: Roots {
                strong: vec![NIL; n_roots.max(2)],
                weak: vec![NIL; n_weak],
            },
            nodes: HashMap::new(),
            shadow_roots: vec![Val::Nil; n_roots.max(2)],
            table_id: 0,
            table: vec![None; TABLE_ENTRIES],
            shadow_weak: vec![None; n_weak],
            next_id: 1,
            seen_cycles: 0,
            shared_heap: true,
            checks: 0,
            check_after_gc: true,
        };
        let words = 3 + TABLE_ENTRIES;
        // Not through `World::alloc`: a (stress) collection here has no table to check yet.
        let a = w.heap.alloc(words * 8, &mut w.roots).expect("table");
        w.seen_cycles = w.heap.cycles();
        let id = w.fresh_id();
        // SAFETY: freshly allocated memory of `words` words.
        unsafe {
            set_word(a, 0, header(TAG_TABLE, words));
            set_word(a, 1, id);
            set_word(a, 2, TABLE_ENTRIES as u64);
            for i in 0..TABLE_ENTRIES {
                set_word(a, 3 + i, NIL);
            }
        }
        w.table_id = id;
        w.roots.strong[0] = reference(a);
        w.shadow_roots[0] = Val::Ref(id);
        w
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Allocates; if a collection ran, checks the whole graph against the shadow first.
    pub fn alloc(&mut self, bytes: usize) -> Result<Address, gc::OutOfMemory> {
        let a = self.heap.alloc(bytes, &mut self.roots);
        // A failed allocation may have collected first: check now, while the roots are
        // still those the collection saw.
        self.after_possible_gc();
        a
    }

    pub fn collect(&mut self) {
        self.heap.collect(&mut self.roots);
        self.after_possible_gc();
    }

    /// The poll of a mutator's loop: takes the safepoint when asked (another thread's pause, a
    /// request), then checks the graph if a cycle ran meanwhile.
    pub fn poll(&mut self) {
        if self.heap.should_yield() {
            self.heap.safepoint(&mut self.roots);
            self.after_possible_gc();
        }
    }

    fn after_possible_gc(&mut self) {
        if self.heap.cycles() != self.seen_cycles && self.check_after_gc {
            self.seen_cycles = self.heap.cycles();
            if let Err(e) = self.check(true) {
                panic!("after cycle {}: {e}", self.seen_cycles);
            }
        }
    }

    /// The heap value of shadow value `v`, given where each id lives.
    fn heap_word(&self, v: Val, addr_of: &HashMap<u64, Address>) -> u64 {
        match v {
            Val::Nil => NIL,
            Val::Int(x) => int(x),
            Val::Ref(id) => reference(addr_of[&id]),
        }
    }

    /// Compares the heap graph reachable from the roots with the shadow graph. With
    /// `after_gc`, weak entries to unreachable objects must have been cleared (and are then
    /// cleared in the shadow too), and every reachable object must lie below the heap's top.
    pub fn check(&mut self, after_gc: bool) -> Result<(), String> {
        self.checks += 1;
        let mut addr_of: HashMap<u64, Address> = HashMap::new();
        let mut stack: Vec<(u64, Address)> = Vec::new();
        let base = self.heap.base();
        let top = base.add(self.heap.used_bytes());
        let resolve = |what: &str,
                       v: Val,
                       w: u64,
                       addr_of: &mut HashMap<u64, Address>,
                       stack: &mut Vec<(u64, Address)>|
         -> Result<(), String> {
            match v {
                Val::Nil if w == NIL => Ok(()),
                Val::Int(x) if w == int(x) => Ok(()),
                Val::Ref(id) => {
                    let Some(a) = Mock::decode(w) else {
                        return Err(format!("{what}: expected ref to #{id}, found {w:#x}"));
                    };
                    if a < base || a >= top || !a.is_aligned(8) {
                        return Err(format!(
                            "{what}: ref to #{id} is {a}, outside [{base}, {top})"
                        ));
                    }
                    // SAFETY: inside the allocated heap.
                    let got = unsafe { word(a, 1) };
                    if got != id {
                        return Err(format!("{what}: ref to #{id} reaches #{got} at {a}"));
                    }
                    match addr_of.insert(id, a) {
                        Some(prev) if prev != a => {
                            Err(format!("{what}: #{id} found at both {prev} and {a}"))
                        }
                        Some(_) => Ok(()),
                        None => {
                            stack.push((id, a));
                            Ok(())
                        }
                    }
                }
                _ => Err(format!("{what}: expected {v:?}, found {w:#x}")),
            }
        };
        for (i, (&v, &w)) in self.shadow_roots.iter().zip(&self.roots.strong).enumerate() {
            resolve(&format!("root {i}"), v, w, &mut addr_of, &mut stack)?;
        }
        while let Some((id, a)) = stack.pop() {
            if id == self.table_id {
                // SAFETY: a reachable object inside the heap.
                let h = unsafe { word(a, 0) };
                if h != header(TAG_TABLE, 3 + TABLE_ENTRIES) {
                    return Err(format!("table header {h:#x}"));
                }
                continue;
            }
            let node = &self.nodes[&id];
            // SAFETY: reachable object inside the heap, `node.words` long.
            unsafe {
                if word(a, 0) != header(TAG_NODE, node.words) {
                    return Err(format!("#{id} at {a}: header {:#x}", word(a, 0)));
                }
                if word(a, 2) != node.refs.len() as u64 | (node.stride as u64) << 32 {
                    return Err(format!("#{id} at {a}: word 2 {:#x}", word(a, 2)));
                }
            }
            let mut slot = 0usize;
            for k in 3..node.words {
                if slot < node.refs.len() && k == 3 + slot * node.stride {
                    // SAFETY: as above.
                    let w = unsafe { word(a, k) };
                    resolve(
                        &format!("#{id} slot {slot}"),
                        node.refs[slot],
                        w,
                        &mut addr_of,
                        &mut stack,
                    )?;
                    slot += 1;
                    // SAFETY: as above.
                } else if unsafe { word(a, k) } != payload(id, k) {
                    return Err(format!("#{id} at {a}: payload word {k} differs"));
                }
            }
        }
        if !after_gc {
            return Ok(());
        }
        let reachable: HashSet<u64> = addr_of.keys().copied().collect();
        // Compaction is exact: the heap keeps precisely the strongly reachable objects.
        let live: usize = reachable
            .iter()
            .map(|id| match self.nodes.get(id) {
                Some(n) => n.words * 8,
                None => (3 + TABLE_ENTRIES) * 8,
            })
            .sum();
        let found = self.heap.last_live_bytes() as usize;
        // Concurrent marking keeps floating garbage too: whatever was reachable when marking
        // began, and everything allocated while it ran. Only a shortfall is an error there.
        let exact = !self.heap.is_concurrent();
        // Other threads' worlds may live in the same heap (or did when the cycle ran, and left
        // since): then only a shortfall is an error too.
        if found < live || (exact && !self.shared_heap && found != live) {
            return Err(format!(
                "the last cycle kept {found} bytes, {live} are reachable"
            ));
        }
        let Some(&table_at) = addr_of.get(&self.table_id) else {
            return Err(format!(
                "table #{} not reached; root 0 = {:?} / {:#x}",
                self.table_id, self.shadow_roots[0], self.roots.strong[0]
            ));
        };
        for i in 0..TABLE_ENTRIES {
            // SAFETY: the table is reachable (root 0) and has TABLE_ENTRIES entries.
            let w = unsafe { word(table_at, 3 + i) };
            check_weak(
                &format!("table entry {i}"),
                &mut self.table[i],
                w,
                &reachable,
                &addr_of,
                exact,
            )?;
        }
        for i in 0..self.shadow_weak.len() {
            let w = self.roots.weak[i];
            check_weak(
                &format!("weak root {i}"),
                &mut self.shadow_weak[i],
                w,
                &reachable,
                &addr_of,
                exact,
            )?;
        }
        Ok(())
    }
}

/// After a collection a weak entry holds its target if that is reachable and nil otherwise;
/// unless `exact`, an unreachable target may also survive as floating garbage (concurrent
/// marking keeps what was reachable when it began), still referenced.
fn check_weak(
    what: &str,
    shadow: &mut Option<u64>,
    w: u64,
    reachable: &HashSet<u64>,
    addr_of: &HashMap<u64, Address>,
    exact: bool,
) -> Result<(), String> {
    match *shadow {
        None if w == NIL => Ok(()),
        Some(id) if reachable.contains(&id) => {
            if w == reference(addr_of[&id]) {
                Ok(())
            } else {
                Err(format!("{what}: expected live #{id}, found {w:#x}"))
            }
        }
        Some(id) if w == NIL => {
            *shadow = None;
            let _ = id;
            Ok(())
        }
        Some(_) if !exact && Mock::decode(w).is_some() => Ok(()),
        _ => Err(format!(
            "{what}: expected {shadow:?} (dead targets cleared), found {w:#x}"
        )),
    }
}

/// Random mutations of a [`World`], mirrored in its shadow graph.
impl World {
    fn n_roots(&self) -> usize {
        self.shadow_roots.len()
    }

    /// A value taken from a random root: (shadow, heap word).
    fn pick_value(&self, rng: &mut Rng) -> (Val, u64) {
        match rng.below(10) {
            0 => (Val::Nil, NIL),
            1 => {
                let x = rng.next() >> 8;
                (Val::Int(x), int(x))
            }
            _ => {
                let j = rng.below(self.n_roots());
                (self.shadow_roots[j], self.roots.strong[j])
            }
        }
    }

    /// A root (not root 0) holding a node with at least one slot, with its id and address.
    fn pick_node(&self, rng: &mut Rng) -> Option<(usize, u64, Address)> {
        for _ in 0..4 {
            let r = 1 + rng.below(self.n_roots() - 1);
            if let Val::Ref(id) = self.shadow_roots[r] {
                if self.nodes.get(&id).is_some_and(|n| !n.refs.is_empty()) {
                    return Some((r, id, Mock::decode(self.roots.strong[r]).unwrap()));
                }
            }
        }
        None
    }

    /// Allocates a node (sometimes one spanning several pages) into root `r`.
    pub fn alloc_node(&mut self, rng: &mut Rng, r: usize) -> Result<(), gc::OutOfMemory> {
        let big = rng.chance(4);
        let nrefs = if big { 1 + rng.below(40) } else { rng.below(6) };
        let stride = if big {
            1 + rng.below(150)
        } else {
            1 + rng.below(3)
        };
        let extra = if big { rng.below(3000) } else { rng.below(8) };
        self.alloc_node_shaped(rng, r, nrefs, stride, extra)
    }

    /// Allocates into root `r` a node whose slots copy roots `from` (read after allocating)
    /// followed by `extra` payload words.
    pub fn alloc_node_from(
        &mut self,
        r: usize,
        from: &[usize],
        extra: usize,
    ) -> Result<(), gc::OutOfMemory> {
        let words = 3 + from.len() + extra;
        let a = self.alloc(words * 8)?;
        let vals: Vec<(Val, u64)> = from
            .iter()
            .map(|&j| (self.shadow_roots[j], self.roots.strong[j]))
            .collect();
        self.init_node(a, r, words, 1, vals);
        Ok(())
    }

    pub fn alloc_node_shaped(
        &mut self,
        rng: &mut Rng,
        r: usize,
        nrefs: usize,
        stride: usize,
        extra: usize,
    ) -> Result<(), gc::OutOfMemory> {
        let words = 3 + nrefs * stride + extra;
        let a = self.alloc(words * 8)?;
        // Values are read from the roots after the allocation: it may have moved everything.
        let vals: Vec<(Val, u64)> = (0..nrefs).map(|_| self.pick_value(rng)).collect();
        self.init_node(a, r, words, stride, vals);
        Ok(())
    }

    /// Writes a node of `words` words at fresh address `a` and stores it in root `r`.
    fn init_node(
        &mut self,
        a: Address,
        r: usize,
        words: usize,
        stride: usize,
        vals: Vec<(Val, u64)>,
    ) {
        let nrefs = vals.len();
        let id = self.fresh_id();
        // SAFETY: `a` is fresh memory of `words` words; every word is written before the next
        // allocation.
        unsafe {
            set_word(a, 0, header(TAG_NODE, words));
            set_word(a, 1, id);
            set_word(a, 2, nrefs as u64 | (stride as u64) << 32);
            for k in 3..words {
                set_word(a, k, payload(id, k));
            }
            for (i, &(_, w)) in vals.iter().enumerate() {
                set_word(a, 3 + i * stride, w);
            }
        }
        let refs = vals.iter().map(|&(v, _)| v).collect();
        self.nodes.insert(
            id,
            ShadowNode {
                words,
                stride,
                refs,
            },
        );
        self.roots.strong[r] = reference(a);
        self.shadow_roots[r] = Val::Ref(id);
    }

    /// Sets root `r` (not root 0) to nil.
    pub fn clear_root(&mut self, r: usize) {
        self.roots.strong[r] = NIL;
        self.shadow_roots[r] = Val::Nil;
    }

    /// Stores the value of root `value_root` into reference slot `slot` of the node in root
    /// `node_root`, with the deletion barrier if `barrier` (tests of what it prevents pass
    /// false).
    pub fn store(&mut self, node_root: usize, slot: usize, value_root: usize, barrier: bool) {
        let Val::Ref(id) = self.shadow_roots[node_root] else {
            panic!("root {node_root} holds no node");
        };
        let a = Mock::decode(self.roots.strong[node_root]).unwrap();
        let (v, w) = (self.shadow_roots[value_root], self.roots.strong[value_root]);
        let node = self.nodes.get_mut(&id).unwrap();
        node.refs[slot] = v;
        let k = 3 + slot * node.stride;
        if barrier {
            // SAFETY: slot `slot` of a live node.
            self.heap.write_barrier(unsafe { word(a, k) });
        }
        // SAFETY: as above.
        unsafe { set_word(a, k, w) };
    }

    /// Loads reference slot `slot` of the node in root `node_root` into root `dest`.
    pub fn load(&mut self, node_root: usize, slot: usize, dest: usize) {
        let Val::Ref(id) = self.shadow_roots[node_root] else {
            panic!("root {node_root} holds no node");
        };
        let a = Mock::decode(self.roots.strong[node_root]).unwrap();
        let node = &self.nodes[&id];
        // SAFETY: slot `slot` of a live node.
        let w = unsafe { word(a, 3 + slot * node.stride) };
        self.shadow_roots[dest] = node.refs[slot];
        self.roots.strong[dest] = w;
    }

    /// One random mutation (or an explicit collection).
    pub fn random_op(&mut self, rng: &mut Rng) -> Result<(), gc::OutOfMemory> {
        let n = self.n_roots();
        match rng.below(100) {
            0..=34 => {
                let r = 1 + rng.below(n - 1);
                self.alloc_node(rng, r)?;
            }
            35..=54 => {
                // Store a root's value into a node's slot (cycles, sharing).
                if let Some((_, id, a)) = self.pick_node(rng) {
                    let (v, w) = self.pick_value(rng);
                    let node = self.nodes.get_mut(&id).unwrap();
                    let i = rng.below(node.refs.len());
                    node.refs[i] = v;
                    let slot = 3 + i * node.stride;
                    // The deletion barrier before overwriting a reference slot.
                    // SAFETY: slot i of a live node.
                    self.heap.write_barrier(unsafe { word(a, slot) });
                    // SAFETY: as above.
                    unsafe { set_word(a, slot, w) };
                }
            }
            55..=69 => {
                // Load a node's slot into a root (walks into the graph).
                if let Some((_, id, a)) = self.pick_node(rng) {
                    let node = &self.nodes[&id];
                    let i = rng.below(node.refs.len());
                    let v = node.refs[i];
                    // SAFETY: slot i of a live node.
                    let w = unsafe { word(a, 3 + i * node.stride) };
                    let s = 1 + rng.below(n - 1);
                    self.shadow_roots[s] = v;
                    self.roots.strong[s] = w;
                }
            }
            70..=81 => {
                // Drop a root: whatever only it held becomes garbage.
                let r = 1 + rng.below(n - 1);
                self.shadow_roots[r] = Val::Nil;
                self.roots.strong[r] = NIL;
            }
            82..=90 => {
                // Weak table entry.
                let (v, w) = self.pick_value(rng);
                let (sv, sw) = match v {
                    Val::Ref(id) => (Some(id), w),
                    _ => (None, NIL),
                };
                let k = rng.below(TABLE_ENTRIES);
                self.table[k] = sv;
                let t = Mock::decode(self.roots.strong[0]).unwrap();
                // SAFETY: entry k of the live table.
                unsafe { set_word(t, 3 + k, sw) };
            }
            91..=97 => {
                // Off-heap weak root.
                if !self.shadow_weak.is_empty() {
                    let (v, w) = self.pick_value(rng);
                    let k = rng.below(self.shadow_weak.len());
                    match v {
                        Val::Ref(id) => {
                            self.shadow_weak[k] = Some(id);
                            self.roots.weak[k] = w;
                        }
                        _ => {
                            self.shadow_weak[k] = None;
                            self.roots.weak[k] = NIL;
                        }
                    }
                }
            }
            _ => self.collect(),
        }
        Ok(())
    }
}
