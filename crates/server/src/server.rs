//! Starting and stopping the server: services, the HTTP listener, shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use klaxon_core::{Registry, ServiceError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::services::Services;

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
}

impl Server {
    /// A server with this configuration and these handler kinds.
    pub fn new(config: Config, registry: Registry) -> Self {
        Server { config, registry }
    }

    /// Builds and opens the services, binds the listener and starts serving.
    pub async fn start(self) -> Result<RunningServer, StartError> {
        let data_dir = self.config.data_dir().clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| StartError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let services = Arc::new(Services::build(&self.config, &self.registry)?);
        services.open_all().await?;

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
        let app = http::router(AppState {
            services: Arc::clone(&services),
        });
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
}

impl RunningServer {
    /// The address the HTTP API listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `signal` completes, then shuts down.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }

    /// Stops accepting requests, finishes those in flight, and closes the services.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
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

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutting down"),
        () = term => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}
