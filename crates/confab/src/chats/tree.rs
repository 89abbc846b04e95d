//! The message tree: edit a message (a new sibling that becomes the current leaf), switch
//! to another branch. (Reading the tree is a plain read of the store.)

use super::error::ChatError;
use super::input::{EditInput, SwitchInput};
use super::Chats;
use crate::store::{ChatRef, MessageRecord};
use crate::views::frames;

impl Chats {
    /// Edit: stores the new text as a sibling of `message_id` (same parent and actor,
    /// code files extracted again), makes it the current leaf, and publishes
    /// `message.created` and `chat.current_changed`.
    pub async fn edit_message(
        &self,
        chat: &ChatRef,
        message_id: i64,
        input: EditInput,
    ) -> Result<MessageRecord, ChatError> {
        let text = input.parse(&self.limits)?;
        let appended = self.store.edit_message(chat, message_id, text).await?;
        let message =
            appended.messages.into_iter().next().ok_or_else(|| {
                ChatError::Store(anyhow::anyhow!("an edit stored no message").into())
            })?;
        self.events
            .publish(frames::message_edited(&appended.chat, &message))
            .await;
        Ok(message)
    }

    /// Switch: the current leaf becomes the newest leaf under the message named; publishes
    /// `chat.current_changed` when that moved it. Returns the new active path, read with
    /// the change.
    pub async fn switch_branch(
        &self,
        chat: &ChatRef,
        input: SwitchInput,
    ) -> Result<Vec<MessageRecord>, ChatError> {
        let message_id = input.parse()?;
        let switched = self.store.switch_branch(chat, message_id).await?;
        if switched.moved {
            self.events
                .publish(frames::branch_switched(&switched.chat))
                .await;
        }
        Ok(switched.path)
    }
}
