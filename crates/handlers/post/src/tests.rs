//! The post handler through the real path: configuration and options decoded by the registry,
//! real HTTP and HTTPS servers on loopback (klaxon-http's recording receiver), real templates.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::testing::{
    assert_documented, assert_registered_and_builds, build, handler, option_error,
    undocumented_fields,
};
use klaxon_core::{
    AlertResult, DynService, Event, EventData, EventState, FieldValue, GoDuration, Handler,
    HandlerError, Level, Row, Service, TestError, Timestamp,
};
use klaxon_http::testing::{Answer, Received, Receiver, TestPki};
use serde_json::{Value, json};

use crate::template::ZERO_ALERT_JSON;
use crate::{BasicAuth, Endpoint, PostService};

/// What Kapacitor posts for the alert of kapacitor-compat.md 1.5 (`TestServer_AlertHandlers`,
/// case post with the `url` option): `json.NewEncoder(body).Encode(alertData)`.
const KAPACITOR_BODY: &str = concat!(
    r#"{"id":"id","message":"message","details":"details","time":"1970-01-01T00:00:00Z","#,
    r#""duration":0,"level":"CRITICAL","data":{"series":[{"name":"alert","columns":["time","value"],"#,
    r#""values":[["1970-01-01T00:00:00Z",1]]}]},"previousLevel":"OK","recoverable":true}"#,
    "\n"
);

/// What Kapacitor posts in `TestStream_AlertHTTPPost` (`.details('')`, a count of 10 at
/// 1971-01-01T00:00:10Z, grouped by host).
const KAPACITOR_STREAM_BODY: &str = concat!(
    r#"{"id":"kapacitor.cpu.serverA","message":"kapacitor.cpu.serverA is CRITICAL","details":"","#,
    r#""time":"1971-01-01T00:00:10Z","duration":0,"level":"CRITICAL","data":{"series":[{"name":"cpu","#,
    r#""tags":{"host":"serverA"},"columns":["time","count"],"values":[["1971-01-01T00:00:10Z",10]]}]},"#,
    r#""previousLevel":"OK","recoverable":true}"#,
    "\n"
);

/// The event of kapacitor-compat.md 1.5: `alert value=1 0` through
/// `.id('id').message('message').details('details').crit(lambda: TRUE)`.
fn kapacitor_event() -> Event {
    event(
        "id",
        "message",
        "details",
        "alert",
        Timestamp::EPOCH,
        &[],
        ("value", FieldValue::Float(1.0)),
    )
}

/// The event of `TestStream_AlertHTTPPost`.
fn stream_event() -> Event {
    event(
        "kapacitor.cpu.serverA",
        "kapacitor.cpu.serverA is CRITICAL",
        "",
        "cpu",
        Timestamp::from_nanos(31_536_010_000_000_000),
        &[("host", "serverA")],
        ("count", FieldValue::Int(10)),
    )
}

fn event(
    id: &str,
    message: &str,
    details: &str,
    name: &str,
    time: Timestamp,
    tags: &[(&str, &str)],
    field: (&str, FieldValue),
) -> Event {
    let tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fields = BTreeMap::from([(field.0.to_owned(), field.1)]);
    Event {
        topic: "test".into(),
        state: EventState {
            id: id.into(),
            message: message.into(),
            details: details.into(),
            time,
            duration: GoDuration::ZERO,
            level: Level::Critical,
        },
        data: EventData {
            name: name.into(),
            recoverable: true,
            result: AlertResult {
                series: vec![Row::from_point(name, &tags, &fields, time)],
            },
            tags,
            fields,
            ..EventData::default()
        },
        previous_level: Level::Ok,
    }
}

fn service(config: Value) -> Arc<dyn DynService> {
    klaxon_core::testing::service::<PostService>(&config)
}

/// A service whose only endpoint is `test` with these keys (`url` and more).
fn service_with_endpoint(endpoint: Value) -> Arc<dyn DynService> {
    let mut endpoint = endpoint;
    endpoint["endpoint"] = json!("test");
    service(json!([endpoint]))
}

/// Delivers `event` through `handler` and returns the request the receiver got.
async fn deliver(handler: &dyn Handler, event: &Event, receiver: &Receiver) -> Received {
    handler.handle(event).await.expect("delivered");
    receiver.next()
}

