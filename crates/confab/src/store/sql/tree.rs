//! The message tree: where a new message goes, the materialised active path, sibling
//! lists, edits, branch switches and the whole tree.
//!
//! `messages.path_chat_id` is the chat's id on the messages of its active path and NULL
//! elsewhere, so reading the path is one index range (see the migration that made it).
//! Moving the current leaf rewrites only the part of the path that changes: the old
//! path below the meeting point is cleared and the new leaf's ancestors up to it set.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::rows::{attach_files, select_messages, MessageRow};
use super::{Sql, SqlEngine};
use crate::domain::code_blocks;
use crate::domain::{Actor, MessageText};
use crate::store::quota;
use crate::store::records::*;
use crate::store::{StoreError, StoreResult};

/// The ancestors of `$1` (itself first) up to the first one on the active path, which
/// is the last row (`on_path` not NULL); no such row when the walk left every root.
const UP_TO_THE_PATH: &str = "WITH RECURSIVE up(id, parent_id, on_path) AS ( \
     SELECT id, parent_id, path_chat_id FROM messages WHERE id = $1 \
     UNION ALL \
     SELECT m.id, m.parent_id, m.path_chat_id FROM messages m JOIN up ON m.id = up.parent_id \
     WHERE up.on_path IS NULL)";

impl<DB> Sql<DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Resolves where an append goes (after the chat's row is locked by
    /// [`Self::charge_append`]): the parent of its first message. Moves the active path there
    /// when it is not the current leaf, and marks the chat branched when the new message
    /// will have siblings.
    pub(crate) async fn place(
        conn: &mut DB::Connection,
        chat: &mut ChatRecord,
        under: Under,
    ) -> StoreResult<Option<i64>> {
        let parent = match under {
            Under::Current => return Ok(chat.current_message_id),
            Under::Root => None,
            Under::Message(id) => {
                let found: Option<i64> = sqlx::query_scalar::<DB, i64>(
                    "SELECT id FROM messages WHERE id = $1 AND chat_id = $2",
                )
                .bind(id)
                .bind(chat.id)
                .fetch_optional(&mut *conn)
                .await?;
                if found.is_none() {
                    return Err(StoreError::NotInChat("parent_id"));
                }
                Some(id)
            }
        };
        if parent != chat.current_message_id || under == Under::Root {
            Self::move_path(conn, chat.id, parent).await?;
            let has_children = match Self::children_of(conn, chat.id, parent).await? {
                Siblings::Of(ids) => !ids.is_empty(),
                Siblings::OnlyChild => false,
            };
            if has_children && !chat.branched {
                sqlx::query("UPDATE chats SET branched = 1 WHERE id = $1")
                    .bind(chat.id)
                    .execute(&mut *conn)
                    .await?;
                chat.branched = true;
            }
        }
        Ok(parent)
    }

    /// Makes the active path end at `leaf` (`None`: no path at all).
    pub(crate) async fn move_path(
        conn: &mut DB::Connection,
        chat_id: i64,
        leaf: Option<i64>,
    ) -> StoreResult<()> {
        let meeting: Option<i64> = match leaf {
            Some(leaf) => {
                sqlx::query_scalar::<DB, i64>(&format!(
                    "{UP_TO_THE_PATH} SELECT id FROM up WHERE on_path IS NOT NULL"
                ))
                .bind(leaf)
                .fetch_optional(&mut *conn)
                .await?
            }
            None => None,
        };
        // Below the meeting point the old path is no longer the path.
        match meeting {
            Some(meeting) => {
                sqlx::query(
                    "UPDATE messages SET path_chat_id = NULL WHERE path_chat_id = $1 \
                     AND (created_at, id) > (SELECT created_at, id FROM messages WHERE id = $2)",
                )
                .bind(chat_id)
                .bind(meeting)
                .execute(&mut *conn)
                .await?;
            }
            None => {
                sqlx::query("UPDATE messages SET path_chat_id = NULL WHERE path_chat_id = $1")
                    .bind(chat_id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        if let Some(leaf) = leaf {
            sqlx::query(&format!(
                "{UP_TO_THE_PATH} UPDATE messages SET path_chat_id = $2 \
                 WHERE id IN (SELECT id FROM up WHERE on_path IS NULL)"
            ))
            .bind(leaf)
            .bind(chat_id)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// The ids of `parent`'s children (of the chat's first messages for `None`), oldest
    /// first.
    pub(crate) async fn children_of(
        conn: &mut DB::Connection,
        chat_id: i64,
        parent: Option<i64>,
    ) -> StoreResult<Siblings> {
        let query =
            sqlx::query_scalar::<DB, i64>(super::append::children_sql(parent)).bind(chat_id);
        let query = match parent {
            Some(parent) => query.bind(parent),
            None => query,
        };
        let ids: Vec<i64> = query.fetch_all(conn).await?;
        Ok(Siblings::Of(ids.into()))
    }

    /// Fills in the sibling lists of a page of a branched chat's active path: one
    /// statement for every child of their parents (and the chat's first messages).
    pub(crate) async fn attach_siblings(
        conn: &mut DB::Connection,
        chat_id: i64,
        messages: &mut [MessageRecord],
    ) -> StoreResult<()> {
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
            return Ok(());
        };
        let (low, high) = (first.id.min(last.id), first.id.max(last.id));
        let rows: Vec<(Option<i64>, i64)> = sqlx::query_as::<DB, (Option<i64>, i64)>(
            "SELECT parent_id, id FROM messages WHERE chat_id = $1 AND (parent_id IS NULL \
             OR parent_id IN (SELECT parent_id FROM messages WHERE path_chat_id = $1 \
             AND id BETWEEN $2 AND $3)) ORDER BY id",
        )
        .bind(chat_id)
        .bind(low)
        .bind(high)
        .fetch_all(conn)
        .await?;
        set_siblings(messages, rows);
        Ok(())
    }

    /// Edit: a new sibling of `message_id` with the same actor and the new text (code
    /// files extracted again), which becomes the current leaf.
    pub async fn edit_message(
        &self,
        chat: &ChatRef,
        message_id: i64,
        text: MessageText,
    ) -> StoreResult<Appended> {
        let bytes = quota::text_bytes([text.as_str()]);
        let mut tx = self.begin_write().await?;
        let mut locked = Self::charge_append(&mut tx, chat, 1, bytes, self.quotas).await?;
        let original: Option<(Option<i64>, String)> = sqlx::query_as::<DB, (Option<i64>, String)>(
            "SELECT parent_id, actor FROM messages WHERE id = $1 AND chat_id = $2",
        )
        .bind(message_id)
        .bind(locked.id)
        .fetch_optional(&mut *tx)
        .await?;
        let (parent, actor) = original.ok_or(StoreError::MessageNotFound)?;
        let actor = super::rows::parse_actor(&actor)?;
        let files = match actor {
            Actor::Assistant => code_blocks::extract(text.as_str()),
            _ => Vec::new(),
        };
        let under = parent.map_or(Under::Root, Under::Message);
        let parent = Self::place(&mut tx, &mut locked, under).await?;
        // An edit always makes a sibling (`place` marks the chat unless it moved nothing,
        // which only a chat that branched before can meet).
        locked.branched = true;
        let message = NewMessage { actor, text, files };
        let appended =
            Self::insert_in(&mut tx, locked, parent, vec![message], bytes, self.quotas).await?;
        tx.commit().await?;
        Ok(appended)
    }

    /// Switch: the current leaf becomes the newest leaf under `message_id`; the new
    /// active path is read in the same transaction. `moved` is false when the chat was
    /// already there (nothing changed, no version bump).
    pub async fn switch_branch(&self, chat: &ChatRef, message_id: i64) -> StoreResult<Switched> {
        let mut tx = self.begin_write().await?;
        let chat = Self::charge_append(&mut tx, chat, 0, 0, quota::StorageQuotas::OFF).await?;
        // Ids grow and children are newer than parents: the newest leaf of a subtree is
        // its highest id.
        let leaf: Option<i64> = sqlx::query_scalar::<DB, Option<i64>>(
            "WITH RECURSIVE below(id) AS ( \
             SELECT id FROM messages WHERE id = $1 AND chat_id = $2 \
             UNION ALL \
             SELECT m.id FROM messages m JOIN below ON m.chat_id = $2 AND m.parent_id = below.id) \
             SELECT MAX(id) FROM below",
        )
        .bind(message_id)
        .bind(chat.id)
        .fetch_one(&mut *tx)
        .await?;
        let leaf = leaf.ok_or(StoreError::NotInChat("message_id"))?;
        let moved = Some(leaf) != chat.current_message_id;
        if moved {
            Self::move_path(&mut tx, chat.id, Some(leaf)).await?;
            sqlx::query("UPDATE chats SET current_message_id = $2 WHERE id = $1")
                .bind(chat.id)
                .bind(leaf)
                .execute(&mut *tx)
                .await?;
        }
        let rows = sqlx::query_as::<DB, MessageRow>(select_messages!(
            "FROM messages WHERE path_chat_id = $1 ORDER BY created_at, id"
        ))
        .bind(chat.id)
        .fetch_all(&mut *tx)
        .await?;
        let path = Self::complete_page(&mut tx, chat.id, chat.branched, rows).await?;
        if moved {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(Switched {
            chat: ChatRecord {
                current_message_id: Some(leaf),
                ..chat
            },
            moved,
            path,
        })
    }

    /// Every message of the chat in (created_at, id) order, with parents, siblings and
    /// files, and the chat (its current leaf) from the same snapshot.
    pub async fn list_tree(&self, chat: &ChatRef) -> StoreResult<(ChatRecord, Vec<MessageRecord>)> {
        let mut tx = self.begin_read().await?;
        let record = Self::read_chat(&mut *tx, chat).await?;
        let rows = sqlx::query_as::<DB, MessageRow>(select_messages!(
            "FROM messages WHERE chat_id = $1 ORDER BY created_at, id"
        ))
        .bind(record.id)
        .fetch_all(&mut *tx)
        .await?;
        let files = Self::files_of_chat(&mut tx, record.id, false).await?;
        tx.commit().await?;
        let mut messages = attach_files(rows, files)?;
        if record.branched {
            let pairs: Vec<(Option<i64>, i64)> =
                messages.iter().map(|m| (m.parent_id, m.id)).collect();
            set_siblings(&mut messages, pairs);
        }
        Ok((record, messages))
    }
}

/// Sets each message's siblings from `(parent_id, id)` pairs in id order.
fn set_siblings(messages: &mut [MessageRecord], pairs: Vec<(Option<i64>, i64)>) {
    let mut children: BTreeMap<Option<i64>, Vec<i64>> = BTreeMap::new();
    for (parent, id) in pairs {
        children.entry(parent).or_default().push(id);
    }
    let shared: BTreeMap<Option<i64>, Arc<[i64]>> = children
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(parent, ids)| (parent, ids.into()))
        .collect();
    for message in messages {
        message.siblings = match shared.get(&message.parent_id) {
            Some(ids) => Siblings::Of(ids.clone()),
            None => Siblings::OnlyChild,
        };
    }
}
