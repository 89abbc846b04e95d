//! A SQLite database locked by another process past the busy timeout is a 503 with
//! `Retry-After` in each API's shape (`database_busy`), not a 500. SQLite only: the lock
//! is another connection's `BEGIN IMMEDIATE` on the same file.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{post_answer as post, user_error, Backend, TestApp};
use crate::tenant_support::{assert_tenant_error, chat_uuid, create_v1_chat, default_tenant_key};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_is_a_503_with_retry_after() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.sqlite_busy_timeout_ms = 200;
    })
    .await;
    let user = app.sign_up("ann@example.com").await;
    let chat = app.create_chat(&user, "Locked out").await;
    let key = default_tenant_key(&app).await;
    let v1_chat = chat_uuid(&create_v1_chat(&app, &key, json!({"name": "v1"})).await);

    // Another process takes the write lock and keeps it.
    let path = app
        .database_url
        .strip_prefix("sqlite://")
        .expect("a sqlite:// URL")
        .to_owned();
    let locker = rusqlite::Connection::open(&path).expect("second connection");
    locker
        .execute_batch("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS lock_holder (x INTEGER);")
        .expect("write lock taken");

    let user_writes = [
        (
            format!("/api/users/{}/chats", user.id),
            json!({"name": "new"}),
        ),
        (
            format!("/api/users/{}/chats/{chat}/messages", user.id),
            json!({"message": "hi", "actor": "user"}),
        ),
    ];
    for (path, body) in &user_writes {
        let (status, retry_after, body) = post(&app, path, &user.auth, body.clone()).await;
        assert_eq!(
            (status, &body),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                &user_error(503, "The database is busy; try again shortly")
            ),
            "{path}"
        );
        assert_eq!(retry_after.as_deref(), Some("1"), "{path}");
    }
    let tenant_writes = [
        ("/api/v1/chats".to_owned(), json!({"name": "new"})),
        (
            format!("/api/v1/chats/{v1_chat}/messages"),
            json!({"message": "hi", "actor": "user"}),
        ),
    ];
    for (path, body) in &tenant_writes {
        let (status, retry_after, body) = post(&app, path, &key, body.clone()).await;
        assert_tenant_error(
            (status, body),
            StatusCode::SERVICE_UNAVAILABLE,
            "database_busy",
        );
        assert_eq!(retry_after.as_deref(), Some("1"), "{path}");
    }

    // Once the lock is released, the same writes go through.
    locker.execute_batch("ROLLBACK").expect("lock released");
    drop(locker);
    let (status, _, body) = post(
        &app,
        &user_writes[1].0,
        &user.auth,
        user_writes[1].1.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = post(&app, &tenant_writes[1].0, &key, tenant_writes[1].1.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
