//! `[[kafka-consumer]]`: Kafka topics as a source of line protocol. Each consumer's messages go
//! through the same path as a `/write` (admission, parse, tasks, the store's commit), and the
//! consumer commits a message's offset only once that path said its effects are stored.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use klaxon_kafka::{Consumer, ConsumerConfig, Sink, SinkError, Write};

use crate::http::write::{IngestPath, WriteError, WriteQuery};

/// The ingest path as a Kafka consumer's sink, with the journal of alert state changes it
/// publishes to its group's state topic (`state-handover`).
#[derive(Debug)]
struct KafkaSink {
    path: IngestPath,
    journal: Option<Arc<klaxon_engine::StateJournal>>,
}

#[async_trait::async_trait]
impl Sink for KafkaSink {
    async fn write(&self, write: Write) -> Result<usize, SinkError> {
        let slot = self.path.gate.slot().await.map_err(sink_error)?;
        let query = WriteQuery::new(write.database, write.retention_policy, write.precision);
        self.path
            .process(slot, query, HeaderMap::new(), write.body)
            .await
            .map_err(sink_error)
    }

    fn state_changes(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.journal
            .as_ref()
            .map(|journal| journal.drain())
            .unwrap_or_default()
    }

    async fn adopt_states(&self, values: Vec<Vec<u8>>) -> usize {
        let (alerts, tasks) = (self.path.alerts.clone(), self.path.tasks.clone());
        // Stores what it adopts: off the async workers.
        let adopted = tokio::task::spawn_blocking(move || {
            let report = alerts.adopt(values);
            if report.adopted > 0 {
                tasks.forget_alert_states();
            }
            report
        })
        .await
        .unwrap_or_default();
        if adopted.unreadable > 0 {
            tracing::warn!(
                unreadable = adopted.unreadable,
                "state topic records that do not decode were skipped"
            );
        }
        adopted.adopted
    }
}

/// 503 means "later" (shutting down, queues full, the disk full); anything else is the
/// message's own fault, and retrying it would stall its partition for good.
fn sink_error(e: WriteError) -> SinkError {
    if e.status == StatusCode::SERVICE_UNAVAILABLE {
        SinkError::Unavailable(e.message)
    } else {
        SinkError::Rejected(e.message)
    }
}

/// Each `[[kafka-consumer]]`: its group, this server's URL in it, and its counters.
pub type KafkaStats = Arc<[KafkaMember]>;

/// This server as a member of one consumer group.
#[derive(Debug, Clone)]
pub struct KafkaMember {
    pub group: String,
    /// This server's API URL as the group knows it.
    pub url: String,
    pub stats: Arc<klaxon_kafka::ConsumerStats>,
}

/// The running consumers.
#[derive(Debug, Default)]
pub struct KafkaConsumers {
    /// Each consumer and the URL it advertises.
    consumers: Vec<(Consumer, String)>,
}

impl KafkaConsumers {
    /// Starts every enabled consumer of `configs` (validated with the configuration).
    pub fn start(configs: &[ConsumerConfig], advertise: &str, path: IngestPath) -> KafkaConsumers {
        let consumers = configs
            .iter()
            .filter(|c| c.enabled)
            .map(|config| {
                tracing::info!(consumer = %config.label(), brokers = ?config.brokers, database = %config.database, state_handover = config.state_handover, "kafka consumer starting");
                let journal = config.state_handover.then(|| path.alerts.journal());
                let sink = Arc::new(KafkaSink {
                    path: path.clone(),
                    journal,
                });
                let url = if config.advertise_url.is_empty() {
                    advertise.to_owned()
                } else {
                    config.advertise_url.clone()
                };
                (Consumer::start(config.clone(), sink, url.clone()), url)
            })
            .collect();
        KafkaConsumers { consumers }
    }

    /// Each consumer's group and counters, for `/metrics`.
    pub fn stats(&self) -> KafkaStats {
        self.consumers
            .iter()
            .map(|(c, url)| KafkaMember {
                group: c.group().to_owned(),
                url: url.clone(),
                stats: Arc::clone(c.stats()),
            })
            .collect()
    }

    /// Stops them all: each finishes the messages in hand, commits and leaves its group.
    pub async fn stop(&mut self, timeout: Duration) {
        let stops = std::mem::take(&mut self.consumers)
            .into_iter()
            .map(|(c, _)| c.stop(timeout));
        futures_join_all(stops).await;
    }
}

/// Awaits every future, concurrently, without another dependency.
async fn futures_join_all(
    futures: impl Iterator<Item = impl Future<Output = ()> + Send + 'static>,
) {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for handle in handles {
        let _ = handle.await;
    }
}
