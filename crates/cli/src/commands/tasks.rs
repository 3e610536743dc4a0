//! Task commands: `define`, `enable`, `disable`, `reload`, `list tasks`, `show`, `delete tasks`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::collection::Collection;
use super::task_file;
use crate::client::{Client, ClientError, StatusCode, encode_query};
use crate::render;

/// What `define` was given; an absent option leaves the task's value as it is.
#[derive(Debug, Default)]
pub struct Definition {
    /// `-tick FILE`.
    pub tick: Option<PathBuf>,
    /// `-type stream|batch`.
    pub kind: Option<String>,
    /// `-dbrp db.rp`, repeated.
    pub dbrps: Vec<String>,
    /// `-template ID`: the template the task is made from.
    pub template: Option<String>,
    /// `-vars FILE`: the task's vars, as JSON.
    pub vars: Option<PathBuf>,
    /// `-file FILE`: a template task file (YAML or JSON) with its template, dbrps and vars.
    pub file: Option<PathBuf>,
    /// `-no-reload`.
    pub no_reload: bool,
}

/// Reads a TICKscript given with `-tick`.
pub(crate) fn read_script(path: &Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|e| {
        ClientError::Input(format!(
            "cannot read TICKscript {}: {e}; check the -tick path",
            path.display()
        ))
    })
}

/// `define <id> [-tick f] [-type stream] [-dbrp db.rp]... [-template t] [-vars f.json]
/// [-file f.yaml] [-no-reload]`, as Kapacitor's CLI does it: GET the task; when it does not
/// exist, POST it disabled; else PATCH only the given fields and, when the task was enabled,
/// reload it (PATCH disabled, then enabled) unless `-no-reload`. With `-file`, the file's
/// template, dbrps and vars are the task's.
pub async fn define(client: &Client, id: &str, definition: &Definition) -> Result<(), ClientError> {
    let script = definition.tick.as_deref().map(read_script).transpose()?;
    let dbrps = definition
        .dbrps
        .iter()
        .map(|d| parse_dbrp(d))
        .collect::<Result<Vec<_>, _>>()?;
    let vars = definition
        .vars
        .as_deref()
        .map(task_file::read_vars)
        .transpose()?;
    let file = definition
        .file
        .as_deref()
        .map(task_file::read_task_file)
        .transpose()?;
    if let (Some(file), Some(path)) = (&file, &definition.file)
        && let Some(file_id) = file.id.as_deref().filter(|f| *f != id)
    {
        return Err(ClientError::Input(format!(
            "task id given on command line does not match id in {}: {file_id:?} is not {id:?}",
            path.display()
        )));
    }
    let path = format!("/tasks/{}", encode_path(id));
    let shown = |e: ClientError| match (&script, &definition.tick) {
        (Some(script), Some(file)) => located(e, file, script),
        _ => e,
    };
    // The fields to send: the file's when given (as Kapacitor, the other flags then count
    // for nothing), else the flags'.
    let mut change = serde_json::Map::new();
    if let Some(file) = file {
        if let Some(template) = file.template_id {
            change.insert("template-id".into(), Value::String(template));
        }
        if let Some(dbrps) = file.dbrps.filter(|d| !d.is_empty()) {
            change.insert("dbrps".into(), Value::Array(dbrps));
        }
        if let Some(vars) = file.vars.filter(|v| !v.is_empty()) {
            change.insert("vars".into(), Value::Object(vars));
        }
    } else {
        if let Some(template) = definition.template.as_ref().filter(|t| !t.is_empty()) {
            change.insert("template-id".into(), Value::String(template.clone()));
        }
        if let Some(kind) = &definition.kind {
            change.insert("type".into(), Value::String(kind.clone()));
        }
        if !dbrps.is_empty() {
            change.insert("dbrps".into(), Value::Array(dbrps));
        }
        if let Some(script) = &script {
            change.insert("script".into(), Value::String(script.clone()));
        }
        if let Some(vars) = vars.filter(|v| !v.is_empty()) {
            change.insert("vars".into(), Value::Object(vars));
        }
    }
    let Some(existing) = client.get_optional(&path).await? else {
        if !change.contains_key("script") && !change.contains_key("template-id") {
            return Err(ClientError::Usage(format!(
                "task {id:?} does not exist yet: define it with its TICKscript, \
                 klaxon define {id} -tick FILE, or from a template, klaxon define {id} \
                 -template TEMPLATE -vars FILE"
            )));
        }
        change.insert("id".into(), Value::String(id.to_owned()));
        // Without -type the server takes the script's (stream or batch), as Kapacitor's.
        change
            .entry("dbrps")
            .or_insert_with(|| Value::Array(Vec::new()));
        change.insert("status".into(), Value::String("disabled".to_owned()));
        client
            .post("/tasks", &Value::Object(change), &[StatusCode::OK])
            .await
            .map_err(shown)?;
        return Ok(());
    };
    if !change.is_empty() {
        client
            .patch(&path, &Value::Object(change))
            .await
            .map_err(shown)?;
    }
    let enabled = existing.get("status").and_then(Value::as_str) == Some("enabled");
    if enabled && !definition.no_reload {
        set_status(client, id, "disabled").await?;
        set_status(client, id, "enabled").await?;
    }
    Ok(())
}

