//! The syntax tree of a TICKscript, with a [`Span`] on every statement, chain link, argument and
//! expression.

use std::fmt;

use crate::span::Span;

/// A whole parsed script.
///
/// ```
/// let script = klaxon_tick::parse("dbrp \"telegraf\".\"autogen\"\nstream|from()").unwrap();
/// assert_eq!(script.statements.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The statements in source order.
    pub statements: Vec<Statement>,
}

/// One top-level statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `var name = value`
    Var(VarDecl),
    /// `dbrp "db"."rp"`
    Dbrp(DbrpStmt),
    /// A pipeline chain such as `stream|from().measurement('cpu')|alert()`.
    Pipeline(Chain),
}

impl Statement {
    /// The chain, if this statement is a pipeline.
    ///
    /// ```
    /// let script = klaxon_tick::parse("stream|from()").unwrap();
    /// assert_eq!(script.statements[0].as_pipeline().unwrap().links[0].name, "from");
    /// ```
    pub fn as_pipeline(&self) -> Option<&Chain> {
        match self {
            Statement::Pipeline(chain) => Some(chain),
            _ => None,
        }
    }

    /// The statement's position.
    pub fn span(&self) -> Span {
        match self {
            Statement::Var(v) => v.span,
            Statement::Dbrp(d) => d.span,
            Statement::Pipeline(c) => c.span,
        }
    }
}

/// `var name = value`.
///
/// ```
/// let script = klaxon_tick::parse("var period = 10s").unwrap();
/// let klaxon_tick::Statement::Var(decl) = &script.statements[0] else { panic!() };
/// assert_eq!(decl.name, "period");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct VarDecl {
    /// The variable name.
    pub name: String,
    /// Position of the name.
    pub name_span: Span,
    /// What it is bound to.
    pub value: VarValue,
    /// The whole declaration.
    pub span: Span,
}

/// The right-hand side of a `var`.
#[derive(Debug, Clone, PartialEq)]
pub enum VarValue {
    /// A literal, a lambda, a list, another variable or an expression of them.
    Arg(Arg),
    /// A pipeline chain (`stream|from()...` or `other_var|window()...`).
    Chain(Chain),
    /// `var name type` in a template: the value comes with the task (its vars).
    Typed(VarType),
}

/// The type of a template variable (`var x duration`), as Kapacitor names them.
///
/// ```
/// use klaxon_tick::VarType;
/// assert_eq!(VarType::parse("duration"), Some(VarType::Duration));
/// assert_eq!(VarType::Duration.name(), "duration");
/// assert_eq!(VarType::parse("time"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarType {
    /// `TRUE` or `FALSE`.
    Bool,
    /// An integer.
    Int,
    /// A float.
    Float,
    /// A string.
    String,
    /// A regex.
    Regex,
    /// A duration.
    Duration,
    /// A lambda expression.
    Lambda,
    /// A list of values.
    List,
    /// `*`.
    Star,
}

impl VarType {
    /// Every type, in Kapacitor's order.
    pub const ALL: [VarType; 9] = [
        VarType::Bool,
        VarType::Int,
        VarType::Float,
        VarType::String,
        VarType::Regex,
        VarType::Duration,
        VarType::Lambda,
        VarType::List,
        VarType::Star,
    ];

    /// The name written in `var x <type>` and in task vars (`{"type": "duration"}`).
    pub fn name(self) -> &'static str {
        match self {
            VarType::Bool => "bool",
            VarType::Int => "int",
            VarType::Float => "float",
            VarType::String => "string",
            VarType::Regex => "regex",
            VarType::Duration => "duration",
            VarType::Lambda => "lambda",
            VarType::List => "list",
            VarType::Star => "star",
        }
    }

    /// The type of a name, if it is one.
    pub fn parse(name: &str) -> Option<VarType> {
        VarType::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `dbrp "db"."rp"`.
///
/// ```
/// let script = klaxon_tick::parse("dbrp \"telegraf\".\"autogen\"").unwrap();
/// let klaxon_tick::Statement::Dbrp(d) = &script.statements[0] else { panic!() };
/// assert_eq!((d.db.as_str(), d.rp.as_str()), ("telegraf", "autogen"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DbrpStmt {
    /// Database.
    pub db: String,
    /// Retention policy.
    pub rp: String,
    /// The whole statement.
    pub span: Span,
}

