//! One MQTT connection per broker, shared by every handler publishing there (as Kapacitor keeps
//! one paho client per broker): a task owns rumqttc's event loop, connects and connects again
//! after a failure, and tells each publish when the broker acknowledged it.
//!
//! rumqttc reports acknowledgements only as events of its loop, by packet identifier, and
//! assigns the identifier when it writes the message. Publishes are therefore queued to the loop
//! under the same lock as their waiter is queued here, so that the loop's n-th outgoing publish is
//! the n-th waiter; the identifier then leads from the broker's acknowledgement back to it.
//! Each connection attempt has a client of its own: a publish queued to a connection that failed
//! goes with it, and is never sent later behind the back of a caller told it failed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use klaxon_core::HandlerError;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Outgoing,
    Packet, QoS, TlsConfiguration,
};
use tokio::sync::{Notify, oneshot, watch};

use crate::config::{Broker, Transport};

/// How many publishes may wait for the event loop at once, per broker.
const QUEUE: usize = 256;

/// How many messages may await their acknowledgement at once (rumqttc's default).
const INFLIGHT: u16 = 100;

/// The largest packet MQTT allows (its "remaining length" limit), so that rumqttc refuses no
/// message that a broker may accept; the broker applies its own limit.
const MAX_PACKET: usize = 268_435_455;

/// Kapacitor's keep-alive interval (paho's default).
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// The wait before connecting again after a failure, doubling up to [`MAX_BACKOFF`]. A publish
/// cuts it short: each delivery attempt gets a connection attempt of its own.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How long closing waits for the broker to be told (Kapacitor's `Disconnect(250)`).
const CLOSE_WAIT: Duration = Duration::from_millis(250);

/// The live connections, by broker name. A broker whose configuration changed gets a new
/// connection; the old one ends when the last publish using it is done.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    live: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Connections {
    /// The connection to `broker` as configured now, started if need be.
    pub(crate) fn get(&self, broker: &Broker) -> Result<Arc<Connection>, HandlerError> {
        let mut live = lock(&self.live);
        if let Some(connection) = live.get(&broker.name)
            && connection.broker == *broker
        {
            return Ok(Arc::clone(connection));
        }
        let connection = Arc::new(Connection::start(broker)?);
        live.insert(broker.name.clone(), Arc::clone(&connection));
        Ok(connection)
    }

    /// Drops the connections to brokers that `keep` says are gone or changed.
    pub(crate) fn retain(&self, keep: impl Fn(&Broker) -> bool) {
        lock(&self.live).retain(|_, connection| keep(&connection.broker));
    }

    /// Disconnects from every broker.
    pub(crate) async fn close(&self) {
        let connections: Vec<Arc<Connection>> = lock(&self.live).drain().map(|(_, c)| c).collect();
        for connection in connections {
            connection.close().await;
        }
    }
}

/// The connection to one broker, as configured when it started.
#[derive(Debug)]
pub(crate) struct Connection {
    broker: Broker,
    shared: Arc<Mutex<Shared>>,
    status: watch::Receiver<Status>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

/// Where the connection stands.
#[derive(Debug, Clone)]
enum Status {
    /// Connecting; publishes wait.
    Connecting,
    /// Connected; publishes go out.
    Connected,
    /// The last attempt failed with this error; the task waits before trying again.
    Down(HandlerError),
    /// Closed by the service.
    Closed,
}

/// What the task and the publishes share.
#[derive(Debug, Default)]
struct Shared {
    /// The client of the current connection, while it is up.
    client: Option<AsyncClient>,
    /// Publishes queued to the event loop and not written yet, in order.
    queued: VecDeque<Waiter>,
    /// Publishes written, by packet identifier, awaiting the broker's acknowledgement.
    unacknowledged: HashMap<u16, Waiter>,
    /// The service is closing: do not connect again.
    closing: bool,
}

/// A publish waiting for its outcome.
#[derive(Debug)]
struct Waiter {
    qos: QoS,
    done: oneshot::Sender<Result<(), HandlerError>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    /// Starts connecting to `broker`. Fails only for TLS settings that cannot be used.
    fn start(broker: &Broker) -> Result<Connection, HandlerError> {
        let options = mqtt_options(broker)?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (status_tx, status) = watch::channel(Status::Connecting);
        let wake = Arc::new(Notify::new());
        let task = Loop {
            name: broker.name.clone(),
            options,
            connect_timeout: broker.timeout.to_std(),
            shared: Arc::clone(&shared),
            status: status_tx,
            wake: Arc::clone(&wake),
        };
        let task = tokio::spawn(task.run());
        Ok(Connection {
            broker: broker.clone(),
            shared,
            status,
            wake,
            task,
        })
    }