/// A server error about the script, with the file, line and a caret when it names a position.
pub(crate) fn located(err: ClientError, file: &Path, script: &str) -> ClientError {
    match err {
        ClientError::Server { status, message } => {
            let message = match render::position(&message) {
                Some((line, column)) => {
                    render::at(&message, &file.display().to_string(), script, line, column)
                }
                None => message,
            };
            ClientError::Server { status, message }
        }
        other => other,
    }
}

/// `db.rp` or `"db"."rp"` into `{"db","rp"}`, with Kapacitor's messages.
fn parse_dbrp(text: &str) -> Result<Value, ClientError> {
    let bad = |why: &str| ClientError::Usage(format!("invalid -dbrp {text:?}: {why}"));
    if text.is_empty() {
        return Err(bad("dbrp cannot be empty"));
    }
    let (db, rest) = if let Some(quoted) = text.strip_prefix('"') {
        let end = quoted
            .find('"')
            .ok_or_else(|| bad("the database's quote is not closed"))?;
        (quoted[..end].to_owned(), &quoted[end + 1..])
    } else {
        let dot = text.find('.').ok_or_else(|| {
            bad("does not contain a '.', it must be in the form \"dbname\".\"rpname\" where the quotes are optional")
        })?;
        (text[..dot].to_owned(), &text[dot..])
    };
    let rp = rest.strip_prefix('.').ok_or_else(|| {
        bad("dbrp must specify retention policy, do you have a missing or extra '.'?")
    })?;
    let rp = rp
        .strip_prefix('"')
        .map_or(rp, |r| r.strip_suffix('"').unwrap_or(r));
    if db.is_empty() || rp.is_empty() {
        return Err(bad("write it as db.rp, such as telegraf.autogen"));
    }
    Ok(json!({"db": db, "rp": rp}))
}

async fn set_status(client: &Client, id: &str, status: &str) -> Result<(), ClientError> {
    client
        .patch(
            &format!("/tasks/{}", encode_path(id)),
            &json!({ "status": status }),
        )
        .await
        .map(|_| ())
}

/// A task ID in a URL path: IDs are letters, digits, `-`, `_` and `.`, but a mistyped ID may
/// hold anything.
fn encode_path(id: &str) -> String {
    encode_query(id)
}

/// What `enable`, `disable` and `reload` do to each task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// PATCH `{"status":"enabled"}`.
    Enable,
    /// PATCH `{"status":"disabled"}`.
    Disable,
    /// Disable, then enable.
    Reload,
}

/// `enable`, `disable` or `reload` of every task matching the arguments. Every argument is
/// checked before anything changes: one that matches no task (a typo) is an error, where
/// Kapacitor's CLI silently does nothing.
pub async fn change_status(
    client: &Client,
    patterns: &[String],
    action: Action,
) -> Result<(), ClientError> {
    let tasks = Collection::TASKS.matching(client, patterns, true).await?;
    for task in tasks {
        let id = task["id"].as_str().unwrap_or_default();
        let doing = |verb: &'static str| {
            move |e: ClientError| match e {
                ClientError::Server { status, message } => ClientError::Server {
                    status,
                    message: format!("{verb} task {id}: {message}"),
                },
                other => other,
            }
        };
        match action {
            Action::Enable => set_status(client, id, "enabled")
                .await
                .map_err(doing("enabling"))?,
            Action::Disable => set_status(client, id, "disabled")
                .await
                .map_err(doing("disabling"))?,
            Action::Reload => {
                set_status(client, id, "disabled")
                    .await
                    .map_err(doing("disabling"))?;
                set_status(client, id, "enabled")
                    .await
                    .map_err(doing("enabling"))?;
            }
        }
    }
    Ok(())
}

