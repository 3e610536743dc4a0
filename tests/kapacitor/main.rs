//! Kapacitor's own stream tests as a conformance suite: every case of Kapacitor's
//! `integrations/streamer_test.go` (and the stream-task alert tests of `server/server_test.go`)
//! is a file in `cases/`, with its TICKscript, replay data (`testdata/*.srpl`) and expected
//! output unchanged, run against a real klaxond. Cases that need what Klaxon does not have are
//! listed with the reason and not run; docs/kapacitor-differences.md has the table.
//!
//! Kapacitor's alert-handler tests check what their test servers received; a case declares the
//! same (`case.rs` documents each field): requests to an HTTP receiver (`{{ts.URL}}`) compared
//! as Go decodes them into the server's struct (`received`), alert JSON over TCP
//! (`{{ts.Addr}}`), log files in the case's temporary directory (`{{tmp}}`), exec runs
//! (recording programs stand at the paths the script names, as Kapacitor's fake commander),
//! mails to an SMTP server and SNMP traps to a UDP receiver (`sinks.rs`, `snmp.rs`).
//!
//! The cases share one klaxond and run one after another (each defines its task, replays its
//! data, checks and deletes the task), because Kapacitor's scripts name the database and
//! retention policy the data is written to. A case that needs configuration gets a klaxond of
//! its own. Its own harness (not libtest) keeps that one server for the whole run and stops it at
//! the end; it takes libtest's name filters and `--exact`, and prints libtest's summary.
//!
//! `cargo test -p klaxon-e2e --test kapacitor [NAME]`.

mod case;
mod compare;
mod live;
mod replay;
mod sinks;
mod snmp;
mod table;

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use klaxon_e2e::{DEADLINE, Klaxond, wait_for};
use klaxon_http::testing::{Answer, Receiver};
use serde_json::Value;

use case::Case;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let list = args.iter().any(|a| a == "--list");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected = |name: &str| {
        filters.is_empty()
            || filters.iter().any(|f| {
                if exact {
                    name == f.as_str()
                } else {
                    name.contains(f.as_str())
                }
            })
    };
    let cases = case::load_all();
    if list {
        for case in &cases {
            println!("{}: test", case.kapacitor);
        }
        return;
    }
    let (mut passed, mut failed, mut ignored, mut filtered) = (0, Vec::new(), 0, 0);
    const TABLE: &str = "conformance_table_is_current";
    if selected(TABLE) {
        match table::check(&cases) {
            Ok(()) => {
                println!("test {TABLE} ... ok");
                passed += 1;
            }
            Err(e) => {
                println!("test {TABLE} ... FAILED\n{e}");
                failed.push(TABLE.to_owned());
            }
        }
    } else {
        filtered += 1;
    }
    let mut shared: Option<Klaxond> = None;
    for case in &cases {
        if !selected(&case.kapacitor) {
            filtered += 1;
            continue;
        }
        if let Some(reason) = &case.skip {
            println!("test {} ... ignored, {reason}", case.kapacitor);
            ignored += 1;
            continue;
        }
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            if case.config.is_some() {
                run(case, None)
            } else {
                let server = shared.get_or_insert_with(Klaxond::start);
                run(case, Some(server))
            }
        }));
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(panic) => Some(
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panicked".to_owned()),
            ),
        };
        match error {
            None => {
                println!(
                    "test {} ... ok ({} ms)",
                    case.kapacitor,
                    started.elapsed().as_millis()
                );
                passed += 1;
            }
            Some(e) => {
                println!("test {} ... FAILED\n{e}\n", case.kapacitor);
                failed.push(case.kapacitor.clone());
                // A failed case may have left its task behind: the shared server starts afresh.
                shared = None;
            }
        }
    }
    drop(shared);
    let status = if failed.is_empty() { "ok" } else { "FAILED" };
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {status}. {passed} passed; {} failed; {ignored} ignored; 0 measured; {filtered} filtered out\n",
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(101);
    }
}

