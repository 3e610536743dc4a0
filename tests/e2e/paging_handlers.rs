//! The paging handlers (pagerduty2, opsgenie2, victorops, pagerduty, opsgenie) in a real klaxond:
//! Kapacitor's documented configuration sections pasted into klaxon.toml, its documented
//! TICKscripts and handler files typed as written, each delivering to a local stand-in for the
//! service; Kapacitor's own server test (`TestServer_AlertHandlers`) byte for byte; and
//! `klaxon service-tests <kind>` reaching the stand-in.

use klaxon_e2e::Klaxond;
use klaxon_http::testing::{Answer, Received, Receiver};
use serde_json::{Value, json};

/// Starts klaxond with `config` appended to the harness's configuration.
fn start(config: &str) -> Klaxond {
    Klaxond::builder().config(config).start()
}

/// Defines and enables the task `id` from a TICKscript file, as a user does.
fn define(server: &Klaxond, id: &str, tick: &str) {
    server.define_task_from_file(id, &format!("{id}.tick"), tick);
}

/// Writes line protocol to `db`.`rp` with second timestamps.
fn write(server: &Klaxond, db_rp: &str, line: &str) {
    let response = server.send(
        "POST",
        &format!("/kapacitor/v1/write?{db_rp}&precision=s"),
        line,
    );
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

/// The server's API URL that klaxond sends as PagerDuty's `client_url` (Kapacitor's tests expect
/// `kapacitorURL`): this host's name and the port the server listens on.
fn api_url(server: &Klaxond) -> String {
    match klaxon_e2e::hostname().as_str() {
        "" => format!("{}/kapacitor/v1", server.url()),
        host => format!("http://{host}:{}/kapacitor/v1", server.addr().port()),
    }
}

fn json_body(request: &Received) -> Value {
    serde_json::from_slice(&request.body).unwrap_or_else(|e| panic!("{e}: {:?}", request.text()))
}

/// Kapacitor's `TestServer_AlertHandlers` task: every point of measurement `alert` is a
/// CRITICAL alert with ID `id`, published to topic `test`.
const SERVER_TEST_TICK: &str = "dbrp \"mydb\".\"myrp\"\n\nstream\n\t|from()\n\t\t.measurement('alert')\n\t|alert()\n\t\t.topic('test')\n\t\t.id('id')\n\t\t.message('message')\n\t\t.details('details')\n\t\t.crit(lambda: TRUE)\n";

/// Runs Kapacitor's `TestServer_AlertHandlers` with `handler` on topic `test` and returns the
/// one request the stand-in received.
fn kapacitors_server_test(server: &Klaxond, receiver: &Receiver, handler: Value) -> Received {
    server.define_handler("test", &handler);
    define(server, "testAlertHandlers", SERVER_TEST_TICK);
    write(server, "db=mydb&rp=myrp", "alert value=1 0000000000");
    receiver.next()
}

/// Kapacitor's documented CPU alert publishing to topic `cpu`, for the handler files.
const CPU_TOPIC_TICK: &str = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .topic('cpu')\n";

/// The requests of a documentation walk: see [`documented_walk`].
struct Walk {
    /// The documented TICKscript's alert, for `cpu,host=serverA usage_idle=5` at 10 s.
    alert: Received,
    /// Its recovery, for `usage_idle=50` at 11 s.
    recovery: Received,
    /// The documented `topic: cpu` handler file's alert, for `usage_idle=3` at 20 s.
    from_file: Received,
    /// The service test's.
    service_test: Received,
}

/// Walks through a kind's documentation with a klaxond configured with its section: the
/// documented TICKscript `tick` as task `cpu_alert`, a CRITICAL point and its recovery; then,
/// that task gone, the documented handler `files` (the one with `topic: cpu` last) and a task
/// publishing to topic `cpu`, one CRITICAL point; then `klaxon service-tests <kind>`.
fn documented_walk(
    server: &Klaxond,
    receiver: &Receiver,
    kind: &str,
    tick: &str,
    files: [&str; 2],
) -> Walk {
    define(server, "cpu_alert", tick);
    write(
        server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=5 10",
    );
    let alert = receiver.next();
    write(
        server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=50 11",
    );
    let recovery = receiver.next();
    server.cli_ok(&["delete", "tasks", "cpu_alert"]);
    for (i, file) in files.iter().enumerate() {
        server.define_handler_from_file(&format!("{kind}_handler_{i}.yaml"), file);
    }
    define(server, "cpu_topic", CPU_TOPIC_TICK);
    write(
        server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=3 20",
    );
    let from_file = receiver.next();
    server.assert_service_test_passes(kind);
    Walk {
        alert,
        recovery,
        from_file,
        service_test: receiver.next(),
    }
}

// pagerduty2 -------------------------------------------------------------------------------------

#[test]
fn pagerduty2_sends_kapacitors_server_test_event_byte_for_byte() {
    let receiver = Receiver::http(vec![Answer::status(202)]);
    let server = start(&format!(
        "[pagerduty2]\nenabled = true\nurl = \"{}\"\n",
        receiver.url()
    ));

    let request = kapacitors_server_test(
        &server,
        &receiver,
        json!({"id": "testAlertHandlers", "kind": "pagerduty2", "options": {
            "routing-key": "rkey",
            "links": [
                {"href": "http://example.com", "text": "t1"},
                {"href": "http://example.com/{{.TaskName}}", "text": "t2"},
            ],
        }}),
    );

    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.pagerduty+json;version=2")
    );
    let text = request.text();
    let (body, client_url) = text.split_once(r#","client_url":"#).unwrap();
    assert_eq!(
        body,
        concat!(
            r#"{"routing_key":"rkey","event_action":"trigger","dedup_key":"id","payload":{"summary":"message","#,
            r#""source":"unknown","severity":"critical","timestamp":"1970-01-01T00:00:00.000000000Z","#,
            r#""class":"testAlertHandlers","component":"","group":"","custom_details":{"result":{"series":[{"#,
            r#""name":"alert","columns":["time","value"],"values":[["1970-01-01T00:00:00Z",1]]}]}}},"#,
            r#""images":null,"links":[{"href":"http://example.com","text":"t1"},"#,
            r#"{"href":"http://example.com/testAlertHandlers","text":"t2"}],"client":"kapacitor""#
        )
    );
    assert_eq!(client_url, format!("\"{}\"}}\n", api_url(&server)));
}

/// Kapacitor's PagerDuty v2 documentation: its `[pagerduty2]` section (the URL pointed at a
/// stand-in, a routing key filled in), its TICKscript and handler files, and the service test.
#[test]
fn pagerduty2_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[pagerduty2]\n  enabled = true\n  routing-key = \"myroutingkey\"\n  url = \"{}\"\n  global = false\n",
        receiver.url()
    ));

    let walk = documented_walk(
        &server,
        &receiver,
        "pagerduty2",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .pagerDuty2()\n",
        [
            "id: handler-id\ntopic: topic-name\nkind: pagerduty2\noptions:\n  routing-key: 'myroutingkey'\n  links:\n    - href: 'https://chronograf.example.com/sources/1/dashboards/2'\n      text: 'Overview Dashboard'\n    - href: 'https://chronograf.example.com/'\n",
            "topic: cpu\nid: pagerduty2-cpu-alert\nkind: pagerduty2\noptions:\n  routing-key: 'myroutingkey'\n",
        ],
    );

    let trigger = json_body(&walk.alert);
    assert_eq!(trigger["routing_key"], "myroutingkey");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], "cpu:nil");
    assert_eq!(
        trigger["payload"],
        json!({"summary": "Hey, check your CPU", "source": "serverA", "severity": "critical",
               "timestamp": "1970-01-01T00:00:10.000000000Z", "class": "cpu_alert",
               "component": "", "group": "",
               "custom_details": {"result": {"series": [{"name": "cpu", "tags": {"host": "serverA"},
                   "columns": ["time", "usage_idle"], "values": [["1970-01-01T00:00:10Z", 5]]}]}}})
    );
    let resolve = json_body(&walk.recovery);
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(
        resolve["dedup_key"], "cpu:nil",
        "the recovery resolves what it triggered"
    );
    assert_eq!(resolve["payload"]["severity"], "info");
    let from_file = json_body(&walk.from_file);
    assert_eq!(from_file["routing_key"], "myroutingkey");
    assert_eq!(from_file["payload"]["class"], "cpu_topic");
    let test = json_body(&walk.service_test);
    assert_eq!(test["dedup_key"], "testAlertID");
    assert_eq!(test["payload"]["summary"], "test pagerduty2 message");
}

