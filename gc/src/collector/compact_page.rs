//! Building one to-space page (design note §2.5): copy the live words that land on it from
//! from-space, zero the rest, then rewrite every reference slot inside the page to its target's
//! post-compaction address. An object straddling the page boundary has only the slots inside
//! this page rewritten; its layout is read from its from-space copy.
//!
//! The routine is meant to run later inside a SIGBUS handler: it allocates nothing, takes no
//! lock, cannot panic in release builds (only `debug_assert!`, and none at all in the
//! `CHECKS = false` instance the signal handler uses), reads only from-space and side
//! metadata, and writes only `dest`.

use super::forward::Forwarding;
use super::plan::Plan;
use crate::address::{Address, PAGE, WORD};
use crate::binding::{ObjectModel, SlotKind};
use crate::metadata::bitmap::{BitmapView, BITS};
use crate::metadata::pages::PagesView;
use crate::metadata::Metadata;
use std::sync::atomic::Ordering::Relaxed;

/// What [`compact_page`] reads: the forwarding tables, the bitmaps, the page tables and where
/// from-space is. Cheap to copy.
#[derive(Copy, Clone)]
pub struct CompactSource<'a> {
    pub fwd: Forwarding<'a>,
    starts: BitmapView<'a>,
    live: BitmapView<'a>,
    pub pages: PagesView<'a>,
    /// `from_base - base` (wrapping): the from-space copy of heap address `a` is `a + delta`.
    from_delta: usize,
    live_bytes: usize,
    /// Bit index of the pre-compaction top (no object starts at or above it).
    end_bit: usize,
    /// To-space pages from this one up hold the black block (`usize::MAX`: no black block).
    black_first_page: usize,
}

impl<'a> CompactSource<'a> {
    /// The view for the cycle planned by `plan` over `meta`; from-space starts at `from_base`.
    pub fn new(meta: &'a Metadata, plan: &Plan, base: Address, from_base: Address) -> Self {
        let starts = meta.starts.view();
        CompactSource {
            fwd: Forwarding::new(meta, base, plan.old_top),
            starts,
            live: meta.live.view(),
            pages: meta.pages.view(),
            from_delta: from_base.as_usize().wrapping_sub(base.as_usize()),
            live_bytes: plan.live_bytes,
            end_bit: starts.bit_index(plan.old_top),
            black_first_page: usize::MAX,
        }
    }

    /// The view for a concurrent cycle whose black objects `[black_begin, plan.old_top)` slide
    /// down as one block to `black_dest` (page-aligned, just above the compacted non-black
    /// part, whose last page then ends with a filler).
    pub fn with_black(mut self, black_begin: Address, black_dest: Address) -> Self {
        self.fwd = self.fwd.with_black(black_begin, black_dest);
        self.black_first_page = black_dest.offset_from(self.fwd.base) / PAGE;
        self
    }

    /// Whether to-space page `page` belongs to the black block.
    #[inline(always)]
    pub fn is_black_page(&self, page: usize) -> bool {
        page >= self.black_first_page
    }

    /// Pre-compaction address of the first word of black to-space page `page`.
    #[inline(always)]
    fn black_source(&self, page: usize) -> Address {
        self.fwd
            .black_begin
            .add((page - self.black_first_page) * PAGE)
    }

    /// The object holding the first word of black to-space page `page`, if
    /// [`CompactSource::record_black_first_objects`] has recorded it yet.
    #[inline(always)]
    fn black_first_object(&self, page: usize) -> Option<Address> {
        let a = self.pages.first_obj(page);
        (a != 0).then_some(Address(a))
    }

    /// Records, for every black to-space page, the object holding its first word, in the
    /// page table's `first_obj` (which planning fills only for the pages below the black block,
    /// and which is zero above them from the last reset). One pass, searching one page of start
    /// bits per page; without it each black page inside a large object would search back to
    /// the object's start, which made a 128 MB object cost 2.7 s of compaction. Readers that
    /// find no entry yet (a fault before this pass reached the page) search as before.
    pub fn record_black_first_objects(&self) {
        if self.black_first_page == usize::MAX {
            return;
        }
        let floor = self.starts.bit_index(self.fwd.black_begin);
        let old_top = self.fwd.old_top;
        let mut prev: Option<(usize, usize)> = None;
        let mut page = self.black_first_page;
        loop {
            let source = self.black_source(page);
            if source >= old_top {
                break;
            }
            let bit = self.starts.bit_index(source);
            let obj = match prev {
                Some((prev_bit, prev_obj)) => Some(
                    self.starts
                        .find_set_at_or_below(bit, prev_bit + 1)
                        .unwrap_or(prev_obj),
                ),
                None => self.starts.find_set_at_or_below(bit, floor),
            };
            let Some(obj) = obj else {
                break;
            };
            if let Some(slot) = self.pages.first_obj.get(page) {
                slot.store(self.starts.address_of(obj).as_usize(), Relaxed);
            }
            prev = Some((bit, obj));
            page += 1;
        }
    }

