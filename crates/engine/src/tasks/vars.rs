//! Task vars in Kapacitor's JSON (`{"period": {"type": "duration", "value": "1m"}}`, as the
//! tasks API and `kapacitor define -vars` take them), and the vars a task keeps: stored beside
//! its record under the `task-vars` namespace with the template it was made from, and written
//! into its script whenever it is compiled ([`klaxon_tick::apply_vars`]).

use std::collections::BTreeMap;

use klaxon_tick::{TaskVar, TaskVars, VarType};
use serde_json::{Value, json};

use super::{TaskError, TaskManager, TaskRecord};

/// The store namespace of the tasks' vars and templates.
const NAMESPACE: &str = "task-vars";

/// Vars that cannot be read: which var and why, lowercase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid var {name:?}: {reason}")]
pub struct VarsError {
    /// The var.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Decodes Kapacitor's vars: an object of `{"type": ..., "value": ..., "description": ...}`.
/// Durations are nanoseconds or duration text (`"1m30s"`); `star` needs no value; a list holds
/// typed values.
///
/// ```
/// use klaxon_engine::tasks::decode_vars;
/// use klaxon_tick::TaskVar;
/// let vars = decode_vars(&serde_json::json!({
///     "period": {"type": "duration", "value": "1m"},
///     "crit": {"type": "lambda", "value": "\"usage_idle\" < 10"},
///     "tags": {"type": "list", "value": [{"type": "string", "value": "host"}]},
/// }))
/// .unwrap();
/// assert_eq!(vars["period"], TaskVar::Duration(60_000_000_000));
/// let err = decode_vars(&serde_json::json!({"x": {"type": "int", "value": "1"}})).unwrap_err();
/// assert_eq!(err.to_string(), "invalid var \"x\": expected an int value, found \"1\"");
/// ```
pub fn decode_vars(json: &Value) -> Result<TaskVars, VarsError> {
    let Some(object) = json.as_object() else {
        if json.is_null() {
            return Ok(TaskVars::new());
        }
        return Err(VarsError {
            name: String::new(),
            reason: format!("vars must be an object of named vars, found {json}"),
        });
    };
    object
        .iter()
        .map(|(name, var)| {
            decode_var(var)
                .map(|v| (name.clone(), v))
                .map_err(|reason| VarsError {
                    name: name.clone(),
                    reason,
                })
        })
        .collect()
}

fn decode_var(var: &Value) -> Result<TaskVar, String> {
    let Some(object) = var.as_object() else {
        return Err(format!(
            "expected an object with \"type\" and \"value\", found {var}"
        ));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "value" | "description"))
    {
        return Err(format!(
            "unknown key {key:?}; a var has type, value and description"
        ));
    }
    let names: Vec<&str> = VarType::ALL.iter().map(|t| t.name()).collect();
    let ty = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing \"type\"; the types are {}", names.join(", ")))?;
    let ty = VarType::parse(ty)
        .ok_or_else(|| format!("unknown type {ty:?}; the types are {}", names.join(", ")))?;
    let value = object.get("value").unwrap_or(&Value::Null);
    let want = |what: &str| format!("expected {what} value, found {value}");
    Ok(match ty {
        VarType::Bool => TaskVar::Bool(value.as_bool().ok_or_else(|| want("a bool"))?),
        VarType::Int => TaskVar::Int(value.as_i64().ok_or_else(|| want("an int"))?),
        VarType::Float => TaskVar::Float(value.as_f64().ok_or_else(|| want("a float"))?),
        VarType::String => TaskVar::String(value.as_str().ok_or_else(|| want("a string"))?.into()),
        VarType::Regex => TaskVar::Regex(value.as_str().ok_or_else(|| want("a regex"))?.into()),
        VarType::Lambda => TaskVar::Lambda(value.as_str().ok_or_else(|| want("a lambda"))?.into()),
        VarType::Star => TaskVar::Star,
        VarType::Duration => match value {
            Value::Number(n) => TaskVar::Duration(
                n.as_i64()
                    .ok_or_else(|| want("a duration (nanoseconds or text such as \"1m\")"))?,
            ),
            Value::String(text) => TaskVar::Duration(
                text.parse::<klaxon_core::GoDuration>()
                    .map_err(|e| format!("invalid duration {text:?}: {e}"))?
                    .as_nanos(),
            ),
            _ => return Err(want("a duration (nanoseconds or text such as \"1m\")")),
        },
        VarType::List => TaskVar::List(
            value
                .as_array()
                .ok_or_else(|| want("a list"))?
                .iter()
                .map(decode_var)
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Kapacitor's JSON of one var: durations in nanoseconds, `star` with a null value.
pub fn var_json(var: Option<&TaskVar>, ty: VarType) -> Value {
    let value = match var {
        None | Some(TaskVar::Star) => Value::Null,
        Some(TaskVar::Bool(b)) => json!(b),
        Some(TaskVar::Int(i)) => json!(i),
        Some(TaskVar::Float(x)) => json!(x),
        Some(TaskVar::String(s) | TaskVar::Regex(s) | TaskVar::Lambda(s)) => json!(s),
        Some(TaskVar::Duration(d)) => json!(d),
        Some(TaskVar::List(items)) => Value::Array(
            items
                .iter()
                .map(|item| var_json(Some(item), item.var_type()))
                .collect(),
        ),
    };
    json!({"type": ty.name(), "value": value, "description": ""})
}

/// Kapacitor's JSON of a task's vars.
pub fn vars_json(vars: &TaskVars) -> Value {
    Value::Object(
        vars.iter()
            .map(|(name, var)| (name.clone(), var_json(Some(var), var.var_type())))
            .collect(),
    )
}

/// The template a task was made from ("" for none) and its vars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskTemplate {
    /// The template's ID.
    pub template_id: String,
    /// The vars.
    pub vars: TaskVars,
}

impl TaskManager {
    /// The template and vars of task `id` (empty when it has none).
    pub fn task_template(&self, id: &str) -> Result<TaskTemplate, TaskError> {
        let Some(record) = self.inner.store.record(NAMESPACE, id)? else {
            return Ok(TaskTemplate::default());
        };
        Ok(TaskTemplate {
            template_id: record["template-id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            // Stored after decoding, so it decodes.
            vars: decode_vars(&record["vars"]).unwrap_or_default(),
        })
    }

    /// Stores (or, when empty, forgets) the template and vars of task `id`.
    pub(super) fn save_task_template(
        &self,
        id: &str,
        template: &TaskTemplate,
    ) -> Result<(), TaskError> {
        if template.template_id.is_empty() && template.vars.is_empty() {
            return self.forget_vars(id);
        }
        let record = json!({
            "template-id": template.template_id,
            "vars": vars_json(&template.vars),
        });
        Ok(self.inner.store.put_record(NAMESPACE, id, &record)?)
    }

    /// Forgets the vars of a deleted task.
    pub(super) fn forget_vars(&self, id: &str) -> Result<(), TaskError> {
        Ok(self.inner.store.delete_record(NAMESPACE, id)?)
    }

    /// The script task `record` runs: its own, with its vars written in.
    ///
    /// With `[deadman] global`, the script also gets Kapacitor's global deadman on its source:
    /// `stream|from()|deadman(threshold, interval)`.
    pub(super) fn script_with_vars(&self, record: &TaskRecord) -> Result<String, TaskError> {
        let template = self.task_template(&record.id)?;
        let mut script = if template.vars.is_empty() && !has_typed_vars(&record.script) {
            record.script.clone()
        } else {
            let limits = &self.inner.alerts.limits().pipeline.tick;
            klaxon_tick::apply_vars(&record.script, &template.vars, limits, false)
                .map_err(|e| TaskError::Invalid(e.into()))?
        };
        let deadman = &self.inner.server.deadman;
        if deadman.global {
            let threshold = format!("{:?}", deadman.threshold);
            let interval = match deadman.interval {
                ns if ns % 1_000_000_000 == 0 => format!("{}s", ns / 1_000_000_000),
                ns if ns % 1_000_000 == 0 => format!("{}ms", ns / 1_000_000),
                ns => format!("{}u", (ns / 1_000).max(1)),
            };
            // On a `|from()` of the source, as Klaxon's deadman must follow one.
            script.push_str(&format!(
                "\nstream\n    |from()\n    |deadman({threshold}, {interval})\n"
            ));
        }
        Ok(script)
    }
}

/// Whether a script may declare typed vars (`var x duration`): a cheap look before parsing.
fn has_typed_vars(script: &str) -> bool {
    script.contains("var ")
}

/// The vars a template declares, for its JSON: each with its type and its value in the script
/// (null for a typed declaration).
pub fn declared_vars_json(vars: &BTreeMap<String, klaxon_tick::DeclaredVar>) -> Value {
    Value::Object(
        vars.iter()
            .map(|(name, var)| (name.clone(), var_json(var.value.as_ref(), var.ty)))
            .collect(),
    )
}
