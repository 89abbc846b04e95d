//! Answering a search, once for both engines. The engine finds matches (its index, newest
//! first, a band at a time); confab scores them (`domain/search/score.rs`), so both
//! engines rank alike; then the page's details are read.
//!
//! Ranking a band rather than every match bounds a search's work by the band, not by how
//! common its words are: the newest `band_size` matching messages and chat names are
//! ranked together, and the results continue with the next older band.

use futures_util::TryStreamExt as _;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::{parse_actor, parse_uuid};
use super::{Sql, SqlEngine};
use crate::domain::cursor::{Band, SearchPosition};
use crate::domain::search::score::{self, Matched};
use crate::domain::search::Query;
use crate::domain::Timestamp;
use crate::store::search::{SearchHit, SearchRequest, SNIPPET_SOURCE_CHARS};
use crate::store::StoreResult;

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
/// tenant, `$3` user or NULL), with the first `$4` characters of its text. The band
/// statement already kept to the scope; this checks it again where the details are read.
const MESSAGE_DETAIL_SQL: &str = "\
SELECT m.actor, m.created_at, substr(m.message, 1, CAST($4 AS INTEGER)) AS text,
       c.id AS chat_id,
       c.uuid AS chat_uuid, c.name AS chat_name
FROM messages m JOIN chats c ON c.id = m.chat_id
WHERE m.id = $1 AND c.tenant_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR c.user_id = $3)
  AND c.trashed_at IS NULL";

/// A chat name hit's details, as [`MESSAGE_DETAIL_SQL`] (`$1` chat id).
const NAME_DETAIL_SQL: &str = "\
SELECT c.created_at, c.id AS chat_id, c.uuid AS chat_uuid, c.name AS chat_name
FROM chats c
WHERE c.id = $1 AND c.tenant_id = $2 AND (CAST($3 AS BIGINT) IS NULL OR c.user_id = $3)
  AND c.trashed_at IS NULL";

/// One band's order: better (lower) score first, then the newest (highest doc).
fn band_order(a: &SearchPosition, b: &SearchPosition) -> std::cmp::Ordering {
    a.score.total_cmp(&b.score).then(b.doc.cmp(&a.doc))
}

/// Whether `position` comes after `cursor` in one band's order.
fn comes_after(position: &SearchPosition, cursor: &SearchPosition) -> bool {
    band_order(position, cursor).is_gt()
}

/// The values a search binds for its scope and query, made once per search.
struct Bound {
    tenant: String,
    chat: Option<String>,
    expression: String,
}

impl Bound {
    fn new<DB: SqlEngine>(request: &SearchRequest) -> Bound {
        let scope = &request.scope;
        Bound {
            tenant: scope.tenant_id.hyphenated().to_string(),
            chat: scope.chat_uuid.map(|u| u.hyphenated().to_string()),
            expression: DB::search_expression(&request.query, scope),
        }
    }
}

/// One kind's matches in a band: `(id, how it matches)`, newest first.
type Found = Vec<(i64, Matched)>;

/// The band as a cursor records it (only ids below the newest match: the same matches
/// when the next page asks again, whatever was written since), and the band after it
/// (of `size` matches per kind).
fn bands(messages: &Found, names: &Found, size: usize) -> (Band, Band) {
    let below = |found: &Found| found.first().map_or(Band::NONE_LEFT, |(id, _)| id + 1);
    let next = |found: &Found| match found.last() {
        Some((id, _)) if found.len() >= size => *id,
        _ => Band::NONE_LEFT,
    };
    (
        Band {
            messages_below: below(messages),
            names_below: below(names),
        },
        Band {
            messages_below: next(messages),
            names_below: next(names),
        },
    )
}

