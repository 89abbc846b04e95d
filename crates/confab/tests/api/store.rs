//! The store itself, below HTTP: behaviour that needs many concurrent callers.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use confab::domain::{
    code_blocks, Actor, ChatChanges, ChatFilter, ChatName, Email, MessageText, Metadata, ModelName,
    OrderBy, Timestamp,
};
use confab::store::{
    self, ChatCursor, ChatRef, DeleteLastOutcome, MessageCursor, NewApiKey, NewChat, NewMessage,
    NewSession, Store, StoreError, TenantChatsPage, Under,
};

use crate::support::{Backend, TestDatabase};

crate::per_backend!(
    concurrent_appends_commit_together_and_fail_alone,
    concurrent_delete_last_and_appends_serialise_per_chat,
    tenants_keys_users_and_sessions_behave_alike,
    tenant_chats_and_message_pages_behave_alike,
);

/// A store on a fresh database, with one chat owned by a user.
pub struct Fixture {
    /// Kept so the database outlives the test.
    _database: TestDatabase,
    pub store: Arc<dyn Store>,
    pub chat: ChatRef,
}

impl Fixture {
    pub async fn new(backend: Backend) -> Fixture {
        let database = TestDatabase::create(backend).await;
        let store = store::connect(&database.url, 8).await.expect("store opens");
        let tenant = store.default_tenant().await.expect("default tenant");
        let email = Email::parse("owner@example.com").expect("email");
        let user = store
            .create_user(tenant.id, &email, "not-a-real-hash")
            .await
            .expect("user");
        let chat = store
            .create_chat(NewChat {
                tenant_id: tenant.id,
                user_id: Some(user.id),
                name: ChatName::parse("busy chat").expect("name"),
                model: ModelName::parse("m").expect("model"),
                metadata: None,
            })
            .await
            .expect("chat");
        Fixture {
            _database: database,
            store,
            chat: ChatRef::User {
                user_id: user.id,
                chat_id: chat.id,
            },
        }
    }
}

/// A message as the HTTP layer would build it (code files extracted).
pub fn message(actor: Actor, text: &str) -> NewMessage {
    let files = if actor == Actor::Assistant {
        code_blocks::extract(text)
    } else {
        Vec::new()
    };
    NewMessage {
        actor,
        text: MessageText::parse(text.to_owned(), 1 << 20).expect("text"),
        files,
    }
}

/// A user question and its answer, appended as one batch.
pub fn exchange(n: usize) -> Vec<NewMessage> {
    vec![
        message(Actor::User, &format!("question {n}")),
        message(
            Actor::Assistant,
            &format!("answer {n}\n```rust\nfn answer_{n}() {{}}\n```\n"),
        ),
    ]
}

