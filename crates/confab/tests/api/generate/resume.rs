//! Resuming a reply's stream after a cut, stopping it, deleting it while it runs, and
//! a reply whose node is gone.

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::support::Backend;
use crate::tenant_support::eventually;

crate::per_backend!(
    a_cut_stream_resumes_where_it_stopped,
    a_finished_reply_replays_the_rest_at_once,
    a_stop_keeps_the_text_so_far,
    deleting_a_running_reply_stops_it,
    a_reply_of_a_lost_node_is_interrupted,
    resume_refuses_bad_positions_and_foreign_messages,
    a_running_reply_is_resumed_from_the_log_by_its_owner_only,
    a_revoked_key_ends_its_streams_not_the_reply,
    a_shutdown_ends_running_replies_interrupted,
    enders_racing_end_a_reply_once_and_never_shorter,
);

async fn a_cut_stream_resumes_where_it_stopped(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "resume@example.com").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "go"}, "model": "count-20-50"}),
    )
    .await;
    let seen = sse.until_deltas(3).await;
    let reply = seen[1].data["id"].as_i64().expect("reply id");
    drop(sse); // the tab is closed
    let url = app.url(&format!("{}/messages/{reply}/stream", chat.path));
    let mut resumed = resume_sse(&app, &url, &chat.user.auth, Some(3)).await;
    let rest = resumed.until_end().await;
    assert_eq!(
        rest.first().map(|e| e.data["seq"].clone()),
        Some(json!(4)),
        "{rest:?}"
    );
    let text = format!("{}{}", joined_deltas(&seen, 1), joined_deltas(&rest, 4));
    let expected: String = (1..=20).map(|i| format!("w{i} ")).collect();
    assert_eq!(text, expected);
    let end = rest.last().expect("end");
    assert_eq!(end.event, "message.completed");
    assert_eq!(end.data["message"], json!(expected));
}

async fn a_finished_reply_replays_the_rest_at_once(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "replay@example.com").await;
    let (status, body) = app
        .post(
            &format!("{}/generate", chat.path),
            &chat.user.auth,
            json!({"message": {"content": "go"}, "model": "count-12-0", "stream": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let reply = body["chatMessage"]["id"].as_i64().expect("id");
    let url = app.url(&format!("{}/messages/{reply}/stream?after=10", chat.path));
    let events = resume_sse(&app, &url, &chat.user.auth, None)
        .await
        .until_end()
        .await;
    assert_eq!(joined_deltas(&events, 11), "w11 w12 ");
    assert_eq!(
        events.last().map(|e| e.event.as_str()),
        Some("message.completed")
    );
    // From the start, by header (which wins over the query).
    let events = resume_sse(&app, &url, &chat.user.auth, Some(0))
        .await
        .until_end()
        .await;
    assert_eq!(
        joined_deltas(&events, 1).len(),
        "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 ".len()
    );
    // A posted message has no deltas: just its end.
    let posted = app.post_message(&chat.user, chat.id, "user", "plain").await;
    let url = app.url(&format!("{}/messages/{posted}/stream", chat.path));
    let events = resume_sse(&app, &url, &chat.user.auth, None)
        .await
        .until_end()
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data["status"], json!("complete"));
}

async fn a_stop_keeps_the_text_so_far(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "stop@example.com").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "go"}, "model": "count-200-50"}),
    )
    .await;
    let seen = sse.until_deltas(2).await;
    let reply = seen[1].data["id"].as_i64().expect("reply id");
    // While it runs, the listing shows the text persisted so far (not a cached older
    // listing: growing text does not change the chat's version).
    let listed_text = || async {
        let (_, listed) = app
            .get(&format!("{}/messages", chat.path), &chat.user.auth)
            .await;
        let reply = listed["chatMessages"][1].clone();
        assert_eq!(reply["status"], json!("generating"), "{listed}");
        reply["message"].as_str().unwrap_or("").to_owned()
    };
    let first = listed_text().await;
    eventually("the listing shows more text", || async {
        listed_text().await.len() > first.len()
    })
    .await;
    let (status, stopped) = app
        .post(
            &format!("{}/messages/{reply}/stop", chat.path),
            &chat.user.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    let stopped = &stopped["chatMessage"];
    assert_eq!(stopped["status"], json!("stopped"));
    let text = stopped["message"].as_str().expect("text").to_owned();
    assert!(text.starts_with("w1 w2 "), "{text}");
    let rest = sse.until_end().await;
    let end = rest.last().expect("end");
    assert_eq!(end.event, "message.completed");
    assert_eq!(end.data["status"], json!("stopped"));
    let mut all = seen.clone();
    all.extend(rest);
    assert_eq!(
        joined_deltas(&all, 1),
        text,
        "the stored text is every delta sent"
    );
    // Stopping again answers the same message.
    let (status, again) = app
        .post(
            &format!("{}/messages/{reply}/stop", chat.path),
            &chat.user.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["chatMessage"]["message"], json!(text));
}

