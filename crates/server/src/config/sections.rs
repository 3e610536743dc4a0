//! The server's own configuration sections.

use std::path::PathBuf;
use std::sync::OnceLock;

use klaxon_core::{GoDuration, Invalid};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decode::SectionKeys;
use super::limits::LimitsConfig;

/// Klaxon's server settings.
///
/// Each field is a top-level key of the configuration file; a field whose type is a struct is a
/// `[section]`. Decoding, the lists of known sections and keys in errors, environment variables
/// and `klaxond config` all read this type (its schema and its `Default`), so a new section is a
/// new field here and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSections {
    /// Directory for Klaxon's database (klaxon.db). Created if missing.
    pub data_dir: DataDir,
    /// The HTTP API.
    pub http: HttpConfig,
    /// Log output.
    pub logging: LoggingConfig,
    /// The alert service: topics and their delivery queues.
    pub alert: AlertConfig,
    /// Files loaded at startup.
    pub load: LoadConfig,
    /// The config override API (`/kapacitor/v1/config`).
    pub config_override: ConfigOverrideConfig,
    /// The server as a whole: which handler kinds it offers.
    pub server: ServerConfig,
    /// Bounds on what clients may send and define.
    pub limits: LimitsConfig,
    /// Kapacitor's deadman switch: the defaults of every `|deadman()`, and one for every task
    /// when global.
    pub deadman: DeadmanConfig,
    /// Kapacitor's `[[influxdb]]` clusters: where `|influxDBOut()` writes, batch tasks query and
    /// subscriptions come from. None unless given.
    pub influxdb: Vec<klaxon_influxdb::ClusterConfig>,
    /// Kafka topics read as line protocol by a consumer group; klaxonds with the same
    /// `group-id` share the partitions (docs/scale-out.md). None unless given.
    pub kafka_consumer: Vec<klaxon_kafka::ConsumerConfig>,
}

impl ServerSections {
    /// The top-level keys and sections, read once from this type's schema.
    pub fn keys() -> &'static SectionKeys {
        static KEYS: OnceLock<SectionKeys> = OnceLock::new();
        KEYS.get_or_init(SectionKeys::of::<ServerSections>)
    }

    pub(super) fn decode(
        given: &serde_json::Map<String, Value>,
    ) -> Result<ServerSections, Invalid> {
        super::decode::decode(given, ServerSections::keys())
    }

    /// The engine's configuration: `[alert]` and `[limits]`.
    pub fn engine(&self) -> klaxon_engine::EngineConfig {
        klaxon_engine::EngineConfig {
            limits: self.limits.engine(),
            ..self.alert.engine()
        }
    }

    pub(super) fn validate(&self) -> Result<(), Invalid> {
        self.http.validate()?;
        self.logging.validate()?;
        self.limits.validate()?;
        self.deadman.validate()?;
        klaxon_influxdb::Clusters::new(&self.influxdb).map_err(|e| Invalid::new(e.to_string()))?;
        for consumer in &self.kafka_consumer {
            consumer
                .validate()
                .map_err(|e| Invalid::new(e.to_string()))?;
        }
        self.alert.validate()
    }
}

/// `data-dir`: a non-empty path, `./klaxon-data` unless set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct DataDir(PathBuf);

impl Default for DataDir {
    fn default() -> Self {
        DataDir(PathBuf::from("./klaxon-data"))
    }
}

impl From<PathBuf> for DataDir {
    fn from(path: PathBuf) -> Self {
        DataDir(path)
    }
}

impl std::ops::Deref for DataDir {
    type Target = PathBuf;

    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DataDir {
    /// An empty path would put klaxon.db in whatever directory klaxond happens to start in.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(dir) if !dir.is_empty() => Ok(DataDir(PathBuf::from(dir))),
            other => Err(serde::de::Error::custom(format!(
                "data-dir must be a non-empty path string, got {other}"
            ))),
        }
    }
}