    /// End (offset from the heap base) of the from-space bytes that building to-space pages
    /// `0..m` may read: a page reads the objects landing on it, whole (the layout of an
    /// object straddling the page comes from its from-space header). Pages are built in any
    /// order, so a from-space page at or above this bound may be recycled only once every page
    /// below `m` is finished (design note §2.5).
    ///
    /// # Safety
    /// 1. As for [`compact_page`]: the plan is complete, from-space holds the pre-compaction
    ///    heap (at least below the bound returned for `m + 1` and up), and its marked and black
    ///    objects are well-formed.
    pub unsafe fn read_bound<M: ObjectModel>(&self, m: usize, to_pages: usize) -> usize {
        if m == 0 {
            return 0;
        }
        let base = self.fwd.base;
        let end_of = |obj: Address| -> usize {
            // SAFETY: rule 1: a marked (or black) object start, readable in from-space.
            let size = unsafe { M::size_bytes(self.from(obj)) };
            obj.add(size).offset_from(base)
        };
        // The last object starting below `limit` (a bit index), above `floor`.
        let last_below = |limit: usize, floor: usize| {
            (limit > floor)
                .then(|| self.starts.find_set_at_or_below(limit - 1, floor))
                .flatten()
                .map(|b| self.starts.address_of(b))
        };
        if self.is_black_page(m - 1) {
            let source = self.black_source(m - 1);
            let src_end = source.add(PAGE).min(self.fwd.old_top);
            // The last object starting in the page's source, else the one holding its first
            // word (recorded, or searched for).
            let floor = self.starts.bit_index(self.fwd.black_begin);
            let last = match self.black_first_object(m - 1) {
                Some(first) => last_below(
                    self.starts.bit_index(src_end),
                    self.starts.bit_index(source),
                )
                .or(Some(first)),
                None => last_below(self.starts.bit_index(src_end), floor),
            };
            return last.map_or(src_end.offset_from(base), |o| {
                end_of(o).max(src_end.offset_from(base))
            });
        }
        if m < to_pages && !self.is_black_page(m) {
            return end_of(Address(self.pages.first_obj(m)));
        }
        // Page m - 1 is the last non-black page: it reads up to the last non-black object.
        let limit = self
            .starts
            .bit_index(self.fwd.black_begin.min(self.fwd.old_top));
        last_below(limit, 0).map_or(0, end_of)
    }

    /// The from-space copy of pre-compaction heap address `a`.
    #[inline(always)]
    pub fn from(&self, a: Address) -> Address {
        Address(a.as_usize().wrapping_add(self.from_delta))
    }

    /// Pre-compaction start of the highest marked object, if any.
    pub fn last_live_object(&self) -> Option<Address> {
        if self.end_bit == 0 {
            return None;
        }
        self.starts
            .find_set_at_or_below(self.end_bit - 1, 0)
            .map(|b| self.starts.address_of(b))
    }
}

