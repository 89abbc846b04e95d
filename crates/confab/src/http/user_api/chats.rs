//! A user's chats: list, create, change (rename, archive, pin, tag), delete one, delete
//! many.

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::list_params::PageParams;
use crate::chats::lifecycle::{LiveConnections, MAX_BULK_DELETE};
use crate::domain::OrderBy;
use crate::http::chat_params::{ChatFilterParams, PatchChatBody};
use crate::http::error::{ApiError, UserError};
use crate::http::extract::{OwnChat, OwnUser, OwnUserFingerprint, ValidJson, ValidQuery};
use crate::http::response_cache::json_bytes;
use crate::http::state::AppState;
use crate::http::streamed::{self, Listed};
use crate::store::ChatRange;
use crate::views::ChatView;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListChatsQuery {
    /// `column:dir[,column:dir]` over id, created_at, updated_at, name, model, pinned
    /// (default `updated_at:desc`; `pinned:desc,updated_at:desc` puts pinned chats first).
    order_by: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChatsEnvelope<'a> {
    chats: Vec<ChatView<'a>>,
}

impl<'a> ChatsEnvelope<'a> {
    /// The list answer for these chats (serialised at once; the route streams long
    /// lists to the same bytes).
    pub fn new(chats: &'a [crate::store::ChatRecord]) -> Self {
        ChatsEnvelope {
            chats: chats.iter().map(ChatView::from).collect(),
        }
    }
}

/// Most chats one page of a streamed chat list reads.
const CHAT_PAGE_ROWS: u32 = 500;

#[derive(Serialize, ToSchema)]
pub struct ChatEnvelope<'a> {
    chat: ChatView<'a>,
}

impl<'a> ChatEnvelope<'a> {
    pub fn new(chat: ChatView<'a>) -> Self {
        ChatEnvelope { chat }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CreateChatBody {
    /// 1 to 255 characters after trimming.
    #[schema(min_length = 1, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    name: String,
    /// The model the chat talks to (may be omitted).
    #[serde(default)]
    #[schema(max_length = 255, pattern = r"^[^\u0000]*$")]
    model: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteChatsBody {
    /// Ids of the caller's chats to delete (at most 1000); ids of other users' chats are
    /// ignored.
    #[schema(schema_with = positive_ids)]
    chat_ids: Vec<i64>,
}

/// `chat_ids`: up to [`MAX_BULK_DELETE`] positive integers.
fn positive_ids() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(1)),
        )
        .max_items(Some(MAX_BULK_DELETE))
        .build()
}

/// List the user's chats.
///
/// Archived chats are left out unless `archived=true` (only them) or `all`; `tag`
/// keeps the chats with that tag. Long lists are streamed (chunked);
/// `limit`/`before`/`after` (chat ids, in the chosen order) select a window of them.
#[utoipa::path(get, path = "/api/users/{user_id}/chats", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1), ListChatsQuery, ChatFilterParams, PageParams),
    security(("session" = [])),
    responses(
        (status = 200, body = ChatsEnvelope),
        (status = 400, description = "Bad id, `order_by`, or `limit`/`before`/`after` (an anchor that is no chat of the user)", body = UserError),
        (status = 401, body = UserError), (status = 404, body = UserError),
    ))]
pub async fn list_chats(
    State(state): State<AppState>,
    OwnUserFingerprint { user, fingerprint }: OwnUserFingerprint,
    uri: Uri,
    ValidQuery(query): ValidQuery<ListChatsQuery>,
    ValidQuery(filter): ValidQuery<ChatFilterParams>,
    ValidQuery(params): ValidQuery<PageParams>,
) -> Result<Response, ApiError> {
    // A list whose chats are unchanged since it was stored is answered from memory: the
    // user's fingerprint, read with the session, decides.
    let cache = &state.chat_list_cache;
    let key = (user.id, uri.query().unwrap_or_default().to_owned());
    if cache.enabled() {
        if let Some(body) = cache.get(&key, &fingerprint) {
            return Ok(json_bytes(body));
        }
    }
    let filter = filter.parse()?;
    let order = match query.order_by.as_deref() {
        Some(text) => OrderBy::parse(text).map_err(|e| ApiError::validation(e.0))?,
        None => OrderBy::default(),
    };
    let page = params.parse()?;
    let range = ChatRange {
        after: page.after,
        before: page.before,
        limit: page.limit,
    };
    let first_rows = page.limit.map_or(CHAT_PAGE_ROWS, |l| l.min(CHAT_PAGE_ROWS));
    let listing = state
        .store
        .begin_chats(user.id, &order, &filter, range, first_rows)
        .await?
        .map_err(|_| ApiError::validation("before/after must be the id of one of your chats"))?;
    // Read in one snapshot with the rows.
    let fingerprint = listing.fingerprint;
    match streamed::chats(
        &state.store,
        user.id,
        order,
        filter,
        listing,
        page.limit,
        first_rows,
    )? {
        Listed::Whole(body) => {
            cache.put(key, fingerprint, body.clone());
            Ok(json_bytes(body))
        }
        Listed::Streamed(response) => Ok(response),
    }
}

