//! Extractors: each one parses and checks one thing, so handlers read like the route's
//! description and receive only valid values. Both APIs and the WebSocket routes share
//! them: `session.rs` (the session cookie, the user-API routes' user and chat),
//! `api_key.rs` (`X-API-Key`, the tenant-API routes' chat), `path.rs` (ids in the path).

mod api_key;
mod path;
mod session;

pub use api_key::{TenantChat, TenantKey, API_KEY_HEADER};
pub use path::{chat_uuid, parse_positive_id, MessageId, ShareId};
pub use session::{
    cookie_secure, session_token_hash, OwnChat, OwnChatReply, OwnChatVersion, OwnUser,
    OwnUserFingerprint, SessionUser,
};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{request::Parts, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;

/// A JSON body, with every failure answered in the API's error shape: 415 without a JSON
/// content type, 413 over the body limit, 400 for bad syntax or a wrong shape, 408 when
/// the whole body has not arrived within the body read timeout.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.abuse.body_read_timeout();
        match tokio::time::timeout(limit, axum::Json::<T>::from_request(request, state)).await {
            Ok(Ok(axum::Json(value))) => Ok(ValidJson(value)),
            Ok(Err(rejection)) => Err(json_rejection(rejection)),
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "The request body did not arrive in time",
            )),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Expected a request body with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request("invalid_json", e.body_text()),
        JsonRejection::JsonDataError(e) => ApiError::validation(e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::payload_too_large()
        }
        other => ApiError::bad_request("invalid_body", other.body_text()),
    }
}

/// Query parameters, with a bad value answered as a 400 in the API's shape.
pub struct ValidQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ValidQuery(value))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}