/// `["db"."rp" "db2"."rp2"]`, as Go prints a slice of DBRPs.
pub fn dbrps_text(task: &Value) -> String {
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

/// `list tasks [pattern...]`: `%-{maxID+1}s%-10v%-10v%-10v%s`.
pub async fn list(
    client: &Client,
    patterns: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let tasks = Collection::TASKS.matching(client, patterns, false).await?;
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
pub fn rfc822(text: &str) -> String {
    let Ok(ts) = text.parse::<jiff::Timestamp>() else {
        return text.to_owned();
    };
    ts.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%d %b %y %H:%M %Z")
        .to_string()
}

/// `show [-replay ID] <id>`: Kapacitor's layout, the DOT graph last (with each node's counters
/// while the task runs).
pub async fn show(
    client: &Client,
    id: &str,
    replay: Option<&str>,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let mut path = format!("/tasks/{}", encode_path(id));
    if let Some(replay) = replay {
        path.push_str(&format!("?replay-id={}", encode_query(replay)));
    }
    let t = client.get(&path).await?;
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
    let _ = writeln!(out, "TICKscript:\n{}", s("script"));
    if let Some(vars) = t["vars"].as_object().filter(|v| !v.is_empty()) {
        let _ = writeln!(out, "Vars:");
        let _ = writeln!(out, "{:<30}{:<10}{:<40}", "Name", "Type", "Value");
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            let _ = writeln!(
                out,
                "{:<30}{:<10}{:<40}",
                name,
                var["type"].as_str().unwrap_or(""),
                var_text(&var["value"])
            );
        }
    }
    let _ = writeln!(out, "DOT:\n{}", s("dot"));
    Ok(())
}

/// A var's value as Kapacitor's CLI prints it: lists as `[a, b]`.
pub(crate) fn var_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| match &item["value"] {
                    Value::String(s) => s.clone(),
                    _ => "*".to_owned(),
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or_default()),
        other => other.to_string(),
    }
}

/// A float as Go's `%v` prints it: the shortest form, with an exponent (`1e+06`) when the
/// decimal exponent is below -4 or at least 6, as Go's `%g` at its shortest precision.
fn go_float(f: f64) -> String {
    let text = format!("{f:e}");
    let Some((mantissa, exp)) = text.split_once('e') else {
        return text;
    };
    let exp: i32 = exp.parse().unwrap_or_default();
    if f != 0.0 && !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

/// `delete tasks <pattern>...`: an argument that matches no task is an error naming it.
pub async fn delete(client: &Client, patterns: &[String]) -> Result<(), ClientError> {
    for task in Collection::TASKS.matching(client, patterns, true).await? {
        let id = task["id"].as_str().unwrap_or_default();
        client
            .delete(&format!("/tasks/{}", encode_path(id)))
            .await?;
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
        assert_eq!(
            parse_dbrp("telegraf").unwrap_err().to_string(),
            "invalid -dbrp \"telegraf\": does not contain a '.', it must be in the form \
             \"dbname\".\"rpname\" where the quotes are optional"
        );
        assert!(parse_dbrp("\"db\"rp").is_err());
        assert!(parse_dbrp("").is_err());
    }

    #[test]
    fn dbrps_print_like_go() {
        let t = json!({"dbrps": [{"db": "a", "rp": "b"}, {"db": "c", "rp": "d"}]});
        assert_eq!(dbrps_text(&t), "[\"a\".\"b\" \"c\".\"d\"]");
        assert_eq!(dbrps_text(&json!({"dbrps": []})), "[]");
    }

    #[test]
    fn var_lists_print_like_kapacitor() {
        assert_eq!(
            var_text(&json!([{"type": "string", "value": "host"}, {"type": "star"}])),
            "[host, *]"
        );
        assert_eq!(var_text(&json!(90)), "90");
        assert_eq!(var_text(&json!(90.0)), "90");
        assert_eq!(var_text(&json!(0.5)), "0.5");
        assert_eq!(var_text(&json!(1e6)), "1e+06");
        assert_eq!(var_text(&json!(0.00001)), "1e-05");
        assert_eq!(var_text(&json!(123456.5)), "123456.5");
    }
}
