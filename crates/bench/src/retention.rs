//! Scenario 11: the retention sweeper deleting 100,000 old chats (each with a question
//! and an answer with a code file, seeded through the tenant API so search documents and
//! files are real) while 32 connections post messages. Row 11a is scenario 3a's load
//! with the sweeper idle; 11b is the same load while it deletes; the note gives the p99
//! ratio and how long the whole sweep took.

use anyhow::Context as _;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{request, request_as, Connection};
use crate::scenarios::{fresh_database, measured, message_body, ok_200, start, TempDir};
use crate::seed::Client;
use crate::{Options, Row};

/// Chats the sweeper deletes.
const OLD_CHATS: usize = 100_000;
/// Connections seeding them.
const SEEDERS: usize = 32;

pub async fn run(options: &Options, binary: &Path) -> anyhow::Result<Vec<Row>> {
    eprintln!("scenario 11: retention sweep of {OLD_CHATS} chats under POST load");
    let dir = TempDir::new()?;
    let (url, _database) = fresh_database(options, &dir.0)?;
    let server = start(
        binary,
        &url,
        &["--retention-days", "30", "--sweep-interval-seconds", "1"],
    )
    .await?;
    let (tenant_id, key) = tenant_key(binary, &url)?;
    let mut writer = Client::sign_up(server.address, "writer@bench.test").await?;
    let mut chats = Vec::new();
    for i in 0..32 {
        chats.push(writer.create_chat(&format!("writer {i}")).await?);
    }
    let started = Instant::now();
    if url.starts_with("sqlite") {
        seed(server.address, &key, OLD_CHATS).await?;
    } else {
        seed_postgres(&url, &tenant_id, OLD_CHATS).await?;
    }
    eprintln!(
        "  seeded {OLD_CHATS} chats in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let (user, cookie) = (writer.user_id, writer.cookie.clone());
    let load = move |chats: Vec<i64>, cookie: String| -> crate::load::MakeRequest {
        Arc::new(move |connection, n| {
            request(
                "POST",
                &format!("/api/users/{user}/chats/{}/messages", chats[connection]),
                Some(&cookie),
                Some(&message_body(n)),
            )
        })
    };
    let mut idle = measured(
        "11a POST message, sweeper idle (32 conns)",
        &server,
        32,
        options.duration,
        load(chats.clone(), cookie.clone()),
        ok_200(),
        |_| "the same load as 3a".to_owned(),
    )
    .await?;

    // Forty days old: past the 30-day retention, the sweeper's next round takes them.
    age(&url, 40).await?;
    let before = swept(server.address).await?;
    let aged_at = Instant::now();
    let mut sweeping = measured(
        "11b POST message while the sweeper deletes 100,000 chats (32 conns)",
        &server,
        32,
        options.duration,
        load(chats, cookie),
        ok_200(),
        |_| String::new(),
    )
    .await?;
    let in_window = swept(server.address).await? - before;
    let deadline = Instant::now() + Duration::from_secs(1800);
    while swept(server.address).await? - before < OLD_CHATS as u64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the sweep did not finish in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sweep_seconds = aged_at.elapsed().as_secs_f64();
    let ratio = sweeping.p99_ms / idle.p99_ms.max(1e-9);
    idle.note = "the same load as 3a; no old chats".to_owned();
    sweeping.note = format!(
        "p99 {ratio:.2}x 11a; {in_window} chats deleted during the window; all {OLD_CHATS} in \
         {sweep_seconds:.1} s ({:.0}/s)",
        OLD_CHATS as f64 / sweep_seconds
    );
    Ok(vec![idle, sweeping])
}

/// A tenant's id and key, made with the CLI.
fn tenant_key(binary: &Path, url: &str) -> anyhow::Result<(String, String)> {
    let output = std::process::Command::new(binary)
        .args(["tenant", "create", "old chats", "--database-url", url])
        .env("CONFAB_LOG", "warn")
        .output()?;
    anyhow::ensure!(output.status.success(), "tenant create failed");
    let created: Value = serde_json::from_slice(&output.stdout)?;
    Ok((
        created["tenant_id"]
            .as_str()
            .context("tenant_id")?
            .to_owned(),
        created["api_key"].as_str().context("api_key")?.to_owned(),
    ))
}

/// The same chats as [`seed`], written with SQL in one transaction: through the API,
/// PostgreSQL on this machine commits about a hundred a second. Each message gets a
/// search document (`to_tsvector('simple', …)` rather than confab's own tokenizer: the
/// GIN index has as much to drop) and each answer its file.
async fn seed_postgres(url: &str, tenant_id: &str, count: usize) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let mut tx = conn.begin().await?;
    // Fresh until aged, like the chats the API makes.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_micros() as i64;
    sqlx::query(
        "INSERT INTO chats (uuid, tenant_id, name, model, version, created_at, updated_at, \
         message_count, message_bytes) \
         SELECT gen_random_uuid()::text, $1, 'old chat ' || n, '', 2, $2 + n, $2 + n, 2, 40 \
         FROM generate_series(1, $3) AS n",
    )
    .bind(tenant_id)
    .bind(now)
    .bind(count as i64)
    .execute(&mut *tx)
    .await?;
    // Joins rather than correlated subqueries: the fresh tables have no statistics yet.
    sqlx::query(
        "INSERT INTO messages (chat_id, actor, message, created_at, updated_at, parent_id, \
         path_chat_id, search) \
         SELECT c.id, 'user', 'old question ' || c.id, c.created_at, c.created_at, NULL, c.id, \
         to_tsvector('simple', 'old question ' || c.id) FROM chats c WHERE c.tenant_id = $1",
    )
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO messages (chat_id, actor, message, created_at, updated_at, parent_id, \
         path_chat_id, search) \
         SELECT u.chat_id, 'assistant', E'Here:\\n```py\\nprint(' || u.chat_id || E')\\n```', \
         u.created_at, u.created_at, u.id, u.chat_id, to_tsvector('simple', 'here print ' || u.chat_id) \
         FROM messages u JOIN chats c ON c.id = u.chat_id WHERE c.tenant_id = $1",
    )
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO files (message_id, chat_id, user_id, title, text, language, extension, \
         created_at, updated_at) \
         SELECT m.id, m.chat_id, NULL, 'snippet-1.py', 'print(' || m.chat_id || ')', 'python', \
         'py', m.created_at, m.created_at FROM messages m JOIN chats c ON c.id = m.chat_id \
         WHERE c.tenant_id = $1 AND m.actor = 'assistant'",
    )
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE tenants SET message_bytes = message_bytes + $2 WHERE id = $1")
        .bind(tenant_id)
        .bind(count as i64 * 40)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE chats c SET current_message_id = m.id FROM messages m \
         WHERE m.chat_id = c.id AND m.actor = 'assistant' AND c.tenant_id = $1",
    )
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&mut conn).await?;
    Ok(())
}

