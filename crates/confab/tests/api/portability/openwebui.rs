//! Open WebUI's export: the history tree with both branches, an older flat chat chained
//! in order, an inner chat object, tags, archived and pinned kept.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    export_text, files, import_ok, line_with_source, lines, report, shape, tenant_chats, OPENWEBUI,
};
use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::{default_tenant_key, new_tenant};

/// The uuids a tenant list at `query` shows.
async fn listed(app: &TestApp, key: &Auth, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/api/v1/chats?{query}"), key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut uuids: Vec<Value> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    uuids.sort_by_key(Value::to_string);
    uuids
}

pub(super) async fn openwebui_import(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let ann = app.sign_up("ann@example.com").await;
    let query = format!("format=openwebui&user_id={}", ann.id);
    let errors = [
        ("openwebui:owui-bad", "`chat` is not an object"),
        ("#4", "the chat has no `chat` object"),
    ];
    let answered = import_ok(&app, &key, &query, "application/json", OPENWEBUI.into()).await;
    assert_eq!(answered, report(3, 13, 0, &errors));
    let exported = lines(&export_text(&app, "/api/v1/export", &key).await);
    assert_eq!(exported.len(), 3);
    assert!(exported.iter().all(|l| l["chat"]["user_id"] == ann.id));

    // The history tree: both branches, the tool message bridged, a millisecond time
    // read as such, the current leaf `currentId`.
    let tree = line_with_source(&exported, "openwebui:owui-tree");
    let chat = &tree["chat"];
    assert_eq!(
        [&chat["name"], &chat["model"], &chat["tags"]],
        [
            &json!("Weekend trip"),
            &json!("llama3:8b"),
            &json!(["travel", "planning"])
        ]
    );
    assert_eq!(
        (&chat["archived"], &chat["pinned"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(chat["created_at"], "2024-03-09T16:00:00.000000Z");
    assert_eq!(chat["updated_at"], "2024-03-09T16:15:00.000000Z");
    let uuid = chat["id"].as_str().expect("uuid");
    let (status, routed) = app.get(&format!("/api/v1/chats/{uuid}/tree"), &key).await;
    assert_eq!(status, StatusCode::OK, "{routed}");
    assert_eq!(routed["data"], tree["messages"]);
    assert_eq!(
        shape(&routed["data"]),
        [
            json!([
                "user",
                "Suggest a weekend trip.",
                null,
                "2024-03-09T16:00:10.000000Z",
                null
            ]),
            json!([
                "assistant",
                "How about the coast?",
                0,
                "2024-03-09T16:00:20.000000Z",
                "llama3:8b"
            ]),
            json!([
                "user",
                "Somewhere colder?",
                1,
                "2024-03-09T16:00:30.000000Z",
                null
            ]),
            json!([
                "assistant",
                "Try the mountains.",
                2,
                "2024-03-09T16:00:40.000000Z",
                "llama3:8b"
            ]),
            json!([
                "user",
                "Somewhere warmer?",
                1,
                "2024-03-09T16:00:50.000000Z",
                null
            ]),
            json!([
                "assistant",
                "Try the desert.",
                4,
                "2024-03-09T16:01:00.000000Z",
                "mistral:7b"
            ]),
        ]
    );
    let data = routed["data"].as_array().expect("data");
    assert_eq!(routed["current_message_id"], data[5]["id"]);
    assert_eq!(
        data[2]["sibling_ids"],
        json!([data[2]["id"], data[4]["id"]])
    );
    assert!(data.iter().all(|m| files(m).is_empty()));
    // The active path is the warmer branch.
    let (_, path) = app
        .get(&format!("/api/v1/chats/{uuid}/messages"), &key)
        .await;
    let path: Vec<Value> = path["data"]
        .as_array()
        .expect("path")
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(path, [0, 1, 4, 5].map(|at| data[at]["id"].clone()).to_vec());

    // The older flat list: chained in order, the blank message skipped, the unknown
    // parent bridged, the missing time the parent's.
    let flat = line_with_source(&exported, "openwebui:owui-flat");
    assert_eq!(
        [
            &flat["chat"]["name"],
            &flat["chat"]["model"],
            &flat["chat"]["tags"]
        ],
        [&json!("Old chat"), &json!("gpt-3.5-turbo"), &json!([])]
    );
    assert_eq!(
        (&flat["chat"]["archived"], &flat["chat"]["pinned"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(flat["chat"]["created_at"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(flat["chat"]["updated_at"], "2023-11-14T22:21:40.000000Z");
    assert_eq!(
        shape(&flat["messages"]),
        [
            json!([
                "user",
                "Hi there.",
                null,
                "2023-11-14T22:13:21.000000Z",
                null
            ]),
            json!([
                "assistant",
                "Hello!",
                0,
                "2023-11-14T22:13:22.000000Z",
                "gpt-3.5-turbo"
            ]),
            json!([
                "user",
                "Still there?",
                1,
                "2023-11-14T22:13:24.000000Z",
                null
            ]),
            json!(["assistant", "Yes.", 2, "2023-11-14T22:13:24.000000Z", null]),
        ]
    );
    assert_eq!(
        flat["chat"]["current_message_id"],
        flat["messages"][3]["id"]
    );

    // The inner chat object: two answers of one time; the later listed is current.
    let inner = line_with_source(&exported, "openwebui:owui-inner");
    assert_eq!(
        [&inner["chat"]["name"], &inner["chat"]["model"]],
        [&json!("Inner form"), &json!("qwen2:7b")]
    );
    assert_eq!(inner["chat"]["created_at"], "2023-07-22T04:26:40.000000Z");
    assert_eq!(inner["chat"]["updated_at"], "2023-07-22T04:27:00.000000Z");
    assert_eq!(
        shape(&inner["messages"]),
        [
            json!([
                "user",
                "Pick a colour.",
                null,
                "2023-07-22T04:26:50.000000Z",
                null
            ]),
            json!([
                "assistant",
                "Red.",
                0,
                "2023-07-22T04:27:00.000000Z",
                "qwen2:7b"
            ]),
            json!([
                "assistant",
                "Blue.",
                0,
                "2023-07-22T04:27:00.000000Z",
                "qwen2:7b"
            ]),
        ]
    );
    assert_eq!(
        inner["chat"]["current_message_id"],
        inner["messages"][2]["id"]
    );

    // The flags and tags work as set ones do.
    let uuid_of = |line: &Value| line["chat"]["id"].clone();
    assert_eq!(listed(&app, &key, "tag=travel").await, [uuid_of(tree)]);
    assert_eq!(listed(&app, &key, "archived=true").await, [uuid_of(flat)]);
    let mut live = vec![uuid_of(tree), uuid_of(inner)];
    live.sort_by_key(Value::to_string);
    assert_eq!(listed(&app, &key, "").await, live);

    // Again: duplicates. One chat object alone (not in an array), elsewhere: imported.
    let again = import_ok(
        &app,
        &key,
        "format=openwebui",
        "application/json",
        OPENWEBUI.into(),
    )
    .await;
    assert_eq!(again, report(0, 0, 3, &errors));
    let all: Vec<Value> = serde_json::from_str(OPENWEBUI).expect("fixture");
    let one = serde_json::to_vec(&all[0]).expect("one chat");
    let (_, other_key) = new_tenant(&app, "other").await;
    let answered = import_ok(
        &app,
        &other_key,
        "format=openwebui",
        "application/octet-stream",
        one,
    )
    .await;
    assert_eq!(answered, report(1, 6, 0, &[]));
    let chats = tenant_chats(&app, &other_key).await;
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0]["name"], "Weekend trip");
    assert_eq!(chats[0]["user_id"], Value::Null);
}