async fn failure(handler: &dyn Handler) -> HandlerError {
    handler
        .handle(&kapacitor_event())
        .await
        .expect_err("the delivery fails")
}

/// The options TICKscript gives for `.post(args...)` followed by `chained`.
fn tick(args: &[Value], chained: &[(&str, Vec<Value>)]) -> Value {
    PostService::TICK
        .build_options(args, chained)
        .unwrap_or_else(|e| panic!("TICKscript refused: {e}"))
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<PostService>(
        &json!([{"endpoint": "alerts", "url": "https://hooks.example.com/alerts", "headers": {"From": "klaxon"}}]),
        &json!({"endpoint": "alerts"}),
    );
    assert_documented::<PostService>();
    // The section is a list: its keys are the endpoint's, which `assert_documented` cannot see.
    for schema in [
        schemars::schema_for!(Endpoint),
        schemars::schema_for!(BasicAuth),
    ] {
        assert_eq!(undocumented_fields(&schema), Vec::<String>::new());
    }
}

#[test]
fn the_section_is_httppost_a_list_keyed_by_endpoint_and_basic_auth_is_secret() {
    let registry = klaxon_core::Registry::linked().expect("the registry assembles");
    let registration = registry.get("post").expect("registered");
    assert_eq!(registration.section(), "httppost");
    assert_eq!(registration.element_key(), Some("endpoint"));
    assert_eq!(registration.secrets(), ["basic-auth"]);
}

#[test]
fn defaults_are_kapacitors() {
    let example = json!([{
        "endpoint": "example", "url": "http://example.com", "headers": {},
        "basic-auth": {"username": "", "password": ""}, "alert-template": "",
        "alert-template-file": "", "row-template": "", "row-template-file": "",
    }]);
    assert_eq!(service(Value::Null).config(), example);
    // Writing [[httppost]] replaces the example; an empty list is no endpoint at all.
    assert_eq!(service(json!([])).config(), json!([]));
    assert_eq!(
        service(Value::Null).test_options(),
        json!({"endpoint": "example", "url": "http://localhost:3000/", "headers": {"Auth": "secret"}, "timeout": 0})
    );
    assert_eq!(
        service(Value::Null).default_options(),
        json!({"url": "", "endpoint": "", "headers": {}, "capture-response": false, "timeout": 0, "skip-ssl-verification": false})
    );
}

#[tokio::test]
async fn posts_kapacitors_exact_request_for_the_reference_alert() {
    let receiver = Receiver::http(vec![]);
    let service = service(Value::Null);
    let handler = handler(&*service, json!({ "url": receiver.url() }));

    let request = deliver(&*handler, &kapacitor_event(), &receiver).await;

    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("content-length"),
        Some(KAPACITOR_BODY.len().to_string().as_str())
    );
    assert_eq!(request.text(), KAPACITOR_BODY);
    assert_eq!(request.body, KAPACITOR_BODY.as_bytes());
}

#[tokio::test]
async fn a_tickscript_post_sends_kapacitors_stream_body_to_the_path() {
    let receiver = Receiver::http(vec![]);
    let url = format!("{}hooks/alerts?source=klaxon", receiver.url());
    let service = service(Value::Null);
    let handler = handler(&*service, tick(&[json!(url)], &[]));

    let request = deliver(&*handler, &stream_event(), &receiver).await;

    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/hooks/alerts?source=klaxon")
    );
    assert_eq!(request.text(), KAPACITOR_STREAM_BODY);
}

