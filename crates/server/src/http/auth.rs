//! `[http] auth-enabled`: HTTP basic auth for `[[http.users]]`, bearer tokens for
//! `[[http.tokens]]`, and a permission per request class.
//!
//! Every request but `/kapacitor/v1/ping` needs a permission: GET and HEAD need `read`, writing
//! points and creating or expiring silences need `write`, anything else (tasks, handlers,
//! configuration, service tests, which can run programs) needs `admin`. Passwords and tokens are stored as argon2 PHC strings; checking
//! one recomputes the hash and compares it in constant time, and an unknown user is checked
//! against a dummy hash made with the costliest configured parameters, so that its answer never
//! comes sooner than a known user's.
//!
//! Under attack (issue #25), argon2's cost is the server's: each check takes tens of megabytes
//! and milliseconds of CPU. So:
//!
//! - at most `[http] max-concurrent-password-checks` checks run at once, each in one of as many
//!   kept argon2 memories ([`crate::password::Memory`]); a request that cannot start its check
//!   within [`CHECK_WAIT`] gets 503 with `Retry-After`;
//! - a client (an IP address) that failed `[http] max-auth-failures` times within
//!   `auth-failure-window` gets 429 with `Retry-After` until the window ends, without a check;
//! - a bearer token of the form `<name>.<secret>` is checked only against the `[[http.tokens]]`
//!   entry of that name (one check); other tokens are tried against every entry, as before;
//! - every refusal is counted in `/metrics` (`klaxon_auth_failures_total` by reason) and logged
//!   at a bounded rate.
//!
//! The console's login form (`/console/login`) checks a user's password once, as basic auth
//! does, and gives the browser a session cookie (`klaxon_session`, HttpOnly, SameSite=Strict,
//! random 256 bits) that stands for that user for [`SESSION_TTL`]; sessions live in memory
//! only, so a restart signs everyone out. A console page asked for without credentials is
//! redirected to the form instead of getting the basic-auth challenge.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ApiError;
use crate::config::{HttpConfig, Permission};
use crate::password::{HashError, Memory, dummy_hash, strongest, verify_in};
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use klaxon_engine::LogLimit;
use tokio::sync::Semaphore;

/// How long a request waits for one of `[http] max-concurrent-password-checks` before 503.
pub const CHECK_WAIT: Duration = Duration::from_secs(1);

/// How long a console session lasts after its login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// The most sessions kept; past it, the oldest is dropped to make room.
const MAX_SESSIONS: usize = 10_000;

/// The console session cookie's name.
pub const SESSION_COOKIE: &str = "klaxon_session";

/// Clients whose failures are remembered one by one; past it, the clients not yet known share
/// one budget.
const MAX_CLIENTS: usize = 10_000;

/// Who may do what, from `[http]`, and the bounds on checking it.
#[derive(Debug)]
pub struct Authenticator {
    users: Vec<Credential>,
    tokens: Vec<Credential>,
    /// Checked for an unknown user name, so that the answer takes as long as for a known one.
    dummy: String,
    checks: Checks,
    budget: FailureBudget,
    stats: Arc<AuthStats>,
    /// A log budget per [`Reason`], so that a flood of one kind never hides another.
    logs: [LogLimit; Reason::ALL.len()],
    /// The console's sessions, by token.
    sessions: Mutex<HashMap<String, Session>>,
}

/// A console login: who, and until when.
#[derive(Debug, Clone)]
struct Session {
    name: String,
    permission: Permission,
    expires: Instant,
}

#[derive(Debug)]
struct Credential {
    name: String,
    hash: String,
    permission: Permission,
}

/// The password checks that may run at once, and a kept argon2 memory for each.
#[derive(Debug)]
struct Checks {
    permits: Arc<Semaphore>,
    memories: Mutex<Vec<Memory>>,
}

/// Why requests were refused, for `/metrics`.
#[derive(Debug, Default)]
pub struct AuthStats {
    counts: [AtomicU64; Reason::ALL.len()],
}

/// The reasons of [`AuthStats`], the values of the metric's `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No `Authorization` header.
    Missing,
    /// A user, password or token that is not right.
    Wrong,
    /// An `Authorization` header that cannot be read.
    Malformed,
    /// Authenticated without the permission the request needs.
    Forbidden,
    /// Refused without a check: the client used up its failure budget.
    Throttled,
    /// Refused without a check: too many checks were running.
    Busy,
}

