//! The program text as it is written: indented lines, appended in order.

/// Lines of Lox source with the current indentation.
#[derive(Default)]
pub struct Code {
    lines: Vec<String>,
    indent: usize,
}

impl Code {
    /// Appends one line at the current indentation.
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.lines
            .push(format!("{}{}", "  ".repeat(self.indent), text.as_ref()));
    }

    /// Appends `header {` (a bare block when `header` is empty) and indents what follows.
    pub fn open(&mut self, header: impl AsRef<str>) {
        match header.as_ref() {
            "" => self.line("{"),
            h => self.line(format!("{h} {{")),
        }
        self.indent += 1;
    }

    /// Closes the innermost `{`.
    pub fn close(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.line("}");
    }

    /// Closes the innermost `{` and continues the line (`} else {`).
    pub fn close_with(&mut self, rest: &str) {
        self.indent = self.indent.saturating_sub(1);
        self.line(format!("}} {rest} {{"));
        self.indent += 1;
    }

    /// The whole text.
    pub fn finish(self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}
