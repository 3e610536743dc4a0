//! The internal kinds: `publish` into other topics and `aggregate` per interval.

use std::time::{Duration, Instant};

use klaxon_core::Level;
use serde_json::json;

use super::{DEADLINE, event, next, open, recorder, spec};
use crate::{EngineConfig, HandlerSpec, TaskHandler};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_match_reaches_other_topics_and_survives_topic_delete() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let (handler, mut rx) = recorder();
    alerts
        .register_anonymous("sink", vec![TaskHandler::new("rec", "recorder", handler)])
        .unwrap();
    alerts
        .define(HandlerSpec {
            match_: "changed() AND level() >= WARNING".into(),
            ..spec("src", "fwd", "publish", json!({"topics": ["sink"]}))
        })
        .unwrap();
    alerts.collect(event("src", "a", Level::Warning));
    alerts.collect(event("src", "a", Level::Warning)); // not changed
    alerts.collect(event("src", "a", Level::Info)); // below WARNING
    alerts.collect(event("src", "a", Level::Critical));
    let first = next(&mut rx).await;
    assert_eq!(
        (first.topic.as_str(), first.state.level),
        ("sink", Level::Warning)
    );
    assert_eq!(first.previous_level, Level::Ok);
    let second = next(&mut rx).await;
    assert_eq!(second.state.level, Level::Critical);
    // Previous level comes from the sink topic's own state.
    assert_eq!(second.previous_level, Level::Warning);

    // Deleting the source topic empties it and keeps its handler attached.
    alerts.delete_topic("src").unwrap();
    let src = alerts.topic("src").unwrap();
    assert_eq!((src.level, src.collected), (Level::Ok, 0));
    assert!(alerts.events("src", Level::Ok).unwrap().is_empty());
    alerts.collect(event("src", "b", Level::Critical));
    assert_eq!(next(&mut rx).await.state.id, "b");
    let start = Instant::now();
    loop {
        let stats = alerts.stats().get("src", "fwd").unwrap();
        if (stats.delivered, stats.filtered) == (3, 2) {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_summarises_each_interval() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let (handler, mut rx) = recorder();
    alerts
        .register_anonymous("agg", vec![TaskHandler::new("rec", "recorder", handler)])
        .unwrap();
    alerts
        .define(spec(
            "src",
            "a",
            "aggregate",
            json!({"id": "id-agg", "interval": 200_000_000, "topic": "agg"}),
        ))
        .unwrap();
    for (i, level) in [Level::Warning, Level::Critical, Level::Info]
        .into_iter()
        .enumerate()
    {
        let mut e = event("src", "x", level);
        e.state.message = "message".into();
        e.state.time = klaxon_core::Timestamp::from_nanos(i as i64 * 1_000_000);
        alerts.collect(e);
    }
    let summary = next(&mut rx).await;
    assert_eq!(summary.state.id, "id-agg");
    assert_eq!(summary.state.level, Level::Critical);
    assert_eq!(summary.state.time.as_nanos(), 2_000_000);
    assert!(!summary.data.recoverable);
    // The three events usually land in one interval; if a tick split them, counts add up.
    let mut count: usize = summary.state.details.split('\n').count();
    assert!(
        summary.state.message.starts_with("Received "),
        "{}",
        summary.state.message
    );
    while count < 3 {
        count += next(&mut rx).await.state.details.split('\n').count();
    }
    assert_eq!(count, 3);
}