#[tokio::test]
async fn an_endpoint_brings_its_url_headers_and_basic_auth() {
    // TestStream_AlertHTTPPostEndpoint: `.post().endpoint('test')` with the endpoint's
    // `Authorization: works` header.
    let receiver = Receiver::http(vec![]);
    let service = service_with_endpoint(json!({
        "url": format!("{}endpoint", receiver.url()),
        "headers": {"Authorization": "works", "X-Source": "endpoint"},
    }));
    let options = tick(&[], &[("endpoint", vec![json!("test")])]);
    assert_eq!(options, json!({"url": [], "endpoint": "test"}));
    let by_name = handler(&*service, options);

    let request = deliver(&*by_name, &stream_event(), &receiver).await;

    assert_eq!(request.target, "/endpoint");
    assert_eq!(request.header("authorization"), Some("works"));
    assert_eq!(request.header("x-source"), Some("endpoint"));
    assert_eq!(request.text(), KAPACITOR_STREAM_BODY);

    let receiver = Receiver::http(vec![]);
    let service = service_with_endpoint(json!({
        "url": receiver.url(),
        "basic-auth": {"username": "klaxon", "password": "s3cret"},
    }));
    let handler = handler(&*service, json!({"endpoint": "test"}));
    let request = deliver(&*handler, &stream_event(), &receiver).await;
    // base64("klaxon:s3cret")
    assert_eq!(
        request.header("authorization"),
        Some("Basic a2xheG9uOnMzY3JldA==")
    );
}

#[tokio::test]
async fn handler_headers_replace_the_endpoints_and_json_keeps_its_content_type() {
    let receiver = Receiver::http(vec![]);
    let service = service_with_endpoint(json!({
        "url": receiver.url(),
        "headers": {"X-Team": "endpoint", "X-Kept": "endpoint"},
    }));
    let options = tick(
        &[],
        &[
            ("endpoint", vec![json!("test")]),
            ("header", vec![json!("x-team"), json!("handler")]),
            ("header", vec![json!("Content-Type"), json!("text/plain")]),
        ],
    );
    let handler = handler(&*service, options);

    let request = deliver(&*handler, &kapacitor_event(), &receiver).await;

    let team: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name == "x-team")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(team, ["handler"]);
    assert_eq!(request.header("x-kept"), Some("endpoint"));
    // As in Kapacitor, the alert JSON is always sent as application/json.
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn an_alert_template_is_the_body_without_a_content_type() {
    // TestServer_AlertHandlers, endpoint `test` with `alert-template = "{{.Message}}"`.
    let receiver = Receiver::http(vec![]);
    let service =
        service_with_endpoint(json!({"url": receiver.url(), "alert-template": "{{.Message}}"}));
    let handler = handler(&*service, json!({"endpoint": "test"}));

    let request = deliver(&*handler, &kapacitor_event(), &receiver).await;

    assert_eq!(request.body, b"message");
    assert_eq!(request.header("content-type"), None);
}

/// Renders `template` as an endpoint's alert template for `event`.
async fn render(template: &str, event: &Event) -> String {
    let receiver = Receiver::http(vec![]);
    let service = service_with_endpoint(json!({"url": receiver.url(), "alert-template": template}));
    let handler = handler(&*service, json!({"endpoint": "test"}));
    deliver(&*handler, event, &receiver).await.text()
}

#[tokio::test]
async fn alert_templates_see_kapacitors_alert_data_as_go_prints_it() {
    let event = stream_event();
    let cases = [
        // The example of Kapacitor's configuration file.
        (
            "{{.Message}}:{{range .Data.Series}}{{.Tags}},{{range .Values}}{{.}}{{end}}{{end}}",
            "kapacitor.cpu.serverA is CRITICAL:map[host:serverA],[1971-01-01 00:00:10 +0000 UTC 10]",
        ),
        (
            "{{.ID}} {{.Level}} {{.PreviousLevel}} {{.Recoverable}} {{.Duration}} {{.Time}}",
            "kapacitor.cpu.serverA CRITICAL OK true 0s 1971-01-01 00:00:10 +0000 UTC",
        ),
        (
            r#"{{range .Data.Series}}{{.Name}} {{index .Tags "host"}} {{index .Columns 1}}{{end}}"#,
            "cpu serverA count",
        ),
        (
            r#"{"text": {{json .Message}}}"#,
            "{\"text\": \"kapacitor.cpu.serverA is CRITICAL\"\n}",
        ),
        (
            r#"{"text":{{jsonCompact .Message}},"at":{{jsonCompact .Time}},"for":{{jsonCompact .Duration}}}"#,
            r#"{"text":"kapacitor.cpu.serverA is CRITICAL","at":"1971-01-01T00:00:10Z","for":0}"#,
        ),
    ];
    for (template, expected) in cases {
        assert_eq!(render(template, &event).await, expected, "{template}");
    }
}

