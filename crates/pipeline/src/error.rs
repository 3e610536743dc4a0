//! Errors in a task definition, positioned in the TICKscript.

use klaxon_tick::Span;

/// A task that cannot be defined: what is wrong, and where in the script.
///
/// `Display` gives `line L, column C: message`; [`DefineError::render`] adds the source line and
/// a caret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{span}: {message}")]
pub struct DefineError {
    /// Where in the script.
    pub span: Span,
    /// What is wrong, lowercase.
    pub message: String,
}

impl DefineError {
    /// An error at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        DefineError {
            span,
            message: message.into(),
        }
    }

    /// The error with its source line and a caret under the column.
    pub fn render(&self, source: &str) -> String {
        klaxon_tick::ArgError {
            span: self.span,
            message: self.message.clone(),
        }
        .render(source)
    }
}

impl From<klaxon_tick::ArgError> for DefineError {
    fn from(e: klaxon_tick::ArgError) -> Self {
        DefineError::new(e.span, e.message)
    }
}

impl From<klaxon_tick::CompileError> for DefineError {
    fn from(e: klaxon_tick::CompileError) -> Self {
        DefineError::new(e.span, e.kind.to_string())
    }
}

impl From<klaxon_tick::Error> for DefineError {
    fn from(e: klaxon_tick::Error) -> Self {
        let span = e.span();
        let message = match &e {
            klaxon_tick::Error::Parse(p) => p.message.clone(),
            klaxon_tick::Error::Resolve(r) => r.message.clone(),
            klaxon_tick::Error::Compile(c) => c.kind.to_string(),
        };
        DefineError::new(span, message)
    }
}
