//! Serving HTTPS (`[http] https-enabled`): the TLS handshake of one accepted connection.
//!
//! Each handshake runs in its connection's own task (see [`super::serve`]), bounded by
//! [`HANDSHAKE_TIMEOUT`], so a client that connects and never speaks (or speaks plain HTTP)
//! holds up only itself, never the accept loop; its failure is logged at debug level, as Go
//! logs `http: TLS handshake error`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Completes the handshake of `stream` with `acceptor`; `None` when it fails or takes longer
/// than [`HANDSHAKE_TIMEOUT`].
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(peer = %peer, "TLS handshake timed out");
            None
        }
    }
}
