//! Topics: levels, previous levels and the event-state queries.

use klaxon_core::Level;

use super::{event, open};
use crate::EngineConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_level_is_the_true_maximum_and_previous_level_is_per_topic() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    // Kapacitor's broken sort reports OK here (reference 3.1).
    alerts.collect(event("t", "b", Level::Critical));
    let c = alerts.collect(event("t", "a", Level::Ok));
    assert_eq!(c.previous_level, Level::Ok);
    let info = alerts.topic("t").unwrap();
    assert_eq!((info.level, info.collected), (Level::Critical, 2));
    assert_eq!(
        alerts
            .collect(event("t", "b", Level::Warning))
            .previous_level,
        Level::Critical
    );
    assert_eq!(
        alerts
            .collect(event("u", "b", Level::Warning))
            .previous_level,
        Level::Ok
    );

    let ids = |min| -> Vec<String> {
        alerts
            .events("t", min)
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect()
    };
    assert_eq!(ids(Level::Ok), ["a", "b"]);
    assert_eq!(ids(Level::Info), ["b"]);
    assert!(ids(Level::Critical).is_empty());
    assert_eq!(
        alerts.events("nope", Level::Ok).unwrap_err().to_string(),
        "unknown topic \"nope\""
    );
    let warning_or_more: Vec<String> = alerts
        .topics(|_| true, Level::Warning)
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(warning_or_more, ["t", "u"]);
    assert!(alerts.topics(|id| id == "u", Level::Critical).is_empty());
}
