//! JSON shapes of both APIs, borrowed from store records so a response body or a live
//! frame is serialised straight from what the store returned, without copying message
//! text. `frames.rs`: the live-event frames built from them; `markdown.rs`: a chat as a
//! Markdown document; `search.rs`: search hits; `lifecycle.rs`: share links and erasure.

pub mod export;
pub mod frames;
pub mod lifecycle;
pub mod markdown;
pub mod search;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Actor, Timestamp};
use crate::store::{ChatRecord, FileRecord, MessageRecord, ReplyError, Siblings, UserRecord};

#[derive(Serialize, ToSchema)]
pub struct UserView<'a> {
    pub id: i64,
    pub email: &'a str,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl<'a> From<&'a UserRecord> for UserView<'a> {
    fn from(user: &'a UserRecord) -> Self {
        UserView {
            id: user.id,
            email: &user.email,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// A chat as the user API shows it (integer `id`; `uuid` names it in `/api/v1`).
#[derive(Serialize, ToSchema)]
pub struct ChatView<'a> {
    pub id: i64,
    pub uuid: Uuid,
    pub name: &'a str,
    pub model: &'a str,
    pub neptun_user_id: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The leaf of the active branch; `null` while the chat has no messages.
    pub current_message_id: Option<i64>,
    pub archived: bool,
    pub pinned: bool,
    #[schema(value_type = Vec<String>)]
    pub tags: &'a [String],
    /// When the chat was moved to the trash (trash lists only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<Timestamp>,
}

impl<'a> From<&'a ChatRecord> for ChatView<'a> {
    fn from(chat: &'a ChatRecord) -> Self {
        ChatView {
            id: chat.id,
            uuid: chat.uuid,
            name: &chat.name,
            model: &chat.model,
            neptun_user_id: chat.user_id,
            created_at: chat.created_at,
            updated_at: chat.updated_at,
            current_message_id: chat.current_message_id,
            archived: chat.archived,
            pinned: chat.pinned,
            tags: chat.tags.as_slice(),
            trashed_at: chat.trashed_at,
        }
    }
}

/// A code file extracted from an assistant message.
#[derive(Serialize, ToSchema)]
pub struct FileView<'a> {
    pub id: i64,
    pub title: &'a str,
    pub text: &'a str,
    pub language: &'a str,
    pub extension: &'a str,
    /// The owner of the chat; null for tenant chats without an owner.
    pub neptun_user_id: Option<i64>,
    pub chat_conversation_id: i64,
    pub chat_conversation_message_id: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl<'a> From<&'a FileRecord> for FileView<'a> {
    fn from(file: &'a FileRecord) -> Self {
        FileView {
            id: file.id,
            title: &file.title,
            text: &file.text,
            language: &file.language,
            extension: &file.extension,
            neptun_user_id: file.user_id,
            chat_conversation_id: file.chat_id,
            chat_conversation_message_id: file.message_id,
            created_at: file.created_at,
            updated_at: file.updated_at,
        }
    }
}

/// A message; `files` is present wherever messages are listed or created.
#[derive(Serialize, ToSchema)]
pub struct MessageView<'a> {
    pub id: i64,
    pub chat_conversation_id: i64,
    pub actor: Actor,
    pub message: &'a str,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The message this one follows; `null` for a chat's first messages.
    pub parent_id: Option<i64>,
    /// Every child of the parent, this message included, oldest first (for a first
    /// message: the chat's first messages).
    #[schema(value_type = Vec<i64>)]
    pub sibling_ids: SiblingIds<'a>,
    /// `complete` for a posted message; a generated reply is `generating` until it is
    /// `complete`, `stopped`, `failed` or `interrupted`.
    #[schema(value_type = String, example = "complete")]
    pub status: &'static str,
    /// The model that generated the reply (generated replies only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    /// Tokens the provider reported (generated replies, when it reported them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageView>,
    /// Why a reply failed or was interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReplyErrorView<'a>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "files_as_views"
    )]
    #[schema(value_type = Option<Vec<FileView>>)]
    pub files: Option<&'a [FileRecord]>,
}

fn files_as_views<S: Serializer>(
    files: &Option<&[FileRecord]>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let files = files.unwrap_or_default();
    let mut seq = serializer.serialize_seq(Some(files.len()))?;
    for file in files {
        seq.serialize_element(&FileView::from(file))?;
    }
    seq.end()
}

impl<'a> MessageView<'a> {
    pub fn with_files(message: &'a MessageRecord) -> Self {
        MessageView {
            files: Some(&message.files),
            ..Self::without_files(message)
        }
    }

