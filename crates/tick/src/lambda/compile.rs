//! Lambda AST → evaluator tree, with type checks wherever operand types are known.

use crate::ast::{BinaryOp, Expr, ExprKind, RegexLit, UnaryOp};
use crate::error::{CompileError, CompileErrorKind, OperatorError};
use crate::lambda::functions::{self, Imp, describe};
use crate::lambda::ir::{ContextFn, Node, Site, State, StatefulFn};
use crate::lambda::ops::{self, OpFail, Val};
use crate::limits::Limits;
use crate::value::{Type, Value};

/// How references and identifiers are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Task lambdas: references are fields then tags, `"time"` is the point time.
    Point,
    /// Topic-handler match expressions: references are tags; level names and context
    /// functions exist.
    Match,
}

pub(crate) struct Compiler {
    mode: Mode,
    limits: Limits,
    depth: usize,
    pub(crate) slots: Vec<State>,
}

type CResult<T> = Result<T, CompileError>;

/// A compiled sub-expression and its type when known at compile time.
type Typed = (Node, Option<Type>);

pub(crate) fn operator_error(
    fail: OpFail,
    op: &'static str,
    left: Type,
    right: Type,
    expr: String,
) -> OperatorError {
    match fail {
        OpFail::Mismatched => OperatorError::Mismatched {
            left,
            op,
            right,
            expr,
        },
        _ => OperatorError::Binary {
            left,
            op,
            right,
            expr,
        },
    }
}

fn site(expr: &Expr) -> Box<Site> {
    Box::new(Site {
        span: expr.span,
        text: expr.to_string().into_boxed_str(),
    })
}

impl Compiler {
    pub(crate) fn new(mode: Mode, limits: &Limits) -> Self {
        Compiler {
            mode,
            limits: *limits,
            depth: 0,
            slots: Vec::new(),
        }
    }

    pub(crate) fn compile(&mut self, expr: &Expr) -> CResult<Typed> {
        self.depth += 1;
        if self.depth > self.limits.depth() {
            return Err(CompileError::new(
                expr.span,
                CompileErrorKind::Invalid(self.limits.too_deep("")),
            ));
        }
        let result = self.compile_inner(expr);
        self.depth -= 1;
        result
    }

