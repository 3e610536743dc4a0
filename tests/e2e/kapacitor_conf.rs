//! Kapacitor's `kapacitor.conf` read as it is by a real klaxond: Kapacitor's own packaged file
//! and a typical production one start the server with one warning naming what Klaxon does not
//! implement yet; `klaxond config --from-kapacitor` prints the equivalent klaxon.toml; a key
//! that neither has is still refused. And `klaxond`'s own command line: its help, Kapacitor's
//! `kapacitord run` flags, and `hash-password` on a terminal.

use std::path::PathBuf;

use klaxon_e2e::{Klaxond, run_klaxond, workspace_root};
use serde_json::Value;

/// The file in `tests/data/kapacitor/`.
fn data(name: &str) -> PathBuf {
    workspace_root().join("tests/data/kapacitor").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

/// A klaxond with `text` as its whole configuration; the log to stderr, where the harness reads
/// it (the files name /var/log/kapacitor/kapacitor.log), and no load directory.
fn start(text: &str) -> Klaxond {
    Klaxond::builder()
        .verbatim_config(text)
        .env("KLAXON_LOGGING_FILE", "STDERR")
        .env("KLAXON_LOAD_DIR", "")
        .start()
}

/// The startup warnings about Kapacitor's settings.
fn warnings(server: &Klaxond) -> Vec<String> {
    server
        .log_text()
        .lines()
        .filter(|l| l.contains("Kapacitor settings that Klaxon does not implement yet"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn kapacitors_own_default_file_starts_with_one_warning() {
    let server = start(&read("kapacitor.conf"));
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
    let warnings = warnings(&server);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let warning = &warnings[0];
    assert!(
        warning.starts_with("ts=") && warning.contains(" lvl=warn "),
        "{warning}"
    );
    // What Kapacitor has and Klaxon does not implement, named; in use first.
    for item in [
        "hostname",
        "skip-config-overrides",
        "[http] log-enabled",
        "[http] pprof-enabled",
        "[replay]",
        "[storage]",
        "[task]",
        "[reporting]",
        "[stats]",
        "[udf]",
    ] {
        assert!(warning.contains(item), "no {item} in {warning}");
    }
    let disabled = &warning[warning.find("disabled in the file").unwrap()..];
    for item in [
        "[fluxtask]",
        "[kubernetes]",
        "[[scraper]]",
        "[collectd]",
        "[hipchat]",
    ] {
        assert!(disabled.contains(item), "no disabled {item} in {warning}");
    }
    // What Klaxon implements is used, and not named.
    for item in [
        "[smtp]",
        "[[slack]]",
        "[pagerduty2]",
        "[http] bind-address",
        "[logging]",
    ] {
        assert!(!warning.contains(item), "{item} named in {warning}");
    }
    let config: Value = server
        .get("/kapacitor/v1/config/pagerduty2")
        .json()
        .unwrap();
    assert_eq!(
        config["elements"][0]["options"]["url"],
        "https://events.pagerduty.com/v2/enqueue"
    );
}

#[test]
fn a_production_file_starts_with_its_handlers_configured() {
    let server = start(&read("production.conf"));
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
    let warnings = warnings(&server);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("[stats]"), "{}", warnings[0]);
    assert!(!warnings[0].contains("[smtp]"), "{}", warnings[0]);
    let option = |section: &str, key: &str| -> Value {
        let config: Value = server
            .get(&format!("/kapacitor/v1/config/{section}"))
            .json()
            .unwrap();
        config["elements"][0]["options"][key].clone()
    };
    assert_eq!(option("smtp", "host"), "smtp.example.com");
    assert_eq!(option("smtp", "password"), true, "redacted");
    assert_eq!(option("slack", "channel"), "#alerts");
    assert_eq!(option("opsgenie2", "recovery_action"), "close");
    assert_eq!(option("telegram", "chat-id"), "-1001234567890");
    let posts: Value = server.get("/kapacitor/v1/config/httppost").json().unwrap();
    let endpoints: Vec<&str> = posts["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["options"]["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, ["alertmanager", "webhook"]);
}

#[test]
fn from_kapacitor_prints_a_klaxon_toml_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = data("kapacitor.conf");
    let output = run_klaxond(
        &["config", "--from-kapacitor", path.to_str().unwrap()],
        dir.path(),
    );
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(
            "# Translated from a Kapacitor configuration by `klaxond config --from-kapacitor`.\n\
             # It has the passwords and tokens of that file: keep it as private as the file.\n\
             # Left out, as Klaxon does not implement them yet:\n"
        ),
        "{text}"
    );
    assert!(text.contains("#   [replay]\n"), "{text}");
    assert!(
        text.contains("#   [kubernetes] (disabled in the file)\n"),
        "{text}"
    );
    assert!(text.contains("data-dir = \"/var/lib/kapacitor\""), "{text}");
    assert!(text.contains("bind-address = \":9092\""), "{text}");
    // The translation is a Klaxon configuration: it starts without a warning.
    let server = start(&text);
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
    assert!(warnings(&server).is_empty(), "{}", server.log_text());

    // The production file's secrets are carried over, so that its handlers work as they did.
    let path = data("production.conf");
    let output = run_klaxond(
        &["config", "--from-kapacitor", path.to_str().unwrap()],
        dir.path(),
    );
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains("(redacted"), "{text}");
    let server = start(&text);
    let smtp: Value = server.get("/kapacitor/v1/config/smtp").json().unwrap();
    assert_eq!(smtp["elements"][0]["options"]["password"], true, "{smtp}");
    assert_eq!(smtp["elements"][0]["options"]["host"], "smtp.example.com");
}