async fn deleting_a_running_reply_stops_it(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "dellast@example.com").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "go"}, "model": "count-200-50"}),
    )
    .await;
    sse.next().await.expect("created");
    sse.next().await.expect("created");
    let (status, body) = app
        .delete(&format!("{}/messages/last", chat.path), &chat.user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rest = sse.until_end().await;
    assert_eq!(
        rest.last().map(|e| e.data["status"].clone()),
        Some(json!("deleted"))
    );
    eventually("the generation stopped", || async {
        app.state.events.streams().producing() == 0
    })
    .await;
    let (_, listed) = app
        .get(&format!("{}/messages", chat.path), &chat.user.auth)
        .await;
    assert_eq!(listed["chatMessages"], json!([]));
}

async fn a_reply_of_a_lost_node_is_interrupted(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "lost@example.com").await;
    let store = app.store();
    let chat_ref = confab::store::ChatRef::User {
        user_id: chat.user.id,
        chat_id: chat.id,
    };
    // A reply some other node started and persisted part of, then died.
    let started = store
        .start_reply(
            &chat_ref,
            confab::store::Under::Current,
            None,
            confab::store::NewReply {
                model: "m".to_owned(),
                node: "a-node-that-died".to_owned(),
            },
        )
        .await;
    assert!(
        started.is_err(),
        "a regenerate of an empty chat has no user message to answer"
    );
    let user = app
        .post_message(&chat.user, chat.id, "user", "question")
        .await;
    let started = store
        .start_reply(
            &chat_ref,
            confab::store::Under::Current,
            None,
            confab::store::NewReply {
                model: "m".to_owned(),
                node: "a-node-that-died".to_owned(),
            },
        )
        .await
        .expect("started");
    let reply = started.messages[0].id;
    assert_eq!(started.messages[0].parent_id, Some(user));
    // Flushed with a reply that is not generating (here: none of that id): only that
    // one is reported ended.
    let ended = store
        .flush_replies(&[
            (reply, "half an ans", "4,11".to_owned()),
            (user, "not a reply", String::new()),
        ])
        .await
        .expect("flushed");
    assert_eq!(ended, vec![user]);
    let url = app.url(&format!("{}/messages/{reply}/stream", chat.path));
    let mut resumer = resume_sse(&app, &url, &chat.user.auth, Some(0)).await;
    let first = resumer.next().await.expect("persisted delta");
    assert_eq!(
        first.data,
        json!({"message_id": reply, "seq": 1, "text": "half"})
    );
    assert_eq!(
        app.state
            .chats
            .sweep_orphaned_replies()
            .await
            .expect("swept"),
        1
    );
    let rest = resumer.until_end().await;
    let end = rest.last().expect("end");
    assert_eq!(end.event, "message.failed", "{rest:?}");
    assert_eq!(end.data["status"], json!("interrupted"));
    assert_eq!(end.data["error"]["code"], json!("node_lost"));
    let stored = stored_when(&app, &chat, reply, "interrupted").await;
    assert_eq!(stored["message"], json!("half an ans"));
}

