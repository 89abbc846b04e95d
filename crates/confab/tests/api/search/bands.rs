//! Bands: a search ranks the newest matches together (`--search-band` of each kind),
//! then the next older ones, so its work is bounded by the band, not by how common its
//! words are; pages walk band after band and reach every match.

use serde_json::json;

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::{chat_uuid, create_v1_chat, default_tenant_key, post_v1_message};

crate::per_backend!(
    bands_rank_the_newest_matches_together_and_walk_every_match,
    a_users_or_chats_old_matches_are_found_past_newer_ones_of_others
);

async fn bands_rank_the_newest_matches_together_and_walk_every_match(backend: Backend) {
    // Windows of two ids: on PostgreSQL a tenant-wide band is read in several.
    let app = TestApp::spawn_with(backend, |config| {
        config.limits.search_band = 3;
        config.limits.search_window = 2;
    })
    .await;
    let key = default_tenant_key(&app).await;
    let user = app.sign_up("bands@example.com").await;
    let chat = app.create_chat(&user, "heron notes").await;
    let other = app.create_chat(&user, "misc").await;
    let texts = [
        "heron",
        "heron heron heron",
        "a heron by the lake",
        "heron",
        "the long story of a heron that flew over the hills and far away",
        "heron heron",
        "heron",
        "heron heron heron heron",
    ];
    let ids = post_texts(
        &app,
        &user,
        &texts,
        |n| if n % 2 == 0 { chat } else { other },
    )
    .await;
    // Bands of three, newest first: [7, 6, 5] with the one name, then [4, 3, 2], then
    // [1, 0]; each ranked by BM25 within itself (more occurrences, shorter texts first).
    // A best match of an older band comes after the worst of a newer one: message 3
    // ("heron" alone, the best of its band) after the name.
    let expected = [
        Some(ids[7]),
        Some(ids[5]),
        Some(ids[6]),
        None,
        Some(ids[3]),
        Some(ids[2]),
        Some(ids[4]),
        Some(ids[1]),
        Some(ids[0]),
    ];
    let user_base = format!("/api/users/{}/search", user.id);
    for (api, base, auth) in [
        (Api::User, user_base.as_str(), &user.auth),
        (Api::Tenant, "/api/v1/search", &key),
    ] {
        let whole = page(
            &app,
            api,
            &with_query(base, &[("q", "heron"), ("limit", "100")]),
            auth,
        )
        .await;
        let order: Vec<Option<i64>> = whole
            .hits
            .iter()
            .map(|h| h["message_id"].as_i64())
            .collect();
        assert_eq!(order, expected, "{api:?}: {:#?}", whole.hits);
        assert_eq!(name_hits(&whole.hits), ["heron notes"], "{api:?}");
        for limit in [1, 2, 3, 4] {
            let walked = walk(&app, api, base, &[("q", "heron")], auth, limit).await;
            assert_eq!(
                walked, whole.hits,
                "{api:?}: pages of {limit} cross the bands"
            );
        }
    }

    // A page that ends a band continues with the next, whatever was written meanwhile:
    // a new message joins the first band of a new search, not the walk in progress.
    let first = page(
        &app,
        Api::Tenant,
        &with_query("/api/v1/search", &[("q", "heron"), ("limit", "4")]),
        &key,
    )
    .await;
    let newer = app
        .post_message(&user, chat, "user", "heron heron heron heron heron")
        .await;
    let cursor = first.next_cursor.expect("more pages");
    let rest = page(
        &app,
        Api::Tenant,
        &with_query(
            "/api/v1/search",
            &[("q", "heron"), ("limit", "100"), ("cursor", &cursor)],
        ),
        &key,
    )
    .await;
    let rest_ids: Vec<Option<i64>> = rest.hits.iter().map(|h| h["message_id"].as_i64()).collect();
    assert_eq!(rest_ids, expected[4..], "the walk goes on in its bands");
    let fresh = tenant_hits(&app, &key, &[("q", "heron")]).await;
    assert_eq!(
        fresh[0]["message_id"].as_i64(),
        Some(newer),
        "a new search sees it first"
    );
}

/// A search of one user or chat reads past the newer matches of everyone else (on
/// PostgreSQL, windows of ids found empty for that user or chat), and a chat that no
/// user owns is searched by its own.
async fn a_users_or_chats_old_matches_are_found_past_newer_ones_of_others(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.limits.search_band = 3;
        config.limits.search_window = 2;
    })
    .await;
    let key = default_tenant_key(&app).await;
    let ann = app.sign_up("ann-bands@example.com").await;
    let ann_chat = app.create_chat(&ann, "notes").await;
    let ann_texts = ["heron", "a heron", "heron heron", "the heron"];
    let mut ann_ids = post_texts(&app, &ann, &ann_texts, |_| ann_chat).await;
    ann_ids.sort_unstable();
    let keyed = chat_uuid(&create_v1_chat(&app, &key, json!({"name": "keyed"})).await);
    let mut keyed_ids = Vec::new();
    for text in ["heron by key", "another heron by key"] {
        let message = post_v1_message(&app, &key, &keyed, "user", text).await;
        keyed_ids.push(message["id"].as_i64().expect("message id"));
    }
    keyed_ids.sort_unstable();
    // Twelve newer matches of another user's, four bands of them.
    let bob = app.sign_up("bob-bands@example.com").await;
    let bob_chat = app.create_chat(&bob, "other").await;
    post_texts(&app, &bob, &["heron heron heron"; 12], |_| bob_chat).await;

    let sorted = |hits: &[Value]| {
        let mut ids = message_ids(hits);
        ids.sort_unstable();
        ids
    };
    let hits = user_hits(&app, &ann, "heron").await;
    assert_eq!(sorted(&hits), ann_ids, "{hits:?}");
    let ann_id = ann.id.to_string();
    let hits = tenant_hits(&app, &key, &[("q", "heron"), ("user_id", &ann_id)]).await;
    assert_eq!(sorted(&hits), ann_ids, "{hits:?}");
    let hits = tenant_hits(&app, &key, &[("q", "heron"), ("chat_id", &keyed)]).await;
    assert_eq!(sorted(&hits), keyed_ids, "{hits:?}");
    let hits = tenant_hits(&app, &key, &[("q", "keyed"), ("chat_id", &keyed)]).await;
    assert_eq!(name_hits(&hits), ["keyed"], "{hits:?}");
    // Page by page, band after band, to the same hits.
    let base = format!("/api/users/{}/search", ann.id);
    let whole = user_hits(&app, &ann, "heron").await;
    let walked = walk(&app, Api::User, &base, &[("q", "heron")], &ann.auth, 1).await;
    assert_eq!(walked, whole);
}