/// Builds to-space page `to_page` into `dest` and returns the live bytes copied into it.
/// `CHECKS` turns on the debug-build assertions (off for the signal handler's instance).
///
/// # Safety
/// 1. `src` describes a completed plan (marking, prefix sums, page tables) of the current cycle,
///    and `to_page < plan.to_pages`.
/// 2. From-space holds the pre-compaction contents of the heap range `[base, old_top)` at
///    `base + from_delta`, and nobody writes it during the call.
/// 3. Every marked object in from-space is well-formed for `M`.
/// 4. `dest` is 8-byte aligned, valid for writes of `PAGE` bytes, and overlaps neither
///    from-space nor the metadata.
pub unsafe fn compact_page<M: ObjectModel, const CHECKS: bool>(
    src: &CompactSource<'_>,
    to_page: usize,
    dest: *mut u8,
) -> usize {
    if src.is_black_page(to_page) {
        // SAFETY: the caller's rules 1-4, passed on unchanged.
        return unsafe { compact_black_page::<M, CHECKS>(src, to_page, dest) };
    }
    let page_off = to_page * PAGE;
    // Debug builds check their invariants, except in the signal handler's instance
    // (`CHECKS = false`, design note §1: asserts stay outside the handler).
    macro_rules! check {
        ($($t:tt)*) => {
            if CHECKS {
                debug_assert!($($t)*);
            }
        };
    }
    let forward = |a: Address| {
        if CHECKS {
            src.fwd.new_address(a)
        } else {
            src.fwd.new_address_of_word(a)
        }
    };
    check!(page_off < src.live_bytes);
    let words_here = (src.live_bytes - page_off).min(PAGE) / WORD;
    let out = dest.cast::<u64>();

    // 1. Copy: walk runs of set live-word bits from the page's first live word, merging runs
    //    that continue across bitmap words into one copy.
    let mut bit = src.live.bit_index(Address(src.pages.first_live(to_page)));
    let mut copied = 0usize;
    let (mut run_bit, mut run_len, mut run_at) = (0usize, 0usize, 0usize);
    let flush = |run_bit: usize, run_len: usize, run_at: usize| {
        if run_len > 0 {
            let from = src.from(src.live.address_of(run_bit));
            // SAFETY: rule 2: the run is live pre-compaction heap, readable in from-space;
            // rule 4: `run_at + run_len <= words_here <= PAGE / WORD` words fit in `dest`,
            // which does not overlap from-space.
            unsafe {
                std::ptr::copy_nonoverlapping(from.as_ptr::<u64>(), out.add(run_at), run_len)
            };
        }
    };
    while copied < words_here {
        let w = bit / BITS;
        if w >= src.live.len_words() {
            // Fewer live words than planned: a broken plan. Stop rather than spin.
            check!(false, "page {to_page}: live words end early");
            break;
        }
        let bits = src.live.word(w) >> (bit % BITS);
        if bits == 0 {
            bit = (w + 1) * BITS;
            continue;
        }
        let skip = bits.trailing_zeros() as usize;
        bit += skip;
        let ones = (bits >> skip).trailing_ones() as usize;
        let n = ones.min(words_here - copied);
        if run_len > 0 && run_bit + run_len == bit {
            run_len += n;
        } else {
            flush(run_bit, run_len, run_at);
            (run_bit, run_len, run_at) = (bit, n, copied);
        }
        copied += n;
        bit += n;
    }
    flush(run_bit, run_len, run_at);
    // SAFETY: rule 4: `[copied, PAGE / WORD)` words lie inside `dest`.
    unsafe { std::ptr::write_bytes(out.add(copied), 0, PAGE / WORD - copied) };
    if to_page + 1 == src.black_first_page && copied < PAGE / WORD {
        // The black block starts on the next page boundary: the gap up to it stays in the
        // heap for good, so it becomes a filler object (the heap must stay parseable).
        // SAFETY: rule 4: `[copied, PAGE / WORD)` words lie inside `dest`, at least one.
        unsafe { M::write_filler(Address(out.add(copied) as usize), PAGE - copied * WORD) };
    }

    // 2. Rewrite references: walk the objects landing on the page, from the page's first
    //    object, in address order (sliding keeps it), visiting only their slots in the page.
    let fwd = src.fwd;
    let page_lo = fwd.base.add(page_off);
    let page_hi = page_lo.add(PAGE);
    let live_end = fwd.base.add(src.live_bytes);
    let mut obj = Address(src.pages.first_obj(to_page));
    let mut new_obj = forward(obj);
    loop {
        let from_obj = src.from(obj);
        // SAFETY: rules 1-3: `obj` is a marked object start, readable in from-space.
        let size = unsafe { M::size_bytes(from_obj) };
        if size < WORD {
            // A corrupt header would stall the walk; stop instead (no panic in a handler).
            check!(false, "object {obj} has size {size}");
            break;
        }
        // SAFETY: rules 1-4: `obj` is a marked object of size `size`, readable in
        // from-space; `out` holds the page's `copied` words.
        unsafe { rewrite_slots::<M, CHECKS>(src, obj, new_obj, size, page_lo, out, copied) };
        new_obj = new_obj.add(size);
        if new_obj >= page_hi || new_obj >= live_end {
            break;
        }
        let next = src
            .starts
            .find_set_at_or_above(src.starts.bit_index(obj.add(size)), src.end_bit);
        let Some(next) = next else {
            check!(false, "live bytes end before the planned live end");
            break;
        };
        obj = src.starts.address_of(next);
        check!(forward(obj) == new_obj);
    }
    copied * WORD
}

