//! The ingest scenario's peer: InfluxDB 1.x (`influxd`, Debian's `influxdb`) taking the same
//! bodies on its own `POST /write` from the same generator, in the same run. InfluxDB parses
//! and stores; Klaxon parses and evaluates. An alert engine that only evaluates should be
//! several times faster than a database that also stores, so the ingest row compares the two.
//!
//! Started with only its HTTP API on a loopback port and its data in a temporary directory,
//! then stopped. When `influxd` is not installed the row is left out, with a note.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::http::Conn;
use super::server::TempDir;

/// How long influxd may take to answer ping.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running influxd, stopped when dropped.
pub struct Influxd {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl Influxd {
    /// `influxd` on the PATH, if installed.
    pub fn binary() -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join("influxd"))
            .find(|candidate| candidate.is_file())
    }

    /// Starts `binary` and creates the database the bench writes to (`bench`).
    pub fn start(binary: &std::path::Path) -> Result<Influxd> {
        let dir = TempDir::new("influxd")?;
        let (rpc, http) = (free_port()?, free_port()?);
        let path = |name: &str| dir.path().join(name).display().to_string();
        // Everything but the HTTP API off: the figure is /write's, as a subscription feeds it.
        let config = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\n\
             [meta]\n  dir = {meta:?}\n\n\
             [data]\n  dir = {data:?}\n  wal-dir = {wal:?}\n  query-log-enabled = false\n\n\
             [http]\n  enabled = true\n  bind-address = \"127.0.0.1:{http}\"\n  \
             auth-enabled = false\n  log-enabled = false\n  pprof-enabled = false\n\n\
             [monitor]\n  store-enabled = false\n\n\
             [continuous_queries]\n  enabled = false\n\n\
             [retention]\n  enabled = false\n\n\
             [subscriber]\n  enabled = false\n",
            meta = path("meta"),
            data = path("data"),
            wal = path("wal"),
        );
        let config_path = dir.path().join("influxd.toml");
        std::fs::write(&config_path, config)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        let log = std::fs::File::create(dir.path().join("influxd.log"))
            .context("cannot create influxd's log")?;
        let child = Command::new(binary)
            .arg("-config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("influxd's log")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut influxd = Influxd {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], http)),
            dir,
        };
        influxd.wait_for_ping()?;
        let created =
            Conn::open(influxd.addr)?.request("POST", "/query?q=CREATE%20DATABASE%20bench", b"")?;
        if created.status != 200 {
            bail!(
                "influxd: CREATE DATABASE bench answered {}: {}",
                created.status,
                created.text()
            );
        }
        Ok(influxd)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn wait_for_ping(&mut self) -> Result<()> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("influxd exited with {status}; its log:\n{}", self.log());
            }
            let answered = Conn::open(self.addr).and_then(|mut conn| conn.get("/ping"));
            if matches!(answered, Ok(ref response) if response.status == 204) {
                return Ok(());
            }
            if start.elapsed() > START_DEADLINE {
                bail!(
                    "influxd did not answer ping within {START_DEADLINE:?}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
