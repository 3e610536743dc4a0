//! The event-management handlers (sensu, servicenow, bigpanda, zenoss, talk) in a real klaxond:
//! Kapacitor's configuration sections pasted into klaxon.toml, its documented TICKscripts and
//! handler files typed as written, each delivering to a local stand-in for the service (a TCP
//! listener that speaks Sensu's client socket protocol, HTTP receivers for the others); Kapacitor's
//! own server test (`TestServer_AlertHandlers`) byte for byte; and `klaxon service-tests <kind>`
//! reaching the stand-in.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use klaxon_e2e::Klaxond;
use klaxon_http::testing::{Answer, Received, Receiver};
use serde_json::{Value, json};

/// Generous bound for a delivery, on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// Starts klaxond with `config` appended to the harness's configuration.
fn start(config: &str) -> Klaxond {
    // The harness's blocking client is reqwest with rustls and no crypto provider of its own:
    // klaxon-http installs ring.
    klaxon_http::install_crypto_provider();
    Klaxond::builder().config(config).start()
}

fn cli_ok(server: &Klaxond, args: &[&str]) -> String {
    let output = server.cli(args);
    assert!(output.status.success(), "klaxon {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Defines the enabled task `id` from a TICKscript through the API (no dbrp:
/// the task sees every database).
fn define_task(server: &Klaxond, id: &str, tick: &str) {
    let (status, answer) = server.define_task(id, tick, &[]);
    assert_eq!(status, 200, "{answer}");
}

/// Defines a topic handler from a handler file with the CLI, as a user does.
fn define_handler_file(server: &Klaxond, name: &str, yaml: &str) {
    std::fs::write(server.dir().join(name), yaml).unwrap();
    cli_ok(server, &["define-topic-handler", name]);
}

/// Writes one line of line protocol, with a timestamp in seconds.
fn write_point(server: &Klaxond, line: &str) {
    let response = server.send("POST", "/write?db=telegraf&rp=autogen&precision=s", line);
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

/// The output of `klaxon service-tests <kind>` that passed.
fn passed(kind: &str) -> String {
    format!("Service             Success   Message\n{kind:<20}true      \n")
}

/// Kapacitor's `TestServer_AlertHandlers`: `handler` on topic `test`, then the task that makes
/// every point of measurement `alert` a CRITICAL alert with ID `id` and message `message` on
/// that topic, and one point at time 0.
fn kapacitors_server_test(server: &Klaxond, handler: Value) {
    server.define_handler("test", &handler);
    let tick = "stream\n\t|from()\n\t\t.measurement('alert')\n\t|alert()\n\t\t.topic('test')\n\t\t.id('id')\n\t\t.message('message')\n\t\t.details('details')\n\t\t.crit(lambda: TRUE)\n";
    let (status, answer) = server.define_task("testAlertHandlers", tick, &[("mydb", "myrp")]);
    assert_eq!(status, 200, "{answer}");
    let response = server.send(
        "POST",
        "/kapacitor/v1/write?db=mydb&rp=myrp&precision=s",
        "alert value=1 0000000000",
    );
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

/// Kapacitor's documented CPU alert publishing to topic `cpu`, for the handler files.
const CPU_TOPIC_TICK: &str = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .topic('cpu')\n";

// sensu ------------------------------------------------------------------------------------------

/// A Sensu client's socket on a loopback port: per connection, reads until the bytes parse as one
/// JSON object (as Sensu's client does), records them, answers `ok` and closes the connection.
struct SensuClient {
    addr: String,
    received: mpsc::Receiver<String>,
}

impl SensuClient {
    fn start() -> SensuClient {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let _ = stream.set_read_timeout(Some(DEADLINE));
                let mut buffer = Vec::new();
                let mut chunk = [0; 4096];
                while serde_json::from_slice::<Value>(&buffer).is_err() {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = stream.write_all(b"ok");
                if tx
                    .send(String::from_utf8_lossy(&buffer).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        SensuClient { addr, received }
    }

    /// The next check result, as sent.
    fn next(&self) -> String {
        self.received
            .recv_timeout(DEADLINE)
            .expect("a check result within the deadline")
    }

    /// The next check result, decoded.
    fn next_json(&self) -> Value {
        let text = self.next();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"))
    }
}

#[test]
fn sensu_sends_kapacitors_server_test_check_result_byte_for_byte() {
    let sensu = SensuClient::start();
    let server = start(&format!(
        "[sensu]\nenabled = true\naddr = \"{}\"\nsource = \"Kapacitor\"\n",
        sensu.addr
    ));

    kapacitors_server_test(
        &server,
        json!({"id": "testAlertHandlers", "kind": "sensu",
               "options": {"source": "Kapacitor", "metadata": {"k1": "v1", "k2": 5}}}),
    );

    assert_eq!(
        sensu.next(),
        "{\"handlers\":null,\"k1\":\"v1\",\"k2\":5,\"name\":\"id\",\"output\":\"message\",\"source\":\"Kapacitor\",\"status\":2}\n"
    );
}

/// kapacitor.conf's `[sensu]` section as shipped, comments and all, with the address of the
/// stand-in and the service enabled.
#[test]
fn sensu_accepts_kapacitor_conf_and_passes_its_service_test() {
    let sensu = SensuClient::start();
    let server = start(&format!(
        "[sensu]\n  # Configure Sensu.\n  enabled = true\n  # The Sensu Client host:port address.\n  addr = \"{}\"\n  # Default JIT source.\n  source = \"Kapacitor\"\n",
        sensu.addr
    ));

    assert_eq!(
        cli_ok(&server, &["service-tests", "sensu"]),
        passed("sensu")
    );
    assert_eq!(
        sensu.next(),
        "{\"handlers\":null,\"name\":\"testName\",\"output\":\"testOutput\",\"source\":\"Kapacitor\",\"status\":2}\n"
    );
}

/// Kapacitor's Sensu documentation: its section (the address pointed at the stand-in), the
/// example TICKscript with the default alert ID, the chained properties as written, and the
/// handler files.
#[test]
fn sensu_as_kapacitors_documentation_writes_it() {
    let sensu = SensuClient::start();
    let server = start(&format!(
        "[sensu]\n  enabled = true\n  addr = \"{}\"\n  source = \"Kapacitor\"\n  handlers = [\"tcp\", \"transport\"]\n",
        sensu.addr
    ));

    // The example TICKscript: the default ID `cpu:nil` is sent as the check `cpu_nil`, which
    // Sensu accepts (Kapacitor refuses to send it).
    define_task(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .sensu()\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=5 10");
    assert_eq!(
        sensu.next(),
        "{\"handlers\":[\"tcp\",\"transport\"],\"name\":\"cpu_nil\",\"output\":\"Hey, check your CPU\",\"source\":\"Kapacitor\",\"status\":2}\n"
    );
    write_point(&server, "cpu,host=serverA usage_idle=50 11");
    let recovery = sensu.next_json();
    assert_eq!(
        recovery["name"], "cpu_nil",
        "the recovery resolves the check"
    );
    assert_eq!(recovery["status"], 0);
    cli_ok(&server, &["delete", "tasks", "cpu_alert"]);

    // The chained properties as the documentation writes them.
    define_task(
        &server,
        "cpu_props",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .id('cpu-{{ index .Tags \"host\" }}')\n    .crit(lambda: \"usage_idle\" < 10)\n    .sensu()\n      .source('Kapacitor')\n      .handlers('handler1-name', 'handler2-name')\n      .metadata('key1', 'value1')\n      .metadata('key2', 5)\n      .metadata('key3', 5.0)\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=5 20");
    assert_eq!(
        sensu.next(),
        "{\"handlers\":[\"handler1-name\",\"handler2-name\"],\"key1\":\"value1\",\"key2\":5,\"key3\":5,\"name\":\"cpu-serverA\",\"output\":\"cpu-serverA is CRITICAL\",\"source\":\"Kapacitor\",\"status\":2}\n"
    );
    cli_ok(&server, &["delete", "tasks", "cpu_props"]);

    // The handler files, then a task publishing to topic `cpu`.
    define_handler_file(
        &server,
        "sensu_handler.yaml",
        "id: handler-id\ntopic: topic-name\nkind: sensu\noptions:\n  source: Kapacitor\n  handlers:\n    - handler1-name\n    - handler2-name\n  metadata:\n    key1: value1\n    key2: 5\n    key3: 5.0\n",
    );
    define_handler_file(
        &server,
        "sensu_cpu_handler.yaml",
        "id: sensu-cpu-alert\ntopic: cpu\nkind: sensu\noptions:\n  source: Kapacitor\n  handlers:\n    - tcp\n    - transport\n",
    );
    define_task(&server, "cpu_topic", CPU_TOPIC_TICK);
    write_point(&server, "cpu,host=serverA usage_idle=3 30");
    assert_eq!(
        sensu.next(),
        "{\"handlers\":[\"tcp\",\"transport\"],\"name\":\"cpu_nil\",\"output\":\"Hey, check your CPU\",\"source\":\"Kapacitor\",\"status\":2}\n"
    );
}

// servicenow -------------------------------------------------------------------------------------

/// Checks a JSON post: method, path and query, content type and body.
fn assert_post(request: &Received, target: &str, body: &str) {
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", target)
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), body);
}

fn json_body(request: &Received) -> Value {
    serde_json::from_slice(&request.body).unwrap_or_else(|e| panic!("{e}: {:?}", request.text()))
}

#[test]
fn servicenow_sends_kapacitors_server_test_event_byte_for_byte() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[servicenow]\nenabled = true\nurl = \"{}api/global/em/jsonv2\"\nsource = \"Kapacitor\"\n",
        receiver.url()
    ));

    kapacitors_server_test(
        &server,
        json!({"id": "testAlertHandlers", "kind": "servicenow",
               "options": {"source": "Kapacitor"}}),
    );

    assert_post(
        &receiver.next(),
        "/api/global/em/jsonv2",
        r#"{"records":[{"source":"Kapacitor","message_key":"id","severity":"1","description":"message"}]}"#,
    );
}

/// kapacitor.conf's `[servicenow]` section as shipped, comments and all, with the URL of the
/// stand-in and the service enabled; the password is redacted by the config API.
#[test]
fn servicenow_accepts_kapacitor_conf_and_passes_its_service_test() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[servicenow]\n  # Configure ServiceNow.\n  enabled = true\n  # The ServiceNow events web service URL. Replace instance with actual hostname.\n  url = \"{}api/global/em/jsonv2\"\n  # Default source identification.\n  source = \"Kapacitor\"\n  # Username for HTTP BASIC authentication\n  username = \"dev\"\n  # Password for HTTP BASIC authentication\n  password = \"12345\"\n",
        receiver.url()
    ));

    assert_eq!(
        cli_ok(&server, &["service-tests", "servicenow"]),
        passed("servicenow")
    );
    let request = receiver.next();
    assert_post(
        &request,
        "/api/global/em/jsonv2",
        r#"{"records":[{"source":"Kapacitor","message_key":"1001","severity":"1","description":"test servicenow message"}]}"#,
    );
    assert_eq!(request.header("authorization"), Some("Basic ZGV2OjEyMzQ1"));
    let config = server
        .get("/kapacitor/v1/config/servicenow/")
        .text()
        .unwrap();
    assert!(!config.contains("12345"), "{config}");
}

