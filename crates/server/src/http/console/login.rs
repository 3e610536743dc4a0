//! Signing in to the console with `[http] auth-enabled`: a form for a `[[http.users]]` user,
//! which opens a session (a cookie, see [`crate::http::auth`]), and the way in for a browser
//! without JavaScript, the basic-auth dialog.
//!
//! The form posts JSON through the script, because the cross-site checks refuse the body types
//! an HTML form sends (a page on another site could send those too).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{esc, page};
use crate::http::ApiError;
use crate::http::auth::{Authenticator, SESSION_COOKIE, SESSION_TTL, session_token};

/// The largest login body read.
const MAX_BODY: usize = 16 * 1024;

/// Where to go after signing in: a path of this server only (never `//host` or a URL).
fn local_next(query: &HashMap<String, String>) -> String {
    match query.get("next") {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next.clone()
        }
        _ => "/console/alerts".to_owned(),
    }
}

/// `GET /console/login?next=`: the form.
pub async fn form(Query(query): Query<HashMap<String, String>>, request: Request) -> Response {
    let next = local_next(&query);
    if request.extensions().get::<Arc<Authenticator>>().is_none() {
        let body = format!(
            "<p>Authentication is off (<code>[http] auth-enabled = false</code>): there is \
             nothing to sign in to.</p><p><a href=\"{}\">Go on</a></p>",
            esc(&next)
        );
        return page("", "Sign in", &body);
    }
    let signed_in = if session_token(request.headers()).is_some() {
        "<p>This browser has a session. <button type=\"button\" data-action=\"logout\" \
         data-done=\"Signed out\">Sign out</button></p>"
    } else {
        ""
    };
    let body = format!(
        "{signed_in}<form id=\"login\" class=\"login-form\" method=\"post\" \
         action=\"/console/login\" data-next=\"{next}\">\
         <label>User <input name=\"username\" autocomplete=\"username\" required autofocus></label>\
         <label>Password <input name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Sign in</button></form>\
         <noscript><p>This form needs JavaScript. Without it, \
         <a href=\"/console/login/basic?next={next_q}\">sign in with the browser's own \
         dialog</a>.</p></noscript>\
         <p class=\"empty\">A user of <code>[[http.users]]</code>: <code>read</code> shows the \
         pages, <code>write</code> also silences, <code>admin</code> also enables and disables \
         tasks.</p>",
        next = esc(&next),
        next_q = super::url_part(&next),
    );
    page("", "Sign in", &body)
}

/// `GET /console/login/basic?next=`: reached with basic-auth credentials (the authentication
/// layer asked the browser for them), it goes on to `next`.
pub async fn basic(Query(query): Query<HashMap<String, String>>) -> Redirect {
    Redirect::to(&local_next(&query))
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// `POST /console/login` with `{"username": ..., "password": ...}`: 200 with the session
/// cookie, or the refusal (401, 429, 503) without the basic-auth challenge, so that the
/// browser shows the form's message rather than its own dialog.
pub async fn login(request: Request) -> Response {
    let Some(auth) = request.extensions().get::<Arc<Authenticator>>().cloned() else {
        return ApiError::not_found("authentication is off: there is nothing to sign in to")
            .into_response();
    };
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|peer| peer.0.ip());
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "login body too large")
                .into_response();
        }
    };
    let credentials: Credentials = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(e) => {
            return ApiError::bad_request(format!(
                "invalid login json: {e}; give {{\"username\": ..., \"password\": ...}}"
            ))
            .into_response();
        }
    };
    match auth
        .login(
            &credentials.username,
            &credentials.password,
            client,
            &parts.uri,
        )
        .await
    {
        Ok((token, permission)) => {
            tracing::info!(user = %credentials.username, %permission, "console sign-in");
            let body = serde_json::json!({"user": credentials.username, "permission": permission.to_string()});
            let mut response = (StatusCode::OK, axum::Json(body)).into_response();
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                SESSION_TTL.as_secs()
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(mut refused) => {
            refused.headers_mut().remove(header::WWW_AUTHENTICATE);
            refused
        }
    }
}

/// `POST /console/logout`: ends this browser's session and clears its cookie.
pub async fn logout(request: Request) -> Response {
    if let (Some(auth), Some(token)) = (
        request.extensions().get::<Arc<Authenticator>>(),
        session_token(request.headers()),
    ) {
        auth.logout(&token);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("klaxon_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_local_path_is_a_next_page() {
        let next = |v: &str| local_next(&HashMap::from([("next".to_owned(), v.to_owned())]));
        assert_eq!(next("/console/tasks?x=1"), "/console/tasks?x=1");
        assert_eq!(next("//evil.example/"), "/console/alerts");
        assert_eq!(next("https://evil.example/"), "/console/alerts");
        assert_eq!(next("/\\evil.example"), "/console/alerts");
        assert_eq!(local_next(&HashMap::new()), "/console/alerts");
    }
}
