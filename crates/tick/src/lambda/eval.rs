//! Walks the compiled tree. Values borrow from the point and from the tree, so evaluating a
//! comparison of a field with a constant does not allocate.

use std::borrow::Cow;

use crate::ast::BinaryOp;
use crate::error::{EvalError, EvalErrorKind};
use crate::lambda::compile::operator_error;
use crate::lambda::functions;
use crate::lambda::ir::{ContextFn, Node, Site, State, StatefulFn};
use crate::lambda::ops::{self, OpFail, Val};
use crate::point::{MatchContext, Point};
use crate::value::{FieldValue, Type};

/// What an evaluation reads; implemented for points and for match contexts.
pub(crate) trait Env {
    fn field(&self, name: &str) -> Option<FieldValue<'_>>;
    fn tag(&self, name: &str) -> Option<&str>;
    fn time(&self) -> i64;
    fn context(&self, f: ContextFn) -> Val<'_>;
}

pub(crate) struct PointEnv<'p, P: ?Sized>(pub &'p P);

impl<P: Point + ?Sized> Env for PointEnv<'_, P> {
    #[inline]
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        self.0.field(name)
    }
    #[inline]
    fn tag(&self, name: &str) -> Option<&str> {
        self.0.tag(name)
    }
    fn time(&self) -> i64 {
        self.0.time()
    }
    /// Unreachable in practice: the compiler rejects context functions in point mode.
    fn context(&self, _: ContextFn) -> Val<'_> {
        Val::Bool(false)
    }
}

pub(crate) struct MatchEnv<'c, C: ?Sized>(pub &'c C);

impl<C: MatchContext + ?Sized> Env for MatchEnv<'_, C> {
    /// Match expressions see no fields.
    fn field(&self, _: &str) -> Option<FieldValue<'_>> {
        None
    }
    #[inline]
    fn tag(&self, name: &str) -> Option<&str> {
        self.0.tag(name)
    }
    /// Unreachable in practice: `"time"` is a tag in match mode.
    fn time(&self) -> i64 {
        0
    }
    fn context(&self, f: ContextFn) -> Val<'_> {
        match f {
            ContextFn::Level => Val::Int(self.0.level()),
            ContextFn::Changed => Val::Bool(self.0.changed()),
            ContextFn::Name => Val::Str(Cow::Borrowed(self.0.name())),
            ContextFn::TaskName => Val::Str(Cow::Borrowed(self.0.task_name())),
            ContextFn::AlertDuration => Val::Duration(self.0.alert_duration()),
        }
    }
}

type EResult<'a> = Result<Val<'a>, Box<EvalError>>;

fn err(site: &Site, kind: impl Into<EvalErrorKind>) -> Box<EvalError> {
    Box::new(EvalError::new(site.span, kind))
}

fn field_value<'a>(name: &str, v: FieldValue<'a>, span: crate::Span) -> EResult<'a> {
    Ok(match v {
        FieldValue::Float(x) => Val::Float(x),
        FieldValue::Int(i) => Val::Int(i),
        FieldValue::UInt(u) => match i64::try_from(u) {
            Ok(i) => Val::Int(i),
            Err(_) => {
                return Err(Box::new(EvalError::new(
                    span,
                    EvalErrorKind::UnsignedOverflow {
                        name: name.to_owned(),
                        value: u,
                    },
                )));
            }
        },
        FieldValue::Str(s) => Val::Str(Cow::Borrowed(s)),
        FieldValue::Bool(b) => Val::Bool(b),
    })
}

/// Evaluation state that is not borrowed by results.
pub(crate) struct Ctx<'s> {
    pub state: &'s mut [State],
    pub clock: fn() -> i64,
    /// Bytes of strings built so far by this evaluation.
    pub built: usize,
}

impl Ctx<'_> {
    /// Counts a string just built against [`crate::Limits::MAX_EVALUATION_BYTES`].
    fn charge<'a>(&mut self, value: Val<'a>, site: &Site) -> EResult<'a> {
        if let Val::Str(Cow::Owned(s)) = &value {
            self.built = self.built.saturating_add(s.len());
            if self.built > crate::Limits::MAX_EVALUATION_BYTES {
                return Err(err(
                    site,
                    EvalErrorKind::TooLarge {
                        message: format!(
                            "the expression built more than {} bytes of strings in one \
                             evaluation",
                            crate::Limits::MAX_EVALUATION_BYTES
                        ),
                        expr: site.text.to_string(),
                    },
                ));
            }
        }
        Ok(value)
    }
}