/// Kapacitor's ServiceNow documentation: its section (the URL pointed at the stand-in), both
/// example TICKscripts, and a handler file with the documented options.
#[test]
fn servicenow_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[servicenow]\n  # Configure ServiceNow.\n  enabled = true\n  # The ServiceNow URL for the target table (Alert or Event). Replace this instance with your hostname.\n  url = \"{}api/global/em/jsonv2\"\n  # Default source identification.\n  source = \"Kapacitor\"\n  # Username for HTTP BASIC authentication\n  username = \"\"\n  # Password for HTTP BASIC authentication\n  password = \"\"\n",
        receiver.url()
    ));

    define_task(
        &server,
        "cpu_plain",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_user\" > 90)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .serviceNow()\n",
    );
    write_point(&server, "cpu,host=serverA usage_user=95 10");
    write_point(&server, "cpu,host=serverA usage_user=96 11");
    write_point(&server, "cpu,host=serverA usage_user=5 12");
    assert_post(
        &receiver.next(),
        "/api/global/em/jsonv2",
        r#"{"records":[{"source":"Kapacitor","message_key":"cpu:nil","severity":"1","description":"Hey, check your CPU"}]}"#,
    );
    // The second CRITICAL is not a change of state: next is the recovery.
    assert_eq!(json_body(&receiver.next())["records"][0]["severity"], "5");
    cli_ok(&server, &["delete", "tasks", "cpu_plain"]);

    define_task(
        &server,
        "cpu_templated",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_user\" > 90)\n    .message('Hey, check your CPU')\n    .serviceNow()\n        .node('{{ index .Tags \"host\" }}')\n        .type('CPU')\n        .resource('CPU-Total')\n        .metricName('usage_user')\n        .messageKey('Alert: {{ .ID }}')\n",
    );
    write_point(&server, "cpu,host=serverA usage_user=95 20");
    assert_post(
        &receiver.next(),
        "/api/global/em/jsonv2",
        r#"{"records":[{"source":"Kapacitor","node":"serverA","type":"CPU","resource":"CPU-Total","metric_name":"usage_user","message_key":"Alert: cpu:nil","severity":"1","description":"Hey, check your CPU"}]}"#,
    );
    cli_ok(&server, &["delete", "tasks", "cpu_templated"]);

    define_handler_file(
        &server,
        "servicenow_handler.yaml",
        "id: servicenow-cpu-alert\ntopic: cpu\nkind: servicenow\noptions:\n  node: '{{ index .Tags \"host\" }}'\n  type: CPU\n  resource: CPU-Total\n  metricName: usage_idle\n  messageKey: 'Alert: {{ .ID }}'\n  additional_info:\n    link: 'http://push/alert?id={{ .ID }}'\n    ticks: 666\n",
    );
    define_task(&server, "cpu_topic", CPU_TOPIC_TICK);
    write_point(&server, "cpu,host=serverA usage_idle=3 30");
    assert_post(
        &receiver.next(),
        "/api/global/em/jsonv2",
        r#"{"records":[{"source":"Kapacitor","node":"serverA","type":"CPU","resource":"CPU-Total","metric_name":"usage_idle","message_key":"Alert: cpu:nil","severity":"1","description":"Hey, check your CPU","additional_info":"{\"link\":\"http://push/alert?id=cpu:nil\",\"ticks\":\"666\"}"}]}"#,
    );
}

