//! The compiled form of a lambda: a tree specialised for its mode, with constants folded, regexes
//! compiled and stateful-function state moved out into slots.

use crate::ast::{BinaryOp, UnaryOp};
use crate::lambda::functions::Imp;
use crate::span::Span;
use crate::value::Value;

/// Where a node came from, for error messages: only read when an evaluation fails.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Site {
    pub span: Span,
    /// The expression's canonical text.
    pub text: Box<str>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Const(Value),
    /// Point mode: a field, else a tag of that name.
    FieldOrTag(Box<str>, Span),
    /// Match mode: a tag.
    Tag(Box<str>, Span),
    /// `"time"` in point mode.
    Time,
    Unary {
        op: UnaryOp,
        operand: Box<Node>,
        site: Box<Site>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
        site: Box<Site>,
    },
    /// `AND` (when `and`) or `OR`, short-circuiting.
    Logic {
        and: bool,
        lhs: Box<Node>,
        rhs: Box<Node>,
        site: Box<Site>,
    },
    RegexMatch {
        lhs: Box<Node>,
        regex: regex::Regex,
        negate: bool,
        site: Box<Site>,
    },
    Call {
        name: &'static str,
        imp: Imp,
        args: Box<[Node]>,
        site: Box<Site>,
    },
    RegexReplace {
        regex: regex::Regex,
        src: Box<Node>,
        replacement: Box<Node>,
        site: Box<Site>,
    },
    IsPresent {
        name: Box<str>,
        tag_only: bool,
    },
    If {
        cond: Box<Node>,
        then: Box<Node>,
        otherwise: Box<Node>,
        site: Box<Site>,
    },
    Stateful {
        func: StatefulFn,
        arg: Option<Box<Node>>,
        slot: usize,
        site: Box<Site>,
    },
    Context(ContextFn),
}

/// Functions that keep state between evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatefulFn {
    Sigma,
    Count,
    Spread,
    /// `rand()` and `rand(n)`: Kapacitor's random int, kept as a generator per call site.
    Rand,
}

impl StatefulFn {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StatefulFn::Sigma => "sigma",
            StatefulFn::Count => "count",
            StatefulFn::Spread => "spread",
            StatefulFn::Rand => "rand",
        }
    }

    pub(crate) fn initial(self) -> State {
        match self {
            StatefulFn::Sigma => State::Sigma {
                n: 0.0,
                mean: 0.0,
                m2: 0.0,
            },
            StatefulFn::Count => State::Count(0),
            StatefulFn::Spread => State::Spread {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            },
            StatefulFn::Rand => State::Rand(0),
        }
    }
}

/// The state of one stateful call site.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State {
    Count(i64),
    /// Welford's running mean and sum of squared deviations.
    Sigma {
        n: f64,
        mean: f64,
        m2: f64,
    },
    Spread {
        min: f64,
        max: f64,
    },
    /// A splitmix64 generator's state; 0 until it is seeded from the clock at its first use.
    Rand(u64),
}

/// Match-mode functions answered by the caller's [`crate::MatchContext`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextFn {
    Level,
    Changed,
    Name,
    TaskName,
    AlertDuration,
}
