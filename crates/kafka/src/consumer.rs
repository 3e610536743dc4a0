//! One `[[kafka-consumer]]` at work: a member of its group, fetching the partitions the group
//! gives it, handing each message to the [`Sink`] and committing the offsets of what the sink
//! has stored. At-least-once: an offset is committed only after the sink said the message's
//! effects are durable, so a crash makes the next owner read again, never skip.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::assign::{self, Subscription};
use crate::group::{GroupClient, Offset};
use crate::state::StateTopic;
use crate::{ConsumerConfig, KafkaError, StartFrom};

/// One message's line protocol, to be processed as a `/write` of it would be.
#[derive(Debug, Clone)]
pub struct Write {
    pub database: String,
    pub retention_policy: String,
    pub precision: String,
    /// One or more lines of line protocol (shared, so a retried write copies nothing).
    pub body: Bytes,
}

/// Why the sink did not take a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkError {
    /// The body is bad (a line does not parse, it is too large): skipped, counted, logged.
    Rejected(String),
    /// The server cannot take it now (shutting down, disk full): retried, the partition waits.
    Unavailable(String),
}

/// Where consumed line protocol goes: klaxond's ingest path.
#[async_trait::async_trait]
pub trait Sink: Send + Sync + 'static {
    /// Processes `write`; `Ok(points)` only once the points' effects (alert states, outbox
    /// entries) are durable.
    async fn write(&self, write: Write) -> Result<usize, SinkError>;

    /// The alert state changes recorded since the last call, as (key, value) records for the
    /// state topic. None by default: a sink that keeps no alert state.
    fn state_changes(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        Vec::new()
    }

    /// Adopts `values`, the latest record of each key of the state topic, where they are newer
    /// than the sink's own states; returns how many were.
    async fn adopt_states(&self, values: Vec<Vec<u8>>) -> usize {
        let _ = values;
        0
    }
}

/// What one consumer has done, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Messages processed (taken by the sink).
    pub messages: AtomicU64,
    /// Points those messages held.
    pub points: AtomicU64,
    /// Messages skipped because the sink rejected them.
    pub malformed: AtomicU64,
    /// Generations this member joined.
    pub rebalances: AtomicU64,
    partitions: Mutex<BTreeMap<(String, i32), PartitionLag>>,
    members: Mutex<Vec<GroupMember>>,
}

/// A member of the group as of this member's last rebalance: its API URL and partitions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupMember {
    /// Where its HTTP API answers (`advertise-url`), as `http://host:port`.
    pub url: String,
    /// The (topic, partition)s it owns.
    pub partitions: Vec<(String, i32)>,
}

/// Where this member stands on one partition it owns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionLag {
    /// The next offset to process.
    pub next_offset: i64,
    /// The broker's high watermark at the last fetch.
    pub high_watermark: i64,
}

impl PartitionLag {
    /// Messages on the broker not processed yet.
    pub fn lag(&self) -> i64 {
        (self.high_watermark - self.next_offset).max(0)
    }
}

impl ConsumerStats {
    /// The group's members and what each owns, as of this member's last rebalance.
    pub fn members(&self) -> Vec<GroupMember> {
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The partitions this member owns now, with their lag.
    pub fn partitions(&self) -> BTreeMap<(String, i32), PartitionLag> {
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, topic: &str, partition: i32, update: impl FnOnce(&mut PartitionLag)) {
        let mut map = self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        update(map.entry((topic.to_owned(), partition)).or_default());
    }

    fn owned(&self, pairs: &[(String, i32)]) {
        let mut map = self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|key, _| pairs.contains(key));
        for key in pairs {
            map.entry(key.clone()).or_default();
        }
    }
}