#[test]
fn a_key_neither_has_is_still_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let original = read("kapacitor.conf");
    for (typo, expected) in [
        (
            original.replacen("bind-address = \":9092\"", "bind-adress = \":9092\"", 1),
            "unknown key \"bind-adress\"",
        ),
        (
            format!("{original}\n[nosuch]\n  enabled = true\n"),
            "unknown section [nosuch]",
        ),
        (format!("hostnme = \"x\"\n{original}"), "hostnme"),
    ] {
        assert_ne!(typo, original);
        let path = dir.path().join("kapacitor.conf");
        std::fs::write(&path, &typo).unwrap();
        let output = run_klaxond(&["--config", path.to_str().unwrap()], dir.path());
        assert!(!output.status.success(), "{expected}: {output:?}");
        let err = String::from_utf8(output.stderr).unwrap();
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn klaxond_help_says_what_it_is_and_hash_password_lists_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let help = String::from_utf8(run_klaxond(&["--help"], dir.path()).stdout).unwrap();
    assert!(
        help.starts_with("Klaxon's alert server, compatible with InfluxData's Kapacitor"),
        "{help}"
    );
    for flag in [
        "--config",
        "--pidfile",
        "--log-file",
        "--log-level",
        "--disable-handlers",
    ] {
        assert!(help.contains(flag), "no {flag} in {help}");
    }
    let help =
        String::from_utf8(run_klaxond(&["hash-password", "--help"], dir.path()).stdout).unwrap();
    assert!(!help.contains("--config"), "{help}");
    assert!(!help.contains("--disable-handlers"), "{help}");
}

#[test]
fn kapacitord_run_flags_work() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("run/klaxond.pid");
    let log = dir.path().join("klaxond.log");
    let mut server = Klaxond::builder()
        .arg("-pidfile")
        .arg(pidfile.to_str().unwrap())
        .arg("-log-level")
        .arg("debug")
        .start();
    klaxon_e2e::wait_for("the pid file", || pidfile.exists());
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        server.pid().to_string()
    );
    // At debug level, a task's alert events are logged.
    server.define_task(
        "t",
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE)",
        &[],
    );
    let response = server.send("POST", "/write?db=telegraf", "cpu v=1");
    assert_eq!(response.status(), 204);
    klaxon_e2e::wait_for("a debug line", || {
        server
            .log_text()
            .contains("lvl=debug msg=\"alert event\" task=t")
    });
    server.stop();
    assert!(!pidfile.exists(), "the pid file is removed at exit");
    let output = run_klaxond(
        &["-log-file", log.to_str().unwrap(), "-log-level", "loud"],
        dir.path(),
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("-log-level: invalid log level \"loud\"; use debug, info, warn or error"),
        "{output:?}"
    );
}

/// Rough edge: `klaxond hash-password` on a terminal echoed the password and gave no prompt.
#[test]
fn hash_password_on_a_terminal_prompts_and_hides_the_password() {
    // A pseudo-terminal through Python's pty module: the test types the password twice and
    // reads everything the terminal shows.
    let script = r#"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "hash-password"])
out = b""
def read_until(needle):
    global out
    deadline = time.time() + 60
    while needle not in out and time.time() < deadline:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
read_until(b"Password: ")
os.write(fd, b"s3cr3t-horse\n")
read_until(b"Confirm password: ")
os.write(fd, b"s3cr3t-horse\n")
read_until(b"$argon2id$")
read_until(b"\n$")
try:
    while True:
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        out += chunk
except OSError:
    pass
os.waitpid(pid, 0)
sys.stdout.write(out.decode())
"#;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(klaxon_e2e::klaxond_bin())
        .output()
        .expect("python3 runs");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.starts_with("Password: "), "{shown:?}");
    assert!(shown.contains("Confirm password: "), "{shown:?}");
    assert!(shown.contains("$argon2id$v=19$"), "{shown:?}");
    assert!(
        !shown.contains("s3cr3t-horse"),
        "the password was echoed: {shown:?}"
    );
}
