//! Reading node properties: one place that turns a TICKscript property list into typed settings
//! and refuses unknown properties with the list of known ones.

use klaxon_tick::{Arg, ArgValue, Property, Span};
use serde_json::Value;

use crate::DefineError;

/// An unknown property error that lists what the node accepts.
pub fn unknown_property(node: &str, property: &Property, known: &[&str]) -> DefineError {
    let mut known: Vec<String> = known.iter().map(|k| format!(".{k}()")).collect();
    known.sort();
    DefineError::new(
        property.span,
        format!(
            "|{node}() has no property .{}(); it has: {}",
            property.name,
            known.join(", ")
        ),
    )
}

/// Options for compiling a task's lambdas. The program's lambdas were checked against the
/// configured depth when it was resolved (`klaxon_tick::compile_script_with`), so compiling
/// guards only the stack, at the hard ceiling: a configured depth above the default must not be
/// refused here, and nodes that wrap a lambda (deadman adds a level) must still compile.
pub fn compile_options() -> klaxon_tick::CompileOptions {
    klaxon_tick::CompileOptions {
        limits: klaxon_tick::Limits {
            max_depth: klaxon_tick::Limits::MAX_DEPTH,
            ..klaxon_tick::Limits::default()
        },
        ..klaxon_tick::CompileOptions::default()
    }
}

/// Compiles a lambda argument into a predicate that must yield a bool.
pub fn predicate(property: &Property) -> Result<klaxon_tick::Lambda, DefineError> {
    property.expect_args(1, 1)?;
    let expr = property.arg(0).as_lambda()?;
    let lambda = klaxon_tick::compile_lambda(expr, &compile_options())?;
    lambda.require_bool(expr)?;
    Ok(lambda)
}

/// A literal handler argument as JSON, for a handler's `TickShape`.
pub fn literal_json(arg: &Arg) -> Result<Value, DefineError> {
    Ok(match &arg.value {
        ArgValue::Str(s) => Value::String(s.clone()),
        ArgValue::Int(i) => Value::from(*i),
        ArgValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        ArgValue::Duration(d) => Value::from(*d),
        ArgValue::Bool(b) => Value::Bool(*b),
        ArgValue::List(items) => {
            Value::Array(items.iter().map(literal_json).collect::<Result<_, _>>()?)
        }
        other => {
            return Err(DefineError::new(
                arg.span,
                format!(
                    "handler arguments must be literals, found {}",
                    other.describe()
                ),
            ));
        }
    })
}

/// The one string argument of a property (`.as('rate')`).
pub fn string(property: &Property) -> Result<String, DefineError> {
    property.expect_args(1, 1)?;
    Ok(property.arg(0).as_str()?.to_owned())
}

/// The one duration argument of a property that must be above zero (`.unit(1m)`), in
/// nanoseconds.
pub fn positive_duration(property: &Property) -> Result<i64, DefineError> {
    property.expect_args(1, 1)?;
    let nanos = property.arg(0).as_duration()?;
    if nanos <= 0 {
        return Err(DefineError::new(
            property.span,
            format!(".{}() must be positive", property.name),
        ));
    }
    Ok(nanos)
}

/// A property's arguments as strings (`.groupBy('host', 'cpu')`, `.as('a', 'b')`).
pub fn strings(property: &Property) -> Result<Vec<String>, DefineError> {
    (0..property.args.len())
        .map(|i| {
            property
                .arg(i)
                .as_str()
                .map(str::to_owned)
                .map_err(DefineError::from)
        })
        .collect()
}

/// Refuses a property that may appear only once.
pub fn once<T>(slot: &Option<T>, property: &Property) -> Result<(), DefineError> {
    if slot.is_some() {
        return Err(DefineError::new(
            property.span,
            format!(".{}() is set twice; keep one", property.name),
        ));
    }
    Ok(())
}

/// The span of a property's first argument, or of the property.
pub fn first_arg_span(property: &Property) -> Span {
    property.args.first().map_or(property.span, |a| a.span)
}
