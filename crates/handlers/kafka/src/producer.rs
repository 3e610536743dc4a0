//! Writing to a Kafka cluster: one client per cluster (rskafka, pure Rust), made at the first
//! message; the partitions of each topic; and per partition a batcher, which gathers messages
//! as Kapacitor's producer (sarama) does, sending a batch when it has `batch-size` messages or
//! its first has waited `batch-timeout`, and tells each writer when the broker has its message.
//!
//! rskafka's own batch producer sends a full batch only when the next message does not fit,
//! which would keep a full batch waiting for `batch-timeout`; hence a batcher of our own.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use klaxon_core::HandlerError;
use rskafka::BackoffConfig;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, Credentials, OauthBearerCredentials, SaslConfig};
use rskafka::record::Record;
use tokio::sync::{mpsc, oneshot};

use crate::config::{Cluster, Sasl};
use crate::partition::Partitioner;

/// How long the partitions of a topic are trusted before they are asked again.
const PARTITIONS_TTL: Duration = Duration::from_secs(60);

/// The most bytes one batch carries (sarama's `MaxMessageBytes`, under Kafka's default
/// `message.max.bytes`); a larger single message goes alone.
const MAX_BATCH_BYTES: usize = 1_000_000;

/// The clients of the clusters in use, by cluster ID. A cluster whose configuration changed
/// gets a new client.
#[derive(Debug, Default)]
pub(crate) struct Producers {
    live: Mutex<HashMap<String, Arc<ClusterProducer>>>,
}

impl Producers {
    /// The producer of `cluster` as configured now.
    pub(crate) fn get(&self, cluster: &Cluster) -> Arc<ClusterProducer> {
        let mut live = lock(&self.live);
        if let Some(producer) = live.get(&cluster.id)
            && producer.cluster == *cluster
        {
            return Arc::clone(producer);
        }
        let producer = Arc::new(ClusterProducer::new(cluster.clone()));
        live.insert(cluster.id.clone(), Arc::clone(&producer));
        producer
    }

    /// Drops the producers of clusters that `keep` says are gone or changed.
    pub(crate) fn retain(&self, keep: impl Fn(&Cluster) -> bool) {
        lock(&self.live).retain(|_, producer| keep(&producer.cluster));
    }

    /// Drops every client; batches on their way finish, as their writers wait for them.
    pub(crate) fn close(&self) {
        lock(&self.live).clear();
    }
}

/// Writes to one cluster, as configured when it was made.
#[derive(Debug)]
pub(crate) struct ClusterProducer {
    cluster: Cluster,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
    partitions: Mutex<HashMap<String, (Vec<i32>, Instant)>>,
    batches: Mutex<HashMap<(String, i32), Batcher>>,
}

impl ClusterProducer {
    fn new(cluster: Cluster) -> ClusterProducer {
        ClusterProducer {
            cluster,
            client: tokio::sync::Mutex::new(None),
            partitions: Mutex::default(),
            batches: Mutex::default(),
        }
    }

    /// Writes one message to `topic`, in the partition `partitioner` chooses for `key`, and
    /// waits until the partition's leader has it (Kapacitor's acks: the leader). Bounded by
    /// the cluster's `timeout`.
    pub(crate) async fn write(
        &self,
        topic: &str,
        key: &[u8],
        value: Vec<u8>,
        partitioner: Partitioner,
    ) -> Result<(), HandlerError> {
        let timeout = self.cluster.write_timeout();
        tokio::time::timeout(timeout, self.write_within(topic, key, value, partitioner))
            .await
            .unwrap_or_else(|_| {
                Err(HandlerError::timed_out(
                    format_args!(
                        "writing to topic {topic:?} of Kafka cluster {:?}",
                        self.cluster.id
                    ),
                    timeout,
                ))
            })
    }

    async fn write_within(
        &self,
        topic: &str,
        key: &[u8],
        value: Vec<u8>,
        partitioner: Partitioner,
    ) -> Result<(), HandlerError> {
        let client = self.client().await?;
        let partitions = self.partitions(&client, topic).await?;
        let partition = partitions[partitioner.index(key, partitions.len())];
        let batcher = self.batcher(&client, topic, partition).await?;
        let record = Record {
            key: Some(key.to_vec()),
            value: Some(value),
            headers: BTreeMap::new(),
            timestamp: chrono::Utc::now(),
        };
        let outcome = batcher.write(record).await;
        if outcome.is_err() {
            // The next write to this partition starts afresh: its leader may have moved.
            lock(&self.batches).remove(&(topic.to_owned(), partition));
            lock(&self.partitions).remove(topic);
        }
        outcome
    }

