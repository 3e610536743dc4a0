//! A real InfluxDB 1.x (Debian's `influxd`) for the tests: its own temporary directory, every
//! listener on a loopback port picked free, reporting disabled; stopped and started again on the
//! same ports and data to test outages.
//!
//! Without `influxd` on PATH, [`Influxd::available`] says so loudly and tests skip, except under
//! CI (`CI` set), where .ci/run installs it and its absence is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::DEADLINE;

/// An `influxd` child process; dropping it kills the process.
#[derive(Debug)]
pub struct Influxd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    url: String,
}

impl Influxd {
    /// Whether `influxd` is on PATH; when it is not, prints why the test is skipped (and fails
    /// under CI).
    pub fn available() -> bool {
        let found = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| Path::is_file(&dir.join("influxd")))
        });
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "influxd missing: .ci/run installs Debian's influxdb"
            );
            eprintln!(
                "\n*** SKIPPED: influxd is not on PATH, so no real InfluxDB was tested; install \
                 it with `apt-get install influxdb influxdb-client` ***\n"
            );
        }
        found
    }

    /// Starts `influxd` with only its HTTP API (and the backup RPC port, which it always binds)
    /// listening, and waits for `GET /ping` to answer 204.
    pub fn start() -> Influxd {
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
  log-enabled = false
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
        std::fs::write(dir.path().join("influxd.toml"), config).expect("write the influxd config");
        let mut influxd = Influxd {
            child: None,
            dir,
            url: format!("http://127.0.0.1:{http}"),
        };
        influxd.spawn();
        influxd
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("influxd.log"))
            .expect("influxd log");
        let child = Command::new("influxd")
            .arg("-config")
            .arg(self.dir.path().join("influxd.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("influxd log"))
            .stderr(log)
            .spawn()
            .expect("spawn influxd");
        self.child = Some(child);
        let start = Instant::now();
        while !self.answers_ping() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("influxd exited with {status}; its log:\n{}", self.log());
            }
            assert!(
                start.elapsed() < DEADLINE,
                "influxd did not answer ping within {DEADLINE:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers_ping(&self) -> bool {
        client()
            .get(format!("{}/ping", self.url))
            .timeout(Duration::from_secs(2))
            .send()
            .is_ok_and(|r| r.status() == 204)
    }

    /// Kills the process (its data stays); [`Influxd::resume`] starts it again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped process again on the same ports and data.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "influxd is running");
        self.spawn();
    }

    /// The HTTP API's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A klaxond whose default `[[influxdb]]` cluster (`localhost`) is this InfluxDB, without
    /// subscriptions.
    pub fn klaxond(&self) -> crate::Klaxond {
        crate::Klaxond::builder()
            .config(&format!(
                "[[influxdb]]\nenabled = true\nname = \"localhost\"\nurls = [{:?}]\ndisable-subscriptions = true\n",
                self.url()
            ))
            .start()
    }

    /// The temporary directory (config, data, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What influxd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
    }

    /// Runs InfluxQL through `POST /query` (in `db` when given); its JSON answer. Panics unless
    /// every statement succeeds.
    pub fn query_in(&self, db: Option<&str>, statement: &str) -> serde_json::Value {
        let mut body = format!("q={}", form_encode(statement));
        if let Some(db) = db {
            body.push_str(&format!("&db={}", form_encode(db)));
        }
        let response = client()
            .post(format!("{}/query", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .expect("POST /query to influxd");
        let status = response.status();
        let text = response.text().unwrap_or_default();
        // A failed statement answers 200 with an "error" in its result.
        assert!(
            status == 200 && !text.contains("\"error\""),
            "influxd refused {statement:?}: {status} {text}"
        );
        serde_json::from_str(&text).expect("influxd's JSON")
    }

    /// [`Influxd::query_in`] without a database.
    pub fn query(&self, statement: &str) -> serde_json::Value {
        self.query_in(None, statement)
    }

    /// The rows of the first series of `statement`'s answer in `db` (empty when none).
    pub fn rows(&self, db: &str, statement: &str) -> Vec<serde_json::Value> {
        let answer = self.query_in(Some(db), statement);
        answer["results"][0]["series"][0]["values"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Writes line protocol to `db` through `POST /write`.
    pub fn write(&self, db: &str, lines: &str) {
        let response = client()
            .post(format!("{}/write?db={}", self.url, form_encode(db)))
            .body(lines.to_owned())
            .send()
            .expect("POST /write to influxd");
        assert_eq!(response.status(), 204, "influxd write: {response:?}");
    }

    /// The path of influxd's configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("influxd.toml")
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn client() -> reqwest::blocking::Client {
    crate::client_builder()
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
pub fn form_encode(value: &str) -> String {
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
