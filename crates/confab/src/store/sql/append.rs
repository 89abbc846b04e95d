//! What an append writes, apart from how it is executed: the statements and the records
//! they produce. The sqlx path (`messages.rs`) and SQLite's group-commit writer, which
//! runs the same statements through rusqlite, both build on these, so the two cannot
//! drift apart.

use super::by_ref;
use super::rows::{chat_columns, CHAT_COLUMN_COUNT};
use crate::domain::code_blocks::CodeFile;
use crate::domain::{Actor, MessageText, Timestamp};
use crate::store::quota::{self, QuotaExceeded, StorageQuotas};
use crate::store::records::{ChatRecord, ChatRef, FileRecord, MessageRecord, Siblings};

/// Bumps the chat's version and moves its counters (`$1`, `$2` the chat as [`by_ref`]
/// says, `$3` now, `$4` messages added, `$5` bytes added), returning the chat's columns
/// then `message_count, message_bytes`. Refuses (no row) a chat in the trash.
pub(crate) fn charge_append_sql(chat: &ChatRef) -> &'static str {
    macro_rules! charge {
        ($key:literal) => {
            concat!(
                "UPDATE chats SET version = version + 1, updated_at = $3, \
                 message_count = message_count + $4, message_bytes = message_bytes + $5 \
                 WHERE ",
                $key,
                " AND trashed_at IS NULL RETURNING ",
                chat_columns!(),
                ", message_count, message_bytes"
            )
        };
    }
    by_ref(
        chat,
        charge!("id = $1 AND user_id = $2"),
        charge!("uuid = $1 AND tenant_id = $2"),
    )
}

/// Where [`charge_append_sql`]'s `message_count` stands: after the chat's columns.
pub(crate) const CHARGED_MESSAGE_COUNT_AT: usize = CHAT_COLUMN_COUNT;

/// The creation time of chat `$1`'s newest message.
pub(crate) const NEWEST_STAMP_SQL: &str = "SELECT created_at FROM messages WHERE chat_id = $1 \
     ORDER BY created_at DESC, id DESC LIMIT 1";

/// Makes `$2` chat `$1`'s current leaf (`$3` branched, `$4` its new `updated_at`).
pub(crate) const SET_LEAF_SQL: &str =
    "UPDATE chats SET current_message_id = $2, branched = $3, updated_at = $4 WHERE id = $1";

/// Adds `$2` bytes to tenant `$1`'s count, returning the new count.
pub(crate) const CHARGE_TENANT_SQL: &str =
    "UPDATE tenants SET message_bytes = message_bytes + $2 WHERE id = $1 RETURNING message_bytes";

/// Stores a code file (`$1` message, `$2` chat, `$3` user, `$4`–`$7` title, text,
/// language, extension, `$8` stamp), returning its id.
pub(crate) const INSERT_FILE_SQL: &str =
    "INSERT INTO files (message_id, chat_id, user_id, title, text, language, \
     extension, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id";

/// The ids of a chat's (`$1`) messages under `parent` (`$2`), oldest first.
pub(crate) fn children_sql(parent: Option<i64>) -> &'static str {
    match parent {
        Some(_) => "SELECT id FROM messages WHERE chat_id = $1 AND parent_id = $2 ORDER BY id",
        None => "SELECT id FROM messages WHERE chat_id = $1 AND parent_id IS NULL ORDER BY id",
    }
}

/// The chat quota, checked against the count [`charge_append_sql`] returned.
pub(crate) fn within_chat_quota(
    quotas: StorageQuotas,
    message_count: i64,
) -> Result<(), QuotaExceeded> {
    quota::within(
        quotas.max_messages_per_chat,
        message_count,
        QuotaExceeded::MessagesPerChat,
    )
}

/// The tenant quota, checked against the count [`CHARGE_TENANT_SQL`] returned.
pub(crate) fn within_tenant_quota(
    quotas: StorageQuotas,
    tenant_bytes: i64,
) -> Result<(), QuotaExceeded> {
    quota::within(
        quotas.max_tenant_message_bytes,
        tenant_bytes,
        QuotaExceeded::TenantMessageBytes,
    )
}

/// An append's stamp: now, but never earlier than the chat's newest message, because
/// chronological order is (created_at, id), even when the clock steps back.
pub(crate) fn append_stamp(now: Timestamp, newest: Option<i64>) -> i64 {
    now.micros().max(newest.unwrap_or(i64::MIN))
}

/// The chat's `updated_at` once its newest message is stamped `stamp`: the chat changed
/// then, not before (an export `since` that message's time must find the chat).
pub(crate) fn leaf_updated_at(chat: &ChatRecord, stamp: i64) -> i64 {
    chat.updated_at.micros().max(stamp)
}

/// The siblings of appended message `id`: the first one joins its parent's existing
/// children (`first`, read when the chat is branched); the others are only children.
pub(crate) fn appended_siblings(first: &Siblings, is_first: bool, id: i64) -> Siblings {
    match (first, is_first) {
        (Siblings::Of(existing), true) => {
            Siblings::Of(existing.iter().copied().chain([id]).collect())
        }
        _ => Siblings::OnlyChild,
    }
}

/// Where a stored message landed.
pub(crate) struct Placed {
    pub id: i64,
    pub stamp: i64,
    pub parent: Option<i64>,
    pub siblings: Siblings,
}

/// The record of a message just stored.
pub(crate) fn stored_message(
    chat: &ChatRecord,
    actor: Actor,
    text: MessageText,
    placed: Placed,
    files: Vec<FileRecord>,
) -> MessageRecord {
    MessageRecord {
        id: placed.id,
        chat_id: chat.id,
        actor,
        message: text.into_string(),
        created_at: Timestamp(placed.stamp),
        updated_at: Timestamp(placed.stamp),
        parent_id: placed.parent,
        siblings: placed.siblings,
        files,
        reply: None,
    }
}

/// The record of a code file just stored as `file_id`.
pub(crate) fn stored_file(
    chat: &ChatRecord,
    message_id: i64,
    file: CodeFile,
    file_id: i64,
    stamp: i64,
) -> FileRecord {
    FileRecord {
        id: file_id,
        title: file.title,
        text: file.text,
        language: file.language,
        extension: file.extension,
        user_id: chat.user_id,
        chat_id: chat.id,
        message_id,
        created_at: Timestamp(stamp),
        updated_at: Timestamp(stamp),
    }
}
