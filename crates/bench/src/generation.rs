//! Scenario 10: generation. 200 replies streamed at once from the LLM test double, 50
//! chunks/s each, every chat watched by 5 WebSockets. Measures the time from the double
//! stamping a chunk to a socket receiving it, the server's CPU per delivered chunk, how
//! far the persisted text trails the stream, the memory of a running generation, and how
//! fast a resumed stream (`Last-Event-ID`) replays its first delta.
//!
//! Runs its own confab (the shared server has no provider), on a fresh database, with
//! the double in this process on a runtime of its own.

use anyhow::Context as _;
use futures_util::StreamExt as _;
use hyper::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

use crate::corpus::Rng;
use crate::load::{open_stream, request, Connection, Stats};
use crate::scenarios::{fresh_database, generator_cpu, row, start, TempDir};
use crate::seed::Client;
use crate::server::rss_kib_of;
use crate::{Options, Row};

const USERS: usize = 10;
const CHATS_PER_USER: usize = 20;
const GENERATIONS: usize = USERS * CHATS_PER_USER;
const SOCKETS_PER_CHAT: usize = 5;
/// The double's gap between chunks: 50 chunks/s.
const CHUNK_MS: u64 = 20;
/// Seconds of chunks beyond the window, so every reply outlasts it however late it began.
const MARGIN_S: u64 = 3;
/// Chats whose stored reply is read each half second for the persisted-text lag.
const PROBES_PER_TICK: usize = 4;
/// Pause between two resumes (one at a time): a client reconnecting now and then, not
/// a replay storm competing with the streams measured beside it.
const RESUME_PAUSE: Duration = Duration::from_millis(10);
/// Longest wait for any one step; past it the step counts as an error.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

const EMIT_ROW: &str = "10 generation: chunk emit → socket (200 gens × 50/s, 5 sockets each)";
const LAG_ROW: &str = "10 generation: persisted-text lag";
const RESUME_ROW: &str = "10 generation: resume → first replayed delta";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A chat with its reply being generated.
struct Target {
    user: i64,
    chat: i64,
    cookie: String,
    reply: OnceLock<i64>,
}

impl Target {
    /// `/api/users/{user}/chats/{chat}` + `rest`.
    fn path(&self, rest: &str) -> String {
        format!("/api/users/{}/chats/{}{rest}", self.user, self.chat)
    }
}

