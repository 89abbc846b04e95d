//! Every tenant-API route (SPEC §3): its success path, each documented error, tenant
//! isolation, and how it shares chats with the user API.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;

use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::*;

crate::per_backend!(
    keys_authenticate_and_a_revoked_key_fails_at_once,
    create_chat_applies_defaults_and_validates_every_field,
    get_chat_reports_messages_and_connections,
    chat_pages_walk_newest_first_without_duplicates,
    messages_post_page_and_delete_last,
    delete_chat_answers_seed_002_and_takes_everything_along,
    export_round_trips_as_json_and_markdown,
    another_tenants_key_finds_nothing,
    user_and_tenant_apis_share_chats,
    errors_outside_routes_use_the_tenant_shape,
    openapi_documents_every_tenant_route,
);

async fn keys_authenticate_and_a_revoked_key_fails_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = app.store();
    let (tenant, key) = new_tenant(&app, "acme").await;

    let (status, body) = app.get("/api/v1/chats", &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"data": [], "next_cursor": null}));

    let Auth::Key(secret) = &key else {
        unreachable!()
    };
    let mut tampered = secret.clone();
    tampered.push('x');
    let unknown_prefix = format!("cfb_0123456789ab_{}", &secret[17..]);
    for bad in [
        Auth::None,
        Auth::Key("garbage".into()),
        Auth::Key(String::new()),
        Auth::Key(tampered),
        Auth::Key(unknown_prefix),
    ] {
        assert_tenant_error(
            app.get("/api/v1/chats", &bad).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }

    // The first use is recorded (off the request path, so wait for it).
    let prefix = confab::auth::api_key::prefix_of(secret)
        .expect("prefix")
        .to_owned();
    eventually("last_used_at is recorded", || async {
        store
            .find_api_key(&prefix)
            .await
            .expect("lookup")
            .is_some_and(|k| k.last_used_at.is_some())
    })
    .await;

    // A second key of the same tenant sees the same chats; revoking it locks it out on
    // its very next request while the first key keeps working.
    let (second_id, second) = confab::cli::issue_key(store.as_ref(), tenant, "second")
        .await
        .expect("key");
    let second = Auth::Key(second);
    let chat = create_v1_chat(&app, &second, json!({})).await;
    let (status, _) = app
        .get(&format!("/api/v1/chats/{}", chat_uuid(&chat)), &key)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Lists read twice before the revocation: the second answer may come from the cache
    // of pages, which must not outlive the key.
    for list in ["/api/v1/chats", "/api/v1/trash"] {
        for _ in 0..2 {
            let (status, body) = app.get(list, &second).await;
            assert_eq!(status, StatusCode::OK, "{list}: {body}");
        }
    }
    store
        .revoke_api_key(second_id, confab::domain::Timestamp::now())
        .await
        .expect("revoke");
    for list in ["/api/v1/chats", "/api/v1/trash"] {
        assert_tenant_error(
            app.get(list, &second).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    let (status, _) = app.get("/api/v1/chats", &key).await;
    assert_eq!(status, StatusCode::OK);

    // The key is checked before the query: a bad key with a bad query is a 401.
    for list in ["/api/v1/chats", "/api/v1/trash"] {
        for (query, code) in [
            ("limit=0", "invalid_limit"),
            ("cursor=not-a-cursor", "invalid_cursor"),
        ] {
            let url = format!("{list}?{query}");
            for bad in [Auth::None, second.clone()] {
                assert_tenant_error(
                    app.get(&url, &bad).await,
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                );
            }
            assert_tenant_error(app.get(&url, &key).await, StatusCode::BAD_REQUEST, code);
        }
    }
}

async fn create_chat_applies_defaults_and_validates_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let user = app.sign_up("owner@example.com").await;
    let default_key = default_tenant_key(&app).await;

    let chat = create_v1_chat(&app, &key, json!({})).await;
    assert!(uuid::Uuid::parse_str(&chat_uuid(&chat)).is_ok(), "{chat}");
    assert_eq!(chat["name"], "New chat");
    assert_eq!(chat["model"], "");
    assert_eq!(chat["user_id"], Value::Null);
    assert_eq!(chat["metadata"], Value::Null);
    assert_eq!(chat["created_at"], chat["updated_at"]);
    assert!(chat.get("message_count").is_none(), "{chat}");

    let chat = create_v1_chat(
        &app,
        &default_key,
        json!({"name": "  Support #42 ", "model": "gpt-x", "user_id": user.id,
               "metadata": {"ticket": 42, "tags": ["vip"]}}),
    )
    .await;
    assert_eq!(chat["name"], "Support #42");
    assert_eq!(chat["model"], "gpt-x");
    assert_eq!(chat["user_id"], user.id);
    assert_eq!(chat["metadata"], json!({"ticket": 42, "tags": ["vip"]}));
    let (status, fetched) = app
        .get(&format!("/api/v1/chats/{}", chat_uuid(&chat)), &default_key)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["metadata"], chat["metadata"], "metadata is stored");

    let cases = [
        (
            json!({"name": "   "}),
            StatusCode::BAD_REQUEST,
            "validation_error",
        ),
        (
            json!({"name": "x".repeat(256)}),
            StatusCode::BAD_REQUEST,
            "validation_error",
        ),
        (
            json!({"model": "m".repeat(256)}),
            StatusCode::BAD_REQUEST,
            "validation_error",
        ),
        (
            json!({"name": 5}),
            StatusCode::BAD_REQUEST,
            "validation_error",
        ),
        (
            json!({"metadata": [1, 2]}),
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            json!({"metadata": "text"}),
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            json!({"metadata": {"big": "x".repeat(17 * 1024)}}),
            StatusCode::BAD_REQUEST,
            "invalid_metadata",
        ),
        (
            json!({"user_id": 0}),
            StatusCode::BAD_REQUEST,
            "invalid_user_id",
        ),
        (
            json!({"user_id": "1"}),
            StatusCode::BAD_REQUEST,
            "validation_error",
        ),
        (
            json!({"user_id": 999_999}),
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
        // The user exists, but in another tenant.
        (
            json!({"user_id": user.id}),
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
    ];
    for (body, status, code) in cases {
        assert_tenant_error(app.post("/api/v1/chats", &key, body).await, status, code);
    }

    let response = app
        .client
        .post(app.url("/api/v1/chats"))
        .header("x-api-key", key_text(&key))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_tenant_error((status, body), StatusCode::BAD_REQUEST, "invalid_json");
    let response = app
        .client
        .post(app.url("/api/v1/chats"))
        .header("x-api-key", key_text(&key))
        .body("{}")
        .send()
        .await
        .expect("sent");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_tenant_error(
        (status, body),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_tenant_error(
        app.post("/api/v1/chats", &Auth::None, json!({})).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

fn key_text(auth: &Auth) -> String {
    match auth {
        Auth::Key(key) => key.clone(),
        other => panic!("not a key: {other:?}"),
    }
}

async fn get_chat_reports_messages_and_connections(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = create_v1_chat(&app, &key, json!({"name": "counted"})).await;
    let id = chat_uuid(&chat);
    post_v1_message(&app, &key, &id, "user", "one").await;
    post_v1_message(&app, &key, &id, "assistant", "two").await;

    let (status, body) = app.get(&format!("/api/v1/chats/{id}"), &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["name"], "counted");
    assert_eq!(body["message_count"], 2);
    assert_eq!(body["active_connections"], 0);
    assert!(
        body["updated_at"].as_str() > chat["updated_at"].as_str(),
        "posting touches the chat: {body}"
    );

    assert_tenant_error(
        app.get("/api/v1/chats/not-a-uuid", &key).await,
        StatusCode::BAD_REQUEST,
        "invalid_chat_id",
    );
    assert_tenant_error(
        app.get("/api/v1/chats/123", &key).await,
        StatusCode::BAD_REQUEST,
        "invalid_chat_id",
    );
    assert_tenant_error(
        app.get(&format!("/api/v1/chats/{}", uuid::Uuid::new_v4()), &key)
            .await,
        StatusCode::NOT_FOUND,
        "chat_not_found",
    );
    assert_tenant_error(
        app.get(&format!("/api/v1/chats/{id}"), &Auth::None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

async fn chat_pages_walk_newest_first_without_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let (_, other) = new_tenant(&app, "other").await;
    create_v1_chat(&app, &other, json!({"name": "not yours"})).await;
    let mut created = Vec::new();
    for i in 0..25 {
        let chat = create_v1_chat(&app, &key, json!({"name": format!("chat {i}")})).await;
        created.push(chat_uuid(&chat));
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    // Default page size is 20.
    let (status, body) = app.get("/api/v1/chats", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(20));
    assert!(body["next_cursor"].is_string());

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/chats?limit=7&cursor={c}"),
            None => "/api/v1/chats?limit=7".to_owned(),
        };
        let (status, body) = app.get(&path, &key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        let data = body["data"].as_array().expect("data");
        assert!(data.len() <= 7);
        seen.extend(data.iter().map(chat_uuid));
        match body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(data.len(), 7, "only full pages have a next page");
                cursor = Some(next.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 4, "7 + 7 + 7 + 4");
    assert_eq!(seen, newest_first);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);

    // Exactly a page's worth left: no cursor to an empty page.
    let (_, body) = app.get("/api/v1/chats?limit=25", &key).await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(25));
    assert_eq!(body["next_cursor"], Value::Null);
    let (_, body) = app.get("/api/v1/chats?limit=100", &key).await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(25));

    for bad in ["limit=0", "limit=101", "limit=ten", "limit=-3"] {
        assert_tenant_error(
            app.get(&format!("/api/v1/chats?{bad}"), &key).await,
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        );
    }
    let message_cursor = confab::domain::cursor::encode(
        confab::domain::cursor::CursorKind::Messages,
        confab::domain::cursor::Position {
            created_at: confab::domain::Timestamp(1),
            id: 1,
        },
    );
    for bad in [
        "garbage".to_owned(),
        "AAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        message_cursor,
    ] {
        assert_tenant_error(
            app.get(&format!("/api/v1/chats?cursor={bad}"), &key).await,
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        );
    }
}

async fn messages_post_page_and_delete_last(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    let path = format!("/api/v1/chats/{chat}/messages");

    // Delete-last on an empty chat: 400 no_messages, in the tenant shape.
    assert_tenant_error(
        app.delete(&format!("{path}/last"), &key).await,
        StatusCode::BAD_REQUEST,
        "no_messages",
    );

    let (status, body) = app
        .post(&path, &key, json!({"message": "hello", "actor": "user"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let data = body["data"].as_array().expect("data");
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["actor"], "user");
    assert_eq!(data[0]["message"], "hello");
    assert_eq!(data[0]["files"], json!([]));

    let reply = "Sure:\n\n```rust\nfn main() {}\n```\n";
    let (status, body) = app
        .post(
            &path,
            &key,
            json!({"messages": [
                {"content": reply, "role": "assistant"},
                {"content": "more", "role": "user"},
                {"content": "even more", "role": "user"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let batch = body["data"].as_array().expect("data").clone();
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[0]["files"][0]["language"], "rust");
    assert_eq!(batch[0]["files"][0]["text"], "fn main() {}\n");
    assert_eq!(batch[0]["files"][0]["neptun_user_id"], Value::Null);

    for (body, code) in [
        (json!({"message": "", "actor": "user"}), "validation_error"),
        (
            json!({"message": "x", "actor": "robot"}),
            "validation_error",
        ),
        (json!({"messages": []}), "validation_error"),
        (json!({}), "validation_error"),
    ] {
        assert_tenant_error(
            app.post(&path, &key, body).await,
            StatusCode::BAD_REQUEST,
            code,
        );
    }

    // Pages of 2, oldest first, files included, `after` continues. A batch shares one
    // `created_at`, so the second page starts inside the batch: the cursor breaks the tie
    // by id.
    assert_eq!(batch[0]["created_at"], batch[1]["created_at"]);
    let mut seen: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            Some(c) => format!("{path}?limit=2&after={c}"),
            None => format!("{path}?limit=2"),
        };
        let (status, body) = app.get(&url, &key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(body["data"].as_array().expect("data").iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let texts: Vec<&str> = seen
        .iter()
        .map(|m| m["message"].as_str().expect("message"))
        .collect();
    assert_eq!(texts, ["hello", reply, "more", "even more"]);
    assert_eq!(seen[1], batch[0], "pages carry the same message with files");
    for bad in ["limit=0", "limit=1000"] {
        assert_tenant_error(
            app.get(&format!("{path}?{bad}"), &key).await,
            StatusCode::BAD_REQUEST,
            "invalid_limit",
        );
    }
    assert_tenant_error(
        app.get(&format!("{path}?after=nope"), &key).await,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
    );

    // Delete last: trailing user messages plus the exchange before them, the user API's
    // body shape.
    let (status, body) = app.delete(&format!("{path}/last"), &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["deletedSuccessfully"],
        json!([batch[1]["id"], batch[2]["id"]])
    );
    assert_eq!(body["failedToDelete"], json!([]));
    assert_eq!(body["maybeAssistantMessageToDelete"]["id"], batch[0]["id"]);
    assert_eq!(body["maybeUserMessageToDelete"]["id"], data[0]["id"]);
    assert_eq!(body["maybeUserMessageToDelete"]["message"], "hello");
    let (_, body) = app.get(&path, &key).await;
    assert_eq!(body["data"], json!([]));
    assert_tenant_error(
        app.delete(&format!("{path}/last"), &key).await,
        StatusCode::BAD_REQUEST,
        "no_messages",
    );
}

async fn delete_chat_answers_seed_002_and_takes_everything_along(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    post_v1_message(&app, &key, &chat, "assistant", "```py\nx = 1\n```").await;
    let path = format!("/api/v1/chats/{chat}");

    assert_tenant_error(
        app.delete(&format!("{path}?force=maybe"), &key).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    let before = confab::domain::Timestamp::now().to_rfc3339();
    let (status, body) = app.delete(&path, &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let object = body.as_object().expect("object");
    assert_eq!(object.len(), 3, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Chat deleted successfully");
    let deleted_at = body["deleted_at"].as_str().expect("deleted_at");
    assert!(
        time::OffsetDateTime::parse(deleted_at, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{deleted_at}"
    );
    assert!(deleted_at >= before.as_str(), "{deleted_at} >= {before}");

    for (method, route) in [
        (Method::GET, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::GET, format!("{path}/messages")),
        (Method::GET, format!("{path}/export")),
    ] {
        assert_tenant_error(
            app.call(method, &route, &key, None).await,
            StatusCode::NOT_FOUND,
            "chat_not_found",
        );
    }
}

async fn export_round_trips_as_json_and_markdown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = create_v1_chat(
        &app,
        &key,
        json!({"name": "Export me", "model": "m1", "metadata": {"k": "v"}}),
    )
    .await;
    let id = chat_uuid(&chat);
    post_v1_message(&app, &key, &id, "user", "Show me two files").await;
    let reply = "Here.\n\n```python title=a.py\nprint('```')\n```\n\n~~~js\nconsole.log(1)\n~~~\n\nAnd one left open:\n\n```sh\necho open";
    post_v1_message(&app, &key, &id, "assistant", reply).await;
    post_v1_message(&app, &key, &id, "user", "# not a heading of the export").await;

    let (status, export) = app.get(&format!("/api/v1/chats/{id}/export"), &key).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    let (_, listed) = app
        .get(&format!("/api/v1/chats/{id}/messages?limit=100"), &key)
        .await;
    assert_eq!(
        export["messages"], listed["data"],
        "every message with its files"
    );
    assert_eq!(export["chat"]["id"], id.as_str());
    assert_eq!(export["chat"]["name"], "Export me");
    assert_eq!(export["chat"]["metadata"], json!({"k": "v"}));
    assert_eq!(export["chat"]["message_count"], 3);
    assert!(export["exported_at"].is_string());
    let (_, explicit) = app
        .get(&format!("/api/v1/chats/{id}/export?format=json"), &key)
        .await;
    assert_eq!(explicit["messages"], export["messages"]);

    let response = app
        .client
        .get(app.url(&format!("/api/v1/chats/{id}/export?format=markdown")))
        .header("x-api-key", key_text(&key))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let markdown = response.text().await.expect("text");
    assert!(markdown.starts_with("# Export me\n"), "{markdown}");
    let headings: Vec<&str> = markdown
        .lines()
        .filter(|line| line.starts_with("## "))
        .collect();
    assert_eq!(headings.len(), 3, "{markdown}");
    assert!(headings[0].starts_with("## 1. user · "));
    assert!(headings[1].starts_with("## 2. assistant · "));
    assert!(headings[2].starts_with("## 3. user · "));
    for message in export["messages"].as_array().expect("messages") {
        let text = message["message"].as_str().expect("text");
        assert!(markdown.contains(text), "{text:?} in {markdown}");
    }
    // Re-reading the Markdown finds every stored file as a code block again.
    let blocks = confab::domain::code_blocks::extract(&markdown);
    let files = export["messages"][1]["files"].as_array().expect("files");
    assert_eq!(files.len(), 3);
    for file in files {
        let text = file["text"].as_str().expect("text").trim_end_matches('\n');
        assert!(
            blocks.iter().any(|b| b.text.trim_end_matches('\n') == text
                && b.language == file["language"].as_str().expect("language")),
            "{file} in {markdown}"
        );
    }

    assert_tenant_error(
        app.get(&format!("/api/v1/chats/{id}/export?format=pdf"), &key)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_format",
    );
}

async fn another_tenants_key_finds_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, alice) = new_tenant(&app, "alice corp").await;
    let (_, bob) = new_tenant(&app, "bob corp").await;
    let chat = chat_uuid(&create_v1_chat(&app, &bob, json!({"name": "bob's"})).await);
    post_v1_message(&app, &bob, &chat, "user", "private").await;

    let base = format!("/api/v1/chats/{chat}");
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, base.clone(), None),
        (Method::GET, format!("{base}/messages"), None),
        (
            Method::POST,
            format!("{base}/messages"),
            Some(json!({"message": "hi", "actor": "user"})),
        ),
        (Method::DELETE, format!("{base}/messages/last"), None),
        (Method::GET, format!("{base}/export"), None),
        (Method::GET, format!("{base}/export?format=markdown"), None),
        (Method::DELETE, base.clone(), None),
        (Method::DELETE, format!("{base}?force=true"), None),
    ];
    for (method, route, body) in &routes {
        assert_tenant_error(
            app.call(method.clone(), route, &alice, body.clone()).await,
            StatusCode::NOT_FOUND,
            "chat_not_found",
        );
    }
    let Err(refused) = try_ws(&app, &format!("{base}/ws"), &alice).await else {
        panic!("another tenant's key was upgraded");
    };
    assert_eq!(refused.0, 404, "{refused:?}");
    assert_eq!(refused.1["error"]["code"], "chat_not_found");
    let (_, listed) = app.get("/api/v1/chats", &alice).await;
    assert_eq!(listed["data"], json!([]));

    // Nothing of Bob's changed, and Bob still reaches all of it.
    let (status, body) = app.get(&base, &bob).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message_count"], 1);

    // Revoked and garbage keys are 401 on every route, before anything else is looked at.
    for auth in [Auth::Key("cfb_garbage".into()), Auth::None] {
        for (method, route, body) in &routes {
            assert_tenant_error(
                app.call(method.clone(), route, &auth, body.clone()).await,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            );
        }
        let Err(refused) = try_ws(&app, &format!("{base}/ws"), &auth).await else {
            panic!("{auth:?} was upgraded");
        };
        assert_eq!(refused.0, 401);
    }
}

async fn user_and_tenant_apis_share_chats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let (_, elsewhere) = new_tenant(&app, "elsewhere").await;
    let user = app.sign_up("sam@example.com").await;

    // A user-API chat is reachable by its uuid with its tenant's key (and no other).
    let chat_id = app.create_chat(&user, "from the app").await;
    app.post_message(&user, chat_id, "user", "typed in the app")
        .await;
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    let uuid = listed["chats"][0]["uuid"]
        .as_str()
        .expect("uuid")
        .to_owned();
    let (status, chat) = app.get(&format!("/api/v1/chats/{uuid}"), &key).await;
    assert_eq!(status, StatusCode::OK, "{chat}");
    assert_eq!(chat["name"], "from the app");
    assert_eq!(chat["user_id"], user.id);
    assert_eq!(chat["message_count"], 1);
    assert_tenant_error(
        app.get(&format!("/api/v1/chats/{uuid}"), &elsewhere).await,
        StatusCode::NOT_FOUND,
        "chat_not_found",
    );
    post_v1_message(&app, &key, &uuid, "assistant", "answered by the server").await;
    let ids = app.message_ids(&user, chat_id).await;
    assert_eq!(ids.len(), 2);

    // A v1 chat created for the user shows in the user's own list.
    let v1 = create_v1_chat(
        &app,
        &key,
        json!({"name": "from the server", "user_id": user.id}),
    )
    .await;
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    let mine: Vec<&str> = listed["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .map(|c| c["uuid"].as_str().expect("uuid"))
        .collect();
    assert!(mine.contains(&chat_uuid(&v1).as_str()), "{listed}");
    // An ownerless v1 chat does not.
    let ownerless = create_v1_chat(&app, &key, json!({"name": "nobody's"})).await;
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", user.id), &user.auth)
        .await;
    assert_eq!(listed["chats"].as_array().map(Vec::len), Some(2));
    assert!(!listed.to_string().contains(&chat_uuid(&ownerless)));
}

async fn errors_outside_routes_use_the_tenant_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    assert_tenant_error(
        app.get("/api/v1/nothing-here", &key).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_tenant_error(
        app.call(Method::PUT, "/api/v1/chats", &key, Some(json!({})))
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    // The WebSocket route without an upgrade: a JSON error, after authentication.
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    assert_tenant_error(
        app.get(&format!("/api/v1/chats/{chat}/ws"), &key).await,
        StatusCode::BAD_REQUEST,
        "websocket_upgrade_required",
    );
}

async fn openapi_documents_every_tenant_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, doc) = app.get("/api/openapi.json", &Auth::None).await;
    assert_eq!(status, StatusCode::OK);
    let operations = [
        ("/api/v1/chats", "post"),
        ("/api/v1/chats", "get"),
        ("/api/v1/chats/{chat_id}", "get"),
        ("/api/v1/chats/{chat_id}", "delete"),
        ("/api/v1/chats/{chat_id}/messages", "get"),
        ("/api/v1/chats/{chat_id}/messages", "post"),
        ("/api/v1/chats/{chat_id}/messages/last", "delete"),
        ("/api/v1/chats/{chat_id}/export", "get"),
        ("/api/v1/chats/{chat_id}/ws", "get"),
    ];
    for (path, method) in operations {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is documented");
        assert!(
            operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some())),
            "{method} {path} names the api_key scheme: {operation}"
        );
        assert!(
            operation["responses"]["401"].is_object(),
            "{method} {path} documents 401"
        );
    }
    assert!(doc["paths"]["/api/users/{user_id}/chats/{chat_id}/ws"]["get"].is_object());
    assert_eq!(
        doc["paths"]["/api/v1/chats/{chat_id}"]["delete"]["responses"]["409"]["content"]
            ["application/json"]["schema"]["$ref"],
        "#/components/schemas/TenantError"
    );
}
