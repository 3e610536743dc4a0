//! Task commands: `define`, `enable`, `disable`, `reload`, `list tasks`, `show`, `delete tasks`.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::client::{Client, ClientError, encode_query};

/// `define <id> [-tick f] [-type stream] [-dbrp db.rp]... [-no-reload]`: creates the task
/// disabled, or changes only the given fields of an existing one; an enabled task is reloaded
/// (disabled then enabled) unless `no_reload`.
pub async fn define(
    client: &Client,
    id: &str,
    tick: Option<&Path>,
    kind: Option<&str>,
    dbrps: &[String],
    no_reload: bool,
) -> Result<(), ClientError> {
    let script = match tick {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            ClientError::Input(format!("cannot read TICKscript {}: {e}", path.display()))
        })?),
        None => None,
    };
    let dbrps = dbrps
        .iter()
        .map(|d| parse_dbrp(d))
        .collect::<Result<Vec<_>, _>>()?;
    let path = format!("/tasks/{id}");
    let Some(existing) = client.get_optional(&path).await? else {
        let script = script.ok_or_else(|| {
            ClientError::Input(format!(
                "task {id:?} does not exist yet: give its TICKscript with -tick FILE"
            ))
        })?;
        let body = json!({
            "id": id,
            "type": kind.unwrap_or("stream"),
            "dbrps": dbrps,
            "script": script,
            "status": "disabled",
        });
        client
            .post("/tasks", &body, &[reqwest::StatusCode::OK])
            .await?;
        return Ok(());
    };
    let mut change = serde_json::Map::new();
    if let Some(script) = script {
        change.insert("script".into(), Value::String(script));
    }
    if !dbrps.is_empty() {
        change.insert("dbrps".into(), Value::Array(dbrps));
    }
    if let Some(kind) = kind {
        change.insert("type".into(), Value::String(kind.to_owned()));
    }
    if !change.is_empty() {
        client.patch(&path, &Value::Object(change)).await?;
    }
    let enabled = existing.get("status").and_then(Value::as_str) == Some("enabled");
    if enabled && !no_reload {
        set_status(client, id, "disabled").await?;
        set_status(client, id, "enabled").await?;
    }
    Ok(())
}

/// `db.rp` or `"db"."rp"` into `{"db","rp"}`.
fn parse_dbrp(text: &str) -> Result<Value, ClientError> {
    let unquote = |s: &str| s.trim().trim_matches('"').to_owned();
    let (db, rp) = if let Some(rest) = text.strip_prefix('"') {
        let end = rest.find("\".").ok_or_else(|| {
            ClientError::Input(format!("invalid dbrp {text:?}; write it as db.rp"))
        })?;
        (rest[..end].to_owned(), unquote(&rest[end + 2..]))
    } else {
        let (db, rp) = text.split_once('.').ok_or_else(|| {
            ClientError::Input(format!("invalid dbrp {text:?}; write it as db.rp"))
        })?;
        (db.to_owned(), unquote(rp))
    };
    if db.is_empty() || rp.is_empty() {
        return Err(ClientError::Input(format!(
            "invalid dbrp {text:?}; write it as db.rp"
        )));
    }
    Ok(json!({"db": db, "rp": rp}))
}

async fn set_status(client: &Client, id: &str, status: &str) -> Result<(), ClientError> {
    client
        .patch(&format!("/tasks/{id}"), &json!({ "status": status }))
        .await
        .map(|_| ())
}

/// The tasks whose IDs match any of `patterns`, sorted by ID.
async fn matching(client: &Client, patterns: &[String]) -> Result<Vec<Value>, ClientError> {
    let patterns = if patterns.is_empty() {
        vec!["*".to_owned()]
    } else {
        patterns.to_vec()
    };
    let mut tasks: Vec<Value> = Vec::new();
    for pattern in &patterns {
        let mut offset = 0;
        loop {
            let page = client
                .get(&format!(
                    "/tasks?pattern={}&offset={offset}&limit=100",
                    encode_query(pattern)
                ))
                .await?;
            let batch = page
                .get("tasks")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let n = batch.len();
            for task in batch {
                if !tasks.iter().any(|t| t["id"] == task["id"]) {
                    tasks.push(task);
                }
            }
            if n < 100 {
                break;
            }
            offset += n;
        }
    }
    tasks.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(tasks)
}

