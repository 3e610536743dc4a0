//! `define-topic-handler FILE`, `list topic-handlers [topic-pattern] [handler-pattern...]`,
//! `show-topic-handler TOPIC ID` and `delete topic-handlers TOPIC PATTERN...`.

use std::io::Write;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Map, Value};

use super::topics::{matching, str_of};
use crate::client::{Client, ClientError, encode_query};

/// The handlers of `topic` whose ID matches `pattern` (empty for all).
async fn handlers(client: &Client, topic: &str, pattern: &str) -> Result<Vec<Value>, ClientError> {
    let list = client
        .get(&format!(
            "/alerts/topics/{topic}/handlers?pattern={}",
            encode_query(pattern)
        ))
        .await?;
    Ok(list
        .get("handlers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// `list topic-handlers [topic-pattern] [handler-pattern...]`: a `Topic ID Kind` table, each
/// column as wide as max(10, longest) + 1.
pub async fn list(
    client: &Client,
    patterns: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let topic_pattern = patterns.first().cloned().into_iter().collect::<Vec<_>>();
    let handler_patterns: Vec<&str> = match patterns.get(1..) {
        Some(rest) if !rest.is_empty() => rest.iter().map(String::as_str).collect(),
        _ => vec![""],
    };
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for topic in matching(client, &topic_pattern).await? {
        for pattern in &handler_patterns {
            for h in handlers(client, &topic.id, pattern).await? {
                let row = (topic.id.clone(), str_of(&h, "id"), str_of(&h, "kind"));
                if !rows.contains(&row) {
                    rows.push(row);
                }
            }
        }
    }
    rows.sort();
    let width =
        |f: fn(&(String, String, String)) -> usize| rows.iter().map(f).fold(10, usize::max) + 1;
    let (tw, iw, kw) = (
        width(|r| r.0.len()),
        width(|r| r.1.len()),
        width(|r| r.2.len()),
    );
    let _ = writeln!(out, "{:<tw$}{:<iw$}{:<kw$}", "Topic", "ID", "Kind");
    for (topic, id, kind) in &rows {
        let _ = writeln!(out, "{topic:<tw$}{id:<iw$}{kind:<kw$}");
    }
    Ok(())
}

/// Object keys sorted at every level, as Go prints maps.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `show-topic-handler TOPIC ID`.
pub async fn show(
    client: &Client,
    topic: &str,
    id: &str,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let handler = client
        .get(&format!("/alerts/topics/{topic}/handlers/{id}"))
        .await?;
    let options = handler.get("options").cloned().unwrap_or(Value::Null);
    let _ = writeln!(out, "ID: {}", str_of(&handler, "id"));
    let _ = writeln!(out, "Topic: {topic}");
    let _ = writeln!(out, "Kind: {}", str_of(&handler, "kind"));
    let _ = writeln!(out, "Match: {}", str_of(&handler, "match"));
    let _ = writeln!(
        out,
        "Options: {}",
        klaxon_core::json::to_go_string(&sorted(&options))
    );
    Ok(())
}

/// `delete topic-handlers TOPIC PATTERN...`.
pub async fn delete(client: &Client, topic: &str, patterns: &[String]) -> Result<(), ClientError> {
    for pattern in patterns {
        for h in handlers(client, topic, pattern).await? {
            client
                .delete(&format!(
                    "/alerts/topics/{topic}/handlers/{}",
                    str_of(&h, "id")
                ))
                .await?;
        }
    }
    Ok(())
}

/// Why a handler file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read handler file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        reason: String,
    },
    /// The file is not valid YAML or JSON.
    #[error("invalid handler file {path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Where and what, with line and column.
        reason: String,
    },
    /// The file lacks `topic` or `id`.
    #[error("invalid handler file {path}: {reason}")]
    Missing {
        /// The file.
        path: String,
        /// What is missing.
        reason: String,
    },
}

/// Reads a handler file (YAML, or JSON, which YAML reads too) into its JSON object.
pub fn read_file(path: &Path) -> Result<Value, FileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| FileError::Read {
        path: name.clone(),
        reason: e.to_string(),
    })?;
    let value: Value = yaml_serde::from_str(&text).map_err(|e| FileError::Parse {
        path: name.clone(),
        reason: match e.location() {
            Some(at) => format!("line {}, column {}: {e}", at.line(), at.column()),
            None => e.to_string(),
        },
    })?;
    let missing = |what: &str| FileError::Missing {
        path: name.clone(),
        reason: format!("{what} is required (write it like `{what}: example`)"),
    };
    if !value.is_object() {
        return Err(FileError::Parse {
            path: name.clone(),
            reason: "expected a mapping with topic, id, kind, options and match".to_owned(),
        });
    }
    for key in ["topic", "id", "kind"] {
        if value
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(missing(key));
        }
    }
    Ok(value)
}

/// `define-topic-handler FILE`: GET the handler, then POST it if absent or PUT it if present.
pub async fn define(client: &Client, path: &Path) -> Result<(), ClientError> {
    let spec = read_file(path).map_err(|e| ClientError::Input(e.to_string()))?;
    let topic = str_of(&spec, "topic");
    let id = str_of(&spec, "id");
    let handler_path = format!("/alerts/topics/{topic}/handlers/{id}");
    if client.get_optional(&handler_path).await?.is_some() {
        client.put(&handler_path, &spec).await?;
    } else {
        client
            .post(
                &format!("/alerts/topics/{topic}/handlers"),
                &spec,
                &[StatusCode::OK],
            )
            .await?;
    }
    Ok(())
}