    pub fn without_files(message: &'a MessageRecord) -> Self {
        MessageView {
            id: message.id,
            chat_conversation_id: message.chat_id,
            actor: message.actor,
            message: &message.message,
            created_at: message.created_at,
            updated_at: message.updated_at,
            parent_id: message.parent_id,
            sibling_ids: SiblingIds {
                id: message.id,
                siblings: &message.siblings,
            },
            status: message.status().as_str(),
            model: message.reply.as_ref().and_then(|r| r.model.as_deref()),
            usage: message
                .reply
                .as_ref()
                .and_then(|r| r.usage)
                .map(|u| UsageView {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                }),
            error: message
                .reply
                .as_ref()
                .and_then(|r| r.error.as_ref())
                .map(ReplyErrorView::from),
            files: None,
        }
    }
}

/// Tokens a generated reply used, as the provider reported them.
#[derive(Serialize, ToSchema, Clone, Copy)]
pub struct UsageView {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// Why a reply ended without completing: `llm_upstream_error`, `llm_timeout`,
/// `reply_too_long` or `node_lost`.
#[derive(Serialize, ToSchema)]
pub struct ReplyErrorView<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

impl<'a> From<&'a ReplyError> for ReplyErrorView<'a> {
    fn from(error: &'a ReplyError) -> Self {
        ReplyErrorView {
            code: &error.code,
            message: &error.message,
        }
    }
}

/// A message's sibling ids as a JSON array: `[id]` for an only child, without keeping
/// a list for it.
pub struct SiblingIds<'a> {
    id: i64,
    siblings: &'a Siblings,
}

impl Serialize for SiblingIds<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.siblings.ids(self.id).serialize(serializer)
    }
}

/// Serialises a slice of messages (with files) without building an intermediate Vec.
pub struct MessagesView<'a>(pub &'a [MessageRecord]);

impl Serialize for MessagesView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for message in self.0 {
            seq.serialize_element(&MessageView::with_files(message))?;
        }
        seq.end()
    }
}

/// A chat as the tenant API shows it (`id` is the uuid).
#[derive(Serialize, ToSchema)]
pub struct TenantChatView<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub model: &'a str,
    /// The owning user, if the chat has one.
    pub user_id: Option<i64>,
    /// Exactly as given when the chat was created.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<&'a crate::domain::Metadata>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The leaf of the active branch; `null` while the chat has no messages.
    pub current_message_id: Option<i64>,
    pub archived: bool,
    pub pinned: bool,
    #[schema(value_type = Vec<String>)]
    pub tags: &'a [String],
    /// When the chat was moved to the trash (trash lists only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<Timestamp>,
    /// Present on `GET /api/v1/chats/{chat_id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_count: Option<i64>,
    /// Present on `GET /api/v1/chats/{chat_id}`: live WebSocket connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_connections: Option<u64>,
}

impl<'a> From<&'a ChatRecord> for TenantChatView<'a> {
    fn from(chat: &'a ChatRecord) -> Self {
        TenantChatView {
            id: chat.uuid,
            name: &chat.name,
            model: &chat.model,
            user_id: chat.user_id,
            metadata: chat.metadata.as_ref(),
            created_at: chat.created_at,
            updated_at: chat.updated_at,
            current_message_id: chat.current_message_id,
            archived: chat.archived,
            pinned: chat.pinned,
            tags: chat.tags.as_slice(),
            trashed_at: chat.trashed_at,
            message_count: None,
            active_connections: None,
        }
    }
}

/// The delete-last answer; which fields are present depends on what was deleted.
#[derive(Serialize, ToSchema)]
pub struct DeleteLastResponse<'a> {
    #[serde(
        rename = "maybeAssistantMessageToDelete",
        skip_serializing_if = "Option::is_none"
    )]
    maybe_assistant: Option<MessageView<'a>>,
    #[serde(
        rename = "maybeUserMessageToDelete",
        skip_serializing_if = "Option::is_none"
    )]
    maybe_user: Option<MessageView<'a>>,
    #[serde(
        rename = "deletedSuccessfully",
        skip_serializing_if = "Option::is_none"
    )]
    deleted_successfully: Option<Vec<i64>>,
    #[serde(rename = "failedToDelete", skip_serializing_if = "Option::is_none")]
    failed_to_delete: Option<Vec<i64>>,
}

impl<'a> DeleteLastResponse<'a> {
    /// The pair when one was deleted; the trailing ids when there were some, or when
    /// nothing else was deleted.
    pub fn new(
        trailing: &'a [MessageRecord],
        exchange: Option<&'a (MessageRecord, MessageRecord)>,
    ) -> Self {
        let trailing_ids = || Some(trailing.iter().map(|m| m.id).collect());
        match exchange {
            Some((user, assistant)) => DeleteLastResponse {
                maybe_assistant: Some(MessageView::without_files(assistant)),
                maybe_user: Some(MessageView::without_files(user)),
                deleted_successfully: (!trailing.is_empty()).then(trailing_ids).flatten(),
                failed_to_delete: (!trailing.is_empty()).then(Vec::new),
            },
            None => DeleteLastResponse {
                maybe_assistant: None,
                maybe_user: None,
                deleted_successfully: trailing_ids(),
                failed_to_delete: Some(Vec::new()),
            },
        }
    }
}
