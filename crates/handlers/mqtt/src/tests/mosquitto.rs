//! Debian's mosquitto, started by a test on loopback ports of its own, and an MQTT subscriber
//! (rumqttc) that reports what the broker delivers: topic, QoS, retained flag and payload.
//!
//! Without mosquitto installed the broker tests are skipped with a note, except under CI (the
//! `CI` environment variable set), where they fail: `.ci/run` installs it.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tempfile::TempDir;

/// How long a test waits for the broker or a message: generous, for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// A loopback TCP port that nothing listens on (mosquitto cannot pick its own).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

/// A mosquitto configuration being written.
pub(crate) struct Conf {
    dir: TempDir,
    text: String,
    ports: Vec<u16>,
}

impl Conf {
    /// A configuration with no listener yet, or `None` (after a note) when mosquitto is not
    /// installed outside CI.
    pub(crate) fn new() -> Option<Conf> {
        if !Path::new(&binary("mosquitto")).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "mosquitto is missing under CI; .ci/run installs Debian's mosquitto package"
            );
            eprintln!("mosquitto is not installed: skipping this MQTT broker test");
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        // Run as root, mosquitto drops to its own user, which must read what is here.
        set_mode(dir.path(), 0o755);
        Some(Conf {
            dir,
            text: "persistence false\nallow_anonymous true\n".to_owned(),
            ports: Vec::new(),
        })
    }

    /// The directory of the configuration, for certificates.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A plain MQTT listener on `port`.
    pub(crate) fn tcp(mut self, port: u16) -> Conf {
        self.listener(port, "");
        self
    }

    /// An MQTT-over-WebSocket listener on `port`.
    pub(crate) fn websocket(mut self, port: u16) -> Conf {
        self.listener(port, "protocol websockets\n");
        self
    }

    /// A TLS listener on `port` with this certificate and key; with `client_ca`, it requires a
    /// client certificate signed by that CA.
    pub(crate) fn tls(
        mut self,
        port: u16,
        cert: &Path,
        key: &Path,
        client_ca: Option<&Path>,
    ) -> Conf {
        let mut text = format!("certfile {}\nkeyfile {}\n", cert.display(), key.display());
        if let Some(ca) = client_ca {
            text += &format!("cafile {}\nrequire_certificate true\n", ca.display());
        }
        self.listener(port, &text);
        self
    }

    /// Only this user, with this password, may connect.
    pub(crate) fn user(mut self, user: &str, password: &str) -> Conf {
        let file = self.dir.path().join("passwords");
        let status = Command::new(binary("mosquitto_passwd"))
            .args(["-b", "-c"])
            .arg(&file)
            .args([user, password])
            .status()
            .expect("run mosquitto_passwd");
        assert!(status.success(), "mosquitto_passwd failed");
        set_mode(&file, 0o644);
        self.text = self
            .text
            .replace("allow_anonymous true", "allow_anonymous false");
        self.text += &format!("password_file {}\n", file.display());
        self
    }

    fn listener(&mut self, port: u16, options: &str) {
        self.text += &format!("listener {port} 127.0.0.1\n{options}");
        self.ports.push(port);
    }

    /// Starts mosquitto and waits until every listener accepts connections.
    pub(crate) fn start(self) -> Mosquitto {
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(&conf, &self.text).expect("write mosquitto.conf");
        set_mode(&conf, 0o644);
        let log = self.dir.path().join("mosquitto.log");
        let out = std::fs::File::create(&log).expect("create the log");
        let child = Command::new(binary("mosquitto"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the log twice"))
            .stderr(out)
            .spawn()
            .expect("start mosquitto");
        let mut broker = Mosquitto {
            child,
            log,
            _dir: self.dir,
        };
        for port in &self.ports {
            let deadline = Instant::now() + PATIENCE;
            while TcpStream::connect(("127.0.0.1", *port)).is_err() {
                if let Ok(Some(status)) = broker.child.try_wait() {
                    panic!("mosquitto exited ({status}):\n{}", broker.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "mosquitto does not listen on {port}:\n{}",
                    broker.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        broker
    }
}

/// A running mosquitto, stopped when dropped.
pub(crate) struct Mosquitto {
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Mosquitto {
    /// What mosquitto logged so far (connections: `New client connected from ... as <id> (p2,
    /// c1, k30, u'user').`).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line containing `needle`, and returns that line.
    pub(crate) fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto never logged {needle:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A program of Debian's mosquitto packages: on the PATH, or where Debian puts it (root's
/// PATH has /usr/sbin, others' may not).
fn binary(name: &str) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.exists())
        .map_or_else(|| name.to_owned(), |p| p.display().to_string())
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A subscriber connected to a broker on a loopback port.
pub(crate) struct Subscriber {
    _client: AsyncClient,
    events: EventLoop,
}

impl Subscriber {
    /// Connects to the plain listener on `port` and subscribes to `filter` at `qos` (the
    /// broker delivers at most at the subscription's QoS).
    pub(crate) async fn start(port: u16, filter: &str, qos: QoS) -> Subscriber {
        let id = format!("subscriber-{port}-{}", std::process::id());
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_clean_session(true);
        let (client, mut events) = AsyncClient::new(options, 10);
        client
            .subscribe(filter, qos)
            .await
            .expect("queue SUBSCRIBE");
        let subscribed = async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => break,
                    Ok(_) => {}
                    Err(e) => panic!("the subscriber failed: {e}"),
                }
            }
        };
        tokio::time::timeout(PATIENCE, subscribed)
            .await
            .expect("SUBACK in time");
        Subscriber {
            _client: client,
            events,
        }
    }

    /// The next message the broker delivers.
    pub(crate) async fn next(&mut self) -> Publish {
        tokio::time::timeout(PATIENCE, self.next_publish())
            .await
            .expect("a message in time")
    }

    /// The next message within `wait`, if any.
    pub(crate) async fn next_within(&mut self, wait: Duration) -> Option<Publish> {
        tokio::time::timeout(wait, self.next_publish()).await.ok()
    }

    async fn next_publish(&mut self) -> Publish {
        loop {
            match self.events.poll().await {
                Ok(Event::Incoming(Packet::Publish(publish))) => return publish,
                Ok(_) => {}
                Err(e) => panic!("the subscriber failed: {e}"),
            }
        }
    }
}
