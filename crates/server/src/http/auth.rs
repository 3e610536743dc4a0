//! `[http] auth-enabled`: HTTP basic auth for `[[http.users]]`, bearer tokens for
//! `[[http.tokens]]`, and a permission per request class.
//!
//! Every request but `/kapacitor/v1/ping` needs a permission: GET and HEAD need `read`, writing
//! points needs `write`, anything else (tasks, handlers, configuration, service tests, which can
//! run programs) needs `admin`. Passwords and tokens are stored as argon2 PHC strings; checking
//! one recomputes the hash and compares it in constant time, and an unknown user is checked
//! against a dummy hash so that its answer takes as long as a wrong password's.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::respond;
use crate::config::{HttpConfig, Permission};

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "Basic realm=\"klaxon\"";

/// Who may do what, from `[http]`.
#[derive(Debug)]
pub struct Authenticator {
    users: Vec<Credential>,
    tokens: Vec<Credential>,
    /// Checked for an unknown user name, so that the answer takes as long as for a known one.
    dummy: String,
}

#[derive(Debug)]
struct Credential {
    name: String,
    hash: String,
    permission: Permission,
}

/// Adds the authentication check in front of `router` when `[http] auth-enabled` is true.
pub fn protect(router: Router, config: &HttpConfig) -> Result<Router, String> {
    if !config.auth_enabled {
        return Ok(router);
    }
    let auth = Arc::new(Authenticator::new(config)?);
    // The version headers go on outside the check too, so its 401 and 403 carry them.
    Ok(router
        .layer(middleware::from_fn_with_state(auth, check))
        .layer(middleware::from_fn(super::version_headers)))
}

impl Authenticator {
    /// The users and tokens of `config`; fails only when no random salt is available.
    pub fn new(config: &HttpConfig) -> Result<Authenticator, String> {
        let credential = |name: &String, hash: &String, permission| Credential {
            name: name.clone(),
            hash: hash.clone(),
            permission,
        };
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
            dummy: dummy_hash(config.users.first().map(|u| u.password.as_str()))?,
        })
    }

    /// Who the request's `Authorization` header names, if its secret is right.
    fn identify(&self, authorization: &str) -> Result<Identity, Refusal> {
        self.identify_with(authorization, verify)
    }

    /// [`Authenticator::identify`] with the hash check given, so tests can see which hashes a
    /// request costs: a basic-auth request always exactly one (the dummy's for an unknown user),
    /// a bearer request one per token.
    fn identify_with(
        &self,
        authorization: &str,
        mut verify: impl FnMut(&str, &str) -> bool,
    ) -> Result<Identity, Refusal> {
        if let Some(token) = strip_scheme(authorization, "bearer") {
            // Every token is checked, so the time taken does not tell which one was close.
            let mut found = None;
            for credential in &self.tokens {
                if verify(&credential.hash, token.trim()) && found.is_none() {
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
                .ok_or(Refusal::Failed("the basic auth header is not valid base64"))?;
            let (name, password) = decoded
                .split_once(':')
                .ok_or(Refusal::Failed("the basic auth header has no ':'"))?;
            let user = self.users.iter().find(|u| u.name == name);
            let hash = user.map_or(self.dummy.as_str(), |u| u.hash.as_str());
            let right = verify(hash, password);
            return match user {
                Some(user) if right => Ok(Identity::of("user", user)),
                _ => Err(Refusal::Failed("unknown user or wrong password")),
            };
        }
        Err(Refusal::Failed(
            "the Authorization header is neither Basic nor Bearer",
        ))
    }
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

/// Why a request gets 401.
enum Refusal {
    Missing,
    Failed(&'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (error, message) = match self {
            Refusal::Missing => (
                "authentication required".to_owned(),
                "authentication required: give a user in the URL (http://user:password@host:9092), \
                 in KLAXON_USERNAME and KLAXON_PASSWORD for the klaxon CLI, or an \
                 Authorization: Bearer token"
                    .to_owned(),
            ),
            Refusal::Failed(why) => (
                format!("authentication failed: {why}"),
                format!("authentication failed: {why}; check the credentials"),
            ),
        };
        let mut response = respond::pretty(
            StatusCode::UNAUTHORIZED,
            &json!({"error": error, "message": message}),
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        response
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
    if *method == Method::GET || *method == Method::HEAD {
        return Some(Permission::Read);
    }
    let is_write = path == "/write" || api == Some("/write");
    if *method == Method::POST && is_write {
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

async fn check(State(auth): State<Arc<Authenticator>>, request: Request, next: Next) -> Response {
    let Some(needed) = required(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let Some(authorization) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return Refusal::Missing.into_response();
    };
    // Argon2 takes milliseconds of CPU on purpose: keep it off the async workers.
    let identified = tokio::task::spawn_blocking(move || auth.identify(&authorization)).await;
    let identity = match identified {
        Ok(Ok(identity)) => identity,
        Ok(Err(refusal)) => return refusal.into_response(),
        Err(_) => return Refusal::Failed("the check could not run").into_response(),
    };
    if identity.permission < needed {
        let error = format!(
            "{} {:?} may not {}; it has permission {}",
            identity.noun,
            identity.name,
            action(needed),
            identity.permission
        );
        tracing::info!(%error, method = %request.method(), path = %request.uri().path(), "request forbidden");
        return respond::pretty(
            StatusCode::FORBIDDEN,
            &json!({"error": error, "message": format!("{error}; ask for {needed} permission")}),
        );
    }
    next.run(request).await
}

/// `value` without its case-insensitive `scheme` and the space after it.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// Whether `secret` hashes to the PHC string `hash`; the comparison is constant-time.
fn verify(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    })
}

/// The hash an unknown user's password is checked against: made with the parameters of the
/// first user's hash (its algorithm, memory and passes), so it costs what a known user's check
/// costs; Argon2's defaults without users or when that hash does not parse.
fn dummy_hash(like: Option<&str>) -> Result<String, String> {
    const DUMMY: &str = "klaxon dummy password";
    let Some(argon2) = like
        .and_then(|hash| PasswordHash::new(hash).ok())
        .and_then(|parsed| {
            let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
            let version = argon2::Version::try_from(parsed.version?).ok()?;
            let params = argon2::Params::try_from(&parsed).ok()?;
            Some(Argon2::new(algorithm, version, params))
        })
    else {
        return hash_password(DUMMY);
    };
    let salt = SaltString::encode_b64(b"klaxon-dummy-salt").map_err(|e| e.to_string())?;
    argon2
        .hash_password(DUMMY.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot make the dummy hash: {e}"))
}

/// Checks that `hash` is an argon2 PHC string; the error says what is wrong.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(format!("its algorithm is {}", parsed.algorithm));
    }
    if parsed.hash.is_none() {
        return Err("it has no hash value".to_owned());
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh random salt (`klaxond hash-password`).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut salt))
        .map_err(|e| format!("cannot read random bytes from /dev/urandom for the salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
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
    use super::*;

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
        let auth = Authenticator::new(&config).unwrap();
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

    fn encode_base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        while !out.len().is_multiple_of(4) {
            out.push('=');
        }
        out
    }

    #[test]
    fn a_hash_verifies_only_its_own_password() {
        let hash = hash_password("s3cr3t").unwrap();
        check_hash(&hash).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify(&hash, "s3cr3t"));
        assert!(!verify(&hash, "s3cr3t "));
        assert!(!verify("not a hash", "s3cr3t"));
        assert_ne!(hash, hash_password("s3cr3t").unwrap(), "salts differ");
        assert!(check_hash("$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA").is_err());
    }
}
