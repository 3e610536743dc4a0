//! The `klaxon` task commands against a real klaxond, as a Kapacitor user works: define, edit
//! the script and define again, enable, show with the graph's counters; and the rough edges of
//! issue #16 (a redefinition refused, unknown IDs accepted silently, errors without their
//! position or their advice), each reproduced.

use std::process::Output;

use klaxon_e2e::{Klaxond, TcpSink, wait_for};
use serde_json::Value;

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn ok(server: &Klaxond, args: &[&str]) -> String {
    let output = server.cli(args);
    assert!(output.status.success(), "klaxon {args:?}: {output:?}");
    text(&output).0
}

/// Runs a command expected to fail with `code`; its standard error.
fn fails(server: &Klaxond, args: &[&str], code: i32) -> String {
    let output = server.cli(args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "klaxon {args:?}: {output:?}"
    );
    let (stdout, stderr) = text(&output);
    assert!(stdout.is_empty(), "{stdout}");
    stderr
}

fn script(sink: &TcpSink, message: &str) -> String {
    format!(
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    \
         .message('{message}')\n    .tcp('{}')\n",
        sink.address()
    )
}

/// `klaxond hash-password` with the password piped in.
pub fn hash_password(password: &str) -> String {
    let mut child = std::process::Command::new(klaxon_e2e::klaxond_bin())
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        format!("{password}\n").as_bytes(),
    )
    .unwrap();
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .trim_end()
        .to_owned()
}

fn write(server: &Klaxond, body: &str) {
    let response = server.send("POST", "/write?db=telegraf&precision=s", body);
    assert_eq!(response.status(), 204);
}

fn task(server: &Klaxond, id: &str) -> Value {
    server
        .get(&format!("/kapacitor/v1/tasks/{id}"))
        .json()
        .unwrap()
}

/// Rough edge: `klaxon define ID -tick FILE` of an existing task failed with "already exists";
/// Kapacitor's daily routine is to edit the script and define it again, which reloads it.
#[test]
fn define_again_after_editing_the_script_updates_and_reloads_the_task() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    let file = server.dir().join("cpu.tick");
    std::fs::write(&file, script(&sink, "first")).unwrap();
    assert_eq!(ok(&server, &["define", "cpu", "-tick", "cpu.tick"]), "");
    // Kapacitor creates the task disabled.
    assert_eq!(task(&server, "cpu")["status"], "disabled");
    assert_eq!(ok(&server, &["enable", "cpu"]), "");
    write(&server, "cpu,host=a usage_idle=5 1");
    assert_eq!(sink.next_json()["message"], "first");

    std::fs::write(&file, script(&sink, "second")).unwrap();
    assert_eq!(ok(&server, &["define", "cpu", "-tick", "cpu.tick"]), "");
    let shown = task(&server, "cpu");
    assert_eq!(shown["status"], "enabled");
    assert_eq!(shown["executing"], true);
    assert!(shown["script"].as_str().unwrap().contains("'second'"));
    write(&server, "cpu,host=a usage_idle=5 2");
    assert_eq!(sink.next_json()["message"], "second");

    // Only the given property changes: the dbrps, then back to every database.
    assert_eq!(
        ok(&server, &["define", "cpu", "-dbrp", "telegraf.autogen"]),
        ""
    );
    let shown = task(&server, "cpu");
    assert_eq!(
        shown["dbrps"],
        serde_json::json!([{"db": "telegraf", "rp": "autogen"}])
    );
    assert!(shown["script"].as_str().unwrap().contains("'second'"));

    // -no-reload leaves the running task alone (the new script is stored and started by the
    // server, as Kapacitor's PATCH does); the task stays enabled either way.
    std::fs::write(&file, script(&sink, "third")).unwrap();
    assert_eq!(
        ok(
            &server,
            &["define", "cpu", "-tick", "cpu.tick", "-no-reload"]
        ),
        ""
    );
    assert_eq!(task(&server, "cpu")["status"], "enabled");

    // Each definition, stop and deletion is logged.
    assert_eq!(ok(&server, &["delete", "tasks", "cpu"]), "");
    let log = server.log_text();
    for needle in [
        "msg=\"task defined\" task=cpu status=disabled",
        "msg=\"task updated\" task=cpu status=enabled changed=status",
        "changed=script",
        "changed=dbrps",
        "msg=\"task stopped\" task=cpu",
        "msg=\"task deleted\" task=cpu",
    ] {
        assert!(log.contains(needle), "no {needle:?} in:\n{log}");
    }
}