/// Runs one case on `shared`, or on a klaxond of its own when it has configuration.
fn run(case: &Case, shared: Option<&Klaxond>) -> Result<(), String> {
    let answers = case.statuses.iter().map(|s| Answer::status(*s)).collect();
    let receiver = case.uses_receiver().then(|| Receiver::http(answers));
    // Kapacitor's test server URL has no trailing slash; scripts append paths to it.
    let url = receiver
        .as_ref()
        .map(|r| r.url().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let testdata = case::suite_dir().join("testdata");
    let sinks = sinks::Sinks::start(case);
    let substitute = |text: &str| {
        sinks.substitute(
            case,
            &text
                .replace("{{ts.URL}}", &url)
                .replace("{{testdata}}", &testdata.display().to_string()),
        )
    };
    let own;
    let server = match (&case.config, shared) {
        (Some(config), _) => {
            own = Klaxond::builder().config(&substitute(config)).start();
            &own
        }
        (None, Some(shared)) => shared,
        (None, None) => unreachable!("a case without configuration runs on the shared server"),
    };
    let id = case.task_id();
    for other in &case.before {
        let dbrps: Vec<(&str, &str)> = other.dbrps.iter().map(|d| case::dbrp(d)).collect();
        let (status, answer) = server.define_task(&other.id, &substitute(&other.script), &dbrps);
        if status != 200 {
            return Err(format!(
                "defining task {} failed: {status} {answer}",
                other.id
            ));
        }
    }
    let mut dbrps: Vec<(&str, &str)> = case.dbrps.iter().map(|d| case::dbrp(d)).collect();
    if dbrps.is_empty() {
        dbrps.push(("dbname", "rpname"));
    }
    let (status, answer) = server.define_task(&id, &substitute(&case.script), &dbrps);
    if let Some(expected) = &case.refused {
        let error = answer["error"].as_str().unwrap_or_default();
        return if status == 400 && error.contains(expected.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "the task was to be refused with {expected:?}: {status} {answer}"
            ))
        };
    }
    if status != 200 {
        return Err(format!("defining the task failed: {status} {answer}"));
    }
    let result = check(case, server, &id, receiver.as_ref(), &sinks)
        .and_then(|()| sinks.check(case, || collected(server, &id)));
    for task in case
        .before
        .iter()
        .map(|t| t.id.as_str())
        .chain([id.as_str()])
    {
        let deleted = server.send("DELETE", &format!("/kapacitor/v1/tasks/{task}"), "");
        assert_eq!(deleted.status().as_u16(), 204, "delete task {task}");
    }
    result
}

