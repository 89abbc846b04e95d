//! Long lists (messages, files, chats, exports) are streamed (chunked, read page by page) to exactly the bytes the
//! one-shot serialisers produce; `limit`/`before`/`after` select windows; a list that
//! loses rows while it streams is aborted rather than finished.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{user_error, Auth, Backend, TestApp, TestUser};
use crate::tenant_support::{chat_uuid, create_v1_chat, new_tenant};
use confab::domain::{ChatName, ModelName, OrderBy, Timestamp};
use confab::http::tenant_api::ChatExport;
use confab::http::user_api::{ChatsEnvelope, FilesEnvelope, MessagesEnvelope};
use confab::store::{ChatRef, NewChat};
use confab::views::markdown::to_markdown;

crate::per_backend!(
    long_message_lists_stream_the_one_shot_bytes,
    long_chat_lists_stream_the_one_shot_bytes,
    exports_stream_the_one_shot_bytes,
    message_windows_and_their_errors,
    chat_windows_follow_the_order,
    a_list_that_loses_messages_while_streaming_is_aborted,
);

/// A server whose lists stream after 1 KiB and whose cache keeps nothing over 1 KiB.
async fn small_pages(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.limits.list_page_kib = 1;
        config.limits.message_cache_entry_kib = 1;
    })
    .await
}

/// Messages with files, unicode, escapes and control characters.
fn varied_messages(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            if i % 3 == 1 {
                json!({"actor": "assistant", "message": format!(
                    "Réponse {i} ✓ 😀\n\n```python title=m{i}.py\n# {}\nprint(\"{i}\\t\\u0001\")\n```\n\nand\n\n```rust\nfn f() {{}}\n```",
                    "é".repeat(60)
                )})
            } else {
                json!({"actor": "user", "message": format!(
                    "question {i}: \"quotes\" \\ backslash \u{7} bell, 中文, {}", "x".repeat(300 + i * 7)
                )})
            }
        })
        .collect()
}

async fn post_batch(app: &TestApp, user: &TestUser, chat: i64, messages: Vec<Value>) {
    let (status, body) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/messages", user.id),
            &user.auth,
            json!({ "messages": messages }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// GET with the raw bytes and whether the body was chunked.
async fn get_raw(app: &TestApp, path: &str, auth: &Auth) -> (StatusCode, bool, Vec<u8>) {
    let response = auth
        .apply(app.client.get(app.url(path)))
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let chunked = response
        .headers()
        .get("transfer-encoding")
        .is_some_and(|v| v == "chunked");
    if chunked {
        assert!(response.headers().get("content-length").is_none());
    }
    let body = response.bytes().await.expect("complete body").to_vec();
    (status, chunked, body)
}

async fn long_message_lists_stream_the_one_shot_bytes(backend: Backend) {
    let app = small_pages(backend).await;
    let user = app.sign_up("stream@example.com").await;
    let chat = app.create_chat(&user, "long").await;
    post_batch(&app, &user, chat, varied_messages(40)).await;
    post_batch(&app, &user, chat, varied_messages(25)).await;
    let chat_ref = ChatRef::User {
        user_id: user.id,
        chat_id: chat,
    };
    let messages = app
        .store()
        .list_messages(&chat_ref)
        .await
        .expect("messages");
    assert!(messages.iter().any(|m| !m.files.is_empty()));
    let expected = serde_json::to_vec(&MessagesEnvelope::new(&messages)).expect("serialised");
    let path = format!("/api/users/{}/chats/{chat}/messages", user.id);
    for attempt in 0..2 {
        let (status, chunked, body) = get_raw(&app, &path, &user.auth).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            chunked,
            "attempt {attempt}: a long list is streamed, not cached"
        );
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&expected)
        );
    }
    // The chat's files likewise.
    let files = app.store().list_files(&chat_ref).await.expect("files");
    let expected = serde_json::to_vec(&FilesEnvelope::new(&files)).expect("serialised");
    let (status, chunked, body) = get_raw(
        &app,
        &format!("/api/users/{}/chats/{chat}/files", user.id),
        &user.auth,
    )
    .await;
    assert_eq!((status, chunked), (StatusCode::OK, true));
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&expected)
    );

    // A short list is answered whole, from the cache the second time, with the same bytes.
    let short = app.create_chat(&user, "short").await;
    post_batch(
        &app,
        &user,
        short,
        vec![json!({"actor": "user", "message": "hé ✓"})],
    )
    .await;
    let short_ref = ChatRef::User {
        user_id: user.id,
        chat_id: short,
    };
    let messages = app
        .store()
        .list_messages(&short_ref)
        .await
        .expect("messages");
    let expected = serde_json::to_vec(&MessagesEnvelope::new(&messages)).expect("serialised");
    let path = format!("/api/users/{}/chats/{short}/messages", user.id);
    for _ in 0..2 {
        let (status, chunked, body) = get_raw(&app, &path, &user.auth).await;
        assert_eq!((status, chunked), (StatusCode::OK, false));
        assert_eq!(body, expected);
    }
}

