//! The end-to-end test harness: builds the real `klaxond` and `klaxon` binaries once, starts
//! klaxond on an ephemeral loopback port with a temporary data dir and config, waits for it, and
//! stops it.
//!
//! ```no_run
//! let server = klaxon_e2e::Klaxond::start();
//! let response = server.get("/kapacitor/v1/ping");
//! assert_eq!(response.status(), 204);
//! ```

pub mod influxd;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long anything in these tests may take before it counts as hung: generous, because CI
/// runs on a loaded two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The directory cargo puts binaries of this profile in (next to this test executable).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/e2e-hash -> target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf()
}

/// Builds klaxond and klaxon once per test process (a no-op when they are fresh) and returns
/// the directory that holds them. Cargo releases its build lock while tests run, so this
/// nested build works inside `cargo test`.
pub fn binaries() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut command = Command::new(env!("CARGO"));
        command.current_dir(workspace_root()).args([
            "build",
            "--quiet",
            "-p",
            "klaxond",
            "-p",
            "klaxon-cli",
        ]);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        let status = command.status().expect("run cargo build");
        assert!(status.success(), "building klaxond and klaxon failed");
        bin_dir()
    })
}

/// The path of the `klaxond` binary.
pub fn klaxond_bin() -> PathBuf {
    binaries().join("klaxond")
}

/// The path of the `klaxon` CLI binary.
pub fn klaxon_bin() -> PathBuf {
    binaries().join("klaxon")
}

