//! Live events over WebSocket, for both APIs:
//!
//! * `GET /api/v1/chats/{chat_id}/ws`: `X-API-Key`, or the session cookie of the chat's
//!   owner; frames name the chat by uuid.
//! * `GET /api/users/{user_id}/chats/{chat_id}/ws`: session cookie; frames name the chat
//!   by its integer id.
//!
//! The chat is resolved before the upgrade, so a bad request is an ordinary HTTP error in
//! its API's shape. A connection then forwards the chat's events as text frames, pings
//! the peer every `ws_ping_interval_seconds` and drops it after three silent intervals,
//! and ends with a close frame carrying
//! [`crate::events::CloseReason::close_frame`]'s code when the hub closes it (chat
//! deleted, consumer too slow, server shutdown), when the key or session it was opened
//! with is revoked or expires (see [`crate::revocation`]), or when the client sends a
//! message over [`MAX_INCOMING_BYTES`] (1009). It counts as an active
//! connection of the chat from the upgrade until it ends. Upgrades beyond
//! `--ws-max-per-chat` (per chat) or `--ws-max-per-key` (per API key) are refused with
//! 429 `too_many_connections` and `Retry-After`. Upgrades authenticated by the session
//! cookie are refused with 403 from another site's page (see [`super::origin`]).
//!
//! `upgrade.rs`: everything before the upgrade; `session.rs`: the live connection;
//! `close.rs`: why the server ends one.

mod close;
mod session;
mod upgrade;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub use upgrade::MAX_INCOMING_BYTES;

use super::error::{ApiError, TenantError, UserError};
use super::state::AppState;
use crate::events::Flavor;
use upgrade::{accept, TenantWsChat, Upgrade, UserWsChat};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/chats/{chat_id}/ws", get(tenant_ws))
        .route("/api/users/{user_id}/chats/{chat_id}/ws", get(user_ws))
}

/// Subscribe to a tenant chat's live events (WebSocket).
#[utoipa::path(get, path = "/api/v1/chats/{chat_id}/ws", tag = "live events",
    params(("chat_id" = uuid::Uuid, Path)),
    security(("api_key" = []), ("session" = [])),
    responses(
        (status = 101, description = "Upgraded; the server sends `message.created`, `messages.deleted`, `chat.updated` and `chat.deleted` frames"),
        (status = 400, description = "`chat_id` is not a UUID, or not a WebSocket upgrade request", body = TenantError),
        (status = 401, description = "Neither a valid API key nor a session", body = TenantError),
        (status = 403, description = "Session cookie sent from another site's page (`forbidden_origin`): `Origin` is not this server's, nor allowed by `--allowed-origins`", body = TenantError),
        (status = 404, description = "No such chat in the key's tenant, or not the session user's chat", body = TenantError),
        (status = 429, description = "The chat or the API key has as many live connections as allowed (`too_many_connections`), or the key is over its request rate; see `Retry-After`", body = TenantError),
    ))]
pub async fn tenant_ws(
    State(state): State<AppState>,
    TenantWsChat(chat): TenantWsChat,
    Upgrade(upgrade): Upgrade,
) -> Result<Response, ApiError> {
    accept(state, upgrade, chat, Flavor::Tenant).await
}

/// Subscribe to one of the user's chats' live events (WebSocket).
#[utoipa::path(get, path = "/api/users/{user_id}/chats/{chat_id}/ws", tag = "live events",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 101, description = "Upgraded; frames as on `/api/v1/chats/{chat_id}/ws`, with the integer chat id"),
        (status = 400, description = "Bad id, or not a WebSocket upgrade request", body = UserError),
        (status = 401, body = UserError),
        (status = 403, description = "Sent from another site's page: `Origin` is not this server's, nor allowed by `--allowed-origins`", body = UserError),
        (status = 404, body = UserError),
        (status = 429, description = "The chat has as many live connections as allowed; see `Retry-After`", body = UserError),
    ))]
pub async fn user_ws(
    State(state): State<AppState>,
    UserWsChat(chat): UserWsChat,
    Upgrade(upgrade): Upgrade,
) -> Result<Response, ApiError> {
    accept(state, upgrade, chat, Flavor::User).await
}
