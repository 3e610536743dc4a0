//! Typed access to node and property arguments, with errors that name the argument.

use crate::ast::{Arg, ArgValue, Expr, RegexLit};
use crate::error::ArgError;
use crate::span::Span;

/// One argument of a node or property, for typed access. Obtained from
/// [`crate::Node::arg`] or [`crate::Property::arg`]; the argument may be missing, which the
/// accessors report.
///
/// ```
/// let p = klaxon_tick::compile_script("stream|alert().flapping(0.25, 'x')").unwrap();
/// let flapping = &p.nodes[1].properties[0];
/// assert_eq!(flapping.arg(0).as_float().unwrap(), 0.25);
/// assert_eq!(
///     flapping.arg(1).as_float().unwrap_err().message,
///     "argument 2 of .flapping(): expected a float, found the string 'x'"
/// );
/// assert_eq!(
///     flapping.arg(2).as_float().unwrap_err().message,
///     "missing argument 3 of .flapping()"
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ArgRef<'a> {
    prefix: &'static str,
    call: &'a str,
    index: usize,
    arg: Option<&'a Arg>,
    call_span: Span,
}

impl<'a> ArgRef<'a> {
    pub(crate) fn new(
        prefix: &'static str,
        call: &'a str,
        args: &'a [Arg],
        index: usize,
        call_span: Span,
    ) -> Self {
        ArgRef {
            prefix,
            call,
            index,
            arg: args.get(index),
            call_span,
        }
    }

    /// The argument, if present.
    pub fn get(&self) -> Option<&'a Arg> {
        self.arg
    }

    fn fail(&self, expected: &str) -> ArgError {
        let Some(arg) = self.arg else {
            return ArgError {
                span: self.call_span,
                message: format!(
                    "missing argument {} of {}{}()",
                    self.index + 1,
                    self.prefix,
                    self.call
                ),
            };
        };
        let hint = match (&arg.value, expected) {
            (ArgValue::Ref(name), "a string") => {
                format!("; strings use single quotes: '{name}'")
            }
            (_, "a lambda expression") => "; write lambda: followed by the expression".to_owned(),
            _ => String::new(),
        };
        ArgError {
            span: arg.span,
            message: format!(
                "argument {} of {}{}(): expected {expected}, found {}{hint}",
                self.index + 1,
                self.prefix,
                self.call,
                arg.value.describe()
            ),
        }
    }

    fn value(&self) -> Option<&'a ArgValue> {
        self.arg.map(|a| &a.value)
    }

    /// A string (`'text'`).
    pub fn as_str(&self) -> Result<&'a str, ArgError> {
        match self.value() {
            Some(ArgValue::Str(s)) => Ok(s),
            _ => Err(self.fail("a string")),
        }
    }

    /// An integer.
    pub fn as_int(&self) -> Result<i64, ArgError> {
        match self.value() {
            Some(ArgValue::Int(i)) => Ok(*i),
            _ => Err(self.fail("an int")),
        }
    }

    /// A float; an integer literal is accepted and converted.
    pub fn as_float(&self) -> Result<f64, ArgError> {
        match self.value() {
            Some(ArgValue::Float(x)) => Ok(*x),
            Some(ArgValue::Int(i)) => Ok(*i as f64),
            _ => Err(self.fail("a float")),
        }
    }

    /// A duration, in nanoseconds.
    pub fn as_duration(&self) -> Result<i64, ArgError> {
        match self.value() {
            Some(ArgValue::Duration(d)) => Ok(*d),
            _ => Err(self.fail("a duration")),
        }
    }

    /// `TRUE` or `FALSE`.
    pub fn as_bool(&self) -> Result<bool, ArgError> {
        match self.value() {
            Some(ArgValue::Bool(b)) => Ok(*b),
            _ => Err(self.fail("a bool")),
        }
    }

    /// A regex literal.
    pub fn as_regex(&self) -> Result<&'a RegexLit, ArgError> {
        match self.value() {
            Some(ArgValue::Regex(r)) => Ok(r),
            _ => Err(self.fail("a regex")),
        }
    }

    /// A double-quoted reference; returns the name.
    pub fn as_reference(&self) -> Result<&'a str, ArgError> {
        match self.value() {
            Some(ArgValue::Ref(name)) => Ok(name),
            _ => Err(self.fail("a reference")),
        }
    }

    /// A `lambda:` expression, ready for [`crate::compile_lambda`].
    pub fn as_lambda(&self) -> Result<&'a Expr, ArgError> {
        match self.value() {
            Some(ArgValue::Lambda(e)) => Ok(e),
            _ => Err(self.fail("a lambda expression")),
        }
    }

    /// Whether the argument is `*`.
    pub fn is_star(&self) -> bool {
        matches!(self.value(), Some(ArgValue::Star))
    }

    /// A list of strings, from either `['a', 'b']` or a single string.
    pub fn as_str_list(&self) -> Result<Vec<&'a str>, ArgError> {
        match self.value() {
            Some(ArgValue::Str(s)) => Ok(vec![s]),
            Some(ArgValue::List(items)) => items
                .iter()
                .map(|item| match &item.value {
                    ArgValue::Str(s) => Ok(s.as_str()),
                    other => Err(ArgError {
                        span: item.span,
                        message: format!(
                            "argument {} of {}{}(): expected a list of strings, found {} in the list",
                            self.index + 1,
                            self.prefix,
                            self.call,
                            other.describe()
                        ),
                    }),
                })
                .collect(),
            _ => Err(self.fail("a list of strings")),
        }
    }
}

pub(crate) fn expect_args(
    prefix: &str,
    call: &str,
    args: &[Arg],
    min: usize,
    max: usize,
    span: Span,
) -> Result<(), ArgError> {
    if (min..=max).contains(&args.len()) {
        return Ok(());
    }
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let expected = if max == 0 {
        "no arguments".to_owned()
    } else if min == max {
        format!("{min} {}", plural(min))
    } else if max == usize::MAX {
        format!("at least {min} {}", plural(min))
    } else {
        format!("{min} to {max} arguments")
    };
    Err(ArgError {
        span,
        message: format!("{prefix}{call}() takes {expected}, got {}", args.len()),
    })
}