/// Waits until `condition` holds, polling; panics with `what` after [`DEADLINE`].
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    while !condition() {
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// How to start a klaxond.
#[derive(Debug, Default, Clone)]
pub struct KlaxondBuilder {
    config: String,
    env: Vec<(String, String)>,
    args: Vec<String>,
    binary: Option<PathBuf>,
    verbatim: Option<String>,
}

impl KlaxondBuilder {
    /// Appends TOML to the config file (the harness sets data-dir and the bind address itself).
    pub fn config(mut self, toml: &str) -> Self {
        self.config.push_str(toml);
        self.config.push('\n');
        self
    }

    /// Sets an environment variable for the process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Adds a command-line argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Uses `toml` as the whole config file, as a user would write it; the harness then moves
    /// only the bind address (to an ephemeral port) and the data dir (to a temporary one) through
    /// `KLAXON_HTTP_BIND_ADDRESS` and `KLAXON_DATA_DIR`.
    pub fn verbatim_config(mut self, toml: &str) -> Self {
        self.verbatim = Some(toml.to_owned());
        self
    }

    /// Runs another server binary than the stock klaxond (a custom build).
    pub fn binary(mut self, path: PathBuf) -> Self {
        self.binary = Some(path);
        self
    }

    /// Starts the server and waits until it answers ping.
    pub fn start(self) -> Klaxond {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        let config_path = dir.path().join("klaxon.toml");
        let mut builder = self;
        let text = match builder.verbatim.take() {
            Some(text) => {
                builder
                    .env
                    .push(("KLAXON_HTTP_BIND_ADDRESS".into(), "127.0.0.1:0".into()));
                builder
                    .env
                    .push(("KLAXON_DATA_DIR".into(), data_dir.display().to_string()));
                text
            }
            None => {
                let mut text = format!("data-dir = {:?}\n", data_dir.display().to_string());
                // Section-less keys must come before any [section] in the user's TOML.
                let (top, rest) = split_top_level(&builder.config);
                text.push_str(&top);
                text.push_str("\n[http]\nbind-address = \"127.0.0.1:0\"\n");
                text.push_str(&rest);
                text
            }
        };
        std::fs::write(&config_path, text).expect("write config");
        let mut server = Klaxond {
            dir,
            config_path,
            builder,
            child: None,
            addr: None,
            https: false,
            log: Arc::new((Mutex::new(String::new()), Condvar::new())),
        };
        server.spawn();
        server
    }
}

/// Splits a TOML snippet into its leading section-less lines and the rest, merging any `[http]`
/// keys of the user into the harness's `[http]` table.
fn split_top_level(config: &str) -> (String, String) {
    let mut top = String::new();
    let mut rest = String::new();
    let mut in_section = false;
    for line in config.lines() {
        if line.trim_start().starts_with('[') {
            in_section = true;
        }
        let target = if in_section { &mut rest } else { &mut top };
        target.push_str(line);
        target.push('\n');
    }
    // The harness writes its own [http] header; a user [http] section becomes keys under it.
    let rest = rest.replacen("[http]\n", "", 1);
    (top, rest)
}

type SharedLog = Arc<(Mutex<String>, Condvar)>;

/// A running klaxond process. Dropping it kills the process.
#[derive(Debug)]
pub struct Klaxond {
    dir: tempfile::TempDir,
    config_path: PathBuf,
    builder: KlaxondBuilder,
    child: Option<Child>,
    addr: Option<SocketAddr>,
    /// Whether it serves HTTPS (`[http] https-enabled`), as its listening line says.
    https: bool,
    log: SharedLog,
}

impl Klaxond {
    /// A klaxond with the default configuration.
    pub fn start() -> Klaxond {
        Klaxond::builder().start()
    }

    /// A builder for a customised klaxond.
    pub fn builder() -> KlaxondBuilder {
        KlaxondBuilder::default()
    }

    fn spawn(&mut self) {
        let binary = self.builder.binary.clone().unwrap_or_else(klaxond_bin);
        let mut command = Command::new(binary);
        command
            .arg("--config")
            .arg(&self.config_path)
            .args(&self.builder.args)
            .env_remove("RUST_LOG")
            .envs(self.builder.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn klaxond");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::clone(&self.log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let (text, changed) = &*log;
                let mut text = text.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
                changed.notify_all();
            }
        });
        self.child = Some(child);
        let start_of_run = self.log_text().len();
        let (addr, https) = self.wait_for_log_from(start_of_run, "klaxon listening", |line| {
            Some((listening_address(line)?, line.contains("scheme=https")))
        });
        self.addr = Some(addr);
        self.https = https;
        let client = self.client();
        let ping = format!("{}/kapacitor/v1/ping", self.url());
        wait_for("klaxond to answer ping", || {
            client.get(&ping).send().is_ok_and(|r| r.status() == 204)
        });
    }

    /// Waits for a log line (after byte `from`) containing `needle` and parses it with `parse`.
    fn wait_for_log_from<T>(
        &mut self,
        from: usize,
        needle: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        let log = Arc::clone(&self.log);
        let (text, changed) = &*log;
        let mut guard = text.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(found) = guard[from.min(guard.len())..]
                .lines()
                .filter(|l| l.contains(needle))
                .find_map(&parse)
            {
                return found;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                drop(guard);
                // Give the reader thread a moment to drain what the process printed last.
                std::thread::sleep(Duration::from_millis(50));
                panic!(
                    "klaxond exited with {status} before {needle:?}; its log:\n{}",
                    self.log_text()
                );
            }
            assert!(
                start.elapsed() < DEADLINE,
                "no log line {needle:?}; log:\n{guard}"
            );
            guard = changed
                .wait_timeout(guard, Duration::from_millis(100))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Everything the process (and its earlier runs) wrote to stderr.
    pub fn log_text(&self) -> String {
        self.log.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        self.wait_for_log_from(0, needle, |line| Some(line.to_owned()))
    }

    /// Waits until the log, after its first `from` bytes (a [`Klaxond::log_text`] length
    /// taken earlier, such as before a restart), has a line containing `needle`.
    pub fn wait_for_log_after(&mut self, from: usize, needle: &str) -> String {
        self.wait_for_log_from(from, needle, |line| Some(line.to_owned()))
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("server started")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr())
    }

    /// The client for this server's own requests: [`http_client`], or for an HTTPS server one
    /// that does not verify its certificate (tests of verification use their own clients).
    fn client(&self) -> &'static reqwest::blocking::Client {
        static UNVERIFIED: OnceLock<reqwest::blocking::Client> = OnceLock::new();
        if !self.https {
            return http_client();
        }
        UNVERIFIED.get_or_init(|| {
            client_builder()
                .danger_accept_invalid_certs(true)
                .build()
                .expect("http client")
        })
    }

    /// The temporary directory holding the config and data dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// A blocking GET of `path` on this server.
    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client()
            .get(format!("{}{path}", self.url()))
            .send()
            .expect("GET")
    }

    /// A blocking request with a JSON (or any text) body.
    pub fn send(&self, method: &str, path: &str, body: &str) -> reqwest::blocking::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        self.client()
            .request(method, format!("{}{path}", self.url()))
            .body(body.to_owned())
            .send()
            .expect("request")
    }

    /// `POST /kapacitor/v1/tasks` of an enabled stream task reading `dbrps` (none: the script's
    /// `dbrp` statements, or every database): the status and the JSON answer.
    pub fn define_task(
        &self,
        id: &str,
        script: &str,
        dbrps: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let mut body =
            serde_json::json!({"id": id, "type": "stream", "script": script, "status": "enabled"});
        if !dbrps.is_empty() {
            body["dbrps"] = dbrps
                .iter()
                .map(|(db, rp)| serde_json::json!({"db": db, "rp": rp}))
                .collect();
        }
        let response = self.send("POST", "/kapacitor/v1/tasks", &body.to_string());
        let status = response.status().as_u16();
        let text = response.text().expect("task answer");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// `POST /kapacitor/v1/alerts/topics/<topic>/handlers` with `spec`; panics unless 200.
    pub fn define_handler(&self, topic: &str, spec: &serde_json::Value) {
        let response = self.send(
            "POST",
            &format!("/kapacitor/v1/alerts/topics/{topic}/handlers"),
            &spec.to_string(),
        );
        assert_eq!(
            response.status(),
            200,
            "{}",
            response.text().unwrap_or_default()
        );
    }

    /// Runs the `klaxon` CLI against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(klaxon_bin())
            .args(args)
            .env("KLAXON_URL", self.url())
            .env_remove("KAPACITOR_URL")
            .current_dir(self.dir.path())
            .output()
            .expect("run klaxon")
    }

    /// Runs the `klaxon` CLI against this server and returns what it printed.
    ///
    /// # Panics
    ///
    /// Unless the command succeeds, with its output.
    ///
    /// ```no_run
    /// let server = klaxon_e2e::Klaxond::start();
    /// assert!(server.cli_ok(&["list", "tasks"]).starts_with("ID"));
    /// ```
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(output.status.success(), "klaxon {args:?}: {output:?}");
        String::from_utf8(output.stdout).expect("the CLI prints UTF-8")
    }

    /// Runs the `klaxon` CLI, checks that it exited with `code` (3: a service test failed) and
    /// returns what it printed on stdout.
    ///
    /// # Panics
    ///
    /// When the CLI exits with another code or prints something that is not UTF-8.
    pub fn cli_exits(&self, args: &[&str], code: i32) -> String {
        let output = self.cli(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "klaxon {args:?}: {output:?}"
        );
        String::from_utf8(output.stdout).expect("the CLI prints UTF-8")
    }

    /// Writes `text` to the file `name` in the server's directory, where [`Klaxond::cli`] runs,
    /// and returns its path.
    ///
    /// ```no_run
    /// let server = klaxon_e2e::Klaxond::start();
    /// let path = server.write_file("cpu.yaml", "id: cpu\ntopic: cpu\nkind: log\n");
    /// assert!(path.starts_with(server.dir()));
    /// ```
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir().join(name);
        std::fs::write(&path, text).expect("write a file in the server's directory");
        path
    }

    /// Defines and enables the task `id` from a TICKscript file, as a user does: writes `tick`
    /// to `file`, then `klaxon define <id> -tick <file>` and `klaxon enable <id>`.
    ///
    /// ```no_run
    /// let server = klaxon_e2e::Klaxond::start();
    /// let tick = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .topic('cpu')\n";
    /// server.define_task_from_file("cpu_alert", "cpu_alert.tick", tick);
    /// ```
    pub fn define_task_from_file(&self, id: &str, file: &str, tick: &str) {
        self.write_file(file, tick);
        self.cli_ok(&["define", id, "-tick", file]);
        self.cli_ok(&["enable", id]);
    }

    /// Defines a topic handler from a handler file, as a user does: writes `yaml` to `file`,
    /// then `klaxon define-topic-handler <file>`.
    ///
    /// ```no_run
    /// let server = klaxon_e2e::Klaxond::start();
    /// server.define_handler_from_file("log.yaml", "id: log-cpu\ntopic: cpu\nkind: log\noptions:\n  path: /tmp/cpu.log\n");
    /// ```
    pub fn define_handler_from_file(&self, file: &str, yaml: &str) {
        self.write_file(file, yaml);
        self.cli_ok(&["define-topic-handler", file]);
    }

    /// Asserts that `klaxon service-tests <test>` passes: the CLI's table of one row saying
    /// `true`, without a message.
    ///
    /// ```no_run
    /// let server = klaxon_e2e::Klaxond::start();
    /// server.assert_service_test_passes("log");
    /// ```
    pub fn assert_service_test_passes(&self, test: &str) {
        assert_eq!(
            self.cli_ok(&["service-tests", test]),
            format!("Service             Success   Message\n{test:<20}true      \n")
        );
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.terminate();
        self.wait_exit()
    }

    /// Sends SIGTERM without waiting: the server drains while the test watches.
    pub fn terminate(&mut self) {
        let child = self.child.as_mut().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }

    /// Waits (up to [`DEADLINE`]) for the process to exit.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        wait_exit(self.child.as_mut().expect("running"))
    }

    /// `GET /metrics` in Prometheus' text format, parsed into samples.
    pub fn metrics(&self) -> Metrics {
        let response = self.get("/metrics");
        assert_eq!(response.status(), 200);
        Metrics::parse(&response.text().expect("metrics text"))
    }

    /// Kills the process with SIGKILL (a crash) and reaps it.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same config and data dir, on a new port.
    pub fn restart(&mut self) {
        if let Some(child) = self.child.as_mut()
            && child.try_wait().ok().flatten().is_none()
        {
            self.stop();
        }
        self.spawn();
    }
}

