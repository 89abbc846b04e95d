//! Abuse limits: login and sign-up throttling per client address and per account, the
//! per-key request rate, WebSocket caps, and the read timeouts against slow clients.
//! Each test turns its limit down through `TestApp::spawn_with`.

use futures_util::SinkExt as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{user_error, Auth, Backend, TestApp};
use crate::tenant_support::{
    assert_tenant_error, chat_uuid, close_ws, create_v1_chat, default_tenant_key, new_tenant, ws,
    ws_request, PATIENCE,
};

crate::per_backend!(
    logins_are_throttled_per_client_address,
    forwarded_for_is_ignored_unless_trusted,
    failed_logins_are_throttled_per_account,
    sign_ups_are_throttled_per_client_and_per_address,
    api_keys_are_rate_limited_each_on_its_own,
    websockets_are_capped_per_chat_and_per_key,
    slow_headers_are_cut_off_while_others_are_served,
    a_body_that_stalls_gets_408,
    shutdown_lets_the_request_in_flight_finish,
);

const PASSWORD: &str = "correct horse battery";

/// A status, its `Retry-After` in seconds (if any) and its JSON body.
struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
}

/// POSTs a JSON body, as coming from `client` (an `X-Forwarded-For` address) if given.
async fn post_from(app: &TestApp, path: &str, client: Option<&str>, body: Value) -> Answer {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(address) = client {
        request = request.header("x-forwarded-for", address);
    }
    answer(request.send().await.expect("sent")).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let retry_after = response.headers().get("retry-after").map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("Retry-After is not whole seconds: {value:?}"))
    });
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    Answer {
        status,
        retry_after,
        body,
    }
}

async fn login(app: &TestApp, client: Option<&str>, email: &str, password: &str) -> Answer {
    post_from(
        app,
        "/api/auth/login",
        client,
        json!({"email": email, "password": password}),
    )
    .await
}

/// Asserts a user-API 429 with a `Retry-After` of at most `max_seconds`.
#[track_caller]
fn assert_throttled(answer: &Answer, max_seconds: u64) {
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    assert_eq!(
        answer.body,
        user_error(429, "Too many requests, slow down"),
        "user-API error shape"
    );
    let seconds = answer.retry_after.expect("429 carries Retry-After");
    assert!(
        (1..=max_seconds).contains(&seconds),
        "Retry-After {seconds} within 1..={max_seconds}"
    );
}

async fn logins_are_throttled_per_client_address(backend: Backend) {
    // 3 attempts per hour per address: the fourth waits for the first to refill (20 min).
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.trust_forwarded_for = true;
        config.abuse.auth_ip_attempts = 3;
        config.abuse.auth_ip_window_seconds = 3600;
        config.abuse.auth_account_failures = 0;
    })
    .await;
    app.sign_up("ann@example.com").await;
    let attacker = Some("203.0.113.7");
    for _ in 0..3 {
        let answer = login(&app, attacker, "ann@example.com", "wrong password").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    let refused = login(&app, attacker, "ann@example.com", "wrong password").await;
    assert_throttled(&refused, 1200);
    // The right password does not get through either, nor does a body that is not
    // even JSON: the address is refused before the body is read or a hash computed.
    assert_throttled(
        &login(&app, attacker, "ann@example.com", PASSWORD).await,
        1200,
    );
    let garbage = app
        .client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_throttled(&answer(garbage).await, 1200);
    // The same address may not sign up instead: both routes share its attempts.
    let sign_up = post_from(
        &app,
        "/api/auth/sign-up",
        attacker,
        json!({"email": "eve@example.com", "password": PASSWORD}),
    )
    .await;
    assert_throttled(&sign_up, 1200);

    // Other addresses are unaffected, for the same account too.
    let other = login(&app, Some("198.51.100.1"), "ann@example.com", PASSWORD).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    let ipv6 = login(&app, Some("2001:db8::1"), "ann@example.com", PASSWORD).await;
    assert_eq!(ipv6.status, StatusCode::OK, "{}", ipv6.body);
    let direct = login(&app, None, "ann@example.com", PASSWORD).await;
    assert_eq!(
        direct.status,
        StatusCode::OK,
        "the socket peer is its own client"
    );
}

async fn forwarded_for_is_ignored_unless_trusted(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.auth_ip_attempts = 2;
        config.abuse.auth_ip_window_seconds = 3600;
        config.abuse.auth_account_failures = 0;
    })
    .await;
    // Without --trust-forwarded-for every request below is the socket peer's: claiming
    // a new address per request does not escape the limit.
    for (i, claimed) in ["192.0.2.1", "192.0.2.2"].iter().enumerate() {
        let answer = login(&app, Some(claimed), "nobody@example.com", "wrong password").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let refused = login(&app, Some("192.0.2.3"), "nobody@example.com", "wrong").await;
    assert_throttled(&refused, 1800);
}

