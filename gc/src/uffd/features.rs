//! `Features`: a set of `UFFD_FEATURE_*` bits, as requested from and answered by the
//! `UFFDIO_API` handshake. Plain data; printing lists the names.

use super::sys;
use std::fmt;
use std::ops::{BitAnd, BitOr, Not};

/// A set of userfaultfd features.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Default)]
pub struct Features(pub u64);

const NAMES: [(u64, &str); 17] = [
    (sys::UFFD_FEATURE_PAGEFAULT_FLAG_WP, "PAGEFAULT_FLAG_WP"),
    (sys::UFFD_FEATURE_EVENT_FORK, "EVENT_FORK"),
    (sys::UFFD_FEATURE_EVENT_REMAP, "EVENT_REMAP"),
    (sys::UFFD_FEATURE_EVENT_REMOVE, "EVENT_REMOVE"),
    (sys::UFFD_FEATURE_MISSING_HUGETLBFS, "MISSING_HUGETLBFS"),
    (sys::UFFD_FEATURE_MISSING_SHMEM, "MISSING_SHMEM"),
    (sys::UFFD_FEATURE_EVENT_UNMAP, "EVENT_UNMAP"),
    (sys::UFFD_FEATURE_SIGBUS, "SIGBUS"),
    (sys::UFFD_FEATURE_THREAD_ID, "THREAD_ID"),
    (sys::UFFD_FEATURE_MINOR_HUGETLBFS, "MINOR_HUGETLBFS"),
    (sys::UFFD_FEATURE_MINOR_SHMEM, "MINOR_SHMEM"),
    (sys::UFFD_FEATURE_EXACT_ADDRESS, "EXACT_ADDRESS"),
    (sys::UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "WP_HUGETLBFS_SHMEM"),
    (sys::UFFD_FEATURE_WP_UNPOPULATED, "WP_UNPOPULATED"),
    (sys::UFFD_FEATURE_POISON, "POISON"),
    (sys::UFFD_FEATURE_WP_ASYNC, "WP_ASYNC"),
    (sys::UFFD_FEATURE_MOVE, "MOVE"),
];

impl Features {
    pub const NONE: Features = Features(0);
    /// `UFFDIO_MOVE` (Linux 6.8): remap pages into a registered range without copying.
    pub const MOVE: Features = Features(sys::UFFD_FEATURE_MOVE);
    /// Missing faults raise SIGBUS in the faulting thread instead of queueing a message
    /// (Linux 4.14).
    pub const SIGBUS: Features = Features(sys::UFFD_FEATURE_SIGBUS);
    /// Fault messages carry the faulting thread's id.
    pub const THREAD_ID: Features = Features(sys::UFFD_FEATURE_THREAD_ID);
    /// Fault messages carry the exact faulting address, not the page.
    pub const EXACT_ADDRESS: Features = Features(sys::UFFD_FEATURE_EXACT_ADDRESS);

    pub const fn bits(self) -> u64 {
        self.0
    }
    pub const fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub const fn union(self, other: Features) -> Features {
        Features(self.0 | other.0)
    }
    pub const fn intersection(self, other: Features) -> Features {
        Features(self.0 & other.0)
    }
    /// The features of `self` that `other` lacks.
    pub const fn difference(self, other: Features) -> Features {
        Features(self.0 & !other.0)
    }
}

impl BitOr for Features {
    type Output = Features;
    fn bitor(self, rhs: Features) -> Features {
        self.union(rhs)
    }
}
impl BitAnd for Features {
    type Output = Features;
    fn bitand(self, rhs: Features) -> Features {
        self.intersection(rhs)
    }
}
impl Not for Features {
    type Output = Features;
    fn not(self) -> Features {
        Features(!self.0)
    }
}

impl fmt::Debug for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        let mut first = true;
        write!(f, "{{")?;
        for (bit, name) in NAMES {
            if rest & bit != 0 {
                write!(f, "{}{name}", if first { "" } else { " | " })?;
                first = false;
                rest &= !bit;
            }
        }
        if rest != 0 {
            write!(f, "{}{rest:#x}", if first { "" } else { " | " })?;
        }
        write!(f, "}}")
    }
}
impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations_and_names() {
        let both = Features::MOVE | Features::SIGBUS;
        assert!(both.contains(Features::MOVE) && both.contains(Features::SIGBUS));
        assert!(!Features::MOVE.contains(both));
        assert_eq!(both.difference(Features::MOVE), Features::SIGBUS);
        assert_eq!(format!("{both:?}"), "{SIGBUS | MOVE}");
        assert_eq!(format!("{:?}", Features(1 << 40)), "{0x10000000000}");
    }
}
