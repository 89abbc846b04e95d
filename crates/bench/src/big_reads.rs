//! Scenario 7: eight full reads at once of one very large chat (500 MiB of messages by
//! default), watching the server's resident memory. Long lists are streamed, so memory
//! should not grow with the chat. The chat is seeded straight into the database (a few
//! `INSERT … SELECT` statements), which takes seconds instead of the minutes the API
//! would. Only run when asked for (`--only 7`): it writes half a gigabyte.

use anyhow::Context as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{request, Connection, Stats};
use crate::seed::Client;
use crate::server::Process;
use crate::Row;

/// Text per seeded message, in bytes (the size the original report used).
const MESSAGE_BYTES: i64 = 5000;
/// Messages per seeding statement.
const BATCH: i64 = 10_000;
/// Parallel readers.
const READERS: usize = 8;

pub async fn run(server: &Process, database_url: &str, chat_mib: u64) -> anyhow::Result<Row> {
    eprintln!("scenario 7: {READERS} parallel full reads of a {chat_mib} MiB chat");
    let mut client = Client::sign_up(server.address, "big-reads@bench.example").await?;
    let chat = client.create_chat("very large").await?;
    let count = (chat_mib as i64 * 1024 * 1024 / MESSAGE_BYTES).max(1);
    let started = Instant::now();
    seed(database_url, chat, count).await?;
    eprintln!(
        "  seeded {count} messages in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.rss_kib();
    let peak_before = server.peak_rss_kib();

    // Sample the resident size while the readers run (VmHWM also counts start-up).
    let sampled = Arc::new(AtomicU64::new(rss_before));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (sampled, running, pid) = (sampled.clone(), running.clone(), server.pid());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let now = crate::server::rss_kib_of(pid);
                sampled.fetch_max(now, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let path = format!("/api/users/{}/chats/{chat}/messages", client.user_id);
    let cpu_before = server.cpu_seconds();
    let generator_before = crate::server::cpu_seconds_of("/proc/self/stat");
    let begun = Instant::now();
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let (address, path, cookie) = (server.address, path.clone(), client.cookie.clone());
        readers.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await?;
            let started = Instant::now();
            let (status, length) = connection
                .send_discarding(request("GET", &path, Some(&cookie), None))
                .await?;
            anyhow::ensure!(status.as_u16() == 200, "GET messages answered {status}");
            Ok::<_, anyhow::Error>((started.elapsed(), length))
        }));
    }
    let mut stats = Stats::default();
    let mut lengths = Vec::new();
    for reader in readers {
        match reader.await.context("reader task")? {
            Ok((elapsed, length)) => {
                stats.latencies.push(elapsed.as_micros() as u64);
                lengths.push(length);
            }
            Err(error) => {
                eprintln!("  a reader failed: {error:#}");
                stats.errors += 1;
            }
        }
    }
    stats.elapsed = begun.elapsed();
    running.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    anyhow::ensure!(
        lengths.windows(2).all(|w| w[0] == w[1]),
        "the readers got bodies of different lengths: {lengths:?}"
    );
    let body_mib = lengths.first().copied().unwrap_or(0) as f64 / (1024.0 * 1024.0);
    let peak_during = sampled.load(Ordering::Relaxed) as f64 / 1024.0;
    let note = format!(
        "{READERS} x {body_mib:.0} MiB bodies; RSS {:.1} MiB before, peak {peak_during:.1} MiB \
         while reading (sampled every 20 ms), {:.1} MiB after; VmHWM before {:.1} MiB",
        rss_before as f64 / 1024.0,
        server.rss_kib() as f64 / 1024.0,
        peak_before as f64 / 1024.0,
    );
    eprintln!("  {note}");
    Ok(crate::scenarios::row(
        &format!("7 GET a {chat_mib} MiB chat, {READERS} at once"),
        stats,
        server,
        cpu_before,
        generator_before,
        note,
    ))
}

/// Inserts `count` messages of [`MESSAGE_BYTES`] into the chat, oldest first, and bumps
/// the chat's version as the API would.
async fn seed(database_url: &str, chat: i64, count: i64) -> anyhow::Result<()> {
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros() as i64;
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await?;
        let mut first = 1;
        while first <= count {
            let last = (first + BATCH - 1).min(count);
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT $2 UNION ALL SELECT i + 1 FROM n WHERE i < $3) \
                 INSERT INTO messages (chat_id, actor, message, created_at, updated_at) \
                 SELECT $1, CASE i % 2 WHEN 1 THEN 'user' ELSE 'assistant' END, \
                 substr('Message ' || i || ' ' || replace(hex(zeroblob($4)), '0', 'x'), 1, $5), \
                 $6 + i, $6 + i FROM n",
            )
            .bind(chat)
            .bind(first)
            .bind(last)
            .bind(MESSAGE_BYTES / 2 + 16)
            .bind(MESSAGE_BYTES)
            .bind(base)
            .execute(&pool)
            .await?;
            first = last + 1;
        }
        sqlx::query("UPDATE chats SET version = version + 1 WHERE id = $1")
            .bind(chat)
            .execute(&pool)
            .await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database_url).await?;
        let mut first = 1;
        while first <= count {
            let last = (first + BATCH - 1).min(count);
            sqlx::query(
                "INSERT INTO messages (chat_id, actor, message, created_at, updated_at) \
                 SELECT $1, CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END, \
                 left('Message ' || i || ' ' || repeat('x', $4), $4), $5 + i, $5 + i \
                 FROM generate_series($2::bigint, $3::bigint) AS i",
            )
            .bind(chat)
            .bind(first)
            .bind(last)
            .bind(MESSAGE_BYTES as i32)
            .bind(base)
            .execute(&pool)
            .await?;
            first = last + 1;
        }
        sqlx::query("UPDATE chats SET version = version + 1 WHERE id = $1")
            .bind(chat)
            .execute(&pool)
            .await?;
        pool.close().await;
    }
    Ok(())
}
