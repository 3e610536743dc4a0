//! The Sensu client socket protocol, as Kapacitor's sensu service speaks it: one TCP connection
//! per check result, the result as one JSON object and a newline, then the client's answer, `ok`,
//! read until it closes the connection.

use std::collections::BTreeMap;

use klaxon_core::{HandlerError, Level, Live};
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Config;

/// How much of the client's answer is read: it is `ok` or `invalid`.
const ANSWER_LIMIT: u64 = 4096;

/// One check result, before the configuration fills in the rest.
#[derive(Debug)]
pub(crate) struct CheckResult<'a> {
    /// The check name: the alert's ID.
    pub(crate) name: &'a str,
    /// The JIT source; empty for the configured one.
    pub(crate) source: &'a str,
    /// The check output: the alert's message.
    pub(crate) output: &'a str,
    /// The Sensu handlers; empty for the configured ones.
    pub(crate) handlers: &'a [String],
    /// More keys of the check result; they cannot replace the five above.
    pub(crate) metadata: &'a BTreeMap<String, Value>,
    pub(crate) level: Level,
}

/// Sends `check` to the configured Sensu client with the live configuration.
pub(crate) async fn send(
    config: &Live<Config>,
    check: CheckResult<'_>,
) -> Result<(), HandlerError> {
    let config = config.get();
    if !config.enabled {
        return Err(HandlerError::permanent("service is not enabled"));
    }
    let payload = encode(&config, &check)?;
    let addr = config.addr.as_str();
    let timeout = config.timeout.to_std();
    tokio::time::timeout(timeout, exchange(addr, &payload))
        .await
        .unwrap_or_else(|_| {
            Err(HandlerError::timed_out(
                format_args!("send to sensu client {addr}"),
                timeout,
            ))
        })
}

/// The check result's JSON and the encoder's newline: a Go map in Kapacitor, so the keys, the
/// metadata's among them, go out sorted at every level.
pub(crate) fn encode(config: &Config, check: &CheckResult<'_>) -> Result<Vec<u8>, HandlerError> {
    let name = check_name(check.name);
    if name.is_empty() {
        return Err(HandlerError::permanent(
            "the alert has an empty ID, and Sensu needs a check name; set the alert's .id()",
        ));
    }
    let source = match check.source {
        "" => check_name(&config.source),
        own => check_name(own),
    };
    let handlers = match check.handlers {
        [] => &config.handlers,
        own => own,
    };
    let mut result: BTreeMap<&str, Value> = check
        .metadata
        .iter()
        .map(|(key, value)| (key.as_str(), sorted(value)))
        .collect();
    result.insert("name", Value::String(name));
    // Without a source, the result is the Sensu client's own check (Sensu refuses an empty one).
    if source.is_empty() {
        result.remove("source");
    } else {
        result.insert("source", Value::String(source));
    }
    result.insert("output", Value::String(check.output.to_owned()));
    result.insert("status", Value::from(status(check.level)));
    let handlers = match handlers.is_empty() {
        // Go's nil slice: Sensu then uses its default handler.
        true => Value::Null,
        false => Value::from(handlers.to_vec()),
    };
    result.insert("handlers", handlers);
    let mut payload = Vec::with_capacity(256);
    klaxon_core::json::write_go(&mut payload, &result);
    payload.push(b'\n');
    Ok(payload)
}

/// Sensu's exit-status convention: 0 OK (and INFO), 1 WARNING, 2 CRITICAL.
fn status(level: Level) -> u8 {
    match level {
        Level::Ok | Level::Info => 0,
        Level::Warning => 1,
        Level::Critical => 2,
    }
}

/// `text` as Sensu accepts a check name or source (`^[\w\.-]+$`): every other character becomes
/// `_`, so that the default alert ID `cpu:nil` is the check `cpu_nil`.
pub(crate) fn check_name(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '.' | '-' => c,
            _ => '_',
        })
        .collect()
}

/// `value` with the keys of its objects sorted at every level, as Go writes a map.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            let map: Map<String, Value> = entries
                .into_iter()
                .map(|(key, value)| (key.clone(), sorted(value)))
                .collect();
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Connects, writes `payload`, and reads the answer until the client closes the connection.
async fn exchange(addr: &str, payload: &[u8]) -> Result<(), HandlerError> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| HandlerError::io(format_args!("connect to sensu client {addr}"), &e))?;
    // No shutdown of the write side: Sensu's client takes the end of the stream for the end of
    // the connection and would not answer.
    stream
        .write_all(payload)
        .await
        .map_err(|e| HandlerError::io(format_args!("write to sensu client {addr}"), &e))?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(ANSWER_LIMIT)
        .read_to_end(&mut answer)
        .await
        .map_err(|e| {
            HandlerError::io(format_args!("read the answer of sensu client {addr}"), &e)
        })?;
    let answer = String::from_utf8_lossy(&answer);
    match answer.trim() {
        "ok" => Ok(()),
        // The client closed without a word: a client restarting, or not a Sensu client.
        "" => Err(HandlerError::transient(format!(
            "sensu socket error: sensu client {addr} closed the connection without answering \"ok\""
        ))),
        "invalid" => Err(HandlerError::permanent(format!(
            "sensu socket error: sensu client {addr} answered \"invalid\": it could not read or refused the check result (its log says why)"
        ))),
        other => Err(HandlerError::permanent(format!(
            "sensu socket error: sensu client {addr} answered {other:?} instead of \"ok\""
        ))),
    }
}
