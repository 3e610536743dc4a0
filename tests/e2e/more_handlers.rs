//! smtp (Kapacitor's email), alerta and pushover in a real klaxond: Kapacitor's documented
//! configuration sections pasted into klaxon.toml, its documented TICKscripts and handler files
//! typed as written, Kapacitor's own server test (`TestServer_AlertHandlers`), and
//! `klaxon service-tests <kind>`, each delivering to a real or stand-in server on loopback.
//!
//! The SMTP server is a real one, Python's aiosmtpd (Debian's `python3-aiosmtpd`, which .ci/run
//! installs), run in plain text, and with STARTTLS and AUTH required. Without it the smtp tests
//! are skipped with a note, and fail under CI.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use klaxon_e2e::{Klaxond, wait_for};
use klaxon_http::testing::{Answer, Received, Receiver, TestPki};
use serde_json::{Value, json};

/// Defines and enables the task `id` from a TICKscript file, as a user does.
fn define(server: &Klaxond, id: &str, tick: &str) {
    server.define_task_from_file(id, &format!("{id}.tick"), tick);
}

/// Writes line protocol to `db`.`rp` with second timestamps.
fn write(server: &Klaxond, db_rp: &str, line: &str) {
    let response = server.send(
        "POST",
        &format!("/kapacitor/v1/write?{db_rp}&precision=s"),
        line,
    );
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

/// `klaxon service-tests <kind>`: its success and message columns (the CLI exits non-zero when
/// the test fails).
fn service_test(server: &Klaxond, kind: &str) -> (bool, String) {
    let output = server.cli(&["service-tests", kind]);
    let out = String::from_utf8(output.stdout).unwrap();
    let row = out.lines().nth(1).unwrap_or_default();
    let rest = row.strip_prefix(&format!("{kind:<20}")).unwrap_or(row);
    let (success, message) = rest.split_at(rest.len().min(10));
    (success.trim() == "true", message.trim().to_owned())
}

/// Kapacitor's `TestServer_AlertHandlers` task: every point of measurement `alert` is a
/// CRITICAL alert with ID `id`, published to topic `test`.
const SERVER_TEST_TICK: &str = "dbrp \"mydb\".\"myrp\"\n\nstream\n\t|from()\n\t\t.measurement('alert')\n\t|alert()\n\t\t.topic('test')\n\t\t.id('id')\n\t\t.message('message')\n\t\t.details('details')\n\t\t.crit(lambda: TRUE)\n";

/// Kapacitor's documented CPU alert publishing to topic `cpu`, for the handler files.
const CPU_TOPIC_TICK: &str = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .topic('cpu')\n";

// smtp -------------------------------------------------------------------------------------------

/// The aiosmtpd server: plain, or requiring STARTTLS (with `cert` and `key`) and AUTH as
/// `user`/`password`; each message it accepts becomes a JSON line in `out`.
const SMTPD: &str = r#"
import json, signal, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        record = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                  "data": envelope.content.decode("utf8", "replace"),
                  "tls": session.ssl is not None, "auth": bool(session.authenticated)}
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 OK"

if mode == "plain":
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
else:
    cert, key, user, password = sys.argv[4:8]
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        # handled=False: aiosmtpd answers 535 itself.
        return AuthResult(success=ok, handled=False)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticator,
                            auth_required=True, auth_require_tls=True)
controller.start()
print("READY", flush=True)
try:
    signal.pause()
finally:
    controller.stop()
"#;

/// Debian's python3-aiosmtpd is for the system Python, which may not be the first on PATH.
const PYTHON: &str = "/usr/bin/python3";

/// A running aiosmtpd, killed when dropped.
struct Smtpd {
    child: Child,
    port: u16,
    mails: PathBuf,
    seen: usize,
    _dir: tempfile::TempDir,
}

/// How an [`Smtpd`] runs.
enum SmtpdMode<'a> {
    Plain,
    /// STARTTLS with this certificate and key, then AUTH as this user with this password, both
    /// required.
    StartTlsAuth {
        cert: &'a Path,
        key: &'a Path,
        user: &'a str,
        password: &'a str,
    },
}

