//! Scenario 9: full-text search. Seeds `--search-messages` messages (1,000,000 by default)
//! in chats of 100 through the tenant API, then measures three kinds of queries on the
//! tenant route (two words, a phrase, a prefix) and one on the user route, reports the
//! search index's size on disk and, with `--baseline-binary`, the cost search adds to
//! writes (scenario 3a's POST load against both builds, alternating).

use anyhow::Context as _;
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::corpus::{encode, Corpus, Rng, MIDDLE_BAND};
use crate::load::{request, request_as, Accept, Connection, Stats};
use crate::scenarios::{generator_cpu, measured, row, tenant, Setup};
use crate::search_costs::{index_size, write_overhead};
use crate::seed::Client;
use crate::{Options, Row};

/// Messages per chat.
const PER_CHAT: usize = 100;
/// Chats owned by the user whose route is measured.
const OWNED_CHATS: usize = 100;
/// Parallel connections while seeding.
const SEED_CONNECTIONS: usize = 8;
/// Connections of each query load.
const QUERY_CONNECTIONS: usize = 8;
/// Distinct queries of each kind.
const QUERIES: usize = 2_000;
const SEED: u64 = 0x5EA2_C4B3_0000_0009;

pub async fn run(options: &Options, setup: &Setup) -> anyhow::Result<Vec<Row>> {
    let chats = options.search_messages.div_ceil(PER_CHAT);
    let messages = chats * PER_CHAT;
    eprintln!("scenario 9: search, seeding {messages} messages in {chats} chats");
    let corpus = Arc::new(Corpus::new(SEED));
    let (tenant_id, key) = tenant(setup, "search")?;
    let owner = Client::sign_up_in(
        setup.server.address,
        "searcher@bench.test",
        Some(&tenant_id),
    )
    .await?;
    let owned = OWNED_CHATS.min(chats);
    let mut rows = vec![seed(setup, &corpus, &key, chats, owner.user_id, owned).await?];
    if setup.database_url.starts_with("postgres") {
        // What autovacuum does within a minute or so of a bulk load: without statistics
        // of the new rows the planner cannot choose between the GIN index and a walk of
        // the primary key.
        let status = std::process::Command::new("psql")
            .args([setup.database_url.as_str(), "-qc", "ANALYZE"])
            .status()
            .context("cannot run psql to ANALYZE the bench database")?;
        anyhow::ensure!(status.success(), "ANALYZE failed");
    }

    let mut rng = Rng::new(SEED ^ 0x0071_7565_7279);
    let engine_target = if setup.database_url.starts_with("postgres") {
        100.0
    } else {
        50.0
    };
    let kinds = [
        (
            "9b search: two words (8 conns)",
            corpus.two_word_queries(QUERIES, &mut rng),
        ),
        (
            "9c search: \"phrase\" (8 conns)",
            corpus.phrase_queries(QUERIES, 0..chats, PER_CHAT, &mut rng),
        ),
        (
            "9d search: prefix* (8 conns)",
            corpus.prefix_queries(QUERIES, &mut rng),
        ),
    ];
    for (label, queries) in kinds {
        let paths: Vec<String> = queries
            .iter()
            .map(|q| format!("/api/v1/search?q={}&limit=20", encode(q)))
            .collect();
        let key = key.clone();
        let make = move |path: &str| request_as("GET", path, Some(("x-api-key", &key)), None);
        let load = Load {
            label,
            paths,
            field: "data",
            target_p95_ms: engine_target,
        };
        rows.push(query_load(options, setup, load, make).await?);
    }

    // The user route: two words of one message of the user's own chats.
    let queries = user_queries(&corpus, owned, &mut rng);
    let paths: Vec<String> = queries
        .iter()
        .map(|q| {
            format!(
                "/api/users/{}/search?q={}&limit=20",
                owner.user_id,
                encode(q)
            )
        })
        .collect();
    let cookie = owner.cookie.clone();
    let label = format!("9e search, user API ({owned} own chats, 8 conns)");
    let make = move |path: &str| request("GET", path, Some(&cookie), None);
    let load = Load {
        label: &label,
        paths,
        field: "results",
        target_p95_ms: engine_target,
    };
    rows.push(query_load(options, setup, load, make).await?);

    rows.push(index_size(setup).await);
    match &options.baseline_binary {
        Some(baseline) => rows.extend(write_overhead(options, setup, baseline).await?),
        None => eprintln!("scenario 9: no --baseline-binary, write overhead not measured"),
    }
    Ok(rows)
}

