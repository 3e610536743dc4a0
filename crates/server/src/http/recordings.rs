//! The recordings and replays API (Kapacitor's `/kapacitor/v1/recordings` and
//! `/kapacitor/v1/replays`), with Kapacitor's shapes and status codes: a recording or replay is
//! created `running` (201), answered 202 while it runs and 200 once finished or failed.
//! Klaxon adds `deliver` to replay requests (the alert events reach the task's handlers only
//! when it is true) and `alerts` to finished replays (the alert events the task emitted).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use klaxon_core::Timestamp;
use klaxon_engine::recordings::{
    JobStatus, Recording, RecordingType, Replay, ReplayRequest, ReplaySource,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::listing::ListQuery;
use super::respond::{link, pretty};

const RECORDINGS: &str = "/kapacitor/v1/recordings";
const REPLAYS: &str = "/kapacitor/v1/replays";

fn status_name(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Running => "running",
        JobStatus::Finished => "finished",
        JobStatus::Failed => "failed",
    }
}

/// 202 while it runs, 200 once it is over, as Kapacitor answers.
fn status_code(status: JobStatus) -> StatusCode {
    if status == JobStatus::Running {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}

/// A recording in Kapacitor's JSON shape.
fn recording_json(r: &Recording) -> Value {
    json!({
        "link": link("self", &format!("{RECORDINGS}/{}", r.id)),
        "id": r.id,
        "type": r.kind.name(),
        "size": r.size,
        "date": r.date.to_rfc3339_nano(),
        "error": r.error,
        "status": status_name(r.status),
        "progress": r.progress,
    })
}

/// A replay in Kapacitor's JSON shape, with Klaxon's `deliver` and `alerts`.
fn replay_json(r: &Replay, progress: Option<f64>) -> Value {
    let (stats, alerts) = match &r.outcome {
        Some(outcome) => {
            let errors = outcome.stats.nodes.iter().map(|n| n.errors).sum();
            (
                super::task_graph::execution_stats(&outcome.stats, errors),
                Value::from(outcome.alerts.clone()),
            )
        }
        None => (json!({}), json!([])),
    };
    json!({
        "link": link("self", &format!("{REPLAYS}/{}", r.id)),
        "id": r.id,
        "task": r.task,
        "recording": r.recording,
        "recording-time": r.recording_time,
        "clock": if r.real_clock { "real" } else { "fast" },
        "deliver": r.deliver,
        "date": r.date.to_rfc3339_nano(),
        "error": r.error,
        "status": status_name(r.status),
        "progress": progress.unwrap_or(r.progress),
        "stats": stats,
        "alerts": alerts,
    })
}

/// A JSON body, refused with the reason when it does not decode.
fn decode<T: for<'de> Deserialize<'de>>(body: &Bytes, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid {what} JSON: {e}")))
}

/// A field Kapacitor requires, refused with its message when absent or empty.
fn required(value: Option<String>, message: &str) -> Result<String, ApiError> {
    present(value.filter(|v| !v.is_empty()), message)
}

/// A value Kapacitor requires, refused with its message when absent.
fn present<T>(value: Option<T>, message: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::bad_request(message))
}

/// An RFC 3339 time of a request body; `None` when absent or empty.
fn time(text: Option<&str>, field: &str) -> Result<Option<Timestamp>, ApiError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => Timestamp::parse_rfc3339(text).map(Some).map_err(|e| {
            ApiError::bad_request(format!(
                "{field}: {e}; write it in RFC 3339, like 2026-12-04T10:00:00Z"
            ))
        }),
    }
}

/// `GET /kapacitor/v1/recordings`.
pub async fn list_recordings(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let pattern = query.pattern()?;
    let all = state.recordings.recordings(|id| pattern.matches(id));
    const FIELDS: [&str; 8] = [
        "link", "id", "type", "size", "date", "error", "status", "progress",
    ];
    let recordings = query.page(all.iter().map(recording_json), &FIELDS, &FIELDS)?;
    Ok(pretty(StatusCode::OK, &json!({ "recordings": recordings })))
}

