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
use super::stream_list::{Page, pretty_list};
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

fn check_body(body: &TaskBody) -> Result<(), ApiError> {
    if let Some(kind) = body.kind.as_deref()
        && kind != "stream"
        && kind != "batch"
    {
        return Err(ApiError::bad_request(format!(
            "invalid task type: {kind:?}; use stream or batch"
        )));
    }
    if let (Some(kind), Some(script)) = (body.kind.as_deref(), body.script.as_deref()) {
        check_type(kind, script_type(script))?;
    }
    Ok(())
}

/// Refuses a task type other than the script's: a script that starts with `batch` is a batch
/// task. (Kapacitor takes the script's type and ignores the one given.)
pub(super) fn check_type(kind: &str, script: Option<&'static str>) -> Result<(), ApiError> {
    match script {
        Some(script) if script != kind => Err(ApiError::bad_request(format!(
            "task type {kind} does not match the script, which starts with {script}; give type {script} or write a {kind} script"
        ))),
        _ => Ok(()),
    }
}

/// The type of task `script` defines: the source (`stream` or `batch`) its first pipeline
/// starts from; `None` when it does not parse (the define then says why).
pub(super) fn script_type(script: &str) -> Option<&'static str> {
    use klaxon_tick::{Statement, VarValue};
    let script = klaxon_tick::parse(script).ok()?;
    script.statements.iter().find_map(|statement| {
        let chain = match statement {
            Statement::Pipeline(chain) => chain,
            Statement::Var(decl) => match &decl.value {
                VarValue::Chain(chain) => chain,
                _ => return None,
            },
            Statement::Dbrp(_) => return None,
        };
        match chain.head.as_str() {
            "stream" => Some("stream"),
            "batch" => Some("batch"),
            _ => None,
        }
    })
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
        "type": info.task_type(),
        "dbrps": info.dbrps,
        "script": r.script,
        "vars": {},
        "dot": super::task_graph::dot(info),
        "status": r.status,
        "executing": info.executing,
        "error": info.error,
        "stats": super::task_graph::stats(info),
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
    let template_id = body.template_id.clone().unwrap_or_default();
    let script = body.script.clone().unwrap_or_default();
    if template_id.is_empty() && script.trim().is_empty() {
        return Err(ApiError::bad_request("task script is required"));
    }
    let vars = super::templates::decode_vars(body.vars.as_ref())?.unwrap_or_default();
    let info = state
        .tasks
        .define_with_vars(
            &id,
            Some(&script),
            &template_id,
            vars,
            body.dbrps.unwrap_or_default(),
            body.status.unwrap_or_default(),
        )
        .map_err(super::templates::task_from_template_error)?;
    Ok(pretty(
        StatusCode::OK,
        &super::templates::with_template(&state, task_json(&info)),
    ))
}

/// Tasks read from the manager at once while the list is written: scripts are up to
/// `[limits] max-script-size` each.
const TASKS_PAGE: usize = 10;

/// Where the next page of the task list starts: after a task ID, with tasks still to skip (the
/// query's `offset`) and to write (its `limit`).
#[derive(Debug)]
struct TasksCursor {
    after: Option<String>,
    skip: usize,
    left: usize,
}

/// `GET /kapacitor/v1/tasks?pattern=&offset=&limit=` (limit 100 by default, as Kapacitor):
/// written a few tasks at a time, each page read and rendered off the async workers.
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
    let start = TasksCursor {
        after: None,
        skip: query.offset.unwrap_or(0),
        left: query.limit.filter(|l| *l > 0).unwrap_or(100),
    };
    let fetch = move |cursor: TasksCursor| {
        let want = cursor.left.min(TASKS_PAGE);
        let infos = state.tasks.list_page(
            |id| pattern.matches(id),
            cursor.after.as_deref(),
            cursor.skip,
            want,
        );
        let left = cursor.left - infos.len();
        let next = (infos.len() == want && left > 0).then(|| TasksCursor {
            after: infos.last().map(|info| info.record.id.clone()),
            skip: 0,
            left,
        });
        Page {
            items: infos
                .iter()
                .map(|info| super::templates::with_template(&state, task_json(info)))
                .collect(),
            next,
        }
    };
    Ok(pretty_list(json!({ "tasks": [] }), "tasks", start, fetch))
}

/// `GET /kapacitor/v1/tasks/<id>`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let info = state
        .tasks
        .get(&id)
        .ok_or_else(|| TaskError::NotFound(id.clone()))?;
    Ok(pretty(
        StatusCode::OK,
        &super::templates::with_template(&state, task_json(&info)),
    ))
}

/// `PATCH /kapacitor/v1/tasks/<id>`.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = decode(&body)?;
    check_body(&body)?;
    if let (Some(kind), None) = (body.kind.as_deref(), body.script.as_deref())
        && let Some(existing) = state.tasks.get(&id)
    {
        check_type(kind, Some(existing.task_type()))?;
    }
    if body.id.as_deref().is_some_and(|new| new != id) {
        return Err(ApiError::bad_request(
            "renaming a task is not supported; define it under the new ID",
        ));
    }
    let vars = super::templates::decode_vars(body.vars.as_ref())?;
    let change = TaskChange {
        script: body.script,
        dbrps: body.dbrps,
        status: body.status,
    };
    let info = state
        .tasks
        .update_with_vars(&id, change, body.template_id.as_deref(), vars)
        .map_err(super::templates::task_from_template_error)?;
    Ok(pretty(
        StatusCode::OK,
        &super::templates::with_template(&state, task_json(&info)),
    ))
}

/// `DELETE /kapacitor/v1/tasks/<id>`: 204, also for an unknown task.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.tasks.delete(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /kapacitor/v1/tasks/<id>/<name>`: the latest output of the task's `|httpOut('<name>')`
/// node, `{"series":[...]}` compact as Go's `json.Marshal` writes it (one row per group).
pub async fn http_out(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let result = state.tasks.http_output(&id, &name)?.ok_or_else(|| {
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
