//! Generated replies on the tenant API (SPEC §8): generate, resume, stop.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::tree::TenantMessage;
use crate::chats::generate::GenerateInput;
use crate::http::error::{ApiError, TenantError};
use crate::http::extract::{MessageId, TenantChat, ValidJson, ValidQuery};
use crate::http::message_body::GenerateReply;
use crate::http::reply_stream::{self, Caller, ReplyStreamEvent, ResumeQuery};
use crate::http::state::AppState;
use crate::revocation::Credential;

/// Generate a reply: append the user message (if any) and the reply, and stream the
/// reply as it grows (`text/event-stream`: `message.created`, `message.delta` with
/// `id: <seq>`, then `message.completed` or `message.failed`). The reply goes on if the
/// client disconnects; resume it with the stream route.
#[utoipa::path(operation_id = "tenant_generate", post, path = "/api/v1/chats/{chat_id}/generate", tag = "tenant replies",
    params(("chat_id" = uuid::Uuid, Path)),
    request_body = GenerateReply,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The reply as an event stream (`stream` true, the default)", content_type = "text/event-stream", body = ReplyStreamEvent),
        (status = 201, description = "The final message (`stream: false`)", body = TenantMessage),
        (status = 400, description = "A bad field, no model, or a regenerate whose current leaf is not a user message (`invalid_parent_id`)", body = TenantError),
        (status = 401, body = TenantError), (status = 404, body = TenantError),
        (status = 413, body = TenantError), (status = 415, body = TenantError),
        (status = 429, description = "Rate limited, or every generation slot of the node is taken (`too_many_generations`)", body = TenantError),
        (status = 502, description = "`stream: false` and the reply failed (`llm_upstream_error`, `llm_timeout`); it is stored", body = TenantError),
        (status = 503, description = "No provider configured (`llm_not_configured`)", body = TenantError),
    ))]
pub async fn generate(
    State(state): State<AppState>,
    TenantChat { chat, key }: TenantChat,
    ValidJson(input): ValidJson<GenerateInput>,
) -> Result<Response, ApiError> {
    let caller = Caller {
        chats: &state.chats,
        chat,
        credential: Credential::ApiKey(key.key_id),
        live: &state.live_credentials,
    };
    reply_stream::generate(caller, input, |message| {
        Json(TenantMessage::new(message)).into_response()
    })
    .await
}

/// Resume a reply's stream from any node: the deltas after `Last-Event-ID` (or
/// `?after=`), then the live ones, then the end event; for a finished reply, the rest at
/// once and the end.
#[utoipa::path(operation_id = "tenant_resume", get, path = "/api/v1/chats/{chat_id}/messages/{message_id}/stream", tag = "tenant replies",
    params(("chat_id" = uuid::Uuid, Path), ("message_id" = i64, Path, minimum = 1), ResumeQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "The last delta's seq the client has")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The reply's events", content_type = "text/event-stream", body = ReplyStreamEvent),
        (status = 400, body = TenantError), (status = 401, body = TenantError),
        (status = 404, description = "No such chat in the tenant, or no such message in it", body = TenantError),
        (status = 429, body = TenantError),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    TenantChat { chat, key }: TenantChat,
    MessageId(message_id): MessageId,
    headers: HeaderMap,
    ValidQuery(query): ValidQuery<ResumeQuery>,
) -> Result<Response, ApiError> {
    let caller = Caller {
        chats: &state.chats,
        chat,
        credential: Credential::ApiKey(key.key_id),
        live: &state.live_credentials,
    };
    reply_stream::resume(caller, message_id, None, &headers, &query).await
}

/// Stop a reply being generated, on whichever node runs it: the text so far is kept and
/// the reply ends `stopped`. A reply that has already ended is answered as it is.
#[utoipa::path(operation_id = "tenant_stop", post, path = "/api/v1/chats/{chat_id}/messages/{message_id}/stop", tag = "tenant replies",
    params(("chat_id" = uuid::Uuid, Path), ("message_id" = i64, Path, minimum = 1)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The reply as it ended", body = TenantMessage),
        (status = 400, body = TenantError), (status = 401, body = TenantError),
        (status = 404, body = TenantError), (status = 429, body = TenantError),
    ))]
pub async fn stop(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    MessageId(message_id): MessageId,
) -> Result<Response, ApiError> {
    let message = state.chats.stop_reply(&chat, message_id).await?;
    Ok(Json(TenantMessage::new(&message)).into_response())
}