/// SPEC §2: concurrent delete-last and appends on one chat behave as if run one after
/// the other. No message is reported deleted twice, every reported message is gone,
/// every other appended message is still there, and the chat never holds half an
/// exchange.
async fn concurrent_delete_last_and_appends_serialise_per_chat(backend: Backend) {
    let fixture = Fixture::new(backend).await;
    let store = &fixture.store;
    let chat = fixture.chat;
    let mut appended: BTreeSet<i64> = BTreeSet::new();
    for n in 0..12 {
        let batch = store
            .append_messages(&chat, Under::Current, exchange(n))
            .await
            .expect("seed");
        appended.extend(batch.messages.iter().map(|m| m.id));
    }

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..24 {
        let store = store.clone();
        tasks.spawn(async move {
            if n % 2 == 0 {
                let outcome = store.delete_last(&chat).await.expect("delete-last");
                (Vec::new(), outcome.deleted_ids(), Some(outcome))
            } else {
                let batch = store
                    .append_messages(&chat, Under::Current, exchange(100 + n))
                    .await
                    .expect("append");
                (
                    batch.messages.iter().map(|m| m.id).collect(),
                    Vec::new(),
                    None,
                )
            }
        });
    }
    let mut deleted: Vec<i64> = Vec::new();
    let mut versions = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (added, removed, outcome) = joined.expect("task");
        appended.extend(added);
        deleted.extend(removed);
        if let Some(DeleteLastOutcome::Deleted {
            chat,
            trailing,
            exchange,
            ..
        }) = outcome
        {
            assert!(trailing.is_empty(), "appends always end with an answer");
            let pair = exchange.expect("a whole exchange is deleted");
            assert_eq!(pair.0.actor, Actor::User);
            assert_eq!(pair.1.actor, Actor::Assistant);
            assert!(
                versions.insert(chat.version),
                "each change gets its own chat version"
            );
        }
    }

    let unique: BTreeSet<i64> = deleted.iter().copied().collect();
    assert_eq!(unique.len(), deleted.len(), "no message reported twice");
    let remaining = store.list_messages(&chat).await.expect("list");
    let remaining_ids: BTreeSet<i64> = remaining.iter().map(|m| m.id).collect();
    let expected: BTreeSet<i64> = appended.difference(&unique).copied().collect();
    assert_eq!(remaining_ids, expected, "final state is the serial outcome");
    for pair in remaining.chunks(2) {
        assert_eq!(
            pair.iter().map(|m| m.actor).collect::<Vec<_>>(),
            vec![Actor::User, Actor::Assistant],
            "only whole exchanges remain"
        );
        assert_eq!(pair[1].files.len(), 1, "answers keep their code file");
    }
    let ChatRef::User { chat_id, .. } = chat else {
        unreachable!("the fixture's chat is a user chat")
    };
    assert_eq!(
        store.message_count(chat_id).await.expect("count"),
        remaining.len() as i64
    );
    let files = store.list_files(&chat).await.expect("files");
    assert!(
        files.iter().all(|f| remaining_ids.contains(&f.message_id)),
        "deleted messages took their files along"
    );
    assert_eq!(files.len(), remaining.len() / 2);
    // Every delete-last and append bumped the version once, on top of the 12 seeds.
    let final_chat = store.get_chat(&chat).await.expect("chat");
    assert_eq!(final_chat.version, 12 + 24);
}

