//! Kapacitor's operator typing rules: one table of what each operator accepts (used at compile
//! time when operand types are known) and the arithmetic itself (used at evaluation).
//!
//! Integer arithmetic wraps on overflow, as Go's does.

use std::borrow::Cow;

use crate::ast::{BinaryOp, UnaryOp};
use crate::value::{Type, Value};

/// A value during evaluation, borrowing strings from the point or the compiled expression so
/// that comparisons never allocate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Bool(bool),
    Duration(i64),
    Time(i64),
}

impl<'a> Val<'a> {
    pub(crate) fn type_of(&self) -> Type {
        match self {
            Val::Int(_) => Type::Int,
            Val::Float(_) => Type::Float,
            Val::Str(_) => Type::String,
            Val::Bool(_) => Type::Bool,
            Val::Duration(_) => Type::Duration,
            Val::Time(_) => Type::Time,
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Val::Int(i) => Value::Int(i),
            Val::Float(x) => Value::Float(x),
            Val::Str(s) => Value::String(s.into_owned()),
            Val::Bool(b) => Value::Bool(b),
            Val::Duration(d) => Value::Duration(d),
            Val::Time(t) => Value::Time(t),
        }
    }

    pub(crate) fn borrowed(value: &'a Value) -> Val<'a> {
        match value {
            Value::Int(i) => Val::Int(*i),
            Value::Float(x) => Val::Float(*x),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Bool(b) => Val::Bool(*b),
            Value::Duration(d) => Val::Duration(*d),
            Value::Time(t) => Val::Time(*t),
        }
    }
}

/// Why an operator rejected its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpFail {
    /// int mixed with float in arithmetic.
    Mismatched,
    /// No rule for these types.
    Invalid,
    /// Integer division or remainder by zero.
    DivisionByZero,
    /// A string longer than [`crate::Limits::MAX_VALUE_BYTES`] would be built: this many bytes.
    TooLarge(usize),
}

/// The result type of `l op r`, or why there is none. `AND`/`OR` and the regex operators are
/// compiled specially but share this table.
pub(crate) fn binary_type(op: BinaryOp, l: Type, r: Type) -> Result<Type, OpFail> {
    use BinaryOp as B;
    use Type as T;
    let numeric = |t: Type| matches!(t, T::Int | T::Float);
    match op {
        B::And | B::Or => match (l, r) {
            (T::Bool, T::Bool) => Ok(T::Bool),
            _ => Err(OpFail::Invalid),
        },
        B::RegexMatch | B::RegexNotMatch => match (l, r) {
            (T::String, T::Regex) => Ok(T::Bool),
            _ => Err(OpFail::Invalid),
        },
        B::Eq | B::Ne => {
            if (numeric(l) && numeric(r))
                || (l == r && matches!(l, T::String | T::Bool | T::Duration | T::Time))
            {
                Ok(T::Bool)
            } else {
                Err(OpFail::Invalid)
            }
        }
        B::Lt | B::Le | B::Gt | B::Ge => {
            if (numeric(l) && numeric(r))
                || (l == r && matches!(l, T::String | T::Duration | T::Time))
            {
                Ok(T::Bool)
            } else {
                Err(OpFail::Invalid)
            }
        }
        B::Add | B::Sub | B::Mul | B::Div | B::Mod => arithmetic_type(op, l, r),
    }
}

fn arithmetic_type(op: BinaryOp, l: Type, r: Type) -> Result<Type, OpFail> {
    use BinaryOp as B;
    use Type as T;
    match (op, l, r) {
        (_, T::Int, T::Int) => Ok(T::Int),
        (B::Mod, T::Float, T::Float) => Err(OpFail::Invalid),
        (_, T::Float, T::Float) => Ok(T::Float),
        (_, T::Int, T::Float) | (_, T::Float, T::Int) => Err(OpFail::Mismatched),
        (B::Add, T::String, T::String) => Ok(T::String),
        (B::Add | B::Sub, T::Duration, T::Duration) => Ok(T::Duration),
        (B::Mul, T::Duration, T::Int | T::Float) | (B::Mul, T::Int | T::Float, T::Duration) => {
            Ok(T::Duration)
        }
        (B::Div, T::Duration, T::Int | T::Float) => Ok(T::Duration),
        (B::Add | B::Sub, T::Time, T::Duration) | (B::Add, T::Duration, T::Time) => Ok(T::Time),
        (B::Sub, T::Time, T::Time) => Ok(T::Duration),
        _ => Err(OpFail::Invalid),
    }
}

pub(crate) fn unary_type(op: UnaryOp, t: Type) -> Option<Type> {
    match (op, t) {
        (UnaryOp::Neg, Type::Int | Type::Float | Type::Duration) => Some(t),
        (UnaryOp::Not, Type::Bool) => Some(Type::Bool),
        _ => None,
    }
}

