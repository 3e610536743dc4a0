//! `|httpPost()` without a network: the requests the node builds (URL and row templates, the row
//! JSON Kapacitor's encoder writes, headers in Kapacitor's order), the status code in
//! `.codeField()`, windows posted as one row, and what is refused when the task is defined.

use std::collections::VecDeque;

use klaxon_core::{FieldValue, Level, PostEndpoint, Registry, Timestamp};
use klaxon_pipeline::{AlertEmission, Context, Point, PostRequest, ServerInfo, Task};

const BASE: i64 = 31_536_000_000_000_000; // 1971-01-01T00:00:00Z

/// Records the requests and answers each with the next status.
#[derive(Default)]
struct Receiver {
    requests: Vec<(String, PostRequest)>,
    statuses: VecDeque<u16>,
    errors: Vec<String>,
}

impl Context for Receiver {
    fn emit(&mut self, _: AlertEmission) {
        panic!("these tasks have no |alert()")
    }
    fn restore(&mut self, _: &str, _: Option<&str>, _: &str) -> Option<(Level, Timestamp)> {
        None
    }
    fn point_error(&mut self, node: &str, message: String) {
        self.errors.push(format!("{node}: {message}"));
    }
    fn post(&mut self, node: &str, request: PostRequest) -> u16 {
        self.requests.push((node.to_owned(), request));
        self.statuses.pop_front().unwrap_or(200)
    }
}

fn compile(script: &str) -> Result<Task, String> {
    let registry = Registry::linked().unwrap();
    Task::compile("t", script, &registry, &ServerInfo::default()).map_err(|e| e.to_string())
}

fn cpu(seconds: i64, cpu: &str, value: f64) -> Point {
    Point::new("dbname", "rpname", "cpu", BASE + seconds * 1_000_000_000)
        .tag("host", "serverA")
        .tag("type", "idle")
        .tag("cpu", cpu)
        .field("value", FieldValue::Float(value))
}

fn endpoint(name: &str, url: &str) -> PostEndpoint {
    PostEndpoint {
        name: name.to_owned(),
        url: url.to_owned(),
        ..PostEndpoint::default()
    }
}

#[test]
fn a_point_is_posted_as_kapacitor_encodes_its_row() {
    let mut task = compile(
        "stream|from().measurement('cpu').groupBy('host')|httpPost('http://127.0.0.1:9/rows').header('my', 'header').timeout(3s).captureResponse()",
    )
    .unwrap();
    let mut receiver = Receiver::default();
    task.process(&cpu(0, "a", 97.1), &mut receiver);
    let [(node, request)] = &receiver.requests[..] else {
        panic!("{:?}", receiver.requests);
    };
    assert_eq!(node, "http_post2");
    assert_eq!(request.url, "http://127.0.0.1:9/rows");
    assert_eq!(
        request.body,
        "{\"series\":[{\"name\":\"cpu\",\"tags\":{\"cpu\":\"a\",\"host\":\"serverA\",\"type\":\"idle\"},\"columns\":[\"time\",\"value\"],\"values\":[[\"1971-01-01T00:00:00Z\",97.1]]}]}\n"
    );
    assert_eq!(
        request.headers,
        [
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("my".to_owned(), "header".to_owned())
        ]
    );
    assert_eq!(request.timeout, Some(std::time::Duration::from_secs(3)));
    assert!(request.capture_response);
    assert_eq!(request.basic_auth, None);
}

#[test]
fn url_and_row_templates_render_kapacitors_mapped_row() {
    let mut task = compile(
        r#"stream|from().measurement('cpu')|httpPost().endpoint('test').header('content-type', 'text/plain')"#,
    )
    .unwrap();
    assert!(task.needs_post_endpoints());
    let mut test = endpoint(
        "test",
        r#"http://127.0.0.1:9/{{ .Name }}/?host={{ index .Tags "host"}}&cpu={{ index .Tags "cpu" }}"#,
    );
    test.row_template = Some(
        r#"{{.Name}} host={{index .Tags "host"}} type={{index .Tags "type"}}{{range .Values}} {{index . "time"}} {{index . "value"}}{{end}}"#
            .to_owned(),
    );
    test.basic_auth = Some(("user".to_owned(), "pass".to_owned()));
    test.headers = [("Content-Type".to_owned(), "text/csv".to_owned())].into();
    task.resolve_post_endpoints(Some(&[endpoint("other", "http://x/"), test]))
        .unwrap();
    let mut receiver = Receiver::default();
    task.process(&cpu(1, "b", 92.6), &mut receiver);
    let request = &receiver.requests[0].1;
    assert_eq!(request.url, "http://127.0.0.1:9/cpu/?host=serverA&cpu=b");
    assert_eq!(
        request.body,
        "cpu host=serverA type=idle 1971-01-01 00:00:01 +0000 UTC 92.6"
    );
    // A row template sends no Content-Type of its own; the node's header replaces the
    // endpoint's of the same name.
    assert_eq!(
        request.headers,
        [("content-type".to_owned(), "text/plain".to_owned())]
    );
    assert_eq!(
        request.basic_auth,
        Some(("user".to_owned(), "pass".to_owned()))
    );
}

