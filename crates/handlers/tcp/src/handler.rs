//! The tcp handler: one connection per alert, `<alert JSON>\n\n`, then close.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use klaxon_core::{
    Event, Handler, HandlerError, Init, Invalid, Live, Service, TickShape, async_trait, sample_test,
};
use serde::{Deserialize, Serialize};
use socket2::{Domain, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::Config;

/// The options of one tcp handler.
///
/// ```json
/// {"address": "127.0.0.1:7777"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The TCP endpoint to send alerts to, as host:port (for example "127.0.0.1:7777").
    pub address: String,
}

/// The `tcp` handler kind: sends each alert as JSON to a TCP address.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_tcp::{Config, Options, TcpService};
///
/// let service = TcpService::new(Init::new(Config::default())).unwrap();
/// let handler = service.handler(Options { address: "127.0.0.1:7777".into() });
/// assert!(handler.is_ok());
///
/// let err = service.handler(Options { address: "localhost".into() }).unwrap_err();
/// assert_eq!(err.to_string(), r#"address "localhost" has no port; write it as host:port"#);
/// ```
#[derive(Debug)]
pub struct TcpService {
    config: Live<Config>,
}

#[async_trait]
impl Service for TcpService {
    const KIND: &'static str = "tcp";
    const DESCRIPTION: &'static str = "sends each alert as JSON to a TCP address";
    const TICK: TickShape = TickShape::new("tcp").args(&["address"]);
    type Config = Config;
    type Options = Options;
    type TestOptions = Options;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        Ok(TcpService {
            config: init.config,
        })
    }

    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        check_address(&options.address)?;
        Ok(Arc::new(TcpHandler {
            address: options.address,
            config: self.config.clone(),
        }))
    }

    async fn test(&self, options: Options) -> Result<(), HandlerError> {
        sample_test(self, options, "test tcp message").await
    }
}

/// Checks that `address` is `host:port` with a numeric port, as a TCP connect needs it.
fn check_address(address: &str) -> Result<(), Invalid> {
    let hint = "write it as host:port";
    if address.is_empty() {
        return Err(Invalid::new(format!("address is required; {hint}")));
    }
    // In "[::1]", the last ':' belongs to the bracketed IPv6 host: there is no port.
    let port_separator = if address.ends_with(']') {
        None
    } else {
        address.rsplit_once(':')
    };
    let Some((host, port)) = port_separator else {
        return Err(Invalid::new(format!(
            "address {address:?} has no port; {hint}"
        )));
    };
    if host.is_empty() {
        return Err(Invalid::new(format!(
            "address {address:?} has no host; {hint}"
        )));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(Invalid::new(format!(
            "address {address:?} is ambiguous; write an IPv6 host in brackets, as [host]:port"
        )));
    }
    if !port.parse::<u16>().is_ok_and(|port| port > 0) {
        return Err(Invalid::new(format!(
            "address {address:?} has an invalid port {port:?}; the port is a number from 1 to 65535"
        )));
    }
    Ok(())
}

/// Sends events to one address.
#[derive(Debug)]
struct TcpHandler {
    address: String,
    config: Live<Config>,
}

#[async_trait]
impl Handler for TcpHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let timeout = self.config.get().timeout.to_std();
        // Room for a typical alert (one with the default details is about 1.1 KiB) without
        // growing the buffer.
        let mut payload = Vec::with_capacity(2048);
        event.write_alert_json(&mut payload);
        // Kapacitor's framing: the JSON encoder's newline, then one more.
        payload.push(b'\n');
        tokio::time::timeout(timeout, send(&self.address, &payload))
            .await
            .unwrap_or_else(|_| {
                Err(HandlerError::timed_out(
                    format_args!("send to {}", self.address),
                    timeout,
                ))
            })
    }

    fn sends_alert_json(&self) -> bool {
        true
    }
}

