//! The `post` alert handler (Kapacitor's httppost): posts each alert to an HTTP endpoint.
//!
//! For every event the handler sends one `POST` to its URL, or to a configured `[[httppost]]`
//! endpoint, with the request Kapacitor sends:
//!
//! - the body is the alert JSON every Kapacitor handler writes, followed by a newline, with
//!   `Content-Type: application/json`:
//!
//!   ```text
//!   {"id":"cpu:nil","message":"cpu:nil is CRITICAL","details":"","time":"2024-05-01T12:00:00Z","duration":0,"level":"CRITICAL","data":{"series":[...]},"previousLevel":"OK","recoverable":true}
//!   ```
//!
//! - or, when the endpoint has an `alert-template`, the rendered template exactly, with no
//!   Content-Type unless a header sets one;
//! - headers, in this order, a later one replacing an earlier one of the same name: the
//!   endpoint's `basic-auth` (`Authorization: Basic ...`), the endpoint's `headers`, the handler's
//!   `headers`, and `Content-Type: application/json` for the alert JSON. Credentials in the URL
//!   (`https://user:pass@host/`) become basic authentication when no `Authorization` is set.
//!
//! The URL is a Go template over the alert, as in Kapacitor: `https://hooks.example.com/{{.ID}}`
//! posts each alert to a path of its own.
//!
//! # Options
//!
//! | option | type | meaning |
//! |---|---|---|
//! | `url` | string | Where to post: an `http` or `https` URL, possibly a template. Used when `endpoint` is empty. |
//! | `endpoint` | string | A `[[httppost]]` endpoint's name: its URL, headers, basic-auth and alert template are used, and `url` is ignored. |
//! | `headers` | map | Headers to set (`{"From": "alerts@example.com"}`), replacing the endpoint's of the same name. `Authenticate` cannot be set. |
//! | `capture-response` | bool | Put the start (1 KiB) of an error response's body in the failure message. |
//! | `timeout` | duration | How long one post may take: integer nanoseconds, as Kapacitor writes it, or a duration such as `"10s"`. `0` (the default) is 30 s. |
//! | `skip-ssl-verification` | bool | Accept any server certificate (for test servers). `skipSSLVerification`, as Kapacitor's documentation writes it, is the same option. |
//!
//! One of `url` and `endpoint` is required.
//!
//! # In a handler file
//!
//! Kapacitor's two documented examples work as written, `timeout: 10s` and `skipSSLVerification`
//! included:
//!
//! ```yaml
//! id: handler-id
//! topic: topic-name
//! kind: post
//! options:
//!   # Using the 'example' endpoint configured in the configuration file
//!   endpoint: example
//! ```
//!
//! ```yaml
//! id: handler-id
//! topic: topic-name
//! kind: post
//! options:
//!   # Defining post options "inline"
//!   url: http://example.com/path
//!   headers:
//!     'Example1': 'example1'
//!     'Example2': 'example2'
//!   capture-response: true
//!   timeout: 10s
//!   skipSSLVerification: true
//! ```
//!
//! # In TICKscript
//!
//! `.post()` takes the URL as its argument, or none with `.endpoint()`; the other options are
//! chained properties:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .post('https://example.com/path')
//!       .header('Example1', 'example1')
//!       .header('Example2', 'example2')
//!       .captureResponse()
//!       .timeout(10s)
//!       .skipSSLVerification()
//! ```
//!
//! ```text
//!     .post()
//!       .endpoint('example')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's section, a list of endpoints named by `endpoint`:
//!
//! ```toml
//! [[httppost]]
//!   endpoint = "api-alert"
//!   url = "http://mydomain.com/api/alerts"
//!   headers = { From = "alerts@mydomain.com" }
//!   basic-auth = { username = "my-user", password = "my-pass" }
//!   # A Go template for the body, executed with the alert: .ID, .Message, .Details, .Time,
//!   # .Duration, .Level, .Data (.Data.Series: .Name, .Tags, .Columns, .Values),
//!   # .PreviousLevel, .Recoverable; with the functions json and jsonCompact.
//!   alert-template = "{{.Message}}:{{range .Data.Series}}{{.Tags}},{{range .Values}}{{.}}{{end}}{{end}}"
//!   # Or an absolute path to a file holding it.
//!   # alert-template-file = "/etc/klaxon/alert.tmpl"
//!   # The httpPost node's body template, for each row (not used by post handlers).
//!   # row-template = ""
//!   # row-template-file = ""
//! ```
//!
//! Without any `[[httppost]]` there is one endpoint, `example`, posting to `http://example.com`,
//! as in Kapacitor. `basic-auth` is secret: the config API shows whether it is set.
//! A configuration change (through the config API) reaches existing handlers at their next alert;
//! a handler whose endpoint was removed fails its deliveries, naming the endpoints there are.
//!
//! The section is refused, naming the endpoint and the key, for a missing `endpoint` or `url`, a
//! name used twice, a URL that is not `http` or `https` with a host (for a template: what it gives
//! for a sample alert), a template that does not parse, both a template and its file, a relative or
//! unreadable template file, and a header that cannot be sent:
//! `httppost: endpoint "api-alert": url "mydomain.com/api" has no scheme; write it like "https://mydomain.com/api"`.
//!
//! Certificates are verified against the platform's CA roots (`SSL_CERT_FILE` and `SSL_CERT_DIR`
//! are honoured); Kapacitor's httppost section has no CA or client-certificate keys, and nor has
//! this one.
//!
//! # Failures
//!
//! These refuse the handler definition (handler file, HTTP API or TICKscript), naming the option
//! and the value: neither `url` nor `endpoint`; an `endpoint` that is not configured
//! (`endpoint "nope" is not configured; [[httppost]] has: api-alert, example`); a URL without a
//! scheme, with a scheme other than http and https, or without a host
//! (`url "example.com/hook" has no scheme; write it like "https://example.com/hook"`); a URL template
//! that does not parse or does not render for a sample alert; a header named `Authenticate`
//! (`headers: the "Authenticate" header cannot be set`) or one that cannot be sent; a negative
//! `timeout`; more than one URL in `.post(...)`.
//!
//! At delivery, the engine logs the failure and retries it if a retry could help:
//!
//! - a response of 500 or above, or 429, is retried (after its `Retry-After` when it has one):
//!   `POST https://hooks.example.com/: 503 Service Unavailable`;
//! - any other status that is not 2xx is not: `POST https://hooks.example.com/: 404 Not Found`,
//!   with `: <body>` when `capture-response` is set, else a hint to set it;
//! - a refused or reset connection, or a post that outlasts the timeout, is retried:
//!   `POST https://hooks.example.com/ timed out after 10s`;
//! - a certificate that cannot be verified is not, and names the host:
//!   `POST https://127.0.0.1:8443/: TLS with 127.0.0.1 failed: invalid peer certificate: UnknownIssuer`;
//! - a template that fails on this alert, or a URL template giving something that is not a URL,
//!   is not retried.
//!
//! # Service test
//!
//! `klaxon service-tests httppost` (or `POST /kapacitor/v1/service-tests/httppost`) posts
//! Kapacitor's test alert, the empty alert (`{"id":"","message":"",...,"time":"0001-01-01T00:00:00Z",...}`),
//! with Kapacitor's options and defaults: `{"endpoint": "example", "url": "http://localhost:3000/",
//! "headers": {"Auth": "secret"}, "timeout": 0}`. When `endpoint` names a configured endpoint, the
//! test posts there, as a handler with that endpoint would (its URL, headers, basic-auth and
//! template); otherwise it posts to `url`. The test passes on a 2xx response and fails with the
//! status and body otherwise.
//!
//! # Differences from Kapacitor
//!
//! - `.skipSSLVerification()` in TICKscript is honoured; Kapacitor parses it and drops it. The
//!   handler-file key `skipSSLVerification` of Kapacitor's documentation is accepted as
//!   `skip-ssl-verification`, and `timeout` accepts `"10s"` as well as nanoseconds; Kapacitor
//!   refuses both.
//! - An `endpoint` that is not configured is refused, even with a `url`; Kapacitor silently posts
//!   to the `url` instead. Bad URLs are refused at definition; Kapacitor fails each alert.
//! - Kapacitor posts once and logs failures; Klaxon's engine retries 5xx, 429 and network
//!   failures. Without a timeout, a post may take 30 s, as with Kapacitor's client.
//! - Template files get the `json` and `jsonCompact` functions too; in Kapacitor only inline
//!   templates have them. A field that `alert.Data` does not have (`{{.Name}}`) fails the
//!   template, as in Kapacitor; so does a missing map key (`{{.Tags.nope}}`), which Go renders as
//!   `<no value>`.
//! - The service test honours `endpoint` and `timeout` and fails on a non-2xx response; Kapacitor's
//!   ignores both and passes whatever the status, and panics on an empty `url`.
//! - An endpoint added through the config API works; Kapacitor deletes it at once (a bug in its
//!   update).
//! - One connection pool per service instead of a new client per alert. The `User-Agent` is
//!   `Klaxon/<version>` instead of `Go-http-client/1.1`, and HTTPS may use HTTP/2.

mod config;
mod handler;
mod template;

pub use config::{BasicAuth, Config, Endpoint};
pub use handler::{DEFAULT_TIMEOUT, Options, TestOptions, Timeout};
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::PostService;

klaxon_core::register_service!(PostService);

#[cfg(test)]
mod tests;
