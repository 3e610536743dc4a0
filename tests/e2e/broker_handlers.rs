//! The handlers that speak a protocol (mqtt, snmptrap, kafka) in a real klaxond, against the
//! real thing started by each test: Debian's mosquitto with `mosquitto_sub` subscribing,
//! Debian's snmptrapd logging the traps it gets, and the tansu Kafka broker with a consumer
//! reading the messages back. Kapacitor's own server test, its documented sections pasted into
//! klaxon.toml, its documented TICKscripts and handler files typed as written, and the service
//! tests through the CLI and the API.
//!
//! A test whose daemon is not installed is skipped with a note, except under CI (the `CI`
//! environment variable set), where it fails: `.ci/run` installs them.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use klaxon_e2e::{DEADLINE, Klaxond, wait_for};
use klaxon_http::testing::TestPki;
use serde_json::{Value, json};
use tempfile::TempDir;

fn start(config: &str) -> Klaxond {
    Klaxond::builder().config(config).start()
}

fn cli(server: &Klaxond, args: &[&str]) -> (bool, String) {
    let output = server.cli(args);
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn cli_ok(server: &Klaxond, args: &[&str]) -> String {
    let (ok, text) = cli(server, args);
    assert!(ok, "klaxon {args:?}: {text}");
    text
}

/// Writes `text` to `name` in the server's directory, where the CLI runs.
fn write_file(server: &Klaxond, name: &str, text: &str) {
    std::fs::write(server.dir().join(name), text).unwrap();
}

/// Defines and enables the task `id` from a TICKscript file, as a user does.
fn define(server: &Klaxond, id: &str, tick: &str) {
    let file = format!("{id}.tick");
    write_file(server, &file, tick);
    cli_ok(server, &["define", id, "-tick", &file]);
    cli_ok(server, &["enable", id]);
}

/// Defines a topic handler from a handler file, as a user does.
fn define_handler(server: &Klaxond, name: &str, yaml: &str) {
    write_file(server, name, yaml);
    cli_ok(server, &["define-topic-handler", name]);
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

/// `POST /kapacitor/v1/service-tests/<name>` with `options`: the answer.
fn service_test(server: &Klaxond, name: &str, options: &Value) -> Value {
    let response = server.send(
        "POST",
        &format!("/kapacitor/v1/service-tests/{name}"),
        &options.to_string(),
    );
    assert_eq!(response.status(), 200);
    response.json().unwrap()
}

/// Kapacitor's `TestServer_AlertHandlers` task: every point of measurement `alert` is a
/// CRITICAL alert with ID `id`, published to topic `test`.
const SERVER_TEST_TICK: &str = "dbrp \"mydb\".\"myrp\"\n\nstream\n\t|from()\n\t\t.measurement('alert')\n\t|alert()\n\t\t.topic('test')\n\t\t.id('id')\n\t\t.message('message')\n\t\t.details('details')\n\t\t.crit(lambda: TRUE)\n";

/// Runs Kapacitor's `TestServer_AlertHandlers` with `handlers` on topic `test`.
fn kapacitors_server_test(server: &Klaxond, handlers: &[Value]) {
    for handler in handlers {
        server.define_handler("test", handler);
    }
    define(server, "testAlertHandlers", SERVER_TEST_TICK);
    write(server, "db=mydb&rp=myrp", "alert value=1 0000000000");
}

/// A loopback TCP port that nothing listens on.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A program of a Debian package, or `None` (after a note) when it is not installed outside
/// CI. Looks where Debian puts it too: root's PATH has /usr/sbin, others' may not.
fn installed(program: &str, package: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is missing under CI; .ci/run installs Debian's {package} package"
        );
        eprintln!("{program} is not installed ({package}): skipping this test");
    }
    found
}

