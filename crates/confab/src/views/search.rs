//! Search hits as both APIs show them; they differ only in how a chat is named (the
//! integer id on the user API, the uuid on the tenant API).

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::search::Snippet;
use crate::domain::{Actor, Timestamp};
use crate::store::SearchHit;

/// One hit: a message, or a chat's name (`message_id` and `actor` are then `null`).
#[derive(Serialize, ToSchema)]
pub struct SearchHitView<'a, ChatId> {
    /// The chat's id (user API) or uuid (tenant API).
    pub chat_id: ChatId,
    pub chat_name: &'a str,
    pub message_id: Option<i64>,
    pub actor: Option<Actor>,
    /// The message's (or, for a name, the chat's) creation time.
    pub created_at: Timestamp,
    /// Plain text, at most 240 characters, around the best match; whitespace shown as
    /// spaces.
    pub snippet: &'a str,
    /// `[start, end)` offsets in characters (Unicode code points) into `snippet` of every
    /// matched term, in order, not overlapping.
    #[schema(value_type = Vec<Vec<u32>>)]
    pub highlights: &'a [[usize; 2]],
}

impl<'a> SearchHitView<'a, i64> {
    /// A hit as the user API shows it.
    pub fn for_user(hit: &'a SearchHit, snippet: &'a Snippet) -> Self {
        Self::with_chat_id(hit, snippet, hit.chat_id)
    }
}

impl<'a> SearchHitView<'a, Uuid> {
    /// A hit as the tenant API shows it.
    pub fn for_tenant(hit: &'a SearchHit, snippet: &'a Snippet) -> Self {
        Self::with_chat_id(hit, snippet, hit.chat_uuid)
    }
}

impl<'a, ChatId> SearchHitView<'a, ChatId> {
    fn with_chat_id(hit: &'a SearchHit, snippet: &'a Snippet, chat_id: ChatId) -> Self {
        SearchHitView {
            chat_id,
            chat_name: &hit.chat_name,
            message_id: hit.message_id,
            actor: hit.actor,
            created_at: hit.created_at,
            snippet: &snippet.text,
            highlights: &snippet.highlights,
        }
    }
}
