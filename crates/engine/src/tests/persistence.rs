//! Persistence: specs and non-OK states across a reopen, `persist-topics`, batches that
//! commit out of order, and texts kept on disk only.

use klaxon_core::Level;
use serde_json::json;

use super::{TCP, event, next, open, recorder, spec};
use crate::{Batch, EngineConfig, TaskHandler};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn specs_and_non_ok_states_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let alerts = open(dir.path(), EngineConfig::default());
        alerts
            .define(spec("cpu", "h", TCP, json!({"address": "127.0.0.1:7777"})))
            .unwrap();
        alerts.collect(event("cpu", "crit", Level::Critical));
        alerts.collect(event("cpu", "back", Level::Warning));
        alerts.collect(event("cpu", "back", Level::Ok));
        alerts.collect(event("main:task:alert2", "x", Level::Info));
        alerts.close_topic("main:task:alert2");
        alerts.shutdown();
    }
    let alerts = open(dir.path(), EngineConfig::default());
    assert_eq!(alerts.get("cpu", "h").unwrap().kind, TCP);
    let ids: Vec<String> = alerts
        .events("cpu", Level::Ok)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["crit"]);
    assert_eq!(alerts.topic("cpu").unwrap().collected, 0);
    assert_eq!(
        alerts.stored_state("main:task:alert2", "x").unwrap().level,
        Level::Info
    );
    alerts.delete_topic("main:task:alert2").unwrap();
    assert_eq!(alerts.stored_state("main:task:alert2", "x"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_are_not_stored_when_persist_topics_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let off = EngineConfig {
        persist_topics: false,
        ..EngineConfig::default()
    };
    {
        let alerts = open(dir.path(), off.clone());
        alerts.collect(event("cpu", "crit", Level::Critical));
        assert_eq!(
            alerts.stored_state("cpu", "crit").unwrap().level,
            Level::Critical
        );
    }
    let alerts = open(dir.path(), EngineConfig::default());
    assert!(alerts.topic("cpu").is_none());
    assert!(alerts.store().states().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stores_the_latest_state_even_when_an_older_batch_flushes_last() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let (handler, mut delivered) = recorder();
    alerts
        .register_anonymous("t", vec![TaskHandler::new("rec", "recorder", handler)])
        .unwrap();
    let mut older = Batch::default();
    assert_eq!(
        alerts.collect_into(&mut older, event("t", "x", Level::Warning)),
        Level::Ok
    );
    let mut newer = Batch::default();
    assert_eq!(
        alerts.collect_into(&mut newer, event("t", "x", Level::Critical)),
        Level::Warning
    );
    assert_eq!(
        alerts.collect_into(&mut newer, event("t", "y", Level::Info)),
        Level::Ok
    );
    // Nothing is stored or queued before a flush.
    assert_eq!(alerts.store().state("t", "x").unwrap(), None);
    assert_eq!(alerts.flush(newer), 0);
    assert_eq!(alerts.flush(older), 0);
    let stored = |id| alerts.store().state("t", id).unwrap().map(|s| s.level);
    assert_eq!(
        (stored("x"), stored("y")),
        (Some(Level::Critical), Some(Level::Info))
    );
    // Each batch's events are queued in order once it is flushed.
    let got: Vec<(String, Level)> = [
        next(&mut delivered).await,
        next(&mut delivered).await,
        next(&mut delivered).await,
    ]
    .into_iter()
    .map(|e| (e.state.id, e.state.level))
    .collect();
    assert_eq!(
        got,
        [
            ("x".to_owned(), Level::Critical),
            ("y".to_owned(), Level::Info),
            ("x".to_owned(), Level::Warning)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_states_text_is_read_from_disk_and_memory_keeps_only_what_is_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    alerts.collect(event("cpu", "c", Level::Critical));
    alerts.collect(event("cpu", "w", Level::Warning));
    alerts.collect(event("cpu", "w", Level::Ok));
    // The CRITICAL state is on disk, so memory dropped its text; the OK one is not on disk.
    assert_eq!(alerts.texts_in_memory("cpu"), 1);
    let messages: Vec<(String, String)> = alerts
        .events("cpu", Level::Ok)
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.message))
        .collect();
    assert_eq!(
        messages,
        [
            ("c".to_owned(), "c is CRITICAL".to_owned()),
            ("w".to_owned(), "w is OK".to_owned())
        ]
    );
    let (page, next) = alerts
        .events_page("cpu", Level::Critical, None, 10)
        .unwrap();
    assert_eq!((page[0].message.as_str(), next), ("c is CRITICAL", None));
    // The text really comes from the database: without it, the state reads without a message.
    alerts.store().delete_states("cpu").unwrap();
    let c = alerts.event("cpu", "c").unwrap();
    assert_eq!((c.level, c.message.as_str()), (Level::Critical, ""));
    assert_eq!(alerts.event("cpu", "w").unwrap().message, "w is OK");

    let off = EngineConfig {
        persist_topics: false,
        ..EngineConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), off);
    alerts.collect(event("cpu", "c", Level::Critical));
    assert_eq!(alerts.texts_in_memory("cpu"), 1);
    assert_eq!(alerts.event("cpu", "c").unwrap().message, "c is CRITICAL");
}
