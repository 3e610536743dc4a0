//! The consumer-group protocol, spoken to the group's coordinator: FindCoordinator (v1),
//! JoinGroup (v2), SyncGroup (v1), Heartbeat (v1), LeaveGroup (v1), OffsetCommit (v2) and
//! OffsetFetch (v1). These versions are the oldest that Kafka 4 still takes, and they need no
//! tagged fields. The connection is plain TCP; requests go one at a time.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::KafkaError;
use crate::assign::{Assignment, Subscription};
use crate::wire::{Decoder, Encoder};

/// The largest response this client reads; group responses are small (a member list).
const MAX_RESPONSE: usize = 16 << 20;

/// Kafka's API keys and the version used of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    OffsetCommit,
    OffsetFetch,
    FindCoordinator,
    JoinGroup,
    Heartbeat,
    LeaveGroup,
    SyncGroup,
    SaslHandshake,
    SaslAuthenticate,
}

impl Api {
    fn key_and_version(self) -> (i16, i16) {
        match self {
            Api::OffsetCommit => (8, 2),
            Api::OffsetFetch => (9, 1),
            Api::FindCoordinator => (10, 1),
            Api::JoinGroup => (11, 2),
            Api::Heartbeat => (12, 1),
            Api::LeaveGroup => (13, 1),
            Api::SyncGroup => (14, 1),
            Api::SaslHandshake => (17, 1),
            Api::SaslAuthenticate => (36, 0),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Api::OffsetCommit => "OffsetCommit",
            Api::OffsetFetch => "OffsetFetch",
            Api::FindCoordinator => "FindCoordinator",
            Api::JoinGroup => "JoinGroup",
            Api::Heartbeat => "Heartbeat",
            Api::LeaveGroup => "LeaveGroup",
            Api::SyncGroup => "SyncGroup",
            Api::SaslHandshake => "SaslHandshake",
            Api::SaslAuthenticate => "SaslAuthenticate",
        }
    }
}

/// A broker connection's byte stream: plain TCP or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Sync + Unpin> Io for T {}

