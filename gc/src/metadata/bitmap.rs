//! A side bitmap with one bit per heap word: the object-start bitmap (a bit at the first word of
//! each marked object) and the live-words bitmap (a bit for every word of every live object).
//! Bit `i` of word `i / 64` stands for the heap word at `base + 8 * i`; so one bitmap word is
//! exactly one 64-word chunk of the chunk vector.

use super::side::SideArray;
use crate::address::{Address, WORD};
use crate::fatal::signal_safe_debug_assert;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Heap words covered by one bitmap word.
pub const BITS: usize = 64;

pub struct Bitmap {
    words: SideArray<AtomicU64>,
    base: Address,
}

impl Bitmap {
    /// A bitmap covering `heap_bytes` bytes (a multiple of 512) from `base`.
    pub fn new(base: Address, heap_bytes: usize) -> io::Result<Self> {
        Ok(Bitmap {
            words: SideArray::new(heap_bytes.div_ceil(WORD * BITS))?,
            base,
        })
    }

    /// The read view used by planning, forwarding and compaction.
    #[inline(always)]
    pub fn view(&self) -> BitmapView<'_> {
        BitmapView {
            words: self.words.as_slice(),
            base: self.base,
        }
    }

    /// Clears the bits covering heap bytes `[base, base + heap_bytes)`.
    /// Clears the bits of the heap prefix of `heap_bytes`.
    ///
    /// # Safety
    /// 1. No other thread uses those bits during the call.
    pub unsafe fn reset(&self, heap_bytes: usize) {
        // SAFETY: rule 1.
        unsafe { self.words.reset_prefix(heap_bytes.div_ceil(WORD * BITS)) };
    }
}

/// Shared access to a bitmap's words. Setting bits is atomic (`fetch_or`), so a view may be used
/// by several threads; the STW collector uses it from one.
#[derive(Copy, Clone)]
pub struct BitmapView<'a> {
    words: &'a [AtomicU64],
    base: Address,
}

impl<'a> BitmapView<'a> {
    /// Bit index of the heap word at `a` (word-aligned, inside the covered range).
    #[inline(always)]
    pub fn bit_index(&self, a: Address) -> usize {
        signal_safe_debug_assert!(a.is_aligned(WORD), "bitmap address not word-aligned");
        a.offset_from(self.base) / WORD
    }

    /// Heap address of bit `i`.
    #[inline(always)]
    pub fn address_of(&self, i: usize) -> Address {
        self.base.add(i * WORD)
    }

    /// Number of bitmap words.
    #[inline(always)]
    pub fn len_words(&self) -> usize {
        self.words.len()
    }

    /// Bitmap word `w` (bits for heap words `[64w, 64w + 64)`). Total: a word past the end
    /// reads as empty (debug builds assert), because compaction, which must not panic in a
    /// signal handler, reads bitmaps through here.
    #[inline(always)]
    pub fn word(&self, w: usize) -> u64 {
        signal_safe_debug_assert!(w < self.words.len(), "bitmap word out of range");
        self.words.get(w).map_or(0, |x| x.load(Relaxed))
    }

    #[inline(always)]
    pub fn test(&self, a: Address) -> bool {
        let i = self.bit_index(a);
        self.word(i / BITS) & (1 << (i % BITS)) != 0
    }

    /// Sets the bit for `a`; true if it was clear before (this caller marked it).
    #[inline(always)]
    pub fn set(&self, a: Address) -> bool {
        let i = self.bit_index(a);
        let m = 1u64 << (i % BITS);
        let w = &self.words[i / BITS];
        // A plain load first: most references reach already-marked objects, and a read is far
        // cheaper than a locked read-modify-write.
        w.load(Relaxed) & m == 0 && w.fetch_or(m, Relaxed) & m == 0
    }