/// Kapacitor's documented `.link()`s in TICKscript (and `TestStream_AlertPagerDuty2`'s templated
/// one): each adds a link, its text the rendered href when not given.
#[test]
fn pagerduty2_links_from_tickscript() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[pagerduty2]\n  enabled = true\n  url = \"{}\"\n",
        receiver.url()
    ));

    define(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .pagerDuty2()\n      .routingKey('myroutingkey')\n      .link('https://chronograf.example.com/sources/1/dashboards/2', 'Overview Dashboard')\n      .link('https://chronograf.example.com/')\n      .link('http://example.com/{{.TaskName}}', 'task')\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=5 10",
    );

    let trigger = json_body(&receiver.next());
    assert_eq!(trigger["routing_key"], "myroutingkey");
    assert_eq!(
        trigger["links"],
        json!([
            {"href": "https://chronograf.example.com/sources/1/dashboards/2", "text": "Overview Dashboard"},
            {"href": "https://chronograf.example.com/", "text": "https://chronograf.example.com/"},
            {"href": "http://example.com/cpu_alert", "text": "task"},
        ])
    );
}

#[test]
fn pagerduty2_refusals_reach_the_log_and_the_service_test() {
    let refusal = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#;
    let receiver = Receiver::http(vec![Answer::status(400).body(refusal)]);
    let server = start(&format!(
        "[pagerduty2]\nenabled = true\nrouting-key = \"short\"\nurl = \"{}\"\n",
        receiver.url()
    ));

    let output = server.cli_exits(&["service-tests", "pagerduty2"], 3);

    assert!(
        output.contains("400 Bad Request: invalid event: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"),
        "{output}"
    );
    assert!(output.contains("false"), "{output}");
    receiver.next();
}

