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

/// `service-tests [-options JSON] <name-or-pattern>...`: runs each matching test, with the
/// given options (a JSON object, decoded by each service into its defaults) or its defaults,
/// and prints Kapacitor's table. A name that matches no service is an error, and so is a test
/// that failed (exit 3 after the table), where Kapacitor's CLI exits 0: a script can rely on
/// the exit status.
pub async fn run(
    client: &Client,
    patterns: &[String],
    options: Option<&str>,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let body = match options {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => value,
            Ok(_) | Err(_) => {
                return Err(ClientError::Usage(format!(
                    "-options {text:?} is not a JSON object; write it like \
                     '{{\"address\":\"127.0.0.1:7777\"}}'"
                )));
            }
        },
        None => Value::Null,
    };
    let mut services = Vec::new();
    for pattern in patterns {
        let found = names(client, pattern).await?;
        if found.is_empty() {
            return Err(super::nothing_matched(
                "service test",
                pattern,
                "klaxon list service-tests",
            ));
        }
        services.extend(found);
    }
    let mut results = Vec::new();
    for name in &services {
        let result = client
            .post(&format!("/service-tests/{name}"), &body, &[StatusCode::OK])
            .await?;
        let success = result
            .get("success")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let message = result
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        results.push((name, success, message));
    }
    let _ = writeln!(out, "{:<20}{:<10}Message", "Service", "Success");
    for (name, success, message) in &results {
        let _ = writeln!(out, "{name:<20}{success:<10}{message}");
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, success, _)| !success)
        .map(|(name, _, _)| name.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    let hint = if options.is_none() {
        "; a test may need options, such as -options '{\"address\":\"127.0.0.1:7777\"}' for \
         tcp (a test's options and their defaults: GET /kapacitor/v1/service-tests/<name>)"
    } else {
        ""
    };
    Err(ClientError::server(format!(
        "service test failed: {}{hint}",
        failed.join(", ")
    )))
}
