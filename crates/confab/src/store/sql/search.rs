//! Search, once for both engines: writing documents in the writer's transaction,
//! answering a [`SearchRequest`] with the engine's statement, and indexing rows written
//! before search existed.
//!
//! What differs per engine (the document form, the query syntax, the statement) is in
//! [`SqlEngine`]; the parameters and columns here are the same for both.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::{parse_actor, parse_uuid};
use super::{Sql, SqlEngine};
use crate::domain::cursor::SearchPosition;
use crate::domain::Timestamp;
use crate::store::search::{SearchHit, SearchRequest};
use crate::store::StoreResult;

/// Rows indexed per transaction when indexing an older database.
const BACKFILL_BATCH: i64 = 1_000;

#[derive(sqlx::FromRow)]
struct HitRow {
    score: f64,
    created_at: i64,
    doc: i64,
    chat_id: i64,
    chat_uuid: String,
    chat_name: String,
    message_id: Option<i64>,
    actor: Option<String>,
    text: String,
}

impl HitRow {
    fn into_hit(self) -> StoreResult<SearchHit> {
        Ok(SearchHit {
            position: SearchPosition {
                score: self.score,
                created_at: Timestamp(self.created_at),
                doc: self.doc,
            },
            chat_id: self.chat_id,
            chat_uuid: parse_uuid(&self.chat_uuid)?,
            chat_name: self.chat_name,
            message_id: self.message_id,
            actor: self.actor.as_deref().map(parse_actor).transpose()?,
            created_at: Timestamp(self.created_at),
            text: self.text,
        })
    }
}

/// What the backfill indexes: messages first, then chat names.
#[derive(Clone, Copy)]
enum Part {
    Messages,
    ChatNames,
}

impl Part {
    /// The next rows (`$1` done, `$2` upto, `$3` batch size) as (id, text).
    fn rows_sql(self) -> &'static str {
        match self {
            Part::Messages => {
                "SELECT id, message FROM messages WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3"
            }
            Part::ChatNames => {
                "SELECT id, name FROM chats WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3"
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
        chat_id: i64,
        name: &str,
    ) -> StoreResult<()> {
        sqlx::query::<DB>(DB::INDEX_CHAT_NAME_SQL)
            .bind(chat_id)
            .bind(DB::search_document(name))
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
            let rows: Vec<(i64, String)> = sqlx::query_as::<DB, (i64, String)>(part.rows_sql())
                .bind(done)
                .bind(upto)
                .bind(BACKFILL_BATCH)
                .fetch_all(&mut *tx)
                .await?;
            for (id, text) in &rows {
                match part {
                    Part::Messages => {
                        Self::index_message_in(&mut tx, *id, DB::search_document(text)).await?
                    }
                    Part::ChatNames => Self::index_chat_name_in(&mut tx, *id, text).await?,
                }
            }
            let reached = match rows.last() {
                Some((id, _)) if rows.len() as i64 == BACKFILL_BATCH => *id,
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

/// The search itself also reads scores and binds a flag: the usual list plus `f64` and
/// `bool`. Each engine calls it with its own types (see [`SqlEngine::search`]).
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
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> f64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// One page of hits for `request`, best first.
    pub(crate) async fn search(&self, request: &SearchRequest) -> StoreResult<Vec<SearchHit>> {
        let scope = &request.scope;
        let after = request.after;
        let rows = sqlx::query_as::<DB, HitRow>(DB::SEARCH_SQL)
            .bind(DB::search_expression(&request.query))
            .bind(scope.tenant_id.hyphenated().to_string())
            .bind(scope.user_id)
            .bind(scope.chat_uuid.map(|u| u.hyphenated().to_string()))
            .bind(scope.actor.map(|a| a.as_str()))
            .bind(scope.since.map(Timestamp::micros))
            .bind(scope.until.map(Timestamp::micros))
            .bind(scope.actor.is_none())
            .bind(after.map(|a| a.score))
            .bind(after.map(|a| a.created_at.micros()))
            .bind(after.map(|a| a.doc))
            .bind(i64::from(request.limit))
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(HitRow::into_hit).collect()
    }
}
