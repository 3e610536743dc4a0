//! The topic-handlers API (reference 3.2 to 3.4): list, get, create (POST), replace (PUT, may
//! rename), patch (RFC 6902 JSON Patch) and delete handler specs.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klaxon_engine::HandlerSpec;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::respond::{link, pretty};
use super::topics::{base, parse_pattern, request_href};

/// A JSON value with object keys sorted at every level, as Go writes maps.
pub(super) fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::with_capacity(map.len());
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn handler_json(base: &str, spec: &HandlerSpec) -> Value {
    let mut body = json!({
        "link": link("self", &format!("{base}/alerts/topics/{}/handlers/{}", spec.topic, spec.id)),
        "id": spec.id,
        "kind": spec.kind,
        "options": sorted(&spec.options),
        "match": spec.match_,
    });
    // Klaxon's own field: shown only when set, so Kapacitor's shape is unchanged otherwise.
    if let Some(retry) = &spec.retry {
        body["retry"] = json!(retry);
    }
    body
}

/// Refuses a handler request body over `[limits] max-handler-spec-size` before it is decoded.
fn check_body_size(state: &AppState, body: &Bytes) -> Result<(), ApiError> {
    state
        .alerts
        .limits()
        .check_spec_size(body.len())
        .map_err(ApiError::from)
}

/// `GET /alerts/topics/{topic}/handlers?pattern=`: 200 with `[]` for an unknown topic.
pub async fn list(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(topic): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let pattern = parse_pattern(&query)?;
    let base = base(&uri);
    let handlers: Vec<Value> = state
        .alerts
        .list(&topic, |id| pattern.as_ref().is_none_or(|p| p.matches(id)))
        .iter()
        .map(|s| handler_json(base, s))
        .collect();
    Ok(pretty(
        StatusCode::OK,
        &json!({"link": link("self", &request_href(&uri)), "topic": topic, "handlers": handlers}),
    ))
}

