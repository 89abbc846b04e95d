//! Searches through sqlx (PostgreSQL, and SQLite databases in memory): the reads a
//! search makes ([`SearchReads`]) as statements on one transaction. The ranking itself is
//! `store/search/bands.rs`.

use std::time::Instant;

use futures_util::TryStreamExt as _;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{SearchExpression, SearchIndex, Sql, SqlEngine};
use crate::domain::search::score::Scorer;
use crate::domain::search::Query;
use crate::domain::Timestamp;
use crate::store::search::bands::{self, Detail, Found, Kind, SearchReads};
use crate::store::search::{SearchHit, SearchRequest, SNIPPET_SOURCE_CHARS};
use crate::store::{StoreError, StoreResult};

/// The details of message hits still in the scope, with the first `$4` characters of
/// each text: `$1` the ids as a list (`1,2,3`) which `ids` (the engine's
/// [`SqlEngine::IN_ID_LIST`]) tests, `$2` tenant, `$3` user or NULL. The band statement
/// already kept to the scope; this checks it again where the details are read, for the
/// whole page in one statement. The columns are [`Detail`]'s. `CROSS JOIN` keeps
/// SQLite's planner on the listed messages (it walked every message of the tenant's
/// chats checking each against the list: 320 ms at a million messages); PostgreSQL
/// plans it as the join it is.
fn message_details_sql(ids: &str) -> String {
    format!(
        "SELECT m.id, m.actor, m.created_at, substr(m.message, 1, CAST($4 AS INTEGER)) AS text,
       c.id AS chat_id, c.uuid AS chat_uuid, c.name AS chat_name
FROM messages m CROSS JOIN chats c
WHERE m.id {ids} AND c.id = m.chat_id AND c.tenant_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR c.user_id = $3)
  AND c.trashed_at IS NULL"
    )
}

/// The details of chat name hits, as [`message_details_sql`]; a name's text is the
/// name.
fn name_details_sql(ids: &str) -> String {
    format!(
        "SELECT c.id, CAST(NULL AS TEXT) AS actor, c.created_at,
       substr(c.name, 1, CAST($4 AS INTEGER)) AS text,
       c.id AS chat_id, c.uuid AS chat_uuid, c.name AS chat_name
FROM chats c
WHERE c.id {ids} AND c.tenant_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR c.user_id = $3)
  AND c.trashed_at IS NULL"
    )
}

/// The details statement of `kind`, with `ids` the engine's test of an id list.
pub(crate) fn details_sql(kind: Kind, ids: &str) -> String {
    match kind {
        Kind::Messages => message_details_sql(ids),
        Kind::ChatNames => name_details_sql(ids),
    }
}

/// `ids` as the list [`details_sql`] takes.
pub(crate) fn id_list(ids: &[i64]) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    ids.join(",")
}

/// A search's reads on one sqlx transaction, with the values it binds made once.
struct SqlxReads<'a, DB: SqlEngine> {
    tx: &'a mut DB::Connection,
    request: &'a SearchRequest,
    tenant: String,
    chat: Option<String>,
    expression: SearchExpression,
    /// When the search began.
    started: Instant,
}

/// The newest message id (0 when there is none): where the first window ends.
const NEWEST_MESSAGE_SQL: &str = "SELECT COALESCE(MAX(id), 0) FROM messages";

/// The width of the window after one of `width` ids that held `got` of the `wanted`
/// matches: wide enough for the rest at that density, half again, and at least twice as
/// wide (eight times after an empty one), so a sparse query needs few statements.
fn next_window(width: i64, got: usize, wanted: usize) -> i64 {
    if got == 0 {
        return width.saturating_mul(8);
    }
    let left = i64::try_from(wanted - got).unwrap_or(i64::MAX);
    let got = i64::try_from(got).unwrap_or(i64::MAX);
    let needed = width.saturating_mul(left).saturating_mul(3) / got.saturating_mul(2);
    needed.max(width.saturating_mul(2))
}