/// `enable`, `disable` or `reload` of every task matching the patterns.
pub async fn change_status(
    client: &Client,
    patterns: &[String],
    action: &str,
) -> Result<(), ClientError> {
    for task in matching(client, patterns).await? {
        let id = task["id"].as_str().unwrap_or_default();
        match action {
            "reload" => {
                set_status(client, id, "disabled").await?;
                set_status(client, id, "enabled").await?;
            }
            status => set_status(client, id, status).await?,
        }
    }
    Ok(())
}

/// `["db"."rp" "db2"."rp2"]`, as Go prints a slice of DBRPs.
fn dbrps_text(task: &Value) -> String {
    let items: Vec<String> = task["dbrps"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| {
                    format!(
                        "\"{}\".\"{}\"",
                        d["db"].as_str().unwrap_or(""),
                        d["rp"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!("[{}]", items.join(" "))
}

/// `list tasks [pattern...]`.
pub async fn list(
    client: &Client,
    patterns: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let tasks = matching(client, patterns).await?;
    let width = tasks
        .iter()
        .map(|t| t["id"].as_str().unwrap_or("").len())
        .max()
        .unwrap_or(0)
        .max(2)
        + 1;
    let _ = writeln!(
        out,
        "{:<width$}{:<10}{:<10}{:<10}Databases and Retention Policies",
        "ID", "Type", "Status", "Executing"
    );
    for t in &tasks {
        let _ = writeln!(
            out,
            "{:<width$}{:<10}{:<10}{:<10}{}",
            t["id"].as_str().unwrap_or(""),
            t["type"].as_str().unwrap_or(""),
            t["status"].as_str().unwrap_or(""),
            t["executing"].as_bool().unwrap_or(false),
            dbrps_text(t)
        );
    }
    Ok(())
}

/// Go's `time.RFC822` in local time: `02 Jan 06 15:04 MST`.
fn rfc822(text: &str) -> String {
    let Ok(ts) = text.parse::<jiff::Timestamp>() else {
        return text.to_owned();
    };
    ts.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%d %b %y %H:%M %Z")
        .to_string()
}

/// `show <id>`.
pub async fn show(client: &Client, id: &str, out: &mut impl Write) -> Result<(), ClientError> {
    let t = client.get(&format!("/tasks/{id}")).await?;
    let s = |k: &str| t[k].as_str().unwrap_or("").to_owned();
    let _ = writeln!(out, "ID: {}", s("id"));
    let _ = writeln!(out, "Error: {}", s("error"));
    let _ = writeln!(out, "Template: {}", s("template-id"));
    let _ = writeln!(out, "Type: {}", s("type"));
    let _ = writeln!(out, "Status: {}", s("status"));
    let _ = writeln!(
        out,
        "Executing: {}",
        t["executing"].as_bool().unwrap_or(false)
    );
    let _ = writeln!(out, "Created: {}", rfc822(&s("created")));
    let _ = writeln!(out, "Modified: {}", rfc822(&s("modified")));
    let _ = writeln!(out, "LastEnabled: {}", rfc822(&s("last-enabled")));
    let _ = writeln!(out, "Databases Retention Policies: {}", dbrps_text(&t));
    let _ = write!(out, "TICKscript:\n{}\n\n", s("script"));
    let _ = writeln!(out, "DOT:\n{}", s("dot"));
    Ok(())
}

/// `delete tasks <pattern>...`.
pub async fn delete(client: &Client, patterns: &[String]) -> Result<(), ClientError> {
    for task in matching(client, patterns).await? {
        let id = task["id"].as_str().unwrap_or_default();
        client.delete(&format!("/tasks/{id}")).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbrps_parse_in_both_forms() {
        assert_eq!(
            parse_dbrp("telegraf.autogen").unwrap(),
            json!({"db": "telegraf", "rp": "autogen"})
        );
        assert_eq!(
            parse_dbrp("\"my.db\".\"autogen\"").unwrap(),
            json!({"db": "my.db", "rp": "autogen"})
        );
        assert!(parse_dbrp("telegraf").is_err());
    }

    #[test]
    fn dbrps_print_like_go() {
        let t = json!({"dbrps": [{"db": "a", "rp": "b"}, {"db": "c", "rp": "d"}]});
        assert_eq!(dbrps_text(&t), "[\"a\".\"b\" \"c\".\"d\"]");
        assert_eq!(dbrps_text(&json!({"dbrps": []})), "[]");
    }
}
