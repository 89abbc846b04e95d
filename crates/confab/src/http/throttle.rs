//! Where the abuse limits of [`crate::throttle`] meet requests: the client address, the
//! login/sign-up gate, the per-account failure count and WebSocket slots. Every refusal
//! is a 429 with `Retry-After`, in the API's error shape.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{header::HeaderName, request::Parts, StatusCode};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use uuid::Uuid;

use super::error::ApiError;
use super::state::AppState;
use crate::domain::Email;
use crate::throttle::{self, retry_after_seconds, AccountKey, ClientKey, Full, SlotGuard};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// What a client is told to wait when a WebSocket cap refuses it: connections end at
/// unpredictable times, so this is a hint, not a promise.
pub const WS_FULL_RETRY_AFTER_SECONDS: u64 = 5;

/// 429 with `Retry-After` for a wait reported by a rate limiter.
pub fn too_many_requests(wait: Duration) -> ApiError {
    ApiError::too_many_requests(retry_after_seconds(wait))
}

/// The request's client address: the socket peer, or the proxy's `X-Forwarded-For`
/// entry with `--trust-forwarded-for`. `None` only when the server was run without
/// connection info (never by [`crate::app::serve`]).
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    pub fn of(parts: &Parts, state: &AppState) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer);
        let forwarded = parts
            .headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .map(|value| value.as_bytes());
        ClientAddress(throttle::client_address(
            peer,
            forwarded,
            state.config.abuse.trust_forwarded_for,
        ))
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress::of(parts, state))
    }
}

/// The gate of login and sign-up: spends one of the client address's attempts, or
/// refuses with 429 before the body is even read.
pub struct AuthAttempt;

impl FromRequestParts<AppState> for AuthAttempt {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let ClientAddress(Some(address)) = ClientAddress::of(parts, state) {
            state
                .throttles
                .auth_by_client
                .check(&ClientKey::of(address), Instant::now())
                .map_err(|wait| {
                    tracing::debug!(client = %address, "auth attempts throttled");
                    too_many_requests(wait)
                })?;
        }
        Ok(AuthAttempt)
    }
}

/// The gate of the public share-link route: spends one of the client address's reads.
pub struct SharedRead;

impl FromRequestParts<AppState> for SharedRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let ClientAddress(Some(address)) = ClientAddress::of(parts, state) {
            state
                .throttles
                .shared_by_client
                .check(&ClientKey::of(address), Instant::now())
                .map_err(|wait| {
                    tracing::debug!(client = %address, "share-link reads throttled");
                    too_many_requests(wait)
                })?;
        }
        Ok(SharedRead)
    }
}

/// Counts an attempt against `email`'s account before any password work: 429 when the
/// account has used up its failures. The caller clears the count with
/// [`account_succeeded`] when the attempt succeeds; otherwise it stays a failure.
pub fn account_attempt(
    state: &AppState,
    tenant_id: Uuid,
    email: &Email,
) -> Result<AccountKey, ApiError> {
    let key = throttle::account_key(tenant_id, email);
    state
        .throttles
        .auth_by_account
        .check(&key, Instant::now())
        .map_err(|wait| {
            tracing::debug!("auth attempts for one account throttled");
            too_many_requests(wait)
        })?;
    Ok(key)
}

/// Forgets an account's failures after a successful login or sign-up.
pub fn account_succeeded(state: &AppState, key: &AccountKey) {
    state.throttles.auth_by_account.reset(key);
}

/// Spends one of an API key's requests; 429 when over its rate.
pub fn api_key_request(state: &AppState, key_id: Uuid) -> Result<(), ApiError> {
    state
        .throttles
        .by_api_key
        .check(&key_id, Instant::now())
        .map_err(|wait| {
            tracing::debug!(%key_id, "API key rate limited");
            too_many_requests(wait)
        })
}

/// Spends one of a user's writes to the user API; 429 when over the user's rate.
pub fn user_write(state: &AppState, user_id: i64) -> Result<(), ApiError> {
    state
        .throttles
        .writes_by_user
        .check(&user_id, Instant::now())
        .map_err(|wait| {
            tracing::debug!(user_id, "user writes rate limited");
            too_many_requests(wait)
        })
}

/// Reserves a WebSocket connection's slots on its chat (counted across nodes by the
/// event bus) and its API key (if one was used); 429 `too_many_connections` when
/// either is full.
pub async fn ws_slot(
    state: &AppState,
    chat_id: i64,
    key_id: Option<Uuid>,
) -> Result<SlotGuard, ApiError> {
    let elsewhere = if state.config.abuse.ws_max_per_chat > 0 {
        state
            .events
            .active_connections(chat_id)
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(chat_id, %error, "cannot count the chat's connections; counting this node's");
                0
            })
    } else {
        0
    };
    state
        .throttles
        .ws
        .reserve(chat_id, key_id, elsewhere)
        .map_err(|full| {
            let message = match full {
                Full::Chat => "This chat has as many live connections as the server allows",
                Full::Key => "This API key holds as many live connections as the server allows",
            };
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections",
                message,
            );
            error.retry_after = Some(WS_FULL_RETRY_AFTER_SECONDS);
            error
        })
}
