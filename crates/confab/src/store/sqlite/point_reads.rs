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
use uuid::Uuid;

use super::direct::{all_rows, failed, one_row, read_chat_row};
use crate::domain::Timestamp;
use crate::store::records::{
    AfterSession, ApiKeyRecord, ChatRecord, ChatRef, ChatVersion, ReadAfterSession, UserRecord,
};
use crate::store::sql::rows::{chats, ApiKeyRow, UserRow};
use crate::store::sql::{
    chat_ref_values, chat_version_sql, reply_running_sql, Bound, API_KEY_SQL, FINGERPRINT_SQL,
    SESSION_USER_SQL,
};
use crate::store::StoreResult;
use crate::store::{ChatsFingerprint, ChatsPageStamp};

pub struct PointReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    /// `(name, value)` of each `PRAGMA` a new connection runs.
    pragmas: &'static [(&'static str, &'static str)],
    /// How long a read waits for a lock (in WAL mode, rare: a checkpoint or recovery).
    busy_timeout: Duration,
}

impl PointReader {
    /// For the database file at `path` (`None` for no name). A database in memory is
    /// not a file other connections can open: the caller decides that from its URL.
    pub fn for_file(path: &Path, max_idle: usize) -> Option<Self> {
        if path.as_os_str().is_empty() {
            return None;
        }
        Some(PointReader {
            path: path.to_owned(),
            idle: Mutex::default(),
            max_idle: max_idle.max(1),
            pragmas: &[],
            busy_timeout: Duration::from_secs(2),
        })
    }

    /// The same, with connections that run `pragmas` (`(name, value)`) when opened and
    /// wait up to `busy_timeout` for a lock.
    pub fn with_settings(
        self,
        pragmas: &'static [(&'static str, &'static str)],
        busy_timeout: Duration,
    ) -> Self {
        PointReader {
            pragmas,
            busy_timeout,
            ..self
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        for (name, value) in self.pragmas {
            conn.execute_batch(&format!("PRAGMA {name} = {value}"))?;
        }
        Ok(conn)
    }

    fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        self.with_connection(|conn| read(conn).map_err(failed))
    }

    /// Runs `read` on an idle connection (or a new one), which goes back to the idle ones
    /// after.
    pub(super) fn with_connection<T>(
        &self,
        read: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let pooled = self.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open().map_err(failed)?,
        };
        let result = read(&conn);
        // A connection still in a transaction (an end that failed) would hold its
        // snapshot, and with it the WAL from being checkpointed: it is closed instead.
        let mut idle = self.lock();
        if idle.len() < self.max_idle && conn.is_autocommit() {
            idle.push(conn);
        }
        result
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
        self.with(|conn| session_row(conn, token_hash, now))?
            .map(UserRow::into_record)
            .transpose()
    }

    /// [`Self::session_user`], then what `then` asks of the user, in one read
    /// transaction: taking and releasing a read transaction's locks on the WAL index is
    /// most of a point read's cost.
    pub fn session_user_and(
        &self,
        token_hash: &[u8],
        now: Timestamp,
        then: AfterSession,
    ) -> StoreResult<Option<(UserRecord, ReadAfterSession)>> {
        let read = self.with(|conn| {
            in_one_snapshot(conn, |conn| {
                let Some(session) = session_row(conn, token_hash, now)? else {
                    return Ok(None);
                };
                let user_id = session.id;
                let next = match then {
                    AfterSession::ChatVersion(chat_id) => {
                        let chat = ChatRef::User { user_id, chat_id };
                        ReadAfterSession::ChatVersion(version_row(conn, &chat).map_err(failed))
                    }
                    AfterSession::ChatsFingerprint => {
                        ReadAfterSession::ChatsFingerprint(fingerprint_row(conn, user_id)?)
                    }
                    AfterSession::ReplyRunning {
                        chat_id,
                        message_id,
                    } => {
                        let chat = ChatRef::User { user_id, chat_id };
                        ReadAfterSession::ReplyRunning(reply_running_row(conn, &chat, message_id)?)
                    }
                };
                Ok(Some((session, next)))
            })
        })?;
        read.map(|(session, next)| Ok((session.into_record()?, next)))
            .transpose()
    }

    pub fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let row = self.with(|conn| api_key_row(conn, prefix))?;
        row.map(ApiKeyRow::into_record).transpose()
    }

    /// [`Self::find_api_key`], then each `(id, version)` the statement `then` builds for
    /// the key's tenant selects, in one read transaction (see
    /// [`Self::session_user_and`]).
    pub fn api_key_and(
        &self,
        prefix: &str,
        then: impl FnOnce(Uuid) -> (String, Vec<Bound>),
    ) -> StoreResult<Option<(ApiKeyRecord, ChatsPageStamp)>> {
        let read = self.with(|conn| {
            in_one_snapshot(conn, |conn| {
                let Some(key) = api_key_row(conn, prefix)? else {
                    return Ok(None);
                };
                // A tenant id that does not parse fails below, as `into_record`.
                let stamp = match Uuid::parse_str(&key.tenant_id) {
                    Ok(tenant_id) => {
                        let (sql, values) = then(tenant_id);
                        Some(all_rows(conn, &sql, &values, |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })?)
                    }
                    Err(_) => None,
                };
                Ok(Some((key, stamp)))
            })
        })?;
        let Some((key, stamp)) = read else {
            return Ok(None);
        };
        let key = key.into_record()?;
        Ok(Some((key, ChatsPageStamp(stamp.unwrap_or_default()))))
    }

    pub fn chats_fingerprint(&self, user_id: i64) -> StoreResult<ChatsFingerprint> {
        self.with(|conn| fingerprint_row(conn, user_id))
    }

    pub fn chat_version(&self, chat: &ChatRef) -> StoreResult<ChatVersion> {
        self.with(|conn| version_row(conn, chat))
    }

    pub fn reply_running(&self, chat: &ChatRef, message_id: i64) -> StoreResult<bool> {
        self.with(|conn| reply_running_row(conn, chat, message_id))
    }

    /// The chats a statement built at run time selects (`chat_columns!` in order),
    /// with `values` bound to `$1`, `$2`... wherever each stands in it.
    pub fn chats(&self, sql: &str, values: &[Bound]) -> StoreResult<Vec<ChatRecord>> {
        let rows = self.with(|conn| all_rows(conn, sql, values, read_chat_row))?;
        chats(rows)
    }
}