/// Rough edge: `enable`, `disable`, `reload` and `delete tasks` of an ID that does not exist
/// exited 0 and did nothing.
#[test]
fn task_commands_on_unknown_ids_fail_naming_them() {
    let server = Klaxond::start();
    for command in ["enable", "disable", "reload"] {
        let err = fails(&server, &[command, "nosuch"], 3);
        assert_eq!(
            err,
            "Error: no task \"nosuch\"; 'klaxon list tasks' shows them\n"
        );
    }
    let err = fails(&server, &["delete", "tasks", "nosuch*"], 3);
    assert_eq!(
        err,
        "Error: no task matches \"nosuch*\"; 'klaxon list tasks' shows them\n"
    );
    // A new task needs its script.
    let err = fails(&server, &["define", "new"], 2);
    assert!(err.contains("-tick FILE"), "{err}");
}

/// Rough edge: a TICKscript error showed no caret; now the file, line and column, the line and a
/// caret under the column.
#[test]
fn tickscript_errors_point_at_the_file_line_and_column() {
    let server = Klaxond::start();
    std::fs::write(
        server.dir().join("bad.tick"),
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(\"usage_idle\" < 10)\n",
    )
    .unwrap();
    let err = fails(&server, &["define", "bad", "-tick", "bad.tick"], 3);
    assert_eq!(
        err,
        "Error: invalid TICKscript: line 5, column 11: missing 'lambda:' before the expression; \
         write .crit(lambda: ...)\n --> bad.tick:5:11\n  |\n5 |     .crit(\"usage_idle\" < 10)\n  \
         |           ^\n"
    );
    // A file that cannot be read says so.
    let err = fails(&server, &["define", "bad", "-tick", "missing.tick"], 3);
    assert!(
        err.starts_with("Error: cannot read TICKscript missing.tick: "),
        "{err}"
    );
}

/// `klaxon show` prints Kapacitor's layout, with the node counters in the DOT graph while the
/// task runs; the task JSON has Kapacitor's `stats.node-stats`.
#[test]
fn show_has_kapacitors_layout_and_the_counters_of_each_node() {
    let server = Klaxond::start();
    std::fs::write(
        server.dir().join("cpu.tick"),
        "stream\n  |from()\n    .measurement('cpu')\n  |where(lambda: \"host\" == 'a')\n  \
         |alert()\n    .warn(lambda: \"v\" > 5)\n    .crit(lambda: \"v\" > 10)\n",
    )
    .unwrap();
    ok(
        &server,
        &[
            "define",
            "cpu",
            "-tick",
            "cpu.tick",
            "-dbrp",
            "telegraf.autogen",
        ],
    );
    let stopped = ok(&server, &["show", "cpu"]);
    assert!(
        stopped.ends_with(
            "DOT:\ndigraph cpu {\nstream0 -> from1;\nfrom1 -> where2;\nwhere2 -> alert3;\n}\n"
        ),
        "{stopped}"
    );
    ok(&server, &["enable", "cpu"]);
    write(
        &server,
        "cpu,host=a v=1 1\ncpu,host=a v=7 2\ncpu,host=b v=20 3\ncpu,host=a v=20 4\nmem,host=a v=1 5",
    );
    let lines: Vec<String> = ok(&server, &["show", "cpu"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines[0], "ID: cpu");
    assert_eq!(lines[1], "Error: ");
    assert_eq!(lines[2], "Template: ");
    assert_eq!(lines[3], "Type: stream");
    assert_eq!(lines[4], "Status: enabled");
    assert_eq!(lines[5], "Executing: true");
    assert!(lines[6].starts_with("Created: "));
    assert_eq!(
        lines[9],
        "Databases Retention Policies: [\"telegraf\".\"autogen\"]"
    );
    assert_eq!(lines[10], "TICKscript:");
    let dot = lines[lines.iter().position(|l| l == "DOT:").unwrap() + 1..].join("\n");
    assert_eq!(
        dot,
        "digraph cpu {\ngraph [throughput=\"0.00 points/s\"];\n\n\
         stream0 [errors=\"0\" working_cardinality=\"0\" ];\nstream0 -> from1 [processed=\"5\"];\n\n\
         from1 [errors=\"0\" working_cardinality=\"0\" ];\nfrom1 -> where2 [processed=\"4\"];\n\n\
         where2 [errors=\"0\" working_cardinality=\"1\" ];\nwhere2 -> alert3 [processed=\"3\"];\n\n\
         alert3 [alerts_inhibited=\"0\" alerts_triggered=\"2\" crits_triggered=\"1\" errors=\"0\" \
         infos_triggered=\"0\" oks_triggered=\"0\" warns_triggered=\"1\" working_cardinality=\"1\" ];\n}"
    );
    let stats = &task(&server, "cpu")["stats"];
    assert_eq!(stats["node-stats"]["from1"]["collected"], 5);
    assert_eq!(stats["node-stats"]["from1"]["emitted"], 4);
    assert_eq!(stats["node-stats"]["alert3"]["alerts_triggered"], 2);
    assert_eq!(stats["node-stats"]["alert3"]["emitted"], 0);
    assert_eq!(stats["node-stats"]["where2"]["working_cardinality"], 1);
    assert!(stats["task-stats"]["throughput"].is_number());
}

/// Rough edge: the CLI printed an error's short `error` and dropped the `message` that says
/// what to do (here, how to give credentials).
#[test]
fn server_errors_are_shown_whole() {
    let hash = hash_password("s3cr3t");
    let server = Klaxond::builder()
        .config(&format!(
            "[http]\nauth-enabled = true\n[[http.users]]\nname = \"alice\"\npassword = \"{hash}\"\n\
             permission = \"admin\"\n"
        ))
        .start();
    let response = server.get("/kapacitor/v1/tasks");
    let body: Value = response.json().unwrap();
    let message = body["message"].as_str().unwrap().to_owned();
    assert_ne!(body["error"], body["message"], "{body}");
    let err = fails(&server, &["list", "tasks"], 3);
    assert_eq!(err, format!("Error: {message}\n"));
    // Failed logins are logged, as refusals of permission are.
    let url = server.url().replace("http://", "http://alice:wrong@");
    let output = std::process::Command::new(klaxon_e2e::klaxon_bin())
        .args(["-url", &url, "list", "tasks"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    wait_for("the failed login in the log", || {
        server
            .log_text()
            .contains("msg=\"request refused by authentication\"")
            && server.log_text().contains("unknown user or wrong password")
    });
}

/// Rough edge: `-url 'not a url'` said "is klaxond running?".
#[test]
fn a_url_that_is_not_one_says_so() {
    for url in ["not a url", "localhost:9092", "http://", "ftp://host:9092"] {
        let output = std::process::Command::new(klaxon_e2e::klaxon_bin())
            .args(["-url", url, "list", "tasks"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(4), "{url}: {output:?}");
        let err = text(&output).1;
        assert!(err.contains("write it like http://localhost:9092"), "{err}");
        assert!(!err.contains("running"), "{err}");
    }
    // A server that is not there is a connection error, with its hint.
    let output = std::process::Command::new(klaxon_e2e::klaxon_bin())
        .args(["-url", "http://127.0.0.1:9", "list", "tasks"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    assert!(text(&output).1.contains("is klaxond running there?"));
}
