//! Extractors: each one parses and checks one thing, so handlers read like the route's
//! description and receive only valid values.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{header, request::Parts, Method, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::throttle::user_write;
use super::AppState;
use crate::auth::session;
use crate::domain::Timestamp;
use crate::store::{ChatRef, UserRecord};

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

/// The signed-in user of a valid, unexpired, unrevoked session cookie; else 401.
pub struct SessionUser {
    pub user: UserRecord,
    pub token_hash: Vec<u8>,
}

/// The session token hash from the request's cookies, if one is present.
pub fn session_token_hash(parts: &Parts) -> Option<Vec<u8>> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session::token_from_cookie_header)
        // Our tokens are 43 characters; anything far longer is not one of ours.
        .filter(|token| token.len() <= 128)
        .map(session::hash_token)
}

impl FromRequestParts<AppState> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token_hash = session_token_hash(parts).ok_or_else(ApiError::unauthorized)?;
        let user = state
            .store
            .session_user(&token_hash, Timestamp::now())
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(SessionUser { user, token_hash })
    }
}

/// `/api/users/{user_id}/...` for the signed-in user's own id: 401 without a session,
/// 400 for an id that is not a positive integer, 404 for anyone else's id. A write (any
/// method but GET and HEAD) also spends one of the user's writes: 429 over the rate.
pub struct OwnUser(pub UserRecord);

impl FromRequestParts<AppState> for OwnUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let SessionUser { user, .. } = SessionUser::from_request_parts(parts, state).await?;
        let user_id = path_id(parts, state, "user_id").await?;
        if user_id != user.id {
            return Err(ApiError::user_not_found());
        }
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            user_write(state, user.id)?;
        }
        Ok(OwnUser(user))
    }
}

/// `/api/users/{user_id}/chats/{chat_id}/...`: [`OwnUser`] plus a valid chat id. Whether
/// the chat is the user's is decided by the store, in the same transaction as the work.
pub struct OwnChat {
    pub user: UserRecord,
    pub chat: ChatRef,
}

impl FromRequestParts<AppState> for OwnChat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let OwnUser(user) = OwnUser::from_request_parts(parts, state).await?;
        let chat_id = path_id(parts, state, "chat_id").await?;
        Ok(OwnChat {
            chat: ChatRef::User {
                user_id: user.id,
                chat_id,
            },
            user,
        })
    }
}

async fn path_id(parts: &mut Parts, state: &AppState, name: &'static str) -> Result<i64, ApiError> {
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
