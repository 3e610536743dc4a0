//! `define-topic-handler FILE`, `list topic-handlers [topic-pattern] [handler-pattern...]`,
//! `show-topic-handler TOPIC ID` and `delete topic-handlers TOPIC PATTERN...`.

use std::io::Write;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Map, Value};

use super::topics::{matching, str_of};
use crate::client::{Client, ClientError, encode_query};
use crate::render;

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

/// `delete topic-handlers TOPIC PATTERN...`: an argument that matches no handler of the topic
/// is an error naming it (Kapacitor's CLI says nothing, the trap of its issue 2025).
pub async fn delete(client: &Client, topic: &str, patterns: &[String]) -> Result<(), ClientError> {
    let mut found = Vec::new();
    for pattern in patterns {
        let matched = handlers(client, topic, pattern).await?;
        if matched.is_empty() {
            return Err(super::nothing_matched(
                &format!("handler of topic {topic:?}"),
                pattern,
                &format!("klaxon list topic-handlers {topic}"),
            ));
        }
        found.extend(matched);
    }
    for h in found {
        client
            .delete(&format!(
                "/alerts/topics/{}/handlers/{}",
                encode_query(topic),
                encode_query(&str_of(&h, "id"))
            ))
            .await?;
    }
    Ok(())
}

/// A handler file: where it is, its text and its JSON.
#[derive(Debug)]
pub struct HandlerFile {
    path: String,
    text: String,
    /// The spec: topic, id, kind, options, match.
    pub spec: Value,
}

impl HandlerFile {
    /// `message` about key `key` (within `within`, such as `options`), shown at its line in the
    /// file with a caret; at the file alone when the key cannot be found.
    fn at_key(&self, message: &str, key: &str, within: Option<&str>) -> String {
        match render::find_key(&self.text, key, within) {
            Some((line, column)) => render::at(message, &self.path, &self.text, line, column),
            None => format!("{message}\n --> {}", self.path),
        }
    }

    /// A server's refusal of the spec, pointed at the key of the file it is about.
    fn explain(&self, message: &str) -> String {
        if let Some(key) =
            quoted_after(message, "unknown option ").or_else(|| quoted_after(message, "option "))
        {
            let key = key.split(['.', '[']).next().unwrap_or(&key).to_owned();
            return self.at_key(message, &key, Some("options"));
        }
        if message.contains(": program \"") {
            return self.at_key(message, "prog", Some("options"));
        }
        if message.contains("match expression") || message.contains("match:") {
            if let (Some((line, column)), Some((key_line, key_column))) = (
                render::position(message),
                render::find_key(&self.text, "match", None),
            ) {
                let value_column = self.value_column(key_line, key_column);
                let column = if line == 1 {
                    value_column + column - 1
                } else {
                    column
                };
                return render::at(message, &self.path, &self.text, key_line + line - 1, column);
            }
            return self.at_key(message, "match", None);
        }
        for (words, key) in [
            ("handler ID", "id"),
            ("handler topic", "topic"),
            ("kind", "kind"),
            ("options", "options"),
        ] {
            if message.contains(words) {
                return self.at_key(message, key, None);
            }
        }
        format!("{message}\n --> {}", self.path)
    }

    /// The column where the value of the key at (`line`, `column`) starts, past `key:`, spaces
    /// and an opening quote.
    fn value_column(&self, line: usize, column: usize) -> usize {
        let Some(text) = self.text.lines().nth(line - 1) else {
            return column;
        };
        let chars: Vec<char> = text.chars().collect();
        let mut at = column - 1;
        while at < chars.len() && chars[at] != ':' {
            at += 1;
        }
        at += 1;
        while at < chars.len() && (chars[at] == ' ' || chars[at] == '\'' || chars[at] == '"') {
            at += 1;
        }
        at + 1
    }
}

