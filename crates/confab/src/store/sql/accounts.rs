//! Tenants, API keys, users and sessions, and the credentials revoked since a moment.

use anyhow::Context as _;
use sqlx::error::ErrorKind;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use super::rows::{parse_uuid, ApiKeyRow, CredentialsRow, TenantRow, UserRow};
use super::{
    is_unique_violation, session_user_sql, tenant_chats_query, ListOf, Sql, SqlEngine, API_KEY_SQL,
    SESSION_USER_SQL,
};
use crate::domain::{Email, Timestamp};
use crate::store::records::*;
use crate::store::{ChatsFingerprint, ChatsPageStamp, StoreError, StoreResult, TenantChatsPage};

/// A session's user and what was read with it: a chat's version, or the fingerprint's
/// three columns (`version` then holds the sum of versions), or the running reply's
/// count (in `count`).
#[derive(sqlx::FromRow)]
struct SessionAndRow {
    #[sqlx(flatten)]
    user: UserRow,
    version: Option<i64>,
    count: Option<i64>,
    newest: Option<i64>,
}

/// An API key and one chat of its tenant's page (none: the page is empty).
#[derive(sqlx::FromRow)]
struct KeyAndPageRow {
    #[sqlx(flatten)]
    key: ApiKeyRow,
    chat_id: Option<i64>,
    chat_version: Option<i64>,
}

/// What [`Sql::api_key_and_chats_stamp`] reads of each chat of the page: its stamp, and
/// the order of the page.
const KEY_PAGE_COLUMNS: &str = "id, version, created_at";

/// Keys revoked after `$1` (whatever clock the revoker had: no upper bound).
const REVOKED_KEYS_SQL: &str = "SELECT id FROM api_keys WHERE revoked_at > $1";
/// Sessions revoked or erased with their user after `$1`, or expiring in (`$1`, `$2`].
const ENDED_SESSIONS_SQL: &str = "SELECT token_hash FROM sessions WHERE revoked_at > $1 \
     UNION ALL SELECT token_hash FROM sessions WHERE expires_at > $1 AND expires_at <= $2 \
     UNION ALL SELECT token_hash FROM ended_sessions WHERE ended_at > $1";
/// The user of a live session (`$1` token hash, `$2` now) and the version of its chat
/// `$3` (NULL when the chat is not the user's, or trashed), in one statement.
const SESSION_USER_AND_CHAT_VERSION_SQL: &str = session_user_sql!(
    ", c.version AS version, CAST(NULL AS BIGINT) AS count, CAST(NULL AS BIGINT) AS newest",
    " LEFT JOIN chats c ON c.id = $3 AND c.user_id = u.id AND c.trashed_at IS NULL",
    ""
);
/// The user of a live session and its chats fingerprint (as `FINGERPRINT_SQL`), in one
/// statement.
const SESSION_USER_AND_FINGERPRINT_SQL: &str = session_user_sql!(
    ", CAST(SUM(c.version) AS BIGINT) AS version, COUNT(c.id) AS count, MAX(c.id) AS newest",
    " LEFT JOIN chats c ON c.user_id = u.id",
    " GROUP BY u.id, u.tenant_id, u.email, u.created_at, u.updated_at"
);
/// The user of a live session and whether message `$4` of its chat `$3` is being
/// generated (as `reply_running_sql`), in one statement.
const SESSION_USER_AND_REPLY_RUNNING_SQL: &str = session_user_sql!(
    ", CAST(NULL AS BIGINT) AS version, (SELECT count(*) FROM messages m \
     JOIN chats c ON c.id = m.chat_id WHERE c.id = $3 AND c.user_id = u.id \
     AND c.trashed_at IS NULL AND m.id = $4 AND m.status = 'generating') AS count, \
     CAST(NULL AS BIGINT) AS newest",
    "",
    ""
);
/// Chats erased with their user after `$1`.
const ERASED_CHATS_SQL: &str =
    "SELECT chat_id, chat_uuid, version FROM erased_chats WHERE erased_at > $1";

