//! The resolved pipeline program: variables substituted, nodes numbered in creation order,
//! properties attached to their node in source order.

use std::collections::HashMap;

use crate::args::ArgRef;
use crate::ast::{Arg, ArgValue, Chain, Expr, ExprKind, LinkKind, Script, Statement, VarValue};
use crate::error::{ArgError, Error, ResolveError};
use crate::limits::Limits;
use crate::span::Span;

/// A pipeline the engine can walk.
///
/// Nodes are numbered in creation order as Kapacitor does: the implicit source (`stream` or
/// `batch`) is node 0, so `stream|from()|alert()` has the nodes `stream0`, `from1` and `alert2`.
///
/// ```
/// let program = klaxon_tick::compile_script(
///     "var data = stream|from().measurement('cpu')\n\
///      data|alert().crit(lambda: \"usage_idle\" < 10).foo().room('alerts')\n\
///      data|httpOut('x')",
/// )
/// .unwrap();
/// let ids: Vec<String> = program.nodes.iter().map(|n| n.id()).collect();
/// assert_eq!(ids, ["stream0", "from1", "alert2", "httpOut3"]);
/// assert_eq!(program.children(1).map(|n| n.index).collect::<Vec<_>>(), [2, 3]);
/// let alert = &program.nodes[2];
/// let names: Vec<&str> = alert.properties.iter().map(|p| p.name.as_str()).collect();
/// assert_eq!(names, ["crit", "foo", "room"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// `dbrp "db"."rp"` statements in source order.
    pub dbrps: Vec<Dbrp>,
    /// Nodes in creation order; `nodes[i].index == i`.
    pub nodes: Vec<Node>,
}

impl Program {
    /// The source node (`stream` or `batch`).
    pub fn source(&self) -> &Node {
        &self.nodes[0]
    }

    /// The children of node `index`, in creation order.
    pub fn children(&self, index: usize) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.iter().filter(move |n| n.parent == Some(index))
    }
}

/// A `dbrp "db"."rp"` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dbrp {
    /// Database.
    pub db: String,
    /// Retention policy.
    pub rp: String,
    /// Where it was written.
    pub span: Span,
}

/// A pipeline node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Position in creation order.
    pub index: usize,
    /// The node type as written: `stream`, `from`, `alert`, `window`...
    pub name: String,
    /// The arguments of `|name(args)`, variables substituted.
    pub args: Vec<Arg>,
    /// The node it was chained from (`None` for the source).
    pub parent: Option<usize>,
    /// Where it was created (`|name(...)`; the head identifier for the source).
    pub span: Span,
    /// The `.property(args)` calls in source order, uninterpreted.
    pub properties: Vec<Property>,
    /// Created with `@name()`: a user-defined function, which the engine rejects.
    pub is_udf: bool,
}

impl Node {
    /// Kapacitor's node id: the type followed by the index (`alert2`).
    ///
    /// ```
    /// let p = klaxon_tick::compile_script("stream|from()|alert()").unwrap();
    /// assert_eq!(p.nodes[2].id(), "alert2");
    /// ```
    pub fn id(&self) -> String {
        format!("{}{}", self.name, self.index)
    }

    /// Typed access to argument `index` (0-based) of `|name(...)`.
    ///
    /// ```
    /// let p = klaxon_tick::compile_script("stream|from()|httpOut('top')").unwrap();
    /// assert_eq!(p.nodes[2].arg(0).as_str().unwrap(), "top");
    /// ```
    pub fn arg(&self, index: usize) -> ArgRef<'_> {
        ArgRef::new("|", &self.name, &self.args, index, self.span)
    }

    /// Checks the argument count: `min..=max`.
    ///
    /// ```
    /// let p = klaxon_tick::compile_script("stream|from()|httpOut('a', 'b')").unwrap();
    /// let err = p.nodes[2].expect_args(1, 1).unwrap_err();
    /// assert_eq!(err.message, "|httpOut() takes 1 argument, got 2");
    /// ```
    pub fn expect_args(&self, min: usize, max: usize) -> Result<(), ArgError> {
        crate::args::expect_args("|", &self.name, &self.args, min, max, self.span)
    }
}

