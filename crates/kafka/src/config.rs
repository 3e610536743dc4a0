//! One `[[kafka-consumer]]` element: which topics to read, as which group, into which database.

use std::time::Duration;

use klaxon_core::{GoDuration, Precision};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::KafkaError;

/// Where a group with no committed offset for a partition starts reading it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StartFrom {
    /// The oldest message the broker keeps.
    Earliest,
    /// Only messages produced from now on (Kafka's own default).
    #[default]
    Latest,
}

/// A Kafka source: line protocol read from `topics` by the consumer group `group-id`, each
/// message a line-protocol body (one or more lines), written into `database` as `/write` would.
///
/// ```
/// let mut config = klaxon_kafka::ConsumerConfig::default();
/// assert!(config.validate().is_err(), "brokers, topics, group-id and database are needed");
/// config.brokers = vec!["127.0.0.1:9092".into()];
/// config.topics = vec!["telegraf".into()];
/// config.group_id = "klaxon".into();
/// config.database = "telegraf".into();
/// config.validate().unwrap();
/// assert_eq!(config.session_timeout.to_string(), "10s");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConsumerConfig {
    /// Whether this source runs.
    pub enabled: bool,
    /// Bootstrap brokers, as host:port.
    pub brokers: Vec<String>,
    /// The topics to read.
    pub topics: Vec<String>,
    /// The consumer group: klaxonds with the same group share the topics' partitions.
    pub group_id: String,
    /// The database the points belong to (what a task's `dbrp` matches).
    pub database: String,
    /// Their retention policy (`autogen` when empty, as for `/write`).
    pub retention_policy: String,
    /// The precision of the messages' timestamps: ns, u, ms, s, m or h.
    pub precision: String,
    /// Where to start on a partition the group has never committed: `earliest` or `latest`.
    pub start_from: StartFrom,
    /// How long the group waits for a silent member before giving its partitions to others.
    pub session_timeout: GoDuration,
    /// How often this member tells the group it is alive (well under the session timeout).
    pub heartbeat_interval: GoDuration,
    /// How long a rebalance waits for every member to rejoin.
    pub rebalance_timeout: GoDuration,
    /// How often the offsets of processed messages are committed (also at every rebalance and
    /// at shutdown).
    pub commit_interval: GoDuration,
    /// The most bytes one fetch of a partition returns.
    pub fetch_max_bytes: i32,
    /// How long a fetch waits on the broker for new messages.
    pub fetch_max_wait: GoDuration,
    /// How long one request to a broker may take.
    pub timeout: GoDuration,
    /// Share alert states through the state topic, so that a member taking over partitions
    /// goes on from the states their last owner reached (docs/scale-out.md).
    pub state_handover: bool,
    /// The state topic; `<group-id>-klaxon-state` when empty. Create it with
    /// `cleanup.policy=compact`; Klaxon creates it (one partition, no compaction) if missing.
    pub state_topic: String,
    /// Connect to the brokers over TLS, with the ssl-* keys.
    pub use_ssl: bool,
    /// A PEM file of CA certificates trusted beside the platform's roots (with use-ssl).
    pub ssl_ca: String,
    /// A PEM client certificate (with use-ssl and ssl-key).
    pub ssl_cert: String,
    /// The PEM private key of ssl-cert.
    pub ssl_key: String,
    /// Accept any certificate from the brokers (insecure; for tests only).
    pub insecure_skip_verify: bool,
    /// The SASL user name; setting it turns SASL on (PLAIN unless sasl-mechanism says).
    pub sasl_username: String,
    /// The SASL password (secret).
    #[schemars(extend("x-secret" = true))]
    pub sasl_password: String,
    /// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 ("": PLAIN when a user name is set).
    pub sasl_mechanism: String,
    /// This server's API URL as the other members reach it, for the cluster views of the
    /// topics API (`http://host:port`). When empty: the listener's address, or the host name
    /// with its port when it listens on every interface.
    pub advertise_url: String,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            enabled: true,
            brokers: Vec::new(),
            topics: Vec::new(),
            group_id: String::new(),
            database: String::new(),
            retention_policy: String::new(),
            precision: "ns".into(),
            start_from: StartFrom::default(),
            session_timeout: GoDuration::from_secs(10),
            heartbeat_interval: GoDuration::from_secs(3),
            rebalance_timeout: GoDuration::from_secs(30),
            commit_interval: GoDuration::from_secs(1),
            fetch_max_bytes: 1 << 20,
            fetch_max_wait: GoDuration::from_nanos(500_000_000),
            timeout: GoDuration::from_secs(10),
            state_handover: true,
            state_topic: String::new(),
            advertise_url: String::new(),
            sasl_username: String::new(),
            sasl_password: String::new(),
            sasl_mechanism: String::new(),
            use_ssl: false,
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            insecure_skip_verify: false,
        }
    }
}

