//! Engine tests through its public API: topics, specs, delivery, persistence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::{Event, EventState, Handler, HandlerError, Level, Registry};
use serde_json::json;
use tokio::sync::mpsc;

use crate::*;

/// The kind of the one real handler crate these tests link, named by its crate.
const TCP: &str = <klaxon_handler_tcp::TcpService as klaxon_core::Service>::KIND;

const DEADLINE: Duration = Duration::from_secs(30);

/// Records every event it receives.
#[derive(Debug)]
struct Recorder(mpsc::UnboundedSender<Event>);

#[klaxon_core::async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let _ = self.0.send(event.clone());
        Ok(())
    }
}

/// Never finishes a delivery.
#[derive(Debug)]
struct Hung;

#[klaxon_core::async_trait]
impl Handler for Hung {
    async fn handle(&self, _: &Event) -> Result<(), HandlerError> {
        std::future::pending().await
    }
}

fn recorder() -> (Arc<dyn Handler>, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Recorder(tx)), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("an event within the deadline")
        .expect("channel open")
}

fn services() -> Arc<Services> {
    let registry = Registry::linked().unwrap();
    Arc::new(Services::build(&Default::default(), &registry).unwrap())
}

fn open(dir: &std::path::Path, config: EngineConfig) -> AlertService {
    let store = Store::open(&dir.join("klaxon.db")).unwrap();
    AlertService::open(services(), store, config).unwrap()
}

fn event(topic: &str, id: &str, level: Level) -> Event {
    Event {
        topic: topic.into(),
        state: EventState {
            id: id.into(),
            message: format!("{id} is {level}"),
            level,
            ..EventState::default()
        },
        ..Event::default()
    }
}

fn spec(topic: &str, id: &str, kind: &str, options: serde_json::Value) -> HandlerSpec {
    HandlerSpec {
        id: id.into(),
        topic: topic.into(),
        kind: kind.into(),
        options,
        ..HandlerSpec::default()
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_match_reaches_other_topics_and_survives_topic_delete() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let (handler, mut rx) = recorder();
    alerts
        .register_anonymous("sink", vec![InlineHandler::new("rec", "recorder", handler)])
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

    // Deleting the source topic keeps its handler attached when the topic comes back.
    alerts.delete_topic("src").unwrap();
    assert!(alerts.topic("src").is_none());
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
        .register_anonymous("agg", vec![InlineHandler::new("rec", "recorder", handler)])
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_handler_delays_only_its_queue_and_deletes_return_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        topic_buffer_length: 2,
        ..EngineConfig::default()
    };
    let alerts = open(dir.path(), config);
    let (handler, mut rx) = recorder();
    alerts
        .register_anonymous(
            "t",
            vec![
                InlineHandler::new("hung", "hung", Arc::new(Hung)),
                InlineHandler::new("rec", "recorder", handler),
            ],
        )
        .unwrap();
    let mut dropped = 0;
    for i in 0..6 {
        dropped += alerts
            .collect(event("t", &format!("e{i}"), Level::Critical))
            .dropped;
        // The recorder keeps up: wait for each event so only the hung queue overflows.
        assert_eq!(next(&mut rx).await.state.id, format!("e{i}"));
    }
    // One event is in the hung call, two wait in its queue; the rest are dropped.
    assert!((3..=4).contains(&dropped), "dropped {dropped}");
    let stats = alerts.stats().get("t", "hung").unwrap();
    assert_eq!(stats.dropped, dropped as u64);
    // The recorder counts a delivery just after it hands the event over.
    let start = Instant::now();
    while alerts.stats().get("t", "rec").unwrap().delivered < 6 {
        assert!(
            start.elapsed() < DEADLINE,
            "recorder deliveries not counted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let start = Instant::now();
    alerts.delete_topic("t").unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
}

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

/// Fails with a retryable error `failures` times, then records.
#[derive(Debug)]
struct Flaky {
    failures: std::sync::atomic::AtomicU32,
    inner: Recorder,
}

#[klaxon_core::async_trait]
impl Handler for Flaky {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let left = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.failures
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err(HandlerError::transient("connection refused"));
        }
        self.inner.handle(event).await
    }
}

