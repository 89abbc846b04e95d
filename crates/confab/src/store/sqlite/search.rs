//! Search on SQLite: FTS5 tables of confab's own words (see the migration
//! `0005_search.sql`), queried with FTS5's syntax built from a parsed [`Query`] only.

use crate::domain::search::extras;
use crate::domain::search::text::indexed_words;
use crate::domain::search::Query;
use crate::store::search::SearchScope;
use uuid::Uuid;

/// The tenant's mark on each of its entries: `t<the first 48 bits of the tenant id in
/// hex>`, which no two tenants share (ids are drawn so), then the entry's kind: `x` a
/// word, `z` a head, `v` a long head, `y` a pair of common words (see [`extras`]), or `y`
/// alone the break between two runs of pairs. Each tenant's entries are
/// then distinct words to FTS5, so a search matches only its tenant's documents, without
/// a scope word that every document of the tenant holds (FTS5 would walk that word's
/// whole list on every search: about 30 ms at a million messages).
struct Marks {
    word: String,
    head: String,
    long_head: String,
    pair: String,
}

impl Marks {
    fn of(tenant: Uuid) -> Marks {
        let hex = tenant.simple().to_string();
        let tenant = format!("t{}", &hex[..12]);
        Marks {
            word: format!("{tenant}x"),
            head: format!("{tenant}z"),
            long_head: format!("{tenant}v"),
            pair: format!("{tenant}y"),
        }
    }

    /// `entry` under one of these marks.
    fn marked(mark: &str, entry: &str) -> String {
        format!("{mark}{entry}")
    }
}

/// A text's document: its words, then their heads and long heads, then its runs of common
/// pairs with a break between each two, each entry marked with the tenant and its kind,
/// separated by spaces, which the `ascii` tokenizer splits on (every entry is letters and
/// digits, so nothing else splits it). Heads and pairs come after the last word, so the
/// words' positions are their own; a phrase of pairs matches only pairs next to each
/// other in one run, which are next to each other in the text (see
/// [`extras::pair_runs`]).
pub(super) fn document(text: &str, tenant: Uuid) -> String {
    Unmarked::of(text).document(tenant)
}

/// A text's entries before they are marked with a tenant: the costly part of a
/// [`document`], which group commit's callers make before their writes queue (the
/// tenant of a user's chat is known only inside the write).
pub(super) struct Unmarked {
    words: Vec<String>,
    heads: Vec<String>,
    long_heads: Vec<String>,
    /// The pair entries, with an empty one for each break between runs.
    pairs: Vec<String>,
}

impl Unmarked {
    pub(super) fn of(text: &str) -> Unmarked {
        let words = indexed_words(text);
        let owned = |heads: Vec<&str>| heads.into_iter().map(str::to_owned).collect();
        let heads = owned(extras::heads(&words));
        let long_heads = owned(extras::long_heads(&words));
        let mut pairs = Vec::new();
        for run in extras::pair_runs(&words) {
            if !pairs.is_empty() {
                pairs.push(String::new());
            }
            pairs.extend(run);
        }
        Unmarked {
            words,
            heads,
            long_heads,
            pairs,
        }
    }

    /// The [`document`] of the text, for `tenant`: written into one string (this runs
    /// on SQLite's one writer, for every message).
    pub(super) fn document(&self, tenant: Uuid) -> String {
        let marks = Marks::of(tenant);
        let entries = self
            .words
            .iter()
            .map(|w| (&marks.word, w))
            .chain(self.heads.iter().map(|h| (&marks.head, h)))
            .chain(self.long_heads.iter().map(|h| (&marks.long_head, h)))
            .chain(self.pairs.iter().map(|p| (&marks.pair, p)));
        let entries_count =
            self.words.len() + self.heads.len() + self.long_heads.len() + self.pairs.len();
        let length = entries_count * (marks.word.len() + 1)
            + self
                .words
                .iter()
                .chain(&self.heads)
                .chain(&self.long_heads)
                .chain(&self.pairs)
                .map(String::len)
                .sum::<usize>();
        let mut document = String::with_capacity(length);
        for (mark, entry) in entries {
            if !document.is_empty() {
                document.push(' ');
            }
            document.push_str(mark);
            document.push_str(entry);
        }
        document
    }
}

