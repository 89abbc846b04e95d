//! Searches on a SQLite file through rusqlite, each whole on one blocking thread.
//!
//! A search reads a band of up to 500 rows per kind and scores each as it comes. Through
//! sqlx, every row crossed from the connection's thread to the task on a channel, as an
//! owned `String`; here the rows are scored where SQLite hands them over, borrowed from
//! its page, and the task waits once for the whole answer. The ranking is the one both
//! engines share (`store/search/bands.rs`).

use futures_util::FutureExt as _;
use rusqlite::types::Type;
use rusqlite::{Connection, ToSql};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use super::direct::{all_rows, bind_where_named};
use super::point_reads::{in_one_snapshot, PointReader};
use super::search::{expression, IN_ID_LIST, MESSAGE_BAND_SQL, NAME_BAND_SQL, TERM_COUNT_SQL};
use crate::domain::search::score::Scorer;
use crate::domain::search::Query;
use crate::domain::Timestamp;
use crate::store::search::bands::{self, Detail, Found, Kind, SearchReads};
use crate::store::search::{SearchHit, SearchRequest, SNIPPET_SOURCE_CHARS};
use crate::store::sql::search_query::{details_sql, id_list};
use crate::store::{StoreError, StoreResult};

/// How long a search waits for one of the running ones to end.
const WAIT_FOR_A_TURN: Duration = Duration::from_secs(30);

/// Read-only connections for searches, and how many searches may run at once (each
/// holds a blocking thread and a connection while it runs).
pub(super) struct SearchReader {
    connections: Arc<PointReader>,
    running: Arc<Semaphore>,
}

impl SearchReader {
    pub(super) fn new(connections: PointReader, at_once: usize) -> Self {
        SearchReader {
            connections: Arc::new(connections),
            running: Arc::new(Semaphore::new(at_once.max(1))),
        }
    }

    /// One page of hits for `request` ([`bands::answer`]), read in one snapshot.
    pub(super) async fn search(&self, request: &SearchRequest) -> StoreResult<Vec<SearchHit>> {
        // As long as a pool's connection is waited for; then busy (503, retry later).
        let permit =
            tokio::time::timeout(WAIT_FOR_A_TURN, Arc::clone(&self.running).acquire_owned())
                .await
                .map_err(|_| StoreError::Busy)?
                .map_err(|_| StoreError::Other(anyhow::anyhow!("the search gate closed")))?;
        let connections = Arc::clone(&self.connections);
        let request = request.clone();
        let searched = tokio::task::spawn_blocking(move || {
            let _running = permit;
            connections.with_connection(|conn| {
                in_one_snapshot(conn, |conn| {
                    let mut reads = DirectReads::new(conn, &request);
                    // Every read here is synchronous, so the answer is ready at the first
                    // poll.
                    bands::answer(&mut reads, &request)
                        .now_or_never()
                        .unwrap_or_else(|| {
                            Err(StoreError::Other(anyhow::anyhow!("a direct search waited")))
                        })
                })
            })
        })
        .await;
        searched.map_err(|e| StoreError::Other(anyhow::anyhow!("the search thread failed: {e}")))?
    }
}

/// A search's reads on one connection, with the values it binds made once.
struct DirectReads<'a> {
    conn: &'a Connection,
    request: &'a SearchRequest,
    tenant: String,
    chat: Option<String>,
    expression: String,
}

impl<'a> DirectReads<'a> {
    fn new(conn: &'a Connection, request: &'a SearchRequest) -> Self {
        let scope = &request.scope;
        DirectReads {
            conn,
            request,
            tenant: scope.tenant_id.hyphenated().to_string(),
            chat: scope.chat_uuid.map(|u| u.hyphenated().to_string()),
            expression: expression(&request.query, scope),
        }
    }
}

/// Characters of a text handed back (as the sqlx path binds it).
const SOURCE_CHARS: i64 = SNIPPET_SOURCE_CHARS as i64;

impl SearchReads for DirectReads<'_> {
    async fn term_count(&mut self, term: &Query, cap: u32) -> StoreResult<u32> {
        let scope = &self.request.scope;
        let term_expression = expression(term, scope);
        let cap = i64::from(cap);
        let values: [&dyn ToSql; 5] = [
            &term_expression,
            &self.tenant,
            &scope.user_id,
            &self.chat,
            &cap,
        ];
        let mut statement = self.conn.prepare_cached(TERM_COUNT_SQL)?;
        bind_where_named(&mut statement, &values)?;
        let count: i64 = match statement.raw_query().next()? {
            Some(row) => row.get(0)?,
            None => 0,
        };
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn band(&mut self, kind: Kind, below: i64) -> StoreResult<Found> {
        let scope = &self.request.scope;
        let sql = match kind {
            Kind::Messages => MESSAGE_BAND_SQL,
            Kind::ChatNames => NAME_BAND_SQL,
        };
        let actor = scope.actor.map(|a| a.as_str());
        let since = scope.since.map(Timestamp::micros);
        let until = scope.until.map(Timestamp::micros);
        let band_size = i64::from(self.request.band_size);
        let values: [&dyn ToSql; 10] = [
            &self.expression,
            &self.tenant,
            &scope.user_id,
            &self.chat,
            &actor,
            &since,
            &until,
            &below,
            &band_size,
            &SOURCE_CHARS,
        ];
        let mut statement = self.conn.prepare_cached(sql)?;
        bind_where_named(&mut statement, &values)?;
        let mut rows = statement.raw_query();
        let mut scorer = Scorer::new(&self.request.query);
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let text = row.get_ref(1)?.as_str().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(1, Type::Text, Box::new(e))
            })?;
            found.push((id, scorer.matched(text)));
        }
        Ok(found)
    }

    async fn details(&mut self, kind: Kind, ids: &[i64]) -> StoreResult<Vec<Detail>> {
        let ids = id_list(ids);
        let values: [&dyn ToSql; 4] = [
            &ids,
            &self.tenant,
            &self.request.scope.user_id,
            &SOURCE_CHARS,
        ];
        let details = all_rows(self.conn, &details_sql(kind, IN_ID_LIST), &values, |row| {
            Ok(Detail {
                id: row.get(0)?,
                actor: row.get(1)?,
                created_at: row.get(2)?,
                text: row.get(3)?,
                chat_id: row.get(4)?,
                chat_uuid: row.get(5)?,
                chat_name: row.get(6)?,
            })
        })?;
        Ok(details)
    }
}
