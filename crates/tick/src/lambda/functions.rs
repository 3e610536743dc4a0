//! The stateless function table (Kapacitor's `tick/stateful/functions.go`): conversions, math,
//! strings, time and humanBytes. `isPresent`, `if`, `regexReplace`, the stateful functions and
//! the match-mode context functions need more than their argument values, so the compiler
//! handles them itself.

use std::borrow::Cow;

use crate::go;
use crate::lambda::ops::Val;
use crate::value::Type;

/// One stateless function.
#[derive(Debug)]
pub(crate) struct FuncDef {
    pub name: &'static str,
    pub imp: Imp,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Imp {
    Math1(fn(f64) -> f64),
    Math2(fn(f64, f64) -> f64),
    /// `pow10(int)`.
    Pow10,
    /// `jn(int, float)`, `yn(int, float)`.
    MathIF(fn(i32, f64) -> f64),
    Str1Str(fn(&str) -> String),
    Str2Bool(fn(&str, &str) -> bool),
    Str2Int(fn(&str, &str) -> i64),
    Str2Str(fn(&str, &str) -> String),
    StrLength,
    StrReplace,
    StrSubstring,
    ToBool,
    ToInt,
    ToFloat,
    ToString,
    /// `duration(value[, unit])`.
    ToDuration,
    TimePart(fn(&go::Civil) -> i64),
    UnixNano,
    Now,
    HumanBytes,
}

const NUM: &[Type] = &[Type::Int, Type::Float];
const FLOAT: &[Type] = &[Type::Float];
const INT: &[Type] = &[Type::Int];
const STR: &[Type] = &[Type::String];
const TIME: &[Type] = &[Type::Time];
const DUR: &[Type] = &[Type::Duration];
const SCALAR: &[Type] = &[
    Type::Int,
    Type::Float,
    Type::String,
    Type::Bool,
    Type::Duration,
];

impl Imp {
    /// `(min, max)` argument count.
    pub(crate) fn arity(self) -> (usize, usize) {
        match self {
            Imp::Now => (0, 0),
            Imp::Math1(_)
            | Imp::Pow10
            | Imp::Str1Str(_)
            | Imp::StrLength
            | Imp::ToBool
            | Imp::ToInt
            | Imp::ToFloat
            | Imp::ToString
            | Imp::TimePart(_)
            | Imp::UnixNano
            | Imp::HumanBytes => (1, 1),
            Imp::ToDuration => (1, 2),
            Imp::Math2(_)
            | Imp::MathIF(_)
            | Imp::Str2Bool(_)
            | Imp::Str2Int(_)
            | Imp::Str2Str(_) => (2, 2),
            Imp::StrSubstring => (3, 3),
            Imp::StrReplace => (4, 4),
        }
    }

    /// The types argument `i` accepts.
    pub(crate) fn accepts(self, i: usize) -> &'static [Type] {
        match (self, i) {
            (Imp::Math1(_) | Imp::Math2(_), _) => FLOAT,
            (Imp::Pow10, _) => INT,
            (Imp::MathIF(_), 0) => INT,
            (Imp::MathIF(_), _) => FLOAT,
            (Imp::Str1Str(_) | Imp::Str2Bool(_) | Imp::Str2Int(_) | Imp::Str2Str(_), _) => STR,
            (Imp::StrLength, _) => STR,
            (Imp::StrReplace, 3) => INT,
            (Imp::StrReplace, _) => STR,
            (Imp::StrSubstring, 0) => STR,
            (Imp::StrSubstring, _) => INT,
            (Imp::ToBool | Imp::ToFloat, _) => &[Type::Int, Type::Float, Type::String, Type::Bool],
            (Imp::ToInt | Imp::ToString, _) => SCALAR,
            (Imp::ToDuration, 0) => &[Type::Int, Type::Float, Type::String, Type::Duration],
            (Imp::ToDuration, _) => DUR,
            (Imp::TimePart(_) | Imp::UnixNano, _) => TIME,
            (Imp::HumanBytes, _) => NUM,
            (Imp::Now, _) => &[],
        }
    }