async fn seed_chats(app: &TestApp, user: &TestUser, count: usize) {
    let store = app.store();
    let tenant = store.default_tenant().await.expect("tenant").id;
    for i in 0..count {
        store
            .create_chat(NewChat {
                tenant_id: tenant,
                user_id: Some(user.id),
                name: ChatName::parse(&format!("chat {} ✓ \"{}\"", i % 37, i)).expect("name"),
                model: ModelName::parse(if i % 2 == 0 { "a" } else { "b" }).expect("model"),
                metadata: None,
            })
            .await
            .expect("chat");
    }
}

async fn long_chat_lists_stream_the_one_shot_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("chats@example.com").await;
    seed_chats(&app, &user, 1203).await;
    for order_by in ["", "name:asc,created_at:desc", "model:desc,id:asc"] {
        let order = if order_by.is_empty() {
            OrderBy::default()
        } else {
            OrderBy::parse(order_by).expect("order")
        };
        let chats = app
            .store()
            .list_user_chats(user.id, &order)
            .await
            .expect("chats");
        let expected = serde_json::to_vec(&ChatsEnvelope::new(&chats)).expect("serialised");
        let path = if order_by.is_empty() {
            format!("/api/users/{}/chats", user.id)
        } else {
            format!("/api/users/{}/chats?order_by={order_by}", user.id)
        };
        let (status, chunked, body) = get_raw(&app, &path, &user.auth).await;
        assert_eq!((status, chunked), (StatusCode::OK, true), "{order_by}");
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&expected),
            "{order_by}"
        );
    }
}

/// Replaces the value after the last `marker` (up to `end`) with `X`.
fn blank_after(text: &str, marker: &str, end: char) -> String {
    let Some(at) = text.rfind(marker) else {
        return text.to_owned();
    };
    let start = at + marker.len();
    let stop = text[start..].find(end).map_or(text.len(), |i| start + i);
    format!("{}X{}", &text[..start], &text[stop..])
}

