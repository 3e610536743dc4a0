//! `GET /metrics`: the server's counters for Prometheus.
//!
//! Prometheus asks for OpenMetrics 1.0 in its `Accept` header and gets it; every other client
//! (curl, `promtool check metrics`, Telegraf's prometheus input) gets the classic text format
//! 0.0.4, which differs only in naming counter families with their `_total` suffix and in
//! having no `# EOF` line.
//!
//! Nothing is counted twice: the engine, the task manager and the write path keep their own
//! counters, and a scrape reads them through a [`Collector`] and encodes them with the Prometheus
//! project's `prometheus-client` crate.

use std::fmt;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use klaxon_core::Level;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::AppState;
use super::error::ApiError;

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of Prometheus' classic text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(state)));
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, &registry)
        .map_err(|e| ApiError::internal(format!("encoding metrics failed: {e}")))?;
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if wants_openmetrics {
        (body, OPENMETRICS)
    } else {
        (to_prometheus_text(&body), PROMETHEUS_TEXT)
    };
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// Rewrites OpenMetrics text as Prometheus text 0.0.4: a counter family `x` (samples `x_total`)
/// is described as `x_total`, and the `# EOF` marker goes. Everything else is the same in both.
fn to_prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // HELP comes before TYPE, so a family's HELP line waits until its type is known.
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest.split_once(' ').or(Some((rest, "")));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let suffix = if kind == "counter" { "_total" } else { "" };
            if let Some((help_name, text)) = help.take().filter(|(n, _)| *n == name) {
                out.push_str(&format!("# HELP {help_name}{suffix} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name}{suffix} {kind}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Reads one outcome counter of a (topic, handler) pair.
type Outcome = fn(&klaxon_engine::HandlerStats) -> u64;

/// One scrape's view of the server.
struct Scrape(AppState);

impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrape")
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let state = &self.0;
        let kinds = state.registry.kind_list();
        gauges(
            &mut encoder,
            "klaxon_build_info",
            "Klaxon's version and the handler kinds linked into this binary; always 1.",
            [(
                [
                    ("version", env!("CARGO_PKG_VERSION")),
                    ("kapacitor_api", super::KAPACITOR_COMPAT_VERSION),
                    ("handlers", kinds.as_str()),
                ],
                1,
            )],
        )?;
        gauges(
            &mut encoder,
            "klaxon_start_time_seconds",
            "When the process started, in seconds since the Unix epoch.",
            [(
                [("process", "klaxond")],
                state.facts.started.as_nanos() / 1_000_000_000,
            )],
        )?;

        let ingress = state.ingress.snapshot();
        let dbrp = |(db, rp): &(String, String)| [("db", db.clone()), ("rp", rp.clone())];
        counters(
            &mut encoder,
            "klaxon_points_received",
            "Points accepted by /write, per database and retention policy.",
            ingress.iter().map(|(k, c)| (dbrp(k), c.received)),
        )?;
        counters(
            &mut encoder,
            "klaxon_points_rejected",
            "Lines of write bodies refused whole (bad line protocol, too large, or 503).",
            ingress.iter().map(|(k, c)| (dbrp(k), c.rejected)),
        )?;

        counters(
            &mut encoder,
            "klaxon_auth_failures",
            "Requests refused by authentication: missing, wrong or malformed credentials, too \
             little permission, a client over [http] max-auth-failures (throttled), or too many \
             checks at once (busy).",
            state
                .auth
                .snapshot()
                .into_iter()
                .map(|(reason, n)| ([("reason", reason.as_str())], n)),
        )?;
        let c = &state.connections;
        gauges(
            &mut encoder,
            "klaxon_http_connections",
            "HTTP connections open now.",
            [(
                [("listener", "api")],
                i64::try_from(c.open.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
            )],
        )?;
        counters(
            &mut encoder,
            "klaxon_http_connections_closed",
            "Connections the server closed: a head slower than [http] header-timeout, idle past \
             idle-timeout, a body slower than body-timeout, closed to make room at \
             max-connections (evicted), refused at max-connections, or a failed TLS handshake.",
            [
                ("header_timeout", &c.header_timeouts),
                ("idle_timeout", &c.idle_timeouts),
                ("body_timeout", &c.body_timeouts),
                ("evicted", &c.evicted),
                ("refused", &c.refused),
                ("tls_handshake", &c.tls_failures),
            ]
            .map(|(reason, n)| ([("reason", reason)], n.load(Ordering::Relaxed))),
        )?;

        let tasks = state.tasks.stats();
        gauges(
            &mut encoder,
            "klaxon_task_executing",
            "1 when the task runs, 0 when it is disabled or failed to start.",
            tasks
                .iter()
                .map(|t| ([("task", t.id.as_str())], i64::from(t.executing))),
        )?;
        counters(
            &mut encoder,
            "klaxon_task_points",
            "Points that reached the task.",
            tasks.iter().map(|t| ([("task", t.id.as_str())], t.points)),
        )?;
        counters(
            &mut encoder,
            "klaxon_task_errors",
            "Points a node of the task dropped with an error (a missing field...).",
            tasks.iter().map(|t| ([("task", t.id.as_str())], t.errors)),
        )?;
        counters(
            &mut encoder,
            "klaxon_task_series_dropped",
            "Points of a series new to a node of the task that already held [limits] max-series series, dropped there.",
            tasks
                .iter()
                .map(|t| ([("task", t.id.as_str())], t.series_dropped)),
        )?;
        counters(
            &mut encoder,
            "klaxon_alerts",
            "Alert events emitted by the task's alert nodes, per level.",
            tasks.iter().flat_map(|t| {
                Level::ALL
                    .iter()
                    .zip(t.alerts)
                    .map(|(level, n)| ([("task", t.id.clone()), ("level", level.to_string())], n))
            }),
        )?;

        let deliveries = state.alerts.stats().snapshot();
        let pair = |s: &klaxon_engine::HandlerStats| {
            [
                ("topic", s.topic.clone()),
                ("handler", s.handler.clone()),
                ("kind", s.kind.clone()),
            ]
        };
        let outcomes: [(&str, &str, Outcome); 6] = [
            (
                "klaxon_events_delivered",
                "Events the handler accepted.",
                |s| s.delivered,
            ),
            (
                "klaxon_events_failed",
                "Events that failed on their last attempt.",
                |s| s.failed,
            ),
            (
                "klaxon_events_dropped",
                "Events dropped: the handler's queue was full, or the shutdown deadline passed.",
                |s| s.dropped,
            ),
            (
                "klaxon_events_filtered",
                "Events the handler's match expression filtered out.",
                |s| s.filtered,
            ),
            (
                "klaxon_events_retried",
                "Retries after failed attempts.",
                |s| s.retried,
            ),
            (
                "klaxon_events_redelivered",
                "Events delivered again after a restart: the last run left them in the outbox, \
                 maybe after delivering them (receivers drop duplicates by Idempotency-Key).",
                |s| s.redelivered,
            ),
        ];
        for (name, help, value) in outcomes {
            counters(
                &mut encoder,
                name,
                help,
                deliveries.iter().map(|s| (pair(s), value(s))),
            )?;
        }
        gauges(
            &mut encoder,
            "klaxon_queue_depth",
            "Events waiting in the handler's queue.",
            state.alerts.queue_depths().into_iter().map(|q| {
                (
                    [("topic", q.topic), ("handler", q.handler), ("kind", q.kind)],
                    i64::try_from(q.depth).unwrap_or(i64::MAX),
                )
            }),
        )?;
        outbox(&mut encoder, state.alerts.outbox_stats())?;
        kafka(&mut encoder, &state.kafka)?;
        gauges(
            &mut encoder,
            "klaxon_silences",
            "Silences by state: active (silencing now), pending (not started), expired (kept \
             until [alert] silence-retention has passed).",
            state.alerts.silence_counts().into_iter().map(|(s, n)| {
                (
                    [("state", s.as_str())],
                    i64::try_from(n).unwrap_or(i64::MAX),
                )
            }),
        )?;
        counters(
            &mut encoder,
            "klaxon_events_silenced",
            "Events a silence kept from every handler of the topic.",
            state
                .alerts
                .silenced_events()
                .into_iter()
                .map(|(topic, n)| ([("topic", topic)], n)),
        )?;
        let latencies = state.alerts.stats().latencies();
        let mut family = encoder.encode_descriptor(
            "klaxon_delivery_latency_seconds",
            "Seconds from queueing an event to its successful delivery, retries included.",
            None,
            MetricType::Histogram,
        )?;
        for (kind, histogram) in &latencies {
            histogram.encode(family.encode_family(&[("kind", kind.as_str())])?)?;
        }
        Ok(())
    }
}

fn counters<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, u64)>,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// The outbox of durable delivery (`[alert] durable-delivery`): what it holds, its bound, how
/// long its oldest event has waited, and what the last run left in it.
fn outbox(encoder: &mut DescriptorEncoder<'_>, stats: klaxon_engine::OutboxStats) -> fmt::Result {
    if !stats.enabled {
        return Ok(());
    }
    let none: [(&str, &str); 0] = [];
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    for (name, help, value) in [
        (
            "klaxon_outbox_entries",
            "Events waiting in the outbox for delivery, one per (event, handler).",
            stats.entries,
        ),
        (
            "klaxon_outbox_bytes",
            "Bytes of the events waiting in the outbox.",
            stats.bytes,
        ),
        (
            "klaxon_outbox_max_bytes",
            "[alert] outbox-max-bytes: past it, [alert] queue-full decides.",
            stats.max_bytes,
        ),
        (
            "klaxon_outbox_recovered_entries",
            "Entries the last run left in the outbox, found at start and delivered again.",
            stats.recovered,
        ),
        (
            "klaxon_outbox_unreadable_entries",
            "Outbox entries that did not decode at start and were removed (logged).",
            stats.unreadable,
        ),
    ] {
        gauges(encoder, name, help, [(none, count(value))])?;
    }
    let mut family = encoder.encode_descriptor(
        "klaxon_outbox_oldest_age_seconds",
        "How long the oldest event in the outbox has waited (0 when it is empty).",
        None,
        MetricType::Gauge,
    )?;
    let age = stats.oldest_age.map_or(0.0, |d| d.as_secs_f64());
    ConstGauge::new(age).encode(family.encode_family(&none)?)?;
    Ok(())
}

/// The `[[kafka-consumer]]` sources: messages and points taken, messages skipped, rebalances,
/// and per owned partition the messages not processed yet (what Kafka calls the lag).
fn kafka(encoder: &mut DescriptorEncoder<'_>, consumers: &crate::kafka::KafkaStats) -> fmt::Result {
    if consumers.is_empty() {
        return Ok(());
    }
    use std::sync::atomic::Ordering::Relaxed;
    for (name, help, read) in [
        (
            "klaxon_kafka_messages",
            "Kafka messages processed, by consumer group.",
            (|s| s.messages.load(Relaxed)) as fn(&klaxon_kafka::ConsumerStats) -> u64,
        ),
        ("klaxon_kafka_points", "Points those messages held.", |s| {
            s.points.load(Relaxed)
        }),
        (
            "klaxon_kafka_messages_malformed",
            "Kafka messages skipped because they are not valid line protocol (each logged, at a bounded rate).",
            |s| s.malformed.load(Relaxed),
        ),
        (
            "klaxon_kafka_rebalances",
            "Generations of the consumer group this member joined.",
            |s| s.rebalances.load(Relaxed),
        ),
    ] {
        counters(
            encoder,
            name,
            help,
            consumers
                .iter()
                .map(|m| ([("group", m.group.clone())], read(&m.stats))),
        )?;
    }
    let rows: Vec<_> = consumers
        .iter()
        .flat_map(|m| {
            m.stats
                .partitions()
                .into_iter()
                .map(move |((topic, partition), lag)| {
                    (
                        [
                            ("group", m.group.clone()),
                            ("topic", topic),
                            ("partition", partition.to_string()),
                        ],
                        lag.lag(),
                    )
                })
        })
        .collect();
    gauges(
        encoder,
        "klaxon_kafka_lag_messages",
        "Messages of each partition this member owns that it has not processed yet.",
        rows,
    )
}

fn gauges<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, i64)>,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_renamed_for_the_classic_format() {
        let openmetrics = "# HELP x_events Events.\n# TYPE x_events counter\n\
                           x_events_total{k=\"v\"} 3\n\
                           # HELP x_depth Depth.\n# TYPE x_depth gauge\nx_depth 1\n# EOF\n";
        assert_eq!(
            to_prometheus_text(openmetrics),
            "# HELP x_events_total Events.\n# TYPE x_events_total counter\n\
             x_events_total{k=\"v\"} 3\n\
             # HELP x_depth Depth.\n# TYPE x_depth gauge\nx_depth 1\n"
        );
    }
}