/// Rewrites the reference slots that lie inside the to-space page at `page_lo` (whose image
/// `out` holds its first `filled` words) of the object at pre-compaction address `obj`, which
/// lands at `new_obj` and is `size` bytes long.
///
/// # Safety
/// 1. The rules of [`compact_page`] hold; `obj` is a marked or black object start of `size`
///    bytes whose words inside the page are among the `filled` words of `out`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rewrite_slots<M: ObjectModel, const CHECKS: bool>(
    src: &CompactSource<'_>,
    obj: Address,
    new_obj: Address,
    size: usize,
    page_lo: Address,
    out: *mut u64,
    filled: usize,
) {
    macro_rules! check {
        ($($t:tt)*) => {
            if CHECKS {
                debug_assert!($($t)*);
            }
        };
    }
    let fwd = src.fwd;
    let forward = |a: Address| {
        if CHECKS {
            fwd.new_address(a)
        } else {
            fwd.new_address_of_word(a)
        }
    };
    let from_obj = src.from(obj);
    let page_hi = page_lo.add(PAGE);
    let copied = filled;
    let lo = page_lo.as_usize().saturating_sub(new_obj.as_usize()) / WORD;
    let hi = (size / WORD).min((page_hi.as_usize() - new_obj.as_usize()) / WORD);
    let mut visit = |i: usize, kind: SlotKind| {
        // Slots outside the range asked for (a careless object model) are skipped, so
        // that no write can leave the page.
        if i < lo || i >= hi {
            check!(false, "slot {i} of {obj} outside {lo}..{hi}");
            return;
        }
        let at = (new_obj.as_usize() + i * WORD - page_lo.as_usize()) / WORD;
        check!(at < copied);
        // SAFETY: `lo <= i < hi` (checked above) puts the slot inside this page, at word
        // `at < copied` of `dest` (rule 4), which now holds the copied object word.
        let slot = unsafe { out.add(at) };
        // SAFETY: as above.
        let word = unsafe { slot.read() };
        let Some(t) = M::decode(word) else { return };
        if !fwd.moves(t) {
            return;
        }
        if kind == SlotKind::Weak && !fwd.is_marked(t) {
            // Only in floating garbage (a dead object the cycle kept): the binding's
            // sweep_weak cleared such slots in every object it can reach. Leave it rather than
            // point it at whichever live object follows; nobody reads a dead object.
            return;
        }
        // SAFETY: as above.
        unsafe { slot.write(M::encode(word, forward(t))) };
    };
    if lo == 0 && hi == size / WORD {
        // Wholly inside the page (the common case): no range filtering needed.
        // SAFETY: rules 1-3 as above; the visitor writes only `dest`.
        unsafe { M::for_each_slot(from_obj, &mut visit) };
    } else if lo < hi {
        // SAFETY: as above.
        unsafe { M::for_each_slot_in(from_obj, lo..hi, &mut visit) };
    }
}