/// Kapacitor's `global = true`: a task that names no pagerDuty2 handler gets one.
#[test]
fn pagerduty2_global_reaches_a_task_that_names_no_handler() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[pagerduty2]\nenabled = true\nrouting-key = \"global_key\"\nurl = \"{}\"\nglobal = true\n",
        receiver.url()
    ));

    define(
        &server,
        "no_handler",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n",
    );
    write(&server, "db=telegraf&rp=autogen", "cpu usage_idle=1 5");

    let sent = json_body(&receiver.next());
    assert_eq!(sent["routing_key"], "global_key");
    assert_eq!(sent["payload"]["class"], "no_handler");
}

// opsgenie2 --------------------------------------------------------------------------------------

#[test]
fn opsgenie2_sends_kapacitors_server_test_event_byte_for_byte() {
    let receiver = Receiver::http(vec![Answer::status(202)]);
    let server = start(&format!(
        "[opsgenie2]\nenabled = true\ndetails = false\nurl = \"{}\"\nrecovery_action = \"notes\"\napi-key = \"api_key\"\n",
        receiver.url()
    ));

    let request = kapacitors_server_test(
        &server,
        &receiver,
        json!({"id": "testAlertHandlers", "kind": "opsgenie2", "options": {
            "teams-list": ["A team", "B team"],
            "recipients-list": ["test_recipient1", "test_recipient2"],
        }}),
    );

    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("GenieKey api_key"));
    assert_eq!(
        request.text(),
        concat!(
            r#"{"alias":"aWQ=","description":"{\"series\":[{\"name\":\"alert\",\"columns\":[\"time\",\"value\"],"#,
            r#"\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]}","details":{"Kapacitor Task Name":"alert","#,
            r#""Level":"CRITICAL","Monitoring Tool":"Kapacitor"},"entity":"id","message":"message","note":"","#,
            r#""priority":"P1","responders":[{"name":"A team","type":"team"},{"name":"B team","type":"team"},"#,
            r#"{"type":"user","username":"test_recipient1"},{"type":"user","username":"test_recipient2"}]}"#,
            "\n"
        )
    );
}