    /// The result type.
    pub(crate) fn returns(self) -> Type {
        match self {
            Imp::Math1(_) | Imp::Math2(_) | Imp::Pow10 | Imp::MathIF(_) | Imp::ToFloat => {
                Type::Float
            }
            Imp::Str1Str(_) | Imp::Str2Str(_) | Imp::StrReplace | Imp::StrSubstring => Type::String,
            Imp::ToString | Imp::HumanBytes => Type::String,
            Imp::Str2Bool(_) | Imp::ToBool => Type::Bool,
            Imp::Str2Int(_) | Imp::StrLength | Imp::ToInt | Imp::TimePart(_) | Imp::UnixNano => {
                Type::Int
            }
            Imp::ToDuration => Type::Duration,
            Imp::Now => Type::Time,
        }
    }
}

/// Formats the accepted types of a parameter: `float`, `int or float`, `int, float or string`.
pub(crate) fn describe(types: &[Type]) -> String {
    match types {
        [] => "nothing".to_owned(),
        [one] => one.name().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(|t| t.name()).collect();
            format!("{} or {}", init.join(", "), last.name())
        }
    }
}

/// Calls a stateless function. Argument types are checked here against [`Imp::accepts`], so the
/// implementations below can rely on them.
/// The length of `s` with `count` (all when negative) occurrences of `old` replaced by `new`,
/// found before anything is built.
fn replaced_length(s: &str, old: &str, new: &str, count: i64) -> usize {
    // An empty `old` matches before every character and at the end.
    let found = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let replaced = usize::try_from(count).map_or(found, |count| found.min(count));
    s.len()
        .saturating_sub(replaced.saturating_mul(old.len()))
        .saturating_add(replaced.saturating_mul(new.len()))
}

pub(crate) fn call<'a>(imp: Imp, args: &[Val<'a>], now: i64) -> Result<Val<'a>, String> {
    for (i, a) in args.iter().enumerate() {
        let accepted = imp.accepts(i);
        if !accepted.contains(&a.type_of()) {
            return Err(type_message(i, accepted, a.type_of()));
        }
    }
    let s = |i: usize| match &args[i] {
        Val::Str(s) => s.as_ref(),
        _ => "",
    };
    let f = |i: usize| match args[i] {
        Val::Float(x) => x,
        _ => f64::NAN,
    };
    let n = |i: usize| match args[i] {
        Val::Int(n) => n,
        _ => 0,
    };
    let owned = |s: String| Val::Str(Cow::Owned(s));
    Ok(match imp {
        Imp::Math1(g) => Val::Float(g(f(0))),
        Imp::Math2(g) => Val::Float(g(f(0), f(1))),
        Imp::Pow10 => Val::Float(pow10(n(0))),
        Imp::MathIF(g) => Val::Float(g(n(0).clamp(i32::MIN.into(), i32::MAX.into()) as i32, f(1))),
        Imp::Str1Str(g) => owned(g(s(0))),
        Imp::Str2Bool(g) => Val::Bool(g(s(0), s(1))),
        Imp::Str2Int(g) => Val::Int(g(s(0), s(1))),
        Imp::Str2Str(g) => owned(g(s(0), s(1))),
        Imp::StrLength => Val::Int(s(0).len() as i64),
        Imp::StrReplace => {
            let count = n(3);
            let bytes = replaced_length(s(0), s(1), s(2), count);
            if bytes > crate::Limits::MAX_VALUE_BYTES {
                return Err(crate::Limits::value_too_large(bytes));
            }
            owned(if count < 0 {
                s(0).replace(s(1), s(2))
            } else {
                s(0).replacen(s(1), s(2), count as usize)
            })
        }
        Imp::StrSubstring => owned(substring(s(0), n(1), n(2))?.to_owned()),
        Imp::ToBool => to_bool(&args[0])?,
        Imp::ToInt => to_int(&args[0])?,
        Imp::ToFloat => to_float(&args[0])?,
        Imp::ToString => owned(to_string(&args[0])),
        Imp::ToDuration => to_duration(&args[0], args.get(1))?,
        Imp::TimePart(g) => match args[0] {
            Val::Time(t) => Val::Int(g(&go::civil(t))),
            _ => Val::Int(0),
        },
        Imp::UnixNano => match args[0] {
            Val::Time(t) => Val::Int(t),
            _ => Val::Int(0),
        },
        Imp::Now => Val::Time(now),
        Imp::HumanBytes => {
            let size = match args[0] {
                Val::Int(i) if i >= 0 => i as u64,
                Val::Float(x) if x >= 0.0 => x as u64,
                _ => return Err("cannot format a negative size".to_owned()),
            };
            owned(go::human_bytes(size))
        }
    })
}