/// `GET /kapacitor/v1/recordings/<id>`.
pub async fn get_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let recording = state
        .recordings
        .recording(&id)
        .ok_or_else(|| ApiError::not_found(format!("no recording exists with ID {id:?}")))?;
    Ok(pretty(
        status_code(recording.status),
        &recording_json(&recording),
    ))
}

/// `DELETE /kapacitor/v1/recordings/<id>`.
pub async fn delete_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.recordings.delete_recording(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordStreamBody {
    id: Option<String>,
    task: Option<String>,
    stop: Option<String>,
}

/// `POST /kapacitor/v1/recordings/stream`: `{"task", "stop"}`.
pub async fn record_stream(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: RecordStreamBody = decode(&body, "recording")?;
    let task = required(body.task, "must provide task")?;
    let stop = present(
        time(body.stop.as_deref(), "stop")?,
        "must provide stop time",
    )?;
    let recording = state.recordings.record_stream(body.id, &task, stop)?;
    Ok(pretty(StatusCode::CREATED, &recording_json(&recording)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordBatchBody {
    id: Option<String>,
    task: Option<String>,
    start: Option<String>,
    stop: Option<String>,
    cluster: Option<String>,
}

/// `POST /kapacitor/v1/recordings/batch`: `{"task", "start", "stop"}` (stop defaults to now).
pub async fn record_batch(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: RecordBatchBody = decode(&body, "recording")?;
    let task = required(body.task, "must provide task")?;
    let start = present(
        time(body.start.as_deref(), "start")?,
        "must provide start time",
    )?;
    let stop = time(body.stop.as_deref(), "stop")?.unwrap_or_else(Timestamp::now);
    // Kapacitor reads `cluster` and uses the task's own clusters; so does Klaxon.
    let _ = body.cluster;
    let recording = state.recordings.record_batch(body.id, &task, start, stop)?;
    Ok(pretty(StatusCode::CREATED, &recording_json(&recording)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordQueryBody {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    query: Option<String>,
    cluster: Option<String>,
}

fn recording_type(kind: Option<&str>) -> Result<RecordingType, ApiError> {
    match kind {
        Some("stream") => Ok(RecordingType::Stream),
        Some("batch") => Ok(RecordingType::Batch),
        None | Some("") => Err(ApiError::bad_request("must provide type: stream or batch")),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid type {other:?}: use stream or batch"
        ))),
    }
}

/// `POST /kapacitor/v1/recordings/query`: `{"type", "query", "cluster"}`.
pub async fn record_query(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: RecordQueryBody = decode(&body, "recording")?;
    let query = required(body.query, "must provide query")?;
    let kind = recording_type(body.kind.as_deref())?;
    let recording = state.recordings.record_query(
        body.id,
        &query,
        kind,
        body.cluster.as_deref().unwrap_or_default(),
    )?;
    Ok(pretty(StatusCode::CREATED, &recording_json(&recording)))
}

/// `GET /kapacitor/v1/replays`.
pub async fn list_replays(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let pattern = query.pattern()?;
    let all = state.recordings.replays(|id| pattern.matches(id));
    let items = all
        .iter()
        .map(|r| replay_json(r, state.recordings.replay_progress(&r.id)));
    const FIELDS: [&str; 13] = [
        "link",
        "id",
        "task",
        "recording",
        "recording-time",
        "clock",
        "deliver",
        "date",
        "error",
        "status",
        "progress",
        "stats",
        "alerts",
    ];
    let replays = query.page(items, &FIELDS, &FIELDS)?;
    Ok(pretty(StatusCode::OK, &json!({ "replays": replays })))
}

/// `GET /kapacitor/v1/replays/<id>`.
pub async fn get_replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let replay = state
        .recordings
        .replay(&id)
        .ok_or_else(|| ApiError::not_found(format!("no replay exists with ID {id:?}")))?;
    let progress = state.recordings.replay_progress(&id);
    Ok(pretty(
        status_code(replay.status),
        &replay_json(&replay, progress),
    ))
}

/// `DELETE /kapacitor/v1/replays/<id>`.
pub async fn delete_replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.recordings.delete_replay(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the three replay requests share.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    id: Option<String>,
    task: Option<String>,
    recording: Option<String>,
    #[serde(rename = "recording-time", default)]
    recording_time: bool,
    clock: Option<String>,
    /// Klaxon's: deliver the alert events through the task's handlers.
    #[serde(default)]
    deliver: bool,
    start: Option<String>,
    stop: Option<String>,
    query: Option<String>,
    cluster: Option<String>,
}

impl ReplayBody {
    fn request(&self) -> Result<ReplayRequest, ApiError> {
        let task = required(self.task.clone(), "must provide task")?;
        let real_clock = match self.clock.as_deref() {
            None | Some("" | "fast") => false,
            Some("real") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "invalid clock type {other:?}: use fast or real"
                )));
            }
        };
        Ok(ReplayRequest {
            id: self.id.clone(),
            task,
            recording_time: self.recording_time,
            real_clock,
            deliver: self.deliver,
        })
    }

    /// Fields that belong to another replay request are refused, naming them.
    fn refuse(&self, fields: &[(&str, bool)], route: &str) -> Result<(), ApiError> {
        match fields.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(ApiError::bad_request(format!(
                "{name} is not a field of POST {route}"
            ))),
            None => Ok(()),
        }
    }
}