/// A pipeline chain: a head identifier (`stream`, `batch` or a variable) and its links.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    /// `stream`, `batch`, or a variable name.
    pub head: String,
    /// Position of the head.
    pub head_span: Span,
    /// The `|node()`, `.property()` and `@udf()` links in order.
    pub links: Vec<Link>,
    /// The whole chain.
    pub span: Span,
}

/// What kind of link a chain step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// `|node()` creates a node.
    Node,
    /// `.property()` sets a property on the current node.
    Property,
    /// `@udf()` creates a user-defined-function node (rejected by Klaxon's engine).
    Udf,
}

/// One step of a chain: `|name(args)`, `.name(args)` or `@name(args)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Node, property or UDF.
    pub kind: LinkKind,
    /// The name after the operator.
    pub name: String,
    /// The arguments.
    pub args: Vec<Arg>,
    /// From the operator to the closing parenthesis.
    pub span: Span,
}

/// A node or property argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// The value.
    pub value: ArgValue,
    /// Its position.
    pub span: Span,
}

/// The value of an argument.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    /// `'text'` or `'''text'''`.
    Str(String),
    /// `10`, `-3`.
    Int(i64),
    /// `1.5`.
    Float(f64),
    /// `10s`, in nanoseconds.
    Duration(i64),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `/pattern/`.
    Regex(RegexLit),
    /// `*`.
    Star,
    /// `"name"`: a field or tag reference.
    Ref(String),
    /// `lambda: expr`.
    Lambda(Expr),
    /// A variable name (replaced by its value during [`crate::resolve`]).
    Ident(String),
    /// `['a', 'b']`.
    List(Vec<Arg>),
    /// An expression outside `lambda:`, such as `name + ':{{.Group}}'` or `5m * 2`: Kapacitor
    /// evaluates it once, when the script is read, so [`crate::resolve`] replaces it by its value.
    Expr(Expr),
}

impl ArgValue {
    /// How the value is described in messages: `a string`, `the reference "x"`...
    pub fn describe(&self) -> String {
        match self {
            ArgValue::Str(s) => format!("the string '{s}'"),
            ArgValue::Int(i) => format!("the int {i}"),
            ArgValue::Float(x) => format!("the float {x}"),
            ArgValue::Duration(d) => format!("the duration {}", crate::go::format_duration(*d)),
            ArgValue::Bool(b) => format!("the bool {}", if *b { "TRUE" } else { "FALSE" }),
            ArgValue::Regex(r) => format!("the regex /{}/", r.source),
            ArgValue::Star => "'*'".to_owned(),
            ArgValue::Ref(name) => format!("the reference \"{name}\""),
            ArgValue::Lambda(_) => "a lambda".to_owned(),
            ArgValue::Ident(name) => format!("the variable {name}"),
            ArgValue::List(_) => "a list".to_owned(),
            ArgValue::Expr(e) => format!("the expression {e}"),
        }
    }
}

/// A regex literal: its source text and the compiled regex.
///
/// Equality compares the source text.
#[derive(Debug, Clone)]
pub struct RegexLit {
    /// The pattern as written between the slashes, with `\/` turned into `/`.
    pub source: String,
    /// The compiled pattern (built with the configured size limit).
    pub regex: regex::Regex,
}