/// The user of a live session (the columns of [`SESSION_USER_SQL`], in order).
fn session_row(
    conn: &Connection,
    token_hash: &[u8],
    now: Timestamp,
) -> rusqlite::Result<Option<UserRow>> {
    conn.prepare_cached(SESSION_USER_SQL)?
        .query_row(rusqlite::params![token_hash, now.micros()], |row| {
            Ok(UserRow {
                id: row.get(0)?,
                tenant_id: row.get(1)?,
                email: row.get(2)?,
                created_at: row.get(3)?,
                updated_at: row.get(4)?,
            })
        })
        .optional()
}

fn fingerprint_row(conn: &Connection, user_id: i64) -> rusqlite::Result<ChatsFingerprint> {
    conn.prepare_cached(FINGERPRINT_SQL)?
        .query_row(rusqlite::params![user_id], |row| {
            Ok(ChatsFingerprint {
                count: row.get(0)?,
                versions: row.get(1)?,
                newest: row.get(2)?,
            })
        })
}

fn version_row(conn: &Connection, chat: &ChatRef) -> rusqlite::Result<ChatVersion> {
    one_row(
        conn,
        chat_version_sql(chat),
        &chat_ref_values(chat),
        |row| {
            Ok(ChatVersion {
                id: row.get(0)?,
                version: row.get(1)?,
            })
        },
    )
}

/// Whether message `message_id` of `chat` is being generated (`reply_running_sql`).
fn reply_running_row(conn: &Connection, chat: &ChatRef, message_id: i64) -> rusqlite::Result<bool> {
    let mut values = Vec::from(chat_ref_values(chat));
    values.push(Bound::Int(message_id));
    let running: i64 = one_row(conn, reply_running_sql(chat), &values, |row| row.get(0))?;
    Ok(running > 0)
}

/// Runs `read` inside one read transaction on `conn`, and ends it whatever happened.
pub(super) fn in_one_snapshot<T, E: From<rusqlite::Error>>(
    conn: &Connection,
    read: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = read(conn);
    let ended = conn.prepare_cached("COMMIT")?.execute([]);
    if !conn.is_autocommit() {
        // Not ended (the COMMIT failed): a pooled connection must not keep a snapshot.
        conn.execute_batch("ROLLBACK")?;
    }
    let value = result?;
    ended?;
    Ok(value)
}

fn api_key_row(conn: &Connection, prefix: &str) -> rusqlite::Result<Option<ApiKeyRow>> {
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
}