#[tokio::test]
async fn json_of_the_alert_or_its_parts_is_kapacitors_encoding() {
    let event = stream_event();
    // `{{json .}}` is the very body Kapacitor posts without a template.
    assert_eq!(render("{{json .}}", &event).await, KAPACITOR_STREAM_BODY);
    assert_eq!(
        render("{{jsonCompact .Data}}", &event).await,
        r#"{"series":[{"name":"cpu","tags":{"host":"serverA"},"columns":["time","count"],"values":[["1971-01-01T00:00:10Z",10]]}]}"#
    );
    assert_eq!(
        render(
            "{{range .Data.Series}}{{jsonCompact .Values}}|{{jsonCompact .Tags}}{{end}}",
            &event
        )
        .await,
        r#"[["1971-01-01T00:00:10Z",10]]|{"host":"serverA"}"#
    );
    let mut escaped = kapacitor_event();
    escaped.state.message = "<b>&</b>".into();
    assert_eq!(
        render("{{jsonCompact .Message}}", &escaped).await,
        r#""\u003cb\u003e\u0026\u003c/b\u003e""#
    );
}

#[tokio::test]
async fn a_template_that_fails_on_an_alert_fails_the_delivery_for_good() {
    let receiver = Receiver::http(vec![]);
    let service =
        service_with_endpoint(json!({"url": receiver.url(), "alert-template": "{{.Name}}"}));
    let handler = handler(&*service, json!({"endpoint": "test"}));

    let err = failure(&*handler).await;

    assert!(
        err.message()
            .starts_with(r#"cannot render the alert-template of endpoint "test": "#),
        "{err}"
    );
    assert!(err.message().contains("Name"), "{err}");
    assert!(!err.is_retryable());
    assert!(receiver.next_within(Duration::from_millis(100)).is_none());
}

#[tokio::test]
async fn a_template_file_is_read_and_has_the_json_functions_too() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("alert.tmpl");
    std::fs::write(&file, r#"{"id":{{jsonCompact .ID}},"level":"{{.Level}}"}"#).expect("write");
    let receiver = Receiver::http(vec![]);
    let service =
        service_with_endpoint(json!({"url": receiver.url(), "alert-template-file": file}));
    let handler = handler(&*service, json!({"endpoint": "test"}));

    let request = deliver(&*handler, &kapacitor_event(), &receiver).await;

    assert_eq!(request.text(), r#"{"id":"id","level":"CRITICAL"}"#);
}

#[tokio::test]
async fn the_url_is_a_template_over_the_alert() {
    let receiver = Receiver::http(vec![]);
    let service = service(Value::Null);
    let url = format!("{}alerts/{{{{.ID}}}}?level={{{{.Level}}}}", receiver.url());
    let handler = handler(&*service, json!({ "url": url }));

    let request = deliver(&*handler, &kapacitor_event(), &receiver).await;

    assert_eq!(request.target, "/alerts/id?level=CRITICAL");
}

#[tokio::test]
async fn credentials_in_the_url_become_basic_auth_and_stay_out_of_messages() {
    let receiver = Receiver::http(vec![Answer::status(400)]);
    let url = receiver.url().replace("http://", "http://ops:hunter2@");
    let service = service(Value::Null);
    let handler = handler(&*service, json!({ "url": url }));

    let err = failure(&*handler).await;
    let request = receiver.next();

    // base64("ops:hunter2")
    assert_eq!(
        request.header("authorization"),
        Some("Basic b3BzOmh1bnRlcjI=")
    );
    assert!(!err.message().contains("hunter2"), "{err}");
    assert!(
        err.message()
            .starts_with(&format!("POST {}: 400 Bad Request", receiver.url())),
        "{err}"
    );
}

#[tokio::test]
async fn server_errors_and_429_are_retried_other_4xx_are_not() {
    let receiver = Receiver::http(vec![
        Answer::status(503).header("Retry-After", "7"),
        Answer::status(429),
        Answer::status(500).body("database is down"),
        Answer::status(404).body("no such hook"),
        Answer::status(401),
        Answer::status(204),
    ]);
    let url = receiver.url();
    let service = service(Value::Null);
    let plain = handler(&*service, json!({ "url": url }));
    let capturing = handler(&*service, json!({ "url": url, "capture-response": true }));
    let hint = "; set capture-response (.captureResponse()) to see the response body";

    let err = failure(&*plain).await;
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(
        err.message(),
        format!("POST {url}: 503 Service Unavailable{hint}")
    );

    let err = failure(&*plain).await;
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.retry_after(), None);

    let err = failure(&*capturing).await;
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        err.message(),
        format!("POST {url}: 500 Internal Server Error: database is down")
    );

    let err = failure(&*capturing).await;
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(
        err.message(),
        format!("POST {url}: 404 Not Found: no such hook")
    );

    let err = failure(&*plain).await;
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(err.message(), format!("POST {url}: 401 Unauthorized{hint}"));

    plain
        .handle(&kapacitor_event())
        .await
        .expect("any 2xx is a success");
}

