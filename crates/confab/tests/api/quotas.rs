//! Storage quotas (messages per chat, chats per user, message bytes per tenant) and the
//! per-user write rate of the user API: refusals in each API's shape, nothing stored by
//! a refused write, counters that follow deletes, and quotas that hold under concurrent
//! writes.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{user_error, Auth, Backend, TestApp, TestUser};
use crate::tenant_support::{assert_tenant_error, chat_uuid, create_v1_chat, default_tenant_key};

crate::per_backend!(
    user_writes_are_rate_limited_per_user,
    messages_per_chat_quota,
    chats_per_user_quota,
    tenant_message_bytes_quota_follows_deletes,
);

fn messages_path(user: &TestUser, chat: i64) -> String {
    format!("/api/users/{}/chats/{chat}/messages", user.id)
}

async fn post_text(
    app: &TestApp,
    user: &TestUser,
    chat: i64,
    actor: &str,
    text: impl AsRef<str>,
) -> (StatusCode, Value) {
    app.post(
        &messages_path(user, chat),
        &user.auth,
        json!({"message": text.as_ref(), "actor": actor}),
    )
    .await
}

/// A chat of the default tenant made through the tenant API, with the key that made it.
async fn v1_chat(app: &TestApp) -> (Auth, String) {
    let key = default_tenant_key(app).await;
    let chat = chat_uuid(&create_v1_chat(app, &key, json!({"name": "v1"})).await);
    (key, chat)
}

async fn post_v1(app: &TestApp, key: &Auth, chat: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/chats/{chat}/messages"), key, body)
        .await
}

/// Posts a batch of two messages (a user's and an assistant's).
async fn post_pair(app: &TestApp, user: &TestUser, chat: i64) -> (StatusCode, Value) {
    app.post(
        &messages_path(user, chat),
        &user.auth,
        json!({"messages": [{"content": "q", "role": "user"}, {"content": "a", "role": "assistant"}]}),
    )
    .await
}

async fn create_chat(app: &TestApp, user: &TestUser) -> (StatusCode, Value) {
    app.post(
        &format!("/api/users/{}/chats", user.id),
        &user.auth,
        json!({"name": "quota", "model": "m"}),
    )
    .await
}

async fn delete_last(app: &TestApp, user: &TestUser, chat: i64) {
    let (status, body) = app
        .delete(&format!("{}/last", messages_path(user, chat)), &user.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Runs `count` copies of a request at once; returns how many got each status.
async fn at_once<F, Fut>(count: usize, request: F) -> (usize, usize)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)>,
{
    let answers = futures_util::future::join_all((0..count).map(request)).await;
    let ok = answers.iter().filter(|(s, _)| s.is_success()).count();
    let refused = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::PAYLOAD_TOO_LARGE)
        .count();
    assert_eq!(ok + refused, count, "{answers:?}");
    (ok, refused)
}

/// The usage counters agree with the rows they count: how many chats and tenants
/// disagree (0 when all is well), read straight from the database.
async fn counters_out_of_step(app: &TestApp, backend: Backend) -> i64 {
    use sqlx::Connection as _;
    let length = match backend {
        Backend::Sqlite => "LENGTH(CAST(m.message AS BLOB))",
        Backend::Postgres => "OCTET_LENGTH(m.message)",
    };
    let chats = format!(
        "SELECT COUNT(*) FROM chats c WHERE c.message_count <> \
           (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) \
         OR c.message_bytes <> (SELECT COALESCE(SUM({length}), 0) FROM messages m WHERE m.chat_id = c.id)"
    );
    let tenants = "SELECT COUNT(*) FROM tenants t WHERE t.message_bytes <> \
           (SELECT COALESCE(SUM(c.message_bytes), 0) FROM chats c WHERE c.tenant_id = t.id)";
    let sql = format!("SELECT ({chats}) + ({tenants})");
    match backend {
        Backend::Sqlite => {
            let mut db = sqlx::SqliteConnection::connect(&app.database_url).await;
            sqlx::query_scalar(&sql)
                .fetch_one(db.as_mut().expect("sqlite"))
                .await
        }
        Backend::Postgres => {
            let mut db = sqlx::PgConnection::connect(&app.database_url).await;
            sqlx::query_scalar(&sql)
                .fetch_one(db.as_mut().expect("postgres"))
                .await
        }
    }
    .expect("counter check")
}