/// The address in a "klaxon listening" line, logfmt (`address=...`) or JSON (`"address":"..."`).
fn listening_address(line: &str) -> Option<SocketAddr> {
    let logfmt = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("address="));
    let json = || {
        let rest = &line[line.find("\"address\":\"")? + 11..];
        Some(&rest[..rest.find('"')?])
    };
    logfmt.or_else(json)?.parse().ok()
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "klaxond did not exit within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Klaxond {
    fn drop(&mut self) {
        self.kill();
    }
}

/// This host's name, as klaxond reports it (`.ServerInfo.Hostname` in templates, and the host of
/// the API URL that services send); empty when the system does not say.
///
/// ```no_run
/// let server = klaxon_e2e::Klaxond::start();
/// let api = format!("http://{}:{}/kapacitor/v1", klaxon_e2e::hostname(), server.addr().port());
/// ```
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// The handler crates klaxond bundles, read from its manifest (`crates/klaxond/Cargo.toml`), as
/// (kind, section) pairs from each crate's `const KIND` and `const SECTION`, sorted by kind: what
/// the stock binary must report. Read rather than listed here, so that `cargo xtask new-handler`
/// needs no edit outside the new crate.
pub fn bundled_handlers() -> Vec<(String, String)> {
    let root = workspace_root();
    let manifest = std::fs::read_to_string(root.join("crates/klaxond/Cargo.toml"))
        .expect("read klaxond's manifest");
    let mut handlers = Vec::new();
    for line in manifest.lines() {
        let Some((_, path)) = line.split_once("path = \"../handlers/") else {
            continue;
        };
        let dir = root
            .join("crates/handlers")
            .join(path.split('"').next().unwrap_or_default());
        let mut kind = None;
        let mut section = None;
        for file in std::fs::read_dir(dir.join("src")).expect("read a handler crate") {
            let text = std::fs::read_to_string(file.expect("an entry").path()).unwrap_or_default();
            for line in text.lines().map(str::trim) {
                let constant = |name: &str| {
                    line.strip_prefix(&format!("const {name}: &'static str = \""))
                        .and_then(|rest| rest.split('"').next())
                        .map(str::to_owned)
                };
                kind = kind.or_else(|| constant("KIND"));
                section = section.or_else(|| constant("SECTION"));
            }
        }
        let kind = kind.unwrap_or_else(|| panic!("no const KIND in {}", dir.display()));
        let section = section.unwrap_or_else(|| kind.clone());
        handlers.push((kind, section));
    }
    handlers.sort();
    handlers
}

