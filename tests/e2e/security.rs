//! Issue #11, making Klaxon safe to expose: `[exec] allowed-programs` at every definition path,
//! and `--disable-handlers` / `[server] disable-handlers` covering inline TICKscript handlers.

use std::path::{Path, PathBuf};

use klaxon_e2e::{Klaxond, read_when_complete};
use serde_json::{Value, json};

/// The program every refusal names; if it ever ran it would create the marker file.
const REFUSED: &str = "/usr/bin/touch";

/// A TICKscript alerting on every cpu point, running `prog` with `args` inline.
fn exec_tick(prog: &str, args: &[&str]) -> String {
    let mut call = format!("'{prog}'");
    for arg in args {
        call.push_str(&format!(", '{arg}'"));
    }
    format!(
        "dbrp \"telegraf\".\"autogen\"\nstream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .exec({call})\n"
    )
}

fn define_task(server: &Klaxond, id: &str, script: &str) -> (u16, Value) {
    server.define_task(id, script, &[])
}

fn write_cpu(server: &Klaxond) {
    let response = server.send(
        "POST",
        "/write?db=telegraf&rp=autogen&precision=s",
        "cpu,host=a usage_idle=5 1714564800\n",
    );
    assert_eq!(response.status(), 204);
}

/// A script that appends its stdin to `out`, executable, in `dir`.
fn recorder(dir: &Path) -> (PathBuf, PathBuf) {
    let out = dir.join("ran.json");
    let script = dir.join("alert.sh");
    std::fs::write(&script, format!("#!/bin/sh\ncat >> '{}'\n", out.display())).unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    (script, out)
}

fn refusal(prog: &str, allowed: &str) -> String {
    format!("program {prog:?} is not allowed by [exec] allowed-programs; allowed: {allowed}")
}

#[test]
fn the_exec_allowlist_refuses_other_programs_at_all_four_definition_paths() {
    let programs = tempfile::tempdir().unwrap();
    let (script, out) = recorder(programs.path());
    let allowed = format!("{}/*", programs.path().display());
    let marker = programs.path().join("touched");
    let marker = marker.to_str().unwrap();

    // 1. A handler file in the load dir.
    let load = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(load.path().join("handlers")).unwrap();
    std::fs::write(
        load.path().join("handlers/rm.yaml"),
        format!(
            "id: refused\ntopic: cpu\nkind: exec\noptions:\n  prog: {REFUSED}\n  args: [{marker}]\n"
        ),
    )
    .unwrap();
    let mut server = Klaxond::builder()
        .config(&format!(
            "[exec]\nallowed-programs = [{allowed:?}]\n[load]\ndir = {:?}\n",
            load.path().display().to_string()
        ))
        .start();
    let line = server.wait_for_log("rm.yaml");
    assert!(
        line.contains("is not allowed by [exec] allowed-programs"),
        "{line}"
    );
    let handlers: Value = server
        .get("/kapacitor/v1/alerts/topics/cpu/handlers")
        .json()
        .unwrap();
    assert_eq!(handlers["handlers"], json!([]), "{handlers}");

    // 2. An HTTP create.
    let spec =
        json!({"id": "refused", "kind": "exec", "options": {"prog": REFUSED, "args": [marker]}});
    let response = server.send(
        "POST",
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        &spec.to_string(),
    );
    // Kapacitor answers a handler it cannot make with 500 "failed to create handler: ...".
    assert_eq!(response.status(), 500);
    let body: Value = response.json().unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains(&refusal(REFUSED, &allowed)), "{error}");

    // 3. A TICKscript `.exec()`.
    let (status, body) = define_task(&server, "refused", &exec_tick(REFUSED, &[marker]));
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains(&refusal(REFUSED, &allowed)), "{error}");
    assert_eq!(server.get("/kapacitor/v1/tasks/refused").status(), 404);

    // 4. A service test.
    let options = json!({"prog": REFUSED, "args": [marker]});
    let response = server.send(
        "POST",
        "/kapacitor/v1/service-tests/exec",
        &options.to_string(),
    );
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["message"], refusal(REFUSED, &allowed));

    // An allowed program still runs, from a TICKscript.
    let (status, body) = define_task(
        &server,
        "allowed",
        &exec_tick(script.to_str().unwrap(), &[]),
    );
    assert_eq!(status, 200, "{body}");
    write_cpu(&server);
    assert!(read_when_complete(&out).contains("\"level\":\"CRITICAL\""));
    assert!(!Path::new(marker).exists(), "a refused program ran");
}

/// What every definition naming a disabled kind is told.
const EXEC_DISABLED: &str =
    "handler kind \"exec\" is disabled by --disable-handlers / [server] disable-handlers";