/// A daemon started by a test, its output in a file, stopped when dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(command: &mut Command, log: PathBuf) -> Daemon {
        let out = std::fs::File::create(&log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {command:?}: {e}"));
        Daemon { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until something accepts connections on the TCP `port`.
    fn wait_for_port(&mut self, port: u16) {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the daemon exited ({status}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < DEADLINE,
                "nothing listens on {port}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the log has a line containing `needle`, and returns the line.
    fn wait_for_log(&self, needle: &str) -> String {
        let mut line = None;
        wait_for(&format!("{needle:?} in the daemon's log"), || {
            line = self
                .log()
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_owned);
            line.is_some()
        });
        line.unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory the daemons (which may drop to their own users) can read.
fn shared_dir() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

// mqtt -------------------------------------------------------------------------------------------

/// Debian's mosquitto, with the listeners and users of a test.
struct Mosquitto {
    daemon: Daemon,
    /// The plain listener, for subscribers.
    port: u16,
    /// `-u user -P password` for subscribers when the broker wants a login.
    login: Vec<String>,
    _dir: TempDir,
}

/// How mosquitto is set up: its plain listener, an optional TLS listener requiring a client
/// certificate, and an optional single user.
#[derive(Default)]
struct MosquittoSetup<'a> {
    tls: Option<(u16, &'a TestPki)>,
    user: Option<(&'a str, &'a str)>,
}

impl Mosquitto {
    fn start(port: u16, setup: MosquittoSetup<'_>) -> Option<Mosquitto> {
        let broker = installed("mosquitto", "mosquitto")?;
        installed("mosquitto_sub", "mosquitto-clients")?;
        let dir = shared_dir();
        let mut conf = format!("persistence false\nlistener {port} 127.0.0.1\n");
        if let Some((tls, pki)) = setup.tls {
            conf += &format!(
                "listener {tls} 127.0.0.1\ncertfile {}\nkeyfile {}\ncafile {}\nrequire_certificate true\n",
                pki.server_cert.display(),
                pki.server_key.display(),
                pki.ca.display()
            );
        }
        let mut login = Vec::new();
        if let Some((user, password)) = setup.user {
            let file = dir.path().join("passwords");
            let status = Command::new(installed("mosquitto_passwd", "mosquitto")?)
                .args(["-b", "-c"])
                .arg(&file)
                .args([user, password])
                .status()
                .unwrap();
            assert!(status.success());
            make_readable(&file);
            conf = format!("allow_anonymous false\npassword_file {}\n", file.display()) + &conf;
            login = vec!["-u".into(), user.into(), "-P".into(), password.into()];
        } else {
            conf = "allow_anonymous true\n".to_owned() + &conf;
        }
        let path = dir.path().join("mosquitto.conf");
        std::fs::write(&path, conf).unwrap();
        make_readable(&path);
        let mut daemon = Daemon::spawn(
            Command::new(broker).arg("-c").arg(&path),
            dir.path().join("mosquitto.log"),
        );
        daemon.wait_for_port(port);
        if let Some((tls, _)) = setup.tls {
            daemon.wait_for_port(tls);
        }
        Some(Mosquitto {
            daemon,
            port,
            login,
            _dir: dir,
        })
    }

    /// `mosquitto_sub` on the plain listener with `args`, printing each message as
    /// `topic|qos|retained|payload`.
    fn sub(&self, args: &[&str]) -> Command {
        // mosquitto_sub's output is C stdio's, held back in a pipe unless line-buffered.
        let mut command = Command::new("stdbuf");
        command
            .args(["-oL", "mosquitto_sub"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.login)
            .args(["-q", "2", "-F", "%t|%q|%r|%p"])
            .args(args);
        command
    }

    /// A subscriber to `filter`, subscribed when this returns.
    fn subscribe(&self, filter: &str) -> Subscriber {
        let mut child = self
            .sub(&["-d", "-t", filter])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let subscriber = Subscriber { child, lines };
        let start = Instant::now();
        loop {
            let line = subscriber
                .lines
                .recv_timeout(DEADLINE.saturating_sub(start.elapsed()))
                .expect("mosquitto_sub subscribes");
            if line.contains("received SUBACK") {
                return subscriber;
            }
        }
    }

    /// The retained messages under `filter`, as a subscriber that comes now gets them, sorted;
    /// waits until there are `count`, all flagged retained (a subscriber that was there when a
    /// message came gets it live, unflagged).
    fn retained(&self, filter: &str, count: usize) -> Vec<String> {
        let mut messages = Vec::new();
        wait_for(&format!("{count} retained messages under {filter}"), || {
            let output = self
                .sub(&["-t", filter, "-C", &count.to_string(), "-W", "2"])
                .output()
                .unwrap();
            messages = String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            messages.len() == count && messages.iter().all(|m| m.split('|').nth(2) == Some("1"))
        });
        messages.sort();
        messages
    }
}

/// A running `mosquitto_sub`.
struct Subscriber {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Subscriber {
    /// The next message, as `topic|qos|retained|payload`.
    fn next(&self) -> String {
        let start = Instant::now();
        loop {
            let line = self
                .lines
                .recv_timeout(DEADLINE.saturating_sub(start.elapsed()))
                .expect("a message in time");
            // mosquitto_sub -d prints its protocol exchange on lines of its own.
            if !line.starts_with("Client ") && !line.starts_with("Subscribed ") {
                return line;
            }
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn make_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Kapacitor's `TestServer_AlertHandlers` "mqtt" cases through a real klaxond: its broker named
/// `test` (the only one, so the default), a handler publishing to `test` at least once and
/// retained, and one to the template `test/{{.TaskName}}`. A subscriber that comes after gets
/// both, with their QoS and retained flag, because the broker kept them.
#[test]
fn mqtt_kapacitors_server_test_reaches_mosquitto() {
    let port = free_port();
    let Some(broker) = Mosquitto::start(port, MosquittoSetup::default()) else {
        return;
    };
    let server = start(&format!(
        "[[mqtt]]\nenabled = true\nname = \"test\"\nurl = \"tcp://127.0.0.1:{port}\"\n"
    ));
    kapacitors_server_test(
        &server,
        &[
            json!({"id": "testAlertHandlers", "kind": "mqtt",
                   "options": {"topic": "test", "qos": "at-least-once", "retained": true}}),
            json!({"id": "testAlertHandlersTemplate", "kind": "mqtt",
                   "options": {"topic": "test/{{.TaskName}}", "qos": "at-least-once",
                               "retained": true}}),
        ],
    );
    assert_eq!(
        broker.retained("test/#", 2),
        ["test/testAlertHandlers|1|1|message", "test|1|1|message"]
    );
    let line = broker.daemon.wait_for_log(" as test ");
    assert!(line.ends_with(" as test (p2, c1, k30)."), "{line}");
}

/// Kapacitor's MQTT documentation: the two-broker section pasted (the URLs at local brokers,
/// the TLS files made for the test), the TICKscript publishing at QoS 2 to the default broker,
/// the handler file publishing retained to `alerts-broker` over TLS with a client certificate
/// and a login, and the generic handler file, refused for its unknown broker.
#[test]
fn mqtt_as_kapacitors_documentation_writes_it() {
    let (local_port, alerts_port, alerts_tls) = (free_port(), free_port(), free_port());
    let Some(local) = Mosquitto::start(local_port, MosquittoSetup::default()) else {
        return;
    };
    let pki_dir = shared_dir();
    let pki = TestPki::generate(pki_dir.path());
    for file in [&pki.server_cert, &pki.server_key, &pki.ca] {
        make_readable(file);
    }
    let setup = MosquittoSetup {
        tls: Some((alerts_tls, &pki)),
        user: Some(("myuser", "mysupersecretpassw0rd")),
    };
    let alerts = Mosquitto::start(alerts_port, setup).unwrap();
    let server = start(&format!(
        r#"
[[mqtt]]
  enabled = true
  name = "localhost"
  default = true
  url = "tcp://localhost:{local_port}"

[[mqtt]]
  enabled = true
  name = "alerts-broker"
  default = false
  url = "ssl://localhost:{alerts_tls}"
  ssl-ca = "{ca}"
  ssl-cert = "{cert}"
  ssl-key = "{key}"
  client-id = "alerts-broker"
  username = "myuser"
  password = "mysupersecretpassw0rd"
"#,
        ca = pki.ca.display(),
        cert = pki.client_cert.display(),
        key = pki.client_key.display(),
    ));
    let on_local = local.subscribe("#");
    let on_alerts = alerts.subscribe("#");

    define(
        &server,
        "cpu_mqtt",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('{{ .Time }}: CPU usage over 90%')\n    .mqtt('alerts')\n      .qos(2)\n",
    );
    define(
        &server,
        "cpu_topic",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('{{ .Time }}: CPU usage over 90%')\n    .topic('cpu')\n",
    );
    define_handler(
        &server,
        "log-cpu-alert.yaml",
        "id: log-cpu-alert\ntopic: cpu\nkind: mqtt\noptions:\n  broker-name: 'alerts-broker'\n  topic: 'alerts'\n  qos: 2\n  retained: true\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu usage_idle=5 1700000000",
    );

    let message = "2023-11-14 22:13:20 +0000 UTC: CPU usage over 90%";
    assert_eq!(on_local.next(), format!("alerts|2|0|{message}"));
    assert_eq!(on_alerts.next(), format!("alerts|2|0|{message}"));
    assert_eq!(
        alerts.retained("alerts", 1),
        [format!("alerts|2|1|{message}")]
    );
    let line = alerts.daemon.wait_for_log(" as alerts-broker ");
    assert!(
        line.ends_with("as alerts-broker (p2, c1, k30, u'myuser')."),
        "{line}"
    );

    // The documentation's generic handler file names a broker this server does not have.
    write_file(
        &server,
        "handler.yaml",
        "id: handler-id\ntopic: topic-name\nkind: mqtt\noptions:\n  broker-name: 'name'\n  topic: 'topic-name'\n  qos: 1\n  retained: true\n",
    );
    let (ok, text) = cli(&server, &["define-topic-handler", "handler.yaml"]);
    assert!(!ok);
    assert!(
        text.contains(
            r#"unknown MQTT broker "name"; the [[mqtt]] brokers are: "localhost", "alerts-broker""#
        ),
        "{text}"
    );
}

/// kapacitor.conf's `[[mqtt]]` as Kapacitor's documentation writes it (its TLS files do not
/// exist: a tcp:// broker never reads them), the service test through the CLI (which, as in
/// Kapacitor, has no topic) and through the API with one, and the password kept secret.
#[test]
fn mqtt_service_test_and_the_secret_password() {
    let port = free_port();
    let Some(broker) = Mosquitto::start(port, MosquittoSetup::default()) else {
        return;
    };
    let server = start(&format!(
        r#"
[[mqtt]]
  enabled = true
  name = "localhost"
  default = true
  url = "tcp://localhost:{port}"
  ssl-ca = "/etc/kapacitor/ca.pem"
  ssl-cert = "/etc/kapacitor/cert.pem"
  ssl-key = "/etc/kapacitor/key.pem"
  client-id = "xxxx"
  username = "xxxx"
  password = "xxxx"
"#
    ));
    let subscriber = broker.subscribe("#");

    // As in Kapacitor, the test has no topic unless given one.
    let (ok, text) = cli(&server, &["service-tests", "mqtt"]);
    assert!(!ok, "{text}");
    assert!(
        text.starts_with(
            "Service             Success   Message\nmqtt                false     missing MQTT topic\n"
        ),
        "{text}"
    );
    let options = r#"{"topic": "test", "qos": "exactly-one"}"#;
    assert_eq!(
        cli_ok(&server, &["service-tests", "-options", options, "mqtt"]),
        "Service             Success   Message\nmqtt                true      \n"
    );
    assert_eq!(subscriber.next(), "test|2|0|test MQTT message");
    let answer = service_test(&server, "mqtt", &json!({"topic": "test", "retained": true}));
    assert_eq!(answer, json!({"success": true, "message": ""}));
    assert_eq!(subscriber.next(), "test|0|0|test MQTT message");
    broker
        .daemon
        .wait_for_log(" as xxxx (p2, c1, k30, u'xxxx').");

    let config: Value = server.get("/kapacitor/v1/config/mqtt").json().unwrap();
    let element = &config["elements"][0];
    assert_eq!(element["options"]["password"], json!(true), "{config}");
    assert_eq!(element["redacted"], json!(["password"]), "{config}");
}

/// A broker that is down when the alert fires: the delivery fails, retryably, and reaches the
/// broker once it is up.
#[test]
fn mqtt_a_broker_that_is_down_is_retried_until_it_is_back() {
    let port = free_port();
    if installed("mosquitto", "mosquitto").is_none() {
        return;
    }
    let mut server = start(&format!(
        "[[mqtt]]\nenabled = true\nname = \"later\"\nurl = \"tcp://127.0.0.1:{port}\"\n"
    ));
    define(
        &server,
        "cpu_mqtt",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('CPU usage over 90%')\n    .mqtt('alerts')\n      .qos(1)\n      .retained(TRUE)\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu usage_idle=5 1700000000",
    );
    let line = server.wait_for_log("delivery failed; retrying");
    assert!(
        line.contains(r#"connect to MQTT broker \"later\": Connection refused"#),
        "{line}"
    );
    let broker = Mosquitto::start(port, MosquittoSetup::default()).unwrap();
    assert_eq!(
        broker.retained("alerts", 1),
        ["alerts|1|1|CPU usage over 90%"]
    );
}

// snmptrap ---------------------------------------------------------------------------------------

/// Debian's snmptrapd on a loopback UDP port, logging each trap as one line:
/// `TRAP|<sender>|TRAP2, SNMP v2c, community <c>|<oid> = <type>: <value>~...`.
struct Snmptrapd {
    daemon: Daemon,
    pub(crate) addr: String,
    _dir: TempDir,
}

impl Snmptrapd {
    fn start() -> Option<Snmptrapd> {
        let binary = installed("snmptrapd", "snmptrapd")?;
        let dir = shared_dir();
        let conf = dir.path().join("snmptrapd.conf");
        std::fs::write(&conf, "disableAuthorization yes\n").unwrap();
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        // -f foreground, -Lo log to stdout, -C no other configuration, -n no DNS, -On numeric
        // OIDs, -m '' no MIBs; -F one line per trap, the bindings separated by ~.
        let daemon = Daemon::spawn(
            Command::new(binary)
                .env("SNMP_PERSISTENT_DIR", dir.path().join("persist"))
                .args(["-f", "-Lo", "-C", "-c"])
                .arg(&conf)
                .args(["-n", "-On", "-m", "", "-F", "TRAP|%b|%P|%V~%v\n"])
                .arg(format!("udp:{addr}")),
            dir.path().join("traps.log"),
        );
        daemon.wait_for_log("NET-SNMP version");
        Some(Snmptrapd {
            daemon,
            addr,
            _dir: dir,
        })
    }

    /// The traps received, as `(pdu, bindings)`, once there are `count`.
    fn traps(&self, count: usize) -> Vec<(String, Vec<String>)> {
        let mut traps = Vec::new();
        wait_for(&format!("{count} traps"), || {
            traps = self
                .daemon
                .log()
                .lines()
                .filter_map(|line| line.strip_prefix("TRAP|"))
                .map(|line| {
                    let mut parts = line.splitn(3, '|').skip(1);
                    let pdu = parts.next().unwrap_or_default().to_owned();
                    let bindings = parts.next().unwrap_or_default();
                    (pdu, bindings.split('~').map(str::to_owned).collect())
                })
                .collect();
            traps.len() >= count
        });
        traps
    }
}

/// The bindings every Kapacitor trap starts with, then `data`.
fn trap_bindings(trap_oid: &str, data: &[&str]) -> Vec<String> {
    let mut all = vec![
        ".1.3.6.1.2.1.1.3.0 = Timeticks: (1000) 0:00:10.00".to_owned(),
        format!(".1.3.6.1.6.3.1.1.4.1.0 = OID: .{trap_oid}"),
    ];
    all.extend(data.iter().map(|d| (*d).to_owned()));
    all
}

/// Kapacitor's `TestServer_AlertHandlers` "snmptrap" case through a real klaxond, against
/// snmptrapd.
#[test]
fn snmptrap_kapacitors_server_test_reaches_snmptrapd() {
    let Some(traps) = Snmptrapd::start() else {
        return;
    };
    let server = start(&format!(
        "[snmptrap]\nenabled = true\naddr = \"{}\"\ncommunity = \"public\"\nretries = 3\n",
        traps.addr
    ));
    kapacitors_server_test(
        &server,
        &[
            json!({"id": "testAlertHandlers", "kind": "snmptrap", "options": {
            "trap-oid": "1.1.2",
            "data-list": [
                {"oid": "1.1.2.1", "type": "s", "value": "{{.Message}}"},
                {"oid": "1.1.2.2", "type": "s", "value": "{{.Level}}"},
            ]}}),
        ],
    );
    let received = traps.traps(1);
    assert_eq!(received[0].0, "TRAP2, SNMP v2c, community public");
    assert_eq!(
        received[0].1,
        trap_bindings(
            "1.1.2",
            &[
                r#".1.1.2.1 = STRING: "message""#,
                r#".1.1.2.2 = STRING: "CRITICAL""#
            ]
        )
    );
}

/// Kapacitor's `TestStream_AlertSNMPTrap` through the pipeline: serverA's count of 10 points in
/// a 10 s window is CRITICAL, sent as two traps with every data type.
#[test]
fn snmptrap_kapacitors_stream_test() {
    let Some(traps) = Snmptrapd::start() else {
        return;
    };
    let server = start(&format!(
        "[snmptrap]\nenabled = true\naddr = \"{}\"\ncommunity = \"public\"\nretries = 2\n",
        traps.addr
    ));
    define(
        &server,
        "TestStream_Alert",
        "stream\n\t|from()\n\t\t.measurement('cpu')\n\t\t.where(lambda: \"host\" == 'serverA')\n\t\t.groupBy('host')\n\t|window()\n\t\t.period(10s)\n\t\t.every(10s)\n\t|count('value')\n\t|alert()\n\t\t.id('kapacitor/{{ .Name }}/{{ index .Tags \"host\" }}')\n\t\t.info(lambda: \"count\" > 6.0)\n\t\t.warn(lambda: \"count\" > 7.0)\n\t\t.crit(lambda: \"count\" > 8.0)\n\t\t.details('{{ \"here\" }}/{{ .Name }}')\n\t\t.snmpTrap('1.1.1')\n\t\t\t.data('1.1.1.2', 'c', '1')\n\t\t\t.data('1.1.1.2', 's', 'SNMP ALERT')\n\t\t\t.data('1.1.1.2', 's', '{{.Message}}')\n\t\t.snmpTrap('1.1.2')\n\t\t\t.data('1.1.2.3', 'i', '10')\n\t\t\t.data('1.1.2.3', 'n', '')\n\t\t\t.data('1.1.2.3', 't', '20000')\n\t\t\t.data('1.1.2.3', 's', '{{ .Details }}')\n",
    );
    // Ten points of serverA in 1971-01-01T00:00:00..09, and one at 00:00:10 closing the window.
    let lines: Vec<String> = (0..=10)
        .map(|s| {
            format!(
                "cpu,host=serverA,type=idle value={} {}",
                90 + s,
                31_536_000 + s
            )
        })
        .collect();
    write(&server, "db=dbname&rp=rpname", &lines.join("\n"));
    let mut received: Vec<Vec<String>> = traps.traps(2).into_iter().map(|(_, b)| b).collect();
    received.sort();
    assert_eq!(
        received,
        [
            trap_bindings(
                "1.1.1",
                &[
                    ".1.1.1.2 = Counter64: 1",
                    r#".1.1.1.2 = STRING: "SNMP ALERT""#,
                    r#".1.1.1.2 = STRING: "kapacitor/cpu/serverA is CRITICAL""#,
                ]
            ),
            trap_bindings(
                "1.1.2",
                &[
                    ".1.1.2.3 = INTEGER: 10",
                    ".1.1.2.3 = NULL",
                    ".1.1.2.3 = Timeticks: (20000) 0:03:20.00",
                    r#".1.1.2.3 = STRING: "here/cpu""#,
                ]
            ),
        ]
    );
}

/// Kapacitor's snmptrap documentation: the section pasted, its TICKscript with four data, its
/// handler file with `value: 50` (a YAML number), the service test, and the community redacted.
#[test]
fn snmptrap_as_kapacitors_documentation_writes_it() {
    let Some(traps) = Snmptrapd::start() else {
        return;
    };
    let port = traps.addr.rsplit_once(':').unwrap().1;
    let server = start(&format!(
        "[snmptrap]\n  enabled = true\n  addr = \"localhost:{port}\"\n  community = \"kapacitor\"\n  retries = 1\n"
    ));
    define(
        &server,
        "cpu_snmp",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .snmpTrap('1.3.6.1.4.1.1')\n      .data('1.3.6.1.4.1.1.5', 's', '{{ .Level }}')\n      .data('1.3.6.1.4.1.1.6', 'i', '50')\n      .data('1.3.6.1.4.1.1.7', 'c', '{{ index .Fields \"num_requests\" }}')\n      .data('1.3.6.1.4.1.1.8', 's', '{{ .Message }}')\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=5,num_requests=1234i 1700000000",
    );
    let documented = [
        r#".1.3.6.1.4.1.1.5 = STRING: "CRITICAL""#,
        ".1.3.6.1.4.1.1.6 = INTEGER: 50",
        ".1.3.6.1.4.1.1.7 = Counter64: 1234",
        r#".1.3.6.1.4.1.1.8 = STRING: "Hey, check your CPU""#,
    ];
    let received = traps.traps(1);
    assert_eq!(received[0].0, "TRAP2, SNMP v2c, community kapacitor");
    assert_eq!(received[0].1, trap_bindings("1.3.6.1.4.1.1", &documented));

    // The same data from the documented handler file, on the documented task's topic.
    define(
        &server,
        "cpu_topic",
        "stream\n  |from()\n    .measurement('disk')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .topic('cpu')\n",
    );
    define_handler(
        &server,
        "snmptrap.yaml",
        "id: handler-id\ntopic: cpu\nkind: snmptrap\noptions:\n  trap-oid: 1.3.6.1.4.1.1\n  data-list:\n    - oid: 1.3.6.1.4.1.1.5\n      type: s\n      value: '{{ .Level }}'\n    - oid: 1.3.6.1.4.1.1.6\n      type: i\n      value: 50\n    - oid: 1.3.6.1.4.1.1.7\n      type: c\n      value: '{{ index .Fields \"num_requests\" }}'\n    - oid: 1.3.6.1.4.1.1.8\n      type: s\n      value: '{{ .Message }}'\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "disk,host=serverA usage_idle=5,num_requests=1234i 1700000000",
    );
    assert_eq!(
        traps.traps(2)[1].1,
        trap_bindings("1.3.6.1.4.1.1", &documented)
    );

    assert_eq!(
        cli_ok(&server, &["service-tests", "snmptrap"]),
        "Service             Success   Message\nsnmptrap            true      \n"
    );
    assert_eq!(
        traps.traps(3)[2].1,
        trap_bindings(
            "1.1.1.1",
            &[r#".1.1.1.1.2 = STRING: "test snmptrap message""#]
        )
    );

    let config: Value = server.get("/kapacitor/v1/config/snmptrap").json().unwrap();
    let element = &config["elements"][0];
    assert_eq!(element["options"]["community"], json!(true), "{config}");
    assert_eq!(element["redacted"], json!(["community"]), "{config}");
}

/// Kapacitor's `TestServer_DoServiceTest`: the disabled service says so.
#[test]
fn snmptrap_service_test_while_disabled() {
    let server = start("");
    let answer = service_test(&server, "snmptrap", &json!({}));
    assert_eq!(
        answer,
        json!({"success": false, "message": "service is not enabled"})
    );
}

// kafka ------------------------------------------------------------------------------------------

/// tansu, a Kafka-protocol broker published as a Rust crate (Debian has no Kafka broker),
/// keeping its data in memory, on a loopback port.
pub(crate) struct Tansu {
    _daemon: Daemon,
    binary: PathBuf,
    pub(crate) url: String,
    pub(crate) addr: String,
    _dir: TempDir,
}

impl Tansu {
    pub(crate) fn start() -> Option<Tansu> {
        Tansu::start_on(free_port())
    }

    fn start_on(port: u16) -> Option<Tansu> {
        let binary = tansu()?;
        Some(Tansu::run(
            binary,
            shared_dir(),
            port,
            "memory://tansu/",
            false,
            port,
        ))
    }

    /// A broker reached through a TLS proxy on `advertised` (what its metadata tells clients,
    /// and its `addr`); its own plain listener (`url`) takes the admin commands.
    pub(crate) fn start_behind(advertised: u16) -> Option<Tansu> {
        let binary = tansu()?;
        Some(Tansu::run(
            binary,
            shared_dir(),
            free_port(),
            "memory://tansu/",
            false,
            advertised,
        ))
    }

    /// A broker that requires SASL (SCRAM) and knows one user: started without authentication
    /// to create the user, then again with it over the same storage.
    pub(crate) fn start_with_user(user: &str, password: &str) -> Option<Tansu> {
        let binary = tansu()?;
        let port = free_port();
        let open = Tansu::run(
            binary.clone(),
            shared_dir(),
            port,
            "sqlite://tansu.db",
            false,
            port,
        );
        let status = Command::new(&binary)
            .args(["user", "create", "--broker", &open.url, user, password])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "tansu user create");
        let Tansu { _daemon, _dir, .. } = open;
        drop(_daemon);
        Some(Tansu::run(
            binary,
            _dir,
            port,
            "sqlite://tansu.db",
            true,
            port,
        ))
    }

    fn run(
        binary: PathBuf,
        dir: TempDir,
        port: u16,
        storage: &str,
        authentication: bool,
        advertised: u16,
    ) -> Tansu {
        let url = format!("tcp://127.0.0.1:{port}");
        let addr = format!("127.0.0.1:{advertised}");
        let mut command = Command::new(&binary);
        // tansu reads a .env from its working directory: its own directory has none.
        command
            .current_dir(dir.path())
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &format!("tcp://{addr}")])
            .args(["--storage-engine", storage]);
        if authentication {
            command.arg("--authentication");
        }
        let mut daemon = Daemon::spawn(&mut command, dir.path().join("tansu.log"));
        daemon.wait_for_port(port);
        Tansu {
            _daemon: daemon,
            binary,
            url,
            addr,
            _dir: dir,
        }
    }

    /// A klaxond with one `[[kafka]]` cluster, `default`, at this broker, and `more` keys.
    fn klaxond(&self, more: &str) -> Klaxond {
        start(&format!(
            "[[kafka]]\nenabled = true\nid = \"default\"\nbrokers = [\"{}\"]\n{more}",
            self.addr
        ))
    }

    /// `tansu topic create` (tansu, unlike Kafka's default, creates no topic on demand).
    pub(crate) fn create_topic(&self, topic: &str, partitions: u32) {
        let status = Command::new(&self.binary)
            .args(["topic", "create", "--broker", &self.url])
            .args(["--partitions", &partitions.to_string(), topic])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "tansu topic create {topic}");
    }

    /// The messages of `topic`, as `(partition, key, value)` in partition order, read by a
    /// consumer that keeps their bytes (`tansu cat consume` decodes values as JSON); waits
    /// until there are `count`.
    fn consume(&self, topic: &str, count: usize) -> Vec<(u32, String, String)> {
        let mut messages = Vec::new();
        wait_for(&format!("{count} messages in {topic}"), || {
            let output = Command::new(kafka_consume())
                .args([&self.addr, topic])
                .output()
                .unwrap();
            messages = String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(|line| {
                    let m: Value = serde_json::from_str(line).unwrap();
                    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                    let partition = m["partition"].as_u64().unwrap_or_default() as u32;
                    (partition, text(&m["key"]), text(&m["value"]))
                })
                .collect();
            messages.len() >= count
        });
        messages
    }
}

/// Debian's stunnel taking TLS on `accept` with the certificate `cert` and key `key`, and
/// forwarding the plain bytes to `connect`: a TLS front for a broker that has none.
pub(crate) struct TlsProxy {
    _daemon: Daemon,
    _dir: TempDir,
}

impl TlsProxy {
    pub(crate) fn start(accept: u16, connect: u16, cert: &Path, key: &Path) -> Option<TlsProxy> {
        let binary = installed("stunnel", "stunnel4")?;
        let dir = shared_dir();
        let config = dir.path().join("stunnel.conf");
        std::fs::write(
            &config,
            format!(
                "foreground = yes\npid =\n[kafka]\naccept = 127.0.0.1:{accept}\n\
                 connect = 127.0.0.1:{connect}\ncert = {}\nkey = {}\n",
                cert.display(),
                key.display()
            ),
        )
        .unwrap();
        let mut daemon = Daemon::spawn(
            Command::new(binary).arg(&config),
            dir.path().join("stunnel.log"),
        );
        daemon.wait_for_port(accept);
        Some(TlsProxy {
            _daemon: daemon,
            _dir: dir,
        })
    }
}

/// A free loopback port.
pub(crate) fn free_tcp_port() -> u16 {
    free_port()
}

/// The kafka crate's example consumer (rskafka), built once.
fn kafka_consume() -> &'static Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let mut command = Command::new(env!("CARGO"));
        command.current_dir(klaxon_e2e::workspace_root()).args([
            "build",
            "--quiet",
            "-p",
            "klaxon-handler-kafka",
            "--example",
            "kafka-consume",
        ]);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        assert!(
            command.status().unwrap().success(),
            "building kafka-consume failed"
        );
        klaxon_e2e::binaries()
            .join("examples")
            .join("kafka-consume")
    })
}

/// tansu: on the PATH (`.ci/run` installs it with `cargo install tansu`), or `None` after a
/// note outside CI.
fn tansu() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join("tansu"))
        .find(|candidate| candidate.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tansu is missing under CI; .ci/run installs it with cargo install tansu"
        );
        eprintln!("tansu is not installed: skipping this test");
    }
    found
}

/// The alert JSON of Kapacitor's `TestServer_AlertHandlers`, with its newline.
const SERVER_TEST_JSON: &str = "{\"id\":\"id\",\"message\":\"message\",\"details\":\"details\",\"time\":\"1970-01-01T00:00:00Z\",\"duration\":0,\"level\":\"CRITICAL\",\"data\":{\"series\":[{\"name\":\"alert\",\"columns\":[\"time\",\"value\"],\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]},\"previousLevel\":\"OK\",\"recoverable\":true}\n";

/// Kapacitor's `TestServer_AlertHandlers` "kafka" case through a real klaxond: the alert JSON,
/// keyed `id`, in the third of three partitions (crc32("id") % 3 = 2).
#[test]
fn kafka_kapacitors_server_test_reaches_a_broker() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    broker.create_topic("test", 3);
    let server = broker.klaxond("");
    kapacitors_server_test(
        &server,
        &[json!({"id": "testAlertHandlers", "kind": "kafka",
                 "options": {"cluster": "default", "topic": "test"}})],
    );
    assert_eq!(
        broker.consume("test", 1),
        [(2, "id".to_owned(), SERVER_TEST_JSON.to_owned())]
    );
}

