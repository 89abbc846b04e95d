//! `confab copy`: every row arrives unchanged, ids continue after the copied ones, and
//! a target that already holds data is refused.

use serde_json::{json, Value};
use sqlx::{Column as _, Connection as _, Row as _};
use std::collections::BTreeMap;

use confab::domain::search::Query;
use confab::domain::{Actor, ChatChanges, ChatName, Email, ModelName, Tags, Timestamp};
use confab::store::schema::{is_search_table, SEARCH_COLUMNS};
use confab::store::{
    self, ChatRef, NewChat, NewSession, NewShare, SearchRequest, SearchScope, Store, Under,
};

use crate::store::{exchange, message};
use crate::support::database::postgres_url;
use crate::support::{Backend, TestDatabase};

/// Every table's rows, each row as column → value, rows sorted; read with plain
/// `SELECT *` so that nothing of the copy's own reading is trusted.
type Dump = BTreeMap<String, Vec<BTreeMap<String, Value>>>;

fn cell<R: sqlx::Row>(row: &R, i: usize) -> Value
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return json!(v);
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return json!(v);
    }
    match row.try_get::<Option<Vec<u8>>, _>(i) {
        Ok(v) => json!({ "bytes": v }),
        Err(e) => panic!("column {i} has an unexpected type: {e}"),
    }
}

fn sorted(rows: Vec<BTreeMap<String, Value>>) -> Vec<BTreeMap<String, Value>> {
    let mut rows = rows;
    rows.sort_by_key(|row| serde_json::to_string(row).unwrap_or_default());
    rows
}

async fn dump_sqlite(url: &str) -> Dump {
    let mut db = sqlx::SqliteConnection::connect(url).await.expect("open");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut db)
    .await
    .expect("tables");
    let mut dump = Dump::new();
    for table in tables.into_iter().filter(|t| !is_search_table(t)) {
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(&mut db)
            .await
            .expect("rows");
        let rows = rows
            .iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .filter(|c| !SEARCH_COLUMNS.contains(&(table.as_str(), c.name())))
                    .map(|c| (c.name().to_owned(), cell(row, c.ordinal())))
                    .collect()
            })
            .collect();
        dump.insert(table, sorted(rows));
    }
    dump
}

async fn dump_postgres(url: &str) -> Dump {
    let mut db = sqlx::PgConnection::connect(url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
         AND tablename <> '_sqlx_migrations'",
    )
    .fetch_all(&mut db)
    .await
    .expect("tables");
    let mut dump = Dump::new();
    for table in tables.into_iter().filter(|t| !is_search_table(t)) {
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(&mut db)
            .await
            .expect("rows");
        let rows = rows
            .iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .filter(|c| !SEARCH_COLUMNS.contains(&(table.as_str(), c.name())))
                    .map(|c| (c.name().to_owned(), cell(row, c.ordinal())))
                    .collect()
            })
            .collect();
        dump.insert(table, sorted(rows));
    }
    dump
}

async fn dump(backend: Backend, url: &str) -> Dump {
    match backend {
        Backend::Sqlite => dump_sqlite(url).await,
        Backend::Postgres => dump_postgres(url).await,
    }
}

/// The largest id so far in each table with generated ids.
fn largest_ids(dump: &Dump) -> BTreeMap<String, i64> {
    ["users", "chats", "messages", "files"]
        .iter()
        .map(|table| {
            let max = dump[*table]
                .iter()
                .filter_map(|row| row["id"].as_i64())
                .max()
                .unwrap_or(0);
            ((*table).to_owned(), max)
        })
        .collect()
}