pub(crate) fn type_message(index: usize, accepted: &[Type], found: Type) -> String {
    let hint = if accepted == FLOAT && found == Type::Int {
        "; convert with float()"
    } else {
        ""
    };
    format!(
        "argument {} must be {}, found {found}{hint}",
        index + 1,
        describe(accepted)
    )
}

fn substring(s: &str, start: i64, stop: i64) -> Result<&str, String> {
    if start < 0 || stop < 0 {
        return Err(format!(
            "found negative index: {}",
            if start < 0 { start } else { stop }
        ));
    }
    let (start, stop) = (start as usize, stop as usize);
    if stop > s.len() {
        return Err(format!(
            "stop index {stop} is past the end of the string (length {})",
            s.len()
        ));
    }
    if start > stop {
        return Err(format!("start index {start} is after stop index {stop}"));
    }
    s.get(start..stop)
        .ok_or_else(|| format!("indexes {start}..{stop} do not fall on character boundaries"))
}

fn to_bool<'a>(v: &Val<'a>) -> Result<Val<'a>, String> {
    Ok(Val::Bool(match v {
        Val::Bool(b) => *b,
        // Go's strconv.ParseBool.
        Val::Str(s) => match s.as_ref() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            other => return Err(format!("cannot convert string {other:?} to bool")),
        },
        Val::Int(0) => false,
        Val::Int(1) => true,
        Val::Float(x) if *x == 0.0 => false,
        Val::Float(x) if *x == 1.0 => true,
        Val::Int(i) => return Err(format!("cannot convert {i} to bool")),
        Val::Float(x) => {
            return Err(format!("cannot convert {} to bool", go::format_float(*x)));
        }
        other => return Err(format!("cannot convert {} to bool", other.type_of())),
    }))
}

fn to_int<'a>(v: &Val<'a>) -> Result<Val<'a>, String> {
    Ok(Val::Int(match v {
        Val::Int(i) => *i,
        // Go's int64(f) truncates toward zero; out-of-range values saturate here.
        Val::Float(x) => *x as i64,
        Val::Str(s) => s
            .parse::<i64>()
            .map_err(|_| format!("cannot convert string {s:?} to int"))?,
        Val::Bool(b) => i64::from(*b),
        Val::Duration(d) => *d,
        Val::Time(t) => *t,
    }))
}

fn to_float<'a>(v: &Val<'a>) -> Result<Val<'a>, String> {
    Ok(Val::Float(match v {
        Val::Int(i) => *i as f64,
        Val::Float(x) => *x,
        Val::Str(s) => s
            .parse::<f64>()
            .map_err(|_| format!("cannot convert string {s:?} to float"))?,
        Val::Bool(b) => f64::from(u8::from(*b)),
        other => return Err(format!("cannot convert {} to float", other.type_of())),
    }))
}

pub(crate) fn to_string(v: &Val<'_>) -> String {
    match v {
        Val::Int(i) => i.to_string(),
        Val::Float(x) => go::format_float(*x),
        Val::Str(s) => s.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Duration(d) => go::format_duration_influx(*d),
        Val::Time(t) => go::format_rfc3339_nano(*t),
    }
}

