//! Keyset paging: small pages walk the same hits, in the same order, as one big page.

use serde_json::json;
use std::collections::HashSet;

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::default_tenant_key;

crate::per_backend!(pages_walk_the_same_hits_as_one_big_page);

async fn pages_walk_the_same_hits_as_one_big_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("paging@example.com").await;
    let chat = app.create_chat(&user, "heron spotting").await;
    let other = app.create_chat(&user, "misc").await;
    // Ties (identical texts) and different relevances, in two chats, and a name hit.
    let mut posted = Vec::new();
    for (n, text) in [
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
    ]
    .iter()
    .enumerate()
    {
        let target = if n % 3 == 0 { other } else { chat };
        posted.push(app.post_message(&user, target, "user", text).await);
    }
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