impl Reason {
    /// Every reason, in the order of the counters.
    pub const ALL: [Reason; 6] = [
        Reason::Missing,
        Reason::Wrong,
        Reason::Malformed,
        Reason::Forbidden,
        Reason::Throttled,
        Reason::Busy,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Wrong => "wrong",
            Reason::Malformed => "malformed",
            Reason::Forbidden => "forbidden",
            Reason::Throttled => "throttled",
            Reason::Busy => "busy",
        }
    }
}

impl AuthStats {
    /// Every reason with its count.
    pub fn snapshot(&self) -> Vec<(Reason, u64)> {
        Reason::ALL
            .iter()
            .zip(&self.counts)
            .map(|(reason, count)| (*reason, count.load(Ordering::Relaxed)))
            .collect()
    }

    fn count(&self, reason: Reason) {
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Failures per client within a window: `[http] max-auth-failures` and `auth-failure-window`.
#[derive(Debug)]
struct FailureBudget {
    max: u32,
    window: Duration,
    /// `None` is every client past [`MAX_CLIENTS`], and requests without a peer address.
    clients: Mutex<HashMap<Option<IpAddr>, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    since: Instant,
    count: u32,
}

impl FailureBudget {
    /// `Err` with the seconds until `client` may try again, when its budget is spent.
    fn admit(&self, client: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let key = if clients.contains_key(&client) || clients.len() < MAX_CLIENTS {
            client
        } else {
            None
        };
        match clients.get(&key) {
            Some(f) if f.count >= self.max && now.duration_since(f.since) < self.window => {
                let left = self.window.saturating_sub(now.duration_since(f.since));
                Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
            }
            _ => Ok(()),
        }
    }

    fn fail(&self, client: Option<IpAddr>, now: Instant) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if !clients.contains_key(&client) && clients.len() >= MAX_CLIENTS {
            clients.retain(|_, f| now.duration_since(f.since) < self.window);
        }
        let key = if clients.contains_key(&client) || clients.len() < MAX_CLIENTS {
            client
        } else {
            None
        };
        let failures = clients.entry(key).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now.duration_since(failures.since) >= self.window {
            *failures = Failures {
                since: now,
                count: 0,
            };
        }
        failures.count = failures.count.saturating_add(1);
    }
}

/// Adds the authentication check in front of `router` when `[http] auth-enabled` is true,
/// counting its refusals in `stats`.
pub fn protect(
    router: Router,
    config: &HttpConfig,
    stats: Arc<AuthStats>,
) -> Result<Router, HashError> {
    if !config.auth_enabled {
        return Ok(router);
    }
    let auth = Arc::new(Authenticator::new(config, stats)?);
    // The version headers go on outside the check too, so its 401 and 403 carry them.
    Ok(router
        .layer(middleware::from_fn_with_state(auth, check))
        .layer(middleware::from_fn(super::version_headers)))
}

impl Authenticator {
    /// The users and tokens of `config`; fails only when no random salt is available.
    pub fn new(config: &HttpConfig, stats: Arc<AuthStats>) -> Result<Authenticator, HashError> {
        let credential = |name: &String, hash: &String, permission| Credential {
            name: name.clone(),
            hash: hash.clone(),
            permission,
        };
        let checks = config.max_concurrent_password_checks.max(1);
        Ok(Authenticator {
            users: config
                .users
                .iter()
                .map(|u| credential(&u.name, &u.password, u.permission))
                .collect(),
            tokens: config
                .tokens
                .iter()
                .map(|t| credential(&t.name, &t.hash, t.permission))
                .collect(),
            dummy: dummy_hash(strongest(config.users.iter().map(|u| u.password.as_str())))?,
            checks: Checks {
                permits: Arc::new(Semaphore::new(checks)),
                memories: Mutex::new((0..checks).map(|_| Memory::default()).collect()),
            },
            budget: FailureBudget {
                max: config.max_auth_failures,
                window: config.auth_failure_window.to_std(),
                clients: Mutex::new(HashMap::new()),
            },
            stats,
            logs: Default::default(),
            sessions: Mutex::new(HashMap::new()),
        })
    }

