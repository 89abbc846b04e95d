//! Messages and their files: appending, reading whole or by page, and delete-last.
//!
//! A message is selected as `id, chat_id, actor, message, created_at, updated_at`
//! ([`MessageRow`]), a file as `id, title, text, language, extension, user_id, chat_id,
//! message_id, created_at, updated_at` ([`FileRow`]).

use futures_util::TryStreamExt as _;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::append::*;
use super::rows::{attach_files, parse_actor, select_messages, ChatUsageRow, FileRow, MessageRow};
use super::{by_ref, Sql, SqlEngine, RELEASE_TENANT_BYTES_SQL};
use crate::domain::delete_last::{DeleteLastPlan, Planner};
use crate::domain::{Actor, MessageText, Timestamp};
use crate::store::quota::{self, StorageQuotas};
use crate::store::records::*;
use crate::store::StoreResult;

impl<DB> Sql<DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Appends messages and their files on `conn`, which the caller has inside a
    /// transaction (or savepoint) and commits. The first message goes `under` the given
    /// place in the tree, each further one under the one before; the last becomes the
    /// chat's current leaf.
    pub(crate) async fn append_in(
        conn: &mut DB::Connection,
        chat: ChatRef,
        under: Under,
        messages: Vec<NewMessage>,
        quotas: StorageQuotas,
    ) -> StoreResult<Appended> {
        let added = i64::try_from(messages.len()).unwrap_or(i64::MAX);
        let bytes = quota::text_bytes(messages.iter().map(|m| m.text.as_str()));
        let mut chat = Self::charge_append(conn, &chat, added, bytes, quotas).await?;
        let parent = Self::place(conn, &mut chat, under).await?;
        Self::insert_in(conn, chat, parent, messages, bytes, quotas).await
    }

    /// The first step of every append: bumps the chat's version and moves its counters,
    /// checking the chat quota. The bump takes the chat's row lock, so the count checked
    /// here already includes every earlier append.
    pub(crate) async fn charge_append(
        conn: &mut DB::Connection,
        chat: &ChatRef,
        added: i64,
        bytes: i64,
        quotas: StorageQuotas,
    ) -> StoreResult<ChatRecord> {
        let sql = charge_append_sql(chat);
        let bumped = Self::bind_chat(sqlx::query_as::<DB, ChatUsageRow>(sql), chat)
            .bind(Timestamp::now().micros())
            .bind(added)
            .bind(bytes)
            .fetch_one(&mut *conn)
            .await?;
        within_chat_quota(quotas, bumped.message_count)?;
        bumped.chat.into_record()
    }

    /// Inserts messages (after [`Self::charge_append`] and [`Self::place`]): the first under
    /// `parent`, each further one under the one before; the last becomes current.
    pub(crate) async fn insert_in(
        conn: &mut DB::Connection,
        mut chat: ChatRecord,
        parent: Option<i64>,
        messages: Vec<NewMessage>,
        bytes: i64,
        quotas: StorageQuotas,
    ) -> StoreResult<Appended> {
        let now = Timestamp::now();
        let first_siblings = if chat.branched {
            Self::children_of(conn, chat.id, parent).await?
        } else {
            Siblings::OnlyChild
        };
        let newest: Option<i64> = sqlx::query_scalar::<DB, i64>(NEWEST_STAMP_SQL)
            .bind(chat.id)
            .fetch_optional(&mut *conn)
            .await?;
        let stamp = append_stamp(now, newest);
        let mut stored = Vec::with_capacity(messages.len());
        let mut parent = parent;
        for message in messages {
            let id =
                Self::insert_message_row(conn, &chat, message.actor, &message.text, stamp, parent)
                    .await?;
            let files = Self::insert_files_in(conn, &chat, id, message.files, stamp).await?;
            let siblings = appended_siblings(&first_siblings, stored.is_empty(), id);
            stored.push(stored_message(
                &chat,
                message.actor,
                message.text,
                Placed {
                    id,
                    stamp,
                    parent,
                    siblings,
                },
                files,
            ));
            parent = Some(id);
        }
        if let Some(leaf) = parent {
            let updated_at = leaf_updated_at(&chat, stamp);
            sqlx::query(SET_LEAF_SQL)
                .bind(chat.id)
                .bind(leaf)
                .bind(i64::from(chat.branched))
                .bind(updated_at)
                .execute(&mut *conn)
                .await?;
            chat.current_message_id = Some(leaf);
            chat.updated_at = Timestamp(updated_at);
        }
        Self::charge_tenant_bytes(conn, chat.tenant_id, bytes, quotas).await?;
        Ok(Appended {
            chat,
            messages: stored,
        })
    }

    /// Inserts one message row under `parent` with its search document (in the insert,
    /// or beside it, as the engine keeps it); returns its id.
    pub(crate) async fn insert_message_row(
        conn: &mut DB::Connection,
        chat: &ChatRecord,
        actor: Actor,
        text: &MessageText,
        stamp: i64,
        parent: Option<i64>,
    ) -> StoreResult<i64> {
        let document = DB::search_document(text.as_str(), chat.tenant_id);
        let insert = sqlx::query_scalar::<DB, i64>(DB::INSERT_MESSAGE_SQL)
            .bind(chat.id)
            .bind(actor.as_str())
            .bind(text.as_str())
            .bind(stamp)
            .bind(parent);
        if DB::SEARCH_DOCUMENT_IN_INSERT {
            return Ok(insert.bind(document).fetch_one(&mut *conn).await?);
        }
        let id = insert.fetch_one(&mut *conn).await?;
        Self::index_message_in(conn, id, document).await?;
        Ok(id)
    }

    /// Adds `bytes` of message text to the tenant's count, within its quota. Called last
    /// in a write, so the tenant's row lock (PostgreSQL) is held only until the commit.
    pub(crate) async fn charge_tenant_bytes(
        conn: &mut DB::Connection,
        tenant_id: uuid::Uuid,
        bytes: i64,
        quotas: StorageQuotas,
    ) -> StoreResult<()> {
        let tenant_bytes: i64 = sqlx::query_scalar::<DB, i64>(CHARGE_TENANT_SQL)
            .bind(tenant_id.hyphenated().to_string())
            .bind(bytes)
            .fetch_one(&mut *conn)
            .await?;
        Ok(within_tenant_quota(quotas, tenant_bytes)?)
    }

    /// Stores a message's code files (stamped `stamp`), in the caller's transaction.
    pub(crate) async fn insert_files_in(
        conn: &mut DB::Connection,
        chat: &ChatRecord,
        message_id: i64,
        files: Vec<crate::domain::code_blocks::CodeFile>,
        stamp: i64,
    ) -> StoreResult<Vec<FileRecord>> {
        let mut stored = Vec::with_capacity(files.len());
        for file in files {
            let file_id: i64 = sqlx::query_scalar::<DB, i64>(INSERT_FILE_SQL)
                .bind(message_id)
                .bind(chat.id)
                .bind(chat.user_id)
                .bind(&file.title)
                .bind(&file.text)
                .bind(&file.language)
                .bind(&file.extension)
                .bind(stamp)
                .fetch_one(&mut *conn)
                .await?;
            stored.push(stored_file(chat, message_id, file, file_id, stamp));
        }
        Ok(stored)
    }

    /// Every message of the chat with its files, and the chat's version, from one
    /// snapshot: three statements, however many messages and files.
    pub async fn list_messages_versioned(
        &self,
        chat: &ChatRef,
    ) -> StoreResult<(ChatVersion, Vec<MessageRecord>)> {
        let mut tx = self.begin_read().await?;
        let sql = by_ref(
            chat,
            "SELECT id, version, branched FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL",
            "SELECT id, version, branched FROM chats WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL",
        );
        let (id, version, branched) =
            Self::bind_chat(sqlx::query_as::<DB, (i64, i64, i64)>(sql), chat)
                .fetch_one(&mut *tx)
                .await?;
        let (version, branched) = (ChatVersion { id, version }, branched != 0);
        let rows = sqlx::query_as::<DB, MessageRow>(select_messages!(
            "FROM messages \
             WHERE path_chat_id = $1 ORDER BY created_at, id"
        ))
        .bind(version.id)
        .fetch_all(&mut *tx)
        .await?;
        let files = Self::files_of_chat(&mut tx, version.id, branched).await?;
        let mut messages = attach_files(rows, files)?;
        if branched {
            Self::attach_siblings(&mut tx, version.id, &mut messages).await?;
        }
        tx.commit().await?;
        Ok((version, messages))
    }

    /// Every file of the chat by message and id; only those of its active path when
    /// `path_only` (a chain's files are all on its path).
    pub(crate) async fn files_of_chat(
        conn: &mut DB::Connection,
        chat_id: i64,
        path_only: bool,
    ) -> StoreResult<Vec<FileRow>> {
        let sql = if path_only {
            "SELECT f.id, f.title, f.text, f.language, f.extension, f.user_id, f.chat_id, \
             f.message_id, f.created_at, f.updated_at FROM files f \
             JOIN messages m ON m.id = f.message_id \
             WHERE f.chat_id = $1 AND m.path_chat_id = $1 ORDER BY f.message_id, f.id"
        } else {
            "SELECT id, title, text, language, extension, user_id, chat_id, message_id, \
             created_at, updated_at FROM files WHERE chat_id = $1 ORDER BY message_id, id"
        };
        Ok(sqlx::query_as::<DB, FileRow>(sql)
            .bind(chat_id)
            .fetch_all(conn)
            .await?)
    }

    /// The files of a page of a chat's messages (`rows`, in id order): one range read.
    pub(crate) async fn files_of_page(
        conn: &mut DB::Connection,
        chat_id: i64,
        rows: &[MessageRow],
    ) -> StoreResult<Vec<FileRow>> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_as::<DB, FileRow>(
            "SELECT id, title, text, language, extension, user_id, chat_id, message_id, \
             created_at, updated_at FROM files WHERE chat_id = $1 \
             AND message_id BETWEEN $2 AND $3 ORDER BY message_id, id",
        )
        .bind(chat_id)
        .bind(first.id.min(last.id))
        .bind(first.id.max(last.id))
        .fetch_all(conn)
        .await?)
    }

    /// Chronological page of messages after `after`, each with its files.
    pub async fn page_messages(
        &self,
        chat: &ChatRef,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        let mut tx = self.begin_read().await?;
        let (chat_id, branched) = Self::resolve_chat_shape(&mut tx, chat).await?;
        let (after_at, after_id) = after
            .map(|c| (c.created_at.micros(), c.id))
            .unwrap_or((i64::MIN, i64::MIN));
        let rows = sqlx::query_as::<DB, MessageRow>(select_messages!(
            "FROM messages \
             WHERE path_chat_id = $1 AND (created_at, id) > ($2, $3) \
             ORDER BY created_at, id LIMIT $4"
        ))
        .bind(chat_id)
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let messages = Self::complete_page(&mut tx, chat_id, branched, rows).await?;
        tx.commit().await?;
        Ok(messages)
    }

    /// A page of the active path as records: with their files, and with their siblings
    /// when the chat ever branched.
    pub(crate) async fn complete_page(
        conn: &mut DB::Connection,
        chat_id: i64,
        branched: bool,
        rows: Vec<MessageRow>,
    ) -> StoreResult<Vec<MessageRecord>> {
        let files = Self::files_of_page(&mut *conn, chat_id, &rows).await?;
        let mut messages = attach_files(rows, files)?;
        if branched {
            Self::attach_siblings(conn, chat_id, &mut messages).await?;
        }
        Ok(messages)
    }

    pub async fn message_count(&self, chat_id: i64) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar::<DB, i64>("SELECT COUNT(*) FROM messages WHERE chat_id = $1")
                .bind(chat_id)
                .fetch_one(&self.reader)
                .await?,
        )
    }

    pub async fn list_files(&self, chat: &ChatRef) -> StoreResult<Vec<FileRecord>> {
        let mut tx = self.begin_read().await?;
        let (chat_id, branched) = Self::resolve_chat_shape(&mut tx, chat).await?;
        let files = Self::files_of_chat(&mut tx, chat_id, branched).await?;
        tx.commit().await?;
        Ok(files.into_iter().map(FileRow::into_record).collect())
    }

    /// Delete-last (see [`crate::domain::delete_last`]), in one transaction.
    pub async fn delete_last(&self, chat: &ChatRef) -> StoreResult<DeleteLastOutcome> {
        let mut tx = self.begin_write().await?;
        // Bumping the version first takes the chat's row lock on engines with row locks,
        // so concurrent delete-last and append on one chat serialise.
        let chat = Self::bump_chat(&mut tx, chat, Timestamp::now()).await?;
        let mut planner = Planner::new();
        let mut newest_first = Vec::new();
        {
            let mut rows = sqlx::query_as::<DB, MessageRow>(select_messages!(
                "FROM messages \
                 WHERE path_chat_id = $1 ORDER BY created_at DESC, id DESC"
            ))
            .bind(chat.id)
            .fetch(&mut *tx);
            while planner.wants_more() {
                match rows.try_next().await? {
                    Some(row) => {
                        planner.push(parse_actor(&row.actor)?);
                        newest_first.push(row);
                    }
                    None => break,
                }
            }
        }
        let plan = planner.finish();
        let total = plan.total();
        let trailing = match plan {
            DeleteLastPlan::NoMessages => {
                tx.rollback().await?;
                return Ok(DeleteLastOutcome::NoMessages);
            }
            DeleteLastPlan::TrailingOnly { trailing } | DeleteLastPlan::Exchange { trailing } => {
                trailing
            }
        };
        let mut records = newest_first
            .into_iter()
            .take(total)
            .map(MessageRow::into_record)
            .collect::<StoreResult<Vec<_>>>()?;
        if chat.branched {
            Self::attach_siblings(&mut tx, chat.id, &mut records).await?;
        }
        let mut removed = Vec::new();
        if let Some(oldest) = records.last() {
            // The plan removes the newest `total` messages of the active path; each takes
            // its subtree along, and the oldest one's subtree holds all of them.
            let new_leaf = oldest.parent_id;
            let doomed: Vec<(i64, i64)> = sqlx::query_as::<DB, (i64, i64)>(
                "WITH RECURSIVE doomed(id) AS ( \
                 SELECT id FROM messages WHERE id = $2 AND chat_id = $1 \
                 UNION ALL \
                 SELECT m.id FROM messages m JOIN doomed ON m.chat_id = $1 \
                 AND m.parent_id = doomed.id) \
                 DELETE FROM messages WHERE id IN (SELECT id FROM doomed) \
                 RETURNING id, CAST(octet_length(message) AS BIGINT)",
            )
            .bind(chat.id)
            .bind(oldest.id)
            .fetch_all(&mut *tx)
            .await?;
            let bytes = doomed.iter().map(|(_, bytes)| *bytes).sum::<i64>();
            removed = doomed.into_iter().map(|(id, _)| id).collect();
            removed.sort_unstable();
            sqlx::query(
                "UPDATE chats SET message_count = message_count - $2, \
                 message_bytes = message_bytes - $3, current_message_id = $4 WHERE id = $1",
            )
            .bind(chat.id)
            .bind(i64::try_from(removed.len()).unwrap_or(i64::MAX))
            .bind(bytes)
            .bind(new_leaf)
            .execute(&mut *tx)
            .await?;
            sqlx::query(RELEASE_TENANT_BYTES_SQL)
                .bind(chat.tenant_id.hyphenated().to_string())
                .bind(bytes)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let exchange = if matches!(plan, DeleteLastPlan::Exchange { .. }) {
            let before_last = records.pop();
            let last = records.pop();
            before_last.zip(last).map(Box::new)
        } else {
            None
        };
        records.truncate(trailing);
        records.reverse();
        Ok(DeleteLastOutcome::Deleted {
            chat: Box::new(chat),
            trailing: records,
            exchange,
            removed,
        })
    }
}
