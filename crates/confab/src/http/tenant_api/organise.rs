//! A tenant's trash, share links, and erasing one of its users (SPEC §9).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::chats::{list_page, ChatDeletedResponse, ListTenantChatsQuery, TenantChatPage};
use crate::domain::{ChatFilter, Timestamp};
use crate::http::error::{ApiError, TenantError};
use crate::http::extract::{
    cookie_secure, parse_positive_id, ShareId, TenantChat, TenantKey, ValidQuery,
};
use crate::http::share_url::share_url;
use crate::http::state::AppState;
use crate::views::lifecycle::{ErasedView, ShareCreated};
use crate::views::TenantChatView;

/// A revoked share.
#[derive(Serialize, ToSchema)]
pub struct ShareRevoked {
    success: bool,
}

/// The tenant's trash, newest chat first, a page at a time (always empty without the
/// trash).
#[utoipa::path(operation_id = "tenant_list_trash", get, path = "/api/v1/trash", tag = "tenant chats",
    params(ListTenantChatsQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TenantChatPage),
        (status = 400, description = "Bad `limit` (`invalid_limit`) or `cursor` (`invalid_cursor`)", body = TenantError),
        (status = 401, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
    ))]
pub async fn list_trash(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<ValidQuery<ListTenantChatsQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let request = query.map(|ValidQuery(query)| (ChatFilter::default(), query));
    list_page(&state, &headers, &uri, request, true).await
}

/// Bring a chat back from the trash, whole.
#[utoipa::path(operation_id = "tenant_restore_chat", post, path = "/api/v1/chats/{chat_id}/restore", tag = "tenant chats",
    params(("chat_id" = uuid::Uuid, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TenantChatView),
        (status = 400, body = TenantError), (status = 401, body = TenantError),
        (status = 404, description = "The trash holds no such chat (`chat_not_found`)", body = TenantError),
        (status = 429, body = TenantError),
    ))]
pub async fn restore_chat(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
) -> Result<Response, ApiError> {
    let chat = state.chats.restore(&chat).await?;
    Ok(Json(TenantChatView::from(&chat)).into_response())
}

/// Delete a chat of the trash for good, now.
#[utoipa::path(operation_id = "tenant_purge_chat", delete, path = "/api/v1/trash/{chat_id}", tag = "tenant chats",
    params(("chat_id" = uuid::Uuid, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ChatDeletedResponse),
        (status = 400, body = TenantError), (status = 401, body = TenantError),
        (status = 404, description = "The trash holds no such chat (`chat_not_found`)", body = TenantError),
        (status = 429, body = TenantError),
    ))]
pub async fn purge_chat(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
) -> Result<Response, ApiError> {
    state.chats.purge(&chat).await?;
    Ok(Json(ChatDeletedResponse::new("Chat purged", Timestamp::now())).into_response())
}

/// Share a read-only snapshot of the chat's active path under an unguessable link.
#[utoipa::path(operation_id = "tenant_share_chat", post, path = "/api/v1/chats/{chat_id}/share", tag = "tenant chats",
    params(("chat_id" = uuid::Uuid, Path)),
    security(("api_key" = [])),
    responses(
        (status = 201, body = ShareCreated),
        (status = 400, body = TenantError), (status = 401, body = TenantError),
        (status = 404, description = "No such chat in this tenant (`chat_not_found`)", body = TenantError),
        (status = 409, description = "The chat has the most share links allowed, 20 (`too_many_shares`)", body = TenantError),
        (status = 413, description = "The active path is over 2 MiB as a share (`share_too_large`)", body = TenantError),
        (status = 429, body = TenantError),
    ))]
pub async fn share_chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    TenantChat { chat, .. }: TenantChat,
) -> Result<Response, ApiError> {
    let share_id = state.chats.share(&chat).await?;
    let url = share_url(&headers, cookie_secure(&state, &headers), &share_id);
    Ok((StatusCode::CREATED, Json(ShareCreated { share_id, url })).into_response())
}

/// Revoke a share link: it answers 404 from then on.
#[utoipa::path(operation_id = "tenant_revoke_share", delete, path = "/api/v1/chats/{chat_id}/share/{share_id}", tag = "tenant chats",
    params(("chat_id" = uuid::Uuid, Path), ("share_id" = String, Path)),
    security(("api_key" = [])),
    responses(
        (status = 200, body = ShareRevoked, example = json!({"success": true})),
        (status = 400, body = TenantError), (status = 401, body = TenantError),
        (status = 404, description = "No such chat (`chat_not_found`) or share of it (`share_not_found`)", body = TenantError),
        (status = 429, body = TenantError),
    ))]
pub async fn revoke_share(
    State(state): State<AppState>,
    TenantChat { chat, .. }: TenantChat,
    ShareId(share_id): ShareId,
) -> Result<Response, ApiError> {
    state.chats.revoke_share(&chat, &share_id).await?;
    Ok(Json(ShareRevoked { success: true }).into_response())
}

/// Erase one of the tenant's users: the account, sessions, chats (trashed ones and
/// tenant chats they own too), messages, files and shares, in one transaction; their
/// chats' live connections are closed.
#[utoipa::path(operation_id = "tenant_erase_user", delete, path = "/api/v1/users/{user_id}", tag = "tenant users",
    params(("user_id" = i64, Path, minimum = 1)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Everything deleted; the counts say what", body = ErasedView),
        (status = 400, description = "`user_id` is not a positive integer (`invalid_user_id`)", body = TenantError),
        (status = 401, body = TenantError),
        (status = 404, description = "No such user in this tenant (`user_not_found`)", body = TenantError),
        (status = 429, body = TenantError),
    ))]
pub async fn erase_user(
    State(state): State<AppState>,
    key: TenantKey,
    axum::extract::Path(user_id): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let user_id = parse_positive_id(&user_id).ok_or_else(|| {
        ApiError::bad_request("invalid_user_id", "user_id must be a positive integer")
    })?;
    let erased = state.chats.erase_user(key.tenant_id, user_id).await?;
    state.close_sessions(&erased);
    Ok(Json(ErasedView::from(&erased)).into_response())
}
