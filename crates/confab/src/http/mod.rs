//! HTTP: the router, shared state, extractors, the error type, and both APIs.

pub mod error;
pub mod extract;
pub mod forwarded;
pub mod message_input;
pub mod openapi;
pub mod ops;
pub mod origin;
pub mod response_cache;
pub mod server;
pub mod streamed;
pub mod tenant_api;
pub mod throttle;
pub mod user_api;
pub mod views;
pub mod wire;
pub mod ws;
pub mod ws_close;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Router};
use std::sync::Arc;

use crate::auth::password::Hashing;
use crate::config::Config;
use crate::events::EventBus;
use crate::revocation::LiveCredentials;
use crate::store::Store;
use crate::throttle::Throttles;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn EventBus>,
    pub config: Arc<Config>,
    pub metrics: Arc<ops::Metrics>,
    /// Serialised message lists of unchanged chats.
    pub message_cache: Arc<response_cache::ResponseCache>,
    /// When each API key's `last_used_at` was last written (throttles those writes).
    pub key_touches: Arc<tenant_api::KeyTouches>,
    /// Abuse limits: auth throttles, API key and user write rates, WebSocket caps.
    pub throttles: Arc<Throttles>,
    /// Bounded password hashing (sign-up and login).
    pub hashing: Arc<Hashing>,
    /// This node's WebSockets by the credential they were opened with.
    pub live_credentials: Arc<LiveCredentials>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(user_api::routes())
        .merge(tenant_api::routes())
        .merge(ws::routes())
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(openapi::document))
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.limits.body_limit_bytes))
        .layer(middleware::map_response(error::render_errors))
        .layer(middleware::from_fn_with_state(state.clone(), ops::track))
        .with_state(state)
}
