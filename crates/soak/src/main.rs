//! `soak`: holds mixed load on a confab server over loopback for a long time and watches
//! for drift: every interval it samples the server's RSS and the latency of the requests
//! answered in that interval, then reports errors, latency drift (first vs last interval
//! p50/p99) and RSS drift, and fails on any error or on RSS growth past a bound.
//!
//! ```text
//! cargo run --release -p confab-soak -- --binary target/release/confab [--duration 600]
//!     [--interval 10] [--workers 4] [--websockets 8] [--max-rss-growth-mib 64]
//!     [--database-url URL]
//! ```
//!
//! The load: each worker owns a chat in one API (user or tenant, alternately) and loops
//! over reads (messages, chat lists, files, pages, chat views), appends (single and
//! batch, assistant messages with code files), delete-lasts, and a chat churn (create,
//! fill, read, delete; on the tenant API sometimes with a WebSocket attached and
//! `?force=true`, checking that the socket gets `chat.deleted` and a normal close). Owned
//! chats stay between 10 and 100 messages, so the data does not grow with the run.
//! Beside them, long-lived WebSocket watchers on the owned chats reconnect now and then.
//! The run stops by itself after `--duration`, then stops the server with SIGTERM and
//! requires a clean exit.

use anyhow::{bail, Context as _};
use futures_util::{SinkExt as _, StreamExt as _};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

struct Options {
    binary: PathBuf,
    database_url: Option<String>,
    duration: Duration,
    interval: Duration,
    workers: usize,
    websockets: usize,
    max_rss_growth_mib: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: soak --binary PATH [--duration SECONDS] [--interval SECONDS] [--workers N]\n\
         \x20           [--websockets N] [--max-rss-growth-mib MIB] [--database-url URL]\n\
         Defaults: 600 s, 10 s intervals, 4 workers, 8 WebSockets, 64 MiB, a fresh SQLite file."
    );
    std::process::exit(2)
}

fn parse_options() -> Options {
    let mut options = Options {
        binary: std::env::var_os("CONFAB_BIN")
            .map(PathBuf::from)
            .unwrap_or_default(),
        database_url: None,
        duration: Duration::from_secs(600),
        interval: Duration::from_secs(10),
        workers: 4,
        websockets: 8,
        max_rss_growth_mib: 64.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--binary" => options.binary = PathBuf::from(value()),
            "--database-url" => options.database_url = Some(value()),
            "--duration" => {
                options.duration = Duration::from_secs(value().parse().unwrap_or_else(|_| usage()))
            }
            "--interval" => {
                options.interval =
                    Duration::from_secs(value().parse::<u64>().unwrap_or_else(|_| usage()).max(1))
            }
            "--workers" => options.workers = value().parse().unwrap_or_else(|_| usage()),
            "--websockets" => options.websockets = value().parse().unwrap_or_else(|_| usage()),
            "--max-rss-growth-mib" => {
                options.max_rss_growth_mib = value().parse().unwrap_or_else(|_| usage())
            }
            _ => usage(),
        }
    }
    if options.binary.as_os_str().is_empty() || options.workers == 0 {
        usage();
    }
    options
}

/// What the load generators record; drained once per interval.
#[derive(Default)]
struct Stats {
    latencies_us: Mutex<Vec<u32>>,
    requests: AtomicU64,
    errors: AtomicU64,
    ws_frames: AtomicU64,
    ws_connects: AtomicU64,
    error_samples: Mutex<Vec<String>>,
}

impl Stats {
    fn record(&self, started: Instant) {
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut latencies) = self.latencies_us.lock() {
            latencies.push(micros);
        }
    }

    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut samples) = self.error_samples.lock() {
            if samples.len() < 20 {
                samples.push(what);
            }
        }
    }
}

/// One interval's figures.
struct Sample {
    at_s: f64,
    requests: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
    rss_mib: f64,
    ws_frames: u64,
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    f64::from(sorted[index.min(sorted.len() - 1)]) / 1000.0
}

/// The process's resident set size in MiB, from /proc.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// How a client authenticates, and where its chats live.
#[derive(Clone)]
enum Api {
    User { cookie: String, user_id: i64 },
    Tenant { key: String },
}

impl Api {
    fn chats(&self) -> String {
        match self {
            Api::User { user_id, .. } => format!("/api/users/{user_id}/chats"),
            Api::Tenant { .. } => "/api/v1/chats".to_owned(),
        }
    }