#[test]
fn disabled_exec_refuses_inline_tickscript_and_handler_definitions() {
    let programs = tempfile::tempdir().unwrap();
    let (script, _) = recorder(programs.path());
    let script = script.to_str().unwrap();
    let load = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(load.path().join("handlers")).unwrap();
    std::fs::write(
        load.path().join("handlers/run.yaml"),
        format!("id: from-file\ntopic: cpu\nkind: exec\noptions:\n  prog: {script}\n"),
    )
    .unwrap();
    let load_dir = format!("[load]\ndir = {:?}\n", load.path().display().to_string());
    for mut server in [
        Klaxond::builder()
            .config(&load_dir)
            .arg("--disable-handlers")
            .arg("exec,foo")
            .start(),
        Klaxond::builder()
            .config(&format!(
                "[server]\ndisable-handlers = [\"exec\", \"foo\"]\n{load_dir}"
            ))
            .start(),
    ] {
        // A handler file in the load dir.
        // (The log quotes the error, escaping its quotes.)
        let line = server.wait_for_log("run.yaml");
        assert!(
            line.contains("is disabled by --disable-handlers / [server] disable-handlers"),
            "{line}"
        );

        // A TICKscript `.exec()`, at its position.
        let (status, body) = define_task(&server, "inline", &exec_tick(script, &[]));
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["error"],
            format!("invalid TICKscript: line 7, column 5: {EXEC_DISABLED}"),
            "{body}"
        );

        // An HTTP create; Kapacitor answers a handler it cannot make with 500.
        let spec = json!({"id": "h", "kind": "exec", "options": {"prog": script}});
        let response = server.send(
            "POST",
            "/kapacitor/v1/alerts/topics/cpu/handlers",
            &spec.to_string(),
        );
        assert_eq!(response.status(), 500);
        let body: Value = response.json().unwrap();
        assert_eq!(
            body["error"],
            format!("failed to create handler: {EXEC_DISABLED}"),
            "{body}"
        );

        // A service test: absent, as in Kapacitor, saying why.
        let response = server.send("POST", "/kapacitor/v1/service-tests/exec", "{}");
        assert_eq!(response.status(), 404);
        let body: Value = response.json().unwrap();
        assert_eq!(
            body["error"],
            format!("service \"exec\" not found: {EXEC_DISABLED}"),
            "{body}"
        );

        // A kind this binary never had is still unknown, not disabled.
        let spec = json!({"id": "s", "kind": "zabbix", "options": {}});
        let response = server.send(
            "POST",
            "/kapacitor/v1/alerts/topics/cpu/handlers",
            &spec.to_string(),
        );
        let body: Value = response.json().unwrap();
        let mut kinds: Vec<String> = klaxon_e2e::bundled_kinds()
            .into_iter()
            .filter(|k| k != "exec" && k != "foo")
            .chain(["aggregate".to_owned(), "publish".to_owned()])
            .collect();
        kinds.sort();
        assert_eq!(
            body["error"],
            format!(
                "failed to create handler: unsupported action kind \"zabbix\"; this server has: {}",
                kinds.join(", ")
            ),
            "{body}"
        );
        let handlers: Value = server
            .get("/kapacitor/v1/alerts/topics/cpu/handlers")
            .json()
            .unwrap();
        assert_eq!(handlers["handlers"], json!([]), "{handlers}");
    }
}

#[test]
fn an_enabled_task_using_a_disabled_kind_is_reported_at_startup_and_never_runs_it() {
    let programs = tempfile::tempdir().unwrap();
    let (script, out) = recorder(programs.path());
    let mut first = Klaxond::start();
    let (status, body) = define_task(
        &first,
        "uses_exec",
        &exec_tick(script.to_str().unwrap(), &[]),
    );
    assert_eq!(status, 200, "{body}");
    first.stop();

    // The same data dir, now with exec disabled.
    let data = first.dir().join("data");
    let mut server = Klaxond::builder()
        .env("KLAXON_DATA_DIR", data.to_str().unwrap())
        .arg("--disable-handlers")
        .arg("exec")
        .start();
    let task: Value = server.get("/kapacitor/v1/tasks/uses_exec").json().unwrap();
    assert_eq!(task["executing"], false, "{task}");
    let error = task["error"].as_str().unwrap();
    assert!(error.contains(EXEC_DISABLED), "{error}");
    server.wait_for_log("uses_exec");
    write_cpu(&server);
    // The write was processed (the point reached the task's database) without running the
    // program: a task that does run, defined now, proves deliveries happen.
    let sink = klaxon_e2e::TcpSink::start();
    let tick = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|alert().crit(lambda: TRUE).tcp('{}')",
        sink.address()
    );
    let (status, body) = define_task(&server, "witness", &tick);
    assert_eq!(status, 200, "{body}");
    write_cpu(&server);
    sink.next();
    assert!(!out.exists(), "the disabled exec handler ran");
}

