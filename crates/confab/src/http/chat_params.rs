//! What both APIs take to organise chats (SPEC §9): `?archived=&tag=` of the chat
//! lists, and the `PATCH` body.

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::chats::organise::ChatPatch;

use crate::domain::{ArchivedFilter, ChatFilter, Tags};
use crate::http::error::ApiError;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatFilterParams {
    /// `false` (default): chats that are not archived; `true`: only archived chats;
    /// `all`: both.
    #[param(value_type = Option<String>, pattern = "^(true|false|all)$")]
    archived: Option<String>,
    /// Only chats with this tag (exact, after trimming).
    #[param(value_type = Option<String>, min_length = 1, max_length = 64)]
    tag: Option<String>,
}

impl ChatFilterParams {
    pub fn parse(&self) -> Result<ChatFilter, ApiError> {
        let archived = match self.archived.as_deref() {
            None | Some("") => ArchivedFilter::default(),
            Some(value) => ArchivedFilter::parse(value).map_err(|e| ApiError::validation(e.0))?,
        };
        let tag = match self.tag.as_deref() {
            None => None,
            Some(value) => Some(Tags::parse_one(value).map_err(|e| ApiError::validation(e.0))?),
        };
        Ok(ChatFilter { archived, tag })
    }
}

/// Any of the fields, at least one: each given is set, the others are left alone.
#[derive(Deserialize, ToSchema)]
pub struct PatchChatBody {
    /// 1 to 255 characters after trimming.
    #[schema(min_length = 1, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    name: Option<String>,
    /// Archived chats are left out of lists unless `?archived=true` or `all`.
    archived: Option<bool>,
    /// `order_by=pinned:desc` lists pinned chats first.
    pinned: Option<bool>,
    /// Replaces the chat's tags: at most 20, each 1 to 64 characters after trimming, no
    /// control characters; repeats are dropped.
    #[schema(max_items = 20)]
    tags: Option<Vec<String>>,
}

impl PatchChatBody {
    pub fn into_patch(self) -> ChatPatch {
        ChatPatch {
            name: self.name,
            archived: self.archived,
            pinned: self.pinned,
            tags: self.tags,
        }
    }
}