/// `global = true` gives every alert node a servicenow handler; with `state-changes-only`, every
/// alert node sends only changes of state.
#[test]
fn servicenow_global_reaches_a_task_that_names_no_servicenow_handler() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[servicenow]\nenabled = true\nurl = \"{}\"\nglobal = true\nstate-changes-only = true\n",
        receiver.url()
    ));

    define_task(
        &server,
        "cpu_quiet",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_user\" > 90)\n",
    );
    write_point(&server, "cpu,host=serverA usage_user=95 10");
    write_point(&server, "cpu,host=serverA usage_user=96 11");
    write_point(&server, "cpu,host=serverA usage_user=5 12");

    let alert = json_body(&receiver.next());
    assert_eq!(alert["records"][0]["message_key"], "cpu:nil");
    assert_eq!(alert["records"][0]["severity"], "1");
    assert_eq!(json_body(&receiver.next())["records"][0]["severity"], "5");
}

// bigpanda ---------------------------------------------------------------------------------------

#[test]
fn bigpanda_sends_kapacitors_server_test_alert_byte_for_byte() {
    let receiver = Receiver::http(vec![Answer::status(201)]);
    let server = start(&format!(
        "[bigpanda]\nenabled = true\ntoken = \"my-token-123\"\napp-key = \"my-app-key\"\nurl = \"{}test/bigpanda/alert\"\nauto-attributes = \"\"\n",
        receiver.url()
    ));

    kapacitors_server_test(
        &server,
        json!({"id": "testAlertHandlers", "kind": "bigpanda",
               "options": {"app-key": "my-app-key-123456"}}),
    );

    let request = receiver.next();
    assert_post(
        &request,
        "/test/bigpanda/alert",
        r#"{"app_key":"my-app-key-123456","check":"id","description":"message","details":"details","host":"","status":"critical","task":"testAlertHandlers:alert","timestamp":0}"#,
    );
    assert_eq!(request.header("authorization"), Some("Bearer my-token-123"));
}

