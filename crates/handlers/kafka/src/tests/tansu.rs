//! The tansu Kafka broker (a Kafka-protocol broker published as a Rust crate, installed by
//! `.ci/run` with `cargo install tansu`), started by a test on a loopback port of its own, and a
//! consumer (rskafka) that reads back what was written: partition, offset, key, value.
//!
//! Without tansu installed the broker tests are skipped with a note, except under CI (the `CI`
//! environment variable set), where they fail.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rskafka::client::partition::UnknownTopicHandling;
use rskafka::client::{ClientBuilder, Credentials, SaslConfig};
use tempfile::TempDir;

/// How long a test waits for the broker or a message: generous, for a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// One message as a consumer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) key: String,
    pub(crate) value: String,
    /// Milliseconds since the epoch.
    pub(crate) timestamp: i64,
}

/// A running tansu, stopped when dropped.
pub(crate) struct Tansu {
    child: Child,
    dir: TempDir,
    /// `127.0.0.1:<port>`.
    pub(crate) addr: String,
    /// The SASL login consumers use, when the broker wants one.
    login: Option<(String, String)>,
}

impl Tansu {
    /// A broker keeping its data in memory, or `None` (after a note) when tansu is not
    /// installed outside CI.
    pub(crate) fn start() -> Option<Tansu> {
        let binary = binary()?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        Some(Tansu::run(
            &binary,
            dir,
            free_port(),
            "memory://tansu/",
            false,
            None,
        ))
    }

    /// A broker that requires SASL (SCRAM) authentication and knows one user: made without
    /// authentication to create the user, then started again with it over the same storage.
    pub(crate) fn start_with_user(user: &str, password: &str) -> Option<Tansu> {
        let binary = binary()?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let open = Tansu::run(&binary, dir, port, "sqlite://tansu.db", false, None);
        let status = Command::new(&binary)
            .args([
                "user",
                "create",
                "--broker",
                &format!("tcp://{}", open.addr),
            ])
            .args([user, password])
            .stdout(Stdio::null())
            .status()
            .expect("run tansu user create");
        assert!(status.success(), "tansu user create failed");
        let dir = open.stop();
        let login = Some((user.to_owned(), password.to_owned()));
        Some(Tansu::run(
            &binary,
            dir,
            port,
            "sqlite://tansu.db",
            true,
            login,
        ))
    }

    fn run(
        binary: &Path,
        dir: TempDir,
        port: u16,
        storage: &str,
        authentication: bool,
        login: Option<(String, String)>,
    ) -> Tansu {
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let log = std::fs::File::create(dir.path().join("tansu.log")).expect("create the log");
        let mut command = Command::new(binary);
        // tansu reads a .env from its working directory: its own directory has none.
        command
            .current_dir(dir.path())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", storage])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log twice"))
            .stderr(log);
        if authentication {
            command.arg("--authentication");
        }
        let child = command.spawn().expect("start tansu");
        let mut tansu = Tansu {
            child,
            dir,
            addr,
            login,
        };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(&tansu.addr).is_err() {
            if let Ok(Some(status)) = tansu.child.try_wait() {
                panic!("tansu exited ({status}):\n{}", tansu.log());
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not start:\n{}",
                tansu.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        tansu
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
    }

    /// Stops the broker and keeps its directory.
    fn stop(mut self) -> TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let old = std::mem::replace(&mut self.dir, dir);
        drop(self);
        old
    }

    async fn client(&self) -> rskafka::client::Client {
        let mut builder = ClientBuilder::new(vec![self.addr.clone()]);
        if let Some((user, password)) = &self.login {
            let credentials = Credentials::new(user.clone(), password.clone());
            builder = builder.sasl_config(SaslConfig::ScramSha512(credentials));
        }
        builder.build().await.expect("connect to tansu")
    }

    /// Creates `topic` with `partitions` partitions (tansu, unlike Kafka's default, creates no
    /// topic on demand).
    pub(crate) async fn create_topic(&self, topic: &str, partitions: i32) {
        let client = self.client().await;
        let controller = client.controller_client().expect("a controller client");
        controller
            .create_topic(topic, partitions, 1, 5_000)
            .await
            .expect("create the topic");
    }

    /// Every message of `topic`, from each of its partitions, waiting until there are `count`.
    pub(crate) async fn consume(&self, topic: &str, count: usize) -> Vec<Message> {
        let client = self.client().await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut messages = Vec::new();
            let topics = client.list_topics().await.expect("list the topics");
            let partitions = topics
                .into_iter()
                .find(|t| t.name == topic)
                .map(|t| t.partitions)
                .unwrap_or_default();
            for partition in partitions {
                let reader = client
                    .partition_client(topic, partition, UnknownTopicHandling::Error)
                    .await
                    .expect("a partition client");
                let (records, _high) = reader
                    .fetch_records(0, 1..10_000_000, 100)
                    .await
                    .expect("fetch");
                let text = |bytes: Option<Vec<u8>>| {
                    String::from_utf8(bytes.unwrap_or_default()).expect("UTF-8")
                };
                messages.extend(records.into_iter().map(|r| Message {
                    partition,
                    offset: r.offset,
                    key: text(r.record.key),
                    value: text(r.record.value),
                    timestamp: r.record.timestamp.timestamp_millis(),
                }));
            }
            if messages.len() >= count {
                messages.sort_by_key(|m| (m.partition, m.offset));
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{count} messages expected in {topic:?}, got {messages:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback TCP port that nothing listens on.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

/// tansu: `$TANSU`, or on the PATH.
fn binary() -> Option<PathBuf> {
    let found = std::env::var_os("TANSU").map(PathBuf::from).or_else(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join("tansu"))
            .find(|candidate| candidate.exists())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tansu is missing under CI; .ci/run installs it with cargo install tansu"
        );
        eprintln!("tansu is not installed: skipping this Kafka broker test");
    }
    found
}