/// Everything the tenant API and the CLI use from the store besides chats: the same
/// answers (and the same errors) on every engine.
async fn tenants_keys_users_and_sessions_behave_alike(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let store = store::connect(&database.url, 4).await.expect("store");
    let default = store.default_tenant().await.expect("default tenant");
    assert_eq!(default.name, "default");
    let acme = store.create_tenant("acme").await.expect("tenant");
    assert_eq!(store.get_tenant(acme.id).await.expect("get").name, "acme");
    assert!(matches!(
        store.get_tenant(uuid::Uuid::new_v4()).await,
        Err(StoreError::NotFound)
    ));

    let key = |tenant_id, prefix: &str| NewApiKey {
        tenant_id,
        name: "ci".into(),
        prefix: prefix.into(),
        secret_hash: vec![7; 32],
    };
    let created = store
        .create_api_key(key(acme.id, "abc123"))
        .await
        .expect("key");
    assert!(matches!(
        store.create_api_key(key(acme.id, "abc123")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_api_key(key(uuid::Uuid::new_v4(), "def456"))
            .await,
        Err(StoreError::NotFound)
    ));
    let found = store
        .find_api_key("abc123")
        .await
        .expect("find")
        .expect("some");
    assert_eq!(
        (found.id, found.secret_hash.clone()),
        (created.id, vec![7; 32])
    );
    assert!(store.find_api_key("nope").await.expect("find").is_none());
    store
        .touch_api_key(created.id, Timestamp(1_700_000_000_000_001))
        .await
        .expect("touch");
    let revoked = store
        .revoke_api_key(created.id, Timestamp(1_700_000_000_000_002))
        .await
        .expect("revoke");
    assert_eq!(revoked.last_used_at, Some(Timestamp(1_700_000_000_000_001)));
    assert_eq!(revoked.revoked_at, Some(Timestamp(1_700_000_000_000_002)));
    let again = store
        .revoke_api_key(created.id, Timestamp(1_800_000_000_000_000))
        .await
        .expect("revoke twice");
    assert_eq!(
        again.revoked_at, revoked.revoked_at,
        "the first revocation stands"
    );
    assert!(matches!(
        store
            .revoke_api_key(uuid::Uuid::new_v4(), Timestamp::now())
            .await,
        Err(StoreError::NotFound)
    ));

    let email = Email::parse("Ann@Example.com").expect("email");
    let ann = store
        .create_user(default.id, &email, "hash-1")
        .await
        .expect("user");
    assert_eq!(ann.email, "Ann@Example.com");
    let same = Email::parse("ann@example.COM").expect("email");
    assert!(matches!(
        store.create_user(default.id, &same, "hash-2").await,
        Err(StoreError::Conflict(_))
    ));
    let other_tenant = store
        .create_user(acme.id, &same, "hash-3")
        .await
        .expect("user");
    assert!(other_tenant.id > ann.id, "ids grow");
    let credentials = store
        .user_credentials(default.id, &same)
        .await
        .expect("credentials")
        .expect("found case-insensitively");
    assert_eq!(
        (credentials.user.clone(), credentials.password_hash.as_str()),
        (ann.clone(), "hash-1")
    );
    assert_eq!(store.get_user(default.id, ann.id).await.expect("user"), ann);
    assert!(matches!(
        store.get_user(acme.id, ann.id).await,
        Err(StoreError::NotFound)
    ));

    let now = Timestamp::now();
    for (token, expires) in [(1u8, now.plus_seconds(60)), (2, now.plus_seconds(-1))] {
        store
            .create_session(NewSession {
                token_hash: vec![token; 32],
                user_id: ann.id,
                expires_at: expires,
            })
            .await
            .expect("session");
    }
    assert_eq!(
        store.session_user(&[1; 32], now).await.expect("s"),
        Some(ann.clone())
    );
    assert_eq!(
        store.session_user(&[2; 32], now).await.expect("s"),
        None,
        "expired"
    );
    assert_eq!(
        store.session_user(&[3; 32], now).await.expect("s"),
        None,
        "unknown"
    );
    store.revoke_session(&[1; 32], now).await.expect("revoke");
    assert_eq!(
        store.session_user(&[1; 32], now).await.expect("s"),
        None,
        "revoked"
    );
}

/// Tenant chats (uuid references, keyset pages newest first), message pages oldest
/// first, counts, renames and deletions: the same on every engine.
async fn tenant_chats_and_message_pages_behave_alike(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let store = store::connect(&database.url, 4).await.expect("store");
    let acme = store.create_tenant("acme").await.expect("tenant");
    let other = store.create_tenant("other").await.expect("tenant");
    let mut chats = Vec::new();
    for n in 0..5 {
        chats.push(
            store
                .create_chat(NewChat {
                    tenant_id: acme.id,
                    user_id: None,
                    name: ChatName::parse(&format!("chat {n}")).expect("name"),
                    model: ModelName::parse("").expect("model"),
                    metadata: Some(
                        Metadata::parse(&format!(r#"{{"n": {n}, "nested": {{"ok": true}}}}"#))
                            .expect("metadata"),
                    ),
                })
                .await
                .expect("chat"),
        );
    }
    assert_eq!(
        chats[2].metadata.as_ref().map(Metadata::as_str),
        Some(r#"{"n": 2, "nested": {"ok": true}}"#)
    );
    // Newest first, two at a time, continued by cursor.
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_tenant_chats(
                acme.id,
                &TenantChatsPage {
                    filter: &ChatFilter::default(),
                    trash: false,
                    after,
                    limit: 2,
                },
            )
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some(ChatCursor {
            created_at: last.created_at,
            id: last.id,
        });
        listed.extend(page.iter().map(|c| c.id));
    }
    let mut expected: Vec<i64> = chats.iter().map(|c| c.id).collect();
    expected.reverse();
    assert_eq!(listed, expected);
    assert!(store
        .list_tenant_chats(
            other.id,
            &TenantChatsPage {
                filter: &ChatFilter::default(),
                trash: false,
                after: None,
                limit: 10,
            },
        )
        .await
        .expect("list")
        .is_empty());

    let chat = ChatRef::Tenant {
        tenant_id: acme.id,
        chat_uuid: chats[0].uuid,
    };
    let foreign = ChatRef::Tenant {
        tenant_id: other.id,
        chat_uuid: chats[0].uuid,
    };
    assert_eq!(store.get_chat(&chat).await.expect("get").id, chats[0].id);
    assert!(matches!(
        store.get_chat(&foreign).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .append_messages(&foreign, Under::Current, exchange(0))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_last(&chat).await,
        Ok(DeleteLastOutcome::NoMessages)
    ));

    let mut ids = Vec::new();
    for n in 0..4 {
        let appended = store
            .append_messages(&chat, Under::Current, exchange(n))
            .await
            .expect("append");
        ids.extend(appended.messages.iter().map(|m| m.id));
    }
    assert_eq!(store.message_count(chats[0].id).await.expect("count"), 8);
    assert_eq!(store.message_count(chats[1].id).await.expect("count"), 0);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store.page_messages(&chat, after, 3).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some(MessageCursor {
            created_at: last.created_at,
            id: last.id,
        });
        for message in &page {
            let files = if message.actor == Actor::Assistant {
                1
            } else {
                0
            };
            assert_eq!(message.files.len(), files, "files ride along on every page");
        }
        paged.extend(page.iter().map(|m| m.id));
    }
    assert_eq!(paged, ids, "oldest first, nothing skipped or repeated");
    assert_eq!(store.list_files(&chat).await.expect("files").len(), 4);

    let renamed = store
        .update_chat(
            &chat,
            &ChatChanges {
                name: Some(ChatName::parse("renamed").expect("name")),
                ..ChatChanges::default()
            },
        )
        .await
        .expect("rename");
    assert_eq!(
        renamed.version,
        chats[0].version + 5,
        "4 appends and a rename"
    );
    let deleted = store.delete_chat(&chat).await.expect("delete");
    assert_eq!(deleted.name, "renamed");
    assert!(matches!(
        store.delete_chat(&chat).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.message_count(chats[0].id).await.expect("count"),
        0,
        "cascade"
    );

    // Bulk deletion by owner touches only that owner's chats, in one statement.
    let email = Email::parse("bulk@example.com").expect("email");
    let owner = store.create_user(acme.id, &email, "h").await.expect("user");
    let mine = store
        .create_chat(NewChat {
            tenant_id: acme.id,
            user_id: Some(owner.id),
            name: ChatName::parse("b").expect("name"),
            model: ModelName::parse("a").expect("model"),
            metadata: None,
        })
        .await
        .expect("chat");
    let removed = store
        .delete_user_chats(owner.id, &[mine.id, chats[1].id, 999_999])
        .await
        .expect("bulk");
    assert_eq!(
        removed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![mine.id]
    );
    let order = OrderBy::parse("name:asc").expect("order");
    assert!(store
        .list_user_chats(owner.id, &order)
        .await
        .expect("list")
        .is_empty());
}

fn user_message(text: &str) -> NewMessage {
    NewMessage {
        actor: Actor::User,
        text: MessageText::parse(text.to_owned(), 1000).expect("text"),
        files: Vec::new(),
    }
}

/// Many appends at once (on SQLite they share transactions): the ones naming a missing
/// chat fail with NotFound and leave no trace; every other one is stored exactly once.
async fn concurrent_appends_commit_together_and_fail_alone(backend: Backend) {
    let app = crate::support::TestApp::spawn(backend).await;
    let store = app.store();
    let tenant = store.default_tenant().await.expect("tenant");
    let chat = store
        .create_chat(NewChat {
            tenant_id: tenant.id,
            user_id: None,
            name: ChatName::parse("group").expect("name"),
            model: ModelName::default(),
            metadata: None,
        })
        .await
        .expect("chat");
    let good = ChatRef::Tenant {
        tenant_id: tenant.id,
        chat_uuid: chat.uuid,
    };
    let missing = ChatRef::Tenant {
        tenant_id: tenant.id,
        chat_uuid: uuid::Uuid::new_v4(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let store = store.clone();
        let target = if i % 10 == 3 { missing } else { good };
        tasks.spawn(async move {
            let result = store
                .append_messages(
                    &target,
                    Under::Current,
                    vec![
                        user_message(&format!("m{i}")),
                        user_message(&format!("m{i}b")),
                    ],
                )
                .await;
            (i, result)
        });
    }
    let mut stored = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.expect("task");
        if i % 10 == 3 {
            assert!(
                matches!(result, Err(StoreError::NotFound)),
                "append {i} to a missing chat: {result:?}"
            );
        } else {
            let appended = result.expect("append");
            assert_eq!(appended.messages.len(), 2);
            stored += 2;
        }
    }
    let messages = store.list_messages(&good).await.expect("list");
    assert_eq!(messages.len(), stored);
    let mut texts: Vec<&str> = messages.iter().map(|m| m.message.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), stored, "no message stored twice");
    // Each batch's two messages are adjacent: a batch is atomic and in order.
    for pair in messages.chunks(2) {
        assert_eq!(format!("{}b", pair[0].message), pair[1].message);
    }
    assert_eq!(
        store.get_chat(&good).await.expect("chat").version,
        180,
        "one version bump per successful append"
    );
}