async fn failed_logins_are_throttled_per_account(backend: Backend) {
    // 3 failures per hour per account, from any address.
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.trust_forwarded_for = true;
        config.abuse.auth_ip_attempts = 0;
        config.abuse.auth_account_failures = 3;
        config.abuse.auth_account_window_seconds = 3600;
    })
    .await;
    app.sign_up("ann@example.com").await;
    app.sign_up("bob@example.com").await;

    // Successful logins do not use the allowance up.
    for _ in 0..5 {
        let answer = login(&app, None, "ann@example.com", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    // Three failures from three addresses...
    for (i, client) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .iter()
        .enumerate()
    {
        let answer = login(&app, Some(client), "ann@example.com", "wrong password").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    // ...and Ann's account is closed to everyone for now, even with the right password
    // and however the address is written.
    for (client, email) in [
        ("203.0.113.4", "ann@example.com"),
        ("198.51.100.9", "ANN@Example.COM"),
    ] {
        assert_throttled(&login(&app, Some(client), email, PASSWORD).await, 1200);
    }
    // Bob's account is unaffected, from an address that failed for Ann too.
    let bob = login(&app, Some("203.0.113.1"), "bob@example.com", PASSWORD).await;
    assert_eq!(bob.status, StatusCode::OK);
    let bob_wrong = login(&app, Some("203.0.113.1"), "bob@example.com", "wrong").await;
    assert_eq!(bob_wrong.status, StatusCode::UNAUTHORIZED);

    // An address without an account behaves exactly the same, so the throttle does not
    // tell which addresses are registered.
    for _ in 0..3 {
        let answer = login(&app, None, "ghost@example.com", "wrong password").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    assert_throttled(
        &login(&app, None, "ghost@example.com", "wrong password").await,
        1200,
    );

    // A success clears the failures: Bob fails twice, succeeds, and may fail three
    // more times before being throttled.
    let bob_wrong = login(&app, None, "bob@example.com", "wrong").await;
    assert_eq!(bob_wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&app, None, "bob@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    for _ in 0..3 {
        let answer = login(&app, None, "bob@example.com", "wrong").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&login(&app, None, "bob@example.com", PASSWORD).await, 1200);
}

async fn sign_ups_are_throttled_per_client_and_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.trust_forwarded_for = true;
        config.abuse.auth_ip_attempts = 3;
        config.abuse.auth_ip_window_seconds = 600;
        config.abuse.auth_account_failures = 2;
        config.abuse.auth_account_window_seconds = 600;
    })
    .await;
    let sign_up = |client: &'static str, email: &'static str| {
        post_from(
            &app,
            "/api/auth/sign-up",
            Some(client),
            json!({"email": email, "password": PASSWORD}),
        )
    };
    // Per client address: three sign-ups, then 429.
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        let answer = sign_up("203.0.113.5", email).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    assert_throttled(&sign_up("203.0.113.5", "d@example.com").await, 200);
    let elsewhere = sign_up("198.51.100.5", "d@example.com").await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "other addresses may");

    // Per email address: probing whether an address is registered counts as a failure
    // of it, wherever the probes come from.
    let taken = sign_up("192.0.2.10", "a@example.com").await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    let taken = sign_up("192.0.2.11", "A@example.com").await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_throttled(&sign_up("192.0.2.12", "a@example.com").await, 300);
    // So does logging into it now.
    assert_throttled(
        &login(&app, Some("192.0.2.13"), "a@example.com", PASSWORD).await,
        300,
    );
    let fresh = sign_up("192.0.2.12", "e@example.com").await;
    assert_eq!(
        fresh.status,
        StatusCode::CREATED,
        "other addresses may sign up"
    );
}

