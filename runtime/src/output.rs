//! Where a program's output goes: the two sinks (`print` output and error messages) every
//! thread shares, behind one lock, so that what one thread writes is never interleaved with
//! what another writes. Each thread formats its `print` lines into its own off-heap buffer
//! (vm.rs) and hands over complete lines only; an error message and its trace go out as one
//! piece. Bytes written here are always off-heap copies: no heap address reaches `write(2)`
//! (collector design note §4.1).
//!
//! Writers may block (a full pipe) and may wait for the lock: callers hold the collector's
//! native state meanwhile, so neither delays a pause.

use crate::vm::VmCore;
use std::io::Write;
use std::sync::{Mutex, MutexGuard};

/// A sink any thread may write to.
pub type Sink = Box<dyn Write + Send>;

struct Sinks {
    out: Sink,
    err: Sink,
}

/// The program's output and error sinks, behind the output lock.
pub struct Output {
    sinks: Mutex<Sinks>,
}

impl Output {
    /// Output to stdout, errors to stderr.
    pub fn new() -> Output {
        Output {
            sinks: Mutex::new(Sinks {
                out: Box::new(std::io::stdout()),
                err: Box::new(std::io::stderr()),
            }),
        }
    }

    /// The sinks. A thread that panicked while writing leaves them usable: output is not a
    /// structure a half-finished write can break.
    fn lock(&self) -> MutexGuard<'_, Sinks> {
        self.sinks.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_out(&self, sink: Sink) {
        self.lock().out = sink;
    }

    pub fn set_err(&self, sink: Sink) {
        self.lock().err = sink;
    }

    /// Writes `lines` to the output sink in one call under the lock, then flushes the sink.
    /// Output errors (a closed pipe) are not Lox errors: like clox, the program carries on.
    pub fn write_out(&self, lines: &[u8]) {
        let mut s = self.lock();
        if !lines.is_empty() {
            let _ = s.out.write_all(lines);
        }
        let _ = s.out.flush();
    }

    /// Writes `pending` (the thread's unwritten `print` output, so that it comes first) to the
    /// output sink and `message` to the error sink, under one hold of the lock.
    pub fn write_err(&self, pending: &[u8], message: &[u8]) {
        let mut s = self.lock();
        if !pending.is_empty() {
            let _ = s.out.write_all(pending);
        }
        let _ = s.out.flush();
        let _ = s.err.write_all(message);
        let _ = s.err.flush();
    }
}

impl Default for Output {
    fn default() -> Self {
        Output::new()
    }
}

/// Length of the complete lines at the start of `buf`: up to and including its last newline
/// (0 if it has none).
pub fn complete_lines(buf: &[u8]) -> usize {
    buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

impl VmCore {
    /// Writes all buffered `print` output. Runs in the native state (the write may block on a
    /// full pipe, and the output lock may be held by another thread): another thread's pause
    /// may run meanwhile, so this is a safepoint as far as the caller goes. Its roots must be
    /// complete, and every heap value it held in a local must be re-read afterwards.
    pub(crate) fn flush_out(&mut self) {
        self.write_native(|output, out| output.write_out(out));
        self.out.clear();
    }

    /// Runs `write` on the shared output and this thread's `print` buffer in the native state.
    fn write_native(&mut self, write: impl FnOnce(&Output, &[u8])) {
        let VmCore {
            heap,
            roots,
            out,
            shared,
            ..
        } = self;
        heap.in_native(roots, || write(&shared.output, out));
    }

    /// Writes the complete lines of the `print` buffer and keeps a trailing partial line (the
    /// buffer passed its size limit: lines of two threads must not interleave, so only whole
    /// lines go out). As [`VmCore::flush_out`] otherwise.
    pub(crate) fn flush_lines(&mut self) {
        let n = complete_lines(&self.out);
        self.write_native(|output, out| output.write_out(&out[..n]));
        self.out.drain(..n);
    }

    /// Writes an error report (a compile error, or a runtime error's message and trace) to the
    /// error sink as one piece, after the `print` output buffered before it. As
    /// [`VmCore::flush_out`] otherwise.
    pub(crate) fn write_error(&mut self, message: &[u8]) {
        self.write_native(|output, out| output.write_err(out, message));
        self.out.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn complete_lines_end_at_the_last_newline() {
        assert_eq!(complete_lines(b""), 0);
        assert_eq!(complete_lines(b"partial"), 0);
        assert_eq!(complete_lines(b"a\n"), 2);
        assert_eq!(complete_lines(b"a\nb\npart"), 4);
        assert_eq!(complete_lines(b"\n\n"), 2);
    }

    /// Records every `write` call separately.
    #[derive(Clone, Default)]
    struct Calls(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Two threads writing batches of lines at once: every write the sink sees is one whole
    /// batch from one thread, and no line mixes bytes of both.
    #[test]
    fn writers_on_two_threads_never_interleave() {
        let output = Arc::new(Output::new());
        let out = Calls::default();
        let err = Calls::default();
        output.set_out(Box::new(out.clone()));
        output.set_err(Box::new(err.clone()));
        let writers: Vec<_> = [b'a', b'b']
            .into_iter()
            .map(|c| {
                let output = Arc::clone(&output);
                std::thread::spawn(move || {
                    let mut batch = Vec::new();
                    for _ in 0..20 {
                        batch.extend(std::iter::repeat_n(c, 50));
                        batch.push(b'\n');
                    }
                    for i in 0..500 {
                        if i % 50 == 0 {
                            output.write_err(&batch, &[c, c, b'!', b'\n']);
                        } else {
                            output.write_out(&batch);
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let calls = out.0.lock().unwrap();
        assert_eq!(calls.len(), 1000);
        for call in calls.iter() {
            assert_eq!(call.len(), 20 * 51);
            assert!(call.iter().all(|&b| b == call[0] || b == b'\n'));
        }
        let errs = err.0.lock().unwrap();
        assert_eq!(errs.len(), 20);
        assert!(errs.iter().all(|e| e == b"aa!\n" || e == b"bb!\n"));
    }
}
