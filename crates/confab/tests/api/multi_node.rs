//! Two `confab serve` processes on one PostgreSQL database and one Redis, as a
//! deployment with several nodes runs: HTTP state is shared through the database, live
//! events and connection counts through Redis (SPEC §3). Each test has its own database
//! and its own `--redis-prefix`, so tests running in parallel do not see each other's
//! events or presence.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

use crate::support::database::{postgres_url, redis_url};
use crate::support::process::{free_port, run_cli, Node, NodeOptions, RedisServer};
use crate::support::{session_cookie, Auth, Backend, TestDatabase};
use crate::tenant_support::{
    assert_tenant_error, close_ws, next_json, next_seen, ws_at, Seen, Ws, PATIENCE,
};

/// Starts `count` nodes on a fresh PostgreSQL database and a per-test Redis prefix,
/// all at once (they migrate the empty database concurrently), and waits until each
/// reports a healthy database and event bus. `None` when a service is not configured.
pub async fn start_nodes(test: &str, count: usize) -> Option<(TestDatabase, Vec<Node>)> {
    let redis = redis_url(test)?;
    start_nodes_on(test, count, &redis, 5, Vec::new()).await
}

/// [`start_nodes`] on the Redis at `redis`, with `--presence-ttl-seconds ttl` and
/// further flags.
pub(crate) async fn start_nodes_on(
    test: &str,
    count: usize,
    redis: &str,
    presence_ttl_seconds: u64,
    extra_args: Vec<String>,
) -> Option<(TestDatabase, Vec<Node>)> {
    postgres_url(test)?;
    let database = TestDatabase::create(Backend::Postgres).await;
    let options = NodeOptions {
        database_url: database.url.clone(),
        redis_url: Some(redis.to_owned()),
        redis_prefix: Some(format!("confab-test-{}", uuid::Uuid::new_v4().simple())),
        presence_ttl_seconds: Some(presence_ttl_seconds),
        extra_args,
    };
    let mut nodes: Vec<Node> = (0..count)
        .map(|i| Node::spawn(&format!("node-{i}"), &options))
        .collect();
    for node in &mut nodes {
        node.wait_healthy().await;
    }
    Some((database, nodes))
}

/// Two nodes, by value (so a test can kill one).
pub(crate) fn two(nodes: Vec<Node>) -> (Node, Node) {
    let mut nodes = nodes.into_iter();
    match (nodes.next(), nodes.next()) {
        (Some(a), Some(b)) => (a, b),
        _ => panic!("two nodes were started"),
    }
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

/// Sends a request to a node; returns the status and the body as JSON (Null if empty).
pub(crate) async fn call(
    node: &Node,
    method: Method,
    path: &str,
    auth: &Auth,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = auth.apply(node.client.request(method, node.url(path)));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{} {path}: {e}", node.name));
    let status = response.status();
    let text = response.text().await.expect("body read");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{} {path}: {status} body is not JSON: {text}", node.name))
    };
    (status, json)
}

/// A new tenant made with `confab tenant create`; returns its API key.
async fn cli_tenant_key(database_url: &str, name: &str) -> Auth {
    let (url, name) = (database_url.to_owned(), name.to_owned());
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_cli(&["tenant", "create", &name, "--database-url", &url], None)
    })
    .await
    .expect("cli task");
    assert!(ok, "confab tenant create failed: {stderr}");
    let created: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    Auth::Key(created["api_key"].as_str().expect("api_key").to_owned())
}

/// A key for the default tenant, where users who sign up live.
async fn default_tenant_key(database_url: &str) -> Auth {
    let store = confab::store::connect(database_url, 1)
        .await
        .expect("store");
    let tenant = store.default_tenant().await.expect("default tenant");
    let (_, key) = confab::cli::issue_key(store.as_ref(), tenant.id, "multi-node")
        .await
        .expect("key");
    Auth::Key(key)
}