/// Fills a database through the store with a bit of everything: two tenants, API keys
/// (one used, one revoked), users with sessions, user and tenant chats (one with
/// metadata), messages with code files, and deletions that leave holes at the end of
/// each id range. Returns the highest id ever handed out per table.
async fn fill(store: &dyn Store) -> BTreeMap<&'static str, i64> {
    let default = store.default_tenant().await.expect("default tenant");
    let other = store.create_tenant("acme").await.expect("tenant");
    let (used_key, _) = confab::cli::issue_key(store, other.id, "ci")
        .await
        .expect("key");
    store
        .touch_api_key(used_key, Timestamp::now())
        .await
        .expect("touch");
    let (revoked_key, _) = confab::cli::issue_key(store, other.id, "old")
        .await
        .expect("key");
    store
        .revoke_api_key(revoked_key, Timestamp::now())
        .await
        .expect("revoke");

    let mut users = Vec::new();
    for (n, email) in ["Ann@Example.com", "bob@example.com"].iter().enumerate() {
        let user = store
            .create_user(
                default.id,
                &Email::parse(email).expect("email"),
                "$argon2id$x",
            )
            .await
            .expect("user");
        store
            .create_session(NewSession {
                token_hash: vec![n as u8; 32],
                user_id: user.id,
                expires_at: Timestamp::now().plus_seconds(3600),
            })
            .await
            .expect("session");
        users.push(user);
    }
    store
        .revoke_session(&[0u8; 32], Timestamp::now())
        .await
        .expect("logout");
    // A user in the other tenant with the same email: unique only per tenant.
    let last_user = store
        .create_user(
            other.id,
            &Email::parse("ann@example.com").expect("email"),
            "h",
        )
        .await
        .expect("user");

    let mut last_message = 0;
    let mut last_chat = 0;
    for (i, user) in users.iter().enumerate() {
        for c in 0..3 {
            let chat = store
                .create_chat(NewChat {
                    tenant_id: default.id,
                    user_id: Some(user.id),
                    name: ChatName::parse(&format!("chat {i}.{c} ünïcode")).expect("name"),
                    model: ModelName::parse("gpt-test").expect("model"),
                    metadata: None,
                })
                .await
                .expect("chat");
            let chat_ref = ChatRef::User {
                user_id: user.id,
                chat_id: chat.id,
            };
            for n in 0..4 {
                let appended = store
                    .append_messages(&chat_ref, Under::Current, exchange(n))
                    .await
                    .expect("append");
                last_message = last_message.max(appended.messages[1].id);
            }
            store
                .update_chat(
                    &chat_ref,
                    &ChatChanges {
                        name: Some(ChatName::parse("renamed").expect("name")),
                        ..ChatChanges::default()
                    },
                )
                .await
                .expect("rename");
            last_chat = chat.id;
        }
    }
    let tenant_chat = store
        .create_chat(NewChat {
            tenant_id: other.id,
            user_id: None,
            name: ChatName::parse("tenant chat").expect("name"),
            model: ModelName::parse("m").expect("model"),
            metadata: Some(
                confab::domain::Metadata::parse(r#"{"customer": 42, "tags": ["a", "b"]}"#)
                    .expect("metadata"),
            ),
        })
        .await
        .expect("tenant chat");
    let tenant_ref = ChatRef::Tenant {
        tenant_id: other.id,
        chat_uuid: tenant_chat.uuid,
    };
    store
        .append_messages(
            &tenant_ref,
            Under::Current,
            vec![message(Actor::System, "be brief")],
        )
        .await
        .expect("system message");
    // Organised, shared and trashed chats, and a tenant's own retention (SPEC §9).
    store
        .update_chat(
            &tenant_ref,
            &ChatChanges {
                archived: Some(true),
                pinned: Some(true),
                tags: Some(Tags::parse(&["ünï".to_owned(), "b".to_owned()]).expect("tags")),
                ..ChatChanges::default()
            },
        )
        .await
        .expect("organise");
    store
        .create_share(
            &tenant_ref,
            &NewShare {
                id: "s".repeat(32),
                snapshot: r#"{"chat":{"name":"tenant chat","model":"m"},"chatMessages":[]}"#
                    .to_owned(),
            },
        )
        .await
        .expect("share");
    store
        .set_tenant_retention(other.id, Some(30))
        .await
        .expect("retention");
    let trashed = store
        .trash_chats(&[ChatRef::User {
            user_id: users[0].id,
            chat_id: last_chat - 3,
        }])
        .await
        .expect("trash");
    assert_eq!(trashed.len(), 1);
    // An erased user leaves records of their chat and session for the servers' watchers.
    let erased = store
        .create_user(
            default.id,
            &Email::parse("gone@example.com").expect("email"),
            "h",
        )
        .await
        .expect("user");
    store
        .create_session(NewSession {
            token_hash: vec![9; 32],
            user_id: erased.id,
            expires_at: Timestamp::now().plus_seconds(3600),
        })
        .await
        .expect("session");
    store
        .create_chat(NewChat {
            tenant_id: default.id,
            user_id: Some(erased.id),
            name: ChatName::parse("gone").expect("name"),
            model: ModelName::parse("m").expect("model"),
            metadata: None,
        })
        .await
        .expect("chat");
    store
        .erase_user(default.id, erased.id)
        .await
        .expect("erase");
    // Holes at the end of each range: the newest chat and the newest messages go.
    let doomed = store
        .create_chat(NewChat {
            tenant_id: default.id,
            user_id: Some(users[0].id),
            name: ChatName::parse("doomed").expect("name"),
            model: ModelName::parse("m").expect("model"),
            metadata: None,
        })
        .await
        .expect("chat");
    let doomed_ref = ChatRef::User {
        user_id: users[0].id,
        chat_id: doomed.id,
    };
    let appended = store
        .append_messages(&doomed_ref, Under::Current, exchange(99))
        .await
        .expect("append");
    store.delete_chat(&doomed_ref).await.expect("delete chat");
    let files_high = appended.messages[1].files[0].id;
    let messages_high = appended.messages[1].id;
    assert!(last_chat < doomed.id && last_message < messages_high);
    BTreeMap::from([
        ("users", erased.id.max(last_user.id)),
        ("chats", doomed.id),
        ("messages", messages_high),
        ("files", files_high),
    ])
}

