//! `archived`, `pinned` and `tags`: set by `PATCH` on both APIs, shown on both APIs'
//! chats, and what the list filters and `order_by=pinned` make of them.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{listed_ids, listed_uuids, patch_user_chat};
use crate::support::{Backend, TestApp};
use crate::tenant_support::{assert_tenant_error, chat_uuid, create_v1_chat, default_tenant_key};

pub(super) async fn archive_pin_and_tags_filter_and_order_lists(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann@example.com").await;
    let [plain, work, old, pinned] = [
        app.create_chat(&ann, "plain").await,
        app.create_chat(&ann, "work").await,
        app.create_chat(&ann, "old").await,
        app.create_chat(&ann, "pinned").await,
    ];
    // A fresh chat is neither archived nor pinned, and has no tags.
    let (_, listed) = app
        .get(&format!("/api/users/{}/chats", ann.id), &ann.auth)
        .await;
    let first = &listed["chats"][0];
    assert_eq!(
        (&first["archived"], &first["pinned"], &first["tags"]),
        (&json!(false), &json!(false), &json!([])),
        "{listed}"
    );

    let (status, body) =
        patch_user_chat(&app, &ann, work, json!({"tags": [" work ", "Q3", "work"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["chat"]["tags"],
        json!(["work", "Q3"]),
        "trimmed, repeats dropped"
    );
    assert_eq!(
        body["chat"]["name"], "work",
        "fields not given are left alone"
    );
    let (status, body) =
        patch_user_chat(&app, &ann, old, json!({"archived": true, "tags": ["work"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chat"]["archived"], true);
    let (status, body) = patch_user_chat(
        &app,
        &ann,
        pinned,
        json!({"pinned": true, "name": "  Pinned  "}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["chat"]["pinned"], &body["chat"]["name"]),
        (&json!(true), &json!("Pinned"))
    );

    let mut live = listed_ids(&app, &ann, "?order_by=id:asc").await;
    live.sort_unstable();
    assert_eq!(
        live,
        [plain, work, pinned],
        "archived chats are hidden by default"
    );
    assert_eq!(
        listed_ids(&app, &ann, "?archived=false&order_by=id").await,
        [plain, work, pinned]
    );
    assert_eq!(listed_ids(&app, &ann, "?archived=true").await, [old]);
    assert_eq!(
        listed_ids(&app, &ann, "?archived=all&order_by=id").await,
        [plain, work, old, pinned]
    );
    assert_eq!(
        listed_ids(&app, &ann, "?tag=work").await,
        [work],
        "the archived one is hidden"
    );
    assert_eq!(
        listed_ids(&app, &ann, "?tag=work&archived=all&order_by=id").await,
        [work, old]
    );
    assert_eq!(
        listed_ids(&app, &ann, "?tag=Work").await,
        Vec::<i64>::new(),
        "tags are exact"
    );
    assert_eq!(
        listed_ids(&app, &ann, "?tag=%20Q3%20").await,
        [work],
        "a filter is trimmed too"
    );
    // Pinned first, then the rest newest first; paging keeps the order.
    let order = "?order_by=pinned:desc,created_at:desc";
    assert_eq!(listed_ids(&app, &ann, order).await, [pinned, work, plain]);
    assert_eq!(
        listed_ids(&app, &ann, &format!("{order}&limit=1&after={pinned}")).await,
        [work]
    );
    assert_eq!(
        listed_ids(&app, &ann, &format!("{order}&before={plain}")).await,
        [pinned, work]
    );
    // Unarchiving brings it back; clearing tags empties them.
    patch_user_chat(&app, &ann, old, json!({"archived": false, "tags": []})).await;
    assert_eq!(
        listed_ids(&app, &ann, "?order_by=id").await,
        [plain, work, old, pinned]
    );
    assert_eq!(listed_ids(&app, &ann, "?tag=work").await, [work]);

    // The tenant API sees and sets the same fields on the same chats.
    let key = default_tenant_key(&app).await;
    let uuids = listed_uuids(&app, &key, "/api/v1/chats?limit=100").await;
    assert_eq!(uuids.len(), 4);
    let tenant_chat = chat_uuid(&create_v1_chat(&app, &key, json!({"name": "tenant"})).await);
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/chats/{tenant_chat}"),
            &key,
            Some(json!({"archived": true, "pinned": true, "tags": ["ops"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            &body["archived"],
            &body["pinned"],
            &body["tags"],
            &body["name"]
        ),
        (
            &json!(true),
            &json!(true),
            &json!(["ops"]),
            &json!("tenant")
        )
    );
    assert!(!listed_uuids(&app, &key, "/api/v1/chats")
        .await
        .contains(&tenant_chat));
    assert_eq!(
        listed_uuids(&app, &key, "/api/v1/chats?archived=true").await,
        std::slice::from_ref(&tenant_chat)
    );
    assert_eq!(
        listed_uuids(&app, &key, "/api/v1/chats?tag=ops&archived=all").await,
        std::slice::from_ref(&tenant_chat)
    );
    assert_eq!(
        listed_uuids(&app, &key, "/api/v1/chats?archived=all&limit=100")
            .await
            .len(),
        5
    );
    // Paged with a filter: the cursor continues within it.
    let (_, page) = app.get("/api/v1/chats?limit=2", &key).await;
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let rest = listed_uuids(
        &app,
        &key,
        &format!("/api/v1/chats?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(rest.len(), 2, "4 live chats in two pages");
    assert_tenant_error(
        app.get("/api/v1/chats?archived=maybe", &key).await,
        StatusCode::BAD_REQUEST,
        "validation_error",
    );
}

pub(super) async fn bad_patches_are_refused_in_each_apis_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&ann, "chat").await;
    let key = default_tenant_key(&app).await;
    let uuid = listed_uuids(&app, &key, "/api/v1/chats").await[0].clone();
    let too_many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    for bad in [
        json!({}),
        json!({"tags": too_many}),
        json!({"tags": ["x".repeat(65)]}),
        json!({"tags": [""]}),
        json!({"tags": ["a\u{7}b"]}),
        json!({"tags": "work"}),
        json!({"tags": [1]}),
        json!({"archived": "yes"}),
        json!({"pinned": 1}),
        json!({"name": " "}),
    ] {
        let (status, body) = patch_user_chat(&app, &ann, chat, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {body}");
        assert_eq!(body["statusCode"], 400, "user shape: {body}");
        let answer = app
            .call(
                Method::PATCH,
                &format!("/api/v1/chats/{uuid}"),
                &key,
                Some(bad.clone()),
            )
            .await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{bad} -> {}", answer.1);
        assert_eq!(answer.1["success"], false, "tenant shape: {}", answer.1);
    }
    // Twenty tags of 64 characters (multi-byte ones too) are fine.
    let most: Vec<String> = (0..20)
        .map(|i| format!("{i:02}{}", "é".repeat(62)))
        .collect();
    let (status, body) = patch_user_chat(&app, &ann, chat, json!({"tags": most})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chat"]["tags"].as_array().map(Vec::len), Some(20));
    // Nothing of the refused patches stuck.
    assert_eq!(body["chat"]["archived"], false);
    assert_eq!(body["chat"]["pinned"], false);
    let (status, _) = app
        .get(
            &format!("/api/users/{}/chats?archived=sometimes", ann.id),
            &ann.auth,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .get(&format!("/api/users/{}/chats?tag=", ann.id), &ann.auth)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an empty tag filter names no tag"
    );
}