/// kapacitor.conf's `[bigpanda]` section as shipped, comments and all, enabled with its
/// commented keys filled in and the URL of the stand-in; the token is redacted by the config
/// API.
#[test]
fn bigpanda_accepts_kapacitor_conf_and_passes_its_service_test() {
    let receiver = Receiver::http(vec![Answer::status(201)]);
    let server = start(&format!(
        "[bigpanda]\n  # Configure BigPanda.\n  enabled = true\n  # BigPanda Alerts URL.\n  url = \"{}data/v2/alerts\"\n  # Application key\n  app-key = \"my-app-key\"\n  # Authentication token\n  token = \"my-secret-token\"\n  # Default BigPanda alert additional attributes.\n  # auto-attributes = \"tags,fields\"\n",
        receiver.url()
    ));

    assert_eq!(
        cli_ok(&server, &["service-tests", "bigpanda"]),
        passed("bigpanda")
    );
    let request = receiver.next();
    assert_eq!(request.target, "/data/v2/alerts");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer my-secret-token")
    );
    let test = json_body(&request);
    assert_eq!(test["app_key"], "012345");
    assert_eq!(test["description"], "test bigpanda message");
    assert_eq!(test["task"], ":testBigPanda");
    let config = server.get("/kapacitor/v1/config/bigpanda/").text().unwrap();
    assert!(!config.contains("my-secret-token"), "{config}");
}

