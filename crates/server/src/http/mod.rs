//! The HTTP API (Kapacitor's routes under `/kapacitor/v1`), on axum.

pub mod auth;
mod backup;
mod cluster;
pub mod config_api;
mod console;
pub mod cross_site;
pub mod debug_vars;
mod diagnostics;
mod error;
mod handlers;
mod history;
pub mod ingress;
mod listing;
mod metrics;
mod ping;
mod recordings;
pub mod respond;
pub mod serve;
mod service_tests;
mod silences;
mod stream_list;
mod task_graph;
mod tasks;
mod templates;
pub mod tls_listener;
mod topics;
pub mod write;
pub mod write_gate;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

pub use error::ApiError;

use klaxon_engine::{AlertService, Services};

/// The Kapacitor API version Klaxon answers as, in `X-Kapacitor-Version`, for clients that check.
pub const KAPACITOR_COMPAT_VERSION: &str = "1.7.7";

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The running handler services, by kind.
    pub services: Arc<Services>,
    /// Topics, topic handlers and their delivery.
    pub alerts: AlertService,
    /// Stream tasks.
    pub tasks: klaxon_engine::tasks::TaskManager,
    /// Recordings and replays.
    pub recordings: klaxon_engine::recordings::Recordings,
    /// `[http] max-body-size`, for writes.
    pub max_body_size: usize,
    /// Whether the testing route that posts raw events into a topic is on.
    pub test_events: bool,
    /// The handler kinds (for their default and secret configuration keys).
    pub registry: klaxon_core::Registry,
    /// Whether the config override API is on (`[config-override] enabled`).
    pub config_override: bool,
    /// Admission of writes (shutdown, `[alert] queue-full = "block"`).
    pub gate: Arc<write_gate::WriteGate>,
    /// Points received and rejected per database.
    pub ingress: Arc<ingress::Ingress>,
    /// Requests refused by authentication, by reason.
    pub auth: Arc<auth::AuthStats>,
    /// Connections open and closed by the server's bounds.
    pub connections: Arc<serve::ConnectionStats>,
    /// What `/debug/vars` reports about the process.
    pub facts: Arc<debug_vars::ServerFacts>,
    /// Klaxon's subscriptions on its `[[influxdb]]` clusters: `num_subscriptions`.
    pub subscriptions: klaxon_influxdb::SubscriptionCount,
    /// The `[[kafka-consumer]]` sources' counters and partitions.
    pub kafka: crate::kafka::KafkaStats,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/ping", get(ping::ping).head(ping::ping))
        .route("/debug/vars", get(debug_vars::debug_vars))
        .route("/loglevel", post(diagnostics::set_level))
        .route("/logs", get(diagnostics::logs))
        .route("/storage/backup", get(backup::backup))
        .route("/write", post(write::write))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route(
            "/tasks/{id}",
            get(tasks::get).patch(tasks::patch).delete(tasks::delete),
        )
        .route("/tasks/{id}/{name}", get(tasks::http_out))
        .route("/recordings", get(recordings::list_recordings))
        .route("/recordings/stream", post(recordings::record_stream))
        .route("/recordings/batch", post(recordings::record_batch))
        .route("/recordings/query", post(recordings::record_query))
        .route(
            "/recordings/{id}",
            get(recordings::get_recording).delete(recordings::delete_recording),
        )
        .route(
            "/replays",
            get(recordings::list_replays).post(recordings::replay),
        )
        .route("/replays/batch", post(recordings::replay_batch))
        .route("/replays/query", post(recordings::replay_query))
        .route(
            "/replays/{id}",
            get(recordings::get_replay).delete(recordings::delete_replay),
        )
        .route("/templates", get(templates::list).post(templates::create))
        .route(
            "/templates/{id}",
            get(templates::get)
                .patch(templates::patch)
                .delete(templates::delete),
        )
        .route("/service-tests", get(service_tests::list))
        .route("/service-tests/", get(service_tests::missing_name))
        .route(
            "/service-tests/{name}",
            get(service_tests::get).post(service_tests::run),
        )
        .route("/config", get(config_api::all))
        .route(
            "/config/{section}",
            get(config_api::section).post(config_api::post_without_element),
        )
        .route(
            "/config/{section}/",
            get(config_api::element).post(config_api::post),
        )
        .route(
            "/config/{section}/{element}",
            get(config_api::element).post(config_api::post),
        )
        .route("/alerts/topics", get(topics::list))
        .route(
            "/alerts/topics/{topic}",
            get(topics::get).delete(topics::delete),
        )
        .route(
            "/alerts/topics/{topic}/events",
            get(topics::events).post(topics::post_event),
        )
        .route("/alerts/topics/{topic}/history", get(history::history))
        .route("/silences", get(silences::list).post(silences::create))
        .route(
            "/silences/{id}",
            get(silences::get).delete(silences::expire),
        )
        .route("/alerts/topics/{topic}/events/{*event}", get(topics::event))
        .route(
            "/alerts/topics/{topic}/handlers",
            get(handlers::list).post(handlers::create),
        )
        .route(
            "/alerts/topics/{topic}/handlers/{id}",
            get(handlers::get)
                .put(handlers::replace)
                .patch(handlers::patch)
                .delete(handlers::delete),
        );
    Router::new()
        .nest("/kapacitor/v1preview", api.clone())
        .nest("/kapacitor/v1", api)
        // InfluxDB subscriptions and Telegraf write to /write, as to InfluxDB itself.
        .route("/write", post(write::write))
        .route("/metrics", get(metrics::metrics))
        .merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(version_headers))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Adds `X-Kapacitor-Version`, `X-Klaxon-Version` and `Request-Id` to every response.
pub(crate) async fn version_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // Applied again outside the authentication layer, for its 401 and 403: a response that
    // already has them keeps its request ID.
    if headers.contains_key("request-id") {
        return response;
    }
    headers.insert(
        HeaderName::from_static("x-kapacitor-version"),
        HeaderValue::from_static(KAPACITOR_COMPAT_VERSION),
    );
    headers.insert(
        HeaderName::from_static("x-klaxon-version"),
        HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
    );
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let id = format!("{:016x}-{n}", start_nanos());
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(HeaderName::from_static("request-id"), value);
    }
    response
}

/// The process start time, which makes request IDs unique across restarts.
fn start_nanos() -> u64 {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *START.get_or_init(|| klaxon_core::Timestamp::now().as_nanos().unsigned_abs())
}