impl ConsumerConfig {
    /// Checks what can be checked without a broker; the error names the key and the fix.
    pub fn validate(&self) -> Result<(), KafkaError> {
        let bad = |m: String| Err(KafkaError::Config(m));
        if self.brokers.is_empty() || self.brokers.iter().any(|b| !b.contains(':')) {
            return bad(format!(
                "brokers = {:?}: give at least one broker as host:port",
                self.brokers
            ));
        }
        if self.topics.is_empty() || self.topics.iter().any(String::is_empty) {
            return bad(format!(
                "topics = {:?}: give the topics to read",
                self.topics
            ));
        }
        if self.group_id.is_empty() {
            return bad("group-id is empty: name the consumer group (klaxonds with the same group share the partitions)".into());
        }
        if self.database.is_empty() {
            return bad(
                "database is empty: name the database the points belong to, as tasks' dbrp name it"
                    .into(),
            );
        }
        if let Err(e) = self.precision.parse::<Precision>() {
            return bad(format!("precision = {:?}: {e}", self.precision));
        }
        for (key, value) in [
            ("session-timeout", self.session_timeout),
            ("heartbeat-interval", self.heartbeat_interval),
            ("rebalance-timeout", self.rebalance_timeout),
            ("commit-interval", self.commit_interval),
            ("timeout", self.timeout),
        ] {
            if value <= GoDuration::ZERO {
                return bad(format!("{key} = {value}: must be more than 0"));
            }
        }
        if self.heartbeat_interval >= self.session_timeout {
            return bad(format!(
                "heartbeat-interval ({}) must be under session-timeout ({}), a third of it is usual",
                self.heartbeat_interval, self.session_timeout
            ));
        }
        let scheme_given = ["http://", "https://"]
            .iter()
            .any(|scheme| self.advertise_url.starts_with(scheme));
        if !self.advertise_url.is_empty() && !scheme_given {
            return bad(format!(
                "advertise-url = {:?}: write it as http://host:port or https://host:port",
                self.advertise_url
            ));
        }
        match self.sasl_mechanism.as_str() {
            "" | "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" => {}
            other => {
                return bad(format!(
                    "sasl-mechanism = {other:?}: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (OAUTHBEARER and GSSAPI are not available for a consumer)"
                ));
            }
        }
        if !self.sasl_mechanism.is_empty() && self.sasl_username.is_empty() {
            return bad(format!(
                "sasl-mechanism = {:?} without sasl-username: give the user and sasl-password",
                self.sasl_mechanism
            ));
        }
        let ssl_keys = !self.ssl_ca.is_empty()
            || !self.ssl_cert.is_empty()
            || !self.ssl_key.is_empty()
            || self.insecure_skip_verify;
        if ssl_keys && !self.use_ssl {
            return bad("ssl-ca, ssl-cert, ssl-key or insecure-skip-verify is set but use-ssl is not: set use-ssl = true to connect over TLS".into());
        }
        self.tls()?;
        if self.fetch_max_bytes < 1024 {
            return bad(format!(
                "fetch-max-bytes = {}: at least 1024",
                self.fetch_max_bytes
            ));
        }
        Ok(())
    }