impl<DB> SqlxReads<'_, DB>
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
    /// Up to `limit` matches of `kind` below `below`, in one statement.
    async fn one_window(
        &mut self,
        kind: Kind,
        below: i64,
        limit: usize,
        mut scorer: Scorer<'_>,
    ) -> StoreResult<Found> {
        let mut found = Vec::new();
        self.window(kind, below, None, limit, &mut scorer, &mut found)
            .await?;
        Ok(found)
    }

    /// Up to `limit` matches of `kind` with ids below `below` (and from `from` on, where
    /// the engine's statement takes a window), newest first, scored into `found` as they
    /// stream in; no text is kept.
    async fn window(
        &mut self,
        kind: Kind,
        below: i64,
        from: Option<i64>,
        limit: usize,
        scorer: &mut Scorer<'_>,
        found: &mut Found,
    ) -> StoreResult<()> {
        let scope = &self.request.scope;
        let sql = match kind {
            Kind::Messages => DB::MESSAGE_BAND_SQL,
            Kind::ChatNames => DB::NAME_BAND_SQL,
        };
        let mut query = sqlx::query_as::<DB, (i64, String)>(sql)
            .bind(self.expression.lookup.as_str())
            .bind(self.tenant.as_str())
            .bind(scope.user_id)
            .bind(self.chat.as_deref())
            .bind(scope.actor.map(|a| a.as_str()))
            .bind(scope.since.map(Timestamp::micros))
            .bind(scope.until.map(Timestamp::micros))
            .bind(below)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(SNIPPET_SOURCE_CHARS as i64);
        if DB::SEARCH_INDEX.is_unordered() {
            query = query
                .bind(from.unwrap_or(0))
                .bind(self.expression.check.as_deref());
        }
        let mut rows = query.fetch(&mut *self.tx);
        while let Some((id, text)) = rows.try_next().await? {
            found.push((id, scorer.matched(&text)));
        }
        Ok(())
    }
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
        let expression = DB::search_expression(term, scope);
        let mut query = sqlx::query_scalar::<DB, i64>(DB::TERM_COUNT_SQL)
            .bind(expression.lookup.as_str())
            .bind(self.tenant.as_str())
            .bind(scope.user_id)
            .bind(self.chat.as_deref())
            .bind(i64::from(cap));
        if DB::SEARCH_INDEX.is_unordered() {
            query = query.bind(expression.check.as_deref());
        }
        let count: i64 = query.fetch_one(&mut *self.tx).await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn band(&mut self, kind: Kind, below: i64) -> StoreResult<Found> {
        let band = self.request.band_size as usize;
        let mut scorer = Scorer::new(&self.request.query);
        // An index that walks its lists newest first stops at the band itself, and chat
        // names are few: one statement each.
        let (
            SearchIndex::Unordered {
                sparse,
                dense,
                time_limit,
                time_left,
            },
            Kind::Messages,
        ) = (DB::SEARCH_INDEX, kind)
        else {
            return self.one_window(kind, below, band, scorer).await;
        };
        // Windows of ids, newest first, each as wide as the last one's matches suggest
        // the rest of the band needs, until the band is full or no id is left.
        let newest: i64 = sqlx::query_scalar::<DB, i64>(NEWEST_MESSAGE_SQL)
            .fetch_one(&mut *self.tx)
            .await?;
        let start = below.min(newest.saturating_add(1));
        let mut above = start;
        let mut width = i64::from(self.request.first_window);
        let mut found = Vec::new();
        let mut walks_off = false;
        while found.len() < band && above > 0 {
            if above < start {
                // What is left of the search's time bounds each later window.
                let left = time_limit
                    .saturating_sub(self.started.elapsed())
                    .as_millis();
                if left == 0 {
                    return Err(StoreError::TimedOut);
                }
                sqlx::query::<DB>(time_left)
                    .bind(left.to_string())
                    .execute(&mut *self.tx)
                    .await?;
            }
            let from = above.saturating_sub(width).max(0);
            let had = found.len();
            let wanted = band - had;
            self.window(kind, above, Some(from), wanted, &mut scorer, &mut found)
                .await?;
            let got = found.len() - had;
            if got * 4 < wanted && !walks_off {
                sqlx::query::<DB>(sparse).execute(&mut *self.tx).await?;
                walks_off = true;
            }
            width = next_window(width, got, wanted);
            above = from;
        }
        if walks_off {
            sqlx::query::<DB>(dense).execute(&mut *self.tx).await?;
        }
        Ok(found)
    }

    async fn details(&mut self, kind: Kind, ids: &[i64]) -> StoreResult<Vec<Detail>> {
        Ok(
            sqlx::query_as::<DB, Detail>(&details_sql(kind, DB::IN_ID_LIST))
                .bind(id_list(ids))
                .bind(self.tenant.as_str())
                .bind(self.request.scope.user_id)
                .bind(SNIPPET_SOURCE_CHARS as i64)
                .fetch_all(&mut *self.tx)
                .await?,
        )
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
        let started = Instant::now();
        let mut tx = self.begin_read().await?;
        let scope = &request.scope;
        for statement in DB::SEARCH_SESSION_SQL {
            sqlx::query::<DB>(statement).execute(&mut *tx).await?;
        }
        let mut reads = SqlxReads::<DB> {
            tx: &mut tx,
            request,
            tenant: scope.tenant_id.hyphenated().to_string(),
            chat: scope.chat_uuid.map(|u| u.hyphenated().to_string()),
            expression: DB::search_expression(&request.query, scope),
            started,
        };
        let hits = bands::answer(&mut reads, request).await?;
        tx.commit().await?;
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::next_window;

    #[test]
    fn windows_widen_to_what_the_band_still_needs() {
        // 100 of 500 in 20,000 ids: the other 400 need 80,000 more, half again 120,000.
        assert_eq!(next_window(20_000, 100, 500), 120_000);
        // Nearly full: still at least twice as wide.
        assert_eq!(next_window(20_000, 499, 500), 40_000);
        assert_eq!(next_window(20_000, 0, 500), 160_000);
        assert_eq!(next_window(i64::MAX / 2, 0, 500), i64::MAX);
        assert_eq!(next_window(i64::MAX / 2, 1, 500), i64::MAX / 2 * 2);
    }
}