/// The band's matches as positions, best first: scored with `weights` against the
/// average length of their own kind. `doc` is negated for names.
fn ranked(band: Band, messages: &Found, names: &Found, weights: &[f64]) -> Vec<SearchPosition> {
    let mut positions = Vec::with_capacity(messages.len() + names.len());
    for (found, sign) in [(messages, 1), (names, -1)] {
        let average = score::average_length(found.iter().map(|(_, m)| m));
        positions.extend(found.iter().map(|(id, matched)| SearchPosition {
            band,
            score: -score::bm25(matched, weights, average),
            doc: sign * id,
        }));
    }
    positions.sort_by(band_order);
    positions
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
    /// One page of hits for `request`, best first within each band, in two phases on
    /// one snapshot: rank (reading each band's matching texts to score them, keeping
    /// only how they match), then read the details of the page's hits.
    pub(crate) async fn search(&self, request: &SearchRequest) -> StoreResult<Vec<SearchHit>> {
        let mut tx = self.begin_search().await?;
        let scope = &request.scope;
        let bound = Bound::new::<DB>(request);
        let scoped = scope.user_id.is_some() || scope.chat_uuid.is_some();
        let scoped_sql = if scoped { DB::SCOPED_SEARCH_SQL } else { &[] };
        for statement in DB::SEARCH_SESSION_SQL.iter().chain(scoped_sql) {
            sqlx::query::<DB>(statement).execute(&mut *tx).await?;
        }
        let weights = Self::term_weights(&mut tx, request, &bound).await?;
        let limit = request.limit as usize;
        let mut band = request.after.map_or(Band::FIRST, |a| a.band);
        let mut after = request.after;
        let mut page: Vec<SearchPosition> = Vec::with_capacity(limit);
        loop {
            let messages = Self::band(
                &mut tx,
                request,
                &bound,
                DB::MESSAGE_BAND_SQL,
                band.messages_below,
            )
            .await?;
            let names = Self::band(
                &mut tx,
                request,
                &bound,
                DB::NAME_BAND_SQL,
                band.names_below,
            )
            .await?;
            let (this, next) = bands(&messages, &names, request.band_size as usize);
            let positions = ranked(this, &messages, &names, &weights);
            let wanted = limit - page.len();
            page.extend(
                positions
                    .into_iter()
                    .filter(|p| after.is_none_or(|cursor| comes_after(p, &cursor)))
                    .take(wanted),
            );
            if page.len() >= limit || next.is_exhausted() {
                break;
            }
            band = next;
            after = None;
        }
        let hits = Self::details(&mut tx, request, &bound, page).await?;
        tx.commit().await?;
        Ok(hits)
    }

    /// Each term's weight: one term weighs 1 (its weight orders nothing), several by how
    /// many messages of the scope each matches (see [`score::weight`]).
    async fn term_weights(
        tx: &mut DB::Connection,
        request: &SearchRequest,
        bound: &Bound,
    ) -> StoreResult<Vec<f64>> {
        let terms = &request.query.terms;
        if terms.len() < 2 {
            return Ok(vec![1.0; terms.len()]);
        }
        let scope = &request.scope;
        let mut weights = Vec::with_capacity(terms.len());
        for term in terms {
            let alone = Query {
                terms: vec![term.clone()],
            };
            let count: i64 = sqlx::query_scalar::<DB, i64>(DB::TERM_COUNT_SQL)
                .bind(DB::search_expression(&alone, scope))
                .bind(bound.tenant.as_str())
                .bind(scope.user_id)
                .bind(bound.chat.as_deref())
                .bind(i64::from(score::COUNT_CAP))
                .fetch_one(&mut *tx)
                .await?;
            weights.push(score::weight(u32::try_from(count).unwrap_or(u32::MAX)));
        }
        Ok(weights)
    }

    /// The newest `band_size` matches of one kind below the id `below`, with how each
    /// matches (rows are scored as they stream in; no text is kept).
    async fn band(
        tx: &mut DB::Connection,
        request: &SearchRequest,
        bound: &Bound,
        sql: &'static str,
        below: i64,
    ) -> StoreResult<Found> {
        if below <= Band::NONE_LEFT {
            return Ok(Vec::new());
        }
        let scope = &request.scope;
        let mut rows = sqlx::query_as::<DB, (i64, String)>(sql)
            .bind(bound.expression.as_str())
            .bind(bound.tenant.as_str())
            .bind(scope.user_id)
            .bind(bound.chat.as_deref())
            .bind(scope.actor.map(|a| a.as_str()))
            .bind(scope.since.map(Timestamp::micros))
            .bind(scope.until.map(Timestamp::micros))
            .bind(below)
            .bind(i64::from(request.band_size))
            .bind(SNIPPET_SOURCE_CHARS as i64)
            .fetch(&mut *tx);
        let mut found = Vec::new();
        while let Some((id, text)) = rows.try_next().await? {
            found.push((id, Matched::new(&request.query, &text)));
        }
        // Newest first whatever order the engine returned them in.
        found.sort_unstable_by_key(|(id, _)| std::cmp::Reverse(*id));
        Ok(found)
    }

    /// The page's hits with their details (a hit whose row left the scope meanwhile is
    /// dropped).
    async fn details(
        tx: &mut DB::Connection,
        request: &SearchRequest,
        bound: &Bound,
        page: Vec<SearchPosition>,
    ) -> StoreResult<Vec<SearchHit>> {
        let scope = &request.scope;
        let mut hits = Vec::with_capacity(page.len());
        for position in page {
            let doc = position.doc;
            let hit = if doc > 0 {
                sqlx::query_as::<DB, MessageDetail>(MESSAGE_DETAIL_SQL)
                    .bind(doc)
                    .bind(bound.tenant.as_str())
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
                    .bind(bound.tenant.as_str())
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
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(ids: std::ops::RangeInclusive<i64>) -> Found {
        ids.rev()
            .map(|id| {
                let matched = Matched {
                    occurrences: vec![1],
                    length: 5,
                };
                (id, matched)
            })
            .collect()
    }

    #[test]
    fn a_full_band_continues_below_its_oldest_match_and_a_short_one_ends() {
        let full = found(1_001..=1_004);
        let short = found(7..=9);
        let (this, next) = bands(&full, &short, 4);
        assert_eq!(
            this,
            Band {
                messages_below: 1_005,
                names_below: 10
            }
        );
        assert_eq!(
            next,
            Band {
                messages_below: 1_001,
                names_below: 1
            }
        );
        let (this, next) = bands(&Vec::new(), &Vec::new(), 4);
        assert_eq!(
            (this, next),
            (
                Band {
                    messages_below: 1,
                    names_below: 1
                },
                this
            )
        );
    }

    #[test]
    fn equal_scores_rank_the_newest_first_and_names_after_messages() {
        let band = Band::FIRST;
        let positions = ranked(band, &found(3..=4), &found(3..=3), &[1.0]);
        let docs: Vec<i64> = positions.iter().map(|p| p.doc).collect();
        assert_eq!(docs, [4, 3, -3]);
        assert!(comes_after(&positions[1], &positions[0]));
        assert!(!comes_after(&positions[0], &positions[1]));
    }
}