pub(crate) fn eval<'a, E: Env + ?Sized>(
    node: &'a Node,
    cx: &mut Ctx<'_>,
    env: &'a E,
) -> EResult<'a> {
    match node {
        Node::Const(v) => Ok(Val::borrowed(v)),
        Node::FieldOrTag(name, span) => {
            if let Some(v) = env.field(name) {
                return field_value(name, v, *span);
            }
            match env.tag(name) {
                Some(t) => Ok(Val::Str(Cow::Borrowed(t))),
                None => Err(Box::new(EvalError::new(
                    *span,
                    EvalErrorKind::MissingReference {
                        name: name.to_string(),
                    },
                ))),
            }
        }
        Node::Tag(name, span) => match env.tag(name) {
            Some(t) => Ok(Val::Str(Cow::Borrowed(t))),
            None => Err(Box::new(EvalError::new(
                *span,
                EvalErrorKind::MissingTag {
                    name: name.to_string(),
                },
            ))),
        },
        Node::Time => Ok(Val::Time(env.time())),
        Node::Unary { op, operand, site } => {
            let v = eval(operand, cx, env)?;
            let t = v.type_of();
            ops::unary(*op, v).ok_or_else(|| {
                err(
                    site,
                    crate::error::OperatorError::Unary {
                        op: op.symbol(),
                        operand: t,
                        expr: site.text.to_string(),
                    },
                )
            })
        }
        Node::Binary { op, lhs, rhs, site } => {
            let l = eval(lhs, cx, env)?;
            let r = eval(rhs, cx, env)?;
            let (lt, rt) = (l.type_of(), r.type_of());
            let value = ops::binary(*op, l, r).map_err(|f| binary_error(f, *op, lt, rt, site))?;
            cx.charge(value, site)
        }
        Node::Logic {
            and,
            lhs,
            rhs,
            site,
        } => {
            let l = eval_bool_operand(lhs, cx, env, *and, site, true)?;
            // Short circuit: FALSE AND x, TRUE OR x.
            if l != *and {
                return Ok(Val::Bool(l));
            }
            Ok(Val::Bool(eval_bool_operand(
                rhs, cx, env, *and, site, false,
            )?))
        }
        Node::RegexMatch {
            lhs,
            regex,
            negate,
            site,
        } => match eval(lhs, cx, env)? {
            Val::Str(s) => Ok(Val::Bool(regex.is_match(&s) != *negate)),
            other => Err(binary_error(
                OpFail::Invalid,
                if *negate {
                    BinaryOp::RegexNotMatch
                } else {
                    BinaryOp::RegexMatch
                },
                other.type_of(),
                Type::Regex,
                site,
            )),
        },
        Node::Call {
            name,
            imp,
            args,
            site,
        } => {
            let mut vals: [Val<'a>; 4] = [Val::Int(0), Val::Int(0), Val::Int(0), Val::Int(0)];
            for (slot, arg) in vals.iter_mut().zip(args.iter()) {
                *slot = eval(arg, cx, env)?;
            }
            let now = if matches!(imp, functions::Imp::Now) {
                (cx.clock)()
            } else {
                0
            };
            let value = functions::call(*imp, &vals[..args.len()], now).map_err(|message| {
                err(
                    site,
                    EvalErrorKind::Function {
                        name,
                        message,
                        expr: site.text.to_string(),
                    },
                )
            })?;
            cx.charge(value, site)
        }
        Node::RegexReplace {
            regex,
            src,
            replacement,
            site,
        } => {
            let s = eval(src, cx, env)?;
            let r = eval(replacement, cx, env)?;
            match (s, r) {
                (Val::Str(s), Val::Str(r)) => {
                    let mut bounded = Bounded {
                        replacement: r.as_ref(),
                        over: None,
                    };
                    let replaced = regex.replace_all(&s, &mut bounded).into_owned();
                    if let Some(bytes) = bounded.over {
                        return Err(err(
                            site,
                            EvalErrorKind::Function {
                                name: "regexReplace",
                                message: crate::Limits::value_too_large(bytes),
                                expr: site.text.to_string(),
                            },
                        ));
                    }
                    cx.charge(Val::Str(Cow::Owned(replaced)), site)
                }
                (s, r) => {
                    let (index, found) = if s.type_of() == Type::String {
                        (3, r.type_of())
                    } else {
                        (2, s.type_of())
                    };
                    Err(err(
                        site,
                        EvalErrorKind::Function {
                            name: "regexReplace",
                            message: format!("argument {index} must be string, found {found}"),
                            expr: site.text.to_string(),
                        },
                    ))
                }
            }
        }
        Node::IsPresent { name, tag_only } => Ok(Val::Bool(
            env.tag(name).is_some()
                || (!tag_only && (name.as_ref() == "time" || env.field(name).is_some())),
        )),
        Node::If {
            cond,
            then,
            otherwise,
            site,
        } => match eval(cond, cx, env)? {
            Val::Bool(true) => eval(then, cx, env),
            Val::Bool(false) => eval(otherwise, cx, env),
            other => Err(err(
                site,
                EvalErrorKind::Function {
                    name: "if",
                    message: format!("argument 1 must be bool, found {}", other.type_of()),
                    expr: site.text.to_string(),
                },
            )),
        },
        Node::Stateful {
            func,
            arg,
            slot,
            site,
        } if *func == StatefulFn::Rand => {
            let bound = match arg {
                Some(arg) => match eval(arg, cx, env)? {
                    Val::Int(n) if n > 0 => Some(n.unsigned_abs()),
                    // Kapacitor's generator answers 0 for an empty range (its TestStream_EvalRand).
                    Val::Int(0) => return Ok(Val::Int(0)),
                    other => {
                        return Err(err(
                            site,
                            EvalErrorKind::Function {
                                name: "rand",
                                message: format!(
                                    "the bound must be a non-negative int, found {}",
                                    other.into_value()
                                ),
                                expr: site.text.to_string(),
                            },
                        ));
                    }
                },
                None => None,
            };
            let clock = cx.clock;
            let State::Rand(state) = &mut cx.state[*slot] else {
                return Ok(Val::Int(0));
            };
            Ok(Val::Int(random(state, *slot, clock, bound)))
        }
        Node::Stateful {
            func,
            arg,
            slot,
            site,
        } => {
            let x = match arg {
                Some(arg) => match eval(arg, cx, env)? {
                    Val::Float(x) => x,
                    Val::Int(i) => i as f64,
                    other => {
                        return Err(err(
                            site,
                            EvalErrorKind::Function {
                                name: func.name(),
                                message: format!(
                                    "argument 1 must be int or float, found {}",
                                    other.type_of()
                                ),
                                expr: site.text.to_string(),
                            },
                        ));
                    }
                },
                None => 0.0,
            };
            Ok(step(*func, &mut cx.state[*slot], x))
        }
        Node::Context(f) => Ok(env.context(*f)),
    }
}