    /// Who the `Authorization` header names, checked in one of the kept memories; `Busy` when
    /// no check could start within [`CHECK_WAIT`].
    async fn identify(self: &Arc<Self>, authorization: String) -> Result<Identity, Refusal> {
        let permits = Arc::clone(&self.checks.permits);
        let Ok(Ok(permit)) = tokio::time::timeout(CHECK_WAIT, permits.acquire_owned()).await else {
            return Err(Refusal::Busy);
        };
        let mut memory = self
            .checks
            .memories
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        let auth = Arc::clone(self);
        // Argon2 takes milliseconds of CPU on purpose: keep it off the async workers.
        let checked = tokio::task::spawn_blocking(move || {
            let result = auth.identify_with(&authorization, |hash, secret| {
                verify_in(hash, secret, &mut memory)
            });
            (result, memory)
        })
        .await;
        drop(permit);
        match checked {
            Ok((result, memory)) => {
                self.checks
                    .memories
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(memory);
                result
            }
            Err(_) => Err(Refusal::Failed("the check could not run")),
        }
    }

    /// [`Authenticator::identify`] with the hash check given, so tests can see which hashes a
    /// request costs: a basic-auth request always exactly one (the dummy's for an unknown user),
    /// a bearer token `<name>.<secret>` one, another bearer token one per token.
    fn identify_with(
        &self,
        authorization: &str,
        mut verify: impl FnMut(&str, &str) -> bool,
    ) -> Result<Identity, Refusal> {
        if let Some(token) = strip_scheme(authorization, "bearer") {
            let token = token.trim();
            // The name says which hash to check.
            let named = token
                .rsplit_once('.')
                .and_then(|(name, _)| self.tokens.iter().find(|c| c.name == name));
            if let Some(credential) = named {
                return if verify(&credential.hash, token) {
                    Ok(Identity::of("token", credential))
                } else {
                    Err(Refusal::Failed("unknown bearer token"))
                };
            }
            // A token made before names were part of them: every token is checked, so the time
            // taken does not tell which one was close.
            let mut found = None;
            for credential in &self.tokens {
                if verify(&credential.hash, token) && found.is_none() {
                    found = Some(credential);
                }
            }
            return found
                .map(|c| Identity::of("token", c))
                .ok_or(Refusal::Failed("unknown bearer token"));
        }
        if let Some(encoded) = strip_scheme(authorization, "basic") {
            let decoded = decode_base64(encoded.trim())
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or(Refusal::Malformed(
                    "the basic auth header is not valid base64",
                ))?;
            let (name, password) = decoded
                .split_once(':')
                .ok_or(Refusal::Malformed("the basic auth header has no ':'"))?;
            let user = self.users.iter().find(|u| u.name == name);
            let hash = user.map_or(self.dummy.as_str(), |u| u.hash.as_str());
            let right = verify(hash, password);
            return match user {
                Some(user) if right => Ok(Identity::of("user", user)),
                _ => Err(Refusal::Failed("unknown user or wrong password")),
            };
        }
        Err(Refusal::Malformed(
            "the Authorization header is neither Basic nor Bearer",
        ))
    }