/// The HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpConfig {
    /// Address and port the API listens on. The default is loopback only, on Kapacitor's port;
    /// use "0.0.0.0:9092" (or ":9092") to listen on every interface.
    pub bind_address: String,
    /// Largest request body accepted by /write, in bytes (after gzip decoding too). Larger
    /// bodies get 413; send smaller batches.
    pub max_body_size: usize,
    /// Whether every request but /kapacitor/v1/ping must authenticate as one of `users`
    /// (HTTP basic auth) or `tokens` (`Authorization: Bearer <token>`). Off by default, as in
    /// Kapacitor: then whoever reaches the port may do anything, exec handlers included.
    pub auth_enabled: bool,
    /// Users allowed in when auth-enabled is true: `[[http.users]]` tables with a name, a
    /// password hash made by `klaxond hash-password`, and a permission (read, write or admin).
    pub users: Vec<UserConfig>,
    /// Bearer tokens allowed in when auth-enabled is true: `[[http.tokens]]` tables with a name
    /// (for logs and errors), the token's hash made by `klaxond hash-password`, and a permission.
    pub tokens: Vec<TokenConfig>,
    /// Host names clients use to reach this server, beyond loopback names, IP addresses, this
    /// machine's name and the bind address's name, which are always allowed. A request whose
    /// Host header names anything else is refused with 403, so that a web page cannot reach the
    /// API through DNS rebinding. An entry ".example.com" allows every name under example.com;
    /// "*" allows any host (then rely on auth-enabled).
    pub allowed_hosts: Vec<String>,
    /// Whether the API is served over HTTPS (TLS 1.2 and 1.3) instead of plain HTTP, with
    /// https-certificate and https-private-key. klaxond refuses to start when they cannot be
    /// read or do not match.
    pub https_enabled: bool,
    /// The server's certificate (chain) as a PEM file, used when https-enabled is true.
    pub https_certificate: String,
    /// The private key of https-certificate as a PEM file. Empty: the key is in the
    /// certificate's file, as in Kapacitor.
    pub https_private_key: String,
    /// Most writes (/write) read and processed at once, as InfluxDB's key of the same name;
    /// the others wait for a slot. Each write holds up to about twice its body in memory while
    /// it is processed. 0: no bound.
    pub max_concurrent_write_limit: usize,
    /// How long a write waits for a slot of max-concurrent-write-limit before it is refused
    /// with 503 and Retry-After (nothing of it processed, so the sender's retry is safe).
    pub enqueued_write_timeout: GoDuration,
    /// How long a request's head (its request line and headers) may take to arrive from its
    /// first byte; a slower connection is closed. Stops clients that hold connections open by
    /// sending one header line at a time.
    pub header_timeout: GoDuration,
    /// How long a connection may stay open without a request in flight before it is closed,
    /// also one that never sends anything.
    pub idle_timeout: GoDuration,
    /// How long a request body may take to arrive whole after its head. /write answers 408
    /// past it.
    pub body_timeout: GoDuration,
    /// Most connections open at once. At the cap, the connection idle the longest is closed to
    /// make room for a new one (a new one is closed when every connection has a request in
    /// flight). klaxond raises its open-files soft limit at start where the hard limit allows,
    /// and lowers this cap to fit the limit it gets.
    pub max_connections: usize,
    /// Most password and token checks running at once when auth-enabled is true. Each takes
    /// the memory its argon2 hash asks for (19 MiB with `klaxond hash-password`'s parameters),
    /// kept for the next check. A request that cannot start its check within a second gets 503
    /// with Retry-After.
    pub max_concurrent_password_checks: usize,
    /// Failed authentications one client (IP address) may have within auth-failure-window;
    /// past it, its requests get 429 with Retry-After, without a password check, until the
    /// window ends. Clients behind one proxy share an address, and so a budget.
    pub max_auth_failures: u32,
    /// The window of max-auth-failures, which starts at a client's first failure.
    pub auth_failure_window: GoDuration,
}

/// What an authenticated client may do; each permission includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// GET and HEAD anything.
    Read,
    /// Also write points (`POST /write`, `POST /kapacitor/v1/write`).
    Write,
    /// Also change tasks, handlers and configuration, and run service tests.
    Admin,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Admin => "admin",
        })
    }
}

/// One `[[http.users]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UserConfig {
    /// The user name given in HTTP basic auth.
    pub name: String,
    /// The password's argon2 hash in PHC format ("$argon2id$v=19$..."), as printed by
    /// `klaxond hash-password`. Never the password itself.
    #[schemars(extend("x-secret" = true))]
    pub password: String,
    /// What the user may do: "read", "write" or "admin".
    pub permission: Permission,
}

