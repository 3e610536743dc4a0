//! The topics API (reference 3.2, 3.3): list, get, delete topics; list and get their events;
//! and the default-off testing route that posts a raw event into a topic.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klaxon_core::{
    AlertResult, Event, EventData, EventState, FieldValue, GoDuration, Level, Row, Timestamp,
};
use klaxon_engine::TopicInfo;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::respond::{link, pretty};
use super::stream_list::{Page, pretty_list};
use crate::pattern::Pattern;

/// `/kapacitor/v1` or `/kapacitor/v1preview`, whichever the request came in on.
pub(super) fn base(uri: &axum::http::Uri) -> &'static str {
    if uri.path().starts_with("/kapacitor/v1preview") {
        "/kapacitor/v1preview"
    } else {
        "/kapacitor/v1"
    }
}

/// The request's path and query as received, for `self` links of lists.
pub(super) fn request_href(uri: &axum::http::Uri) -> String {
    uri.path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| uri.path().to_owned())
}

fn topics_href(base: &str, topic: &str) -> String {
    format!("{base}/alerts/topics/{topic}")
}

fn topic_json(base: &str, topic: &TopicInfo) -> Value {
    let href = topics_href(base, &topic.id);
    json!({
        "link": link("self", &href),
        "id": topic.id,
        "level": topic.level,
        "collected": topic.collected,
        "events-link": link("events", &format!("{href}/events")),
        "handlers-link": link("handlers", &format!("{href}/handlers")),
    })
}

fn event_json(base: &str, topic: &str, state: &EventState) -> Value {
    json!({
        "link": link("self", &format!("{}/events/{}", topics_href(base, topic), state.id)),
        "id": state.id,
        "state": {
            "message": state.message,
            "details": state.details,
            "time": state.time,
            "duration": state.duration.to_string(),
            "level": state.level,
        },
    })
}

pub(super) fn parse_pattern(query: &HashMap<String, String>) -> Result<Option<Pattern>, ApiError> {
    match query.get("pattern").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(p) => Pattern::new(p)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("invalid pattern: {e}"))),
    }
}

fn parse_min_level(query: &HashMap<String, String>) -> Result<Level, ApiError> {
    query
        .get("min-level")
        .map(String::as_str)
        .unwrap_or("")
        .parse()
        .map_err(|e: klaxon_core::UnknownLevel| ApiError::bad_request(e.to_string()))
}

/// Whether the request asks for this server's own view only (`local=true`), not its Kafka
/// consumer group's ([`super::cluster`]).
fn local(query: &HashMap<String, String>) -> bool {
    query.get("local").is_some_and(|v| v == "true")
}

/// `GET /alerts/topics?pattern=&min-level=`, for the whole Kafka consumer group when this
/// server is a member of one: every member's topics, each topic's level from its merged events.
pub async fn list(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let pattern = parse_pattern(&query)?;
    let min_level = parse_min_level(&query)?;
    let base = base(&uri);
    if let Some(cluster) = super::cluster::Cluster::of(&state, local(&query)) {
        // The others' topics whatever their own levels: a topic's level is the group's.
        let peer_params: Vec<(&str, String)> = query
            .get("pattern")
            .map(|p| ("pattern", p.clone()))
            .into_iter()
            .collect();
        return cluster_list(
            &state,
            &cluster,
            &uri,
            &headers,
            pattern.as_ref(),
            min_level,
            &peer_params,
        )
        .await;
    }
    let topics: Vec<Value> = state
        .alerts
        .topics(
            |id| pattern.as_ref().is_none_or(|p| p.matches(id)),
            min_level,
        )
        .iter()
        .map(|t| topic_json(base, t))
        .collect();
    Ok(pretty(
        StatusCode::OK,
        &json!({"link": link("self", &request_href(&uri)), "topics": topics}),
    ))
}

