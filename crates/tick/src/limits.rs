//! Resource limits applied while parsing, so hostile input is rejected instead of exhausting the
//! stack or memory.

/// Parser limits.
///
/// Errors from a limit name the klaxond setting that raises it (such as
/// [`Limits::DEPTH_SETTING`]), so an operator knows what to change.
///
/// ```
/// use klaxon_tick::{parse_with, Limits};
/// let strict = Limits { max_depth: 3, ..Limits::default() };
/// let err = parse_with("stream|alert().crit(lambda: ((((\"x\")))) > 1)", &strict).unwrap_err();
/// assert!(err.message.contains("nested too deeply"), "{err}");
/// assert!(err.message.ends_with("[limits] max-expression-depth is 3"), "{err}");
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
    /// Largest TICKscript [`crate::parse_with`] reads, in bytes.
    pub max_script_size: usize,
}

impl Limits {
    /// The hard ceiling for [`Limits::max_depth`], which keeps recursion within a 2 MiB thread
    /// stack even in debug builds.
    pub const MAX_DEPTH: usize = 256;
    /// The klaxond setting of [`Limits::max_depth`].
    pub const DEPTH_SETTING: &'static str = "[limits] max-expression-depth";
    /// The klaxond setting of [`Limits::regex_size_limit`].
    pub const REGEX_SETTING: &'static str = "[limits] max-regex-size";
    /// The klaxond setting of [`Limits::max_script_size`].
    pub const SCRIPT_SETTING: &'static str = "[limits] max-script-size";
    /// The longest string one step of a lambda or match expression may build (a `+`, a
    /// `strReplace()`, a `regexReplace()`...), in bytes: nested `strReplace` calls that double a
    /// string each time fail at this bound instead of exhausting memory.
    pub const MAX_VALUE_BYTES: usize = 1 << 20;
    /// The most regex literals one script (a task's TICKscript, or a match expression) may
    /// have: with each within [`Limits::regex_size_limit`], a script's regexes take at most this
    /// many times that to compile and hold.
    pub const MAX_REGEXES: usize = 100;
    /// The most bytes of strings one evaluation of an expression may build in all.
    pub const MAX_EVALUATION_BYTES: usize = 16 << 20;

    /// The message for a string of `bytes` bytes that one step would build.
    pub(crate) fn value_too_large(bytes: usize) -> String {
        format!(
            "it would build a string of {bytes} bytes; a string built by an expression is at \
             most {} bytes",
            Self::MAX_VALUE_BYTES
        )
    }

    pub(crate) fn depth(&self) -> usize {
        self.max_depth.min(Self::MAX_DEPTH)
    }

    /// The message for an expression deeper than [`Limits::max_depth`]; `context` says when
    /// it was found, for trees deepened by variable substitution.
    pub(crate) fn too_deep(&self, context: &str) -> String {
        let depth = self.depth();
        format!(
            "expression is nested too deeply{context} (more than {depth} levels); {} is {depth}",
            Self::DEPTH_SETTING
        )
    }
}

impl Default for Limits {
    /// 128 levels, 1 MiB per regex and 1 MiB per script.
    fn default() -> Self {
        Limits {
            max_depth: 128,
            regex_size_limit: 1 << 20,
            max_script_size: 1 << 20,
        }
    }
}
