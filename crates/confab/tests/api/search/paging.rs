//! Keyset paging: small pages walk the same hits, in the same order, as one big page.

use serde_json::{json, Value};
use std::collections::HashSet;

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::default_tenant_key;

crate::per_backend!(
    pages_walk_the_same_hits_as_one_big_page,
    a_walk_survives_writes_between_its_pages,
);

async fn pages_walk_the_same_hits_as_one_big_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("paging@example.com").await;
    let chat = app.create_chat(&user, "heron spotting").await;
    let other = app.create_chat(&user, "misc").await;
    // Ties (identical texts) and different relevances, in two chats, and a name hit.
    let texts = [
        "heron",
        "a heron by the lake",
        "heron",
        "heron heron heron",
        "a grey heron and a white heron stood in the shallow water for an hour",
        "heron",
        "the heron flew",
        "heron",
        "herons are not a heron",
        "heron",
        "heron",
    ];
    let posted = post_texts(
        &app,
        &user,
        &texts,
        |n| if n % 3 == 0 { other } else { chat },
    )
    .await;
    let user_base = format!("/api/users/{}/search", user.id);
    for (api, base, auth) in [
        (Api::User, user_base.as_str(), &user.auth),
        (Api::Tenant, "/api/v1/search", &key),
    ] {
        let params = [("q", "heron")];
        let whole = page(
            &app,
            api,
            &with_query(base, &[("q", "heron"), ("limit", "100")]),
            auth,
        )
        .await;
        assert_eq!(whole.next_cursor, None, "{api:?}");
        assert_eq!(
            whole.hits.len(),
            posted.len() + 1,
            "{api:?}: messages and the name"
        );
        let mut ids = message_ids(&whole.hits);
        ids.sort_unstable();
        assert_eq!(ids, posted, "{api:?}: every message once");
        assert_eq!(name_hits(&whole.hits), ["heron spotting"], "{api:?}");

        for limit in [1, 2, 5, 12] {
            let walked = walk(&app, api, base, &params, auth, limit).await;
            assert_eq!(
                walked, whole.hits,
                "{api:?}: pages of {limit} = one page of 100"
            );
            let distinct: HashSet<String> = walked
                .iter()
                .map(|h| format!("{}/{}", h["chat_id"], h["message_id"]))
                .collect();
            assert_eq!(distinct.len(), walked.len(), "{api:?}: no duplicates");
        }
        // Exactly a page's worth: no cursor to an empty page.
        let exact = page(
            &app,
            api,
            &with_query(base, &[("q", "heron"), ("limit", "12")]),
            auth,
        )
        .await;
        assert_eq!(exact.hits.len(), 12);
        assert_eq!(
            exact.next_cursor, None,
            "{api:?}: 12 of 12 is the last page"
        );
        // The default page size is 20.
        let default = page(&app, api, &with_query(base, &params), auth).await;
        assert_eq!(default.hits.len(), 12);
    }

    // More than a default page: 20, then the rest.
    for n in 0..15 {
        app.post_message(&user, chat, "assistant", &format!("heron again {n}"))
            .await;
    }
    let first = page(
        &app,
        Api::User,
        &user_path(&user, &[("q", "heron")]),
        &user.auth,
    )
    .await;
    assert_eq!(first.hits.len(), 20);
    let cursor = first.next_cursor.expect("a second page");
    let second = page(
        &app,
        Api::User,
        &user_path(&user, &[("q", "heron"), ("cursor", &cursor)]),
        &user.auth,
    )
    .await;
    assert_eq!(second.hits.len(), 7);
    assert_eq!(second.next_cursor, None);
    let all = walk(
        &app,
        Api::User,
        &user_base,
        &[("q", "heron")],
        &user.auth,
        2,
    )
    .await;
    assert_eq!(all.len(), 27);
    assert_eq!(all[..20], first.hits[..]);
    assert_eq!(all[20..], second.hits[..]);
    assert!(all
        .iter()
        .all(|h| h["chat_id"] == json!(chat) || h["chat_id"] == json!(other)));
}

async fn a_walk_survives_writes_between_its_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.sign_up("walker@example.com").await;
    let mut chats = Vec::new();
    for n in 0..6 {
        let chat = app.create_chat(&user, &format!("chat {n}")).await;
        let text = format!("ibis {}", "and more words ".repeat(n));
        app.post_message(&user, chat, "user", &text).await;
        chats.push(chat);
    }
    let base = format!("/api/users/{}/search", user.id);
    let before = walk(&app, Api::User, &base, &[("q", "ibis")], &user.auth, 100).await;
    assert_eq!(before.len(), 6);

    // Page one; then the hit the cursor points after is deleted, a new best hit and a
    // new worst hit arrive; then the rest of the walk.
    let first = page(
        &app,
        Api::User,
        &user_path(&user, &[("q", "ibis"), ("limit", "2")]),
        &user.auth,
    )
    .await;
    assert_eq!(first.hits, before[..2]);
    let cursor = first.next_cursor.expect("more pages");
    let last_chat = first.hits[1]["chat_id"].as_i64().expect("chat id");
    let (status, body) = app
        .delete(
            &format!("/api/users/{}/chats/{last_chat}", user.id),
            &user.auth,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let newcomer = app.create_chat(&user, "late").await;
    app.post_message(&user, newcomer, "user", "ibis ibis ibis")
        .await;
    app.post_message(
        &user,
        newcomer,
        "user",
        &format!("ibis {}", "filler ".repeat(40)),
    )
    .await;

    let mut rest = Vec::new();
    let mut next = Some(cursor);
    while let Some(cursor) = next {
        let page = page(
            &app,
            Api::User,
            &user_path(&user, &[("q", "ibis"), ("limit", "2"), ("cursor", &cursor)]),
            &user.auth,
        )
        .await;
        rest.extend(page.hits);
        next = page.next_cursor;
        assert!(rest.len() <= 20, "the walk ends");
    }
    // What was after the cursor before is still there, in order; nothing from page one
    // comes again.
    let old_rest: Vec<Value> = rest
        .iter()
        .filter(|h| h["chat_id"] != json!(newcomer))
        .cloned()
        .collect();
    assert_eq!(old_rest, before[2..], "the rest of the old walk, unchanged");
    for hit in &first.hits {
        assert!(!rest.contains(hit), "{hit} came twice");
    }
}
