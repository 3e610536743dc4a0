//! The state topic: the alert states of a consumer group's members, so that a member taking
//! over partitions continues their alerts where their last owner left them (docs/scale-out.md).
//!
//! Every member publishes each state change it records as a record keyed by topic and event ID,
//! before it commits the offsets of the messages that caused it; at each new generation, before
//! reading its partitions, a member reads the whole state topic and adopts the latest state of
//! each key that is newer than its own. Kafka's log compaction (`cleanup.policy=compact`) keeps
//! the topic at one record per key.
//!
//! A publication (the states and checkpoints of one commit) takes several produce requests when
//! it is large, so a member killed in the middle of one leaves part of it on the broker: states
//! newer than the checkpoint beside them. A member adopting those would replay the messages
//! after the checkpoint over states that already include them, and raise their alerts again
//! from the wrong previous level. So every record of a publication carries its publication
//! (the `klaxon-publish` header: the publishing process and its publication number), the
//! publication ends with a marker record written once all its records are on the broker, and a
//! reader takes, for each key, the latest record of a finished publication.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rskafka::client::Client;
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::record::Record;

use crate::KafkaError;
use crate::group::Offset;

/// The most bytes one fetch of the state topic returns.
const FETCH_BYTES: i32 = 4 << 20;
/// Records per produce request.
const PRODUCE_BATCH: usize = 500;

/// One group's state topic, with a client per partition.
pub(crate) struct StateTopic {
    name: String,
    partitions: Vec<PartitionClient>,
    /// This process's name in its publications' headers and markers: unique per start.
    publisher: String,
    /// Publications begun so far.
    publications: AtomicU64,
}

impl StateTopic {
    /// The topic `name`, created (one partition) if the cluster has none of that name.
    pub(crate) async fn open(client: &Client, name: &str) -> Result<StateTopic, KafkaError> {
        let err = |what: &str, e| KafkaError::Client {
            what: format!("{what} state topic {name}"),
            source: Box::new(e),
        };
        let topics = client
            .list_topics()
            .await
            .map_err(|e| err("listing for the", e))?;
        let mut partitions: Vec<i32> = topics
            .into_iter()
            .find(|t| t.name == name)
            .map(|t| t.partitions.into_iter().collect())
            .unwrap_or_default();
        if partitions.is_empty() {
            tracing::info!(
                topic = name,
                "creating the kafka state topic (one partition; set cleanup.policy=compact on it)"
            );
            let controller = client
                .controller_client()
                .map_err(|e| err("creating the", e))?;
            if let Err(e) = controller.create_topic(name, 1, 1, 10_000).await {
                // Another member may have created it meanwhile.
                tracing::debug!(topic = name, error = %e, "creating the state topic failed; reading it anyway");
            }
            partitions = vec![0];
        }
        partitions.sort_unstable();
        let mut clients = Vec::with_capacity(partitions.len());
        for p in partitions {
            clients.push(
                client
                    .partition_client(name, p, UnknownTopicHandling::Retry)
                    .await
                    .map_err(|e| err("connecting to the", e))?,
            );
        }
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Ok(StateTopic {
            name: name.to_owned(),
            partitions: clients,
            publisher: format!("{:x}.{started:x}", std::process::id()),
            publications: AtomicU64::new(0),
        })
    }

