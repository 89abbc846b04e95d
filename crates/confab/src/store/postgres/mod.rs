//! PostgreSQL, for several server nodes sharing one database.
//!
//! One pool serves reads and writes. Write transactions are ordinary READ COMMITTED
//! transactions: every chat mutation starts by bumping the chat's `version`, which takes
//! the chat's row lock, so concurrent changes to one chat run one after the other while
//! changes to different chats run in parallel. Read transactions are `REPEATABLE READ
//! READ ONLY`, so a listing's messages and files come from one snapshot. Appends and the
//! per-request lookups run as the shared SQL writes them. Search documents are `tsvector`
//! columns with GIN indexes (`search.rs`).

mod search;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::Connection as _;
use sqlx::{Pool, Postgres};
use std::str::FromStr;
use std::time::Duration;

use super::records::{
    AfterSession, ApiKeyRecord, Appended, ChatRecord, ChatRef, ChatVersion, NewMessage,
    ReadAfterSession, Under, UserRecord,
};
use super::search::{SearchHit, SearchRequest, SearchScope};
use super::sql::{SearchExpression, SearchIndex, Sql, SqlEngine, SqlStore};
use super::{redact_url, StoreResult};
use crate::domain::search::Query;
use crate::domain::Timestamp;
use crate::store::{ChatsFingerprint, ChatsPageStamp, TenantChatsPage};

/// The store on PostgreSQL.
pub type PostgresStore = SqlStore<Postgres>;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long one search may take (`statement_timeout` in `SEARCH_SESSION_SQL`).
const SEARCH_TIME_LIMIT: Duration = Duration::from_secs(10);

impl SqlEngine for Postgres {
    const ENGINE: &'static str = "postgres";
    const BEGIN_WRITE: Option<&'static str> = None;
    const BEGIN_READ: Option<&'static str> =
        Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    type Extras = ();

