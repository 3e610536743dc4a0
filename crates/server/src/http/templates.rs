//! The templates API (Kapacitor's `/kapacitor/v1/templates`): define, list, show, patch and
//! delete task templates; and the template ID and vars the tasks API shows of a task.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use klaxon_core::Timestamp;
use klaxon_engine::tasks::{TemplateError, TemplateRecord, vars_json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::respond::{link, pretty};

const BASE: &str = "/kapacitor/v1/templates";

/// The body of `POST /templates` and `PATCH /templates/<id>`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    script: Option<String>,
}

/// `?pattern=&fields=&offset=&limit=&script-format=` of the template list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    list: super::listing::ListQuery,
    #[serde(rename = "script-format")]
    script_format: Option<String>,
}

/// `?script-format=` of one template.
#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    #[serde(rename = "script-format")]
    script_format: Option<String>,
}

fn decode(body: &Bytes) -> Result<TemplateBody, ApiError> {
    let body: TemplateBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid template JSON: {e}")))?;
    if let Some(kind) = body
        .kind
        .as_deref()
        .filter(|k| !k.is_empty() && *k != "stream" && *k != "batch")
    {
        return Err(ApiError::bad_request(format!(
            "invalid template type: {kind:?}; use stream or batch"
        )));
    }
    if let (Some(kind), Some(script)) = (
        body.kind.as_deref().filter(|k| !k.is_empty()),
        body.script.as_deref(),
    ) {
        super::tasks::check_type(kind, super::tasks::script_type(script))?;
    }
    Ok(body)
}

/// Kapacitor's `raw` and `formatted` script formats; Klaxon shows the script as written in both.
fn check_script_format(format: Option<&str>) -> Result<(), ApiError> {
    match format {
        None | Some("" | "formatted" | "raw") => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid script-format parameter {other:?}; use formatted or raw"
        ))),
    }
}

fn dot(id: &str, edges: &[(String, String)]) -> String {
    let mut out = format!("digraph {id} {{\n");
    for (parent, child) in edges {
        out.push_str(&format!("{parent} -> {child};\n"));
    }
    out.push('}');
    out
}

/// A template in Kapacitor's JSON shape.
pub fn template_json(t: &TemplateRecord) -> Value {
    json!({
        "link": link("self", &format!("{BASE}/{}", t.id)),
        "id": t.id,
        "type": match t.edges.first() {
            Some((source, _)) if source == "batch0" => "batch",
            _ => "stream",
        },
        "script": t.script,
        "vars": t.vars,
        "dot": dot(&t.id, &t.edges),
        "error": "",
        "created": t.created.to_rfc3339_nano(),
        "modified": t.modified.to_rfc3339_nano(),
    })
}

/// A random template ID, as Kapacitor gives a template defined without one.
fn random_id() -> String {
    let now = Timestamp::now().as_nanos().unsigned_abs();
    format!("{now:016x}")
}

/// `POST /kapacitor/v1/templates`.
pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let body = decode(&body)?;
    let id = body
        .id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(random_id);
    let template = state
        .tasks
        .define_template(&id, body.script.as_deref().unwrap_or_default())?;
    Ok(pretty(StatusCode::OK, &template_json(&template)))
}

/// `GET /kapacitor/v1/templates`.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    check_script_format(query.script_format.as_deref())?;
    let pattern = query.list.pattern()?;
    const FIELDS: [&str; 9] = [
        "link", "id", "type", "script", "vars", "dot", "error", "created", "modified",
    ];
    // Without fields: all but the vars, as Kapacitor lists them.
    let default: Vec<&str> = FIELDS.iter().copied().filter(|f| *f != "vars").collect();
    let all = state.tasks.templates(|id| pattern.matches(id))?;
    let templates = query
        .list
        .page(all.iter().map(template_json), &FIELDS, &default)?;
    Ok(pretty(StatusCode::OK, &json!({ "templates": templates })))
}

/// `GET /kapacitor/v1/templates/<id>`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, ApiError> {
    check_script_format(query.script_format.as_deref())?;
    let template = state.tasks.template(&id)?;
    Ok(pretty(StatusCode::OK, &template_json(&template)))
}

/// `PATCH /kapacitor/v1/templates/<id>`: a new ID or script; the tasks made from the template
/// change with it.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = decode(&body)?;
    let template = state
        .tasks
        .update_template(&id, body.id.as_deref(), body.script.as_deref())?;
    Ok(pretty(StatusCode::OK, &template_json(&template)))
}

/// `DELETE /kapacitor/v1/templates/<id>`: 204, also for an unknown template.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.tasks.delete_template(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A task's JSON with its template ID and vars, which the task JSON leaves empty.
pub fn with_template(state: &AppState, mut task: Value) -> Value {
    let id = task["id"].as_str().unwrap_or_default().to_owned();
    if let Ok(template) = state.tasks.task_template(&id) {
        task["template-id"] = json!(template.template_id);
        task["vars"] = vars_json(&template.vars);
    }
    task
}

/// Why a task could not be made from a template: an unknown template is the request's fault
/// here (400, as Kapacitor), not a missing resource.
pub fn task_from_template_error(err: TemplateError) -> ApiError {
    match err {
        TemplateError::NotFound(id) => ApiError::bad_request(format!(
            "unknown template {id}; define it first (klaxon define-template {id} -tick FILE)"
        )),
        other => other.into(),
    }
}

/// The vars of a task body, decoded.
pub fn decode_vars(vars: Option<&Value>) -> Result<Option<klaxon_tick::TaskVars>, ApiError> {
    vars.map(klaxon_engine::tasks::decode_vars)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))
}
