//! The post handler against a real klaxond: Kapacitor's documented handler files and
//! `.post()` TICKscript, delivering to local HTTPS and HTTP receivers (klaxon-http's recording
//! receiver, with a CA made for the test), byte for byte; `[[httppost]]` endpoints; retries; the
//! `httppost` service test.

use std::path::Path;

use klaxon_e2e::{Klaxond, KlaxondBuilder};
use klaxon_http::testing::{Answer, Received, Receiver, TestPki};
use serde_json::{Value, json};

use crate::topic_handlers::{TEST_EVENTS, post_event};

/// Starts klaxond. The harness's blocking HTTP client is reqwest with rustls and no crypto
/// provider of its own, which panics unless the process installed one: klaxon-http's does.
fn start(builder: KlaxondBuilder) -> Klaxond {
    klaxon_http::install_crypto_provider();
    builder.start()
}

/// The event of kapacitor-compat.md 1.5 (`TestServer_AlertJSON` "normal_json"), through the
/// test-events route.
fn normal_event() -> Value {
    json!({"id": "id", "message": "message", "details": "details",
           "time": "1970-01-01T00:00:00Z", "level": "CRITICAL",
           "name": "alert", "fields": {"value": 1}})
}

/// What Kapacitor posts for that event: the alert JSON and the encoder's newline.
const NORMAL_BODY: &str = concat!(
    r#"{"id":"id","message":"message","details":"details","time":"1970-01-01T00:00:00Z","#,
    r#""duration":0,"level":"CRITICAL","data":{"series":[{"name":"alert","columns":["time","value"],"#,
    r#""values":[["1970-01-01T00:00:00Z",1]]}]},"previousLevel":"OK","recoverable":true}"#,
    "\n"
);

/// Kapacitor's documented handler file, options defined inline (docs-v2,
/// event_handlers/post.md), `timeout: 10s` and `skipSSLVerification` included.
const DOCUMENTED_INLINE_HANDLER: &str = r#"id: handler-id
topic: topic-name
kind: post
options:
  # Defining post options "inline"
  url: http://example.com/path
  headers:
    'Example1': 'example1'
    'Example2': 'example2'
  capture-response: true
  timeout: 10s
  skipSSLVerification: true
"#;

/// Kapacitor's documented handler file that posts to `http://example.com/path`.
const DOCUMENTED_CPU_HANDLER: &str = r#"id: post-cpu-alert
topic: cpu
kind: post
options:
  url: 'http://example.com/path'
  headers:
    'From': 'alert@mydomain.com'
"#;

/// Kapacitor's documented handler file that uses the `example` endpoint.
const DOCUMENTED_ENDPOINT_HANDLER: &str = r#"id: handler-id
topic: topic-name
kind: post
options:
  # Using the 'example' endpoint configured in the kapacitor.conf
  endpoint: example
"#;

/// Kapacitor's documented TICKscript, options defined inline.
const DOCUMENTED_TICKSCRIPT: &str = r#"stream
  |from()
    .measurement('cpu')
  |alert()
    .crit(lambda: "usage_idle" < 10)
    .post('https://example.com/path')
      .header('Example1', 'example1')
      .header('Example2', 'example2')
      .captureResponse()
      .timeout(10s)
      .skipSSLVerification()
"#;

/// `cpu,host=serverA usage_idle=5` at 1970-01-01T00:00:10Z: CRITICAL for the scripts here.
const POINT: &str = "cpu,host=serverA usage_idle=5 10";

fn define_file(server: &Klaxond, name: &str, text: &str) {
    std::fs::write(server.dir().join(name), text).expect("write the handler file");
    let output = server.cli(&["define-topic-handler", name]);
    assert!(output.status.success(), "define {name}: {output:?}");
}

fn write_point(server: &Klaxond) {
    let response = server.send("POST", "/write?db=telegraf&rp=autogen&precision=s", POINT);
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

fn define_task(server: &Klaxond, id: &str, script: &str) {
    let (status, body) = server.define_task(id, script, &[("telegraf", "autogen")]);
    assert_eq!(status, 200, "{body}");
}

fn pki(server: &Klaxond) -> TestPki {
    let dir = server.dir().join("pki");
    std::fs::create_dir_all(&dir).expect("mkdir");
    TestPki::generate(&dir)
}

fn https_receiver(pki: &TestPki, script: Vec<Answer>) -> Receiver {
    Receiver::https(&pki.server_cert, &pki.server_key, script)
}

/// Asserts the request Kapacitor's documented inline options make, to `/path`.
fn assert_documented_request(request: &Received) {
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/path")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("example1"), Some("example1"));
    assert_eq!(request.header("example2"), Some("example2"));
}

#[test]
fn kapacitors_documented_handler_files_post_the_exact_body_over_https_and_http() {
    let server = start(Klaxond::builder().config(TEST_EVENTS));
    let pki = pki(&server);
    let https = https_receiver(&pki, vec![]);
    let http = Receiver::http(vec![]);
    // The documented files, only their URLs moved to the local receivers.
    let inline = DOCUMENTED_INLINE_HANDLER.replace("http://example.com/", https.url());
    define_file(&server, "post_inline.yaml", &inline);
    let cpu = DOCUMENTED_CPU_HANDLER.replace("http://example.com/", http.url());
    define_file(&server, "post_cpu.yaml", &cpu);

    post_event(&server, "topic-name", normal_event());
    let request = https.next();
    assert_documented_request(&request);
    assert_eq!(request.text(), NORMAL_BODY);

    post_event(&server, "cpu", normal_event());
    let request = http.next();
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/path")
    );
    assert_eq!(request.header("from"), Some("alert@mydomain.com"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), NORMAL_BODY);

    let shown = server.cli(&["show-topic-handler", "topic-name", "handler-id"]);
    let shown = String::from_utf8(shown.stdout).unwrap();
    assert!(shown.contains("Kind: post"), "{shown}");
}

