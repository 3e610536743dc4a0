//! Turns TICKscript text into tokens.
//!
//! Like Kapacitor's lexer, `/` is context-sensitive: after an operand (a number, a name, a string,
//! a reference, `)`...) it divides, anywhere else it opens a regex literal.

use std::fmt;

use crate::error::ParseError;
use crate::span::Span;

/// Nanoseconds per duration unit, longest spelling first so `ms` wins over `m`.
const DURATION_UNITS: [(&str, i64); 9] = [
    ("ms", 1_000_000),
    ("u", 1_000),
    ("µ", 1_000),
    ("μ", 1_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Var,
    /// `lambda:`
    Lambda,
    And,
    Or,
    True,
    False,
    Int(i64),
    Float(f64),
    Duration(i64),
    Str(String),
    Ref(String),
    /// The pattern, with `\/` already turned into `/`.
    Regex(String),
    Star,
    Dot,
    Pipe,
    At,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Assign,
    Not,
    Plus,
    Minus,
    Mult,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    RegexEq,
    RegexNe,
    Eof,
}

impl Tok {
    /// Whether a `/` after this token divides rather than starting a regex.
    fn ends_operand(&self) -> bool {
        matches!(
            self,
            Tok::Ident(_)
                | Tok::True
                | Tok::False
                | Tok::Int(_)
                | Tok::Float(_)
                | Tok::Duration(_)
                | Tok::Str(_)
                | Tok::Ref(_)
                | Tok::Regex(_)
                | Tok::Star
                | Tok::RParen
                | Tok::RBracket
        )
    }
}

/// How a token is shown in "found ..." messages.
impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(name) => write!(f, "'{name}'"),
            Tok::Var => f.write_str("'var'"),
            Tok::Lambda => f.write_str("'lambda:'"),
            Tok::And => f.write_str("'AND'"),
            Tok::Or => f.write_str("'OR'"),
            Tok::True => f.write_str("'TRUE'"),
            Tok::False => f.write_str("'FALSE'"),
            Tok::Int(i) => write!(f, "number {i}"),
            Tok::Float(x) => write!(f, "number {x}"),
            Tok::Duration(_) => f.write_str("a duration"),
            Tok::Str(_) => f.write_str("a string"),
            Tok::Ref(name) => write!(f, "reference \"{name}\""),
            Tok::Regex(_) => f.write_str("a regex"),
            Tok::Eof => f.write_str("end of input"),
            other => write!(f, "'{}'", other.punct()),
        }
    }
}

impl Tok {
    fn punct(&self) -> &'static str {
        match self {
            Tok::Star => "*",
            Tok::Dot => ".",
            Tok::Pipe => "|",
            Tok::At => "@",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Assign => "=",
            Tok::Not => "!",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Mult => "*",
            Tok::Div => "/",
            Tok::Mod => "%",
            Tok::Eq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::RegexEq => "=~",
            Tok::RegexNe => "!~",
            _ => "?",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    line: u32,
    column: u32,
    tokens: Vec<Token>,
}

/// Lexes the whole input; the last token is always [`Tok::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        column: 1,
        tokens: Vec::new(),
    };
    lx.run()?;
    Ok(lx.tokens)
}