pub async fn run(options: &Options, binary: &Path) -> anyhow::Result<Vec<Row>> {
    eprintln!("scenario 10: {GENERATIONS} generations, {SOCKETS_PER_CHAT} sockets each");
    // The double runs on a thread of its own, so the sockets read in this process do not
    // delay its chunks; it stops when `_double` is dropped.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let (_double, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        runtime.block_on(async {
            let double = llm_double::LlmDouble::start().await;
            let _ = url_tx.send(double.base_url());
            let _ = stopped.await;
        })
    });
    let base_url = url_rx.await.context("the LLM double did not start")?;
    let dir = TempDir::new()?;
    let (database_url, _database) = fresh_database(options, &dir.0)?;
    let mut flags = vec!["--llm-base-url", &base_url];
    flags.extend(
        "--llm-max-concurrent 1000 --llm-timeout-seconds 60 --llm-max-seconds 3600".split(' '),
    );
    let server = start(binary, &database_url, &flags).await?;
    let (address, pid) = (server.address, server.pid());

    let mut targets = Vec::with_capacity(GENERATIONS);
    for u in 0..USERS {
        let mut client = Client::sign_up(address, &format!("generator{u}@bench.test")).await?;
        for c in 0..CHATS_PER_USER {
            let chat = client.create_chat(&format!("generated {c}")).await?;
            targets.push(Target {
                user: client.user_id,
                chat,
                cookie: client.cookie.clone(),
                reply: OnceLock::new(),
            });
        }
    }
    let targets = Arc::new(targets);

    // The sockets, each reading until told to stop; only deltas within the window count.
    let window: Arc<OnceLock<(Instant, Instant)>> = Arc::new(OnceLock::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut readers = tokio::task::JoinSet::new();
    let mut socket_errors = 0u64;
    for target in targets.iter() {
        for _ in 0..SOCKETS_PER_CHAT {
            let opened = tokio::time::timeout(STEP_TIMEOUT, open_socket(address, target)).await;
            let Ok(Ok(socket)) = opened else {
                socket_errors += 1;
                continue;
            };
            readers.spawn(watch(socket, window.clone(), stopped.clone()));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib_of(pid);

    // Every generation at once; each POST is read up to the reply's `message.created`,
    // then its connection is dropped (the reply goes on).
    let chunks = 1000 / CHUNK_MS * (options.duration.as_secs() + MARGIN_S);
    let model = format!("stamp-{chunks}-{CHUNK_MS}");
    let mut starting = tokio::task::JoinSet::new();
    for index in 0..GENERATIONS {
        let (targets, model) = (targets.clone(), model.clone());
        starting.spawn(async move { generate(address, &targets[index], &model).await });
    }
    let mut start_errors = 0u64;
    while let Some(joined) = starting.join_next().await {
        if let Err(error) = joined
            .map_err(anyhow::Error::from)
            .and_then(|started| started)
        {
            eprintln!("scenario 10: a generation did not start: {error:#}");
            start_errors += 1;
        }
    }
    anyhow::ensure!(
        (start_errors as usize) < GENERATIONS,
        "no generation started"
    );

    let window_start = Instant::now();
    let window_end = window_start + options.duration;
    let _ = window.set((window_start, window_end));
    let (server_cpu, gen_cpu) = (server.cpu_seconds(), generator_cpu());
    let resumes = tokio::spawn(resume_loop(
        address,
        targets.clone(),
        window_start + Duration::from_millis(500),
        window_end,
    ));

    // Every half second or so: the server's RSS, and a few chats' persisted text. The
    // gaps are random (250 to 750 ms), so the probes do not keep one phase of the
    // server's 500 ms flushes.
    let mut rss_peak = rss_before;
    let mut lag = Stats::default();
    let mut rng = Rng::new(0x6E4E_0010);
    let mut probe = Connection::open(address).await?;
    loop {
        let gap = Duration::from_millis(250 + rng.below(0..500) as u64);
        if Instant::now() + gap >= window_end {
            break;
        }
        tokio::time::sleep(gap).await;
        rss_peak = rss_peak.max(rss_kib_of(pid));
        for _ in 0..PROBES_PER_TICK {
            let target = &targets[rng.below(0..targets.len())];
            let Some(&reply) = target.reply.get() else {
                continue;
            };
            match tokio::time::timeout(STEP_TIMEOUT, persisted_age(&mut probe, target, reply)).await
            {
                Ok(Ok(Some(age))) => lag.latencies.push(age),
                Ok(Ok(None)) => {}
                _ => {
                    lag.errors += 1;
                    probe = Connection::open(address).await?;
                }
            }
        }
    }
    tokio::time::sleep_until(window_end.into()).await;
    let _ = stop.send(true);
    let elapsed = window_start.elapsed();
    let server_cpu = server.cpu_seconds() - server_cpu;
    let gen_cpu = generator_cpu() - gen_cpu;
    rss_peak = rss_peak.max(rss_kib_of(pid));
    lag.elapsed = elapsed;

    let mut emitted = Stats {
        errors: socket_errors + start_errors,
        elapsed,
        ..Stats::default()
    };
    let collect = async {
        while let Some(joined) = readers.join_next().await {
            let (latencies, ended_early) = joined.unwrap_or((Vec::new(), true));
            emitted.errors += u64::from(ended_early);
            emitted.latencies.extend(latencies);
        }
    };
    if tokio::time::timeout(STEP_TIMEOUT, collect).await.is_err() {
        eprintln!("scenario 10: some sockets did not stop");
    }
    let resumed = tokio::time::timeout(STEP_TIMEOUT * 2, resumes).await;
    let resumed = resumed.ok().and_then(Result::ok).unwrap_or(Stats {
        errors: 1,
        ..Stats::default()
    });

    let delivered = emitted.ok();
    let cpu_per_chunk_us = server_cpu * 1e6 / delivered.max(1) as f64;
    let rss_per_generation = rss_peak.saturating_sub(rss_before) as f64
        / (GENERATIONS as u64 - start_errors).max(1) as f64;
    let produced = delivered as f64 / SOCKETS_PER_CHAT as f64 / elapsed.as_secs_f64();
    let note = format!(
        "{produced:.0} chunks/s produced, {delivered} delivered; server CPU \
         {cpu_per_chunk_us:.1} µs per delivered chunk; RSS {rss_per_generation:.1} KiB per \
         running generation; goal p99 ≤ 20 ms"
    );
    let lag_note = "age of the newest persisted chunk; persisted at least every 500 ms";
    // The three were measured together: each row shows the CPU of the whole window.
    let mut rows = vec![
        row(EMIT_ROW, emitted, &server, 0.0, 0.0, note),
        row(LAG_ROW, lag, &server, 0.0, 0.0, lag_note.to_owned()),
        row(
            RESUME_ROW,
            resumed,
            &server,
            0.0,
            0.0,
            "goal p99 ≤ 10 ms".into(),
        ),
    ];
    rows[1].per_second = 0.0;
    for row in &mut rows {
        (row.server_cpu_s, row.generator_cpu_s) = (server_cpu, gen_cpu);
    }
    Ok(rows)
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The double's stamp in a `message.delta` frame (`"text":"t<micros> "`), without
/// parsing the whole frame.
fn delta_stamp(frame: &str) -> Option<u64> {
    if !frame.contains("\"message.delta\"") {
        return None;
    }
    let at = frame.find("\"text\":\"t")? + "\"text\":\"t".len();
    let digits = frame[at..].find(|c: char| !c.is_ascii_digit())?;
    frame[at..at + digits].parse().ok()
}

async fn open_socket(address: SocketAddr, target: &Target) -> anyhow::Result<Socket> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{address}{}", target.path("/ws")).into_client_request()?;
    request
        .headers_mut()
        .insert("cookie", target.cookie.parse()?);
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    Ok(socket)
}

/// Reads a socket until told to stop, timing each delta received within the window;
/// returns the latencies (µs) and whether the socket ended first.
async fn watch(
    mut socket: Socket,
    window: Arc<OnceLock<(Instant, Instant)>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (Vec<u64>, bool) {
    let mut latencies = Vec::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let (now, micros) = (Instant::now(), now_micros());
                    let inside = window
                        .get()
                        .is_some_and(|(start, end)| now >= *start && now < *end);
                    if let (true, Some(stamp)) = (inside, delta_stamp(&text)) {
                        latencies.push(micros.saturating_sub(stamp));
                    }
                }
                Some(Ok(_)) => {}
                _ => return (latencies, true),
            }
        }
    }
    (latencies, false)
}