fn eval_bool_operand<'a, E: Env + ?Sized>(
    node: &'a Node,
    cx: &mut Ctx<'_>,
    env: &'a E,
    and: bool,
    site: &Site,
    left: bool,
) -> Result<bool, Box<EvalError>> {
    match eval(node, cx, env)? {
        Val::Bool(b) => Ok(b),
        other => {
            let op = if and { BinaryOp::And } else { BinaryOp::Or };
            let (lt, rt) = if left {
                (other.type_of(), Type::Bool)
            } else {
                (Type::Bool, other.type_of())
            };
            Err(binary_error(OpFail::Invalid, op, lt, rt, site))
        }
    }
}

/// `regexReplace`'s replacer, which stops expanding once the output would pass
/// [`crate::Limits::MAX_VALUE_BYTES`] (so a pattern matching everywhere with a long replacement
/// cannot build gigabytes), and says how far it got.
struct Bounded<'r> {
    replacement: &'r str,
    over: Option<usize>,
}

impl regex::Replacer for &mut Bounded<'_> {
    fn replace_append(&mut self, caps: &regex::Captures<'_>, dst: &mut String) {
        if self.over.is_some() {
            return;
        }
        let before = dst.len();
        caps.expand(self.replacement, dst);
        if dst.len() > crate::Limits::MAX_VALUE_BYTES {
            self.over = Some(dst.len());
            dst.truncate(before);
        }
    }
}

#[cold]
fn binary_error(f: OpFail, op: BinaryOp, lt: Type, rt: Type, site: &Site) -> Box<EvalError> {
    let text = site.text.to_string();
    match f {
        OpFail::DivisionByZero => err(site, EvalErrorKind::DivisionByZero { expr: text }),
        OpFail::TooLarge(bytes) => err(
            site,
            EvalErrorKind::TooLarge {
                message: format!("{}: {}", op.symbol(), crate::Limits::value_too_large(bytes)),
                expr: text,
            },
        ),
        f => err(site, operator_error(f, op.symbol(), lt, rt, text)),
    }
}

/// The next value of a `rand()` call site: a non-negative int, below `bound` when given, as
/// Kapacitor's. The generator is splitmix64, seeded from the clock and the site at first use.
fn random(state: &mut u64, slot: usize, clock: fn() -> i64, bound: Option<u64>) -> i64 {
    if *state == 0 {
        *state = (clock() as u64) ^ ((slot as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
    }
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let n = match bound {
        Some(bound) => z % bound,
        None => z,
    };
    (n & (i64::MAX as u64)) as i64
}

/// Advances a stateful function by one value and returns its result.
fn step<'a>(func: StatefulFn, state: &mut State, x: f64) -> Val<'a> {
    match (func, state) {
        (StatefulFn::Count, State::Count(n)) => {
            *n += 1;
            Val::Int(*n)
        }
        // Welford's algorithm, including the current value; sample variance (n - 1).
        (StatefulFn::Sigma, State::Sigma { n, mean, m2 }) => {
            *n += 1.0;
            let delta = x - *mean;
            *mean += delta / *n;
            *m2 += delta * (x - *mean);
            let variance = *m2 / (*n - 1.0);
            if *n < 2.0 || variance == 0.0 {
                Val::Float(0.0)
            } else {
                Val::Float((x - *mean).abs() / variance.sqrt())
            }
        }
        (StatefulFn::Spread, State::Spread { min, max }) => {
            if x < *min {
                *min = x;
            }
            if x > *max {
                *max = x;
            }
            Val::Float(*max - *min)
        }
        // Slots are created with the state of their function, so this arm is never taken.
        (func, state) => {
            *state = func.initial();
            step(func, state, x)
        }
    }
}