fn to_duration<'a>(v: &Val<'a>, unit: Option<&Val<'a>>) -> Result<Val<'a>, String> {
    let unit = || match unit {
        Some(Val::Duration(u)) => Ok(*u),
        _ => Err("an int or float value needs a unit: duration(value, 1s)".to_owned()),
    };
    Ok(Val::Duration(match v {
        Val::Duration(d) => *d,
        Val::Int(i) => i.wrapping_mul(unit()?),
        Val::Float(x) => (x * unit()? as f64) as i64,
        Val::Str(s) => parse_duration(s).ok_or_else(|| format!("invalid duration string {s:?}"))?,
        other => return Err(format!("cannot convert {} to duration", other.type_of())),
    }))
}

/// InfluxQL duration strings: one or more `<int><unit>` segments (`1h30m`), units `ns u µ ms s
/// m h d w`, optionally negative.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = [
            ("ns", 1),
            ("ms", 1_000_000),
            ("u", 1_000),
            ("µ", 1_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
            ("d", 86_400_000_000_000),
            ("w", 604_800_000_000_000),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, scale)| (scale, u.len()))?;
        rest = &rest[len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(if neg { -total } else { total })
}

fn pow10(n: i64) -> f64 {
    match n {
        ..-323 => 0.0,
        309.. => f64::INFINITY,
        n => libm::pow(10.0, n as f64),
    }
}

/// Go's `math.Max`: +Inf wins, then NaN, and +0 beats -0.
fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        f64::INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() { y } else { x }
    } else if x > y {
        x
    } else {
        y
    }
}

/// Go's `math.Min`: -Inf wins, then NaN, and -0 beats +0.
fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if x == 0.0 && y == 0.0 {
        if x.is_sign_negative() { x } else { y }
    } else if x < y {
        x
    } else {
        y
    }
}

/// Go's `math.Logb`: the binary exponent of x.
fn logb(x: f64) -> f64 {
    if x == 0.0 {
        f64::NEG_INFINITY
    } else if x.is_infinite() {
        f64::INFINITY
    } else if x.is_nan() {
        x
    } else {
        f64::from(libm::ilogb(x))
    }
}

fn go_mod(x: f64, y: f64) -> f64 {
    x % y
}

fn str_count(s: &str, sep: &str) -> i64 {
    if sep.is_empty() {
        s.chars().count() as i64 + 1
    } else {
        s.matches(sep).count() as i64
    }
}

fn index_or_minus_one(i: Option<usize>) -> i64 {
    i.map_or(-1, |i| i as i64)
}

