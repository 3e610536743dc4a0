//! Task vars: the values a task gives its script's variables (Kapacitor's `vars`), which fill
//! template declarations (`var x duration`) and may replace the value of a `var x = ...` of the
//! same type.

use std::collections::BTreeMap;

use crate::ast::{Arg, ArgValue, VarType};
use crate::limits::Limits;
use crate::span::Span;

/// One var's value, typed as Kapacitor types them (`{"type": "duration", "value": ...}`).
///
/// ```
/// use klaxon_tick::{TaskVar, VarType};
/// assert_eq!(TaskVar::Duration(60_000_000_000).var_type(), VarType::Duration);
/// assert_eq!(TaskVar::List(vec![TaskVar::String("host".into())]).var_type(), VarType::List);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum TaskVar {
    /// `TRUE` or `FALSE`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A regex, as its pattern.
    Regex(String),
    /// A duration in nanoseconds.
    Duration(i64),
    /// A lambda expression, as its text (without `lambda:`).
    Lambda(String),
    /// A list of values (strings, usually).
    List(Vec<TaskVar>),
    /// `*`.
    Star,
}

/// The vars of a task, by name.
pub type TaskVars = BTreeMap<String, TaskVar>;

impl TaskVar {
    /// Its type.
    pub fn var_type(&self) -> VarType {
        match self {
            TaskVar::Bool(_) => VarType::Bool,
            TaskVar::Int(_) => VarType::Int,
            TaskVar::Float(_) => VarType::Float,
            TaskVar::String(_) => VarType::String,
            TaskVar::Regex(_) => VarType::Regex,
            TaskVar::Duration(_) => VarType::Duration,
            TaskVar::Lambda(_) => VarType::Lambda,
            TaskVar::List(_) => VarType::List,
            TaskVar::Star => VarType::Star,
        }
    }

    /// The value a template is checked with when no task gives one: the script must make sense
    /// for some value, and a zero (Kapacitor's choice) would be refused by properties that need
    /// a positive duration, so these are small positive values.
    pub(crate) fn placeholder(ty: VarType) -> TaskVar {
        match ty {
            VarType::Bool => TaskVar::Bool(false),
            VarType::Int => TaskVar::Int(1),
            VarType::Float => TaskVar::Float(1.0),
            VarType::String => TaskVar::String("placeholder".to_owned()),
            VarType::Regex => TaskVar::Regex(".*".to_owned()),
            VarType::Duration => TaskVar::Duration(1_000_000_000),
            VarType::Lambda => TaskVar::Lambda("TRUE".to_owned()),
            VarType::List => TaskVar::List(Vec::new()),
            VarType::Star => TaskVar::Star,
        }
    }