/// A running consumer; [`Consumer::stop`] commits, leaves the group and waits for it.
#[derive(Debug)]
pub struct Consumer {
    label: String,
    group: String,
    stats: Arc<ConsumerStats>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Consumer {
    /// Starts consuming per `config` (already validated) into `sink`; `advertise` is this
    /// server's API URL, which the other members learn through the group.
    pub fn start(config: ConsumerConfig, sink: Arc<dyn Sink>, advertise: String) -> Consumer {
        let stats = Arc::new(ConsumerStats::default());
        let (stop, stopped) = watch::channel(false);
        let label = config.label();
        let group = config.group_id.clone();
        let member = Member {
            config: Arc::new(config),
            sink,
            stats: Arc::clone(&stats),
            stopped,
            handover: None,
            rebalance_from: None,
            advertise,
        };
        let task = tokio::spawn(member.run());
        Consumer {
            label,
            group,
            stats,
            stop,
            task,
        }
    }

    /// The group and topics, as logs name this consumer.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Its counters and partitions.
    pub fn stats(&self) -> &Arc<ConsumerStats> {
        &self.stats
    }

    /// Stops fetching, lets the messages in hand finish, commits their offsets and leaves the
    /// group (so that the other members take the partitions at once), within `timeout`.
    pub async fn stop(self, timeout: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(timeout, self.task).await.is_err() {
            tracing::warn!(consumer = %self.label, "kafka consumer did not stop within the shutdown timeout");
        }
    }
}

struct Member {
    config: Arc<ConsumerConfig>,
    sink: Arc<dyn Sink>,
    stats: Arc<ConsumerStats>,
    stopped: watch::Receiver<bool>,
    /// The state topic and what is still to be published to it (with `state-handover`).
    handover: Option<Handover>,
    /// The generation the coordinator told this member to rebalance away from.
    rebalance_from: Option<i32>,
    /// This server's API URL, sent to the group in the subscription's user data.
    advertise: String,
}

/// The state topic of a member that shares its alert states.
struct Handover {
    topic: Option<StateTopic>,
    /// State changes taken from the sink and not yet on the broker, oldest first.
    unsent: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What the member should do after a generation ends.
enum Next {
    Rejoin,
    Stop,
}

impl Member {
    async fn run(mut self) {
        let label = self.config.label();
        // Checked at start (validate): the files were readable then.
        let tls = match self.config.tls() {
            Ok(tls) => tls,
            Err(e) => {
                tracing::error!(consumer = %label, error = %e, "kafka consumer cannot set up TLS; not started");
                return;
            }
        };
        let Some(client) = self.client(tls.clone()).await else {
            return;
        };
        let mut group = GroupClient::new(
            self.config.brokers.clone(),
            self.config.group_id.clone(),
            format!("klaxon-{}", std::process::id()),
            ConsumerConfig::std(self.config.timeout),
            self.config.sasl(),
            tls.clone(),
        );
        let mut failures = 0u32;
        loop {
            if *self.stopped.borrow() {
                break;
            }
            match self.generation(&client, &mut group).await {
                Ok(Next::Stop) => break,
                Ok(Next::Rejoin) => failures = 0,
                Err(e) => {
                    if e.coordinator_moved() {
                        group.forget_coordinator();
                    }
                    failures += 1;
                    // Logged once, then every tenth failure: a broker down for an hour does
                    // not write a line a second.
                    if failures == 1 || failures.is_multiple_of(10) {
                        tracing::warn!(consumer = %label, error = %e, failures, "kafka consumer cannot join its group; retrying");
                    }
                    if self
                        .pause(
                            Duration::from_secs(1)
                                .min(ConsumerConfig::std(self.config.heartbeat_interval)),
                        )
                        .await
                    {
                        break;
                    }
                }
            }
        }
        if let Err(e) = group.leave().await {
            tracing::debug!(consumer = %label, error = %e, "leaving the kafka group failed (the session timeout will end the membership)");
        }
        self.stats.owned(&[]);
        self.stats
            .members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        tracing::info!(consumer = %label, "kafka consumer stopped");
    }