#[tokio::test]
async fn a_captured_response_body_is_cut() {
    let long = "x".repeat(100_000);
    let receiver = Receiver::http(vec![Answer::status(400).body(&long)]);
    let service = service(Value::Null);
    let handler = handler(
        &*service,
        json!({ "url": receiver.url(), "capture-response": true }),
    );

    let err = failure(&*handler).await;

    let prefix = format!("POST {}: 400 Bad Request: ", receiver.url());
    assert!(err.message().starts_with(&prefix), "{err}");
    assert_eq!(
        err.message().len(),
        prefix.len() + klaxon_http::failure::BODY_LIMIT
    );
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let receiver_url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/", listener.local_addr().expect("address"))
    };
    let service = service(Value::Null);
    let handler = handler(&*service, json!({ "url": receiver_url }));

    let err = failure(&*handler).await;

    assert!(err.is_retryable(), "{err}");
    assert!(
        err.message().starts_with(&format!("POST {receiver_url}: ")),
        "{err}"
    );
}

#[tokio::test]
async fn the_timeout_bounds_a_post_to_a_server_that_never_answers() {
    // A socket that accepts and never answers: what a hung webhook looks like.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", silent.local_addr().expect("address"));
    let service = service(Value::Null);
    // As TICKscript's `.timeout(300ms)` gives it: integer nanoseconds.
    let options = tick(&[json!(url)], &[("timeout", vec![json!(300_000_000)])]);
    let handler = handler(&*service, options);

    let started = Instant::now();
    let err = failure(&*handler).await;

    assert_eq!(err.message(), format!("POST {url} timed out after 300ms"));
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
}

#[tokio::test]
async fn https_with_skip_ssl_verification_is_delivered_and_without_it_refused_naming_the_host() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.server_cert, &pki.server_key, vec![]);
    let service = service(Value::Null);

    // The TICKscript form, which Kapacitor parses and then ignores.
    let options = tick(&[json!(receiver.url())], &[("skipSSLVerification", vec![])]);
    let skipping = handler(&*service, options);
    let request = deliver(&*skipping, &kapacitor_event(), &receiver).await;
    assert_eq!(request.text(), KAPACITOR_BODY);

    // The handler-file form of Kapacitor's documentation.
    let documented = handler(
        &*service,
        json!({ "url": receiver.url(), "skipSSLVerification": true }),
    );
    deliver(&*documented, &kapacitor_event(), &receiver).await;

    // The test CA is not among the platform's roots: the certificate is refused, for good.
    let verifying = handler(&*service, json!({ "url": receiver.url() }));
    let err = failure(&*verifying).await;
    assert!(
        err.message().starts_with(&format!(
            "POST {}: TLS with 127.0.0.1 failed: invalid peer certificate",
            receiver.url()
        )),
        "{err}"
    );
    assert!(!err.is_retryable(), "{err}");
    assert!(receiver.next_within(Duration::from_millis(200)).is_none());
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.untrusted_cert, &pki.untrusted_key, vec![]);
    let service = service(Value::Null);
    let handler = handler(&*service, json!({ "url": receiver.url() }));

    let err = failure(&*handler).await;

    assert!(err.message().contains("TLS with 127.0.0.1 failed"), "{err}");
    assert!(!err.is_retryable(), "{err}");
}