async fn resume_refuses_bad_positions_and_foreign_messages(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "owner@example.com").await;
    let other = user_chat(&app, "other@example.com").await;
    let message = app.post_message(&chat.user, chat.id, "user", "mine").await;
    let (status, _) = app
        .get(
            &format!("{}/messages/{message}/stream?after=x", chat.path),
            &chat.user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Another user's message through their own chat: not found; their chat: not found.
    let (status, _) = app
        .get(
            &format!("{}/messages/{message}/stream", other.path),
            &other.user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(
            &format!("{}/messages/{message}/stream", chat.path),
            &other.user.auth,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another user's id in the path"
    );
    let (status, _) = app
        .post(
            &format!("{}/messages/{message}/stop", other.path),
            &other.user.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_revoked_key_ends_its_streams_not_the_reply(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let store = app.store();
    let tenant = store.default_tenant().await.expect("tenant");
    let (key_id, key) = confab::cli::issue_key(store.as_ref(), tenant.id, "soon revoked")
        .await
        .expect("key");
    let key = crate::support::Auth::Key(key);
    let chat = crate::tenant_support::create_v1_chat(&app, &key, json!({"name": "revoked"})).await;
    let uuid = crate::tenant_support::chat_uuid(&chat);
    let mut sse = generate_sse(
        &app,
        &format!("/api/v1/chats/{uuid}"),
        &key,
        json!({"message": {"content": "go"}, "model": "count-400-25"}),
    )
    .await;
    let seen = sse.until_deltas(2).await;
    let reply = seen[1].data["id"].as_i64().expect("reply id");
    store
        .revoke_api_key(key_id, confab::domain::Timestamp::now())
        .await
        .expect("revoked");
    // The stream ends without an end event (within the revocation poll), ...
    let rest = sse.until_end().await;
    assert!(
        rest.iter().all(|e| e.event == "message.delta"),
        "no end event: {rest:?}"
    );
    // ... while the reply goes on: it is still generating, for whoever may read it.
    let other = crate::tenant_support::default_tenant_key(&app).await;
    let (status, listed) = app
        .get(&format!("/api/v1/chats/{uuid}/messages"), &other)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let stored = listed["data"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["id"] == json!(reply)).cloned())
        .expect("the reply");
    assert_eq!(stored["status"], json!("generating"), "{stored}");
}

async fn a_shutdown_ends_running_replies_interrupted(backend: Backend) {
    let (app, double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "shutdown@example.com").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "go"}, "model": "count-400-25"}),
    )
    .await;
    let seen = sse.until_deltas(4).await;
    let reply = seen[1].data["id"].as_i64().expect("reply id");
    let database = app.stop_keeping_database().await;
    // The stream ends with the reply's end, not with a cut.
    let rest = sse.until_end().await;
    let end = rest.last().expect("an end event");
    assert_eq!(end.event, "message.failed", "{end:?}");
    assert_eq!(end.data["status"], json!("interrupted"));
    // Restarted: the reply is interrupted with every delta the stream showed.
    let base = double.base_url();
    let app = crate::support::TestApp::spawn_on(database, |config| {
        config.llm.llm_base_url = Some(base);
    })
    .await;
    let (_, listed) = app
        .get(&format!("{}/messages", chat.path), &chat.user.auth)
        .await;
    let stored = &listed["chatMessages"][1];
    assert_eq!(stored["id"], json!(reply));
    assert_eq!(stored["status"], json!("interrupted"));
    assert_eq!(stored["error"]["code"], json!("node_lost"));
    let mut all = seen.clone();
    all.extend(rest);
    assert_eq!(
        stored["message"].as_str(),
        Some(joined_deltas(&all, 1).as_str())
    );
}

async fn enders_racing_end_a_reply_once_and_never_shorter(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let chat = user_chat(&app, "race@example.com").await;
    let store = app.store();
    let chat_ref = confab::store::ChatRef::User {
        user_id: chat.user.id,
        chat_id: chat.id,
    };
    app.post_message(&chat.user, chat.id, "user", "question")
        .await;
    let reply = store
        .start_reply(
            &chat_ref,
            confab::store::Under::Current,
            None,
            confab::store::NewReply {
                model: "m".to_owned(),
                node: "gone".to_owned(),
            },
        )
        .await
        .expect("started")
        .messages[0]
        .id;
    store
        .flush_replies(&[(reply, "one two three", "4,8,14".to_owned())])
        .await
        .expect("flushed");
    let version_before = store
        .chat_version(&chat_ref)
        .await
        .expect("version")
        .version;
    // Eight enders at once, each with a text shorter than the persisted one.
    let enders = (0..8).map(|_| {
        let store = store.clone();
        async move {
            let mut marks = confab::domain::StreamMarks::default();
            marks.push(4);
            store
                .finish_reply(
                    reply,
                    confab::store::ReplyEnd {
                        status: confab::domain::ReplyStatus::Interrupted,
                        text: Some((
                            confab::domain::MessageText::generated("one ".to_owned()),
                            marks,
                        )),
                        usage: None,
                        error: None,
                    },
                )
                .await
                .expect("ended or found ended")
        }
    });
    let results = futures_util::future::join_all(enders).await;
    assert_eq!(
        results.iter().filter(|r| r.is_some()).count(),
        1,
        "one ender wins"
    );
    let version_after = store
        .chat_version(&chat_ref)
        .await
        .expect("version")
        .version;
    assert_eq!(version_after, version_before + 1, "one change to the chat");
    let stored = stored_when(&app, &chat, reply, "interrupted").await;
    assert_eq!(
        stored["message"],
        json!("one two three"),
        "the longer persisted text is kept"
    );
}