/// One `[[http.tokens]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TokenConfig {
    /// A name for the token, shown in errors and logs instead of the token.
    pub name: String,
    /// The token's argon2 hash in PHC format, as printed by `klaxond hash-password`.
    #[schemars(extend("x-secret" = true))]
    pub hash: String,
    /// What the token's bearer may do: "read", "write" or "admin".
    pub permission: Permission,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind_address: "127.0.0.1:9092".to_owned(),
            max_body_size: 25_000_000,
            auth_enabled: false,
            users: Vec::new(),
            tokens: Vec::new(),
            allowed_hosts: Vec::new(),
            https_enabled: false,
            https_certificate: "/etc/ssl/kapacitor.pem".to_owned(),
            https_private_key: String::new(),
            max_concurrent_write_limit: 8,
            enqueued_write_timeout: GoDuration::from_secs(30),
            header_timeout: GoDuration::from_secs(10),
            idle_timeout: GoDuration::from_secs(120),
            body_timeout: GoDuration::from_secs(60),
            max_connections: 1000,
            max_concurrent_password_checks: 4,
            max_auth_failures: 10,
            auth_failure_window: GoDuration::from_secs(60),
        }
    }
}

impl HttpConfig {
    /// How writes wait for each other.
    pub fn write_concurrency(&self) -> crate::http::write_gate::Concurrency {
        crate::http::write_gate::Concurrency {
            max: self.max_concurrent_write_limit,
            wait: self.enqueued_write_timeout.to_std(),
        }
    }

    /// The bounds on connections.
    pub fn connection_limits(&self) -> crate::http::serve::ConnectionLimits {
        crate::http::serve::ConnectionLimits {
            header_timeout: self.header_timeout.to_std(),
            idle_timeout: self.idle_timeout.to_std(),
            body_timeout: self.body_timeout.to_std(),
            max_connections: self.max_connections,
        }
    }

    /// The address to bind, with Go's ":9092" form meaning every interface.
    pub fn bind_target(&self) -> String {
        match self.bind_address.strip_prefix(':') {
            Some(port) => format!("0.0.0.0:{port}"),
            None => self.bind_address.clone(),
        }
    }

    fn validate(&self) -> Result<(), Invalid> {
        let target = self.bind_target();
        let port_ok = target
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(Invalid::new(format!(
                "[http] bind-address {:?} is not host:port; write it like \"127.0.0.1:9092\"",
                self.bind_address
            )));
        }
        for (key, value) in [
            ("enqueued-write-timeout", self.enqueued_write_timeout),
            ("header-timeout", self.header_timeout),
            ("idle-timeout", self.idle_timeout),
            ("body-timeout", self.body_timeout),
            ("auth-failure-window", self.auth_failure_window),
        ] {
            if value < GoDuration::from_nanos(100_000_000) {
                return Err(Invalid::new(format!(
                    "[http] {key} is {value}; it must be at least 100ms"
                )));
            }
        }
        for (key, value) in [
            (
                "max-concurrent-password-checks",
                self.max_concurrent_password_checks,
            ),
            ("max-auth-failures", self.max_auth_failures as usize),
        ] {
            if value == 0 {
                return Err(Invalid::new(format!(
                    "[http] {key} must be at least 1, got 0 (which would refuse every login)"
                )));
            }
        }
        if self.max_connections == 0 {
            return Err(Invalid::new(
                "[http] max-connections must be at least 1, got 0 (which would refuse every \
                 client)",
            ));
        }
        self.validate_auth()
    }

    fn validate_auth(&self) -> Result<(), Invalid> {
        if self.auth_enabled && self.users.is_empty() && self.tokens.is_empty() {
            return Err(Invalid::new(
                "[http] auth-enabled is true but no [[http.users]] or [[http.tokens]] are \
                 configured, so nobody could use the API; add a user with a hash from \
                 `klaxond hash-password`",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        let entries = self
            .users
            .iter()
            .map(|u| ("users", &u.name, &u.password, "password"))
            .chain(
                self.tokens
                    .iter()
                    .map(|t| ("tokens", &t.name, &t.hash, "hash")),
            );
        for (table, name, hash, key) in entries {
            if name.is_empty() {
                return Err(Invalid::new(format!(
                    "[[http.{table}]] name must not be empty"
                )));
            }
            if !names.insert((table, name.as_str())) {
                return Err(Invalid::new(format!(
                    "[[http.{table}]] name {name:?} appears twice; names must be unique"
                )));
            }
            crate::password::check_hash(hash).map_err(|why| {
                Invalid::new(format!(
                    "[[http.{table}]] {name:?}: {key} is not an argon2 hash in PHC format \
                     ({why}); make one with `klaxond hash-password`"
                ))
            })?;
        }
        Ok(())
    }
}

/// Log output (to standard error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LoggingConfig {
    /// Lowest level logged: "error", "warn", "info", "debug" or "trace"; per-crate directives
    /// such as "info,klaxon_engine=debug" work too. RUST_LOG overrides it when set.
    pub level: String,
    /// "text" (logfmt: key=value pairs, one event per line) or "json" (one object per line).
    pub format: LogFormat,
    /// Where the log goes: "STDERR", "STDOUT", or a file that lines are appended to (its
    /// directory must exist), as Kapacitor's key of the same name.
    pub file: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
            file: "STDERR".to_owned(),
        }
    }
}