#[test]
fn tickscript_properties_become_the_handler_file_options() {
    let options = tick(
        &[json!("https://example.com/path")],
        &[
            ("header", vec![json!("Example1"), json!("example1")]),
            ("header", vec![json!("Example2"), json!("example2")]),
            ("captureResponse", vec![]),
            ("timeout", vec![json!(10_000_000_000_i64)]),
            ("skipSSLVerification", vec![]),
        ],
    );
    assert_eq!(
        options,
        json!({
            "url": ["https://example.com/path"],
            "headers": {"Example1": "example1", "Example2": "example2"},
            "capture-response": true,
            "timeout": 10_000_000_000_i64,
            "skip-ssl-verification": true,
        })
    );
    handler(&*service(Value::Null), options);
    // Kapacitor's documented handler file, `timeout: 10s` and `skipSSLVerification` included.
    handler(
        &*service(Value::Null),
        json!({
            "url": "http://example.com/path",
            "headers": {"Example1": "example1", "Example2": "example2"},
            "capture-response": true,
            "timeout": "10s",
            "skipSSLVerification": true,
        }),
    );
}

#[test]
fn bad_options_are_refused_naming_the_field_and_value() {
    let cases = [
        (
            json!({"url": "example.com/hook"}),
            r#"post: url "example.com/hook" has no scheme; write it like "https://example.com/hook""#,
        ),
        (
            json!({"url": "ftp://example.com/"}),
            r#"post: url "ftp://example.com/" has the scheme "ftp"; only http and https are supported"#,
        ),
        (
            json!({"url": "http:///hook"}),
            r#"post: url "http:///hook" has no host; write it like "http://host:port/path""#,
        ),
        (
            json!({"url": "http://example.com/{{.Nope}}"}),
            r#"post: url template "http://example.com/{{.Nope}}" cannot be rendered for a sample alert: "#,
        ),
        (
            json!({"url": "http://example.com/{{.ID"}),
            r#"post: url "http://example.com/{{.ID" is not a valid template: "#,
        ),
        (
            json!({"url": "{{.ID}}/hook"}),
            r#"post: url template "{{.ID}}/hook" gives "service-test/hook" for a sample alert: url "service-test/hook" has no scheme"#,
        ),
        (
            json!({"endpoint": "nope", "url": "http://example.com/"}),
            r#"post: endpoint "nope" is not configured; [[httppost]] has: example"#,
        ),
        (
            json!({}),
            "post: one of url and endpoint is required; write .post('https://host/path') or .post().endpoint('name') (url: or endpoint: in a handler file)",
        ),
        (
            json!({"url": [], "headers": {"X": "1"}}),
            "post: one of url and endpoint is required",
        ),
        (
            json!({"url": ["http://a/", "http://b/"]}),
            r#"post: option "url": .post() takes one URL, got 2: ["http://a/", "http://b/"]"#,
        ),
        (
            json!({"url": "http://example.com/", "headers": {"authenticate": "x"}}),
            r#"post: headers: the "authenticate" header cannot be set"#,
        ),
        (
            json!({"url": "http://example.com/", "headers": {"bad name": "x"}}),
            r#"post: headers: "bad name" is not a valid header name; use letters, digits and '-'"#,
        ),
        (
            json!({"url": "http://example.com/", "headers": {"X-Bad": "a\nb"}}),
            r#"post: headers: the value "a\nb" of "X-Bad" is not a valid header value"#,
        ),
        (
            json!({"url": "http://example.com/", "timeout": -1_000_000_000}),
            "post: timeout must not be negative, got -1s",
        ),
        (
            json!({"url": "http://example.com/", "timeout": "soon"}),
            r#"post: option "timeout": invalid duration "soon""#,
        ),
        (
            json!({"url": "http://example.com/", "capture": true}),
            r#"post: unknown option "capture", expected one of: capture-response, endpoint, headers, skip-ssl-verification, skipSSLVerification, timeout, url"#,
        ),
        (
            json!({"url": 7}),
            r#"post: option "url": invalid type: integer `7`, expected a URL string"#,
        ),
    ];
    for (options, expected) in cases {
        let err = option_error::<PostService>(&options);
        assert!(err.starts_with(expected), "options {options}:\n{err}");
    }
}