/// Kapacitor's `TestStream_AlertKafka` through the pipeline: the message template, batch-size
/// 1, in the second of three partitions (crc32("kapacitor/cpu/serverA") % 3 = 1).
#[test]
fn kafka_kapacitors_stream_test() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    broker.create_topic("testTopic", 3);
    let server = broker.klaxond("batch-size = 1\n");
    define(
        &server,
        "TestStream_Alert",
        "stream\n\t|from()\n\t\t.measurement('cpu')\n\t\t.where(lambda: \"host\" == 'serverA')\n\t\t.groupBy('host')\n\t|window()\n\t\t.period(10s)\n\t\t.every(10s)\n\t|count('value')\n\t|alert()\n\t\t.id('kapacitor/{{ .Name }}/{{ index .Tags \"host\" }}')\n\t\t.info(lambda: \"count\" > 6.0)\n\t\t.warn(lambda: \"count\" > 7.0)\n\t\t.crit(lambda: \"count\" > 8.0)\n\t\t.kafka()\n\t\t.cluster('default')\n\t\t.kafkaTopic('testTopic')\n\t\t.template('{{.Message}}')\n",
    );
    let lines: Vec<String> = (0..=10)
        .map(|s| {
            format!(
                "cpu,host=serverA,type=idle value={} {}",
                90 + s,
                31_536_000 + s
            )
        })
        .collect();
    write(&server, "db=dbname&rp=rpname", &lines.join("\n"));
    assert_eq!(
        broker.consume("testTopic", 1),
        [(
            1,
            "kapacitor/cpu/serverA".to_owned(),
            "kapacitor/cpu/serverA is CRITICAL".to_owned()
        )]
    );
}

