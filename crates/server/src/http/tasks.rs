//! The tasks API used by Kapacitor's CLI (reference 6.5): define, list, show, patch, delete; and
//! the `|httpOut()` endpoints of running tasks.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_core::Timestamp;
use klaxon_engine::tasks::{Dbrp, TaskChange, TaskError, TaskInfo, TaskStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::respond::{link, pretty};
use crate::pattern::Pattern;

const BASE: &str = "/kapacitor/v1/tasks";

/// Go's zero time, which Kapacitor shows for a task never enabled.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The body of `POST /tasks` and `PATCH /tasks/<id>`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    dbrps: Option<Vec<Dbrp>>,
    script: Option<String>,
    status: Option<TaskStatus>,
    vars: Option<Value>,
    #[serde(rename = "template-id")]
    template_id: Option<String>,
}

/// `?pattern=&fields=&offset=&limit=` of the task list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pattern: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    #[allow(dead_code)]
    fields: Option<String>,
}

fn decode(body: &Bytes) -> Result<TaskBody, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid task JSON: {e}")))
}

fn task_error(err: TaskError) -> ApiError {
    match err {
        TaskError::Invalid(_) | TaskError::BadRequest(_) | TaskError::Limit(_) => {
            ApiError::bad_request(err.to_string())
        }
        TaskError::NotFound(_) => ApiError::not_found(err.to_string()),
        TaskError::Store(_) => ApiError::internal(err.to_string()),
    }
}

fn check_body(body: &TaskBody) -> Result<(), ApiError> {
    if let Some(kind) = body.kind.as_deref()
        && kind != "stream"
    {
        return Err(ApiError::bad_request(format!(
            "task type {kind:?} is not supported; only stream tasks are"
        )));
    }
    if body.template_id.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::bad_request("template tasks are not supported"));
    }
    if body
        .vars
        .as_ref()
        .is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
    {
        return Err(ApiError::bad_request(
            "task vars are not supported; write the values into the script",
        ));
    }
    Ok(())
}

/// The DOT graph of a script: its nodes and edges.
fn dot(id: &str, script: &str) -> String {
    let mut out = format!("digraph {id} {{\n");
    if let Ok(program) = klaxon_tick::compile_script(script) {
        for node in &program.nodes {
            if let Some(parent) = node.parent {
                out.push_str(&format!(
                    "{} -> {};\n",
                    program.nodes[parent].id(),
                    node.id()
                ));
            }
        }
    }
    out.push('}');
    out
}

fn time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| ZERO_TIME.to_owned(), Timestamp::to_rfc3339_nano)
}

/// A task in Kapacitor's JSON shape.
pub fn task_json(info: &TaskInfo) -> Value {
    let r = &info.record;
    json!({
        "link": link("self", &format!("{BASE}/{}", r.id)),
        "id": r.id,
        "template-id": "",
        "type": "stream",
        "dbrps": info.dbrps,
        "script": r.script,
        "vars": {},
        "dot": dot(&r.id, &r.script),
        "status": r.status,
        "executing": info.executing,
        "error": info.error,
        "stats": {"task-stats": {"point-errors": info.point_errors}},
        "created": time(Some(r.created)),
        "modified": time(Some(r.modified)),
        "last-enabled": time(r.last_enabled),
    })
}

/// `POST /kapacitor/v1/tasks`.
pub async fn create(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let body = decode(&body)?;
    check_body(&body)?;
    let id = body.id.clone().unwrap_or_default();
    if id.is_empty() {
        return Err(ApiError::bad_request("task ID is required"));
    }
    let script = body.script.clone().unwrap_or_default();
    if script.trim().is_empty() {
        return Err(ApiError::bad_request("task script is required"));
    }
    let info = state
        .tasks
        .define(
            &id,
            &script,
            body.dbrps.unwrap_or_default(),
            body.status.unwrap_or_default(),
        )
        .map_err(task_error)?;
    Ok(pretty(StatusCode::OK, &task_json(&info)))
}

/// `GET /kapacitor/v1/tasks`.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let pattern = query
        .pattern
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("*");
    let pattern = Pattern::new(pattern)
        .map_err(|e| ApiError::bad_request(format!("invalid pattern: {e}")))?;
    let tasks: Vec<Value> = state
        .tasks
        .list(|id| pattern.matches(id))
        .iter()
        .skip(query.offset.unwrap_or(0))
        .take(query.limit.filter(|l| *l > 0).unwrap_or(100))
        .map(task_json)
        .collect();
    Ok(pretty(StatusCode::OK, &json!({ "tasks": tasks })))
}

