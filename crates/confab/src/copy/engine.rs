//! The copy's reads and writes, written once for both engines; what differs (id
//! sequences, the migrations an engine ships) is [`CopyEngine`].

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Postgres, Row as _, Sqlite,
    Transaction, Type,
};
use std::future::Future;

use crate::store::schema::{Kind, Table};
use crate::store::{postgres, sqlite};

/// Rows per `SELECT` and per multi-row `INSERT` (10 columns × 500 rows stays far below
/// both engines' limits on bound parameters).
pub const BATCH_ROWS: usize = 500;

/// One value, as both engines store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

/// One side of a copy: a transaction on either engine.
#[async_trait]
pub trait Side: Send {
    /// The batch of `table` after key `after` (the last key of the previous batch).
    async fn read_batch(
        &mut self,
        table: &Table,
        after: Option<&Cell>,
    ) -> sqlx::Result<Vec<Vec<Cell>>>;
    async fn insert_batch(&mut self, table: &Table, rows: &[Vec<Cell>]) -> sqlx::Result<()>;
    /// A statement that returns one integer.
    async fn scalar(&mut self, sql: &str) -> sqlx::Result<i64>;
    async fn execute(&mut self, sql: &str) -> sqlx::Result<()>;
    /// The migrations the database has applied.
    async fn applied_migrations(&mut self) -> sqlx::Result<Vec<i64>>;
    /// The migrations this build of confab ships for the engine.
    fn expected_migrations(&self) -> Vec<i64>;
    /// The highest id the table's sequence has handed out (0 if none).
    async fn sequence_position(&mut self, table: &str) -> sqlx::Result<i64>;
    /// Makes the table's next generated id `position + 1` (or keeps a later one).
    async fn advance_sequence(&mut self, table: &str, position: i64) -> sqlx::Result<()>;
    async fn commit(self: Box<Self>) -> sqlx::Result<()>;
}

/// What the copy does its own way on each engine.
pub trait CopyEngine: Database {
    fn migrator() -> &'static Migrator;

    fn sequence_position(
        conn: &mut Self::Connection,
        table: &str,
    ) -> impl Future<Output = sqlx::Result<i64>> + Send;

    fn advance_sequence(
        conn: &mut Self::Connection,
        table: &str,
        position: i64,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;
}

impl CopyEngine for Sqlite {
    fn migrator() -> &'static Migrator {
        &sqlite::MIGRATOR
    }

    async fn sequence_position(conn: &mut Self::Connection, table: &str) -> sqlx::Result<i64> {
        Ok(
            sqlx::query_scalar::<Sqlite, i64>("SELECT seq FROM sqlite_sequence WHERE name = $1")
                .bind(table)
                .fetch_optional(conn)
                .await?
                .unwrap_or(0),
        )
    }

    async fn advance_sequence(
        conn: &mut Self::Connection,
        table: &str,
        position: i64,
    ) -> sqlx::Result<()> {
        if position > 0 {
            // Inserting explicit ids already raised `seq` to the largest one; this also
            // covers ids the source handed out and later deleted.
            sqlx::query("UPDATE sqlite_sequence SET seq = $2 WHERE name = $1 AND seq < $2")
                .bind(table)
                .bind(position)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO sqlite_sequence (name, seq) SELECT $1, $2 \
                 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = $1)",
            )
            .bind(table)
            .bind(position)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

impl CopyEngine for Postgres {
    fn migrator() -> &'static Migrator {
        &postgres::MIGRATOR
    }

    async fn sequence_position(conn: &mut Self::Connection, table: &str) -> sqlx::Result<i64> {
        Ok(sqlx::query_scalar::<Postgres, Option<i64>>(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass)",
        )
        .bind(table)
        .fetch_one(conn)
        .await?
        .unwrap_or(0))
    }

    async fn advance_sequence(
        conn: &mut Self::Connection,
        table: &str,
        position: i64,
    ) -> sqlx::Result<()> {
        // setval(seq, n, true): the next id is n + 1; (seq, 1, false): it is 1.
        sqlx::query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2, $3)")
            .bind(table)
            .bind(position.max(1))
            .bind(position > 0)
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl<DB> Side for Transaction<'static, DB>
where
    DB: CopyEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<Vec<u8>>: Encode<'q, DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn read_batch(
        &mut self,
        table: &Table,
        after: Option<&Cell>,
    ) -> sqlx::Result<Vec<Vec<Cell>>> {
        let sql = select_sql(table, after.is_some());
        let mut query = sqlx::query::<DB>(&sql).bind(BATCH_ROWS as i64);
        if let Some(after) = after {
            query = match after {
                Cell::Int(v) => query.bind(*v),
                Cell::Text(v) => query.bind(v.clone()),
                Cell::Blob(v) => query.bind(v.clone()),
            };
        }
        let rows = query.fetch_all(&mut **self).await?;
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

    async fn insert_batch(&mut self, table: &Table, rows: &[Vec<Cell>]) -> sqlx::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = insert_sql(table, rows.len());
        let mut query = sqlx::query::<DB>(&sql);
        for cell in rows.iter().flatten() {
            query = match cell {
                Cell::Int(v) => query.bind(*v),
                Cell::Text(v) => query.bind(v.as_deref()),
                Cell::Blob(v) => query.bind(v.as_deref()),
            };
        }
        query.execute(&mut **self).await?;
        Ok(())
    }

    async fn scalar(&mut self, sql: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar::<DB, i64>(sql)
            .fetch_one(&mut **self)
            .await
    }

    async fn execute(&mut self, sql: &str) -> sqlx::Result<()> {
        sqlx::query::<DB>(sql).execute(&mut **self).await?;
        Ok(())
    }

    async fn applied_migrations(&mut self) -> sqlx::Result<Vec<i64>> {
        sqlx::query_scalar::<DB, i64>(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&mut **self)
        .await
    }

    fn expected_migrations(&self) -> Vec<i64> {
        DB::migrator().iter().map(|m| m.version).collect()
    }

    async fn sequence_position(&mut self, table: &str) -> sqlx::Result<i64> {
        DB::sequence_position(&mut **self, table).await
    }

    async fn advance_sequence(&mut self, table: &str, position: i64) -> sqlx::Result<()> {
        DB::advance_sequence(&mut **self, table, position).await
    }

    async fn commit(self: Box<Self>) -> sqlx::Result<()> {
        (*self).commit().await
    }
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The next batch: `$1` rows, after key `$2` when `after`.
fn select_sql(table: &Table, after: bool) -> String {
    let filter = if after {
        format!("WHERE {} > $2 ", table.key)
    } else {
        String::new()
    };
    format!(
        "SELECT {} FROM {} {filter}ORDER BY {} LIMIT $1",
        column_list(table),
        table.name,
        table.key
    )
}

/// One `INSERT` of `rows` rows.
fn insert_sql(table: &Table, rows: usize) -> String {
    let width = table.columns.len();
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
        table.name,
        column_list(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::TABLES;

    #[test]
    fn statements_are_built_from_the_table_list() {
        let messages = &TABLES[5];
        assert_eq!(
            select_sql(messages, true),
            "SELECT id, chat_id, actor, message, created_at, updated_at, parent_id, \
             path_chat_id, status, model, prompt_tokens, completion_tokens, error_code, \
             error_message, stream_marks, generation_node FROM messages \
             WHERE id > $2 ORDER BY id LIMIT $1"
        );
        let tenants = &TABLES[0];
        assert_eq!(
            insert_sql(tenants, 2),
            "INSERT INTO tenants (id, name, is_default, created_at, message_bytes, \
             retention_days) VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12)"
        );
    }
}
