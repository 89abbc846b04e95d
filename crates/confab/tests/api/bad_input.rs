//! Bad input (SPEC §5): clear JSON errors in the API's shape, never a 500, nothing
//! half-written.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{Backend, TestApp};

crate::per_backend!(
    malformed_and_mistyped_bodies_are_400,
    bodies_over_the_limit_are_413,
    wrong_content_type_is_415,
    unknown_routes_are_404_and_wrong_methods_405_in_json,
    text_limits_nul_bytes_and_emoji,
    a_bad_batch_writes_nothing,
    odd_payloads_never_cause_a_server_error,
);

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path)).body(body);
    if let Some(token) = cookie {
        request = request.header("cookie", format!("neptun-session={token}"));
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    let text = response.text().await.expect("text");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status}: body is not JSON: {text:?}"));
    (status, json)
}

fn token(user: &crate::support::TestUser) -> String {
    match &user.auth {
        crate::support::Auth::Cookie(token) => token.clone(),
        other => panic!("not a cookie: {other:?}"),
    }
}

async fn malformed_and_mistyped_bodies_are_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&user, "c").await;
    let messages = format!("/api/users/{}/chats/{chat}/messages", user.id);
    let cases: &[&[u8]] = &[
        b"{",
        b"not json",
        b"",
        b"null",
        b"[]",
        b"{\"message\": 5, \"actor\": \"user\"}",
        b"{\"message\": \"hi\"}",
        b"{\"actor\": \"user\"}",
        b"{\"message\": \"hi\", \"actor\": \"robot\"}",
        b"{\"message\": \"hi\", \"actor\": \"user\", \"messages\": []}",
        b"{\"messages\": []}",
        b"{\"messages\": [{\"content\": \"x\"}]}",
        b"{\"messages\": {\"content\": \"x\", \"role\": \"user\"}}",
        b"{\"message\": \"\\ud800\", \"actor\": \"user\"}",
        b"{\"message\": \"\", \"actor\": \"user\"}",
    ];
    for body in cases {
        let (status, answer) = raw(
            &app,
            Method::POST,
            &messages,
            Some(&token(&user)),
            Some("application/json"),
            body.to_vec(),
        )
        .await;
        let shown = String::from_utf8_lossy(body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown} -> {answer}");
        assert_eq!(answer["statusCode"], 400, "{shown} -> {answer}");
        assert_eq!(answer["statusMessage"], "Bad Request");
        assert!(
            answer["data"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    assert!(
        app.message_ids(&user, chat).await.is_empty(),
        "nothing was written"
    );
    let chats = format!("/api/users/{}/chats", user.id);
    for body in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": null}),
        json!({"name": ["x"]}),
        json!({"name": "x".repeat(256)}),
        json!({"name": "ok", "model": 3}),
    ] {
        let (status, answer) = app.post(&chats, &user.auth, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
    }
}

async fn bodies_over_the_limit_are_413(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.limits.body_limit_bytes = 4096).await;
    let user = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&user, "c").await;
    let path = format!("/api/users/{}/chats/{chat}/messages", user.id);
    let big =
        serde_json::to_vec(&json!({"message": "x".repeat(10_000), "actor": "user"})).expect("json");
    let (status, answer) = raw(
        &app,
        Method::POST,
        &path,
        Some(&token(&user)),
        Some("application/json"),
        big,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["statusCode"], 413);
    assert!(app.message_ids(&user, chat).await.is_empty());

    // The default limit is 1 MiB.
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("bob@example.com").await;
    let chat = app.create_chat(&user, "c").await;
    let path = format!("/api/users/{}/chats/{chat}/messages", user.id);
    let big = serde_json::to_vec(&json!({"message": "y".repeat(1024 * 1024 + 1), "actor": "user"}))
        .expect("json");
    let (status, _) = raw(
        &app,
        Method::POST,
        &path,
        Some(&token(&user)),
        Some("application/json"),
        big,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn wrong_content_type_is_415(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("ann@example.com").await;
    let path = format!("/api/users/{}/chats", user.id);
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, answer) = raw(
            &app,
            Method::POST,
            &path,
            Some(&token(&user)),
            content_type,
            br#"{"name":"x"}"#.to_vec(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?} -> {answer}"
        );
        assert_eq!(answer["statusCode"], 415);
    }
}

