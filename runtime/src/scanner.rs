//! The scanner: turns Lox source bytes into tokens on demand, one `next_token` call at a time.
//!
//! It works on raw bytes, like the reference clox scanner: identifiers are ASCII letters, digits
//! and `_`; any other byte outside a string literal or comment is an "Unexpected character."
//! error token. A NUL byte ends the input, as it does in clox (which reads source as a C string).
//! Line numbers saturate at `u32::MAX` instead of wrapping.

/// The kind of a token.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Dot,
    Minus,
    Plus,
    Semicolon,
    Slash,
    Star,
    Bang,
    BangEqual,
    Equal,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    Identifier,
    String,
    Number,
    And,
    Class,
    Else,
    False,
    For,
    Fun,
    If,
    Nil,
    Or,
    Print,
    Return,
    Super,
    This,
    True,
    Var,
    While,
    /// A scanning error; the token's `lexeme` is the error message.
    Error,
    Eof,
}

/// One token. `lexeme` borrows from the source (quotes included for strings), except for
/// `Error` tokens, whose lexeme is the static error message.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Token<'src> {
    pub kind: TokenKind,
    pub lexeme: &'src [u8],
    pub line: u32,
}

/// An on-demand scanner over a byte slice.
pub struct Scanner<'src> {
    src: &'src [u8],
    /// Start of the token being scanned.
    start: usize,
    /// Next byte to look at.
    pos: usize,
    line: u32,
}

#[inline]
fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

impl<'src> Scanner<'src> {
    pub fn new(src: &'src [u8]) -> Self {
        // Everything from the first NUL on is invisible, exactly as in clox.
        let end = memchr_nul(src);
        Scanner {
            src: &src[..end],
            start: 0,
            pos: 0,
            line: 1,
        }
    }

    /// Skips the rest of the input: every later call returns `Eof`. Used when compilation is
    /// abandoned (nesting too deep) so that the parser unwinds without reading further.
    pub fn skip_to_end(&mut self) {
        self.pos = self.src.len();
        self.start = self.pos;
    }

    #[inline]
    fn peek(&self) -> u8 {
        // Past the end reads as NUL, like the terminator of a C string.
        self.src.get(self.pos).copied().unwrap_or(0)
    }

    #[inline]
    fn peek_next(&self) -> u8 {
        self.src.get(self.pos + 1).copied().unwrap_or(0)
    }

    #[inline]
    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    #[inline]
    fn newline(&mut self) {
        self.line = self.line.saturating_add(1);
    }

    #[inline]
    fn make(&self, kind: TokenKind) -> Token<'src> {
        Token {
            kind,
            lexeme: &self.src[self.start..self.pos],
            line: self.line,
        }
    }

    #[inline]
    fn error(&self, message: &'static str) -> Token<'src> {
        Token {
            kind: TokenKind::Error,
            lexeme: message.as_bytes(),
            line: self.line,
        }
    }

    /// Consumes the next byte if it is `expected`.
    #[inline]
    fn eat(&mut self, expected: u8) -> bool {
        if self.peek() == expected && !self.at_end() {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_whitespace(&mut self) {
        loop {
            match self.peek() {
                b' ' | b'\r' | b'\t' => self.pos += 1,
                b'\n' => {
                    self.newline();
                    self.pos += 1;
                }
                b'/' if self.peek_next() == b'/' => {
                    // A comment runs to the end of the line; the newline itself is left for
                    // the next loop turn so that it is counted.
                    let rest = &self.src[self.pos..];
                    self.pos += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                }
                _ => return,
            }
        }
    }

    /// Scans and returns the next token; after the end of input, always `Eof`.
    pub fn next_token(&mut self) -> Token<'src> {
        self.skip_whitespace();
        self.start = self.pos;
        if self.at_end() {
            return self.make(TokenKind::Eof);
        }
        let c = self.src[self.pos];
        self.pos += 1;
        if is_alpha(c) {
            return self.identifier();
        }
        if c.is_ascii_digit() {
            return self.number();
        }
        use TokenKind as K;
        let kind = match c {
            b'(' => K::LeftParen,
            b')' => K::RightParen,
            b'{' => K::LeftBrace,
            b'}' => K::RightBrace,
            b';' => K::Semicolon,
            b',' => K::Comma,
            b'.' => K::Dot,
            b'-' => K::Minus,
            b'+' => K::Plus,
            b'/' => K::Slash,
            b'*' => K::Star,
            b'!' => self.pick(K::BangEqual, K::Bang),
            b'=' => self.pick(K::EqualEqual, K::Equal),
            b'<' => self.pick(K::LessEqual, K::Less),
            b'>' => self.pick(K::GreaterEqual, K::Greater),
            b'"' => return self.string(),
            _ => return self.error("Unexpected character."),
        };
        self.make(kind)
    }

    /// `with_eq` if the next byte is `=` (consuming it), else `without`.
    #[inline]
    fn pick(&mut self, with_eq: TokenKind, without: TokenKind) -> TokenKind {
        if self.eat(b'=') {
            with_eq
        } else {
            without
        }
    }

    fn identifier(&mut self) -> Token<'src> {
        while is_alpha(self.peek()) || self.peek().is_ascii_digit() {
            self.pos += 1;
        }
        let kind = keyword(&self.src[self.start..self.pos]);
        self.make(kind)
    }

    fn number(&mut self) -> Token<'src> {
        while self.peek().is_ascii_digit() {
            self.pos += 1;
        }
        if self.peek() == b'.' && self.peek_next().is_ascii_digit() {
            self.pos += 1;
            while self.peek().is_ascii_digit() {
                self.pos += 1;
            }
        }
        self.make(TokenKind::Number)
    }

    fn string(&mut self) -> Token<'src> {
        while !self.at_end() && self.peek() != b'"' {
            if self.peek() == b'\n' {
                self.newline();
            }
            self.pos += 1;
        }
        if self.at_end() {
            return self.error("Unterminated string.");
        }
        self.pos += 1; // The closing quote.
        self.make(TokenKind::String)
    }
}