    fn compile_inner(&mut self, expr: &Expr) -> CResult<Typed> {
        let constant = |v: Value| {
            let t = v.type_of();
            Ok((Node::Const(v), Some(t)))
        };
        match &expr.kind {
            ExprKind::Int(i) => constant(Value::Int(*i)),
            ExprKind::Float(x) => constant(Value::Float(*x)),
            ExprKind::Str(s) => constant(Value::String(s.clone())),
            ExprKind::Bool(b) => constant(Value::Bool(*b)),
            ExprKind::Duration(d) => constant(Value::Duration(*d)),
            ExprKind::Regex(r) => Err(CompileError::new(
                expr.span,
                CompileErrorKind::Invalid(format!(
                    "a regex (/{}/) can only be the right operand of =~ or !~, or the first argument of regexReplace()",
                    r.source
                )),
            )),
            ExprKind::Ref(name) => Ok(match self.mode {
                Mode::Point if name == "time" => (Node::Time, Some(Type::Time)),
                Mode::Point => (Node::FieldOrTag(name.as_str().into(), expr.span), None),
                Mode::Match => (
                    Node::Tag(name.as_str().into(), expr.span),
                    Some(Type::String),
                ),
            }),
            ExprKind::Ident(name) => self.ident(name, expr),
            ExprKind::Star => Err(CompileError::new(
                expr.span,
                CompileErrorKind::Invalid("'*' is not a value in a lambda expression".to_owned()),
            )),
            ExprKind::Unary { op, operand } => self.unary(*op, operand, expr),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, expr),
            ExprKind::Call { name, args } => self.call(name, args, expr),
        }
    }

    fn ident(&mut self, name: &str, expr: &Expr) -> CResult<Typed> {
        if self.mode == Mode::Match {
            let level = match name {
                "OK" => Some(0),
                "INFO" => Some(1),
                "WARNING" => Some(2),
                "CRITICAL" => Some(3),
                _ => None,
            };
            if let Some(level) = level {
                return Ok((Node::Const(Value::Int(level)), Some(Type::Int)));
            }
        }
        let hint = match self.mode {
            Mode::Match => {
                "; match expressions know the levels OK, INFO, WARNING and CRITICAL, and tags are written in double quotes"
            }
            Mode::Point => {
                "; fields and tags are written in double quotes, strings in single quotes"
            }
        };
        Err(CompileError::new(
            expr.span,
            CompileErrorKind::UnknownIdentifier {
                name: name.to_owned(),
                hint: hint.to_owned(),
            },
        ))
    }

    fn unary(&mut self, op: UnaryOp, operand: &Expr, expr: &Expr) -> CResult<Typed> {
        let (inner, t) = self.compile(operand)?;
        let invalid = |operand_type: Type| {
            CompileError::new(
                expr.span,
                OperatorError::Unary {
                    op: op.symbol(),
                    operand: operand_type,
                    expr: expr.to_string(),
                },
            )
        };
        let result_type = match t {
            Some(t) => Some(ops::unary_type(op, t).ok_or_else(|| invalid(t))?),
            None => None,
        };
        if let Node::Const(v) = &inner
            && let Some(folded) = ops::unary(op, Val::borrowed(v))
        {
            return Ok((Node::Const(folded.into_value()), result_type));
        }
        Ok((
            Node::Unary {
                op,
                operand: Box::new(inner),
                site: site(expr),
            },
            result_type,
        ))
    }

    /// Checks `l op r` when types are known; with one side unknown, rejects a known side that no
    /// type could pair with.
    fn check_binary(
        &self,
        op: BinaryOp,
        l: Option<Type>,
        r: Option<Type>,
        expr: &Expr,
    ) -> CResult<Option<Type>> {
        const ALL: [Type; 6] = [
            Type::Int,
            Type::Float,
            Type::String,
            Type::Bool,
            Type::Duration,
            Type::Time,
        ];
        let fail = |f: OpFail, lt: Type, rt: Type| {
            CompileError::new(
                expr.span,
                operator_error(f, op.symbol(), lt, rt, expr.to_string()),
            )
        };
        let partial = |known: Type| {
            CompileError::new(
                expr.span,
                CompileErrorKind::Invalid(format!(
                    "invalid type to binary operator: {} does not take a {known} operand ({expr})",
                    op.symbol()
                )),
            )
        };
        match (l, r) {
            (Some(lt), Some(rt)) => ops::binary_type(op, lt, rt)
                .map(Some)
                .map_err(|f| fail(f, lt, rt)),
            (Some(lt), None) => {
                let fits: Vec<Type> = ALL
                    .into_iter()
                    .filter_map(|rt| ops::binary_type(op, lt, rt).ok())
                    .collect();
                if fits.is_empty() {
                    return Err(partial(lt));
                }
                Ok(Self::single(&fits))
            }
            (None, Some(rt)) => {
                let fits: Vec<Type> = ALL
                    .into_iter()
                    .filter_map(|lt| ops::binary_type(op, lt, rt).ok())
                    .collect();
                if fits.is_empty() {
                    return Err(partial(rt));
                }
                Ok(Self::single(&fits))
            }
            (None, None) => Ok(match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                    None
                }
                _ => Some(Type::Bool),
            }),
        }
    }

    /// The result type when every accepted pairing gives the same one.
    fn single(types: &[Type]) -> Option<Type> {
        let first = *types.first()?;
        types.iter().all(|t| *t == first).then_some(first)
    }

    fn binary(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, expr: &Expr) -> CResult<Typed> {
        if matches!(op, BinaryOp::RegexMatch | BinaryOp::RegexNotMatch) {
            return self.regex_match(op, lhs, rhs, expr);
        }
        let (l, lt) = self.compile(lhs)?;
        let (r, rt) = self.compile(rhs)?;
        let result_type = self.check_binary(op, lt, rt, expr)?;
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            return Ok((
                Node::Logic {
                    and: op == BinaryOp::And,
                    lhs: Box::new(l),
                    rhs: Box::new(r),
                    site: site(expr),
                },
                result_type,
            ));
        }
        if let (Node::Const(a), Node::Const(b)) = (&l, &r) {
            return match ops::binary(op, Val::borrowed(a), Val::borrowed(b)) {
                Ok(v) => Ok((Node::Const(v.into_value()), result_type)),
                Err(OpFail::DivisionByZero) => Err(CompileError::new(
                    expr.span,
                    CompileErrorKind::Invalid(format!("integer division by zero ({expr})")),
                )),
                Err(OpFail::TooLarge(bytes)) => Err(CompileError::new(
                    expr.span,
                    CompileErrorKind::Invalid(format!(
                        "{}: {} ({expr})",
                        op.symbol(),
                        crate::Limits::value_too_large(bytes)
                    )),
                )),
                Err(f) => Err(CompileError::new(
                    expr.span,
                    operator_error(f, op.symbol(), a.type_of(), b.type_of(), expr.to_string()),
                )),
            };
        }
        Ok((
            Node::Binary {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
                site: site(expr),
            },
            result_type,
        ))
    }

    fn regex_match(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, expr: &Expr) -> CResult<Typed> {
        let (l, lt) = self.compile(lhs)?;
        let ExprKind::Regex(RegexLit { regex, .. }) = &rhs.kind else {
            let rt = self.compile(rhs)?.1;
            return Err(CompileError::new(
                expr.span,
                CompileErrorKind::Invalid(format!(
                    "the right operand of {} must be a regex literal such as /^web-\\d+$/, found {} ({expr})",
                    op.symbol(),
                    rt.map_or("a field or tag", Type::name)
                )),
            ));
        };
        if let Some(lt) = lt
            && lt != Type::String
        {
            return Err(CompileError::new(
                expr.span,
                operator_error(
                    OpFail::Invalid,
                    op.symbol(),
                    lt,
                    Type::Regex,
                    expr.to_string(),
                ),
            ));
        }
        Ok((
            Node::RegexMatch {
                lhs: Box::new(l),
                regex: regex.clone(),
                negate: op == BinaryOp::RegexNotMatch,
                site: site(expr),
            },
            Some(Type::Bool),
        ))
    }

    fn arity(name: &str, args: &[Expr], min: usize, max: usize, expr: &Expr) -> CResult<()> {
        if (min..=max).contains(&args.len()) {
            return Ok(());
        }
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        let expected = if max == 0 {
            "no arguments".to_owned()
        } else if min == max {
            format!("exactly {min} {}", plural(min))
        } else {
            format!("{min} or {max} arguments")
        };
        Err(CompileError::new(
            expr.span,
            CompileErrorKind::Arity {
                name: name.to_owned(),
                expected,
                found: args.len(),
            },
        ))
    }

    fn expect_type(
        name: &str,
        index: usize,
        accepted: &[Type],
        found: Option<Type>,
        arg: &Expr,
    ) -> CResult<()> {
        match found {
            Some(t) if !accepted.contains(&t) => Err(CompileError::new(
                arg.span,
                CompileErrorKind::ArgumentType {
                    name: name.to_owned(),
                    index: index + 1,
                    expected: describe(accepted),
                    found: t,
                    expr: arg.to_string(),
                },
            )),
            _ => Ok(()),
        }
    }

    fn call(&mut self, name: &str, args: &[Expr], expr: &Expr) -> CResult<Typed> {
        if let Some(ctx) = self.context_fn(name, args, expr)? {
            return Ok(ctx);
        }
        match name {
            "isPresent" => {
                Self::arity(name, args, 1, 1, expr)?;
                let ExprKind::Ref(reference) = &args[0].kind else {
                    return Err(CompileError::new(
                        args[0].span,
                        CompileErrorKind::Invalid(format!(
                            "isPresent() takes a field or tag reference in double quotes, found {}",
                            args[0]
                        )),
                    ));
                };
                return Ok((
                    Node::IsPresent {
                        name: reference.as_str().into(),
                        tag_only: self.mode == Mode::Match,
                    },
                    Some(Type::Bool),
                ));
            }
            "if" => {
                Self::arity(name, args, 3, 3, expr)?;
                let (cond, ct) = self.compile(&args[0])?;
                Self::expect_type(name, 0, &[Type::Bool], ct, &args[0])?;
                let (then, tt) = self.compile(&args[1])?;
                let (otherwise, ot) = self.compile(&args[2])?;
                if let (Some(a), Some(b)) = (tt, ot)
                    && a != b
                {
                    return Err(CompileError::new(
                        expr.span,
                        CompileErrorKind::Invalid(format!(
                            "if() branches must have the same type, found {a} and {b} ({expr})"
                        )),
                    ));
                }
                return Ok((
                    Node::If {
                        cond: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                        site: site(expr),
                    },
                    tt.or(ot),
                ));
            }
            "regexReplace" => {
                Self::arity(name, args, 3, 3, expr)?;
                let ExprKind::Regex(RegexLit { regex, .. }) = &args[0].kind else {
                    return Err(CompileError::new(
                        args[0].span,
                        CompileErrorKind::Invalid(format!(
                            "the first argument of regexReplace() must be a regex literal such as /(\\d+)/, found {}",
                            args[0]
                        )),
                    ));
                };
                let (src, st) = self.compile(&args[1])?;
                Self::expect_type(name, 1, &[Type::String], st, &args[1])?;
                let (replacement, rt) = self.compile(&args[2])?;
                Self::expect_type(name, 2, &[Type::String], rt, &args[2])?;
                return Ok((
                    Node::RegexReplace {
                        regex: regex.clone(),
                        src: Box::new(src),
                        replacement: Box::new(replacement),
                        site: site(expr),
                    },
                    Some(Type::String),
                ));
            }
            _ => {}
        }
        let stateful = match name {
            "sigma" => Some(StatefulFn::Sigma),
            "count" => Some(StatefulFn::Count),
            "spread" => Some(StatefulFn::Spread),
            "rand" => Some(StatefulFn::Rand),
            _ => None,
        };
        if let Some(func) = stateful {
            return self.stateful(func, args, expr);
        }
        let Some(def) = functions::lookup(name) else {
            return Err(CompileError::new(
                expr.span,
                CompileErrorKind::UnknownFunction {
                    name: name.to_owned(),
                },
            ));
        };
        let (min, max) = def.imp.arity();
        Self::arity(name, args, min, max, expr)?;
        let mut nodes = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            let (node, t) = self.compile(arg)?;
            Self::expect_type(name, i, def.imp.accepts(i), t, arg)?;
            nodes.push(node);
        }
        // `now()` must not be folded: it is read at every evaluation.
        let foldable = !matches!(def.imp, Imp::Now);
        if foldable && nodes.iter().all(|n| matches!(n, Node::Const(_))) {
            let vals: Vec<Val<'_>> = nodes
                .iter()
                .map(|n| match n {
                    Node::Const(v) => Val::borrowed(v),
                    _ => Val::Bool(false),
                })
                .collect();
            return match functions::call(def.imp, &vals, 0) {
                Ok(v) => {
                    let v = v.into_value();
                    let t = v.type_of();
                    Ok((Node::Const(v), Some(t)))
                }
                Err(message) => Err(CompileError::new(
                    expr.span,
                    CompileErrorKind::Invalid(format!("{name}(): {message} ({expr})")),
                )),
            };
        }
        Ok((
            Node::Call {
                name: def.name,
                imp: def.imp,
                args: nodes.into_boxed_slice(),
                site: site(expr),
            },
            Some(def.imp.returns()),
        ))
    }

    fn stateful(&mut self, func: StatefulFn, args: &[Expr], expr: &Expr) -> CResult<Typed> {
        let name = func.name();
        let (arg, ret) = match func {
            StatefulFn::Count => {
                Self::arity(name, args, 0, 0, expr)?;
                (None, Type::Int)
            }
            StatefulFn::Sigma | StatefulFn::Spread => {
                Self::arity(name, args, 1, 1, expr)?;
                let (node, t) = self.compile(&args[0])?;
                Self::expect_type(name, 0, &[Type::Int, Type::Float], t, &args[0])?;
                (Some(Box::new(node)), Type::Float)
            }
            StatefulFn::Rand => {
                Self::arity(name, args, 0, 1, expr)?;
                match args.first() {
                    Some(arg) => {
                        let (node, t) = self.compile(arg)?;
                        Self::expect_type(name, 0, &[Type::Int], t, arg)?;
                        (Some(Box::new(node)), Type::Int)
                    }
                    None => (None, Type::Int),
                }
            }
        };
        let slot = self.slots.len();
        self.slots.push(func.initial());
        Ok((
            Node::Stateful {
                func,
                arg,
                slot,
                site: site(expr),
            },
            Some(ret),
        ))
    }

    fn context_fn(&mut self, name: &str, args: &[Expr], expr: &Expr) -> CResult<Option<Typed>> {
        let (f, t) = match name {
            "level" => (ContextFn::Level, Type::Int),
            "changed" => (ContextFn::Changed, Type::Bool),
            "name" => (ContextFn::Name, Type::String),
            "taskName" => (ContextFn::TaskName, Type::String),
            "alertDuration" => (ContextFn::AlertDuration, Type::Duration),
            _ => return Ok(None),
        };
        if self.mode != Mode::Match {
            return Err(CompileError::new(
                expr.span,
                CompileErrorKind::WrongMode {
                    name: name.to_owned(),
                    only_in: "topic-handler match expressions",
                },
            ));
        }
        Self::arity(name, args, 0, 0, expr)?;
        Ok(Some((Node::Context(f), Some(t))))
    }
}
