//! Upgrading a database made before search: messages and chat names written by the
//! old release are found, on any branch, through both APIs.

use serde_json::json;
use uuid::Uuid;

use confab::domain::Timestamp;
use confab::store::NewSession;

use super::*;
use crate::support::old_release::database_at;
use crate::support::{Auth, Backend, TestApp, TestDatabase, TestUser};

crate::per_backend!(chats_made_before_search_are_found_after_it);

/// The last SQLite migration before documents held pairs of common words.
const BEFORE_PAIRS: i64 = 11;

/// The last migration before search (the message tree).
const BEFORE_SEARCH: i64 = 4;

const TENANT: &str = "5ea4c400-0000-4000-8000-000000000001";
const CHAT_A: &str = "5ea4c400-0000-4000-8000-00000000000a";
const CHAT_B: &str = "5ea4c400-0000-4000-8000-00000000000b";

/// Rows as the release with the message tree wrote them: a user's chat with a branch
/// (message 3 is an old answer, off the active path), and a chat of the tenant's own.
const OLD_ROWS: &str = "
INSERT INTO tenants (id, name, is_default, created_at)
    VALUES ('5ea4c400-0000-4000-8000-000000000001', 'old', 0, 1600000000000000);
INSERT INTO users (id, tenant_id, email, email_lower, password_hash, created_at, updated_at)
    VALUES (7, '5ea4c400-0000-4000-8000-000000000001', 'old@example.com', 'old@example.com',
            'not-a-hash', 1600000000000000, 1600000000000000);
INSERT INTO chats (id, uuid, tenant_id, user_id, name, model, created_at, updated_at, current_message_id, branched)
    VALUES (1, '5ea4c400-0000-4000-8000-00000000000a', '5ea4c400-0000-4000-8000-000000000001', 7,
            'Quarterly budget review', 'm', 1600000000000000, 1600000000000000, 4, 1),
           (2, '5ea4c400-0000-4000-8000-00000000000b', '5ea4c400-0000-4000-8000-000000000001', NULL,
            'Recipes', 'm', 1600000001000000, 1600000001000000, 5, 0);
INSERT INTO messages (id, chat_id, actor, message, created_at, updated_at, parent_id, path_chat_id) VALUES
    (1, 1, 'user', 'Is the budget spreadsheet final?', 1600000000100000, 1600000000100000, NULL, 1),
    (2, 1, 'assistant', 'Almost: the travel line is open.', 1600000000200000, 1600000000200000, 1, 1),
    (3, 1, 'assistant', 'An old answer about the budget', 1600000000150000, 1600000000150000, 1, NULL),
    (4, 1, 'user', 'Then close the travel line.', 1600000000300000, 1600000000300000, 2, 1),
    (5, 2, 'user', 'Crème brûlée for 東京の友達', 1600000001100000, 1600000001100000, NULL, 2);
";

/// The usage counters the old release kept with every write; `{bytes}` is the engine's
/// UTF-8 length.
const COUNTERS: &str = "
UPDATE chats SET
    message_count = (SELECT COUNT(*) FROM messages m WHERE m.chat_id = chats.id),
    message_bytes = (SELECT COALESCE(SUM({bytes}), 0) FROM messages m WHERE m.chat_id = chats.id);
UPDATE tenants SET
    message_bytes = (SELECT COALESCE(SUM(c.message_bytes), 0) FROM chats c WHERE c.tenant_id = tenants.id);
";

/// Explicit ids do not move PostgreSQL's sequences; a new server must not collide.
const SEQUENCES: &str = "SELECT setval('users_id_seq', 7); SELECT setval('chats_id_seq', 2);
SELECT setval('messages_id_seq', 5);";

/// The database as the release before search left it.
async fn old_database(backend: Backend, url: &str) {
    let rows = match backend {
        Backend::Sqlite => {
            let counters = COUNTERS.replace("{bytes}", "LENGTH(CAST(m.message AS BLOB))");
            format!("{OLD_ROWS}{counters}")
        }
        Backend::Postgres => {
            let counters = COUNTERS.replace("{bytes}", "OCTET_LENGTH(m.message)");
            format!("{OLD_ROWS}{counters}{SEQUENCES}")
        }
    };
    database_at(backend, url, BEFORE_SEARCH, &rows).await;
}