/// The first double-quoted word after `prefix` in `message`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(&format!("{prefix}\""))? + prefix.len() + 1..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Reads a handler file (YAML, or JSON, which YAML reads too) and checks its shape: topic, id
/// and kind strings, options a mapping, match a string. Errors name the file, line and key.
pub fn read_file(path: &Path) -> Result<HandlerFile, ClientError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ClientError::Input(format!(
            "cannot read handler file {name}: {e}; check the path"
        ))
    })?;
    let spec: Value = yaml_serde::from_str(&text).map_err(|e| {
        let message = format!("invalid handler file {name}: {e}");
        ClientError::Input(match e.location() {
            Some(at) => render::at(&message, &name, &text, at.line(), at.column()),
            None => message,
        })
    })?;
    let file = HandlerFile {
        path: name.clone(),
        text,
        spec,
    };
    if !file.spec.is_object() {
        return Err(ClientError::Input(format!(
            "invalid handler file {name}: expected a mapping with topic, id, kind, options and \
             match, such as:\n  topic: cpu\n  id: my-handler\n  kind: tcp\n  options:\n    \
             address: 127.0.0.1:7777"
        )));
    }
    let bad = |key: &str, why: &str| {
        ClientError::Input(file.at_key(&format!("invalid handler file {name}: {why}"), key, None))
    };
    for key in ["topic", "id", "kind"] {
        match file.spec.get(key) {
            None | Some(Value::Null) => {
                return Err(ClientError::Input(format!(
                    "invalid handler file {name}: {key} is required (write it like \
                     `{key}: example`)\n --> {name}"
                )));
            }
            Some(Value::String(s)) if s.is_empty() => {
                return Err(bad(key, &format!("{key} must not be empty")));
            }
            Some(Value::String(_)) => {}
            Some(other) => {
                return Err(bad(
                    key,
                    &format!("{key} must be a string, found {}", type_name(other)),
                ));
            }
        }
    }
    match file.spec.get("options") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(other) => {
            return Err(bad(
                "options",
                &format!(
                    "options must be a mapping of option names to values, found {}",
                    type_name(other)
                ),
            ));
        }
    }
    match file.spec.get("match") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(other) => {
            return Err(bad(
                "match",
                &format!(
                    "match must be a string (a lambda expression such as \
                     changed() == TRUE), found {}",
                    type_name(other)
                ),
            ));
        }
    }
    Ok(file)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// `define-topic-handler FILE`: GET the handler, then POST it if absent or PUT it if present.
/// A refusal is shown at the line of the file it is about.
pub async fn define(client: &Client, path: &Path) -> Result<(), ClientError> {
    let file = read_file(path)?;
    let topic = str_of(&file.spec, "topic");
    let id = str_of(&file.spec, "id");
    let handler_path = format!(
        "/alerts/topics/{}/handlers/{}",
        encode_query(&topic),
        encode_query(&id)
    );
    let explained = |e: ClientError| match e {
        ClientError::Server { status, message } if status != 0 && status != 401 => {
            ClientError::Server {
                status,
                message: file.explain(&message),
            }
        }
        other => other,
    };
    if client.get_optional(&handler_path).await?.is_some() {
        client
            .put(&handler_path, &file.spec)
            .await
            .map_err(explained)?;
    } else {
        client
            .post(
                &format!("/alerts/topics/{}/handlers", encode_query(&topic)),
                &file.spec,
                &[StatusCode::OK],
            )
            .await
            .map_err(explained)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> HandlerFile {
        HandlerFile {
            path: "h.yaml".into(),
            text: text.into(),
            spec: yaml_serde::from_str(text).unwrap(),
        }
    }

    #[test]
    fn refusals_point_at_the_key_of_the_file() {
        let f = file("id: x\ntopic: cpu\nkind: tcp\noptions:\n  adress: 127.0.0.1:7777\n");
        assert_eq!(
            f.explain(
                "failed to create handler: tcp: unknown option \"adress\", expected one of: address"
            ),
            "failed to create handler: tcp: unknown option \"adress\", expected one of: address\n \
             --> h.yaml:5:3\n  |\n5 |   adress: 127.0.0.1:7777\n  |   ^"
        );
        let f = file("id: x\ntopic: cpu\nkind: tcp\nmatch: \"level() = 1\"\n");
        assert_eq!(
            f.explain("invalid match expression: line 1, column 9: '=' is not a comparison"),
            "invalid match expression: line 1, column 9: '=' is not a comparison\n \
             --> h.yaml:4:17\n  |\n4 | match: \"level() = 1\"\n  |                 ^"
        );
    }
}
