//! Windows and aggregates end to end: Kapacitor's cases 3 and 4 (reference section 7) through
//! `POST /write`, a TCP listener and `GET /kapacitor/v1/tasks/<id>/<httpOut name>`, byte for byte.

use klaxon_e2e::{Klaxond, TcpSink, wait_for};

/// `TestStream_Alert.srpl` as cases 3 and 4 read it: serverA one point a second for 13 s from
/// 1971-01-01T00:00:00Z, serverB points in between (filtered out by the task).
fn write_alert_srpl(server: &Klaxond) {
    const BASE: i64 = 31_536_000;
    let mut body = String::new();
    for t in 0..13 {
        body.push_str(&format!(
            "cpu,host=serverA,type=idle value={} {}\n",
            90 + t,
            BASE + t
        ));
        body.push_str(&format!(
            "cpu,host=serverB,type=idle value=1 {}\n",
            BASE + t
        ));
    }
    let response = server.send(
        "POST",
        "/kapacitor/v1/write?db=dbname&rp=rpname&precision=s",
        &body,
    );
    assert_eq!(response.status().as_u16(), 204, "{:?}", response.text());
}

fn define(server: &Klaxond, id: &str, script: &str) {
    let body = serde_json::json!({
        "id": id,
        "type": "stream",
        "dbrps": [{"db": "dbname", "rp": "rpname"}],
        "script": script,
        "status": "enabled",
    });
    let response = server.send("POST", "/kapacitor/v1/tasks", &body.to_string());
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.text());
}

const WINDOW_COUNT: &str = r#"stream
    |from()
        .measurement('cpu')
        .where(lambda: "host" == 'serverA')
        .groupBy('host')
    |window()
        .period(10s)
        .every(10s)
    |count('value')
"#;

/// Case 3 (`TestStream_AlertTCP`): window + count, one CRITICAL event to the listener.
#[test]
fn window_count_alert_over_tcp() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    let script = format!(
        r#"{WINDOW_COUNT}    |alert()
        .id('kapacitor.{{{{ .Name }}}}.{{{{ index .Tags "host" }}}}')
        .details('')
        .info(lambda: "count" > 6.0)
        .warn(lambda: "count" > 7.0)
        .crit(lambda: "count" > 8.0)
        .tcp('{}')
"#,
        sink.address()
    );
    define(&server, "TestStream_AlertTCP", &script);
    write_alert_srpl(&server);
    assert_eq!(
        sink.next(),
        concat!(
            r#"{"id":"kapacitor.cpu.serverA","message":"kapacitor.cpu.serverA is CRITICAL","details":"","#,
            r#""time":"1971-01-01T00:00:10Z","duration":0,"level":"CRITICAL","data":{"series":[{"name":"cpu","#,
            r#""tags":{"host":"serverA"},"columns":["time","count"],"values":[["1971-01-01T00:00:10Z",10]]}]},"#,
            r#""previousLevel":"OK","recoverable":true}"#,
            "\n\n"
        )
    );
}

/// Case 4 (`TestStream_Alert`): the alert's augmented output read through `|httpOut()`.
#[test]
fn window_count_alert_augmented_through_http_out() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    let script = format!(
        r#"{WINDOW_COUNT}    |alert()
        .id('kapacitor/{{{{ .Name }}}}/{{{{ index .Tags "host" }}}}')
        .details('')
        .idField('id')
        .idTag('id')
        .levelField('level')
        .levelTag('level')
        .messageField('msg')
        .info(lambda: "count" > 6.0)
        .warn(lambda: "count" > 7.0)
        .crit(lambda: "count" > 8.0)
        .tcp('{}')
    |httpOut('TestStream_Alert')
"#,
        sink.address()
    );
    define(&server, "TestStream_Alert", &script);
    let path = "/kapacitor/v1/tasks/TestStream_Alert/TestStream_Alert";
    let before = server.get(path);
    assert_eq!(before.status().as_u16(), 200);
    assert_eq!(before.text().unwrap(), r#"{"series":null}"#);

    write_alert_srpl(&server);
    // The event reaches the handler after the pipeline ran, so httpOut is up to date.
    let event: serde_json::Value = serde_json::from_str(sink.next().trim_end()).unwrap();
    assert_eq!(event["level"], "CRITICAL");
    let mut text = String::new();
    wait_for("the httpOut endpoint to hold the window", || {
        text = server.get(path).text().unwrap();
        text != r#"{"series":null}"#
    });
    assert_eq!(
        text,
        concat!(
            r#"{"series":[{"name":"cpu","tags":{"host":"serverA","id":"kapacitor/cpu/serverA","level":"CRITICAL"},"#,
            r#""columns":["time","count","id","level","msg"],"#,
            r#""values":[["1971-01-01T00:00:10Z",10,"kapacitor/cpu/serverA","CRITICAL","kapacitor/cpu/serverA is CRITICAL"]]}]}"#
        )
    );

    let missing = server.get("/kapacitor/v1/tasks/TestStream_Alert/nosuch");
    assert_eq!(missing.status().as_u16(), 404);
    let body: serde_json::Value = serde_json::from_str(&missing.text().unwrap()).unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with(r#"no endpoint "nosuch" on task "TestStream_Alert""#),
        "{body}"
    );
    let no_task = server.get("/kapacitor/v1/tasks/nosuch/TestStream_Alert");
    assert_eq!(no_task.status().as_u16(), 404);
}
