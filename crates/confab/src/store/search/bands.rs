//! Answering a search, once for both engines and both SQLite drivers. The engine finds
//! matches (its index, newest first, a band at a time); confab scores them
//! (`domain/search/score.rs`), so both engines rank alike; then the page's details are
//! read. What the engine reads is behind [`SearchReads`].
//!
//! Ranking a band rather than every match bounds a search's work by the band, not by how
//! common its words are: the newest `band_size` matching messages and chat names are
//! ranked together, and the results continue with the next older band.

use std::collections::HashMap;

use super::{SearchHit, SearchRequest};
use crate::domain::cursor::{Band, SearchPosition};
use crate::domain::search::score::{self, Matched};
use crate::domain::search::Query;
use crate::domain::Timestamp;
use crate::store::sql::rows::{parse_actor, parse_uuid};
use crate::store::StoreResult;

/// The two kinds of document a search matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Messages,
    ChatNames,
}

/// One kind's matches in a band: `(id, how it matches)`.
pub(crate) type Found = Vec<(i64, Matched)>;

/// A hit's details as the engine reads them (phase two), in the columns' order.
/// `actor` is `None` for a chat name, whose `text` is the name.
#[derive(sqlx::FromRow)]
pub(crate) struct Detail {
    /// The message's id, or the chat's for a name.
    pub id: i64,
    pub actor: Option<String>,
    pub created_at: i64,
    pub text: String,
    pub chat_id: i64,
    pub chat_uuid: String,
    pub chat_name: String,
}

/// What answering a search reads, all in one snapshot, within the request's scope.
pub(crate) trait SearchReads {
    /// How many messages `term` (a query of one term) matches, counted up to `cap`.
    async fn term_count(&mut self, term: &Query, cap: u32) -> StoreResult<u32>;
    /// The newest `band_size` matches of `kind` with an id below `below`, each with how
    /// it matches the query (in any order).
    async fn band(&mut self, kind: Kind, below: i64) -> StoreResult<Found>;
    /// The details of the matches `ids` of `kind` that are still in the scope, in any
    /// order.
    async fn details(&mut self, kind: Kind, ids: &[i64]) -> StoreResult<Vec<Detail>>;
}

