//! Recordings and replays: `record stream|batch|query`, `replay`, `replay-live batch|query`,
//! `list recordings|replays` and `delete recordings|replays`, against Kapacitor's
//! `/kapacitor/v1/recordings` and `/kapacitor/v1/replays` API, with Kapacitor's flags, waiting
//! and output. A server without that API gets a plain answer instead of "Not Found".

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::collection::Collection;
use super::tasks::rfc822;
use super::{Deletable, Listable};
use crate::client::{Client, ClientError, Method, StatusCode, encode_query};

/// How often a running recording or replay is asked about, as Kapacitor's CLI does.
const POLL: Duration = Duration::from_millis(500);

/// `record stream|batch|query`.
#[derive(Debug, Subcommand)]
pub enum Record {
    /// Record a snapshot of the live data stream (prints the recording ID).
    #[command(after_help = "Example:\n  klaxon record stream -task mem_free -duration 1m")]
    Stream {
        /// The ID of a task; its dbrps are recorded.
        #[arg(long)]
        task: Option<String>,
        /// How long to record the data stream, such as 1m.
        #[arg(long)]
        duration: Option<String>,
        /// Do not wait for the recording to finish.
        #[arg(long = "no-wait")]
        no_wait: bool,
        /// The ID to give to this recording (a random one when not set).
        #[arg(long = "recording-id")]
        recording_id: Option<String>,
    },
    /// Record the result of the InfluxDB queries of a batch task.
    Batch {
        /// The ID of a task; its queries are recorded.
        #[arg(long)]
        task: Option<String>,
        /// The start time for the set of queries (RFC 3339).
        #[arg(long)]
        start: Option<String>,
        /// The stop time for the set of queries (default now).
        #[arg(long)]
        stop: Option<String>,
        /// Set the start time as now minus this duration.
        #[arg(long)]
        past: Option<String>,
        /// Do not wait for the recording to finish.
        #[arg(long = "no-wait")]
        no_wait: bool,
        /// The ID to give to this recording (a random one when not set).
        #[arg(long = "recording-id")]
        recording_id: Option<String>,
    },
    /// Record the result of an InfluxDB query.
    Query {
        /// The query to record.
        #[arg(long)]
        query: Option<String>,
        /// The type of recording to save (stream|batch).
        #[arg(long = "type")]
        kind: Option<String>,
        /// Optional named InfluxDB cluster from the configuration.
        #[arg(long)]
        cluster: Option<String>,
        /// Do not wait for the recording to finish.
        #[arg(long = "no-wait")]
        no_wait: bool,
        /// The ID to give to this recording (a random one when not set).
        #[arg(long = "recording-id")]
        recording_id: Option<String>,
    },
}

/// `replay -task T -recording R [...]`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The task ID.
    #[arg(long)]
    task: Option<String>,
    /// The recording ID.
    #[arg(long)]
    recording: Option<String>,
    /// Replay the data in real time (else as fast as possible).
    #[arg(long = "real-clock")]
    real_clock: bool,
    /// Use the times saved in the recording instead of present times.
    #[arg(long = "rec-time")]
    rec_time: bool,
    /// Deliver the replay's alert events through the task's handlers (Klaxon keeps them with
    /// the replay otherwise; Kapacitor always delivers).
    #[arg(long)]
    deliver: bool,
    /// Do not wait for the replay to finish.
    #[arg(long = "no-wait")]
    no_wait: bool,
    /// The ID to give to this replay (a random one when not set).
    #[arg(long = "replay-id")]
    replay_id: Option<String>,
}

/// The flags `replay-live batch` and `replay-live query` share.
#[derive(Debug, Args)]
pub struct LiveFlags {
    /// The task ID.
    #[arg(long)]
    task: Option<String>,
    /// Replay the data in real time (else as fast as possible).
    #[arg(long = "real-clock")]
    real_clock: bool,
    /// Use the times saved in the recording instead of present times.
    #[arg(long = "rec-time")]
    rec_time: bool,
    /// Deliver the replay's alert events through the task's handlers (Klaxon keeps them with
    /// the replay otherwise; Kapacitor always delivers).
    #[arg(long)]
    deliver: bool,
    /// Do not wait for the replay to finish.
    #[arg(long = "no-wait")]
    no_wait: bool,
    /// The ID to give to this replay (a random one when not set).
    #[arg(long = "replay-id")]
    replay_id: Option<String>,
}

