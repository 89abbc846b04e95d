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

/// The best messages, with the parameters of SQLite's statement (`store/sqlite/search.rs`)
/// but the scope as plain conditions: `$2` tenant, `$3` user, `$4` chat uuid, `$5` actor
/// (NULL: any). `score` is the negated `ts_rank`, so it ascends as there.
pub(super) const MESSAGE_RANK_SQL: &str = "\
SELECT doc, score FROM (
  SELECT m.id AS doc, -(ts_rank(m.search, $1::tsquery)::float8) AS score
  FROM messages m JOIN chats c ON c.id = m.chat_id
  WHERE m.search @@ $1::tsquery AND c.tenant_id = $2
    AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
    AND ($5::text IS NULL OR m.actor = $5)
    AND ($6::bigint IS NULL OR m.created_at >= $6) AND ($7::bigint IS NULL OR m.created_at < $7)
) hits
WHERE $8::float8 IS NULL OR score > $8 OR (score = $8 AND doc < $9)
ORDER BY score, doc DESC
LIMIT $10";

/// The best chat names (none when an actor is given); `doc` is the chat's id negated.
pub(super) const NAME_RANK_SQL: &str = "\
SELECT doc, score FROM (
  SELECT -c.id AS doc, -(ts_rank(c.name_search, $1::tsquery)::float8) AS score
  FROM chats c
  WHERE $5::text IS NULL AND c.name_search @@ $1::tsquery AND c.tenant_id = $2
    AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
    AND ($6::bigint IS NULL OR c.created_at >= $6) AND ($7::bigint IS NULL OR c.created_at < $7)
) hits
WHERE $8::float8 IS NULL OR score > $8 OR (score = $8 AND doc < $9)
ORDER BY score, doc DESC
LIMIT $10";

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
