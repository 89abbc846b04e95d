//! The message tree: edit, regenerate by posting under a parent, branch switches, the
//! whole tree, and delete-last on the active path — on both APIs.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{user_error, Auth, Backend, TestApp, TestUser};
use crate::tenant_support::*;

crate::per_backend!(
    a_chat_that_never_branched_reads_as_a_chain,
    an_edit_adds_a_sibling_and_moves_the_leaf,
    posting_under_a_parent_regenerates_a_reply,
    a_switch_picks_the_newest_leaf_of_the_subtree,
    the_tree_holds_every_branch,
    delete_last_takes_the_subtrees_along,
    the_tenant_api_edits_switches_and_reads_the_tree,
    branch_changes_reach_live_sockets,
    bad_references_are_refused,
);

/// One user with one chat, and the path prefix of its routes.
struct Chat {
    user: TestUser,
    id: i64,
    path: String,
}

async fn chat_with(app: &TestApp, actors: &[&str]) -> (Chat, Vec<i64>) {
    let user = app.sign_up("tree@example.com").await;
    let id = app.create_chat(&user, "tree").await;
    let path = format!("/api/users/{}/chats/{id}", user.id);
    let mut ids = Vec::new();
    for (n, actor) in actors.iter().enumerate() {
        ids.push(
            app.post_message(&user, id, actor, &format!("{actor} {n}"))
                .await,
        );
    }
    (Chat { user, id, path }, ids)
}

async fn listed(app: &TestApp, chat: &Chat) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("{}/messages", chat.path), &chat.user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["chatMessages"]
        .as_array()
        .expect("chatMessages")
        .clone()
}

fn ids(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect()
}

fn of(message: &Value, field: &str) -> Value {
    message[field].clone()
}

async fn edit(app: &TestApp, chat: &Chat, message: i64, text: &str) -> (StatusCode, Value) {
    app.call(
        Method::PATCH,
        &format!("{}/messages/{message}", chat.path),
        &chat.user.auth,
        Some(json!({ "message": text })),
    )
    .await
}

async fn switch(app: &TestApp, path: &str, auth: &Auth, message: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("{path}/current"),
        auth,
        Some(json!({ "message_id": message })),
    )
    .await
}

async fn current_of(app: &TestApp, chat: &Chat) -> Value {
    let (status, body) = app
        .get(&format!("{}/tree", chat.path), &chat.user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["current_message_id"].clone()
}

async fn a_chat_that_never_branched_reads_as_a_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (chat, posted) = chat_with(&app, &["user", "assistant", "user", "assistant"]).await;
    let messages = listed(&app, &chat).await;
    assert_eq!(ids(&messages), posted);
    for (n, message) in messages.iter().enumerate() {
        let parent = if n == 0 {
            Value::Null
        } else {
            json!(posted[n - 1])
        };
        assert_eq!(of(message, "parent_id"), parent, "{message}");
        assert_eq!(of(message, "sibling_ids"), json!([posted[n]]), "{message}");
    }
    let (_, chats) = app
        .get(
            &format!("/api/users/{}/chats", chat.user.id),
            &chat.user.auth,
        )
        .await;
    assert_eq!(chats["chats"][0]["current_message_id"], json!(posted[3]));
    assert_eq!(current_of(&app, &chat).await, json!(posted[3]));
}

async fn an_edit_adds_a_sibling_and_moves_the_leaf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (chat, posted) = chat_with(&app, &["user", "assistant", "user", "assistant"]).await;
    let (status, body) = edit(&app, &chat, posted[2], "user 2, edited").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let edited = &body["chatMessage"];
    let edited_id = edited["id"].as_i64().expect("id");
    assert!(
        edited_id > posted[3],
        "a new message, not an update: {edited}"
    );
    assert_eq!(edited["actor"], "user");
    assert_eq!(edited["message"], "user 2, edited");
    assert_eq!(edited["parent_id"], json!(posted[1]));
    assert_eq!(edited["sibling_ids"], json!([posted[2], edited_id]));
    assert_eq!(edited["files"], json!([]));

    let messages = listed(&app, &chat).await;
    assert_eq!(ids(&messages), [posted[0], posted[1], edited_id]);
    assert_eq!(messages[2]["sibling_ids"], json!([posted[2], edited_id]));
    assert_eq!(current_of(&app, &chat).await, json!(edited_id));

    // An assistant message edited gets its code files extracted again.
    let reply = app
        .post_message(&chat.user, chat.id, "assistant", "plain")
        .await;
    let (status, body) = edit(&app, &chat, reply, "```rust\nfn main() {}\n```").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let files = body["chatMessage"]["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{body}");
    assert_eq!(files[0]["language"], "rust");
    assert_eq!(body["chatMessage"]["actor"], "assistant");
    assert_eq!(body["chatMessage"]["parent_id"], json!(edited_id));

    // Editing the first message makes a second root.
    let (status, body) = edit(&app, &chat, posted[0], "a new start").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let root = body["chatMessage"]["id"].as_i64().expect("id");
    assert_eq!(body["chatMessage"]["parent_id"], Value::Null);
    assert_eq!(body["chatMessage"]["sibling_ids"], json!([posted[0], root]));
    assert_eq!(ids(&listed(&app, &chat).await), [root]);
}