/// Creates `chats` chats with 100 messages each, one batch POST per chat, over
/// [`SEED_CONNECTIONS`] connections; the first `owned` chats belong to `owner`.
async fn seed(
    setup: &Setup,
    corpus: &Arc<Corpus>,
    key: &str,
    chats: usize,
    owner: i64,
    owned: usize,
) -> anyhow::Result<Row> {
    let next = Arc::new(AtomicUsize::new(0));
    let (server_cpu, gen_cpu) = (setup.server.cpu_seconds(), generator_cpu());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..SEED_CONNECTIONS {
        let (next, corpus, key) = (next.clone(), corpus.clone(), key.to_owned());
        let mut connection = Connection::open(setup.server.address).await?;
        tasks.spawn(async move {
            let mut stats = Stats::default();
            let credential = Some(("x-api-key", key.as_str()));
            loop {
                let chat = next.fetch_add(1, Ordering::Relaxed);
                if chat >= chats {
                    break;
                }
                let mut body = json!({"name": corpus.chat_name(chat), "model": "bench"});
                if chat < owned {
                    body["user_id"] = json!(owner);
                }
                let request = request_as("POST", "/api/v1/chats", credential, Some(&body));
                let (status, answer) = connection.send(request).await?;
                anyhow::ensure!(status == StatusCode::CREATED, "create chat: {status}");
                let created: Value = serde_json::from_slice(&answer)?;
                let id = created["id"].as_str().context("chat uuid")?.to_owned();
                let items: Vec<Value> = corpus
                    .chat_messages(chat, PER_CHAT)
                    .into_iter()
                    .map(|m| json!({"content": m.text, "role": m.role}))
                    .collect();
                let path = format!("/api/v1/chats/{id}/messages");
                let body = json!({ "messages": items });
                let sent = Instant::now();
                let (status, answer) = connection
                    .send(request_as("POST", &path, credential, Some(&body)))
                    .await?;
                anyhow::ensure!(
                    status == StatusCode::CREATED,
                    "batch post: {status} {}",
                    String::from_utf8_lossy(&answer)
                );
                stats.latencies.push(sent.elapsed().as_micros() as u64);
                if (chat + 1) % 1_000 == 0 {
                    eprintln!("  {} chats seeded", chat + 1);
                }
            }
            Ok::<_, anyhow::Error>(stats)
        });
    }
    let mut total = Stats::default();
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined??);
    }
    total.elapsed = started.elapsed();
    let seconds = total.elapsed.as_secs_f64();
    let messages = chats * PER_CHAT;
    eprintln!("scenario 9: seeded {messages} messages in {seconds:.1} s");
    let note = format!(
        "{messages} msgs in {seconds:.1} s = {:.0} msgs/s (chat creation included); latency = one batch",
        messages as f64 / seconds.max(1e-9)
    );
    Ok(row(
        "9a seed: batch POST of 100 msgs (8 conns)",
        total,
        &setup.server,
        server_cpu,
        gen_cpu,
        note,
    ))
}

