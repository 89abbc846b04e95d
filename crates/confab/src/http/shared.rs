//! `GET /api/shared/{share_id}`: a share link's snapshot, for anyone who has the link.
//! No credentials; each client address may read a bounded number per minute.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, UserError};
use super::extract::ShareId;
use super::state::AppState;
use super::throttle::SharedRead;
use crate::views::lifecycle::SharedChatView;

/// A shared chat: its name, model and the messages of its active path as when it was
/// shared (no user ids, no emails). 404 once revoked, or when the chat was deleted.
#[utoipa::path(get, path = "/api/shared/{share_id}", tag = "shared",
    params(("share_id" = String, Path)),
    responses(
        (status = 200, body = SharedChatView),
        (status = 404, description = "No such share (never was, revoked, or its chat deleted)", body = UserError),
        (status = 429, description = "This client address read too many shares this minute (`--shared-ip-reads-per-minute`); see `Retry-After`", body = UserError),
    ))]
pub async fn read_shared(
    State(state): State<AppState>,
    _read: SharedRead,
    ShareId(share_id): ShareId,
) -> Result<Response, ApiError> {
    match state.chats.shared(&share_id).await? {
        Some(snapshot) => Ok((
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
                (header::HeaderName::from_static("x-robots-tag"), "noindex"),
            ],
            snapshot,
        )
            .into_response()),
        None => Err(ApiError::share_not_found()),
    }
}