/// A `.name(args)` call on a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The property name.
    pub name: String,
    /// The arguments, variables substituted.
    pub args: Vec<Arg>,
    /// From the `.` to the `)`.
    pub span: Span,
}

impl Property {
    /// Typed access to argument `index` (0-based).
    ///
    /// ```
    /// let p = klaxon_tick::compile_script("stream|window().period(10s)").unwrap();
    /// assert_eq!(p.nodes[1].properties[0].arg(0).as_duration().unwrap(), 10_000_000_000);
    /// ```
    pub fn arg(&self, index: usize) -> ArgRef<'_> {
        ArgRef::new(".", &self.name, &self.args, index, self.span)
    }

    /// Checks the argument count: `min..=max`.
    ///
    /// ```
    /// let p = klaxon_tick::compile_script("stream|alert().noRecoveries(1)").unwrap();
    /// let err = p.nodes[1].properties[0].expect_args(0, 0).unwrap_err();
    /// assert_eq!(err.to_string(), "line 1, column 15: .noRecoveries() takes no arguments, got 1");
    /// ```
    pub fn expect_args(&self, min: usize, max: usize) -> Result<(), ArgError> {
        crate::args::expect_args(".", &self.name, &self.args, min, max, self.span)
    }
}

/// Parses and resolves a script in one call, with the default limits.
///
/// ```
/// let p = klaxon_tick::compile_script("dbrp \"telegraf\".\"autogen\"\nstream|from()").unwrap();
/// assert_eq!(p.dbrps[0].db, "telegraf");
/// ```
pub fn compile_script(source: &str) -> Result<Program, Error> {
    compile_script_with(source, &Limits::default())
}

/// Parses and resolves a script in one call with the given limits, which also bound lambdas
/// deepened by variable substitution.
///
/// ```
/// use klaxon_tick::{compile_script_with, Limits};
/// let tight = Limits { max_depth: 3, ..Limits::default() };
/// let source = "var a = lambda: (1 + 1) * 2\nstream|alert().crit(lambda: (a + a) > 1)";
/// let err = compile_script_with(source, &tight).unwrap_err();
/// assert!(err.to_string().contains("once variables are substituted"), "{err}");
/// ```
pub fn compile_script_with(source: &str, limits: &Limits) -> Result<Program, Error> {
    let script = crate::parser::parse_with(source, limits)?;
    Ok(resolve_with(&script, limits)?)
}

#[derive(Debug, Clone)]
enum Binding {
    Value(ArgValue),
    Node(usize),
}

struct Resolver {
    vars: HashMap<String, (Binding, Span)>,
    nodes: Vec<Node>,
    limits: Limits,
}

/// Turns a parsed script into a [`Program`]: collects dbrp statements, substitutes variables
/// (also inside lambdas), numbers nodes and attaches properties.
///
/// ```
/// let script = klaxon_tick::parse(
///     "var threshold = 80\nstream|alert().crit(lambda: \"value\" > threshold)",
/// )
/// .unwrap();
/// let program = klaxon_tick::resolve(&script).unwrap();
/// let crit = program.nodes[1].properties[0].arg(0).as_lambda().unwrap();
/// assert_eq!(crit.to_string(), "\"value\" > 80");
/// ```
pub fn resolve(script: &Script) -> Result<Program, ResolveError> {
    resolve_with(script, &Limits::default())
}

