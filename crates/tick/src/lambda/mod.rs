//! Compiled lambda expressions: [`Lambda`] for task expressions evaluated against points and
//! [`MatchExpr`] for topic-handler match filters evaluated against alert events.

mod compile;
mod eval;
mod functions;
mod ir;
mod ops;

use crate::ast::Expr;
use crate::error::{CompileError, CompileErrorKind, Error, EvalError, EvalErrorKind};
use crate::limits::Limits;
use crate::point::{MatchContext, Point};
use crate::value::{Type, Value};

use compile::{Compiler, Mode};
use eval::{Ctx, MatchEnv, PointEnv};
use ir::{Node, State};

/// Options for compiling lambdas.
///
/// `now()` is the only wall-clock function; `clock` supplies it, so tests and replays can pin it.
///
/// ```
/// use klaxon_tick::{CompileOptions, Lambda, Value};
/// let options = CompileOptions { clock: || 42, ..CompileOptions::default() };
/// let mut lambda = Lambda::parse_with("unixNano(now())", &options).unwrap();
/// # struct P;
/// # impl klaxon_tick::Point for P {
/// #     fn field(&self, _: &str) -> Option<klaxon_tick::FieldValue<'_>> { None }
/// #     fn tag(&self, _: &str) -> Option<&str> { None }
/// #     fn time(&self) -> i64 { 0 }
/// #     fn name(&self) -> &str { "" }
/// # }
/// assert_eq!(lambda.eval(&P).unwrap(), Value::Int(42));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CompileOptions {
    /// Parse and compile limits.
    pub limits: Limits,
    /// Returns the current time in nanoseconds since the Unix epoch, for `now()`.
    pub clock: fn() -> i64,
}

impl Default for CompileOptions {
    /// Default limits and the system clock.
    fn default() -> Self {
        CompileOptions {
            limits: Limits::default(),
            clock: system_clock,
        }
    }
}

/// The system clock as nanoseconds since the epoch (0 if the clock is before 1970).
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[derive(Debug, Clone)]
struct Compiled {
    root: Node,
    state: Vec<State>,
    initial: Vec<State>,
    static_type: Option<Type>,
    text: String,
    span: crate::Span,
    clock: fn() -> i64,
}

impl Compiled {
    fn new(expr: &Expr, mode: Mode, options: &CompileOptions) -> Result<Self, CompileError> {
        let mut compiler = Compiler::new(mode, &options.limits);
        let (root, static_type) = compiler.compile(expr)?;
        Ok(Compiled {
            root,
            state: compiler.slots.clone(),
            initial: compiler.slots,
            static_type,
            text: expr.to_string(),
            span: expr.span,
            clock: options.clock,
        })
    }

    fn eval<E: eval::Env + ?Sized>(&mut self, env: &E) -> Result<Value, EvalError> {
        let mut cx = Ctx {
            state: &mut self.state,
            clock: self.clock,
            built: 0,
        };
        eval::eval(&self.root, &mut cx, env)
            .map(ops::Val::into_value)
            .map_err(|e| *e)
    }

    fn eval_bool<E: eval::Env + ?Sized>(&mut self, env: &E) -> Result<bool, EvalError> {
        let mut cx = Ctx {
            state: &mut self.state,
            clock: self.clock,
            built: 0,
        };
        match eval::eval(&self.root, &mut cx, env) {
            Ok(ops::Val::Bool(b)) => Ok(b),
            Ok(other) => Err(EvalError::new(
                self.span,
                EvalErrorKind::NotBool {
                    found: other.type_of(),
                    expr: self.text.clone(),
                },
            )),
            Err(e) => Err(*e),
        }
    }

    fn reset(&mut self) {
        self.state.clone_from(&self.initial);
    }

    fn require_bool(&self, expr: &Expr) -> Result<(), CompileError> {
        match self.static_type {
            Some(t) if t != Type::Bool => Err(CompileError::new(
                expr.span,
                CompileErrorKind::Invalid(format!(
                    "expression must be a bool, but it is a {t} ({expr})"
                )),
            )),
            _ => Ok(()),
        }
    }
}

