//! What can go wrong talking to Kafka.

use std::time::Duration;

use crate::group::{self, Api};

/// An error of the Kafka source; its message names the broker, request or key involved.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// A connection to a broker failed.
    #[error("kafka broker {addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// A broker did not answer in time.
    #[error("kafka broker {addr} did not answer {what} within {after:?}")]
    TimedOut {
        what: &'static str,
        addr: String,
        after: Duration,
    },
    /// A response that does not parse.
    #[error("malformed {what} response: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// A broker refused a request with an error code.
    #[error("kafka {request} failed: {name} ({code}){detail}")]
    Broker {
        request: &'static str,
        code: i16,
        name: &'static str,
        detail: String,
    },
    /// The SASL login could not be made (a client-side failure of the mechanism).
    #[error(
        "kafka broker {addr}: SASL login failed: {reason}; check sasl-username, sasl-password and sasl-mechanism"
    )]
    Sasl { addr: String, reason: String },
    /// No broker of `brokers` could be reached.
    #[error("no kafka broker answered; check [[kafka-consumer]] brokers")]
    NoBroker,
    /// rskafka's error (metadata, fetch, list offsets).
    #[error("kafka {what}: {source}")]
    Client {
        what: String,
        #[source]
        source: Box<rskafka::client::error::Error>,
    },
    /// A configuration that cannot work.
    #[error("[[kafka-consumer]] {0}")]
    Config(String),
}

impl KafkaError {
    pub(crate) fn broker(api: Api, code: i16, message: String) -> KafkaError {
        KafkaError::Broker {
            request: api.name(),
            code,
            name: group::error_name(code),
            detail: if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            },
        }
    }

    /// The group moved on (a rebalance, or this member's generation is gone): rejoin.
    pub(crate) fn needs_rejoin(&self) -> bool {
        matches!(
            self,
            KafkaError::Broker { code, .. } if matches!(
                *code,
                group::REBALANCE_IN_PROGRESS | group::ILLEGAL_GENERATION | group::UNKNOWN_MEMBER_ID
            )
        )
    }

    /// The coordinator moved or is loading: find it again.
    pub(crate) fn coordinator_moved(&self) -> bool {
        matches!(
            self,
            KafkaError::Broker { code, .. } if matches!(
                *code,
                group::NOT_COORDINATOR | group::COORDINATOR_NOT_AVAILABLE | group::COORDINATOR_LOAD_IN_PROGRESS
            )
        ) || matches!(self, KafkaError::Io { .. } | KafkaError::TimedOut { .. })
    }
}