/// Create a chat.
#[utoipa::path(post, path = "/api/users/{user_id}/chats", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    request_body = CreateChatBody,
    responses(
        (status = 200, body = ChatEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 413, description = "Body over the limit, or the user owns the most chats allowed (`--max-chats-per-user`)", body = UserError),
        (status = 415, body = UserError),
        (status = 429, description = "Over the user's write rate (`--user-write-rate-per-second`); see `Retry-After`", body = UserError),
    ))]
pub async fn create_chat(
    State(state): State<AppState>,
    OwnUser(user): OwnUser,
    ValidJson(body): ValidJson<CreateChatBody>,
) -> Result<Response, ApiError> {
    let chat = state
        .chats
        .create_for_user(&user, &body.name, body.model.as_deref())
        .await?;
    Ok(Json(ChatEnvelope {
        chat: ChatView::from(&chat),
    })
    .into_response())
}

/// Rename, archive, pin or tag a chat (any of them at once).
#[utoipa::path(patch, path = "/api/users/{user_id}/chats/{chat_id}", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    request_body = PatchChatBody,
    responses(
        (status = 200, body = ChatEnvelope),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 413, body = UserError), (status = 415, body = UserError),
        (status = 429, description = "Over the user's write rate (`--user-write-rate-per-second`); see `Retry-After`", body = UserError),
    ))]
pub async fn update_chat(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
    ValidJson(body): ValidJson<PatchChatBody>,
) -> Result<Response, ApiError> {
    let chat = state.chats.update(&chat, body.into_patch()).await?;
    Ok(Json(ChatEnvelope {
        chat: ChatView::from(&chat),
    })
    .into_response())
}

/// Delete a chat with its messages and files (seed 001). Live subscribers get
/// `chat.deleted` and are closed. With `--trash-days`, the chat goes to the trash
/// instead (same answer), where it can be restored. With `check_connections=true` the
/// delete is refused with 409 while the chat has live connections (another tab, a reply
/// being generated), so an app can ask its user first.
#[utoipa::path(delete, path = "/api/users/{user_id}/chats/{chat_id}", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1), ("chat_id" = i64, Path, minimum = 1),
        DeleteUserChatQuery),
    security(("session" = [])),
    responses(
        (status = 200, body = bool, content_type = "application/json", example = json!(true)),
        (status = 400, body = UserError), (status = 401, body = UserError),
        (status = 404, body = UserError, example = json!({"statusCode":404,"statusMessage":"Not Found","data":{"message":"Chat not found"}})),
        (status = 409, description = "With `check_connections=true`: the chat has live connections; nothing is deleted", body = UserError),
        (status = 429, description = "Over the user's write rate (`--user-write-rate-per-second`); see `Retry-After`", body = UserError),
        (status = 503, description = "With `check_connections=true`: live connections on other nodes cannot be counted (Redis unreachable); nothing is deleted", body = UserError),
    ))]
pub async fn delete_chat(
    State(state): State<AppState>,
    OwnChat { chat, .. }: OwnChat,
    ValidQuery(query): ValidQuery<DeleteUserChatQuery>,
) -> Result<Json<bool>, ApiError> {
    let live = if query.check_connections.unwrap_or(false) {
        LiveConnections::Refuse
    } else {
        LiveConnections::Close
    };
    state.chats.delete(&chat, live).await?;
    Ok(Json(true))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteUserChatQuery {
    /// Refuse (409 `chat_has_active_connections`) while the chat has live connections,
    /// instead of closing them.
    check_connections: Option<bool>,
}

/// Delete several of the user's chats at once.
#[utoipa::path(delete, path = "/api/users/{user_id}/chats", tag = "user chats",
    params(("user_id" = i64, Path, minimum = 1)),
    security(("session" = [])),
    request_body = DeleteChatsBody,
    responses(
        (status = 200, body = bool, content_type = "application/json", example = json!(true)),
        (status = 400, body = UserError), (status = 401, body = UserError), (status = 404, body = UserError),
        (status = 413, body = UserError), (status = 415, body = UserError),
        (status = 429, description = "Over the user's write rate (`--user-write-rate-per-second`); see `Retry-After`", body = UserError),
    ))]
pub async fn delete_chats(
    State(state): State<AppState>,
    OwnUser(user): OwnUser,
    ValidJson(body): ValidJson<DeleteChatsBody>,
) -> Result<Json<bool>, ApiError> {
    state.chats.delete_many(user.id, body.chat_ids).await?;
    Ok(Json(true))
}
