//! The embedded default: SQLite in WAL mode.
//!
//! One writer connection (SQLite has one writer anyway; queuing in the pool is cheaper
//! than spinning on the busy handler) whose transactions start with `BEGIN IMMEDIATE`,
//! so a read-then-write transaction never fails to upgrade its lock; and a small pool of
//! readers that WAL lets run beside the writer. `synchronous = FULL`: a commit is on disk
//! before the API answers 2xx.

use anyhow::Context as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

use super::group_commit::GroupCommitter;
use super::keyset::{self, ChatKey};
use super::paged::*;
use super::paged_sql::impl_paged_reads;
use super::point_reads::PointReader;
use super::quota::StorageQuotas;
use super::sql::*;
use super::{StoreError, StoreResult};
use crate::domain::delete_last::{DeleteLastPlan, Planner};
use crate::domain::{ChatName, Email, OrderBy, Timestamp};
use crate::store::records::*;

pub struct SqliteStore {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
    /// Appends go through group commit (the hot write path).
    group: GroupCommitter,
    /// Session and chat-version lookups without a thread hop (file databases only).
    points: Option<PointReader>,
    quotas: StorageQuotas,
}

/// How long a connection waits for another's lock unless told otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache of each reader connection (`PRAGMA cache_size`: negative means KiB).
const READER_CACHE_SIZE: &str = "-4000";

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
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
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone().pragma("cache_size", READER_CACHE_SIZE))
            .await
            .with_context(|| format!("cannot open SQLite database {url:?}"))?;
        let group = GroupCommitter::start(writer.clone());
        let points = PointReader::for_file(options.get_filename(), readers.max(1) as usize * 2);
        let store = SqliteStore {
            writer,
            reader,
            group,
            points,
            quotas: StorageQuotas::OFF,
        };
        store.ensure_default_tenant().await?;
        Ok(store)
    }

    fn writer(&self) -> &Pool<Sqlite> {
        &self.writer
    }

    fn reader(&self) -> &Pool<Sqlite> {
        &self.reader
    }

    pub(super) async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn begin_read(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.reader.begin().await?)
    }

    /// Appends atomically, sharing the commit with concurrent appends.
    async fn append_atomically(
        &self,
        chat: ChatRef,
        messages: Vec<NewMessage>,
    ) -> StoreResult<Appended> {
        let quotas = self.quotas;
        self.group
            .run(move |conn| Box::pin(Self::append_in(conn, chat, messages, quotas)))
            .await
    }

    async fn session_user_point(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<Option<UserRecord>> {
        match &self.points {
            Some(points) => points.session_user(token_hash, now),
            None => self.session_user_sqlx(token_hash, now).await,
        }
    }

    async fn chat_version_point(&self, chat: &ChatRef) -> StoreResult<ChatVersion> {
        match &self.points {
            Some(points) => points.chat_version(chat),
            None => self.chat_version_sqlx(chat).await,
        }
    }

    /// Runs `PRAGMA integrity_check`; "ok" when the file is sound.
    pub async fn integrity_check(&self) -> anyhow::Result<String> {
        Ok(
            sqlx::query_scalar::<Sqlite, String>("PRAGMA integrity_check")
                .fetch_one(&self.writer)
                .await?,
        )
    }
}

impl_sql_store!(SqliteStore, Sqlite, "sqlite");
impl_paged_reads!(SqliteStore, Sqlite);
