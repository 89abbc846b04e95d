//! PostgreSQL, for several server nodes sharing one database.
//!
//! One pool serves reads and writes. Write transactions are ordinary READ COMMITTED
//! transactions: every chat mutation starts by bumping the chat's `version`, which takes
//! the chat's row lock, so concurrent changes to one chat run one after the other while
//! changes to different chats run in parallel. Read transactions are `REPEATABLE READ
//! READ ONLY`, so a listing's messages and files come from one snapshot.

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::Connection as _;
use sqlx::{Pool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

use super::keyset::{self, ChatKey};
use super::paged::*;
use super::paged_sql::impl_paged_reads;
use super::quota::StorageQuotas;
use super::sql::*;
use super::{redact_url, StoreError, StoreResult};
use crate::domain::delete_last::{DeleteLastPlan, Planner};
use crate::domain::{ChatName, Email, OrderBy, Timestamp};
use crate::store::records::*;

pub struct PostgresStore {
    pool: Pool<Postgres>,
    quotas: StorageQuotas,
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl PostgresStore {
    /// Connects to the database at `url` and migrates it. The migrator holds an advisory
    /// lock while it runs, so several nodes may start at once.
    pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let pool = Self::open_pool(url, pool_size).await?;
        MIGRATOR
            .run(&pool)
            .await
            .context("cannot apply PostgreSQL migrations")?;
        let store = PostgresStore {
            pool,
            quotas: StorageQuotas::OFF,
        };
        store.ensure_default_tenant().await?;
        Ok(store)
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

    fn writer(&self) -> &Pool<Postgres> {
        &self.pool
    }

    fn reader(&self) -> &Pool<Postgres> {
        &self.pool
    }

    pub(super) async fn begin_write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Appends in a transaction of its own; the chat's row lock (taken by the version
    /// bump) serialises appends to one chat.
    async fn append_atomically(
        &self,
        chat: ChatRef,
        messages: Vec<NewMessage>,
    ) -> StoreResult<Appended> {
        let mut tx = self.begin_write().await?;
        let appended = Self::append_in(&mut tx, chat, messages, self.quotas).await?;
        tx.commit().await?;
        Ok(appended)
    }

    async fn session_user_point(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<Option<UserRecord>> {
        self.session_user_sqlx(token_hash, now).await
    }

    async fn chat_version_point(&self, chat: &ChatRef) -> StoreResult<ChatVersion> {
        self.chat_version_sqlx(chat).await
    }

    async fn begin_read(&self) -> StoreResult<Transaction<'static, Postgres>> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }
}

impl_sql_store!(PostgresStore, Postgres, "postgres");
impl_paged_reads!(PostgresStore, Postgres);