/// The kinds of [`bundled_handlers`], sorted.
pub fn bundled_kinds() -> Vec<String> {
    bundled_handlers()
        .into_iter()
        .map(|(kind, _)| kind)
        .collect()
}

/// The configuration sections (and service-test names) of [`bundled_handlers`], sorted.
pub fn bundled_sections() -> Vec<String> {
    let mut sections: Vec<String> = bundled_handlers().into_iter().map(|(_, s)| s).collect();
    sections.sort();
    sections
}

/// The tests' HTTP client, with [`DEADLINE`] as its timeout: use it (or [`client_builder`])
/// rather than a `reqwest` client of your own, which would find no TLS crypto provider.
pub fn http_client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| client_builder().build().expect("http client"))
}

/// A builder for an HTTP client of the tests' own (with [`DEADLINE`] as its timeout), after
/// installing the TLS crypto provider the workspace's reqwest needs.
pub fn client_builder() -> reqwest::blocking::ClientBuilder {
    klaxon_http::install_crypto_provider();
    reqwest::blocking::Client::builder().timeout(DEADLINE)
}

/// Runs klaxond with arguments to completion (for `klaxond config`, bad configs...); a process
/// still running after [`DEADLINE`] (a config wrongly accepted) is killed and fails the test.
pub fn run_klaxond(args: &[&str], dir: &Path) -> Output {
    let mut child = Command::new(klaxond_bin())
        .args(args)
        .env_remove("KLAXON_CONFIG")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run klaxond");
    let start = Instant::now();
    while child.try_wait().expect("wait for klaxond").is_none() {
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect output");
            panic!(
                "klaxond {args:?} still running after {DEADLINE:?}; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect output")
}

/// Builds the binary `bin` of the workspace package `package` (once per test process, a no-op
/// when it is fresh) and returns its path. For server binaries other than klaxond, such as the
/// examples, and for the xtask.
pub fn workspace_binary(package: &str, bin: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|p| p == package) {
        let mut command = Command::new(env!("CARGO"));
        command
            .current_dir(workspace_root())
            .args(["build", "--quiet", "-p", package]);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        let status = command.status().expect("run cargo build");
        assert!(status.success(), "building {package} failed");
        built.push(package.to_owned());
    }
    bin_dir().join(bin)
}

