//! Search on SQLite: FTS5 tables of confab's own words (see the migration
//! `0005_search.sql`), queried with FTS5's syntax built from a parsed [`Query`] only.

use crate::domain::search::text::indexed_words;
use crate::domain::search::Query;

/// A text's document: its words separated by spaces, which the `ascii` tokenizer splits
/// on (every word is letters and digits, so nothing else splits it).
pub(super) fn document(text: &str) -> String {
    indexed_words(text).join(" ")
}

/// The FTS5 expression of `query`: each term a quoted phrase (`"a b"`, `"pre"*`), all
/// joined by AND. Words hold only letters and digits; quotes are doubled all the same.
pub(super) fn expression(query: &Query) -> String {
    let terms: Vec<String> = query
        .terms
        .iter()
        .map(|term| {
            let phrase = term.words.join(" ").replace('"', "\"\"");
            let star = if term.prefix { "*" } else { "" };
            format!("\"{phrase}\"{star}")
        })
        .collect();
    terms.join(" AND ")
}

/// `$1` expression, `$2` tenant, `$3` user id, `$4` chat uuid, `$5` actor, `$6` since,
/// `$7` until (each of `$3`–`$7` NULL for any), `$8` whether chat names are searched,
/// `$9`–`$11` the position to continue after (NULL: from the top), `$12` limit.
/// bm25 is lower for better matches, so `score` ascends.
pub(super) const SEARCH_SQL: &str = "\
SELECT score, created_at, doc, chat_id, chat_uuid, chat_name, message_id, actor, text FROM (
  SELECT bm25(message_search) AS score, m.created_at AS created_at, m.id AS doc,
         c.id AS chat_id, c.uuid AS chat_uuid, c.name AS chat_name, m.id AS message_id,
         m.actor AS actor, substr(m.message, 1, 32768) AS text
  FROM message_search JOIN messages m ON m.id = message_search.rowid
  JOIN chats c ON c.id = m.chat_id
  WHERE message_search MATCH $1 AND c.tenant_id = $2
    AND ($3 IS NULL OR c.user_id = $3) AND ($4 IS NULL OR c.uuid = $4)
    AND ($5 IS NULL OR m.actor = $5)
    AND ($6 IS NULL OR m.created_at >= $6) AND ($7 IS NULL OR m.created_at < $7)
  UNION ALL
  SELECT bm25(chat_name_search), c.created_at, -c.id, c.id, c.uuid, c.name, NULL, NULL, c.name
  FROM chat_name_search JOIN chats c ON c.id = chat_name_search.rowid
  WHERE $8 AND chat_name_search MATCH $1 AND c.tenant_id = $2
    AND ($3 IS NULL OR c.user_id = $3) AND ($4 IS NULL OR c.uuid = $4)
    AND ($6 IS NULL OR c.created_at >= $6) AND ($7 IS NULL OR c.created_at < $7)
)
WHERE $9 IS NULL OR score > $9
   OR (score = $9 AND (created_at < $10 OR (created_at = $10 AND doc < $11)))
ORDER BY score, created_at DESC, doc DESC
LIMIT $12";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_become_quoted_phrases() {
        let q = Query::parse(r#"Café "new york" conf* 東京都"#).expect("parses");
        assert_eq!(
            expression(&q),
            r#""cafe" AND "new york" AND "conf"* AND "東京 京都""#
        );
        assert_eq!(document("Hello, Wörld! 東京都"), "hello world 東京 京都");
    }
}