impl Smtpd {
    /// Starts aiosmtpd, or returns `None` (after a note) when it is not installed. Under CI
    /// (`CI` set) a missing aiosmtpd fails the test: .ci/run installs it.
    fn start(mode: SmtpdMode<'_>) -> Option<Smtpd> {
        let installed = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var_os("CI").is_none(),
                "aiosmtpd is missing under CI; .ci/run installs Debian's python3-aiosmtpd"
            );
            eprintln!("aiosmtpd not installed (Debian's python3-aiosmtpd): skipping the smtp test");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("smtpd.py");
        std::fs::write(&script, SMTPD).unwrap();
        let mails = dir.path().join("mails.jsonl");
        let log = dir.path().join("smtpd.log");
        // aiosmtpd checks its port by connecting to it, so it cannot take port 0: pick a free one.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(PYTHON);
        command
            .arg(&script)
            .arg(port.to_string())
            .arg(&mails)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("smtpd.err")).unwrap());
        match mode {
            SmtpdMode::Plain => command.arg("plain"),
            SmtpdMode::StartTlsAuth {
                cert,
                key,
                user,
                password,
            } => command
                .arg("starttls-auth")
                .arg(cert)
                .arg(key)
                .arg(user)
                .arg(password),
        };
        let child = command.spawn().expect("start aiosmtpd");
        let mut smtpd = Smtpd {
            child,
            port,
            mails,
            seen: 0,
            _dir: dir,
        };
        wait_for("aiosmtpd to listen", || {
            if let Ok(Some(status)) = smtpd.child.try_wait() {
                let err = std::fs::read_to_string(log.with_file_name("smtpd.err"));
                panic!("aiosmtpd exited with {status}: {err:?}");
            }
            std::fs::read_to_string(&log).is_ok_and(|text| text.contains("READY"))
        });
        Some(smtpd)
    }

    /// The next message the server accepted: envelope, TLS and AUTH, and the message as
    /// received.
    fn next_mail(&mut self) -> Mail {
        let mut record = None;
        wait_for("an email at aiosmtpd", || {
            let text = std::fs::read_to_string(&self.mails).unwrap_or_default();
            let complete: Vec<&str> = text.split_inclusive('\n').collect();
            match complete.get(self.seen) {
                Some(line) if line.ends_with('\n') => {
                    record = Some(serde_json::from_str::<Value>(line).unwrap());
                    true
                }
                _ => false,
            }
        });
        self.seen += 1;
        Mail::from_record(record.unwrap())
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One email as the SMTP server received it.
#[derive(Debug)]
struct Mail {
    from: String,
    to: Vec<String>,
    tls: bool,
    auth: bool,
    /// The headers, folded lines joined.
    headers: BTreeMap<String, String>,
    /// The body, CRLF read as LF (as Kapacitor's `smtptest` reads it), still quoted-printable.
    body: String,
}

impl Mail {
    fn from_record(record: Value) -> Mail {
        let data = record["data"].as_str().unwrap().replace("\r\n", "\n");
        let (head, body) = data
            .split_once("\n\n")
            .expect("headers, a blank line, the body");
        let headers = head
            .replace("\n ", " ")
            .lines()
            .map(|line| {
                let (name, value) = line.split_once(": ").expect("a header");
                (name.to_owned(), value.to_owned())
            })
            .collect();
        Mail {
            from: record["mail_from"].as_str().unwrap().to_owned(),
            to: serde_json::from_value(record["rcpt_tos"].clone()).unwrap(),
            tls: record["tls"].as_bool().unwrap(),
            auth: record["auth"].as_bool().unwrap(),
            headers,
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
    }

    /// Asserts the headers Kapacitor's tests list, and the body.
    fn assert_kapacitors(&self, from: &str, to: &str, subject: &str, body: &str) {
        for (name, value) in [
            ("Mime-Version", "1.0"),
            ("Content-Type", "text/html; charset=UTF-8"),
            ("Content-Transfer-Encoding", "quoted-printable"),
            ("From", from),
            ("To", to),
            ("Subject", subject),
        ] {
            assert_eq!(self.header(name), value, "{name} of {self:?}");
        }
        assert!(!self.header("Date").is_empty());
        assert_eq!(self.body, body, "{self:?}");
    }
}

/// `[smtp]` for a server at `port` on loopback, with more `keys`.
fn smtp_section(port: u16, keys: &str) -> String {
    format!("[smtp]\nenabled = true\nhost = \"127.0.0.1\"\nport = {port}\n{keys}")
}

/// `TestServer_AlertHandlers`, case smtp: the handler file mails Kapacitor's message, received by
/// a real SMTP server.
#[test]
fn smtp_sends_kapacitors_server_test_email() {
    let Some(mut smtpd) = Smtpd::start(SmtpdMode::Plain) else {
        return;
    };
    let server = Klaxond::builder()
        .config(&smtp_section(smtpd.port, "from = \"test@example.com\"\n"))
        .start();
    server.define_handler(
        "test",
        &json!({"id": "testAlertHandlers", "kind": "smtp",
                "options": {"to": ["oncall@example.com", "backup@example.com"]}}),
    );
    define(&server, "testAlertHandlers", SERVER_TEST_TICK);
    write(&server, "db=mydb&rp=myrp", "alert value=1 0000000000");

    let mail = smtpd.next_mail();
    assert_eq!(mail.from, "test@example.com");
    assert_eq!(mail.to, ["oncall@example.com", "backup@example.com"]);
    assert!(!mail.tls && !mail.auth);
    mail.assert_kapacitors(
        "test@example.com",
        "oncall@example.com, backup@example.com",
        "message",
        "details\n",
    );
}

/// `TestStream_AlertEmail`, "emails directly and in fields" and "in tag": recipients from
/// `.to()`, a field and a tag, through the real pipeline.
#[test]
fn smtp_mails_kapacitors_stream_test_recipients() {
    let Some(mut smtpd) = Smtpd::start(SmtpdMode::Plain) else {
        return;
    };
    let server = Klaxond::builder()
        .config(&smtp_section(smtpd.port, "from = \"test@example.com\"\n"))
        .start();
    let tick = r#"stream
	|from()
		.measurement('cpu')
		.where(lambda: "host" == 'serverA')
		.groupBy('host')
	|alert()
		.id('kapacitor.{{ .Name }}.{{ index .Tags "host" }}')
		.details('''
<b>{{.Message}}</b>

Value: {{ index .Fields "value" }}
<a href="http://graphs.example.com/host/{{index .Tags "host"}}">Details</a>
''')
		.crit(lambda: "value" > 8.0)
		.email()
			.to('user1@example.com', 'user2@example.com')
			.toTemplates('{{ index .Fields "extraemail" }}')
		.email('user1@example.com', 'user2@example.com')
			.toTemplates('{{ index .Tags "tagemail" }}')
"#;
    let (status, answer) = server.define_task("TestStream_Alert", tick, &[]);
    assert_eq!(status, 200, "{answer}");
    // Kapacitor's test adds the field and the tag with |default(); here the point has them.
    write(
        &server,
        "db=mydb&rp=myrp",
        "cpu,host=serverA,tagemail=bob2@example.com value=10,extraemail=\"bob@example.com\" 10",
    );

    let body = "\n<b>kapacitor.cpu.serverA is CRITICAL</b>\n\nValue: 10\n<a href=3D\"http://graphs.example.com/host/serverA\">Details</a>\n";
    let mut to: Vec<String> = (0..2)
        .map(|_| {
            let mail = smtpd.next_mail();
            let to = mail.header("To").to_owned();
            mail.assert_kapacitors(
                "test@example.com",
                &to,
                "kapacitor.cpu.serverA is CRITICAL",
                body,
            );
            to
        })
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            "user1@example.com, user2@example.com, bob2@example.com",
            "user1@example.com, user2@example.com, bob@example.com",
        ]
    );
}