    /// Publishes one message and waits until the broker has it: written for QoS 0, acknowledged
    /// for QoS 1 and 2. The broker's `timeout` bounds connecting and acknowledging together.
    pub(crate) async fn publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: &[u8],
    ) -> Result<(), HandlerError> {
        let timeout = self.broker.timeout.to_std();
        let publish = async {
            self.connected().await?;
            let outcome = self.queue(topic, qos, retain, payload)?;
            outcome.await.unwrap_or_else(|_| {
                Err(HandlerError::transient(format!(
                    "the connection to MQTT broker {:?} closed before the message was \
                     acknowledged",
                    self.broker.name
                )))
            })
        };
        tokio::time::timeout(timeout, publish)
            .await
            .unwrap_or_else(|_| {
                Err(HandlerError::timed_out(
                    format_args!("publishing to MQTT broker {:?}", self.broker.name),
                    timeout,
                ))
            })
    }

    /// Waits for the connection. When it is down, asks for an attempt now and waits for it.
    async fn connected(&self) -> Result<(), HandlerError> {
        let mut status = self.status.clone();
        let mut asked = false;
        loop {
            let now = status.borrow_and_update().clone();
            match now {
                Status::Connected => return Ok(()),
                Status::Connecting => {}
                Status::Down(err) if asked => return Err(err),
                Status::Down(_) => {
                    self.wake.notify_one();
                    asked = true;
                }
                Status::Closed => return Err(closed(&self.broker.name)),
            }
            if status.changed().await.is_err() {
                return Err(closed(&self.broker.name));
            }
        }
    }

    /// Queues the message to the event loop and its waiter here, together.
    fn queue(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: &[u8],
    ) -> Result<oneshot::Receiver<Result<(), HandlerError>>, HandlerError> {
        let mut shared = lock(&self.shared);
        let Some(client) = &shared.client else {
            return Err(HandlerError::transient(format!(
                "the connection to MQTT broker {:?} was lost",
                self.broker.name
            )));
        };
        client
            .try_publish(topic, qos, retain, payload.to_vec())
            .map_err(|e| {
                HandlerError::transient(format!(
                    "cannot queue the message for MQTT broker {:?}: {e}",
                    self.broker.name
                ))
            })?;
        let (done, outcome) = oneshot::channel();
        shared.queued.push_back(Waiter { qos, done });
        Ok(outcome)
    }

    /// Tells the broker goodbye, waiting a little for it to be sent, and ends the connection.
    async fn close(&self) {
        {
            let mut shared = lock(&self.shared);
            shared.closing = true;
            if let Some(client) = &shared.client {
                // An error means the loop is gone already.
                let _ = client.try_disconnect();
            }
        }
        self.wake.notify_one();
        let mut status = self.status.clone();
        let closed = status.wait_for(|s| matches!(s, Status::Closed));
        // Waiting longer than this is not worth holding up shutdown for.
        let _ = tokio::time::timeout(CLOSE_WAIT, closed).await;
    }
}

