//! Live events over WebSocket (SPEC §3): presence and the 409 rule, forced deletion,
//! events from both APIs on both routes, slow and silent peers, authentication.

use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::*;

crate::per_backend!(
    an_open_socket_blocks_deletion_until_it_closes,
    forced_deletion_sends_chat_deleted_then_closes_normally,
    events_from_both_apis_arrive_in_order_on_both_routes,
    a_slow_consumer_is_cut_off_while_others_keep_receiving,
    silent_peers_are_dropped_and_answering_ones_kept,
    upgrades_are_refused_as_http_errors,
    server_shutdown_closes_sockets_with_1001,
    oversized_client_messages_are_closed_with_1009,
);

async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

async fn an_open_socket_blocks_deletion_until_it_closes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    let path = format!("/api/v1/chats/{chat}");

    let first = ws(&app, &format!("{path}/ws"), &key).await;
    let second = ws(&app, &format!("{path}/ws"), &key).await;
    assert_eq!(active_connections(&app, &key, &chat).await, 2);
    assert_eq!(metric(&app, "confab_websocket_connections ").await, 2);

    assert_tenant_error(
        app.delete(&path, &key).await,
        StatusCode::CONFLICT,
        "chat_has_active_connections",
    );
    close_ws(first).await;
    assert_eq!(active_connections(&app, &key, &chat).await, 1);
    assert_tenant_error(
        app.delete(&path, &key).await,
        StatusCode::CONFLICT,
        "chat_has_active_connections",
    );
    close_ws(second).await;
    assert_eq!(active_connections(&app, &key, &chat).await, 0);
    eventually("the gauge drops to zero", || async {
        metric(&app, "confab_websocket_connections ").await == 0
    })
    .await;

    let (status, body) = app.delete(&path, &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Chat deleted successfully");
}

async fn forced_deletion_sends_chat_deleted_then_closes_normally(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    let mut socket = ws(&app, &format!("/api/v1/chats/{chat}/ws"), &key).await;

    let (status, body) = app
        .delete(&format!("/api/v1/chats/{chat}?force=true"), &key)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);

    let event = next_json(&mut socket).await;
    assert_eq!(event["type"], "chat.deleted");
    assert_eq!(event["chat_id"], chat.as_str());
    assert_eq!(
        next_seen(&mut socket).await,
        Seen::Close(1000, "chat deleted".to_owned())
    );
    assert_tenant_error(
        app.get(&format!("/api/v1/chats/{chat}"), &key).await,
        StatusCode::NOT_FOUND,
        "chat_not_found",
    );
}