#[test]
fn tickscript_without_a_url_or_endpoint_or_with_a_bad_property_is_refused() {
    let err = PostService::TICK
        .build_options(&[], &[("room", vec![json!("x")])])
        .expect_err("unknown property");
    assert_eq!(
        err.to_string(),
        ".post() does not take .room(); it takes: .endpoint(), .header(), .captureResponse(), .timeout(), .skipSSLVerification()"
    );
    let bare = tick(&[], &[]);
    assert_eq!(
        option_error::<PostService>(&bare),
        "post: one of url and endpoint is required; write .post('https://host/path') or .post().endpoint('name') (url: or endpoint: in a handler file)"
    );
}

#[test]
fn bad_endpoints_refuse_the_configuration_naming_the_endpoint_and_key() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("missing.tmpl");
    let broken = dir.path().join("broken.tmpl");
    std::fs::write(&broken, "{{.Message").expect("write");
    let cases = [
        (
            json!([{"url": "http://example.com"}]),
            r#"httppost: endpoint "": must specify an endpoint name, such as endpoint = "alerts""#,
        ),
        (
            json!([{"endpoint": "a"}]),
            r#"httppost: endpoint "a": url is required; write it like "https://host/path""#,
        ),
        (
            json!([{"endpoint": "a", "url": "example.com"}]),
            r#"httppost: endpoint "a": url "example.com" has no scheme"#,
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/"}, {"endpoint": "a", "url": "http://y/"}]),
            r#"httppost: endpoint "a" appears twice; each element needs its own endpoint"#,
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/", "alert-template": "x", "alert-template-file": "/x"}]),
            r#"httppost: endpoint "a": must specify only one of alert-template and alert-template-file"#,
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/", "alert-template": "{{.Message"}]),
            r#"httppost: endpoint "a": alert-template "{{.Message" is not a valid template: "#,
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/", "alert-template-file": "alert.tmpl"}]),
            r#"httppost: endpoint "a": alert-template-file "alert.tmpl" is relative; write an absolute path"#,
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/", "alert-template-file": missing}]),
            &format!(
                "httppost: endpoint \"a\": cannot read alert-template-file {:?}: No such file or directory",
                missing.display().to_string()
            ),
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/", "row-template-file": broken}]),
            &format!(
                "httppost: endpoint \"a\": row-template-file {:?} is not a valid template: ",
                broken.display().to_string()
            ),
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/", "row-template": "x", "row-template-file": "/x"}]),
            r#"httppost: endpoint "a": must specify only one of row-template and row-template-file"#,
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/", "headers": {"a b": "c"}}]),
            r#"httppost: endpoint "a": headers: "a b" is not a valid header name"#,
        ),
        (
            json!([{"endpoint": "a", "url": "http://x/", "basic-auth": {"user": "u"}}]),
            r#"httppost: element 1: key "basic-auth.user": unknown field `user`, expected `username` or `password`"#,
        ),
        (
            json!([{"endpoint": "a", "urls": "http://x/"}]),
            r#"httppost: element 1: unknown key "urls", expected one of: alert-template, alert-template-file, basic-auth, endpoint, headers, row-template, row-template-file, url"#,
        ),
    ];
    for (config, expected) in cases {
        let err = build::<PostService>(&config)
            .expect_err("refused")
            .to_string();
        assert!(err.starts_with(expected), "config {config}:\n{err}");
    }
}

#[tokio::test]
async fn a_configuration_change_reaches_handlers_made_earlier() {
    let (before, after) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service_with_endpoint(json!({"url": before.url()}));
    let handler = handler(&*service, json!({"endpoint": "test"}));
    deliver(&*handler, &kapacitor_event(), &before).await;

    service
        .update(&json!([{"endpoint": "test", "url": after.url(), "alert-template": "{{.ID}}"}]))
        .expect("valid configuration");
    let request = deliver(&*handler, &kapacitor_event(), &after).await;
    assert_eq!(request.text(), "id");

    let err = service
        .update(&json!([{"endpoint": "test", "url": "nowhere"}]))
        .expect_err("a bad change is refused");
    assert!(
        err.to_string()
            .starts_with("httppost: endpoint \"test\": url \"nowhere\""),
        "{err}"
    );
    deliver(&*handler, &kapacitor_event(), &after).await;

    service
        .update(&json!([{"endpoint": "other", "url": after.url()}]))
        .expect("valid configuration");
    let err = failure(&*handler).await;
    assert_eq!(
        err.message(),
        r#"endpoint "test" is no longer configured; [[httppost]] has: other"#
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn the_service_test_posts_kapacitors_zero_alert_with_the_test_headers() {
    assert_eq!(
        ZERO_ALERT_JSON,
        Event::default()
            .alert_json()
            .replace("1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z")
    );
    let receiver = Receiver::http(vec![]);
    let service = service(json!([]));

    // The endpoint "example" of the defaults is not configured here: the URL is used.
    service
        .test(&json!({ "url": receiver.url() }))
        .await
        .expect("the test passes");

    let request = receiver.next();
    assert_eq!(request.method, "POST");
    assert_eq!(request.text(), ZERO_ALERT_JSON);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("auth"), Some("secret"));
}

#[tokio::test]
async fn the_service_test_of_an_endpoint_uses_the_endpoint() {
    let receiver = Receiver::http(vec![]);
    let service = service_with_endpoint(json!({
        "url": format!("{}test", receiver.url()),
        "alert-template": "{{.Level}} {{.Time}}",
    }));

    service
        .test(&json!({"endpoint": "test", "headers": {}}))
        .await
        .expect("the test passes");

    let request = receiver.next();
    assert_eq!(request.target, "/test");
    assert_eq!(request.text(), "OK 0001-01-01 00:00:00 +0000 UTC");
}

#[tokio::test]
async fn the_service_test_fails_on_an_error_response_or_without_a_url() {
    let receiver = Receiver::http(vec![Answer::status(404).body("no such hook")]);
    let service = service(json!([]));
    let err = service
        .test(&json!({ "url": receiver.url() }))
        .await
        .expect_err("404");
    let TestError::Failed(err) = err else {
        panic!("expected a failed test, got {err:?}");
    };
    assert_eq!(
        err.message(),
        format!("POST {}: 404 Not Found: no such hook", receiver.url())
    );

    let err = service.test(&json!({"url": ""})).await.expect_err("no url");
    assert_eq!(
        err.to_string(),
        r#"url is required; write it like "https://host/path""#
    );
}

#[test]
fn endpoints_are_offered_to_the_http_post_node_with_row_urls_and_templates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("row.tmpl");
    std::fs::write(&file, "{{ .Name }} from a file").unwrap();
    let service = service(json!([
        {"endpoint": "rows", "url": "http://127.0.0.1:9/{{ .Name }}", "headers": {"From": "k"},
         "basic-auth": {"username": "u", "password": "p"}, "row-template": "{{ .Name }}"},
        {"endpoint": "file", "url": "http://127.0.0.1:9/", "row-template-file": file.display().to_string()},
        {"endpoint": "half", "url": "http://127.0.0.1:9/", "basic-auth": {"username": "u"}},
    ]));
    let offered = service
        .http_post_endpoints()
        .expect("the post service offers its endpoints");
    let by_name = |name: &str| offered.iter().find(|e| e.name == name).unwrap().clone();
    let rows = by_name("rows");
    // A URL template over a row (`.Name`) is kept though a sample alert cannot render it.
    assert_eq!(rows.url, "http://127.0.0.1:9/{{ .Name }}");
    assert_eq!(rows.headers, [("From".to_owned(), "k".to_owned())].into());
    assert_eq!(rows.basic_auth, Some(("u".to_owned(), "p".to_owned())));
    assert_eq!(rows.row_template.as_deref(), Some("{{ .Name }}"));
    assert_eq!(
        by_name("file").row_template.as_deref(),
        Some("{{ .Name }} from a file")
    );
    assert_eq!(by_name("half").basic_auth, None);
    // A URL template that is not a URL whatever it renders is still refused.
    let refused = klaxon_core::testing::build::<PostService>(&json!([
        {"endpoint": "bad", "url": "{{ .Name }}/x"}
    ]));
    assert!(refused.is_err());
}