#[test]
fn the_status_code_goes_into_the_code_field_of_points_and_windows() {
    let mut task = compile(
        "stream|from().measurement('cpu')|httpPost('http://127.0.0.1:9/').codeField('code')|window().period(2s).every(2s)|httpPost('http://127.0.0.1:9/w').codeField('code2')|httpOut('out')",
    )
    .unwrap();
    let mut receiver = Receiver {
        statuses: [201, 404, 0, 503].into(),
        ..Receiver::default()
    };
    for (s, v) in [(0, 1.0), (1, 2.0), (2, 3.0)] {
        task.process(&cpu(s, "a", v), &mut receiver);
    }
    // Three points, then the first window (the points of 0s and 1s) as one row.
    assert_eq!(receiver.requests.len(), 4, "{:?}", receiver.requests);
    let window = &receiver.requests[3].1;
    assert_eq!(window.url, "http://127.0.0.1:9/w");
    assert!(
        window.body.contains(r#""columns":["time","code","cpu","host","type","value"],"values":[["1971-01-01T00:00:00Z",201,"a","serverA","idle",1],["1971-01-01T00:00:01Z",404,"a","serverA","idle",2]]"#),
        "{}",
        window.body
    );
    let out = task.http_output("out").unwrap();
    let json = klaxon_core::json::to_go_string(&out);
    assert!(
        json.contains(r#""columns":["time","code","code2","cpu","host","type","value"],"values":[["1971-01-01T00:00:00Z",201,503,"a""#),
        "{json}"
    );
}

#[test]
fn a_url_template_that_fails_drops_nothing_and_counts_as_no_response() {
    let mut task = compile(
        r#"stream|from()|httpPost('http://127.0.0.1:9/{{ index .Values 5 }}').codeField('code')|httpOut('out')"#,
    )
    .unwrap();
    let mut receiver = Receiver::default();
    task.process(&cpu(0, "a", 1.0), &mut receiver);
    assert!(receiver.requests.is_empty());
    assert_eq!(receiver.errors.len(), 1, "{:?}", receiver.errors);
    assert!(
        receiver.errors[0]
            .starts_with("http_post2: failed to POST data: failed to execute url template: "),
        "{:?}",
        receiver.errors
    );
    let json = klaxon_core::json::to_go_string(&task.http_output("out").unwrap());
    assert!(
        json.contains(
            r#""columns":["time","code","value"],"values":[["1971-01-01T00:00:00Z",0,1]]"#
        ),
        "{json}"
    );
}

#[test]
fn bad_definitions_are_refused_naming_the_fix() {
    let refused = |script: &str| compile(script).unwrap_err();
    assert_eq!(
        refused("stream|from()|httpPost()"),
        "line 1, column 14: |httpPost() must provide url or endpoint: |httpPost('https://...') or |httpPost().endpoint('name')"
    );
    assert_eq!(
        refused("stream|from()|httpPost('http://a/', 'http://b/')"),
        "line 1, column 14: |httpPost() takes 0 or 1 URL, got 2; post to one URL per node"
    );
    assert_eq!(
        refused("stream|from()|httpPost('http://a/').endpoint('x')"),
        "line 1, column 36: |httpPost() takes a URL or an .endpoint(), not both; remove one"
    );
    assert_eq!(
        refused("stream|from()|httpPost().endpoint('x').endpoint('y')"),
        "line 1, column 39: |httpPost() takes 0 or 1 endpoints; keep one .endpoint()"
    );
    assert_eq!(
        refused("stream|from()|httpPost('http://a/').header('Authenticate', 'x')"),
        "line 1, column 44: cannot set 'authenticate' header"
    );
    assert_eq!(
        refused("stream|from()|httpPost('example.com/rows')"),
        "line 1, column 24: url \"example.com/rows\" must start with http:// or https://, like \"https://example.com/rows\""
    );
    assert_eq!(
        refused("stream|from()|httpPost('http:///rows')"),
        "line 1, column 24: url \"http:///rows\" has no host"
    );
    assert!(
        refused("stream|from()|httpPost('http://a/{{ .Name ')").contains("is not a valid template"),
    );
    assert!(
        refused("stream|from()|httpPost('http://a/').timeout(-1s)")
            .ends_with(".timeout() must not be negative; give 0s for none")
    );
    assert!(
        refused("stream|from()|httpPost('http://a/').nope()").ends_with(
            "|httpPost() has no property .nope(); it has: .captureResponse(), .codeField(), .endpoint(), .header(), .timeout()"
        )
    );
}

#[test]
fn an_endpoint_is_found_among_those_offered_or_refused() {
    let script = "stream|from()|httpPost().endpoint('test')";
    let mut task = compile(script).unwrap();
    let err = task.resolve_post_endpoints(None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1, column 25: |httpPost().endpoint('test') needs the [[httppost]] endpoints of a handler crate this server does not link (klaxon-handler-post); build the server with it, or give the URL: |httpPost('https://...')"
    );
    let err = task
        .resolve_post_endpoints(Some(&[
            endpoint("b", "http://b/"),
            endpoint("a", "http://a/"),
        ]))
        .unwrap_err();
    assert_eq!(
        err.message,
        "endpoint 'test' does not exist; [[httppost]] has: a, b"
    );
    task.resolve_post_endpoints(Some(&[endpoint("test", "http://t/")]))
        .unwrap();
    // A task without .endpoint() needs nothing resolved.
    assert!(
        !compile("stream|from()|httpPost('http://a/')")
            .unwrap()
            .needs_post_endpoints()
    );
}
