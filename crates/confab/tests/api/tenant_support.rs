//! Helpers for the tenant API and WebSocket tests: tenants and keys, the tenant error
//! shape, and a small WebSocket client.

#![allow(dead_code)] // each test module uses a different part of the helpers

use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::support::{Auth, TestApp, TestUser};

/// How long a test waits for something that should happen promptly before failing.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A fresh tenant and an API key for it.
pub async fn new_tenant(app: &TestApp, name: &str) -> (Uuid, Auth) {
    let store = app.store();
    let tenant = store.create_tenant(name).await.expect("tenant");
    let (_, key) = confab::cli::issue_key(store.as_ref(), tenant.id, "test")
        .await
        .expect("key");
    (tenant.id, Auth::Key(key))
}

/// A key for the default tenant (where signed-up users live).
pub async fn default_tenant_key(app: &TestApp) -> Auth {
    let store = app.store();
    let tenant = store.default_tenant().await.expect("default tenant");
    let (_, key) = confab::cli::issue_key(store.as_ref(), tenant.id, "test")
        .await
        .expect("key");
    Auth::Key(key)
}

/// Creates a chat through the tenant API; returns its JSON.
pub async fn create_v1_chat(app: &TestApp, key: &Auth, body: Value) -> Value {
    let (status, chat) = app.post("/api/v1/chats", key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    chat
}

/// The chat's uuid as the tenant API names it.
pub fn chat_uuid(chat: &Value) -> String {
    chat["id"]
        .as_str()
        .expect("chat id is a uuid string")
        .to_owned()
}

/// Posts one message through the tenant API; returns it.
pub async fn post_v1_message(
    app: &TestApp,
    key: &Auth,
    chat: &str,
    actor: &str,
    text: &str,
) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            key,
            json!({"message": text, "actor": actor}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"][0].clone()
}

/// Two keys of one tenant, with their ids: one to revoke, one to keep.
pub async fn two_keys(store: &dyn confab::store::Store, tenant_id: Uuid) -> [(Uuid, Auth); 2] {
    let mut keys = Vec::new();
    for name in ["doomed", "kept"] {
        let (id, key) = confab::cli::issue_key(store, tenant_id, name)
            .await
            .expect("key");
        keys.push((id, Auth::Key(key)));
    }
    [keys.remove(0), keys.remove(0)]
}

/// A signed-up user with one chat: a key of their (the default) tenant, the user, and
/// the chat's user-API id and tenant-API uuid.
pub async fn user_with_chat(app: &TestApp, email: &str) -> (Auth, TestUser, i64, String) {
    let key = default_tenant_key(app).await;
    let user = app.sign_up(email).await;
    let chat_id = app.create_chat(&user, "live").await;
    let uuid = first_chat_uuid(app, &user).await;
    (key, user, chat_id, uuid)
}

/// The uuid of the user's first listed chat (the tenant API's id for it).
pub async fn first_chat_uuid(app: &TestApp, user: &TestUser) -> String {
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    listed["chats"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned()
}

/// Revokes an API key with `confab key revoke`, a separate process that writes the
/// database directly; returns its output line.
pub async fn revoke_with_cli(database_url: &str, key_id: Uuid) -> String {
    let (url, id) = (database_url.to_owned(), key_id.to_string());
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        crate::support::process::run_cli(&["key", "revoke", &id, "--database-url", &url], None)
    })
    .await
    .expect("cli task");
    assert!(ok, "confab key revoke: {stderr}");
    stdout
}

