//! The tenant API (SPEC §3): `X-API-Key` authentication, UUID chat ids, keyset pages,
//! errors as `{"success": false, "error": {"code", "message"}}`. Live events for these
//! chats are served by `http::ws`.

mod chats;
mod export;
mod generate;
mod messages;
mod organise;
mod portability;
mod search;
mod tree;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;

use super::state::AppState;

pub use crate::http::paging::{DEFAULT_LIMIT, MAX_LIMIT};
pub use chats::*;
pub use export::*;
pub use generate::*;
pub use messages::*;
pub use organise::*;
pub use portability::*;
pub use search::*;
pub use tree::*;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/chats",
            get(chats::list_chats).post(chats::create_chat),
        )
        .route(
            "/api/v1/chats/{chat_id}",
            get(chats::get_chat)
                .patch(chats::update_chat)
                .delete(chats::delete_chat),
        )
        .route(
            "/api/v1/chats/{chat_id}/messages",
            get(messages::list_messages).post(messages::post_messages),
        )
        .route(
            "/api/v1/chats/{chat_id}/messages/last",
            delete(messages::delete_last),
        )
        .route(
            "/api/v1/chats/{chat_id}/messages/{message_id}",
            patch(tree::edit_message),
        )
        .route(
            "/api/v1/chats/{chat_id}/messages/{message_id}/stream",
            get(generate::resume),
        )
        .route(
            "/api/v1/chats/{chat_id}/messages/{message_id}/stop",
            post(generate::stop),
        )
        .route("/api/v1/chats/{chat_id}/generate", post(generate::generate))
        .route("/api/v1/chats/{chat_id}/current", put(tree::switch_branch))
        .route("/api/v1/chats/{chat_id}/tree", get(tree::tree))
        .route("/api/v1/chats/{chat_id}/export", get(export::export_chat))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/trash", get(organise::list_trash))
        .route("/api/v1/trash/{chat_id}", delete(organise::purge_chat))
        .route(
            "/api/v1/chats/{chat_id}/restore",
            post(organise::restore_chat),
        )
        .route("/api/v1/chats/{chat_id}/share", post(organise::share_chat))
        .route(
            "/api/v1/chats/{chat_id}/share/{share_id}",
            delete(organise::revoke_share),
        )
        .route("/api/v1/users/{user_id}", delete(organise::erase_user))
        .route("/api/v1/export", get(portability::export_all))
        .route(
            "/api/v1/import",
            // The route counts its own bytes, against --max-import-bytes.
            post(portability::import).layer(DefaultBodyLimit::disable()),
        )
}
