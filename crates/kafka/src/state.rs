//! The state topic: the alert states of a consumer group's members, so that a member taking
//! over partitions continues their alerts where their last owner left them (docs/scale-out.md).
//!
//! Every member publishes each state change it records as a record keyed by topic and event ID,
//! before it commits the offsets of the messages that caused it; at each new generation, before
//! reading its partitions, a member reads the whole state topic and adopts the latest state of
//! each key that is newer than its own. Kafka's log compaction (`cleanup.policy=compact`) keeps
//! the topic at one record per key.

use std::collections::HashMap;
use std::time::Instant;

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
        Ok(StateTopic {
            name: name.to_owned(),
            partitions: clients,
        })
    }

    /// The latest value of every state key, read from the start of each partition to its end
    /// as of now (a key whose latest record has no value, a tombstone, is left out), and the
    /// latest checkpoint of each (topic, partition).
    pub(crate) async fn read(&self) -> Result<(Vec<Vec<u8>>, Checkpoints), KafkaError> {
        let started = Instant::now();
        let err = |e| KafkaError::Client {
            what: format!("reading state topic {}", self.name),
            source: Box::new(e),
        };
        let mut latest: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
        let mut records = 0usize;
        for partition in &self.partitions {
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
                    if let Some(key) = r.record.key {
                        latest.insert(key, r.record.value);
                    }
                }
            }
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
        let n = self.partitions.len().max(1);
        let mut by_partition: Vec<Vec<Record>> = vec![Vec::new(); n];
        let now = chrono::Utc::now();
        for (key, value) in records {
            by_partition[partition_of(key, n)].push(Record {
                key: Some(key.clone()),
                value: Some(value.clone()),
                headers: Default::default(),
                timestamp: now,
            });
        }
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

    #[test]
    fn a_key_always_goes_to_the_same_partition() {
        assert_eq!(partition_of(b"main:t:alert2\0cpu:a", 1), 0);
        let first = partition_of(b"main:t:alert2\0cpu:a", 6);
        assert!(first < 6);
        assert_eq!(partition_of(b"main:t:alert2\0cpu:a", 6), first);
    }
}