    /// Sets the bits of `n` consecutive words from `a`, a whole bitmap word at a time.
    pub fn set_range(&self, a: Address, n: usize) {
        let mut i = self.bit_index(a);
        let end = i + n;
        while i < end {
            let bit = i % BITS;
            let take = (BITS - bit).min(end - i);
            let m = if take == BITS {
                u64::MAX
            } else {
                ((1u64 << take) - 1) << bit
            };
            self.words[i / BITS].fetch_or(m, Relaxed);
            i += take;
        }
    }

    /// The highest set bit at or below bit `i`, not looking below bit `floor`.
    pub fn find_set_at_or_below(&self, i: usize, floor: usize) -> Option<usize> {
        let mut w = i / BITS;
        // Keep bits 0..=i%64 of the first word.
        let mut bits = self.word(w) & (u64::MAX >> (BITS - 1 - i % BITS));
        loop {
            if bits != 0 {
                let found = w * BITS + (BITS - 1 - bits.leading_zeros() as usize);
                return (found >= floor).then_some(found);
            }
            if w == 0 || w * BITS <= floor {
                return None;
            }
            w -= 1;
            bits = self.word(w);
        }
    }

    /// The lowest set bit at or above bit `i` and below bit `limit`.
    #[inline]
    pub fn find_set_at_or_above(&self, i: usize, limit: usize) -> Option<usize> {
        if i >= limit {
            return None;
        }
        let mut w = i / BITS;
        let mut bits = self.word(w) & (u64::MAX << (i % BITS));
        loop {
            if bits != 0 {
                let found = w * BITS + bits.trailing_zeros() as usize;
                return (found < limit).then_some(found);
            }
            w += 1;
            if w * BITS >= limit {
                return None;
            }
            bits = self.word(w);
        }
    }
}

/// Position of the `n`-th set bit (0-based) of `bits`, which has more than `n` set bits.
#[inline]
pub fn select_bit(mut bits: u64, n: u32) -> u32 {
    signal_safe_debug_assert!(bits.count_ones() > n, "select_bit past the set bits");
    for _ in 0..n {
        bits &= bits - 1;
    }
    bits.trailing_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitmap() -> Bitmap {
        Bitmap::new(Address(1 << 40), 1 << 20).unwrap()
    }

    #[test]
    fn set_test_and_ranges() {
        let b = bitmap();
        let v = b.view();
        let a = |w: usize| Address((1 << 40) + w * WORD);
        assert!(v.set(a(3)));
        assert!(!v.set(a(3)));
        assert!(v.test(a(3)) && !v.test(a(4)));
        v.set_range(a(60), 200);
        for w in 0..400 {
            assert_eq!(v.test(a(w)), w == 3 || (60..260).contains(&w), "word {w}");
        }
        assert_eq!(v.word(1), u64::MAX);
        assert_eq!(v.word(0), (1 << 3) | (0xf << 60));
    }

    #[test]
    fn searches_find_neighbouring_bits() {
        let b = bitmap();
        let v = b.view();
        for i in [5usize, 64, 700, 1000] {
            v.set(v.address_of(i));
        }
        assert_eq!(v.find_set_at_or_below(699, 0), Some(64));
        assert_eq!(v.find_set_at_or_below(700, 0), Some(700));
        assert_eq!(v.find_set_at_or_below(63, 0), Some(5));
        assert_eq!(v.find_set_at_or_below(4, 0), None);
        assert_eq!(v.find_set_at_or_below(699, 65), None);
        assert_eq!(v.find_set_at_or_above(6, 2000), Some(64));
        assert_eq!(v.find_set_at_or_above(65, 2000), Some(700));
        assert_eq!(v.find_set_at_or_above(701, 1000), None);
        assert_eq!(v.find_set_at_or_above(701, 1001), Some(1000));
    }

    #[test]
    fn select_finds_nth_bit() {
        let bits = 0b1011_0100u64 | (1 << 63);
        assert_eq!(select_bit(bits, 0), 2);
        assert_eq!(select_bit(bits, 1), 4);
        assert_eq!(select_bit(bits, 2), 5);
        assert_eq!(select_bit(bits, 3), 7);
        assert_eq!(select_bit(bits, 4), 63);
    }
}
