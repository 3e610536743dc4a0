//! The `kafka` alert handler: writes each alert to a Kafka topic, keyed by the alert ID.
//!
//! For every event the handler writes, as Kapacitor does, one Kafka message to the handler's
//! topic on a `[[kafka]]` cluster:
//!
//! ```text
//! key:        the alert ID (.id())
//! value:      the alert JSON and a newline, as every Kapacitor handler writes it
//!             {"id":"cpu:nil","message":"cpu:nil is CRITICAL","details":"",...,"recoverable":true}
//!             or, with a template, the template's output (no newline added)
//! partition:  chosen from the key by the partition algorithm (crc32 by default), among the
//!             topic's partitions sorted by ID
//! timestamp:  when the message was handed to the client; no headers
//! ```
//!
//! The template is a Go text/template of Kapacitor's `alert.Data` (`.ID`, `.Message`,
//! `.Details`, `.Time`, `.Duration`, `.Level`, `.Data.Series`, `.PreviousLevel`,
//! `.Recoverable`). Messages to one partition are sent together, up to the cluster's
//! `batch-size` of them, or once the first has waited `batch-timeout`; a delivery succeeds when
//! the partition's leader has its message (Kapacitor's acknowledgement level). The client is
//! rskafka (InfluxData's pure-Rust Kafka client), connected at the first message.
//!
//! The partition algorithms are Kapacitor's, byte for byte: `crc32` (as librdkafka; an empty ID
//! goes to a random partition), `murmur2` (as Kafka's Java client), `murmur3` and `fnv-1a` (as
//! sarama's hash partitioner, which `disablePartitionById` also uses).
//!
//! # Options
//!
//! | option                 | type   | meaning                                                      |
//! |------------------------|--------|--------------------------------------------------------------|
//! | `cluster`              | string | The `[[kafka]]` cluster, by its `id`. Empty: the only cluster, when there is one. |
//! | `topic`                | string | The Kafka topic. Required.                                   |
//! | `template`             | string | A template of the alert giving the message. Empty: the alert JSON. |
//! | `disablePartitionById` | bool   | Partition with FNV-1a, as Kapacitor does then.               |
//! | `partitionAlgorithm`   | string | `crc32` (default), `murmur2`, `murmur3` or `fnv-1a`.         |
//!
//! # In a handler file
//!
//! ```yaml
//! id: kafka-event-handler
//! topic: kapacitor-topic-name
//! kind: kafka
//! options:
//!   cluster: kafka-cluster
//!   topic: kafka-topic-name
//!   template: '{{ .Message }}'
//!   disablePartitionById: false
//!   partitionAlgorithm: crc32
//! ```
//!
//! # In TICKscript
//!
//! `.kafka()` takes no argument; the options are chained properties, spelled as in Kapacitor
//! (`.kafkaTopic()` is the Kafka topic: `.topic()` after `.kafka()` is the alert's topic, as
//! there). `.partitionAlgorithm()`, the name Kapacitor's documentation gives
//! `.partitionHashAlgorithm()`, works too.
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .kafka()
//!       .cluster('infra-monitoring')
//!       .kafkaTopic('cpu-alerts')
//!       .template('{{ .Message }}')
//!       .partitionHashAlgorithm('murmur2')
//! ```
//!
//! `.disablePartitionById()` takes no argument, as in Kapacitor.
//!
//! # Configuration
//!
//! Kapacitor's `[[kafka]]` section, pasted as it is: a list of clusters (a single `[kafka]` table
//! is one cluster).
//!
//! ```toml
//! [[kafka]]
//!   enabled = true
//!   # Handlers name the cluster by its id; also the Kafka client ID. Required when enabled.
//!   id = "infra-monitoring"
//!   brokers = ["123.45.67.89:9092", "123.45.67.90:9092"]
//!   # How long writing one message may take ("0s": 30s, as in Kapacitor).
//!   timeout = "10s"
//!   # Messages to a partition sent together at most (0: 100), and how long the first waits.
//!   batch-size = 100
//!   batch-timeout = "1s"
//!   # SASL: PLAIN (the default with a username), SCRAM-SHA-256, SCRAM-SHA-512, or OAUTHBEARER
//!   # with sasl-access-token.
//!   sasl-username = "kafka"
//!   # Secret, as sasl-oauth-client-secret and sasl-access-token are.
//!   sasl-password = "kafkapassword"
//!   sasl-mechanism = "SCRAM-SHA-512"
//! ```
//!
//! Every key of Kapacitor's section is accepted, with its meaning, but for what Klaxon's
//! client does not have yet, refused with a message saying so when the cluster is enabled:
//! `use-ssl = true` (TLS to the brokers; the ssl-* keys are accepted), `sasl-mechanism =
//! "GSSAPI"` (Kerberos; the sasl-gssapi-* keys are accepted), and OAUTHBEARER tokens from a
//! token service (sasl-oauth-service with a client ID and secret; a static `sasl-access-token`
//! works). Kapacitor's documentation writes `sasl-version = ""`, `sasl-oauth-scopes = ""` and
//! `sasl-extensions = {}`: all three are accepted (Kapacitor's own key is `sasl_extensions`,
//! accepted too).
//!
//! Without a `[[kafka]]` section there is Kapacitor's built-in cluster: `id = "default"`,
//! disabled. Refused at start and through the config API, naming the cluster, as Kapacitor
//! checks an enabled cluster: an empty `id`, no `brokers` (`kafka: cluster "infra-monitoring":
//! no brokers specified, must provide at least one broker URL, ...`), a broker that is not
//! host:port, an unknown `sasl-mechanism`, a `sasl-version` other than 1, Kapacitor's
//! OAUTHBEARER checks; and two clusters with one id. A changed cluster is connected again with
//! its new settings at its next message.
//!
//! # Failures
//!
//! A handler naming a cluster that does not exist is refused where it is defined: `kafka:
//! unknown cluster "other"; the [[kafka]] clusters are: "infra-monitoring"`; so are a missing
//! topic, a template that does not parse (`failed to parse template: ...`) and an unknown
//! partition algorithm. At delivery, each of these fails it; the engine logs it and, where
//! marked, retries:
//!
//! - the cluster is disabled: `Kafka cluster "infra-monitoring" is not enabled; ...`, or was
//!   removed from the configuration;
//! - the template fails: `failed to execute alert template "{{ .Tags }}": ...` (alert.Data has
//!   no `.Tags`);
//! - the brokers cannot be reached, or do not acknowledge within `timeout` (retried):
//!   `connect to Kafka cluster "infra-monitoring": ... Connection refused (os error 111)`;
//! - the topic does not exist and the brokers do not create it: `topic "cpu-alerts" does not
//!   exist in Kafka cluster "infra-monitoring"; create it, or let the brokers create topics
//!   (auto.create.topics.enable)` (retried);
//! - the brokers refuse the SASL authentication: `Kafka cluster "infra-monitoring" refused the
//!   SASL authentication (ScramSha512); check sasl-username, sasl-password and sasl-mechanism:
//!   ...` (not retried: the same credentials fail again).
//!
//! # Service test
//!
//! `klaxon service-tests kafka` (or `POST /kapacitor/v1/service-tests/kafka`) writes
//! Kapacitor's test message, `{"cluster": <the first cluster>, "topic": "test", "key": "key",
//! "message": "test kafka message"}`, partitioned as Kapacitor's test is (FNV-1a).
//!
//! # Differences from Kapacitor
//!
//! - A delivery succeeds only when the broker has the message, and fails (for the engine to
//!   retry) when it does not: Kapacitor queues the message in its asynchronous producer and
//!   counts it delivered at once, logging later failures. Its service test succeeds the same
//!   way, so it says nothing of the brokers; Klaxon's waits for them.
//! - A handler without `cluster` writes to the only cluster when there is one (Kapacitor's
//!   documented `.kafka().kafkaTopic('cpu-alerts')` fails there with `unknown cluster ""`), and
//!   the service test defaults to the first cluster instead of `example`.
//! - Each handler's partition algorithm is its own; Kapacitor uses, for every handler of a
//!   topic, the algorithm of the first one that wrote to it. An unknown algorithm is refused
//!   when the handler is defined, not at its first write.
//! - `.partitionAlgorithm()` is accepted beside `.partitionHashAlgorithm()`.
//! - `sasl-password`, `sasl-oauth-client-secret` and `sasl-access-token` are secret (Kapacitor
//!   shows them in its config API).
//! - Not available yet, and refused when configured: TLS (`use-ssl`), Kerberos (GSSAPI) and
//!   OAUTHBEARER tokens from a token service.
//! - A topic the cluster does not have is asked for (so brokers that create topics on demand do)
//!   and, if still missing, the delivery fails, retryably.

mod config;
mod handler;
mod partition;
mod producer;
mod template;

pub use config::{Cluster, Clusters, Config};
pub use handler::{Options, TestOptions};
pub use partition::Partitioner;
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::KafkaService;

klaxon_core::register_service!(KafkaService);

#[cfg(test)]
mod tests;
