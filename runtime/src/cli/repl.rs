//! The interactive session: one line at a time into the same VM, so globals persist.
//!
//! On a terminal it edits lines with rustyline and keeps history in `~/.lox_history`; otherwise
//! (a pipe, a file, no stdin at all) it reads lines plainly and prints no prompt, so piped output
//! is exactly the program's. Errors are reported by the VM and never end the session; end of
//! input (Ctrl-D) does.

use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;

use lox::Vm;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

const PROMPT: &str = "> ";

/// Runs the session until end of input. Returns the exit status (always success: a failing line
/// is the user's to fix in the next one).
pub fn run(vm: &mut Vm) -> i32 {
    if io::stdin().is_terminal() {
        match DefaultEditor::new() {
            Ok(editor) => return interactive(vm, editor),
            // No usable terminal after all (e.g. TERM=dumb quirks): fall back to plain lines.
            Err(e) => eprintln!("lox: line editing unavailable ({e}); reading plain lines"),
        }
    }
    plain(vm)
}

fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".lox_history"))
}

fn interactive(vm: &mut Vm, mut editor: DefaultEditor) -> i32 {
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is the normal first run, not an error.
        let _ = editor.load_history(path);
    }
    loop {
        // Waiting for a keystroke is outside the VM: no pause waits for it.
        match vm.outside_vm(|| editor.readline(PROMPT)) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let _ = vm.interpret(line.as_bytes());
                vm.flush_output();
            }
            // Ctrl-C abandons the line being typed, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("lox: cannot read input: {e}");
                break;
            }
        }
    }
    if let Some(path) = &history {
        if let Err(e) = editor.save_history(path) {
            eprintln!("lox: cannot save history to '{}': {e}", path.display());
        }
    }
    super::exit::OK
}

fn plain(vm: &mut Vm) -> i32 {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match vm.outside_vm(|| input.read_until(b'\n', &mut line)) {
            Ok(0) => break,
            Ok(_) => {
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                let _ = vm.interpret(&line);
                vm.flush_output();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("lox: cannot read input: {e}");
                break;
            }
        }
    }
    super::exit::OK
}