/// After a copy, the target hands out ids after everything the source ever did.
async fn ids_continue(target_url: &str, handed_out: &BTreeMap<&'static str, i64>) {
    let store = store::connect(target_url, 2).await.expect("target opens");
    let tenant = store.default_tenant().await.expect("default tenant");
    let user = store
        .create_user(tenant.id, &Email::parse("new@example.com").expect("e"), "h")
        .await
        .expect("new user");
    assert_eq!(user.id, handed_out["users"] + 1, "user ids continue");
    let chat = store
        .create_chat(NewChat {
            tenant_id: tenant.id,
            user_id: Some(user.id),
            name: ChatName::parse("after the move").expect("name"),
            model: ModelName::parse("m").expect("model"),
            metadata: None,
        })
        .await
        .expect("new chat");
    assert_eq!(chat.id, handed_out["chats"] + 1, "chat ids continue");
    let chat_ref = ChatRef::User {
        user_id: user.id,
        chat_id: chat.id,
    };
    let appended = store
        .append_messages(&chat_ref, Under::Current, exchange(1))
        .await
        .expect("append");
    assert_eq!(appended.messages[0].id, handed_out["messages"] + 1);
    assert_eq!(appended.messages[1].files[0].id, handed_out["files"] + 1);
}

/// The main case: SQLite to PostgreSQL, and back to SQLite again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_keeps_every_row_and_id() {
    if postgres_url("sqlite_to_postgres_and_back_keeps_every_row_and_id").is_none() {
        return;
    }
    let source = TestDatabase::create(Backend::Sqlite).await;
    let handed_out = {
        let store = store::connect(&source.url, 2).await.expect("source");
        fill(store.as_ref()).await
    };
    let before = dump(Backend::Sqlite, &source.url).await;
    assert_eq!(
        before.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "api_keys",
            "chats",
            "ended_sessions",
            "erased_chats",
            "files",
            "messages",
            "sessions",
            "shares",
            "tenants",
            "users"
        ],
        "the comparison covers every table"
    );
    assert!(before.values().all(|rows| !rows.is_empty()), "{before:?}");

    let postgres = TestDatabase::create(Backend::Postgres).await;
    let report = confab::copy::copy(&source.url, &postgres.url)
        .await
        .expect("copy to postgres");
    let copied = dump(Backend::Postgres, &postgres.url).await;
    assert_eq!(
        copied, before,
        "every table arrives unchanged in PostgreSQL"
    );
    for (table, rows) in &report.rows {
        assert_eq!(*rows as usize, before[*table].len(), "{table} row count");
    }
    assert_eq!(
        dump(Backend::Sqlite, &source.url).await,
        before,
        "the source is untouched"
    );

    let back = TestDatabase::create(Backend::Sqlite).await;
    confab::copy::copy(&postgres.url, &back.url)
        .await
        .expect("copy back to sqlite");
    assert_eq!(dump(Backend::Sqlite, &back.url).await, before, "round trip");

    // The largest surviving ids are below what was handed out (deletions at the end).
    let survivors = largest_ids(&before);
    assert!(survivors["chats"] < handed_out["chats"]);
    ids_continue(&postgres.url, &handed_out).await;
    ids_continue(&back.url, &handed_out).await;
    every_message_is_found(&postgres.url, &before).await;
    every_message_is_found(&back.url, &before).await;
}

