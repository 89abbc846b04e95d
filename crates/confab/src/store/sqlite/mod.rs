//! The embedded default: SQLite in WAL mode.
//!
//! One writer connection (SQLite has one writer anyway; queuing in the pool is cheaper
//! than spinning on the busy handler) whose transactions start with `BEGIN IMMEDIATE`,
//! so a read-then-write transaction never fails to upgrade its lock; and a small pool of
//! readers that WAL lets run beside the writer. `synchronous = FULL`: a commit is on disk
//! before the API answers 2xx.
//!
//! What SQLite does its own way: appends share one commit (`group_commit.rs`), and the
//! two lookups every authenticated request makes skip sqlx (`point_reads.rs`); search is
//! FTS5 (`search.rs`).

mod append;
mod direct;
mod group_commit;
mod point_reads;
mod search;
mod search_reads;

use anyhow::Context as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;
use std::str::FromStr;
use std::time::Duration;

use super::records::{
    AfterSession, ApiKeyRecord, Appended, ChatRecord, ChatRef, ChatVersion, NewMessage,
    ReadAfterSession, Under, UserRecord,
};
use super::search::{SearchHit, SearchRequest, SearchScope};
use super::sql::{
    tenant_chats_query, ListOf, SearchExpression, SearchIndex, Sql, SqlEngine, SqlStore,
    CHAT_STAMP_COLUMNS,
};
use super::StoreResult;
use crate::domain::search::Query;
use crate::domain::Timestamp;
use crate::store::sql::rows::chat_columns;
use crate::store::{ChatsFingerprint, ChatsPageStamp, TenantChatsPage};
use group_commit::GroupCommitter;
use point_reads::PointReader;
use search_reads::SearchReader;

/// The store on SQLite.
pub type SqliteStore = SqlStore<Sqlite>;

/// What SQLite keeps beside its pools.
pub struct SqliteExtras {
    /// Appends go through group commit (the hot write path).
    group: GroupCommitter,
    /// Session and chat-version lookups without a thread hop (file databases only).
    points: Option<PointReader>,
    /// Searches, each whole on one blocking thread (file databases only).
    searches: Option<SearchReader>,
}

/// How long a connection waits for another's lock unless told otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache of each reader connection (`PRAGMA cache_size`: negative means KiB).
const READER_CACHE_SIZE: &str = "-4000";

/// Bytes of the database file each search connection maps into memory
/// (`PRAGMA mmap_size`; see docs/architecture.md, "Search in the store").
const SEARCH_MMAP_SIZE: &str = "1073741824";