/// Builds black to-space page `to_page` into `dest`: the black block slides by whole pages, so
/// the page is a copy of one from-space page (up to the old top) whose objects then have their
/// slots rewritten. Black objects carry start bits (set by the allocator) and no live bits.
///
/// # Safety
/// 1. The rules of [`compact_page`], and `src.is_black_page(to_page)`.
unsafe fn compact_black_page<M: ObjectModel, const CHECKS: bool>(
    src: &CompactSource<'_>,
    to_page: usize,
    dest: *mut u8,
) -> usize {
    let source = src.black_source(to_page);
    let old_top = src.fwd.old_top;
    if source >= old_top {
        // Beyond the planned pages: a broken plan. Build an empty page rather than read on.
        if CHECKS {
            debug_assert!(false, "black page {to_page} starts above the old top");
        }
        // SAFETY: rule 1 (rule 4 of compact_page): `dest` is one writable page.
        unsafe { std::ptr::write_bytes(dest, 0, PAGE) };
        return 0;
    }
    let bytes = old_top.offset_from(source).min(PAGE);
    // SAFETY: rule 1: from-space holds `[source, source + bytes)` (below the old top); `dest`
    // is a writable page apart from from-space.
    unsafe {
        std::ptr::copy_nonoverlapping(src.from(source).as_ptr::<u8>(), dest, bytes);
        std::ptr::write_bytes(dest.add(bytes), 0, PAGE - bytes);
    }
    let page_lo = src.fwd.base.add(to_page * PAGE);
    let out = dest.cast::<u64>();
    let starts = src.starts;
    let src_end = source.add(bytes);
    // The object holding the page's first word may start on an earlier black page.
    let floor = starts.bit_index(src.fwd.black_begin);
    let first = starts.bit_index(source);
    let holder = match src.black_first_object(to_page) {
        Some(o) => Some(starts.bit_index(o)),
        None => starts.find_set_at_or_below(first, floor),
    };
    let mut next = holder.or_else(|| starts.find_set_at_or_above(first, src.end_bit));
    while let Some(b) = next {
        let obj = starts.address_of(b);
        if obj >= src_end {
            break;
        }
        // SAFETY: rule 1: a black object start below the old top, readable in from-space.
        let size = unsafe { M::size_bytes(src.from(obj)) };
        if size < WORD {
            if CHECKS {
                debug_assert!(false, "black object {obj} has size {size}");
            }
            break;
        }
        if obj.add(size) > source {
            let new_obj = Address(obj.as_usize() - src.fwd.black_shift);
            // SAFETY: rule 1; the object's words inside the page were copied above.
            unsafe {
                rewrite_slots::<M, CHECKS>(src, obj, new_obj, size, page_lo, out, bytes / WORD)
            };
        }
        next = starts.find_set_at_or_above(starts.bit_index(obj.add(size)), src.end_bit);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::plan::plan;
    use crate::collector::test_model::{header, reference, TestModel};
    use crate::os::reservation::Reservation;

    /// A hand-built heap: dead and live objects, one live object of 1000 words straddling two
    /// to-space pages with reference slots on both sides of the boundary. Every page built by
    /// `compact_page` must equal the naively slid and rewritten image.
    #[test]
    fn pages_match_a_naive_sliding_image() {
        let heap = Reservation::new(1 << 20, PAGE).unwrap();
        let from = Reservation::new(1 << 20, PAGE).unwrap();
        let (base, fbase) = (heap.base(), from.base());
        let meta = Metadata::new(base, 1 << 20).unwrap();
        let at = |w: usize| base.add(w * WORD);
        // (old word offset, words, live)
        let objs = [
            (0usize, 100usize, false),
            (100, 10, true),
            (110, 30, false),
            (140, 1000, true),
            (1140, 5, true),
            (1145, 55, false),
        ];
        let (b, d, e) = (at(100), at(140), at(1140));
        let old_top = at(1200);
        let fw = |w: usize, v: u64| {
            // SAFETY: word w of the from-space reservation (< 1 MiB).
            unsafe { fbase.add(w * WORD).as_mut_ptr::<u64>().write(v) }
        };
        for &(w, n, live) in &objs {
            fw(w, header(n, 0));
            for k in 1..n {
                fw(w + k, 0xdead_0000 + (w + k) as u64 * 8); // plain values (low bits 000)
            }
            if live {
                meta.starts.view().set(at(w));
                meta.live.view().set_range(at(w), n);
            }
        }
        // B: two refs (to D and to itself); D: 600 slots cycling through B, E, D, a plain
        // value; E: one ref to D.
        fw(100, header(10, 2));
        fw(101, reference(d));
        fw(102, reference(b));
        fw(140, header(1000, 600));
        for k in 1..=600 {
            fw(
                140 + k,
                [reference(b), reference(e), reference(d), 0x40][k % 4],
            );
        }
        fw(1140, header(5, 1));
        fw(1141, reference(d));

        let p = plan(&meta, base, old_top);
        assert_eq!(p.live_bytes, 1015 * WORD);
        assert_eq!(p.to_pages, 2);
        // The naive image: B at 0, D at 10, E at 1010.
        let new = |old: Address| match old {
            a if a == b => at(0),
            a if a == d => at(10),
            a if a == e => at(1010),
            _ => unreachable!(),
        };
        let mut image = vec![0u64; 1024];
        for (&(w, n, _), dst) in objs.iter().filter(|o| o.2).zip([0usize, 10, 1010]) {
            for k in 0..n {
                // SAFETY: word of the from-space reservation written above.
                image[dst + k] = unsafe { fbase.add((w + k) * WORD).as_ptr::<u64>().read() };
            }
        }
        for (dst, nrefs) in [(0usize, 2usize), (10, 600), (1010, 1)] {
            for k in 1..=nrefs {
                if let Some(t) = TestModel::decode(image[dst + k]) {
                    image[dst + k] = reference(new(t));
                }
            }
        }
        let src = CompactSource::new(&meta, &p, base, fbase);
        let mut total = 0;
        for page in 0..2 {
            let mut dest = vec![0xffff_ffff_ffff_ffffu64; PAGE / WORD];
            // SAFETY: the plan is complete; from-space holds the old heap; objects are
            // well-formed; `dest` is an aligned, writable page apart from everything else.
            total +=
                unsafe { compact_page::<TestModel, true>(&src, page, dest.as_mut_ptr().cast()) };
            for (i, (&got, &want)) in dest.iter().zip(&image[page * 512..]).enumerate() {
                assert_eq!(got, want, "page {page} word {i}");
            }
        }
        assert_eq!(total, 1015 * WORD);
    }
}
