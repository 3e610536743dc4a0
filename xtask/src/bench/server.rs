//! The klaxond under test: started on 127.0.0.1 on an ephemeral port with a temporary data dir and
//! a generated config, watched through its stderr, stopped and restarted with its data.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::http::Conn;

/// How long klaxond may take to start or stop before the bench gives up.
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The last part of klaxond's stderr kept for error messages.
const LOG_KEEP: usize = 16 * 1024;

/// A directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<TempDir> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "klaxon-bench-{}-{label}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create the directory {}", path.display()))?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running klaxond. Dropping it kills the process and removes its directory.
#[derive(Debug)]
pub struct Klaxond {
    binary: PathBuf,
    config: PathBuf,
    child: Option<Child>,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
    // Last: removed after the process is gone.
    dir: TempDir,
}

impl Klaxond {
    /// Starts `binary` with `extra` TOML appended to the generated config (sections only; the
    /// bench sets `data-dir` and `[http] bind-address` itself).
    pub fn start(binary: &Path, label: &str, extra: &str) -> Result<Klaxond> {
        if !binary.is_file() {
            bail!(
                "klaxond not found at {}; build it with `cargo build --release -p klaxond` \
                 (the bench looks in the target directory cargo reports, which follows \
                 CARGO_TARGET_DIR)",
                binary.display()
            );
        }
        let dir = TempDir::new(label)?;
        let config = dir.path().join("klaxon.toml");
        let text = format!(
            "data-dir = {data:?}\n\n[http]\nbind-address = \"127.0.0.1:0\"\n\n{extra}\n",
            data = dir.path().join("data").display().to_string(),
        );
        std::fs::write(&config, text)
            .with_context(|| format!("cannot write {}", config.display()))?;
        let mut server = Klaxond {
            binary: binary.to_path_buf(),
            config,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: Arc::new(Mutex::new(String::new())),
            dir,
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts the process and returns how long it took until it answered ping.
    pub fn spawn(&mut self) -> Result<Duration> {
        let started = Instant::now();
        let mut child = Command::new(&self.binary)
            .arg("--config")
            .arg(&self.config)
            .env_remove("RUST_LOG")
            .env_remove("KLAXON_CONFIG")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let log = Arc::clone(&self.log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
                if log.len() > 2 * LOG_KEEP {
                    let cut = log.len() - LOG_KEEP;
                    let cut = (cut..log.len())
                        .find(|&i| log.is_char_boundary(i))
                        .unwrap_or(cut);
                    log.drain(..cut);
                }
            }
        });
        self.child = Some(child);
        let addr = loop {
            if let Some(addr) = self.log_text().lines().find_map(listening_address) {
                break addr;
            }
            self.check_alive("before it listened")?;
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "klaxond did not log \"klaxon listening\" within {START_DEADLINE:?}; its stderr:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.addr = addr;
        loop {
            if let Ok(r) = Conn::open(addr).and_then(|mut c| c.get("/kapacitor/v1/ping"))
                && r.status == 204
            {
                return Ok(started.elapsed());
            }
            self.check_alive("before it answered ping")?;
            if started.elapsed() > START_DEADLINE {
                bail!("klaxond at {addr} did not answer ping within {START_DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// An error with klaxond's stderr if the process has exited.
    pub fn check_alive(&mut self, when: &str) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            // Let the reader thread take what the process printed last.
            std::thread::sleep(Duration::from_millis(100));
            bail!(
                "klaxond ({}) exited with {status} {when}; its stderr:\n{}",
                self.binary.display(),
                self.log_text()
            );
        }
        Ok(())
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The bench's own directory (config, data dir, programs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the process (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit; returns how long the shutdown took.
    pub fn stop(&mut self) -> Result<Duration> {
        let Some(mut child) = self.child.take() else {
            return Ok(Duration::ZERO);
        };
        let started = Instant::now();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).context("pid")?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
            .context("cannot send SIGTERM to klaxond")?;
        loop {
            if let Some(status) = child.try_wait().context("waiting for klaxond")? {
                if !status.success() {
                    bail!(
                        "klaxond exited with {status} on SIGTERM; its stderr:\n{}",
                        self.log_text()
                    );
                }
                return Ok(started.elapsed());
            }
            if started.elapsed() > START_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                bail!("klaxond did not stop within {START_DEADLINE:?} of SIGTERM; killed it");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `POST /kapacitor/v1/tasks`: defines and enables a stream task on db `bench`.
    pub fn define_task(&mut self, id: &str, script: &str) -> Result<()> {
        let body = json!({
            "id": id,
            "type": "stream",
            "dbrps": [{"db": "bench", "rp": "autogen"}],
            "script": script,
            "status": "enabled",
        });
        let response = Conn::open(self.addr)?.request(
            "POST",
            "/kapacitor/v1/tasks",
            body.to_string().as_bytes(),
        )?;
        if response.status != 200 {
            bail!(
                "klaxond refused task {id:?} ({}): {}\nscript:\n{script}",
                response.status,
                response.text()
            );
        }
        let task: Value = serde_json::from_slice(&response.body)
            .with_context(|| format!("task {id:?}: the answer is not JSON"))?;
        if task["executing"] != Value::Bool(true) {
            bail!(
                "task {id:?} is defined but not executing: {}",
                task["error"]
            );
        }
        Ok(())
    }
}

impl Drop for Klaxond {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The address in klaxond's "klaxon listening" log line (text format: `address=...`).
fn listening_address(line: &str) -> Option<SocketAddr> {
    if !line.contains("klaxon listening") {
        return None;
    }
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix("address="))?
        .trim_matches('"')
        .parse()
        .ok()
}

/// `POST /write?db=bench&rp=autogen` on `conn`; an error unless klaxond answers 204.
pub fn write(conn: &mut Conn, body: &[u8]) -> Result<()> {
    let response = conn.request("POST", "/write?db=bench&rp=autogen&precision=s", body)?;
    if response.status != 204 {
        bail!(
            "POST /write answered {} instead of 204: {}",
            response.status,
            response.text()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_the_address() {
        assert_eq!(
            listening_address(
                "ts=2026-01-01T00:00:00Z lvl=info msg=\"klaxon listening\" address=127.0.0.1:40123"
            ),
            Some(SocketAddr::from(([127, 0, 0, 1], 40123)))
        );
        assert_eq!(listening_address("msg=other address=127.0.0.1:1"), None);
    }

    #[test]
    fn a_missing_binary_names_the_path_and_the_build_command() {
        let err = Klaxond::start(Path::new("/nonexistent/klaxond"), "t", "").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/klaxond"), "{text}");
        assert!(text.contains("cargo build --release -p klaxond"), "{text}");
    }

    #[test]
    fn a_server_that_exits_at_once_is_reported_with_its_stderr() {
        // /bin/sh with `--config <file>` reads the file as a script: it prints and fails.
        let dir = TempDir::new("fake").unwrap();
        let fake = dir.path().join("fake-klaxond");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'bad config: no such key' >&2\nexit 3\n",
        )
        .unwrap();
        let mut perms = std::fs::metadata(&fake).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&fake, perms).unwrap();
        let err = Klaxond::start(&fake, "t", "").unwrap_err().to_string();
        assert!(err.contains("exited with exit status: 3"), "{err}");
        assert!(err.contains("bad config: no such key"), "{err}");
    }
}