    /// Builds the metadata client, retrying until a broker answers or the consumer stops.
    async fn client(&mut self, tls: Option<Arc<rustls::ClientConfig>>) -> Option<Arc<Client>> {
        let mut failures = 0u32;
        loop {
            // Bounded: rskafka retries a failing connect (or a refused login) for as long as its
            // deadline allows, and the failure must reach the log.
            let backoff = rskafka::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
                deadline: Some(ConsumerConfig::std(self.config.timeout)),
            };
            let mut builder = ClientBuilder::new(self.config.brokers.clone())
                .client_id("klaxon")
                .backoff_config(backoff);
            if let Some(sasl) = self.config.sasl() {
                builder = builder.sasl_config(sasl);
            }
            if let Some(tls) = &tls {
                builder = builder.tls_config(Arc::clone(tls));
            }
            match builder.build().await {
                Ok(client) => return Some(Arc::new(client)),
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(10) {
                        // rskafka's error says "Sasl" for a refused login, which no retry mends.
                        if e.to_string().contains("Sasl") {
                            tracing::warn!(consumer = %self.config.label(), error = %e, "the kafka brokers refuse the login: check sasl-username, sasl-password and sasl-mechanism; retrying");
                        } else {
                            tracing::warn!(consumer = %self.config.label(), error = %e, "cannot reach the kafka brokers; retrying");
                        }
                    }
                }
            }
            if self.pause(Duration::from_secs(1)).await {
                return None;
            }
        }
    }

    /// Waits `d`; true if the consumer was stopped meanwhile.
    async fn pause(&mut self, d: Duration) -> bool {
        let _ = tokio::time::timeout(d, raised(&mut self.stopped)).await;
        *self.stopped.borrow()
    }

    /// Reads the state topic and hands its states to the sink, before this generation's
    /// partitions are read; returns the checkpoint of each partition (the offset its
    /// published states are as of).
    async fn adopt_states(
        &mut self,
        client: &Arc<Client>,
    ) -> Result<HashMap<(String, i32), i64>, KafkaError> {
        let name = self.config.state_topic_name();
        let handover = self.handover.get_or_insert_with(|| Handover {
            topic: None,
            unsent: Vec::new(),
        });
        if handover.topic.is_none() {
            handover.topic = Some(StateTopic::open(client, &name).await?);
        }
        // What this member has not published yet goes first, so that the states it reads are
        // not older than its own.
        handover.unsent.extend(self.sink.state_changes());
        if let Some(topic) = &handover.topic {
            if !handover.unsent.is_empty() {
                topic.publish(&handover.unsent).await?;
                handover.unsent.clear();
            }
            let (values, checkpoints) = topic.read().await?;
            let read = values.len();
            let adopted = self.sink.adopt_states(values).await;
            tracing::info!(consumer = %self.config.label(), topic = %name, read, adopted, "alert states adopted from the state topic");
            return Ok(checkpoints);
        }
        Ok(HashMap::new())
    }

