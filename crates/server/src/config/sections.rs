//! The server's own configuration sections.

use std::path::PathBuf;

use klaxon_core::{GoDuration, Invalid};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decode_section;
use super::limits::LimitsConfig;

/// Klaxon's server settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSections {
    /// Directory for Klaxon's database (klaxon.db). Created if missing.
    pub data_dir: PathBuf,
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
}

impl Default for ServerSections {
    fn default() -> Self {
        ServerSections {
            data_dir: PathBuf::from("./klaxon-data"),
            http: HttpConfig::default(),
            logging: LoggingConfig::default(),
            alert: AlertConfig::default(),
            load: LoadConfig::default(),
            config_override: ConfigOverrideConfig::default(),
            server: ServerConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

impl ServerSections {
    /// Keys that hold a single value at the top of the file.
    pub const TOP_LEVEL: &'static [&'static str] = &["data-dir"];
    /// Keys that hold a table of the server's own.
    pub const SECTIONS: &'static [&'static str] = &[
        "alert",
        "config-override",
        "http",
        "limits",
        "load",
        "logging",
        "server",
    ];
    /// Every top-level key the server itself owns.
    pub const KEYS: &'static [&'static str] = &[
        "alert",
        "config-override",
        "data-dir",
        "http",
        "limits",
        "load",
        "logging",
        "server",
    ];

    pub(super) fn decode(value: Value) -> Result<ServerSections, Invalid> {
        let defaults = ServerSections::default();
        let map = match value {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let data_dir = match map.get("data-dir") {
            None | Some(Value::Null) => defaults.data_dir,
            Some(Value::String(dir)) if !dir.is_empty() => PathBuf::from(dir),
            Some(other) => {
                return Err(Invalid::new(format!(
                    "data-dir must be a non-empty path string, got {other}"
                )));
            }
        };
        Ok(ServerSections {
            data_dir,
            http: decode_section("http", map.get("http"))?,
            logging: decode_section("logging", map.get("logging"))?,
            alert: decode_section("alert", map.get("alert"))?,
            load: decode_section("load", map.get("load"))?,
            config_override: decode_section("config-override", map.get("config-override"))?,
            server: decode_section("server", map.get("server"))?,
            limits: decode_section("limits", map.get("limits"))?,
        })
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
        self.alert.validate()
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
        }
    }
}

impl HttpConfig {
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
            crate::http::auth::check_hash(hash).map_err(|why| {
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
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
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
    fn default() -> Self {
        AlertConfig {
            topic_buffer_length: 5000,
            queue_full: QueueFullPolicy::Drop,
            queue_full_wait: GoDuration::from_secs(5),
            persist_topics: true,
            test_events: false,
            handler_timeout: GoDuration::from_secs(60),
            retry_attempts: 5,
            retry_initial_delay: GoDuration::from_secs(1),
            retry_max_delay: GoDuration::from_secs(30),
            retry_max_elapsed: GoDuration::from_secs(120),
            shutdown_timeout: GoDuration::from_secs(10),
        }
    }
}

impl AlertConfig {
    /// The engine's settings from this section.
    pub fn engine(&self) -> klaxon_engine::EngineConfig {
        klaxon_engine::EngineConfig {
            topic_buffer_length: self.topic_buffer_length,
            queue_full: match self.queue_full {
                QueueFullPolicy::Drop => klaxon_engine::QueueFull::Drop,
                QueueFullPolicy::Block => klaxon_engine::QueueFull::Block,
            },
            persist_topics: self.persist_topics,
            handler_timeout: self.handler_timeout.to_std(),
            retry: klaxon_engine::RetryPolicy {
                attempts: self.retry_attempts,
                initial_delay: self.retry_initial_delay.to_std(),
                max_delay: self.retry_max_delay.to_std(),
                max_elapsed: self.retry_max_elapsed.to_std(),
                all_errors: false,
            },
            // [limits], not [alert], sets these: see ServerSections::engine.
            limits: klaxon_engine::Limits::default(),
        }
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.topic_buffer_length == 0 {
            return Err(Invalid::new(
                "[alert] topic-buffer-length must be at least 1, got 0",
            ));
        }
        if self.retry_attempts == 0 {
            return Err(Invalid::new(
                "[alert] retry-attempts must be at least 1 (1 means no retries), got 0",
            ));
        }
        for (key, value) in [
            ("handler-timeout", self.handler_timeout),
            ("queue-full-wait", self.queue_full_wait),
            ("retry-initial-delay", self.retry_initial_delay),
            ("retry-max-delay", self.retry_max_delay),
            ("retry-max-elapsed", self.retry_max_elapsed),
            ("shutdown-timeout", self.shutdown_timeout),
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
