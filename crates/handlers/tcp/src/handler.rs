//! The tcp handler: one connection per alert, `<alert JSON>\n\n`, then close.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use klaxon_core::{
    Event, Handler, HandlerError, Init, Invalid, Live, Service, TickShape, async_trait, sample_test,
};
use serde::{Deserialize, Serialize};
use socket2::{Domain, Socket, Type};
use tokio::io::AsyncWriteExt;
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
/// that the peer reads the whole payload before the end of the stream).
async fn send(address: &str, payload: &[u8]) -> Result<(), HandlerError> {
    let Ok(peer) = address.parse::<SocketAddr>() else {
        // A host name: tokio resolves it off the runtime's threads.
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| connect_error(address, &e))?;
        return finish(stream, payload, address).await;
    };
    let socket = Socket::new(Domain::for_address(peer), Type::STREAM.nonblocking(), None)
        .map_err(|e| connect_error(address, &e))?;
    match socket.connect(&peer.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(connect_error(address, &e)),
    }
    // A peer on this machine or near it has usually answered within the connect call: the
    // payload then goes out at once, without registering the socket with the runtime's poller
    // and waiting for its turn (that round trip was a tenth of klaxond's CPU per event in the
    // tcp bench, docs/benchmarks.md). Until the connection is up, send says "would block".
    let sent = match socket.send(payload) {
        Ok(sent) => sent,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        // The connection failed: refused, unreachable.
        Err(e) => return Err(connect_error(address, &e)),
    };
    if sent == payload.len() {
        return socket
            .shutdown(Shutdown::Write)
            .map_err(|e| HandlerError::io(format_args!("close connection to {address}"), &e));
    }
    let stream = TcpStream::from_std(std::net::TcpStream::from(socket))
        .map_err(|e| connect_error(address, &e))?;
    if sent == 0 {
        stream
            .writable()
            .await
            .map_err(|e| connect_error(address, &e))?;
        if let Some(e) = stream
            .take_error()
            .map_err(|e| connect_error(address, &e))?
        {
            return Err(connect_error(address, &e));
        }
    }
    finish(stream, &payload[sent..], address).await
}

fn connect_error(address: &str, e: &io::Error) -> HandlerError {
    HandlerError::io(format_args!("connect to {address}"), e)
}

/// Writes what is left of the payload and shuts the write side down.
async fn finish(mut stream: TcpStream, rest: &[u8], address: &str) -> Result<(), HandlerError> {
    stream
        .write_all(rest)
        .await
        .map_err(|e| HandlerError::io(format_args!("write to {address}"), &e))?;
    stream
        .shutdown()
        .await
        .map_err(|e| HandlerError::io(format_args!("close connection to {address}"), &e))
}