/// Kapacitor's BigPanda documentation: its section (the URL pointed at the stand-in, the keys
/// filled in), both example TICKscripts (the second, broken as written, refused with a message
/// and then delivering once mended), and a handler file.
#[test]
fn bigpanda_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[bigpanda]\n  enabled = true\n  # BigPanda integration App Key\n  app-key = \"my-app-key\"\n  # Authorization Bearer token for BigPanda REST API.  \n  token = \"my-token\"\n  # BigPanda Alert API url  \n  url = \"{}data/v2/alerts\"  \n",
        receiver.url()
    ));

    define_task(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .id('cpu_usage')\n    .crit(lambda: \"usage_user\" > 90)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .bigPanda()\n",
    );
    write_point(&server, "cpu,host=serverA,cpu=cpu-total usage_user=95 10");
    assert_post(
        &receiver.next(),
        "/data/v2/alerts",
        r#"{"app_key":"my-app-key","check":"cpu_usage","cpu":"cpu-total","description":"Hey, check your CPU","host":"serverA","status":"critical","task":"cpu_alert:cpu","timestamp":10,"usage_user":"95"}"#,
    );
    write_point(&server, "cpu,host=serverA,cpu=cpu-total usage_user=5 11");
    let recovery = json_body(&receiver.next());
    assert_eq!(
        (recovery["check"].as_str(), recovery["status"].as_str()),
        (Some("cpu_usage"), Some("ok"))
    );
    cli_ok(&server, &["delete", "tasks", "cpu_alert"]);

    // The second example as written: `.appKey()` before `.bigPanda()`, and `bigPanda()` without
    // its dot. Kapacitor refuses it too.
    let as_written = "stream\n  |from()\n    .database('telegraf')\n    .retentionPolicy('autogen')\n    .measurement('cpu')\n    .groupBy('host')\n    .where(lambda: \"cpu\" == 'cpu-total')\n  |eval(lambda: 100.0 - \"usage_idle\").as('total_used')\n  |window().period(10s).every(10s)\n  |mean('total_used').as('total_used')\n  |alert()\n    .id('cpu_usage_check')\n    .message('Hey {{ index .Tags \"host\"}} / {{ .ID }}: is high!')\n    .details('https://example.com/dashboard/{{ index .Tags \"host\"}}')\n    .info(lambda: \"total_used\" > 70)\n    .warn(lambda: \"total_used\" > 80)\n    .crit(lambda: \"total_used\" > 90)\n    .stateChangesOnly()\n    .appKey('...')\n    bigPanda()\n      .host('{{ .Tags.host }}')\n      .attribute('monitor_link', 'http://example.com/monitor?node={{ .Tags.host }}')\n      .attribute('x_total_used', '{{ .Fields.total_used }}')\n";
    let (status, answer) = server.define_task("cpu_dashboard", as_written, &[]);
    assert_eq!(status, 400, "{answer}");
    let mended = as_written.replace(
        "    .appKey('...')\n    bigPanda()\n",
        "    .bigPanda()\n      .appKey('my-dashboard-app')\n",
    );
    define_task(&server, "cpu_dashboard", &mended);
    for (time, idle) in [(20, 5), (25, 5), (30, 50)] {
        write_point(
            &server,
            &format!("cpu,host=serverA,cpu=cpu-total usage_idle={idle} {time}"),
        );
    }
    assert_post(
        &receiver.next(),
        "/data/v2/alerts",
        r#"{"app_key":"my-dashboard-app","check":"cpu_usage_check","description":"Hey serverA / cpu_usage_check: is high!","details":"https://example.com/dashboard/serverA","host":"serverA","monitor_link":"http://example.com/monitor?node=serverA","status":"critical","task":"cpu_dashboard:cpu","timestamp":30,"total_used":"95","x_total_used":"95"}"#,
    );
    cli_ok(&server, &["delete", "tasks", "cpu_dashboard"]);

    define_handler_file(
        &server,
        "bigpanda_handler.yaml",
        "id: bigpanda-cpu-alert\ntopic: cpu\nkind: bigpanda\noptions:\n  app-key: my-topic-app\n  host: '{{ index .Tags \"host\" }}'\n  primary-property: host\n  attributes:\n    runbook: 'https://example.com/runbooks/{{ .Name }}'\n",
    );
    define_task(&server, "cpu_topic", CPU_TOPIC_TICK);
    write_point(&server, "cpu,host=serverB usage_idle=3 40");
    assert_post(
        &receiver.next(),
        "/data/v2/alerts",
        r#"{"app_key":"my-topic-app","check":"cpu:nil","description":"Hey, check your CPU","host":"serverB","primary_property":"host","runbook":"https://example.com/runbooks/cpu","status":"critical","task":"cpu_topic:cpu","timestamp":40,"usage_idle":"3"}"#,
    );
}