/// Asserts a tenant-API error: the status, and `{"success":false,"error":{code,message}}`.
#[track_caller]
pub fn assert_tenant_error(actual: (StatusCode, Value), status: StatusCode, code: &str) {
    let (got_status, body) = actual;
    assert_eq!(got_status, status, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error"]["code"], json!(code), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
}

/// The chat's `active_connections` as the tenant API reports it.
pub async fn active_connections(app: &TestApp, key: &Auth, chat: &str) -> u64 {
    let (status, body) = app.get(&format!("/api/v1/chats/{chat}"), key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["active_connections"]
        .as_u64()
        .expect("active_connections")
}

/// Polls `check` until it holds, failing after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The request for a WebSocket path on the app, authenticated.
pub fn ws_request(
    app: &TestApp,
    path: &str,
    auth: &Auth,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    ws_request_at(app.address, path, auth)
}

/// The request for a WebSocket path on the server at `address`, authenticated.
pub fn ws_request_at(
    address: SocketAddr,
    path: &str,
    auth: &Auth,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!("ws://{address}{path}")
        .into_client_request()
        .expect("request");
    for (name, value) in auth.headers() {
        request
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).expect("header value"));
    }
    request
}

/// Connects; on a refused upgrade, returns the HTTP status and JSON body.
pub async fn try_ws(app: &TestApp, path: &str, auth: &Auth) -> Result<Ws, (u16, Value)> {
    try_ws_at(app.address, path, auth).await
}

/// [`try_ws`] on the server at `address` (e.g. one node of several).
pub async fn try_ws_at(address: SocketAddr, path: &str, auth: &Auth) -> Result<Ws, (u16, Value)> {
    try_ws_request(ws_request_at(address, path, auth)).await
}

/// Connects with a prepared request (e.g. with extra headers); on a refused upgrade,
/// returns the HTTP status and JSON body.
pub async fn try_ws_request(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<Ws, (u16, Value)> {
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, response)) => {
            assert_eq!(response.status().as_u16(), 101);
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .unwrap_or(Value::Null);
            Err((response.status().as_u16(), body))
        }
        Err(other) => panic!("websocket connect failed: {other}"),
    }
}

/// Connects and waits until the server's connection is live (subscribed), using the
/// application-level ping.
pub async fn ws(app: &TestApp, path: &str, auth: &Auth) -> Ws {
    ws_at(app.address, path, auth).await
}

/// [`ws`] on the server at `address` (e.g. one node of several).
pub async fn ws_at(address: SocketAddr, path: &str, auth: &Auth) -> Ws {
    let mut ws = try_ws_at(address, path, auth)
        .await
        .unwrap_or_else(|(status, body)| panic!("upgrade refused: {status} {body}"));
    ws.send(Message::text(r#"{"type":"ping"}"#))
        .await
        .expect("ping sent");
    assert_eq!(next_json(&mut ws).await, json!({"type": "pong"}));
    ws
}

/// What a client sees next: a JSON text frame, or the close.
#[derive(Debug, PartialEq)]
pub enum Seen {
    Json(Value),
    Close(u16, String),
    /// The stream ended or failed without a close frame.
    Gone,
}

/// The next text frame or close, skipping pings and pongs.
pub async fn next_seen(ws: &mut Ws) -> Seen {
    loop {
        let next = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("timed out waiting for a websocket frame");
        match next {
            Some(Ok(Message::Text(text))) => {
                return Seen::Json(serde_json::from_str(text.as_str()).expect("JSON frame"))
            }
            Some(Ok(Message::Close(frame))) => {
                return match frame {
                    Some(frame) => {
                        Seen::Close(u16::from(frame.code), frame.reason.as_str().to_owned())
                    }
                    None => Seen::Close(1005, String::new()),
                }
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Seen::Gone,
        }
    }
}

/// The next text frame as JSON; fails on a close.
pub async fn next_json(ws: &mut Ws) -> Value {
    match next_seen(ws).await {
        Seen::Json(value) => value,
        other => panic!("expected a JSON frame, got {other:?}"),
    }
}

/// Closes from the client side and waits for the server's reply (the server has let go
/// of the connection by then).
pub async fn close_ws(mut ws: Ws) {
    ws.close(None).await.expect("close sent");
    loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("timed out waiting for the close reply")
        {
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        }
    }
}