/// A compiled task lambda (`where`, `eval`, alert levels...), evaluated against a [`Point`].
///
/// References read a field, else a tag; `"time"` is the point time. The lambda owns the state
/// of its stateful functions (`sigma`, `count`, `spread`), so `eval` takes `&mut self`; it is
/// `Send` and `Sync`. `Clone` copies the current state; [`Lambda::fresh`] gives a copy with
/// state reset.
///
/// ```
/// use klaxon_tick::{FieldValue, Lambda, Point, Value};
///
/// struct P(f64);
/// impl Point for P {
///     fn field(&self, name: &str) -> Option<FieldValue<'_>> {
///         (name == "value").then_some(FieldValue::Float(self.0))
///     }
///     fn tag(&self, _: &str) -> Option<&str> { None }
///     fn time(&self) -> i64 { 0 }
///     fn name(&self) -> &str { "cpu" }
/// }
///
/// let mut counter = Lambda::parse("count()").unwrap();
/// assert_eq!(counter.eval(&P(1.0)).unwrap(), Value::Int(1));
/// assert_eq!(counter.eval(&P(1.0)).unwrap(), Value::Int(2));
/// let mut copy = counter.fresh();
/// assert_eq!(copy.eval(&P(1.0)).unwrap(), Value::Int(1));
/// ```
#[derive(Debug, Clone)]
pub struct Lambda(Compiled);

/// Compiles a lambda expression for evaluation against points.
///
/// ```
/// use klaxon_tick::{compile_lambda, parse_lambda, CompileOptions, Limits, Type};
/// let expr = parse_lambda("\"value\" > 90.0", &Limits::default()).unwrap();
/// let lambda = compile_lambda(&expr, &CompileOptions::default()).unwrap();
/// assert_eq!(lambda.static_type(), Some(Type::Bool));
///
/// let bad = parse_lambda("level() > 1", &Limits::default()).unwrap();
/// let err = compile_lambda(&bad, &CompileOptions::default()).unwrap_err();
/// assert_eq!(err.to_string(), "line 1, column 1: level() is only available in topic-handler match expressions");
/// ```
pub fn compile_lambda(expr: &Expr, options: &CompileOptions) -> Result<Lambda, CompileError> {
    Compiled::new(expr, Mode::Point, options).map(Lambda)
}

impl Lambda {
    /// Parses (no `lambda:` prefix needed) and compiles with default options.
    pub fn parse(source: &str) -> Result<Lambda, Error> {
        Lambda::parse_with(source, &CompileOptions::default())
    }

    /// Parses and compiles with the given options.
    pub fn parse_with(source: &str, options: &CompileOptions) -> Result<Lambda, Error> {
        let expr = crate::parser::parse_lambda(source, &options.limits)?;
        Ok(compile_lambda(&expr, options)?)
    }

    /// Evaluates against a point.
    pub fn eval<P: Point + ?Sized>(&mut self, point: &P) -> Result<Value, EvalError> {
        self.0.eval(&PointEnv(point))
    }

    /// Evaluates a predicate; a non-bool result is an error.
    pub fn eval_bool<P: Point + ?Sized>(&mut self, point: &P) -> Result<bool, EvalError> {
        self.0.eval_bool(&PointEnv(point))
    }

    /// The result type, when it is known without evaluating (`None` when it depends on the
    /// point, e.g. a bare reference).
    pub fn static_type(&self) -> Option<Type> {
        self.0.static_type
    }

    /// Fails when the result type is known and is not bool: for predicates such as `.crit()`.
    ///
    /// ```
    /// use klaxon_tick::{compile_lambda, parse_lambda, CompileOptions, Limits};
    /// let expr = parse_lambda("\"value\"", &Limits::default()).unwrap();
    /// let lambda = compile_lambda(&expr, &CompileOptions::default()).unwrap();
    /// assert!(lambda.require_bool(&expr).is_ok()); // unknown until evaluated
    /// let expr = parse_lambda("1 + 1", &Limits::default()).unwrap();
    /// let lambda = compile_lambda(&expr, &CompileOptions::default()).unwrap();
    /// assert!(lambda.require_bool(&expr).is_err());
    /// ```
    pub fn require_bool(&self, expr: &Expr) -> Result<(), CompileError> {
        self.0.require_bool(expr)
    }

