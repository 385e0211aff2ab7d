//! An output sink the host can read back: give a clone to `Vm::set_output` or
//! `Vm::set_error_output`, keep the other, and read what Lox printed (tests, embedders that show
//! output in their own UI). Single-threaded, like the `Vm` it serves.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// Bytes written through any clone, in order.
#[derive(Clone, Default, Debug)]
pub struct Captured(Rc<RefCell<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text (invalid UTF-8 replaced); the buffer keeps it.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }

    /// Everything written so far; the buffer is left empty.
    pub fn take_bytes(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    /// As [`Captured::take_bytes`], as text.
    pub fn take(&self) -> String {
        String::from_utf8_lossy(&self.take_bytes()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
