//! Organising chats (SPEC §9): changes to a chat's name, flags and tags; the tenant's
//! filtered list; the trash (move, list, restore, purge).
//!
//! A trashed chat keeps its rows with `trashed_at` set; every other statement names
//! chats `AND trashed_at IS NULL` ([`by_ref`]), so it is no route's but the trash's.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use super::rows::{chat_columns, chats, ChatRow, ChatUsageRow};
use super::{by_ref, Bound, Sql, SqlEngine, RELEASE_TENANT_BYTES_SQL};
use crate::domain::{ChatChanges, Timestamp};
use crate::store::records::*;
use crate::store::StoreResult;
use crate::store::TenantChatsPage;

/// Ends a trashed chat's running replies `stopped` with their persisted text (`$1` chat
/// id): their producers see them no longer generating and stop.
const STOP_REPLIES_SQL: &str = "UPDATE messages SET status = 'stopped', stream_marks = NULL, \
     generation_node = NULL WHERE chat_id = $1 AND status = 'generating'";

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
    /// Applies a `PATCH`: each field given is set, the version bumped.
    pub async fn update_chat(
        &self,
        chat: &ChatRef,
        changes: &ChatChanges,
    ) -> StoreResult<ChatRecord> {
        // Only fixed column names and numbered parameters go into the statement.
        let mut sets = String::from("version = version + 1, updated_at = $3");
        let mut next = 4;
        for (column, given) in [
            ("name", changes.name.is_some()),
            ("archived", changes.archived.is_some()),
            ("pinned", changes.pinned.is_some()),
            ("tags", changes.tags.is_some()),
        ] {
            if given {
                sets.push_str(&format!(", {column} = ${next}"));
                next += 1;
            }
        }
        let key = by_ref(
            chat,
            "id = $1 AND user_id = $2 AND trashed_at IS NULL",
            "uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL",
        );
        let sql = format!(
            "UPDATE chats SET {sets} WHERE {key} RETURNING {}",
            chat_columns!()
        );
        let mut query = Self::bind_chat(sqlx::query_as::<DB, ChatRow>(&sql), chat)
            .bind(Timestamp::now().micros());
        if let Some(name) = &changes.name {
            query = query.bind(name.as_str().to_owned());
        }
        for flag in [changes.archived, changes.pinned].into_iter().flatten() {
            query = query.bind(i64::from(flag));
        }
        if let Some(tags) = &changes.tags {
            query = query.bind(tags.to_stored());
        }
        let mut tx = self.begin_write().await?;
        let updated = query.fetch_one(&mut *tx).await?.into_record()?;
        if changes.name.is_some() {
            Self::index_chat_name_in(&mut tx, &updated).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// The tenant's chats that pass `filter` (or its trash), newest first, strictly after
    /// `after` when given.
    pub async fn list_tenant_chats(
        &self,
        tenant_id: Uuid,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Vec<ChatRecord>> {
        let (sql, values) =
            tenant_chats_query::<DB>(chat_columns!(), ListOf::Tenant(tenant_id), page);
        let query = Self::bind_values(sqlx::query_as::<DB, ChatRow>(&sql), values);
        let rows = query.fetch_all(&self.reader).await?;
        chats(rows)
    }

    /// A user's trash, most recently trashed first: the newest 1,000 (a list answered
    /// whole, so bounded).
    pub async fn list_user_trash(&self, user_id: i64) -> StoreResult<Vec<ChatRecord>> {
        let rows = sqlx::query_as::<DB, ChatRow>(concat!(
            "SELECT ",
            chat_columns!(),
            " FROM chats WHERE user_id = $1 AND trashed_at IS NOT NULL \
             ORDER BY trashed_at DESC, id DESC LIMIT 1000"
        ))
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        chats(rows)
    }

    /// Moves chats to the trash (those named that are live and the caller's): their
    /// running replies end `stopped`. Returns them as they are now.
    pub async fn trash_chats(&self, chats_named: &[ChatRef]) -> StoreResult<Vec<ChatRecord>> {
        let now = Timestamp::now().micros();
        let mut tx = self.begin_write().await?;
        let mut trashed = Vec::with_capacity(chats_named.len());
        for chat in chats_named {
            let sql = by_ref(
                chat,
                concat!(
                    "UPDATE chats SET trashed_at = $3, version = version + 1 \
                     WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL RETURNING ",
                    chat_columns!()
                ),
                concat!(
                    "UPDATE chats SET trashed_at = $3, version = version + 1 \
                     WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL RETURNING ",
                    chat_columns!()
                ),
            );
            let Some(row) = Self::bind_chat(sqlx::query_as::<DB, ChatRow>(sql), chat)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
            else {
                continue;
            };
            let record = row.into_record()?;
            sqlx::query(STOP_REPLIES_SQL)
                .bind(record.id)
                .execute(&mut *tx)
                .await?;
            trashed.push(record);
        }
        tx.commit().await?;
        Ok(trashed)
    }

    /// Brings a trashed chat back (`$1`/`$2` name it as [`by_ref`] does, but in the
    /// trash); it counts as changed now.
    pub async fn restore_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
        let sql = by_ref(
            chat,
            concat!(
                "UPDATE chats SET trashed_at = NULL, version = version + 1, updated_at = $3 \
                 WHERE id = $1 AND user_id = $2 AND trashed_at IS NOT NULL RETURNING ",
                chat_columns!()
            ),
            concat!(
                "UPDATE chats SET trashed_at = NULL, version = version + 1, updated_at = $3 \
                 WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NOT NULL RETURNING ",
                chat_columns!()
            ),
        );
        let mut tx = self.begin_write().await?;
        let restored = Self::bind_chat(sqlx::query_as::<DB, ChatRow>(sql), chat)
            .bind(Timestamp::now().micros())
            .fetch_one(&mut *tx)
            .await?
            .into_record()?;
        tx.commit().await?;
        Ok(restored)
    }

    /// Deletes a trashed chat for good; `NotFound` unless it is in the caller's trash.
    pub async fn purge_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
        let sql = by_ref(
            chat,
            concat!(
                "DELETE FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NOT NULL \
                 RETURNING ",
                chat_columns!(),
                ", message_count, message_bytes"
            ),
            concat!(
                "DELETE FROM chats WHERE uuid = $1 AND tenant_id = $2 \
                 AND trashed_at IS NOT NULL RETURNING ",
                chat_columns!(),
                ", message_count, message_bytes"
            ),
        );
        let mut tx = self.begin_write().await?;
        let purged = Self::bind_chat(sqlx::query_as::<DB, ChatUsageRow>(sql), chat)
            .fetch_one(&mut *tx)
            .await?;
        Self::release_bytes(&mut tx, std::slice::from_ref(&purged)).await?;
        tx.commit().await?;
        purged.chat.into_record()
    }

    /// Gives deleted chats' message bytes back to their tenants.
    pub(crate) async fn release_bytes(
        conn: &mut DB::Connection,
        deleted: &[ChatUsageRow],
    ) -> StoreResult<()> {
        let mut released = std::collections::BTreeMap::<&str, i64>::new();
        for row in deleted {
            let bytes = released.entry(row.chat.tenant_id.as_str()).or_default();
            *bytes = bytes.saturating_add(row.message_bytes);
        }
        for (tenant_id, bytes) in released {
            sqlx::query(RELEASE_TENANT_BYTES_SQL)
                .bind(tenant_id)
                .bind(bytes)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// What the stamp of a page of a tenant's list reads of each chat (the page's statement
/// with these columns is the stamp).
pub(crate) const CHAT_STAMP_COLUMNS: &str = "id, version";

/// Whose chats a tenant's list reads, named by `$1`: the tenant's id, or the public
/// prefix of an API key, whose tenant the statement looks up itself.
#[derive(Clone, Copy)]
pub(crate) enum ListOf<'a> {
    Tenant(Uuid),
    KeyPrefix(&'a str),
}

/// The statement of a tenant's chat list ([`Sql::list_tenant_chats`]) reading `columns`,
/// and its values, in `$n` order, for either driver.
pub(crate) fn tenant_chats_query<DB: SqlEngine>(
    columns: &str,
    of: ListOf<'_>,
    page: &TenantChatsPage<'_>,
) -> (String, Vec<Bound>) {
    let TenantChatsPage {
        filter,
        trash,
        after,
        limit,
    } = *page;
    let (tenant, named) = match of {
        ListOf::Tenant(id) => ("$1", id.hyphenated().to_string()),
        ListOf::KeyPrefix(prefix) => (
            "(SELECT tenant_id FROM api_keys WHERE prefix = $1)",
            prefix.to_owned(),
        ),
    };
    let mut sql = format!(
        "SELECT {columns} FROM chats WHERE tenant_id = {tenant} AND trashed_at IS {}",
        if trash { "NOT NULL" } else { "NULL" }
    );
    let mut values = vec![Bound::Text(named), Bound::Int(i64::from(limit))];
    if !trash {
        sql.push_str(filter.archived.condition());
        if let Some(tag) = &filter.tag {
            values.push(Bound::Text(tag.clone()));
            sql.push_str(" AND ");
            sql.push_str(&DB::has_tag_sql(values.len()));
        }
    }
    if let Some(cursor) = after {
        values.push(Bound::Int(cursor.created_at.micros()));
        values.push(Bound::Int(cursor.id));
        let id = values.len();
        sql.push_str(&format!(" AND (created_at, id) < (${}, ${id})", id - 1));
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT $2");
    (sql, values)
}