/// `global = true` gives every alert node a bigpanda handler; with `state-changes-only`, every
/// alert node sends only changes of state.
#[test]
fn bigpanda_global_reaches_a_task_that_names_no_bigpanda_handler() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[bigpanda]\nenabled = true\napp-key = \"examplecorp\"\ntoken = \"t\"\nurl = \"{}\"\nglobal = true\nstate-changes-only = true\n",
        receiver.url()
    ));

    define_task(
        &server,
        "cpu_quiet",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_user\" > 90)\n",
    );
    write_point(&server, "cpu,host=serverA usage_user=95 10");
    write_point(&server, "cpu,host=serverA usage_user=96 11");
    write_point(&server, "cpu,host=serverA usage_user=5 12");

    let alert = json_body(&receiver.next());
    assert_eq!(
        (alert["app_key"].as_str(), alert["status"].as_str()),
        (Some("examplecorp"), Some("critical"))
    );
    assert_eq!(json_body(&receiver.next())["status"], "ok");
}

// zenoss -----------------------------------------------------------------------------------------

#[test]
fn zenoss_sends_kapacitors_server_test_event_byte_for_byte() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[zenoss]\nenabled = true\nurl = \"{}zport/dmd/evconsole_router\"\ncollector = \"\"\n",
        receiver.url()
    ));

    // Kapacitor's test writes the key `TID`, which its case-blind decoder takes for `tid`.
    kapacitors_server_test(
        &server,
        json!({"id": "testAlertHandlers", "kind": "zenoss",
               "options": {"action": "EventsRouter", "method": "add_event", "type": "rpc",
                           "tid": 1}}),
    );

    assert_post(
        &receiver.next(),
        "/zport/dmd/evconsole_router",
        r#"{"action":"EventsRouter","method":"add_event","data":[{"component":"","device":"","evclass":"","evclasskey":"","severity":"Critical","summary":"message"}],"type":"rpc","tid":1}"#,
    );
}

/// kapacitor.conf's `[zenoss]` section as shipped, comments, inline severity map and all, with
/// the URL of the stand-in and the service enabled.
#[test]
fn zenoss_accepts_kapacitor_conf_and_passes_its_service_test() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[zenoss]\n  # Configure Zenoss.\n  enabled = true\n  # The Zenoss events endpoint URL.\n  url = \"{}zport/dmd/evconsole_router\"\n  # Username for HTTP BASIC authentication\n  # username = \"\"\n  # Password for HTTP BASIC authentication\n  # password = \"\"\n  # Action (router name).\n  action = \"EventsRouter\"\n  # Router method.\n  method = \"add_event\"\n  # Event type.\n  type = \"rpc\"\n  # Temporary request transaction ID.\n  tid = 1\n  # Collector name.\n  collector = \"Kapacitor\"\n  # Alert level to event severity mapping.\n  severity-map = {{ OK = \"Clear\", Info = \"Info\", Warning = \"Warning\", Critical = \"Critical\" }}\n",
        receiver.url()
    ));

    assert_eq!(
        cli_ok(&server, &["service-tests", "zenoss"]),
        passed("zenoss")
    );
    assert_post(
        &receiver.next(),
        "/zport/dmd/evconsole_router",
        r#"{"action":"EventsRouter","method":"add_event","data":[{"collector":"Kapacitor","component":"","device":"","evclass":"","evclasskey":"","severity":"Critical","summary":"test zenoss message"}],"type":"rpc","tid":1}"#,
    );
}