/// Kapacitor's `TestStream_AlertOpsGenie2_Recovery` through the real pipeline: the CRITICAL
/// creates the alert, the OK adds a note to it by its alias, the next OK sends nothing.
#[test]
fn opsgenie2_recovers_kapacitors_alert_by_its_alias() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[opsgenie2]\nenabled = true\nurl = \"{}\"\nrecovery_action = \"notes\"\napi-key = \"api_key\"\n",
        receiver.url()
    ));
    define(
        &server,
        "TestStream_Alert",
        "stream\n\t|from()\n\t\t.measurement('cpu')\n\t\t.where(lambda: \"host\" == 'serverA')\n\t\t.groupBy('host')\n\t|alert()\n\t\t.id('kapacitor/{{ .Name }}/{{ index .Tags \"host\" }}')\n\t\t.crit(lambda: \"v\" > 1.0)\n\t\t.opsGenie2()\n\t\t\t.teams('test_team')\n",
    );

    for (value, second) in [(2, 31_536_000), (0, 31_536_001), (0, 31_536_002)] {
        write(
            &server,
            "db=dbname&rp=rpname",
            &format!("cpu,type=idle,host=serverA v={value} {second}"),
        );
    }

    let create = receiver.next();
    assert_eq!(create.target, "/");
    assert_eq!(
        create.text(),
        concat!(
            r#"{"alias":"a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB","description":"{\"series\":[{\"name\":\"cpu\",\"tags\":"#,
            r#"{\"host\":\"serverA\",\"type\":\"idle\"},\"columns\":[\"time\",\"v\"],\"values\":[[\"1971-01-01T00:00:00Z\",2]]}]}","#,
            r#""details":{"Kapacitor Task Name":"cpu","Level":"CRITICAL","Monitoring Tool":"Kapacitor","host":"serverA","type":"idle"},"#,
            r#""entity":"kapacitor/cpu/serverA","message":"kapacitor/cpu/serverA is CRITICAL","note":"","priority":"P1","#,
            r#""responders":[{"name":"test_team","type":"team"}]}"#,
            "\n"
        )
    );
    let note = receiver.next();
    assert_eq!(
        note.target,
        "/a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB/notes?identifierType=alias"
    );
    assert_eq!(note.header("authorization"), Some("GenieKey api_key"));
    assert_eq!(note.text(), "{\"note\":\"kapacitor/cpu/serverA is OK\"}\n");
    assert_eq!(
        receiver.next_within(std::time::Duration::from_millis(500)),
        None,
        "the second OK is no event"
    );
}