impl PartialEq for RegexLit {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A lambda expression with its position.
///
/// `Display` prints canonical TICKscript text (used in error messages):
///
/// ```
/// use klaxon_tick::{parse_lambda, Limits};
/// let e = parse_lambda("(\"a\"+1)*2 > 3.0 AND NOT_A_VAR", &Limits::default()).unwrap();
/// assert_eq!(e.to_string(), "(\"a\" + 1) * 2 > 3.0 AND NOT_A_VAR");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it is (for a binary expression: the operator, which is what errors point at).
    pub span: Span,
}

/// The kinds of lambda expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// Integer literal.
    Int(i64),
    /// Float literal.
    Float(f64),
    /// String literal.
    Str(String),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// Duration literal in nanoseconds.
    Duration(i64),
    /// Regex literal.
    Regex(RegexLit),
    /// `"name"`: a field or tag (tag only, in match mode).
    Ref(String),
    /// A bare identifier: a variable, or `OK`/`INFO`/`WARNING`/`CRITICAL` in match mode.
    Ident(String),
    /// `*` (meaningless in a lambda; kept so the compiler can say so).
    Star,
    /// `-x` or `!x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `name(args)`.
    Call {
        /// The function name.
        name: String,
        /// The arguments.
        args: Vec<Expr>,
    },
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
}

impl UnaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
        }
    }
}

/// Binary operators, with Kapacitor's precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `OR`
    Or,
    /// `AND`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `=~`
    RegexMatch,
    /// `!~`
    RegexNotMatch,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::RegexMatch => "=~",
            BinaryOp::RegexNotMatch => "!~",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        }
    }

    /// Binding strength: `OR` 0 < `AND` 1 < equality and regex 2 < ordering 3 < `+ -` 4 <
    /// `* / %` 5.
    ///
    /// ```
    /// use klaxon_tick::BinaryOp;
    /// assert!(BinaryOp::Mul.precedence() > BinaryOp::Add.precedence());
    /// ```
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 0,
            BinaryOp::And => 1,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::RegexMatch | BinaryOp::RegexNotMatch => 2,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
        }
    }
}

impl Expr {
    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary { op, .. } => op.precedence(),
            _ => u8::MAX,
        }
    }

    /// Visits every sub-expression (including `self`), parents before children.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Unary { operand, .. } => operand.walk(f),
            ExprKind::Binary { lhs, rhs, .. } => {
                lhs.walk(f);
                rhs.walk(f);
            }
            ExprKind::Call { args, .. } => args.iter().for_each(|a| a.walk(f)),
            _ => {}
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(i) => write!(f, "{i}"),
            ExprKind::Float(x) => {
                let s = crate::go::format_float(*x);
                if s.contains(['.', 'I', 'N']) {
                    f.write_str(&s)
                } else {
                    write!(f, "{s}.0")
                }
            }
            ExprKind::Str(s) => {
                f.write_str("'")?;
                for c in s.chars() {
                    match c {
                        '\'' => f.write_str("\\'")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        '\r' => f.write_str("\\r")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("'")
            }
            ExprKind::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            ExprKind::Duration(d) => f.write_str(&crate::go::format_duration_influx(*d)),
            ExprKind::Regex(r) => write!(f, "/{}/", r.source.replace('/', "\\/")),
            ExprKind::Ref(name) => write!(f, "\"{}\"", name.replace('"', "\\\"")),
            ExprKind::Ident(name) => f.write_str(name),
            ExprKind::Star => f.write_str("*"),
            ExprKind::Unary { op, operand } => {
                if operand.precedence() == u8::MAX {
                    write!(f, "{}{operand}", op.symbol())
                } else {
                    write!(f, "{}({operand})", op.symbol())
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let p = op.precedence();
                // Left-associative: a right operand of equal precedence needs parentheses.
                if lhs.precedence() < p {
                    write!(f, "({lhs})")?;
                } else {
                    write!(f, "{lhs}")?;
                }
                write!(f, " {} ", op.symbol())?;
                if rhs.precedence() <= p {
                    write!(f, "({rhs})")
                } else {
                    write!(f, "{rhs}")
                }
            }
            ExprKind::Call { name, args } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}
