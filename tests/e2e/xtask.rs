//! `cargo xtask new-handler`, run for real on copies of the workspace: it refuses bad names and
//! writes nothing, and the crate it generates builds, passes its own tests and lints, and runs in
//! the klaxond it was bundled into.
//!
//! The copies build into one dedicated target directory, `<target>/xtask-e2e`: never the target
//! directory of this test run (whose klaxond the other tests use), and the same on every run so
//! that dependencies are built once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use klaxon_e2e::{Klaxond, copy_workspace, wait_for, xtask_bin};
use serde_json::json;

/// Every file under `root` with its contents, to compare before and after.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("list directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                files.insert(path.clone(), Vec::new());
                pending.push(path);
            } else {
                let contents = std::fs::read(&path).expect("read file");
                files.insert(path, contents);
            }
        }
    }
    files
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn new_handler_refuses_bad_or_taken_names_and_writes_nothing() {
    let copy = tempfile::tempdir().expect("temporary directory");
    copy_workspace(copy.path());
    // A directory in the way, without a crate in it yet.
    std::fs::create_dir(copy.path().join("crates/handlers/pager")).expect("create directory");
    let before = snapshot(copy.path());

    let cases = [
        (
            "Pager",
            "refusing \"Pager\": handler kind \"Pager\" is not a valid name: use lowercase \
             letters, digits and '-', starting with a letter",
        ),
        (
            "exec",
            "refusing \"exec\": crates/handlers/exec already exists; choose another name, or \
             remove the directory",
        ),
        (
            "fixture",
            "refusing \"fixture\": tests/fixtures/handler/src/lib.rs already registers the kind \
             \"fixture\"; choose another name",
        ),
        (
            "pager",
            "refusing \"pager\": crates/handlers/pager already exists; choose another name, or \
             remove the directory",
        ),
    ];
    for (name, expected) in cases {
        let output = Command::new(xtask_bin())
            .args(["new-handler", name, "--root"])
            .arg(copy.path())
            .output()
            .expect("run xtask");
        assert_eq!(output.status.code(), Some(1), "{name}: {output:?}");
        assert_eq!(text(&output.stderr), format!("error: {expected}\n"));
        assert_eq!(text(&output.stdout), "");
        assert!(
            snapshot(copy.path()) == before,
            "{name}: something was written"
        );
    }
}

/// Runs cargo in the workspace copy `dir`, building into the dedicated target directory, and
/// returns the output; fails the test with it if cargo fails.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let started = Instant::now();
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        // Everything the copy needs is in Cargo.lock and was fetched to build this test.
        .env("CARGO_NET_OFFLINE", "true")
        .output()
        .expect("run cargo");
    eprintln!("cargo {} took {:?}", args.join(" "), started.elapsed());
    assert!(
        output.status.success(),
        "cargo {} failed in the copy:\n{}{}",
        args.join(" "),
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// `<target>/xtask-e2e`, beside the profile directories of the target directory of this test.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/e2e-hash -> target
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test executable lives in target/<profile>/deps");
    target.join("xtask-e2e")
}

#[test]
fn a_generated_handler_builds_passes_its_checks_and_runs_in_klaxond() {
    let started = Instant::now();
    let copy = tempfile::tempdir().expect("temporary directory");
    copy_workspace(copy.path());
    let dir = copy.path();

    let output = cargo(dir, &["xtask", "new-handler", "pager"]);
    let printed = text(&output.stdout);
    assert!(
        printed.starts_with("created crates/handlers/pager/Cargo.toml\n"),
        "{printed}"
    );
    assert!(
        printed.contains("cargo test -p klaxon-handler-pager"),
        "{printed}"
    );

    let package = "klaxon-handler-pager";
    cargo(dir, &["fmt", "--check", "-p", package]);
    cargo(
        dir,
        &[
            "clippy",
            "-p",
            package,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    );
    cargo(dir, &["test", "-p", package]);
    cargo(dir, &["build", "-p", "klaxond"]);
    let klaxond = target_dir().join("debug/klaxond");

    let version = Command::new(&klaxond)
        .arg("version")
        .output()
        .expect("run klaxond");
    let mut kinds = klaxon_e2e::bundled_kinds();
    kinds.push("pager".to_owned());
    kinds.sort();
    assert!(
        text(&version.stdout).ends_with(&format!("\nhandlers: {}\n", kinds.join(", "))),
        "{version:?}"
    );

    let alerts = dir.join("alerts.jsonl");
    let server = Klaxond::builder()
        .binary(klaxond)
        .config(&format!("[pager]\nenabled = true\npath = {alerts:?}\n"))
        // The route that posts events straight into a topic.
        .config("[alert]\ntest-events = true\n")
        .start();
    let list: serde_json::Value = server
        .get("/kapacitor/v1/service-tests")
        .json()
        .expect("JSON");
    let names: Vec<&str> = list["services"]
        .as_array()
        .expect("a list of services")
        .iter()
        .map(|s| s["name"].as_str().expect("a name"))
        .collect();
    let mut sections = klaxon_e2e::bundled_sections();
    sections.push("pager".to_owned());
    sections.sort();
    assert_eq!(names, sections);

    // The generated handler works as generated: its service test appends a sample alert.
    let response = server.send("POST", "/kapacitor/v1/service-tests/pager", "{}");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().expect("body"),
        "{\"success\":true,\"message\":\"\"}\n"
    );
    let written = std::fs::read_to_string(&alerts).expect("the alert file");
    assert!(
        written.contains(r#""message":"test pager message""#),
        "{written}"
    );

    // A handler file with `kind: pager`, defined with the CLI, gets its topic's events.
    let cpu = dir.join("cpu.jsonl");
    let file = format!("id: pager-cpu\ntopic: cpu\nkind: pager\noptions:\n  path: {cpu:?}\n");
    std::fs::write(server.dir().join("pager.yaml"), file).expect("write the handler file");
    let output = server.cli(&["define-topic-handler", "pager.yaml"]);
    assert!(output.status.success(), "{output:?}");
    let event = json!({"id": "cpu:nil", "message": "cpu is CRITICAL", "level": "CRITICAL"});
    let events = "/kapacitor/v1/alerts/topics/cpu/events";
    let response = server.send("POST", events, &event.to_string());
    assert_eq!(response.status(), 200, "{}", response.text().expect("body"));
    wait_for("the pager handler to append the event", || {
        std::fs::read_to_string(&cpu).is_ok_and(|text| text.contains("cpu is CRITICAL"))
    });

    // A TICKscript task with the generated handler inline, its option set by the chained
    // `.path(...)` the template declares, fires on a written point.
    let paged = server.dir().join("paged.jsonl");
    let tick = format!(
        "stream|from().measurement('cpu')|alert().crit(lambda: \"usage_idle\" < 10).pager().path('{}')",
        paged.display()
    );
    std::fs::write(server.dir().join("cpu.tick"), tick).expect("write the TICKscript");
    for args in [
        &["define", "cpu_alert", "-tick", "cpu.tick"][..],
        &["enable", "cpu_alert"],
    ] {
        let output = server.cli(args);
        assert!(output.status.success(), "klaxon {args:?}: {output:?}");
    }
    let response = server.send("POST", "/write?db=telegraf", "cpu,host=a usage_idle=5");
    assert_eq!(response.status(), 204, "{}", response.text().expect("body"));
    wait_for("the task's pager handler to append the alert", || {
        std::fs::read_to_string(&paged).is_ok_and(|text| text.contains(r#""level":"CRITICAL""#))
    });
    eprintln!("the whole flow took {:?}", started.elapsed());
}
