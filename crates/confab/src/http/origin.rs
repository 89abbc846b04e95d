//! Cross-site request forgery checks for what the session cookie alone authorises.
//!
//! Browsers attach the session cookie to requests other sites make them send. Every
//! such request that changes something is refused when it carries an `Origin` that is
//! neither the server's own nor one of `--cors-origin` (`Origin: null`, which sandboxed
//! and privacy-sensitive contexts send, is refused too): cookie-authenticated writes
//! (any method but GET and HEAD, checked by `SessionUser`), WebSocket upgrades (a page
//! could read the user's live events), sign-up and login (a forged login would put the
//! victim in the attacker's account), and logout. Requests without `Origin` (curl,
//! scripts, other servers) pass: browsers send it on every cross-origin request but
//! GET and HEAD. API-key requests are never checked: no browser attaches a key by itself.
//!
//! The server's own origin is `http://` + the request's `Host`, or `https://` when the
//! session cookie is marked `Secure` for the request (`--cookie-secure`, or a proxy that
//! says the client used HTTPS).

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, StatusCode};

use super::error::ApiError;
use super::extract::cookie_secure;
use super::state::AppState;
use crate::config::origin::normalize;

pub fn foreign_origin() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden_origin",
        "Requests from this origin are not accepted: it is neither this server's own nor one of --cors-origin",
    )
}

/// The request's `Origin`: `None` without the header; `Some(None)` when it names no one
/// origin (several headers, `null`, anything not `http(s)://host[:port]`); else the
/// origin in its canonical spelling.
pub fn request_origin(headers: &HeaderMap) -> Option<Option<String>> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let origin = origins.next()?;
    if origins.next().is_some() {
        return Some(None);
    }
    Some(origin.to_str().ok().and_then(normalize))
}

/// Refuses (403 `forbidden_origin`) a request whose `Origin` is present and is neither
/// the server's own nor allowed by `--cors-origin`.
pub fn check(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    let Some(origin) = request_origin(headers) else {
        return Ok(());
    };
    let origin = origin.ok_or_else(foreign_origin)?;
    let scheme = if cookie_secure(state, headers) {
        "https"
    } else {
        "http"
    };
    let own = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| normalize(&format!("{scheme}://{host}")));
    if own.as_deref() == Some(origin.as_str()) || state.config.cors_origins.contains(&origin) {
        Ok(())
    } else {
        tracing::debug!(%origin, "cross-origin request refused");
        Err(foreign_origin())
    }
}

/// The guard of sign-up and login: the `Origin` check above.
pub struct SameSite;

impl FromRequestParts<AppState> for SameSite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check(&parts.headers, state)?;
        Ok(SameSite)
    }
}

/// The guard of `POST /api/auth/logout`, which needs no body and so could be sent by a
/// plain HTML form or a `fetch` from any site: the `Origin` check above, and a
/// `Content-Type`, if any, of `application/json` (415 otherwise), which no form and no
/// cross-origin request without a CORS preflight can send. `curl -X POST` with the
/// cookie passes.
pub struct NotForged;

impl FromRequestParts<AppState> for NotForged {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        SameSite::from_request_parts(parts, state).await?;
        let json = |value: &header::HeaderValue| {
            value.to_str().is_ok_and(|text| {
                let essence = text.split(';').next().unwrap_or_default().trim();
                essence.eq_ignore_ascii_case("application/json")
            })
        };
        match parts.headers.get(header::CONTENT_TYPE) {
            Some(value) if !json(value) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send logout without a body, or with Content-Type: application/json",
            )),
            _ => Ok(NotForged),
        }
    }
}
