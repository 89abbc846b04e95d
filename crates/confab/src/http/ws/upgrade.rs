//! Before the upgrade: the chat a WebSocket route names and the credential that may
//! watch it (refusals are ordinary HTTP errors in the API's shape), then the slots and
//! the registration the connection holds while it lives.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use super::session::{connection, ResolvedChat};
use crate::events::Flavor;
use crate::http::error::ApiError;
use crate::http::extract::{chat_uuid, session_token_hash, OwnChat, SessionUser, TenantKey};
use crate::http::origin;
use crate::http::state::AppState;
use crate::http::throttle::ws_slot;
use crate::revocation::Credential;
use crate::store::ChatRef;
use crate::throttle::SlotGuard;

/// The largest frame or message a client may send (clients only need small control
/// messages); larger ones end the connection with 1009.
pub const MAX_INCOMING_BYTES: usize = 64 * 1024;

/// The chat of `/api/v1/chats/{chat_id}/ws`: with an `X-API-Key` header, a chat of the
/// key's tenant; without one, a chat owned by the session's user, from a page of this
/// server's origin (403 otherwise). 401, 400, 404 as for any tenant route.
pub struct TenantWsChat(pub(super) ResolvedChat);

impl FromRequestParts<AppState> for TenantWsChat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Browsers cannot set `X-API-Key` on another site's behalf: only the cookie
        // needs the origin check.
        let (tenant_id, owner, credential) = if TenantKey::present(&parts.headers) {
            let key = TenantKey::from_headers(&parts.headers, state).await?;
            (key.tenant_id, None, Credential::ApiKey(key.key_id))
        } else {
            origin::check(&parts.headers, state)?;
            let SessionUser { user, token_hash } =
                SessionUser::from_request_parts(parts, state).await?;
            (
                user.tenant_id,
                Some(user.id),
                Credential::Session(token_hash),
            )
        };
        let chat = ChatRef::Tenant {
            tenant_id,
            chat_uuid: chat_uuid(parts, state).await?,
        };
        let record = state.store.get_chat(&chat).await?;
        if owner.is_some() && record.user_id != owner {
            return Err(ApiError::chat_not_found());
        }
        Ok(TenantWsChat(ResolvedChat {
            chat,
            record,
            credential,
        }))
    }
}

/// The chat of `/api/users/{user_id}/chats/{chat_id}/ws`: one of the session user's
/// chats, from a page of this server's origin (403 otherwise). 401, 400, 404 as for any
/// user-API route.
pub struct UserWsChat(pub(super) ResolvedChat);

impl FromRequestParts<AppState> for UserWsChat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        origin::check(&parts.headers, state)?;
        let OwnChat { chat, .. } = OwnChat::from_request_parts(parts, state).await?;
        // The cookie `OwnChat` just authenticated.
        let token_hash = session_token_hash(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let record = state.store.get_chat(&chat).await?;
        Ok(UserWsChat(ResolvedChat {
            chat,
            record,
            credential: Credential::Session(token_hash),
        }))
    }
}

/// [`WebSocketUpgrade`] with its rejections answered in the API's error shape.
pub struct Upgrade(pub(super) WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(Upgrade)
            .map_err(|rejection| {
                ApiError::new(
                    rejection.status(),
                    "websocket_upgrade_required",
                    format!(
                        "This route only accepts WebSocket upgrade requests: {}",
                        rejection.body_text()
                    ),
                )
            })
    }
}

/// Reserves the connection's slots (429 when its chat or key is full), registers its
/// credential, and answers the upgrade; both are held until the connection ends, or
/// given back if the upgrade never completes.
pub(super) async fn accept(
    state: AppState,
    upgrade: WebSocketUpgrade,
    chat: ResolvedChat,
    flavor: Flavor,
) -> Result<Response, ApiError> {
    let slot: SlotGuard = ws_slot(&state, chat.record.id, chat.key_id()).await?;
    // Registered before the upgrade is answered: a revocation from now on reaches it.
    let registration = state.live_credentials.register(chat.credential.clone());
    Ok(upgrade
        .max_message_size(MAX_INCOMING_BYTES)
        .max_frame_size(MAX_INCOMING_BYTES)
        // tungstenite allocates a 128 KiB read buffer per connection by default; clients
        // send little (pings, at most 64 KiB messages, which the buffer grows to fit), so
        // 4 KiB keeps an idle connection small. Frames are written out at once, and a
        // peer that stops reading cannot pile up more than the bound below.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_INCOMING_BYTES * 4)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            let chat_id = chat.record.id;
            let end = connection(state, socket, chat, flavor, registration).await;
            tracing::debug!(chat_id, ?flavor, ?end, "websocket closed");
        }))
}
