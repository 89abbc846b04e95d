//! Import and export (SPEC §10) over real HTTP on both engines: a tenant's export read
//! back into another tenant and another server (`round_trip.rs`), generated replies'
//! states carried over (`replies.rs`), a user's export and the filters
//! (`user_export.rs`), ChatGPT's export as JSON and as a sharded ZIP (`chatgpt.rs`),
//! Open WebUI's (`openwebui.rs`), files refused whole (`refusals.rs`), imports at the
//! same time (`races.rs`), and `confab export` / `confab import` (`cli.rs`).

mod chatgpt;
mod cli;
mod openwebui;
mod races;
mod refusals;
mod replies;
mod round_trip;
mod user_export;

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write as _;

use crate::support::{Auth, TestApp};

use chatgpt::chatgpt_import_keeps_every_branch_and_skips_scaffolding;
use cli::cli_export_and_import;
use openwebui::openwebui_import;
use races::{
    concurrent_imports_store_each_conversation_once,
    two_tenants_importing_one_export_at_once_each_get_all,
};
use refusals::bad_files_are_refused_whole;
use replies::generated_replies_keep_their_state;
use round_trip::export_then_import_reproduces_every_chat;
use user_export::user_export_has_only_their_chats_and_since_filters;

crate::per_backend!(
    export_then_import_reproduces_every_chat,
    user_export_has_only_their_chats_and_since_filters,
    chatgpt_import_keeps_every_branch_and_skips_scaffolding,
    openwebui_import,
    bad_files_are_refused_whole,
    cli_export_and_import,
    generated_replies_keep_their_state,
    concurrent_imports_store_each_conversation_once,
    two_tenants_importing_one_export_at_once_each_get_all,
);

/// The hand-written ChatGPT export (five conversations, two of them malformed).
pub(super) const CHATGPT: &str = include_str!("../../fixtures/import/chatgpt_conversations.json");
/// The hand-written Open WebUI export (five chats, two of them malformed).
pub(super) const OPENWEBUI: &str = include_str!("../../fixtures/import/openwebui_chats.json");

/// `POST /api/v1/import?{query}` with `body` as `content_type`; the status and the JSON
/// answer.
pub(super) async fn import(
    app: &TestApp,
    key: &Auth,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = key
        .apply(app.client.post(app.url(&format!("/api/v1/import?{query}"))))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("import sent");
    let status = response.status();
    let text = response.text().await.expect("import answer read");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status}: the import answer is not JSON: {text}"));
    (status, body)
}

/// An import that must succeed; its report.
pub(super) async fn import_ok(
    app: &TestApp,
    key: &Auth,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Value {
    let (status, report) = import(app, key, query, content_type, body).await;
    assert_eq!(status, StatusCode::OK, "{query}: {report}");
    report
}

/// The report an import answers.
pub(super) fn report(chats: u64, messages: u64, duplicates: u64, errors: &[(&str, &str)]) -> Value {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(source_id, message)| json!({"source_id": source_id, "message": message}))
        .collect();
    json!({
        "chats_imported": chats,
        "messages_imported": messages,
        "skipped_duplicates": duplicates,
        "errors": errors,
    })
}

/// `GET path`: the status, the `Content-Type` and the body's text.
pub(super) async fn get_text(
    app: &TestApp,
    path: &str,
    auth: &Auth,
) -> (StatusCode, String, String) {
    let response = auth
        .apply(app.client.get(app.url(path)))
        .send()
        .await
        .expect("export sent");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.text().await.expect("export read"),
    )
}

/// An export that must succeed (`GET /api/v1/export...` or the user's): its text.
pub(super) async fn export_text(app: &TestApp, path: &str, auth: &Auth) -> String {
    let (status, content_type, text) = get_text(app, path, auth).await;
    assert_eq!(status, StatusCode::OK, "{path}: {text}");
    assert_eq!(content_type, "application/x-ndjson", "{path}");
    assert!(text.is_empty() || text.ends_with('\n'), "{path}: {text}");
    text
}