/// Kapacitor's OpsGenie v2 documentation: its `[opsgenie2]` section (the URL pointed at a
/// stand-in), its TICKscript (with `"usage_idle"`, which the page quotes as a string by mistake)
/// and handler files, and the service test.
#[test]
fn opsgenie2_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[opsgenie2]\n  enabled = true\n  api-key = \"mysupersecretapikey\"\n  teams = [\"team1\", \"team2\"]\n  recipients = [\"recipient1\", \"recipient2\"]\n  url = \"{}\"\n  recovery_action = \"notes\"\n  details = false\n  global = false\n",
        receiver.url()
    ));

    let walk = documented_walk(
        &server,
        &receiver,
        "opsgenie2",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .opsGenie2()\n      .teams('engineering', 'support')\n      .recoveryAction('notes')\n\n",
        [
            "id: handler-id\ntopic: topic-name\nkind: opsgenie2\noptions:\n  teams-list:\n    - 'team1'\n    - 'team2'\n  recipients-list:\n    - 'recipient1'\n    - 'recipient2'\n",
            "id: opsgenie-cpu-alert\ntopic: cpu\nkind: opsgenie2\noptions:\n  teams-list:\n    - 'engineering'\n    - 'support'\n",
        ],
    );

    assert_eq!(
        walk.alert.header("authorization"),
        Some("GenieKey mysupersecretapikey")
    );
    let create = json_body(&walk.alert);
    assert_eq!(create["alias"], "Y3B1Om5pbA==", "cpu:nil");
    assert_eq!(create["message"], "Hey, check your CPU");
    assert_eq!(
        create["responders"],
        json!([{"name": "engineering", "type": "team"}, {"name": "support", "type": "team"},
               {"type": "user", "username": "recipient1"}, {"type": "user", "username": "recipient2"}])
    );
    assert_eq!(
        walk.recovery.target,
        "/Y3B1Om5pbA==/notes?identifierType=alias"
    );
    assert_eq!(
        json_body(&walk.from_file)["responders"][0],
        json!({"name": "engineering", "type": "team"})
    );
    let test = json_body(&walk.service_test);
    assert_eq!(test["entity"], "testEntityID");
    assert_eq!(test["message"], "test opsgenie message");
}

// victorops --------------------------------------------------------------------------------------

#[test]
fn victorops_sends_kapacitors_server_test_event_byte_for_byte() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[victorops]\nenabled = true\nurl = \"{}\"\napi-key = \"api_key\"\n",
        receiver.url()
    ));

    let request = kapacitors_server_test(
        &server,
        &receiver,
        json!({"id": "testAlertHandlers", "kind": "victorops", "options": {"routing-key": "key"}}),
    );

    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/api_key/key")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.text(),
        concat!(
            r#"{"data":"{\"series\":[{\"name\":\"alert\",\"columns\":[\"time\",\"value\"],\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]}","#,
            r#""entity_id":"id","message_type":"CRITICAL","monitoring_tool":"kapacitor","state_message":"message","timestamp":0}"#,
            "\n"
        )
    );
}

/// Kapacitor's VictorOps documentation: its `[victorops]` section (the URL pointed at a
/// stand-in), its TICKscript and handler files, and the service test.
#[test]
fn victorops_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[victorops]\n  enabled = true\n  api-key = \"xxxx\"\n  routing-key = \"xxxx\"\n  url = \"{}\"\n  json-data = false\n  global = false\n",
        receiver.url()
    ));

    let walk = documented_walk(
        &server,
        &receiver,
        "victorops",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .victorOps()\n      .routingKey('team_rocket')\n",
        [
            "id: handler-id\ntopic: topic-name\nkind: victorops\noptions:\n  routing-key: ops_team\n",
            "topic: cpu\nid: victorops-cpu-alert\nkind: victorops\noptions:\n  routing-key: 'team_rocket'\n",
        ],
    );

    assert_eq!(walk.alert.target, "/xxxx/team_rocket");
    assert_eq!(
        json_body(&walk.alert),
        json!({"data": r#"{"series":[{"name":"cpu","tags":{"host":"serverA"},"columns":["time","usage_idle"],"values":[["1970-01-01T00:00:10Z",5]]}]}"#,
               "entity_id": "cpu:nil", "message_type": "CRITICAL", "monitoring_tool": "kapacitor",
               "state_message": "Hey, check your CPU", "timestamp": 10})
    );
    let recovery = json_body(&walk.recovery);
    assert_eq!(recovery["message_type"], "RECOVERY");
    assert_eq!(recovery["entity_id"], "cpu:nil");
    assert_eq!(walk.from_file.target, "/xxxx/team_rocket");
    assert_eq!(walk.service_test.target, "/xxxx/xxxx");
    assert_eq!(json_body(&walk.service_test)["entity_id"], "testEntityID");
}

