//! `silence add|list|expire`: Klaxon's silences (Kapacitor has none), through
//! `/kapacitor/v1/silences`.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::topics::str_of;
use crate::client::{Client, ClientError, Method, StatusCode, encode_query};

/// `klaxon silence ...`.
#[derive(Debug, Subcommand)]
pub enum Silence {
    /// Silence the alerts that match, from now (or -start) for -duration (or until -end).
    #[command(after_help = "Examples:\n  \
        klaxon silence add -topic cpu -tag host=serverA -duration 2h -comment 'maintenance'\n  \
        klaxon silence add -alert-id 'cpu:host=db*' -tag-regex 'dc=eu-.*' -level CRITICAL \
        -end 2026-12-04T06:00:00Z")]
    Add(Box<AddArgs>),
    /// List the silences: active, pending, and expired ones until they are removed.
    List {
        /// Only those in this state: active, pending or expired.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
    },
    /// End silences now; the alerts they held back that still fire are delivered once.
    Expire {
        /// Silence IDs.
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// What `silence add` takes.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// A glob the topic must match (such as cpu or 'main:*').
    #[arg(long, value_name = "GLOB")]
    topic: Option<String>,
    /// A glob the alert ID must match.
    #[arg(long = "alert-id", value_name = "GLOB")]
    alert_id: Option<String>,
    /// A tag that must equal a value, NAME=VALUE. Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    tag: Vec<String>,
    /// A tag that must match a regex whole, NAME=REGEX. Repeatable.
    #[arg(long = "tag-regex", value_name = "NAME=REGEX")]
    tag_regex: Vec<String>,
    /// A level silenced (OK, INFO, WARNING, CRITICAL); every level when none. Repeatable.
    #[arg(long, value_name = "LEVEL")]
    level: Vec<String>,
    /// When it starts, RFC 3339 (now when absent).
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// When it ends, RFC 3339; give this or -duration.
    #[arg(long, value_name = "TIME")]
    end: Option<String>,
    /// How long it lasts, such as 2h or 30m; give this or -end.
    #[arg(long, value_name = "DURATION")]
    duration: Option<String>,
    /// Why (shown in the list and the console).
    #[arg(long, default_value = "")]
    comment: String,
    /// Who (default: $USER).
    #[arg(long = "created-by", value_name = "NAME")]
    created_by: Option<String>,
}

/// Runs one `silence` command.
pub async fn run(
    client: &Client,
    command: Silence,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    match command {
        Silence::Add(args) => {
            let AddArgs {
                topic,
                alert_id,
                tag,
                tag_regex,
                level,
                start,
                end,
                duration,
                comment,
                created_by,
            } = *args;
            let mut tags = Vec::new();
            for (flag, given, key) in [("-tag", &tag, "value"), ("-tag-regex", &tag_regex, "regex")]
            {
                for pair in given {
                    let (name, value) = pair.split_once('=').ok_or_else(|| {
                        ClientError::Usage(format!(
                            "{flag} {pair:?}: give NAME={}",
                            key.to_uppercase()
                        ))
                    })?;
                    tags.push(json!({"name": name, key: value}));
                }
            }
            let mut body = json!({
                "topic": topic.unwrap_or_default(),
                "alert-id": alert_id.unwrap_or_default(),
                "tags": tags,
                "levels": level.iter().map(|l| l.to_uppercase()).collect::<Vec<_>>(),
                "comment": comment,
                "created-by": created_by
                    .or_else(|| std::env::var("USER").ok())
                    .unwrap_or_default(),
            });
            for (key, value) in [("start", start), ("end", end), ("duration", duration)] {
                if let Some(value) = value {
                    body[key] = json!(value);
                }
            }
            let made = client.post("/silences", &body, &[StatusCode::OK]).await?;
            let _ = writeln!(out, "{}", str_of(&made, "id"));
            Ok(())
        }
        Silence::List { state } => {
            let query = state
                .map(|s| format!("?state={}", encode_query(&s)))
                .unwrap_or_default();
            let list = client.get(&format!("/silences{query}")).await?;
            let silences = list
                .get("silences")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            write_table(&silences, out);
            Ok(())
        }
        Silence::Expire { ids } => {
            for id in &ids {
                client
                    .send(
                        Method::DELETE,
                        &format!("/silences/{}", encode_query(id)),
                        None,
                        &[StatusCode::OK],
                    )
                    .await?;
            }
            Ok(())
        }
    }
}

/// A silence's matchers in one column: `topic=cpu alert-id=x host=a dc=~eu-.* level=CRITICAL`.
fn matchers(silence: &Value) -> String {
    let mut parts = Vec::new();
    for key in ["topic", "alert-id"] {
        let value = str_of(silence, key);
        if !value.is_empty() {
            parts.push(format!("{key}={value}"));
        }
    }
    for tag in silence
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = str_of(tag, "name");
        match (tag.get("value"), tag.get("regex")) {
            (Some(v), _) => parts.push(format!("{name}={}", v.as_str().unwrap_or_default())),
            (_, Some(r)) => parts.push(format!("{name}=~{}", r.as_str().unwrap_or_default())),
            _ => {}
        }
    }
    let levels: Vec<&str> = silence
        .get("levels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !levels.is_empty() {
        parts.push(format!("level={}", levels.join(",")));
    }
    parts.join(" ")
}

/// The list as a table, columns as wide as their widest cell.
fn write_table(silences: &[Value], out: &mut impl Write) {
    let header = [
        "ID",
        "State",
        "Start",
        "End",
        "Created by",
        "Matchers",
        "Comment",
    ];
    let rows: Vec<[String; 7]> = silences
        .iter()
        .map(|s| {
            [
                str_of(s, "id"),
                str_of(s, "state"),
                str_of(s, "start"),
                str_of(s, "end"),
                str_of(s, "created-by"),
                matchers(s),
                str_of(s, "comment"),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$} ", width = widths[i]));
            }
        }
        text.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in &rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}