async fn api_keys_are_rate_limited_each_on_its_own(backend: Backend) {
    // Bursts of 3, then one request per second.
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.api_key_rate_per_second = 1;
        config.abuse.api_key_burst = 3;
    })
    .await;
    let (_, key) = new_tenant(&app, "acme").await;
    let (_, other_key) = new_tenant(&app, "globex").await;
    let Auth::Key(secret) = &key else {
        unreachable!("new_tenant returns a key")
    };
    let get = |key: &str| {
        app.client
            .get(app.url("/api/v1/chats"))
            .header("x-api-key", key.to_owned())
            .send()
    };
    // At least the burst goes through at once (more only if the test runs slowly enough
    // for the bucket to refill); then 429.
    let mut allowed = 0;
    let refused = loop {
        let response = answer(get(secret).await.expect("sent")).await;
        if response.status != StatusCode::OK {
            break response;
        }
        allowed += 1;
        assert!(allowed < 100, "the key was never limited");
    };
    assert!(allowed >= 3, "the burst of 3 was allowed, got {allowed}");
    assert_eq!(refused.retry_after, Some(1));
    assert_tenant_error(
        (refused.status, refused.body),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );

    // Another key is unaffected; a forged key with this key's public prefix is refused
    // as unauthenticated, not counted against it.
    let (status, _) = app.get("/api/v1/chats", &other_key).await;
    assert_eq!(status, StatusCode::OK);
    // `cfb_<hex prefix>_<secret>`; the secret may contain `_` itself.
    let prefix = secret.get(..16).expect("cfb_ and a 12-digit prefix");
    let forged = answer(get(&format!("{prefix}_forged")).await.expect("sent")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    // After the advertised wait, the key may make a request again (so the forged
    // request above spent nothing of it).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(get(secret).await.expect("sent").status(), StatusCode::OK);

    // 0 disables the limit.
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.api_key_rate_per_second = 0;
        config.abuse.api_key_burst = 1;
    })
    .await;
    let (_, key) = new_tenant(&app, "acme").await;
    for _ in 0..20 {
        let (status, _) = app.get("/api/v1/chats", &key).await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// Tries an upgrade expected to be refused; returns its status, body and Retry-After.
async fn refused_upgrade(app: &TestApp, path: &str, auth: &Auth) -> Answer {
    match tokio_tungstenite::connect_async(ws_request(app, path, auth)).await {
        Ok(_) => panic!("{path} was upgraded"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|text| text.parse().ok());
            let body = response
                .body()
                .as_deref()
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .unwrap_or(Value::Null);
            Answer {
                status: StatusCode::from_u16(response.status().as_u16()).expect("status"),
                retry_after,
                body,
            }
        }
        Err(other) => panic!("websocket connect failed: {other}"),
    }
}

