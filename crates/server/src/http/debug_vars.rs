//! `GET /kapacitor/v1/debug/vars`: Kapacitor's statistics document, as Telegraf's `kapacitor`
//! input and Kapacitor's dashboards read it: `num_tasks`, `num_enabled_tasks`, `version`,
//! `host`, and the `kapacitor` map of `{name, tags, values}` objects ("ingress" points per
//! database, retention policy and measurement, "nodes" alert counts per task). Klaxon adds
//! points received and rejected per database ("ingress_dbrp"), delivery counters per handler
//! ("handlers") and a `klaxon` object with the exposure facts an operator should see (whether
//! the API is reachable from the network without authentication).
//!
//! Go's runtime `memstats` has no Rust counterpart and is left out; Telegraf skips it when
//! absent.

use axum::extract::State;
use axum::response::Response;
use klaxon_core::{Level, Timestamp};
use serde_json::{Map, Value, json};

use super::AppState;
use super::respond::pretty;

/// Facts about this process that the statistics report.
#[derive(Debug, Clone)]
pub struct ServerFacts {
    /// When the server started.
    pub started: Timestamp,
    /// This host's name.
    pub host: String,
    /// The cluster and server IDs kept in `klaxon.db` (templates' `.ServerInfo`).
    pub ids: klaxon_engine::ServerIds,
    /// The command line.
    pub cmdline: Vec<String>,
    /// The address the API listens on.
    pub bind_address: String,
    /// Whether `[http] auth-enabled` is on.
    pub auth_enabled: bool,
}

impl ServerFacts {
    /// Whether the API is reachable beyond this host without authentication.
    pub fn exposed_without_auth(&self) -> bool {
        !self.auth_enabled
            && self
                .bind_address
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| !a.ip().is_loopback())
    }
}

/// `GET /kapacitor/v1/debug/vars`.
pub async fn debug_vars(State(state): State<AppState>) -> Response {
    let facts = &state.facts;
    let host = facts.host.as_str();
    let mut stats = Map::new();
    for ((db, rp), counts) in state.ingress.snapshot() {
        stats.insert(
            format!("ingress:{db}.{rp}"),
            json!({
                "name": "ingress_dbrp",
                "tags": {"database": db, "retention_policy": rp, "host": host},
                "values": {"points_received": counts.received, "points_rejected": counts.rejected},
            }),
        );
    }
    // Kapacitor's own statistics, which `kapacitor stats ingress` reads: points by database,
    // retention policy and measurement.
    for ((db, rp, measurement), points) in state.ingress.by_measurement() {
        stats.insert(
            format!("ingress:{db}.{rp}.{measurement}"),
            json!({
                "name": "ingress",
                "tags": {
                    "database": db, "retention_policy": rp, "measurement": measurement,
                    "task_master": "main", "host": host,
                },
                "values": {"points_received": points},
            }),
        );
    }
    let tasks = state.tasks.stats();
    for task in &tasks {
        let [ok, info, warn, crit] = task.alerts;
        stats.insert(
            format!("nodes:{}", task.id),
            json!({
                "name": "nodes",
                "tags": {"task": task.id, "kind": "alert", "type": task.kind, "host": host},
                "values": {
                    "alerts_triggered": ok + info + warn + crit,
                    "oks_triggered": ok,
                    "infos_triggered": info,
                    "warns_triggered": warn,
                    "crits_triggered": crit,
                    "points_received": task.points,
                    "errors": task.errors,
                },
            }),
        );
    }
    for s in state.alerts.stats().snapshot() {
        stats.insert(
            format!("handlers:{}:{}", s.topic, s.handler),
            json!({
                "name": "handlers",
                "tags": {"topic": s.topic, "handler": s.handler, "kind": s.kind, "host": host},
                "values": {
                    "delivered": s.delivered,
                    "failed": s.failed,
                    "dropped": s.dropped,
                    "filtered": s.filtered,
                    "retried": s.retried,
                },
            }),
        );
    }
    let uptime = Timestamp::now().as_nanos() - facts.started.as_nanos();
    let body = json!({
        "cluster_id": facts.ids.cluster_id,
        "cmdline": facts.cmdline,
        "host": host,
        "kapacitor": Value::Object(stats),
        "num_enabled_tasks": tasks.iter().filter(|t| t.executing).count(),
        "num_subscriptions": state.subscriptions.total(),
        "num_tasks": tasks.len(),
        "platform": "Klaxon",
        "product": "klaxon",
        "server_id": facts.ids.server_id,
        "uptime": uptime / 1_000_000_000,
        "version": env!("CARGO_PKG_VERSION"),
        "klaxon": {
            "kapacitor_api": super::KAPACITOR_COMPAT_VERSION,
            "handler_kinds": state.registry.kinds().collect::<Vec<_>>(),
            "bind_address": facts.bind_address,
            "auth_enabled": facts.auth_enabled,
            "exposed_without_auth": facts.exposed_without_auth(),
            "alerts_by_level": Level::ALL.iter().enumerate().map(|(i, l)| {
                (l.to_string(), Value::from(tasks.iter().map(|t| t.alerts[i]).sum::<u64>()))
            }).collect::<Map<String, Value>>(),
        },
    });
    pretty(axum::http::StatusCode::OK, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_beyond_loopback_without_auth_is_reported_exposed() {
        let facts = |bind_address: &str, auth_enabled| ServerFacts {
            started: Timestamp::now(),
            host: "h".into(),
            ids: klaxon_engine::ServerIds::default(),
            cmdline: Vec::new(),
            bind_address: bind_address.into(),
            auth_enabled,
        };
        assert!(facts("0.0.0.0:9092", false).exposed_without_auth());
        assert!(facts("10.1.2.3:9092", false).exposed_without_auth());
        assert!(!facts("0.0.0.0:9092", true).exposed_without_auth());
        assert!(!facts("127.0.0.1:9092", false).exposed_without_auth());
        assert!(!facts("[::1]:9092", false).exposed_without_auth());
    }
}
