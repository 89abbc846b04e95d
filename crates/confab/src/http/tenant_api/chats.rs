//! A tenant's chats: create, list (keyset pages, newest first), get, change, delete
//! (seed 002).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::chats::lifecycle::{ChatDetails, LiveConnections};
use crate::domain::cursor::{CursorKind, Position};
use crate::domain::{ChatFilter, Timestamp};
use crate::http::chat_params::{ChatFilterParams, PatchChatBody};
use crate::http::error::{ApiError, TenantError};
use crate::http::extract::{TenantChat, TenantKey, ValidJson, ValidQuery};
use crate::http::paging;
use crate::http::response_cache::json_bytes;
use crate::http::state::AppState;
use crate::store::{ChatCursor, ChatsPageStamp, TenantChatsPage};
use crate::views::TenantChatView;

#[derive(Deserialize, ToSchema)]
pub struct CreateTenantChatBody {
    /// 1 to 255 characters after trimming; default `"New chat"`.
    #[schema(min_length = 1, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    name: Option<String>,
    /// The model the chat talks to; default empty.
    #[schema(max_length = 255, pattern = r"^[^\u0000]*$")]
    model: Option<String>,
    /// A user of the same tenant who owns the chat (it then shows in their user-API list).
    #[schema(minimum = 1)]
    user_id: Option<i64>,
    /// Any JSON object, at most 16 KiB and 32 levels deep, no key twice in any object;
    /// returned byte for byte as given.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Box<serde_json::value::RawValue>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTenantChatsQuery {
    /// Chats per page, 1 to 100 (default 20).
    limit: Option<String>,
    /// `next_cursor` of the previous page; omit for the first page.
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteTenantChatQuery {
    /// Delete even while WebSocket connections are open; they receive `chat.deleted`
    /// and are closed.
    force: Option<bool>,
}

/// One page of chats, newest first.
#[derive(Serialize, ToSchema)]
pub struct TenantChatPage<'a> {
    data: Vec<TenantChatView<'a>>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// Seed 002's answer.
#[derive(Serialize, ToSchema)]
pub struct ChatDeletedResponse {
    success: bool,
    message: &'static str,
    deleted_at: Timestamp,
}

impl ChatDeletedResponse {
    pub fn new(message: &'static str, deleted_at: Timestamp) -> Self {
        ChatDeletedResponse {
            success: true,
            message,
            deleted_at,
        }
    }
}

/// Create a chat in the key's tenant, optionally owned by one of its users.
#[utoipa::path(operation_id = "tenant_create_chat", post, path = "/api/v1/chats", tag = "tenant chats",
    request_body = CreateTenantChatBody,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The new chat", body = TenantChatView),
        (status = 400, description = "Invalid name, model, user_id or metadata", body = TenantError),
        (status = 401, description = "Missing, invalid or revoked API key", body = TenantError),
        (status = 404, description = "`user_id` names no user of this tenant (`user_not_found`)", body = TenantError),
        (status = 413, description = "Body over the limit (`payload_too_large`), or the user named by `user_id` owns the most chats allowed (`quota_exceeded`)", body = TenantError),
        (status = 415, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn create_chat(
    State(state): State<AppState>,
    key: TenantKey,
    ValidJson(body): ValidJson<CreateTenantChatBody>,
) -> Result<Response, ApiError> {
    let chat = state
        .chats
        .create_in_tenant(
            key.tenant_id,
            body.name.as_deref(),
            body.model.as_deref(),
            body.user_id,
            body.metadata,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(TenantChatView::from(&chat))).into_response())
}

/// The tenant's chats, newest first, a page at a time. Archived chats are left out
/// unless `archived=true` (only them) or `all`; `tag` keeps the chats with that tag.
#[utoipa::path(operation_id = "tenant_list_chats", get, path = "/api/v1/chats", tag = "tenant chats",
    params(ListTenantChatsQuery, ChatFilterParams),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TenantChatPage),
        (status = 400, description = "Bad `limit` (`invalid_limit`) or `cursor` (`invalid_cursor`)", body = TenantError),
        (status = 401, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn list_chats(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<ValidQuery<ListTenantChatsQuery>, ApiError>,
    filter: Result<ValidQuery<ChatFilterParams>, ApiError>,
) -> Result<Response, ApiError> {
    let request = query.and_then(|ValidQuery(query)| {
        let ValidQuery(filter) = filter?;
        Ok((filter.parse()?, query))
    });
    list_page(&state, &headers, &uri, request, false).await
}

/// One page of the tenant's chats (or its trash), newest first, for the key in
/// `headers` (its errors come before those of the query, `request`). A page whose chats
/// are the same at the same versions as when it was stored is answered from memory:
/// reading each chat's id and version, with the key, decides, which costs a fraction of
/// reading and writing the chats.
pub(super) async fn list_page(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    request: Result<(ChatFilter, ListTenantChatsQuery), ApiError>,
    trash: bool,
) -> Result<Response, ApiError> {
    let page = request.and_then(|(filter, query)| {
        let limit = paging::limit(query.limit.as_deref())?;
        let after =
            paging::cursor(CursorKind::Chats, query.cursor.as_deref())?.map(|p| ChatCursor {
                created_at: p.created_at,
                id: p.id,
            });
        Ok((filter, after, limit))
    });
    let cache = &state.tenant_list_cache;
    // One row more than the page shows: whether there is a next page.
    fn read(
        (filter, after, limit): &(ChatFilter, Option<ChatCursor>, u32),
        trash: bool,
    ) -> TenantChatsPage<'_> {
        TenantChatsPage {
            filter,
            trash,
            after: *after,
            limit: limit + 1,
        }
    }
    let (key, stamp) = match &page {
        Ok(page) if cache.enabled() => {
            let (key, stamp) =
                TenantKey::with_chats_stamp(headers, state, &read(page, trash)).await?;
            (key, Some(stamp))
        }
        _ => (TenantKey::from_headers(headers, state).await?, None),
    };
    let page = page?;
    let limit = page.2;
    let cache_key = (
        key.tenant_id,
        trash,
        uri.query().unwrap_or_default().to_owned(),
    );
    if let Some(body) = stamp.and_then(|stamp| cache.get(&cache_key, &stamp)) {
        return Ok(json_bytes(body));
    }
    let mut chats = state
        .store
        .list_tenant_chats(key.tenant_id, &read(&page, trash))
        .await?;
    // Of the rows read, in one snapshot with them.
    let stamp = ChatsPageStamp::of(&chats);
    let next_cursor = paging::finish(&mut chats, limit, CursorKind::Chats, |chat| Position {
        created_at: chat.created_at,
        id: chat.id,
    });
    let page = TenantChatPage {
        data: chats.iter().map(TenantChatView::from).collect(),
        next_cursor,
    };
    let body = Bytes::from(serde_json::to_vec(&page).map_err(anyhow::Error::from)?);
    cache.put(cache_key, stamp, body.clone());
    Ok(json_bytes(body))
}