/// The example server built with only the tcp handler (examples/tcp-only).
pub fn tcp_only_bin() -> PathBuf {
    workspace_binary("klaxon-example-tcp-only", "klaxond-tcp-only")
}

/// The `cargo xtask` binary.
pub fn xtask_bin() -> PathBuf {
    workspace_binary("xtask", "xtask")
}

/// Copies the workspace's sources into the directory `to` (created if needed): everything except
/// build output (`target` directories) and `.git`.
pub fn copy_workspace(to: &Path) {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
        let entries =
            std::fs::read_dir(from).unwrap_or_else(|e| panic!("list {}: {e}", from.display()));
        for entry in entries {
            let entry = entry.expect("directory entry");
            let name = entry.file_name();
            let (source, target) = (entry.path(), to.join(&name));
            let file_type = entry.file_type().expect("file type");
            if file_type.is_dir() {
                if name != "target" && name != ".git" {
                    copy_dir(&source, &target);
                }
            } else if file_type.is_file() {
                std::fs::copy(&source, &target)
                    .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
            }
        }
    }
    copy_dir(&workspace_root(), to);
}

/// A TCP receiver like Kapacitor's test server: it accepts connections and keeps one payload
/// (everything read until the peer closes) per connection.
#[derive(Debug)]
pub struct TcpSink {
    address: String,
    payloads: std::sync::mpsc::Receiver<String>,
}

