//! An output sink the host can read back: give a clone to `Vm::set_output` or
//! `Vm::set_error_output`, keep the other, and read what Lox printed (tests, embedders that show
//! output in their own UI). `Send`, as the sinks are shared by every thread of a program.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes written through any clone, in order.
#[derive(Clone, Default, Debug)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The bytes (a writer that panicked leaves them readable).
    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Everything written so far, as text (invalid UTF-8 replaced); the buffer keeps it.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Everything written so far; the buffer is left empty.
    pub fn take_bytes(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes())
    }

    /// As [`Captured::take_bytes`], as text.
    pub fn take(&self) -> String {
        String::from_utf8_lossy(&self.take_bytes()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
