//! The server's side of `|httpPost()`: the engine's [`Poster`], sending each request with the
//! shared HTTP client (`klaxon-http`) on the server's runtime and logging failures as
//! Kapacitor's node does ("failed to POST data", "POST returned non 2xx status code").

use std::sync::mpsc;
use std::time::Duration;

use klaxon_engine::tasks::Poster;
use klaxon_http::{Client, ClientOptions, Method};
use klaxon_pipeline::PostRequest;

use crate::redact::url_credentials;

/// How long a post may take without `.timeout()`: Kapacitor's node has no bound, but a task
/// waits for each post, so one endpoint that never answers would stop the task for good.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an error response `.captureResponse()` puts in the log.
const CAPTURED: usize = 1024;

/// Sends `|httpPost()` requests on the server's runtime.
pub(crate) struct HttpPoster {
    client: Client,
    runtime: tokio::runtime::Handle,
}

impl HttpPoster {
    /// A poster on the current runtime, with a client that verifies certificates against the
    /// platform's roots (Kapacitor's node uses Go's default client).
    pub(crate) fn new() -> Result<HttpPoster, klaxon_http::TlsError> {
        Ok(HttpPoster {
            client: Client::new(&ClientOptions::default())?,
            runtime: tokio::runtime::Handle::current(),
        })
    }
}

impl Poster for HttpPoster {
    fn post(&self, task: &str, node: &str, request: &PostRequest) -> u16 {
        let mut builder = self
            .client
            .request(Method::POST, &request.url)
            .body(request.body.clone());
        if let Some((user, password)) = &request.basic_auth {
            builder = builder.basic_auth(user, Some(password));
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let client = self.client.clone();
        let timeout = request.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let capture = request.capture_response;
        // The task is fed on a blocking thread; the request runs on the runtime and this thread
        // waits for its outcome, as Kapacitor's node waits for the response.
        let (done, outcome) = mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let result = match client.send(builder, timeout).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = if capture && !response.status().is_success() {
                        Some(klaxon_http::failure::read_start(response, CAPTURED).await)
                    } else {
                        None
                    };
                    Ok((status, body))
                }
                Err(e) => Err(e.to_string()),
            };
            let _ = done.send(result);
        });
        let url = url_credentials(&request.url);
        match outcome.recv() {
            Ok(Ok((status, body))) => {
                if status / 100 != 2 {
                    let error = match body {
                        Some(body) => body,
                        None => {
                            "unknown error, use .captureResponse() to capture the HTTP response"
                                .to_owned()
                        }
                    };
                    tracing::error!(task, node, url = %url, code = status, error = %error, "POST returned non 2xx status code");
                }
                status
            }
            Ok(Err(error)) => {
                tracing::error!(task, node, url = %url, error = %url_credentials(&error), "failed to POST data");
                0
            }
            Err(_) => {
                tracing::error!(task, node, url = %url, "failed to POST data: the server is shutting down");
                0
            }
        }
    }
}