async fn posting_under_a_parent_regenerates_a_reply(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (chat, posted) = chat_with(&app, &["user", "assistant"]).await;
    let (status, body) = app
        .post(
            &format!("{}/messages", chat.path),
            &chat.user.auth,
            json!({"message": "another answer", "actor": "assistant", "parent_id": posted[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["chatMessage"]["id"].as_i64().expect("id");
    assert_eq!(body["chatMessage"]["parent_id"], json!(posted[0]));
    assert_eq!(
        body["chatMessage"]["sibling_ids"],
        json!([posted[1], second])
    );
    let messages = listed(&app, &chat).await;
    assert_eq!(ids(&messages), [posted[0], second]);

    // A batch under a parent: the first message attaches there, the rest chain on.
    let (status, body) = app
        .post(
            &format!("{}/messages", chat.path),
            &chat.user.auth,
            json!({"parent_id": posted[1], "messages": [
                {"role": "user", "content": "follow-up"},
                {"role": "assistant", "content": "answer"}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let batch = ids(body["chatMessages"].as_array().expect("chatMessages"));
    assert_eq!(body["chatMessages"][0]["parent_id"], json!(posted[1]));
    assert_eq!(body["chatMessages"][1]["parent_id"], json!(batch[0]));
    assert_eq!(
        ids(&listed(&app, &chat).await),
        [posted[0], posted[1], batch[0], batch[1]]
    );
    // Without parent_id, a post goes under the current leaf.
    let next = app.post_message(&chat.user, chat.id, "user", "more").await;
    let messages = listed(&app, &chat).await;
    assert_eq!(
        messages.last().map(|m| m["parent_id"].clone()),
        Some(json!(batch[1]))
    );
    assert_eq!(ids(&messages).last(), Some(&next));
}

async fn a_switch_picks_the_newest_leaf_of_the_subtree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (chat, posted) = chat_with(&app, &["user", "assistant", "user", "assistant"]).await;
    let (_, body) = edit(&app, &chat, posted[2], "edited").await;
    let edited = body["chatMessage"]["id"].as_i64().expect("id");

    // Back to the original branch: the newest leaf under posted[2] is posted[3].
    let (status, body) = switch(&app, &chat.path, &chat.user.auth, json!(posted[2])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(body["chatMessages"].as_array().expect("path")), posted);
    assert_eq!(ids(&listed(&app, &chat).await), posted);
    assert_eq!(current_of(&app, &chat).await, json!(posted[3]));

    // From the common ancestor, the newest leaf is the edited message.
    let (status, body) = switch(&app, &chat.path, &chat.user.auth, json!(posted[1])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        ids(body["chatMessages"].as_array().expect("path")),
        [posted[0], posted[1], edited]
    );
    // Switching to where the chat already is changes nothing and still answers the path.
    let (status, body) = switch(&app, &chat.path, &chat.user.auth, json!(edited)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chatMessages"].as_array().map(Vec::len), Some(3));
}

async fn the_tree_holds_every_branch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (chat, posted) = chat_with(&app, &["user", "assistant"]).await;
    let (_, body) = edit(&app, &chat, posted[1], "second answer").await;
    let second = body["chatMessage"]["id"].as_i64().expect("id");
    let (status, tree) = app
        .get(&format!("{}/tree", chat.path), &chat.user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{tree}");
    assert_eq!(tree["current_message_id"], json!(second));
    let messages = tree["chatMessages"].as_array().expect("chatMessages");
    assert_eq!(ids(messages), [posted[0], posted[1], second]);
    let parents: Vec<Value> = messages.iter().map(|m| m["parent_id"].clone()).collect();
    assert_eq!(parents, [Value::Null, json!(posted[0]), json!(posted[0])]);
    assert_eq!(messages[1]["sibling_ids"], json!([posted[1], second]));
    assert_eq!(messages[1]["message"], "assistant 1");
}

async fn delete_last_takes_the_subtrees_along(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (chat, posted) = chat_with(&app, &["user", "assistant", "user", "assistant"]).await;
    // A second reply under posted[2], then back to the first one.
    let (_, body) = edit(&app, &chat, posted[3], "regenerated").await;
    let regenerated = body["chatMessage"]["id"].as_i64().expect("id");
    switch(&app, &chat.path, &chat.user.auth, json!(posted[3])).await;

    let (status, body) = app
        .delete(&format!("{}/messages/last", chat.path), &chat.user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["maybeAssistantMessageToDelete"]["id"],
        json!(posted[3])
    );
    assert_eq!(body["maybeUserMessageToDelete"]["id"], json!(posted[2]));
    let (_, tree) = app
        .get(&format!("{}/tree", chat.path), &chat.user.auth)
        .await;
    let remaining = ids(tree["chatMessages"].as_array().expect("tree"));
    assert_eq!(
        remaining,
        posted[..2],
        "the regenerated {regenerated} went with its parent"
    );
    assert_eq!(tree["current_message_id"], json!(posted[1]));
    assert_eq!(ids(&listed(&app, &chat).await), posted[..2]);

    // The last remaining message of the old path is current even if it has other children.
    let (_, body) = edit(&app, &chat, posted[1], "other answer").await;
    let other = body["chatMessage"]["id"].as_i64().expect("id");
    switch(&app, &chat.path, &chat.user.auth, json!(posted[1])).await;
    app.post_message(&chat.user, chat.id, "user", "q").await;
    app.post_message(&chat.user, chat.id, "assistant", "a")
        .await;
    let (status, _) = app
        .delete(&format!("{}/messages/last", chat.path), &chat.user.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current_of(&app, &chat).await, json!(posted[1]));
    let (_, tree) = app
        .get(&format!("{}/tree", chat.path), &chat.user.auth)
        .await;
    assert_eq!(
        ids(tree["chatMessages"].as_array().expect("tree")),
        [posted[0], posted[1], other]
    );
    // A tenant's view of the chat counts what is left.
    let key = default_tenant_key(&app).await;
    let uuid = first_chat_uuid(&app, &chat.user).await;
    let (_, v1) = app.get(&format!("/api/v1/chats/{uuid}"), &key).await;
    assert_eq!(v1["message_count"], 3, "{v1}");
}

async fn the_tenant_api_edits_switches_and_reads_the_tree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, key) = new_tenant(&app, "acme").await;
    let chat = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    let path = format!("/api/v1/chats/{chat}");
    let question = post_v1_message(&app, &key, &chat, "user", "q").await["id"].clone();
    let answer = post_v1_message(&app, &key, &chat, "assistant", "a").await["id"].clone();
    assert_eq!(
        post_v1_message(&app, &key, &chat, "user", "q2").await["parent_id"],
        answer
    );

    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{path}/messages/{answer}"),
            &key,
            Some(json!({"message": "a, again"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = body["data"]["id"].clone();
    assert_eq!(body["data"]["parent_id"], question);
    assert_eq!(body["data"]["sibling_ids"], json!([answer, again]));

    let (status, page) = app.get(&format!("{path}/messages"), &key).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        ids(page["data"].as_array().expect("data")),
        [question.as_i64().unwrap_or(0), again.as_i64().unwrap_or(0)]
    );
    let (_, chat_body) = app.get(&path, &key).await;
    assert_eq!(chat_body["current_message_id"], again);

    let (status, body) = switch(&app, &path, &key, answer.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(3), "{body}");
    assert_eq!(body["next_cursor"], Value::Null);

    let (status, tree) = app.get(&format!("{path}/tree"), &key).await;
    assert_eq!(status, StatusCode::OK, "{tree}");
    assert_eq!(tree["data"].as_array().map(Vec::len), Some(4), "{tree}");
    assert_ne!(tree["current_message_id"], again);
}

async fn branch_changes_reach_live_sockets(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user, chat_id, uuid) = user_with_chat(&app, "live-tree@example.com").await;
    let chat = Chat {
        path: format!("/api/users/{}/chats/{chat_id}", user.id),
        user,
        id: chat_id,
    };
    let first = app.post_message(&chat.user, chat.id, "user", "q").await;
    let mut socket = ws(&app, &format!("/api/v1/chats/{uuid}/ws"), &key).await;

    let reply = app
        .post_message(&chat.user, chat.id, "assistant", "a")
        .await;
    let created = next_json(&mut socket).await;
    assert_eq!(created["type"], "message.created");
    assert_eq!(created["message"]["id"], json!(reply));
    assert_eq!(created["message"]["parent_id"], json!(first));

    let (_, body) = edit(&app, &chat, reply, "a2").await;
    let edited = body["chatMessage"]["id"].clone();
    let created = next_json(&mut socket).await;
    assert_eq!(created["type"], "message.created", "{created}");
    assert_eq!(created["message"]["id"], edited);
    let changed = next_json(&mut socket).await;
    assert_eq!(changed["type"], "chat.current_changed", "{changed}");
    assert_eq!(changed["current_message_id"], edited);

    switch(&app, &chat.path, &chat.user.auth, json!(reply)).await;
    let changed = next_json(&mut socket).await;
    assert_eq!(changed["type"], "chat.current_changed", "{changed}");
    assert_eq!(changed["current_message_id"], json!(reply));
    close_ws(socket).await;
}

async fn bad_references_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (chat, posted) = chat_with(&app, &["user", "assistant"]).await;
    let other_chat = app.create_chat(&chat.user, "other").await;
    let foreign = app
        .post_message(&chat.user, other_chat, "user", "elsewhere")
        .await;
    let stranger = app.sign_up("stranger@example.com").await;
    let strangers_chat = app.create_chat(&stranger, "theirs").await;
    let strangers = app
        .post_message(&stranger, strangers_chat, "user", "mine")
        .await;

    // Editing a message of another chat, or another user's: 404 as if absent.
    for message in [foreign, strangers, 999_999] {
        assert_eq!(
            edit(&app, &chat, message, "x").await,
            (StatusCode::NOT_FOUND, user_error(404, "Message not found")),
        );
    }
    // Empty text, and a non-numeric id.
    let (status, _) = edit(&app, &chat, posted[0], "   ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("{}/messages/abc", chat.path),
            &chat.user.auth,
            Some(json!({"message": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A parent or a switch target outside the chat: 400, and nothing written.
    for parent in [json!(foreign), json!(strangers), json!(999_999)] {
        let (status, body) = app
            .post(
                &format!("{}/messages", chat.path),
                &chat.user.auth,
                json!({"message": "x", "actor": "user", "parent_id": parent}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["data"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("parent_id")),
            "{body}"
        );
        let (status, _) = switch(&app, &chat.path, &chat.user.auth, parent).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    for bad in [json!("1"), json!(-1), json!(null), json!(1.5)] {
        let (status, _) = switch(&app, &chat.path, &chat.user.auth, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(ids(&listed(&app, &chat).await), posted);

    // Another user's chat through the tree routes: 404.
    let (status, _) = app
        .get(
            &format!("/api/users/{}/chats/{strangers_chat}/tree", chat.user.id),
            &chat.user.auth,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The tenant API: another tenant's chat and message are not found.
    let (_, key) = new_tenant(&app, "acme").await;
    let uuid = first_chat_uuid(&app, &chat.user).await;
    assert_tenant_error(
        app.call(
            Method::PATCH,
            &format!("/api/v1/chats/{uuid}/messages/{}", posted[0]),
            &key,
            Some(json!({"message": "x"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "chat_not_found",
    );
    let own = chat_uuid(&create_v1_chat(&app, &key, json!({})).await);
    assert_tenant_error(
        app.call(
            Method::PATCH,
            &format!("/api/v1/chats/{own}/messages/{}", posted[0]),
            &key,
            Some(json!({"message": "x"})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "message_not_found",
    );
    assert_tenant_error(
        switch(
            &app,
            &format!("/api/v1/chats/{own}"),
            &key,
            json!(posted[0]),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_message_id",
    );
}