    /// The answer to a refused request: counted, logged at a bounded rate, charged to the
    /// client's failure budget when it was a wrong guess.
    fn refuse(&self, refusal: Refusal, client: Option<IpAddr>, request: &Request) -> Response {
        let reason = refusal.reason();
        self.stats.count(reason);
        if matches!(reason, Reason::Wrong | Reason::Malformed) {
            self.budget.fail(client, Instant::now());
        }
        let log = Reason::ALL
            .iter()
            .position(|r| *r == reason)
            .map(|i| &self.logs[i]);
        if let Some(suppressed) = log.and_then(LogLimit::allow) {
            let peer = client.map(|ip| ip.to_string()).unwrap_or_default();
            tracing::warn!(
                peer,
                method = %request.method(),
                path = %request.uri().path(),
                reason = reason.as_str(),
                error = %refusal,
                suppressed,
                "request refused by authentication"
            );
        }
        let retry_after = match refusal {
            Refusal::Throttled { retry_after } => Some(retry_after),
            Refusal::Busy => Some(1),
            _ => None,
        };
        let mut response = ApiError::from(refusal).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl Authenticator {
    /// The console's login: checks `name` and `password` as a basic-auth request (the same
    /// failure budget, concurrency bound and counters) and, when right, opens a session; its
    /// token goes in the cookie.
    pub(crate) async fn login(
        self: &Arc<Self>,
        name: &str,
        password: &str,
        client: Option<IpAddr>,
        uri: &axum::http::Uri,
    ) -> Result<(String, Permission), Response> {
        // Built when refused, for the log: a request's body cannot be held across the check.
        let request = || {
            let mut request = Request::new(axum::body::Body::empty());
            *request.method_mut() = Method::POST;
            *request.uri_mut() = uri.clone();
            request
        };
        if let Err(retry_after) = self.budget.admit(client, Instant::now()) {
            return Err(self.refuse(Refusal::Throttled { retry_after }, client, &request()));
        }
        let encoded = encode_base64(format!("{name}:{password}").as_bytes());
        let identity = match self.identify(format!("Basic {encoded}")).await {
            Ok(identity) => identity,
            Err(refusal) => return Err(self.refuse(refusal, client, &request())),
        };
        let token = random_token()
            .map_err(|_| ApiError::from(Refusal::Failed("no random bytes for a session")))
            .map_err(IntoResponse::into_response)?;
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(t, _)| t.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            token.clone(),
            Session {
                name: identity.name,
                permission: identity.permission,
                expires: now + SESSION_TTL,
            },
        );
        Ok((token, identity.permission))
    }

    /// Ends the session of `token`, if there is one.
    pub(crate) fn logout(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }

    /// The user of a live session.
    fn session(&self, token: &str) -> Option<Identity> {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let session = sessions.get(token).filter(|s| s.expires > Instant::now())?;
        Some(Identity {
            noun: "user",
            name: session.name.clone(),
            permission: session.permission,
        })
    }
}

/// The value of the session cookie in `request`'s `Cookie` headers.
pub(crate) fn session_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// 32 random bytes as hex.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Standard base64 with padding.
fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// Whether `path` is a console page a browser navigates to (not an asset, not the API).
/// `/console/login/basic` is left out: it is where a browser without JavaScript asks for the
/// basic-auth dialog.
fn is_console_page(method: &Method, path: &str) -> bool {
    *method == Method::GET
        && (path == "/" || path == "/console" || path.starts_with("/console/"))
        && !path.starts_with("/console/assets/")
        && path != "/console/login/basic"
}

/// An authenticated user or token.
struct Identity {
    noun: &'static str,
    name: String,
    permission: Permission,
}

impl Identity {
    fn of(noun: &'static str, credential: &Credential) -> Self {
        Identity {
            noun,
            name: credential.name.clone(),
            permission: credential.permission,
        }
    }
}

/// Why a request is refused: no credentials, wrong ones (401), or not enough permission (403).
/// [`super::ApiError`]'s `From` decides the status.
#[derive(Debug)]
pub(super) enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// The header names nobody, or the secret is wrong.
    Failed(&'static str),
    /// The header cannot be read.
    Malformed(&'static str),
    /// The client failed too often lately: `[http] max-auth-failures`.
    Throttled {
        /// Seconds until it may try again.
        retry_after: u64,
    },
    /// Too many password checks are running: `[http] max-concurrent-password-checks`.
    Busy,
    /// Authenticated, but the request needs more.
    Forbidden {
        /// "user" or "token".
        noun: &'static str,
        /// The user's or token's name.
        name: String,
        /// What it has.
        has: Permission,
        /// What the request needs.
        needed: Permission,
    },
}

impl std::fmt::Display for Refusal {
    /// The short form, for the body's `error` and the log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing => f.write_str("authentication required"),
            Refusal::Failed(why) | Refusal::Malformed(why) => {
                write!(f, "authentication failed: {why}")
            }
            Refusal::Throttled { .. } => f.write_str(
                "too many failed authentications from this address ([http] max-auth-failures)",
            ),
            Refusal::Busy => f.write_str(
                "too many authentications at once ([http] max-concurrent-password-checks)",
            ),
            Refusal::Forbidden {
                noun,
                name,
                has,
                needed,
            } => write!(
                f,
                "{noun} {name:?} may not {}; it has permission {has}",
                action(*needed)
            ),
        }
    }
}

impl Refusal {
    /// The metric label it is counted under.
    fn reason(&self) -> Reason {
        match self {
            Refusal::Missing => Reason::Missing,
            Refusal::Failed(_) => Reason::Wrong,
            Refusal::Malformed(_) => Reason::Malformed,
            Refusal::Forbidden { .. } => Reason::Forbidden,
            Refusal::Throttled { .. } => Reason::Throttled,
            Refusal::Busy => Reason::Busy,
        }
    }

