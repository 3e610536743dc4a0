//! `list topics [pattern...]`, `show-topic TOPIC` and `delete topics PATTERN...`.

use std::io::Write;

use serde_json::Value;

use crate::client::{Client, ClientError, encode_query};

/// One topic of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub id: String,
    pub level: String,
    pub collected: u64,
}

/// The topics matching `pattern` (empty for all), sorted by ID.
pub async fn topics(client: &Client, pattern: &str) -> Result<Vec<Topic>, ClientError> {
    let list = client
        .get(&format!(
            "/alerts/topics?min-level=OK&pattern={}",
            encode_query(pattern)
        ))
        .await?;
    Ok(list
        .get("topics")
        .and_then(Value::as_array)
        .map(|topics| {
            topics
                .iter()
                .map(|t| Topic {
                    id: str_of(t, "id"),
                    level: str_of(t, "level"),
                    collected: t.get("collected").and_then(Value::as_u64).unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default())
}

pub(crate) fn str_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The topics matching any of `patterns` (all when none), sorted and without repeats.
pub async fn matching(client: &Client, patterns: &[String]) -> Result<Vec<Topic>, ClientError> {
    let patterns = if patterns.is_empty() {
        vec![String::new()]
    } else {
        patterns.to_vec()
    };
    let mut all: Vec<Topic> = Vec::new();
    for pattern in &patterns {
        for topic in topics(client, pattern).await? {
            if !all.iter().any(|t| t.id == topic.id) {
                all.push(topic);
            }
        }
    }
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(all)
}

/// `list topics [pattern...]`: Kapacitor's `%-{maxID+1}v%-{maxLevel+1}v%10v` table.
pub async fn list(
    client: &Client,
    patterns: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let topics = matching(client, patterns).await?;
    let id_width = topics.iter().map(|t| t.id.len()).fold(2, usize::max) + 1;
    let level_width = topics.iter().map(|t| t.level.len()).fold(8, usize::max) + 1;
    let _ = writeln!(
        out,
        "{:<id_width$}{:<level_width$}{:>10}",
        "ID", "Level", "Collected"
    );
    for t in topics {
        let _ = writeln!(
            out,
            "{:<id_width$}{:<level_width$}{:>10}",
            t.id, t.level, t.collected
        );
    }
    Ok(())
}

/// `delete topics PATTERN...`: deletes every topic matching a pattern; an argument that
/// matches no topic is an error naming it (Kapacitor's CLI says nothing).
pub async fn delete(client: &Client, patterns: &[String]) -> Result<(), ClientError> {
    let mut found = Vec::new();
    for pattern in patterns {
        let topics = topics(client, pattern).await?;
        if topics.is_empty() {
            return Err(super::nothing_matched(
                "topic",
                pattern,
                "klaxon list topics",
            ));
        }
        found.extend(topics);
    }
    for topic in found {
        client
            .delete(&format!("/alerts/topics/{}", encode_query(&topic.id)))
            .await?;
    }
    Ok(())
}

/// `show-topic TOPIC`: the topic, its handlers and its events (sorted by time).
pub async fn show(client: &Client, id: &str, out: &mut impl Write) -> Result<(), ClientError> {
    let topic = client.get(&format!("/alerts/topics/{id}")).await?;
    let handlers = client.get(&format!("/alerts/topics/{id}/handlers")).await?;
    let events = client.get(&format!("/alerts/topics/{id}/events")).await?;
    let handler_ids: Vec<String> = handlers
        .get("handlers")
        .and_then(Value::as_array)
        .map(|hs| hs.iter().map(|h| str_of(h, "id")).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "ID: {}", str_of(&topic, "id"));
    let _ = writeln!(out, "Level: {}", str_of(&topic, "level"));
    let _ = writeln!(
        out,
        "Collected: {}",
        topic.get("collected").and_then(Value::as_u64).unwrap_or(0)
    );
    let _ = writeln!(out, "Handlers: [{}]", handler_ids.join(", "));
    let _ = writeln!(out, "Events:");
    struct Row {
        id: String,
        level: String,
        message: String,
        time: String,
    }
    let mut rows: Vec<Row> = events
        .get("events")
        .and_then(Value::as_array)
        .map(|es| {
            es.iter()
                .map(|e| {
                    let state = e.get("state").cloned().unwrap_or(Value::Null);
                    Row {
                        id: str_of(e, "id"),
                        level: str_of(&state, "level"),
                        message: str_of(&state, "message"),
                        time: str_of(&state, "time"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let parsed = |t: &str| t.parse::<jiff::Timestamp>().ok();
    rows.sort_by(|a, b| parsed(&a.time).cmp(&parsed(&b.time)).then(a.id.cmp(&b.id)));
    let event_width = rows.iter().map(|r| r.id.len()).fold(5, usize::max) + 1;
    let message_width = rows.iter().map(|r| r.message.len()).fold(7, usize::max) + 1;
    let _ = writeln!(
        out,
        "{:<event_width$}{:<9}{:<message_width$}{:<23}",
        "Event", "Level", "Message", "Date"
    );
    for row in rows {
        let date = parsed(&row.time)
            .map(rfc822_local)
            .unwrap_or_else(|| row.time.clone());
        let _ = writeln!(
            out,
            "{:<event_width$}{:<9}{:<message_width$}{:<23}",
            row.id, row.level, row.message, date
        );
    }
    Ok(())
}

/// Go's `time.RFC822` (`02 Jan 06 15:04 MST`) in the local time zone.
fn rfc822_local(t: jiff::Timestamp) -> String {
    let zoned = t.to_zoned(jiff::tz::TimeZone::system());
    zoned.strftime("%d %b %y %H:%M %Z").to_string()
}
