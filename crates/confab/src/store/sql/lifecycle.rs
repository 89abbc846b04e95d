//! Data lifecycle (SPEC §9): share links, erasing a user, and the sweeper's batches
//! (trash past its days, chats idle past their tenant's retention).

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use super::rows::{chat_columns, chats, ChatUsageRow};
use super::{by_ref, Sql, SqlEngine};
use crate::domain::Timestamp;
use crate::store::records::*;
use crate::store::{StoreError, StoreResult};

/// The most live share links one chat may have.
pub const MAX_SHARES_PER_CHAT: i64 = 20;

/// How long an erasure's record stays for the revocation watchers (they look back
/// seconds).
pub const KEEP_ERASURES: std::time::Duration = std::time::Duration::from_secs(3600);

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
    /// Stores a share of the chat; `NotFound` unless the chat is the caller's and live,
    /// `Conflict` when it has [`MAX_SHARES_PER_CHAT`] already.
    pub async fn create_share(&self, chat: &ChatRef, share: &NewShare) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // The chat's row lock (a no-op update), so concurrent shares count in turn and a
        // purge cannot slip in before the insert.
        let sql = by_ref(
            chat,
            "UPDATE chats SET version = version WHERE id = $1 AND user_id = $2 \
             AND trashed_at IS NULL RETURNING id",
            "UPDATE chats SET version = version WHERE uuid = $1 AND tenant_id = $2 \
             AND trashed_at IS NULL RETURNING id",
        );
        let (chat_id,) = Self::bind_chat(sqlx::query_as::<DB, (i64,)>(sql), chat)
            .fetch_one(&mut *tx)
            .await?;
        let existing: i64 =
            sqlx::query_scalar::<DB, i64>("SELECT COUNT(*) FROM shares WHERE chat_id = $1")
                .bind(chat_id)
                .fetch_one(&mut *tx)
                .await?;
        if existing >= MAX_SHARES_PER_CHAT {
            return Err(StoreError::Conflict("too_many_shares"));
        }
        sqlx::query(
            "INSERT INTO shares (id, chat_id, snapshot, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(share.id.as_str())
        .bind(chat_id)
        .bind(share.snapshot.as_str())
        .bind(Timestamp::now().micros())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A share's snapshot, while its chat is live.
    pub async fn shared(&self, share_id: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar::<DB, String>(
            "SELECT s.snapshot FROM shares s JOIN chats c ON c.id = s.chat_id \
             WHERE s.id = $1 AND c.trashed_at IS NULL",
        )
        .bind(share_id)
        .fetch_optional(&self.reader)
        .await?)
    }

    /// Deletes one share of the caller's chat; `NotFound` unless the chat has it.
    pub async fn revoke_share(&self, chat: &ChatRef, share_id: &str) -> StoreResult<()> {
        let sql = by_ref(
            chat,
            "DELETE FROM shares WHERE id = $3 AND chat_id = \
             (SELECT id FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL) \
             RETURNING chat_id",
            "DELETE FROM shares WHERE id = $3 AND chat_id = \
             (SELECT id FROM chats WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL) \
             RETURNING chat_id",
        );
        let mut tx = self.begin_write().await?;
        Self::bind_chat(sqlx::query_as::<DB, (i64,)>(sql), chat)
            .bind(share_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the user and everything of theirs in one transaction: sessions, chats
    /// (trashed ones too, and tenant chats they own), messages, files, shares and search
    /// entries (which go with their rows).
    pub async fn erase_user(&self, tenant_id: Uuid, user_id: i64) -> StoreResult<ErasedUser> {
        let tenant = tenant_id.hyphenated().to_string();
        let mut tx = self.begin_write().await?;
        // The user's row, then their chats, locked (PostgreSQL): no chat of theirs can be
        // created, and no message appended to one, while the counts are taken and the rows
        // deleted.
        sqlx::query_scalar::<DB, i64>(&format!(
            "SELECT id FROM users WHERE id = $1 AND tenant_id = $2{}",
            DB::FOR_UPDATE
        ))
        .bind(user_id)
        .bind(tenant.as_str())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query_scalar::<DB, i64>(&format!(
            "SELECT id FROM chats WHERE user_id = $1{}",
            DB::FOR_UPDATE
        ))
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        let count = |sql: &'static str| sqlx::query_scalar::<DB, i64>(sql).bind(user_id);
        let messages = count(
            "SELECT COUNT(*) FROM messages WHERE chat_id IN (SELECT id FROM chats WHERE user_id = $1)",
        )
        .fetch_one(&mut *tx)
        .await?;
        let files = count(
            "SELECT COUNT(*) FROM files WHERE chat_id IN (SELECT id FROM chats WHERE user_id = $1)",
        )
        .fetch_one(&mut *tx)
        .await?;
        let shares = count(
            "SELECT COUNT(*) FROM shares WHERE chat_id IN (SELECT id FROM chats WHERE user_id = $1)",
        )
        .fetch_one(&mut *tx)
        .await?;
        let sessions =
            sqlx::query_scalar::<DB, Vec<u8>>("SELECT token_hash FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
        Self::record_erasure(&mut tx, user_id).await?;
        let deleted = sqlx::query_as::<DB, ChatUsageRow>(concat!(
            "DELETE FROM chats WHERE user_id = $1 RETURNING ",
            chat_columns!(),
            ", message_count, message_bytes"
        ))
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        Self::release_bytes(&mut tx, &deleted).await?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // Decoded before the commit: a row that cannot be read fails the erasure whole.
        let deleted = chats(deleted.into_iter().map(|row| row.chat).collect())?;
        tx.commit().await?;
        Ok(ErasedUser {
            chats: deleted,
            messages,
            files,
            shares,
            sessions,
        })
    }

    /// Records the user's chats and sessions as erased, for every node's revocation
    /// watcher to close their sockets (the erasure may come from the CLI, another
    /// process); drops records older than [`KEEP_ERASURES`].
    async fn record_erasure(tx: &mut sqlx::Transaction<'_, DB>, user_id: i64) -> StoreResult<()> {
        let now = Timestamp::now().micros();
        let keep = i64::try_from(KEEP_ERASURES.as_micros()).unwrap_or(i64::MAX);
        for sql in [
            "DELETE FROM erased_chats WHERE erased_at < $1",
            "DELETE FROM ended_sessions WHERE ended_at < $1",
        ] {
            sqlx::query::<DB>(sql)
                .bind(now.saturating_sub(keep))
                .execute(&mut **tx)
                .await?;
        }
        for sql in [
            "INSERT INTO erased_chats (chat_id, chat_uuid, version, erased_at) \
             SELECT id, uuid, version, $2 FROM chats WHERE user_id = $1 \
             ON CONFLICT (chat_id) DO NOTHING",
            "INSERT INTO ended_sessions (token_hash, ended_at) \
             SELECT token_hash, $2 FROM sessions WHERE user_id = $1 \
             ON CONFLICT (token_hash) DO NOTHING",
        ] {
            sqlx::query::<DB>(sql)
                .bind(user_id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// One batch of the sweeper: up to `limit` chats trashed before `trashed_before`
    /// (with `Some`), else up to `limit` of the tenant's chats last changed before
    /// `idle_before`, deleted in one short transaction. `None` when another node holds
    /// the sweep lock. The condition stands in the outer `WHERE` too: on PostgreSQL a
    /// row that a restore or an append changed while the delete waited for it is
    /// checked again, and kept.
    pub async fn sweep_batch(&self, batch: &SweepBatch) -> StoreResult<Option<Vec<ChatRecord>>> {
        let mut tx = self.begin_write().await?;
        if let Some(lock) = DB::SWEEP_LOCK_SQL {
            let ours: i64 = sqlx::query_scalar::<DB, i64>(lock)
                .fetch_one(&mut *tx)
                .await?;
            if ours == 0 {
                return Ok(None);
            }
        }
        let deleted = match batch {
            SweepBatch::Trash {
                trashed_before,
                limit,
            } => {
                sqlx::query_as::<DB, ChatUsageRow>(concat!(
                    "DELETE FROM chats WHERE id IN (SELECT id FROM chats \
                     WHERE trashed_at IS NOT NULL AND trashed_at < $1 LIMIT $2) \
                     AND trashed_at IS NOT NULL AND trashed_at < $1 RETURNING ",
                    chat_columns!(),
                    ", message_count, message_bytes"
                ))
                .bind(trashed_before.micros())
                .bind(i64::from(*limit))
                .fetch_all(&mut *tx)
                .await?
            }
            SweepBatch::Idle {
                tenant_id,
                idle_before,
                limit,
            } => {
                sqlx::query_as::<DB, ChatUsageRow>(concat!(
                    "DELETE FROM chats WHERE id IN (SELECT id FROM chats \
                     WHERE tenant_id = $1 AND updated_at < $2 LIMIT $3) \
                     AND tenant_id = $1 AND updated_at < $2 RETURNING ",
                    chat_columns!(),
                    ", message_count, message_bytes"
                ))
                .bind(tenant_id.hyphenated().to_string())
                .bind(idle_before.micros())
                .bind(i64::from(*limit))
                .fetch_all(&mut *tx)
                .await?
            }
        };
        Self::release_bytes(&mut tx, &deleted).await?;
        // Decoded before the commit, so what is deleted is always reported.
        let deleted = chats(deleted.into_iter().map(|row| row.chat).collect())?;
        tx.commit().await?;
        Ok(Some(deleted))
    }

    /// Sets a tenant's own retention (`None`: the server's).
    pub async fn set_tenant_retention(
        &self,
        tenant_id: Uuid,
        days: Option<i64>,
    ) -> StoreResult<()> {
        let result = sqlx::query("UPDATE tenants SET retention_days = $2 WHERE id = $1")
            .bind(tenant_id.hyphenated().to_string())
            .bind(days)
            .execute(&self.writer)
            .await?;
        if DB::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
