//! Scenario 3's references: what the hardware allows a durable POST.
//!
//! * 3c, the HTTP half: a minimal server on the same stack reading the same POST and
//!   answering confab's response bytes from memory.
//! * 3d, the storage half (SQLite only): the same message rows written straight into a
//!   confab database by rusqlite, 32 per transaction (the batch 32 waiting connections
//!   allow), WAL with `synchronous=FULL`, as confab runs it. Only the message rows: not
//!   the search document and counters confab also writes for each.
//!
//! Paid in series, they make the write limit `1 / (1/3c + 1/3d)` that 3a is measured
//! against, in the same run.

use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::request;
use crate::scenarios::{measured, message_body, start, Setup, TempDir};
use crate::seed::Client;
use crate::{Options, Row};

/// 3c: confab's answer to a POST (`answer`), from memory, to the same POSTs.
pub(crate) async fn http_reference(options: &Options, answer: &Bytes) -> anyhow::Result<Row> {
    let label = "3c ceiling: POST answered from memory";
    eprintln!("scenario {label}");
    let (server, _dir) = crate::scenarios::ceiling_server(answer).await?;
    let expected_len = answer.len();
    measured(
        &format!("{label} (32 conns)"),
        &server,
        32,
        options.duration,
        Arc::new(|_, n| request("POST", "/", None, Some(&message_body(n)))),
        Arc::new(move |status, body: &Bytes| status.is_success() && body.len() == expected_len),
        |_| "reads the body; same axum/hyper/tokio stack".to_owned(),
    )
    .await
}

/// 3d: message rows per second, 32 per commit, into a fresh confab database.
pub(crate) async fn storage_reference(options: &Options, setup: &Setup) -> anyhow::Result<Row> {
    let label = "3d storage: message rows, 32 per commit";
    eprintln!("scenario {label}");
    let dir = TempDir::new()?;
    let path = dir.0.join("rows.db");
    // A real confab database with one chat, then its server stopped: the rows go into
    // the schema (indexes, foreign keys) confab writes.
    let chat = {
        let server = start(&setup.binary, &format!("sqlite://{}", path.display()), &[]).await?;
        let mut client = Client::sign_up(server.address, "rows@bench.test").await?;
        client.create_chat("rows").await?
    };
    let duration = options.duration;
    let started = Instant::now();
    let rows = tokio::task::spawn_blocking(move || insert_rows(&path, chat, duration)).await??;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Row {
        per_second: rows as f64 / elapsed,
        ..Row::noted(
            label,
            "rusqlite, WAL, synchronous=FULL, one thread".to_owned(),
        )
    })
}

/// Inserts 300-byte message rows into `chat`, 32 per transaction, for `duration`.
fn insert_rows(path: &std::path::Path, chat: i64, duration: Duration) -> anyhow::Result<u64> {
    let db = rusqlite::Connection::open(path)?;
    // The stopped server's process may still be exiting.
    db.busy_timeout(Duration::from_secs(10))?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )?;
    let text = message_body(0)["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let until = Instant::now() + duration;
    let (mut written, mut parent): (u64, Option<i64>) = (0, None);
    while Instant::now() < until {
        let tx = db.unchecked_transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (chat_id, actor, message, created_at, updated_at, \
                 parent_id, path_chat_id) VALUES (?1, 'user', ?2, ?3, ?3, ?4, ?1) RETURNING id",
            )?;
            for _ in 0..32 {
                let now = i64::try_from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)?
                        .as_micros(),
                )?;
                let id: i64 = insert
                    .query_row(rusqlite::params![chat, text, now, parent], |row| row.get(0))?;
                parent = Some(id);
            }
        }
        tx.commit()?;
        written += 32;
    }
    Ok(written)
}

/// The write limit of [`storage_reference`] and [`http_reference`] paid in series, and
/// how much of it `posts` reached: the note 3a carries.
pub(crate) fn against_limit(posts: f64, http: f64, storage: f64) -> String {
    let limit = 1.0 / (1.0 / http.max(1e-9) + 1.0 / storage.max(1e-9));
    format!(
        "durable; {:.2} of the write limit {limit:.0}/s (3c, 3d in series)",
        posts / limit
    )
}