    /// The script argument this value stands for; `name` is the var, for errors.
    pub(crate) fn to_arg(&self, name: &str, span: Span, limits: &Limits) -> Result<Arg, String> {
        let value = match self {
            TaskVar::Bool(b) => ArgValue::Bool(*b),
            TaskVar::Int(i) => ArgValue::Int(*i),
            TaskVar::Float(x) => ArgValue::Float(*x),
            TaskVar::String(s) => ArgValue::Str(s.clone()),
            TaskVar::Duration(d) => ArgValue::Duration(*d),
            TaskVar::Star => ArgValue::Star,
            TaskVar::Regex(pattern) => {
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(limits.regex_size_limit)
                    .build()
                    .map_err(|e| {
                        let detail = e.to_string();
                        let detail = detail.lines().last().unwrap_or_default().trim();
                        format!("var \"{name}\": invalid regex /{pattern}/: {detail}")
                    })?;
                ArgValue::Regex(crate::ast::RegexLit {
                    source: pattern.clone(),
                    regex,
                })
            }
            TaskVar::Lambda(text) => {
                let expr = crate::parser::parse_lambda(text, limits).map_err(|e| {
                    format!("var \"{name}\": invalid lambda expression {text:?}: {e}")
                })?;
                ArgValue::Lambda(expr)
            }
            TaskVar::List(items) => ArgValue::List(
                items
                    .iter()
                    .map(|item| item.to_arg(name, span, limits))
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Arg { value, span })
    }

    /// The value of a script argument, for the vars a template shows; `None` for what is not a
    /// value (a reference, an unevaluated expression).
    pub(crate) fn from_arg(value: &ArgValue) -> Option<TaskVar> {
        Some(match value {
            ArgValue::Str(s) => TaskVar::String(s.clone()),
            ArgValue::Int(i) => TaskVar::Int(*i),
            ArgValue::Float(x) => TaskVar::Float(*x),
            ArgValue::Duration(d) => TaskVar::Duration(*d),
            ArgValue::Bool(b) => TaskVar::Bool(*b),
            ArgValue::Regex(r) => TaskVar::Regex(r.source.clone()),
            ArgValue::Star => TaskVar::Star,
            ArgValue::Lambda(e) => TaskVar::Lambda(e.to_string()),
            ArgValue::List(items) => TaskVar::List(
                items
                    .iter()
                    .map(|a| TaskVar::from_arg(&a.value))
                    .collect::<Option<_>>()?,
            ),
            ArgValue::Ref(_) | ArgValue::Ident(_) | ArgValue::Expr(_) => return None,
        })
    }
}

/// A variable a script declares, as a template shows it: its type and its value (`None` for a
/// typed declaration such as `var x duration`, whose value each task gives).
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredVar {
    /// The type.
    pub ty: VarType,
    /// The value written in the script, if any.
    pub value: Option<TaskVar>,
}

/// The script with a task's vars written into it: each typed declaration (`var x duration`)
/// becomes `var x = <value>`, and a `var x = ...` the vars replace gets their value. The vars are
/// checked first as [`crate::resolve_with_vars`] checks them (types, missing and undeclared
/// vars). The result is an ordinary script, which the engine compiles as any other; a task keeps
/// its template's text and its vars apart, as Kapacitor shows them.
///
/// With `placeholders`, typed declarations without a var get a placeholder of their type: a
/// template is checked that way.
///
/// ```
/// use klaxon_tick::{apply_vars, Limits, TaskVar, TaskVars};
/// let vars = TaskVars::from([
///     ("period".to_owned(), TaskVar::Duration(90_000_000_000)),
///     ("crit".to_owned(), TaskVar::Lambda("\"usage_idle\" < 10".to_owned())),
///     ("name".to_owned(), TaskVar::String("it's".to_owned())),
/// ]);
/// let script = "var period duration\nvar crit lambda\nvar name = 'x'\nstream|window().period(period)";
/// assert_eq!(
///     apply_vars(script, &vars, &Limits::default(), false).unwrap(),
///     "var period = 90s\nvar crit = lambda: \"usage_idle\" < 10\nvar name = 'it\\'s'\nstream|window().period(period)"
/// );
/// ```
pub fn apply_vars(
    source: &str,
    vars: &TaskVars,
    limits: &Limits,
    placeholders: bool,
) -> Result<String, crate::Error> {
    let script = crate::parser::parse_with(source, limits)?;
    let mut filled;
    let vars = if placeholders {
        filled = vars.clone();
        for statement in &script.statements {
            if let crate::ast::Statement::Var(decl) = statement
                && let crate::ast::VarValue::Typed(ty) = &decl.value
            {
                filled
                    .entry(decl.name.clone())
                    .or_insert_with(|| TaskVar::placeholder(*ty));
            }
        }
        &filled
    } else {
        vars
    };
    crate::program::resolve_with_vars(&script, limits, vars)?;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for statement in &script.statements {
        let crate::ast::Statement::Var(decl) = statement else {
            continue;
        };
        let Some(var) = vars.get(&decl.name) else {
            continue;
        };
        let literal = var.literal().map_err(|message| {
            crate::ResolveError::new(decl.name_span, format!("var \"{}\": {message}", decl.name))
        })?;
        match &decl.value {
            crate::ast::VarValue::Typed(_) => {
                edits.push((decl.name_span.end, decl.span.end, format!(" = {literal}")));
            }
            crate::ast::VarValue::Arg(arg) => edits.push((arg.span.start, arg.span.end, literal)),
            crate::ast::VarValue::Chain(_) => {}
        }
    }
    let mut out = String::with_capacity(source.len() + 64);
    let mut at = 0;
    for (start, end, text) in edits {
        out.push_str(&source[at..start]);
        out.push_str(&text);
        at = end;
    }
    out.push_str(&source[at..]);
    Ok(out)
}

impl TaskVar {
    /// The value as TICKscript writes it.
    fn literal(&self) -> Result<String, String> {
        Ok(match self {
            TaskVar::Bool(true) => "TRUE".to_owned(),
            TaskVar::Bool(false) => "FALSE".to_owned(),
            TaskVar::Int(i) => i.to_string(),
            TaskVar::Float(x) if !x.is_finite() => {
                return Err(format!("{x} is not a number TICKscript can hold"));
            }
            TaskVar::Float(x) => {
                let text = format!("{x}");
                if text.contains('.') {
                    text
                } else {
                    format!("{text}.0")
                }
            }
            TaskVar::String(s) => quote(s),
            TaskVar::Regex(pattern) => format!("/{}/", pattern.replace('/', "\\/")),
            TaskVar::Duration(d) if d % 1_000 == 0 => crate::go::format_duration_influx(*d),
            // Durations have no nanosecond unit: the rest is written as an expression.
            TaskVar::Duration(d) => format!("{}u + 1u * {} / 1000", d / 1_000, d % 1_000),
            TaskVar::Lambda(text) => format!("lambda: {text}"),
            TaskVar::Star => "*".to_owned(),
            TaskVar::List(items) => {
                let items = items
                    .iter()
                    .map(|item| match item {
                        TaskVar::String(s) => Ok(quote(s)),
                        TaskVar::Star => Ok("*".to_owned()),
                        other => Err(format!(
                            "a list holds strings or *, not a {}",
                            other.var_type()
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                format!("[{}]", items.join(", "))
            }
        })
    }
}

/// A single-quoted TICKscript string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