pub(crate) fn unary<'a>(op: UnaryOp, v: Val<'a>) -> Option<Val<'a>> {
    Some(match (op, v) {
        (UnaryOp::Neg, Val::Int(i)) => Val::Int(i.wrapping_neg()),
        (UnaryOp::Neg, Val::Float(x)) => Val::Float(-x),
        (UnaryOp::Neg, Val::Duration(d)) => Val::Duration(d.wrapping_neg()),
        (UnaryOp::Not, Val::Bool(b)) => Val::Bool(!b),
        _ => return None,
    })
}

/// Comparison and arithmetic (not `AND`/`OR`/regex, which short-circuit or need the pattern).
#[inline]
pub(crate) fn binary<'a>(op: BinaryOp, l: Val<'a>, r: Val<'a>) -> Result<Val<'a>, OpFail> {
    use BinaryOp as B;
    use std::cmp::Ordering;
    let ordering = |ord: Option<Ordering>| -> bool {
        match (op, ord) {
            (_, None) => op == B::Ne,
            (B::Eq, Some(o)) => o == Ordering::Equal,
            (B::Ne, Some(o)) => o != Ordering::Equal,
            (B::Lt, Some(o)) => o == Ordering::Less,
            (B::Le, Some(o)) => o != Ordering::Greater,
            (B::Gt, Some(o)) => o == Ordering::Greater,
            (B::Ge, Some(o)) => o != Ordering::Less,
            _ => false,
        }
    };
    match op {
        B::Eq | B::Ne | B::Lt | B::Le | B::Gt | B::Ge => {
            let ord = match (&l, &r) {
                (Val::Int(a), Val::Int(b)) => Some(a.cmp(b)),
                (Val::Float(a), Val::Float(b)) => a.partial_cmp(b),
                (Val::Int(a), Val::Float(b)) => (*a as f64).partial_cmp(b),
                (Val::Float(a), Val::Int(b)) => a.partial_cmp(&(*b as f64)),
                (Val::Str(a), Val::Str(b)) => Some(a.as_ref().cmp(b.as_ref())),
                (Val::Duration(a), Val::Duration(b)) | (Val::Time(a), Val::Time(b)) => {
                    Some(a.cmp(b))
                }
                (Val::Bool(a), Val::Bool(b)) if matches!(op, B::Eq | B::Ne) => Some(a.cmp(b)),
                _ => return Err(fail(op, &l, &r)),
            };
            Ok(Val::Bool(ordering(ord)))
        }
        B::Add | B::Sub | B::Mul | B::Div | B::Mod => arithmetic(op, l, r),
        B::And | B::Or | B::RegexMatch | B::RegexNotMatch => Err(fail(op, &l, &r)),
    }
}

fn fail(op: BinaryOp, l: &Val<'_>, r: &Val<'_>) -> OpFail {
    match binary_type(op, l.type_of(), r.type_of()) {
        Err(f) => f,
        Ok(_) => OpFail::Invalid,
    }
}

