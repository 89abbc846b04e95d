//! Generated replies on the user API (SPEC §8): generate, resume, stop.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::messages::MessageEnvelope;
use crate::chats::generate::GenerateInput;
use crate::http::error::{ApiError, UserError};
use crate::http::extract::{
    session_token_hash, MessageId, OwnChat, OwnChatReply, ValidJson, ValidQuery,
};
use crate::http::message_body::GenerateReply;
use crate::http::reply_stream::{self, Caller, ReplyStreamEvent, ResumeQuery};
use crate::http::state::AppState;
use crate::revocation::Credential;

/// Generate a reply: append the user message (if any) and the reply, and stream the
/// reply as it grows (`text/event-stream`: `message.created`, `message.delta` with
/// `id: <seq>`, then `message.completed` or `message.failed`). The reply goes on if the
/// client disconnects; resume it with the stream route.
#[utoipa::path(post, path = "/api/users/{user_id}/chats/{chat_id}/generate", tag = "user replies",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    request_body = GenerateReply,
    security(("session" = [])),
    responses(
        (status = 200, description = "The reply as an event stream (`stream` true, the default)", content_type = "text/event-stream", body = ReplyStreamEvent),
        (status = 201, description = "The final message (`stream: false`)", body = MessageEnvelope),
        (status = 400, description = "A bad field, no model, or a regenerate whose current leaf is not a user message", body = UserError),
        (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 413, body = UserError), (status = 415, body = UserError),
        (status = 429, description = "Every generation slot of the node is taken", body = UserError),
        (status = 502, description = "`stream: false` and the reply failed; it is stored", body = UserError),
        (status = 503, description = "No provider configured", body = UserError),
    ))]
pub async fn generate(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
    headers: HeaderMap,
    ValidJson(input): ValidJson<GenerateInput>,
) -> Result<Response, ApiError> {
    let caller = Caller {
        chats: &state.chats,
        chat,
        credential: session_credential(&headers)?,
        live: &state.live_credentials,
    };
    reply_stream::generate(caller, input, |message| {
        Json(MessageEnvelope::new(message)).into_response()
    })
    .await
}

/// Resume a reply's stream from any node: the deltas after `Last-Event-ID` (or
/// `?after=`), then the live ones, then the end event.
#[utoipa::path(get, path = "/api/users/{user_id}/chats/{chat_id}/messages/{message_id}/stream", tag = "user replies",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1),
        ("message_id" = i64, Path, minimum = 1), ResumeQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "The last delta's seq the client has")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The reply's events", content_type = "text/event-stream", body = ReplyStreamEvent),
        (status = 400, body = UserError), (status = 401, body = UserError),
        (status = 404, body = UserError), (status = 429, body = UserError),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    OwnChatReply {
        chat,
        message_id,
        running,
    }: OwnChatReply,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<ResumeQuery>,
) -> Result<Response, ApiError> {
    let caller = Caller {
        chats: &state.chats,
        chat,
        credential: session_credential(&headers)?,
        live: &state.live_credentials,
    };
    reply_stream::resume(caller, message_id, Some(running), &headers, &query).await
}

/// Stop a reply being generated, on whichever node runs it; the text so far is kept.
#[utoipa::path(post, path = "/api/users/{user_id}/chats/{chat_id}/messages/{message_id}/stop", tag = "user replies",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1), ("message_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, description = "The reply as it ended", body = MessageEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError),
        (status = 404, body = UserError), (status = 429, body = UserError),
    ))]
pub async fn stop(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
    MessageId(message_id): MessageId,
) -> Result<Response, ApiError> {
    let message = state.chats.stop_reply(&chat, message_id).await?;
    Ok(Json(MessageEnvelope::new(&message)).into_response())
}

/// The session the request came with (already checked by [`OwnChat`]), as a credential.
fn session_credential(headers: &HeaderMap) -> Result<Credential, ApiError> {
    session_token_hash(headers)
        .map(Credential::Session)
        .ok_or_else(ApiError::unauthorized)
}