    /// The latest value of every state key, read from the start of each partition to its end
    /// as of now (a key whose latest record has no value, a tombstone, is left out), and the
    /// latest checkpoint of each (topic, partition); records of a publication that never
    /// finished are passed over.
    pub(crate) async fn read(&self) -> Result<(Vec<Vec<u8>>, Checkpoints), KafkaError> {
        let started = Instant::now();
        let err = |e| KafkaError::Client {
            what: format!("reading state topic {}", self.name),
            source: Box::new(e),
        };
        let mut log = Log::default();
        let mut records = 0usize;
        // A marker counts only below the ends taken before any partition is read: a marker
        // appended since then may finish a publication whose records in a partition read
        // earlier were not there yet. Each partition is read to an end taken after all those.
        let mut trusted = Vec::with_capacity(self.partitions.len());
        for partition in &self.partitions {
            trusted.push(partition.get_offset(OffsetAt::Latest).await.map_err(err)?);
        }
        for (partition, trusted) in self.partitions.iter().zip(trusted) {
            let end = partition.get_offset(OffsetAt::Latest).await.map_err(err)?;
            let mut offset = partition
                .get_offset(OffsetAt::Earliest)
                .await
                .map_err(err)?;
            while offset < end {
                let (batch, _) = partition
                    .fetch_records(offset, 1..FETCH_BYTES, 100)
                    .await
                    .map_err(err)?;
                let Some(last) = batch.last() else { break };
                offset = last.offset + 1;
                for r in batch {
                    records += 1;
                    log.push(r.record, r.offset < trusted);
                }
            }
        }
        let (latest, unfinished) = log.latest_finished();
        if unfinished > 0 {
            tracing::info!(topic = %self.name, records = unfinished, "passed over the records of a state publication that never finished (its member died while publishing); the messages after the last finished one are processed again");
        }
        let mut checkpoints = Checkpoints::new();
        let mut values = Vec::with_capacity(latest.len());
        for (key, value) in latest {
            match (parse_checkpoint(&key, value.as_deref()), value) {
                (Some((partition, offset)), _) => {
                    checkpoints.insert(partition, offset);
                }
                (None, Some(value)) => values.push(value),
                (None, None) => {}
            }
        }
        tracing::info!(topic = %self.name, records, states = values.len(), checkpoints = checkpoints.len(), elapsed_ms = started.elapsed().as_millis() as u64, "kafka state topic read");
        Ok((values, checkpoints))
    }

    /// Publishes `records` (key, value), each to the partition its key hashes to, and returns
    /// once the broker has them all.
    pub(crate) async fn publish(&self, records: &[(Vec<u8>, Vec<u8>)]) -> Result<(), KafkaError> {
        if records.is_empty() {
            return Ok(());
        }
        let n = self.partitions.len().max(1);
        let mut by_partition: Vec<Vec<Record>> = vec![Vec::new(); n];
        let now = chrono::Utc::now();
        // Never reused, also after a publication that failed part way.
        let number = self.publications.fetch_add(1, Ordering::Relaxed) + 1;
        let headers = BTreeMap::from([(
            PUBLICATION_HEADER.to_owned(),
            format!("{}:{number}", self.publisher).into_bytes(),
        )]);
        for (key, value) in records {
            by_partition[partition_of(key, n)].push(Record {
                key: Some(key.clone()),
                value: Some(value.clone()),
                headers: headers.clone(),
                timestamp: now,
            });
        }
        // The marker goes last, once every other record is on the broker.
        let (key, value) = finished_marker(&self.publisher, number);
        let marker_partition = partition_of(&key, n);
        let marker = Record {
            key: Some(key),
            value: Some(value),
            headers: BTreeMap::new(),
            timestamp: now,
        };
        self.produce(by_partition).await?;
        let mut last = vec![Vec::new(); n];
        last[marker_partition].push(marker);
        self.produce(last).await
    }

    /// Produces each partition's records, in chunks, one partition after another.
    async fn produce(&self, by_partition: Vec<Vec<Record>>) -> Result<(), KafkaError> {
        for (partition, records) in self.partitions.iter().zip(by_partition) {
            let mut records = records.into_iter().peekable();
            while records.peek().is_some() {
                let chunk: Vec<Record> = records.by_ref().take(PRODUCE_BATCH).collect();
                partition
                    .produce(chunk, Compression::NoCompression)
                    .await
                    .map_err(|e| KafkaError::Client {
                        what: format!("publishing to state topic {}", self.name),
                        source: Box::new(e),
                    })?;
            }
        }
        Ok(())
    }
}