/// The documentation's `[smtp]` pasted (with this test's server, which requires STARTTLS and
/// AUTH as the documented user), its TICKscript and handler file as written, and the service
/// test: each email arrives encrypted and authenticated.
#[test]
fn smtp_as_kapacitors_documentation_writes_it() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(pki_dir.path());
    let Some(mut smtpd) = Smtpd::start(SmtpdMode::StartTlsAuth {
        cert: &pki.server_cert,
        key: &pki.server_key,
        user: "username",
        password: "passw0rd",
    }) else {
        return;
    };
    let section = format!(
        r#"[smtp]
  enabled = true
  host = "localhost"
  port = {}
  username = "username"
  password = "passw0rd"
  from = "me@example.com"
  to = ["me@example.com", "you@example.com"]
  no-verify = false
  idle-timeout = "30s"
  global = false
  state-changes-only = false
"#,
        smtpd.port
    );
    // The server's certificate is signed by the test CA, which this klaxond trusts as its
    // machine's roots.
    let mut server = Klaxond::builder()
        .config(&section)
        .env("SSL_CERT_FILE", pki.ca.to_str().unwrap())
        .start();

    define(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .email()\n      .to('oncall1@mydomain.com')\n      .to('oncall2@mydomain.com')\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=5 10",
    );
    let mail = smtpd.next_mail();
    assert!(mail.tls && mail.auth, "{mail:?}");
    assert_eq!(mail.from, "me@example.com");
    assert_eq!(mail.to, ["oncall1@mydomain.com", "oncall2@mydomain.com"]);
    assert_eq!(mail.header("Subject"), "Hey, check your CPU");
    assert_eq!(
        mail.header("To"),
        "oncall1@mydomain.com, oncall2@mydomain.com"
    );
    server.cli_ok(&["delete", "tasks", "cpu_alert"]);

    server.define_handler_from_file("email_cpu_handler.yaml",
        "id: email-cpu-alert\ntopic: cpu\nkind: smtp\noptions:\n  to:\n    - oncall1@mydomain.com\n    - oncall2@mydomain.com\n",
    );
    define(&server, "cpu_topic", CPU_TOPIC_TICK);
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=3 20",
    );
    let mail = smtpd.next_mail();
    assert!(mail.tls && mail.auth, "{mail:?}");
    assert_eq!(mail.to, ["oncall1@mydomain.com", "oncall2@mydomain.com"]);
    assert_eq!(mail.header("Subject"), "Hey, check your CPU");

    server.assert_service_test_passes("smtp");
    let mail = smtpd.next_mail();
    assert!(mail.tls && mail.auth, "{mail:?}");
    assert_eq!(mail.to, ["me@example.com", "you@example.com"]);
    assert_eq!(mail.header("Subject"), "test subject");
    assert_eq!(mail.body, "test body\n");

    // The password is redacted by the config API, and appears in no log line.
    let config: Value = server.get("/kapacitor/v1/config/smtp").json().unwrap();
    let element = &config["elements"][0];
    assert_eq!(element["options"]["password"], true, "{config}");
    assert_eq!(element["redacted"], json!(["password"]));
    server.stop();
    assert!(!server.log_text().contains("passw0rd"));
}

