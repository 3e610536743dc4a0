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
    let (status, answer) = server.define_task(id, script, &[("dbname", "rpname")]);
    assert_eq!(status, 200, "{answer}");
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

/// A program that writes its arguments and its stdin to `out`.
fn stdin_recorder(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let out = dir.join(format!("{name}.json"));
    let script = dir.join(format!("{name}.sh"));
    // The arguments first (one line each, then an empty line), then stdin.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" '' > '{out}.tmp'\ncat >> '{out}.tmp'\nmv '{out}.tmp' '{out}'\n",
            out = out.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    (script, out)
}

/// Case 3 as Kapacitor writes it (`TestStream_AlertExec`): two inline `.exec()` handlers, each
/// run once with the event on stdin.
#[test]
fn window_count_alert_exec_twice() {
    let server = Klaxond::start();
    let (first, first_out) = stdin_recorder(server.dir(), "my-script");
    let (second, second_out) = stdin_recorder(server.dir(), "my-other-script");
    let script = format!(
        r#"{WINDOW_COUNT}    |alert()
        .id('kapacitor.{{{{ .Name }}}}.{{{{ index .Tags "host" }}}}')
        .details('')
        .info(lambda: "count" > 6.0)
        .warn(lambda: "count" > 7.0)
        .crit(lambda: "count" > 8.0)
        .exec('{}', 'arg1', 'arg2')
        .exec('{}')
"#,
        first.display(),
        second.display()
    );
    define(&server, "TestStream_AlertExec", &script);
    write_alert_srpl(&server);
    let expected = concat!(
        r#"{"id":"kapacitor.cpu.serverA","message":"kapacitor.cpu.serverA is CRITICAL","details":"","#,
        r#""time":"1971-01-01T00:00:10Z","duration":0,"level":"CRITICAL","data":{"series":[{"name":"cpu","#,
        r#""tags":{"host":"serverA"},"columns":["time","count"],"values":[["1971-01-01T00:00:10Z",10]]}]},"#,
        r#""previousLevel":"OK","recoverable":true}"#,
        "\n"
    );
    assert_eq!(
        klaxon_e2e::read_when_complete(&first_out),
        format!("arg1\narg2\n\n{expected}")
    );
    assert_eq!(
        klaxon_e2e::read_when_complete(&second_out),
        format!("\n{expected}")
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

/// The examples of docs/tickscript.md's window, aggregate, batch alert, httpOut, httpPost,
/// deadman, stats and barrier sections, as written.
fn doc_examples() -> Vec<String> {
    let docs =
        std::fs::read_to_string(klaxon_e2e::workspace_root().join("docs/tickscript.md")).unwrap();
    let start = docs.find("### Windows").expect("a Windows section");
    let end = docs[start..]
        .find("### Databases and retention policies")
        .expect("the section after httpOut")
        + start;
    docs[start..end]
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|block| block.trim_start_matches('\n').to_owned())
        .filter(|block| block.starts_with("stream"))
        .collect()
}

/// Every example is accepted as written; the httpOut one serves the max of each host's window.
#[test]
fn doc_examples_run() {
    let server = Klaxond::start();
    let examples = doc_examples();
    assert_eq!(examples.len(), 7, "{examples:#?}");
    for (i, script) in examples.iter().enumerate() {
        let body = serde_json::json!({
            "id": format!("doc{i}"),
            "dbrps": [{"db": "telegraf", "rp": "autogen"}],
            "script": script,
            "status": "enabled",
        });
        let response = server.send("POST", "/kapacitor/v1/tasks", &body.to_string());
        assert_eq!(
            response.status().as_u16(),
            200,
            "{script}\n{:?}",
            response.text()
        );
    }
    let http_out = examples
        .iter()
        .position(|s| s.contains("httpOut('top_user')"))
        .expect("the httpOut example");
    let mut lines = String::new();
    for (t, user) in [(0, 3), (30, 7), (59, 5), (60, 1)] {
        lines.push_str(&format!(
            "cpu,host=a usage_user={user},usage_idle=50 {}\n",
            t + 60
        ));
    }
    let response = server.send(
        "POST",
        "/kapacitor/v1/write?db=telegraf&rp=autogen&precision=s",
        &lines,
    );
    assert_eq!(response.status().as_u16(), 204);
    let path = format!("/kapacitor/v1/tasks/doc{http_out}/top_user");
    let mut text = String::new();
    wait_for("the httpOut example's output", || {
        text = server.get(&path).text().unwrap();
        text != r#"{"series":null}"#
    });
    assert_eq!(
        text,
        // A selector keeps the selected point's other fields, as Kapacitor's simple selectors do.
        r#"{"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","max","usage_idle"],"values":[["1970-01-01T00:02:00Z",7,50]]}]}"#
    );
}

/// `|deadman()` on the wall clock: both groups go silent and alert within two intervals plus a
/// margin (a rate needs two samples), a group that comes back recovers, a group that never sent
/// anything never alerts. The ID names the group: Kapacitor's default ID is the same for every
/// group (the pipeline tests check it), and one ID shares one state in the topic.
#[test]
fn deadman_alerts_on_silence_and_recovers() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    let script = format!(
        "stream|from().measurement('cpu').groupBy('host')|deadman(0.0, 1s).id('silence {{{{ index .Tags \"host\" }}}}').details('').stateChangesOnly().tcp('{}')",
        sink.address()
    );
    define(&server, "silence", &script);
    let write = |host: &str| {
        let response = server.send(
            "POST",
            "/kapacitor/v1/write?db=dbname&rp=rpname",
            &format!("cpu,host={host} value=1\n"),
        );
        assert_eq!(response.status().as_u16(), 204);
    };
    let started = std::time::Instant::now();
    write("a");
    write("b");
    let mut critical: Vec<String> = (0..2)
        .map(|_| {
            let event: serde_json::Value = serde_json::from_str(sink.next().trim_end()).unwrap();
            assert_eq!(event["level"], "CRITICAL", "{event}");
            let host = event["data"]["series"][0]["tags"]["host"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(event["id"], format!("silence {host}"));
            assert_eq!(
                event["message"],
                format!("silence {host} is dead: 0.000 points/1s.")
            );
            host
        })
        .collect();
    let elapsed = started.elapsed();
    critical.sort();
    assert_eq!(critical, ["a", "b"]);
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "silence took {elapsed:?} to alert; two 1s intervals and a margin were expected"
    );
    write("b");
    let event: serde_json::Value = serde_json::from_str(sink.next().trim_end()).unwrap();
    assert_eq!(event["level"], "OK", "{event}");
    assert_eq!(event["data"]["series"][0]["tags"]["host"], "b");
    assert_eq!(event["previousLevel"], "CRITICAL");
    // One point in the interval: 1.000, unless a stalled machine delayed a tick past a whole
    // interval and the schedule restarted (the level is what matters).
    let message = event["message"].as_str().unwrap();
    assert!(message.starts_with("silence b is alive: "), "{message}");
    // Host c never wrote: it is no group of the deadman, and the topic knows only a and b.
    let topic = server.get("/kapacitor/v1/alerts/topics/main:silence:deadman2/events");
    let body: serde_json::Value = serde_json::from_str(&topic.text().unwrap()).unwrap();
    let mut ids: Vec<&str> = body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert!(
        ids == ["silence a", "silence b"] || ids == ["silence a"],
        "{body}"
    );
}