/// One page of hits for `request`, best first within each band, in two phases: rank
/// (reading each band's matching texts to score them, keeping only how they match), then
/// read the details of the page's hits.
pub(crate) async fn answer(
    reads: &mut impl SearchReads,
    request: &SearchRequest,
) -> StoreResult<Vec<SearchHit>> {
    let limit = request.limit as usize;
    let mut weights: Option<Vec<f64>> = None;
    let mut band = request.after.map_or(Band::FIRST, |a| a.band);
    let mut after = request.after;
    let mut page: Vec<SearchPosition> = Vec::with_capacity(limit);
    loop {
        let messages = newest(reads, Kind::Messages, band.messages_below).await?;
        let names = newest(reads, Kind::ChatNames, band.names_below).await?;
        let weights = match &mut weights {
            Some(weights) => weights,
            none => none.insert(term_weights(reads, request, messages.len()).await?),
        };
        let (this, next) = bands(&messages, &names, request.band_size as usize);
        let positions = ranked(this, &messages, &names, weights);
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
    let mut details = HashMap::with_capacity(page.len());
    for kind in [Kind::Messages, Kind::ChatNames] {
        let ids: Vec<i64> = page
            .iter()
            .map(|p| kind_and_id(p.doc))
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        for detail in reads.details(kind, &ids).await? {
            details.insert(doc_of(kind, detail.id), detail);
        }
    }
    let mut hits = Vec::with_capacity(page.len());
    for position in page {
        let (kind, _) = kind_and_id(position.doc);
        if let Some(detail) = details.remove(&position.doc) {
            hits.push(hit(position, kind, detail)?);
        }
    }
    Ok(hits)
}

/// A ranked document's kind and row id: messages are positive docs, chat names negative.
fn kind_and_id(doc: i64) -> (Kind, i64) {
    if doc > 0 {
        (Kind::Messages, doc)
    } else {
        (Kind::ChatNames, -doc)
    }
}

/// The ranked document of row `id` of `kind` (see [`kind_and_id`]).
fn doc_of(kind: Kind, id: i64) -> i64 {
    match kind {
        Kind::Messages => id,
        Kind::ChatNames => -id,
    }
}

/// Each term's weight: one term weighs 1 (its weight orders nothing), several by how
/// many messages of the scope each matches (see [`score::weight`]). `in_band` messages
/// of the scope match them all: when that is the cap or more, so is every term's count,
/// and nothing is counted (on PostgreSQL a count reads the term's whole index list).
async fn term_weights(
    reads: &mut impl SearchReads,
    request: &SearchRequest,
    in_band: usize,
) -> StoreResult<Vec<f64>> {
    let terms = &request.query.terms;
    if terms.len() < 2 {
        return Ok(vec![1.0; terms.len()]);
    }
    if in_band >= score::COUNT_CAP as usize {
        return Ok(vec![score::weight(score::COUNT_CAP); terms.len()]);
    }
    let mut weights = Vec::with_capacity(terms.len());
    for term in terms {
        let alone = Query {
            terms: vec![term.clone()],
        };
        let count = reads.term_count(&alone, score::COUNT_CAP).await?;
        weights.push(score::weight(count));
    }
    Ok(weights)
}

/// The newest matches of `kind` below `below`, newest first.
async fn newest(reads: &mut impl SearchReads, kind: Kind, below: i64) -> StoreResult<Found> {
    if below <= Band::NONE_LEFT {
        return Ok(Vec::new());
    }
    let mut found = reads.band(kind, below).await?;
    found.sort_unstable_by_key(|(id, _)| std::cmp::Reverse(*id));
    Ok(found)
}

fn hit(position: SearchPosition, kind: Kind, detail: Detail) -> StoreResult<SearchHit> {
    let actor = match (kind, detail.actor) {
        (Kind::Messages, Some(actor)) => Some(parse_actor(&actor)?),
        _ => None,
    };
    Ok(SearchHit {
        position,
        chat_id: detail.chat_id,
        chat_uuid: parse_uuid(&detail.chat_uuid)?,
        chat_name: detail.chat_name,
        message_id: (kind == Kind::Messages).then_some(position.doc),
        actor,
        created_at: Timestamp(detail.created_at),
        text: detail.text,
    })
}

/// One band's order: better (lower) score first, then the newest (highest doc).
fn band_order(a: &SearchPosition, b: &SearchPosition) -> std::cmp::Ordering {
    a.score.total_cmp(&b.score).then(b.doc.cmp(&a.doc))
}

/// Whether `position` comes after `cursor` in one band's order.
fn comes_after(position: &SearchPosition, cursor: &SearchPosition) -> bool {
    band_order(position, cursor).is_gt()
}

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
/// average length of their own kind (see [`doc_of`]).
fn ranked(band: Band, messages: &Found, names: &Found, weights: &[f64]) -> Vec<SearchPosition> {
    let mut positions = Vec::with_capacity(messages.len() + names.len());
    for (found, kind) in [(messages, Kind::Messages), (names, Kind::ChatNames)] {
        let average = score::average_length(found.iter().map(|(_, m)| m));
        positions.extend(found.iter().map(|(id, matched)| SearchPosition {
            band,
            score: -score::bm25(matched, weights, average),
            doc: doc_of(kind, *id),
        }));
    }
    positions.sort_by(band_order);
    positions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search::SearchScope;

    /// A first page of 20 for `q`, tenant-wide, in bands of 500.
    fn request_for(q: &str) -> SearchRequest {
        SearchRequest {
            scope: SearchScope::default(),
            query: Query::parse(q).expect("parses"),
            after: None,
            limit: 20,
            band_size: 500,
            first_window: 20_000,
        }
    }

    /// Reads that only count terms, each held by `held` messages.
    struct Counts {
        held: u32,
        counted: usize,
    }

    impl SearchReads for Counts {
        async fn term_count(&mut self, _term: &Query, cap: u32) -> StoreResult<u32> {
            self.counted += 1;
            Ok(self.held.min(cap))
        }
        async fn band(&mut self, _kind: Kind, _below: i64) -> StoreResult<Found> {
            Ok(Vec::new())
        }
        async fn details(&mut self, _kind: Kind, _ids: &[i64]) -> StoreResult<Vec<Detail>> {
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn a_band_of_the_cap_or_more_needs_no_counting() {
        let request = request_for("heron lake");
        let cap = score::COUNT_CAP as usize;
        let mut reads = Counts {
            held: 9,
            counted: 0,
        };
        let weights = term_weights(&mut reads, &request, cap - 1)
            .await
            .expect("weights");
        assert_eq!((reads.counted, weights), (2, vec![score::weight(9); 2]));
        // Every term is in at least the band's matches: counting would give the cap.
        let mut reads = Counts {
            held: 10_000,
            counted: 0,
        };
        let skipped = term_weights(&mut reads, &request, cap)
            .await
            .expect("weights");
        assert_eq!(reads.counted, 0);
        let counted = term_weights(&mut reads, &request, 0)
            .await
            .expect("weights");
        assert_eq!((reads.counted, &skipped), (2, &counted));
    }

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

    /// A band of three messages and one chat name (chat 5 beside message 5), whose
    /// details come back in no order, without `missing`.
    struct Page {
        missing: Option<i64>,
    }

    impl SearchReads for Page {
        async fn term_count(&mut self, _term: &Query, cap: u32) -> StoreResult<u32> {
            Ok(cap)
        }
        async fn band(&mut self, kind: Kind, _below: i64) -> StoreResult<Found> {
            let query = Query::parse("heron").expect("parses");
            let texts: &[(i64, &str)] = match kind {
                Kind::Messages => &[(5, "heron"), (3, "a heron here"), (2, "heron heron")],
                Kind::ChatNames => &[(5, "heron notes")],
            };
            Ok(texts
                .iter()
                .map(|&(id, text)| (id, Matched::new(&query, text)))
                .collect())
        }
        async fn details(&mut self, kind: Kind, ids: &[i64]) -> StoreResult<Vec<Detail>> {
            let mut ids = ids.to_vec();
            ids.reverse();
            Ok(ids
                .into_iter()
                .filter(|&id| kind == Kind::ChatNames || Some(id) != self.missing)
                .map(|id| Detail {
                    id,
                    actor: (kind == Kind::Messages).then(|| "user".to_string()),
                    created_at: id,
                    text: format!("{kind:?} {id}"),
                    chat_id: 5,
                    chat_uuid: "5ea4c400-0000-4000-8000-00000000000a".into(),
                    chat_name: "heron notes".into(),
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn a_pages_details_keep_its_order_and_kinds_and_drop_vanished_rows() {
        let request = request_for("heron");
        let shown = |hits: &[SearchHit]| -> Vec<(i64, Option<i64>, String)> {
            hits.iter()
                .map(|h| (h.position.doc, h.message_id, h.text.clone()))
                .collect()
        };
        let all = answer(&mut Page { missing: None }, &request)
            .await
            .expect("answer");
        // Best first, whatever order the details came back in.
        let mut ranked: Vec<SearchPosition> = all.iter().map(|h| h.position).collect();
        ranked.sort_by(band_order);
        let order: Vec<i64> = all.iter().map(|h| h.position.doc).collect();
        assert_eq!(order, ranked.iter().map(|p| p.doc).collect::<Vec<_>>());
        let all = shown(&all);
        assert_eq!(all.len(), 4, "{all:?}");
        assert!(all.contains(&(5, Some(5), "Messages 5".into())), "{all:?}");
        assert!(all.contains(&(-5, None, "ChatNames 5".into())), "{all:?}");
        let without = answer(&mut Page { missing: Some(3) }, &request)
            .await
            .expect("answer");
        let expected: Vec<_> = all.into_iter().filter(|(doc, ..)| *doc != 3).collect();
        assert_eq!(shown(&without), expected, "ranked order, message 3 gone");
    }
}