/// One chat, with its message count and live WebSocket connections.
#[utoipa::path(operation_id = "tenant_get_chat", get, path = "/api/v1/chats/{chat_id}", tag = "tenant chats",
    params(("chat_id" = uuid::Uuid, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TenantChatView),
        (status = 400, description = "`chat_id` is not a UUID (`invalid_chat_id`)", body = TenantError),
        (status = 401, body = TenantError),
        (status = 404, description = "No such chat in this tenant (`chat_not_found`)", body = TenantError),
        (status = 503, description = "Live connections on other nodes cannot be counted: Redis is unreachable (`presence_unavailable`, with `Retry-After`)", body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn get_chat(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
) -> Result<Response, ApiError> {
    let ChatDetails {
        chat,
        message_count,
        active_connections,
    } = state.chats.details(&chat).await?;
    Ok(Json(TenantChatView {
        message_count: Some(message_count),
        active_connections: Some(active_connections),
        ..TenantChatView::from(&chat)
    })
    .into_response())
}

/// Rename, archive, pin or tag a chat (any of them at once).
#[utoipa::path(operation_id = "tenant_update_chat", patch, path = "/api/v1/chats/{chat_id}", tag = "tenant chats",
    params(("chat_id" = uuid::Uuid, Path)),
    security(("api_key" = [])),
    request_body = PatchChatBody,
    responses(
        (status = 200, body = TenantChatView),
        (status = 400, description = "No field given, or an invalid name or tags (`validation_error`)", body = TenantError),
        (status = 401, body = TenantError),
        (status = 404, description = "No such chat in this tenant (`chat_not_found`)", body = TenantError),
        (status = 413, body = TenantError), (status = 415, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn update_chat(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    ValidJson(body): ValidJson<PatchChatBody>,
) -> Result<Response, ApiError> {
    let chat = state.chats.update(&chat, body.into_patch()).await?;
    Ok(Json(TenantChatView::from(&chat)).into_response())
}

/// Delete a chat with its messages and files (seed 002). With `--trash-days` it goes to
/// the trash instead (same answer), where it can be restored. Refused with 409 while it has
/// live WebSocket connections, unless `force=true`: then they receive `chat.deleted` and
/// are closed. Refused with 503 when the connections cannot be counted (Redis down).
#[utoipa::path(operation_id = "tenant_delete_chat", delete, path = "/api/v1/chats/{chat_id}", tag = "tenant chats",
    params(("chat_id" = uuid::Uuid, Path), DeleteTenantChatQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ChatDeletedResponse,
            example = json!({"success": true, "message": "Chat deleted successfully", "deleted_at": "2024-01-15T10:45:00.000000Z"})),
        (status = 400, body = TenantError), (status = 401, body = TenantError),
        (status = 404, body = TenantError,
            example = json!({"success": false, "error": {"code": "chat_not_found", "message": "Chat not found"}})),
        (status = 409, description = "Live WebSocket connections (`chat_has_active_connections`)", body = TenantError),
        (status = 503, description = "Without `force=true`: live connections on other nodes cannot be counted because Redis is unreachable (`presence_unavailable`, with `Retry-After`); nothing is deleted", body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn delete_chat(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    ValidQuery(query): ValidQuery<DeleteTenantChatQuery>,
) -> Result<Response, ApiError> {
    let live = if query.force.unwrap_or(false) {
        LiveConnections::Close
    } else {
        LiveConnections::Refuse
    };
    state.chats.delete(&chat, live).await?;
    let deleted_at = Timestamp::now();
    Ok(Json(ChatDeletedResponse {
        success: true,
        message: "Chat deleted successfully",
        deleted_at,
    })
    .into_response())
}
