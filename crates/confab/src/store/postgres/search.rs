//! Search on PostgreSQL: `tsvector` documents of confab's own words (see the migration
//! `0005_search.sql`), written and queried as literals built from parsed words only, so
//! no text-search configuration or user text shapes them.

use std::collections::BTreeMap;

use crate::domain::search::extras;
use crate::domain::search::text::indexed_words;
use crate::domain::search::{Query, Term};
use crate::store::search::SearchScope;
use crate::store::sql::SearchExpression;

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

/// The distinct pairs of adjacent common words of `words` ([`extras::pair_runs`]), as
/// lexemes: `+a0b` (no word holds `+`), sorted.
fn pairs(words: &[String]) -> Vec<String> {
    let mut entries: Vec<String> = extras::pair_runs(words).into_iter().flatten().collect();
    entries.sort_unstable();
    entries.dedup();
    entries
        .iter()
        .map(|entry| quoted(&format!("+{entry}")))
        .collect()
}

/// A text's document as a `tsvector` literal: each word with its positions (from 1),
/// then its heads and its pairs of adjacent common words (see [`extras`]) without
/// positions.
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
        .chain(pairs(&words))
        .collect();
    lexemes.join(" ")
}

/// The `tsquery` literal of `query`, exactly: each term a chain of `<->` (the last word
/// `:*` when it is a prefix), or the head that stands for it, all joined by `&`.
pub(super) fn expression(query: &Query) -> String {
    let parts: Vec<String> = query.terms.iter().map(exact).collect();
    parts.join(" & ")
}

/// What the GIN index looks up for `query`, and [`expression`] to check on each row it
/// finds where that is less: a phrase is looked up by the pairs of common words it
/// holds and by its other words. Common words are in nearly every document, and the
/// index reads a word's whole list (`the`: nine documents in ten) even to intersect it
/// with a rare one. Every document holding the query holds what this looks up.
///
/// Within `scope`'s user or chat, the lookup also holds their marks ([`scope_marks`]),
/// so the index intersects the query's lists with that user's or chat's list.
pub(super) fn lookup(query: &Query, scope: &SearchScope) -> SearchExpression {
    let mut parts: Vec<String> = query.terms.iter().map(looked_up).collect();
    let exact = expression(query);
    let check = (parts.join(" & ") != exact).then_some(exact);
    parts.extend(scope_marks(scope));
    SearchExpression {
        lookup: parts.join(" & "),
        check,
    }
}

/// The marks of `scope`'s user and chat, as [`INDEX_MESSAGE_SQL`] writes them into every
/// document of that user's or chat's: `'@<user id>'` and `'#<chat uuid>'` (no word
/// holds either character).
fn scope_marks(scope: &SearchScope) -> Vec<String> {
    let user = scope.user_id.map(|user| format!("'@{user}'"));
    let chat = scope
        .chat_uuid
        .map(|chat| format!("'#{}'", chat.hyphenated()));
    user.into_iter().chain(chat).collect()
}

/// The marks of chat `c` (an alias of the statement) as `tsvector` literal text, to
/// append to each document of the chat's: `'#<uuid>'`, and `'@<user id>'` when a user
/// owns it (see [`scope_marks`]). A chat's uuid and owner never change, so a document
/// keeps its marks.
macro_rules! marks_of_chat {
    () => {
        "(' ''#' || c.uuid || '''' || COALESCE(' ''@' || c.user_id || '''', ''))"
    };
}

/// Inserts a message (`$1` chat id, `$2` actor, `$3` text, `$4` time, `$5` parent) with
/// its document (`$6`) and its chat's marks; returns its id.
pub(super) const INSERT_MESSAGE_SQL: &str = concat!(
    "INSERT INTO messages (chat_id, actor, message, created_at, updated_at, parent_id, \
     path_chat_id, search) SELECT $1, $2, $3, $4, $4, $5, $1, ($6 || ",
    marks_of_chat!(),
    ")::tsvector FROM chats c WHERE c.id = $1 RETURNING id"
);

/// Replaces message `$1`'s document with `$2` and its chat's marks.
pub(super) const INDEX_MESSAGE_SQL: &str = concat!(
    "UPDATE messages m SET search = ($2 || ",
    marks_of_chat!(),
    ")::tsvector FROM chats c WHERE m.id = $1 AND c.id = m.chat_id"
);

/// Replaces chat `$1`'s name document with `$2` and the chat's marks.
pub(super) const INDEX_CHAT_NAME_SQL: &str = concat!(
    "UPDATE chats c SET name_search = ($2 || ",
    marks_of_chat!(),
    ")::tsvector WHERE c.id = $1"
);

/// A term as [`lookup`] looks it up: a phrase by its words that are not common and its
/// pairs of adjacent common words.
fn looked_up(term: &Term) -> String {
    if term.prefix || term.words.len() < 2 {
        return exact(term);
    }
    let rare: Vec<String> = term
        .words
        .iter()
        .filter(|w| !extras::is_common(w))
        .map(|w| quoted(w))
        .collect();
    if rare.len() == term.words.len() {
        // The index reads the same lists for the phrase itself.
        return exact(term);
    }
    // A phrase of common words has pairs; one without pairs has some other word.
    let entries: Vec<String> = pairs(&term.words).into_iter().chain(rare).collect();
    format!("( {} )", entries.join(" & "))
}

