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

use anyhow::Context as _;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Postgres, Sqlite, Transaction};
use std::str::FromStr;

use super::postgres::{self, PostgresStore};
use super::sqlite::{self, SqliteStore};
use super::{redact_url, Engine};

/// How a column is stored: every column of the schema is one of these on both engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Blob,
}

/// One table as the copy sees it.
struct Table {
    name: &'static str,
    /// The primary key, which batches are ordered and continued by.
    key: &'static str,
    /// Whether `id` comes from a sequence (AUTOINCREMENT / BIGSERIAL).
    serial: bool,
    columns: &'static [(&'static str, Kind)],
}

/// Every table, parents before children (the order foreign keys need).
const TABLES: &[Table] = &[
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
];

/// Rows per `SELECT` and per multi-row `INSERT` (10 columns × 500 rows stays far below
/// both engines' limits on bound parameters).
const BATCH_ROWS: usize = 500;

impl Table {
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn key_index(&self) -> usize {
        self.columns
            .iter()
            .position(|(name, _)| *name == self.key)
            .unwrap_or(0)
    }

    /// The next batch after `after` (the last key of the previous batch).
    fn select_sql(&self, after: bool) -> String {
        let filter = if after {
            format!("WHERE {} > $2 ", self.key)
        } else {
            String::new()
        };
        format!(
            "SELECT {} FROM {} {filter}ORDER BY {} LIMIT $1",
            self.column_list(),
            self.name,
            self.key
        )
    }

    fn insert_sql(&self, rows: usize) -> String {
        let width = self.columns.len();
        let values = (0..rows)
            .map(|row| {
                let params = (1..=width)
                    .map(|col| format!("${}", row * width + col))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({params})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO {} ({}) VALUES {values}",
            self.name,
            self.column_list()
        )
    }
}

/// One value, as both engines store it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

/// What was copied: rows per table, in copy order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub rows: Vec<(&'static str, u64)>,
}

/// The statements both engines run the same way, pasted once per engine.
macro_rules! engine_ops {
    ($module:ident, $db:ty) => {
        mod $module {
            use super::{Cell, Kind, Table};
            use sqlx::{Row as _, Transaction};

            pub(super) async fn read_batch(
                tx: &mut Transaction<'static, $db>,
                table: &Table,
                after: Option<&Cell>,
                limit: usize,
            ) -> sqlx::Result<Vec<Vec<Cell>>> {
                let sql = table.select_sql(after.is_some());
                let mut query = sqlx::query(&sql).bind(limit as i64);
                if let Some(after) = after {
                    query = match after {
                        Cell::Int(v) => query.bind(*v),
                        Cell::Text(v) => query.bind(v.clone()),
                        Cell::Blob(v) => query.bind(v.clone()),
                    };
                }
                let rows = query.fetch_all(&mut **tx).await?;
                rows.iter()
                    .map(|row| {
                        table
                            .columns
                            .iter()
                            .enumerate()
                            .map(|(i, (_, kind))| {
                                Ok(match kind {
                                    Kind::Int => Cell::Int(row.try_get(i)?),
                                    Kind::Text => Cell::Text(row.try_get(i)?),
                                    Kind::Blob => Cell::Blob(row.try_get(i)?),
                                })
                            })
                            .collect()
                    })
                    .collect()
            }

            pub(super) async fn insert_batch(
                tx: &mut Transaction<'static, $db>,
                table: &Table,
                rows: &[Vec<Cell>],
            ) -> sqlx::Result<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                let sql = table.insert_sql(rows.len());
                let mut query = sqlx::query(&sql);
                for cell in rows.iter().flatten() {
                    query = match cell {
                        Cell::Int(v) => query.bind(*v),
                        Cell::Text(v) => query.bind(v.as_deref()),
                        Cell::Blob(v) => query.bind(v.as_deref()),
                    };
                }
                query.execute(&mut **tx).await?;
                Ok(())
            }

            pub(super) async fn scalar(
                tx: &mut Transaction<'static, $db>,
                sql: &str,
            ) -> sqlx::Result<i64> {
                sqlx::query_scalar::<$db, i64>(sql)
                    .fetch_one(&mut **tx)
                    .await
            }

            pub(super) async fn applied_migrations(
                tx: &mut Transaction<'static, $db>,
            ) -> sqlx::Result<Vec<i64>> {
                sqlx::query_scalar::<$db, i64>(
                    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                )
                .fetch_all(&mut **tx)
                .await
            }
        }
    };
}

engine_ops!(sqlite_ops, sqlx::Sqlite);
engine_ops!(postgres_ops, sqlx::Postgres);

