//! What a search asks of the store and what it gets back. The engines find matches in
//! their own indexes (`store/sqlite/search.rs`, `store/postgres/search.rs`); one loop
//! ranks them for both ([`bands`]).

pub(crate) mod bands;

use uuid::Uuid;

use crate::domain::cursor::SearchPosition;
use crate::domain::search::Query;
use crate::domain::{Actor, Timestamp};

/// Characters of a hit's text the store hands back for its snippet (a match further into
/// a longer message is found, but its snippet shows the message's beginning).
pub const SNIPPET_SOURCE_CHARS: usize = 32_768;

/// Whose chats are searched, and which of their documents. The tenant is always given:
/// a search never crosses tenants.
#[derive(Debug, Clone, Default)]
pub struct SearchScope {
    pub tenant_id: Uuid,
    /// Only this user's chats.
    pub user_id: Option<i64>,
    /// Only this chat.
    pub chat_uuid: Option<Uuid>,
    /// Only messages by this actor (chat names are then not searched).
    pub actor: Option<Actor>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub scope: SearchScope,
    pub query: Query,
    /// Continue after this position (the last hit of the previous page).
    pub after: Option<SearchPosition>,
    pub limit: u32,
    /// Matches of each kind ranked together (see [`Band`]).
    ///
    /// [`Band`]: crate::domain::cursor::Band
    pub band_size: u32,
    /// Where the engine reads a band in windows of ids (PostgreSQL), the first one's
    /// width.
    pub first_window: u32,
}

/// One matching message, or chat name (`message_id` and `actor` are `None`).
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub position: SearchPosition,
    pub chat_id: i64,
    pub chat_uuid: Uuid,
    pub chat_name: String,
    pub message_id: Option<i64>,
    pub actor: Option<Actor>,
    pub created_at: Timestamp,
    /// The message text (at most [`SNIPPET_SOURCE_CHARS`]) or the chat's name.
    pub text: String,
}