#[test]
fn victorops_failures_never_show_the_api_key() {
    let receiver = Receiver::http(vec![Answer::status(404)]);
    let server = start(&format!(
        "[victorops]\nenabled = true\nurl = \"{}\"\napi-key = \"s3cr3t\"\nrouting-key = \"ops\"\n",
        receiver.url()
    ));

    let output = server.cli_exits(&["service-tests", "victorops"], 3);

    assert!(
        output.contains("404 Not Found: URL or API key not found"),
        "{output}"
    );
    assert!(output.contains("<api-key>/ops"), "{output}");
    assert!(!output.contains("s3cr3t"), "{output}");
    let config = server.get("/kapacitor/v1/config/victorops").text().unwrap();
    assert!(!config.contains("s3cr3t"), "{config}");
    receiver.next();
}

// pagerduty --------------------------------------------------------------------------------------

#[test]
fn pagerduty_sends_kapacitors_server_test_event_byte_for_byte() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[pagerduty]\nenabled = true\nurl = \"{}\"\n",
        receiver.url()
    ));

    let request = kapacitors_server_test(
        &server,
        &receiver,
        json!({"id": "testAlertHandlers", "kind": "pagerduty", "options": {"service-key": "service_key"}}),
    );

    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let text = request.text();
    let (head, tail) = text.split_once(r#""client_url":"#).unwrap();
    assert_eq!(head, r#"{"client":"kapacitor","#);
    let (client_url, rest) = tail.split_once(r#"","#).unwrap();
    assert_eq!(client_url, format!("\"{}", api_url(&server)));
    assert_eq!(
        rest,
        "\"description\":\"message\",\"details\":\"details\",\"event_type\":\"trigger\",\"incident_key\":\"id\",\"service_key\":\"service_key\"}\n"
    );
}

/// Kapacitor's PagerDuty v1 documentation: its `[pagerduty]` section (the URL pointed at a
/// stand-in, a service key filled in), its TICKscripts and handler files, and the service test.
#[test]
fn pagerduty_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[pagerduty]\n  enabled = true\n  service-key = \"configured\"\n  url = \"{}\"\n  global = false\n",
        receiver.url()
    ));

    let walk = documented_walk(
        &server,
        &receiver,
        "pagerduty",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .pagerDuty()\n",
        [
            "id: handler-id\ntopic: topic-name\nkind: pagerduty\noptions:\n  service-key: 'myservicekey'\n",
            "topic: cpu\nid: pagerduty-cpu-alert\nkind: pagerduty\noptions:\n  service-key: 'myservicekey'\n",
        ],
    );

    let trigger = json_body(&walk.alert);
    assert_eq!(trigger["service_key"], "configured");
    assert_eq!(trigger["event_type"], "trigger");
    assert_eq!(trigger["incident_key"], "cpu:nil");
    assert_eq!(trigger["description"], "Hey, check your CPU");
    let details = trigger["details"].as_str().unwrap();
    assert!(
        details.starts_with("{&#34;Name&#34;:&#34;cpu&#34;,&#34;TaskName&#34;:&#34;cpu_alert&#34;"),
        "Kapacitor's default details, HTML-escaped: {details}"
    );
    let resolve = json_body(&walk.recovery);
    assert_eq!(resolve["event_type"], "resolve");
    assert_eq!(resolve["incident_key"], "cpu:nil");
    assert_eq!(json_body(&walk.from_file)["service_key"], "myservicekey");
    let test = json_body(&walk.service_test);
    assert_eq!(test["incident_key"], "testIncidentKey");
    assert_eq!(test["service_key"], "configured");
}

// opsgenie ---------------------------------------------------------------------------------------

