//! Scenario 9's costs of search: the index's size on disk, and what it adds to writes
//! (scenario 3a's POST load against a build without search and this one).

use std::path::Path;
use std::sync::Arc;

use crate::load::request;
use crate::scenarios::{fresh_database, measured, message_body, ok_200, start, Setup, TempDir};
use crate::seed::Client;
use crate::{Options, Row};

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The search index's size on disk, as a row's note.
pub async fn index_size(setup: &Setup) -> Row {
    let measured = if setup.database_url.starts_with("postgres") {
        postgres_index_size(&setup.database_url).await
    } else {
        sqlite_index_size(&setup.database_url).await
    };
    let note = measured.unwrap_or_else(|error| format!("could not measure: {error:#}"));
    eprintln!("scenario 9: index size: {note}");
    Row::noted("9f search index size on disk", note)
}

async fn sqlite_index_size(url: &str) -> anyhow::Result<String> {
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(url).await?;
    let page = |bytes: Option<i64>| bytes.unwrap_or(0);
    let whole: (i64, i64) =
        sqlx::query_as("SELECT page_count, page_size FROM pragma_page_count, pragma_page_size")
            .fetch_one(&mut conn)
            .await?;
    let whole = whole.0 * whole.1;
    let sum = |pattern: &'static str| {
        sqlx::query_scalar::<_, Option<i64>>("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE ?")
            .bind(pattern)
    };
    let (messages, names, all) = match sum("message_search%").fetch_one(&mut conn).await {
        Ok(messages) => (
            page(messages),
            page(sum("chat_name_search%").fetch_one(&mut conn).await?),
            page(sum("%search%").fetch_one(&mut conn).await?),
        ),
        Err(error) => {
            eprintln!("scenario 9: dbstat unavailable ({error}); measuring by dropping");
            let (messages, names) = by_dropping(&mut conn, url).await?;
            (messages, names, messages + names)
        }
    };
    Ok(format!(
        "SQLite: message_search {:.1} MiB + chat_name_search {:.1} MiB (all '%search%' objects {:.1} MiB) of a {:.1} MiB database ({:.0}%)",
        mib(messages),
        mib(names),
        mib(all),
        mib(whole),
        100.0 * all as f64 / whole.max(1) as f64
    ))
}

/// Without dbstat: a vacuumed copy's size, less the size once each FTS table is dropped.
async fn by_dropping(conn: &mut sqlx::SqliteConnection, url: &str) -> anyhow::Result<(i64, i64)> {
    use sqlx::Connection as _;
    let path = url.trim_start_matches("sqlite://");
    let copy = format!("{path}.search-copy");
    let _ = std::fs::remove_file(&copy);
    sqlx::query(&format!("VACUUM INTO '{}'", copy.replace('\'', "''")))
        .execute(&mut *conn)
        .await?;
    let mut copy_conn = sqlx::SqliteConnection::connect(&format!("sqlite://{copy}")).await?;
    let size = || {
        std::fs::metadata(&copy)
            .map(|m| m.len() as i64)
            .unwrap_or(0)
    };
    let mut sizes = vec![size()];
    for table in ["message_search", "chat_name_search"] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(&mut copy_conn)
            .await?;
        sqlx::query("VACUUM").execute(&mut copy_conn).await?;
        sizes.push(size());
    }
    copy_conn.close().await?;
    let _ = std::fs::remove_file(&copy);
    Ok((sizes[0] - sizes[1], sizes[1] - sizes[2]))
}

async fn postgres_index_size(url: &str) -> anyhow::Result<String> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let gin: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, pg_total_relation_size(c.oid) FROM pg_class c \
         JOIN pg_am a ON a.oid = c.relam \
         WHERE c.relkind = 'i' AND a.amname = 'gin' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await?;
    let messages = scalar(
        &mut conn,
        "SELECT SUM(pg_column_size(search))::bigint FROM messages",
    )
    .await;
    let names = scalar(
        &mut conn,
        "SELECT SUM(pg_column_size(name_search))::bigint FROM chats",
    )
    .await;
    let whole = scalar(&mut conn, "SELECT pg_database_size(current_database())")
        .await?
        .unwrap_or(0);
    let shown = |r: Result<Option<i64>, sqlx::Error>| match r {
        Ok(bytes) => format!("{:.1} MiB", mib(bytes.unwrap_or(0))),
        Err(error) => format!("n/a ({error})"),
    };
    let indexes: Vec<String> = gin
        .iter()
        .map(|(name, bytes)| format!("{name} {:.1} MiB", mib(*bytes)))
        .collect();
    let gin_total: i64 = gin.iter().map(|(_, bytes)| bytes).sum();
    Ok(format!(
        "PostgreSQL: GIN indexes {:.1} MiB [{}]; tsvector columns messages.search {}, chats.name_search {}; database {:.1} MiB",
        mib(gin_total),
        indexes.join(", "),
        shown(messages),
        shown(names),
        mib(whole)
    ))
}

async fn scalar(conn: &mut sqlx::PgConnection, sql: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(sql).fetch_one(conn).await
}

/// Scenario 3a's load (32 connections, each posting one message at a time to its own
/// chat) against the baseline build and this one, each on a fresh database, alternating
/// A B A B; the last row's note has the ratio of the throughputs.
pub async fn write_overhead(
    options: &Options,
    setup: &Setup,
    baseline: &Path,
) -> anyhow::Result<Vec<Row>> {
    eprintln!(
        "scenario 9: write overhead, {} vs this build",
        baseline.display()
    );
    let mut targets = Vec::new();
    for (name, binary) in [("baseline", baseline), ("search", setup.binary.as_path())] {
        let dir = TempDir::new()?;
        let (url, database) = fresh_database(options, &dir.0)?;
        let server = start(binary, &url, &[]).await?;
        let mut client = Client::sign_up(server.address, "writer@bench.test").await?;
        let mut chats = Vec::new();
        for i in 0..32 {
            chats.push(client.create_chat(&format!("writer {i}")).await?);
        }
        // Dropped in this order: the server before its database and directory.
        targets.push((name, client, chats, server, database, dir));
    }
    let mut rows = Vec::new();
    let mut totals = [0.0f64; 2];
    for round in 1..=2 {
        for (index, (name, client, chats, server, _, _)) in targets.iter().enumerate() {
            let (cookie, chats, user) = (client.cookie.clone(), chats.clone(), client.user_id);
            let label = format!("9g POST msg, {name} build, run {round} (32 conns)");
            eprintln!("scenario 9: {label}");
            let row = measured(
                &label,
                server,
                32,
                options.duration,
                Arc::new(move |connection, n| {
                    request(
                        "POST",
                        &format!("/api/users/{user}/chats/{}/messages", chats[connection]),
                        Some(&cookie),
                        Some(&message_body(n)),
                    )
                }),
                ok_200(),
                |_| String::new(),
            )
            .await?;
            totals[index] += row.per_second;
            rows.push(row);
        }
    }
    let ratio = totals[1] / totals[0].max(1e-9);
    let verdict = if ratio >= 0.8 { "met" } else { "MISSED" };
    if let Some(last) = rows.last_mut() {
        last.note = format!(
            "search/baseline throughput = {:.2} (target >= 0.80 {verdict})",
            ratio
        );
    }
    Ok(rows)
}