async fn exports_stream_the_one_shot_bytes(backend: Backend) {
    let app = small_pages(backend).await;
    let (tenant, key) = new_tenant(&app, "exporter").await;
    let chat = create_v1_chat(
        &app,
        &key,
        json!({"name": "Export ✓", "model": "m", "metadata": {"k": "v"}}),
    )
    .await;
    let uuid = chat_uuid(&chat);
    let (status, body) = app
        .post(
            &format!("/api/v1/chats/{uuid}/messages"),
            &key,
            json!({"messages": varied_messages(30).into_iter().map(|m| json!({"role": m["actor"], "content": m["message"]})).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let chat_ref = ChatRef::Tenant {
        tenant_id: tenant,
        chat_uuid: uuid.parse().expect("uuid"),
    };
    let record = app.store().get_chat(&chat_ref).await.expect("chat");
    let messages = app
        .store()
        .list_messages(&chat_ref)
        .await
        .expect("messages");

    let expected =
        serde_json::to_string(&ChatExport::new(&record, &messages, Timestamp(0))).expect("json");
    let (status, chunked, body) =
        get_raw(&app, &format!("/api/v1/chats/{uuid}/export"), &key).await;
    assert_eq!((status, chunked), (StatusCode::OK, true));
    let body = String::from_utf8(body).expect("utf-8");
    assert_eq!(
        blank_after(&body, "\"exported_at\":\"", '"'),
        blank_after(&expected, "\"exported_at\":\"", '"')
    );

    let expected = to_markdown(&record, &messages, Timestamp(0));
    let (status, chunked, body) = get_raw(
        &app,
        &format!("/api/v1/chats/{uuid}/export?format=markdown"),
        &key,
    )
    .await;
    assert_eq!((status, chunked), (StatusCode::OK, true));
    let body = String::from_utf8(body).expect("utf-8");
    assert_eq!(
        blank_after(&body, "- Exported: ", '\n'),
        blank_after(&expected, "- Exported: ", '\n')
    );
}

async fn ids_of(app: &TestApp, user: &TestUser, path: String, field: &str) -> Vec<i64> {
    let (status, body) = app.get(&path, &user.auth).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body[field]
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect()
}

async fn message_windows_and_their_errors(backend: Backend) {
    let app = small_pages(backend).await;
    let user = app.sign_up("windows@example.com").await;
    let chat = app.create_chat(&user, "windows").await;
    post_batch(&app, &user, chat, varied_messages(30)).await;
    let base = format!("/api/users/{}/chats/{chat}/messages", user.id);
    let all = ids_of(&app, &user, base.clone(), "chatMessages").await;
    assert_eq!(all.len(), 30);
    let window = |query: &str| ids_of(&app, &user, format!("{base}?{query}"), "chatMessages");
    assert_eq!(window("limit=5").await, all[..5]);
    assert_eq!(window(&format!("after={}", all[9])).await, all[10..]);
    assert_eq!(
        window(&format!("after={}&limit=7", all[9])).await,
        all[10..17]
    );
    assert_eq!(window(&format!("before={}", all[9])).await, all[..9]);
    assert_eq!(
        window(&format!("before={}&limit=4", all[9])).await,
        all[5..9]
    );
    assert_eq!(
        window(&format!("before={}&limit=40", all[2])).await,
        all[..2]
    );
    assert_eq!(
        window(&format!("after={}", all[29])).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        window(&format!("before={}", all[0])).await,
        Vec::<i64>::new()
    );
    assert_eq!(window("limit=1000&after=").await, all);

    let other = app.create_chat(&user, "other").await;
    let foreign = app.post_message(&user, other, "user", "elsewhere").await;
    for (query, message) in [
        ("limit=0", "limit must be an integer from 1 to 1000"),
        ("limit=1001", "limit must be an integer from 1 to 1000"),
        ("limit=abc", "limit must be an integer from 1 to 1000"),
        ("after=-3", "after must be a positive integer id"),
        ("before=1.5", "before must be a positive integer id"),
        ("after=1&before=2", "give before or after, not both"),
        (
            &format!("after={foreign}"),
            "before/after must be the id of a message in this chat",
        ),
    ] {
        let (status, body) = app.get(&format!("{base}?{query}"), &user.auth).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body, user_error(400, message), "{query}");
    }
}

async fn chat_windows_follow_the_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("chatwin@example.com").await;
    seed_chats(&app, &user, 40).await;
    let base = format!("/api/users/{}/chats?order_by=name:desc", user.id);
    let all = ids_of(&app, &user, base.clone(), "chats").await;
    assert_eq!(all.len(), 40);
    let window = |query: String| ids_of(&app, &user, format!("{base}&{query}"), "chats");
    assert_eq!(window("limit=3".into()).await, all[..3]);
    assert_eq!(
        window(format!("after={}&limit=5", all[10])).await,
        all[11..16]
    );
    assert_eq!(
        window(format!("before={}&limit=5", all[10])).await,
        all[5..10]
    );
    assert_eq!(window(format!("before={}", all[10])).await, all[..10]);
    assert_eq!(window(format!("after={}", all[35])).await, all[36..]);

    let stranger = app.sign_up("stranger@example.com").await;
    let theirs = app.create_chat(&stranger, "theirs").await;
    let (status, body) = app
        .get(
            &format!("/api/users/{}/chats?after={theirs}", user.id),
            &user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        user_error(400, "before/after must be the id of one of your chats")
    );
}

async fn a_list_that_loses_messages_while_streaming_is_aborted(backend: Backend) {
    let app = small_pages(backend).await;
    let user = app.sign_up("aborted@example.com").await;
    let chat = app.create_chat(&user, "big").await;
    // 24.5 MiB: far more than the socket buffers between server and client hold.
    for _ in 0..28 {
        let batch = (0..7)
            .map(|i| json!({"actor": if i % 2 == 0 { "user" } else { "assistant" }, "message": "z".repeat(128 * 1024)}))
            .collect();
        post_batch(&app, &user, chat, batch).await;
    }
    let path = format!("/api/users/{}/chats/{chat}/messages", user.id);
    let mut response = user
        .auth
        .apply(app.client.get(app.url(&path)))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = response
        .chunk()
        .await
        .expect("first chunk")
        .expect("some body")
        .to_vec();
    // The newest messages go while the list is being read.
    let (status, body) = app
        .delete(
            &format!("/api/users/{}/chats/{chat}/messages/last", user.id),
            &user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ended = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break "complete",
            Err(_) => break "aborted",
        }
    };
    assert_eq!(
        ended, "aborted",
        "a list missing deleted messages must not complete"
    );
    assert!(serde_json::from_slice::<Value>(&received).is_err());
}
