//! The resolved pipeline program: variables substituted, nodes numbered in creation order,
//! properties attached to their node in source order.

use std::collections::{BTreeMap, HashMap};

use crate::args::ArgRef;
use crate::ast::{Arg, ArgValue, Chain, Expr, ExprKind, LinkKind, Script, Statement, VarValue};
use crate::error::{ArgError, Error, ResolveError};
use crate::limits::Limits;
use crate::span::Span;
use crate::value::Value;
use crate::vars::{DeclaredVar, TaskVar, TaskVars};

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
/// assert_eq!(ids, ["stream0", "from1", "alert2", "http_out3"]);
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
    /// The variables that hold values (not nodes), by name, with the value the script gives
    /// them: what a template shows as its vars.
    pub vars: BTreeMap<String, DeclaredVar>,
}

impl Program {
    /// The source node (`stream` or `batch`).
    pub fn source(&self) -> &Node {
        &self.nodes[0]
    }

    /// The children of node `index`, in creation order.
    ///
    /// A node given as an argument to another (`b` in `a|join(b)`) has that node as a child too:
    ///
    /// ```
    /// let program = klaxon_tick::compile_script(
    ///     "var a = stream|from().measurement('a')\n\
    ///      var b = stream|from().measurement('b')\n\
    ///      a|join(b).as('a', 'b')",
    /// )
    /// .unwrap();
    /// let join = &program.nodes[3];
    /// assert_eq!((join.parent, join.others.clone()), (Some(1), vec![2]));
    /// assert!(join.args.is_empty());
    /// assert_eq!(program.children(2).map(|n| n.index).collect::<Vec<_>>(), [3]);
    /// ```
    pub fn children(&self, index: usize) -> impl Iterator<Item = &Node> + '_ {
        self.nodes
            .iter()
            .filter(move |n| n.parent == Some(index) || n.others.contains(&index))
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
    /// The nodes given as arguments, which also feed it, in order: `b` and `c` in
    /// `a|join(b, c)` or `a|union(b, c)`. They are not in [`Node::args`].
    pub others: Vec<usize>,
    /// Where it was created (`|name(...)`; the head identifier for the source).
    pub span: Span,
    /// The `.property(args)` calls in source order, uninterpreted.
    pub properties: Vec<Property>,
    /// Created with `@name()`: a user-defined function, which the engine rejects.
    pub is_udf: bool,
    /// The number in Kapacitor's node ID. Its pipeline takes a number each time it links a node
    /// to a parent, so a node with several parents (`|join()`, `|union()`) gets the last of as
    /// many numbers and the nodes after it are numbered past them: `a|join(b)` after `stream0`,
    /// `from1` and `from2` is `join4`.
    pub number: usize,
}

/// The type Kapacitor's pipeline gives node `name` (`newBasicChainNode("http_out", ...)` in
/// its `pipeline/*.go`), where it differs from the TICKscript name.
fn kapacitor_desc(name: &str) -> &str {
    match name {
        "groupBy" => "groupby",
        "httpOut" => "http_out",
        "httpPost" => "http_post",
        "stateCount" => "state_count",
        "stateDuration" => "state_duration",
        "influxDBOut" => "influxdb_out",
        "kapacitorLoopback" => "kapacitor_loopback",
        "k8sAutoscale" => "k8s_autoscale",
        "ec2Autoscale" => "ec2_autoscale",
        "swarmAutoscale" => "swarm_autoscale",
        other => other,
    }
}

