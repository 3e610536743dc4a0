//! The `klaxon` commands about the server and its data against a real klaxond: `stats`, `vars`,
//! `level`, `logs`, `watch`, `backup`, `version`, `help`, `service-tests` with options, and the
//! recording commands on a server that has no recordings.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use klaxon_e2e::{DEADLINE, Klaxond, TcpSink, klaxon_bin, wait_for};

fn ok(server: &Klaxond, args: &[&str]) -> String {
    let output = server.cli(args);
    assert!(output.status.success(), "klaxon {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn err(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write(server: &Klaxond, query: &str, body: &str) {
    let response = server.send("POST", &format!("/write?{query}"), body);
    assert_eq!(response.status(), 204);
}

/// A `klaxon` command that runs until it is killed (`logs`, `watch`), its output read as it
/// comes.
struct Streaming {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: String,
}

impl Streaming {
    fn start(server: &Klaxond, args: &[&str]) -> Streaming {
        let mut child = Command::new(klaxon_bin())
            .args(args)
            .env("KLAXON_URL", server.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        Streaming {
            child,
            lines,
            seen: String::new(),
        }
    }

    /// Takes what has arrived, waiting a little for it.
    fn poll(&mut self) {
        if let Ok(chunk) = self.lines.recv_timeout(Duration::from_millis(50)) {
            self.seen.push_str(&chunk);
        }
        self.seen.extend(self.lines.try_iter());
    }

    /// Everything received until it contains `needle`; panics after [`DEADLINE`].
    fn until(&mut self, needle: &str) -> &str {
        let start = std::time::Instant::now();
        while !self.seen.contains(needle) {
            assert!(
                start.elapsed() < DEADLINE,
                "no {needle:?} in:\n{}",
                self.seen
            );
            if let Ok(chunk) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push_str(&chunk);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                let _ = self
                    .child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr);
                panic!("the command ended ({status}): {stderr}\n{}", self.seen);
            }
        }
        &self.seen
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn stats_and_vars_show_the_server() {
    let server = Klaxond::start();
    server.define_task("cpu", "stream|from().measurement('cpu')", &[]);
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu v=1\ncpu v=2\nmem v=1",
    );
    let general = ok(&server, &["stats", "general"]);
    let lines: Vec<&str> = general.lines().collect();
    assert_eq!(lines.len(), 8, "{general}");
    for (line, name) in lines.iter().zip([
        "ClusterID:",
        "ServerID:",
        "Host:",
        "Tasks:",
        "Enabled Tasks:",
        "Subscriptions:",
        "Platform:",
        "Version:",
    ]) {
        assert!(line.starts_with(&format!("{name:<30}")), "{general}");
    }
    assert_eq!(lines[3].trim_end(), format!("{:<30}1", "Tasks:"));
    assert_eq!(lines[4].trim_end(), format!("{:<30}1", "Enabled Tasks:"));
    assert_eq!(lines[6].trim_end(), format!("{:<30}Klaxon", "Platform:"));

    let ingress = ok(&server, &["stats", "ingress"]);
    assert_eq!(
        ingress,
        format!(
            "{:<9}{:<17}{:<12}Points Received\n{:<9}{:<17}{:<12}{:>15}\n{:<9}{:<17}{:<12}{:>15}\n",
            "Database",
            "Retention Policy",
            "Measurement",
            "telegraf",
            "autogen",
            "cpu",
            2,
            "telegraf",
            "autogen",
            "mem",
            1
        )
    );

    let vars: serde_json::Value = serde_json::from_str(&ok(&server, &["vars"])).unwrap();
    assert_eq!(vars["num_tasks"], 1);
    assert!(vars["kapacitor"].is_object());
}

#[test]
fn level_changes_the_running_servers_log_level() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    assert_eq!(ok(&server, &["level", "debug"]), "");
    wait_for("the level change in the log", || {
        server
            .log_text()
            .contains("msg=\"log level changed\" level=debug")
    });
    // A debug line appears now: a delivery that succeeds at once is logged at debug level.
    server.define_task(
        "d",
        &format!(
            "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).tcp('{}')",
            sink.address()
        ),
        &[],
    );
    write(&server, "db=telegraf", "cpu v=1");
    sink.next();
    wait_for("a debug line", || server.log_text().contains("lvl=debug"));

    let output = server.cli(&["level", "loud"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        err(&output),
        "Error: invalid log level \"loud\"; use debug, info, warn or error\n"
    );
    assert_eq!(ok(&server, &["level", "ERROR"]), "");
}

#[test]
fn logs_and_watch_stream_lines_as_they_happen() {
    let server = Klaxond::start();
    let mut logs = Streaming::start(&server, &["logs", "lvl=info+"]);
    // The session is open once the server has it: define tasks until one's line arrives.
    let mut n = 0;
    wait_for("a task's definition in the log stream", || {
        n += 1;
        server.define_task(&format!("first{n}"), "stream|from().measurement('x')", &[]);
        logs.poll();
        logs.seen.contains("msg=\"task defined\" task=first")
    });

    server.define_task(
        "cpu",
        "stream|from().measurement('cpu')|alert().crit(lambda: \"v\" > 1).topic('ops')",
        &[],
    );
    let mut watch = Streaming::start(&server, &["watch", "cpu"]);
    let mut topic = Streaming::start(&server, &["watch", "ops"]);
    // A watch is open once its session is: write until both have a line.
    let mut n = 0;
    wait_for("the alert event in both watches", || {
        n += 1;
        write(&server, "db=telegraf", &format!("cpu v={}", n + 1));
        watch.poll();
        topic.poll();
        watch.seen.contains("msg=\"alert event\"") && topic.seen.contains("msg=\"alert event\"")
    });
    let seen = watch.until("msg=\"alert event\"").to_owned();
    assert!(
        seen.contains("task=cpu node=alert2 topic=ops event=cpu:nil level=CRITICAL"),
        "{seen}"
    );
    topic.until("topic=ops event=cpu:nil level=CRITICAL");
    // `logs lvl=info+` sees no debug line.
    assert!(!logs.until("task=first").contains("lvl=debug"));

    let output = server.cli(&["watch", "nosuch"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        err(&output),
        "Error: no task or topic \"nosuch\"; 'klaxon list tasks' and 'klaxon list topics' show them\n"
    );
    let output = server.cli(&["logs", "a=b=c"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn backup_copies_the_database_while_the_server_runs() {
    let server = Klaxond::start();
    server.define_task("cpu", "stream|from().measurement('cpu')", &[]);
    assert_eq!(ok(&server, &["backup", "backup.db"]), "");
    let backup = server.dir().join("backup.db");
    assert!(std::fs::metadata(&backup).unwrap().len() > 0);
    // The backup is a database a new server starts from, with the task in it.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(&backup, data.join("klaxon.db")).unwrap();
    let restored = Klaxond::builder()
        .env("KLAXON_DATA_DIR", data.to_str().unwrap())
        .start();
    let list = String::from_utf8(restored.cli(&["list", "tasks"]).stdout).unwrap();
    assert!(list.contains("\ncpu "), "{list}");
    // The server logged it; a path it cannot write is the CLI's error.
    assert!(server.log_text().contains("msg=\"backup sent\""));
    let output = server.cli(&["backup", "/nonexistent/dir/backup.db"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        err(&output).starts_with("Error: failed to save backup to /nonexistent/dir/backup.db: ")
    );
}

#[test]
fn version_and_help_need_no_server() {
    let output = Command::new(klaxon_bin())
        .args(["-url", "http://127.0.0.1:9", "version"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let version = String::from_utf8(output.stdout).unwrap();
    assert!(version.starts_with("Klaxon "), "{version}");
    let output = Command::new(klaxon_bin()).arg("help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    // Kapacitor's command list (`usageStr` in `cmd/kapacitor/main.go`), each in `klaxon help`.
    for command in [
        "record",
        "define",
        "define-template",
        "define-topic-handler",
        "replay",
        "replay-live",
        "watch",
        "logs",
        "enable",
        "disable",
        "reload",
        "push",
        "delete",
        "list",
        "show",
        "show-template",
        "show-topic-handler",
        "show-topic",
        "flux",
        "backup",
        "level",
        "stats",
        "version",
        "vars",
        "service-tests",
        "help",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "no {command} in:\n{help}"
        );
    }
}

/// Rough edge: `klaxon service-tests tcp` could not pass the test's options, so it always
/// failed, and it exited 0 anyway.
#[test]
fn service_tests_take_options_and_fail_with_a_status() {
    let server = Klaxond::start();
    let output = server.cli(&["service-tests", "tcp"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let table = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        table.starts_with("Service             Success   Message\ntcp                 false     "),
        "{table}"
    );
    assert!(
        err(&output).starts_with("Error: service test failed: tcp; a test may need options"),
        "{}",
        err(&output)
    );

    let sink = TcpSink::start();
    let options = format!("{{\"address\":\"{}\"}}", sink.address());
    let table = ok(&server, &["service-tests", "-options", &options, "tcp"]);
    assert_eq!(
        table,
        "Service             Success   Message\ntcp                 true      \n"
    );
    assert!(sink.next().contains("test tcp message"));

    let output = server.cli(&["service-tests", "nosuch"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        err(&output),
        "Error: no service test \"nosuch\"; 'klaxon list service-tests' shows them\n"
    );
    let output = server.cli(&["service-tests", "-options", "[1]", "tcp"]);
    assert_eq!(output.status.code(), Some(2));
}