    /// One generation: join, assign (when leader), sync, fetch the partitions given until the
    /// group rebalances or the consumer stops; then commit what was processed.
    async fn generation(
        &mut self,
        client: &Arc<Client>,
        group: &mut GroupClient,
    ) -> Result<Next, KafkaError> {
        let config = Arc::clone(&self.config);
        let label = config.label();
        let subscription = Subscription {
            topics: config.topics.clone(),
            user_data: self.advertise.as_bytes().to_vec(),
        };
        let joined = group
            .join(
                &subscription,
                ConsumerConfig::std(config.session_timeout),
                ConsumerConfig::std(config.rebalance_timeout),
            )
            .await?;
        if self
            .rebalance_from
            .take()
            .is_some_and(|from| joined.generation <= from)
        {
            // A rebalance always makes a new generation. A broker that answers one with the old
            // generation (tansu 0.6 after it drops a member whose session expired: the dead
            // member stays its leader) would leave that member's partitions unread; joining
            // again as a new member makes it form the group anew.
            tracing::warn!(consumer = %label, generation = joined.generation, "the kafka group coordinator answered a rebalance with the old generation; leaving and joining again as a new member");
            group.leave().await?;
            return Ok(Next::Rejoin);
        }
        let assignments = if joined.leader {
            let mut wanted: Vec<&String> =
                joined.members.iter().flat_map(|(_, s)| &s.topics).collect();
            wanted.sort_unstable();
            wanted.dedup();
            let topics = client.list_topics().await.map_err(|e| KafkaError::Client {
                what: "listing topics".into(),
                source: Box::new(e),
            })?;
            let partitions_of: BTreeMap<String, Vec<i32>> = topics
                .into_iter()
                .filter(|t| wanted.contains(&&t.name))
                .map(|t| (t.name, t.partitions.into_iter().collect()))
                .collect();
            for topic in &config.topics {
                if !partitions_of.contains_key(topic) {
                    tracing::warn!(consumer = %label, topic = %topic, "kafka topic does not exist; nothing of it is read until it does and the group rebalances");
                }
            }
            let mut assignments = assign::range(&joined.members, &partitions_of);
            // Every member learns the group's members and who owns what (for the cluster
            // views of the topics API), through the leader's user data.
            let views: Vec<GroupMember> = assignments
                .iter()
                .map(|(id, a)| GroupMember {
                    url: joined
                        .members
                        .iter()
                        .find(|(m, _)| m == id)
                        .map(|(_, s)| String::from_utf8_lossy(&s.user_data).into_owned())
                        .unwrap_or_default(),
                    partitions: a.pairs(),
                })
                .collect();
            let shared = serde_json::to_vec(&views).unwrap_or_default();
            for (_, a) in &mut assignments {
                a.user_data.clone_from(&shared);
            }
            assignments
        } else {
            Vec::new()
        };
        let mine = group.sync(&assignments).await?;
        let pairs = mine.pairs();
        self.stats.rebalances.fetch_add(1, Ordering::Relaxed);
        self.stats.owned(&pairs);
        // A leader that is not Klaxon sends no member list: this member then knows itself.
        let members =
            serde_json::from_slice::<Vec<GroupMember>>(&mine.user_data).unwrap_or_else(|_| {
                vec![GroupMember {
                    url: self.advertise.clone(),
                    partitions: pairs.clone(),
                }]
            });
        *self
            .stats
            .members
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = members;
        let committed = group.committed(&pairs).await?;
        tracing::info!(
            consumer = %label,
            generation = joined.generation,
            leader = joined.leader,
            partitions = ?pairs,
            committed = ?committed.iter().map(|o| (o.partition, o.offset)).collect::<Vec<_>>(),
            "kafka group joined"
        );
        let checkpoints = if config.state_handover {
            self.adopt_states(client).await?
        } else {
            HashMap::new()
        };
        let progress: Arc<Progress> = Arc::default();
        let (halt, halted) = watch::channel(false);
        let mut fetchers = Vec::with_capacity(pairs.len());
        for (topic, partition) in &pairs {
            let committed = committed
                .iter()
                .find(|o| o.topic == *topic && o.partition == *partition)
                .map_or(-1, |o| o.offset);
            // A checkpoint past the committed offset: the last owner published the states of
            // those messages and died before it committed them. Its states are adopted, so
            // its messages are not processed again.
            let checkpoint = checkpoints
                .get(&(topic.clone(), *partition))
                .copied()
                .unwrap_or(-1);
            if checkpoint > committed {
                tracing::info!(consumer = %label, topic = %topic, partition, committed, checkpoint, "starting at the state topic's checkpoint, past the committed offset");
            }
            let start = committed.max(checkpoint);
            let fetcher = Fetcher {
                client: Arc::clone(client),
                config: Arc::clone(&config),
                sink: Arc::clone(&self.sink),
                stats: Arc::clone(&self.stats),
                progress: Arc::clone(&progress),
                topic: topic.clone(),
                partition: *partition,
                halted: halted.clone(),
            };
            fetchers.push(tokio::spawn(fetcher.run(start)));
        }

        let mut stopped = self.stopped.clone();
        // Half a heartbeat: a commit waiting for the batches in hand never holds up the next
        // heartbeat for long.
        let commit_wait = ConsumerConfig::std(config.heartbeat_interval) / 2;
        let mut heartbeat = tokio::time::interval(ConsumerConfig::std(config.heartbeat_interval));
        let mut commit = tokio::time::interval(ConsumerConfig::std(config.commit_interval));
        heartbeat.tick().await;
        commit.tick().await;
        let mut committed_at: HashMap<(String, i32), i64> = HashMap::new();
        let next = loop {
            tokio::select! {
                _ = raised(&mut stopped) => break Next::Stop,
                _ = heartbeat.tick() => {
                    if let Err(e) = group.heartbeat().await {
                        if e.needs_rejoin() {
                            tracing::info!(consumer = %label, reason = %e, "kafka group rebalancing");
                            self.rebalance_from = Some(joined.generation);
                        } else {
                            tracing::warn!(consumer = %label, error = %e, "kafka heartbeat failed; rejoining");
                            if e.coordinator_moved() {
                                group.forget_coordinator();
                            }
                        }
                        break Next::Rejoin;
                    }
                }
                _ = commit.tick() => {
                    if let Err(e) = commit_progress(group, &progress, &mut committed_at, self.handover.as_mut(), &*self.sink, commit_wait).await {
                        tracing::warn!(consumer = %label, error = %e, "committing kafka offsets failed; rejoining");
                        break Next::Rejoin;
                    }
                }
            }
        };
        // The partitions are about to move (or the consumer stops): the messages in hand finish,
        // then their offsets are committed under this generation, which the group still takes
        // while it rebalances.
        let _ = halt.send(true);
        for fetcher in fetchers {
            let _ = fetcher.await;
        }
        if let Err(e) = commit_progress(
            group,
            &progress,
            &mut committed_at,
            self.handover.as_mut(),
            &*self.sink,
            commit_wait,
        )
        .await
        {
            tracing::warn!(consumer = %label, error = %e, "committing kafka offsets at the end of a generation failed; the next owner reads those messages again");
        }
        Ok(next)
    }
}