/// STARTTLS against a certificate this machine does not trust fails the service test and the
/// delivery, saying so; `no-verify = true` accepts it. A wrong password is the server's 535.
#[test]
fn smtp_refuses_an_untrusted_certificate_unless_no_verify() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(pki_dir.path());
    let Some(mut smtpd) = Smtpd::start(SmtpdMode::StartTlsAuth {
        cert: &pki.untrusted_cert,
        key: &pki.untrusted_key,
        user: "kapa",
        password: "secret",
    }) else {
        return;
    };
    let keys = "from = \"kapacitor@example.com\"\nto = [\"oncall@example.com\"]\nusername = \"kapa\"\npassword = \"secret\"\n";
    let server = Klaxond::builder()
        .config(&smtp_section(smtpd.port, keys))
        .env("SSL_CERT_FILE", pki.ca.to_str().unwrap())
        .start();
    let (success, message) = service_test(&server, "smtp");
    assert!(!success);
    assert!(
        message.starts_with(&format!("STARTTLS with 127.0.0.1:{}: ", smtpd.port)),
        "{message}"
    );

    let set = |keys: Value| {
        let response = server.send(
            "POST",
            "/kapacitor/v1/config/smtp/",
            &json!({"set": keys}).to_string(),
        );
        assert_eq!(response.status(), 204, "{}", response.text().unwrap());
    };
    set(json!({"no-verify": true}));
    server.assert_service_test_passes("smtp");
    let mail = smtpd.next_mail();
    assert!(mail.tls && mail.auth, "{mail:?}");

    set(json!({"password": "wrong"}));
    let (success, message) = service_test(&server, "smtp");
    assert!(!success);
    assert!(
        message.starts_with(&format!(
            "authenticate as \"kapa\" with 127.0.0.1:{}: permanent error (535)",
            smtpd.port
        )),
        "{message}"
    );
}

