//! The kernel's convention for the filling ioctls (COPY, ZEROPAGE, MOVE): on partial progress
//! the ioctl fails with EAGAIN and its progress field holds the bytes done; on an error at the
//! first page it fails with that page's errno and the field holds `-errno`.
//!
//! Owns: the one loop that resumes after partial progress, retries EAGAIN without progress a
//! bounded number of times, and hands a page's own error to the caller's classification. Must
//! never allocate, lock or panic: the fault handler runs it.

use super::error::Errno;
use crate::address::PAGE;

/// How a COPY or ZEROPAGE ended. `done` bytes from the start were installed by this call (after
/// resuming `resumed` times from EAGAIN with partial progress).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FillResult {
    pub done: usize,
    pub resumed: u32,
    pub stop: FillStop,
}

/// Why a COPY or ZEROPAGE stopped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FillStop {
    /// The whole range is installed.
    Done,
    /// EEXIST: the destination page at offset `done` is already mapped — another thread
    /// installed it first. Treat that page as done; the rest of the range was not tried.
    DstExists,
    /// EAGAIN with no progress, repeatedly (the address space is changing under the call):
    /// nothing more was installed; try the rest later.
    Again,
}

/// How many times an EAGAIN with no progress is retried (with a `sched_yield` between) before
/// the caller is told.
pub(crate) const IDLE_RETRIES: u32 = 8;

/// The raw result of one filling ioctl: `Ok` if it did the whole range; else the errno and the
/// kernel's progress field (bytes done, or `-errno`).
pub(crate) type RawFill = Result<(), (Errno, i64)>;

/// Drives a filling ioctl (COPY, ZEROPAGE, MOVE) over `len` bytes: resumes after partial
/// progress, retries EAGAIN without progress a few times (then stops with `again`), and lets
/// `classify` turn a page's own error into a stop (`None`: a real error, returned as such).
/// `op(offset, remaining)` issues one ioctl. Returns the bytes done, the resumptions, and the
/// stop (`None`: all done). Allocation-free, so usable in the fault handler.
pub(crate) fn fill_loop<S>(
    len: usize,
    mut op: impl FnMut(usize, usize) -> RawFill,
    mut classify: impl FnMut(Errno) -> Option<S>,
    again: S,
) -> Result<(usize, u32, Option<S>), Errno> {
    let mut done = 0usize;
    let mut resumed = 0u32;
    let mut idle = 0u32;
    while done < len {
        match op(done, len - done) {
            Ok(()) => done = len,
            Err((_, progress)) if progress > 0 => {
                let progress = progress as usize;
                // The kernel reports whole pages, never more than asked; anything else would
                // make the resumed call install the wrong bytes.
                if progress > len - done || !progress.is_multiple_of(PAGE) {
                    return Err(Errno::EIO);
                }
                done += progress;
                resumed += 1;
                idle = 0;
            }
            Err((e, _)) if e == Errno::EAGAIN => {
                idle += 1;
                if idle > IDLE_RETRIES {
                    return Ok((done, resumed, Some(again)));
                }
                std::thread::yield_now();
            }
            Err((e, _)) => match classify(e) {
                Some(stop) => return Ok((done, resumed, Some(stop))),
                None => return Err(e),
            },
        }
    }
    Ok((done, resumed, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop_on_eexist(e: Errno) -> Option<&'static str> {
        (e == Errno::EEXIST).then_some("exists")
    }

    #[test]
    fn resumes_after_progress_and_classifies_the_stop() {
        // 4 pages: 1 page done then EAGAIN, then 2 pages then EAGAIN, then EEXIST at page 3.
        let mut script = vec![
            Err((Errno::EAGAIN, PAGE as i64)),
            Err((Errno::EAGAIN, 2 * PAGE as i64)),
            Err((Errno::EEXIST, -(libc::EEXIST as i64))),
        ]
        .into_iter();
        let mut offsets = Vec::new();
        let r = fill_loop(
            4 * PAGE,
            |off, rest| {
                offsets.push((off, rest));
                script.next().unwrap_or(Ok(()))
            },
            stop_on_eexist,
            "again",
        );
        assert_eq!(r, Ok((3 * PAGE, 2, Some("exists"))));
        assert_eq!(
            offsets,
            [(0, 4 * PAGE), (PAGE, 3 * PAGE), (3 * PAGE, PAGE)],
            "each resumed call starts after the bytes done"
        );
    }

    #[test]
    fn bounded_retries_bogus_progress_and_real_errors() {
        let mut calls = 0;
        let r = fill_loop(
            PAGE,
            |_, _| {
                calls += 1;
                Err((Errno::EAGAIN, -(libc::EAGAIN as i64)))
            },
            stop_on_eexist,
            "again",
        );
        assert_eq!(r, Ok((0, 0, Some("again"))));
        assert_eq!(calls, IDLE_RETRIES + 1);

        let r = fill_loop(
            PAGE,
            |_, _| Err((Errno::EAGAIN, 2 * PAGE as i64)),
            stop_on_eexist,
            "",
        );
        assert_eq!(r, Err(Errno::EIO), "more progress than asked for");
        let r = fill_loop(
            2 * PAGE,
            |_, _| Err((Errno::EAGAIN, 100)),
            stop_on_eexist,
            "",
        );
        assert_eq!(r, Err(Errno::EIO), "progress that is not whole pages");
        let r = fill_loop(PAGE, |_, _| Err((Errno::EINVAL, -22)), stop_on_eexist, "");
        assert_eq!(r, Err(Errno::EINVAL));
        let r = fill_loop(PAGE, |_, _| Ok(()), stop_on_eexist, "");
        assert_eq!(r, Ok((PAGE, 0, None)));
    }
}
