//! Source positions.

use std::fmt;

/// Where a piece of syntax sits in its source text.
///
/// `line` and `column` are 1-based and count characters (not bytes), so they match what an editor
/// shows; `start..end` is the byte range in the source, for slicing.
///
/// ```
/// let script = klaxon_tick::parse("stream\n  |from()").unwrap();
/// let chain = script.statements[0].as_pipeline().unwrap();
/// let from = &chain.links[0];
/// assert_eq!((from.span.line, from.span.column), (2, 3));
/// assert_eq!(&"stream\n  |from()"[from.span.start..from.span.end], "|from()");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column (in characters) of `start`.
    pub column: u32,
}

impl Span {
    /// The span covering both `self` and `other` (positioned at whichever starts first).
    ///
    /// ```
    /// use klaxon_tick::Span;
    /// let a = Span { start: 0, end: 2, line: 1, column: 1 };
    /// let b = Span { start: 5, end: 9, line: 1, column: 6 };
    /// assert_eq!(a.to(b), Span { start: 0, end: 9, line: 1, column: 1 });
    /// ```
    #[must_use]
    pub fn to(self, other: Span) -> Span {
        let first = if other.start < self.start {
            other
        } else {
            self
        };
        Span {
            start: first.start,
            end: self.end.max(other.end),
            line: first.line,
            column: first.column,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}