/// The FTS5 expression of `query` within `scope`: each term a quoted phrase of marked
/// words (`"tx…a tx…b"`, `"tx…prefi"*`), or the head or long head that stands for it
/// (`"tz…pre"`, `"tv…pref"`), or the pairs that stand for a phrase of common words
/// (`"ty…of0the ty…the0end"`),
/// then the user's and chat's scope words (`"u7"`, `"c…"`), all joined by AND. No column
/// filter: marked entries are only ever in `terms` and scope words only in `scope`, and
/// a filter costs FTS5 a pass over each candidate's positions (about 8 % of a phrase
/// search's time). Entries hold only letters and digits; quotes are doubled all the
/// same.
pub(super) fn expression(query: &Query, scope: &SearchScope) -> String {
    let marks = Marks::of(scope.tenant_id);
    let quoted = |entries: &str| format!("\"{}\"", entries.replace('"', "\"\""));
    let mut parts: Vec<String> = Vec::new();
    for term in &query.terms {
        if let Some(head) = extras::term_head(term) {
            parts.push(quoted(&Marks::marked(&marks.head, head)));
            continue;
        }
        if let Some(head) = extras::term_long_head(term) {
            parts.push(quoted(&Marks::marked(&marks.long_head, head)));
            continue;
        }
        if let Some(pairs) = extras::term_pairs(term) {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|p| Marks::marked(&marks.pair, p))
                .collect();
            parts.push(quoted(&pairs.join(" ")));
            continue;
        }
        let words: Vec<String> = term
            .words
            .iter()
            .map(|w| Marks::marked(&marks.word, w))
            .collect();
        let star = if term.prefix { "*" } else { "" };
        parts.push(format!("{}{star}", quoted(&words.join(" "))));
    }
    if let Some(user) = scope.user_id {
        parts.push(format!("\"u{user}\""));
    }
    if let Some(chat) = scope.chat_uuid {
        parts.push(format!("\"c{}\"", chat.simple()));
    }
    parts.join(" AND ")
}

/// Indexes a message (`$1` id, `$2` document) under the rowid `-id`: FTS5 walks its lists
/// from the lowest rowid up, so a search meets the newest first without walking them
/// backwards (see the migration `0011_search_newest_first.sql`). Its scope words come
/// from its chat's row: `c<chat uuid in hex>` and `u<user id>` (none for a chat without
/// a user). The tenant is in the words themselves (see [`document`]).
pub(super) const INDEX_MESSAGE_SQL: &str = "\
INSERT INTO message_search (rowid, terms, scope)
SELECT -m.id, $2, 'c' || replace(c.uuid, '-', '') || coalesce(' u' || c.user_id, '')
FROM messages m JOIN chats c ON c.id = m.chat_id WHERE m.id = $1";

/// The scope words [`INDEX_MESSAGE_SQL`] gives a message of this chat, made in Rust.
pub(super) fn scope(chat_uuid: Uuid, user_id: Option<i64>) -> String {
    match user_id {
        Some(user) => format!("c{} u{user}", chat_uuid.simple()),
        None => format!("c{}", chat_uuid.simple()),
    }
}

/// Indexes a message as [`INDEX_MESSAGE_SQL`] does, with its scope words given (`$1` id,
/// `$2` document, `$3` [`scope`]). One row, no SELECT: SQLite then runs it without a
/// statement savepoint, at each of which FTS5 would flush its pending terms to a new
/// segment (see `group_commit.rs`). FTS5 also flushes when a rowid is lower than the one
/// before it, so a transaction indexes its messages newest first.
pub(super) const INDEX_MESSAGE_VALUES_SQL: &str =
    "INSERT INTO message_search (rowid, terms, scope) VALUES (-$1, $2, $3)";

/// An id in the list `$1` (`1,2,3`): the list read as a JSON array.
pub(super) const IN_ID_LIST: &str = "IN (SELECT value FROM json_each('[' || $1 || ']'))";

/// Removes a message's entry (`$1` id).
pub(super) const UNINDEX_MESSAGE_SQL: &str = "DELETE FROM message_search WHERE rowid = -$1";

