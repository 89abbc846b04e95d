//! Rows as both engines return them, and their conversion into records.
//!
//! Every column is INTEGER/BIGINT, TEXT or BLOB/BYTEA, which both engines decode into the
//! same Rust types; uuids are stored as hyphenated text.

use anyhow::Context as _;
use std::collections::HashMap;
use uuid::Uuid;

use crate::domain::{Actor, Metadata, ReplyStatus, Tags, Timestamp};
use crate::store::records::*;
use crate::store::{StoreError, StoreResult};

pub(crate) fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text)
        .with_context(|| format!("corrupt uuid {text:?} in the database"))
        .map_err(StoreError::Other)
}

pub(crate) fn parse_actor(text: &str) -> StoreResult<Actor> {
    Actor::parse(text)
        .with_context(|| format!("corrupt actor {text:?} in the database"))
        .map_err(StoreError::Other)
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub retention_days: Option<i64>,
}

impl TenantRow {
    pub fn into_record(self) -> StoreResult<TenantRecord> {
        Ok(TenantRecord {
            id: parse_uuid(&self.id)?,
            name: self.name,
            created_at: Timestamp(self.created_at),
            retention_days: self.retention_days,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiKeyRow {
    pub fn into_record(self) -> StoreResult<ApiKeyRecord> {
        Ok(ApiKeyRecord {
            id: parse_uuid(&self.id)?,
            tenant_id: parse_uuid(&self.tenant_id)?,
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            created_at: Timestamp(self.created_at),
            last_used_at: self.last_used_at.map(Timestamp),
            revoked_at: self.revoked_at.map(Timestamp),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: i64,
    pub tenant_id: String,
    pub email: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRow {
    pub fn into_record(self) -> StoreResult<UserRecord> {
        Ok(UserRecord {
            id: self.id,
            tenant_id: parse_uuid(&self.tenant_id)?,
            email: self.email,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

impl CredentialsRow {
    pub fn into_record(self) -> StoreResult<Credentials> {
        Ok(Credentials {
            user: self.user.into_record()?,
            password_hash: self.password_hash,
        })
    }
}

/// A chat as every statement that returns one selects it:
/// `id, uuid, tenant_id, user_id, name, model, metadata, version, created_at, updated_at,
/// current_message_id, branched, archived, pinned, tags, trashed_at`.
#[derive(sqlx::FromRow)]
pub(crate) struct ChatRow {
    pub id: i64,
    pub uuid: String,
    pub tenant_id: String,
    pub user_id: Option<i64>,
    pub name: String,
    pub model: String,
    pub metadata: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub current_message_id: Option<i64>,
    pub branched: i64,
    pub archived: i64,
    pub pinned: i64,
    pub tags: String,
    pub trashed_at: Option<i64>,
}

impl ChatRow {
    pub fn into_record(self) -> StoreResult<ChatRecord> {
        let metadata = match self.metadata {
            Some(text) => Some(
                Metadata::from_stored(text)
                    .context("corrupt chat metadata in the database")
                    .map_err(StoreError::Other)?,
            ),
            None => None,
        };
        Ok(ChatRecord {
            id: self.id,
            uuid: parse_uuid(&self.uuid)?,
            tenant_id: parse_uuid(&self.tenant_id)?,
            user_id: self.user_id,
            name: self.name,
            model: self.model,
            metadata,
            version: self.version,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            current_message_id: self.current_message_id,
            branched: self.branched != 0,
            archived: self.archived != 0,
            pinned: self.pinned != 0,
            tags: Tags::from_stored(&self.tags)
                .context("corrupt chat tags in the database")
                .map_err(StoreError::Other)?,
            trashed_at: self.trashed_at.map(Timestamp),
        })
    }
}

pub(crate) fn chats(rows: Vec<ChatRow>) -> StoreResult<Vec<ChatRecord>> {
    rows.into_iter().map(ChatRow::into_record).collect()
}

/// A chat with its usage counters (see [`crate::store::quota`]): the chat's columns,
/// then `message_count, message_bytes`.
#[derive(sqlx::FromRow)]
pub(crate) struct ChatUsageRow {
    #[sqlx(flatten)]
    pub chat: ChatRow,
    pub message_count: i64,
    pub message_bytes: i64,
}

/// The columns of [`ChatRow`], in its order: every new statement that returns a chat
/// selects these.
macro_rules! chat_columns {
    () => {
        "id, uuid, tenant_id, user_id, name, model, metadata, version, created_at, \
         updated_at, current_message_id, branched, archived, pinned, tags, trashed_at"
    };
}
pub(crate) use chat_columns;

/// How many columns [`chat_columns!`] names (counted from it, so the two cannot differ).
pub(crate) const CHAT_COLUMN_COUNT: usize = {
    let names = chat_columns!().as_bytes();
    let (mut count, mut at) = (1, 0);
    while at < names.len() {
        if names[at] == b',' {
            count += 1;
        }
        at += 1;
    }
    count
};

/// `SELECT` with the columns of [`MessageRow`], then the rest of the statement: every
/// statement that reads messages selects the same columns.
macro_rules! select_messages {
    ($rest:literal) => {
        concat!(
            "SELECT id, chat_id, actor, message, created_at, updated_at, parent_id, status, \
             model, prompt_tokens, completion_tokens, error_code, error_message ",
            $rest
        )
    };
}
pub(crate) use select_messages;

/// A message, as [`select_messages`] reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub id: i64,
    pub chat_id: i64,
    pub actor: String,
    pub message: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub parent_id: Option<i64>,
    pub status: String,
    pub model: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl MessageRow {
    pub fn into_record(self) -> StoreResult<MessageRecord> {
        Ok(MessageRecord {
            id: self.id,
            chat_id: self.chat_id,
            actor: parse_actor(&self.actor)?,
            message: self.message,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            parent_id: self.parent_id,
            siblings: Siblings::OnlyChild,
            files: Vec::new(),
            reply: reply_info(
                &self.status,
                self.model,
                self.prompt_tokens.zip(self.completion_tokens),
                self.error_code.zip(self.error_message),
            )?,
        })
    }
}

/// A reply's state from its columns; `None` for a posted message.
fn reply_info(
    status: &str,
    model: Option<String>,
    usage: Option<(i64, i64)>,
    error: Option<(String, String)>,
) -> StoreResult<Option<Box<ReplyInfo>>> {
    let status = ReplyStatus::parse(status)
        .with_context(|| format!("corrupt message status {status:?} in the database"))
        .map_err(StoreError::Other)?;
    if status == ReplyStatus::Complete && model.is_none() {
        return Ok(None);
    }
    Ok(Some(Box::new(ReplyInfo {
        status,
        model,
        usage: usage.map(|(prompt_tokens, completion_tokens)| Usage {
            prompt_tokens,
            completion_tokens,
        }),
        error: error.map(|(code, message)| ReplyError { code, message }),
    })))
}

/// `id, title, text, language, extension, user_id, chat_id, message_id, created_at,
/// updated_at`.
#[derive(sqlx::FromRow)]
pub(crate) struct FileRow {
    pub id: i64,
    pub title: String,
    pub text: String,
    pub language: String,
    pub extension: String,
    pub user_id: Option<i64>,
    pub chat_id: i64,
    pub message_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FileRow {
    pub fn into_record(self) -> FileRecord {
        FileRecord {
            id: self.id,
            title: self.title,
            text: self.text,
            language: self.language,
            extension: self.extension,
            user_id: self.user_id,
            chat_id: self.chat_id,
            message_id: self.message_id,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        }
    }
}

/// `(created_at, id)` of a message, for bounds.
#[derive(sqlx::FromRow)]
pub(crate) struct PositionRow {
    pub created_at: i64,
    pub id: i64,
}

impl From<PositionRow> for MessageCursor {
    fn from(row: PositionRow) -> Self {
        MessageCursor {
            created_at: Timestamp(row.created_at),
            id: row.id,
        }
    }
}

/// Attaches files (any order) to their messages; files whose message is not in the list
/// are dropped. Keeps the messages' order.
pub(crate) fn attach_files(
    rows: Vec<MessageRow>,
    files: Vec<FileRow>,
) -> StoreResult<Vec<MessageRecord>> {
    let mut messages = rows
        .into_iter()
        .map(MessageRow::into_record)
        .collect::<StoreResult<Vec<_>>>()?;
    let position: HashMap<i64, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    for file in files {
        if let Some(&i) = position.get(&file.message_id) {
            messages[i].files.push(file.into_record());
        }
    }
    Ok(messages)
}