/// `count` chats, each with a question and an answer holding a code block, through the
/// tenant API on [`SEEDERS`] connections.
async fn seed(address: SocketAddr, key: &str, count: usize) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for seeder in 0..SEEDERS {
        let key = key.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await?;
            let credential = Some(("x-api-key", key.as_str()));
            for n in (seeder..count).step_by(SEEDERS) {
                let (status, body) = connection
                    .send(request_as(
                        "POST",
                        "/api/v1/chats",
                        credential,
                        Some(&json!({"name": format!("old chat {n}")})),
                    ))
                    .await?;
                anyhow::ensure!(status == StatusCode::CREATED, "create chat: {status}");
                let chat: Value = serde_json::from_slice(&body)?;
                let id = chat["id"].as_str().context("chat id")?;
                let exchange = json!({"messages": [
                    {"message": format!("old question {n}"), "actor": "user"},
                    {"message": format!("Here:\n```py\nprint({n})\n```"), "actor": "assistant"},
                ]});
                let (status, _) = connection
                    .send(request_as(
                        "POST",
                        &format!("/api/v1/chats/{id}/messages"),
                        credential,
                        Some(&exchange),
                    ))
                    .await?;
                anyhow::ensure!(status.is_success(), "post exchange: {status}");
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Moves every chat of the seeded tenant `days` into the past (the writer's chats are in
/// the default tenant and stay fresh).
async fn age(url: &str, days: i64) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let sql = format!(
        "UPDATE chats SET updated_at = updated_at - {} \
         WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'old chats')",
        days * 86_400 * 1_000_000
    );
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        sqlx::query(&sql).execute(&mut conn).await?;
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query(&sql).execute(&mut conn).await?;
    }
    Ok(())
}

/// `confab_chats_swept_total{reason="retention"}` of the server.
async fn swept(address: SocketAddr) -> anyhow::Result<u64> {
    let mut connection = Connection::open(address).await?;
    let (status, body) = connection
        .send(request("GET", "/metrics", None, None))
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "/metrics answered {status}");
    let text = String::from_utf8_lossy(&body);
    text.lines()
        .find_map(|line| line.strip_prefix("confab_chats_swept_total{reason=\"retention\"} "))
        .and_then(|n| n.trim().parse().ok())
        .context("no retention counter in /metrics")
}