/// Every stateless function, sorted by name for binary search.
pub(crate) static FUNCS: &[FuncDef] = &[
    FuncDef {
        name: "abs",
        imp: Imp::Math1(f64::abs),
    },
    FuncDef {
        name: "acos",
        imp: Imp::Math1(f64::acos),
    },
    FuncDef {
        name: "acosh",
        imp: Imp::Math1(f64::acosh),
    },
    FuncDef {
        name: "asin",
        imp: Imp::Math1(f64::asin),
    },
    FuncDef {
        name: "asinh",
        imp: Imp::Math1(f64::asinh),
    },
    FuncDef {
        name: "atan",
        imp: Imp::Math1(f64::atan),
    },
    FuncDef {
        name: "atan2",
        imp: Imp::Math2(f64::atan2),
    },
    FuncDef {
        name: "atanh",
        imp: Imp::Math1(f64::atanh),
    },
    FuncDef {
        name: "bool",
        imp: Imp::ToBool,
    },
    FuncDef {
        name: "cbrt",
        imp: Imp::Math1(f64::cbrt),
    },
    FuncDef {
        name: "ceil",
        imp: Imp::Math1(f64::ceil),
    },
    FuncDef {
        name: "cos",
        imp: Imp::Math1(f64::cos),
    },
    FuncDef {
        name: "cosh",
        imp: Imp::Math1(f64::cosh),
    },
    FuncDef {
        name: "day",
        imp: Imp::TimePart(|c| c.day.into()),
    },
    FuncDef {
        name: "duration",
        imp: Imp::ToDuration,
    },
    FuncDef {
        name: "erf",
        imp: Imp::Math1(libm::erf),
    },
    FuncDef {
        name: "erfc",
        imp: Imp::Math1(libm::erfc),
    },
    FuncDef {
        name: "exp",
        imp: Imp::Math1(f64::exp),
    },
    FuncDef {
        name: "exp2",
        imp: Imp::Math1(f64::exp2),
    },
    FuncDef {
        name: "expm1",
        imp: Imp::Math1(f64::exp_m1),
    },
    FuncDef {
        name: "float",
        imp: Imp::ToFloat,
    },
    FuncDef {
        name: "floor",
        imp: Imp::Math1(f64::floor),
    },
    FuncDef {
        name: "gamma",
        imp: Imp::Math1(libm::tgamma),
    },
    FuncDef {
        name: "hour",
        imp: Imp::TimePart(|c| c.hour.into()),
    },
    FuncDef {
        name: "humanBytes",
        imp: Imp::HumanBytes,
    },
    FuncDef {
        name: "hypot",
        imp: Imp::Math2(f64::hypot),
    },
    FuncDef {
        name: "int",
        imp: Imp::ToInt,
    },
    FuncDef {
        name: "j0",
        imp: Imp::Math1(libm::j0),
    },
    FuncDef {
        name: "j1",
        imp: Imp::Math1(libm::j1),
    },
    FuncDef {
        name: "jn",
        imp: Imp::MathIF(libm::jn),
    },
    FuncDef {
        name: "log",
        imp: Imp::Math1(f64::ln),
    },
    FuncDef {
        name: "log10",
        imp: Imp::Math1(f64::log10),
    },
    FuncDef {
        name: "log1p",
        imp: Imp::Math1(f64::ln_1p),
    },
    FuncDef {
        name: "log2",
        imp: Imp::Math1(f64::log2),
    },
    FuncDef {
        name: "logb",
        imp: Imp::Math1(logb),
    },
    FuncDef {
        name: "max",
        imp: Imp::Math2(go_max),
    },
    FuncDef {
        name: "min",
        imp: Imp::Math2(go_min),
    },
    FuncDef {
        name: "minute",
        imp: Imp::TimePart(|c| c.minute.into()),
    },
    FuncDef {
        name: "mod",
        imp: Imp::Math2(go_mod),
    },
    FuncDef {
        name: "month",
        imp: Imp::TimePart(|c| c.month.into()),
    },
    FuncDef {
        name: "now",
        imp: Imp::Now,
    },
    FuncDef {
        name: "pow",
        imp: Imp::Math2(f64::powf),
    },
    FuncDef {
        name: "pow10",
        imp: Imp::Pow10,
    },
    FuncDef {
        name: "sin",
        imp: Imp::Math1(f64::sin),
    },
    FuncDef {
        name: "sinh",
        imp: Imp::Math1(f64::sinh),
    },
    FuncDef {
        name: "sqrt",
        imp: Imp::Math1(f64::sqrt),
    },
    FuncDef {
        name: "strContains",
        imp: Imp::Str2Bool(|s, sub| s.contains(sub)),
    },
    FuncDef {
        name: "strContainsAny",
        imp: Imp::Str2Bool(|s, chars| s.chars().any(|c| chars.contains(c))),
    },
    FuncDef {
        name: "strCount",
        imp: Imp::Str2Int(str_count),
    },
    FuncDef {
        name: "strHasPrefix",
        imp: Imp::Str2Bool(|s, p| s.starts_with(p)),
    },
    FuncDef {
        name: "strHasSuffix",
        imp: Imp::Str2Bool(|s, p| s.ends_with(p)),
    },
    FuncDef {
        name: "strIndex",
        imp: Imp::Str2Int(|s, sub| index_or_minus_one(s.find(sub))),
    },
    FuncDef {
        name: "strIndexAny",
        imp: Imp::Str2Int(|s, chars| index_or_minus_one(s.find(|c| chars.contains(c)))),
    },
    FuncDef {
        name: "strLastIndex",
        imp: Imp::Str2Int(|s, sub| index_or_minus_one(s.rfind(sub))),
    },
    FuncDef {
        name: "strLastIndexAny",
        imp: Imp::Str2Int(|s, chars| index_or_minus_one(s.rfind(|c| chars.contains(c)))),
    },
    FuncDef {
        name: "strLength",
        imp: Imp::StrLength,
    },
    FuncDef {
        name: "strReplace",
        imp: Imp::StrReplace,
    },
    FuncDef {
        name: "strSubstring",
        imp: Imp::StrSubstring,
    },
    FuncDef {
        name: "strToLower",
        imp: Imp::Str1Str(str::to_lowercase),
    },
    FuncDef {
        name: "strToUpper",
        imp: Imp::Str1Str(str::to_uppercase),
    },
    FuncDef {
        name: "strTrim",
        imp: Imp::Str2Str(|s, cut| s.trim_matches(|c| cut.contains(c)).to_owned()),
    },
    FuncDef {
        name: "strTrimLeft",
        imp: Imp::Str2Str(|s, cut| s.trim_start_matches(|c| cut.contains(c)).to_owned()),
    },
    FuncDef {
        name: "strTrimPrefix",
        imp: Imp::Str2Str(|s, p| s.strip_prefix(p).unwrap_or(s).to_owned()),
    },
    FuncDef {
        name: "strTrimRight",
        imp: Imp::Str2Str(|s, cut| s.trim_end_matches(|c| cut.contains(c)).to_owned()),
    },
    FuncDef {
        name: "strTrimSpace",
        imp: Imp::Str1Str(|s| s.trim().to_owned()),
    },
    FuncDef {
        name: "strTrimSuffix",
        imp: Imp::Str2Str(|s, p| s.strip_suffix(p).unwrap_or(s).to_owned()),
    },
    FuncDef {
        name: "string",
        imp: Imp::ToString,
    },
    FuncDef {
        name: "tan",
        imp: Imp::Math1(f64::tan),
    },
    FuncDef {
        name: "tanh",
        imp: Imp::Math1(f64::tanh),
    },
    FuncDef {
        name: "trunc",
        imp: Imp::Math1(f64::trunc),
    },
    FuncDef {
        name: "unixNano",
        imp: Imp::UnixNano,
    },
    FuncDef {
        name: "weekday",
        imp: Imp::TimePart(|c| c.weekday.into()),
    },
    FuncDef {
        name: "y0",
        imp: Imp::Math1(libm::y0),
    },
    FuncDef {
        name: "y1",
        imp: Imp::Math1(libm::y1),
    },
    FuncDef {
        name: "year",
        imp: Imp::TimePart(|c| c.year),
    },
    FuncDef {
        name: "yn",
        imp: Imp::MathIF(libm::yn),
    },
];

