//! Search, once for both engines: writing documents in the writer's transaction,
//! answering a [`SearchRequest`] (the engine ranks, then the page's details are read),
//! and indexing rows written before search existed.
//!
//! What differs per engine (the document form, the query syntax, the statement) is in
//! [`SqlEngine`]; the parameters and columns here are the same for both.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::{parse_actor, parse_uuid};
use super::{Sql, SqlEngine};
use crate::domain::cursor::SearchPosition;
use crate::domain::Timestamp;
use crate::store::records::ChatRecord;
use crate::store::search::{SearchHit, SearchRequest, SNIPPET_SOURCE_CHARS};
use crate::store::StoreResult;
use uuid::Uuid;

/// Rows indexed per transaction when indexing an older database.
const BACKFILL_BATCH: i64 = 1_000;

/// A message hit's details (phase two).
#[derive(sqlx::FromRow)]
struct MessageDetail {
    actor: String,
    created_at: i64,
    text: String,
    chat_id: i64,
    chat_uuid: String,
    chat_name: String,
}

/// A chat name hit's details (phase two).
#[derive(sqlx::FromRow)]
struct NameDetail {
    created_at: i64,
    chat_id: i64,
    chat_uuid: String,
    chat_name: String,
}

/// A message hit's details, if the message is in the scope (`$1` message id, `$2`
/// tenant, `$3` user or NULL), with the first `$4` characters of its text. The rank
/// statement already kept to the scope; this checks it again where the details are read.
const MESSAGE_DETAIL_SQL: &str = "\
SELECT m.actor, m.created_at, substr(m.message, 1, CAST($4 AS INTEGER)) AS text,
       c.id AS chat_id,
       c.uuid AS chat_uuid, c.name AS chat_name
FROM messages m JOIN chats c ON c.id = m.chat_id
WHERE m.id = $1 AND c.tenant_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR c.user_id = $3)";

/// A chat name hit's details, as [`MESSAGE_DETAIL_SQL`] (`$1` chat id).
const NAME_DETAIL_SQL: &str = "\
SELECT c.created_at, c.id AS chat_id, c.uuid AS chat_uuid, c.name AS chat_name
FROM chats c
WHERE c.id = $1 AND c.tenant_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR c.user_id = $3)";

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

/// The search itself also reads and binds scores: the usual list plus `f64`. Each engine
/// calls it with its own types (see [`SqlEngine::search`]).
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
    for<'q> f64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// One page of hits for `request`, best first, in two phases on one snapshot: rank
    /// (only ids and scores, so no text is read for documents that do not make the
    /// page), then read the details of the page's hits.
    pub(crate) async fn search(&self, request: &SearchRequest) -> StoreResult<Vec<SearchHit>> {
        let scope = &request.scope;
        let after = request.after;
        let expression = DB::search_expression(&request.query, scope);
        let tenant = scope.tenant_id.hyphenated().to_string();
        let chat = scope.chat_uuid.map(|u| u.hyphenated().to_string());
        let mut tx = self.begin_read().await?;
        if let Some(limit) = DB::SEARCH_TIME_LIMIT_SQL {
            sqlx::query::<DB>(limit).execute(&mut *tx).await?;
        }
        let mut ranked: Vec<(i64, f64)> = Vec::new();
        for sql in [DB::MESSAGE_RANK_SQL, DB::NAME_RANK_SQL] {
            let rows = sqlx::query_as::<DB, (i64, f64)>(sql)
                .bind(expression.as_str())
                .bind(tenant.as_str())
                .bind(scope.user_id)
                .bind(chat.as_deref())
                .bind(scope.actor.map(|a| a.as_str()))
                .bind(scope.since.map(Timestamp::micros))
                .bind(scope.until.map(Timestamp::micros))
                .bind(after.map(|a| a.score))
                .bind(after.map(|a| a.doc))
                .bind(i64::from(request.limit))
                .fetch_all(&mut *tx)
                .await?;
            ranked.extend(rows);
        }
        // Best score first, then the newest message (the highest id); names (negative
        // docs) after messages of the same score.
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        ranked.truncate(request.limit as usize);
        let mut hits = Vec::with_capacity(ranked.len());
        for (doc, score) in ranked {
            let position = SearchPosition { score, doc };
            let hit = if doc > 0 {
                sqlx::query_as::<DB, MessageDetail>(MESSAGE_DETAIL_SQL)
                    .bind(doc)
                    .bind(tenant.as_str())
                    .bind(scope.user_id)
                    .bind(SNIPPET_SOURCE_CHARS as i64)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|d| -> StoreResult<SearchHit> {
                        Ok(SearchHit {
                            position,
                            chat_id: d.chat_id,
                            chat_uuid: parse_uuid(&d.chat_uuid)?,
                            chat_name: d.chat_name,
                            message_id: Some(doc),
                            actor: Some(parse_actor(&d.actor)?),
                            created_at: Timestamp(d.created_at),
                            text: d.text,
                        })
                    })
            } else {
                sqlx::query_as::<DB, NameDetail>(NAME_DETAIL_SQL)
                    .bind(-doc)
                    .bind(tenant.as_str())
                    .bind(scope.user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|d| -> StoreResult<SearchHit> {
                        Ok(SearchHit {
                            position,
                            chat_id: d.chat_id,
                            chat_uuid: parse_uuid(&d.chat_uuid)?,
                            text: d.chat_name.clone(),
                            chat_name: d.chat_name,
                            message_id: None,
                            actor: None,
                            created_at: Timestamp(d.created_at),
                        })
                    })
            };
            if let Some(hit) = hit {
                hits.push(hit?);
            }
        }
        tx.commit().await?;
        Ok(hits)
    }
}
