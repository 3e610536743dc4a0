//! The kafka handler: writes each alert to a Kafka topic, keyed by the alert ID.

use std::sync::Arc;

use klaxon_core::template::Template;
use klaxon_core::{
    Chained, Event, Handler, HandlerError, Init, Invalid, Live, Service, TickShape, async_trait,
};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::config::Cluster;
use crate::partition::Partitioner;
use crate::producer::Producers;
use crate::template;

/// The options of one kafka handler, with Kapacitor's keys: the same type decodes handler
/// files, the HTTP API and TICKscript calls.
///
/// ```json
/// {"cluster": "infra-monitoring", "topic": "cpu-alerts", "template": "{{ .Message }}", "disablePartitionById": false, "partitionAlgorithm": "crc32"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The `[[kafka]]` cluster to write to, by its id. Empty: the only cluster, when there is
    /// one.
    pub cluster: String,
    /// The Kafka topic. Required.
    pub topic: String,
    /// A Go template of the alert (`{{ .Message }}`) giving the message; empty: the alert as
    /// JSON, with a newline.
    pub template: String,
    /// Choose the partition with FNV-1a (sarama's default) instead of partitionAlgorithm.
    #[serde(rename = "disablePartitionById")]
    pub disable_partition_by_id: bool,
    /// How the alert ID chooses the partition: crc32 (the default), murmur2, murmur3 or fnv-1a.
    #[serde(rename = "partitionAlgorithm")]
    pub partition_algorithm: String,
}

/// The options of the Kafka service test, Kapacitor's: one message with a key.
///
/// ```json
/// {"cluster": "default", "topic": "test", "key": "key", "message": "test kafka message"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The cluster; defaults to the first configured one.
    pub cluster: String,
    /// The topic.
    pub topic: String,
    /// The message key.
    pub key: String,
    /// The message.
    pub message: String,
}

/// The `kafka` handler kind: writes each alert to a Kafka topic.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_kafka::{Cluster, Config, KafkaService, Options};
///
/// let config = Config::new(vec![Cluster {
///     enabled: true,
///     id: "infra-monitoring".into(),
///     brokers: vec!["localhost:9092".into()],
///     ..Cluster::default()
/// }]);
/// let service = KafkaService::new(Init::new(config)).unwrap();
/// let options = Options { topic: "cpu-alerts".into(), ..Options::default() };
/// assert!(service.handler(options.clone()).is_ok());
///
/// let elsewhere = Options { cluster: "other".into(), ..options };
/// assert_eq!(
///     service.handler(elsewhere).unwrap_err().to_string(),
///     r#"unknown cluster "other"; the [[kafka]] clusters are: "infra-monitoring""#
/// );
/// ```
#[derive(Debug)]
pub struct KafkaService {
    kafka: Arc<Kafka>,
}

/// The service's state, shared with its handlers.
#[derive(Debug)]
struct Kafka {
    config: Live<Config>,
    producers: Producers,
}

/// The chained properties of `.kafka()`, spelled as in Kapacitor; `.partitionAlgorithm()` is
/// the name Kapacitor's documentation gives `.partitionHashAlgorithm()`.
const CHAINED: &[Chained] = &[
    Chained::value("cluster", "cluster"),
    Chained::value("kafkaTopic", "topic"),
    Chained::value("template", "template"),
    Chained::flag("disablePartitionById", "disablePartitionById"),
    Chained::value("partitionHashAlgorithm", "partitionAlgorithm"),
    Chained::value("partitionAlgorithm", "partitionAlgorithm"),
];