/// `replay-live batch|query`.
#[derive(Debug, Subcommand)]
pub enum ReplayLive {
    /// Replay the data of a batch task's queries against the task.
    Batch {
        #[command(flatten)]
        flags: LiveFlags,
        /// The start time for the set of queries (RFC 3339).
        #[arg(long)]
        start: Option<String>,
        /// The stop time for the set of queries (default now).
        #[arg(long)]
        stop: Option<String>,
        /// Set the start time as now minus this duration.
        #[arg(long)]
        past: Option<String>,
    },
    /// Replay the result of a query against a task.
    Query {
        #[command(flatten)]
        flags: LiveFlags,
        /// The query to replay.
        #[arg(long)]
        query: Option<String>,
        /// Optional named InfluxDB cluster from the configuration.
        #[arg(long)]
        cluster: Option<String>,
    },
}

/// A flag Kapacitor requires, with its message.
fn required<'a>(value: &'a Option<String>, message: &str) -> Result<&'a str, ClientError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ClientError::Usage(message.to_owned()))
}

/// A duration flag (`1m`, `10h`).
fn duration(text: &str, flag: &str) -> Result<jiff::SignedDuration, ClientError> {
    let parsed: klaxon_core::GoDuration = text.parse().map_err(|e| {
        ClientError::Usage(format!("-{flag} {text:?}: {e}; write it like 1m or 10h"))
    })?;
    Ok(jiff::SignedDuration::from_nanos(parsed.as_nanos()))
}

/// A time flag in RFC 3339.
fn time(text: &str, flag: &str) -> Result<jiff::Timestamp, ClientError> {
    text.parse().map_err(|e| {
        ClientError::Usage(format!(
            "-{flag} {text:?} is not an RFC 3339 time ({e}); write it like 2015-09-01T00:00:00Z"
        ))
    })
}

/// The `start` and `stop` of `-start/-stop/-past`, with Kapacitor's rules.
fn window(
    start: &Option<String>,
    stop: &Option<String>,
    past: &Option<String>,
) -> Result<(jiff::Timestamp, jiff::Timestamp), ClientError> {
    let (start, past) = (start.as_deref(), past.as_deref());
    match (start, past) {
        (None, None) => Err(ClientError::Usage(
            "must set one of start or past flags".to_owned(),
        )),
        (Some(_), Some(_)) => Err(ClientError::Usage(
            "cannot set both start and past flags".to_owned(),
        )),
        _ => {
            let stop = match stop.as_deref() {
                Some(stop) => time(stop, "stop")?,
                None => jiff::Timestamp::now(),
            };
            let start = match (start, past) {
                (Some(start), _) => time(start, "start")?,
                (None, Some(past)) => stop - duration(past, "past")?,
                (None, None) => unreachable!("checked above"),
            };
            Ok((start, stop))
        }
    }
}

/// What a server without recordings and replays says instead of "Not Found".
fn unavailable(e: ClientError) -> ClientError {
    if e.is_missing_route() {
        ClientError::server(
            "this server has no recordings and replays (no /kapacitor/v1/recordings or \
             /kapacitor/v1/replays); upgrade it to a klaxond that records and replays",
        )
    } else {
        e
    }
}

/// Puts `id` in `body` when given (Kapacitor leaves it out for a random one).
fn with_id(mut body: Value, id: &Option<String>) -> Value {
    if let (Some(id), Value::Object(map)) = (id.as_deref().filter(|i| !i.is_empty()), &mut body) {
        map.insert("id".into(), Value::String(id.to_owned()));
    }
    body
}