    /// The cluster's client, connected at the first write (and again after a failure).
    async fn client(&self) -> Result<Arc<Client>, HandlerError> {
        let mut client = self.client.lock().await;
        if let Some(client) = client.as_ref() {
            return Ok(Arc::clone(client));
        }
        let cluster = &self.cluster;
        let mut builder = ClientBuilder::new(cluster.brokers.clone())
            .client_id(cluster.id.clone())
            .backoff_config(backoff(cluster.write_timeout()));
        if let Some(sasl) = sasl_config(&cluster.sasl()) {
            builder = builder.sasl_config(sasl);
        }
        let built = builder
            .build()
            .await
            .map_err(|e| self.failed("connect to Kafka cluster", &e))?;
        let built = Arc::new(built);
        *client = Some(Arc::clone(&built));
        Ok(built)
    }

    /// The partition IDs of `topic`, sorted (Kapacitor's partitioners index into them). A
    /// topic the cluster does not list is asked for once on its own, which lets brokers that
    /// create topics on demand (`auto.create.topics.enable`) create it, as Kapacitor's client
    /// does.
    async fn partitions(&self, client: &Client, topic: &str) -> Result<Vec<i32>, HandlerError> {
        if let Some((partitions, fetched)) = lock(&self.partitions).get(topic)
            && fetched.elapsed() < PARTITIONS_TTL
        {
            return Ok(partitions.clone());
        }
        let mut found = self.listed(client, topic).await?;
        if found.is_none() {
            // An error here is the broker's "unknown topic"; the listing says the rest.
            let _ = client
                .partition_client(topic, 0, UnknownTopicHandling::Error)
                .await;
            found = self.listed(client, topic).await?;
        }
        let Some(mut partitions) = found.filter(|p| !p.is_empty()) else {
            return Err(HandlerError::transient(format!(
                "topic {topic:?} does not exist in Kafka cluster {:?}; create it, or let the \
                 brokers create topics (auto.create.topics.enable)",
                self.cluster.id
            )));
        };
        partitions.sort_unstable();
        lock(&self.partitions).insert(topic.to_owned(), (partitions.clone(), Instant::now()));
        Ok(partitions)
    }

    async fn listed(&self, client: &Client, topic: &str) -> Result<Option<Vec<i32>>, HandlerError> {
        let topics = client
            .list_topics()
            .await
            .map_err(|e| self.failed("list the topics of Kafka cluster", &e))?;
        Ok(topics
            .into_iter()
            .find(|t| t.name == topic)
            .map(|t| t.partitions.into_iter().collect()))
    }

    /// The batcher of one partition.
    async fn batcher(
        &self,
        client: &Client,
        topic: &str,
        partition: i32,
    ) -> Result<Batcher, HandlerError> {
        let key = (topic.to_owned(), partition);
        if let Some(batcher) = lock(&self.batches).get(&key) {
            return Ok(batcher.clone());
        }
        let partition_client: PartitionClient = client
            .partition_client(topic, partition, UnknownTopicHandling::Error)
            .await
            .map_err(|e| {
                let what =
                    format!("reach partition {partition} of topic {topic:?} on Kafka cluster");
                self.failed(&what, &e)
            })?;
        let what = format!("write to topic {topic:?} of Kafka cluster");
        let failure = Failure::of(&self.cluster);
        let batcher = Batcher::start(partition_client, &self.cluster, move |e| {
            failure.error(&what, e)
        });
        // Two first writes may race here; the one kept is as good as the other.
        Ok(lock(&self.batches).entry(key).or_insert(batcher).clone())
    }

    /// A failure while doing `what` (a phrase ending in "Kafka cluster", which the cluster's ID
    /// follows; see [`Failure`]); a retryable one also forgets the client,
    /// so that the next write connects afresh.
    fn failed(&self, what: &str, err: &dyn std::error::Error) -> HandlerError {
        let error = Failure::of(&self.cluster).error(what, err);
        if error.is_retryable()
            && let Ok(mut client) = self.client.try_lock()
        {
            *client = None;
        }
        error
    }
}

/// How a failure of a cluster reads.
#[derive(Debug, Clone)]
struct Failure {
    id: String,
    sasl: Sasl,
}

impl Failure {
    fn of(cluster: &Cluster) -> Failure {
        Failure {
            id: cluster.id.clone(),
            sasl: cluster.sasl(),
        }
    }