async fn websockets_are_capped_per_chat_and_per_key(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.ws_max_per_chat = 2;
        config.abuse.ws_max_per_key = 3;
    })
    .await;
    let key = default_tenant_key(&app).await;
    let other_key = default_tenant_key(&app).await;
    let owner = app.sign_up("owner@example.com").await;
    let first = app.create_chat(&owner, "first").await;
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", owner.id), &owner.auth)
        .await;
    let first_uuid = listed["chats"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();
    let v1_first = format!("/api/v1/chats/{first_uuid}/ws");
    let user_first = format!("/api/users/{}/chats/{first}/ws", owner.id);

    // Per chat: two connections, over both routes, fill it.
    let by_key = ws(&app, &v1_first, &key).await;
    let by_cookie = ws(&app, &user_first, &owner.auth).await;
    let refused = refused_upgrade(&app, &v1_first, &other_key).await;
    assert_eq!(refused.retry_after, Some(5));
    assert_tenant_error(
        (refused.status, refused.body),
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_connections",
    );
    let refused = refused_upgrade(&app, &user_first, &owner.auth).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.body["statusCode"], 429, "{}", refused.body);
    assert!(refused.retry_after.is_some());
    // The refused upgrades took nothing: the chat still counts two.
    let (_, chat) = app.get(&format!("/api/v1/chats/{first_uuid}"), &key).await;
    assert_eq!(chat["active_connections"], 2);

    // Per key: the key holds one; two more chats take it to three; a fourth is refused,
    // while another key and the owner's session may still connect to that chat.
    let mut chats = Vec::new();
    for _ in 0..3 {
        chats.push(chat_uuid(&create_v1_chat(&app, &key, json!({})).await));
    }
    let second = ws(&app, &format!("/api/v1/chats/{}/ws", chats[0]), &key).await;
    let third = ws(&app, &format!("/api/v1/chats/{}/ws", chats[1]), &key).await;
    let fourth_path = format!("/api/v1/chats/{}/ws", chats[2]);
    let refused = refused_upgrade(&app, &fourth_path, &key).await;
    assert_eq!(refused.retry_after, Some(5));
    assert_tenant_error(
        (refused.status, refused.body),
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_connections",
    );
    let by_other_key = ws(&app, &fourth_path, &other_key).await;

    // Closing a connection gives its slots back.
    close_ws(by_key).await;
    let mut reconnected = None;
    for _ in 0..(PATIENCE.as_millis() / 20) {
        match tokio_tungstenite::connect_async(ws_request(&app, &fourth_path, &key)).await {
            Ok((socket, _)) => {
                reconnected = Some(socket);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let mut reconnected = reconnected.expect("the key's slot came back");
    reconnected.send(Message::Close(None)).await.expect("close");
    for socket in [by_cookie, second, third, by_other_key] {
        close_ws(socket).await;
    }
}

/// Reads one HTTP response from a raw connection: the head, and a body of its
/// `Content-Length` (or up to the end of the connection).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse::<usize>().ok());
            if length.is_some_and(|length| body.len() >= length) {
                return text;
            }
        }
        match tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .expect("a response arrived in time")
        {
            Ok(0) | Err(_) => return text,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

async fn slow_headers_are_cut_off_while_others_are_served(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.header_read_timeout_seconds = 1;
    })
    .await;
    // Fresh connections per request, so no pooled connection idles into the timeout.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");

    let mut slow = TcpStream::connect(app.address).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: confab\r\n")
        .await
        .expect("request line");
    let (mut reader, mut writer) = slow.split();
    // A header that never ends, one byte at a time, for far longer than the timeout
    // unless the server hangs up first (after which writes may fail: stop writing).
    let trickle = async {
        for _ in 0..(PATIENCE.as_millis() / 100) {
            if writer.write_all(b"x").await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let closed = async {
        let mut received = Vec::new();
        let mut buffer = [0u8; 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return received,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    let normal = async {
        let mut served = 0;
        // Meanwhile, ordinary clients keep being answered.
        for _ in 0..5 {
            let response = client.get(app.url("/healthz")).send().await.expect("sent");
            assert_eq!(response.status(), StatusCode::OK);
            served += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        served
    };
    let (received, served) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(
            async {
                tokio::select! {
                    received = closed => Some(received),
                    () = trickle => None,
                }
            },
            normal
        )
    })
    .await
    .expect("the slow connection was dealt with in time");
    let received = received.expect("the server closed the slow connection");
    let text = String::from_utf8_lossy(&received);
    assert!(
        !text.starts_with("HTTP/1.1 200"),
        "the slow request was never served: {text}"
    );
    assert_eq!(served, 5);
    // And the server still serves.
    let (status, _) = app.get("/healthz", &Auth::None).await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_body_that_stalls_gets_408(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.body_read_timeout_seconds = 1;
    })
    .await;
    let user = app.sign_up("ann@example.com").await;
    let Auth::Cookie(token) = &user.auth else {
        unreachable!("sign_up returns a cookie")
    };
    let mut stream = TcpStream::connect(app.address).await.expect("connect");
    let head = format!(
        "POST /api/users/{}/chats HTTP/1.1\r\nHost: confab\r\nCookie: neptun-session={token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        user.id
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    // ...and nothing more.
    let text = read_response(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body: {text}"));
    assert_eq!(body["statusCode"], 408, "{body}");
    // Nothing was created.
    let (_, chats) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    assert_eq!(chats["chats"], json!([]));
}

async fn shutdown_lets_the_request_in_flight_finish(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("ann@example.com").await;
    let Auth::Cookie(token) = &user.auth else {
        unreachable!("sign_up returns a cookie")
    };
    let address = app.address;
    let body = br#"{"name":"made during shutdown"}"#;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    // One whole request first, so the server has surely accepted this connection (one
    // still in the listen backlog at shutdown is never served).
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: confab\r\n\r\n")
        .await
        .expect("warm-up request");
    let warm_up = read_response(&mut stream).await;
    assert!(warm_up.starts_with("HTTP/1.1 200"), "{warm_up}");
    let head = format!(
        "POST /api/users/{}/chats HTTP/1.1\r\nHost: confab\r\nCookie: neptun-session={token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        user.id,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&body[..10])
        .await
        .expect("part of the body");
    // Let the server read the head: until it has, the request is not in flight (bytes
    // still in the socket at shutdown are never read), and it learns that the bytes have
    // arrived only once the runtime goes idle and polls for I/O.
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Shut down while the request is in flight; once the listener is gone, finish it.
    let stopping = tokio::spawn(app.stop());
    let mut refused = false;
    for _ in 0..(PATIENCE.as_millis() / 20) {
        if TcpStream::connect(address).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the listener closed");
    stream
        .write_all(&body[10..])
        .await
        .expect("rest of the body");
    let text = read_response(&mut stream).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("made during shutdown"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "the connection closes after it: {text}"
    );
    tokio::time::timeout(PATIENCE, stopping)
        .await
        .expect("the server stopped")
        .expect("stop task");
}