/// The offset, per (topic, partition), that the states published before it are as of.
pub(crate) type Checkpoints = HashMap<(String, i32), i64>;

/// The header naming a record's publication: `<publisher>:<number>`.
const PUBLICATION_HEADER: &str = "klaxon-publish";

/// A publication's marker key starts with a byte no alert topic name has, as a checkpoint's.
const FINISHED: &[u8] = b"\x01published\0";

/// The marker record of `publisher`'s publication `number`: (key, value). One key per
/// publisher, so compaction keeps its latest.
fn finished_marker(publisher: &str, number: u64) -> (Vec<u8>, Vec<u8>) {
    let mut key = FINISHED.to_vec();
    key.extend_from_slice(publisher.as_bytes());
    (key, number.to_string().into_bytes())
}

/// A publication: its publisher (an index into [`Log`]'s publishers) and number.
type Publication = (usize, u64);

/// One record of a key: its publication (none for records of a version before publications
/// were marked, taken as finished) and its value (none: a tombstone).
type Logged = (Option<Publication>, Option<Vec<u8>>);

/// A state topic's records in the order read, sorted out by publication once all are in
/// (a publication's marker comes after its records).
#[derive(Default)]
struct Log {
    /// The records of each key, in order, from its last one known finished on.
    by_key: HashMap<Vec<u8>, Vec<Logged>>,
    /// The publishers seen, by name.
    publishers: HashMap<String, usize>,
    /// The last finished publication of each publisher (0: none yet).
    finished: Vec<u64>,
}

/// Whether `publication` has finished, by the markers in `finished`.
fn is_finished(finished: &[u64], publication: &Option<Publication>) -> bool {
    match publication {
        None => true,
        Some((publisher, number)) => finished[*publisher] >= *number,
    }
}

impl Log {
    /// The index of `publisher`.
    fn publisher(&mut self, publisher: &str) -> usize {
        if let Some(i) = self.publishers.get(publisher) {
            return *i;
        }
        self.finished.push(0);
        self.publishers
            .insert(publisher.to_owned(), self.finished.len() - 1);
        self.finished.len() - 1
    }

    /// Takes the next record; a marker counts only if `trusted` (read below the ends taken
    /// before the read began).
    fn push(&mut self, record: Record, trusted: bool) {
        let Some(key) = record.key else { return };
        if let Some(publisher) = key.strip_prefix(FINISHED) {
            let number = record
                .value
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let (true, Ok(publisher), Some(number)) =
                (trusted, std::str::from_utf8(publisher), number)
            {
                let i = self.publisher(publisher);
                self.finished[i] = self.finished[i].max(number);
            }
            return;
        }
        let publication = record
            .headers
            .get(PUBLICATION_HEADER)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| h.rsplit_once(':'))
            .and_then(|(publisher, number)| Some((publisher, number.parse::<u64>().ok()?)))
            .map(|(publisher, number)| (self.publisher(publisher), number));
        let history = self.by_key.entry(key).or_default();
        history.push((publication, record.value));
        // Nothing before the last record known finished can be needed again.
        if let Some(last) = history
            .iter()
            .rposition(|(p, _)| is_finished(&self.finished, p))
        {
            history.drain(..last);
        }
    }

    /// The latest record of each key whose publication finished, and how many records were
    /// passed over because theirs did not.
    fn latest_finished(self) -> (HashMap<Vec<u8>, Option<Vec<u8>>>, usize) {
        let Log {
            by_key, finished, ..
        } = self;
        let mut unfinished = 0;
        let mut latest = HashMap::with_capacity(by_key.len());
        for (key, mut history) in by_key {
            let kept = history.iter().rposition(|(p, _)| is_finished(&finished, p));
            unfinished += history.len() - kept.map_or(0, |i| i + 1);
            if let Some(i) = kept {
                latest.insert(key, history.swap_remove(i).1);
            }
        }
        (latest, unfinished)
    }
}