/// Starts a reply in the target's chat and notes its id.
async fn generate(address: SocketAddr, target: &Target, model: &str) -> anyhow::Result<()> {
    let body = json!({"message": {"content": "go", "role": "user"}, "model": model});
    let post = request(
        "POST",
        &target.path("/generate"),
        Some(&target.cookie),
        Some(&body),
    );
    let created = async {
        let (status, _, mut stream) = open_stream(address, post).await?;
        anyhow::ensure!(status == StatusCode::OK, "generate answered {status}");
        loop {
            let (_, data) = stream.next(|name| name == "message.created").await?;
            let message: Value = serde_json::from_str(&data)?;
            if message["status"] == "generating" {
                return message["id"].as_i64().context("the reply's id");
            }
        }
    };
    let reply = tokio::time::timeout(STEP_TIMEOUT, created).await??;
    let _ = target.reply.set(reply);
    Ok(())
}

/// The age in µs of the newest chunk in the target's stored reply (None once the reply
/// has ended, or before any text is stored).
async fn persisted_age(
    connection: &mut Connection,
    target: &Target,
    reply: i64,
) -> anyhow::Result<Option<u64>> {
    let get = request("GET", &target.path("/messages"), Some(&target.cookie), None);
    let (status, body) = connection.send(get).await?;
    let now = now_micros();
    anyhow::ensure!(status == StatusCode::OK, "messages answered {status}");
    let listing: Value = serde_json::from_slice(&body)?;
    let message = listing["chatMessages"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["id"] == reply))
        .context("the reply is not listed")?;
    if message["status"] != "generating" {
        return Ok(None);
    }
    let text = message["message"].as_str().unwrap_or("");
    let newest = text
        .split_whitespace()
        .next_back()
        .and_then(|stamp| stamp.strip_prefix('t'))
        .and_then(|micros| micros.parse::<u64>().ok());
    Ok(newest.map(|stamp| now.saturating_sub(stamp)))
}

/// Resumes random replies one at a time from `begin` to `end`: the time from sending
/// the request to the first replayed delta.
async fn resume_loop(
    address: SocketAddr,
    targets: Arc<Vec<Target>>,
    begin: Instant,
    end: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut rng = Rng::new(0x5E50_0010);
    tokio::time::sleep_until(begin.into()).await;
    while Instant::now() < end {
        let target = &targets[rng.below(0..targets.len())];
        let Some(&reply) = target.reply.get() else {
            continue;
        };
        match tokio::time::timeout(STEP_TIMEOUT, resume(address, target, reply)).await {
            Ok(Ok(micros)) => stats.latencies.push(micros),
            Ok(Err(error)) => {
                stats.errors += 1;
                eprintln!("scenario 10: a resume failed: {error:#}");
            }
            Err(_) => stats.errors += 1,
        }
        tokio::time::sleep(RESUME_PAUSE).await;
    }
    stats.elapsed = end.saturating_duration_since(begin);
    stats
}

async fn resume(address: SocketAddr, target: &Target, reply: i64) -> anyhow::Result<u64> {
    let path = target.path(&format!("/messages/{reply}/stream"));
    let mut get = request("GET", &path, Some(&target.cookie), None);
    get.headers_mut().insert(
        "last-event-id",
        hyper::header::HeaderValue::from_static("1"),
    );
    let (status, sent, mut stream) = open_stream(address, get).await?;
    anyhow::ensure!(status == StatusCode::OK, "resume answered {status}");
    let (name, _) = stream.next(|name| name.starts_with("message.")).await?;
    let micros = sent.elapsed().as_micros() as u64;
    anyhow::ensure!(name == "message.delta", "the resume began with {name}");
    Ok(micros)
}
