//! Serving the API's connections, plain or over TLS: hyper's HTTP/1 under a watch that closes
//! what a hostile client holds open, instead of `axum::serve`, which bounds nothing.
//!
//! - `[http] header-timeout`: a request's head must be complete this long after its first byte
//!   arrived (a slowloris client drips one header line at a time).
//! - `[http] idle-timeout`: a connection with no request in flight and no byte of a new one is
//!   closed after this long (also a connection that never sends anything).
//! - `[http] body-timeout`: a request body must have arrived whole this long after its head; a
//!   handler reading it then gets an error ([`BodyTimedOut`]), and `/write` answers 408.
//! - `[http] max-connections`: at the cap, the connection idle the longest (no request in
//!   flight) is closed to make room for the new one; when every connection has a request in
//!   flight, the new one is closed at once. Either way a line is logged at a bounded rate and
//!   `klaxon_http_connections_closed_total` counts it.
//! - Accept errors (running out of file descriptors) are logged at a bounded rate, and the loop
//!   pauses a little so that closing connections can give some back.
//!
//! TLS handshakes run in each connection's own task, bounded by
//! [`super::tls_listener::HANDSHAKE_TIMEOUT`], so a client that never speaks holds up only
//! itself. Each request carries its peer address as [`axum::extract::ConnectInfo`], which the
//! authentication's per-client failure budget reads.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use hyper_util::rt::TokioIo;
use klaxon_engine::LogLimit;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// The bounds on connections, from `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a request's head may take from its first byte.
    pub header_timeout: Duration,
    /// How long a connection may stay without a request.
    pub idle_timeout: Duration,
    /// How long a request's body may take from its head.
    pub body_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// Why connections were closed by the server, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicUsize,
    /// Closed because a request's head took longer than `header-timeout`.
    pub header_timeouts: AtomicU64,
    /// Closed after `idle-timeout` without a request.
    pub idle_timeouts: AtomicU64,
    /// Request bodies that took longer than `body-timeout`.
    pub body_timeouts: AtomicU64,
    /// Idle connections closed to make room at `max-connections`.
    pub evicted: AtomicU64,
    /// New connections closed at once: every connection had a request in flight.
    pub refused: AtomicU64,
    /// TLS handshakes that failed or timed out.
    pub tls_failures: AtomicU64,
}

/// The error a request body gives once `[http] body-timeout` has passed.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body did not arrive within {0} ([http] body-timeout); send it faster or in \
     smaller parts"
)]
pub struct BodyTimedOut(pub klaxon_core::GoDuration);

/// Serves `app` on `listener` until `stop` completes, then lets the open connections finish
/// their requests (a connection without one closes at once) for up to `drain`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    stop: impl Future<Output = ()>,
    drain: Duration,
) {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let open = Arc::new(Open::default());
    let (closing_tx, closing) = watch::channel(false);
    let accept_log = LogLimit::default();
    let refused_log = LogLimit::default();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if let Some(suppressed) = accept_log.allow() {
                        tracing::warn!(error = %e, suppressed, "cannot accept a connection; \
                            at the open-files limit, raise it (ulimit -n) or lower [http] \
                            max-connections");
                    }
                    // The usual cause is running out of file descriptors: give some back.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match open.evict_idlest() {
                Some(()) => {
                    stats.evicted.fetch_add(1, Ordering::Relaxed);
                    if let Some(suppressed) = refused_log.allow() {
                        tracing::warn!(max_connections = max, peer = %peer, suppressed,
                            "[http] max-connections reached: closed the connection idle the \
                             longest to make room");
                    }
                    // The evicted connection gives its slot back as it ends.
                    match tokio::time::timeout(
                        Duration::from_secs(1),
                        Arc::clone(&slots).acquire_owned(),
                    )
                    .await
                    {
                        Ok(Ok(permit)) => permit,
                        _ => continue,
                    }
                }
                None => {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                    if let Some(suppressed) = refused_log.allow() {
                        tracing::warn!(max_connections = max, peer = %peer, suppressed,
                            "[http] max-connections reached and every connection has a request \
                             in flight: closed the new connection");
                    }
                    drop(stream);
                    continue;
                }
            },
        };
        let connection = Connection {
            app: app.clone(),
            limits,
            stats: Arc::clone(&stats),
            state: open.register(),
            open: Arc::clone(&open),
            closing: closing.clone(),
            peer,
            _permit: permit,
        };
        let tls = tls.clone();
        tokio::spawn(connection.run(stream, tls));
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every connection holds a slot until it ends.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(drain, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open at shutdown; closing them");
    }
}

/// The open connections, for eviction at the cap.
#[derive(Debug, Default)]
struct Open {
    next: AtomicU64,
    by_id: Mutex<BTreeMap<u64, Arc<ConnState>>>,
}