/// [`resolve`] with the given limits: a lambda deepened past [`Limits::max_depth`] by variable
/// substitution is an error.
pub fn resolve_with(script: &Script, limits: &Limits) -> Result<Program, ResolveError> {
    let mut r = Resolver {
        vars: HashMap::new(),
        nodes: Vec::new(),
        limits: *limits,
    };
    let mut dbrps = Vec::new();
    for statement in &script.statements {
        match statement {
            Statement::Dbrp(d) => dbrps.push(Dbrp {
                db: d.db.clone(),
                rp: d.rp.clone(),
                span: d.span,
            }),
            Statement::Var(decl) => {
                if decl.name == "stream" || decl.name == "batch" {
                    return Err(ResolveError::new(
                        decl.name_span,
                        format!("cannot define a variable named {}", decl.name),
                    ));
                }
                if let Some((_, prev)) = r.vars.get(&decl.name) {
                    return Err(ResolveError::new(
                        decl.name_span,
                        format!(
                            "variable \"{}\" is already defined at line {}, column {}",
                            decl.name, prev.line, prev.column
                        ),
                    ));
                }
                let binding = match &decl.value {
                    VarValue::Chain(chain) => Binding::Node(r.chain(chain)?),
                    VarValue::Arg(Arg {
                        value: ArgValue::Ident(name),
                        span,
                    }) => r.lookup(name, *span)?,
                    VarValue::Arg(arg) => Binding::Value(r.arg(arg)?.value),
                };
                r.vars.insert(decl.name.clone(), (binding, decl.name_span));
            }
            Statement::Pipeline(chain) => {
                r.chain(chain)?;
            }
        }
    }
    if r.nodes.is_empty() {
        let span = script
            .statements
            .first()
            .map(Statement::span)
            .unwrap_or_default();
        return Err(ResolveError::new(
            span,
            "the script defines no pipeline; start one with stream|from() or batch|query()",
        ));
    }
    Ok(Program {
        dbrps,
        nodes: r.nodes,
    })
}

impl Resolver {
    fn source(&mut self, name: &str, span: Span) -> Result<usize, ResolveError> {
        match self.nodes.first() {
            Some(src) if src.name == name => Ok(0),
            Some(src) => Err(ResolveError::new(
                span,
                format!(
                    "a task is either stream or batch, but this script uses both ({} was first used at line {}, column {})",
                    src.name, src.span.line, src.span.column
                ),
            )),
            None => {
                self.nodes.push(Node {
                    index: 0,
                    name: name.to_owned(),
                    args: Vec::new(),
                    parent: None,
                    span,
                    properties: Vec::new(),
                    is_udf: false,
                });
                Ok(0)
            }
        }
    }

    fn lookup(&mut self, name: &str, span: Span) -> Result<Binding, ResolveError> {
        if name == "stream" || name == "batch" {
            return Ok(Binding::Node(self.source(name, span)?));
        }
        match self.vars.get(name) {
            Some((binding, _)) => Ok(binding.clone()),
            None => Err(ResolveError::new(
                span,
                format!("undefined variable \"{name}\""),
            )),
        }
    }

    fn chain(&mut self, chain: &Chain) -> Result<usize, ResolveError> {
        let mut current = match self.lookup(&chain.head, chain.head_span)? {
            Binding::Node(i) => i,
            Binding::Value(v) => {
                return Err(ResolveError::new(
                    chain.head_span,
                    format!(
                        "variable \"{}\" holds {}, not a pipeline node",
                        chain.head,
                        v.describe()
                    ),
                ));
            }
        };
        for link in &chain.links {
            let args = link
                .args
                .iter()
                .map(|a| self.arg(a))
                .collect::<Result<Vec<_>, _>>()?;
            match link.kind {
                LinkKind::Property => self.nodes[current].properties.push(Property {
                    name: link.name.clone(),
                    args,
                    span: link.span,
                }),
                LinkKind::Node | LinkKind::Udf => {
                    let index = self.nodes.len();
                    self.nodes.push(Node {
                        index,
                        name: link.name.clone(),
                        args,
                        parent: Some(current),
                        span: link.span,
                        properties: Vec::new(),
                        is_udf: link.kind == LinkKind::Udf,
                    });
                    current = index;
                }
            }
        }
        Ok(current)
    }

