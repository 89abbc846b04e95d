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
//! and ends with a close frame carrying [`CloseReason::close_frame`]'s code when the hub
//! closes it (chat deleted, consumer too slow, server shutdown), when the key or session
//! it was opened with is revoked or expires (see [`crate::revocation`]), or when the
//! client sends a message over [`MAX_INCOMING_BYTES`] (1009). It counts as an active
//! connection of the chat from the upgrade until it ends. Upgrades beyond
//! `--ws-max-per-chat` (per chat) or `--ws-max-per-key` (per API key) are refused with
//! 429 `too_many_connections` and `Retry-After`. Upgrades authenticated by the session
//! cookie are refused with 403 from another site's page (see [`super::origin`]).

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt as _;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::error::ApiError;
use super::extract::{session_token_hash, OwnChat, SessionUser};
use super::openapi::{TenantError, UserError};
use super::ops::Metrics;
use super::tenant_api::{chat_uuid, TenantKey};
use super::throttle::ws_slot;
use super::ws_close::{is_message_too_big, CloseSignal};
use super::{origin, user_api, AppState};
use crate::events::{ChatEvent, CloseReason, Flavor, Subscription};
use crate::revocation::{Credential, Registration};
use crate::store::{ChatRecord, ChatRef, StoreError};
use crate::throttle::SlotGuard;

/// The largest frame or message a client may send (clients only need small control
/// messages); larger ones end the connection with 1009.
pub const MAX_INCOMING_BYTES: usize = 64 * 1024;
/// How long the server waits for a blocked write or the peer's close reply when ending a
/// connection.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// The same for a consumer cut off as too slow: its socket is already full, so the close
/// frame rarely gets through; do not keep the connection around for it.
const TOO_SLOW_GRACE: Duration = Duration::from_secs(1);
/// A peer silent for this many ping intervals is considered gone.
const SILENT_INTERVALS: u32 = 3;

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

/// A chat the caller may watch, as named and as read before the upgrade.
pub struct ResolvedChat {
    chat: ChatRef,
    record: ChatRecord,
    /// What it was opened with: its revocation closes the connection.
    credential: Credential,
}

impl ResolvedChat {
    /// The API key the connection was opened with, if any (its connections are capped).
    fn key_id(&self) -> Option<uuid::Uuid> {
        match self.credential {
            Credential::ApiKey(key_id) => Some(key_id),
            Credential::Session(_) => None,
        }
    }
}

/// The chat of `/api/v1/chats/{chat_id}/ws`: with an `X-API-Key` header, a chat of the
/// key's tenant; without one, a chat owned by the session's user, from a page of this
/// server's origin (403 otherwise). 401, 400, 404 as for any tenant route.
pub struct TenantWsChat(ResolvedChat);

impl FromRequestParts<AppState> for TenantWsChat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Browsers cannot set `X-API-Key` on another site's behalf: only the cookie
        // needs the origin check.
        let (tenant_id, owner, credential) = if TenantKey::present(&parts.headers) {
            let key = TenantKey::from_headers(&parts.headers, state).await?;
            (key.tenant_id, None, Credential::ApiKey(key.key_id))
        } else {
            same_origin(parts, state)?;
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
pub struct UserWsChat(ResolvedChat);

impl FromRequestParts<AppState> for UserWsChat {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        same_origin(parts, state)?;
        let OwnChat { chat, .. } = OwnChat::from_request_parts(parts, state).await?;
        // The cookie `OwnChat` just authenticated.
        let token_hash = session_token_hash(parts).ok_or_else(ApiError::unauthorized)?;
        let record = state.store.get_chat(&chat).await?;
        Ok(UserWsChat(ResolvedChat {
            chat,
            record,
            credential: Credential::Session(token_hash),
        }))
    }
}

/// 403 for a cookie-authenticated upgrade from another site's page.
fn same_origin(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    let secure = user_api::cookie_secure(state, &parts.headers);
    origin::check(&parts.headers, state, secure)
}

