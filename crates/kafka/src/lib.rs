//! Klaxon's Kafka source: `[[kafka-consumer]]` sections, each a member of a Kafka consumer
//! group reading line protocol from topics into klaxond's ingest path, as `/write` would
//! (docs/scale-out.md).
//!
//! Several klaxonds with the same `group-id` share the topics' partitions, Kafka's group
//! coordinator deciding who owns which; a member that stops leaves the group and the others
//! take its partitions at the next rebalance. Offsets are committed only once the [`Sink`]
//! says a message's effects are durable, so a crash makes the next owner read it again
//! (at-least-once).
//!
//! rskafka (InfluxData's pure-Rust client) fetches; the group protocol, which rskafka does not
//! have, is this crate's own (`group.rs`, seven requests at versions Kafka 4 still takes).

mod assign;
mod config;
mod consumer;
mod error;
mod group;
mod state;
mod wire;

pub use config::{ConsumerConfig, StartFrom};
pub use consumer::{Consumer, ConsumerStats, GroupMember, PartitionLag, Sink, SinkError, Write};
pub use error::KafkaError;
