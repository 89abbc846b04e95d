//! Tenant chat `metadata` comes back byte for byte as it was sent (numbers keep every
//! digit) from every place that shows it, and a key twice in any object is refused.

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Auth, Backend, TestApp, TestDatabase};
use crate::tenant_support::{assert_tenant_error, default_tenant_key, ws, PATIENCE};

crate::per_backend!(
    metadata_is_returned_byte_for_byte_everywhere,
    duplicate_metadata_keys_are_refused_at_every_level
);

/// Exactly as a client might write it: a 30-digit integer, a trailing zero, an exponent
/// out of `f64`'s range, an escape, odd spacing and key order.
const METADATA: &str =
    r#"{"z": 123456789012345678901234567890,"a":1.10, "e":1E400,"s":"\u00e9","n":{"k":[1, 2.50]}}"#;

/// Sends a raw JSON body; returns the status and the body's text.
async fn post_raw(app: &TestApp, path: &str, auth: &Auth, body: &str) -> (StatusCode, String) {
    let response = auth
        .apply(app.client.post(app.url(path)))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("sent");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

async fn get_text(app: &TestApp, path: &str, auth: &Auth) -> String {
    let response = auth
        .apply(app.client.get(app.url(path)))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.expect("body")
}

#[track_caller]
fn assert_verbatim(text: &str, what: &str) {
    assert!(
        text.contains(&format!(r#""metadata":{METADATA}"#)),
        "{what} shows the metadata as sent: {text}"
    );
}

async fn metadata_is_returned_byte_for_byte_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("ann@example.com").await;
    let key = default_tenant_key(&app).await;
    let (status, created) = post_raw(
        &app,
        "/api/v1/chats",
        &key,
        &format!(
            r#"{{"name":"exact","user_id":{},"metadata":{METADATA}}}"#,
            user.id
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_verbatim(&created, "the created chat");
    // `1E400` does not fit a `Value`; only the id is read (the rest is skipped).
    #[derive(serde::Deserialize)]
    struct Created {
        id: String,
    }
    let uuid = serde_json::from_str::<Created>(&created).expect("JSON").id;
    let chat_id = {
        let (status, list) = app
            .get(&format!("/api/users/{}/chats", user.id), &user.auth)
            .await;
        assert_eq!(status, StatusCode::OK);
        list["chats"][0]["id"].as_i64().expect("the user's chat")
    };

    for path in [
        format!("/api/v1/chats/{uuid}"),
        "/api/v1/chats".to_owned(),
        format!("/api/v1/chats/{uuid}/export"),
    ] {
        assert_verbatim(&get_text(&app, &path, &key).await, &path);
    }

    // A tenant WebSocket's `chat.updated` frame carries it too.
    let mut socket = ws(&app, &format!("/api/v1/chats/{uuid}/ws"), &key).await;
    let (status, _) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/users/{}/chats/{chat_id}", user.id),
            &user.auth,
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let frame = loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => break text.as_str().to_owned(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no chat.updated frame: {other:?}"),
        }
    };
    assert!(frame.contains("chat.updated"), "{frame}");
    assert_verbatim(&frame, "the chat.updated frame");

    // `confab copy` moves the text as it is.
    let target = TestDatabase::create(backend).await;
    confab::copy::copy(&app.database_url, &target.url)
        .await
        .expect("copy");
    let store = confab::store::connect(&target.url, 1)
        .await
        .expect("target");
    let copied = store
        .get_chat(&confab::store::ChatRef::Tenant {
            tenant_id: store.default_tenant().await.expect("tenant").id,
            chat_uuid: uuid.parse().expect("uuid"),
        })
        .await
        .expect("copied chat");
    assert_eq!(
        copied.metadata.as_ref().map(|m| m.to_string()).as_deref(),
        Some(METADATA)
    );
}

async fn duplicate_metadata_keys_are_refused_at_every_level(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    for metadata in [
        r#"{"a":1,"a":2}"#,
        r#"{"n":{"a":1,"a":2}}"#,
        r#"{"n":[{"k":true,"\u006b":false}]}"#,
    ] {
        let (status, body) = post_raw(
            &app,
            "/api/v1/chats",
            &key,
            &format!(r#"{{"name":"dup","metadata":{metadata}}}"#),
        )
        .await;
        let body: Value = serde_json::from_str(&body).expect("JSON error");
        assert_tenant_error((status, body), StatusCode::BAD_REQUEST, "invalid_metadata");
    }
    let deep = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
    let (status, body) = post_raw(
        &app,
        "/api/v1/chats",
        &key,
        &format!(r#"{{"metadata":{deep}}}"#),
    )
    .await;
    let body: Value = serde_json::from_str(&body).expect("JSON error");
    assert_tenant_error((status, body), StatusCode::BAD_REQUEST, "invalid_metadata");
    // The same keys in different objects are fine.
    let (status, body) = post_raw(
        &app,
        "/api/v1/chats",
        &key,
        r#"{"metadata":{"a":{"k":1},"b":{"k":1}}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