/// Connects, writes `payload`, and closes the connection (shutting down the write side first, so
/// that the peer reads the whole payload before the end of the stream). A host name is resolved
/// off the runtime's threads, and its addresses are tried in turn until one takes the
/// connection, as Go's `net.Dial` (Kapacitor's) does.
async fn send(address: &str, payload: &[u8]) -> Result<(), HandlerError> {
    if let Ok(peer) = address.parse::<SocketAddr>() {
        return send_to(peer, payload)
            .await
            .map_err(|failure| failure.naming(address));
    }
    let peers = tokio::net::lookup_host(address)
        .await
        .map_err(|e| connect_error(address, &e))?;
    // The first address's error is the one reported, as Go's net.Dial does: a later address
    // of another family may fail for a reason of its own (no IPv6 on the host).
    let mut refused = None;
    for peer in peers {
        match send_to(peer, payload).await {
            Ok(()) => return Ok(()),
            Err(Failure::Connect(e)) => {
                refused.get_or_insert(e);
            }
            Err(failure) => return Err(failure.naming(address)),
        }
    }
    let e = refused.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address found"));
    Err(connect_error(address, &e))
}

/// Where a send to one address failed.
enum Failure {
    /// Before any byte was taken: refused, unreachable (another address may do).
    Connect(io::Error),
    Write(io::Error),
    Close(io::Error),
}

impl Failure {
    fn naming(self, address: &str) -> HandlerError {
        match self {
            Failure::Connect(e) => connect_error(address, &e),
            Failure::Write(e) => HandlerError::io(format_args!("write to {address}"), &e),
            Failure::Close(e) => {
                HandlerError::io(format_args!("close connection to {address}"), &e)
            }
        }
    }
}

async fn send_to(peer: SocketAddr, payload: &[u8]) -> Result<(), Failure> {
    let socket = Socket::new(Domain::for_address(peer), Type::STREAM.nonblocking(), None)
        .map_err(Failure::Connect)?;
    defer_handshake_ack(&socket);
    match socket.connect(&peer.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(Failure::Connect(e)),
    }
    // A peer on this machine or near it has usually answered within the connect call: the
    // payload then goes out at once, without registering the socket with the runtime's poller
    // and waiting for its turn (that round trip was a tenth of klaxond's CPU per event in the
    // tcp bench, docs/benchmarks.md). Until the connection is up, send says "would block".
    let sent = match socket.send_with_flags(payload, SEND_FLAGS) {
        Ok(sent) => sent,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        // The connection failed: refused, unreachable.
        Err(e) => return Err(Failure::Connect(e)),
    };
    if sent == payload.len() {
        return socket.shutdown(Shutdown::Write).map_err(Failure::Close);
    }
    let stream =
        TcpStream::from_std(std::net::TcpStream::from(socket)).map_err(Failure::Connect)?;
    send_rest(&stream, payload, sent).await?;
    SockRef::from(&stream)
        .shutdown(Shutdown::Write)
        .map_err(Failure::Close)
}

/// Writes `payload` from `sent` on as the socket takes it, with the same flags as the first
/// send, so that the FIN still rides on the last segment.
async fn send_rest(stream: &TcpStream, payload: &[u8], mut sent: usize) -> Result<(), Failure> {
    let failure = |sent: usize, e: io::Error| {
        if sent == 0 {
            Failure::Connect(e)
        } else {
            Failure::Write(e)
        }
    };
    while sent < payload.len() {
        stream.writable().await.map_err(|e| failure(sent, e))?;
        let rest = &payload[sent..];
        match stream.try_io(Interest::WRITABLE, || {
            SockRef::from(stream).send_with_flags(rest, SEND_FLAGS)
        }) {
            Ok(0) => return Err(failure(sent, io::ErrorKind::WriteZero.into())),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(failure(sent, e)),
        }
    }
    Ok(())
}

/// Lets the handshake's last ACK wait for the payload and ride on it (TCP_QUICKACK off before
/// the connect, as Linux itself does for a blocking connect with a write pending): the peer's
/// accept then finds the payload already there, one packet and one wake-up fewer. A system
/// without the option sends the ACK alone, as before.
fn defer_handshake_ack(socket: &Socket) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = socket.set_tcp_quickack(false);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = socket;
}

/// The send flags: never SIGPIPE (a reset peer is an error, not a signal), and "more to come"
/// (the shutdown), which holds a last partial segment back until the shutdown's FIN rides on
/// it, where the system has them.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL | libc::MSG_MORE;
#[cfg(any(
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
const SEND_FLAGS: libc::c_int = 0;

fn connect_error(address: &str, e: &io::Error) -> HandlerError {
    HandlerError::io(format_args!("connect to {address}"), e)
}
