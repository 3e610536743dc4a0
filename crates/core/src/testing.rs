//! Test helpers (the `testing` feature, for dev-dependencies): the checks every handler crate
//! runs on itself (registered, builds from its sample configuration and options, documents its
//! configuration: the Vector and Apollo Router habit), building a service and its handlers
//! through the registry as the server does, the checks that Kapacitor's keys and documented
//! handler files behave as Kapacitor's do, the events of Kapacitor's own handler tests, and
//! replaying a corpus of hostile inputs.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::{
    AlertResult, DynService, Event, EventData, EventState, FieldValue, Global, GoDuration, Handler,
    HandlerError, Level, Registry, Row, ServerContext, Service, ServiceError, TestError, Timestamp,
};

/// Builds `S`'s service from the configuration section `config` through the registry linked
/// into this test binary, as the server does: decoded into the defaults, validated, then
/// [`Service::new`]. `null` is the default configuration.
///
/// # Panics
///
/// When `S` is not registered in this binary.
///
/// ```ignore
/// let err = klaxon_core::testing::build::<TcpService>(&json!({"timeout": "0s"})).unwrap_err();
/// assert_eq!(err.to_string(), "tcp: timeout must be greater than zero, got 0s");
/// ```
pub fn build<S: Service>(config: &Value) -> Result<Arc<dyn DynService>, ServiceError> {
    let registry = Registry::linked().expect("the registry assembles");
    registry
        .get(S::KIND)
        .unwrap_or_else(|| panic!("kind {:?} is not registered in this binary", S::KIND))
        .build(config)
}

/// [`build`] of a configuration that must be valid.
///
/// # Panics
///
/// When the configuration is refused, with the reason.
pub fn service<S: Service>(config: &Value) -> Arc<dyn DynService> {
    build::<S>(config).unwrap_or_else(|e| panic!("the configuration is refused: {e}"))
}

/// [`service`] as a running server builds it, with what `context` gives every service (its data
/// directory, [`ServerContext::server_url`]), for the behaviour that depends on them.
///
/// # Panics
///
/// When `S` is not registered in this binary or the configuration is refused.
///
/// ```ignore
/// let context = klaxon_core::ServerContext::default();
/// let service = klaxon_core::testing::service_in::<PagerdutyService>(&config, &context);
/// context.server_url.set("http://klaxon.example.com:9092/kapacitor/v1");
/// ```
pub fn service_in<S: Service>(config: &Value, context: &ServerContext) -> Arc<dyn DynService> {
    let registry = Registry::linked().expect("the registry assembles");
    registry
        .get(S::KIND)
        .unwrap_or_else(|| panic!("kind {:?} is not registered in this binary", S::KIND))
        .build_with(config, context)
        .unwrap_or_else(|e| panic!("the configuration is refused: {e}"))
}

/// A handler of `service` made from `options`, which must be valid, as a handler file or a
/// TICKscript would make it.
///
/// # Panics
///
/// When the options are refused, with the reason.
///
/// ```ignore
/// let service = klaxon_core::testing::service::<TcpService>(&Value::Null);
/// let handler = klaxon_core::testing::handler(&*service, json!({"address": "127.0.0.1:7777"}));
/// ```
pub fn handler(service: &dyn DynService, options: Value) -> Arc<dyn Handler> {
    service
        .handler(&options)
        .unwrap_or_else(|e| panic!("the options {options} are refused: {e}"))
}