/// A transaction on either engine; the few statements that differ are spelled out here.
enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    async fn read_batch(
        &mut self,
        table: &Table,
        after: Option<&Cell>,
    ) -> sqlx::Result<Vec<Vec<Cell>>> {
        match self {
            Tx::Sqlite(tx) => sqlite_ops::read_batch(tx, table, after, BATCH_ROWS).await,
            Tx::Postgres(tx) => postgres_ops::read_batch(tx, table, after, BATCH_ROWS).await,
        }
    }

    async fn insert_batch(&mut self, table: &Table, rows: &[Vec<Cell>]) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlite_ops::insert_batch(tx, table, rows).await,
            Tx::Postgres(tx) => postgres_ops::insert_batch(tx, table, rows).await,
        }
    }

    async fn scalar(&mut self, sql: &str) -> sqlx::Result<i64> {
        match self {
            Tx::Sqlite(tx) => sqlite_ops::scalar(tx, sql).await,
            Tx::Postgres(tx) => postgres_ops::scalar(tx, sql).await,
        }
    }

    async fn execute(&mut self, sql: &str) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => sqlx::query(sql).execute(&mut **tx).await.map(|_| ()),
            Tx::Postgres(tx) => sqlx::query(sql).execute(&mut **tx).await.map(|_| ()),
        }
    }

    async fn applied_migrations(&mut self) -> sqlx::Result<Vec<i64>> {
        match self {
            Tx::Sqlite(tx) => sqlite_ops::applied_migrations(tx).await,
            Tx::Postgres(tx) => postgres_ops::applied_migrations(tx).await,
        }
    }

    /// The migrations this build of confab ships for the engine.
    fn expected_migrations(&self) -> Vec<i64> {
        let migrator = match self {
            Tx::Sqlite(_) => &sqlite::MIGRATOR,
            Tx::Postgres(_) => &postgres::MIGRATOR,
        };
        migrator.iter().map(|m| m.version).collect()
    }

    /// The highest id the table's sequence has handed out (0 if none).
    async fn sequence_position(&mut self, table: &str) -> sqlx::Result<i64> {
        match self {
            Tx::Sqlite(tx) => Ok(sqlx::query_scalar::<Sqlite, i64>(
                "SELECT seq FROM sqlite_sequence WHERE name = $1",
            )
            .bind(table)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(0)),
            Tx::Postgres(tx) => Ok(sqlx::query_scalar::<Postgres, Option<i64>>(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass)",
            )
            .bind(table)
            .fetch_one(&mut **tx)
            .await?
            .unwrap_or(0)),
        }
    }

    /// Makes the table's next generated id `position + 1` (or keeps a later one).
    async fn advance_sequence(&mut self, table: &str, position: i64) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => {
                if position > 0 {
                    // Inserting explicit ids already raised `seq` to the largest one;
                    // this also covers ids the source handed out and later deleted.
                    sqlx::query("UPDATE sqlite_sequence SET seq = $2 WHERE name = $1 AND seq < $2")
                        .bind(table)
                        .bind(position)
                        .execute(&mut **tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO sqlite_sequence (name, seq) SELECT $1, $2 \
                         WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = $1)",
                    )
                    .bind(table)
                    .bind(position)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }
            Tx::Postgres(tx) => {
                // setval(seq, n, true): the next id is n + 1; (seq, 1, false): it is 1.
                sqlx::query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2, $3)")
                    .bind(table)
                    .bind(position.max(1))
                    .bind(position > 0)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }
    }

    async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Opens the source for reading, in one snapshot, without creating or migrating it.
async fn open_source(url: &str) -> anyhow::Result<Tx> {
    let shown = redact_url(url);
    match Engine::of_url(url)? {
        Engine::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("invalid SQLite URL {shown:?}"))?
                .read_only(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open the source database {shown:?}"))?;
            Ok(Tx::Sqlite(pool.begin().await?))
        }
        Engine::Postgres => {
            let pool = PostgresStore::open_pool(url, 1).await?;
            Ok(Tx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ))
        }
    }
}

/// Opens (creating and migrating, as `serve` would) the target and begins the one
/// transaction the whole copy runs in.
async fn open_target(url: &str) -> anyhow::Result<Tx> {
    match Engine::of_url(url)? {
        Engine::Sqlite => {
            let store = SqliteStore::connect(url, 1).await?;
            Ok(Tx::Sqlite(store.begin_write().await?))
        }
        Engine::Postgres => {
            let store = PostgresStore::connect(url, 1).await?;
            let mut tx = store.begin_write().await?;
            // Nobody may write while the copy checks that the target is empty and fills it.
            sqlx::query(
                "LOCK TABLE tenants, api_keys, users, sessions, chats, messages, files \
                 IN EXCLUSIVE MODE",
            )
            .execute(&mut *tx)
            .await?;
            Ok(Tx::Postgres(tx))
        }
    }
}

/// Refuses a source whose schema is not the one this build writes.
async fn check_source_schema(source: &mut Tx, shown: &str) -> anyhow::Result<()> {
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
async fn clear_fresh_target(target: &mut Tx, shown: &str) -> anyhow::Result<()> {
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
    check_source_schema(&mut source, &from_shown).await?;
    let mut target = open_target(to).await?;
    clear_fresh_target(&mut target, &to_shown).await?;

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
    target
        .commit()
        .await
        .with_context(|| format!("cannot commit the copy into {to_shown:?}"))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_built_from_the_table_list() {
        let messages = &TABLES[5];
        assert_eq!(
            messages.select_sql(true),
            "SELECT id, chat_id, actor, message, created_at, updated_at FROM messages \
             WHERE id > $2 ORDER BY id LIMIT $1"
        );
        let tenants = &TABLES[0];
        assert_eq!(
            tenants.insert_sql(2),
            "INSERT INTO tenants (id, name, is_default, created_at, message_bytes) \
             VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10)"
        );
        assert_eq!(TABLES[3].key_index(), 0);
    }

    #[test]
    fn every_key_is_a_column() {
        for table in TABLES {
            assert!(
                table.columns.iter().any(|(name, _)| *name == table.key),
                "{}",
                table.name
            );
        }
    }
}
