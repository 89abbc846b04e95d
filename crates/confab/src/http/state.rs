//! What every handler can reach.

use std::sync::Arc;

use super::key_touches::KeyTouches;
use super::metrics::Metrics;
use super::response_cache::{ResponseCache, TenantListKey};
use crate::auth::password::Hashing;
use crate::chats::Chats;
use crate::config::Config;
use crate::events::EventBus;
use crate::revocation::LiveCredentials;
use crate::store::Store;
use crate::store::{ChatsFingerprint, ChatsPageStamp};
use crate::throttle::Throttles;

/// What every handler can reach, behind one pointer: axum clones the state for each
/// extractor and middleware of every request, so a clone is one counter, not one per
/// part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    /// The use cases that change chats (and publish their events).
    pub chats: Chats,
    /// Reads, sign-up and sessions go to the store directly.
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn EventBus>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// Serialised message lists of unchanged chats.
    pub message_cache: Arc<ResponseCache<i64, i64>>,
    /// Serialised chat lists (user API) by user and query, while the user's chats are
    /// unchanged.
    pub chat_list_cache: Arc<ResponseCache<(i64, String), ChatsFingerprint>>,
    /// Serialised pages of a tenant's chat list (or trash) by tenant and query, while
    /// the page's chats are the same at the same versions.
    pub tenant_list_cache: Arc<ResponseCache<TenantListKey, ChatsPageStamp>>,
    /// When each API key's `last_used_at` was last written (throttles those writes).
    pub key_touches: Arc<KeyTouches>,
    /// Abuse limits: auth throttles, API key and user write rates, WebSocket caps.
    pub throttles: Arc<Throttles>,
    /// Bounded password hashing (sign-up and login).
    pub hashing: Arc<Hashing>,
    /// This node's WebSockets by the credential they were opened with.
    pub live_credentials: Arc<LiveCredentials>,
}

impl Shared {
    /// Closes what an erased user's sessions opened on this node (other nodes close their
    /// sockets on `chat.deleted`; the sessions authenticate nothing any more).
    pub fn close_sessions(&self, erased: &crate::chats::erase::Erased) {
        for hash in &erased.session_hashes {
            self.live_credentials
                .close(&crate::revocation::Credential::Session(hash.clone()));
        }
    }
}
