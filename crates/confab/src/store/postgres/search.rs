//! Search on PostgreSQL: `tsvector` documents of confab's own words (see the migration
//! `0005_search.sql`), written and queried as literals built from parsed words only, so
//! no text-search configuration or user text shapes them.

use std::collections::BTreeMap;

use crate::domain::search::extras;
use crate::domain::search::text::indexed_words;
use crate::domain::search::Query;

/// PostgreSQL keeps at most this many positions of one word in a document.
const MAX_POSITIONS: usize = 256;

/// A lexeme in `tsvector`/`tsquery` literal syntax.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// A head as a lexeme: `^head` (no word holds `^`).
fn head(head: &str) -> String {
    quoted(&format!("^{head}"))
}

/// A text's document as a `tsvector` literal: each word with its positions (from 1),
/// then its heads (see [`extras`]) without positions.
pub(super) fn document(text: &str) -> String {
    let words = indexed_words(text);
    let mut positions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, word) in words.iter().enumerate() {
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
        .chain(extras::heads(&words).into_iter().map(head))
        .collect();
    lexemes.join(" ")
}

/// The `tsquery` literal of `query`: each term a chain of `<->` (the last word `:*` when
/// it is a prefix), or the head that stands for it, all joined by `&`.
pub(super) fn expression(query: &Query) -> String {
    let mut parts: Vec<String> = Vec::new();
    for term in &query.terms {
        if let Some(h) = extras::term_head(term) {
            parts.push(head(h));
            continue;
        }
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
        parts.push(format!("( {} )", words.join(" <-> ")));
    }
    parts.join(" & ")
}

/// A band's messages, with the parameters of SQLite's statement (`store/sqlite/search.rs`)
/// but the scope as plain conditions: `$2` tenant, `$3` user, `$4` chat uuid, `$5` actor
/// (NULL: any).
pub(super) const MESSAGE_BAND_SQL: &str = "\
SELECT m.id, substr(m.message, 1, CAST($10 AS INTEGER))
FROM messages m JOIN chats c ON c.id = m.chat_id
WHERE m.search @@ $1::tsquery AND m.id < $8 AND c.tenant_id = $2 AND c.trashed_at IS NULL
  AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
  AND ($5::text IS NULL OR m.actor = $5)
  AND ($6::bigint IS NULL OR m.created_at >= $6) AND ($7::bigint IS NULL OR m.created_at < $7)
ORDER BY m.id DESC
LIMIT $9";

/// A band's chat names (none when an actor is given).
pub(super) const NAME_BAND_SQL: &str = "\
SELECT c.id, substr(c.name, 1, CAST($10 AS INTEGER))
FROM chats c
WHERE $5::text IS NULL AND c.name_search @@ $1::tsquery AND c.id < $8 AND c.tenant_id = $2
  AND c.trashed_at IS NULL
  AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
  AND ($6::bigint IS NULL OR c.created_at >= $6) AND ($7::bigint IS NULL OR c.created_at < $7)
ORDER BY c.id DESC
LIMIT $9";

/// How many messages of the scope (`$2`–`$4`) match a term `$1`, up to `$5`.
pub(super) const TERM_COUNT_SQL: &str = "\
SELECT count(*) FROM (
  SELECT 1 FROM messages m JOIN chats c ON c.id = m.chat_id
  WHERE m.search @@ $1::tsquery AND c.tenant_id = $2 AND c.trashed_at IS NULL
    AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
  LIMIT $5
) hits";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_queries_are_literals_of_words() {
        assert_eq!(document("b a b"), "'a':2 'b':1,3");
        assert_eq!(document("the cat"), "'cat':2 'the':1 '^cat' '^the'");
        let q = Query::parse(r#"Café "new york" conf* bra*"#).expect("parses");
        assert_eq!(
            expression(&q),
            "( 'cafe' ) & ( 'new' <-> 'york' ) & ( 'conf':* ) & '^bra'"
        );
        assert_eq!(quoted("it's\\"), "'it''s\\\\'");
    }
}
