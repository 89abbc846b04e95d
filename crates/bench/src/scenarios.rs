//! The scenarios of the benchmark, each producing rows of the table.

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use hyper::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{closed_loop, request, request_as, Accept, Connection, Stats};
use crate::seed::{conversation, Client};
use crate::server::{build_release, cpu_seconds_of, free_address, Process};
use crate::{Options, Row};

/// The server under test plus what the scenarios need to know about it.
pub(crate) struct Setup {
    pub(crate) binary: PathBuf,
    pub(crate) database_url: String,
    pub(crate) server: Process,
    _database: FreshDatabase,
    _dir: TempDir,
}

/// Set by `--keep-data`: leave each run's databases for inspection instead of removing them.
pub(crate) static KEEP_DATA: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn keep_data(what: &str) -> bool {
    let keep = KEEP_DATA.load(std::sync::atomic::Ordering::Relaxed);
    if keep {
        eprintln!("kept (--keep-data): {what}");
    }
    keep
}

/// A PostgreSQL database made for this run, dropped when the run ends (after the servers
/// using it, which are declared before it in [`Setup`]).
pub(crate) struct FreshDatabase {
    admin_url: Option<String>,
    name: String,
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        if let Some(admin_url) = &self.admin_url {
            if keep_data(&self.name) {
                return;
            }
            let _ = std::process::Command::new("psql")
                .args([
                    admin_url.as_str(),
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                ])
                .status();
        }
    }
}

/// A temporary directory removed on drop (std only, to keep the bench lean).
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("confab-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if keep_data(&self.0.display().to_string()) {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wanted(options: &Options, scenario: u32) -> bool {
    options
        .only
        .as_ref()
        .is_none_or(|only| only.contains(&scenario))
}

pub(crate) fn generator_cpu() -> f64 {
    cpu_seconds_of("/proc/self/stat")
}

