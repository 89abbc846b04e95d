//! `confab copy --from URL --to URL`: moves a whole installation to another database
//! (typically SQLite to PostgreSQL) without renumbering anything.
//!
//! Every row keeps its id, uuid and timestamps, so cookies, API keys, chat ids in URLs
//! and message ids stay valid. The source is read in one snapshot and never written.
//! The target is migrated first, must be empty apart from the default tenant its
//! migration created (that one is replaced by the source's default tenant), and is
//! filled in batches inside one transaction: a failed copy leaves it as it was. At the
//! end each id sequence of the target is moved past the source's (never just past the
//! copied rows: ids the source handed out and deleted are not handed out again).
//!
//! The tables and columns are [`crate::store::schema::TABLES`], which a test checks
//! against the migrated schema of both engines. The search index is not copied: the
//! target indexes every row when a server first opens it.

mod engine;

use anyhow::Context as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::str::FromStr;

use crate::store::postgres::{self, PostgresStore};
use crate::store::schema::{REINDEX_STATEMENTS, TABLES};
use crate::store::sqlite::SqliteStore;
use crate::store::{redact_url, Engine};
use engine::{Cell, Side, BATCH_ROWS};

/// What was copied: rows per table, in copy order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub rows: Vec<(&'static str, u64)>,
}

/// Opens the source for reading, in one snapshot, without creating or migrating it.
async fn open_source(url: &str) -> anyhow::Result<Box<dyn Side>> {
    let shown = redact_url(url);
    Ok(match Engine::of_url(url)? {
        Engine::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("invalid SQLite URL {shown:?}"))?
                .read_only(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open the source database {shown:?}"))?;
            Box::new(pool.begin().await?)
        }
        Engine::Postgres => {
            let pool = postgres::open_pool(url, 1).await?;
            Box::new(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            )
        }
    })
}

/// Opens (creating and migrating, as `serve` would) the target and begins the one
/// transaction the whole copy runs in.
async fn open_target(url: &str) -> anyhow::Result<Box<dyn Side>> {
    Ok(match Engine::of_url(url)? {
        Engine::Sqlite => {
            let store = SqliteStore::connect(url, 1).await?;
            Box::new(store.sql.begin_write().await?)
        }
        Engine::Postgres => {
            let store = PostgresStore::connect(url, 1).await?;
            let mut tx = store.sql.begin_write().await?;
            // Nobody may write while the copy checks that the target is empty and fills it.
            sqlx::query(
                "LOCK TABLE tenants, api_keys, users, sessions, chats, messages, files \
                 IN EXCLUSIVE MODE",
            )
            .execute(&mut *tx)
            .await?;
            Box::new(tx)
        }
    })
}

/// Refuses a source whose schema is not the one this build writes.
async fn check_source_schema(source: &mut dyn Side, shown: &str) -> anyhow::Result<()> {
    let applied = source.applied_migrations().await.with_context(|| {
        format!("{shown:?} has no confab schema (run `confab migrate` on it first?)")
    })?;
    let expected = source.expected_migrations();
    anyhow::ensure!(
        applied == expected,
        "the source {shown:?} has schema migrations {applied:?} but this confab has \
         {expected:?}: run this version's `confab migrate --database-url` on the source \
         first (or use the confab version that wrote it)"
    );
    Ok(())
}

/// Refuses a target holding anything but the default tenant its migration created,
/// then removes that tenant to make room for the source's.
async fn clear_fresh_target(target: &mut dyn Side, shown: &str) -> anyhow::Result<()> {
    for table in TABLES {
        let sql = if table.name == "tenants" {
            "SELECT COUNT(*) FROM tenants WHERE is_default <> 1".to_owned()
        } else {
            format!("SELECT COUNT(*) FROM {}", table.name)
        };
        let rows = target.scalar(&sql).await?;
        anyhow::ensure!(
            rows == 0,
            "the target {shown:?} is not empty ({rows} row(s) in {}): copy only into a new, \
             empty database",
            table.name
        );
    }
    target
        .execute("DELETE FROM tenants WHERE is_default = 1")
        .await?;
    Ok(())
}

/// Copies every row of `from` into `to`. See the module documentation.
pub async fn copy(from: &str, to: &str) -> anyhow::Result<CopyReport> {
    let (from_shown, to_shown) = (redact_url(from), redact_url(to));
    let mut source = open_source(from).await?;
    check_source_schema(source.as_mut(), &from_shown).await?;
    let mut target = open_target(to).await?;
    clear_fresh_target(target.as_mut(), &to_shown).await?;

    let mut report = CopyReport { rows: Vec::new() };
    for table in TABLES {
        let mut copied = 0u64;
        let mut largest_id = 0i64;
        let mut after: Option<Cell> = None;
        loop {
            let rows = source
                .read_batch(table, after.as_ref())
                .await
                .with_context(|| format!("cannot read {} from {from_shown:?}", table.name))?;
            let Some(last) = rows.last() else { break };
            after = last.get(table.key_index()).cloned();
            if let Some(Cell::Int(Some(id))) = &after {
                largest_id = largest_id.max(*id);
            }
            target
                .insert_batch(table, &rows)
                .await
                .with_context(|| format!("cannot write {} to {to_shown:?}", table.name))?;
            copied += rows.len() as u64;
            if rows.len() < BATCH_ROWS {
                break;
            }
        }
        if table.serial {
            let position = source.sequence_position(table.name).await?.max(largest_id);
            target
                .advance_sequence(table.name, position)
                .await
                .with_context(|| format!("cannot set the id sequence of {}", table.name))?;
        }
        tracing::info!(table = table.name, rows = copied, "copied");
        report.rows.push((table.name, copied));
    }
    for statement in REINDEX_STATEMENTS {
        target
            .execute(statement)
            .await
            .context("cannot schedule the search index's rebuild")?;
    }
    target
        .commit()
        .await
        .with_context(|| format!("cannot commit the copy into {to_shown:?}"))?;
    Ok(report)
}