async fn user_writes_are_rate_limited_per_user(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.abuse.user_write_rate_per_second = 1;
        config.abuse.user_write_burst = 3;
    })
    .await;
    let ann = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&ann, "one").await;
    app.post_message(&ann, chat, "user", "two").await;
    app.post_message(&ann, chat, "user", "three").await;

    let response = ann
        .auth
        .apply(app.client.post(app.url(&messages_path(&ann, chat))))
        .json(&json!({"message": "four", "actor": "user"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = crate::support::retry_after(&response)
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, user_error(429, "Too many requests, slow down"));

    // Reads are not writes; other users have their own allowance.
    assert_eq!(app.message_ids(&ann, chat).await.len(), 2);
    let bob = app.sign_up("bob@example.com").await;
    let (status, body) = create_chat(&app, &bob).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn messages_per_chat_quota(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.quotas.max_messages_per_chat = 3).await;
    let ann = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&ann, "small").await;
    app.post_message(&ann, chat, "user", "1").await;
    app.post_message(&ann, chat, "assistant", "2").await;
    let full = user_error(413, "This chat already holds the most messages allowed (3)");

    // A batch that does not fit is refused whole.
    assert_eq!(
        post_pair(&app, &ann, chat).await,
        (StatusCode::PAYLOAD_TOO_LARGE, full.clone())
    );
    assert_eq!(app.message_ids(&ann, chat).await.len(), 2);
    app.post_message(&ann, chat, "user", "3").await;
    assert_eq!(
        post_text(&app, &ann, chat, "user", "4").await,
        (StatusCode::PAYLOAD_TOO_LARGE, full)
    );

    // Delete-last frees its messages' places (here all three).
    delete_last(&app, &ann, chat).await;
    assert!(app.message_ids(&ann, chat).await.is_empty());
    let (status, body) = post_pair(&app, &ann, chat).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Concurrent posts for the last place: exactly one gets it.
    let (ok, refused) = at_once(6, |i| post_text(&app, &ann, chat, "user", i.to_string())).await;
    assert_eq!((ok, refused), (1, 5));
    assert_eq!(app.message_ids(&ann, chat).await.len(), 3);

    // The tenant API answers in its own shape, with a stable code.
    let (key, v1) = v1_chat(&app).await;
    let answer = post_v1(
        &app,
        &key,
        &v1,
        json!({"messages": [{"content": "1", "role": "user"}, {"content": "2", "role": "user"},
                            {"content": "3", "role": "user"}, {"content": "4", "role": "user"}]}),
    )
    .await;
    assert_tenant_error(answer, StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded");
    assert_eq!(counters_out_of_step(&app, backend).await, 0);
}

async fn chats_per_user_quota(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.quotas.max_chats_per_user = 2).await;
    let ann = app.sign_up("ann@example.com").await;
    let first = app.create_chat(&ann, "1").await;
    let second = app.create_chat(&ann, "2").await;
    let full = user_error(413, "This user already owns the most chats allowed (2)");
    assert_eq!(
        create_chat(&app, &ann).await,
        (StatusCode::PAYLOAD_TOO_LARGE, full.clone())
    );

    // The tenant API counts chats it creates for the user too; chats of no user are not
    // the user's.
    let key = default_tenant_key(&app).await;
    let answer = app
        .post(
            "/api/v1/chats",
            &key,
            json!({"name": "for ann", "user_id": ann.id}),
        )
        .await;
    assert_tenant_error(answer, StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded");
    create_v1_chat(&app, &key, json!({"name": "nobody's"})).await;

    // Deleting frees places: one by one, and in bulk.
    let (status, _) = app
        .delete(&format!("/api/users/{}/chats/{first}", ann.id), &ann.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
    let third = app.create_chat(&ann, "3").await;
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{}/chats", ann.id),
            &ann.auth,
            Some(json!({"chat_ids": [second, third]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.create_chat(&ann, "4").await;

    // Concurrent creations for the last place: exactly one gets it.
    let (ok, refused) = at_once(6, |_| create_chat(&app, &ann)).await;
    assert_eq!((ok, refused), (1, 5));
}

async fn tenant_message_bytes_quota_follows_deletes(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.quotas.max_tenant_message_bytes = 100
    })
    .await;
    let ann = app.sign_up("ann@example.com").await;
    let over = user_error(
        413,
        "This would take the tenant's stored message text over its quota of 100 bytes",
    );
    let a = app.create_chat(&ann, "a").await;
    app.post_message(&ann, a, "user", &"x".repeat(60)).await;
    assert_eq!(
        post_text(&app, &ann, a, "assistant", &"y".repeat(41)).await,
        (StatusCode::PAYLOAD_TOO_LARGE, over.clone())
    );
    app.post_message(&ann, a, "assistant", &"y".repeat(40))
        .await;

    // The quota is the tenant's: the tenant API's chats count against it too.
    let (key, v1) = v1_chat(&app).await;
    let answer = post_v1(&app, &key, &v1, json!({"message": "z", "actor": "user"})).await;
    assert_tenant_error(answer, StatusCode::PAYLOAD_TOO_LARGE, "quota_exceeded");

    // Delete-last gives its bytes back; bytes are UTF-8 bytes ("é" is two).
    delete_last(&app, &ann, a).await;
    app.post_message(&ann, a, "user", &"é".repeat(50)).await;
    assert_eq!(
        post_text(&app, &ann, a, "user", "!").await,
        (StatusCode::PAYLOAD_TOO_LARGE, over.clone())
    );

    // Deleting the chat gives its bytes back.
    let (status, _) = app
        .delete(&format!("/api/users/{}/chats/{a}", ann.id), &ann.auth)
        .await;
    assert_eq!(status, StatusCode::OK);
    let b = app.create_chat(&ann, "b").await;
    app.post_message(&ann, b, "user", &"b".repeat(100)).await;

    // So does a bulk delete.
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{}/chats", ann.id),
            &ann.auth,
            Some(json!({"chat_ids": [b]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Concurrent posts to different chats, each fitting alone, only one fitting with
    // another: exactly one is stored.
    let mut chats = Vec::new();
    for _ in 0..6 {
        chats.push(app.create_chat(&ann, "race").await);
    }
    let (ok, refused) = at_once(chats.len(), |i| {
        post_text(&app, &ann, chats[i], "user", "r".repeat(60))
    })
    .await;
    assert_eq!((ok, refused), (1, 5));
    let (status, body) = post_v1(
        &app,
        &key,
        &v1,
        json!({"message": "z".repeat(40), "actor": "user"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(counters_out_of_step(&app, backend).await, 0);
}