/// A fresh database URL: a new SQLite file, or a new PostgreSQL database on the server
/// the option names (created with `psql`).
pub(crate) fn fresh_database(
    options: &Options,
    dir: &Path,
) -> anyhow::Result<(String, FreshDatabase)> {
    if options.database == "sqlite" {
        let unused = FreshDatabase {
            admin_url: None,
            name: String::new(),
        };
        return Ok((
            format!("sqlite://{}", dir.join("bench.db").display()),
            unused,
        ));
    }
    let name = format!("confab_bench_{}", uuid::Uuid::new_v4().simple());
    let status = std::process::Command::new("psql")
        .args([
            options.database.as_str(),
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .context("cannot run psql to create the bench database")?;
    anyhow::ensure!(status.success(), "CREATE DATABASE failed");
    let base = options
        .database
        .rsplit_once('/')
        .map_or(options.database.as_str(), |(base, _)| base);
    let url = format!("{base}/{name}");
    let made = FreshDatabase {
        admin_url: Some(options.database.clone()),
        name,
    };
    Ok((url, made))
}

pub(crate) async fn start(
    binary: &Path,
    database_url: &str,
    extra: &[&str],
) -> anyhow::Result<Process> {
    let address = free_address()?;
    let mut args = vec![
        "serve".to_owned(),
        "--listen".to_owned(),
        address.to_string(),
        "--database-url".to_owned(),
        database_url.to_owned(),
        // The bench measures capacity, not the abuse limits: one key drives every
        // tenant-API scenario, one user posts at full speed, 1,000 sockets watch one chat, and generator connections
        // may sit idle while sockets are being opened.
        "--api-key-rate-per-second".to_owned(),
        "0".to_owned(),
        "--user-write-rate-per-second".to_owned(),
        "0".to_owned(),
        "--ws-max-per-chat".to_owned(),
        "0".to_owned(),
        "--ws-max-per-key".to_owned(),
        "0".to_owned(),
        "--header-read-timeout-seconds".to_owned(),
        "3600".to_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Process::spawn(binary, &args, address).await
}

/// Builds a table row from a load run.
pub(crate) fn row(
    scenario: &str,
    mut stats: Stats,
    server: &Process,
    server_cpu_before: f64,
    generator_cpu_before: f64,
    note: String,
) -> Row {
    let (p50, p95, p99, max) = stats.percentiles();
    Row {
        scenario: scenario.to_owned(),
        per_second: stats.per_second(),
        p50_ms: p50,
        p95_ms: p95,
        p99_ms: p99,
        max_ms: max,
        errors: stats.errors,
        server_peak_rss_mib: server.peak_rss_kib() as f64 / 1024.0,
        server_cpu_s: server.cpu_seconds() - server_cpu_before,
        generator_cpu_s: generator_cpu() - generator_cpu_before,
        note,
    }
}

/// Runs a closed loop and turns it into a row, accounting CPU on both sides.
pub(crate) async fn measured(
    scenario: &str,
    server: &Process,
    connections: usize,
    duration: Duration,
    make: crate::load::MakeRequest,
    accept: Accept,
    note: impl FnOnce(&Stats) -> String,
) -> anyhow::Result<Row> {
    let (server_cpu, gen_cpu) = (server.cpu_seconds(), generator_cpu());
    let stats = closed_loop(server.address, connections, duration, make, accept).await?;
    let note = note(&stats);
    Ok(row(scenario, stats, server, server_cpu, gen_cpu, note))
}

pub(crate) fn ok_200() -> Accept {
    Arc::new(|status, _| status == StatusCode::OK)
}

pub async fn run_all(options: &Options) -> anyhow::Result<Vec<Row>> {
    let binary = match &options.binary {
        Some(binary) => binary.clone(),
        None => {
            eprintln!("building confab (release)...");
            build_release(&options.workspace)?
        }
    };
    let dir = TempDir::new()?;
    let (database_url, database) = fresh_database(options, &dir.0)?;
    let server = start(&binary, &database_url, &[]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = server.rss_kib();
    let setup = Setup {
        binary,
        database_url,
        server,
        _database: database,
        _dir: dir,
    };
    let mut rows = Vec::new();
    if wanted(options, 1) || wanted(options, 2) {
        // The ceiling serves scenario 1's exact response bytes, so 1 runs whenever 2 does.
        let (mut messages, body) = get_messages(options, &setup).await?;
        if wanted(options, 2) {
            let ceiling = ceiling(options, &body, "2 ceiling: same bytes from memory").await?;
            messages.note = format!(
                "{:.0}% of the ceiling",
                100.0 * messages.per_second / ceiling.per_second.max(1e-9)
            );
            rows.push(messages);
            rows.push(ceiling);
        } else {
            rows.push(messages);
        }
    }
    if wanted(options, 3) {
        rows.extend(post_messages(options, &setup).await?);
    }
    if wanted(options, 4) {
        rows.extend(delete_last_and_delete_chat(options, &setup).await?);
    }
    if wanted(options, 5) {
        rows.extend(tenant_pages(options, &setup).await?);
    }
    if wanted(options, 6) {
        rows.extend(websockets(options, &setup, idle_rss).await?);
    }
    if wanted(options, 8) {
        rows.extend(crate::tree::run(options, &setup.server).await?);
    }
    if wanted(options, 12) {
        rows.extend(crate::lists::run(options, &setup).await?);
    }
    // Seeds a million messages: only when named.
    if options.only.as_ref().is_some_and(|only| only.contains(&9)) {
        rows.extend(crate::search::run(options, &setup).await?);
    }
    // Starts a server of its own with an LLM provider: only when named.
    if options.only.as_ref().is_some_and(|only| only.contains(&10)) {
        rows.extend(crate::generation::run(options, &setup.binary).await?);
    }
    // Seeds 100,000 chats through the API on a server of its own: only when named.
    if options.only.as_ref().is_some_and(|only| only.contains(&11)) {
        rows.extend(crate::retention::run(options, &setup.binary).await?);
    }
    // Writes half a gigabyte: only when named.
    if options.only.as_ref().is_some_and(|only| only.contains(&7)) {
        rows.push(
            crate::big_reads::run(&setup.server, &setup.database_url, options.big_chat_mib).await?,
        );
    }
    Ok(rows)
}

/// Scenario 1: GET a chat of 50 messages (~300 bytes, five with code files), 32 connections.
async fn get_messages(options: &Options, setup: &Setup) -> anyhow::Result<(Row, Bytes)> {
    eprintln!("scenario 1: GET messages");
    let mut client = Client::sign_up(setup.server.address, "reader@bench.test").await?;
    let chat = client.create_chat("fifty messages").await?;
    client.post_batch(chat, &conversation(50, 300, 10)).await?;
    let path = format!("/api/users/{}/chats/{chat}/messages", client.user_id);
    let (status, body) = client
        .connection
        .send(request("GET", &path, Some(&client.cookie), None))
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "GET messages answered {status}");
    let parsed: Value = serde_json::from_slice(&body)?;
    let count = parsed["chatMessages"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(count == 50, "expected 50 messages, got {count}");
    let cookie = client.cookie.clone();
    let expected_len = body.len();
    let row = measured(
        "1 GET messages (50 msgs, 32 conns)",
        &setup.server,
        32,
        options.duration,
        Arc::new(move |_, _| request("GET", &path, Some(&cookie), None)),
        Arc::new(move |status, body: &Bytes| {
            status == StatusCode::OK && body.len() == expected_len
        }),
        |_| String::new(),
    )
    .await?;
    Ok((row, body))
}

/// This binary as a ceiling server answering every request with `body` (kept in the
/// returned folder while it runs).
pub(crate) async fn ceiling_server(body: &Bytes) -> anyhow::Result<(Process, TempDir)> {
    let dir = TempDir::new()?;
    let file = dir.0.join("body.json");
    std::fs::write(&file, body)?;
    let address = free_address()?;
    let me = std::env::current_exe()?;
    let args = vec![
        "--ceiling-server".to_owned(),
        address.to_string(),
        file.display().to_string(),
    ];
    let server = Process::spawn(&me, &args, address).await?;
    Ok((server, dir))
}

/// Scenario 2 (and scenario 12's ceilings): the same bytes from memory on the same HTTP
/// stack, 32 connections.
pub(crate) async fn ceiling(options: &Options, body: &Bytes, label: &str) -> anyhow::Result<Row> {
    eprintln!("scenario {label}");
    let (server, _dir) = ceiling_server(body).await?;
    let expected_len = body.len();
    measured(
        &format!("{label} (32 conns)"),
        &server,
        32,
        options.duration,
        Arc::new(|_, _| request("GET", "/", None, None)),
        Arc::new(move |status, body: &Bytes| {
            status == StatusCode::OK && body.len() == expected_len
        }),
        |_| "same axum/hyper/tokio stack".to_owned(),
    )
    .await
}

pub(crate) fn message_body(n: u64) -> Value {
    let mut text = format!("benchmark message {n} ");
    while text.len() < 300 {
        text.push_str("lorem ipsum dolor sit amet ");
    }
    text.truncate(300);
    json!({"message": text, "actor": "user"})
}

/// Scenario 3: POST one message, 32 connections, each to its own chat and all to one.
async fn post_messages(options: &Options, setup: &Setup) -> anyhow::Result<Vec<Row>> {
    eprintln!("scenario 3: POST messages");
    let mut client = Client::sign_up(setup.server.address, "writer@bench.test").await?;
    let mut chats = Vec::new();
    for i in 0..32 {
        chats.push(client.create_chat(&format!("writer {i}")).await?);
    }
    let user = client.user_id;
    // confab's answer to one POST, for 3c to answer from memory.
    let (status, answer) = client
        .connection
        .send(request(
            "POST",
            &format!("/api/users/{user}/chats/{}/messages", chats[0]),
            Some(&client.cookie),
            Some(&message_body(0)),
        ))
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "POST answered {status}");
    let mut rows = Vec::new();
    for (label, spread) in [
        ("3a POST message, own chat each (32 conns)", true),
        ("3b POST message, all one chat (32 conns)", false),
    ] {
        let (cookie, chats) = (client.cookie.clone(), chats.clone());
        rows.push(
            measured(
                label,
                &setup.server,
                32,
                options.duration,
                Arc::new(move |connection, n| {
                    let chat = if spread { chats[connection] } else { chats[0] };
                    request(
                        "POST",
                        &format!("/api/users/{user}/chats/{chat}/messages"),
                        Some(&cookie),
                        Some(&message_body(n)),
                    )
                }),
                ok_200(),
                |_| "messages acknowledged durably".to_owned(),
            )
            .await?,
        );
    }
    let http = crate::writes::http_reference(options, &answer).await?;
    // The storage half is SQLite's; on PostgreSQL the POST rows keep their own note.
    let storage = match options.database.as_str() {
        "sqlite" => Some(crate::writes::storage_reference(options, setup).await?),
        _ => None,
    };
    if let Some(storage) = &storage {
        for posted in rows.iter_mut() {
            posted.note = crate::writes::against_limit(
                posted.per_second,
                http.per_second,
                storage.per_second,
            );
        }
    }
    rows.push(http);
    rows.extend(storage);
    Ok(rows)
}

/// Scenario 4: delete-last while other connections refill the chats; then deleting a chat
/// of 10,000 messages and 500 files.
async fn delete_last_and_delete_chat(options: &Options, setup: &Setup) -> anyhow::Result<Vec<Row>> {
    eprintln!("scenario 4: delete-last and delete chat");
    let address = setup.server.address;
    let mut client = Client::sign_up(address, "deleter@bench.test").await?;
    let mut chats = Vec::new();
    for i in 0..16 {
        let chat = client.create_chat(&format!("refilled {i}")).await?;
        client.post_batch(chat, &conversation(200, 200, 10)).await?;
        chats.push(chat);
    }
    let user = client.user_id;
    // Background refill: 16 connections post a user/assistant pair to their chat, unmeasured.
    let refill = {
        let (cookie, chats) = (client.cookie.clone(), chats.clone());
        let duration = options.duration;
        tokio::spawn(async move {
            closed_loop(
                address,
                16,
                duration,
                Arc::new(move |connection, n| {
                    let body = json!({"messages": [
                        {"content": format!("refill question {n}"), "role": "user"},
                        {"content": format!("refill answer {n}\n```js\nx({n})\n```"), "role": "assistant"},
                    ]});
                    request("POST", &format!("/api/users/{user}/chats/{}/messages", chats[connection]), Some(&cookie), Some(&body))
                }),
                ok_200(),
            )
            .await
        })
    };
    let (cookie, measured_chats) = (client.cookie.clone(), chats.clone());
    let empty = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen_empty = empty.clone();
    let mut rows = vec![
        measured(
            "4a DELETE last exchange, refilled (16+16 conns)",
            &setup.server,
            16,
            options.duration,
            Arc::new(move |connection, _| {
                request(
                    "DELETE",
                    &format!(
                        "/api/users/{user}/chats/{}/messages/last",
                        measured_chats[connection]
                    ),
                    Some(&cookie),
                    None,
                )
            }),
            Arc::new(move |status, _| {
                if status == StatusCode::BAD_REQUEST {
                    seen_empty.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                status == StatusCode::OK || status == StatusCode::BAD_REQUEST
            }),
            |_| String::new(),
        )
        .await?,
    ];
    let refilled = refill.await??;
    rows[0].note = format!(
        "{:.0} refill posts/s beside; {} answers were 'no messages'",
        refilled.per_second(),
        empty.load(std::sync::atomic::Ordering::Relaxed)
    );

    // Delete a chat of 10,000 messages and 500 files, three times.
    let mut stats = Stats::default();
    for round in 0..3 {
        let chat = client.create_chat(&format!("big {round}")).await?;
        client
            .post_batch(chat, &conversation(10_000, 200, 20))
            .await?;
        let (status, files) = client
            .call(
                "GET",
                &format!("/api/users/{user}/chats/{chat}/files"),
                None,
            )
            .await?;
        anyhow::ensure!(status == 200, "files answered {status}");
        let file_count = files["chatFiles"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(file_count == 500, "expected 500 files, got {file_count}");
        let started = Instant::now();
        let (status, _) = client
            .call("DELETE", &format!("/api/users/{user}/chats/{chat}"), None)
            .await?;
        let elapsed = started.elapsed();
        if status == 200 {
            stats.latencies.push(elapsed.as_micros() as u64);
        } else {
            stats.errors += 1;
        }
        stats.elapsed += elapsed;
    }
    let (server_cpu, gen_cpu) = (setup.server.cpu_seconds(), generator_cpu());
    rows.push(row(
        "4b DELETE chat of 10,000 msgs + 500 files",
        stats,
        &setup.server,
        server_cpu,
        gen_cpu,
        "3 deletions, one at a time".to_owned(),
    ));
    Ok(rows)
}

/// Creates a tenant with the CLI; returns (tenant id, API key).
pub(crate) fn tenant(setup: &Setup, name: &str) -> anyhow::Result<(String, String)> {
    let output = std::process::Command::new(&setup.binary)
        .args([
            "tenant",
            "create",
            name,
            "--database-url",
            &setup.database_url,
        ])
        .env("CONFAB_LOG", "warn")
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "tenant create failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created: Value = serde_json::from_slice(&output.stdout)?;
    Ok((
        created["tenant_id"]
            .as_str()
            .context("tenant_id")?
            .to_owned(),
        created["api_key"].as_str().context("api_key")?.to_owned(),
    ))
}

/// Inserts `count` chats for a tenant in one transaction (the API would pay one fsync each).
async fn seed_tenant_chats(
    database_url: &str,
    tenant_id: &str,
    count: usize,
) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    const PER_STATEMENT: usize = 500;
    let base = 1_700_000_000_000_000i64;
    let statement = |rows: usize| {
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let p = r * 4;
                format!(
                    "(${}, ${}, ${}, 'bench', NULL, 0, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 4
                )
            })
            .collect();
        format!(
            "INSERT INTO chats (uuid, tenant_id, name, model, metadata, version, created_at, updated_at) VALUES {}",
            values.join(", ")
        )
    };
    macro_rules! insert_all {
        ($conn:expr) => {{
            let mut tx = $conn.begin().await?;
            for start in (0..count).step_by(PER_STATEMENT) {
                let rows = PER_STATEMENT.min(count - start);
                let sql = statement(rows);
                let mut query = sqlx::query(&sql);
                for i in start..start + rows {
                    query = query
                        .bind(uuid::Uuid::new_v4().to_string())
                        .bind(tenant_id)
                        .bind(format!("seeded chat {i}"))
                        .bind(base + i as i64 * 1000);
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }};
    }
    if database_url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await?;
        insert_all!(conn);
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await?;
        insert_all!(conn);
        // What autovacuum does within a minute of a bulk load. Before it, the planner
        // takes the tenant for a few hundred rows and sorts all 100,000 for a first page
        // (48 ms instead of 0.1 ms in EXPLAIN ANALYZE), and scenario 5 would measure
        // those stale statistics rather than confab.
        sqlx::query("ANALYZE chats").execute(&mut conn).await?;
    }
    Ok(())
}

/// Scenario 5: `GET /api/v1/chats` pages over a tenant of 100,000 chats.
async fn tenant_pages(options: &Options, setup: &Setup) -> anyhow::Result<Vec<Row>> {
    eprintln!("scenario 5: tenant chat pages (seeding 100,000 chats)");
    let (tenant_id, key) = tenant(setup, "pages")?;
    seed_tenant_chats(&setup.database_url, &tenant_id, 100_000).await?;
    // Walk to a deep cursor (past 99,000 chats).
    let mut connection = Connection::open(setup.server.address).await?;
    let mut cursor: Option<String> = None;
    let mut walked = 0usize;
    while walked < 99_000 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/chats?limit=100&cursor={c}"),
            None => "/api/v1/chats?limit=100".to_owned(),
        };
        let (status, body) = connection
            .send(request_as("GET", &path, Some(("x-api-key", &key)), None))
            .await?;
        anyhow::ensure!(status == StatusCode::OK, "listing answered {status}");
        let page: Value = serde_json::from_slice(&body)?;
        walked += page["data"].as_array().map_or(0, Vec::len);
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        anyhow::ensure!(cursor.is_some(), "the listing ended after {walked} chats");
    }
    let deep = cursor.context("deep cursor")?;
    let mut rows = Vec::new();
    for (label, path) in [
        (
            "5a GET /api/v1/chats first page (32 conns)",
            "/api/v1/chats?limit=20".to_owned(),
        ),
        (
            "5b GET /api/v1/chats after 99,000 (32 conns)",
            format!("/api/v1/chats?limit=20&cursor={deep}"),
        ),
    ] {
        let key = key.clone();
        rows.push(
            measured(
                label,
                &setup.server,
                32,
                options.duration,
                Arc::new(move |_, _| request_as("GET", &path, Some(("x-api-key", &key)), None)),
                ok_200(),
                |_| String::new(),
            )
            .await?,
        );
    }
    let ratio = rows[1].per_second / rows[0].per_second.max(1e-9);
    rows[1].note = format!("{:.0}% of the first page's throughput", ratio * 100.0);
    Ok(rows)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(address: SocketAddr, chat: &str, key: &str) -> anyhow::Result<Socket> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{address}/api/v1/chats/{chat}/ws").into_client_request()?;
    request.headers_mut().insert("x-api-key", key.parse()?);
    // Small client buffers: 11,000 sockets live in this process.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    Ok(socket)
}

/// Scenario 6: one message fanned out to 1,000 sockets; 10,000 idle sockets' memory.
async fn websockets(
    options: &Options,
    setup: &Setup,
    idle_rss_kib: u64,
) -> anyhow::Result<Vec<Row>> {
    eprintln!("scenario 6: WebSocket fan-out and idle sockets");
    let _ = options;
    let (_, key) = tenant(setup, "sockets")?;
    let mut connection = Connection::open(setup.server.address).await?;
    let credential = Some(("x-api-key", key.as_str()));
    let (status, body) = connection
        .send(request_as(
            "POST",
            "/api/v1/chats",
            credential,
            Some(&json!({"name": "fan-out"})),
        ))
        .await?;
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "create chat answered {status}"
    );
    let chat: Value = serde_json::from_slice(&body)?;
    let chat_id = chat["id"].as_str().context("chat uuid")?.to_owned();

    // 1,000 subscribers. Each records its own arrival times (no per-frame hand-off to
    // a collector, so the generator's cost per delivery stays small) and counts the
    // round in, so the next message is posted only once every socket has this one.
    let mut sockets = Vec::with_capacity(1000);
    for _ in 0..1000 {
        sockets.push(open_socket(setup.server.address, &chat_id, &key).await?);
    }
    let rounds = 20usize;
    let arrived: Arc<Vec<std::sync::atomic::AtomicUsize>> = Arc::new(
        (0..rounds)
            .map(|_| std::sync::atomic::AtomicUsize::new(0))
            .collect(),
    );
    let all_in = Arc::new(tokio::sync::Notify::new());
    let mut readers = tokio::task::JoinSet::new();
    for socket in sockets {
        let (arrived, all_in) = (arrived.clone(), all_in.clone());
        readers.spawn(async move {
            let (_, mut read) = socket.split();
            let mut times = Vec::with_capacity(rounds);
            while times.len() < rounds {
                match tokio::time::timeout(Duration::from_secs(30), read.next()).await {
                    Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_)))) => {
                        times.push(Instant::now());
                        let round = times.len() - 1;
                        if arrived[round].fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1
                            == 1000
                        {
                            all_in.notify_one();
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
            times
        });
    }
    let mut fanout = Stats::default();
    let (server_cpu, gen_cpu) = (setup.server.cpu_seconds(), generator_cpu());
    let started = Instant::now();
    let mut sent_at = Vec::with_capacity(rounds);
    for round in 0..rounds {
        sent_at.push(Instant::now());
        let body = json!({"message": format!("fan-out round {round}"), "actor": "assistant"});
        let (status, _) = connection
            .send(request_as(
                "POST",
                &format!("/api/v1/chats/{chat_id}/messages"),
                credential,
                Some(&body),
            ))
            .await?;
        anyhow::ensure!(status == StatusCode::CREATED, "post answered {status}");
        let complete = || arrived[round].load(std::sync::atomic::Ordering::Acquire) >= 1000;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !complete() && Instant::now() < deadline {
            let _ = tokio::time::timeout(Duration::from_millis(50), all_in.notified()).await;
        }
    }
    fanout.elapsed = started.elapsed();
    while let Some(joined) = readers.join_next().await {
        let times = joined?;
        for (round, at) in times.iter().enumerate() {
            fanout
                .latencies
                .push(at.duration_since(sent_at[round]).as_micros() as u64);
        }
        fanout.errors += (rounds - times.len()) as u64;
    }
    let delivered = fanout.ok();
    let mut rows = vec![row(
        "6a WS fan-out: post -> 1,000 sockets",
        fanout,
        &setup.server,
        server_cpu,
        gen_cpu,
        format!("{rounds} messages, {delivered} deliveries timed"),
    )];

    // 10,000 idle sockets on a fresh server: memory per socket.
    let idle = start(&setup.binary, &setup.database_url, &[]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = {
        let mut c = Connection::open(idle.address).await?;
        c.send(request_as(
            "POST",
            "/api/v1/chats",
            credential,
            Some(&json!({"name": "idle"})),
        ))
        .await?
    };
    anyhow::ensure!(
        status == StatusCode::CREATED,
        "create chat answered {status}"
    );
    let idle_chat: Value = serde_json::from_slice(&body)?;
    let idle_chat = idle_chat["id"].as_str().context("chat uuid")?.to_owned();
    let before = idle.rss_kib();
    let mut held = Vec::with_capacity(10_000);
    let mut failures = 0u64;
    for _ in 0..10_000 {
        match open_socket(idle.address, &idle_chat, &key).await {
            Ok(socket) => held.push(socket),
            Err(_) => failures += 1,
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = idle.rss_kib();
    let per_socket_kib = (after.saturating_sub(before)) as f64 / held.len().max(1) as f64;
    for socket in &mut held {
        let _ = socket
            .send(tokio_tungstenite::tungstenite::Message::Close(None))
            .await;
    }
    rows.push(Row {
        scenario: "6b 10,000 idle sockets held".to_owned(),
        per_second: 0.0,
        p50_ms: 0.0,
        p95_ms: 0.0,
        p99_ms: 0.0,
        max_ms: 0.0,
        errors: failures,
        server_peak_rss_mib: idle.peak_rss_kib() as f64 / 1024.0,
        server_cpu_s: 0.0,
        generator_cpu_s: 0.0,
        note: format!(
            "{per_socket_kib:.1} KiB/socket ({} held; RSS {:.1} -> {:.1} MiB); idle server RSS {:.1} MiB",
            held.len(),
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            idle_rss_kib as f64 / 1024.0
        ),
    });
    Ok(rows)
}