pub(crate) fn lookup(name: &str) -> Option<&'static FuncDef> {
    FUNCS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_so_lookup_finds_everything() {
        for pair in FUNCS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} >= {}",
                pair[0].name,
                pair[1].name
            );
        }
        for f in FUNCS {
            assert_eq!(lookup(f.name).map(|d| d.name), Some(f.name));
        }
        assert!(lookup("nope").is_none());
    }

    #[test]
    fn go_min_max_and_logb_special_cases() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert_eq!(go_max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert!(go_max(-0.0, 0.0).is_sign_positive());
        assert!(go_min(-0.0, 0.0).is_sign_negative());
        assert_eq!(go_min(f64::NAN, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(logb(8.0), 3.0);
        assert_eq!(logb(0.1), -4.0);
        assert_eq!(logb(0.0), f64::NEG_INFINITY);
        assert_eq!(pow10(2), 100.0);
        assert_eq!(pow10(-400), 0.0);
        assert_eq!(pow10(400), f64::INFINITY);
    }

    #[test]
    fn durations_parse_like_influxql() {
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("10s"), Some(10_000_000_000));
        assert_eq!(parse_duration("-5ms"), Some(-5_000_000));
        assert_eq!(parse_duration("3ns"), Some(3));
        assert_eq!(parse_duration("2u"), Some(2_000));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration("99999999999w"), None);
    }
}
