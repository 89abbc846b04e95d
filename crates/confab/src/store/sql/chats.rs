//! Chats: creating, reading, listing and deleting them, and the steps every
//! change to a chat starts with (find it, bump its version).
//!
//! A chat is selected as `id, uuid, tenant_id, user_id, name, model, metadata, version,
//! created_at, updated_at` ([`ChatRow`]), with `message_count, message_bytes` after it
//! where the usage counters are wanted ([`ChatUsageRow`]).

use sqlx::query::QueryAs;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use super::rows::{chats, ChatRow, ChatUsageRow};
use super::{by_ref, chat_ref_values, chat_version_sql, reply_running_sql, Bound, Sql, SqlEngine};
use crate::domain::{Metadata, OrderBy, Timestamp};
use crate::store::quota::{self, QuotaExceeded};
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
    /// Binds a [`ChatRef`]'s two identifying parameters (`$1`, `$2` of [`by_ref`]).
    pub(crate) fn bind_chat<'q, O>(
        query: QueryAs<'q, DB, O, DB::Arguments<'q>>,
        chat: &ChatRef,
    ) -> QueryAs<'q, DB, O, DB::Arguments<'q>> {
        Self::bind_values(query, chat_ref_values(chat))
    }

    /// Binds `values` in order.
    pub(crate) fn bind_values<'q, O>(
        mut query: QueryAs<'q, DB, O, DB::Arguments<'q>>,
        values: impl IntoIterator<Item = Bound>,
    ) -> QueryAs<'q, DB, O, DB::Arguments<'q>> {
        for value in values {
            query = match value {
                Bound::Text(text) => query.bind(text),
                Bound::Int(number) => query.bind(number),
            };
        }
        query
    }

    /// The internal id of a chat the caller may see, or `NotFound`.
    pub(crate) async fn resolve_chat(
        conn: &mut DB::Connection,
        chat: &ChatRef,
    ) -> StoreResult<i64> {
        let sql = by_ref(
            chat,
            "SELECT id FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL",
            "SELECT id FROM chats WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL",
        );
        let (id,) = Self::bind_chat(sqlx::query_as::<DB, (i64,)>(sql), chat)
            .fetch_one(conn)
            .await?;
        Ok(id)
    }

    /// [`Self::resolve_chat`], with whether the chat ever branched (whether its lists
    /// need sibling lists), from the same row.
    pub(crate) async fn resolve_chat_shape(
        conn: &mut DB::Connection,
        chat: &ChatRef,
    ) -> StoreResult<(i64, bool)> {
        let sql = by_ref(
            chat,
            "SELECT id, branched FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL",
            "SELECT id, branched FROM chats WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL",
        );
        let (id, branched) = Self::bind_chat(sqlx::query_as::<DB, (i64, i64)>(sql), chat)
            .fetch_one(conn)
            .await?;
        Ok((id, branched != 0))
    }

    /// Bumps a chat's version inside a write transaction and returns the chat;
    /// `NotFound` when the reference names no chat of the caller's. On PostgreSQL this
    /// takes the chat's row lock, so changes to one chat run one after the other.
    pub(crate) async fn bump_chat(
        conn: &mut DB::Connection,
        chat: &ChatRef,
        now: Timestamp,
    ) -> StoreResult<ChatRecord> {
        let sql = by_ref(
            chat,
            "UPDATE chats SET version = version + 1, updated_at = $3 \
             WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL RETURNING id, uuid, tenant_id, user_id, name, \
             model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at",
            "UPDATE chats SET version = version + 1, updated_at = $3 \
             WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL RETURNING id, uuid, tenant_id, user_id, name, \
             model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at",
        );
        Self::bind_chat(sqlx::query_as::<DB, ChatRow>(sql), chat)
            .bind(now.micros())
            .fetch_one(conn)
            .await?
            .into_record()
    }

    /// A chat's id and version, through sqlx (SQLite has a faster way for files).
    pub async fn chat_version(&self, chat: &ChatRef) -> StoreResult<ChatVersion> {
        Ok(Self::bind_chat(
            sqlx::query_as::<DB, ChatVersion>(chat_version_sql(chat)),
            chat,
        )
        .fetch_one(&self.reader)
        .await?)
    }

    /// Whether a message of the caller's chat is being generated, through sqlx.
    pub async fn reply_running(&self, chat: &ChatRef, message_id: i64) -> StoreResult<bool> {
        let running: i64 =
            Self::bind_chat(sqlx::query_as::<DB, (i64,)>(reply_running_sql(chat)), chat)
                .bind(message_id)
                .fetch_one(&self.reader)
                .await?
                .0;
        Ok(running > 0)
    }

    /// The chat as a [`ChatRef`] names it.
    pub(crate) async fn read_chat<'c, E>(executor: E, chat: &ChatRef) -> StoreResult<ChatRecord>
    where
        E: Executor<'c, Database = DB>,
    {
        let sql = by_ref(
            chat,
            "SELECT id, uuid, tenant_id, user_id, name, model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL",
            "SELECT id, uuid, tenant_id, user_id, name, model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at FROM chats WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL",
        );
        Self::bind_chat(sqlx::query_as::<DB, ChatRow>(sql), chat)
            .fetch_one(executor)
            .await?
            .into_record()
    }

    pub async fn create_chat(&self, chat: NewChat) -> StoreResult<ChatRecord> {
        let now = Timestamp::now().micros();
        // Stored as the client wrote it (validated): numbers keep every digit.
        let metadata = chat.metadata.as_ref().map(Metadata::as_str);
        let mut tx = self.begin_write().await?;
        if let Some(user_id) = chat.user_id {
            Self::charge_new_chat(&mut tx, user_id, self.quotas.max_chats_per_user).await?;
        }
        let created = sqlx::query_as::<DB, ChatRow>(
            "INSERT INTO chats (uuid, tenant_id, user_id, name, model, metadata, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) \
             RETURNING id, uuid, tenant_id, user_id, name, model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at",
        )
        .bind(Uuid::new_v4().hyphenated().to_string())
        .bind(chat.tenant_id.hyphenated().to_string())
        .bind(chat.user_id)
        .bind(chat.name.as_str())
        .bind(chat.model.as_str())
        .bind(metadata)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .into_record()?;
        Self::index_chat_name_in(&mut tx, &created).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Checks that the user may own one more chat (`limit` 0: no limit). A no-op update
    /// takes the user's row lock (PostgreSQL; SQLite's one writer is exclusive anyway),
    /// so creations for one user count in turn.
    pub(crate) async fn charge_new_chat(
        conn: &mut DB::Connection,
        user_id: i64,
        limit: u64,
    ) -> StoreResult<()> {
        if limit == 0 {
            return Ok(());
        }
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        let owned: i64 =
            sqlx::query_scalar::<DB, i64>("SELECT COUNT(*) FROM chats WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *conn)
                .await?;
        quota::within(limit, owned.saturating_add(1), QuotaExceeded::ChatsPerUser)?;
        Ok(())
    }

    pub async fn get_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
        Self::read_chat(&self.reader, chat).await
    }

    pub async fn list_user_chats(
        &self,
        user_id: i64,
        order: &OrderBy,
    ) -> StoreResult<Vec<ChatRecord>> {
        // The order is built only from OrderBy's fixed column names.
        let sql = format!(
            "SELECT id, uuid, tenant_id, user_id, name, model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at FROM chats WHERE user_id = $1 AND trashed_at IS NULL ORDER BY {}",
            order.to_sql()
        );
        chats(
            sqlx::query_as::<DB, ChatRow>(&sql)
                .bind(user_id)
                .fetch_all(&self.reader)
                .await?,
        )
    }

    /// Deletes the chat (its messages and files go with it) and gives its bytes back to
    /// the tenant; returns the chat as it was.
    pub async fn delete_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
        let sql = by_ref(
            chat,
            "DELETE FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL RETURNING id, uuid, tenant_id, \
             user_id, name, model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at, message_count, \
             message_bytes",
            "DELETE FROM chats WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL RETURNING id, uuid, \
             tenant_id, user_id, name, model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at, \
             message_count, message_bytes",
        );
        let mut tx = self.begin_write().await?;
        let deleted = Self::bind_chat(sqlx::query_as::<DB, ChatUsageRow>(sql), chat)
            .fetch_one(&mut *tx)
            .await?;
        Self::release_bytes(&mut tx, std::slice::from_ref(&deleted)).await?;
        tx.commit().await?;
        deleted.chat.into_record()
    }

    /// Deletes those of `chat_ids` that belong to the user; returns the deleted chats.
    pub async fn delete_user_chats(
        &self,
        user_id: i64,
        chat_ids: &[i64],
    ) -> StoreResult<Vec<ChatRecord>> {
        if chat_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = (0..chat_ids.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "DELETE FROM chats WHERE user_id = $1 AND trashed_at IS NULL AND id IN ({placeholders}) RETURNING id, \
             uuid, tenant_id, user_id, name, model, metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at, \
             message_count, message_bytes"
        );
        let mut query = sqlx::query_as::<DB, ChatUsageRow>(&sql).bind(user_id);
        for id in chat_ids {
            query = query.bind(*id);
        }
        let mut tx = self.begin_write().await?;
        let rows = query.fetch_all(&mut *tx).await?;
        Self::release_bytes(&mut tx, &rows).await?;
        tx.commit().await?;
        chats(rows.into_iter().map(|row| row.chat).collect())
    }
}