async fn chats_made_before_search_are_found_after_it(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    old_database(backend, &database.url).await;
    // The server migrates the rest at start.
    let app = TestApp::spawn_on(database, |_| {}).await;
    let store = app.store();
    let tenant_id = Uuid::parse_str(TENANT).expect("uuid");
    let (_, key) = confab::cli::issue_key(store.as_ref(), tenant_id, "after")
        .await
        .expect("key");
    let key = Auth::Key(key);
    let user = old_user(&app).await;

    // The user's chat: messages on both branches and the name.
    let hits = user_hits(&app, &user, "budget").await;
    let mut ids = message_ids(&hits);
    ids.sort_unstable();
    assert_eq!(ids, [1, 3], "the active path and the old branch: {hits:?}");
    assert_eq!(name_hits(&hits), ["Quarterly budget review"]);
    for hit in &hits {
        assert_eq!(hit["chat_id"], json!(1), "{hit}");
        assert_highlights_match(hit, &["budget"]);
    }
    let message = hits
        .iter()
        .find(|h| h["message_id"] == json!(1))
        .expect("message 1");
    assert_eq!(message["snippet"], "Is the budget spreadsheet final?");
    let (_, listed) = app.get("/api/users/7/chats/1/messages", &user.auth).await;
    assert_eq!(
        message["created_at"],
        listed["chatMessages"][0]["created_at"]
    );
    assert_eq!(
        message_ids(&user_hits(&app, &user, "\"travel line\"").await).len(),
        2
    );
    // Phrases of common words only, which the index holds as pairs.
    assert_eq!(
        message_ids(&user_hits(&app, &user, "\"is the\"").await),
        [1]
    );
    assert_eq!(
        message_ids(&user_hits(&app, &user, "\"about the\"").await),
        [3]
    );

    // The tenant sees both chats, folded and CJK text included.
    let hits = tenant_hits(&app, &key, &[("q", "creme brulee")]).await;
    assert_eq!(message_ids(&hits), [5], "{hits:?}");
    assert_eq!(hits[0]["chat_id"], CHAT_B);
    let hits = tenant_hits(&app, &key, &[("q", "東京")]).await;
    assert_eq!(message_ids(&hits), [5], "{hits:?}");
    let hits = tenant_hits(&app, &key, &[("q", "recipes")]).await;
    assert_eq!(name_hits(&hits), ["Recipes"]);
    assert_eq!(hits[0]["chat_id"], CHAT_B);
    let hits = tenant_hits(&app, &key, &[("q", "budget"), ("chat_id", CHAT_A)]).await;
    assert_eq!(hits.len(), 3, "{hits:?}");

    // New writes next to the old rows are found too, and old ones can be deleted.
    let new = app
        .post_message(&user, 1, "assistant", "The budget is final now.")
        .await;
    let mut ids = message_ids(&user_hits(&app, &user, "budget").await);
    ids.sort_unstable();
    assert_eq!(ids, [1, 3, new]);
    let (status, body) = app.delete("/api/users/7/chats/1", &user.auth).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert!(user_hits(&app, &user, "budget").await.is_empty());
    assert_eq!(tenant_hits(&app, &key, &[("q", "brulee")]).await.len(), 1);
}

/// SQLite databases indexed before documents held pairs of common words (migration 12),
/// and before they held long heads (13): their documents (written here as those releases
/// wrote them) are replaced when the server next starts, so a phrase of common words and
/// a four-letter prefix find their rows (PostgreSQL checks phrases on the rows themselves
/// and expands prefixes: its documents did not change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_documents_of_older_releases_are_indexed_again() {
    let m = "t5ea4c4000000";
    let words_and_heads = format!(
        "{m}xis {m}xthe {m}xbudget {m}xspreadsheet {m}xfinal {m}zbud {m}zfin {m}zspr {m}zthe"
    );
    for (version, terms) in [
        (BEFORE_PAIRS, words_and_heads.clone()),
        (BEFORE_PAIRS + 1, format!("{words_and_heads} {m}yis0the")),
    ] {
        let database = TestDatabase::create(Backend::Sqlite).await;
        let old_documents = format!(
            "INSERT INTO message_search (rowid, terms, scope) VALUES (-1, '{terms}', 'c{chat} u7');",
            chat = CHAT_A.replace('-', ""),
        );
        let counters = COUNTERS.replace("{bytes}", "LENGTH(CAST(m.message AS BLOB))");
        let rows = format!("{OLD_ROWS}{counters}{old_documents}");
        database_at(Backend::Sqlite, &database.url, version, &rows).await;
        let (app, key) = serve_old_tenant(database).await;
        let hits = tenant_hits(&app, &key, &[("q", "\"is the\"")]).await;
        assert_eq!(message_ids(&hits), [1], "at {version}: {hits:?}");
        // Each row once: the old document went, and every row of the database is indexed.
        for q in ["budget", "budg*"] {
            let hits = tenant_hits(&app, &key, &[("q", q)]).await;
            let mut ids = message_ids(&hits);
            ids.sort_unstable();
            assert_eq!(ids, [1, 3], "at {version}, {q}: {hits:?}");
            assert_eq!(name_hits(&hits), ["Quarterly budget review"], "{q}");
        }
    }
}

