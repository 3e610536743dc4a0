//! `[load] dir`: handler files and TICKscript tasks defined at every start, errors reported per
//! file.

use klaxon_e2e::{Klaxond, TcpSink};
use serde_json::{Value, json};

use crate::cli_topics::{EXEC_CPU_HANDLER, TCP_CPU_HANDLER};

#[test]
fn handler_files_load_at_every_start_and_bad_ones_are_reported_by_name() {
    let load = tempfile::tempdir().unwrap();
    let handlers = load.path().join("handlers");
    std::fs::create_dir_all(&handlers).unwrap();
    // The program moved to one that exists everywhere: an absent one is refused.
    std::fs::write(
        handlers.join("exec_cpu_handler.yaml"),
        EXEC_CPU_HANDLER.replace("/usr/bin/python", "/bin/sh"),
    )
    .unwrap();
    std::fs::write(handlers.join("tcp_cpu_handler.yml"), TCP_CPU_HANDLER).unwrap();
    std::fs::write(
        handlers.join("mem.json"),
        r#"{"id":"mem","topic":"mem","kind":"exec","options":{"prog":"/bin/true"},"match":"level() >= WARNING"}"#,
    )
    .unwrap();
    std::fs::write(
        handlers.join("broken.yaml"),
        "id: b\ntopic: cpu\nkind: [exec\n",
    )
    .unwrap();
    std::fs::write(
        handlers.join("zabbix.yaml"),
        "id: s\ntopic: cpu\nkind: zabbix\n",
    )
    .unwrap();
    std::fs::write(handlers.join("notes.txt"), "not a handler").unwrap();

    let mut server = Klaxond::builder()
        .config(&format!(
            "[load]\ndir = {:?}\n",
            load.path().display().to_string()
        ))
        .start();
    let ids = |server: &Klaxond, topic: &str| -> Vec<String> {
        let list: Value = server
            .get(&format!("/kapacitor/v1/alerts/topics/{topic}/handlers"))
            .json()
            .unwrap();
        list["handlers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&server, "cpu"), ["exec-cpu-alert", "tcp-cpu-alert"]);
    assert_eq!(ids(&server, "mem"), ["mem"]);
    let broken = server.wait_for_log("broken.yaml");
    assert!(broken.contains("line 3, column"), "{broken}");
    let zabbix = server.wait_for_log("zabbix.yaml");
    assert!(zabbix.contains("unsupported action kind"), "{zabbix}");
    server.wait_for_log("loaded=3 failed=2");

    // A changed file replaces the handler at the next start; loading again is idempotent.
    std::fs::write(
        handlers.join("tcp_cpu_handler.yml"),
        TCP_CPU_HANDLER.replace("7777", "7778"),
    )
    .unwrap();
    server.restart();
    assert_eq!(ids(&server, "cpu"), ["exec-cpu-alert", "tcp-cpu-alert"]);
    let tcp: Value = server
        .get("/kapacitor/v1/alerts/topics/cpu/handlers/tcp-cpu-alert")
        .json()
        .unwrap();
    assert_eq!(tcp["options"]["address"], "127.0.0.1:7778");
}

#[test]
fn task_files_load_enabled_at_every_start_and_bad_ones_are_reported_by_name() {
    let sink = TcpSink::start();
    let load = tempfile::tempdir().unwrap();
    let tasks = load.path().join("tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    std::fs::write(
        tasks.join("cpu_alert.tick"),
        format!(
            "dbrp \"telegraf\".\"autogen\"\n\nstream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .tcp('{}')\n",
            sink.address()
        ),
    )
    .unwrap();
    // The `(` of `.measurement(` is never closed.
    std::fs::write(
        tasks.join("bad.tick"),
        "stream\n  |from()\n    .measurement('cpu'\n  |alert()\n",
    )
    .unwrap();
    std::fs::write(tasks.join("README.md"), "not a task").unwrap();

    let mut server = Klaxond::builder()
        .config(&format!(
            "[load]\ndir = {:?}\n",
            load.path().display().to_string()
        ))
        .start();
    let check_tasks = |server: &Klaxond| {
        let list: Value = server.get("/kapacitor/v1/tasks").json().unwrap();
        let tasks = list["tasks"].as_array().unwrap();
        let ids: Vec<&str> = tasks.iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["cpu_alert"], "{list:#}");
        assert_eq!(tasks[0]["status"], "enabled");
        assert_eq!(tasks[0]["executing"], true);
        assert_eq!(
            tasks[0]["dbrps"],
            json!([{"db": "telegraf", "rp": "autogen"}])
        );
    };
    let fires = |server: &Klaxond| {
        let response = server.send(
            "POST",
            "/write?db=telegraf&rp=autogen",
            "cpu,host=serverA usage_idle=5",
        );
        assert_eq!(response.status(), 204);
        let alert = sink.next_json();
        assert_eq!(alert["level"], "CRITICAL", "{alert}");
        assert_eq!(alert["data"]["series"][0]["tags"]["host"], "serverA");
    };
    check_tasks(&server);
    fires(&server);
    let bad = server.wait_for_log("bad.tick");
    assert!(bad.contains("line 4, column"), "{bad}");
    server.wait_for_log("loaded=1 failed=1");

    // Loading again replaces the task's script: no duplicate, still enabled, still running.
    server.restart();
    check_tasks(&server);
    fires(&server);
}