    /// A refused SASL authentication is permanent (the same credentials fail again) and says
    /// so; anything else is retryable.
    fn error(&self, what: &str, err: &dyn std::error::Error) -> HandlerError {
        let id = &self.id;
        let chain = chain(err);
        if chain.contains("Sasl handshake failed") {
            return HandlerError::permanent(format!(
                "Kafka cluster {id:?} refused the SASL authentication ({:?}); check \
                 sasl-username, sasl-password and sasl-mechanism: {chain}",
                self.sasl
            ));
        }
        HandlerError::transient(format!("{what} {id:?}: {chain}"))
    }
}

/// rskafka retries connecting until its deadline, within retries of the metadata request that
/// have the same deadline, and its last attempt may run past it: a third of the write's timeout
/// leaves room for that, so that the error says why rather than only that time ran out.
fn backoff(timeout: Duration) -> BackoffConfig {
    BackoffConfig {
        init_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        base: 2.0,
        deadline: Some(timeout / 3),
    }
}

/// rskafka's SASL settings.
fn sasl_config(sasl: &Sasl) -> Option<SaslConfig> {
    let credentials =
        |user: &str, password: &str| Credentials::new(user.to_owned(), password.to_owned());
    Some(match sasl {
        Sasl::None => return None,
        Sasl::Plain(user, password) => SaslConfig::Plain(credentials(user, password)),
        Sasl::ScramSha256(user, password) => SaslConfig::ScramSha256(credentials(user, password)),
        Sasl::ScramSha512(user, password) => SaslConfig::ScramSha512(credentials(user, password)),
        Sasl::OauthBearer(token, extensions) => {
            let token = token.clone();
            SaslConfig::Oauthbearer(OauthBearerCredentials {
                callback: Arc::new(move || {
                    let token = token.clone();
                    Box::pin(async move { Ok(token) })
                }),
                authz_id: None,
                bearer_kvs: extensions.clone().into_iter().collect(),
            })
        }
    })
}

/// An error and its causes, on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The batcher of one partition: writers queue their record and wait for its batch's outcome.
#[derive(Debug, Clone)]
struct Batcher {
    queue: mpsc::UnboundedSender<(Record, oneshot::Sender<Result<(), HandlerError>>)>,
}

impl Batcher {
    /// Starts the batcher's task, which ends when the last writer has let go of it. `failed`
    /// says what a failed batch means.
    fn start(
        partition: PartitionClient,
        cluster: &Cluster,
        failed: impl Fn(&dyn std::error::Error) -> HandlerError + Send + 'static,
    ) -> Batcher {
        let (queue, waiting) = mpsc::unbounded_channel();
        let batching = Batching {
            partition,
            max_records: cluster.batch_size(),
            linger: cluster.batch_timeout.to_std(),
        };
        tokio::spawn(batching.run(waiting, failed));
        Batcher { queue }
    }

    /// Queues `record` and waits until the broker has it, with the batch it went in.
    async fn write(&self, record: Record) -> Result<(), HandlerError> {
        let (done, outcome) = oneshot::channel();
        let lost = || HandlerError::transient("the batch of this message was dropped unsent");
        self.queue.send((record, done)).map_err(|_| lost())?;
        outcome.await.unwrap_or_else(|_| Err(lost()))
    }
}

/// A batcher's task.
struct Batching {
    partition: PartitionClient,
    max_records: usize,
    linger: Duration,
}

impl Batching {
    async fn run(
        self,
        mut waiting: mpsc::UnboundedReceiver<(Record, oneshot::Sender<Result<(), HandlerError>>)>,
        failed: impl Fn(&dyn std::error::Error) -> HandlerError,
    ) {
        while let Some(first) = waiting.recv().await {
            let deadline = tokio::time::Instant::now() + self.linger;
            let mut bytes = first.0.approximate_size();
            let mut batch = vec![first];
            while batch.len() < self.max_records && bytes < MAX_BATCH_BYTES {
                tokio::select! {
                    biased;
                    next = waiting.recv() => match next {
                        Some(next) => {
                            bytes += next.0.approximate_size();
                            batch.push(next);
                        }
                        None => break,
                    },
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
            let (records, writers): (Vec<Record>, Vec<_>) = batch.into_iter().unzip();
            let outcome = self
                .partition
                .produce(records, Compression::NoCompression)
                .await
                .map(|_offsets| ())
                .map_err(|e| failed(&e));
            for writer in writers {
                // A writer that gave up waiting needs no answer.
                let _ = writer.send(outcome.clone());
            }
        }
    }
}