/// Signs up on `node`; returns the user's id and session.
pub(crate) async fn sign_up(node: &Node, email: &str) -> (i64, Auth) {
    let response = send(
        node,
        Method::POST,
        "/api/auth/sign-up",
        None,
        Some(json!({"email": email, "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = session_cookie(&response).expect("session cookie");
    let body: Value = response.json().await.expect("json");
    let id = body["user"]["id"].as_i64().expect("user id");
    (id, Auth::Cookie(cookie))
}

/// Creates a chat through `node`'s tenant API; returns its uuid.
async fn create_v1_chat(node: &Node, key: &Auth) -> String {
    let (status, chat) = call(node, Method::POST, "/api/v1/chats", key, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    chat["id"].as_str().expect("uuid").to_owned()
}

/// Posts one message through `node`'s tenant API; returns its id.
async fn post_v1(node: &Node, key: &Auth, chat: &str, actor: &str, text: &str) -> i64 {
    let (status, body) = call(
        node,
        Method::POST,
        &format!("/api/v1/chats/{chat}/messages"),
        key,
        Some(json!({"message": text, "actor": actor})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{} {body}", node.name);
    body["data"][0]["id"].as_i64().expect("message id")
}

/// The chat's `active_connections` as `node` reports it.
pub(crate) async fn count_on(node: &Node, key: &Auth, chat: &str) -> u64 {
    let (status, body) = call(
        node,
        Method::GET,
        &format!("/api/v1/chats/{chat}"),
        key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{} {body}", node.name);
    body["active_connections"]
        .as_u64()
        .expect("active_connections")
}

/// Polls `node` until it counts `expected` connections to the chat, for at most `within`;
/// returns how long that took.
pub(crate) async fn wait_for_count(
    node: &Node,
    key: &Auth,
    chat: &str,
    expected: u64,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let count = count_on(node, key, chat).await;
        if count == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{} still counts {count} connections (expected {expected}) after {within:?}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /healthz` with its status code.
async fn healthz(node: &Node) -> (StatusCode, Value) {
    call(node, Method::GET, "/healthz", &Auth::None, None).await
}

/// Polls `/healthz` until its `events.ok` is `ok`; the node answers 200 throughout.
async fn wait_for_events_ok(node: &Node, ok: bool, within: Duration) {
    let started = Instant::now();
    loop {
        let (status, health) = healthz(node).await;
        assert_eq!(status, StatusCode::OK, "{} {health}", node.name);
        assert_eq!(health["status"], "ok", "{health}");
        assert_eq!(health["database"]["ok"], true, "{health}");
        assert_eq!(health["events"]["transport"], "redis", "{health}");
        if health["events"]["ok"] == ok {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{}: events.ok did not become {ok} within {within:?}: {health}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every frame a socket receives until it ends, and how it ended.
async fn frames_until_end(ws: &mut Ws) -> (Vec<Value>, Seen) {
    let mut frames = Vec::new();
    loop {
        match next_seen(ws).await {
            Seen::Json(frame) => frames.push(frame),
            end => return (frames, end),
        }
    }
}

/// What one change should look like on a socket.
struct Expected {
    kind: &'static str,
    /// Frames of one commit share their `seq`; later commits have larger ones.
    commit: usize,
    /// The message created, or the ids deleted (sorted).
    ids: Vec<i64>,
}

fn ids(body: &Value) -> Vec<i64> {
    body.as_array()
        .expect("array of messages")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_on_either_node_reach_every_socket_in_commit_order() {
    let Some((database, nodes)) = start_nodes(
        "changes_on_either_node_reach_every_socket_in_commit_order",
        2,
    )
    .await
    else {
        return;
    };
    let (a, b) = two(nodes);
    let key = default_tenant_key(&database.url).await;
    let (user_id, cookie) = sign_up(&b, "eve@example.com").await;
    let (status, body) = call(
        &b,
        Method::POST,
        &format!("/api/users/{user_id}/chats"),
        &cookie,
        Some(json!({"name": "live", "model": "m"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let chat_id = body["chat"]["id"].as_i64().expect("chat id");
    let (status, listed) = call(
        &a,
        Method::GET,
        &format!("/api/users/{user_id}/chats"),
        &cookie,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let uuid = listed["chats"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();
    let v1 = format!("/api/v1/chats/{uuid}");
    let owned = format!("/api/users/{user_id}/chats/{chat_id}");

    let mut on_a_by_key = ws_at(a.address, &format!("{v1}/ws"), &key).await;
    let mut on_a_by_cookie = ws_at(a.address, &format!("{owned}/ws"), &cookie).await;
    let mut on_b_by_key = ws_at(b.address, &format!("{v1}/ws"), &key).await;
    assert_eq!(count_on(&a, &key, &uuid).await, 3);
    assert_eq!(count_on(&b, &key, &uuid).await, 3);

    // One after the other, through B's two APIs.
    let mut expected = Vec::new();
    let mut commit = 0;
    let mut expect = |kind, ids: Vec<i64>, frames: usize| {
        for i in 0..frames {
            expected.push(Expected {
                kind,
                commit,
                ids: if kind == "message.created" {
                    vec![ids[i]]
                } else {
                    ids.clone()
                },
            });
        }
        commit += 1;
    };
    let (status, body) = call(
        &b,
        Method::POST,
        &format!("{owned}/messages"),
        &cookie,
        Some(json!({"message": "hello from the app", "actor": "user"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = body["chatMessage"]["id"].as_i64().expect("id");
    expect("message.created", vec![first], 1);
    let second = post_v1(&b, &key, &uuid, "assistant", "```rust\nfn main() {}\n```").await;
    expect("message.created", vec![second], 1);
    let (status, body) = call(
        &b,
        Method::POST,
        &format!("{v1}/messages"),
        &key,
        Some(json!({"messages": [{"content": "q1", "role": "user"}, {"content": "a1", "role": "assistant"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v1_batch = ids(&body["data"]);
    expect("message.created", v1_batch.clone(), 2);
    let (status, body) = call(
        &b,
        Method::POST,
        &format!("{owned}/messages"),
        &cookie,
        Some(json!({"messages": [{"content": "q2", "role": "user"}, {"content": "a2", "role": "assistant"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user_batch = ids(&body["chatMessages"]);
    expect("message.created", user_batch.clone(), 2);
    let (status, body) = call(
        &b,
        Method::DELETE,
        &format!("{v1}/messages/last"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    expect("messages.deleted", user_batch, 1);
    let (status, body) = call(
        &b,
        Method::DELETE,
        &format!("{owned}/messages/last"),
        &cookie,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    expect("messages.deleted", v1_batch, 1);
    let (status, body) = call(
        &b,
        Method::PATCH,
        &owned,
        &cookie,
        Some(json!({"name": "renamed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    expect("chat.updated", Vec::new(), 1);

    // Then concurrently through both nodes: every socket gets the same order, the one
    // the chat's history has.
    let through_a = async {
        for i in 0..6 {
            post_v1(&a, &key, &uuid, "user", &format!("from A #{i}")).await;
        }
    };
    let through_b = async {
        for i in 0..6 {
            let (status, body) = call(
                &b,
                Method::POST,
                &format!("{owned}/messages"),
                &cookie,
                Some(json!({"message": format!("from B #{i}"), "actor": "assistant"})),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    tokio::join!(through_a, through_b);
    let (status, body) = call(
        &a,
        Method::GET,
        &format!("{v1}/messages?limit=100"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let history = ids(&body["data"]);
    assert_eq!(history.len(), 14, "{body}");
    assert_eq!(history[..2], [first, second]);
    for id in &history[2..] {
        expect("message.created", vec![*id], 1);
    }

    let (status, body) = call(&b, Method::DELETE, &owned, &cookie, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!(true));
    expect("chat.deleted", Vec::new(), 1);

    let mut seqs_seen: Vec<Vec<i64>> = Vec::new();
    let mut tenant_frames: Vec<Vec<Value>> = Vec::new();
    for (name, socket, chat_ref) in [
        ("A, by key", &mut on_a_by_key, json!(uuid)),
        ("A, by cookie", &mut on_a_by_cookie, json!(chat_id)),
        ("B, by key", &mut on_b_by_key, json!(uuid)),
    ] {
        let (frames, end) = frames_until_end(socket).await;
        assert_eq!(end, Seen::Close(1000, "chat deleted".to_owned()), "{name}");
        let kinds: Vec<&str> = frames
            .iter()
            .map(|f| f["type"].as_str().expect("type"))
            .collect();
        let wanted: Vec<&str> = expected.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, wanted, "{name}: {frames:#?}");
        let seqs: Vec<i64> = frames
            .iter()
            .map(|f| f["seq"].as_i64().expect("seq"))
            .collect();
        for (i, (frame, want)) in frames.iter().zip(&expected).enumerate() {
            assert_eq!(frame["chat_id"], chat_ref, "{name}: {frame}");
            match want.kind {
                "message.created" => {
                    assert_eq!(frame["message"]["id"], want.ids[0], "{name}: frame {i}");
                }
                "messages.deleted" => {
                    let mut deleted: Vec<i64> = frame["message_ids"]
                        .as_array()
                        .expect("message_ids")
                        .iter()
                        .map(|id| id.as_i64().expect("id"))
                        .collect();
                    deleted.sort_unstable();
                    assert_eq!(deleted, want.ids, "{name}: frame {i}");
                }
                "chat.updated" => assert_eq!(frame["chat"]["name"], "renamed", "{name}"),
                _ => {}
            }
            if i > 0 {
                if want.commit == expected[i - 1].commit {
                    assert_eq!(
                        seqs[i],
                        seqs[i - 1],
                        "{name}: one commit, one seq: {seqs:?}"
                    );
                } else {
                    assert!(seqs[i] > seqs[i - 1], "{name}: seq grows: {seqs:?}");
                }
            }
        }
        // The code block of the assistant message came along as a file.
        assert_eq!(
            frames[1]["message"]["files"][0]["language"], "rust",
            "{name}"
        );
        seqs_seen.push(seqs);
        if chat_ref.is_string() {
            tenant_frames.push(frames);
        }
    }
    assert!(seqs_seen.windows(2).all(|w| w[0] == w[1]), "{seqs_seen:?}");
    assert_eq!(
        tenant_frames[0], tenant_frames[1],
        "identical frames on A and B"
    );
    for node in [&a, &b] {
        assert_tenant_error(
            call(node, Method::GET, &v1, &key, None).await,
            StatusCode::NOT_FOUND,
            "chat_not_found",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_on_one_node_blocks_deletion_on_the_other() {
    let Some((database, nodes)) =
        start_nodes("a_socket_on_one_node_blocks_deletion_on_the_other", 2).await
    else {
        return;
    };
    let (a, b) = two(nodes);
    let key = cli_tenant_key(&database.url, "acme").await;
    let chat = create_v1_chat(&b, &key).await;
    let path = format!("/api/v1/chats/{chat}");
    assert_eq!(count_on(&b, &key, &chat).await, 0);

    let on_a = ws_at(a.address, &format!("{path}/ws"), &key).await;
    // Counted in Redis before the connection was reported open: no waiting needed.
    assert_eq!(count_on(&b, &key, &chat).await, 1);
    assert_eq!(count_on(&a, &key, &chat).await, 1);
    assert_tenant_error(
        call(&b, Method::DELETE, &path, &key, None).await,
        StatusCode::CONFLICT,
        "chat_has_active_connections",
    );

    let on_b = ws_at(b.address, &format!("{path}/ws"), &key).await;
    assert_eq!(count_on(&a, &key, &chat).await, 2);
    close_ws(on_a).await;
    let took = wait_for_count(&b, &key, &chat, 1, PATIENCE).await;
    println!("B saw A's socket close after {took:?}");
    assert_tenant_error(
        call(&a, Method::DELETE, &path, &key, None).await,
        StatusCode::CONFLICT,
        "chat_has_active_connections",
    );
    close_ws(on_b).await;
    wait_for_count(&a, &key, &chat, 0, PATIENCE).await;

    let (status, body) = call(&b, Method::DELETE, &path, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Chat deleted successfully");
    assert_tenant_error(
        call(&a, Method::GET, &path, &key, None).await,
        StatusCode::NOT_FOUND,
        "chat_not_found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_deletion_on_one_node_closes_sockets_on_the_other() {
    let Some((database, nodes)) =
        start_nodes("forced_deletion_on_one_node_closes_sockets_on_the_other", 2).await
    else {
        return;
    };
    let (a, b) = two(nodes);
    let key = cli_tenant_key(&database.url, "acme").await;
    let chat = create_v1_chat(&a, &key).await;
    let path = format!("/api/v1/chats/{chat}");
    let mut on_a = ws_at(a.address, &format!("{path}/ws"), &key).await;
    let mut also_on_a = ws_at(a.address, &format!("{path}/ws"), &key).await;
    let mut on_b = ws_at(b.address, &format!("{path}/ws"), &key).await;
    assert_eq!(count_on(&b, &key, &chat).await, 3);

    let (status, body) = call(
        &b,
        Method::DELETE,
        &format!("{path}?force=true"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Chat deleted successfully");

    for (name, socket) in [
        ("A", &mut on_a),
        ("A (second)", &mut also_on_a),
        ("B", &mut on_b),
    ] {
        let event = next_json(socket).await;
        assert_eq!(event["type"], "chat.deleted", "{name}: {event}");
        assert_eq!(event["chat_id"], chat.as_str(), "{name}: {event}");
        assert!(event["seq"].is_i64(), "{name}: {event}");
        assert_eq!(
            next_seen(socket).await,
            Seen::Close(1000, "chat deleted".to_owned()),
            "{name}"
        );
    }
    for node in [&a, &b] {
        assert_tenant_error(
            call(node, Method::GET, &path, &key, None).await,
            StatusCode::NOT_FOUND,
            "chat_not_found",
        );
        assert_tenant_error(
            call(node, Method::DELETE, &path, &key, None).await,
            StatusCode::NOT_FOUND,
            "chat_not_found",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_stops_counting_within_the_presence_ttl() {
    const TTL: Duration = Duration::from_secs(3);
    let test = "a_killed_node_stops_counting_within_the_presence_ttl";
    let Some(redis) = redis_url(test) else {
        return;
    };
    let Some((database, nodes)) = start_nodes_on(test, 2, &redis, TTL.as_secs(), Vec::new()).await
    else {
        return;
    };
    let (mut a, b) = two(nodes);
    let key = cli_tenant_key(&database.url, "acme").await;
    let chat = create_v1_chat(&b, &key).await;
    let path = format!("/api/v1/chats/{chat}");
    let mut first = ws_at(a.address, &format!("{path}/ws"), &key).await;
    let mut second = ws_at(a.address, &format!("{path}/ws"), &key).await;
    assert_eq!(count_on(&b, &key, &chat).await, 2);

    // Heartbeats keep a live node's count beyond the TTL.
    let watched = Instant::now();
    while watched.elapsed() < TTL + Duration::from_secs(1) {
        assert_eq!(
            count_on(&b, &key, &chat).await,
            2,
            "after {:?}",
            watched.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    a.kill9();
    let took = wait_for_count(&b, &key, &chat, 0, TTL + Duration::from_secs(10)).await;
    println!("a killed node stopped counting after {took:?} (presence TTL {TTL:?})");
    assert!(
        took <= TTL + Duration::from_secs(2),
        "the dead node counted for {took:?}, TTL {TTL:?}"
    );
    // Its clients lost their connections without a close frame.
    for socket in [&mut first, &mut second] {
        assert_eq!(next_seen(socket).await, Seen::Gone);
    }

    let (status, body) = call(&b, Method::DELETE, &path, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_keep_serving_through_a_redis_outage_and_reconnect() {
    let test = "nodes_keep_serving_through_a_redis_outage_and_reconnect";
    // Runs where the Redis tests run; it starts its own redis-server to stop it.
    if redis_url(test).is_none() || postgres_url(test).is_none() {
        return;
    }
    let port = free_port();
    let mut redis = RedisServer::start(port).await;
    let Some((database, nodes)) = start_nodes_on(test, 2, &redis.url(), 3, Vec::new()).await else {
        return;
    };
    let (a, b) = two(nodes);
    let key = cli_tenant_key(&database.url, "acme").await;
    let chat = create_v1_chat(&b, &key).await;
    let path = format!("/api/v1/chats/{chat}");
    let mut on_a = ws_at(a.address, &format!("{path}/ws"), &key).await;
    assert_eq!(count_on(&b, &key, &chat).await, 1);
    let before = post_v1(&b, &key, &chat, "user", "before the outage").await;
    assert_eq!(next_json(&mut on_a).await["message"]["id"], before);

    redis.kill9();
    for node in [&a, &b] {
        wait_for_events_ok(node, false, PATIENCE).await;
    }
    // HTTP goes on; A's own socket still gets A's changes.
    let local = post_v1(&a, &key, &chat, "user", "during the outage, on A").await;
    let event = next_json(&mut on_a).await;
    assert_eq!(event["type"], "message.created");
    assert_eq!(event["message"]["id"], local);
    // B's change cannot reach A now (it is not replayed later either).
    let lost = post_v1(&b, &key, &chat, "user", "during the outage, on B").await;
    let (status, body) = call(&b, Method::GET, &format!("{path}/messages"), &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body["data"]), [before, local, lost]);
    // Connections on other nodes cannot be counted: no guess, and no deletion.
    for node in [&a, &b] {
        let started = Instant::now();
        for (method, target) in [(Method::GET, path.clone()), (Method::DELETE, path.clone())] {
            assert_tenant_error(
                call(node, method, &target, &key, None).await,
                StatusCode::SERVICE_UNAVAILABLE,
                "presence_unavailable",
            );
        }
        println!("{}: two 503s took {:?}", node.name, started.elapsed());
    }
    let (status, _) = call(&b, Method::GET, &format!("{path}/messages"), &key, None).await;
    assert_eq!(status, StatusCode::OK, "the chat is still there");

    let _redis = RedisServer::start(port).await;
    let restarted = Instant::now();
    for node in [&a, &b] {
        wait_for_events_ok(node, true, Duration::from_secs(30)).await;
    }
    println!(
        "both nodes reconnected {:?} after Redis restarted",
        restarted.elapsed()
    );
    // The restarted Redis lost every presence key; A's heartbeat writes its count again.
    wait_for_count(&b, &key, &chat, 1, PATIENCE).await;
    assert_tenant_error(
        call(&b, Method::DELETE, &path, &key, None).await,
        StatusCode::CONFLICT,
        "chat_has_active_connections",
    );
    let after = post_v1(&b, &key, &chat, "user", "after the outage").await;
    let event = next_json(&mut on_a).await;
    assert_eq!(event["type"], "message.created", "{event}");
    assert_eq!(event["message"]["id"], after, "{event}");

    close_ws(on_a).await;
    wait_for_count(&b, &key, &chat, 0, PATIENCE).await;
    let (status, body) = call(&b, Method::DELETE, &path, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
