//! Template commands: `define-template`, `show-template`, `list templates` and
//! `delete templates`, as Kapacitor's CLI has them.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::collection::Collection;
use super::tasks::{located, read_script, rfc822, var_text};
use crate::client::{Client, ClientError, StatusCode, encode_query};

/// `define-template ID [-tick FILE] [-type stream]`: creates the template, or changes what is
/// given of an existing one (the tasks made from it follow, as in Kapacitor).
pub async fn define(
    client: &Client,
    id: &str,
    tick: Option<&PathBuf>,
    kind: Option<&str>,
) -> Result<(), ClientError> {
    let script = tick.map(|path| read_script(path)).transpose()?;
    let shown = |e: ClientError| match (&script, tick) {
        (Some(script), Some(file)) => located(e, file, script),
        _ => e,
    };
    let path = format!("/templates/{}", encode_query(id));
    if client.get_optional(&path).await?.is_none() {
        let script = script.clone().ok_or_else(|| {
            ClientError::Usage(format!(
                "template {id:?} does not exist yet: define it with its TICKscript, \
                 klaxon define-template {id} -tick FILE -type stream"
            ))
        })?;
        // Without -type the server takes the script's (stream or batch).
        let mut body = json!({"id": id, "script": script});
        if let Some(kind) = kind {
            body["type"] = Value::String(kind.to_owned());
        }
        client
            .post("/templates", &body, &[StatusCode::OK])
            .await
            .map_err(shown)?;
        return Ok(());
    }
    let mut change = serde_json::Map::new();
    if let Some(script) = &script {
        change.insert("script".into(), Value::String(script.clone()));
    }
    if let Some(kind) = kind {
        change.insert("type".into(), Value::String(kind.to_owned()));
    }
    if change.is_empty() {
        return Ok(());
    }
    client
        .patch(&path, &Value::Object(change))
        .await
        .map_err(shown)
        .map(|_| ())
}

/// `list templates [pattern...]`: Kapacitor's `%-{maxID+1}s%-10v%-40v` table of ID, type and
/// the sorted var names.
pub async fn list(
    client: &Client,
    patterns: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let templates = Collection::TEMPLATES
        .matching(client, patterns, false)
        .await?;
    let width = templates
        .iter()
        .map(|t| t["id"].as_str().unwrap_or("").len())
        .fold(2, usize::max)
        + 1;
    let _ = writeln!(out, "{:<width$}{:<10}{:<40}", "ID", "Type", "Vars");
    for t in &templates {
        let mut vars: Vec<&str> = t["vars"]
            .as_object()
            .map(|v| v.keys().map(String::as_str).collect())
            .unwrap_or_default();
        vars.sort_unstable();
        let _ = writeln!(
            out,
            "{:<width$}{:<10}{:<40}",
            t["id"].as_str().unwrap_or(""),
            t["type"].as_str().unwrap_or(""),
            vars.join(",")
        );
    }
    Ok(())
}

/// `show-template ID`: Kapacitor's layout, with the vars' defaults (`<required>` for a var
/// without one) and descriptions.
pub async fn show(client: &Client, id: &str, out: &mut impl Write) -> Result<(), ClientError> {
    let t = client
        .get(&format!("/templates/{}", encode_query(id)))
        .await?;
    let s = |k: &str| t[k].as_str().unwrap_or("").to_owned();
    let _ = writeln!(out, "ID: {}", s("id"));
    let _ = writeln!(out, "Error: {}", s("error"));
    let _ = writeln!(out, "Type: {}", s("type"));
    let _ = writeln!(out, "Created: {}", rfc822(&s("created")));
    let _ = writeln!(out, "Modified: {}", rfc822(&s("modified")));
    let _ = writeln!(out, "TICKscript:\n{}", s("script"));
    let _ = writeln!(out, "Vars:");
    let _ = writeln!(
        out,
        "{:<30}{:<10}{:<40}{:<40}",
        "Name", "Type", "Default Value", "Description"
    );
    if let Some(vars) = t["vars"].as_object() {
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            let value = match &var["value"] {
                Value::Null => "<required>".to_owned(),
                value => var_text(value),
            };
            let _ = writeln!(
                out,
                "{:<30}{:<10}{:<40}{:<40}",
                name,
                var["type"].as_str().unwrap_or(""),
                value,
                var["description"].as_str().unwrap_or("")
            );
        }
    }
    let _ = writeln!(out, "DOT:\n{}", s("dot"));
    Ok(())
}

/// `delete templates PATTERN...`: an argument that matches no template is an error naming it.
pub async fn delete(client: &Client, patterns: &[String]) -> Result<(), ClientError> {
    for t in Collection::TEMPLATES
        .matching(client, patterns, true)
        .await?
    {
        let id = t["id"].as_str().unwrap_or_default();
        client
            .delete(&format!("/templates/{}", encode_query(id)))
            .await?;
    }
    Ok(())
}
