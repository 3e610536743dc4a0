//! The `smtp` alert handler (Kapacitor's email, `.email()` in TICKscript): emails each alert
//! through an SMTP server, as Kapacitor's `smtp` service does.
//!
//! For every event the handler sends one email from `[smtp] from` whose subject is the alert's
//! message (`.message()`) and whose body, as HTML, is its details (`.details()`), in the form
//! Kapacitor's mail library writes it:
//!
//! ```text
//! Mime-Version: 1.0
//! Date: Mon, 02 Jan 2006 15:04:05 -0700
//! Message-ID: <1136214245000000000.5f0c6e4b9a3d2e11@example.com>
//! From: kapacitor@example.com
//! To: oncall@example.com, backup@example.com
//! Subject: cpu:nil is CRITICAL
//! Content-Type: text/html; charset=UTF-8
//! Content-Transfer-Encoding: quoted-printable
//!
//! <h1>cpu:nil</h1>
//! <a href=3D"https://grafana.example.com/">Dashboard</a>
//! ```
//!
//! A subject or address with more than printable ASCII is Q-encoded (`=?UTF-8?q?caf=C3=A9?=`),
//! long header lines are folded, and the body is quoted-printable, each exactly as Kapacitor
//! writes them.
//!
//! The recipients are the handler's `to` addresses followed by what its `to-field` templates
//! render for the event; when those give none, the configured `[smtp] to` (and `toTemplates`).
//! The To header lists them all as given; each address gets the message once.
//!
//! One connection to the server serves every handler: it is opened for the first email, upgraded
//! with STARTTLS whenever the server offers it, authenticated when `username` is set and the
//! server offers AUTH (PLAIN, else LOGIN), kept for the next emails, and closed (QUIT) once
//! `idle-timeout` passes without mail or when the server settings change. Emails go out one at
//! a time. A handler's delivery ends when the server has accepted the message.
//!
//! # Options
//!
//! | option     | type            | meaning |
//! |------------|-----------------|---------|
//! | `to`       | list of strings | Recipients, `oncall@example.com` or `On Call <oncall@example.com>`. |
//! | `to-field` | list of strings | More recipients, each a Go template over the alert's data: `.Name`, `.TaskName`, `.Category`, `.Group`, `.Tags`, `.Fields`, `.Recoverable`, such as `{{ index .Tags "owner" }}`. One that renders nothing (or `<no value>`) adds no recipient. |
//!
//! With neither, the configured `[smtp] to` at the time of each alert.
//!
//! # In a handler file
//!
//! ```yaml
//! id: email-cpu-alert
//! topic: cpu
//! kind: smtp
//! options:
//!   to:
//!     - oncall1@mydomain.com
//!     - oncall2@mydomain.com
//! ```
//!
//! # In TICKscript
//!
//! `.email()` takes any number of recipients; `.to()` and `.toTemplates()` add more:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .details('''<h1>{{ .ID }}</h1><b>{{ .Message }}</b>''')
//!     .email('oncall1@mydomain.com')
//!       .to('oncall2@mydomain.com')
//!       .toTemplates('{{ index .Tags "owner" }}')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[smtp]` section, plus `timeout`:
//!
//! ```toml
//! [smtp]
//! # Whether email is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The SMTP server.
//! host = "localhost"
//! port = 25
//! # Authenticate when the server offers AUTH; empty username: no authentication.
//! # The password is secret: redacted by the config API.
//! username = ""
//! password = ""
//! # The sender, required when enabled.
//! from = "kapacitor@example.com"
//! # Recipients of handlers that name none, and of the service test.
//! to = ["oncall@example.com"]
//! # Accept any certificate at STARTTLS (tests only).
//! no-verify = false
//! # Close the connection after this long without mail ("0s": after each email).
//! idle-timeout = "30s"
//! # Every TICKscript alert node without .email() gets one sending to `to`.
//! global = false
//! # With global: every alert node of every task sends only changes of state.
//! state-changes-only = false
//! # How long connecting and sending one email may take.
//! timeout = "10s"
//! ```
//!
//! `from` and each `to` must be one address each (`kapacitor@example.com` or `Kapacitor
//! <kapacitor@example.com>`); an empty `host`, port 0, a negative `idle-timeout` or a zero
//! `timeout` are refused. Changes through the config API apply to the next email (a changed
//! server, port, username, password or `no-verify` opens a new connection); `global` and
//! `state-changes-only` apply to tasks started afterwards. STARTTLS checks the server's
//! certificate against `host` with this machine's CA roots (`SSL_CERT_FILE` adds a CA).
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - no recipient at all: `not sending email, no recipients defined: give the handler recipients
//!   (.email('oncall@example.com'), to: [...]) or set [smtp] to`;
//! - a recipient template fails, or renders something that is not an address:
//!   `recipient "bob" is not an email address; ...`;
//! - the server cannot be reached, drops the connection, answers 4xx (`send mail through
//!   localhost:25: transient error (451): ...`), or the email outlasts `timeout`: retryable;
//! - the server refuses (5xx), for example a recipient or the credentials: `authenticate as
//!   "kapa" with smtp.example.com:587: permanent error (535): 5.7.8 Authentication credentials
//!   invalid`;
//! - STARTTLS fails, for example on a certificate this machine does not trust: `STARTTLS with
//!   smtp.example.com:587: ...`;
//! - a username is set, the server offers AUTH but no STARTTLS, and is not on this machine: `not
//!   sending the password of "kapa" to smtp.example.com:25 unencrypted: the server offers no
//!   STARTTLS`.
//!
//! A handler file or TICKscript with a `to` that is not an address, or a `to-field` template that
//! does not parse, is refused at definition (`to[0] "oncall" is not an email address; ...`).
//!
//! # Service test
//!
//! `klaxon service-tests smtp` (or `POST /kapacitor/v1/service-tests/smtp`) sends one email with
//! Kapacitor's test options: `{"to": <[smtp] to>, "subject": "test subject", "body": "test
//! body"}`; it succeeds when the server has accepted it, and fails with the server's answer
//! otherwise.
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor queues the email and reports success at once, only logging what the server says;
//!   Klaxon's delivery and service test end when the server accepted the email, and return its
//!   refusals to the engine, which retries 4xx answers and network failures.
//! - Each email is bounded by `timeout` (Kapacitor bounds connecting only, by 10 s).
//! - `toTemplates` in `[smtp]` are used, as defaults with `to`; Kapacitor reads and ignores them.
//! - A `to` that is not an address or a template that does not parse refuses the handler;
//!   Kapacitor logs the template error and mails the templates before it, and fails at send time
//!   on a bad address.
//! - A recipient template that renders `<no value>` (a missing field) adds no recipient, as one
//!   rendering nothing does; Kapacitor tries to mail `<no value>` and fails the whole email.
//! - The email has a `Message-ID` header (RFC 5322 asks for one, and some providers refuse mail
//!   without it), which Kapacitor's lacks; its headers come in a fixed order (Kapacitor's vary
//!   from email to email).
//! - The password is never sent unencrypted to another machine; CRAM-MD5, which Kapacitor
//!   prefers when offered, is not used.

mod address;
mod config;
mod handler;
mod mailer;
mod message;
mod recipients;
#[cfg(test)]
mod stand_in;

pub use config::Config;
pub use handler::{Options, SmtpService, TestOptions};

klaxon_core::register_service!(SmtpService);

#[cfg(test)]
mod tests;
