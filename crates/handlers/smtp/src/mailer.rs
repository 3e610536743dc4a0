//! The connection to the SMTP server, one per server as Kapacitor's mailer keeps: opened for the
//! first message (STARTTLS whenever the server offers it, AUTH when a username is set and the
//! server offers it), kept for the next ones, and closed once `idle-timeout` passes without mail
//! or when the server's settings change. Messages go out one at a time over it.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use klaxon_core::{HandlerError, Live};
use lettre::address::Envelope;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::Config;

/// The mechanisms offered to the server, in order of preference: PLAIN, else LOGIN (Kapacitor
/// also knows CRAM-MD5, which lettre does not).
const MECHANISMS: &[Mechanism] = &[Mechanism::Plain, Mechanism::Login];

/// The connection of one service, shared by its handlers and its service test.
pub(crate) struct Mailer {
    config: Live<Config>,
    slot: Mutex<Slot>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection has no Debug, and the settings hold the password.
        f.debug_struct("Mailer").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Slot {
    open: Option<Open>,
    /// Whether a task is waiting to close `open` once it has been idle long enough.
    closer: bool,
}

struct Open {
    connection: AsyncSmtpConnection,
    server: Server,
    last_used: Instant,
}

/// The settings a connection was opened with: a change of any of them opens a new one.
#[derive(Clone, PartialEq, Eq)]
struct Server {
    host: String,
    port: u16,
    username: String,
    password: String,
    no_verify: bool,
}

impl Server {
    fn of(config: &Config) -> Server {
        Server {
            host: config.host.clone(),
            port: config.port,
            username: config.username.clone(),
            password: config.password.clone(),
            no_verify: config.no_verify,
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Mailer {
    pub(crate) fn new(config: Live<Config>) -> Arc<Mailer> {
        Arc::new(Mailer {
            config,
            slot: Mutex::new(Slot::default()),
        })
    }

    /// Sends `message` to the envelope's recipients over the open connection, or a new one,
    /// within `[smtp] timeout` (waiting for another message to go out included).
    pub(crate) async fn send(
        self: &Arc<Self>,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), HandlerError> {
        let config = self.config.get();
        let server = Server::of(&config);
        let timeout = config.timeout.to_std();
        let idle = config.idle_timeout.to_std();
        let sending = async {
            let mut slot = self.slot.lock().await;
            let mut connection = match slot.open.take() {
                Some(open) => self.reuse(open, &server, timeout).await?,
                None => connect(&server, timeout).await?,
            };
            if let Err(e) = connection.send(envelope, message).await {
                connection.abort().await;
                return Err(failure(format_args!("send mail through {server}"), &e));
            }
            if idle.is_zero() {
                // Kapacitor's idle-timeout of 0 closes the connection right after the message.
                let _ = connection.quit().await;
                return Ok(());
            }
            slot.open = Some(Open {
                connection,
                server: server.clone(),
                last_used: Instant::now(),
            });
            if !slot.closer {
                slot.closer = true;
                tokio::spawn(close_when_idle(Arc::downgrade(self)));
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, sending).await {
            Ok(sent) => sent,
            Err(_) => Err(HandlerError::timed_out(
                format_args!("send mail through {server}"),
                timeout,
            )),
        }
    }

    /// The open connection if it was opened with `server`'s settings and still answers (a server
    /// may have dropped it), else a new one.
    async fn reuse(
        &self,
        mut open: Open,
        server: &Server,
        timeout: Duration,
    ) -> Result<AsyncSmtpConnection, HandlerError> {
        if open.server == *server && open.connection.test_connected().await {
            return Ok(open.connection);
        }
        open.connection.abort().await;
        connect(server, timeout).await
    }

    /// Closes the connection, saying QUIT (at shutdown).
    pub(crate) async fn close(&self) {
        let open = self.slot.lock().await.open.take();
        if let Some(mut open) = open {
            let timeout = self.config.get().timeout.to_std();
            let _ = tokio::time::timeout(timeout, open.connection.quit()).await;
        }
    }
}

/// Closes the mailer's connection once it has been idle for `idle-timeout` (as it is then), and
/// ends; the next message starts another.
async fn close_when_idle(mailer: Weak<Mailer>) {
    loop {
        let Some(strong) = mailer.upgrade() else {
            return;
        };
        let config = strong.config.get();
        let idle = config.idle_timeout.to_std();
        let mut slot = strong.slot.lock().await;
        let Some(last_used) = slot.open.as_ref().map(|open| open.last_used) else {
            slot.closer = false;
            return;
        };
        let deadline = last_used + idle;
        if Instant::now() >= deadline {
            let open = slot.open.take();
            slot.closer = false;
            drop(slot);
            if let Some(mut open) = open {
                let timeout = config.timeout.to_std();
                let _ = tokio::time::timeout(timeout, open.connection.quit()).await;
            }
            return;
        }
        drop(slot);
        drop(strong);
        tokio::time::sleep_until(deadline).await;
    }
}

/// Connects to the server, says `EHLO localhost` (as Kapacitor), upgrades the connection with
/// STARTTLS when the server offers it, and authenticates when a username is set and the server
/// offers AUTH.
async fn connect(server: &Server, timeout: Duration) -> Result<AsyncSmtpConnection, HandlerError> {
    let hello = ClientId::Domain("localhost".to_owned());
    let mut connection = AsyncSmtpConnection::connect_tokio1(
        (server.host.as_str(), server.port),
        Some(timeout),
        &hello,
        None,
        None,
    )
    .await
    .map_err(|e| failure(format_args!("connect to {server}"), &e))?;
    if connection.can_starttls() {
        let tls = TlsParameters::builder(server.host.clone())
            .dangerous_accept_invalid_certs(server.no_verify)
            .build_rustls()
            .map_err(|e| failure(format_args!("TLS settings for {server}"), &e))?;
        if let Err(e) = connection.starttls(tls, &hello).await {
            // A certificate the server cannot prove will not prove itself on a retry.
            return Err(HandlerError::permanent(format!(
                "STARTTLS with {server}: {}{}",
                chain(&e),
                if server.no_verify {
                    ""
                } else {
                    " (is the server's certificate valid for this host and signed by a CA this machine trusts?)"
                }
            )));
        }
    }
    if !server.username.is_empty()
        && connection
            .server_info()
            .get_auth_mechanism(MECHANISMS)
            .is_some()
    {
        if !connection.is_encrypted() && !is_loopback(&server.host) {
            connection.abort().await;
            return Err(HandlerError::permanent(format!(
                "not sending the password of {:?} to {server} unencrypted: the server offers no STARTTLS",
                server.username
            )));
        }
        let credentials = Credentials::new(server.username.clone(), server.password.clone());
        if let Err(e) = connection.auth(MECHANISMS, &credentials).await {
            connection.abort().await;
            return Err(failure(
                format_args!("authenticate as {:?} with {server}", server.username),
                &e,
            ));
        }
    }
    Ok(connection)
}

/// Whether `host` is this machine, where a password in plain text goes nowhere (Go's rule).
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A failure of the SMTP client, `what: <lettre's error and its causes>`: retryable when the
/// server answered 4xx or the network failed, permanent when the server answered 5xx or the
/// client refused.
fn failure(what: fmt::Arguments<'_>, e: &SmtpError) -> HandlerError {
    let message = format!("{what}: {}", chain(e));
    let refused = e.is_permanent() || e.is_client() || e.is_tls() || e.is_response();
    if e.is_transient() || e.is_timeout() || !refused {
        HandlerError::transient(message)
    } else {
        HandlerError::permanent(message)
    }
}

/// An error and its sources, each said once: lettre's Display already shows the first source,
/// and nests its own kinds (`Connection error: Connection error: ...`).
fn chain(e: &SmtpError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split(": ") {
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    parts.join(": ")
}
