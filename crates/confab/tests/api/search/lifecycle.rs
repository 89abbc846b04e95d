//! What a search sees as chats change: old branches stay findable, every kind of
//! delete removes hits at once, a rename shows at once; and ranking.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::{chat_uuid, create_v1_chat, default_tenant_key, post_v1_message};

crate::per_backend!(
    messages_off_the_active_branch_are_found,
    every_kind_of_delete_removes_hits_at_once,
    a_rename_is_searched_at_once,
    ties_are_newest_first_and_frequency_ranks_higher,
    every_write_path_is_searchable_at_once,
);

async fn messages_off_the_active_branch_are_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("branches@example.com").await;
    let chat = app.create_chat(&user, "branches").await;
    let path = format!("/api/users/{}/chats/{chat}", user.id);
    let question = app
        .post_message(&user, chat, "user", "tell me about giraffes")
        .await;
    let first = app
        .post_message(&user, chat, "assistant", "giraffes have long necks")
        .await;
    // An edit of the answer: a new sibling; the first answer leaves the active path.
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{path}/messages/{first}"),
            &user.auth,
            Some(json!({"message": "okapis are giraffe relatives"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let edited = body["chatMessage"]["id"].as_i64().expect("edited id");
    // A regenerated answer under the question: a third sibling.
    let (status, body) = app
        .post(
            &format!("{path}/messages"),
            &user.auth,
            json!({"message": "zebras are not giraffes", "actor": "assistant", "parent_id": question}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let regenerated = body["chatMessage"]["id"].as_i64().expect("regenerated id");
    // An edit of the question: the whole old branch is off the path now.
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{path}/messages/{question}"),
            &user.auth,
            Some(json!({"message": "tell me about zebras instead"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_question = body["chatMessage"]["id"].as_i64().expect("new question");
    assert_eq!(app.message_ids(&user, chat).await, [new_question]);

    let mut ids = message_ids(&user_hits(&app, &user, "giraffes").await);
    ids.sort_unstable();
    assert_eq!(
        ids,
        [question, first, regenerated],
        "every branch is searched"
    );
    let mut ids = message_ids(&tenant_hits(&app, &key, &[("q", "giraffes")]).await);
    ids.sort_unstable();
    assert_eq!(ids, [question, first, regenerated], "tenant API too");
    assert_eq!(
        message_ids(&user_hits(&app, &user, "okapis").await),
        [edited]
    );
    let mut ids = message_ids(&user_hits(&app, &user, "zebras").await);
    ids.sort_unstable();
    assert_eq!(ids, [regenerated, new_question]);
}

async fn every_kind_of_delete_removes_hits_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("deletes@example.com").await;
    let base = format!("/api/users/{}/chats", user.id);
    let found = |q: &'static str| {
        let (app, user, key) = (&app, &user, &key);
        async move {
            let by_user = user_hits(app, user, q).await.len();
            let by_key = tenant_hits(app, key, &[("q", q)]).await.len();
            assert_eq!(by_user, by_key, "both APIs agree on {q:?}");
            by_user
        }
    };

    // Delete-last, with a branch under the deleted question that goes along.
    let chat = app.create_chat(&user, "kept").await;
    app.post_message(&user, chat, "user", "keepme first").await;
    app.post_message(&user, chat, "assistant", "keepme answer")
        .await;
    let doomed = app
        .post_message(&user, chat, "user", "doomedword question")
        .await;
    let reply = app
        .post_message(&user, chat, "assistant", "doomedword reply")
        .await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{base}/{chat}/messages/{reply}"),
            &user.auth,
            Some(json!({"message": "doomedword other reply, branchword"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(found("doomedword").await, 3);
    assert_eq!(found("branchword").await, 1);
    let (status, body) = app
        .delete(&format!("{base}/{chat}/messages/last"), &user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["maybeUserMessageToDelete"]["id"], json!(doomed));
    assert_eq!(found("doomedword").await, 0, "delete-last took them");
    assert_eq!(found("branchword").await, 0, "and the branch under them");
    assert_eq!(found("keepme").await, 2, "the rest stays");

    // Deleting a chat takes its messages and its name.
    let chat = app.create_chat(&user, "solochat").await;
    app.post_message(&user, chat, "user", "soloword").await;
    assert_eq!(found("solochat").await, 1);
    assert_eq!(found("soloword").await, 1);
    let (status, body) = app.delete(&format!("{base}/{chat}"), &user.auth).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(found("solochat").await, 0, "the name hit is gone");
    assert_eq!(found("soloword").await, 0, "the messages are gone");

    // Bulk delete.
    let mut bulk = Vec::new();
    for n in 0..3 {
        let chat = app.create_chat(&user, &format!("bulkname {n}")).await;
        app.post_message(&user, chat, "user", "bulkword").await;
        bulk.push(chat);
    }
    assert_eq!(found("bulkword").await, 3);
    assert_eq!(found("bulkname").await, 3);
    let (status, body) = app
        .call(
            Method::DELETE,
            &base,
            &user.auth,
            Some(json!({"chat_ids": [bulk[0], bulk[2]]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let left = user_hits(&app, &user, "bulkword").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["chat_id"], json!(bulk[1]));
    assert_eq!(
        name_hits(&user_hits(&app, &user, "bulkname").await),
        ["bulkname 1"]
    );

    // The tenant API's chat delete and delete-last, seen by the user API too.
    let tenant_chat = create_v1_chat(
        &app,
        &key,
        json!({"name": "tenantname", "user_id": user.id}),
    )
    .await;
    let uuid = chat_uuid(&tenant_chat);
    post_v1_message(&app, &key, &uuid, "user", "tenantword one").await;
    post_v1_message(&app, &key, &uuid, "assistant", "tenantword two").await;
    post_v1_message(&app, &key, &uuid, "user", "tenantword three").await;
    post_v1_message(&app, &key, &uuid, "assistant", "tenantword four").await;
    assert_eq!(found("tenantword").await, 4);
    let (status, body) = app
        .delete(&format!("/api/v1/chats/{uuid}/messages/last"), &key)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(found("tenantword").await, 2);
    assert_eq!(found("three").await, 0);
    assert_eq!(found("tenantname").await, 1);
    let (status, body) = app.delete(&format!("/api/v1/chats/{uuid}"), &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(found("tenantword").await, 0);
    assert_eq!(found("tenantname").await, 0);
    assert_eq!(found("keepme").await, 2, "nothing else went");
}

async fn a_rename_is_searched_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("rename@example.com").await;
    let chat = app.create_chat(&user, "Aardvark ideas").await;
    app.post_message(&user, chat, "user", "unrelated text")
        .await;
    assert_eq!(
        name_hits(&user_hits(&app, &user, "aardvark").await),
        ["Aardvark ideas"]
    );
    for n in 0..3 {
        let name = format!("Pangolin plans {n}");
        let (status, body) = app
            .call(
                Method::PATCH,
                &format!("/api/users/{}/chats/{chat}", user.id),
                &user.auth,
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            user_hits(&app, &user, "aardvark").await.is_empty(),
            "the old name is gone"
        );
        let hits = user_hits(&app, &user, "pangolin").await;
        assert_eq!(name_hits(&hits), [name.as_str()], "the new name, at once");
        assert_eq!(hits[0]["snippet"], name.as_str());
        assert_eq!(highlighted(&hits[0]), ["Pangolin"]);
        let hits = tenant_hits(&app, &key, &[("q", "pangolin")]).await;
        assert_eq!(name_hits(&hits), [name.as_str()], "tenant API, at once");
        // Message hits carry the chat's current name.
        let hits = user_hits(&app, &user, "unrelated").await;
        assert_eq!(hits[0]["chat_name"], name.as_str());
    }
}

async fn ties_are_newest_first_and_frequency_ranks_higher(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("rank@example.com").await;
    let one = app.create_chat(&user, "first").await;
    let two = app.create_chat(&user, "second").await;
    let mut identical = Vec::new();
    for chat in [one, two, one, two, one] {
        identical.push(
            app.post_message(&user, chat, "user", "identical marmot sentence")
                .await,
        );
    }
    let newest_first: Vec<i64> = identical.iter().rev().copied().collect();
    assert_eq!(
        message_ids(&user_hits(&app, &user, "marmot").await),
        newest_first
    );
    assert_eq!(
        message_ids(&tenant_hits(&app, &key, &[("q", "marmot")]).await),
        newest_first
    );
    // Paged one at a time, the same order.
    let walked = walk(
        &app,
        Api::User,
        &format!("/api/users/{}/search", user.id),
        &[("q", "marmot")],
        &user.auth,
        1,
    )
    .await;
    assert_eq!(message_ids(&walked), newest_first);

    // Five mentions in a short message beat one in a longer, newer one.
    let often = app
        .post_message(&user, one, "user", "kiwi kiwi kiwi kiwi kiwi")
        .await;
    let once = app
        .post_message(
            &user,
            two,
            "assistant",
            "the market sold apples pears plums grapes melons lemons limes oranges \
             cherries berries and one kiwi next to figs dates and mangoes today",
        )
        .await;
    assert_eq!(
        message_ids(&user_hits(&app, &user, "kiwi").await),
        [often, once]
    );
    assert_eq!(
        message_ids(&tenant_hits(&app, &key, &[("q", "kiwi")]).await),
        [often, once]
    );
}

async fn every_write_path_is_searchable_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("paths@example.com").await;
    let chat = app.create_chat(&user, "paths").await;
    let sorted = |mut ids: Vec<i64>| {
        ids.sort_unstable();
        ids
    };

    // A batch on the user API.
    let (status, body) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/messages", user.id),
            &user.auth,
            json!({"messages": [
                {"role": "user", "content": "batchone lynx"},
                {"role": "assistant", "content": "batchtwo lynx"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let batch: Vec<i64> = body["chatMessages"]
        .as_array()
        .expect("chatMessages")
        .iter()
        .map(|m| m["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(
        sorted(message_ids(&user_hits(&app, &user, "lynx").await)),
        batch
    );

    // A batch and an edit on the tenant API, in a chat created there with a name.
    let uuid = chat_uuid(
        &create_v1_chat(
            &app,
            &key,
            json!({"name": "ocelot den", "user_id": user.id}),
        )
        .await,
    );
    let path = format!("/api/v1/chats/{uuid}/messages");
    let (status, body) = app
        .post(
            &path,
            &key,
            json!({"messages": [
                {"role": "user", "content": "ocelot question"},
                {"role": "assistant", "content": "ocelot answer"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let answer = body["data"][1]["id"].as_i64().expect("answer id");
    let hits = tenant_hits(&app, &key, &[("q", "ocelot")]).await;
    assert_eq!(hits.len(), 3, "two messages and the name: {hits:?}");
    assert_eq!(name_hits(&hits), ["ocelot den"]);
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("{path}/{answer}"),
            &key,
            Some(json!({"message": "serval answer, edited"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let edited = body["data"]["id"].as_i64().expect("edited id");
    assert_eq!(
        message_ids(&tenant_hits(&app, &key, &[("q", "serval")]).await),
        [edited]
    );
    assert_eq!(
        message_ids(&user_hits(&app, &user, "serval").await),
        [edited]
    );
    assert_eq!(
        sorted(message_ids(&user_hits(&app, &user, "ocelot").await)).len(),
        2,
        "the edited answer stays findable on its branch"
    );
}
