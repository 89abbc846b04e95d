//! A fresh database per test, on either engine.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: `CREATE DATABASE
//! confab_t_<unix seconds>_<random>` through the server found as below, dropped `WITH (FORCE)` when the test ends (from a
//! separate thread with its own runtime, since `Drop` cannot await). Databases that a
//! killed test run left behind are dropped by the next run once they are an hour old;
//! younger ones may belong to tests running right now in other processes.
//!
//! Which PostgreSQL and Redis the tests use (a test that did not run must not read as
//! passed):
//! 1. `CONFAB_TEST_POSTGRES_URL` / `CONFAB_TEST_REDIS_URL` when set;
//! 2. otherwise the local default (`postgres://postgres@127.0.0.1:5432/test`,
//!    `redis://127.0.0.1:6379`) when something listens on its port;
//! 3. otherwise the test FAILS, saying how to fix it, unless the half was skipped on
//!    purpose with `CONFAB_TEST_SKIP_POSTGRES=1` / `CONFAB_TEST_SKIP_REDIS=1` (then it
//!    prints `... NOT RUN` and passes). Under `CI=true` nothing may be skipped and the URL
//!    must be set.

use rand::Rng as _;
use sqlx::{Connection as _, PgConnection};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Backend;

pub const POSTGRES_URL_VAR: &str = "CONFAB_TEST_POSTGRES_URL";
pub const REDIS_URL_VAR: &str = "CONFAB_TEST_REDIS_URL";

/// Prefix of every database the harness creates.
const TEST_DATABASE_PREFIX: &str = "confab_t_";
/// Test databases older than this are leftovers of an interrupted run.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A service half of the suite needs, and where to look for it.
pub struct Service {
    pub what: &'static str,
    pub url_var: &'static str,
    pub skip_var: &'static str,
    pub local_url: &'static str,
    pub local_port: u16,
}

pub const POSTGRES: Service = Service {
    what: "postgres",
    url_var: POSTGRES_URL_VAR,
    skip_var: "CONFAB_TEST_SKIP_POSTGRES",
    local_url: "postgres://postgres@127.0.0.1:5432/test",
    local_port: 5432,
};

pub const REDIS: Service = Service {
    what: "redis",
    url_var: REDIS_URL_VAR,
    skip_var: "CONFAB_TEST_SKIP_REDIS",
    local_url: "redis://127.0.0.1:6379",
    local_port: 6379,
};

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn flag(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The service's URL, or `None` (after printing so) when its half is skipped on purpose;
/// panics when it can neither run nor was asked to skip.
pub fn service_url(service: &Service, test: &str) -> Option<String> {
    let Service {
        what,
        url_var,
        skip_var,
        local_url,
        local_port,
    } = service;
    if let Ok(url) = std::env::var(url_var) {
        if !url.trim().is_empty() {
            return Some(url);
        }
    }
    assert!(
        !in_ci(),
        "{url_var} is unset but CI=true: the {what} tests must run in CI ({test})"
    );
    if flag(skip_var) {
        println!("{what} half NOT RUN: {skip_var} is set ({test})");
        return None;
    }
    let local = SocketAddr::from(([127, 0, 0, 1], *local_port));
    if TcpStream::connect_timeout(&local, Duration::from_millis(500)).is_ok() {
        return Some((*local_url).to_owned());
    }
    panic!(
        "the {what} half cannot run ({test}): {url_var} is unset and nothing listens on \
         {local}. Start {what} there, set {url_var}, or set {skip_var}=1 to skip these \
         tests on purpose."
    );
}

/// The PostgreSQL server's URL, or `None` (after saying so) when PostgreSQL tests skip.
pub fn postgres_url(test: &str) -> Option<String> {
    service_url(&POSTGRES, test)
}

/// The Redis URL, or `None` (after saying so) when Redis tests skip.
pub fn redis_url(test: &str) -> Option<String> {
    service_url(&REDIS, test)
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Nothing to remove (a database handed on elsewhere).
    Nothing,
}

impl TestDatabase {
    /// A database that owns nothing: what a server keeps after handing its own on.
    pub fn placeholder() -> TestDatabase {
        TestDatabase {
            url: String::new(),
            cleanup: Cleanup::Nothing,
        }
    }

    /// A SQLite database in the server's memory, gone with it (`sqlite::memory:`).
    pub fn in_memory() -> TestDatabase {
        TestDatabase {
            url: "sqlite::memory:".to_owned(),
            cleanup: Cleanup::Nothing,
        }
    }

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
                let admin_url = postgres_url("a PostgreSQL test database").unwrap_or_else(|| {
                    panic!("PostgreSQL is skipped: a PostgreSQL test must not get this far")
                });
                Self::create_postgres(admin_url).await
            }
        }
    }

    async fn create_postgres(admin_url: String) -> TestDatabase {
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is unreachable (is {POSTGRES_URL_VAR} right?): {e}",
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