/// What `S`'s service, in its default configuration, says when refusing handler `options`:
/// `<kind>: <reason>`.
///
/// # Panics
///
/// When the options are accepted.
///
/// ```ignore
/// assert_eq!(
///     klaxon_core::testing::option_error::<TcpService>(&json!({"adress": "x:1"})),
///     r#"tcp: unknown option "adress", expected one of: address"#
/// );
/// ```
pub fn option_error<S: Service>(options: &Value) -> String {
    match service::<S>(&Value::Null).handler(options) {
        Ok(_) => panic!("the options {options} are accepted"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `S` is registered in this test binary, builds from the configuration section
/// `config` and makes a handler from `options`; returns the running service.
///
/// # Panics
///
/// When any of that fails, with the reason.
///
/// ```ignore
/// let service = klaxon_core::testing::assert_registered_and_builds::<TcpService>(
///     &serde_json::json!({"timeout": "5s"}),
///     &serde_json::json!({"address": "127.0.0.1:7777"}),
/// );
/// ```
pub fn assert_registered_and_builds<S: Service>(
    config: &Value,
    options: &Value,
) -> Arc<dyn DynService> {
    let registry = Registry::linked().expect("the registry assembles");
    let registration = registry.get(S::KIND).unwrap_or_else(|| {
        panic!(
            "kind {:?} is not registered; have: {}",
            S::KIND,
            registry.kind_list()
        )
    });
    assert_eq!(registration.tick().property, S::TICK.property);
    let service = registration
        .build(config)
        .unwrap_or_else(|e| panic!("sample configuration does not build: {e}"));
    service
        .handler(options)
        .unwrap_or_else(|e| panic!("sample options do not make a handler: {e}"));
    service
}

/// Asserts that every configuration key and every option of `S` has a doc comment, since
/// `klaxond config` prints them as comments and the docs list them.
///
/// # Panics
///
/// Naming the undocumented fields.
pub fn assert_documented<S: Service>() {
    let registration = crate::registry::Registration::of::<S>("(under test)");
    for (what, schema) in [
        ("configuration key", registration.config_schema()),
        ("option", registration.options_schema()),
    ] {
        let missing = undocumented_fields(&schema);
        assert!(
            missing.is_empty(),
            "{}: {what}s without a doc comment: {}",
            S::KIND,
            missing.join(", ")
        );
    }
}

/// Asserts that `S`'s section has Kapacitor's `global` key, as [`Service::global`] reads it:
/// absent, alert nodes get no handler of the kind; `global = true` gives every alert node that
/// names none a handler with the default options. When the section also has Kapacitor's
/// `state-changes-only`, `global = true` with it makes every such node emit only state
/// changes; without that key no node does.
///
/// # Panics
///
/// When `S`'s global setting differs, naming the configuration.
///
/// ```ignore
/// klaxon_core::testing::assert_global::<Pagerduty2Service>();
/// ```
pub fn assert_global<S: Service>() {
    assert_eq!(
        service::<S>(&Value::Null).global(),
        Global::OFF,
        "{}: the default configuration",
        S::KIND
    );
    let on = json!({"global": true});
    let expected = Global {
        handler: true,
        state_changes_only: false,
    };
    assert_eq!(service::<S>(&on).global(), expected, "{}: {on}", S::KIND);
    let schema = crate::registry::Registration::of::<S>("(under test)").config_schema();
    let has_state_changes_only = schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|keys| keys.contains_key("state-changes-only"));
    if has_state_changes_only {
        let both = json!({"global": true, "state-changes-only": true});
        let expected = Global {
            handler: true,
            state_changes_only: true,
        };
        assert_eq!(
            service::<S>(&both).global(),
            expected,
            "{}: {both}",
            S::KIND
        );
    }
}

/// Asserts that the service test of `S`'s default configuration, which is disabled, fails as
/// Kapacitor's does: `service is not enabled`.
///
/// # Panics
///
/// When the test passes or fails otherwise.
///
/// ```ignore
/// klaxon_core::testing::assert_disabled_service_test_fails::<Pagerduty2Service>().await;
/// ```
pub async fn assert_disabled_service_test_fails<S: Service>() {
    let service = service::<S>(&Value::Null);
    let err = service
        .test(&Value::Null)
        .await
        .expect_err("the service test of a disabled service fails");
    assert_eq!(
        err,
        TestError::Failed(HandlerError::permanent("service is not enabled")),
        "{}",
        S::KIND
    );
}

/// Asserts that each of `files`, handler files in YAML as Kapacitor's documentation writes them
/// for `S` (`kind` and `options`; `id` and `topic` are the engine's), is of `S`'s kind and makes a
/// handler of `S`'s service built from the section `config`.
///
/// # Panics
///
/// When a file is not YAML, names another kind, or its options are refused.
///
/// ```ignore
/// klaxon_core::testing::assert_handler_files_accepted::<TcpService>(
///     &Value::Null,
///     &["id: tcp-cpu\ntopic: cpu\nkind: tcp\noptions:\n  address: 127.0.0.1:7777\n"],
/// );
/// ```
pub fn assert_handler_files_accepted<S: Service>(config: &Value, files: &[&str]) {
    let service = service::<S>(config);
    for file in files {
        let spec: Value = yaml_serde::from_str(file)
            .unwrap_or_else(|e| panic!("not a YAML handler file ({e}):\n{file}"));
        assert_eq!(spec["kind"], S::KIND, "{file}");
        if let Err(e) = service.handler(&spec["options"]) {
            panic!("the handler file is refused: {e}\n{file}");
        }
    }
}

/// The event a task's alert node makes of one point, for handler tests, as Kapacitor's own
/// tests of its handlers make them: topic `test`, task `TestStream_Alert`, a level after OK,
/// recoverable, the point as the alert's data (one series), and grouped by the point's `host`
/// tag (`host=serverA`, or `nil` without one).
///
/// ```
/// use klaxon_core::Level;
/// use klaxon_core::testing::PointEvent;
///
/// let event = PointEvent::new("cpu", 31_536_010)
///     .tags(&[("host", "serverA")])
///     .field("count", 10.0)
///     .event("kapacitor/cpu/serverA", "kapacitor/cpu/serverA is OK", Level::Ok);
/// assert_eq!(event.data.group, "host=serverA");
/// assert!(event.alert_json().contains(r#""values":[["1971-01-01T00:00:10Z",10]]"#));
/// ```
#[derive(Debug, Clone)]
pub struct PointEvent {
    measurement: String,
    time: Timestamp,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, FieldValue>,
}

impl PointEvent {
    /// A point of `measurement` at `seconds` after the epoch, without tags or fields yet.
    pub fn new(measurement: &str, seconds: i64) -> PointEvent {
        PointEvent {
            measurement: measurement.to_owned(),
            time: Timestamp::from_nanos(seconds * 1_000_000_000),
            tags: BTreeMap::new(),
            fields: BTreeMap::new(),
        }
    }

    /// The point with these tags, `(key, value)` each.
    pub fn tags(mut self, tags: &[(&str, &str)]) -> PointEvent {
        for (key, value) in tags {
            self.tags.insert((*key).to_owned(), (*value).to_owned());
        }
        self
    }

    /// The point with the float field `key`=`value`.
    pub fn field(mut self, key: &str, value: f64) -> PointEvent {
        self.fields.insert(key.to_owned(), FieldValue::Float(value));
        self
    }

    /// The event of the alert `id` at `level`, with `message`, made of the point.
    pub fn event(self, id: &str, message: &str, level: Level) -> Event {
        let PointEvent {
            measurement,
            time,
            tags,
            fields,
        } = self;
        let group = match tags.get("host") {
            Some(host) => format!("host={host}"),
            None => "nil".to_owned(),
        };
        Event {
            topic: "test".to_owned(),
            state: EventState {
                id: id.to_owned(),
                message: message.to_owned(),
                details: String::new(),
                time,
                duration: GoDuration::ZERO,
                level,
            },
            data: EventData {
                task_name: "TestStream_Alert".to_owned(),
                group,
                result: AlertResult {
                    series: vec![Row::from_point(&measurement, &tags, &fields, time)],
                },
                name: measurement,
                tags,
                fields,
                recoverable: true,
                ..EventData::default()
            },
            previous_level: Level::Ok,
        }
    }
}

/// The event of Kapacitor's `TestServer_AlertHandlers` (server/server_test.go), which every
/// handler kind's case receives through a handler file on topic `test`: task
/// `testAlertHandlers`, `.id('id')`, `.message('message')`, `.details('details')`, CRITICAL, and
/// one point `alert value=1` at the epoch.
///
/// ```
/// let event = klaxon_core::testing::alert_handlers_event();
/// assert_eq!(
///     event.alert_json(),
///     concat!(
///         r#"{"id":"id","message":"message","details":"details","time":"1970-01-01T00:00:00Z","duration":0,"#,
///         r#""level":"CRITICAL","data":{"series":[{"name":"alert","columns":["time","value"],"#,
///         r#""values":[["1970-01-01T00:00:00Z",1]]}]},"previousLevel":"OK","recoverable":true}"#,
///         "\n"
///     )
/// );
/// ```
pub fn alert_handlers_event() -> Event {
    let mut event =
        PointEvent::new("alert", 0)
            .field("value", 1.0)
            .event("id", "message", Level::Critical);
    event.state.details = "details".to_owned();
    event.data.task_name = "testAlertHandlers".to_owned();
    event
}

/// The event of Kapacitor's `TestStream_Alert<Kind>` tests (integrations/streamer_test.go), a
/// TICKscript over `TestStream_Alert.srpl`: serverA's count of 10 at 1971-01-01T00:00:10Z,
/// CRITICAL, with the ID `kapacitor/{{ .Name }}/{{ index .Tags "host" }}` and the `message` of
/// the kind's test (the default `{{ .ID }} is {{ .Level }}`, or its own `.message()`).
///
/// ```
/// let event = klaxon_core::testing::stream_alert_event("kapacitor/cpu/serverA is CRITICAL");
/// assert_eq!(event.state.id, "kapacitor/cpu/serverA");
/// assert_eq!(event.data.task_name, "TestStream_Alert");
/// assert_eq!(event.data.tags["host"], "serverA");
/// ```
pub fn stream_alert_event(message: &str) -> Event {
    PointEvent::new("cpu", 31_536_010)
        .tags(&[("host", "serverA")])
        .field("count", 10.0)
        .event("kapacitor/cpu/serverA", message, Level::Critical)
}

/// The top-level properties of `schema` that have no description.
pub fn undocumented_fields(schema: &schemars::Schema) -> Vec<String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, p)| {
            p.get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// How long one corpus input may take before [`replay_corpus`] calls it a hang.
pub const CORPUS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `check` on every file under `dir` (sorted by name, subdirectories included), each on
/// its own thread, and fails naming the file when a check panics or runs past
/// [`CORPUS_DEADLINE`]. `check` returns what the parser said, `Ok` or `Err`, as text; this
/// returns it per file so a test can assert on particular inputs.
///
/// # Panics
///
/// When `dir` holds no file, a check panics, or a check does not finish in time.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("klaxon-corpus-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("ok"), b"42").unwrap();
/// std::fs::write(dir.join("bad"), b"x").unwrap();
/// let results = klaxon_core::testing::replay_corpus(&dir, |bytes| {
///     std::str::from_utf8(bytes)
///         .ok()
///         .and_then(|s| s.parse::<i64>().ok())
///         .map(|n| n.to_string())
///         .ok_or_else(|| "not a number".to_owned())
/// });
/// assert_eq!(results.len(), 2);
/// assert_eq!(results[0].1, Err("not a number".to_owned())); // "bad" sorts first
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn replay_corpus<F>(
    dir: &std::path::Path,
    check: F,
) -> Vec<(std::path::PathBuf, Result<String, String>)>
where
    F: Fn(&[u8]) -> Result<String, String> + Send + Sync + 'static,
{
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let entries = std::fs::read_dir(&next)
            .unwrap_or_else(|e| panic!("cannot read corpus directory {}: {e}", next.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "corpus {} holds no file", dir.display());
    let check = Arc::new(check);
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let (tx, rx) = std::sync::mpsc::channel();
            let check = Arc::clone(&check);
            std::thread::spawn(move || {
                let _ = tx.send(check(&bytes));
            });
            match rx.recv_timeout(CORPUS_DEADLINE) {
                Ok(result) => (path, result),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
                    "corpus input {} did not finish within {CORPUS_DEADLINE:?}",
                    path.display()
                ),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("corpus input {} made the parser panic", path.display())
                }
            }
        })
        .collect()
}

/// The result [`replay_corpus`] gave for the corpus file named `name`.
///
/// # Panics
///
/// When no file has that name, so a renamed seed fails its test instead of being skipped.
///
/// ```
/// use std::path::PathBuf;
/// let results = vec![(PathBuf::from("corpus/ok.txt"), Ok("42".to_owned()))];
/// assert_eq!(klaxon_core::testing::corpus_result(&results, "ok.txt"), &Ok("42".to_owned()));
/// ```
pub fn corpus_result<'a>(
    results: &'a [(std::path::PathBuf, Result<String, String>)],
    name: &str,
) -> &'a Result<String, String> {
    &results
        .iter()
        .find(|(path, _)| path.file_name().is_some_and(|f| f == name))
        .unwrap_or_else(|| panic!("no corpus file {name}"))
        .1
}