impl LoggingConfig {
    fn validate(&self) -> Result<(), Invalid> {
        const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
        let bad = |why: String| {
            Invalid::new(format!(
                "[logging] level {:?}: {why}; use error, warn, info, debug or trace",
                self.level
            ))
        };
        // A bare word is a target name to EnvFilter, so "loud" would silently log nothing useful:
        // require a level name, or an explicit `target=level` directive.
        for directive in self.level.split(',').map(str::trim) {
            if !directive.contains('=')
                && !LEVELS.contains(&directive.to_ascii_lowercase().as_str())
            {
                return Err(bad(format!("{directive:?} is not a level")));
            }
        }
        tracing_subscriber::EnvFilter::builder()
            .parse(&self.level)
            .map(|_| ())
            .map_err(|e| bad(e.to_string()))
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// logfmt: `ts=... lvl=info msg="..." key=value`.
    Text,
    /// One JSON object per line.
    Json,
}

/// The alert service: topics, their handlers' delivery queues, and stored alert state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AlertConfig {
    /// How many events may wait for each handler of a topic. At least 1.
    pub topic_buffer_length: usize,
    /// What happens when a handler's queue is full. "drop" (Kapacitor's behaviour): the event is
    /// dropped for that handler, counted and logged. "block": ingest waits for room, and a
    /// write that cannot get room within queue-full-wait is refused whole with 503 and
    /// Retry-After, so nothing is lost and the sender retries.
    pub queue_full: QueueFullPolicy,
    /// With queue-full = "block": how long a write waits for room in every queue before it is
    /// refused with 503.
    pub queue_full_wait: GoDuration,
    /// Whether non-OK alert states are stored in klaxon.db and restored at startup.
    pub persist_topics: bool,
    /// Testing aid: accept `POST /kapacitor/v1/alerts/topics/<topic>/events` with a raw event,
    /// to drive topics without a task. Keep it off in production.
    pub test_events: bool,
    /// The longest one handler call may take, as a duration such as "1m". Handlers have their
    /// own, usually shorter, timeouts (such as the exec timeout); this bounds every kind.
    pub handler_timeout: GoDuration,
    /// Delivery attempts per event, the first included, for failures that may pass
    /// (connection refused or reset, a timeout, HTTP 5xx or 429). 1 never retries, as Kapacitor.
    /// A handler spec's `retry` object overrides these retry settings for that handler.
    pub retry_attempts: u32,
    /// The wait before the second attempt; it doubles for each further one. Each wait is drawn
    /// between half its nominal value and the whole of it (jitter).
    pub retry_initial_delay: GoDuration,
    /// The cap on each nominal wait between attempts.
    pub retry_max_delay: GoDuration,
    /// No retry starts later than this after an event's first attempt began.
    pub retry_max_elapsed: GoDuration,
    /// On SIGTERM or SIGINT, how long queued deliveries may take before the server exits
    /// anyway; what is left is counted as dropped and logged with its event IDs. Writes are
    /// refused with 503 from the moment the signal arrives.
    pub shutdown_timeout: GoDuration,
    /// The most level changes each topic's alert history keeps (the oldest go first); at
    /// least 1. The history is read at /kapacitor/v1/alerts/topics/<topic>/history and in the
    /// console, and stored in klaxon.db with the topic's states.
    pub history_max_events: usize,
    /// How long a topic's alert history keeps a level change, as a duration such as "168h".
    pub history_max_age: GoDuration,
    /// How long an expired silence stays listed (/kapacitor/v1/silences) before it is removed.
    pub silence_retention: GoDuration,
    /// Whether delivery is durable: every event accepted for delivery is written to the outbox
    /// in klaxon.db in the same transaction as its alert state, and removed once delivered or
    /// failed for good, so that a crash, a restart or a full queue loses none (at-least-once;
    /// receivers drop duplicates by the Idempotency-Key header). false keeps events in memory
    /// only: faster, and lost by a crash.
    pub durable_delivery: bool,
    /// The most the outbox may hold, in bytes of stored events (at least 1 MiB). Past it,
    /// queue-full decides: "drop" drops the newest events (counted and logged), "block"
    /// refuses writes with 503 and Retry-After until deliveries make room.
    pub outbox_max_bytes: u64,
}

