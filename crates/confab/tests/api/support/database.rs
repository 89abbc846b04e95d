//! A fresh database per test, on either engine.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: `CREATE DATABASE
//! confab_t_<unix seconds>_<random>` through the server named by
//! `CONFAB_TEST_POSTGRES_URL`, dropped `WITH (FORCE)` when the test ends (from a
//! separate thread with its own runtime, since `Drop` cannot await). Databases that a
//! killed test run left behind are dropped by the next run once they are an hour old;
//! younger ones may belong to tests running right now in other processes.
//!
//! When `CONFAB_TEST_POSTGRES_URL` (or `CONFAB_TEST_REDIS_URL`) is unset, tests that need
//! it print `... NOT RUN: ... is unset` and pass; under `CI=true` they fail instead, so
//! CI cannot go green without running them.

use rand::Rng as _;
use sqlx::{Connection as _, PgConnection};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Backend;

pub const POSTGRES_URL_VAR: &str = "CONFAB_TEST_POSTGRES_URL";
pub const REDIS_URL_VAR: &str = "CONFAB_TEST_REDIS_URL";

/// Prefix of every database the harness creates.
const TEST_DATABASE_PREFIX: &str = "confab_t_";
/// Test databases older than this are leftovers of an interrupted run.
const STALE_AFTER: Duration = Duration::from_secs(3600);

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The URL in `var`, or `None` after printing why the test does not run (`what` names
/// the half that is skipped). Under `CI=true` an unset variable fails the test.
pub fn service_url(var: &str, what: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                !in_ci(),
                "{var} is unset but CI=true: the {what} tests must run in CI ({test})"
            );
            println!("{what} half NOT RUN: {var} is unset ({test})");
            None
        }
    }
}

/// The PostgreSQL server's URL, or `None` (after saying so) when PostgreSQL tests skip.
pub fn postgres_url(test: &str) -> Option<String> {
    service_url(POSTGRES_URL_VAR, "postgres", test)
}

/// The Redis URL, or `None` (after saying so) when Redis tests skip.
pub fn redis_url(test: &str) -> Option<String> {
    service_url(REDIS_URL_VAR, "redis", test)
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// Creates an empty database (no schema yet: the server migrates it at start).
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                TestDatabase {
                    url: format!("sqlite://{}", dir.path().join("confab.db").display()),
                    cleanup: Cleanup::Sqlite { _dir: dir },
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
                    panic!("{POSTGRES_URL_VAR} must be set for a PostgreSQL test")
                });
                Self::create_postgres(admin_url).await
            }
        }
    }

    async fn create_postgres(admin_url: String) -> TestDatabase {
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "{POSTGRES_URL_VAR} is set but PostgreSQL is unreachable ({}): {e}",
                confab::store::redact_url(&admin_url)
            )
        });
        drop_stale_databases(&mut admin).await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let name = format!(
            "{TEST_DATABASE_PREFIX}{now}_{:016x}",
            rand::thread_rng().gen::<u64>()
        );
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = admin.close().await;
        TestDatabase {
            url: url_with_database(&admin_url, &name),
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with
        // its own small runtime can, and joining it means the database is gone when the
        // test ends.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test database: {error}"),
            Err(_) => eprintln!("the thread dropping a test database panicked"),
        }
    }
}

/// Drops test databases left behind by interrupted runs (older than [`STALE_AFTER`]).
async fn drop_stale_databases(admin: &mut PgConnection) {
    let names: Vec<String> =
        match sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{TEST_DATABASE_PREFIX}%"))
            .fetch_all(&mut *admin)
            .await
        {
            Ok(names) => names,
            Err(_) => return,
        };
    let cutoff = SystemTime::now()
        .checked_sub(STALE_AFTER)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    for name in names {
        let created = name
            .strip_prefix(TEST_DATABASE_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|secs| secs < cutoff) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// `url` with its database (path) replaced by `name`, keeping any query parameters.
pub fn url_with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[test]
fn database_names_replace_the_path_only() {
    assert_eq!(
        url_with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        url_with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(url_with_database("postgres://h", "x"), "postgres://h/x");
}
