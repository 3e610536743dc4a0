//! Commands about the server itself: `stats general|ingress`, `vars`, `level`, `backup`.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::client::{Client, ClientError, Method, StatusCode};

/// How long a backup download may take: the database may be large.
const BACKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// `stats general`: Kapacitor's `%-30s%-30v` summary of `/debug/vars`.
pub async fn stats_general(client: &Client, out: &mut impl Write) -> Result<(), ClientError> {
    let vars = client.get("/debug/vars").await?;
    let text = |key: &str| vars[key].as_str().unwrap_or_default().to_owned();
    let number = |key: &str| vars[key].as_i64().unwrap_or_default();
    let rows = [
        ("ClusterID:", text("cluster_id")),
        ("ServerID:", text("server_id")),
        ("Host:", text("host")),
        ("Tasks:", number("num_tasks").to_string()),
        ("Enabled Tasks:", number("num_enabled_tasks").to_string()),
        ("Subscriptions:", number("num_subscriptions").to_string()),
        ("Platform:", text("platform")),
        ("Version:", text("version")),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "{name:<30}{value:<30}");
    }
    Ok(())
}

/// One row of `stats ingress`.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct IngressRow {
    database: String,
    retention_policy: String,
    measurement: String,
    points: i64,
}

/// `stats ingress`: the `ingress` statistics of the main task master, by database, retention
/// policy and measurement, sorted, in Kapacitor's columns.
pub async fn stats_ingress(client: &Client, out: &mut impl Write) -> Result<(), ClientError> {
    let vars = client.get("/debug/vars").await?;
    let mut rows: Vec<IngressRow> = vars["kapacitor"]
        .as_object()
        .into_iter()
        .flat_map(|stats| stats.values())
        .filter(|stat| stat["name"] == "ingress" && stat["tags"]["task_master"] == "main")
        .map(|stat| {
            let tag = |key: &str| stat["tags"][key].as_str().unwrap_or_default().to_owned();
            IngressRow {
                database: tag("database"),
                retention_policy: tag("retention_policy"),
                measurement: tag("measurement"),
                points: stat["values"]["points_received"]
                    .as_f64()
                    .unwrap_or_default() as i64,
            }
        })
        .collect();
    rows.sort();
    let db = rows.iter().map(|r| r.database.len()).fold(8, usize::max) + 1;
    let rp = rows
        .iter()
        .map(|r| r.retention_policy.len())
        .fold(16, usize::max)
        + 1;
    let m = rows
        .iter()
        .map(|r| r.measurement.len())
        .fold(11, usize::max)
        + 1;
    let _ = writeln!(
        out,
        "{:<db$}{:<rp$}{:<m$}Points Received",
        "Database", "Retention Policy", "Measurement"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<db$}{:<rp$}{:<m$}{:>15}",
            row.database, row.retention_policy, row.measurement, row.points
        );
    }
    Ok(())
}

/// `vars`: the server's `/debug/vars` document as it sent it.
pub async fn vars(client: &Client, out: &mut impl Write) -> Result<(), ClientError> {
    let response = client
        .raw(
            Method::GET,
            "/kapacitor/v1/debug/vars",
            None,
            Some(std::time::Duration::from_secs(60)),
        )
        .await?;
    let body = response
        .bytes()
        .await
        .map_err(|e| ClientError::server(format!("reading the debug vars: {e}")))?;
    let _ = out.write_all(&body);
    if !body.ends_with(b"\n") {
        let _ = writeln!(out);
    }
    Ok(())
}

/// `level LEVEL`: `POST /kapacitor/v1/loglevel`, which changes the running server's log level.
pub async fn level(client: &Client, level: &str) -> Result<(), ClientError> {
    client
        .post(
            "/loglevel",
            &json!({ "level": level }),
            &[StatusCode::NO_CONTENT],
        )
        .await
        .map(|_: Value| ())
        .map_err(|e| {
            if e.is_missing_route() {
                ClientError::server(
                    "this server cannot change its log level (no /kapacitor/v1/loglevel)",
                )
            } else {
                e
            }
        })
}

/// `backup FILE`: `GET /kapacitor/v1/storage/backup` into FILE, checked against the size the
/// server announced, as Kapacitor's CLI does.
pub async fn backup(client: &Client, file: &Path) -> Result<(), ClientError> {
    let response = client
        .raw(
            Method::GET,
            "/kapacitor/v1/storage/backup",
            None,
            Some(BACKUP_TIMEOUT),
        )
        .await
        .map_err(|e| match e {
            ClientError::Server { status, message } => ClientError::Server {
                status,
                message: format!("failed to perform backup: {message}"),
            },
            other => other,
        })?;
    let size = response.content_length();
    let body = response
        .bytes()
        .await
        .map_err(|e| ClientError::server(format!("failed to download the backup: {e}")))?;
    if let Some(size) = size
        && size != body.len() as u64
    {
        return Err(ClientError::server(format!(
            "failed to download entire backup, only wrote {} bytes out of a total {size} bytes",
            body.len()
        )));
    }
    std::fs::write(file, &body).map_err(|e| {
        ClientError::Input(format!(
            "failed to save backup to {}: {e}; check the path",
            file.display()
        ))
    })
}