/// `record stream|batch|query`: starts the recording, then (unless `-no-wait`) waits for it to
/// finish and prints its ID; a failed recording is an error.
pub async fn record(
    client: &Client,
    record: Record,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let (path, body, no_wait) = match record {
        Record::Stream {
            task,
            duration: length,
            no_wait,
            recording_id,
        } => {
            if task.as_deref().unwrap_or_default().is_empty()
                || length.as_deref().unwrap_or_default().is_empty()
            {
                return Err(ClientError::Usage(
                    "both task and duration are required: klaxon record stream -task ID \
                     -duration 1m"
                        .to_owned(),
                ));
            }
            let stop =
                jiff::Timestamp::now() + duration(length.as_deref().unwrap_or(""), "duration")?;
            let body = json!({"task": task, "stop": stop.to_string()});
            ("/recordings/stream", with_id(body, &recording_id), no_wait)
        }
        Record::Batch {
            task,
            start,
            stop,
            past,
            no_wait,
            recording_id,
        } => {
            let task = required(
                &task,
                "task is required: klaxon record batch -task ID -past 1h",
            )?;
            let (start, stop) = window(&start, &stop, &past)?;
            let body = json!({"task": task, "start": start.to_string(), "stop": stop.to_string()});
            ("/recordings/batch", with_id(body, &recording_id), no_wait)
        }
        Record::Query {
            query,
            kind,
            cluster,
            no_wait,
            recording_id,
        } => {
            let message = "both query and type are required: klaxon record query -query '...' \
                           -type stream";
            let query = required(&query, message)?;
            let kind = required(&kind, message)?;
            let mut body = json!({"query": query, "type": kind});
            if let Some(cluster) = cluster.filter(|c| !c.is_empty()) {
                body["cluster"] = Value::String(cluster);
            }
            ("/recordings/query", with_id(body, &recording_id), no_wait)
        }
    };
    let recording = client
        .post(path, &body, &[StatusCode::CREATED])
        .await
        .map_err(unavailable)?;
    finish(client, recording, no_wait, "recording", out).await
}

/// `replay -task T -recording R [-real-clock] [-rec-time] [-no-wait] [-replay-id ID]`.
pub async fn replay(
    client: &Client,
    args: ReplayArgs,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let recording = required(&args.recording, "must pass recording ID: -recording ID")?;
    let task = required(&args.task, "must pass task ID: -task ID")?;
    let body = json!({
        "id": args.replay_id.clone().unwrap_or_default(),
        "recording": recording,
        "task": task,
        "recording-time": args.rec_time,
        "clock": if args.real_clock { "real" } else { "fast" },
        "deliver": args.deliver,
    });
    let replay = client
        .post("/replays", &body, &[StatusCode::CREATED])
        .await
        .map_err(unavailable)?;
    finish(client, replay, args.no_wait, "replay", out).await
}

/// `replay-live batch|query`.
pub async fn replay_live(
    client: &Client,
    live: ReplayLive,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let (path, flags, mut body) = match live {
        ReplayLive::Batch {
            flags,
            start,
            stop,
            past,
        } => {
            required(
                &flags.task,
                "task is required: klaxon replay-live batch -task ID -past 1h",
            )?;
            let (start, stop) = window(&start, &stop, &past)?;
            let body = json!({"start": start.to_string(), "stop": stop.to_string()});
            ("/replays/batch", flags, body)
        }
        ReplayLive::Query {
            flags,
            query,
            cluster,
        } => {
            let message = "both query and task are required: klaxon replay-live query -task ID \
                           -query '...'";
            required(&flags.task, message)?;
            let query = required(&query, message)?;
            let mut body = json!({ "query": query });
            if let Some(cluster) = cluster.filter(|c| !c.is_empty()) {
                body["cluster"] = Value::String(cluster);
            }
            ("/replays/query", flags, body)
        }
    };
    body["task"] = json!(flags.task);
    body["recording-time"] = json!(flags.rec_time);
    body["clock"] = json!(if flags.real_clock { "real" } else { "fast" });
    body["deliver"] = json!(flags.deliver);
    let body = with_id(body, &flags.replay_id);
    let replay = client
        .post(path, &body, &[StatusCode::CREATED])
        .await
        .map_err(unavailable)?;
    finish(client, replay, flags.no_wait, "replay", out).await
}

/// Waits for a recording or replay while it runs, prints its ID, and fails if it failed.
async fn finish(
    client: &Client,
    mut object: Value,
    no_wait: bool,
    what: &str,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    if no_wait {
        return Ok(());
    }
    while object["status"] == "running" {
        tokio::time::sleep(POLL).await;
        let href = object["link"]["href"].as_str().unwrap_or_default();
        let path = href
            .strip_prefix("/kapacitor/v1")
            .unwrap_or(href)
            .to_owned();
        object = client
            .send(
                Method::GET,
                &path,
                None,
                &[StatusCode::OK, StatusCode::ACCEPTED],
            )
            .await?;
    }
    let _ = writeln!(out, "{}", object["id"].as_str().unwrap_or_default());
    if object["status"] == "failed" {
        let error = object["error"].as_str().unwrap_or_default();
        return Err(ClientError::server(if error.is_empty() {
            format!("{what} failed: unknown reason")
        } else {
            error.to_owned()
        }));
    }
    Ok(())
}

