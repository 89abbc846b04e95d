//! SQLite point reads without a thread hop.
//!
//! sqlx runs each SQLite connection on its own thread and hands every statement and row
//! across channels; for the lookups every authenticated request makes (the session or the
//! API key, a chat's version), the fingerprint a cached chat list is checked against, a
//! resumer's check of a reply and the tenant's chat list, those hand-offs cost more than
//! the reads. These run the same SQL through rusqlite, inline on the calling task: an
//! indexed read of a page already in memory takes microseconds. Read-only connections,
//! WAL mode: they never wait for the writer.

use rusqlite::{Connection, OpenFlags, OptionalExtension as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::direct::{all_rows, failed, one_row, read_chat_row};
use crate::domain::Timestamp;
use crate::store::records::{ApiKeyRecord, ChatRecord, ChatRef, ChatVersion, UserRecord};
use crate::store::sql::rows::{chats, parse_uuid, ApiKeyRow};
use crate::store::sql::{
    chat_ref_values, chat_version_sql, reply_running_sql, Bound, API_KEY_SQL, FINGERPRINT_SQL,
    SESSION_USER_SQL,
};
use crate::store::ChatsFingerprint;
use crate::store::StoreResult;

pub struct PointReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl PointReader {
    /// For the database file at `path`; `None` for in-memory databases, which other
    /// connections cannot see.
    pub fn for_file(path: &Path, max_idle: usize) -> Option<Self> {
        let name = path.to_string_lossy();
        if name.is_empty() || name.contains(":memory:") || name.contains("mode=memory") {
            return None;
        }
        Some(PointReader {
            path: path.to_owned(),
            idle: Mutex::default(),
            max_idle: max_idle.max(1),
        })
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(2))?;
        Ok(conn)
    }

    fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let pooled = self.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open().map_err(failed)?,
        };
        let result = read(&conn);
        let mut idle = self.lock();
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
        result.map_err(failed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn session_user(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<Option<UserRecord>> {
        let row = self.with(|conn| {
            conn.prepare_cached(SESSION_USER_SQL)?
                .query_row(rusqlite::params![token_hash, now.micros()], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                })
                .optional()
        })?;
        row.map(|(id, tenant_id, email, created_at, updated_at)| {
            Ok(UserRecord {
                id,
                tenant_id: parse_uuid(&tenant_id)?,
                email,
                created_at: Timestamp(created_at),
                updated_at: Timestamp(updated_at),
            })
        })
        .transpose()
    }

    pub fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let row = self.with(|conn| {
            conn.prepare_cached(API_KEY_SQL)?
                .query_row(rusqlite::params![prefix], |row| {
                    Ok(ApiKeyRow {
                        id: row.get(0)?,
                        tenant_id: row.get(1)?,
                        name: row.get(2)?,
                        prefix: row.get(3)?,
                        secret_hash: row.get(4)?,
                        created_at: row.get(5)?,
                        last_used_at: row.get(6)?,
                        revoked_at: row.get(7)?,
                    })
                })
                .optional()
        })?;
        row.map(ApiKeyRow::into_record).transpose()
    }

    pub fn chats_fingerprint(&self, user_id: i64) -> StoreResult<ChatsFingerprint> {
        self.with(|conn| {
            conn.prepare_cached(FINGERPRINT_SQL)?
                .query_row(rusqlite::params![user_id], |row| {
                    Ok(ChatsFingerprint {
                        count: row.get(0)?,
                        versions: row.get(1)?,
                        newest: row.get(2)?,
                    })
                })
        })
    }

    pub fn chat_version(&self, chat: &ChatRef) -> StoreResult<ChatVersion> {
        self.by_chat(chat_version_sql(chat), chat, None, |row| {
            Ok(ChatVersion {
                id: row.get(0)?,
                version: row.get(1)?,
            })
        })
    }

    pub fn reply_running(&self, chat: &ChatRef, message_id: i64) -> StoreResult<bool> {
        let running: i64 =
            self.by_chat(reply_running_sql(chat), chat, Some(message_id), |row| {
                row.get(0)
            })?;
        Ok(running > 0)
    }

    /// The chats a statement built at run time selects (`chat_columns!` in order),
    /// with `values` bound to `$1`, `$2`... wherever each stands in it.
    pub fn chats(&self, sql: &str, values: &[Bound]) -> StoreResult<Vec<ChatRecord>> {
        let rows = self.with(|conn| all_rows(conn, sql, values, read_chat_row))?;
        chats(rows)
    }

    /// The one row of `sql`, a statement of [`by_ref`](crate::store::sql::by_ref) shape
    /// bound to `chat`, and `$3` when given.
    fn by_chat<T>(
        &self,
        sql: &'static str,
        chat: &ChatRef,
        third: Option<i64>,
        row: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        let mut values = Vec::from(chat_ref_values(chat));
        values.extend(third.map(Bound::Int));
        self.with(|conn| one_row(conn, sql, &values, row))
    }
}
