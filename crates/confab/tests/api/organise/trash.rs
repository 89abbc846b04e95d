//! The trash (`--trash-days`): deletes answer as the seeds say but keep the chat,
//! invisible everywhere, until it is restored whole or purged; and the sweeper, which
//! purges old trash and deletes chats past their tenant's retention.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection as _;

use super::{listed_ids, listed_uuids, patch_user_chat, search_hits};
use crate::support::{Backend, TestApp};
use crate::tenant_support::{
    chat_uuid, create_v1_chat, default_tenant_key, eventually, new_tenant, next_json, next_seen,
    ws, Seen,
};

const DAY_MICROS: i64 = 86_400 * 1_000_000;

pub(super) async fn deleted_chats_wait_in_the_trash_and_come_back_whole(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.lifecycle.trash_days = 7).await;
    let ann = app.sign_up("ann@example.com").await;
    let ben = app.sign_up("ben@example.com").await;
    let chat = app.create_chat(&ann, "kept").await;
    app.post_message(&ann, chat, "user", "zanzibar question")
        .await;
    app.post_message(&ann, chat, "assistant", "```py\nprint('zanzibar')\n```")
        .await;
    let other = app.create_chat(&ann, "other").await;
    let (_, share) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/share", ann.id),
            &ann.auth,
            json!({}),
        )
        .await;
    let share = format!("/api/shared/{}", share["share_id"].as_str().expect("id"));
    let messages = format!("/api/users/{}/chats/{chat}/messages", ann.id);
    let (_, before) = app.get(&messages, &ann.auth).await;
    let mut socket = ws(
        &app,
        &format!("/api/users/{}/chats/{chat}/ws", ann.id),
        &ann.auth,
    )
    .await;

    // The seed's answer, and the socket is told and closed as for a delete.
    let chat_path = format!("/api/users/{}/chats/{chat}", ann.id);
    let (status, body) = app.delete(&chat_path, &ann.auth).await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    assert_eq!(next_json(&mut socket).await["type"], "chat.deleted");
    assert!(matches!(next_seen(&mut socket).await, Seen::Close(1000, _)));
    // Invisible to every route, list, search and share.
    assert_eq!(app.get(&messages, &ann.auth).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("{chat_path}/tree"), &ann.auth).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        patch_user_chat(&app, &ann, chat, json!({"pinned": true}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&chat_path, &ann.auth).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(listed_ids(&app, &ann, "?archived=all").await, [other]);
    assert_eq!(search_hits(&app, &ann, "zanzibar").await, 0);
    assert_eq!(
        app.get(&share, &crate::support::Auth::None).await.0,
        StatusCode::NOT_FOUND
    );
    let key = default_tenant_key(&app).await;
    assert_eq!(
        listed_uuids(&app, &key, "/api/v1/chats?archived=all")
            .await
            .len(),
        1
    );
    let tenant_trash = listed_uuids(&app, &key, "/api/v1/trash").await;
    assert_eq!(tenant_trash.len(), 1);
    assert_eq!(
        app.get(&format!("/api/v1/chats/{}", tenant_trash[0]), &key)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // In the trash, with when it went there.
    let (_, trash) = app
        .get(&format!("/api/users/{}/trash", ann.id), &ann.auth)
        .await;
    assert_eq!(trash["chats"][0]["id"], chat, "{trash}");
    assert!(trash["chats"][0]["trashed_at"].is_string(), "{trash}");
    // Nobody else can restore or purge it.
    for (method, path) in [
        (
            Method::POST,
            format!("/api/users/{}/chats/{chat}/restore", ben.id),
        ),
        (
            Method::DELETE,
            format!("/api/users/{}/trash/{chat}", ben.id),
        ),
    ] {
        assert_eq!(
            app.call(method, &path, &ben.auth, None).await.0,
            StatusCode::NOT_FOUND
        );
    }

    // Restored whole: messages, files, search and share come back.
    let (status, restored) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/restore", ann.id),
            &ann.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["chat"]["id"], chat);
    assert!(restored["chat"].get("trashed_at").is_none());
    assert_eq!(app.get(&messages, &ann.auth).await.1, before);
    assert_eq!(search_hits(&app, &ann, "zanzibar").await, 2);
    assert_eq!(
        app.get(&share, &crate::support::Auth::None).await.0,
        StatusCode::OK
    );
    assert!(listed_uuids(&app, &key, "/api/v1/trash").await.is_empty());
    let (status, _) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/restore", ann.id),
            &ann.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not in the trash any more");

    // The bulk delete trashes too; a purge is for good.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{}/chats", ann.id),
            &ann.auth,
            Some(json!({"chat_ids": [chat, other]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(listed_ids(&app, &ann, "").await.is_empty());
    let (_, trash) = app
        .get(&format!("/api/users/{}/trash", ann.id), &ann.auth)
        .await;
    assert_eq!(trash["chats"].as_array().map(Vec::len), Some(2), "{trash}");
    let (status, body) = app
        .delete(&format!("/api/users/{}/trash/{chat}", ann.id), &ann.auth)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    let (_, trash) = app
        .get(&format!("/api/users/{}/trash", ann.id), &ann.auth)
        .await;
    assert_eq!(trash["chats"][0]["id"], other, "{trash}");
    let (status, _) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/restore", ann.id),
            &ann.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "purged for good");

    // The tenant API: the seed's delete answer, its trash, restore, purge.
    let (_, tenant_key) = new_tenant(&app, "acme").await;
    let uuid = chat_uuid(&create_v1_chat(&app, &tenant_key, json!({"name": "t"})).await);
    let (status, body) = app
        .delete(&format!("/api/v1/chats/{uuid}"), &tenant_key)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Chat deleted successfully");
    assert_eq!(
        listed_uuids(&app, &tenant_key, "/api/v1/trash").await,
        std::slice::from_ref(&uuid)
    );
    assert!(
        listed_uuids(&app, &key, "/api/v1/trash").await.len() == 1,
        "another tenant's trash is its own"
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/chats/{uuid}/restore"),
            &tenant_key,
            json!({}),
        )
        .await;
    assert_eq!((status, &body["id"]), (StatusCode::OK, &json!(uuid)));
    app.delete(&format!("/api/v1/chats/{uuid}"), &tenant_key)
        .await;
    let (status, body) = app
        .delete(&format!("/api/v1/trash/{uuid}"), &tenant_key)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let (status, body) = app
        .delete(&format!("/api/v1/trash/{uuid}"), &tenant_key)
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("chat_not_found"))
    );
}