fn retry_policy(attempts: u32, initial_delay: Duration) -> crate::RetryPolicy {
    crate::RetryPolicy {
        attempts,
        initial_delay,
        ..crate::RetryPolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(
        dir.path(),
        EngineConfig {
            retry: retry_policy(3, Duration::from_millis(5)),
            ..EngineConfig::default()
        },
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let flaky = |failures| {
        Arc::new(Flaky {
            failures: std::sync::atomic::AtomicU32::new(failures),
            inner: Recorder(tx.clone()),
        })
    };
    alerts
        .register_anonymous(
            "t",
            vec![
                InlineHandler::new("twice", "flaky", flaky(2)),
                InlineHandler::new("thrice", "flaky", flaky(3)),
            ],
        )
        .unwrap();
    alerts.collect(event("t", "a", Level::Critical));
    alerts.collect(event("t", "b", Level::Critical));
    // "twice" delivers both after two retries on the first; "thrice" gives up on "a", then
    // delivers "b" (its fourth call).
    let mut got: Vec<String> = Vec::new();
    for _ in 0..3 {
        got.push(next(&mut rx).await.state.id);
    }
    got.sort();
    assert_eq!(got, ["a", "b", "b"]);
    let start = Instant::now();
    loop {
        let twice = alerts.stats().get("t", "twice").unwrap();
        let thrice = alerts.stats().get("t", "thrice").unwrap();
        let seen = (
            twice.delivered,
            twice.retried,
            thrice.delivered,
            thrice.failed,
            thrice.retried,
        );
        if seen == (2, 2, 1, 1, 2) {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Takes `gate` permits: each delivery waits for one, so a test decides when deliveries finish.
#[derive(Debug)]
struct Gated {
    gate: Arc<tokio::sync::Semaphore>,
    inner: Recorder,
}

#[klaxon_core::async_trait]
impl Handler for Gated {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.gate.acquire().await.expect("gate open").forget();
        self.inner.handle(event).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_delivers_what_is_queued_and_counts_what_the_deadline_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let (quick, mut delivered) = recorder();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (tx, _slow_rx) = mpsc::unbounded_channel();
    let slow = Arc::new(Gated {
        gate: Arc::clone(&gate),
        inner: Recorder(tx),
    });
    alerts
        .register_anonymous(
            "t",
            vec![
                InlineHandler::new("quick", "recorder", quick),
                InlineHandler::new("stuck", "gated", slow),
            ],
        )
        .unwrap();
    for id in ["a", "b", "c"] {
        alerts.collect(event("t", id, Level::Critical));
    }
    // "stuck" may finish one event; its other two are cut by the deadline.
    gate.add_permits(1);
    let report = alerts.drain(Duration::from_millis(300)).await;
    assert_eq!(
        report,
        DrainReport {
            finished: 1,
            abandoned: 1
        }
    );
    for id in ["a", "b", "c"] {
        assert_eq!(next(&mut delivered).await.state.id, id);
    }
    let stuck = alerts.stats().get("t", "stuck").unwrap();
    assert_eq!((stuck.delivered, stuck.dropped), (1, 2));
    // Nothing is accepted after a drain.
    assert_eq!(
        alerts.collect(event("t", "late", Level::Critical)),
        Collected::default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_mode_waits_for_room_instead_of_dropping() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(
        dir.path(),
        EngineConfig {
            topic_buffer_length: 1,
            queue_full: QueueFull::Block,
            ..EngineConfig::default()
        },
    );
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (tx, mut delivered) = mpsc::unbounded_channel();
    let gated = Arc::new(Gated {
        gate: Arc::clone(&gate),
        inner: Recorder(tx),
    });
    alerts
        .register_anonymous("t", vec![InlineHandler::new("gated", "gated", gated)])
        .unwrap();
    // "a" is taken into delivery (where it waits at the gate), "b" fills the queue.
    alerts.collect_async(event("t", "a", Level::Critical)).await;
    let start = Instant::now();
    while alerts.queue_depths()[0].depth > 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "the worker never took the first event"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    alerts.collect_async(event("t", "b", Level::Critical)).await;
    assert!(!alerts.has_room());
    assert!(!alerts.wait_for_room(Duration::from_millis(50)).await);

    // A blocking collect ("c") waits on its thread until the gate lets "a" through.
    let blocked = {
        let alerts = alerts.clone();
        tokio::task::spawn_blocking(move || alerts.collect(event("t", "c", Level::Critical)))
    };
    gate.add_permits(3);
    assert_eq!(blocked.await.unwrap().dropped, 0);
    for id in ["a", "b", "c"] {
        assert_eq!(next(&mut delivered).await.state.id, id);
    }
    assert!(alerts.wait_for_room(DEADLINE).await);
    assert_eq!(alerts.stats().get("t", "gated").unwrap().dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stores_the_latest_state_even_when_an_older_batch_flushes_last() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let (handler, mut delivered) = recorder();
    alerts
        .register_anonymous("t", vec![InlineHandler::new("rec", "recorder", handler)])
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
async fn concurrent_defines_cannot_both_pass_the_duplicate_or_count_checks() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(
        dir.path(),
        EngineConfig {
            limits: Limits {
                max_tasks: 3,
                ..Limits::default()
            },
            ..EngineConfig::default()
        },
    );
    let tasks = tasks::TaskManager::open(
        alerts.clone(),
        alerts.store().clone(),
        Registry::linked().unwrap(),
        klaxon_pipeline::ServerInfo::default(),
    )
    .unwrap();
    let script = "stream|from().measurement('cpu')|alert().crit(lambda: \"v\" > 1)";
    let define_all = |ids: Vec<String>| {
        let handles: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let tasks = tasks.clone();
                std::thread::spawn(move || {
                    tasks
                        .define(&id, script, Vec::new(), tasks::TaskStatus::Enabled)
                        .is_ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    };
    assert_eq!(define_all(vec!["same".to_owned(); 8]), 1);
    let distinct = (0..8).map(|i| format!("t{i}")).collect();
    assert_eq!(define_all(distinct), 2);
    assert_eq!(tasks.counts().0, 3);
}