/// `GET /alerts/topics/{topic}/handlers/{id}`.
pub async fn get(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((topic, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let spec = state
        .alerts
        .get(&topic, &id)
        .ok_or_else(|| ApiError::not_found(format!("unknown handler: {id:?}")))?;
    Ok(pretty(StatusCode::OK, &handler_json(base(&uri), &spec)))
}

/// `POST /alerts/topics/{topic}/handlers`: 200; the topic is the path's, the body's is ignored.
pub async fn create(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(topic): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_body_size(&state, &body)?;
    let mut spec: HandlerSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid handler json: {e}")))?;
    spec.topic = topic;
    let spec = state
        .alerts
        .define(spec)
        .map_err(|e| ApiError::from(e).context("failed to create handler"))?;
    Ok(pretty(StatusCode::OK, &handler_json(base(&uri), &spec)))
}

/// `PUT /alerts/topics/{topic}/handlers/{id}`: full replace; the body's `id` may rename.
pub async fn replace(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((topic, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_body_size(&state, &body)?;
    let mut spec: HandlerSpec = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("failed to unmarshal JSON: {e}")))?;
    spec.topic = topic.clone();
    if spec.id.is_empty() {
        spec.id = id.clone();
    }
    let spec = state
        .alerts
        .replace(&topic, &id, spec)
        .map_err(|e| ApiError::from(e).context("failed to update handler"))?;
    Ok(pretty(StatusCode::OK, &handler_json(base(&uri), &spec)))
}

/// `PATCH /alerts/topics/{topic}/handlers/{id}`: an RFC 6902 JSON Patch applied to the stored
/// spec `{"id","topic","kind","options","match"}`.
pub async fn patch(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((topic, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_body_size(&state, &body)?;
    let current = state
        .alerts
        .get(&topic, &id)
        .ok_or_else(|| ApiError::not_found(format!("unknown handler: {id:?}")))?;
    let spec = apply_patch(&current, &body, state.alerts.limits())?;
    let spec = state
        .alerts
        .replace(&topic, &id, spec)
        .map_err(|e| ApiError::from(e).context("failed to update handler"))?;
    Ok(pretty(StatusCode::OK, &handler_json(base(&uri), &spec)))
}

/// Applies an RFC 6902 JSON Patch `body` to `current`, as a PATCH does, keeping the document
/// within `[limits] max-handler-spec-size` at every step.
fn apply_patch(
    current: &HandlerSpec,
    body: &[u8],
    limits: &klaxon_engine::Limits,
) -> Result<HandlerSpec, ApiError> {
    let patch: json_patch::Patch = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid patch json: {e}")))?;
    let mut doc = serde_json::to_value(current)
        .map_err(|e| ApiError::internal(format!("failed to update handler: {e}")))?;
    // Only `copy` can grow the document faster than the patch's own size (each one may double
    // it: 30 of them in a 1.5 KB body would ask for 2^30 times the spec), so the size is
    // tracked as an upper bound and each copied value is measured before it is copied.
    let too_large = |size| limits.check_spec_size(size).map_err(ApiError::from);
    let mut size = json_size(&doc, usize::MAX);
    for operation in &patch.0 {
        if let json_patch::PatchOperation::Copy(copy) = operation {
            let budget = limits.max_handler_spec_size.saturating_sub(size);
            let copied = doc
                .pointer(copy.from.as_str())
                .map_or(0, |value| json_size(value, budget.saturating_add(1)));
            size = size.saturating_add(copied);
            too_large(size)?;
        }
        // `patch_unsafe`, not `patch`: on a failed operation `patch` undoes the earlier ones,
        // and some undos fail and panic (`unreachable!`): a `move` to the root whose inverse
        // moves the root inside itself (corpus: json_patch/move_to_root_then_fail.json). `doc`
        // is a copy that is dropped on any error, so nothing needs undoing.
        json_patch::patch_unsafe(&mut doc, std::slice::from_ref(operation))
            .map_err(|e| ApiError::bad_request(format!("failed to apply patch: {e}")))?;
    }
    serde_json::from_value(doc)
        .map_err(|e| ApiError::bad_request(format!("failed to apply patch: {e}")))
}

/// The length of `value` as compact JSON, counted up to `cap` (a value larger than `cap` is not
/// serialised further).
fn json_size(value: &Value, cap: usize) -> usize {
    struct Counter {
        counted: usize,
        cap: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.counted = self.counted.saturating_add(buf.len());
            if self.counted > self.cap {
                return Err(std::io::Error::other("over the cap"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { counted: 0, cap };
    // An error means the cap was passed: the count so far already says "too large".
    let _ = serde_json::to_writer(&mut counter, value);
    counter.counted
}

/// `DELETE /alerts/topics/{topic}/handlers/{id}`: 204, also for an unknown handler.
pub async fn delete(
    State(state): State<AppState>,
    Path((topic, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state
        .alerts
        .delete(&topic, &id)
        .map_err(|e| ApiError::from(e).context("failed to delete handler"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_patch_corpus_gets_an_answer_for_every_body() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/json_patch");
        let results = klaxon_core::testing::replay_corpus(&dir, |bytes| {
            let current = HandlerSpec {
                id: "h".into(),
                topic: "cpu".into(),
                kind: "relay".into(),
                options: json!({"address": "127.0.0.1:1", "list": [1, 2]}),
                ..HandlerSpec::default()
            };
            apply_patch(&current, bytes, &klaxon_engine::Limits::default())
                .map(|spec| serde_json::to_string(&spec).unwrap_or_default())
                .map_err(|e| e.to_string())
        });
        let valid = results
            .iter()
            .find(|(p, _)| p.ends_with("valid.json"))
            .unwrap();
        assert!(
            valid.1.as_ref().unwrap().contains("127.0.0.1:2"),
            "{:?}",
            valid.1
        );
        let bad = results
            .iter()
            .find(|(p, _)| p.ends_with("unknown_op.json"))
            .unwrap();
        assert!(
            bad.1
                .as_ref()
                .unwrap_err()
                .starts_with("400 invalid patch json"),
            "{:?}",
            bad.1
        );
    }
}

/// Properties of the handler PATCH body (RFC 6902 JSON Patch): any body is applied or refused
/// with 400, never a panic or a 500.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn current() -> HandlerSpec {
        HandlerSpec {
            id: "h".into(),
            topic: "cpu".into(),
            kind: "relay".into(),
            options: json!({"address": "127.0.0.1:1", "list": [1, 2]}),
            ..HandlerSpec::default()
        }
    }

    #[test]
    fn a_patch_that_copies_itself_into_a_giant_is_refused_before_it_grows() {
        // Each copy doubles "options"; 40 of them would need 2^40 times the spec.
        let ops: Vec<Value> = (0..40)
            .map(|i| json!({"op": "copy", "from": "/options", "path": format!("/options/c{i}")}))
            .collect();
        let body = serde_json::to_vec(&ops).unwrap();
        let limits = klaxon_engine::Limits {
            max_handler_spec_size: 64 << 10,
            ..klaxon_engine::Limits::default()
        };
        let err = apply_patch(&current(), &body, &limits).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            err.message.contains("[limits] max-handler-spec-size"),
            "{}",
            err.message
        );
        // A few copies stay within the limit and apply.
        let small = serde_json::to_vec(&ops[..3]).unwrap();
        let spec = apply_patch(&current(), &small, &limits).unwrap();
        assert!(spec.options["c2"]["c1"]["c0"]["address"].is_string());
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            "[a-z0-9 .:/~-]{0,10}".prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const PATHS: &[&str] = &[
        "",
        "/",
        "/id",
        "/topic",
        "/kind",
        "/options",
        "/options/address",
        "/options/list",
        "/options/list/0",
        "/options/list/1",
        "/options/list/-",
        "/options/list/99999999999999999999",
        "/options/~1x",
        "/options/~0",
        "/options/~2",
        "/match",
        "/retry",
        "/retry/attempts",
        "/nosuch",
        "id",
        "/options/list/0/deeper",
    ];

    fn operation() -> impl Strategy<Value = Value> {
        (
            prop::sample::select(
                &["add", "remove", "replace", "move", "copy", "test", "nosuch"][..],
            ),
            prop::sample::select(PATHS),
            prop::sample::select(PATHS),
            prop::option::of(value()),
        )
            .prop_map(|(op, path, from, value)| {
                let mut operation = json!({"op": op, "path": path, "from": from});
                if let Some(value) = value {
                    operation["value"] = value;
                }
                operation
            })
    }

    #[test]
    fn a_failed_patch_after_a_move_to_the_root_is_refused_not_a_panic() {
        // json_patch::patch panicked undoing the move (found by the property below).
        let body = br#"[{"op":"move","from":"/id","path":""},{"op":"test","path":"/x","value":1}]"#;
        let err = apply_patch(&current(), body, &klaxon_engine::Limits::default()).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.message.starts_with("failed to apply patch: "),
            "{}",
            err.message
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_json_patch_is_applied_or_refused_with_400(
            ops in prop::collection::vec(operation(), 0..6),
        ) {
            let body = serde_json::to_vec(&ops).expect("JSON");
            match apply_patch(&current(), &body, &klaxon_engine::Limits::default()) {
                Ok(spec) => {
                    // What a PATCH makes is a spec that serializes and reads back as itself.
                    let again: HandlerSpec = serde_json::from_value(serde_json::to_value(&spec).expect("JSON"))
                        .expect("a patched spec reads back");
                    prop_assert_eq!(again, spec);
                }
                Err(e) => prop_assert_eq!(e.status, StatusCode::BAD_REQUEST, "{}", e.message),
            }
        }

        #[test]
        fn arbitrary_bytes_are_refused_or_applied(body in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Err(e) = apply_patch(&current(), &body, &klaxon_engine::Limits::default()) {
                prop_assert_eq!(e.status, StatusCode::BAD_REQUEST, "{}", e.message);
            }
        }

        #[test]
        fn replacing_the_match_sets_it(text in "\\PC{0,40}") {
            let body = serde_json::to_vec(&json!([{"op": "replace", "path": "/match", "value": text}]))
                .expect("JSON");
            let spec = apply_patch(&current(), &body, &klaxon_engine::Limits::default()).map_err(|e| TestCaseError::fail(e.message))?;
            prop_assert_eq!(&spec.match_, &text);
            prop_assert_eq!(spec.options, current().options);
        }
    }
}
