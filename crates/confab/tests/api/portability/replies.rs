//! Generated replies carried by confab's export: a complete one with its model and
//! usage, a failed one with its error, a stopped one, and one exported while it was
//! still generating (nothing generates it after the import: it comes back
//! `interrupted`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{export_text, import_ok, lines, normalised, report};
use crate::generate::{app_with_double, generate_sse, user_chat};
use crate::support::Backend;
use crate::tenant_support::{default_tenant_key, new_tenant};

pub(super) async fn generated_replies_keep_their_state(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let key = default_tenant_key(&app).await;
    let chat = user_chat(&app, "gen@example.com").await;
    let generate = |body: Value| {
        let app = &app;
        let chat = &chat;
        async move {
            app.post(&format!("{}/generate", chat.path), &chat.user.auth, body)
                .await
        }
    };
    let (status, body) =
        generate(json!({"message": {"content": "hi"}, "model": "json", "stream": false})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) =
        generate(json!({"message": {"content": "again"}, "model": "cut-1", "stream": false})).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "go"}, "model": "count-400-25"}),
    )
    .await;
    let seen = sse.until_deltas(2).await;
    let running = seen[1].data["id"].as_i64().expect("reply id");

    let exported = export_text(&app, "/api/v1/export", &key).await;
    let stop = format!("{}/messages/{running}/stop", chat.path);
    let (status, stopped) = app.post(&stop, &chat.user.auth, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    drop(sse);
    let line = lines(&exported).remove(0);
    let replies: Vec<(Value, Value)> = line["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["actor"] == "assistant")
        .map(|m| (m["status"].clone(), m["model"].clone()))
        .collect();
    assert_eq!(
        replies,
        [
            (json!("complete"), json!("json")),
            (json!("failed"), json!("cut-1")),
            (json!("generating"), json!("count-400-25")),
        ]
    );
    assert_eq!(
        line["messages"][1]["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 2})
    );
    assert!(line["messages"][3]["error"]["code"].is_string(), "{line}");

    // Into another tenant: each state as it was, the running one interrupted.
    let (_, other_key) = new_tenant(&app, "other").await;
    let answered = import_ok(
        &app,
        &other_key,
        "format=confab",
        "application/x-ndjson",
        exported.clone().into(),
    )
    .await;
    assert_eq!(answered, report(1, 6, 0, &[]));
    let copied = lines(&export_text(&app, "/api/v1/export", &other_key).await).remove(0);
    let mut expected = normalised(&line);
    expected["messages"][5]["status"] = json!("interrupted");
    let mut copied = normalised(&copied);
    for line in [&mut expected, &mut copied] {
        line["chat"]["id"] = Value::Null;
        line["source_id"] = Value::Null;
    }
    assert_eq!(copied, expected);

    // The stopped reply, exported now, comes back stopped.
    let exported = export_text(&app, "/api/v1/export", &key).await;
    let (_, third_key) = new_tenant(&app, "third").await;
    import_ok(
        &app,
        &third_key,
        "format=confab",
        "application/x-ndjson",
        exported.clone().into(),
    )
    .await;
    let copied = lines(&export_text(&app, "/api/v1/export", &third_key).await).remove(0);
    assert_eq!(copied["messages"][5]["status"], "stopped");
    assert_eq!(
        copied["messages"][5]["message"],
        stopped["chatMessage"]["message"]
    );
    assert_eq!(
        normalised(&copied)["messages"],
        normalised(&lines(&exported)[0])["messages"]
    );
}