/// PostgreSQL documents written before they held pairs of common words (migration 11)
/// and before they held their chat's marks (12): a phrase of common words is looked up
/// by its pairs, and a search of one user's or chat's messages by their marks, so the
/// server writes every document again when it next starts, and the old rows are found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_documents_of_older_releases_are_written_again() {
    const BEFORE_POSTGRES_PAIRS: i64 = 10;
    if crate::support::database::postgres_url("postgres_documents_of_older_releases").is_none() {
        return;
    }
    // Message 1's document as those releases wrote it: words and heads, then pairs; no
    // marks.
    let words_and_heads = "''budget'':3 ''final'':5 ''is'':1 ''spreadsheet'':4 ''the'':2 \
        ''^bud'' ''^fin'' ''^spr'' ''^the''";
    for (version, document) in [
        (BEFORE_POSTGRES_PAIRS, words_and_heads.to_string()),
        (
            BEFORE_POSTGRES_PAIRS + 1,
            format!("{words_and_heads} ''+is0the''"),
        ),
    ] {
        let database = TestDatabase::create(Backend::Postgres).await;
        let counters = COUNTERS.replace("{bytes}", "OCTET_LENGTH(m.message)");
        let old_document = format!("UPDATE messages SET search = '{document}' WHERE id = 1;");
        let rows = format!("{OLD_ROWS}{counters}{SEQUENCES}{old_document}");
        database_at(Backend::Postgres, &database.url, version, &rows).await;
        let (app, key) = serve_old_tenant(database).await;
        let hits = tenant_hits(&app, &key, &[("q", "\"is the\"")]).await;
        assert_eq!(message_ids(&hits), [1], "at {version}: {hits:?}");
        let hits = tenant_hits(&app, &key, &[("q", "\"the travel line\"")]).await;
        let mut ids = message_ids(&hits);
        ids.sort_unstable();
        assert_eq!(ids, [2, 4], "at {version}: {hits:?}");
        // Within the user's and the chat's marks.
        let user = old_user(&app).await;
        let hits = user_hits(&app, &user, "spreadsheet").await;
        assert_eq!(message_ids(&hits), [1], "at {version}: {hits:?}");
        let filters = [("q", "budget"), ("chat_id", CHAT_A), ("user_id", "7")];
        let hits = tenant_hits(&app, &key, &filters).await;
        let mut ids = message_ids(&hits);
        ids.sort_unstable();
        assert_eq!(ids, [1, 3], "at {version}: {hits:?}");
        assert_eq!(
            name_hits(&hits),
            ["Quarterly budget review"],
            "at {version}"
        );
    }
}

/// A session of the old release's user 7.
async fn old_user(app: &TestApp) -> TestUser {
    let (token, hash) = confab::auth::session::new_token();
    app.store()
        .create_session(NewSession {
            token_hash: hash,
            user_id: 7,
            expires_at: Timestamp::now().plus_seconds(3600),
        })
        .await
        .expect("session");
    TestUser {
        id: 7,
        email: "old@example.com".into(),
        auth: Auth::Cookie(token),
    }
}

/// A server on an upgraded database, and a new API key of its old tenant.
async fn serve_old_tenant(database: TestDatabase) -> (TestApp, Auth) {
    let app = TestApp::spawn_on(database, |_| {}).await;
    let tenant = Uuid::parse_str(TENANT).expect("uuid");
    let (_, key) = confab::cli::issue_key(app.store().as_ref(), tenant, "after")
        .await
        .expect("key");
    (app, Auth::Key(key))
}