    fn chat(&self, id: &str) -> String {
        format!("{}/{id}", self.chats())
    }

    fn created(&self) -> StatusCode {
        match self {
            Api::User { .. } => StatusCode::OK,
            Api::Tenant { .. } => StatusCode::CREATED,
        }
    }

    fn ws_request(
        &self,
        address: &str,
        chat: &str,
    ) -> anyhow::Result<tokio_tungstenite::tungstenite::handshake::client::Request> {
        let mut request = format!("ws://{address}{}/ws", self.chat(chat)).into_client_request()?;
        let (name, value) = match self {
            Api::User { cookie, .. } => ("cookie", cookie.clone()),
            Api::Tenant { key } => ("x-api-key", key.clone()),
        };
        request
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value)?);
        Ok(request)
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    address: String,
    stats: Arc<Stats>,
}

impl Client {
    /// Sends a request; an answer other than `expected` counts as an error.
    async fn call(
        &self,
        api: &Api,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> Option<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        request = match api {
            Api::User { cookie, .. } => request.header("cookie", cookie),
            Api::Tenant { key } => request.header("x-api-key", key),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let started = Instant::now();
        let answer = async {
            let response = request.send().await?;
            let status = response.status();
            let text = response.text().await?;
            Ok::<_, reqwest::Error>((status, text))
        }
        .await;
        self.stats.record(started);
        match answer {
            Ok((status, text)) if status == expected => {
                Some(serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Ok((status, text)) => {
                self.stats
                    .error(format!("{method} {path}: {status} {text:.200}"));
                None
            }
            Err(error) => {
                self.stats.error(format!("{method} {path}: {error}"));
                None
            }
        }
    }

    async fn create_chat(&self, api: &Api, name: &str) -> Option<String> {
        let body = self
            .call(
                api,
                Method::POST,
                &api.chats(),
                Some(json!({"name": name, "model": "soak"})),
                api.created(),
            )
            .await?;
        match api {
            Api::User { .. } => body["chat"]["id"].as_i64().map(|id| id.to_string()),
            Api::Tenant { .. } => body["id"].as_str().map(str::to_owned),
        }
    }
}

fn message_body(rng: &mut StdRng, n: u64) -> (Value, u64) {
    let text = |rng: &mut StdRng| match rng.gen_range(0..3) {
        0 => format!("question {n}: how do I sort a list?"),
        1 => format!("Use sorted():\n```python\nprint(sorted([3, 1, {n}]))\n```\n"),
        _ => format!(
            "Two files:\n```rust title=src/lib{n}.rs\npub fn f() {{}}\n```\n~~~sh\nls\n~~~\n"
        ),
    };
    let actor = |rng: &mut StdRng| ["user", "assistant", "assistant"][rng.gen_range(0..3)];
    if rng.gen_bool(0.7) {
        (json!({"message": text(rng), "actor": actor(rng)}), 1)
    } else {
        let count = rng.gen_range(2..=3);
        let messages: Vec<Value> = (0..count)
            .map(|_| json!({"content": text(rng), "role": actor(rng)}))
            .collect();
        (json!({"messages": messages}), count)
    }
}

struct Worker {
    index: usize,
    api: Api,
    chat: String,
    /// Messages in the owned chat (only this worker writes to it).
    count: u64,
    rng: StdRng,
    seq: u64,
}

impl Worker {
    async fn run(mut self, client: Arc<Client>, stop: Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            let roll = self.rng.gen_range(0..100);
            match roll {
                0..=49 => self.read(&client).await,
                50..=74 if self.count < 100 => self.append(&client).await,
                _ if self.count > 10 && roll < 88 => self.delete_last(&client).await,
                88..=99 => self.churn(&client).await,
                _ => self.append(&client).await,
            }
        }
    }

    async fn read(&mut self, client: &Client) {
        let api = self.api.clone();
        let ok = StatusCode::OK;
        let path = match (&api, self.rng.gen_range(0..3)) {
            (Api::User { .. }, 0) => format!("{}/messages", api.chat(&self.chat)),
            (Api::User { .. }, 1) => format!("{}?order_by=updated_at:desc", api.chats()),
            (Api::User { .. }, _) => format!("{}/files", api.chat(&self.chat)),
            (Api::Tenant { .. }, 0) => format!("{}/messages?limit=50", api.chat(&self.chat)),
            (Api::Tenant { .. }, 1) => format!("{}?limit=20", api.chats()),
            (Api::Tenant { .. }, _) => api.chat(&self.chat),
        };
        client.call(&api, Method::GET, &path, None, ok).await;
    }

    async fn append(&mut self, client: &Client) {
        self.seq += 1;
        let (body, count) = message_body(&mut self.rng, self.seq);
        let api = self.api.clone();
        let path = format!("{}/messages", api.chat(&self.chat));
        if client
            .call(&api, Method::POST, &path, Some(body), api.created())
            .await
            .is_some()
        {
            self.count += count;
        }
    }

    async fn delete_last(&mut self, client: &Client) {
        let api = self.api.clone();
        let path = format!("{}/messages/last", api.chat(&self.chat));
        let Some(body) = client
            .call(&api, Method::DELETE, &path, None, StatusCode::OK)
            .await
        else {
            return;
        };
        let mut deleted = body["deletedSuccessfully"].as_array().map_or(0, Vec::len) as u64;
        for key in ["maybeUserMessageToDelete", "maybeAssistantMessageToDelete"] {
            deleted += u64::from(body.get(key).is_some());
        }
        self.count = self.count.saturating_sub(deleted);
    }

    /// Create a chat, fill it, read it, delete it.
    async fn churn(&mut self, client: &Client) {
        let api = self.api.clone();
        let name = format!("churn {} {}", self.index, self.seq);
        self.seq += 1;
        let Some(chat) = client.create_chat(&api, &name).await else {
            return;
        };
        for _ in 0..self.rng.gen_range(1..=3) {
            self.seq += 1;
            let (body, _) = message_body(&mut self.rng, self.seq);
            let path = format!("{}/messages", api.chat(&chat));
            client
                .call(&api, Method::POST, &path, Some(body), api.created())
                .await;
        }
        let path = format!("{}/messages", api.chat(&chat));
        client
            .call(&api, Method::GET, &path, None, StatusCode::OK)
            .await;
        match &api {
            Api::User { .. } if self.rng.gen_bool(0.5) => {
                let ids: Vec<i64> = chat.parse().into_iter().collect();
                client
                    .call(
                        &api,
                        Method::DELETE,
                        &api.chats(),
                        Some(json!({"chat_ids": ids})),
                        StatusCode::OK,
                    )
                    .await;
            }
            Api::Tenant { .. } if self.rng.gen_bool(0.3) => {
                self.delete_watched(client, &chat).await;
            }
            _ => {
                client
                    .call(&api, Method::DELETE, &api.chat(&chat), None, StatusCode::OK)
                    .await;
            }
        }
    }

    /// A tenant chat with a live WebSocket: plain delete is refused (409), a forced one
    /// sends `chat.deleted` and closes the socket normally.
    async fn delete_watched(&mut self, client: &Client, chat: &str) {
        let api = self.api.clone();
        let request = match api.ws_request(&client.address, chat) {
            Ok(request) => request,
            Err(error) => return client.stats.error(format!("ws request: {error}")),
        };
        let mut ws = match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => ws,
            Err(error) => return client.stats.error(format!("ws connect to {chat}: {error}")),
        };
        client.stats.ws_connects.fetch_add(1, Ordering::Relaxed);
        // The connection counts once the server has answered a ping through it.
        if ws.send(Message::text(r#"{"type":"ping"}"#)).await.is_err() {
            return client.stats.error(format!("ws {chat}: ping not sent"));
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
        client
            .call(
                &api,
                Method::DELETE,
                &api.chat(chat),
                None,
                StatusCode::CONFLICT,
            )
            .await;
        let forced = format!("{}?force=true", api.chat(chat));
        client
            .call(&api, Method::DELETE, &forced, None, StatusCode::OK)
            .await;
        let mut saw_deleted = false;
        let outcome = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(frame) = ws.next().await {
                match frame {
                    Ok(Message::Text(text)) => {
                        saw_deleted |= text.as_str().contains("\"chat.deleted\"");
                    }
                    Ok(Message::Close(frame)) => {
                        return frame.map(|f| u16::from(f.code));
                    }
                    Ok(_) => {}
                    Err(_) => return None,
                }
            }
            None
        })
        .await;
        match outcome {
            Ok(Some(1000)) if saw_deleted => {}
            other => client.stats.error(format!(
                "forced delete of watched chat {chat}: chat.deleted seen {saw_deleted}, close {other:?}"
            )),
        }
    }
}

/// A long-lived WebSocket on a chat that is never deleted; reconnects now and then.
async fn watcher(client: Arc<Client>, api: Api, chat: String, seed: u64, stop: Arc<AtomicBool>) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        let request = match api.ws_request(&client.address, &chat) {
            Ok(request) => request,
            Err(error) => return client.stats.error(format!("ws request: {error}")),
        };
        let mut ws = match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => ws,
            Err(error) => {
                client.stats.error(format!("ws connect to {chat}: {error}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        client.stats.ws_connects.fetch_add(1, Ordering::Relaxed);
        let until = Instant::now() + Duration::from_secs(rng.gen_range(5..30));
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
                Err(_) => continue,
                Ok(Some(Ok(Message::Text(_)))) => {
                    client.stats.ws_frames.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    client
                        .stats
                        .error(format!("ws {chat} closed by the server: {frame:?}"));
                    break;
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(error))) => {
                    client.stats.error(format!("ws {chat}: {error}"));
                    break;
                }
                Ok(None) => {
                    client.stats.error(format!("ws {chat}: stream ended"));
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
    }
}

async fn start_server(
    options: &Options,
    database_url: &str,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let address = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string();
    let child = tokio::process::Command::new(&options.binary)
        .args([
            "serve",
            "--listen",
            &address,
            "--database-url",
            database_url,
            // Load, not abuse: the per-key and per-user request rates would refuse the
            // soak's own traffic.
            "--api-key-rate-per-second",
            "0",
            "--user-write-rate-per-second",
            "0",
        ])
        .env("CONFAB_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", options.binary.display()))?;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(format!("http://{address}/healthz")).send().await {
            if response.status().is_success() {
                return Ok((child, address));
            }
        }
        if Instant::now() > deadline {
            bail!("the server did not become healthy within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_up(http: &reqwest::Client, base: &str) -> anyhow::Result<Api> {
    let response = http
        .post(format!("{base}/api/auth/sign-up"))
        .json(&json!({"email": "soak@example.com", "password": "soaking for hours"}))
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == StatusCode::CREATED,
        "sign-up: {}",
        response.status()
    );
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("neptun-session="))
        .and_then(|rest| rest.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let body: Value = response.json().await?;
    Ok(Api::User {
        cookie: format!("neptun-session={cookie}"),
        user_id: body["user"]["id"].as_i64().context("no user id")?,
    })
}

fn tenant_key(options: &Options, database_url: &str) -> anyhow::Result<Api> {
    let output = std::process::Command::new(&options.binary)
        .args(["tenant", "create", "soak", "--database-url", database_url])
        .env("CONFAB_LOG", "warn")
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(output.status.success(), "confab tenant create failed");
    let created: Value = serde_json::from_slice(&output.stdout)?;
    Ok(Api::Tenant {
        key: created["api_key"]
            .as_str()
            .context("no api_key")?
            .to_owned(),
    })
}

fn print_sample(sample: &Sample, interval_s: f64) {
    println!(
        "{:>7.0}s {:>9} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>9.1} {:>9}",
        sample.at_s,
        sample.requests,
        sample.requests as f64 / interval_s.max(0.001),
        sample.p50_ms,
        sample.p99_ms,
        sample.max_ms,
        sample.errors,
        sample.rss_mib,
        sample.ws_frames
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_options();
    let scratch = std::env::temp_dir().join(format!("confab-soak-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let database_url = options
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", scratch.join("soak.db").display()));
    let result = run(&options, &database_url).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

async fn run(options: &Options, database_url: &str) -> anyhow::Result<()> {
    let (mut server, address) = start_server(options, database_url).await?;
    let pid = server.id().context("server pid")?;
    let base = format!("http://{address}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let user = sign_up(&http, &base).await?;
    let tenant = tenant_key(options, database_url)?;
    let stats = Arc::new(Stats::default());
    let client = Arc::new(Client {
        http,
        base,
        address: address.clone(),
        stats: stats.clone(),
    });
    let stop = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::new();
    let mut owned = Vec::new();
    for index in 0..options.workers {
        let api = if index % 2 == 0 {
            user.clone()
        } else {
            tenant.clone()
        };
        let chat = client
            .create_chat(&api, &format!("soak {index}"))
            .await
            .context("cannot create a worker's chat")?;
        owned.push((api.clone(), chat.clone()));
        let worker = Worker {
            index,
            api,
            chat,
            count: 0,
            rng: StdRng::seed_from_u64(index as u64),
            seq: 0,
        };
        tasks.push(tokio::spawn(worker.run(client.clone(), stop.clone())));
    }
    for index in 0..options.websockets {
        let (api, chat) = owned[index % owned.len()].clone();
        tasks.push(tokio::spawn(watcher(
            client.clone(),
            api,
            chat,
            1000 + index as u64,
            stop.clone(),
        )));
    }

    println!(
        "soak: {} s, {} workers, {} WebSockets, server pid {pid} at {address}, database {database_url}",
        options.duration.as_secs(),
        options.workers,
        options.websockets
    );
    println!(
        "{:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9}",
        "time", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "RSS MiB", "ws frames"
    );
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let mut last = Instant::now();
    while started.elapsed() < options.duration {
        let left = options.duration.saturating_sub(started.elapsed());
        tokio::time::sleep(options.interval.min(left)).await;
        let mut latencies = std::mem::take(
            &mut *stats
                .latencies_us
                .lock()
                .map_err(|_| anyhow::anyhow!("stats lock"))?,
        );
        latencies.sort_unstable();
        let elapsed = last.elapsed().as_secs_f64();
        last = Instant::now();
        let sample = Sample {
            at_s: started.elapsed().as_secs_f64(),
            requests: latencies.len() as u64,
            p50_ms: percentile(&latencies, 0.5),
            p99_ms: percentile(&latencies, 0.99),
            max_ms: latencies.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
            errors: stats.errors.load(Ordering::Relaxed),
            rss_mib: rss_mib(pid).unwrap_or(0.0),
            ws_frames: stats.ws_frames.load(Ordering::Relaxed),
        };
        print_sample(&sample, elapsed);
        samples.push(sample);
    }

    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(60), task).await;
    }
    // Graceful shutdown: SIGTERM, then a clean exit within 30 s.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    anyhow::ensure!(term.success(), "cannot send SIGTERM to the server");
    let exit = tokio::time::timeout(Duration::from_secs(30), server.wait()).await;
    let clean_exit = matches!(exit, Ok(Ok(status)) if status.success());

    let (first, last) = match (samples.first(), samples.last()) {
        (Some(first), Some(last)) => (first, last),
        _ => bail!("no interval completed"),
    };
    let errors = stats.errors.load(Ordering::Relaxed);
    let requests = stats.requests.load(Ordering::Relaxed);
    let peak = samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    let growth = last.rss_mib - first.rss_mib;
    println!();
    println!(
        "soak summary ({:.0} s, {requests} requests, {} WebSocket connections, {} frames):",
        started.elapsed().as_secs_f64(),
        stats.ws_connects.load(Ordering::Relaxed),
        stats.ws_frames.load(Ordering::Relaxed)
    );
    println!(
        "  latency  p50 {:.2} ms -> {:.2} ms, p99 {:.2} ms -> {:.2} ms (first vs last interval)",
        first.p50_ms, last.p50_ms, first.p99_ms, last.p99_ms
    );
    println!(
        "  RSS      {:.1} MiB -> {:.1} MiB ({growth:+.1} MiB; peak {peak:.1} MiB; bound +{:.0} MiB)",
        first.rss_mib, last.rss_mib, options.max_rss_growth_mib
    );
    println!("  errors   {errors}");
    println!(
        "  shutdown {}",
        if clean_exit {
            "clean (SIGTERM, exit 0)"
        } else {
            "NOT clean"
        }
    );
    if let Ok(samples) = stats.error_samples.lock() {
        for sample in samples.iter() {
            println!("  error: {sample}");
        }
    }
    let mut failures = Vec::new();
    if errors > 0 {
        failures.push(format!("{errors} errors"));
    }
    if growth > options.max_rss_growth_mib {
        failures.push(format!(
            "RSS grew {growth:.1} MiB (bound {:.0} MiB)",
            options.max_rss_growth_mib
        ));
    }
    if !clean_exit {
        failures.push(format!(
            "the server did not stop cleanly on SIGTERM: {exit:?}"
        ));
    }
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    println!("soak passed");
    Ok(())
}