/// `global = true`: a task that names no `.email()` mails the configured recipients.
#[test]
fn smtp_global_mails_alerts_of_tasks_that_name_no_email() {
    let Some(mut smtpd) = Smtpd::start(SmtpdMode::Plain) else {
        return;
    };
    // The pipeline documentation's section, with this test's server.
    let keys = "username = \"\"\npassword = \"\"\nfrom = \"kapacitor@example.com\"\nto = [\"oncall@example.com\"]\n# Set global to true so all alert trigger emails.\nglobal = true\nstate-changes-only =  true\n";
    let server = Klaxond::builder()
        .config(&smtp_section(smtpd.port, keys))
        .start();
    define(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n",
    );
    for (t, idle) in [(10, 5), (11, 4), (12, 50)] {
        write(
            &server,
            "db=telegraf&rp=autogen",
            &format!("cpu,host=serverA usage_idle={idle} {t}"),
        );
    }
    // State changes only: the CRITICAL and its recovery, not the second CRITICAL.
    let subjects: Vec<String> = (0..2)
        .map(|_| smtpd.next_mail().header("Subject").to_owned())
        .collect();
    assert_eq!(subjects, ["cpu:nil is CRITICAL", "cpu:nil is OK"]);
}

// alerta -----------------------------------------------------------------------------------------

/// Starts klaxond with `config`; its HTTP clients need the crypto provider klaxon-http installs.
fn start(config: &str) -> Klaxond {
    klaxon_http::install_crypto_provider();
    Klaxond::builder().config(config).start()
}

fn json_body(request: &Received) -> Value {
    serde_json::from_slice(&request.body).unwrap_or_else(|e| panic!("{e}: {:?}", request.text()))
}

/// `TestServer_AlertHandlers`, case alerta: the handler file's alert, byte for byte.
#[test]
fn alerta_sends_kapacitors_server_test_alert_byte_for_byte() {
    let receiver = Receiver::http(vec![Answer::status(201)]);
    let server = start(&format!(
        "[alerta]\nenabled = true\nurl = \"{}\"\n",
        receiver.url()
    ));
    server.define_handler(
        "test",
        &json!({"id": "testAlertHandlers", "kind": "alerta", "options": {
            "token": "testtoken1234567", "token-prefix": "Bearer", "origin": "kapacitor",
            "group": "test", "environment": "env", "timeout": 86_400_000_000_000i64}}),
    );
    define(&server, "testAlertHandlers", SERVER_TEST_TICK);
    write(&server, "db=mydb&rp=myrp", "alert value=1 0000000000");

    let request = receiver.next();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/alert");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer testtoken1234567")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.text(),
        concat!(
            r#"{"correlate":["alert"],"environment":"env","event":"id","group":"test","origin":"kapacitor","#,
            r#""rawData":{"series":[{"name":"alert","columns":["time","value"],"values":[["1970-01-01T00:00:00Z",1]]}]},"#,
            r#""resource":"alert","service":["alert"],"severity":"critical","tags":[],"text":"message","timeout":86400,"value":""}"#,
            "\n"
        )
    );
}

/// The documentation's `[alerta]` pasted (pointing at a local stand-in), its TICKscripts (the
/// full one with the properties Kapacitor's documentation shows) and handler file as written,
/// and the service test.
#[test]
fn alerta_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        r#"[alerta]
  enabled = true
  url = "{}"
  token = "mysupersecretauthtoken"
  environment = "production"
  origin = "kapacitor"
