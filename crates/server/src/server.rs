//! Starting and stopping the server: services, the HTTP listener, shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use klaxon_core::{Registry, ServiceError};
use klaxon_engine::tasks::{TaskError, TaskManager};
use klaxon_engine::{AlertService, EngineError, Services, Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::debug_vars::ServerFacts;
use crate::http::write_gate::WriteGate;
use crate::http::{self, AppState};

/// File descriptors kept back from `[http] max-connections` for everything else the server
/// opens.
const RESERVED_FILES: u64 = 128;

/// How long the connections open at shutdown may take to finish their requests.
const CONNECTION_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A server ready to start: a configuration and the handler kinds it was built with.
///
/// ```no_run
/// # async fn demo() -> Result<(), klaxon_server::StartError> {
/// use klaxon_server::{Config, Server};
///
/// let registry = klaxon_core::Registry::linked().expect("registry");
/// let mut config = Config::default();
/// config.server.http.bind_address = "127.0.0.1:0".into();
/// let running = Server::new(config, registry).start().await?;
/// println!("listening on {}", running.local_addr());
/// running.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    config: Config,
    registry: Registry,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create data-dir {path}: {source}; set data-dir to a writable directory")]
    DataDir {
        /// The configured directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The HTTP address could not be bound.
    #[error(
        "cannot listen on [http] bind-address {address}: {source}; is another server (Kapacitor?) \
         using the port? Set KLAXON_HTTP_BIND_ADDRESS or [http] bind-address"
    )]
    Bind {
        /// The configured address.
        address: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// A handler service failed to build or open.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The database cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An `[[influxdb]]` cluster cannot be set up.
    #[error(transparent)]
    InfluxDb(Box<klaxon_influxdb::InfluxError>),
    /// The recordings and replays cannot be opened.
    #[error("cannot open the recordings: {0}")]
    Recordings(#[source] Box<klaxon_engine::recordings::RecordingError>),
    /// The stored tasks cannot be loaded.
    #[error("cannot load the stored tasks: {0}")]
    Tasks(#[source] TaskError),
    /// The alert service cannot start.
    #[error("cannot start the alert service: {0}")]
    Engine(#[from] EngineError),
    /// `[http] https-enabled` is true but the certificate or key cannot be used.
    #[error(
        "cannot serve HTTPS ([http] https-enabled): {0}; fix https-certificate and \
         https-private-key or set https-enabled = false"
    )]
    Tls(#[source] klaxon_http::TlsError),
    /// The HTTP client of `|httpPost()` nodes cannot be made.
    #[error("cannot make the HTTP client of |httpPost() nodes: {0}")]
    Poster(#[source] klaxon_http::TlsError),
    /// `[http]` authentication cannot be set up.
    #[error("cannot set up [http] authentication: {0}")]
    Auth(#[source] crate::password::HashError),
}

impl Server {
    /// A server with this configuration and these handler kinds, less those of
    /// `[server] disable-handlers`, which are then absent everywhere.
    pub fn new(config: Config, registry: Registry) -> Self {
        let registry = registry.without(
            &config.server.server.disable_handlers,
            "--disable-handlers / [server] disable-handlers",
        );
        Server { config, registry }
    }

    /// Builds and opens the services, binds the listener and starts serving.
    pub async fn start(self) -> Result<RunningServer, StartError> {
        // Before anything else opens: a certificate that cannot be used stops the start at once.
        let https = &self.config.server.http;
        let tls = if https.https_enabled {
            let key = std::path::Path::new(&https.https_private_key);
            Some(
                klaxon_http::server_tls(Path::new(&https.https_certificate), key)
                    .map_err(StartError::Tls)?,
            )
        } else {
            None
        };
        let data_dir = self.config.data_dir().clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| StartError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let context = klaxon_core::ServerContext::new(&data_dir);
        let services = Arc::new(Services::build_with(
            &self.config.handlers,
            &self.registry,
            &context,
        )?);
        let (store, salvage) = Store::open_or_salvage(&data_dir.join("klaxon.db"))?;
        if let Some(salvage) = &salvage {
            report_salvage(store.path(), salvage);
        }
        let config_override = self.config.server.config_override.enabled;
        if config_override {
            crate::config::overrides::apply_stored(&services, &store)?;
        }
        services.open_all().await?;
        let alert = &self.config.server.alert;
        let alerts = AlertService::open(Arc::clone(&services), store, self.config.server.engine())?;
        let load_dir = &self.config.server.load.dir;
        if !load_dir.is_empty() {
            let (loaded, errors) = crate::load::load_handlers(Path::new(load_dir), &alerts);
            for error in &errors {
                tracing::error!(file = %error.path.display(), error = %error.reason, "cannot load handler file");
            }
            tracing::info!(dir = %load_dir, loaded = loaded.len(), failed = errors.len(), "handler files loaded");
        }

        let influxdb = klaxon_influxdb::Clusters::new(&self.config.server.influxdb)
            .map_err(|e| StartError::InfluxDb(Box::new(e)))?;
        let tasks = TaskManager::open_with(
            alerts.clone(),
            alerts.store().clone(),
            self.registry.clone(),
            server_info_with_ids(alerts.store(), &self.config.server.deadman)?,
            influxdb.clone(),
        )
        .map_err(StartError::Tasks)?;
        // Recordings keep their data next to klaxon.db (Kapacitor's `[replay] dir`).
        let recordings = klaxon_engine::recordings::Recordings::open(
            alerts.store().clone(),
            &data_dir.join("replay"),
            tasks.clone(),
        )
        .map_err(|e| StartError::Recordings(Box::new(e)))?;
        // `|httpPost()` nodes post with the shared HTTP client, on this runtime.
        let poster = crate::poster::HttpPoster::new().map_err(StartError::Poster)?;
        let _ = tasks.set_poster(Arc::new(poster));
        if !load_dir.is_empty() {
            let (loaded, errors) = crate::load::load_tasks(Path::new(load_dir), &tasks);
            for error in &errors {
                tracing::error!(file = %error.path.display(), error = %error.reason, "cannot load task file");
            }
            tracing::info!(dir = %load_dir, loaded = loaded.len(), failed = errors.len(), "task files loaded");
        }

        let mut limits = self.config.server.http.connection_limits();
        if let Some(files) = http::serve::raise_open_files_limit() {
            // Room for the store, the handlers' sockets and the files they open.
            let fit = usize::try_from(files.saturating_sub(RESERVED_FILES))
                .unwrap_or(usize::MAX)
                .max(1);
            if fit < limits.max_connections {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    open_files = files,
                    lowered_to = fit,
                    "[http] max-connections does not fit the open-files limit; lowered"
                );
                limits.max_connections = fit;
            }
        }
        let connections = Arc::new(http::serve::ConnectionStats::default());
        let auth_stats = Arc::new(http::auth::AuthStats::default());
        let address = self.config.server.http.bind_target();
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| StartError::Bind {
                address: self.config.server.http.bind_address.clone(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            address: address.clone(),
            source,
        })?;
        let http_config = &self.config.server.http;
        let engine = alert.engine();
        let gate = Arc::new(WriteGate::new(
            engine.queue_full,
            alert.queue_full_wait.to_std(),
            http_config.write_concurrency(),
        ));
        let facts = ServerFacts {
            started: klaxon_core::Timestamp::now(),
            host: server_info().hostname,
            ids: klaxon_engine::server_ids(alerts.store())?,
            cmdline: std::env::args().collect(),
            bind_address: local_addr.to_string(),
            auth_enabled: http_config.auth_enabled,
        };
        // Kapacitor's subscriptions on each [[influxdb]] cluster, pointing at this listener.
        let subscriptions = klaxon_influxdb::SubscriptionManager::start(
            &influxdb,
            &klaxon_influxdb::SubscriptionIds {
                cluster_id: facts.ids.cluster_id.clone(),
                server_id: facts.ids.server_id.clone(),
            },
            &klaxon_influxdb::Listener {
                hostname: facts.host.clone(),
                port: local_addr.port(),
            },
        );
        let ingress: Arc<http::ingress::Ingress> = Arc::default();
        // Kafka sources: their points go through the same path as /write's.
        let kafka = crate::kafka::KafkaConsumers::start(
            &self.config.server.kafka_consumer,
            &advertise_url(if tls.is_some() { "https" } else { "http" }, local_addr),
            http::write::IngestPath {
                gate: Arc::clone(&gate),
                alerts: alerts.clone(),
                tasks: tasks.clone(),
                ingress: Arc::clone(&ingress),
                max_body_size: http_config.max_body_size,
            },
        );
        let app = http::router(AppState {
            services: Arc::clone(&services),
            alerts: alerts.clone(),
            recordings: recordings.clone(),
            tasks,
            max_body_size: http_config.max_body_size,
            test_events: alert.test_events,
            registry: self.registry.clone(),
            config_override,
            gate: Arc::clone(&gate),
            ingress: Arc::clone(&ingress),
            connections: Arc::clone(&connections),
            auth: Arc::clone(&auth_stats),
            facts: Arc::new(facts),
            subscriptions: subscriptions.count(),
            kafka: kafka.stats(),
        });
        let app = http::auth::protect(app, http_config, auth_stats).map_err(StartError::Auth)?;
        let site = http::cross_site::SiteGuard::new(
            &http_config.allowed_hosts,
            &http_config.bind_address,
            &server_info().hostname,
        );
        let app = http::cross_site::protect(app, site);
        if !http_config.auth_enabled && !local_addr.ip().is_loopback() {
            tracing::warn!(
                address = %local_addr,
                "THE API IS OPEN TO THE NETWORK WITHOUT AUTHENTICATION: whoever reaches this \
                 address can define tasks and handlers, and exec handlers run programs as this \
                 server's user. Set [http] auth-enabled = true with [[http.users]], or bind \
                 127.0.0.1 (see docs/security.md)"
            );
        }
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let stopped = async {
            let _ = stop_rx.await;
        };
        let tls = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(http::serve::serve(
            listener,
            tls,
            app,
            limits,
            connections,
            stopped,
            CONNECTION_DRAIN,
        ));
        tracing::info!(
            address = %local_addr,
            scheme,
            data_dir = %data_dir.display(),
            handlers = %self.registry.kind_list(),
            "klaxon listening"
        );
        // What services send as the server's URL (PagerDuty's client_url), now that it is known.
        context.server_url.set(api_url(scheme, local_addr));
        Ok(RunningServer {
            local_addr,
            stop: Some(stop_tx),
            task,
            services,
            alerts,
            gate,
            recordings,
            shutdown_timeout: alert.shutdown_timeout.to_std(),
            _subscriptions: subscriptions,
            kafka,
        })
    }
}

/// A started server. Drop it or call [`RunningServer::shutdown`] to stop it.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    services: Arc<Services>,
    alerts: AlertService,
    gate: Arc<WriteGate>,
    recordings: klaxon_engine::recordings::Recordings,
    shutdown_timeout: std::time::Duration,
    /// Kept for its syncs, which stop with the server.
    _subscriptions: klaxon_influxdb::SubscriptionManager,
    /// The `[[kafka-consumer]]` sources, stopped first at shutdown.
    kafka: crate::kafka::KafkaConsumers,
}

impl RunningServer {
    /// The address the HTTP API listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The alert service.
    pub fn alerts(&self) -> &AlertService {
        &self.alerts
    }

    /// Serves until `signal` completes, then shuts down.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }

    /// Graceful shutdown within `[alert] shutdown-timeout`: writes are refused with 503 at
    /// once (the API keeps answering meanwhile), the writes in flight finish, the delivery
    /// queues drain, then the listener and the services close. Alert state is already on disk
    /// (every change is committed as it happens); what could not be delivered in time is
    /// counted as dropped and logged with its event IDs.
    pub async fn shutdown(mut self) {
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        // A replay runs on a blocking thread, which the runtime would wait for at its end.
        self.recordings.stop_all();
        // Before the write gate closes: each consumer's messages in hand go through, their
        // offsets are committed and the group gets the partitions back at once.
        self.kafka.stop(self.shutdown_timeout).await;
        tracing::info!(
            timeout = %klaxon_core::GoDuration::from_std(self.shutdown_timeout),
            "refusing writes; draining the delivery queues"
        );
        if !self.gate.close(self.shutdown_timeout).await {
            tracing::warn!("writes still in flight at the shutdown deadline");
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let report = self.alerts.drain(left).await;
        if report.abandoned > 0 {
            tracing::warn!(
                queues = report.abandoned,
                "shutdown-timeout passed with events undelivered; each is logged above with its ID"
            );
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
        self.alerts.shutdown();
        self.services.close_all().await;
        tracing::info!("klaxon stopped");
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A future that completes on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so call it before starting the server: a signal
/// that arrives while the server starts then still shuts it down gracefully instead of killing
/// the process. Must be called inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => tokio::select! {
                    _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
                    _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
                },
                (term, int) => {
                    let e = term
                        .err()
                        .or(int.err())
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    tracing::warn!(error = %e, "cannot listen for SIGTERM/SIGINT; falling back to Ctrl-C only");
                    let _ = tokio::signal::ctrl_c().await;
                    tracing::info!(signal = "SIGINT", "shutting down");
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!(signal = "SIGINT", "shutting down");
    }
}

/// The API's URL as Kapacitor's handlers send it, `http(s)://<hostname>:<port>/kapacitor/v1`:
/// this host's name and the port listened on (the listener's address when the name is unknown).
/// The URL other klaxonds reach this one's API at, unless `[[kafka-consumer]] advertise-url`
/// says: the listener's address, or the host name when it listens on every interface.
fn advertise_url(scheme: &str, local_addr: SocketAddr) -> String {
    let hostname = server_info().hostname;
    if local_addr.ip().is_unspecified() && !hostname.is_empty() {
        format!("{scheme}://{hostname}:{}", local_addr.port())
    } else {
        format!("{scheme}://{local_addr}")
    }
}

fn api_url(scheme: &str, local_addr: SocketAddr) -> String {
    let hostname = server_info().hostname;
    if hostname.is_empty() {
        format!("{scheme}://{local_addr}/kapacitor/v1")
    } else {
        format!("{scheme}://{hostname}:{}/kapacitor/v1", local_addr.port())
    }
}

/// What templates see as `.ServerInfo`, with the cluster and server IDs kept in `klaxon.db`,
/// and the `[deadman]` settings.
fn server_info_with_ids(
    store: &Store,
    deadman: &crate::config::DeadmanConfig,
) -> Result<klaxon_pipeline::ServerInfo, StoreError> {
    let ids = klaxon_engine::server_ids(store)?;
    Ok(klaxon_pipeline::ServerInfo {
        cluster_id: ids.cluster_id,
        server_id: ids.server_id,
        deadman: deadman.defaults(),
        ..server_info()
    })
}

/// What templates see as `.ServerInfo`: this host's name.
fn server_info() -> klaxon_pipeline::ServerInfo {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    klaxon_pipeline::ServerInfo {
        hostname,
        ..Default::default()
    }
}

/// Says, at error level, that the database was damaged and what of it was kept: the operator
/// must know that tasks, handlers or alert states may be missing, and where the original is.
fn report_salvage(path: &Path, salvage: &klaxon_engine::Salvage) {
    tracing::error!(
        path = %path.display(),
        damaged = %salvage.damaged.display(),
        reason = %salvage.reason,
        complete = salvage.is_complete(),
        "database damaged: moved aside, and what could be read copied into a new one"
    );
    for table in &salvage.tables {
        match &table.lost {
            None => tracing::warn!(table = %table.table, kept = table.kept, "table salvaged whole"),
            Some(reason) => tracing::error!(
                table = %table.table, kept = table.kept, reason = %reason,
                "table salvaged in part: entries past the damage are lost"
            ),
        }
    }
}