    /// Clears the state of stateful functions.
    pub fn reset(&mut self) {
        self.0.reset();
    }

    /// Whether the expression calls a stateful function (`sigma`, `count`, `spread`), whose state
    /// a node keeps per group.
    ///
    /// ```
    /// assert!(klaxon_tick::Lambda::parse("count() > 1").unwrap().is_stateful());
    /// assert!(!klaxon_tick::Lambda::parse("\"value\" > 1").unwrap().is_stateful());
    /// ```
    pub fn is_stateful(&self) -> bool {
        !self.0.initial.is_empty()
    }

    /// A copy with stateful-function state reset (for a new group, say).
    pub fn fresh(&self) -> Lambda {
        let mut copy = self.clone();
        copy.reset();
        copy
    }

    /// The expression's canonical text.
    pub fn text(&self) -> &str {
        &self.0.text
    }
}

/// A compiled topic-handler `match` expression, evaluated against a [`MatchContext`].
///
/// References are tags only; `OK`, `INFO`, `WARNING`, `CRITICAL` are the ints 0 to 3; the
/// functions `level()`, `changed()`, `name()`, `taskName()` and `alertDuration()` come from the
/// context. State and cloning behave as for [`Lambda`].
///
/// ```
/// let err = klaxon_tick::MatchExpr::parse("\"host\" == 'a' AND level() == CRIT").unwrap_err();
/// assert!(err.to_string().starts_with("line 1, column 30: unknown identifier \"CRIT\""));
/// ```
#[derive(Debug, Clone)]
pub struct MatchExpr(Compiled);

/// Compiles a lambda expression as a topic-handler match filter; its type must be bool when
/// known.
///
/// ```
/// use klaxon_tick::{compile_match, parse_lambda, CompileOptions, Limits};
/// let expr = parse_lambda("alertDuration() < 1m", &Limits::default()).unwrap();
/// assert!(compile_match(&expr, &CompileOptions::default()).is_ok());
/// let expr = parse_lambda("level()", &Limits::default()).unwrap();
/// assert!(compile_match(&expr, &CompileOptions::default()).is_err());
/// ```
pub fn compile_match(expr: &Expr, options: &CompileOptions) -> Result<MatchExpr, CompileError> {
    let compiled = Compiled::new(expr, Mode::Match, options)?;
    compiled.require_bool(expr)?;
    Ok(MatchExpr(compiled))
}

impl MatchExpr {
    /// Parses and compiles with default options.
    pub fn parse(source: &str) -> Result<MatchExpr, Error> {
        MatchExpr::parse_with(source, &CompileOptions::default())
    }

    /// Parses and compiles with the given options.
    pub fn parse_with(source: &str, options: &CompileOptions) -> Result<MatchExpr, Error> {
        let expr = crate::parser::parse_lambda(source, &options.limits)?;
        Ok(compile_match(&expr, options)?)
    }

    /// Evaluates to a value.
    pub fn eval<C: MatchContext + ?Sized>(&mut self, context: &C) -> Result<Value, EvalError> {
        self.0.eval(&MatchEnv(context))
    }

    /// Whether the event matches; a non-bool result is an error.
    pub fn matches<C: MatchContext + ?Sized>(&mut self, context: &C) -> Result<bool, EvalError> {
        self.0.eval_bool(&MatchEnv(context))
    }

    /// Clears the state of stateful functions.
    pub fn reset(&mut self) {
        self.0.reset();
    }

    /// The expression's canonical text.
    pub fn text(&self) -> &str {
        &self.0.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn compiled_expressions_are_send_sync_and_clone() {
        assert_send_sync::<Lambda>();
        assert_send_sync::<MatchExpr>();
    }
}
