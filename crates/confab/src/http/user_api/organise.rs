//! A user's trash, share links, and erasing their own account (SPEC §9).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::chats::{ChatEnvelope, ChatsEnvelope};
use crate::auth::session;
use crate::chats::error::ChatError;
use crate::domain::{Email, Password};
use crate::http::error::{ApiError, UserError};
use crate::http::extract::{cookie_secure, OwnChat, OwnUser, ShareId, ValidJson};
use crate::http::share_url::share_url;
use crate::http::state::AppState;
use crate::http::throttle::{account_attempt, account_succeeded};
use crate::views::lifecycle::{ErasedView, ShareCreated};
use crate::views::ChatView;

#[derive(Deserialize, ToSchema)]
pub struct EraseSelfBody {
    /// The account's password.
    password: String,
}

/// The user's trash: chats deleted within `--trash-days`, most recently deleted first,
/// at most 1,000 (always empty without the trash).
#[utoipa::path(get, path = "/api/users/{user_id}/trash", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, body = ChatsEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
    ))]
pub async fn list_trash(
    State(state): State<AppState>,
    OwnUser(user): OwnUser,
) -> Result<Response, ApiError> {
    let chats = state.store.list_user_trash(user.id).await?;
    Ok(Json(ChatsEnvelope::new(&chats)).into_response())
}

/// Bring a chat back from the trash, whole.
#[utoipa::path(post, path = "/api/users/{user_id}/chats/{chat_id}/restore", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, body = ChatEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError),
        (status = 404, description = "The trash holds no such chat of the user's", body = UserError),
        (status = 429, body = UserError),
    ))]
pub async fn restore_chat(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
) -> Result<Response, ApiError> {
    let chat = state.chats.restore(&chat).await?;
    Ok(Json(ChatEnvelope::new(ChatView::from(&chat))).into_response())
}

/// Delete a chat of the trash for good, now.
#[utoipa::path(delete, path = "/api/users/{user_id}/trash/{chat_id}", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, body = bool, content_type = "application/json", example = json!(true)),
        (status = 400, body = UserError), (status = 401, body = UserError),
        (status = 404, description = "The trash holds no such chat of the user's", body = UserError),
        (status = 429, body = UserError),
    ))]
pub async fn purge_chat(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
) -> Result<Json<bool>, ApiError> {
    state.chats.purge(&chat).await?;
    Ok(Json(true))
}

/// Share a read-only snapshot of the chat's active path under an unguessable link.
#[utoipa::path(post, path = "/api/users/{user_id}/chats/{chat_id}/share", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    responses(
        (status = 200, body = ShareCreated),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 409, description = "The chat has the most share links allowed (20)", body = UserError),
        (status = 413, description = "The active path is over 2 MiB as a share (`share_too_large`)", body = UserError),
        (status = 429, body = UserError),
    ))]
pub async fn share_chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    OwnChat { chat, .. }: OwnChat,
) -> Result<Response, ApiError> {
    let share_id = state.chats.share(&chat).await?;
    let url = share_url(&headers, cookie_secure(&state, &headers), &share_id);
    Ok(Json(ShareCreated { share_id, url }).into_response())
}

/// Revoke a share link: it answers 404 from then on.
#[utoipa::path(delete, path = "/api/users/{user_id}/chats/{chat_id}/share/{share_id}", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1), ("share_id" = String, Path)),
    security(("session" = [])),
    responses(
        (status = 200, body = bool, content_type = "application/json", example = json!(true)),
        (status = 400, body = UserError), (status = 401, body = UserError),
        (status = 404, description = "No such chat of the user's, or no such share of it", body = UserError),
        (status = 429, body = UserError),
    ))]
pub async fn revoke_share(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
    ShareId(share_id): ShareId,
) -> Result<Json<bool>, ApiError> {
    state.chats.revoke_share(&chat, &share_id).await?;
    Ok(Json(true))
}

/// Delete your own account with everything in it: sessions, chats (and the trash),
/// messages, files, shares. Needs the account's password; clears the session cookie.
#[utoipa::path(delete, path = "/api/users/{user_id}", tag = "user auth",
    params(("user_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    request_body = EraseSelfBody,
    responses(
        (status = 200, description = "Everything deleted; the counts say what", body = ErasedView),
        (status = 400, body = UserError), (status = 401, body = UserError),
        (status = 403, description = "Wrong password", body = UserError),
        (status = 404, body = UserError), (status = 413, body = UserError), (status = 415, body = UserError),
        (status = 429, description = "Too many wrong passwords for this account, or writes; see `Retry-After`", body = UserError),
        (status = 503, description = "Password hashing is saturated; see `Retry-After`", body = UserError),
    ))]
pub async fn erase_self(
    State(state): State<AppState>,
    headers: HeaderMap,
    OwnUser(user): OwnUser,
    ValidJson(body): ValidJson<EraseSelfBody>,
) -> Result<Response, ApiError> {
    let password =
        Password::parse_existing(&body.password).map_err(|e| ApiError::validation(e.0))?;
    let email = Email::parse(&user.email).map_err(|e| ApiError::internal(&e))?;
    // Wrong passwords count against the account like failed logins.
    let account = account_attempt(&state, user.tenant_id, &email)?;
    let stored = state
        .store
        .user_credentials(user.tenant_id, &email)
        .await?
        .map(|found| found.password_hash);
    if !state.hashing.verify(password, stored).await? {
        return Err(ChatError::WrongPassword.into());
    }
    account_succeeded(&state, &account);
    let erased = state.chats.erase_user(user.tenant_id, user.id).await?;
    state.close_sessions(&erased);
    let cookie = session::clear_cookie(cookie_secure(&state, &headers));
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(ErasedView::from(&erased)),
    )
        .into_response())
}
