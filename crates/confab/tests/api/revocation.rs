//! Revoked credentials end live sockets: a key revoked by `confab key revoke` (another
//! process, writing the database directly), a session logged out or expired. Their
//! WebSockets are closed with 4001 `credential revoked`, receive nothing more, and stop
//! counting for the 409 rule at once; other credentials' sockets are untouched.

use futures_util::SinkExt as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Auth, Backend, TestApp, TestUser};
use crate::tenant_support::*;

crate::per_backend!(
    a_key_revoked_by_the_cli_closes_its_sockets_with_4001,
    logout_closes_the_sessions_sockets_on_both_routes,
    an_expired_session_closes_its_sockets,
    a_user_erased_by_the_cli_loses_their_sockets,
);

/// What a revoked credential's socket sees from now on: any frames already under way,
/// then the close (with how long it took to come), then nothing.
async fn until_closed(socket: &mut Ws) -> (Vec<Value>, Seen, Duration) {
    let started = Instant::now();
    let mut frames = Vec::new();
    loop {
        match next_seen(socket).await {
            Seen::Json(frame) => frames.push(frame),
            end => {
                let took = started.elapsed();
                assert_eq!(
                    next_seen(socket).await,
                    Seen::Gone,
                    "nothing after the close"
                );
                return (frames, end, took);
            }
        }
    }
}

fn revoked() -> Seen {
    Seen::Close(4001, "credential revoked".to_owned())
}

/// Answers an application ping: the socket is open and served.
async fn assert_open(socket: &mut Ws) {
    socket
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .expect("ping sent");
    assert_eq!(next_json(socket).await, json!({"type": "pong"}));
}

async fn a_key_revoked_by_the_cli_closes_its_sockets_with_4001(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = app.store();
    let tenant = store.create_tenant("acme").await.expect("tenant");
    let [(doomed_id, doomed), (_, kept)] = two_keys(store.as_ref(), tenant.id).await;
    let chat = chat_uuid(&create_v1_chat(&app, &kept, json!({})).await);
    let path = format!("/api/v1/chats/{chat}/ws");
    let mut first = ws(&app, &path, &doomed).await;
    let mut second = ws(&app, &path, &doomed).await;
    let mut other = ws(&app, &path, &kept).await;
    assert_eq!(active_connections(&app, &kept, &chat).await, 3);

    let stdout = revoke_with_cli(&app.database_url, doomed_id).await;
    assert!(stdout.contains("revoked_at"), "{stdout}");

    for socket in [&mut first, &mut second] {
        let (frames, end, took) = until_closed(socket).await;
        assert_eq!(end, revoked());
        assert!(frames.is_empty(), "nothing was posted: {frames:?}");
        println!("{backend:?}: closed {took:?} after `confab key revoke` returned");
    }
    // The closed sockets stopped counting before their close frame was sent.
    assert_eq!(active_connections(&app, &kept, &chat).await, 1);

    // The other key's socket is untouched and still receives events.
    assert_open(&mut other).await;
    let posted = post_v1_message(&app, &kept, &chat, "user", "still here").await;
    assert_eq!(next_json(&mut other).await["message"]["id"], posted["id"]);
    // The revoked key opens nothing new.
    assert_eq!(
        try_ws(&app, &path, &doomed).await.err().map(|e| e.0),
        Some(401)
    );
    close_ws(other).await;
    let (status, body) = app.delete(&format!("/api/v1/chats/{chat}"), &kept).await;
    assert_eq!(status, StatusCode::OK, "no socket left to count: {body}");
}

/// A second session of the same user.
async fn log_in(app: &TestApp, user: &TestUser) -> Auth {
    let response = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": user.email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("login sent");
    assert_eq!(response.status(), StatusCode::OK);
    Auth::Cookie(crate::support::session_cookie(&response).expect("cookie"))
}

