//! HTTP: both APIs over the use cases (`crate::chats`) and the store.
//!
//! Modules import downward only: `mod.rs` (the router) and `openapi.rs` on top; the
//! handlers in `user_api/`, `tenant_api/`, `ws/`, `shared.rs` and `ops.rs`; below them the shared
//! extractors (`extract/`), checks (`origin.rs`, `cors.rs`, `throttle.rs`) and `state.rs`; at the
//! bottom what knows no handler: `error.rs`, `streamed.rs`, `reply_stream.rs`,
//! `message_body.rs`, `response_cache.rs`, `metrics.rs`, `key_touches.rs`,
//! `forwarded.rs`, `share_url.rs`, `chat_params.rs`, `web_app.rs` (the embedded web app),
//! and the connection layer `server.rs` with `wire/`.

pub mod chat_params;
pub mod cors;
pub mod error;
pub mod export_all;
pub mod extract;
pub mod forwarded;
pub mod key_touches;
pub mod message_body;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod origin;
pub mod paging;
pub mod reply_stream;
pub mod response_cache;
pub mod server;
pub mod share_url;
pub mod shared;
pub mod state;
pub mod streamed;
pub mod tenant_api;
pub mod throttle;
pub mod user_api;
pub mod web_app;
pub mod wire;
pub mod ws;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Router};

pub use state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(user_api::routes())
        .merge(tenant_api::routes())
        .merge(ws::routes())
        .route("/api/shared/{share_id}", get(shared::read_shared))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(openapi::document))
        .fallback(web_app::fallback)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.limits.body_limit_bytes))
        .layer(middleware::map_response(error::render_errors))
        // Outside `render_errors`, so errors carry the CORS headers too.
        .layer(middleware::from_fn_with_state(state.clone(), cors::cors))
        .layer(middleware::from_fn_with_state(state.clone(), ops::track))
        .with_state(state)
}
