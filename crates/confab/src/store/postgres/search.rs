//! Search on PostgreSQL: `tsvector` documents of confab's own words (see the migration
//! `0005_search.sql`), written and queried as literals built from parsed words only, so
//! no text-search configuration or user text shapes them.

use std::collections::BTreeMap;

use crate::domain::search::text::indexed_words;
use crate::domain::search::Query;

/// PostgreSQL keeps at most this many positions of one word in a document.
const MAX_POSITIONS: usize = 256;

/// A lexeme in `tsvector`/`tsquery` literal syntax.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// A text's document as a `tsvector` literal: each word with its positions (from 1).
pub(super) fn document(text: &str) -> String {
    let mut positions: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, word) in indexed_words(text).into_iter().enumerate() {
        let at = positions.entry(word).or_default();
        if at.len() < MAX_POSITIONS {
            at.push(index + 1);
        }
    }
    let lexemes: Vec<String> = positions
        .iter()
        .map(|(word, at)| {
            let at: Vec<String> = at.iter().map(usize::to_string).collect();
            format!("{}:{}", quoted(word), at.join(","))
        })
        .collect();
    lexemes.join(" ")
}

/// The `tsquery` literal of `query`: each term a chain of `<->` (the last word `:*` when
/// it is a prefix), all joined by `&`.
pub(super) fn expression(query: &Query) -> String {
    let terms: Vec<String> = query
        .terms
        .iter()
        .map(|term| {
            let last = term.words.len() - 1;
            let words: Vec<String> = term
                .words
                .iter()
                .enumerate()
                .map(|(i, word)| {
                    let star = if i == last && term.prefix { ":*" } else { "" };
                    format!("{}{star}", quoted(word))
                })
                .collect();
            format!("( {} )", words.join(" <-> "))
        })
        .collect();
    terms.join(" & ")
}

/// Parameters as on SQLite (see `store/sqlite/search.rs`); `score` is the negated
/// `ts_rank`, so it ascends as there.
pub(super) const SEARCH_SQL: &str = "\
SELECT score, created_at, doc, chat_id, chat_uuid, chat_name, message_id, actor, text FROM (
  SELECT -(ts_rank(m.search, $1::tsquery)::float8) AS score, m.created_at AS created_at,
         m.id AS doc, c.id AS chat_id, c.uuid AS chat_uuid, c.name AS chat_name,
         m.id AS message_id, m.actor AS actor, substr(m.message, 1, 32768) AS text
  FROM messages m JOIN chats c ON c.id = m.chat_id
  WHERE m.search @@ $1::tsquery AND c.tenant_id = $2
    AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
    AND ($5::text IS NULL OR m.actor = $5)
    AND ($6::bigint IS NULL OR m.created_at >= $6) AND ($7::bigint IS NULL OR m.created_at < $7)
  UNION ALL
  SELECT -(ts_rank(c.name_search, $1::tsquery)::float8), c.created_at, -c.id, c.id, c.uuid,
         c.name, NULL, NULL, c.name
  FROM chats c
  WHERE $8 AND c.name_search @@ $1::tsquery AND c.tenant_id = $2
    AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
    AND ($6::bigint IS NULL OR c.created_at >= $6) AND ($7::bigint IS NULL OR c.created_at < $7)
) hits
WHERE $9::float8 IS NULL OR score > $9
   OR (score = $9 AND (created_at < $10 OR (created_at = $10 AND doc < $11)))
ORDER BY score, created_at DESC, doc DESC
LIMIT $12";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_queries_are_literals_of_words() {
        assert_eq!(document("b a b"), "'a':2 'b':1,3");
        let q = Query::parse(r#"Café "new york" conf*"#).expect("parses");
        assert_eq!(
            expression(&q),
            "( 'cafe' ) & ( 'new' <-> 'york' ) & ( 'conf':* )"
        );
        assert_eq!(quoted("it's\\"), "'it''s\\\\'");
    }
}
