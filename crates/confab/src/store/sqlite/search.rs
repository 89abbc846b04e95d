//! Search on SQLite: FTS5 tables of confab's own words (see the migration
//! `0005_search.sql`), queried with FTS5's syntax built from a parsed [`Query`] only.

use crate::domain::search::text::indexed_words;
use crate::domain::search::Query;
use crate::store::search::SearchScope;

/// A text's document: its words separated by spaces, which the `ascii` tokenizer splits
/// on (every word is letters and digits, so nothing else splits it).
pub(super) fn document(text: &str) -> String {
    indexed_words(text).join(" ")
}

/// The FTS5 expression of `query` within `scope`: each term a quoted phrase of the
/// `terms` column (`terms : "a b"`, `terms : "pre"*`), and each scope word one of the
/// `scope` column, all joined by AND. Words hold only letters and digits; quotes are
/// doubled all the same.
pub(super) fn expression(query: &Query, scope: &SearchScope) -> String {
    let mut parts: Vec<String> = query
        .terms
        .iter()
        .map(|term| {
            let phrase = term.words.join(" ").replace('"', "\"\"");
            let star = if term.prefix { "*" } else { "" };
            format!("terms : \"{phrase}\"{star}")
        })
        .collect();
    parts.push(format!("scope : \"t{}\"", scope.tenant_id.simple()));
    if let Some(user) = scope.user_id {
        parts.push(format!("scope : \"u{user}\""));
    }
    if let Some(chat) = scope.chat_uuid {
        parts.push(format!("scope : \"c{}\"", chat.simple()));
    }
    if let Some(actor) = scope.actor {
        parts.push(format!("scope : \"a{}\"", actor.as_str()));
    }
    parts.join(" AND ")
}

/// Indexes a message (`$1` id, `$2` document). Its scope words come from its row and its
/// chat's: `t<tenant> c<chat uuid> u<user> a<actor>` (hex without hyphens; no `u` for a
/// chat without a user).
pub(super) const INDEX_MESSAGE_SQL: &str = "\
INSERT INTO message_search (rowid, terms, scope)
SELECT m.id, $2, 't' || replace(c.tenant_id, '-', '') || ' c' || replace(c.uuid, '-', '')
       || coalesce(' u' || c.user_id, '') || ' a' || m.actor
FROM messages m JOIN chats c ON c.id = m.chat_id WHERE m.id = $1";

/// Indexes a chat's name (`$1` id, `$2` document), with the scope words of its messages
/// but the actor; the rename trigger has removed the former name's document.
pub(super) const INDEX_CHAT_NAME_SQL: &str = "\
INSERT INTO chat_name_search (rowid, terms, scope)
SELECT c.id, $2, 't' || replace(c.tenant_id, '-', '') || ' c' || replace(c.uuid, '-', '')
       || coalesce(' u' || c.user_id, '')
FROM chats c WHERE c.id = $1";

/// The best messages: `$1` the expression (which holds the scope), `$6` since and `$7`
/// until (NULL: any), `$8`/`$9` the position to continue after (NULL: from the top),
/// `$10` how many. bm25 is lower for better matches; `scope` weighs nothing. (`$2`–`$5`
/// are in the expression.)
pub(super) const MESSAGE_RANK_SQL: &str = "\
SELECT doc, score FROM (
  SELECT rowid AS doc, bm25(message_search, 1.0, 0.0) AS score FROM message_search
  WHERE message_search MATCH $1
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
    fn queries_become_quoted_phrases() {
        let q = Query::parse(r#"Café "new york" conf* 東京都"#).expect("parses");
        let tenant = uuid::Uuid::nil();
        let scope = SearchScope {
            tenant_id: tenant,
            user_id: Some(7),
            ..SearchScope::default()
        };
        assert_eq!(
            expression(&q, &scope),
            format!(
                r#"terms : "cafe" AND terms : "new york" AND terms : "conf"* AND terms : "東京 京都" AND scope : "t{}" AND scope : "u7""#,
                tenant.simple()
            )
        );
        assert_eq!(document("Hello, Wörld! 東京都"), "hello world 東京 京都");
    }
}