#[test]
fn kapacitors_documented_tickscript_posts_over_https_and_http() {
    let server = start(Klaxond::builder());
    let pki = pki(&server);
    let https = https_receiver(&pki, vec![]);
    let http = Receiver::http(vec![]);
    let https_script = DOCUMENTED_TICKSCRIPT.replace("https://example.com/", https.url());
    define_task(&server, "post_https", &https_script);
    // The same script to http://, without the TLS property it no longer needs.
    let http_script = DOCUMENTED_TICKSCRIPT
        .replace("https://example.com/", http.url())
        .replace("      .skipSSLVerification()\n", "");
    define_task(&server, "post_http", &http_script);

    write_point(&server);

    for request in [https.next(), http.next()] {
        assert_documented_request(&request);
        let alert: Value = serde_json::from_slice(&request.body).expect("alert JSON");
        assert!(request.text().ends_with("}\n"), "{:?}", request.text());
        assert_eq!(alert["id"], "cpu:nil");
        assert_eq!(alert["message"], "cpu:nil is CRITICAL");
        assert_eq!(alert["level"], "CRITICAL");
        assert_eq!(alert["time"], "1970-01-01T00:00:10Z");
        assert_eq!(
            alert["data"]["series"][0],
            json!({"name": "cpu", "tags": {"host": "serverA"}, "columns": ["time", "usage_idle"],
                   "values": [["1970-01-01T00:00:10Z", 5]]})
        );
    }
}

#[test]
fn https_is_verified_against_the_platform_roots_which_can_hold_the_test_ca() {
    // SSL_CERT_FILE is how an operator adds a CA to the platform's roots.
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let mut trusting = start(
        Klaxond::builder()
            .config(TEST_EVENTS)
            .env("SSL_CERT_FILE", &pki.ca.display().to_string()),
    );
    let https = https_receiver(&pki, vec![]);
    trusting.define_handler(
        "verified",
        &json!({"id": "verified", "kind": "post", "options": {"url": https.url()}}),
    );
    post_event(&trusting, "verified", normal_event());
    assert_eq!(https.next().text(), NORMAL_BODY);

    // Another CA's certificate is refused, naming the host, and not retried.
    let untrusted = Receiver::https(&pki.untrusted_cert, &pki.untrusted_key, vec![]);
    trusting.define_handler(
        "untrusted",
        &json!({"id": "untrusted", "kind": "post", "options": {"url": untrusted.url()}}),
    );
    post_event(&trusting, "untrusted", normal_event());
    let line = trusting.wait_for_log("TLS with 127.0.0.1 failed");
    assert!(line.contains("delivery failed; giving up"), "{line}");
    assert!(line.contains("handler=untrusted"), "{line}");
}

#[test]
fn a_server_error_is_retried_and_the_retry_delivers() {
    let server = start(Klaxond::builder().config(TEST_EVENTS));
    let http = Receiver::http(vec![Answer::status(503).body("busy"), Answer::status(200)]);
    server.define_handler(
        "retried",
        &json!({"id": "retried", "kind": "post",
                "options": {"url": http.url(), "capture-response": true}}),
    );

    post_event(&server, "retried", normal_event());

    let (first, second) = (http.next(), http.next());
    assert_eq!((first.status, second.status), (503, 200));
    assert_eq!(first.text(), NORMAL_BODY);
    assert_eq!(second.text(), NORMAL_BODY);
}