/// Queries of two words from the middle band, both from one message of the first
/// `owned` chats (so each finds at least that message).
fn user_queries(corpus: &Corpus, owned: usize, rng: &mut Rng) -> Vec<String> {
    let mut queries = Vec::with_capacity(QUERIES);
    let mut attempts = 0;
    while queries.len() < QUERIES && attempts < QUERIES * 50 {
        attempts += 1;
        let messages = corpus.chat_messages(rng.below(0..owned.max(1)), PER_CHAT);
        let message = &messages[rng.below(0..messages.len())];
        let mut ranks: Vec<usize> = message
            .sentences
            .iter()
            .flatten()
            .copied()
            .filter(|r| MIDDLE_BAND.contains(r))
            .collect();
        ranks.sort_unstable();
        ranks.dedup();
        if ranks.len() >= 2 {
            let a = ranks[rng.below(0..ranks.len())];
            let b = ranks[rng.below(0..ranks.len())];
            if a != b {
                queries.push(format!("{} {}", corpus.words[a], corpus.words[b]));
            }
        }
    }
    queries
}

/// Hits seen by a query load.
#[derive(Default)]
struct Hits {
    answers: AtomicU64,
    hits: AtomicU64,
    empty: AtomicU64,
}

/// One query kind.
struct Load<'a> {
    label: &'a str,
    /// Request paths, each with its query.
    paths: Vec<String>,
    /// The answer's array of hits.
    field: &'static str,
    target_p95_ms: f64,
}

/// One query kind: 8 closed loops cycling through its paths, each answer checked to be
/// 200 with an array of hits.
async fn query_load(
    options: &Options,
    setup: &Setup,
    load: Load<'_>,
    make: impl Fn(&str) -> hyper::Request<http_body_util::Full<Bytes>> + Send + Sync + 'static,
) -> anyhow::Result<Row> {
    let Load {
        label,
        paths,
        field,
        target_p95_ms,
    } = load;
    eprintln!("scenario 9: {label}");
    anyhow::ensure!(!paths.is_empty(), "no queries for {label}");
    let paths = Arc::new(paths);
    let hits = Arc::new(Hits::default());
    let counted = hits.clone();
    let accept: Accept = Arc::new(move |status, body: &Bytes| {
        if status != StatusCode::OK {
            return false;
        }
        let Ok(answer) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        let Some(found) = answer[field].as_array() else {
            return false;
        };
        counted.answers.fetch_add(1, Ordering::Relaxed);
        counted
            .hits
            .fetch_add(found.len() as u64, Ordering::Relaxed);
        if found.is_empty() {
            counted.empty.fetch_add(1, Ordering::Relaxed);
        }
        true
    });
    let count = paths.len();
    let mut row = measured(
        label,
        &setup.server,
        QUERY_CONNECTIONS,
        options.duration,
        Arc::new(move |connection, n| {
            // Each connection walks the list from its own offset.
            let index = (connection * count / QUERY_CONNECTIONS + n as usize) % count;
            make(&paths[index])
        }),
        accept,
        |_| String::new(),
    )
    .await?;
    let answers = hits.answers.load(Ordering::Relaxed).max(1) as f64;
    let verdict = if row.per_second == 0.0 {
        "not measured (no good answer)"
    } else if row.p95_ms <= target_p95_ms {
        "met"
    } else {
        "MISSED"
    };
    row.note = format!(
        "{count} queries; mean {:.1} hits/answer, {:.0}% empty; p95 target {target_p95_ms} ms {verdict}",
        hits.hits.load(Ordering::Relaxed) as f64 / answers,
        100.0 * hits.empty.load(Ordering::Relaxed) as f64 / answers,
    );
    if row.errors > 0 && setup.database_url.starts_with("postgres") {
        // A statement whose request timed out goes on running; it would slow the next row.
        match cancel_leftovers(&setup.database_url).await {
            Ok(0) => {}
            Ok(n) => row
                .note
                .push_str(&format!("; {n} leftover statements cancelled")),
            Err(error) => eprintln!("scenario 9: cannot cancel leftover statements: {error}"),
        }
    }
    Ok(row)
}

/// Cancels the statements still running in the bench's PostgreSQL database.
async fn cancel_leftovers(url: &str) -> anyhow::Result<usize> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let cancelled: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut conn)
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    Ok(cancelled.len())
}
