//! `[load] dir`: handler files defined at every start, errors reported per file.

use klaxon_e2e::Klaxond;
use serde_json::Value;

use crate::cli_topics::{EXEC_CPU_HANDLER, TCP_CPU_HANDLER};

#[test]
fn handler_files_load_at_every_start_and_bad_ones_are_reported_by_name() {
    let load = tempfile::tempdir().unwrap();
    let handlers = load.path().join("handlers");
    std::fs::create_dir_all(&handlers).unwrap();
    std::fs::write(handlers.join("exec_cpu_handler.yaml"), EXEC_CPU_HANDLER).unwrap();
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
        handlers.join("slack.yaml"),
        "id: s\ntopic: cpu\nkind: slack\n",
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
    let slack = server.wait_for_log("slack.yaml");
    assert!(slack.contains("unsupported action kind"), "{slack}");
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
