//! Search documents, once for both engines: written in the writer's transaction, and
//! indexed for rows written before search existed. Answering a search is in
//! `search_query.rs`.
//!
//! What differs per engine (the document form, the query syntax, the statement) is in
//! [`SqlEngine`]; the parameters and columns here are the same for both.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::parse_uuid;
use super::{Sql, SqlEngine};
use crate::store::records::ChatRecord;
use crate::store::StoreResult;
use uuid::Uuid;

/// Rows indexed per transaction when indexing an older database.
const BACKFILL_BATCH: i64 = 1_000;

/// What the backfill indexes: messages first, then chat names.
#[derive(Clone, Copy)]
enum Part {
    Messages,
    ChatNames,
}

impl Part {
    /// The next rows (`$1` done, `$2` upto, `$3` batch size) as (id, text, tenant).
    fn rows_sql(self) -> &'static str {
        match self {
            Part::Messages => {
                "SELECT m.id, m.message, c.tenant_id FROM messages m \
                 JOIN chats c ON c.id = m.chat_id \
                 WHERE m.id > $1 AND m.id <= $2 ORDER BY m.id LIMIT $3"
            }
            Part::ChatNames => {
                "SELECT id, name, tenant_id FROM chats \
                 WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3"
            }
        }
    }

    /// Records progress (`$1` the last id done).
    fn progress_sql(self) -> &'static str {
        match self {
            Part::Messages => "UPDATE search_backfill SET messages_done = $1",
            Part::ChatNames => "UPDATE search_backfill SET chats_done = $1",
        }
    }
}

/// The backfill's progress (see the migration `0005_search.sql`).
#[derive(sqlx::FromRow)]
struct Backfill {
    messages_upto: i64,
    messages_done: i64,
    chats_upto: i64,
    chats_done: i64,
}

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
    /// Puts a message's search document in the index, on `conn` inside the writer's
    /// transaction (for engines whose message INSERT does not take it).
    pub(crate) async fn index_message_in(
        conn: &mut DB::Connection,
        message_id: i64,
        document: String,
    ) -> StoreResult<()> {
        sqlx::query::<DB>(DB::INDEX_MESSAGE_SQL)
            .bind(message_id)
            .bind(document)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Puts a chat name's search document in the index (after the chat's INSERT or
    /// rename, in the same transaction).
    pub(crate) async fn index_chat_name_in(
        conn: &mut DB::Connection,
        chat: &ChatRecord,
    ) -> StoreResult<()> {
        Self::index_name_in(conn, chat.id, chat.tenant_id, &chat.name).await
    }

    async fn index_name_in(
        conn: &mut DB::Connection,
        chat_id: i64,
        tenant: Uuid,
        name: &str,
    ) -> StoreResult<()> {
        sqlx::query::<DB>(DB::INDEX_CHAT_NAME_SQL)
            .bind(chat_id)
            .bind(DB::search_document(name, tenant))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Indexes the messages and chat names written before search existed, a batch per
    /// transaction (a restart continues where it stopped). Returns how many rows it
    /// indexed.
    pub(crate) async fn backfill_search(&self) -> StoreResult<u64> {
        let mut indexed = 0u64;
        loop {
            let mut tx = self.begin_write().await?;
            let Some(progress) = sqlx::query_as::<DB, Backfill>(DB::BACKFILL_PROGRESS_SQL)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(indexed);
            };
            let (part, done, upto) = if progress.messages_done < progress.messages_upto {
                (
                    Part::Messages,
                    progress.messages_done,
                    progress.messages_upto,
                )
            } else if progress.chats_done < progress.chats_upto {
                (Part::ChatNames, progress.chats_done, progress.chats_upto)
            } else {
                sqlx::query::<DB>("DELETE FROM search_backfill")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(indexed);
            };
            let rows: Vec<(i64, String, String)> =
                sqlx::query_as::<DB, (i64, String, String)>(part.rows_sql())
                    .bind(done)
                    .bind(upto)
                    .bind(BACKFILL_BATCH)
                    .fetch_all(&mut *tx)
                    .await?;
            for (id, text, tenant) in &rows {
                let tenant = parse_uuid(tenant)?;
                match part {
                    Part::Messages => {
                        let document = DB::search_document(text, tenant);
                        Self::index_message_in(&mut tx, *id, document).await?
                    }
                    Part::ChatNames => Self::index_name_in(&mut tx, *id, tenant, text).await?,
                }
            }
            let reached = match rows.last() {
                Some((id, _, _)) if rows.len() as i64 == BACKFILL_BATCH => *id,
                _ => upto,
            };
            sqlx::query::<DB>(part.progress_sql())
                .bind(reached)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            indexed += rows.len() as u64;
            tracing::info!(indexed, "search index: indexing rows written before search");
        }
    }
}
