//! Search on SQLite: FTS5 tables of confab's own words (see the migration
//! `0005_search.sql`), queried with FTS5's syntax built from a parsed [`Query`] only.

use crate::domain::search::text::indexed_words;
use crate::domain::search::Query;
use crate::store::search::SearchScope;
use uuid::Uuid;

/// The tenant's mark on each of its words: `t<the first 48 bits of the tenant id in
/// hex>x`, which no two tenants share (ids are drawn so). Each tenant's words are then
/// distinct words to FTS5, so a search matches only its tenant's documents, and bm25
/// counts how common a word is within that tenant, without a scope word that every
/// document of the tenant holds (FTS5 would walk that word's whole list on every search:
/// about 30 ms at a million messages).
fn tenant_mark(tenant: Uuid) -> String {
    let hex = tenant.simple().to_string();
    format!("t{}x", &hex[..12])
}

/// A text's document: its words, each marked with the tenant, separated by spaces,
/// which the `ascii` tokenizer splits on (every word is letters and digits, so nothing
/// else splits it).
pub(super) fn document(text: &str, tenant: Uuid) -> String {
    let mark = tenant_mark(tenant);
    let words = indexed_words(text);
    let mut document = String::with_capacity(words.iter().map(|w| w.len() + mark.len() + 1).sum());
    for word in words {
        if !document.is_empty() {
            document.push(' ');
        }
        document.push_str(&mark);
        document.push_str(&word);
    }
    document
}

/// The FTS5 expression of `query` within `scope`: each term a quoted phrase of marked
/// words in the `terms` column (`terms : "tx…a tx…b"`, `terms : "tx…pre"*`), then the
/// user's and chat's scope words in the `scope` column, all joined by AND. Words hold
/// only letters and digits; quotes are doubled all the same.
pub(super) fn expression(query: &Query, scope: &SearchScope) -> String {
    let mark = tenant_mark(scope.tenant_id);
    let mut parts: Vec<String> = query
        .terms
        .iter()
        .map(|term| {
            let words: Vec<String> = term.words.iter().map(|w| format!("{mark}{w}")).collect();
            let phrase = words.join(" ").replace('"', "\"\"");
            let star = if term.prefix { "*" } else { "" };
            format!("terms : \"{phrase}\"{star}")
        })
        .collect();
    if let Some(user) = scope.user_id {
        parts.push(format!("scope : \"u{user}\""));
    }
    if let Some(chat) = scope.chat_uuid {
        parts.push(format!("scope : \"c{}\"", chat.simple()));
    }
    parts.join(" AND ")
}

/// Indexes a message (`$1` id, `$2` document). Its scope words come from its chat's row:
/// `c<chat uuid in hex>` and `u<user id>` (none for a chat without a user). The tenant is
/// in the words themselves (see [`document`]).
pub(super) const INDEX_MESSAGE_SQL: &str = "\
INSERT INTO message_search (rowid, terms, scope)
SELECT m.id, $2, 'c' || replace(c.uuid, '-', '') || coalesce(' u' || c.user_id, '')
FROM messages m JOIN chats c ON c.id = m.chat_id WHERE m.id = $1";

/// Indexes a chat's name (`$1` id, `$2` document), with the scope words of its messages;
/// the rename trigger has removed the former name's document.
pub(super) const INDEX_CHAT_NAME_SQL: &str = "\
INSERT INTO chat_name_search (rowid, terms, scope)
SELECT c.id, $2, 'c' || replace(c.uuid, '-', '') || coalesce(' u' || c.user_id, '')
FROM chats c WHERE c.id = $1";

/// The best messages: `$1` the expression (which holds the tenant, user and chat), `$5`
/// actor, `$6` since and `$7` until (NULL: any; looked up per match, as a scope word
/// that half the documents hold would cost more), `$8`/`$9` the position to continue
/// after (NULL: from the top), `$10` how many. bm25 is lower for better matches; `scope`
/// weighs nothing. (`$2`–`$4` are in the expression.)
pub(super) const MESSAGE_RANK_SQL: &str = "\
SELECT doc, score FROM (
  SELECT rowid AS doc, bm25(message_search, 1.0, 0.0) AS score FROM message_search
  WHERE message_search MATCH $1
    AND ($5 IS NULL OR (SELECT actor FROM messages WHERE id = message_search.rowid) = $5)
    AND ($6 IS NULL OR (SELECT created_at FROM messages WHERE id = message_search.rowid) >= $6)
    AND ($7 IS NULL OR (SELECT created_at FROM messages WHERE id = message_search.rowid) < $7)
)
WHERE $8 IS NULL OR score > $8 OR (score = $8 AND doc < $9)
ORDER BY score, doc DESC
LIMIT $10";

/// The best chat names, as [`MESSAGE_RANK_SQL`] (none when `$5`, an actor, is given);
/// `doc` is the chat's id negated.
pub(super) const NAME_RANK_SQL: &str = "\
SELECT doc, score FROM (
  SELECT -rowid AS doc, bm25(chat_name_search, 1.0, 0.0) AS score FROM chat_name_search
  WHERE $5 IS NULL AND chat_name_search MATCH $1
    AND ($6 IS NULL OR (SELECT created_at FROM chats WHERE id = chat_name_search.rowid) >= $6)
    AND ($7 IS NULL OR (SELECT created_at FROM chats WHERE id = chat_name_search.rowid) < $7)
)
WHERE $8 IS NULL OR score > $8 OR (score = $8 AND doc < $9)
ORDER BY score, doc DESC
LIMIT $10";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_carry_their_tenant_and_queries_become_quoted_phrases() {
        let tenant = Uuid::from_u128(0xabc);
        let mark = "t000000000000x";
        let q = Query::parse(r#"Café "new york" conf* 東京都"#).expect("parses");
        let scope = SearchScope {
            tenant_id: tenant,
            user_id: Some(7),
            ..SearchScope::default()
        };
        assert_eq!(
            expression(&q, &scope),
            format!(
                r#"terms : "{m}cafe" AND terms : "{m}new {m}york" AND terms : "{m}conf"* AND terms : "{m}東京 {m}京都" AND scope : "u7""#,
                m = mark
            )
        );
        assert_eq!(
            document("Hello, Wörld!", tenant),
            format!("{mark}hello {mark}world")
        );
        assert_eq!(document("", tenant), "");
    }
}