async fn events_from_both_apis_arrive_in_order_on_both_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("eve@example.com").await;
    let chat_id = app.create_chat(&user, "live").await;
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    let uuid = listed["chats"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();

    let mut by_key = ws(&app, &format!("/api/v1/chats/{uuid}/ws"), &key).await;
    let mut by_cookie = ws(
        &app,
        &format!("/api/users/{}/chats/{chat_id}/ws", user.id),
        &user.auth,
    )
    .await;
    // The chat's owner may also use the tenant route with the session cookie.
    let mut owner_on_v1 = ws(&app, &format!("/api/v1/chats/{uuid}/ws"), &user.auth).await;

    let first = app
        .post_message(&user, chat_id, "user", "from the app")
        .await;
    let second = post_v1_message(&app, &key, &uuid, "assistant", "from the server").await;
    let (status, _) = app
        .delete(&format!("/api/v1/chats/{uuid}/messages/last"), &key)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/users/{}/chats/{chat_id}", user.id),
            &user.auth,
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .delete(
            &format!("/api/users/{}/chats/{chat_id}", user.id),
            &user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    for (socket, chat_ref) in [
        (&mut by_key, json!(uuid)),
        (&mut by_cookie, json!(chat_id)),
        (&mut owner_on_v1, json!(uuid)),
    ] {
        let mut events: Vec<Value> = Vec::new();
        for _ in 0..5 {
            events.push(next_json(socket).await);
        }
        let types: Vec<&str> = events
            .iter()
            .map(|e| e["type"].as_str().expect("type"))
            .collect();
        assert_eq!(
            types,
            [
                "message.created",
                "message.created",
                "messages.deleted",
                "chat.updated",
                "chat.deleted"
            ]
        );
        assert!(
            events.iter().all(|e| e["chat_id"] == chat_ref),
            "{events:?}"
        );
        let seqs: Vec<i64> = events
            .iter()
            .map(|e| e["seq"].as_i64().expect("seq"))
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert_eq!(events[0]["message"]["id"], first);
        assert_eq!(events[0]["message"]["message"], "from the app");
        assert_eq!(events[1]["message"]["id"], second["id"]);
        assert_eq!(events[2]["message_ids"], json!([first, second["id"]]));
        assert_eq!(events[3]["chat"]["name"], "renamed");
        assert_eq!(
            next_seen(socket).await,
            Seen::Close(1000, "chat deleted".to_owned())
        );
    }
}

async fn a_slow_consumer_is_cut_off_while_others_keep_receiving(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.limits.ws_buffer_frames = 2).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    let path = format!("/api/v1/chats/{chat}/ws");

    // The slow client shrinks its receive buffer and then never reads.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let stream = socket.connect(app.address).await.expect("connect");
    let (mut slow, _) = tokio_tungstenite::client_async(
        ws_request(&app, &path, &key),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .expect("slow client upgraded");
    slow.send(Message::text(r#"{"type":"ping"}"#))
        .await
        .expect("ping");
    assert_eq!(next_json(&mut slow).await, json!({"type": "pong"}));
    let mut fast = ws(&app, &path, &key).await;
    assert_eq!(active_connections(&app, &key, &chat).await, 2);

    let text = "x".repeat(32 * 1024);
    let mut posted = Vec::new();
    while active_connections(&app, &key, &chat).await == 2 {
        assert!(
            posted.len() < 500,
            "the slow consumer was never cut off ({} messages)",
            posted.len()
        );
        let message = post_v1_message(&app, &key, &chat, "user", &text).await;
        let event = next_json(&mut fast).await;
        assert_eq!(event["type"], "message.created");
        assert_eq!(
            event["message"]["id"], message["id"],
            "the fast socket keeps up"
        );
        posted.push(message["id"].clone());
    }
    // The fast socket goes on receiving.
    let after = post_v1_message(&app, &key, &chat, "user", "still there?").await;
    assert_eq!(next_json(&mut fast).await["message"]["id"], after["id"]);
    // The stuck connection is not left hanging on its full socket: its task ends
    // (well before the silence timeout would end it).
    eventually("the slow connection's task ends", || async {
        metric(&app, "confab_websocket_connections ").await == 1
    })
    .await;

    // The slow socket, read at last, has fewer events than were posted and then ends
    // (with the too-slow close code if its close frame got through).
    let mut received = 0;
    loop {
        match next_seen(&mut slow).await {
            Seen::Json(event) => {
                assert_eq!(event["type"], "message.created");
                received += 1;
            }
            Seen::Close(code, _) => {
                assert_eq!(code, 4008);
                break;
            }
            Seen::Gone => break,
        }
    }
    assert!(
        received < posted.len(),
        "{received} of {} delivered",
        posted.len()
    );
}

async fn silent_peers_are_dropped_and_answering_ones_kept(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.limits.ws_ping_interval_seconds = 1;
    })
    .await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    let path = format!("/api/v1/chats/{chat}/ws");

    // One client reads all the time (so its library answers pings), the other never does.
    let mut silent = ws(&app, &path, &key).await;
    let answering = ws(&app, &path, &key).await;
    let (pings_tx, mut pings) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (mut sink, mut stream) = answering.split();
    let reader = tokio::spawn(async move {
        let mut texts = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            match message {
                Message::Ping(_) => {
                    let _ = pings_tx.send(());
                }
                Message::Text(text) => texts.push(text.as_str().to_owned()),
                _ => {}
            }
        }
        texts
    });
    assert_eq!(active_connections(&app, &key, &chat).await, 2);

    eventually("the silent peer is dropped", || async {
        active_connections(&app, &key, &chat).await == 1
    })
    .await;
    // Two more ping intervals later, the answering peer is still counted and served.
    for _ in 0..2 {
        tokio::time::timeout(PATIENCE, pings.recv())
            .await
            .expect("pinged")
            .expect("reader alive");
    }
    assert_eq!(active_connections(&app, &key, &chat).await, 1);
    sink.send(Message::text(r#"{"type":"ping"}"#))
        .await
        .expect("ping");
    post_v1_message(&app, &key, &chat, "user", "hello").await;
    sink.close().await.expect("close");
    let texts = tokio::time::timeout(PATIENCE, reader)
        .await
        .expect("reader ends")
        .expect("reader task");
    assert_eq!(texts[0], r#"{"type":"pong"}"#);
    assert!(
        texts[1].contains(r#""type":"message.created""#),
        "{texts:?}"
    );

    // The silent peer's connection was dropped: reading finds the pings it never
    // answered (skipped), then the end.
    let end = next_seen(&mut silent).await;
    assert!(matches!(end, Seen::Gone | Seen::Close(..)), "{end:?}");
}

async fn upgrades_are_refused_as_http_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let owner = app.sign_up("owner@example.com").await;
    let other = app.sign_up("other@example.com").await;
    let chat_id = app.create_chat(&owner, "mine").await;
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", owner.id), &owner.auth)
        .await;
    let uuid = listed["chats"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();

    let tenant_route = format!("/api/v1/chats/{uuid}/ws");
    let user_route = format!("/api/users/{}/chats/{chat_id}/ws", owner.id);
    let cases: Vec<(String, Auth, u16)> = vec![
        (tenant_route.clone(), Auth::None, 401),
        (tenant_route.clone(), Auth::Key("cfb_nope".into()), 401),
        (tenant_route.clone(), other.auth.clone(), 404),
        ("/api/v1/chats/42/ws".into(), key.clone(), 400),
        (
            format!("/api/v1/chats/{}/ws", uuid::Uuid::new_v4()),
            key.clone(),
            404,
        ),
        (user_route.clone(), Auth::None, 401),
        (user_route.clone(), key.clone(), 401),
        (
            format!("/api/users/{}/chats/{chat_id}/ws", other.id),
            other.auth.clone(),
            404,
        ),
        (
            format!("/api/users/{}/chats/{chat_id}/ws", owner.id),
            other.auth.clone(),
            404,
        ),
        (
            format!("/api/users/{}/chats/abc/ws", owner.id),
            owner.auth.clone(),
            400,
        ),
        (
            format!("/api/users/{}/chats/999999/ws", owner.id),
            owner.auth.clone(),
            404,
        ),
    ];
    for (path, auth, status) in cases {
        let refused = try_ws(&app, &path, &auth)
            .await
            .err()
            .unwrap_or_else(|| panic!("{path} with {auth:?} was upgraded"));
        assert_eq!(refused.0, status, "{path} with {auth:?}: {}", refused.1);
        if path.starts_with("/api/v1/") {
            assert_eq!(refused.1["success"], false, "{}", refused.1);
        } else {
            assert_eq!(refused.1["statusCode"], status, "{}", refused.1);
        }
    }
    // Without an upgrade, each route still answers who may see what first.
    let (status, body) = app
        .get(
            &format!("/api/users/{}/chats/999999/ws", owner.id),
            &owner.auth,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.get(&user_route, &owner.auth).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["statusCode"], 400);
    // The right credentials on each route are upgraded.
    close_ws(ws(&app, &tenant_route, &key).await).await;
    close_ws(ws(&app, &tenant_route, &owner.auth).await).await;
    close_ws(ws(&app, &user_route, &owner.auth).await).await;
}

async fn server_shutdown_closes_sockets_with_1001(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    let mut socket = ws(&app, &format!("/api/v1/chats/{chat}/ws"), &key).await;
    app.stop().await;
    assert_eq!(
        next_seen(&mut socket).await,
        Seen::Close(1001, "server shutting down".to_owned())
    );
}

async fn oversized_client_messages_are_closed_with_1009(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user, chat_id, uuid) = user_with_chat(&app, "ann@example.com").await;
    let limit = confab::http::ws::MAX_INCOMING_BYTES;
    let too_big = || {
        // One frame over the limit; then a message of frames each within it.
        let whole = Message::text("x".repeat(limit + 1));
        let half = "x".repeat(limit / 2 + 1);
        let first = Frame::message(half.clone(), OpCode::Data(OpData::Text), false);
        let rest = Frame::message(half, OpCode::Data(OpData::Continue), true);
        [
            vec![whole],
            vec![Message::Frame(first), Message::Frame(rest)],
        ]
    };
    let routes = [
        (format!("/api/v1/chats/{uuid}/ws"), key.clone()),
        (
            format!("/api/users/{}/chats/{chat_id}/ws", user.id),
            user.auth.clone(),
        ),
    ];
    for (path, auth) in &routes {
        for messages in too_big() {
            let mut socket = ws(&app, path, auth).await;
            assert_eq!(active_connections(&app, &key, &uuid).await, 1);
            for message in messages {
                // The send may fail once the server has closed mid-frame.
                let _ = socket.send(message).await;
            }
            assert_eq!(
                next_seen(&mut socket).await,
                Seen::Close(1009, "message too big".to_owned()),
                "{path}"
            );
            assert_eq!(active_connections(&app, &key, &uuid).await, 0);
        }
    }
    // A message of exactly the limit is accepted.
    let mut socket = ws(&app, &routes[0].0, &key).await;
    socket
        .send(Message::text("x".repeat(limit)))
        .await
        .expect("sent");
    socket
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .expect("ping");
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
}