"#,
        receiver.url().trim_end_matches('/')
    ));

    define(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .alerta()\n      .resource('{{ .Name }}')\n      .event('{{ .ID }}')\n      .correlated('{{ .Name }}')\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=5 10",
    );
    let alert = receiver.next();
    assert_eq!(alert.target, "/alert");
    assert_eq!(
        alert.header("authorization"),
        Some("Bearer mysupersecretauthtoken")
    );
    let body = json_body(&alert);
    for (key, value) in [
        ("resource", json!("cpu")),
        ("event", json!("cpu:nil")),
        ("environment", json!("production")),
        ("origin", json!("kapacitor")),
        ("correlate", json!(["cpu"])),
        ("service", json!(["cpu"])),
        ("group", json!("nil")),
        ("severity", json!("critical")),
        ("text", json!("Hey, check your CPU")),
        ("tags", json!(["host=serverA"])),
        ("timeout", json!(86400)),
        ("value", json!("")),
    ] {
        assert_eq!(body[key], value, "{key} in {body}");
    }
    // stateChangesOnly: a second CRITICAL is not sent, the recovery is.
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=4 11",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=50 12",
    );
    let recovery = json_body(&receiver.next());
    assert_eq!(recovery["severity"], "ok", "{recovery}");
    server.cli_ok(&["delete", "tasks", "cpu_alert"]);

    // The documentation's full property list, which Kapacitor itself refuses (.tokenPrefix,
    // .correlate and .service are not its properties).
    define(
        &server,
        "cpu_full",
        r#"stream
  |from()
    .measurement('cpu')
  |alert()
    .crit(lambda: "usage_idle" < 10)
    .stateChangesOnly()
    .alerta()
      .token('mysupersecretauthtoken')
      .tokenPrefix('Bearer')
      .resource('{{ .Name }}')
      .event('{{ .ID }}')
      .environment('Production')
      .group('{{ .Group }}')
      .value('some-value')
      .origin('kapacitor')
      .correlate('event1', 'event2')
      .service('service1', 'service2')
      .correlated('service1', 'service2')
      .timeout(24h)
      .attribute('booleanAttribute', TRUE)
      .attribute('key1', 'value1')
"#,
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverB usage_idle=5 20",
    );
    let body = json_body(&receiver.next());
    assert_eq!(body["environment"], "Production");
    assert_eq!(body["value"], "some-value");
    assert_eq!(body["service"], json!(["service1", "service2"]));
    assert_eq!(
        body["correlate"],
        json!(["event1", "event2", "service1", "service2"])
    );
    assert_eq!(
        body["attributes"],
        json!({"booleanAttribute": true, "key1": "value1"})
    );
    assert_eq!(body["timeout"], 86400);
    server.cli_ok(&["delete", "tasks", "cpu_full"]);

    server.define_handler_from_file("alerta_cpu_handler.yaml",
        "id: alerta-cpu-alert\ntopic: cpu\nkind: alerta\noptions:\n  resource: '{{ .Name }}'\n  event: '{{ .ID }}'\n  origin: 'kapacitor'\n  correlate: ['service1', 'service2']\n",
    );
    define(&server, "cpu_topic", CPU_TOPIC_TICK);
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=3 30",
    );
    let body = json_body(&receiver.next());
    assert_eq!(body["correlate"], json!(["service1", "service2"]));
    assert_eq!(body["event"], "cpu:nil");
    assert_eq!(body["text"], "Hey, check your CPU");

    server.assert_service_test_passes("alerta");
    let test = receiver.next();
    assert_eq!(
        test.text(),
        concat!(
            r#"{"attributes":{"testAttributeA":"A","testAttributeB":true,"testAttributeC":9001},"#,
            r#""correlate":["testServiceX","testServiceY"],"environment":"production","event":"testEvent","group":"testGroup","#,
            r#""origin":"kapacitor","rawData":{"series":null},"resource":"testResource","service":["testServiceA","testServiceB"],"#,
            r#""severity":"critical","tags":[],"text":"test alerta message","timeout":86400,"value":"testValue"}"#,
            "\n"
        )
    );

    let config: Value = server.get("/kapacitor/v1/config/alerta").json().unwrap();
    let element = &config["elements"][0];
    assert_eq!(element["options"]["token"], true, "{config}");
    assert_eq!(element["redacted"], json!(["token"]));
}

/// Alerta's refusal reaches the service test with its explanation.
#[test]
fn alerta_refusals_reach_the_service_test() {
    let receiver = Receiver::http(vec![Answer::status(401).body(
        r#"{"status": "error", "message": "Missing authorization API Key or Bearer Token"}"#,
    )]);
    let server = start(&format!(
        "[alerta]\nenabled = true\nurl = \"{}\"\n",
        receiver.url()
    ));
    let (success, message) = service_test(&server, "alerta");
    assert!(!success);
    assert_eq!(
        message,
        format!(
            "POST {}alert: 401 Unauthorized: Missing authorization API Key or Bearer Token",
            receiver.url()
        )
    );
}

// pushover ---------------------------------------------------------------------------------------

/// `TestServer_AlertHandlers`, case pushover: the handler file's form, byte for byte.
#[test]
fn pushover_sends_kapacitors_server_test_form_byte_for_byte() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        "[pushover]\nenabled = true\nurl = \"{}\"\ntoken = \"api_key\"\nuser-key = \"user\"\n",
        receiver.url()
    ));
    server.define_handler(
        "test",
        &json!({"id": "testAlertHandlers", "kind": "pushover", "options": {}}),
    );
    define(&server, "testAlertHandlers", SERVER_TEST_TICK);
    write(&server, "db=mydb&rp=myrp", "alert value=1 0000000000");

    let request = receiver.next();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.text(),
        "message=message&priority=1&token=api_key&user=user"
    );
}

