//! The collector's one way to stop the process when it cannot go on (the kernel refused a
//! page-table operation, a verifier check failed, an internal invariant broke): a message
//! written to stderr with write(2), then abort(3). No unwinding: a half-done cycle cannot be
//! left behind safely, and the heap's pages may be in from-space.
//!
//! [`die`] is async-signal-safe (no allocation, no lock, no formatting) and is the only path
//! the SIGBUS handler may take; [`die_fmt`] formats first and is for everywhere else.
//! [`signal_safe_debug_assert!`] is `debug_assert!` for code the handler runs: a failed check
//! in a debug build writes its fixed text through [`die`] instead of panicking (a panic
//! formats, allocates and unwinds through the signal frame).

/// Writes `parts` to stderr with write(2) and aborts. Async-signal-safe.
pub(crate) fn die(parts: &[&[u8]]) -> ! {
    for part in parts {
        let mut rest = *part;
        while !rest.is_empty() {
            // SAFETY: write(2) from a live byte slice; async-signal-safe.
            let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                break;
            }
            rest = &rest[(n as usize).min(rest.len())..];
        }
    }
    // SAFETY: abort(3) is async-signal-safe and has no preconditions.
    unsafe { libc::abort() }
}

/// The formatted message and a newline on stderr, then abort. Not for the signal handler: it
/// allocates. Most callers want [`fatal!`].
pub(crate) fn die_fmt(args: std::fmt::Arguments<'_>) -> ! {
    let msg = args.to_string();
    die(&[msg.as_bytes(), b"\n"])
}

/// `fatal!("what failed: {e}")`: `gc: fatal: ` and the message on stderr, then abort. Not for
/// the signal handler (it formats); the handler uses [`die`] with fixed text.
macro_rules! fatal {
    ($($t:tt)*) => {
        $crate::fatal::die_fmt(format_args!("gc: fatal: {}", format_args!($($t)*)))
    };
}
pub(crate) use fatal;

/// `debug_assert!(cond, "fixed text")` that never formats or unwinds (see the module comment).
/// Checked in debug builds only, like `debug_assert!`.
macro_rules! signal_safe_debug_assert {
    ($cond:expr, $msg:literal) => {
        if cfg!(debug_assertions) && !$cond {
            $crate::fatal::die(&[b"gc: fatal: debug check failed: ", $msg.as_bytes(), b"\n"]);
        }
    };
}
pub(crate) use signal_safe_debug_assert;

#[cfg(test)]
mod tests {
    /// The check compiles to nothing when it holds (and in release builds at all).
    #[test]
    fn a_holding_check_does_nothing() {
        signal_safe_debug_assert!(1 + 1 == 2, "arithmetic");
    }
}
