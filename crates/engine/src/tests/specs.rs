//! Handler specs: validation before anything is stored, duplicates, renames and disabled
//! kinds.

use std::sync::Arc;

use klaxon_core::Registry;
use serde_json::json;

use super::{TCP, open, spec};
use crate::{
    AggregateMessageError, AlertService, EngineConfig, EngineError, HandlerSpec,
    InternalOptionsError, RetryError, RetrySpec, Services, SpecError, Store,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn specs_are_validated_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let tcp = |id: &str| spec("cpu", id, TCP, json!({"address": "127.0.0.1:7777"}));
    let err = |s: HandlerSpec| alerts.define(s).unwrap_err().to_string();

    assert_eq!(
        err(tcp("a b")),
        "handler ID must contain only letters, numbers, '-', '.' and '_'. \"a b\""
    );
    assert_eq!(
        err(spec("cpu", "x", "slak", json!(null))),
        "unsupported action kind \"slak\"; this server has: aggregate, publish, tcp"
    );
    assert_eq!(
        err(spec("cpu", "x", TCP, json!({"adress": "x"}))),
        "tcp: unknown option \"adress\", expected one of: address"
    );
    assert!(
        err(HandlerSpec {
            match_: "level() == CRIT".into(),
            ..tcp("x")
        })
        .starts_with("invalid match expression: ")
    );
    assert_eq!(
        err(spec(
            "cpu",
            "agg",
            "aggregate",
            json!({"id": "a", "interval": 0, "topic": "x"})
        )),
        "aggregate: interval must be greater than zero, got 0s (give integer nanoseconds or a \
         duration such as \"1m\")"
    );
    assert!(alerts.list("cpu", |_| true).is_empty());
    assert!(alerts.store().handlers().unwrap().0.is_empty());

    alerts.define(tcp("one")).unwrap();
    assert_eq!(
        err(tcp("one")),
        "cannot register handler, handler with ID \"one\" already exists"
    );
    alerts.define(tcp("two")).unwrap();
    // Rename onto an existing ID is refused; onto a new one works, in one transaction.
    assert!(matches!(
        alerts.replace("cpu", "one", tcp("two")),
        Err(EngineError::DuplicateHandler(_))
    ));
    alerts.replace("cpu", "one", tcp("three")).unwrap();
    let ids: Vec<String> = alerts
        .list("cpu", |_| true)
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["three", "two"]);
    assert!(matches!(
        alerts.replace("cpu", "one", tcp("one")),
        Err(EngineError::UnknownHandler(_))
    ));
    assert!(matches!(
        alerts.replace("mem", "two", tcp("two")),
        Err(EngineError::TopicChange)
    ));
    alerts.delete("cpu", "two").unwrap();
    alerts.delete("cpu", "two").unwrap();
    assert_eq!(alerts.store().handlers().unwrap().0.len(), 1);
    // Defining a handler creates its topic.
    assert_eq!(alerts.topic("cpu").unwrap().collected, 0);
}

/// Which refusal an error is, for a mapping (such as the HTTP API's statuses) to tell them apart.
type Refusal = fn(&EngineError) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_is_a_variant_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let tcp = |id: &str| spec("cpu", id, TCP, json!({"address": "127.0.0.1:7777"}));
    let zero_attempts = RetrySpec {
        attempts: Some(0),
        ..RetrySpec::default()
    };
    let cases: Vec<(HandlerSpec, Refusal)> = vec![
        (tcp("a b"), |e| {
            matches!(e, EngineError::InvalidSpec(SpecError::HandlerId(_)))
        }),
        (spec("a/b", "x", TCP, json!(null)), |e| {
            matches!(e, EngineError::InvalidSpec(SpecError::HandlerTopic(_)))
        }),
        (spec("cpu", "x", "", json!(null)), |e| {
            matches!(e, EngineError::InvalidSpec(SpecError::EmptyKind))
        }),
        (
            HandlerSpec {
                retry: Some(zero_attempts),
                ..tcp("x")
            },
            |e| {
                matches!(
                    e,
                    EngineError::InvalidSpec(SpecError::Retry(RetryError::NoAttempts))
                )
            },
        ),
        (spec("cpu", "x", "slak", json!(null)), |e| {
            matches!(e, EngineError::UnknownKind { .. })
        }),
        (spec("cpu", "x", TCP, json!({"adress": "x"})), |e| {
            matches!(e, EngineError::InvalidOptions(_))
        }),
        (
            HandlerSpec {
                match_: "level() ==".into(),
                ..tcp("x")
            },
            |e| matches!(e, EngineError::InvalidMatch(_)),
        ),
        (spec("cpu", "x", "publish", json!({"topics": []})), |e| {
            matches!(
                e,
                EngineError::InvalidInternalOptions(InternalOptionsError::NoTopics)
            )
        }),
        (
            spec("cpu", "x", "publish", json!({"topics": ["cpu"]})),
            |e| {
                matches!(
                    e,
                    EngineError::InvalidInternalOptions(InternalOptionsError::PublishLoop { .. })
                )
            },
        ),
        (
            spec(
                "cpu",
                "x",
                "aggregate",
                json!({"id": "a", "interval": "1m", "topic": "y", "message": "{{ .Level }}"}),
            ),
            |e| {
                matches!(
                    e,
                    EngineError::InvalidInternalOptions(InternalOptionsError::Message {
                        source: AggregateMessageError::UnknownAction { .. }
                    })
                )
            },
        ),
    ];
    for (spec, is_the_refusal) in cases {
        let err = alerts.define(spec.clone()).unwrap_err();
        assert!(is_the_refusal(&err), "{spec:?}: {err:?}");
    }
    assert_eq!(
        alerts
            .define(HandlerSpec {
                retry: Some(zero_attempts),
                ..tcp("x")
            })
            .unwrap_err()
            .to_string(),
        "retry attempts must be at least 1 (1 means no retries), got 0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_kind_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::linked()
        .unwrap()
        .without(&[TCP.to_owned()], "[server] disable-handlers");
    let services = Arc::new(Services::build(&Default::default(), &registry).unwrap());
    let store = Store::open(&dir.path().join("klaxon.db")).unwrap();
    let alerts = AlertService::open(services, store, EngineConfig::default()).unwrap();
    let tcp = spec("cpu", "t", TCP, json!({"address": "127.0.0.1:7777"}));
    let err = alerts.define(tcp).unwrap_err();
    assert!(matches!(err, EngineError::DisabledKind(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "handler kind \"tcp\" is disabled by [server] disable-handlers"
    );
    // A kind that was never linked is unknown, as before.
    assert_eq!(
        alerts
            .define(spec("cpu", "x", "slak", json!(null)))
            .unwrap_err()
            .to_string(),
        "unsupported action kind \"slak\"; this server has: aggregate, publish"
    );
    assert!(alerts.store().handlers().unwrap().0.is_empty());
}