/// The task's side of a connection.
struct Loop {
    name: String,
    options: MqttOptions,
    connect_timeout: Duration,
    shared: Arc<Mutex<Shared>>,
    status: watch::Sender<Status>,
    wake: Arc<Notify>,
}

impl Loop {
    /// Connects, serves the connection until it fails, and again, until the service closes.
    async fn run(self) {
        let mut backoff = MIN_BACKOFF;
        loop {
            if lock(&self.shared).closing {
                break;
            }
            self.status.send_replace(Status::Connecting);
            let (client, mut events) = AsyncClient::new(self.options.clone(), QUEUE);
            // rumqttc counts this timeout in whole seconds.
            let seconds = self.connect_timeout.as_secs().max(1);
            events.network_options.set_connection_timeout(seconds);
            let failure = match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    lock(&self.shared).client = Some(client);
                    self.status.send_replace(Status::Connected);
                    backoff = MIN_BACKOFF;
                    match self.serve(&mut events).await {
                        Some(err) => lost(&self.name, &err),
                        None => break,
                    }
                }
                Ok(other) => HandlerError::transient(format!(
                    "MQTT broker {:?} answered the connection with {other:?}",
                    self.name
                )),
                Err(err) => refused(&self.name, &err),
            };
            self.fail_all(&failure);
            self.status.send_replace(Status::Down(failure));
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.wake.notified() => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.fail_all(&closed(&self.name));
        self.status.send_replace(Status::Closed);
    }

    /// Serves a connection: completes publishes as the loop writes them and the broker
    /// acknowledges them. Returns the error that ended it, or `None` after a disconnect asked
    /// for by [`Connection::close`].
    async fn serve(&self, events: &mut EventLoop) -> Option<ConnectionError> {
        loop {
            match events.poll().await {
                Ok(Event::Outgoing(Outgoing::Publish(id))) => self.written(id),
                Ok(Event::Incoming(Packet::PubAck(ack))) => self.acknowledged(ack.pkid),
                Ok(Event::Incoming(Packet::PubComp(complete))) => {
                    self.acknowledged(complete.pkid);
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return None,
                Ok(_) => {}
                Err(err) => return Some(err),
            }
        }
    }

    /// The oldest queued publish was written with packet identifier `id` (0 for QoS 0).
    fn written(&self, id: u16) {
        let mut shared = lock(&self.shared);
        let Some(waiter) = shared.queued.pop_front() else {
            return;
        };
        if waiter.qos == QoS::AtMostOnce {
            // The caller may have given up waiting; then nobody needs to know.
            let _ = waiter.done.send(Ok(()));
        } else {
            shared.unacknowledged.insert(id, waiter);
        }
    }

    /// The broker acknowledged packet `id` (PUBACK for QoS 1, PUBCOMP for QoS 2).
    fn acknowledged(&self, id: u16) {
        if let Some(waiter) = lock(&self.shared).unacknowledged.remove(&id) {
            let _ = waiter.done.send(Ok(()));
        }
    }

    /// Fails every publish of the connection that ended, and forgets its client, so that its
    /// queued messages go with it.
    fn fail_all(&self, err: &HandlerError) {
        let mut shared = lock(&self.shared);
        shared.client = None;
        let queued: Vec<Waiter> = shared.queued.drain(..).collect();
        let written: Vec<Waiter> = shared.unacknowledged.drain().map(|(_, w)| w).collect();
        for waiter in queued.into_iter().chain(written) {
            let _ = waiter.done.send(Err(err.clone()));
        }
    }
}