/// Kapacitor's Zenoss documentation: its section (the URL pointed at the stand-in, numeric
/// severities), its TICKscripts and handler files as written, `evclasskey` and `evclass`
/// included.
#[test]
fn zenoss_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[zenoss]\n  enabled = true\n  url = \"{}zport/dmd/evconsole_router\"\n  username = \"\"\n  password = \"\"\n  action = \"EventsRouter\"\n  method = \"add_event\"\n  type = \"rpc\"\n  tid = 1\n  collector = \"Kapacitor\"\n  severity-map = {{OK = \"Clear\", Info = \"Info\", Warning = \"Warning\", Critical = \"Critical\"}}\n  global = false\n  state-changes-only = false\n",
        receiver.url()
    ));
    let target = "/zport/dmd/evconsole_router";

    define_task(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .warn(lambda: \"usage_idle\" < 20)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .zenoss()\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=15 10");
    write_point(&server, "cpu,host=serverA usage_idle=12 11");
    write_point(&server, "cpu,host=serverA usage_idle=50 12");
    assert_post(
        &receiver.next(),
        target,
        r#"{"action":"EventsRouter","method":"add_event","data":[{"collector":"Kapacitor","component":"","device":"","evclass":"","evclasskey":"","severity":"Warning","summary":"Hey, check your CPU"}],"type":"rpc","tid":1}"#,
    );
    // The second WARNING is not a change of state: next is the recovery.
    let recovery = json_body(&receiver.next());
    assert_eq!(recovery["data"][0]["severity"], "Clear");
    cli_ok(&server, &["delete", "tasks", "cpu_alert"]);

    // The properties as the documentation writes them, after its `// ...`.
    define_task(
        &server,
        "cpu_props",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .zenoss()\n    .action('EventsRouter')\n    .method('add_event')\n    .type('rpc')\n    .tid(1)\n    .summary('Example event summary.')\n    .device('example-device')\n    .component('example-component')\n    .evclasskey('example-event-class-key')\n    .evclass('example-event-class')\n    .collector('Kapacitor')\n    .message('Example event message.')\n    .customField('customField1', 'customValue1')\n    .customField('customField2', 'customValue2')\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=5 20");
    assert_post(
        &receiver.next(),
        target,
        r#"{"action":"EventsRouter","method":"add_event","data":[{"collector":"Kapacitor","component":"example-component","customField1":"customValue1","customField2":"customValue2","device":"example-device","evclass":"example-event-class","evclasskey":"example-event-class-key","message":"Example event message.","severity":"Critical","summary":"Example event summary."}],"type":"rpc","tid":1}"#,
    );
    cli_ok(&server, &["delete", "tasks", "cpu_props"]);

    define_handler_file(
        &server,
        "zenoss_handler.yaml",
        "id: handler-id\ntopic: topic-name\nkind: zenoss\noptions:\n  action: EventsRouter\n  method: add_event\n  type: rpc\n  tid: 1\n  summary: Example event summary.\n  device: example-device\n  component: example-component\n  evclasskey: example-event-class-key\n  evclass: example-event-class\n  collector: Kapacitor\n  message: Example event message.\n  customField: \n    customField1: customValue1\n    customField2: customValue2\n",
    );
    define_handler_file(
        &server,
        "zenoss_cpu_handler.yaml",
        "id: zenoss-cpu-alert\ntopic: cpu\nkind: zenoss\noptions:\n  summary: High CPU usage\n  device: example-device\n  component: example-component\n  evclasskey: example-event-class-key\n  evclass: example-event-class\n",
    );
    define_task(
        &server,
        "cpu_topic",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 5)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .topic('cpu')\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=3 30");
    assert_post(
        &receiver.next(),
        target,
        r#"{"action":"EventsRouter","method":"add_event","data":[{"collector":"Kapacitor","component":"example-component","device":"example-device","evclass":"example-event-class","evclasskey":"example-event-class-key","severity":"Critical","summary":"High CPU usage"}],"type":"rpc","tid":1}"#,
    );
}

/// `global = true` gives every alert node a zenoss handler; with `state-changes-only`, every
/// alert node sends only changes of state.
#[test]
fn zenoss_global_reaches_a_task_that_names_no_zenoss_handler() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[zenoss]\nenabled = true\nurl = \"{}\"\nglobal = true\nstate-changes-only = true\nseverity-map = {{ OK = 0, Info = 2, Warning = 3, Critical = 5 }}\n",
        receiver.url()
    ));

    define_task(
        &server,
        "cpu_quiet",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_user\" > 90)\n",
    );
    write_point(&server, "cpu,host=serverA usage_user=95 10");
    write_point(&server, "cpu,host=serverA usage_user=96 11");
    write_point(&server, "cpu,host=serverA usage_user=5 12");

    let alert = json_body(&receiver.next());
    assert_eq!(alert["data"][0]["severity"], 5);
    assert_eq!(alert["data"][0]["summary"], "cpu:nil is CRITICAL");
    assert_eq!(json_body(&receiver.next())["data"][0]["severity"], 0);
}