pub(super) async fn without_the_trash_deletes_stay_permanent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&ann, "gone").await;
    let (status, _) = app
        .delete(&format!("/api/users/{}/chats/{chat}", ann.id), &ann.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, trash) = app
        .get(&format!("/api/users/{}/trash", ann.id), &ann.auth)
        .await;
    assert_eq!(trash, json!({"chats": []}));
    let (status, _) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/restore", ann.id),
            &ann.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .delete(&format!("/api/users/{}/trash/{chat}", ann.id), &ann.auth)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Runs one statement on the test's database (to age rows).
async fn execute(backend: Backend, url: &str, sql: &str) {
    match backend {
        Backend::Sqlite => {
            let mut db = sqlx::SqliteConnection::connect(url).await.expect("open");
            sqlx::query(sql).execute(&mut db).await.expect(sql);
        }
        Backend::Postgres => {
            let mut db = sqlx::PgConnection::connect(url).await.expect("open");
            sqlx::query(sql).execute(&mut db).await.expect(sql);
        }
    }
}

async fn swept(app: &TestApp, reason: &str) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let line = format!("confab_chats_swept_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {line} in {text}"))
}

pub(super) async fn the_sweeper_purges_old_trash_and_idle_chats_in_batches(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.lifecycle.trash_days = 1;
        config.lifecycle.retention_days = 30;
        config.lifecycle.sweep_batch = 2;
        config.lifecycle.sweep_interval_seconds = 1;
    })
    .await;
    let ann = app.sign_up("ann@example.com").await;
    let now = confab::domain::Timestamp::now().micros();
    let mut idle = Vec::new();
    for n in 0..5 {
        let chat = app.create_chat(&ann, &format!("idle {n}")).await;
        app.post_message(&ann, chat, "user", "old words").await;
        idle.push(chat);
    }
    let fresh = app.create_chat(&ann, "fresh").await;
    let old_trash = app.create_chat(&ann, "old trash").await;
    let new_trash = app.create_chat(&ann, "new trash").await;
    // A tenant that keeps everything, and one with a shorter retention of its own.
    let (forever, forever_key) = new_tenant(&app, "forever").await;
    let kept = chat_uuid(&create_v1_chat(&app, &forever_key, json!({})).await);
    let (brief, brief_key) = new_tenant(&app, "brief").await;
    let brief_idle = chat_uuid(&create_v1_chat(&app, &brief_key, json!({})).await);
    let brief_recent = chat_uuid(&create_v1_chat(&app, &brief_key, json!({})).await);
    let store = app.store();
    store
        .set_tenant_retention(forever, Some(0))
        .await
        .expect("retention");
    store
        .set_tenant_retention(brief, Some(10))
        .await
        .expect("retention");

    let ids = |chats: &[i64]| {
        chats
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let url = app.database_url.clone();
    let sql = [
        format!(
            "UPDATE chats SET updated_at = {} WHERE id IN ({})",
            now - 40 * DAY_MICROS,
            ids(&idle)
        ),
        format!(
            "UPDATE chats SET trashed_at = {} WHERE id = {old_trash}",
            now - 2 * DAY_MICROS
        ),
        format!(
            "UPDATE chats SET trashed_at = {} WHERE id = {new_trash}",
            now - DAY_MICROS / 12
        ),
        format!(
            "UPDATE chats SET updated_at = {} WHERE uuid = '{kept}'",
            now - 400 * DAY_MICROS
        ),
        format!(
            "UPDATE chats SET updated_at = {} WHERE uuid = '{brief_idle}'",
            now - 20 * DAY_MICROS
        ),
        format!(
            "UPDATE chats SET updated_at = {} WHERE uuid = '{brief_recent}'",
            now - 5 * DAY_MICROS
        ),
    ];
    for statement in &sql {
        execute(backend, &url, statement).await;
    }
    let mut idle_socket = ws(
        &app,
        &format!("/api/users/{}/chats/{}/ws", ann.id, idle[0]),
        &ann.auth,
    )
    .await;

    eventually("the sweeper ran", || async {
        swept(&app, "retention").await >= 6 && swept(&app, "trash").await >= 1
    })
    .await;
    assert_eq!(next_json(&mut idle_socket).await["type"], "chat.deleted");
    assert_eq!(
        swept(&app, "retention").await,
        6,
        "five idle chats and brief's idle one"
    );
    assert_eq!(swept(&app, "trash").await, 1);
    assert_eq!(listed_ids(&app, &ann, "?archived=all").await, [fresh]);
    let (_, trash) = app
        .get(&format!("/api/users/{}/trash", ann.id), &ann.auth)
        .await;
    assert_eq!(
        trash["chats"].as_array().map(|c| c.len()),
        Some(1),
        "{trash}"
    );
    assert_eq!(trash["chats"][0]["id"], new_trash);
    assert_eq!(
        listed_uuids(&app, &forever_key, "/api/v1/chats").await,
        [kept]
    );
    assert_eq!(
        listed_uuids(&app, &brief_key, "/api/v1/chats").await,
        [brief_recent]
    );
    assert_eq!(
        search_hits(&app, &ann, "old").await,
        0,
        "their messages went with them"
    );
    // Later rounds find nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(swept(&app, "retention").await, 6);
}

