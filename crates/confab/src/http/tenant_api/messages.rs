//! A tenant chat's messages: list (keyset pages, oldest first), post, delete last.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::chats::input::MessagesInput;
use crate::domain::cursor::{CursorKind, Position};
use crate::http::error::{ApiError, TenantError};
use crate::http::extract::{TenantChat, ValidJson, ValidQuery};
use crate::http::paging;
use crate::http::state::AppState;
use crate::store::{MessageCursor, MessageRecord};
use crate::views::{DeleteLastResponse, MessageView, MessagesView};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTenantMessagesQuery {
    /// `next_cursor` of the previous page; omit for the first page.
    #[serde(alias = "cursor")]
    pub(super) after: Option<String>,
    /// Messages per page, 1 to 100 (default 20).
    pub(super) limit: Option<String>,
}

/// One page of messages, oldest first, each with its files.
#[derive(Serialize, ToSchema)]
pub struct TenantMessagePage<'a> {
    #[schema(value_type = Vec<MessageView>)]
    data: MessagesView<'a>,
    /// Pass as `after` to get the next page; `null` on the last page.
    next_cursor: Option<String>,
}

impl<'a> TenantMessagePage<'a> {
    pub fn new(messages: &'a [MessageRecord], next_cursor: Option<String>) -> Self {
        TenantMessagePage {
            data: MessagesView(messages),
            next_cursor,
        }
    }
}

/// `{"data": [message...]}`
#[derive(Serialize, ToSchema)]
pub struct TenantMessagesCreated<'a> {
    #[schema(value_type = Vec<MessageView>)]
    data: MessagesView<'a>,
}

/// The chat's messages in chronological order, a page at a time.
#[utoipa::path(operation_id = "tenant_list_messages", get, path = "/api/v1/chats/{chat_id}/messages", tag = "tenant messages",
    params(("chat_id" = uuid::Uuid, Path), ListTenantMessagesQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TenantMessagePage),
        (status = 400, description = "Bad `chat_id`, `limit` or `after`", body = TenantError),
        (status = 401, body = TenantError), (status = 404, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn list_messages(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    ValidQuery(query): ValidQuery<ListTenantMessagesQuery>,
) -> Result<Response, ApiError> {
    let limit = paging::limit(query.limit.as_deref())?;
    let after =
        paging::cursor(CursorKind::Messages, query.after.as_deref())?.map(|p| MessageCursor {
            created_at: p.created_at,
            id: p.id,
        });
    let mut messages = state.store.page_messages(&chat, after, limit + 1).await?;
    let next_cursor = paging::finish(&mut messages, limit, CursorKind::Messages, |m| Position {
        created_at: m.created_at,
        id: m.id,
    });
    Ok(Json(TenantMessagePage::new(&messages, next_cursor)).into_response())
}

/// Post one message (`{"message","actor"}`) or a batch (`{"messages":[{"content","role"}]}`),
/// stored atomically in order; code blocks of assistant messages become files.
#[utoipa::path(operation_id = "tenant_post_messages", post, path = "/api/v1/chats/{chat_id}/messages", tag = "tenant messages",
    params(("chat_id" = uuid::Uuid, Path)),
    request_body = crate::http::message_body::PostMessages,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The stored messages, in order", body = TenantMessagesCreated),
        (status = 400, body = TenantError), (status = 401, body = TenantError), (status = 404, body = TenantError),
        (status = 413, description = "Body over the limit (`payload_too_large`), or a storage quota is full (`quota_exceeded`: messages per chat, message bytes per tenant)", body = TenantError),
        (status = 415, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn post_messages(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    ValidJson(input): ValidJson<MessagesInput>,
) -> Result<Response, ApiError> {
    let posted = state.chats.post_messages(&chat, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantMessagesCreated {
            data: MessagesView(&posted.messages),
        }),
    )
        .into_response())
}

/// Delete the last exchange and any trailing user messages, in one transaction (the
/// algorithm and body of the user API's delete-last, SPEC §2).
#[utoipa::path(operation_id = "tenant_delete_last", delete, path = "/api/v1/chats/{chat_id}/messages/last", tag = "tenant messages",
    params(("chat_id" = uuid::Uuid, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = DeleteLastResponse),
        (status = 400, description = "The chat has no messages (`no_messages`), or a bad `chat_id`", body = TenantError,
            example = json!({"success": false, "error": {"code": "no_messages", "message": "No messages found, for chat."}})),
        (status = 401, body = TenantError), (status = 404, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn delete_last(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
) -> Result<Response, ApiError> {
    let deleted = state.chats.delete_last(&chat).await?;
    let body = DeleteLastResponse::new(&deleted.trailing, deleted.exchange.as_deref());
    Ok(Json(body).into_response())
}