fn started(state: &AppState, replay: Replay) -> Response {
    let progress = state.recordings.replay_progress(&replay.id);
    pretty(StatusCode::CREATED, &replay_json(&replay, progress))
}

/// `POST /kapacitor/v1/replays`: `{"task", "recording", "recording-time", "clock"}`.
pub async fn replay(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let body: ReplayBody = decode(&body, "replay")?;
    body.refuse(
        &[
            ("start", body.start.is_some()),
            ("stop", body.stop.is_some()),
            ("query", body.query.is_some()),
            ("cluster", body.cluster.is_some()),
        ],
        "/kapacitor/v1/replays",
    )?;
    let request = body.request()?;
    let recording = required(body.recording.clone(), "must provide recording")?;
    let replay = state
        .recordings
        .start_replay(request, ReplaySource::Recording(recording))?;
    Ok(started(&state, replay))
}

/// `POST /kapacitor/v1/replays/batch`: the task's own queries over `start` to `stop`.
pub async fn replay_batch(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: ReplayBody = decode(&body, "replay")?;
    body.refuse(
        &[
            ("recording", body.recording.is_some()),
            ("query", body.query.is_some()),
        ],
        "/kapacitor/v1/replays/batch",
    )?;
    let request = body.request()?;
    let start = present(
        time(body.start.as_deref(), "start")?,
        "must provide start time",
    )?;
    let stop = time(body.stop.as_deref(), "stop")?.unwrap_or_else(Timestamp::now);
    let replay = state
        .recordings
        .start_replay(request, ReplaySource::Queries { start, stop })?;
    Ok(started(&state, replay))
}

/// `POST /kapacitor/v1/replays/query`: one query's answer into the task.
pub async fn replay_query(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: ReplayBody = decode(&body, "replay")?;
    body.refuse(
        &[
            ("recording", body.recording.is_some()),
            ("start", body.start.is_some()),
            ("stop", body.stop.is_some()),
        ],
        "/kapacitor/v1/replays/query",
    )?;
    let request = body.request()?;
    let query = required(body.query.clone(), "must provide query")?;
    let replay = state.recordings.start_replay(
        request,
        ReplaySource::Query {
            query,
            cluster: body.cluster.clone().unwrap_or_default(),
        },
    )?;
    Ok(started(&state, replay))
}
