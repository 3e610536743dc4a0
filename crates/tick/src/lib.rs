//! klaxon-tick: the TICKscript language for Klaxon.
//!
//! Alert tasks are written in TICKscript, and topic-handler `match` filters are TICKscript lambda
//! expressions. This crate reads both and evaluates lambdas fast. It is pure: no IO, no async;
//! it knows nothing of handlers or the engine, which check node and property names against their
//! own schema.
//!
//! - [`parse`] turns a script into a [`Script`] syntax tree where every statement, chain link,
//!   argument and expression carries a [`Span`] (line, column, byte range).
//! - [`resolve`] turns a [`Script`] into a [`Program`]: dbrp statements, variables substituted,
//!   nodes numbered in creation order (`stream0`, `from1`, `alert2`) with their parents and
//!   their ordered, uninterpreted `.property()` calls. [`compile_script`] does both.
//! - [`compile_lambda`] compiles an expression (from a `lambda:` argument or [`parse_lambda`])
//!   into a [`Lambda`], evaluated against anything implementing [`Point`];
//!   [`compile_match`] / [`MatchExpr::parse`] compile a topic-handler match filter evaluated
//!   against a [`MatchContext`].
//!
//! Errors say where and what: `line 4, column 17: expected ')' after argument list, found '.'`,
//! and [`ParseError::snippet`] adds the source line with a caret under the column.
//!
//! ```
//! use klaxon_tick::{compile_lambda, compile_script, CompileOptions, FieldValue, Point};
//!
//! struct Cpu { usage_idle: f64 }
//! impl Point for Cpu {
//!     fn field(&self, name: &str) -> Option<FieldValue<'_>> {
//!         (name == "usage_idle").then_some(FieldValue::Float(self.usage_idle))
//!     }
//!     fn tag(&self, _: &str) -> Option<&str> { None }
//!     fn time(&self) -> i64 { 0 }
//!     fn name(&self) -> &str { "cpu" }
//! }
//!
//! let program = compile_script(
//!     "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .tcp('127.0.0.1:7777')",
//! )
//! .unwrap();
//! let alert = &program.nodes[2];
//! assert_eq!(alert.id(), "alert2");
//! let crit = alert.properties[0].arg(0).as_lambda().unwrap();
//! let mut crit = compile_lambda(crit, &CompileOptions::default()).unwrap();
//! assert!(crit.eval_bool(&Cpu { usage_idle: 3.0 }).unwrap());
//! assert_eq!(alert.properties[1].name, "tcp");
//! ```

mod args;
mod ast;
mod error;
mod go;
mod lambda;
mod lexer;
mod limits;
mod parser;
mod point;
mod program;
mod span;
mod value;
mod vars;

pub use args::ArgRef;
pub use ast::{
    Arg, ArgValue, BinaryOp, Chain, DbrpStmt, Expr, ExprKind, Link, LinkKind, RegexLit, Script,
    Statement, UnaryOp, VarDecl, VarType, VarValue,
};
pub use error::{
    ArgError, CompileError, CompileErrorKind, Error, EvalError, EvalErrorKind, OperatorError,
    ParseError, ResolveError, Snippet,
};
pub use lambda::{CompileOptions, Lambda, MatchExpr, compile_lambda, compile_match, system_clock};
pub use limits::Limits;
pub use parser::{parse, parse_lambda, parse_with};
pub use point::{MatchContext, Point};
pub use program::{
    Dbrp, Node, Program, Property, compile_script, compile_script_with, resolve, resolve_template,
    resolve_with, resolve_with_vars,
};
pub use span::Span;
pub use value::{FieldValue, Type, Value};
pub use vars::{DeclaredVar, TaskVar, TaskVars, apply_vars};