/// What each search connection sets when it opens (as the pools' connections, with the
/// file mapped).
const SEARCH_PRAGMAS: &[(&str, &str)] = &[
    ("temp_store", "memory"),
    ("cache_size", READER_CACHE_SIZE),
    ("mmap_size", SEARCH_MMAP_SIZE),
];

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqlEngine for Sqlite {
    const ENGINE: &'static str = "sqlite";
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const BEGIN_READ: Option<&'static str> = None;
    type Extras = SqliteExtras;

    const INSERT_MESSAGE_SQL: &'static str =
        "INSERT INTO messages (chat_id, actor, message, created_at, updated_at, parent_id, \
         path_chat_id) VALUES ($1, $2, $3, $4, $4, $5, $1) RETURNING id";
    const SEARCH_DOCUMENT_IN_INSERT: bool = false;
    const INDEX_MESSAGE_SQL: &'static str = search::INDEX_MESSAGE_SQL;
    const UNINDEX_MESSAGE_SQL: Option<&'static str> = Some(search::UNINDEX_MESSAGE_SQL);
    const INDEX_CHAT_NAME_SQL: &'static str = search::INDEX_CHAT_NAME_SQL;
    const BACKFILL_PROGRESS_SQL: &'static str =
        "SELECT messages_upto, messages_done, chats_upto, chats_done FROM search_backfill";
    // SQLite has no statement timeout; its slowest searches take seconds, not minutes.
    const SEARCH_SESSION_SQL: &'static [&'static str] = &[];
    const MESSAGE_BAND_SQL: &'static str = search::MESSAGE_BAND_SQL;
    const NAME_BAND_SQL: &'static str = search::NAME_BAND_SQL;
    const SEARCH_INDEX: SearchIndex = SearchIndex::NewestFirst;
    const TERM_COUNT_SQL: &'static str = search::TERM_COUNT_SQL;
    const IN_ID_LIST: &'static str = search::IN_ID_LIST;

    fn search_document(text: &str, tenant: uuid::Uuid) -> String {
        search::document(text, tenant)
    }

    /// FTS5 matches exactly what it looks up: nothing to check.
    fn search_expression(query: &Query, scope: &SearchScope) -> SearchExpression {
        SearchExpression {
            lookup: search::expression(query, scope),
            check: None,
        }
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn has_tag_sql(param: usize) -> String {
        format!("EXISTS (SELECT 1 FROM json_each(chats.tags) WHERE value = ${param})")
    }

    const SWEEP_LOCK_SQL: Option<&'static str> = None;
    const FOR_UPDATE: &'static str = "";

    /// Atomically. Appends under the current leaf (nearly all) share the commit with
    /// concurrent ones; one that moves the active path has a transaction of its own.
    async fn append_messages(
        store: &SqliteStore,
        chat: ChatRef,
        under: Under,
        messages: Vec<NewMessage>,
    ) -> StoreResult<Appended> {
        let quotas = store.sql.quotas;
        if under == Under::Current {
            let messages = messages
                .into_iter()
                .map(|message| {
                    let words = search::Unmarked::of(message.text.as_str());
                    (message, words)
                })
                .collect();
            return store
                .extras
                .group
                .run(move |db, later| {
                    append::append_under_current(db, later, &chat, messages, quotas)
                })
                .await;
        }
        let mut tx = store.sql.begin_write().await?;
        let appended = Sql::<Sqlite>::append_in(&mut tx, chat, under, messages, quotas).await?;
        tx.commit().await?;
        Ok(appended)
    }

    async fn session_user(
        store: &SqliteStore,
        token_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<Option<UserRecord>> {
        match &store.extras.points {
            Some(points) => points.session_user(token_hash, now),
            None => store.sql.session_user(token_hash, now).await,
        }
    }

    async fn search(store: &SqliteStore, request: &SearchRequest) -> StoreResult<Vec<SearchHit>> {
        match &store.extras.searches {
            Some(searches) => searches.search(request).await,
            None => store.sql.search(request).await,
        }
    }

    async fn session_user_and(
        store: &SqliteStore,
        token_hash: &[u8],
        now: Timestamp,
        then: AfterSession,
    ) -> StoreResult<Option<(UserRecord, ReadAfterSession)>> {
        match &store.extras.points {
            Some(points) => points.session_user_and(token_hash, now, then),
            None => store.sql.session_user_and(token_hash, now, then).await,
        }
    }

    async fn chat_version(store: &SqliteStore, chat: &ChatRef) -> StoreResult<ChatVersion> {
        match &store.extras.points {
            Some(points) => points.chat_version(chat),
            None => store.sql.chat_version(chat).await,
        }
    }

    async fn chats_fingerprint(store: &SqliteStore, user_id: i64) -> StoreResult<ChatsFingerprint> {
        match &store.extras.points {
            Some(points) => points.chats_fingerprint(user_id),
            None => store.sql.chats_fingerprint(user_id).await,
        }
    }

    async fn list_tenant_chats(
        store: &SqliteStore,
        tenant_id: uuid::Uuid,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Vec<ChatRecord>> {
        match &store.extras.points {
            Some(points) => {
                let (sql, values) =
                    tenant_chats_query::<Self>(chat_columns!(), ListOf::Tenant(tenant_id), page);
                points.chats(&sql, &values)
            }
            None => store.sql.list_tenant_chats(tenant_id, page).await,
        }
    }

    async fn api_key_and_chats_stamp(
        store: &SqliteStore,
        prefix: &str,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Option<(ApiKeyRecord, ChatsPageStamp)>> {
        match &store.extras.points {
            Some(points) => points.api_key_and(prefix, |tenant_id| {
                tenant_chats_query::<Self>(CHAT_STAMP_COLUMNS, ListOf::Tenant(tenant_id), page)
            }),
            None => store.sql.api_key_and_chats_stamp(prefix, page).await,
        }
    }

    async fn find_api_key(store: &SqliteStore, prefix: &str) -> StoreResult<Option<ApiKeyRecord>> {
        match &store.extras.points {
            Some(points) => points.find_api_key(prefix),
            None => store.sql.find_api_key(prefix).await,
        }
    }

    async fn reply_running(
        store: &SqliteStore,
        chat: &ChatRef,
        message_id: i64,
    ) -> StoreResult<bool> {
        match &store.extras.points {
            Some(points) => points.reply_running(chat, message_id),
            None => store.sql.reply_running(chat, message_id).await,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`.
    pub async fn connect(url: &str, readers: u32) -> anyhow::Result<Self> {
        Self::connect_with(url, readers, DEFAULT_BUSY_TIMEOUT).await
    }

    /// [`SqliteStore::connect`] with the busy timeout given.
    pub async fn connect_with(
        url: &str,
        readers: u32,
        busy_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("invalid SQLite URL {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(busy_timeout)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-16000");
        // No ping before each acquire (sqlx's default): a connection to a local file does
        // not go stale, and the ping is a round trip to the connection's thread on every
        // statement a request makes.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open SQLite database {url:?}"))?;
        MIGRATOR
            .run(&writer)
            .await
            .context("cannot apply SQLite migrations")?;
        // Readers keep a smaller page cache each: a streamed read of a long chat fills
        // every reader's cache once, and the files stay in the OS cache anyway.
        let reader = SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().pragma("cache_size", READER_CACHE_SIZE))
            .await
            .with_context(|| format!("cannot open SQLite database {url:?}"))?;
        // Searches read on connections of their own (`search_reads.rs`), which map the
        // file: a search walks pages all over the index, and mapped they cost no copy out
        // of the kernel. Kept apart so other reads (a long chat streamed) do not show
        // their pages in RSS. rusqlite's connections open the file by name, so a database
        // in memory (which sqlx names `file:sqlx-in-memory-N`, private to its pool) is
        // read through sqlx: point reads and searches on the reader pool.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let file = options.get_filename();
        let direct = |max_idle| {
            if in_memory {
                None
            } else {
                PointReader::for_file(file, max_idle)
            }
        };
        let readers = readers.max(1) as usize;
        let extras = SqliteExtras {
            group: GroupCommitter::start(writer.clone()),
            points: direct(readers * 2),
            searches: direct(readers)
                .map(|r| SearchReader::new(r.with_settings(SEARCH_PRAGMAS, busy_timeout), readers)),
        };
        let store = SqlStore::new(writer, reader, extras);
        store.sql.ensure_default_tenant().await?;
        store.sql.backfill_search().await?;
        Ok(store)
    }

    /// Runs `PRAGMA integrity_check`; "ok" when the file is sound.
    pub async fn integrity_check(&self) -> anyhow::Result<String> {
        Ok(
            sqlx::query_scalar::<Sqlite, String>("PRAGMA integrity_check")
                .fetch_one(&self.sql.writer)
                .await?,
        )
    }
}