    const INSERT_MESSAGE_SQL: &'static str = search::INSERT_MESSAGE_SQL;
    const SEARCH_DOCUMENT_IN_INSERT: bool = true;
    const INDEX_MESSAGE_SQL: &'static str = search::INDEX_MESSAGE_SQL;
    const UNINDEX_MESSAGE_SQL: Option<&'static str> = None;
    const INDEX_CHAT_NAME_SQL: &'static str = search::INDEX_CHAT_NAME_SQL;
    // Nodes starting together index one batch at a time.
    const BACKFILL_PROGRESS_SQL: &'static str =
        "SELECT messages_upto, messages_done, chats_upto, chats_done FROM search_backfill \
         FOR UPDATE";
    // A time limit (a prefix of many words once ran for 12 minutes at a million
    // messages); plans made for each statement's values (a generic plan keeps every
    // `$n IS NULL OR …` filter and cannot tell a rare word from a common one); no JIT
    // (compiling took longer than these statements run); a band's few hundred rows
    // joined to their chats by key, where the planner's estimates led it to hash every
    // chat of the tenant.
    const SEARCH_SESSION_SQL: &'static [&'static str] = &[
        "SET LOCAL statement_timeout = 10000", // SEARCH_TIME_LIMIT
        "SET LOCAL plan_cache_mode = force_custom_plan",
        "SET LOCAL jit = off",
        "SET LOCAL enable_hashjoin = off",
        "SET LOCAL enable_mergejoin = off",
    ];
    const MESSAGE_BAND_SQL: &'static str = search::MESSAGE_BAND_SQL;
    const NAME_BAND_SQL: &'static str = search::NAME_BAND_SQL;
    const SEARCH_INDEX: SearchIndex = SearchIndex::Unordered {
        sparse: "SET LOCAL enable_indexscan = off",
        dense: "SET LOCAL enable_indexscan = on",
        time_limit: SEARCH_TIME_LIMIT,
        time_left: "SELECT set_config('statement_timeout', $1, true)",
    };
    const TERM_COUNT_SQL: &'static str = search::TERM_COUNT_SQL;
    const IN_ID_LIST: &'static str = "= ANY(CAST(string_to_array($1, ',') AS BIGINT[]))";

    /// The tenant is a plain condition of the search statement.
    fn search_document(text: &str, _tenant: uuid::Uuid) -> String {
        search::document(text)
    }

    /// The scope's user and chat are marks in the documents (and plain conditions of the
    /// statement too).
    fn search_expression(query: &Query, scope: &SearchScope) -> SearchExpression {
        search::lookup(query, scope)
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn has_tag_sql(param: usize) -> String {
        format!("jsonb_exists(chats.tags::jsonb, ${param})")
    }

    /// 0x636f6e666162 is "confab" in ASCII: one lock for every confab sweeper.
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SWEEP_LOCK_SQL: Option<&'static str> =
        Some("SELECT CAST(pg_try_advisory_xact_lock(109330244723042) AS INTEGER)::BIGINT");

    /// In a transaction of its own; the chat's row lock (taken by the version bump)
    /// serialises appends to one chat.
    async fn append_messages(
        store: &PostgresStore,
        chat: ChatRef,
        under: Under,
        messages: Vec<NewMessage>,
    ) -> StoreResult<Appended> {
        let mut tx = store.sql.begin_write().await?;
        let appended =
            Sql::<Postgres>::append_in(&mut tx, chat, under, messages, store.sql.quotas).await?;
        tx.commit().await?;
        Ok(appended)
    }

    async fn session_user(
        store: &PostgresStore,
        token_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<Option<UserRecord>> {
        store.sql.session_user(token_hash, now).await
    }

    async fn search(store: &PostgresStore, request: &SearchRequest) -> StoreResult<Vec<SearchHit>> {
        store.sql.search(request).await
    }

    async fn session_user_and(
        store: &PostgresStore,
        token_hash: &[u8],
        now: Timestamp,
        then: AfterSession,
    ) -> StoreResult<Option<(UserRecord, ReadAfterSession)>> {
        store.sql.session_user_and(token_hash, now, then).await
    }

    async fn chat_version(store: &PostgresStore, chat: &ChatRef) -> StoreResult<ChatVersion> {
        store.sql.chat_version(chat).await
    }

    async fn chats_fingerprint(
        store: &PostgresStore,
        user_id: i64,
    ) -> StoreResult<ChatsFingerprint> {
        store.sql.chats_fingerprint(user_id).await
    }

    async fn list_tenant_chats(
        store: &PostgresStore,
        tenant_id: uuid::Uuid,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Vec<ChatRecord>> {
        store.sql.list_tenant_chats(tenant_id, page).await
    }

    async fn api_key_and_chats_stamp(
        store: &PostgresStore,
        prefix: &str,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Option<(ApiKeyRecord, ChatsPageStamp)>> {
        store.sql.api_key_and_chats_stamp(prefix, page).await
    }

    async fn find_api_key(
        store: &PostgresStore,
        prefix: &str,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        store.sql.find_api_key(prefix).await
    }

    async fn reply_running(
        store: &PostgresStore,
        chat: &ChatRef,
        message_id: i64,
    ) -> StoreResult<bool> {
        store.sql.reply_running(chat, message_id).await
    }
}

impl PostgresStore {
    /// Connects to the database at `url` and migrates it. The migrator holds an advisory
    /// lock while it runs, so several nodes may start at once.
    pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let pool = open_pool(url, pool_size).await?;
        MIGRATOR
            .run(&pool)
            .await
            .context("cannot apply PostgreSQL migrations")?;
        let store = SqlStore::new(pool.clone(), pool, ());
        store.sql.ensure_default_tenant().await?;
        store.sql.backfill_search().await?;
        Ok(store)
    }
}

/// A pool on `url` without migrating (for `confab copy`'s source).
pub(crate) async fn open_pool(url: &str, pool_size: u32) -> anyhow::Result<Pool<Postgres>> {
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("invalid PostgreSQL URL {:?}", redact_url(url)))?
        .application_name("confab")
        // Idempotent DDL (the migrator's `IF NOT EXISTS`) would log notices otherwise.
        .options([("client_min_messages", "warning")]);
    // One direct connection first: a pool reports only "timed out", this says why
    // (refused, authentication, no such database).
    PgConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {:?}", redact_url(url)))?
        .close()
        .await
        .ok();
    Ok(PgPoolOptions::new()
        .max_connections(pool_size.max(1))
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy_with(options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_search_statement_and_the_whole_search_share_one_time_limit() {
        let per_statement = format!(
            "SET LOCAL statement_timeout = {}",
            SEARCH_TIME_LIMIT.as_millis()
        );
        assert!(<Postgres as SqlEngine>::SEARCH_SESSION_SQL.contains(&per_statement.as_str()));
    }
}
