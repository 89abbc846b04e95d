//! Shapes of the data lifecycle (SPEC §9): a share link's public answer (the chat's
//! name and model and its active path as at share time, with no user ids or emails), a
//! new share link, and what erasing a user deleted.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Actor, Timestamp};
use crate::store::{ChatRecord, FileRecord, MessageRecord};

/// `{"chat": {"name", "model"}, "chatMessages": [...]}`.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct SharedChatView<'a> {
    pub chat: SharedChatHead<'a>,
    pub chatMessages: Vec<SharedMessageView<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct SharedChatHead<'a> {
    pub name: &'a str,
    pub model: &'a str,
}

/// A message of a shared chat.
#[derive(Serialize, ToSchema)]
pub struct SharedMessageView<'a> {
    pub id: i64,
    pub actor: Actor,
    pub message: &'a str,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub files: Vec<SharedFileView<'a>>,
}

/// A code file of a shared message.
#[derive(Serialize, ToSchema)]
pub struct SharedFileView<'a> {
    pub id: i64,
    pub title: &'a str,
    pub text: &'a str,
    pub language: &'a str,
    pub extension: &'a str,
}

impl<'a> SharedChatView<'a> {
    /// The chat with these messages (its active path, oldest first).
    pub fn new(chat: &'a ChatRecord, path: &[&'a MessageRecord]) -> Self {
        SharedChatView {
            chat: SharedChatHead {
                name: &chat.name,
                model: &chat.model,
            },
            chatMessages: path.iter().map(|m| SharedMessageView::from(*m)).collect(),
        }
    }
}

impl<'a> From<&'a MessageRecord> for SharedMessageView<'a> {
    fn from(message: &'a MessageRecord) -> Self {
        SharedMessageView {
            id: message.id,
            actor: message.actor,
            message: &message.message,
            created_at: message.created_at,
            updated_at: message.updated_at,
            files: message.files.iter().map(SharedFileView::from).collect(),
        }
    }
}

impl<'a> From<&'a FileRecord> for SharedFileView<'a> {
    fn from(file: &'a FileRecord) -> Self {
        SharedFileView {
            id: file.id,
            title: &file.title,
            text: &file.text,
            language: &file.language,
            extension: &file.extension,
        }
    }
}

/// A new share link.
#[derive(Serialize, ToSchema)]
pub struct ShareCreated {
    /// 192 random bits, base64url.
    pub share_id: String,
    /// Where anyone with the link reads it (`GET /api/shared/{share_id}`).
    pub url: String,
}

/// What erasing a user deleted.
#[derive(Serialize, ToSchema)]
pub struct ErasedView {
    pub user_id: i64,
    pub chats: usize,
    pub messages: i64,
    pub files: i64,
    pub shares: i64,
    pub sessions: usize,
}