/// The search index is not copied but rebuilt when a server opens the copy: each copied
/// message is then found by its first word, in its tenant (unless its chat is in the
/// trash, which search leaves out).
async fn every_message_is_found(url: &str, dump: &Dump) {
    let store = store::connect(url, 1).await.expect("opens and indexes");
    let tenant_of: BTreeMap<i64, String> = dump["chats"]
        .iter()
        .filter(|chat| chat["trashed_at"].is_null())
        .map(|chat| {
            let id = chat["id"].as_i64().expect("chat id");
            (id, chat["tenant_id"].as_str().expect("tenant").to_owned())
        })
        .collect();
    for message in &dump["messages"] {
        let id = message["id"].as_i64().expect("id");
        let text = message["message"].as_str().expect("text");
        let chat = message["chat_id"].as_i64().expect("chat");
        if !tenant_of.contains_key(&chat) {
            continue;
        }
        let Ok(query) = Query::parse(text.split_whitespace().next().unwrap_or_default()) else {
            continue;
        };
        let request = SearchRequest {
            scope: SearchScope {
                tenant_id: tenant_of[&chat].parse().expect("uuid"),
                ..SearchScope::default()
            },
            query,
            after: None,
            limit: 100,
            band_size: 500,
            first_window: 20_000,
        };
        let hits = store.search(&request).await.expect("search");
        assert!(
            hits.iter().any(|hit| hit.message_id == Some(id)),
            "message {id} ({text:?}) is not found in the copy at {url}"
        );
    }
}

/// Copying between two SQLite files needs no server, so it always runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_sqlite_keeps_every_row_and_id() {
    let source = TestDatabase::create(Backend::Sqlite).await;
    let handed_out = {
        let store = store::connect(&source.url, 2).await.expect("source");
        fill(store.as_ref()).await
    };
    let before = dump(Backend::Sqlite, &source.url).await;
    let target = TestDatabase::create(Backend::Sqlite).await;
    confab::copy::copy(&source.url, &target.url)
        .await
        .expect("copy");
    assert_eq!(dump(Backend::Sqlite, &target.url).await, before);
    ids_continue(&target.url, &handed_out).await;
}

crate::per_backend!(a_target_with_data_is_refused_and_left_alone);

async fn a_target_with_data_is_refused_and_left_alone(backend: Backend) {
    let source = TestDatabase::create(Backend::Sqlite).await;
    {
        let store = store::connect(&source.url, 1).await.expect("source");
        fill(store.as_ref()).await;
    }
    let target = TestDatabase::create(backend).await;
    {
        let store = store::connect(&target.url, 1).await.expect("target");
        store.create_tenant("already here").await.expect("tenant");
    }
    let before = dump(backend, &target.url).await;
    let error = confab::copy::copy(&source.url, &target.url)
        .await
        .expect_err("a non-empty target is refused");
    assert!(format!("{error:#}").contains("not empty"), "{error:#}");
    assert_eq!(dump(backend, &target.url).await, before, "target unchanged");

    // A source that is not a confab database is refused before anything is written.
    let empty = TestDatabase::create(Backend::Sqlite).await;
    {
        let mut db = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", empty.url))
            .await
            .expect("create");
        sqlx::query("CREATE TABLE unrelated (x INTEGER)")
            .execute(&mut db)
            .await
            .expect("table");
    }
    let fresh = TestDatabase::create(backend).await;
    let error = confab::copy::copy(&empty.url, &fresh.url)
        .await
        .expect_err("not a confab database");
    assert!(format!("{error:#}").contains("schema"), "{error:#}");
}