async fn unknown_routes_are_404_and_wrong_methods_405_in_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get("/no/such/route", &crate::support::Auth::None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["statusCode"], 404);
    let (status, body) = app
        .get("/api/v1/no-such-route", &crate::support::Auth::None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["success"], false,
        "tenant-API paths answer in the tenant shape: {body}"
    );
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/auth/login",
            &crate::support::Auth::None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["statusCode"], 405);
}

async fn text_limits_nul_bytes_and_emoji(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.limits.max_message_bytes = 1000).await;
    let user = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&user, "😀 chat").await;
    let path = format!("/api/users/{}/chats/{chat}/messages", user.id);
    let (status, body) = app
        .post(
            &path,
            &user.auth,
            json!({"message": "nul\u{0}byte", "actor": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["data"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("NUL")),
        "{body}"
    );
    let (status, _) = app
        .post(
            &path,
            &user.auth,
            json!({"message": "x".repeat(1001), "actor": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .post(
            &format!("/api/users/{}/chats", user.id),
            &user.auth,
            json!({"name": "a\u{0}b"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let text = "emoji 👩‍👩‍👧‍👦 and ZWJ, RTL \u{202e} text, 🏳️‍🌈, and \"quotes\" \\ slashes";
    let (status, body) = app
        .post(
            &path,
            &user.auth,
            json!({"message": text, "actor": "assistant"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = app.get(&path, &user.auth).await;
    assert_eq!(listed["chatMessages"][0]["message"], text);
    let (_, chats) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    assert_eq!(chats["chats"][0]["name"], "😀 chat");
}

async fn a_bad_batch_writes_nothing(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.limits.max_batch_messages = 5).await;
    let user = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&user, "c").await;
    let path = format!("/api/users/{}/chats/{chat}/messages", user.id);
    let batch = json!({"messages": [
        {"content": "fine", "role": "user"},
        {"content": "```py\nfine\n```", "role": "assistant"},
        {"content": "bad", "role": "robot"},
    ]});
    let (status, body) = app.post(&path, &user.auth, batch).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["data"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("messages[2]")),
        "{body}"
    );
    let too_many: Vec<Value> = (0..6)
        .map(|i| json!({"content": format!("m{i}"), "role": "user"}))
        .collect();
    let (status, _) = app
        .post(&path, &user.auth, json!({"messages": too_many}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(app.message_ids(&user, chat).await.is_empty());
    let (_, files) = app
        .get(
            &format!("/api/users/{}/chats/{chat}/files", user.id),
            &user.auth,
        )
        .await;
    assert_eq!(files["chatFiles"], json!([]));
}

async fn odd_payloads_never_cause_a_server_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&user, "c").await;
    let payloads = [
        json!({"message": "```\n".repeat(2000), "actor": "assistant"}),
        json!({"message": "~~~~~~~~\n````\n```python title=\"\u{202e}x\"\n", "actor": "assistant"}),
        json!({"message": "> ```\n> - ```\n>   ```js\n", "actor": "assistant"}),
        json!({"message": 1e308, "actor": "user"}),
        json!({"messages": [{"content": "a", "role": "user", "extra": {"deep": [1, 2, {"x": null}]}}]}),
        json!({"name": "\u{feff}"}),
        json!({"chat_ids": [i64::MAX]}),
    ];
    let paths = [
        format!("/api/users/{}/chats/{chat}/messages", user.id),
        format!("/api/users/{}/chats", user.id),
        format!("/api/users/{}/chats/{chat}", user.id),
        format!("/api/users/{}/chats/{}/messages/last", user.id, i64::MAX),
        format!("/api/users/{}/chats/99999999999999999999/messages", user.id),
    ];
    for path in &paths {
        for method in [Method::POST, Method::PATCH, Method::DELETE, Method::GET] {
            for payload in &payloads {
                let (status, body) = app
                    .call(method.clone(), path, &user.auth, Some(payload.clone()))
                    .await;
                assert!(
                    status.as_u16() < 500,
                    "{method} {path} {payload} -> {status} {body}"
                );
                assert!(
                    body.is_object() || body.is_boolean(),
                    "{method} {path} -> {body}"
                );
            }
        }
    }
}
