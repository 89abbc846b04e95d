//! Organising chats and the trash (SPEC §9): `PATCH` of name, archived, pinned and
//! tags; deletes that move chats to the trash when it is on; restore and purge.

use super::error::ChatError;
use super::Chats;
use crate::domain::{ChatChanges, ChatName, Tags};
use crate::store::{ChatRecord, ChatRef};
use crate::views::frames;

/// A `PATCH` as the client sent it: each field optional, at least one given.
#[derive(Debug, Clone, Default)]
pub struct ChatPatch {
    pub name: Option<String>,
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    pub tags: Option<Vec<String>>,
}

impl ChatPatch {
    fn parse(self) -> Result<ChatChanges, ChatError> {
        let changes = ChatChanges {
            name: self.name.as_deref().map(ChatName::parse).transpose()?,
            archived: self.archived,
            pinned: self.pinned,
            tags: self.tags.as_deref().map(Tags::parse).transpose()?,
        };
        if changes.is_empty() {
            return Err(ChatError::invalid(
                "give at least one of name, archived, pinned and tags",
            ));
        }
        Ok(changes)
    }
}

impl Chats {
    /// Applies a `PATCH` and publishes `chat.updated`.
    pub async fn update(&self, chat: &ChatRef, patch: ChatPatch) -> Result<ChatRecord, ChatError> {
        let changes = patch.parse()?;
        let chat = self.store.update_chat(chat, &changes).await?;
        self.events.publish(frames::chat_updated(&chat)).await;
        Ok(chat)
    }

    /// Whether deleting a chat moves it to the trash (`--trash-days`).
    pub fn trash_enabled(&self) -> bool {
        self.trash
    }

    /// Brings a chat back from the trash, as it was.
    pub async fn restore(&self, chat: &ChatRef) -> Result<ChatRecord, ChatError> {
        Ok(self.store.restore_chat(chat).await?)
    }

    /// Deletes a chat of the trash for good.
    pub async fn purge(&self, chat: &ChatRef) -> Result<ChatRecord, ChatError> {
        Ok(self.store.purge_chat(chat).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_names_something_valid() {
        assert!(ChatPatch::default().parse().is_err());
        let pinned = ChatPatch {
            pinned: Some(true),
            ..ChatPatch::default()
        };
        assert_eq!(pinned.parse().ok().and_then(|c| c.pinned), Some(true));
        let blank = ChatPatch {
            name: Some("  ".into()),
            ..ChatPatch::default()
        };
        assert!(blank.parse().is_err());
        let too_many = ChatPatch {
            tags: Some((0..21).map(|i| i.to_string()).collect()),
            ..ChatPatch::default()
        };
        assert!(too_many.parse().is_err());
    }
}
