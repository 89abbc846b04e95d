//! A chat's messages and files: list (seed 003), post, delete last (seed 000), files.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::events::ChatEvent;
use crate::http::error::ApiError;
use crate::http::extract::{OwnChat, ValidJson};
use crate::http::message_input::{append_and_publish, PostMessagesBody};
use crate::http::openapi::{DeleteLastError, UserError};
use crate::http::views::{FileView, MessageView, MessagesView};
use crate::http::AppState;
use crate::store::{ChatRef, DeleteLastOutcome};

/// `{"chatMessages": [...]}`
#[derive(Serialize, ToSchema)]
pub struct MessagesEnvelope<'a> {
    #[serde(rename = "chatMessages")]
    #[schema(value_type = Vec<MessageView>)]
    chat_messages: MessagesView<'a>,
}

/// `{"chatMessage": {...}}`
#[derive(Serialize, ToSchema)]
pub struct MessageEnvelope<'a> {
    #[serde(rename = "chatMessage")]
    chat_message: MessageView<'a>,
}

/// What a message post answers: `{"chatMessage"}` for one message, `{"chatMessages"}`
/// for a batch.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PostedMessages<'a> {
    One(MessageEnvelope<'a>),
    Batch(MessagesEnvelope<'a>),
}

/// `{"chatFiles": [...]}`
#[derive(Serialize, ToSchema)]
pub struct FilesEnvelope<'a> {
    #[serde(rename = "chatFiles")]
    chat_files: Vec<FileView<'a>>,
}

/// The delete-last answer; which fields are present depends on what was deleted.
#[derive(Serialize, ToSchema)]
pub struct DeleteLastResponse<'a> {
    #[serde(
        rename = "maybeAssistantMessageToDelete",
        skip_serializing_if = "Option::is_none"
    )]
    maybe_assistant: Option<MessageView<'a>>,
    #[serde(
        rename = "maybeUserMessageToDelete",
        skip_serializing_if = "Option::is_none"
    )]
    maybe_user: Option<MessageView<'a>>,
    #[serde(
        rename = "deletedSuccessfully",
        skip_serializing_if = "Option::is_none"
    )]
    deleted_successfully: Option<Vec<i64>>,
    #[serde(rename = "failedToDelete", skip_serializing_if = "Option::is_none")]
    failed_to_delete: Option<Vec<i64>>,
}

/// The chat's messages in chronological order, each with its files (seed 003).
#[utoipa::path(get, path = "/api/users/{user_id}/chats/{chat_id}/messages", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, body = MessagesEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
    ))]
pub async fn list_messages(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
) -> Result<Response, ApiError> {
    let cache = &state.message_cache;
    if cache.enabled() {
        // One indexed row decides whether the stored bytes are still exact.
        let current = state.store.chat_version(&chat).await?;
        if let Some(body) = cache.get(current) {
            return Ok(json_bytes(body));
        }
    }
    let (version, messages) = state.store.list_messages_versioned(&chat).await?;
    let body = serde_json::to_vec(&MessagesEnvelope {
        chat_messages: MessagesView(&messages),
    })
    .map_err(|e| ApiError::internal(&e))?;
    let body = Bytes::from(body);
    cache.put(version, body.clone());
    Ok(json_bytes(body))
}

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Post one message or a batch; code blocks of assistant messages become files.
#[utoipa::path(post, path = "/api/users/{user_id}/chats/{chat_id}/messages", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    request_body = crate::http::message_input::PostMessages,
    responses(
        (status = 200, description = "`{\"chatMessage\"}` for one message, `{\"chatMessages\"}` for a batch", body = PostedMessages),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 413, description = "Body over the limit, or a storage quota is full (messages per chat, message bytes per tenant)", body = UserError),
        (status = 415, body = UserError),
        (status = 429, description = "Over the user's write rate (`--user-write-rate-per-second`); see `Retry-After`", body = UserError),
    ))]
pub async fn post_messages(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
    ValidJson(body): ValidJson<PostMessagesBody>,
) -> Result<Response, ApiError> {
    let (appended, batch) = append_and_publish(&state, &chat, body).await?;
    let body = if batch {
        PostedMessages::Batch(MessagesEnvelope {
            chat_messages: MessagesView(&appended.messages),
        })
    } else {
        let message = appended
            .messages
            .first()
            .ok_or_else(|| ApiError::internal(&"append returned no message for a single post"))?;
        PostedMessages::One(MessageEnvelope {
            chat_message: MessageView::with_files(message),
        })
    };
    Ok(Json(body).into_response())
}

/// Delete the last exchange and any trailing user messages (seed 000, SPEC §2).
#[utoipa::path(delete, path = "/api/users/{user_id}/chats/{chat_id}/messages/last", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, body = DeleteLastResponse),
        (status = 400, description = "No messages in the chat (seed 000 body), or a bad id", body = DeleteLastError,
            example = json!({"statusCode":400,"statusMessage":"Bad Request.","data":"No messages found, for chat."})),
        (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 429, description = "Over the user's write rate (`--user-write-rate-per-second`); see `Retry-After`", body = UserError),
    ))]
pub async fn delete_last(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
) -> Result<Response, ApiError> {
    delete_last_response(&state, &chat).await
}

/// Delete-last for either API: one transaction in the store, the event, the body.
pub async fn delete_last_response(state: &AppState, chat: &ChatRef) -> Result<Response, ApiError> {
    let outcome = state.store.delete_last(chat).await?;
    let DeleteLastOutcome::Deleted {
        chat,
        trailing,
        exchange,
    } = &outcome
    else {
        return Err(ApiError::no_messages());
    };
    state
        .events
        .publish(ChatEvent::messages_deleted(chat, outcome.deleted_ids()))
        .await;
    Ok(Json(delete_last_body(trailing, exchange.as_deref())).into_response())
}

/// SPEC §2 step 3/4: the pair when one was deleted; the trailing ids when there were
/// some, or when nothing else was deleted.
pub fn delete_last_body<'a>(
    trailing: &'a [crate::store::MessageRecord],
    exchange: Option<&'a (crate::store::MessageRecord, crate::store::MessageRecord)>,
) -> DeleteLastResponse<'a> {
    let trailing_ids = || Some(trailing.iter().map(|m| m.id).collect());
    match exchange {
        Some((user, assistant)) => DeleteLastResponse {
            maybe_assistant: Some(MessageView::without_files(assistant)),
            maybe_user: Some(MessageView::without_files(user)),
            deleted_successfully: (!trailing.is_empty()).then(trailing_ids).flatten(),
            failed_to_delete: (!trailing.is_empty()).then(Vec::new),
        },
        None => DeleteLastResponse {
            maybe_assistant: None,
            maybe_user: None,
            deleted_successfully: trailing_ids(),
            failed_to_delete: Some(Vec::new()),
        },
    }
}

/// The chat's code files.
#[utoipa::path(get, path = "/api/users/{user_id}/chats/{chat_id}/files", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, body = FilesEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
    ))]
pub async fn list_files(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
) -> Result<Response, ApiError> {
    let files = state.store.list_files(&chat).await?;
    Ok(Json(FilesEnvelope {
        chat_files: files.iter().map(FileView::from).collect(),
    })
    .into_response())
}
