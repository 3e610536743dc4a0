//! `|httpPost()` in a real klaxond posting to a local HTTP receiver: the request Kapacitor's node
//! sends (row JSON, an endpoint's URL template, headers, basic auth and row template), the status
//! code in `.codeField()`, a failure logged with the captured response, an unknown endpoint
//! refused, and a server built without the post crate refusing `.endpoint()` while still posting
//! to a URL.

use klaxon_e2e::{Klaxond, tcp_only_bin};
use klaxon_http::testing::{Answer, Receiver};

/// Writes line protocol to `dbname.rpname` with second precision.
fn write(server: &Klaxond, lines: &str) {
    let response = server.send(
        "POST",
        "/kapacitor/v1/write?db=dbname&rp=rpname&precision=s",
        lines,
    );
    assert_eq!(response.status(), 204, "{:?}", response.text());
}

#[test]
fn a_url_post_sends_the_row_as_kapacitor_and_the_code_reaches_the_output() {
    let receiver = Receiver::http(vec![
        Answer::status(201),
        Answer::status(500).body("disk full"),
    ]);
    let mut server = Klaxond::start();
    let script = format!(
        "stream\n  |from()\n    .measurement('cpu')\n    .groupBy('host')\n  |httpPost('{}rows?host={{{{ index .Tags \"host\" }}}}')\n    .header('X-Source', 'klaxon')\n    .codeField('code')\n    .captureResponse()\n    .timeout(5s)\n  |httpOut('out')\n",
        receiver.url()
    );
    let (status, answer) = server.define_task("posting", &script, &[("dbname", "rpname")]);
    assert_eq!(status, 200, "{answer}");

    write(&server, "cpu,host=serverA,type=idle value=97.1 31536000\n");
    let first = receiver.next();
    assert_eq!(first.method, "POST");
    assert_eq!(first.target, "/rows?host=serverA");
    assert_eq!(
        first.text(),
        "{\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"serverA\",\"type\":\"idle\"},\"columns\":[\"time\",\"value\"],\"values\":[[\"1971-01-01T00:00:00Z\",97.1]]}]}\n"
    );
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("x-source"), Some("klaxon"));
    // The write returns once the task has the response: the code is in the output already.
    let out: serde_json::Value = server
        .get("/kapacitor/v1/tasks/posting/out")
        .json()
        .expect("JSON");
    assert_eq!(
        out["series"][0]["values"][0],
        serde_json::json!(["1971-01-01T00:00:00Z", 201, 97.1]),
        "{out}"
    );

    write(&server, "cpu,host=serverB value=1.5 31536001\n");
    let second = receiver.next();
    assert_eq!(second.target, "/rows?host=serverB");
    let line = server.wait_for_log("POST returned non 2xx status code");
    assert!(line.contains("task=posting"), "{line}");
    assert!(line.contains("code=500"), "{line}");
    assert!(line.contains("disk full"), "{line}");
    let out: serde_json::Value = server
        .get("/kapacitor/v1/tasks/posting/out")
        .json()
        .expect("JSON");
    assert_eq!(
        out["series"][1]["values"][0],
        serde_json::json!(["1971-01-01T00:00:01Z", 500, 1.5]),
        "{out}"
    );
}

#[test]
fn an_endpoint_posts_with_its_url_template_credentials_headers_and_row_template() {
    let receiver = Receiver::http(vec![]);
    let config = format!(
        r#"
[[httppost]]
endpoint = "rows"
url = "{}{{{{ .Name }}}}"
headers = {{ From = "klaxon", Content-Type = "text/plain" }}
basic-auth = {{ username = "ops", password = "s3cret" }}
row-template = '{{{{ .Name }}}}{{{{ range .Values }}}} {{{{ index . "time" }}}}={{{{ index . "value" }}}}{{{{ end }}}}'
"#,
        receiver.url()
    );
    let server = Klaxond::builder().config(&config).start();
    let script = "stream\n  |from()\n    .measurement('mem')\n  |window()\n    .period(2s)\n    .every(2s)\n  |httpPost()\n    .endpoint('rows')\n    .header('from', 'task')\n";
    let (status, answer) = server.define_task("windows", script, &[("dbname", "rpname")]);
    assert_eq!(status, 200, "{answer}");
    write(
        &server,
        "mem value=1 31536000\nmem value=2 31536001\nmem value=3 31536002\n",
    );
    let request = receiver.next();
    assert_eq!(request.target, "/mem");
    assert_eq!(
        request.text(),
        "mem 1971-01-01 00:00:00 +0000 UTC=1 1971-01-01 00:00:01 +0000 UTC=2"
    );
    // "ops:s3cret" in base64; the node's header replaced the endpoint's of the same name.
    assert_eq!(
        request.header("authorization"),
        Some("Basic b3BzOnMzY3JldA==")
    );
    assert_eq!(request.header("from"), Some("task"));
    assert_eq!(request.header("content-type"), Some("text/plain"));
    assert!(receiver.next_within(std::time::Duration::ZERO).is_none());
}

#[test]
fn an_unknown_endpoint_is_refused_naming_the_configured_ones() {
    let server = Klaxond::builder()
        .config("[[httppost]]\nendpoint = \"rows\"\nurl = \"http://127.0.0.1:9/\"\n")
        .start();
    let (status, answer) = server.define_task(
        "unknown",
        "stream\n  |from()\n  |httpPost()\n    .endpoint('nope')\n",
        &[],
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"],
        "invalid TICKscript: line 4, column 5: endpoint 'nope' does not exist; [[httppost]] has: rows"
    );
}

#[test]
fn a_server_without_the_post_crate_refuses_endpoint_but_posts_to_a_url() {
    let mut server = Klaxond::builder().binary(tcp_only_bin()).start();
    let (status, answer) = server.define_task(
        "endpoint",
        "stream\n  |from()\n  |httpPost()\n    .endpoint('rows')\n",
        &[],
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"],
        "invalid TICKscript: line 4, column 5: |httpPost().endpoint('rows') needs the [[httppost]] endpoints of a handler crate this server does not link (klaxon-handler-post); build the server with it, or give the URL: |httpPost('https://...')"
    );

    let receiver = Receiver::http(vec![]);
    let script = format!("stream\n  |from()\n  |httpPost('{}')\n", receiver.url());
    let (status, answer) = server.define_task("url", &script, &[("dbname", "rpname")]);
    assert_eq!(status, 200, "{answer}");
    write(&server, "cpu value=1 31536000\n");
    assert_eq!(
        receiver.next().text(),
        "{\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],\"values\":[[\"1971-01-01T00:00:00Z\",1]]}]}\n"
    );

    // Nothing listens on port 1: the failure is logged and the task goes on.
    let script = "stream\n  |from()\n  |httpPost('http://127.0.0.1:1/')\n";
    let (status, answer) = server.define_task("refused", script, &[("dbname", "rpname")]);
    assert_eq!(status, 200, "{answer}");
    write(&server, "cpu value=2 31536001\n");
    let line = server.wait_for_log("failed to POST data");
    assert!(line.contains("task=refused"), "{line}");
    assert!(line.contains("http://127.0.0.1:1/"), "{line}");
    assert_eq!(
        receiver.next().text(),
        "{\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"value\"],\"values\":[[\"1971-01-01T00:00:01Z\",2]]}]}\n"
    );
}
