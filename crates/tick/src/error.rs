//! Errors for people: every error carries the position of the offending text and renders as
//! `line L, column C: message`, or, with [`Snippet`], with the source line and a caret under the
//! column.

use std::fmt;

use crate::span::Span;
use crate::value::Type;

/// A syntax error: the script or expression could not be read.
///
/// ```
/// let err = klaxon_tick::parse("stream|from(.measurement('cpu')").unwrap_err();
/// assert_eq!(err.to_string(), "line 1, column 13: expected an argument or ')', found '.'");
/// let shown = err.snippet().to_string();
/// assert!(shown.ends_with("1 | stream|from(.measurement('cpu')\n  |             ^"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{span}: {message}")]
pub struct ParseError {
    /// Where the problem is.
    pub span: Span,
    /// What is wrong, lowercase, without the position.
    pub message: String,
    line_text: String,
}

impl ParseError {
    pub(crate) fn new(source: &str, span: Span, message: impl Into<String>) -> Self {
        ParseError {
            span,
            message: message.into(),
            line_text: line_at(source, span.start).to_owned(),
        }
    }

    /// The error with the source line and a caret under the column (the source line was captured
    /// when the error was made, so the source is not needed).
    pub fn snippet(&self) -> Snippet<'_> {
        Snippet {
            span: self.span,
            message: &self.message,
            line_text: &self.line_text,
        }
    }

    /// Same as [`ParseError::snippet`], rendered to a string from the given source.
    ///
    /// ```
    /// let src = "stream\n  |alert()\n    .crit(lambda: \"x\" = 1)";
    /// let err = klaxon_tick::parse(src).unwrap_err();
    /// assert!(err.render(src).contains("    .crit(lambda: \"x\" = 1)\n  |                       ^"));
    /// ```
    pub fn render(&self, source: &str) -> String {
        render(self.span, &self.message, source)
    }
}

/// An error with its source line and a caret, for terminals and API error bodies:
///
/// ```text
/// line 4, column 17: expected ')' after argument list, found '.'
///   |
/// 4 |     .crit(lambda: "value" > 10 .warn()
///   |                 ^
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Snippet<'a> {
    span: Span,
    message: &'a str,
    line_text: &'a str,
}

impl<'a> Snippet<'a> {
    /// A snippet for any positioned message, taking the line from `source`.
    ///
    /// ```
    /// use klaxon_tick::{Snippet, Span};
    /// let span = Span { start: 4, end: 5, line: 1, column: 5 };
    /// let s = Snippet::new(span, "boom", "abc def").to_string();
    /// assert_eq!(s, "line 1, column 5: boom\n  |\n1 | abc def\n  |     ^");
    /// ```
    pub fn new(span: Span, message: &'a str, source: &'a str) -> Self {
        Snippet {
            span,
            message,
            line_text: line_at(source, span.start),
        }
    }
}

impl fmt::Display for Snippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.span.line.to_string();
        let gutter = " ".repeat(number.len());
        writeln!(f, "{}: {}", self.span, self.message)?;
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{number} | {}", self.line_text)?;
        // Keep tabs so the caret lines up with the source line in a terminal.
        let pad: String = self
            .line_text
            .chars()
            .take(self.span.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{gutter} | {pad}^")
    }
}

/// Renders any positioned message as a [`Snippet`] string.
pub(crate) fn render(span: Span, message: &str, source: &str) -> String {
    Snippet::new(span, message, source).to_string()
}

