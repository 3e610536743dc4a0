//! Test support (the `testing` feature): a certificate authority made for one test, and a local
//! HTTP or HTTPS receiver that answers from a script and records every request, byte for byte.
//! For the tests of handler crates that speak HTTP (with [`service_posting_to`], a service
//! sending to a receiver) and the end-to-end tests; never shipped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A CA generated for one test, and the PEM files it signed, written to a directory.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate: what a client given `ssl-ca` trusts.
    pub ca: PathBuf,
    /// A server certificate for `127.0.0.1`, `::1` and `localhost`, signed by the CA.
    pub server_cert: PathBuf,
    /// Its private key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA.
    pub client_cert: PathBuf,
    /// Its private key.
    pub client_key: PathBuf,
    /// A server certificate for the same names signed by another CA, which nothing trusts.
    pub untrusted_cert: PathBuf,
    /// Its private key.
    pub untrusted_key: PathBuf,
}

impl TestPki {
    /// Generates the CA and the certificates into `dir` (which must exist).
    ///
    /// # Panics
    ///
    /// When generation or writing fails.
    pub fn generate(dir: &Path) -> TestPki {
        let (ca, ca_params, ca_key) = authority("Klaxon test CA");
        let (_, other_params, other_key) = authority("Untrusted test CA");
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a PEM file");
            path
        };
        let names = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ];
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let other_issuer = rcgen::Issuer::from_params(&other_params, &other_key);
        let (server, server_key) = leaf(names.clone(), &issuer);
        let (client, client_key) = leaf(vec!["klaxon-client".to_owned()], &issuer);
        let (untrusted, untrusted_key) = leaf(names, &other_issuer);
        TestPki {
            ca: write("ca.pem", ca.pem()),
            server_cert: write("server.pem", server.pem()),
            server_key: write("server-key.pem", server_key.serialize_pem()),
            client_cert: write("client.pem", client.pem()),
            client_key: write("client-key.pem", client_key.serialize_pem()),
            untrusted_cert: write("untrusted.pem", untrusted.pem()),
            untrusted_key: write("untrusted-key.pem", untrusted_key.serialize_pem()),
        }
    }
}

fn authority(name: &str) -> (rcgen::Certificate, rcgen::CertificateParams, rcgen::KeyPair) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().expect("a CA key");
    let certificate = params.self_signed(&key).expect("a CA certificate");
    (certificate, params, key)
}

fn leaf(
    names: Vec<String>,
    issuer: &rcgen::Issuer<'_, &rcgen::KeyPair>,
) -> (rcgen::Certificate, rcgen::KeyPair) {
    let params = rcgen::CertificateParams::new(names).expect("certificate params");
    let key = rcgen::KeyPair::generate().expect("a key");
    let certificate = params
        .signed_by(&key, issuer)
        .expect("a signed certificate");
    (certificate, key)
}

/// One request as the receiver read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The method.
    pub method: String,
    /// The path and query.
    pub target: String,
    /// The headers, names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    /// The value of header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An answer in a receiver's script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Answer {
    /// A bodiless answer with `status`.
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// The same answer with a header added.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same answer with `body`.
    pub fn body(mut self, body: &str) -> Answer {
        self.body = body.to_owned();
        self
    }
}

/// A local HTTP (or HTTPS) server on a loopback port: answers each request with the next answer
/// of its script (`200` once the script runs out) and records it.
#[derive(Debug)]
pub struct Receiver {
    url: String,
    requests: mpsc::Receiver<Received>,
    handshake_errors: Arc<Mutex<Vec<String>>>,
}

/// How long [`Receiver::next`] waits: generous, for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

impl Receiver {
    /// A plain HTTP receiver answering with `script`.
    pub fn http(script: Vec<Answer>) -> Receiver {
        Receiver::start(None, script)
    }

    /// An HTTPS receiver with this certificate and key, answering with `script`.
    pub fn https(cert: &Path, key: &Path, script: Vec<Answer>) -> Receiver {
        let config = crate::server_tls(cert, key).expect("the test certificate loads");
        Receiver::start(Some(config), script)
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>, script: Vec<Answer>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!(
            "{scheme}://{}/",
            listener.local_addr().expect("the receiver's address")
        );
        let (tx, requests) = mpsc::channel();
        let handshake_errors = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::clone(&handshake_errors);
        std::thread::spawn(move || {
            let mut script: VecDeque<Answer> = script.into();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let _ = stream.set_read_timeout(Some(DEADLINE));
                let outcome = match &tls {
                    Some(config) => {
                        let connection = rustls::ServerConnection::new(Arc::clone(config))
                            .expect("a TLS connection");
                        let mut stream = rustls::StreamOwned::new(connection, stream);
                        serve(&mut stream, &mut script)
                    }
                    None => {
                        let mut stream = stream;
                        serve(&mut stream, &mut script)
                    }
                };
                match outcome {
                    Ok(Some(received)) => {
                        if tx.send(received).is_err() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => errors
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(e.to_string()),
                }
            }
        });
        Receiver {
            url,
            requests,
            handshake_errors,
        }
    }

    /// `http(s)://127.0.0.1:<port>/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next request; panics when none arrives within 30 s.
    pub fn next(&self) -> Received {
        self.requests
            .recv_timeout(DEADLINE)
            .expect("a request within the deadline")
    }

    /// The next request if one arrives within `timeout`.
    pub fn next_within(&self, timeout: Duration) -> Option<Received> {
        self.requests.recv_timeout(timeout).ok()
    }

    /// What failed on connections that never made a request (TLS handshakes a client refused).
    pub fn connection_errors(&self) -> Vec<String> {
        self.handshake_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// `S`'s service built through the registry as the server builds it
/// ([`klaxon_core::testing::service`]), from the section `config` with its `url` key set to
/// `receiver`'s URL, then the keys of `extra`: a kind with Kapacitor's `url` key sending to this
/// receiver.
///
/// # Panics
///
/// When `config` or `extra` is not an object, or the configuration is refused.
///
/// ```ignore
/// let receiver = Receiver::http(vec![Answer::status(202)]);
/// let service = klaxon_http::testing::service_posting_to::<Pagerduty2Service>(
///     &receiver,
///     json!({"enabled": true}),
///     json!({"routing-key": "key"}),
/// );
/// ```
pub fn service_posting_to<S: klaxon_core::Service>(
    receiver: &Receiver,
    config: klaxon_core::serde_json::Value,
    extra: klaxon_core::serde_json::Value,
) -> Arc<dyn klaxon_core::DynService> {
    let mut config = config;
    let keys = config
        .as_object_mut()
        .expect("the configuration is an object");
    keys.insert("url".to_owned(), receiver.url().into());
    keys.extend(
        extra
            .as_object()
            .expect("the extra keys are an object")
            .clone(),
    );
    klaxon_core::testing::service::<S>(&config)
}

/// Reads one request from `stream` and answers it; `None` when the peer closed first.
fn serve<S: Read + Write>(
    stream: &mut S,
    script: &mut VecDeque<Answer>,
) -> std::io::Result<Option<Received>> {
    let mut reader = BufReader::new(&mut *stream);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    drop(reader);
    let answer = script.pop_front().unwrap_or_else(|| Answer::status(200));
    let mut response = format!(
        "HTTP/1.1 {} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&answer.body);
    stream.write_all(response.as_bytes())?;
    stream.flush()?;
    Ok(Some(Received {
        method,
        target,
        headers,
        body,
        status: answer.status,
    }))
}
