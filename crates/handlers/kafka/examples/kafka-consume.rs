//! Prints every message of a Kafka topic, one JSON object a line (`partition`, `offset`, `key`,
//! `value`, `timestamp` in milliseconds), partition by partition: to see what the kafka
//! handler wrote, in a setup or in Klaxon's end-to-end tests.
//!
//! ```text
//! cargo run -p klaxon-handler-kafka --example kafka-consume -- 127.0.0.1:9092 cpu-alerts
//! ```

use rskafka::client::ClientBuilder;
use rskafka::client::partition::UnknownTopicHandling;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(broker), Some(topic)) = (args.next(), args.next()) else {
        eprintln!("usage: kafka-consume <broker host:port> <topic>");
        std::process::exit(2);
    };
    let client = ClientBuilder::new(vec![broker]).build().await?;
    let mut partitions = client
        .list_topics()
        .await?
        .into_iter()
        .find(|t| t.name == topic)
        .map(|t| t.partitions.into_iter().collect::<Vec<_>>())
        .ok_or_else(|| format!("no topic {topic:?}"))?;
    partitions.sort_unstable();
    for partition in partitions {
        let reader = client
            .partition_client(topic.as_str(), partition, UnknownTopicHandling::Error)
            .await?;
        let mut offset = 0;
        loop {
            let (records, high_watermark) =
                reader.fetch_records(offset, 1..10_000_000, 100).await?;
            for record in &records {
                let text = |bytes: &Option<Vec<u8>>| {
                    bytes
                        .as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                };
                let line = serde_json::json!({
                    "partition": partition,
                    "offset": record.offset,
                    "key": text(&record.record.key),
                    "value": text(&record.record.value),
                    "timestamp": record.record.timestamp.timestamp_millis(),
                });
                println!("{line}");
                offset = record.offset + 1;
            }
            if records.is_empty() || offset >= high_watermark {
                break;
            }
        }
    }
    Ok(())
}
