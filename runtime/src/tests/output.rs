//! How output leaves the VM: `print` lines go to the shared sink in whole lines only, even when
//! the buffer passes its size limit in the middle of a run, and an error report follows the
//! output printed before it as one piece.

use crate::api::{InterpretError, Vm, VmOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// One `write` call: the sink's name and the bytes.
type Call = (&'static str, Vec<u8>);

/// Every `write` call of both sinks, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Call>>>);

struct Tagged(&'static str, Log);

impl Write for Tagged {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (self.1).0.lock().unwrap().push((self.0, buf.to_vec()));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged_vm() -> (Vm, Log) {
    let mut vm = Vm::new(VmOptions::default()).expect("vm");
    let log = Log::default();
    vm.set_output(Box::new(Tagged("out", log.clone())));
    vm.set_error_output(Box::new(Tagged("err", log.clone())));
    (vm, log)
}

#[test]
fn print_output_goes_out_in_whole_lines() {
    let (mut vm, log) = logged_vm();
    // Lines of 1 to 40 characters, 300 KB in all: the buffer passes its limit several times,
    // at places unrelated to the line lengths.
    let src = "var s = \"\"; var n = 0; for (var i = 0; i < 20000; i = i + 1) { \
               if (n == 40) { s = \"\"; n = 0; } s = s + \"x\"; n = n + 1; print s; }";
    assert_eq!(vm.interpret(src.as_bytes()), Ok(()));
    vm.flush_output();
    let calls = log.0.lock().unwrap();
    let mut all = Vec::new();
    for (sink, bytes) in calls.iter() {
        assert_eq!(*sink, "out");
        assert_eq!(bytes.last(), Some(&b'\n'), "a write ends inside a line");
        all.extend_from_slice(bytes);
    }
    assert!(calls.len() >= 4, "only {} writes", calls.len());
    let mut want = Vec::new();
    for i in 0..20000 {
        want.extend(std::iter::repeat_n(b'x', i % 40 + 1));
        want.push(b'\n');
    }
    assert!(all == want, "the output differs from the lines printed");
}

#[test]
fn an_error_report_is_one_write_after_the_output_before_it() {
    let (mut vm, log) = logged_vm();
    let src = "fun f(n) { if (n == 0) return nil + 1; print n; return f(n - 1); }\nf(3);";
    assert_eq!(vm.interpret(src.as_bytes()), Err(InterpretError::Runtime));
    let calls = log.0.lock().unwrap();
    let calls: Vec<(&str, String)> = calls
        .iter()
        .map(|(s, b)| (*s, String::from_utf8_lossy(b).into_owned()))
        .collect();
    assert_eq!(
        calls,
        vec![
            ("out", "3\n2\n1\n".to_string()),
            (
                "err",
                "Operands must be two numbers or two strings.\n[line 1] in f()\n\
                 [line 1] in f()\n[line 1] in f()\n[line 1] in f()\n[line 2] in script\n"
                    .to_string()
            ),
        ]
    );
}