/// [`WebSocketUpgrade`] with its rejections answered in the API's error shape.
pub struct Upgrade(WebSocketUpgrade);

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
async fn accept(
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

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The hub closed it.
    Closed(CloseReason),
    /// The peer sent a close frame.
    PeerClosed,
    /// The peer's stream ended or failed, or a write failed or stalled.
    PeerGone,
    /// The peer sent a frame or message over [`MAX_INCOMING_BYTES`].
    TooBig,
    /// No frame from the peer for [`SILENT_INTERVALS`] ping intervals.
    Silent,
}

/// Counts the connection in `websocket_connections` while alive.
struct Gauge(Arc<Metrics>);

impl Gauge {
    fn open(metrics: &Arc<Metrics>) -> Self {
        metrics
            .websocket_connections
            .fetch_add(1, Ordering::Relaxed);
        Gauge(metrics.clone())
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.websocket_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(
    state: AppState,
    mut socket: WebSocket,
    chat: ResolvedChat,
    flavor: Flavor,
    registration: Registration,
) -> End {
    let _gauge = Gauge::open(&state.metrics);
    let Subscription {
        mut frames,
        closed,
        guard,
    } = state
        .events
        .subscribe(chat.record.id, flavor, chat.record.version)
        .await;
    let mut closed = CloseSignal::new(closed, registration.revoked);

    // A deletion between the check before the upgrade and the subscription was announced
    // to nobody here: tell this peer now, unless the hub already has.
    let end = match state.store.get_chat(&chat.chat).await {
        Err(StoreError::NotFound) => match closed.try_hub() {
            // The hub got there first: its frames are queued, handled below.
            Some(reason) => End::Closed(reason),
            None => {
                drop(guard);
                let event = ChatEvent::deleted(&chat.record);
                let frames = match flavor {
                    Flavor::User => event.user_frames,
                    Flavor::Tenant => event.tenant_frames,
                };
                for frame in frames {
                    if write(&mut socket, Message::Text(frame.into()))
                        .await
                        .is_err()
                    {
                        return End::PeerGone;
                    }
                }
                close(&mut socket, CloseReason::ChatDeleted).await;
                return End::Closed(CloseReason::ChatDeleted);
            }
        },
        _ => {
            let ping_every = state.config.limits.ws_ping_interval();
            serve(&mut socket, &mut frames, &mut closed, ping_every).await
        }
    };

    // Presence ends here, before any closing handshake.
    drop(guard);
    match end {
        End::Closed(reason) => {
            // A deleted chat's last frames (`chat.deleted`) go out before the close; a
            // consumer that was too slow, or whose credential was revoked, gets only
            // the close.
            if reason.delivers_queued_frames() {
                while let Ok(frame) = frames.try_recv() {
                    if write(&mut socket, Message::Text(frame)).await.is_err() {
                        return End::PeerGone;
                    }
                }
            }
            close(&mut socket, reason).await;
        }
        End::PeerClosed => {
            // Reading on sends the close reply tungstenite queued, and ends the stream.
            let _ = tokio::time::timeout(CLOSE_GRACE, drain(&mut socket)).await;
        }
        End::TooBig => {
            // Not `close`: reading on would buffer the rest of the oversized frame.
            let frame = close_frame(CloseReason::MessageTooBig);
            let _ = write_within(&mut socket, frame, TOO_SLOW_GRACE).await;
        }
        End::PeerGone | End::Silent => {}
    }
    end
}

/// Forwards frames, answers application pings and pings the peer until the connection
/// ends. Returns without polling `closed` again once it has completed.
async fn serve(
    socket: &mut WebSocket,
    frames: &mut mpsc::Receiver<Utf8Bytes>,
    closed: &mut CloseSignal,
    ping_every: Duration,
) -> End {
    let silent_after = ping_every * SILENT_INTERVALS;
    let mut pings = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let silence = tokio::time::sleep(silent_after);
    tokio::pin!(silence);
    loop {
        tokio::select! {
            reason = &mut *closed => return End::Closed(reason),
            frame = frames.recv() => match frame {
                Some(text) => {
                    if let Err(end) = write_or_close(socket, Message::Text(text), closed, silent_after).await {
                        return end;
                    }
                }
                // The hub let go of this connection; its close signal says why.
                None => return End::Closed(closed.await),
            },
            incoming = socket.next() => match incoming {
                Some(Ok(message)) => {
                    silence.as_mut().reset(Instant::now() + silent_after);
                    match message {
                        Message::Close(_) => return End::PeerClosed,
                        Message::Text(text) if is_ping(text.as_str()) => {
                            let pong = Message::Text(Utf8Bytes::from_static(r#"{"type":"pong"}"#));
                            if let Err(end) = write_or_close(socket, pong, closed, silent_after).await {
                                return end;
                            }
                        }
                        // Other client messages carry nothing the server acts on.
                        _ => {}
                    }
                }
                Some(Err(error)) if is_message_too_big(&error) => return End::TooBig,
                Some(Err(_)) | None => return End::PeerGone,
            },
            _ = pings.tick() => {
                if let Err(end) = write_or_close(socket, Message::Ping(Default::default()), closed, silent_after).await {
                    return end;
                }
            }
            () = &mut silence => return End::Silent,
        }
    }
}

/// Writes a message within [`CLOSE_GRACE`].
async fn write(socket: &mut WebSocket, message: Message) -> Result<(), ()> {
    write_within(socket, message, CLOSE_GRACE).await
}

async fn write_within(socket: &mut WebSocket, message: Message, limit: Duration) -> Result<(), ()> {
    match tokio::time::timeout(limit, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Writes a message, giving up when the peer has not taken it within `limit`. If the
/// connection is closed meanwhile, a consumer cut off as too slow is abandoned at once
/// (it is stuck on a full socket), as is one whose credential was revoked; otherwise the
/// message in hand, which precedes the close, is finished first.
async fn write_or_close(
    socket: &mut WebSocket,
    message: Message,
    closed: &mut CloseSignal,
    limit: Duration,
) -> Result<(), End> {
    let written = |result: Result<Result<(), axum::Error>, _>| match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(End::PeerGone),
    };
    let send = tokio::time::timeout(limit, socket.send(message));
    tokio::pin!(send);
    tokio::select! {
        biased;
        result = &mut send => written(result),
        reason = closed => {
            if reason.delivers_queued_frames() {
                written(send.await)?;
            }
            Err(End::Closed(reason))
        }
    }
}

/// Sends the close frame for `reason` and waits briefly for the peer's reply.
async fn close(socket: &mut WebSocket, reason: CloseReason) {
    let frame = close_frame(reason);
    let limit = if reason == CloseReason::TooSlow {
        TOO_SLOW_GRACE
    } else {
        CLOSE_GRACE
    };
    if write_within(socket, frame, limit).await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_GRACE, drain(socket)).await;
    }
}

fn close_frame(reason: CloseReason) -> Message {
    let (code, text) = reason.close_frame();
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(text),
    }))
}

/// Reads until the peer's stream ends.
async fn drain(socket: &mut WebSocket) {
    while let Some(Ok(_)) = socket.next().await {}
}

/// Whether a client text frame is the application-level `{"type":"ping"}`.
fn is_ping(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
    }
    text.len() <= 256
        && serde_json::from_str::<Probe<'_>>(text).is_ok_and(|probe| probe.kind == "ping")
}

#[cfg(test)]
mod tests {
    use super::is_ping;

    #[test]
    fn recognises_application_pings() {
        assert!(is_ping(r#"{"type":"ping"}"#));
        assert!(is_ping(r#"{"type": "ping", "id": 3}"#));
        for other in [
            r#"{"type":"pong"}"#,
            "ping",
            "",
            r#"{"kind":"ping"}"#,
            "[1]",
        ] {
            assert!(!is_ping(other), "{other}");
        }
    }
}
