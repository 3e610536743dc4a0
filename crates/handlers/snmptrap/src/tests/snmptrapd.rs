//! Debian's snmptrapd, started by a test on a loopback UDP port of its own, logging each trap
//! it receives as one line: the sender, the PDU and community, and the variable bindings with
//! their types (`.1.3.6.1.2.1.1.3.0 = Timeticks: (1000) 0:00:10.00`).
//!
//! Without snmptrapd installed the trap tests are skipped with a note, except under CI (the `CI`
//! environment variable set), where they fail: `.ci/run` installs it.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a test waits for snmptrapd or a trap: generous, for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// One trap as snmptrapd logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    /// `TRAP2, SNMP v2c, community <community>`.
    pub(crate) pdu: String,
    /// `<oid> = <type>: <value>`, in order.
    pub(crate) bindings: Vec<String>,
}

/// A running snmptrapd, stopped when dropped.
pub(crate) struct Snmptrapd {
    child: Child,
    log: PathBuf,
    /// The address it listens on, `127.0.0.1:<port>`.
    pub(crate) addr: String,
    _dir: TempDir,
}

impl Snmptrapd {
    /// Starts snmptrapd accepting traps of any community, or `None` (after a note) when it is
    /// not installed outside CI.
    pub(crate) fn start() -> Option<Snmptrapd> {
        let Some(binary) = binary("snmptrapd") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "snmptrapd is missing under CI; .ci/run installs Debian's snmptrapd package"
            );
            eprintln!("snmptrapd is not installed: skipping this SNMP trap test");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let conf = dir.path().join("snmptrapd.conf");
        std::fs::write(&conf, "disableAuthorization yes\n").expect("write snmptrapd.conf");
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free UDP port")
            .port();
        let log = dir.path().join("traps.log");
        let out = std::fs::File::create(&log).expect("create the log");
        // -f foreground, -Lo log to stdout, -C no other configuration, -n no DNS, -On numeric
        // OIDs, -m '' no MIBs; -F one line per trap, the bindings separated by ~.
        let child = Command::new(binary)
            .env("SNMP_PERSISTENT_DIR", dir.path().join("persist"))
            .args(["-f", "-Lo", "-C", "-c"])
            .arg(&conf)
            .args(["-n", "-On", "-m", "", "-F", "TRAP|%b|%P|%V~%v\n"])
            .arg(format!("udp:127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the log twice"))
            .stderr(out)
            .spawn()
            .expect("start snmptrapd");
        let mut daemon = Snmptrapd {
            child,
            log,
            addr: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + PATIENCE;
        while !daemon.log_text().contains("NET-SNMP version") {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("snmptrapd exited ({status}):\n{}", daemon.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "snmptrapd did not start:\n{}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(daemon)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The traps received so far.
    pub(crate) fn traps(&self) -> Vec<Received> {
        self.log_text()
            .lines()
            .filter_map(|line| line.strip_prefix("TRAP|"))
            .map(|line| {
                let mut parts = line.splitn(3, '|');
                let _sender = parts.next();
                let pdu = parts.next().unwrap_or_default().to_owned();
                let bindings = parts
                    .next()
                    .unwrap_or_default()
                    .split('~')
                    .map(str::to_owned)
                    .collect();
                Received { pdu, bindings }
            })
            .collect()
    }

    /// Waits until `count` traps arrived, and returns them.
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let traps = self.traps();
            if traps.len() >= count {
                return traps;
            }
            assert!(
                Instant::now() < deadline,
                "{count} traps expected, got {}:\n{}",
                traps.len(),
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Snmptrapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's snmptrapd: on the PATH, or in /usr/sbin (which a user's PATH may lack).
fn binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| Path::new(candidate).exists())
}
