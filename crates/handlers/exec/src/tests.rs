//! The exec handler through the real path: options decoded by the registry, real processes.
//!
//! The test programs are shell scripts run as `sh <script> args...`, the way the seed runs
//! `.exec('/usr/bin/python', 'sound-the-alarm.py')`. Running a script that was just written as the
//! program itself can fail with "Text file busy" when another test thread forks meanwhile.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::testing::{assert_documented, assert_registered_and_builds, build};
use klaxon_core::{DynService, Event, Handler, HandlerError, Service, TestError};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::ExecService;

/// Generous bound for anything that should happen promptly, on a loaded machine.
const PROMPTLY: Duration = Duration::from_secs(10);

fn service(config: Value) -> Arc<dyn DynService> {
    klaxon_core::testing::service::<ExecService>(&config)
}

fn handler(service: &dyn DynService, options: Value) -> Arc<dyn Handler> {
    service.handler(&options).expect("the options are valid")
}

/// A directory holding one test's script and whatever the script writes.
struct Workspace(TempDir);

impl Workspace {
    fn new() -> Self {
        Workspace(tempfile::tempdir().expect("temporary directory"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes a shell script whose `$OUT` is this directory; returns its path.
    fn script(&self, body: &str) -> String {
        let path = self.path("script.sh");
        let text = format!("OUT='{}'\n{body}\n", self.0.path().display());
        std::fs::write(&path, text).expect("write script");
        path.display().to_string()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// Waits until the script has written `name` (a process id and a newline); returns the id.
    async fn pid(&self, name: &str) -> Pid {
        let path = self.path(name);
        eventually(|| {
            let text = std::fs::read_to_string(&path).ok()?;
            let line = text.strip_suffix('\n')?;
            line.parse().ok().map(Pid::from_raw)
        })
        .await
        .unwrap_or_else(|| panic!("the script writes {name}"))
    }
}

/// Polls `check` until it gives a value, for up to [`PROMPTLY`].
async fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + PROMPTLY;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `pid` is gone: no such process, or a zombie (dead, waiting for a parent other than
/// us to collect it).
fn is_dead(pid: Pid) -> bool {
    match kill(pid, None) {
        Err(Errno::ESRCH) => true,
        _ => std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z'))
        }),
    }
}

/// Runs a script as the program `sh` with the script as its argument.
async fn run_script(ws: &Workspace, body: &str) -> Result<(), HandlerError> {
    let options = json!({"prog": "sh", "args": [ws.script(body)]});
    let handler = handler(&*service(Value::Null), options);
    handler.handle(&Event::sample("cpu is CRITICAL")).await
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<ExecService>(
        &json!({"timeout": "5s"}),
        &json!({"prog": "/usr/bin/logger", "args": ["-t", "klaxon"]}),
    );
    assert_documented::<ExecService>();
}

#[test]
fn defaults_are_a_thirty_second_timeout_and_no_program() {
    let service = service(Value::Null);
    assert_eq!(
        service.config(),
        json!({"timeout": "30s", "allowed-programs": []})
    );
    assert_eq!(service.default_options(), json!({"prog": "", "args": []}));
    assert_eq!(service.test_options(), json!({"prog": "", "args": []}));
}

#[test]
fn a_timeout_that_is_not_positive_is_refused() {
    let err =
        build::<ExecService>(&json!({"timeout": -1})).expect_err("a negative timeout is refused");
    assert_eq!(
        err.to_string(),
        "exec: timeout must be greater than zero, got -1ns"
    );
}

#[test]
fn tickscript_arguments_are_the_program_then_its_arguments() {
    let options = ExecService::TICK
        .build_options(
            &[json!("/usr/bin/python"), json!("alarm.py"), json!("-v")],
            &[],
        )
        .expect("arguments fit");
    assert_eq!(
        options,
        json!({"prog": "/usr/bin/python", "args": ["alarm.py", "-v"]})
    );
    // The program must exist to be accepted; the shell does everywhere.
    let mut runnable = options;
    runnable["prog"] = json!("/bin/sh");
    handler(&*service(Value::Null), runnable);
}

#[test]
fn an_absolute_program_that_cannot_run_is_refused_when_defined() {
    let service = service(Value::Null);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, "").unwrap();
    let cases = [
        (
            "/usr/bin/no-such-program".to_owned(),
            "exec: program \"/usr/bin/no-such-program\" does not exist on the server; install it \
             there or fix prog"
                .to_owned(),
        ),
        (
            plain.display().to_string(),
            format!(
                "exec: program {:?} is not executable; make it so (chmod +x) or fix prog",
                plain.display().to_string()
            ),
        ),
        (
            "/".to_owned(),
            "exec: program \"/\" is not a file; give the path of the program itself".to_owned(),
        ),
    ];
    for (prog, message) in cases {
        let err = service
            .handler(&json!({ "prog": prog }))
            .expect_err("refused");
        assert_eq!(err.to_string(), message);
    }
    // A bare name is looked up on PATH when it runs, as in Kapacitor.
    assert!(service.handler(&json!({"prog": "no-such-program"})).is_ok());
}

#[test]
fn bad_options_name_the_kind_and_the_field() {
    let cases = [
        (
            json!({"program": "/bin/true"}),
            r#"exec: unknown option "program", expected one of: args, prog"#,
        ),
        (
            json!({"prog": ["/bin/true"]}),
            r#"exec: option "prog": invalid type: sequence, expected a string"#,
        ),
        (
            json!({"prog": "/bin/true", "args": "-v"}),
            r#"exec: option "args": invalid type: string "-v", expected a sequence"#,
        ),
        (
            json!({"prog": "/bin/true", "args": ["-n", 3]}),
            r#"exec: option "args[1]": invalid type: integer `3`, expected a string"#,
        ),
        (json!({"prog": ""}), "exec: prog must not be empty"),
        (json!({"args": ["x"]}), "exec: prog must not be empty"),
    ];
    for (options, expected) in cases {
        let err = service(Value::Null).handler(&options).expect_err("refused");
        assert_eq!(err.to_string(), expected, "options {options}");
    }
}

#[tokio::test]
async fn the_program_gets_the_alert_json_on_stdin_and_its_arguments_unchanged() {
    let ws = Workspace::new();
    let script = ws.script(
        r#"cat > "$OUT/stdin"
printf '%s\n' "$@" > "$OUT/argv"
pwd -P > "$OUT/cwd"
printf '%s' "$PATH" > "$OUT/path""#,
    );
    // A bare name is looked up on PATH.
    let options = json!({"prog": "sh", "args": [script, "a b", "", "$HOME", "c"]});
    let handler = handler(&*service(Value::Null), options);
    let event = Event::sample("cpu is CRITICAL");

    handler.handle(&event).await.expect("the program succeeds");

    assert_eq!(ws.read("stdin"), event.alert_json());
    assert!(ws.read("stdin").ends_with("}\n"));
    assert_eq!(ws.read("argv"), "a b\n\n$HOME\nc\n");
    let cwd = std::env::current_dir()
        .expect("cwd")
        .canonicalize()
        .expect("canonical cwd");
    assert_eq!(ws.read("cwd"), format!("{}\n", cwd.display()));
    assert_eq!(ws.read("path"), std::env::var("PATH").unwrap_or_default());
}

/// Inputs up to a page are written before the program starts, larger ones while it runs: the
/// program reads either whole, and the sizes around the page boundary too.
#[tokio::test]
async fn inputs_of_every_size_reach_the_program_whole() {
    let ws = Workspace::new();
    let script = ws.script(r#"cat > "$OUT/stdin""#);
    let handler = handler(
        &*service(Value::Null),
        json!({"prog": "sh", "args": [script]}),
    );
    let empty_json = Event::sample("").alert_json().len();
    for size in [4000usize, 4095, 4096, 4097, 4200, 1 << 20] {
        // A message that makes the alert JSON about `size` bytes long (Go's time format drops
        // trailing zeros, so the sample's time moves it by a few bytes).
        let event = Event::sample(&"m".repeat(size.saturating_sub(empty_json)));
        handler.handle(&event).await.expect("the program succeeds");
        let got = ws.read("stdin");
        assert_eq!(
            got.len(),
            event.alert_json().len(),
            "input of about {size} bytes"
        );
        assert_eq!(got, event.alert_json());
    }
}

#[tokio::test]
async fn a_program_that_ignores_a_large_input_still_succeeds() {
    let handler = handler(&*service(Value::Null), json!({"prog": "true"}));
    let event = Event::sample(&"x".repeat(1 << 20));
    handler
        .handle(&event)
        .await
        .expect("exit status 0 is success");
}

#[tokio::test]
async fn a_non_zero_exit_is_a_permanent_error_with_the_interleaved_output() {
    let ws = Workspace::new();
    let err = run_script(
        &ws,
        "echo 'to stdout'\necho 'to stderr' >&2\necho 'stdout again'\nexit 3",
    )
    .await
    .expect_err("exit status 3");

    assert_eq!(
        err.message(),
        "exec sh: exit status 3: to stdout\nto stderr\nstdout again"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_failure_without_output_says_only_how_the_program_ended() {
    let ws = Workspace::new();
    let err = run_script(&ws, "exit 1").await.expect_err("exit status 1");
    assert_eq!(err.message(), "exec sh: exit status 1");
}

#[tokio::test]
async fn death_by_signal_is_an_error_naming_the_signal() {
    let ws = Workspace::new();
    let err = run_script(&ws, "echo dying\nkill -TERM $$")
        .await
        .expect_err("killed");
    assert_eq!(err.message(), "exec sh: killed by SIGTERM: dying");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn output_is_truncated_to_64_kib_and_says_so() {
    let ws = Workspace::new();
    let err = run_script(&ws, "head -c 1000000 /dev/zero | tr '\\0' x\nexit 1")
        .await
        .expect_err("exit status 1");
    let expected = format!(
        "exec sh: exit status 1: {} [output truncated to 64 KiB]",
        "x".repeat(64 * 1024)
    );
    assert!(
        err.message() == expected,
        "message of {} bytes",
        err.message().len()
    );
}

#[tokio::test]
async fn a_missing_program_is_a_permanent_error_naming_it() {
    // A program removed after its handler was defined, and a bare name not on PATH.
    let ws = Workspace::new();
    let removed = ws.script("exit 0");
    make_executable(&removed);
    let service = service(Value::Null);
    let handlers = [
        (
            removed.clone(),
            handler(&*service, json!({ "prog": removed })),
        ),
        (
            "klaxon-no-such-program".to_owned(),
            handler(&*service, json!({ "prog": "klaxon-no-such-program" })),
        ),
    ];
    std::fs::remove_file(&removed).unwrap();
    for (prog, handler) in handlers {
        let err = handler
            .handle(&Event::sample("m"))
            .await
            .expect_err("cannot start");
        assert_eq!(
            err.message(),
            format!("exec {prog}: cannot start: No such file or directory (os error 2)")
        );
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn a_program_that_is_not_executable_is_a_permanent_error() {
    // A program made unexecutable after its handler was defined.
    let ws = Workspace::new();
    let script = ws.script("exit 0");
    make_executable(&script);
    let handler = handler(&*service(Value::Null), json!({ "prog": script }));
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(&script, perms).unwrap();
    let err = handler
        .handle(&Event::sample("m"))
        .await
        .expect_err("cannot start");
    assert_eq!(
        err.message(),
        format!("exec {script}: cannot start: Permission denied (os error 13)")
    );
    assert!(!err.is_retryable());
}

fn make_executable(path: &str) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(path, perms).unwrap();
}

/// A program that never exits, with a process of its own in the background, writing both ids.
const HANG: &str = r#"sleep 1000 &
echo $! > "$OUT/grandchild"
echo $$ > "$OUT/child"
wait"#;

#[tokio::test]
async fn a_hung_program_and_its_group_are_killed_and_reaped_at_the_timeout() {
    let ws = Workspace::new();
    let script = ws.script(HANG);
    let service = service(Value::Null);
    let handler = handler(&*service, json!({"prog": "sh", "args": [script]}));
    // The handler was made under the default 30s; the update reaches it.
    service
        .update(&json!({"timeout": "2s"}))
        .expect("valid configuration");

    let started = Instant::now();
    let err = handler
        .handle(&Event::sample("m"))
        .await
        .expect_err("times out");
    let elapsed = started.elapsed();

    assert_eq!(err.message(), "exec sh timed out after 2s");
    assert!(err.is_retryable());
    assert!(
        elapsed < Duration::from_secs(3),
        "took {elapsed:?} for a 2s timeout"
    );
    // The program was reaped by the handler: no zombie is left.
    let child = ws.pid("child").await;
    assert_eq!(kill(child, None), Err(Errno::ESRCH), "program {child}");
    // What it started in its group was killed too: no orphan goes on running.
    let grandchild = ws.pid("grandchild").await;
    assert!(
        eventually(|| is_dead(grandchild).then_some(()))
            .await
            .is_some(),
        "background process {grandchild} still runs"
    );
}

#[tokio::test]
async fn an_abandoned_delivery_kills_the_program_and_its_group() {
    let ws = Workspace::new();
    let script = ws.script(HANG);
    let handler = handler(
        &*service(Value::Null),
        json!({"prog": "sh", "args": [script]}),
    );
    let event = Event::sample("m");

    // The engine gives up on a delivery (its own deadline, shutdown) by dropping its future.
    let started = async { (ws.pid("child").await, ws.pid("grandchild").await) };
    let (child, grandchild) = tokio::select! {
        result = handler.handle(&event) => panic!("the program cannot finish: {result:?}"),
        pids = started => pids,
    };

    for pid in [child, grandchild] {
        assert!(
            eventually(|| is_dead(pid).then_some(())).await.is_some(),
            "process {pid} still runs"
        );
    }
}

#[tokio::test]
async fn a_background_process_holding_the_output_does_not_delay_the_result() {
    let ws = Workspace::new();
    let started = Instant::now();
    let err = run_script(
        &ws,
        r#"sleep 1000 &
echo $! > "$OUT/background"
echo 'started the siren'
exit 4"#,
    )
    .await
    .expect_err("exit status 4");
    let elapsed = started.elapsed();
    // Started on purpose, so not killed by the handler; the test cleans it up.
    let background = ws.pid("background").await;
    let _ = kill(background, Signal::SIGKILL);

    assert_eq!(err.message(), "exec sh: exit status 4: started the siren");
    assert!(elapsed < PROMPTLY, "took {elapsed:?}");
}

#[tokio::test]
async fn the_service_test_runs_the_program_with_a_sample_alert() {
    let ws = Workspace::new();
    let script = ws.script(r#"cat > "$OUT/stdin""#);
    let service = service(Value::Null);

    service
        .test(&json!({"prog": "sh", "args": [script]}))
        .await
        .expect("the test passes");

    let stdin = ws.read("stdin");
    assert!(
        stdin.contains(r#""message":"test exec message""#),
        "{stdin}"
    );
}

#[tokio::test]
async fn the_service_test_reports_the_failure() {
    let service = service(Value::Null);
    let err = service.test(&Value::Null).await.expect_err("no program");
    assert_eq!(
        err,
        TestError::Failed(HandlerError::permanent("prog must not be empty"))
    );

    let err = service
        .test(&json!({"prog": "false"}))
        .await
        .expect_err("exit status 1");
    assert_eq!(err.to_string(), "exec false: exit status 1");
}

/// The exec service with `allowed-programs` set to `patterns`.
fn allowing(patterns: &[&str]) -> Arc<dyn DynService> {
    service(json!({ "allowed-programs": patterns }))
}

#[test]
fn a_program_outside_the_allowlist_is_refused_naming_it_and_the_setting() {
    let service = allowing(&["/usr/local/bin/*", "/opt/alerts/notify"]);
    let cases = [
        ("/bin/rm", r#""/bin/rm""#),
        // `*` does not cross a separator.
        ("/usr/local/bin/sub/x", r#""/usr/local/bin/sub/x""#),
        // `..` is resolved before matching.
        (
            "/usr/local/bin/../../../bin/rm",
            r#""/usr/local/bin/../../../bin/rm" (/bin/rm)"#,
        ),
        ("/opt/alerts/notify2", r#""/opt/alerts/notify2""#),
    ];
    for (prog, shown) in cases {
        let err = service
            .handler(&json!({"prog": prog}))
            .expect_err("refused");
        assert_eq!(
            err.to_string(),
            format!(
                "exec: program {shown} is not allowed by [exec] allowed-programs; allowed: \
                 /usr/local/bin/*, /opt/alerts/notify"
            ),
            "prog {prog}"
        );
    }
    // Allowed programs pass the allowlist, then must exist (they do not, here).
    for prog in ["/usr/local/bin/page-oncall", "/opt/alerts/notify"] {
        let err = service.handler(&json!({"prog": prog})).expect_err("absent");
        assert!(
            err.to_string().contains("does not exist on the server"),
            "{prog}: {err}"
        );
    }
}

#[test]
fn a_bare_name_is_checked_as_the_path_it_resolves_to_on_path() {
    let sh = std::env::split_paths(&std::env::var_os("PATH").expect("PATH is set"))
        .map(|dir| dir.join("sh"))
        .find(|p| p.is_file())
        .expect("sh is on PATH");
    let err = allowing(&["/nowhere/*"])
        .handler(&json!({"prog": "sh"}))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        format!(
            "exec: program \"sh\" ({}) is not allowed by [exec] allowed-programs; allowed: \
             /nowhere/*",
            sh.display()
        )
    );
    let exact = sh.display().to_string();
    allowing(&[&exact])
        .handler(&json!({"prog": "sh"}))
        .expect("sh resolves to an allowed path");
    let err = allowing(&[&exact])
        .handler(&json!({"prog": "no-such-program-klaxon"}))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "exec: program \"no-such-program-klaxon\" is not on the server's PATH, so [exec] \
         allowed-programs cannot allow it; give its absolute path"
    );
}

#[test]
fn allowlist_entries_must_be_absolute_valid_globs() {
    let cases = [
        (
            json!({"allowed-programs": ["bin/*"]}),
            r#"exec: allowed-programs entry "bin/*" is not an absolute path; write it like "/usr/local/bin/*""#,
        ),
        (
            json!({"allowed-programs": ["/usr/bin/[a"]}),
            r#"exec: allowed-programs entry "/usr/bin/[a" is not a valid glob: unclosed character class; missing ']'"#,
        ),
    ];
    for (config, expected) in cases {
        let err = build::<ExecService>(&config).expect_err("refused");
        assert_eq!(err.to_string(), expected, "config {config}");
    }
}

#[test]
fn the_config_api_cannot_change_the_allowlist() {
    let service = allowing(&["/usr/local/bin/*"]);
    let err = service
        .update(&json!({"allowed-programs": []}))
        .expect_err("a change to the allowlist is refused");
    assert_eq!(
        err.to_string(),
        "exec: allowed-programs cannot change while the server runs: set it in the configuration \
         file or KLAXON_EXEC_ALLOWED_PROGRAMS and restart klaxond"
    );
    assert_eq!(
        service.config()["allowed-programs"],
        json!(["/usr/local/bin/*"])
    );
    service
        .update(&json!({"allowed-programs": ["/usr/local/bin/*"], "timeout": "5s"}))
        .expect("other keys still change");
    let err = service
        .handler(&json!({"prog": "/bin/rm"}))
        .expect_err("still refused");
    assert!(
        err.to_string().contains("allowed: /usr/local/bin/*"),
        "{err}"
    );
}

#[tokio::test]
async fn the_service_test_goes_through_the_allowlist() {
    let ws = Workspace::new();
    let script = ws.script(r#"touch "$OUT/ran""#);
    let err = allowing(&["/usr/local/bin/*"])
        .test(&json!({"prog": "sh", "args": [script]}))
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("is not allowed by [exec] allowed-programs"),
        "{err}"
    );
    assert!(!ws.path("ran").exists(), "the refused program never ran");
}

#[tokio::test]
async fn an_allowed_program_runs_by_its_resolved_path() {
    let ws = Workspace::new();
    let script = ws.script(r#"touch "$OUT/ran""#);
    let sh = std::env::split_paths(&std::env::var_os("PATH").expect("PATH is set"))
        .map(|dir| dir.join("sh"))
        .find(|p| p.is_file())
        .expect("sh is on PATH");
    let allowed = sh.display().to_string();
    let handler = handler(
        &*allowing(&[&allowed]),
        json!({"prog": "sh", "args": [script]}),
    );
    handler
        .handle(&Event::sample("cpu is CRITICAL"))
        .await
        .expect("the allowed program runs");
    assert!(ws.path("ran").exists());
}