#[test]
fn opsgenie_sends_kapacitors_server_test_event_byte_for_byte() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[opsgenie]\nenabled = true\nurl = \"{}\"\napi-key = \"api_key\"\n",
        receiver.url()
    ));

    let request = kapacitors_server_test(
        &server,
        &receiver,
        json!({"id": "testAlertHandlers", "kind": "opsgenie", "options": {
            "teams-list": ["A team", "B team"],
            "recipients-list": ["test_recipient1", "test_recipient2"],
        }}),
    );

    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.text(),
        concat!(
            r#"{"alias":"id","apiKey":"api_key","description":"{\"series\":[{\"name\":\"alert\",\"columns\":[\"time\",\"value\"],"#,
            r#"\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]}","details":{"Level":"CRITICAL","Monitoring Tool":"Kapacitor"},"#,
            r#""entity":"id","message":"message","monitoring_tool":"kapacitor","note":"","#,
            r#""recipients":["test_recipient1","test_recipient2"],"teams":["A team","B team"]}"#,
            "\n"
        )
    );
}

/// Kapacitor's OpsGenie v1 documentation: its `[opsgenie]` section (both URLs pointed at a
/// stand-in), its TICKscript (with `"usage_idle"`, which the page quotes as a string by mistake)
/// and handler files, and the service test.
#[test]
fn opsgenie_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[opsgenie]\n  enabled = true\n  api-key = \"mysupersecretapikey\"\n  teams = [\"team1\", \"team2\"]\n  recipients = [\"recipient1\", \"recipient2\"]\n  url = \"{url}v1/json/alert\"\n  recovery_url = \"{url}v1/json/alert/note\"\n  global = false\n",
        url = receiver.url()
    ));

    let walk = documented_walk(
        &server,
        &receiver,
        "opsgenie",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .opsGenie()\n      .teams('engineering', 'support')\n",
        [
            "id: handler-id\ntopic: topic-name\nkind: opsgenie\noptions:\n  teams-list:\n    - 'team1'\n    - 'team2'\n  recipients-list:\n    - 'recipient1'\n    - 'recipient2'\n",
            "id: opsgenie-cpu-alert\ntopic: cpu\nkind: opsgenie\noptions:\n  teams-list:\n    - 'engineering'\n    - 'support'\n",
        ],
    );

    assert_eq!(walk.alert.target, "/v1/json/alert/");
    let alert = json_body(&walk.alert);
    assert_eq!(alert["apiKey"], "mysupersecretapikey");
    assert_eq!(alert["teams"], json!(["engineering", "support"]));
    assert_eq!(alert["recipients"], json!(["recipient1", "recipient2"]));
    assert_eq!(walk.recovery.target, "/v1/json/alert/note/");
    assert_eq!(json_body(&walk.recovery)["details"]["Level"], "RECOVERY");
    assert_eq!(
        json_body(&walk.from_file)["teams"],
        json!(["engineering", "support"])
    );
    let test = json_body(&walk.service_test);
    assert_eq!(test["entity"], "testEntityID");
    assert_eq!(test["teams"], json!(["team1", "team2"]));
}

// all five ---------------------------------------------------------------------------------------

/// The config API shows each section with its secret redacted, as Kapacitor's does.
#[test]
fn the_config_api_redacts_each_kinds_secret() {
    let server = start(concat!(
        "[pagerduty2]\nrouting-key = \"s1\"\n",
        "[pagerduty]\nservice-key = \"s2\"\n",
        "[opsgenie2]\napi-key = \"s3\"\n",
        "[opsgenie]\napi-key = \"s4\"\n",
        "[victorops]\napi-key = \"s5\"\nrouting-key = \"visible\"\n",
    ));
    for (section, secret) in [
        ("pagerduty2", "routing-key"),
        ("pagerduty", "service-key"),
        ("opsgenie2", "api-key"),
        ("opsgenie", "api-key"),
        ("victorops", "api-key"),
    ] {
        let config: Value = server
            .get(&format!("/kapacitor/v1/config/{section}"))
            .json()
            .unwrap();
        let element = &config["elements"][0];
        assert_eq!(element["options"][secret], true, "{section}: {config}");
        assert_eq!(element["redacted"], json!([secret]), "{section}");
    }
    let victorops: Value = server.get("/kapacitor/v1/config/victorops").json().unwrap();
    assert_eq!(
        victorops["elements"][0]["options"]["routing-key"], "visible",
        "as Kapacitor: VictorOps' routing key is not a secret"
    );
}