fn arithmetic<'a>(op: BinaryOp, l: Val<'a>, r: Val<'a>) -> Result<Val<'a>, OpFail> {
    use BinaryOp as B;
    Ok(match (op, l, r) {
        (B::Add, Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_add(b)),
        (B::Sub, Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_sub(b)),
        (B::Mul, Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_mul(b)),
        (B::Div | B::Mod, Val::Int(_), Val::Int(0)) => return Err(OpFail::DivisionByZero),
        (B::Div, Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_div(b)),
        (B::Mod, Val::Int(a), Val::Int(b)) => Val::Int(a.wrapping_rem(b)),
        (B::Add, Val::Float(a), Val::Float(b)) => Val::Float(a + b),
        (B::Sub, Val::Float(a), Val::Float(b)) => Val::Float(a - b),
        (B::Mul, Val::Float(a), Val::Float(b)) => Val::Float(a * b),
        (B::Div, Val::Float(a), Val::Float(b)) => Val::Float(a / b),
        (B::Add, Val::Str(a), Val::Str(b)) => {
            let bytes = a.len().saturating_add(b.len());
            if bytes > crate::Limits::MAX_VALUE_BYTES {
                return Err(OpFail::TooLarge(bytes));
            }
            let mut s = a.into_owned();
            s.push_str(&b);
            Val::Str(Cow::Owned(s))
        }
        (B::Add, Val::Duration(a), Val::Duration(b)) => Val::Duration(a.wrapping_add(b)),
        (B::Sub, Val::Duration(a), Val::Duration(b)) => Val::Duration(a.wrapping_sub(b)),
        (B::Mul, Val::Duration(d), Val::Int(n)) | (B::Mul, Val::Int(n), Val::Duration(d)) => {
            Val::Duration(d.wrapping_mul(n))
        }
        (B::Mul, Val::Duration(d), Val::Float(x)) | (B::Mul, Val::Float(x), Val::Duration(d)) => {
            Val::Duration((d as f64 * x) as i64)
        }
        (B::Div, Val::Duration(_), Val::Int(0)) => return Err(OpFail::DivisionByZero),
        (B::Div, Val::Duration(d), Val::Int(n)) => Val::Duration(d.wrapping_div(n)),
        (B::Div, Val::Duration(d), Val::Float(x)) => Val::Duration((d as f64 / x) as i64),
        (B::Add, Val::Time(t), Val::Duration(d)) | (B::Add, Val::Duration(d), Val::Time(t)) => {
            Val::Time(t.wrapping_add(d))
        }
        (B::Sub, Val::Time(t), Val::Duration(d)) => Val::Time(t.wrapping_sub(d)),
        (B::Sub, Val::Time(a), Val::Time(b)) => Val::Duration(a.wrapping_sub(b)),
        (op, l, r) => return Err(fail(op, &l, &r)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPES: [Type; 7] = [
        Type::Int,
        Type::Float,
        Type::String,
        Type::Bool,
        Type::Duration,
        Type::Time,
        Type::Regex,
    ];

    const OPS: [BinaryOp; 13] = [
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Mod,
        BinaryOp::And,
        BinaryOp::Or,
    ];

    fn sample(t: Type) -> Option<Val<'static>> {
        Some(match t {
            Type::Int => Val::Int(7),
            Type::Float => Val::Float(2.5),
            Type::String => Val::Str("a".into()),
            Type::Bool => Val::Bool(true),
            Type::Duration => Val::Duration(10),
            Type::Time => Val::Time(100),
            Type::Regex => return None,
        })
    }

    /// The compile-time table and the evaluator must agree on every operator and type pair
    /// (`AND`/`OR` are evaluated elsewhere, so they are only checked in the table).
    #[test]
    fn table_and_evaluator_agree() {
        for op in OPS {
            for l in TYPES {
                for r in TYPES {
                    let static_result = binary_type(op, l, r);
                    let (Some(lv), Some(rv)) = (sample(l), sample(r)) else {
                        continue;
                    };
                    if matches!(op, BinaryOp::And | BinaryOp::Or) {
                        assert_eq!(static_result.is_ok(), l == Type::Bool && r == Type::Bool);
                        continue;
                    }
                    let runtime = binary(op, lv, rv);
                    match (&static_result, &runtime) {
                        (Ok(t), Ok(v)) => assert_eq!(*t, v.type_of(), "{l} {op:?} {r}"),
                        (Err(a), Err(b)) => assert_eq!(a, b, "{l} {op:?} {r}"),
                        _ => panic!("{l} {op:?} {r}: table {static_result:?}, eval {runtime:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn mixed_numeric_arithmetic_is_mismatched_but_comparison_works() {
        assert_eq!(
            binary(BinaryOp::Add, Val::Int(1), Val::Float(1.5)),
            Err(OpFail::Mismatched)
        );
        assert_eq!(
            binary(BinaryOp::Lt, Val::Int(1), Val::Float(1.5)),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            binary(BinaryOp::Eq, Val::Float(2.0), Val::Int(2)),
            Ok(Val::Bool(true))
        );
    }

    #[test]
    fn nan_compares_unequal() {
        let nan = || Val::Float(f64::NAN);
        assert_eq!(binary(BinaryOp::Eq, nan(), nan()), Ok(Val::Bool(false)));
        assert_eq!(binary(BinaryOp::Ne, nan(), nan()), Ok(Val::Bool(true)));
        assert_eq!(
            binary(BinaryOp::Lt, nan(), Val::Int(1)),
            Ok(Val::Bool(false))
        );
    }

    #[test]
    fn integer_edge_cases_do_not_panic() {
        assert_eq!(
            binary(BinaryOp::Div, Val::Int(i64::MIN), Val::Int(-1)),
            Ok(Val::Int(i64::MIN))
        );
        assert_eq!(
            binary(BinaryOp::Mod, Val::Int(i64::MIN), Val::Int(-1)),
            Ok(Val::Int(0))
        );
        assert_eq!(
            binary(BinaryOp::Add, Val::Int(i64::MAX), Val::Int(1)),
            Ok(Val::Int(i64::MIN))
        );
        assert_eq!(
            binary(BinaryOp::Mod, Val::Int(1), Val::Int(0)),
            Err(OpFail::DivisionByZero)
        );
        assert_eq!(
            unary(UnaryOp::Neg, Val::Int(i64::MIN)),
            Some(Val::Int(i64::MIN))
        );
    }
}
