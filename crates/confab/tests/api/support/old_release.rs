//! Databases as an older release left them, for upgrade tests: the migrations up to a
//! version, then rows as that release wrote them.

use std::path::Path;
use std::str::FromStr as _;

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection as _, PgConnection, SqliteConnection};

use super::Backend;

/// Migrates the (empty) database at `url` up to and including migration `version` only,
/// then runs `rows` (the engine's SQL, any number of statements).
pub async fn database_at(backend: Backend, url: &str, version: i64, rows: &str) {
    let directory = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(directory);
    let mut migrator = Migrator::new(path).await.expect("migrations read");
    let old: Vec<_> = migrator
        .iter()
        .filter(|m| m.version <= version)
        .cloned()
        .collect();
    assert_eq!(old.len(), version as usize);
    migrator.migrations = old.into();
    match backend {
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)
                .expect("url")
                .create_if_missing(true);
            let mut connection = SqliteConnection::connect_with(&options)
                .await
                .expect("sqlite");
            migrator.run(&mut connection).await.expect("old schema");
            sqlx::raw_sql(rows)
                .execute(&mut connection)
                .await
                .expect("old rows");
        }
        Backend::Postgres => {
            let mut connection = PgConnection::connect(url).await.expect("postgres");
            migrator.run(&mut connection).await.expect("old schema");
            sqlx::raw_sql(rows)
                .execute(&mut connection)
                .await
                .expect("old rows");
        }
    }
}
