//! The message tree on the tenant API: edit a message, switch branch, read the tree.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::messages::{ListTenantMessagesQuery, TenantMessagePage};
use crate::chats::input::{EditInput, SwitchInput};
use crate::domain::cursor::{CursorKind, Position};
use crate::http::error::{ApiError, TenantError};
use crate::http::extract::{MessageId, TenantChat, ValidJson, ValidQuery};
use crate::http::message_body::{EditMessage, SwitchBranch};
use crate::http::paging;
use crate::http::state::AppState;
use crate::views::{MessageView, MessagesView};

/// `{"data": message}`
#[derive(Serialize, ToSchema)]
pub struct TenantMessage<'a> {
    data: MessageView<'a>,
}

impl<'a> TenantMessage<'a> {
    pub fn new(message: &'a crate::store::MessageRecord) -> Self {
        TenantMessage {
            data: MessageView::with_files(message),
        }
    }
}

/// `{"data": [...], "current_message_id": X}`
#[derive(Serialize, ToSchema)]
pub struct TenantTree<'a> {
    #[schema(value_type = Vec<MessageView>)]
    data: MessagesView<'a>,
    /// The leaf of the active branch; `null` while the chat has no messages.
    current_message_id: Option<i64>,
}

/// Edit a message: a new sibling with the same parent and actor and the new text, which
/// becomes the current leaf. The old message and its replies stay in the tree.
#[utoipa::path(operation_id = "tenant_edit_message", patch, path = "/api/v1/chats/{chat_id}/messages/{message_id}", tag = "tenant messages",
    params(("chat_id" = uuid::Uuid, Path), ("message_id" = i64, Path, minimum = 1)),
    request_body = EditMessage,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The new message", body = TenantMessage),
        (status = 400, body = TenantError), (status = 401, body = TenantError),
        (status = 404, description = "No such chat in the tenant (`chat_not_found`), or no such message in it (`message_not_found`)", body = TenantError),
        (status = 413, body = TenantError), (status = 415, body = TenantError), (status = 429, body = TenantError),
    ))]
pub async fn edit_message(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    MessageId(message_id): MessageId,
    ValidJson(input): ValidJson<EditInput>,
) -> Result<Response, ApiError> {
    let message = state.chats.edit_message(&chat, message_id, input).await?;
    Ok(Json(TenantMessage {
        data: MessageView::with_files(&message),
    })
    .into_response())
}

/// Switch branch: the current leaf becomes the newest leaf under `message_id`. Answers
/// the first page of the new active path, as the listing route does (`limit` as there).
#[utoipa::path(operation_id = "tenant_switch_branch", put, path = "/api/v1/chats/{chat_id}/current", tag = "tenant messages",
    params(("chat_id" = uuid::Uuid, Path), ListTenantMessagesQuery),
    request_body = SwitchBranch,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The first page of the new active path", body = TenantMessagePage),
        (status = 400, description = "`message_id` is not a message of this chat (`invalid_message_id`), or a bad `limit`", body = TenantError),
        (status = 401, body = TenantError), (status = 404, body = TenantError),
        (status = 415, body = TenantError), (status = 429, body = TenantError),
    ))]
pub async fn switch_branch(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    ValidQuery(query): ValidQuery<ListTenantMessagesQuery>,
    ValidJson(input): ValidJson<SwitchInput>,
) -> Result<Response, ApiError> {
    let limit = paging::limit(query.limit.as_deref())?;
    let after = paging::cursor(CursorKind::Messages, query.after.as_deref())?;
    let mut path = state.chats.switch_branch(&chat, input).await?;
    if let Some(after) = after {
        path.retain(|m| (m.created_at, m.id) > (after.created_at, after.id));
    }
    path.truncate(limit as usize + 1);
    let next_cursor = paging::finish(&mut path, limit, CursorKind::Messages, |m| Position {
        created_at: m.created_at,
        id: m.id,
    });
    Ok(Json(TenantMessagePage::new(&path, next_cursor)).into_response())
}

/// Every message of the chat, on every branch, oldest first, with the current leaf.
#[utoipa::path(operation_id = "tenant_tree", get, path = "/api/v1/chats/{chat_id}/tree", tag = "tenant messages",
    params(("chat_id" = uuid::Uuid, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TenantTree),
        (status = 400, body = TenantError), (status = 401, body = TenantError), (status = 404, body = TenantError),
        (status = 429, body = TenantError),
    ))]
pub async fn tree(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
) -> Result<Response, ApiError> {
    let (chat, messages) = state.store.list_tree(&chat).await?;
    Ok(Json(TenantTree {
        data: MessagesView(&messages),
        current_message_id: chat.current_message_id,
    })
    .into_response())
}
