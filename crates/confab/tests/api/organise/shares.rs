//! Share links: a public, read-only snapshot of the active path that shows no user ids
//! or emails, until revoked or the chat goes; reads are rate-limited per client.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{retry_after, Auth, Backend, TestApp};
use crate::tenant_support::default_tenant_key;

async fn read_share(app: &TestApp, id: &str) -> (StatusCode, Value) {
    app.get(&format!("/api/shared/{id}"), &Auth::None).await
}

pub(super) async fn a_share_is_a_public_snapshot_until_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann.secret@example.com").await;
    let ben = app.sign_up("ben@example.com").await;
    let chat = app.create_chat(&ann, "Deploy notes").await;
    app.post_message(&ann, chat, "user", "how do I deploy?")
        .await;
    app.post_message(
        &ann,
        chat,
        "assistant",
        "Run this:\n```sh\nmake deploy\n```",
    )
    .await;
    let share_path = format!("/api/users/{}/chats/{chat}/share", ann.id);
    let (status, created) = app.post(&share_path, &ann.auth, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["share_id"].as_str().expect("share id").to_owned();
    assert_eq!(id.len(), 32, "192 random bits, base64url");
    assert_eq!(
        created["url"],
        format!("http://{}/api/shared/{id}", app.address),
        "the link as the client reached the server"
    );

    let response = app
        .client
        .get(app.url(&format!("/api/shared/{id}")))
        .send()
        .await
        .expect("read");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let text = response.text().await.expect("body");
    for private in [
        "ann.secret",
        "user_id",
        "neptun_user_id",
        "email",
        "chat_conversation_id",
    ] {
        assert!(!text.contains(private), "the share shows {private}: {text}");
    }
    let shared: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        shared["chat"],
        json!({"name": "Deploy notes", "model": "test-model"})
    );
    let messages = shared["chatMessages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["message"], "how do I deploy?");
    assert_eq!(messages[1]["actor"], "assistant");
    assert_eq!(messages[1]["files"][0]["text"], "make deploy\n");

    // A snapshot: later messages are not in it; a new share has them.
    app.post_message(&ann, chat, "user", "thanks").await;
    assert_eq!(
        read_share(&app, &id).await.1["chatMessages"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let (_, second) = app.post(&share_path, &ann.auth, json!({})).await;
    let second = second["share_id"].as_str().expect("id").to_owned();
    assert_ne!(second, id);
    assert_eq!(
        read_share(&app, &second).await.1["chatMessages"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    // Only the owner revokes: another user naming the chat under their own id gets 404.
    let revoke = |user: i64, share: &str| format!("/api/users/{user}/chats/{chat}/share/{share}");
    let (status, _) = app
        .call(Method::DELETE, &revoke(ben.id, &id), &ben.auth, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(read_share(&app, &id).await.0, StatusCode::OK);
    let (status, body) = app
        .call(Method::DELETE, &revoke(ann.id, &id), &ann.auth, None)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    let (status, body) = read_share(&app, &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["data"]["message"], "Share not found");
    let (status, _) = app
        .call(Method::DELETE, &revoke(ann.id, &id), &ann.auth, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "revoked once");
    for garbage in ["nope", &"A".repeat(32), &"A".repeat(300), "%2e%2e"] {
        assert_eq!(
            read_share(&app, garbage).await.0,
            StatusCode::NOT_FOUND,
            "{garbage}"
        );
    }

    // The tenant API shares and revokes the same chat.
    let key = default_tenant_key(&app).await;
    let (_, chats) = app.get("/api/v1/chats", &key).await;
    let uuid = chats["data"][0]["id"].as_str().expect("uuid").to_owned();
    let (status, created) = app
        .post(&format!("/api/v1/chats/{uuid}/share"), &key, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let tenant_share = created["share_id"].as_str().expect("id").to_owned();
    assert_eq!(read_share(&app, &tenant_share).await.0, StatusCode::OK);
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/chats/{uuid}/share/{tenant_share}"),
            &key,
            None,
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/chats/{uuid}/share/{tenant_share}"),
            &key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "share_not_found");

    // Deleting the chat deletes its shares.
    assert_eq!(read_share(&app, &second).await.0, StatusCode::OK);
    let (status, _) = app
        .delete(&format!("/api/users/{}/chats/{chat}", ann.id), &ann.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read_share(&app, &second).await.0, StatusCode::NOT_FOUND);
}

pub(super) async fn share_reads_are_rate_limited_per_client(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.shared_ip_reads_per_minute = 3;
    })
    .await;
    let ann = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&ann, "chat").await;
    let (_, created) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/share", ann.id),
            &ann.auth,
            json!({}),
        )
        .await;
    let id = created["share_id"].as_str().expect("id").to_owned();
    // Found or not, every read counts: guessing ids is what the limit is for.
    assert_eq!(read_share(&app, &id).await.0, StatusCode::OK);
    assert_eq!(
        read_share(&app, &"B".repeat(32)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(read_share(&app, &id).await.0, StatusCode::OK);
    let response = app
        .client
        .get(app.url(&format!("/api/shared/{id}")))
        .send()
        .await
        .expect("read");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = retry_after(&response)
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    // The owner's own API is not throttled by it.
    let (status, _) = app
        .get(&format!("/api/users/{}/chats", ann.id), &ann.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
}

pub(super) async fn shares_are_bounded_in_number_and_size(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&ann, "chat").await;
    app.post_message(&ann, chat, "user", "hello").await;
    let path = format!("/api/users/{}/chats/{chat}/share", ann.id);
    for _ in 0..20 {
        let (status, body) = app.post(&path, &ann.auth, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app.post(&path, &ann.auth, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["statusCode"], 409);

    // An active path over 2 MiB as JSON is not shared.
    let big = app.create_chat(&ann, "big").await;
    for n in 0..5 {
        let text = format!("{n}{}", "x".repeat(480 * 1024));
        app.post_message(&ann, big, "user", &text).await;
    }
    let key = crate::tenant_support::default_tenant_key(&app).await;
    let (_, chats) = app.get("/api/v1/chats", &key).await;
    let uuid = chats["data"][0]["id"].as_str().expect("uuid").to_owned();
    let (status, body) = app
        .post(&format!("/api/v1/chats/{uuid}/share"), &key, json!({}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "share_too_large");
}