impl<DB> Sql<DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    /// Creates the default tenant (sign-up's) unless there is one. The partial unique
    /// index allows only one, so nodes starting at once race harmlessly.
    pub async fn ensure_default_tenant(&self) -> anyhow::Result<()> {
        let id = self.fresh_tenant_id().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, is_default, created_at) \
             VALUES ($1, 'default', 1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id.hyphenated().to_string())
        .bind(Timestamp::now().micros())
        .execute(&self.writer)
        .await
        .context("cannot create the default tenant")?;
        Ok(())
    }

    pub async fn default_tenant(&self) -> StoreResult<TenantRecord> {
        sqlx::query_as::<DB, TenantRow>(
            "SELECT id, name, created_at, retention_days FROM tenants WHERE is_default = 1",
        )
        .fetch_one(&self.reader)
        .await?
        .into_record()
    }

    /// A new tenant id whose first 48 bits no tenant's id starts with: they mark the
    /// tenant's words in SQLite's search index (`store/sqlite/search.rs`), which must tell
    /// tenants apart.
    async fn fresh_tenant_id(&self) -> StoreResult<Uuid> {
        loop {
            let id = Uuid::new_v4();
            let hyphenated = id.hyphenated().to_string();
            let taken: i64 = sqlx::query_scalar::<DB, i64>(
                "SELECT COUNT(*) FROM tenants WHERE substr(id, 1, 13) = $1",
            )
            .bind(&hyphenated[..13])
            .fetch_one(&self.writer)
            .await?;
            if taken == 0 {
                return Ok(id);
            }
        }
    }

    pub async fn create_tenant(&self, name: &str) -> StoreResult<TenantRecord> {
        let id = self.fresh_tenant_id().await?;
        sqlx::query_as::<DB, TenantRow>(
            "INSERT INTO tenants (id, name, is_default, created_at) VALUES ($1, $2, 0, $3) \
             RETURNING id, name, created_at, retention_days",
        )
        .bind(id.hyphenated().to_string())
        .bind(name)
        .bind(Timestamp::now().micros())
        .fetch_one(&self.writer)
        .await?
        .into_record()
    }

    pub async fn get_tenant(&self, id: Uuid) -> StoreResult<TenantRecord> {
        sqlx::query_as::<DB, TenantRow>(
            "SELECT id, name, created_at, retention_days FROM tenants WHERE id = $1",
        )
        .bind(id.hyphenated().to_string())
        .fetch_one(&self.reader)
        .await?
        .into_record()
    }

    pub async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        sqlx::query_as::<DB, TenantRow>(
            "SELECT id, name, created_at, retention_days FROM tenants ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(TenantRow::into_record)
        .collect()
    }

    pub async fn list_api_keys(&self, tenant_id: Uuid) -> StoreResult<Vec<ApiKeyRecord>> {
        sqlx::query_as::<DB, ApiKeyRow>(
            "SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant_id.hyphenated().to_string())
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(ApiKeyRow::into_record)
        .collect()
    }

    pub async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord> {
        sqlx::query_as::<DB, ApiKeyRow>(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(Uuid::new_v4().hyphenated().to_string())
        .bind(key.tenant_id.hyphenated().to_string())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.secret_hash)
        .bind(Timestamp::now().micros())
        .fetch_one(&self.writer)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("api key prefix taken")
            } else if matches!(&e, sqlx::Error::Database(db) if db.kind() == ErrorKind::ForeignKeyViolation)
            {
                StoreError::NotFound
            } else {
                e.into()
            }
        })?
        .into_record()
    }

    pub async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>> {
        sqlx::query_as::<DB, ApiKeyRow>(API_KEY_SQL)
            .bind(prefix)
            .fetch_optional(&self.reader)
            .await?
            .map(ApiKeyRow::into_record)
            .transpose()
    }

    /// [`Store::api_key_and_chats_stamp`](crate::store::Store::api_key_and_chats_stamp)
    /// as one statement (PostgreSQL, and SQLite without its point reader): the key, and
    /// joined to it the page of its tenant's list, each chat's id and version, newest
    /// first (one row with no chat when the page is empty; none when no key matches).
    pub async fn api_key_and_chats_stamp(
        &self,
        prefix: &str,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Option<(ApiKeyRecord, ChatsPageStamp)>> {
        let (page_sql, values) =
            tenant_chats_query::<DB>(KEY_PAGE_COLUMNS, ListOf::KeyPrefix(prefix), page);
        // `API_KEY_SQL` and the page both name the prefix `$1`.
        let sql = format!(
            "SELECT k.*, p.id AS chat_id, p.version AS chat_version \
             FROM ({API_KEY_SQL}) k LEFT JOIN ({page_sql}) p ON TRUE \
             ORDER BY p.created_at DESC, p.id DESC"
        );
        let query = Self::bind_values(sqlx::query_as::<DB, KeyAndPageRow>(&sql), values);
        let mut rows = query.fetch_all(&self.reader).await?.into_iter();
        let Some(first) = rows.next() else {
            return Ok(None);
        };
        let stamp = std::iter::once((first.chat_id, first.chat_version))
            .chain(rows.map(|row| (row.chat_id, row.chat_version)))
            .filter_map(|(id, version)| Some((id?, version?)))
            .collect();
        Ok(Some((first.key.into_record()?, ChatsPageStamp(stamp))))
    }

    pub async fn revoke_api_key(&self, id: Uuid, at: Timestamp) -> StoreResult<ApiKeyRecord> {
        sqlx::query_as::<DB, ApiKeyRow>(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING *",
        )
        .bind(id.hyphenated().to_string())
        .bind(at.micros())
        .fetch_one(&self.writer)
        .await?
        .into_record()
    }

    pub async fn touch_api_key(&self, id: Uuid, at: Timestamp) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.hyphenated().to_string())
            .bind(at.micros())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn create_user(
        &self,
        tenant_id: Uuid,
        email: &Email,
        password_hash: &str,
    ) -> StoreResult<UserRecord> {
        sqlx::query_as::<DB, UserRow>(
            "INSERT INTO users (tenant_id, email, email_lower, password_hash, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
             RETURNING id, tenant_id, email, created_at, updated_at",
        )
        .bind(tenant_id.hyphenated().to_string())
        .bind(email.as_str())
        .bind(email.normalized())
        .bind(password_hash)
        .bind(Timestamp::now().micros())
        .fetch_one(&self.writer)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("email already registered")
            } else {
                e.into()
            }
        })?
        .into_record()
    }

    pub async fn user_credentials(
        &self,
        tenant_id: Uuid,
        email: &Email,
    ) -> StoreResult<Option<Credentials>> {
        sqlx::query_as::<DB, CredentialsRow>(
            "SELECT id, tenant_id, email, created_at, updated_at, password_hash FROM users \
             WHERE tenant_id = $1 AND email_lower = $2",
        )
        .bind(tenant_id.hyphenated().to_string())
        .bind(email.normalized())
        .fetch_optional(&self.reader)
        .await?
        .map(CredentialsRow::into_record)
        .transpose()
    }

    pub async fn get_user(&self, tenant_id: Uuid, user_id: i64) -> StoreResult<UserRecord> {
        sqlx::query_as::<DB, UserRow>(
            "SELECT id, tenant_id, email, created_at, updated_at FROM users \
             WHERE id = $1 AND tenant_id = $2",
        )
        .bind(user_id)
        .bind(tenant_id.hyphenated().to_string())
        .fetch_one(&self.reader)
        .await?
        .into_record()
    }

    pub async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id)
        .bind(Timestamp::now().micros())
        .bind(session.expires_at.micros())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The user of a live session, through sqlx (SQLite has a faster way for files).
    pub async fn session_user(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<Option<UserRecord>> {
        sqlx::query_as::<DB, UserRow>(SESSION_USER_SQL)
            .bind(token_hash)
            .bind(now.micros())
            .fetch_optional(&self.reader)
            .await?
            .map(UserRow::into_record)
            .transpose()
    }

    /// [`Store::session_user_and`](crate::store::Store::session_user_and) as one
    /// statement (PostgreSQL, and SQLite without its point reader): one round trip, one
    /// snapshot.
    pub async fn session_user_and(
        &self,
        token_hash: &[u8],
        now: Timestamp,
        then: AfterSession,
    ) -> StoreResult<Option<(UserRecord, ReadAfterSession)>> {
        let query = match then {
            AfterSession::ChatVersion(chat_id) => {
                sqlx::query_as::<DB, SessionAndRow>(SESSION_USER_AND_CHAT_VERSION_SQL)
                    .bind(token_hash)
                    .bind(now.micros())
                    .bind(chat_id)
            }
            AfterSession::ChatsFingerprint => {
                sqlx::query_as::<DB, SessionAndRow>(SESSION_USER_AND_FINGERPRINT_SQL)
                    .bind(token_hash)
                    .bind(now.micros())
            }
            AfterSession::ReplyRunning {
                chat_id,
                message_id,
            } => sqlx::query_as::<DB, SessionAndRow>(SESSION_USER_AND_REPLY_RUNNING_SQL)
                .bind(token_hash)
                .bind(now.micros())
                .bind(chat_id)
                .bind(message_id),
        };
        let Some(row) = query.fetch_optional(&self.reader).await? else {
            return Ok(None);
        };
        let read = match then {
            AfterSession::ChatVersion(chat_id) => ReadAfterSession::ChatVersion(
                row.version
                    .map(|version| ChatVersion {
                        id: chat_id,
                        version,
                    })
                    .ok_or(StoreError::NotFound),
            ),
            AfterSession::ChatsFingerprint => {
                ReadAfterSession::ChatsFingerprint(ChatsFingerprint {
                    count: row.count.unwrap_or(0),
                    versions: row.version.unwrap_or(0),
                    newest: row.newest.unwrap_or(0),
                })
            }
            AfterSession::ReplyRunning { .. } => {
                ReadAfterSession::ReplyRunning(row.count.unwrap_or(0) > 0)
            }
        };
        Ok(Some((row.user.into_record()?, read)))
    }

    pub async fn revoke_session(&self, token_hash: &[u8], at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(at.micros())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// API keys revoked after `since`, and sessions revoked after `since` or expiring
    /// between `since` and `until`: two indexed range scans.
    pub async fn revoked_between(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<RevokedCredentials> {
        let keys: Vec<String> = sqlx::query_scalar::<DB, String>(REVOKED_KEYS_SQL)
            .bind(since.micros())
            .fetch_all(&self.reader)
            .await?;
        let sessions: Vec<Vec<u8>> = sqlx::query_scalar::<DB, Vec<u8>>(ENDED_SESSIONS_SQL)
            .bind(since.micros())
            .bind(until.micros())
            .fetch_all(&self.reader)
            .await?;
        let erased: Vec<(i64, String, i64)> =
            sqlx::query_as::<DB, (i64, String, i64)>(ERASED_CHATS_SQL)
                .bind(since.micros())
                .fetch_all(&self.reader)
                .await?;
        Ok(RevokedCredentials {
            api_keys: keys
                .iter()
                .map(|id| parse_uuid(id))
                .collect::<StoreResult<_>>()?,
            sessions,
            erased_chats: erased
                .into_iter()
                .map(|(id, uuid, version)| {
                    Ok(ErasedChat {
                        id,
                        uuid: parse_uuid(&uuid)?,
                        version,
                    })
                })
                .collect::<StoreResult<_>>()?,
        })
    }
}
