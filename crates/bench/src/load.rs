//! A closed-loop load generator: each connection sends its next request as soon as the
//! previous answer has been read, over its own HTTP/1.1 keep-alive connection.

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// One HTTP/1.1 connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    pub async fn open(address: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection { sender })
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let (status, _, body) = self.send_full(request).await?;
        Ok((status, body))
    }

    /// Like [`Connection::send`], with the response headers.
    pub async fn send_full(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }
}

impl Connection {
    /// Sends a request and reads the answer frame by frame, keeping none of it; returns
    /// the status and the body's length (an error if the body was cut off).
    pub async fn send_discarding(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, u64)> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let (parts, mut body) = response.into_parts();
        let mut length = 0u64;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame?.data_ref() {
                length += data.len() as u64;
            }
        }
        Ok((parts.status, length))
    }
}

/// An answer read as an event stream (`text/event-stream`), event by event; its
/// connection closes when this is dropped.
pub struct EventStream {
    body: Incoming,
    buffer: String,
    connection: tokio::task::JoinHandle<()>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl EventStream {
    /// The next event (name, data) that `wanted` accepts.
    pub async fn next(
        &mut self,
        wanted: impl Fn(&str) -> bool,
    ) -> anyhow::Result<(String, String)> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = ("message", String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = value.trim();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.strip_prefix(' ').unwrap_or(value));
                    }
                }
                if !block.starts_with(':') && wanted(name) {
                    return Ok((name.to_owned(), data));
                }
            }
            let frame = self.body.frame().await.context("the stream ended")??;
            if let Some(bytes) = frame.data_ref() {
                self.buffer.push_str(&String::from_utf8_lossy(bytes));
            }
        }
    }
}

/// Sends `request` on a new connection (already open when `sent` is taken) and returns
/// the status and the stream of its answer.
pub async fn open_stream(
    address: SocketAddr,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Instant, EventStream)> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let sent = Instant::now();
    let response = sender.send_request(request).await?;
    let status = response.status();
    let stream = EventStream {
        body: response.into_body(),
        buffer: String::new(),
        connection,
    };
    Ok((status, sent, stream))
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Latency of every successful request, in microseconds.
    pub latencies: Vec<u64>,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Stats {
    pub fn ok(&self) -> u64 {
        self.latencies.len() as u64
    }

    pub fn per_second(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// (p50, p95, p99, max) in milliseconds.
    pub fn percentiles(&mut self) -> (f64, f64, f64, f64) {
        if self.latencies.is_empty() {
            return (0.0, 0.0, 0.0, 0.0);
        }
        self.latencies.sort_unstable();
        let at = |q: f64| {
            let index = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies[index] as f64 / 1000.0
        };
        (at(0.50), at(0.95), at(0.99), at(1.0))
    }

    pub fn merge(&mut self, other: Stats) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.elapsed = self.elapsed.max(other.elapsed);
    }
}

/// Makes the `n`-th request of connection `connection`.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Request<Full<Bytes>> + Send + Sync>;
/// Whether an answer counts as a success.
pub type Accept = Arc<dyn Fn(StatusCode, &Bytes) -> bool + Send + Sync>;

/// How long after the end of a run an answer is still waited for; a request still
/// unanswered then counts as an error and ends its loop (so a run always ends).
pub const GRACE: Duration = Duration::from_secs(30);

/// Runs `connections` closed loops for `duration`; stops by itself.
pub async fn closed_loop(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    make: MakeRequest,
    accept: Accept,
) -> anyhow::Result<Stats> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..connections {
        let (make, accept) = (make.clone(), accept.clone());
        let mut connection = Connection::open(address).await?;
        tasks.spawn(async move {
            let mut stats = Stats::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let request = make(index, n);
                n += 1;
                let sent = Instant::now();
                let answer =
                    tokio::time::timeout_at((deadline + GRACE).into(), connection.send(request))
                        .await;
                let Ok(answer) = answer else {
                    stats.errors += 1;
                    break;
                };
                match answer {
                    Ok((status, body)) if accept(status, &body) => {
                        stats.latencies.push(sent.elapsed().as_micros() as u64)
                    }
                    Ok(_) => stats.errors += 1,
                    Err(_) => {
                        stats.errors += 1;
                        // A broken connection is replaced so one error does not end the loop.
                        match Connection::open(address).await {
                            Ok(fresh) => connection = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            stats
        });
    }
    let mut total = Stats::default();
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined?);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// A request with an optional JSON body and cookie.
pub fn request(
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Request<Full<Bytes>> {
    request_as(method, path, cookie.map(|c| ("cookie", c)), body)
}

/// A request with an optional JSON body and one credential header (`cookie` or `x-api-key`).
pub fn request_as(
    method: &str,
    path: &str,
    credential: Option<(&str, &str)>,
    body: Option<&serde_json::Value>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    if let Some((name, value)) = credential {
        builder = builder.header(name, value);
    }
    let body = match body {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            Full::new(Bytes::from(json.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    // The builder only fails on invalid parts, which these fixed inputs never are.
    builder
        .body(body)
        .unwrap_or_else(|_| Request::new(Full::new(Bytes::new())))
}
