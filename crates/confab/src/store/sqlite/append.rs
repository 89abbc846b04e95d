//! An append under the current leaf, through rusqlite on the writer connection (inside
//! the group commit's transaction; see `group_commit.rs`). The statements and records
//! are `sql::append`'s, the ones the sqlx path runs; only the execution differs: each
//! statement is a call on this thread, not a round trip to sqlx's.

use rusqlite::{Connection, ToSql};

use super::direct::{execute, first_row, ids, one_row, read_chat_row};
use super::group_commit::Later;
use super::search::{self, Unmarked};
use crate::domain::Timestamp;
use crate::store::quota::{self, StorageQuotas};
use crate::store::records::{Appended, ChatRecord, ChatRef, FileRecord, NewMessage, Siblings};
use crate::store::sql::append::*;
use crate::store::sql::{chat_ref_values, SqlEngine};
use crate::store::StoreResult;

/// What `Sql::append_in` does for [`Under::Current`](crate::store::records::Under),
/// on `db`, which the caller has inside a transaction (or savepoint) and commits; each
/// message comes with its words for the search index, made before the write queued.
pub(super) fn append_under_current(
    db: &Connection,
    later: &mut Later,
    chat: &ChatRef,
    messages: Vec<(NewMessage, Unmarked)>,
    quotas: StorageQuotas,
) -> StoreResult<Appended> {
    let added = i64::try_from(messages.len()).unwrap_or(i64::MAX);
    let bytes = quota::text_bytes(messages.iter().map(|(m, _)| m.text.as_str()));
    let mut chat = charge_append(db, chat, added, bytes, quotas)?;
    let mut parent = chat.current_message_id;
    let first_siblings = if chat.branched {
        let children = ids(db, children_sql(parent), &values(chat.id, parent))?;
        Siblings::Of(children.into())
    } else {
        Siblings::OnlyChild
    };
    let newest: Option<i64> = first_row(db, NEWEST_STAMP_SQL, &[chat.id], |row| row.get(0))?;
    let stamp = append_stamp(Timestamp::now(), newest);
    // The same scope words for every message of the chat.
    let scope = search::scope(chat.uuid, chat.user_id);
    let mut stored = Vec::with_capacity(messages.len());
    for (message, words) in messages {
        let id = insert_message(db, &chat, &message, stamp, parent)?;
        let document = words.document(chat.tenant_id);
        let scope = scope.clone();
        later.push(move |db| {
            let values: [&dyn ToSql; 3] = [&id, &document, &scope];
            execute(db, search::INDEX_MESSAGE_VALUES_SQL, &values)
        });
        let files = insert_files(db, &chat, id, message.files, stamp)?;
        let siblings = appended_siblings(&first_siblings, stored.is_empty(), id);
        let placed = Placed {
            id,
            stamp,
            parent,
            siblings,
        };
        stored.push(stored_message(
            &chat,
            message.actor,
            message.text,
            placed,
            files,
        ));
        parent = Some(id);
    }
    if let Some(leaf) = parent {
        let updated_at = leaf_updated_at(&chat, stamp);
        let branched = i64::from(chat.branched);
        execute(
            db,
            SET_LEAF_SQL,
            &[&chat.id as &dyn ToSql, &leaf, &branched, &updated_at],
        )?;
        chat.current_message_id = Some(leaf);
        chat.updated_at = Timestamp(updated_at);
    }
    let tenant = chat.tenant_id.hyphenated().to_string();
    let tenant_bytes: i64 = one_row(
        db,
        CHARGE_TENANT_SQL,
        &[&tenant as &dyn ToSql, &bytes],
        |row| row.get(0),
    )?;
    within_tenant_quota(quotas, tenant_bytes)?;
    Ok(Appended {
        chat,
        messages: stored,
    })
}

/// `chat_id` and, when there is one, `parent`: the values of [`children_sql`].
fn values(chat_id: i64, parent: Option<i64>) -> Vec<i64> {
    [Some(chat_id), parent].into_iter().flatten().collect()
}

/// Bumps the chat's version and counters (its row, within the chat quota).
fn charge_append(
    db: &Connection,
    chat: &ChatRef,
    added: i64,
    bytes: i64,
    quotas: StorageQuotas,
) -> StoreResult<ChatRecord> {
    let [first, second] = chat_ref_values(chat);
    let now = Timestamp::now().micros();
    let values: [&dyn ToSql; 5] = [&first, &second, &now, &added, &bytes];
    let (row, message_count) = one_row(db, charge_append_sql(chat), &values, |row| {
        Ok((
            read_chat_row(row)?,
            row.get::<_, i64>(CHARGED_MESSAGE_COUNT_AT)?,
        ))
    })?;
    within_chat_quota(quotas, message_count)?;
    row.into_record()
}

/// One message row; its id. (Its search document is written after the batch's jobs:
/// see `group_commit.rs`.)
fn insert_message(
    db: &Connection,
    chat: &ChatRecord,
    message: &NewMessage,
    stamp: i64,
    parent: Option<i64>,
) -> rusqlite::Result<i64> {
    let values: [&dyn ToSql; 5] = [
        &chat.id,
        &message.actor.as_str(),
        &message.text.as_str(),
        &stamp,
        &parent,
    ];
    one_row(
        db,
        <sqlx::Sqlite as SqlEngine>::INSERT_MESSAGE_SQL,
        &values,
        |row| row.get(0),
    )
}

/// A message's code files.
fn insert_files(
    db: &Connection,
    chat: &ChatRecord,
    message_id: i64,
    files: Vec<crate::domain::code_blocks::CodeFile>,
    stamp: i64,
) -> rusqlite::Result<Vec<FileRecord>> {
    let mut stored = Vec::with_capacity(files.len());
    for file in files {
        let values: [&dyn ToSql; 8] = [
            &message_id,
            &chat.id,
            &chat.user_id,
            &file.title,
            &file.text,
            &file.language,
            &file.extension,
            &stamp,
        ];
        let file_id: i64 = one_row(db, INSERT_FILE_SQL, &values, |row| row.get(0))?;
        stored.push(stored_file(chat, message_id, file, file_id, stamp));
    }
    Ok(stored)
}
