//! Erasing a user (SPEC §9): the account and everything of theirs in one transaction,
//! their chats' live connections closed.

use uuid::Uuid;

use super::error::ChatError;
use super::Chats;
use crate::store::StoreError;
use crate::views::lifecycle::ErasedView;

/// What erasing a user deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    pub user_id: i64,
    pub chats: usize,
    pub messages: i64,
    pub files: i64,
    pub shares: i64,
    pub sessions: usize,
    /// The sessions' token hashes, for closing what they authenticated on this node.
    pub session_hashes: Vec<Vec<u8>>,
}

impl Chats {
    /// Deletes the tenant's user `user_id` with their sessions, chats (trashed ones and
    /// tenant chats they own too), messages, files, shares and search entries; every
    /// socket watching one of their chats gets `chat.deleted` and is closed.
    pub async fn erase_user(&self, tenant_id: Uuid, user_id: i64) -> Result<Erased, ChatError> {
        if user_id <= 0 {
            return Err(ChatError::UserNotFound);
        }
        let erased = match self.store.erase_user(tenant_id, user_id).await {
            Err(StoreError::NotFound) => return Err(ChatError::UserNotFound),
            other => other?,
        };
        self.announce_deleted(&erased.chats, true).await;
        tracing::info!(
            user_id,
            chats = erased.chats.len(),
            messages = erased.messages,
            "erased a user"
        );
        Ok(Erased {
            user_id,
            chats: erased.chats.len(),
            messages: erased.messages,
            files: erased.files,
            shares: erased.shares,
            sessions: erased.sessions.len(),
            session_hashes: erased.sessions,
        })
    }
}

impl From<&Erased> for ErasedView {
    fn from(erased: &Erased) -> Self {
        ErasedView {
            user_id: erased.user_id,
            chats: erased.chats,
            messages: erased.messages,
            files: erased.files,
            shares: erased.shares,
            sessions: erased.sessions,
        }
    }
}
