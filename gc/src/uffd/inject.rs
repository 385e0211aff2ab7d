//! The fault-injection seam: make the next MOVE or COPY report a result the kernel will not
//! produce on demand (EAGAIN after partial progress, EBUSY for a shared or pinned source page),
//! so tests can drive the callers' recovery paths against the real kernel.
//!
//! Owns: one atomic word per [`Uffd`](super::Uffd). It is compiled in always and inert unless
//! armed; on the real path its whole cost is one relaxed load that reads zero. Must never be
//! armed outside tests: an injected result is a lie about the kernel's state, told in a way the
//! callers' recovery must undo (the bytes before the injection point really moved or were
//! really copied; the rest did not).

use crate::address::PAGE;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the next matching ioctl on this uffd reports. Offsets are bytes from the start of that
/// ioctl's range, multiples of the page size.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Injection {
    /// The next `UFFDIO_MOVE` really moves its first `after` bytes, then stops with EAGAIN and
    /// `move = after`, as the kernel reports partial progress (`after == 0`: EAGAIN with no
    /// progress, a transient failure). No effect if the range is not longer than `after`.
    MoveAgain { after: usize },
    /// The next `UFFDIO_MOVE` meets a busy source page (shared or pinned) at offset `after`:
    /// the pages before it really move (reported as EAGAIN with partial progress, as the
    /// kernel does), and the call that starts at the busy page fails with EBUSY, moving
    /// nothing. No effect if the range does not reach that page.
    MoveBusy { after: usize },
    /// The next `UFFDIO_COPY` really copies its first `after` bytes, then stops with EAGAIN and
    /// `copy = after` (`after == 0`: EAGAIN with no progress).
    CopyAgain { after: usize },
}

// The armed word: the offset (a page multiple, so its low 12 bits are free) or'ed with a kind.
const KIND_MASK: u64 = 0x7;
const MOVE_AGAIN: u64 = 1;
const MOVE_BUSY: u64 = 2;
const COPY_AGAIN: u64 = 3;

/// Which ioctl is asking.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Op {
    Move,
    Copy,
}

/// The per-uffd injection slot, plus a count of injections that fired (tests assert on it to
/// prove the path they meant to test was taken).
#[derive(Default, Debug)]
pub struct Injector {
    armed: AtomicU64,
    fired: AtomicU64,
}

impl Injector {
    pub const fn new() -> Injector {
        Injector {
            armed: AtomicU64::new(0),
            fired: AtomicU64::new(0),
        }
    }

    /// Arms `injection` for the next matching ioctl on this uffd (replacing any armed one).
    /// Returns false, arming nothing, if the offset is not a multiple of the page size.
    pub fn arm(&self, injection: Injection) -> bool {
        let (kind, after) = match injection {
            Injection::MoveAgain { after } => (MOVE_AGAIN, after),
            Injection::MoveBusy { after } => (MOVE_BUSY, after),
            Injection::CopyAgain { after } => (COPY_AGAIN, after),
        };
        if !after.is_multiple_of(PAGE) {
            return false;
        }
        self.armed.store(after as u64 | kind, Ordering::Release);
        true
    }

    /// Disarms without firing.
    pub fn disarm(&self) {
        self.armed.store(0, Ordering::Release);
    }

    /// Whether an injection is waiting to fire.
    pub fn is_armed(&self) -> bool {
        self.armed.load(Ordering::Acquire) != 0
    }

    /// How many times an injection changed an ioctl's result.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    /// Takes the armed injection if it is for `op`. The real path pays for the relaxed load
    /// only.
    #[inline(always)]
    pub(crate) fn take(&self, op: Op) -> Option<Injection> {
        let word = self.armed.load(Ordering::Relaxed);
        if word == 0 {
            return None;
        }
        self.take_slow(op, word)
    }

    #[cold]
    fn take_slow(&self, op: Op, word: u64) -> Option<Injection> {
        let after = (word & !KIND_MASK) as usize;
        let injection = match (word & KIND_MASK, op) {
            (MOVE_AGAIN, Op::Move) => Injection::MoveAgain { after },
            (MOVE_BUSY, Op::Move) => Injection::MoveBusy { after },
            (COPY_AGAIN, Op::Copy) => Injection::CopyAgain { after },
            _ => return None,
        };
        // One shot: whoever clears the word owns the injection.
        self.armed
            .compare_exchange(word, 0, Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            .map(|_| injection)
    }

    /// Counts one injected result.
    pub(crate) fn note_fired(&self) {
        self.fired.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_once_for_the_matching_op_only() {
        let inj = Injector::new();
        assert!(inj.take(Op::Move).is_none());
        assert!(inj.arm(Injection::MoveBusy { after: 2 * PAGE }));
        assert!(
            inj.take(Op::Copy).is_none(),
            "a COPY must not consume a MOVE injection"
        );
        assert_eq!(
            inj.take(Op::Move),
            Some(Injection::MoveBusy { after: 2 * PAGE })
        );
        assert!(inj.take(Op::Move).is_none(), "one shot");
        assert!(!inj.arm(Injection::CopyAgain { after: 100 }));
        assert!(!inj.is_armed());
        assert!(inj.arm(Injection::CopyAgain { after: 0 }));
        assert_eq!(inj.take(Op::Copy), Some(Injection::CopyAgain { after: 0 }));
    }
}
