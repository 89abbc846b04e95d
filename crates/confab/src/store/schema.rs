//! The tables of the schema, as `confab copy` moves them from one database to another.
//!
//! The migrations (`crates/confab/migrations/{sqlite,postgres}/`) define the schema; this
//! list describes it for code that handles every table alike. It is checked against both
//! engines' catalogs after migrating (`tests/api/schema.rs`): a migration that adds,
//! drops or retypes a column or table fails that test until the list says the same.

/// How a column is stored: every column of the schema is one of these on both engines
/// (INTEGER/BIGINT, TEXT, BLOB/BYTEA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Blob,
}

/// One table.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// The primary key (one column).
    pub key: &'static str,
    /// Whether `id` comes from a sequence (AUTOINCREMENT / BIGSERIAL).
    pub serial: bool,
    pub columns: &'static [(&'static str, Kind)],
}

impl Table {
    /// The position of the primary key among the columns.
    pub fn key_index(&self) -> usize {
        self.columns
            .iter()
            .position(|(name, _)| *name == self.key)
            .unwrap_or(0)
    }
}

/// Every table, parents before children (the order foreign keys need).
pub const TABLES: &[Table] = &[
    Table {
        name: "tenants",
        key: "id",
        serial: false,
        columns: &[
            ("id", Kind::Text),
            ("name", Kind::Text),
            ("is_default", Kind::Int),
            ("created_at", Kind::Int),
            ("message_bytes", Kind::Int),
            ("retention_days", Kind::Int),
        ],
    },
    Table {
        name: "api_keys",
        key: "id",
        serial: false,
        columns: &[
            ("id", Kind::Text),
            ("tenant_id", Kind::Text),
            ("name", Kind::Text),
            ("prefix", Kind::Text),
            ("secret_hash", Kind::Blob),
            ("created_at", Kind::Int),
            ("last_used_at", Kind::Int),
            ("revoked_at", Kind::Int),
        ],
    },
    Table {
        name: "users",
        key: "id",
        serial: true,
        columns: &[
            ("id", Kind::Int),
            ("tenant_id", Kind::Text),
            ("email", Kind::Text),
            ("email_lower", Kind::Text),
            ("password_hash", Kind::Text),
            ("created_at", Kind::Int),
            ("updated_at", Kind::Int),
        ],
    },
    Table {
        name: "sessions",
        key: "token_hash",
        serial: false,
        columns: &[
            ("token_hash", Kind::Blob),
            ("user_id", Kind::Int),
            ("created_at", Kind::Int),
            ("expires_at", Kind::Int),
            ("revoked_at", Kind::Int),
        ],
    },
    Table {
        name: "chats",
        key: "id",
        serial: true,
        columns: &[
            ("id", Kind::Int),
            ("uuid", Kind::Text),
            ("tenant_id", Kind::Text),
            ("user_id", Kind::Int),
            ("name", Kind::Text),
            ("model", Kind::Text),
            ("metadata", Kind::Text),
            ("version", Kind::Int),
            ("created_at", Kind::Int),
            ("updated_at", Kind::Int),
            ("message_count", Kind::Int),
            ("message_bytes", Kind::Int),
            ("current_message_id", Kind::Int),
            ("branched", Kind::Int),
            ("archived", Kind::Int),
            ("pinned", Kind::Int),
            ("tags", Kind::Text),
            ("trashed_at", Kind::Int),
            ("source_id", Kind::Text),
        ],
    },
    Table {
        name: "messages",
        key: "id",
        serial: true,
        columns: &[
            ("id", Kind::Int),
            ("chat_id", Kind::Int),
            ("actor", Kind::Text),
            ("message", Kind::Text),
            ("created_at", Kind::Int),
            ("updated_at", Kind::Int),
            ("parent_id", Kind::Int),
            ("path_chat_id", Kind::Int),
            ("status", Kind::Text),
            ("model", Kind::Text),
            ("prompt_tokens", Kind::Int),
            ("completion_tokens", Kind::Int),
            ("error_code", Kind::Text),
            ("error_message", Kind::Text),
            ("stream_marks", Kind::Text),
            ("generation_node", Kind::Text),
        ],
    },
    Table {
        name: "files",
        key: "id",
        serial: true,
        columns: &[
            ("id", Kind::Int),
            ("message_id", Kind::Int),
            ("chat_id", Kind::Int),
            ("user_id", Kind::Int),
            ("title", Kind::Text),
            ("text", Kind::Text),
            ("language", Kind::Text),
            ("extension", Kind::Text),
            ("created_at", Kind::Int),
            ("updated_at", Kind::Int),
        ],
    },
    Table {
        name: "shares",
        key: "id",
        serial: false,
        columns: &[
            ("id", Kind::Text),
            ("chat_id", Kind::Int),
            ("snapshot", Kind::Text),
            ("created_at", Kind::Int),
        ],
    },
    Table {
        name: "erased_chats",
        key: "chat_id",
        serial: false,
        columns: &[
            ("chat_id", Kind::Int),
            ("chat_uuid", Kind::Text),
            ("version", Kind::Int),
            ("erased_at", Kind::Int),
        ],
    },
    Table {
        name: "ended_sessions",
        key: "token_hash",
        serial: false,
        columns: &[("token_hash", Kind::Blob), ("ended_at", Kind::Int)],
    },
];

/// What search derives from the tables above, which a copy does not move but rebuilds:
/// these tables (on SQLite also the `<name>_*` tables FTS5 keeps for each), and the
/// document columns PostgreSQL keeps on two tables.
pub const SEARCH_TABLES: &[&str] = &["search_backfill", "message_search", "chat_name_search"];
pub const SEARCH_COLUMNS: &[(&str, &str)] = &[("messages", "search"), ("chats", "name_search")];

/// Whether a table of the catalog is one of [`SEARCH_TABLES`] or FTS5's tables for one.
pub fn is_search_table(name: &str) -> bool {
    SEARCH_TABLES.iter().any(|table| {
        name == *table
            || name
                .strip_prefix(table)
                .is_some_and(|rest| rest.starts_with('_'))
    })
}

/// After a copy: every copied row is indexed when a server next opens the database
/// (the same backfill that indexes a database older than search).
pub const REINDEX_STATEMENTS: &[&str] = &[
    "DELETE FROM search_backfill",
    "INSERT INTO search_backfill (id, messages_upto, messages_done, chats_upto, chats_done) \
     SELECT 1, COALESCE((SELECT MAX(id) FROM messages), 0), 0, \
     COALESCE((SELECT MAX(id) FROM chats), 0), 0",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_a_column() {
        for table in TABLES {
            assert!(
                table.columns.iter().any(|(name, _)| *name == table.key),
                "{}",
                table.name
            );
        }
        assert_eq!(TABLES[3].key_index(), 0);
    }
}