    /// The short form and what to do about it, for the body's `message`.
    pub(super) fn message(&self) -> String {
        match self {
            Refusal::Missing => format!(
                "{self}: give a user in the URL (http://user:password@host:9092), in \
                 KLAXON_USERNAME and KLAXON_PASSWORD for the klaxon CLI, or an Authorization: \
                 Bearer token"
            ),
            Refusal::Failed(_) | Refusal::Malformed(_) => format!("{self}; check the credentials"),
            Refusal::Throttled { retry_after } => {
                format!("{self}; try again in {retry_after}s with the right credentials")
            }
            Refusal::Busy => format!("{self}; try again in a second"),
            Refusal::Forbidden { needed, .. } => format!("{self}; ask for {needed} permission"),
        }
    }
}

/// The permission `method` on `path` needs; `None` for the open ping route.
pub fn required(method: &Method, path: &str) -> Option<Permission> {
    let path = path.trim_end_matches('/');
    let api = path
        .strip_prefix("/kapacitor/v1preview")
        .or_else(|| path.strip_prefix("/kapacitor/v1"));
    if api == Some("/ping") {
        return None;
    }
    // The console's sign-in and sign-out, and its stylesheet and script, which hold nothing
    // secret: the login form needs them before anyone has signed in.
    let open_get = *method == Method::GET || *method == Method::HEAD;
    if (path == "/console/login" && (open_get || *method == Method::POST))
        || (path == "/console/logout" && *method == Method::POST)
        || (open_get && path.starts_with("/console/assets/"))
    {
        return None;
    }
    if *method == Method::GET || *method == Method::HEAD {
        return Some(Permission::Read);
    }
    let is_write = path == "/write" || api == Some("/write");
    if *method == Method::POST && is_write {
        return Some(Permission::Write);
    }
    // Silencing is what the people paged do: write, not admin, as writing points.
    let is_silence = api.is_some_and(|p| p == "/silences" || p.starts_with("/silences/"));
    if is_silence && (*method == Method::POST || *method == Method::DELETE) {
        return Some(Permission::Write);
    }
    Some(Permission::Admin)
}

fn action(permission: Permission) -> &'static str {
    match permission {
        Permission::Read => "read",
        Permission::Write => "write points",
        Permission::Admin => "change tasks, handlers or configuration",
    }
}

async fn check(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(needed) = required(request.method(), request.uri().path()) else {
        // The console's login route checks passwords with this authenticator.
        request.extensions_mut().insert(Arc::clone(&auth));
        return next.run(request).await;
    };
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|peer| peer.0.ip());
    // Before any check: a client over its budget costs nothing more.
    if let Err(retry_after) = auth.budget.admit(client, Instant::now()) {
        return auth.refuse(Refusal::Throttled { retry_after }, client, &request);
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let session = session_token(request.headers()).and_then(|t| auth.session(&t));
    let identity = match (authorization, session) {
        (Some(authorization), _) => match auth.identify(authorization).await {
            Ok(identity) => identity,
            Err(refusal) => return auth.refuse(refusal, client, &request),
        },
        (None, Some(identity)) => identity,
        // A browser opening a console page gets the login form, not the basic-auth dialog.
        (None, None) if is_console_page(request.method(), request.uri().path()) => {
            auth.stats.count(Reason::Missing);
            let next = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let location = format!("/console/login?next={}", super::console::url_part(next));
            return axum::response::Redirect::to(&location).into_response();
        }
        (None, None) => return auth.refuse(Refusal::Missing, client, &request),
    };
    if identity.permission < needed {
        let refusal = Refusal::Forbidden {
            noun: identity.noun,
            name: identity.name,
            has: identity.permission,
            needed,
        };
        return auth.refuse(refusal, client, &request);
    }
    next.run(request).await
}