async fn logout_closes_the_sessions_sockets_on_both_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user, chat_id, uuid) = user_with_chat(&app, "ann@example.com").await;
    let other_session = log_in(&app, &user).await;
    let user_route = format!("/api/users/{}/chats/{chat_id}/ws", user.id);
    let tenant_route = format!("/api/v1/chats/{uuid}/ws");

    let mut on_user_route = ws(&app, &user_route, &user.auth).await;
    let mut on_tenant_route = ws(&app, &tenant_route, &user.auth).await;
    let mut other = ws(&app, &user_route, &other_session).await;
    assert_eq!(active_connections(&app, &key, &uuid).await, 3);

    let (status, body) = app
        .call(reqwest::Method::POST, "/api/auth/logout", &user.auth, None)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    for socket in [&mut on_user_route, &mut on_tenant_route] {
        let (frames, end, _) = until_closed(socket).await;
        assert_eq!(end, revoked());
        assert!(frames.is_empty(), "{frames:?}");
    }
    assert_eq!(active_connections(&app, &key, &uuid).await, 1);

    assert_open(&mut other).await;
    let message = app
        .post_message(&user_with(&user, &other_session), chat_id, "user", "hi")
        .await;
    assert_eq!(next_json(&mut other).await["message"]["id"], message);
    close_ws(other).await;
    let (status, body) = app.delete(&format!("/api/v1/chats/{uuid}"), &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn user_with(user: &TestUser, auth: &Auth) -> TestUser {
    TestUser {
        id: user.id,
        email: user.email.clone(),
        auth: auth.clone(),
    }
}

async fn an_expired_session_closes_its_sockets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user, chat_id, uuid) = user_with_chat(&app, "bo@example.com").await;
    // A session that ends three seconds from now.
    let (token, token_hash) = confab::auth::session::new_token();
    app.store()
        .create_session(confab::store::NewSession {
            token_hash,
            user_id: user.id,
            expires_at: confab::domain::Timestamp::now().plus_seconds(3),
        })
        .await
        .expect("session");
    let short = Auth::Cookie(token);
    let mut doomed = ws(
        &app,
        &format!("/api/users/{}/chats/{chat_id}/ws", user.id),
        &short,
    )
    .await;
    let mut kept = ws(&app, &format!("/api/v1/chats/{uuid}/ws"), &user.auth).await;

    let (frames, end, _) = until_closed(&mut doomed).await;
    assert_eq!(end, revoked());
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(active_connections(&app, &key, &uuid).await, 1);
    assert_open(&mut kept).await;
}

/// `confab user delete` writes the database from another process: the server's watcher
/// reads the erasure and closes the user's sockets and every socket on their chats; the
/// sockets of others stay open.
async fn a_user_erased_by_the_cli_loses_their_sockets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, ann, chat_id, uuid) = user_with_chat(&app, "ann@example.com").await;
    let (_, ben, ben_chat, ben_uuid) = user_with_chat(&app, "ben@example.com").await;
    let mut ann_socket = ws(
        &app,
        &format!("/api/users/{}/chats/{chat_id}/ws", ann.id),
        &ann.auth,
    )
    .await;
    let mut key_on_ann = ws(&app, &format!("/api/v1/chats/{uuid}/ws"), &key).await;
    let mut ben_socket = ws(
        &app,
        &format!("/api/users/{}/chats/{ben_chat}/ws", ben.id),
        &ben.auth,
    )
    .await;
    let mut key_on_ben = ws(&app, &format!("/api/v1/chats/{ben_uuid}/ws"), &key).await;

    let url = app.database_url.clone();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || {
        crate::support::process::run_cli(
            &[
                "user",
                "delete",
                "--email",
                "ann@example.com",
                "--database-url",
                &url,
            ],
            None,
        )
    })
    .await
    .expect("cli task");
    assert!(ok, "confab user delete: {stderr}");
    assert!(stdout.contains("\"chats\":1"), "{stdout}");

    // The key's socket on Ann's chat is told the chat is gone.
    let (frames, end, took) = until_closed(&mut key_on_ann).await;
    assert_eq!(end, Seen::Close(1000, "chat deleted".to_owned()));
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(
        (&frames[0]["type"], &frames[0]["chat_id"]),
        (&json!("chat.deleted"), &json!(uuid))
    );
    println!("{backend:?}: closed {took:?} after `confab user delete` returned");
    // Ann's own socket ends either way: her chat went, and her session with her.
    let (frames, end, _) = until_closed(&mut ann_socket).await;
    assert!(
        end == revoked() || end == Seen::Close(1000, "chat deleted".to_owned()),
        "{end:?} after {frames:?}"
    );
    for socket in [&mut ben_socket, &mut key_on_ben] {
        assert_open(socket).await;
    }
    assert_eq!(active_connections(&app, &key, &ben_uuid).await, 2);
}
