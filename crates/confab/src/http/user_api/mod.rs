//! The user API (SPEC §2): cookie sessions, integer ids, the seeds' response shapes.

mod auth;
mod chats;
mod generate;
pub mod list_params;
mod messages;
mod organise;
mod portability;
mod search;
mod tree;

use axum::routing::{delete, get, head, patch, post, put};
use axum::Router;

use super::state::AppState;

pub use auth::*;
pub use chats::*;
pub use generate::*;
pub use messages::*;
pub use organise::*;
pub use portability::*;
pub use search::*;
pub use tree::*;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/sign-up", post(auth::sign_up))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/check", head(auth::check))
        .route(
            "/api/users/{user_id}/chats",
            get(chats::list_chats)
                .post(chats::create_chat)
                .delete(chats::delete_chats),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}",
            patch(chats::update_chat).delete(chats::delete_chat),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/messages",
            get(messages::list_messages).post(messages::post_messages),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/messages/last",
            delete(messages::delete_last),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/messages/{message_id}",
            patch(tree::edit_message),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/current",
            put(tree::switch_branch),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/generate",
            post(generate::generate),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/messages/{message_id}/stream",
            get(generate::resume),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/messages/{message_id}/stop",
            post(generate::stop),
        )
        .route("/api/users/{user_id}/chats/{chat_id}/tree", get(tree::tree))
        .route("/api/users/{user_id}/search", get(search::search))
        .route("/api/users/{user_id}", delete(organise::erase_self))
        .route("/api/users/{user_id}/trash", get(organise::list_trash))
        .route(
            "/api/users/{user_id}/trash/{chat_id}",
            delete(organise::purge_chat),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/restore",
            post(organise::restore_chat),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/share",
            post(organise::share_chat),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/share/{share_id}",
            delete(organise::revoke_share),
        )
        .route(
            "/api/users/{user_id}/chats/{chat_id}/files",
            get(messages::list_files),
        )
        .route("/api/users/{user_id}/export", get(portability::export_all))
}