    fn arg(&mut self, arg: &Arg) -> Result<Arg, ResolveError> {
        let value = match &arg.value {
            ArgValue::Ident(name) => match self.lookup(name, arg.span)? {
                Binding::Value(v) => v,
                Binding::Node(i) => {
                    return Err(ResolveError::new(
                        arg.span,
                        format!(
                            "variable \"{name}\" holds the pipeline node {}, which cannot be used as an argument",
                            self.nodes[i].id()
                        ),
                    ));
                }
            },
            ArgValue::List(items) => ArgValue::List(
                items
                    .iter()
                    .map(|a| self.arg(a))
                    .collect::<Result<_, _>>()?,
            ),
            ArgValue::Lambda(expr) => {
                let mut expr = expr.clone();
                self.substitute(&mut expr)?;
                // Substituting lambda variables can deepen the tree past what the parser checked.
                if expr_depth(&expr) > self.limits.depth() {
                    return Err(ResolveError::new(
                        arg.span,
                        self.limits.too_deep(" once variables are substituted"),
                    ));
                }
                ArgValue::Lambda(expr)
            }
            other => other.clone(),
        };
        Ok(Arg {
            value,
            span: arg.span,
        })
    }

    /// Replaces identifiers bound to values inside a lambda. Lambda variables were substituted
    /// when they were defined, so inserted trees need no further walk.
    fn substitute(&self, expr: &mut Expr) -> Result<(), ResolveError> {
        match &mut expr.kind {
            ExprKind::Ident(name) => {
                let Some((binding, _)) = self.vars.get(name.as_str()) else {
                    return Err(ResolveError::new(
                        expr.span,
                        format!("undefined variable \"{name}\" in lambda expression"),
                    ));
                };
                let kind = match binding {
                    Binding::Value(ArgValue::Str(s)) => ExprKind::Str(s.clone()),
                    Binding::Value(ArgValue::Int(i)) => ExprKind::Int(*i),
                    Binding::Value(ArgValue::Float(x)) => ExprKind::Float(*x),
                    Binding::Value(ArgValue::Duration(d)) => ExprKind::Duration(*d),
                    Binding::Value(ArgValue::Bool(b)) => ExprKind::Bool(*b),
                    Binding::Value(ArgValue::Regex(r)) => ExprKind::Regex(r.clone()),
                    Binding::Value(ArgValue::Ref(r)) => ExprKind::Ref(r.clone()),
                    Binding::Value(ArgValue::Lambda(inner)) => inner.kind.clone(),
                    Binding::Value(other) => {
                        return Err(ResolveError::new(
                            expr.span,
                            format!(
                                "variable \"{name}\" holds {}, which cannot be used in a lambda expression",
                                other.describe()
                            ),
                        ));
                    }
                    Binding::Node(i) => {
                        return Err(ResolveError::new(
                            expr.span,
                            format!(
                                "variable \"{name}\" holds the pipeline node {}, which cannot be used in a lambda expression",
                                self.nodes[*i].id()
                            ),
                        ));
                    }
                };
                expr.kind = kind;
                Ok(())
            }
            ExprKind::Unary { operand, .. } => self.substitute(operand),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.substitute(lhs)?;
                self.substitute(rhs)
            }
            ExprKind::Call { args, .. } => args.iter_mut().try_for_each(|a| self.substitute(a)),
            _ => Ok(()),
        }
    }
}

/// Depth of an expression tree, counted as the parser does.
pub(crate) fn expr_depth(expr: &Expr) -> usize {
    match &expr.kind {
        ExprKind::Unary { operand, .. } => 1 + expr_depth(operand),
        ExprKind::Binary { lhs, rhs, .. } => 1 + expr_depth(lhs).max(expr_depth(rhs)),
        ExprKind::Call { args, .. } => 1 + args.iter().map(expr_depth).max().unwrap_or(0),
        _ => 1,
    }
}