/// Users and tokens with cheap argon2 parameters (m=8 KiB, t=1), so that the debug build
/// checks them quickly; the server reads the parameters from each hash.
const AUTH_CONFIG: &str = r#"[http]
auth-enabled = true
[[http.users]]
name = "reader"
password = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHJlYWRlcg$zRjBhFBCmOzvt5hhOuMtAFxbt2X5lkFW+d3i7WaNFQs"
permission = "read"
[[http.users]]
name = "writer"
password = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHdyaXRlcg$zlBaJoMZvzUuCEbRIZwON4jZQMTKsn08uLWUykRJwjc"
permission = "write"
[[http.users]]
name = "admin"
password = "$argon2id$v=19$m=8,t=1,p=1$c2FsdGFkbWluZQ$N8wmZmFto/vjClX7DkN6lrs2a6W/v4mc1EoidhcnKEs"
permission = "admin"
[[http.tokens]]
name = "dashboard"
hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHRva2VuMQ$8k/YIPfUda5qlpUiUU7qdOEavyjB63uU9ddY5dYY3tc"
permission = "read"
[[http.tokens]]
name = "deploy"
hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHRva2VuMg$KXJOZqapbimQMmWFW0aHWU8OZf8hGD0nxWjmsHJFdN8"
permission = "admin"
"#;

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
enum As {
    Nobody,
    User(&'static str, &'static str),
    Token(&'static str),
}

fn request(server: &Klaxond, who: As, method: &str, path: &str, body: &str) -> (u16, Value) {
    let client = klaxon_e2e::http_client().clone();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client
        .request(method, format!("{}{path}", server.url()))
        .body(body.to_owned());
    request = match who {
        As::Nobody => request,
        As::User(name, password) => request.basic_auth(name, Some(password)),
        As::Token(token) => request.bearer_auth(token),
    };
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn each_permission_reaches_exactly_its_endpoint_classes() {
    let server = Klaxond::builder().config(AUTH_CONFIG).start();
    let read = ("GET", "/kapacitor/v1/tasks", "");
    let write = (
        "POST",
        "/kapacitor/v1/write?db=telegraf&rp=autogen&precision=s",
        "cpu usage_idle=50 1714564800\n",
    );
    let influx_write = (
        "POST",
        "/write?db=telegraf&rp=autogen&precision=s",
        "cpu usage_idle=50 1714564800\n",
    );
    let admin = ("DELETE", "/kapacitor/v1/tasks/nosuch", "");
    let service_test = (
        "POST",
        "/kapacitor/v1/service-tests/exec",
        r#"{"prog":"/bin/true"}"#,
    );
    let reader = As::User("reader", "r3ad");
    let writer = As::User("writer", "wr1te");
    let admin_user = As::User("admin", "adm1n");
    let read_token = As::Token("tok-read-0123456789");
    let admin_token = As::Token("tok-admin-9876543210");
    // (who, request, allowed, the permission named in a 403)
    let table = [
        (reader, read, true, "read"),
        (reader, write, false, "read"),
        (reader, influx_write, false, "read"),
        (reader, admin, false, "read"),
        (reader, service_test, false, "read"),
        (writer, read, true, "write"),
        (writer, write, true, "write"),
        (writer, influx_write, true, "write"),
        (writer, admin, false, "write"),
        (writer, service_test, false, "write"),
        (admin_user, read, true, "admin"),
        (admin_user, write, true, "admin"),
        (admin_user, admin, true, "admin"),
        (admin_user, service_test, true, "admin"),
        (read_token, read, true, "read"),
        (read_token, write, false, "read"),
        (read_token, admin, false, "read"),
        (admin_token, admin, true, "admin"),
        (admin_token, service_test, true, "admin"),
    ];
    for (who, (method, path, body), allowed, permission) in table {
        let (status, json) = request(&server, who, method, path, body);
        if allowed {
            assert!(
                status != 401 && status != 403,
                "{who:?} {method} {path}: {status} {json}"
            );
            continue;
        }
        assert_eq!(status, 403, "{who:?} {method} {path}: {json}");
        let (noun, name) = match who {
            As::User(name, _) => ("user", name),
            As::Token("tok-read-0123456789") => ("token", "dashboard"),
            other => panic!("{other:?} is never forbidden here"),
        };
        let action = if path.contains("write") {
            "write points"
        } else {
            "change tasks, handlers or configuration"
        };
        assert_eq!(
            json["error"],
            format!("{noun} \"{name}\" may not {action}; it has permission {permission}"),
            "{who:?} {method} {path}"
        );
    }
}

#[test]
fn missing_or_wrong_credentials_get_401_and_ping_stays_open() {
    let server = Klaxond::builder().config(AUTH_CONFIG).start();
    assert_eq!(
        request(&server, As::Nobody, "GET", "/kapacitor/v1/ping", "").0,
        204
    );
    assert_eq!(
        request(&server, As::Nobody, "HEAD", "/kapacitor/v1/ping", "").0,
        204
    );

    let response = reqwest::blocking::get(format!("{}/kapacitor/v1/tasks", server.url())).unwrap();
    assert_eq!(response.status(), 401);
    for header in ["x-kapacitor-version", "x-klaxon-version", "request-id"] {
        assert!(
            response.headers().contains_key(header),
            "401 lacks {header}"
        );
    }
    let forbidden = klaxon_e2e::http_client()
        .clone()
        .post(format!("{}/kapacitor/v1/tasks", server.url()))
        .basic_auth("reader", Some("r3ad"))
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    for header in ["x-kapacitor-version", "x-klaxon-version", "request-id"] {
        assert!(
            forbidden.headers().contains_key(header),
            "403 lacks {header}"
        );
    }
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"klaxon\""
    );
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"], "authentication required");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("KLAXON_USERNAME"),
        "{body}"
    );

