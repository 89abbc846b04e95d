//! Two `confab serve` processes on one PostgreSQL database and one Redis, as a
//! deployment with several nodes runs. (The WebSocket checks across nodes build on the
//! same [`Node`] helper.)

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::database::{postgres_url, redis_url};
use crate::support::process::{Node, NodeOptions};
use crate::support::{session_cookie, Backend, TestDatabase};

/// Starts `count` nodes on a fresh PostgreSQL database and a per-test Redis prefix,
/// all at once (they migrate the empty database concurrently), and waits until each
/// reports a healthy database and event bus. `None` when a service is not configured.
pub async fn start_nodes(test: &str, count: usize) -> Option<(TestDatabase, Vec<Node>)> {
    postgres_url(test)?;
    let redis = redis_url(test)?;
    let database = TestDatabase::create(Backend::Postgres).await;
    let options = NodeOptions {
        database_url: database.url.clone(),
        redis_url: Some(redis),
        redis_prefix: Some(format!("confab-test-{}", uuid::Uuid::new_v4().simple())),
        presence_ttl_seconds: Some(5),
        extra_args: Vec::new(),
    };
    let mut nodes: Vec<Node> = (0..count)
        .map(|i| Node::spawn(&format!("node-{i}"), &options))
        .collect();
    for node in &mut nodes {
        node.wait_healthy().await;
    }
    Some((database, nodes))
}

async fn send(
    node: &Node,
    method: reqwest::Method,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = node.client.request(method, node.url(path));
    if let Some(token) = cookie {
        request = request.header("cookie", format!("neptun-session={token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_users_sessions_and_chats() {
    let Some((_database, nodes)) = start_nodes("two_nodes_share_users_sessions_and_chats", 2).await
    else {
        return;
    };
    let (a, b) = (&nodes[0], &nodes[1]);
    for node in [a, b] {
        let health = node.health().await.expect("healthz");
        assert_eq!(health["status"], "ok", "{health}");
        assert_eq!(
            health["database"],
            json!({"engine": "postgres", "ok": true})
        );
        assert_eq!(health["events"], json!({"transport": "redis", "ok": true}));
    }

    let credentials = json!({"email": "ann@example.com", "password": "correct horse battery"});
    let response = send(
        a,
        reqwest::Method::POST,
        "/api/auth/sign-up",
        None,
        Some(credentials.clone()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie_a = session_cookie(&response).expect("cookie from A");
    let user: Value = response.json().await.expect("json");
    let user_id = user["user"]["id"].as_i64().expect("user id");

    // The account made on A logs in on B.
    let response = send(
        b,
        reqwest::Method::POST,
        "/api/auth/login",
        None,
        Some(credentials),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie_b = session_cookie(&response).expect("cookie from B");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["user"]["id"], user_id);

    // A chat created on A is listed on B, with either node's session.
    let response = send(
        a,
        reqwest::Method::POST,
        &format!("/api/users/{user_id}/chats"),
        Some(&cookie_a),
        Some(json!({"name": "made on A", "model": "m"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let chat: Value = response.json().await.expect("json");
    let chat_id = chat["chat"]["id"].as_i64().expect("chat id");
    for cookie in [&cookie_a, &cookie_b] {
        let response = send(
            b,
            reqwest::Method::GET,
            &format!("/api/users/{user_id}/chats"),
            Some(cookie),
            None,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let chats: Value = response.json().await.expect("json");
        assert_eq!(chats["chats"][0]["id"], chat_id, "{chats}");
        assert_eq!(chats["chats"][0]["name"], "made on A");
    }

    // A message posted on B is read on A.
    let response = send(
        b,
        reqwest::Method::POST,
        &format!("/api/users/{user_id}/chats/{chat_id}/messages"),
        Some(&cookie_b),
        Some(json!({"message": "hello from B", "actor": "user"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(
        a,
        reqwest::Method::GET,
        &format!("/api/users/{user_id}/chats/{chat_id}/messages"),
        Some(&cookie_a),
        None,
    )
    .await;
    let messages: Value = response.json().await.expect("json");
    assert_eq!(messages["chatMessages"][0]["message"], "hello from B");

    // Logging out on B ends that session on A too.
    let response = send(
        b,
        reqwest::Method::POST,
        "/api/auth/logout",
        Some(&cookie_b),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(
        a,
        reqwest::Method::HEAD,
        "/api/auth/check",
        Some(&cookie_b),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