/// The lines of an NDJSON export, parsed.
pub(super) fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect()
}

/// The tenant's chats, archived ones too (the first page is all these tests make).
pub(super) async fn tenant_chats(app: &TestApp, key: &Auth) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/chats?archived=all&limit=100", key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().expect("data").clone()
}

/// The chat of an export line with the given `source_id`.
pub(super) fn line_with_source<'a>(lines: &'a [Value], source_id: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line["source_id"] == source_id)
        .unwrap_or_else(|| panic!("no exported chat from {source_id}"))
}

/// An export line with every id the server hands out replaced by its position: message
/// ids (and the parents, siblings and current leaf naming them) by the message's place
/// in the line, the chat's internal id and file ids dropped, owners dropped (an import
/// into another tenant gives the chats to whom it names). Everything else is left as
/// exported.
pub(super) fn normalised(line: &Value) -> Value {
    let mut line = line.clone();
    let messages = line["messages"].as_array().cloned().unwrap_or_default();
    let position: HashMap<i64, usize> = messages
        .iter()
        .enumerate()
        .map(|(at, m)| (m["id"].as_i64().expect("message id"), at))
        .collect();
    let place = |id: &Value| -> Value {
        match id.as_i64() {
            Some(id) => json!(position.get(&id).copied().expect("a message of this chat")),
            None => id.clone(),
        }
    };
    line["chat"]["current_message_id"] = place(&line["chat"]["current_message_id"]);
    line["chat"]["user_id"] = Value::Null;
    let normal: Vec<Value> = messages
        .iter()
        .map(|message| {
            let mut m = message.clone();
            m["id"] = place(&message["id"]);
            m["chat_conversation_id"] = Value::Null;
            m["parent_id"] = place(&message["parent_id"]);
            m["sibling_ids"] = message["sibling_ids"]
                .as_array()
                .expect("sibling_ids")
                .iter()
                .map(&place)
                .collect();
            let files: Vec<Value> = message["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|file| {
                    let mut f = file.clone();
                    f["id"] = Value::Null;
                    f["chat_conversation_id"] = Value::Null;
                    f["chat_conversation_message_id"] =
                        place(&file["chat_conversation_message_id"]);
                    f["neptun_user_id"] = Value::Null;
                    f
                })
                .collect();
            m["files"] = json!(files);
            m
        })
        .collect();
    line["messages"] = json!(normal);
    line
}

/// Each message as `[actor, text, parent's place, created_at, model]`; checks that
/// `updated_at` is `created_at` and the status `complete`.
pub(super) fn shape(messages: &Value) -> Vec<Value> {
    let messages = messages.as_array().expect("messages");
    let place = |id: &Value| {
        messages
            .iter()
            .position(|m| m["id"] == *id)
            .map_or(Value::Null, |at| json!(at))
    };
    messages
        .iter()
        .map(|m| {
            assert_eq!(m["updated_at"], m["created_at"], "{m}");
            assert_eq!(m["status"], "complete", "{m}");
            let model = m.get("model").cloned().unwrap_or(Value::Null);
            json!([
                m["actor"],
                m["message"],
                place(&m["parent_id"]),
                m["created_at"],
                model
            ])
        })
        .collect()
}

/// `[title, text, language, extension]` of each file of a message.
pub(super) fn files(message: &Value) -> Vec<Value> {
    message["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            assert_eq!(f["created_at"], message["created_at"], "{f}");
            assert_eq!(f["updated_at"], message["created_at"], "{f}");
            json!([f["title"], f["text"], f["language"], f["extension"]])
        })
        .collect()
}

/// `entries` (name, bytes) as a deflated ZIP.
pub(super) fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).expect("zip entry");
        writer.write_all(bytes).expect("zip entry written");
    }
    writer.finish().expect("zip finished").into_inner()
}

/// The ChatGPT fixture's conversations, each as its JSON value.
pub(super) fn chatgpt_conversations() -> Vec<Value> {
    serde_json::from_str(CHATGPT).expect("the ChatGPT fixture is JSON")
}
