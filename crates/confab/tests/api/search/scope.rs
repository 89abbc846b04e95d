//! Whose chats a search sees (a user's own; a key's tenant's), and the tenant API's
//! filters, each of which must really narrow the hits.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

use super::*;
use crate::support::{Backend, TestApp};
use crate::tenant_support::*;

crate::per_backend!(
    searches_see_only_their_users_and_tenants_chats,
    tenant_filters_narrow_the_hits,
    cookie_searches_from_foreign_origins_reveal_nothing,
);

fn chat_ids(hits: &[Value]) -> BTreeSet<String> {
    hits.iter().map(|h| h["chat_id"].to_string()).collect()
}

async fn searches_see_only_their_users_and_tenants_chats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let default_key = default_tenant_key(&app).await;
    let (_, other_key) = new_tenant(&app, "elsewhere").await;
    let ann = app.sign_up("ann@example.com").await;
    let bob = app.sign_up("bob@example.com").await;
    let ann_chat = app.create_chat(&ann, "ann secretword").await;
    app.post_message(&ann, ann_chat, "user", "ann's secretword")
        .await;
    let bob_chat = app.create_chat(&bob, "bob secretword").await;
    app.post_message(&bob, bob_chat, "user", "bob's secretword")
        .await;
    let other_chat =
        chat_uuid(&create_v1_chat(&app, &other_key, json!({"name": "their secretword"})).await);
    post_v1_message(&app, &other_key, &other_chat, "user", "their secretword").await;
    let (default_chat, default_uuid) = {
        let chat = create_v1_chat(&app, &default_key, json!({"name": "keyed"})).await;
        let uuid = chat_uuid(&chat);
        post_v1_message(&app, &default_key, &uuid, "user", "keyed secretword").await;
        (chat, uuid)
    };
    assert!(default_chat["id"].is_string());

    let hits = user_hits(&app, &ann, "secretword").await;
    assert_eq!(hits.len(), 2, "ann's message and chat name: {hits:?}");
    assert!(
        hits.iter().all(|h| h["chat_id"] == json!(ann_chat)),
        "{hits:?}"
    );
    let hits = user_hits(&app, &bob, "secretword").await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits.iter().all(|h| h["chat_id"] == json!(bob_chat)),
        "{hits:?}"
    );

    // The tenants: each key sees its own tenant's chats, users' or not.
    let ann_uuid = first_chat_uuid(&app, &ann).await;
    let bob_uuid = first_chat_uuid(&app, &bob).await;
    let hits = tenant_hits(&app, &default_key, &[("q", "secretword")]).await;
    assert_eq!(hits.len(), 5, "{hits:?}");
    assert_eq!(
        chat_ids(&hits),
        BTreeSet::from(
            [json!(ann_uuid), json!(bob_uuid), json!(default_uuid)].map(|v| v.to_string())
        )
    );
    let hits = tenant_hits(&app, &other_key, &[("q", "secretword")]).await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(
        chat_ids(&hits),
        BTreeSet::from([json!(other_chat).to_string()])
    );
    // Naming another tenant's chat gives nothing.
    let hits = tenant_hits(
        &app,
        &other_key,
        &[("q", "secretword"), ("chat_id", &ann_uuid)],
    )
    .await;
    assert!(hits.is_empty(), "{hits:?}");

    // Ann naming Bob's id: the 404 of every other user route, nothing of Bob's.
    let (status, body) = app
        .get(&user_path(&bob, &[("q", "secretword")]), &ann.auth)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(!body.to_string().contains("bob's"), "{body}");
    // Ann's cursor walk never strays into Bob's either.
    let walked = walk(
        &app,
        Api::User,
        &format!("/api/users/{}/search", ann.id),
        &[("q", "secretword")],
        &ann.auth,
        1,
    )
    .await;
    assert_eq!(walked.len(), 2);
}

/// A message's created_at as the tenant API lists it.
fn times(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["created_at"].as_str().expect("created_at").to_owned())
        .collect()
}

