//! Upgrading a database made before the message tree: every chat becomes a chain in
//! its old (created_at, id) order and reads exactly as before.

use std::str::FromStr as _;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection as _, PgConnection, SqliteConnection};
use uuid::Uuid;

use confab::store::{self, ChatRef};

use crate::support::old_release::database_at;
use crate::support::{Backend, TestDatabase};

crate::per_backend!(chats_made_before_the_tree_read_the_same_after_it);

/// The last migration before the tree.
const BEFORE_THE_TREE: i64 = 3;

const TENANT: &str = "5a1b4c33-0000-4000-8000-000000000001";
const CHAT_A: &str = "5a1b4c33-0000-4000-8000-00000000000a";
const CHAT_B: &str = "5a1b4c33-0000-4000-8000-00000000000b";

/// Rows as an old server wrote them; chat A's messages were stamped with equal and
/// out-of-id-order times (two nodes' clocks), so its order is (created_at, id), not id.
const OLD_ROWS: &str = "
INSERT INTO tenants (id, name, is_default, created_at) VALUES ('5a1b4c33-0000-4000-8000-000000000001', 'old', 0, 1);
INSERT INTO chats (uuid, tenant_id, name, model, created_at, updated_at)
    VALUES ('5a1b4c33-0000-4000-8000-00000000000a', '5a1b4c33-0000-4000-8000-000000000001', 'a', 'm', 1, 1),
           ('5a1b4c33-0000-4000-8000-00000000000b', '5a1b4c33-0000-4000-8000-000000000001', 'b', 'm', 1, 1),
           ('5a1b4c33-0000-4000-8000-00000000000c', '5a1b4c33-0000-4000-8000-000000000001', 'empty', 'm', 1, 1);
INSERT INTO messages (chat_id, actor, message, created_at, updated_at) VALUES
    (1, 'user', 'a first', 10, 10),
    (2, 'user', 'b only', 10, 10),
    (1, 'assistant', 'a third', 30, 30),
    (1, 'user', 'a second', 20, 20),
    (1, 'assistant', 'a fourth, same time', 30, 30);
";

/// (id, parent_id) of every message, and each chat's current leaf, read raw.
async fn tree_rows(backend: Backend, url: &str) -> (Vec<(i64, Option<i64>)>, Vec<Option<i64>>) {
    const MESSAGES: &str = "SELECT id, parent_id FROM messages ORDER BY chat_id, created_at, id";
    const CHATS: &str = "SELECT current_message_id FROM chats ORDER BY id";
    match backend {
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(url).expect("url");
            let mut connection = SqliteConnection::connect_with(&options)
                .await
                .expect("sqlite");
            let messages = sqlx::query_as(MESSAGES).fetch_all(&mut connection).await;
            let chats = sqlx::query_scalar(CHATS).fetch_all(&mut connection).await;
            (messages.expect("messages"), chats.expect("chats"))
        }
        Backend::Postgres => {
            let mut connection = PgConnection::connect(url).await.expect("postgres");
            let messages = sqlx::query_as(MESSAGES).fetch_all(&mut connection).await;
            let chats = sqlx::query_scalar(CHATS).fetch_all(&mut connection).await;
            (messages.expect("messages"), chats.expect("chats"))
        }
    }
}

async fn chats_made_before_the_tree_read_the_same_after_it(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    database_at(backend, &database.url, BEFORE_THE_TREE, OLD_ROWS).await;

    // Opening the store runs the remaining migrations.
    let store = store::connect(&database.url, 2).await.expect("store opens");
    let tenant_id = Uuid::parse_str(TENANT).expect("uuid");
    let read = |chat: &str| ChatRef::Tenant {
        tenant_id,
        chat_uuid: Uuid::parse_str(chat).expect("uuid"),
    };
    let texts = |messages: Vec<store::MessageRecord>| -> Vec<String> {
        messages.into_iter().map(|m| m.message).collect()
    };
    let a = store.list_messages(&read(CHAT_A)).await.expect("chat a");
    assert_eq!(
        texts(a),
        ["a first", "a second", "a third", "a fourth, same time"]
    );
    let b = store.list_messages(&read(CHAT_B)).await.expect("chat b");
    assert_eq!(texts(b), ["b only"]);

    // Chains in (created_at, id) order; the current leaf is each chat's last message.
    let (messages, chats) = tree_rows(backend, &database.url).await;
    assert_eq!(
        messages,
        [
            (1, None),
            (4, Some(1)),
            (3, Some(4)),
            (5, Some(3)),
            (2, None),
        ]
    );
    assert_eq!(chats, [Some(5), Some(2), None]);
}