/// Commits the offsets that moved since the last commit, after publishing the state changes
/// their messages caused and, per partition, the offset those states are as of (a
/// checkpoint: a member that takes the partition over after a crash between the two starts
/// there, where the states it adopts are, rather than at the older committed offset).
/// Offsets and state changes are taken together between batches; if the batches in hand do
/// not finish within `wait`, the commit waits for the next tick (heartbeats must go on).
async fn commit_progress(
    group: &mut GroupClient,
    progress: &Progress,
    committed_at: &mut HashMap<(String, i32), i64>,
    handover: Option<&mut Handover>,
    sink: &dyn Sink,
    wait: Duration,
) -> Result<(), KafkaError> {
    let Ok(between_batches) = tokio::time::timeout(wait, progress.batches.write()).await else {
        return Ok(());
    };
    let changed: Vec<Offset> = progress
        .offsets
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(key, offset)| committed_at.get(*key) != Some(offset))
        .map(|((topic, partition), offset)| Offset {
            topic: topic.clone(),
            partition: *partition,
            offset: *offset,
        })
        .collect();
    let mut handover = handover;
    if let Some(h) = handover.as_deref_mut() {
        h.unsent.extend(sink.state_changes());
    }
    drop(between_batches);
    if let Some(handover) = handover {
        handover
            .unsent
            .extend(changed.iter().map(crate::state::checkpoint));
        if !handover.unsent.is_empty() {
            let Some(topic) = &handover.topic else {
                return Err(KafkaError::Config(
                    "state topic not open; the offsets wait for its states".into(),
                ));
            };
            topic.publish(&handover.unsent).await?;
            handover.unsent.clear();
        }
    }
    group.commit(&changed).await?;
    for o in changed {
        committed_at.insert((o.topic, o.partition), o.offset);
    }
    Ok(())
}

