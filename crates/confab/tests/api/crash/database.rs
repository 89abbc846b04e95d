//! Database-level checks with the server down: the file itself (SQLite), and rows that
//! must never exist whatever a kill interrupted.

use sqlx::Connection as _;

use crate::support::Backend;

/// Queries counting rows that must not exist, with what each one means.
const MUST_BE_NONE: [(&str, &str); 6] = [
    (
        "orphan files",
        "SELECT COUNT(*) FROM files f WHERE NOT EXISTS \
         (SELECT 1 FROM messages m WHERE m.id = f.message_id AND m.chat_id = f.chat_id)",
    ),
    (
        "orphan messages",
        "SELECT COUNT(*) FROM messages m WHERE NOT EXISTS \
         (SELECT 1 FROM chats c WHERE c.id = m.chat_id)",
    ),
    (
        "messages whose parent is not a message of their chat",
        "SELECT COUNT(*) FROM messages m WHERE m.parent_id IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM messages p WHERE p.id = m.parent_id AND p.chat_id = m.chat_id)",
    ),
    (
        "chats whose current leaf is not a message of theirs",
        "SELECT COUNT(*) FROM chats c WHERE c.current_message_id IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM messages m WHERE m.id = c.current_message_id AND m.chat_id = c.id)",
    ),
    // The load never edits a first message, so every chat has one root at most and its
    // current leaf is null exactly while it is empty.
    (
        "chats with messages but no current leaf, or a current leaf but no messages",
        "SELECT COUNT(*) FROM chats c WHERE (c.current_message_id IS NULL) = \
         EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id)",
    ),
    // Walks up from every message (bounded by the number of messages); a walk that
    // comes back to where it started is a cycle.
    (
        "messages on a cycle of parents",
        "WITH RECURSIVE up (start, id, depth) AS ( \
             SELECT id, parent_id, 1 FROM messages WHERE parent_id IS NOT NULL \
             UNION ALL \
             SELECT up.start, m.parent_id, up.depth + 1 FROM up JOIN messages m ON m.id = up.id \
             WHERE m.parent_id IS NOT NULL AND up.id <> up.start \
               AND up.depth <= (SELECT COUNT(*) FROM messages) \
         ) SELECT COUNT(DISTINCT start) FROM up WHERE id = start",
    ),
];

/// What a [`MUST_BE_NONE`] count says, if it is not zero.
fn found(what: &str, count: Result<i64, sqlx::Error>) -> Option<String> {
    match count {
        Ok(0) => None,
        Ok(n) => Some(format!("{n} {what}")),
        Err(e) => Some(format!("{what}: the query failed: {e}")),
    }
}

/// Database-level checks with the server down.
pub async fn check_database(backend: Backend, url: &str) -> Vec<String> {
    let mut problems = Vec::new();
    match backend {
        Backend::Sqlite => {
            use std::str::FromStr as _;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .expect("sqlite url")
                .create_if_missing(false);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .expect("open the SQLite file after the kill");
            let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&mut conn)
                .await
                .expect("integrity_check");
            if integrity != ["ok"] {
                problems.push(format!("PRAGMA integrity_check: {integrity:?}"));
            }
            let broken = sqlx::query("PRAGMA foreign_key_check")
                .fetch_all(&mut conn)
                .await
                .expect("foreign_key_check");
            if !broken.is_empty() {
                problems.push(format!("PRAGMA foreign_key_check: {} rows", broken.len()));
            }
            for (what, sql) in MUST_BE_NONE {
                let count = sqlx::query_scalar(sql).fetch_one(&mut conn).await;
                problems.extend(found(what, count));
            }
            let _ = conn.close().await;
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .expect("connect to PostgreSQL after the kill");
            for (what, sql) in MUST_BE_NONE {
                let count = sqlx::query_scalar(sql).fetch_one(&mut conn).await;
                problems.extend(found(what, count));
            }
            let _ = conn.close().await;
        }
    }
    problems
}