    let cases = [
        (
            As::User("admin", "wrong"),
            "authentication failed: unknown user or wrong password",
        ),
        (
            As::User("nobody", "adm1n"),
            "authentication failed: unknown user or wrong password",
        ),
        (
            As::User("admin", ""),
            "authentication failed: unknown user or wrong password",
        ),
        (
            As::Token("tok-wrong"),
            "authentication failed: unknown bearer token",
        ),
    ];
    for (who, error) in cases {
        let (status, body) = request(&server, who, "GET", "/kapacitor/v1/tasks", "");
        assert_eq!(status, 401, "{who:?}: {body}");
        assert_eq!(body["error"], error, "{who:?}");
    }
}

#[test]
fn the_cli_authenticates_from_the_url_or_the_environment() {
    let server = Klaxond::builder().config(AUTH_CONFIG).start();
    let cli = |url: &str, env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(klaxon_e2e::klaxon_bin());
        command
            .args(["-url", url, "list", "tasks"])
            .env_remove("KLAXON_URL")
            .env_remove("KLAXON_USERNAME")
            .env_remove("KLAXON_PASSWORD")
            .current_dir(server.dir());
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    };
    let address = server.addr();
    let plain = format!("http://{address}");

    let refused = cli(&plain, &[]);
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("authentication required"), "{err}");

    let from_url = cli(&format!("http://reader:r3ad@{address}"), &[]);
    assert!(from_url.status.success(), "{from_url:?}");
    let from_env = cli(
        &plain,
        &[("KLAXON_USERNAME", "reader"), ("KLAXON_PASSWORD", "r3ad")],
    );
    assert!(from_env.status.success(), "{from_env:?}");
    let wrong = cli(&format!("http://reader:nope@{address}"), &[]);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("authentication failed"), "{err}");
    assert!(!err.contains("nope"), "the password is not echoed: {err}");
}

#[test]
fn hash_password_prints_a_hash_the_server_accepts() {
    let mut child = std::process::Command::new(klaxon_e2e::klaxond_bin())
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"c0rrect horse\n").unwrap();
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let hash = String::from_utf8(output.stdout).unwrap();
    let hash = hash.trim_end();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");

    let server = Klaxond::builder()
        .config(&format!(
            "[http]\nauth-enabled = true\n[[http.users]]\nname = \"ops\"\npassword = {hash:?}\npermission = \"read\"\n"
        ))
        .start();
    let (status, body) = request(
        &server,
        As::User("ops", "c0rrect horse"),
        "GET",
        "/kapacitor/v1/tasks",
        "",
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn auth_without_users_or_with_a_plain_password_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[http]\nauth-enabled = true\n",
            "no [[http.users]] or [[http.tokens]]",
        ),
        (
            "[[http.users]]\nname = \"a\"\npassword = \"hunter2\"\npermission = \"admin\"\n",
            "[[http.users]] \"a\": password is not an argon2 hash in PHC format",
        ),
    ];
    for (toml, expected) in cases {
        let path = dir.path().join("klaxon.toml");
        std::fs::write(&path, toml).unwrap();
        let output =
            klaxon_e2e::run_klaxond(&["--config", path.to_str().unwrap(), "config"], dir.path());
        assert!(!output.status.success());
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains(expected), "{err}");
    }
}