/// rumqttc's options for `broker`: MQTT 3.1.1, a clean session, paho's keep-alive, the client
/// identifier and credentials, and the transport of its URL.
fn mqtt_options(broker: &Broker) -> Result<MqttOptions, HandlerError> {
    let transport = broker
        .transport()
        .map_err(|e| HandlerError::permanent(e.message()))?;
    let tls = || {
        klaxon_http::rustls_client(&broker.tls())
            .map(TlsConfiguration::Rustls)
            .map_err(|e| HandlerError::permanent(format!("MQTT broker {:?}: {e}", broker.name)))
    };
    let client_id = broker.client_id();
    let mut options = match &transport {
        Transport::Tcp { host, port } => MqttOptions::new(client_id, host, *port),
        Transport::Tls { host, port } => {
            let mut options = MqttOptions::new(client_id, host, *port);
            options.set_transport(rumqttc::Transport::Tls(tls()?));
            options
        }
        // rumqttc takes the host and port of a WebSocket from the URL itself.
        Transport::WebSocket { url, tls: secure } => {
            let mut options = MqttOptions::new(client_id, url, 0);
            let transport = if *secure {
                rumqttc::Transport::Wss(tls()?)
            } else {
                rumqttc::Transport::Ws
            };
            options.set_transport(transport);
            options
        }
    };
    options
        .set_clean_session(true)
        .set_keep_alive(KEEP_ALIVE)
        .set_inflight(INFLIGHT)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    if !broker.username.is_empty() || !broker.password.is_empty() {
        options.set_credentials(broker.username.clone(), broker.password.clone());
    }
    Ok(options)
}

/// A connection attempt that failed: a refusal of the credentials or of the client is
/// permanent (trying again with the same settings fails again); anything else is retryable.
fn refused(name: &str, err: &ConnectionError) -> HandlerError {
    let reason = match err {
        ConnectionError::ConnectionRefused(code) => code,
        ConnectionError::Tls(rumqttc::TlsError::Io(io)) | ConnectionError::Io(io) => {
            // tokio-rustls reports a failed handshake as an IO error around rustls's.
            return match io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                Some(tls) => tls_failed(name, tls),
                None => HandlerError::io(format_args!("connect to MQTT broker {name:?}"), io),
            };
        }
        ConnectionError::Tls(tls) => return tls_failed(name, tls),
        ConnectionError::NetworkTimeout => {
            return HandlerError::transient(format!(
                "connect to MQTT broker {name:?}: no answer in time"
            ));
        }
        other => {
            return HandlerError::transient(format!("connect to MQTT broker {name:?}: {other}"));
        }
    };
    let refusal = |why: &str| {
        HandlerError::permanent(format!(
            "MQTT broker {name:?} refused the connection: {why}"
        ))
    };
    match reason {
        ConnectReturnCode::BadUserNamePassword => refusal(
            "bad user name or password; check the username and password of this [[mqtt]] broker",
        ),
        ConnectReturnCode::NotAuthorized => refusal(
            "not authorized; check the username and password of this [[mqtt]] broker, and \
             that the broker lets this user connect",
        ),
        ConnectReturnCode::BadClientId => refusal(
            "client identifier rejected; set client-id of this [[mqtt]] broker to one the \
             broker accepts",
        ),
        ConnectReturnCode::RefusedProtocolVersion => {
            refusal("the broker does not speak MQTT 3.1.1")
        }
        ConnectReturnCode::ServiceUnavailable => HandlerError::transient(format!(
            "MQTT broker {name:?} refused the connection: service unavailable"
        )),
        ConnectReturnCode::Success => HandlerError::transient(format!(
            "MQTT broker {name:?} refused the connection with success"
        )),
    }
}

/// A TLS handshake that failed: permanent, as the same settings fail the same way.
fn tls_failed(name: &str, err: &dyn std::fmt::Display) -> HandlerError {
    HandlerError::permanent(format!(
        "TLS with MQTT broker {name:?} failed: {err}; check its url and ssl-ca, or the \
         broker's certificate"
    ))
}

/// A connection that was up and failed: retryable.
fn lost(name: &str, err: &ConnectionError) -> HandlerError {
    HandlerError::transient(format!(
        "the connection to MQTT broker {name:?} was lost: {err}"
    ))
}

fn closed(name: &str) -> HandlerError {
    HandlerError::transient(format!("the connection to MQTT broker {name:?} is closed"))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