impl Node {
    /// Kapacitor's node id: its node type followed by its number ([`Node::number`]: `alert2`).
    /// The type is the TICKscript name but for the nodes Kapacitor describes in snake case (`groupby`,
    /// `http_out`, `http_post`, `state_count`, `state_duration`, `influxdb_out`,
    /// `kapacitor_loopback`...), as its node statistics, DOT graph and errors name them.
    ///
    /// ```
    /// let p = klaxon_tick::compile_script("stream|from()|alert()|httpOut('x')").unwrap();
    /// assert_eq!(p.nodes[2].id(), "alert2");
    /// assert_eq!(p.nodes[3].id(), "http_out3");
    /// let p = klaxon_tick::compile_script(
    ///     "var a = stream|from()\nvar b = stream|from()\na|join(b).as('a', 'b')|alert()",
    /// )
    /// .unwrap();
    /// assert_eq!(p.nodes[3].id(), "join4");
    /// assert_eq!(p.nodes[4].id(), "alert5");
    /// ```
    pub fn id(&self) -> String {
        format!("{}{}", kapacitor_desc(&self.name), self.number)
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
    resolve_with_vars(script, limits, &TaskVars::new())
}

/// [`resolve_with`] for a task that gives vars (Kapacitor's task `vars`): each fills a typed
/// declaration (`var x duration`) or replaces the value of a `var x = ...` of the same type. A
/// typed declaration without a var, a var of another type or a var the script does not declare
/// is an error.
///
/// ```
/// use klaxon_tick::{parse, resolve_with_vars, Limits, TaskVar, TaskVars};
/// let script = parse("var period duration\nvar crit = 90\nstream|window().period(period)|alert().crit(lambda: \"v\" > crit)").unwrap();
/// let vars = TaskVars::from([("period".to_owned(), TaskVar::Duration(60_000_000_000))]);
/// let program = resolve_with_vars(&script, &Limits::default(), &vars).unwrap();
/// assert_eq!(program.nodes[1].properties[0].arg(0).as_duration().unwrap(), 60_000_000_000);
///
/// let err = resolve_with_vars(&script, &Limits::default(), &TaskVars::new()).unwrap_err();
/// assert_eq!(err.message, "missing value for var \"period\"; give the task a duration var named period");
/// let wrong = TaskVars::from([("period".to_owned(), TaskVar::Int(60))]);
/// let err = resolve_with_vars(&script, &Limits::default(), &wrong).unwrap_err();
/// assert_eq!(err.message, "invalid type supplied for var \"period\": got int, the script declares a duration");
/// ```
pub fn resolve_with_vars(
    script: &Script,
    limits: &Limits,
    vars: &TaskVars,
) -> Result<Program, ResolveError> {
    resolve_inner(script, limits, vars, false)
}

/// Resolves a template's script: typed declarations that no var fills take a placeholder of
/// their type, so that the rest of the script can be checked (Kapacitor checks a template with
/// zero values).
///
/// ```
/// let script = klaxon_tick::parse("var m string\nstream|from().measurement(m)").unwrap();
/// let program = klaxon_tick::resolve_template(&script, &klaxon_tick::Limits::default()).unwrap();
/// assert_eq!(program.vars["m"].value, None);
/// ```
pub fn resolve_template(script: &Script, limits: &Limits) -> Result<Program, ResolveError> {
    resolve_inner(script, limits, &TaskVars::new(), true)
}

fn resolve_inner(
    script: &Script,
    limits: &Limits,
    given: &TaskVars,
    placeholders: bool,
) -> Result<Program, ResolveError> {
    let mut r = Resolver {
        vars: HashMap::new(),
        nodes: Vec::new(),
        limits: *limits,
    };
    let mut dbrps = Vec::new();
    let mut declared = BTreeMap::new();
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
                    VarValue::Typed(ty) => {
                        let value = match given.get(&decl.name) {
                            Some(var) if var.var_type() != *ty => {
                                return Err(wrong_type(&decl.name, decl.name_span, var, *ty));
                            }
                            Some(var) => var.clone(),
                            None if placeholders => TaskVar::placeholder(*ty),
                            None => {
                                return Err(ResolveError::new(
                                    decl.name_span,
                                    format!(
                                        "missing value for var \"{}\"; give the task a {ty} var named {}",
                                        decl.name, decl.name
                                    ),
                                ));
                            }
                        };
                        declared.insert(
                            decl.name.clone(),
                            DeclaredVar {
                                ty: *ty,
                                value: None,
                            },
                        );
                        let arg = value
                            .to_arg(&decl.name, decl.name_span, limits)
                            .map_err(|message| ResolveError::new(decl.name_span, message))?;
                        Binding::Value(arg.value)
                    }
                    VarValue::Arg(Arg {
                        value: ArgValue::Ident(name),
                        span,
                    }) => r.lookup(name, *span)?,
                    VarValue::Arg(arg) => {
                        let value = r.arg(arg, None)?.value;
                        match TaskVar::from_arg(&value) {
                            Some(own) => {
                                declared.insert(
                                    decl.name.clone(),
                                    DeclaredVar {
                                        ty: own.var_type(),
                                        value: Some(own.clone()),
                                    },
                                );
                                match given.get(&decl.name) {
                                    Some(var) if var.var_type() != own.var_type() => {
                                        return Err(wrong_type(
                                            &decl.name,
                                            decl.name_span,
                                            var,
                                            own.var_type(),
                                        ));
                                    }
                                    Some(var) => Binding::Value(
                                        var.to_arg(&decl.name, decl.name_span, limits)
                                            .map_err(|m| ResolveError::new(decl.name_span, m))?
                                            .value,
                                    ),
                                    None => Binding::Value(value),
                                }
                            }
                            None => Binding::Value(value),
                        }
                    }
                };
                r.vars.insert(decl.name.clone(), (binding, decl.name_span));
            }
            Statement::Pipeline(chain) => {
                r.chain(chain)?;
            }
        }
    }
    if let Some(name) = given.keys().find(|name| !declared.contains_key(*name)) {
        let names: Vec<&str> = declared.keys().map(String::as_str).collect();
        return Err(ResolveError::new(
            Span::default(),
            format!(
                "var \"{name}\" is not declared in the script; it declares: {}",
                if names.is_empty() {
                    "no vars".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        ));
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
    let mut nodes = r.nodes;
    let mut next = 0;
    for node in &mut nodes {
        let links = 1 + node.others.len();
        node.number = next + links - 1;
        next += links;
    }
    Ok(Program {
        dbrps,
        nodes,
        vars: declared,
    })
}

fn wrong_type(name: &str, span: Span, var: &TaskVar, declared: crate::VarType) -> ResolveError {
    ResolveError::new(
        span,
        format!(
            "invalid type supplied for var \"{name}\": got {}, the script declares a {declared}",
            var.var_type()
        ),
    )
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
                    others: Vec::new(),
                    span,
                    properties: Vec::new(),
                    is_udf: false,
                    number: 0,
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
            // A variable holding a node, given to a node (`a|join(b)`), is another parent.
            let mut others = Vec::new();
            let mut values = Vec::with_capacity(link.args.len());
            for a in &link.args {
                if link.kind == LinkKind::Node
                    && let ArgValue::Ident(name) = &a.value
                    && let Some((Binding::Node(i), _)) = self.vars.get(name)
                {
                    others.push(*i);
                    continue;
                }
                values.push(a);
            }
            let mut args = values
                .into_iter()
                .map(|a| self.arg(a, Some((&link.name, link.kind))))
                .collect::<Result<Vec<_>, _>>()?;
            // Kapacitor spreads a single list argument into the arguments of any call, so
            // `.groupBy(groupBy)` with `var groupBy = ['host']` is `.groupBy('host')`.
            if let [
                Arg {
                    value: ArgValue::List(items),
                    ..
                },
            ] = args.as_mut_slice()
            {
                args = std::mem::take(items);
            }
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
                        others,
                        span: link.span,
                        properties: Vec::new(),
                        is_udf: link.kind == LinkKind::Udf,
                        number: index,
                    });
                    current = index;
                }
            }
        }
        Ok(current)
    }

    fn arg(&mut self, arg: &Arg, call: Option<(&str, LinkKind)>) -> Result<Arg, ResolveError> {
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
                    .map(|a| self.arg(a, call))
                    .collect::<Result<_, _>>()?,
            ),
            ArgValue::Expr(expr) => self.evaluate(expr, arg.span, call)?,
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

    /// Evaluates an expression written outside `lambda:`, as Kapacitor does when it reads the
    /// script: variables substituted, then computed once. A field or tag reference in it means
    /// a `lambda:` was forgotten.
    fn evaluate(
        &self,
        expr: &Expr,
        span: Span,
        call: Option<(&str, LinkKind)>,
    ) -> Result<ArgValue, ResolveError> {
        let mut expr = expr.clone();
        self.substitute(&mut expr)?;
        if let ExprKind::Call { name, args } = &expr.kind
            && name == "time"
        {
            return self.time_dimension(args, span);
        }
        let mut reference = None;
        expr.walk(&mut |e| {
            if let ExprKind::Ref(_) = e.kind {
                reference.get_or_insert(e.span);
            }
        });
        if reference.is_some() {
            let example = match call {
                Some((name, LinkKind::Property)) => format!(".{name}(lambda: ...)"),
                Some((name, LinkKind::Node)) => format!("|{name}(lambda: ...)"),
                Some((name, LinkKind::Udf)) => format!("@{name}(lambda: ...)"),
                None => "var x = lambda: ...".to_owned(),
            };
            return Err(ResolveError::new(
                span,
                format!("missing 'lambda:' before the expression; write {example}"),
            ));
        }
        let options = crate::CompileOptions {
            limits: self.limits,
            ..crate::CompileOptions::default()
        };
        let mut lambda = crate::compile_lambda(&expr, &options)
            .map_err(|e| ResolveError::new(e.span, e.kind.to_string()))?;
        let value = lambda
            .eval(&NoPoint)
            .map_err(|e| ResolveError::new(e.span, e.kind.to_string()))?;
        Ok(match value {
            Value::Int(i) => ArgValue::Int(i),
            Value::Float(x) => ArgValue::Float(x),
            Value::String(s) => ArgValue::Str(s),
            Value::Bool(b) => ArgValue::Bool(b),
            Value::Duration(d) => ArgValue::Duration(d),
            Value::Time(_) => {
                return Err(ResolveError::new(
                    span,
                    format!("{expr} is a time, which cannot be an argument"),
                ));
            }
        })
    }

    /// `time(1m)` or `time(1m, 10s)` outside `lambda:`: Kapacitor's time dimension of a batch
    /// query's `.groupBy()`. It stays an expression (a call of `time` with its durations
    /// computed), which the query node reads.
    fn time_dimension(&self, args: &[Expr], span: Span) -> Result<ArgValue, ResolveError> {
        if args.is_empty() || args.len() > 2 {
            return Err(ResolveError::new(
                span,
                format!(
                    "time() takes a length and an optional offset, as time(1m) or time(1m, 10s), got {} arguments",
                    args.len()
                ),
            ));
        }
        let mut durations = Vec::with_capacity(args.len());
        for arg in args {
            match self.evaluate(arg, arg.span, None)? {
                ArgValue::Duration(d) => durations.push(Expr {
                    kind: ExprKind::Duration(d),
                    span: arg.span,
                }),
                other => {
                    return Err(ResolveError::new(
                        arg.span,
                        format!("time() takes durations, got {}", other.describe()),
                    ));
                }
            }
        }
        Ok(ArgValue::Expr(Expr {
            kind: ExprKind::Call {
                name: "time".to_owned(),
                args: durations,
            },
            span,
        }))
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

/// The point an expression outside `lambda:` is evaluated against: it has nothing, since such
/// an expression may not read fields or tags.
struct NoPoint;

impl crate::Point for NoPoint {
    fn field(&self, _: &str) -> Option<crate::FieldValue<'_>> {
        None
    }
    fn tag(&self, _: &str) -> Option<&str> {
        None
    }
    fn time(&self) -> i64 {
        0
    }
    fn name(&self) -> &str {
        ""
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
