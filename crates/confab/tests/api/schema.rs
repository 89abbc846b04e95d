//! The tables `confab copy` moves (`confab::store::schema::TABLES`) are the tables the
//! migrations create, on both engines: a migration that adds, drops or retypes a table
//! or column fails here until the description says the same.

use sqlx::{Connection as _, PgConnection, SqliteConnection};
use std::collections::BTreeMap;

use confab::store;
use confab::store::schema::{is_search_table, Kind, SEARCH_COLUMNS, TABLES};

use crate::support::{Backend, TestDatabase};

crate::per_backend!(the_copied_tables_are_the_migrated_schema);

/// A table as the database's catalog describes it.
#[derive(Debug, PartialEq, Eq)]
struct Catalogued {
    columns: BTreeMap<String, Kind>,
    key: Vec<String>,
    serial: bool,
    /// The tables its foreign keys reference.
    parents: Vec<String>,
}

async fn the_copied_tables_are_the_migrated_schema(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let _store = store::connect(&database.url, 1).await.expect("migrates");
    let catalog = match backend {
        Backend::Sqlite => sqlite_catalog(&database.url).await,
        Backend::Postgres => postgres_catalog(&database.url).await,
    };
    let listed: Vec<&str> = TABLES.iter().map(|table| table.name).collect();
    let mut migrated: Vec<&str> = catalog.keys().map(String::as_str).collect();
    migrated.sort_unstable();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, migrated, "tables");
    for (position, table) in TABLES.iter().enumerate() {
        let found = &catalog[table.name];
        let columns: BTreeMap<String, Kind> = table
            .columns
            .iter()
            .map(|(name, kind)| ((*name).to_owned(), *kind))
            .collect();
        assert_eq!(columns, found.columns, "columns of {}", table.name);
        assert_eq!(
            vec![table.key.to_owned()],
            found.key,
            "key of {}",
            table.name
        );
        assert_eq!(table.serial, found.serial, "serial id of {}", table.name);
        for parent in &found.parents {
            assert!(
                listed[..=position].contains(&parent.as_str()),
                "{} references {parent}, which is not copied before it",
                table.name
            );
        }
    }
}

/// Search's document columns are rebuilt, never copied.
fn is_search_column(table: &str, column: &str) -> bool {
    SEARCH_COLUMNS.contains(&(table, column))
}

impl Catalogued {
    /// From the columns' declared types (SQLite's or PostgreSQL's names) of `table`,
    /// leaving out search's document columns.
    fn new(
        table: &str,
        types: impl Iterator<Item = (String, String)>,
        key: Vec<String>,
        serial: bool,
        parents: Vec<String>,
    ) -> Catalogued {
        let kind = |declared: &str| match declared.to_ascii_lowercase().as_str() {
            "integer" | "bigint" => Kind::Int,
            "text" => Kind::Text,
            "blob" | "bytea" => Kind::Blob,
            other => panic!("a column of type {other}: describe it in store::schema::Kind"),
        };
        Catalogued {
            columns: types
                .filter(|(name, _)| !is_search_column(table, name))
                .map(|(name, declared)| (name, kind(&declared)))
                .collect(),
            key,
            serial,
            parents,
        }
    }
}

async fn sqlite_catalog(url: &str) -> BTreeMap<String, Catalogued> {
    let mut db = SqliteConnection::connect(url).await.expect("open");
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut db)
    .await
    .expect("tables");
    let mut catalog = BTreeMap::new();
    for (table, sql) in tables {
        if is_search_table(&table) {
            continue; // rebuilt by search, never copied
        }
        let columns: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT name, type, pk FROM pragma_table_info($1)")
                .bind(&table)
                .fetch_all(&mut db)
                .await
                .expect("columns");
        let parents: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list($1)")
                .bind(&table)
                .fetch_all(&mut db)
                .await
                .expect("foreign keys");
        let key = columns
            .iter()
            .filter(|(_, _, pk)| *pk > 0)
            .map(|(name, _, _)| name.clone())
            .collect();
        let serial = sql.to_ascii_uppercase().contains("AUTOINCREMENT");
        let types = columns
            .into_iter()
            .map(|(name, declared, _)| (name, declared));
        let catalogued = Catalogued::new(&table, types, key, serial, parents);
        catalog.insert(table, catalogued);
    }
    catalog
}

async fn postgres_catalog(url: &str) -> BTreeMap<String, Catalogued> {
    let mut db = PgConnection::connect(url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut db)
    .await
    .expect("tables");
    let mut catalog = BTreeMap::new();
    for table in tables {
        if is_search_table(&table) {
            continue; // rebuilt by search, never copied
        }
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, COALESCE(column_default::text, '') \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(&table)
        .fetch_all(&mut db)
        .await
        .expect("columns");
        let key: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary",
        )
        .bind(&table)
        .fetch_all(&mut db)
        .await
        .expect("primary key");
        let parents: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT confrelid::regclass::text FROM pg_constraint \
             WHERE conrelid = $1::text::regclass AND contype = 'f'",
        )
        .bind(&table)
        .fetch_all(&mut db)
        .await
        .expect("foreign keys");
        let serial = columns
            .iter()
            .any(|(name, _, default)| key.contains(name) && default.starts_with("nextval("));
        let types = columns
            .into_iter()
            .map(|(name, declared, _)| (name, declared));
        let catalogued = Catalogued::new(&table, types, key, serial, parents);
        catalog.insert(table, catalogued);
    }
    catalog
}
