//! Sharing alert states between servers (`alerts/handover.rs`): what one journals, another
//! adopts; only newer states are taken; adopted states are stored, not delivered, and not
//! journaled again.

use klaxon_core::Timestamp;

use super::*;

fn at(level: Level, second: i64) -> Event {
    let mut e = event("main:t:alert2", "cpu:a", level);
    e.state.time = Timestamp::from_nanos(second * 1_000_000_000);
    e
}

#[tokio::test(flavor = "multi_thread")]
async fn adopted_states_are_newer_ones_only_stored_and_neither_delivered_nor_journaled_again() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(dir_a.path(), EngineConfig::default());
    let b = open(dir_b.path(), EngineConfig::default());
    let (handler, mut received) = recorder();
    b.register_anonymous(
        "main:t:alert2",
        vec![TaskHandler::new("rec", "recorder", handler)],
    )
    .unwrap();
    let from_a = a.journal();
    let from_b = b.journal();

    a.collect(at(Level::Critical, 10));
    let records: Vec<Vec<u8>> = from_a.drain().into_iter().map(|(_, v)| v).collect();
    assert_eq!(records.len(), 1);
    let adopted = b.adopt(records.clone().into_iter().chain([b"not json".to_vec()]));
    assert_eq!(
        adopted,
        Adopted {
            adopted: 1,
            current: 0,
            unreadable: 1
        }
    );
    assert_eq!(
        b.stored_state("main:t:alert2", "cpu:a").unwrap().level,
        Level::Critical
    );
    assert!(from_b.is_empty(), "an adopted state is not journaled again");

    // The same record again, or an older one, changes nothing.
    assert_eq!(b.adopt(records).current, 1);
    a.collect(at(Level::Ok, 5));
    let older: Vec<Vec<u8>> = from_a.drain().into_iter().map(|(_, v)| v).collect();
    assert_eq!(b.adopt(older).current, 1);
    assert_eq!(
        b.stored_state("main:t:alert2", "cpu:a").unwrap().level,
        Level::Critical
    );

    // Nothing adopted reached the handler: the first event it gets is b's own recovery, from
    // the adopted level (a delivered adoption would have come first, as a worker keeps order).
    assert_eq!(b.collect(at(Level::Ok, 20)).previous_level, Level::Critical);
    let first = next(&mut received).await;
    assert_eq!(
        (first.state.level, first.previous_level),
        (Level::Ok, Level::Critical)
    );

    // Stored: an adopted state survives a restart.
    a.collect(at(Level::Critical, 30));
    let newest: Vec<Vec<u8>> = from_a.drain().into_iter().map(|(_, v)| v).collect();
    assert_eq!(b.adopt(newest).adopted, 1);
    drop(b);
    let b = open(dir_b.path(), EngineConfig::default());
    let stored = b.stored_state("main:t:alert2", "cpu:a").unwrap();
    assert_eq!(
        (stored.level, stored.time),
        (Level::Critical, Timestamp::from_nanos(30_000_000_000))
    );
}

/// What a member that evaluates the same points again sends is the same delivery: the
/// idempotency key is made of the alert state, not drawn at random.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_alert_state_has_the_same_key_on_every_server() {
    let keys = |e: Event| async move {
        let dir = tempfile::tempdir().unwrap();
        let alerts = open(dir.path(), EngineConfig::default());
        let (handler, mut rx) = crate::tests::outbox::keyed();
        alerts
            .register_anonymous(&e.topic, vec![TaskHandler::new("rec", "recorder", handler)])
            .unwrap();
        alerts.collect(e);
        let (_, info) = crate::tests::outbox::next_delivery(&mut rx).await;
        info.key.to_string()
    };
    let first = keys(at(Level::Critical, 10)).await;
    assert_eq!(first.len(), 32);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()), "{first}");
    assert_eq!(keys(at(Level::Critical, 10)).await, first);
    for other in [at(Level::Warning, 10), at(Level::Critical, 11), {
        let mut e = at(Level::Critical, 10);
        e.state.id = "cpu:b".into();
        e
    }] {
        assert_ne!(keys(other).await, first);
    }
}
