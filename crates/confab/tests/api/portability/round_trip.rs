//! A tenant's export read back: into another tenant of the same server (the uuids are
//! taken there, so the chats get new ones and remember the old as their source), into
//! a fresh server (the uuids are kept), and again (everything is a duplicate).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{export_text, import_ok, lines, normalised, report, CHATGPT};
use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::{default_tenant_key, new_tenant, post_v1_message};

/// Tenant metadata as a client might write it: a 30-digit integer, a trailing zero,
/// odd spacing and keys out of order. The export and the import keep every byte.
const METADATA: &str = r#"{"z": 123456789012345678901234567890,"a":1.10, "n":{"k":[1, 2.50]}}"#;

/// A tenant chat created from a raw body (the metadata must not be re-serialised).
async fn create_raw(app: &TestApp, key: &Auth, body: String) -> String {
    let response = key
        .apply(app.client.post(app.url("/api/v1/chats")))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("create sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("created chat");
    created["id"].as_str().expect("uuid").to_owned()
}

/// The chat's export line, with its uuid and source left out (compared apart).
fn without_identity(line: &Value) -> Value {
    let mut line = normalised(line);
    line["chat"]["id"] = Value::Null;
    line["source_id"] = Value::Null;
    line
}

/// Where a chat came from once it was imported from a confab export: its source's own
/// source, or the exported chat itself.
fn source_of(line: &Value) -> Value {
    match &line["source_id"] {
        Value::Null => json!(format!(
            "confab:{}",
            line["chat"]["id"].as_str().expect("uuid")
        )),
        source => source.clone(),
    }
}

/// The chat's active path as places in its export line, and its `message_count`.
async fn path_and_count(app: &TestApp, key: &Auth, line: &Value) -> (Vec<usize>, Value) {
    let uuid = line["chat"]["id"].as_str().expect("uuid");
    let places: Vec<i64> = line["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect();
    let (status, page) = app
        .get(&format!("/api/v1/chats/{uuid}/messages?limit=100"), key)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let path = page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| {
            let id = m["id"].as_i64().expect("id");
            places.iter().position(|p| *p == id).expect("in the export")
        })
        .collect();
    let (status, chat) = app.get(&format!("/api/v1/chats/{uuid}"), key).await;
    assert_eq!(status, StatusCode::OK, "{chat}");
    (path, chat["message_count"].clone())
}

pub(super) async fn export_then_import_reproduces_every_chat(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.lifecycle.trash_days = 7).await;
    let key = default_tenant_key(&app).await;
    let ann = app.sign_up("ann@example.com").await;
    let ben = app.sign_up("ben@example.com").await;

    // Ann's chat: an answer with two follow-ups (the second answered with a Python
    // block, which becomes a file), and the current leaf back on the first follow-up.
    let branched = app.create_chat(&ann, "Sorting").await;
    let chat_path = format!("/api/users/{}/chats/{branched}", ann.id);
    app.post_message(&ann, branched, "user", "How do I sort?")
        .await;
    let answer = app
        .post_message(&ann, branched, "assistant", "Use sorted().")
        .await;
    let first = app
        .post_message(&ann, branched, "user", "In reverse?")
        .await;
    let (status, body) = app
        .post(
            &format!("{chat_path}/messages"),
            &ann.auth,
            json!({"message": "Descending?", "actor": "user", "parent_id": answer}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = "Like this:\n```python\nprint(sorted([3, 1, 2], reverse=True))\n```";
    app.post_message(&ann, branched, "assistant", code).await;
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{chat_path}/current"),
            &ann.auth,
            Some(json!({"message_id": first})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A tenant chat without an owner: exact metadata, archived, pinned and tagged.
    let tenant_chat = create_raw(
        &app,
        &key,
        format!(r#"{{"name":"With metadata","model":"m-1","metadata":{METADATA}}}"#),
    )
    .await;
    post_v1_message(&app, &key, &tenant_chat, "user", "Hello").await;
    post_v1_message(&app, &key, &tenant_chat, "assistant", "Hi.").await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/chats/{tenant_chat}"),
            &key,
            Some(json!({"archived": true, "pinned": true, "tags": ["ops", "b-side"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Ben's chat without messages, and Ann's chat in the trash (never exported).
    app.create_chat(&ben, "Empty").await;
    let doomed = app.create_chat(&ann, "Doomed").await;
    app.post_message(&ann, doomed, "user", "forget me").await;
    let (status, _) = app
        .delete(&format!("/api/users/{}/chats/{doomed}", ann.id), &ann.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, trash) = app.get("/api/v1/trash", &key).await;
    let trashed = trash["data"][0]["id"].clone();
    assert!(trashed.is_string(), "{trash}");

    // Three chats imported from ChatGPT: a source id, models and statuses to carry over.
    let query = format!("format=chatgpt&user_id={}", ann.id);
    let imported = import_ok(&app, &key, &query, "application/json", CHATGPT.into()).await;
    assert_eq!(imported["chats_imported"], 3, "{imported}");

    let response = key
        .apply(app.client.get(app.url("/api/v1/export")))
        .send()
        .await
        .expect("export sent");
    assert_eq!(
        response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some("attachment; filename=\"confab-export.ndjson\"")
    );
    let exported = export_text(&app, "/api/v1/export", &key).await;
    let original = lines(&exported);
    let names: Vec<&str> = original
        .iter()
        .map(|l| l["chat"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "Sorting",
            "With metadata",
            "Empty",
            "Sorting a list",
            "New chat",
            "New chat"
        ]
    );
    assert!(original.iter().all(|l| l["chat"]["id"] != trashed));
    assert!(
        exported.contains(&format!(r#""metadata":{METADATA}"#)),
        "{exported}"
    );
    let sources: Vec<&Value> = original.iter().map(|l| &l["source_id"]).collect();
    assert_eq!(
        sources,
        [
            &Value::Null,
            &Value::Null,
            &Value::Null,
            &json!("chatgpt:conv-branch"),
            &json!("chatgpt:conv-tools"),
            &json!("chatgpt:conv-system"),
        ]
    );
    // The export is what the tree route shows.
    let sorting = &original[0];
    assert_eq!(sorting["chat"]["current_message_id"], json!(first));
    assert_eq!(sorting["chat"]["user_id"], json!(ann.id));
    let (_, tree) = app.get(&format!("{chat_path}/tree"), &ann.auth).await;
    assert_eq!(sorting["messages"], tree["chatMessages"], "{tree}");
    let files = sorting["messages"][4]["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{sorting}");
    assert_eq!(files[0]["language"], "python");
    let message_count: u64 = original
        .iter()
        .map(|l| l["messages"].as_array().map_or(0, Vec::len) as u64)
        .sum();
    assert_eq!(message_count, 5 + 2 + 6 + 7 + 2);

    // Into another tenant of this server: the same chats, under new uuids.
    let (_, other_key) = new_tenant(&app, "other").await;
    let report_new = report(6, message_count, 0, &[]);
    let answered = import_ok(
        &app,
        &other_key,
        "format=confab",
        "application/x-ndjson",
        exported.clone().into(),
    )
    .await;
    assert_eq!(answered, report_new);
    let copied_text = export_text(&app, "/api/v1/export", &other_key).await;
    let copied = lines(&copied_text);
    assert_eq!(copied.len(), original.len());
    for (was, now) in original.iter().zip(&copied) {
        assert_ne!(
            now["chat"]["id"], was["chat"]["id"],
            "a uuid is never shared"
        );
        assert_eq!(now["source_id"], source_of(was));
        assert_eq!(now["chat"]["user_id"], Value::Null);
        assert_eq!(without_identity(now), without_identity(was));
    }
    assert!(copied_text.contains(&format!(r#""metadata":{METADATA}"#)));
    // Counted, on the same active path, and found by search like the originals.
    for (was, now) in original.iter().zip(&copied) {
        let (was_path, was_count) = path_and_count(&app, &key, was).await;
        let (now_path, now_count) = path_and_count(&app, &other_key, now).await;
        assert_eq!((now_path, now_count), (was_path, was_count), "{now}");
    }
    let (status, found) = app.get("/api/v1/search?q=descending", &other_key).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let hits = found["data"].as_array().expect("hits");
    assert_eq!(hits.len(), 2, "{found}"); // "Descending?" and ChatGPT's question
    assert!(hits.iter().any(|h| h["chat_id"] == copied[0]["chat"]["id"]));

    // Into a fresh server: the uuids too.
    let fresh = TestApp::spawn(backend).await;
    let (_, fresh_key) = new_tenant(&fresh, "fresh").await;
    let answered = import_ok(
        &fresh,
        &fresh_key,
        "format=confab",
        "application/octet-stream",
        exported.clone().into(),
    )
    .await;
    assert_eq!(answered, report_new);
    let moved_text = export_text(&fresh, "/api/v1/export", &fresh_key).await;
    let moved = lines(&moved_text);
    assert_eq!(moved.len(), original.len());
    for (was, now) in original.iter().zip(&moved) {
        assert_eq!(now["chat"]["id"], was["chat"]["id"]);
        assert_eq!(now["source_id"], source_of(was));
        assert_eq!(without_identity(now), without_identity(was));
    }
    assert!(moved_text.contains(&format!(r#""metadata":{METADATA}"#)));

    // Again, anywhere it already went: all duplicates, nothing stored.
    let duplicates = report(0, 0, 6, &[]);
    for (app, key, text) in [
        (&app, &other_key, &exported),
        (&app, &other_key, &copied_text),
        (&app, &key, &exported),
        // Back where it came from through another tenant (A → B → A).
        (&app, &key, &copied_text),
        (&fresh, &fresh_key, &exported),
        (&fresh, &fresh_key, &moved_text),
    ] {
        let answered = import_ok(
            app,
            key,
            "format=confab",
            "application/x-ndjson",
            text.clone().into(),
        )
        .await;
        assert_eq!(answered, duplicates);
    }
    assert_eq!(
        export_text(&app, "/api/v1/export", &other_key).await,
        copied_text
    );
    assert_eq!(export_text(&app, "/api/v1/export", &key).await, exported);
    assert_eq!(
        export_text(&fresh, "/api/v1/export", &fresh_key).await,
        moved_text
    );
}