/// Replays the data and compares what came out.
fn check(
    case: &Case,
    server: &Klaxond,
    id: &str,
    receiver: Option<&Receiver>,
    sinks: &sinks::Sinks,
) -> Result<(), String> {
    if let Some(live) = &case.live {
        let receiver = receiver.ok_or("a live case needs the script's {{ts.URL}}")?;
        return live::check(live, server, receiver);
    }
    if let Some(data) = &case.data {
        let path = case::suite_dir().join(format!("testdata/{data}.srpl"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
        replay::write(server, &replay::parse(&text));
    }
    if case.survives {
        let task: Value = server
            .get(&format!("/kapacitor/v1/tasks/{id}"))
            .json()
            .map_err(|e| format!("the task: {e}"))?;
        if task["executing"] != Value::Bool(true) || task["error"].as_str() != Some("") {
            return Err(format!(
                "the task did not survive its data: executing {}, error {}",
                task["executing"], task["error"]
            ));
        }
        let ping = server.get("/kapacitor/v1/ping").status().as_u16();
        if ping != 204 {
            return Err(format!(
                "the server answers ping with {ping} after the data"
            ));
        }
    }
    if let Some(expected) = &case.output {
        let name = case.data.as_deref().unwrap_or_default();
        let response = server.get(&format!("/kapacitor/v1/tasks/{id}/{name}"));
        let status = response.status().as_u16();
        let text = response.text().unwrap_or_default();
        if status != 200 {
            return Err(format!("httpOut answered {status}: {text}"));
        }
        let got: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        let expected: Value = serde_json::from_str(expected)
            .map_err(|e| format!("the case's output is not JSON: {e}"))?;
        compare::results(&expected, &got, case.ignore_order)
            .map_err(|e| format!("httpOut: {e}"))?;
    }
    if let Some(expected) = &case.node_stats {
        let expected: Value = serde_json::from_str(expected)
            .map_err(|e| format!("the case's node_stats is not JSON: {e}"))?;
        let task: Value = server
            .get(&format!("/kapacitor/v1/tasks/{id}"))
            .json()
            .map_err(|e| format!("the task: {e}"))?;
        compare::node_stats(&expected, &task["stats"]["node-stats"])?;
    }
    if !case.received.is_empty() {
        let count = case.received.len();
        let got = match receiver {
            Some(receiver) => sinks::take("request", count, |left| receiver.next_within(left))?,
            None => sinks.tcp_requests(count)?,
        };
        // What Kapacitor's test reads from its server (`tm.HTTPDService.URL()`, `ServerInfo`).
        // The API URL is named by the host name, as docs/kapacitor-differences.md says where
        // Kapacitor sends its listener's address.
        let vars: Value = server
            .get("/kapacitor/v1/debug/vars")
            .json()
            .map_err(|e| format!("/debug/vars: {e}"))?;
        let text = |key: &str| vars[key].as_str().unwrap_or_default().to_owned();
        let substitute = |body: &str| {
            let api = format!(
                "http://{}:{}/kapacitor/v1",
                text("host"),
                server.addr().port()
            );
            body.replace("{{kapacitor.URL}}", &api)
                .replace("{{ServerInfo.Hostname}}", &text("host"))
                .replace("{{ServerInfo.ClusterID}}", &text("cluster_id"))
                .replace("{{ServerInfo.ServerID}}", &text("server_id"))
        };
        let expected: Vec<case::Request> = case
            .received
            .iter()
            .map(|r| case::Request {
                body: substitute(&r.body),
                ..r.clone()
            })
            .collect();
        sinks::match_requests(&expected, &got, case.received_in_order)?;
        // Kapacitor compares the whole list its server recorded: one more is a failure.
        if let Some(extra) = receiver.and_then(|r| r.next_within(Duration::ZERO)) {
            return Err(format!(
                "an unexpected request: {} {}",
                extra.target,
                extra.text()
            ));
        }
    } else if let Some(receiver) = receiver {
        check_requests(case, server, id, receiver)?;
    }
    Ok(())
}

/// The requests the receiver got: as many as expected, each as expected, and no more.
fn check_requests(
    case: &Case,
    server: &Klaxond,
    id: &str,
    receiver: &Receiver,
) -> Result<(), String> {
    let count = case.requests.unwrap_or(
        case.alerts
            .len()
            .max(case.bodies.len())
            .max(case.raw_bodies.len())
            .max(case.targets.len()),
    );
    let alerting = !case.alerts.is_empty() || case.script.contains("|alert()");
    if alerting {
        // Every event was collected when the write returned: their number is final, and each
        // is delivered once, so waiting for that many requests leaves none to come.
        let collected = collected(server, id);
        if collected != count {
            return Err(format!(
                "the task's alert nodes emitted {collected} events; Kapacitor's test expects {count} requests"
            ));
        }
    }
    let deadline = Instant::now() + DEADLINE;
    for i in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(request) = receiver.next_within(left) else {
            return Err(format!("request {} of {count} never came", i + 1));
        };
        let body = request.text();
        if let Some(expected) = case.alerts.get(i) {
            let expected: Value = serde_json::from_str(expected)
                .map_err(|e| format!("alert {} of the case is not JSON: {e}", i + 1))?;
            let got: Value = serde_json::from_str(&body)
                .map_err(|e| format!("request {}: {e}: {body}", i + 1))?;
            compare::alert_data(&expected, &got, case.ignore_alert_data)
                .map_err(|e| format!("request {}: {e}", i + 1))?;
        }
        if let Some(expected) = case.bodies.get(i) {
            let expected: Value = serde_json::from_str(expected)
                .map_err(|e| format!("body {} of the case is not JSON: {e}", i + 1))?;
            let got: Value = serde_json::from_str(&body)
                .map_err(|e| format!("request {}: {e}: {body}", i + 1))?;
            compare::results(&expected, &got, false)
                .map_err(|e| format!("request {}: {e}", i + 1))?;
        }
        if let Some(expected) = case.raw_bodies.get(i)
            && *expected != body
        {
            return Err(format!(
                "request {}: body {body:?}, expected {expected:?}",
                i + 1
            ));
        }
        if let Some(expected) = case.targets.get(i)
            && *expected != request.target
        {
            return Err(format!(
                "request {}: target {:?}, expected {expected:?}",
                i + 1,
                request.target
            ));
        }
        if let Some((name, value)) = &case.header
            && request.header(name) != Some(value.as_str())
        {
            return Err(format!(
                "request {}: header {name} is {:?}, expected {value:?}",
                i + 1,
                request.header(name)
            ));
        }
    }
    if !alerting && let Some(extra) = receiver.next_within(Duration::ZERO) {
        return Err(format!(
            "an unexpected request: {} {}",
            extra.target,
            extra.text()
        ));
    }
    Ok(())
}

/// Events collected into the task's anonymous topics (`main:<task>:*`).
fn collected(server: &Klaxond, id: &str) -> usize {
    let mut total = 0;
    wait_for("the topics list", || {
        let response = server.get(&format!("/kapacitor/v1/alerts/topics?pattern=main:{id}:*"));
        let Ok(topics) = response.json::<Value>() else {
            return false;
        };
        total = topics["topics"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t["collected"].as_u64())
                    .sum::<u64>()
            })
            .unwrap_or(0) as usize;
        true
    });
    total
}
