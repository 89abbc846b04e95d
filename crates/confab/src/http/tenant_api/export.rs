//! Export a whole chat ("export before deletion", seed 002): JSON, or Markdown for people.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::Timestamp;
use crate::http::error::{ApiError, TenantError};
use crate::http::extract::{TenantChat, ValidQuery};
use crate::http::state::AppState;
use crate::http::streamed::{self, Listed, MessageFormat};
use crate::store::{ChatRecord, MessageRange, MessageRecord, PageBudget};
use crate::views::markdown::markdown_head;
use crate::views::{MessageView, MessagesView, TenantChatView};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default) or `markdown`.
    format: Option<String>,
}

/// The whole chat: the chat (with `message_count`), every message in chronological order
/// with its files.
#[derive(Serialize, ToSchema)]
pub struct ChatExport<'a> {
    chat: TenantChatView<'a>,
    #[schema(value_type = Vec<MessageView>)]
    messages: MessagesView<'a>,
    exported_at: Timestamp,
}

impl<'a> ChatExport<'a> {
    /// The export of this chat and messages, serialised at once (the route streams long
    /// chats to the same bytes).
    pub fn new(
        chat: &'a ChatRecord,
        messages: &'a [MessageRecord],
        exported_at: Timestamp,
    ) -> Self {
        ChatExport {
            chat: TenantChatView {
                message_count: Some(messages.len() as i64),
                ..TenantChatView::from(chat)
            },
            messages: MessagesView(messages),
            exported_at,
        }
    }
}

/// The chat with all its messages and files, as JSON or Markdown.
#[utoipa::path(operation_id = "tenant_export_chat", get, path = "/api/v1/chats/{chat_id}/export", tag = "tenant chats",
    params(("chat_id" = uuid::Uuid, Path), ExportQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The chat, its messages and files", content(
            (ChatExport = "application/json"),
            (String = "text/markdown"),
        )),
        (status = 400, description = "Bad `chat_id` or `format` (`invalid_format`)", body = TenantError),
        (status = 401, body = TenantError), (status = 404, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn export_chat(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    ValidQuery(query): ValidQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let markdown = match query.format.as_deref().map(str::trim) {
        None | Some("") | Some("json") => false,
        Some("markdown" | "md") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_format",
                "format must be \"json\" or \"markdown\"",
            ))
        }
    };
    let budget = PageBudget::list_page(state.config.limits.list_page_bytes());
    let listing = state
        .store
        .begin_messages(&chat, MessageRange::default(), budget)
        .await?
        .map_err(|_| ApiError::internal(&"an export without anchors found an unknown anchor"))?;
    let exported_at = Timestamp::now();
    // The same bytes as serialising `ChatExport` (or `to_markdown`) at once, written
    // around the messages so that long chats stream.
    let (shape, content_type) = if markdown {
        let head = markdown_head(&listing.chat, listing.total, exported_at).into_bytes();
        (
            (head, MessageFormat::Markdown, Vec::new()),
            "text/markdown; charset=utf-8",
        )
    } else {
        let chat_view = TenantChatView {
            message_count: Some(listing.total),
            ..TenantChatView::from(&listing.chat)
        };
        let mut head = b"{\"chat\":".to_vec();
        serde_json::to_writer(&mut head, &chat_view).map_err(|e| ApiError::internal(&e))?;
        head.extend_from_slice(b",\"messages\":[");
        let mut tail = b"],\"exported_at\":".to_vec();
        serde_json::to_writer(&mut tail, &exported_at).map_err(|e| ApiError::internal(&e))?;
        tail.push(b'}');
        ((head, MessageFormat::Json, tail), "application/json")
    };
    match streamed::messages(&state.store, chat, listing, budget, shape, content_type)? {
        Listed::Whole(body) => Ok(([(header::CONTENT_TYPE, content_type)], body).into_response()),
        Listed::Streamed(response) => Ok(response),
    }
}
