//! Share links (SPEC §9): a read-only snapshot of a chat's active path, served without
//! credentials under an unguessable id until its owner revokes it or the chat goes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use std::collections::HashMap;

use super::error::ChatError;
use super::Chats;
use crate::store::{ChatRef, MessageRecord, NewShare, StoreError};
use crate::views::lifecycle::SharedChatView;

/// Random bytes in a share id: 192 bits, 32 base64url characters.
const SHARE_ID_BYTES: usize = 24;

/// The largest snapshot a share may hold (its JSON): what one public read may load, and
/// with [`crate::store::MAX_SHARES_PER_CHAT`], what one chat's shares may store.
pub const MAX_SHARE_BYTES: usize = 2 * 1024 * 1024;

/// Whether `id` has the shape of a share id (checked before any database read).
pub fn is_share_id(id: &str) -> bool {
    id.len() == SHARE_ID_BYTES / 3 * 4
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Chats {
    /// Snapshots the chat's active path and stores it under a new random id.
    pub async fn share(&self, chat: &ChatRef) -> Result<String, ChatError> {
        let (record, messages) = self.store.list_tree(chat).await?;
        let path = active_path(&messages, record.current_message_id);
        let snapshot = serde_json::to_string(&SharedChatView::new(&record, &path))
            .map_err(|e| ChatError::Store(StoreError::Other(e.into())))?;
        if snapshot.len() > MAX_SHARE_BYTES {
            return Err(ChatError::ShareTooLarge);
        }
        let mut bytes = [0u8; SHARE_ID_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let id = URL_SAFE_NO_PAD.encode(bytes);
        match self
            .store
            .create_share(
                chat,
                &NewShare {
                    id: id.clone(),
                    snapshot,
                },
            )
            .await
        {
            Ok(()) => Ok(id),
            Err(StoreError::Conflict(_)) => Err(ChatError::TooManyShares),
            Err(other) => Err(other.into()),
        }
    }

    /// A share's snapshot (JSON), while it and its chat exist.
    pub async fn shared(&self, share_id: &str) -> Result<Option<String>, ChatError> {
        if !is_share_id(share_id) {
            return Ok(None);
        }
        Ok(self.store.shared(share_id).await?)
    }

    /// Revokes one of the chat's shares; `ShareNotFound` unless the chat has it.
    pub async fn revoke_share(&self, chat: &ChatRef, share_id: &str) -> Result<(), ChatError> {
        if !is_share_id(share_id) {
            // Still 404 for a chat that is not the caller's: the chat is checked first.
            self.store.chat_version(chat).await?;
            return Err(ChatError::ShareNotFound);
        }
        match self.store.revoke_share(chat, share_id).await {
            Err(StoreError::NotFound) => {
                self.store.chat_version(chat).await?;
                Err(ChatError::ShareNotFound)
            }
            other => Ok(other?),
        }
    }
}

/// The messages from the first one down to `leaf`, oldest first.
fn active_path(messages: &[MessageRecord], leaf: Option<i64>) -> Vec<&MessageRecord> {
    let by_id: HashMap<i64, &MessageRecord> = messages.iter().map(|m| (m.id, m)).collect();
    let mut path = Vec::new();
    let mut next = leaf;
    while let Some(message) = next.and_then(|id| by_id.get(&id)) {
        path.push(*message);
        next = message.parent_id;
        if path.len() > messages.len() {
            break; // a cycle cannot happen (parents are older), but never loop forever
        }
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_ids_are_long_and_url_safe() {
        assert!(is_share_id(&"A".repeat(32)));
        assert!(is_share_id("abcdefghijklmnopqrstuvwxyz012-_9"));
        assert!(!is_share_id(&"A".repeat(31)));
        assert!(!is_share_id("abcdefghijklmnopqrstuvwxyz012+/9"));
        assert!(!is_share_id(""));
    }
}
