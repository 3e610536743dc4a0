//! A tiny Foo chat server, for demos and tests (feature `demo`).
//!
//! [`FooServer`] listens on a loopback port, accepts the posts a foo handler sends
//! (`{"room": ..., "message": ...}`, on any path), answers them with the status it is told to
//! (200 unless [`FooServer::set_status`] says otherwise) and keeps what it received, so a test
//! can check the messages, or the raw requests, and a demo can print them.
//!
//! ```no_run
//! use std::time::Duration;
//! use klaxon_handler_foo::demo::FooServer;
//!
//! # async fn demo() -> std::io::Result<()> {
//! let foo = FooServer::start().await?;
//! // Configure `[foo] enabled = true`, `url = foo.url()`, then make alerts fire...
//! let messages = tokio::time::timeout(Duration::from_secs(10), foo.wait_for_messages(1))
//!     .await
//!     .expect("a message arrives");
//! assert_eq!(messages[0].room, "alerts");
//! println!("{}", messages[0]); // "alerts: cpu is CRITICAL"
//! # Ok(())
//! # }
//! ```
//!
//! The `foo-server` example runs one and prints each message as `room: message`:
//!
//! ```text
//! cargo run -p klaxon-handler-foo --features demo --example foo-server -- --listen 127.0.0.1:8088
//! ```

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use serde::Deserialize;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running demo Foo server. It stops when dropped.
#[derive(Debug)]
pub struct FooServer {
    address: SocketAddr,
    state: Arc<ServerState>,
    task: JoinHandle<()>,
}

/// A message posted to a room.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    /// The room it was posted to.
    pub room: String,
    /// The text.
    pub message: String,
}

impl fmt::Display for Message {
    /// `room: message`, as the `foo-server` example prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.room, self.message)
    }
}

/// A request as it arrived, for tests of the wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, such as `POST`.
    pub method: String,
    /// The path and query, such as `/`.
    pub path: String,
    /// The `Content-Type` header, if there was one.
    pub content_type: Option<String>,
    /// The body, as text (invalid UTF-8 replaced).
    pub body: String,
}

#[derive(Debug)]
struct ServerState {
    status: AtomicU16,
    log: Mutex<Log>,
    /// The number of messages received, for [`FooServer::wait_for_messages`].
    received: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct Log {
    requests: Vec<Request>,
    messages: Vec<Message>,
}

impl FooServer {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// When the port cannot be bound.
    pub async fn start() -> io::Result<FooServer> {
        FooServer::bind("127.0.0.1:0").await
    }

    /// Starts a server on `address`, such as `127.0.0.1:8088`.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    pub async fn bind(address: impl ToSocketAddrs) -> io::Result<FooServer> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let state = Arc::new(ServerState {
            status: AtomicU16::new(200),
            log: Mutex::default(),
            received: watch::Sender::new(0),
        });
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            // Serving ends only when the task is aborted, or with the listener's failure.
            let _ = axum::serve(listener, app).await;
        });
        Ok(FooServer {
            address,
            state,
            task,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The URL to configure as `[foo] url`: `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Answers the following posts with `status` (200 by default); only posts answered 200 count
    /// as messages.
    ///
    /// # Panics
    ///
    /// When `status` is not an HTTP status code (100 to 999).
    pub fn set_status(&self, status: u16) {
        assert!(
            StatusCode::from_u16(status).is_ok(),
            "{status} is not an HTTP status code"
        );
        self.state.status.store(status, Ordering::Relaxed);
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<Message> {
        self.state.log().messages.clone()
    }

    /// Every request received so far, in order, including refused ones.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log().requests.clone()
    }

    /// Waits until at least `count` messages have arrived; returns all messages. Wrap it in
    /// `tokio::time::timeout` to bound the wait.
    pub async fn wait_for_messages(&self, count: usize) -> Vec<Message> {
        let mut received = self.state.received.subscribe();
        // The sender lives as long as `self`, so the wait cannot fail.
        let _ = received.wait_for(|n| *n >= count).await;
        self.messages()
    }
}

impl Drop for FooServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ServerState {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handles every request: records it, and takes a well-formed post as a message unless told to
/// answer with another status.
async fn receive(
    State(state): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let request = Request {
        method: method.to_string(),
        path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut log = state.log();
    log.requests.push(request);
    if method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "post messages with POST\n".to_owned(),
        );
    }
    let message: Message = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => {
            let text = format!("expected {{\"room\": string, \"message\": string}}: {e}\n");
            return (StatusCode::BAD_REQUEST, text);
        }
    };
    let status = StatusCode::from_u16(state.status.load(Ordering::Relaxed))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::OK {
        log.messages.push(message);
        state.received.send_replace(log.messages.len());
    }
    (status, String::new())
}
