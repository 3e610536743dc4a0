//! Resource limits applied while parsing, so hostile input is rejected instead of exhausting the
//! stack or memory.

/// Parser limits.
///
/// ```
/// use klaxon_tick::{parse_with, Limits};
/// let strict = Limits { max_depth: 3, ..Limits::default() };
/// let err = parse_with("stream|alert().crit(lambda: ((((\"x\")))) > 1)", &strict).unwrap_err();
/// assert!(err.message.contains("nested too deeply"), "{err}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest allowed lambda expression tree: every parenthesis, unary operator, function call
    /// and binary operator adds a level (so a chain `a OR b OR c` of n terms is n levels deep).
    /// The parser checks it before recursing, so even 100 000 nested parentheses only produce an
    /// error. Values above [`Limits::MAX_DEPTH`] are clamped to it.
    pub max_depth: usize,
    /// Size limit, in bytes, for each compiled regex literal (`regex::RegexBuilder::size_limit`):
    /// a pattern whose compiled form would be larger is a parse error rather than a slow match.
    pub regex_size_limit: usize,
}

impl Limits {
    /// The hard ceiling for [`Limits::max_depth`], which keeps recursion within a 2 MiB thread
    /// stack even in debug builds.
    pub const MAX_DEPTH: usize = 256;

    pub(crate) fn depth(&self) -> usize {
        self.max_depth.min(Self::MAX_DEPTH)
    }
}

impl Default for Limits {
    /// 128 levels and 1 MiB per regex.
    fn default() -> Self {
        Limits {
            max_depth: 128,
            regex_size_limit: 1 << 20,
        }
    }
}