/// One connection to a broker, for group requests.
struct Connection {
    stream: Box<dyn Io>,
    addr: String,
    correlation: i32,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Connection {
    /// Connects to `addr`, over TLS with `tls` (the host part of `addr` is the name checked).
    async fn open(
        addr: &str,
        timeout: Duration,
        tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
    ) -> Result<Connection, KafkaError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| KafkaError::Io {
                addr: addr.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
            })?
            .map_err(|source| KafkaError::Io {
                addr: addr.to_owned(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let stream: Box<dyn Io> = match tls {
            None => Box::new(stream),
            Some(config) => {
                let host = host_of(addr);
                let name =
                    rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
                        KafkaError::Io {
                            addr: addr.to_owned(),
                            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
                        }
                    })?;
                let handshake = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(config))
                    .connect(name, stream);
                let tls = tokio::time::timeout(timeout, handshake)
                    .await
                    .map_err(|_| KafkaError::TimedOut {
                        what: "the TLS handshake",
                        addr: addr.to_owned(),
                        after: timeout,
                    })?
                    .map_err(|source| KafkaError::Io {
                        addr: addr.to_owned(),
                        source,
                    })?;
                Box::new(tls)
            }
        };
        Ok(Connection {
            stream,
            addr: addr.to_owned(),
            correlation: 0,
        })
    }

    /// Logs in with `sasl` (SaslHandshake, then SaslAuthenticate until the mechanism is done).
    async fn authenticate(
        &mut self,
        sasl: &rskafka::client::SaslConfig,
        client_id: &str,
        timeout: Duration,
    ) -> Result<(), KafkaError> {
        use rskafka::client::SaslConfig;
        let (mechanism, credentials) = match sasl {
            SaslConfig::Plain(c) => ("PLAIN", c),
            SaslConfig::ScramSha256(c) => ("SCRAM-SHA-256", c),
            SaslConfig::ScramSha512(c) => ("SCRAM-SHA-512", c),
            SaslConfig::Oauthbearer(_) => {
                return Err(KafkaError::Config(
                    "sasl-mechanism OAUTHBEARER is not available for a consumer".into(),
                ));
            }
        };
        let addr = self.addr.clone();
        let sasl_error = |e: &dyn std::fmt::Display| KafkaError::Sasl {
            addr: addr.clone(),
            reason: e.to_string(),
        };
        let mut body = Encoder::default();
        body.string(mechanism);
        let response = self
            .call(Api::SaslHandshake, &body.0, client_id, timeout)
            .await?;
        let mut d = Decoder::new(&response, "SaslHandshake");
        let code = d.i16()?;
        if code != 0 {
            let offered: Vec<String> = (0..d.count()?)
                .map(|_| d.string())
                .collect::<Result<_, _>>()?;
            return Err(KafkaError::broker(
                Api::SaslHandshake,
                code,
                format!("the broker offers {offered:?}"),
            ));
        }
        let config = rsasl::config::SASLConfig::with_credentials(
            None,
            credentials.username.clone(),
            credentials.password.clone(),
        )
        .map_err(|e| sasl_error(&e))?;
        let name =
            rsasl::mechname::Mechname::parse(mechanism.as_bytes()).map_err(|e| sasl_error(&e))?;
        let mut session = rsasl::prelude::SASLClient::new(config)
            .start_suggested(&[name])
            .map_err(|e| sasl_error(&e))?;
        let mut received: Option<Vec<u8>> = None;
        loop {
            let mut message = Vec::new();
            let state = session
                .step(received.as_deref(), &mut message)
                .map_err(|e| sasl_error(&e))?;
            if state.has_sent_message() {
                let mut body = Encoder::default();
                body.bytes(&message);
                let response = self
                    .call(Api::SaslAuthenticate, &body.0, client_id, timeout)
                    .await?;
                let mut d = Decoder::new(&response, "SaslAuthenticate");
                let code = d.i16()?;
                let error = d.string()?;
                let bytes = d.bytes()?.to_vec();
                if code != 0 {
                    return Err(KafkaError::broker(Api::SaslAuthenticate, code, error));
                }
                received = Some(bytes);
            }
            if state.is_finished() {
                return Ok(());
            }
        }
    }

    /// Sends one request and reads its response body (after the correlation ID).
    async fn call(
        &mut self,
        api: Api,
        body: &[u8],
        client_id: &str,
        timeout: Duration,
    ) -> Result<Vec<u8>, KafkaError> {
        let addr = self.addr.clone();
        let io = |source| KafkaError::Io {
            addr: addr.clone(),
            source,
        };
        self.correlation = self.correlation.wrapping_add(1);
        let (key, version) = api.key_and_version();
        let mut head = Encoder::default();
        head.i32(0)
            .i16(key)
            .i16(version)
            .i32(self.correlation)
            .string(client_id);
        let mut frame = head.0;
        frame.extend_from_slice(body);
        let size = i32::try_from(frame.len() - 4).unwrap_or(i32::MAX);
        frame[..4].copy_from_slice(&size.to_be_bytes());
        let exchange = async {
            self.stream.write_all(&frame).await.map_err(io)?;
            let size = self.stream.read_i32().await.map_err(io)?;
            let size = usize::try_from(size).unwrap_or(0);
            if !(4..=MAX_RESPONSE).contains(&size) {
                return Err(KafkaError::Malformed {
                    what: api.name(),
                    reason: format!("a response of {size} bytes"),
                });
            }
            let mut response = vec![0u8; size];
            self.stream.read_exact(&mut response).await.map_err(io)?;
            Ok(response)
        };
        let response = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| KafkaError::TimedOut {
                what: api.name(),
                addr: self.addr.clone(),
                after: timeout,
            })??;
        let correlation = i32::from_be_bytes([response[0], response[1], response[2], response[3]]);
        if correlation != self.correlation {
            return Err(KafkaError::Malformed {
                what: api.name(),
                reason: format!(
                    "correlation ID {correlation} answers request {}",
                    self.correlation
                ),
            });
        }
        Ok(response[4..].to_vec())
    }
}