/// The text of the line holding byte `offset`, without its line break.
fn line_at(source: &str, offset: usize) -> &str {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    source[start..end].trim_end_matches('\r')
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// An error turning a parsed script into a pipeline program (undefined variable, misuse of a
/// variable, a second data source...).
///
/// ```
/// let script = klaxon_tick::parse("stream|from()\ndata|alert()").unwrap();
/// let err = klaxon_tick::resolve(&script).unwrap_err();
/// assert_eq!(err.to_string(), "line 2, column 1: undefined variable \"data\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{span}: {message}")]
pub struct ResolveError {
    /// Where the problem is.
    pub span: Span,
    /// What is wrong, lowercase, without the position.
    pub message: String,
}

impl ResolveError {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> Self {
        ResolveError {
            span,
            message: message.into(),
        }
    }

    /// The error with the source line and a caret under the column.
    pub fn render(&self, source: &str) -> String {
        render(self.span, &self.message, source)
    }
}

/// A property or node argument of the wrong kind, or a missing one, found by the typed argument
/// accessors ([`crate::ArgRef`]).
///
/// ```
/// let program = klaxon_tick::compile_script("stream|from().measurement(\"cpu\")").unwrap();
/// let err = program.nodes[1].properties[0].arg(0).as_str().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "line 1, column 27: argument 1 of .measurement(): expected a string, found the reference \"cpu\"; \
///      strings use single quotes: 'cpu'"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{span}: {message}")]
pub struct ArgError {
    /// The argument's position (or the call's, for a missing argument).
    pub span: Span,
    /// What is wrong, lowercase, without the position.
    pub message: String,
}

impl ArgError {
    /// The error with the source line and a caret under the column.
    pub fn render(&self, source: &str) -> String {
        render(self.span, &self.message, source)
    }
}

/// Why a lambda expression could not be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileErrorKind {
    /// A function name that is not in the function table.
    #[error("unknown function {name}()")]
    UnknownFunction {
        /// The name as written.
        name: String,
    },
    /// A function that exists only in another mode (e.g. `level()` outside a match expression).
    #[error("{name}() is only available in {only_in}")]
    WrongMode {
        /// The function name.
        name: String,
        /// Where it is available.
        only_in: &'static str,
    },
    /// A bare identifier that is not a variable, nor a level name in match mode.
    #[error("unknown identifier \"{name}\"{hint}")]
    UnknownIdentifier {
        /// The identifier.
        name: String,
        /// Extra advice, starting with `; ` when present.
        hint: String,
    },
    /// A call with the wrong number of arguments.
    #[error("{name}() takes {expected}, got {found}")]
    Arity {
        /// The function name.
        name: String,
        /// What it takes, e.g. `exactly 2 arguments`.
        expected: String,
        /// How many were given.
        found: usize,
    },
    /// An argument whose type is known at compile time and wrong.
    #[error("argument {index} of {name}() must be {expected}, found {found} ({expr})")]
    ArgumentType {
        /// The function name.
        name: String,
        /// 1-based argument index.
        index: usize,
        /// Allowed types, e.g. `float`, `int or float`.
        expected: String,
        /// The actual type.
        found: Type,
        /// The argument's text.
        expr: String,
    },
    /// Operand types that no rule of the operator accepts.
    #[error("{0}")]
    Operator(#[from] OperatorError),
    /// Syntax valid in a script but meaningless in an expression (a `*`, a string list...).
    #[error("{0}")]
    Invalid(String),
}

/// A positioned [`CompileErrorKind`].
///
/// ```
/// use klaxon_tick::{compile_lambda, parse_lambda, Limits};
/// let expr = parse_lambda("\"value\" > 1 AND 2", &Limits::default()).unwrap();
/// let err = compile_lambda(&expr, &Default::default()).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "line 1, column 13: invalid type to binary operator: bool AND int (\"value\" > 1 AND 2)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{span}: {kind}")]
pub struct CompileError {
    /// Where the problem is.
    pub span: Span,
    /// What is wrong.
    pub kind: CompileErrorKind,
}

impl CompileError {
    pub(crate) fn new(span: Span, kind: impl Into<CompileErrorKind>) -> Self {
        CompileError {
            span,
            kind: kind.into(),
        }
    }

    /// The error with the source line and a caret under the column.
    pub fn render(&self, source: &str) -> String {
        render(self.span, &self.kind.to_string(), source)
    }
}

/// An operator applied to operand types it does not accept; shared by compile time (when both
/// types are known) and evaluation time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// int and float mixed in arithmetic (Kapacitor's wording, with its advice).
    #[error(
        "mismatched type to binary operator: {left} {op} {right} ({expr}); use float() or int()"
    )]
    Mismatched {
        /// Left operand type.
        left: Type,
        /// The operator.
        op: &'static str,
        /// Right operand type.
        right: Type,
        /// The expression text.
        expr: String,
    },
    /// Any other unsupported combination.
    #[error("invalid type to binary operator: {left} {op} {right} ({expr})")]
    Binary {
        /// Left operand type.
        left: Type,
        /// The operator.
        op: &'static str,
        /// Right operand type.
        right: Type,
        /// The expression text.
        expr: String,
    },
    /// A unary operator on the wrong type.
    #[error("invalid type to unary operator: {op}{operand} ({expr})")]
    Unary {
        /// The operator.
        op: &'static str,
        /// The operand type.
        operand: Type,
        /// The expression text.
        expr: String,
    },
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalErrorKind {
    /// A reference naming neither a field nor a tag of the point.
    #[error("no field or tag exists for \"{name}\"")]
    MissingReference {
        /// The reference name.
        name: String,
    },
    /// In match mode: a reference naming no tag of the event.
    #[error("no tag exists for \"{name}\"")]
    MissingTag {
        /// The tag name.
        name: String,
    },
    /// Operand types that no rule of the operator accepts.
    #[error("{0}")]
    Operator(#[from] OperatorError),
    /// Integer division or remainder by zero.
    #[error("integer division by zero ({expr})")]
    DivisionByZero {
        /// The expression text.
        expr: String,
    },
    /// A function rejected its arguments.
    #[error("{name}(): {message} ({expr})")]
    Function {
        /// The function name.
        name: &'static str,
        /// What went wrong.
        message: String,
        /// The call's text.
        expr: String,
    },
    /// The expression would build more than [`crate::Limits::MAX_VALUE_BYTES`] in one string,
    /// or more than [`crate::Limits::MAX_EVALUATION_BYTES`] in all.
    #[error("{message} ({expr})")]
    TooLarge {
        /// What was too large, and the bound.
        message: String,
        /// The expression text.
        expr: String,
    },
    /// The expression was expected to produce a bool.
    #[error("expression must evaluate to a bool, got {found} ({expr})")]
    NotBool {
        /// The actual type.
        found: Type,
        /// The expression text.
        expr: String,
    },
    /// An unsigned field too large for TICKscript's signed integers.
    #[error("unsigned value {value} of \"{name}\" does not fit in an int")]
    UnsignedOverflow {
        /// The reference name.
        name: String,
        /// The value.
        value: u64,
    },
}

/// A positioned [`EvalErrorKind`].
///
/// ```
/// use klaxon_tick::{compile_lambda, parse_lambda, FieldValue, Limits, Point};
/// struct P;
/// impl Point for P {
///     fn field(&self, name: &str) -> Option<FieldValue<'_>> {
///         (name == "value").then_some(FieldValue::Int(3))
///     }
///     fn tag(&self, _: &str) -> Option<&str> { None }
///     fn time(&self) -> i64 { 0 }
///     fn name(&self) -> &str { "cpu" }
/// }
/// let expr = parse_lambda("\"value\" + 1.5", &Limits::default()).unwrap();
/// let mut lambda = compile_lambda(&expr, &Default::default()).unwrap();
/// assert_eq!(
///     lambda.eval(&P).unwrap_err().to_string(),
///     "line 1, column 9: mismatched type to binary operator: int + float (\"value\" + 1.5); use float() or int()"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{span}: {kind}")]
pub struct EvalError {
    /// Where in the expression the problem is.
    pub span: Span,
    /// What is wrong.
    pub kind: EvalErrorKind,
}

impl EvalError {
    pub(crate) fn new(span: Span, kind: impl Into<EvalErrorKind>) -> Self {
        EvalError {
            span,
            kind: kind.into(),
        }
    }

    /// True when the error is a missing field or tag, which the engine may want to count
    /// separately from real type errors.
    pub fn is_missing(&self) -> bool {
        matches!(
            self.kind,
            EvalErrorKind::MissingReference { .. } | EvalErrorKind::MissingTag { .. }
        )
    }
}

/// Any error of the one-call helpers ([`crate::compile_script`], [`crate::MatchExpr::parse`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// See [`ParseError`].
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// See [`ResolveError`].
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// See [`CompileError`].
    #[error(transparent)]
    Compile(#[from] CompileError),
}

impl Error {
    /// The position of the error.
    pub fn span(&self) -> Span {
        match self {
            Error::Parse(e) => e.span,
            Error::Resolve(e) => e.span,
            Error::Compile(e) => e.span,
        }
    }

    /// The error with the source line and a caret under the column.
    ///
    /// ```
    /// let err = klaxon_tick::MatchExpr::parse("level() = CRITICAL").unwrap_err();
    /// assert!(err.render("level() = CRITICAL").ends_with("1 | level() = CRITICAL\n  |         ^"));
    /// ```
    pub fn render(&self, source: &str) -> String {
        match self {
            Error::Parse(e) => e.render(source),
            Error::Resolve(e) => e.render(source),
            Error::Compile(e) => e.render(source),
        }
    }
}
