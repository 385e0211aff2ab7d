//! Raw heap addresses. All address arithmetic lives here; the rest of the collector speaks in
//! `Address` so that a bare `usize` never silently means "a pointer".

use std::fmt;

/// Size of a heap word. Objects are word-aligned and measured in words.
pub const WORD: usize = 8;
/// Size of a page, the unit of compaction and installation.
pub const PAGE: usize = 4096;

/// A byte address, possibly inside a heap. Plain data: holding one grants no access.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Address(pub usize);

// `add`/`sub` take a byte count, not an Address: implementing `ops::Add` would suggest adding
// two addresses, so these stay inherent methods.
#[allow(clippy::should_implement_trait)]
impl Address {
    pub const ZERO: Address = Address(0);

    #[inline(always)]
    pub fn from_ptr<T>(p: *const T) -> Address {
        Address(p as usize)
    }
    #[inline(always)]
    pub fn as_usize(self) -> usize {
        self.0
    }
    #[inline(always)]
    pub fn as_ptr<T>(self) -> *const T {
        self.0 as *const T
    }
    #[inline(always)]
    pub fn as_mut_ptr<T>(self) -> *mut T {
        self.0 as *mut T
    }
    #[inline(always)]
    pub fn add(self, bytes: usize) -> Address {
        Address(self.0 + bytes)
    }
    #[inline(always)]
    pub fn sub(self, bytes: usize) -> Address {
        Address(self.0 - bytes)
    }
    /// Bytes from `base` up to `self`; `base <= self`.
    #[inline(always)]
    pub fn offset_from(self, base: Address) -> usize {
        debug_assert!(base.0 <= self.0);
        self.0 - base.0
    }
    #[inline(always)]
    pub fn is_aligned(self, align: usize) -> bool {
        self.0 & (align - 1) == 0
    }
    #[inline(always)]
    pub fn align_down(self, align: usize) -> Address {
        Address(self.0 & !(align - 1))
    }
    #[inline(always)]
    pub fn align_up(self, align: usize) -> Address {
        Address((self.0 + align - 1) & !(align - 1))
    }
}

/// Round `n` up to a multiple of `align` (a power of two).
#[inline(always)]
pub const fn align_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
