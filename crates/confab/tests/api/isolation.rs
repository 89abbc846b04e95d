//! Access control of the user API as a matrix: every route × every kind of caller.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use confab::domain::Timestamp;
use confab::store::NewSession;

use crate::support::{Auth, Backend, TestApp, TestUser};

crate::per_backend!(user_api_access_matrix);

/// A route of the user API; `{u}` and `{c}` are filled per cell.
struct Route {
    method: Method,
    path: &'static str,
    body: Option<Value>,
    /// Status for the owner on a chat with messages.
    owner: StatusCode,
}

fn routes() -> Vec<Route> {
    let r = |method: Method, path, body, owner| Route {
        method,
        path,
        body,
        owner,
    };
    vec![
        r(Method::GET, "/api/users/{u}/chats", None, StatusCode::OK),
        r(
            Method::POST,
            "/api/users/{u}/chats",
            Some(json!({"name": "x"})),
            StatusCode::OK,
        ),
        r(
            Method::DELETE,
            "/api/users/{u}/chats",
            Some(json!({"chat_ids": ["{c}"]})),
            StatusCode::OK,
        ),
        r(
            Method::PATCH,
            "/api/users/{u}/chats/{c}",
            Some(json!({"name": "renamed"})),
            StatusCode::OK,
        ),
        r(
            Method::DELETE,
            "/api/users/{u}/chats/{c}",
            None,
            StatusCode::OK,
        ),
        r(
            Method::GET,
            "/api/users/{u}/chats/{c}/messages",
            None,
            StatusCode::OK,
        ),
        r(
            Method::POST,
            "/api/users/{u}/chats/{c}/messages",
            Some(json!({"message": "hi", "actor": "user"})),
            StatusCode::OK,
        ),
        r(
            Method::DELETE,
            "/api/users/{u}/chats/{c}/messages/last",
            None,
            StatusCode::OK,
        ),
        r(
            Method::GET,
            "/api/users/{u}/chats/{c}/files",
            None,
            StatusCode::OK,
        ),
    ]
}

fn fill(template: &str, user: i64, chat: i64) -> String {
    template
        .replace("{u}", &user.to_string())
        .replace("{c}", &chat.to_string())
}

fn fill_body(body: &Option<Value>, chat: i64) -> Option<Value> {
    body.as_ref().map(|b| {
        let text = b.to_string().replace("\"{c}\"", &chat.to_string());
        serde_json::from_str(&text).expect("body json")
    })
}

/// Everything a user can see of their data, to prove a cell changed nothing.
async fn snapshot(app: &TestApp, user: &TestUser) -> Value {
    let (_, chats) = app
        .get(
            &format!("/api/users/{}/chats?order_by=id:asc", user.id),
            &user.auth,
        )
        .await;
    let mut all = vec![chats.clone()];
    for chat in chats["chats"].as_array().expect("chats") {
        let id = chat["id"].as_i64().expect("id");
        let (_, messages) = app
            .get(
                &format!("/api/users/{}/chats/{id}/messages", user.id),
                &user.auth,
            )
            .await;
        all.push(messages);
    }
    json!(all)
}

async fn user_api_access_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann@example.com").await;
    let bob = app.sign_up("bob@example.com").await;
    let bob_chat = app.create_chat(&bob, "bob's").await;
    app.post_message(&bob, bob_chat, "user", "bob's question")
        .await;
    app.post_message(&bob, bob_chat, "assistant", "```sh\nbob's answer\n```")
        .await;
    let ann_chat = app.create_chat(&ann, "ann's").await;

    // Sessions that must not work: garbage, expired, revoked.
    let store = app.store();
    let (expired_token, expired_hash) = confab::auth::session::new_token();
    store
        .create_session(NewSession {
            token_hash: expired_hash,
            user_id: bob.id,
            expires_at: Timestamp::now().plus_seconds(-1),
        })
        .await
        .expect("expired session");
    let revoked = app.sign_up("carl@example.com").await;
    let (status, _) = app
        .call(Method::POST, "/api/auth/logout", &revoked.auth, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let unauthenticated = [
        ("no cookie", Auth::None),
        ("garbage cookie", Auth::Cookie("not-a-session".into())),
        ("oversized cookie", Auth::Cookie("x".repeat(5000))),
        ("expired session", Auth::Cookie(expired_token)),
        ("revoked session", revoked.auth.clone()),
    ];

    let before = snapshot(&app, &bob).await;
    let mut cells = 0;
    for route in routes() {
        for (label, auth) in &unauthenticated {
            let path = fill(route.path, bob.id, bob_chat);
            let (status, body) = app
                .call(
                    route.method.clone(),
                    &path,
                    auth,
                    fill_body(&route.body, bob_chat),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{label}: {} {path} -> {body}",
                route.method
            );
            assert_eq!(body["statusCode"], 401, "{body}");
            cells += 1;
        }
        // Ann naming Bob's user id: 404, whatever the chat.
        let path = fill(route.path, bob.id, bob_chat);
        let (status, body) = app
            .call(
                route.method.clone(),
                &path,
                &ann.auth,
                fill_body(&route.body, bob_chat),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "other user id: {} {path} -> {body}",
            route.method
        );
        cells += 1;
        // Ann naming her own id and Bob's chat: 404 on chat routes; the bulk delete
        // answers true but must not touch Bob's chat (checked by the snapshot below).
        let path = fill(route.path, ann.id, bob_chat);
        let (status, body) = app
            .call(
                route.method.clone(),
                &path,
                &ann.auth,
                fill_body(&route.body, bob_chat),
            )
            .await;
        if route.path.contains("{c}") {
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "other user's chat: {} {path} -> {body}",
                route.method
            );
            assert_eq!(body["data"]["message"], "Chat not found");
        } else {
            assert!(
                status.is_success(),
                "{} {path} -> {status} {body}",
                route.method
            );
        }
        cells += 1;
    }
    assert_eq!(
        snapshot(&app, &bob).await,
        before,
        "nothing of Bob's changed"
    );

    // The owner succeeds on every route (each on a fresh chat with an exchange in it).
    for route in routes() {
        let chat = app.create_chat(&ann, "fresh").await;
        app.post_message(&ann, chat, "user", "q").await;
        app.post_message(&ann, chat, "assistant", "a").await;
        let path = fill(route.path, ann.id, chat);
        let (status, body) = app
            .call(
                route.method.clone(),
                &path,
                &ann.auth,
                fill_body(&route.body, chat),
            )
            .await;
        assert_eq!(
            status, route.owner,
            "owner: {} {path} -> {body}",
            route.method
        );
        cells += 1;
    }
    // Non-numeric and non-positive ids are 400 for the owner too.
    for bad in ["abc", "0", "-4", "1.5"] {
        for path in [
            format!("/api/users/{bad}/chats"),
            format!("/api/users/{}/chats/{bad}/messages", ann.id),
        ] {
            let (status, body) = app.get(&path, &ann.auth).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} -> {body}");
            assert_eq!(body["statusCode"], 400);
            cells += 1;
        }
    }
    let _ = ann_chat;
    // 9 routes × (5 unauthenticated + 2 other-user + 1 owner) + 4 bad ids × 2 paths.
    assert_eq!(cells, 9 * 8 + 4 * 2, "every cell of the matrix ran");
}