async fn tenant_filters_narrow_the_hits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = default_tenant_key(&app).await;
    let ann = app.sign_up("ann@example.com").await;
    let bob = app.sign_up("bob@example.com").await;
    let ann_chat = app.create_chat(&ann, "filterword ann").await;
    for (actor, text) in [
        ("system", "filterword rules"),
        ("user", "filterword question"),
        ("assistant", "filterword answer"),
        ("user", "filterword follow-up"),
    ] {
        app.post_message(&ann, ann_chat, actor, text).await;
    }
    let bob_chat = app.create_chat(&bob, "filterword bob").await;
    app.post_message(&bob, bob_chat, "assistant", "filterword bob's answer")
        .await;
    let ann_uuid = first_chat_uuid(&app, &ann).await;
    let bob_uuid = first_chat_uuid(&app, &bob).await;
    let (_, listed) = app
        .get(&format!("/api/v1/chats/{ann_uuid}/messages"), &key)
        .await;
    let ann_times = times(&listed);
    assert_eq!(ann_times.len(), 4);

    let all = tenant_hits(&app, &key, &[("q", "filterword")]).await;
    assert_eq!(all.len(), 7, "five messages and two names: {all:?}");

    // chat_id
    let hits = tenant_hits(&app, &key, &[("q", "filterword"), ("chat_id", &ann_uuid)]).await;
    assert_eq!(hits.len(), 5, "{hits:?}");
    assert!(hits.iter().all(|h| h["chat_id"] == json!(ann_uuid)));
    let nowhere = uuid::Uuid::new_v4().to_string();
    assert!(
        tenant_hits(&app, &key, &[("q", "filterword"), ("chat_id", &nowhere)])
            .await
            .is_empty()
    );

    // user_id
    let bob_id = bob.id.to_string();
    let hits = tenant_hits(&app, &key, &[("q", "filterword"), ("user_id", &bob_id)]).await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|h| h["chat_id"] == json!(bob_uuid)));
    assert!(
        tenant_hits(&app, &key, &[("q", "filterword"), ("user_id", "999999")])
            .await
            .is_empty()
    );

    // actor: message hits of that actor only, no name hits.
    for (actor, count) in [("user", 2), ("assistant", 2), ("system", 1)] {
        let hits = tenant_hits(&app, &key, &[("q", "filterword"), ("actor", actor)]).await;
        assert_eq!(hits.len(), count, "actor {actor}: {hits:?}");
        assert!(hits.iter().all(|h| h["actor"] == actor), "{hits:?}");
    }

    // since (inclusive) and until (exclusive), on message times; names are dated by
    // their chat's creation, before every message of it.
    let pivot = ann_times[2].as_str(); // the assistant's answer
    let hits = tenant_hits(&app, &key, &[("q", "filterword"), ("since", pivot)]).await;
    assert_eq!(
        sorted_snippets(&hits),
        [
            "filterword answer",
            "filterword bob",
            "filterword bob's answer",
            "filterword follow-up"
        ],
        "since {pivot} keeps it and what came after"
    );
    let hits = tenant_hits(&app, &key, &[("q", "filterword"), ("until", pivot)]).await;
    assert_eq!(
        sorted_snippets(&hits),
        ["filterword ann", "filterword question", "filterword rules"]
    );
    let hits = tenant_hits(
        &app,
        &key,
        &[
            ("q", "filterword"),
            ("since", &ann_times[1]),
            ("until", &ann_times[3]),
            ("actor", "user"),
        ],
    )
    .await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["snippet"], "filterword question");
    // Any RFC 3339 spelling of an instant is that instant.
    let offset = time::OffsetDateTime::parse(pivot, &time::format_description::well_known::Rfc3339)
        .expect("pivot")
        .to_offset(time::macros::offset!(+02:00))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    let hits = tenant_hits(&app, &key, &[("q", "filterword"), ("since", &offset)]).await;
    assert_eq!(hits.len(), 4, "since {offset}: {hits:?}");

    // Bad filter values: 400 in the tenant shape.
    for (name, value) in [
        ("chat_id", "not-a-uuid"),
        ("chat_id", "42"),
        ("user_id", "abc"),
        ("user_id", "1.5"),
        ("actor", "robot"),
        ("actor", "User "),
        ("since", "yesterday"),
        ("since", "2024-13-01T00:00:00Z"),
        ("until", "2024-01-01"),
        ("until", "1700000000"),
    ] {
        let (status, body) = app
            .get(&tenant_path(&[("q", "filterword"), (name, value)]), &key)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}={value:?}: {body}");
        assert_tenant_error((status, body), StatusCode::BAD_REQUEST, "invalid_filter");
    }
    // An empty filter is no filter (the server's choice; the contract is silent).
    for name in ["chat_id", "user_id", "actor", "since", "until"] {
        let hits = tenant_hits(&app, &key, &[("q", "filterword"), (name, "")]).await;
        assert_eq!(hits.len(), 7, "{name}= is no filter: {hits:?}");
    }
}

/// A page of another site may make the browser send Bob's cookie with a search; it must
/// not get to read the hits: either the server refuses (403 `forbidden_origin`, like
/// the cookie's WebSocket upgrade), or it answers without granting that origin the
/// read (no `Access-Control-Allow-Origin` for it). A preflight grants nothing either.
async fn cookie_searches_from_foreign_origins_reveal_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bob = app.sign_up("bob@example.com").await;
    let chat = app.create_chat(&bob, "bob's").await;
    app.post_message(&bob, chat, "user", "bob's secret plan")
        .await;
    let path = format!("/api/users/{}/search?q=secret", bob.id);
    for origin in ["https://evil.example", "null"] {
        let response = bob
            .auth
            .apply(app.client.get(app.url(&path)))
            .header("origin", origin)
            .send()
            .await
            .expect("search sent");
        let status = response.status();
        let allowed = response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let credentials = response
            .headers()
            .get("access-control-allow-credentials")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.expect("body");
        if status == StatusCode::FORBIDDEN {
            let body: Value = serde_json::from_str(&body).expect("json");
            assert_eq!(body["statusCode"], 403, "{body}");
        } else {
            assert_eq!(status, StatusCode::OK, "{origin}: {body}");
            assert!(
                allowed.is_none() || allowed.as_deref() == Some("*") && credentials.is_none(),
                "{origin} may read Bob's hits: allow-origin {allowed:?}, credentials \
                 {credentials:?}"
            );
        }
        let preflight = app
            .client
            .request(Method::OPTIONS, app.url(&path))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
            .await
            .expect("preflight sent");
        let granted = preflight
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert!(
            granted.as_deref() != Some(origin),
            "a preflight from {origin} is granted: {granted:?}"
        );
    }
    // The same search without a foreign Origin does find the plan: the check above
    // could fail.
    let (status, body) = app.get(&path, &bob.auth).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(1), "{body}");
}

/// The hits' snippets, sorted (the filters' tests compare sets).
fn sorted_snippets(hits: &[Value]) -> Vec<String> {
    let mut texts: Vec<String> = hits
        .iter()
        .map(|h| h["snippet"].as_str().unwrap_or("").to_owned())
        .collect();
    texts.sort();
    texts
}
