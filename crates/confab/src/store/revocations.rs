//! Credentials that stopped being valid: what the revocation watcher polls for (see
//! [`crate::revocation`]). The same two indexed range scans on both engines.

use sqlx::{Database, Pool};
use uuid::Uuid;

use super::sql::parse_uuid;
use super::StoreResult;
use crate::domain::Timestamp;

/// API keys revoked, and sessions revoked or expired, in a window of time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevokedCredentials {
    pub api_keys: Vec<Uuid>,
    /// Session token hashes.
    pub sessions: Vec<Vec<u8>>,
}

/// Keys revoked after `$1` (whatever clock the revoker had: no upper bound).
const REVOKED_KEYS_SQL: &str = "SELECT id FROM api_keys WHERE revoked_at > $1";
/// Sessions revoked after `$1`, or expiring in (`$1`, `$2`].
const ENDED_SESSIONS_SQL: &str = "SELECT token_hash FROM sessions WHERE revoked_at > $1 \
     UNION ALL SELECT token_hash FROM sessions WHERE expires_at > $1 AND expires_at <= $2";

/// API keys revoked after `since`, and sessions revoked after `since` or expiring
/// between `since` and `until`.
pub(crate) async fn revoked_between<DB>(
    pool: &Pool<DB>,
    since: Timestamp,
    until: Timestamp,
) -> StoreResult<RevokedCredentials>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
    (Vec<u8>,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let keys: Vec<String> = sqlx::query_scalar::<DB, String>(REVOKED_KEYS_SQL)
        .bind(since.micros())
        .fetch_all(pool)
        .await?;
    let sessions: Vec<Vec<u8>> = sqlx::query_scalar::<DB, Vec<u8>>(ENDED_SESSIONS_SQL)
        .bind(since.micros())
        .bind(until.micros())
        .fetch_all(pool)
        .await?;
    Ok(RevokedCredentials {
        api_keys: keys
            .iter()
            .map(|id| parse_uuid(id))
            .collect::<StoreResult<_>>()?,
        sessions,
    })
}
