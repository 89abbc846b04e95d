//! CORS for the origins of `--cors-origin`: a web app on another origin may call both
//! APIs with the session cookie (or a key). Any other origin gets no CORS header at all,
//! so browsers keep its pages from reading any answer; its preflights are refused with
//! 403 `forbidden_origin`, which says why in the API's error shape.
//!
//! Listing an origin trusts it like the server's own pages: the cross-site checks
//! (`origin.rs`) accept its cookie-authenticated writes and WebSocket upgrades too.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::is_tenant_api;
use super::origin::{foreign_origin, request_origin};
use super::state::AppState;

/// Methods a preflight may ask for: every method the APIs have.
const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
/// Request headers a page may send: the body's type, a key, a stream's resume point.
const ALLOW_HEADERS: &str = "content-type, x-api-key, last-event-id";
/// Response headers a page may read besides the CORS-safelisted ones: when to retry,
/// and an export's file name.
const EXPOSE_HEADERS: &str = "retry-after, content-disposition";
/// How long a browser may reuse a preflight's answer.
const MAX_AGE_SECONDS: &str = "600";

/// The middleware: answers preflights, and marks every other answer to a listed origin
/// as readable by it with credentials.
pub async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let listed = listed_origin(request.headers(), &state);
    // Without `Origin` an OPTIONS is no preflight: the router answers it (405).
    let preflight = request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        return match listed {
            Some(origin) => preflight_answer(origin),
            // Rendered here: this layer sits outside `render_errors`.
            None => foreign_origin().render_for(is_tenant_api(request.uri())),
        };
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // Caches must not hand one origin's answer (with or without these headers) to another.
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = listed {
        allow(headers, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    response
}

/// The request's `Origin`, as sent, when it is one of `--cors-origin`.
fn listed_origin(headers: &HeaderMap, state: &AppState) -> Option<HeaderValue> {
    if state.config.cors_origins.is_empty() {
        return None;
    }
    let origin = request_origin(headers).flatten()?;
    state
        .config
        .cors_origins
        .contains(&origin)
        .then(|| headers.get(header::ORIGIN).cloned())
        .flatten()
}

fn preflight_answer(origin: HeaderValue) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow(headers, origin);
    for (name, value) in [
        (header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS),
        (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS),
        (header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECONDS),
        (header::VARY, "origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
}
