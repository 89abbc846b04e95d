//! SQLite through rusqlite, for the paths where sqlx's per-statement thread hop costs
//! more than the statement (`point_reads.rs`, `append.rs`): binding values and reading
//! rows the way sqlx would, and its errors in the store's terms.

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, ToSql};

use crate::store::sql::rows::ChatRow;
use crate::store::sql::Bound;
use crate::store::StoreError;

/// A rusqlite error in the store's terms (busy: the caller may retry).
pub(super) fn failed(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Busy
        }
        other => StoreError::Other(anyhow::anyhow!("SQLite: {other}")),
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        failed(error)
    }
}

impl ToSql for Bound {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Bound::Text(text) => ToSqlOutput::Borrowed(text.as_str().into()),
            Bound::Int(number) => ToSqlOutput::Owned(Value::Integer(*number)),
        })
    }
}

/// Binds `values` to `$1`, `$2`... by name: SQLite numbers parameters in the order they
/// first appear, and a statement may name `$2` before `$1`.
pub(super) fn bind<V: ToSql>(
    statement: &mut rusqlite::Statement<'_>,
    values: &[V],
) -> rusqlite::Result<()> {
    bind_named(statement, values, true)
}

/// [`bind`], leaving out the values `statement` does not name (a statement written for
/// one engine may need fewer of the values than the other's).
pub(super) fn bind_where_named<V: ToSql>(
    statement: &mut rusqlite::Statement<'_>,
    values: &[V],
) -> rusqlite::Result<()> {
    bind_named(statement, values, false)
}

fn bind_named<V: ToSql>(
    statement: &mut rusqlite::Statement<'_>,
    values: &[V],
    all: bool,
) -> rusqlite::Result<()> {
    for (at, value) in values.iter().enumerate() {
        let name = format!("${}", at + 1);
        match statement.parameter_index(&name)? {
            Some(index) => statement.raw_bind_parameter(index, value)?,
            None if all => return Err(rusqlite::Error::InvalidParameterName(name)),
            None => {}
        }
    }
    Ok(())
}

/// The first row of `sql` (cached) with `values` bound, read by `read`; `None` if none.
pub(super) fn first_row<T>(
    db: &Connection,
    sql: &str,
    values: &[impl ToSql],
    read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Option<T>> {
    let mut statement = db.prepare_cached(sql)?;
    bind(&mut statement, values)?;
    let mut rows = statement.raw_query();
    rows.next()?.map(read).transpose()
}

/// The one row of `sql`, as [`first_row`]; no row is an error (`NotFound`).
pub(super) fn one_row<T>(
    db: &Connection,
    sql: &str,
    values: &[impl ToSql],
    read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    first_row(db, sql, values, read)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// Every row of `sql` (cached) with `values` bound, each read by `read`.
pub(super) fn all_rows<T>(
    db: &Connection,
    sql: &str,
    values: &[impl ToSql],
    mut read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = db.prepare_cached(sql)?;
    bind(&mut statement, values)?;
    let mut rows = statement.raw_query();
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(read(row)?);
    }
    Ok(found)
}

/// The first column of every row of `sql`.
pub(super) fn ids(db: &Connection, sql: &str, values: &[impl ToSql]) -> rusqlite::Result<Vec<i64>> {
    all_rows(db, sql, values, |row| row.get(0))
}

/// Values for a statement that takes none.
pub(super) const NO_VALUES: &[i64] = &[];

/// Runs `sql` (cached) with `values` bound, for its effect.
pub(super) fn execute(db: &Connection, sql: &str, values: &[impl ToSql]) -> rusqlite::Result<()> {
    let mut statement = db.prepare_cached(sql)?;
    bind(&mut statement, values)?;
    statement.raw_execute()?;
    Ok(())
}

/// A row of `chat_columns!` as sqlx would read it.
pub(super) fn read_chat_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ChatRow> {
    Ok(ChatRow {
        id: row.get(0)?,
        uuid: row.get(1)?,
        tenant_id: row.get(2)?,
        user_id: row.get(3)?,
        name: row.get(4)?,
        model: row.get(5)?,
        metadata: row.get(6)?,
        version: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
        current_message_id: row.get(10)?,
        branched: row.get(11)?,
        archived: row.get(12)?,
        pinned: row.get(13)?,
        tags: row.get(14)?,
        trashed_at: row.get(15)?,
    })
}
