//! `klaxon list service-tests [pattern]` and `klaxon service-tests <name-or-glob>...`.

use std::io::Write;

use reqwest::StatusCode;
use serde_json::Value;

use crate::client::{Client, ClientError, encode_query};

/// The names of the services matching `pattern` (`*` for all).
async fn names(client: &Client, pattern: &str) -> Result<Vec<String>, ClientError> {
    let list = client
        .get(&format!("/service-tests?pattern={}", encode_query(pattern)))
        .await?;
    Ok(list
        .get("services")
        .and_then(Value::as_array)
        .map(|services| {
            services
                .iter()
                .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// `list service-tests [pattern...]`: a `Service Name` header, then one name per line.
pub async fn list(
    client: &Client,
    patterns: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let patterns = if patterns.is_empty() {
        vec!["*".to_owned()]
    } else {
        patterns.to_vec()
    };
    let mut all = Vec::new();
    for pattern in &patterns {
        for name in names(client, pattern).await? {
            if !all.contains(&name) {
                all.push(name);
            }
        }
    }
    all.sort();
    let _ = writeln!(out, "Service Name");
    for name in all {
        let _ = writeln!(out, "{name}");
    }
    Ok(())
}

/// `service-tests <name-or-pattern>...`: runs each matching test with its default options.
pub async fn run(
    client: &Client,
    patterns: &[String],
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let _ = writeln!(out, "{:<20}{:<10}Message", "Service", "Success");
    for pattern in patterns {
        for name in names(client, pattern).await? {
            let result = client
                .post(
                    &format!("/service-tests/{name}"),
                    &Value::Null,
                    &[StatusCode::OK],
                )
                .await?;
            let success = result
                .get("success")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let message = result
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let _ = writeln!(out, "{name:<20}{success:<10}{message}");
        }
    }
    Ok(())
}
