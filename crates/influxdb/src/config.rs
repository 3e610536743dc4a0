//! One `[[influxdb]]` element, with Kapacitor's keys and defaults (services/influxdb/config.go).

use std::collections::BTreeMap;

use klaxon_core::GoDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::InfluxError;

/// An InfluxDB cluster Klaxon reads from, writes to and subscribes to: Kapacitor's
/// `[[influxdb]]` element.
///
/// ```
/// let config = klaxon_influxdb::ClusterConfig::default();
/// assert_eq!(config.name, "default");
/// assert_eq!(config.urls, ["http://localhost:8086"]);
/// assert_eq!(config.startup_timeout.to_string(), "5m0s");
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterConfig {
    /// Whether this cluster is used.
    pub enabled: bool,
    /// The name tasks give to `.cluster()`.
    pub name: String,
    /// The cluster used when a task names none (the only one is the default anyway).
    pub default: bool,
    /// InfluxDB's base URLs, tried in order.
    pub urls: Vec<String>,
    /// The user for InfluxDB's authentication.
    pub username: String,
    /// Its password (secret).
    #[schemars(extend("x-secret" = true))]
    pub password: String,
    /// An InfluxDB 2 token, sent as `Authorization: Token ...` (secret).
    #[schemars(extend("x-secret" = true))]
    pub token: String,
    /// Kapacitor's shared-secret JWT authentication; not available in Klaxon (must be false).
    pub http_shared_secret: bool,
    /// A PEM file of CA certificates trusted besides the platform's.
    pub ssl_ca: String,
    /// A PEM client certificate.
    pub ssl_cert: String,
    /// Its private key.
    pub ssl_key: String,
    /// Accept any server certificate (tests only).
    pub insecure_skip_verify: bool,
    /// How long one request may take; 0 means no limit.
    pub timeout: GoDuration,
    /// Do not manage subscriptions on this cluster.
    pub disable_subscriptions: bool,
    /// How InfluxDB sends to Klaxon: `http` or `https` (`udp` is not available).
    pub subscription_protocol: String,
    /// `cluster` (one subscription set per cluster, named after the cluster ID) or `server`.
    pub subscription_mode: String,
    /// The databases and retention policies to subscribe to; empty means all of them.
    pub subscriptions: BTreeMap<String, Vec<String>>,
    /// Those never to subscribe to.
    pub excluded_subscriptions: BTreeMap<String, Vec<String>>,
    /// The host name InfluxDB sends to; this machine's host name when empty.
    pub kapacitor_hostname: String,
    /// The port InfluxDB sends to; Klaxon's own when 0.
    pub http_port: u16,
    /// Kapacitor's UDP subscription listener; not available in Klaxon (must be empty).
    pub udp_bind: String,
    /// Kapacitor's UDP buffer size (accepted, unused).
    pub udp_buffer: i64,
    /// Kapacitor's UDP read buffer (accepted, unused).
    pub udp_read_buffer: i64,
    /// How long to keep trying to reach InfluxDB at start before reporting it.
    pub startup_timeout: GoDuration,
    /// How often subscriptions are checked and mended.
    pub subscriptions_sync_interval: GoDuration,
    /// A path InfluxDB sends to instead of `/write` (Kapacitor's subscription-path).
    pub subscription_path: String,
    /// `gzip` or `none`, Kapacitor's write compression (Klaxon writes uncompressed).
    pub compression: String,
}

