//! A chat's messages: post (one or a batch), delete the last exchange.

use super::error::ChatError;
use super::input::MessagesInput;
use super::Chats;
use crate::store::{ChatRef, DeleteLastOutcome, MessageRecord};
use crate::views::frames;

/// What a post stored, in order.
pub struct Posted {
    pub messages: Vec<MessageRecord>,
    /// Whether the caller used the batch form (the user API answers it with a list).
    pub batch: bool,
}

/// What delete-last removed (messages without their files).
pub struct DeletedLast {
    /// The trailing `user` messages, oldest first.
    pub trailing: Vec<MessageRecord>,
    /// The exchange before them, (user, assistant), when one was deleted.
    pub exchange: Option<Box<(MessageRecord, MessageRecord)>>,
}

impl Chats {
    /// Validates the messages (assistant code blocks become files), appends them
    /// atomically in order, and publishes `message.created` for each.
    pub async fn post_messages(
        &self,
        chat: &ChatRef,
        input: MessagesInput,
    ) -> Result<Posted, ChatError> {
        let parsed = input.parse(&self.limits)?;
        let appended = self
            .store
            .append_messages(chat, parsed.under, parsed.messages)
            .await?;
        self.events
            .publish(frames::messages_created(&appended.chat, &appended.messages))
            .await;
        Ok(Posted {
            messages: appended.messages,
            batch: parsed.batch,
        })
    }

    /// Deletes the last exchange and any trailing user messages in one transaction, and
    /// publishes `messages.deleted`. A chat without messages is refused.
    pub async fn delete_last(&self, chat: &ChatRef) -> Result<DeletedLast, ChatError> {
        let outcome = self.store.delete_last(chat).await?;
        let ids = outcome.deleted_ids();
        let DeleteLastOutcome::Deleted {
            chat,
            trailing,
            exchange,
            ..
        } = outcome
        else {
            return Err(ChatError::NoMessages);
        };
        self.events
            .publish(frames::messages_deleted(&chat, &ids))
            .await;
        Ok(DeletedLast { trailing, exchange })
    }
}
