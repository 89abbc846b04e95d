//! Requests hyper would refuse below the router, written as raw bytes over TCP: each
//! gets a JSON error in its API's shape with `Connection: close`; keep-alive and
//! pipelining still work; `Expect: 100-continue` over the body limit is a 413 before
//! any `100 Continue`; an error sent before the body was read closes the connection.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{user_error, Auth, Backend, TestApp};
use crate::tenant_support::{assert_tenant_error, default_tenant_key, PATIENCE};

crate::per_backend!(
    errors_below_the_router_are_json_in_each_apis_shape,
    pipelined_requests_are_checked_one_by_one,
    expect_continue_over_the_limit_is_413_at_once,
    errors_before_the_body_is_read_close_the_connection,
    heads_after_a_refused_upgrade_stay_bounded
);

/// One response as read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A raw connection with what has been read from it but not yet parsed.
struct Raw {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Raw {
    async fn open(app: &TestApp) -> Raw {
        Raw {
            stream: TcpStream::connect(app.address).await.expect("connect"),
            pending: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads more; false at the end of the stream (or when the peer reset it).
    async fn more(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
            .await
            .expect("the server answered in time")
        {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.pending.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next response (interim ones included), its body read by Content-Length.
    async fn answer(&mut self) -> Answer {
        loop {
            if let Some(end) = self.pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.pending[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status = lines
                    .next()
                    .and_then(|line| line.split(' ').nth(1))
                    .and_then(|code| code.parse().ok())
                    .unwrap_or_else(|| panic!("a status line: {head}"));
                let headers: Vec<(String, String)> = lines
                    .filter_map(|line| line.split_once(':'))
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().expect("content-length"));
                while self.pending.len() < end + 4 + length {
                    assert!(self.more().await, "the body arrived: {head}");
                }
                let body: Vec<u8> = self
                    .pending
                    .drain(..end + 4 + length)
                    .skip(end + 4)
                    .collect();
                let body = if body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&body).unwrap_or_else(|_| {
                        panic!(
                            "{status} body is not JSON: {}",
                            String::from_utf8_lossy(&body)
                        )
                    })
                };
                return Answer {
                    status,
                    headers,
                    body,
                };
            }
            assert!(
                self.more().await,
                "a response arrived before the end: {:?}",
                String::from_utf8_lossy(&self.pending)
            );
        }
    }

    /// Whether the server closed the connection (after anything still unread).
    async fn closed(&mut self) -> bool {
        !self.more().await && self.pending.is_empty()
    }
}

/// Sends `request` on a fresh connection; returns the answer, which must close it.
async fn refused(app: &TestApp, request: &[u8]) -> Answer {
    let mut raw = Raw::open(app).await;
    raw.send(request).await;
    let answer = raw.answer().await;
    assert!(answer.closes(), "Connection: close: {answer:?}");
    assert!(raw.closed().await, "the server closed the connection");
    answer
}

#[track_caller]
fn assert_user_shape(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{answer:?}");
    let message = answer.body["data"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{answer:?}");
    assert_eq!(answer.body, user_error(status, message), "{answer:?}");
    assert!(answer
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/json")));
}

#[track_caller]
fn assert_tenant_shape(answer: &Answer, status: u16, code: &str) {
    let status = StatusCode::from_u16(status).expect("status");
    assert_tenant_error(
        (
            StatusCode::from_u16(answer.status).expect("status"),
            answer.body.clone(),
        ),
        status,
        code,
    );
}

async fn errors_below_the_router_are_json_in_each_apis_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long_query = "a".repeat(9 * 1024);
    let many_headers = "X-Filler: 1\r\n".repeat(101);
    let big_header = format!("X-Big: {}\r\n", "b".repeat(17 * 1024));
    for (tenant, path) in [(false, "/api/users/1/chats"), (true, "/api/v1/chats")] {
        let cases: Vec<(u16, &str, String)> = vec![
            (414, "uri_too_long", format!("GET {path}?q={long_query} HTTP/1.1\r\nHost: x\r\n\r\n")),
            (431, "headers_too_large", format!("GET {path} HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n")),
            (431, "headers_too_large", format!("GET {path} HTTP/1.1\r\nHost: x\r\n{big_header}\r\n")),
            (
                400,
                "malformed_request",
                format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}"),
            ),
            (400, "malformed_request", format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n")),
            (400, "malformed_request", format!("GET {path}\r\n\r\n")),
            (
                400,
                "malformed_request",
                format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ),
        ];
        for (status, code, request) in cases {
            let answer = refused(&app, request.as_bytes()).await;
            if tenant {
                assert_tenant_shape(&answer, status, code);
            } else {
                assert_user_shape(&answer, status);
            }
        }
    }
    // A long URL trickling in is refused once it is over the limit, before its line ends.
    let mut raw = Raw::open(&app).await;
    let request = format!("GET /api/v1/chats?q={long_query}");
    for piece in request.as_bytes()[..8400].chunks(64) {
        raw.send(piece).await;
    }
    let answer = raw.answer().await;
    assert_tenant_shape(&answer, 414, "uri_too_long");
    assert!(answer.closes(), "{answer:?}");

    // Not a request at all: the user API's shape, the default outside /api/v1.
    let answer = refused(&app, b"\x16\x03\x01\x02\x00garbage\r\n\r\n").await;
    assert_user_shape(&answer, 400);
    let answer = refused(&app, b"GET /healthz HTTP/2.0\r\n\r\n").await;
    assert_user_shape(&answer, 400);
}

async fn pipelined_requests_are_checked_one_by_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let Auth::Key(key) = key else {
        unreachable!("a key")
    };
    let body = r#"{"name":"first"}"#;
    let chunked_body = r#"{"name":"second"}"#;
    let requests = [
        format!(
            "POST /api/v1/chats HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
        format!(
            "POST /api/v1/chats HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x};ext=1\r\n{chunked_body}\r\n0\r\n\r\n",
            chunked_body.len()
        ),
        format!("GET /api/v1/chats HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n\r\n"),
        "GET /api/v1/chats\r\n\r\n".to_owned(),
    ];
    let mut raw = Raw::open(&app).await;
    // All at once: one write, as a pipelining client would.
    raw.send(requests.concat().as_bytes()).await;
    let first = raw.answer().await;
    assert_eq!(
        (first.status, first.body["name"].clone()),
        (201, json!("first")),
        "{first:?}"
    );
    assert!(!first.closes(), "{first:?}");
    let second = raw.answer().await;
    assert_eq!(
        (second.status, second.body["name"].clone()),
        (201, json!("second")),
        "{second:?}"
    );
    let listed = raw.answer().await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(
        listed.body["data"].as_array().map(Vec::len),
        Some(2),
        "{listed:?}"
    );
    let refused = raw.answer().await;
    assert_tenant_shape(&refused, 400, "malformed_request");
    assert!(refused.closes(), "{refused:?}");
    assert!(raw.closed().await);

    // Byte by byte, with keep-alive between requests.
    let mut raw = Raw::open(&app).await;
    for _ in 0..2 {
        for byte in requests[1].as_bytes() {
            raw.send(std::slice::from_ref(byte)).await;
        }
        let answer = raw.answer().await;
        assert_eq!(answer.status, 201, "{answer:?}");
    }
}

async fn expect_continue_over_the_limit_is_413_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.limits.body_limit_bytes = 1024).await;
    let key = default_tenant_key(&app).await;
    let Auth::Key(key) = key else {
        unreachable!("a key")
    };
    for (tenant, path, auth) in [
        (false, "/api/users/1/chats".to_owned(), String::new()),
        (
            true,
            "/api/v1/chats".to_owned(),
            format!("X-API-Key: {key}\r\n"),
        ),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n"
        );
        let mut raw = Raw::open(&app).await;
        raw.send(head.as_bytes()).await;
        // The first thing back is the refusal, not `100 Continue`; no body was sent.
        let answer = raw.answer().await;
        assert!(answer.closes(), "{answer:?}");
        if tenant {
            assert_tenant_shape(&answer, 413, "payload_too_large");
        } else {
            assert_user_shape(&answer, 413);
        }
        assert!(raw.closed().await);
    }
    // Within the limit, the client is told to go on.
    let body = r#"{"name":"small"}"#;
    let mut raw = Raw::open(&app).await;
    raw.send(
        format!(
            "POST /api/v1/chats HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    let go_on = raw.answer().await;
    assert_eq!(go_on.status, 100, "{go_on:?}");
    raw.send(body.as_bytes()).await;
    let created = raw.answer().await;
    assert_eq!(created.status, 201, "{created:?}");
}

async fn errors_before_the_body_is_read_close_the_connection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for path in ["/api/users/1/chats", "/api/v1/chats"] {
        // With `Expect: 100-continue` (no body sent) and with a body cut short.
        for (expect, sent) in [("Expect: 100-continue\r\n", ""), ("", "{\"name\":")] {
            let mut raw = Raw::open(&app).await;
            raw.send(
                format!(
                    "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{expect}Content-Length: 100\r\n\r\n{sent}"
                )
                .as_bytes(),
            )
            .await;
            let answer = raw.answer().await;
            assert_eq!(answer.status, 401, "{answer:?}");
            assert!(answer.closes(), "{path} {expect:?}: {answer:?}");
            assert!(
                tokio::time::timeout(Duration::from_secs(5), raw.closed())
                    .await
                    .unwrap_or(false),
                "the server closed the connection"
            );
        }
    }
    // A 401 for a request without a body keeps the connection.
    let mut raw = Raw::open(&app).await;
    raw.send(b"GET /api/v1/chats HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let answer = raw.answer().await;
    assert_eq!(answer.status, 401);
    assert!(!answer.closes(), "{answer:?}");
    raw.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(raw.answer().await.status, 200);
}

/// After a request that asks for an upgrade but is not switched (here a 200), the wire
/// checks pass the connection through; hyper's buffer still bounds the next head, so a
/// 100 KB header is refused instead of served.
async fn heads_after_a_refused_upgrade_stay_bounded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut raw = Raw::open(&app).await;
    raw.send(
        b"GET /healthz HTTP/1.1\r\nHost: confab\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n",
    )
    .await;
    assert_eq!(raw.answer().await.status, 200);
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: confab\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    // The server may close while the head is still being written.
    let _ = raw.stream.write_all(big.as_bytes()).await;
    let mut served = false;
    while raw.more().await {
        if raw.pending.starts_with(b"HTTP/1.1 200") {
            served = true;
            break;
        }
        if raw.pending.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    assert!(
        !served,
        "a 100 KB head was served: {:?}",
        String::from_utf8_lossy(&raw.pending)
    );
}
