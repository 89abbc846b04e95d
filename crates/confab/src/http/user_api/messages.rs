//! A chat's messages and files: list (seed 003), post, delete last (seed 000), files.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::list_params::PageParams;
use crate::chats::input::MessagesInput;
use crate::http::error::{ApiError, DeleteLastError, UserError};
use crate::http::extract::{OwnChat, OwnChatVersion, ValidJson, ValidQuery};
use crate::http::response_cache::json_bytes;
use crate::http::state::AppState;
use crate::http::streamed::{self, Listed, MessageFormat};
use crate::store::{ChatRef, ChatVersion, MessageRange, PageBudget, StoreResult};
use crate::views::{DeleteLastResponse, FileView, MessageView, MessagesView};

/// `{"chatMessages": [...]}`
#[derive(Serialize, ToSchema)]
pub struct MessagesEnvelope<'a> {
    #[serde(rename = "chatMessages")]
    #[schema(value_type = Vec<MessageView>)]
    chat_messages: MessagesView<'a>,
}

impl<'a> MessagesEnvelope<'a> {
    /// The list answer for these messages (serialised at once; the route streams long
    /// lists to the same bytes).
    pub fn new(messages: &'a [crate::store::MessageRecord]) -> Self {
        MessagesEnvelope {
            chat_messages: MessagesView(messages),
        }
    }
}

/// `{"chatMessage": {...}}`
#[derive(Serialize, ToSchema)]
pub struct MessageEnvelope<'a> {
    #[serde(rename = "chatMessage")]
    chat_message: MessageView<'a>,
}

impl<'a> MessageEnvelope<'a> {
    pub fn new(message: &'a crate::store::MessageRecord) -> Self {
        MessageEnvelope {
            chat_message: MessageView::with_files(message),
        }
    }
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

impl<'a> FilesEnvelope<'a> {
    /// The list answer for these files (serialised at once; the route streams long lists
    /// to the same bytes).
    pub fn new(files: &'a [crate::store::FileRecord]) -> Self {
        FilesEnvelope {
            chat_files: files.iter().map(FileView::from).collect(),
        }
    }
}

/// The chat's messages in chronological order, each with its files (seed 003).
///
/// Long lists are streamed (chunked); `limit`/`before`/`after` (message ids) select a
/// window of them.
#[utoipa::path(get, path = "/api/users/{user_id}/chats/{chat_id}/messages", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1), PageParams),
    security(("session" = [])),
    responses(
        (status = 200, body = MessagesEnvelope),
        (status = 400, description = "Bad id, or bad `limit`/`before`/`after` (an anchor that is no message of this chat)", body = UserError),
        (status = 401, body = UserError), (status = 404, body = UserError),
    ))]
pub async fn list_messages(
    State(state): State<AppState>,
    OwnChatVersion { chat, version }: OwnChatVersion,
    ValidQuery(params): ValidQuery<PageParams>,
) -> Result<Response, ApiError> {
    let page = params.parse()?;
    let range = MessageRange {
        after: page.after,
        before: page.before,
        limit: page.limit,
    };
    active_path(&state, chat, version, range).await
}

/// The active path (or the window `range` of it) as the listing route answers it:
/// cached while exact, streamed when long.
async fn active_path(
    state: &AppState,
    chat: ChatRef,
    version: StoreResult<ChatVersion>,
    range: MessageRange,
) -> Result<Response, ApiError> {
    let cache = &state.message_cache;
    let cacheable = cache.enabled() && range == MessageRange::default();
    if cacheable {
        // One indexed row, read with the session, decides whether the stored bytes are
        // still exact.
        let current = version?;
        if let Some(body) = cache.get(&current.id, &current.version) {
            return Ok(json_bytes(body));
        }
    }
    let budget = PageBudget::list_page(state.config.limits.list_page_bytes());
    // The first page is read in one snapshot with the chat's version; a list that fits
    // in it is answered whole and may be cached.
    let first = PageBudget {
        bytes: if cacheable {
            budget.bytes.max(cache.entry_limit())
        } else {
            budget.bytes
        },
        ..budget
    };
    let listing = state
        .store
        .begin_messages(&chat, range, first)
        .await?
        .map_err(|_| {
            ApiError::validation("before/after must be the id of a message in this chat")
        })?;
    let version = ChatVersion {
        id: listing.chat.id,
        version: listing.chat.version,
    };
    // A reply being generated grows without a version bump: a list holding one is not
    // cached (the next read shows its newer text).
    let cacheable = cacheable
        && !listing
            .first
            .iter()
            .any(|m| m.status() == crate::domain::ReplyStatus::Generating);
    let shape = (
        b"{\"chatMessages\":[".to_vec(),
        MessageFormat::Json,
        b"]}".to_vec(),
    );
    match streamed::messages(
        &state.store,
        chat,
        listing,
        budget,
        shape,
        "application/json",
    )? {
        Listed::Whole(body) => {
            if cacheable {
                cache.put(version.id, version.version, body.clone());
            }
            Ok(json_bytes(body))
        }
        Listed::Streamed(response) => Ok(response),
    }
}

/// Post one message or a batch; code blocks of assistant messages become files.
#[utoipa::path(post, path = "/api/users/{user_id}/chats/{chat_id}/messages", tag = "user messages",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    request_body = crate::http::message_body::PostMessages,
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
    ValidJson(input): ValidJson<MessagesInput>,
) -> Result<Response, ApiError> {
    let posted = state.chats.post_messages(&chat, input).await?;
    let body = if posted.batch {
        PostedMessages::Batch(MessagesEnvelope::new(&posted.messages))
    } else {
        let message = posted
            .messages
            .first()
            .ok_or_else(|| ApiError::internal(&"append returned no message for a single post"))?;
        PostedMessages::One(MessageEnvelope::new(message))
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
    let deleted = state.chats.delete_last(&chat).await?;
    let body = DeleteLastResponse::new(&deleted.trailing, deleted.exchange.as_deref());
    Ok(Json(body).into_response())
}

/// The chat's code files.
///
/// Long lists are streamed (chunked).
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
    let budget = PageBudget::list_page(state.config.limits.list_page_bytes());
    let listing = state.store.begin_files(&chat, budget).await?;
    match streamed::files(&state.store, chat, listing, budget)? {
        Listed::Whole(body) => Ok(json_bytes(body)),
        Listed::Streamed(response) => Ok(response),
    }
}