#[async_trait]
impl Service for KafkaService {
    const KIND: &'static str = "kafka";
    const DESCRIPTION: &'static str = "writes each alert to a Kafka topic, keyed by the alert ID";
    const TICK: TickShape = TickShape::new("kafka").chained(CHAINED);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        Ok(KafkaService {
            kafka: Arc::new(Kafka {
                config: init.config,
                producers: Producers::default(),
            }),
        })
    }

    /// Clients of clusters that changed are dropped: each connects again with its new settings
    /// at its next message.
    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        self.kafka
            .producers
            .retain(|cluster| config.cluster(&cluster.id).is_ok_and(|c| c == cluster));
        Ok(())
    }

    /// Refuses a cluster the configuration does not have (naming those it has), a missing
    /// topic, a template that does not parse and an unknown partition algorithm.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        self.kafka.config.get().cluster(&options.cluster)?;
        if options.topic.is_empty() {
            return Err(Invalid::new(
                "topic must not be empty: the Kafka topic to write to, such as \
                 .kafkaTopic('alerts') or topic: alerts",
            ));
        }
        let template = if options.template.is_empty() {
            None
        } else {
            let parsed = template::parse(&options.template)
                .map_err(|e| Invalid::new(format!("failed to parse template: {e}")))?;
            Some(parsed)
        };
        let partitioner = if options.disable_partition_by_id {
            Partitioner::Fnv1a
        } else {
            Partitioner::named(&options.partition_algorithm).map_err(Invalid::new)?
        };
        Ok(Arc::new(KafkaHandler {
            cluster: options.cluster,
            topic: options.topic,
            template,
            partitioner,
            kafka: Arc::clone(&self.kafka),
        }))
    }

    fn test_options(&self) -> TestOptions {
        let config = self.kafka.config.get();
        TestOptions {
            cluster: config
                .iter()
                .next()
                .map(|c| c.id.clone())
                .unwrap_or_default(),
            topic: "test".to_owned(),
            key: "key".to_owned(),
            message: "test kafka message".to_owned(),
        }
    }

    /// Writes the test message, partitioned as Kapacitor's test is (sarama's default, FNV-1a).
    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        if options.topic.is_empty() {
            return Err(HandlerError::permanent("topic must not be empty"));
        }
        let config = self.kafka.config.get();
        let cluster = config
            .cluster(&options.cluster)
            .map_err(|e| HandlerError::permanent(e.message()))?;
        self.kafka
            .write(
                cluster,
                &options.topic,
                options.key.as_bytes(),
                options.message.into_bytes(),
                Partitioner::Fnv1a,
            )
            .await
    }

    async fn close(&self) {
        self.kafka.producers.close();
    }
}

/// Writes each event with one handler's options.
#[derive(Debug)]
struct KafkaHandler {
    cluster: String,
    topic: String,
    template: Option<Template>,
    partitioner: Partitioner,
    kafka: Arc<Kafka>,
}

#[async_trait]
impl Handler for KafkaHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let config = self.kafka.config.get();
        let cluster = config
            .cluster(&self.cluster)
            .map_err(|e| HandlerError::permanent(e.message()))?;
        let value = match &self.template {
            Some(template) => template::render(template, event).map_err(|e| {
                HandlerError::permanent(format!(
                    "failed to execute alert template {:?}: {e}",
                    template.source()
                ))
            })?,
            None => event.alert_json(),
        };
        self.kafka
            .write(
                cluster,
                &self.topic,
                event.state.id.as_bytes(),
                value.into_bytes(),
                self.partitioner,
            )
            .await
    }

    /// Without a template the message is the alert JSON.
    fn sends_alert_json(&self) -> bool {
        self.template.is_none()
    }
}

impl Kafka {
    /// Writes one message to `topic` of `cluster`.
    async fn write(
        &self,
        cluster: &Cluster,
        topic: &str,
        key: &[u8],
        value: Vec<u8>,
        partitioner: Partitioner,
    ) -> Result<(), HandlerError> {
        if !cluster.enabled {
            return Err(HandlerError::permanent(format!(
                "Kafka cluster {:?} is not enabled; set enabled = true in its [[kafka]] section",
                cluster.id
            )));
        }
        self.producers
            .get(cluster)
            .write(topic, key, value, partitioner)
            .await
    }
}
