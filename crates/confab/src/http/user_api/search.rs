//! Search the user's own chats (SPEC §7).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::cursor;
use crate::http::error::{ApiError, UserError};
use crate::http::extract::{OwnUser, ValidQuery};
use crate::http::paging;
use crate::http::state::AppState;
use crate::store::SearchScope;
use crate::views::search::SearchHitView;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to find: words (all must match), `"exact phrases"`, `prefix*` (3 characters
    /// or more before the `*`); case and diacritics are ignored. At most 500 characters.
    q: Option<String>,
    /// Hits per page, 1 to 100 (default 20).
    limit: Option<String>,
    /// `next_cursor` of the previous page; omit for the first page.
    cursor: Option<String>,
}

/// `{"results": [hit...], "next_cursor": ...}`
#[derive(Serialize, ToSchema)]
pub struct UserSearchResults<'a> {
    #[schema(value_type = Vec<SearchHitView<i64>>)]
    results: Vec<SearchHitView<'a, i64>>,
    /// The cursor of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// Search the user's chats: message text (every branch) and chat names, best match
/// first among the newest 500 matches, then among the next older 500 (bands), ties newest
/// first.
#[utoipa::path(get, path = "/api/users/{user_id}/search", tag = "user search",
    params(("user_id" = i64, Path, minimum = 1), SearchQuery),
    security(("session" = [])),
    responses(
        (status = 200, body = UserSearchResults),
        (status = 400, description = "Missing, blank or too long `q` (or nothing to search for in it, or a prefix under 3 characters), bad `limit` or `cursor`", body = UserError),
        (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 503, description = "The search ran past the server's time limit (PostgreSQL, 10 s): narrow it", body = UserError),
    ))]
pub async fn search(
    State(state): State<AppState>,
    OwnUser(user): OwnUser,
    ValidQuery(query): ValidQuery<SearchQuery>,
) -> Result<Response, ApiError> {
    let limit = paging::limit(query.limit.as_deref())?;
    let after = paging::search_cursor(query.cursor.as_deref())?;
    let scope = SearchScope {
        tenant_id: user.tenant_id,
        user_id: Some(user.id),
        ..SearchScope::default()
    };
    let page = state
        .chats
        .search(scope, query.q.as_deref().unwrap_or_default(), after, limit)
        .await?;
    Ok(Json(UserSearchResults {
        results: page
            .hits
            .iter()
            .map(|h| SearchHitView::for_user(&h.hit, &h.snippet))
            .collect(),
        next_cursor: page.next.map(cursor::encode_search),
    })
    .into_response())
}