/// Index of the first NUL byte, or the length.
fn memchr_nul(src: &[u8]) -> usize {
    src.iter().position(|&c| c == 0).unwrap_or(src.len())
}

/// The keyword `word` spells, or `Identifier`. Dispatches on the first byte so that an
/// identifier is compared against at most three keywords.
fn keyword(word: &[u8]) -> TokenKind {
    use TokenKind as K;
    let Some((&first, rest)) = word.split_first() else {
        return K::Identifier;
    };
    let candidates: &[(&[u8], TokenKind)] = match first {
        b'a' => &[(b"nd", K::And)],
        b'c' => &[(b"lass", K::Class)],
        b'e' => &[(b"lse", K::Else)],
        b'f' => &[(b"alse", K::False), (b"or", K::For), (b"un", K::Fun)],
        b'i' => &[(b"f", K::If)],
        b'n' => &[(b"il", K::Nil)],
        b'o' => &[(b"r", K::Or)],
        b'p' => &[(b"rint", K::Print)],
        b'r' => &[(b"eturn", K::Return)],
        b's' => &[(b"uper", K::Super)],
        b't' => &[(b"his", K::This), (b"rue", K::True)],
        b'v' => &[(b"ar", K::Var)],
        b'w' => &[(b"hile", K::While)],
        _ => return K::Identifier,
    };
    for &(tail, kind) in candidates {
        if rest == tail {
            return kind;
        }
    }
    K::Identifier
}

#[cfg(test)]
mod tests {
    use super::TokenKind as K;
    use super::*;

    fn scan(src: &[u8]) -> Vec<(K, Vec<u8>, u32)> {
        let mut s = Scanner::new(src);
        let mut out = Vec::new();
        loop {
            let t = s.next_token();
            out.push((t.kind, t.lexeme.to_vec(), t.line));
            if t.kind == K::Eof {
                return out;
            }
        }
    }

    fn kinds(src: &[u8]) -> Vec<K> {
        scan(src).into_iter().map(|t| t.0).collect()
    }

    #[test]
    fn punctuation_and_operators() {
        assert_eq!(
            kinds(b"(){};,.-+/*! != = == < <= > >="),
            vec![
                K::LeftParen,
                K::RightParen,
                K::LeftBrace,
                K::RightBrace,
                K::Semicolon,
                K::Comma,
                K::Dot,
                K::Minus,
                K::Plus,
                K::Slash,
                K::Star,
                K::Bang,
                K::BangEqual,
                K::Equal,
                K::EqualEqual,
                K::Less,
                K::LessEqual,
                K::Greater,
                K::GreaterEqual,
                K::Eof
            ]
        );
    }

