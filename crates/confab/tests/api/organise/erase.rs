//! Erasing a user: everything of theirs goes in one transaction (a scan of every table
//! afterwards finds neither their email nor their texts), their chats' sockets close,
//! and each way to ask checks who asks.
//!
//! On SQLite the search index's segments keep a deleted row's tokens (single normalized
//! words, marked with the tenant, tied to no row and never matched again) until FTS5
//! merges those segments; the scan looks for whole texts, which no index holds, and
//! search proves the words unreachable. On PostgreSQL the documents go with the rows.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection as _, Row as _};

use crate::support::process::run_cli;
use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::{create_v1_chat, default_tenant_key, new_tenant, next_json, ws};

/// Every text or blob cell of every table (search indexes too) that contains `needle`,
/// as `table.column`.
async fn cells_containing(backend: Backend, url: &str, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    match backend {
        Backend::Sqlite => {
            let mut db = sqlx::SqliteConnection::connect(url).await.expect("open");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&mut db)
            .await
            .expect("tables");
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                        .fetch_all(&mut db)
                        .await
                        .expect("columns");
                for column in columns {
                    let cells: Vec<Option<Vec<u8>>> = sqlx::query_scalar(&format!(
                        "SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\""
                    ))
                    .fetch_all(&mut db)
                    .await
                    .expect("cells");
                    if cells
                        .iter()
                        .flatten()
                        .any(|cell| contains(cell, needle.as_bytes()))
                    {
                        found.push(format!("{table}.{column}"));
                    }
                }
            }
        }
        Backend::Postgres => {
            let mut db = sqlx::PgConnection::connect(url).await.expect("connect");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            )
            .fetch_all(&mut db)
            .await
            .expect("tables");
            for table in tables {
                // The whole row as text: every column, the search documents included.
                let rows = sqlx::query(&format!("SELECT t::text FROM \"{table}\" t"))
                    .fetch_all(&mut db)
                    .await
                    .expect("rows");
                if rows
                    .iter()
                    .any(|row| row.get::<String, _>(0).to_lowercase().contains(needle))
                {
                    found.push(table);
                }
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

pub(super) async fn erasing_a_user_leaves_nothing_of_theirs(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.lifecycle.trash_days = 7).await;
    let ann = app.sign_up("ann.erased@example.com").await;
    let ben = app.sign_up("ben@example.com").await;
    let chat = app.create_chat(&ann, "quokkaname plans").await;
    app.post_message(&ann, chat, "user", "quokkaword question")
        .await;
    app.post_message(&ann, chat, "assistant", "```rs\nfn quokkaword() {}\n```")
        .await;
    let trashed = app.create_chat(&ann, "trashed").await;
    app.post_message(&ann, trashed, "user", "quokkaword in the trash")
        .await;
    app.delete(&format!("/api/users/{}/chats/{trashed}", ann.id), &ann.auth)
        .await;
    let key = default_tenant_key(&app).await;
    let owned = create_v1_chat(
        &app,
        &key,
        json!({"name": "tenant-made", "user_id": ann.id}),
    )
    .await;
    let owned = owned["id"].as_str().expect("uuid").to_owned();
    app.post(
        &format!("/api/v1/chats/{owned}/messages"),
        &key,
        json!({"message": "quokkaword via the tenant", "actor": "user"}),
    )
    .await;
    let (status, _) = app
        .post(
            &format!("/api/users/{}/chats/{chat}/share", ann.id),
            &ann.auth,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // A second session.
    let login = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "ann.erased@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("login");
    let second = Auth::Cookie(crate::support::session_cookie(&login).expect("cookie"));
    let bens = app.create_chat(&ben, "ben's").await;
    app.post_message(&ben, bens, "user", "ben's words").await;
    let mut socket = ws(
        &app,
        &format!("/api/users/{}/chats/{chat}/ws", ann.id),
        &second,
    )
    .await;
    let url = app.database_url.clone();
    let texts = [
        "ann.erased@example.com",
        "quokkaword question",
        "fn quokkaword() {}",
        "quokkaword in the trash",
        "quokkaword via the tenant",
        "quokkaname plans",
    ];
    for text in texts {
        assert!(
            !cells_containing(backend, &url, text).await.is_empty(),
            "the scan sees {text}"
        );
    }

    let erase = format!("/api/users/{}", ann.id);
    let (status, body) = app
        .call(
            Method::DELETE,
            &erase,
            &ann.auth,
            Some(json!({"password": "wrong horse battery"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["statusCode"], 403);
    let response = app
        .client
        .delete(app.url(&erase))
        .header(
            "cookie",
            format!(
                "neptun-session={}",
                match &ann.auth {
                    Auth::Cookie(token) => token.clone(),
                    _ => unreachable!("a session"),
                }
            ),
        )
        .json(&json!({"password": "correct horse battery"}))
        .send()
        .await
        .expect("erase");
    assert_eq!(response.status(), StatusCode::OK);
    let cleared = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let counts: Value = response.json().await.expect("counts");
    assert_eq!(
        counts,
        json!({"user_id": ann.id, "chats": 3, "messages": 4, "files": 1, "shares": 1, "sessions": 2})
    );
    assert_eq!(next_json(&mut socket).await["type"], "chat.deleted");

    for auth in [&ann.auth, &second] {
        let (status, _) = app.call(Method::HEAD, "/api/auth/check", auth, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app
        .post(
            "/api/auth/login",
            &Auth::None,
            json!({"email": "ann.erased@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for text in texts {
        assert_eq!(
            cells_containing(backend, &url, text).await,
            Vec::<String>::new(),
            "{text}"
        );
    }
    if backend == Backend::Postgres {
        // Not even a search document keeps a word of theirs.
        assert_eq!(
            cells_containing(backend, &url, "quokkaword").await,
            Vec::<String>::new()
        );
    }
    // Search cannot reach what is left of the index: the tenant's key finds nothing.
    let (status, found) = app.get("/api/v1/search?q=quokkaword", &key).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["data"], json!([]));
    // Ben's chat is untouched.
    let (status, body) = app
        .get(
            &format!("/api/users/{}/chats/{bens}/messages", ben.id),
            &ben.auth,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["chatMessages"][0]["message"], "ben's words");
}

pub(super) async fn each_way_to_erase_checks_who_asks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ann = app.sign_up("ann@example.com").await;
    let ben = app.sign_up("ben@example.com").await;
    app.create_chat(&ann, "ann's").await;
    let key = default_tenant_key(&app).await;
    let (_, other_key) = new_tenant(&app, "other").await;
    let path = format!("/api/v1/users/{}", ann.id);
    let (status, body) = app.call(Method::DELETE, &path, &other_key, None).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("user_not_found"))
    );
    for bad in ["0", "-1", "abc", "1.5"] {
        let (status, body) = app
            .call(Method::DELETE, &format!("/api/v1/users/{bad}"), &key, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = app.call(Method::DELETE, &path, &key, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["user_id"], &body["chats"], &body["sessions"]),
        (&json!(ann.id), &json!(1), &json!(1))
    );
    let (status, _) = app.call(Method::DELETE, &path, &key, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "once");
    // Another user cannot erase Ben through his id.
    let carl = app.sign_up("carl@example.com").await;
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/users/{}", ben.id),
            &carl.auth,
            Some(json!({"password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The command line, by email.
    let url = app.database_url.clone();
    let args = [
        "user",
        "delete",
        "--email",
        "BEN@example.com",
        "--database-url",
        &url,
    ];
    let (ok, stdout, stderr) = run_cli(&args, None);
    assert!(ok, "{stderr}");
    let printed: Value = serde_json::from_str(stdout.trim()).expect("JSON line");
    assert_eq!(
        (&printed["user_id"], &printed["sessions"]),
        (&json!(ben.id), &json!(1))
    );
    let (ok, _, stderr) = run_cli(&args, None);
    assert!(!ok, "no such user any more");
    assert!(stderr.contains("no user"), "{stderr}");
    let (status, _) = app
        .call(Method::HEAD, "/api/auth/check", &ben.auth, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