/// While a reply runs, this node's log serves resumes after one indexed check; that
/// check lets no one else in, by any path or credential, and a trashed chat no more.
async fn a_running_reply_is_resumed_from_the_log_by_its_owner_only(backend: Backend) {
    let (app, _double) = app_with_double(backend, |_| {}).await;
    let key = crate::tenant_support::default_tenant_key(&app).await;
    let chat = user_chat(&app, "runner@example.com").await;
    let other = user_chat(&app, "onlooker@example.com").await;
    let (_, foreign) = crate::tenant_support::new_tenant(&app, "elsewhere").await;
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "go"}, "model": "count-40-50"}),
    )
    .await;
    let seen = sse.until_deltas(2).await;
    let reply = seen[1].data["id"].as_i64().expect("reply id");
    let question = seen[0].data["id"].as_i64().expect("question id");
    let uuid = crate::tenant_support::first_chat_uuid(&app, &chat.user).await;
    let refused = [
        (
            format!("{}/messages/{reply}/stream", other.path),
            &other.user.auth,
        ),
        (
            format!("{}/messages/{reply}/stream", chat.path),
            &other.user.auth,
        ),
        (
            format!("/api/v1/chats/{uuid}/messages/{reply}/stream"),
            &foreign,
        ),
        // The caller's own chat, another chat's running reply.
        (
            format!(
                "{}/messages/{reply}/stream",
                other
                    .path
                    .replace(&other.id.to_string(), &chat.id.to_string())
            ),
            &other.user.auth,
        ),
    ];
    for (path, auth) in refused {
        let (status, body) = app.get(&path, auth).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    // A message of the chat that is not running answers as it is, not from a log.
    let events = resume_sse(
        &app,
        &app.url(&format!("{}/messages/{question}/stream", chat.path)),
        &chat.user.auth,
        None,
    )
    .await
    .until_end()
    .await;
    assert_eq!(events.len(), 1, "{events:?}");
    // The owner, by either API, from the first delta: the whole reply, once.
    let expected: String = (1..=40).map(|i| format!("w{i} ")).collect();
    let url = app.url(&format!("{}/messages/{reply}/stream", chat.path));
    let mut mine = resume_sse(&app, &url, &chat.user.auth, Some(0)).await;
    let url = app.url(&format!("/api/v1/chats/{uuid}/messages/{reply}/stream"));
    let mut tenant = resume_sse(&app, &url, &key, Some(1)).await;
    let (mine, tenant) = tokio::join!(async move { mine.until_end().await }, async move {
        tenant.until_end().await
    });
    assert_eq!(joined_deltas(&mine, 1), expected);
    assert_eq!(joined_deltas(&tenant, 2), expected["w1 ".len()..]);
    // Trashed while running: the log no longer answers its owner.
    let mut sse = generate_sse(
        &app,
        &chat.path,
        &chat.user.auth,
        json!({"message": {"content": "again"}, "model": "count-400-25"}),
    )
    .await;
    let seen = sse.until_deltas(2).await;
    let reply = seen[1].data["id"].as_i64().expect("reply id");
    let (status, body) = app.delete(&chat.path, &chat.user.auth).await;
    assert!(status.is_success(), "{status} {body}");
    let (status, body) = app
        .get(
            &format!("{}/messages/{reply}/stream", chat.path),
            &chat.user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