/// `list recordings|replays [pattern...]`, in Kapacitor's columns.
pub async fn list(
    client: &Client,
    what: Listable,
    patterns: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let collection = if what == Listable::Recordings {
        Collection::RECORDINGS
    } else {
        Collection::REPLAYS
    };
    let items = collection
        .matching(client, patterns, false)
        .await
        .map_err(unavailable)?;
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let width = |key: &str, min: usize| {
        items
            .iter()
            .map(|i| text(i, key).len())
            .fold(min, usize::max)
            + 1
    };
    if what == Listable::Recordings {
        let id = width("id", 2);
        let _ = writeln!(
            out,
            "{:<id$}{:<8}{:<10}{:<10}{:<23}",
            "ID", "Type", "Status", "Size", "Date"
        );
        for r in &items {
            let size = r["size"].as_u64().unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<id$}{:<8}{:<10}{:<10}{:<23}",
                text(r, "id"),
                text(r, "type"),
                text(r, "status"),
                human_bytes(size),
                rfc822(&text(r, "date"))
            );
        }
    } else {
        let (id, task, recording) = (width("id", 2), width("task", 4), width("recording", 9));
        let _ = writeln!(
            out,
            "{:<id$}{:<task$}{:<recording$}{:<9}{:<8}{:<23}",
            "ID", "Task", "Recording", "Status", "Clock", "Date"
        );
        for r in &items {
            let _ = writeln!(
                out,
                "{:<id$}{:<task$}{:<recording$}{:<9}{:<8}{:<23}",
                text(r, "id"),
                text(r, "task"),
                text(r, "recording"),
                text(r, "status"),
                text(r, "clock"),
                rfc822(&text(r, "date"))
            );
        }
    }
    Ok(())
}

/// `delete recordings|replays PATTERN...`: an argument that matches nothing is an error.
pub async fn delete(
    client: &Client,
    what: Deletable,
    patterns: &[String],
) -> Result<(), ClientError> {
    let collection = if what == Deletable::Recordings {
        Collection::RECORDINGS
    } else {
        Collection::REPLAYS
    };
    let found = collection
        .matching(client, patterns, true)
        .await
        .map_err(unavailable)?;
    for item in found {
        let id = item["id"].as_str().unwrap_or_default();
        client
            .delete(&format!("/{}/{}", collection.name, encode_query(id)))
            .await?;
    }
    Ok(())
}

/// go-humanize's `Bytes`: SI units, one decimal below 10 (`82 kB`, `1.2 MB`, `9 B`).
fn human_bytes(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if size < 10 {
        return format!("{size} B");
    }
    let exponent = ((size as f64).ln() / 1000_f64.ln()).floor() as usize;
    let exponent = exponent.min(UNITS.len() - 1);
    let value = (size as f64 / 1000_f64.powi(exponent as i32) * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[exponent])
    } else {
        format!("{value:.0} {}", UNITS[exponent])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_go_humanize_writes_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(9), "9 B");
        assert_eq!(human_bytes(82_854), "83 kB");
        assert_eq!(human_bytes(1_200_000), "1.2 MB");
        assert_eq!(human_bytes(999), "999 B");
    }

    #[test]
    fn windows_follow_kapacitor_rules() {
        let none = None;
        assert_eq!(
            window(&none, &none, &none).unwrap_err().to_string(),
            "must set one of start or past flags"
        );
        let start = Some("2015-09-01T00:00:00Z".to_owned());
        let past = Some("1h".to_owned());
        assert!(window(&start, &none, &past).is_err());
        let stop = Some("2015-09-02T00:00:00Z".to_owned());
        let (from, to) = window(&none, &stop, &past).unwrap();
        assert_eq!(from.to_string(), "2015-09-01T23:00:00Z");
        assert_eq!(to.to_string(), "2015-09-02T00:00:00Z");
    }
}