    /// The TLS configuration when use-ssl is set; an unreadable file is an error naming it.
    pub(crate) fn tls(&self) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, KafkaError> {
        if !self.use_ssl {
            return Ok(None);
        }
        klaxon_http::rustls_client(&klaxon_http::ClientTls {
            ca: self.ssl_ca.clone(),
            cert: self.ssl_cert.clone(),
            key: self.ssl_key.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
        })
        .map(Some)
        .map_err(|e| KafkaError::Config(e.to_string()))
    }

    /// The SASL login, if any.
    pub(crate) fn sasl(&self) -> Option<rskafka::client::SaslConfig> {
        use rskafka::client::{Credentials, SaslConfig};
        if self.sasl_username.is_empty() {
            return None;
        }
        let credentials = Credentials::new(self.sasl_username.clone(), self.sasl_password.clone());
        Some(match self.sasl_mechanism.as_str() {
            "SCRAM-SHA-256" => SaslConfig::ScramSha256(credentials),
            "SCRAM-SHA-512" => SaslConfig::ScramSha512(credentials),
            _ => SaslConfig::Plain(credentials),
        })
    }

    /// The state topic's name.
    pub fn state_topic_name(&self) -> String {
        if self.state_topic.is_empty() {
            format!("{}-klaxon-state", self.group_id)
        } else {
            self.state_topic.clone()
        }
    }

    /// A name for logs and metrics: the group and its topics.
    pub fn label(&self) -> String {
        format!("{}/{}", self.group_id, self.topics.join(","))
    }

    pub(crate) fn std(d: GoDuration) -> Duration {
        d.to_std()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ConsumerConfig {
        ConsumerConfig {
            brokers: vec!["127.0.0.1:9092".into()],
            topics: vec!["metrics".into()],
            group_id: "klaxon".into(),
            database: "telegraf".into(),
            ..ConsumerConfig::default()
        }
    }

    #[test]
    fn each_bad_key_is_named_with_its_fix() {
        type Spoil = fn(&mut ConsumerConfig);
        let cases: [(Spoil, &str); 10] = [
            (
                |c| c.ssl_ca = "/etc/ca.pem".into(),
                "[[kafka-consumer]] ssl-ca, ssl-cert, ssl-key or insecure-skip-verify is set but use-ssl is not",
            ),
            (
                |c| {
                    c.use_ssl = true;
                    c.ssl_ca = "/nonexistent/ca.pem".into()
                },
                "[[kafka-consumer]] cannot read ssl-ca /nonexistent/ca.pem",
            ),
            (
                |c| c.sasl_mechanism = "GSSAPI".into(),
                "[[kafka-consumer]] sasl-mechanism = \"GSSAPI\": use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            ),
            (
                |c| c.sasl_mechanism = "SCRAM-SHA-256".into(),
                "[[kafka-consumer]] sasl-mechanism = \"SCRAM-SHA-256\" without sasl-username",
            ),
            (
                |c| c.brokers = vec!["kafka".into()],
                "[[kafka-consumer]] brokers = [\"kafka\"]: give at least one broker as host:port",
            ),
            (
                |c| c.topics.clear(),
                "[[kafka-consumer]] topics = []: give the topics to read",
            ),
            (
                |c| c.group_id.clear(),
                "[[kafka-consumer]] group-id is empty",
            ),
            (
                |c| c.database.clear(),
                "[[kafka-consumer]] database is empty",
            ),
            (
                |c| c.precision = "d".into(),
                "[[kafka-consumer]] precision = \"d\"",
            ),
            (
                |c| c.heartbeat_interval = GoDuration::from_secs(10),
                "[[kafka-consumer]] heartbeat-interval (10s) must be under session-timeout (10s)",
            ),
        ];
        for (spoil, expected) in cases {
            let mut config = valid();
            spoil(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
        valid().validate().unwrap();
    }

    #[test]
    fn start_from_is_earliest_or_latest() {
        let c: ConsumerConfig =
            serde_json::from_value(serde_json::json!({"start-from": "earliest"})).unwrap();
        assert_eq!(c.start_from, StartFrom::Earliest);
        assert!(
            serde_json::from_value::<ConsumerConfig>(serde_json::json!({"start-from": "oldest"}))
                .is_err()
        );
    }
}
