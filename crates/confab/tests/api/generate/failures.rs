//! Every way the provider can fail ends the reply `failed` with a clear error and the
//! text so far: never a hang, a panic or a leaked task.

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::support::Backend;
use crate::tenant_support::eventually;

crate::per_backend!(
    every_upstream_failure_ends_the_reply_failed,
    a_failed_reply_without_streaming_answers_502,
    an_unreachable_provider_fails_the_reply,
    a_reply_over_the_size_limit_keeps_what_fits,
);

async fn every_upstream_failure_ends_the_reply_failed(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "failures@example.com").await;
    // (model, error code, text kept)
    let cases = [
        ("fail-500", "llm_upstream_error", ""),
        ("fail-401", "llm_upstream_error", ""),
        ("cut-2", "llm_upstream_error", "w1 w2 "),
        ("malformed", "llm_upstream_error", "ok "),
        ("broken", "llm_upstream_error", "partial "),
        ("hang-1", "llm_timeout", "w1 "),
        ("silent", "llm_timeout", ""),
        ("fail-404", "llm_upstream_error", ""),
    ];
    for (model, code, kept) in cases {
        let mut sse = generate_sse(
            &app,
            &chat.path,
            &chat.user.auth,
            json!({"message": {"content": "hi"}, "model": model}),
        )
        .await;
        let events = sse.until_end().await;
        let end = events.last().expect("events");
        assert_eq!(end.event, "message.failed", "{model}: {events:?}");
        assert_eq!(end.data["status"], json!("failed"), "{model}");
        assert_eq!(
            end.data["error"]["code"],
            json!(code),
            "{model}: {events:?}"
        );
        assert!(
            !end.data["error"]["message"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{model}: the error says why"
        );
        assert_eq!(joined_deltas(&events, 1), kept, "{model}");
        let reply = end.data["message_id"].as_i64().expect("message_id");
        let stored = stored_when(&app, &chat, reply, "failed").await;
        assert_eq!(stored["message"], json!(kept), "{model}");
        assert_eq!(stored["error"]["code"], json!(code), "{model}");
    }
    eventually("every generation task ended", || async {
        app.state.events.streams().producing() == 0
    })
    .await;
}

async fn a_failed_reply_without_streaming_answers_502(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "502@example.com").await;
    let (status, body) = app
        .post(
            &format!("{}/generate", chat.path),
            &chat.user.auth,
            json!({"message": {"content": "hi"}, "model": "cut-1", "stream": false}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["statusCode"], json!(502));
    let (_, listed) = app
        .get(&format!("{}/messages", chat.path), &chat.user.auth)
        .await;
    let reply = &listed["chatMessages"][1];
    assert_eq!(reply["status"], json!("failed"));
    assert_eq!(reply["message"], json!("w1 "));
}

async fn an_unreachable_provider_fails_the_reply(backend: Backend) {
    // A port nothing listens on.
    let port = crate::support::process::free_port();
    let app = crate::support::TestApp::spawn_with(backend, |config| {
        config.llm.llm_base_url = Some(format!("http://127.0.0.1:{port}/v1"));
        config.llm.llm_timeout_seconds = 2;
    })
    .await;
    let chat = user_chat(&app, "refused@example.com").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "hi"}, "model": "any"}),
    )
    .await;
    let events = sse.until_end().await;
    let end = events.last().expect("events");
    assert_eq!(end.event, "message.failed");
    assert_eq!(end.data["error"]["code"], json!("llm_upstream_error"));
}

async fn a_reply_over_the_size_limit_keeps_what_fits(backend: Backend) {
    let (app, _double) = app_with_double(backend, |config| {
        config.limits.max_message_bytes = 10;
    })
    .await;
    let chat = user_chat(&app, "long@example.com").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "hi"}, "model": "count-9-0"}),
    )
    .await;
    let events = sse.until_end().await;
    let end = events.last().expect("events");
    assert_eq!(end.event, "message.failed");
    assert_eq!(end.data["error"]["code"], json!("reply_too_long"));
    assert_eq!(joined_deltas(&events, 1), "w1 w2 w3 w");
}
