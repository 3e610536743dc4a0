//! Starting and stopping the server: services, the HTTP listener, shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use klaxon_core::{Registry, RegistryError, ServiceError};
use klaxon_engine::tasks::TaskManager;
use klaxon_engine::{AlertService, EngineError, INTERNAL_KINDS, Services, Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::debug_vars::ServerFacts;
use crate::http::write_gate::WriteGate;
use crate::http::{self, AppState};

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
    /// A linked handler crate claims a kind the engine reserves.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The database cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored tasks cannot be loaded.
    #[error("cannot load the stored tasks: {0}")]
    Tasks(String),
    /// The alert service cannot start.
    #[error("cannot start the alert service: {0}")]
    Engine(#[from] EngineError),
    /// `[http]` authentication cannot be set up.
    #[error("cannot set up [http] authentication: {0}")]
    Auth(String),
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
        let data_dir = self.config.data_dir().clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| StartError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        self.registry.check_reserved(&INTERNAL_KINDS)?;
        let services = Arc::new(Services::build(&self.config.handlers, &self.registry)?);
        let store = Store::open(&data_dir.join("klaxon.db"))?;
        let config_override = self.config.server.config_override.enabled;
        if config_override {
            http::config_api::apply_stored(&services, &store)?;
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

        let tasks = TaskManager::open(
            alerts.clone(),
            alerts.store().clone(),
            self.registry.clone(),
            server_info(),
        )
        .map_err(|e| StartError::Tasks(e.to_string()))?;
        if !load_dir.is_empty() {
            let (loaded, errors) = crate::load::load_tasks(Path::new(load_dir), &tasks);
            for error in &errors {
                tracing::error!(file = %error.path.display(), error = %error.reason, "cannot load task file");
            }
            tracing::info!(dir = %load_dir, loaded = loaded.len(), failed = errors.len(), "task files loaded");
        }

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
        ));
        let facts = ServerFacts {
            started: klaxon_core::Timestamp::now(),
            host: server_info().hostname,
            cmdline: std::env::args().collect(),
            bind_address: local_addr.to_string(),
            auth_enabled: http_config.auth_enabled,
        };
        let app = http::router(AppState {
            services: Arc::clone(&services),
            alerts: alerts.clone(),
            tasks,
            max_body_size: http_config.max_body_size,
            test_events: alert.test_events,
            registry: self.registry.clone(),
            config_override,
            gate: Arc::clone(&gate),
            ingress: Arc::default(),
            facts: Arc::new(facts),
        });
        let app = http::auth::protect(app, http_config).map_err(StartError::Auth)?;
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
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "http server failed");
            }
        });
        tracing::info!(
            address = %local_addr,
            data_dir = %data_dir.display(),
            handlers = %self.registry.kind_list(),
            "klaxon listening"
        );
        Ok(RunningServer {
            local_addr,
            stop: Some(stop_tx),
            task,
            services,
            alerts,
            gate,
            shutdown_timeout: alert.shutdown_timeout.to_std(),
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
    shutdown_timeout: std::time::Duration,
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
