//! Cross-site request forgery checks for what the session cookie alone authorises.
//!
//! Browsers attach the session cookie to requests other sites make them send. Two such
//! requests do harm without reading the answer: a WebSocket upgrade (the page then reads
//! the user's live events) and `POST /api/auth/logout`. Both are refused when the
//! request carries an `Origin` that is neither the server's own nor one of
//! `--allowed-origins` (`Origin: null`, which sandboxed and privacy-sensitive contexts
//! send, is refused too). Requests without `Origin` (curl, scripts, other servers)
//! pass: browsers always send it on WebSocket upgrades and cross-origin POSTs.
//!
//! The server's own origin is `http://` + the request's `Host`, or `https://` when the
//! session cookie is marked `Secure` for the request (`--cookie-secure`, or a proxy that
//! says the client used HTTPS).

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, StatusCode};

use super::error::ApiError;
use super::AppState;

/// The canonical form of an origin: lower case `scheme://host[:port]`, `http` or
/// `https` only, without the scheme's default port. `None` for anything else (`null`,
/// a path, user info, another scheme).
pub fn normalize(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !valid {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

/// For `--allowed-origins`: one origin, normalised. An empty entry (an empty
/// `CONFAB_ALLOWED_ORIGINS`, a trailing comma) stays empty and matches nothing.
pub fn parse_allowed(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Ok(String::new());
    }
    normalize(value).ok_or_else(|| {
        format!("{value:?} is not an origin: expected http(s)://HOST[:PORT], without a path")
    })
}

fn foreign_origin() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden_origin",
        "Requests authenticated by the session cookie are not accepted from this origin",
    )
}

/// Refuses (403 `forbidden_origin`) a request whose `Origin` is present and is neither
/// the server's own nor allowed by `--allowed-origins`.
pub fn check(headers: &HeaderMap, state: &AppState, secure: bool) -> Result<(), ApiError> {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = origins.next() else {
        return Ok(());
    };
    if origins.next().is_some() {
        return Err(foreign_origin());
    }
    let origin = origin
        .to_str()
        .ok()
        .and_then(normalize)
        .ok_or_else(foreign_origin)?;
    let scheme = if secure { "https" } else { "http" };
    let own = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .and_then(|host| normalize(&format!("{scheme}://{host}")));
    if own.as_deref() == Some(origin.as_str()) || state.config.allowed_origins.contains(&origin) {
        Ok(())
    } else {
        tracing::debug!(%origin, "cross-origin request refused");
        Err(foreign_origin())
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
        let secure = super::user_api::cookie_secure(state, &parts.headers);
        check(&parts.headers, state, secure)?;
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

#[cfg(test)]
mod tests {
    use super::{normalize, parse_allowed};

    #[test]
    fn allowed_origins_are_checked_at_start_up() {
        assert_eq!(
            parse_allowed(" https://App.example/ ").as_deref(),
            Ok("https://app.example")
        );
        assert_eq!(parse_allowed("").as_deref(), Ok(""));
        assert!(parse_allowed("null").is_err());
        assert!(parse_allowed("https://app.example/path").is_err());
    }

    #[test]
    fn origins_are_normalised_or_refused() {
        for (given, expected) in [
            ("https://App.Example.com", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("http://[::1]:80", "http://[::1]"),
            ("https://a.example:8443", "https://a.example:8443"),
        ] {
            assert_eq!(normalize(given).as_deref(), Some(expected), "{given}");
        }
        for bad in [
            "null",
            "",
            "https://",
            "ftp://a.example",
            "https://a.example/path",
            "https://user@a.example",
            "https://a.example?x",
            "app.example.com",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }
}