/// A member's view of one generation of the group, as JoinGroup answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joined {
    pub(crate) generation: i32,
    /// Whether this member assigns the partitions for the whole group.
    pub(crate) leader: bool,
    /// Every member and its subscription (only the leader is told).
    pub(crate) members: Vec<(String, Subscription)>,
}

/// A (topic, partition, offset) to commit, or that was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offset {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    /// The next offset to read; -1 when the group has none.
    pub(crate) offset: i64,
}

/// This member of one group, talking to the group's coordinator.
#[derive(Debug)]
pub(crate) struct GroupClient {
    bootstrap: Vec<String>,
    group: String,
    client_id: String,
    timeout: Duration,
    coordinator: Option<Connection>,
    sasl: Option<rskafka::client::SaslConfig>,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    pub(crate) member_id: String,
    pub(crate) generation: i32,
}

impl GroupClient {
    pub(crate) fn new(
        bootstrap: Vec<String>,
        group: String,
        client_id: String,
        timeout: Duration,
        sasl: Option<rskafka::client::SaslConfig>,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Self {
        GroupClient {
            bootstrap,
            group,
            client_id,
            timeout,
            coordinator: None,
            sasl,
            tls,
            member_id: String::new(),
            generation: -1,
        }
    }

    /// Sends `body` to the coordinator (found first if need be). A connection that failed is
    /// dropped, so the next call finds the coordinator again.
    async fn call(
        &mut self,
        api: Api,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, KafkaError> {
        if self.coordinator.is_none() {
            self.coordinator = Some(self.find_coordinator().await?);
        }
        let Some(conn) = self.coordinator.as_mut() else {
            return Err(KafkaError::NoBroker);
        };
        let result = conn.call(api, body, &self.client_id, timeout).await;
        if result.is_err() {
            self.coordinator = None;
        }
        result
    }

    /// Drops the coordinator's connection (after NOT_COORDINATOR and the like).
    pub(crate) fn forget_coordinator(&mut self) {
        self.coordinator = None;
    }

    /// A connection to `addr`, logged in when SASL is configured.
    async fn connect(&self, addr: &str) -> Result<Connection, KafkaError> {
        let mut conn = Connection::open(addr, self.timeout, self.tls.as_ref()).await?;
        if let Some(sasl) = &self.sasl {
            conn.authenticate(sasl, &self.client_id, self.timeout)
                .await?;
        }
        Ok(conn)
    }

    async fn find_coordinator(&self) -> Result<Connection, KafkaError> {
        let mut last = KafkaError::NoBroker;
        for broker in &self.bootstrap {
            let mut conn = match self.connect(broker).await {
                Ok(conn) => conn,
                // A refused login is not the broker's absence: say so at once.
                Err(e @ (KafkaError::Sasl { .. } | KafkaError::Broker { .. })) => return Err(e),
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let mut body = Encoder::default();
            body.string(&self.group).i8(0);
            let response = match conn
                .call(Api::FindCoordinator, &body.0, &self.client_id, self.timeout)
                .await
            {
                Ok(response) => response,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let mut d = Decoder::new(&response, "FindCoordinator");
            let _throttle = d.i32()?;
            let code = d.i16()?;
            let message = d.string()?;
            if code != 0 {
                return Err(KafkaError::broker(Api::FindCoordinator, code, message));
            }
            let _node = d.i32()?;
            let host = d.string()?;
            let port = d.i32()?;
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            if addr == conn.addr {
                return Ok(conn);
            }
            return self.connect(&addr).await;
        }
        Err(last)
    }

    /// Joins (or rejoins) the group with `subscription`; waits up to the rebalance timeout
    /// for the other members.
    pub(crate) async fn join(
        &mut self,
        subscription: &Subscription,
        session_timeout: Duration,
        rebalance_timeout: Duration,
    ) -> Result<Joined, KafkaError> {
        let mut body = Encoder::default();
        body.string(&self.group)
            .i32(millis(session_timeout))
            .i32(millis(rebalance_timeout))
            .string(&self.member_id)
            .string("consumer")
            .count(1)
            .string(crate::assign::RANGE)
            .bytes(&subscription.encode());
        // The coordinator answers once every member has rejoined, up to the rebalance timeout.
        let response = self
            .call(Api::JoinGroup, &body.0, rebalance_timeout + self.timeout)
            .await?;
        let mut d = Decoder::new(&response, "JoinGroup");
        let _throttle = d.i32()?;
        let code = d.i16()?;
        let generation = d.i32()?;
        let _protocol = d.string()?;
        let leader = d.string()?;
        let member_id = d.string()?;
        if code == MEMBER_ID_REQUIRED && !member_id.is_empty() && self.member_id.is_empty() {
            // KIP-394 (Kafka from v4, some brokers at every version): the first join only
            // hands out the member ID, and the member joins again with it.
            self.member_id = member_id;
            return Box::pin(self.join(subscription, session_timeout, rebalance_timeout)).await;
        }
        if code != 0 {
            if code == UNKNOWN_MEMBER_ID {
                self.member_id.clear();
            }
            return Err(KafkaError::broker(Api::JoinGroup, code, String::new()));
        }
        let count = d.count()?;
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            let id = d.string()?;
            let metadata = d.bytes()?;
            members.push((id, Subscription::decode(metadata)?));
        }
        self.member_id = member_id;
        self.generation = generation;
        Ok(Joined {
            generation,
            leader: leader == self.member_id,
            members,
        })
    }

    /// Sends the leader's assignments (empty from the other members) and returns this
    /// member's own.
    pub(crate) async fn sync(
        &mut self,
        assignments: &[(String, Assignment)],
    ) -> Result<Assignment, KafkaError> {
        let mut body = Encoder::default();
        body.string(&self.group)
            .i32(self.generation)
            .string(&self.member_id)
            .count(assignments.len());
        for (member, assignment) in assignments {
            body.string(member).bytes(&assignment.encode());
        }
        let response = self.call(Api::SyncGroup, &body.0, self.timeout).await?;
        let mut d = Decoder::new(&response, "SyncGroup");
        let _throttle = d.i32()?;
        let code = d.i16()?;
        if code != 0 {
            return Err(KafkaError::broker(Api::SyncGroup, code, String::new()));
        }
        Assignment::decode(d.bytes()?)
    }

    /// Tells the coordinator this member is alive; an error says a rebalance is under way or
    /// the member was dropped.
    pub(crate) async fn heartbeat(&mut self) -> Result<(), KafkaError> {
        let mut body = Encoder::default();
        body.string(&self.group)
            .i32(self.generation)
            .string(&self.member_id);
        let response = self.call(Api::Heartbeat, &body.0, self.timeout).await?;
        let mut d = Decoder::new(&response, "Heartbeat");
        let _throttle = d.i32()?;
        match d.i16()? {
            0 => Ok(()),
            code => Err(KafkaError::broker(Api::Heartbeat, code, String::new())),
        }
    }

    /// Leaves the group, so that its partitions move at once instead of after the session
    /// timeout.
    pub(crate) async fn leave(&mut self) -> Result<(), KafkaError> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let mut body = Encoder::default();
        body.string(&self.group).string(&self.member_id);
        let response = self.call(Api::LeaveGroup, &body.0, self.timeout).await?;
        let mut d = Decoder::new(&response, "LeaveGroup");
        let _throttle = d.i32()?;
        self.member_id.clear();
        self.generation = -1;
        match d.i16()? {
            0 => Ok(()),
            code => Err(KafkaError::broker(Api::LeaveGroup, code, String::new())),
        }
    }

    /// Commits `offsets` (the next offset to read of each partition) for this generation.
    pub(crate) async fn commit(&mut self, offsets: &[Offset]) -> Result<(), KafkaError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let by_topic = by_topic(offsets);
        let mut body = Encoder::default();
        body.string(&self.group)
            .i32(self.generation)
            .string(&self.member_id)
            .i64(-1)
            .count(by_topic.len());
        for (topic, partitions) in &by_topic {
            body.string(topic).count(partitions.len());
            for o in partitions {
                body.i32(o.partition).i64(o.offset).null_string();
            }
        }
        let response = self.call(Api::OffsetCommit, &body.0, self.timeout).await?;
        let mut d = Decoder::new(&response, "OffsetCommit");
        for _ in 0..d.count()? {
            let _topic = d.string()?;
            for _ in 0..d.count()? {
                let _partition = d.i32()?;
                let code = d.i16()?;
                if code != 0 {
                    return Err(KafkaError::broker(Api::OffsetCommit, code, String::new()));
                }
            }
        }
        Ok(())
    }

    /// The group's committed offsets of `partitions` (-1 where it has none).
    pub(crate) async fn committed(
        &mut self,
        partitions: &[(String, i32)],
    ) -> Result<Vec<Offset>, KafkaError> {
        let asked: Vec<Offset> = partitions
            .iter()
            .map(|(topic, partition)| Offset {
                topic: topic.clone(),
                partition: *partition,
                offset: -1,
            })
            .collect();
        let by_topic = by_topic(&asked);
        let mut body = Encoder::default();
        body.string(&self.group).count(by_topic.len());
        for (topic, partitions) in &by_topic {
            body.string(topic).count(partitions.len());
            for o in partitions {
                body.i32(o.partition);
            }
        }
        let response = self.call(Api::OffsetFetch, &body.0, self.timeout).await?;
        let mut d = Decoder::new(&response, "OffsetFetch");
        let mut found = Vec::with_capacity(asked.len());
        for _ in 0..d.count()? {
            let topic = d.string()?;
            for _ in 0..d.count()? {
                let partition = d.i32()?;
                let offset = d.i64()?;
                let _metadata = d.string()?;
                let code = d.i16()?;
                // UNKNOWN_TOPIC_OR_PARTITION for a partition never committed: no offset.
                if code != 0 && code != UNKNOWN_TOPIC_OR_PARTITION {
                    return Err(KafkaError::broker(Api::OffsetFetch, code, String::new()));
                }
                found.push(Offset {
                    topic: topic.clone(),
                    partition,
                    offset: if code == 0 { offset } else { -1 },
                });
            }
        }
        Ok(found)
    }
}

/// The host of `host:port` (an IPv6 host without its brackets).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn by_topic(offsets: &[Offset]) -> Vec<(&str, Vec<&Offset>)> {
    let mut topics: Vec<(&str, Vec<&Offset>)> = Vec::new();
    for o in offsets {
        match topics.iter_mut().find(|(t, _)| *t == o.topic) {
            Some((_, list)) => list.push(o),
            None => topics.push((&o.topic, vec![o])),
        }
    }
    topics
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

pub(crate) const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub(crate) const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
pub(crate) const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub(crate) const NOT_COORDINATOR: i16 = 16;
pub(crate) const ILLEGAL_GENERATION: i16 = 22;
pub(crate) const UNKNOWN_MEMBER_ID: i16 = 25;
pub(crate) const REBALANCE_IN_PROGRESS: i16 = 27;
pub(crate) const MEMBER_ID_REQUIRED: i16 = 79;

/// Kafka's name of an error code, for messages.
pub(crate) fn error_name(code: i16) -> &'static str {
    match code {
        UNKNOWN_TOPIC_OR_PARTITION => "UNKNOWN_TOPIC_OR_PARTITION",
        COORDINATOR_LOAD_IN_PROGRESS => "COORDINATOR_LOAD_IN_PROGRESS",
        COORDINATOR_NOT_AVAILABLE => "COORDINATOR_NOT_AVAILABLE",
        NOT_COORDINATOR => "NOT_COORDINATOR",
        ILLEGAL_GENERATION => "ILLEGAL_GENERATION",
        UNKNOWN_MEMBER_ID => "UNKNOWN_MEMBER_ID",
        REBALANCE_IN_PROGRESS => "REBALANCE_IN_PROGRESS",
        MEMBER_ID_REQUIRED => "MEMBER_ID_REQUIRED",
        24 => "INVALID_GROUP_ID",
        33 => "UNSUPPORTED_SASL_MECHANISM",
        34 => "ILLEGAL_SASL_STATE",
        58 => "SASL_AUTHENTICATION_FAILED",
        26 => "INVALID_SESSION_TIMEOUT",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        30 => "GROUP_AUTHORIZATION_FAILED",
        23 => "INCONSISTENT_GROUP_PROTOCOL",
        _ => "an error",
    }
}