/// `[alert] queue-full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueFullPolicy {
    /// Drop the event for the full handler (counted, logged).
    Drop,
    /// Make ingest wait, refusing writes with 503 when it would wait too long.
    Block,
}

impl Default for AlertConfig {
    /// The engine's defaults; queue-full-wait, test-events and shutdown-timeout are the server's
    /// own.
    fn default() -> Self {
        let engine = klaxon_engine::EngineConfig::default();
        let retry = engine.retry;
        AlertConfig {
            topic_buffer_length: engine.topic_buffer_length,
            queue_full: engine.queue_full.into(),
            queue_full_wait: GoDuration::from_secs(5),
            persist_topics: engine.persist_topics,
            test_events: false,
            handler_timeout: GoDuration::from_std(engine.handler_timeout),
            retry_attempts: retry.attempts,
            retry_initial_delay: GoDuration::from_std(retry.initial_delay),
            retry_max_delay: GoDuration::from_std(retry.max_delay),
            retry_max_elapsed: GoDuration::from_std(retry.max_elapsed),
            shutdown_timeout: GoDuration::from_secs(10),
            history_max_events: engine.history_max_events,
            history_max_age: GoDuration::from_std(engine.history_max_age),
            silence_retention: GoDuration::from_std(engine.silence_retention),
            durable_delivery: engine.durable_delivery,
            outbox_max_bytes: engine.outbox_max_bytes,
        }
    }
}

impl From<klaxon_engine::QueueFull> for QueueFullPolicy {
    fn from(policy: klaxon_engine::QueueFull) -> Self {
        match policy {
            klaxon_engine::QueueFull::Drop => QueueFullPolicy::Drop,
            klaxon_engine::QueueFull::Block => QueueFullPolicy::Block,
        }
    }
}

impl From<QueueFullPolicy> for klaxon_engine::QueueFull {
    fn from(policy: QueueFullPolicy) -> Self {
        match policy {
            QueueFullPolicy::Drop => klaxon_engine::QueueFull::Drop,
            QueueFullPolicy::Block => klaxon_engine::QueueFull::Block,
        }
    }
}

