//! Search the tenant's chats (SPEC §7), narrowed by chat, user, actor and time.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{cursor, Actor, Timestamp};
use crate::http::error::{ApiError, TenantError};
use crate::http::extract::{TenantKey, ValidQuery};
use crate::http::paging;
use crate::http::state::AppState;
use crate::store::SearchScope;
use crate::views::search::SearchHitView;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantSearchQuery {
    /// What to find: words (all must match), `"exact phrases"`, `prefix*` (3 characters
    /// or more before the `*`); case and diacritics are ignored. At most 500 characters.
    q: Option<String>,
    /// Only this chat (uuid).
    chat_id: Option<String>,
    /// Only chats of this user.
    user_id: Option<String>,
    /// Only messages by `user`, `assistant` or `system` (chat names are then not searched).
    actor: Option<String>,
    /// Only what was created at or after this RFC 3339 time.
    since: Option<String>,
    /// Only what was created before this RFC 3339 time.
    until: Option<String>,
    /// Hits per page, 1 to 100 (default 20).
    limit: Option<String>,
    /// `next_cursor` of the previous page; omit for the first page.
    cursor: Option<String>,
}

/// `{"data": [hit...], "next_cursor": ...}`
#[derive(Serialize, ToSchema)]
pub struct TenantSearchResults<'a> {
    #[schema(value_type = Vec<SearchHitView<Uuid>>)]
    data: Vec<SearchHitView<'a, Uuid>>,
    /// The cursor of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// A filter's value, absent when empty; `parse` refuses it with `code`.
fn filter<T>(
    raw: Option<&str>,
    name: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match raw.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("invalid_filter", format!("{name} is not valid"))),
    }
}

/// Search the tenant's chats: message text (every branch) and chat names, best match
/// first among the newest 500 matches, then among the next older 500 (bands), ties newest
/// first.
#[utoipa::path(operation_id = "tenant_search", get, path = "/api/v1/search", tag = "tenant search",
    params(TenantSearchQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TenantSearchResults),
        (status = 400, description = "Missing, blank or too long `q`, or a prefix under 3 characters (`invalid_query`), a bad filter (`invalid_filter`), `limit` or `cursor`", body = TenantError),
        (status = 401, body = TenantError),
        (status = 429, description = "The API key is over its request rate (`rate_limited`); see `Retry-After`", body = TenantError),
        (status = 503, description = "The search ran past the server's time limit (`search_timeout`; PostgreSQL, 10 s): narrow it", body = TenantError),
    ))]
pub async fn search(
    State(state): State<AppState>,
    key: TenantKey,
    ValidQuery(query): ValidQuery<TenantSearchQuery>,
) -> Result<Response, ApiError> {
    let limit = paging::limit(query.limit.as_deref())?;
    let after = paging::search_cursor(query.cursor.as_deref())?;
    let scope = SearchScope {
        tenant_id: key.tenant_id,
        chat_uuid: filter(query.chat_id.as_deref(), "chat_id", |t| {
            Uuid::parse_str(t).ok()
        })?,
        user_id: filter(query.user_id.as_deref(), "user_id", |t| {
            t.parse::<i64>().ok().filter(|id| *id > 0)
        })?,
        actor: filter(query.actor.as_deref(), "actor", |t| Actor::parse(t).ok())?,
        since: filter(query.since.as_deref(), "since", Timestamp::parse_rfc3339)?,
        until: filter(query.until.as_deref(), "until", Timestamp::parse_rfc3339)?,
    };
    let page = state
        .chats
        .search(scope, query.q.as_deref().unwrap_or_default(), after, limit)
        .await?;
    Ok(Json(TenantSearchResults {
        data: page
            .hits
            .iter()
            .map(|h| SearchHitView::for_tenant(&h.hit, &h.snippet))
            .collect(),
        next_cursor: page.next.map(cursor::encode_search),
    })
    .into_response())
}