/// `GET /kapacitor/v1/tasks/<id>`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let info = state
        .tasks
        .get(&id)
        .ok_or_else(|| task_error(TaskError::NotFound(id.clone())))?;
    Ok(pretty(StatusCode::OK, &task_json(&info)))
}

/// `PATCH /kapacitor/v1/tasks/<id>`.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = decode(&body)?;
    check_body(&body)?;
    if body.id.as_deref().is_some_and(|new| new != id) {
        return Err(ApiError::bad_request(
            "renaming a task is not supported; define it under the new ID",
        ));
    }
    let change = TaskChange {
        script: body.script,
        dbrps: body.dbrps,
        status: body.status,
    };
    let info = state.tasks.update(&id, change).map_err(task_error)?;
    Ok(pretty(StatusCode::OK, &task_json(&info)))
}

/// `DELETE /kapacitor/v1/tasks/<id>`: 204, also for an unknown task.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.tasks.delete(&id).map_err(task_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /kapacitor/v1/tasks/<id>/<name>`: the latest output of the task's `|httpOut('<name>')`
/// node, `{"series":[...]}` compact as Go's `json.Marshal` writes it (one row per group).
pub async fn http_out(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let result = state
        .tasks
        .http_output(&id, &name)
        .map_err(task_error)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no endpoint {name:?} on task {id:?}; add |httpOut('{name}') to the task and enable it"
            ))
        })?;
    let mut response = (StatusCode::OK, klaxon_core::json::to_go_string(&result)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_body_corpus_gets_an_answer_for_every_body() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/task_body");
        let results = klaxon_core::testing::replay_corpus(&dir, |bytes| {
            let body = decode(&Bytes::copy_from_slice(bytes)).map_err(|e| e.to_string())?;
            check_body(&body).map_err(|e| e.to_string())?;
            Ok(body.id.unwrap_or_default())
        });
        let valid = results
            .iter()
            .find(|(p, _)| p.ends_with("valid.json"))
            .unwrap();
        assert_eq!(valid.1, Ok("t".to_owned()));
    }
}

/// Properties of task bodies (`POST /kapacitor/v1/tasks` and `PATCH /kapacitor/v1/tasks/<id>`):
/// any body decodes and passes the checks, or is refused with 400.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn field() -> impl Strategy<Value = (String, Value)> {
        (
            prop::sample::select(
                &[
                    "id",
                    "type",
                    "dbrps",
                    "script",
                    "status",
                    "vars",
                    "template-id",
                    "nosuch",
                ][..],
            ),
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|i| json!(i)),
                prop::sample::select(
                    &[
                        "stream",
                        "batch",
                        "enabled",
                        "disabled",
                        "t",
                        "",
                        "stream|from()"
                    ][..]
                )
                .prop_map(|s| json!(s)),
                Just(json!([{"db": "telegraf", "rp": "autogen"}])),
                Just(json!([{"db": 1}])),
                Just(json!({"x": {"type": "int", "value": 1}})),
                Just(json!({})),
            ],
        )
            .prop_map(|(k, v)| (k.to_owned(), v))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_task_body_is_decoded_or_refused_with_400(
            fields in prop::collection::vec(field(), 0..6),
        ) {
            let body: serde_json::Map<String, Value> = fields.into_iter().collect();
            let bytes = Bytes::from(serde_json::to_vec(&body).expect("JSON"));
            let result = decode(&bytes).and_then(|task| check_body(&task).map(|()| task));
            match result {
                Ok(task) => prop_assert_eq!(task.id.as_deref(), body.get("id").and_then(Value::as_str)),
                Err(e) => prop_assert_eq!(e.status, StatusCode::BAD_REQUEST, "{}", e.message),
            }
        }

        #[test]
        fn arbitrary_bytes_are_decoded_or_refused_with_400(
            body in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            if let Err(e) = decode(&Bytes::from(body)).and_then(|task| check_body(&task)) {
                prop_assert_eq!(e.status, StatusCode::BAD_REQUEST, "{}", e.message);
            }
        }
    }
}
