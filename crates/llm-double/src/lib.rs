//! A test double of an OpenAI-compatible chat completions server: the one double confab's
//! tests, fuzzing and bench use, since no real model runs on their machines. It listens on
//! 127.0.0.1 and answers `POST /v1/chat/completions` as the request's `model` says:
//!
//! * `echo`, and any model not named below: streams the last message's words back, one
//!   chunk each, then usage;
//! * `count-N-D`: N chunks `w1 `, `w2 `, ... D ms apart, then usage;
//! * `stamp-N-D`: N chunks D ms apart, each `t<microseconds since the Unix epoch when it
//!   was sent> `, so a reader can tell how long a chunk took to reach it (the bench);
//! * `code`: a reply with a fenced code block, in a few chunks;
//! * `json`: a non-streamed answer (one JSON body);
//! * `fail-S`: HTTP status S with an error body;
//! * `cut-N`: N chunks, then the connection ends without a finish;
//! * `hang-N`: N chunks, then nothing (the connection stays open);
//! * `silent`: never answers the request;
//! * `malformed`: one chunk, then a line that is not JSON;
//! * `broken`: one chunk, then an error object in the stream.
//!
//! Every request body and `Authorization` header is recorded for the tests to inspect.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Recorded {
    pub bodies: Vec<Value>,
    pub authorizations: Vec<Option<String>>,
}

/// The running double; stops when dropped.
pub struct LlmDouble {
    pub address: SocketAddr,
    pub recorded: Arc<Mutex<Recorded>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LlmDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LlmDouble {
    /// On a free port of 127.0.0.1.
    pub async fn start() -> LlmDouble {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(address: SocketAddr) -> LlmDouble {
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(recorded.clone());
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .expect("bind the LLM double");
        let address = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LlmDouble {
            address,
            recorded,
            task,
        }
    }

    /// The base URL to configure (`--llm-base-url`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// The request bodies received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.recorded.lock().expect("lock").bodies.clone()
    }

    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.recorded.lock().expect("lock").authorizations.clone()
    }
}

fn chunk(text: &str) -> Bytes {
    let data = json!({"id": "c", "object": "chat.completion.chunk",
                      "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    Bytes::from(format!("data: {data}\n\n"))
}

fn finish() -> Vec<Bytes> {
    let done = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let usage = json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7}});
    vec![
        Bytes::from(format!("data: {done}\n\n")),
        Bytes::from(format!("data: {usage}\n\n")),
        Bytes::from("data: [DONE]\n\n"),
    ]
}

/// A streamed body: each piece after its delay; `then_hang` keeps it open after.
fn streamed(pieces: Vec<(Duration, Bytes)>, then_hang: bool) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(4);
    tokio::spawn(async move {
        for (delay, bytes) in pieces {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
        if then_hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(tx);
        }
    });
    event_stream(rx)
}

/// `count` chunks `delay` apart, each stamped with the time it is sent, then the finish.
fn stamped(count: u64, delay: Duration) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(4);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(delay.max(Duration::from_millis(1)));
        ticks.tick().await;
        for _ in 0..count {
            ticks.tick().await;
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            if tx.send(Ok(chunk(&format!("t{micros} ")))).await.is_err() {
                return;
            }
        }
        for bytes in finish() {
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
    });
    event_stream(rx)
}

fn event_stream(rx: tokio::sync::mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .expect("response")
}

fn now(bytes: Vec<Bytes>) -> Vec<(Duration, Bytes)> {
    bytes.into_iter().map(|b| (Duration::ZERO, b)).collect()
}

async fn completions(
    State(recorded): State<Arc<Mutex<Recorded>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    {
        let mut recorded = recorded.lock().expect("lock");
        recorded.bodies.push(request.clone());
        recorded.authorizations.push(
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        );
    }
    let model = request["model"].as_str().unwrap_or("").to_owned();
    let parts: Vec<&str> = model.split('-').collect();
    // Counts and delays are capped, whatever a request asks for.
    let number = |i: usize| {
        parts
            .get(i)
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0)
            .min(100_000)
    };
    match parts[0] {
        "count" => {
            let delay = Duration::from_millis(number(2));
            let mut pieces: Vec<(Duration, Bytes)> = (1..=number(1))
                .map(|i| (delay, chunk(&format!("w{i} "))))
                .collect();
            pieces.extend(now(finish()));
            streamed(pieces, false)
        }
        "stamp" => stamped(number(1), Duration::from_millis(number(2))),
        "code" => {
            let mut pieces = vec![
                chunk("Here you go:\n"),
                chunk("```python\nprint('hi')\n"),
                chunk("```\nDone."),
            ];
            pieces.extend(finish());
            streamed(now(pieces), false)
        }
        "json" => axum::Json(json!({
            "id": "c", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole answer"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2}
        }))
        .into_response(),
        "fail" => {
            let status = StatusCode::from_u16(number(1) as u16).unwrap_or(StatusCode::BAD_GATEWAY);
            (
                status,
                axum::Json(json!({"error": {"message": "the double refuses"}})),
            )
                .into_response()
        }
        "cut" => streamed(
            now((1..=number(1)).map(|i| chunk(&format!("w{i} "))).collect()),
            false,
        ),
        "hang" => streamed(
            now((1..=number(1)).map(|i| chunk(&format!("w{i} "))).collect()),
            true,
        ),
        "silent" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        "malformed" => streamed(
            now(vec![chunk("ok "), Bytes::from("data: {not json\n\n")]),
            false,
        ),
        "broken" => streamed(
            now(vec![
                chunk("partial "),
                Bytes::from("data: {\"error\": {\"message\": \"overloaded\"}}\n\n"),
            ]),
            false,
        ),
        _ => {
            let last = request["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .to_owned();
            let mut pieces: Vec<Bytes> = last.split_inclusive(' ').map(chunk).collect();
            pieces.extend(finish());
            streamed(now(pieces), false)
        }
    }
}