/// `value` without its case-insensitive `scheme` and the space after it.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// Standard base64 (with or without padding), as basic auth sends it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut bits = 0u32;
    let mut count = 0;
    for byte in text.trim_end_matches('=').bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use argon2::Argon2;
    use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};

    use super::*;
    use crate::password::verify;

    #[test]
    fn permissions_follow_the_method_and_path() {
        let cases = [
            (Method::GET, "/kapacitor/v1/ping", None),
            (Method::HEAD, "/kapacitor/v1preview/ping", None),
            (Method::GET, "/kapacitor/v1/tasks", Some(Permission::Read)),
            (Method::POST, "/write", Some(Permission::Write)),
            (Method::POST, "/kapacitor/v1/write", Some(Permission::Write)),
            (Method::POST, "/kapacitor/v1/tasks", Some(Permission::Admin)),
            (
                Method::POST,
                "/kapacitor/v1/silences",
                Some(Permission::Write),
            ),
            (
                Method::DELETE,
                "/kapacitor/v1/silences/x",
                Some(Permission::Write),
            ),
            (
                Method::PATCH,
                "/kapacitor/v1/tasks/x",
                Some(Permission::Admin),
            ),
            (
                Method::POST,
                "/kapacitor/v1/service-tests/exec",
                Some(Permission::Admin),
            ),
            (
                Method::POST,
                "/kapacitor/v1/ping/../tasks",
                Some(Permission::Admin),
            ),
            // The console's sign-in is open; its pages are reads.
            (Method::GET, "/console/login", None),
            (Method::POST, "/console/login", None),
            (Method::POST, "/console/logout", None),
            (Method::GET, "/console/assets/console.js", None),
            (
                Method::POST,
                "/console/assets/console.js",
                Some(Permission::Admin),
            ),
            (Method::GET, "/console/login/basic", Some(Permission::Read)),
            (Method::GET, "/console/alerts", Some(Permission::Read)),
        ];
        for (method, path, expected) in cases {
            assert_eq!(required(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn base64_decodes_padded_and_unpadded_and_refuses_garbage() {
        assert_eq!(decode_base64("YWxpY2U6czNjcjN0").unwrap(), b"alice:s3cr3t");
        assert_eq!(decode_base64("YTpi").unwrap(), b"a:b");
        assert_eq!(decode_base64("YTpiYw==").unwrap(), b"a:bc");
        assert!(decode_base64("YT*i").is_none());
    }

    #[test]
    fn every_basic_auth_request_costs_exactly_one_hash_check() {
        let hash = |secret: &str| hash_with(FAST, secret);
        let config = HttpConfig {
            auth_enabled: true,
            users: vec![crate::config::UserConfig {
                name: "ops".into(),
                password: hash("s3cr3t"),
                permission: Permission::Admin,
            }],
            tokens: vec![
                crate::config::TokenConfig {
                    name: "a".into(),
                    hash: hash("tok-a"),
                    permission: Permission::Read,
                },
                crate::config::TokenConfig {
                    name: "b".into(),
                    hash: hash("tok-b"),
                    permission: Permission::Write,
                },
            ],
            ..HttpConfig::default()
        };
        let auth = Authenticator::new(&config, Arc::default()).unwrap();
        // The dummy costs what a user's hash costs: same algorithm and parameters.
        let params = |h: &str| {
            let parsed = PasswordHash::new(h).unwrap();
            (parsed.algorithm.to_string(), parsed.params.to_string())
        };
        assert_eq!(params(&auth.dummy), params(&auth.users[0].hash));
        let checked = |header: &str| {
            let mut hashes = Vec::new();
            let result = auth.identify_with(header, |hash, secret| {
                hashes.push(hash.to_owned());
                verify(hash, secret)
            });
            (result.map(|i| i.name).map_err(|_| ()), hashes)
        };
        let basic = |user: &str, password: &str| {
            format!(
                "Basic {}",
                encode_base64(format!("{user}:{password}").as_bytes())
            )
        };
        let (who, hashes) = checked(&basic("ops", "s3cr3t"));
        assert_eq!(
            (who, hashes),
            (Ok("ops".into()), vec![auth.users[0].hash.clone()])
        );
        let (who, hashes) = checked(&basic("ops", "wrong"));
        assert_eq!((who, hashes), (Err(()), vec![auth.users[0].hash.clone()]));
        // An unknown user costs one check too, against the dummy: its answer cannot be told
        // from a wrong password's by the work done.
        let (who, hashes) = checked(&basic("nobody", "s3cr3t"));
        assert_eq!((who, hashes), (Err(()), vec![auth.dummy.clone()]));
        // Every token is checked, whichever matches.
        for (token, name) in [
            ("tok-a", Ok("a".to_owned())),
            ("tok-b", Ok("b".into())),
            ("x", Err(())),
        ] {
            let (who, hashes) = checked(&format!("Bearer {token}"));
            assert_eq!(who, name);
            assert_eq!(hashes.len(), 2, "{token}");
        }
    }

    #[test]
    fn a_named_token_costs_one_check_and_the_dummy_copies_the_strongest_user() {
        let strong = crate::password::hash_password("s3cr3t").unwrap();
        let config = HttpConfig {
            auth_enabled: true,
            users: vec![
                crate::config::UserConfig {
                    name: "weak".into(),
                    password: hash_with(FAST, "pw"),
                    permission: Permission::Read,
                },
                crate::config::UserConfig {
                    name: "strong".into(),
                    password: strong.clone(),
                    permission: Permission::Admin,
                },
            ],
            tokens: ["telegraf", "grafana", "old"]
                .into_iter()
                .map(|name| crate::config::TokenConfig {
                    name: name.into(),
                    hash: hash_with(FAST, &format!("{name}.secret-of-{name}")),
                    permission: Permission::Write,
                })
                .collect(),
            ..HttpConfig::default()
        };
        let auth = Authenticator::new(&config, Arc::default()).unwrap();
        let params = |h: &str| PasswordHash::new(h).unwrap().params.to_string();
        assert_eq!(params(&auth.dummy), params(&strong), "not the first user's");
        let checked = |header: &str| {
            let mut n = 0;
            let result = auth.identify_with(header, |hash, secret| {
                n += 1;
                verify(hash, secret)
            });
            (result.map(|i| i.name).map_err(|_| ()), n)
        };
        assert_eq!(
            checked("Bearer grafana.secret-of-grafana"),
            (Ok("grafana".into()), 1)
        );
        assert_eq!(checked("Bearer grafana.guess"), (Err(()), 1));
        // A name that is no token's, and a token without a name, are tried against all three.
        assert_eq!(checked("Bearer nobody.guess"), (Err(()), 3));
        assert_eq!(checked("Bearer guess"), (Err(()), 3));
    }

    #[test]
    fn a_client_over_its_failure_budget_waits_for_the_window() {
        let budget = FailureBudget {
            max: 3,
            window: Duration::from_secs(60),
            clients: Mutex::new(HashMap::new()),
        };
        let (a, b) = (
            Some(IpAddr::from([192, 0, 2, 1])),
            Some(IpAddr::from([192, 0, 2, 2])),
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(budget.admit(a, t0), Ok(()));
            budget.fail(a, t0);
        }
        assert_eq!(budget.admit(a, t0 + Duration::from_millis(500)), Err(60));
        assert_eq!(
            budget.admit(b, t0),
            Ok(()),
            "another client is not held back"
        );
        assert_eq!(budget.admit(a, t0 + Duration::from_secs(59)), Err(1));
        assert_eq!(budget.admit(a, t0 + Duration::from_secs(60)), Ok(()));
        budget.fail(a, t0 + Duration::from_secs(60));
        assert_eq!(
            budget.admit(a, t0 + Duration::from_secs(61)),
            Ok(()),
            "a new window"
        );
    }

    #[test]
    fn refusals_have_a_short_error_and_a_message_that_says_what_to_do() {
        use axum::response::IntoResponse;

        let forbidden = Refusal::Forbidden {
            noun: "user",
            name: "ops".into(),
            has: Permission::Read,
            needed: Permission::Admin,
        };
        let error =
            "user \"ops\" may not change tasks, handlers or configuration; it has permission read";
        assert_eq!(forbidden.to_string(), error);
        assert_eq!(
            forbidden.message(),
            format!("{error}; ask for admin permission")
        );
        let response = ApiError::from(forbidden).into_response();
        assert_eq!(response.status(), 403);
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
        let response = ApiError::from(Refusal::Failed("unknown bearer token")).into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"klaxon\""
        );
        assert!(
            Refusal::Missing
                .message()
                .starts_with("authentication required: give a user in the URL")
        );
    }

    /// Cheap argon2 parameters, so the test runs quickly.
    const FAST: &str =
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHJlYWRlcg$zRjBhFBCmOzvt5hhOuMtAFxbt2X5lkFW+d3i7WaNFQs";

    fn hash_with(like: &str, secret: &str) -> String {
        let parsed = PasswordHash::new(like).unwrap();
        let argon2 = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::try_from(&parsed).unwrap(),
        );
        let salt = SaltString::encode_b64(b"klaxon-test-salt").unwrap();
        argon2
            .hash_password(secret.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }
}
