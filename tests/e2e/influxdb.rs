//! A real InfluxDB 1.x (Debian's `influxd`) with a subscription to klaxond: a point written to
//! InfluxDB reaches a Klaxon task through InfluxDB's subscriber, as it reaches Kapacitor.
//!
//! Without `influxd` on PATH the test is skipped loudly, except under CI (`CI` set), where
//! .ci/run installs it and its absence is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use klaxon_e2e::{DEADLINE, Klaxond, TcpSink};
use serde_json::json;

/// An `influxd` child process on loopback ports with its files in a temporary directory;
/// dropping it kills the process.
struct Influxd {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
}

impl Influxd {
    /// Starts `influxd` with only its HTTP API (and the backup RPC port, which it always binds)
    /// listening, and waits for `GET /ping` to answer 204.
    fn start() -> Influxd {
        let dir = tempfile::tempdir().expect("temp dir");
        let (rpc, http) = (free_port(), free_port());
        let path = |name: &str| dir.path().join(name).display().to_string();
        let config = format!(
            r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"

[meta]
  dir = {meta:?}

[data]
  dir = {data:?}
  wal-dir = {wal:?}
  query-log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  auth-enabled = false
  pprof-enabled = false

[subscriber]
  enabled = true

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false

[retention]
  enabled = false

[ifql]
  enabled = false

[[udp]]
  enabled = false

[[graphite]]
  enabled = false

[[collectd]]
  enabled = false

[[opentsdb]]
  enabled = false
"#,
            meta = path("meta"),
            data = path("data"),
            wal = path("wal"),
        );
        let config_path = dir.path().join("influxd.toml");
        std::fs::write(&config_path, config).expect("write the influxd config");
        let log = std::fs::File::create(dir.path().join("influxd.log")).expect("influxd log");
        let child = Command::new("influxd")
            .arg("-config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("influxd log"))
            .stderr(log)
            .spawn()
            .expect("spawn influxd");
        let mut influxd = Influxd {
            child,
            dir,
            url: format!("http://127.0.0.1:{http}"),
        };
        let start = Instant::now();
        while !client()
            .get(format!("{}/ping", influxd.url))
            .send()
            .is_ok_and(|r| r.status() == 204)
        {
            if let Ok(Some(status)) = influxd.child.try_wait() {
                panic!("influxd exited with {status}; its log:\n{}", influxd.log());
            }
            assert!(
                start.elapsed() < DEADLINE,
                "influxd did not answer ping within {DEADLINE:?}; its log:\n{}",
                influxd.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        influxd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
    }

    /// Runs an InfluxQL statement through `POST /query`; panics unless it succeeds.
    fn query(&self, statement: &str) {
        let response = client()
            .post(format!("{}/query", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("q={}", form_encode(statement)))
            .send()
            .expect("POST /query to influxd");
        let status = response.status();
        let body = response.text().unwrap_or_default();
        // A failed statement answers 200 with an "error" in its result.
        assert!(
            status == 200 && !body.contains("\"error\""),
            "influxd refused {statement:?}: {status} {body}"
        );
    }

    /// Writes line protocol to `db` through `POST /write`.
    fn write(&self, db: &str, lines: &str) {
        let response = client()
            .post(format!("{}/write?db={db}", self.url))
            .body(lines.to_owned())
            .send()
            .expect("POST /write to influxd");
        assert_eq!(response.status(), 204, "influxd write: {response:?}");
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("http client")
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `influxd` on PATH.
fn find_influxd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("influxd"))
        .find(|candidate| Path::is_file(candidate))
}

#[test]
fn a_point_written_to_influxdb_reaches_a_klaxon_task_through_a_subscription() {
    if find_influxd().is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "influxd missing: .ci/run installs Debian's influxdb"
        );
        eprintln!(
            "\n*** SKIPPED: influxd is not on PATH, so no real InfluxDB subscription was tested; \
             install it with `apt-get install influxdb influxdb-client` ***\n"
        );
        return;
    }
    let started = Instant::now();
    let sink = TcpSink::start();
    let klaxond = Klaxond::start();
    let task = json!({
        "id": "cpu_alert",
        "type": "stream",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": format!(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"usage_idle\" < 10).tcp('{}')",
            sink.address()
        ),
        "status": "enabled",
    });
    let response = klaxond.send("POST", "/kapacitor/v1/tasks", &task.to_string());
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());

    let influxd = Influxd::start();
    influxd.query("CREATE DATABASE telegraf");
    influxd.query(&format!(
        "CREATE SUBSCRIPTION \"klaxon\" ON \"telegraf\".\"autogen\" DESTINATIONS ALL '{}'",
        klaxond.url()
    ));

    // InfluxDB starts a subscription's writer when its subscriber notices the change, a moment
    // after CREATE SUBSCRIPTION returns; points written before then are not forwarded. So write
    // until one arrives.
    let payload = loop {
        influxd.write("telegraf", "cpu,host=serverA usage_idle=5");
        if let Some(payload) = sink.next_within(Duration::from_millis(500)) {
            break payload;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no alert within {DEADLINE:?} of writing to influxd; klaxond log:\n{}\ninfluxd log:\n{}",
            klaxond.log_text(),
            influxd.log()
        );
    };
    let alert: serde_json::Value = serde_json::from_str(payload.trim_end()).expect("alert JSON");
    assert_eq!(alert["level"], "CRITICAL", "{alert}");
    let series = &alert["data"]["series"][0];
    assert_eq!(series["name"], "cpu", "{alert}");
    assert_eq!(series["tags"], json!({"host": "serverA"}), "{alert}");
    assert_eq!(series["values"][0][1], 5, "{alert}");
    eprintln!(
        "influxdb subscription to klaxond: first alert after {:?}",
        started.elapsed()
    );
}