impl AlertConfig {
    /// The engine's settings from this section.
    pub fn engine(&self) -> klaxon_engine::EngineConfig {
        klaxon_engine::EngineConfig {
            topic_buffer_length: self.topic_buffer_length,
            queue_full: self.queue_full.into(),
            persist_topics: self.persist_topics,
            handler_timeout: self.handler_timeout.to_std(),
            retry: klaxon_engine::RetryPolicy {
                attempts: self.retry_attempts,
                initial_delay: self.retry_initial_delay.to_std(),
                max_delay: self.retry_max_delay.to_std(),
                max_elapsed: self.retry_max_elapsed.to_std(),
                ..klaxon_engine::RetryPolicy::default()
            },
            // [limits], not [alert], sets these: see ServerSections::engine.
            limits: klaxon_engine::Limits::default(),
            history_max_events: self.history_max_events,
            history_max_age: self.history_max_age.to_std(),
            silence_retention: self.silence_retention.to_std(),
            durable_delivery: self.durable_delivery,
            outbox_max_bytes: self.outbox_max_bytes,
        }
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.topic_buffer_length == 0 {
            return Err(Invalid::new(
                "[alert] topic-buffer-length must be at least 1, got 0",
            ));
        }
        if self.history_max_events == 0 {
            return Err(Invalid::new(
                "[alert] history-max-events must be at least 1, got 0",
            ));
        }
        if self.retry_attempts == 0 {
            return Err(Invalid::new(
                "[alert] retry-attempts must be at least 1 (1 means no retries), got 0",
            ));
        }
        if self.outbox_max_bytes < 1 << 20 {
            return Err(Invalid::new(format!(
                "[alert] outbox-max-bytes must be at least 1048576 (1 MiB), got {}",
                self.outbox_max_bytes
            )));
        }
        for (key, value) in [
            ("handler-timeout", self.handler_timeout),
            ("queue-full-wait", self.queue_full_wait),
            ("retry-initial-delay", self.retry_initial_delay),
            ("retry-max-delay", self.retry_max_delay),
            ("retry-max-elapsed", self.retry_max_elapsed),
            ("shutdown-timeout", self.shutdown_timeout),
            ("history-max-age", self.history_max_age),
            ("silence-retention", self.silence_retention),
        ] {
            if value <= GoDuration::ZERO {
                return Err(Invalid::new(format!(
                    "[alert] {key} must be greater than zero, got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// `[deadman]`, as in kapacitor.conf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeadmanConfig {
    /// The interval of the deadman that global adds to every task.
    pub interval: GoDuration,
    /// Its threshold: a group sending this many points per interval or fewer is dead.
    pub threshold: f64,
    /// The default ID of every |deadman() (a Go template); NODE_NAME becomes the node it
    /// watches (from1).
    pub id: String,
    /// The default message of every |deadman() (a Go template); INTERVAL becomes its interval.
    pub message: String,
    /// Whether every task gets a deadman on its source: stream|deadman(threshold, interval).
    pub global: bool,
}

impl Default for DeadmanConfig {
    /// Kapacitor's: 10s, 0.0, its ID and message, not global.
    fn default() -> Self {
        let defaults = klaxon_pipeline::alert::DeadmanDefaults::default();
        DeadmanConfig {
            interval: GoDuration::from_nanos(defaults.interval),
            threshold: defaults.threshold,
            id: defaults.id,
            message: defaults.message,
            global: defaults.global,
        }
    }
}

impl DeadmanConfig {
    /// The settings the tasks' deadman nodes read.
    pub fn defaults(&self) -> klaxon_pipeline::alert::DeadmanDefaults {
        klaxon_pipeline::alert::DeadmanDefaults {
            interval: self.interval.as_nanos(),
            threshold: self.threshold,
            id: self.id.clone(),
            message: self.message.clone(),
            global: self.global,
        }
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.interval.as_nanos() <= 0 {
            return Err(Invalid::new(format!(
                "[deadman] interval must be positive, got {}",
                self.interval
            )));
        }
        if !self.threshold.is_finite() || self.threshold < 0.0 {
            return Err(Invalid::new(format!(
                "[deadman] threshold must be a number of points, 0 or more, got {}",
                self.threshold
            )));
        }
        let templates =
            klaxon_pipeline::alert::Templates::new(Some(&self.id), Some(&self.message), None);
        if let Err(e) = templates {
            return Err(Invalid::new(format!(
                "[deadman] {} is not a valid template: {}",
                e.property, e.reason
            )));
        }
        Ok(())
    }
}

/// Files loaded at startup.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LoadConfig {
    /// A directory loaded at every start: its handlers/*.yaml, *.yml and *.json topic-handler
    /// files are defined (or replace the handler of the same topic and ID), and its tasks/*.tick
    /// TICKscripts are defined (or replace the task's script) as enabled tasks named by the file
    /// stem, reading the dbrps of their `dbrp` statements. A missing handlers/ or tasks/ is
    /// fine. Empty: load nothing.
    pub dir: String,
}

/// The config override API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigOverrideConfig {
    /// Whether `/kapacitor/v1/config` may change handler sections at runtime. Changes are
    /// stored in klaxon.db and applied again at every start.
    pub enabled: bool,
}

impl Default for ConfigOverrideConfig {
    fn default() -> Self {
        ConfigOverrideConfig { enabled: true }
    }
}

/// The server as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerConfig {
    /// Handler kinds this server does not offer, such as ["exec", "tcp"]: they are absent
    /// everywhere, TICKscript's inline `.exec()` included, and definitions using them are
    /// refused. `klaxond --disable-handlers exec,tcp` adds to this list.
    pub disable_handlers: Vec<String>,
}