/// The documentation's `[pushover]` pasted (pointing at a local stand-in), its TICKscripts and
/// handler files as written, and the service test; the token and user key stay secret.
#[test]
fn pushover_as_kapacitors_documentation_writes_it() {
    let receiver = Receiver::http(vec![]);
    let server = start(&format!(
        r#"[pushover]
  enabled = true
  token = "mysupersecrettoken"
  user-key = "myuserkey"
  url = "{}"
"#,
        receiver.url()
    ));
    let keys = "token=mysupersecrettoken&user=myuserkey";

    define(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .pushover()\n      .title('Alert from Kapacitor')\n      .sound('siren')      \n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=5 10",
    );
    assert_eq!(
        receiver.next().text(),
        format!(
            "message=Hey%2C+check+your+CPU&priority=1&sound=siren&title=Alert+from+Kapacitor&{keys}"
        )
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=50 11",
    );
    assert_eq!(
        receiver.next().text(),
        format!(
            "message=Hey%2C+check+your+CPU&priority=-2&sound=siren&title=Alert+from+Kapacitor&{keys}"
        )
    );
    server.cli_ok(&["delete", "tasks", "cpu_alert"]);

    // The documentation's property list, and the pipeline's with its own user key.
    define(
        &server,
        "cpu_full",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .pushover()\n      .device('device1, device2, device3')\n      .title('Alert from Kapacitor')\n      .URL('http://example.com')\n      .URLTitle('This is an example title')\n      .sound('siren')\n    .pushover()\n      .sound('siren')\n      .userKey('other user key or delivery group key')\n      .device('mydev')\n      .title('mytitle')\n      .URL('myurl')\n      .URLTitle('mytitle')\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverB usage_idle=5 20",
    );
    let mut forms = [receiver.next().text(), receiver.next().text()];
    forms.sort();
    assert_eq!(
        forms,
        [
            "device=device1%2C+device2%2C+device3&message=Hey%2C+check+your+CPU&priority=1&sound=siren&title=Alert+from+Kapacitor&token=mysupersecrettoken&url=http%3A%2F%2Fexample.com&url_title=This+is+an+example+title&user=myuserkey",
            "device=mydev&message=Hey%2C+check+your+CPU&priority=1&sound=siren&title=mytitle&token=mysupersecrettoken&url=myurl&url_title=mytitle&user=other+user+key+or+delivery+group+key",
        ]
    );
    server.cli_ok(&["delete", "tasks", "cpu_full"]);

    server.define_handler_from_file("pushover_handler.yaml",
        "id: handler-id\ntopic: cpu\nkind: pushover\noptions:\n  device: device1, device2, device3\n  title: Alert from Kapacitor\n  url: http://example.com\n  url-title: This is an example title\n  sound: siren\n",
    );
    server.define_handler_from_file("pushover_cpu_handler.yaml",
        "id: pushover-cpu-alert\ntopic: cpu\nkind: pushover\noptions:\n  title: Alert from Kapacitor\n  sound: siren\n",
    );
    define(&server, "cpu_topic", CPU_TOPIC_TICK);
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=3 30",
    );
    let mut forms = [receiver.next().text(), receiver.next().text()];
    forms.sort();
    assert_eq!(
        forms,
        [
            "device=device1%2C+device2%2C+device3&message=Hey%2C+check+your+CPU&priority=1&sound=siren&title=Alert+from+Kapacitor&token=mysupersecrettoken&url=http%3A%2F%2Fexample.com&url_title=This+is+an+example+title&user=myuserkey",
            &format!(
                "message=Hey%2C+check+your+CPU&priority=1&sound=siren&title=Alert+from+Kapacitor&{keys}"
            ),
        ]
    );

    server.assert_service_test_passes("pushover");
    assert_eq!(
        receiver.next().text(),
        format!("message=test+pushover+message&priority=1&{keys}")
    );

    let config: Value = server.get("/kapacitor/v1/config/pushover").json().unwrap();
    let element = &config["elements"][0];
    assert_eq!(element["options"]["token"], true, "{config}");
    assert_eq!(element["options"]["user-key"], true, "{config}");
    assert_eq!(element["redacted"], json!(["token", "user-key"]));
    let tests: Value = server
        .get("/kapacitor/v1/service-tests/pushover")
        .json()
        .unwrap();
    assert!(!tests.to_string().contains("myuserkey"), "{tests}");
}