impl Default for ClusterConfig {
    /// Kapacitor's `NewConfig()`: enabled, named `default`, `http://localhost:8086`, `_internal`
    /// excluded from subscriptions, 5m startup timeout, 1m sync interval.
    fn default() -> Self {
        ClusterConfig {
            enabled: true,
            name: "default".to_owned(),
            default: false,
            urls: vec!["http://localhost:8086".to_owned()],
            username: String::new(),
            password: String::new(),
            token: String::new(),
            http_shared_secret: false,
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            insecure_skip_verify: false,
            timeout: GoDuration::ZERO,
            disable_subscriptions: false,
            subscription_protocol: "http".to_owned(),
            subscription_mode: "cluster".to_owned(),
            subscriptions: BTreeMap::new(),
            excluded_subscriptions: BTreeMap::from([(
                "_kapacitor".to_owned(),
                vec!["autogen".to_owned()],
            )]),
            kapacitor_hostname: String::new(),
            http_port: 0,
            udp_bind: String::new(),
            udp_buffer: 1000,
            udp_read_buffer: 0,
            startup_timeout: GoDuration::from_secs(300),
            subscriptions_sync_interval: GoDuration::from_secs(60),
            subscription_path: String::new(),
            compression: "gzip".to_owned(),
        }
    }
}

impl ClusterConfig {
    /// Kapacitor's checks, with errors naming the key and the fix.
    ///
    /// ```
    /// let mut config = klaxon_influxdb::ClusterConfig::default();
    /// config.urls.clear();
    /// assert_eq!(config.validate().unwrap_err().to_string(),
    ///     "[[influxdb]] \"default\": urls is empty; give at least one InfluxDB URL such as http://localhost:8086");
    /// ```
    pub fn validate(&self) -> Result<(), InfluxError> {
        let bad = |message: String| InfluxError::Config {
            cluster: self.name.clone(),
            message,
        };
        if self.name.is_empty() {
            return Err(bad("name is empty; give the cluster a name".to_owned()));
        }
        if !self
            .name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(bad(
                "name must contain only numbers, letters or '.', '-', and '_' characters"
                    .to_owned(),
            ));
        }
        if self.urls.is_empty() {
            return Err(bad(
                "urls is empty; give at least one InfluxDB URL such as http://localhost:8086"
                    .to_owned(),
            ));
        }
        for url in &self.urls {
            klaxon_http::check_url("urls", url).map_err(|e| bad(e.to_string()))?;
        }
        match self.subscription_protocol.as_str() {
            "http" | "https" => {}
            "udp" => {
                return Err(bad(
                    "subscription-protocol \"udp\" is not available in Klaxon; use \"http\" or \"https\""
                        .to_owned(),
                ));
            }
            other => {
                return Err(bad(format!(
                    "subscription-protocol must be one of 'http' or 'https', got {other:?}"
                )));
            }
        }
        if !matches!(self.subscription_mode.as_str(), "cluster" | "server") {
            return Err(bad(format!(
                "subscription-mode must be \"cluster\" or \"server\", got {:?}",
                self.subscription_mode
            )));
        }
        if !matches!(self.compression.as_str(), "gzip" | "none") {
            return Err(bad(format!(
                "compression must be one of 'gzip' or 'none', got {:?}",
                self.compression
            )));
        }
        if self.http_shared_secret {
            return Err(bad(
                "http-shared-secret is not available in Klaxon; use username and password"
                    .to_owned(),
            ));
        }
        if !self.udp_bind.is_empty() {
            return Err(bad(
                "udp-bind is not available in Klaxon; remove it (subscriptions use HTTP)"
                    .to_owned(),
            ));
        }
        if self.timeout.as_nanos() < 0 || self.startup_timeout.as_nanos() < 0 {
            return Err(bad(
                "timeout and startup-timeout must not be negative".to_owned()
            ));
        }
        if self.subscriptions_sync_interval.as_nanos() <= 0 {
            return Err(bad(
                "subscriptions-sync-interval must be positive, such as \"1m\"".to_owned(),
            ));
        }
        Ok(())
    }

    /// The TLS keys as klaxon-http takes them.
    pub(crate) fn tls(&self) -> klaxon_http::ClientTls {
        klaxon_http::ClientTls {
            ca: self.ssl_ca.clone(),
            cert: self.ssl_cert.clone(),
            key: self.ssl_key.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
        }
    }
}