/// A term exactly, as [`expression`] writes it.
fn exact(term: &Term) -> String {
    if let Some(h) = extras::term_head(term) {
        return head(h);
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
    format!("( {} )", words.join(" <-> "))
}

/// A band's messages, with the parameters of SQLite's statement (`store/sqlite/search.rs`)
/// but the scope as plain conditions: `$2` tenant, `$3` user, `$4` chat uuid, `$5` actor
/// (NULL: any); `$1` what the index looks up, `$12` the exact expression checked on each
/// row it finds (NULL: `$1` is exact), `$11` the window's lowest id (see
/// `SearchIndex::Unordered`). The scope is also in `$1` as marks ([`lookup`]), and the
/// join is on `m.chat_id + 0`: no plan can walk the user's chats and scan the index
/// once per chat (100 chats: 110 ms for `the` at a million messages, against 26 ms for
/// one scan of the index joined to the chats by key).
pub(super) const MESSAGE_BAND_SQL: &str = "\
SELECT m.id, substr(m.message, 1, CAST($10 AS INTEGER))
FROM messages m JOIN chats c ON c.id = m.chat_id + 0
WHERE m.search @@ $1::tsquery AND ($12::text IS NULL OR ts_match_vq(m.search, $12::tsquery))
  AND m.id < $8 AND m.id >= $11 AND c.tenant_id = $2 AND c.trashed_at IS NULL
  AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
  AND ($5::text IS NULL OR m.actor = $5)
  AND ($6::bigint IS NULL OR m.created_at >= $6) AND ($7::bigint IS NULL OR m.created_at < $7)
ORDER BY m.id DESC
LIMIT $9";

/// A band's chat names (none when an actor is given), as [`MESSAGE_BAND_SQL`], in one
/// window (`$11` is 0).
pub(super) const NAME_BAND_SQL: &str = "\
SELECT c.id, substr(c.name, 1, CAST($10 AS INTEGER))
FROM chats c
WHERE $5::text IS NULL AND c.name_search @@ $1::tsquery
  AND ($12::text IS NULL OR ts_match_vq(c.name_search, $12::tsquery))
  AND c.id < $8 AND c.id >= $11 AND c.tenant_id = $2 AND c.trashed_at IS NULL
  AND ($3::bigint IS NULL OR c.user_id = $3) AND ($4::text IS NULL OR c.uuid = $4)
  AND ($6::bigint IS NULL OR c.created_at >= $6) AND ($7::bigint IS NULL OR c.created_at < $7)
ORDER BY c.id DESC
LIMIT $9";

/// How many messages of the scope (`$2`–`$4`) match a term, up to `$5`: `$1` what the
/// index looks up, `$6` the exact expression (NULL: `$1` is exact).
pub(super) const TERM_COUNT_SQL: &str = "\
SELECT count(*) FROM (
  SELECT 1 FROM messages m JOIN chats c ON c.id = m.chat_id + 0
  WHERE m.search @@ $1::tsquery AND ($6::text IS NULL OR ts_match_vq(m.search, $6::tsquery))
    AND c.tenant_id = $2 AND c.trashed_at IS NULL
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
        assert_eq!(
            document("of the of the cat"),
            "'cat':5 'of':1,3 'the':2,4 '^cat' '^the' '+of0the' '+the0of'"
        );
        let q = Query::parse(r#"Café "new york" conf* bra*"#).expect("parses");
        assert_eq!(
            expression(&q),
            "( 'cafe' ) & ( 'new' <-> 'york' ) & ( 'conf':* ) & '^bra'"
        );
        let looked_up = lookup(&q, &SearchScope::default());
        assert_eq!(
            looked_up.lookup,
            expression(&q),
            "every term is looked up as it is"
        );
        assert_eq!(looked_up.check, None);
        assert_eq!(quoted("it's\\"), "'it''s\\\\'");
    }

    #[test]
    fn phrases_are_looked_up_by_their_pairs_or_their_uncommon_words() {
        let q = Query::parse(r#""he the way" "the big story" "a of" cat "of the land""#)
            .expect("parses");
        assert_eq!(
            expression(&q),
            "( 'he' <-> 'the' <-> 'way' ) & ( 'the' <-> 'big' <-> 'story' ) \
             & ( 'a' <-> 'of' ) & ( 'cat' ) & ( 'of' <-> 'the' <-> 'land' )"
        );
        let looked_up = lookup(&q, &SearchScope::default());
        assert_eq!(
            looked_up.lookup,
            "( '+he0the' & 'way' ) & ( 'big' & 'story' ) & ( '+a0of' ) & ( 'cat' ) \
             & ( '+of0the' & 'land' )"
        );
        assert_eq!(looked_up.check, Some(expression(&q)));
    }

    #[test]
    fn a_user_or_chat_is_looked_up_by_its_marks() {
        let q = Query::parse(r#"cat "of the land""#).expect("parses");
        let chat = uuid::Uuid::parse_str("5ea4c400-0000-4000-8000-00000000000a").expect("uuid");
        let scope = SearchScope {
            user_id: Some(7),
            chat_uuid: Some(chat),
            ..SearchScope::default()
        };
        let looked_up = lookup(&q, &scope);
        assert_eq!(
            looked_up.lookup,
            "( 'cat' ) & ( '+of0the' & 'land' ) & '@7' & '#5ea4c400-0000-4000-8000-00000000000a'"
        );
        // The marks narrow the lookup; the check is the query's own.
        assert_eq!(looked_up.check, Some(expression(&q)));
        let q = Query::parse("cat").expect("parses");
        let scope = SearchScope {
            user_id: Some(7),
            ..SearchScope::default()
        };
        let looked_up = lookup(&q, &scope);
        assert_eq!(looked_up.lookup, "( 'cat' ) & '@7'");
        assert_eq!(looked_up.check, None, "the lookup is exact");
    }
}