/// On PostgreSQL a sweep batch runs only while no other node's batch holds the sweep
/// lock: with the lock held elsewhere, a batch deletes nothing and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_take_turns_on_postgres() {
    if crate::support::database::postgres_url("sweeps_take_turns_on_postgres").is_none() {
        return;
    }
    let database = crate::support::TestDatabase::create(Backend::Postgres).await;
    let store = confab::store::connect(&database.url, 2)
        .await
        .expect("store");
    let tenant = store.default_tenant().await.expect("tenant");
    for n in 0..3 {
        store
            .create_chat(confab::store::NewChat {
                tenant_id: tenant.id,
                user_id: None,
                name: confab::domain::ChatName::parse(&format!("old {n}")).expect("name"),
                model: confab::domain::ModelName::default(),
                metadata: None,
            })
            .await
            .expect("chat");
    }
    let batch = confab::store::SweepBatch::Idle {
        tenant_id: tenant.id,
        idle_before: confab::domain::Timestamp(i64::MAX),
        limit: 2,
    };
    // Another node's batch, mid-transaction.
    let mut other = sqlx::PgConnection::connect(&database.url)
        .await
        .expect("connect");
    let mut holding = other.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock(109330244723042)")
        .execute(&mut *holding)
        .await
        .expect("lock");
    assert!(
        store.sweep_batch(&batch).await.expect("batch").is_none(),
        "a batch ran while another node's held the lock"
    );
    holding.rollback().await.expect("release");
    let first = store
        .sweep_batch(&batch)
        .await
        .expect("batch")
        .expect("ours");
    let second = store
        .sweep_batch(&batch)
        .await
        .expect("batch")
        .expect("ours");
    assert_eq!((first.len(), second.len()), (2, 1));
}