/// [`list`] across the group.
async fn cluster_list(
    state: &AppState,
    cluster: &super::cluster::Cluster,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    pattern: Option<&Pattern>,
    min_level: Level,
    peer_params: &[(&str, String)],
) -> Result<Response, ApiError> {
    let base = base(uri);
    // Every topic any member has, with every member's events: a topic's level is that of its
    // newest states, whichever member holds them.
    let mut ids: Vec<(String, u64)> = state
        .alerts
        .topics(|id| pattern.is_none_or(|p| p.matches(id)), Level::Ok)
        .iter()
        .map(|t| (t.id.clone(), t.collected))
        .collect();
    let answers = cluster
        .ask_others(&format!("{base}/alerts/topics"), peer_params, headers)
        .await;
    for (_, answer) in &answers {
        let Ok(answer) = answer else { continue };
        for topic in answer["topics"].as_array().into_iter().flatten() {
            let (Some(id), collected) = (topic["id"].as_str(), topic["collected"].as_u64()) else {
                continue;
            };
            match ids.iter_mut().find(|(known, _)| known == id) {
                Some((_, total)) => *total += collected.unwrap_or(0),
                None => ids.push((id.to_owned(), collected.unwrap_or(0))),
            }
        }
    }
    ids.sort();
    let mut topics = Vec::with_capacity(ids.len());
    for (id, collected) in ids {
        let events = cluster_events(state, cluster, base, &id, Level::Ok, headers).await;
        let level = super::cluster::level_of(&events);
        if level < min_level {
            continue;
        }
        topics.push(topic_json(
            base,
            &TopicInfo {
                id,
                level,
                collected,
            },
        ));
    }
    Ok(pretty(
        StatusCode::OK,
        &json!({
            "link": link("self", &request_href(uri)),
            "topics": topics,
            "cluster": cluster.describe(&answers),
        }),
    ))
}

/// A topic's events on every member, merged ([`super::cluster::merge_events`]).
async fn cluster_events(
    state: &AppState,
    cluster: &super::cluster::Cluster,
    base: &'static str,
    topic: &str,
    min_level: Level,
    headers: &axum::http::HeaderMap,
) -> Vec<Value> {
    let own: Vec<Value> = state
        .alerts
        .events(topic, min_level)
        .map(|events| events.iter().map(|e| event_json(base, topic, e)).collect())
        .unwrap_or_default();
    let params = [("min-level", min_level.to_string())];
    let mut lists = vec![(cluster.own().to_owned(), own)];
    for (member, answer) in cluster
        .ask_others(
            &format!("{}/events", topics_href(base, topic)),
            &params,
            headers,
        )
        .await
    {
        if let Ok(answer) = answer {
            let events = answer["events"].as_array().cloned().unwrap_or_default();
            lists.push((member, events));
        }
    }
    super::cluster::merge_events(lists)
}

/// `GET /alerts/topics/{topic}`.
pub async fn get(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(topic): Path<String>,
) -> Result<Response, ApiError> {
    let info = state
        .alerts
        .topic(&topic)
        .ok_or_else(|| ApiError::not_found(format!("unknown topic: {topic:?}")))?;
    Ok(pretty(StatusCode::OK, &topic_json(base(&uri), &info)))
}