/// Kapacitor's Kafka documentation: a cluster section (as its second example, without TLS,
/// which Klaxon's client does not have yet), the TICKscript and handler file that name no
/// cluster, the generic handler file refused for its unknown cluster, and the service test.
#[test]
fn kafka_as_kapacitors_documentation_writes_it() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    broker.create_topic("cpu-alerts", 1);
    broker.create_topic("test", 3);
    let server = start(&format!(
        r#"
[[kafka]]
  enabled = true
  id = "infra-monitoring"
  brokers = ["{}"]
  timeout = "10s"
  batch-size = 100
  batch-timeout = "1s"
  use-ssl = false
"#,
        broker.addr
    ));
    define(
        &server,
        "cpu_kafka",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .kafka()\n      .kafkaTopic('cpu-alerts')\n",
    );
    define(
        &server,
        "disk_topic",
        "stream\n  |from()\n    .measurement('disk')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your disk')\n    .topic('cpu')\n",
    );
    define_handler(
        &server,
        "kafka_cpu_handler.yaml",
        "id: kafka-cpu-alert\ntopic: cpu\nkind: kafka\noptions:\n  topic: 'cpu-alerts'\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu,host=serverA usage_idle=5 1700000000\ndisk,host=serverA usage_idle=5 1700000000",
    );
    let mut messages = broker.consume("cpu-alerts", 2);
    messages.sort();
    // The alert JSON, with the default details (the template data as JSON).
    for ((partition, key, value), (id, message, name)) in messages.iter().zip([
        ("cpu:nil", "Hey, check your CPU", "cpu"),
        ("disk:nil", "Hey, check your disk", "disk"),
    ]) {
        assert_eq!((*partition, key.as_str()), (0, id));
        assert!(value.ends_with("}\n"), "{value:?}");
        let alert: Value = serde_json::from_str(value).unwrap();
        assert_eq!(alert["id"], id);
        assert_eq!(alert["message"], message);
        assert_eq!(alert["level"], "CRITICAL");
        assert_eq!(alert["time"], "2023-11-14T22:13:20Z");
        assert_eq!(
            alert["data"],
            json!({"series": [{"name": name, "tags": {"host": "serverA"},
                "columns": ["time", "usage_idle"], "values": [["2023-11-14T22:13:20Z", 5]]}]})
        );
    }

    // The generic handler file names a cluster this server does not have.
    write_file(
        &server,
        "kafka-event-handler.yaml",
        "id: kafka-event-handler\ntopic: kapacitor-topic-name\nkind: kafka\noptions:\n  cluster: kafka-cluster\n  topic: kafka-topic-name\n  template: kafka-template-name\n  disablePartitionById: false\n  partitionAlgorithm: crc32\n",
    );
    let (ok, text) = cli(
        &server,
        &["define-topic-handler", "kafka-event-handler.yaml"],
    );
    assert!(!ok);
    assert!(
        text.contains(
            r#"unknown cluster "kafka-cluster"; the [[kafka]] clusters are: "infra-monitoring""#
        ),
        "{text}"
    );

    assert_eq!(
        cli_ok(&server, &["service-tests", "kafka"]),
        "Service             Success   Message\nkafka               true      \n"
    );
    let test = broker.consume("test", 1);
    assert_eq!((&*test[0].1, &*test[0].2), ("key", "test kafka message"));
}

