//! Use cases: what the APIs can do to chats, one method of [`Chats`] per operation, shared
//! by both APIs. Each validates its input, makes the change in the store (one
//! transaction) and publishes the committed change to live connections
//! (`views::frames` renders it). Handlers extract the request, call one of these and
//! render what it returns; nothing here knows HTTP.
//!
//! * `lifecycle.rs`: create (for a user, in a tenant), rename, delete one or many; a
//!   chat's details.
//! * `messages.rs`: post one message or a batch, delete the last exchange.
//! * `tree.rs`: the message tree: edit a message, switch branch, read the tree.
//! * `search.rs`: search the caller's chats, with snippets.
//! * `input.rs`: the message-post, edit and switch inputs, checked.
//! * `error.rs`: [`error::ChatError`], what they refuse or fail with.
//!
//! Later operations (editing a message, generating a reply, import, trash) take a file
//! each beside these. Plain reads that only list (pages, streamed lists, exports) go
//! from the handlers to the store's read methods directly.

pub mod error;
pub mod input;
pub mod lifecycle;
pub mod messages;
pub mod search;
pub mod tree;

use std::sync::Arc;

use crate::config::Limits;
use crate::events::EventBus;
use crate::store::Store;

/// The use cases, over one store and one event bus.
#[derive(Clone)]
pub struct Chats {
    store: Arc<dyn Store>,
    events: Arc<dyn EventBus>,
    /// Sizes a post may not exceed.
    limits: Limits,
}

impl Chats {
    pub fn new(store: Arc<dyn Store>, events: Arc<dyn EventBus>, limits: Limits) -> Self {
        Chats {
            store,
            events,
            limits,
        }
    }
}