/// `DELETE /alerts/topics/{topic}`: 204, also for an unknown topic.
pub async fn delete(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Response, ApiError> {
    state
        .alerts
        .delete_topic(&topic)
        .map_err(|e| ApiError::from(e).context(format_args!("failed to delete topic {topic:?}")))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Events read from the topic at once while its list is written.
const EVENTS_PAGE: usize = 1000;

/// `GET /alerts/topics/{topic}/events?min-level=`: written a page of events at a time, so that
/// a topic of any size costs its readers a page of memory (sorted by ID, each page as the topic
/// was when it was read). A member of a Kafka consumer group answers for the group: every
/// member's events merged, in memory, each marked with its member.
pub async fn events(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(topic): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let min_level = parse_min_level(&query)?;
    let base = base(&uri);
    if let Some(cluster) = super::cluster::Cluster::of(&state, local(&query)) {
        let events = cluster_events(&state, &cluster, base, &topic, min_level, &headers).await;
        if events.is_empty() && state.alerts.topic(&topic).is_none() {
            return Err(ApiError::not_found(format!("unknown topic: {topic:?}")));
        }
        return Ok(pretty(
            StatusCode::OK,
            &json!({
                "link": link("self", &format!("{}/events", topics_href(base, &topic))),
                "topic": topic,
                "events": events,
            }),
        ));
    }
    // An unknown topic is a 404 before anything is written.
    state
        .alerts
        .events_page(&topic, min_level, None, 0)
        .map_err(|e| ApiError::from(e).context("failed to get topic events"))?;
    let document = json!({
        "link": link("self", &format!("{}/events", topics_href(base, &topic))),
        "topic": topic,
        "events": [],
    });
    let alerts = state.alerts.clone();
    let fetch = move |after: Option<String>| {
        // A topic deleted meanwhile ends the list.
        let (events, next) = alerts
            .events_page(&topic, min_level, after.as_deref(), EVENTS_PAGE)
            .unwrap_or_default();
        Page {
            items: events.iter().map(|e| event_json(base, &topic, e)).collect(),
            next: next.map(Some),
        }
    };
    Ok(pretty_list(document, "events", None, fetch))
}

/// `GET /alerts/topics/{topic}/events/{event}`.
pub async fn event(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((topic, event)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let found = state.alerts.event(&topic, &event)?;
    Ok(pretty(
        StatusCode::OK,
        &event_json(base(&uri), &topic, &found),
    ))
}

/// The body of the testing route: a small event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestEvent {
    id: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    time: Option<Timestamp>,
    #[serde(default)]
    duration: GoDuration,
    level: Level,
    /// The measurement.
    #[serde(default)]
    name: String,
    #[serde(default, rename = "task")]
    task_name: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    fields: BTreeMap<String, Value>,
    #[serde(default = "yes")]
    recoverable: bool,
}

fn yes() -> bool {
    true
}

fn field_value(name: &str, value: &Value) -> Result<FieldValue, ApiError> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .map(FieldValue::Float)
            .ok_or_else(|| ApiError::bad_request(format!("field {name:?}: number out of range"))),
        Value::String(s) => Ok(FieldValue::String(s.clone())),
        Value::Bool(b) => Ok(FieldValue::Bool(*b)),
        other => Err(ApiError::bad_request(format!(
            "field {name:?} must be a number, string or bool, got {other}"
        ))),
    }
}

/// `POST /alerts/topics/{topic}/events` (testing aid, `[alert] test-events = true`): collects
/// one event into the topic as a task's alert node would. 404 when disabled.
pub async fn post_event(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !state.test_events {
        return Err(ApiError::not_found("Not Found"));
    }
    if !klaxon_engine::is_valid_topic(&topic) {
        return Err(ApiError::bad_request(format!(
            "invalid topic {topic:?}: use letters, numbers, '-', '.', ':' and '_'"
        )));
    }
    let given: TestEvent = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid event json: {e}")))?;
    let time = given.time.unwrap_or_else(Timestamp::now);
    let mut fields = BTreeMap::new();
    for (name, value) in &given.fields {
        fields.insert(name.clone(), field_value(name, value)?);
    }
    let series = if given.name.is_empty() && fields.is_empty() {
        Vec::new()
    } else {
        vec![Row::from_point(&given.name, &given.tags, &fields, time)]
    };
    let event = Event {
        topic,
        state: EventState {
            id: given.id,
            message: given.message,
            details: given.details,
            time,
            duration: given.duration,
            level: given.level,
        },
        data: EventData {
            name: given.name,
            task_name: given.task_name,
            tags: given.tags,
            fields,
            recoverable: given.recoverable,
            result: AlertResult { series },
            ..EventData::default()
        },
        previous_level: Level::Ok,
    };
    let collected = state.alerts.collect_async(event).await;
    Ok(pretty(
        StatusCode::OK,
        &json!({"previous-level": collected.previous_level, "dropped": collected.dropped}),
    ))
}
