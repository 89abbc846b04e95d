//! Generating on both APIs: the events, what is stored, regenerate, the history sent,
//! the live sockets, the 409 rule, the cap, and `llm_not_configured`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::support::{post_answer, user_error, Backend, TestApp};
use crate::tenant_support::*;

crate::per_backend!(
    a_streamed_reply_is_announced_grown_and_stored,
    a_reply_without_streaming_answers_201_with_its_files,
    regenerate_makes_a_sibling_and_needs_a_user_message,
    the_history_is_the_active_path_within_the_budget,
    live_sockets_see_every_event,
    a_generating_chat_counts_as_watched,
    the_cap_refuses_more_generations,
    without_a_provider_the_routes_answer_503,
    bad_generate_bodies_are_refused,
    a_stalled_reader_holds_up_nobody,
);

async fn a_streamed_reply_is_announced_grown_and_stored(backend: Backend) {
    let (app, double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "stream@example.com").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "hello there friend", "role": "user"}, "model": "echo",
               "system": "be brief"}),
    )
    .await;
    let events = sse.until_end().await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names,
        [
            "message.created",
            "message.created",
            "message.delta",
            "message.delta",
            "message.delta",
            "message.completed"
        ],
        "{events:?}"
    );
    let user = &events[0].data;
    assert_eq!(user["actor"], json!("user"));
    assert_eq!(user["message"], json!("hello there friend"));
    assert_eq!(user["status"], json!("complete"));
    let reply = &events[1].data;
    assert_eq!(reply["actor"], json!("assistant"));
    assert_eq!(reply["status"], json!("generating"));
    assert_eq!(reply["parent_id"], user["id"]);
    assert_eq!(reply["model"], json!("echo"));
    let reply_id = reply["id"].as_i64().expect("id");
    for delta in &events[2..5] {
        assert_eq!(delta.data["message_id"], json!(reply_id));
    }
    assert_eq!(joined_deltas(&events, 1), "hello there friend");
    let done = &events[5].data;
    assert_eq!(done["id"], json!(reply_id));
    assert_eq!(done["status"], json!("complete"));
    assert_eq!(done["message"], json!("hello there friend"));
    assert_eq!(
        done["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 7})
    );
    assert!(
        sse.next().await.is_none(),
        "the stream ends after the end event"
    );

    let (status, listed) = app
        .get(&format!("{}/messages", chat.path), &chat.user.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
    let messages = listed["chatMessages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["message"], json!("hello there friend"));
    assert_eq!(messages[1]["status"], json!("complete"));
    let sent = double.bodies();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], json!("echo"));
    assert_eq!(sent[0]["stream"], json!(true));
    assert_eq!(
        sent[0]["messages"],
        json!([{"role": "system", "content": "be brief"},
               {"role": "user", "content": "hello there friend"}])
    );
    // Found by search once complete.
    let (status, found) = app
        .get(
            &format!("/api/users/{}/search?q=friend", chat.user.id),
            &chat.user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let hits = found["results"].as_array().cloned().unwrap_or_default();
    assert!(
        hits.iter().any(|h| h["message_id"] == json!(reply_id)),
        "the reply is found: {found}"
    );
}

async fn a_reply_without_streaming_answers_201_with_its_files(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let key = default_tenant_key(&app).await;
    let chat = create_v1_chat(&app, &key, json!({"name": "code", "model": "code"})).await;
    let uuid = chat_uuid(&chat);
    let (status, _, body) = post_answer(
        &app,
        &format!("/api/v1/chats/{uuid}/generate"),
        &key,
        json!({"message": {"content": "write code"}, "stream": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let reply = &body["data"];
    assert_eq!(reply["status"], json!("complete"));
    assert_eq!(
        reply["model"],
        json!("code"),
        "the chat's model is the default"
    );
    assert_eq!(
        reply["message"],
        json!("Here you go:\n```python\nprint('hi')\n```\nDone.")
    );
    let files = reply["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{reply}");
    assert_eq!(files[0]["language"], json!("python"));
    // A provider answering one JSON body is read too.
    let (status, _, body) = post_answer(
        &app,
        &format!("/api/v1/chats/{uuid}/generate"),
        &key,
        json!({"message": {"content": "again"}, "model": "json", "stream": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["message"], json!("whole answer"));
    assert_eq!(
        body["data"]["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 2})
    );
}

async fn regenerate_makes_a_sibling_and_needs_a_user_message(backend: Backend) {
    let (app, double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "regen@example.com").await;
    let generate = |body: Value| {
        let app = &app;
        let chat = &chat;
        async move {
            app.post(&format!("{}/generate", chat.path), &chat.user.auth, body)
                .await
        }
    };
    let (status, first) =
        generate(json!({"message": {"content": "one two"}, "model": "echo", "stream": false}))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let first = &first["chatMessage"];
    // The current leaf is the reply: a regenerate must name the user message.
    let (status, body) = generate(json!({"model": "echo", "stream": false})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let user_id = first["parent_id"].clone();
    let (status, second) =
        generate(json!({"parent_id": user_id, "model": "count-2-0", "stream": false})).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = &second["chatMessage"];
    assert_eq!(second["parent_id"], user_id);
    assert_eq!(second["message"], json!("w1 w2 "));
    assert_eq!(second["sibling_ids"], json!([first["id"], second["id"]]));
    // The regenerate sent the history up to the user message, not the old reply.
    let sent = double.bodies();
    assert_eq!(
        sent[1]["messages"],
        json!([{"role": "user", "content": "one two"}])
    );
    // The active path now ends at the new reply.
    let (_, listed) = app
        .get(&format!("{}/messages", chat.path), &chat.user.auth)
        .await;
    let ids: Vec<Value> = listed["chatMessages"]
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, vec![user_id, second["id"].clone()]);
}

async fn the_history_is_the_active_path_within_the_budget(backend: Backend) {
    let (app, double) = app_with_double(backend, |config| {
        config.llm.llm_context_tokens = 64;
    })
    .await;
    let chat = user_chat(&app, "budget@example.com").await;
    let long = "lorem ipsum dolor sit amet ".repeat(20); // ~100 tokens
    app.post_message(&chat.user, chat.id, "user", &long).await;
    app.post_message(&chat.user, chat.id, "assistant", "short answer")
        .await;
    let (status, body) = app
        .post(
            &format!("{}/generate", chat.path),
            &chat.user.auth,
            json!({"message": {"content": "and now?"}, "model": "echo", "stream": false,
                   "system": "sys"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sent = double.bodies();
    assert_eq!(
        sent[0]["messages"],
        json!([{"role": "system", "content": "sys"},
               {"role": "assistant", "content": "short answer"},
               {"role": "user", "content": "and now?"}]),
        "the oldest message did not fit the 64-token budget"
    );
}

async fn live_sockets_see_every_event(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let key = default_tenant_key(&app).await;
    let chat = create_v1_chat(&app, &key, json!({"name": "live"})).await;
    let uuid = chat_uuid(&chat);
    let mut socket = ws(&app, &format!("/api/v1/chats/{uuid}/ws"), &key).await;
    let (status, _, body) = post_answer(
        &app,
        &format!("/api/v1/chats/{uuid}/generate"),
        &key,
        json!({"message": {"content": "a b c"}, "model": "echo", "stream": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut kinds = Vec::new();
    let mut text = String::new();
    loop {
        let frame = next_json(&mut socket).await;
        let kind = frame["type"].as_str().expect("type").to_owned();
        assert_eq!(frame["chat_id"], json!(uuid));
        if kind == "message.delta" {
            text.push_str(frame["text"].as_str().expect("text"));
        }
        kinds.push(kind.clone());
        if kind == "message.completed" {
            assert_eq!(frame["message"]["message"], json!("a b c"));
            break;
        }
    }
    assert_eq!(
        kinds,
        [
            "message.created",
            "message.created",
            "message.delta",
            "message.delta",
            "message.delta",
            "message.completed"
        ]
    );
    assert_eq!(text, "a b c");
}

async fn a_generating_chat_counts_as_watched(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let key = default_tenant_key(&app).await;
    let chat = create_v1_chat(&app, &key, json!({"name": "busy"})).await;
    let uuid = chat_uuid(&chat);
    let mut sse = generate_sse(
        &app,
        &format!("/api/v1/chats/{uuid}"),
        &key,
        json!({"message": {"content": "go"}, "model": "count-200-50"}),
    )
    .await;
    let created = sse.next().await.expect("created");
    assert_eq!(created.event, "message.created");
    assert_tenant_error(
        app.delete(&format!("/api/v1/chats/{uuid}"), &key).await,
        StatusCode::CONFLICT,
        "chat_has_active_connections",
    );
    let (status, body) = app
        .delete(&format!("/api/v1/chats/{uuid}?force=true"), &key)
        .await;
    assert!(status.is_success(), "{status} {body}");
    // The reply's stream ends: its message is gone with the chat.
    let rest = sse.until_end().await;
    let last = rest.last().expect("an end event");
    assert_eq!(last.event, "message.failed", "{rest:?}");
    assert_eq!(last.data["status"], json!("deleted"));
    eventually("the generation stopped", || async {
        app.state.events.streams().producing() == 0
    })
    .await;
}

async fn the_cap_refuses_more_generations(backend: Backend) {
    let (app, _double) = app_with_double(backend, |config| {
        config.llm.llm_max_concurrent = 1;
    })
    .await;
    let chat = user_chat(&app, "cap@example.com").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "go"}, "model": "count-100-50"}),
    )
    .await;
    sse.next().await.expect("created");
    let (status, retry_after, body) = post_answer(
        &app,
        &format!("{}/generate", chat.path),
        &chat.user.auth,
        json!({"message": {"content": "more"}, "model": "echo"}),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(retry_after.is_some());
    assert_eq!(body["statusCode"], json!(429));
}

async fn without_a_provider_the_routes_answer_503(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = user_chat(&app, "none@example.com").await;
    let (status, body) = app
        .post(
            &format!("{}/generate", chat.path),
            &chat.user.auth,
            json!({"message": {"content": "hi"}}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        user_error(
            503,
            "No LLM provider is configured on this server (--llm-base-url)"
        )
    );
    let key = default_tenant_key(&app).await;
    let chat = create_v1_chat(&app, &key, json!({"name": "x"})).await;
    let uuid = chat_uuid(&chat);
    assert_tenant_error(
        app.post(&format!("/api/v1/chats/{uuid}/generate"), &key, json!({}))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "llm_not_configured",
    );
    // Nothing was stored.
    let (_, listed) = app
        .get(&format!("/api/v1/chats/{uuid}/messages"), &key)
        .await;
    assert_eq!(listed["data"], json!([]));
}

async fn bad_generate_bodies_are_refused(backend: Backend) {
    let (app, double) = app_with_double(backend, |_| {}).await;
    let key = default_tenant_key(&app).await;
    let chat = create_v1_chat(&app, &key, json!({"name": "bad"})).await;
    let path = format!("/api/v1/chats/{}/generate", chat_uuid(&chat));
    for body in [
        json!({"message": {"content": ""}, "model": "echo"}),
        json!({"message": {"content": "x", "role": "assistant"}, "model": "echo"}),
        json!({"message": {"content": "x"}, "model": "echo", "temperature": 3}),
        json!({"message": {"content": "x"}, "model": "echo", "max_tokens": 0}),
        json!({"message": {"content": "x"}, "parent_id": 0, "model": "echo"}),
        json!({"message": {"content": "x"}}),
        json!({"message": "not an object", "model": "echo"}),
    ] {
        let (status, answer) = app.post(&path, &key, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_eq!(answer["success"], json!(false));
    }
    // A parent of another chat.
    let other = create_v1_chat(&app, &key, json!({"name": "other"})).await;
    let other_message = post_v1_message(&app, &key, &chat_uuid(&other), "user", "elsewhere").await;
    let (status, answer) = app
        .post(
            &path,
            &key,
            json!({"parent_id": other_message["id"], "model": "echo"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(double.bodies().is_empty(), "nothing reached the provider");
}

async fn a_stalled_reader_holds_up_nobody(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "stalled@example.com").await;
    // A reader that never reads: its stream is left unread for the whole reply. Big
    // chunks (the echo of a long message) fill its socket buffers quickly.
    let word = format!("{} ", "x".repeat(2000));
    let long = word.repeat(200);
    let stalled = chat
        .user
        .auth
        .apply(app.client.post(app.url(&format!("{}/generate", chat.path))))
        .json(&json!({"message": {"content": long}, "model": "echo"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(stalled.status(), StatusCode::OK);
    // Meanwhile another reply and its own reader go at full speed, and the stalled
    // reply itself completes and is stored.
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "quick"}, "model": "count-50-1"}),
    )
    .await;
    let events = sse.until_end().await;
    assert_eq!(
        events.last().map(|e| e.event.as_str()),
        Some("message.completed")
    );
    assert_eq!(
        joined_deltas(&events, 1).len(),
        "w1 ".len() * 9 + "w10 ".len() * 41
    );
    eventually("the unread reply completed", || async {
        let (_, tree) = app
            .get(&format!("{}/tree", chat.path), &chat.user.auth)
            .await;
        tree["chatMessages"].as_array().is_some_and(|m| {
            m.iter().any(|m| {
                m["message"] == json!(long)
                    && m["actor"] == "assistant"
                    && m["status"] == "complete"
            })
        })
    })
    .await;
    drop(stalled);
}