/// kapacitor.conf's full `[[kafka]]` section as the documentation writes it (brokers filled
/// in): accepted, its SASL password redacted; its `sasl-username` turns SASL PLAIN on, which
/// this broker does not offer, so the service test fails, permanently and saying why.
#[test]
fn kafka_documented_section_with_sasl() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    broker.create_topic("test", 3);
    let server = start(&format!(
        r#"
[[kafka]]
  enabled = true
  id = "localhost"
  brokers = ["{}"]
  timeout = "10s"
  batch-size = 100
  batch-timeout = "1s"
  use-ssl = false
  ssl-ca = ""
  ssl-cert = ""
  ssl-key = ""
  insecure-skip-verify = false
  # Optional SASL configuration
  sasl-username = "xxxxx"
  sasl-password = "xxxxxxxx"
  sasl-extensions = {{}}
  sasl-mechanism = ""
  sasl-version = ""
  # Use if sasl-mechanism is GSSAPI. GSSAPI is for organizations using Kerberos.
  sasl-gssapi-service-name = ""
  sasl-gssapi-auth-type = "KRB5_USER_AUTH"
  sasl-gssapi-disable-pafxfast = false
  sasl-gssapi-kerberos-config-path = "/"
  sasl-gssapi-key-tab-path = ""
  sasl-gssapi-realm = "realm"
  # Options if sasl-mechanism is OAUTHBEARER
  sasl-oauth-service = "auth0"
  sasl-oauth-client-id = "xxxxxxx"
  sasl-oauth-client-secret = "xxxxxxxx"
  sasl-oauth-token-url = "dedicated-auth0-token-url"
  sasl-oauth-token-expiry-margin = "10s"
  sasl-oauth-scopes = ""
  sasl-oauth-tenant-id = ""
  [kafka.sasl-oauth-parameters]
     audience = "development"
  sasl-access-token = ""
"#,
        broker.addr
    ));
    let config: Value = server.get("/kapacitor/v1/config/kafka").json().unwrap();
    let element = &config["elements"][0];
    assert_eq!(element["options"]["sasl-password"], json!(true), "{config}");
    assert_eq!(
        element["redacted"],
        json!([
            "sasl-password",
            "sasl-oauth-client-secret",
            "sasl-access-token"
        ]),
        "{config}"
    );
    let answer = service_test(&server, "kafka", &json!({}));
    assert_eq!(answer["success"], false, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Kafka cluster \"localhost\" refused the SASL authentication (Plain); check sasl-username, sasl-password and sasl-mechanism: "
        ),
        "{message}"
    );
}

/// A broker that is down when the alert fires: the delivery fails, retryably, and reaches the
/// broker once it is up.
#[test]
fn kafka_a_broker_that_is_down_is_retried_until_it_is_back() {
    if tansu().is_none() {
        return;
    }
    let port = free_port();
    let mut server = start(&format!(
        "[[kafka]]\nenabled = true\nid = \"later\"\nbrokers = [\"127.0.0.1:{port}\"]\ntimeout = \"3s\"\n"
    ));
    define(
        &server,
        "cpu_kafka",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('CPU usage over 90%')\n    .kafka()\n      .kafkaTopic('alerts')\n      .template('{{ .Message }}')\n",
    );
    write(
        &server,
        "db=telegraf&rp=autogen",
        "cpu usage_idle=5 1700000000",
    );
    let line = server.wait_for_log("delivery failed; retrying");
    assert!(
        line.contains(r#"connect to Kafka cluster \"later\""#),
        "{line}"
    );
    let broker = Tansu::start_on(port).unwrap();
    broker.create_topic("alerts", 1);
    assert_eq!(
        broker.consume("alerts", 1),
        [(0, "cpu:nil".to_owned(), "CPU usage over 90%".to_owned())]
    );
}
