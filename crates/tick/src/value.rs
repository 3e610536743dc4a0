//! Values of the lambda language and the field values a point hands in.

use std::fmt;

use crate::go;

/// The type of a lambda value, with the names used in error messages.
///
/// ```
/// assert_eq!(klaxon_tick::Type::Float.to_string(), "float");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// 64-bit signed integer.
    Int,
    /// 64-bit float.
    Float,
    /// UTF-8 string.
    String,
    /// Boolean.
    Bool,
    /// Signed nanoseconds.
    Duration,
    /// Nanoseconds since the Unix epoch, UTC.
    Time,
    /// A regex literal (only as the right operand of `=~`/`!~` or an argument of `regexReplace`).
    Regex,
}

impl Type {
    /// The name used in messages: `int`, `float`, `string`, `bool`, `duration`, `time`, `regex`.
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "int",
            Type::Float => "float",
            Type::String => "string",
            Type::Bool => "bool",
            Type::Duration => "duration",
            Type::Time => "time",
            Type::Regex => "regex",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value produced by evaluating a lambda.
///
/// `Display` prints strings bare, floats as Go's `strconv.FormatFloat(f, 'f', -1, 64)` (`1` for
/// 1.0), durations as Go's `time.Duration.String()` (`1m30s`) and times as RFC 3339 with
/// nanoseconds in UTC.
///
/// ```
/// use klaxon_tick::Value;
/// assert_eq!(Value::Float(1.0).to_string(), "1");
/// assert_eq!(Value::Duration(90_000_000_000).to_string(), "1m30s");
/// assert_eq!(Value::Time(1_500_000_000).to_string(), "1970-01-01T00:00:01.5Z");
/// assert_eq!(Value::Int(3).type_of(), klaxon_tick::Type::Int);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// 64-bit signed integer.
    Int(i64),
    /// 64-bit float.
    Float(f64),
    /// String.
    String(String),
    /// Boolean.
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// Nanoseconds since the Unix epoch.
    Time(i64),
}

impl Value {
    /// The value's type.
    pub fn type_of(&self) -> Type {
        match self {
            Value::Int(_) => Type::Int,
            Value::Float(_) => Type::Float,
            Value::String(_) => Type::String,
            Value::Bool(_) => Type::Bool,
            Value::Duration(_) => Type::Duration,
            Value::Time(_) => Type::Time,
        }
    }

    /// The bool inside, if it is one.
    ///
    /// ```
    /// assert_eq!(klaxon_tick::Value::Bool(true).as_bool(), Some(true));
    /// assert_eq!(klaxon_tick::Value::Int(1).as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&go::format_float(*x)),
            Value::String(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Duration(d) => f.write_str(&go::format_duration(*d)),
            Value::Time(t) => f.write_str(&go::format_rfc3339_nano(*t)),
        }
    }
}

/// A field value as a [`crate::Point`] hands it to the evaluator, borrowed from the point.
///
/// InfluxDB line protocol also has unsigned integers (`12u`); TICKscript has no unsigned type,
/// so an unsigned value is read as an `int` when it fits and is an evaluation error when it does
/// not (rather than silently losing precision as a float).
///
/// ```
/// use klaxon_tick::FieldValue;
/// let v = FieldValue::Str("web-1");
/// assert!(matches!(v, FieldValue::Str("web-1")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// A float field.
    Float(f64),
    /// A signed integer field (`12i`).
    Int(i64),
    /// An unsigned integer field (`12u`).
    UInt(u64),
    /// A string field.
    Str(&'a str),
    /// A boolean field.
    Bool(bool),
}
