//! Bounds on what a task definition and a write may hold, so hostile input is refused with an
//! error that names the klaxond setting to raise, instead of costing unbounded memory or time.

/// Limits on task definitions (TICKscript, lambdas, templates) and on line protocol.
///
/// ```
/// use klaxon_pipeline::Limits;
/// use klaxon_pipeline::ingest::{parse_with, Precision};
/// let limits = Limits { max_fields_per_point: 2, ..Limits::default() };
/// let err = parse_with("cpu a=1,b=2,c=3", "db", "rp", Precision::Nanoseconds,
///     klaxon_core::Timestamp::EPOCH, &limits).unwrap_err();
/// assert_eq!(err.to_string(), "line 1: 3 fields in one point; [limits] max-fields-per-point is 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// TICKscript size, lambda depth and regex size.
    pub tick: klaxon_tick::Limits,
    /// Largest `.id()`, `.message()` or `.details()` template, in bytes.
    pub max_template_size: usize,
    /// Longest line of line protocol, in bytes.
    pub max_line_length: usize,
    /// Most fields in one point of line protocol.
    pub max_fields_per_point: usize,
    /// Most series (groups) one node of a task holds: a point of a new group past it is
    /// dropped at that node, and the groups it holds go on.
    pub max_series: usize,
}

impl Limits {
    /// The klaxond setting of [`Limits::max_template_size`].
    pub const TEMPLATE_SETTING: &'static str = "[limits] max-template-size";
    /// The klaxond setting of [`Limits::max_line_length`].
    pub const LINE_SETTING: &'static str = "[limits] max-line-length";
    /// The klaxond setting of [`Limits::max_fields_per_point`].
    pub const FIELDS_SETTING: &'static str = "[limits] max-fields-per-point";
    /// The klaxond setting of [`Limits::max_series`].
    pub const SERIES_SETTING: &'static str = "[limits] max-series";
    /// The most text one template may render, in bytes: a template of a few bytes can loop
    /// (`{{range 100000}}`) or pad (`{{printf "%65535d" 1}}`), so its output is bounded too.
    pub const MAX_TEMPLATE_OUTPUT: usize = 1 << 20;
    /// The most `{{range}}` iterations one template execution may make, across nested loops.
    pub const MAX_TEMPLATE_ITERATIONS: u64 = 100_000;
}

impl Default for Limits {
    /// The tick defaults, 64 KiB per template, 1 MiB per line, 10 000 fields per point and a
    /// million series per node.
    fn default() -> Self {
        Limits {
            tick: klaxon_tick::Limits::default(),
            max_template_size: 64 << 10,
            max_line_length: 1 << 20,
            max_fields_per_point: 10_000,
            max_series: 1_000_000,
        }
    }
}
