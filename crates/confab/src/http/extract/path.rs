//! Ids in a route's path, checked: positive integers (user API) and chat uuids (tenant
//! API).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::state::AppState;

/// The path parameter `name` as a positive integer; 400 `invalid_id` otherwise.
pub(super) async fn path_id(
    parts: &mut Parts,
    state: &AppState,
    name: &'static str,
) -> Result<i64, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::bad_request("invalid_id", format!("{name} is missing")))?;
    let value = params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .ok_or_else(|| ApiError::bad_request("invalid_id", format!("{name} is missing")))?;
    parse_positive_id(value).ok_or_else(|| {
        ApiError::bad_request("invalid_id", format!("{name} must be a positive integer"))
    })
}

/// A positive integer id in plain decimal digits (no sign, no spaces).
pub fn parse_positive_id(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|id| *id > 0)
}

/// The `{message_id}` path parameter: a positive integer, else 400 `invalid_message_id`.
pub struct MessageId(pub i64);

impl FromRequestParts<AppState> for MessageId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        path_id(parts, state, "message_id")
            .await
            .map(MessageId)
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_message_id",
                    "message_id must be a positive integer",
                )
            })
    }
}

/// The `{chat_id}` path parameter as a UUID; 400 `invalid_chat_id` otherwise.
pub async fn chat_uuid(parts: &mut Parts, state: &AppState) -> Result<Uuid, ApiError> {
    let invalid = || ApiError::bad_request("invalid_chat_id", "chat_id must be a UUID");
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| invalid())?;
    params
        .iter()
        .find(|(name, _)| *name == "chat_id")
        .and_then(|(_, value)| Uuid::try_parse(value).ok())
        .ok_or_else(invalid)
}

/// The `{share_id}` path parameter, as given (the use case checks its shape).
pub struct ShareId(pub String);

impl FromRequestParts<AppState> for ShareId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::share_not_found())?;
        params
            .iter()
            .find(|(name, _)| *name == "share_id")
            .map(|(_, value)| ShareId(value.to_owned()))
            .ok_or_else(ApiError::share_not_found)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_positive_id;

    #[test]
    fn ids_are_positive_decimal_integers() {
        assert_eq!(parse_positive_id("42"), Some(42));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            " 1",
            "1.0",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(parse_positive_id(bad), None, "{bad:?}");
        }
    }
}