impl<'s> Lexer<'s> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn here(&self) -> Span {
        Span {
            start: self.pos,
            end: self.pos,
            line: self.line,
            column: self.column,
        }
    }

    fn error(&self, at: Span, message: impl Into<String>) -> ParseError {
        let end = (at.start + 1).min(self.src.len()).max(at.start);
        ParseError::new(self.src, Span { end, ..at }, message)
    }

    fn push(&mut self, tok: Tok, start: Span) {
        let span = Span {
            end: self.pos,
            ..start
        };
        self.tokens.push(Token { tok, span });
    }

    fn after_operand(&self) -> bool {
        self.tokens.last().is_some_and(|t| t.tok.ends_operand())
    }

    fn run(&mut self) -> Result<(), ParseError> {
        loop {
            let start = self.here();
            let Some(c) = self.peek() else {
                self.push(Tok::Eof, start);
                return Ok(());
            };
            if c.is_whitespace() {
                self.bump();
                continue;
            }
            if c == '/' && self.peek_at(1) == Some('/') {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
                continue;
            }
            if c.is_ascii_digit()
                || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
            {
                self.number(start)?;
                continue;
            }
            if c.is_alphabetic() || c == '_' {
                self.word(start);
                continue;
            }
            match c {
                '"' => self.reference(start)?,
                '\'' => self.string(start)?,
                '/' if !self.after_operand() => self.regex(start)?,
                _ => self.punct(c, start)?,
            }
        }
    }

    fn punct(&mut self, c: char, start: Span) -> Result<(), ParseError> {
        self.bump();
        let next = self.peek();
        let two = |lx: &mut Self, tok: Tok| {
            lx.bump();
            tok
        };
        let tok = match (c, next) {
            ('=', Some('=')) => two(self, Tok::Eq),
            ('=', Some('~')) => two(self, Tok::RegexEq),
            ('!', Some('=')) => two(self, Tok::Ne),
            ('!', Some('~')) => two(self, Tok::RegexNe),
            ('<', Some('=')) => two(self, Tok::Le),
            ('>', Some('=')) => two(self, Tok::Ge),
            ('=', _) => Tok::Assign,
            ('!', _) => Tok::Not,
            ('<', _) => Tok::Lt,
            ('>', _) => Tok::Gt,
            ('+', _) => Tok::Plus,
            ('-', _) => Tok::Minus,
            ('*', _) => {
                if self.after_operand() {
                    Tok::Mult
                } else {
                    Tok::Star
                }
            }
            ('/', _) => Tok::Div,
            ('%', _) => Tok::Mod,
            ('.', _) => Tok::Dot,
            ('|', _) => Tok::Pipe,
            ('@', _) => Tok::At,
            ('(', _) => Tok::LParen,
            (')', _) => Tok::RParen,
            ('[', _) => Tok::LBracket,
            (']', _) => Tok::RBracket,
            (',', _) => Tok::Comma,
            ('&', _) => {
                return Err(self.error(
                    start,
                    "unexpected character '&'; the logical operators are AND and OR",
                ));
            }
            (':', _) => {
                return Err(self.error(
                    start,
                    "unexpected character ':'; 'lambda:' must be written without a space before the colon",
                ));
            }
            (';', _) => {
                return Err(self.error(
                    start,
                    "unexpected character ';'; statements need no separator",
                ));
            }
            _ => {
                return Err(self.error(start, format!("unexpected character {c:?}")));
            }
        };
        self.push(tok, start);
        Ok(())
    }

    fn word(&mut self, start: Span) {
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.bump();
        }
        let word = &self.src[start.start..self.pos];
        let tok = match word {
            "AND" => Tok::And,
            "OR" => Tok::Or,
            "TRUE" => Tok::True,
            "FALSE" => Tok::False,
            "var" => Tok::Var,
            // As in Kapacitor, `lambda` is only a keyword when the colon follows at once.
            "lambda" if self.peek() == Some(':') => {
                self.bump();
                Tok::Lambda
            }
            _ => Tok::Ident(word.to_owned()),
        };
        self.push(tok, start);
    }

    fn number(&mut self, start: Span) -> Result<(), ParseError> {
        let mut seen_dot = false;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                self.bump();
            } else if c == '.' && !seen_dot && self.peek_at(1).is_none_or(|d| !d.is_alphabetic()) {
                // `1.` is a float, but in `1.foo` the dot belongs to the chain.
                seen_dot = true;
                self.bump();
            } else {
                break;
            }
        }
        let digits = &self.src[start.start..self.pos];
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) {
            return Err(self.error(self.here(), "a number can have only one decimal point"));
        }
        // A unit directly after the digits makes a duration.
        let rest = &self.src[self.pos..];
        let unit_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if unit_len > 0 {
            let unit_text = &rest[..unit_len];
            let unit_start = self.here();
            let Some(&(_, scale)) = DURATION_UNITS.iter().find(|(u, _)| *u == unit_text) else {
                return Err(self.error(
                    unit_start,
                    format!(
                        "invalid duration unit '{unit_text}'; units are u, µ, ms, s, m, h, d and w"
                    ),
                ));
            };
            if seen_dot {
                return Err(self.error(
                    start,
                    format!(
                        "a duration must be a whole number: '{digits}{unit_text}'; use a smaller unit"
                    ),
                ));
            }
            for _ in unit_text.chars() {
                self.bump();
            }
            let value = digits
                .parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(scale))
                .ok_or_else(|| self.error(start, "duration literal is out of range"))?;
            self.push(Tok::Duration(value), start);
            return Ok(());
        }
        let tok = if seen_dot {
            Tok::Float(
                digits
                    .parse()
                    .map_err(|_| self.error(start, format!("invalid number '{digits}'")))?,
            )
        } else if digits.len() > 1 && digits.starts_with('0') {
            // As in Kapacitor, a leading zero means octal: `.mode(0644)`.
            Tok::Int(i64::from_str_radix(digits, 8).map_err(|_| {
                self.error(
                    start,
                    format!("invalid octal literal {digits} (a leading 0 means octal)"),
                )
            })?)
        } else {
            Tok::Int(digits.parse().map_err(|_| {
                self.error(start, format!("integer literal {digits} is out of range"))
            })?)
        };
        self.push(tok, start);
        Ok(())
    }

    fn reference(&mut self, start: Span) -> Result<(), ParseError> {
        self.bump();
        let mut name = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.error(start, "unterminated reference: missing closing '\"'"));
                }
                Some('\\') if self.peek() == Some('"') => {
                    self.bump();
                    name.push('"');
                }
                Some('"') => break,
                Some(c) => name.push(c),
            }
        }
        self.push(Tok::Ref(name), start);
        Ok(())
    }

    fn string(&mut self, start: Span) -> Result<(), ParseError> {
        if self.src[self.pos..].starts_with("'''") {
            for _ in 0..3 {
                self.bump();
            }
            // Triple-quoted strings are raw: no escapes, they end at the first `'''`.
            let Some(len) = self.src[self.pos..].find("'''") else {
                return Err(self.error(start, "unterminated string: missing closing '''"));
            };
            let text = self.src[self.pos..self.pos + len].to_owned();
            while self.pos < start.start + 3 + len + 3 {
                self.bump();
            }
            self.push(Tok::Str(text), start);
            return Ok(());
        }
        self.bump();
        let mut text = String::new();
        loop {
            let at = self.here();
            match self.bump() {
                None | Some('\n') => {
                    return Err(self.error(
                        start,
                        "unterminated string: missing closing ' (use '''triple quotes''' for text over several lines)",
                    ));
                }
                Some('\'') => break,
                Some('\\') => match self.bump() {
                    Some('\'') => text.push('\''),
                    Some('\\') => text.push('\\'),
                    Some('"') => text.push('"'),
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('r') => text.push('\r'),
                    Some(other) if other != '\n' => {
                        return Err(self.error(
                            at,
                            format!(
                                "unknown escape '\\{other}' in string; escapes are \\' \\\\ \\\" \\n \\t \\r \
                                 (write \\\\ for a backslash, or use a '''triple-quoted''' string, which has no escapes)"
                            ),
                        ));
                    }
                    _ => {
                        return Err(self.error(start, "unterminated string: missing closing '"));
                    }
                },
                Some(c) => text.push(c),
            }
        }
        self.push(Tok::Str(text), start);
        Ok(())
    }

    fn regex(&mut self, start: Span) -> Result<(), ParseError> {
        self.bump();
        let mut pattern = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(self.error(start, "unterminated regex: missing closing '/'"));
                }
                Some('\\') if self.peek() == Some('/') => {
                    self.bump();
                    pattern.push('/');
                }
                Some('\\') => {
                    pattern.push('\\');
                    if let Some(c) = self.bump() {
                        pattern.push(c);
                    }
                }
                Some('/') => break,
                Some(c) => pattern.push(c),
            }
        }
        self.push(Tok::Regex(pattern), start);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks("10 0644 1.5 .5 10s 5m 100ms 3u 3µ 2h 1d 1w 'a\\'b' '''x\\y''' '' TRUE FALSE"),
            vec![
                Tok::Int(10),
                Tok::Int(0o644),
                Tok::Float(1.5),
                Tok::Float(0.5),
                Tok::Duration(10_000_000_000),
                Tok::Duration(300_000_000_000),
                Tok::Duration(100_000_000),
                Tok::Duration(3_000),
                Tok::Duration(3_000),
                Tok::Duration(7_200_000_000_000),
                Tok::Duration(86_400_000_000_000),
                Tok::Duration(604_800_000_000_000),
                Tok::Str("a'b".into()),
                Tok::Str("x\\y".into()),
                Tok::Str(String::new()),
                Tok::True,
                Tok::False,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn slash_is_regex_or_division_by_context() {
        assert_eq!(
            toks(r#""a" =~ /^a\/b\d$/ "x" / 2 (1) / 2"#),
            vec![
                Tok::Ref("a".into()),
                Tok::RegexEq,
                Tok::Regex(r"^a/b\d$".into()),
                Tok::Ref("x".into()),
                Tok::Div,
                Tok::Int(2),
                Tok::LParen,
                Tok::Int(1),
                Tok::RParen,
                Tok::Div,
                Tok::Int(2),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn star_or_multiply_by_context() {
        assert_eq!(
            toks("groupBy(*) 2 * 3"),
            vec![
                Tok::Ident("groupBy".into()),
                Tok::LParen,
                Tok::Star,
                Tok::RParen,
                Tok::Int(2),
                Tok::Mult,
                Tok::Int(3),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn lambda_keyword_needs_colon() {
        assert_eq!(
            toks("lambda: lambda"),
            vec![Tok::Lambda, Tok::Ident("lambda".into()), Tok::Eof]
        );
    }

    #[test]
    fn comments_are_skipped_and_positions_count_characters() {
        let tokens = lex("// note\n  µx // trailing\n'é' \"r\"").unwrap();
        assert_eq!(tokens[0].tok, Tok::Ident("µx".into()));
        assert_eq!((tokens[0].span.line, tokens[0].span.column), (2, 3));
        assert_eq!((tokens[2].span.line, tokens[2].span.column), (3, 5));
    }

    #[test]
    fn errors() {
        for (src, want) in [
            (
                "'abc",
                "line 1, column 1: unterminated string: missing closing '",
            ),
            ("'a\\d'", "line 1, column 3: unknown escape '\\d' in string"),
            ("\"abc", "line 1, column 1: unterminated reference"),
            ("/abc", "line 1, column 1: unterminated regex"),
            ("10min", "line 1, column 3: invalid duration unit 'min'"),
            (
                "1.5s",
                "line 1, column 1: a duration must be a whole number",
            ),
            (
                "1.2.3",
                "line 1, column 4: a number can have only one decimal point",
            ),
            ("09", "line 1, column 1: invalid octal literal 09"),
            ("99999999999999999999", "line 1, column 1: integer literal"),
            ("a && b", "line 1, column 3: unexpected character '&'"),
            ("#", "line 1, column 1: unexpected character '#'"),
        ] {
            let err = lex(src).unwrap_err().to_string();
            assert!(err.starts_with(want), "{src}: {err}");
        }
    }
}
