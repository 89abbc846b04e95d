//! `X-API-Key` authentication for the tenant API, and the chat a tenant route names.

use axum::extract::FromRequestParts;
use axum::http::{request::Parts, HeaderMap, StatusCode};
use std::time::Instant;
use uuid::Uuid;

use super::path::chat_uuid;
use crate::auth::api_key;
use crate::domain::Timestamp;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::http::throttle;
use crate::store::{ApiKeyRecord, ChatRef, ChatsPageStamp, TenantChatsPage};

pub const API_KEY_HEADER: &str = "x-api-key";

/// The tenant of a valid, unrevoked API key; else 401. Validity is checked against the
/// store on every request, so a revoked key is refused on its very next use. Each use
/// spends one of the key's requests (`--api-key-rate-per-second`); over it, 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantKey {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
}

fn invalid_key() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Missing, invalid or revoked API key (send it in the X-API-Key header)",
    )
}

/// The key the request's `X-API-Key` header presents, if it has one in ASCII.
fn presented(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(API_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .ok_or_else(invalid_key)
}

impl TenantKey {
    /// Whether the request carries an `X-API-Key` header at all (valid or not).
    pub fn present(headers: &HeaderMap) -> bool {
        headers.contains_key(API_KEY_HEADER)
    }

    /// Checks the request's `X-API-Key` header.
    pub async fn from_headers(headers: &HeaderMap, state: &AppState) -> Result<Self, ApiError> {
        Self::authenticate(presented(headers)?, state).await
    }

    /// Checks a presented key: known prefix, matching secret, not revoked.
    pub async fn authenticate(presented: &str, state: &AppState) -> Result<Self, ApiError> {
        let prefix = api_key::prefix_of(presented).ok_or_else(invalid_key)?;
        let record = state
            .store
            .find_api_key(prefix)
            .await?
            .ok_or_else(invalid_key)?;
        Self::accept(presented, &record, state)
    }

    /// The request's `X-API-Key` header, checked as [`Self::from_headers`] does, with a
    /// page stamp of the key's tenant's chat list read in the key's snapshot (what a
    /// cached page is checked against).
    pub async fn with_chats_stamp(
        headers: &HeaderMap,
        state: &AppState,
        page: &TenantChatsPage<'_>,
    ) -> Result<(Self, ChatsPageStamp), ApiError> {
        let presented = presented(headers)?;
        let prefix = api_key::prefix_of(presented).ok_or_else(invalid_key)?;
        let (record, stamp) = state
            .store
            .api_key_and_chats_stamp(prefix, page)
            .await?
            .ok_or_else(invalid_key)?;
        Ok((Self::accept(presented, &record, state)?, stamp))
    }

    /// A found key, if `presented` is it and it is not revoked; spends one of its
    /// requests.
    fn accept(presented: &str, record: &ApiKeyRecord, state: &AppState) -> Result<Self, ApiError> {
        if !api_key::matches(presented, &record.secret_hash) || record.revoked_at.is_some() {
            return Err(invalid_key());
        }
        // Counted once the key is known to be genuine, so nobody can spend another
        // tenant's allowance by presenting its public prefix.
        throttle::api_key_request(state, record.id)?;
        if state.key_touches.due(record.id, Instant::now()) {
            let store = state.store.clone();
            let key_id = record.id;
            tokio::spawn(async move {
                if let Err(error) = store.touch_api_key(key_id, Timestamp::now()).await {
                    tracing::warn!(%key_id, %error, "cannot record API key use");
                }
            });
        }
        Ok(TenantKey {
            tenant_id: record.tenant_id,
            key_id: record.id,
        })
    }
}

impl FromRequestParts<AppState> for TenantKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Self::from_headers(&parts.headers, state).await
    }
}

/// `/api/v1/chats/{chat_id}/...`: a valid key (else 401) and a UUID chat id (else 400).
/// Whether the chat exists in the key's tenant is decided by the store (404 if not).
pub struct TenantChat {
    pub key: TenantKey,
    pub chat: ChatRef,
}

impl FromRequestParts<AppState> for TenantChat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = TenantKey::from_request_parts(parts, state).await?;
        let chat_uuid = chat_uuid(parts, state).await?;
        Ok(TenantChat {
            chat: ChatRef::Tenant {
                tenant_id: key.tenant_id,
                chat_uuid,
            },
            key,
        })
    }
}