impl Open {
    fn register(&self) -> Arc<ConnState> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            id,
            active: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            head_started: Mutex::new(None),
            evict: Notify::new(),
        });
        self.lock().insert(id, Arc::clone(&state));
        state
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Tells the connection without a request in flight that has been idle the longest to
    /// close; `None` when every connection has one.
    fn evict_idlest(&self) -> Option<()> {
        let by_id = self.lock();
        let idlest = by_id
            .values()
            .filter(|c| c.active.load(Ordering::Acquire) == 0)
            .min_by_key(|c| *c.idle_since.lock().unwrap_or_else(|e| e.into_inner()))?;
        idlest.evict.notify_one();
        Some(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnState>>> {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the watch knows of one connection.
#[derive(Debug)]
struct ConnState {
    id: u64,
    /// Requests whose response has not been sent whole.
    active: AtomicUsize,
    /// When the connection last became idle (opened, or its last response sent).
    idle_since: Mutex<Instant>,
    /// When the first byte of the next request's head arrived.
    head_started: Mutex<Option<Instant>>,
    /// Told to close by the cap.
    evict: Notify,
}

impl ConnState {
    fn idle(&self) -> bool {
        self.active.load(Ordering::Acquire) == 0
    }

    fn read_some(&self) {
        if self.idle() {
            let mut started = self.head_started.lock().unwrap_or_else(|e| e.into_inner());
            started.get_or_insert_with(Instant::now);
        }
    }

    fn request_started(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
        *self.head_started.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn request_ended(&self) {
        *self.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Why the connection should be closed now, if it should.
    fn expired(&self, limits: &ConnectionLimits, now: Instant) -> Option<Expired> {
        if !self.idle() {
            return None;
        }
        if let Some(started) = *self.head_started.lock().unwrap_or_else(|e| e.into_inner()) {
            return (now.duration_since(started) > limits.header_timeout)
                .then_some(Expired::Header);
        }
        let idle_since = *self.idle_since.lock().unwrap_or_else(|e| e.into_inner());
        (now.duration_since(idle_since) > limits.idle_timeout).then_some(Expired::Idle)
    }
}

enum Expired {
    Header,
    Idle,
}

/// One accepted connection and what it needs to be served.
struct Connection {
    app: Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    state: Arc<ConnState>,
    open: Arc<Open>,
    closing: watch::Receiver<bool>,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        match tls {
            None => self.serve_io(stream).await,
            Some(acceptor) => {
                match super::tls_listener::handshake(&acceptor, stream, self.peer).await {
                    Some(tls) => self.serve_io(tls).await,
                    None => {
                        self.stats.tls_failures.fetch_add(1, Ordering::Relaxed);
                        self.finish();
                    }
                }
            }
        }
    }

    fn finish(&self) {
        self.open.remove(self.state.id);
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }

    async fn serve_io<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(Watched {
            inner: stream,
            state: Arc::clone(&self.state),
        });
        let service = hyper::service::service_fn({
            let (app, state, stats, peer) = (
                self.app.clone(),
                Arc::clone(&self.state),
                Arc::clone(&self.stats),
                self.peer,
            );
            let body_timeout = self.limits.body_timeout;
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                state.request_started();
                request.extensions_mut().insert(ConnectInfo(peer));
                let request = request
                    .map(|body| Body::new(Deadline::new(body, body_timeout, Arc::clone(&stats))));
                let mut app = app.clone();
                let ended = Ended(Arc::clone(&state));
                async move {
                    let response = match app.call(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    Ok::<_, Infallible>(response.map(|body| Tracked {
                        body,
                        _ended: ended,
                    }))
                }
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service);
        tokio::pin!(conn);
        let mut closing = self.closing.clone();
        let tick = (self.limits.header_timeout.min(self.limits.idle_timeout) / 4)
            .clamp(Duration::from_millis(20), Duration::from_secs(1));
        let mut watch = tokio::time::interval(tick);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutting_down = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
                    }
                    break;
                }
                _ = closing.changed(), if !shutting_down => {
                    shutting_down = true;
                    conn.as_mut().graceful_shutdown();
                }
                () = self.state.evict.notified() => {
                    if self.state.idle() {
                        break;
                    }
                }
                _ = watch.tick() => match self.state.expired(&self.limits, Instant::now()) {
                    Some(Expired::Header) => {
                        self.stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(peer = %self.peer, "closed: the request head took longer than [http] header-timeout");
                        break;
                    }
                    Some(Expired::Idle) => {
                        self.stats.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(peer = %self.peer, "closed: idle for [http] idle-timeout");
                        break;
                    }
                    None => {}
                },
            }
        }
        self.finish();
    }
}

/// Marks the end of a request when its response body is dropped (sent whole, or abandoned).
struct Ended(Arc<ConnState>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// A response body that ends its request when dropped.
struct Tracked {
    body: Body,
    _ended: Ended,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails with [`BodyTimedOut`] once its deadline passes.
struct Deadline {
    body: hyper::body::Incoming,
    sleep: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    stats: Arc<ConnectionStats>,
    timed_out: bool,
}

impl Deadline {
    fn new(body: hyper::body::Incoming, timeout: Duration, stats: Arc<ConnectionStats>) -> Self {
        Deadline {
            body,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            timeout,
            stats,
            timed_out: false,
        }
    }
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.timed_out {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.timed_out = true;
            self.stats.body_timeouts.fetch_add(1, Ordering::Relaxed);
            let timeout = klaxon_core::GoDuration::from_std(self.timeout);
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut(timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A stream that tells its connection's watch when bytes arrive, so that the head of a request
/// is timed from its first byte.
struct Watched<S> {
    inner: S,
    state: Arc<ConnState>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.state.read_some();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Raises the soft limit on open files to the hard limit, where the system allows it, so that
/// `[http] max-connections` can be reached; returns the soft limit in force afterwards.
pub fn raise_open_files_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft >= hard {
        return Some(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            tracing::debug!(from = soft, to = hard, "raised the open-files soft limit");
            Some(hard)
        }
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "cannot raise the open-files soft limit");
            Some(soft)
        }
    }
}