// talk -------------------------------------------------------------------------------------------

#[test]
fn talk_sends_kapacitors_server_test_message_byte_for_byte() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[talk]\nenabled = true\nurl = \"{}\"\nauthor_name = \"Kapacitor\"\n",
        receiver.url()
    ));

    kapacitors_server_test(&server, json!({"id": "testAlertHandlers", "kind": "talk"}));

    assert_post(
        &receiver.next(),
        "/",
        "{\"authorName\":\"Kapacitor\",\"text\":\"message\",\"title\":\"id\"}\n",
    );
}

/// kapacitor.conf's `[talk]` section as shipped, comments and all, enabled with the stand-in's
/// URL; the URL, which is the secret, is redacted by the config API.
#[test]
fn talk_accepts_kapacitor_conf_and_passes_its_service_test() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[talk]\n  # Configure Talk.\n  enabled = true\n  # The Talk webhook URL.\n  url = \"{}v2/services/webhook/secret-uuid\"\n  # The default authorName.\n  author_name = \"Kapacitor\"\n",
        receiver.url()
    ));

    assert_eq!(cli_ok(&server, &["service-tests", "talk"]), passed("talk"));
    assert_post(
        &receiver.next(),
        "/v2/services/webhook/secret-uuid",
        "{\"authorName\":\"Kapacitor\",\"text\":\"test talk text\",\"title\":\"testTitle\"}\n",
    );
    let config = server.get("/kapacitor/v1/config/talk/").text().unwrap();
    assert!(!config.contains("secret-uuid"), "{config}");
}

/// Kapacitor's Talk documentation (1.5): its section (the URL pointed at the stand-in), its
/// TICKscripts and handler files as written, whose title Klaxon honours.
#[test]
fn talk_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[talk]\n  enabled = true\n  url = \"{}v2/services/webhook/uuid\"\n  author_name = \"Kapacitor\"\n",
        receiver.url()
    ));
    let target = "/v2/services/webhook/uuid";

    define_task(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .talk()\n      .title('Alert from Kapacitor')      \n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=5 10");
    assert_post(
        &receiver.next(),
        target,
        "{\"authorName\":\"Kapacitor\",\"text\":\"Hey, check your CPU\",\"title\":\"Alert from Kapacitor\"}\n",
    );
    cli_ok(&server, &["delete", "tasks", "cpu_alert"]);

    define_task(
        &server,
        "cpu_props",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .talk()\n    .title('Message Title')\n    .text('This is the text included in the message.')\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=5 20");
    assert_post(
        &receiver.next(),
        target,
        "{\"authorName\":\"Kapacitor\",\"text\":\"This is the text included in the message.\",\"title\":\"Message Title\"}\n",
    );
    cli_ok(&server, &["delete", "tasks", "cpu_props"]);

    define_handler_file(
        &server,
        "talk_handler.yaml",
        "id: handler-id\ntopic: topic-name\nkind: talk\noptions:\n  title: 'Message Title'\n  text: 'This is the text included in the message.'\n",
    );
    define_handler_file(
        &server,
        "talk_cpu_handler.yaml",
        "id: talk-cpu-alert\ntopic: cpu\nkind: talk\noptions:\n  title: Alert from Kapacitor\n",
    );
    define_task(&server, "cpu_topic", CPU_TOPIC_TICK);
    write_point(&server, "cpu,host=serverA usage_idle=3 30");
    assert_post(
        &receiver.next(),
        target,
        "{\"authorName\":\"Kapacitor\",\"text\":\"Hey, check your CPU\",\"title\":\"Alert from Kapacitor\"}\n",
    );
}