#[test]
fn bad_post_handlers_are_refused_naming_the_field_and_value() {
    let server = start(Klaxond::builder().config(TEST_EVENTS));
    let refusal = |options: Value| -> String {
        let spec = json!({"id": "bad", "kind": "post", "options": options});
        let response = server.send(
            "POST",
            "/kapacitor/v1/alerts/topics/bad/handlers",
            &spec.to_string(),
        );
        assert_ne!(response.status(), 200);
        response.text().unwrap()
    };
    let text = refusal(json!({"url": "example.com/hook"}));
    assert!(
        text.contains(r#"url \"example.com/hook\" has no scheme"#),
        "{text}"
    );
    let text = refusal(json!({"endpoint": "nope"}));
    assert!(
        text.contains(r#"endpoint \"nope\" is not configured; [[httppost]] has: example"#),
        "{text}"
    );
    let text = refusal(json!({"url": "http://x/", "headers": {"Authenticate": "x"}}));
    assert!(
        text.contains(r#"the \"Authenticate\" header cannot be set"#),
        "{text}"
    );

    let (status, body) = server.define_task(
        "bad_post",
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).post()",
        &[],
    );
    assert_ne!(status, 200);
    assert!(
        body.to_string()
            .contains("one of url and endpoint is required"),
        "{body}"
    );
}

/// `[[httppost]]` endpoints: Kapacitor's documented configuration and the handler file and
/// TICKscript that use an endpoint by name.
fn endpoint_config(url: &str, template_file: &Path) -> String {
    format!(
        "[[httppost]]\n  endpoint = \"example\"\n  url = \"{url}\"\n  headers = {{ From = \"alerts@mydomain.com\" }}\n  basic-auth = {{ username = \"my-user\", password = \"my-pass\" }}\n\n\
         [[httppost]]\n  endpoint = \"api-alert\"\n  url = \"{url}api/alerts\"\n  headers = {{ From = \"alerts@mydomain.com\" }}\n  alert-template-file = {:?}\n",
        template_file.display().to_string()
    )
}

#[test]
fn httppost_endpoints_are_used_by_name_from_handler_files_and_tickscript() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let template = dir.path().join("alert.tmpl");
    // The template of Kapacitor's documented configuration.
    std::fs::write(
        &template,
        "{{.Message}}:{{range .Data.Series}}{{.Tags}},{{range .Values}}{{.}}{{end}}{{end}}",
    )
    .expect("write the template");
    let http = Receiver::http(vec![]);
    let server = start(
        Klaxond::builder()
            .config(TEST_EVENTS)
            .config(&endpoint_config(http.url(), &template)),
    );

    define_file(&server, "post_endpoint.yaml", DOCUMENTED_ENDPOINT_HANDLER);
    post_event(&server, "topic-name", normal_event());
    let request = http.next();
    assert_eq!(request.target, "/");
    assert_eq!(request.header("from"), Some("alerts@mydomain.com"));
    // base64("my-user:my-pass")
    assert_eq!(
        request.header("authorization"),
        Some("Basic bXktdXNlcjpteS1wYXNz")
    );
    assert_eq!(request.text(), NORMAL_BODY);

    define_task(
        &server,
        "post_endpoint",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .post()\n      .endpoint('api-alert')\n",
    );
    write_point(&server);
    let request = http.next();
    assert_eq!(request.target, "/api/alerts");
    assert_eq!(request.header("content-type"), None);
    assert_eq!(
        request.text(),
        "cpu:nil is CRITICAL:map[host:serverA],[1970-01-01 00:00:10 +0000 UTC 5]"
    );

    // The configuration is shown under Kapacitor's section name, basic-auth redacted.
    let config: Value = server
        .get("/kapacitor/v1/config/httppost")
        .json()
        .expect("config JSON");
    let elements = config["elements"].as_array().expect("elements");
    assert_eq!(elements.len(), 2, "{config}");
    assert_eq!(elements[0]["options"]["endpoint"], "example");
    assert_eq!(elements[0]["options"]["basic-auth"], true);
    assert_eq!(elements[0]["redacted"], json!(["basic-auth"]));
}

#[test]
fn the_httppost_service_test_posts_kapacitors_test_alert() {
    let server = start(Klaxond::builder());
    let listed: Value = server
        .get("/kapacitor/v1/service-tests/httppost")
        .json()
        .expect("service test JSON");
    assert_eq!(
        listed["options"],
        json!({"endpoint": "example", "url": "http://localhost:3000/", "headers": {"Auth": "secret"}, "timeout": 0})
    );

    let http = Receiver::http(vec![]);
    let response = server.send(
        "POST",
        "/kapacitor/v1/service-tests/httppost",
        // Without `"endpoint": ""` the default `example` endpoint (http://example.com) is used.
        &json!({"endpoint": "", "url": http.url()}).to_string(),
    );
    assert_eq!(response.status(), 200);
    let result: Value = response.json().expect("result JSON");
    assert_eq!(result, json!({"success": true, "message": ""}));
    let request = http.next();
    assert_eq!(request.header("auth"), Some("secret"));
    assert_eq!(
        request.text(),
        concat!(
            r#"{"id":"","message":"","details":"","time":"0001-01-01T00:00:00Z","duration":0,"#,
            r#""level":"OK","data":{"series":null},"previousLevel":"OK","recoverable":false}"#,
            "\n"
        )
    );
}