/// A checkpoint key starts with a byte no alert topic name has (state keys start with one).
const CHECKPOINT: &[u8] = b"\x01checkpoint\0";

/// The checkpoint record of `offset`: (key, value).
pub(crate) fn checkpoint(offset: &Offset) -> (Vec<u8>, Vec<u8>) {
    let mut key = CHECKPOINT.to_vec();
    key.extend_from_slice(offset.topic.as_bytes());
    key.push(0);
    key.extend_from_slice(offset.partition.to_string().as_bytes());
    (key, offset.offset.to_string().into_bytes())
}

/// ((topic, partition), offset) of a checkpoint record; `None` for any other record.
fn parse_checkpoint(key: &[u8], value: Option<&[u8]>) -> Option<((String, i32), i64)> {
    let rest = key.strip_prefix(CHECKPOINT)?;
    let split = rest.iter().rposition(|b| *b == 0)?;
    let topic = std::str::from_utf8(&rest[..split]).ok()?;
    let partition = std::str::from_utf8(&rest[split + 1..]).ok()?.parse().ok()?;
    let offset = std::str::from_utf8(value?).ok()?.parse().ok()?;
    Some(((topic.to_owned(), partition), offset))
}

/// FNV-1a of the key, modulo the partitions: stable across members and versions.
fn partition_of(key: &[u8], partitions: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % partitions as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_and_no_state_key_looks_like_one() {
        let offset = Offset {
            topic: "tele\0graf".into(),
            partition: 7,
            offset: 1234,
        };
        let (key, value) = checkpoint(&offset);
        assert_eq!(
            parse_checkpoint(&key, Some(&value)),
            Some((("tele\0graf".to_owned(), 7), 1234))
        );
        assert_eq!(parse_checkpoint(b"main:t:alert2\0cpu:a", Some(b"{}")), None);
        assert_eq!(parse_checkpoint(&key, Some(b"soon")), None);
    }

    /// A record of `key` with `value` (none: a tombstone) in `publication` (none: unmarked, as
    /// before publications were marked).
    fn record(key: &[u8], value: Option<&[u8]>, publication: Option<(&str, u64)>) -> Record {
        Record {
            key: Some(key.to_vec()),
            value: value.map(<[u8]>::to_vec),
            headers: publication
                .map(|(publisher, number)| {
                    BTreeMap::from([(
                        PUBLICATION_HEADER.to_owned(),
                        format!("{publisher}:{number}").into_bytes(),
                    )])
                })
                .unwrap_or_default(),
            timestamp: chrono::Utc::now(),
        }
    }

    fn marker(publisher: &str, number: u64) -> Record {
        let (key, value) = finished_marker(publisher, number);
        record(&key, Some(&value), None)
    }

    fn read_back(records: Vec<Record>) -> (Vec<(String, Option<String>)>, usize) {
        let mut log = Log::default();
        for r in records {
            log.push(r, true);
        }
        let (latest, unfinished) = log.latest_finished();
        let mut latest: Vec<(String, Option<String>)> = latest
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    v.map(|v| String::from_utf8_lossy(&v).into_owned()),
                )
            })
            .collect();
        latest.sort();
        (latest, unfinished)
    }

    fn value(key: &str, value: &str) -> (String, Option<String>) {
        (key.to_owned(), Some(value.to_owned()))
    }

    /// A member killed while publishing leaves states newer than the checkpoint beside them:
    /// the reader keeps the last finished publication's states and checkpoint together.
    #[test]
    fn a_publication_that_never_finished_is_passed_over() {
        let first = Offset {
            topic: "telegraf".into(),
            partition: 1,
            offset: 10,
        };
        let later = Offset {
            offset: 20,
            ..first.clone()
        };
        let (cp_key, cp_first) = checkpoint(&first);
        let (_, cp_later) = checkpoint(&later);
        let records = vec![
            record(b"a", Some(b"CRITICAL@2"), Some(("m1", 1))),
            record(b"b", Some(b"CRITICAL@2"), Some(("m1", 1))),
            record(&cp_key, Some(&cp_first), Some(("m1", 1))),
            marker("m1", 1),
            // Publication 2 reached the broker in part, without its checkpoint or marker.
            record(b"a", Some(b"OK@3"), Some(("m1", 2))),
            record(b"c", Some(b"OK@3"), Some(("m1", 2))),
        ];
        let (latest, unfinished) = read_back(records.clone());
        let cp_key = String::from_utf8_lossy(&cp_key).into_owned();
        assert_eq!(
            latest,
            vec![
                value(&cp_key, "10"),
                value("a", "CRITICAL@2"),
                value("b", "CRITICAL@2"),
            ]
        );
        assert_eq!(unfinished, 2);

        // Once its marker is there, the same records are the latest.
        let mut finished = records;
        finished.push(record(
            &cp_key.clone().into_bytes(),
            Some(&cp_later),
            Some(("m1", 2)),
        ));
        finished.push(marker("m1", 2));
        let (latest, unfinished) = read_back(finished);
        assert_eq!(
            latest,
            vec![
                value(&cp_key, "20"),
                value("a", "OK@3"),
                value("b", "CRITICAL@2"),
                value("c", "OK@3"),
            ]
        );
        assert_eq!(unfinished, 0);
    }

    /// Publishers are told apart; records without a publication (an older klaxond's) count as
    /// finished; a finished tombstone removes a key.
    #[test]
    fn publishers_finish_on_their_own_and_unmarked_records_count_as_finished() {
        let records = vec![
            record(b"a", Some(b"old"), None),
            record(b"b", Some(b"from m1"), Some(("m1", 1))),
            record(b"a", Some(b"from m2"), Some(("m2", 7))),
            marker("m2", 7),
            record(b"d", Some(b"gone"), None),
            record(b"d", None, Some(("m2", 8))),
            marker("m2", 8),
            // m1 never finished publication 1, though a later number of m2 did.
            record(b"e", Some(b"unmarked"), None),
        ];
        let (latest, unfinished) = read_back(records);
        assert_eq!(
            latest,
            vec![
                value("a", "from m2"),
                ("d".to_owned(), None),
                value("e", "unmarked"),
            ]
        );
        assert_eq!(unfinished, 1);
    }

    /// A marker read past the ends taken before the read began may finish a publication whose
    /// records in a partition read earlier were missed: it does not count.
    #[test]
    fn a_marker_past_the_read_start_does_not_count() {
        let mut log = Log::default();
        log.push(record(b"a", Some(b"first"), Some(("m1", 1))), true);
        log.push(marker("m1", 1), true);
        log.push(record(b"a", Some(b"second"), Some(("m1", 2))), true);
        log.push(marker("m1", 2), false);
        let (latest, unfinished) = log.latest_finished();
        assert_eq!(latest.get(&b"a"[..]), Some(&Some(b"first".to_vec())));
        assert_eq!(unfinished, 1);
    }

    /// A key's history is cut at its last record known finished, so a topic that compaction
    /// has not reached yet costs no more than one value per key.
    #[test]
    fn only_records_after_the_last_finished_one_are_kept() {
        let mut log = Log::default();
        for n in 1..=100 {
            log.push(record(b"a", Some(b"x"), Some(("m1", n))), true);
            log.push(marker("m1", n), true);
        }
        log.push(record(b"a", Some(b"y"), Some(("m1", 101))), true);
        assert_eq!(log.by_key[&b"a"[..]].len(), 2);
    }

    #[test]
    fn a_key_always_goes_to_the_same_partition() {
        assert_eq!(partition_of(b"main:t:alert2\0cpu:a", 1), 0);
        let first = partition_of(b"main:t:alert2\0cpu:a", 6);
        assert!(first < 6);
        assert_eq!(partition_of(b"main:t:alert2\0cpu:a", 6), first);
    }
}
