//! The message tree on the user API: edit a message, switch branch, read the tree.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::messages::MessageEnvelope;
use crate::chats::input::{EditInput, SwitchInput};
use crate::http::error::{ApiError, UserError};
use crate::http::extract::{MessageId, OwnChat, ValidJson};
use crate::http::message_body::{EditMessage, SwitchBranch};
use crate::http::state::AppState;
use crate::views::{MessageView, MessagesView};

/// `{"chatMessages": [...], "current_message_id": X}`
#[derive(Serialize, ToSchema)]
pub struct TreeEnvelope<'a> {
    #[serde(rename = "chatMessages")]
    #[schema(value_type = Vec<MessageView>)]
    chat_messages: MessagesView<'a>,
    /// The leaf of the active branch; `null` while the chat has no messages.
    current_message_id: Option<i64>,
}

/// Edit a message: a new sibling with the same parent and actor and the new text, which
/// becomes the current leaf. The old message and its replies stay in the tree.
#[utoipa::path(patch, path = "/api/users/{user_id}/chats/{chat_id}/messages/{message_id}", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1), ("message_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    request_body = EditMessage,
    responses(
        (status = 200, description = "The new message", body = MessageEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError),
        (status = 404, description = "No such chat of the user's, or no such message in it", body = UserError),
        (status = 413, body = UserError), (status = 415, body = UserError), (status = 429, body = UserError),
    ))]
pub async fn edit_message(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
    MessageId(message_id): MessageId,
    ValidJson(input): ValidJson<EditInput>,
) -> Result<Response, ApiError> {
    let message = state.chats.edit_message(&chat, message_id, input).await?;
    Ok(Json(MessageEnvelope::new(&message)).into_response())
}

/// Switch branch: the current leaf becomes the newest leaf under `message_id`. Answers
/// the new active path, as the listing route does.
#[utoipa::path(put, path = "/api/users/{user_id}/chats/{chat_id}/current", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    request_body = SwitchBranch,
    responses(
        (status = 200, description = "The new active path", body = super::MessagesEnvelope),
        (status = 400, description = "`message_id` is not a message of this chat, or not a positive integer", body = UserError),
        (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 415, body = UserError), (status = 429, body = UserError),
    ))]
pub async fn switch_branch(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
    ValidJson(input): ValidJson<SwitchInput>,
) -> Result<Response, ApiError> {
    let path = state.chats.switch_branch(&chat, input).await?;
    Ok(Json(super::MessagesEnvelope::new(&path)).into_response())
}

/// Every message of the chat, on every branch, oldest first, with the current leaf.
#[utoipa::path(get, path = "/api/users/{user_id}/chats/{chat_id}/tree", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, body = TreeEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
    ))]
pub async fn tree(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
) -> Result<Response, ApiError> {
    let (chat, messages) = state.store.list_tree(&chat).await?;
    Ok(Json(TreeEnvelope {
        chat_messages: MessagesView(&messages),
        current_message_id: chat.current_message_id,
    })
    .into_response())
}