impl TcpSink {
    /// Listens on an ephemeral loopback port.
    pub fn start() -> TcpSink {
        TcpSink::from_listener(std::net::TcpListener::bind("127.0.0.1:0").expect("bind a tcp sink"))
    }

    /// A sink on a listener the test bound itself (to bring an endpoint up late).
    pub fn from_listener(listener: std::net::TcpListener) -> TcpSink {
        let address = listener.local_addr().expect("sink address").to_string();
        let (tx, payloads) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut text = String::new();
                let _ = std::io::Read::read_to_string(&mut stream, &mut text);
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
        TcpSink { address, payloads }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The next payload; panics after [`DEADLINE`].
    pub fn next(&self) -> String {
        self.payloads
            .recv_timeout(DEADLINE)
            .expect("a tcp delivery within the deadline")
    }

    /// The next payload if one arrives within `timeout`: for polling while something else is
    /// retried.
    pub fn next_within(&self, timeout: Duration) -> Option<String> {
        self.payloads.recv_timeout(timeout).ok()
    }

    /// The next payload as JSON.
    pub fn next_json(&self) -> serde_json::Value {
        serde_json::from_str(self.next().trim_end()).expect("a JSON payload")
    }
}

/// The contents of `path` once a program has written a whole line to it.
pub fn read_when_complete(path: &Path) -> String {
    let mut text = String::new();
    wait_for("a program's output file", || {
        text = std::fs::read_to_string(path).unwrap_or_default();
        text.ends_with('\n')
    });
    text
}

/// A sample's labels, sorted by name.
pub type Labels = Vec<(String, String)>;

/// Samples of a Prometheus text exposition: `name{label="value",...} number` lines.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// (name, labels, value)
    pub samples: Vec<(String, Labels, f64)>,
}

impl Metrics {
    /// Parses the text format; panics on a line that is neither a comment nor a sample, so a
    /// malformed exposition fails the test that reads it.
    pub fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad sample value in {line:?}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest
                        .strip_suffix('}')
                        .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                    (name, parse_labels(body, line))
                }
                None => (series, Vec::new()),
            };
            samples.push((name.to_owned(), labels, value));
        }
        Metrics { samples }
    }

    /// The value of the sample `name` whose labels include every pair of `labels`; panics when
    /// none or several match.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "expected one {name}{labels:?}, found {matching:?} in {:#?}",
            self.samples
        );
        matching[0]
    }

    /// Like [`Metrics::value`], 0 when no sample matches (a counter not yet created).
    pub fn value_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.samples.iter().any(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        });
        if found { self.value(name, labels) } else { 0.0 }
    }
}

fn parse_labels(body: &str, line: &str) -> Labels {
    let mut labels = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label in {line:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("bad escape in {line:?}"),
                },
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {line:?}"),
            }
        };
        labels.push((key.to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels.sort();
    labels
}

/// An HTTP server that answers each request with the next status of a script (200 once the
/// script runs out) and records the bodies it received: for handlers that post.
#[derive(Debug)]
pub struct ScriptedHttp {
    url: String,
    requests: std::sync::mpsc::Receiver<(u16, String)>,
}

impl ScriptedHttp {
    /// Listens on an ephemeral loopback port, answering with `statuses` in turn.
    pub fn start(statuses: &[u16]) -> ScriptedHttp {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an http server");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let mut script: std::collections::VecDeque<u16> = statuses.iter().copied().collect();
        let (tx, requests) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let trimmed = line.trim_end();
                    if trimmed.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = trimmed.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let status = script.pop_front().unwrap_or(200);
                let response = format!(
                    "HTTP/1.1 {status} Scripted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(response.as_bytes());
                if tx
                    .send((status, String::from_utf8_lossy(&body).into_owned()))
                    .is_err()
                {
                    break;
                }
            }
        });
        ScriptedHttp { url, requests }
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next request's answered status and body; panics after [`DEADLINE`].
    pub fn next(&self) -> (u16, String) {
        self.requests
            .recv_timeout(DEADLINE)
            .expect("a request within the deadline")
    }

    /// The next request if one arrives within `timeout`.
    pub fn next_within(&self, timeout: Duration) -> Option<(u16, String)> {
        self.requests.recv_timeout(timeout).ok()
    }
}
