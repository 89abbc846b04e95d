//! A chat's lifecycle: create, delete one or many; and its details.

use serde_json::value::RawValue;
use uuid::Uuid;

use super::error::ChatError;
use super::Chats;
use crate::domain::{ChatName, Metadata, ModelName};
use crate::store::{ChatRecord, ChatRef, NewChat, StoreError, UserRecord};
use crate::views::frames;

/// The name of a chat created without one.
pub const DEFAULT_CHAT_NAME: &str = "New chat";

/// The most chat ids one bulk delete may name.
pub const MAX_BULK_DELETE: usize = 1000;

/// What deleting a chat does about its live connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveConnections {
    /// They receive `chat.deleted` and are closed.
    Close,
    /// The delete is refused while there are any ([`ChatError::Watched`]).
    Refuse,
}

/// A chat with its message count and live connections (on every node).
pub struct ChatDetails {
    pub chat: ChatRecord,
    pub message_count: i64,
    pub active_connections: u64,
}

impl Chats {
    /// A chat of the user's own (user API).
    pub async fn create_for_user(
        &self,
        user: &UserRecord,
        name: &str,
        model: Option<&str>,
    ) -> Result<ChatRecord, ChatError> {
        let name = ChatName::parse(name)?;
        let model = ModelName::parse(model.unwrap_or_default())?;
        self.create(NewChat {
            tenant_id: user.tenant_id,
            user_id: Some(user.id),
            name,
            model,
            metadata: None,
        })
        .await
    }

    /// A chat of the tenant (tenant API), owned by one of its users when `user_id` is
    /// given; `metadata` is kept byte for byte.
    pub async fn create_in_tenant(
        &self,
        tenant_id: Uuid,
        name: Option<&str>,
        model: Option<&str>,
        user_id: Option<i64>,
        metadata: Option<Box<RawValue>>,
    ) -> Result<ChatRecord, ChatError> {
        let name = ChatName::parse(name.unwrap_or(DEFAULT_CHAT_NAME))?;
        let model = ModelName::parse(model.unwrap_or_default())?;
        let metadata = parse_metadata(metadata)?;
        let user_id = match user_id {
            None => None,
            Some(id) => Some(self.tenant_user(tenant_id, id).await?),
        };
        self.create(NewChat {
            tenant_id,
            user_id,
            name,
            model,
            metadata,
        })
        .await
    }

    async fn create(&self, chat: NewChat) -> Result<ChatRecord, ChatError> {
        Ok(self.store.create_chat(chat).await?)
    }

    /// The chat with its message count and live connections.
    pub async fn details(&self, chat: &ChatRef) -> Result<ChatDetails, ChatError> {
        let chat = self.store.get_chat(chat).await?;
        let message_count = self.store.message_count(chat.id).await?;
        let active_connections = self.live_connections(chat.id).await?;
        Ok(ChatDetails {
            chat,
            message_count,
            active_connections,
        })
    }

    /// Deletes the chat with its messages and files (to the trash when it is on), and
    /// publishes `chat.deleted`; returns the chat as it was.
    pub async fn delete(
        &self,
        chat: &ChatRef,
        live: LiveConnections,
    ) -> Result<ChatRecord, ChatError> {
        if live == LiveConnections::Refuse {
            let current = self.store.get_chat(chat).await?;
            let watching = self.live_connections(current.id).await?;
            if watching > 0 {
                return Err(ChatError::Watched(watching));
            }
        }
        let deleted = if self.trash {
            self.store
                .trash_chats(std::slice::from_ref(chat))
                .await?
                .pop()
                .ok_or(ChatError::Store(StoreError::NotFound))?
        } else {
            self.store.delete_chat(chat).await?
        };
        self.announce_deleted(std::slice::from_ref(&deleted), false)
            .await;
        Ok(deleted)
    }

    /// Deletes those of `chat_ids` that are the user's (others are ignored), and
    /// publishes `chat.deleted` for each.
    pub async fn delete_many(&self, user_id: i64, chat_ids: Vec<i64>) -> Result<(), ChatError> {
        if chat_ids.len() > MAX_BULK_DELETE {
            return Err(ChatError::invalid(format!(
                "chat_ids holds at most {MAX_BULK_DELETE} ids"
            )));
        }
        if chat_ids.iter().any(|id| *id <= 0) {
            return Err(ChatError::invalid("chat_ids must be positive integers"));
        }
        let mut ids = chat_ids;
        ids.sort_unstable();
        ids.dedup();
        let deleted = if self.trash {
            let chats: Vec<ChatRef> = ids
                .into_iter()
                .map(|chat_id| ChatRef::User { user_id, chat_id })
                .collect();
            self.store.trash_chats(&chats).await?
        } else {
            self.store.delete_user_chats(user_id, &ids).await?
        };
        self.announce_deleted(&deleted, false).await;
        Ok(())
    }

    /// A user of the tenant named by a tenant-API caller (a chat's owner, whose chats an
    /// export or import names): 400 for an id that is not positive, 404 for anyone else.
    pub async fn tenant_user(&self, tenant_id: Uuid, user_id: i64) -> Result<i64, ChatError> {
        if user_id <= 0 {
            return Err(ChatError::InvalidUserId);
        }
        match self.store.get_user(tenant_id, user_id).await {
            Ok(user) => Ok(user.id),
            Err(StoreError::NotFound) => Err(ChatError::UserNotFound),
            Err(other) => Err(other.into()),
        }
    }

    /// Publishes `chat.deleted` for chats just deleted or moved to the trash: their
    /// sockets close. `skip_trashed` passes over chats that were deleted from the trash
    /// (they had theirs when they went there).
    pub(super) async fn announce_deleted(&self, chats: &[ChatRecord], skip_trashed: bool) {
        for chat in chats {
            if !(skip_trashed && chat.trashed_at.is_some()) {
                self.events.publish(frames::chat_deleted(chat)).await;
            }
        }
    }

    /// The chat's live connections on every node, plus one while a reply is being
    /// generated in it (it counts as watched, SPEC §8).
    async fn live_connections(&self, chat_id: i64) -> Result<u64, ChatError> {
        let sockets = self
            .events
            .active_connections(chat_id)
            .await
            .map_err(ChatError::PresenceUnavailable)?;
        let generating = self.store.chat_generating(chat_id).await?;
        Ok(sockets + u64::from(generating))
    }
}

fn parse_metadata(raw: Option<Box<RawValue>>) -> Result<Option<Metadata>, ChatError> {
    raw.map(Metadata::from_raw)
        .transpose()
        .map_err(|e| ChatError::InvalidMetadata(e.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_must_be_a_small_object() {
        let raw = |v: serde_json::Value| serde_json::value::to_raw_value(&v).ok();
        assert!(matches!(parse_metadata(None), Ok(None)));
        let kept = parse_metadata(raw(json!({"a": [1, 2]})));
        assert_eq!(
            kept.ok().flatten().map(|m| m.as_str().to_owned()),
            Some(r#"{"a":[1,2]}"#.to_owned())
        );
        let big = json!({"k": "x".repeat(crate::domain::metadata::MAX_METADATA_BYTES)});
        for bad in [json!([1]), json!("text"), json!(3), big] {
            assert!(matches!(
                parse_metadata(raw(bad)),
                Err(ChatError::InvalidMetadata(_))
            ));
        }
    }
}
