//! Export everything (SPEC §10), user API: the user's own chats.

use axum::extract::State;
use axum::response::Response;

use crate::http::error::{ApiError, UserError};
use crate::http::export_all::{ndjson_export, ExportAllQuery, ExportPages};
use crate::http::extract::{OwnUser, ValidQuery};
use crate::http::state::AppState;
use crate::store::ExportPage;

/// Every live chat of the user, one per line, with its whole tree (`user_id` in the
/// query is ignored: the path names the user). `metadata` is always `null`: it is the
/// tenant's back end's, which the user API never shows.
#[utoipa::path(get, path = "/api/users/{user_id}/export", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1), ExportAllQuery),
    security(("session" = [])),
    responses(
        (status = 200, description = "NDJSON, one chat per line: `{\"chat\", \"source_id\", \"messages\"}` (see docs/api.md)", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "Bad `since` (`invalid_since`)", body = UserError),
        (status = 401, body = UserError), (status = 404, body = UserError),
    ))]
pub async fn export_all(
    State(state): State<AppState>,
    OwnUser(user): OwnUser,
    ValidQuery(query): ValidQuery<ExportAllQuery>,
) -> Result<Response, ApiError> {
    let pages = ExportPages::new(
        state.store.clone(),
        ExportPage {
            tenant_id: user.tenant_id,
            user_id: Some(user.id),
            since: query.since()?,
            after: 0,
            limit: 0,
        },
    );
    Ok(ndjson_export(pages.for_user()))
}