/// Indexes a chat's name (`$1` id, `$2` document) under `-id` as messages are, with the
/// scope words of its messages; the rename trigger has removed the former name's document.
pub(super) const INDEX_CHAT_NAME_SQL: &str = "\
INSERT INTO chat_name_search (rowid, terms, scope)
SELECT -c.id, $2, 'c' || replace(c.uuid, '-', '') || coalesce(' u' || c.user_id, '')
FROM chats c WHERE c.id = $1";

/// A band's messages (see `store/search/bands.rs`): `$1` the expression (which holds
/// the tenant, user and chat), `$5` actor, `$6` since and `$7` until (NULL: any; checked
/// on each match's row, as a scope word that half the documents hold would cost more),
/// the newest `$9` with an id below `$8` in a chat that is not in the trash, each with
/// the first `$10` characters of its text. FTS5 walks its lists in rowid order, the
/// newest first (rowids are negated ids), each match's row is read once, and the walk
/// stops at `$9`. (`$2`–`$4` are in the expression.)
pub(super) const MESSAGE_BAND_SQL: &str = "\
SELECT m.id, substr(m.message, 1, CAST($10 AS INTEGER))
FROM message_search s JOIN messages m ON m.id = -s.rowid
WHERE message_search MATCH $1 AND s.rowid > -$8
  AND ($5 IS NULL OR m.actor = $5)
  AND ($6 IS NULL OR m.created_at >= $6)
  AND ($7 IS NULL OR m.created_at < $7)
  AND (SELECT trashed_at FROM chats WHERE id = m.chat_id) IS NULL
ORDER BY s.rowid LIMIT $9";

/// A band's chat names, as [`MESSAGE_BAND_SQL`] (none when `$5`, an actor, is given).
pub(super) const NAME_BAND_SQL: &str = "\
SELECT c.id, substr(c.name, 1, CAST($10 AS INTEGER))
FROM chat_name_search s JOIN chats c ON c.id = -s.rowid
WHERE $5 IS NULL AND chat_name_search MATCH $1 AND s.rowid > -$8
  AND ($6 IS NULL OR c.created_at >= $6)
  AND ($7 IS NULL OR c.created_at < $7)
  AND c.trashed_at IS NULL
ORDER BY s.rowid LIMIT $9";

/// How many messages match a term's expression `$1` (which holds the scope), up to `$5`.
pub(super) const TERM_COUNT_SQL: &str = "\
SELECT count(*) FROM (SELECT 1 FROM message_search WHERE message_search MATCH $1 LIMIT $5)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_their_tenant_and_queries_become_quoted_phrases() {
        let tenant = Uuid::from_u128(0xabc);
        let m = "t000000000000";
        let q = Query::parse(r#"Café "new york" confi* 東京都 bra* conf*"#).expect("parses");
        let scope = SearchScope {
            tenant_id: tenant,
            user_id: Some(7),
            ..SearchScope::default()
        };
        assert_eq!(
            expression(&q, &scope),
            format!(
                r#""{m}xcafe" AND "{m}xnew {m}xyork" AND "{m}xconfi"* AND "{m}x東京 {m}x京都" AND "{m}zbra" AND "{m}vconf" AND "u7""#
            )
        );
        assert_eq!(
            document("Hello, Wörld!", tenant),
            format!("{m}xhello {m}xworld {m}zhel {m}zwor {m}vhell {m}vworl")
        );
        assert_eq!(document("", tenant), "");
    }

    #[test]
    fn runs_of_common_pairs_follow_the_heads_with_a_break_between_runs() {
        let tenant = Uuid::from_u128(0xabc);
        let m = "t000000000000";
        assert_eq!(
            document("of the cat, the end of it", tenant),
            format!(
                "{m}xof {m}xthe {m}xcat {m}xthe {m}xend {m}xof {m}xit \
                 {m}zcat {m}zend {m}zthe {m}yof0the {m}y {m}yof0it"
            )
        );
        let q = Query::parse(r#""of the" "the cat""#).expect("parses");
        assert_eq!(
            expression(
                &q,
                &SearchScope {
                    tenant_id: tenant,
                    ..SearchScope::default()
                }
            ),
            format!(r#""{m}yof0the" AND "{m}xthe {m}xcat""#)
        );
    }
}