    #[test]
    fn keywords_and_identifiers() {
        assert_eq!(
            kinds(b"and class else false for fun if nil or print return super this true var while"),
            vec![
                K::And,
                K::Class,
                K::Else,
                K::False,
                K::For,
                K::Fun,
                K::If,
                K::Nil,
                K::Or,
                K::Print,
                K::Return,
                K::Super,
                K::This,
                K::True,
                K::Var,
                K::While,
                K::Eof
            ]
        );
        let toks = scan(b"andy _x f fo funny this2 While a_1");
        assert!(toks[..8].iter().all(|t| t.0 == K::Identifier));
        assert_eq!(toks[0].1, b"andy");
        assert_eq!(toks[7].1, b"a_1");
    }

    #[test]
    fn numbers() {
        let toks = scan(b"123 1.5 1. .5 7.x");
        let lex: Vec<(K, &[u8])> = toks.iter().map(|t| (t.0, &t.1[..])).collect();
        assert_eq!(
            lex,
            vec![
                (K::Number, &b"123"[..]),
                (K::Number, b"1.5"),
                (K::Number, b"1"),
                (K::Dot, b"."),
                (K::Dot, b"."),
                (K::Number, b"5"),
                (K::Number, b"7"),
                (K::Dot, b"."),
                (K::Identifier, b"x"),
                (K::Eof, b""),
            ]
        );
    }

    #[test]
    fn strings_span_lines() {
        let toks = scan(b"\"a\nb\" x");
        assert_eq!(toks[0], (K::String, b"\"a\nb\"".to_vec(), 2));
        assert_eq!(toks[1], (K::Identifier, b"x".to_vec(), 2));
        let toks = scan(b"\"abc\n\n");
        assert_eq!(toks[0], (K::Error, b"Unterminated string.".to_vec(), 3));
        assert_eq!(toks[1].0, K::Eof);
    }

    #[test]
    fn comments_and_lines() {
        let toks = scan(b"a // comment ( \" \n b\r\n\tc // end");
        assert_eq!(
            toks,
            vec![
                (K::Identifier, b"a".to_vec(), 1),
                (K::Identifier, b"b".to_vec(), 2),
                (K::Identifier, b"c".to_vec(), 3),
                (K::Eof, b"".to_vec(), 3),
            ]
        );
        assert_eq!(
            kinds(b"a / b"),
            vec![K::Identifier, K::Slash, K::Identifier, K::Eof]
        );
    }

    #[test]
    fn unexpected_and_non_utf8_bytes() {
        let toks = scan(b"a \xc3\xa9 | \"\xff\xfe\"");
        assert_eq!(toks[0].0, K::Identifier);
        assert_eq!(toks[1], (K::Error, b"Unexpected character.".to_vec(), 1));
        assert_eq!(toks[2].0, K::Error);
        assert_eq!(toks[3].0, K::Error);
        assert_eq!(toks[4], (K::String, b"\"\xff\xfe\"".to_vec(), 1));
        assert_eq!(toks[5].0, K::Eof);
    }

    #[test]
    fn nul_ends_input() {
        assert_eq!(kinds(b"a\0b c"), vec![K::Identifier, K::Eof]);
        assert_eq!(scan(b"\"ab\0c\"")[0].0, K::Error);
        assert_eq!(kinds(b""), vec![K::Eof]);
        // Eof repeats.
        let mut s = Scanner::new(b"x");
        s.next_token();
        assert_eq!(s.next_token().kind, K::Eof);
        assert_eq!(s.next_token().kind, K::Eof);
    }

    #[test]
    fn line_numbers_saturate() {
        let mut s = Scanner::new(b"a\n\n\"\n\n\"\nb");
        s.line = u32::MAX - 1;
        assert_eq!(s.next_token().line, u32::MAX - 1);
        assert_eq!(s.next_token().line, u32::MAX);
        assert_eq!(s.next_token().line, u32::MAX);
    }

    #[test]
    fn skip_to_end_yields_eof() {
        let mut s = Scanner::new(b"a b c");
        s.next_token();
        s.skip_to_end();
        assert_eq!(s.next_token().kind, K::Eof);
    }
}