/// Where each partition of a generation stands, and the gate between processing and
/// committing: a batch of messages and its progress are one step (fetchers hold the gate
/// shared while they process one), and a commit takes the offsets and the state changes at a
/// moment between batches (holding it alone), so that the states it publishes are exactly the
/// effects of the messages before the offsets it commits.
#[derive(Default)]
struct Progress {
    offsets: Mutex<HashMap<(String, i32), i64>>,
    batches: tokio::sync::RwLock<()>,
}

/// Reads one partition in order for one generation.
struct Fetcher {
    client: Arc<Client>,
    config: Arc<ConsumerConfig>,
    sink: Arc<dyn Sink>,
    stats: Arc<ConsumerStats>,
    progress: Arc<Progress>,
    topic: String,
    partition: i32,
    halted: watch::Receiver<bool>,
}

impl Fetcher {
    async fn run(mut self, committed: i64) {
        let Some(partition) = self.partition_client().await else {
            return;
        };
        let mut offset = committed;
        let mut failures = 0u32;
        let max_wait =
            i32::try_from(self.config.fetch_max_wait.to_std().as_millis()).unwrap_or(i32::MAX);
        loop {
            if *self.halted.borrow() {
                return;
            }
            if offset < 0 {
                let at = match self.config.start_from {
                    StartFrom::Earliest => OffsetAt::Earliest,
                    StartFrom::Latest => OffsetAt::Latest,
                };
                match partition.get_offset(at).await {
                    Ok(start) => offset = start,
                    Err(e) => {
                        self.failed(&mut failures, "finding where to start", &e.to_string());
                        if self.pause(Duration::from_secs(1)).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            let fetched = tokio::select! {
                _ = raised(&mut self.halted) => return,
                r = partition.fetch_records(offset, 1..self.config.fetch_max_bytes, max_wait) => r,
            };
            let (records, high_watermark) = match fetched {
                Ok(fetched) => fetched,
                Err(rskafka::client::error::Error::ServerError {
                    protocol_error: rskafka::client::error::ProtocolError::OffsetOutOfRange,
                    ..
                }) => {
                    tracing::warn!(topic = %self.topic, partition = self.partition, offset, "kafka offset out of range (the broker deleted those messages); starting from the earliest kept");
                    // -1: start-from decides, if the earliest cannot be had either.
                    offset = partition.get_offset(OffsetAt::Earliest).await.unwrap_or(-1);
                    continue;
                }
                Err(e) => {
                    self.failed(&mut failures, "fetching", &e.to_string());
                    if self.pause(Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            failures = 0;
            self.stats.set(&self.topic, self.partition, |l| {
                l.high_watermark = high_watermark;
                l.next_offset = offset;
            });
            let records: Vec<_> = records.into_iter().filter(|r| r.offset >= offset).collect();
            if records.is_empty() {
                continue;
            }
            let next = records.last().map_or(offset, |r| r.offset + 1);
            let bodies: Vec<(i64, Bytes)> = records
                .into_iter()
                .map(|r| (r.offset, Bytes::from(r.record.value.unwrap_or_default())))
                .collect();
            let progress = Arc::clone(&self.progress);
            let _batch = progress.batches.read().await;
            if !self.process(bodies).await {
                return;
            }
            offset = next;
            progress
                .offsets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((self.topic.clone(), self.partition), offset);
            self.stats
                .set(&self.topic, self.partition, |l| l.next_offset = offset);
        }
    }

    /// Writes a fetch's messages: all in one write (their bodies joined), or, if the sink
    /// rejects that, one by one so that only the bad ones are skipped. False if halted while
    /// the sink was unavailable (nothing of this fetch is then marked processed).
    async fn process(&mut self, bodies: Vec<(i64, Bytes)>) -> bool {
        let joined = match bodies.as_slice() {
            [(_, only)] => only.clone(),
            _ => {
                let mut joined = Vec::with_capacity(bodies.iter().map(|(_, b)| b.len() + 1).sum());
                for (_, body) in &bodies {
                    joined.extend_from_slice(body);
                    if !body.ends_with(b"\n") {
                        joined.push(b'\n');
                    }
                }
                Bytes::from(joined)
            }
        };
        match self.write(joined).await {
            Some(Ok(points)) => {
                self.stats
                    .messages
                    .fetch_add(bodies.len() as u64, Ordering::Relaxed);
                self.stats
                    .points
                    .fetch_add(points as u64, Ordering::Relaxed);
                return true;
            }
            Some(Err(_)) if bodies.len() > 1 => {}
            Some(Err(reason)) => {
                self.rejected(bodies[0].0, &reason);
                return true;
            }
            None => return false,
        }
        for (offset, body) in bodies {
            match self.write(body).await {
                Some(Ok(points)) => {
                    self.stats.messages.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .points
                        .fetch_add(points as u64, Ordering::Relaxed);
                }
                Some(Err(reason)) => self.rejected(offset, &reason),
                None => return false,
            }
        }
        true
    }

    /// One write, retried while the sink is unavailable: `None` if halted meanwhile.
    async fn write(&mut self, body: Bytes) -> Option<Result<usize, String>> {
        let mut waited = 0u32;
        loop {
            let write = Write {
                database: self.config.database.clone(),
                retention_policy: self.config.retention_policy.clone(),
                precision: self.config.precision.clone(),
                body: body.clone(),
            };
            match self.sink.write(write).await {
                Ok(points) => return Some(Ok(points)),
                Err(SinkError::Rejected(reason)) => return Some(Err(reason)),
                Err(SinkError::Unavailable(reason)) => {
                    waited += 1;
                    if waited == 1 || waited.is_multiple_of(30) {
                        tracing::warn!(topic = %self.topic, partition = self.partition, reason = %reason, "klaxond cannot take the partition's messages now; retrying");
                    }
                    if self.pause(Duration::from_secs(1)).await {
                        return None;
                    }
                }
            }
        }
    }

    fn rejected(&self, offset: i64, reason: &str) {
        let n = self.stats.malformed.fetch_add(1, Ordering::Relaxed) + 1;
        // The first ten, then every hundredth: a topic of garbage cannot flood the log.
        if n <= 10 || n.is_multiple_of(100) {
            tracing::warn!(topic = %self.topic, partition = self.partition, offset, malformed = n, error = %reason, "kafka message skipped: not valid line protocol");
        }
    }

    fn failed(&self, failures: &mut u32, what: &str, error: &str) {
        *failures += 1;
        if *failures == 1 || failures.is_multiple_of(30) {
            tracing::warn!(topic = %self.topic, partition = self.partition, error = %error, failures = *failures, "kafka partition: {what} failed; retrying");
        }
    }

    async fn pause(&mut self, d: Duration) -> bool {
        let _ = tokio::time::timeout(d, raised(&mut self.halted)).await;
        *self.halted.borrow()
    }

    async fn partition_client(&mut self) -> Option<PartitionClient> {
        let mut failures = 0u32;
        let started = Instant::now();
        loop {
            match self
                .client
                .partition_client(
                    self.topic.clone(),
                    self.partition,
                    UnknownTopicHandling::Retry,
                )
                .await
            {
                Ok(client) => return Some(client),
                Err(e) => self.failed(
                    &mut failures,
                    "connecting",
                    &format!("{e} (for {:?})", started.elapsed()),
                ),
            }
            if self.pause(Duration::from_secs(1)).await {
                return None;
            }
        }
    }
}

/// Resolves once the flag is raised (or its sender is gone); holds no borrow of it.
async fn raised(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|raised| *raised).await;
}
