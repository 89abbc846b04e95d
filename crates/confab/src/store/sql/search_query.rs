//! Searches through sqlx (PostgreSQL, and SQLite databases in memory): the reads a
//! search makes ([`SearchReads`]) as statements on one transaction. The ranking itself is
//! `store/search/bands.rs`.

use futures_util::TryStreamExt as _;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{Sql, SqlEngine};
use crate::domain::search::score::Scorer;
use crate::domain::search::Query;
use crate::domain::Timestamp;
use crate::store::search::bands::{self, Detail, Found, Kind, SearchReads};
use crate::store::search::{SearchHit, SearchRequest, SNIPPET_SOURCE_CHARS};
use crate::store::StoreResult;

/// A message hit's details, if the message is in the scope (`$1` message id, `$2`
/// tenant, `$3` user or NULL), with the first `$4` characters of its text. The band
/// statement already kept to the scope; this checks it again where the details are read.
/// The columns are [`Detail`]'s.
const MESSAGE_DETAIL_SQL: &str = "\
SELECT m.actor, m.created_at, substr(m.message, 1, CAST($4 AS INTEGER)) AS text,
       c.id AS chat_id, c.uuid AS chat_uuid, c.name AS chat_name
FROM messages m JOIN chats c ON c.id = m.chat_id
WHERE m.id = $1 AND c.tenant_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR c.user_id = $3)
  AND c.trashed_at IS NULL";

/// A chat name hit's details, as [`MESSAGE_DETAIL_SQL`] (`$1` chat id); its text is the
/// name.
const NAME_DETAIL_SQL: &str = "\
SELECT CAST(NULL AS TEXT) AS actor, c.created_at, substr(c.name, 1, CAST($4 AS INTEGER)) AS text,
       c.id AS chat_id, c.uuid AS chat_uuid, c.name AS chat_name
FROM chats c
WHERE c.id = $1 AND c.tenant_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR c.user_id = $3)
  AND c.trashed_at IS NULL";

/// The details statement of `kind`.
pub(crate) fn detail_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Messages => MESSAGE_DETAIL_SQL,
        Kind::ChatNames => NAME_DETAIL_SQL,
    }
}

/// A search's reads on one sqlx transaction, with the values it binds made once.
struct SqlxReads<'a, DB: SqlEngine> {
    tx: &'a mut DB::Connection,
    request: &'a SearchRequest,
    tenant: String,
    chat: Option<String>,
    expression: String,
}

impl<DB> SearchReads for SqlxReads<'_, DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn term_count(&mut self, term: &Query, cap: u32) -> StoreResult<u32> {
        let scope = &self.request.scope;
        let count: i64 = sqlx::query_scalar::<DB, i64>(DB::TERM_COUNT_SQL)
            .bind(DB::search_expression(term, scope))
            .bind(self.tenant.as_str())
            .bind(scope.user_id)
            .bind(self.chat.as_deref())
            .bind(i64::from(cap))
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn band(&mut self, kind: Kind, below: i64) -> StoreResult<Found> {
        let scope = &self.request.scope;
        let sql = match kind {
            Kind::Messages => DB::MESSAGE_BAND_SQL,
            Kind::ChatNames => DB::NAME_BAND_SQL,
        };
        let mut rows = sqlx::query_as::<DB, (i64, String)>(sql)
            .bind(self.expression.as_str())
            .bind(self.tenant.as_str())
            .bind(scope.user_id)
            .bind(self.chat.as_deref())
            .bind(scope.actor.map(|a| a.as_str()))
            .bind(scope.since.map(Timestamp::micros))
            .bind(scope.until.map(Timestamp::micros))
            .bind(below)
            .bind(i64::from(self.request.band_size))
            .bind(SNIPPET_SOURCE_CHARS as i64)
            .fetch(&mut *self.tx);
        // Rows are scored as they stream in; no text is kept.
        let mut scorer = Scorer::new(&self.request.query);
        let mut found = Vec::new();
        while let Some((id, text)) = rows.try_next().await? {
            found.push((id, scorer.matched(&text)));
        }
        Ok(found)
    }

    async fn detail(&mut self, kind: Kind, id: i64) -> StoreResult<Option<Detail>> {
        Ok(sqlx::query_as::<DB, Detail>(detail_sql(kind))
            .bind(id)
            .bind(self.tenant.as_str())
            .bind(self.request.scope.user_id)
            .bind(SNIPPET_SOURCE_CHARS as i64)
            .fetch_optional(&mut *self.tx)
            .await?)
    }
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
    usize: ColumnIndex<DB::Row>,
{
    /// One page of hits for `request` ([`bands::answer`]), read in one transaction.
    pub(crate) async fn search(&self, request: &SearchRequest) -> StoreResult<Vec<SearchHit>> {
        let mut tx = self.begin_read().await?;
        let scope = &request.scope;
        let scoped = scope.user_id.is_some() || scope.chat_uuid.is_some();
        let scoped_sql = if scoped { DB::SCOPED_SEARCH_SQL } else { &[] };
        for statement in DB::SEARCH_SESSION_SQL.iter().chain(scoped_sql) {
            sqlx::query::<DB>(statement).execute(&mut *tx).await?;
        }
        let mut reads = SqlxReads::<DB> {
            tx: &mut tx,
            request,
            tenant: scope.tenant_id.hyphenated().to_string(),
            chat: scope.chat_uuid.map(|u| u.hyphenated().to_string()),
            expression: DB::search_expression(&request.query, scope),
        };
        let hits = bands::answer(&mut reads, request).await?;
        tx.commit().await?;
        Ok(hits)
    }
}
